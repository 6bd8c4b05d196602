#include "mpp_secp.h"
#include "mpp_keccak.h"

#include <pthread.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <string.h>

static secp256k1_context *ctx;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void make_ctx(void)
{
#ifdef SECP256K1_CONTEXT_NONE
    ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);   /* 0.2+: one context does everything */
#else
    ctx = secp256k1_context_create(SECP256K1_CONTEXT_SIGN | SECP256K1_CONTEXT_VERIFY);
#endif
}

static secp256k1_context *get_ctx(void)
{
    pthread_once(&once, make_ctx);
    return ctx;
}

/* n/2 of secp256k1, big-endian: s above it is the malleable twin */
static const unsigned char HALF_N[32] = {
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0,
};

static void pub_to_addr(const secp256k1_pubkey *pub, unsigned char addr[20])
{
    unsigned char ser[65], h[32];
    size_t n = sizeof(ser);
    secp256k1_ec_pubkey_serialize(get_ctx(), ser, &n, pub, SECP256K1_EC_UNCOMPRESSED);
    mpp_keccak256(ser + 1, 64, h);
    memcpy(addr, h + 12, 20);
}

int mpp_secp_recover_rs(const unsigned char digest[32], const unsigned char r[32],
                        const unsigned char s[32], int recid, unsigned char addr[20])
{
    secp256k1_ecdsa_recoverable_signature sig;
    secp256k1_pubkey pub;
    unsigned char rs[64];
    secp256k1_context *c = get_ctx();

    if (!c || recid < 0 || recid > 1 || memcmp(s, HALF_N, 32) > 0)
        return -1;
    memcpy(rs, r, 32);
    memcpy(rs + 32, s, 32);
    if (!secp256k1_ecdsa_recoverable_signature_parse_compact(c, &sig, rs, recid)
        || !secp256k1_ecdsa_recover(c, &pub, &sig, digest))
        return -1;
    pub_to_addr(&pub, addr);
    return 0;
}

int mpp_secp_recover(const unsigned char digest[32], const unsigned char sig[65],
                     unsigned char addr[20])
{
    int v = sig[64];
    if (v >= 27) v -= 27;
    return mpp_secp_recover_rs(digest, sig, sig + 32, v, addr);
}

int mpp_secp_sign(const unsigned char key[32], const unsigned char digest[32],
                  unsigned char rs[64], int *recid)
{
    secp256k1_ecdsa_recoverable_signature sig;
    secp256k1_context *c = get_ctx();
    if (!c || !secp256k1_ecdsa_sign_recoverable(c, &sig, digest, key, NULL, NULL))
        return -1;
    secp256k1_ecdsa_recoverable_signature_serialize_compact(c, rs, recid, &sig);
    return 0;
}

int mpp_secp_address(const unsigned char key[32], unsigned char addr[20])
{
    secp256k1_pubkey pub;
    secp256k1_context *c = get_ctx();
    if (!c || !secp256k1_ec_pubkey_create(c, &pub, key))
        return -1;
    pub_to_addr(&pub, addr);
    return 0;
}
