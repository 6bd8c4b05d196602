#include "mpp_crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <string.h>

void mpp_hmac_sha256(const unsigned char *key, apr_size_t keylen,
                     const unsigned char *msg, apr_size_t len, unsigned char out[32])
{
    unsigned int olen = 32;
    HMAC(EVP_sha256(), key, (int)keylen, msg, len, out, &olen);
}

void mpp_sha256(const unsigned char *msg, apr_size_t len, unsigned char out[32])
{
    unsigned int olen = 32;
    EVP_Digest(msg, len, out, &olen, EVP_sha256(), NULL);
}

int mpp_ct_streq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return 0;
    return CRYPTO_memcmp(a, b, la) == 0;
}

int mpp_random(unsigned char *buf, apr_size_t len)
{
    return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}
