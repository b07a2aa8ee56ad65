/* Rate limits through the C ABI: every case of tests/vectors/limits.json (compiled in by
 * gen_vectors.py; each step's four verdict fields compared) through a portcullis_rate_limiter,
 * refunds, checkers with [[limits]] (per key: the 4th request is 429 with Retry-After and the
 * RateLimit fields; per owner: two keys share one limit; per tier; per route class; two checkers
 * sharing one portcullis_limits), and every kind of bad input, with out-parameters left
 * untouched on failure. usage: test_limits */
#include <stdint.h>

#include "check.h"
#include "jv.h"

#define HUGE ((size_t)-1)
#define SENTINEL ((void *)0x1)

static const uint8_t PEPPER[32] = "0123456789abcdef0123456789abcdef";

static void run_vectors(void) {
    const jv *cases = jv_get(&VECTORS_LIMITS, "cases");
    CHECK(cases != NULL && cases->len >= 5, "limit vectors present");
    size_t steps_run = 0;
    for (size_t i = 0; cases != NULL && i < cases->len; i++) {
        const jv *c = jv_at(cases, i), *q = jv_get(c, "quota"), *steps = jv_get(c, "steps");
        const char *name = jv_get(c, "name")->str;
        portcullis_quota quota;
        CHECK_OK(portcullis_quota_new((uint32_t)jv_get(q, "rate")->num, (uint32_t)jv_get(q, "window")->num,
                                      (uint32_t)jv_get(q, "burst")->num, &quota));
        portcullis_rate_limiter *limiter = NULL;
        CHECK_OK(portcullis_rate_limiter_new(1000, &limiter));
        for (size_t s = 0; limiter != NULL && s < steps->len; s++) {
            const jv *step = jv_at(steps, s), *subject = jv_get(step, "subject");
            uint64_t at = (uint64_t)jv_get(step, "at_us")->num;
            uint32_t n = (uint32_t)jv_get(step, "n")->num;
            portcullis_verdict v;
            memset(&v, 0xab, sizeof v);
            CHECK_OK(portcullis_rate_limiter_check(limiter, &quota, (uint32_t)jv_get(step, "limit")->num,
                                                   subject->str, subject->len, n, at, &v));
            int allowed = (int)jv_get(step, "allowed")->num;
            uint32_t remaining = (uint32_t)jv_get(step, "remaining")->num;
            uint64_t reset = (uint64_t)jv_get(step, "reset_us")->num;
            uint64_t retry = (uint64_t)jv_get(step, "retry_after_us")->num;
            CHECK(v.allowed == allowed && v.remaining == remaining && v.reset_us == reset &&
                      v.retry_after_us == retry,
                  "%s, step %zu (%u of %.*s at %llu): got {%d, %u, %llu, %llu}, expected {%d, %u, %llu, %llu}",
                  name, s, n, (int)subject->len, subject->str, (unsigned long long)at, v.allowed, v.remaining,
                  (unsigned long long)v.reset_us, (unsigned long long)v.retry_after_us, allowed, remaining,
                  (unsigned long long)reset, (unsigned long long)retry);
            steps_run++;
        }
        CHECK(portcullis_rate_limiter_saturated(limiter) == 0, "%s: never saturated", name);
        portcullis_rate_limiter_free(limiter);
    }
    /* Five cases and 34 steps in the committed vectors: all of them ran. */
    CHECK(cases != NULL && cases->len >= 5 && steps_run >= 34, "ran %zu steps", steps_run);
}

