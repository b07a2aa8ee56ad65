"""The OAuth engine over the database store (issue #18): ``OAuthServer`` endpoints take a
``portcullis.Store`` as ``store=`` on SQLite and on a throwaway PostgreSQL server; clients
registered with ``Store.add_client``; two stores on one database stand for two processes:
a refresh token reused through one revokes the family, and the other's attached verifier
refuses the family's access token within the 1 s bound."""

from __future__ import annotations

import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any, Callable, List

import pytest
from test_database_store import pg_url  # noqa: F401  (the module's PostgreSQL fixture)

import portcullis
from conftest import NOW, PEPPER
from oauth_helpers import Setup, setup


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:{tmp_path / 'oauth.sqlite3'}"
    pg: str = request.getfixturevalue("pg_url")
    return pg


@pytest.fixture()
def env(policy: portcullis.Policy, url: str) -> Setup:
    return setup(policy, portcullis.Store.open(url))


def test_full_flow_on_the_database(env: Setup) -> None:
    tokens = env.exchange(env.code()).json()
    access, refresh = tokens["access_token"], tokens["refresh_token"]
    assert env.api(access, NOW + 1).allowed
    r2 = env.refresh(refresh, NOW + 100)
    assert r2.status == 200, r2.body
    new_access = r2.json()["access_token"]
    assert env.api(new_access, NOW + 101).allowed
    reuse = env.refresh(refresh, NOW + 200)
    assert (reuse.status, reuse.json()["error"]) == (400, "invalid_grant")
    assert env.api(new_access, NOW + 201).reason == "access_token_revoked"
    assert env.refresh(r2.json()["refresh_token"], NOW + 300).json()["error"] == \
        "invalid_grant"


def test_code_reuse_revokes_and_introspection_and_revocation(env: Setup) -> None:
    code = env.code()
    first = env.exchange(code)
    assert first.status == 200
    assert env.exchange(code).json()["error"] == "invalid_grant"
    assert env.api(first.json()["access_token"], NOW + 1).reason == "access_token_revoked"

    tokens = env.exchange(env.code()).json()
    body = urllib.parse.urlencode({"token": tokens["refresh_token"]})
    assert env.server.introspect(env.auth, body, env.store, now=NOW + 5).json()["active"]
    assert env.server.revoke(env.auth, body, env.store, now=NOW + 6).status == 200
    assert env.server.introspect(env.auth, body, env.store, now=NOW + 7).json() == \
        {"active": False}
    assert env.api(tokens["access_token"], NOW + 7).reason == "access_token_revoked"


def test_concurrent_refresh_rotates_once(env: Setup) -> None:
    refresh = env.exchange(env.code()).json()["refresh_token"]
    results: List[int] = []
    lock = threading.Lock()

    def attempt() -> None:
        status = env.refresh(refresh, NOW + 1).status
        with lock:
            results.append(status)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200] + [400] * 7


def test_a_client_added_through_one_store_serves_the_other(
    policy: portcullis.Policy, url: str
) -> None:
    a = portcullis.Store.open(url)
    b = portcullis.Store.open(url)
    env = setup(policy, a)  # registers "webapp" through a
    env.store = b
    assert env.exchange(env.code()).status == 200
    spa = portcullis.Client.public("spa", ["https://spa.example/cb"], ["claims:read"])
    b.add_client(spa.to_json())
    outcome = env.server.authorize(env.authorize_query(client_id="spa",
                                                       redirect_uri="https://spa.example/cb",
                                                       scope="claims:read"), a)
    assert outcome.kind == "valid", outcome.error


def wait_for(condition: Callable[[], bool], bound: float) -> float:
    start = time.monotonic()
    while not condition() and time.monotonic() - start < bound:
        time.sleep(0.002)
    assert condition()
    return time.monotonic() - start


def test_a_reused_refresh_token_on_a_revokes_the_family_on_b_within_the_bound(
    policy: portcullis.Policy, url: str
) -> None:
    keys = portcullis.AccessKeys("k1", bytes(range(1, 33)))
    worker_a, worker_b = portcullis.Store.open(url), portcullis.Store.open(url)
    env = setup(policy, worker_a)
    worker_a.attach(env.verifier)
    # Worker B: its own verifier (same keys), attached to its own store.
    verifier_b = portcullis.AccessVerifier(policy, keys)
    worker_b.attach(verifier_b)
    checker_b = portcullis.Checker(policy, portcullis.Peppers("p1", PEPPER),
                                   access_tokens=verifier_b)

    def on_b(token: str) -> Any:
        return checker_b.check("GET", "/v1/claims", lookup=worker_b,
                               authorization=f"Bearer {token}", https=True, now=NOW + 150)

    tokens = env.exchange(env.code()).json()
    rotated = env.refresh(tokens["refresh_token"], NOW + 100).json()
    assert on_b(rotated["access_token"]).allowed
    reuse = env.refresh(tokens["refresh_token"], NOW + 120)
    assert reuse.json()["error"] == "invalid_grant"
    elapsed = wait_for(lambda: on_b(rotated["access_token"]).reason == "access_token_revoked",
                       1.0)
    assert elapsed < 1.0


def test_a_wrong_store_names_the_database_store(env: Setup) -> None:
    with pytest.raises(TypeError, match="a Store"):
        env.server.authorize(env.authorize_query(), object())
    with pytest.raises(TypeError):
        env.store.add_client(42)



def test_an_epoch_raised_on_a_revokes_access_tokens_on_b(
    policy: portcullis.Policy, url: str
) -> None:
    keys = portcullis.AccessKeys("k1", bytes(range(1, 33)))
    worker_a, worker_b = portcullis.Store.open(url), portcullis.Store.open(url)
    env = setup(policy, worker_a)
    worker_a.attach(env.verifier)
    verifier_b = portcullis.AccessVerifier(policy, keys)
    worker_b.attach(verifier_b)
    checker_b = portcullis.Checker(policy, portcullis.Peppers("p1", PEPPER),
                                   access_tokens=verifier_b)
    access = env.exchange(env.code()).json()["access_token"]

    def on_b() -> Any:
        return checker_b.check("GET", "/v1/claims", lookup=worker_b,
                               authorization=f"Bearer {access}", https=True, now=NOW + 20)

    assert on_b().allowed
    worker_a.revoke_access_tokens_before(NOW + 10.5)  # seconds, floored
    assert env.verifier.epoch == NOW + 10, "the writing process has it at once"
    wait_for(lambda: on_b().reason == "access_token_revoked", 1.0)
    worker_a.revoke_access_tokens_before(NOW)
    assert verifier_b.epoch == NOW + 10, "never lowered"
