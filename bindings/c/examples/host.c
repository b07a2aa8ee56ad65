/* An example C host for libportcullis.
 *
 * It loads a policy, keeps its key records in a file it owns (one JSON record per line,
 * as a database table would hold them) and answers checks for requests given as lines
 * `METHOD PATH[?QUERY] [AUTHORIZATION]` on stdin, printing one decision per line.
 * Records are fetched through the lookup callback, parsed from the file's JSON on demand,
 * exactly as a host would fetch a row from its database.
 *
 *   host POLICY RECORDS issue NAME OWNER SCOPE...   issue a key: print it once, store the record
 *   host POLICY RECORDS revoke KEY_ID               revoke a key from now on
 *   host POLICY RECORDS serve                       read requests on stdin, print decisions
 *
 * Environment: PORTCULLIS_PEPPER (the server-side secret, at least 32 bytes; keep it out
 * of the records file), PORTCULLIS_NOW (Unix seconds; default: the clock). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "portcullis.h"

#define MAX_RECORDS 1024
#define MAX_LINE 8192

/* The records file, loaded: one JSON text per record, with its id. */
typedef struct {
    size_t count;
    char *json[MAX_RECORDS];
    char id[MAX_RECORDS][17];
} records;

/* A heap copy of a string (strdup is not ISO C). */
static char *copy_text(const char *s) {
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    if (copy != NULL) memcpy(copy, s, n);
    return copy;
}

static int fail(const char *what, portcullis_result rc) {
    char detail[1024];
    size_t len = 0;
    if (portcullis_last_error(detail, sizeof detail, &len) != PORTCULLIS_OK) detail[0] = '\0';
    fprintf(stderr, "%s: %s (%s)\n", what, portcullis_result_message(rc), detail);
    return 1;
}

static void load_records(const char *path, records *db) {
    db->count = 0;
    FILE *f = fopen(path, "r");
    if (f == NULL) return; /* no keys yet */
    char line[MAX_LINE];
    while (db->count < MAX_RECORDS && fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        portcullis_record *record = NULL;
        if (line[0] == '\0' || portcullis_record_new_from_json(line, strlen(line), &record) != PORTCULLIS_OK) continue;
        portcullis_str id = portcullis_record_id(record);
        memcpy(db->id[db->count], id.data, 16);
        db->id[db->count][16] = '\0';
        db->json[db->count++] = copy_text(line);
        portcullis_record_free(record);
    }
    fclose(f);
}

static int save_records(const char *path, const records *db) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) return 1;
    for (size_t i = 0; i < db->count; i++) fprintf(f, "%s\n", db->json[i]);
    if (fclose(f) != 0) return 1;
    return rename(tmp, path) != 0;
}

static void free_records(records *db) {
    for (size_t i = 0; i < db->count; i++) free(db->json[i]);
    db->count = 0;
}

/* The lookup callback: find the row by key id, hand its parsed record to the library. */
static uint32_t lookup(void *user_data, const char *key_id, size_t key_id_len, portcullis_record **record_out) {
    const records *db = user_data;
    for (size_t i = 0; i < db->count; i++) {
        if (key_id_len == 16 && memcmp(db->id[i], key_id, 16) == 0)
            return portcullis_record_new_from_json(db->json[i], strlen(db->json[i]), record_out);
    }
    return PORTCULLIS_OK; /* unknown key: leave *record_out NULL */
}

static int issue(const portcullis_checker *checker, const char *path, records *db, int argc, char **argv, uint64_t now) {
    if (argc < 2) return fprintf(stderr, "issue NAME OWNER SCOPE...\n"), 2;
    portcullis_str scopes[32];
    size_t n = 0;
    for (int i = 2; i < argc && n < 32; i++) scopes[n++] = (portcullis_str){argv[i], strlen(argv[i])};
    portcullis_key_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.name = (portcullis_str){argv[0], strlen(argv[0])};
    spec.owner = (portcullis_str){argv[1], strlen(argv[1])};
    spec.scopes = scopes;
    spec.scopes_len = n;
    portcullis_issued_key *issued = NULL;
    portcullis_record *record = NULL;
    char *json = NULL;
    portcullis_result rc = portcullis_checker_issue(checker, &spec, now, &issued);
    if (rc != PORTCULLIS_OK) return fail("issue", rc);
    if ((rc = portcullis_issued_key_record(issued, &record)) != PORTCULLIS_OK ||
        (rc = portcullis_record_to_json(record, &json, NULL)) != PORTCULLIS_OK) {
        portcullis_record_free(record);
        portcullis_issued_key_free(issued);
        return fail("issue", rc);
    }
    int status = 1;
    if (db->count < MAX_RECORDS) {
        db->json[db->count++] = copy_text(json);
        status = save_records(path, db);
    }
    if (status == 0) printf("%s\n", portcullis_issued_key_secret(issued).data); /* shown once */
    portcullis_string_free(json);
    portcullis_record_free(record);
    portcullis_issued_key_free(issued);
    return status;
}