static void test_refund(void) {
    portcullis_quota quota;
    CHECK_OK(portcullis_quota_new(1, 60, 2, &quota));
    portcullis_rate_limiter *limiter = NULL;
    CHECK_OK(portcullis_rate_limiter_new(16, &limiter));
    const uint64_t t = 5000000;
    portcullis_verdict v;
    /* Any bytes are a subject, NUL included. */
    const char subject[] = {'k', '\0', 'x'};
    for (int i = 0; i < 2; i++) {
        CHECK_OK(portcullis_rate_limiter_check(limiter, &quota, 0, subject, 3, 1, t, &v));
        CHECK(v.allowed, "request %d allowed", i);
    }
    CHECK_OK(portcullis_rate_limiter_check(limiter, &quota, 0, subject, 3, 1, t, &v));
    CHECK(!v.allowed && v.retry_after_us == 60000000, "third refused for a minute: %llu",
          (unsigned long long)v.retry_after_us);
    /* "k" alone is another subject. */
    CHECK_OK(portcullis_rate_limiter_check(limiter, &quota, 0, "k", 1, 1, t, &v));
    CHECK(v.allowed, "another subject");
    CHECK_OK(portcullis_rate_limiter_refund(limiter, &quota, 0, subject, 3, 1, t));
    CHECK_OK(portcullis_rate_limiter_check(limiter, &quota, 0, subject, 3, 0, t, &v));
    CHECK(v.allowed && v.remaining == 1, "a refund gives one back (read only): %d %u", v.allowed, v.remaining);
    CHECK_OK(portcullis_rate_limiter_check(limiter, &quota, 0, subject, 3, 1, t, &v));
    CHECK(v.allowed && v.remaining == 0, "allowed again after the refund");
    /* Refunding more than was counted restores the full burst, never more. */
    CHECK_OK(portcullis_rate_limiter_refund(limiter, &quota, 0, subject, 3, 10, t));
    CHECK_OK(portcullis_rate_limiter_check(limiter, &quota, 0, subject, 3, 3, t, &v));
    CHECK(!v.allowed, "three at once stays above the burst");
    CHECK_OK(portcullis_rate_limiter_check(limiter, &quota, 0, subject, 3, 2, t, &v));
    CHECK(v.allowed && v.remaining == 0, "the full burst, no more");
    portcullis_rate_limiter_free(limiter);
}

/* A limiter full of live subjects refuses a new one (fail closed) and counts it. */
static void test_saturation(void) {
    portcullis_quota quota;
    CHECK_OK(portcullis_quota_new(1, 3600, 1, &quota));
    portcullis_rate_limiter *limiter = NULL;
    CHECK_OK(portcullis_rate_limiter_new(1, &limiter));
    portcullis_verdict v;
    size_t refused = 0;
    for (int i = 0; i < 64; i++) {
        char subject[16];
        int len = snprintf(subject, sizeof subject, "s%d", i);
        CHECK_OK(portcullis_rate_limiter_check(limiter, &quota, 0, subject, (size_t)len, 1, 1000000, &v));
        refused += !v.allowed;
    }
    /* Sixteen slots at least; two subjects sharing a fingerprint (rare) are refused as
     * one, not as saturated. */
    uint64_t saturated = portcullis_rate_limiter_saturated(limiter);
    CHECK(refused >= 64 - 16 && saturated > 0 && saturated <= refused, "%zu refused, %llu saturated", refused,
          (unsigned long long)saturated);
    portcullis_rate_limiter_free(limiter);
}

static const char BASE[] =
    "[service]\nrealm = \"api\"\ndeployment_env = \"live\"\n"
    "[[scopes]]\nname = \"claims:read\"\n[[scopes]]\nname = \"claims:write\"\n"
    "[[routes]]\nmethod = \"GET\"\npath = \"/v1/claims\"\nrequire = \"claims:read\"\n"
    "[[routes]]\nmethod = \"POST\"\npath = \"/v1/claims\"\nrequire = \"claims:write\"\n";

/* The world of one test: a policy (BASE plus `limits`), peppers, a store. */
typedef struct {
    portcullis_policy *policy;
    portcullis_peppers *peppers;
    portcullis_store *store;
    portcullis_limits *limits;
    portcullis_checker *checker;
} world;

static world world_new(const char *limits_toml) {
    world w;
    memset(&w, 0, sizeof w);
    char toml[2048];
    int n = snprintf(toml, sizeof toml, "%s%s", BASE, limits_toml);
    CHECK(n > 0 && (size_t)n < sizeof toml, "policy fits");
    CHECK_OK(portcullis_policy_new_from_toml(toml, strlen(toml), &w.policy));
    CHECK_OK(portcullis_peppers_new("p1", 2, PEPPER, sizeof PEPPER, &w.peppers));
    CHECK_OK(portcullis_store_new(&w.store));
    CHECK_OK(portcullis_local_limits_new(10000, &w.limits));
    CHECK_OK(portcullis_checker_new_with_limits(w.policy, w.peppers, NULL, NULL, w.limits, &w.checker));
    return w;
}

