"""The FastAPI example over real HTTP: uvicorn on a free loopback port, started and
stopped by the test."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
import uvicorn
from openapi_spec_validator import validate

import portcullis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from http_client import ADMIN, TIMEOUT, Client

from fastapi_app import POLICY_FILE, create_app

PEPPER = bytes(range(100, 132))


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
    writer = client.new_key("k", ["Write Claims"])["key"]
    status, claim, _ = client.call("POST", "/v1/claims", key=writer, body={"title": "Hail"})
    assert status == 201 and claim["title"] == "Hail"
    assert client.call("GET", "/v1/claims", key=writer)[:2] == (  # write implies read
        200, [{"id": claim["id"], "owner": "org_acme", "title": "Hail", "status": "open"}])
    status, me, _ = client.call("GET", "/v1/me", key=writer)
    assert (status, me["owner"], me["scopes"]) == (200, "org_acme",
                                                   ["claims:read", "claims:write"])
    admin = client.new_key("k", ["Full Access"])["key"]
    assert client.call("GET", "/v1/analytics/claims-by-status", key=admin)[:2] == (
        200, {"open": 1})


def test_401_with_www_authenticate(client: Client) -> None:
    status, body, headers = client.call("GET", "/v1/claims")
    assert (status, headers["www-authenticate"]) == (401, 'Bearer realm="claimport"')
    assert body == {"error_description": "Authentication required"}
    status, body, headers = client.call("GET", "/v1/claims", key="sk_live_garbage")
    assert (status, body["error"]) == (401, "invalid_token")
    assert 'error="invalid_token"' in headers["www-authenticate"]
    key = client.new_key("k", ["Read Claims"])["key"]
    status, body, _ = client.call("GET", "/v1/claims", key=key, https=False)
    assert (status, body["error"]) == (400, "invalid_request")


def test_403_insufficient_scope_names_the_missing_scope(client: Client) -> None:
    reader = client.new_key("k", ["Read Claims"])["key"]
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
