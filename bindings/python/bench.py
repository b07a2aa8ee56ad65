"""Rough per-call cost of checks through the Python module, and thread scaling.

Run after `bash bindings/python/run-tests.sh` (which installs a release build):
    bindings/python/.venv/bin/python bindings/python/bench.py
Numbers are wall-clock microseconds per call on this machine; compare them with each other
(store vs callable vs two-phase, 1 thread vs N), not across machines.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import portcullis

ROOT = Path(__file__).resolve().parents[2]
N = 200_000
NOW = 1_800_000_000


def per_call(fn: Callable[[], object], n: int = N) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    policy = portcullis.Policy.from_file(ROOT / "examples" / "claimport.toml")
    checker = portcullis.Checker(policy, portcullis.Peppers("p1", os.urandom(32)))
    store = portcullis.MemoryStore()
    issued = checker.issue("bench", "org", ["claims:read"], now=NOW)
    store.insert(issued.record)
    header = f"Bearer {issued.key}"
    rows = {issued.record.id: issued.record}

    def with_store() -> object:
        return checker.check("GET", "/v1/claims/1", lookup=store, authorization=header,
                             https=True, now=NOW)

    def with_callable() -> object:
        return checker.check("GET", "/v1/claims/1", lookup=rows.get, authorization=header,
                             https=True, now=NOW)

    def two_phase() -> object:
        p = checker.prepare("GET", "/v1/claims/1", authorization=header, https=True)
        assert isinstance(p, portcullis.Pending)
        return checker.finish(p, rows[p.key_id], NOW)

    assert checker.check("GET", "/v1/claims/1", lookup=rows.get, authorization=header,
                         https=True, now=NOW).allowed
    print(f"check, MemoryStore:      {per_call(with_store):6.2f} us")
    print(f"check, Python callable:  {per_call(with_callable):6.2f} us")
    print(f"prepare + finish:        {per_call(two_phase):6.2f} us")
    print(f"verify:                  "
          f"{per_call(lambda: checker.verify(issued.key, issued.record, NOW)):6.2f} us")
    for threads in (1, 2, 4):
        per_thread = N // threads
        start = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda _: per_call(with_store, per_thread), range(threads)))
        total = time.perf_counter() - start
        print(f"{threads} thread(s), store:    {N / total / 1000:6.0f} k checks/s")


if __name__ == "__main__":
    main()
