#!/usr/bin/env bash
# C harness of `make bench`: builds the release libportcullis and the C host, runs it.
set -euo pipefail
cd "$(dirname "$0")/../.."
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
cargo build -q --release -p portcullis-c
mkdir -p "$TARGET/bench-results"
gcc -std=c11 -O2 -Wall -Wextra -Werror -Iinclude benches/c/bench.c "$TARGET/release/libportcullis.a" \
    -lpthread -ldl -lm -o "$TARGET/bench-results/c-bench"
"$TARGET/bench-results/c-bench" examples/claimport.toml "$TARGET/bench-results/c.json"
