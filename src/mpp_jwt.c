#include "mpp_jwt.h"
#include "mpp_crypto.h"
#include "mpp_b64.h"
#include "mpp_json.h"

#include <apr_file_io.h>
#include <apr_strings.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <string.h>

static const struct { const char *name; mpp_jwt_alg_t alg; } ALGS[] = {
    { "HS256", MPP_JWT_HS256 }, { "HS384", MPP_JWT_HS384 }, { "HS512", MPP_JWT_HS512 },
    { "RS256", MPP_JWT_RS256 }, { "ES256", MPP_JWT_ES256 }, { "EdDSA", MPP_JWT_EDDSA },
};

const char *mpp_jwt_alg_name(mpp_jwt_alg_t alg)
{
    for (unsigned i = 0; i < sizeof(ALGS) / sizeof(ALGS[0]); i++)
        if (ALGS[i].alg == alg) return ALGS[i].name;
    return "?";
}

const char *mpp_jwt_alg_parse(const char *s, mpp_jwt_alg_t *alg)
{
    for (unsigned i = 0; i < sizeof(ALGS) / sizeof(ALGS[0]); i++)
        if (!strcmp(ALGS[i].name, s)) { *alg = ALGS[i].alg; return NULL; }
    return "alg= must be HS256, HS384, HS512, RS256, ES256 or EdDSA";
}

static int is_hmac(mpp_jwt_alg_t a) { return a == MPP_JWT_HS256 || a == MPP_JWT_HS384 || a == MPP_JWT_HS512; }

static const EVP_MD *hmac_md(mpp_jwt_alg_t a)
{
    return a == MPP_JWT_HS384 ? EVP_sha384() : a == MPP_JWT_HS512 ? EVP_sha512() : EVP_sha256();
}

static apr_status_t pkey_cleanup(void *k)
{
    EVP_PKEY_free(k);
    return APR_SUCCESS;
}

/* The key type must fit the algorithm: no HMAC secret for RS, no RSA for ES. */
static const char *check_pkey(EVP_PKEY *k, mpp_jwt_alg_t alg)
{
    switch (alg) {
    case MPP_JWT_RS256:
        if (EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA) return "RS256 needs an RSA key";
        if (EVP_PKEY_get_bits(k) < 2048) return "RS256 keys need at least 2048 bits";
        return NULL;
    case MPP_JWT_ES256: {
        char group[64];
        size_t n = 0;
        if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC) return "ES256 needs an EC key";
        if (!EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &n)
            || (strcmp(group, "prime256v1") && strcmp(group, "P-256")))
            return "ES256 needs a P-256 key";
        return NULL;
    }
    case MPP_JWT_EDDSA:
        return EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519 ? NULL : "EdDSA needs an Ed25519 key";
    default:
        return "not a public-key algorithm";
    }
}

static apr_uint64_t serials;

static void add_key(apr_pool_t *p, mpp_jwt_keyset_t *ks, const char *kid, const unsigned char *secret,
                    apr_size_t slen, EVP_PKEY *pk, int can_sign)
{
    mpp_jwt_key_t *k = apr_array_push(ks->keys);
    memset(k, 0, sizeof(*k));
    k->alg = ks->alg;
    k->kid = kid;
    k->secret = secret;
    k->secret_len = slen;
    k->pkey = pk;
    k->can_sign = can_sign;
    ks->serial = __atomic_add_fetch(&serials, 1, __ATOMIC_RELAXED);
    if (pk) apr_pool_cleanup_register(p, pk, pkey_cleanup, apr_pool_cleanup_null);
}

