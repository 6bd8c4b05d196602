/* RFC 9530 Content-Digest values bound into challenges. */
#ifndef MPP_DIGEST_H
#define MPP_DIGEST_H

#include <apr_pools.h>

/* "sha-256=:<base64>:" of the given SHA-256 value. */
char *mpp_digest_format(apr_pool_t *p, const unsigned char sha256[32]);

/* 1 when digest names sha-256 and equals sha256. Accepts the structured form
 * `sha-256=:b64:` and the unwrapped `sha-256=b64` (padding optional). */
int mpp_digest_matches(apr_pool_t *p, const char *digest, const unsigned char sha256[32]);

#endif
