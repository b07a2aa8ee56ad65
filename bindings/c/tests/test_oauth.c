/* The OAuth API through C: the whole flow (register a client, authorize, approve, token
 * with HTTP Basic, the access token through portcullis_checker_check_store, refresh rotation,
 * refresh reuse revoking the family, code reuse, revoke, introspect) run once with the
 * in-memory store and once with a callback store over a small host "database", which
 * must give the same transcript; then bad input: NULL everywhere, non-UTF-8, failing and
 * misbehaving callbacks, small buffers, wrong keys; and races: threads presenting the same
 * code or refresh token at once, of which exactly one may win (with both stores; the host
 * database serialises its callbacks with one mutex, which makes consume and rotate atomic).
 *
 * usage: test_oauth POLICY.toml [RACE_ROUNDS] */
#define _POSIX_C_SOURCE 200809L /* pthread barriers under -std=c11 */
#include <pthread.h>
#include <stdint.h>

#include "check.h"

#define NOW 1800000000ULL
#define REDIRECT "https://app.example/cb"
#define REDIRECT_ENC "https%3A%2F%2Fapp.example%2Fcb"
#define REDIRECT_FMT "https%%3A%%2F%%2Fapp.example%%2Fcb" /* in printf formats */
#define VERIFIER "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

/* ---- a host database behind the store callbacks ---- */

typedef struct {
    uint8_t hash[32];
    char *json;
    bool used;            /* codes: consumed */
    bool rotated;         /* refresh tokens: rotated_at is set */
    uint64_t rotated_at;
} entry;

typedef struct {
    char *client_json[4];
    char client_id[4][32];
    size_t clients;
    entry codes[32], refresh[32];
    size_t ncodes, nrefresh;
    char families[16][17];
    size_t nfamilies;
    int fail;       /* every callback fails (the database is down) */
    int bad_json;   /* lookups answer JSON that does not parse */
    int any_client; /* the client lookup answers the first client, whatever the id */
    int calls;
} host_db;

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static entry *find(entry *list, size_t n, const uint8_t *hash) {
    for (size_t i = 0; i < n; i++)
        if (memcmp(list[i].hash, hash, 32) == 0) return &list[i];
    return NULL;
}

static uint32_t db_client(void *ud, const char *id, size_t id_len, portcullis_oauth_answer *answer) {
    host_db *db = ud;
    db->calls++;
    if (db->fail) return PORTCULLIS_LOOKUP_FAILED;
    if (db->bad_json) return portcullis_oauth_answer_set_record(answer, "{\"id\":", 6);
    if (db->any_client && db->clients > 0)
        return portcullis_oauth_answer_set_record(answer, db->client_json[0], strlen(db->client_json[0]));
    for (size_t i = 0; i < db->clients; i++)
        if (strlen(db->client_id[i]) == id_len && memcmp(db->client_id[i], id, id_len) == 0)
            return portcullis_oauth_answer_set_record(answer, db->client_json[i], strlen(db->client_json[i]));
    return PORTCULLIS_OK;
}

static uint32_t db_put(entry *list, size_t *n, const uint8_t *hash, const char *json, size_t len) {
    if (*n == 32) return PORTCULLIS_LOOKUP_FAILED;
    entry *e = &list[(*n)++];
    memset(e, 0, sizeof *e);
    memcpy(e->hash, hash, 32);
    e->json = dup_n(json, len);
    return PORTCULLIS_OK;
}

static uint32_t db_put_code(void *ud, const uint8_t *hash, const char *json, size_t len) {
    host_db *db = ud;
    db->calls++;
    return db->fail ? PORTCULLIS_LOOKUP_FAILED : db_put(db->codes, &db->ncodes, hash, json, len);
}

static uint32_t db_code(void *ud, const uint8_t *hash, portcullis_oauth_answer *answer) {
    host_db *db = ud;
    db->calls++;
    if (db->fail) return PORTCULLIS_LOOKUP_FAILED;
    if (db->bad_json) return portcullis_oauth_answer_set_record(answer, "[]", 2);
    entry *e = find(db->codes, db->ncodes, hash);
    return e == NULL ? PORTCULLIS_OK : portcullis_oauth_answer_set_record(answer, e->json, strlen(e->json));
}

static uint32_t db_consume_code(void *ud, const uint8_t *hash, portcullis_oauth_answer *answer, bool *used) {
    host_db *db = ud;
    db->calls++;
    if (db->fail) return PORTCULLIS_LOOKUP_FAILED;
    entry *e = find(db->codes, db->ncodes, hash);
    if (e == NULL) return PORTCULLIS_OK;
    *used = e->used;
    e->used = true;
    return portcullis_oauth_answer_set_record(answer, e->json, strlen(e->json));
}

static uint32_t db_put_refresh(void *ud, const uint8_t *hash, const char *json, size_t len) {
    host_db *db = ud;
    db->calls++;
    return db->fail ? PORTCULLIS_LOOKUP_FAILED : db_put(db->refresh, &db->nrefresh, hash, json, len);
}

/* A refresh record's JSON with its rotated_at column put back in. */
static uint32_t answer_refresh(portcullis_oauth_answer *answer, const entry *e) {
    char buf[1024];
    size_t len = strlen(e->json);
    if (!e->rotated || len + 40 > sizeof buf) return portcullis_oauth_answer_set_record(answer, e->json, len);
    int n = snprintf(buf, sizeof buf, "%.*s,\"rotated_at\":%llu}", (int)(len - 1), e->json,
                     (unsigned long long)e->rotated_at);
    return portcullis_oauth_answer_set_record(answer, buf, (size_t)n);
}

static uint32_t db_refresh(void *ud, const uint8_t *hash, portcullis_oauth_answer *answer) {
    host_db *db = ud;
    db->calls++;
    if (db->fail) return PORTCULLIS_LOOKUP_FAILED;
    if (db->bad_json) return portcullis_oauth_answer_set_record(answer, "[]", 2);
    entry *e = find(db->refresh, db->nrefresh, hash);
    return e == NULL ? PORTCULLIS_OK : answer_refresh(answer, e);
}

static uint32_t db_rotate(void *ud, const uint8_t *old_hash, bool has_expected, uint64_t expected,
                          uint64_t rotated_at, const uint8_t *new_hash, const char *json, size_t len,
                          bool *conflict) {
    host_db *db = ud;
    db->calls++;
    if (db->fail) return PORTCULLIS_LOOKUP_FAILED;
    entry *e = find(db->refresh, db->nrefresh, old_hash);
    if (e == NULL || e->rotated != has_expected || (has_expected && e->rotated_at != expected)) {
        *conflict = true;
        return PORTCULLIS_OK;
    }
    e->rotated_at = rotated_at; /* a plain compare-and-swap */
    e->rotated = true;
    return db_put(db->refresh, &db->nrefresh, new_hash, json, len);
}

static uint32_t db_revoke_family(void *ud, const char *family, size_t len, uint64_t now) {
    host_db *db = ud;
    (void)now;
    db->calls++;
    if (db->fail) return PORTCULLIS_LOOKUP_FAILED;
    if (len != 16 || db->nfamilies == 16) return PORTCULLIS_INVALID_ARGUMENT;
    memcpy(db->families[db->nfamilies], family, 16);
    db->families[db->nfamilies++][16] = '\0';
    return PORTCULLIS_OK;
}

static uint32_t db_is_family_revoked(void *ud, const char *family, size_t len, bool *revoked) {
    host_db *db = ud;
    db->calls++;
    if (db->fail) return PORTCULLIS_LOOKUP_FAILED;
    for (size_t i = 0; i < db->nfamilies; i++)
        if (len == 16 && memcmp(db->families[i], family, 16) == 0) *revoked = true;
    return PORTCULLIS_OK;
}

static void db_free(host_db *db) {
    for (size_t i = 0; i < db->clients; i++) portcullis_string_free(db->client_json[i]);
    for (size_t i = 0; i < db->ncodes; i++) free(db->codes[i].json);
    for (size_t i = 0; i < db->nrefresh; i++) free(db->refresh[i].json);
    memset(db, 0, sizeof *db);
}

/* The callbacks, each under one lock: atomic consume and rotate, safe from any thread. */
static pthread_mutex_t db_lock = PTHREAD_MUTEX_INITIALIZER;
#define LOCKED(call)                        \
    do {                                    \
        pthread_mutex_lock(&db_lock);       \
        uint32_t rc_ = (call);              \
        pthread_mutex_unlock(&db_lock);     \
        return rc_;                         \
    } while (0)

