"""Usage (issue #20): the recorder runs every case of tests/vectors/usage.json as the Rust
and C suites do; a checker with a recorder counts its decisions and the client's
network; bad settings and addresses raise the package's classes; a drain on another
thread while checking loses nothing."""

from __future__ import annotations

import ipaddress
import threading
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List

import pytest

import portcullis
from conftest import NOW, PEPPER, vectors

USAGE = vectors("usage")
HOUR = 3_600
DAY = 86_400
KEY_A = "usageAAAAAAAAAAA"


def utc(secs: int) -> datetime:
    return datetime.fromtimestamp(secs, tz=timezone.utc)


@pytest.mark.parametrize("case", USAGE["cases"], ids=lambda c: c["name"])
def test_every_usage_vector_raises_and_drains_as_stated(case: Dict[str, Any]) -> None:
    recorder = portcullis.UsageRecorder(**case["config"])
    for step in case["steps"]:
        if "record" in step:
            r = step["record"]
            raised: List[str] = []
            for n in range(r.get("repeat", 1)):
                raised += recorder.record(
                    r["key_id"], r["use"], at=r["at"] + n * r.get("every", 0),
                    client=r.get("client"), warnings=r.get("warnings", ()))
            # The runner reports the warnings the uses raised together, each once.
            assert sorted(set(raised)) == sorted(step["raised"]), r
        else:
            batch = recorder.drain(step["drain"])
            assert batch.to_json() == step["batch"], step["drain"]


def test_the_batch_objects_carry_what_to_json_says() -> None:
    recorder = portcullis.UsageRecorder(learning=timedelta(seconds=100))
    recorder.record(KEY_A, "allowed", at=NOW + 10, client="203.0.113.5")
    recorder.record(KEY_A, "wrong_secret", at=NOW + 20)
    recorder.record(KEY_A, "corrupt_record", at=NOW + 25)
    raised = recorder.record(KEY_A, "allowed", at=utc(NOW + 500),
                             client=ipaddress.ip_address("2001:db8:1:2::1"))
    assert raised == ["new_network"]
    batch = recorder.drain(NOW + 600)
    assert batch.dropped == 0
    (key,) = batch.keys
    assert key.key_id == KEY_A
    assert key.first_used == utc(NOW + 10) and key.last_used == utc(NOW + 500)
    assert key.networks == ["203.0.113.0/24", "2001:db8:1::/48"]
    (hour,) = key.hours
    assert hour.hour == utc(NOW - NOW % HOUR)
    assert (hour.allowed, hour.denied, hour.total) == (2, {"wrong_secret": 1, "other": 1}, 4)
    (signal,) = batch.signals
    assert (signal.key_id, signal.kind, signal.at) == (KEY_A, "new_network", utc(NOW + 500))
    assert signal.network == "2001:db8:1::/48"
    assert signal.count is None and signal.since is None and signal.last_used is None
    assert signal.to_json() == batch.to_json()["signals"][0]
    assert recorder.drain(NOW + 700).to_json() == {"keys": [], "signals": [], "dropped": 0}


def test_signal_fields_of_each_kind() -> None:
    recorder = portcullis.UsageRecorder(burst_threshold=3, burst_window=60, dormancy=DAY)
    recorder.record(KEY_A, "allowed", at=NOW)
    assert recorder.record(KEY_A, "allowed", at=NOW + 2 * DAY) == ["after_dormancy"]
    for n in range(3):
        recorder.record(KEY_A, "wrong_secret", at=NOW + 2 * DAY + n)
    recorder.record(KEY_A, "allowed", at=NOW + 2 * DAY + 5, warnings=["rotation_due"])
    kinds = {s.kind: s for s in recorder.drain(NOW + 3 * DAY).signals}
    assert set(kinds) == {"after_dormancy", "wrong_secret_burst", "rotation_due"}
    assert kinds["after_dormancy"].last_used == utc(NOW)
    burst = kinds["wrong_secret_burst"]
    assert (burst.attempts, burst.since) == (3, utc(NOW + 2 * DAY))
    assert kinds["rotation_due"].network is None and kinds["rotation_due"].hour is None


def test_restore_carries_learning_and_networks_across_a_restart() -> None:
    recorder = portcullis.UsageRecorder(learning=1_000)
    assert recorder.restore(KEY_A, first_used=NOW, last_used=NOW + 10,
                            networks=["203.0.113.0/24", ipaddress.ip_network("2001:db8:1::/48")])
    # Learnt networks are quiet; a new one after learning is not.
    assert recorder.record(KEY_A, "allowed", at=NOW + 5_000, client="203.0.113.9") == []
    assert recorder.record(KEY_A, "allowed", at=NOW + 5_001, client="2001:db8:1::7") == []
    assert recorder.record(KEY_A, "allowed", at=NOW + 5_002, client="198.51.100.1") == [
        "new_network"]
    key = recorder.drain(NOW + 6_000).keys[0]
    assert key.first_used == utc(NOW)
    with pytest.raises(ValueError, match="not an IPv4 /24"):
        recorder.restore(KEY_A, networks=["203.0.113.0/25"])
    with pytest.raises(TypeError):
        recorder.restore(KEY_A, networks="203.0.113.0/24")


