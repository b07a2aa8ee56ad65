#!/usr/bin/env bash
# Instructions per call of the C harness's three subjects, counted by callgrind (repeatable,
# unlike timings on this VM): each subject runs N1 and N2 times after the same setup; the
# difference of the two totals divided by N2 - N1 is the per-call count (only the timed
# loop, time_subject, is counted: the setup issues random keys and varies run to run). Valgrind has no
# SHA extensions, so the HMAC inside every subject runs sha2's software path: the counts
# compare the subjects with each other, not with native timings.
# Usage: bash benches/c/callgrind.sh [N1 N2]   (after bash benches/c/run.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
BIN="$TARGET/bench-results/c-bench"
N1=${1:-1000}
N2=${2:-3000}
OUT="$TARGET/bench-results/callgrind"
mkdir -p "$OUT"
total() {
    valgrind --tool=callgrind --toggle-collect=time_subject --callgrind-out-file="$OUT/$1.$2.out" "$BIN" examples/claimport.toml /dev/null "$1" "$2" \
        2>&1 | sed -n 's/.*Collected : *\([0-9]*\).*/\1/p'
}
for s in a b c; do
    lo=$(total "$s" "$N1")
    hi=$(total "$s" "$N2")
    echo "$s: $(( (hi - lo) / (N2 - N1) )) instructions per call  (callgrind_annotate $OUT/$s.$N2.out)"
done
