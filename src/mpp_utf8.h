/* UTF-8 and the \uXXXX escapes shared by the JSON and auth-param readers. */
#ifndef MPP_UTF8_H
#define MPP_UTF8_H

#include <apr_pools.h>

/* 1 when buf holds well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF). */
int mpp_utf8_valid(const unsigned char *buf, apr_size_t len);

/* Append code point cp (<= U+10FFFF) to b at *o as UTF-8 (1 to 4 bytes). */
void mpp_utf8_put(char *b, apr_size_t *o, unsigned cp);

/* Four hex digits at s (either case) -> *out; 0 or -1. */
int mpp_hex4(const char *s, unsigned *out);

#endif
