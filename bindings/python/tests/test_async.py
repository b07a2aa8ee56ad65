"""`Checker.check_async` (issue #24): the decisions of `check`, with a lookup that may be
async, awaited on the event loop; under asyncio.gather and under uvicorn with concurrent
HTTP requests."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import socket
import threading
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

import httpx
import pytest
import uvicorn
from test_vectors import DECISIONS, SETUP, observed, request_args

import portcullis
from conftest import NOW

Scope = Dict[str, Any]
Receive = Callable[[], Awaitable[Dict[str, Any]]]
Send = Callable[[Dict[str, Any]], Awaitable[None]]


def keys(checker: portcullis.Checker, store: portcullis.MemoryStore, n: int) -> List[str]:
    issued = [checker.issue(f"key {i}", f"org_{i}", ["claims:read"], now=NOW) for i in range(n)]
    for key in issued:
        store.insert(key.record)
    return [key.key for key in issued]


class Barrier:
    """An async lookup that answers only once `n` lookups are waiting at the same time:
    it proves the event loop ran the other checks while one awaited its lookup (a check
    that blocked the loop would time out instead, and the decision would be a 503)."""

    def __init__(self, store: portcullis.MemoryStore, n: int) -> None:
        self.store, self.n = store, n
        self.waiting = 0
        self.most = 0
        self.event: Optional[asyncio.Event] = None

    async def __call__(self, key_id: str) -> Optional[portcullis.KeyRecord]:
        if self.event is None:
            self.event = asyncio.Event()
        self.waiting += 1
        self.most = max(self.most, self.waiting)
        if self.waiting >= self.n:
            self.event.set()
        await asyncio.wait_for(self.event.wait(), timeout=30)
        self.waiting -= 1
        return self.store.get(key_id)


@pytest.mark.parametrize("case", DECISIONS["cases"], ids=lambda c: c["name"])
def test_decision_vectors_with_an_async_lookup(case: Dict[str, Any]) -> None:
    checker = SETUP["checkers"][case["policy"]]
    store = SETUP["store"]
    req = case["request"]

    async def lookup(key_id: str) -> Optional[Dict[str, Any]]:
        await asyncio.sleep(0)
        found = store.get(key_id)
        return None if found is None else found.to_dict()

    async def decide() -> portcullis.Decision:
        args: Dict[str, Any] = request_args(case)
        decision: portcullis.Decision = await checker.check_async(
            req["method"], req["path"], lookup=lookup, now=case["now"], **args
        )
        return decision

    assert observed(asyncio.run(decide())) == case["expect"]


def test_many_concurrent_checks_under_gather_decide_as_check_does(
    checker: portcullis.Checker, store: portcullis.MemoryStore
) -> None:
    presented = keys(checker, store, 20)
    revoked = store.get(checker.parse(presented[0]).key_id)
    assert revoked is not None
    store.put(revoked.revoked(NOW))
    headers = [f"Bearer {k}" for k in presented] + ["Bearer sk_live_nope", "Basic x", None]
    requests = [(path, h) for h in headers for path in ("/v1/claims", "/v1/orders", "/health")]

    async def lookup(key_id: str) -> Optional[portcullis.KeyRecord]:
        await asyncio.sleep(0)
        return store.get(key_id)

    async def all_of() -> List[portcullis.Decision]:
        return await asyncio.gather(*(
            checker.check_async("GET", path, lookup=lookup, authorization=h, https=True,
                                now=NOW + 1)
            for path, h in requests
        ))

    decided = asyncio.run(all_of())
    expected = [
        checker.check("GET", path, lookup=store, authorization=h, https=True, now=NOW + 1)
        for path, h in requests
    ]
    assert [d.to_dict() for d in decided] == [d.to_dict() for d in expected]
    assert {d.reason for d in decided} >= {"allowed", "revoked", "insufficient_scope",
                                           "public", "malformed_key", "wrong_scheme"}


def test_checks_awaiting_their_lookups_run_at_the_same_time(
    checker: portcullis.Checker, store: portcullis.MemoryStore
) -> None:
    presented = keys(checker, store, 8)
    lookup = Barrier(store, len(presented))

    async def all_of() -> List[portcullis.Decision]:
        return await asyncio.gather(*(
            checker.check_async("GET", "/v1/claims", lookup=lookup,
                                authorization=f"Bearer {k}", https=True)
            for k in presented
        ))

    decided = asyncio.run(all_of())
    assert [d.reason for d in decided] == ["allowed"] * len(presented)
    assert [d.owner for d in decided] == [f"org_{i}" for i in range(len(presented))]
    assert lookup.most == len(presented)


def run(coroutine: Awaitable[portcullis.Decision]) -> portcullis.Decision:
    async def wrapper() -> portcullis.Decision:
        return await coroutine

    return asyncio.run(wrapper())


def test_a_sync_lookup_a_store_and_a_future_serve_as_lookups(
    checker: portcullis.Checker, store: portcullis.MemoryStore, issued: portcullis.IssuedKey,
    tmp_path: Path,
) -> None:
    header = f"Bearer {issued.key}"

    def check(lookup: Any) -> portcullis.Decision:
        return run(checker.check_async("GET", "/v1/claims", lookup=lookup,
                                       authorization=header, https=True, now=NOW))

    assert check(store.get).reason == "allowed"
    assert check(store).reason == "allowed"

    async def with_future() -> portcullis.Decision:
        loop = asyncio.get_running_loop()

        def lookup(key_id: str) -> "asyncio.Future[Optional[portcullis.KeyRecord]]":
            future: "asyncio.Future[Optional[portcullis.KeyRecord]]" = loop.create_future()
            loop.call_soon(future.set_result, store.get(key_id))
            return future

        return await checker.check_async("GET", "/v1/claims", lookup=lookup,
                                         authorization=header, https=True, now=NOW)

    assert asyncio.run(with_future()).reason == "allowed"
    database = portcullis.Store.open(f"sqlite:{tmp_path / 'keys.db'}")
    database.insert(issued.record)
    assert check(database).owner == "org_42"
    assert check(lambda key_id: None).reason == "unknown_key"


def test_what_an_async_lookup_raises_or_returns_is_decided_as_in_check(
    checker: portcullis.Checker, issued: portcullis.IssuedKey, caplog: pytest.LogCaptureFixture
) -> None:
    header = f"Bearer {issued.key}"

    def both(lookup: Callable[[str], Any]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        async def async_lookup(key_id: str) -> Any:
            await asyncio.sleep(0)
            return lookup(key_id)

        sync = checker.check("GET", "/v1/claims", lookup=lookup, authorization=header,
                             https=True, now=NOW)
        awaited = run(checker.check_async("GET", "/v1/claims", lookup=async_lookup,
                                          authorization=header, https=True, now=NOW))
        return sync.to_dict(), awaited.to_dict()

    def failing(key_id: str) -> None:
        raise portcullis.KeyLookupError("database timeout")

    def crashing(key_id: str) -> None:
        raise RuntimeError("postgresql://user:secret@db")

    with caplog.at_level(logging.ERROR, logger="portcullis.lookup"):
        for lookup, reason, lookup_error in [
            (failing, "lookup_failed", "database timeout"),
            (crashing, "lookup_failed", "the lookup raised RuntimeError"),
            (lambda key_id: 42, "corrupt_record", None),
            (lambda key_id: "{", "corrupt_record", None),
        ]:
            sync, awaited = both(lookup)
            assert awaited == sync
            assert (awaited["reason"], awaited["lookup_error"]) == (reason, lookup_error)
    assert "secret" not in json.dumps([both(crashing)])
    assert sum("raised" in r.getMessage() for r in caplog.records) >= 2


@pytest.mark.parametrize("error", [asyncio.CancelledError, KeyboardInterrupt])
def test_a_base_exception_from_an_async_lookup_propagates(
    checker: portcullis.Checker, issued: portcullis.IssuedKey, error: type
) -> None:
    async def lookup(key_id: str) -> None:
        raise error()

    with pytest.raises(error):
        run(checker.check_async("GET", "/v1/claims", lookup=lookup,
                                authorization=f"Bearer {issued.key}", https=True))


def test_bad_arguments_raise_when_called_not_when_awaited(
    checker: portcullis.Checker, store: portcullis.MemoryStore
) -> None:
    from datetime import datetime

    call: Any = checker.check_async
    with pytest.raises(ValueError, match=r"^now must be a timezone-aware"):
        call("GET", "/v1/claims", lookup=store, now=datetime(2027, 1, 1))
    with pytest.raises(TypeError, match=r"^lookup must be a MemoryStore, a Store or a callable"):
        call("GET", "/v1/claims", lookup=42)
    with pytest.raises(TypeError, match=r"^authorization must be str or bytes"):
        call("GET", "/v1/claims", lookup=store, authorization=7)


def test_a_coroutine_never_awaited_leaves_nothing_pending(
    checker: portcullis.Checker, issued: portcullis.IssuedKey
) -> None:
    async def lookup(key_id: str) -> None:
        return None

    coroutine = checker.check_async("GET", "/v1/claims", lookup=lookup,
                                    authorization=f"Bearer {issued.key}", https=True)
    coroutine.close()
    del coroutine
    gc.collect()


# -- under uvicorn -----------------------------------------------------------------------


def asgi_app(checker: portcullis.Checker, lookup: Barrier) -> Any:
    """A raw ASGI app that answers each request with its decision (as a proxy's auth
    subrequest would): status, WWW-Authenticate, and a JSON body."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        headers = dict(scope["headers"])
        decision = await checker.check_async(
            scope["method"],
            scope["raw_path"].decode("latin-1"),
            lookup=lookup,
            authorization=headers.get(b"authorization"),
            query=scope["query_string"] or None,
            https=True,  # as a TLS-terminating proxy in front of it would report
        )
        response = [(b"content-type", b"application/json")]
        if decision.www_authenticate is not None:
            response.append((b"www-authenticate", decision.www_authenticate.encode()))
        await send({"type": "http.response.start", "status": decision.status,
                    "headers": response})
        body = {"reason": decision.reason, "owner": decision.owner}
        await send({"type": "http.response.body", "body": json.dumps(body).encode()})

    return app


