/* Directives: parsing and per-server / per-directory records. */
#include "mod_mpp.h"

#include "http_core.h"
#include "http_log.h"

#include <apr_strings.h>

#include "mpp_amount.h"
#include "mpp_args.h"

APLOG_USE_MODULE(mpp);

mpp_store_cfg_t mpp_store_cfg = { "shm", 64 * 1024 * 1024, NULL };

void *mpp_create_srv_cfg(apr_pool_t *p, server_rec *s)
{
    mpp_srv_cfg_t *c = apr_pcalloc(p, sizeof(*c));
    c->allow_plain_http = -1;
    c->discovery = -1;
    c->jwt_keys = apr_hash_make(p);
    c->networks = apr_hash_make(p);
    c->assets = apr_hash_make(p);
    c->offers = apr_hash_make(p);
    c->own = apr_hash_make(p);
    return c;
}

void *mpp_merge_srv_cfg(apr_pool_t *p, void *basev, void *addv)
{
    mpp_srv_cfg_t *b = basev, *a = addv, *c = apr_pcalloc(p, sizeof(*c));
    c->realm = a->realm ? a->realm : b->realm;
    if (a->keys_set) { c->keys = a->keys; c->keys_set = 1; c->secret_file = a->secret_file; }
    else { c->keys = b->keys; c->keys_set = b->keys_set; c->secret_file = b->secret_file; }
    c->allow_plain_http = a->allow_plain_http != -1 ? a->allow_plain_http : b->allow_plain_http;
    c->discovery = a->discovery != -1 ? a->discovery : b->discovery;
    c->jwt_keys = apr_hash_overlay(p, a->jwt_keys, b->jwt_keys);
    c->networks = apr_hash_overlay(p, a->networks, b->networks);
    c->assets = apr_hash_overlay(p, a->assets, b->assets);
    c->offers = apr_hash_overlay(p, a->offers, b->offers);
    c->own = a->own;
    return c;
}

void *mpp_create_dir_cfg(apr_pool_t *p, char *dir)
{
    mpp_dir_cfg_t *c = apr_pcalloc(p, sizeof(*c));
    c->where = dir ? apr_pstrdup(p, dir) : NULL;
    c->settle_after = -1;
    c->grant_cookie = -1;
    c->vlexivo = -1;
    c->rate_limit = -1;
    c->shadow = -1;
    return c;
}

void *mpp_merge_dir_cfg(apr_pool_t *p, void *basev, void *addv)
{
    mpp_dir_cfg_t *b = basev, *a = addv, *c = apr_pcalloc(p, sizeof(*c));
    c->charge_set = a->charge_set || b->charge_set;
    c->offers = a->charge_set ? a->offers : b->offers;
    c->price = a->price ? a->price : b->price;
    c->recipient = a->recipient ? a->recipient : b->recipient;
    c->where = a->where ? a->where : b->where;
    if (a->service) {
        c->service = a->service; c->service_title = a->service_title; c->service_desc = a->service_desc;
        c->categories = a->categories; c->base = a->base; c->routes = a->routes;
    }
    else {
        c->service = b->service; c->service_title = b->service_title; c->service_desc = b->service_desc;
        c->categories = b->categories; c->base = b->base; c->routes = b->routes;
    }
    c->upstream_header = a->upstream_header ? a->upstream_header : b->upstream_header;
    c->upstream_value = a->upstream_header ? a->upstream_value : b->upstream_value;
    c->settle_after = a->settle_after != -1 ? a->settle_after : b->settle_after;
    if (a->ent_key) { c->ent_key = a->ent_key; c->ent_scope = a->ent_scope; c->ent_cookie = a->ent_cookie; }
    else { c->ent_key = b->ent_key; c->ent_scope = b->ent_scope; c->ent_cookie = b->ent_cookie; }
    if (a->grant_secs) { c->grant_secs = a->grant_secs; c->grant_key = a->grant_key; c->grant_cookie = a->grant_cookie; }
    else { c->grant_secs = b->grant_secs; c->grant_key = b->grant_key; c->grant_cookie = b->grant_cookie; }
    if (a->vlexivo != -1) { c->vlexivo = a->vlexivo; c->unlock_url = a->unlock_url; c->publisher = a->publisher; }
    else { c->vlexivo = b->vlexivo; c->unlock_url = b->unlock_url; c->publisher = b->publisher; }
    c->rate_limit = a->rate_limit != -1 ? a->rate_limit : b->rate_limit;
    c->shadow = a->shadow != -1 ? a->shadow : b->shadow;
    /* "MPPCharge off" below a priced tree also drops inherited tenant settings */
    if (a->charge_set && a->offers->nelts == 0) { c->price = NULL; c->recipient = NULL; }
    return c;
}