static uint32_t l_client(void *u, const char *id, size_t n, portcullis_oauth_answer *a) { LOCKED(db_client(u, id, n, a)); }
static uint32_t l_put_code(void *u, const uint8_t *h, const char *j, size_t n) { LOCKED(db_put_code(u, h, j, n)); }
static uint32_t l_consume_code(void *u, const uint8_t *h, portcullis_oauth_answer *a, bool *used) { LOCKED(db_consume_code(u, h, a, used)); }
static uint32_t l_put_refresh(void *u, const uint8_t *h, const char *j, size_t n) { LOCKED(db_put_refresh(u, h, j, n)); }
static uint32_t l_refresh(void *u, const uint8_t *h, portcullis_oauth_answer *a) { LOCKED(db_refresh(u, h, a)); }
static uint32_t l_rotate(void *u, const uint8_t *o, bool he, uint64_t e, uint64_t at, const uint8_t *nh, const char *j, size_t n, bool *c) {
    LOCKED(db_rotate(u, o, he, e, at, nh, j, n, c));
}
static uint32_t l_revoke_family(void *u, const char *f, size_t n, uint64_t now) { LOCKED(db_revoke_family(u, f, n, now)); }
static uint32_t l_is_family_revoked(void *u, const char *f, size_t n, bool *r) { LOCKED(db_is_family_revoked(u, f, n, r)); }
static uint32_t l_code(void *u, const uint8_t *h, portcullis_oauth_answer *a) { LOCKED(db_code(u, h, a)); }

static portcullis_oauth_callbacks db_callbacks(host_db *db) {
    portcullis_oauth_callbacks cb = {db, l_client, l_put_code, l_consume_code, l_put_refresh,
                                     l_refresh, l_rotate, l_revoke_family, l_is_family_revoked, l_code};
    return cb;
}

/* ---- HTTP helpers ---- */

static void base64(const char *in, size_t n, char *out) {
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)in[i] << 16;
        if (i + 1 < n) v |= (uint32_t)(unsigned char)in[i + 1] << 8;
        if (i + 2 < n) v |= (uint32_t)(unsigned char)in[i + 2];
        out[o++] = t[(v >> 18) & 63];
        out[o++] = t[(v >> 12) & 63];
        out[o++] = i + 1 < n ? t[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? t[v & 63] : '=';
    }
    out[o] = '\0';
}

/* The string value of "name" in a flat JSON body (into out, cap bytes); "" if absent. */
static void json_field(portcullis_str body, const char *name, char *out, size_t cap) {
    char key[64];
    snprintf(key, sizeof key, "\"%s\":\"", name);
    char *text = dup_n(body.data ? body.data : "", body.len);
    const char *at = strstr(text, key);
    out[0] = '\0';
    if (at != NULL) {
        at += strlen(key);
        size_t n = strcspn(at, "\"");
        if (n < cap) memcpy(out, at, n), out[n] = '\0';
    }
    free(text);
}

static int body_has(portcullis_str body, const char *needle) {
    char *text = dup_n(body.data ? body.data : "", body.len);
    int found = strstr(text, needle) != NULL;
    free(text);
    return found;
}

/* The value of header `name`, or an absent string. */
static portcullis_str header(const portcullis_token_response *r, const char *name) {
    for (size_t i = 0; i < portcullis_token_response_headers_len(r); i++)
        if (str_is(portcullis_token_response_header_name(r, i), name))
            return portcullis_token_response_header_value(r, i);
    portcullis_str none = {NULL, 0};
    return none;
}

/* ---- the flow ---- */

typedef struct {
    portcullis_policy *policy;
    portcullis_access_verifier *verifier;
    portcullis_checker *checker;
    portcullis_oauth_server *server;
    portcullis_oauth_store *store;
    char basic[256];      /* "Basic base64(webapp:secret)" */
    char secret[64];
    char transcript[4096];
} flow;

static void note(flow *f, const char *fmt, unsigned v) {
    size_t n = strlen(f->transcript);
    snprintf(f->transcript + n, sizeof f->transcript - n, fmt, v);
}

static void setup(flow *f, const char *policy_path, host_db *db) {
    memset(f, 0, sizeof *f);
    CHECK_OK(portcullis_policy_new_from_file(policy_path, strlen(policy_path), &f->policy));
    uint8_t key[32], pepper[32];
    memset(key, 7, sizeof key);
    memset(pepper, 9, sizeof pepper);
    portcullis_access_keys *keys = NULL;
    CHECK_OK(portcullis_access_keys_new("k1", 2, key, sizeof key, &keys));
    CHECK_OK(portcullis_access_verifier_new(keys, f->policy, &f->verifier));
    portcullis_access_keys_free(keys);
    portcullis_peppers *peppers = NULL;
    CHECK_OK(portcullis_peppers_new("p1", 2, pepper, sizeof pepper, &peppers));
    CHECK_OK(portcullis_checker_new_with_access_tokens(f->policy, peppers, f->verifier, &f->checker));
    portcullis_peppers_free(peppers);
    portcullis_oauth_config config = portcullis_oauth_config_default();
    CHECK(config.access_ttl == 3600 && config.code_ttl == 600 && config.refresh_grace == 0 &&
              !config.allow_plain_pkce && config.require_pkce_for_confidential &&
              !config.allow_body_credentials && config.default_scope.data == NULL,
          "secure defaults");
    CHECK_OK(portcullis_oauth_server_new(&config, f->policy, f->verifier, "claimport", 9, &f->server));

    /* Registration: the secret is handed out once. */
    portcullis_str uris[] = {cstr(REDIRECT)}, scopes[] = {cstr("claims:read"), cstr("claims:write")};
    portcullis_oauth_client *client = NULL;
    char *secret = NULL;
    size_t secret_len = 0;
    CHECK_OK(portcullis_oauth_client_new_confidential("webapp", 6, uris, 1, scopes, 2, &client, &secret, &secret_len));
    CHECK(secret != NULL && secret_len == 46 && strncmp(secret, "cs.", 3) == 0, "client secret cs.+43");
    CHECK(portcullis_oauth_client_is_confidential(client) && str_is(portcullis_oauth_client_id(client), "webapp"), "client");
    snprintf(f->secret, sizeof f->secret, "%s", secret ? secret : "");
    char creds[128], b64[192];
    snprintf(creds, sizeof creds, "webapp:%s", f->secret);
    base64(creds, strlen(creds), b64);
    snprintf(f->basic, sizeof f->basic, "Basic %s", b64);
    char *json = NULL;
    CHECK_OK(portcullis_oauth_client_to_json(client, &json, NULL));
    CHECK(json != NULL && strstr(json, f->secret) == NULL && strstr(json, "\"secret_hash\":\"sha256$") != NULL,
          "client JSON holds the hash, not the secret: %s", json);
    if (db == NULL) {
        CHECK_OK(portcullis_oauth_store_new_memory(&f->store));
        CHECK_OK(portcullis_oauth_store_add_client(f->store, client));
        portcullis_string_free(json);
    } else {
        portcullis_oauth_callbacks cb = db_callbacks(db);
        CHECK_OK(portcullis_oauth_store_new_callbacks(&cb, &f->store));
        CHECK_RC(portcullis_oauth_store_add_client(f->store, client), PORTCULLIS_INVALID_ARGUMENT);
        db->client_json[0] = json;
        snprintf(db->client_id[0], sizeof db->client_id[0], "webapp");
        db->clients = 1;
    }
    portcullis_string_free(secret);
    portcullis_oauth_client_free(client);
}

static void teardown(flow *f) {
    portcullis_oauth_store_free(f->store);
    portcullis_oauth_server_free(f->server);
    portcullis_checker_free(f->checker);
    portcullis_access_verifier_free(f->verifier);
    portcullis_policy_free(f->policy);
}

