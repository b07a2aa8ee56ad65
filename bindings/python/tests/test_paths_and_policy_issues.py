"""Issue #15 items 2 and 14 as Python sees them: an ambiguous path is a 400 decision with
its detail, and PolicyError lists every problem of a policy at once."""

from __future__ import annotations

import pytest

import portcullis
from conftest import PEPPER, POLICY_FILE

POLICY = """
[[scopes]]
name = "claims:read"

[[routes]]
method = "GET"
path = "/static/{*rest}"
access = "public"

[[routes]]
method = "GET"
path = "/v1/claims/{id}"
require = "claims:read"
"""


def test_policy_error_lists_a_duplicate_scope_an_unknown_scope_and_a_truncated_requirement(
) -> None:
    text = """
[[scopes]]
name = "claims:read"
[[scopes]]
name = "claims:read"

[[routes]]
method = "GET"
path = "/v1/claims/{id}"
require = "claims:raed"

[[routes]]
method = "GET"
path = "/v1/orders/{id}"
require = "claims:read &"
"""
    with pytest.raises(portcullis.PolicyError) as info:
        portcullis.Policy.from_toml(text)
    found = [(i.line, i.field) for i in info.value.issues]
    assert found == [
        (5, "scopes[1].name"),
        (10, "routes[0].require"),
        (15, "routes[1].require"),
    ], info.value.issues
    assert str(info.value).startswith("invalid policy (3 problems)")


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("/static/../v1/claims/1", "dot_segment"),
        ("/v1/claims/..%2Fadmin", "encoded_separator"),
        ("/v1//claims/1", "empty_segment"),
        ("/v1/claims/1;v=2", "path_params"),
        ("/v1/claims/%zz", "bad_escape"),
    ],
)
def test_an_ambiguous_path_is_a_400_with_the_path_error_as_detail(path: str, detail: str) -> None:
    checker = portcullis.Checker(
        portcullis.Policy.from_toml(POLICY), portcullis.Peppers("p1", PEPPER)
    )
    d = checker.check("GET", path, lookup=portcullis.MemoryStore(), https=True)
    assert (d.status, d.error, d.reason, d.detail) == (
        400,
        "invalid_request",
        "ambiguous_path",
        detail,
    )
    assert d.www_authenticate is not None and 'error="invalid_request"' in d.www_authenticate


def test_policy_warnings_name_a_route_a_more_specific_any_route_partly_decides() -> None:
    text = """
[[scopes]]
name = "admin"

[[routes]]
method = "GET"
path = "/v1/{*rest}"
access = "public"

[[routes]]
method = "*"
path = "/v1/admin/reset"
require = "admin"
"""
    warnings = portcullis.Policy.from_toml(text).warnings
    assert len(warnings) == 1, warnings
    assert isinstance(warnings[0], portcullis.PolicyIssue)
    assert warnings[0].line == 7 and warnings[0].field == "routes[0]", warnings[0]
    assert "routes[1]" in warnings[0].message, warnings[0]
    assert portcullis.Policy.from_toml(POLICY).warnings == []


def test_policy_oauth_gives_the_policys_oauth_section_and_secure_defaults_elsewhere() -> None:
    product = portcullis.Policy.from_file(POLICY_FILE).oauth
    assert product.allow_body_credentials is True
    assert product.require_pkce_for_confidential is False
    defaults = portcullis.Policy.from_toml(POLICY).oauth
    assert defaults == portcullis.OAuthConfig()
    assert defaults.allow_body_credentials is False
    assert defaults.require_pkce_for_confidential is True
