"""Hostile and wrong input: wrong types, huge and non-UTF-8 values. Always a typed
error or a denial, never a crash."""

from __future__ import annotations

from typing import Any

import pytest

import portcullis
from conftest import NOW

MB = 1 << 20


@pytest.mark.parametrize("value", [None, 42, b"GET", 1.5, ["GET"]])
def test_method_and_path_must_be_str(checker: portcullis.Checker,
                                     store: portcullis.MemoryStore, value: Any) -> None:
    with pytest.raises(TypeError):
        checker.check(value, "/v1/claims", lookup=store)
    with pytest.raises(TypeError):
        checker.check("GET", value, lookup=store)


@pytest.mark.parametrize("value", [42, 1.5, ["Bearer x"], object()])
def test_authorization_and_query_must_be_text(checker: portcullis.Checker,
                                              store: portcullis.MemoryStore, value: Any) -> None:
    with pytest.raises(TypeError, match="str or bytes"):
        checker.check("GET", "/v1/claims", lookup=store, authorization=value)
    with pytest.raises(TypeError, match="str or bytes"):
        checker.check("GET", "/v1/claims", lookup=store, query=value)


@pytest.mark.parametrize("value", [None, 42, "store", b"x"])
def test_lookup_must_be_store_or_callable(checker: portcullis.Checker, value: Any) -> None:
    with pytest.raises(TypeError, match="lookup"):
        checker.check("GET", "/v1/claims", lookup=value,
                      authorization="Bearer sk_live_0123456789abcdef_" + "a" * 34, https=True)


def test_a_lookup_returning_a_wrong_type_or_bad_json_is_a_corrupt_record_not_an_exception(
        checker: portcullis.Checker, issued: portcullis.IssuedKey) -> None:
    for value in (42, "not json"):
        d = checker.check("GET", "/v1/claims", lookup=lambda _id, value=value: value,
                          authorization=f"Bearer {issued.key}", https=True, now=NOW)
        assert (d.status, d.reason) == (401, "corrupt_record"), value


@pytest.mark.parametrize("value", [None, 42, b"x", [b"x"], "claims:read", [1]])
def test_scope_lists(checker: portcullis.Checker, policy: portcullis.Policy, value: Any) -> None:
    with pytest.raises(TypeError):
        checker.issue("n", "o", value)
    with pytest.raises(TypeError):
        policy.grant(value)


@pytest.mark.parametrize("value", [None, 42, "x" * 32])
def test_pepper_secret_must_be_bytes(value: Any) -> None:
    with pytest.raises(TypeError):
        portcullis.Peppers("p1", value)


@pytest.mark.parametrize("value", [None, 42, b"{}"])
def test_records_must_be_record_dict_or_json(checker: portcullis.Checker,
                                             store: portcullis.MemoryStore, value: Any) -> None:
    with pytest.raises(TypeError):
        store.insert(value)
    with pytest.raises(TypeError):
        checker.verify("sk_live_x", value)
    with pytest.raises(TypeError):
        portcullis.Policy.from_toml(value)


def test_bytes_and_str_keys_agree(checker: portcullis.Checker,
                                  issued: portcullis.IssuedKey) -> None:
    assert checker.parse(issued.key.encode()).key_id == checker.parse(issued.key).key_id
    with pytest.raises(TypeError):
        checker.parse(None)  # type: ignore[arg-type]


