"""Type-checked usage of the public API (mypy --strict runs on this file in the tests):
the stubs must accept correct code and give precise result types."""

from __future__ import annotations

import array
import asyncio
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional, Sequence, Tuple

import portcullis
from portcullis.codes import AuthorizeKind, BearerError, Reason, WarningCode


def typed_flow(pepper: bytes) -> Tuple[bool, Optional[str], Sequence[str]]:
    policy: portcullis.Policy = portcullis.Policy.from_file("examples/claimport.toml")
    peppers = portcullis.Peppers("p1", pepper)
    peppers.add("p0", pepper[::-1])
    checker = portcullis.Checker(policy, peppers)
    issued = checker.issue("n", "o", ["claims:read"], ttl=timedelta(days=30),
                           now=datetime.now(timezone.utc), metadata={"team": "ops"})
    key: str = issued.key
    store = portcullis.MemoryStore()
    store.insert(issued.record)
    store.put(issued.record.to_dict())

    def lookup(key_id: str) -> Optional[str]:
        found = store.get(key_id)
        return None if found is None else found.to_json()

    d: portcullis.Decision = checker.check("GET", "/v1/claims", lookup=lookup,
                                           authorization=f"Bearer {key}", https=True)
    status: int = d.status
    batch: List[portcullis.Decision] = checker.check_many(
        [("GET", "/health"), ("GET", "/v1/claims", f"Bearer {key}", None, True),
         portcullis.Request("GET", "/v1/claims", authorization=key.encode(), https=True)],
        lookup=store, now=datetime.now(timezone.utc))
    statuses: List[int] = [b.status for b in checker.check_many(iter([]), lookup=lookup)]
    del batch, statuses
    header: Optional[str] = d.www_authenticate
    first = checker.prepare("GET", "/v1/claims", authorization=key.encode(), https=True)
    if isinstance(first, portcullis.Pending):
        d = checker.finish(first, store.get(first.key_id), 1_800_000_000)
    created: datetime = issued.record.created_at
    rotation = checker.rotate(issued.record, 3600)
    v = checker.verify(rotation.successor.key, rotation.successor.record)
    check = policy.requirement("claims:read | full_access").evaluate(d.scopes)
    try:
        checker.parse("bad")
    except portcullis.MalformedKeyError as e:
        position: Optional[int] = e.position
        del position
    del status, created
    reason: Reason = d.reason
    error: Optional[BearerError] = d.error
    warnings: List[WarningCode] = d.warnings
    if reason == "lookup_failed" or v.reason == "wrong_secret":
        del error
    return v.valid and check.allowed, header, warnings


def typed_inputs(pepper: bytearray) -> portcullis.Decision:
    """Float times, any bytes-like secret."""
    policy = portcullis.Policy.from_file("examples/claimport.toml")
    peppers = portcullis.Peppers("p1", pepper)
    peppers.add("p0", memoryview(bytes(pepper)))
    peppers.add("p2", array.array("B", pepper))
    keys = portcullis.AccessKeys("k1", memoryview(pepper))
    checker = portcullis.Checker(policy, peppers,
                                 access_tokens=portcullis.AccessVerifier(policy, keys))
    issued = checker.issue("n", "o", ["claims:read"], now=time.time())
    issued.record.revoked(time.time()).state(1_800_000_000.5)
    return checker.check("GET", "/health", lookup=portcullis.MemoryStore(), now=time.time())


async def typed_async(checker: portcullis.Checker, key: str) -> List[portcullis.Decision]:
    store = portcullis.MemoryStore()

    async def lookup(key_id: str) -> Optional[portcullis.KeyRecord]:
        await asyncio.sleep(0)
        return store.get(key_id)

    def sync_lookup(key_id: str) -> Optional[Dict[str, Any]]:
        return None

    one: portcullis.Decision = await checker.check_async(
        "GET", "/v1/claims", lookup=lookup, authorization=f"Bearer {key}", https=True,
        now=time.time())
    task = asyncio.ensure_future(checker.check_async("GET", "/health", lookup=sync_lookup))
    many = await asyncio.gather(
        task, checker.check_async("GET", "/v1/claims", lookup=store, query=b"api_key=x"))
    return [one, *many]


class TypedStore:
    """An OAuthStore written against the Protocol (mypy checks the method shapes)."""

    def client(self, client_id: str) -> Optional[portcullis.Client]:
        return None

    def put_code(self, code_hash: bytes, record: Dict[str, Any]) -> None:
        pass

    def code(self, code_hash: bytes) -> Optional[Dict[str, Any]]:
        return None

    def consume_code(self, code_hash: bytes) -> Optional[Tuple[str, Dict[str, Any]]]:
        return None

    def put_refresh(self, token_hash: bytes, record: Dict[str, Any]) -> None:
        pass

    def refresh(self, token_hash: bytes) -> Optional[str]:
        return None

    def rotate(self, old_hash: bytes, expected: Optional[int], rotated_at: int, new_hash: bytes,
               new_record: Dict[str, Any]) -> bool:
        return False

    def revoke_family(self, family: str, now: int) -> None:
        pass

    def is_family_revoked(self, family: str) -> bool:
        return False


def typed_oauth(secret: bytes) -> Tuple[int, Optional[str], List[str]]:
    policy = portcullis.Policy.from_file("examples/claimport.toml")
    verifier = portcullis.AccessVerifier(policy, portcullis.AccessKeys("k1", secret))
    server = portcullis.OAuthServer(policy, verifier, portcullis.OAuthConfig(access_ttl=600))
    checker = portcullis.Checker(policy, portcullis.Peppers("p1", secret),
                                 access_tokens=verifier)
    store: portcullis.OAuthStore = TypedStore()
    client, client_secret = portcullis.Client.confidential("web", ["https://a.example/cb"],
                                                            ["claims:read"])
    outcome = server.authorize(b"client_id=web", store)
    location: Optional[str] = outcome.location
    kind: AuthorizeKind = outcome.kind
    del kind
    if outcome.kind == "valid":
        location = server.approve(outcome, "user", portcullis.MemoryOAuthStore(),
                                  scopes=outcome.scopes)
    response = server.token(f"Basic {client_secret}", "grant_type=refresh_token", store)
    body: Dict[str, Any] = response.json()
    headers: List[Tuple[str, str]] = response.headers
    claims: portcullis.AccessClaims = verifier.verify(str(body.get("access_token", "")))
    d = checker.check("GET", "/v1/claims", lookup=portcullis.MemoryStore(),
                      authorization=f"Bearer {claims.subject}")
    del headers, client
    return response.status, location, d.scopes
