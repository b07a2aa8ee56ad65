/* Fleet limits through the C ABI (issue #21): portcullis_fleet_limits_new on a real Redis
 * (started by run-tests.sh on a free loopback port) behind portcullis_checker_new_with_limits:
 * a per-key limit's 429 with Retry-After, a key's credits shared exactly by two fleet limits
 * (two processes), 429 credits_exhausted with portcullis_decision_credits_remaining and the
 * refill's Retry-After; a Redis that does not answer is 503 limiter_unavailable, never an
 * allow; bad URLs and arguments. Without a URL (redis-server could not be installed) only
 * the tests that need no Redis run.
 * usage: test_fleet_limits [REDIS_URL] */
#define _DEFAULT_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

#define SENTINEL ((void *)0x5e)

static const uint8_t PEPPER[32] = "0123456789abcdef0123456789abcdef";

static const char POLICY[] =
    "[service]\nrealm = \"api\"\ndeployment_env = \"live\"\n"
    "[[scopes]]\nname = \"claims:read\"\n"
    "[[routes]]\nmethod = \"GET\"\npath = \"/v1/claims\"\nrequire = \"claims:read\"\n"
    "[[limits]]\nname = \"per_key\"\nrate = 10\nwindow = 3600\nburst = 3\n";

/* The detail of the last failure on this thread (a static buffer). */
static const char *detail(void) {
    static char buf[1024];
    size_t len = 0;
    if (portcullis_last_error(buf, sizeof buf, &len) != PORTCULLIS_OK) buf[0] = '\0';
    return buf;
}

/* A loopback URL on which nothing listens: a free port, bound and released. */
static void dead_url(char *url, size_t cap) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
              getsockname(fd, (struct sockaddr *)&addr, &len) == 0,
          "a free port");
    snprintf(url, cap, "redis://127.0.0.1:%u", (unsigned)ntohs(addr.sin_port));
    if (fd >= 0) close(fd);
}

typedef struct {
    portcullis_policy *policy;
    portcullis_peppers *peppers;
    portcullis_store *store;
} world;

static world world_new(void) {
    world w;
    memset(&w, 0, sizeof w);
    CHECK_OK(portcullis_policy_new_from_toml(POLICY, strlen(POLICY), &w.policy));
    CHECK_OK(portcullis_peppers_new("p1", 2, PEPPER, sizeof PEPPER, &w.peppers));
    CHECK_OK(portcullis_store_new(&w.store));
    return w;
}

static void world_free(world *w) {
    portcullis_store_free(w->store);
    portcullis_peppers_free(w->peppers);
    portcullis_policy_free(w->policy);
}

/* A checker counting in fleet limits on `url` (budget 1 s: valgrind is slow, and this
 * tests answers, not speed). */
static portcullis_checker *fleet_checker(const world *w, const char *url) {
    portcullis_limits *limits = NULL;
    CHECK_OK(portcullis_fleet_limits_new(url, strlen(url), 0, 1000, 0, 0, &limits));
    portcullis_checker *checker = NULL;
    CHECK_OK(portcullis_checker_new_with_limits(w->policy, w->peppers, NULL, NULL, limits, &checker));
    /* The checker keeps its own reference. */
    portcullis_limits_free(limits);
    return checker;
}

/* Issues a key of org_1 with `metadata_json` (NULL: none); writes "Bearer <key>". */
static void issue(const world *w, const portcullis_checker *checker, const char *metadata_json, char *header,
                  size_t cap) {
    portcullis_str scope = cstr("claims:read");
    portcullis_key_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.name = cstr("fleet");
    spec.owner = cstr("org_1");
    spec.scopes = &scope;
    spec.scopes_len = 1;
    if (metadata_json != NULL) spec.metadata_json = cstr(metadata_json);
    portcullis_issued_key *issued = NULL;
    portcullis_record *record = NULL;
    CHECK_OK(portcullis_checker_issue(checker, &spec, NOW, &issued));
    CHECK_OK(portcullis_issued_key_record(issued, &record));
    CHECK_OK(portcullis_store_insert(w->store, record));
    snprintf(header, cap, "Bearer %s", portcullis_issued_key_secret(issued).data);
    portcullis_record_free(record);
    portcullis_issued_key_free(issued);
}

static portcullis_decision *check(const portcullis_checker *checker, const world *w, const char *header) {
    portcullis_request req = make_request("GET", "/v1/claims", header, NULL, true);
    portcullis_decision *d = NULL;
    CHECK_OK(portcullis_checker_check_store(checker, &req, w->store, NOW, &d));
    return d;
}

