"""The shared conformance vectors (tests/vectors/*.json): same results as Rust."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest

import portcullis
from conftest import vectors

KEYS = vectors("keys")
EXTRACT = vectors("extract")
SCOPES = vectors("scopes")
DECISIONS = vectors("decisions")


def peppers_of(entries: List[Dict[str, str]]) -> portcullis.Peppers:
    first, *rest = entries
    peppers = portcullis.Peppers(first["id"], bytes.fromhex(first["secret_hex"]))
    for p in rest:
        peppers.add(p["id"], bytes.fromhex(p["secret_hex"]))
    return peppers


def toml_list(items: List[str]) -> str:
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


def keys_checker() -> portcullis.Checker:
    policy = portcullis.Policy.from_toml(
        f"""
        [service]
        realm = "vectors"
        kinds = {toml_list(KEYS["kinds"])}
        environments = {toml_list(KEYS["environments"])}
        deployment_env = "{KEYS["environments"][0]}"
        """
    )
    return portcullis.Checker(policy, peppers_of(KEYS["peppers"]))


def text_of(case: Dict[str, Any], field: str) -> Optional[bytes]:
    """A vector's input as bytes: `<field>_hex`, `<field>_repeat`, or the text."""
    if f"{field}_hex" in case:
        return bytes.fromhex(case[f"{field}_hex"])
    if f"{field}_repeat" in case:
        rep = case[f"{field}_repeat"]
        return (rep["char"] * rep["count"]).encode()
    value = case.get(field)
    return None if value is None else str(value).encode()


def test_vector_files_are_not_empty() -> None:
    assert KEYS["keys"] and KEYS["parse"]
    assert EXTRACT["cases"] and SCOPES["cases"] and DECISIONS["cases"]


@pytest.mark.parametrize("case", KEYS["keys"], ids=lambda c: c["id"])
def test_issued_keys_hash_and_parse(case: Dict[str, Any]) -> None:
    checker = keys_checker()
    parsed = checker.parse(case["key"])
    assert (parsed.kind, parsed.env, parsed.key_id) == (case["kind"], case["env"], case["id"])
    assert parsed.display == case["display"]
    assert checker.hash_key(case["key"]) == case["hash"]
    assert portcullis.legacy_sha256_hash(case["key"]) == case["legacy_hash"]


@pytest.mark.parametrize("case", KEYS["parse"], ids=lambda c: str(c.get("error")))
def test_key_parse_vectors(case: Dict[str, Any]) -> None:
    checker = keys_checker()
    key = text_of(case, "input")
    assert key is not None
    if case["error"] is None:
        assert checker.parse(key).key_id == case["id"]
    else:
        with pytest.raises(portcullis.MalformedKeyError) as info:
            checker.parse(key)
        assert info.value.code == case["error"]


@pytest.mark.parametrize("case", EXTRACT["cases"], ids=lambda c: str(c.get("error")))
def test_extract_vectors(case: Dict[str, Any]) -> None:
    authorization = text_of(case, "authorization")
    query = text_of(case, "query")
    if case["error"] is None:
        cred = portcullis.extract_credential(
            authorization, query, param=case["param"], allow_query=case["allow_query"]
        )
        assert cred.token == case["token"].encode()
        assert cred.source == case["source"]
    else:
        with pytest.raises(portcullis.CredentialError) as info:
            portcullis.extract_credential(
                authorization, query, param=case["param"], allow_query=case["allow_query"]
            )
        assert info.value.code == case["error"]


@pytest.mark.parametrize("case", SCOPES["cases"], ids=lambda c: c["requirement"])
def test_scope_vectors(case: Dict[str, Any]) -> None:
    policy = portcullis.Policy.from_toml(SCOPES["policy"])
    grant = policy.grant(case["grants"])
    assert grant.scopes == case["effective"]
    assert grant.unknown == case["unknown"]
    result = policy.requirement(case["requirement"]).evaluate(case["grants"])
    assert result.allowed == case["allowed"]
    assert result.missing == case["missing"]
    assert result.required == case["required"]


def decision_setup() -> Dict[str, Any]:
    peppers = peppers_of(DECISIONS["peppers"])
    checkers = {
        name: portcullis.Checker(portcullis.Policy.from_toml(text), peppers)
        for name, text in DECISIONS["policies"].items()
    }
    store = portcullis.MemoryStore()
    for record in DECISIONS["records"]:
        store.insert(record)
    return {"checkers": checkers, "store": store}


SETUP = decision_setup()


def observed(d: portcullis.Decision) -> Dict[str, Any]:
    return {
        "allowed": d.allowed,
        "status": d.status,
        "error": d.error,
        "reason": d.reason,
        "detail": d.detail,
        "www_authenticate": d.www_authenticate,
        "key_id": d.key_id,
        "owner": d.owner,
        "scopes": d.scopes,
        "missing": d.missing,
        "warnings": d.warnings,
    }


def request_args(case: Dict[str, Any]) -> Dict[str, Any]:
    req = case["request"]
    return {
        "authorization": text_of(req, "authorization"),
        "query": req["query"],
        "https": req["https"],
    }


@pytest.mark.parametrize("case", DECISIONS["cases"], ids=lambda c: c["name"])
def test_decision_vectors_with_store(case: Dict[str, Any]) -> None:
    checker = SETUP["checkers"][case["policy"]]
    req = case["request"]
    d = checker.check(
        req["method"], req["path"], lookup=SETUP["store"], now=case["now"], **request_args(case)
    )
    assert observed(d) == case["expect"]


@pytest.mark.parametrize("case", DECISIONS["cases"], ids=lambda c: c["name"])
def test_decision_vectors_with_callable_and_two_phase(case: Dict[str, Any]) -> None:
    checker = SETUP["checkers"][case["policy"]]
    store = SETUP["store"]
    req = case["request"]
    args = request_args(case)

    def lookup(key_id: str) -> Optional[Dict[str, Any]]:
        found = store.get(key_id)
        return None if found is None else found.to_dict()  # exercise the dict path

    d = checker.check(req["method"], req["path"], lookup=lookup, now=case["now"], **args)
    assert observed(d) == case["expect"]

    first = checker.prepare(req["method"], req["path"], **args)
    if isinstance(first, portcullis.Pending):
        record = store.get(first.key_id)
        d = checker.finish(first, None if record is None else record.to_json(), case["now"])
    else:
        d = first
    assert observed(d) == case["expect"]
