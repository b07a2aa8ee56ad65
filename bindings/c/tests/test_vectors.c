/* Runs the conformance vectors (the JSON files in tests/vectors, compiled in by gen_vectors.py)
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

/* The vectors' name for a key-parse result code. */
static const char *key_error(portcullis_result rc) {
    switch (rc) {
    case PORTCULLIS_OK: return NULL;
    case PORTCULLIS_KEY_SHAPE: return "shape";
    case PORTCULLIS_KEY_UNKNOWN_KIND: return "unknown_kind";
    case PORTCULLIS_KEY_UNKNOWN_ENV: return "unknown_env";
    case PORTCULLIS_KEY_LENGTH: return "length";
    case PORTCULLIS_KEY_CHARACTER: return "character";
    case PORTCULLIS_KEY_CHECKSUM: return "checksum";
    default: return "?";
    }
}

/* The vectors' name for an extraction result code. */
static const char *extract_error(portcullis_result rc) {
    switch (rc) {
    case PORTCULLIS_OK: return NULL;
    case PORTCULLIS_CREDENTIAL_MISSING: return "missing_credential";
    case PORTCULLIS_CREDENTIAL_WRONG_SCHEME: return "wrong_scheme";
    case PORTCULLIS_CREDENTIAL_MALFORMED_HEADER: return "malformed_header";
    case PORTCULLIS_CREDENTIAL_BOTH_PRESENT: return "both_present";
    case PORTCULLIS_CREDENTIAL_QUERY_REFUSED: return "query_refused";
    case PORTCULLIS_CREDENTIAL_MALFORMED_QUERY: return "malformed_query";
    default: return "?";
    }
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
    CHECK_OK(portcullis_policy_from_toml(toml, len, &policy));
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
        CHECK_OK(portcullis_legacy_hash(key->str, key->len, &legacy, NULL));
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
        CHECK(same_text(key_error(rc), jv_get(c, "error")), "parse case %zu: %s", i, portcullis_result_name(rc));
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
        portcullis_result rc = portcullis_extract(
            hptr, hlen, jv_is_null(query) ? NULL : query->str, jv_is_null(query) ? 0 : query->len,
            param->str, param->len, jv_get(c, "allow_query")->num != 0, &cred);
        CHECK(same_text(extract_error(rc), jv_get(c, "error")), "extract case %zu: %s", i, portcullis_result_name(rc));
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
    CHECK_OK(portcullis_policy_from_toml(toml->str, toml->len, &policy));
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
        CHECK_OK(portcullis_record_from_json(json->str, json->len, &record));
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

int main(void) {
    run_keys();
    run_extract();
    run_scopes();
    run_decisions();
    return check_summary("vectors");
}
