/* Unit tests of JWT entitlements (mpp_jwt): loading keys and JWKS, verifying
 * tokens minted by PyJWT, signing tokens PyJWT accepts, and refusing every
 * token a validator must not trust. The vectors under tests/unit/jwt/ are
 * written by make_vectors.py, which also serves as the PyJWT checker of the
 * tokens signed here. Times are checked against a fixed now (NOW_SEC). */
#include <apr_file_io.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "mpp_json.h"
#include "mpp_jwt.h"

#include "tests.h"

#ifndef TEST_DATA_DIR
#define TEST_DATA_DIR "tests"
#endif
#define JWT_DIR TEST_DATA_DIR "/unit/jwt/"

#define NOW_SEC 1893456000LL        /* 2030-01-01T00:00:00Z, make_vectors.py's NOW */
#define NOW apr_time_from_sec(NOW_SEC)

static apr_pool_t *tp;

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&tp, NULL), APR_SUCCESS);
}

static void teardown(void)
{
    apr_pool_destroy(tp);
    tp = NULL;
}

static TCase *tcase(const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    return tc;
}

/* ------------------------------------------------------------------ */
/* vectors                                                             */

static char *slurp(const char *path, apr_size_t *len)
{
    apr_file_t *f;
    apr_finfo_t fi;
    char *buf;
    apr_size_t n;
    ck_assert_msg(apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, 0, tp) == APR_SUCCESS,
                  "cannot open %s (run tests/unit/jwt/make_vectors.py)", path);
    ck_assert_int_eq(apr_file_info_get(&fi, APR_FINFO_SIZE, f), APR_SUCCESS);
    n = (apr_size_t)fi.size;
    buf = apr_palloc(tp, n + 1);
    ck_assert_int_eq(apr_file_read_full(f, buf, n, &n), APR_SUCCESS);
    apr_file_close(f);
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

/* The token called name in tokens.txt. */
static const char *vec(const char *name)
{
    char *text = slurp(JWT_DIR "tokens.txt", NULL), *line, *last;
    apr_size_t n = strlen(name);
    for (line = apr_strtok(text, "\n", &last); line; line = apr_strtok(NULL, "\n", &last))
        if (!strncmp(line, name, n) && (line[n] == ' ' || line[n] == '\0'))
            return line[n] ? line + n + 1 : "";
    ck_abort_msg("no vector %s in tokens.txt", name);
    return NULL;
}

static mpp_jwt_keyset_t *keyset(mpp_jwt_alg_t alg)
{
    mpp_jwt_keyset_t *ks = apr_pcalloc(tp, sizeof(*ks));
    ks->name = "test";
    ks->alg = alg;
    ks->leeway = 60;
    return ks;
}

static const char *load_file_err(mpp_jwt_alg_t alg, const char *file)
{
    return mpp_jwt_load_file(tp, keyset(alg), apr_pstrcat(tp, JWT_DIR, file, NULL));
}

static mpp_jwt_keyset_t *from_file(mpp_jwt_alg_t alg, const char *file)
{
    mpp_jwt_keyset_t *ks = keyset(alg);
    const char *e = mpp_jwt_load_file(tp, ks, apr_pstrcat(tp, JWT_DIR, file, NULL));
    ck_assert_msg(e == NULL, "load %s as %s: %s", file, mpp_jwt_alg_name(alg), e ? e : "");
    return ks;
}

static const char *load_jwks_err(mpp_jwt_alg_t alg, const char *file, mpp_jwt_keyset_t **out)
{
    apr_size_t n;
    char *text = slurp(apr_pstrcat(tp, JWT_DIR, file, NULL), &n);
    mpp_jwt_keyset_t *ks = keyset(alg);
    if (out) *out = ks;
    return mpp_jwt_load_jwks(tp, ks, text, n);
}

static mpp_jwt_keyset_t *from_jwks(mpp_jwt_alg_t alg, const char *file)
{
    mpp_jwt_keyset_t *ks;
    const char *e = load_jwks_err(alg, file, &ks);
    ck_assert_msg(e == NULL, "load %s as %s: %s", file, mpp_jwt_alg_name(alg), e ? e : "");
    return ks;
}

/* ------------------------------------------------------------------ */
/* verification helpers                                                */

static void same_str(const char *a, const char *b, const char *what)
{
    ck_assert_msg((!a && !b) || (a && b && !strcmp(a, b)), "%s: %s against %s", what, a ? a : "(none)",
                  b ? b : "(none)");
}

/* mpp_jwt_check agrees with mpp_jwt_verify, the first time (verifying) and
 * the second (from this thread's cache). */
