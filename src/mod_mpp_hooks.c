/* Startup: resolving the configuration model and checking it at configtest. */
#include "mod_mpp.h"

#include "ap_provider.h"
#include "http_core.h"
#include "http_log.h"

#include <apr_strings.h>

#include "mpp_rpc.h"

APLOG_USE_MODULE(mpp);

int mpp_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    mpp_store_cfg.type = "shm";
    mpp_store_cfg.size = 64 * 1024 * 1024;
    mpp_store_cfg.dir = NULL;
    mpp_store_pre_config(pconf);
    return OK;
}

/* Resolve the networks, assets and offers a server defines against its
 * (merged) tables; each object is resolved where it is defined. */
static int resolve_server(apr_pool_t *p, server_rec *s, mpp_srv_cfg_t *c)
{
    int ok = 1;
    const char *e;

    for (apr_hash_index_t *hi = apr_hash_first(p, c->own); hi; hi = apr_hash_next(hi)) {
        const char *key = apr_hash_this_key(hi);
        if (key[0] != 'n') continue;
        mpp_network_t *n = apr_hash_this_val(hi);
        if (n->kind == MPP_NET_OTHER) {
            n->method = ap_lookup_provider(MPP_METHOD_PROVIDER, n->type, "0");
            if (!n->method) {
                ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                             MPPLOGNO(00500) "MPPNetwork %s: unknown network type '%s' (evm or solana)", n->name, n->type);
                ok = 0;
            }
        }
    }
    for (apr_hash_index_t *hi = apr_hash_first(p, c->own); hi; hi = apr_hash_next(hi)) {
        const char *key = apr_hash_this_key(hi);
        if (key[0] != 'a') continue;
        mpp_asset_t *a = apr_hash_this_val(hi);
        if ((e = mpp_asset_resolve(p, a, c->networks))) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, MPPLOGNO(00501) "MPPAsset %s: %s", a->name, e);
            ok = 0;
        }
    }
    if (!ok) return 0;
    for (apr_hash_index_t *hi = apr_hash_first(p, c->own); hi; hi = apr_hash_next(hi)) {
        const char *key = apr_hash_this_key(hi);
        if (key[0] != 'o') continue;
        mpp_offer_t *o = apr_hash_this_val(hi);
        if ((e = mpp_offer_resolve(p, o, c->assets))) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, MPPLOGNO(00502) "MPPOffer %s: %s", o->name, e);
            ok = 0;
        }
    }
    return ok;
}

/* Check one <Location>/<Directory> section's MPPCharge/MPPPrice/MPPRecipient. */
static int check_section(apr_pool_t *p, server_rec *s, mpp_srv_cfg_t *c, mpp_dir_cfg_t *d)
{
    int ok = 1;
    const char *where = d->where ? d->where : "(server)";
    for (int i = 0; d->routes && i < d->routes->nelts; i++) {
        const mpp_route_t *rt = &APR_ARRAY_IDX(d->routes, i, mpp_route_t);
        for (int k = 0; k < rt->offers->nelts; k++) {
            const char *name = APR_ARRAY_IDX(rt->offers, k, const char *);
            if (!apr_hash_get(c->offers, name, APR_HASH_KEY_STRING)) {
                ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, MPPLOGNO(00503) "MPPRoute \"%s%s%s\" in %s: unknown offer '%s' "
                             "(define it with MPPOffer)", rt->pat.method ? rt->pat.method : "",
                             rt->pat.method ? " " : "", rt->pat.pattern, where, name);
                ok = 0;
            }
        }
    }
    if (d->ent_key && !apr_hash_get(c->jwt_keys, d->ent_key, APR_HASH_KEY_STRING)) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, MPPLOGNO(00504) "MPPEntitlement %s in %s: unknown key (define it with MPPJWTKey)",
                     d->ent_key, where);
        ok = 0;
    }
    if (d->grant_secs) {
        const mpp_jwt_keyset_t *ks = mpp_grant_keyset(p, c, d->grant_key);
        if (!mpp_jwt_can_sign(ks)) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, MPPLOGNO(00505) "MPPGrant in %s: %s", where,
                         !ks ? (d->grant_key ? "unknown key= (define it with MPPJWTKey)"
                                             : "name the signing key with key= (there is not exactly one MPPJWTKey)")
                             : "the key cannot sign (a public key or JWKS): use an HMAC secret or a private key");
            ok = 0;
        }
    }
    if (!d->charge_set)
        return ok;
    for (int i = 0; i < d->offers->nelts; i++) {
        const char *name = APR_ARRAY_IDX(d->offers, i, const char *), *e;
        const mpp_offer_t *o = apr_hash_get(c->offers, name, APR_HASH_KEY_STRING);
        char *units;
        if (!o) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                         MPPLOGNO(00506) "MPPCharge %s in %s: unknown offer (define it with MPPOffer)", name, where);
            ok = 0;
            continue;
        }
        if (d->price && (e = mpp_offer_tenant_amount(p, o, d->price, &units))) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, MPPLOGNO(00507) "MPPPrice %s in %s: %s", d->price, where, e);
            ok = 0;
        }
        if (d->recipient) {
            if (!o->tenant_recipient) {
                ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                             MPPLOGNO(00508) "MPPRecipient in %s: offer '%s' does not allow a tenant recipient "
                             "(tenant-recipient=on)", where, o->name);
                ok = 0;
            }
            else if ((e = mpp_offer_check_address(p, o, d->recipient))) {
                ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, MPPLOGNO(00509) "MPPRecipient in %s: %s", where, e);
                ok = 0;
            }
        }
    }
    return ok;
}

