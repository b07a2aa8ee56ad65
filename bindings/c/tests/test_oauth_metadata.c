/* RFC 8414 metadata and RFC 9207 `iss` through the C API: the document reflects the
 * configuration, a bad issuer or endpoint is PORTCULLIS_INVALID_ARGUMENT, every
 * authorization redirect carries `iss` when an issuer is set. */
#include <stdint.h>

#include "check.h"

#define ISSUER "https://app.claimport.io"
#define REDIRECT "https://partner.example/cb"

/* Whether a borrowed (not NUL-terminated) string contains `needle`. */
static int contains(portcullis_str s, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; s.data != NULL && i + n <= s.len; i++) {
        if (memcmp(s.data + i, needle, n) == 0) return 1;
    }
    return 0;
}

typedef struct {
    portcullis_policy *policy;
    portcullis_access_verifier *verifier;
} base;

static void make_base(base *b, const char *policy_path) {
    memset(b, 0, sizeof *b);
    CHECK_OK(portcullis_policy_new_from_file(policy_path, strlen(policy_path), &b->policy));
    uint8_t key[32];
    memset(key, 7, sizeof key);
    portcullis_access_keys *keys = NULL;
    CHECK_OK(portcullis_access_keys_new("k1", 2, key, sizeof key, &keys));
    CHECK_OK(portcullis_access_verifier_new(keys, b->policy, &b->verifier));
    portcullis_access_keys_free(keys);
}

static portcullis_oauth_endpoints endpoints(void) {
    portcullis_oauth_endpoints e;
    e.authorization = cstr("https://app.claimport.io/oauth/authorize");
    e.token = cstr("https://api.claimport.io/oauth/token");
    e.revocation = cstr("https://api.claimport.io/oauth/revoke");
    e.introspection = cstr(NULL);
    return e;
}

static void metadata_reflects_the_configuration(const base *b) {
    portcullis_oauth_config config = portcullis_oauth_config_default();
    CHECK(config.issuer.data == NULL, "no issuer by default");
    portcullis_oauth_server *server = NULL;
    CHECK_OK(portcullis_oauth_server_new(&config, b->policy, b->verifier, "claimport", 9, &server));
    portcullis_oauth_endpoints e = endpoints();
    char *json = (char *)"untouched";
    CHECK_RC(portcullis_oauth_server_metadata(server, &e, &json, NULL), PORTCULLIS_INVALID_ARGUMENT);
    CHECK(strcmp(json, "untouched") == 0, "out-parameter written only on success");
    portcullis_oauth_server_free(server);

    config.issuer = cstr(ISSUER);
    config.allow_body_credentials = true;
    CHECK_OK(portcullis_oauth_server_new(&config, b->policy, b->verifier, "claimport", 9, &server));
    size_t len = 0;
    json = NULL;
    CHECK_OK(portcullis_oauth_server_metadata(server, &e, &json, &len));
    CHECK(json != NULL && strlen(json) == len, "document and its length");
    const char *expected[] = {
        "\"issuer\": \"" ISSUER "\"",
        "\"token_endpoint\": \"https://api.claimport.io/oauth/token\"",
        "\"revocation_endpoint\": \"https://api.claimport.io/oauth/revoke\"",
        "\"client_secret_post\"",
        "\"claims:write\"",
        "\"authorization_response_iss_parameter_supported\": true",
    };
    for (size_t i = 0; json != NULL && i < sizeof expected / sizeof *expected; i++) {
        CHECK(strstr(json, expected[i]) != NULL, "metadata has %s:\n%s", expected[i], json);
    }
    CHECK(json != NULL && strstr(json, "introspection_endpoint") == NULL && strstr(json, "\"plain\"") == NULL,
          "no introspection endpoint given, no plain PKCE: %s", json);
    portcullis_string_free(json);

    /* Endpoints: https only, required ones present. */
    portcullis_oauth_endpoints bad = endpoints();
    bad.token = cstr("http://api.claimport.io/oauth/token");
    json = NULL;
    CHECK_RC(portcullis_oauth_server_metadata(server, &bad, &json, NULL), PORTCULLIS_INVALID_ARGUMENT);
    CHECK(json == NULL, "nothing written on failure");
    bad = endpoints();
    bad.token = cstr(NULL);
    CHECK_RC(portcullis_oauth_server_metadata(server, &bad, &json, NULL), PORTCULLIS_NULL_PARAMETER);
    bad = endpoints();
    bad.authorization.data = "\xff";
    bad.authorization.len = 1;
    CHECK_RC(portcullis_oauth_server_metadata(server, &bad, &json, NULL), PORTCULLIS_INVALID_UTF8);
    CHECK_RC(portcullis_oauth_server_metadata(NULL, &e, &json, NULL), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_oauth_server_metadata(server, NULL, &json, NULL), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_oauth_server_metadata(server, &e, NULL, NULL), PORTCULLIS_NULL_PARAMETER);
    portcullis_oauth_server_free(server);
}

