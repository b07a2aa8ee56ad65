"""portcullis: API keys, scopes and auth decisions for Python backends.

Load the policy once, issue keys (the plaintext is shown once; store the record), and turn
each request into a :class:`Decision`::

    import portcullis

    policy = portcullis.Policy.from_file("claimport.toml")
    checker = portcullis.Checker(policy, portcullis.Peppers("p1", pepper_bytes))
    issued = checker.issue("Production Integration", "org_42", ["claims:read"])
    store = portcullis.MemoryStore()
    store.insert(issued.record)
    decision = checker.check("GET", "/v1/claims/7", lookup=store,
                             authorization=f"Bearer {issued.key}", https=True)

The native work happens in :mod:`portcullis._portcullis` (Rust). Checks and verifications
of ordinary requests keep the GIL: they take a few hundred nanoseconds, less than handing
the GIL to another thread and getting it back. Requests over 16 KiB, issuance, rotation,
policy loading and the OAuth endpoints release it. All objects are immutable or internally
synchronised and may be shared between threads.

To decide many requests from several threads (a gateway batching, a log re-verifier), use
:meth:`Checker.check_many`: it releases the GIL once for a whole batch, so threads deciding
their own batches run in parallel::

    decisions = checker.check_many(
        [("GET", "/v1/claims/7", f"Bearer {issued.key}", None, True),   # (method, path,
         portcullis.Request("GET", "/health", https=True)],              #  auth, query, https)
        lookup=store)

OAuth 2.0 (authorization code + PKCE, 1-hour access tokens, rotating refresh tokens): an
:class:`OAuthServer` answers ``/oauth/authorize`` and ``/oauth/token`` (and RFC 7009/7662
revocation and introspection) over a :class:`MemoryOAuthStore`, the database
:class:`Store` or your own :class:`OAuthStore`; give the same :class:`AccessVerifier`
to the ``Checker`` (``access_tokens=``) and ``check`` accepts ``Bearer at.…`` tokens like API keys::

    keys = portcullis.AccessKeys("k1", access_secret)          # >= 32 bytes
    verifier = portcullis.AccessVerifier(policy, keys)
    server = portcullis.OAuthServer(policy, verifier)
    checker = portcullis.Checker(policy, peppers, access_tokens=verifier)

On a fleet of processes, :meth:`Store.open` (``"postgresql://…"`` or ``"sqlite:PATH"``)
gives a :class:`Store` that every process shares: pass it as ``lookup=``; a key revoked
through one process is refused by the others within milliseconds, and when the database
and the change feed are both down, checks answer 503 ``lookup_failed``, never an allow
from stale state (docs/fleet.md).

Times shown to people (record fields) are aware UTC ``datetime`` objects; times passed in
(``now``, ``at``, ``not_before``) are int or float seconds since the epoch
(``time.time()``; a float is floored to the whole second) or aware datetimes (a naive one
raises ``ValueError`` naming the argument);
durations (``ttl``, ``grace``) are int seconds or ``timedelta``; a ``ttl`` is at least one
second (``None`` never expires; zero raises ``IssueError``, code ``bad_ttl``). Secrets
(``Peppers``, ``AccessKeys``) are any bytes-like object, copied into memory that is wiped.

Usage: a :class:`UsageRecorder` attached to the checker (``usage=``) counts each key's
uses per hour (allowed, and denied by reason), its first and last use and the client
networks it is used from (pass ``client=`` to ``check``), and raises unusual-activity
signals (a new network, a volume spike, use after dormancy, a wrong-secret burst, use
past rotation). Drain it every few seconds from another thread and store the batch::

    recorder = portcullis.UsageRecorder()
    checker = portcullis.Checker(policy, peppers, usage=recorder)
    decision = checker.check("GET", "/v1/claims/7", lookup=store,
                             authorization=header, https=True, client="203.0.113.5")
    batch = recorder.drain()           # GIL released; recording goes on
    save(batch.to_json())              # and alert on batch.signals

With a database :class:`Store`, ``store.drain_usage(recorder)`` drains and saves in one
call (``store.restore_usage(recorder)`` after a restart); ``store.last_used()``,
``store.key_usage(key_id)`` and ``store.usage_signals()`` read it back. Every key write is
in the store's append-only audit (``store.audit_log()``), under the actor the write names
(``store.revoke(key_id, actor="alice@example.com")``) or the store's
(``Store.open(url, actor=...)``).

Rate limits: a policy's ``[[limits]]`` (per key or per owner, a route class, key tiers
from ``metadata["tier"]``) are counted when the checker has ``limits=``; over a limit the
decision is 429 ``rate_limited``, and ``Decision.headers`` holds ``Retry-After``,
``RateLimit-Policy`` and ``RateLimit`` (draft-ietf-httpapi-ratelimit-headers-10), which
the integrations send::

    checker = portcullis.Checker(policy, peppers, limits=portcullis.LocalLimits(100_000))

With asyncio, ``await checker.check_async(...)`` takes the arguments of ``check`` and a
lookup that may be ``async``. The enumerated strings (``Decision.reason``,
``AuthorizeOutcome.kind``, …) are ``Literal`` types in :mod:`portcullis.codes`.
"""

