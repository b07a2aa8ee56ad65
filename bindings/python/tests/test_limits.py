"""Rate limits: the GCRA limiter against tests/vectors/limits.json, and a checker counting
a policy's ``[[limits]]`` (per key, per owner, by tier) with the 429 and its header fields,
through the bindings as Rust runs them (crates/portcullis/tests/limits.rs)."""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

import pytest

import portcullis
from conftest import PEPPER, POLICY_FILE, vectors

LIMITS = vectors("limits")

PER_KEY = """
[[limits]]
name = "per_key"
rate = 10
window = 3600
burst = 3
"""


def checker_with(limits_toml: str) -> portcullis.Checker:
    text = POLICY_FILE.read_text(encoding="utf-8") + "\n" + limits_toml
    policy = portcullis.Policy.from_toml(text)
    return portcullis.Checker(policy, portcullis.Peppers("p1", PEPPER),
                              limits=portcullis.LocalLimits(1_000))


def key(checker: portcullis.Checker, store: portcullis.MemoryStore, owner: str = "org_42",
        tier: Optional[str] = None) -> str:
    metadata: Dict[str, Any] = {"tier": tier} if tier is not None else {}
    issued = checker.issue("Limits", owner, ["claims:read"], metadata=metadata)
    store.insert(issued.record)
    return f"Bearer {issued.key}"


def get(checker: portcullis.Checker, store: portcullis.MemoryStore,
        header: str) -> portcullis.Decision:
    return checker.check("GET", "/v1/claims/7", lookup=store, authorization=header, https=True)


@pytest.mark.parametrize("case", LIMITS["cases"], ids=lambda c: str(c["name"]))
def test_every_vector_step_gives_its_verdict(case: Dict[str, Any]) -> None:
    q = case["quota"]
    quota = portcullis.Quota(q["rate"], q["window"], q["burst"])
    limiter = portcullis.RateLimiter(1_000)
    for step in case["steps"]:
        v = limiter.check(quota, step["subject"], now_us=step["at_us"], limit=step["limit"],
                          n=step["n"])
        got = [v.allowed, v.remaining, v.reset_us, v.retry_after_us]
        want = [step["allowed"], step["remaining"], step["reset_us"], step["retry_after_us"]]
        assert got == want, step
        assert bool(v) is step["allowed"]


def test_a_refund_gives_a_request_back() -> None:
    quota = portcullis.Quota(1, 60)
    limiter = portcullis.RateLimiter(10)
    assert limiter.check(quota, b"k", now_us=10**9)
    assert not limiter.check(quota, "k", now_us=10**9)  # str and bytes are one subject
    limiter.refund(quota, "k", now_us=10**9)
    assert limiter.check(quota, "k", now_us=10**9).allowed
    assert limiter.saturated == 0


def test_quota_defaults_its_burst_to_the_rate_and_compares_by_value() -> None:
    q = portcullis.Quota(100, 1)
    assert (q.rate, q.window, q.burst, q.interval_us) == (100, 1, 100, 10_000)
    assert q == portcullis.Quota(100, 1, 100) and hash(q) == hash(portcullis.Quota(100, 1))
    assert q != portcullis.Quota(100, 1, 5)
    assert repr(q) == "Quota(rate=100, window=1, burst=100)"


@pytest.mark.parametrize(
    "make, code",
    [
        (lambda: portcullis.Quota(0, 1), "bad_rate"),
        (lambda: portcullis.Quota(-1, 1), "bad_rate"),
        (lambda: portcullis.Quota(2_000_000, 1), "bad_rate"),
        (lambda: portcullis.Quota(1, 0), "bad_window"),
        (lambda: portcullis.Quota(1, 86_401), "bad_window"),
        (lambda: portcullis.Quota(1, 2**40), "bad_window"),
        (lambda: portcullis.Quota(1, 1, 0), "bad_burst"),
        (lambda: portcullis.Quota(1, 86_400, 10**6), "bad_burst"),
        (lambda: portcullis.RateLimiter(0), "bad_subjects"),
        (lambda: portcullis.RateLimiter(2**24 + 1), "bad_subjects"),
        (lambda: portcullis.LocalLimits(-5), "bad_subjects"),
    ],
)
def test_bad_settings_raise_configuration_error_with_the_core_code(make: Any, code: str) -> None:
    with pytest.raises(portcullis.ConfigurationError) as e:
        make()
    assert e.value.code == code
    assert isinstance(e.value, ValueError)


