"""The FastAPI integration against FastAPI and Starlette themselves: the security
dependency with declared scopes, the startup check, the middleware."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Tuple

import pytest
from fastapi import Depends, FastAPI, Security
from fastapi.testclient import TestClient

import portcullis
from portcullis.integrations.fastapi import (
    PortcullisBearer,
    PortcullisMiddleware,
    Principal,
    route_principal,
)

REALM = 'Bearer realm="claimport"'


@pytest.fixture()
def keys(checker: portcullis.Checker, store: portcullis.MemoryStore) -> Dict[str, str]:
    out = {}
    for name, scopes in (("reader", ["claims:read"]), ("writer", ["claims:write"])):
        issued = checker.issue(name, "org_42", scopes)
        store.insert(issued.record)
        out[name] = issued.key
    return out


def declared_app(checker: portcullis.Checker, store: portcullis.MemoryStore,
                 scopes: Tuple[str, ...] = ("claims:write",)) -> FastAPI:
    bearer = PortcullisBearer(checker, lookup=store)
    app = FastAPI()

    @app.get("/reports")  # not in the policy's route table: the declared scopes decide
    def reports(caller: Principal = Security(bearer, scopes=list(scopes))) -> Dict[str, Any]:
        return {"owner": caller.owner, "scopes": list(caller.scopes)}

    @app.get("/whoami")
    def whoami(caller: Principal = Depends(bearer)) -> Dict[str, Any]:
        return {"owner": caller.owner}

    bearer.install(app)
    return app


def get(client: TestClient, path: str, key: Optional[str] = None
        ) -> Tuple[int, Any, Dict[str, str]]:
    r = client.get(path, headers={"Authorization": f"Bearer {key}"} if key else {})
    return r.status_code, r.json(), dict(r.headers)


@pytest.fixture()
def client(checker: portcullis.Checker, store: portcullis.MemoryStore) -> Any:
    with TestClient(declared_app(checker, store), base_url="https://testserver") as c:
        yield c


def test_declared_scope_allows_and_returns_the_principal(
        client: TestClient, keys: Dict[str, str]) -> None:
    assert get(client, "/reports", keys["writer"])[:2] == (
        200, {"owner": "org_42", "scopes": ["claims:read", "claims:write"]})
    assert get(client, "/whoami", keys["reader"])[:2] == (200, {"owner": "org_42"})


def test_no_credential_is_401_with_www_authenticate(client: TestClient) -> None:
    status, body, headers = get(client, "/reports")
    assert (status, headers["www-authenticate"]) == (401, REALM)
    assert body == {"error_description": "Authentication required"}
    status, body, _ = get(client, "/whoami", "sk_live_garbage")
    assert (status, body["error"]) == (401, "invalid_token")


def test_missing_declared_scope_is_403_naming_it_as_the_core_does(
        client: TestClient, keys: Dict[str, str], checker: portcullis.Checker,
        store: portcullis.MemoryStore) -> None:
    status, body, headers = get(client, "/reports", keys["reader"])
    core = checker.check("POST", "/v1/claims", lookup=store,
                         authorization=f"Bearer {keys['reader']}", https=True)
    assert (status, headers["www-authenticate"]) == (403, core.www_authenticate)
    assert 'scope="claims:write"' in headers["www-authenticate"]
    assert body == {"error": "insufficient_scope", "error_description": core.description}


def test_plain_http_is_refused_as_the_decision_says(
        checker: portcullis.Checker, store: portcullis.MemoryStore,
        keys: Dict[str, str]) -> None:
    with TestClient(declared_app(checker, store), base_url="http://testserver") as c:
        status, body, headers = get(c, "/reports", keys["writer"])
    assert (status, body["error"]) == (400, "invalid_request")
    assert 'error_description="HTTPS is required"' in headers["www-authenticate"]


def test_unknown_declared_scope_stops_the_startup(
        checker: portcullis.Checker, store: portcullis.MemoryStore) -> None:
    app = declared_app(checker, store, scopes=("claims:delete",))
    with pytest.raises(portcullis.RequirementError):
        with TestClient(app):
            pass


def test_openapi_carries_the_policys_schemes_and_the_declared_scopes(
        client: TestClient, policy: portcullis.Policy) -> None:
    doc = client.get("/openapi.json").json()
    schemes = json.loads(policy.openapi())["components"]["securitySchemes"]
    assert doc["components"]["securitySchemes"] == schemes
    assert schemes["apiKey"]["scheme"] == "bearer"
    # /reports is not in the policy: it keeps what its Security(...) declares.
    security: List[Dict[str, List[str]]] = doc["paths"]["/reports"]["get"]["security"]
    assert security == [{"apiKey": ["claims:write"]}]


def test_openapi_merge_can_be_left_out(
        checker: portcullis.Checker, store: portcullis.MemoryStore) -> None:
    bearer = PortcullisBearer(checker, lookup=store)
    app = FastAPI()

    @app.get("/reports")
    def reports(caller: Principal = Security(bearer, scopes=["claims:read"])) -> str:
        return caller.owner

    bearer.install(app, openapi=False)
    schemes = app.openapi()["components"]["securitySchemes"]
    assert schemes == {"apiKey": {"type": "http", "scheme": "bearer",
                                  "bearerFormat": "API key"}}


def test_middleware_lets_the_route_table_decide(
        checker: portcullis.Checker, store: portcullis.MemoryStore,
        keys: Dict[str, str]) -> None:
    app = FastAPI()
    app.add_middleware(PortcullisMiddleware, checker=checker, lookup=store)

    @app.get("/v1/claims")
    @app.get("/v1/orders")
    @app.get("/health")
    def me(caller: Optional[Principal] = Depends(route_principal)) -> Dict[str, Any]:
        return {"owner": caller.owner if caller else None}

    with TestClient(app, base_url="https://testserver") as c:
        assert get(c, "/v1/claims", keys["reader"])[:2] == (200, {"owner": "org_42"})
        status, body, headers = get(c, "/v1/orders", keys["reader"])
        assert (status, body["error"]) == (403, "insufficient_scope")
        assert headers["www-authenticate"].endswith('scope="orders:read"')
        assert get(c, "/health")[:2] == (200, {"owner": None})
        status, _, headers = get(c, "/v1/claims")
        assert (status, headers["www-authenticate"]) == (401, REALM)
        assert get(c, "/v1/unknown", keys["reader"])[0] == 403
