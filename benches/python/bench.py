"""Python harness of `make bench`: portcullis's verify and check against a stdlib-only
Python implementation of the same verification and scope check (below), in the same run;
`Checker.check_many` (a batch of 256 requests, the GIL released once per batch) against
`Checker.check` called on each request of the same batch; and 1 vs 2 Python threads, both
calling `check` per request (it keeps the GIL: documents the GIL's effect) and both calling
`check_many` on their own batches (the thread-scaling row of the summary).

The stdlib implementation is checked to give the same answers as portcullis on allowed,
wrong-secret, typo'd and insufficient-scope requests before anything is timed.
Writes target/bench-results/python.json.
"""
import base64
import hashlib
import hmac
import json
import os
import pathlib
import re
import statistics
import sys
import threading
import time
import zlib

import portcullis

ROOT = pathlib.Path(__file__).resolve().parents[2]
NOW = 1_800_000_000
PEPPER = bytes([42]) * 32
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
B62 = {c: i for i, c in enumerate(ALPHABET)}
B62_SET = frozenset(ALPHABET)


# --- the stdlib-only implementation -------------------------------------------------------

class StdlibChecker:
    """What a careful team would write with the standard library alone."""

    def __init__(self, pepper_id, pepper, implications, routes):
        self.pepper_id = pepper_id
        self.pepper = pepper
        self.implications = implications  # scope -> set of scopes it grants
        self.routes = routes  # [(method, compiled regex, required set)]

    def parse(self, key):
        parts = key.split("_")
        if len(parts) != 4 or parts[0] != "sk" or parts[1] not in ("live", "test"):
            return None
        key_id, rest = parts[2], parts[3]
        if len(key_id) != 16 or len(rest) != 34:
            return None
        if not (set(key_id) <= B62_SET and set(rest) <= B62_SET):
            return None
        check = 0
        for c in rest[28:]:
            check = check * 62 + B62[c]
        if zlib.crc32(key[:-6].encode()) != check:
            return None
        return parts[1], key_id, rest[:28]

    def verify(self, key, record, now):
        parsed = self.parse(key)
        if parsed is None:
            return None
        env, key_id, secret = parsed
        scheme, pepper_id, digest = record["hash"].split("$")
        expected = base64.urlsafe_b64decode(digest + "=")
        mac = hmac.digest(self.pepper, f"{key_id}_{secret}".encode(), "sha256")
        if not hmac.compare_digest(mac, expected) or record["id"] != key_id or record["env"] != env:
            return None
        if record.get("revoked_at") is not None and record["revoked_at"] <= now:
            return None
        if record.get("expires_at") is not None and record["expires_at"] <= now:
            return None
        granted = set()
        for scope in record["scopes"]:
            granted |= self.implications.get(scope, set())
        return granted

    def check(self, method, path, authorization, records, now):
        if not authorization or not authorization[:7].lower() == "bearer ":
            return 401
        key = authorization[7:].strip()
        required = None
        for m, pattern, needs in self.routes:
            if m == method and pattern.fullmatch(path):
                required = needs
                break
        parsed = self.parse(key)
        if parsed is None:
            return 401
        record = records.get(parsed[1])
        if record is None:
            hmac.digest(self.pepper, key.encode(), "sha256")  # same work as a wrong secret
            return 401
        granted = self.verify(key, record, now)
        if granted is None:
            return 401
        if required is None or not required <= granted:
            return 403
        return 200


def stdlib_from_policy(policy):
    names = [name for name, _ in policy.scopes]
    implications = {n: set(policy.grant([n]).scopes) for n in names}
    routes = []
    for method, template in policy.routes:
        regex = re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)))
        try:
            needs = set(policy.requirement(_requirement_of(method, template)).evaluate([]).required)
        except Exception:
            needs = set()
        routes.append((method, regex, needs))
    return StdlibChecker("p1", PEPPER, implications, routes)


def _requirement_of(method, template):
    import tomllib
    data = tomllib.loads((ROOT / "examples" / "claimport.toml").read_text())
    for r in data.get("routes", []):
        if r["method"] == method and r["path"] == template:
            return r.get("require", "")
    return ""


