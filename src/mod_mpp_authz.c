/* Require payment <offer> [<offer> ...]: the gate as an authorization
 * provider, so payment composes with <RequireAny>/<RequireAll>, logins and
 * Require ip. The provider only checks; the payment is taken in fixups once
 * every Require said yes, so a request refused for another reason pays
 * nothing. */
#include "mod_mpp.h"

#include "ap_provider.h"
#include "http_core.h"
#include "http_request.h"
#include "http_log.h"
#include "mod_auth.h"

#include <apr_lib.h>
#include <apr_strings.h>

static const char *payment_parse(cmd_parms *cmd, const char *line, const void **parsed)
{
    apr_array_header_t *offers = apr_array_make(cmd->pool, 2, sizeof(const char *));
    const char *t = line, *w;
    while (*(w = ap_getword_conf(cmd->pool, &t))) {
        for (const char *c = w; *c; c++)
            if (!apr_isalnum(*c) && *c != '-' && *c != '_' && *c != '.')
                return apr_psprintf(cmd->pool, "Require payment: '%s' is not an offer name", w);
        APR_ARRAY_PUSH(offers, const char *) = w;
    }
    if (!offers->nelts)
        return "Require payment: name at least one offer (MPPOffer)";
    *parsed = offers;
    return NULL;
}

static authz_status payment_check(request_rec *r, const char *line, const void *parsed)
{
    int st = mpp_gate_require(r, (apr_array_header_t *)parsed);
    (void)line;
    if (st == OK)
        return AUTHZ_GRANTED;
    if (st == HTTP_INTERNAL_SERVER_ERROR)
        return AUTHZ_GENERAL_ERROR;
    /* with a login configured and nobody logged in, the login is asked first */
    return !r->user && ap_auth_type(r) ? AUTHZ_DENIED_NO_USER : AUTHZ_DENIED;
}

static const authz_provider payment_provider = { payment_check, payment_parse };

void mpp_authz_register(apr_pool_t *p)
{
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "payment", AUTHZ_PROVIDER_VERSION,
                              &payment_provider, AP_AUTH_INTERNAL_PER_CONF);
}
