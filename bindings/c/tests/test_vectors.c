/* Runs the conformance vectors (the JSON files in tests/vectors, oauth.json included, compiled in by gen_vectors.py)
 * through the C ABI and checks every expected field, as the Rust and Python suites do.
 * Decisions are checked three ways: with the store, with a lookup callback and with the
 * two-phase API. */
#include <stdint.h>

#include "check.h"
#include "jv.h"

/* Hex text to bytes in a heap buffer (free it). */
static char *unhex(const jv *hex, size_t *len_out) {
    size_t n = hex->len / 2;
    char *out = malloc(n + 1);
    for (size_t i = 0; out != NULL && i < n; i++) {
        unsigned v = 0;
        sscanf(hex->str + 2 * i, "%2x", &v);
        out[i] = (char)v;
    }
    *len_out = n;
    return out;
}

/* The vectors' name for a key-parse or extraction result: the code (NULL on success). */
static const char *error_code(portcullis_result rc) {
    return rc == PORTCULLIS_OK ? NULL : portcullis_result_code(rc);
}

static int same_text(const char *a, const jv *b) {
    if (jv_is_null(b)) return a == NULL;
    return a != NULL && strlen(a) == b->len && memcmp(a, b->str, b->len) == 0;
}

static int str_is_jv(portcullis_str s, const jv *v) {
    if (jv_is_null(v)) return s.data == NULL;
    return str_is_n(s, v->str, v->len);
}

/* Peppers from the vectors' list (the first is primary). */
static portcullis_peppers *make_peppers(const jv *list) {
    portcullis_peppers *peppers = NULL;
    for (size_t i = 0; i < list->len; i++) {
        const jv *p = jv_at(list, i), *id = jv_get(p, "id");
        size_t n;
        char *secret = unhex(jv_get(p, "secret_hex"), &n);
        if (i == 0)
            CHECK_OK(portcullis_peppers_new(id->str, id->len, (const uint8_t *)secret, n, &peppers));
        else
            CHECK_OK(portcullis_peppers_add(peppers, id->str, id->len, (const uint8_t *)secret, n));
        free(secret);
    }
    return peppers;
}

static portcullis_checker *make_checker(const char *toml, size_t len, const jv *pepper_list) {
    portcullis_policy *policy = NULL;
    portcullis_checker *checker = NULL;
    CHECK_OK(portcullis_policy_new_from_toml(toml, len, &policy));
    portcullis_peppers *peppers = make_peppers(pepper_list);
    CHECK_OK(portcullis_checker_new(policy, peppers, &checker));
    portcullis_peppers_free(peppers);
    portcullis_policy_free(policy);
    return checker;
}

static void run_keys(void) {
    const jv *v = &VECTORS_KEYS;
    const jv *kinds = jv_get(v, "kinds"), *envs = jv_get(v, "environments");
    char toml[512] = "[service]\nkinds = [";
    for (size_t i = 0; i < kinds->len; i++)
        snprintf(toml + strlen(toml), sizeof toml - strlen(toml), "%s\"%s\"", i ? ", " : "", jv_at(kinds, i)->str);
    strcat(toml, "]\nenvironments = [");
    for (size_t i = 0; i < envs->len; i++)
        snprintf(toml + strlen(toml), sizeof toml - strlen(toml), "%s\"%s\"", i ? ", " : "", jv_at(envs, i)->str);
    strcat(toml, "]\n");
    portcullis_checker *checker = make_checker(toml, strlen(toml), jv_get(v, "peppers"));

    const jv *keys = jv_get(v, "keys");
    for (size_t i = 0; i < keys->len; i++) {
        const jv *k = jv_at(keys, i), *key = jv_get(k, "key");
        portcullis_parsed_key parsed;
        CHECK_OK(portcullis_checker_parse(checker, key->str, key->len, &parsed));
        CHECK(same_text(parsed.kind, jv_get(k, "kind")), "key %zu kind %s", i, parsed.kind);
        CHECK(same_text(parsed.env, jv_get(k, "env")), "key %zu env %s", i, parsed.env);
        CHECK(same_text(parsed.id, jv_get(k, "id")), "key %zu id %s", i, parsed.id);
        CHECK(same_text(parsed.display, jv_get(k, "display")), "key %zu display %s", i, parsed.display);
        char *hash = NULL;
        size_t hash_len = 0;
        CHECK_OK(portcullis_checker_hash_key(checker, key->str, key->len, &hash, &hash_len));
        CHECK(hash != NULL && same_text(hash, jv_get(k, "hash")) && hash_len == strlen(hash), "key %zu hash %s", i, hash);
        portcullis_string_free(hash);
        char *legacy = NULL;
        CHECK_OK(portcullis_legacy_sha256_hash(key->str, key->len, &legacy, NULL));
        CHECK(legacy != NULL && same_text(legacy, jv_get(k, "legacy_hash")), "key %zu legacy %s", i, legacy);
        portcullis_string_free(legacy);
    }

    const jv *cases = jv_get(v, "parse");
    for (size_t i = 0; i < cases->len; i++) {
        const jv *c = jv_at(cases, i), *in = jv_get(c, "input"), *hex = jv_get(c, "input_hex");
        const jv *rep = jv_get(c, "input_repeat");
        char *buf = NULL;
        size_t len = 0;
        if (in != NULL) {
            buf = malloc(in->len + 1);
            memcpy(buf, in->str, in->len);
            len = in->len;
        } else if (hex != NULL) {
            buf = unhex(hex, &len);
        } else {
            len = (size_t)jv_get(rep, "count")->num;
            buf = malloc(len + 1);
            memset(buf, jv_get(rep, "char")->str[0], len);
        }
        portcullis_parsed_key parsed;
        portcullis_result rc = portcullis_checker_parse(checker, buf, len, &parsed);
        CHECK(same_text(error_code(rc), jv_get(c, "error")), "parse case %zu: %s", i, portcullis_result_name(rc));
        if (rc == PORTCULLIS_OK)
            CHECK(same_text(parsed.id, jv_get(c, "id")), "parse case %zu id %s", i, parsed.id);
        free(buf);
    }
    portcullis_checker_free(checker);
}

