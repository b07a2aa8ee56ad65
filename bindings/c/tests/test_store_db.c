/* The database store from C (issue #18 item 5): portcullis_store_new_from_url on the URL
 * given (SQLite or PostgreSQL), used by the checks, insert, get, revoke and rotate; two
 * stores on one database stand for two processes (each has its own cache and feed); the
 * errors of a bad URL, an unreachable server and a file that is not a database; the OAuth
 * engine over the database (portcullis_oauth_store_new_from_store): a refresh token reused
 * through one store revokes the family, and the other store's attached checker refuses
 * the family's access token within the 1 s bound. Usage and audit (issue #20): drain_usage,
 * save_usage, restore_usage, last used, the _as writes' actors in the audit log.
 * usage: test_store_db POLICY URL */
#define _DEFAULT_SOURCE
#include <time.h>
#include <unistd.h>

#include "check.h"

#define SENTINEL ((void *)0x5e)

/* The detail of the last failure on this thread (a static buffer). */
static const char *detail(void) {
    static char buf[1024];
    size_t len = 0;
    if (portcullis_last_error(buf, sizeof buf, &len) != PORTCULLIS_OK) buf[0] = '\0';
    return buf;
}

static unsigned status_of(const portcullis_checker *checker, const portcullis_store *store,
                          const char *header) {
    portcullis_request req = make_request("GET", "/v1/claims/42", header, NULL, true);
    portcullis_decision *d = NULL;
    if (portcullis_checker_check_store(checker, &req, store, NOW, &d) != PORTCULLIS_OK) return 0;
    unsigned status = portcullis_decision_status(d);
    portcullis_decision_free(d);
    return status;
}

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void test_errors(void) {
    portcullis_store *s = SENTINEL;
    CHECK_RC(portcullis_store_new_from_url(NULL, 3, 0, &s), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_store_new_from_url("sqlite:x", 8, 0, NULL), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_store_new_from_url("mysql://db/x", 12, 0, &s), PORTCULLIS_DATABASE_STORE_BAD_URL);
    CHECK(strstr(detail(), "store_bad_url") && strstr(detail(), "hint: "), "bad URL: %s", detail());
    CHECK_RC(portcullis_store_new_from_url("sqlite:\xff", 8, 0, &s), PORTCULLIS_INVALID_UTF8);
    /* Port 1 on loopback refuses at once; the password is never in the detail. */
    const char *unreachable = "postgresql://app:hunter2-secret@127.0.0.1:1/portcullis";
    CHECK_RC(portcullis_store_new_from_url(unreachable, strlen(unreachable), 0, &s),
             PORTCULLIS_DATABASE_STORE_UNREACHABLE);
    CHECK(strstr(detail(), "store_unreachable") && strstr(detail(), "hint: ") &&
              !strstr(detail(), "hunter2"), "unreachable: %s", detail());
    /* A file that is not a database is another product's. */
    char path[] = "/tmp/portcullis-not-a-db-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    const char junk[] = "this is not a SQLite database, just text of some length .........";
    CHECK(write(fd, junk, sizeof junk) == (ssize_t)sizeof junk, "write");
    close(fd);
    char url[64];
    snprintf(url, sizeof url, "sqlite:%s", path);
    CHECK_RC(portcullis_store_new_from_url(url, strlen(url), 0, &s), PORTCULLIS_DATABASE_STORE_FOREIGN);
    CHECK(strstr(detail(), "store_foreign") != NULL, "foreign: %s", detail());
    unlink(path);
    CHECK(s == SENTINEL, "no store written on failure");
}

