"""The example policy with a test's settings changed by name (the Python twin of
crates/portcullis/tests/common/policy.rs).

A setting is addressed by its table and key; the line that holds it keeps its layout and
comment, and a setting the policy lacks, or holds with another type, fails the test instead
of leaving the policy unchanged. Where `tomllib` exists (3.11+), every edit is checked
against the parsed document: the result must equal the original with that one value set.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Union

import portcullis
from conftest import POLICY_FILE

try:
    import tomllib
except ImportError:  # Python < 3.11: the line-level checks still hold
    tomllib = None  # type: ignore[assignment]

Setting = Union[bool, str, List[str]]
_TABLE = re.compile(r"^\s*\[\s*([A-Za-z0-9_]+)\s*\]\s*(#.*)?$")
_ARRAY_TABLE = re.compile(r"^\s*\[\[\s*([A-Za-z0-9_]+)\s*\]\]\s*(#.*)?$")


def _literal(value: Setting) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string for the ASCII the tests use
    return "[" + ", ".join(json.dumps(v) for v in value) + "]"


def _kind(token: str) -> str:
    if token in ("true", "false"):
        return "bool"
    return {'"': "str", "[": "array"}.get(token[:1], "other")


class TestPolicy:
    """A policy text under construction; `text()` and `build()` finish it."""

    __test__ = False  # not a pytest test class

    def __init__(self, text: str) -> None:
        self._text = text

    @classmethod
    def claimport(cls) -> TestPolicy:
        """examples/claimport.toml, unchanged until a setter runs."""
        return cls(POLICY_FILE.read_text(encoding="utf-8"))

    def require_https(self, on: bool) -> TestPolicy:
        return self.set("transport", "require_https", on)

    def allow_query_key(self, on: bool) -> TestPolicy:
        return self.set("transport", "allow_query_key", on)

    def accept_legacy_sha256(self, on: bool) -> TestPolicy:
        return self.set("lifecycle", "accept_legacy_sha256", on)

    def enforce_max_age(self, on: bool) -> TestPolicy:
        return self.set("lifecycle", "enforce_max_age", on)

    def deployment_env(self, env: str) -> TestPolicy:
        return self.set("service", "deployment_env", env)

    def set(self, table: str, key: str, value: Setting) -> TestPolicy:
        """Replaces `[table] key`, which must hold a value of the same type on one line."""
        lines = self._text.splitlines(keepends=True)
        current = None
        for i, line in enumerate(lines):
            header = _TABLE.match(line) or _ARRAY_TABLE.match(line)
            if header:
                current = header.group(1) if _TABLE.match(line) else None
                continue
            m = re.match(rf"^(\s*{re.escape(key)}\s*=\s*)(\S.*?)(\s*(#.*)?)(\r?\n)?$", line)
            if current != table or not m:
                continue
            old = m.group(2)
            new = _literal(value)
            assert _kind(old) == _kind(new), f"[{table}] {key} changes type: {old} -> {new}"
            lines[i] = m.group(1) + new + m.group(3) + (m.group(5) or "")
            edited = TestPolicy("".join(lines))
            edited._check(self, lambda doc: doc[table].__setitem__(key, value))
            return edited
        raise AssertionError(f"the policy has no [{table}] {key}")

    def scope_first(self, name: str, description: str) -> TestPolicy:
        """Puts a scope before the catalog's first one (a catalog that differs in its order)."""
        lines = self._text.splitlines(keepends=True)
        for i, line in enumerate(lines):
            m = _ARRAY_TABLE.match(line)
            if m and m.group(1) == "scopes":
                scope = (f"[[scopes]]\nname = {_literal(name)}\n"
                         f"description = {_literal(description)}\n\n")
                edited = TestPolicy("".join(lines[:i]) + scope + "".join(lines[i:]))
                edited._check(self, lambda doc: doc["scopes"].insert(
                    0, {"name": name, "description": description}))
                return edited
        raise AssertionError("the policy has no [[scopes]]")

    def text(self) -> str:
        return self._text

    def build(self) -> portcullis.Policy:
        return portcullis.Policy.from_toml(self._text)

    def _check(self, before: TestPolicy, edit: Any) -> None:
        """The parsed result equals the parsed original with `edit` applied."""
        if tomllib is None:
            return
        expected: Dict[str, Any] = tomllib.loads(before._text)
        edit(expected)
        assert tomllib.loads(self._text) == expected, self._text
