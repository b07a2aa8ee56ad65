"""Turns the serve benchmark's raw files into target/bench-results/serve.json.

Arguments: the rounds file ('bare|serve rps p50_us p99_us' a line), the RSS samples (kB, one
every 5 s), the load generator's JSON (examples/load.rs) and the soak's length in seconds."""
import json
import statistics
import sys

rounds, rss_file, soak_file, soak_seconds = sys.argv[1:5]
rows = [line.split() for line in open(rounds)]


def med(kind, column):
    return statistics.median(float(r[column]) for r in rows if r[0] == kind)


# Each serve round against the bare round just before it: the machine's slow and fast
# stretches last longer than a pair, so the median of the pairs' ratios is the verdict.
bare = [float(r[1]) for r in rows if r[0] == "bare"]
serve = [float(r[1]) for r in rows if r[0] == "serve"]
ratios = [s / b for b, s in zip(bare, serve)]


rss = [int(x) for x in open(rss_file).read().split()]
soak = json.load(open(soak_file))
# The first minute warms caches and allocator arenas; "flat" compares the rest.
steady = rss[12:] if len(rss) > 24 else rss
result = {
    "rounds": len(rows) // 2,
    "bare_rps": med("bare", 1),
    "serve_rps": med("serve", 1),
    "throughput_ratio": statistics.median(ratios),
    "throughput_ratios": ratios,
    "serve_p50_us": med("serve", 2),
    "serve_p99_us": med("serve", 3),
    "bare_p50_us": med("bare", 2),
    "bare_p99_us": med("bare", 3),
    "soak_seconds": int(soak_seconds),
    "soak_asked_rps": int(soak["asked_rps"]),
    "soak_rps": soak["rps"],
    "soak_status_counts": soak["statuses"],
    "soak_rss_kb_first": steady[0] if steady else None,
    "soak_rss_kb_last": steady[-1] if steady else None,
    "soak_rss_kb_max": max(rss) if rss else None,
    "soak_rss_growth": (steady[-1] - steady[0]) / steady[0] if steady else None,
}
print(json.dumps(result, indent=2))
