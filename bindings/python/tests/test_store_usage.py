"""Usage and the audit through the database ``Store`` (issue #20), on SQLite and on a real
PostgreSQL server (shared by the module's tests: each reads back only its own keys, or
what was written after it started): ``drain_usage`` saves what a recorder counted (``last_used``,
``key_usage``, ``usage_signals`` read it back), a failed save gives the batch back on the
error, ``restore_usage`` carries a recorder across a restart, and every key write is
audited under the actor it names (or the store's)."""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import List

import pytest
from test_database_store import pg_url  # noqa: F401  (the module's PostgreSQL fixture)

import portcullis
from conftest import NOW

HOUR = NOW - NOW % 3600  # an hour's first second
CLIENT = "203.0.113.5"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:{tmp_path / 'keys.sqlite3'}"
    pg: str = request.getfixturevalue("pg_url")
    return pg


def utc(secs: int) -> datetime:
    return datetime.fromtimestamp(secs, timezone.utc)


def new_key(checker: portcullis.Checker, store: portcullis.Store) -> portcullis.IssuedKey:
    issued = checker.issue("Usage", "org_42", ["claims:read"], now=NOW)
    store.insert(issued.record)
    return issued


def use(checker: portcullis.Checker, store: portcullis.Store, auth: str, at: int) -> int:
    return checker.check("GET", "/v1/claims/42", lookup=store, authorization=auth,
                         https=True, now=at, client=CLIENT).status


def test_a_drain_saves_what_the_checker_recorded_and_the_store_reads_it_back(
    policy: portcullis.Policy, url: str
) -> None:
    recorder = portcullis.UsageRecorder()
    checker = portcullis.Checker(policy, portcullis.Peppers("p1", bytes(range(32))),
                                 usage=recorder)
    store = portcullis.Store.open(url)
    issued = new_key(checker, store)
    never = new_key(checker, store)
    assert use(checker, store, f"Bearer {issued.key}", HOUR + 10) == 200
    assert use(checker, store, f"Bearer {issued.key}", HOUR + 20) == 200
    # A decision made otherwise (Checker.verify) is recorded by the host.
    recorder.record(issued.record.id, "wrong_secret", at=HOUR + 30)
    batch = store.drain_usage(recorder, now=HOUR + 60)
    assert isinstance(batch, portcullis.UsageBatch)
    assert [k.key_id for k in batch.keys] == [issued.record.id]

    last_used = store.last_used()
    assert last_used[issued.record.id] == utc(HOUR + 20) and never.record.id not in last_used
    history = store.key_usage(issued.record.id)
    assert isinstance(history, portcullis.UsageHistory)
    assert history.key_id == issued.record.id
    assert (history.first_used, history.last_used) == (utc(HOUR + 10), utc(HOUR + 20))
    assert history.networks == ["203.0.113.0/24"]
    [hour] = history.hours
    assert isinstance(hour, portcullis.HourCounts)
    assert (hour.hour, hour.allowed, hour.denied, hour.total) == (
        utc(HOUR), 2, {"wrong_secret": 1}, 3)
    assert history.signals == []
    assert store.key_usage(issued.record.id, since=HOUR + 3600).hours == []

    unused = store.key_usage(never.record.id)
    assert (unused.first_used, unused.last_used, unused.networks, unused.hours) == (
        None, None, [], [])
    # Text that is not a key id names no key, as for Store.get.
    assert store.key_usage("not a key id").hours == []
    # A second, empty drain writes nothing and changes nothing.
    assert store.drain_usage(recorder, now=HOUR + 120).keys == []
    assert store.key_usage(issued.record.id).hours[0].total == 3


def test_saving_is_additive_so_a_batch_saved_twice_counts_twice(
    checker: portcullis.Checker, url: str
) -> None:
    store = portcullis.Store.open(url)
    issued = new_key(checker, store)
    recorder = portcullis.UsageRecorder()
    recorder.record(issued.record.id, "allowed", at=HOUR + 5)
    batch = recorder.drain(now=HOUR + 60)
    store.save_usage(batch)
    store.save_usage(batch)
    assert store.key_usage(issued.record.id).hours[0].allowed == 2
    assert store.last_used()[issued.record.id] == utc(HOUR + 5)


def record_burst(recorder: portcullis.UsageRecorder, key_id: str, at: int) -> None:
    for i in range(2):
        recorder.record(key_id, "wrong_secret", at=at + i)


