"""The OAuth engine through the Python binding: the whole flow, every error path the
binding adds, host stores (same results as MemoryOAuthStore; failing stores), wrong
types, secrets absent from repr, threads."""

from __future__ import annotations

import json
import logging
import threading
import urllib.parse
from typing import Any, Callable, List, Optional

import pytest

import portcullis
from conftest import NOW, PEPPER
from oauth_helpers import REDIRECT, VERIFIER, DictStore, Setup, basic, query_params, setup


@pytest.fixture(params=["memory", "host"])
def env(request: pytest.FixtureRequest, policy: portcullis.Policy) -> Setup:
    store: Any = portcullis.MemoryOAuthStore() if request.param == "memory" else DictStore()
    return setup(policy, store)


# -- the whole flow, on both kinds of store --------------------------------------------


def test_full_flow_code_token_api_refresh_reuse(env: Setup) -> None:
    code = env.code()
    assert code.startswith("ac.")
    r = env.exchange(code)
    assert r.status == 200
    assert r.header("cache-control") == "no-store" and r.header("Pragma") == "no-cache"
    assert ("Content-Type", "application/json") in r.headers
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert "scope" not in body  # granted exactly what was asked
    access, refresh = body["access_token"], body["refresh_token"]

    d = env.api(access, NOW + 10)
    assert d.allowed and d.owner == "user_7"
    assert d.scopes == ["claims:read", "claims:write"]
    assert d.record is not None and d.record.kind == "at" and d.record.name == "webapp"
    assert env.api(access, NOW + 10, "DELETE", "/v1/claims/7").status == 403
    assert env.api(access, NOW + 3600).reason == "access_token_expired"

    claims = env.verifier.verify(access, now=NOW + 1)
    assert (claims.subject, claims.client_id, claims.issued_at) == ("user_7", "webapp", NOW)
    assert claims.expires_at == NOW + 3600

    # Refresh rotates; the old refresh token is then reuse and revokes the family.
    r2 = env.refresh(refresh, NOW + 100)
    assert r2.status == 200, r2.body
    new_access, new_refresh = r2.json()["access_token"], r2.json()["refresh_token"]
    assert new_refresh != refresh and env.api(new_access, NOW + 110).allowed
    reuse = env.refresh(refresh, NOW + 200)
    assert (reuse.status, reuse.json()["error"]) == (400, "invalid_grant")
    assert env.api(new_access, NOW + 210).reason == "access_token_revoked"
    assert env.api(access, NOW + 210).reason == "access_token_revoked"
    assert env.verifier.is_family_revoked(claims.family)
    assert env.store.is_family_revoked(claims.family)
    assert env.refresh(new_refresh, NOW + 300).json()["error"] == "invalid_grant"


def test_code_reuse_is_refused_and_revokes_the_family(env: Setup) -> None:
    code = env.code()
    first = env.exchange(code)
    assert first.status == 200
    again = env.exchange(code)
    assert (again.status, again.json()["error"]) == (400, "invalid_grant")
    assert env.api(first.json()["access_token"], NOW + 1).reason == "access_token_revoked"


def test_refresh_may_narrow_scope_only(env: Setup) -> None:
    refresh = env.exchange(env.code()).json()["refresh_token"]
    wider = env.refresh(refresh, scope="orders:read")
    assert wider.json()["error"] == "invalid_scope"
    narrow = env.refresh(refresh, scope="claims:read")
    assert narrow.status == 200
    assert env.api(narrow.json()["access_token"]).scopes == ["claims:read"]


def test_pkce_downgrade_and_wrong_verifier_are_refused(env: Setup) -> None:
    wrong = env.exchange(env.code(), code_verifier="x" * 43)
    assert wrong.json() == {"error": "invalid_grant",
                            "error_description": "code_verifier does not match"}
    # A code issued without a challenge (confidential client, PKCE made optional) with
    # a verifier sent anyway: the downgrade attack.
    relaxed = portcullis.OAuthServer(env.policy, env.verifier,
                                     portcullis.OAuthConfig(require_pkce_for_confidential=False))
    outcome = relaxed.authorize(
        env.authorize_query(code_challenge=None, code_challenge_method=None), env.store)
    assert outcome.kind == "valid" and outcome.code_challenge_method is None
    code = query_params(relaxed.approve(outcome, "user_7", env.store, now=NOW))["code"]
    body = urllib.parse.urlencode({"grant_type": "authorization_code", "code": code,
                                   "redirect_uri": REDIRECT, "code_verifier": VERIFIER})
    r = relaxed.token(env.auth, body, env.store, now=NOW)
    assert r.json()["error"] == "invalid_grant"
    assert "without a challenge" in r.json()["error_description"]


