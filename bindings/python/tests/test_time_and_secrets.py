"""Time arguments and secrets as Python hands them over (issue #24): every time argument
takes int seconds, float seconds (floored) and aware datetimes through one rule; peppers
and access-token keys take any bytes-like object."""

from __future__ import annotations

import array
import ctypes
import gc
import math
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pytest

import portcullis
from conftest import NOW, PEPPER


def at(secs: float) -> datetime:
    return datetime.fromtimestamp(secs, timezone.utc)


def test_now_accepts_time_time_as_check_does_with_an_int(
    checker: portcullis.Checker, store: portcullis.MemoryStore
) -> None:
    issued = checker.issue("n", "o", ["claims:read"], now=time.time())
    store.insert(issued.record)
    header = f"Bearer {issued.key}"
    decision = checker.check(
        "GET", "/v1/claims", lookup=store, authorization=header, https=True, now=time.time()
    )
    assert decision.allowed, decision.reason


def test_a_float_time_is_floored_to_the_second(
    checker: portcullis.Checker, store: portcullis.MemoryStore
) -> None:
    issued = checker.issue("n", "o", ["claims:read"], ttl=100, now=NOW)
    store.insert(issued.record)
    header = f"Bearer {issued.key}"

    def reason(now: Any) -> str:
        return checker.check(
            "GET", "/v1/claims", lookup=store, authorization=header, https=True, now=now
        ).reason

    # Expires at NOW + 100: any instant of the second before is still valid.
    assert reason(NOW + 99.999) == "allowed"
    assert reason(at(NOW + 99.999)) == "allowed"
    assert reason(NOW + 100.0) == "expired"
    assert reason(NOW + 100.5) == "expired"
    assert issued.record.created_at == at(NOW)
    floated = checker.issue("n", "o", ["claims:read"], now=NOW + 0.75)
    assert floated.record.created_at == at(NOW)


@pytest.mark.parametrize(
    "call",
    [
        lambda c, r, t: c.check("GET", "/health", lookup=portcullis.MemoryStore(), now=t),
        lambda c, r, t: c.check_many([("GET", "/health")], lookup=portcullis.MemoryStore(),
                                     now=t),
        lambda c, r, t: c.prepare("GET", "/health", now=t),
        lambda c, r, t: c.issue("n", "o", ["claims:read"], now=t),
        lambda c, r, t: c.issue("n", "o", ["claims:read"], not_before=t, now=NOW),
        lambda c, r, t: c.rotate(r, 60, now=t),
        lambda c, r, t: r.state(t),
        lambda c, r, t: r.is_revoked(t),
        lambda c, r, t: r.revoked(t),
        lambda c, r, t: r.with_expires_at(t),
        lambda c, r, t: portcullis.MemoryOAuthStore().purge_codes(t),
    ],
)
def test_every_time_argument_takes_int_float_and_aware_datetime(
    checker: portcullis.Checker, issued: portcullis.IssuedKey, call: Callable[..., Any]
) -> None:
    for t in (NOW + 5, NOW + 5.5, at(NOW + 5.5)):
        call(checker, issued.record, t)
    with pytest.raises(ValueError, match="timezone-aware"):
        call(checker, issued.record, datetime(2027, 1, 1))


