"""Turns the serve benchmark's raw files into target/bench-results/serve.json.

Arguments: the rounds file ('bare|serve rps p50_us p99_us' a line), the RSS samples (kB, one
every 5 s), hey's output, the soak's length in seconds and the rate it asked for."""
import json
import re
import statistics
import sys

rounds, rss_file, hey_file, soak_seconds, soak_asked = sys.argv[1:6]
rows = [line.split() for line in open(rounds)]


def med(kind, column):
    return statistics.median(float(r[column]) for r in rows if r[0] == kind)


rss = [int(x) for x in open(rss_file).read().split()]
hey = open(hey_file).read()
codes = {int(c): int(n) for c, n in re.findall(r"\[(\d{3})\]\s+(\d+) responses", hey)}
rps = re.search(r"Requests/sec:\s+([\d.]+)", hey)
# The first minute warms caches and allocator arenas; "flat" compares the rest.
steady = rss[12:] if len(rss) > 24 else rss
result = {
    "rounds": len(rows) // 2,
    "bare_rps": med("bare", 1),
    "serve_rps": med("serve", 1),
    "throughput_ratio": med("serve", 1) / med("bare", 1),
    "serve_p50_us": med("serve", 2),
    "serve_p99_us": med("serve", 3),
    "bare_p50_us": med("bare", 2),
    "bare_p99_us": med("bare", 3),
    "soak_seconds": int(soak_seconds),
    "soak_asked_rps": int(soak_asked),
    "soak_rps": float(rps.group(1)) if rps else None,
    "soak_status_counts": codes,
    "soak_rss_kb_first": steady[0] if steady else None,
    "soak_rss_kb_last": steady[-1] if steady else None,
    "soak_rss_kb_max": max(rss) if rss else None,
    "soak_rss_growth": (steady[-1] - steady[0]) / steady[0] if steady else None,
}
print(json.dumps(result, indent=2))