def test_authorize_outcomes(env: Setup) -> None:
    valid = env.server.authorize("?" + env.authorize_query(scope="claims:read full_access"),
                                 env.store)
    assert valid.kind == "valid" and valid.error is None and valid.location is None
    assert (valid.client_id, valid.redirect_uri, valid.state) == ("webapp", REDIRECT, "s1")
    assert valid.scopes == ["claims:read", "claims:write", "orders:read"]
    assert valid.scope_narrowed and valid.code_challenge_method == "S256"
    assert valid.client is not None and valid.client.client_type == "confidential"

    redirect = env.server.authorize(env.authorize_query(response_type="token"), env.store)
    assert redirect.kind == "redirect" and redirect.error == "unsupported_response_type"
    assert redirect.location is not None
    assert query_params(redirect.location)["state"] == "s1"
    assert redirect.scopes == [] and redirect.client_id is None

    for bad in (env.authorize_query(redirect_uri=REDIRECT + "/"),
                env.authorize_query(client_id="nobody"),
                env.authorize_query() + "&client_id=webapp",
                b"client_id=%ff%fe"):
        shown = env.server.authorize(bad, env.store)
        assert shown.kind == "show_error" and shown.location is None
        assert shown.error == "invalid_request" and shown.description
    # Raw bytes that are not UTF-8.
    assert env.server.authorize(b"client_id=\xff", env.store).kind == "show_error"


def test_approve_deny_and_error_redirects(env: Setup) -> None:
    outcome = env.server.authorize(env.authorize_query(), env.store)
    denied = query_params(env.server.deny(outcome))
    assert denied["error"] == "access_denied" and denied["state"] == "s1"
    failed = query_params(env.server.error_redirect(outcome, "temporarily_unavailable"))
    assert failed["error"] == "temporarily_unavailable"
    for code in ("made_up", "invalid_grant", "invalid_client", "", "Access_Denied"):
        with pytest.raises(portcullis.OAuthError) as info:
            env.server.error_redirect(outcome, code)
        assert info.value.code == "invalid_request"
    for code in ("invalid_request", "unauthorized_client", "unsupported_response_type",
                 "invalid_scope", "server_error"):
        assert query_params(env.server.error_redirect(outcome, code))["error"] == code

    # Consent narrowed to one scope: the token says so.
    location = env.server.approve(outcome, "user_7", env.store, scopes=["claims:read"], now=NOW)
    r = env.exchange(query_params(location)["code"])
    assert r.json()["scope"] == "claims:read"

    with pytest.raises(portcullis.OAuthError) as info:
        env.server.approve(outcome, "user_7", env.store, scopes=["orders:read"], now=NOW)
    assert info.value.code == "access_denied"
    with pytest.raises(portcullis.OAuthError) as info:
        env.server.approve(outcome, "user_7", env.store, scopes=[], now=NOW)
    assert info.value.code == "access_denied"
    with pytest.raises(portcullis.OAuthError) as info:
        env.server.approve(outcome, "user_7", env.store, scopes=["no:such"], now=NOW)
    assert info.value.code == "invalid_scope"
    with pytest.raises(portcullis.OAuthError) as info:
        env.server.approve(outcome, "", env.store, now=NOW)
    assert (info.value.code, info.value.description) == (
        "invalid_request", "The subject must be 1-255 bytes")

    not_valid = env.server.authorize(env.authorize_query(client_id="nobody"), env.store)
    calls: List[Callable[[], str]] = [
        lambda: env.server.approve(not_valid, "u", env.store),
        lambda: env.server.deny(not_valid),
        lambda: env.server.error_redirect(not_valid, "server_error"),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="only a \"valid\""):
            call()


