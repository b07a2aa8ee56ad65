"""The FastAPI example over real HTTP: uvicorn on a free loopback port, started and
stopped by the test."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Tuple

import pytest
import uvicorn
from openapi_spec_validator import validate

import portcullis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fastapi_app import POLICY_FILE, create_app

ADMIN = "admin-token-for-tests"
PEPPER = bytes(range(100, 132))
TIMEOUT = 10


class Client:
    """urllib over real sockets, as a customer's integration would call the API."""

    def __init__(self, base: str) -> None:
        self.base = base

    def call(self, method: str, path: str, *, key: Optional[str] = None,
             body: Optional[Dict[str, Any]] = None, https: bool = True,
             headers: Optional[Dict[str, str]] = None) -> Tuple[int, Any, Dict[str, str]]:
        h = dict(headers or {})
        if key is not None:
            h["Authorization"] = f"Bearer {key}"
        if https:
            h["X-Forwarded-Proto"] = "https"  # a TLS proxy on loopback, trusted by uvicorn
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
                return resp.status, json.loads(resp.read() or b"null"), dict(resp.headers)
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null"), dict(e.headers)

    def new_key(self, permissions: list[str], owner: str = "org_acme") -> str:
        status, body, _ = self.call("POST", "/settings/api-keys",
                                    body={"name": "k", "owner": owner,
                                          "permissions": permissions},
                                    headers={"X-Admin-Token": ADMIN})
        assert status == 201, body
        return str(body["key"])


@pytest.fixture()
def client() -> Iterator[Client]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(PEPPER, ADMIN), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + TIMEOUT
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield Client(f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=TIMEOUT)
        sock.close()


def test_declared_scopes_allow_with_implications(client: Client) -> None:
    writer = client.new_key(["Write Claims"])
    status, claim, _ = client.call("POST", "/v1/claims", key=writer, body={"title": "Hail"})
    assert status == 201 and claim["title"] == "Hail"
    assert client.call("GET", "/v1/claims", key=writer)[:2] == (  # write implies read
        200, [{"id": claim["id"], "owner": "org_acme", "title": "Hail", "status": "open"}])
    status, me, _ = client.call("GET", "/v1/me", key=writer)
    assert (status, me["owner"], me["scopes"]) == (200, "org_acme",
                                                   ["claims:read", "claims:write"])
    admin = client.new_key(["Full Access"])
    assert client.call("GET", "/v1/analytics/claims-by-status", key=admin)[:2] == (
        200, {"open": 1})


def test_401_with_www_authenticate(client: Client) -> None:
    status, body, headers = client.call("GET", "/v1/claims")
    assert (status, headers["www-authenticate"]) == (401, 'Bearer realm="claimport"')
    assert body == {"error_description": "Authentication required"}
    status, body, headers = client.call("GET", "/v1/claims", key="sk_live_garbage")
    assert (status, body["error"]) == (401, "invalid_token")
    assert 'error="invalid_token"' in headers["www-authenticate"]
    status, body, _ = client.call("GET", "/v1/claims", key=client.new_key(["Read Claims"]),
                                  https=False)
    assert (status, body["error"]) == (400, "invalid_request")


def test_403_insufficient_scope_names_the_missing_scope(client: Client) -> None:
    reader = client.new_key(["Read Claims"])
    status, body, headers = client.call("POST", "/v1/claims", key=reader, body={"title": "x"})
    assert (status, body["error"]) == (403, "insufficient_scope")
    assert headers["www-authenticate"] == (
        'Bearer realm="claimport", error="insufficient_scope", error_description="The token '
        'lacks the scope this request requires", scope="claims:write"')
    status, _, headers = client.call("GET", "/v1/analytics/claims-by-status", key=reader)
    assert status == 403 and 'scope="analytics:read"' in headers["www-authenticate"]


def test_openapi_carries_the_policys_security(client: Client) -> None:
    status, doc, _ = client.call("GET", "/openapi.json", https=False)
    assert status == 200
    validate(doc)
    policy = json.loads(portcullis.Policy.from_file(POLICY_FILE).openapi())
    assert doc["components"]["securitySchemes"] == policy["components"]["securitySchemes"]
    for path, method in (("/v1/claims", "get"), ("/v1/claims", "post"),
                         ("/v1/analytics/{report}", "get"), ("/health", "get")):
        assert doc["paths"][path][method]["security"] == \
            policy["paths"][path][method]["security"], (path, method)
    assert {"oauth2": ["claims:write"]} in doc["paths"]["/v1/claims"]["post"]["security"]
    assert doc["paths"]["/health"]["get"]["security"] == []