const char *mpp_jwt_load_file(apr_pool_t *p, mpp_jwt_keyset_t *ks, const char *path)
{
    BIO *bio;
    EVP_PKEY *pk;
    const char *e;
    int priv = 1;
    if (!ks->keys) ks->keys = apr_array_make(p, 2, sizeof(mpp_jwt_key_t));
    if (is_hmac(ks->alg)) {
        apr_file_t *f;
        char *buf = apr_palloc(p, 4097);
        apr_size_t n = 4096;
        if (apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, 0, p) != APR_SUCCESS)
            return "cannot be opened";
        apr_file_read_full(f, buf, n, &n);
        apr_file_close(f);
        if (n && buf[n - 1] == '\n') n--;
        if (n < 32) return "an HMAC secret needs at least 32 bytes";
        add_key(p, ks, NULL, (unsigned char *)buf, n, NULL, 1);
        return NULL;
    }
    if (!(bio = BIO_new_file(path, "r"))) return "cannot be opened";
    pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    if (!pk) {
        priv = 0;
        (void)BIO_reset(bio);
        pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    }
    BIO_free(bio);
    if (!pk) return "holds no PEM public or private key";
    if ((e = check_pkey(pk, ks->alg))) { EVP_PKEY_free(pk); return e; }
    add_key(p, ks, NULL, NULL, 0, pk, priv);
    return NULL;
}

static unsigned char *b64field(apr_pool_t *p, json_object *o, const char *key, apr_size_t *n)
{
    const char *s = mpp_json_str(o, key);
    unsigned char *out;
    if (!s || mpp_b64url_decode(p, s, strlen(s), &out, n)) return NULL;
    return out;
}

/* One JWK -> EVP_PKEY for the set's algorithm (public keys only). */
static EVP_PKEY *jwk_pkey(apr_pool_t *p, json_object *jwk, mpp_jwt_alg_t alg)
{
    const char *kty = mpp_json_str(jwk, "kty");
    EVP_PKEY *pk = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    apr_size_t n1, n2;
    unsigned char *a, *b;

    if (!kty) return NULL;
    if (alg == MPP_JWT_EDDSA && !strcmp(kty, "OKP")) {
        const char *crv = mpp_json_str(jwk, "crv");
        if (!crv || strcmp(crv, "Ed25519") || !(a = b64field(p, jwk, "x", &n1)) || n1 != 32) return NULL;
        return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, a, 32);
    }
    bld = OSSL_PARAM_BLD_new();
    if (!bld) return NULL;
    if (alg == MPP_JWT_RS256 && !strcmp(kty, "RSA")) {
        BIGNUM *bn_n, *bn_e;
        if (!(a = b64field(p, jwk, "n", &n1)) || !(b = b64field(p, jwk, "e", &n2))) goto done;
        bn_n = BN_bin2bn(a, (int)n1, NULL);
        bn_e = BN_bin2bn(b, (int)n2, NULL);
        if (bn_n && bn_e && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n)
            && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e))
            params = OSSL_PARAM_BLD_to_param(bld);
        BN_free(bn_n);
        BN_free(bn_e);
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    }
    else if (alg == MPP_JWT_ES256 && !strcmp(kty, "EC")) {
        const char *crv = mpp_json_str(jwk, "crv");
        unsigned char pub[65];
        if (!crv || strcmp(crv, "P-256") || !(a = b64field(p, jwk, "x", &n1)) || n1 != 32
            || !(b = b64field(p, jwk, "y", &n2)) || n2 != 32)
            goto done;
        pub[0] = 0x04;
        memcpy(pub + 1, a, 32);
        memcpy(pub + 33, b, 32);
        if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0)
            && OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub)))
            params = OSSL_PARAM_BLD_to_param(bld);
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    }
    if (params && ctx && EVP_PKEY_fromdata_init(ctx) > 0)
        EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params);
done:
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    return pk;
}

