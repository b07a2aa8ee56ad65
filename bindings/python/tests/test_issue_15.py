"""Issue #15, items 3, 4, 5, 17 and 21: one rule in the core, inherited by the binding."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import portcullis
from conftest import NOW, PEPPER

DAY = 86_400


def at(secs: int) -> datetime:
    return datetime.fromtimestamp(secs, tz=timezone.utc)


@pytest.mark.parametrize("zero", [0, timedelta(0), timedelta(milliseconds=500)])
def test_a_zero_ttl_raises_issue_error_bad_ttl_instead_of_issuing_an_expired_key(
    checker: portcullis.Checker, zero: object
) -> None:
    with pytest.raises(portcullis.IssueError) as info:
        checker.issue("n", "o", ["claims:read"], ttl=zero, now=NOW)  # type: ignore[arg-type]
    assert info.value.code == "bad_ttl"
    assert isinstance(info.value, ValueError)
    assert checker.issue("n", "o", [], ttl=1, now=NOW).record.to_dict()["expires_at"] == NOW + 1
    assert checker.issue("n", "o", [], ttl=None, now=NOW).record.expires_at is None


def test_verify_refuses_a_key_of_another_environment_as_check_does(
    checker: portcullis.Checker, store: portcullis.MemoryStore
) -> None:
    test_key = checker.issue("t", "o", ["claims:read"], env="test", now=NOW)
    store.insert(test_key.record)
    d = checker.check("GET", "/v1/claims", lookup=store, authorization=f"Bearer {test_key.key}",
                      https=True, now=NOW)
    v = checker.verify(test_key.key, test_key.record, NOW)
    assert (d.reason, v.reason, v.valid, v.scopes) == (
        "wrong_environment", "wrong_environment", False, [])
    test_policy = checker.policy.for_environment("test")
    assert test_policy is not None
    staging = portcullis.Checker(test_policy, portcullis.Peppers("p1", PEPPER))
    assert staging.verify(test_key.key, test_key.record, NOW).valid


def test_rotation_keeps_not_before_and_a_scheduled_revocation(
    checker: portcullis.Checker,
) -> None:
    old = checker.issue("k", "o", ["claims:read"], not_before=NOW + 3600, now=NOW)
    record = old.record.revoked(NOW + DAY)
    rotation = checker.rotate(record, 600, NOW + 10)
    succ = rotation.successor.record
    assert (succ.not_before, succ.revoked_at) == (at(NOW + 3600), at(NOW + DAY))
    assert checker.verify(rotation.successor.key, succ, NOW + 20).reason == "not_yet_valid"
    assert checker.verify(rotation.successor.key, succ, NOW + DAY).reason == "revoked"


def test_rotation_refuses_a_scope_the_policy_no_longer_knows(
    checker: portcullis.Checker,
) -> None:
    record = checker.issue("k", "o", ["claims:read"], now=NOW).record.with_scopes(
        ["claims:read", "claims:delete"])
    with pytest.raises(portcullis.IssueError) as info:
        checker.rotate(record, 600, NOW + 10)
    assert info.value.code == "unknown_scope"
