/* The gate's credential checks, independent of any payment method:
 * challenge binding (HMAC), pinned fields, expiry and body digest. */
#ifndef MPP_VERIFY_H
#define MPP_VERIFY_H

#include <apr_pools.h>
#include <apr_time.h>

#include "mpp_challenge.h"
#include "mpp_problem.h"

typedef struct {
    const unsigned char *key;       /* current secret */
    apr_size_t keylen;
    const unsigned char *prev_key;  /* previous secret (rotation), may be NULL */
    apr_size_t prev_keylen;
} mpp_keys_t;

typedef struct {
    const char *realm;
    const char *method;
    const char *intent;
    const char *request;            /* base64url(JCS(request)) this place charges now */
    const char *scope;              /* the place the challenge is bound to; NULL: no opaque */
    const unsigned char *body_sha256; /* SHA-256 of the request body, NULL when none */
} mpp_expect_t;

/* Opaque value for a place: base64url(JCS({"nonce":<random>,"scope":scope})). */
char *mpp_opaque_for_scope(apr_pool_t *p, const char *scope);

/* Index of the expectation the echo is meant for: the one with the echoed
 * method and intent whose request equals the echoed one after
 * canonicalisation, else the first with that method and intent. -1 when no
 * expectation has the echoed method and intent (method-unsupported). */
int mpp_verify_pick(apr_pool_t *p, const mpp_challenge_t *echo, const mpp_expect_t *exps, int n);

/* All checks, in order: binding under either key (invalid-challenge), fields
 * pinned to exp (invalid-challenge), expires present and parseable
 * (invalid-challenge) and not past (payment-expired), digest against the
 * body (invalid-challenge). MPP_OK or the problem, with *detail. */
mpp_problem_t mpp_verify_echo(apr_pool_t *p, const mpp_keys_t *keys, const mpp_challenge_t *echo,
                              const mpp_expect_t *exp, apr_time_t now, const char **detail);

#endif