const char *mpp_jwt_load_jwks(apr_pool_t *p, mpp_jwt_keyset_t *ks, const char *text, apr_size_t len)
{
    const char *err;
    json_object *doc = mpp_json_parse(p, text, len, 1 << 20, 8, &err), *keys;
    int added = 0;
    if (!ks->keys) ks->keys = apr_array_make(p, 4, sizeof(mpp_jwt_key_t));
    if (!doc || !json_object_object_get_ex(doc, "keys", &keys) || !json_object_is_type(keys, json_type_array))
        return "is not a JWKS document ({\"keys\":[...]})";
    for (size_t i = 0; i < json_object_array_length(keys); i++) {
        json_object *jwk = json_object_array_get_idx(keys, i);
        const char *kid = mpp_json_str(jwk, "kid"), *jalg = mpp_json_str(jwk, "alg");
        EVP_PKEY *pk;
        if (!kid) continue;                             /* a JWKS key is chosen by kid */
        if (jalg && strcmp(jalg, mpp_jwt_alg_name(ks->alg))) continue;
        if (is_hmac(ks->alg)) {
            apr_size_t n;
            unsigned char *k;
            const char *kty = mpp_json_str(jwk, "kty");
            if (!kty || strcmp(kty, "oct") || !(k = b64field(p, jwk, "k", &n)) || n < 32) continue;
            add_key(p, ks, apr_pstrdup(p, kid), k, n, NULL, 1);
            added++;
            continue;
        }
        if (!(pk = jwk_pkey(p, jwk, ks->alg))) continue;
        if (check_pkey(pk, ks->alg)) { EVP_PKEY_free(pk); continue; }
        add_key(p, ks, apr_pstrdup(p, kid), NULL, 0, pk, 0);
        added++;
    }
    return added ? NULL : apr_psprintf(p, "has no key for %s with a kid", mpp_jwt_alg_name(ks->alg));
}

/* ---- verification ---- */

static int verify_sig(const mpp_jwt_key_t *k, const unsigned char *msg, apr_size_t mlen,
                      const unsigned char *sig, apr_size_t slen)
{
    int ok = 0;
    if (is_hmac(k->alg)) {
        unsigned char mac[64];
        unsigned int n = 0;
        if (k->alg == MPP_JWT_HS256) {   /* the common case, with the key's states kept per thread */
            mpp_hmac_sha256(k->secret, k->secret_len, msg, mlen, mac);
            n = 32;
        }
        else if (!HMAC(hmac_md(k->alg), k->secret, (int)k->secret_len, msg, mlen, mac, &n)) return 0;
        return slen == n && CRYPTO_memcmp(mac, sig, n) == 0;
    }
    {
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        unsigned char *der = NULL;
        const unsigned char *use = sig;
        apr_size_t use_len = slen;
        if (!c) return 0;
        if (k->alg == MPP_JWT_ES256) {
            /* JWS carries R || S; OpenSSL wants DER */
            ECDSA_SIG *es = ECDSA_SIG_new();
            BIGNUM *r, *s;
            int dl;
            if (slen != 64 || !es) { ECDSA_SIG_free(es); EVP_MD_CTX_free(c); return 0; }
            r = BN_bin2bn(sig, 32, NULL);
            s = BN_bin2bn(sig + 32, 32, NULL);
            if (!r || !s || !ECDSA_SIG_set0(es, r, s)) { BN_free(r); BN_free(s); ECDSA_SIG_free(es); EVP_MD_CTX_free(c); return 0; }
            dl = i2d_ECDSA_SIG(es, &der);
            ECDSA_SIG_free(es);
            if (dl <= 0) { EVP_MD_CTX_free(c); return 0; }
            use = der;
            use_len = (apr_size_t)dl;
        }
        if (EVP_DigestVerifyInit(c, NULL, k->alg == MPP_JWT_EDDSA ? NULL : EVP_sha256(), NULL, k->pkey) == 1)
            ok = EVP_DigestVerify(c, use, use_len, msg, mlen) == 1;
        OPENSSL_free(der);
        EVP_MD_CTX_free(c);
    }
    return ok;
}

static int num_claim(json_object *c, const char *key, int64_t *out)
{
    json_object *v;
    if (!json_object_object_get_ex(c, key, &v)) return 0;
    if (!json_object_is_type(v, json_type_int)) return -1;
    *out = json_object_get_int64(v);
    return 1;
}