/* authorize → approve: the code (into code, 64 bytes), or "" */
static void get_code(flow *f, const char *scope, char *code) {
    char challenge[64], query[512];
    size_t len = 0;
    CHECK_OK(portcullis_pkce_s256(VERIFIER, strlen(VERIFIER), challenge, sizeof challenge, &len));
    snprintf(query, sizeof query,
             "response_type=code&client_id=webapp&redirect_uri=" REDIRECT_FMT
             "&scope=%s&state=s1&code_challenge=%s&code_challenge_method=S256", scope, challenge);
    portcullis_authorization *a = NULL;
    CHECK_OK(portcullis_oauth_authorize(f->server, query, strlen(query), f->store, &a));
    CHECK(portcullis_authorization_kind(a) == PORTCULLIS_AUTHORIZE_VALID, "authorization valid");
    CHECK(str_is(portcullis_authorization_client_id(a), "webapp"), "client id");
    CHECK(str_is(portcullis_authorization_state(a), "s1"), "state");
    CHECK(str_is(portcullis_authorization_redirect_uri(a), REDIRECT), "redirect uri");
    CHECK(portcullis_authorization_error(a).data == NULL && portcullis_authorization_location(a).data == NULL, "no error");
    note(f, "authorize scopes=%u\n", (unsigned)portcullis_authorization_scopes_len(a));
    char *location = NULL;
    size_t loc_len = 0;
    code[0] = '\0';
    CHECK_OK(portcullis_oauth_approve(f->server, a, "user_7", 6, NULL, 0, f->store, NOW, &location, &loc_len));
    if (location != NULL) {
        CHECK(strncmp(location, REDIRECT "?code=ac.", strlen(REDIRECT "?code=ac.")) == 0 && strstr(location, "&state=s1") != NULL,
              "approve location %s", location);
        const char *c = strstr(location, "code=");
        if (c != NULL) snprintf(code, 64, "%.*s", (int)strcspn(c + 5, "&"), c + 5);
        CHECK(strlen(location) == loc_len, "location length");
    }
    portcullis_string_free(location);
    portcullis_authorization_free(a);
}

/* POSTs `body` to an endpoint with the client's Basic credentials; notes the status and
 * the OAuth error; copies access/refresh tokens out when asked. */
typedef portcullis_result (*endpoint_fn)(const portcullis_oauth_server *, const char *, size_t,
                                         const char *, size_t, const portcullis_oauth_store *,
                                         uint64_t, portcullis_token_response **);

static unsigned post(flow *f, endpoint_fn fn, const char *body, uint64_t now, char *at, char *rt, int *active) {
    portcullis_token_response *r = NULL;
    CHECK_OK(fn(f->server, f->basic, strlen(f->basic), body, strlen(body), f->store, now, &r));
    unsigned status = portcullis_token_response_status(r);
    portcullis_str b = portcullis_token_response_body(r);
    CHECK(str_is(header(r, "Cache-Control"), "no-store") && str_is(header(r, "Pragma"), "no-cache") &&
              str_is(header(r, "Content-Type"), "application/json"),
          "response headers");
    CHECK(portcullis_token_response_header_name(r, 99).data == NULL, "header out of range");
    CHECK(!body_has(b, f->secret), "the client secret never appears in a response");
    char error[64];
    json_field(b, "error", error, sizeof error);
    note(f, "status=%u ", status);
    size_t n = strlen(f->transcript);
    snprintf(f->transcript + n, sizeof f->transcript - n, "error=%s\n", error);
    if (at) json_field(b, "access_token", at, 512);
    if (rt) json_field(b, "refresh_token", rt, 64);
    if (active) *active = body_has(b, "\"active\":true");
    portcullis_token_response_free(r);
    return status;
}

/* The access token through the checker: the status. */
static unsigned api(flow *f, const char *at, uint64_t now, const char *owner) {
    char auth[600];
    snprintf(auth, sizeof auth, "Bearer %s", at);
    portcullis_request req = make_request("GET", "/v1/claims", auth, NULL, true);
    portcullis_store *keys = NULL;
    CHECK_OK(portcullis_store_new(&keys));
    portcullis_decision *d = NULL;
    CHECK_OK(portcullis_checker_check_store(f->checker, &req, keys, now, &d));
    unsigned status = portcullis_decision_status(d);
    if (owner != NULL) CHECK(str_is(portcullis_decision_owner(d), owner), "owner");
    note(f, "api=%u\n", status);
    portcullis_decision_free(d);
    portcullis_store_free(keys);
    return status;
}

