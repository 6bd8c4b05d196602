/* 256-bit unsigned integers as 32 big-endian bytes, and hex byte strings:
 * the number forms of EVM payloads and JSON-RPC (never floating point). */
#ifndef MPP_U256_H
#define MPP_U256_H

#include <apr_pools.h>

/* Canonical decimal (no sign, no leading zero, <= 2^256-1) -> 32 bytes. 0 or -1. */
int mpp_u256_from_dec(const char *s, unsigned char out[32]);
/* JSON-RPC quantity "0x" + 1..64 hex digits (no leading zeros except "0x0"). 0 or -1. */
int mpp_u256_from_quantity(const char *s, unsigned char out[32]);
/* Decimal text of v. */
char *mpp_u256_to_dec(apr_pool_t *p, const unsigned char v[32]);
/* v as a uint64 when it fits; 0 or -1. */
int mpp_u256_to_u64(const unsigned char v[32], apr_uint64_t *out);
void mpp_u256_from_u64(apr_uint64_t x, unsigned char out[32]);

/* "0x" + exactly 2*n hex digits (either case) -> n bytes. 0 or -1. */
int mpp_hex_decode(const char *s, unsigned char *out, apr_size_t n);
/* "0x" + any even number of hex digits, at most max bytes; *n set. 0 or -1. */
int mpp_hex_decode_var(apr_pool_t *p, const char *s, apr_size_t max, unsigned char **out, apr_size_t *n);
/* "0x" + lower-case hex. */
char *mpp_hex_encode(apr_pool_t *p, const unsigned char *b, apr_size_t n);
/* JSON-RPC quantity form of v ("0x0", "0x1a"). */
char *mpp_u256_to_quantity(apr_pool_t *p, const unsigned char v[32]);

#endif