void mpp_jwt_claims_read(apr_pool_t *p, json_object *claims, mpp_jwt_claims_t *c)
{
    json_object *a;
    memset(c, 0, sizeof(*c));
    c->has_exp = num_claim(claims, "exp", &c->exp);
    c->has_nbf = num_claim(claims, "nbf", &c->nbf);
    c->has_iat = num_claim(claims, "iat", &c->iat);
    c->iss = mpp_json_str(claims, "iss");
    c->sub = mpp_json_str(claims, "sub");
    c->rid = mpp_json_str(claims, "rid");
    c->scp = mpp_json_str(claims, "scp");
    c->eid = mpp_json_str(claims, "eid");
    c->jti = mpp_json_str(claims, "jti");
    c->aud = mpp_json_str(claims, "aud");
    if (json_object_object_get_ex(claims, "aud", &a) && json_object_is_type(a, json_type_array)) {
        size_t n = json_object_array_length(a);
        c->auds = apr_palloc(p, (n ? n : 1) * sizeof(char *));
        for (size_t i = 0; i < n; i++) {
            json_object *e = json_object_array_get_idx(a, i);
            if (json_object_is_type(e, json_type_string)) c->auds[c->n_auds++] = json_object_get_string(e);
        }
    }
}

int mpp_jwt_aud_has(const mpp_jwt_claims_t *c, const char *want)
{
    if (c->aud) return !strcmp(c->aud, want);
    for (int i = 0; i < c->n_auds; i++)
        if (!strcmp(c->auds[i], want)) return 1;
    return 0;
}

const char *mpp_jwt_claims_check(const mpp_jwt_claims_t *c, const mpp_jwt_keyset_t *ks, apr_time_t now)
{
    int64_t secs = (int64_t)apr_time_sec(now);
    if (c->has_exp != 1) return "exp missing or not an integer";
    if (secs - ks->leeway > c->exp) return "expired";   /* exp + leeway could overflow */
    if (c->has_nbf < 0) return "nbf is not an integer";
    if (c->has_nbf && secs + ks->leeway < c->nbf) return "not valid yet (nbf)";
    if (c->has_iat < 0) return "iat is not an integer";
    if (c->has_iat && c->iat > secs + ks->leeway) return "issued in the future (iat)";
    if (ks->iss && (!c->iss || strcmp(c->iss, ks->iss))) return "wrong issuer";
    if (ks->aud && !mpp_jwt_aud_has(c, ks->aud)) return "wrong audience";
    return NULL;
}

json_object *mpp_jwt_verify_signature(apr_pool_t *p, const mpp_jwt_keyset_t *ks, const char *token,
                                      const char **err)
{
    const char *d1, *d2, *alg, *kid;
    apr_size_t tlen = strlen(token), hl, pl, sl;
    unsigned char *hraw, *praw, *sig;
    json_object *hdr, *claims;
    const mpp_jwt_key_t *key = NULL;

    if (tlen > MPP_JWT_MAX) { *err = "token too large"; return NULL; }
    d1 = strchr(token, '.');
    d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d1 || !d2 || strchr(d2 + 1, '.')) { *err = "not a three-part JWS"; return NULL; }
    if (mpp_b64url_decode(p, token, (apr_size_t)(d1 - token), &hraw, &hl)
        || mpp_b64url_decode(p, d1 + 1, (apr_size_t)(d2 - d1 - 1), &praw, &pl)
        || mpp_b64url_decode(p, d2 + 1, strlen(d2 + 1), &sig, &sl)) {
        *err = "bad base64url";
        return NULL;
    }
    if (!(hdr = mpp_json_parse(p, (const char *)hraw, hl, 4096, 4, err))
        || !json_object_is_type(hdr, json_type_object)) {
        *err = "header is not a JSON object";
        return NULL;
    }
    alg = mpp_json_str(hdr, "alg");
    if (!alg || strcmp(alg, mpp_jwt_alg_name(ks->alg))) {
        *err = apr_psprintf(p, "alg %s is not this key's %s", alg ? alg : "(none)", mpp_jwt_alg_name(ks->alg));
        return NULL;
    }
    if (json_object_object_get_ex(hdr, "crit", NULL) || json_object_object_get_ex(hdr, "jku", NULL)
        || json_object_object_get_ex(hdr, "x5u", NULL) || json_object_object_get_ex(hdr, "jwk", NULL)
        || json_object_object_get_ex(hdr, "x5c", NULL)) {
        *err = "header asks for crit, jku, x5u, x5c or an embedded jwk";
        return NULL;
    }
    kid = mpp_json_str(hdr, "kid");
    for (int i = 0; i < ks->keys->nelts; i++) {
        const mpp_jwt_key_t *k = &APR_ARRAY_IDX(ks->keys, i, mpp_jwt_key_t);
        if (k->kid ? (kid && !strcmp(k->kid, kid)) : (!kid || ks->keys->nelts == 1)) { key = k; break; }
    }
    if (!key) { *err = kid ? "unknown kid" : "no key for a token without kid"; return NULL; }
    if (!verify_sig(key, (const unsigned char *)token, (apr_size_t)(d2 - token), sig, sl)) {
        *err = "bad signature";
        return NULL;
    }
    /* only now are the claims worth reading */
    if (!(claims = mpp_json_parse(p, (const char *)praw, pl, MPP_JWT_MAX, 8, err))
        || !json_object_is_type(claims, json_type_object)) {
        *err = "payload is not a JSON object";
        return NULL;
    }
    return claims;
}