def test_token_endpoint_errors(env: Setup) -> None:
    code = env.code()
    no_auth = env.server.token(None, "grant_type=authorization_code&code=" + code,
                               env.store, now=NOW)
    assert (no_auth.status, no_auth.json()["error"]) == (401, "invalid_client")
    wrong = env.server.token(basic("webapp", "cs." + "A" * 43), "grant_type=x", env.store)
    assert wrong.status == 401 and wrong.header("WWW-Authenticate") == 'Basic realm="claimport"'
    assert env.server.token(env.auth, "grant_type=password", env.store).json()["error"] == \
        "unsupported_grant_type"
    assert env.server.token(env.auth, "", env.store).json()["error"] == "invalid_request"
    assert env.server.token(env.auth, b"\xff\xfe", env.store).json()["error"] == \
        "invalid_request"
    assert env.server.token("Basic \xe9", "grant_type=x", env.store).status == 401
    assert env.server.token(b"Basic \xff", "grant_type=x", env.store).status == 401
    bad_uri = env.exchange(code, redirect_uri=REDIRECT + "/x")
    assert bad_uri.json()["error"] == "invalid_grant"
    expired = env.exchange(env.code(), now=NOW + 600)
    assert expired.json()["error"] == "invalid_grant"


def test_revoke_and_introspect(env: Setup) -> None:
    tokens = env.exchange(env.code()).json()
    body = urllib.parse.urlencode({"token": tokens["access_token"]})
    live = env.server.introspect(env.auth, body, env.store, now=NOW + 5)
    assert live.status == 200 and live.json()["active"] is True
    assert live.json()["sub"] == "user_7" and live.json()["client_id"] == "webapp"
    refresh_info = env.server.introspect(
        env.auth, urllib.parse.urlencode({"token": tokens["refresh_token"]}), env.store,
        now=NOW + 5)
    assert refresh_info.json()["token_type"] == "refresh_token"
    unknown = env.server.introspect(env.auth, "token=nonsense", env.store, now=NOW)
    assert unknown.json() == {"active": False}

    revoked = env.server.revoke(env.auth, urllib.parse.urlencode(
        {"token": tokens["refresh_token"], "token_type_hint": "refresh_token"}),
        env.store, now=NOW + 6)
    assert (revoked.status, revoked.body) == (200, "{}")
    assert env.api(tokens["access_token"], NOW + 7).reason == "access_token_revoked"
    assert env.server.introspect(env.auth, body, env.store, now=NOW + 7).json() == \
        {"active": False}
    assert env.server.revoke(env.auth, "token=x&token_type_hint=id_token", env.store).json()[
        "error"] == "unsupported_token_type"
    assert env.server.revoke(None, "token=x", env.store).status == 401


def test_a_wrong_verifier_does_not_burn_the_code(env: Setup) -> None:
    code = env.code()
    assert env.exchange(code, code_verifier="x" * 43).json()["error"] == "invalid_grant"
    first = env.exchange(code, now=NOW + 1)
    assert first.status == 200
    # Single use stays strict for correct attempts; the replay revokes the grant.
    assert env.exchange(code, now=NOW + 2).json()["error"] == "invalid_grant"
    assert env.api(first.json()["access_token"], NOW + 3).reason == "access_token_revoked"


def test_introspection_refuses_a_public_client_id_alone(env: Setup) -> None:
    spa = portcullis.Client.public("spa", ["https://spa.example/cb"], ["claims:read"])
    env.store.add_client(spa)
    tokens = env.exchange(env.code()).json()
    body = urllib.parse.urlencode({"token": tokens["access_token"], "client_id": "spa"})
    r = env.server.introspect(None, body, env.store, now=NOW + 1)
    assert (r.status, r.json()["error"]) == (401, "invalid_client")
    assert "active" not in r.json()


