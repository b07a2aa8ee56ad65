"""Shared fixtures: the product's policy, a checker, a store with one issued key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict

import pytest

import portcullis

ROOT = Path(__file__).resolve().parents[3]
POLICY_FILE = ROOT / "examples" / "claimport.toml"
VECTORS = ROOT / "tests" / "vectors"
NOW = 1_800_000_000
PEPPER = bytes(range(32))


def vectors(name: str) -> Dict[str, Any]:
    """One conformance vector file."""
    with open(VECTORS / f"{name}.json", encoding="utf-8") as f:
        data: Dict[str, Any] = json.load(f)
    return data


@pytest.fixture(scope="session")
def policy() -> portcullis.Policy:
    return portcullis.Policy.from_file(POLICY_FILE)


@pytest.fixture()
def checker(policy: portcullis.Policy) -> portcullis.Checker:
    return portcullis.Checker(policy, portcullis.Peppers("p1", PEPPER))


@pytest.fixture()
def store() -> portcullis.MemoryStore:
    return portcullis.MemoryStore()


@pytest.fixture()
def issued(
    checker: portcullis.Checker, store: portcullis.MemoryStore
) -> portcullis.IssuedKey:
    key = checker.issue("Production Integration", "org_42", ["claims:read"], now=NOW)
    store.insert(key.record)
    return key
