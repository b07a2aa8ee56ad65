#include <stdio.h>
#include <string.h>
#include "portcullis.h"

/* Copies the text after `key` up to `end` (or the string's end) into out. */
static void pick(const char *text, size_t len, const char *key, char end, char *out, size_t cap) {
    char buf[2048] = "";
    snprintf(buf, sizeof buf, "%.*s", (int)len, text);
    const char *at = strstr(buf, key);
    size_t n = at ? strcspn(at + strlen(key), (char[]){end, '\0'}) : 0;
    snprintf(out, cap, "%.*s", (int)n, at ? at + strlen(key) : "");
}

int main(void) {
    const char *path = "examples/claimport.toml";
    const uint64_t now = 1800000000;
    const uint8_t signing_key[32] = "access-token-key-from-a-vault-32", pepper[32] = "keep-me-in-a-secrets-manager-32b";
    portcullis_policy *policy = NULL;
    portcullis_access_keys *keys = NULL;
    portcullis_access_verifier *verifier = NULL;
    portcullis_peppers *peppers = NULL;
    portcullis_checker *checker = NULL;
    portcullis_oauth_server *server = NULL;
    portcullis_oauth_store *store = NULL;
    portcullis_oauth_client *spa = NULL;
    portcullis_oauth_config config = portcullis_oauth_config_default(); /* secure defaults */
    portcullis_str uris[] = {{"https://spa.example/cb", 22}}, scopes[] = {{"claims:read", 11}};
    portcullis_result rc = portcullis_policy_new_from_file(path, strlen(path), &policy);
    if (!rc) rc = portcullis_access_keys_new("k1", 2, signing_key, 32, &keys);
    if (!rc) rc = portcullis_access_verifier_new(keys, policy, &verifier);
    if (!rc) rc = portcullis_peppers_new("p1", 2, pepper, 32, &peppers);
    if (!rc) rc = portcullis_checker_new_with_access_tokens(policy, peppers, verifier, &checker);
    if (!rc) rc = portcullis_oauth_server_new(&config, policy, verifier, "claimport", 9, &server);
    if (!rc) rc = portcullis_oauth_store_new_memory(&store); /* or _new_callbacks: your database */
    if (!rc) rc = portcullis_oauth_client_new_public("spa", 3, false, uris, 1, scopes, 1, &spa);
    if (!rc) rc = portcullis_oauth_store_add_client(store, spa);
    if (rc) {
        fprintf(stderr, "setup: %s\n", portcullis_result_message(rc));
        return 1;
    }

    /* GET /oauth/authorize?…: validate, then (after login and consent) approve → 302. */
    const char *query = "response_type=code&client_id=spa&redirect_uri=https%3A%2F%2Fspa.example%2Fcb"
                        "&scope=claims:read&state=xyz&code_challenge_method=S256"
                        "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    portcullis_authorization *request = NULL;
    char *location = NULL, code[64] = "", body[256], token[1024] = "", header[1100];
    if (portcullis_oauth_authorize(server, query, strlen(query), store, &request) == PORTCULLIS_OK &&
        portcullis_authorization_kind(request) == PORTCULLIS_AUTHORIZE_VALID &&
        portcullis_oauth_approve(server, request, "user_7", 6, NULL, 0, store, now, &location, NULL) == PORTCULLIS_OK)
        pick(location, strlen(location), "code=", '&', code, sizeof code);
    portcullis_string_free(location); /* holds the code: freed and zeroized */
    portcullis_authorization_free(request);

    /* POST /oauth/token (a public client names itself; confidential ones use HTTP Basic). */
    snprintf(body, sizeof body, "grant_type=authorization_code&client_id=spa&code=%s&redirect_uri="
             "https%%3A%%2F%%2Fspa.example%%2Fcb&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", code);
    portcullis_token_response *response = NULL;
    if (portcullis_oauth_token(server, NULL, 0, body, strlen(body), store, now, &response) == PORTCULLIS_OK) {
        portcullis_str json = portcullis_token_response_body(response); /* send with its headers */
        pick(json.data, json.len, "\"access_token\":\"", '"', token, sizeof token);
    }
    portcullis_token_response_free(response);

    /* Every API request: the access token goes through the same check as API keys. */
    snprintf(header, sizeof header, "Bearer %s", token);
    portcullis_request req = {.method = "GET", .method_len = 3, .path = "/v1/claims/42", .path_len = 13,
                              .authorization = header, .authorization_len = strlen(header), .https = true};
    portcullis_store *api_keys = NULL; /* API keys, as before: none here */
    portcullis_decision *d = NULL;
    if (portcullis_store_new(&api_keys) == PORTCULLIS_OK &&
        portcullis_checker_check_store(checker, &req, api_keys, now, &d) == PORTCULLIS_OK) {
        portcullis_str owner = portcullis_decision_owner(d);
        printf("%u %.*s\n", portcullis_decision_status(d), (int)owner.len, owner.data);
    }
    portcullis_decision_free(d);
    portcullis_store_free(api_keys);
    portcullis_oauth_client_free(spa);
    portcullis_oauth_store_free(store);
    portcullis_oauth_server_free(server);
    portcullis_checker_free(checker);
    portcullis_peppers_free(peppers);
    portcullis_access_verifier_free(verifier);
    portcullis_access_keys_free(keys);
    portcullis_policy_free(policy);
    return 0;
}
