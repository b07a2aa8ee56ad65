/* The usage recorder through the C ABI: every case of tests/vectors/usage.json (compiled in
 * by gen_vectors.py; each use's raised warnings and each drain's JSON text compared), a
 * checker with a recorder attached (counts, the new_network and after_dormancy warnings on
 * decisions, the client address through both check forms), and every kind of bad input,
 * with out-parameters left untouched on failure. usage: test_usage */
#include <stdint.h>

#include "check.h"
#include "jv.h"

#define HUGE ((size_t)-1)
#define SENTINEL ((void *)0x1)

static const uint8_t PEPPER[32] = "0123456789abcdef0123456789abcdef";
static const char BAD_UTF8[] = "caf\xc3(";

/* A number of the vectors, integer or not. */
static double jv_real(const jv *v) {
    if (v != NULL && v->type == JV_REAL) return strtod(v->str, NULL);
    return v == NULL ? 0 : (double)v->num;
}

/* A list of warning codes as portcullis_warning bits. */
static uint32_t warning_bits(const jv *list) {
    static const struct { const char *code; uint32_t bit; } known[] = {
        {"rotation_due", PORTCULLIS_WARNING_ROTATION_DUE},
        {"expiring_soon", PORTCULLIS_WARNING_EXPIRING_SOON},
        {"credential_in_query", PORTCULLIS_WARNING_CREDENTIAL_IN_QUERY},
        {"needs_rehash", PORTCULLIS_WARNING_NEEDS_REHASH},
        {"unknown_scopes", PORTCULLIS_WARNING_UNKNOWN_SCOPES},
        {"new_network", PORTCULLIS_WARNING_NEW_NETWORK},
        {"after_dormancy", PORTCULLIS_WARNING_AFTER_DORMANCY},
    };
    uint32_t bits = 0;
    for (size_t i = 0; list != NULL && i < list->len; i++) {
        const jv *w = jv_at(list, i);
        size_t k = 0;
        while (k < sizeof known / sizeof known[0] && strcmp(known[k].code, w->str) != 0) k++;
        CHECK(k < sizeof known / sizeof known[0], "a warning the runner does not know: %s", w->str);
        if (k < sizeof known / sizeof known[0]) bits |= known[k].bit;
    }
    return bits;
}

static portcullis_usage_recorder *recorder_of(const jv *config) {
    portcullis_usage_config c;
    CHECK_OK(portcullis_usage_config_default(&c));
    c.max_keys = (size_t)jv_get(config, "max_keys")->num;
    c.learning = (uint64_t)jv_get(config, "learning")->num;
    c.dormancy = (uint64_t)jv_get(config, "dormancy")->num;
    c.burst_threshold = (uint32_t)jv_get(config, "burst_threshold")->num;
    c.burst_window = (uint64_t)jv_get(config, "burst_window")->num;
    c.volume_factor = jv_real(jv_get(config, "volume_factor"));
    c.volume_min_count = (uint64_t)jv_get(config, "volume_min_count")->num;
    c.baseline_hours = (uint32_t)jv_get(config, "baseline_hours")->num;
    portcullis_usage_recorder *r = NULL;
    CHECK_OK(portcullis_usage_recorder_new(&c, &r));
    return r;
}

