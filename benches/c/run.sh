#!/usr/bin/env bash
# C harness of `make bench`: builds the release libportcullis.a (the C ABI under test) and
# libportcullis_bench_shim.so (the Rust check, the baseline of the same run), links the C
# host against both and runs it. Writes target/bench-results/c.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
cargo build -q --release -p portcullis-c -p portcullis-bench-shim
mkdir -p "$TARGET/bench-results"
gcc -std=c11 -O2 -Wall -Wextra -Werror -Iinclude -Ibenches/c/shim benches/c/bench.c \
    "$TARGET/release/libportcullis.a" \
    -L"$TARGET/release" -lportcullis_bench_shim -Wl,-rpath,"$TARGET/release" \
    -lpthread -ldl -lm -o "$TARGET/bench-results/c-bench"
"$TARGET/bench-results/c-bench" examples/claimport.toml "$TARGET/bench-results/c.json"
