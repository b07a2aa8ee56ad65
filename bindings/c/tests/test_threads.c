/* Several pthreads share one checker and one store and check concurrently (through the
 * store and through a callback), while another thread writes unrelated records: every
 * result must equal the single-threaded one.
 * usage: test_threads POLICY.toml [ITERATIONS] */
#include <pthread.h>
#include <stdint.h>

#include "check.h"

#define THREADS 8
#define KEYS 4
#define REQUESTS 12

typedef struct {
    unsigned status;
    char reason[32];
    char owner[32];
    size_t scopes;
} result;

static portcullis_checker *checker;
static portcullis_store *store;
static char headers[KEYS][160];
static portcullis_request requests[REQUESTS];
static result expected[REQUESTS];
static int iterations = 40;

static void describe(const portcullis_decision *d, result *out) {
    memset(out, 0, sizeof *out);
    out->status = portcullis_decision_status(d);
    portcullis_str r = portcullis_decision_reason(d), o = portcullis_decision_owner(d);
    snprintf(out->reason, sizeof out->reason, "%.*s", (int)r.len, r.data ? r.data : "");
    snprintf(out->owner, sizeof out->owner, "%.*s", (int)o.len, o.data ? o.data : "");
    out->scopes = portcullis_decision_scopes_len(d);
}

static uint32_t from_store(void *user_data, const char *id, size_t len, portcullis_record **out) {
    portcullis_result rc = portcullis_store_get((const portcullis_store *)user_data, id, len, out);
    return rc == PORTCULLIS_STORE_NOT_FOUND ? PORTCULLIS_OK : rc;
}

static int run(size_t i, int via_callback, result *out) {
    portcullis_decision *d = NULL;
    portcullis_result rc = via_callback
        ? portcullis_checker_check(checker, &requests[i], from_store, store, NOW, &d)
        : portcullis_checker_check_store(checker, &requests[i], store, NOW, &d);
    if (rc != PORTCULLIS_OK) return 0;
    describe(d, out);
    portcullis_decision_free(d);
    return 1;
}

static void *reader(void *arg) {
    long mismatches = 0;
    int via_callback = (int)(intptr_t)arg % 2;
    for (int it = 0; it < iterations; it++) {
        for (size_t i = 0; i < REQUESTS; i++) {
            result got;
            if (!run(i, via_callback, &got) || memcmp(&got, &expected[i], sizeof got) != 0) mismatches++;
        }
    }
    return (void *)(intptr_t)mismatches;
}

static void *writer(void *arg) {
    (void)arg;
    long failures = 0;
    portcullis_str scopes[] = {{"orders:read", 11}};
    portcullis_key_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.name = (portcullis_str){"writer", 6};
    spec.owner = (portcullis_str){"org_w", 5};
    spec.scopes = scopes;
    spec.scopes_len = 1;
    for (int it = 0; it < iterations; it++) {
        portcullis_issued_key *k = NULL;
        portcullis_record *r = NULL;
        if (portcullis_checker_issue(checker, &spec, NOW, &k) != PORTCULLIS_OK ||
            portcullis_issued_key_record(k, &r) != PORTCULLIS_OK || portcullis_store_insert(store, r) != PORTCULLIS_OK)
            failures++;
        portcullis_str id = portcullis_record_id(r);
        if (it % 2 == 0 && portcullis_store_revoke(store, id.data, id.len, NOW) != PORTCULLIS_OK) failures++;
        portcullis_record_free(r);
        portcullis_issued_key_free(k);
    }
    return (void *)(intptr_t)failures;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s POLICY.toml [ITERATIONS]\n", argv[0]);
        return 2;
    }
    if (argc > 2) iterations = atoi(argv[2]);
    portcullis_policy *policy = NULL;
    portcullis_peppers *peppers = NULL;
    CHECK_OK(portcullis_policy_new_from_file(argv[1], strlen(argv[1]), &policy));
    CHECK_OK(portcullis_peppers_new("p1", 2, (const uint8_t *)"0123456789abcdef0123456789abcdef", 32, &peppers));
    CHECK_OK(portcullis_checker_new(policy, peppers, &checker));
    portcullis_peppers_free(peppers);
    portcullis_policy_free(policy);
    CHECK_OK(portcullis_store_new(&store));

    const char *grants[KEYS] = {"claims:read", "claims:write", "full_access", "orders:read"};
    for (int k = 0; k < KEYS; k++) {
        portcullis_str scope = {grants[k], strlen(grants[k])};
        portcullis_key_spec spec;
        memset(&spec, 0, sizeof spec);
        spec.name = (portcullis_str){"key", 3};
        spec.owner = (portcullis_str){grants[k], strlen(grants[k])};
        spec.scopes = &scope;
        spec.scopes_len = 1;
        portcullis_issued_key *issued = NULL;
        portcullis_record *record = NULL;
        CHECK_OK(portcullis_checker_issue(checker, &spec, NOW - 86400, &issued));
        CHECK_OK(portcullis_issued_key_record(issued, &record));
        CHECK_OK(portcullis_store_insert(store, record));
        snprintf(headers[k], sizeof headers[k], "Bearer %s", portcullis_issued_key_secret(issued).data);
        if (k == 3) { /* a revoked key */
            portcullis_str id = portcullis_record_id(record);
            CHECK_OK(portcullis_store_revoke(store, id.data, id.len, NOW - 1));
        }
        portcullis_record_free(record);
        portcullis_issued_key_free(issued);
    }
    const char *paths[3][2] = {{"GET", "/v1/claims/7"}, {"POST", "/v1/claims"}, {"DELETE", "/v1/claims/7"}};
    for (size_t i = 0; i < REQUESTS; i++)
        requests[i] = make_request(paths[i % 3][0], paths[i % 3][1], headers[i / 3], NULL, true);
    for (size_t i = 0; i < REQUESTS; i++) CHECK(run(i, 0, &expected[i]), "reference %zu", i);
    CHECK(expected[0].status == 200 && expected[1].status == 403 && expected[8].status == 200 &&
              expected[9].status == 401, "reference results vary: %u %u %u %u",
          expected[0].status, expected[1].status, expected[8].status, expected[9].status);

    pthread_t threads[THREADS + 1];
    for (intptr_t t = 0; t < THREADS; t++) CHECK(pthread_create(&threads[t], NULL, reader, (void *)t) == 0, "spawn");
    CHECK(pthread_create(&threads[THREADS], NULL, writer, NULL) == 0, "spawn writer");
    for (int t = 0; t <= THREADS; t++) {
        void *ret = NULL;
        pthread_join(threads[t], &ret);
        CHECK((intptr_t)ret == 0, "thread %d: %ld mismatches", t, (long)(intptr_t)ret);
    }
    CHECK(portcullis_store_len(store) == (size_t)(KEYS + iterations), "writer's records all stored");
    printf("threads: %d readers x %d iterations x %d requests, plus a writer\n", THREADS, iterations, REQUESTS);
    portcullis_store_free(store);
    portcullis_checker_free(checker);
    return check_summary("threads");
}
