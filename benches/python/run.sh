#!/usr/bin/env bash
# Python harness of `make bench`: installs the module (release build, as users get it) into
# a private venv under target/, then runs bench.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=target/bench-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps ./bindings/python
"$venv/bin/python" benches/python/bench.py