static void test_fleet(const portcullis_policy *policy, const portcullis_peppers *peppers,
                       const portcullis_checker *checker, const char *url) {
    portcullis_store *a = NULL, *b = NULL;
    CHECK_OK(portcullis_store_new_from_url(url, strlen(url), 0, &a));
    CHECK_OK(portcullis_store_new_from_url(url, strlen(url), 0, &b));
    if (a == NULL || b == NULL) return;

    portcullis_str scopes[] = {cstr("claims:read")};
    portcullis_key_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.name = cstr("Fleet key");
    spec.owner = cstr("org_42");
    spec.scopes = scopes;
    spec.scopes_len = 1;
    portcullis_issued_key *issued = NULL;
    portcullis_record *record = NULL;
    CHECK_OK(portcullis_checker_issue(checker, &spec, NOW, &issued));
    CHECK_OK(portcullis_issued_key_record(issued, &record));
    CHECK_OK(portcullis_store_insert(a, record));
    CHECK_RC(portcullis_store_insert(b, record), PORTCULLIS_DATABASE_DUPLICATE_KEY);
    CHECK(strstr(detail(), "duplicate_key") != NULL, "duplicate: %s", detail());
    CHECK_RC(portcullis_store_put(a, record), PORTCULLIS_INVALID_ARGUMENT);
    portcullis_str id = portcullis_record_id(record);
    CHECK_RC(portcullis_store_remove(a, id.data, id.len), PORTCULLIS_INVALID_ARGUMENT);
    CHECK(portcullis_store_len(a) >= 1 && portcullis_store_len(NULL) == 0, "len");

    char header[128];
    portcullis_str secret = portcullis_issued_key_secret(issued);
    snprintf(header, sizeof header, "Bearer %.*s", (int)secret.len, secret.data);
    CHECK(status_of(checker, a, header) == 200, "allowed through A");
    CHECK(status_of(checker, b, header) == 200, "allowed through B (read through)");

    portcullis_record *got = NULL;
    CHECK_OK(portcullis_store_get(b, id.data, id.len, &got));
    CHECK(got != NULL && str_is_n(portcullis_record_id(got), id.data, id.len), "get");
    portcullis_record_free(got);
    CHECK_RC(portcullis_store_get(b, "AAAAAAAAAAAAAAAA", 16, &got), PORTCULLIS_DATABASE_KEY_NOT_FOUND);

    /* Revoked through A: B refuses it within the bound (the feed brings it in ms). */
    CHECK_OK(portcullis_store_revoke(a, id.data, id.len, NOW - 10));
    CHECK(status_of(checker, a, header) == 401, "refused through A at once");
    double start = seconds();
    while (status_of(checker, b, header) != 401 && seconds() - start < 1.0) usleep(2000);
    double waited = seconds() - start;
    CHECK(status_of(checker, b, header) == 401, "refused through B");
    CHECK(waited < 1.0, "B refused it after %.3f s", waited);
    CHECK_OK(portcullis_store_revoke(b, id.data, id.len, NOW)); /* again: no error */
    CHECK_RC(portcullis_store_revoke(a, "AAAAAAAAAAAAAAAA", 16, NOW), PORTCULLIS_DATABASE_KEY_NOT_FOUND);

    /* Rotation: the revoked key cannot be rotated; a fresh one can, in one transaction. */
    portcullis_issued_key *successor = SENTINEL;
    CHECK_RC(portcullis_store_rotate(a, checker, id.data, id.len, 60, NOW, &successor),
             PORTCULLIS_DATABASE_KEY_INACTIVE);
    CHECK(strstr(detail(), "key_inactive") != NULL, "inactive: %s", detail());
    CHECK(successor == SENTINEL, "untouched");
    portcullis_issued_key *second = NULL;
    portcullis_record *second_record = NULL;
    CHECK_OK(portcullis_checker_issue(checker, &spec, NOW, &second));
    CHECK_OK(portcullis_issued_key_record(second, &second_record));
    CHECK_OK(portcullis_store_insert(b, second_record));
    portcullis_str second_id = portcullis_record_id(second_record);
    CHECK_RC(portcullis_store_rotate(NULL, checker, second_id.data, second_id.len, 60, NOW, &successor),
             PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_store_rotate(a, NULL, second_id.data, second_id.len, 60, NOW, &successor),
             PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_store_rotate(a, checker, second_id.data, second_id.len, 60, NOW, NULL),
             PORTCULLIS_NULL_PARAMETER);
    CHECK_OK(portcullis_store_rotate(a, checker, second_id.data, second_id.len, 60, NOW, &successor));
    secret = portcullis_issued_key_secret(successor);
    snprintf(header, sizeof header, "Bearer %.*s", (int)secret.len, secret.data);
    CHECK(status_of(checker, b, header) == 200, "the successor is allowed through B");
    portcullis_record *old = NULL;
    CHECK_OK(portcullis_store_get(b, second_id.data, second_id.len, &old));
    uint64_t expires = 0;
    CHECK(old != NULL && portcullis_record_expires_at(old, &expires) && expires == NOW + 60,
          "predecessor expires after the grace");
    portcullis_record_free(old);

    /* attach: the checker's access-token verifier follows this store. */
    portcullis_store *memory = NULL;
    CHECK_OK(portcullis_store_new(&memory));
    CHECK_RC(portcullis_store_attach(NULL, checker), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_store_attach(a, NULL), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_store_attach(memory, checker), PORTCULLIS_INVALID_ARGUMENT);
    CHECK_RC(portcullis_store_attach(a, checker), PORTCULLIS_INVALID_ARGUMENT);
    CHECK(strstr(detail(), "no access-token verifier") != NULL, "no verifier: %s", detail());
    portcullis_store_free(memory);
    portcullis_access_keys *keys = NULL;
    portcullis_access_verifier *verifier = NULL;
    portcullis_checker *with_tokens = NULL;
    CHECK_OK(portcullis_access_keys_new("k1", 2, (const uint8_t *)"abcdefghijklmnopqrstuvwxyz012345", 32, &keys));
    CHECK_OK(portcullis_access_verifier_new(keys, policy, &verifier));
    CHECK_OK(portcullis_checker_new_with_access_tokens(policy, peppers, verifier, &with_tokens));
    CHECK_OK(portcullis_store_attach(a, with_tokens));
    CHECK(status_of(with_tokens, b, header) == 200, "API keys still work through the attached checker");
    /* The access-token epoch, raised through the database: the attached verifier has it. */
    CHECK_RC(portcullis_store_revoke_access_tokens_before(NULL, NOW), PORTCULLIS_NULL_PARAMETER);
    CHECK_OK(portcullis_store_new(&memory));
    CHECK_RC(portcullis_store_revoke_access_tokens_before(memory, NOW), PORTCULLIS_INVALID_ARGUMENT);
    portcullis_store_free(memory);
    /* (Before NOW: the OAuth test below issues tokens at NOW on this database.) */
    CHECK_OK(portcullis_store_revoke_access_tokens_before(a, NOW - 1000));
    CHECK(portcullis_access_verifier_epoch(verifier) == NOW - 1000, "epoch %llu",
          (unsigned long long)portcullis_access_verifier_epoch(verifier));
    CHECK_OK(portcullis_store_revoke_access_tokens_before(a, NOW - 2000));
    CHECK(portcullis_access_verifier_epoch(verifier) == NOW - 1000, "the epoch is never lowered");
    portcullis_checker_free(with_tokens);
    portcullis_access_verifier_free(verifier);
    portcullis_access_keys_free(keys);

    portcullis_issued_key_free(successor);
    portcullis_record_free(second_record);
    portcullis_issued_key_free(second);
    portcullis_record_free(record);
    portcullis_issued_key_free(issued);
    portcullis_store_free(b);
    portcullis_store_free(a);
}

