"""ClaimPort's OAuth 2.0 endpoints (authorization code + PKCE), on the portcullis engine.

- ``GET /oauth/authorize``: validates the request (portcullis); a bad client or redirect
  URI gets a 400 page and is never redirected; other errors go back to the client (302).
  A valid request shows a login form, then a consent page listing the scopes.
- ``POST /oauth/authorize``: the consent form. Approve → 302 to the client with a code;
  deny → 302 with ``error=access_denied``. The form carries a one-time nonce bound to the
  pending request and to the logged-in user (CSRF-safe enough for a demo); the session
  cookie is ``SameSite=Lax``.
- ``POST /oauth/token``, ``/oauth/revoke``, ``/oauth/introspect``: the request's
  ``Authorization`` and ``Content-Type`` headers and raw body go to the engine, which reads
  form or JSON bodies (the product documents JSON); its response (status, headers incl.
  ``Cache-Control: no-store``, JSON body) is sent as is. HTTPS only.
- ``GET /.well-known/oauth-authorization-server``: the engine's RFC 8414 metadata
  (public by the policy's ``/.well-known/{*rest}`` route), when the app has an issuer;
  authorization redirects then carry ``iss`` (RFC 9207).
- ``POST /settings/oauth-clients`` (admin): registers a client; a confidential client's
  secret is shown once, only its hash is stored.

OAuth state (clients, codes, refresh tokens, revoked families) lives in SQLite through
:class:`SQLiteOAuthStore`, a host store implementing ``portcullis.OAuthStore`` — or, on a
fleet (``DATABASE_URL``), in ``portcullis.Store``, whose feed brings every worker's
family revocations into the (attached) verifier. Pending
consent requests live in memory (ten minutes; a restart drops them). Access tokens are
self-contained: the API routes accept them through the same ``Checker.check`` as API
keys, because the checker shares the server's ``AccessVerifier``. The verifier's
revocation set is in memory; revoked families are also recorded in SQLite, and are
pushed back into the verifier at start-up.
"""

from __future__ import annotations

import hmac
import html
import json
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Tuple, Union

from flask import Flask, Response, jsonify, request, session

import portcullis

SCHEMA = """
CREATE TABLE IF NOT EXISTS oauth_clients (
    id     TEXT PRIMARY KEY,
    record TEXT NOT NULL              -- portcullis Client JSON (secret hash only)
);
CREATE TABLE IF NOT EXISTS oauth_codes (
    hash       BLOB PRIMARY KEY,      -- SHA-256 of the code; the code itself is never stored
    record     TEXT NOT NULL,
    uses       INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS oauth_refresh_tokens (
    hash       BLOB PRIMARY KEY,      -- SHA-256 of the refresh token
    family     TEXT NOT NULL,
    rotated_at INTEGER,
    record     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS oauth_revoked_families (
    family     TEXT PRIMARY KEY,
    revoked_at INTEGER NOT NULL
);
"""

#: How long a consent page stays valid.
CONSENT_TTL = 600


