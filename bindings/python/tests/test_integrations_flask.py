"""The Flask extension against Flask itself: declared scopes and route-table mode."""

from __future__ import annotations

from typing import Any, Dict, Iterator, Optional, Tuple

import pytest
from flask import Flask, g

import portcullis
from portcullis.integrations.flask import IntegrationError, Portcullis, Principal

REALM = 'Bearer realm="claimport"'


@pytest.fixture()
def keys(checker: portcullis.Checker, store: portcullis.MemoryStore) -> Dict[str, str]:
    out = {}
    for name, scopes in (("reader", ["claims:read"]), ("writer", ["claims:write"])):
        issued = checker.issue(name, "org_42", scopes)
        store.insert(issued.record)
        out[name] = issued.key
    return out


def make_app(checker: portcullis.Checker, store: portcullis.MemoryStore,
             route_table: bool = False) -> Flask:
    app = Flask(__name__)
    auth = Portcullis(app, checker=checker, lookup=store, route_table=route_table)

    def me() -> Dict[str, Any]:
        p: Optional[Principal] = g.portcullis
        return {"owner": p.owner if p else None, "scopes": list(p.scopes) if p else None}

    if route_table:
        app.get("/v1/claims")(me)
        app.get("/v1/orders", endpoint="orders")(me)
        app.get("/health", endpoint="health")(me)
    else:
        # /reports is not in the policy's route table: the declared scopes decide it.
        app.get("/reports")(auth.require("claims:write")(me))
        app.get("/v1/claims", endpoint="claims")(auth.require("claims:read")(me))
        app.get("/whoami", endpoint="whoami")(auth.require()(me))
    return app


@pytest.fixture()
def call(checker: portcullis.Checker, store: portcullis.MemoryStore
         ) -> Iterator[Any]:
    def go(path: str, key: Optional[str] = None, *, route_table: bool = False,
           https: bool = True) -> Tuple[int, Any, Dict[str, str]]:
        client = make_app(checker, store, route_table).test_client()
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        r = client.get(path, headers=headers,
                       base_url="https://localhost" if https else "http://localhost")
        return r.status_code, r.get_json(), dict(r.headers)
    yield go


def test_declared_scope_allows_and_sets_the_principal(call: Any, keys: Dict[str, str]) -> None:
    assert call("/reports", keys["writer"])[:2] == (
        200, {"owner": "org_42", "scopes": ["claims:read", "claims:write"]})
    assert call("/v1/claims", keys["writer"])[0] == 200  # claims:write implies claims:read
    assert call("/whoami", keys["reader"])[0] == 200


def test_no_credential_is_401_with_www_authenticate_and_no_error_code(call: Any) -> None:
    status, body, headers = call("/reports")
    assert (status, headers["WWW-Authenticate"]) == (401, REALM)
    assert body == {"error_description": "Authentication required"}
    status, body, headers = call("/reports", "sk_live_garbage")
    assert (status, body["error"]) == (401, "invalid_token")
    assert headers["WWW-Authenticate"].startswith(REALM + ', error="invalid_token"')


def test_http_is_refused_as_the_decision_says(call: Any, keys: Dict[str, str]) -> None:
    status, body, headers = call("/reports", keys["writer"], https=False)
    assert (status, body["error"]) == (400, "invalid_request")
    assert 'error_description="HTTPS is required"' in headers["WWW-Authenticate"]


def test_missing_declared_scope_is_403_naming_it_as_the_core_does(
        call: Any, keys: Dict[str, str], checker: portcullis.Checker,
        store: portcullis.MemoryStore) -> None:
    status, body, headers = call("/reports", keys["reader"])
    assert (status, body["error"]) == (403, "insufficient_scope")
    assert headers["WWW-Authenticate"].endswith('scope="claims:write"')
    # Byte for byte what the core answers for a route of the policy requiring claims:write.
    core = checker.check("POST", "/v1/claims", lookup=store,
                         authorization=f"Bearer {keys['reader']}", https=True)
    assert headers["WWW-Authenticate"] == core.www_authenticate
    assert body == {"error": core.error, "error_description": core.description}


def test_unknown_declared_scope_is_refused_when_the_app_is_built(
        checker: portcullis.Checker, store: portcullis.MemoryStore) -> None:
    auth = Portcullis(Flask(__name__), checker=checker, lookup=store)
    with pytest.raises(portcullis.RequirementError):
        auth.require("claims:delete")


def test_route_table_mode_lets_the_policy_decide(call: Any, keys: Dict[str, str]) -> None:
    assert call("/v1/claims", keys["reader"], route_table=True)[0] == 200
    status, body, headers = call("/v1/orders", keys["reader"], route_table=True)
    assert (status, body["error"]) == (403, "insufficient_scope")
    assert headers["WWW-Authenticate"].endswith('scope="orders:read"')
    assert call("/health", route_table=True)[:2] == (200, {"owner": None, "scopes": None})
    assert call("/v1/claims", route_table=True)[0] == 401


def test_scopes_declared_on_a_public_policy_route_raise_never_allow(
        checker: portcullis.Checker, store: portcullis.MemoryStore) -> None:
    app = Flask(__name__)
    app.testing = True  # the view's exception reaches the test
    auth = Portcullis(app, checker=checker, lookup=store)
    app.get("/health")(auth.require("claims:read")(lambda: "never"))
    with pytest.raises(IntegrationError, match="public"):
        app.test_client().get("/health", base_url="https://localhost")