#define OAUTH_REDIRECT "https://partner.example/cb"
#define OAUTH_VERIFIER "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

/* The value of a JSON string field of a token response body, into out (cap bytes). */
static void field(const portcullis_token_response *r, const char *name, char *out, size_t cap) {
    portcullis_str body = portcullis_token_response_body(r);
    char key[64];
    snprintf(key, sizeof key, "\"%s\":\"", name);
    out[0] = '\0';
    char text[2048];
    snprintf(text, sizeof text, "%.*s", (int)body.len, body.data ? body.data : "");
    const char *at = strstr(text, key);
    if (at != NULL) snprintf(out, cap, "%.*s", (int)strcspn(at + strlen(key), "\""), at + strlen(key));
}

/* POSTs a form to the token endpoint as the public client: the status; the tokens out. */
static unsigned token_call(const portcullis_oauth_server *server, const portcullis_oauth_store *store,
                           const char *body, char *access, char *refresh, char *error) {
    portcullis_token_response *r = NULL;
    if (portcullis_oauth_token(server, NULL, 0, body, strlen(body), store, NOW, &r) != PORTCULLIS_OK) return 0;
    unsigned status = portcullis_token_response_status(r);
    if (access) field(r, "access_token", access, 600);
    if (refresh) field(r, "refresh_token", refresh, 100);
    if (error) field(r, "error", error, 64);
    portcullis_token_response_free(r);
    return status;
}