static void run_flow(const char *policy_path, host_db *db, char *transcript_out) {
    flow f;
    setup(&f, policy_path, db);
    char code[64], at[512], rt[64], at2[512], rt2[64], body[1024];
    int active = 0;

    /* Code exchange with HTTP Basic. */
    get_code(&f, "claims:read", code);
    snprintf(body, sizeof body, "grant_type=authorization_code&code=%s&redirect_uri=" REDIRECT_FMT "&code_verifier=" VERIFIER, code);
    CHECK(post(&f, portcullis_oauth_token, body, NOW, at, rt, NULL) == 200, "code exchange");
    CHECK(strncmp(at, "at.k1.", 6) == 0 && strncmp(rt, "rt.", 3) == 0, "tokens %s %s", at, rt);

    /* The access token in the same check as API keys; expired at exactly one hour. */
    CHECK(api(&f, at, NOW + 10, "user_7") == 200, "access token allowed");
    CHECK(api(&f, at, NOW + 3600, NULL) == 401, "access token expired after an hour");
    portcullis_access_claims *claims = NULL;
    CHECK_OK(portcullis_access_verifier_verify(f.verifier, at, strlen(at), NOW, &claims));
    CHECK(str_is(portcullis_access_claims_subject(claims), "user_7") && str_is(portcullis_access_claims_client_id(claims), "webapp") &&
              portcullis_access_claims_expires_at(claims) == NOW + 3600 && str_is(portcullis_access_claims_scope(claims, 0), "claims:read"),
          "claims of the issued token");
    portcullis_access_claims_free(claims);

    /* Refresh rotation, then reuse of the rotated token revokes the family. */
    snprintf(body, sizeof body, "grant_type=refresh_token&refresh_token=%s", rt);
    CHECK(post(&f, portcullis_oauth_token, body, NOW + 100, at2, rt2, NULL) == 200, "refresh");
    CHECK(strcmp(rt, rt2) != 0 && strncmp(rt2, "rt.", 3) == 0, "rotated refresh token");
    snprintf(body, sizeof body, "token=%s", rt2);
    post(&f, portcullis_oauth_introspect, body, NOW + 100, NULL, NULL, &active);
    CHECK(active, "new refresh token active");
    snprintf(body, sizeof body, "grant_type=refresh_token&refresh_token=%s", rt);
    CHECK(post(&f, portcullis_oauth_token, body, NOW + 200, NULL, NULL, NULL) == 400, "refresh reuse refused");
    CHECK(api(&f, at2, NOW + 200, NULL) == 401, "family revoked: access token refused");
    snprintf(body, sizeof body, "grant_type=refresh_token&refresh_token=%s", rt2);
    CHECK(post(&f, portcullis_oauth_token, body, NOW + 200, NULL, NULL, NULL) == 400, "family revoked: refresh refused");

    /* Revocation (RFC 7009) and introspection (RFC 7662). */
    get_code(&f, "claims:read", code);
    snprintf(body, sizeof body, "grant_type=authorization_code&code=%s&redirect_uri=" REDIRECT_FMT "&code_verifier=" VERIFIER, code);
    CHECK(post(&f, portcullis_oauth_token, body, NOW + 300, at, rt, NULL) == 200, "second grant");
    snprintf(body, sizeof body, "token=%s", at);
    post(&f, portcullis_oauth_introspect, body, NOW + 300, NULL, NULL, &active);
    CHECK(active, "access token active");
    snprintf(body, sizeof body, "token=%s&token_type_hint=refresh_token", rt);
    CHECK(post(&f, portcullis_oauth_revoke, body, NOW + 310, NULL, NULL, NULL) == 200, "revoke");
    snprintf(body, sizeof body, "token=%s", at);
    post(&f, portcullis_oauth_introspect, body, NOW + 320, NULL, NULL, &active);
    CHECK(!active, "access token inactive after revocation");
    CHECK(api(&f, at, NOW + 320, NULL) == 401, "revoked access token refused");
    CHECK(post(&f, portcullis_oauth_revoke, "token=rt.unknown", NOW + 320, NULL, NULL, NULL) == 200, "unknown token: 200");

    /* Code reuse: invalid_grant, and the tokens of the first use are revoked. */
    get_code(&f, "claims:read", code);
    snprintf(body, sizeof body, "grant_type=authorization_code&code=%s&redirect_uri=" REDIRECT_FMT "&code_verifier=" VERIFIER, code);
    CHECK(post(&f, portcullis_oauth_token, body, NOW + 400, at, rt, NULL) == 200, "third grant");
    CHECK(post(&f, portcullis_oauth_token, body, NOW + 401, NULL, NULL, NULL) == 400, "code reuse refused");
    CHECK(api(&f, at, NOW + 402, NULL) == 401, "code reuse revokes the family");

    /* PKCE downgrade and wrong verifier. */
    get_code(&f, "claims:read", code);
    snprintf(body, sizeof body, "grant_type=authorization_code&code=%s&redirect_uri=" REDIRECT_FMT
             "&code_verifier=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", code);
    CHECK(post(&f, portcullis_oauth_token, body, NOW + 500, NULL, NULL, NULL) == 400, "wrong verifier");
    /* The failed attempt did not burn the code: the right verifier still redeems it. */
    snprintf(body, sizeof body, "grant_type=authorization_code&code=%s&redirect_uri=" REDIRECT_FMT "&code_verifier=" VERIFIER, code);
    CHECK(post(&f, portcullis_oauth_token, body, NOW + 501, NULL, NULL, NULL) == 200, "code redeemable after a wrong verifier");

    /* Client authentication failure: 401 with WWW-Authenticate. */
    portcullis_token_response *r = NULL;
    const char *bad = "Basic d2ViYXBwOmNzLndyb25n"; /* webapp:cs.wrong */
    CHECK_OK(portcullis_oauth_token(f.server, bad, strlen(bad), "grant_type=refresh_token&refresh_token=x", 40, f.store, NOW, &r));
    CHECK(portcullis_token_response_status(r) == 401 && str_is(header(r, "WWW-Authenticate"), "Basic realm=\"claimport\""),
          "invalid_client: 401 + WWW-Authenticate");
    note(&f, "bad client=%u\n", portcullis_token_response_status(r));
    portcullis_token_response_free(r);

    /* Deny, narrowed consent, and the two refusals of authorize. */
    char query[512];
    snprintf(query, sizeof query, "response_type=code&client_id=webapp&redirect_uri=" REDIRECT_FMT
             "&scope=claims:read%%20claims:write&state=s2&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256");
    portcullis_authorization *a = NULL;
    CHECK_OK(portcullis_oauth_authorize(f.server, query, strlen(query), f.store, &a));
    CHECK(portcullis_authorization_scopes_len(a) == 2 && str_is(portcullis_authorization_scope(a, 1), "claims:write") &&
              portcullis_authorization_scope(a, 2).data == NULL, "consent asks for both scopes");
    char *location = NULL;
    CHECK_OK(portcullis_oauth_deny(f.server, a, &location, NULL));
    CHECK(location != NULL && strstr(location, "error=access_denied") != NULL && strstr(location, "state=s2") != NULL, "deny %s", location);
    portcullis_string_free(location);
    location = NULL;
    portcullis_str consented[] = {cstr("orders:read")};
    CHECK_RC(portcullis_oauth_approve(f.server, a, "user_7", 6, consented, 1, f.store, NOW, &location, NULL), PORTCULLIS_OAUTH_ACCESS_DENIED);
    CHECK(location == NULL, "no location on refusal");
    CHECK_OK(portcullis_oauth_error_redirect(f.server, a, PORTCULLIS_OAUTH_ACCESS_DENIED, &location, NULL));
    CHECK(location != NULL && strstr(location, "error=access_denied") != NULL, "error redirect");
    portcullis_string_free(location);
    portcullis_authorization_free(a);

    const char *bad_uri = "response_type=code&client_id=webapp&redirect_uri=https%3A%2F%2Fapp.example%2Fcb%2F&scope=claims:read";
    CHECK_OK(portcullis_oauth_authorize(f.server, bad_uri, strlen(bad_uri), f.store, &a));
    CHECK(portcullis_authorization_kind(a) == PORTCULLIS_AUTHORIZE_SHOW_ERROR && str_is(portcullis_authorization_error(a), "invalid_request") &&
              portcullis_authorization_location(a).data == NULL && portcullis_authorization_error_description(a).data != NULL,
          "redirect URI near miss: show, do not redirect");
    portcullis_authorization_free(a);
    const char *bad_type = "response_type=token&client_id=webapp&redirect_uri=" REDIRECT_ENC "&scope=claims:read&state=s3";
    CHECK_OK(portcullis_oauth_authorize(f.server, bad_type, strlen(bad_type), f.store, &a));
    portcullis_str loc = portcullis_authorization_location(a);
    CHECK(portcullis_authorization_kind(a) == PORTCULLIS_AUTHORIZE_REDIRECT && str_is(portcullis_authorization_error(a), "unsupported_response_type") &&
              loc.data != NULL && body_has(loc, "state=s3") && body_has(loc, "error=unsupported_response_type"),
          "unsupported response type: redirect");
    CHECK(portcullis_authorization_client_id(a).data == NULL && portcullis_authorization_scopes_len(a) == 0, "no request fields when refused");
    CHECK_RC(portcullis_oauth_deny(f.server, a, &location, NULL), PORTCULLIS_INVALID_ARGUMENT);
    portcullis_authorization_free(a);

    /* revoke_family through the server. */
    CHECK_OK(portcullis_oauth_revoke_family(f.server, "familY0000000009", 16, f.store, NOW));
    CHECK(portcullis_access_verifier_is_family_revoked(f.verifier, "familY0000000009", 16), "family revoked in the verifier");

    snprintf(transcript_out, 4096, "%s", f.transcript);
    teardown(&f);
}

/* ---- bad input ---- */

static void null_everywhere(const char *policy_path) {
    flow f;
    setup(&f, policy_path, NULL);
    portcullis_token_response *r = NULL;
    portcullis_authorization *a = NULL;
    portcullis_access_claims *c = NULL;
    char *s = NULL;
    const char *q = "response_type=code";
    CHECK_RC(portcullis_oauth_token(NULL, NULL, 0, "", 0, f.store, NOW, &r), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_oauth_token(f.server, NULL, 0, NULL, 0, f.store, NOW, &r), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_oauth_token(f.server, NULL, 0, "", 0, NULL, NOW, &r), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_oauth_token(f.server, NULL, 0, "", 0, f.store, NOW, NULL), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_oauth_revoke(f.server, NULL, 0, "", 0, NULL, NOW, &r), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_oauth_introspect(f.server, NULL, 0, NULL, 0, f.store, NOW, &r), PORTCULLIS_NULL_PARAMETER);
    CHECK(r == NULL, "no response written on error");
    CHECK_RC(portcullis_oauth_authorize(NULL, q, strlen(q), f.store, &a), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_oauth_authorize(f.server, NULL, 0, f.store, &a), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_oauth_authorize(f.server, q, strlen(q), f.store, NULL), PORTCULLIS_NULL_PARAMETER);
    CHECK(a == NULL, "no authorization written on error");
    CHECK_RC(portcullis_oauth_approve(f.server, NULL, "u", 1, NULL, 0, f.store, NOW, &s, NULL), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_oauth_deny(NULL, NULL, &s, NULL), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_oauth_error_redirect(f.server, NULL, PORTCULLIS_OAUTH_SERVER_ERROR, &s, NULL), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_oauth_revoke_family(f.server, NULL, 16, f.store, NOW), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_oauth_revoke_family(f.server, "short", 5, f.store, NOW), PORTCULLIS_KEY_LENGTH);
    CHECK(s == NULL, "no string written on error");
    /* A NULL config takes the policy's [oauth] section (json_bodies); a NULL policy fails. */
    CHECK_RC(portcullis_oauth_server_new(NULL, NULL, f.verifier, "r", 1, &f.server), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_oauth_store_new_memory(NULL), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_oauth_store_new_callbacks(NULL, NULL), PORTCULLIS_NULL_PARAMETER);
    portcullis_oauth_callbacks cb;
    memset(&cb, 0, sizeof cb);
    portcullis_oauth_store *st = NULL;
    CHECK_RC(portcullis_oauth_store_new_callbacks(&cb, &st), PORTCULLIS_NULL_PARAMETER);
    CHECK(st == NULL, "no store from NULL callbacks");
    CHECK_RC(portcullis_oauth_store_add_client(f.store, NULL), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_oauth_store_purge_codes(NULL, NOW), PORTCULLIS_NULL_PARAMETER);
    CHECK_OK(portcullis_oauth_store_purge_codes(f.store, NOW));
    CHECK_RC(portcullis_oauth_answer_set_record(NULL, "{}", 2), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_access_keys_new(NULL, 0, NULL, 0, NULL), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_access_verifier_new(NULL, f.policy, NULL), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_access_verifier_verify(f.verifier, NULL, 0, NOW, &c), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_access_verifier_verify(NULL, "at.", 3, NOW, &c), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_access_verifier_set_epoch(NULL, 1), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_access_verifier_revoke_family(f.verifier, NULL, 0), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_access_claims_new(f.policy, NULL, &c), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_access_keys_sign(NULL, NULL, NULL, &s, NULL), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_checker_new_with_access_tokens(f.policy, NULL, f.verifier, NULL), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_oauth_client_new_public(NULL, 0, false, NULL, 0, NULL, 0, NULL), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_oauth_client_new_from_json(NULL, 0, NULL), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_oauth_client_to_json(NULL, &s, NULL), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_pkce_verify(NULL, 0, "", 0, "", 0, NULL), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_oauth_token_hash(NULL, 0, NULL), PORTCULLIS_NULL_PARAMETER);
    CHECK(c == NULL && s == NULL, "nothing written on error");
    /* Accessors answer defaults for NULL; every _free accepts NULL. */
    CHECK(portcullis_token_response_status(NULL) == 0 && portcullis_token_response_headers_len(NULL) == 0 &&
              portcullis_token_response_body(NULL).data == NULL && portcullis_token_response_header_value(NULL, 0).data == NULL,
          "response accessors on NULL");
    CHECK(portcullis_authorization_kind(NULL) == PORTCULLIS_AUTHORIZE_SHOW_ERROR && portcullis_authorization_error(NULL).data == NULL &&
              portcullis_authorization_scopes_len(NULL) == 0 && portcullis_authorization_state(NULL).data == NULL,
          "authorization accessors on NULL");
    CHECK(portcullis_access_claims_subject(NULL).data == NULL && portcullis_access_claims_issued_at(NULL) == 0 &&
              portcullis_access_claims_scope(NULL, 0).data == NULL && portcullis_access_verifier_epoch(NULL) == 0 &&
              portcullis_access_verifier_family_count(NULL) == 0 && !portcullis_access_verifier_is_family_revoked(NULL, "x", 1) &&
              portcullis_access_keys_primary_id(NULL).data == NULL && portcullis_oauth_client_id(NULL).data == NULL &&
              !portcullis_oauth_client_is_confidential(NULL),
          "access accessors on NULL");
    portcullis_token_response_free(NULL);
    portcullis_authorization_free(NULL);
    portcullis_access_claims_free(NULL);
    portcullis_access_verifier_free(NULL);
    portcullis_access_keys_free(NULL);
    portcullis_oauth_client_free(NULL);
    portcullis_oauth_store_free(NULL);
    portcullis_oauth_server_free(NULL);
    teardown(&f);
}

