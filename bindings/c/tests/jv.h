/* A constant JSON value tree, generated from the conformance vectors by gen_vectors.py,
 * and small helpers to read it. */
#ifndef PORTCULLIS_TEST_JV_H
#define PORTCULLIS_TEST_JV_H

#include <stddef.h>
#include <string.h>

/* JV_REAL keeps a non-integer number as its JSON text in `str` (read it with strtod). */
enum { JV_NULL, JV_BOOL, JV_INT, JV_STRING, JV_ARRAY, JV_OBJECT, JV_REAL };

typedef struct jv {
    int type;
    long long num;             /* JV_BOOL, JV_INT */
    const char *str;           /* JV_STRING */
    size_t len;                /* string length, or item count */
    const struct jv *items;    /* JV_ARRAY, JV_OBJECT values */
    const char *const *keys;   /* JV_OBJECT keys */
} jv;

extern const jv VECTORS_KEYS, VECTORS_EXTRACT, VECTORS_SCOPES, VECTORS_DECISIONS, VECTORS_OAUTH,
    VECTORS_ERRORS, VECTORS_USAGE, VECTORS_LIMITS;

/* The member `key` of an object, or NULL. */
static inline const jv *jv_get(const jv *obj, const char *key) {
    if (obj == NULL || obj->type != JV_OBJECT) return NULL;
    for (size_t i = 0; i < obj->len; i++)
        if (strcmp(obj->keys[i], key) == 0) return &obj->items[i];
    return NULL;
}

/* Item `i` of an array, or NULL. */
static inline const jv *jv_at(const jv *arr, size_t i) {
    if (arr == NULL || arr->type != JV_ARRAY || i >= arr->len) return NULL;
    return &arr->items[i];
}

/* Whether a value is absent or null. */
static inline int jv_is_null(const jv *v) { return v == NULL || v->type == JV_NULL; }

#endif
