"""The asyncio half of ``Checker.check_async`` (the native method prepares the request and
returns one of these coroutines).

Decisions made here:
- A lookup may be sync or async: whatever it returns is awaited when it is awaitable, so
  one argument serves ``async def`` lookups, sync callables and callables returning
  futures.
- What the lookup raises or returns is sorted by the native module, exactly as for
  ``check`` (``_finish_raised``/``_finish_returned``): the rule lives once, in Rust.
- A ``BaseException`` that is not an ``Exception`` (``CancelledError``,
  ``KeyboardInterrupt``, ``SystemExit``) propagates; the pending request is then
  dropped, which wipes its copy of the key.
- A database ``Store`` is decided in a worker thread: a cache miss or a stale feed reads
  the database, which must not block the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from typing import TYPE_CHECKING, Any, Callable, Optional

if TYPE_CHECKING:
    from portcullis._portcullis import Checker, Decision, Pending, Store

__all__: "list[str]" = []


async def ready(decision: Decision) -> Decision:
    """A decision made without a lookup (a public route, a refused credential, a
    ``MemoryStore``), as a coroutine."""
    return decision


async def fetch(
    checker: Checker, pending: Pending, lookup: Callable[[str], Any], now: int
) -> Decision:
    """Calls ``lookup(pending.key_id)``, awaits its result if awaitable, and finishes."""
    try:
        found = lookup(pending.key_id)
        if inspect.isawaitable(found):
            found = await found
    except Exception as error:
        return checker._finish_raised(pending, error, now)
    return checker._finish_returned(pending, found, now)


async def in_thread(
    checker: Checker,
    method: str,
    path: str,
    store: Store,
    authorization: Optional[Any],
    query: Optional[Any],
    https: bool,
    now: int,
    client: Optional[str] = None,
) -> Decision:
    """``checker.check`` with a database ``Store``, in a worker thread."""
    call = functools.partial(
        checker.check,
        method,
        path,
        lookup=store,
        authorization=authorization,
        query=query,
        https=https,
        now=now,
        client=client,
    )
    return await asyncio.to_thread(call)
