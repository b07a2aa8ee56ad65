"""The exceptions of portcullis.

One base, :class:`PortcullisError`; a specific subclass per kind of failure. Classes for
bad input also subclass :class:`ValueError`. Every exception keeps structured fields
(``code`` and, where it applies, a location) besides its message.

Every exception survives ``pickle`` (so ``ProcessPoolExecutor`` and task queues can carry
it) and ``copy.deepcopy`` with its class, message and every field intact (notes too):
:meth:`PortcullisError.__reduce__` rebuilds it from its state, not through ``__init__``,
whose arguments differ from class to class.

A *denied request* is never an exception: ``Checker.check`` returns a ``Decision``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Optional, Sequence, Tuple, Type

if TYPE_CHECKING:
    from portcullis._portcullis import UsageBatch

__all__ = [
    "PortcullisError",
    "MalformedKeyError",
    "CredentialError",
    "PolicyError",
    "PolicyIssue",
    "ConfigurationError",
    "IssueError",
    "RecordError",
    "RequirementError",
    "StoreError",
    "DatabaseError",
    "KeyLookupError",
    "OAuthError",
    "AccessTokenError",
    "ClientError",
]


class PortcullisError(Exception):
    """Base class of every portcullis exception.

    ``code`` is a stable machine-readable name; ``message`` the human text. A code that
    comes from the core is the core's own (``portcullis::codes``, the table the C result
    codes and the CLI's ``--json`` errors share; ``tests/vectors/errors.json`` lists it).
    """

    code: str
    message: str

    def __init__(self, message: str, code: str = "error") -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __reduce__(
        self,
    ) -> Tuple[Any, Tuple[Type[PortcullisError], Tuple[Any, ...]], Dict[str, Any]]:
        # The default, ``cls(*self.args)``, would call ``__init__`` with the message only.
        return (_rebuild, (type(self), self.args), self.__dict__)


def _rebuild(cls: Type[PortcullisError], args: Tuple[Any, ...]) -> PortcullisError:
    """An exception of ``cls`` with ``args``, not initialised: unpickling then sets its
    fields from the pickled state."""
    return cls.__new__(cls, *args)


class MalformedKeyError(PortcullisError, ValueError):
    """A key does not parse: ``code`` is one of ``shape``, ``unknown_kind``,
    ``unknown_env``, ``length``, ``character``, ``checksum``; ``position`` is the byte
    offset of a bad character (``None`` otherwise)."""

    position: Optional[int]

    def __init__(self, message: str, code: str, position: Optional[int] = None) -> None:
        super().__init__(message, code)
        self.position = position


class CredentialError(PortcullisError, ValueError):
    """No usable bearer credential (``extract_credential``): ``code`` is one of
    ``missing_credential``, ``wrong_scheme``, ``malformed_header``, ``both_present``,
    ``query_refused``, ``malformed_query``."""


@dataclass(frozen=True)
class PolicyIssue:
    """One problem in a policy file (line and column are 1-based; 0 when unknown)."""

    line: int
    column: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.line}:{self.column}: "
        return where + (f"{self.field}: " if self.field else "") + self.message


class PolicyError(PortcullisError, ValueError):
    """The policy does not load; ``issues`` lists every problem with its location."""

    issues: Tuple[PolicyIssue, ...]

    def __init__(
        self, message: str, issues: Sequence[Tuple[int, int, str, str]] = ()
    ) -> None:
        super().__init__(message, "invalid_policy")
        self.issues = tuple(
            i if isinstance(i, PolicyIssue) else PolicyIssue(*i) for i in issues
        )


class ConfigurationError(PortcullisError, ValueError):
    """Bad configuration or API misuse: peppers (``bad_pepper_id``,
    ``pepper_too_short``, ``duplicate_pepper``, ``unknown_pepper``), an unreadable
    policy file (``io``, also for a directory or a device such as ``/dev/zero``,
    refused before it is read; ``encoding``), a ``Pending`` finished twice (``pending_used``) or
    by another checker (``foreign_pending``), OAuth access-token keys
    (``bad_access_key_id``, ``access_key_too_short``, ``duplicate_access_key``,
    ``unknown_access_key``), an ``AccessVerifier`` of another policy's scope catalog
    (``catalog_mismatch``), OAuth metadata (``no_issuer``, ``insecure_endpoint``,
    ``bad_endpoint``), a ``UsageRecorder`` setting out of range (``bad_max_keys``,
    ``bad_burst_threshold``, ``bad_volume_factor``, ``bad_baseline_hours``), a rate-limit
    setting out of range (``bad_rate``, ``bad_window``, ``bad_burst``, ``bad_subjects``), an actor
    the database ``Store`` refuses (``invalid_argument``: empty, over 256 bytes, or
    holding a control character)."""


class IssueError(PortcullisError, ValueError):
    """A key cannot be issued or rotated: ``code`` is ``unknown_scope``,
    ``unknown_kind``, ``unknown_env``, ``bad_field`` (name/owner empty or too long),
    ``bad_ttl`` (a ``ttl`` of zero: the key would be expired when issued; leave it out
    for a key that never expires), ``inactive`` (rotating a revoked or expired key) or
    ``random``."""


class RecordError(PortcullisError, ValueError):
    """A key record is unusable: ``bad_json``, ``bad_label``, ``bad_hash``, or
    ``time_out_of_range`` (a time past the year 9999 read as a ``datetime``)."""


class RequirementError(PortcullisError, ValueError):
    """A requirement expression does not compile; ``position`` is the byte offset."""

    position: int

    def __init__(self, message: str, code: str, position: int = 0) -> None:
        super().__init__(message, code)
        self.position = position


class StoreError(PortcullisError):
    """A ``MemoryStore`` write was refused: ``duplicate``, ``not_found`` or
    ``id_changed``; ``key_id`` names the record."""

    key_id: str

    def __init__(self, message: str, code: str, key_id: str = "") -> None:
        super().__init__(message, code)
        self.key_id = key_id


class DatabaseError(PortcullisError):
    """A database ``Store`` call failed: ``code`` is the store's stable code
    (``store_bad_url``, ``store_unreachable``, ``store_auth_failed``, ``store_foreign``
    (another product's tables, or not a database), ``store_too_new``,
    ``corrupt_record``, ``store_value_too_large``, ``duplicate_key``, ``key_not_found``,
    ``key_inactive``, ``store_error``, ``store_busy``) and ``hint`` says what to do. The
    message names what failed, never the URL's password. A failed *lookup* is not an
    exception: ``check`` answers 503 ``lookup_failed``.

    ``batch``: from ``Store.drain_usage``, the drained ``UsageBatch`` that could not be
    saved (the recorder no longer holds it: ``Store.save_usage(error.batch)`` later
    counts it once); ``None`` otherwise. It is not carried by ``pickle`` or ``copy``."""

    hint: str
    batch: Optional[UsageBatch] = None

    def __init__(self, message: str, code: str, hint: str = "") -> None:
        super().__init__(message, code)
        self.hint = hint

    def __reduce__(
        self,
    ) -> Tuple[Any, Tuple[Type[PortcullisError], Tuple[Any, ...]], Dict[str, Any]]:
        # A native batch does not pickle; the error's other fields do.
        rebuild, args, state = super().__reduce__()
        return rebuild, args, {k: v for k, v in state.items() if k != "batch"}


class KeyLookupError(PortcullisError):
    """Raise this from your lookup callable when the database fails: the decision is
    then a 503 (``reason == "lookup_failed"``; fail closed), with ``str(error)`` as its
    ``lookup_error``. Keep secrets out of the message.

    Any other ``Exception`` from the lookup is a 503 as well, but its text may hold
    anything, so ``lookup_error`` names only its type (``"the lookup raised
    sqlite3.OperationalError"``) and the exception is logged, with its traceback, at
    ERROR to the ``portcullis.lookup`` logger. A return value that makes no record
    (another type, JSON that does not parse, a bad label or hash) is a 401
    ``corrupt_record``, logged there with the error code only. ``KeyboardInterrupt``,
    ``SystemExit`` and other ``BaseException``s that are not ``Exception``s propagate
    out of ``check``: nothing is decided."""

    def __init__(self, message: str, code: str = "lookup_failed") -> None:
        super().__init__(message, code)


class OAuthError(PortcullisError):
    """An OAuth endpoint call that cannot produce a redirect or response by itself
    (``OAuthServer.approve``, ``error_redirect``): ``code`` is the OAuth error code
    (``access_denied``, ``invalid_request``, ``invalid_scope``, ``server_error``, …) and
    ``description`` the text that is safe to send to the client.

    Endpoint *answers* are never exceptions: ``token``, ``revoke`` and ``introspect``
    return a ``TokenResponse``, ``authorize`` an ``AuthorizeOutcome``."""

    description: str

    def __init__(self, message: str, code: str, description: str = "") -> None:
        super().__init__(message, code)
        self.description = description


class AccessTokenError(PortcullisError, ValueError):
    """An access token does not verify (``AccessVerifier.verify``/``decode``): ``code``
    is ``access_token_malformed``, ``access_token_unknown_key``,
    ``access_token_bad_signature``, ``access_token_wrong_catalog``,
    ``access_token_expired``, ``access_token_not_yet_valid`` or
    ``access_token_revoked``. Log it; clients only ever see ``invalid_token``."""


class ClientError(PortcullisError, ValueError):
    """A client registration is refused: ``bad_id``, ``bad_redirect_uri`` (``index``
    names the URI), ``no_redirect_uri``, ``secret`` (a confidential client without a
    secret hash or a public one with it), ``bad_json`` or ``random``."""

    index: Optional[int]

    def __init__(self, message: str, code: str, index: Optional[int] = None) -> None:
        super().__init__(message, code)
        self.index = index
