/* mod_mpp: HTTP 402 payments (the Machine Payments Protocol) for httpd.
 * This file holds only the module record and hook registration. */
#include "mod_mpp.h"

#include "http_protocol.h"
#include "http_request.h"

static void mpp_register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(mpp_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(mpp_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(mpp_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(mpp_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    /* per-conf: subrequests and internal redirects into the same place are
     * not charged again */
    ap_hook_check_access(mpp_gate_access, NULL, NULL, APR_HOOK_MIDDLE, AP_AUTH_INTERNAL_PER_CONF);
    /* discovery documents are public and free: served before access checks */
    ap_hook_quick_handler(mpp_discovery_handler, NULL, NULL, APR_HOOK_FIRST);
    /* what goes upstream: payment headers out, upstream credential and payer in */
    ap_hook_fixups(mpp_fixups, NULL, NULL, APR_HOOK_MIDDLE);
    /* Require payment: the payment is taken once every Require said yes */
    ap_hook_fixups(mpp_gate_fixups, NULL, NULL, APR_HOOK_FIRST);
    mpp_authz_register(p);
    mpp_stats_register();
    ap_hook_insert_filter(mpp_insert_filters, NULL, NULL, APR_HOOK_MIDDLE);
    /* OPTIONS at a charged place is answered before any content handler */
    ap_hook_handler(mpp_options_handler, NULL, NULL, APR_HOOK_REALLY_FIRST);
    /* SetHandler mpp-unlock: Vlexivo unlocks */
    ap_hook_handler(mpp_unlock_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_insert_error_filter(mpp_insert_error_filters, NULL, NULL, APR_HOOK_MIDDLE);
    mpp_register_filters();
}

AP_DECLARE_MODULE(mpp) = {
    STANDARD20_MODULE_STUFF,
    mpp_create_dir_cfg,
    mpp_merge_dir_cfg,
    mpp_create_srv_cfg,
    mpp_merge_srv_cfg,
    mpp_cmds,
    mpp_register_hooks,
    AP_MODULE_FLAG_ALWAYS_MERGE
};
