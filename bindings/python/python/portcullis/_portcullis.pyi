"""Type stubs of the native module portcullis._portcullis (checked by mypy's stubtest)."""

import os
from datetime import datetime, timedelta
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import (
    Any,
    Awaitable,
    Callable,
    Coroutine,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
    final,
)

from _typeshed import ReadableBuffer

from portcullis.codes import (
    AuthorizeKind,
    BearerError,
    ClientType,
    CredentialSource,
    Detail,
    KeyState,
    OAuthErrorCode,
    Reason,
    SignalKind,
    UsageDenial,
    WarningCode,
)
from portcullis.errors import PolicyIssue
from portcullis.oauth import ClientStore, CodeWriter, OAuthStore

__all__ = [
    "__version__",
    "Policy",
    "Requirement",
    "Evaluation",
    "Grant",
    "Peppers",
    "Checker",
    "Pending",
    "Request",
    "ParsedKey",
    "IssuedKey",
    "Rotation",
    "Decision",
    "Verification",
    "KeyRecord",
    "MemoryStore",
    "Store",
    "Credential",
    "extract_credential",
    "legacy_sha256_hash",
    "_enumerations",
    "AccessKeys",
    "AccessClaims",
    "AccessVerifier",
    "PkceChallenge",
    "oauth_token_hash",
    "Client",
    "MemoryOAuthStore",
    "OAuthConfig",
    "OAuthServer",
    "AuthorizeOutcome",
    "TokenResponse",
    "UsageRecorder",
    "UsageStats",
    "UsageBatch",
    "KeyUsage",
    "HourCounts",
    "Signal",
    "UsageHistory",
    "StoredSignal",
    "AuditEntry",
    "Quota",
    "Verdict",
    "RateLimiter",
    "LocalLimits",
    "FleetLimits",
]

__version__: str

#: A point in time: int or float seconds since the epoch (a float is floored to the
#: second: ``time.time()`` works), or an aware datetime (floored the same way; a naive
#: one raises ``ValueError`` naming the argument).
_Time = Union[int, float, datetime]
#: A duration: int seconds, or a timedelta.
_Duration = Union[int, timedelta]
#: What a lookup may return and what record arguments accept.
_RecordLike = Union["KeyRecord", Mapping[str, Any], str]
_Text = Union[str, bytes]
#: A client address: ``"203.0.113.5"``, ``"2001:db8::1"`` or an ``ipaddress`` address.
_Client = Union[str, IPv4Address, IPv6Address]
#: A client network as usage records it: ``"203.0.113.0/24"``, ``"2001:db8:1::/48"``.
_Network = Union[str, IPv4Network, IPv6Network]
#: A lookup: a store, or a callable ``key_id -> record | None``.
_Lookup = Union["MemoryStore", "Store", Callable[[str], Optional[_RecordLike]]]
#: A lookup for ``check_async``: also an async callable (or one returning an awaitable).
_AsyncLookup = Union[
    "MemoryStore",
    "Store",
    Callable[[str], Union[Optional[_RecordLike], Awaitable[Optional[_RecordLike]]]],
]

@final
class Policy:
    """A loaded, validated policy (catalog, routes, transport, lifecycle). Immutable."""

    @staticmethod
    def from_toml(text: str) -> Policy:
        """Loads a policy from TOML text; raises ``PolicyError`` listing every problem."""
    @staticmethod
    def from_file(path: Union[str, os.PathLike[str]]) -> Policy:
        """Loads a policy from a TOML file (``str`` or path-like): a regular file or a
        pipe, read up to its 4 MiB limit and never further (a larger one raises
        ``PolicyError``, as the same text would); a directory or a device such as
        ``/dev/zero`` is refused before it is read (``ConfigurationError``, code
        ``io``)."""
    def for_environment(self, env: str) -> Optional[Policy]:
        """The same policy for a deployment of another environment (``None`` if not
        accepted)."""
    @property
    def realm(self) -> str:
        """The ``WWW-Authenticate`` realm."""
    @property
    def deployment_env(self) -> str:
        """The environment this deployment accepts (``live``)."""
    @property
    def kinds(self) -> List[str]:
        """Accepted key kinds; the first is the one ``Checker.issue`` uses."""
    @property
    def environments(self) -> List[str]:
        """Accepted environments."""
    @property
    def scopes(self) -> List[Tuple[str, str]]:
        """Declared scopes as ``(name, description)`` pairs, in catalog order."""
    @property
    def routes(self) -> List[Tuple[str, str]]:
        """Routes as ``(method, path template)``, in policy order."""
    @property
    def oauth(self) -> OAuthConfig:
        """The policy's ``[oauth]`` settings (the secure defaults where it says
        nothing): the config ``OAuthServer(policy, verifier)`` uses when given none."""
    @property
    def warnings(self) -> List[PolicyIssue]:
        """What deserves a look in a policy that loaded: routes of which a more
        specific route of another method (``*``, or ``GET`` for ``HEAD``) decides some
        requests with other access. Empty for a policy with nothing to say."""
    def openapi(self, merge: Optional[str] = None) -> str:
        """The policy's OpenAPI 3.1 document as JSON text (the same policy always gives
        the same text): the security schemes (``apiKey`` bearer; ``oauth2`` with the
        catalog's scopes when the policy has ``[oauth]``) and each route's ``security``,
        implications expanded into alternatives, public routes ``[]``. With ``merge``
        (an OpenAPI 3.x JSON document, at most 4 MiB), that document with the schemes
        added and ``security`` set on each operation a route decides. A bad document
        raises ``ConfigurationError`` (``too_large``, ``bad_json``, ``bad_document``)."""
    def requirement(self, text: str) -> Requirement:
        """Compiles a requirement expression against this policy's catalog."""
    def grant(self, grants: Sequence[str]) -> Grant:
        """The effective scopes of a list of grants (names or patterns like
        ``claims:*``)."""

@final
class Requirement:
    """A compiled scope requirement (``claims:read & orders:read``, ``a | b``)."""

    def evaluate(self, grants: Sequence[str]) -> Evaluation:
        """Evaluates the requirement against granted scopes (names or patterns)."""
    @property
    def canonical(self) -> str:
        """The canonical text: alternatives joined by `` | ``, names in catalog order."""

@final
class Evaluation:
    """The result of evaluating a requirement against granted scopes."""

    @property
    def allowed(self) -> bool:
        """Whether the grants meet the requirement."""
    @property
    def missing(self) -> List[str]:
        """Scopes missing from the closest alternative (empty when allowed)."""
    @property
    def required(self) -> List[str]:
        """Every scope of the closest alternative (empty when allowed)."""
    def __bool__(self) -> bool: ...

@final
class Grant:
    """The effective scopes of a list of grants."""

    @property
    def scopes(self) -> List[str]:
        """Every scope granted, implications and wildcards expanded, in catalog order."""
    @property
    def unknown(self) -> int:
        """How many grant strings the catalog does not know (they grant nothing)."""

@final
class Peppers:
    """A set of named peppers (``secret`` ≥ 32 bytes); new records use the primary.

    Built once at start-up; a ``Checker`` takes a snapshot, so later changes here do
    not affect checkers already made. Safe to share (internally locked)."""

    def __new__(cls, id: str, secret: ReadableBuffer) -> Peppers:
        """A set whose primary (and only) pepper is ``secret`` (at least 32 bytes) under
        ``id``. ``secret``: any bytes-like object (``bytes``, ``bytearray``,
        ``memoryview``, ``array``), copied once into memory wiped when the set is freed;
        ``str`` raises ``TypeError``."""
    def add(self, id: str, secret: ReadableBuffer) -> None:
        """Adds an older pepper that existing records may still name (``secret`` as in
        the constructor)."""
    def set_primary(self, id: str) -> None:
        """Makes the pepper ``id`` the one new records use."""
    @property
    def primary_id(self) -> str:
        """The primary pepper's id."""
    @property
    def ids(self) -> List[str]:
        """Every pepper id, primary first."""

