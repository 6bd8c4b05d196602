/* JWT entitlements (mpp_jwt_verify): structure, header, kid selection,
 * signature, claims, against fixed key sets of every algorithm loaded from
 * tests/fuzz/keys (PEM files, an HMAC secret and JWKS documents). A fuzzer
 * cannot forge signatures, so the harness also signs the input's own header
 * and payload with the key its header names and verifies that token: the
 * claim checks are reached for any bytes.
 * Invariants: a token signed with the right key never fails as "bad
 * signature"; accepted claims signed again by mpp_jwt_sign verify to the
 * same claims; mpp_jwt_check (the cached path) agrees with mpp_jwt_verify.
 * Inputs holding "keys" are also loaded as JWKS documents. */
#include "fuzz.h"

#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "mpp_b64.h"
#include "mpp_json.h"
#include "mpp_jwt.h"

#define NOW_SEC 1893456000LL   /* 2030-01-01T00:00:00Z, as the seeds expect */

enum { HS256_FILE, HS384_FILE, HS512_FILE, HS256_JWKS, RS256_JWKS, ES256_FILE, ES256_JWKS,
       EDDSA_FILE, EDDSA_JWKS, NSETS };

static mpp_jwt_keyset_t sets[NSETS];

static void load(apr_pool_t *p, int i, mpp_jwt_alg_t alg, const char *file, int jwks)
{
    const char *path = apr_pstrcat(p, fuzz_keys_dir(), "/", file, NULL), *e;
    mpp_jwt_keyset_t *ks = &sets[i];
    ks->name = file;
    ks->alg = alg;
    ks->iss = "https://issuer.test";
    ks->aud = "api.test";
    ks->leeway = 60;
    if (jwks) {
        char *text;
        apr_size_t n;
        apr_file_t *f;
        apr_finfo_t fi;
        if (apr_file_open(&f, path, APR_FOPEN_READ, 0, p) || apr_file_info_get(&fi, APR_FINFO_SIZE, f)) {
            fprintf(stderr, "fuzz_jwt: cannot read %s (set MPP_FUZZ_KEYS)\n", path);
            abort();
        }
        n = (apr_size_t)fi.size;
        text = apr_palloc(p, n + 1);
        apr_file_read_full(f, text, n, &n);
        apr_file_close(f);
        e = mpp_jwt_load_jwks(p, ks, text, n);
    }
    else e = mpp_jwt_load_file(p, ks, path);
    if (e) {
        fprintf(stderr, "fuzz_jwt: %s: %s\n", path, e);
        abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    apr_pool_t *p;
    fuzz_init();
    p = fuzz_forever();
    load(p, HS256_FILE, MPP_JWT_HS256, "hs.key", 0);
    load(p, HS384_FILE, MPP_JWT_HS384, "hs.key", 0);
    load(p, HS512_FILE, MPP_JWT_HS512, "hs.key", 0);
    load(p, HS256_JWKS, MPP_JWT_HS256, "hs.jwks", 1);
    load(p, RS256_JWKS, MPP_JWT_RS256, "rs256.jwks", 1);
    load(p, ES256_FILE, MPP_JWT_ES256, "es256.pem", 0);
    load(p, ES256_JWKS, MPP_JWT_ES256, "es256.jwks", 1);
    load(p, EDDSA_FILE, MPP_JWT_EDDSA, "ed25519.pem", 0);
    load(p, EDDSA_JWKS, MPP_JWT_EDDSA, "eddsa.jwks", 1);
    return 0;
}

/* The set whose (first, signing) key signs a header naming alg. */
static int signer_for(const char *alg)
{
    if (alg && !strcmp(alg, "HS384")) return HS384_FILE;
    if (alg && !strcmp(alg, "HS512")) return HS512_FILE;
    if (alg && !strcmp(alg, "ES256")) return ES256_FILE;
    if (alg && !strcmp(alg, "EdDSA")) return EDDSA_FILE;
    return HS256_FILE;
}

/* JWS signature of msg with the set's first key, base64url. */
static const char *sign_raw(apr_pool_t *p, const mpp_jwt_keyset_t *ks, const char *msg)
{
    const mpp_jwt_key_t *k = &APR_ARRAY_IDX(ks->keys, 0, mpp_jwt_key_t);
    unsigned char sig[512];
    size_t slen = sizeof(sig);
    if (k->secret) {
        const EVP_MD *md = ks->alg == MPP_JWT_HS384 ? EVP_sha384() : ks->alg == MPP_JWT_HS512 ? EVP_sha512() : EVP_sha256();
        unsigned int n = 0;
        if (!HMAC(md, k->secret, (int)k->secret_len, (const unsigned char *)msg, strlen(msg), sig, &n)) abort();
        slen = n;
    }
    else {
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        if (!c || EVP_DigestSignInit(c, NULL, ks->alg == MPP_JWT_EDDSA ? NULL : EVP_sha256(), NULL, k->pkey) != 1
            || EVP_DigestSign(c, sig, &slen, (const unsigned char *)msg, strlen(msg)) != 1)
            abort();
        EVP_MD_CTX_free(c);
        if (ks->alg == MPP_JWT_ES256) {   /* DER -> R || S */
            const unsigned char *q = sig;
            const BIGNUM *r, *s;
            ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)slen);
            if (!es) abort();
            ECDSA_SIG_get0(es, &r, &s);
            BN_bn2binpad(r, sig, 32);
            BN_bn2binpad(s, sig + 32, 32);
            ECDSA_SIG_free(es);
            slen = 64;
        }
    }
    return mpp_b64url_encode(p, sig, slen);
}

