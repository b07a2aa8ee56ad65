"""The OAuth store protocol: what a host store passed to ``OAuthServer`` implements.

``MemoryOAuthStore`` serves tests, examples and single-process servers; a fleet passes
the database ``Store`` (``Store.open``, clients registered with ``Store.add_client``),
shared by every process and releasing the GIL around its queries; otherwise pass any
object with the methods of :class:`OAuthStore` over your own database (``authorize``
needs only ``client``, ``approve`` only ``put_code``; ``token``, ``revoke``,
``introspect`` and ``revoke_family`` need all).

The engine calls these methods with the GIL held, from whatever thread called the
endpoint. Records are dicts — the JSON form of the core's records, to be stored as they
are (``json.dumps``) and returned as dicts or JSON text; secrets are never passed, only
their SHA-256 as 32 ``bytes`` (see ``oauth_token_hash``). Families are 16-character
``str``; times are int seconds.

Raise any exception when the database fails: the endpoint then answers ``server_error``
(HTTP 500) — fail closed — and the exception is logged at ``ERROR`` to the
``portcullis.oauth`` logger. A return value of the wrong shape is treated the same way. A
``KeyboardInterrupt`` or ``SystemExit`` is not swallowed: the endpoint finishes as for a
failure, then the call raises it.

Two methods must be **atomic** in your database, or two concurrent requests can both
succeed where only one may:

- ``consume_code``: mark the code used and return its record in one step (e.g.
  ``UPDATE codes SET used = 1 WHERE hash = ? RETURNING record, used_before``, or a
  transaction). Keep used codes until they expire, so that reuse is recognised (the
  engine then revokes the code's grant family).
- ``rotate``: a compare-and-swap on the old token's ``rotated_at`` (it must still equal
  ``expected``; it is then set to the value given) together with the insert of the
  successor, in one transaction.

The token endpoint reads a code with ``code`` and checks the client, the redirect URI and
the PKCE verifier before it calls ``consume_code``, so a request failing those checks
leaves the code redeemable.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, Awaitable, Callable, Dict, Optional, Protocol, Tuple, TypeVar, Union

from portcullis._portcullis import Client

__all__ = ["AsyncOAuthStore", "ClientStore", "CodeWriter", "OAuthStore", "Record", "call",
           "STORE_TIMEOUT"]

T = TypeVar("T")

#: Seconds an endpoint run by :func:`call` waits for one method of an async store; past
#: it the endpoint answers ``server_error`` (fail closed), as for any store failure.
STORE_TIMEOUT = 30.0

#: A stored record: its dict, or its JSON text.
Record = Union[Dict[str, Any], str]


class ClientStore(Protocol):
    """What ``OAuthServer.authorize`` needs of a store: its clients."""

    def client(self, client_id: str) -> Union[Client, Record, None]:
        """The registered client with this id (a ``Client``, its dict or JSON), or None."""
        ...


class CodeWriter(Protocol):
    """What ``OAuthServer.approve`` needs of a store: somewhere to put the new code."""

    def put_code(self, code_hash: bytes, record: Dict[str, Any]) -> None:
        """Stores a new authorization code's record under its hash."""
        ...


class OAuthStore(ClientStore, CodeWriter, Protocol):
    """The store contract of the OAuth endpoints (clients, codes, refresh tokens): what
    ``token``, ``revoke``, ``introspect`` and ``revoke_family`` need."""

    def code(self, code_hash: bytes) -> Optional[Record]:
        """The record of an authorization code (used ones included), or None; changes
        nothing."""
        ...

    def consume_code(self, code_hash: bytes) -> Optional[Tuple[str, Record]]:
        """Atomically marks a code used and returns ``("first", record)`` on its first
        use, ``("again", record)`` if it was already used, ``None`` if unknown."""
        ...

    def put_refresh(self, token_hash: bytes, record: Dict[str, Any]) -> None:
        """Stores a new refresh token's record under its hash."""
        ...

    def refresh(self, token_hash: bytes) -> Optional[Record]:
        """The record of a refresh token (rotated ones included), or None."""
        ...

    def rotate(
        self,
        old_hash: bytes,
        expected: Optional[int],
        rotated_at: int,
        new_hash: bytes,
        new_record: Dict[str, Any],
    ) -> bool:
        """Atomically: if the old token's ``rotated_at`` equals ``expected`` (None: not
        rotated yet), set it to ``rotated_at`` and store the successor; return True.
        Otherwise change nothing and return False. A plain compare-and-swap: the engine
        picks the value (the time of a first rotation, or 0 once the token's one grace
        redemption is spent)."""
        ...

    def revoke_family(self, family: str, now: int) -> None:
        """Revokes a grant family: none of its refresh tokens works again."""
        ...

    def is_family_revoked(self, family: str) -> bool:
        """Whether a grant family is revoked."""
        ...


class AsyncOAuthStore(Protocol):
    """:class:`OAuthStore` with coroutine methods (an asyncio database driver): the same
    names, arguments, results and rules (``consume_code`` and ``rotate`` atomic). Pass it
    to the endpoints through :func:`call`."""

    async def client(self, client_id: str) -> Union[Client, Record, None]: ...
    async def put_code(self, code_hash: bytes, record: Dict[str, Any]) -> None: ...
    async def code(self, code_hash: bytes) -> Optional[Record]: ...
    async def consume_code(self, code_hash: bytes) -> Optional[Tuple[str, Record]]: ...
    async def put_refresh(self, token_hash: bytes, record: Dict[str, Any]) -> None: ...
    async def refresh(self, token_hash: bytes) -> Optional[Record]: ...
    async def rotate(self, old_hash: bytes, expected: Optional[int], rotated_at: int,
                     new_hash: bytes, new_record: Dict[str, Any]) -> bool: ...
    async def revoke_family(self, family: str, now: int) -> None: ...
    async def is_family_revoked(self, family: str) -> bool: ...


_METHODS = ("client", "put_code", "code", "consume_code", "put_refresh", "refresh", "rotate",
            "revoke_family", "is_family_revoked")


class _Bridge:
    """An async store seen by the engine as a blocking one: each call, made on the
    endpoint's worker thread, runs the coroutine on the caller's event loop and waits
    for it (at most :data:`STORE_TIMEOUT`)."""

    def __init__(self, store: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._store = store
        self._loop = loop

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name not in _METHODS:
            raise AttributeError(name)
        method = getattr(self._store, name)

        def blocking(*args: Any) -> Any:
            future = asyncio.run_coroutine_threadsafe(method(*args), self._loop)
            try:
                return future.result(STORE_TIMEOUT)
            except TimeoutError:
                future.cancel()
                raise
        return blocking


async def call(endpoint: Callable[..., T], *args: Any, store: Any, **kwargs: Any) -> T:
    """Runs an ``OAuthServer`` endpoint (``authorize``, ``approve``, ``token``,
    ``token_request``, ``revoke``, ``introspect``, …) without blocking the event loop:
    on a worker thread, with ``store`` given by keyword. ``store`` may be an
    :class:`AsyncOAuthStore` (its coroutines run on this loop while the endpoint waits
    for them) or any store the endpoint takes (``MemoryOAuthStore``, ``Store``, a
    blocking host store)::

        response = await portcullis.oauth.call(server.token, auth, body, store=db, now=now)
    """
    if any(inspect.iscoroutinefunction(getattr(store, m, None)) for m in _METHODS):
        store = _Bridge(store, asyncio.get_running_loop())
    result: Awaitable[T] = asyncio.to_thread(endpoint, *args, store=store, **kwargs)
    return await result
