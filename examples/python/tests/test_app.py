"""End-to-end tests of the example app over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import sqlite3
import sys
import threading
from pathlib import Path
from typing import Iterator

import pytest
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from http_client import ADMIN, TIMEOUT, Client

from app import create_app

PEPPER = bytes(range(100, 132))


@pytest.fixture()
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "claimport.sqlite3"


@pytest.fixture()
def client(db_path: Path) -> Iterator[Client]:
    app = create_app(str(db_path), PEPPER, ADMIN, trust_forwarded_proto=True)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Client(f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(timeout=TIMEOUT)
        server.server_close()


def test_health_is_public(client: Client) -> None:
    assert client.call("GET", "/health", https=False)[:2] == (200, {"status": "ok"})


def test_an_ambiguous_path_is_refused_not_judged_by_the_public_route(client: Client) -> None:
    status, body, _ = client.call("GET", "/health/../v1/claims")
    assert (status, body["error"]) == (400, "invalid_request"), body
    status, body, _ = client.call("GET", "/v1/claims/..%2Fhealth")
    assert (status, body["error"]) == (400, "invalid_request"), body


def test_create_key_shown_once_and_stored_hashed(client: Client, db_path: Path) -> None:
    created = client.new_key("Production Integration", ["Read Claims", "Read Orders"])
    key = created["key"]
    assert key.startswith("sk_live_") and created["scopes"] == ["claims:read", "orders:read"]
    assert created["permissions"] == ["Read Claims", "Read Orders"]
    status, listed, _ = client.admin("GET", "/settings/api-keys?owner=org_acme")
    assert status == 200 and [k["id"] for k in listed] == [created["id"]]
    assert "key" not in listed[0] and key not in json.dumps(listed)
    with sqlite3.connect(db_path) as db:
        stored = " ".join(r[0] for r in db.execute("SELECT record FROM api_keys"))
    assert key not in stored and key.split("_")[3] not in stored and "hmac-sha256$p1$" in stored


def test_settings_need_the_admin_token(client: Client) -> None:
    status, _, _ = client.call("POST", "/settings/api-keys", body={"name": "x"},
                               headers={"X-Admin-Token": "wrong"})
    assert status == 403
    status, body, _ = client.admin("POST", "/settings/api-keys",
                                   {"name": "x", "owner": "o", "permissions": ["Root"]})
    assert status == 400 and "Read Claims" in body["known"]
    status, body, _ = client.admin("POST", "/settings/api-keys",
                                   {"name": "", "owner": "o", "permissions": []})
    assert (status, body["error"]) == (400, "bad_field")


def test_bearer_calls_and_scopes(client: Client) -> None:
    reader = client.new_key("reader", ["Read Claims"])["key"]
    writer = client.new_key("writer", ["Write Claims"])["key"]
    admin = client.new_key("admin", ["Full Access"])["key"]

    status, claim, _ = client.call("POST", "/v1/claims", key=writer, body={"title": "Hail"})
    assert status == 201 and claim["title"] == "Hail"
    cid = claim["id"]
    assert client.call("GET", f"/v1/claims/{cid}", key=reader)[:2] == (
        200, {"id": cid, "title": "Hail", "status": "open"})
    assert client.call("GET", "/v1/claims", key=writer)[0] == 200  # write implies read
    status, me, _ = client.call("GET", "/v1/me", key=reader)
    assert status == 200 and me["owner"] == "org_acme" and me["scopes"] == ["claims:read"]

    status, body, headers = client.call("POST", "/v1/claims", key=reader, body={"title": "x"})
    assert (status, body["error"]) == (403, "insufficient_scope")
    assert headers["WWW-Authenticate"] == (
        'Bearer realm="claimport", error="insufficient_scope", error_description="The token '
        'lacks the scope this request requires", scope="claims:write"')
    status, _, headers = client.call("GET", "/v1/claims/1/orders", key=reader)
    assert status == 403 and 'scope="claims:read orders:read"' in headers["WWW-Authenticate"]

    assert client.call("DELETE", f"/v1/claims/{cid}", key=writer)[0] == 403
    assert client.call("GET", "/v1/analytics/claims-by-status", key=admin)[:2] == (
        200, {"open": 1})
    assert client.call("DELETE", f"/v1/claims/{cid}", key=admin)[:2] == (200, {"deleted": cid})
    assert client.call("GET", "/v1/orders", key=admin)[:2] == (200, [])
    assert client.call("GET", "/v1/analytics/claims-by-status", key=reader)[0] == 403


def test_tenants_are_separated(client: Client) -> None:
    acme = client.new_key("a", ["Write Claims"], owner="org_acme")["key"]
    other = client.new_key("b", ["Write Claims"], owner="org_other")["key"]
    cid = client.call("POST", "/v1/claims", key=acme, body={"title": "Flood"})[1]["id"]
    assert client.call("GET", f"/v1/claims/{cid}", key=other)[0] == 404
    assert client.call("GET", "/v1/claims", key=other)[:2] == (200, [])


def test_401_and_400_with_www_authenticate(client: Client) -> None:
    key = client.new_key("k", ["Read Claims"])["key"]
    status, body, headers = client.call("GET", "/v1/claims")
    assert status == 401 and headers["WWW-Authenticate"] == 'Bearer realm="claimport"'
    # No credential: no error code (RFC 6750 §3.1), and never a code outside the RFCs.
    assert "error" not in body and body["error_description"] == "Authentication required"
    invalid = 'Bearer realm="claimport", error="invalid_token", ' \
              'error_description="The access token is invalid"'
    for bad in ("garbage", key[:-1] + ("x" if key[-1] != "x" else "y"),
                "sk_live_0000000000000000_" + "a" * 34):
        status, body, headers = client.call("GET", "/v1/claims", key=bad)
        assert (status, body["error"], headers["WWW-Authenticate"]) == (
            401, "invalid_token", invalid), bad
    status, body, headers = client.call("GET", "/v1/claims", key=key, https=False)
    assert (status, body["error"]) == (400, "invalid_request")
    assert 'error_description="HTTPS is required"' in headers["WWW-Authenticate"]
    status, body, _ = client.call("GET", f"/v1/claims?api_key={key}")
    assert (status, body["error"]) == (400, "invalid_request")  # ?api_key= is refused
    status, _, headers = client.call("GET", "/v1/claims",
                                     headers={"Authorization": f"Basic {key}"})
    assert status == 401 and headers["WWW-Authenticate"] == 'Bearer realm="claimport"'


def test_revoke(client: Client) -> None:
    created = client.new_key("k", ["Read Claims"])
    assert client.call("GET", "/v1/claims", key=created["key"])[0] == 200
    status, body, _ = client.admin("POST", f"/settings/api-keys/{created['id']}/revoke")
    assert status == 200 and body["revoked_at"] is not None
    status, body, _ = client.call("GET", "/v1/claims", key=created["key"])
    assert (status, body["error"]) == (401, "invalid_token")
    assert client.admin("POST", "/settings/api-keys/0000000000000000/revoke")[0] == 404
    status, body, _ = client.admin("POST", f"/settings/api-keys/{created['id']}/rotate")
    assert (status, body["error"]) == (409, "inactive")


def test_rotate_with_grace_period(client: Client) -> None:
    created = client.new_key("k", ["Read Orders"])
    status, rotated, _ = client.admin("POST", f"/settings/api-keys/{created['id']}/rotate",
                                      {"grace_hours": 1})
    assert status == 201 and rotated["key"] != created["key"]
    assert rotated["rotated_from"] == created["id"] and rotated["scopes"] == ["orders:read"]
    assert rotated["previous"]["expires_at"] is not None
    for key in (created["key"], rotated["key"]):  # both work during the grace period
        assert client.call("GET", "/v1/orders", key=key)[0] == 200
    status, _, _ = client.admin("POST", f"/settings/api-keys/{created['id']}/rotate",
                                {"grace_hours": 0})
    assert status == 201
    assert client.call("GET", "/v1/orders", key=created["key"])[0] == 401  # grace over


def test_database_failure_fails_closed(client: Client, db_path: Path) -> None:
    key = client.new_key("k", ["Read Claims"])["key"]
    with sqlite3.connect(db_path) as db:
        db.execute("DROP TABLE api_keys")
    status, body, headers = client.call("GET", "/v1/claims", key=key)
    assert (status, body["error"]) == (503, "temporarily_unavailable")
    assert "WWW-Authenticate" not in headers


def test_concurrent_requests(client: Client) -> None:
    key = client.new_key("k", ["Read Claims"])["key"]
    results: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            status = client.call("GET", "/v1/claims", key=key)[0]
            with lock:
                results.append(status)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=TIMEOUT * 4)
    assert results == [200] * 40