def test_settings_of_the_wrong_type_raise_type_error() -> None:
    with pytest.raises(TypeError):
        portcullis.Quota(1.5, 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        portcullis.Quota(True, 1)
    with pytest.raises(TypeError):
        portcullis.RateLimiter("10")  # type: ignore[arg-type]
    limiter, quota = portcullis.RateLimiter(10), portcullis.Quota(1, 1)
    with pytest.raises(TypeError):
        limiter.check(quota, 7, now_us=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        limiter.check(quota, "k", now_us=-1)


def test_the_fourth_request_of_a_burst_of_three_is_429_with_retry_after() -> None:
    checker = checker_with(PER_KEY)
    store = portcullis.MemoryStore()
    header = key(checker, store)
    allowed = [get(checker, store, header) for _ in range(3)]
    assert [d.status for d in allowed] == [200, 200, 200]
    assert [d.rate_limit for d in allowed] == [
        '"per_key";r=2;t=360', '"per_key";r=1;t=720', '"per_key";r=0;t=1080']
    assert all(d.rate_limit_policy == '"per_key";q=10;w=3600' for d in allowed)
    assert all(d.retry_after is None for d in allowed)
    assert allowed[0].headers == [("RateLimit-Policy", '"per_key";q=10;w=3600'),
                                  ("RateLimit", '"per_key";r=2;t=360')]
    limited = get(checker, store, header)
    assert (limited.status, limited.reason, limited.allowed) == (429, "rate_limited", False)
    # One request per 360 s: the next one is about 360 s away.
    assert limited.retry_after is not None and 355 <= limited.retry_after <= 360
    assert limited.rate_limit_policy == '"per_key";q=10;w=3600'
    assert limited.rate_limit is not None
    assert re.fullmatch(r'"per_key";r=0;t=10\d\d', limited.rate_limit)
    assert limited.headers == [("Retry-After", str(limited.retry_after)),
                               ("RateLimit-Policy", '"per_key";q=10;w=3600'),
                               ("RateLimit", limited.rate_limit)]
    assert limited.www_authenticate is None and limited.key_id is not None
    d = limited.to_dict()
    assert d["retry_after"] == limited.retry_after and d["headers"] == limited.headers
    # Another key has its own limit.
    assert get(checker, store, key(checker, store)).allowed


def test_unauthenticated_requests_spend_nothing() -> None:
    checker = checker_with(PER_KEY)
    store = portcullis.MemoryStore()
    header = key(checker, store)
    wrong = header[:-3] + ("AAA" if not header.endswith("AAA") else "BBB")
    for _ in range(10):
        assert get(checker, store, wrong).status in (400, 401)
    assert get(checker, store, header).rate_limit == '"per_key";r=2;t=360'


def test_an_owner_limit_is_shared_by_its_keys() -> None:
    checker = checker_with("""
[[limits]]
name = "per_org"
per = "owner"
rate = 4
window = 60
""")
    store = portcullis.MemoryStore()
    first, second = key(checker, store), key(checker, store)
    other = key(checker, store, owner="org_7")
    statuses = [get(checker, store, h).status for h in (first, second, first, second, first)]
    assert statuses == [200, 200, 200, 200, 429]
    assert get(checker, store, second).status == 429
    assert get(checker, store, other).status == 200


def test_a_key_tier_picks_its_limit() -> None:
    checker = checker_with("""
[[limits]]
name = "free"
rate = 1
window = 60
tiers = ["free"]

[[limits]]
name = "pro"
rate = 5
window = 60
tiers = ["pro"]
""")
    store = portcullis.MemoryStore()
    free, pro, none = key(checker, store, tier="free"), key(checker, store, tier="pro"), key(
        checker, store)
    assert [get(checker, store, free).status for _ in range(2)] == [200, 429]
    pro_decisions = [get(checker, store, pro) for _ in range(6)]
    assert [d.status for d in pro_decisions] == [200] * 5 + [429]
    assert pro_decisions[0].rate_limit_policy == '"pro";q=5;w=60'
    untiered = [get(checker, store, none) for _ in range(10)]
    assert all(d.allowed and d.rate_limit is None and d.headers == [] for d in untiered)


def test_limits_are_kept_by_every_with_and_applied_only_when_attached() -> None:
    policy = portcullis.Policy.from_toml(POLICY_FILE.read_text(encoding="utf-8") + PER_KEY)
    peppers = portcullis.Peppers("p1", PEPPER)
    plain = portcullis.Checker(policy, peppers)
    assert plain.limits is None
    store = portcullis.MemoryStore()
    header = key(plain, store)
    assert all(get(plain, store, header).allowed for _ in range(5))
    limits = portcullis.LocalLimits(100)
    recorder = portcullis.UsageRecorder(max_keys=10)
    limited = plain.with_limits(limits).with_usage(recorder)
    assert limited.limits is not None and limited.usage is not None
    statuses: List[int] = [get(limited, store, header).status for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert plain.with_usage(recorder).with_limits(limits).usage is not None
    # The table is shared: another checker on the same limits sees what was counted.
    again = portcullis.Checker(policy, peppers, limits=limited.limits)
    assert get(again, store, header).status == 429
    assert "saturated=0" in repr(limits)


def test_check_many_and_finish_count_too() -> None:
    checker = checker_with(PER_KEY)
    store = portcullis.MemoryStore()
    header = key(checker, store)
    decisions = checker.check_many([("GET", "/v1/claims/7", header, None, True)] * 4,
                                   lookup=store)
    assert [d.status for d in decisions] == [200, 200, 200, 429]
    assert decisions[3].retry_after is not None


def test_flask_sends_the_429_with_retry_after_and_the_ratelimit_fields() -> None:
    flask = pytest.importorskip("flask")
    from portcullis.integrations.flask import Portcullis

    checker = checker_with(PER_KEY)
    store = portcullis.MemoryStore()
    header = key(checker, store)
    app = flask.Flask(__name__)
    auth = Portcullis(app, checker=checker, lookup=store)
    app.get("/v1/claims/<int:claim>")(auth.require("claims:read")(lambda claim: {"id": claim}))
    client = app.test_client()
    answers = [client.get("/v1/claims/7", headers={"Authorization": header},
                          base_url="https://localhost") for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert answers[0].headers["RateLimit"] == '"per_key";r=2;t=360'
    assert answers[0].headers["RateLimit-Policy"] == '"per_key";q=10;w=3600'
    assert "Retry-After" not in answers[0].headers
    limited = answers[3]
    assert 355 <= int(limited.headers["Retry-After"]) <= 360
    assert limited.headers["RateLimit-Policy"] == '"per_key";q=10;w=3600'
    assert limited.headers["RateLimit"].startswith('"per_key";r=0;')
    assert limited.get_json() == {"error": "rate_limited", "error_description": "Too many requests"}


def test_fastapi_sends_the_429_and_the_fields_on_allowed_answers() -> None:
    pytest.importorskip("fastapi")
    from fastapi import FastAPI, Security
    from fastapi.testclient import TestClient

    from portcullis.integrations.fastapi import PortcullisBearer, Principal

    checker = checker_with(PER_KEY)
    store = portcullis.MemoryStore()
    header = key(checker, store)
    bearer = PortcullisBearer(checker, lookup=store)
    app = FastAPI()

    @app.get("/v1/claims/{claim}")
    def claim(claim: int,
              caller: Principal = Security(bearer, scopes=["claims:read"])) -> Any:
        return {"owner": caller.owner}

    bearer.install(app)
    client = TestClient(app, base_url="https://testserver")
    answers = [client.get("/v1/claims/7", headers={"Authorization": header}) for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert answers[2].headers["ratelimit"] == '"per_key";r=0;t=1080'
    assert 355 <= int(answers[3].headers["retry-after"]) <= 360
    assert answers[3].json()["error"] == "rate_limited"


def test_credits_run_out_with_their_own_reason() -> None:
    checker = checker_with("")
    store = portcullis.MemoryStore()
    issued = checker.issue("Credits", "org_1", ["claims:read"],
                           metadata={"credits": {"amount": 2, "refill": "daily"}})
    store.insert(issued.record)
    header = f"Bearer {issued.key}"
    first = get(checker, store, header)
    assert first.allowed and first.credits_remaining == 1
    assert get(checker, store, header).credits_remaining == 0
    out = get(checker, store, header)
    assert (out.status, out.reason, out.credits_remaining) == (429, "credits_exhausted", 0)
    assert out.retry_after is not None and 0 < out.retry_after <= 86_400
    assert ("Retry-After", str(out.retry_after)) in out.headers
    # A key without credits reports none.
    assert get(checker, store, key(checker, store)).credits_remaining is None
