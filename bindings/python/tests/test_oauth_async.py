"""``portcullis.oauth.call``: the OAuth endpoints over an async store, off the event loop."""

from __future__ import annotations

import asyncio
import urllib.parse
from typing import Any, Dict, Optional, Tuple

import pytest

import portcullis
import portcullis.oauth
from conftest import NOW
from oauth_helpers import REDIRECT, VERIFIER, DictStore, Setup, query_params, setup


class AsyncStore:
    """The test's dict store behind coroutines that yield to the loop at every call."""

    def __init__(self, inner: DictStore) -> None:
        self.inner = inner

    def add_client(self, client: portcullis.Client) -> None:
        self.inner.add_client(client)

    async def client(self, client_id: str) -> Optional[str]:
        await asyncio.sleep(0)
        return self.inner.client(client_id)

    async def put_code(self, code_hash: bytes, record: Dict[str, Any]) -> None:
        await asyncio.sleep(0)
        self.inner.put_code(code_hash, record)

    async def code(self, code_hash: bytes) -> Any:
        await asyncio.sleep(0)
        return self.inner.code(code_hash)

    async def consume_code(self, code_hash: bytes) -> Optional[Tuple[str, Any]]:
        await asyncio.sleep(0)
        return self.inner.consume_code(code_hash)

    async def put_refresh(self, token_hash: bytes, record: Dict[str, Any]) -> None:
        await asyncio.sleep(0)
        self.inner.put_refresh(token_hash, record)

    async def refresh(self, token_hash: bytes) -> Any:
        await asyncio.sleep(0)
        return self.inner.refresh(token_hash)

    async def rotate(self, old_hash: bytes, expected: Optional[int], rotated_at: int,
                     new_hash: bytes, new_record: Dict[str, Any]) -> bool:
        await asyncio.sleep(0)
        return self.inner.rotate(old_hash, expected, rotated_at, new_hash, new_record)

    async def revoke_family(self, family: str, now: int) -> None:
        await asyncio.sleep(0)
        self.inner.revoke_family(family, now)

    async def is_family_revoked(self, family: str) -> bool:
        await asyncio.sleep(0)
        return self.inner.is_family_revoked(family)


@pytest.fixture()
def env(policy: portcullis.Policy) -> Setup:
    return setup(policy, AsyncStore(DictStore()))


def test_a_whole_flow_over_an_async_store(env: Setup) -> None:
    call = portcullis.oauth.call
    ticks = []

    async def ticker() -> None:
        while True:
            ticks.append(1)
            await asyncio.sleep(0)

    async def flow() -> Tuple[int, str, str]:
        beat = asyncio.create_task(ticker())
        outcome = await call(env.server.authorize, env.authorize_query(), store=env.store)
        assert outcome.kind == "valid"
        location = await call(env.server.approve, outcome, "user_7", store=env.store, now=NOW)
        body = urllib.parse.urlencode({"grant_type": "authorization_code",
                                       "code": query_params(location)["code"],
                                       "redirect_uri": REDIRECT, "code_verifier": VERIFIER})
        first = await call(env.server.token, env.auth, body, store=env.store, now=NOW)
        assert first.status == 200, first.body
        refresh = first.json()["refresh_token"]
        again = urllib.parse.urlencode({"grant_type": "refresh_token", "refresh_token": refresh})
        rotated = await call(env.server.token, env.auth, again, store=env.store, now=NOW + 1)
        reuse = await call(env.server.token, env.auth, again, store=env.store, now=NOW + 2)
        beat.cancel()
        return rotated.status, reuse.json()["error"], first.json()["access_token"]

    rotated, reuse, access = asyncio.run(flow())
    assert (rotated, reuse) == (200, "invalid_grant")
    assert env.api(access, NOW + 3).reason == "access_token_revoked"
    assert ticks, "the event loop never ran while the endpoints worked"
    assert "consume_code" in env.store.inner.calls


def test_a_failing_or_hanging_async_store_is_a_server_error(
        env: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(code_hash: bytes) -> Any:
        raise RuntimeError("database down")

    async def hanging(code_hash: bytes) -> Any:
        await asyncio.sleep(60)

    async def a_code() -> str:
        call = portcullis.oauth.call
        outcome = await call(env.server.authorize, env.authorize_query(), store=env.store)
        location = await call(env.server.approve, outcome, "user_7", store=env.store, now=NOW)
        return query_params(location)["code"]

    body = urllib.parse.urlencode({"grant_type": "authorization_code",
                                   "code": asyncio.run(a_code()),
                                   "redirect_uri": REDIRECT, "code_verifier": VERIFIER})
    monkeypatch.setattr(portcullis.oauth, "STORE_TIMEOUT", 0.2)
    for method in (broken, hanging):
        monkeypatch.setattr(env.store, "code", method)
        r = asyncio.run(portcullis.oauth.call(env.server.token, env.auth, body,
                                              store=env.store, now=NOW))
        assert (r.status, r.json()["error"]) == (500, "server_error"), method.__name__


def test_a_blocking_store_is_run_off_the_loop_as_it_is(policy: portcullis.Policy) -> None:
    env = setup(policy, portcullis.MemoryOAuthStore())
    outcome = asyncio.run(portcullis.oauth.call(env.server.authorize, env.authorize_query(),
                                                store=env.store))
    assert outcome.kind == "valid"