@final
class KeyRecord:
    """A key record (the JSON form is the storage contract; see ``to_dict``/``to_json``)."""

    @staticmethod
    def from_json(text: str) -> KeyRecord:
        """Parses the JSON form."""
    @staticmethod
    def from_dict(data: Dict[str, Any]) -> KeyRecord:
        """Builds a record from its dict form (as ``to_dict`` returns it)."""
    def to_json(self) -> str:
        """The JSON form (a str)."""
    def to_dict(self) -> Dict[str, Any]:
        """The dict form: JSON types only, times as int seconds since the epoch."""
    @property
    def id(self) -> str:
        """The key id (16 base62 characters; safe to log and show)."""
    @property
    def name(self) -> str:
        """The name given at creation."""
    @property
    def owner(self) -> str:
        """The owning organisation or user."""
    @property
    def kind(self) -> str:
        """The key kind (``sk``)."""
    @property
    def env(self) -> str:
        """The environment (``live``)."""
    @property
    def scopes(self) -> List[str]:
        """The granted scopes as stored (names or patterns)."""
    @property
    def hash(self) -> str:
        """The self-describing hash string (not a secret, but keep it in your database)."""
    @property
    def display(self) -> str:
        """The display form, safe to log: ``sk_live_<id>_…``."""
    @property
    def created_at(self) -> datetime:
        """Creation time (aware UTC datetime)."""
    @property
    def not_before(self) -> Optional[datetime]:
        """Not valid before this time, if set."""
    @property
    def expires_at(self) -> Optional[datetime]:
        """Expiry time, if any."""
    @property
    def revoked_at(self) -> Optional[datetime]:
        """Revocation time, if revoked."""
    @property
    def rotated_from(self) -> Optional[str]:
        """The id of the key this one replaced, if it came from a rotation."""
    @property
    def metadata(self) -> Dict[str, Any]:
        """Host data (a dict of JSON values)."""
    def is_revoked(self, now: Optional[_Time] = None) -> bool:
        """Whether the key is revoked at ``now`` (default: the current time)."""
    def state(self, now: Optional[_Time] = None) -> KeyState:
        """The key's state at ``now`` (default: the current time), as the checker decides
        it: revoked from ``revoked_at`` on, not yet valid before ``not_before``, expired
        from ``expires_at`` on."""
    def revoked(self, at: Optional[_Time] = None) -> KeyRecord:
        """A copy revoked from ``at`` on (default: now; an earlier revocation is kept)."""
    def with_expires_at(self, at: Optional[_Time]) -> KeyRecord:
        """A copy with another expiry (``None`` clears it)."""
    def with_scopes(self, scopes: Sequence[str]) -> KeyRecord:
        """A copy with other granted scopes."""
    def with_name(self, name: str) -> KeyRecord:
        """A copy with another name."""
    def with_metadata(self, metadata: Dict[str, Any]) -> KeyRecord:
        """A copy with other host data (a dict of JSON values)."""
    def with_hash(self, hash: str) -> KeyRecord:
        """A copy with another hash string (e.g. ``Checker.hash_key(key)`` after a
        ``needs_rehash`` warning)."""
    def __eq__(self, other: object, /) -> bool: ...

@final
class MemoryStore:
    """Key records by id, in memory. An id is looked up as the text it is: text that is
    not a key id (say, from a URL) names no record, so it is never an error."""

    def __new__(cls) -> MemoryStore:
        """An empty store."""
    def insert(self, record: _RecordLike) -> None:
        """Adds a new record (``KeyRecord``, dict or JSON); raises ``StoreError`` if the
        id exists."""
    def put(self, record: _RecordLike) -> None:
        """Adds or replaces a record."""
    def get(self, key_id: str) -> Optional[KeyRecord]:
        """The record with this id, or ``None`` (also for any text that is not a key
        id)."""
    def remove(self, key_id: str) -> Optional[KeyRecord]:
        """Removes a record and returns it; ``None`` if absent (also for any text that is
        not a key id)."""
    def revoke(self, key_id: str, at: Optional[_Time] = None) -> None:
        """Revokes a record from ``at`` on (default: now). Raises ``StoreError`` with
        code ``not_found`` if absent, also for any text that is not a key id (then
        ``key_id`` is empty: the text is not repeated, it may be a whole key)."""
    def records(self) -> List[KeyRecord]:
        """A snapshot of every record (in no particular order)."""
    def __len__(self) -> int: ...
    def __contains__(self, key_id: str, /) -> bool: ...

@final
class Store:
    """Key records, their audit and the OAuth state in one database (``sqlite:PATH`` or
    ``postgresql://USER:PASSWORD@HOST:PORT/DATABASE``), shared by every process that
    opens it. Pass it as ``lookup=`` to ``Checker.check``: answers come from this
    process's cache while the change feed is fresh (within ``staleness``), from the
    database otherwise, and a 503 ``lookup_failed`` when neither can answer. Every call
    that may touch the database releases the GIL. Errors are ``DatabaseError``.

    Usage: ``drain_usage`` drains a ``UsageRecorder`` and saves the batch (every few
    seconds, from one thread; never per request); ``last_used``, ``key_usage`` and
    ``usage_signals`` read it back. The audit: every key write (``insert``, ``revoke``,
    ``rotate``) appends to an append-only log (``audit_log``) under the actor the write
    names (``actor=``, e.g. the signed-in user) or else the store's (``Store.open(url,
    actor=...)``). An actor is a keyword of each write rather than a view
    (Rust's ``Store::acting_as``): one method per write, whoever acts."""

    @staticmethod
    def open(
        url: str,
        *,
        staleness: Optional[Union[float, timedelta]] = None,
        actor: Optional[str] = None,
    ) -> Store:
        """Connects, checks the database is portcullis's and not newer than this module,
        migrates it and starts the change feed. ``staleness``: seconds the cache may
        answer on its own since the feed last caught up (default 1). ``actor``: who this
        handle's writes are audited as when a write names none (default: no one); one
        the store refuses (empty, over 256 bytes, a control character) raises
        ``ConfigurationError`` (``invalid_argument``)."""
    def insert(self, record: _RecordLike, *, actor: Optional[str] = None) -> None:
        """Stores a new record (from ``Checker.issue``), audited as ``actor`` (default:
        the store's); ``DatabaseError`` ``duplicate_key`` if the id exists."""
    def get(self, key_id: str) -> Optional[KeyRecord]:
        """The record read from the database (not the cache), or ``None`` (also for any
        text that is not a key id)."""
    def records(self) -> List[KeyRecord]:
        """Every decodable record, oldest first (at most 100,000), from the database; a
        row whose record cannot be decoded is left out."""
    def revoke(
        self, key_id: str, at: Optional[_Time] = None, *, actor: Optional[str] = None
    ) -> bool:
        """Revokes a key from ``at`` on (default: now) in every process, audited as
        ``actor`` (default: the store's); returns whether it already was (then nothing
        is audited). ``DatabaseError`` ``key_not_found`` if absent."""
    def rotate(
        self,
        key_id: str,
        checker: Checker,
        grace: _Duration,
        now: Optional[_Time] = None,
        *,
        actor: Optional[str] = None,
    ) -> Rotation:
        """Rotates a key in one transaction and stores both records (see
        ``Checker.rotate``), audited as ``actor`` (default: the store's);
        ``DatabaseError`` ``key_not_found`` or ``key_inactive``."""
    def audit_log(
        self,
        *,
        key: Optional[str] = None,
        before: Optional[int] = None,
        after: Optional[int] = None,
        limit: int = 50,
    ) -> List[AuditEntry]:
        """The audit log, newest first: every lifecycle change or one key's (``key``;
        text that is not a key id matches nothing), with ``seq`` below ``before`` and
        above ``after``, at most ``limit`` (capped at 1,000). Page back with the
        smallest ``seq`` of a page as the next ``before``."""
    @property
    def actor(self) -> Optional[str]:
        """Who this handle's writes are audited as when a write names none (``None``:
        no one)."""
    def drain_usage(self, recorder: UsageRecorder, now: Optional[_Time] = None) -> UsageBatch:
        """Drains ``recorder`` (at ``now``, default the current time) and saves the batch
        in one transaction; returns the batch, for its signals. Call it every few seconds
        from one thread and once before the process exits, never per request. When the
        save fails it raises ``DatabaseError`` with the drained batch as ``.batch``: the
        recorder no longer holds it, so keep it and ``save_usage`` it later (saving is
        additive: late counts the same), or it is lost."""
    def save_usage(self, batch: UsageBatch) -> None:
        """Saves a drained batch in one transaction: adds its counts to each key's hours,
        keeps the earliest first use and the latest last use, merges the networks and
        appends the signals. Additive: a batch saved twice counts twice; many processes
        may save into one database."""
    def restore_usage(
        self, recorder: UsageRecorder, key_ids: Optional[Iterable[str]] = None
    ) -> int:
        """Gives a new recorder (after a restart) the stored first and last use and
        networks of the most recently used keys (at most three quarters of its
        ``max_keys``), or of the keys in ``key_ids``, so that learning, dormancy and
        known networks carry over. Returns how many keys it restored."""
    def last_used(self) -> Dict[str, datetime]:
        """Every key's last authenticated use on record, by key id (keys never used are
        absent): the "last used" of a key listing."""
    def key_usage(self, key_id: str, since: Optional[_Time] = None) -> UsageHistory:
        """A key's stored usage: first and last use, networks, counts per hour from
        ``since`` on (default: all kept, the store's 90 days; oldest first) and signals
        raised from ``since`` on (newest first, at most 1,000). A key never used, or text
        that is not a key id, has an empty history."""
    def usage_signals(
        self,
        *,
        key: Optional[str] = None,
        since: Optional[_Time] = None,
        before: Optional[int] = None,
        after: Optional[int] = None,
        limit: int = 100,
    ) -> List[StoredSignal]:
        """Saved signals, newest first: every key's or one key's (``key``; text that is
        not a key id matches nothing), raised at or after ``since``, with ``seq`` below
        ``before`` and above ``after``, at most ``limit`` (capped at 1,000). Page back with
        the smallest ``seq`` of a page as the next ``before``."""
    def attach(self, verifier: AccessVerifier) -> None:
        """Pushes this store's OAuth revocations, now and as the feed brings them, into
        ``verifier``, and makes it fail closed like the cache (503 while the feed is behind
        the bound)."""
    def revoke_access_tokens_before(self, epoch: _Time) -> None:
        """Revokes every OAuth access token issued before ``epoch`` (int or float seconds,
        or an aware ``datetime``) in every process sharing this database: the stored
        epoch is raised, never lowered, and the change feed carries it to every attached
        verifier. Raises ``DatabaseError``."""
    def add_client(self, client: _ClientLike) -> None:
        """Registers (or replaces) an OAuth client in the database, for every process's
        ``OAuthServer`` given this store as ``store=``."""
    @property
    def fresh(self) -> bool:
        """Whether the cache may answer on its own now."""
    @property
    def location(self) -> str:
        """Where the store lives, without a password."""

