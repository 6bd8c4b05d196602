/* The payment-method interface: each method (evm, solana, ...) builds its
 * part of the request, verifies a payload, settles and writes the receipt. */
#ifndef MPP_METHOD_H
#define MPP_METHOD_H

#include <apr_pools.h>
#include <apr_time.h>
#include <json-c/json.h>

#include "mpp_credential.h"
#include "mpp_problem.h"

struct mpp_offer_t;
struct mpp_store_t;
struct mpp_payment_t;

/* What the server lends a method: the store, and a lock that serialises
 * the relayer's transactions (held from reading its pending nonce to the
 * broadcast), so workers never reuse a nonce. */
typedef struct {
    struct mpp_store_t *store;
    int (*settle_lock)(void *baton);
    void (*settle_unlock)(void *baton);
    void *baton;
} mpp_env_t;

typedef struct mpp_payment_t {
    apr_pool_t *p;
    const mpp_env_t *env;
    const mpp_credential_t *cred;
    const struct mpp_offer_t *offer; /* NULL in the conformance stand-in */
    json_object *request;            /* the request this place charges */
    const char *challenge_id;
    const char *realm;
    apr_time_t now;
    /* results */
    const char *detail;              /* for a problem */
    const char *reference;           /* settlement reference (tx hash, ...) */
    const char *payer;
    const char *identity;            /* store key of the payment itself (tx hash, nonce), set by verify */
    int pending;                     /* settle: outcome unknown (the chain will tell) */
    int simulate;                    /* verify: also dry-run the settlement (settlement comes later) */
    /* settle calls this with the reference right before it broadcasts, so a
     * crash or timeout after it is resolved from the chain, never by sending
     * again; non-zero means it must not broadcast */
    int (*submitting)(struct mpp_payment_t *pay, const unsigned char ref[32]);
    void *gate;                      /* the caller's own state for submitting */
} mpp_payment_t;

typedef struct mpp_method_t {
    const char *name; /* method id in challenges, lower-case a-z */
    /* Optional: check an asset or recipient address; NULL when fine. */
    const char *(*check_address)(apr_pool_t *p, const char *addr);
    /* Add method fields (methodDetails, ...) to a request object. */
    void (*build_request)(apr_pool_t *p, const struct mpp_offer_t *o, json_object *request);
    mpp_problem_t (*verify)(mpp_payment_t *pay);
    mpp_problem_t (*settle)(mpp_payment_t *pay);
    /* Resolve a settlement whose outcome was unknown (ref as passed to
     * submitting): MPP_OK when it succeeded, pending when still unknown. */
    mpp_problem_t (*resume)(mpp_payment_t *pay, const unsigned char ref[32]);
    /* The receipt object; the default (NULL) is status/method/timestamp/reference. */
    json_object *(*receipt)(mpp_payment_t *pay);
} mpp_method_t;

/* Built-in methods. */
extern const mpp_method_t mpp_method_evm;
extern const mpp_method_t mpp_method_solana;

/* Default receipt: {status:"success", method, reference, timestamp, challengeId}. */
json_object *mpp_receipt_default(mpp_payment_t *pay, const char *method);

#endif
