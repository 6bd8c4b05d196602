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

typedef struct {
    apr_pool_t *p;
    const mpp_credential_t *cred;
    const struct mpp_offer_t *offer; /* NULL in the conformance stand-in */
    json_object *request;            /* the request this place charges */
    const char *challenge_id;
    apr_time_t now;
    /* results */
    const char *detail;              /* for a problem */
    const char *reference;           /* settlement reference (tx hash, ...) */
    const char *payer;
} mpp_payment_t;

typedef struct mpp_method_t {
    const char *name; /* method id in challenges, lower-case a-z */
    /* Optional: check an asset or recipient address; NULL when fine. */
    const char *(*check_address)(apr_pool_t *p, const char *addr);
    /* Add method fields (methodDetails, ...) to a request object. */
    void (*build_request)(apr_pool_t *p, const struct mpp_offer_t *o, json_object *request);
    mpp_problem_t (*verify)(mpp_payment_t *pay);
    mpp_problem_t (*settle)(mpp_payment_t *pay);
    /* The receipt object; the default (NULL) is status/method/timestamp/reference. */
    json_object *(*receipt)(mpp_payment_t *pay);
} mpp_method_t;

/* Built-in methods. */
extern const mpp_method_t mpp_method_evm;
extern const mpp_method_t mpp_method_solana;

/* Default receipt: {status:"success", method, reference, timestamp, challengeId}. */
json_object *mpp_receipt_default(mpp_payment_t *pay, const char *method);

#endif
