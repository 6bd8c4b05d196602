/* The 402 page for browsers: a small readable HTML paywall beside the
 * problem+json body that payment clients read. */
#include "mod_mpp.h"

#include <apr_strings.h>

int mpp_paywall_wanted(request_rec *r)
{
    (void)r;
    return 0;
}

const char *mpp_paywall_html(request_rec *r, const char *realm, const mpp_paywall_offer_t *offers,
                             int n, const char *detail)
{
    (void)realm; (void)offers; (void)n; (void)detail;
    return apr_pstrdup(r->pool, "<!DOCTYPE html><title>Payment required</title><p>Payment required.</p>\n");
}