@final
class Decision:
    """The answer to a request: allowed or denied, with everything a response needs.

    Clients never learn why a token was invalid: send ``status``, ``www_authenticate``
    (and ``error``); log ``reason``."""

    @property
    def allowed(self) -> bool:
        """Whether the request may proceed (status 200)."""
    @property
    def status(self) -> int:
        """The HTTP status: 200, 400, 401, 403, 429 over a rate limit, or 503 when the
        lookup failed or the limiter cannot tell."""
    @property
    def error(self) -> Optional[BearerError]:
        """The RFC 6750 error code (``invalid_token``, …), if the response carries one."""
    @property
    def reason(self) -> Reason:
        """The internal reason, for logs and metrics (``wrong_secret``, ``revoked``, …)."""
    @property
    def detail(self) -> Optional[Detail]:
        """For ``malformed_key``, the key error code (``checksum``, ``length``, …); for
        ``ambiguous_path``, the path error code (``dot_segment``,
        ``encoded_separator``, …)."""
    @property
    def description(self) -> Optional[str]:
        """The ``error_description`` text sent to the client, if any."""
    @property
    def www_authenticate(self) -> Optional[str]:
        """The ``WWW-Authenticate`` header value for a 400, 401 or 403."""
    @property
    def key_id(self) -> Optional[str]:
        """The caller's key id, when the key was verified (also on a 403)."""
    @property
    def owner(self) -> Optional[str]:
        """The caller's owner, when the key was verified."""
    @property
    def scopes(self) -> List[str]:
        """The caller's effective scopes, in catalog order."""
    @property
    def missing(self) -> List[str]:
        """Scopes missing on a 403, in catalog order."""
    @property
    def required(self) -> List[str]:
        """On a 403, every scope of the route's closest alternative."""
    @property
    def warnings(self) -> List[WarningCode]:
        """Warning codes (``rotation_due``, ``expiring_soon``, ``credential_in_query``,
        …)."""
    @property
    def route(self) -> Optional[Tuple[str, str]]:
        """The matched route as ``(method, path template)``, if any."""
    @property
    def record(self) -> Optional[KeyRecord]:
        """The caller's record, when the key was verified."""
    @property
    def lookup_error(self) -> Optional[str]:
        """The host's lookup error message, on ``lookup_failed`` (503)."""
    @property
    def retry_after(self) -> Optional[int]:
        """On a 429 (``rate_limited``) or a 503 for an unavailable limiter
        (``limiter_unavailable``), the seconds to send in ``Retry-After`` (rounded up,
        at least 1); ``None`` otherwise."""
    @property
    def credits_remaining(self) -> Optional[int]:
        """The key's credits left after this request (its record's ``metadata.credits``),
        when it has credits and they were counted; ``None`` otherwise."""
    @property
    def rate_limit_policy(self) -> Optional[str]:
        """The ``RateLimit-Policy`` field (draft-ietf-httpapi-ratelimit-headers-10) of
        the limit reported, ``"per_key";q=100;w=1``, on allowed and limited answers
        alike; ``None`` when no limit applied (or the checker has no ``limits``)."""
    @property
    def rate_limit(self) -> Optional[str]:
        """The ``RateLimit`` field of the limit reported, ``"per_key";r=42;t=1``
        (``r``: requests left at once, ``t``: seconds until the full burst is back);
        ``None`` when no limit applied."""
    @property
    def headers(self) -> List[Tuple[str, str]]:
        """The response header fields this decision calls for, as ``(name, value)``
        pairs in this order: ``WWW-Authenticate`` (400, 401, 403), ``Retry-After`` (429,
        and a 503 for an unavailable limiter), ``RateLimit-Policy`` and ``RateLimit``
        (whenever a limit applied, allowed answers included). The integrations send
        them."""
    def require(self, requirement: Requirement) -> Decision:
        """This decision with a further requirement, such as scopes a view declares
        (from ``Policy.requirement`` of this decision's policy): a verified caller whose
        scopes do not meet it gets the 403 ``insufficient_scope`` decision, worded as for
        a policy route; any other decision comes back unchanged (a public route's too:
        declare no scopes on one). ``ValueError`` for another policy's requirement."""
    def to_dict(self) -> Dict[str, Any]:
        """The decision as a dict of plain values (for structured logs and JSON): one key
        per property, with its value, except ``record``; ``route`` as a list or
        ``None``."""

@final
class Verification:
    """The result of ``Checker.verify``: a key checked against a record, without a route."""

    @property
    def valid(self) -> bool:
        """Whether the key is valid now."""
    @property
    def reason(self) -> Reason:
        """``allowed``, or why not (``wrong_secret``, ``expired``, ``malformed_key``, …)."""
    @property
    def detail(self) -> Optional[Detail]:
        """For ``malformed_key``, the key error code."""
    @property
    def warnings(self) -> List[WarningCode]:
        """Warning codes."""
    @property
    def scopes(self) -> List[str]:
        """The key's effective scopes (empty unless valid)."""
    def __bool__(self) -> bool: ...

@final
class Pending:
    """A request waiting for its record: fetch ``key_id``, then call ``Checker.finish`` (or
    ``finish_failed``) once, with the checker that prepared it. It holds a copy of the
    presented key, wiped when it is finished or freed."""

    @property
    def key_id(self) -> str:
        """The key id to fetch from your database."""

@final
class Request:
    """A request for ``Checker.check_many``: the parts ``Checker.check`` takes."""

    def __new__(
        cls,
        method: str,
        path: str,
        *,
        authorization: Optional[_Text] = None,
        query: Optional[_Text] = None,
        https: bool = False,
        client: Optional[_Client] = None,
    ) -> Request:
        """A request: ``authorization`` is the ``Authorization`` header value and
        ``query`` the raw query string (``str`` or ``bytes``, or ``None``); ``https``
        says whether it came over TLS; ``client`` is the client's address, for a
        checker's usage recorder (a string that is no address raises ``ValueError``).
        Tuples given to ``check_many`` carry no client: use a ``Request`` for one."""
    @property
    def method(self) -> str:
        """The HTTP method."""
    @property
    def path(self) -> str:
        """The request path."""
    @property
    def authorization(self) -> Optional[bytes]:
        """The ``Authorization`` header value, as bytes (may hold a key: do not log)."""
    @property
    def query(self) -> Optional[bytes]:
        """The query string, as bytes (may hold a key: do not log)."""
    @property
    def https(self) -> bool:
        """Whether the request came over TLS."""
    @property
    def client(self) -> Optional[str]:
        """The client's address, if given (normalised: ``"2001:db8::1"``)."""

#: An element of ``Checker.check_many``: a ``Request``, or a tuple
#: ``(method, path[, authorization[, query[, https]]])``.
_RequestLike = Union[
    Request,
    Tuple[str, str],
    Tuple[str, str, Optional[_Text]],
    Tuple[str, str, Optional[_Text], Optional[_Text]],
    Tuple[str, str, Optional[_Text], Optional[_Text], bool],
]

@final
class ParsedKey:
    """A parsed key (the secret stays out of it)."""

    @property
    def kind(self) -> str:
        """The kind (``sk``)."""
    @property
    def env(self) -> str:
        """The environment (``live``)."""
    @property
    def key_id(self) -> str:
        """The key id, to look the record up."""
    @property
    def display(self) -> str:
        """A form safe to log: ``sk_live_<id>_…``."""

@final
class IssuedKey:
    """A freshly issued key: show ``key`` to the user once, store ``record``."""

    @property
    def key(self) -> str:
        """The plaintext key (``sk_live_…``). Show it once; never store or log it."""
    @property
    def record(self) -> KeyRecord:
        """The record to store (holds only the hash)."""

@final
class Rotation:
    """A rotation: the successor key, and the predecessor's record now expiring at the
    end of the grace period (store both)."""

    @property
    def successor(self) -> IssuedKey:
        """The new key."""
    @property
    def predecessor(self) -> KeyRecord:
        """The old record with its new expiry."""

@final
class Credential:
    """A bearer credential found in a request."""

    @property
    def token(self) -> bytes:
        """The token bytes (a secret: do not log)."""
    @property
    def source(self) -> CredentialSource:
        """``"header"`` or ``"query"``."""