def test_signals_are_saved_and_read_newest_first_filtered_and_paged(
    checker: portcullis.Checker, url: str
) -> None:
    store = portcullis.Store.open(url)
    start = max([s.seq for s in store.usage_signals(limit=1)], default=0)
    a = new_key(checker, store).record.id
    b = new_key(checker, store).record.id
    recorder = portcullis.UsageRecorder(burst_threshold=2)
    record_burst(recorder, a, HOUR)
    recorder.record(b, "allowed", at=HOUR + 100, warnings=["rotation_due"])
    batch = store.drain_usage(recorder, now=HOUR + 200)
    assert sorted(s.kind for s in batch.signals) == ["rotation_due", "wrong_secret_burst"]

    signals = store.usage_signals(after=start)
    assert [s.kind for s in signals] == [s.kind for s in reversed(batch.signals)]
    assert signals[0].seq > signals[1].seq
    burst = next(s for s in signals if s.kind == "wrong_secret_burst")
    assert isinstance(burst, portcullis.StoredSignal)
    assert (burst.key_id, burst.at) == (a, utc(HOUR + 1))
    assert burst.details == {"attempts": 2, "since": HOUR}
    drained = next(s for s in batch.signals if s.kind == "wrong_secret_burst")
    assert burst.to_json() == {**drained.to_json(), "seq": burst.seq}
    rotation = next(s for s in signals if s.kind == "rotation_due")
    assert rotation.details == {} and rotation.to_json()["seq"] == rotation.seq

    assert [s.key_id for s in store.usage_signals(key=a)] == [a]
    assert store.usage_signals(key="not a key id") == []
    assert [s.key_id for s in store.usage_signals(since=HOUR + 100, after=start)] == [b]
    newest = store.usage_signals(limit=1)
    assert [s.seq for s in newest] == [signals[0].seq]
    assert [s.seq for s in store.usage_signals(before=newest[0].seq, after=start)] == [
        signals[1].seq]
    assert [s.seq for s in store.usage_signals(after=signals[1].seq)] == [signals[0].seq]
    assert store.usage_signals(limit=0) == []
    assert [s.kind for s in store.key_usage(a).signals] == ["wrong_secret_burst"]


def test_a_failed_drain_raises_the_store_error_with_the_batch_to_save_later(
    checker: portcullis.Checker, tmp_path: Path
) -> None:
    path = tmp_path / "keys.sqlite3"
    store = portcullis.Store.open(f"sqlite:{path}")
    issued = new_key(checker, store)
    recorder = portcullis.UsageRecorder()
    recorder.record(issued.record.id, "allowed", at=HOUR + 5)
    sql_elsewhere(path, "DROP TABLE key_usage")  # every save now fails
    with pytest.raises(portcullis.DatabaseError) as info:
        store.drain_usage(recorder, now=HOUR + 60)
    error = info.value
    assert error.code and error.hint is not None
    assert error.batch is not None
    assert error.batch.to_json()["keys"][0]["key_id"] == issued.record.id
    # The recorder gave it up: only the error holds it.
    assert recorder.drain(now=HOUR + 61).keys == []
    other = portcullis.Store.open(f"sqlite:{tmp_path / 'other.sqlite3'}")
    other.save_usage(error.batch)
    assert other.last_used() == {issued.record.id: utc(HOUR + 5)}
    # The batch is not pickled or copied; the error's fields are.
    for again in (pickle.loads(pickle.dumps(error)), copy.deepcopy(error)):
        assert type(again) is portcullis.DatabaseError and again.batch is None
        assert (again.code, again.hint, again.message) == (error.code, error.hint,
                                                           error.message)
    # Any other DatabaseError has none.
    with pytest.raises(portcullis.DatabaseError) as info:
        store.insert(issued.record)
    assert info.value.batch is None


def test_restore_gives_a_new_recorder_what_the_store_knows(
    checker: portcullis.Checker, url: str
) -> None:
    store = portcullis.Store.open(url)
    a = new_key(checker, store).record.id
    b = new_key(checker, store).record.id
    first = portcullis.UsageRecorder(learning=0)
    for key_id in (a, b):
        first.record(key_id, "allowed", at=HOUR + 5, client=CLIENT)
    store.drain_usage(first, now=HOUR + 60)

    after_restart = portcullis.UsageRecorder(learning=0)
    restored = store.restore_usage(after_restart)  # the shared database may hold more
    assert restored >= 2 and after_restart.stats().keys == restored
    # The network it knew is not new; another one is.
    assert after_restart.record(a, "allowed", at=HOUR + 70, client="203.0.113.9") == []
    assert after_restart.record(a, "allowed", at=HOUR + 80, client="198.51.100.1") == [
        "new_network"]

    named = portcullis.UsageRecorder()
    assert store.restore_usage(named, key_ids=[b, "not a key id"]) == 1
    assert named.stats().keys == 1


