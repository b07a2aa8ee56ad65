#!/usr/bin/env bash
# Installs Redis (Debian's redis-server) when it is not on the machine; the fleet-limit
# tests (tests/common/redis_server.rs) and the store benchmark call it.
set -euo pipefail
if command -v redis-server >/dev/null; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "redis.sh: redis-server is not installed and this user cannot install it (not root)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq redis-server >/dev/null
command -v redis-server >/dev/null