static void test_oauth_fleet(const portcullis_policy *policy, const portcullis_peppers *peppers,
                             const char *url) {
    portcullis_store *a = NULL, *b = NULL, *memory = NULL;
    CHECK_OK(portcullis_store_new_from_url(url, strlen(url), 0, &a));
    CHECK_OK(portcullis_store_new_from_url(url, strlen(url), 0, &b));
    CHECK_OK(portcullis_store_new(&memory));
    portcullis_oauth_store *oa = SENTINEL, *ob = NULL;
    CHECK_RC(portcullis_oauth_store_new_from_store(NULL, &oa), PORTCULLIS_NULL_PARAMETER);
    CHECK(oa == SENTINEL, "out untouched on failure");
    CHECK_RC(portcullis_oauth_store_new_from_store(a, NULL), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_oauth_store_new_from_store(memory, &oa), PORTCULLIS_INVALID_ARGUMENT);
    CHECK(strstr(detail(), "portcullis_oauth_store_new_memory") != NULL, "memory store: %s", detail());
    CHECK_OK(portcullis_oauth_store_new_from_store(a, &oa));
    CHECK_OK(portcullis_oauth_store_new_from_store(b, &ob));
    CHECK_RC(portcullis_oauth_store_purge_codes(oa, NOW), PORTCULLIS_INVALID_ARGUMENT);

    /* Worker A and worker B: one verifier each (same key), each attached to its store. */
    const uint8_t *secret = (const uint8_t *)"abcdefghijklmnopqrstuvwxyz012345";
    portcullis_access_keys *keys = NULL;
    portcullis_access_verifier *va = NULL, *vb = NULL;
    portcullis_checker *ca = NULL, *cb = NULL;
    portcullis_oauth_server *server = NULL;
    CHECK_OK(portcullis_access_keys_new("k1", 2, secret, 32, &keys));
    CHECK_OK(portcullis_access_verifier_new(keys, policy, &va));
    CHECK_OK(portcullis_access_verifier_new(keys, policy, &vb));
    CHECK_OK(portcullis_checker_new_with_access_tokens(policy, peppers, va, &ca));
    CHECK_OK(portcullis_checker_new_with_access_tokens(policy, peppers, vb, &cb));
    CHECK_OK(portcullis_store_attach(a, ca));
    CHECK_OK(portcullis_store_attach(b, cb));
    portcullis_oauth_config config = portcullis_oauth_config_default();
    CHECK_OK(portcullis_oauth_server_new(&config, policy, va, "claimport", 9, &server));

    /* The client, registered through B, is in the database A reads. */
    portcullis_str uris[] = {cstr(OAUTH_REDIRECT)}, scopes[] = {cstr("claims:read")};
    portcullis_oauth_client *client = NULL;
    CHECK_OK(portcullis_oauth_client_new_public("spa", 3, false, uris, 1, scopes, 1, &client));
    CHECK_OK(portcullis_oauth_store_add_client(ob, client));
    portcullis_oauth_client_free(client);

    char challenge[64], query[512], code[128] = "";
    size_t len = 0;
    CHECK_OK(portcullis_pkce_s256(OAUTH_VERIFIER, strlen(OAUTH_VERIFIER), challenge, sizeof challenge, &len));
    snprintf(query, sizeof query,
             "response_type=code&client_id=spa&redirect_uri=https%%3A%%2F%%2Fpartner.example%%2Fcb"
             "&scope=claims:read&state=s1&code_challenge=%s&code_challenge_method=S256", challenge);
    portcullis_authorization *authz = NULL;
    CHECK_OK(portcullis_oauth_authorize(server, query, strlen(query), oa, &authz));
    CHECK(portcullis_authorization_kind(authz) == PORTCULLIS_AUTHORIZE_VALID, "authorize through A: %s", detail());
    char *location = NULL;
    size_t loc_len = 0;
    CHECK_OK(portcullis_oauth_approve(server, authz, "user_7", 6, NULL, 0, oa, NOW, &location, &loc_len));
    const char *c = location ? strstr(location, "code=") : NULL;
    if (c != NULL) snprintf(code, sizeof code, "%.*s", (int)strcspn(c + 5, "&"), c + 5);
    portcullis_string_free(location);
    portcullis_authorization_free(authz);

    /* The code approved through A is redeemed through B; the refresh rotates through B. */
    char body[1024], access[600], refresh[100], rotated_access[600], rotated_refresh[100], error[64];
    snprintf(body, sizeof body,
             "grant_type=authorization_code&client_id=spa&code=%s&code_verifier=" OAUTH_VERIFIER
             "&redirect_uri=https%%3A%%2F%%2Fpartner.example%%2Fcb", code);
    CHECK(token_call(server, ob, body, access, refresh, NULL) == 200, "code exchanged through B");
    snprintf(body, sizeof body, "grant_type=refresh_token&client_id=spa&refresh_token=%s", refresh);
    CHECK(token_call(server, ob, body, rotated_access, rotated_refresh, NULL) == 200, "refresh through B");
    char header[640];
    snprintf(header, sizeof header, "Bearer %s", rotated_access);
    /* Under valgrind B's feed may fall behind the bound for a moment: 503, then 200. */
    double start = seconds();
    while (status_of(cb, b, header) != 200 && seconds() - start < 10.0) usleep(10000);
    CHECK(status_of(cb, b, header) == 200, "B accepts the access token");

    /* The old refresh token replayed through A: the family is revoked, and B learns it. */
    CHECK(token_call(server, oa, body, NULL, NULL, error) == 400 && strcmp(error, "invalid_grant") == 0,
          "reuse is invalid_grant (%s)", error);
    CHECK(status_of(ca, a, header) == 401, "A refuses the family at once");
    /* Refused within the bound: 401 once the feed brings the family, 503 (fail closed)
     * if the feed is behind; never 200. Then 401 once it catches up. */
    start = seconds();
    unsigned last = 0;
    while ((last = status_of(cb, b, header)) == 200 && seconds() - start < 1.0) usleep(2000);
    double took = seconds() - start;
    CHECK(last != 200 && took < 1.0, "B refuses the family within 1 s (%.3f s, %u)", took, last);
    while ((last = status_of(cb, b, header)) != 401 && seconds() - start < 10.0) usleep(10000);
    CHECK(last == 401, "B refuses the family as revoked (%u)", last);
    snprintf(body, sizeof body, "grant_type=refresh_token&client_id=spa&refresh_token=%s", rotated_refresh);
    CHECK(token_call(server, ob, body, NULL, NULL, error) == 400, "the family's newest refresh token is dead");

    /* The OAuth stores hold their own share: free the database stores first. */
    portcullis_store_free(a);
    portcullis_store_free(b);
    portcullis_store_free(memory);
    CHECK(token_call(server, oa, body, NULL, NULL, error) == 400, "the OAuth store outlives its portcullis_store");
    portcullis_oauth_server_free(server);
    portcullis_oauth_store_free(oa);
    portcullis_oauth_store_free(ob);
    portcullis_checker_free(ca);
    portcullis_checker_free(cb);
    portcullis_access_verifier_free(va);
    portcullis_access_verifier_free(vb);
    portcullis_access_keys_free(keys);
}

