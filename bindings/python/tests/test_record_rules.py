"""A record's state and display form in Python are the core's: the strings the checker
refuses with and the display form a parsed key shows, at every boundary instant."""

from __future__ import annotations

import pytest

import portcullis
from conftest import NOW

DAY = 86_400
NOT_BEFORE = NOW + 3600


def issued(checker: portcullis.Checker) -> portcullis.IssuedKey:
    return checker.issue(
        "s", "o", ["claims:read"], ttl=DAY, not_before=NOT_BEFORE, now=NOW
    )


def test_the_display_form_is_the_parsed_keys(checker: portcullis.Checker) -> None:
    key = issued(checker)
    record = key.record
    assert record.display == f"sk_live_{record.id}_…"
    assert record.display == checker.parse(key.key).display
    assert key.key.startswith(record.display[: -len("…")])
    assert key.key[len(record.display) :] not in record.display


@pytest.mark.parametrize(
    ("at", "state"),
    [
        (NOT_BEFORE - 1, "not_yet_valid"),
        (NOT_BEFORE, "active"),
        (NOW + DAY - 1, "active"),
        (NOW + DAY, "expired"),
    ],
)
def test_state_at_each_boundary_is_what_the_checker_decides(
    checker: portcullis.Checker, store: portcullis.MemoryStore, at: int, state: str
) -> None:
    key = issued(checker)
    store.insert(key.record)
    assert key.record.state(at) == state
    decision = checker.check(
        "GET",
        "/v1/claims/42",
        lookup=store,
        authorization=f"Bearer {key.key}",
        https=True,
        now=at,
    )
    assert decision.allowed == (state == "active")
    if state != "active":
        assert decision.reason == state


def test_revocation_starts_at_revoked_at_and_wins(checker: portcullis.Checker) -> None:
    record = issued(checker).record.revoked(NOT_BEFORE + 10)
    assert record.state(NOT_BEFORE + 9) == "active"
    assert not record.is_revoked(NOT_BEFORE + 9)
    assert record.state(NOT_BEFORE + 10) == "revoked"
    assert record.is_revoked(NOT_BEFORE + 10)
    assert record.state(NOW + DAY) == "revoked"
    assert record.state(NOT_BEFORE - 1) == "not_yet_valid"


def test_state_refuses_a_time_that_is_not_one(checker: portcullis.Checker) -> None:
    with pytest.raises((TypeError, ValueError)):
        issued(checker).record.state("tomorrow")  # type: ignore[arg-type]
