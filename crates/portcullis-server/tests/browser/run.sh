#!/usr/bin/env bash
# The Settings > API Keys page in a real browser (issue #23): Debian's Chromium driven by
# Playwright for Python (from PyPI, in a venv under target/), against `portcullis serve`
# on a free loopback port over a fresh store. check.py signs in as the host would (a
# signed organisation assertion in a cookie), creates a key on the page, reads it from the
# once-only panel, calls /auth with it (200, then 403), revokes it on the page and sees
# /auth refuse it (401); it prints `N passed, N failed` and saves screenshots of the create
# form and the once-only panel to target/artifacts/ (not committed).
# Usage: bash run.sh (from anywhere). KEEP=1 keeps the temp dir.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../../.." && pwd)"
CARGO="${CARGO:-cargo}"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

if [ ! -x "$CHROMIUM" ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get install -y chromium || { $SUDO apt-get update && $SUDO apt-get install -y chromium; }
fi

# Playwright's Python package drives the system Chromium; its own browser download is
# never used (and cannot be fetched here).
VENV="$ROOT/target/browser-venv"
PLAYWRIGHT_VERSION="1.65.3"
if ! "$VENV/bin/python" -c "import playwright" 2>/dev/null; then
    python3 -m venv "$VENV" || {
        SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
        $SUDO apt-get install -y python3-venv && python3 -m venv "$VENV"
    }
    "$VENV/bin/pip" install -q "playwright==$PLAYWRIGHT_VERSION"
fi

# PORTCULLIS_BIN: a binary built already; else build the command.
if [ -z "${PORTCULLIS_BIN:-}" ]; then
    (cd "$ROOT" && "$CARGO" build -q -p portcullis-cli)
fi
BIN="${PORTCULLIS_BIN:-$ROOT/target/debug/portcullis}"

TMP="$(mktemp -d)"
PID=""
cleanup() {
    if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
    if [ -n "${KEEP:-}" ]; then echo "run.sh: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

STORE="$TMP/store"
"$BIN" --store "$STORE" init >/dev/null
"$BIN" --store "$STORE" --json serve --listen 127.0.0.1:0 --log refusals \
    >"$TMP/serve.out" 2>"$TMP/serve.err" &
PID=$!
for _ in $(seq 200); do [ -s "$TMP/serve.out" ] && break; kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
[ -s "$TMP/serve.out" ] || { echo "run.sh: serve did not start:" >&2; cat "$TMP/serve.err" >&2; exit 1; }
ADDR="$(python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["http"])' <"$TMP/serve.out")"

mkdir -p "$ROOT/target/artifacts"
status=0
"$VENV/bin/python" "$HERE/check.py" \
    --base "http://$ADDR" \
    --host-secret "$STORE/host-secret" \
    --chromium "$CHROMIUM" \
    --profile "$TMP/profile" \
    --artifacts "$ROOT/target/artifacts" \
    --serve-log "$TMP/serve.err" || status=$?
if [ "$status" != 0 ]; then
    echo "run.sh: serve's log:" >&2; cat "$TMP/serve.err" >&2 || true
fi
exit "$status"
