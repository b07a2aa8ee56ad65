"""tests/vectors/oauth.json through the Python binding: same results as Rust."""

from __future__ import annotations

import hashlib
from typing import Any, Dict

import pytest

import portcullis
from conftest import vectors
from policy_builder import TestPolicy

OAUTH = vectors("oauth")


def policy(name: str = "claimport") -> portcullis.Policy:
    return portcullis.Policy.from_toml(OAUTH["policies"][name])


def keys(primary: str = "k1") -> portcullis.AccessKeys:
    first, *rest = OAUTH["access_keys"]
    k = portcullis.AccessKeys(first["kid"], bytes.fromhex(first["secret_hex"]))
    for entry in rest:
        k.add(entry["kid"], bytes.fromhex(entry["secret_hex"]))
    k.set_primary(primary)
    return k


def test_every_section_is_present_and_not_empty() -> None:
    for section in ("access_keys", "tokens", "verify", "checks", "pkce", "opaque",
                    "token_requests"):
        assert OAUTH[section], section


def other_catalog_policy() -> portcullis.Policy:
    """The catalog of the `other_catalog` token: one more scope in front (oauth_vectors.rs)."""
    return TestPolicy(OAUTH["policies"]["claimport"]).scope_first("admin:all", "Admin").build()


@pytest.mark.parametrize("case", OAUTH["tokens"], ids=lambda c: c["name"])
def test_signing_fixed_claims_gives_the_exact_token(case: Dict[str, Any]) -> None:
    claims = dict(case["claims"])
    # The other_catalog token is signed under a catalog with one more scope in front; its
    # claims name the scopes through that catalog.
    p = other_catalog_policy() if case["name"] == "other_catalog" else policy()
    verifier = portcullis.AccessVerifier(p, keys(case["kid"]))
    assert verifier.sign(portcullis.AccessClaims(**claims)) == case["token"]
    assert verifier.decode(case["token"]).to_dict() == claims
    product = portcullis.AccessVerifier(policy(), keys(case["kid"]))
    if case["name"] == "other_catalog":
        with pytest.raises(portcullis.AccessTokenError) as info:
            product.decode(case["token"])
        assert info.value.code == "access_token_wrong_catalog"
    else:
        assert product.decode(case["token"]).to_dict() == case["claims"]


@pytest.mark.parametrize("case", OAUTH["verify"], ids=lambda c: c["name"])
def test_verify_vectors(case: Dict[str, Any]) -> None:
    verifier = portcullis.AccessVerifier(policy(), keys("k1"))
    for family in case["revoked_families"]:
        verifier.revoke_family(family)
    if case["epoch"] is not None:
        verifier.set_epoch(case["epoch"])
    if case["error"] is None:
        claims = verifier.verify(case["token"], now=case["now"])
        assert claims.to_dict() == case["claims"]
    else:
        with pytest.raises(portcullis.AccessTokenError) as info:
            verifier.verify(case["token"], now=case["now"])
        assert info.value.code == case["error"]
        assert case["token"] not in str(info.value)


@pytest.mark.parametrize("case", OAUTH["checks"], ids=lambda c: c["name"])
def test_check_vectors(case: Dict[str, Any]) -> None:
    p = policy(case["policy"])
    verifier = portcullis.AccessVerifier(p, keys("k1"))
    checker = portcullis.Checker(
        p, portcullis.Peppers("p1", bytes([42] * 32)), access_tokens=verifier
    )
    req = case["request"]
    d = checker.check(
        req["method"],
        req["path"],
        lookup=portcullis.MemoryStore(),
        authorization=req["authorization"],
        query=req["query"],
        https=req["https"],
        now=case["now"],
    )
    e = case["expect"]
    got = {
        "allowed": d.allowed,
        "status": d.status,
        "error": d.error,
        "reason": d.reason,
        "www_authenticate": d.www_authenticate,
        "owner": d.owner,
        "scopes": d.scopes,
        "missing": d.missing,
    }
    assert got == e
    # Two phases decide access tokens in phase one, the same way.
    early = checker.prepare(
        req["method"],
        req["path"],
        authorization=req["authorization"],
        query=req["query"],
        https=req["https"],
        now=case["now"],
    )
    assert isinstance(early, portcullis.Decision)
    assert (early.status, early.reason) == (e["status"], e["reason"])


@pytest.mark.parametrize("case", OAUTH["pkce"], ids=lambda c: c["verifier"][:12])
def test_pkce_vectors(case: Dict[str, Any]) -> None:
    challenge = portcullis.PkceChallenge(case["method"], case["challenge"])
    assert challenge.verify(case["verifier"]) is case["matches"]
    if case["method"] == "S256" and case["matches"]:
        assert portcullis.PkceChallenge.s256(case["verifier"]) == challenge


@pytest.mark.parametrize("case", OAUTH["opaque"], ids=lambda c: c["token"][:3])
def test_opaque_token_hash_vectors(case: Dict[str, Any]) -> None:
    digest = portcullis.oauth_token_hash(case["token"])
    assert digest is not None and digest.hex() == case["sha256_hex"]
    assert hashlib.sha256(case["token"].encode()).hexdigest() == case["sha256_hex"]
    assert portcullis.oauth_token_hash(case["token"][:-1]) is None
    assert portcullis.oauth_token_hash("at." + case["token"][3:]) is None


# -- token_requests: requests with their Content-Type (how to run them: the header of
# crates/portcullis/tests/oauth_vectors.rs) ---------------------------------------------

TOKEN_REQUESTS = OAUTH["token_requests"]


def _fill(text: str, values: Dict[str, str]) -> str:
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text


@pytest.mark.parametrize("case", TOKEN_REQUESTS["cases"], ids=lambda c: c["name"])
def test_token_request_vectors(case: Dict[str, Any]) -> None:
    p = policy()
    verifier = portcullis.AccessVerifier(p, keys("k1"))
    # "policy": no config, so the policy's [oauth] section configures the engine.
    config = None if case["config"] == "policy" else portcullis.OAuthConfig()
    server = portcullis.OAuthServer(p, verifier, config, realm="claimport")
    store = portcullis.MemoryOAuthStore()
    for client in TOKEN_REQUESTS["clients"]:
        store.add_client(portcullis.Client.from_dict(client))
    now = TOKEN_REQUESTS["now"]
    outcome = server.authorize(case["authorize"], store)
    assert outcome.kind == "valid", outcome.description
    location = server.approve(outcome, TOKEN_REQUESTS["subject"], store, now=now)
    values = {"code": location.split("code=")[1].split("&")[0]}
    endpoints = {"token": server.token_request, "revoke": server.revoke_request,
                 "introspect": server.introspect_request}
    for i, step in enumerate(case["steps"]):
        if step.get("body") is not None:
            body = _fill(step["body"], values).encode()
        else:
            body = bytes.fromhex(step["body_hex"])
        if step.get("pad_to"):
            body = body.rjust(step["pad_to"], b" ")
        auth = step["authorization"]
        r = endpoints[step["endpoint"]](None if auth is None else _fill(auth, values),
                                        step["content_type"], body, store, now=now)
        got = r.json()
        expect = step["expect"]
        where = f"{case['name']} step {i}: {r.body}"
        assert r.status == expect["status"], where
        assert got.get("error") == expect["error"], where
        assert got.get("error_description") == expect["error_description"], where
        for needle in expect["contains"]:
            assert needle in r.body, where
        for name in ("access_token", "refresh_token"):
            if isinstance(got.get(name), str):
                values[name] = got[name]
