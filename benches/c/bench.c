/* The C ABI check as a C host calls it: portcullis_checker_check_store(_into) on the same
 * policy, pepper, store size and request as the Rust criterion bench `check/allowed`, so
 * `benches/summary.py` can set the two side by side. Prints and writes
 * target/bench-results/c.json: {"c_check_ns": <median ns per call>}. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "portcullis.h"

#define NOW 1800000000ULL

static void must(portcullis_result r, const char *what) {
    if (r != PORTCULLIS_OK) {
        fprintf(stderr, "%s: %s\n", what, portcullis_result_message(r));
        exit(1);
    }
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static char *issue(portcullis_checker *checker, portcullis_store *store, const char *owner, const char *scope) {
    portcullis_str scopes[1] = {{scope, strlen(scope)}};
    portcullis_key_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.name = (portcullis_str){"bench", 5};
    spec.owner = (portcullis_str){owner, strlen(owner)};
    spec.scopes = scopes;
    spec.scopes_len = 1;
    portcullis_issued_key *issued = NULL;
    must(portcullis_checker_issue(checker, &spec, NOW, &issued), "issue");
    portcullis_record *record = NULL;
    must(portcullis_issued_key_record(issued, &record), "record");
    must(portcullis_store_insert(store, record), "insert");
    portcullis_str secret = portcullis_issued_key_secret(issued);
    char *key = malloc(secret.len + 1);
    memcpy(key, secret.data, secret.len);
    key[secret.len] = 0;
    portcullis_record_free(record);
    portcullis_issued_key_free(issued);
    return key;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s POLICY.toml OUT.json\n", argv[0]);
        return 2;
    }
    portcullis_policy *policy = NULL;
    must(portcullis_policy_from_file(argv[1], strlen(argv[1]), &policy), "policy");
    unsigned char pepper[32];
    memset(pepper, 42, sizeof pepper);
    portcullis_peppers *peppers = NULL;
    must(portcullis_peppers_new("p1", 2, pepper, sizeof pepper, &peppers), "peppers");
    portcullis_checker *checker = NULL;
    must(portcullis_checker_new(policy, peppers, &checker), "checker");
    portcullis_store *store = NULL;
    must(portcullis_store_new(&store), "store");
    char owner[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(owner, sizeof owner, "org_%d", i);
        free(issue(checker, store, owner, "orders:read"));
    }
    char *key = issue(checker, store, "org_42", "claims:read");
    char header[128];
    snprintf(header, sizeof header, "Bearer %s", key);
    portcullis_request req;
    memset(&req, 0, sizeof req);
    req.method = "GET";
    req.method_len = 3;
    req.path = "/v1/claims/42";
    req.path_len = strlen(req.path);
    req.authorization = header;
    req.authorization_len = strlen(header);
    req.https = true;

    /* Two ways a host calls it, interleaved round by round: a new decision handle per
     * check (check + status + free), and one handle reused by every check
     * (portcullis_checker_check_store_into, the hot-path call). */
    enum { ROUNDS = 9, CALLS = 200000 };
    double fresh[ROUNDS], reused[ROUNDS];
    portcullis_decision *kept = NULL;
    must(portcullis_checker_check_store(checker, &req, store, NOW, &kept), "check");
    for (int round = -1; round < ROUNDS; round++) {
        double start = now_ns();
        for (int i = 0; i < CALLS; i++) {
            portcullis_decision *d = NULL;
            must(portcullis_checker_check_store(checker, &req, store, NOW, &d), "check");
            if (portcullis_decision_status(d) != 200) {
                fprintf(stderr, "unexpected status %u\n", portcullis_decision_status(d));
                return 1;
            }
            portcullis_decision_free(d);
        }
        double middle = now_ns();
        for (int i = 0; i < CALLS; i++) {
            must(portcullis_checker_check_store_into(checker, &req, store, NOW, kept), "check");
            if (portcullis_decision_status(kept) != 200) {
                fprintf(stderr, "unexpected status %u\n", portcullis_decision_status(kept));
                return 1;
            }
        }
        if (round >= 0) {
            fresh[round] = (middle - start) / CALLS;
            reused[round] = (now_ns() - middle) / CALLS;
        }
    }
    portcullis_decision_free(kept);
    qsort(fresh, ROUNDS, sizeof fresh[0], cmp);
    qsort(reused, ROUNDS, sizeof reused[0], cmp);
    double fresh_median = fresh[ROUNDS / 2], reused_median = reused[ROUNDS / 2];
    printf("C ABI check, one handle reused (portcullis_checker_check_store_into + status): %.1f ns median of %d rounds\n",
           reused_median, ROUNDS);
    printf("C ABI check, a handle per check (portcullis_checker_check_store + status + free): %.1f ns median of %d rounds\n",
           fresh_median, ROUNDS);
    FILE *out = fopen(argv[2], "w");
    if (!out) { perror(argv[2]); return 1; }
    fprintf(out, "{\"c_check_ns\": %.2f, \"c_check_new_handle_ns\": %.2f}\n", reused_median, fresh_median);
    fclose(out);
    free(key);
    portcullis_store_free(store);
    portcullis_checker_free(checker);
    portcullis_peppers_free(peppers);
    portcullis_policy_free(policy);
    return 0;
}
