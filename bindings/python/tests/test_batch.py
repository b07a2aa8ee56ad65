"""`Checker.check_many`: a batch gives the decisions `check` gives one by one, refuses bad
elements with errors naming them, and releases the GIL while it decides."""

from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import pytest

import portcullis
from conftest import NOW

Parts = Tuple[str, str, Optional[Union[str, bytes]], Optional[Union[str, bytes]], bool]


def parts_of(r: Parts) -> Dict[str, Any]:
    m, p, a, q, h = r
    return {"method": m, "path": p, "authorization": a, "query": q, "https": h}


def summary(d: portcullis.Decision) -> Dict[str, Any]:
    out = d.to_dict()
    out["description"] = d.description
    out["record_id"] = d.record.id if d.record is not None else None
    return out


@pytest.fixture()
def keys(checker: portcullis.Checker, store: portcullis.MemoryStore) -> Dict[str, str]:
    out = {}
    for name, scopes in (("reader", ["claims:read"]), ("writer", ["claims:write", "orders:read"]),
                         ("admin", ["full_access"])):
        issued = checker.issue(name, f"org_{name}", scopes, now=NOW)
        store.insert(issued.record)
        out[name] = issued.key
    # A stored record whose hash is another key's: presenting this key is a wrong secret.
    mismatched = checker.issue("mismatched", "org_m", ["claims:read"], now=NOW)
    store.insert(mismatched.record.with_hash(checker.hash_key(out["reader"])))
    out["wrong_secret"] = mismatched.key
    out["unknown"] = checker.issue("never stored", "org_u", ["claims:read"], now=NOW).key
    revoked = checker.issue("revoked", "org_r", ["claims:read"], now=NOW)
    store.insert(revoked.record)
    store.revoke(revoked.record.id, at=NOW - 1)
    out["revoked"] = revoked.key
    return out


def mixed(keys: Dict[str, str]) -> List[Parts]:
    """Every kind of decision: allowed, 401 wrong secret, typo, unknown key, revoked, 403,
    unknown route, public route, no credential, insecure transport, key in the query."""
    reader, writer = keys["reader"], keys["writer"]
    typo = reader[:20] + ("x" if reader[20] != "x" else "y") + reader[21:]
    return [
        ("GET", "/v1/claims/7", f"Bearer {reader}", None, True),
        ("GET", "/v1/claims/7", f"Bearer {keys['wrong_secret']}", None, True),
        ("GET", "/v1/claims/7", f"Bearer {typo}", None, True),
        ("GET", "/v1/claims/7", f"Bearer {keys['unknown']}", None, True),
        ("GET", "/v1/claims/7", f"Bearer {keys['revoked']}", None, True),
        ("POST", "/v1/claims", f"Bearer {reader}", None, True),
        ("POST", "/v1/claims", f"Bearer {writer}".encode(), None, True),
        ("GET", "/v1/claims/7/orders", f"Bearer {writer}", None, True),
        ("DELETE", "/v1/claims/7", f"Bearer {keys['admin']}", None, True),
        ("GET", "/v1/nowhere", f"Bearer {reader}", None, True),
        ("GET", "/health", None, None, True),
        ("GET", "/v1/claims", None, None, True),
        ("GET", "/v1/claims", "Basic dXNlcjpwYXNz", None, True),
        ("GET", "/v1/claims", f"Bearer {reader}", None, False),
        ("GET", "/v1/claims", None, f"api_key={reader}", True),
        ("GET", "/v1/me", f"Bearer {keys['admin']}", b"page=2", True),
    ]


def one_by_one(checker: portcullis.Checker, batch: Sequence[Parts], lookup: Any,
               now: int = NOW) -> List[Dict[str, Any]]:
    return [summary(checker.check(lookup=lookup, now=now, **parts_of(r))) for r in batch]


def test_mixed_batch_equals_check_one_by_one(checker: portcullis.Checker,
                                            store: portcullis.MemoryStore,
                                            keys: Dict[str, str]) -> None:
    batch = mixed(keys)
    expected = one_by_one(checker, batch, store)
    got = checker.check_many(batch, lookup=store, now=NOW)
    assert isinstance(got, list) and all(isinstance(d, portcullis.Decision) for d in got)
    assert [summary(d) for d in got] == expected
    # Every kind of outcome is in the batch, so the comparison covers them all.
    reasons = {(e["status"], e["reason"]) for e in expected}
    assert {(200, "allowed"), (401, "wrong_secret"), (401, "malformed_key"), (401, "unknown_key"),
            (401, "revoked"), (403, "insufficient_scope"), (200, "public")} <= reasons, reasons
    assert {e["status"] for e in expected} == {200, 400, 401, 403}, reasons