@final
class Checker:
    """Turns requests into decisions under one policy and one pepper set. Immutable;
    share one instance between all threads."""

    def __new__(
        cls,
        policy: Policy,
        peppers: Peppers,
        *,
        access_tokens: Optional[AccessVerifier] = None,
        usage: Optional[UsageRecorder] = None,
        limits: Optional[Union[LocalLimits, FleetLimits]] = None,
    ) -> Checker:
        """A checker for ``policy`` with ``peppers`` (a snapshot of both is taken).
        ``access_tokens``: an ``AccessVerifier``, so that ``check`` also accepts OAuth
        access tokens (``Bearer at.…``) in the same path as API keys. ``usage``: a
        ``UsageRecorder`` that records every decision made against a key's record
        (``check``, ``check_many``, ``check_async``, ``finish``); its ``new_network`` and
        ``after_dormancy`` warnings also come back in ``Decision.warnings``. ``limits``:
        a ``LocalLimits`` that counts the policy's rate limits (``[[limits]]``) after a
        key is authenticated and authorised: over a limit the decision is 429
        ``rate_limited`` with ``retry_after``; ``rate_limit_policy`` and ``rate_limit``
        report the limit on allowed answers too. Without ``limits`` the policy's limits
        are not applied."""
    def with_access_tokens(self, verifier: AccessVerifier) -> Checker:
        """A new checker with the same policy, peppers, usage recorder and limits that
        also accepts OAuth access tokens verified by ``verifier`` (this one is
        unchanged)."""
    @property
    def access_tokens(self) -> Optional[AccessVerifier]:
        """The attached access-token verifier, if any."""
    def with_usage(self, recorder: UsageRecorder) -> Checker:
        """A new checker with the same policy, peppers, access-token verifier and limits
        that also records its decisions in ``recorder`` (this one is unchanged)."""
    @property
    def usage(self) -> Optional[UsageRecorder]:
        """The attached usage recorder, if any (the same recorder: drain it)."""
    def with_limits(self, limits: Union[LocalLimits, FleetLimits]) -> Checker:
        """A new checker with the same policy, peppers, access-token verifier and usage
        recorder that counts the policy's rate limits in ``limits`` (this one is
        unchanged)."""
    @property
    def limits(self) -> Optional[Union[LocalLimits, FleetLimits]]:
        """The attached limits, if any (the same table: what it counted stays
        counted)."""
    @property
    def policy(self) -> Policy:
        """The policy."""
    def check(
        self,
        method: str,
        path: str,
        *,
        lookup: _Lookup,
        authorization: Optional[_Text] = None,
        query: Optional[_Text] = None,
        https: bool = False,
        now: Optional[_Time] = None,
        client: Optional[_Client] = None,
    ) -> Decision:
        """Decides a request. ``path`` is the raw path as received (ASGI
        ``scope["raw_path"]``, not the decoded ``scope["path"]``), without the query
        string: ambiguous paths (``..``, ``%2F``, ``//``, …) are refused with 400, reason
        ``ambiguous_path`` (``detail`` says why).

        ``lookup``: a ``MemoryStore``, a database ``Store``, or a callable ``key_id ->
        record | None`` (a ``KeyRecord``, its dict or JSON text). Raise
        ``KeyLookupError`` from it when the database fails: 503 ``lookup_failed``, your
        message as ``lookup_error``. Any other ``Exception`` is a 503 too
        (``lookup_error`` names only its type) and a return value that makes no record is
        401 ``corrupt_record``; both are logged at ERROR to the ``portcullis.lookup``
        logger, and neither raises out of ``check``. A ``BaseException`` that is not an
        ``Exception`` (``KeyboardInterrupt``, ``SystemExit``) propagates.

        ``client``: the client's address (``str`` or an ``ipaddress`` address), which a
        usage recorder counts per network; a string that is no address raises
        ``ValueError``. Pass the address of the direct peer, or behind a proxy you trust
        the address it forwards (your code parses ``X-Forwarded-For``, not this one)."""
    def check_many(
        self,
        requests: Iterable[_RequestLike],
        *,
        lookup: _Lookup,
        now: Optional[_Time] = None,
    ) -> List[Decision]:
        """The decisions ``check`` gives one by one, in request order. A lookup callable
        is called as in ``check``: what it raises or returns is that request's decision;
        a ``KeyboardInterrupt`` or ``SystemExit`` stops the batch (its note names the
        element)."""
    def check_async(
        self,
        method: str,
        path: str,
        *,
        lookup: _AsyncLookup,
        authorization: Optional[_Text] = None,
        query: Optional[_Text] = None,
        https: bool = False,
        now: Optional[_Time] = None,
        client: Optional[_Client] = None,
    ) -> Coroutine[Any, Any, Decision]:
        """``check`` for asyncio: ``await checker.check_async(...)`` gives the decision
        ``check`` gives for the same arguments. ``lookup`` may also be an async callable
        (``async def lookup(key_id)``, or any callable returning an awaitable): it is
        awaited, so the event loop serves other requests meanwhile. What it raises or
        returns is sorted as in ``check`` (503 ``lookup_failed``, 401
        ``corrupt_record``); ``CancelledError``, ``KeyboardInterrupt`` and
        ``SystemExit`` propagate. The request is read and ``now`` fixed when this is
        called (bad arguments raise then); a ``MemoryStore`` decides at once, a
        database ``Store`` in a worker thread (``asyncio.to_thread``)."""
    def _finish_returned(
        self, pending: Pending, found: object, now: int
    ) -> Decision:
        """``check_async``'s phase two after the lookup returned ``found`` (internal)."""
    def _finish_raised(self, pending: Pending, error: BaseException, now: int) -> Decision:
        """``check_async``'s phase two after the lookup raised ``error`` (internal)."""
    def prepare(
        self,
        method: str,
        path: str,
        *,
        authorization: Optional[_Text] = None,
        query: Optional[_Text] = None,
        https: bool = False,
        now: Optional[_Time] = None,
        client: Optional[_Client] = None,
    ) -> Union[Decision, Pending]:
        """Phase one of a two-phase check: a ``Decision`` when no record is needed
        (access tokens are decided here, at ``now``: default the current time), else a
        ``Pending`` whose ``key_id`` you fetch before calling ``finish``. ``client`` is
        kept for ``finish`` to record."""
    def finish(
        self, pending: Pending, record: Optional[_RecordLike], now: Optional[_Time] = None
    ) -> Decision:
        """Phase two: the decision, given the fetched record (``None`` if unknown). Only
        the checker that prepared ``pending`` may finish it (another one, e.g. after a
        policy reload, raises ``ConfigurationError`` with code ``foreign_pending``)."""
    def finish_failed(self, pending: Pending, message: str) -> Decision:
        """Phase two when your lookup failed: a 503 decision (fail closed)."""
    def verify(
        self, key: _Text, record: _RecordLike, now: Optional[_Time] = None
    ) -> Verification:
        """Verifies a key against a record: deployment environment (a key of another
        environment is ``wrong_environment``, as in ``check``), secret and lifecycle; no
        route rules."""
    def parse(self, key: _Text) -> ParsedKey:
        """Parses a key with this policy's kinds and environments; raises
        ``MalformedKeyError``."""
    def hash_key(self, key: _Text) -> str:
        """The record hash string of a key under the primary pepper (for re-hashing a
        record that got a ``needs_rehash`` warning:
        ``record.with_hash(checker.hash_key(key))``)."""
    def issue(
        self,
        name: str,
        owner: str,
        scopes: Sequence[str],
        *,
        ttl: Optional[_Duration] = None,
        not_before: Optional[_Time] = None,
        metadata: Optional[Dict[str, Any]] = None,
        kind: Optional[str] = None,
        env: Optional[str] = None,
        now: Optional[_Time] = None,
    ) -> IssuedKey:
        """Issues a key. ``ttl`` is at least 1 second; ``None`` never expires, and zero
        raises ``IssueError`` with code ``bad_ttl`` (the key would be expired when
        issued)."""
    def rotate(
        self, record: _RecordLike, grace: _Duration, now: Optional[_Time] = None
    ) -> Rotation:
        """Issues the successor of ``record`` (same lifetime length, ``not_before`` and
        a revocation scheduled for the future) and sets ``record`` to expire after
        ``grace``. A scope, kind or environment the policy no longer accepts raises
        ``IssueError`` as ``issue`` does."""

def extract_credential(
    authorization: Optional[_Text],
    query: Optional[_Text],
    *,
    param: str = "api_key",
    allow_query: bool = False,
) -> Credential:
    """Finds the bearer credential of a request (the first step of every check); raises
    ``CredentialError`` with the extraction error code."""
def legacy_sha256_hash(key: str) -> str:
    """The legacy ``sha256$…`` hash string of a whole key text, for importing keys from
    an older system that stored plain SHA-256 digests."""
def _enumerations() -> Dict[str, List[str]]:
    """Every enumerated string the module returns, by the name of its ``Literal`` in
    ``portcullis.codes`` (a test hook, not API)."""

# -- OAuth 2.0 ---------------------------------------------------------------------------

