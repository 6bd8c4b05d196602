/* RLP (Ethereum's recursive length prefix): strict canonical decoding of
 * untrusted bytes, and encoding for the server's own transactions. */
#ifndef MPP_RLP_H
#define MPP_RLP_H

#include <apr_pools.h>
#include <apr_tables.h>

typedef struct {
    const unsigned char *p;   /* payload (string bytes or the list's encoded items) */
    apr_size_t len;
    int is_list;
} mpp_rlp_t;

/* One item at in (exactly inlen bytes when whole is set). Rejects
 * non-canonical forms (long form for short payloads, leading zero length
 * bytes, a single byte < 0x80 written as a string). 0 or -1. */
int mpp_rlp_decode(const unsigned char *in, apr_size_t inlen, mpp_rlp_t *item, apr_size_t *used);

/* The items of a list, at most max; 0 or -1. */
int mpp_rlp_items(const mpp_rlp_t *list, mpp_rlp_t *items, int max, int *count);

/* A string item holding a canonical unsigned integer (no leading zero
 * bytes, at most 32 bytes) -> 32-byte big-endian. 0 or -1. */
int mpp_rlp_uint(const mpp_rlp_t *item, unsigned char out[32]);

/* Encoding into a byte array (apr_array_header_t of char). */
void mpp_rlp_put_bytes(apr_array_header_t *b, const unsigned char *s, apr_size_t n);
void mpp_rlp_put_uint(apr_array_header_t *b, const unsigned char v[32]);
/* Wrap everything appended to b from offset start into a list. */
void mpp_rlp_wrap_list(apr_array_header_t *b, int start);

#endif