def test_short_tuples_and_request_objects(checker: portcullis.Checker,
                                          store: portcullis.MemoryStore,
                                          keys: Dict[str, str]) -> None:
    batch = mixed(keys)
    objects = [portcullis.Request(m, p, authorization=a, query=q, https=h)
               for m, p, a, q, h in batch]
    expected = one_by_one(checker, batch, store)
    assert [summary(d) for d in checker.check_many(objects, lookup=store, now=NOW)] == expected
    # Both forms in one batch, and tuples of 2, 3 and 4 parts (https defaults to False).
    both: List[Any] = [x for pair in zip(batch, objects) for x in pair]
    assert [summary(d) for d in checker.check_many(both, lookup=store, now=NOW)] == [
        e for e in expected for _ in range(2)]
    bearer = f"Bearer {keys['reader']}"
    short = checker.check_many([("GET", "/health"), ("GET", "/v1/claims", bearer),
                                ("GET", "/v1/claims", bearer, None)], lookup=store, now=NOW)
    assert [summary(d) for d in short] == [
        summary(checker.check("GET", "/health", lookup=store, now=NOW)),
        summary(checker.check("GET", "/v1/claims", lookup=store, authorization=bearer, now=NOW)),
        summary(checker.check("GET", "/v1/claims", lookup=store, authorization=bearer, now=NOW)),
    ]
    assert short[1].reason == "insecure_transport"


class Row(NamedTuple):
    """A log line's request, as a re-verifier might keep it: a tuple subclass works too."""
    method: str
    path: str
    authorization: Optional[str]
    query: Optional[str]
    https: bool


def test_named_tuples(checker: portcullis.Checker, store: portcullis.MemoryStore,
                      keys: Dict[str, str]) -> None:
    rows = [Row("GET", "/v1/claims/7", f"Bearer {keys['reader']}", None, True),
            Row("POST", "/v1/claims", f"Bearer {keys['reader']}", None, True)]
    got = checker.check_many(rows, lookup=store, now=NOW)
    assert [(d.status, d.reason) for d in got] == [(200, "allowed"), (403, "insufficient_scope")]


def test_any_iterable_and_the_empty_batch(checker: portcullis.Checker,
                                          store: portcullis.MemoryStore,
                                          keys: Dict[str, str]) -> None:
    batch = mixed(keys)
    expected = one_by_one(checker, batch, store)
    assert [summary(d) for d in checker.check_many(tuple(batch), lookup=store, now=NOW)] == expected
    assert [summary(d) for d in checker.check_many(iter(batch), lookup=store, now=NOW)] == expected
    assert checker.check_many([], lookup=store, now=NOW) == []
    assert checker.check_many((), lookup=store.get) == []
    assert checker.check_many((r for r in batch[:0]), lookup=store) == []


def test_callable_lookup_equals_check(checker: portcullis.Checker,
                                      store: portcullis.MemoryStore,
                                      keys: Dict[str, str]) -> None:
    batch = mixed(keys)
    rows = {r.id: r for r in store.records()}
    calls: List[str] = []

    def lookup(key_id: str) -> Optional[Any]:
        calls.append(key_id)
        record = rows.get(key_id)
        return record.to_dict() if record is not None and len(calls) % 2 else record

    expected = one_by_one(checker, batch, lookup)
    one_by_one_calls, calls[:] = list(calls), []
    got = checker.check_many(batch, lookup=lookup, now=NOW)
    assert [summary(d) for d in got] == expected == one_by_one(checker, batch, store)
    # The same lookups, in request order.
    assert calls == one_by_one_calls and len(calls) >= 8


def test_lookup_errors(checker: portcullis.Checker, store: portcullis.MemoryStore,
                       keys: Dict[str, str]) -> None:
    batch = mixed(keys)

    def failing(key_id: str) -> None:
        raise portcullis.KeyLookupError("db down")

    expected = one_by_one(checker, batch, failing)
    got = checker.check_many(batch, lookup=failing, now=NOW)
    assert [summary(d) for d in got] == expected
    assert got[0].status == 503 and got[0].lookup_error == "db down"



