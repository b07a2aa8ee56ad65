#!/usr/bin/env bash
# The C binding's suites (`make test-c`): builds libportcullis, checks the committed
# header is fresh, compiles the C tests and examples with -std=c11 -Wall -Wextra -Werror
# against the static and the shared library, compiles the header as C++, runs everything
# natively, under valgrind (0 errors, 0 leaks) and with ASan/UBSan, checks the C snippets
# of README.md and bindings/c/README.md are the compiled examples and that portcullis.pc
# works. Fails on the first problem.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
CARGO=${CARGO:-cargo}
CC=${CC:-gcc}
CXX=${CXX:-g++}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
LIBDIR=$TARGET/debug
OUT=$TARGET/c-tests
POLICY=$ROOT/examples/claimport.toml
CFLAGS=(-std=c11 -Wall -Wextra -Werror -g -I"$ROOT/include" -I"$ROOT/bindings/c/tests")
# What rustc reports for the static library (`--print native-static-libs`).
STATIC_LIBS=(-lpthread -ldl -lm -lrt -lutil -lgcc_s)
VALGRIND=(valgrind -q --error-exitcode=1 --leak-check=full --show-leak-kinds=definite,indirect,possible
          --errors-for-leak-kinds=definite,indirect,possible
          --suppressions="$ROOT/bindings/c/tests/valgrind-store.supp")

step() { printf '\n== %s\n' "$*"; }
need() { command -v "$1" >/dev/null || { echo "missing tool: $1 ($2)" >&2; exit 1; }; }
# prints LINE CMD...: CMD succeeds and one line of what it prints is exactly LINE. The output
# is taken whole before it is searched: `CMD | grep -q` under pipefail fails at random when
# grep exits at its first match and CMD's later writes meet the closed pipe (SIGPIPE; CI
# failed so once on `ldd | grep -q`).
prints() {
    local line=$1 out; shift
    out=$("$@") || { echo "failed: $*" >&2; return 1; }
    grep -qxF -- "$line" <<<"$out" && return
    printf 'expected the line "%s" from %s; it printed:\n%s\n' "$line" "$*" "$out" >&2
    return 1
}
trap 'echo "run-tests.sh: line $LINENO failed: $BASH_COMMAND" >&2' ERR
need "$CC" "a C compiler"; need "$CXX" "a C++ compiler"; need python3 "generates the vectors' C source"
need valgrind "memory checks"

step "build libportcullis (cargo build -p portcullis-c)"
$CARGO build -p portcullis-c
ls "$LIBDIR/libportcullis.a" "$LIBDIR/libportcullis.so" >/dev/null

step "Rust tests of the binding, including: include/portcullis.h is what cbindgen generates"
$CARGO test -q -p portcullis-c

rm -rf "$OUT" && mkdir -p "$OUT"
step "generate the vectors' C source from tests/vectors"
python3 bindings/c/tests/gen_vectors.py tests/vectors "$OUT/vectors_data.c"

# build NAME VARIANT EXTRA_FLAGS... -- SOURCES...: one program against one library form.
build() {
    local name=$1 variant=$2; shift 2
    local flags=() srcs=()
    while [[ $1 != -- ]]; do flags+=("$1"); shift; done; shift; srcs=("$@")
    case $variant in
        static|asan) "$CC" "${CFLAGS[@]}" "${flags[@]}" "${srcs[@]}" "$LIBDIR/libportcullis.a" \
                        "${STATIC_LIBS[@]}" -o "$OUT/$name-$variant" ;;
        shared) "$CC" "${CFLAGS[@]}" "${flags[@]}" "${srcs[@]}" -L"$LIBDIR" -lportcullis \
                        -Wl,-rpath,"$LIBDIR" -o "$OUT/$name-$variant" ;;
    esac
}

SAN=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
VARIANTS=(static shared)
if echo 'int main(void){return 0;}' | "$CC" "${SAN[@]}" -x c - -o "$OUT/san-probe" 2>/dev/null \
        && "$OUT/san-probe"; then
    VARIANTS+=(asan)
else
    echo "note: $CC cannot build ASan/UBSan programs here; sanitizer runs skipped"
