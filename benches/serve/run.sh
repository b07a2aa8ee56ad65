#!/usr/bin/env bash
# The load benchmark of `portcullis serve` (part of `make bench`): /auth under wrk against a
# bare hyper server answering 200 with the same runtime and connection setup
# (crates/portcullis-server/examples/bare.rs), measured in alternating rounds of the same
# run; the server pinned to core 0, wrk to core 1. Then a soak: a fixed rate of 80 % of the
# measured maximum (crates/portcullis-server/examples/load.rs: hey cannot hold such a rate
# from one core) for SOAK_SECONDS (default 300) while the server's resident memory is sampled.
# Writes target/bench-results/serve.json (read by benches/summary.py).
#
# Settings (environment): ROUND_SECONDS (5), ROUNDS (7), CONNECTIONS (32), SOAK_SECONDS (300).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
ROUND_SECONDS=${ROUND_SECONDS:-5}
ROUNDS=${ROUNDS:-7}
CONNECTIONS=${CONNECTIONS:-32}
SOAK_SECONDS=${SOAK_SECONDS:-300}

need() { command -v "$1" >/dev/null || { apt-get update -qq && apt-get install -y -qq "$2" >/dev/null; }; }
need wrk wrk
need taskset util-linux

cargo build --release -q -p portcullis-cli
cargo build --release -q -p portcullis-server --example bare --example load
BIN=$ROOT/target/release/portcullis
BARE=$ROOT/target/release/examples/bare
LOAD=$ROOT/target/release/examples/load

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

STORE=$WORK/store
"$BIN" --store "$STORE" init >/dev/null
KEY=$("$BIN" --store "$STORE" --json keys create --name bench --scopes claims:read \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')

# Starts a server pinned to core 0; prints its port once it listens.
start() {
    local out=$WORK/$1.out
    shift
    taskset -c 0 "$@" >"$out" 2>"$WORK/$(basename "$1").err" &
    PIDS+=($!)
    echo $! >"$out.pid"
    for _ in $(seq 100); do
        [ -s "$out" ] && break
        sleep 0.1
    done
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["http"].rsplit(":",1)[1])' "$out"
}
SERVE_PORT=$(start serve "$BIN" --store "$STORE" --json serve --listen 127.0.0.1:0 --log off)
SERVE_PID=$(cat "$WORK/serve.out.pid")
BARE_PORT=$(start bare "$BARE")

HEADERS=(-H "X-Original-URI: /v1/claims" -H "X-Original-Method: GET"
         -H "X-Forwarded-Proto: https" -H "Authorization: Bearer $KEY")
check=$(curl -s -o /dev/null -w '%{http_code}' "${HEADERS[@]}" "http://127.0.0.1:$SERVE_PORT/auth")
[ "$check" = 200 ] || { echo "serve answered $check, not 200" >&2; exit 1; }

# One wrk round; prints "requests_per_sec p50_us p99_us".
round() {
    taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"$2"s --latency "${HEADERS[@]}" "http://127.0.0.1:$1/auth" \
        | python3 "$ROOT/benches/serve/wrk_parse.py"
}
round "$BARE_PORT" 2 >/dev/null
round "$SERVE_PORT" 2 >/dev/null
: >"$WORK/rounds"
for i in $(seq "$ROUNDS"); do
    echo "bare $(round "$BARE_PORT" "$ROUND_SECONDS")" >>"$WORK/rounds"
    echo "serve $(round "$SERVE_PORT" "$ROUND_SECONDS")" >>"$WORK/rounds"
done
cat "$WORK/rounds"

# The soak: 80 % of serve's median throughput.
SOAK_RATE=$(python3 - "$WORK/rounds" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
print(int(0.8 * statistics.median(float(r[1]) for r in rows if r[0] == "serve")))
PY
)
echo "soak: $SOAK_RATE requests/s for ${SOAK_SECONDS}s"
: >"$WORK/rss"
( while kill -0 "$SERVE_PID" 2>/dev/null; do
      awk '/VmRSS/ {print $2}' "/proc/$SERVE_PID/status" >>"$WORK/rss"
      sleep 5
  done ) &
SAMPLER=$!
PIDS+=("$SAMPLER")
taskset -c 1 "$LOAD" "127.0.0.1:$SERVE_PORT" /auth "$SOAK_RATE" "$SOAK_SECONDS" 64 \
    "X-Original-URI: /v1/claims" "X-Original-Method: GET" "X-Forwarded-Proto: https" \
    "Authorization: Bearer $KEY" >"$WORK/soak.json"
kill "$SAMPLER" 2>/dev/null || true

mkdir -p "$ROOT/target/bench-results"
python3 "$ROOT/benches/serve/report.py" "$WORK/rounds" "$WORK/rss" "$WORK/soak.json" "$SOAK_SECONDS" \
    >"$ROOT/target/bench-results/serve.json"
cat "$ROOT/target/bench-results/serve.json"
