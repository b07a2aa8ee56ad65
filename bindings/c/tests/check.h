/* Minimal test support for the C suites: failure counting and string helpers. */
#ifndef PORTCULLIS_TEST_CHECK_H
#define PORTCULLIS_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portcullis.h"

/* The tests' fixed "now" (2027-01-15 08:00 UTC), the same as the Rust and Python suites'. */
#define NOW 1800000000ULL

static int check_failures = 0;
static int check_count = 0;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        check_count++;                                                     \
        if (!(cond)) {                                                     \
            check_failures++;                                              \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                  \
            fputc('\n', stderr);                                           \
        }                                                                  \
    } while (0)

/* A call that must return `expected`. */
#define CHECK_RC(call, expected)                                           \
    do {                                                                   \
        portcullis_result rc_ = (call);                                    \
        CHECK(rc_ == (expected), "%s returned %s, expected %s", #call,     \
              portcullis_result_name(rc_), portcullis_result_name(expected)); \
    } while (0)

#define CHECK_OK(call) CHECK_RC(call, PORTCULLIS_OK)

/* Whether a borrowed string equals a C string (NULL matches only an absent string). */
static inline int str_is(portcullis_str s, const char *expected) {
    if (expected == NULL) return s.data == NULL;
    return s.data != NULL && s.len == strlen(expected) && memcmp(s.data, expected, s.len) == 0;
}

/* Whether a borrowed string equals `len` bytes. */
static inline int str_is_n(portcullis_str s, const char *expected, size_t len) {
    return s.data != NULL && s.len == len && memcmp(s.data, expected, len) == 0;
}

/* A portcullis_str over a C string. */
static inline portcullis_str cstr(const char *s) {
    portcullis_str r = {s, s == NULL ? 0 : strlen(s)};
    return r;
}

/* A request over C strings; authorization and query may be NULL. */
static inline portcullis_request make_request(const char *method, const char *path,
                                              const char *authorization, const char *query,
                                              bool https) {
    portcullis_request r;
    memset(&r, 0, sizeof r);
    r.method = method;
    r.method_len = strlen(method);
    r.path = path;
    r.path_len = strlen(path);
    r.authorization = authorization;
    r.authorization_len = authorization ? strlen(authorization) : 0;
    r.query = query;
    r.query_len = query ? strlen(query) : 0;
    r.https = https;
    return r;
}

/* Reads a whole file into a NUL-terminated heap buffer (free it); NULL on error. */
static inline char *read_file(const char *path, size_t *len_out) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf != NULL && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            char *bigger = realloc(buf, cap * 2);
            if (bigger == NULL) { free(buf); buf = NULL; break; }
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf == NULL) return NULL;
    buf[len] = '\0';
    if (len_out) *len_out = len;
    return buf;
}

/* Prints the summary and gives the exit status. */
static inline int check_summary(const char *suite) {
    if (check_failures == 0) {
        printf("%s: %d checks passed\n", suite, check_count);
        return 0;
    }
    printf("%s: %d of %d checks FAILED\n", suite, check_failures, check_count);
    return 1;
}

#endif
