"""Type-checked usage of the public API (mypy --strict runs on this file in the tests):
the stubs must accept correct code and give precise result types."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import List, Optional, Tuple

import portcullis


def typed_flow(pepper: bytes) -> Tuple[bool, Optional[str], List[str]]:
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
    return v.valid and check.allowed, header, d.warnings
