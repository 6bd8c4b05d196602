#include "mpp_digest.h"
#include "mpp_b64.h"

#include <apr_strings.h>
#include <openssl/crypto.h>
#include <string.h>

char *mpp_digest_format(apr_pool_t *p, const unsigned char sha256[32])
{
    return apr_pstrcat(p, "sha-256=:", mpp_b64std_encode(p, sha256, 32), ":", NULL);
}

int mpp_digest_matches(apr_pool_t *p, const char *digest, const unsigned char sha256[32])
{
    const char *v;
    char *want;
    apr_size_t n;

    if (strncasecmp(digest, "sha-256=", 8) != 0)
        return 0;
    v = digest + 8;
    n = strlen(v);
    if (n >= 2 && v[0] == ':' && v[n - 1] == ':') { v++; n -= 2; }
    while (n && v[n - 1] == '=') n--;
    want = mpp_b64std_encode(p, sha256, 32);
    want[43] = '\0'; /* 32 bytes: 43 characters and one '=' */
    return n == 43 && CRYPTO_memcmp(v, want, 43) == 0;
}
