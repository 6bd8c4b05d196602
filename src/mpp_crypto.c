#include "mpp_crypto.h"

#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <string.h>

/* HMAC-SHA256 with the key's inner and outer states computed once per
 * thread and key (challenge ids use one or two keys, millions of times):
 * a message then costs two copies and two short digests. */
#define HMAC_KEY_MAX 128
static _Thread_local struct {
    unsigned char key[HMAC_KEY_MAX];
    apr_size_t keylen;
    EVP_MD_CTX *in, *out, *work;
    int ready;
} hc;

static int hmac_setup(const unsigned char *key, apr_size_t keylen)
{
    unsigned char k[64] = { 0 }, pad[64];
    unsigned int klen = 0;
    if (!hc.in && !(hc.in = EVP_MD_CTX_new())) return -1;
    if (!hc.out && !(hc.out = EVP_MD_CTX_new())) return -1;
    if (!hc.work && !(hc.work = EVP_MD_CTX_new())) return -1;
    hc.ready = 0;
    if (keylen > 64) {
        if (EVP_Digest(key, keylen, k, &klen, EVP_sha256(), NULL) != 1) return -1;
    }
    else memcpy(k, key, keylen);
    for (int i = 0; i < 64; i++) pad[i] = k[i] ^ 0x36;
    if (EVP_DigestInit_ex(hc.in, EVP_sha256(), NULL) != 1 || EVP_DigestUpdate(hc.in, pad, 64) != 1) return -1;
    for (int i = 0; i < 64; i++) pad[i] = k[i] ^ 0x5c;
    if (EVP_DigestInit_ex(hc.out, EVP_sha256(), NULL) != 1 || EVP_DigestUpdate(hc.out, pad, 64) != 1) return -1;
    memcpy(hc.key, key, keylen);
    hc.keylen = keylen;
    hc.ready = 1;
    return 0;
}

void mpp_hmac_sha256(const unsigned char *key, apr_size_t keylen,
                     const unsigned char *msg, apr_size_t len, unsigned char out[32])
{
    unsigned int olen = 32;
    unsigned char inner[32];
    if (keylen <= HMAC_KEY_MAX && keylen > 0
        && ((hc.ready && hc.keylen == keylen && !memcmp(hc.key, key, keylen)) || !hmac_setup(key, keylen))
        && EVP_MD_CTX_copy_ex(hc.work, hc.in) == 1 && EVP_DigestUpdate(hc.work, msg, len) == 1
        && EVP_DigestFinal_ex(hc.work, inner, &olen) == 1
        && EVP_MD_CTX_copy_ex(hc.work, hc.out) == 1 && EVP_DigestUpdate(hc.work, inner, 32) == 1
        && EVP_DigestFinal_ex(hc.work, out, &olen) == 1)
        return;
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

/* Random bytes from a per-thread pool refilled by RAND_bytes: a challenge
 * needs 16 bytes, and one RAND_bytes call costs more than the rest of it.
 * A pool is never used across a fork (the pid is checked). */
static _Thread_local struct {
    unsigned char b[512];
    apr_size_t left;
    pid_t pid;
} rp;

int mpp_random(unsigned char *buf, apr_size_t len)
{
    pid_t pid = getpid();
    if (len > sizeof(rp.b) / 4)
        return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
    if (rp.pid != pid || rp.left < len) {
        if (RAND_bytes(rp.b, (int)sizeof(rp.b)) != 1) { rp.left = 0; return -1; }
        rp.left = sizeof(rp.b);
        rp.pid = pid;
    }
    memcpy(buf, rp.b + sizeof(rp.b) - rp.left, len);
    /* what was handed out is not kept */
    OPENSSL_cleanse(rp.b + sizeof(rp.b) - rp.left, len);
    rp.left -= len;
    return 0;
}