static void wrong_input(const char *policy_path) {
    flow f;
    setup(&f, policy_path, NULL);
    const char bad_utf8[] = "grant_type=\xff\xfe";
    portcullis_token_response *r = NULL;
    portcullis_authorization *a = NULL;
    CHECK_RC(portcullis_oauth_token(f.server, NULL, 0, bad_utf8, sizeof bad_utf8 - 1, f.store, NOW, &r), PORTCULLIS_INVALID_UTF8);
    CHECK_RC(portcullis_oauth_token(f.server, bad_utf8, sizeof bad_utf8 - 1, "", 0, f.store, NOW, &r), PORTCULLIS_INVALID_UTF8);
    /* A query that is not UTF-8 is a refusal the engine decides (a 400 page), not an error. */
    CHECK_OK(portcullis_oauth_authorize(f.server, bad_utf8, sizeof bad_utf8 - 1, f.store, &a));
    CHECK(portcullis_authorization_kind(a) == PORTCULLIS_AUTHORIZE_SHOW_ERROR && str_is(portcullis_authorization_error(a), "invalid_request"),
          "non-UTF-8 query shown as invalid_request");
    portcullis_authorization_free(a);
    a = NULL;
    CHECK_RC(portcullis_oauth_token(f.server, NULL, 0, "x", SIZE_MAX, f.store, NOW, &r), PORTCULLIS_INVALID_LENGTH);
    /* The host answers what the engine could not read with the engine's own 400. */
    CHECK_OK(portcullis_oauth_error_response(f.server, PORTCULLIS_OAUTH_INVALID_REQUEST, &r));
    char field[64];
    json_field(portcullis_token_response_body(r), "error", field, sizeof field);
    CHECK(portcullis_token_response_status(r) == 400 && strcmp(field, "invalid_request") == 0 &&
              str_is(header(r, "Cache-Control"), "no-store"),
          "error response: %u %s", portcullis_token_response_status(r), field);
    portcullis_token_response_free(r);
    CHECK_OK(portcullis_oauth_error_response(f.server, PORTCULLIS_OAUTH_INVALID_CLIENT, &r));
    CHECK(portcullis_token_response_status(r) == 401 && header(r, "WWW-Authenticate").data != NULL,
          "invalid_client: %u", portcullis_token_response_status(r));
    portcullis_token_response_free(r);
    r = NULL;
    CHECK_RC(portcullis_oauth_error_response(f.server, PORTCULLIS_INVALID_UTF8, &r), PORTCULLIS_INVALID_ARGUMENT);
    CHECK_RC(portcullis_oauth_error_response(NULL, PORTCULLIS_OAUTH_INVALID_REQUEST, &r), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_oauth_error_response(f.server, PORTCULLIS_OAUTH_INVALID_REQUEST, NULL), PORTCULLIS_NULL_PARAMETER);
    CHECK(r == NULL, "untouched on error");
    /* Garbage bodies are responses, not crashes. */
    const char *garbage[] = {"", "&&&", "grant_type=authorization_code&grant_type=refresh_token", "%zz", "grant_type=password"};
    for (size_t i = 0; i < sizeof garbage / sizeof *garbage; i++) {
        CHECK_OK(portcullis_oauth_token(f.server, f.basic, strlen(f.basic), garbage[i], strlen(garbage[i]), f.store, NOW, &r));
        CHECK(portcullis_token_response_status(r) == 400, "garbage body %zu: %u", i, portcullis_token_response_status(r));
        portcullis_token_response_free(r);
        r = NULL;
    }

    /* Access keys: bad id, short secret, duplicate, removing the primary. */
    uint8_t k[40];
    memset(k, 1, sizeof k);
    portcullis_access_keys *keys = NULL;
    CHECK_RC(portcullis_access_keys_new("k_1", 3, k, 32, &keys), PORTCULLIS_ACCESS_KEY_BAD_ID);
    CHECK_RC(portcullis_access_keys_new("k1", 2, k, 31, &keys), PORTCULLIS_ACCESS_KEY_TOO_SHORT);
    CHECK(keys == NULL, "no keys on error");
    CHECK_OK(portcullis_access_keys_new("k1", 2, k, 32, &keys));
    CHECK_RC(portcullis_access_keys_add(keys, "k1", 2, k, 40), PORTCULLIS_ACCESS_KEY_DUPLICATE);
    CHECK_RC(portcullis_access_keys_remove(keys, "k1", 2), PORTCULLIS_ACCESS_KEY_UNKNOWN);
    CHECK_RC(portcullis_access_keys_set_primary(keys, "k2", 2), PORTCULLIS_ACCESS_KEY_UNKNOWN);
    CHECK_OK(portcullis_access_keys_add(keys, "k2", 2, k, 40));
    CHECK_OK(portcullis_access_keys_set_primary(keys, "k2", 2));
    CHECK_OK(portcullis_access_keys_remove(keys, "k1", 2));
    CHECK(str_is(portcullis_access_keys_primary_id(keys), "k2"), "primary k2");
    /* A verifier with other keys refuses the server's tokens; another catalog is refused. */
    portcullis_access_verifier *other = NULL;
    CHECK_OK(portcullis_access_verifier_new(keys, f.policy, &other));
    portcullis_access_keys_free(keys);
    portcullis_access_claims *c = NULL;
    const char *garbage_token = "at.k1.AAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    CHECK_RC(portcullis_access_verifier_verify(other, garbage_token, strlen(garbage_token), NOW, &c), PORTCULLIS_ACCESS_TOKEN_UNKNOWN_KEY);
    CHECK_RC(portcullis_access_verifier_decode(other, "at.", 3, &c), PORTCULLIS_ACCESS_TOKEN_MALFORMED);
    CHECK_RC(portcullis_access_verifier_decode(other, "\xff\x00", 2, &c), PORTCULLIS_ACCESS_TOKEN_MALFORMED);
    CHECK(c == NULL, "no claims on error");
    portcullis_policy *small = NULL;
    const char *toml = "[[scopes]]\nname = \"a:b\"\ndescription = \"A\"\n";
    CHECK_OK(portcullis_policy_new_from_toml(toml, strlen(toml), &small));
    portcullis_oauth_config config = portcullis_oauth_config_default();
    portcullis_oauth_server *s2 = NULL;
    CHECK_RC(portcullis_oauth_server_new(&config, small, other, "r", 1, &s2), PORTCULLIS_INVALID_ARGUMENT);
    config.default_scope.data = "\xff";
    config.default_scope.len = 1;
    CHECK_RC(portcullis_oauth_server_new(&config, f.policy, other, "r", 1, &s2), PORTCULLIS_INVALID_UTF8);
    CHECK(s2 == NULL, "no server on error");
    portcullis_policy_free(small);
    portcullis_access_verifier_free(other);

    /* Clock skew: 60 s by default, configurable. */
    portcullis_str read[] = {cstr("claims:read")};
    portcullis_access_claims_fields good = {cstr("user_7"), cstr("webapp"), read, 1, NOW, NOW + 3600, cstr("tokenX0000000001"), cstr("familY0000000001")};
    CHECK_OK(portcullis_access_claims_new(f.policy, &good, &c));
    CHECK_OK(portcullis_access_keys_new("k1", 2, k, 32, &keys));
    char *token = NULL;
    size_t token_len = 0;
    CHECK_OK(portcullis_access_keys_sign(keys, c, f.policy, &token, &token_len));
    portcullis_access_claims_free(c);
    c = NULL;
    portcullis_access_verifier *strict = NULL, *lenient = NULL;
    CHECK_OK(portcullis_access_verifier_new_with_skew(keys, f.policy, 0, &strict));
    CHECK_OK(portcullis_access_verifier_new(keys, f.policy, &lenient));
    portcullis_access_keys_free(keys);
    CHECK_RC(portcullis_access_verifier_verify(strict, token, token_len, NOW - 1, &c), PORTCULLIS_ACCESS_TOKEN_NOT_YET_VALID);
    CHECK_RC(portcullis_access_verifier_verify(lenient, token, token_len, NOW - 61, &c), PORTCULLIS_ACCESS_TOKEN_NOT_YET_VALID);
    CHECK_OK(portcullis_access_verifier_verify(lenient, token, token_len, NOW - 60, &c));
    portcullis_access_claims_free(c);
    c = NULL;
    CHECK_OK(portcullis_access_verifier_verify(strict, token, token_len, NOW, &c));
    portcullis_access_claims_free(c);
    c = NULL;
    /* Revocation by epoch and family; forgetting the family lifts it. */
    CHECK_OK(portcullis_access_verifier_revoke_family(strict, "familY0000000001", 16));
    CHECK_RC(portcullis_access_verifier_verify(strict, token, token_len, NOW, &c), PORTCULLIS_ACCESS_TOKEN_REVOKED);
    CHECK_OK(portcullis_access_verifier_forget_family(strict, "familY0000000001", 16));
    CHECK(portcullis_access_verifier_family_count(strict) == 0, "family forgotten");
    CHECK_OK(portcullis_access_verifier_set_epoch(strict, NOW + 1));
    CHECK_OK(portcullis_access_verifier_set_epoch(strict, NOW - 100));
    CHECK(portcullis_access_verifier_epoch(strict) == NOW + 1, "the epoch only moves forward");
    CHECK_RC(portcullis_access_verifier_verify(strict, token, token_len, NOW, &c), PORTCULLIS_ACCESS_TOKEN_REVOKED);
    CHECK_OK(portcullis_access_verifier_decode(strict, token, token_len, &c));
    CHECK(str_is(portcullis_access_claims_subject(c), "user_7"), "decode ignores revocations");
    portcullis_access_claims_free(c);
    c = NULL;
    portcullis_string_free(token);
    portcullis_access_verifier_free(strict);
    portcullis_access_verifier_free(lenient);

    /* Claims with a bad id or an unknown scope. */
    portcullis_str scopes[] = {cstr("nope:nope")};
    portcullis_access_claims_fields fields = {cstr("u"), cstr("c"), scopes, 1, NOW, NOW + 1, cstr("tokenX0000000001"), cstr("familY0000000001")};
    CHECK_RC(portcullis_access_claims_new(f.policy, &fields, &c), PORTCULLIS_ISSUE_UNKNOWN_SCOPE);
    fields.scopes_len = 0;
    fields.family = cstr("short");
    CHECK_RC(portcullis_access_claims_new(f.policy, &fields, &c), PORTCULLIS_KEY_LENGTH);
    CHECK(c == NULL, "no claims on error");

    /* Clients: bad id, http redirect, no redirect, bad JSON, a public client with a hash. */
    portcullis_oauth_client *client = NULL;
    portcullis_str http[] = {cstr("http://app.example/cb")}, ok[] = {cstr(REDIRECT)};
    CHECK_RC(portcullis_oauth_client_new_public("a:b", 3, false, ok, 1, NULL, 0, &client), PORTCULLIS_CLIENT_BAD_ID);
    CHECK_RC(portcullis_oauth_client_new_public("spa", 3, false, http, 1, NULL, 0, &client), PORTCULLIS_CLIENT_BAD_REDIRECT_URI);
    CHECK_RC(portcullis_oauth_client_new_public("spa", 3, false, NULL, 0, NULL, 0, &client), PORTCULLIS_CLIENT_NO_REDIRECT_URI);
    CHECK_RC(portcullis_oauth_client_new_public("spa", 3, false, NULL, 1, NULL, 0, &client), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_oauth_client_new_from_json("{", 1, &client), PORTCULLIS_CLIENT_BAD_JSON);
    const char *hashed = "{\"id\":\"spa\",\"client_type\":\"public\",\"redirect_uris\":[\"" REDIRECT "\"],"
                         "\"allowed_scopes\":[],\"secret_hash\":\"sha256$x\"}";
    CHECK_RC(portcullis_oauth_client_new_from_json(hashed, strlen(hashed), &client), PORTCULLIS_CLIENT_SECRET);
    CHECK(client == NULL, "no client on error");
    CHECK_OK(portcullis_oauth_client_new_public("spa", 3, true, ok, 1, NULL, 0, &client));
    char *json = NULL;
    size_t json_len = 0;
    CHECK_OK(portcullis_oauth_client_to_json(client, &json, &json_len));
    portcullis_oauth_client *back = NULL;
    CHECK_OK(portcullis_oauth_client_new_from_json(json, json_len, &back));
    CHECK(str_is(portcullis_oauth_client_id(back), "spa") && !portcullis_oauth_client_is_confidential(back), "client JSON round trip");
    portcullis_string_free(json);
    portcullis_oauth_client_free(back);
    portcullis_oauth_client_free(client);

    /* Small buffers, unknown method, non-OAuth codes, non-token hashes. */
    char buf[8];
    size_t len = 0;
    CHECK_RC(portcullis_pkce_s256(VERIFIER, strlen(VERIFIER), buf, sizeof buf, &len), PORTCULLIS_BUFFER_TOO_SMALL);
    CHECK(len == 43, "needed length reported: %zu", len);
    CHECK_RC(portcullis_pkce_s256(VERIFIER, strlen(VERIFIER), NULL, 0, &len), PORTCULLIS_BUFFER_TOO_SMALL);
    bool m = false;
    CHECK_RC(portcullis_pkce_verify("S512", 4, "x", 1, VERIFIER, strlen(VERIFIER), &m), PORTCULLIS_INVALID_ARGUMENT);
    uint8_t hash[32];
    CHECK_RC(portcullis_oauth_token_hash("rt.short", 8, hash), PORTCULLIS_INVALID_ARGUMENT);
    CHECK_RC(portcullis_oauth_token_hash("\xff", 1, hash), PORTCULLIS_INVALID_UTF8);
    char msg[256];
    CHECK_OK(portcullis_last_error(msg, sizeof msg, &len));
    CHECK(strcmp(portcullis_result_name(PORTCULLIS_OAUTH_INVALID_GRANT), "PORTCULLIS_OAUTH_INVALID_GRANT") == 0 &&
              strcmp(portcullis_result_message(PORTCULLIS_OAUTH_INVALID_GRANT), "invalid_grant") == 0 &&
              strcmp(portcullis_result_message(PORTCULLIS_ACCESS_TOKEN_EXPIRED), "access token expired") == 0,
          "names and messages of the new codes");
    teardown(&f);
}