fi

step "compile tests and examples (${VARIANTS[*]})"
for v in "${VARIANTS[@]}"; do
    extra=(); [[ $v == asan ]] && extra=("${SAN[@]}")
    build test_api "$v" "${extra[@]}" -- bindings/c/tests/test_api.c
    build test_oauth "$v" "${extra[@]}" -pthread -- bindings/c/tests/test_oauth.c
    build test_oauth_metadata "$v" "${extra[@]}" -- bindings/c/tests/test_oauth_metadata.c
    build test_openapi "$v" "${extra[@]}" -- bindings/c/tests/test_openapi.c
    build test_vectors "$v" "${extra[@]}" -- bindings/c/tests/test_vectors.c "$OUT/vectors_data.c"
    build test_usage "$v" "${extra[@]}" -- bindings/c/tests/test_usage.c "$OUT/vectors_data.c"
    build test_limits "$v" "${extra[@]}" -- bindings/c/tests/test_limits.c "$OUT/vectors_data.c"
    build test_threads "$v" "${extra[@]}" -pthread -- bindings/c/tests/test_threads.c
    build test_random "$v" "${extra[@]}" -- bindings/c/tests/test_random.c
    build test_store_db "$v" "${extra[@]}" -- bindings/c/tests/test_store_db.c
    build test_fleet_limits "$v" "${extra[@]}" -- bindings/c/tests/test_fleet_limits.c
    build readme "$v" "${extra[@]}" -- bindings/c/examples/readme.c
    build oauth "$v" "${extra[@]}" -- bindings/c/examples/oauth.c
    build host "$v" "${extra[@]}" -- bindings/c/examples/host.c
done

step "the header compiles alone as C99/C11/C17 and C++11/17/20 with -Wpedantic; a C++ program runs"
for std in c99 c11 c17; do
    "$CC" -x c -std=$std -Wall -Wextra -Wpedantic -Werror -fsyntax-only include/portcullis.h
done
for std in c++11 c++17 c++20; do
    "$CXX" -x c++ -std=$std -Wall -Wextra -Wpedantic -Werror -fsyntax-only include/portcullis.h
done
"$CXX" -std=c++11 -Wall -Wextra -Werror -I"$ROOT/include" bindings/c/tests/test_cpp.cpp \
    "$LIBDIR/libportcullis.a" "${STATIC_LIBS[@]}" -o "$OUT/test_cpp"
"$OUT/test_cpp"

