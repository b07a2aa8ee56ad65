"""Concurrent checks from several threads give identical results; the GIL is released
during long checks (other Python threads keep running)."""

from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import List, Optional, Tuple

import portcullis
from conftest import NOW

THREADS = 8
ROUNDS = 2_000


def summary(d: portcullis.Decision) -> Tuple[object, ...]:
    return (d.allowed, d.status, d.reason, d.error, d.www_authenticate, d.key_id, d.owner,
            tuple(d.scopes), tuple(d.missing), tuple(d.warnings))


def requests(keys: List[str]) -> List[Tuple[str, str, Optional[str]]]:
    out: List[Tuple[str, str, Optional[str]]] = []
    for key in keys:
        out += [("GET", "/v1/claims/1", f"Bearer {key}"), ("GET", "/v1/orders", f"Bearer {key}"),
                ("POST", "/v1/claims", f"Bearer {key}"), ("GET", "/v1/claims", None),
                ("GET", "/v1/claims", f"Bearer {key[:-1]}x")]
    return out


def test_module_declares_no_gil_needed() -> None:
    # On a free-threaded build, importing a module that needs the GIL re-enables it.
    is_gil_enabled = getattr(sys, "_is_gil_enabled", None)
    if is_gil_enabled is not None and not is_gil_enabled():
        import portcullis._portcullis  # noqa: F401
        assert not is_gil_enabled()


def test_concurrent_checks_are_identical(checker: portcullis.Checker,
                                         store: portcullis.MemoryStore) -> None:
    keys = []
    for scopes in (["claims:read"], ["claims:write", "orders:read"], ["full_access"]):
        issued = checker.issue("k", "org", scopes, now=NOW)
        store.insert(issued.record)
        keys.append(issued.key)
    reqs = requests(keys)
    expected = [summary(checker.check(m, p, lookup=store, authorization=a, https=True, now=NOW))
                for m, p, a in reqs]
    assert {e[1] for e in expected} == {200, 401, 403}
    rows = {r.id: r for r in store.records()}

    def worker(n: int) -> List[Tuple[object, ...]]:
        seen = []
        for i in range(ROUNDS):
            m, p, a = reqs[(i + n) % len(reqs)]
            lookup = store if i % 2 else rows.get  # both the store and a callable
            d = checker.check(m, p, lookup=lookup, authorization=a, https=True, now=NOW)
            if summary(d) != expected[(i + n) % len(reqs)]:
                seen.append(summary(d))
        return seen

    with ThreadPoolExecutor(THREADS) as pool:
        mismatches = [m for ms in pool.map(worker, range(THREADS)) for m in ms]
    assert mismatches == []


def test_store_writes_while_checking(checker: portcullis.Checker,
                                     store: portcullis.MemoryStore) -> None:
    issued = checker.issue("k", "org", ["claims:read"], now=NOW)
    store.insert(issued.record)
    stop = threading.Event()

    def writer() -> None:
        while not stop.is_set():
            extra = checker.issue("tmp", "org", ["orders:read"], now=NOW)
            store.insert(extra.record)
            store.remove(extra.record.id)

    t = threading.Thread(target=writer)
    t.start()
    try:
        for _ in range(3_000):
            d = checker.check("GET", "/v1/claims", lookup=store,
                              authorization=f"Bearer {issued.key}", https=True, now=NOW)
            assert d.allowed
    finally:
        stop.set()
        t.join(timeout=30)
    assert not t.is_alive()


def test_gil_is_released_during_checks(checker: portcullis.Checker,
                                       store: portcullis.MemoryStore) -> None:
    """One check of a 64 MiB header spends tens of milliseconds scanning it natively. With
    a one-second switch interval, a thread holding the GIL through such a call would keep
    it: a pure-Python counter thread advances during the call only if the GIL is
    released for the core work."""
    header = "Bearer " + "A" * (64 << 20)
    ticks = 0
    stop = threading.Event()

    def counter() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1

    old = sys.getswitchinterval()
    sys.setswitchinterval(1.0)
    t = threading.Thread(target=counter)
    t.start()
    try:
        time.sleep(0.01)  # the counter starts; we get the GIL back within a second
        before = ticks
        d = checker.check("GET", "/v1/claims", lookup=store, authorization=header,
                          https=True, now=NOW)
        after = ticks
    finally:
        stop.set()
        t.join(timeout=30)
        sys.setswitchinterval(old)
    assert (d.status, d.detail) == (401, "length")
    assert after - before > 1000, (before, after)


def test_a_pending_is_finished_exactly_once_across_threads(
        checker: portcullis.Checker, store: portcullis.MemoryStore) -> None:
    issued = checker.issue("k", "org", ["claims:read"], now=NOW)
    store.insert(issued.record)
    for _ in range(50):
        pending = checker.prepare("GET", "/v1/claims", authorization=f"Bearer {issued.key}",
                                  https=True)
        assert isinstance(pending, portcullis.Pending)
        barrier = threading.Barrier(THREADS)

        def finish(_: int, barrier: threading.Barrier = barrier,
                   pending: portcullis.Pending = pending) -> str:
            barrier.wait(timeout=30)
            try:
                return "allowed" if checker.finish(pending, issued.record, NOW).allowed else "x"
            except portcullis.ConfigurationError as e:
                return e.code

        with ThreadPoolExecutor(THREADS) as pool:
            outcomes = sorted(pool.map(finish, range(THREADS)))
        assert outcomes == ["allowed"] + ["pending_used"] * (THREADS - 1)
