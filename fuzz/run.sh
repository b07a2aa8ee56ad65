#!/usr/bin/env bash
# Runs every cargo-fuzz target for a set time: `bash fuzz/run.sh SECONDS` (from anywhere).
# `make fuzz-smoke` (part of `make test`) runs 20 s each; `make fuzz` 600 s each.
# FUZZ_TARGETS="key_parse check" limits the run to some targets.
#
# Installs what it needs on a fresh machine: the nightly toolchain (rustup) and cargo-fuzz
# (crates.io, --locked). Corpora grow in fuzz/corpus/<target>/ (not committed); the small
# committed seeds are in fuzz/seeds/<target>/. A crash, leak or slow input (> 10 s) fails
# the run and leaves the input in fuzz/artifacts/<target>/.
set -euo pipefail
seconds="${1:-20}"
cd "$(dirname "$0")"

if ! cargo +nightly --version >/dev/null 2>&1; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

targets="${FUZZ_TARGETS:-$(cargo +nightly fuzz list)}"
cargo +nightly fuzz build

summary=()
for target in $targets; do
    mkdir -p "corpus/$target" "seeds/$target"
    log="$(mktemp)"
    echo "fuzz: $target for ${seconds}s"
    if ! cargo +nightly fuzz run "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"$log" 2>&1; then
        tail -n 60 "$log"
        echo "fuzz: $target FAILED (input saved under fuzz/artifacts/$target/)" >&2
        exit 1
    fi
    runs="$(grep -Eo 'Done [0-9]+ runs' "$log" | grep -Eo '[0-9]+' || echo '?')"
    cov="$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1 | grep -Eo '[0-9]+' || echo '?')"
    summary+=("$(printf '%-12s %12s executions  %6s coverage points  %s s' "$target" "$runs" "$cov" "$seconds")")
    rm -f "$log"
done
printf 'fuzz: %s\n' "${summary[@]}"