static void a_bad_issuer_fails_server_new(const base *b) {
    const char *issuers[] = {"http://app.claimport.io", "https://app.claimport.io?x=1",
                             "https://app.claimport.io#f", "app.claimport.io"};
    for (size_t i = 0; i < sizeof issuers / sizeof *issuers; i++) {
        portcullis_oauth_config config = portcullis_oauth_config_default();
        config.issuer = cstr(issuers[i]);
        portcullis_oauth_server *server = NULL;
        CHECK_RC(portcullis_oauth_server_new(&config, b->policy, b->verifier, "claimport", 9, &server),
                 PORTCULLIS_INVALID_ARGUMENT);
        CHECK(server == NULL, "no server for issuer %s", issuers[i]);
        portcullis_oauth_server_free(server);
    }
}

static void every_authorization_redirect_carries_iss(const base *b) {
    portcullis_oauth_config config = portcullis_oauth_config_default();
    config.issuer = cstr(ISSUER);
    config.require_pkce_for_confidential = false;
    portcullis_oauth_server *server = NULL;
    CHECK_OK(portcullis_oauth_server_new(&config, b->policy, b->verifier, "claimport", 9, &server));
    portcullis_str uris[] = {cstr(REDIRECT)}, scopes[] = {cstr("claims:read"), cstr("claims:write")};
    portcullis_oauth_client *client = NULL;
    char *secret = NULL;
    CHECK_OK(portcullis_oauth_client_new_confidential("YOUR_CLIENT_ID", 14, uris, 1, scopes, 2, &client, &secret, NULL));
    portcullis_oauth_store *store = NULL;
    CHECK_OK(portcullis_oauth_store_new_memory(&store));
    CHECK_OK(portcullis_oauth_store_add_client(store, client));
    /* The product's documented authorize URL: no PKCE, no state. */
    const char *query = "client_id=YOUR_CLIENT_ID&redirect_uri=https%3A%2F%2Fpartner.example%2Fcb"
                        "&response_type=code&scope=claims:read%20claims:write";
    portcullis_authorization *a = NULL;
    CHECK_OK(portcullis_oauth_authorize(server, query, strlen(query), store, &a));
    CHECK(portcullis_authorization_kind(a) == PORTCULLIS_AUTHORIZE_VALID, "documented URL valid for a confidential client");
    char *location = NULL;
    CHECK_OK(portcullis_oauth_approve(server, a, "user_7", 6, NULL, 0, store, NOW, &location, NULL));
    CHECK(location != NULL && strstr(location, "&iss=https%3A%2F%2Fapp.claimport.io") != NULL,
          "code redirect carries iss: %s", location ? location : "(null)");
    portcullis_string_free(location);
    portcullis_authorization_free(a);

    const char *wrong = "client_id=YOUR_CLIENT_ID&redirect_uri=https%3A%2F%2Fpartner.example%2Fcb"
                        "&response_type=token&scope=claims:read";
    CHECK_OK(portcullis_oauth_authorize(server, wrong, strlen(wrong), store, &a));
    CHECK(portcullis_authorization_kind(a) == PORTCULLIS_AUTHORIZE_REDIRECT, "error redirect");
    portcullis_str loc = portcullis_authorization_location(a);
    CHECK(contains(loc, "&iss=https%3A%2F%2Fapp.claimport.io"), "error redirect carries iss");
    portcullis_authorization_free(a);

    portcullis_string_free(secret);
    portcullis_oauth_client_free(client);
    portcullis_oauth_store_free(store);
    portcullis_oauth_server_free(server);
}

static void the_policys_settings_plus_an_issuer(const base *b) {
    portcullis_oauth_config config;
    memset(&config, 0xAB, sizeof config);
    CHECK_RC(portcullis_oauth_config_from_policy(NULL, &config), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_oauth_config_from_policy(b->policy, NULL), PORTCULLIS_NULL_PARAMETER);
    CHECK_OK(portcullis_oauth_config_from_policy(b->policy, &config));
    /* ClaimPort's [oauth]: body credentials, PKCE optional for confidential clients. */
    CHECK(config.allow_body_credentials && !config.require_pkce_for_confidential && !config.allow_plain_pkce &&
              config.access_ttl == 3600 && config.default_scope.data == NULL && config.issuer.data == NULL,
          "the policy's settings");
    config.issuer = cstr(ISSUER);
    portcullis_oauth_server *server = NULL;
    CHECK_OK(portcullis_oauth_server_new(&config, b->policy, b->verifier, "claimport", 9, &server));
    portcullis_oauth_endpoints e = endpoints();
    char *json = NULL;
    CHECK_OK(portcullis_oauth_server_metadata(server, &e, &json, NULL));
    CHECK(json != NULL && strstr(json, "\"client_secret_post\"") != NULL, "metadata follows the policy: %s",
          json ? json : "(null)");
    portcullis_string_free(json);
    portcullis_oauth_server_free(server);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s POLICY.toml\n", argv[0]);
        return 2;
    }
    base b;
    make_base(&b, argv[1]);
    metadata_reflects_the_configuration(&b);
    a_bad_issuer_fails_server_new(&b);
    every_authorization_redirect_carries_iss(&b);
    the_policys_settings_plus_an_issuer(&b);
    portcullis_access_verifier_free(b.verifier);
    portcullis_policy_free(b.policy);
    return check_summary("oauth_metadata");
}