/* The database fails, or answers garbage: endpoints answer server_error, never crash. */
static void failing_callbacks(const char *policy_path) {
    host_db db;
    memset(&db, 0, sizeof db);
    flow f;
    setup(&f, policy_path, &db);
    char code[64], at[512], rt[64], body[1024];
    get_code(&f, "claims:read", code);
    snprintf(body, sizeof body, "grant_type=authorization_code&code=%s&redirect_uri=" REDIRECT_FMT "&code_verifier=" VERIFIER, code);

    db.fail = 1;
    CHECK(post(&f, portcullis_oauth_token, body, NOW, NULL, NULL, NULL) == 500, "client lookup fails: 500");
    portcullis_authorization *a = NULL;
    const char *q = "response_type=code&client_id=webapp&redirect_uri=" REDIRECT_ENC "&scope=claims:read&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";
    CHECK_OK(portcullis_oauth_authorize(f.server, q, strlen(q), f.store, &a));
    CHECK(portcullis_authorization_kind(a) != PORTCULLIS_AUTHORIZE_VALID && str_is(portcullis_authorization_error(a), "server_error"),
          "authorize with a failing store: server_error");
    portcullis_authorization_free(a);
    db.fail = 0;
    CHECK_OK(portcullis_oauth_authorize(f.server, q, strlen(q), f.store, &a));
    db.fail = 1;
    char *location = NULL;
    CHECK_RC(portcullis_oauth_approve(f.server, a, "user_7", 6, NULL, 0, f.store, NOW, &location, NULL), PORTCULLIS_OAUTH_SERVER_ERROR);
    char detail[256];
    size_t dlen = 0;
    CHECK_OK(portcullis_last_error(detail, sizeof detail, &dlen));
    CHECK(strstr(detail, "server_error") != NULL, "detail: %s", detail);
    CHECK_OK(portcullis_oauth_error_redirect(f.server, a, PORTCULLIS_OAUTH_SERVER_ERROR, &location, NULL));
    CHECK(location != NULL && strstr(location, "error=server_error") != NULL, "server_error redirect");
    portcullis_string_free(location);
    CHECK_RC(portcullis_oauth_error_redirect(f.server, a, PORTCULLIS_KEY_SHAPE, &location, NULL), PORTCULLIS_INVALID_ARGUMENT);
    /* Token-endpoint codes are not authorization errors (RFC 6749 4.1.2.1). */
    CHECK_RC(portcullis_oauth_error_redirect(f.server, a, PORTCULLIS_OAUTH_INVALID_GRANT, &location, NULL), PORTCULLIS_INVALID_ARGUMENT);
    CHECK_RC(portcullis_oauth_error_redirect(f.server, a, PORTCULLIS_OAUTH_INVALID_CLIENT, &location, NULL), PORTCULLIS_INVALID_ARGUMENT);
    portcullis_authorization_free(a);
    db.fail = 0;

    /* Garbage client JSON from the database: server_error, not a crash. */
    db.bad_json = 1;
    CHECK(post(&f, portcullis_oauth_token, body, NOW, NULL, NULL, NULL) == 500, "bad client JSON: 500");
    db.bad_json = 0;

    /* A database answering another client than asked: refused, not authenticated. */
    db.any_client = 1;
    portcullis_token_response *resp = NULL;
    const char *intruder = "Basic aW50cnVkZXI6eA=="; /* intruder:x */
    CHECK_OK(portcullis_oauth_token(f.server, intruder, strlen(intruder), body, strlen(body), f.store, NOW, &resp));
    CHECK(portcullis_token_response_status(resp) == 500, "another client answered: %u", portcullis_token_response_status(resp));
    portcullis_token_response_free(resp);
    db.any_client = 0;

    /* The code still works after the failures (consume was never reached). */
    CHECK(post(&f, portcullis_oauth_token, body, NOW, at, rt, NULL) == 200, "exchange after recovery");
    /* A failing refresh lookup and garbage refresh JSON. */
    snprintf(body, sizeof body, "grant_type=refresh_token&refresh_token=%s", rt);
    int calls = db.calls;
    db.fail = 1;
    unsigned st = post(&f, portcullis_oauth_token, body, NOW + 5, NULL, NULL, NULL);
    CHECK(st == 500, "refresh with the database down: %u", st);
    CHECK(db.calls > calls, "the callbacks were called");
    db.fail = 0;
    /* bad_json answers garbage for client lookups too; only refresh is checked here. */
    snprintf(body, sizeof body, "token=%s", rt);
    int active = 1;
    db.bad_json = 1;
    st = post(&f, portcullis_oauth_introspect, body, NOW + 5, NULL, NULL, &active);
    CHECK(st == 500 && !active, "introspect with garbage records: %u", st);
    db.bad_json = 0;
    teardown(&f);
    db_free(&db);
}

