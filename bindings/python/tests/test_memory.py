"""No memory growth over a million checks (RSS before/after, after a warm-up)."""

from __future__ import annotations

import gc
import resource
import sys
from pathlib import Path

import portcullis
from conftest import NOW

CHECKS = 1_000_000
WARMUP = 50_000
MAX_GROWTH_KB = 4096  # a leak of even 8 bytes per check would be ~8 MB


def rss_kb() -> int:
    """Current resident set size (Linux /proc; ru_maxrss elsewhere)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def run(checker: portcullis.Checker, store: portcullis.MemoryStore, headers: list[str],
        n: int) -> int:
    """Checks through the store (half), a Python callable and two phases (a quarter each);
    every header meets every mode."""
    allowed = 0
    paths = ("/v1/claims/1", "/v1/orders", "/v1/claims")
    rows = {r.id: r.to_dict() for r in store.records()}
    for i in range(n):
        mode = (i // 4) % 4
        if mode == 3:
            first = checker.prepare("GET", paths[i % 3], authorization=headers[i % 4],
                                    https=True)
            if isinstance(first, portcullis.Pending):
                first = checker.finish(first, rows.get(first.key_id), NOW)
            allowed += first.allowed
            continue
        lookup = rows.get if mode == 2 else store
        d = checker.check("GET", paths[i % 3], lookup=lookup, authorization=headers[i % 4],
                          https=True, now=NOW)
        allowed += d.allowed
        if i % 7 == 0:  # touch the accessors that allocate
            _ = (d.www_authenticate, d.scopes, d.missing, d.warnings, d.key_id, d.record)
    return allowed


def test_no_memory_growth_over_a_million_checks(checker: portcullis.Checker,
                                                store: portcullis.MemoryStore) -> None:
    issued = checker.issue("k", "org", ["claims:read"], now=NOW)
    store.insert(issued.record)
    unknown = checker.issue("k2", "org", ["claims:read"], now=NOW).key  # not stored
    headers = [f"Bearer {issued.key}", f"Bearer {unknown}", "Bearer garbage",
               f"Bearer {issued.key[:-1]}x"]
    run(checker, store, headers, WARMUP)
    gc.collect()
    before = rss_kb()
    allowed = run(checker, store, headers, CHECKS)
    gc.collect()
    after = rss_kb()
    print(f"RSS before {before} KiB, after {after} KiB over {CHECKS} checks", file=sys.stderr)
    assert allowed > CHECKS // 20  # the loop really checked keys
    assert after - before < MAX_GROWTH_KB, (before, after)