static void check_agrees(const mpp_jwt_keyset_t *ks, const char *token, apr_time_t now, json_object *claims,
                         const char *why)
{
    for (int round = 0; round < 2; round++) {
        const char *err = NULL;
        const mpp_jwt_claims_t *c = mpp_jwt_check(tp, ks, token, now, &err);
        if (!claims) {
            ck_assert_msg(c == NULL, "mpp_jwt_check accepts what mpp_jwt_verify refuses (round %d)", round);
            ck_assert_msg(err && strstr(err, why), "mpp_jwt_check refuses for %s, not %s", err ? err : "?", why);
            continue;
        }
        ck_assert_msg(c != NULL, "mpp_jwt_check refuses (round %d): %s", round, err ? err : "?");
        same_str(c->sub, mpp_json_str(claims, "sub"), "sub");
        same_str(c->iss, mpp_json_str(claims, "iss"), "iss");
        same_str(c->aud, mpp_json_str(claims, "aud"), "aud");
        same_str(c->rid, mpp_json_str(claims, "rid"), "rid");
        same_str(c->jti, mpp_json_str(claims, "jti"), "jti");
        ck_assert_int_eq(c->has_exp, 1);
        {
            json_object *e = NULL;
            ck_assert(json_object_object_get_ex(claims, "exp", &e));
            ck_assert_int_eq(c->exp, json_object_get_int64(e));
        }
    }
}

static json_object *accepted_at(const mpp_jwt_keyset_t *ks, const char *name, apr_time_t now)
{
    const char *err = NULL;
    json_object *c = mpp_jwt_verify(tp, ks, vec(name), now, &err);
    ck_assert_msg(c != NULL, "%s refused by the %s key: %s", name, mpp_jwt_alg_name(ks->alg), err ? err : "?");
    ck_assert(json_object_is_type(c, json_type_object));
    check_agrees(ks, vec(name), now, c, NULL);
    return c;
}

static json_object *accepted(const mpp_jwt_keyset_t *ks, const char *name)
{
    return accepted_at(ks, name, NOW);
}

/* The token (text, not a vector name) is refused, for a reason naming why. */
static void refused_token(const mpp_jwt_keyset_t *ks, const char *label, const char *token, apr_time_t now,
                          const char *why)
{
    const char *err = NULL;
    json_object *c = mpp_jwt_verify(tp, ks, token, now, &err);
    ck_assert_msg(c == NULL, "%s accepted by the %s key", label, mpp_jwt_alg_name(ks->alg));
    ck_assert_msg(err != NULL, "%s refused without a reason", label);
    ck_assert_msg(strstr(err, why) != NULL, "%s refused for \"%s\", expected \"%s\"", label, err, why);
    check_agrees(ks, token, now, NULL, why);
}

static void refused_at(const mpp_jwt_keyset_t *ks, const char *name, apr_time_t now, const char *why)
{
    refused_token(ks, name, vec(name), now, why);
}

static void refused(const mpp_jwt_keyset_t *ks, const char *name, const char *why)
{
    refused_at(ks, name, NOW, why);
}

static void claim_is(json_object *c, const char *key, const char *want)
{
    const char *v = mpp_json_str(c, key);
    ck_assert_msg(v && !strcmp(v, want), "claim %s is %s, expected %s", key, v ? v : "(absent)", want);
}

/* The signed-token text PyJWT accepts: runs make_vectors.py verify and
 * returns its JSON ({"header":..,"claims":..}), or fails the test. */
static json_object *pyjwt_verify(const char *alg, const char *keyfile, const char *token)
{
    const char *py = getenv("MPP_TEST_PYTHON") ? getenv("MPP_TEST_PYTHON") : "/usr/bin/python3";
    char *cmd = apr_psprintf(tp, "'%s' '%smake_vectors.py' verify %s '%s%s' '%s' 2>&1", py, JWT_DIR, alg,
                             JWT_DIR, keyfile, token);
    char buf[4096];
    apr_size_t n = 0;
    size_t got;
    FILE *f;
    int st;
    const char *err = NULL;
    json_object *o;

    for (const char *c = token; *c; c++)
        ck_assert_msg(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.", *c) != NULL,
                      "token has a character outside base64url: %s", token);
    f = popen(cmd, "r");
    ck_assert_msg(f != NULL, "cannot run %s", py);
    while (n < sizeof(buf) - 1 && (got = fread(buf + n, 1, sizeof(buf) - 1 - n, f)) > 0)
        n += got;
    buf[n] = '\0';
    st = pclose(f);
    ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "PyJWT (%s, python3-jwt) does not accept the %s token %s: %s", py, alg, token, buf);
    o = mpp_json_parse(tp, buf, strlen(buf), sizeof(buf), 8, &err);
    ck_assert_msg(o != NULL, "PyJWT checker output is not JSON: %s", buf);
    return o;
}

static json_object *member(json_object *o, const char *key)
{
    json_object *v = NULL;
    ck_assert_msg(json_object_object_get_ex(o, key, &v), "no member %s", key);
    return v;
}

/* ------------------------------------------------------------------ */
/* algorithm names                                                     */

