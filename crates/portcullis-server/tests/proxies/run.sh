#!/usr/bin/env bash
# Real proxies in front of `portcullis serve` (issue #22): Debian's nginx (auth_request) and
# Caddy (forward_auth), configured with the README's "Behind a proxy" blocks as written
# (render.py), in front of an upstream that echoes what reached it (upstream.py); check.py
# sends the requests and prints `N passed, N failed`. Everything runs on free loopback
# ports from a temp dir and is stopped on exit. Usage: bash run.sh (from anywhere).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../../.." && pwd)"
CARGO="${CARGO:-cargo}"

need=()
command -v nginx >/dev/null || need+=(nginx)
command -v caddy >/dev/null || need+=(caddy)
command -v openssl >/dev/null || need+=(openssl)
if ((${#need[@]})); then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    # policy-rc.d keeps the packages' services stopped on most images; stop them if not.
    $SUDO apt-get install -y "${need[@]}" || { $SUDO apt-get update && $SUDO apt-get install -y "${need[@]}"; }
fi
nginx -V 2>&1 | grep -q -- --with-http_auth_request_module \
    || { echo "run.sh: this nginx has no auth_request module" >&2; exit 1; }

# PORTCULLIS_BIN: a binary built already (e.g. by the demo); else build the command.
if [ -z "${PORTCULLIS_BIN:-}" ]; then
    (cd "$ROOT" && "$CARGO" build -q -p portcullis-cli)
fi
BIN="${PORTCULLIS_BIN:-$ROOT/target/debug/portcullis}"

TMP="$(mktemp -d)"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ -n "${KEEP:-}" ]; then echo "run.sh: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits for FILE to hold a line (a started process's address), or fails after 20 s.
wait_file() {
    for _ in $(seq 200); do [ -s "$1" ] && return 0; sleep 0.1; done
    echo "run.sh: $2 did not start; its log:" >&2; cat "$3" >&2 || true; exit 1
}

# Waits until a TCP port accepts connections while process $4 lives.
wait_port() {
    for _ in $(seq 200); do
        kill -0 "$4" 2>/dev/null || break
        python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),0.2)' "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "run.sh: $2 did not listen on $1; its log:" >&2; cat "$3" >&2 || true; exit 1
}

STORE="$TMP/store"
"$BIN" --store "$STORE" init >/dev/null
# The starter policy (HTTPS required); an open one (plain HTTP allowed) with a tiny limit.
OPEN="$TMP/open.toml"
sed 's/^require_https = true/require_https = false/' "$STORE/policy.toml" >"$OPEN"
grep -q '^require_https = false' "$OPEN" || { echo "run.sh: cannot make the open policy" >&2; exit 1; }
cat >>"$OPEN" <<'TOML'

[[limits]]
name = "tiny"
per = "key"
rate = 3
window = 60
burst = 3
TOML

# serve NAME ARGS...: starts `portcullis ARGS serve $SERVE_ARGS` and sets ${NAME}_ADDR.
serve() {
    local name="$1"; shift
    "$BIN" --store "$STORE" --json "$@" serve --listen 127.0.0.1:0 --log "${LOG:-off}" ${SERVE_ARGS:-} \
        >"$TMP/$name.out" 2>"$TMP/$name.err" &
    PIDS+=($!)
    wait_file "$TMP/$name.out" "serve ($name)" "$TMP/$name.err"
    printf -v "${name}_ADDR" '%s' "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["http"])' "$TMP/$name.out")"
}
# STRICT logs every decision: check.py reads the client address it saw.
LOG=all serve STRICT
# Trusting another network only: loopback proxies are refused.
SERVE_ARGS="--trusted-proxy 192.0.2.0/24" serve UNTRUSTED
serve OPEN --policy "$OPEN"
# The open policy with its limits counted in a Redis nobody listens on: 503, never an allow.
SERVE_ARGS="--redis redis://127.0.0.1:$(free_port)" serve DOWN --policy "$OPEN"

python3 "$HERE/upstream.py" "$TMP/upstream.port" 2>"$TMP/upstream.err" &
PIDS+=($!)
wait_file "$TMP/upstream.port" upstream "$TMP/upstream.err"
UPSTREAM="127.0.0.1:$(cat "$TMP/upstream.port")"

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
    -keyout "$TMP/tls.key" -out "$TMP/tls.crt" 2>/dev/null

N_TLS=$(free_port); N_PLAIN=$(free_port); N_OPEN=$(free_port); N_DOWN=$(free_port); N_UNTRUSTED=$(free_port)
C_TLS=$(free_port); C_PLAIN=$(free_port); C_OPEN=$(free_port); C_DOWN=$(free_port); C_UNTRUSTED=$(free_port)
export N_TLS N_PLAIN N_OPEN N_DOWN N_UNTRUSTED C_TLS C_PLAIN C_OPEN C_DOWN C_UNTRUSTED
export STRICT_ADDR OPEN_ADDR DOWN_ADDR UNTRUSTED_ADDR UPSTREAM TMP
python3 - "$TMP/spec.json" <<'PY'
import json, os, sys
e = os.environ
site = lambda port, tls, auth: {"port": int(e[port]), "tls": tls, "auth": e[auth], "upstream": e["UPSTREAM"]}
json.dump({"cert": e["TMP"] + "/tls.crt", "key": e["TMP"] + "/tls.key",
           "nginx": [site("N_TLS", True, "STRICT_ADDR"), site("N_PLAIN", False, "STRICT_ADDR"),
                     site("N_OPEN", False, "OPEN_ADDR"), site("N_DOWN", False, "DOWN_ADDR"),
                     site("N_UNTRUSTED", True, "UNTRUSTED_ADDR")],
           "caddy": [site("C_TLS", True, "STRICT_ADDR"), site("C_PLAIN", False, "STRICT_ADDR"),
                     site("C_OPEN", False, "OPEN_ADDR"), site("C_DOWN", False, "DOWN_ADDR"),
                     site("C_UNTRUSTED", True, "UNTRUSTED_ADDR")]},
          open(sys.argv[1], "w"))
PY
# PROXY_README: another README to render (to check that a broken configuration fails).
python3 "$HERE/render.py" "${PROXY_README:-$ROOT/README.md}" "$TMP" "$TMP/spec.json"

nginx -t -q -p "$TMP" -c "$TMP/nginx.conf"
nginx -p "$TMP" -c "$TMP/nginx.conf" 2>"$TMP/nginx.err" &
NGINX=$!; PIDS+=($NGINX)
HOME="$TMP" XDG_DATA_HOME="$TMP/caddy-data" XDG_CONFIG_HOME="$TMP/caddy-config" \
    caddy run --config "$TMP/Caddyfile" --adapter caddyfile >"$TMP/caddy.log" 2>&1 &
CADDY=$!; PIDS+=($CADDY)
for p in $N_TLS $N_PLAIN $N_OPEN $N_DOWN $N_UNTRUSTED; do wait_port "$p" nginx "$TMP/nginx-error.log" "$NGINX"; done
for p in $C_TLS $C_PLAIN $C_OPEN $C_DOWN $C_UNTRUSTED; do wait_port "$p" caddy "$TMP/caddy.log" "$CADDY"; done

export PORTCULLIS_BIN="$BIN" PORTCULLIS_STORE="$STORE"
python3 "$HERE/check.py"
