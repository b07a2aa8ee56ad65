"""ClaimPort: a small claims-management API with portcullis as its auth middleware.

- Customers create API keys in "Settings > API Keys" with a name and permissions (Read
  Claims, Write Claims, Read Orders, Read Analytics, Full Access); the key is shown once and
  only its record (hash, scopes, lifecycle) is stored, in SQLite.
- Every ``/v1`` call carries ``Authorization: Bearer sk_live_…``; portcullis's Flask
  extension (``portcullis.integrations.flask``, route-table mode: the policy's routes
  decide) turns the request into a decision and answers 400/401/403 (with
  ``WWW-Authenticate``) or 503 itself, or lets the view run with ``g.portcullis`` (owner,
  key id, scopes, the decision).
- Keys can be revoked and rotated (the old key keeps working for a grace period).
- Usage: a ``portcullis.UsageRecorder`` on the checker counts every key's uses (the
  Flask extension passes the client address); a background thread drains it into the
  key database every ``usage_every`` seconds (never a write per request) and once more
  when stopped, and the key list shows each key's ``last_used``. Unusual-activity signals
  (a new network, a volume spike, use after dormancy, a wrong-secret burst) are logged
  to ``claimport.usage``. With ``DATABASE_URL`` the store keeps the counts per hour and
  the signals too (``portcullis keys usage ID``), and the audit log names who acted.
- On a fleet (several worker processes or machines), ``DATABASE_URL`` (``postgresql://…``
  or ``sqlite:PATH``) keeps the key records in portcullis's own store instead: every
  worker opens it, answers from its cache, and refuses a key revoked through any other
  worker within milliseconds (at most the 1 s staleness bound; past it, 503). The OAuth
  state (clients, codes, refresh tokens, revoked families) lives in the same store, and
  each worker's access-token verifier is attached to it: a grant revoked through one
  worker (refresh-token reuse, ``/oauth/revoke``) is refused by every other.
- Enterprise customers use OAuth 2.0 (``claimport_oauth.py``): ``/oauth/authorize`` with a
  login and consent page, ``/oauth/token`` (authorization code with PKCE, refresh tokens),
  ``/oauth/revoke`` and ``/oauth/introspect``; the access tokens (``Bearer at.…``, one
  hour) are accepted by the ``/v1`` routes through the same portcullis check as API keys.

The settings endpoints stand for the product's dashboard: here they are guarded by an
admin token (a real deployment would use its user sessions).

Run: ``python app.py`` (PORTCULLIS_PEPPER_HEX, CLAIMPORT_ADMIN_TOKEN and CLAIMPORT_DB set;
optionally DATABASE_URL, CLAIMPORT_ADMIN_NAME, CLAIMPORT_OAUTH_KEY_HEX and
CLAIMPORT_DEMO_PASSWORD, see README.md).
"""

from __future__ import annotations

import atexit
import hmac
import json
import logging
import os
import sqlite3
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from flask import Flask, Response, g, jsonify, request

import portcullis
from claimport_oauth import SQLiteOAuthStore, register_oauth
from portcullis.integrations.flask import Portcullis, Principal

HERE = Path(__file__).resolve().parent
POLICY_FILE = HERE.parent / "claimport.toml"
DAY = 86_400
NETWORKS_PER_KEY = 8  # as many as portcullis keeps per key
log = logging.getLogger("claimport.usage")

SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id     TEXT PRIMARY KEY,       -- the key id (public handle)
    owner  TEXT NOT NULL,
    record TEXT NOT NULL           -- the portcullis record, JSON (hash only, no secret)
);
CREATE TABLE IF NOT EXISTS api_key_usage (
    id         TEXT PRIMARY KEY,   -- the key id
    first_used INTEGER,            -- Unix seconds
    last_used  INTEGER,
    networks   TEXT NOT NULL DEFAULT '[]'  -- JSON: the /24 or /48 networks, newest first
);
CREATE TABLE IF NOT EXISTS claims (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    owner  TEXT NOT NULL,
    title  TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open'
);
CREATE TABLE IF NOT EXISTS orders (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    owner    TEXT NOT NULL,
    claim_id INTEGER NOT NULL,
    item     TEXT NOT NULL
);
"""


class KeyStore:
    """Key records in SQLite: one connection per call, so it is safe from any thread."""

    def __init__(self, path: str) -> None:
        self.path = path
        with self.connect() as db:
            db.executescript(SCHEMA)

    def connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=5)

    def lookup(self, key_id: str) -> Optional[str]:
        """The portcullis lookup: the record's JSON, or None. A database failure becomes
        a 503 decision (fail closed)."""
        try:
            with self.connect() as db:
                row = db.execute("SELECT record FROM api_keys WHERE id = ?", (key_id,)).fetchone()
        except sqlite3.Error as e:
            raise portcullis.KeyLookupError(f"key database: {e.__class__.__name__}") from e
        return None if row is None else str(row[0])

    @property
    def lookup_target(self) -> Any:
        """What ``Checker.check`` takes as ``lookup``."""
        return self.lookup

    # The actor is not recorded here: this table has no audit (DATABASE_URL has one).
    def add(self, record: portcullis.KeyRecord, actor: str) -> None:
        self.save(record)

    def revoke(self, key_id: str, actor: str) -> Optional[portcullis.KeyRecord]:
        record = self.get(key_id)
        if record is None:
            return None
        record = record.revoked(int(time.time()))
        self.save(record)
        return record

    def rotate(self, key_id: str, checker: portcullis.Checker, grace: int,
               actor: str) -> Optional[portcullis.Rotation]:
        """Raises ``IssueError`` (``inactive``) for a revoked or expired key."""
        record = self.get(key_id)
        if record is None:
            return None
        rotation = checker.rotate(record, grace)
        self.save(rotation.predecessor)
        self.save(rotation.successor.record)
        return rotation

    def save(self, record: portcullis.KeyRecord) -> None:
        with self.connect() as db:
            db.execute(
                "INSERT INTO api_keys (id, owner, record) VALUES (?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET record = excluded.record",
                (record.id, record.owner, record.to_json()),
            )

    def get(self, key_id: str) -> Optional[portcullis.KeyRecord]:
        text = self.lookup(key_id)
        return None if text is None else portcullis.KeyRecord.from_json(text)

    def list(self, owner: str) -> List[portcullis.KeyRecord]:
        with self.connect() as db:
            rows = db.execute(
                "SELECT record FROM api_keys WHERE owner = ? ORDER BY rowid", (owner,)
            ).fetchall()
        return [portcullis.KeyRecord.from_json(r[0]) for r in rows]

    def save_usage(self, batch: portcullis.UsageBatch) -> None:
        """Each key's first and last use and networks, merged into ``api_key_usage`` in
        one transaction (counts per hour and signals are not kept here)."""
        if not batch.keys:
            return
        db = sqlite3.connect(self.path, timeout=5, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")  # read and merge under the write lock
            for k in batch.keys:
                row = db.execute("SELECT first_used, last_used, networks FROM api_key_usage "
                                 "WHERE id = ?", (k.key_id,)).fetchone()
                first, last, nets = row if row else (None, None, "[]")
                times_first = [t for t in (first, _secs(k.first_used)) if t is not None]
                times_last = [t for t in (last, _secs(k.last_used)) if t is not None]
                merged = list(dict.fromkeys(k.networks + json.loads(nets)))
                db.execute(
                    "INSERT OR REPLACE INTO api_key_usage (id, first_used, last_used, "
                    "networks) VALUES (?, ?, ?, ?)",
                    (k.key_id, min(times_first, default=None), max(times_last, default=None),
                     json.dumps(merged[:NETWORKS_PER_KEY])))
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    def drain_usage(self, recorder: portcullis.UsageRecorder) -> portcullis.UsageBatch:
        """Drains and saves; a failed save raises with the batch (the recorder no longer
        holds it) as ``error.batch``, as ``Store.drain_usage`` does."""
        batch = recorder.drain()
        try:
            self.save_usage(batch)
        except sqlite3.Error as e:
            e.batch = batch  # type: ignore[attr-defined]
            raise
        return batch

    def restore_usage(self, recorder: portcullis.UsageRecorder) -> int:
        """Gives a new recorder what the table knows (most recent first), so that learning,
        dormancy and known networks carry across a restart."""
        room = recorder.stats().max_keys * 3 // 4
        with self.connect() as db:
            rows = db.execute("SELECT id, first_used, last_used, networks FROM api_key_usage "
                              "WHERE last_used IS NOT NULL ORDER BY last_used DESC LIMIT ?",
                              (room,)).fetchall()
        return sum(recorder.restore(i, first_used=f, last_used=last, networks=json.loads(n))
                   for i, f, last, n in rows)

    def last_used(self) -> Dict[str, datetime]:
        with self.connect() as db:
            rows = db.execute("SELECT id, last_used FROM api_key_usage "
                              "WHERE last_used IS NOT NULL").fetchall()
        return {i: datetime.fromtimestamp(t, timezone.utc) for i, t in rows}


def _secs(t: Optional[datetime]) -> Optional[int]:
    return None if t is None else int(t.timestamp())


class FleetKeys:
    """Key records in portcullis's store (``DATABASE_URL``), shared by every worker: each
    process caches them and its change feed brings every other worker's writes."""

    def __init__(self, url: str) -> None:
        # Writes name who acts (actor=); a write that names no one is audited as the app.
        self.store = portcullis.Store.open(url, actor="claimport")

    @property
    def lookup_target(self) -> Any:
        return self.store  # decided in Rust, the GIL released on a cache miss

    def add(self, record: portcullis.KeyRecord, actor: str) -> None:
        self.store.insert(record, actor=actor)

    def get(self, key_id: str) -> Optional[portcullis.KeyRecord]:
        return self.store.get(key_id)

    def list(self, owner: str) -> List[portcullis.KeyRecord]:
        return [r for r in self.store.records() if r.owner == owner]

    def revoke(self, key_id: str, actor: str) -> Optional[portcullis.KeyRecord]:
        try:
            self.store.revoke(key_id, actor=actor)
        except portcullis.DatabaseError as e:
            if e.code == "key_not_found":
                return None
            raise
        return self.store.get(key_id)

    def rotate(self, key_id: str, checker: portcullis.Checker, grace: int,
               actor: str) -> Optional[portcullis.Rotation]:
        """Raises ``DatabaseError`` (``key_inactive``) for a revoked or expired key."""
        try:
            return self.store.rotate(key_id, checker, grace, actor=actor)
        except portcullis.DatabaseError as e:
            if e.code == "key_not_found":
                return None
            raise

    def save_usage(self, batch: portcullis.UsageBatch) -> None:
        self.store.save_usage(batch)

    def drain_usage(self, recorder: portcullis.UsageRecorder) -> portcullis.UsageBatch:
        return self.store.drain_usage(recorder)  # one transaction; counts, hours, signals

    def restore_usage(self, recorder: portcullis.UsageRecorder) -> int:
        return self.store.restore_usage(recorder)

    def last_used(self) -> Dict[str, datetime]:
        return self.store.last_used()


