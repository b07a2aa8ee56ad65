"""A `Pending` wipes its copy of the presented key when it is finished (issue #15).

The copy lives inside the Python object; Python frees that memory without wiping it, so
the test reads the live object's own bytes (its type's basic size, from its address)
after `finish` and `finish_failed`.
"""

from __future__ import annotations

import ctypes

import portcullis
from conftest import NOW


def object_bytes(obj: object) -> bytes:
    return ctypes.string_at(id(obj), type(obj).__basicsize__)


def test_finishing_a_pending_wipes_its_copy_of_the_presented_key(
    checker: portcullis.Checker, store: portcullis.MemoryStore, issued: portcullis.IssuedKey
) -> None:
    tail = issued.key.rsplit("_", 1)[-1].encode()  # the secret and the checksum
    header = f"Bearer {issued.key}"
    for finish in ("finish", "finish_failed"):
        pending = checker.prepare("GET", "/v1/claims", authorization=header, https=True)
        assert isinstance(pending, portcullis.Pending)
        held = tail in object_bytes(pending)  # not asserted on the bytes: pytest would print them
        assert held, "the key is held inside the object"
        if finish == "finish":
            assert checker.finish(pending, store.get(pending.key_id), NOW).allowed
        else:
            assert checker.finish_failed(pending, "timeout").status == 503
        left = tail in object_bytes(pending)
        assert not left, f"{finish} left the key in the object"