#: A client argument: a Client, its dict or its JSON text.
_ClientLike = Union["Client", Mapping[str, Any], str]
#: A store argument: MemoryOAuthStore, the database Store, or an object implementing
#: the portcullis.OAuthStore protocol.
_StoreLike = Union["MemoryOAuthStore", Store, OAuthStore]
#: The store ``authorize`` takes: it reads only clients.
_ClientStoreLike = Union["MemoryOAuthStore", Store, ClientStore]
#: The store ``approve`` takes: it only puts the new code.
_CodeWriterLike = Union["MemoryOAuthStore", Store, CodeWriter]

@final
class AccessKeys:
    """The access-token signing keys (``secret`` ≥ 32 bytes): one signs, all verify.

    Rotation: ``add`` the new key, ``set_primary`` it, ``remove`` the old one an
    access-token lifetime later. An ``AccessVerifier`` takes a snapshot: later changes
    here need a new verifier. Secrets are kept only as keyed HMAC states, never shown."""

    def __new__(cls, kid: str, secret: ReadableBuffer) -> AccessKeys:
        """A key set whose primary (and only) key is ``secret`` (at least 32 bytes,
        any bytes-like object) under ``kid`` (1-32 characters of ``[A-Za-z0-9-]``)."""
    def add(self, kid: str, secret: ReadableBuffer) -> None:
        """Adds a verification key (``secret`` as in the constructor)."""
    def set_primary(self, kid: str) -> None:
        """Makes ``kid`` the signing key."""
    def remove(self, kid: str) -> None:
        """Removes a key (not the primary one: ``unknown_access_key``)."""
    @property
    def primary_id(self) -> str:
        """The signing key's id."""
    @property
    def ids(self) -> List[str]:
        """Every key id, in the order added."""

@final
class AccessClaims:
    """What an access token says (readable by whoever holds the token: signed, not
    encrypted). Build one to sign test tokens with ``AccessVerifier.sign``."""

    def __new__(
        cls,
        *,
        subject: str,
        client_id: str,
        scopes: Sequence[str],
        issued_at: int,
        expires_at: int,
        token_id: str,
        family: str,
    ) -> AccessClaims:
        """Claims to sign (``token_id`` and ``family``: 16 base62 characters each)."""
    @property
    def subject(self) -> str:
        """The resource owner the token acts for."""
    @property
    def client_id(self) -> str:
        """The client it was issued to."""
    @property
    def scopes(self) -> List[str]:
        """The granted scopes, implications expanded, in catalog order."""
    @property
    def issued_at(self) -> int:
        """Issue time (int seconds)."""
    @property
    def expires_at(self) -> int:
        """Expiry (int seconds): invalid from this second on."""
    @property
    def token_id(self) -> str:
        """The token id (``jti``), 16 base62 characters."""
    @property
    def family(self) -> str:
        """The grant family, 16 base62 characters."""
    def to_dict(self) -> Dict[str, Any]:
        """The claims as a dict (the shape of the conformance vectors)."""
    def __eq__(self, other: object, /) -> bool: ...

@final
class AccessVerifier:
    """Verifies access tokens (``at.…``) with no storage lookup: the keys, the policy's
    scope catalog, and a revocation set (revoked grant families, a revocation epoch)
    that the host pushes. Lock-free; share one instance between a ``Checker``
    (``access_tokens=``) and an ``OAuthServer``."""

    def __new__(cls, policy: Policy, keys: AccessKeys, *, max_skew: int = 60) -> AccessVerifier:
        """A verifier for tokens under (a snapshot of) ``keys`` and ``policy``'s catalog.
        ``max_skew``: seconds a token's issue time may lie in the future (default 60)."""
    def verify(self, token: _Text, now: Optional[_Time] = None) -> AccessClaims:
        """Fully verifies a token at ``now`` (default: the current time): shape, key,
        MAC, catalog, revocation, time. Raises ``AccessTokenError`` (``code``:
        ``access_token_expired``, …)."""
    def decode(self, token: _Text) -> AccessClaims:
        """Checks a token's shape, key, MAC and catalog only (not time, not revocation)."""
    def sign(self, claims: AccessClaims) -> str:
        """Signs ``claims`` under the primary key (the server does this itself; for
        tests, vectors and tools). The token is a bearer secret: do not log it."""
    def revoke_family(self, family: str) -> None:
        """Revokes every access token of a grant family (16 base62 characters)."""
    def forget_family(self, family: str) -> None:
        """Forgets a revoked family (once its last access token has expired)."""
    def is_family_revoked(self, family: str) -> bool:
        """Whether a family is revoked."""
    @property
    def family_count(self) -> int:
        """How many revoked families are held."""
    def set_epoch(self, epoch: _Time) -> None:
        """Revokes every token issued before ``epoch`` (raises the epoch; never lowers
        it)."""
    @property
    def epoch(self) -> int:
        """The revocation epoch (int seconds; 0 = none)."""
    @property
    def max_skew(self) -> int:
        """Seconds a token's issue time may lie in the future."""
    @property
    def primary_id(self) -> str:
        """The signing key's id."""

@final
class PkceChallenge:
    """A PKCE code challenge (RFC 7636): ``method`` is ``"S256"`` or ``"plain"``."""

    def __new__(cls, method: str, challenge: str) -> PkceChallenge:
        """A challenge as bound to a code (no grammar check: see ``verify``)."""
    @staticmethod
    def s256(verifier: str) -> PkceChallenge:
        """The S256 challenge of a verifier (for clients and tests)."""
    def verify(self, verifier: str) -> bool:
        """Whether ``verifier`` answers this challenge (grammar checked, constant-time)."""
    @property
    def method(self) -> str:
        """``"S256"`` or ``"plain"``."""
    @property
    def challenge(self) -> str:
        """The challenge text."""
    def __eq__(self, other: object, /) -> bool: ...

def oauth_token_hash(token: str) -> Optional[bytes]:
    """The SHA-256 a store keeps for an opaque token (``rt.…`` refresh token, ``ac.…``
    code, ``cs.…`` client secret), as 32 bytes; ``None`` if the text has no such
    shape."""

@final
class Client:
    """A registered client, as the host stores it (``to_json``/``from_json`` is the
    storage contract). Immutable."""

    @staticmethod
    def public(
        client_id: str,
        redirect_uris: Sequence[str],
        allowed_scopes: Sequence[str],
        *,
        native: bool = False,
    ) -> Client:
        """A public client (no secret; PKCE always required). ``native``: an app (RFC
        8252) that may use custom schemes and loopback redirects with any port."""
    @staticmethod
    def confidential(
        client_id: str, redirect_uris: Sequence[str], allowed_scopes: Sequence[str]
    ) -> Tuple[Client, str]:
        """A confidential client and its fresh secret (``cs.…``), as ``(client,
        secret)``. The secret is shown once: hand it to the client's developer; only
        its hash is kept."""
    @staticmethod
    def from_json(value: str) -> Client:
        """A client from its JSON text (validated); raises ``ClientError``."""
    @staticmethod
    def from_dict(value: Dict[str, Any]) -> Client:
        """A client from its dict form (validated); raises ``ClientError``."""
    def to_json(self) -> str:
        """The JSON form (what to store; holds the secret's hash, never the secret)."""
    def to_dict(self) -> Dict[str, Any]:
        """The dict form."""
    def check_secret(self, secret: str) -> bool:
        """Whether ``secret`` is this client's secret (constant time on the hashes)."""
    def allows_grant(self, grant_type: str) -> bool:
        """Whether the client may use a grant type."""
    @property
    def client_id(self) -> str:
        """The client id."""
    @property
    def client_type(self) -> ClientType:
        """``"public"`` or ``"confidential"``."""
    @property
    def native(self) -> bool:
        """A native app (RFC 8252)."""
    @property
    def redirect_uris(self) -> List[str]:
        """The registered redirect URIs (matched exactly)."""
    @property
    def allowed_scopes(self) -> List[str]:
        """Scopes the client may be granted."""
    @property
    def grant_types(self) -> List[str]:
        """Grant types the client may use."""
    def __eq__(self, other: object, /) -> bool: ...

@final
class MemoryOAuthStore:
    """An in-memory implementation of every OAuth store contract (clients, codes, refresh
    tokens, revoked families) behind one mutex: for tests, examples and single-process
    servers. Safe to share between threads."""

    def __new__(cls) -> MemoryOAuthStore:
        """An empty store."""
    def add_client(self, client: _ClientLike) -> None:
        """Registers (or replaces) a client (``Client``, its dict or JSON)."""
    def client(self, client_id: str) -> Optional[Client]:
        """The client with this id, or ``None``."""
    def is_family_revoked(self, family: str) -> bool:
        """Whether a grant family is revoked (refresh tokens)."""
    def purge_codes(self, now: Optional[_Time] = None) -> None:
        """Drops used and expired codes (call now and then)."""

