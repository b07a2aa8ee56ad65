#!/usr/bin/env bash
# `make demo-proxy`: a request through Debian's nginx and `portcullis serve`, allowed and
# refused (401, 403, 429). nginx runs the README's "Behind a proxy" block as written
# (rendered by the proxy tests' render.py) with a self-signed certificate, in front of an
# upstream that echoes the headers it received; everything on loopback, stopped on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PROXIES="$ROOT/crates/portcullis-server/tests/proxies"
CARGO="${CARGO:-cargo}"

need=()
command -v nginx >/dev/null || need+=(nginx)
command -v curl >/dev/null || need+=(curl)
command -v openssl >/dev/null || need+=(openssl)
if ((${#need[@]})); then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get install -y "${need[@]}" || { $SUDO apt-get update && $SUDO apt-get install -y "${need[@]}"; }
fi
(cd "$ROOT" && "$CARGO" build -q -p portcullis-cli)
BIN="$ROOT/target/debug/portcullis"

TMP="$(mktemp -d)"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_for() {  # wait_for FILE WHAT LOG: until FILE is written
    for _ in $(seq 200); do [ -s "$1" ] && return 0; sleep 0.1; done
    echo "demo: $2 did not start:" >&2; cat "$3" >&2; exit 1
}
say() { printf '\n\033[1m%s\033[0m\n' "$*"; }

STORE="$TMP/store"
"$BIN" --store "$STORE" init >/dev/null
# The starter policy (HTTPS required) and a tiny limit, so the demo reaches 429.
cat >>"$STORE/policy.toml" <<'TOML'

[[limits]]
name = "demo"
per = "key"
rate = 3
window = 60
TOML
KEY=$("$BIN" --store "$STORE" --json keys create --name "Production Integration" \
    --owner org_42 --scopes claims:read | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')

"$BIN" --store "$STORE" --json serve --listen 127.0.0.1:0 >"$TMP/serve.out" 2>"$TMP/serve.err" &
PIDS+=($!)
wait_for "$TMP/serve.out" "portcullis serve" "$TMP/serve.err"
SERVE=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["http"])' "$TMP/serve.out")
python3 "$PROXIES/upstream.py" "$TMP/upstream.port" &
PIDS+=($!)
wait_for "$TMP/upstream.port" upstream /dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
    -keyout "$TMP/tls.key" -out "$TMP/tls.crt" 2>/dev/null
PORT=$(free_port)
cat >"$TMP/spec.json" <<JSON
{"cert": "$TMP/tls.crt", "key": "$TMP/tls.key", "caddy": [],
 "nginx": [{"port": $PORT, "tls": true, "auth": "$SERVE", "upstream": "127.0.0.1:$(cat "$TMP/upstream.port")"}]}
JSON
python3 "$PROXIES/render.py" "$ROOT/README.md" "$TMP" "$TMP/spec.json"
nginx -p "$TMP" -c "$TMP/nginx.conf" 2>"$TMP/nginx.err" &
PIDS+=($!)
for _ in $(seq 100); do curl -sk -o /dev/null "https://127.0.0.1:$PORT/health" && break; sleep 0.1; done

URL="https://127.0.0.1:$PORT"
FAILED=0
show() {  # show STATUS CURL-ARGS...: the status line, the headers that matter, the body
    local want="$1"; shift
    curl -sk -D "$TMP/h" -o "$TMP/b" "$@" || true
    head -1 "$TMP/h" | tr -d '\r'
    if [ "$(head -1 "$TMP/h" | cut -d' ' -f2)" != "$want" ]; then
        echo "  demo: expected $want"; FAILED=1
    fi
    grep -i '^www-authenticate\|^retry-after\|^ratelimit' "$TMP/h" | tr -d '\r' | sed 's/^/  /' || true
    if grep -q '"upstream": true' "$TMP/b"; then
        python3 -c 'import json,sys; h=json.load(open(sys.argv[1]))["headers"]
print("  the upstream received: " + ", ".join(f"{k}: {v[0]}" for k, v in sorted(h.items()) if k.startswith("x-portcullis")))' "$TMP/b"
    else
        head -c 200 "$TMP/b" | tr -s '\n' ' ' | sed 's/^/  body: /'; echo
    fi
}

echo "nginx on $URL (the README's block), portcullis serve on $SERVE, an echoing upstream."
say "1. A key with claims:read, and a forged X-Portcullis-Owner: passes; nginx sets the identity"
echo "   curl $URL/v1/claims/42 -H 'Authorization: Bearer sk_live_…' -H 'X-Portcullis-Owner: evil'"
show 200 "$URL/v1/claims/42" -H "Authorization: Bearer $KEY" -H "X-Portcullis-Owner: evil"
say "2. No key: 401 and the Bearer challenge"
show 401 "$URL/v1/claims/42"
say "3. POST /v1/claims needs claims:write: 403 and its challenge (nginx drops it unless told)"
show 403 -X POST "$URL/v1/claims" -H "Authorization: Bearer $KEY"
say "4. The policy allows this key 3 requests a minute (a refusal spends none): calls 3 and 4"
curl -sk -o /dev/null "$URL/v1/claims" -H "Authorization: Bearer $KEY"
show 200 "$URL/v1/claims" -H "Authorization: Bearer $KEY"
show 429 "$URL/v1/claims" -H "Authorization: Bearer $KEY"
if [ "$FAILED" = 0 ]; then say "Done: every answer above came through nginx."; else exit 1; fi