class SQLiteOAuthStore:
    """``portcullis.OAuthStore`` over SQLite. One connection per call (safe from any
    thread); the two atomic operations are single statements or one transaction.
    Database errors propagate: the engine then answers ``server_error`` (fail closed)."""

    def __init__(self, path: str) -> None:
        self.path = path
        with self.connect() as db:
            db.executescript(SCHEMA)

    def connect(self) -> sqlite3.Connection:
        # Autocommit mode: every statement commits unless a transaction is begun.
        return sqlite3.connect(self.path, timeout=5, isolation_level=None)

    def add_client(self, client: portcullis.Client) -> None:
        with self.connect() as db:
            db.execute("INSERT INTO oauth_clients (id, record) VALUES (?, ?) "
                       "ON CONFLICT(id) DO UPDATE SET record = excluded.record",
                       (client.client_id, client.to_json()))

    def revoked_families(self) -> list[str]:
        with self.connect() as db:
            rows = db.execute("SELECT family FROM oauth_revoked_families").fetchall()
        return [str(r[0]) for r in rows]

    # -- the OAuthStore protocol ----------------------------------------------------------

    def client(self, client_id: str) -> Optional[str]:
        with self.connect() as db:
            row = db.execute("SELECT record FROM oauth_clients WHERE id = ?",
                             (client_id,)).fetchone()
        return None if row is None else str(row[0])

    def put_code(self, code_hash: bytes, record: Dict[str, Any]) -> None:
        with self.connect() as db:
            db.execute("INSERT INTO oauth_codes (hash, record, expires_at) VALUES (?, ?, ?)",
                       (code_hash, json.dumps(record), int(record["expires_at"])))

    def code(self, code_hash: bytes) -> Optional[str]:
        with self.connect() as db:
            row = db.execute("SELECT record FROM oauth_codes WHERE hash = ?",
                             (code_hash,)).fetchone()
        return None if row is None else str(row[0])

    def consume_code(self, code_hash: bytes) -> Optional[Tuple[str, str]]:
        # One statement: mark used and read the use count atomically.
        with self.connect() as db:
            row = db.execute("UPDATE oauth_codes SET uses = uses + 1 WHERE hash = ? "
                             "RETURNING record, uses", (code_hash,)).fetchone()
        if row is None:
            return None
        return ("first" if int(row[1]) == 1 else "again", str(row[0]))

    def put_refresh(self, token_hash: bytes, record: Dict[str, Any]) -> None:
        with self.connect() as db:
            db.execute("INSERT INTO oauth_refresh_tokens (hash, family, rotated_at, record) "
                       "VALUES (?, ?, NULL, ?)",
                       (token_hash, record["family"], json.dumps(record)))

    def refresh(self, token_hash: bytes) -> Optional[Dict[str, Any]]:
        with self.connect() as db:
            row = db.execute("SELECT record, rotated_at FROM oauth_refresh_tokens "
                             "WHERE hash = ?", (token_hash,)).fetchone()
        if row is None:
            return None
        record: Dict[str, Any] = json.loads(row[0])
        if row[1] is not None:
            record["rotated_at"] = int(row[1])
        return record

    def rotate(self, old_hash: bytes, expected: Optional[int], rotated_at: int,
               new_hash: bytes, new_record: Dict[str, Any]) -> bool:
        db = self.connect()
        try:
            db.execute("BEGIN IMMEDIATE")  # compare-and-swap + insert in one transaction
            cur = db.execute("UPDATE oauth_refresh_tokens SET rotated_at = ? "
                             "WHERE hash = ? AND rotated_at IS ?", (rotated_at, old_hash, expected))
            if cur.rowcount != 1:
                db.execute("ROLLBACK")
                return False
            db.execute("INSERT INTO oauth_refresh_tokens (hash, family, rotated_at, record) "
                       "VALUES (?, ?, NULL, ?)",
                       (new_hash, new_record["family"], json.dumps(new_record)))
            db.execute("COMMIT")
            return True
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    def revoke_family(self, family: str, now: int) -> None:
        with self.connect() as db:
            db.execute("INSERT OR IGNORE INTO oauth_revoked_families (family, revoked_at) "
                       "VALUES (?, ?)", (family, now))

    def is_family_revoked(self, family: str) -> bool:
        with self.connect() as db:
            row = db.execute("SELECT 1 FROM oauth_revoked_families WHERE family = ?",
                             (family,)).fetchone()
        return row is not None


@dataclass
class PendingConsent:
    """A validated authorization request waiting for the user's answer."""

    outcome: portcullis.AuthorizeOutcome
    user: str
    created: float


PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>
<body><h1>{title}</h1>{body}</body></html>"""


def page(title: str, body: str, status: int = 200) -> Response:
    response = Response(PAGE.format(title=html.escape(title), body=body), status,
                        mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"  # no clickjacking of the consent page
    return response


def found(location: str) -> Response:
    """A 302 to `location` (not cached: it may carry a code)."""
    response = Response(status=302)
    response.headers["Location"] = location
    response.headers["Cache-Control"] = "no-store"
    return response


def engine_response(r: portcullis.TokenResponse) -> Response:
    """A portcullis TokenResponse as a Flask response, unchanged."""
    response = Response(r.body, r.status)
    for name, value in r.headers:
        response.headers[name] = value
    return response


def register_oauth(
    app: Flask,
    policy: portcullis.Policy,
    verifier: portcullis.AccessVerifier,
    store: Union[SQLiteOAuthStore, portcullis.Store],
    *,
    users: Dict[str, Tuple[str, str]],
    is_https: Callable[[], bool],
    require_admin: Callable[[], Optional[Response]],
    issuer: Optional[str] = None,
) -> portcullis.OAuthServer:
    """Adds the OAuth routes. `users`: demo users, name → (password, owner); a token
    acts for the user's owner (the organisation whose claims it reads). `issuer`: the
    app's public URL; the endpoints are under it. The engine's settings come from the
    policy's ``[oauth]`` section."""
    server = portcullis.OAuthServer(policy, verifier, issuer=issuer)
    metadata = None if issuer is None else server.metadata(
        authorization_endpoint=f"{issuer}/oauth/authorize",
        token_endpoint=f"{issuer}/oauth/token",
        revocation_endpoint=f"{issuer}/oauth/revoke",
        introspection_endpoint=f"{issuer}/oauth/introspect")
    if isinstance(store, SQLiteOAuthStore):  # a portcullis.Store feeds its attached verifier
        for family in store.revoked_families():
            verifier.revoke_family(family)
    labels = dict(policy.scopes)  # claims:read -> "Read Claims"
    permissions = {desc: name for name, desc in policy.scopes}
    pending: Dict[str, PendingConsent] = {}
    lock = threading.Lock()

    def take_pending(nonce: str, user: str) -> Optional[PendingConsent]:
        now = time.monotonic()
        with lock:
            for key in [k for k, p in pending.items() if now - p.created > CONSENT_TTL]:
                del pending[key]
            found = pending.pop(nonce, None)
        if found is None or not hmac.compare_digest(found.user.encode(), user.encode()):
            return None
        return found

    def login_page(next_url: str, error: str = "") -> Response:
        body = (f"<p>{html.escape(error)}</p>" if error else "") + (
            '<form method="post" action="/login">'
            f'<input type="hidden" name="next" value="{html.escape(next_url)}">'
            '<label>User <input name="user"></label> '
            '<label>Password <input name="password" type="password"></label> '
            '<button>Sign in</button></form>')
        return page("Sign in to ClaimPort", body, 401 if error else 200)

    def consent_page(outcome: portcullis.AuthorizeOutcome, nonce: str, user: str) -> Response:
        items = "".join(
            f'<li><label><input type="checkbox" name="scope" value="{html.escape(s)}" checked> '
            f"{html.escape(labels.get(s, s))} (<code>{html.escape(s)}</code>)</label></li>"
            for s in outcome.scopes)
        body = (f"<p>Signed in as {html.escape(user)}.</p>"
                f"<p>The application <b>{html.escape(outcome.client_id or '')}</b> asks to:</p>"
                '<form method="post" action="/oauth/authorize">'
                f'<input type="hidden" name="nonce" value="{nonce}"><ul>{items}</ul>'
                '<button name="decision" value="approve">Allow</button> '
                '<button name="decision" value="deny">Deny</button></form>')
        return page("Authorize access", body)

    @app.post("/login")
    def login() -> Response:
        user = request.form.get("user", "")
        given = request.form.get("password", "")
        next_url = request.form.get("next", "")
        if not next_url.startswith("/oauth/authorize?"):
            next_url = "/oauth/authorize?"  # never an open redirect
        known = users.get(user)
        if known is None or not hmac.compare_digest(given.encode(), known[0].encode()):
            return login_page(next_url, "Unknown user or wrong password")
        session.clear()
        session["user"] = user
        return found(next_url)

    @app.get("/oauth/authorize")
    def authorize() -> Response:
        outcome = server.authorize(request.query_string, store)
        if outcome.kind == "show_error":
            # Untrusted client or redirect URI: show the error, never redirect.
            return page("Authorization error",
                        f"<p>{html.escape(outcome.error or '')}: "
                        f"{html.escape(outcome.description or '')}</p>", 400)
        if outcome.kind == "redirect":
            return found(outcome.location or "")
        user = session.get("user")
        if not isinstance(user, str) or user not in users:
            return login_page(request.full_path)
        nonce = secrets.token_urlsafe(32)
        with lock:
            pending[nonce] = PendingConsent(outcome, user, time.monotonic())
        return consent_page(outcome, nonce, user)

    @app.post("/oauth/authorize")
    def consent() -> Response:
        user = session.get("user")
        waiting = take_pending(request.form.get("nonce", ""), user if isinstance(user, str) else "")
        if waiting is None:
            return page("Authorization error",
                        "<p>This consent request is unknown or expired. Start again.</p>", 400)
        if request.form.get("decision") != "approve":
            return found(server.deny(waiting.outcome))
        try:
            location = server.approve(waiting.outcome, users[waiting.user][1], store,
                                      scopes=request.form.getlist("scope"))
        except portcullis.OAuthError as e:
            code = e.code if e.code in ("access_denied", "invalid_scope") else "server_error"
            location = server.error_redirect(waiting.outcome, code)
        return found(location)

    def endpoint(call: Callable[..., portcullis.TokenResponse]) -> Response:
        if not is_https():
            response = jsonify({"error": "invalid_request",
                                "error_description": "HTTPS is required"})
            response.status_code = 400
            response.headers["Cache-Control"] = "no-store"
            return response
        # The headers and bytes as received: the engine decides what the body is.
        return engine_response(call(request.headers.get("Authorization"),
                                    request.headers.get("Content-Type"), request.get_data(),
                                    store))

    @app.post("/oauth/token")
    def token() -> Response:
        return endpoint(server.token_request)

    @app.post("/oauth/revoke")
    def revoke() -> Response:
        return endpoint(server.revoke_request)

    @app.post("/oauth/introspect")
    def introspect() -> Response:
        return endpoint(server.introspect_request)

    @app.get("/.well-known/oauth-authorization-server")
    def server_metadata() -> Response:
        if metadata is None:
            response = jsonify({"error": "invalid_request",
                                "error_description": "This server has no issuer configured"})
            response.status_code = 404
            return response
        return Response(metadata, 200, mimetype="application/json")

    @app.post("/settings/oauth-clients")
    def register_client() -> Tuple[Response, int]:
        denied = require_admin()
        if denied is not None:
            return denied, 403
        data = request.get_json(silent=True) or {}
        chosen = data.get("permissions", [])
        if not isinstance(chosen, list) or not all(p in permissions for p in chosen):
            return jsonify({"error": "unknown permission", "known": list(permissions)}), 400
        scopes = [permissions[p] for p in chosen]
        uris = data.get("redirect_uris", [])
        client_id = str(data.get("client_id", ""))
        try:
            if data.get("type", "confidential") == "public":
                client, secret = portcullis.Client.public(client_id, uris, scopes), None
            else:
                client, secret = portcullis.Client.confidential(client_id, uris, scopes)
        except (portcullis.ClientError, TypeError) as e:
            return jsonify({"error": getattr(e, "code", "bad_request"),
                            "error_description": str(e)}), 400
        store.add_client(client)
        # The only time the client secret leaves the server.
        return jsonify({"client_id": client.client_id, "client_secret": secret,
                        "client_type": client.client_type,
                        "redirect_uris": client.redirect_uris, "scopes": scopes}), 201

    return server