def test_a_lookup_raising_or_returning_no_record_gives_the_decisions_check_gives(
        checker: portcullis.Checker, keys: Dict[str, str]) -> None:
    batch = mixed(keys)

    def broken(key_id: str) -> None:
        raise RuntimeError("bug in the host")

    expected = one_by_one(checker, batch, broken)
    got = checker.check_many(batch, lookup=broken, now=NOW)
    assert [summary(d) for d in got] == expected
    assert (got[0].status, got[0].reason) == (503, "lookup_failed")
    assert got[0].lookup_error == "the lookup raised RuntimeError"

    def bad_record(key_id: str) -> Dict[str, Any]:
        return {"not": "a record"}

    expected = one_by_one(checker, batch, bad_record)
    got = checker.check_many(batch, lookup=bad_record, now=NOW)
    assert [summary(d) for d in got] == expected
    assert (got[0].status, got[0].reason, got[0].error) == (401, "corrupt_record",
                                                            "invalid_token")


def test_a_keyboard_interrupt_from_a_lookup_stops_the_batch_naming_the_element(
        checker: portcullis.Checker, keys: Dict[str, str]) -> None:
    def interrupted(key_id: str) -> None:
        raise KeyboardInterrupt

    with_public: List[Any] = [("GET", "/health"), *mixed(keys)]
    with pytest.raises(KeyboardInterrupt) as info:
        checker.check_many(with_public, lookup=interrupted, now=NOW)
    if sys.version_info >= (3, 11):
        assert "raised by the lookup for requests[1]" in info.value.__notes__


@pytest.mark.parametrize(("element", "error", "message"), [
    (42, TypeError, r"requests\[1\] must be a Request or a tuple .* not int"),
    (["GET", "/v1/claims"], TypeError, r"requests\[1\] must be a Request or a tuple .* not list"),
    (("GET",), TypeError, r"requests\[1\] has 1 items; expected 2 to 5"),
    (("GET", "/", None, None, True, "x"), TypeError, r"requests\[1\] has 6 items"),
    ((b"GET", "/v1/claims"), TypeError, r"requests\[1\]\.method must be str, not bytes"),
    (("GET", None), TypeError, r"requests\[1\]\.path must be str, not NoneType"),
    (("GET", "/", 7), TypeError, r"requests\[1\]\.authorization must be str or bytes, not int"),
    (("GET", "/", None, ["q"]), TypeError, r"requests\[1\]\.query must be str or bytes, not list"),
    (("GET", "/", None, None, 1), TypeError, r"requests\[1\]\.https must be bool, not int"),
    (("GET", "/\udcff"), ValueError, r"requests\[1\]\.path is not valid Unicode"),
    (("GET", "/", "Bearer \udcff"), ValueError,
     r"requests\[1\]\.authorization is not valid Unicode"),
])
def test_bad_elements_name_their_index(checker: portcullis.Checker,
                                       store: portcullis.MemoryStore, keys: Dict[str, str],
                                       element: object, error: type, message: str) -> None:
    key = keys["reader"]
    batch: List[Any] = [("GET", "/v1/claims", f"Bearer {key}", None, True), element]
    for lookup in (store, store.get):
        with pytest.raises(error, match=message) as info:
            checker.check_many(batch, lookup=lookup, now=NOW)
        assert key not in str(info.value)


