"""Rate limits across a fleet from Python: ``FleetLimits`` on a real Redis server (Debian's
``redis-server``, installed by ``crates/portcullis-store/tests/redis.sh`` if missing,
started here on a free loopback port and stopped afterwards): a limit shared by two
limiters (two processes' worth), the 429 with its fields, and 503 while Redis is down —
never an unlimited allow."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from typing import Iterator

import pytest

import portcullis
from conftest import PEPPER, POLICY_FILE, ROOT

INSTALL = ROOT / "crates" / "portcullis-store" / "tests" / "redis.sh"

LIMIT = """
[[limits]]
name = "per_key"
rate = 10
window = 3600
burst = 3
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Redis:
    """A throwaway redis-server without persistence."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="portcullis-py-redis-")
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as c:
                    c.sendall(b"PING\r\n")
                    if c.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture()
def redis() -> Iterator[Redis]:
    installed = subprocess.run(["bash", str(INSTALL)], capture_output=True, text=True, check=False)
    if installed.returncode != 0:
        pytest.fail(f"redis-server could not be installed: {installed.stderr}")
    server = Redis()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.dir, ignore_errors=True)


def checker(limits: portcullis.FleetLimits) -> portcullis.Checker:
    policy = portcullis.Policy.from_toml(POLICY_FILE.read_text(encoding="utf-8") + LIMIT)
    return portcullis.Checker(policy, portcullis.Peppers("p1", PEPPER), limits=limits)


def get(c: portcullis.Checker, store: portcullis.MemoryStore, header: str) -> portcullis.Decision:
    return c.check("GET", "/v1/claims/7", lookup=store, authorization=header, https=True)


def test_two_limiters_share_one_limit_and_the_fourth_is_429(redis: Redis) -> None:
    one = checker(portcullis.FleetLimits(redis.url))
    two = checker(portcullis.FleetLimits(redis.url))
    assert isinstance(one.limits, portcullis.FleetLimits)
    store = portcullis.MemoryStore()
    issued = one.issue("Fleet", "org_1", ["claims:read"])
    store.insert(issued.record)
    header = f"Bearer {issued.key}"
    statuses = [get(c, store, header).status for c in (one, two, one, two, one, two)]
    assert statuses.count(200) == 3 and statuses.count(429) == 3, statuses
    limited = get(two, store, header)
    assert (limited.status, limited.reason) == (429, "rate_limited")
    assert limited.retry_after is not None and limited.retry_after > 0
    assert limited.rate_limit_policy == '"per_key";q=10;w=3600'
    assert one.limits is not None and one.limits.round_trips >= 1


def test_redis_down_is_503_never_an_allow(redis: Redis) -> None:
    limits = portcullis.FleetLimits(redis.url)
    c = checker(limits)
    store = portcullis.MemoryStore()
    issued = c.issue("Fleet", "org_1", ["claims:read"])
    store.insert(issued.record)
    redis.stop()
    decision = get(c, store, f"Bearer {issued.key}")
    assert (decision.status, decision.reason) == (503, "limiter_unavailable")
    assert decision.retry_after is not None
    assert not limits.is_up


def test_only_this_machine_is_accepted() -> None:
    with pytest.raises(portcullis.DatabaseError) as raised:
        portcullis.FleetLimits("redis://redis.example.com:6379")
    assert raised.value.code == "store_bad_url"
    with pytest.raises(ValueError):
        portcullis.FleetLimits("redis://127.0.0.1:1", budget=0)