START_TEST(jwt_alg_names)
{
    static const struct { const char *name; mpp_jwt_alg_t alg; } ok[] = {
        { "HS256", MPP_JWT_HS256 }, { "HS384", MPP_JWT_HS384 }, { "HS512", MPP_JWT_HS512 },
        { "RS256", MPP_JWT_RS256 }, { "ES256", MPP_JWT_ES256 }, { "EdDSA", MPP_JWT_EDDSA },
    };
    static const char *const bad[] = { "none", "None", "NONE", "", "hs256", "HS256 ", "EDDSA", "eddsa",
                                       "RS384", "PS256", "ES384", "ES256K", "Ed25519" };
    mpp_jwt_alg_t a;
    for (unsigned i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        a = 0;
        ck_assert_ptr_null(mpp_jwt_alg_parse(ok[i].name, &a));
        ck_assert_int_eq(a, ok[i].alg);
        ck_assert_str_eq(mpp_jwt_alg_name(ok[i].alg), ok[i].name);
    }
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(mpp_jwt_alg_parse(bad[i], &a) != NULL, "alg %s parsed", bad[i]);
}
END_TEST

/* ------------------------------------------------------------------ */
/* PyJWT tokens verify                                                 */

START_TEST(jwt_each_alg_verifies_pyjwt)
{
    static const struct { mpp_jwt_alg_t alg; const char *file, *vector; } cases[] = {
        { MPP_JWT_HS256, "hs256.key", "valid_HS256" },
        { MPP_JWT_HS384, "hs384.key", "valid_HS384" },
        { MPP_JWT_HS512, "hs512.key", "valid_HS512" },
        { MPP_JWT_RS256, "rsa2048.pub.pem", "valid_RS256" },
        { MPP_JWT_RS256, "rsa2048.pem", "valid_RS256" },        /* a private key verifies too */
        { MPP_JWT_ES256, "p256.pub.pem", "valid_ES256" },
        { MPP_JWT_ES256, "p256.pem", "valid_ES256" },
        { MPP_JWT_EDDSA, "ed25519.pub.pem", "valid_EdDSA" },
        { MPP_JWT_EDDSA, "ed25519.pem", "valid_EdDSA" },
        { MPP_JWT_HS256, "hs_32.key", "valid_hs32" },           /* 32 bytes once the newline goes */
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_object *c = accepted(from_file(cases[i].alg, cases[i].file), cases[i].vector);
        claim_is(c, "sub", "alice");
        claim_is(c, "aud", "api.test");
        claim_is(c, "iss", "https://issuer.test");
    }
}
END_TEST

START_TEST(jwt_valid_token_against_the_clock)
{
    /* 2099 expiry, 2023 iat: valid now as well as at the fixed now */
    accepted_at(from_file(MPP_JWT_ES256, "p256.pub.pem"), "valid_ES256", apr_time_now());
    accepted_at(from_file(MPP_JWT_HS256, "hs256.key"), "valid_HS256", apr_time_now());
}
END_TEST

START_TEST(jwt_jwks_selects_by_kid)
{
    mpp_jwt_keyset_t *rs = from_jwks(MPP_JWT_RS256, "rs256.jwks");
    ck_assert_int_eq(rs->keys->nelts, 2);
    claim_is(accepted(rs, "jwks_RS256_r1"), "sub", "alice");
    claim_is(accepted(rs, "jwks_RS256_r2"), "sub", "alice");
    accepted(from_jwks(MPP_JWT_ES256, "es256.jwks"), "jwks_ES256_e2");
    accepted(from_jwks(MPP_JWT_EDDSA, "eddsa.jwks"), "jwks_EdDSA_d2");
    accepted(from_jwks(MPP_JWT_HS256, "hs256.jwks"), "jwks_HS256_h2");
    /* a mixed document: each set takes the keys of its own algorithm only */
    {
        mpp_jwt_keyset_t *m = from_jwks(MPP_JWT_RS256, "mixed.jwks");
        ck_assert_int_eq(m->keys->nelts, 1);
        accepted(m, "jwks_RS256_r2");
        m = from_jwks(MPP_JWT_ES256, "mixed.jwks");
        ck_assert_int_eq(m->keys->nelts, 1);
        accepted(m, "jwks_ES256_e2");
        m = from_jwks(MPP_JWT_EDDSA, "mixed.jwks");
        ck_assert_int_eq(m->keys->nelts, 1);
        accepted(m, "jwks_EdDSA_d2");
        ck_assert_ptr_nonnull(load_jwks_err(MPP_JWT_HS256, "mixed.jwks", NULL));
    }
}
END_TEST

START_TEST(jwt_kid_refusals)
{
    mpp_jwt_keyset_t *rs = from_jwks(MPP_JWT_RS256, "rs256.jwks");
    refused(rs, "jwks_RS256_unknown_kid", "unknown kid");
    refused(rs, "jwks_RS256_no_kid", "no key for a token without kid");
    /* kid names the other key: that key checks the signature, and it fails */
    refused(rs, "jwks_RS256_kid_swapped", "bad signature");
    refused(from_jwks(MPP_JWT_ES256, "es256.jwks"), "valid_ES256", "no key for a token without kid");
    refused(from_jwks(MPP_JWT_HS256, "hs256.jwks"), "file_HS256_any_kid", "unknown kid");
    /* a single file= key has no kid: any kid (or none) selects it */
    accepted(from_file(MPP_JWT_HS256, "hs256.key"), "file_HS256_any_kid");
}
END_TEST

/* ------------------------------------------------------------------ */
/* signing: PyJWT accepts what mpp_jwt_sign writes                     */