static void world_free(world *w) {
    portcullis_checker_free(w->checker);
    portcullis_limits_free(w->limits);
    portcullis_store_free(w->store);
    portcullis_peppers_free(w->peppers);
    portcullis_policy_free(w->policy);
}

/* Issues a key of `owner` with `scopes` (comma-free names; NULL-terminated list) and
 * `metadata_json` (NULL: none) into the store; writes "Bearer <key>" to `header`. */
static void issue(const world *w, const char *owner, const char *const *scopes, const char *metadata_json,
                  char *header, size_t cap) {
    portcullis_str list[4];
    size_t n = 0;
    while (scopes[n] != NULL && n < 4) {
        list[n] = cstr(scopes[n]);
        n++;
    }
    portcullis_key_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.name = cstr("limits");
    spec.owner = cstr(owner);
    spec.scopes = list;
    spec.scopes_len = n;
    if (metadata_json != NULL) spec.metadata_json = cstr(metadata_json);
    portcullis_issued_key *issued = NULL;
    portcullis_record *record = NULL;
    CHECK_OK(portcullis_checker_issue(w->checker, &spec, NOW, &issued));
    CHECK_OK(portcullis_issued_key_record(issued, &record));
    CHECK_OK(portcullis_store_insert(w->store, record));
    snprintf(header, cap, "Bearer %s", portcullis_issued_key_secret(issued).data);
    portcullis_record_free(record);
    portcullis_issued_key_free(issued);
}

static portcullis_decision *check(const portcullis_checker *checker, const portcullis_store *store,
                                  const char *method, const char *header) {
    portcullis_request req = make_request(method, "/v1/claims", header, NULL, true);
    portcullis_decision *d = NULL;
    CHECK_OK(portcullis_checker_check_store(checker, &req, store, NOW, &d));
    return d;
}

static uint16_t status(const portcullis_checker *checker, const portcullis_store *store, const char *method,
                       const char *header) {
    portcullis_decision *d = check(checker, store, method, header);
    uint16_t s = portcullis_decision_status(d);
    portcullis_decision_free(d);
    return s;
}

typedef portcullis_result (*field_fn)(const portcullis_decision *, char *, size_t, size_t *);

/* A header field of a decision, through the required-length protocol ("" when empty). */
static void field(const portcullis_decision *d, field_fn f, char *buf, size_t cap) {
    size_t len = 12345;
    portcullis_result rc = f(d, NULL, 0, &len);
    CHECK(rc == PORTCULLIS_BUFFER_TOO_SMALL && len < cap, "asked for the length: %s, %zu",
          portcullis_result_name(rc), len);
    buf[0] = '\0';
    size_t len2 = 0;
    if (len < cap) CHECK_OK(f(d, buf, cap, &len2));
    CHECK(len2 == len && strlen(buf) == len, "the length given is the length written");
}

/* Reads "...;t=N" at the end of a RateLimit value. */
static long t_of(const char *value) {
    const char *t = strstr(value, ";t=");
    return t == NULL ? -1 : strtol(t + 3, NULL, 10);
}

static const char *const READ[] = {"claims:read", NULL};

