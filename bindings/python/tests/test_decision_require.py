"""``Decision.require``: scopes a view declares, judged by the core as a route would be."""

from __future__ import annotations

import pytest

import portcullis
from policy_builder import TestPolicy


def test_a_verified_caller_short_of_declared_scopes_gets_the_routes_403(
    checker: portcullis.Checker, store: portcullis.MemoryStore
) -> None:
    issued = checker.issue("reader", "org_42", ["claims:read"])
    store.insert(issued.record)
    header = f"Bearer {issued.key}"
    allowed = checker.check("GET", "/v1/claims/1", lookup=store, authorization=header,
                            https=True)
    assert allowed.allowed
    write = checker.policy.requirement("claims:write")
    denied = allowed.require(write)
    route = checker.check("POST", "/v1/claims", lookup=store, authorization=header,
                          https=True)
    assert (denied.status, denied.reason, denied.error) == (403, "insufficient_scope",
                                                            "insufficient_scope")
    assert denied.www_authenticate == route.www_authenticate
    assert denied.missing == ["claims:write"] and denied.key_id == allowed.key_id
    assert allowed.require(checker.policy.requirement("claims:read")).allowed
    public = checker.check("GET", "/health", lookup=store, https=True)
    assert public.require(write).reason == "public"


def test_a_requirement_of_another_catalog_is_refused(
    checker: portcullis.Checker, store: portcullis.MemoryStore
) -> None:
    # The product's policy with one more scope first: every scope number moves.
    other = TestPolicy.claimport().scope_first("audit:read", "Read Audit").build()
    decision = checker.check("GET", "/health", lookup=store, https=True)
    with pytest.raises(ValueError, match="another policy"):
        decision.require(other.requirement("claims:read"))
