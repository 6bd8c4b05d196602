#include "mpp_verify.h"
#include "mpp_b64.h"
#include "mpp_crypto.h"
#include "mpp_digest.h"
#include "mpp_json.h"
#include "mpp_limits.h"
#include "mpp_time.h"

#include <apr_strings.h>
#include <string.h>

char *mpp_opaque_for_scope(apr_pool_t *p, const char *scope)
{
    unsigned char nonce[16];
    const char *txt;
    if (mpp_random(nonce, sizeof(nonce)))
        return NULL;
    /* JCS of {"nonce": ..., "scope": ...}, written directly (keys in order) */
    txt = apr_pstrcat(p, "{\"nonce\":\"", mpp_b64url_encode(p, nonce, sizeof(nonce)), "\",\"scope\":",
                      mpp_json_quote(p, scope), "}", NULL);
    return mpp_b64url_encode(p, (const unsigned char *)txt, strlen(txt));
}

/* The echoed request re-canonicalised (clients that re-encode stay valid). */
static const char *canon_request(apr_pool_t *p, const mpp_challenge_t *echo)
{
    return echo->request_obj ? mpp_jcs_b64url(p, echo->request_obj) : echo->request;
}

int mpp_verify_pick(apr_pool_t *p, const mpp_challenge_t *echo, const mpp_expect_t *exps, int n)
{
    const char *req = NULL;
    int first = -1;
    for (int i = 0; i < n; i++) {
        if (strcmp(exps[i].method, echo->method) || strcmp(exps[i].intent, echo->intent))
            continue;
        if (first < 0) first = i;
        if (!req) req = canon_request(p, echo);
        if (!strcmp(exps[i].request, req)) return i;
    }
    return first;
}

static int scope_matches(apr_pool_t *p, const char *opaque, const char *scope)
{
    const char *err;
    json_object *o = mpp_json_from_b64url(p, opaque, 1024, 2, &err);
    const char *s;
    if (!o || json_object_object_length(o) != 2 || !mpp_json_str(o, "nonce"))
        return 0;
    s = mpp_json_str(o, "scope");
    return s && !strcmp(s, scope);
}

mpp_problem_t mpp_verify_echo(apr_pool_t *p, const mpp_keys_t *keys, const mpp_challenge_t *echo,
                              const mpp_expect_t *exp, apr_time_t now, const char **detail)
{
    mpp_challenge_t c = *echo;
    apr_time_t exp_at;
    const char *id;
    int bound;

    /* 1. provenance: the id must be ours over exactly the echoed fields */
    c.request = canon_request(p, echo);
    id = mpp_challenge_compute_id(p, keys->key, keys->keylen, &c);
    bound = mpp_ct_streq(id, echo->id);
    if (!bound && keys->prev_key) {
        id = mpp_challenge_compute_id(p, keys->prev_key, keys->prev_keylen, &c);
        bound = mpp_ct_streq(id, echo->id);
    }
    if (!bound) {
        *detail = "challenge was not issued by this server or was altered";
        return MPP_P_INVALID_CHALLENGE;
    }
    /* 2. pinned fields: a challenge for another place, realm or price is refused */
    if (strcmp(echo->realm, exp->realm)) { *detail = "credential realm does not match this resource"; return MPP_P_INVALID_CHALLENGE; }
    if (strcmp(echo->method, exp->method)) { *detail = "credential method does not match this resource"; return MPP_P_INVALID_CHALLENGE; }
    if (strcmp(echo->intent, exp->intent)) { *detail = "credential intent does not match this resource"; return MPP_P_INVALID_CHALLENGE; }
    if (strcmp(c.request, exp->request)) { *detail = "credential request (amount, currency, recipient or details) does not match this resource"; return MPP_P_INVALID_CHALLENGE; }
    if (exp->scope) {
        if (!echo->opaque || !scope_matches(p, echo->opaque, exp->scope)) {
            *detail = "credential was issued for another resource";
            return MPP_P_INVALID_CHALLENGE;
        }
    }
    else if (echo->opaque) {
        *detail = "credential opaque does not match this resource";
        return MPP_P_INVALID_CHALLENGE;
    }
    /* 3. expiry: required (fail closed), then compared with now */
    if (!echo->expires) { *detail = "credential lacks the required expires field"; return MPP_P_INVALID_CHALLENGE; }
    if (mpp_time_parse(echo->expires, &exp_at)) { *detail = "credential expires is not an RFC 3339 date-time"; return MPP_P_INVALID_CHALLENGE; }
    if (exp_at < now) {
        *detail = apr_psprintf(p, "challenge expired at %s", echo->expires);
        return MPP_P_PAYMENT_EXPIRED;
    }
    /* 4. body binding */
    if (exp->body_sha256) {
        if (!echo->digest || !mpp_digest_matches(p, echo->digest, exp->body_sha256)) {
            *detail = "credential digest does not match the request body";
            return MPP_P_INVALID_CHALLENGE;
        }
    }
    else if (echo->digest) {
        *detail = "credential carries a body digest but the request has no body";
        return MPP_P_INVALID_CHALLENGE;
    }
    *detail = NULL;
    return MPP_OK;
}
