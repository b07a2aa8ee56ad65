"""Type stubs of the native module portcullis._portcullis (checked by mypy's stubtest)."""

import os
from datetime import datetime, timedelta
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Literal,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
    final,
)

from portcullis.errors import PolicyIssue

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
]

__version__: str

#: A point in time: int seconds since the epoch, or an aware datetime.
_Time = Union[int, datetime]
#: A duration: int seconds, or a timedelta.
_Duration = Union[int, timedelta]
#: What a lookup may return and what record arguments accept.
_RecordLike = Union["KeyRecord", Mapping[str, Any], str]
_Text = Union[str, bytes]

@final
class Policy:
    @staticmethod
    def from_toml(text: str) -> Policy: ...
    @staticmethod
    def from_file(path: Union[str, os.PathLike[str]]) -> Policy: ...
    def for_environment(self, env: str) -> Optional[Policy]: ...
    @property
    def realm(self) -> str: ...
    @property
    def deployment_env(self) -> str: ...
    @property
    def kinds(self) -> List[str]: ...
    @property
    def environments(self) -> List[str]: ...
    @property
    def scopes(self) -> List[Tuple[str, str]]: ...
    @property
    def routes(self) -> List[Tuple[str, str]]: ...
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
    def requirement(self, text: str) -> Requirement: ...
    def grant(self, grants: Sequence[str]) -> Grant: ...

@final
class Requirement:
    def evaluate(self, grants: Sequence[str]) -> Evaluation: ...
    @property
    def canonical(self) -> str: ...

@final
class Evaluation:
    @property
    def allowed(self) -> bool: ...
    @property
    def missing(self) -> List[str]: ...
    @property
    def required(self) -> List[str]: ...
    def __bool__(self) -> bool: ...

@final
class Grant:
    @property
    def scopes(self) -> List[str]: ...
    @property
    def unknown(self) -> int: ...

@final
class Peppers:
    def __new__(cls, id: str, secret: bytes) -> Peppers: ...
    def add(self, id: str, secret: bytes) -> None: ...
    def set_primary(self, id: str) -> None: ...
    @property
    def primary_id(self) -> str: ...
    @property
    def ids(self) -> List[str]: ...

