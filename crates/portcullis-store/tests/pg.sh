#!/usr/bin/env bash
# Installs PostgreSQL (Debian's package) when no server binaries are on the machine; the
# store's tests (tests/common/pg.rs) call it, and `make test-rust` runs it first.
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "pg.sh: PostgreSQL is not installed and this user cannot install it (not root)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq postgresql >/dev/null
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
