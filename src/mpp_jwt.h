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
} mpp_jwt_keyset_t;

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

/* 1 when the set holds a key that can sign (an HMAC secret or a private key). */
int mpp_jwt_can_sign(const mpp_jwt_keyset_t *ks);

/* Sign claims with the set's first signing key (kid in the header when set). */
char *mpp_jwt_sign(apr_pool_t *p, const mpp_jwt_keyset_t *ks, json_object *claims, const char **err);

#endif