def test_stats_and_defaults_are_the_cores() -> None:
    recorder = portcullis.UsageRecorder()
    assert repr(recorder) == (
        "UsageRecorder(max_keys=10000, learning=604800, dormancy=2592000, burst_threshold=10, "
        "burst_window=600, volume_factor=10.0, volume_min_count=1000, baseline_hours=24)")
    small = portcullis.UsageRecorder(max_keys=2)
    for i, key in enumerate(["usage000000000AA", "usage000000000BB", "usage000000000CC"]):
        small.record(key, "allowed", at=NOW + i)
    stats = small.stats()
    assert (stats.keys, stats.max_keys, stats.dropped, stats.evicted) == (2, 2, 1, 0)
    assert small.drain(NOW + 10).dropped == 1


def test_uses_that_record_nothing_and_bad_record_arguments() -> None:
    recorder = portcullis.UsageRecorder()
    assert recorder.record(KEY_A, "unknown_key", at=NOW) == []
    assert recorder.record(KEY_A, "lookup_failed", at=NOW) == []
    assert recorder.drain(NOW).keys == []
    with pytest.raises(ValueError, match="reason code"):
        recorder.record(KEY_A, "alowed", at=NOW)
    with pytest.raises(ValueError, match="not a warning code"):
        recorder.record(KEY_A, "allowed", at=NOW, warnings=["rotation_overdue"])
    with pytest.raises(portcullis.MalformedKeyError):
        recorder.record("short", "allowed", at=NOW)
    with pytest.raises(ValueError, match="naive"):
        recorder.record(KEY_A, "allowed", at=datetime(2030, 1, 1))
    with pytest.raises(TypeError):
        recorder.record(KEY_A, "allowed", at=None)  # type: ignore[arg-type]


@pytest.mark.parametrize(("settings", "code"), [
    ({"max_keys": 0}, "bad_max_keys"),
    ({"max_keys": 1 << 21}, "bad_max_keys"),
    ({"max_keys": -1}, "bad_max_keys"),
    ({"max_keys": 1 << 200}, "bad_max_keys"),
    ({"burst_threshold": 0}, "bad_burst_threshold"),
    ({"burst_threshold": 1 << 32}, "bad_burst_threshold"),
    ({"volume_factor": 0.5}, "bad_volume_factor"),
    ({"volume_factor": float("nan")}, "bad_volume_factor"),
    ({"volume_factor": float("inf")}, "bad_volume_factor"),
    ({"baseline_hours": 0}, "bad_baseline_hours"),
    ({"baseline_hours": 8_761}, "bad_baseline_hours"),
])
def test_a_bad_setting_is_a_configuration_error_with_the_core_code(
        settings: Dict[str, Any], code: str) -> None:
    with pytest.raises(portcullis.ConfigurationError) as e:
        portcullis.UsageRecorder(**settings)
    assert isinstance(e.value, ValueError)
    assert e.value.code == code


@pytest.mark.parametrize(("settings", "error"), [
    ({"max_keys": True}, TypeError),
    ({"max_keys": 1.5}, TypeError),
    ({"learning": "7d"}, TypeError),
    ({"learning": -1}, ValueError),
    ({"dormancy": timedelta(seconds=-5)}, ValueError),
    ({"volume_factor": "10"}, TypeError),
    ({"volume_min_count": -1}, ValueError),
])
def test_a_setting_of_the_wrong_type_or_sign_raises(settings: Dict[str, Any],
                                                    error: type) -> None:
    with pytest.raises(error):
        portcullis.UsageRecorder(**settings)


def test_durations_take_timedelta() -> None:
    recorder = portcullis.UsageRecorder(learning=timedelta(days=1), dormancy=timedelta(days=2),
                                        burst_window=timedelta(minutes=5), volume_factor=3)
    assert "learning=86400, dormancy=172800" in repr(recorder)
    assert "burst_window=300, volume_factor=3.0" in repr(recorder)


@pytest.fixture()
def recorder() -> portcullis.UsageRecorder:
    return portcullis.UsageRecorder(learning=HOUR)


@pytest.fixture()
def counted(policy: portcullis.Policy,
            recorder: portcullis.UsageRecorder) -> portcullis.Checker:
    return portcullis.Checker(policy, portcullis.Peppers("p1", PEPPER), usage=recorder)