# --- timing --------------------------------------------------------------------------------

def per_call_ns(fn, calls):
    start = time.perf_counter_ns()
    for _ in range(calls):
        fn()
    return (time.perf_counter_ns() - start) / calls


def paired(ours, theirs, calls=20000, rounds=9):
    """Times `ours` and `theirs` in alternating rounds (this VM's speed drifts between
    seconds); returns the median time of each and the median of the per-round ratios."""
    ours(), theirs()
    a, b, ratios = [], [], []
    for _ in range(rounds):
        x, y = per_call_ns(ours, calls), per_call_ns(theirs, calls)
        a.append(x)
        b.append(y)
        ratios.append(y / x)
    return statistics.median(a), statistics.median(b), statistics.median(ratios)


def busy_ticks():
    """Busy CPU time of the whole machine so far, in seconds (Linux /proc/stat), or None."""
    try:
        fields = pathlib.Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    ticks = [int(f) for f in fields]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait


def threads_ratio(fns, calls, rounds=5, ceiling=None):
    """Throughput of 2 threads against 1: thread i calls `fns[i]` `calls` times; the one-
    and two-thread runs alternate (as in `paired`); returns the median of the per-round
    ratios 2 * t(1 thread) / t(2 threads); the median number of cores this process kept
    busy during the two-thread runs (its CPU time over the wall time: 2.0 when the threads
    never wait for the GIL); the median share of a core that *other* processes used
    meanwhile (machine busy time minus this process's CPU time, over the wall time; None
    off Linux): above ~0.1 the ratio measures the neighbours, not portcullis; and, given
    `ceiling` = (fn, calls) of work that holds no lock, timed the same way in the same
    rounds, (its median ratio, the median of the per-round ratio of ours to it), else
    None."""
    def run(n):
        barrier = threading.Barrier(n)

        def work(fn):
            barrier.wait()
            for _ in range(calls):
                fn()
        ts = [threading.Thread(target=work, args=(fn,)) for fn in fns[:n]]
        busy, cpu, start = busy_ticks(), time.process_time(), time.perf_counter()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        wall = time.perf_counter() - start
        cpu = time.process_time() - cpu
        others = None if busy is None else (busy_ticks() - busy - cpu) / wall
        return wall, cpu / wall, others
    fns[0](), fns[1]()
    ratios, cores, others, ceilings = [], [], [], []
    for _ in range(rounds):
        one, _, _ = run(1)
        two, ours, busy = run(2)
        ratios.append(2 * one / two)
        cores.append(ours)
        others.append(busy)
        if ceiling is not None:
            ceilings.append(threads_ratio([ceiling[0]] * 2, ceiling[1], rounds=1)[0])
    others = None if None in others else max(0.0, statistics.median(others))
    of = None if not ceilings else (statistics.median(ceilings),
                                    statistics.median(r / c for r, c in zip(ratios, ceilings)))
    return statistics.median(ratios), statistics.median(cores), others, of


BATCH = 256


def batch_of(checker, store, keys):
    """BATCH allowed requests (`check`'s parts as a tuple) cycling over `keys`."""
    return [("GET", f"/v1/claims/{i}", f"Bearer {keys[i % len(keys)]}", None, True)
            for i in range(BATCH)]


def issue_keys(checker, store, n):
    keys = []
    for _ in range(n):
        issued = checker.issue("batch", "org_7", ["claims:read"], now=NOW)
        store.insert(issued.record)
        keys.append(issued.key)
    return keys


