#include "mpp_crypto.h"

#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <string.h>

/* HMAC-SHA256 with each key's inner and outer states computed once per
 * thread (challenge ids and HS256 tokens use a few keys, millions of
 * times): a message then costs two copies and two short digests. */
#define HMAC_KEY_MAX 128
#define HMAC_KEYS 4
typedef struct {
    unsigned char key[HMAC_KEY_MAX];
    apr_size_t keylen;
    EVP_MD_CTX *in, *out;
    int ready;
} hkey_t;
static _Thread_local struct {
    hkey_t k[HMAC_KEYS];
    EVP_MD_CTX *work;
    unsigned next;
} hc;

static hkey_t *hmac_key(const unsigned char *key, apr_size_t keylen)
{
    unsigned char k[64] = { 0 }, pad[64];
    unsigned int klen = 0;
    hkey_t *h;
    for (int i = 0; i < HMAC_KEYS; i++)
        if (hc.k[i].ready && hc.k[i].keylen == keylen && !memcmp(hc.k[i].key, key, keylen)) return &hc.k[i];
    h = &hc.k[hc.next++ % HMAC_KEYS];
    h->ready = 0;
    if (!hc.work && !(hc.work = EVP_MD_CTX_new())) return NULL;
    if (!h->in && !(h->in = EVP_MD_CTX_new())) return NULL;
    if (!h->out && !(h->out = EVP_MD_CTX_new())) return NULL;
    if (keylen > 64) {
        if (EVP_Digest(key, keylen, k, &klen, EVP_sha256(), NULL) != 1) return NULL;
    }
    else memcpy(k, key, keylen);
    for (int i = 0; i < 64; i++) pad[i] = k[i] ^ 0x36;
    if (EVP_DigestInit_ex(h->in, EVP_sha256(), NULL) != 1 || EVP_DigestUpdate(h->in, pad, 64) != 1) return NULL;
    for (int i = 0; i < 64; i++) pad[i] = k[i] ^ 0x5c;
    if (EVP_DigestInit_ex(h->out, EVP_sha256(), NULL) != 1 || EVP_DigestUpdate(h->out, pad, 64) != 1) return NULL;
    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(pad, sizeof(pad));
    memcpy(h->key, key, keylen);
    h->keylen = keylen;
    h->ready = 1;
    return h;
}

void mpp_hmac_sha256(const unsigned char *key, apr_size_t keylen,
                     const unsigned char *msg, apr_size_t len, unsigned char out[32])
{
    unsigned int olen = 32;
    unsigned char inner[32];
    hkey_t *h = keylen <= HMAC_KEY_MAX && keylen > 0 ? hmac_key(key, keylen) : NULL;
    if (h && EVP_MD_CTX_copy_ex(hc.work, h->in) == 1 && EVP_DigestUpdate(hc.work, msg, len) == 1
        && EVP_DigestFinal_ex(hc.work, inner, &olen) == 1
        && EVP_MD_CTX_copy_ex(hc.work, h->out) == 1 && EVP_DigestUpdate(hc.work, inner, 32) == 1
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