from __future__ import annotations

from portcullis import codes
from portcullis._portcullis import (
    AccessClaims,
    AccessKeys,
    AccessVerifier,
    AuditEntry,
    AuthorizeOutcome,
    Checker,
    Client,
    Credential,
    Decision,
    Evaluation,
    FleetLimits,
    Grant,
    HourCounts,
    IssuedKey,
    KeyRecord,
    KeyUsage,
    LocalLimits,
    MemoryOAuthStore,
    MemoryStore,
    OAuthConfig,
    OAuthServer,
    ParsedKey,
    Pending,
    Peppers,
    PkceChallenge,
    Policy,
    Quota,
    RateLimiter,
    Request,
    Requirement,
    Rotation,
    Signal,
    Store,
    StoredSignal,
    TokenResponse,
    UsageBatch,
    UsageHistory,
    UsageRecorder,
    UsageStats,
    Verdict,
    Verification,
    __version__,
    extract_credential,
    legacy_sha256_hash,
    oauth_token_hash,
)
from portcullis.errors import (
    AccessTokenError,
    ClientError,
    ConfigurationError,
    CredentialError,
    DatabaseError,
    IssueError,
    KeyLookupError,
    MalformedKeyError,
    OAuthError,
    PolicyError,
    PolicyIssue,
    PortcullisError,
    RecordError,
    RequirementError,
    StoreError,
)
from portcullis.oauth import OAuthStore

__all__ = [
    "AccessClaims",
    "AccessKeys",
    "AccessTokenError",
    "AccessVerifier",
    "AuditEntry",
    "AuthorizeOutcome",
    "Checker",
    "Client",
    "ClientError",
    "ConfigurationError",
    "Credential",
    "CredentialError",
    "DatabaseError",
    "Decision",
    "Evaluation",
    "FleetLimits",
    "Grant",
    "HourCounts",
    "IssueError",
    "IssuedKey",
    "KeyLookupError",
    "KeyRecord",
    "KeyUsage",
    "LocalLimits",
    "MalformedKeyError",
    "MemoryOAuthStore",
    "MemoryStore",
    "OAuthConfig",
    "OAuthError",
    "OAuthServer",
    "OAuthStore",
    "ParsedKey",
    "Pending",
    "Peppers",
    "PkceChallenge",
    "Policy",
    "PolicyError",
    "PolicyIssue",
    "PortcullisError",
    "Quota",
    "RateLimiter",
    "RecordError",
    "Request",
    "Requirement",
    "RequirementError",
    "Rotation",
    "Signal",
    "Store",
    "StoreError",
    "StoredSignal",
    "TokenResponse",
    "UsageBatch",
    "UsageHistory",
    "UsageRecorder",
    "UsageStats",
    "Verdict",
    "Verification",
    "__version__",
    "codes",
    "extract_credential",
    "legacy_sha256_hash",
    "oauth_token_hash",
]