static void run_vectors(void) {
    const jv *cases = jv_get(&VECTORS_USAGE, "cases");
    CHECK(cases != NULL && cases->len >= 8, "usage vectors present");
    size_t drains = 0, uses = 0;
    for (size_t i = 0; cases != NULL && i < cases->len; i++) {
        const jv *c = jv_at(cases, i), *steps = jv_get(c, "steps");
        const char *name = jv_get(c, "name")->str;
        portcullis_usage_recorder *r = recorder_of(jv_get(c, "config"));
        for (size_t s = 0; r != NULL && s < steps->len; s++) {
            const jv *step = jv_at(steps, s), *rec = jv_get(step, "record");
            if (rec != NULL) {
                const jv *key = jv_get(rec, "key_id"), *use = jv_get(rec, "use");
                const jv *client = jv_get(rec, "client"), *repeat = jv_get(rec, "repeat");
                uint64_t at = (uint64_t)jv_get(rec, "at")->num;
                uint64_t every = jv_is_null(jv_get(rec, "every")) ? 0 : (uint64_t)jv_get(rec, "every")->num;
                long long n = jv_is_null(repeat) ? 1 : repeat->num;
                uint32_t given = warning_bits(jv_get(rec, "warnings")), raised = 0;
                for (long long k = 0; k < n; k++) {
                    uint32_t one = 0xdead;
                    CHECK_OK(portcullis_usage_recorder_record(r, key->str, key->len, use->str, use->len, given,
                                                     jv_is_null(client) ? NULL : client->str,
                                                     jv_is_null(client) ? 0 : client->len,
                                                     at + (uint64_t)k * every, &one));
                    CHECK(one != 0xdead, "raised written");
                    raised |= one;
                    uses++;
                }
                uint32_t expected = warning_bits(jv_get(step, "raised"));
                CHECK(raised == expected, "%s: %s at %llu raised %#x, expected %#x", name, use->str,
                      (unsigned long long)at, raised, expected);
            } else {
                const jv *want = jv_get(step, "batch_json");
                uint64_t at = (uint64_t)jv_get(step, "drain")->num;
                char *json = NULL;
                size_t len = 0;
                CHECK_OK(portcullis_usage_recorder_drain(r, at, &json, &len));
                CHECK(json != NULL && strlen(json) == len, "%s: NUL-terminated drain text", name);
                CHECK(json != NULL && want != NULL && len == want->len && memcmp(json, want->str, len) == 0,
                      "%s: drain at %llu:\n  got      %s\n  expected %.*s", name, (unsigned long long)at,
                      json ? json : "(null)", want ? (int)want->len : 0, want ? want->str : "");
                portcullis_string_free(json);
                drains++;
            }
        }
        portcullis_usage_recorder_free(r);
    }
    /* Eight cases, 25 drains and 858 uses in the committed vectors: all of them ran. */
    CHECK(cases != NULL && cases->len >= 8 && drains >= 25 && uses >= 858, "ran %zu drains and %zu uses",
          drains, uses);
}

static const char POLICY[] =
    "[service]\nrealm = \"api\"\ndeployment_env = \"live\"\n"
    "[[scopes]]\nname = \"claims:read\"\n[[scopes]]\nname = \"claims:write\"\n"
    "[[routes]]\nmethod = \"GET\"\npath = \"/v1/claims\"\nrequire = \"claims:read\"\n"
    "[[routes]]\nmethod = \"POST\"\npath = \"/v1/claims\"\nrequire = \"claims:write\"\n";

/* Whether a decision carries the warning `code`. */
static int has_warning(const portcullis_decision *d, const char *code) {
    for (size_t i = 0; i < portcullis_decision_warnings_len(d); i++)
        if (str_is(portcullis_decision_warning(d, i), code)) return 1;
    return 0;
}

/* A check through the store from `client` (NULL: unknown): the decision (free it). */
static portcullis_decision *check(const portcullis_checker *checker, const portcullis_store *store,
                                  const char *method, const char *header, const char *client, uint64_t now) {
    portcullis_request req = make_request(method, "/v1/claims", header, NULL, true);
    req.client = client;
    req.client_len = client ? strlen(client) : 0;
    portcullis_decision *d = NULL;
    CHECK_OK(portcullis_checker_check_store(checker, &req, store, now, &d));
    return d;
}

/* Drains and checks the text holds each of the `n` fragments. */
static void drain_holds(const portcullis_usage_recorder *r, uint64_t now, const char *const *fragments, size_t n) {
    char *json = NULL;
    CHECK_OK(portcullis_usage_recorder_drain(r, now, &json, NULL));
    for (size_t i = 0; json != NULL && i < n; i++)
        CHECK(strstr(json, fragments[i]) != NULL, "drain holds %s: %s", fragments[i], json);
    portcullis_string_free(json);
}