def test_huge_inputs(checker: portcullis.Checker, store: portcullis.MemoryStore,
                     issued: portcullis.IssuedKey, policy: portcullis.Policy) -> None:
    huge = "A" * (8 * MB)
    d = checker.check("GET", "/v1/claims", lookup=store, authorization="Bearer " + huge,
                      https=True, now=NOW)
    assert (d.status, d.reason, d.detail) == (401, "malformed_key", "length")
    d = checker.check("GET", "/v1/" + "x" * MB, lookup=store,
                      authorization=f"Bearer {issued.key}", https=True, now=NOW)
    assert (d.status, d.reason) == (403, "unknown_route")
    d = checker.check("GET", "/v1/claims", lookup=store, query="a=b&" * MB, https=True, now=NOW)
    assert d.status == 401
    with pytest.raises(portcullis.MalformedKeyError):
        checker.parse(b"s" * (16 * MB))
    with pytest.raises(portcullis.RequirementError) as info:
        policy.requirement("claims:read " * 100_000)
    assert info.value.code == "too_long"
    with pytest.raises(portcullis.PolicyError):
        portcullis.Policy.from_toml("# " + "x" * (5 * MB))
    with pytest.raises(portcullis.IssueError):
        checker.issue("n" * MB, "o", [])


def test_non_utf8_input(checker: portcullis.Checker, store: portcullis.MemoryStore) -> None:
    d = checker.check("GET", "/v1/claims", lookup=store, authorization=b"Bearer \xff\xfe",
                      https=True, now=NOW)
    assert (d.status, d.reason) == (400, "malformed_header")
    d = checker.check("GET", "/v1/claims", lookup=store,
                      authorization=b"Bearer sk_live_\xff" + b"a" * 51, https=True, now=NOW)
    assert d.status in (400, 401) and not d.allowed
    d = checker.check("GET", "/v1/claims", lookup=store, query=b"api_key=\xff", https=True,
                      now=NOW)
    assert d.status == 400 and not d.allowed
    with pytest.raises(portcullis.MalformedKeyError):
        checker.parse(b"\xff" * 60)
    # A str with a lone surrogate (from surrogateescape decoding) cannot be UTF-8.
    with pytest.raises(ValueError):
        checker.check("GET", "/v1/claims", lookup=store, authorization="Bearer \udcff")
    with pytest.raises(ValueError):
        checker.check("GET", "/v1/\udcff", lookup=store)
    with pytest.raises(ValueError):
        portcullis.Policy.from_toml("[service]\nrealm = '\udcff'")


def test_nul_and_control_bytes(checker: portcullis.Checker, store: portcullis.MemoryStore) -> None:
    for header in (b"Bearer \x00", "Bearer a\x00b", "Bearer\tabc", "\x00"):
        d = checker.check("GET", "/v1/claims", lookup=store, authorization=header, https=True,
                          now=NOW)
        assert not d.allowed and d.status in (400, 401)


def test_random_bytes_never_crash(checker: portcullis.Checker, store: portcullis.MemoryStore,
                                  issued: portcullis.IssuedKey,
                                  policy: portcullis.Policy) -> None:
    """Seeded random mutations of a valid key and header: a decision or a typed error,
    never another exception (a Rust panic would surface as pyo3's PanicException)."""
    import random

    rng = random.Random(4)
    base = f"Bearer {issued.key}".encode()
    alphabet = b"Bearer sk_live_test_0123456789abcdefXYZ \t\x00\xff:|&()*=%"
    for _ in range(5_000):
        data = bytearray(base[: rng.randrange(len(base) + 1)])
        for _ in range(rng.randrange(4)):
            data.insert(rng.randrange(len(data) + 1), rng.choice(alphabet))
        if data and rng.random() < 0.5:
            data[rng.randrange(len(data))] = rng.randrange(256)
        blob = bytes(data)
        d = checker.check("GET", "/v1/claims", lookup=store, authorization=blob, https=True,
                          now=NOW)
        assert d.status in (200, 400, 401) and (d.status == 200) == d.allowed
        q = checker.check("GET", "/v1/claims", lookup=store, query=b"api_key=" + blob[7:],
                          https=True, now=NOW)
        assert q.status in (400, 401)
        try:
            checker.parse(blob[7:])
        except portcullis.MalformedKeyError:
            pass
        try:
            policy.requirement(blob.decode("latin-1"))
        except portcullis.RequirementError:
            pass
