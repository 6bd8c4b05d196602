/* JWT (JWS compact) entitlements on OpenSSL + json-c. The algorithm is
 * pinned by the configured key, never taken from the token; alg "none" and
 * every mismatch are refused before any claim is read. */
#ifndef MPP_JWT_H
#define MPP_JWT_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <json-c/json.h>
#include <openssl/evp.h>

#define MPP_JWT_MAX 8192            /* bytes of a compact token */

typedef enum { MPP_JWT_HS256 = 1, MPP_JWT_HS384, MPP_JWT_HS512, MPP_JWT_RS256, MPP_JWT_ES256,
               MPP_JWT_EDDSA } mpp_jwt_alg_t;

typedef struct {
    mpp_jwt_alg_t alg;
    const char *kid;                /* NULL: matches a token without kid, or any kid if alone */
    const unsigned char *secret;    /* HS*: the shared secret */
    apr_size_t secret_len;
    EVP_PKEY *pkey;                 /* RS256/ES256/EdDSA: public key (private to sign) */
    int can_sign;
} mpp_jwt_key_t;

typedef struct {
    const char *name;               /* MPPJWTKey name */
    mpp_jwt_alg_t alg;              /* every key of the set has this algorithm */
    apr_array_header_t *keys;       /* mpp_jwt_key_t */
    const char *iss;                /* required issuer, or NULL */
    const char *aud;                /* required audience, or NULL */
    int leeway;                     /* seconds for exp/nbf/iat */
    apr_uint64_t serial;            /* new with every key added: tells key sets apart in caches */
} mpp_jwt_keyset_t;

/* The claims the gate reads from a token. */
typedef struct {
    int has_exp, has_nbf, has_iat;  /* 1 an integer, 0 absent, -1 present but not an integer */
    int64_t exp, nbf, iat;
    const char *iss, *sub, *rid, *scp, *eid, *jti;   /* NULL when absent or not strings */
    const char *aud;                /* aud when it is a string */
    const char **auds;              /* aud when it is an array: its strings */
    int n_auds;
} mpp_jwt_claims_t;

const char *mpp_jwt_alg_name(mpp_jwt_alg_t alg);
/* NULL or an error; exact, case-sensitive names (HS256 ... EdDSA). */
const char *mpp_jwt_alg_parse(const char *s, mpp_jwt_alg_t *alg);

/* Load a key set: file= holds the HMAC secret (HS*, >= 32 bytes) or a PEM
 * key (public to verify; private also signs); jwks= holds a JWKS document
 * whose keys of the set's algorithm are selected by kid. */
const char *mpp_jwt_load_file(apr_pool_t *p, mpp_jwt_keyset_t *ks, const char *path);
const char *mpp_jwt_load_jwks(apr_pool_t *p, mpp_jwt_keyset_t *ks, const char *text, apr_size_t len);

/* Verify a compact token: structure, header (alg equals the set's, no crit,
 * jku, x5u or jwk), kid selection, signature (constant time), then exp
 * (required), nbf, iat with leeway, iss and aud. The claims, or NULL and
 * *err (a reason for the log, never for the client). */
json_object *mpp_jwt_verify(apr_pool_t *p, const mpp_jwt_keyset_t *ks, const char *token,
                            apr_time_t now, const char **err);

/* The same verification for the gate, with the claims it reads: a token
 * this thread verified before with the same key set skips decoding, the
 * header and the signature; the claims are checked against now every time. */
const mpp_jwt_claims_t *mpp_jwt_check(apr_pool_t *p, const mpp_jwt_keyset_t *ks, const char *token,
                                      apr_time_t now, const char **err);

/* The parts of both: structure, header, key and signature (the claims as
 * parsed), the claims read out, and their checks (NULL or the reason). */
json_object *mpp_jwt_verify_signature(apr_pool_t *p, const mpp_jwt_keyset_t *ks, const char *token,
                                      const char **err);
void mpp_jwt_claims_read(apr_pool_t *p, json_object *claims, mpp_jwt_claims_t *c);
const char *mpp_jwt_claims_check(const mpp_jwt_claims_t *c, const mpp_jwt_keyset_t *ks, apr_time_t now);
int mpp_jwt_aud_has(const mpp_jwt_claims_t *c, const char *want);

/* 1 when the set holds a key that can sign (an HMAC secret or a private key). */
int mpp_jwt_can_sign(const mpp_jwt_keyset_t *ks);

/* Sign claims with the set's first signing key (kid in the header when set). */
char *mpp_jwt_sign(apr_pool_t *p, const mpp_jwt_keyset_t *ks, json_object *claims, const char **err);

#endif