def test_revoking_another_clients_token_is_refused_and_it_stays_valid(env: Setup) -> None:
    other, secret = portcullis.Client.confidential(
        "partner", ["https://partner.example/cb"], ["claims:read"])
    env.store.add_client(other)
    tokens = env.exchange(env.code()).json()
    for token in (tokens["access_token"], tokens["refresh_token"]):
        r = env.server.revoke(basic("partner", secret), urllib.parse.urlencode(
            {"token": token}), env.store, now=NOW + 1)
        assert (r.status, r.json()["error"]) == (400, "unauthorized_client")
        looked = env.server.introspect(basic("partner", secret), urllib.parse.urlencode(
            {"token": token}), env.store, now=NOW + 1)
        assert looked.json() == {"active": False}
    assert env.api(tokens["access_token"], NOW + 2).allowed
    assert env.refresh(tokens["refresh_token"], NOW + 2).status == 200


def test_revoke_family_and_verifier_revocations(env: Setup) -> None:
    access = env.exchange(env.code()).json()["access_token"]
    family = env.verifier.verify(access, now=NOW).family
    env.server.revoke_family(family, env.store, now=NOW)
    assert env.api(access).reason == "access_token_revoked"
    assert env.verifier.family_count == 1
    env.verifier.forget_family(family)
    assert env.api(access).allowed and env.verifier.family_count == 0
    env.verifier.set_epoch(NOW + 1)
    assert env.verifier.epoch == NOW + 1 and env.api(access).reason == "access_token_revoked"
    env.verifier.set_epoch(NOW)  # never lowers
    assert env.verifier.epoch == NOW + 1
    with pytest.raises(portcullis.MalformedKeyError):
        env.verifier.revoke_family("short")
    with pytest.raises(portcullis.MalformedKeyError):
        env.server.revoke_family("short", env.store)


# -- a Python store gives the same answers as the memory store --------------------------


def test_host_store_answers_like_the_memory_store(policy: portcullis.Policy) -> None:
    def run(store: Any) -> List[Any]:
        s = setup(policy, store)
        out: List[Any] = []
        code = s.code()
        r = s.exchange(code)
        out.append((r.status, sorted(r.json())))
        out.append(s.exchange(code).json())
        s2 = s.code(scope="claims:read")
        tokens = s.exchange(s2).json()
        r2 = s.refresh(tokens["refresh_token"], NOW + 10)
        out.append((r2.status, sorted(r2.json())))
        out.append(s.refresh(tokens["refresh_token"], NOW + 20).json())
        out.append(s.refresh(r2.json()["refresh_token"], NOW + 30).json())
        out.append(s.api(r2.json()["access_token"], NOW + 40).reason)
        out.append(s.server.introspect(s.auth, "token=" + tokens["access_token"], s.store,
                                       now=NOW + 50).json())
        return out

    memory, host = run(portcullis.MemoryOAuthStore()), run(DictStore())
    assert memory == host
    assert host[1]["error"] == "invalid_grant" and host[5] == "access_token_revoked"


def test_host_store_receives_json_records_and_32_byte_hashes(policy: portcullis.Policy) -> None:
    store = DictStore()
    s = setup(policy, store)
    code = s.code()
    (code_hash, (text, used)), = store.codes.items()
    assert code_hash == portcullis.oauth_token_hash(code) and not used
    record = json.loads(text)
    assert record["client_id"] == "webapp" and record["subject"] == "user_7"
    assert record["scope"] == "claims:read claims:write"
    assert record["challenge"]["method"] == "S256" and code not in text
    tokens = s.exchange(code).json()
    assert portcullis.oauth_token_hash(tokens["refresh_token"]) in store.refresh_tokens
    assert all(tokens["refresh_token"] not in t for t in store.refresh_tokens.values())
    assert store.calls[:3] == ["client", "put_code", "client"]


class Failing(DictStore):
    """A DictStore whose `method` raises (or returns `value` when given)."""

    SENTINEL = object()

    def __init__(self, method: str, value: Any = SENTINEL) -> None:
        super().__init__()
        self.failing, self.value = method, value

    def __getattribute__(self, name: str) -> Any:
        if name == object.__getattribute__(self, "failing"):
            value = object.__getattribute__(self, "value")
            if value is Failing.SENTINEL:
                def boom(*args: Any) -> Any:
                    raise RuntimeError("database down: secret-free message")
                return boom
            return lambda *args: value
        return object.__getattribute__(self, name)