# The example host's scenario: issue, serve, revoke, serve; checks the printed decisions.
host_scenario() {
    local run=("$@") records="$OUT/host-records.jsonl" out="$OUT/host.out"
    rm -f "$records"
    export PORTCULLIS_PEPPER=example-pepper-0123456789abcdef0123 PORTCULLIS_NOW=1800000000
    local key typo
    key=$("${run[@]}" "$POLICY" "$records" issue "CI key" org_42 claims:read)
    [[ $key == sk_live_* ]] || { echo "host did not print a key: $key" >&2; return 1; }
    typo=${key%?}; if [[ ${key: -1} == x ]]; then typo+=y; else typo+=x; fi
    printf '%s\n' "GET /v1/claims/1 Bearer $key" "POST /v1/claims Bearer $key" "GET /v1/claims/1" \
        "GET /health" "GET /v1/claims?api_key=$key" "GET /v1/claims/1 Bearer $typo" \
        | "${run[@]}" "$POLICY" "$records" serve >"$out"
    local id=${key#sk_live_}; id=${id%%_*}
    PORTCULLIS_NOW=1800000100 "${run[@]}" "$POLICY" "$records" revoke "$id"
    echo "GET /v1/claims/1 Bearer $key" | PORTCULLIS_NOW=1800000200 "${run[@]}" "$POLICY" "$records" serve >>"$out"
    python3 - "$out" "$id" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().splitlines()
key_id = sys.argv[2]
expected = [
    rf"^200 reason=allowed key={key_id} owner=org_42 scopes=claims:read$",
    rf"^403 reason=insufficient_scope error=insufficient_scope key={key_id} .*missing=claims:write www-authenticate=Bearer realm=\"claimport\", error=\"insufficient_scope\".*scope=\"claims:write\"$",
    r"^401 reason=missing_credential www-authenticate=Bearer realm=\"claimport\"$",
    r"^200 reason=public$",
    r"^400 reason=query_refused error=invalid_request ",
    r"^401 reason=malformed_key error=invalid_token ",
    r"^401 reason=revoked error=invalid_token ",
]
assert len(lines) == len(expected), lines
for line, pattern in zip(lines, expected):
    assert re.search(pattern, line), (line, pattern)
print(f"host: {len(lines)} decisions as expected")
PY
    unset PORTCULLIS_PEPPER PORTCULLIS_NOW
}

# The database store runs against SQLite (a fresh file each time) and a throwaway
# PostgreSQL server (tests/pg-server.sh: installed if missing, stopped on exit).
step "start PostgreSQL for the database store's tests"
PGDIR=$(mktemp -d -u /tmp/portcullis-c-pg.XXXXXX)
REDIS_PID= REDIS_DIR=
# shellcheck disable=SC2317  # called by the EXIT trap
stop_servers() {
    if [[ -n $REDIS_PID ]]; then kill "$REDIS_PID" 2>/dev/null || true; wait "$REDIS_PID" || true; fi
    if [[ -n $REDIS_DIR ]]; then rm -rf "$REDIS_DIR"; fi
    bash "$ROOT/tests/pg-server.sh" stop "$PGDIR"
}
trap stop_servers EXIT
PG_URL=$(bash tests/pg-server.sh start "$PGDIR")
echo "PostgreSQL on ${PG_URL##*@}"

# The fleet limits' test meets a throwaway Redis (crates/portcullis-store/tests/redis.sh
# installs Debian's redis-server if missing) on a free loopback port, nothing on disk.
step "start Redis for the fleet limits' test"
REDIS_URL=
if bash crates/portcullis-store/tests/redis.sh; then
    REDIS_DIR=$(mktemp -d /tmp/portcullis-c-redis.XXXXXX)
    REDIS_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no --protected-mode yes \
        --unixsocket "" --daemonize no --dir "$REDIS_DIR" --logfile "$REDIS_DIR/log" </dev/null >/dev/null 2>&1 &
    REDIS_PID=$!
    for _ in $(seq 100); do
        if python3 - "$REDIS_PORT" <<'PY'
import socket, sys
try:
    with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.2) as s:
        s.sendall(b"PING\r\n")
        sys.exit(0 if s.recv(16).startswith(b"+PONG") else 1)
except OSError:
    sys.exit(1)
PY
        then REDIS_URL=redis://127.0.0.1:$REDIS_PORT; break; fi
        sleep 0.1
    done
    [[ -n $REDIS_URL ]] || { echo "redis-server did not start:" >&2; cat "$REDIS_DIR/log" >&2; exit 1; }
    echo "Redis on 127.0.0.1:$REDIS_PORT"
else
    echo "!!! SKIPPED: redis-server is not installed and could not be installed: test_fleet_limits runs without Redis !!!"
fi
# store_suite VARIANT PG RUN...: the store test on SQLite, and on PostgreSQL when PG is 1.
store_suite() {
    local v=$1 pg=$2; shift 2
    local db="$OUT/store-$v.sqlite3"
    rm -f "$db" "$db-wal" "$db-shm"
    "$@" "$OUT/test_store_db-$v" "$POLICY" "sqlite:$db"
    if [[ $pg == 1 ]]; then "$@" "$OUT/test_store_db-$v" "$POLICY" "$PG_URL"; fi
}