def test_a_checker_with_a_recorder_counts_decisions_and_networks(
        counted: portcullis.Checker, recorder: portcullis.UsageRecorder,
        store: portcullis.MemoryStore) -> None:
    assert counted.usage is not None
    issued = counted.issue("Usage", "org_42", ["claims:read"], now=NOW)
    store.insert(issued.record)
    bearer = f"Bearer {issued.key}"
    key_id = issued.record.id
    ok = counted.check("GET", "/v1/claims/1", lookup=store, authorization=bearer, https=True,
                       now=NOW + 10, client="203.0.113.5")
    assert ok.allowed and "new_network" not in ok.warnings
    # Refused for scope: counted and authenticated.
    counted.check("POST", "/v1/claims", lookup=store, authorization=bearer, https=True,
                  now=NOW + 20, client=ipaddress.ip_address("203.0.113.6"))
    # A wrong secret (the record holds another key's hash): counted, not a use.
    other = counted.issue("Other", "org_42", ["claims:read"], now=NOW).key
    mismatched = issued.record.with_hash(counted.hash_key(other))
    wrong = counted.check("GET", "/v1/claims/1", lookup=lambda _: mismatched,
                          authorization=bearer, https=True, now=NOW + 30, client="192.0.2.1")
    assert wrong.reason == "wrong_secret"
    # After learning, a new network is a decision warning and a signal.
    later = counted.check("GET", "/v1/claims/1", lookup=store, authorization=bearer,
                          https=True, now=NOW + 2 * HOUR, client="2001:db8:5::1")
    assert later.allowed and "new_network" in later.warnings
    batch = recorder.drain(NOW + 2 * HOUR + 1)
    (key,) = batch.keys
    assert key.key_id == key_id
    assert key.networks == ["203.0.113.0/24", "2001:db8:5::/48"]
    assert sum(h.allowed for h in key.hours) == 2
    denied: Dict[str, int] = {}
    for h in key.hours:
        for reason, n in h.denied.items():
            denied[reason] = denied.get(reason, 0) + n
    assert denied in ({"insufficient_scope": 1, "wrong_secret": 1},
                      {"unknown_route": 1, "wrong_secret": 1})
    assert [(s.kind, s.network) for s in batch.signals] == [("new_network", "2001:db8:5::/48")]


def test_requests_prepare_and_check_async_carry_the_client(
        counted: portcullis.Checker, recorder: portcullis.UsageRecorder,
        store: portcullis.MemoryStore) -> None:
    import asyncio
    issued = counted.issue("Usage", "org_42", ["claims:read"], now=NOW)
    store.insert(issued.record)
    bearer = f"Bearer {issued.key}"
    request = portcullis.Request("GET", "/v1/claims/1", authorization=bearer, https=True,
                                 client="2001:db8:a::1")
    assert request.client == "2001:db8:a::1" and "client='2001:db8:a::1'" in repr(request)
    assert portcullis.Request("GET", "/").client is None
    counted.check_many([request], lookup=store, now=NOW + 1)
    pending = counted.prepare("GET", "/v1/claims/1", authorization=bearer, https=True,
                              now=NOW + 2, client="198.51.100.7")
    assert isinstance(pending, portcullis.Pending)
    counted.finish(pending, store.get(pending.key_id), now=NOW + 2)

    async def lookup(key_id: str) -> Any:
        return store.get(key_id)

    asyncio.run(counted.check_async("GET", "/v1/claims/1", lookup=lookup, authorization=bearer,
                                    https=True, now=NOW + 3, client="192.0.2.44"))
    (key,) = recorder.drain(NOW + 4).keys
    assert sorted(key.networks) == ["192.0.2.0/24", "198.51.100.0/24", "2001:db8:a::/48"]
    assert sum(h.allowed for h in key.hours) == 3


def test_with_usage_keeps_the_checker_and_with_access_tokens_keeps_the_recorder(
        checker: portcullis.Checker, recorder: portcullis.UsageRecorder,
        policy: portcullis.Policy) -> None:
    assert checker.usage is None
    counted = checker.with_usage(recorder)
    assert counted.usage is not None and checker.usage is None
    assert counted.policy.realm == checker.policy.realm
    verifier = portcullis.AccessVerifier(policy, portcullis.AccessKeys("k1", bytes(32)))
    both = counted.with_access_tokens(verifier)
    assert both.usage is not None and both.access_tokens is not None
    assert checker.with_access_tokens(verifier).with_usage(recorder).access_tokens is not None
    # The same recorder: what the new checker records, the caller's handle drains.
    store = portcullis.MemoryStore()
    issued = both.issue("Usage", "org_42", ["claims:read"], now=NOW)
    store.insert(issued.record)
    both.check("GET", "/v1/claims/1", lookup=store, authorization=f"Bearer {issued.key}",
               https=True, now=NOW)
    assert [k.key_id for k in recorder.drain(NOW).keys] == [issued.record.id]