def test_bad_arguments(checker: portcullis.Checker, store: portcullis.MemoryStore) -> None:
    for requests, what in ((None, "NoneType"), (42, "int")):
        with pytest.raises(TypeError, match=f"requests must be a sequence of requests, not {what}"):
            checker.check_many(requests, lookup=store, now=NOW)  # type: ignore[arg-type]
    for text in ("GET /", b"GET /"):
        with pytest.raises(TypeError, match="not a single"):
            checker.check_many(text, lookup=store, now=NOW)  # type: ignore[arg-type]
    with pytest.raises(TypeError,
                       match="lookup must be a MemoryStore, a Store or a callable, not dict"):
        checker.check_many([("GET", "/health")], lookup={}, now=NOW)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="now must be between"):
        checker.check_many([("GET", "/health")], lookup=store, now=-1)
    with pytest.raises(ZeroDivisionError):
        checker.check_many((("GET", str(1 // 0)) for _ in range(1)), lookup=store, now=NOW)


def test_request_objects(keys: Dict[str, str]) -> None:
    key = keys["reader"]
    r = portcullis.Request("GET", "/v1/claims", authorization=f"Bearer {key}", query=b"a=1",
                           https=True)
    assert (r.method, r.path, r.https) == ("GET", "/v1/claims", True)
    assert r.authorization == f"Bearer {key}".encode() and r.query == b"a=1"
    assert key not in repr(r) and "[REDACTED]" in repr(r)
    assert repr(portcullis.Request("GET", "/")) == (
        "Request(method='GET', path='/', authorization=None, query=None, https=False)")
    with pytest.raises(TypeError, match="authorization must be str or bytes, not int"):
        portcullis.Request("GET", "/", authorization=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="method must be str"):
        portcullis.Request(1, "/")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="path is not valid Unicode"):
        portcullis.Request("GET", "/\udcff")
    with pytest.raises(AttributeError):
        r.path = "/other"  # type: ignore[misc]


def test_big_batches(checker: portcullis.Checker, store: portcullis.MemoryStore,
                     keys: Dict[str, str]) -> None:
    base = mixed(keys)
    batch = [base[i % len(base)] for i in range(50_000)]
    expected = one_by_one(checker, base, store)
    got = checker.check_many(batch, lookup=store, now=NOW)
    assert len(got) == len(batch)
    assert all(summary(d) == expected[i % len(base)] for i, d in enumerate(got))
    # Long headers and paths in a batch too (the buffers grow past their first guess).
    long = [("GET", "/v1/claims/" + "7" * 10_000, "Bearer " + "A" * (i * 1000), None, True)
            for i in range(64)]
    assert [summary(d) for d in checker.check_many(long, lookup=store, now=NOW)] == one_by_one(
        checker, long, store)


def test_threads_deciding_batches_agree(checker: portcullis.Checker,
                                        store: portcullis.MemoryStore,
                                        keys: Dict[str, str]) -> None:
    base = mixed(keys)
    expected = one_by_one(checker, base, store)

    def work(n: int) -> bool:
        batch = base[n % len(base):] + base[:n % len(base)]
        want = expected[n % len(base):] + expected[:n % len(base)]
        lookup: Any = store if n % 2 else store.get
        return all([summary(d) for d in checker.check_many(batch * 50, lookup=lookup, now=NOW)]
                   == want * 50 for _ in range(5))

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(work, range(8)))


def ran_during(call: Callable[[], object]) -> bool:
    """Whether another Python thread ran while `call` ran. The switch interval is made
    huge, so the interpreter never takes the GIL from this thread: the other thread, which
    is waiting for the GIL from just before `call` starts, can run before `call` returns
    only if `call` releases the GIL. Deterministic when it does not; when it does, the
    other thread has the whole detached phase to take the GIL and set one flag."""
    go, done = threading.Event(), threading.Event()

    def other() -> None:
        go.wait()
        done.set()

    t = threading.Thread(target=other)
    old = sys.getswitchinterval()
    t.start()
    sys.setswitchinterval(1000.0)
    try:
        go.set()  # `other` now waits for the GIL, which this thread keeps...
        call()  # ...unless this releases it
        seen = done.is_set()
    finally:
        sys.setswitchinterval(old)
        t.join(timeout=30)
    return seen


def big_batch(keys: Dict[str, str], n: int) -> List[Parts]:
    return [("GET", "/v1/claims/7", f"Bearer {keys['reader']}", None, True)] * n


def test_the_gil_is_released_while_a_batch_is_decided(checker: portcullis.Checker,
                                                      store: portcullis.MemoryStore,
                                                      keys: Dict[str, str]) -> None:
    # Control: `check` of an ordinary request keeps the GIL (see checker.rs), and the probe
    # sees that; if `check` ever releases it for small requests, update this line.
    one = big_batch(keys, 1)[0]
    assert not ran_during(lambda: [checker.check(lookup=store, now=NOW, **parts_of(one))
                                   for _ in range(20_000)])
    # A batch releases it. Up to three tries with growing batches (the other thread must
    # be scheduled within the detached phase: tens of milliseconds, and more each try).
    def batch_of(n: int, lookup: Any) -> Callable[[], object]:
        return lambda: checker.check_many(big_batch(keys, n), lookup=lookup, now=NOW)

    for lookup in (store, store.get):
        assert any(ran_during(batch_of(n, lookup)) for n in (100_000, 200_000, 400_000)), lookup