@pytest.mark.parametrize("method,value", [
    ("consume_code", Failing.SENTINEL),
    ("consume_code", ("maybe", {})),
    ("consume_code", ("first", {"client_id": 1})),
    ("consume_code", 42),
    ("put_refresh", Failing.SENTINEL),
])
def test_failing_store_at_code_exchange_is_server_error(
    policy: portcullis.Policy, method: str, value: Any, caplog: pytest.LogCaptureFixture
) -> None:
    store = Failing(method, value)
    s = setup(policy, store)
    code = s.code()
    with caplog.at_level(logging.WARNING, logger="portcullis.oauth"):
        r = s.exchange(code)
    assert (r.status, r.json()["error"]) == (500, "server_error")
    assert f"{method}() failed" in caplog.text
    assert code not in caplog.text and s.secret not in caplog.text


def test_store_failure_is_logged_at_error_not_warning(
    policy: portcullis.Policy, caplog: pytest.LogCaptureFixture
) -> None:
    # A store failure fails the request (500): an error for the host's alerting.
    s = setup(policy, Failing("consume_code"))
    code = s.code()
    with caplog.at_level(logging.DEBUG, logger="portcullis.oauth"):
        assert s.exchange(code).status == 500
    levels = [r.levelno for r in caplog.records if r.name == "portcullis.oauth"]
    assert levels and all(level == logging.ERROR for level in levels), levels


@pytest.mark.parametrize("method,value", [
    ("refresh", Failing.SENTINEL),
    ("refresh", 7),
    ("rotate", Failing.SENTINEL),
    ("rotate", 1),  # not a bool
    ("is_family_revoked", Failing.SENTINEL),
    ("is_family_revoked", "no"),
])
def test_failing_store_at_refresh_is_server_error(
    policy: portcullis.Policy, method: str, value: Any
) -> None:
    store = DictStore()
    s = setup(policy, store)
    refresh = s.exchange(s.code()).json()["refresh_token"]
    s.store = Failing(method, value)
    s.store.__dict__.update(
        {k: v for k, v in store.__dict__.items() if k not in ("failing", "value")})
    r = s.refresh(refresh, NOW + 5)
    assert (r.status, r.json()["error"]) == (500, "server_error")


@pytest.mark.parametrize("value", [Failing.SENTINEL, 12, "{not json", {"id": "x"}])
def test_failing_client_lookup(policy: portcullis.Policy, value: Any) -> None:
    s = setup(policy, DictStore())
    s.store = Failing("client", value)
    outcome = s.server.authorize(s.authorize_query(), s.store)
    assert outcome.kind == "show_error" and outcome.error == "server_error"
    r = s.server.token(s.auth, "grant_type=authorization_code&code=x", s.store)
    assert (r.status, r.json()["error"]) == (500, "server_error")


def test_failing_put_code_makes_approve_raise_server_error(policy: portcullis.Policy) -> None:
    s = setup(policy, DictStore())
    outcome = s.server.authorize(s.authorize_query(), s.store)
    with pytest.raises(portcullis.OAuthError) as info:
        s.server.approve(outcome, "user_7", Failing("put_code"), now=NOW)
    assert info.value.code == "server_error"
    assert query_params(s.server.error_redirect(outcome, "server_error"))["error"] == \
        "server_error"


def test_a_keyboard_interrupt_in_the_store_is_raised_not_swallowed(
        policy: portcullis.Policy) -> None:
    """An `Exception` from the store is a 500; a `KeyboardInterrupt` (a BaseException
    only) reaches the caller once the endpoint has finished, whichever endpoint it is."""
    s = setup(policy, DictStore())

    class Interrupting(DictStore):
        def client(self, client_id: str) -> Optional[str]:
            raise KeyboardInterrupt

    class Failing(DictStore):
        def client(self, client_id: str) -> Optional[str]:
            raise RuntimeError("database down")

    body = "grant_type=authorization_code&code=x"
    assert s.server.token(s.auth, body, Failing()).status == 500
    with pytest.raises(KeyboardInterrupt):
        s.server.token(s.auth, body, Interrupting())
    with pytest.raises(KeyboardInterrupt):
        s.server.revoke(s.auth, "token=x", Interrupting())
    with pytest.raises(KeyboardInterrupt):
        s.server.authorize("response_type=code&client_id=web", Interrupting())
    # The store stays usable afterwards.
    assert s.server.token(s.auth, body, s.store).status == 400