static mpp_srv_cfg_t *srv(cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config, &mpp_module);
}

static int in_htaccess(cmd_parms *cmd)
{
    return ap_check_cmd_context(cmd, NOT_IN_HTACCESS) != NULL;
}

static apr_array_header_t *words(cmd_parms *cmd, const char *args, const char **err)
{
    apr_array_header_t *w = mpp_args_split(cmd->pool, args, err);
    if (!w)
        *err = apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, *err);
    return w;
}

static const char *set_realm(cmd_parms *cmd, void *d, const char *v)
{
    for (const char *c = v; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
            return "MPPRealm: use printable ASCII";
    srv(cmd)->realm = v;
    return NULL;
}

static const char *set_secret(cmd_parms *cmd, void *d, const char *cur, const char *prev)
{
    mpp_srv_cfg_t *c = srv(cmd);
    const char *e;
    if ((e = mpp_secret_load(cmd->pool, cur, &c->keys.key, &c->keys.keylen)))
        return apr_psprintf(cmd->pool, "MPPSecretFile %s: %s", cur, e);
    c->keys.prev_key = NULL;
    c->keys.prev_keylen = 0;
    if (prev && (e = mpp_secret_load(cmd->pool, prev, &c->keys.prev_key, &c->keys.prev_keylen)))
        return apr_psprintf(cmd->pool, "MPPSecretFile %s: %s", prev, e);
    c->keys_set = 1;
    c->secret_file = cur;
    return NULL;
}

static const char *parse_size(const char *v, apr_size_t *out)
{
    char *end;
    apr_int64_t n = apr_strtoi64(v, &end, 10);
    apr_int64_t mul = 1;
    if (n <= 0 || end == v) return "size= must be a positive number with an optional K, M or G";
    if (*end == 'K' || *end == 'k') { mul = 1024; end++; }
    else if (*end == 'M' || *end == 'm') { mul = 1024 * 1024; end++; }
    else if (*end == 'G' || *end == 'g') { mul = 1024 * 1024 * 1024; end++; }
    if (*end) return "size= must be a positive number with an optional K, M or G";
    if (n > (apr_int64_t)64 * 1024 * 1024 * 1024 / mul || n * mul < 64 * 1024)
        return "size= must be between 64K and 64G";
    *out = (apr_size_t)(n * mul);
    return NULL;
}

static const char *set_store(cmd_parms *cmd, void *d, const char *args)
{
    const char *e = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    apr_array_header_t *w;
    if (e) return e;
    if (!(w = words(cmd, args, &e))) return e;
    if (w->nelts < 1) return "MPPStore: needs a type (shm)";
    if (strcmp(APR_ARRAY_IDX(w, 0, const char *), "shm"))
        return apr_psprintf(cmd->pool, "MPPStore: unsupported store '%s' (shm)",
                            APR_ARRAY_IDX(w, 0, const char *));
    mpp_store_cfg.type = "shm";
    for (int i = 1; i < w->nelts; i++) {
        const char *k, *v;
        if (mpp_args_kv(cmd->pool, APR_ARRAY_IDX(w, i, const char *), &k, &v))
            return apr_psprintf(cmd->pool, "MPPStore: '%s' is not key=value", APR_ARRAY_IDX(w, i, const char *));
        if (!strcmp(k, "size")) {
            if ((e = parse_size(v, &mpp_store_cfg.size)))
                return apr_psprintf(cmd->pool, "MPPStore: %s (got %s)", e, v);
        }
        else if (!strcmp(k, "dir")) {
            if (*v != '/') return apr_psprintf(cmd->pool, "MPPStore: dir=%s must be an absolute path", v);
            mpp_store_cfg.dir = v;
        }
        else return apr_psprintf(cmd->pool, "MPPStore: unknown parameter '%s'", k);
    }
    return NULL;
}

/* Add a named definition to this server's table; "own" (keyed by kind and
 * name) remembers where each was defined, so it is resolved once, there. */
static const char *define(cmd_parms *cmd, apr_hash_t *table, const char *kind,
                          const char *name, void *obj)
{
    mpp_srv_cfg_t *c = srv(cmd);
    const char *key = apr_pstrcat(cmd->pool, kind, name, NULL);
    if (apr_hash_get(c->own, key, APR_HASH_KEY_STRING))
        return apr_psprintf(cmd->pool, "%s %s: defined twice", cmd->cmd->name, name);
    apr_hash_set(table, name, APR_HASH_KEY_STRING, obj);
    apr_hash_set(c->own, key, APR_HASH_KEY_STRING, obj);
    return NULL;
}

static const char *set_network(cmd_parms *cmd, void *d, const char *args)
{
    mpp_srv_cfg_t *c = srv(cmd);
    mpp_network_t *n = apr_pcalloc(cmd->pool, sizeof(*n));
    apr_array_header_t *w;
    const char *e;
    if (!(w = words(cmd, args, &e))) return e;
    if ((e = mpp_network_parse(cmd->pool, n, w)))
        return apr_psprintf(cmd->pool, "MPPNetwork %s: %s", w->nelts ? APR_ARRAY_IDX(w, 0, const char *) : "", e);
    if (n->key_file && (e = mpp_key_file_check(cmd->pool, n->key_file)))
        return apr_psprintf(cmd->pool, "MPPNetwork %s: %s", n->name, e);
    if (n->key_file && n->kind == MPP_NET_EVM) {
        if ((e = mpp_evm_key_load(cmd->pool, n->key_file, n->key, n->key_addr)))
            return apr_psprintf(cmd->pool, "MPPNetwork %s: relayer-key: %s", n->name, e);
        n->has_key = 1;
    }
    return define(cmd, c->networks, "n:", n->name, n);
}

static const char *set_asset(cmd_parms *cmd, void *d, const char *args)
{
    mpp_srv_cfg_t *c = srv(cmd);
    mpp_asset_t *a = apr_pcalloc(cmd->pool, sizeof(*a));
    apr_array_header_t *w;
    const char *e;
    if (!(w = words(cmd, args, &e))) return e;
    if ((e = mpp_asset_parse(cmd->pool, a, w)))
        return apr_psprintf(cmd->pool, "MPPAsset %s: %s", w->nelts ? APR_ARRAY_IDX(w, 0, const char *) : "", e);
    return define(cmd, c->assets, "a:", a->name, a);
}

static const char *set_offer(cmd_parms *cmd, void *d, const char *args)
{
    mpp_srv_cfg_t *c = srv(cmd);
    mpp_offer_t *o = apr_pcalloc(cmd->pool, sizeof(*o));
    apr_array_header_t *w;
    const char *e;
    if (!(w = words(cmd, args, &e))) return e;
    if ((e = mpp_offer_parse(cmd->pool, o, w)))
        return apr_psprintf(cmd->pool, "MPPOffer %s: %s", w->nelts ? APR_ARRAY_IDX(w, 0, const char *) : "", e);
    return define(cmd, c->offers, "o:", o->name, o);
}

/* In .htaccess the server configuration is complete: check offers now, so
 * the error names the file. Sections are checked in check_config. */
static const mpp_offer_t *htaccess_offer(cmd_parms *cmd, const char *name, const char **err)
{
    const mpp_offer_t *o = apr_hash_get(srv(cmd)->offers, name, APR_HASH_KEY_STRING);
    if (!o) *err = apr_psprintf(cmd->pool, "MPPCharge: unknown offer '%s'", name);
    return o;
}

static const char *set_charge(cmd_parms *cmd, void *dv, const char *args)
{
    mpp_dir_cfg_t *d = dv;
    apr_array_header_t *w;
    const char *e = NULL;
    if (!(w = words(cmd, args, &e))) return e;
    if (w->nelts == 0) return "MPPCharge: needs offer names or off";
    d->charge_set = 1;
    d->offers = apr_array_make(cmd->pool, w->nelts, sizeof(const char *));
    if (w->nelts == 1 && !strcasecmp(APR_ARRAY_IDX(w, 0, const char *), "off"))
        return NULL;
    for (int i = 0; i < w->nelts; i++) {
        const char *name = APR_ARRAY_IDX(w, i, const char *);
        if (!strcasecmp(name, "off")) return "MPPCharge: off cannot be combined with offers";
        if (in_htaccess(cmd) && !htaccess_offer(cmd, name, &e)) return e;
        APR_ARRAY_PUSH(d->offers, const char *) = name;
    }
    return NULL;
}

static const char *set_price(cmd_parms *cmd, void *dv, const char *v)
{
    mpp_dir_cfg_t *d = dv;
    char *units;
    /* syntax only here (36 is the most decimals an asset may have); the
     * offer's own decimals and tenant range are checked where it is known */
    const char *e = mpp_amount_from_price(cmd->pool, v, 36, &units);
    if (e) return apr_psprintf(cmd->pool, "MPPPrice %s: %s", v, e);
    d->price = v;
    if (in_htaccess(cmd) && d->charge_set) {
        for (int i = 0; i < d->offers->nelts; i++) {
            const mpp_offer_t *o = htaccess_offer(cmd, APR_ARRAY_IDX(d->offers, i, const char *), &e);
            if (!o) return e;
            if (o->asset && (e = mpp_offer_tenant_amount(cmd->pool, o, v, &units)))
                return apr_psprintf(cmd->pool, "MPPPrice: %s", e);
        }
    }
    return NULL;
}

static const char *set_recipient(cmd_parms *cmd, void *dv, const char *v)
{
    mpp_dir_cfg_t *d = dv;
    for (const char *c = v; *c; c++)
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
            return apr_psprintf(cmd->pool, "MPPRecipient %s: not an address", v);
    d->recipient = v;
    if (in_htaccess(cmd) && d->charge_set) {
        for (int i = 0; i < d->offers->nelts; i++) {
            const char *e;
            const mpp_offer_t *o = htaccess_offer(cmd, APR_ARRAY_IDX(d->offers, i, const char *), &e);
            if (!o) return e;
            if (!o->tenant_recipient)
                return apr_psprintf(cmd->pool, "MPPRecipient: offer '%s' does not allow a tenant recipient (tenant-recipient=on)", o->name);
            if (o->asset && (e = mpp_offer_check_address(cmd->pool, o, v)))
                return apr_psprintf(cmd->pool, "MPPRecipient: %s", e);
        }
    }
    return NULL;
}

static const char *set_discovery(cmd_parms *cmd, void *d, int on)
{
    srv(cmd)->discovery = on;
    return NULL;
}

static const char *set_plain(cmd_parms *cmd, void *d, int on)
{
    srv(cmd)->allow_plain_http = on;
    return NULL;
}

static const char *set_mode(cmd_parms *cmd, void *dv, const char *v)
{
    mpp_dir_cfg_t *d = dv;
    if (!strcasecmp(v, "enforce")) d->shadow = 0;
    else if (!strcasecmp(v, "shadow")) d->shadow = 1;
    else return "MPPMode: enforce or shadow";
    (void)cmd;
    return NULL;
}

const command_rec mpp_cmds[] = {
    AP_INIT_TAKE1("MPPRealm", set_realm, NULL, RSRC_CONF,
                  "protection space of challenges (default: ServerName)"),
    AP_INIT_TAKE12("MPPSecretFile", set_secret, NULL, RSRC_CONF,
                   "file with the challenge HMAC key (>= 32 bytes) [and the previous key]"),
    AP_INIT_RAW_ARGS("MPPStore", set_store, NULL, RSRC_CONF,
                     "shared store: shm [size=64M] [dir=/var/lib/apache2/mpp]"),
    AP_INIT_RAW_ARGS("MPPNetwork", set_network, NULL, RSRC_CONF,
                     "name evm|solana key=value ... (chain-id, rpc, confirmations, timeout, ...)"),
    AP_INIT_RAW_ARGS("MPPAsset", set_asset, NULL, RSRC_CONF,
                     "name network= address= decimals= [eip712-name=] [eip712-version=]"),
    AP_INIT_RAW_ARGS("MPPOffer", set_offer, NULL, RSRC_CONF,
                     "name asset= price=|amount= recipient= [types=] [expires=] [description=] "
                     "[tenant-price=min..max] [tenant-recipient=on]"),
    AP_INIT_FLAG("MPPAllowPlainHTTP", set_plain, NULL, RSRC_CONF,
                 "issue challenges over plain HTTP (TLS ends in front of httpd)"),
    AP_INIT_FLAG("MPPDiscovery", set_discovery, NULL, RSRC_CONF,
                 "serve /llms.txt, /discover, /discover/<service> and /openapi.json"),
    AP_INIT_RAW_ARGS("MPPService", mpp_set_service, NULL, ACCESS_CONF,
                     "id [title=\"...\"] [description=\"...\"] [categories=a,b]: a proxied, paid API"),
    AP_INIT_RAW_ARGS("MPPRoute", mpp_set_route, NULL, ACCESS_CONF,
                     "\"METHOD /pattern\" offer [offer ...]|free [settle=before|after] [description=\"...\"]"),
    AP_INIT_RAW_ARGS("MPPUpstreamBearer", mpp_set_upstream_bearer, NULL, ACCESS_CONF,
                     "file=/path: send Authorization: Bearer <token> upstream"),
    AP_INIT_TAKE2("MPPUpstreamHeader", mpp_set_upstream_header, NULL, ACCESS_CONF,
                  "Name file=/path: send this header with the file's content upstream"),
    AP_INIT_TAKE1("MPPSettle", mpp_set_settle, NULL, ACCESS_CONF,
                  "before|after: settle before forwarding, or only after the upstream answered below 400"),
    AP_INIT_RAW_ARGS("MPPJWTKey", mpp_set_jwt_key, NULL, RSRC_CONF,
                     "name alg=HS256|HS384|HS512|RS256|ES256|EdDSA file=/path|jwks=/path [iss=] [aud=] [leeway=60]"),
    AP_INIT_RAW_ARGS("MPPEntitlement", mpp_set_entitlement, NULL, OR_AUTHCFG,
                     "key [scope=per-call|per-article|per-session] [cookie=NAME]: accept JWT entitlements"),
    AP_INIT_RAW_ARGS("MPPGrant", mpp_set_grant, NULL, OR_AUTHCFG,
                     "session=SECONDS [key=NAME] [cookie=on]: hand out an entitlement after a payment"),
    AP_INIT_TAKE1("MPPMode", set_mode, NULL, RSRC_CONF | ACCESS_CONF,
                  "enforce (default) or shadow: challenges computed, logged and sent, the request served"),
    AP_INIT_RAW_ARGS("MPPCompat", mpp_set_compat, NULL, RSRC_CONF | ACCESS_CONF,
                     "vlexivo [unlock=/v1/unlock] [publisher=ID]: also answer 402s with the Vlexivo challenge"),
    AP_INIT_TAKE1("MPPRateLimit", mpp_set_rate_limit, NULL, RSRC_CONF | ACCESS_CONF,
                  "challenges and unlocks per minute and client address (0: no limit)"),
    AP_INIT_RAW_ARGS("MPPCharge", set_charge, NULL, OR_AUTHCFG,
                     "offer names to charge here, or off"),
    AP_INIT_TAKE1("MPPPrice", set_price, NULL, OR_AUTHCFG,
                  "price in asset units, within the offer's tenant-price range"),
    AP_INIT_TAKE1("MPPRecipient", set_recipient, NULL, OR_AUTHCFG,
                  "payee address, where the offer allows tenant-recipient"),
    { NULL }
};