@pytest.mark.parametrize(
    "value, error, message",
    [
        (datetime(2027, 1, 1), ValueError, "^now must be a timezone-aware datetime"),
        (-0.5, ValueError, "^now is before 1970"),
        (math.nan, ValueError, "^now must be a finite time"),
        (math.inf, ValueError, "^now must be a finite time"),
        (1e30, ValueError, "^now is too far in the future"),
        (-1, ValueError, "^now must be between 0"),
        (True, TypeError, "^now must be int or float seconds .* not bool"),
        ("1800000000", TypeError, "^now must be int or float seconds .* not str"),
        (timedelta(seconds=5), TypeError, "^now must be .* not timedelta"),
    ],
)
def test_a_bad_time_names_its_argument(
    checker: portcullis.Checker, value: Any, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        checker.check("GET", "/health", lookup=portcullis.MemoryStore(), now=value)


def test_a_naive_datetime_names_the_argument_it_was_given_as(
    issued: portcullis.IssuedKey,
) -> None:
    with pytest.raises(ValueError, match=r"^at must be a timezone-aware"):
        issued.record.revoked(datetime(2027, 1, 1))


def test_durations_stay_int_or_timedelta(checker: portcullis.Checker) -> None:
    with pytest.raises(TypeError, match=r"^ttl must be int seconds or a timedelta, not float"):
        checker.issue("n", "o", ["claims:read"], ttl=1.5)  # type: ignore[arg-type]


BYTES_LIKE = [
    pytest.param(lambda b: b, id="bytes"),
    pytest.param(bytearray, id="bytearray"),
    pytest.param(memoryview, id="memoryview"),
    pytest.param(lambda b: array.array("B", b), id="array-B"),
    pytest.param(lambda b: array.array("I", b), id="array-I"),
    pytest.param(lambda b: memoryview(bytes(x for c in b for x in (c, 0xFF)))[::2],
                 id="strided-memoryview"),
    pytest.param(lambda b: ctypes.create_string_buffer(b, len(b)), id="ctypes"),
]


@pytest.mark.parametrize("wrap", BYTES_LIKE)
def test_peppers_take_any_bytes_like_and_hash_as_bytes(
    policy: portcullis.Policy, wrap: Callable[[bytes], Any]
) -> None:
    reference = portcullis.Checker(policy, portcullis.Peppers("p1", PEPPER))
    issued = reference.issue("n", "o", ["claims:read"], now=NOW)
    peppers = portcullis.Peppers("p1", wrap(PEPPER))
    peppers.add("p0", wrap(bytes(reversed(PEPPER))))
    checker = portcullis.Checker(policy, peppers)
    assert checker.hash_key(issued.key) == reference.hash_key(issued.key)
    assert checker.verify(issued.key, issued.record, NOW).valid


@pytest.mark.parametrize("wrap", BYTES_LIKE)
def test_access_keys_take_any_bytes_like(
    policy: portcullis.Policy, wrap: Callable[[bytes], Any]
) -> None:
    claims = portcullis.AccessClaims(
        subject="u", client_id="c", scopes=["claims:read"], issued_at=NOW,
        expires_at=NOW + 60, token_id="A" * 16, family="B" * 16,
    )
    reference = portcullis.AccessVerifier(policy, portcullis.AccessKeys("k1", PEPPER))
    keys = portcullis.AccessKeys("k1", wrap(PEPPER))
    keys.add("k0", wrap(PEPPER))
    assert portcullis.AccessVerifier(policy, keys).sign(claims) == reference.sign(claims)


@pytest.mark.parametrize("value", ["x" * 32, 32, None, [1] * 32])
def test_a_secret_that_is_not_bytes_like_is_a_type_error(value: Any) -> None:
    with pytest.raises(TypeError, match=r"^secret must be a bytes-like object .* not "):
        portcullis.Peppers("p1", value)
    with pytest.raises(TypeError, match=r"^secret must be a bytes-like object"):
        portcullis.AccessKeys("k1", value)


def test_a_short_bytes_like_pepper_is_refused_as_bytes_is(policy: portcullis.Policy) -> None:
    with pytest.raises(portcullis.ConfigurationError) as info:
        portcullis.Peppers("p1", bytearray(31))
    assert info.value.code == "pepper_too_short"


def test_the_callers_buffer_is_left_as_it_was_and_released() -> None:
    secret = bytearray(PEPPER)
    portcullis.Peppers("p1", secret)
    gc.collect()
    assert secret == PEPPER
    secret.extend(b"x")  # a buffer still exported would make this a BufferError
