"""Token, revocation and introspection bodies read with their Content-Type through the
Python binding (issue #16): the product's documented JSON requests, body credentials
from the policy's [oauth] section, the documented refresh, and the JSON edge cases."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Tuple

import pytest

import portcullis
from conftest import NOW
from oauth_helpers import VERIFIER, DictStore, Setup, query_params, setup

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
SPA_CB = "https://spa.example/cb"

# The product documentation's requests, as published.
DOC_EXCHANGE = ('{"grant_type": "authorization_code", "code": "AUTHORIZATION_CODE", '
                '"client_id": "YOUR_CLIENT_ID", "client_secret": "YOUR_CLIENT_SECRET"}')
DOC_REFRESH = ('{"grant_type": "refresh_token", "refresh_token": "REFRESH_TOKEN", '
               '"client_id": "YOUR_CLIENT_ID"}')


@pytest.fixture(params=["memory", "host"])
def env(request: pytest.FixtureRequest, policy: portcullis.Policy) -> Setup:
    """No config: the engine takes the product policy's [oauth] section."""
    store: Any = portcullis.MemoryOAuthStore() if request.param == "memory" else DictStore()
    return setup(policy, store)


def documented(template: str, **values: str) -> str:
    """A documented request with its placeholders filled; each must occur in the template."""
    for placeholder, value in values.items():
        assert placeholder in template, (placeholder, template)
        template = template.replace(placeholder, value)
    return template


def exchange_body(env: Setup, code: str) -> str:
    return documented(DOC_EXCHANGE, AUTHORIZATION_CODE=code, YOUR_CLIENT_ID="webapp",
                      YOUR_CLIENT_SECRET=env.secret)


def error_of(r: portcullis.TokenResponse) -> Tuple[int, str, str]:
    body = r.json()
    return r.status, body.get("error", ""), body.get("error_description", "")


def test_the_product_policy_configures_the_engine_when_no_config_is_given(env: Setup) -> None:
    assert env.server.config.allow_body_credentials
    assert not portcullis.OAuthConfig().allow_body_credentials


def test_the_documented_json_code_exchange_succeeds_with_body_credentials(env: Setup) -> None:
    code = env.code()  # with PKCE: the code exchange below adds its verifier
    body = json.loads(exchange_body(env, code))
    body["code_verifier"] = VERIFIER
    r = env.server.token_request(None, JSON, json.dumps(body), env.store, now=NOW)
    assert r.status == 200, r.body
    tokens = r.json()
    assert tokens["access_token"].startswith("at.") and tokens["refresh_token"].startswith("rt.")
    assert env.api(tokens["access_token"], NOW + 1).allowed


def test_the_documented_json_refresh_succeeds_for_a_public_client(env: Setup) -> None:
    spa = portcullis.Client.public("spa", [SPA_CB], ["claims:read"])
    env.store.add_client(spa)
    challenge = portcullis.PkceChallenge.s256(VERIFIER).challenge
    outcome = env.server.authorize(
        f"response_type=code&client_id=spa&scope=claims:read&code_challenge={challenge}"
        "&code_challenge_method=S256", env.store)
    assert outcome.kind == "valid", outcome.description
    code = query_params(env.server.approve(outcome, "user_7", env.store, now=NOW))["code"]
    first = env.server.token_request(None, JSON, json.dumps({
        "grant_type": "authorization_code", "code": code, "client_id": "spa",
        "code_verifier": VERIFIER}), env.store, now=NOW)
    assert first.status == 200, first.body
    refresh = first.json()["refresh_token"]
    body = documented(DOC_REFRESH, REFRESH_TOKEN=refresh, YOUR_CLIENT_ID="spa")
    r = env.server.token_request(None, JSON, body.encode(), env.store, now=NOW + 1)
    assert r.status == 200, r.body
    assert r.json()["refresh_token"] != refresh


def test_a_confidential_client_refreshing_with_client_id_alone_is_told_to_send_its_secret(
    env: Setup
) -> None:
    refresh = env.exchange(env.code()).json()["refresh_token"]
    body = documented(DOC_REFRESH, REFRESH_TOKEN=refresh, YOUR_CLIENT_ID="webapp")
    r = env.server.token_request(None, JSON, body, env.store, now=NOW + 1)
    assert error_of(r) == (401, "invalid_client", "This client must send its client_secret "
                                                  "(HTTP Basic or client_secret in the body)")
    assert r.header("WWW-Authenticate") == 'Basic realm="claimport"'
    assert env.refresh(refresh, NOW + 2).status == 200  # the refused refresh left it alone


