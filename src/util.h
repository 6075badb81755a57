/*
 * src/util.h - small helpers the CLI verbs share: strict number parsing,
 * CPU lists, UTF-8 boundaries, process memory, whole-file reads.
 */
#ifndef NRV_UTIL_H
#define NRV_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Strict parses: the whole string must be a number within [lo, hi].
 * Return 0 on success, -1 otherwise. */
int nrv_parse_int(const char *s, int lo, int hi, int *out);
int nrv_parse_u64(const char *s, uint64_t *out);
int nrv_parse_float(const char *s, float lo, float hi, float *out);

/* Parse "0,2,4-7" into at most cap core ids; returns the count, or -1. */
int nrv_parse_cpu_list(const char *s, int *out, int cap);

int nrv_online_cpus(void);
uint64_t nrv_random_seed(void);

/* Bytes at the end of buf[0..n) that start a UTF-8 character not yet
 * complete (0..3). Invalid bytes are never held back. */
size_t nrv_utf8_incomplete_tail(const char *buf, size_t n);

/* Peak resident set size of this process (VmHWM), bytes; 0 if unknown. */
uint64_t nrv_peak_rss_bytes(void);
/* Current resident set size (VmRSS), bytes; 0 if unknown. */
uint64_t nrv_rss_bytes(void);

/* Read a whole regular file of at most max bytes into a NUL-terminated
 * malloc'd buffer. Returns 0 or -errno with err set. */
int nrv_read_file(const char *path, size_t max, char **out, size_t *len, char *err, size_t errlen);

/* "134.52 M" (parameter counts as llama.cpp prints them) and "86.06 MiB". */
void nrv_fmt_count(char *buf, size_t cap, uint64_t n);
void nrv_fmt_bytes(char *buf, size_t cap, uint64_t n);

/* Write s as the inside of a JSON string (quotes not included). */
void nrv_json_print_escaped(FILE *f, const char *s);

#endif