static void test_per_key(void) {
    world w = world_new("[[limits]]\nname = \"per_key\"\nrate = 10\nwindow = 3600\nburst = 3\n");
    char key[160], other[160], buf[128];
    issue(&w, "org_1", READ, NULL, key, sizeof key);
    issue(&w, "org_1", READ, NULL, other, sizeof other);

    /* Refusals before the limit spend nothing: no scope (403), a wrong key (401). */
    portcullis_decision *d = check(w.checker, w.store, "POST", key);
    CHECK(portcullis_decision_status(d) == 403, "scope refusal first");
    field(d, portcullis_decision_rate_limit, buf, sizeof buf);
    CHECK(strcmp(buf, "") == 0, "no limit reported on a 403: %s", buf);
    portcullis_decision_free(d);
    CHECK(status(w.checker, w.store, "GET", "Bearer sk_live_nope") == 401, "malformed key");
    CHECK(status(w.checker, w.store, "GET", NULL) == 401, "no key");

    for (int i = 0; i < 3; i++) {
        d = check(w.checker, w.store, "GET", key);
        CHECK(portcullis_decision_status(d) == 200 && portcullis_decision_allowed(d), "request %d allowed", i + 1);
        uint64_t secs = 777;
        CHECK(!portcullis_decision_retry_after(d, &secs) && secs == 777, "no Retry-After when allowed");
        field(d, portcullis_decision_rate_limit_policy, buf, sizeof buf);
        CHECK(strcmp(buf, "\"per_key\";q=10;w=3600") == 0, "RateLimit-Policy: %s", buf);
        field(d, portcullis_decision_rate_limit, buf, sizeof buf);
        char prefix[32];
        snprintf(prefix, sizeof prefix, "\"per_key\";r=%d;t=", 2 - i);
        /* t: the full burst is back after (i + 1) intervals of 360 s, rounded up (a slow run
         * under valgrind may have spent a few seconds of it). */
        long t = t_of(buf);
        CHECK(strncmp(buf, prefix, strlen(prefix)) == 0 && t <= 360L * (i + 1) && t > 360L * (i + 1) - 10,
              "RateLimit %d: %s", i + 1, buf);
        portcullis_decision_free(d);
    }

    d = check(w.checker, w.store, "GET", key);
    CHECK(portcullis_decision_status(d) == 429 && !portcullis_decision_allowed(d), "the 4th is 429: %u",
          portcullis_decision_status(d));
    CHECK(str_is(portcullis_decision_reason(d), "rate_limited"), "reason rate_limited");
    CHECK(str_is(portcullis_decision_error(d), NULL), "no RFC 6750 error code on a 429");
    CHECK(str_is(portcullis_decision_owner(d), "org_1"), "the caller is still known (for logs)");
    uint64_t secs = 0;
    CHECK(portcullis_decision_retry_after(d, &secs) && secs <= 360 && secs > 350, "Retry-After %llu",
          (unsigned long long)secs);
    CHECK(!portcullis_decision_retry_after(d, NULL), "NULL out: false");
    CHECK(!portcullis_decision_retry_after(NULL, &secs), "NULL decision: false");
    field(d, portcullis_decision_rate_limit_policy, buf, sizeof buf);
    CHECK(strcmp(buf, "\"per_key\";q=10;w=3600") == 0, "RateLimit-Policy on the 429: %s", buf);
    field(d, portcullis_decision_rate_limit, buf, sizeof buf);
    long t = t_of(buf);
    CHECK(strncmp(buf, "\"per_key\";r=0;t=", 16) == 0 && t <= 1080 && t > 1070, "RateLimit on the 429: %s", buf);
    field(d, portcullis_decision_www_authenticate, buf, sizeof buf);
    CHECK(strcmp(buf, "") == 0, "no WWW-Authenticate on a 429: %s", buf);
    /* Buffers: too small keeps the length, NULL arguments are refused. */
    char tiny[4];
    size_t len = 0;
    CHECK_RC(portcullis_decision_rate_limit(d, tiny, sizeof tiny, &len), PORTCULLIS_BUFFER_TOO_SMALL);
    CHECK(len == strlen("\"per_key\";r=0;t=") + (t >= 1000 ? 4 : 3), "length reported: %zu", len);
    CHECK_RC(portcullis_decision_rate_limit(d, buf, sizeof buf, NULL), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_decision_rate_limit(NULL, buf, sizeof buf, &len), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_decision_rate_limit_policy(d, buf, sizeof buf, NULL), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_decision_rate_limit_policy(NULL, buf, sizeof buf, &len), PORTCULLIS_NULL_PARAMETER);
    portcullis_decision_free(d);

    /* Another key of the same owner has its own per-key limit. */
    for (int i = 0; i < 3; i++)
        CHECK(status(w.checker, w.store, "GET", other) == 200, "other key %d", i + 1);
    CHECK(status(w.checker, w.store, "GET", other) == 429, "other key's 4th");

    /* The same policy without limits attached applies none. */
    portcullis_checker *plain = NULL;
    CHECK_OK(portcullis_checker_new(w.policy, w.peppers, &plain));
    d = check(plain, w.store, "GET", key);
    CHECK(portcullis_decision_status(d) == 200, "no limits attached: allowed");
    field(d, portcullis_decision_rate_limit_policy, buf, sizeof buf);
    CHECK(strcmp(buf, "") == 0, "no limit reported: %s", buf);
    CHECK(!portcullis_decision_retry_after(d, &secs), "no Retry-After");
    portcullis_decision_free(d);
    portcullis_checker_free(plain);

    /* A second checker on the same limits shares their counts; the limits handle may be
     * freed before the checkers. */
    portcullis_checker *second = NULL;
    CHECK_OK(portcullis_checker_new_with_limits(w.policy, w.peppers, NULL, NULL, w.limits, &second));
    portcullis_limits_free(w.limits);
    w.limits = NULL;
    CHECK(status(second, w.store, "GET", key) == 429, "the second checker sees the first one's count");
    char fresh[160];
    issue(&w, "org_2", READ, NULL, fresh, sizeof fresh);
    CHECK(status(second, w.store, "GET", fresh) == 200 && status(w.checker, w.store, "GET", fresh) == 200 &&
              status(second, w.store, "GET", fresh) == 200 && status(w.checker, w.store, "GET", fresh) == 429,
          "two checkers, one count");
    portcullis_checker_free(second);
    world_free(&w);
}

