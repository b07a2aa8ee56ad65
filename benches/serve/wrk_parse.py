"""Reads wrk's --latency output on stdin; prints 'requests_per_sec p50_us p99_us'."""
import re
import sys

UNITS = {"us": 1.0, "ms": 1000.0, "s": 1_000_000.0}


def micros(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not m:
        raise SystemExit(f"cannot read latency {text!r}")
    return float(m.group(1)) * UNITS[m.group(2)]


out = sys.stdin.read()
rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
if not (rps and p50 and p99):
    raise SystemExit("wrk printed no summary:\n" + out)
if errors:
    raise SystemExit(f"wrk saw {errors.group(1)} non-2xx responses")
print(f"{float(rps.group(1)):.0f} {micros(p50.group(1)):.0f} {micros(p99.group(1)):.0f}")