/* How many times `needle` occurs in `text`. */
static int occurrences(const char *text, const char *needle) {
    int n = 0;
    for (const char *at = text; at != NULL && (at = strstr(at, needle)) != NULL; at += strlen(needle)) n++;
    return n;
}

/* The first "seq" of an audit page's JSON text (0 when none). */
static unsigned long long first_seq(const char *json) {
    const char *at = json ? strstr(json, "\"seq\":") : NULL;
    return at ? strtoull(at + 6, NULL, 10) : 0;
}

/* One audit page as JSON text (free it); NULL on failure. */
static char *audit_page(const portcullis_store *s, portcullis_str key, uint64_t before, size_t limit) {
    char *json = NULL;
    size_t len = 0;
    if (portcullis_store_audit_log(s, key.data, key.len, before, limit, &json, &len) != PORTCULLIS_OK) return NULL;
    CHECK(json != NULL && strlen(json) == len, "audit length");
    return json;
}

/* Usage and audit through a database store (issue #20): a checker with a recorder checks
 * through the store, drain_usage saves, last used reads back, save_usage adds a batch, a
 * fresh recorder restored from the store knows the key's network, the actors of the _as
 * writes are in the audit log (newest first, paged), bad actors and NULLs are refused
 * with nothing written. */
static void test_usage_and_audit(const portcullis_policy *policy, const portcullis_peppers *peppers,
                                 const char *url) {
    portcullis_store *a = NULL, *memory = NULL;
    CHECK_OK(portcullis_store_new_from_url(url, strlen(url), 0, &a));
    CHECK_OK(portcullis_store_new(&memory));
    portcullis_usage_config config;
    CHECK_OK(portcullis_usage_config_default(&config));
    portcullis_usage_recorder *recorder = NULL, *fresh = NULL, *unrestored = NULL;
    CHECK_OK(portcullis_usage_recorder_new(&config, &recorder));
    CHECK_OK(portcullis_usage_recorder_new(&config, &fresh));
    CHECK_OK(portcullis_usage_recorder_new(&config, &unrestored));
    portcullis_checker *checker = NULL;
    CHECK_OK(portcullis_checker_new_with_usage(policy, peppers, NULL, recorder, &checker));
    if (a == NULL || recorder == NULL || checker == NULL) return;

    /* A key inserted as alice (the actor is trimmed). */
    portcullis_str scopes[] = {cstr("claims:read")};
    portcullis_key_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.name = cstr("Usage key");
    spec.owner = cstr("org_42");
    spec.scopes = scopes;
    spec.scopes_len = 1;
    portcullis_issued_key *issued = NULL;
    portcullis_record *record = NULL;
    CHECK_OK(portcullis_checker_issue(checker, &spec, NOW, &issued));
    CHECK_OK(portcullis_issued_key_record(issued, &record));
    const char *alice = "  alice@example.com ";
    CHECK_RC(portcullis_store_insert_as(a, "", 0, record), PORTCULLIS_INVALID_ARGUMENT);
    CHECK(strstr(detail(), "actor") != NULL, "bad actor: %s", detail());
    CHECK_RC(portcullis_store_insert_as(a, NULL, 5, record), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_store_insert_as(NULL, alice, strlen(alice), record), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_store_insert_as(a, alice, strlen(alice), NULL), PORTCULLIS_NULL_PARAMETER);
    CHECK_OK(portcullis_store_insert_as(a, alice, strlen(alice), record));
    CHECK_OK(portcullis_store_insert_as(memory, alice, strlen(alice), record)); /* checked, unused */
    portcullis_str id = portcullis_record_id(record);
    char idz[32];
    snprintf(idz, sizeof idz, "%.*s", (int)id.len, id.data);
    portcullis_str secret = portcullis_issued_key_secret(issued);
    char secretz[128], header[160];
    snprintf(secretz, sizeof secretz, "%.*s", (int)secret.len, secret.data);
    snprintf(header, sizeof header, "Bearer %s", secretz);

    /* Checked through the store from a client address: the recorder counts it. */
    portcullis_request req = make_request("GET", "/v1/claims/42", header, NULL, true);
    req.client = "203.0.113.5";
    req.client_len = strlen(req.client);
    portcullis_decision *d = NULL;
    CHECK_OK(portcullis_checker_check_store(checker, &req, a, NOW, &d));
    CHECK(d != NULL && portcullis_decision_status(d) == 200, "allowed");
    portcullis_decision_free(d);

    uint64_t at = 77;
    CHECK_OK(portcullis_store_last_used(a, id.data, id.len, &at));
    CHECK(at == 0, "never used before the drain: %llu", (unsigned long long)at);

    /* drain_usage: bad inputs drain nothing and write nothing. */
    char *json = SENTINEL;
    size_t len = 0;
    CHECK_RC(portcullis_store_drain_usage(NULL, recorder, NOW + 5, &json, &len), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_store_drain_usage(a, NULL, NOW + 5, &json, &len), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_store_drain_usage(a, recorder, NOW + 5, NULL, &len), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_store_drain_usage(memory, recorder, NOW + 5, &json, &len), PORTCULLIS_INVALID_ARGUMENT);
    CHECK(strstr(detail(), "memory store") != NULL, "memory: %s", detail());
    CHECK(json == SENTINEL, "untouched on failure");
    json = NULL;
    CHECK_OK(portcullis_store_drain_usage(a, recorder, NOW + 5, &json, &len));
    CHECK(json != NULL && strlen(json) == len && strstr(json, idz) != NULL &&
              strstr(json, "\"allowed\":1") != NULL && strstr(json, "203.0.113.0/24") != NULL,
          "the drained batch: %s", json ? json : "(null)");
    CHECK(json == NULL || strstr(json, secretz) == NULL, "no secret in the batch");
    portcullis_string_free(json);
    json = NULL;
    CHECK_OK(portcullis_store_drain_usage(a, recorder, NOW + 6, &json, NULL));
    CHECK(json != NULL && strstr(json, "\"keys\":[]") != NULL, "nothing new: %s", json ? json : "(null)");
    portcullis_string_free(json);

    /* Last used reads back, one key and all keys. */
    at = 0;
    CHECK_OK(portcullis_store_last_used(a, id.data, id.len, &at));
    CHECK(at == NOW, "last used %llu", (unsigned long long)at);
    CHECK_OK(portcullis_store_last_used(a, "AAAAAAAAAAAAAAAA", 16, &at));
    CHECK(at == 0, "an unknown key was never used");
    CHECK_RC(portcullis_store_last_used(a, id.data, id.len, NULL), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_store_last_used(a, "short", 5, &at), PORTCULLIS_KEY_LENGTH);
    CHECK_RC(portcullis_store_last_used(memory, id.data, id.len, &at), PORTCULLIS_INVALID_ARGUMENT);
    char entry[64];
    snprintf(entry, sizeof entry, "\"%s\":%llu", idz, NOW);
    json = NULL;
    CHECK_OK(portcullis_store_last_used_all(a, &json, &len));
    CHECK(json != NULL && json[0] == '{' && strstr(json, entry) != NULL, "all: %.200s", json ? json : "(null)");
    portcullis_string_free(json);
    CHECK_RC(portcullis_store_last_used_all(a, NULL, &len), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_store_last_used_all(memory, &json, &len), PORTCULLIS_INVALID_ARGUMENT);

    /* save_usage: a batch in the drain's form adds up; malformed text saves nothing. */
    char batch[256];
    snprintf(batch, sizeof batch,
             "{\"keys\":[{\"key_id\":\"%s\",\"first_used\":null,\"last_used\":%llu,\"hours\":[],"
             "\"networks\":[]}],\"signals\":[],\"dropped\":0}", idz, NOW + 100);
    CHECK_RC(portcullis_store_save_usage(NULL, batch, strlen(batch)), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_store_save_usage(a, NULL, 3), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_store_save_usage(memory, batch, strlen(batch)), PORTCULLIS_INVALID_ARGUMENT);
    CHECK_RC(portcullis_store_save_usage(a, "{\"keys\":", 8), PORTCULLIS_INVALID_ARGUMENT);
    CHECK_RC(portcullis_store_save_usage(a, "\xff", 1), PORTCULLIS_INVALID_UTF8);
    const char *bad_hour = "{\"keys\":[{\"key_id\":\"AAAAAAAAAAAAAAAA\",\"hours\":[{\"hour\":5,\"allowed\":1}]}],\"signals\":[]}";
    CHECK_RC(portcullis_store_save_usage(a, bad_hour, strlen(bad_hour)), PORTCULLIS_INVALID_ARGUMENT);
    CHECK(strstr(detail(), "keys[0].hours[0].hour") != NULL, "says where: %s", detail());
    CHECK_OK(portcullis_store_save_usage(a, batch, strlen(batch)));
    CHECK_OK(portcullis_store_last_used(a, id.data, id.len, &at));
    CHECK(at == NOW + 100, "the saved batch's last use: %llu", (unsigned long long)at);

    /* Restore: a fresh recorder knows the key's network and first use, so a use from
     * another network after the learning period (7 days) raises new_network; a recorder
     * that was not restored is still learning. */
    size_t restored = 0;
    CHECK_RC(portcullis_store_restore_usage(NULL, fresh, &restored), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_store_restore_usage(a, NULL, &restored), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_store_restore_usage(memory, fresh, &restored), PORTCULLIS_INVALID_ARGUMENT);
    CHECK_OK(portcullis_store_restore_usage(a, fresh, NULL));
    CHECK_OK(portcullis_store_restore_usage(a, fresh, &restored));
    CHECK(restored >= 1, "restored %zu", restored);
    const char *other = "198.51.100.7";
    uint64_t later = NOW + 8 * 86400;
    uint32_t raised = 0, raised_unrestored = 0;
    CHECK_OK(portcullis_usage_recorder_record(fresh, id.data, id.len, "allowed", 7, 0, other,
                                              strlen(other), later, &raised));
    CHECK(raised & PORTCULLIS_WARNING_NEW_NETWORK, "restored: new_network raised (%u)", raised);
    CHECK_OK(portcullis_usage_recorder_record(unrestored, id.data, id.len, "allowed", 7, 0, other,
                                              strlen(other), later, &raised_unrestored));
    CHECK(raised_unrestored == 0, "not restored: learning (%u)", raised_unrestored);

    /* Actors: a bad one writes nothing; rotate as bob, revoke the successor as carol,
     * revoke without an actor. */
    const char *bob = "bob (ops)", *carol = "carol";
    char longest[300];
    memset(longest, 'x', sizeof longest);
    const char *bad_actors[] = {"   ", "a\nb", "a\x1b[31m"};
    for (size_t i = 0; i < sizeof bad_actors / sizeof *bad_actors; i++)
        CHECK_RC(portcullis_store_revoke_as(a, bad_actors[i], strlen(bad_actors[i]), id.data, id.len, NOW),
                 PORTCULLIS_INVALID_ARGUMENT);
    CHECK_RC(portcullis_store_revoke_as(a, longest, sizeof longest, id.data, id.len, NOW),
             PORTCULLIS_INVALID_ARGUMENT);
    CHECK(strstr(detail(), "xxx") == NULL, "the detail never repeats the actor: %s", detail());
    CHECK_RC(portcullis_store_revoke_as(a, "\xff", 1, id.data, id.len, NOW), PORTCULLIS_INVALID_UTF8);
    CHECK_RC(portcullis_store_revoke_as(a, NULL, 0, id.data, id.len, NOW), PORTCULLIS_NULL_PARAMETER);
    CHECK(status_of(checker, a, header) == 200, "still allowed: nothing was revoked");
    portcullis_issued_key *successor = SENTINEL;
    CHECK_RC(portcullis_store_rotate_as(a, "", 0, checker, id.data, id.len, 60, NOW, &successor),
             PORTCULLIS_INVALID_ARGUMENT);
    CHECK(successor == SENTINEL, "untouched");
    CHECK_RC(portcullis_store_rotate_as(a, bob, strlen(bob), checker, id.data, id.len, 60, NOW, NULL),
             PORTCULLIS_NULL_PARAMETER);
    CHECK_OK(portcullis_store_rotate_as(a, bob, strlen(bob), checker, id.data, id.len, 60, NOW, &successor));
    portcullis_record *next = NULL;
    CHECK_OK(portcullis_issued_key_record(successor, &next));
    portcullis_str next_id = portcullis_record_id(next);
    CHECK_OK(portcullis_store_revoke_as(a, carol, strlen(carol), next_id.data, next_id.len, NOW + 1));
    CHECK_OK(portcullis_store_revoke(a, id.data, id.len, NOW + 2));

    /* The audit log: the key's entries newest first, with their actors. */
    char *page = audit_page(a, id, 0, 0);
    CHECK(page != NULL && page[0] == '[' && occurrences(page, "\"seq\":") == 3, "key's log: %s",
          page ? page : "(null)");
    const char *revoked = page ? strstr(page, "\"action\":\"revoked\"") : NULL;
    const char *rotated = page ? strstr(page, "\"action\":\"rotated\"") : NULL;
    const char *created = page ? strstr(page, "\"action\":\"created\"") : NULL;
    CHECK(revoked && rotated && created && revoked < rotated && rotated < created, "newest first: %s",
          page ? page : "(null)");
    CHECK(page && strstr(page, "\"actor\":\"alice@example.com\"") && strstr(page, "\"actor\":\"bob (ops)\"") &&
              strstr(page, "\"actor\":null") && !strstr(page, secretz),
          "actors: %s", page ? page : "(null)");
    portcullis_string_free(page);
    page = audit_page(a, next_id, 0, 0);
    CHECK(page && strstr(page, "\"action\":\"revoked\",\"actor\":\"carol\"") &&
              strstr(page, "\"action\":\"created\",\"actor\":\"bob (ops)\"") && strstr(page, idz),
          "successor's log: %s", page ? page : "(null)");
    portcullis_string_free(page);
    /* Paging: one at a time, back from the newest. */
    page = audit_page(a, id, 0, 1);
    unsigned long long seq = first_seq(page);
    CHECK(page && occurrences(page, "\"seq\":") == 1 && strstr(page, "revoked") && seq > 0, "page 1: %s",
          page ? page : "(null)");
    portcullis_string_free(page);
    page = audit_page(a, id, seq, 1);
    CHECK(page && occurrences(page, "\"seq\":") == 1 && strstr(page, "rotated") && first_seq(page) < seq,
          "page 2: %s", page ? page : "(null)");
    portcullis_string_free(page);
    page = audit_page(a, (portcullis_str){NULL, 0}, 0, 1000);
    CHECK(page && strstr(page, "carol") && strstr(page, idz), "every key's log");
    portcullis_string_free(page);
    json = SENTINEL;
    CHECK_RC(portcullis_store_audit_log(NULL, NULL, 0, 0, 0, &json, &len), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_store_audit_log(a, NULL, 0, 0, 0, NULL, &len), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_store_audit_log(memory, NULL, 0, 0, 0, &json, &len), PORTCULLIS_INVALID_ARGUMENT);
    CHECK_RC(portcullis_store_audit_log(a, "short", 5, 0, 0, &json, &len), PORTCULLIS_KEY_LENGTH);
    CHECK_RC(portcullis_store_audit_log(a, NULL, 0, UINT64_MAX, 0, &json, &len), PORTCULLIS_INVALID_ARGUMENT);
    CHECK(json == SENTINEL, "untouched on failure");

    portcullis_record_free(next);
    portcullis_issued_key_free(successor);
    portcullis_record_free(record);
    portcullis_issued_key_free(issued);
    portcullis_checker_free(checker);
    portcullis_usage_recorder_free(unrestored);
    portcullis_usage_recorder_free(fresh);
    portcullis_usage_recorder_free(recorder);
    portcullis_store_free(memory);
    portcullis_store_free(a);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s POLICY URL\n", argv[0]);
        return 2;
    }
    portcullis_policy *policy = NULL;
    portcullis_peppers *peppers = NULL;
    portcullis_checker *checker = NULL;
    CHECK_OK(portcullis_policy_new_from_file(argv[1], strlen(argv[1]), &policy));
    CHECK_OK(portcullis_peppers_new("p1", 2, (const uint8_t *)"0123456789abcdef0123456789abcdef", 32, &peppers));
    CHECK_OK(portcullis_checker_new(policy, peppers, &checker));
    test_errors();
    if (checker != NULL) test_fleet(policy, peppers, checker, argv[2]);
    if (checker != NULL) test_oauth_fleet(policy, peppers, argv[2]);
    if (checker != NULL) test_usage_and_audit(policy, peppers, argv[2]);
    portcullis_checker_free(checker);
    portcullis_peppers_free(peppers);
    portcullis_policy_free(policy);
    return check_summary(strncmp(argv[2], "sqlite:", 7) == 0 ? "test_store_db (SQLite)"
                                                            : "test_store_db (PostgreSQL)");
}