static void test_checker(void) {
    portcullis_policy *policy = NULL;
    portcullis_peppers *peppers = NULL;
    CHECK_OK(portcullis_policy_new_from_toml(POLICY, strlen(POLICY), &policy));
    CHECK_OK(portcullis_peppers_new("p1", 2, PEPPER, sizeof PEPPER, &peppers));
    portcullis_usage_config config;
    CHECK_OK(portcullis_usage_config_default(&config));
    config.learning = 3600;
    config.dormancy = 86400;
    portcullis_usage_recorder *recorder = NULL;
    CHECK_OK(portcullis_usage_recorder_new(&config, &recorder));

    portcullis_checker *checker = SENTINEL;
    CHECK_RC(portcullis_checker_new_with_usage(NULL, peppers, NULL, recorder, &checker), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_checker_new_with_usage(policy, NULL, NULL, recorder, &checker), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_checker_new_with_usage(policy, peppers, NULL, NULL, &checker), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_checker_new_with_usage(policy, peppers, NULL, recorder, NULL), PORTCULLIS_NULL_PARAMETER);
    CHECK(checker == SENTINEL, "untouched");
    CHECK_OK(portcullis_checker_new_with_usage(policy, peppers, NULL, recorder, &checker));

    /* A key in a store. */
    portcullis_str scopes[] = {cstr("claims:read")};
    portcullis_key_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.name = cstr("usage");
    spec.owner = cstr("org_42");
    spec.scopes = scopes;
    spec.scopes_len = 1;
    portcullis_issued_key *issued = NULL;
    portcullis_record *record = NULL;
    portcullis_store *store = NULL;
    CHECK_OK(portcullis_checker_issue(checker, &spec, NOW, &issued));
    CHECK_OK(portcullis_issued_key_record(issued, &record));
    CHECK_OK(portcullis_store_new(&store));
    CHECK_OK(portcullis_store_insert(store, record));
    char header[160], wrong[160], id[17];
    snprintf(header, sizeof header, "Bearer %s", portcullis_issued_key_secret(issued).data);
    snprintf(wrong, sizeof wrong, "%s", header);
    wrong[strlen(wrong) - 10] = wrong[strlen(wrong) - 10] == 'a' ? 'b' : 'a'; /* secret, not checksum */
    snprintf(id, sizeof id, "%.16s", portcullis_record_id(record).data);
    portcullis_issued_key_free(issued);

    /* Learning: quiet from two networks; counted allowed, refused for scope. */
    portcullis_decision *d = check(checker, store, "GET", header, "203.0.113.5", NOW);
    CHECK(portcullis_decision_status(d) == 200 && portcullis_decision_warnings_len(d) == 0, "allowed, quiet");
    portcullis_decision_free(d);
    d = check(checker, store, "POST", header, "2001:db8:1::1", NOW + 10);
    CHECK(portcullis_decision_status(d) == 403 && !has_warning(d, "new_network"), "scope refusal, learning");
    portcullis_decision_free(d);
    d = check(checker, store, "GET", header, NULL, NOW + 20);
    CHECK(portcullis_decision_status(d) == 200, "no client: still allowed");
    portcullis_decision_free(d);
    /* A key failing its checksum has no record behind it: refused, not counted. */
    d = check(checker, store, "GET", wrong, "192.0.2.1", NOW + 30);
    CHECK(portcullis_decision_status(d) == 401 && str_is(portcullis_decision_reason(d), "malformed_key"),
          "altered key refused");
    portcullis_decision_free(d);
    char hour[64];
    snprintf(hour, sizeof hour, "\"hour\":%llu", (unsigned long long)NOW);
    char key_id[64];
    snprintf(key_id, sizeof key_id, "\"key_id\":\"%s\"", id);
    char first[64];
    snprintf(first, sizeof first, "\"first_used\":%llu", (unsigned long long)NOW);
    const char *counted[] = {key_id, hour, first, "\"allowed\":2,\"denied\":{\"insufficient_scope\":1}",
                             "\"203.0.113.0/24\"", "\"2001:db8:1::/48\"", "\"signals\":[]", "\"dropped\":0"};
    drain_holds(recorder, NOW + 40, counted, sizeof counted / sizeof counted[0]);

    /* After learning: a new network comes back as a warning on the decision and a signal. */
    d = check(checker, store, "GET", header, "203.0.113.77", NOW + 4000);
    CHECK(portcullis_decision_status(d) == 200 && !has_warning(d, "new_network"), "known network: quiet");
    portcullis_decision_free(d);
    d = check(checker, store, "GET", header, "198.51.100.9", NOW + 4001);
    CHECK(portcullis_decision_status(d) == 200 && has_warning(d, "new_network"), "new network warned");
    portcullis_decision_free(d);
    const char *signalled[] = {"\"kind\":\"new_network\"", "\"network\":\"198.51.100.0/24\""};
    drain_holds(recorder, NOW + 4002, signalled, 2);

    /* The two-phase check carries the client to the finish. */
    portcullis_request req = make_request("GET", "/v1/claims", header, NULL, true);
    req.client = "2001:db8:99::1";
    req.client_len = strlen(req.client);
    portcullis_decision *early = NULL;
    portcullis_pending *pending = NULL;
    CHECK_OK(portcullis_checker_prepare(checker, &req, &early, &pending));
    CHECK(early == NULL && pending != NULL, "needs a lookup");
    portcullis_record *copy = NULL;
    CHECK_OK(portcullis_record_clone(record, &copy));
    CHECK_OK(portcullis_pending_finish(pending, copy, NOW + 5000, &d));
    CHECK(portcullis_decision_status(d) == 200 && has_warning(d, "new_network"), "two-phase: new network warned");
    portcullis_decision_free(d);

    /* Dormancy: the next use a day later. */
    d = check(checker, store, "GET", header, "203.0.113.5", NOW + 5000 + 86400);
    CHECK(has_warning(d, "after_dormancy") && !has_warning(d, "new_network"), "after dormancy warned");
    portcullis_decision_free(d);

    /* A client that is not an address, or not UTF-8, is refused before anything is decided. */
    req.client = "203.0.113.5:443";
    req.client_len = strlen(req.client);
    d = SENTINEL;
    CHECK_RC(portcullis_checker_check_store(checker, &req, store, NOW, &d), PORTCULLIS_INVALID_ARGUMENT);
    req.client = BAD_UTF8;
    req.client_len = strlen(BAD_UTF8);
    CHECK_RC(portcullis_checker_check_store(checker, &req, store, NOW, &d), PORTCULLIS_INVALID_UTF8);
    req.client = "203.0.113.5";
    req.client_len = HUGE;
    CHECK_RC(portcullis_checker_check_store(checker, &req, store, NOW, &d), PORTCULLIS_INVALID_LENGTH);
    CHECK(d == SENTINEL, "untouched");
    /* NULL with a length is "unknown": the length is not read. */
    req.client = NULL;
    req.client_len = 7;
    d = NULL;
    CHECK_OK(portcullis_checker_check_store(checker, &req, store, NOW + 5000 + 86401, &d));
    portcullis_decision_free(d);

    portcullis_usage_stats stats;
    CHECK_OK(portcullis_usage_recorder_stats(recorder, &stats));
    CHECK(stats.keys == 1 && stats.max_keys == 10000 && stats.dropped == 0 && stats.evicted == 0,
          "stats %zu %zu", stats.keys, stats.max_keys);

    /* The checker keeps the recorder alive: free the host's handle, keep checking. */
    portcullis_usage_recorder_free(recorder);
    d = check(checker, store, "GET", header, "100.64.0.1", NOW + 5000 + 86402);
    CHECK(portcullis_decision_status(d) == 200 && has_warning(d, "new_network"), "recorder alive in checker");
    portcullis_decision_free(d);
    portcullis_checker_free(checker);

    /* With an access-token verifier: one for this policy's catalog, one for another's. */
    portcullis_access_keys *keys = NULL;
    CHECK_OK(portcullis_access_keys_new("k1", 2, PEPPER, sizeof PEPPER, &keys));
    portcullis_access_verifier *verifier = NULL, *foreign = NULL;
    CHECK_OK(portcullis_access_verifier_new(keys, policy, &verifier));
    const char *other_toml = "[service]\n[[scopes]]\nname = \"other:read\"\n";
    portcullis_policy *other = NULL;
    CHECK_OK(portcullis_policy_new_from_toml(other_toml, strlen(other_toml), &other));
    CHECK_OK(portcullis_access_verifier_new(keys, other, &foreign));
    portcullis_usage_recorder *r2 = NULL;
    CHECK_OK(portcullis_usage_recorder_new(&config, &r2));
    checker = SENTINEL;
    CHECK_RC(portcullis_checker_new_with_usage(policy, peppers, foreign, r2, &checker), PORTCULLIS_INVALID_ARGUMENT);
    CHECK(checker == SENTINEL, "untouched");
    CHECK_OK(portcullis_checker_new_with_usage(policy, peppers, verifier, r2, &checker));
    d = check(checker, store, "GET", header, "203.0.113.5", NOW);
    CHECK(portcullis_decision_status(d) == 200, "API keys still work with access tokens on");
    portcullis_decision_free(d);
    const char *once[] = {"\"allowed\":1"};
    drain_holds(r2, NOW + 1, once, 1);
    portcullis_checker_free(checker);
    portcullis_usage_recorder_free(r2);
    portcullis_access_verifier_free(verifier);
    portcullis_access_verifier_free(foreign);
    portcullis_access_keys_free(keys);
    portcullis_policy_free(other);

    portcullis_record_free(record);
    portcullis_store_free(store);
    portcullis_peppers_free(peppers);
    portcullis_policy_free(policy);
}

