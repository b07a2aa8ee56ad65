"""Error-code parity (tests/vectors/errors.json): every case raises the exception class of
its family with the core's code, as Rust, C and the CLI report it."""

from __future__ import annotations

from typing import Any, Callable, Dict, Type

import pytest

import portcullis
from conftest import vectors

ERRORS = vectors("errors")

#: The exception class each family's errors raise.
CLASSES: Dict[str, Type[portcullis.PortcullisError]] = {
    "key": portcullis.MalformedKeyError,
    "credential": portcullis.CredentialError,
    "issue": portcullis.IssueError,
    "record": portcullis.RecordError,
    "store": portcullis.StoreError,
    "requirement": portcullis.RequirementError,
    "pepper": portcullis.ConfigurationError,
    "access_key": portcullis.ConfigurationError,
    "client": portcullis.ClientError,
}


def checker() -> portcullis.Checker:
    policy = portcullis.Policy.from_toml(ERRORS["policy"])
    pepper = bytes([ERRORS["pepper_byte"]]) * 32
    return portcullis.Checker(policy, portcullis.Peppers(ERRORS["pepper_id"], pepper))


def key_ops(make: Callable[[str, bytes], Any], ops: Any) -> None:
    """Runs [op, id, secret length] ops on a Peppers or AccessKeys."""
    keys: Any = None
    for name, key_id, length in ops:
        secret = bytes([7]) * length
        if name == "new":
            keys = make(key_id, secret)
        elif name == "add":
            keys.add(key_id, secret)
        elif name == "set_primary":
            keys.set_primary(key_id)
        elif name == "remove":
            keys.remove(key_id)


def run(case: Dict[str, Any]) -> None:
    call = case["call"]
    if call == "parse_key":
        checker().parse(case["key"])
    elif call == "extract":
        portcullis.extract_credential(
            case["authorization"], case["query"], allow_query=case["allow_query"]
        )
    elif call == "issue":
        checker().issue(
            case["name"], case["owner"], case["scopes"], kind=case["kind"], env=case["env"],
            now=ERRORS["now"],
        )
    elif call == "record_from_json":
        portcullis.KeyRecord.from_json(case["json"])
    elif call == "store_insert_twice":
        record = checker().issue("Vectors", "org_1", ["claims:read"], now=ERRORS["now"]).record
        store = portcullis.MemoryStore()
        store.insert(record)
        store.insert(record)
    elif call == "store_revoke":
        portcullis.MemoryStore().revoke(case["id"], ERRORS["now"])
    elif call == "requirement":
        portcullis.Policy.from_toml(ERRORS["policy"]).requirement(case["text"])
    elif call == "peppers":
        key_ops(portcullis.Peppers, case["ops"])
    elif call == "access_keys":
        key_ops(portcullis.AccessKeys, case["ops"])
    elif call == "client_public":
        portcullis.Client.public(case["id"], case["redirect_uris"], case["scopes"])
    else:
        raise AssertionError(f"unknown call {call}")


@pytest.mark.parametrize(
    "case", ERRORS["cases"], ids=lambda c: f"{c['call']}-{c['family']}-{c['code']}"
)
def test_every_case_raises_its_family_class_with_the_core_code(case: Dict[str, Any]) -> None:
    with pytest.raises(portcullis.PortcullisError) as e:
        run(case)
    assert type(e.value) is CLASSES[case["family"]]
    assert e.value.code == case["code"]


def test_every_family_a_case_reaches_has_a_class() -> None:
    assert {c["family"] for c in ERRORS["cases"]} == set(CLASSES)
