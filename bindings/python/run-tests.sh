#!/usr/bin/env bash
# The Python binding's suites: builds the module into a private venv, then runs pytest
# (API, vectors, threads, memory, README snippet, example apps over real HTTP, real OAuth
# client libraries: Authlib and requests-oauthlib, the FastAPI, Flask and Django
# integrations against the frameworks), mypy's stubtest and ruff. Installs everything
# it needs from PyPI; works on a fresh machine.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$here/.venv"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    echo "== creating venv $venv"
    "$python" -m venv "$venv"
fi
py="$venv/bin/python"
echo "== installing test tools from PyPI"
"$py" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$py" -m pip install --quiet --disable-pip-version-check \
    "pytest>=8" "mypy>=1.10" "flask>=3" "requests>=2.31" "authlib>=1.3" "requests-oauthlib>=2" \
    "ruff>=0.17,<0.18" \
    "fastapi>=0.110" "uvicorn>=0.30" "httpx>=0.27" "django>=4.2" "djangorestframework>=3.15" \
    "openapi-spec-validator>=0.7"

# Ruff's minor releases may widen a rule, so its version is held; its settings are in
# pyproject.toml ([tool.ruff]); `ruff format` is not applied (the code is wrapped by hand).
echo "== ruff: the package, its tests and the example app"
(cd "$root" && "$venv/bin/ruff" check --no-cache --config "$here/pyproject.toml" \
    "$here/python" "$here/tests" examples/python)

# The way users install it: `pip install ./bindings/python` builds a release wheel with
# the maturin backend (fetched from PyPI into an isolated build env) and installs it, so
# the tests run against what is shipped (stubs and py.typed included). Cargo's target dir
# is the workspace's, so rebuilds are incremental.
echo "== pip install ./bindings/python (maturin backend, release build)"
"$py" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$here"

echo "== stubtest: the .pyi stubs against the native module"
(cd "$root" && "$venv/bin/python" -m mypy.stubtest portcullis --mypy-config-file "$here/mypy.ini")

echo "== mypy: the example apps (Flask, FastAPI), the typed-usage test and the OAuth tests against the stubs"
(cd "$root" && "$venv/bin/python" -m mypy --config-file "$here/mypy.ini" \
    "$here/tests/typed_usage.py" "$here/tests/test_batch.py" "$here/tests/test_oauth.py" "$here/tests/test_oauth_json.py" "$here/tests/test_oauth_vectors.py" \
    examples/python/app.py examples/python/tests/test_oauth_app.py \
    examples/python/tests/test_documented_requests.py \
    examples/python/fastapi_app.py examples/python/tests/test_fastapi_app.py)

echo "== pytest: binding suite and example app"
cd "$root"
status=0
"$py" -m pytest -q -p no:cacheprovider "$here/tests" examples/python/tests || status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure here" >&2
    exit 1
fi
exit "$status"