json_object *mpp_jwt_verify(apr_pool_t *p, const mpp_jwt_keyset_t *ks, const char *token,
                            apr_time_t now, const char **err)
{
    mpp_jwt_claims_t c;
    json_object *claims = mpp_jwt_verify_signature(p, ks, token, err);
    if (!claims) return NULL;
    mpp_jwt_claims_read(p, claims, &c);
    return (*err = mpp_jwt_claims_check(&c, ks, now)) ? NULL : claims;
}

int mpp_jwt_can_sign(const mpp_jwt_keyset_t *ks)
{
    for (int i = 0; ks && ks->keys && i < ks->keys->nelts; i++)
        if (APR_ARRAY_IDX(ks->keys, i, mpp_jwt_key_t).can_sign) return 1;
    return 0;
}

char *mpp_jwt_sign(apr_pool_t *p, const mpp_jwt_keyset_t *ks, json_object *claims, const char **err)
{
    const mpp_jwt_key_t *key = NULL;
    json_object *hdr = mpp_json_pool_own(p, json_object_new_object());
    char *head, *body, *msg;
    unsigned char sig[512];
    size_t slen = sizeof(sig);

    for (int i = 0; ks->keys && i < ks->keys->nelts; i++)
        if (APR_ARRAY_IDX(ks->keys, i, mpp_jwt_key_t).can_sign) { key = &APR_ARRAY_IDX(ks->keys, i, mpp_jwt_key_t); break; }
    if (!key) { *err = "the key set has no signing key (a public key cannot sign)"; return NULL; }
    json_object_object_add(hdr, "alg", json_object_new_string(mpp_jwt_alg_name(ks->alg)));
    json_object_object_add(hdr, "typ", json_object_new_string("JWT"));
    if (key->kid) json_object_object_add(hdr, "kid", json_object_new_string(key->kid));
    head = mpp_jcs_b64url(p, hdr);
    body = mpp_jcs_b64url(p, claims);
    msg = apr_pstrcat(p, head, ".", body, NULL);
    if (is_hmac(ks->alg)) {
        unsigned int n = 0;
        HMAC(hmac_md(ks->alg), key->secret, (int)key->secret_len, (unsigned char *)msg, strlen(msg), sig, &n);
        slen = n;
    }
    else {
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        int ok = c && EVP_DigestSignInit(c, NULL, ks->alg == MPP_JWT_EDDSA ? NULL : EVP_sha256(), NULL, key->pkey) == 1
            && EVP_DigestSign(c, sig, &slen, (unsigned char *)msg, strlen(msg)) == 1;
        EVP_MD_CTX_free(c);
        if (!ok) { *err = "signing failed"; return NULL; }
        if (ks->alg == MPP_JWT_ES256) {
            /* DER -> R || S */
            const unsigned char *q = sig;
            ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)slen);
            const BIGNUM *r, *s;
            if (!es) { *err = "signing failed"; return NULL; }
            ECDSA_SIG_get0(es, &r, &s);
            BN_bn2binpad(r, sig, 32);
            BN_bn2binpad(s, sig + 32, 32);
            ECDSA_SIG_free(es);
            slen = 64;
        }
    }
    return apr_pstrcat(p, msg, ".", mpp_b64url_encode(p, sig, slen), NULL);
}