@final
class OAuthConfig:
    """The engine's knobs; the defaults are the secure profile (RFC 9700, OAuth 2.1).
    Times are int seconds."""

    def __new__(
        cls,
        *,
        code_ttl: Optional[_Duration] = None,
        access_ttl: Optional[_Duration] = None,
        refresh_idle_ttl: Optional[_Duration] = None,
        refresh_max_ttl: Optional[_Duration] = None,
        refresh_grace: Optional[_Duration] = None,
        allow_plain_pkce: bool = False,
        require_pkce_for_confidential: bool = True,
        allow_body_credentials: bool = False,
        default_scope: Optional[str] = None,
        issuer: Optional[str] = None,
    ) -> OAuthConfig:
        """A configuration; every argument is keyword-only and defaults to the secure
        value. Durations: int seconds or ``timedelta``. ``issuer``: an ``https`` URL
        (``http`` for a loopback host) without query or fragment, else
        ``ConfigurationError``."""
    @property
    def code_ttl(self) -> int:
        """Authorization-code lifetime (default 600; capped at 600)."""
    @property
    def access_ttl(self) -> int:
        """Access-token lifetime (default 3600: one hour)."""
    @property
    def refresh_idle_ttl(self) -> int:
        """A refresh token unused this long expires (default 30 days)."""
    @property
    def refresh_max_ttl(self) -> int:
        """A grant family lives at most this long (default 90 days)."""
    @property
    def refresh_grace(self) -> int:
        """Seconds after rotation during which the previous refresh token may be redeemed
        once more without revoking the family; a further use is reuse (default 0)."""
    @property
    def allow_plain_pkce(self) -> bool:
        """Accept ``code_challenge_method=plain`` (default False)."""
    @property
    def require_pkce_for_confidential(self) -> bool:
        """Require PKCE from confidential clients too (default True)."""
    @property
    def allow_body_credentials(self) -> bool:
        """Accept ``client_id``/``client_secret`` in the body (default False: HTTP Basic
        only)."""
    @property
    def default_scope(self) -> Optional[str]:
        """Scopes granted when the request has none (default None: ``invalid_scope``)."""
    @property
    def issuer(self) -> Optional[str]:
        """The issuer identifier (RFC 8414), or None. When set, every authorization
        redirect carries it as ``iss`` (RFC 9207) and ``OAuthServer.metadata`` publishes
        it. An ``https`` URL (``http`` for a loopback host) without query or fragment;
        anything else raises ``ConfigurationError`` (code ``bad_issuer``)."""
    @property
    def effective_code_ttl(self) -> int:
        """The code lifetime actually used: ``code_ttl`` capped at ten minutes."""
    def __eq__(self, other: object, /) -> bool: ...

@final
class TokenResponse:
    """An HTTP response to send as is: ``status``, ``headers`` (``Content-Type``,
    ``Cache-Control: no-store``, ``Pragma: no-cache``, and ``WWW-Authenticate`` on a
    401) and the JSON ``body``. The body may hold tokens: ``repr`` does not show it;
    do not log it."""

    @property
    def status(self) -> int:
        """The HTTP status: 200, 400, 401, 500 or 503."""
    @property
    def headers(self) -> List[Tuple[str, str]]:
        """Header ``(name, value)`` pairs, in order."""
    @property
    def body(self) -> str:
        """The JSON body text (may contain tokens)."""
    def header(self, name: str) -> Optional[str]:
        """A header's value (name case-insensitive), or ``None``."""
    def json(self) -> Dict[str, Any]:
        """The body, parsed."""

@final
class AuthorizeOutcome:
    """The outcome of validating an authorization request. ``kind``:

    - ``"valid"``: authenticate the user, show the consent screen (``client_id``,
      ``scopes``), then call ``OAuthServer.approve`` or ``OAuthServer.deny`` with this
      object;
    - ``"redirect"``: the request is bad but the client is trusted: redirect (302) to
      ``location`` (it carries ``error`` and the ``state``);
    - ``"show_error"``: the client or redirect URI cannot be trusted: show ``error``
      and ``description`` on a 400 page and do **not** redirect."""

    @property
    def kind(self) -> AuthorizeKind:
        """``"valid"``, ``"redirect"`` or ``"show_error"``."""
    @property
    def error(self) -> Optional[OAuthErrorCode]:
        """The OAuth error code (``invalid_request``, …), unless valid."""
    @property
    def description(self) -> Optional[str]:
        """The error's description (safe to show), unless valid."""
    @property
    def location(self) -> Optional[str]:
        """Where to redirect, for ``"redirect"``."""
    @property
    def client_id(self) -> Optional[str]:
        """The requesting client's id, for ``"valid"``."""
    @property
    def client(self) -> Optional[Client]:
        """The requesting client, for ``"valid"``."""
    @property
    def redirect_uri(self) -> Optional[str]:
        """Where the answer goes, for ``"valid"``."""
    @property
    def state(self) -> Optional[str]:
        """The client's ``state``, for ``"valid"``."""
    @property
    def scopes(self) -> List[str]:
        """The scopes to ask consent for (requested ∩ client-allowed, implications
        expanded), in catalog order; empty unless valid."""
    @property
    def scope_narrowed(self) -> bool:
        """Whether ``scopes`` is narrower than what the client asked for."""
    @property
    def code_challenge_method(self) -> Optional[str]:
        """The PKCE challenge method (``"S256"``/``"plain"``), if the request had one."""

@final
class OAuthServer:
    """The OAuth 2.0 authorization server engine for one policy's scope catalog, signing
    with the verifier's keys. Immutable; share one instance between threads."""

    def __new__(
        cls,
        policy: Policy,
        verifier: AccessVerifier,
        config: Optional[OAuthConfig] = None,
        *,
        realm: Optional[str] = None,
        issuer: Optional[str] = None,
    ) -> OAuthServer:
        """An engine for ``policy``'s scope catalog, signing with ``verifier``'s keys.
        Without ``config``, the policy's ``[oauth]`` section configures it (its
        ``allow_body_credentials``, lifetimes and PKCE switches; the secure defaults of
        ``OAuthConfig()`` where it is silent). ``issuer`` replaces ``config.issuer``
        when given (``ConfigurationError``, code
        ``bad_issuer``, when it is not an acceptable issuer identifier)."""
    @property
    def config(self) -> OAuthConfig:
        """The configuration."""
    def metadata(
        self,
        *,
        authorization_endpoint: str,
        token_endpoint: str,
        revocation_endpoint: Optional[str] = None,
        introspection_endpoint: Optional[str] = None,
    ) -> str:
        """The authorization-server metadata document (RFC 8414 §2) as JSON text.

        Serve it at ``GET /.well-known/oauth-authorization-server`` with
        ``Content-Type: application/json``, without authentication. It is built from
        the configuration: ``token_endpoint_auth_methods_supported`` lists
        ``client_secret_basic``, ``client_secret_post`` when body credentials are
        allowed, and ``none``; ``code_challenge_methods_supported`` is ``S256`` (and
        ``plain`` when allowed); ``scopes_supported`` is the policy's catalog;
        ``authorization_response_iss_parameter_supported`` is true. The endpoints are
        the absolute URLs where the host serves them (``https``; ``http`` only for a
        loopback host); the revocation and introspection entries are left out when not
        given. Raises ``ConfigurationError``: code ``no_issuer`` when the server has no
        issuer, ``insecure_endpoint`` for an ``http`` URL of a host that is not loopback,
        ``bad_endpoint`` for one that is not an absolute URL.
        """
    def authorize(self, query: _Text, store: _ClientStoreLike) -> AuthorizeOutcome:
        """Validates an authorization request's query string (``str`` or ``bytes``; a
        leading ``?`` is ignored). ``store``: a ``MemoryOAuthStore``, a ``Store`` or
        an object with ``client(id)``."""
    def approve(
        self,
        outcome: AuthorizeOutcome,
        subject: str,
        store: _CodeWriterLike,
        *,
        scopes: Optional[Sequence[str]] = None,
        now: Optional[_Time] = None,
    ) -> str:
        """The user approved a ``"valid"`` request: mints a code, stores it
        (``put_code``), and returns the redirect URL with ``code`` and ``state``.
        ``scopes``: what the user consented to, if the consent screen let them narrow
        (default: everything asked). Raises ``OAuthError`` (``access_denied`` when no
        scope is left, ``invalid_request`` for a bad subject, ``server_error`` when
        the store failed: then redirect to ``error_redirect(outcome,
        "server_error")``)."""
    def deny(self, outcome: AuthorizeOutcome) -> str:
        """The user refused a ``"valid"`` request: the ``access_denied`` redirect URL."""
    def error_redirect(self, outcome: AuthorizeOutcome, error: str) -> str:
        """The redirect URL carrying ``error``, an authorization error code of RFC 6749
        §4.1.2.1 (``access_denied``, ``server_error``, ``temporarily_unavailable``,
        ``invalid_request``, ``invalid_scope``, ``unauthorized_client``,
        ``unsupported_response_type``), for a ``"valid"`` request."""
    def token(
        self,
        authorization: Optional[_Text],
        body: _Text,
        store: _StoreLike,
        *,
        now: Optional[_Time] = None,
    ) -> TokenResponse:
        """The token endpoint for an ``application/x-www-form-urlencoded`` body: the same
        as ``token_request(authorization, "application/x-www-form-urlencoded", body,
        store)``. A host that also takes JSON bodies calls ``token_request`` with the
        ``Content-Type`` it received."""
    def revoke(
        self,
        authorization: Optional[_Text],
        body: _Text,
        store: _StoreLike,
        *,
        now: Optional[_Time] = None,
    ) -> TokenResponse:
        """The revocation endpoint (RFC 7009) for a form body; see ``revoke_request``."""
    def introspect(
        self,
        authorization: Optional[_Text],
        body: _Text,
        store: _StoreLike,
        *,
        now: Optional[_Time] = None,
    ) -> TokenResponse:
        """The introspection endpoint (RFC 7662) for a form body; see
        ``introspect_request``."""
    def token_request(
        self,
        authorization: Optional[_Text],
        content_type: Optional[_Text],
        body: _Text,
        store: _StoreLike,
        *,
        now: Optional[_Time] = None,
    ) -> TokenResponse:
        """The token endpoint for a request as received: the ``Authorization`` and
        ``Content-Type`` header values (``None`` when absent) and the body, any bytes.

        The body is read by its type: ``application/x-www-form-urlencoded`` (RFC 6749)
        or ``application/json`` (one object of string values, e.g. ``{"grant_type":
        "refresh_token", "refresh_token": "rt.…", "client_id": "spa"}``); a
        ``charset`` parameter must be ``utf-8``. Any other type, no type, a body over
        64 KiB or not UTF-8, nested, numeric, boolean or ``null`` JSON values, a
        repeated member, or a JSON body sent as form (or the reverse) is a 400
        ``invalid_request`` response whose ``error_description`` says what to send —
        before client authentication, and the code stays unused. Client credentials:
        HTTP Basic, or ``client_id``/``client_secret`` in the body when the
        configuration allows it (``allow_body_credentials``), never both; a public
        client sends ``client_id`` alone; a confidential client that sends no secret
        gets 401 ``invalid_client`` "This client must send its client_secret …"."""
    def revoke_request(
        self,
        authorization: Optional[_Text],
        content_type: Optional[_Text],
        body: _Text,
        store: _StoreLike,
        *,
        now: Optional[_Time] = None,
    ) -> TokenResponse:
        """The revocation endpoint (RFC 7009) for a request as received; arguments and
        body types as for ``token_request``, answers as ``revoke``."""
    def introspect_request(
        self,
        authorization: Optional[_Text],
        content_type: Optional[_Text],
        body: _Text,
        store: _StoreLike,
        *,
        now: Optional[_Time] = None,
    ) -> TokenResponse:
        """The introspection endpoint (RFC 7662) for a request as received; arguments
        and body types as for ``token_request``, answers as ``introspect``."""
    def revoke_family(
        self, family: str, store: _StoreLike, *, now: Optional[_Time] = None
    ) -> None:
        """Revokes a grant family everywhere: the store's refresh tokens and the
        verifier's access tokens (e.g. when the user withdraws consent)."""