static void run_extract(void) {
    const jv *cases = jv_get(&VECTORS_EXTRACT, "cases");
    for (size_t i = 0; i < cases->len; i++) {
        const jv *c = jv_at(cases, i), *auth = jv_get(c, "authorization");
        const jv *auth_hex = jv_get(c, "authorization_hex"), *query = jv_get(c, "query");
        const jv *param = jv_get(c, "param");
        char *hbuf = NULL;
        const char *hptr = NULL;
        size_t hlen = 0;
        if (!jv_is_null(auth_hex)) {
            hbuf = unhex(auth_hex, &hlen);
            hptr = hbuf;
        } else if (!jv_is_null(auth)) {
            hptr = auth->str;
            hlen = auth->len;
        }
        portcullis_credential cred;
        portcullis_result rc = portcullis_extract_credential(
            hptr, hlen, jv_is_null(query) ? NULL : query->str, jv_is_null(query) ? 0 : query->len,
            param->str, param->len, jv_get(c, "allow_query")->num != 0, &cred);
        CHECK(same_text(error_code(rc), jv_get(c, "error")), "extract case %zu: %s", i, portcullis_result_name(rc));
        if (rc == PORTCULLIS_OK) {
            CHECK(str_is_jv(cred.token, jv_get(c, "token")), "extract case %zu token", i);
            const char *source = cred.source == PORTCULLIS_SOURCE_HEADER ? "header" : "query";
            CHECK(same_text(source, jv_get(c, "source")), "extract case %zu source %s", i, source);
        }
        free(hbuf);
    }
}

/* Whether the n items read by `at` equal a JSON array of strings. */
#define SAME_LIST(handle, len_fn, at_fn, list)                              \
    ({                                                                      \
        int same_ = (len_fn(handle) == (list)->len);                        \
        for (size_t j_ = 0; same_ && j_ < (list)->len; j_++)                \
            same_ = str_is_jv(at_fn(handle, j_), jv_at(list, j_));          \
        same_ && at_fn(handle, len_fn(handle)).data == NULL;               \
    })

static void run_scopes(void) {
    const jv *v = &VECTORS_SCOPES, *toml = jv_get(v, "policy");
    portcullis_policy *policy = NULL;
    CHECK_OK(portcullis_policy_new_from_toml(toml->str, toml->len, &policy));
    const jv *cases = jv_get(v, "cases");
    for (size_t i = 0; i < cases->len; i++) {
        const jv *c = jv_at(cases, i), *grants = jv_get(c, "grants"), *req = jv_get(c, "requirement");
        portcullis_str items[16];
        for (size_t j = 0; j < grants->len && j < 16; j++) {
            items[j].data = jv_at(grants, j)->str;
            items[j].len = jv_at(grants, j)->len;
        }
        portcullis_evaluation *e = NULL;
        CHECK_OK(portcullis_policy_evaluate(policy, req->str, req->len, items, grants->len, &e));
        if (e == NULL) continue;
        CHECK(portcullis_evaluation_allowed(e) == (jv_get(c, "allowed")->num != 0), "scopes case %zu allowed", i);
        CHECK(portcullis_evaluation_unknown(e) == (size_t)jv_get(c, "unknown")->num, "scopes case %zu unknown", i);
        CHECK(SAME_LIST(e, portcullis_evaluation_effective_len, portcullis_evaluation_effective, jv_get(c, "effective")), "scopes case %zu effective", i);
        CHECK(SAME_LIST(e, portcullis_evaluation_missing_len, portcullis_evaluation_missing, jv_get(c, "missing")), "scopes case %zu missing", i);
        CHECK(SAME_LIST(e, portcullis_evaluation_required_len, portcullis_evaluation_required, jv_get(c, "required")), "scopes case %zu required", i);
        portcullis_evaluation_free(e);
    }
    portcullis_policy_free(policy);
}

/* Compares a decision with a case's `expect`. */
static void expect_decision(const portcullis_decision *d, const jv *expect, const char *name, const char *how) {
    CHECK(d != NULL, "%s [%s]: no decision", name, how);
    if (d == NULL) return;
    CHECK(portcullis_decision_allowed(d) == (jv_get(expect, "allowed")->num != 0), "%s [%s] allowed", name, how);
    CHECK(portcullis_decision_status(d) == jv_get(expect, "status")->num, "%s [%s] status %u", name, how, portcullis_decision_status(d));
    CHECK(str_is_jv(portcullis_decision_error(d), jv_get(expect, "error")), "%s [%s] error", name, how);
    portcullis_str reason = portcullis_decision_reason(d);
    CHECK(str_is_jv(reason, jv_get(expect, "reason")), "%s [%s] reason %.*s", name, how, (int)reason.len, reason.data);
    CHECK(str_is_jv(portcullis_decision_detail(d), jv_get(expect, "detail")), "%s [%s] detail", name, how);
    CHECK(str_is_jv(portcullis_decision_key_id(d), jv_get(expect, "key_id")), "%s [%s] key_id", name, how);
    CHECK(str_is_jv(portcullis_decision_owner(d), jv_get(expect, "owner")), "%s [%s] owner", name, how);
    CHECK(SAME_LIST(d, portcullis_decision_scopes_len, portcullis_decision_scope, jv_get(expect, "scopes")), "%s [%s] scopes", name, how);
    CHECK(SAME_LIST(d, portcullis_decision_missing_len, portcullis_decision_missing, jv_get(expect, "missing")), "%s [%s] missing", name, how);
    CHECK(SAME_LIST(d, portcullis_decision_warnings_len, portcullis_decision_warning, jv_get(expect, "warnings")), "%s [%s] warnings", name, how);
    char www[512];
    size_t www_len = 0;
    CHECK_OK(portcullis_decision_www_authenticate(d, www, sizeof www, &www_len));
    const jv *want = jv_get(expect, "www_authenticate");
    if (jv_is_null(want))
        CHECK(www_len == 0, "%s [%s] www_authenticate should be absent, got %s", name, how, www);
    else
        CHECK(www_len == want->len && memcmp(www, want->str, want->len) == 0 && www[www_len] == '\0',
              "%s [%s] www_authenticate %s", name, how, www);
}

/* A lookup callback over a portcullis_store: the record, or none. */
static uint32_t store_lookup(void *user_data, const char *key_id, size_t key_id_len, portcullis_record **record_out) {
    portcullis_result rc = portcullis_store_get((const portcullis_store *)user_data, key_id, key_id_len, record_out);
    if (key_id[key_id_len] != '\0') return PORTCULLIS_INVALID_ARGUMENT; /* the id is NUL-terminated */
    return rc == PORTCULLIS_STORE_NOT_FOUND ? PORTCULLIS_OK : rc;
}

