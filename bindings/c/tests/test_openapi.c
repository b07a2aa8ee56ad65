/* OpenAPI from the policy through the C API: portcullis_policy_openapi returns the core's
 * document as a library-owned string; portcullis_policy_openapi_merged sets the security
 * of a host's document and refuses one that is not OpenAPI 3.x JSON with
 * PORTCULLIS_INVALID_ARGUMENT (the detail names the core's code). */
#include "check.h"

/* Whether `haystack` (NUL-terminated) contains `needle`. */
static int has(const char *haystack, const char *needle) {
    return haystack != NULL && strstr(haystack, needle) != NULL;
}

/* The detail of the last failure on this thread, in a static buffer. */
static const char *last_error(void) {
    static char buf[512];
    size_t len = 0;
    if (portcullis_last_error(buf, sizeof buf, &len) != PORTCULLIS_OK) buf[0] = '\0';
    return buf;
}

static void the_document_has_schemes_and_security(const portcullis_policy *policy) {
    char *json = NULL;
    size_t len = 0;
    CHECK_OK(portcullis_policy_openapi(policy, &json, &len));
    CHECK(json != NULL && strlen(json) == len, "length reported");
    CHECK(has(json, "\"openapi\": \"3.1.0\""), "version: %.80s", json);
    CHECK(has(json, "\"title\": \"claimport\""), "title");
    CHECK(has(json, "\"scheme\": \"bearer\""), "bearer scheme");
    CHECK(has(json, "\"authorizationCode\""), "oauth flow");
    CHECK(has(json, "\"claims:write\": \"Write Claims\""), "scopes with descriptions");
    CHECK(has(json, "\"/v1/claims/{id}\""), "a route's path");
    char *again = NULL;
    CHECK_OK(portcullis_policy_openapi(policy, &again, NULL));
    CHECK(again != NULL && json != NULL && strcmp(json, again) == 0, "deterministic");
    portcullis_string_free(again);
    portcullis_string_free(json);
    CHECK_RC(portcullis_policy_openapi(NULL, &json, NULL), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_policy_openapi(policy, NULL, NULL), PORTCULLIS_NULL_PARAMETER);
}

static void merging_sets_security_and_keeps_the_rest(const portcullis_policy *policy) {
    const char *doc =
        "{\"openapi\": \"3.0.3\", \"info\": {\"title\": \"Claims API\", \"version\": \"2\"},"
        " \"paths\": {\"/v1/claims/{claimId}\": {\"delete\": {\"operationId\": \"del\"}},"
        " \"/other\": {\"get\": {\"operationId\": \"other\"}}}}";
    char *json = NULL;
    size_t len = 0;
    CHECK_OK(portcullis_policy_openapi_merged(policy, doc, strlen(doc), &json, &len));
    CHECK(json != NULL && strlen(json) == len, "length reported");
    CHECK(has(json, "\"title\": \"Claims API\""), "the document's info is kept");
    CHECK(has(json, "\"operationId\": \"del\""), "operations are kept");
    CHECK(has(json, "\"apiKey\": [\n              \"full_access\"\n            ]"),
          "the route's security is set: %s", json);
    CHECK(has(json, "\"securitySchemes\""), "schemes added");
    portcullis_string_free(json);
}

static void bad_documents_are_invalid_arguments(const portcullis_policy *policy) {
    struct {
        const char *doc, *code;
    } cases[] = {
        {"{\"openapi\": ", "bad_json"},
        {"{\"swagger\": \"2.0\"}", "bad_document"},
        {"[]", "bad_document"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *json = (char *)"untouched";
        CHECK_RC(portcullis_policy_openapi_merged(policy, cases[i].doc, strlen(cases[i].doc),
                                                  &json, NULL),
                 PORTCULLIS_INVALID_ARGUMENT);
        CHECK(strcmp(json, "untouched") == 0, "out-parameter written only on success");
        CHECK(has(last_error(), cases[i].code), "%s: %s", cases[i].doc, last_error());
    }
    size_t big = (4u << 20) + 16;
    char *padded = malloc(big);
    CHECK(padded != NULL, "allocation");
    if (padded != NULL) {
        memset(padded, ' ', big);
        memcpy(padded, "{}", 2);
        char *json = NULL;
        CHECK_RC(portcullis_policy_openapi_merged(policy, padded, big, &json, NULL),
                 PORTCULLIS_INVALID_ARGUMENT);
        CHECK(has(last_error(), "too_large"), "%s", last_error());
        free(padded);
    }
    const char bad_utf8[] = "{\"openapi\": \"3.1.0\", \"x\": \"\xff\"}";
    char *json = NULL;
    CHECK_RC(portcullis_policy_openapi_merged(policy, bad_utf8, sizeof bad_utf8 - 1, &json, NULL),
             PORTCULLIS_INVALID_UTF8);
    CHECK_RC(portcullis_policy_openapi_merged(policy, NULL, 0, &json, NULL),
             PORTCULLIS_NULL_PARAMETER);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s POLICY.toml\n", argv[0]);
        return 2;
    }
    portcullis_policy *policy = NULL;
    CHECK_OK(portcullis_policy_new_from_file(argv[1], strlen(argv[1]), &policy));
    the_document_has_schemes_and_security(policy);
    merging_sets_security_and_keeps_the_rest(policy);
    bad_documents_are_invalid_arguments(policy);
    portcullis_policy_free(policy);
    return check_summary("openapi");
}
