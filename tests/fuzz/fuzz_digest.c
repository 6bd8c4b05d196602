/* RFC 9530 digests as a credential echoes them (mpp_digest_matches).
 * Input: the digest value, checked against SHA-256 of "hello" and of the
 * input itself. Invariants: the module's own form for a body always
 * matches that body; a value that matches names sha-256 and carries the
 * body's 43 base64 characters. */
#include "fuzz.h"

#include <strings.h>

#include "mpp_b64.h"
#include "mpp_crypto.h"
#include "mpp_digest.h"

static unsigned char hello[32];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    mpp_sha256((const unsigned char *)"hello", 5, hello);
    return 0;
}

static void check(apr_pool_t *p, const char *v, const unsigned char sha[32])
{
    if (mpp_digest_matches(p, v, sha)) {
        const char *b64 = mpp_b64std_encode(p, sha, 32);
        FUZZ_ASSERT(!strncasecmp(v, "sha-256=", 8), "matched without sha-256=: %s", v);
        FUZZ_ASSERT(!strncmp(strchr(v, '=') + 1 + (v[8] == ':'), b64, 43), "matched %s, want %s", v, b64);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_begin();
    const char *v = fuzz_str(p, data, size);
    unsigned char own[32];
    const char *f;

    mpp_sha256(data, size, own);
    check(p, v, hello);
    check(p, v, own);
    f = mpp_digest_format(p, own);
    FUZZ_ASSERT(mpp_digest_matches(p, f, own), "own digest %s refused", f);
    fuzz_end();
    return 0;
}