static void test_bad_input(void) {
    const char *A = "usageAAAAAAAAAAA";
    CHECK_RC(portcullis_usage_config_default(NULL), PORTCULLIS_NULL_PARAMETER);
    portcullis_usage_config c;
    CHECK_OK(portcullis_usage_config_default(&c));
    CHECK(c.max_keys == 10000 && c.learning == 7 * 86400ULL && c.dormancy == 30 * 86400ULL &&
              c.burst_threshold == 10 && c.burst_window == 600 && c.volume_factor == 10.0 &&
              c.volume_min_count == 1000 && c.baseline_hours == 24,
          "defaults");

    portcullis_usage_recorder *r = SENTINEL;
    CHECK_RC(portcullis_usage_recorder_new(NULL, &r), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_usage_recorder_new(&c, NULL), PORTCULLIS_NULL_PARAMETER);
    struct { const char *code; portcullis_usage_config config; } bad[6];
    for (int i = 0; i < 6; i++) bad[i].config = c;
    bad[0].code = "bad_max_keys", bad[0].config.max_keys = 0;
    bad[1].code = "bad_max_keys", bad[1].config.max_keys = (1u << 20) + 1;
    bad[2].code = "bad_burst_threshold", bad[2].config.burst_threshold = 0;
    bad[3].code = "bad_volume_factor", bad[3].config.volume_factor = 0.5;
    bad[4].code = "bad_volume_factor", bad[4].config.volume_factor = 1.0 / 0.0;
    bad[5].code = "bad_baseline_hours", bad[5].config.baseline_hours = 8761;
    for (int i = 0; i < 6; i++) {
        CHECK_RC(portcullis_usage_recorder_new(&bad[i].config, &r), PORTCULLIS_INVALID_ARGUMENT);
        char detail[256];
        size_t len = 0;
        CHECK_OK(portcullis_last_error(detail, sizeof detail, &len));
        CHECK(strstr(detail, bad[i].code) != NULL, "detail names %s: %s", bad[i].code, detail);
    }
    CHECK(r == SENTINEL, "untouched");
    c.max_keys = 2;
    CHECK_OK(portcullis_usage_recorder_new(&c, &r));

    /* record */
    uint32_t raised = 0xdead;
    CHECK_RC(portcullis_usage_recorder_record(NULL, A, 16, "allowed", 7, 0, NULL, 0, NOW, &raised), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_usage_recorder_record(r, NULL, 16, "allowed", 7, 0, NULL, 0, NOW, &raised), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_usage_recorder_record(r, A, 16, NULL, 7, 0, NULL, 0, NOW, &raised), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_usage_recorder_record(r, "short", 5, "allowed", 7, 0, NULL, 0, NOW, &raised), PORTCULLIS_KEY_LENGTH);
    CHECK_RC(portcullis_usage_recorder_record(r, "usage-AAAAAAAAAA", 16, "allowed", 7, 0, NULL, 0, NOW, &raised),
             PORTCULLIS_KEY_CHARACTER);
    CHECK_RC(portcullis_usage_recorder_record(r, A, HUGE, "allowed", 7, 0, NULL, 0, NOW, &raised), PORTCULLIS_INVALID_LENGTH);
    CHECK_RC(portcullis_usage_recorder_record(r, A, 16, BAD_UTF8, strlen(BAD_UTF8), 0, NULL, 0, NOW, &raised),
             PORTCULLIS_INVALID_UTF8);
    CHECK_RC(portcullis_usage_recorder_record(r, A, 16, "allowed", 7, 1u << 7, NULL, 0, NOW, &raised), PORTCULLIS_INVALID_ARGUMENT);
    CHECK_RC(portcullis_usage_recorder_record(r, A, 16, "allowed", 7, 0, "not an address", 14, NOW, &raised),
             PORTCULLIS_INVALID_ARGUMENT);
    CHECK_RC(portcullis_usage_recorder_record(r, A, 16, "allowed", 7, 0, BAD_UTF8, strlen(BAD_UTF8), NOW, &raised),
             PORTCULLIS_INVALID_UTF8);
    CHECK(raised == 0xdead, "untouched");
    /* Codes that record nothing are no error; neither is a NULL raised_out. */
    CHECK_OK(portcullis_usage_recorder_record(r, A, 16, "unknown_key", 11, 0, NULL, 0, NOW, &raised));
    CHECK(raised == 0, "nothing raised");
    CHECK_OK(portcullis_usage_recorder_record(r, A, 16, "no_such_reason", 14, 0, NULL, 0, NOW, NULL));
    portcullis_usage_stats stats;
    CHECK_OK(portcullis_usage_recorder_stats(r, &stats));
    CHECK(stats.keys == 0, "nothing recorded: %zu keys", stats.keys);
    char *json = SENTINEL;
    size_t len = 7;
    CHECK_OK(portcullis_usage_recorder_drain(r, NOW, &json, &len));
    CHECK(json != NULL && strcmp(json, "{\"dropped\":0,\"keys\":[],\"signals\":[]}") == 0 && len == strlen(json),
          "empty batch: %s", json);
    portcullis_string_free(json);

    /* restore: the networks given back are known after learning; bad networks refuse all. */
    portcullis_str nets[] = {cstr("203.0.113.0/24"), cstr("2001:db8:1::/48")};
    bool restored = false;
    CHECK_RC(portcullis_usage_recorder_restore(NULL, A, 16, NOW, NOW, nets, 2, &restored), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_usage_recorder_restore(r, NULL, 16, NOW, NOW, nets, 2, &restored), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_usage_recorder_restore(r, A, 16, NOW, NOW, NULL, 2, &restored), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_usage_recorder_restore(r, "short", 5, NOW, NOW, nets, 2, &restored), PORTCULLIS_KEY_LENGTH);
    CHECK_RC(portcullis_usage_recorder_restore(r, A, 16, NOW, NOW, nets, HUGE, &restored), PORTCULLIS_INVALID_LENGTH);
    portcullis_str bad_nets[] = {cstr("203.0.113.0/24"), cstr("203.0.113.0/23")};
    CHECK_RC(portcullis_usage_recorder_restore(r, A, 16, NOW, NOW, bad_nets, 2, &restored), PORTCULLIS_INVALID_ARGUMENT);
    portcullis_str null_net[] = {{NULL, 3}};
    CHECK_RC(portcullis_usage_recorder_restore(r, A, 16, NOW, NOW, null_net, 1, &restored), PORTCULLIS_NULL_PARAMETER);
    CHECK(!restored, "untouched");
    CHECK_OK(portcullis_usage_recorder_restore(r, A, 16, NOW, NOW + 10, nets, 2, &restored));
    CHECK(restored, "restored");
    uint64_t later = NOW + c.learning + 100;
    CHECK_OK(portcullis_usage_recorder_record(r, A, 16, "allowed", 7, 0, "2001:db8:1:5::7", 15, later, &raised));
    CHECK(raised == 0, "a restored network is known: %#x", raised);
    CHECK_OK(portcullis_usage_recorder_record(r, A, 16, "allowed", 7, PORTCULLIS_WARNING_ROTATION_DUE, "198.51.100.1", 12,
                                     later + 1, &raised));
    CHECK(raised == PORTCULLIS_WARNING_NEW_NETWORK, "a new one is not: %#x", raised);
    CHECK_OK(portcullis_usage_recorder_restore(r, "usageBBBBBBBBBBB", 16, 0, 0, NULL, 0, NULL));
    /* Two keys fill a table of two: a third has no room. */
    CHECK_OK(portcullis_usage_recorder_restore(r, "usageCCCCCCCCCCC", 16, 0, 0, NULL, 0, &restored));
    CHECK(!restored, "no room");
    CHECK_OK(portcullis_usage_recorder_record(r, "usageCCCCCCCCCCC", 16, "allowed", 7, 0, NULL, 0, later, &raised));
    CHECK(raised == 0, "dropped uses raise nothing");
    CHECK_RC(portcullis_usage_recorder_drain(NULL, NOW, &json, NULL), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_usage_recorder_drain(r, NOW, NULL, NULL), PORTCULLIS_NULL_PARAMETER);
    json = NULL;
    CHECK_OK(portcullis_usage_recorder_drain(r, later + 2, &json, NULL));
    char first[64];
    snprintf(first, sizeof first, "\"first_used\":%llu", (unsigned long long)NOW);
    CHECK(json != NULL && strstr(json, first) != NULL && strstr(json, "\"kind\":\"new_network\"") != NULL &&
              strstr(json, "\"kind\":\"rotation_due\"") != NULL && strstr(json, "\"dropped\":1") != NULL,
          "restored first use, both signals, one dropped: %s", json);
    portcullis_string_free(json);

    /* stats */
    portcullis_usage_stats s2 = {9, 9, 9, 9};
    CHECK_RC(portcullis_usage_recorder_stats(NULL, &s2), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_usage_recorder_stats(r, NULL), PORTCULLIS_NULL_PARAMETER);
    CHECK(s2.keys == 9, "untouched");
    CHECK_OK(portcullis_usage_recorder_stats(r, &s2));
    CHECK(s2.max_keys == 2 && s2.dropped == 1, "stats: max %zu dropped %llu", s2.max_keys,
          (unsigned long long)s2.dropped);

    portcullis_usage_recorder_free(r);
    portcullis_usage_recorder_free(NULL);
}

int main(void) {
    run_vectors();
    test_checker();
    test_bad_input();
    return check_summary("test_usage");
}