def test_basic_and_body_credentials_at_once_are_invalid_request(env: Setup) -> None:
    code = env.code()
    body = json.loads(exchange_body(env, code))
    body["code_verifier"] = VERIFIER
    both = env.server.token_request(env.auth, JSON, json.dumps(body), env.store, now=NOW)
    assert error_of(both)[:2] == (400, "invalid_request")
    assert env.exchange(code).status == 200  # and the code was not consumed


def refused(code: str, secret: str) -> List[Tuple[str, Optional[str], bytes, str]]:
    def fields(**extra: Any) -> Dict[str, Any]:
        return {"grant_type": "authorization_code", "code": code, "client_id": "webapp",
                "client_secret": secret, "code_verifier": VERIFIER, **extra}

    def dumps(**extra: Any) -> bytes:
        return json.dumps(fields(**extra)).encode()

    good = dumps()
    big = dumps(pad="a" * (1024 * 1024))
    return [
        ("nested", JSON, dumps(scope={"a": "b"}), "Every member"),
        ("array", JSON, dumps(scope=["a"]), "Every member"),
        ("number", JSON, dumps(n=5), "Every member"),
        ("null", JSON, dumps(scope=None), "Every member"),
        ("duplicate", JSON, good[:-1] + b', "code": "ac.x"}',
         "A member of the JSON body is repeated"),
        ("1 MiB", JSON, big, "The request body is larger than 64 KiB"),
        ("invalid UTF-8", JSON, good[:-1] + b', "x": "\xff"}', "The request body is not UTF-8"),
        ("JSON as form", FORM, good,
         "The body is JSON but Content-Type is application/x-www-form-urlencoded"),
        ("form as JSON", JSON, b"grant_type=authorization_code&code=" + code.encode(),
         "The body is form-encoded but Content-Type is application/json"),
        ("text/plain", "text/plain", good,
         "Send the body as application/x-www-form-urlencoded or application/json"),
        ("no Content-Type", None, good, "Content-Type is missing"),
    ]


def test_json_edge_cases_are_invalid_request_and_never_consume_the_code(env: Setup) -> None:
    code = env.code()
    for name, content_type, body, description in refused(code, env.secret):
        r = env.server.token_request(None, content_type, body, env.store, now=NOW)
        status, error, text = error_of(r)
        assert (status, error) == (400, "invalid_request"), (name, text)
        assert text.startswith(description), (name, text)
    good = json.loads(exchange_body(env, code))
    good["code_verifier"] = VERIFIER
    r = env.server.token_request(None, b"application/json; charset=utf-8",
                                 json.dumps(good), env.store, now=NOW)
    assert r.status == 200, r.body


def test_revocation_and_introspection_take_json_bodies(env: Setup) -> None:
    access = env.exchange(env.code()).json()["access_token"]
    body = json.dumps({"token": access, "client_id": "webapp", "client_secret": env.secret})
    assert env.server.introspect_request(None, JSON, body, env.store, now=NOW).json()["active"]
    for name, content_type, bad, description in refused(access, env.secret):
        for method in (env.server.introspect_request, env.server.revoke_request):
            status, error, text = error_of(method(None, content_type, bad, env.store, now=NOW))
            assert (status, error) == (400, "invalid_request"), (name, text)
            assert text.startswith(description), (name, text)
    assert env.server.revoke_request(None, JSON, body, env.store, now=NOW).status == 200
    assert not env.server.introspect_request(None, JSON, body, env.store, now=NOW).json()["active"]


def test_a_header_that_is_not_utf8_is_invalid_client_not_an_exception(env: Setup) -> None:
    r = env.server.token_request(b"Basic \xff", JSON, b'{"grant_type": "refresh_token"}',
                                 env.store, now=NOW)
    assert error_of(r)[:2] == (401, "invalid_client")


def test_wrong_argument_types_raise_type_error(env: Setup) -> None:
    bad: Any = 5
    with pytest.raises(TypeError):
        env.server.token_request(None, bad, b"{}", env.store)
    with pytest.raises(TypeError):
        env.server.revoke_request(bad, JSON, b"{}", env.store)
    with pytest.raises(TypeError):
        env.server.introspect_request(None, JSON, bad, env.store)


def test_an_explicit_config_still_refuses_body_credentials_by_default(
    policy: portcullis.Policy
) -> None:
    s = setup(policy, portcullis.MemoryOAuthStore(), portcullis.OAuthConfig())
    body = json.loads(exchange_body(s, s.code()))
    body["code_verifier"] = VERIFIER
    r = s.server.token_request(None, JSON, json.dumps(body), s.store, now=NOW)
    assert error_of(r) == (401, "invalid_client",
                           "Send client credentials with HTTP Basic authentication")
