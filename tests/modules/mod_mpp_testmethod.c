/* A payment method for the integration tests only: registers method "test"
 * with mod_mpp's method provider interface. It is never installed.
 * payload {"proof":"ok"} pays, {"proof":"fail"} fails verification, and
 * anything else is an invalid payload. */
#include "httpd.h"
#include "http_config.h"
#include "ap_provider.h"

#include <apr_strings.h>
#include <string.h>

#include "mpp_method.h"

static const char *proof(const mpp_payment_t *pay)
{
    json_object *v;
    if (!json_object_object_get_ex(pay->cred->payload, "proof", &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static mpp_problem_t test_verify(mpp_payment_t *pay)
{
    const char *pr = proof(pay);
    if (!pr) { pay->detail = "payload.proof is missing"; return MPP_P_INVALID_PAYLOAD; }
    if (!strcmp(pr, "fail")) { pay->detail = "the test proof says no"; return MPP_P_VERIFICATION_FAILED; }
    if (strcmp(pr, "ok")) { pay->detail = "payload.proof must be ok or fail"; return MPP_P_INVALID_PAYLOAD; }
    pay->reference = apr_pstrcat(pay->p, "test-", pay->challenge_id, NULL);
    /* the test method "verifies" the payer it is told */
    if (pay->cred->source && json_object_is_type(pay->cred->source, json_type_string))
        pay->payer = json_object_get_string(pay->cred->source);
    return MPP_OK;
}

static void test_build_request(apr_pool_t *p, const struct mpp_offer_t *o, json_object *r)
{
    json_object *md = json_object_new_object();
    json_object_object_add(md, "network", json_object_new_string("test"));
    json_object_object_add(r, "methodDetails", md);
}

static const mpp_method_t test_method = {
    .name = "test", .build_request = test_build_request, .verify = test_verify,
};

static void register_hooks(apr_pool_t *p)
{
    ap_register_provider(p, "mpp_method", "test", "0", &test_method);
}

AP_DECLARE_MODULE(mpp_testmethod) = {
    STANDARD20_MODULE_STUFF, NULL, NULL, NULL, NULL, NULL, register_hooks, 0
};