/* Accepted claims signed again by the module verify to the same claims. */
static void resign_claims(apr_pool_t *p, int set, json_object *claims)
{
    const char *err = NULL, *tok = mpp_jwt_sign(p, &sets[set], claims, &err);
    json_object *again;
    FUZZ_ASSERT(tok, "%s cannot sign accepted claims: %s", sets[set].name, err);
    /* JCS may write numbers longer than the token had them (1e20) */
    if (strlen(tok) > MPP_JWT_MAX) return;
    again = mpp_jwt_verify(p, &sets[set], tok, apr_time_from_sec(NOW_SEC), &err);
    FUZZ_ASSERT(again, "%s refuses its own token (%s): %s", sets[set].name, err, tok);
    FUZZ_ASSERT(!strcmp(mpp_jcs(p, again), mpp_jcs(p, claims)), "claims changed by sign/verify");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_begin();
    const char *tok = fuzz_str(p, data, size), *err;
    apr_time_t now = apr_time_from_sec(NOW_SEC);

    /* the token as it came */
    for (int i = 0; i < NSETS; i++) {
        json_object *claims;
        err = NULL;
        claims = mpp_jwt_verify(p, &sets[i], tok, now, &err);
        FUZZ_ASSERT(claims || err, "refused without a reason");
        if (claims) {
            FUZZ_ASSERT(json_object_is_type(claims, json_type_object), "claims are not an object");
            resign_claims(p, HS256_FILE, claims);
            if (i == ES256_FILE || i == ES256_JWKS) resign_claims(p, ES256_FILE, claims);
            if (i == EDDSA_FILE || i == EDDSA_JWKS) resign_claims(p, EDDSA_FILE, claims);
        }
    }

    /* its header and payload, signed with the key its header asks for */
    {
        const char *d1 = strchr(tok, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL, *alg = NULL, *msg, *signed_tok;
        unsigned char *h;
        apr_size_t hl;
        int set;
        json_object *hdr, *claims;
        if (!d1) msg = apr_pstrcat(p, tok, ".", NULL);
        else msg = d2 ? apr_pstrmemdup(p, tok, (apr_size_t)(d2 - tok)) : tok;
        d1 = strchr(msg, '.');
        if (d1 && !mpp_b64url_decode(p, msg, (apr_size_t)(d1 - msg), &h, &hl)
            && (hdr = mpp_json_parse(p, (const char *)h, hl, 4096, 4, &err)))
            alg = mpp_json_str(hdr, "alg");
        set = signer_for(alg);
        signed_tok = apr_pstrcat(p, msg, ".", sign_raw(p, &sets[set], msg), NULL);
        err = NULL;
        claims = mpp_jwt_verify(p, &sets[set], signed_tok, now, &err);
        FUZZ_ASSERT(claims || (err && strcmp(err, "bad signature")),
                    "a token signed with the %s key fails: %s", sets[set].name, signed_tok);
        /* the gate's cached path agrees, verifying and then from the cache */
        for (int round = 0; round < 2; round++) {
            const char *cerr = NULL;
            const mpp_jwt_claims_t *c = mpp_jwt_check(p, &sets[set], signed_tok, now, &cerr);
            FUZZ_ASSERT(!c == !claims, "mpp_jwt_check and mpp_jwt_verify disagree (round %d): %s", round,
                        cerr ? cerr : "accepted");
            FUZZ_ASSERT(c || !strcmp(cerr, err), "refused for %s, not %s", cerr, err);
            FUZZ_ASSERT(!c || !c->sub == !mpp_json_str(claims, "sub"), "sub differs");
        }
        if (claims) resign_claims(p, set, claims);
    }

    /* the input as a JWKS document, for every algorithm */
    if (size < 65536 && memmem(data, size, "keys", 4)) {
        static const mpp_jwt_alg_t algs[] = { MPP_JWT_HS256, MPP_JWT_RS256, MPP_JWT_ES256, MPP_JWT_EDDSA };
        for (unsigned i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
            mpp_jwt_keyset_t ks = { .name = "fuzz", .alg = algs[i] };
            if (!mpp_jwt_load_jwks(p, &ks, tok, size)) {
                FUZZ_ASSERT(ks.keys && ks.keys->nelts > 0, "a JWKS with no key was accepted");
                mpp_jwt_verify(p, &ks, "eyJhbGciOiJIUzI1NiJ9.e30.AAAA", now, &err);
            }
        }
    }
    fuzz_end();
    return 0;
}