static int revoke(const char *path, records *db, const char *key_id, uint64_t now) {
    for (size_t i = 0; i < db->count; i++) {
        if (strcmp(db->id[i], key_id) != 0) continue;
        portcullis_record *record = NULL;
        char *json = NULL;
        portcullis_result rc = portcullis_record_new_from_json(db->json[i], strlen(db->json[i]), &record);
        if (rc == PORTCULLIS_OK) rc = portcullis_record_revoke(record, now);
        if (rc == PORTCULLIS_OK) rc = portcullis_record_to_json(record, &json, NULL);
        portcullis_record_free(record);
        if (rc != PORTCULLIS_OK) return fail("revoke", rc);
        free(db->json[i]);
        db->json[i] = copy_text(json);
        portcullis_string_free(json);
        return save_records(path, db);
    }
    fprintf(stderr, "revoke: no key %s\n", key_id);
    return 1;
}

static void print_list(const char *label, const portcullis_decision *d,
                       size_t (*len)(const portcullis_decision *),
                       portcullis_str (*at)(const portcullis_decision *, size_t)) {
    size_t n = len(d);
    if (n == 0) return;
    printf(" %s=", label);
    for (size_t i = 0; i < n; i++) {
        portcullis_str s = at(d, i);
        printf("%s%.*s", i ? "," : "", (int)s.len, s.data);
    }
}

static void print_decision(const portcullis_decision *d) {
    portcullis_str reason = portcullis_decision_reason(d), error = portcullis_decision_error(d);
    portcullis_str owner = portcullis_decision_owner(d), key_id = portcullis_decision_key_id(d);
    printf("%u reason=%.*s", portcullis_decision_status(d), (int)reason.len, reason.data);
    if (error.data) printf(" error=%.*s", (int)error.len, error.data);
    if (key_id.data) printf(" key=%.*s owner=%.*s", (int)key_id.len, key_id.data, (int)owner.len, owner.data);
    print_list("scopes", d, portcullis_decision_scopes_len, portcullis_decision_scope);
    print_list("missing", d, portcullis_decision_missing_len, portcullis_decision_missing);
    print_list("warnings", d, portcullis_decision_warnings_len, portcullis_decision_warning);
    char www[1024];
    size_t len = 0;
    if (portcullis_decision_www_authenticate(d, www, sizeof www, &len) == PORTCULLIS_OK && len > 0)
        printf(" www-authenticate=%s", www);
    printf("\n");
}

static int serve(const portcullis_checker *checker, records *db, uint64_t now) {
    char line[MAX_LINE];
    while (fgets(line, sizeof line, stdin) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        char *method = line, *path = strchr(line, ' ');
        if (path == NULL) {
            printf("bad line\n");
            continue;
        }
        *path++ = '\0';
        char *authorization = strchr(path, ' ');
        if (authorization != NULL) *authorization++ = '\0';
        char *query = strchr(path, '?');
        if (query != NULL) *query++ = '\0';
        portcullis_request req;
        memset(&req, 0, sizeof req);
        req.method = method;
        req.method_len = strlen(method);
        req.path = path;
        req.path_len = strlen(path);
        req.authorization = authorization;
        req.authorization_len = authorization ? strlen(authorization) : 0;
        req.query = query;
        req.query_len = query ? strlen(query) : 0;
        req.https = true; /* behind the TLS terminator */
        portcullis_decision *d = NULL;
        portcullis_result rc = portcullis_checker_check(checker, &req, lookup, db, now, &d);
        if (rc != PORTCULLIS_OK) {
            fail("check", rc);
            printf("error %s\n", portcullis_result_name(rc));
            continue;
        }
        print_decision(d);
        portcullis_decision_free(d);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s POLICY RECORDS issue NAME OWNER SCOPE... | revoke KEY_ID | serve\n", argv[0]);
        return 2;
    }
    const char *pepper = getenv("PORTCULLIS_PEPPER");
    const char *now_text = getenv("PORTCULLIS_NOW");
    uint64_t now = now_text ? strtoull(now_text, NULL, 10) : (uint64_t)time(NULL);
    if (pepper == NULL) return fprintf(stderr, "set PORTCULLIS_PEPPER (at least 32 bytes)\n"), 2;

    portcullis_policy *policy = NULL;
    portcullis_peppers *peppers = NULL;
    portcullis_checker *checker = NULL;
    portcullis_result rc = portcullis_policy_new_from_file(argv[1], strlen(argv[1]), &policy);
    if (rc != PORTCULLIS_OK) return fail(argv[1], rc);
    rc = portcullis_peppers_new("main", 4, (const uint8_t *)pepper, strlen(pepper), &peppers);
    if (rc == PORTCULLIS_OK) rc = portcullis_checker_new(policy, peppers, &checker);
    portcullis_peppers_free(peppers);
    portcullis_policy_free(policy);
    if (rc != PORTCULLIS_OK) return fail("peppers", rc);

    static records db;
    load_records(argv[2], &db);
    int status;
    if (strcmp(argv[3], "issue") == 0)
        status = issue(checker, argv[2], &db, argc - 4, argv + 4, now);
    else if (strcmp(argv[3], "revoke") == 0 && argc == 5)
        status = revoke(argv[2], &db, argv[4], now);
    else if (strcmp(argv[3], "serve") == 0)
        status = serve(checker, &db, now);
    else
        status = (fprintf(stderr, "unknown command %s\n", argv[3]), 2);
    free_records(&db);
    portcullis_checker_free(checker);
    return status;
}