static const char SIGN_CLAIMS[] =
    "{\"aud\":\"api.test\",\"exp\":4070908800,\"iat\":1700000001,\"iss\":\"https://issuer.test\",\"sub\":\"alice\"}";

static char *sign_with(const mpp_jwt_keyset_t *ks)
{
    const char *err = NULL, *perr = NULL;
    json_object *claims = mpp_json_parse(tp, SIGN_CLAIMS, strlen(SIGN_CLAIMS), 4096, 4, &perr);
    char *tok;
    ck_assert_ptr_nonnull(claims);
    tok = mpp_jwt_sign(tp, ks, claims, &err);
    ck_assert_msg(tok != NULL, "%s cannot sign: %s", mpp_jwt_alg_name(ks->alg), err ? err : "?");
    return tok;
}

START_TEST(jwt_sign_pyjwt_verifies)
{
    static const struct { mpp_jwt_alg_t alg; const char *key, *pub, *vector; } cases[] = {
        { MPP_JWT_HS256, "hs256.key", "hs256.key", "sign_HS256" },
        { MPP_JWT_HS384, "hs384.key", "hs384.key", "sign_HS384" },
        { MPP_JWT_HS512, "hs512.key", "hs512.key", "sign_HS512" },
        { MPP_JWT_RS256, "rsa2048.pem", "rsa2048.pub.pem", "sign_RS256" },
        { MPP_JWT_ES256, "p256.pem", "p256.pub.pem", NULL },      /* randomised: no fixed text */
        { MPP_JWT_EDDSA, "ed25519.pem", "ed25519.pub.pem", "sign_EdDSA" },
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *alg = mpp_jwt_alg_name(cases[i].alg);
        mpp_jwt_keyset_t *ks = from_file(cases[i].alg, cases[i].key);
        char *tok = sign_with(ks);
        json_object *py = pyjwt_verify(alg, cases[i].pub, tok), *hdr = member(py, "header");
        json_object *cl = member(py, "claims");
        claim_is(cl, "sub", "alice");
        claim_is(cl, "aud", "api.test");
        ck_assert_int_eq(json_object_get_int64(member(cl, "exp")), 4070908800LL);
        claim_is(hdr, "alg", alg);
        claim_is(hdr, "typ", "JWT");
        ck_assert(!json_object_object_get_ex(hdr, "kid", NULL));
        /* deterministic algorithms: the very text PyJWT writes for these claims */
        if (cases[i].vector)
            ck_assert_str_eq(tok, vec(cases[i].vector));
        /* and it verifies here, with the public key alone */
        {
            const char *err = NULL;
            json_object *mine = mpp_jwt_verify(tp, from_file(cases[i].alg, cases[i].pub), tok, NOW, &err);
            ck_assert_msg(mine != NULL, "own %s token refused: %s", alg, err ? err : "?");
            claim_is(mine, "sub", "alice");
        }
    }
}
END_TEST

START_TEST(jwt_sign_es256_is_raw_r_s)
{
    /* 64 bytes of R || S in 86 base64url characters, never DER, on every signature */
    mpp_jwt_keyset_t *ks = from_file(MPP_JWT_ES256, "p256.pem");
    for (int i = 0; i < 32; i++) {
        char *tok = sign_with(ks), *sig = strrchr(tok, '.') + 1;
        const char *err = NULL;
        ck_assert_uint_eq(strlen(sig), 86);
        ck_assert_msg(mpp_jwt_verify(tp, from_file(MPP_JWT_ES256, "p256.pub.pem"), tok, NOW, &err) != NULL,
                      "own ES256 signature refused: %s", err ? err : "?");
    }
}
END_TEST

START_TEST(jwt_sign_with_jwks_kid)
{
    /* an oct JWKS key signs, with its kid in the header */
    mpp_jwt_keyset_t *ks = from_jwks(MPP_JWT_HS256, "hs256.jwks");
    char *tok = sign_with(ks);
    json_object *py = pyjwt_verify("HS256", "hs256.key", tok);
    claim_is(member(py, "header"), "kid", "h1");
    claim_is(member(py, "claims"), "sub", "alice");
}
END_TEST

START_TEST(jwt_public_keys_cannot_sign)
{
    static const struct { mpp_jwt_alg_t alg; const char *file; } pubs[] = {
        { MPP_JWT_RS256, "rsa2048.pub.pem" }, { MPP_JWT_ES256, "p256.pub.pem" },
        { MPP_JWT_EDDSA, "ed25519.pub.pem" },
    };
    const char *err, *perr;
    json_object *claims = mpp_json_parse(tp, SIGN_CLAIMS, strlen(SIGN_CLAIMS), 4096, 4, &perr);
    for (unsigned i = 0; i < sizeof(pubs) / sizeof(pubs[0]); i++) {
        err = NULL;
        ck_assert_ptr_null(mpp_jwt_sign(tp, from_file(pubs[i].alg, pubs[i].file), claims, &err));
        ck_assert_ptr_nonnull(err);
    }
    err = NULL;
    ck_assert_ptr_null(mpp_jwt_sign(tp, from_jwks(MPP_JWT_RS256, "rs256.jwks"), claims, &err));
    ck_assert_ptr_nonnull(err);
    err = NULL;
    ck_assert_ptr_null(mpp_jwt_sign(tp, from_jwks(MPP_JWT_EDDSA, "eddsa.jwks"), claims, &err));
    ck_assert_ptr_nonnull(err);
}
END_TEST

