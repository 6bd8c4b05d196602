/* Thin OpenSSL wrappers used by the protocol core. */
#ifndef MPP_CRYPTO_H
#define MPP_CRYPTO_H

#include <apr_pools.h>

void mpp_hmac_sha256(const unsigned char *key, apr_size_t keylen,
                     const unsigned char *msg, apr_size_t len, unsigned char out[32]);
void mpp_sha256(const unsigned char *msg, apr_size_t len, unsigned char out[32]);
/* Constant-time equality of two NUL-terminated strings (length may leak). */
int mpp_ct_streq(const char *a, const char *b);
/* Fill buf from the CSPRNG; 0 on success. */
int mpp_random(unsigned char *buf, apr_size_t len);

#endif