static void run_decisions(void) {
    const jv *v = &VECTORS_DECISIONS, *policies = jv_get(v, "policies");
    portcullis_checker *checkers[8] = {0};
    for (size_t i = 0; i < policies->len && i < 8; i++)
        checkers[i] = make_checker(policies->items[i].str, policies->items[i].len, jv_get(v, "peppers"));

    portcullis_store *store = NULL;
    CHECK_OK(portcullis_store_new(&store));
    const jv *records = jv_get(v, "records");
    for (size_t i = 0; i < records->len; i++) {
        /* gen_vectors.py keeps each record's JSON text in `records_json`. */
        const jv *json = jv_at(jv_get(v, "records_json"), i);
        portcullis_record *record = NULL;
        CHECK_OK(portcullis_record_new_from_json(json->str, json->len, &record));
        CHECK_OK(portcullis_store_insert(store, record));
        portcullis_record_free(record);
    }
    CHECK(portcullis_store_len(store) == records->len, "store holds every record");

    const jv *cases = jv_get(v, "cases");
    for (size_t i = 0; i < cases->len; i++) {
        const jv *c = jv_at(cases, i), *req = jv_get(c, "request"), *pname = jv_get(c, "policy");
        const char *name = jv_get(c, "name")->str;
        portcullis_checker *checker = NULL;
        for (size_t p = 0; p < policies->len; p++)
            if (strlen(policies->keys[p]) == pname->len && memcmp(policies->keys[p], pname->str, pname->len) == 0)
                checker = checkers[p];
        CHECK(checker != NULL, "%s: unknown policy", name);
        const jv *m = jv_get(req, "method"), *path = jv_get(req, "path");
        const jv *auth = jv_get(req, "authorization"), *auth_hex = jv_get(req, "authorization_hex");
        const jv *query = jv_get(req, "query");
        portcullis_request r;
        memset(&r, 0, sizeof r);
        r.method = m->str;
        r.method_len = m->len;
        r.path = path->str;
        r.path_len = path->len;
        char *hbuf = NULL;
        if (!jv_is_null(auth_hex)) {
            hbuf = unhex(auth_hex, &r.authorization_len);
            r.authorization = hbuf;
        } else if (!jv_is_null(auth)) {
            r.authorization = auth->str;
            r.authorization_len = auth->len;
        }
        if (!jv_is_null(query)) {
            r.query = query->str;
            r.query_len = query->len;
        }
        r.https = jv_get(req, "https")->num != 0;
        uint64_t now = (uint64_t)jv_get(c, "now")->num;
        const jv *expect = jv_get(c, "expect");

        portcullis_decision *d = NULL;
        CHECK_OK(portcullis_checker_check_store(checker, &r, store, now, &d));
        expect_decision(d, expect, name, "store");
        portcullis_decision_free(d);

        d = NULL;
        CHECK_OK(portcullis_checker_check(checker, &r, store_lookup, store, now, &d));
        expect_decision(d, expect, name, "callback");
        portcullis_decision_free(d);

        d = NULL;
        portcullis_pending *pending = NULL;
        CHECK_OK(portcullis_checker_prepare(checker, &r, &d, &pending));
        CHECK((d == NULL) != (pending == NULL), "%s: prepare gives exactly one", name);
        if (pending != NULL) {
            portcullis_str id = portcullis_pending_key_id(pending);
            portcullis_record *record = NULL;
            portcullis_result rc = portcullis_store_get(store, id.data, id.len, &record);
            CHECK(rc == PORTCULLIS_OK || rc == PORTCULLIS_STORE_NOT_FOUND, "%s: get %s", name, portcullis_result_name(rc));
            CHECK_OK(portcullis_pending_finish(pending, record, now, &d));
        }
        expect_decision(d, expect, name, "two-phase");
        portcullis_decision_free(d);
        free(hbuf);
    }
    portcullis_store_free(store);
    for (size_t i = 0; i < 8; i++) portcullis_checker_free(checkers[i]);
}

/* ---- OAuth vectors (tests/vectors/oauth.json) ---- */

/* The vectors' name for an access-token result code (TokenError::code). */
static const char *token_error(portcullis_result rc) {
    switch (rc) {
    case PORTCULLIS_OK: return NULL;
    case PORTCULLIS_ACCESS_TOKEN_MALFORMED: return "access_token_malformed";
    case PORTCULLIS_ACCESS_TOKEN_UNKNOWN_KEY: return "access_token_unknown_key";
    case PORTCULLIS_ACCESS_TOKEN_BAD_SIGNATURE: return "access_token_bad_signature";
    case PORTCULLIS_ACCESS_TOKEN_WRONG_CATALOG: return "access_token_wrong_catalog";
    case PORTCULLIS_ACCESS_TOKEN_EXPIRED: return "access_token_expired";
    case PORTCULLIS_ACCESS_TOKEN_NOT_YET_VALID: return "access_token_not_yet_valid";
    case PORTCULLIS_ACCESS_TOKEN_REVOKED: return "access_token_revoked";
    default: return "?";
    }
}

static int jv_is(const jv *v, const char *s) {
    return v != NULL && v->type == JV_STRING && v->len == strlen(s) && memcmp(v->str, s, v->len) == 0;
}

/* The access keys of the vectors, first primary, then `primary` made primary. */
static portcullis_access_keys *oauth_keys(const char *primary) {
    const jv *list = jv_get(&VECTORS_OAUTH, "access_keys");
    portcullis_access_keys *keys = NULL;
    for (size_t i = 0; i < list->len; i++) {
        const jv *k = jv_at(list, i), *kid = jv_get(k, "kid");
        size_t n;
        char *secret = unhex(jv_get(k, "secret_hex"), &n);
        if (i == 0)
            CHECK_OK(portcullis_access_keys_new(kid->str, kid->len, (const uint8_t *)secret, n, &keys));
        else
            CHECK_OK(portcullis_access_keys_add(keys, kid->str, kid->len, (const uint8_t *)secret, n));
        free(secret);
    }
    CHECK_OK(portcullis_access_keys_set_primary(keys, primary, strlen(primary)));
    CHECK(str_is(portcullis_access_keys_primary_id(keys), primary), "primary key %s", primary);
    return keys;
}

static portcullis_policy *oauth_policy(const char *name) {
    const jv *text = jv_get(jv_get(&VECTORS_OAUTH, "policies"), name);
    portcullis_policy *policy = NULL;
    CHECK_OK(portcullis_policy_new_from_toml(text->str, text->len, &policy));
    return policy;
}

/* The policy the generator signed `other_catalog` with (not in the file): claimport with
 * one more scope declared first, so the catalog (and every scope index) differs. */
