"""RFC 8414 metadata and RFC 9207 ``iss`` through the Python binding (issue #16 item 5),
and the product's documented authorize URL (no PKCE, no ``state``, item 4)."""

from __future__ import annotations

import json
import urllib.parse
from typing import Dict

import pytest

import portcullis

ISSUER = "https://app.claimport.io"
REDIRECT = "https://partner.example/cb"
ENDPOINTS = {
    "authorization_endpoint": "https://app.claimport.io/oauth/authorize",
    "token_endpoint": "https://api.claimport.io/oauth/token",
    "revocation_endpoint": "https://api.claimport.io/oauth/revoke",
    "introspection_endpoint": "https://api.claimport.io/oauth/introspect",
}
#: The product's documented authorize URL, placeholders filled in, as a browser sends it.
DOCUMENTED = ("client_id={}&redirect_uri=" + urllib.parse.quote(REDIRECT, safe="")
              + "&response_type=code&scope=claims:read%20claims:write")


def server(policy: portcullis.Policy, **config: object) -> portcullis.OAuthServer:
    verifier = portcullis.AccessVerifier(policy, portcullis.AccessKeys("k1", bytes(32)))
    return portcullis.OAuthServer(policy, verifier, portcullis.OAuthConfig(**config))  # type: ignore[arg-type]


def params(url: str) -> Dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def test_metadata_is_built_from_the_configuration_and_the_catalog(
        policy: portcullis.Policy) -> None:
    doc = json.loads(server(policy, issuer=ISSUER).metadata(**ENDPOINTS))
    assert doc["issuer"] == ISSUER
    assert doc["token_endpoint"] == ENDPOINTS["token_endpoint"]
    assert doc["scopes_supported"] == [name for name, _ in policy.scopes]
    assert doc["response_types_supported"] == ["code"]
    assert doc["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["token_endpoint_auth_methods_supported"] == ["client_secret_basic", "none"]
    assert doc["introspection_endpoint_auth_methods_supported"] == ["client_secret_basic"]
    assert doc["authorization_response_iss_parameter_supported"] is True
    relaxed = server(policy, issuer=ISSUER, allow_body_credentials=True, allow_plain_pkce=True)
    doc = json.loads(relaxed.metadata(authorization_endpoint=ENDPOINTS["authorization_endpoint"],
                                      token_endpoint=ENDPOINTS["token_endpoint"]))
    assert doc["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic", "client_secret_post", "none"]
    assert doc["code_challenge_methods_supported"] == ["S256", "plain"]
    assert "revocation_endpoint" not in doc and "introspection_endpoint" not in doc


def test_metadata_without_an_issuer_or_with_a_bad_endpoint_is_a_configuration_error(
        policy: portcullis.Policy) -> None:
    with pytest.raises(portcullis.ConfigurationError) as e:
        server(policy).metadata(**ENDPOINTS)
    assert e.value.code == "no_issuer"
    with pytest.raises(portcullis.ConfigurationError) as e:
        server(policy, issuer=ISSUER).metadata(
            **{**ENDPOINTS, "token_endpoint": "http://api.claimport.io/oauth/token"})
    assert e.value.code == "insecure_endpoint" and "token_endpoint" in str(e.value)


@pytest.mark.parametrize("bad", ["http://app.claimport.io", "https://app.claimport.io?x=1",
                                 "https://app.claimport.io/#f", "app.claimport.io", ""])
def test_a_bad_issuer_is_a_configuration_error_that_is_also_a_value_error(
        policy: portcullis.Policy, bad: str) -> None:
    with pytest.raises(portcullis.ConfigurationError) as e:
        portcullis.OAuthConfig(issuer=bad)
    assert e.value.code == "bad_issuer" and isinstance(e.value, ValueError)
    verifier = portcullis.AccessVerifier(policy, portcullis.AccessKeys("k1", bytes(32)))
    with pytest.raises(portcullis.ConfigurationError):
        portcullis.OAuthServer(policy, verifier, issuer=bad)


def test_every_authorization_redirect_carries_iss_and_the_server_issuer_overrides_the_config(
        policy: portcullis.Policy) -> None:
    verifier = portcullis.AccessVerifier(policy, portcullis.AccessKeys("k1", bytes(32)))
    config = portcullis.OAuthConfig(issuer="https://old.example",
                                    require_pkce_for_confidential=False)
    s = portcullis.OAuthServer(policy, verifier, config, issuer=ISSUER)
    assert s.config.issuer == ISSUER and "issuer='https://app.claimport.io'" in repr(s.config)
    store = portcullis.MemoryOAuthStore()
    client, _ = portcullis.Client.confidential("YOUR_CLIENT_ID", [REDIRECT], ["claims:write"])
    store.add_client(client)
    outcome = s.authorize(DOCUMENTED.format("YOUR_CLIENT_ID"), store)
    assert outcome.kind == "valid" and outcome.state is None
    assert outcome.code_challenge_method is None
    approved = params(s.approve(outcome, "user_7", store))
    assert approved["code"].startswith("ac.") and approved["iss"] == ISSUER
    assert params(s.deny(outcome))["iss"] == ISSUER
    refused = s.authorize(DOCUMENTED.format("YOUR_CLIENT_ID") + "&response_type=token", store)
    assert refused.kind == "redirect" and params(refused.location or "")["iss"] == ISSUER


def test_the_documented_authorize_url_is_refused_for_a_public_client(
        policy: portcullis.Policy) -> None:
    s = server(policy, issuer=ISSUER, require_pkce_for_confidential=False)
    store = portcullis.MemoryOAuthStore()
    store.add_client(portcullis.Client.public("spa", [REDIRECT], ["claims:write"]))
    outcome = s.authorize(DOCUMENTED.format("spa"), store)
    assert outcome.kind == "redirect"
    assert (outcome.error, outcome.description) == ("invalid_request", "code_challenge is required")