static void test_rate_limit(const char *url) {
    world w = world_new();
    portcullis_checker *a = fleet_checker(&w, url), *b = fleet_checker(&w, url);
    char key[160];
    issue(&w, a, NULL, key, sizeof key);
    /* Burst 3 across two processes of the fleet: three allowed in all, then 429. */
    const portcullis_checker *turn[] = {a, b, a};
    for (int i = 0; i < 3; i++) {
        portcullis_decision *d = check(turn[i], &w, key);
        uint32_t credits = 77;
        CHECK(portcullis_decision_status(d) == 200, "request %d allowed: %u", i + 1, portcullis_decision_status(d));
        CHECK(!portcullis_decision_credits_remaining(d, &credits) && credits == 77, "a key without credits");
        portcullis_decision_free(d);
    }
    portcullis_decision *d = check(b, &w, key);
    CHECK(portcullis_decision_status(d) == 429 && str_is(portcullis_decision_reason(d), "rate_limited"),
          "the 4th, through the other process, is 429 rate_limited: %u", portcullis_decision_status(d));
    uint64_t secs = 0;
    CHECK(portcullis_decision_retry_after(d, &secs) && secs > 0 && secs <= 360, "Retry-After %llu",
          (unsigned long long)secs);
    portcullis_decision_free(d);
    portcullis_checker_free(a);
    portcullis_checker_free(b);
    world_free(&w);
}

static void test_credits(const char *url) {
    world w = world_new();
    portcullis_checker *a = fleet_checker(&w, url), *b = fleet_checker(&w, url);
    char key[160];
    issue(&w, a, "{\"credits\":{\"amount\":5,\"refill\":\"daily\"}}", key, sizeof key);
    /* Under the per-key limit (burst 3) and five credits, through two processes: the limit
     * refuses the 4th request first, and a refused request spends no credit. */
    int allowed = 0, exhausted = 0;
    for (int i = 0; i < 8; i++) {
        const portcullis_checker *c = i % 2 ? b : a;
        portcullis_decision *d = check(c, &w, key);
        unsigned s = portcullis_decision_status(d);
        uint32_t left = 99;
        int has = portcullis_decision_credits_remaining(d, &left);
        if (s == 200) {
            allowed++;
            CHECK(has && left == (uint32_t)(5 - allowed), "credits left %u after %d", left, allowed);
        } else if (s == 429 && str_is(portcullis_decision_reason(d), "credits_exhausted")) {
            exhausted++;
            CHECK(has && left == 0, "none left on the 429");
            uint64_t secs = 0;
            /* NOW is 2027-01-15 08:00 UTC: the credits come back at midnight, 16 h on. */
            CHECK(portcullis_decision_retry_after(d, &secs) && secs == 57600, "Retry-After %llu",
                  (unsigned long long)secs);
        } else if (s == 429) {
            /* The per-key rate limit (burst 3) may refuse first: that spends no credit. */
            CHECK(str_is(portcullis_decision_reason(d), "rate_limited"), "429 for a limit or credits");
            CHECK(!has, "a rate-limited request spends no credit");
        } else {
            CHECK(0, "status %u", s);
        }
        portcullis_decision_free(d);
    }
    CHECK(allowed == 3 && exhausted == 0, "allowed %d, exhausted %d", allowed, exhausted);
    portcullis_checker_free(a);
    portcullis_checker_free(b);
    world_free(&w);

    /* Without the rate limit: the credits alone, exactly five of eight across the fleet. */
    static const char NO_LIMITS[] =
        "[service]\nrealm = \"api\"\ndeployment_env = \"live\"\n"
        "[[scopes]]\nname = \"claims:read\"\n"
        "[[routes]]\nmethod = \"GET\"\npath = \"/v1/claims\"\nrequire = \"claims:read\"\n";
    w = world_new();
    portcullis_policy_free(w.policy);
    CHECK_OK(portcullis_policy_new_from_toml(NO_LIMITS, strlen(NO_LIMITS), &w.policy));
    a = fleet_checker(&w, url);
    b = fleet_checker(&w, url);
    issue(&w, a, "{\"credits\":{\"amount\":5,\"refill\":\"daily\"}}", key, sizeof key);
    allowed = exhausted = 0;
    for (int i = 0; i < 8; i++) {
        portcullis_decision *d = check(i % 2 ? b : a, &w, key);
        uint32_t left = 99;
        int has = portcullis_decision_credits_remaining(d, &left);
        if (portcullis_decision_status(d) == 200) {
            allowed++;
            CHECK(has && left == (uint32_t)(5 - allowed), "credits left %u after %d", left, allowed);
        } else {
            exhausted++;
            CHECK(portcullis_decision_status(d) == 429 && str_is(portcullis_decision_reason(d), "credits_exhausted"),
                  "429 credits_exhausted: %u", portcullis_decision_status(d));
            CHECK(has && left == 0, "none left");
        }
        portcullis_decision_free(d);
    }
    CHECK(allowed == 5 && exhausted == 3, "exactly five credits across two processes: %d, %d", allowed, exhausted);
    CHECK(!portcullis_decision_credits_remaining(NULL, NULL), "NULL decision: false");
    portcullis_checker_free(a);
    portcullis_checker_free(b);
    world_free(&w);
}