@final
class UsageRecorder:
    """Counts uses per key (first and last use, counts per hour, client networks) and
    raises unusual-activity signals. Thread-safe: recording takes no lock. Attach it to a
    ``Checker`` (``usage=``), then drain it every few seconds and store the batch::

        recorder = portcullis.UsageRecorder()
        checker = portcullis.Checker(policy, peppers, usage=recorder)
        # each request: checker.check(..., client=peer_address)
        # every few seconds, on another thread:
        batch = recorder.drain()
        for signal in batch.signals: alert(signal)

    The rules (the core's ``portcullis::usage``): a new network (IPv4 /24, IPv6 /48)
    after ``learning``; an hour's uses at ``volume_factor`` times the trailing
    ``baseline_hours`` baseline and at least ``volume_min_count``; a use after
    ``dormancy``; ``burst_threshold`` wrong secrets within ``burst_window``; a use past
    the policy's maximum age. A recorder knows only what it has seen: give it back what
    you stored with ``restore`` after a restart."""

    def __new__(
        cls,
        *,
        max_keys: Optional[int] = None,
        learning: Optional[_Duration] = None,
        dormancy: Optional[_Duration] = None,
        burst_threshold: Optional[int] = None,
        burst_window: Optional[_Duration] = None,
        volume_factor: Optional[float] = None,
        volume_min_count: Optional[int] = None,
        baseline_hours: Optional[int] = None,
    ) -> UsageRecorder:
        """A recorder with its table allocated for ``max_keys`` keys. A setting left out
        (or ``None``) is the core's default: ``max_keys`` 10,000 (1 to 1,048,576),
        ``learning`` 7 days, ``dormancy`` 30 days, ``burst_threshold`` 10 (at least 1)
        wrong secrets within ``burst_window`` 600 s, ``volume_factor`` 10 (at least 1,
        finite), ``volume_min_count`` 1,000, ``baseline_hours`` 24 (1 to 8,760).
        Durations are int seconds or ``timedelta``. A setting out of range raises
        ``ConfigurationError`` with the core's code (``bad_max_keys``,
        ``bad_burst_threshold``, ``bad_volume_factor``, ``bad_baseline_hours``)."""
    def record(
        self,
        key_id: str,
        use: str,
        *,
        at: _Time,
        client: Optional[_Client] = None,
        warnings: Iterable[str] = (),
    ) -> List[WarningCode]:
        """Records one use of ``key_id`` at ``at``: ``use`` is a decision's reason
        (``allowed``, ``wrong_secret``, …; a reason the recorder does not count, such as
        ``unknown_key``, records nothing; a string that is no reason raises
        ``ValueError``), ``client`` the client's address, ``warnings`` the decision's
        warning codes (``rotation_due`` raises a signal). Returns the warnings the use
        raised (``new_network``, ``after_dormancy``). A checker with this recorder
        records its decisions itself: call this for decisions made otherwise
        (``Checker.verify``)."""
    def drain(self, now: Optional[_Time] = None) -> UsageBatch:
        """Takes every count and signal recorded since the previous drain; the GIL is
        released meanwhile, and recording goes on (a use counted during a drain may be
        in the next one). ``now`` (default the current time) stamps volume alarms and
        orders evictions. Drain at least every few hours: a key keeps four hours of
        counts between drains."""
    def restore(
        self,
        key_id: str,
        *,
        first_used: Optional[_Time] = None,
        last_used: Optional[_Time] = None,
        networks: Iterable[_Network] = (),
    ) -> bool:
        """Gives a key back what a previous recorder knew of it (from your store):
        first and last use, and networks (``"203.0.113.0/24"``, ``"2001:db8:1::/48"``;
        at most 8 are kept), so that learning, dormancy and new networks carry across a
        restart. ``False`` when the table has no room for the key."""
    def stats(self) -> UsageStats:
        """Counters about the recorder itself."""

@final
class UsageStats:
    """Counters about a recorder (``UsageRecorder.stats()``)."""

    @property
    def keys(self) -> int:
        """Keys tracked now."""
    @property
    def max_keys(self) -> int:
        """The most keys the recorder tracks."""
    @property
    def dropped(self) -> int:
        """Uses not recorded since the recorder was made (a new key and no room)."""
    @property
    def evicted(self) -> int:
        """Keys evicted since the recorder was made."""

@final
class UsageBatch:
    """What one ``UsageRecorder.drain`` took out."""

    @property
    def keys(self) -> List[KeyUsage]:
        """Keys with counts since the previous drain, by id."""
    @property
    def signals(self) -> List[Signal]:
        """Signals raised since the previous drain, by time, then key, then kind."""
    @property
    def dropped(self) -> int:
        """Uses not recorded since the previous drain (a new key and no room)."""
    def to_json(self) -> Dict[str, Any]:
        """The batch as plain values, to store it: ``{"keys": [{"key_id",
        "first_used", "last_used", "hours": [{"hour", "allowed", "denied": {reason:
        count}}], "networks": [...]}], "signals": [{"key_id", "at", "kind", …}],
        "dropped"}``; times are int seconds, zero denial counts are left out. The form
        of the usage vectors, the C binding and the store."""

@final
class KeyUsage:
    """One key's usage since the previous drain."""

    @property
    def key_id(self) -> str:
        """The key id."""
    @property
    def first_used(self) -> Optional[datetime]:
        """Its first authenticated use this recorder knows of (allowed, or refused for
        scope); ``None`` if it has none (wrong secrets do not make a key used)."""
    @property
    def last_used(self) -> Optional[datetime]:
        """Its last authenticated use."""
    @property
    def hours(self) -> List[HourCounts]:
        """Counts per hour since the previous drain, oldest first."""
    @property
    def networks(self) -> List[str]:
        """The client networks it has been used from (at most 8)."""

@final
class HourCounts:
    """One key's uses in one hour."""

    @property
    def hour(self) -> datetime:
        """The hour's first second."""
    @property
    def allowed(self) -> int:
        """Allowed uses."""
    @property
    def denied(self) -> Dict[UsageDenial, int]:
        """Denied uses by reason; reasons with none are left out."""
    @property
    def total(self) -> int:
        """Every use, allowed or denied."""