static int check_sections(apr_pool_t *p, server_rec *s, mpp_srv_cfg_t *c, apr_array_header_t *secs)
{
    int ok = 1;
    for (int i = 0; secs && i < secs->nelts; i++) {
        ap_conf_vector_t *v = APR_ARRAY_IDX(secs, i, ap_conf_vector_t *);
        mpp_dir_cfg_t *d = ap_get_module_config(v, &mpp_module);
        if (d && !check_section(p, s, c, d)) ok = 0;
    }
    return ok;
}

int mpp_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    int ok = 1;
    for (server_rec *v = s; v; v = v->next)
        if (!resolve_server(pconf, v, ap_get_module_config(v->module_config, &mpp_module)))
            ok = 0;
    if (!ok) return !OK;
    for (server_rec *v = s; v; v = v->next) {
        mpp_srv_cfg_t *c = ap_get_module_config(v->module_config, &mpp_module);
        core_server_config *core = ap_get_core_module_config(v->module_config);
        mpp_dir_cfg_t *d = ap_get_module_config(v->lookup_defaults, &mpp_module);
        if (!check_section(ptemp, v, c, d)) ok = 0;
        if (!check_sections(ptemp, v, c, core->sec_url)) ok = 0;
        if (!check_sections(ptemp, v, c, core->sec_dir)) ok = 0;
    }
    if (mpp_store_check(ptemp, s)) ok = 0;
    return ok ? OK : !OK;
}

int mpp_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    int charging = 0, rv;
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG)
        return OK;
    for (server_rec *v = s; v; v = v->next) {
        mpp_srv_cfg_t *c = ap_get_module_config(v->module_config, &mpp_module);
        if (apr_hash_count(c->offers)) charging = 1;
        if (c->allow_plain_http == 1)
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, v,
                         MPPLOGNO(00510) "MPPAllowPlainHTTP is on for %s: challenges are issued over plain "
                         "HTTP; TLS must end in front of this server", v->server_hostname);
    }
    if ((rv = mpp_secret_post_config(pconf, s)) != OK)
        return rv;
    /* before any child or thread exists */
    if (mpp_rpc_global_init()) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, MPPLOGNO(00511) "libcurl cannot be initialised");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if ((rv = mpp_discovery_build(pconf, s)) != OK)
        return rv;
    mpp_stats_post_config(pconf, s);
    mpp_gate_precompute(pconf, s);
    /* no offer, nothing to charge: no state to keep either */
    return charging ? mpp_store_post_config(pconf, ptemp, s) : OK;
}

void mpp_child_init(apr_pool_t *pchild, server_rec *s)
{
    mpp_store_child_init(pchild, s);
}