static portcullis_policy *other_catalog_policy(void) {
    const jv *text = jv_get(jv_get(&VECTORS_OAUTH, "policies"), "claimport");
    const char *extra = "[[scopes]]\nname = \"admin:all\"\ndescription = \"Admin\"\n\n";
    const char *at = strstr(text->str, "[[scopes]]");
    size_t head = (size_t)(at - text->str), len = text->len + strlen(extra);
    char *buf = malloc(len + 1);
    memcpy(buf, text->str, head);
    memcpy(buf + head, extra, strlen(extra));
    memcpy(buf + head + strlen(extra), at, text->len - head);
    portcullis_policy *policy = NULL;
    CHECK_OK(portcullis_policy_new_from_toml(buf, len, &policy));
    free(buf);
    return policy;
}

/* Compares claims with a vector's `claims` object. */
static void expect_claims(const portcullis_access_claims *c, const jv *want, const char *name) {
    CHECK(str_is_jv(portcullis_access_claims_subject(c), jv_get(want, "subject")), "%s subject", name);
    CHECK(str_is_jv(portcullis_access_claims_client_id(c), jv_get(want, "client_id")), "%s client_id", name);
    CHECK(str_is_jv(portcullis_access_claims_token_id(c), jv_get(want, "token_id")), "%s token_id", name);
    CHECK(str_is_jv(portcullis_access_claims_family(c), jv_get(want, "family")), "%s family", name);
    CHECK(portcullis_access_claims_issued_at(c) == (uint64_t)jv_get(want, "issued_at")->num, "%s issued_at", name);
    CHECK(portcullis_access_claims_expires_at(c) == (uint64_t)jv_get(want, "expires_at")->num, "%s expires_at", name);
    CHECK(SAME_LIST(c, portcullis_access_claims_scopes_len, portcullis_access_claims_scope, jv_get(want, "scopes")), "%s scopes", name);
}

/* tokens: the claims signed with the fixed keys give exactly the token text; and the
 * token verifies back to the same claims. */
static void run_oauth_tokens(void) {
    portcullis_policy *main_policy = oauth_policy("claimport"), *other = other_catalog_policy();
    const jv *tokens = jv_get(&VECTORS_OAUTH, "tokens");
    for (size_t i = 0; i < tokens->len; i++) {
        const jv *t = jv_at(tokens, i), *c = jv_get(t, "claims"), *names = jv_get(c, "scopes");
        const char *name = jv_get(t, "name")->str;
        int is_other = jv_is(jv_get(t, "name"), "other_catalog");
        /* Scopes are named in the catalog the token was signed under. */
        portcullis_str scopes[16];
        for (size_t j = 0; j < names->len && j < 16; j++) {
            scopes[j].data = jv_at(names, j)->str;
            scopes[j].len = jv_at(names, j)->len;
        }
        const jv *sub = jv_get(c, "subject"), *cid = jv_get(c, "client_id");
        const jv *tid = jv_get(c, "token_id"), *fam = jv_get(c, "family");
        portcullis_access_claims_fields f = {
            {sub->str, sub->len}, {cid->str, cid->len}, scopes, names->len,
            (uint64_t)jv_get(c, "issued_at")->num, (uint64_t)jv_get(c, "expires_at")->num,
            {tid->str, tid->len}, {fam->str, fam->len},
        };
        portcullis_policy *policy = is_other ? other : main_policy;
        portcullis_access_claims *claims = NULL;
        CHECK_OK(portcullis_access_claims_new(policy, &f, &claims));
        const jv *kid = jv_get(t, "kid");
        char kid_text[8] = {0};
        memcpy(kid_text, kid->str, kid->len < 7 ? kid->len : 7);
        portcullis_access_keys *keys = oauth_keys(kid_text);
        char *token = NULL;
        size_t token_len = 0;
        CHECK_OK(portcullis_access_keys_sign(keys, claims, policy, &token, &token_len));
        const jv *want = jv_get(t, "token");
        CHECK(token != NULL && token_len == want->len && memcmp(token, want->str, want->len) == 0,
              "token %s: %s", name, token ? token : "(none)");
        /* Round trip through a verifier of the signing catalog. */
        portcullis_access_verifier *v = NULL;
        CHECK_OK(portcullis_access_verifier_new(keys, policy, &v));
        portcullis_access_claims *back = NULL;
        CHECK_OK(portcullis_access_verifier_decode(v, want->str, want->len, &back));
        CHECK(back != NULL && portcullis_access_claims_scopes_len(back) == names->len, "token %s decodes", name);
        expect_claims(back, c, name);
        portcullis_access_claims_free(back);
        portcullis_access_verifier_free(v);
        portcullis_string_free(token);
        portcullis_access_keys_free(keys);
        portcullis_access_claims_free(claims);
    }
    portcullis_policy_free(other);
    portcullis_policy_free(main_policy);
}

/* verify: token at `now` with revoked families and an epoch → claims or an error code. */
static void run_oauth_verify(void) {
    portcullis_policy *policy = oauth_policy("claimport");
    const jv *cases = jv_get(&VECTORS_OAUTH, "verify");
    for (size_t i = 0; i < cases->len; i++) {
        const jv *c = jv_at(cases, i), *token = jv_get(c, "token"), *fams = jv_get(c, "revoked_families");
        const char *name = jv_get(c, "name")->str;
        portcullis_access_keys *keys = oauth_keys("k1");
        portcullis_access_verifier *v = NULL;
        CHECK_OK(portcullis_access_verifier_new(keys, policy, &v));
        portcullis_access_keys_free(keys);
        for (size_t j = 0; j < fams->len; j++) {
            const jv *f = jv_at(fams, j);
            CHECK_OK(portcullis_access_verifier_revoke_family(v, f->str, f->len));
            CHECK(portcullis_access_verifier_is_family_revoked(v, f->str, f->len), "%s: family revoked", name);
        }
        CHECK(portcullis_access_verifier_family_count(v) == fams->len, "%s: family count", name);
        const jv *epoch = jv_get(c, "epoch");
        if (!jv_is_null(epoch)) {
            CHECK_OK(portcullis_access_verifier_set_epoch(v, (uint64_t)epoch->num));
            CHECK(portcullis_access_verifier_epoch(v) == (uint64_t)epoch->num, "%s: epoch", name);
        }
        portcullis_access_claims *claims = NULL;
        portcullis_result rc = portcullis_access_verifier_verify(v, token->str, token->len, (uint64_t)jv_get(c, "now")->num, &claims);
        CHECK(same_text(token_error(rc), jv_get(c, "error")), "verify %s: %s", name, portcullis_result_name(rc));
        CHECK((rc == PORTCULLIS_OK) == (claims != NULL), "verify %s: claims written only on success", name);
        if (claims != NULL) expect_claims(claims, jv_get(c, "claims"), name);
        portcullis_access_claims_free(claims);
        portcullis_access_verifier_free(v);
    }
    portcullis_policy_free(policy);
}

