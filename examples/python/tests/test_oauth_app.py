"""The example app's OAuth 2.0 endpoints, driven over real HTTP on 127.0.0.1: authorize →
login → consent → code → token → API call with the access token → refresh → refresh
reuse revokes the family, plus PKCE, redirect-URI, consent and transport refusals."""

from __future__ import annotations

import base64
import hashlib
import http.cookiejar
import json
import re
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Tuple

import pytest
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from app import create_app

ADMIN = "admin-token-for-tests"
PEPPER = bytes(range(100, 132))
ACCESS_KEY = bytes(range(50, 82))
TIMEOUT = 10
REDIRECT = "https://partner.example/cb"
VERIFIER = "M25iVXpKU3puUjFaYWg3T1NDTDQtcW1ROUY5YXlwalNoc0hhakxifmZHag"
CHALLENGE = (
    base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).decode().rstrip("=")
)
USERS = {"alice": ("alice-password", "org_acme"), "bob": ("bob-password", "org_bob")}


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Keep 302s as answers: the test reads their Location."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Browser:
    """A user agent with cookies, and a client application's back channel, over urllib."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect())

    def request(self, method: str, path: str, *, form: Optional[Dict[str, Any]] = None,
                json_body: Optional[Dict[str, Any]] = None,
                headers: Optional[Dict[str, str]] = None,
                https: bool = True) -> Tuple[int, str, Dict[str, str]]:
        h = dict(headers or {})
        if https:
            h["X-Forwarded-Proto"] = "https"
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form, doseq=True).encode()
            h["Content-Type"] = "application/x-www-form-urlencoded"
        if json_body is not None:
            data = json.dumps(json_body).encode()
            h["Content-Type"] = "application/json"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=h)
        try:
            with self.opener.open(req, timeout=TIMEOUT) as resp:
                return resp.status, resp.read().decode(), dict(resp.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(), dict(e.headers)


@pytest.fixture()
def base(tmp_path: Path) -> Iterator[str]:
    app = create_app(str(tmp_path / "claimport.sqlite3"), PEPPER, ADMIN,
                     trust_forwarded_proto=True, access_token_key=ACCESS_KEY, demo_users=USERS)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=TIMEOUT)
        server.server_close()


def register(b: Browser, **overrides: Any) -> Dict[str, Any]:
    body = {"client_id": "partner", "redirect_uris": [REDIRECT],
            "permissions": ["Read Claims", "Write Claims"], **overrides}
    status, text, _ = b.request("POST", "/settings/oauth-clients", json_body=body,
                                headers={"X-Admin-Token": ADMIN})
    assert status == 201, text
    return dict(json.loads(text))


def authorize_path(**overrides: Optional[str]) -> str:
    params: Dict[str, Optional[str]] = {
        "response_type": "code", "client_id": "partner", "redirect_uri": REDIRECT,
        "scope": "claims:read claims:write", "state": "xyz",
        "code_challenge": CHALLENGE, "code_challenge_method": "S256"}
    params.update(overrides)
    return "/oauth/authorize?" + urllib.parse.urlencode(
        {k: v for k, v in params.items() if v is not None})


def location_params(headers: Dict[str, str]) -> Dict[str, str]:
    location = headers["Location"]
    assert location.startswith(REDIRECT + "?"), location
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


def login(b: Browser, path: str, user: str = "alice") -> str:
    """Signs in from the login page the authorize request shows (unless the session is
    signed in already); returns the consent page."""
    status, page, _ = b.request("GET", path)
    assert status == 200, page
    if 'action="/login"' not in page:
        return page
    status, text, headers = b.request("POST", "/login", form={
        "user": user, "password": USERS[user][0], "next": path})
    assert status == 302 and headers["Location"].endswith(path), text
    status, page, headers = b.request("GET", path)
    assert status == 200, page
    assert headers["Cache-Control"] == "no-store" and headers["X-Frame-Options"] == "DENY"
    return page


def nonce_of(page: str) -> str:
    match = re.search(r'name="nonce" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def consent(b: Browser, page: str, decision: str = "approve",
            scopes: Tuple[str, ...] = ("claims:read", "claims:write")) -> Dict[str, str]:
    status, text, headers = b.request("POST", "/oauth/authorize", form={
        "nonce": nonce_of(page), "decision": decision, "scope": list(scopes)})
    assert status == 302, text
    return location_params(headers)


def token(b: Browser, client: Dict[str, Any], form: Dict[str, str],
          https: bool = True) -> Tuple[int, Dict[str, Any], Dict[str, str]]:
    pair = f"{client['client_id']}:{client['client_secret']}".encode()
    status, text, headers = b.request(
        "POST", "/oauth/token", form=form, https=https,
        headers={"Authorization": "Basic " + base64.b64encode(pair).decode()})
    return status, json.loads(text), headers


def api(b: Browser, access_token: str, method: str = "GET", path: str = "/v1/claims",
        body: Optional[Dict[str, Any]] = None) -> Tuple[int, Any]:
    status, text, _ = b.request(method, path, json_body=body,
                                headers={"Authorization": f"Bearer {access_token}"})
    return status, json.loads(text)


def code_for(b: Browser, path: Optional[str] = None) -> str:
    page = login(b, path or authorize_path())
    params = consent(b, page)
    assert params["state"] == "xyz"
    return params["code"]


def exchange(b: Browser, client: Dict[str, Any], code: str, **extra: str
             ) -> Tuple[int, Dict[str, Any], Dict[str, str]]:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "code_verifier": VERIFIER, **extra}
    return token(b, client, form)


def test_full_flow_over_http(base: str) -> None:
    b = Browser(base)
    client = register(b)
    assert client["client_secret"].startswith("cs.")

    page = login(b, authorize_path())
    assert "Read Claims" in page and "Write Claims" in page and "partner" in page
    params = consent(b, page)
    assert params["state"] == "xyz" and params["code"].startswith("ac.")

    status, tokens, headers = exchange(b, client, params["code"])
    assert status == 200, tokens
    assert headers["Cache-Control"] == "no-store" and headers["Pragma"] == "no-cache"
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
    access, refresh = tokens["access_token"], tokens["refresh_token"]

    # The access token works on the API through the same check as API keys.
    status, created = api(b, access, "POST", "/v1/claims", {"title": "Hail damage"})
    assert status == 201, created
    status, claims = api(b, access)
    assert status == 200 and [c["title"] for c in claims] == ["Hail damage"]
    status, me = api(b, access, path="/v1/me")
    assert me["owner"] == "org_acme" and me["scopes"] == ["claims:read", "claims:write"]
    status, body = api(b, access, "DELETE", f"/v1/claims/{created['id']}")
    assert status == 403 and body["error"] == "insufficient_scope"

    # Refresh rotates; reusing the old refresh token is refused and revokes the family.
    status, fresh, _ = token(b, client, {"grant_type": "refresh_token", "refresh_token": refresh})
    assert status == 200 and fresh["refresh_token"] != refresh
    assert api(b, fresh["access_token"])[0] == 200
    status, reuse, _ = token(b, client, {"grant_type": "refresh_token", "refresh_token": refresh})
    assert (status, reuse["error"]) == (400, "invalid_grant")
    for dead in (fresh["access_token"], access):
        status, body = api(b, dead)
        assert status == 401 and body["error"] == "invalid_token"
    status, again, _ = token(b, client, {"grant_type": "refresh_token",
                                         "refresh_token": fresh["refresh_token"]})
    assert (status, again["error"]) == (400, "invalid_grant")


def test_code_reuse_and_wrong_verifier(base: str) -> None:
    b = Browser(base)
    client = register(b)
    code = code_for(b)
    status, body, _ = exchange(b, client, code, code_verifier="x" * 43)
    assert (status, body["error"]) == (400, "invalid_grant")
    # The failed attempt did not consume the code; the right verifier redeems it, once.
    assert exchange(b, client, code)[0] == 200
    assert exchange(b, client, code)[1]["error"] == "invalid_grant"
    status, body, _ = exchange(b, client, code_for(b), code_verifier="")
    assert (status, body["error"]) == (400, "invalid_request")


def test_pkce_downgrade_is_refused(base: str) -> None:
    b = Browser(base)
    register(b)
    register(b, client_id="spa", type="public")
    login(b, authorize_path())
    # The product's policy lets a confidential client omit PKCE (its documented authorize
    # URL has none); a public client never may, and plain or a lone method is refused.
    for overrides in ({"client_id": "spa", "code_challenge": None, "code_challenge_method": None},
                      {"code_challenge_method": "plain"},
                      {"code_challenge_method": None}):
        status, text, headers = b.request("GET", authorize_path(**overrides))
        assert status == 302, text
        params = location_params(headers)
        assert params["error"] == "invalid_request" and params["state"] == "xyz"
        assert "code" not in params


@pytest.mark.parametrize("uri", [REDIRECT + "/", "https://PARTNER.example/cb",
                                 REDIRECT + "?x=1", "https://user@partner.example/cb",
                                 "https://evil.example/cb", None])
def test_bad_redirect_uri_shows_an_error_and_does_not_redirect(base: str,
                                                               uri: Optional[str]) -> None:
    b = Browser(base)
    register(b, redirect_uris=[REDIRECT, "https://partner.example/other"])
    status, page, headers = b.request("GET", authorize_path(redirect_uri=uri))
    assert status == 400 and "Location" not in headers
    assert "invalid_request" in page and "redirect_uri" in page


def test_unknown_client_shows_an_error(base: str) -> None:
    b = Browser(base)
    status, page, headers = b.request("GET", authorize_path(client_id="nobody"))
    assert status == 400 and "Location" not in headers and "Unknown client" in page


def test_deny_and_narrowed_consent(base: str) -> None:
    b = Browser(base)
    client = register(b)
    page = login(b, authorize_path())
    params = consent(b, page, "deny")
    assert params["error"] == "access_denied" and params["state"] == "xyz"
    status, page, _ = b.request("GET", authorize_path())
    params = consent(b, page, scopes=("claims:read",))
    status, tokens, _ = exchange(b, client, params["code"])
    assert status == 200 and tokens["scope"] == "claims:read"
    assert api(b, tokens["access_token"], "POST", "/v1/claims", {"title": "x"})[0] == 403
    status, page, _ = b.request("GET", authorize_path())
    assert consent(b, page, scopes=())["error"] == "access_denied"


def test_consent_nonce_is_single_use_and_bound_to_the_user(base: str) -> None:
    b = Browser(base)
    register(b)
    page = login(b, authorize_path())
    nonce = nonce_of(page)
    # Another browser (another user's session, or none at all) cannot use the nonce.
    for other in (Browser(base), None):
        if other is None:
            other = Browser(base)
            login(other, authorize_path(), "bob")
        status, _, headers = other.request("POST", "/oauth/authorize",
                                              form={"nonce": nonce, "decision": "approve"})
        assert status == 400 and "Location" not in headers
    # The nonce was consumed by the forged attempt: the real user must start again.
    status, _, _ = b.request("POST", "/oauth/authorize",
                             form={"nonce": nonce, "decision": "approve"})
    assert status == 400
    status, page, _ = b.request("GET", authorize_path())
    good = nonce_of(page)
    assert consent(b, page)["code"]
    status, _, _ = b.request("POST", "/oauth/authorize",
                             form={"nonce": good, "decision": "approve"})
    assert status == 400


def test_login_refusals(base: str) -> None:
    b = Browser(base)
    register(b)
    status, page, _ = b.request("POST", "/login", form={
        "user": "alice", "password": "wrong", "next": authorize_path()})
    assert status == 401 and "wrong password" in page
    status, _, headers = b.request("POST", "/login", form={
        "user": "alice", "password": USERS["alice"][0], "next": "https://evil.example/"})
    target = urllib.parse.urlsplit(headers["Location"])
    assert status == 302 and target.path == "/oauth/authorize"
    assert target.netloc in ("", urllib.parse.urlsplit(base).netloc)


def test_token_endpoint_errors_and_transport(base: str) -> None:
    b = Browser(base)
    client = register(b)
    code = code_for(b)
    status, body, headers = exchange(b, {**client, "client_secret": "cs." + "A" * 43}, code)
    assert status == 401 and body["error"] == "invalid_client"
    assert headers["WWW-Authenticate"] == 'Basic realm="claimport"'
    status, body, _ = token(b, client, {"grant_type": "password"})
    assert body["error"] == "unsupported_grant_type"
    status, body, headers = token(b, client, {"grant_type": "authorization_code", "code": code},
                                  https=False)
    assert status == 400 and "HTTPS" in body["error_description"]
    assert headers["Cache-Control"] == "no-store"


def test_revoke_and_introspect(base: str) -> None:
    b = Browser(base)
    client = register(b)
    tokens = exchange(b, client, code_for(b))[1]
    pair = f"{client['client_id']}:{client['client_secret']}".encode()
    auth = {"Authorization": "Basic " + base64.b64encode(pair).decode()}
    status, text, _ = b.request("POST", "/oauth/introspect", headers=auth,
                                form={"token": tokens["access_token"]})
    info = json.loads(text)
    assert status == 200 and info["active"] is True and info["sub"] == "org_acme"
    status, text, _ = b.request("POST", "/oauth/revoke", headers=auth,
                                form={"token": tokens["refresh_token"]})
    assert (status, text) == (200, "{}")
    assert api(b, tokens["access_token"])[0] == 401
    status, text, _ = b.request("POST", "/oauth/introspect", headers=auth,
                                form={"token": tokens["access_token"]})
    assert json.loads(text) == {"active": False}


def test_client_registration_is_admin_only_and_validated(base: str) -> None:
    b = Browser(base)
    status, _, _ = b.request("POST", "/settings/oauth-clients",
                             json_body={"client_id": "x", "redirect_uris": [REDIRECT]})
    assert status == 403
    status, text, _ = b.request("POST", "/settings/oauth-clients", headers={"X-Admin-Token": ADMIN},
                                json_body={"client_id": "x", "redirect_uris": ["http://x.example/"],
                                           "permissions": ["Read Claims"]})
    assert status == 400 and json.loads(text)["error"] == "bad_redirect_uri"
    public = register(b, client_id="spa", type="public")
    assert public["client_secret"] is None and public["client_type"] == "public"
