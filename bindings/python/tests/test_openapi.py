"""OpenAPI from the policy (``Policy.openapi``): the document validates as OpenAPI 3.1
(``openapi-spec-validator``), its Authorize schemes and per-operation security match the
policy, and merging sets the security of a host's document, which still validates."""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest
from openapi_spec_validator import validate

import portcullis


def document(policy: portcullis.Policy) -> Dict[str, Any]:
    doc: Dict[str, Any] = json.loads(policy.openapi())
    return doc


def scopes(op: Dict[str, Any], scheme: str) -> List[List[str]]:
    return [r[scheme] for r in op["security"] if scheme in r]


def test_the_document_is_valid_openapi_3_1(policy: portcullis.Policy) -> None:
    text = policy.openapi()
    assert text == policy.openapi(), "deterministic"
    doc = json.loads(text)
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["title"] == policy.realm


def test_schemes_are_the_bearer_key_and_oauth_with_the_catalog(
    policy: portcullis.Policy,
) -> None:
    schemes = document(policy)["components"]["securitySchemes"]
    assert schemes["apiKey"]["type"] == "http"
    assert schemes["apiKey"]["scheme"] == "bearer"
    assert "sk_live_" in schemes["apiKey"]["description"]
    flow = schemes["oauth2"]["flows"]["authorizationCode"]
    assert flow["scopes"] == dict(policy.scopes)


def test_security_expands_implications_and_public_routes_need_nothing(
    policy: portcullis.Policy,
) -> None:
    paths = document(policy)["paths"]
    read = paths["/v1/claims/{id}"]["get"]
    want = [["claims:read"], ["claims:write"], ["full_access"]]
    assert scopes(read, "apiKey") == want
    assert scopes(read, "oauth2") == want
    assert paths["/health"]["get"]["security"] == []
    assert paths["/v1/me"]["get"]["security"] == [{"apiKey": []}, {"oauth2": []}]
    # Every listed alternative passes the route's requirement.
    for path, item in paths.items():
        for method, op in item.items():
            if method == "parameters" or op["x-portcullis-access"] == "public":
                continue
            requirement = op["x-portcullis-access"]
            if requirement == "authenticated":
                continue
            compiled = policy.requirement(requirement)
            for alternative in scopes(op, "apiKey"):
                assert compiled.evaluate(alternative).allowed, (path, alternative)


def test_merge_sets_security_and_the_result_still_validates(
    policy: portcullis.Policy,
) -> None:
    host = {
        "openapi": "3.1.0",
        "info": {"title": "Claims API", "version": "2.4"},
        "paths": {
            "/v1/claims/{claimId}": {
                "parameters": [
                    {"name": "claimId", "in": "path", "required": True,
                     "schema": {"type": "string"}}
                ],
                "get": {"operationId": "getClaim",
                        "responses": {"200": {"description": "The claim."}}},
            },
            "/internal/metrics": {
                "get": {"operationId": "metrics",
                        "responses": {"200": {"description": "ok"}}},
            },
        },
    }
    merged = json.loads(policy.openapi(merge=json.dumps(host)))
    validate(merged)
    get = merged["paths"]["/v1/claims/{claimId}"]["get"]
    assert get["operationId"] == "getClaim"
    assert scopes(get, "apiKey") == [["claims:read"], ["claims:write"], ["full_access"]]
    assert "security" not in merged["paths"]["/internal/metrics"]["get"]
    assert "apiKey" in merged["components"]["securitySchemes"]
    # Merging the generated document changes nothing.
    assert policy.openapi(merge=policy.openapi()) == policy.openapi()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('{"openapi": ', "bad_json"),
        ('{"swagger": "2.0"}', "bad_document"),
        ("[]", "bad_document"),
        ('{"openapi": "3.1.0", "x": "' + "a" * (4 << 20) + '"}', "too_large"),
    ],
)
def test_a_bad_document_raises_configuration_error_with_the_core_code(
    policy: portcullis.Policy, text: str, code: str
) -> None:
    with pytest.raises(portcullis.ConfigurationError) as e:
        policy.openapi(merge=text)
    assert e.value.code == code
