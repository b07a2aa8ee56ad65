"""The example app as a fleet (issue #18): two worker processes on one database
(``DATABASE_URL``: SQLite, and a throwaway PostgreSQL from ``tests/pg-server.sh``); a key
revoked through worker A is refused by worker B within the staleness bound, and so is an
OAuth grant revoked through A by a reused refresh token (the OAuth state lives in the same
store; each worker's access-token verifier is attached to it)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
from test_oauth_app import Browser, authorize_path, consent, exchange, nonce_of, token

HERE = Path(__file__).resolve().parents[1]
ROOT = HERE.parents[1]
SERVER = ROOT / "tests" / "pg-server.sh"
ADMIN = "admin-token-for-fleet-tests"
BOUND = 1.0  # the store's default staleness bound, in seconds
DEMO_PASSWORD = "demo-password-for-fleet-tests"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def call(base: str, method: str, path: str, *, key: Optional[str] = None,
         admin: bool = False, body: Optional[Dict[str, Any]] = None) -> Tuple[int, Any]:
    headers = {"X-Forwarded-Proto": "https"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    if admin:
        headers["X-Admin-Token"] = ADMIN
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    directory = tempfile.mktemp(prefix="portcullis-app-pg-")
    started = subprocess.run(["bash", str(SERVER), "start", directory],
                             capture_output=True, text=True, check=False)
    try:
        if started.returncode != 0:
            pytest.fail(f"PostgreSQL did not start: {started.stderr}")
        yield started.stdout.strip()
    finally:
        subprocess.run(["bash", str(SERVER), "stop", directory], check=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def workers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[List[str]]:
    """Two worker processes of the app on one database; their base URLs."""
    if request.param == "sqlite":
        url = f"sqlite:{tmp_path / 'keys.sqlite3'}"
    else:
        url = request.getfixturevalue("pg_url")
    env = dict(os.environ, PORTCULLIS_PEPPER_HEX=bytes(range(100, 132)).hex(),
               CLAIMPORT_ADMIN_TOKEN=ADMIN, CLAIMPORT_BEHIND_PROXY="1",
               CLAIMPORT_DB=str(tmp_path / "claimport.sqlite3"), DATABASE_URL=url,
               CLAIMPORT_OAUTH_KEY_HEX=bytes(range(50, 82)).hex(),
               CLAIMPORT_DEMO_PASSWORD=DEMO_PASSWORD)
    procs: List[subprocess.Popen[bytes]] = []
    bases: List[str] = []
    try:
        for _ in range(2):
            port = free_port()
            procs.append(subprocess.Popen([sys.executable, str(HERE / "app.py")],
                                          env=dict(env, PORT=str(port)),
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
            bases.append(f"http://127.0.0.1:{port}")
        for proc, base in zip(procs, bases):
            deadline = time.monotonic() + 30
            while True:
                try:
                    if call(base, "GET", "/health")[0] == 200:
                        break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode() if proc.stderr else ""
                    pytest.fail(f"worker did not start: {err}")
                time.sleep(0.05)
        yield bases
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)


def test_a_key_revoked_through_worker_a_is_refused_by_worker_b_within_the_bound(
    workers: List[str],
) -> None:
    a, b = workers
    status, created = call(a, "POST", "/settings/api-keys", admin=True,
                           body={"name": "fleet", "owner": "org_acme",
                                 "permissions": ["Read Claims"]})
    assert status == 201, created
    key = created["key"]
    # Created through A, known to B (a read-through on B's first miss).
    assert call(b, "GET", "/v1/claims", key=key)[0] == 200
    assert call(a, "GET", "/v1/claims", key=key)[0] == 200
    listed = call(b, "GET", "/settings/api-keys?owner=org_acme", admin=True)[1]
    assert [k["id"] for k in listed] == [created["id"]]

    status, revoked = call(a, "POST", f"/settings/api-keys/{created['id']}/revoke", admin=True)
    assert status == 200 and revoked["revoked_at"] is not None
    start = time.monotonic()
    while call(b, "GET", "/v1/claims", key=key)[0] != 401:
        assert time.monotonic() - start < BOUND, "worker B still accepts the revoked key"
        time.sleep(0.005)
    assert call(a, "GET", "/v1/claims", key=key)[0] == 401


def test_rotation_through_one_worker_is_seen_by_the_other(workers: List[str]) -> None:
    a, b = workers
    created = call(a, "POST", "/settings/api-keys", admin=True,
                   body={"name": "r", "owner": "org_acme", "permissions": ["Read Orders"]})[1]
    status, rotated = call(b, "POST", f"/settings/api-keys/{created['id']}/rotate",
                           admin=True, body={"grace_hours": 1})
    assert status == 201, rotated
    for base in (a, b):
        for key in (created["key"], rotated["key"]):  # both work during the grace period
            assert call(base, "GET", "/v1/orders", key=key)[0] == 200
    call(a, "POST", f"/settings/api-keys/{created['id']}/revoke", admin=True)
    status, body = call(b, "POST", f"/settings/api-keys/{created['id']}/rotate", admin=True)
    assert (status, body["error"]) == (409, "inactive")
    assert call(b, "POST", "/settings/api-keys/0000000000000000/revoke", admin=True)[0] == 404


def code_on(b: Browser) -> str:
    """Signs the demo user in on this worker and approves; the authorization code."""
    path = authorize_path()
    status, text, _ = b.request("POST", "/login", form={
        "user": "demo", "password": DEMO_PASSWORD, "next": path})
    assert status == 302, text
    status, page, _ = b.request("GET", path)
    assert status == 200 and nonce_of(page), page
    return consent(b, page)["code"]


def test_a_refresh_token_reused_on_worker_a_revokes_the_grant_on_worker_b(
    workers: List[str],
) -> None:
    a, b = workers
    status, client = call(a, "POST", "/settings/oauth-clients", admin=True, body={
        "client_id": "partner", "redirect_uris": ["https://partner.example/cb"],
        "permissions": ["Read Claims", "Write Claims"]})
    assert status == 201, client
    on_a, on_b = Browser(a), Browser(b)
    # A code approved on A is redeemed on B: the client, the code and the refresh token
    # are in the shared store.
    status, tokens, _ = exchange(on_b, client, code_on(on_a))
    assert status == 200, tokens
    status, rotated, _ = token(on_b, client, {"grant_type": "refresh_token",
                                              "refresh_token": tokens["refresh_token"]})
    assert status == 200, rotated
    access = rotated["access_token"]
    assert call(b, "GET", "/v1/claims", key=access)[0] == 200
    assert call(a, "GET", "/v1/claims", key=access)[0] == 200

    # The old refresh token, replayed on A: the family is revoked in A at once...
    status, reused, _ = token(on_a, client, {"grant_type": "refresh_token",
                                             "refresh_token": tokens["refresh_token"]})
    assert (status, reused["error"]) == (400, "invalid_grant")
    assert call(a, "GET", "/v1/claims", key=access)[0] == 401
    # ...and in B within the bound, through the feed.
    start = time.monotonic()
    while call(b, "GET", "/v1/claims", key=access)[0] != 401:
        assert time.monotonic() - start < BOUND, "worker B still accepts the revoked grant"
        time.sleep(0.005)
    status, later, _ = token(on_b, client, {"grant_type": "refresh_token",
                                            "refresh_token": rotated["refresh_token"]})
    assert (status, later["error"]) == (400, "invalid_grant")