/* checks: requests carrying access tokens through a checker with the verifier attached;
 * only the fields the vectors state are compared. */
static void run_oauth_checks(void) {
    const jv *cases = jv_get(&VECTORS_OAUTH, "checks");
    for (size_t i = 0; i < cases->len; i++) {
        const jv *c = jv_at(cases, i), *req = jv_get(c, "request"), *expect = jv_get(c, "expect");
        const char *name = jv_get(c, "name")->str;
        char pname[32] = {0};
        const jv *pj = jv_get(c, "policy");
        memcpy(pname, pj->str, pj->len < 31 ? pj->len : 31);
        portcullis_policy *policy = oauth_policy(pname);
        portcullis_access_keys *keys = oauth_keys("k1");
        portcullis_access_verifier *v = NULL;
        CHECK_OK(portcullis_access_verifier_new(keys, policy, &v));
        uint8_t pepper[32];
        memset(pepper, 42, sizeof pepper);
        portcullis_peppers *peppers = NULL;
        CHECK_OK(portcullis_peppers_new("p1", 2, pepper, sizeof pepper, &peppers));
        portcullis_checker *checker = NULL;
        CHECK_OK(portcullis_checker_new_with_access_tokens(policy, peppers, v, &checker));
        const jv *m = jv_get(req, "method"), *path = jv_get(req, "path");
        const jv *auth = jv_get(req, "authorization"), *query = jv_get(req, "query");
        portcullis_request r;
        memset(&r, 0, sizeof r);
        r.method = m->str, r.method_len = m->len, r.path = path->str, r.path_len = path->len;
        if (!jv_is_null(auth)) r.authorization = auth->str, r.authorization_len = auth->len;
        if (!jv_is_null(query)) r.query = query->str, r.query_len = query->len;
        r.https = jv_get(req, "https")->num != 0;
        portcullis_store *store = NULL;
        CHECK_OK(portcullis_store_new(&store));
        portcullis_decision *d = NULL;
        CHECK_OK(portcullis_checker_check_store(checker, &r, store, (uint64_t)jv_get(c, "now")->num, &d));
        CHECK(portcullis_decision_allowed(d) == (jv_get(expect, "allowed")->num != 0), "%s allowed", name);
        CHECK(portcullis_decision_status(d) == jv_get(expect, "status")->num, "%s status %u", name, portcullis_decision_status(d));
        CHECK(str_is_jv(portcullis_decision_error(d), jv_get(expect, "error")), "%s error", name);
        CHECK(str_is_jv(portcullis_decision_reason(d), jv_get(expect, "reason")), "%s reason", name);
        CHECK(str_is_jv(portcullis_decision_owner(d), jv_get(expect, "owner")), "%s owner", name);
        CHECK(SAME_LIST(d, portcullis_decision_scopes_len, portcullis_decision_scope, jv_get(expect, "scopes")), "%s scopes", name);
        CHECK(SAME_LIST(d, portcullis_decision_missing_len, portcullis_decision_missing, jv_get(expect, "missing")), "%s missing", name);
        char www[512];
        size_t www_len = 0;
        CHECK_OK(portcullis_decision_www_authenticate(d, www, sizeof www, &www_len));
        const jv *want = jv_get(expect, "www_authenticate");
        CHECK(jv_is_null(want) ? www_len == 0 : (www_len == want->len && memcmp(www, want->str, want->len) == 0),
              "%s www_authenticate %s", name, www);
        portcullis_decision_free(d);
        /* Two-phase with the time: access tokens are decided in phase one. */
        d = NULL;
        portcullis_pending *pending = NULL;
        CHECK_OK(portcullis_checker_prepare_at(checker, &r, (uint64_t)jv_get(c, "now")->num, &d, &pending));
        CHECK(pending == NULL && d != NULL, "%s: prepare_at decides access tokens", name);
        CHECK(portcullis_decision_status(d) == jv_get(expect, "status")->num && str_is_jv(portcullis_decision_reason(d), jv_get(expect, "reason")) &&
                  str_is_jv(portcullis_decision_owner(d), jv_get(expect, "owner")),
              "%s [prepare_at] status %u", name, portcullis_decision_status(d));
        portcullis_decision_free(d);
        /* Without the time, a Bearer access token is refused (documented). */
        d = NULL;
        pending = NULL;
        CHECK_OK(portcullis_checker_prepare(checker, &r, &d, &pending));
        if (r.authorization != NULL)
            CHECK(pending == NULL && portcullis_decision_status(d) == 401 && str_is(portcullis_decision_reason(d), "access_token_time_required"),
                  "%s [prepare] needs the time", name);
        portcullis_decision_free(d);
        portcullis_pending_free(pending);
        portcullis_store_free(store);
        portcullis_checker_free(checker);
        portcullis_peppers_free(peppers);
        portcullis_access_verifier_free(v);
        portcullis_access_keys_free(keys);
        portcullis_policy_free(policy);
    }
}

/* pkce: verifier, challenge, method → matches; S256 challenges recomputed. opaque: token
 * text → the SHA-256 stores keep. */
static void run_oauth_pkce_opaque(void) {
    const jv *cases = jv_get(&VECTORS_OAUTH, "pkce");
    for (size_t i = 0; i < cases->len; i++) {
        const jv *c = jv_at(cases, i), *m = jv_get(c, "method"), *ch = jv_get(c, "challenge"), *ver = jv_get(c, "verifier");
        bool matches = !(jv_get(c, "matches")->num != 0);
        CHECK_OK(portcullis_pkce_verify(m->str, m->len, ch->str, ch->len, ver->str, ver->len, &matches));
        CHECK(matches == (jv_get(c, "matches")->num != 0), "pkce case %zu", i);
        if (jv_is(m, "S256") && matches) {
            char buf[64];
            size_t len = 0;
            CHECK_OK(portcullis_pkce_s256(ver->str, ver->len, buf, sizeof buf, &len));
            CHECK(len == ch->len && memcmp(buf, ch->str, len) == 0, "pkce case %zu challenge %s", i, buf);
        }
    }
    const jv *opaque = jv_get(&VECTORS_OAUTH, "opaque");
    for (size_t i = 0; i < opaque->len; i++) {
        const jv *c = jv_at(opaque, i), *token = jv_get(c, "token");
        uint8_t hash[32];
        CHECK_OK(portcullis_oauth_token_hash(token->str, token->len, hash));
        char hex[65];
        for (size_t j = 0; j < 32; j++) snprintf(hex + 2 * j, 3, "%02x", hash[j]);
        CHECK(same_text(hex, jv_get(c, "sha256_hex")), "opaque case %zu: %s", i, hex);
    }
}