run_suite() {
    local v=$1; shift
    local run=("$@")
    # Under valgrind (~30 s a run on PostgreSQL) only the static library meets PostgreSQL.
    if [[ ${#run[@]} -eq 0 || $v == static ]]; then
        store_suite "$v" 1 "${run[@]}"
    else
        store_suite "$v" 0 "${run[@]}"
    fi
    "${run[@]}" "$OUT/test_api-$v" "$POLICY"
    "${run[@]}" "$OUT/test_vectors-$v"
    "${run[@]}" "$OUT/test_usage-$v"
    "${run[@]}" "$OUT/test_limits-$v"
    "${run[@]}" "$OUT/test_fleet_limits-$v" "$REDIS_URL"
    "${run[@]}" "$OUT/test_oauth_metadata-$v" "$POLICY"
    "${run[@]}" "$OUT/test_openapi-$v" "$POLICY"
    if [[ ${#run[@]} -gt 0 ]]; then  # valgrind is slow: fewer rounds
        "${run[@]}" "$OUT/test_threads-$v" "$POLICY" 10
        "${run[@]}" "$OUT/test_oauth-$v" "$POLICY" 2
        "${run[@]}" "$OUT/test_random-$v" "$POLICY" 400
    else
        "$OUT/test_threads-$v" "$POLICY" 200
        "$OUT/test_oauth-$v" "$POLICY" 50
        "$OUT/test_random-$v" "$POLICY" 20000
    fi
    (cd "$ROOT" && prints "200 org_42" "${run[@]}" "$OUT/readme-$v")
    (cd "$ROOT" && prints "200 user_7" "${run[@]}" "$OUT/oauth-$v")
    host_scenario "${run[@]}" "$OUT/host-$v"
}

for v in "${VARIANTS[@]}"; do
    step "run against the $v library"
    if [[ $v == asan ]]; then
        ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 run_suite "$v"
    else
        run_suite "$v"
    fi
done

for v in static shared; do
    step "valgrind ($v library): 0 errors, 0 leaks"
    run_suite "$v" "${VALGRIND[@]}"
done

step "README snippets: README.md's 'Using from C' is examples/readme.c, bindings/c/README.md's 'OAuth 2.0' is oauth.c, verbatim"
python3 - <<'PY'
import re
def blocks(doc, section):
    text = open(doc, encoding="utf-8").read().split(section, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```c\n(.*?)```", text, re.S)
for doc, section, name in (("README.md", "## Using from C", "readme.c"),
                           ("bindings/c/README.md", "## OAuth 2.0", "oauth.c")):
    snippet = open(f"bindings/c/examples/{name}", encoding="utf-8").read()
    assert snippet in blocks(doc, section), f"{doc}'s C snippet differs from bindings/c/examples/{name}"
print("README snippets match")
PY

step "install.sh + portcullis.pc: a program builds with pkg-config flags and runs"
if ! command -v pkg-config >/dev/null && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq pkg-config >/dev/null
fi
need pkg-config "checks portcullis.pc"
PROFILE=dev bash bindings/c/install.sh "$OUT/prefix"
export PKG_CONFIG_PATH=$OUT/prefix/lib/pkgconfig
version=$(grep -m1 '^version = ' Cargo.toml | sed 's/^version = "\(.*\)"/\1/')
[[ $(pkg-config --modversion portcullis) == "$version" ]]
# shellcheck disable=SC2046
"$CC" -std=c11 -Wall -Wextra -Werror bindings/c/examples/readme.c $(pkg-config --cflags --libs portcullis) \
    -Wl,-rpath,"$(pkg-config --variable=libdir portcullis)" -o "$OUT/readme-pkgconfig"
(cd "$ROOT" && prints "200 org_42" "$OUT/readme-pkgconfig")
libs=$(ldd "$OUT/readme-pkgconfig")
grep -qF "libportcullis.so => $OUT/prefix/lib/libportcullis.so" <<<"$libs" \
    || { printf 'readme-pkgconfig does not load the installed library:\n%s\n' "$libs" >&2; exit 1; }
# Static: the archive plus Libs.private.
# shellcheck disable=SC2046
"$CC" -std=c11 -Wall -Wextra -Werror bindings/c/examples/readme.c $(pkg-config --cflags portcullis) \
    "$(pkg-config --variable=libdir portcullis)/libportcullis.a" \
    $(pkg-config --static --libs-only-l portcullis | sed 's/-lportcullis//') -o "$OUT/readme-pkgconfig-static"
(cd "$ROOT" && prints "200 org_42" "$OUT/readme-pkgconfig-static")
echo "pkg-config builds (shared and static) run"

step "C binding: all suites passed"