/* Redis not answering: 503 limiter_unavailable with a Retry-After, for limits and credits. */
static void test_redis_down(void) {
    char url[64];
    dead_url(url, sizeof url);
    world w = world_new();
    portcullis_limits *limits = NULL;
    CHECK_OK(portcullis_fleet_limits_new(url, strlen(url), 0, 0, 0, 0, &limits));
    portcullis_checker *checker = NULL;
    CHECK_OK(portcullis_checker_new_with_limits(w.policy, w.peppers, NULL, NULL, limits, &checker));
    char plain[160], credited[160];
    issue(&w, checker, NULL, plain, sizeof plain);
    issue(&w, checker, "{\"credits\":{\"amount\":1000}}", credited, sizeof credited);
    for (int i = 0; i < 20; i++) {
        portcullis_decision *d = check(checker, &w, i % 2 ? plain : credited);
        CHECK(portcullis_decision_status(d) == 503 && !portcullis_decision_allowed(d) &&
                  str_is(portcullis_decision_reason(d), "limiter_unavailable"),
              "request %d: 503 limiter_unavailable, never an allow: %u", i, portcullis_decision_status(d));
        uint64_t secs = 0;
        CHECK(portcullis_decision_retry_after(d, &secs) && secs >= 1, "Retry-After %llu", (unsigned long long)secs);
        portcullis_decision_free(d);
    }
    portcullis_checker_free(checker);
    portcullis_limits_free(limits);
    world_free(&w);
}

static void test_bad_input(void) {
    portcullis_limits *limits = SENTINEL;
    static const char *const OFF_MACHINE[] = {
        "redis://:s3cret-pw@10.0.0.5:6379", "rediss://127.0.0.1:6380", "http://127.0.0.1:6379",
        "redis://cache.example:6379",
    };
    for (size_t i = 0; i < sizeof OFF_MACHINE / sizeof OFF_MACHINE[0]; i++) {
        const char *url = OFF_MACHINE[i];
        CHECK_RC(portcullis_fleet_limits_new(url, strlen(url), 0, 0, 0, 0, &limits),
                 PORTCULLIS_DATABASE_STORE_BAD_URL);
        CHECK(strncmp(detail(), "store_bad_url", 13) == 0 && strstr(detail(), "s3cret") == NULL,
              "%s: a bad URL, the password never shown: %s", url, detail());
    }
    CHECK(limits == SENTINEL, "untouched on failure");
    CHECK_RC(portcullis_fleet_limits_new("\xff", 1, 0, 0, 0, 0, &limits), PORTCULLIS_INVALID_UTF8);
    CHECK_RC(portcullis_fleet_limits_new(NULL, 5, 0, 0, 0, 0, &limits), PORTCULLIS_NULL_PARAMETER);
    CHECK(limits == SENTINEL, "untouched on failure");
    CHECK_RC(portcullis_fleet_limits_new("redis://127.0.0.1:9", 19, 0, 0, 0, 0, NULL), PORTCULLIS_NULL_PARAMETER);
    /* Degrade to a local share (2 processes): made, and freed. */
    CHECK_OK(portcullis_fleet_limits_new("redis://127.0.0.1:9", 19, 1, 1, 100, 2, &limits));
    portcullis_limits_free(limits);
    portcullis_limits_free(NULL);
}

int main(int argc, char **argv) {
    test_bad_input();
    test_redis_down();
    if (argc > 1 && argv[1][0] != '\0') {
        test_rate_limit(argv[1]);
        test_credits(argv[1]);
    } else {
        printf("\n!!! SKIPPED: the fleet-limit tests on Redis (no Redis URL: redis-server could not be installed) !!!\n\n");
    }
    return check_summary("test_fleet_limits");
}