/* ---- races: the same code or refresh token presented by several threads at once ---- */

#define RACERS 6

typedef struct {
    flow *f;
    const char *body;
    pthread_barrier_t *start;
    unsigned status;
} racer;

static void *race_one(void *arg) {
    racer *r = arg;
    pthread_barrier_wait(r->start);
    portcullis_token_response *resp = NULL;
    if (portcullis_oauth_token(r->f->server, r->f->basic, strlen(r->f->basic), r->body, strlen(r->body),
                               r->f->store, NOW + 50, &resp) == PORTCULLIS_OK)
        r->status = portcullis_token_response_status(resp);
    portcullis_token_response_free(resp);
    return NULL;
}

/* Runs RACERS threads posting `body`; returns how many got 200 (the rest must get 400). */
static int race(flow *f, const char *body) {
    pthread_t threads[RACERS];
    racer racers[RACERS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, RACERS);
    for (int i = 0; i < RACERS; i++) {
        racers[i] = (racer){f, body, &start, 0};
        pthread_create(&threads[i], NULL, race_one, &racers[i]);
    }
    int won = 0;
    for (int i = 0; i < RACERS; i++) {
        pthread_join(threads[i], NULL);
        won += racers[i].status == 200;
        CHECK(racers[i].status == 200 || racers[i].status == 400, "racer status %u", racers[i].status);
    }
    pthread_barrier_destroy(&start);
    return won;
}

static void races(const char *policy_path, int rounds, int with_db) {
    for (int round = 0; round < rounds; round++) {
        flow f;
        host_db db;
        memset(&db, 0, sizeof db);
        setup(&f, policy_path, with_db ? &db : NULL);
        const char *how = with_db ? "callback store" : "memory store";
        char code[64], rt[64], body[1024];
        get_code(&f, "claims:read", code);
        snprintf(body, sizeof body, "grant_type=authorization_code&code=%s&redirect_uri=" REDIRECT_FMT "&code_verifier=" VERIFIER, code);
        CHECK(race(&f, body) == 1, "%s round %d: exactly one thread exchanges a code", how, round);
        get_code(&f, "claims:read", code);
        snprintf(body, sizeof body, "grant_type=authorization_code&code=%s&redirect_uri=" REDIRECT_FMT "&code_verifier=" VERIFIER, code);
        CHECK(post(&f, portcullis_oauth_token, body, NOW, NULL, rt, NULL) == 200, "exchange");
        snprintf(body, sizeof body, "grant_type=refresh_token&refresh_token=%s", rt);
        CHECK(race(&f, body) == 1, "%s round %d: exactly one thread rotates a refresh token", how, round);
        teardown(&f);
        db_free(&db);
    }
}

/* ---- request bodies with their Content-Type (issue #16) ---- */

/* POSTs raw bytes with a Content-Type to a content-type-aware endpoint; returns the status,
 * copies error, error_description and refresh_token (64, 256 and 64 bytes) out. */
typedef portcullis_result (*request_fn)(const portcullis_oauth_server *, const portcullis_oauth_request *,
                                        const portcullis_oauth_store *, uint64_t,
                                        portcullis_token_response **);

static unsigned post_typed(const portcullis_oauth_server *server, const portcullis_oauth_store *store,
                           request_fn fn, const char *auth, size_t auth_len, const char *type,
                           const char *body, size_t body_len, char *error, char *description, char *rt) {
    portcullis_token_response *r = NULL;
    portcullis_oauth_request req = {
        .authorization = auth, .authorization_len = auth_len,
        .content_type = type, .content_type_len = type ? strlen(type) : 0,
        .body = body, .body_len = body_len,
    };
    CHECK_OK(fn(server, &req, store, NOW, &r));
    unsigned status = portcullis_token_response_status(r);
    portcullis_str b = portcullis_token_response_body(r);
    CHECK(str_is(header(r, "Cache-Control"), "no-store"), "no-store");
    json_field(b, "error", error, 64);
    json_field(b, "error_description", description, 256);
    if (rt) json_field(b, "refresh_token", rt, 64);
    portcullis_token_response_free(r);
    return status;
}

