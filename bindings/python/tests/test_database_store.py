"""The database store from Python (issue #18 item 5): ``Store.open`` on SQLite and on a
real PostgreSQL server (started by ``tests/pg-server.sh``), used as the lookup of
``Checker.check`` and ``check_many``, with its writes; two stores on one database stand
for two processes (each has its own cache and change feed); typed errors with a hint."""

from __future__ import annotations

import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

import portcullis
from conftest import NOW, ROOT

SERVER = ROOT / "tests" / "pg-server.sh"


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A throwaway PostgreSQL server's URL (installed if missing; stopped afterwards)."""
    directory = tempfile.mktemp(prefix="portcullis-py-pg-")
    started = subprocess.run(
        ["bash", str(SERVER), "start", directory],
        capture_output=True,
        text=True,
        check=False,
    )
    if started.returncode != 0:
        subprocess.run(["bash", str(SERVER), "stop", directory], check=False)
        pytest.fail(f"PostgreSQL did not start: {started.stderr}")
    try:
        yield started.stdout.strip()
    finally:
        subprocess.run(["bash", str(SERVER), "stop", directory], check=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:{tmp_path / 'keys.sqlite3'}"
    pg: str = request.getfixturevalue("pg_url")
    return pg


def header(issued: portcullis.IssuedKey) -> str:
    return f"Bearer {issued.key}"


def status(checker: portcullis.Checker, store: portcullis.Store, auth: str) -> int:
    decision = checker.check(
        "GET", "/v1/claims/42", lookup=store, authorization=auth, https=True, now=NOW
    )
    return decision.status


def test_a_key_revoked_through_one_store_is_refused_by_the_other_within_the_bound(
    checker: portcullis.Checker, url: str
) -> None:
    a = portcullis.Store.open(url)
    b = portcullis.Store.open(url)
    issued = checker.issue("Fleet", "org_42", ["claims:read"], now=NOW)
    a.insert(issued.record)
    assert status(checker, a, header(issued)) == 200
    assert status(checker, b, header(issued)) == 200
    assert a.revoke(issued.record.id, at=NOW - 10) is False
    assert status(checker, a, header(issued)) == 401
    start = time.monotonic()
    while status(checker, b, header(issued)) != 401 and time.monotonic() - start < 1:
        time.sleep(0.002)
    assert status(checker, b, header(issued)) == 401
    assert time.monotonic() - start < 1
    assert b.revoke(issued.record.id, at=NOW) is True
    assert a.fresh and b.fresh


def test_writes_reads_and_rotation(checker: portcullis.Checker, url: str) -> None:
    store = portcullis.Store.open(url, staleness=0.5)
    issued = checker.issue("Rotated", "org_42", ["claims:read"], now=NOW)
    store.insert(issued.record.to_json())
    with pytest.raises(portcullis.DatabaseError) as duplicate:
        store.insert(issued.record)
    assert duplicate.value.code == "duplicate_key" and duplicate.value.hint
    got = store.get(issued.record.id)
    assert got is not None and got.id == issued.record.id
    assert store.get("AAAAAAAAAAAAAAAA") is None
    assert store.get("not an id") is None
    rotation = store.rotate(issued.record.id, checker, 60, now=NOW)
    old = store.get(issued.record.id)
    assert old is not None and old.expires_at is not None
    assert int(old.expires_at.timestamp()) == NOW + 60
    assert status(checker, store, header(rotation.successor)) == 200
    store.revoke(issued.record.id, at=NOW - 1)
    with pytest.raises(portcullis.DatabaseError) as inactive:
        store.rotate(issued.record.id, checker, 60, now=NOW)
    assert inactive.value.code == "key_inactive"
    for missing in ("AAAAAAAAAAAAAAAA", "sk_live_whole_key_pasted"):
        with pytest.raises(portcullis.DatabaseError) as absent:
            store.revoke(missing)
        assert absent.value.code == "key_not_found"
    decisions = checker.check_many(
        [
            ("GET", "/v1/claims/1", header(rotation.successor), None, True),
            ("GET", "/v1/claims/1", header(issued), None, True),
        ],
        lookup=store,
        now=NOW,
    )
    assert [d.status for d in decisions] == [200, 401]
    assert "pw-t3st" not in repr(store) and repr(store).startswith("Store(")


def test_checks_from_threads_share_one_store(checker: portcullis.Checker, url: str) -> None:
    store = portcullis.Store.open(url)
    keys = [checker.issue(f"k{i}", "org_42", ["claims:read"], now=NOW) for i in range(8)]
    for k in keys:
        store.insert(k.record)
    failures: list[int] = []

    def work(k: portcullis.IssuedKey) -> None:
        for _ in range(50):
            s = status(checker, store, header(k))
            if s != 200:
                failures.append(s)

    threads = [threading.Thread(target=work, args=(k,)) for k in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_a_bad_url_is_a_typed_error_with_a_hint() -> None:
    with pytest.raises(portcullis.DatabaseError) as bad:
        portcullis.Store.open("mysql://db/keys")
    assert bad.value.code == "store_bad_url"
    assert "postgresql://" in bad.value.hint
    assert isinstance(bad.value, portcullis.PortcullisError)


def test_an_unreachable_server_never_shows_the_password() -> None:
    with pytest.raises(portcullis.DatabaseError) as down:
        portcullis.Store.open("postgresql://app:hunter2-secret@127.0.0.1:1/portcullis")
    assert down.value.code == "store_unreachable"
    assert down.value.hint
    assert "hunter2" not in str(down.value) and "hunter2" not in repr(down.value)


def test_a_wrong_password_is_store_auth_failed(pg_url: str) -> None:
    wrong = pg_url.replace("pw-t3st-Zq81", "not-the-password")
    with pytest.raises(portcullis.DatabaseError) as refused:
        portcullis.Store.open(wrong)
    assert refused.value.code == "store_auth_failed"
    assert "not-the-password" not in str(refused.value)


def test_a_file_that_is_not_a_database_is_foreign(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("these are not the keys you are looking for\n" * 20)
    with pytest.raises(portcullis.DatabaseError) as foreign:
        portcullis.Store.open(f"sqlite:{path}")
    assert foreign.value.code == "store_foreign"


def test_staleness_must_be_a_positive_duration(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        portcullis.Store.open(f"sqlite:{tmp_path / 'k.sqlite3'}", staleness=0)
    with pytest.raises(TypeError):
        portcullis.Store.open(f"sqlite:{tmp_path / 'k.sqlite3'}", staleness="1s")  # type: ignore[arg-type]


def test_the_database_error_survives_pickling() -> None:
    import pickle

    error = portcullis.DatabaseError("down", "store_unreachable", "start it")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.code, copy.hint, str(copy)) == ("store_unreachable", "start it", "down")




def test_an_attached_verifier_fails_closed_when_postgresql_stops(
    policy: portcullis.Policy,
) -> None:
    directory = tempfile.mktemp(prefix="portcullis-py-pg-stop-")
    started = subprocess.run(["bash", str(SERVER), "start", directory],
                             capture_output=True, text=True, check=False)
    try:
        assert started.returncode == 0, started.stderr
        verifier = portcullis.AccessVerifier(policy, portcullis.AccessKeys("k1", bytes(32)))
        store = portcullis.Store.open(started.stdout.strip(), staleness=0.3)
        store.attach(verifier)
        checker = portcullis.Checker(policy, portcullis.Peppers("p1", bytes(32)),
                                     access_tokens=verifier)
        now = int(time.time())
        token = verifier.sign(portcullis.AccessClaims(
            subject="user_7", client_id="partner", scopes=["claims:read"], issued_at=now,
            expires_at=now + 3600, token_id="AAAAAAAAAAAAAAAA", family="BBBBBBBBBBBBBBBB"))

        def decide() -> portcullis.Decision:
            return checker.check("GET", "/v1/claims/42", lookup=store,
                                 authorization=f"Bearer {token}", https=True)

        assert decide().status == 200
        subprocess.run(["bash", str(SERVER), "stop", directory], check=True)
        start = time.monotonic()
        while decide().status != 503 and time.monotonic() - start < 2:
            time.sleep(0.01)
        decision = decide()
        assert (decision.status, decision.reason) == (503, "lookup_failed")
        assert not store.fresh
    finally:
        subprocess.run(["bash", str(SERVER), "stop", directory], check=False)
