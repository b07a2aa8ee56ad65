"""The example app's usage monitoring (issue #20), over real HTTP on 127.0.0.1, in both of
its key-store modes (its own SQLite table, and portcullis's ``Store`` at
``DATABASE_URL`` on SQLite and PostgreSQL): a key used through the app shows its
``last_used`` in the key list once the recorder is drained (never a write per request),
the drainer stops cleanly with a last drain, a restarted app restores what it knew, and
with ``DATABASE_URL`` the audit names the admin who acted."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

import pytest
from test_fleet import pg_url  # noqa: F401  (the module's PostgreSQL fixture)
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from http_client import ADMIN, TIMEOUT, Client

import portcullis
from app import UsageDrainer, create_app

PEPPER = bytes(range(100, 132))
ADMIN_NAME = "alice@claimport.example"


@dataclass
class Running:
    client: Client
    drainer: UsageDrainer
    db_path: Path
    database_url: Optional[str]



def start(db_path: Path, database_url: Optional[str]) -> Iterator[Running]:
    # A drain interval far longer than a test: only the test's own drains run.
    app = create_app(str(db_path), PEPPER, ADMIN, trust_forwarded_proto=True,
                     database_url=database_url, admin_name=ADMIN_NAME, usage_every=3600)
    drainer = app.extensions["claimport.usage"]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Running(Client(f"http://127.0.0.1:{server.server_port}"), drainer, db_path,
                      database_url)
    finally:
        server.shutdown()
        thread.join(timeout=TIMEOUT)
        server.server_close()
        drainer.stop()


@pytest.fixture(params=["own", "store-sqlite", "store-postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Optional[str]:
    if request.param == "own":
        return None
    if request.param == "store-sqlite":
        return f"sqlite:{tmp_path / 'keys.sqlite3'}"
    pg: str = request.getfixturevalue("pg_url")
    return pg


@pytest.fixture()
def running(tmp_path: Path, database_url: Optional[str]) -> Iterator[Running]:
    yield from start(tmp_path / "claimport.sqlite3", database_url)


def listed(client: Client) -> Dict[str, Any]:
    status, keys, _ = client.admin("GET", "/settings/api-keys?owner=org_acme")
    assert status == 200
    return {k["id"]: k for k in keys}


def networks(running: Running, key_id: str) -> Any:
    if running.database_url is None:
        with sqlite3.connect(running.db_path) as db:
            row = db.execute("SELECT networks FROM api_key_usage WHERE id = ?",
                             (key_id,)).fetchone()
        return json.loads(row[0])
    return portcullis.Store.open(running.database_url).key_usage(key_id).networks


def test_a_key_used_through_the_app_shows_last_used_in_the_list_after_a_drain(
    running: Running
) -> None:
    used = running.client.new_key("used", ["Read Claims"])
    idle = running.client.new_key("idle", ["Read Claims"])
    assert listed(running.client)[used["id"]]["last_used"] is None
    before = int(time.time())
    assert running.client.call("GET", "/v1/claims", key=used["key"])[0] == 200
    # Nothing is written per request: the list changes only after a drain.
    assert listed(running.client)[used["id"]]["last_used"] is None
    running.drainer.drain()
    keys = listed(running.client)
    last_used = datetime.fromisoformat(keys[used["id"]]["last_used"])
    assert last_used.tzinfo is not None
    assert before <= last_used.timestamp() <= time.time() + 1
    assert keys[idle["id"]]["last_used"] is None
    # The client's address reached the recorder (127.0.0.1's network).
    assert networks(running, used["id"]) == ["127.0.0.0/24"]


def test_stopping_the_drainer_ends_its_thread_and_drains_a_last_time(
    running: Running
) -> None:
    created = running.client.new_key("k", ["Read Claims"])
    assert running.client.call("GET", "/v1/claims", key=created["key"])[0] == 200
    thread = running.drainer._thread
    assert thread.is_alive()
    running.drainer.stop()
    assert not thread.is_alive()
    assert listed(running.client)[created["id"]]["last_used"] is not None
    running.drainer.stop()  # a second stop does nothing


def test_a_restarted_app_restores_what_its_recorder_knew(tmp_path: Path,
                                                        database_url: Optional[str]) -> None:
    db_path = tmp_path / "claimport.sqlite3"
    first = start(db_path, database_url)
    running = next(first)
    created = running.client.new_key("k", ["Read Claims"])
    assert running.client.call("GET", "/v1/claims", key=created["key"])[0] == 200
    running.drainer.drain()
    first.close()  # the server stops and the drainer with it

    second = start(db_path, database_url)
    again = next(second)
    try:
        assert again.drainer.recorder.stats().keys >= 1
        assert listed(again.client)[created["id"]]["last_used"] is not None
    finally:
        second.close()


def test_a_failed_save_keeps_the_batch_for_the_next_round(tmp_path: Path) -> None:
    url = f"sqlite:{tmp_path / 'keys.sqlite3'}"
    gen = start(tmp_path / "claimport.sqlite3", url)
    running = next(gen)
    try:
        created = running.client.new_key("k", ["Read Claims"])
        assert running.client.call("GET", "/v1/claims", key=created["key"])[0] == 200
        keys = tmp_path / "keys.sqlite3"
        sql_elsewhere(keys, "ALTER TABLE key_usage RENAME TO key_usage_away")
        running.drainer.drain()  # fails; the batch is kept
        sql_elsewhere(keys, "ALTER TABLE key_usage_away RENAME TO key_usage")
        assert listed(running.client)[created["id"]]["last_used"] is None
        running.drainer.drain()  # the kept batch first
        assert listed(running.client)[created["id"]]["last_used"] is not None
    finally:
        gen.close()


def test_the_store_audits_the_admin_who_acted(tmp_path: Path) -> None:
    url = f"sqlite:{tmp_path / 'keys.sqlite3'}"
    gen = start(tmp_path / "claimport.sqlite3", url)
    running = next(gen)
    try:
        created = running.client.new_key("k", ["Read Claims"])
        key_id = created["id"]
        assert running.client.admin("POST", f"/settings/api-keys/{key_id}/rotate")[0] == 201
        assert running.client.admin("POST", f"/settings/api-keys/{key_id}/revoke")[0] == 200
        log = portcullis.Store.open(url).audit_log(key=key_id)
        assert [(e.action, e.actor) for e in log] == [
            ("revoked", ADMIN_NAME), ("rotated", ADMIN_NAME), ("created", ADMIN_NAME)]
        assert ADMIN not in json.dumps([e.actor for e in log])  # the token is not the name
    finally:
        gen.close()


def test_a_signal_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    gen = start(tmp_path / "claimport.sqlite3", None)
    running = next(gen)
    try:
        created = running.client.new_key("k", ["Read Claims"])
        # A decision made outside the checker (as Checker.verify's would be) with the
        # rotation warning raises a signal.
        running.drainer.recorder.record(created["id"], "allowed", at=int(time.time()),
                                        warnings=["rotation_due"])
        with caplog.at_level("WARNING", logger="claimport.usage"):
            running.drainer.drain()
        assert any("rotation_due" in r.getMessage() and created["id"] in r.getMessage()
                   for r in caplog.records)
    finally:
        gen.close()

def sql_elsewhere(path: Path, statement: str) -> None:
    """Runs one SQL statement on a store's database file in another process: Python's
    SQLite and the store's own in one process break each other's locks and WAL mappings
    (a bus error when one truncates what the other has mapped)."""
    script = ("import sqlite3, sys\n"
              "with sqlite3.connect(sys.argv[1]) as db:\n"
              "    db.execute(sys.argv[2])\n")
    subprocess.run([sys.executable, "-c", script, str(path), statement], check=True, timeout=60)