static void test_per_owner(void) {
    world w = world_new("[[limits]]\nname = \"per_org\"\nper = \"owner\"\nrate = 10\nwindow = 3600\nburst = 3\n");
    char a[160], b[160], c[160];
    issue(&w, "org_1", READ, NULL, a, sizeof a);
    issue(&w, "org_1", READ, NULL, b, sizeof b);
    issue(&w, "org_2", READ, NULL, c, sizeof c);
    CHECK(status(w.checker, w.store, "GET", a) == 200 && status(w.checker, w.store, "GET", b) == 200 &&
              status(w.checker, w.store, "GET", a) == 200,
          "three requests of org_1 through two keys");
    CHECK(status(w.checker, w.store, "GET", b) == 429, "a second key does not mean more quota");
    CHECK(status(w.checker, w.store, "GET", a) == 429, "nor does the first");
    CHECK(status(w.checker, w.store, "GET", c) == 200, "another owner has its own");
    portcullis_decision *d = check(w.checker, w.store, "GET", b);
    char buf[128];
    field(d, portcullis_decision_rate_limit_policy, buf, sizeof buf);
    CHECK(strcmp(buf, "\"per_org\";q=10;w=3600") == 0, "RateLimit-Policy names the owner limit: %s", buf);
    portcullis_decision_free(d);
    world_free(&w);
}

static void test_tiers_and_classes(void) {
    world w = world_new("[[limits]]\nname = \"free\"\nrate = 1\nwindow = 3600\nburst = 1\ntiers = [\"free\"]\n"
                        "[[limits]]\nname = \"writes\"\nrate = 2\nwindow = 3600\nburst = 2\nroutes = \"write\"\n");
    static const char *const BOTH[] = {"claims:read", "claims:write", NULL};
    char free_key[160], paid[160];
    issue(&w, "org_1", BOTH, "{\"tier\":\"free\"}", free_key, sizeof free_key);
    issue(&w, "org_1", BOTH, "{\"tier\":\"pro\"}", paid, sizeof paid);
    CHECK(status(w.checker, w.store, "GET", free_key) == 200, "free tier: one");
    CHECK(status(w.checker, w.store, "GET", free_key) == 429, "free tier: no second");
    for (int i = 0; i < 5; i++) CHECK(status(w.checker, w.store, "GET", paid) == 200, "pro reads are unlimited");
    CHECK(status(w.checker, w.store, "POST", paid) == 200 && status(w.checker, w.store, "POST", paid) == 200,
          "two writes");
    CHECK(status(w.checker, w.store, "POST", paid) == 429, "the third write is limited");
    CHECK(status(w.checker, w.store, "GET", paid) == 200, "reads still allowed");
    world_free(&w);
}

