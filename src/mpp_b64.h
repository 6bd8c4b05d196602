/* Base64url (RFC 4648 section 5) without padding, strict on input. */
#ifndef MPP_B64_H
#define MPP_B64_H

#include <apr_pools.h>

#include "mpp_utf8.h" /* mpp_utf8_valid, for text decoded from base64url */

/* Encode len bytes; the result is NUL-terminated and never padded. */
char *mpp_b64url_encode(apr_pool_t *p, const unsigned char *data, apr_size_t len);

/* Strict decode: only A-Z a-z 0-9 - _, no '=', no whitespace, a length that
 * is not 1 mod 4, and zero trailing bits (one canonical text per byte string).
 * The output is NUL-terminated (not counted in *outlen). Returns 0 or -1. */
int mpp_b64url_decode(apr_pool_t *p, const char *in, apr_size_t inlen,
                      unsigned char **out, apr_size_t *outlen);

/* Standard base64 with padding (RFC 4648 section 4), for RFC 9530 digests. */
char *mpp_b64std_encode(apr_pool_t *p, const unsigned char *data, apr_size_t len);

#endif