/* ---- token_requests: requests with their Content-Type (how to run them: the header of
 * crates/portcullis/tests/oauth_vectors.rs) ---- */

typedef struct {
    char *data;
    size_t len;
} buf;

/* `text` with every "{name}" of `names` replaced by `values` (malloc'd). */
static buf fill(const char *text, size_t len, const char *const *names, char *const *values, size_t n) {
    buf out = {malloc(len * 2 + 4096), 0};
    size_t cap = len * 2 + 4096;
    for (size_t i = 0; i < len;) {
        size_t k = 0;
        for (; k < n; k++) {
            size_t nl = strlen(names[k]);
            if (values[k] != NULL && text[i] == '{' && i + nl + 2 <= len && memcmp(text + i + 1, names[k], nl) == 0 &&
                text[i + 1 + nl] == '}') {
                size_t vl = strlen(values[k]);
                if (out.len + vl + 1 > cap) out.data = realloc(out.data, cap = (out.len + vl) * 2 + 1);
                memcpy(out.data + out.len, values[k], vl);
                out.len += vl;
                i += nl + 2;
                break;
            }
        }
        if (k == n) {
            if (out.len + 2 > cap) out.data = realloc(out.data, cap = cap * 2);
            out.data[out.len++] = text[i++];
        }
    }
    out.data[out.len] = '\0';
    return out;
}