static void test_bad_input(void) {
    portcullis_quota q = {7, 7, 7};
    struct { uint32_t rate, window, burst; const char *code; } bad[] = {
        {0, 1, 1, "bad_rate"},          {1000001, 1, 1, "bad_rate"}, {1, 0, 1, "bad_window"},
        {1, 86401, 1, "bad_window"},    {1, 1, 0, "bad_burst"},      {1, 86400, 100, "bad_burst"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_RC(portcullis_quota_new(bad[i].rate, bad[i].window, bad[i].burst, &q), PORTCULLIS_INVALID_ARGUMENT);
        char detail[256];
        size_t len = 0;
        CHECK_OK(portcullis_last_error(detail, sizeof detail, &len));
        CHECK(strncmp(detail, bad[i].code, strlen(bad[i].code)) == 0, "detail names %s: %s", bad[i].code, detail);
    }
    CHECK(q.rate == 7 && q.window == 7 && q.burst == 7, "quota untouched");
    CHECK_RC(portcullis_quota_new(1, 1, 1, NULL), PORTCULLIS_NULL_PARAMETER);
    /* The widest quota that refills within 50 days, and one request per microsecond. */
    CHECK_OK(portcullis_quota_new(1, 86400, 50, &q));
    CHECK_OK(portcullis_quota_new(1000000, 1, 1, &q));

    portcullis_rate_limiter *limiter = SENTINEL;
    CHECK_RC(portcullis_rate_limiter_new(0, &limiter), PORTCULLIS_INVALID_ARGUMENT);
    CHECK_RC(portcullis_rate_limiter_new((1u << 24) + 1, &limiter), PORTCULLIS_INVALID_ARGUMENT);
    CHECK_RC(portcullis_rate_limiter_new(10, NULL), PORTCULLIS_NULL_PARAMETER);
    CHECK(limiter == SENTINEL, "limiter untouched");
    CHECK_OK(portcullis_rate_limiter_new(10, &limiter));

    portcullis_quota good;
    CHECK_OK(portcullis_quota_new(10, 1, 3, &good));
    portcullis_verdict v, before;
    memset(&v, 0x5a, sizeof v);
    before = v;
    const char *s = "k";
    CHECK_RC(portcullis_rate_limiter_check(NULL, &good, 0, s, 1, 1, 0, &v), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_rate_limiter_check(limiter, NULL, 0, s, 1, 1, 0, &v), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_rate_limiter_check(limiter, &good, 0, NULL, 0, 1, 0, &v), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_rate_limiter_check(limiter, &good, 0, s, 1, 1, 0, NULL), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_rate_limiter_check(limiter, &good, 0, s, HUGE, 1, 0, &v), PORTCULLIS_INVALID_LENGTH);
    /* A quota filled by hand is checked again. */
    portcullis_quota zero = {0, 1, 1}, no_window = {1, 0, 1}, no_burst = {1, 1, 0};
    CHECK_RC(portcullis_rate_limiter_check(limiter, &zero, 0, s, 1, 1, 0, &v), PORTCULLIS_INVALID_ARGUMENT);
    CHECK_RC(portcullis_rate_limiter_check(limiter, &no_window, 0, s, 1, 1, 0, &v), PORTCULLIS_INVALID_ARGUMENT);
    CHECK_RC(portcullis_rate_limiter_check(limiter, &no_burst, 0, s, 1, 1, 0, &v), PORTCULLIS_INVALID_ARGUMENT);
    CHECK(memcmp(&v, &before, sizeof v) == 0, "verdict untouched");
    CHECK_RC(portcullis_rate_limiter_refund(NULL, &good, 0, s, 1, 1, 0), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_rate_limiter_refund(limiter, NULL, 0, s, 1, 1, 0), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_rate_limiter_refund(limiter, &good, 0, NULL, 0, 1, 0), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_rate_limiter_refund(limiter, &good, 0, s, HUGE, 1, 0), PORTCULLIS_INVALID_LENGTH);
    CHECK_RC(portcullis_rate_limiter_refund(limiter, &zero, 0, s, 1, 1, 0), PORTCULLIS_INVALID_ARGUMENT);
    /* An empty subject is a subject. */
    CHECK_OK(portcullis_rate_limiter_check(limiter, &good, 0, "", 0, 1, 0, &v));
    CHECK(v.allowed && v.remaining == 2, "empty subject counted");
    CHECK(portcullis_rate_limiter_saturated(NULL) == 0, "NULL: 0");
    portcullis_rate_limiter_free(limiter);
    portcullis_rate_limiter_free(NULL);

    portcullis_limits *limits = SENTINEL;
    CHECK_RC(portcullis_local_limits_new(0, &limits), PORTCULLIS_INVALID_ARGUMENT);
    CHECK_RC(portcullis_local_limits_new((1u << 24) + 1, &limits), PORTCULLIS_INVALID_ARGUMENT);
    CHECK_RC(portcullis_local_limits_new(10, NULL), PORTCULLIS_NULL_PARAMETER);
    CHECK(limits == SENTINEL, "limits untouched");
    CHECK_OK(portcullis_local_limits_new(10, &limits));
    portcullis_limits_free(NULL);

    portcullis_policy *policy = NULL;
    portcullis_peppers *peppers = NULL;
    CHECK_OK(portcullis_policy_new_from_toml(BASE, strlen(BASE), &policy));
    CHECK_OK(portcullis_peppers_new("p1", 2, PEPPER, sizeof PEPPER, &peppers));
    portcullis_checker *checker = SENTINEL;
    CHECK_RC(portcullis_checker_new_with_limits(NULL, peppers, NULL, NULL, limits, &checker), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_checker_new_with_limits(policy, NULL, NULL, NULL, limits, &checker), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_checker_new_with_limits(policy, peppers, NULL, NULL, NULL, &checker), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_checker_new_with_limits(policy, peppers, NULL, NULL, limits, NULL), PORTCULLIS_NULL_PARAMETER);
    /* A verifier made for another scope catalog is refused. */
    portcullis_access_keys *keys = NULL;
    portcullis_access_verifier *foreign = NULL, *verifier = NULL;
    const char *other_toml = "[service]\n[[scopes]]\nname = \"other:read\"\n";
    portcullis_policy *other = NULL;
    CHECK_OK(portcullis_policy_new_from_toml(other_toml, strlen(other_toml), &other));
    CHECK_OK(portcullis_access_keys_new("k1", 2, PEPPER, sizeof PEPPER, &keys));
    CHECK_OK(portcullis_access_verifier_new(keys, other, &foreign));
    CHECK_OK(portcullis_access_verifier_new(keys, policy, &verifier));
    CHECK_RC(portcullis_checker_new_with_limits(policy, peppers, foreign, NULL, limits, &checker),
             PORTCULLIS_INVALID_ARGUMENT);
    CHECK(checker == SENTINEL, "checker untouched");
    /* Everything at once: a verifier, a usage recorder and limits. */
    portcullis_usage_config config;
    CHECK_OK(portcullis_usage_config_default(&config));
    portcullis_usage_recorder *recorder = NULL;
    CHECK_OK(portcullis_usage_recorder_new(&config, &recorder));
    CHECK_OK(portcullis_checker_new_with_limits(policy, peppers, verifier, recorder, limits, &checker));
    portcullis_checker_free(checker);
    portcullis_usage_recorder_free(recorder);
    portcullis_access_verifier_free(verifier);
    portcullis_access_verifier_free(foreign);
    portcullis_access_keys_free(keys);
    portcullis_policy_free(other);
    portcullis_limits_free(limits);
    portcullis_peppers_free(peppers);
    portcullis_policy_free(policy);
}

int main(void) {
    run_vectors();
    test_refund();
    test_saturation();
    test_per_key();
    test_per_owner();
    test_tiers_and_classes();
    test_bad_input();
    return check_summary("test_limits");
}
