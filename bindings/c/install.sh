#!/usr/bin/env bash
# Builds libportcullis and installs it with its header and pkg-config file:
#   bindings/c/install.sh PREFIX        (PROFILE=debug to install a debug build)
# gives PREFIX/lib/libportcullis.{a,so}, PREFIX/include/portcullis.h and
# PREFIX/lib/pkgconfig/portcullis.pc; then: cc app.c $(pkg-config --cflags --libs portcullis)
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 PREFIX" >&2; exit 2; }
cd "$(dirname "$0")/../.."
mkdir -p "$1"
PREFIX=$(cd "$1" && pwd)
PROFILE=${PROFILE:-release}
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
if [[ $PROFILE == release ]]; then
    ${CARGO:-cargo} build --release -p portcullis-c
else
    ${CARGO:-cargo} build --profile "$PROFILE" -p portcullis-c
fi
dir=$TARGET/$([[ $PROFILE == dev ]] && echo debug || echo "$PROFILE")
install -d "$PREFIX/lib/pkgconfig" "$PREFIX/include"
install -m 644 "$dir/libportcullis.a" "$PREFIX/lib/"
install -m 755 "$dir/libportcullis.so" "$PREFIX/lib/"
install -m 644 include/portcullis.h "$PREFIX/include/"
version=$(grep -m1 '^version = ' Cargo.toml | sed 's/^version = "\(.*\)"/\1/')
sed -e "s|@PREFIX@|$PREFIX|" -e "s|@LIBDIR@|$PREFIX/lib|" -e "s|@INCLUDEDIR@|$PREFIX/include|" \
    -e "s|@VERSION@|$version|" bindings/c/portcullis.pc.in >"$PREFIX/lib/pkgconfig/portcullis.pc"
echo "installed libportcullis $version ($PROFILE) in $PREFIX"