/* ------------------------------------------------------------------ */
/* refusals: algorithm                                                 */

START_TEST(jwt_alg_none_refused)
{
    static const char *const names[] = { "alg_none", "alg_None", "alg_NONE", "alg_nOnE", "alg_none_signed" };
    mpp_jwt_keyset_t *sets[] = {
        from_file(MPP_JWT_HS256, "hs256.key"), from_file(MPP_JWT_RS256, "rsa2048.pub.pem"),
        from_file(MPP_JWT_ES256, "p256.pub.pem"), from_file(MPP_JWT_EDDSA, "ed25519.pub.pem"),
        from_jwks(MPP_JWT_RS256, "rs256.jwks"),
    };
    for (unsigned s = 0; s < sizeof(sets) / sizeof(sets[0]); s++)
        for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            refused(sets[s], names[i], "is not this key's");
}
END_TEST

START_TEST(jwt_alg_mismatch_refused)
{
    /* HS512 under the HS256 key's own secret: the MAC would check out as HS512 */
    refused(from_file(MPP_JWT_HS256, "hs256.key"), "alg_HS512_for_HS256", "alg HS512 is not this key's HS256");
    refused(from_file(MPP_JWT_HS384, "hs256.key"), "valid_HS256", "alg HS256 is not this key's HS384");
    refused(from_file(MPP_JWT_ES256, "p256.pub.pem"), "alg_RS256_for_ES256", "alg RS256 is not this key's ES256");
    refused(from_file(MPP_JWT_EDDSA, "ed25519.pub.pem"), "valid_ES256", "is not this key's EdDSA");
    refused(from_file(MPP_JWT_RS256, "rsa2048.pub.pem"), "valid_EdDSA", "is not this key's RS256");
}
END_TEST

/* An HS256 set whose secret is a file's bytes, all of them. */
static mpp_jwt_keyset_t *hmac_over_file(const char *file)
{
    mpp_jwt_keyset_t *ks = keyset(MPP_JWT_HS256);
    mpp_jwt_key_t *k;
    apr_size_t n;
    ks->keys = apr_array_make(tp, 1, sizeof(mpp_jwt_key_t));
    k = apr_array_push(ks->keys);
    memset(k, 0, sizeof(*k));
    k->alg = MPP_JWT_HS256;
    k->secret = (const unsigned char *)slurp(apr_pstrcat(tp, JWT_DIR, file, NULL), &n);
    k->secret_len = n;
    return ks;
}

START_TEST(jwt_alg_confusion_refused)
{
    /* HS256 MACed with the bytes of the RS256 public key file */
    refused(from_file(MPP_JWT_RS256, "rsa2048.pub.pem"), "confusion_HS256_rsapub", "alg HS256 is not this key's RS256");
    refused(from_file(MPP_JWT_RS256, "rsa2048.pem"), "confusion_HS256_rsapub", "alg HS256 is not this key's RS256");
    refused(from_jwks(MPP_JWT_RS256, "rs256.jwks"), "confusion_HS256_rsapub", "is not this key's RS256");
    refused(from_file(MPP_JWT_EDDSA, "ed25519.pub.pem"), "confusion_HS256_edpub", "is not this key's EdDSA");
    /* the vectors are real attacks: a validator that let the token pick
     * HMAC over the key file's bytes would accept them */
    accepted(hmac_over_file("rsa2048.pub.pem"), "confusion_HS256_rsapub");
    accepted(hmac_over_file("ed25519.pub.pem"), "confusion_HS256_edpub");
}
END_TEST

/* ------------------------------------------------------------------ */
/* refusals: time                                                      */

START_TEST(jwt_time_with_leeway)
{
    mpp_jwt_keyset_t *ks = from_file(MPP_JWT_HS256, "hs256.key");
    refused(ks, "exp_past_61", "expired");
    accepted(ks, "exp_past_59");
    accepted(ks, "exp_now");
    refused(ks, "nbf_future_61", "not valid yet");
    accepted(ks, "nbf_future_59");
    refused(ks, "iat_future_61", "issued in the future");
    accepted(ks, "iat_future_59");
    /* the edges, one second either side */
    refused_at(ks, "exp_now", NOW + apr_time_from_sec(61), "expired");
    accepted_at(ks, "exp_now", NOW + apr_time_from_sec(60));
    accepted_at(ks, "nbf_future_61", NOW + apr_time_from_sec(1));
    refused_at(ks, "nbf_future_59", NOW - apr_time_from_sec(2), "not valid yet");
}
END_TEST

START_TEST(jwt_time_without_leeway)
{
    mpp_jwt_keyset_t *ks = from_file(MPP_JWT_HS256, "hs256.key");
    ks->leeway = 0;
    refused(ks, "exp_past_59", "expired");
    accepted(ks, "exp_now");
    refused_at(ks, "exp_now", NOW + apr_time_from_sec(1), "expired");
    refused(ks, "nbf_future_59", "not valid yet");
    refused(ks, "iat_future_59", "issued in the future");
    ks->leeway = 300;
    accepted(ks, "exp_past_61");
    accepted(ks, "nbf_future_61");
    accepted(ks, "iat_future_61");
}
END_TEST