def batch_rows(checker, store):
    """check_many per request against check per request over the same batch (paired);
    1 vs 2 threads each deciding its own batch (its own keys), and both deciding batches
    of one key."""
    one, two = (batch_of(checker, store, issue_keys(checker, store, 16)) for _ in range(2))
    expected = [checker.check(m, p, lookup=store, authorization=a, query=q, https=h, now=NOW).status
                for m, p, a, q, h in one]
    assert [d.status for d in checker.check_many(one, lookup=store, now=NOW)] == expected == [200] * BATCH

    def each(batch):
        return lambda: [checker.check(m, p, lookup=store, authorization=a, query=q, https=h, now=NOW)
                        for m, p, a, q, h in batch]

    def many(batch):
        return lambda: checker.check_many(batch, lookup=store, now=NOW)

    per_batch, per_call, ratio = paired(many(one), each(one), calls=200)
    result = {"check_many_ns": per_batch / BATCH, "check_each_ns": per_call / BATCH,
              "check_many_speedup": ratio, "batch_size": BATCH}
    # The VM's ceiling in the same rounds: hashing 16 KiB, which releases the GIL (hashlib
    # does above 2 KiB) and shares nothing between the threads.
    data = bytes(16384)
    ceiling = (lambda: hashlib.sha256(data).digest(), 20000)
    ratio, cores, others, (platform, of_ceiling) = threads_ratio(
        [many(one), many(two)], calls=2000, rounds=7, ceiling=ceiling)
    result["threads_ratio_batched"] = ratio
    result["threads_batched_cores"] = cores
    result["threads_platform_ratio"] = platform
    result["threads_batched_of_ceiling"] = of_ceiling
    if others is not None:
        result["threads_batched_others_busy"] = others
    # Both threads on one key (a hot key: the store hands each thread its own copy).
    same = batch_of(checker, store, issue_keys(checker, store, 1))
    ratio, _, _, (platform, of_ceiling) = threads_ratio(
        [many(same), many(same)], calls=2000, rounds=7, ceiling=ceiling)
    result["threads_same_key_ratio"] = ratio
    result["threads_same_key_platform_ratio"] = platform
    result["threads_same_key_of_ceiling"] = of_ceiling
    return result


def main():
    policy = portcullis.Policy.from_file(str(ROOT / "examples" / "claimport.toml"))
    checker = portcullis.Checker(policy, portcullis.Peppers("p1", PEPPER))
    store = portcullis.MemoryStore()
    records = {}
    for i in range(2000):
        issued = checker.issue("filler", f"org_{i}", ["orders:read"], now=NOW)
        store.insert(issued.record)
        records[issued.record.id] = issued.record.to_dict()
    issued = checker.issue("bench", "org_42", ["claims:read"], now=NOW)
    store.insert(issued.record)
    record = issued.record
    rdict = record.to_dict()
    records[record.id] = rdict
    key = issued.key
    header = f"Bearer {key}"
    typo = key[:30] + ("b" if key[30] == "a" else "a") + key[31:]
    std = stdlib_from_policy(policy)

    # Same answers before any timing.
    for h, method, path in [(header, "GET", "/v1/claims/42"), (header, "POST", "/v1/claims"),
                            (f"Bearer {typo}", "GET", "/v1/claims/42"), (None, "GET", "/v1/claims/42")]:
        ours = checker.check(method, path, lookup=store, authorization=h, https=True, now=NOW).status
        theirs = std.check(method, path, h, records, NOW)
        assert ours == theirs, (method, path, ours, theirs)
    assert bool(checker.verify(key, record, now=NOW)) and std.verify(key, rdict, NOW) is not None
    assert not checker.verify(typo, record, now=NOW) and std.verify(typo, rdict, NOW) is None

    result = {}
    for name, ours, theirs in (
        ("verify", lambda: checker.verify(key, record, now=NOW), lambda: std.verify(key, rdict, NOW)),
        ("check", lambda: checker.check("GET", "/v1/claims/42", lookup=store, authorization=header,
                                        https=True, now=NOW),
         lambda: std.check("GET", "/v1/claims/42", header, records, NOW)),
    ):
        mine, stdlib, ratio = paired(ours, theirs)
        result[f"{name}_ns"], result[f"stdlib_{name}_ns"], result[f"{name}_speedup"] = mine, stdlib, ratio
    per_call = lambda: checker.check("GET", "/v1/claims/42", lookup=store, authorization=header,  # noqa: E731
                                     https=True, now=NOW)
    result["threads_ratio"], result["threads_per_call_cores"], _, _ = threads_ratio(
        [per_call, per_call], calls=100000)
    result.update(batch_rows(checker, store))
    out = ROOT / "target" / "bench-results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "python.json").write_text(json.dumps(result) + "\n")
    for k, v in result.items():
        print(f"python/{k} {v:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