def test_writes_are_audited_as_the_actor_they_name_or_the_stores(
    checker: portcullis.Checker, url: str
) -> None:
    store = portcullis.Store.open(url, actor="billing-service")
    assert store.actor == "billing-service"
    start = max([e.seq for e in store.audit_log(limit=1)], default=0)
    issued = checker.issue("Audited", "org_42", ["claims:read"], now=NOW)
    store.insert(issued.record)
    key_id = issued.record.id
    assert store.revoke(key_id, at=NOW + 10, actor="  alice@example.com ") is False
    assert store.revoke(key_id, at=NOW + 20, actor="bob") is True  # nothing to audit
    other = checker.issue("Rotated", "org_42", ["claims:read"], now=NOW)
    store.insert(other.record, actor="carol")
    rotation = store.rotate(other.record.id, checker, 60, now=NOW + 30, actor="dave")

    log = store.audit_log(after=start)
    assert all(isinstance(e, portcullis.AuditEntry) for e in log)
    assert [(e.key_id, e.action, e.actor) for e in log] == [
        (rotation.successor.record.id, "created", "dave"),
        (other.record.id, "rotated", "dave"),
        (other.record.id, "created", "carol"),
        (key_id, "revoked", "alice@example.com"),
        (key_id, "created", "billing-service"),
    ]
    assert log[0].detail == other.record.id and log[1].detail == rotation.successor.record.id
    assert log[3].at == utc(NOW + 10) and log[4].detail == ""
    seqs = [e.seq for e in log]
    assert seqs == sorted(seqs, reverse=True)

    assert [e.action for e in store.audit_log(key=key_id)] == ["revoked", "created"]
    assert store.audit_log(key="not a key id") == []
    assert [e.seq for e in store.audit_log(limit=2)] == seqs[:2]
    assert [e.seq for e in store.audit_log(before=seqs[1], limit=2)] == seqs[2:4]
    assert [e.seq for e in store.audit_log(after=seqs[2])] == seqs[:2]
    assert [e.seq for e in store.audit_log(before=seqs[3], after=start)] == seqs[4:]
    secrets: List[str] = [issued.key, other.key, rotation.successor.key]
    text = repr([(e.key_id, e.action, e.actor, e.detail, e) for e in log])
    assert not any(s in text for s in secrets)

    anonymous = portcullis.Store.open(url)
    assert anonymous.actor is None
    third = checker.issue("Nobody", "org_42", ["claims:read"], now=NOW)
    anonymous.insert(third.record)
    [entry] = anonymous.audit_log(key=third.record.id)
    assert entry.actor is None and entry.key_id == third.record.id


@pytest.mark.parametrize("bad", ["", "   ", "a" * 257, "eve\nforged line", "x\x1b[31m"])
def test_a_bad_actor_is_a_value_error_and_nothing_is_written(
    checker: portcullis.Checker, tmp_path: Path, bad: str
) -> None:
    url = f"sqlite:{tmp_path / 'keys.sqlite3'}"
    with pytest.raises(portcullis.ConfigurationError) as info:
        portcullis.Store.open(url, actor=bad)
    assert isinstance(info.value, ValueError) and info.value.code == "invalid_argument"
    assert bad.strip() == "" or bad.strip()[:5] not in info.value.message
    store = portcullis.Store.open(url)
    issued = checker.issue("Kept", "org_42", ["claims:read"], now=NOW)
    with pytest.raises(portcullis.ConfigurationError):
        store.insert(issued.record, actor=bad)
    assert store.get(issued.record.id) is None
    store.insert(issued.record)
    with pytest.raises(portcullis.ConfigurationError):
        store.revoke(issued.record.id, actor=bad)
    with pytest.raises(portcullis.ConfigurationError):
        store.rotate(issued.record.id, checker, 60, actor=bad)
    assert [e.action for e in store.audit_log()] == ["created"]


def test_bad_arguments_are_refused(checker: portcullis.Checker, tmp_path: Path) -> None:
    store = portcullis.Store.open(f"sqlite:{tmp_path / 'keys.sqlite3'}")
    with pytest.raises(TypeError):
        store.insert(checker.issue("x", "o", [], now=NOW).record, actor=42)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        store.audit_log(limit=-1)
    with pytest.raises(TypeError):
        store.audit_log(before="7")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        store.usage_signals(limit=True)
    with pytest.raises(ValueError):
        store.key_usage("0123456789abcdef", since=datetime(2030, 1, 1))  # naive
    with pytest.raises(TypeError):
        store.drain_usage(object())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        store.save_usage({"keys": []})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        store.restore_usage(portcullis.UsageRecorder(), key_ids="0123456789abcdef")

def sql_elsewhere(path: Path, statement: str) -> None:
    """Runs one SQL statement on a store's database file in another process: Python's
    SQLite and the store's own in one process break each other's locks and WAL mappings
    (a bus error when one truncates what the other has mapped)."""
    script = ("import sqlite3, sys\n"
              "with sqlite3.connect(sys.argv[1]) as db:\n"
              "    db.execute(sys.argv[2])\n")
    subprocess.run([sys.executable, "-c", script, str(path), statement], check=True, timeout=60)