@pytest.mark.parametrize("bad", ["203.0.113", "example.com", "::g", "", "203.0.113.5/24"])
def test_an_invalid_client_address_raises_value_error(
        counted: portcullis.Checker, store: portcullis.MemoryStore, bad: str) -> None:
    with pytest.raises(ValueError, match="client must be an IPv4 or IPv6 address"):
        counted.check("GET", "/v1/claims/1", lookup=store, now=NOW, client=bad)
    with pytest.raises(ValueError, match="client"):
        portcullis.Request("GET", "/", client=bad)
    with pytest.raises(ValueError, match="client"):
        portcullis.UsageRecorder().record(KEY_A, "allowed", at=NOW, client=bad)


def test_a_client_of_another_type_raises_type_error(counted: portcullis.Checker,
                                                    store: portcullis.MemoryStore) -> None:
    with pytest.raises(TypeError, match="client must be str or an ipaddress address"):
        counted.check("GET", "/", lookup=store, client=b"203.0.113.5")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        counted.check("GET", "/", lookup=store,
                      client=ipaddress.ip_network("203.0.113.0/24"))  # type: ignore[arg-type]


def test_draining_from_another_thread_while_checking_loses_no_count(
        counted: portcullis.Checker, recorder: portcullis.UsageRecorder,
        store: portcullis.MemoryStore) -> None:
    issued = counted.issue("Usage", "org_42", ["claims:read"], now=NOW)
    store.insert(issued.record)
    bearer = f"Bearer {issued.key}"
    rounds, threads = 2_000, 4
    done = threading.Event()
    drained: List[portcullis.UsageBatch] = []

    def drain() -> None:
        while not done.is_set():
            drained.append(recorder.drain(NOW + 10))
        drained.append(recorder.drain(NOW + 10))

    def check() -> None:
        batch = [portcullis.Request("GET", "/v1/claims/1", authorization=bearer, https=True,
                                    client="203.0.113.5")] * 50
        for _ in range(rounds // 50):
            for d in counted.check_many(batch, lookup=store, now=NOW + 5):
                assert d.allowed

    drainer = threading.Thread(target=drain)
    drainer.start()
    workers = [threading.Thread(target=check) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    done.set()
    drainer.join()
    total = sum(h.allowed for b in drained for k in b.keys for h in k.hours)
    assert total == rounds * threads
    assert len(drained) >= 2


def test_client_address_keeps_ip_addresses_only() -> None:
    from portcullis.integrations._common import client_address
    assert client_address("203.0.113.5") == "203.0.113.5"
    assert client_address("2001:db8::1") == "2001:db8::1"
    for not_ip in (None, "", "testclient", "/run/app.sock"):
        assert client_address(not_ip) is None


def test_the_flask_integration_passes_the_peer_address(
        counted: portcullis.Checker, recorder: portcullis.UsageRecorder,
        store: portcullis.MemoryStore) -> None:
    flask = pytest.importorskip("flask")
    from portcullis.integrations.flask import Portcullis
    issued = counted.issue("Usage", "org_42", ["claims:read"])
    store.insert(issued.record)
    app = flask.Flask(__name__)
    auth = Portcullis(app, checker=counted, lookup=store)

    def claims() -> Dict[str, str]:
        return {"ok": "yes"}

    app.add_url_rule("/v1/claims", view_func=auth.require("claims:read")(claims))

    response = app.test_client().get(
        "/v1/claims", headers={"Authorization": f"Bearer {issued.key}"},
        base_url="https://localhost", environ_base={"REMOTE_ADDR": "198.51.100.23"})
    assert response.status_code == 200
    (key,) = recorder.drain().keys
    assert key.networks == ["198.51.100.0/24"]


def test_the_fastapi_integration_passes_the_asgi_client_host(
        counted: portcullis.Checker, recorder: portcullis.UsageRecorder,
        store: portcullis.MemoryStore) -> None:
    pytest.importorskip("fastapi")
    from portcullis.integrations._common import Guard, Principal
    from portcullis.integrations.fastapi import _decide
    issued = counted.issue("Usage", "org_42", ["claims:read"])
    store.insert(issued.record)
    scope: Dict[str, Any] = {
        "type": "http", "method": "GET", "scheme": "https", "raw_path": b"/v1/claims",
        "headers": [(b"authorization", f"Bearer {issued.key}".encode())],
        "client": ("2001:db8:7::9", 50000)}
    guard = Guard(counted, store)
    assert isinstance(_decide(guard, scope, False, None), Principal)
    # Starlette's test client names itself "testclient": no address, not an error.
    _decide(guard, {**scope, "client": ("testclient", 50000)}, False, None)
    (key,) = recorder.drain().keys
    assert key.networks == ["2001:db8:7::/48"]
    assert sum(h.allowed for h in key.hours) == 2
