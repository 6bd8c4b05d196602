/* The evm method: request shape now; payload verification and settlement
 * plug in behind verify/settle. */
#include "mpp_method.h"
#include "mpp_model.h"
#include "mpp_time.h"

static void evm_build_request(apr_pool_t *p, const mpp_offer_t *o, json_object *r)
{
    json_object *md = json_object_new_object(), *types = json_object_new_array();
    (void)p;
    json_object_object_add(md, "chainId", json_object_new_int64((int64_t)o->asset->network->chain_id));
    json_object_object_add(md, "decimals", json_object_new_int(o->asset->decimals));
    if (o->types) {
        for (int i = 0; i < o->types->nelts; i++)
            json_object_array_add(types, json_object_new_string(APR_ARRAY_IDX(o->types, i, const char *)));
    }
    else {
        json_object_array_add(types, json_object_new_string("authorization"));
        json_object_array_add(types, json_object_new_string("transaction"));
        json_object_array_add(types, json_object_new_string("hash"));
    }
    json_object_object_add(md, "credentialTypes", types);
    json_object_object_add(r, "methodDetails", md);
}

static mpp_problem_t evm_verify(mpp_payment_t *pay)
{
    /* No on-chain verifier is linked into this build: refuse, never accept. */
    pay->detail = "evm payment verification is not available on this server";
    return MPP_P_VERIFICATION_FAILED;
}

const mpp_method_t mpp_method_evm = {
    "evm", NULL, evm_build_request, evm_verify, NULL, NULL,
};

static void sol_build_request(apr_pool_t *p, const mpp_offer_t *o, json_object *r)
{
    json_object *md = json_object_new_object();
    (void)p;
    json_object_object_add(md, "decimals", json_object_new_int(o->asset->decimals));
    if (o->asset->network->cluster)
        json_object_object_add(md, "network", json_object_new_string(o->asset->network->cluster));
    json_object_object_add(r, "methodDetails", md);
}

static mpp_problem_t sol_verify(mpp_payment_t *pay)
{
    pay->detail = "solana payment verification is not available on this server";
    return MPP_P_VERIFICATION_FAILED;
}

const mpp_method_t mpp_method_solana = {
    "solana", NULL, sol_build_request, sol_verify, NULL, NULL,
};

json_object *mpp_receipt_default(mpp_payment_t *pay, const char *method)
{
    json_object *r = json_object_new_object();
    json_object_object_add(r, "status", json_object_new_string("success"));
    json_object_object_add(r, "method", json_object_new_string(method));
    json_object_object_add(r, "timestamp", json_object_new_string(mpp_time_format(pay->p, pay->now)));
    json_object_object_add(r, "reference", json_object_new_string(pay->reference ? pay->reference : ""));
    if (pay->challenge_id)
        json_object_object_add(r, "challengeId", json_object_new_string(pay->challenge_id));
    return r;
}
