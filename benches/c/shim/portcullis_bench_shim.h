/* The Rust baseline of the C harness (benches/c/shim/src/lib.rs): bench only, not part of
 * the library or of include/portcullis.h. */
#ifndef PORTCULLIS_BENCH_SHIM_H
#define PORTCULLIS_BENCH_SHIM_H
#include <stddef.h>
#include <stdint.h>
#include "portcullis.h"

/* A Rust checker and store rebuilt from the C program's policy file, pepper and records. */
typedef struct portcullis_bench_rust portcullis_bench_rust;

/* 0 on success; see portcullis_bench_result in lib.rs for the other codes. */
int portcullis_bench_rust_new(const char *policy_path, size_t policy_path_len, const char *pepper_id,
                              size_t pepper_id_len, const uint8_t *pepper, size_t pepper_len,
                              portcullis_bench_rust **out);
/* Adds a record given as the JSON portcullis_record_to_json writes; 0 on success. */
int portcullis_bench_rust_insert(const portcullis_bench_rust *bench, const char *json, size_t len);
/* The Rust Checker::check of requests[i & (count - 1)] for i in 0..iterations (count a power
 * of two); the last HTTP status (0 on bad input). */
uint32_t portcullis_bench_rust_check(const portcullis_bench_rust *bench, const portcullis_request *requests,
                                     size_t count, uint64_t now, uint64_t iterations);
/* Frees it; NULL is a no-op. */
void portcullis_bench_rust_free(portcullis_bench_rust *bench);
#endif