START_TEST(jwt_time_claims_must_be_integers)
{
    mpp_jwt_keyset_t *ks = from_file(MPP_JWT_HS256, "hs256.key");
    refused(ks, "exp_missing", "exp missing or not an integer");
    refused(ks, "exp_string", "exp missing or not an integer");
    refused(ks, "exp_float", "exp missing or not an integer");
    refused(ks, "exp_bool", "exp missing or not an integer");
    refused(ks, "exp_beyond_int64", "exp missing or not an integer");   /* 2^64: read as a double */
    refused(ks, "nbf_string", "nbf is not an integer");
    refused(ks, "iat_float", "iat is not an integer");
}
END_TEST

START_TEST(jwt_exp_far_future)
{
    /* the largest exp is a valid (if odd) expiry, not an overflow into the past */
    mpp_jwt_keyset_t *ks = from_file(MPP_JWT_HS256, "hs256.key");
    accepted(ks, "exp_int64_max");
    ks->leeway = 300;
    accepted(ks, "exp_int64_max");
}
END_TEST

/* ------------------------------------------------------------------ */
/* refusals: issuer and audience                                       */

START_TEST(jwt_iss_aud)
{
    mpp_jwt_keyset_t *ks = from_file(MPP_JWT_HS256, "hs256.key");
    ks->iss = "https://issuer.test";
    ks->aud = "api.test";
    accepted(ks, "valid_HS256");
    refused(ks, "iss_wrong", "wrong issuer");
    refused(ks, "iss_missing", "wrong issuer");
    refused(ks, "aud_wrong", "wrong audience");
    refused(ks, "aud_missing", "wrong audience");
    refused(ks, "aud_prefix", "wrong audience");
    refused(ks, "aud_array_without", "wrong audience");
    claim_is(accepted(ks, "aud_array_with"), "sub", "alice");
    /* unconfigured, neither is checked here (the caller decides) */
    ks->iss = NULL;
    ks->aud = NULL;
    accepted(ks, "iss_wrong");
    accepted(ks, "aud_wrong");
}
END_TEST

START_TEST(jwt_check_cache)
{
    mpp_jwt_keyset_t *ks = from_file(MPP_JWT_HS256, "hs256.key"), *again = from_file(MPP_JWT_HS256, "hs256.key");
    mpp_jwt_key_t *k = &APR_ARRAY_IDX(ks->keys, 0, mpp_jwt_key_t);
    const char *tok = vec("valid_HS256"), *err = NULL;
    char *forged = apr_pstrdup(tp, tok);
    const mpp_jwt_claims_t *c;

    ck_assert(mpp_jwt_check(tp, ks, tok, NOW, &err) != NULL);
    /* the signature is not checked again: a secret changed in place (never
     * done outside this test) does not refuse the token this thread knows,
     * while an uncached verification does */
    ((unsigned char *)k->secret)[0] ^= 1;
    c = mpp_jwt_check(tp, ks, tok, NOW, &err);
    ck_assert_msg(c != NULL && c->sub && !strcmp(c->sub, "alice"), "not served from the cache: %s", err ? err : "?");
    ck_assert(mpp_jwt_verify(tp, ks, tok, NOW, &err) == NULL && !strcmp(err, "bad signature"));
    ((unsigned char *)k->secret)[0] ^= 1;
    /* entries belong to one key set: the same token against another set is verified there */
    ck_assert(again->serial != ks->serial);
    ck_assert(mpp_jwt_check(tp, again, tok, NOW, &err) != NULL);
    ck_assert(mpp_jwt_check(tp, from_file(MPP_JWT_HS256, "hs_32.key"), tok, NOW, &err) == NULL);
    ck_assert_str_eq(err, "bad signature");
    /* a token one character away from a cached one is a stranger */
    forged[strlen(forged) - 2] = forged[strlen(forged) - 2] == 'A' ? 'B' : 'A';
    ck_assert(mpp_jwt_check(tp, ks, forged, NOW, &err) == NULL);
    ck_assert_str_eq(err, "bad signature");
    /* the clock and the set's iss and aud are checked on every use */
    ck_assert(mpp_jwt_check(tp, ks, tok, NOW + apr_time_from_sec(10LL * 366 * 86400 * 10), &err) == NULL);
    ck_assert_str_eq(err, "expired");
    ks->aud = "another.test";
    ck_assert(mpp_jwt_check(tp, ks, tok, NOW, &err) == NULL);
    ck_assert_str_eq(err, "wrong audience");
    ks->aud = NULL;
    /* more tokens than slots: the oldest make room, and all still verify */
    for (int i = 0; i < 20; i++) {
        const char *name = i % 2 ? "valid_HS256" : "aud_array_with";
        ck_assert_msg(mpp_jwt_check(tp, ks, vec(name), NOW, &err) != NULL, "%s: %s", name, err);
    }
    c = mpp_jwt_check(tp, ks, vec("aud_array_with"), NOW, &err);
    ck_assert(c && !c->aud && c->n_auds >= 1 && mpp_jwt_aud_has(c, "api.test") && !mpp_jwt_aud_has(c, "api"));
}
END_TEST

