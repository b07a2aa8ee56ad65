"""The tests' policy builder changes exactly the setting it names and refuses one the
policy does not hold (the Python twin of the Rust test in crates/portcullis/tests/policy.rs)."""

from __future__ import annotations

from typing import List, Tuple

import pytest

from conftest import POLICY_FILE
from policy_builder import TestPolicy


def changed_lines(edited: TestPolicy) -> List[Tuple[str, str]]:
    before = POLICY_FILE.read_text(encoding="utf-8").splitlines()
    after = edited.text().splitlines()
    assert len(before) == len(after)
    return [(a, b) for a, b in zip(before, after) if a != b]


def test_each_setter_changes_only_its_line() -> None:
    claimport = TestPolicy.claimport
    assert claimport().text() == POLICY_FILE.read_text(encoding="utf-8")
    assert changed_lines(claimport().allow_query_key(True)) == [(
        "allow_query_key = false     # `?api_key=` exists but is discouraged: refused by default",
        "allow_query_key = true     # `?api_key=` exists but is discouraged: refused by default",
    )]
    assert changed_lines(claimport().require_https(False).enforce_max_age(True)) == [
        ("require_https = true", "require_https = false"),
        ("enforce_max_age = false", "enforce_max_age = true"),
    ]
    assert changed_lines(claimport().accept_legacy_sha256(True))[0][1] == (
        "accept_legacy_sha256 = true  # refuse unpeppered sha256$ records (see SECURITY.md)")
    assert changed_lines(claimport().deployment_env("test")) == [
        ('deployment_env = "live"', 'deployment_env = "test"')]
    first = claimport().scope_first("admin:all", "Admin")
    assert first.text().index('name = "admin:all"') < first.text().index('name = "claims:read"')
    assert first.build().scopes[0][0] == "admin:all"


def test_a_setting_the_policy_lacks_or_types_otherwise_fails() -> None:
    with pytest.raises(AssertionError, match="no \\[transport\\] no_such_key"):
        TestPolicy.claimport().set("transport", "no_such_key", True)
    with pytest.raises(AssertionError, match="no \\[scopes\\] name"):
        TestPolicy.claimport().set("scopes", "name", "x")  # an array of tables, not a table
    with pytest.raises(AssertionError, match="changes type"):
        TestPolicy.claimport().set("service", "kinds", True)