# -- wrong types and values ----------------------------------------------------------------


def test_wrong_types_are_type_errors(env: Setup) -> None:
    q = env.authorize_query()
    with pytest.raises(TypeError, match="OAuthStore"):
        env.server.authorize(q, 42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="no method put_code"):
        outcome = env.server.authorize(q, env.store)
        env.server.approve(outcome, "u", object())  # type: ignore[arg-type]

    class OnlyClients:
        def client(self, client_id: str) -> None:
            return None

    assert env.server.authorize(q, OnlyClients()).kind == "show_error"
    with pytest.raises(TypeError, match="no method put_code"):
        env.server.token(env.auth, "grant_type=x", OnlyClients())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        env.server.token(env.auth, 123, env.store)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        env.server.authorize(None, env.store)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        env.server.approve("valid", "u", env.store)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        env.server.approve(env.server.authorize(q, env.store), "u", env.store,
                           scopes="claims:read")
    with pytest.raises(TypeError):
        portcullis.Client.public("c", "https://a.example/cb", ["x"])
    with pytest.raises(TypeError):
        portcullis.OAuthConfig(access_ttl="1h")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        portcullis.OAuthConfig(access_ttl=0)
    with pytest.raises(TypeError):
        portcullis.AccessVerifier(env.policy, "k1")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        portcullis.MemoryOAuthStore().add_client(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        env.verifier.verify(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        portcullis.PkceChallenge("S512", "x")


def test_access_key_and_client_errors(policy: portcullis.Policy) -> None:
    with pytest.raises(portcullis.ConfigurationError) as info:
        portcullis.AccessKeys("k1", b"short")
    assert info.value.code == "access_key_too_short" and isinstance(info.value, ValueError)
    keys = portcullis.AccessKeys("k1", b"a" * 32)
    for call, code in ((lambda: portcullis.AccessKeys("bad id", b"a" * 32), "bad_access_key_id"),
                       (lambda: keys.add("k1", b"b" * 32), "duplicate_access_key"),
                       (lambda: keys.set_primary("k9"), "unknown_access_key"),
                       (lambda: keys.remove("k1"), "unknown_access_key")):
        with pytest.raises(portcullis.ConfigurationError) as info:
            call()
        assert info.value.code == code
    keys.add("k2", b"b" * 32)
    keys.set_primary("k2")
    keys.remove("k1")
    assert (keys.ids, keys.primary_id) == (["k2"], "k2")

    with pytest.raises(portcullis.ClientError) as cinfo:
        portcullis.Client.public("spa", ["http://app.example/cb"], ["claims:read"])
    assert (cinfo.value.code, cinfo.value.index) == ("bad_redirect_uri", 0)
    with pytest.raises(portcullis.ClientError) as cinfo:
        portcullis.Client.public("a:b", ["https://app.example/cb"], [])
    assert cinfo.value.code == "bad_id" and isinstance(cinfo.value, ValueError)
    with pytest.raises(portcullis.ClientError) as cinfo:
        portcullis.Client.confidential("c", [], [])
    assert cinfo.value.code == "no_redirect_uri"
    public = portcullis.Client.public("spa", ["https://app.example/cb"], ["claims:read"])
    forged = dict(public.to_dict(), secret_hash="sha256$AAAA")
    with pytest.raises(portcullis.ClientError) as cinfo:
        portcullis.Client.from_dict(forged)
    assert cinfo.value.code == "secret"
    with pytest.raises(portcullis.ClientError) as cinfo:
        portcullis.Client.from_json("{")
    assert cinfo.value.code == "bad_json"

    other = portcullis.Policy.from_toml('[service]\nrealm = "x"\n[[scopes]]\nname = "a:b"\n'
                                        'description = "A"\n')
    foreign = portcullis.AccessVerifier(other, keys)
    with pytest.raises(portcullis.ConfigurationError) as info:
        portcullis.OAuthServer(policy, foreign)
    assert info.value.code == "catalog_mismatch"
    with pytest.raises(portcullis.ConfigurationError):
        portcullis.Checker(policy, portcullis.Peppers("p1", bytes(32)), access_tokens=foreign)


def test_clients_round_trip_and_check_secrets() -> None:
    client, secret = portcullis.Client.confidential(
        "webapp", ["https://app.example/cb"], ["claims:read"])
    assert secret.startswith("cs.") and client.check_secret(secret)
    assert not client.check_secret(secret[:-1] + ("A" if secret[-1] != "A" else "B"))
    assert portcullis.Client.from_json(client.to_json()) == client
    assert portcullis.Client.from_dict(client.to_dict()) == client
    assert client.to_dict()["secret_hash"].startswith("sha256$")
    assert client.grant_types == ["authorization_code", "refresh_token"]
    assert client.allows_grant("refresh_token") and not client.allows_grant("password")
    native = portcullis.Client.public("cli", ["http://127.0.0.1/cb"], ["claims:read"],
                                      native=True)
    assert native.native and native.client_type == "public"
    store = portcullis.MemoryOAuthStore()
    store.add_client(client.to_json())
    store.add_client(native.to_dict())
    assert store.client("webapp") == client and store.client("nope") is None


def test_config_defaults_and_keywords() -> None:
    c = portcullis.OAuthConfig()
    assert (c.code_ttl, c.access_ttl, c.refresh_grace) == (600, 3600, 0)
    assert (c.refresh_idle_ttl, c.refresh_max_ttl) == (30 * 86400, 90 * 86400)
    assert not c.allow_plain_pkce and c.require_pkce_for_confidential
    assert not c.allow_body_credentials and c.default_scope is None
    from datetime import timedelta
    d = portcullis.OAuthConfig(code_ttl=timedelta(hours=1), access_ttl=900, refresh_grace=5,
                               allow_plain_pkce=True, default_scope="claims:read")
    assert (d.code_ttl, d.effective_code_ttl, d.access_ttl) == (3600, 600, 900)
    assert d == portcullis.OAuthConfig(code_ttl=3600, access_ttl=900, refresh_grace=5,
                                       allow_plain_pkce=True, default_scope="claims:read")
    assert "access_ttl=900" in repr(d)


def test_config_changes_the_engine(policy: portcullis.Policy) -> None:
    s = setup(policy, portcullis.MemoryOAuthStore(),
              portcullis.OAuthConfig(access_ttl=60, allow_body_credentials=True,
                                     refresh_grace=30))
    assert s.server.config.access_ttl == 60
    tokens = s.exchange(s.code()).json()
    assert tokens["expires_in"] == 60
    assert s.api(tokens["access_token"], NOW + 60).reason == "access_token_expired"
    body = urllib.parse.urlencode({"grant_type": "refresh_token", "client_id": "webapp",
                                   "client_secret": s.secret,
                                   "refresh_token": tokens["refresh_token"]})
    assert s.server.token(None, body, s.store, now=NOW + 1).status == 200
    # Within the grace window the old token may rotate once more.
    assert s.refresh(tokens["refresh_token"], NOW + 10).status == 200


@pytest.mark.parametrize("kind", ["memory", "host"])
def test_grace_redeems_a_rotated_token_once_and_a_second_time_revokes(
    policy: portcullis.Policy, kind: str
) -> None:
    store: Any = portcullis.MemoryOAuthStore() if kind == "memory" else DictStore()
    s = setup(policy, store, portcullis.OAuthConfig(refresh_grace=30))
    tokens = s.exchange(s.code()).json()
    first = s.refresh(tokens["refresh_token"], NOW + 10)
    retry = s.refresh(tokens["refresh_token"], NOW + 12)
    assert (first.status, retry.status) == (200, 200)
    third = s.refresh(tokens["refresh_token"], NOW + 14)  # still inside the window
    assert (third.status, third.json()["error"]) == (400, "invalid_grant")
    for r in (first, retry):
        assert s.refresh(r.json()["refresh_token"], NOW + 15).json()["error"] == "invalid_grant"
        assert s.api(r.json()["access_token"], NOW + 15).reason == "access_token_revoked"


def test_checker_with_access_tokens(policy: portcullis.Policy, env: Setup) -> None:
    plain = portcullis.Checker(policy, portcullis.Peppers("p1", PEPPER))
    assert plain.access_tokens is None
    access = env.exchange(env.code()).json()["access_token"]
    refused = plain.check("GET", "/v1/claims", lookup=portcullis.MemoryStore(),
                          authorization=f"Bearer {access}", https=True, now=NOW)
    assert refused.status == 401
    attached = plain.with_access_tokens(env.verifier)
    assert attached.access_tokens is not None and plain.access_tokens is None
    ok = attached.check("GET", "/v1/claims", lookup=portcullis.MemoryStore(),
                        authorization=f"Bearer {access}", https=True, now=NOW)
    assert ok.allowed
    # A revocation through the checker's verifier reaches the server's (same object).
    fam = env.verifier.verify(access, now=NOW).family
    verifier = attached.access_tokens
    assert verifier is not None
    verifier.revoke_family(fam)
    assert env.api(access).reason == "access_token_revoked"
    # API keys still work on a checker that accepts access tokens.
    issued = env.checker.issue("k", "org_42", ["claims:read"], now=NOW)
    mem = portcullis.MemoryStore()
    mem.insert(issued.record)
    assert env.checker.check("GET", "/v1/claims", lookup=mem, https=True, now=NOW,
                             authorization=f"Bearer {issued.key}").allowed


# -- secrets -------------------------------------------------------------------------------


def test_secrets_are_absent_from_repr(env: Setup) -> None:
    code = env.code()
    r = env.exchange(code)
    tokens = r.json()
    secrets = [env.secret, code, tokens["access_token"], tokens["refresh_token"]]
    keys = portcullis.AccessKeys("k1", b"S" * 32)
    objects: List[Any] = [r, env.server, env.verifier, env.checker, env.store, keys,
                          env.store.client("webapp") if not isinstance(env.store, DictStore)
                          else portcullis.Client.from_json(env.store.clients["webapp"]),
                          env.server.authorize(env.authorize_query(), env.store),
                          env.server.config, env.api(tokens["access_token"])]
    for obj in objects:
        text = repr(obj) + str(obj)
        for secret in secrets:
            assert secret not in text, type(obj)
        assert "SSSS" not in text
    assert "[REDACTED]" in repr(r) and "[REDACTED]" in repr(keys)
    # Errors carry no token either.
    with pytest.raises(portcullis.AccessTokenError) as info:
        env.verifier.verify(tokens["access_token"] + "x", now=NOW)
    assert tokens["access_token"] not in str(info.value)


# -- threads -------------------------------------------------------------------------------


def run_threads(n: int, work: Callable[[int], Any]) -> List[Any]:
    results: List[Any] = [None] * n
    errors: List[BaseException] = []
    barrier = threading.Barrier(n)

    def target(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


def test_concurrent_code_exchange_succeeds_once(env: Setup) -> None:
    code = env.code()
    statuses = run_threads(8, lambda i: env.exchange(code).status)
    assert sorted(statuses) == [200] + [400] * 7


def test_concurrent_refresh_rotates_once(env: Setup) -> None:
    refresh = env.exchange(env.code()).json()["refresh_token"]
    statuses = run_threads(8, lambda i: env.refresh(refresh, NOW + 1).status)
    assert statuses.count(200) == 1 and statuses.count(400) == 7


def test_many_flows_in_threads(env: Setup) -> None:
    def flow(i: int) -> bool:
        tokens = env.exchange(env.code()).json()
        d = env.api(tokens["access_token"], NOW + 1)
        r = env.refresh(tokens["refresh_token"], NOW + 2)
        return d.allowed and r.status == 200

    assert all(run_threads(8, flow))