def test_concurrent_http_requests_under_uvicorn(
    checker: portcullis.Checker, store: portcullis.MemoryStore
) -> None:
    presented = keys(checker, store, 12)
    lookup = Barrier(store, len(presented))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(asgi_app(checker, lookup), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(1000):
            if server.started:
                break
            threading.Event().wait(0.01)
        assert server.started, "uvicorn did not start"

        async def all_of() -> List[httpx.Response]:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}",
                                         timeout=60) as client:
                calls = [client.get("/v1/claims", headers={"Authorization": f"Bearer {k}"})
                         for k in presented]
                calls += [client.get("/health"), client.get("/v1/claims"),
                          client.get("/v1/orders",
                                     headers={"Authorization": f"Bearer {presented[0]}"})]
                return await asyncio.gather(*calls)

        responses = asyncio.run(all_of())
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
    answers = [(r.status_code, r.json()["reason"], r.json()["owner"]) for r in responses]
    assert answers[: len(presented)] == [
        (200, "allowed", f"org_{i}") for i in range(len(presented))
    ]
    assert answers[len(presented):] == [
        (200, "public", None),
        (401, "missing_credential", None),
        (403, "insufficient_scope", "org_0"),
    ]
    assert responses[-1].headers["www-authenticate"].startswith('Bearer realm="claimport"')
    assert lookup.most >= len(presented)


def test_the_python_guides_asyncio_snippet_runs_after_its_quick_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from test_readme import python_snippet

    from conftest import ROOT

    monkeypatch.chdir(ROOT)
    namespace: Dict[str, Any] = {"__name__": "readme"}
    for section in ("## Quick start", "## asyncio"):
        source = python_snippet("bindings/python/README.md", section)
        exec(compile(source, section, "exec"), namespace)
    assert capsys.readouterr().out.startswith("sk_live_")
