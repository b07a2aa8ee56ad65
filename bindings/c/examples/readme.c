#include <stdio.h>
#include <string.h>
#include "portcullis.h"

int main(void) {
    const char *path = "examples/claimport.toml";
    const uint8_t pepper[32] = "keep-me-in-a-secrets-manager-32b";
    portcullis_policy *policy = NULL;
    portcullis_peppers *peppers = NULL;
    portcullis_checker *checker = NULL;
    portcullis_store *store = NULL;
    portcullis_result rc = portcullis_policy_new_from_file(path, strlen(path), &policy);
    if (rc == PORTCULLIS_OK) rc = portcullis_peppers_new("p1", 2, pepper, sizeof pepper, &peppers);
    if (rc == PORTCULLIS_OK) rc = portcullis_checker_new(policy, peppers, &checker);
    if (rc == PORTCULLIS_OK) rc = portcullis_store_new(&store);
    portcullis_policy_free(policy); portcullis_peppers_free(peppers); /* the checker copied them */
    if (rc != PORTCULLIS_OK) {
        fprintf(stderr, "setup: %s\n", portcullis_result_message(rc));
        return 1;
    }

    /* Issue a key: show the plaintext once, store only the record (JSON, a hash). */
    portcullis_str scopes[] = {{"claims:read", 11}};
    portcullis_key_spec spec = {.name = {"Production Integration", 22}, .owner = {"org_42", 6},
                                .scopes = scopes, .scopes_len = 1};
    portcullis_issued_key *issued = NULL;
    portcullis_record *record = NULL;
    char header[128] = "";
    if (portcullis_checker_issue(checker, &spec, 1800000000, &issued) == PORTCULLIS_OK &&
        portcullis_issued_key_record(issued, &record) == PORTCULLIS_OK &&
        portcullis_store_insert(store, record) == PORTCULLIS_OK)
        snprintf(header, sizeof header, "Bearer %s", portcullis_issued_key_secret(issued).data);
    portcullis_record_free(record); portcullis_issued_key_free(issued);

    /* In the request handler: one call, one decision. */
    portcullis_request req = {.method = "GET", .method_len = 3, .path = "/v1/claims/42",
                              .path_len = 13, .authorization = header,
                              .authorization_len = strlen(header), .https = true};
    portcullis_decision *d = NULL;
    if (portcullis_checker_check_store(checker, &req, store, 1800000000, &d) == PORTCULLIS_OK) {
        portcullis_str owner = portcullis_decision_owner(d);
        printf("%u %.*s\n", portcullis_decision_status(d), (int)owner.len, owner.data);
        portcullis_decision_free(d);
    }
    portcullis_store_free(store); portcullis_checker_free(checker);
    return 0;
}