/* `"name":"value"` as serde_json writes it (quotes and backslashes escaped). */
static char *member(const char *name, const jv *value) {
    char *out = malloc(strlen(name) + value->len * 2 + 8);
    size_t o = (size_t)sprintf(out, "\"%s\":\"", name);
    for (size_t i = 0; i < value->len; i++) {
        if (value->str[i] == '"' || value->str[i] == '\\') out[o++] = '\\';
        out[o++] = value->str[i];
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

static int contains(portcullis_str body, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; body.data != NULL && i + n <= body.len; i++)
        if (memcmp(body.data + i, needle, n) == 0) return 1;
    return 0;
}

/* The string value of `"name":"…"` in a response body (malloc'd), or NULL. */
static char *token_in(portcullis_str body, const char *name) {
    char key[32];
    snprintf(key, sizeof key, "\"%s\":\"", name);
    size_t kl = strlen(key);
    for (size_t i = 0; body.data != NULL && i + kl <= body.len; i++) {
        if (memcmp(body.data + i, key, kl) != 0) continue;
        size_t start = i + kl, end = start;
        while (end < body.len && body.data[end] != '"') end++;
        char *out = malloc(end - start + 1);
        memcpy(out, body.data + start, end - start);
        out[end - start] = '\0';
        return out;
    }
    return NULL;
}

static void run_oauth_token_requests(void) {
    const jv *section = jv_get(&VECTORS_OAUTH, "token_requests"), *cases = jv_get(section, "cases");
    const jv *clients = jv_get(section, "clients"), *subject = jv_get(section, "subject");
    uint64_t now = (uint64_t)jv_get(section, "now")->num;
    CHECK(cases != NULL && cases->len > 0, "token_requests present");
    portcullis_policy *policy = oauth_policy("claimport");
    portcullis_access_keys *keys = oauth_keys("k1");
    portcullis_access_verifier *verifier = NULL;
    CHECK_OK(portcullis_access_verifier_new(keys, policy, &verifier));
    for (size_t c = 0; cases != NULL && c < cases->len; c++) {
        const jv *tc = jv_at(cases, c);
        const char *name = jv_get(tc, "name")->str;
        portcullis_oauth_config defaults = portcullis_oauth_config_default();
        /* "policy": NULL config, the policy's [oauth] section. */
        const portcullis_oauth_config *config = jv_is(jv_get(tc, "config"), "policy") ? NULL : &defaults;
        portcullis_oauth_server *server = NULL;
        CHECK_OK(portcullis_oauth_server_new(config, policy, verifier, "claimport", 9, &server));
        portcullis_oauth_store *store = NULL;
        CHECK_OK(portcullis_oauth_store_new_memory(&store));
        for (size_t i = 0; i < clients->len; i++) {
            /* The registrations as JSON text: rebuild from the generator's fields. */
            const jv *cl = jv_at(clients, i);
            char json[1024];
            const jv *hash = jv_get(cl, "secret_hash");
            char redirect[128], scopes[256] = "";
            snprintf(redirect, sizeof redirect, "%.*s", (int)jv_at(jv_get(cl, "redirect_uris"), 0)->len,
                     jv_at(jv_get(cl, "redirect_uris"), 0)->str);
            const jv *sc = jv_get(cl, "allowed_scopes");
            for (size_t k = 0; k < sc->len; k++) {
                size_t n = strlen(scopes);
                snprintf(scopes + n, sizeof scopes - n, "%s\"%.*s\"", k ? "," : "", (int)jv_at(sc, k)->len, jv_at(sc, k)->str);
            }
            int len = snprintf(json, sizeof json,
                               "{\"id\":\"%s\",\"client_type\":\"%s\",\"redirect_uris\":[\"%s\"],\"allowed_scopes\":[%s]%s%.*s%s}",
                               jv_get(cl, "id")->str, jv_get(cl, "client_type")->str, redirect, scopes,
                               hash ? ",\"secret_hash\":\"" : "", hash ? (int)hash->len : 0, hash ? hash->str : "",
                               hash ? "\"" : "");
            portcullis_oauth_client *client = NULL;
            CHECK_OK(portcullis_oauth_client_new_from_json(json, (size_t)len, &client));
            CHECK_OK(portcullis_oauth_store_add_client(store, client));
            portcullis_oauth_client_free(client);
        }
        const jv *query = jv_get(tc, "authorize");
        portcullis_authorization *a = NULL;
        CHECK_OK(portcullis_oauth_authorize(server, query->str, query->len, store, &a));
        CHECK(portcullis_authorization_kind(a) == PORTCULLIS_AUTHORIZE_VALID, "%s: authorize", name);
        char *location = NULL;
        CHECK_OK(portcullis_oauth_approve(server, a, subject->str, subject->len, NULL, 0, store, now, &location, NULL));
        portcullis_authorization_free(a);
        const char *names[3] = {"code", "access_token", "refresh_token"};
        char *values[3] = {NULL, NULL, NULL};
        const char *at = location ? strstr(location, "code=") : NULL;
        if (at != NULL) {
            size_t n = strcspn(at + 5, "&");
            values[0] = malloc(n + 1);
            memcpy(values[0], at + 5, n);
            values[0][n] = '\0';
        }
        portcullis_string_free(location);
        const jv *steps = jv_get(tc, "steps");
        for (size_t i = 0; i < steps->len; i++) {
            const jv *st = jv_at(steps, i), *body = jv_get(st, "body"), *hex = jv_get(st, "body_hex");
            const jv *auth = jv_get(st, "authorization"), *type = jv_get(st, "content_type");
            const jv *pad = jv_get(st, "pad_to"), *e = jv_get(st, "expect");
            buf b;
            if (!jv_is_null(body)) {
                b = fill(body->str, body->len, names, values, 3);
            } else {
                b.data = unhex(hex, &b.len);
            }
            if (!jv_is_null(pad) && (size_t)pad->num > b.len) {
                size_t n = (size_t)pad->num;
                char *padded = malloc(n);
                memset(padded, ' ', n - b.len);
                memcpy(padded + (n - b.len), b.data, b.len);
                free(b.data);
                b.data = padded;
                b.len = n;
            }
            buf h = {NULL, 0};
            if (!jv_is_null(auth)) h = fill(auth->str, auth->len, names, values, 3);
            const char *endpoint = jv_get(st, "endpoint")->str;
            portcullis_result (*fn)(const portcullis_oauth_server *, const portcullis_oauth_request *,
                                    const portcullis_oauth_store *, uint64_t, portcullis_token_response **) =
                strcmp(endpoint, "token") == 0    ? portcullis_oauth_token_request
                : strcmp(endpoint, "revoke") == 0 ? portcullis_oauth_revoke_request
                                                  : portcullis_oauth_introspect_request;
            portcullis_token_response *r = NULL;
            portcullis_oauth_request req = {
                .authorization = h.data,
                .authorization_len = h.len,
                .content_type = jv_is_null(type) ? NULL : type->str,
                .content_type_len = jv_is_null(type) ? 0 : type->len,
                .body = b.data,
                .body_len = b.len,
            };
            CHECK_OK(fn(server, &req, store, now, &r));
            portcullis_str got = portcullis_token_response_body(r);
            CHECK(portcullis_token_response_status(r) == (unsigned)jv_get(e, "status")->num, "%s step %zu: status %u %.*s",
                  name, i, portcullis_token_response_status(r), (int)got.len, got.data);
            const jv *error = jv_get(e, "error"), *desc = jv_get(e, "error_description");
            if (jv_is_null(error)) {
                CHECK(!contains(got, "\"error\":"), "%s step %zu: no error", name, i);
            } else {
                char *m = member("error", error);
                CHECK(contains(got, m), "%s step %zu: %s in %.*s", name, i, m, (int)got.len, got.data);
                free(m);
            }
            if (jv_is_null(desc)) {
                CHECK(!contains(got, "\"error_description\":"), "%s step %zu: no description", name, i);
            } else {
                char *m = member("error_description", desc);
                CHECK(contains(got, m), "%s step %zu: %s in %.*s", name, i, m, (int)got.len, got.data);
                free(m);
            }
            const jv *needles = jv_get(e, "contains");
            for (size_t k = 0; k < needles->len; k++) {
                char *needle = malloc(jv_at(needles, k)->len + 1);
                memcpy(needle, jv_at(needles, k)->str, jv_at(needles, k)->len);
                needle[jv_at(needles, k)->len] = '\0';
                CHECK(contains(got, needle), "%s step %zu: %s", name, i, needle);
                free(needle);
            }
            for (size_t k = 1; k < 3; k++) {
                char *v = token_in(got, names[k]);
                if (v != NULL) free(values[k]), values[k] = v;
            }
            portcullis_token_response_free(r);
            free(b.data);
            free(h.data);
        }
        for (size_t k = 0; k < 3; k++) free(values[k]);
        portcullis_oauth_store_free(store);
        portcullis_oauth_server_free(server);
    }
    portcullis_access_verifier_free(verifier);
    portcullis_access_keys_free(keys);
    portcullis_policy_free(policy);
}

/* A vectors string as a borrowed string (absent for null). */
static portcullis_str jv_str(const jv *v) {
    portcullis_str s = {NULL, 0};
    if (!jv_is_null(v)) { s.data = v->str; s.len = v->len; }
    return s;
}

/* The strings of a vectors array, borrowed (at most 8). */
static size_t jv_strs(const jv *arr, portcullis_str out[8]) {
    size_t n = 0;
    for (; arr != NULL && n < arr->len && n < 8; n++) out[n] = jv_str(jv_at(arr, n));
    return n;
}

/* A pepper or access-key op list: [op, id, secret length]; the result of the first op
 * that fails (or of the last). */
static portcullis_result run_key_ops(const jv *ops, int access) {
    portcullis_peppers *peppers = NULL;
    portcullis_access_keys *keys = NULL;
    portcullis_result rc = PORTCULLIS_OK;
    uint8_t secret[64];
    memset(secret, 7, sizeof secret);
    for (size_t i = 0; i < ops->len && rc == PORTCULLIS_OK; i++) {
        const jv *op = jv_at(ops, i), *id = jv_at(op, 1);
        const char *name = jv_at(op, 0)->str;
        size_t n = (size_t)jv_at(op, 2)->num;
        if (strcmp(name, "new") == 0)
            rc = access ? portcullis_access_keys_new(id->str, id->len, secret, n, &keys)
                        : portcullis_peppers_new(id->str, id->len, secret, n, &peppers);
        else if (strcmp(name, "add") == 0)
            rc = access ? portcullis_access_keys_add(keys, id->str, id->len, secret, n)
                        : portcullis_peppers_add(peppers, id->str, id->len, secret, n);
        else if (strcmp(name, "set_primary") == 0)
            rc = portcullis_peppers_set_primary(peppers, id->str, id->len);
        else if (strcmp(name, "remove") == 0)
            rc = portcullis_access_keys_remove(keys, id->str, id->len);
    }
    portcullis_peppers_free(peppers);
    portcullis_access_keys_free(keys);
    return rc;
}

/* errors.json: the table is what the library reports for every number (name, message,
 * code), and every case fails with its row's number and name. */
static void run_errors(void) {
    const jv *v = &VECTORS_ERRORS;
    const jv *table = jv_get(v, "table");
    size_t numbered = 0;
    for (size_t i = 0; i < table->len; i++) {
        const jv *row = jv_at(table, i), *number = jv_get(row, "number");
        if (jv_is_null(number)) continue;
        numbered++;
        uint32_t n = (uint32_t)number->num;
        CHECK(same_text(portcullis_result_name(n), jv_get(row, "c_name")), "row %zu name %s", i, portcullis_result_name(n));
        CHECK(same_text(portcullis_result_message(n), jv_get(row, "message")), "row %zu message", i);
        CHECK(same_text(portcullis_result_code(n), jv_get(row, "code")), "row %zu code %s", i, portcullis_result_code(n));
    }
    CHECK(numbered > 60, "the table has %zu numbered rows", numbered);
    CHECK(strcmp(portcullis_result_name(9999), "PORTCULLIS_UNKNOWN") == 0, "unknown number");
    CHECK(strcmp(portcullis_result_code(9999), "unknown") == 0, "unknown code");

    const jv *policy_text = jv_get(v, "policy");
    portcullis_policy *policy = NULL;
    CHECK_OK(portcullis_policy_new_from_toml(policy_text->str, policy_text->len, &policy));
    uint8_t pepper[32];
    memset(pepper, (int)jv_get(v, "pepper_byte")->num, sizeof pepper);
    const jv *pepper_id = jv_get(v, "pepper_id");
    portcullis_peppers *peppers = NULL;
    CHECK_OK(portcullis_peppers_new(pepper_id->str, pepper_id->len, pepper, sizeof pepper, &peppers));
    portcullis_checker *checker = NULL;
    CHECK_OK(portcullis_checker_new(policy, peppers, &checker));
    uint64_t now = (uint64_t)jv_get(v, "now")->num;

    const jv *cases = jv_get(v, "cases");
    for (size_t i = 0; i < cases->len; i++) {
        const jv *c = jv_at(cases, i);
        const char *call = jv_get(c, "call")->str;
        portcullis_result rc = PORTCULLIS_OK;
        portcullis_str strs[8];
        if (strcmp(call, "parse_key") == 0) {
            portcullis_parsed_key parsed;
            const jv *key = jv_get(c, "key");
            rc = portcullis_checker_parse(checker, key->str, key->len, &parsed);
        } else if (strcmp(call, "extract") == 0) {
            portcullis_credential cred;
            portcullis_str auth = jv_str(jv_get(c, "authorization")), query = jv_str(jv_get(c, "query"));
            rc = portcullis_extract_credential(auth.data, auth.len, query.data, query.len, "api_key", 7,
                                    jv_get(c, "allow_query")->num != 0, &cred);
        } else if (strcmp(call, "issue") == 0) {
            portcullis_key_spec spec;
            memset(&spec, 0, sizeof spec);
            spec.name = jv_str(jv_get(c, "name"));
            spec.owner = jv_str(jv_get(c, "owner"));
            spec.scopes = strs;
            spec.scopes_len = jv_strs(jv_get(c, "scopes"), strs);
            spec.kind = jv_str(jv_get(c, "kind"));
            spec.env = jv_str(jv_get(c, "env"));
            portcullis_issued_key *issued = NULL;
            rc = portcullis_checker_issue(checker, &spec, now, &issued);
            portcullis_issued_key_free(issued);
        } else if (strcmp(call, "record_from_json") == 0) {
            portcullis_record *record = NULL;
            const jv *json = jv_get(c, "json");
            rc = portcullis_record_new_from_json(json->str, json->len, &record);
            portcullis_record_free(record);
        } else if (strcmp(call, "store_insert_twice") == 0) {
            portcullis_store *store = NULL;
            CHECK_OK(portcullis_store_new(&store));
            portcullis_key_spec spec;
            memset(&spec, 0, sizeof spec);
            spec.name = (portcullis_str){"Vectors", 7};
            spec.owner = (portcullis_str){"org_1", 5};
            strs[0] = (portcullis_str){"claims:read", 11};
            spec.scopes = strs;
            spec.scopes_len = 1;
            portcullis_issued_key *issued = NULL;
            portcullis_record *record = NULL;
            CHECK_OK(portcullis_checker_issue(checker, &spec, now, &issued));
            CHECK_OK(portcullis_issued_key_record(issued, &record));
            CHECK_OK(portcullis_store_insert(store, record));
            rc = portcullis_store_insert(store, record);
            portcullis_record_free(record);
            portcullis_issued_key_free(issued);
            portcullis_store_free(store);
        } else if (strcmp(call, "store_revoke") == 0) {
            portcullis_store *store = NULL;
            CHECK_OK(portcullis_store_new(&store));
            const jv *id = jv_get(c, "id");
            rc = portcullis_store_revoke(store, id->str, id->len, now);
            portcullis_store_free(store);
        } else if (strcmp(call, "requirement") == 0) {
            portcullis_evaluation *evaluation = NULL;
            const jv *text = jv_get(c, "text");
            rc = portcullis_policy_evaluate(policy, text->str, text->len, NULL, 0, &evaluation);
            portcullis_evaluation_free(evaluation);
        } else if (strcmp(call, "peppers") == 0 || strcmp(call, "access_keys") == 0) {
            rc = run_key_ops(jv_get(c, "ops"), strcmp(call, "access_keys") == 0);
        } else if (strcmp(call, "client_public") == 0) {
            portcullis_str scopes[8];
            const jv *id = jv_get(c, "id");
            size_t n_uris = jv_strs(jv_get(c, "redirect_uris"), strs);
            size_t n_scopes = jv_strs(jv_get(c, "scopes"), scopes);
            portcullis_oauth_client *client = NULL;
            rc = portcullis_oauth_client_new_public(id->str, id->len, false, n_uris ? strs : NULL, n_uris,
                                                scopes, n_scopes, &client);
            portcullis_oauth_client_free(client);
        } else {
            CHECK(0, "errors case %zu: unknown call %s", i, call);
            continue;
        }
        CHECK((long long)rc == jv_get(c, "c_number")->num, "errors case %zu (%s %s): %s", i, call,
              jv_get(c, "code")->str, portcullis_result_name(rc));
        CHECK(same_text(portcullis_result_name(rc), jv_get(c, "c_name")), "errors case %zu name %s", i,
              portcullis_result_name(rc));
    }
    portcullis_checker_free(checker);
    portcullis_peppers_free(peppers);
    portcullis_policy_free(policy);
}

int main(void) {
    run_keys();
    run_extract();
    run_scopes();
    run_decisions();
    run_oauth_tokens();
    run_oauth_verify();
    run_oauth_checks();
    run_oauth_pkce_opaque();
    run_oauth_token_requests();
    run_errors();
    return check_summary("vectors");
}