@final
class Signal:
    """An unusual-activity event. ``kind`` says what happened; the fields of that kind
    are set and the others are ``None``: ``network`` (``new_network``); ``hour``,
    ``count``, ``baseline`` (``volume``); ``last_used`` (``after_dormancy``);
    ``attempts``, ``since`` (``wrong_secret_burst``); none for ``rotation_due``."""

    @property
    def key_id(self) -> str:
        """The key id."""
    @property
    def at(self) -> datetime:
        """When it was raised (a use's time; a volume alarm's: the drain's)."""
    @property
    def kind(self) -> SignalKind:
        """What happened."""
    @property
    def network(self) -> Optional[str]:
        """``new_network``: the network (``"198.51.100.0/24"``)."""
    @property
    def hour(self) -> Optional[datetime]:
        """``volume``: the hour whose count fired."""
    @property
    def count(self) -> Optional[int]:
        """``volume``: the hour's uses when the rule fired."""
    @property
    def baseline(self) -> Optional[float]:
        """``volume``: the baseline (uses per hour) it exceeded."""
    @property
    def last_used(self) -> Optional[datetime]:
        """``after_dormancy``: the use before this one."""
    @property
    def attempts(self) -> Optional[int]:
        """``wrong_secret_burst``: wrong secrets in the window so far."""
    @property
    def since(self) -> Optional[datetime]:
        """``wrong_secret_burst``: the window's start."""
    def to_json(self) -> Dict[str, Any]:
        """This signal as its entry of ``UsageBatch.to_json()``."""

@final
class UsageHistory:
    """A key's stored usage (``Store.key_usage``)."""

    @property
    def key_id(self) -> str:
        """The key id asked for."""
    @property
    def first_used(self) -> Optional[datetime]:
        """Its first authenticated use on record (``None``: never used)."""
    @property
    def last_used(self) -> Optional[datetime]:
        """Its last authenticated use on record."""
    @property
    def networks(self) -> List[str]:
        """The client networks it has been used from (at most 8)."""
    @property
    def hours(self) -> List[HourCounts]:
        """Its counts per hour since the time asked for, oldest first; hours without use
        are absent."""
    @property
    def signals(self) -> List[StoredSignal]:
        """Its signals since the time asked for, newest first."""

@final
class StoredSignal:
    """A saved unusual-activity signal (``Store.usage_signals``,
    ``UsageHistory.signals``)."""

    @property
    def seq(self) -> int:
        """Its place among saved signals (increasing)."""
    @property
    def key_id(self) -> str:
        """The key id."""
    @property
    def at(self) -> datetime:
        """When it was raised."""
    @property
    def kind(self) -> str:
        """``new_network``, ``volume``, ``after_dormancy``, ``wrong_secret_burst`` or
        ``rotation_due`` (a newer version may have saved another)."""
    @property
    def details(self) -> Dict[str, Any]:
        """The kind's fields as saved (``{"network": "198.51.100.0/24"}``; ``{}`` for
        ``rotation_due``; times as int seconds)."""
    def to_json(self) -> Dict[str, Any]:
        """``{"seq", "key_id", "at", "kind", …the kind's fields}``: ``Signal.to_json()``
        with the sequence number."""

@final
class AuditEntry:
    """One entry of the audit log (``Store.audit_log``). It never holds a secret."""

    @property
    def seq(self) -> int:
        """Its place in the log (increasing)."""
    @property
    def key_id(self) -> Optional[str]:
        """The key (``None`` for an entry about no key: ``pepper_rotated``)."""
    @property
    def action(self) -> str:
        """``created``, ``revoked``, ``rotated``, ``rehashed`` or ``pepper_rotated``."""
    @property
    def actor(self) -> Optional[str]:
        """Who made the change, as the host named it (``None``: no one was named, or the
        entry predates actors)."""
    @property
    def at(self) -> datetime:
        """When."""
    @property
    def detail(self) -> str:
        """``rotated``: the successor's id; ``created`` by a rotation: the
        predecessor's; ``pepper_rotated``: the new primary pepper's id; otherwise
        ``""``."""

@final
class Quota:
    """A rate: ``rate`` requests per ``window`` seconds, at most ``burst`` at once.
    Immutable; equal quotas compare equal."""

    def __new__(cls, rate: int, window: int, burst: Optional[int] = None) -> Quota:
        """``rate`` requests (at least 1, at most one per microsecond) per ``window``
        seconds (1 to 86,400), at most ``burst`` at once (default ``rate``; at least 1,
        and refilled within 50 days). A setting out of range raises
        ``ConfigurationError`` with the core's code (``bad_rate``, ``bad_window``,
        ``bad_burst``); a non-integer raises ``TypeError``."""
    @property
    def rate(self) -> int:
        """Requests per window."""
    @property
    def window(self) -> int:
        """The window, in seconds."""
    @property
    def burst(self) -> int:
        """Requests allowed at once."""
    @property
    def interval_us(self) -> int:
        """Microseconds between two requests at the steady rate."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Verdict:
    """What a ``RateLimiter`` said about one request; true when allowed."""

    @property
    def allowed(self) -> bool:
        """Whether the request may proceed (and was counted)."""
    @property
    def remaining(self) -> int:
        """Requests that could still be made at once after this one."""
    @property
    def reset_us(self) -> int:
        """Microseconds until the subject is back to its full burst."""
    @property
    def retry_after_us(self) -> int:
        """On a refusal, microseconds until one request would be allowed (0 when
        allowed)."""
    def __bool__(self) -> bool: ...
    def __eq__(self, other: object, /) -> bool: ...

@final
class RateLimiter:
    """Rate limits of subjects in this process (GCRA: one word per subject, lock-free,
    its memory allocated once), for what a ``Checker`` does not limit itself. Time is an
    argument, ``now_us``: microseconds of a monotonic clock you read
    (``time.monotonic_ns() // 1000``). Thread-safe: share one instance::

        limiter = portcullis.RateLimiter(10_000)
        per_second = portcullis.Quota(100, 1, burst=20)
        verdict = limiter.check(per_second, "user:42", now_us=time.monotonic_ns() // 1000)
        if not verdict: answer_429(retry_after=verdict.retry_after_us)

    When every slot a new subject may take is busy, it is refused as limited (fail
    closed) and counted in ``saturated``."""

    def __new__(cls, max_subjects: int) -> RateLimiter:
        """A limiter for up to ``max_subjects`` subjects at once (1 to 16,777,216; 8
        bytes a slot, allocated now). Out of range: ``ConfigurationError``, code
        ``bad_subjects``."""
    def check(
        self,
        quota: Quota,
        subject: _Text,
        *,
        now_us: int,
        limit: int = 0,
        n: int = 1,
    ) -> Verdict:
        """Counts ``n`` requests of ``subject`` under ``quota`` at ``now_us``, all or
        none (``n`` above the burst is never allowed; ``n = 0`` only reads). ``limit``
        numbers the limit: one subject under two limits is counted apart."""
    def refund(
        self,
        quota: Quota,
        subject: _Text,
        *,
        now_us: int,
        limit: int = 0,
        n: int = 1,
    ) -> None:
        """Gives back ``n`` requests counted for ``subject`` (a request a later limit
        refused, so that the earlier ones do not count it)."""
    @property
    def saturated(self) -> int:
        """Requests refused because no slot was free for a new subject."""

@final
class LocalLimits:
    """Where a ``Checker`` counts the policy's rate limits (``[[limits]]``) in this
    process, on the system's monotonic clock: ``Checker(policy, peppers,
    limits=portcullis.LocalLimits(100_000))``. Limits per key count each key; per owner,
    all keys of one owner together; a limit with ``tiers`` applies to keys whose
    record's ``metadata["tier"]`` names one. Thread-safe."""

    def __new__(cls, max_subjects: int) -> LocalLimits:
        """Limits for up to ``max_subjects`` keys and owners at once (1 to 16,777,216).
        Out of range: ``ConfigurationError``, code ``bad_subjects``."""
    @property
    def saturated(self) -> int:
        """Requests refused because no slot was free for a new subject."""

@final
class FleetLimits:
    """Where a ``Checker`` counts the policy's rate limits and keys' credits across a fleet:
    leases from Redis (``redis://127.0.0.1:PORT``, this machine only, or
    ``redis+unix://PATH``). Each process spends small batches of tokens it took
    atomically; when Redis is unreachable or slower than ``budget`` it spends what it
    holds, then answers 503 ``limiter_unavailable`` (never an unlimited allow) unless
    ``degrade_processes`` is set. Thread-safe; reconnects by itself."""

    def __new__(
        cls,
        url: str,
        *,
        lease: Optional[int] = None,
        budget: Optional[float] = None,
        max_subjects: Optional[int] = None,
        degrade_processes: Optional[int] = None,
    ) -> FleetLimits:
        """Connects to Redis at ``url``. ``lease``: tokens per Redis call (default 10);
        ``budget``: seconds a Redis call may take (default 0.005); ``max_subjects``:
        leases held at once (default 10,000); ``degrade_processes``: while Redis is
        down, count ``limit / degrade_processes`` here instead of answering 503. A bad
        URL: ``DatabaseError`` (``store_bad_url``)."""
    @property
    def is_up(self) -> bool:
        """Whether Redis answered the last call."""
    @property
    def round_trips(self) -> int:
        """Redis calls made so far."""