@final
class KeyRecord:
    @staticmethod
    def from_json(text: str) -> KeyRecord: ...
    @staticmethod
    def from_dict(data: Dict[str, Any]) -> KeyRecord: ...
    def to_json(self) -> str: ...
    def to_dict(self) -> Dict[str, Any]: ...
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def owner(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def env(self) -> str: ...
    @property
    def scopes(self) -> List[str]: ...
    @property
    def hash(self) -> str: ...
    @property
    def display(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def not_before(self) -> Optional[datetime]: ...
    @property
    def expires_at(self) -> Optional[datetime]: ...
    @property
    def revoked_at(self) -> Optional[datetime]: ...
    @property
    def rotated_from(self) -> Optional[str]: ...
    @property
    def metadata(self) -> Dict[str, Any]: ...
    def is_revoked(self, now: Optional[_Time] = None) -> bool: ...
    def state(
        self, now: Optional[_Time] = None
    ) -> Literal["active", "revoked", "expired", "not_yet_valid"]:
        """The key's state at ``now`` (default: the current time), as the checker decides
        it: revoked from ``revoked_at`` on, not yet valid before ``not_before``, expired
        from ``expires_at`` on."""
    def revoked(self, at: Optional[_Time] = None) -> KeyRecord: ...
    def with_expires_at(self, at: Optional[_Time]) -> KeyRecord: ...
    def with_scopes(self, scopes: Sequence[str]) -> KeyRecord: ...
    def with_name(self, name: str) -> KeyRecord: ...
    def with_metadata(self, metadata: Dict[str, Any]) -> KeyRecord: ...
    def with_hash(self, hash: str) -> KeyRecord: ...
    def __eq__(self, other: object, /) -> bool: ...

@final
class MemoryStore:
    """Key records by id, in memory. An id is looked up as the text it is: text that is
    not a key id (say, from a URL) names no record, so it is never an error."""

    def __new__(cls) -> MemoryStore: ...
    def insert(self, record: _RecordLike) -> None: ...
    def put(self, record: _RecordLike) -> None: ...
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
    def records(self) -> List[KeyRecord]: ...
    def __len__(self) -> int: ...
    def __contains__(self, key_id: str, /) -> bool: ...

@final
class Store:
    """Key records, their audit and the OAuth state in one database (``sqlite:PATH`` or
    ``postgresql://USER:PASSWORD@HOST:PORT/DATABASE``), shared by every process that
    opens it. Pass it as ``lookup=`` to ``Checker.check``: answers come from this
    process's cache while the change feed is fresh (within ``staleness``), from the
    database otherwise, and a 503 ``lookup_failed`` when neither can answer. Every call
    that may touch the database releases the GIL. Errors are ``DatabaseError``."""

    @staticmethod
    def open(url: str, *, staleness: Optional[Union[float, timedelta]] = None) -> Store:
        """Connects, checks the database is portcullis's and not newer than this module,
        migrates it and starts the change feed. ``staleness``: seconds the cache may
        answer on its own since the feed last caught up (default 1)."""
    def insert(self, record: _RecordLike) -> None:
        """Stores a new record (from ``Checker.issue``); ``DatabaseError``
        ``duplicate_key`` if the id exists."""
    def get(self, key_id: str) -> Optional[KeyRecord]:
        """The record read from the database (not the cache), or ``None`` (also for any
        text that is not a key id)."""
    def records(self) -> List[KeyRecord]:
        """Every decodable record, oldest first (at most 100,000), from the database; a
        row whose record cannot be decoded is left out."""
    def revoke(self, key_id: str, at: Optional[_Time] = None) -> bool:
        """Revokes a key from ``at`` on (default: now) in every process; returns whether
        it already was. ``DatabaseError`` ``key_not_found`` if absent."""
    def rotate(
        self,
        key_id: str,
        checker: Checker,
        grace: _Duration,
        now: Optional[_Time] = None,
    ) -> Rotation:
        """Rotates a key in one transaction and stores both records (see
        ``Checker.rotate``); ``DatabaseError`` ``key_not_found`` or ``key_inactive``."""
    def attach(self, verifier: AccessVerifier) -> None:
        """Pushes this store's OAuth revocations, now and as the feed brings them, into
        ``verifier``, and makes it fail closed like the cache (503 while the feed is behind
        the bound)."""
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
    @property
    def allowed(self) -> bool: ...
    @property
    def status(self) -> int: ...
    @property
    def error(self) -> Optional[str]: ...
    @property
    def reason(self) -> str: ...
    @property
    def detail(self) -> Optional[str]: ...
    @property
    def description(self) -> Optional[str]: ...
    @property
    def www_authenticate(self) -> Optional[str]: ...
    @property
    def key_id(self) -> Optional[str]: ...
    @property
    def owner(self) -> Optional[str]: ...
    @property
    def scopes(self) -> List[str]: ...
    @property
    def missing(self) -> List[str]: ...
    @property
    def required(self) -> List[str]: ...
    @property
    def warnings(self) -> List[str]: ...
    @property
    def route(self) -> Optional[Tuple[str, str]]: ...
    @property
    def record(self) -> Optional[KeyRecord]: ...
    @property
    def lookup_error(self) -> Optional[str]: ...
    def to_dict(self) -> Dict[str, Any]:
        """The decision as a dict of plain values (for structured logs and JSON): one key
        per property, with its value, except ``record``; ``route`` as a list or
        ``None``."""

@final
class Verification:
    @property
    def valid(self) -> bool: ...
    @property
    def reason(self) -> str: ...
    @property
    def detail(self) -> Optional[str]: ...
    @property
    def warnings(self) -> List[str]: ...
    @property
    def scopes(self) -> List[str]: ...
    def __bool__(self) -> bool: ...

@final
class Pending:
    """A request waiting for its record: fetch ``key_id``, then call ``Checker.finish`` (or
    ``finish_failed``) once, with the checker that prepared it. It holds a copy of the
    presented key, wiped when it is finished or freed."""

    @property
    def key_id(self) -> str: ...

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
    ) -> Request: ...
    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def authorization(self) -> Optional[bytes]: ...
    @property
    def query(self) -> Optional[bytes]: ...
    @property
    def https(self) -> bool: ...

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
    @property
    def kind(self) -> str: ...
    @property
    def env(self) -> str: ...
    @property
    def key_id(self) -> str: ...
    @property
    def display(self) -> str: ...

@final
class IssuedKey:
    @property
    def key(self) -> str: ...
    @property
    def record(self) -> KeyRecord: ...

@final
class Rotation:
    @property
    def successor(self) -> IssuedKey: ...
    @property
    def predecessor(self) -> KeyRecord: ...

@final
class Credential:
    @property
    def token(self) -> bytes: ...
    @property
    def source(self) -> str: ...

@final
class Checker:
    def __new__(
        cls, policy: Policy, peppers: Peppers, *, access_tokens: Optional[AccessVerifier] = None
    ) -> Checker: ...
    def with_access_tokens(self, verifier: AccessVerifier) -> Checker: ...
    @property
    def access_tokens(self) -> Optional[AccessVerifier]: ...
    @property
    def policy(self) -> Policy: ...
    def check(
        self,
        method: str,
        path: str,
        *,
        lookup: Union[MemoryStore, Store, Callable[[str], Optional[_RecordLike]]],
        authorization: Optional[_Text] = None,
        query: Optional[_Text] = None,
        https: bool = False,
        now: Optional[_Time] = None,
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
        ``Exception`` (``KeyboardInterrupt``, ``SystemExit``) propagates."""
    def check_many(
        self,
        requests: Iterable[_RequestLike],
        *,
        lookup: Union[MemoryStore, Store, Callable[[str], Optional[_RecordLike]]],
        now: Optional[_Time] = None,
    ) -> List[Decision]:
        """The decisions ``check`` gives one by one, in request order. A lookup callable
        is called as in ``check``: what it raises or returns is that request's decision;
        a ``KeyboardInterrupt`` or ``SystemExit`` stops the batch (its note names the
        element)."""
    def prepare(
        self,
        method: str,
        path: str,
        *,
        authorization: Optional[_Text] = None,
        query: Optional[_Text] = None,
        https: bool = False,
        now: Optional[_Time] = None,
    ) -> Union[Decision, Pending]: ...
    def finish(
        self, pending: Pending, record: Optional[_RecordLike], now: Optional[_Time] = None
    ) -> Decision:
        """Phase two: the decision, given the fetched record (``None`` if unknown). Only
        the checker that prepared ``pending`` may finish it (another one, e.g. after a
        policy reload, raises ``ConfigurationError`` with code ``foreign_pending``)."""
    def finish_failed(self, pending: Pending, message: str) -> Decision: ...
    def verify(
        self, key: _Text, record: _RecordLike, now: Optional[_Time] = None
    ) -> Verification:
        """Verifies a key against a record: deployment environment (a key of another
        environment is ``wrong_environment``, as in ``check``), secret and lifecycle; no
        route rules."""
    def parse(self, key: _Text) -> ParsedKey: ...
    def hash_key(self, key: _Text) -> str: ...
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
) -> Credential: ...
def legacy_sha256_hash(key: str) -> str: ...

# -- OAuth 2.0 ---------------------------------------------------------------------------

#: A client argument: a Client, its dict or its JSON text.
_ClientLike = Union["Client", Mapping[str, Any], str]
#: A store argument: MemoryOAuthStore, the database Store, or an object implementing
#: portcullis.OAuthStore.
_StoreLike = Any

@final
class AccessKeys:
    def __new__(cls, kid: str, secret: bytes) -> AccessKeys: ...
    def add(self, kid: str, secret: bytes) -> None: ...
    def set_primary(self, kid: str) -> None: ...
    def remove(self, kid: str) -> None: ...
    @property
    def primary_id(self) -> str: ...
    @property
    def ids(self) -> List[str]: ...

@final
class AccessClaims:
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
    ) -> AccessClaims: ...
    @property
    def subject(self) -> str: ...
    @property
    def client_id(self) -> str: ...
    @property
    def scopes(self) -> List[str]: ...
    @property
    def issued_at(self) -> int: ...
    @property
    def expires_at(self) -> int: ...
    @property
    def token_id(self) -> str: ...
    @property
    def family(self) -> str: ...
    def to_dict(self) -> Dict[str, Any]: ...
    def __eq__(self, other: object, /) -> bool: ...

@final
class AccessVerifier:
    def __new__(cls, policy: Policy, keys: AccessKeys, *, max_skew: int = 60) -> AccessVerifier: ...
    def verify(self, token: _Text, now: Optional[_Time] = None) -> AccessClaims: ...
    def decode(self, token: _Text) -> AccessClaims: ...
    def sign(self, claims: AccessClaims) -> str: ...
    def revoke_family(self, family: str) -> None: ...
    def forget_family(self, family: str) -> None: ...
    def is_family_revoked(self, family: str) -> bool: ...
    @property
    def family_count(self) -> int: ...
    def set_epoch(self, epoch: _Time) -> None: ...
    @property
    def epoch(self) -> int: ...
    @property
    def max_skew(self) -> int: ...
    @property
    def primary_id(self) -> str: ...

@final
class PkceChallenge:
    def __new__(cls, method: str, challenge: str) -> PkceChallenge: ...
    @staticmethod
    def s256(verifier: str) -> PkceChallenge: ...
    def verify(self, verifier: str) -> bool: ...
    @property
    def method(self) -> str: ...
    @property
    def challenge(self) -> str: ...
    def __eq__(self, other: object, /) -> bool: ...

def oauth_token_hash(token: str) -> Optional[bytes]: ...

@final
class Client:
    @staticmethod
    def public(
        client_id: str,
        redirect_uris: Sequence[str],
        allowed_scopes: Sequence[str],
        *,
        native: bool = False,
    ) -> Client: ...
    @staticmethod
    def confidential(
        client_id: str, redirect_uris: Sequence[str], allowed_scopes: Sequence[str]
    ) -> Tuple[Client, str]: ...
    @staticmethod
    def from_json(value: str) -> Client: ...
    @staticmethod
    def from_dict(value: Dict[str, Any]) -> Client: ...
    def to_json(self) -> str: ...
    def to_dict(self) -> Dict[str, Any]: ...
    def check_secret(self, secret: str) -> bool: ...
    def allows_grant(self, grant_type: str) -> bool: ...
    @property
    def client_id(self) -> str: ...
    @property
    def client_type(self) -> str: ...
    @property
    def native(self) -> bool: ...
    @property
    def redirect_uris(self) -> List[str]: ...
    @property
    def allowed_scopes(self) -> List[str]: ...
    @property
    def grant_types(self) -> List[str]: ...
    def __eq__(self, other: object, /) -> bool: ...

@final
class MemoryOAuthStore:
    def __new__(cls) -> MemoryOAuthStore: ...
    def add_client(self, client: _ClientLike) -> None: ...
    def client(self, client_id: str) -> Optional[Client]: ...
    def is_family_revoked(self, family: str) -> bool: ...
    def purge_codes(self, now: Optional[_Time] = None) -> None: ...

@final
class OAuthConfig:
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
    ) -> OAuthConfig: ...
    @property
    def code_ttl(self) -> int: ...
    @property
    def access_ttl(self) -> int: ...
    @property
    def refresh_idle_ttl(self) -> int: ...
    @property
    def refresh_max_ttl(self) -> int: ...
    @property
    def refresh_grace(self) -> int: ...
    @property
    def allow_plain_pkce(self) -> bool: ...
    @property
    def require_pkce_for_confidential(self) -> bool: ...
    @property
    def allow_body_credentials(self) -> bool: ...
    @property
    def default_scope(self) -> Optional[str]: ...
    @property
    def issuer(self) -> Optional[str]:
        """The issuer identifier (RFC 8414), or None. When set, every authorization
        redirect carries it as ``iss`` (RFC 9207) and ``OAuthServer.metadata`` publishes
        it. An ``https`` URL (``http`` for a loopback host) without query or fragment;
        anything else raises ``ConfigurationError`` (code ``bad_issuer``)."""
    @property
    def effective_code_ttl(self) -> int: ...
    def __eq__(self, other: object, /) -> bool: ...

@final
class TokenResponse:
    @property
    def status(self) -> int: ...
    @property
    def headers(self) -> List[Tuple[str, str]]: ...
    @property
    def body(self) -> str: ...
    def header(self, name: str) -> Optional[str]: ...
    def json(self) -> Dict[str, Any]: ...

@final
class AuthorizeOutcome:
    @property
    def kind(self) -> str: ...
    @property
    def error(self) -> Optional[str]: ...
    @property
    def description(self) -> Optional[str]: ...
    @property
    def location(self) -> Optional[str]: ...
    @property
    def client_id(self) -> Optional[str]: ...
    @property
    def client(self) -> Optional[Client]: ...
    @property
    def redirect_uri(self) -> Optional[str]: ...
    @property
    def state(self) -> Optional[str]: ...
    @property
    def scopes(self) -> List[str]: ...
    @property
    def scope_narrowed(self) -> bool: ...
    @property
    def code_challenge_method(self) -> Optional[str]: ...

@final
class OAuthServer:
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
    def config(self) -> OAuthConfig: ...
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
    def authorize(self, query: _Text, store: _StoreLike) -> AuthorizeOutcome: ...
    def approve(
        self,
        outcome: AuthorizeOutcome,
        subject: str,
        store: _StoreLike,
        *,
        scopes: Optional[Sequence[str]] = None,
        now: Optional[_Time] = None,
    ) -> str: ...
    def deny(self, outcome: AuthorizeOutcome) -> str: ...
    def error_redirect(self, outcome: AuthorizeOutcome, error: str) -> str: ...
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
    ) -> None: ...