static void json_bodies(const char *policy_path) {
    flow f;
    setup(&f, policy_path, NULL);
    /* NULL config: the policy's [oauth] section, which lets ClaimPort's clients send their
     * secret in the body. */
    portcullis_oauth_server *product = NULL;
    CHECK_OK(portcullis_oauth_server_new(NULL, f.policy, f.verifier, "claimport", 9, &product));
    char code[64], error[64], description[256], rt[64], body[1024];
    get_code(&f, "claims:read", code);
    const char *json = "application/json";
    static const char *bad_bodies[] = {
        "{\"grant_type\": \"authorization_code\", \"code\": {\"a\": \"b\"}}",
        "{\"grant_type\": \"authorization_code\", \"code\": 5}",
        "{\"grant_type\": \"authorization_code\", \"code\": null}",
        "{\"grant_type\": \"authorization_code\", \"grant_type\": \"refresh_token\"}",
        "grant_type=authorization_code&client_id=webapp",
        "{\"grant_type\": \"authorization_code\"",
    };
    for (size_t i = 0; i < sizeof bad_bodies / sizeof *bad_bodies; i++) {
        unsigned st = post_typed(product, f.store, portcullis_oauth_token_request, NULL, 0, json,
                                 bad_bodies[i], strlen(bad_bodies[i]), error, description, NULL);
        CHECK(st == 400 && strcmp(error, "invalid_request") == 0 && description[0] != '\0',
              "JSON edge case %zu: %u %s %s", i, st, error, description);
    }
    snprintf(body, sizeof body,
             "{\"grant_type\": \"authorization_code\", \"code\": \"%s\", \"client_id\": \"webapp\", "
             "\"client_secret\": \"%s\", \"code_verifier\": \"" VERIFIER "\"}", code, f.secret);
    /* The same JSON as form, under another type, with no type, and with a byte that is not
     * UTF-8: each a 400 response (never PORTCULLIS_INVALID_UTF8), none consumes the code. */
    unsigned st = post_typed(product, f.store, portcullis_oauth_token_request, NULL, 0,
                             "application/x-www-form-urlencoded", body, strlen(body), error, description, NULL);
    CHECK(st == 400 && strstr(description, "send Content-Type: application/json") != NULL, "JSON as form: %s", description);
    st = post_typed(product, f.store, portcullis_oauth_token_request, NULL, 0, "text/plain", body, strlen(body), error, description, NULL);
    CHECK(st == 400 && strstr(description, "application/x-www-form-urlencoded or application/json") != NULL, "text/plain: %s", description);
    st = post_typed(product, f.store, portcullis_oauth_token_request, NULL, 0, NULL, body, strlen(body), error, description, NULL);
    CHECK(st == 400 && strcmp(error, "invalid_request") == 0, "no Content-Type: %s", description);
    char not_utf8[1100];
    snprintf(not_utf8, sizeof not_utf8, "%s", body);
    not_utf8[strlen(not_utf8) - 2] = (char)0xff;
    st = post_typed(product, f.store, portcullis_oauth_token_request, NULL, 0, json, not_utf8, strlen(not_utf8), error, description, NULL);
    CHECK(st == 400 && strcmp(description, "The request body is not UTF-8") == 0, "not UTF-8: %s", description);
    const char bad_header[] = "Basic \xff\xfe";
    st = post_typed(product, f.store, portcullis_oauth_token_request, bad_header, sizeof bad_header - 1, json,
                    "{\"grant_type\": \"refresh_token\"}", 31, error, description, NULL);
    CHECK(st == 401 && strcmp(error, "invalid_client") == 0, "a non-UTF-8 Authorization header is invalid_client: %u", st);
    /* The default engine refuses body credentials; the product's accepts them. */
    st = post_typed(f.server, f.store, portcullis_oauth_token_request, NULL, 0, json, body, strlen(body), error, description, NULL);
    CHECK(st == 401 && strcmp(error, "invalid_client") == 0, "body credentials off by default: %s", description);
    st = post_typed(product, f.store, portcullis_oauth_token_request, NULL, 0, "application/json; charset=utf-8",
                    body, strlen(body), error, description, rt);
    CHECK(st == 200 && strncmp(rt, "rt.", 3) == 0, "JSON code exchange with body credentials: %u %s", st, description);
    /* A confidential client refreshing with client_id alone is told to send its secret. */
    char refresh[256];
    snprintf(refresh, sizeof refresh, "{\"grant_type\": \"refresh_token\", \"refresh_token\": \"%s\", \"client_id\": \"webapp\"}", rt);
    st = post_typed(product, f.store, portcullis_oauth_token_request, NULL, 0, json, refresh, strlen(refresh), error, description, NULL);
    CHECK(st == 401 && strncmp(description, "This client must send its client_secret", 39) == 0, "refresh without secret: %s", description);
    /* Introspection and revocation read JSON too. */
    snprintf(body, sizeof body, "{\"token\": \"%s\", \"client_id\": \"webapp\", \"client_secret\": \"%s\"}", rt, f.secret);
    portcullis_token_response *r = NULL;
    portcullis_oauth_request req = {
        .content_type = json, .content_type_len = strlen(json), .body = body, .body_len = strlen(body),
    };
    CHECK_OK(portcullis_oauth_introspect_request(product, &req, f.store, NOW, &r));
    CHECK(portcullis_token_response_status(r) == 200 && body_has(portcullis_token_response_body(r), "\"active\":true"), "introspect JSON");
    portcullis_token_response_free(r);
    st = post_typed(product, f.store, portcullis_oauth_revoke_request, NULL, 0, json, body, strlen(body), error, description, NULL);
    CHECK(st == 200, "revoke JSON: %u %s", st, description);
    st = post_typed(product, f.store, portcullis_oauth_introspect_request, NULL, 0, "text/plain", body, strlen(body), error, description, NULL);
    CHECK(st == 400 && strcmp(error, "invalid_request") == 0, "introspect text/plain");
    /* NULL and length checks. */
    portcullis_oauth_request empty = { .body = "", .body_len = 0 };
    portcullis_oauth_request no_body = { .body = NULL, .body_len = 0 };
    portcullis_oauth_request huge_type = { .content_type = json, .content_type_len = SIZE_MAX, .body = "", .body_len = 0 };
    portcullis_oauth_request huge_auth = { .authorization = "Basic", .authorization_len = SIZE_MAX, .body = "", .body_len = 0 };
    portcullis_oauth_request huge_body = { .content_type = json, .content_type_len = strlen(json), .body = "", .body_len = SIZE_MAX };
    CHECK_RC(portcullis_oauth_token_request(NULL, &empty, f.store, NOW, &r), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_oauth_token_request(product, NULL, f.store, NOW, &r), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_oauth_revoke_request(product, NULL, f.store, NOW, &r), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_oauth_introspect_request(product, NULL, f.store, NOW, &r), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_oauth_token_request(product, &no_body, f.store, NOW, &r), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_oauth_token_request(product, &empty, NULL, NOW, &r), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_oauth_revoke_request(product, &empty, f.store, NOW, NULL), PORTCULLIS_NULL_PARAMETER);
    CHECK_RC(portcullis_oauth_introspect_request(product, &huge_type, f.store, NOW, &r), PORTCULLIS_INVALID_LENGTH);
    CHECK_RC(portcullis_oauth_token_request(product, &huge_auth, f.store, NOW, &r), PORTCULLIS_INVALID_LENGTH);
    CHECK_RC(portcullis_oauth_revoke_request(product, &huge_body, f.store, NOW, &r), PORTCULLIS_INVALID_LENGTH);
    portcullis_oauth_server_free(product);
    teardown(&f);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s POLICY.toml [RACE_ROUNDS]\n", argv[0]);
        return 2;
    }
    static char memory[4096], host[4096];
    run_flow(argv[1], NULL, memory);
    host_db db;
    memset(&db, 0, sizeof db);
    run_flow(argv[1], &db, host);
    CHECK(db.calls > 20, "the host store was used (%d calls)", db.calls);
    CHECK(db.nfamilies >= 3, "families revoked in the host database: %zu", db.nfamilies);
    CHECK(strcmp(memory, host) == 0, "callback store and memory store give the same transcript:\n%s---\n%s", memory, host);
    CHECK(strlen(memory) > 200, "transcript recorded");
    db_free(&db);
    null_everywhere(argv[1]);
    wrong_input(argv[1]);
    json_bodies(argv[1]);
    failing_callbacks(argv[1]);
    races(argv[1], argc > 2 ? atoi(argv[2]) : 20, 0);
    races(argv[1], argc > 2 ? atoi(argv[2]) : 20, 1);
    return check_summary("oauth");
}