/* ------------------------------------------------------------------ */
/* refusals: integrity and form                                        */

START_TEST(jwt_tampered_refused)
{
    static const struct { mpp_jwt_alg_t alg; const char *file; } sets[] = {
        { MPP_JWT_HS256, "hs256.key" }, { MPP_JWT_HS384, "hs384.key" }, { MPP_JWT_HS512, "hs512.key" },
        { MPP_JWT_RS256, "rsa2048.pub.pem" }, { MPP_JWT_ES256, "p256.pub.pem" },
        { MPP_JWT_EDDSA, "ed25519.pub.pem" },
    };
    for (unsigned i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
        mpp_jwt_keyset_t *ks = from_file(sets[i].alg, sets[i].file);
        const char *alg = mpp_jwt_alg_name(sets[i].alg);
        refused(ks, apr_pstrcat(tp, "tampered_payload_", alg, NULL), "bad signature");
        refused(ks, apr_pstrcat(tp, "tampered_sig_", alg, NULL), "bad signature");
        refused(ks, apr_pstrcat(tp, "sig_missing_", alg, NULL), "bad signature");
        /* the untouched token still passes */
        accepted(ks, apr_pstrcat(tp, "valid_", alg, NULL));
    }
    /* ES256 signatures are R || S, not DER */
    refused(from_file(MPP_JWT_ES256, "p256.pub.pem"), "es256_der_sig", "bad signature");
    /* another key of the same kind */
    refused(from_file(MPP_JWT_RS256, "rsa2048b.pub.pem"), "valid_RS256", "bad signature");
    refused(from_file(MPP_JWT_ES256, "p256b.pub.pem"), "valid_ES256", "bad signature");
    refused(from_file(MPP_JWT_EDDSA, "ed25519b.pub.pem"), "valid_EdDSA", "bad signature");
    refused(from_file(MPP_JWT_HS256, "hs_32.key"), "valid_HS256", "bad signature");
}
END_TEST

START_TEST(jwt_structure_refused)
{
    mpp_jwt_keyset_t *ks = from_file(MPP_JWT_HS256, "hs256.key");
    const char *good = vec("valid_HS256");
    char *big;
    refused(ks, "segments_1", "not a three-part JWS");
    refused(ks, "segments_2", "not a three-part JWS");
    refused(ks, "segments_4", "not a three-part JWS");
    refused(ks, "segments_4_empty", "not a three-part JWS");
    refused(ks, "empty", "not a three-part JWS");
    refused_token(ks, "two dots", "..", NOW, "header is not a JSON object");
    refused(ks, "padded_payload", "bad base64url");
    refused(ks, "padded_sig", "bad base64url");
    refused(ks, "std_base64_sig", "bad base64url");
    refused_token(ks, "space inside", apr_pstrcat(tp, " ", good, NULL), NOW, "bad base64url");
    refused_token(ks, "trailing newline", apr_pstrcat(tp, good, "\n", NULL), NOW, "bad base64url");
    refused(ks, "header_not_object", "header is not a JSON object");
    refused(ks, "header_dup_alg", "header is not a JSON object");
    refused(ks, "payload_not_object", "payload is not a JSON object");
    /* size: MPP_JWT_MAX bytes pass, one more is refused before any decoding */
    ck_assert_uint_eq(strlen(vec("size_max")), MPP_JWT_MAX);
    ck_assert_uint_eq(strlen(vec("size_over")), MPP_JWT_MAX + 1);
    accepted(ks, "size_max");
    refused(ks, "size_over", "token too large");
    big = apr_palloc(tp, 1 << 20);
    memset(big, 'A', (1 << 20) - 1);
    big[(1 << 20) - 1] = '\0';
    big[100] = '.';
    big[200] = '.';
    refused_token(ks, "1 MiB token", big, NOW, "token too large");
}
END_TEST

START_TEST(jwt_header_members_refused)
{
    static const char *const names[] = { "header_crit", "header_jku", "header_x5u", "header_x5c", "header_jwk" };
    mpp_jwt_keyset_t *ks = from_file(MPP_JWT_HS256, "hs256.key");
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        refused(ks, names[i], "header asks for crit, jku, x5u, x5c or an embedded jwk");
}
END_TEST

/* ------------------------------------------------------------------ */
/* key loading                                                         */

static void load_refused(mpp_jwt_alg_t alg, const char *file, const char *why)
{
    const char *e = load_file_err(alg, file);
    ck_assert_msg(e != NULL, "%s loaded as %s", file, mpp_jwt_alg_name(alg));
    ck_assert_msg(strstr(e, why) != NULL, "%s as %s refused for \"%s\", expected \"%s\"", file,
                  mpp_jwt_alg_name(alg), e, why);
}