class UsageDrainer:
    """Drains the checker's usage recorder into the key database every ``every`` seconds
    on one daemon thread (never a write per request), logs the signals, and drains once
    more when stopped. A batch whose save failed is kept and saved on the next round
    (saving adds up, so late is as good as on time)."""

    def __init__(self, recorder: portcullis.UsageRecorder,
                 keys: Union[KeyStore, FleetKeys], every: float) -> None:
        self.recorder, self.keys, self.every = recorder, keys, every
        self._unsaved: List[portcullis.UsageBatch] = []
        self._lock = threading.Lock()  # one drain at a time (the thread, stop, a test)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="claimport-usage", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.drain()

    def drain(self) -> None:
        """One round: the batches kept from failed saves, then a fresh drain."""
        with self._lock:
            try:
                while self._unsaved:
                    self.keys.save_usage(self._unsaved[0])
                    self._unsaved.pop(0)
                batch = self.keys.drain_usage(self.recorder)
            except (portcullis.DatabaseError, sqlite3.Error) as e:
                kept = getattr(e, "batch", None)
                if kept is not None:
                    self._unsaved.append(kept)
                log.warning("usage not saved (%s); kept for the next round", type(e).__name__)
                return
        for signal in batch.signals:
            log.warning("usage signal %s for key %s: %s", signal.kind, signal.key_id,
                        json.dumps(signal.to_json()))

    def stop(self) -> None:
        """Stops the thread (waits for a round in progress) and drains a last time."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.drain()


def key_view(record: portcullis.KeyRecord, labels: Dict[str, str],
             last_used: Optional[Dict[str, datetime]] = None) -> Dict[str, Any]:
    """A key as the dashboard shows it: never the secret, never the hash. The list also
    gives ``last_used`` (``last_used`` given: the key's time, or null if never used)."""
    view = {
        "id": record.id,
        "display": record.display,
        "name": record.name,
        "permissions": [labels.get(s, s) for s in record.scopes],
        "scopes": record.scopes,
        "created_at": record.created_at.isoformat(),
        "expires_at": record.expires_at.isoformat() if record.expires_at else None,
        "revoked_at": record.revoked_at.isoformat() if record.revoked_at else None,
        "rotated_from": record.rotated_from,
    }
    if last_used is not None:
        used = last_used.get(record.id)
        view["last_used"] = used.isoformat() if used else None
    return view


def create_app(
    db_path: str,
    pepper: bytes,
    admin_token: str,
    *,
    policy_file: Path = POLICY_FILE,
    trust_forwarded_proto: bool = False,
    access_token_key: Optional[bytes] = None,
    demo_users: Optional[Dict[str, Tuple[str, str]]] = None,
    issuer: Optional[str] = None,
    database_url: Optional[str] = None,
    admin_name: str = "admin",
    usage_every: float = 10.0,
) -> Flask:
    """The app. `trust_forwarded_proto`: the app runs behind a TLS-terminating proxy that
    sets `X-Forwarded-Proto` (only then is that header believed). `access_token_key`:
    the OAuth access-token signing key (>= 32 bytes; random per process when None, so
    tokens do not survive a restart). `demo_users`: name → (password, owner) for the
    OAuth login page. `issuer`: the URL the app is served at (https; http only on
    loopback), the OAuth issuer identifier: with it the app sends `iss` in authorization
    responses (RFC 9207) and serves `/.well-known/oauth-authorization-server` (RFC 8414).
    `database_url`: keep the key records and the OAuth state in portcullis's store at
    this URL (`postgresql://…` or `sqlite:PATH`), shared by every worker, instead of
    `db_path`. `admin_name`: who holds the admin token, named as the actor of the
    dashboard's key writes in the store's audit (`DATABASE_URL`). `usage_every`: seconds
    between usage drains; the drainer is `app.extensions["claimport.usage"]`, stopped (with
    a last drain) at interpreter exit or by its `stop()`."""
    app = Flask(__name__)
    app.secret_key = os.urandom(32)  # signs the login session cookie
    app.config.update(SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_HTTPONLY=True)
    policy = portcullis.Policy.from_file(policy_file)  # loaded and validated once
    keys_for_tokens = portcullis.AccessKeys("k1", access_token_key or os.urandom(32))
    verifier = portcullis.AccessVerifier(policy, keys_for_tokens)
    recorder = portcullis.UsageRecorder()  # every decision about a key is counted
    # One check path for API keys and OAuth access tokens.
    checker = portcullis.Checker(policy, portcullis.Peppers("p1", pepper),
                                 access_tokens=verifier, usage=recorder)
    own = KeyStore(db_path)  # the app's tables (claims, orders; keys without DATABASE_URL)
    keys: Union[KeyStore, FleetKeys] = FleetKeys(database_url) if database_url else own
    keys.restore_usage(recorder)  # learning, dormancy and networks survive a restart
    drainer = UsageDrainer(recorder, keys, usage_every)
    drainer.start()
    atexit.register(drainer.stop)
    app.extensions["claimport.usage"] = drainer
    permissions = {desc: name for name, desc in policy.scopes}  # "Read Claims" -> claims:read
    labels = {name: desc for name, desc in policy.scopes}

    def is_https() -> bool:
        if request.is_secure:
            return True
        return trust_forwarded_proto and request.headers.get("X-Forwarded-Proto") == "https"

    @app.before_request
    def guard_settings() -> Optional[Response]:
        """The dashboard is guarded by the admin token (registered before portcullis)."""
        return require_admin() if request.path.startswith("/settings/") else None

    def exempt() -> bool:
        # The dashboard (admin token above) and the OAuth endpoints, which authenticate
        # clients and users themselves; every other route goes through portcullis.
        return request.path.startswith(("/settings/", "/oauth/")) or request.path == "/login"

    # The auth middleware: the policy's route table decides every other request.
    Portcullis(app, checker=checker, lookup=keys.lookup_target, is_https=is_https,
               route_table=True, exempt=exempt)

    @app.after_request
    def warn(response: Response) -> Response:
        principal: Optional[Principal] = g.get("portcullis")
        if principal is not None and principal.decision.warnings:
            response.headers["X-Key-Warnings"] = " ".join(principal.decision.warnings)
        return response

    def require_admin() -> Optional[Response]:
        given = request.headers.get("X-Admin-Token", "")
        if not hmac.compare_digest(given.encode(), admin_token.encode()):
            response = jsonify({"error": "forbidden"})
            response.status_code = 403
            return response
        return None

    def owner() -> str:
        principal: Principal = g.portcullis
        return principal.owner

    def db() -> sqlite3.Connection:
        return sqlite3.connect(db_path, timeout=5)

    # -- Settings > API Keys (the dashboard) ------------------------------------------

    @app.post("/settings/api-keys")
    def create_key() -> Tuple[Response, int]:
        data = request.get_json(silent=True) or {}
        chosen = data.get("permissions", [])
        if not isinstance(chosen, list) or not all(p in permissions for p in chosen):
            return jsonify({"error": "unknown permission", "known": list(permissions)}), 400
        ttl_days = data.get("ttl_days")
        if ttl_days is not None and (not isinstance(ttl_days, int) or ttl_days <= 0):
            return jsonify({"error": "ttl_days must be a positive integer"}), 400
        try:
            issued = checker.issue(str(data.get("name", "")), str(data.get("owner", "")),
                                   [permissions[p] for p in chosen],
                                   ttl=ttl_days * DAY if ttl_days else None)
        except portcullis.IssueError as e:
            return jsonify({"error": e.code, "error_description": e.message}), 400
        keys.add(issued.record, admin_name)
        # The only time the plaintext key leaves the server.
        return jsonify({"key": issued.key, **key_view(issued.record, labels)}), 201

    @app.get("/settings/api-keys")
    def list_keys() -> Response:
        records = keys.list(request.args.get("owner", ""))
        used = keys.last_used()  # as of the last drain
        return jsonify([key_view(r, labels, used) for r in records])

    @app.post("/settings/api-keys/<key_id>/revoke")
    def revoke_key(key_id: str) -> Tuple[Response, int]:
        record = keys.revoke(key_id, admin_name) if len(key_id) == 16 else None
        if record is None:
            return jsonify({"error": "not_found"}), 404
        return jsonify(key_view(record, labels)), 200

    @app.post("/settings/api-keys/<key_id>/rotate")
    def rotate_key(key_id: str) -> Tuple[Response, int]:
        grace_hours = (request.get_json(silent=True) or {}).get("grace_hours", 24)
        if not isinstance(grace_hours, int) or grace_hours < 0:
            return jsonify({"error": "grace_hours must be a non-negative integer"}), 400
        try:
            rotation = keys.rotate(key_id, checker, grace_hours * 3600, admin_name) \
                if len(key_id) == 16 else None
        except portcullis.IssueError as e:
            return jsonify({"error": e.code, "error_description": e.message}), 409
        except portcullis.DatabaseError as e:
            if e.code != "key_inactive":
                raise
            return jsonify({"error": "inactive", "error_description": e.message}), 409
        if rotation is None:
            return jsonify({"error": "not_found"}), 404
        new = rotation.successor
        return jsonify({"key": new.key, **key_view(new.record, labels),
                        "previous": key_view(rotation.predecessor, labels)}), 201

    # -- OAuth 2.0 (claimport_oauth.py) -------------------------------------------------

    oauth_store: Union[SQLiteOAuthStore, portcullis.Store]
    if isinstance(keys, FleetKeys):
        # Revoked families and the access-token epoch reach this verifier from every
        # worker through the feed; past the staleness bound its tokens get 503.
        keys.store.attach(verifier)
        oauth_store = keys.store
    else:
        oauth_store = SQLiteOAuthStore(db_path)
    register_oauth(app, policy, verifier, oauth_store, users=demo_users or {},
                   is_https=is_https, require_admin=require_admin, issuer=issuer)

    # -- The API -------------------------------------------------------------------------

    @app.get("/health")
    def health() -> Response:
        return jsonify({"status": "ok"})

    @app.get("/v1/me")
    def me() -> Response:
        p: Principal = g.portcullis
        return jsonify({"owner": p.owner, "key_id": p.key_id, "scopes": list(p.scopes)})

    @app.get("/v1/claims")
    def list_claims() -> Response:
        with db() as c:
            rows = c.execute("SELECT id, title, status FROM claims WHERE owner = ?",
                             (owner(),)).fetchall()
        return jsonify([{"id": i, "title": t, "status": s} for i, t, s in rows])

    @app.post("/v1/claims")
    def create_claim() -> Tuple[Response, int]:
        title = str((request.get_json(silent=True) or {}).get("title", "")).strip()
        if not title:
            return jsonify({"error": "title is required"}), 400
        with db() as c:
            cur = c.execute("INSERT INTO claims (owner, title) VALUES (?, ?)", (owner(), title))
        return jsonify({"id": cur.lastrowid, "title": title, "status": "open"}), 201

    def find_claim(claim_id: int) -> Optional[Tuple[int, str, str]]:
        with db() as c:
            row = c.execute("SELECT id, title, status FROM claims WHERE id = ? AND owner = ?",
                            (claim_id, owner())).fetchone()
        return None if row is None else (int(row[0]), str(row[1]), str(row[2]))

    @app.get("/v1/claims/<int:claim_id>")
    def get_claim(claim_id: int) -> Tuple[Response, int]:
        row = find_claim(claim_id)
        if row is None:
            return jsonify({"error": "not_found"}), 404
        return jsonify({"id": row[0], "title": row[1], "status": row[2]}), 200

    @app.patch("/v1/claims/<int:claim_id>")
    def update_claim(claim_id: int) -> Tuple[Response, int]:
        status = str((request.get_json(silent=True) or {}).get("status", ""))
        if find_claim(claim_id) is None:
            return jsonify({"error": "not_found"}), 404
        with db() as c:
            c.execute("UPDATE claims SET status = ? WHERE id = ?", (status, claim_id))
        return jsonify({"id": claim_id, "status": status}), 200

    @app.delete("/v1/claims/<int:claim_id>")
    def delete_claim(claim_id: int) -> Tuple[Response, int]:
        if find_claim(claim_id) is None:
            return jsonify({"error": "not_found"}), 404
        with db() as c:
            c.execute("DELETE FROM claims WHERE id = ?", (claim_id,))
        return jsonify({"deleted": claim_id}), 200

    @app.get("/v1/claims/<int:claim_id>/orders")
    def claim_orders(claim_id: int) -> Response:
        with db() as c:
            rows = c.execute("SELECT id, item FROM orders WHERE owner = ? AND claim_id = ?",
                             (owner(), claim_id)).fetchall()
        return jsonify([{"id": i, "item": item} for i, item in rows])

    @app.get("/v1/orders")
    def list_orders() -> Response:
        with db() as c:
            rows = c.execute("SELECT id, claim_id, item FROM orders WHERE owner = ?",
                             (owner(),)).fetchall()
        return jsonify([{"id": i, "claim_id": cl, "item": item} for i, cl, item in rows])

    @app.get("/v1/orders/<int:order_id>")
    def get_order(order_id: int) -> Tuple[Response, int]:
        with db() as c:
            row = c.execute("SELECT id, claim_id, item FROM orders WHERE id = ? AND owner = ?",
                            (order_id, owner())).fetchone()
        if row is None:
            return jsonify({"error": "not_found"}), 404
        return jsonify({"id": row[0], "claim_id": row[1], "item": row[2]}), 200

    @app.get("/v1/analytics/<report>")
    def analytics(report: str) -> Tuple[Response, int]:
        if report != "claims-by-status":
            return jsonify({"error": "unknown report"}), 404
        with db() as c:
            rows = c.execute("SELECT status, COUNT(*) FROM claims WHERE owner = ? "
                             "GROUP BY status", (owner(),)).fetchall()
        return jsonify({s: n for s, n in rows}), 200

    return app


def main() -> None:
    oauth_key = os.environ.get("CLAIMPORT_OAUTH_KEY_HEX")
    demo_password = os.environ.get("CLAIMPORT_DEMO_PASSWORD")
    port = int(os.environ.get("PORT", "8000"))
    app = create_app(
        os.environ.get("CLAIMPORT_DB", "claimport.sqlite3"),
        bytes.fromhex(os.environ["PORTCULLIS_PEPPER_HEX"]),
        os.environ["CLAIMPORT_ADMIN_TOKEN"],
        trust_forwarded_proto=os.environ.get("CLAIMPORT_BEHIND_PROXY") == "1",
        access_token_key=bytes.fromhex(oauth_key) if oauth_key else None,
        demo_users={"demo": (demo_password, "org_demo")} if demo_password else None,
        issuer=os.environ.get("CLAIMPORT_ISSUER", f"http://127.0.0.1:{port}"),
        database_url=os.environ.get("DATABASE_URL") or None,
        admin_name=os.environ.get("CLAIMPORT_ADMIN_NAME", "admin"),
    )
    app.run(host="127.0.0.1", port=port)


if __name__ == "__main__":
    main()
