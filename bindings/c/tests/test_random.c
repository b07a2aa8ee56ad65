/* Random and mutated input through every parser of the C API: keys, Authorization
 * headers, query strings, methods and paths, record JSON, policy TOML, requirement
 * expressions. Each call must return one of its documented codes (and, under valgrind
 * and ASan, touch no memory it should not). Deterministic: a fixed seed.
 * usage: test_random POLICY.toml [ITERATIONS] */
#include <stdint.h>

#include "check.h"

#define NOW 1800000000ULL

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t next(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* A copy of `seed` (or random bytes) with a few random edits; length in *len. */
static char *mutate(const char *seed, size_t *len) {
    size_t n = seed ? strlen(seed) : next() % 96;
    char *buf = malloc(n + 16);
    if (seed) memcpy(buf, seed, n);
    else for (size_t i = 0; i < n; i++) buf[i] = (char)next();
    int edits = (int)(next() % 4);
    for (int e = 0; e < edits; e++) {
        uint64_t r = next();
        switch (r % 4) {
        case 0: if (n) buf[(r >> 8) % n] = (char)(r >> 32); break;           /* replace */
        case 1: if (n) n = (r >> 8) % n; break;                              /* truncate */
        case 2: if (n < 80) { buf[n] = "_-=x\xff\0 "[(r >> 8) % 7]; n++; } break; /* append */
        case 3: if (n) buf[(r >> 8) % n] = "_ \t\xc3\0=&"[(r >> 16) % 7]; break; /* special */
        }
    }
    *len = n;
    return buf;
}

static int is_key_code(portcullis_result rc) {
    return rc == PORTCULLIS_OK || (rc >= PORTCULLIS_KEY_SHAPE && rc <= PORTCULLIS_KEY_CHECKSUM);
}

int main(int argc, char **argv) {
    if (argc < 2) return fprintf(stderr, "usage: %s POLICY.toml [ITERATIONS]\n", argv[0]), 2;
    int iterations = argc > 2 ? atoi(argv[2]) : 3000;
    size_t toml_len = 0;
    char *toml = read_file(argv[1], &toml_len);
    CHECK(toml != NULL, "read %s", argv[1]);
    if (toml == NULL) return 1;
    portcullis_policy *policy = NULL;
    portcullis_peppers *peppers = NULL;
    portcullis_checker *checker = NULL;
    portcullis_store *store = NULL;
    CHECK_OK(portcullis_policy_new_from_toml(toml, toml_len, &policy));
    CHECK_OK(portcullis_peppers_new("p1", 2, (const uint8_t *)"0123456789abcdef0123456789abcdef", 32, &peppers));
    CHECK_OK(portcullis_checker_new(policy, peppers, &checker));
    CHECK_OK(portcullis_store_new(&store));
    portcullis_str scope = {"claims:read", 11};
    portcullis_key_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.name = (portcullis_str){"k", 1};
    spec.owner = (portcullis_str){"o", 1};
    spec.scopes = &scope;
    spec.scopes_len = 1;
    portcullis_issued_key *issued = NULL;
    portcullis_record *record = NULL;
    char *json = NULL;
    CHECK_OK(portcullis_checker_issue(checker, &spec, NOW, &issued));
    CHECK_OK(portcullis_issued_key_record(issued, &record));
    CHECK_OK(portcullis_store_insert(store, record));
    CHECK_OK(portcullis_record_to_json(record, &json, NULL));
    char key[128], header[160];
    snprintf(key, sizeof key, "%s", portcullis_issued_key_secret(issued).data);
    snprintf(header, sizeof header, "Bearer %s", key);

    long bad = 0, parsed_ok = 0, parsed_err = 0, allowed = 0, denied = 0;
    for (int it = 0; it < iterations; it++) {
        size_t n;
        char *k = mutate(it % 5 ? key : NULL, &n);
        portcullis_parsed_key parsed;
        portcullis_result rc = portcullis_checker_parse(checker, k, n, &parsed);
        if (!is_key_code(rc)) bad++, fprintf(stderr, "parse: %s\n", portcullis_result_name(rc));
        if (rc == PORTCULLIS_OK) parsed_ok++; else parsed_err++;
        portcullis_decision *d = NULL;
        rc = portcullis_checker_verify(checker, k, n, record, NOW, &d);
        if (rc != PORTCULLIS_OK || (portcullis_decision_status(d) != 200 && portcullis_decision_status(d) != 401)) bad++;
        portcullis_decision_free(d);
        free(k);

        char *h = mutate(it % 7 ? header : NULL, &n);
        size_t qn;
        char *q = mutate(it % 2 ? "a=1&api_key=x" : NULL, &qn);
        portcullis_request req = make_request("GET", "/v1/claims/1", NULL, NULL, it % 3 != 0);
        req.authorization = h;
        req.authorization_len = n;
        if (it % 4 == 0) {
            req.query = q;
            req.query_len = qn;
        }
        d = NULL;
        rc = portcullis_checker_check_store(checker, &req, store, NOW, &d);
        unsigned status = portcullis_decision_status(d);
        if (rc != PORTCULLIS_OK || (status != 200 && status != 400 && status != 401 && status != 403)) bad++;
        if (status == 200) allowed++; else denied++;
        char www[512];
        size_t wl;
        if (portcullis_decision_www_authenticate(d, www, sizeof www, &wl) != PORTCULLIS_OK) bad++;
        portcullis_decision_free(d);
        free(h);
        free(q);

        size_t mn, pn;
        char *m = mutate(it % 2 ? "GET" : NULL, &mn), *p = mutate(it % 3 ? "/v1/claims/{id}" : NULL, &pn);
        req = make_request("GET", "/", header, NULL, true);
        req.method = m;
        req.method_len = mn;
        req.path = p;
        req.path_len = pn;
        d = NULL;
        rc = portcullis_checker_check_store(checker, &req, store, NOW, &d);
        if (rc != PORTCULLIS_OK && rc != PORTCULLIS_INVALID_UTF8) bad++, fprintf(stderr, "check: %s\n", portcullis_result_name(rc));
        portcullis_decision_free(d);
        free(m);
        free(p);

        char *j = mutate(json, &n);
        portcullis_record *r = NULL;
        rc = portcullis_record_new_from_json(j, n, &r);
        if (rc != PORTCULLIS_OK && rc != PORTCULLIS_INVALID_UTF8 && rc != PORTCULLIS_RECORD_BAD_JSON &&
            rc != PORTCULLIS_RECORD_BAD_LABEL && rc != PORTCULLIS_RECORD_BAD_HASH)
            bad++, fprintf(stderr, "record: %s\n", portcullis_result_name(rc));
        portcullis_record_free(r);
        free(j);

        if (it % 10 == 0) {
            char *t = mutate(toml, &n);
            portcullis_policy *pol = NULL;
            rc = portcullis_policy_new_from_toml(t, n, &pol);
            if (rc != PORTCULLIS_OK && rc != PORTCULLIS_INVALID_UTF8 && rc != PORTCULLIS_POLICY_INVALID)
                bad++, fprintf(stderr, "policy: %s\n", portcullis_result_name(rc));
            portcullis_policy_free(pol);
            free(t);
        }

        char *e = mutate(it % 2 ? "(claims:read | full_access) & orders:read" : NULL, &n);
        portcullis_evaluation *ev = NULL;
        rc = portcullis_policy_evaluate(policy, e, n, &scope, 1, &ev);
        if (rc != PORTCULLIS_OK && rc != PORTCULLIS_INVALID_UTF8 && rc != PORTCULLIS_REQUIREMENT_INVALID)
            bad++, fprintf(stderr, "evaluate: %s\n", portcullis_result_name(rc));
        portcullis_evaluation_free(ev);
        free(e);
    }
    CHECK(bad == 0, "%ld calls returned an undocumented code or status", bad);
    CHECK(parsed_ok > 0 && parsed_err > 0 && allowed > 0 && denied > 0,
          "both outcomes exercised: parsed %ld/%ld, allowed %ld/%ld", parsed_ok, parsed_err, allowed, denied);
    printf("random: %d iterations (keys parsed %ld, refused %ld; requests allowed %ld, denied %ld)\n",
           iterations, parsed_ok, parsed_err, allowed, denied);
    portcullis_string_free(json);
    portcullis_record_free(record);
    portcullis_issued_key_free(issued);
    portcullis_store_free(store);
    portcullis_checker_free(checker);
    portcullis_peppers_free(peppers);
    portcullis_policy_free(policy);
    free(toml);
    return check_summary("random");
}