START_TEST(jwt_load_refusals)
{
    load_refused(MPP_JWT_RS256, "rsa1024.pem", "at least 2048 bits");
    load_refused(MPP_JWT_RS256, "rsa1024.pub.pem", "at least 2048 bits");
    load_refused(MPP_JWT_ES256, "p384.pem", "P-256");
    load_refused(MPP_JWT_ES256, "p384.pub.pem", "P-256");
    load_refused(MPP_JWT_HS256, "hs_31.key", "at least 32 bytes");
    load_refused(MPP_JWT_HS512, "hs_31.key", "at least 32 bytes");
    load_refused(MPP_JWT_ES256, "rsa2048.pub.pem", "EC key");
    load_refused(MPP_JWT_RS256, "p256.pub.pem", "RSA key");
    load_refused(MPP_JWT_RS256, "ed25519.pub.pem", "RSA key");
    load_refused(MPP_JWT_EDDSA, "p256.pub.pem", "Ed25519");
    load_refused(MPP_JWT_EDDSA, "rsa2048.pem", "Ed25519");
    load_refused(MPP_JWT_ES256, "ed25519.pem", "EC key");
    load_refused(MPP_JWT_RS256, "garbage.pem", "no PEM");
    load_refused(MPP_JWT_RS256, "hs256.key", "no PEM");
    load_refused(MPP_JWT_RS256, "no-such-file.pem", "cannot be opened");
    load_refused(MPP_JWT_HS256, "no-such-file.key", "cannot be opened");
    /* exactly 32 bytes after the one trailing newline: loaded */
    ck_assert_ptr_null(load_file_err(MPP_JWT_HS256, "hs_32.key"));
}
END_TEST

START_TEST(jwt_jwks_refusals)
{
    mpp_jwt_keyset_t *ks;
    static const char *const not_jwks[] = { "", "[]", "{}", "{\"keys\":{}}", "{\"keys\":[]}",
                                            "{\"keys\":[{\"kty\":\"oct\"}]}", "not json" };
    /* RSA 1024, a key without kid, P-384, a 31-byte secret: nothing usable */
    ck_assert_ptr_nonnull(load_jwks_err(MPP_JWT_RS256, "weak.jwks", NULL));
    ck_assert_ptr_nonnull(load_jwks_err(MPP_JWT_ES256, "weak.jwks", NULL));
    ck_assert_ptr_nonnull(load_jwks_err(MPP_JWT_HS256, "weak.jwks", NULL));
    ck_assert_ptr_nonnull(load_jwks_err(MPP_JWT_EDDSA, "rs256.jwks", NULL));
    for (unsigned i = 0; i < sizeof(not_jwks) / sizeof(not_jwks[0]); i++) {
        ks = keyset(MPP_JWT_HS256);
        ck_assert_msg(mpp_jwt_load_jwks(tp, ks, not_jwks[i], strlen(not_jwks[i])) != NULL,
                      "JWKS %s loaded", not_jwks[i]);
    }
    /* a key whose alg is another algorithm's is skipped */
    {
        /* a 35-byte oct key marked HS256 */
        static const char hs256[] = "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"a\",\"alg\":\"HS256\","
                                    "\"k\":\"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC0\"}]}";
        ks = keyset(MPP_JWT_HS384);
        ck_assert_ptr_nonnull(mpp_jwt_load_jwks(tp, ks, hs256, strlen(hs256)));
        ks = keyset(MPP_JWT_HS256);
        ck_assert_ptr_null(mpp_jwt_load_jwks(tp, ks, hs256, strlen(hs256)));
    }
}
END_TEST

Suite *suite_jwt(void)
{
    Suite *s = suite_create("jwt");
    TCase *tc = tcase("jwt");
    tcase_add_test(tc, jwt_alg_names);
    tcase_add_test(tc, jwt_each_alg_verifies_pyjwt);
    tcase_add_test(tc, jwt_valid_token_against_the_clock);
    tcase_add_test(tc, jwt_jwks_selects_by_kid);
    tcase_add_test(tc, jwt_kid_refusals);
    tcase_add_test(tc, jwt_sign_pyjwt_verifies);
    tcase_add_test(tc, jwt_sign_es256_is_raw_r_s);
    tcase_add_test(tc, jwt_sign_with_jwks_kid);
    tcase_add_test(tc, jwt_public_keys_cannot_sign);
    tcase_add_test(tc, jwt_alg_none_refused);
    tcase_add_test(tc, jwt_alg_mismatch_refused);
    tcase_add_test(tc, jwt_alg_confusion_refused);
    tcase_add_test(tc, jwt_time_with_leeway);
    tcase_add_test(tc, jwt_time_without_leeway);
    tcase_add_test(tc, jwt_time_claims_must_be_integers);
    tcase_add_test(tc, jwt_exp_far_future);
    tcase_add_test(tc, jwt_iss_aud);
    tcase_add_test(tc, jwt_check_cache);
    tcase_add_test(tc, jwt_tampered_refused);
    tcase_add_test(tc, jwt_structure_refused);
    tcase_add_test(tc, jwt_header_members_refused);
    tcase_add_test(tc, jwt_load_refusals);
    tcase_add_test(tc, jwt_jwks_refusals);
    suite_add_tcase(s, tc);
    return s;
}
