/* Discovery: /llms.txt, /discover, /discover/<service>, /openapi.json,
 * built once at startup from the configuration that issues challenges.
 * Only public facts go in: never upstream credentials or file paths. */
#include "mod_mpp.h"

#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"

#include <apr_strings.h>

#include "mpp_json.h"

APLOG_USE_MODULE(mpp);

typedef struct mpp_discovery_t {
    const char *discover;         /* {"services":[...]} */
    apr_hash_t *service;          /* id -> one service's JSON */
    const char *openapi;
    const char *llms;
} mpp_discovery_t;

static json_object *jstr(const char *s) { return json_object_new_string(s ? s : ""); }

static json_object *offer_json(apr_pool_t *p, const mpp_offer_t *o, int full)
{
    json_object *j = json_object_new_object();
    const mpp_network_t *n = o->asset->network;
    if (full) json_object_object_add(j, "offer", jstr(o->name));
    json_object_object_add(j, "intent", jstr(o->intent));
    json_object_object_add(j, "method", jstr(n->method ? n->method->name : n->type));
    json_object_object_add(j, "amount", jstr(o->amount));
    json_object_object_add(j, "currency", jstr(o->asset->address));
    if (o->description) json_object_object_add(j, "description", jstr(o->description));
    if (full) {
        json_object_object_add(j, "decimals", json_object_new_int(o->asset->decimals));
        json_object_object_add(j, "recipient", jstr(o->recipient));
        json_object_object_add(j, "network", jstr(n->name));
        if (n->kind == MPP_NET_EVM) json_object_object_add(j, "chainId", json_object_new_int64((int64_t)n->chain_id));
    }
    (void)p;
    return j;
}

static int route_after(const mpp_dir_cfg_t *d, const mpp_route_t *rt)
{
    return rt->settle_after != -1 ? rt->settle_after : d->settle_after == 1;
}

static json_object *service_json(apr_pool_t *p, mpp_srv_cfg_t *c, const mpp_dir_cfg_t *d)
{
    json_object *s = json_object_new_object(), *routes = json_object_new_array(), *cats = json_object_new_array();
    json_object_object_add(s, "id", jstr(d->service));
    json_object_object_add(s, "title", jstr(d->service_title ? d->service_title : d->service));
    if (d->service_desc) json_object_object_add(s, "description", jstr(d->service_desc));
    for (int i = 0; d->categories && i < d->categories->nelts; i++)
        json_object_array_add(cats, jstr(APR_ARRAY_IDX(d->categories, i, const char *)));
    json_object_object_add(s, "categories", cats);
    json_object_object_add(s, "basePath", jstr(d->base));
    for (int i = 0; i < d->routes->nelts; i++) {
        const mpp_route_t *rt = &APR_ARRAY_IDX(d->routes, i, mpp_route_t);
        json_object *r = json_object_new_object(), *offers = json_object_new_array();
        json_object_object_add(r, "method", jstr(rt->pat.method ? rt->pat.method : "*"));
        json_object_object_add(r, "pattern", jstr(rt->pat.pattern));
        json_object_object_add(r, "path", jstr(apr_pstrcat(p, d->base, rt->pat.pattern, NULL)));
        json_object_object_add(r, "free", json_object_new_boolean(rt->free));
        json_object_object_add(r, "settle", jstr(route_after(d, rt) ? "after" : "before"));
        if (rt->description) json_object_object_add(r, "description", jstr(rt->description));
        for (int k = 0; k < rt->offers->nelts; k++) {
            const mpp_offer_t *o = apr_hash_get(c->offers, APR_ARRAY_IDX(rt->offers, k, const char *),
                                                APR_HASH_KEY_STRING);
            if (o && o->asset) json_object_array_add(offers, offer_json(p, o, 1));
        }
        json_object_object_add(r, "offers", offers);
        json_object_array_add(routes, r);
    }
    json_object_object_add(s, "routes", routes);
    return s;
}

static void openapi_paths(apr_pool_t *p, mpp_srv_cfg_t *c, const mpp_dir_cfg_t *d, json_object *paths)
{
    for (int i = 0; i < d->routes->nelts; i++) {
        const mpp_route_t *rt = &APR_ARRAY_IDX(d->routes, i, mpp_route_t);
        const char *path = mpp_route_openapi_path(p, d->base, &rt->pat);
        json_object *item, *op = json_object_new_object(), *resp = json_object_new_object(), *params;
        json_object *ok = json_object_new_object();
        char *method = apr_pstrdup(p, rt->pat.method ? rt->pat.method : "GET");
        for (char *m = method; *m; m++) if (*m >= 'A' && *m <= 'Z') *m = (char)(*m + 32);
        if (!json_object_object_get_ex(paths, path, &item)) {
            item = json_object_new_object();
            json_object_object_add(paths, path, item);
        }
        params = json_object_new_array();
        for (int k = 0; k < rt->pat.segs->nelts; k++) {
            const char *seg = APR_ARRAY_IDX(rt->pat.segs, k, const char *);
            if (seg[0] == ':' || !strcmp(seg, "*")) {
                json_object *pm = json_object_new_object(), *schema = json_object_new_object();
                json_object_object_add(pm, "name", jstr(seg[0] == ':' ? seg + 1 : "wildcard"));
                json_object_object_add(pm, "in", jstr("path"));
                json_object_object_add(pm, "required", json_object_new_boolean(1));
                json_object_object_add(schema, "type", jstr("string"));
                json_object_object_add(pm, "schema", schema);
                json_object_array_add(params, pm);
            }
        }
        if (json_object_array_length(params)) json_object_object_add(op, "parameters", params);
        else json_object_put(params);
        if (rt->description) json_object_object_add(op, "summary", jstr(rt->description));
        json_object_object_add(ok, "description", jstr("Successful response"));
        json_object_object_add(resp, "200", ok);
        if (!rt->free) {
            json_object *pr = json_object_new_object(), *info = json_object_new_object(),
                        *offers = json_object_new_array();
            json_object_object_add(pr, "description", jstr("Payment Required"));
            json_object_object_add(resp, "402", pr);
            for (int k = 0; k < rt->offers->nelts; k++) {
                const mpp_offer_t *o = apr_hash_get(c->offers, APR_ARRAY_IDX(rt->offers, k, const char *),
                                                    APR_HASH_KEY_STRING);
                if (o && o->asset) json_object_array_add(offers, offer_json(p, o, 0));
            }
            json_object_object_add(info, "offers", offers);
            json_object_object_add(op, "x-payment-info", info);
        }
        json_object_object_add(op, "responses", resp);
        json_object_object_add(item, method, op);
    }
}

static void llms_service(apr_pool_t *p, mpp_srv_cfg_t *c, const mpp_dir_cfg_t *d, apr_array_header_t *out)
{
    APR_ARRAY_PUSH(out, const char *) = apr_psprintf(p, "- %s%s%s", d->service_title ? d->service_title : d->service,
                                                     d->service_desc ? ": " : "", d->service_desc ? d->service_desc : "");
    for (int i = 0; i < d->routes->nelts; i++) {
        const mpp_route_t *rt = &APR_ARRAY_IDX(d->routes, i, mpp_route_t);
        const char *price = "free";
        if (!rt->free) {
            price = NULL;
            for (int k = 0; k < rt->offers->nelts; k++) {
                const mpp_offer_t *o = apr_hash_get(c->offers, APR_ARRAY_IDX(rt->offers, k, const char *),
                                                    APR_HASH_KEY_STRING);
                const char *one;
                if (!o || !o->asset) continue;
                one = apr_psprintf(p, "%s %s (%s)", o->amount, o->asset->address,
                                   o->asset->network->method ? o->asset->network->method->name : o->asset->network->type);
                price = price ? apr_pstrcat(p, price, ", ", one, NULL) : one;
            }
        }
        APR_ARRAY_PUSH(out, const char *) = apr_psprintf(p, "  - `%s %s%s`: %s", rt->pat.method ? rt->pat.method : "*",
                                                         d->base, rt->pat.pattern, price ? price : "");
    }
}

static int collect(apr_array_header_t *secs, apr_array_header_t *out)
{
    for (int i = 0; secs && i < secs->nelts; i++) {
        ap_conf_vector_t *v = APR_ARRAY_IDX(secs, i, ap_conf_vector_t *);
        mpp_dir_cfg_t *d = ap_get_module_config(v, &mpp_module);
        if (d && d->service && d->routes) APR_ARRAY_PUSH(out, mpp_dir_cfg_t *) = d;
    }
    return 0;
}

int mpp_discovery_build(apr_pool_t *p, server_rec *s)
{
    for (server_rec *v = s; v; v = v->next) {
        mpp_srv_cfg_t *c = ap_get_module_config(v->module_config, &mpp_module);
        core_server_config *core = ap_get_core_module_config(v->module_config);
        apr_array_header_t *svcs = apr_array_make(p, 4, sizeof(mpp_dir_cfg_t *));
        apr_array_header_t *lines = apr_array_make(p, 16, sizeof(const char *));
        json_object *all, *list, *oa, *info, *paths, *xs, *docs, *cats;
        const char *title = c->realm ? c->realm : v->server_hostname;
        mpp_discovery_t *disc;
        apr_hash_t *seen_cat = apr_hash_make(p);

        if (c->discovery != 1) { c->disc = NULL; continue; }
        collect(core->sec_url, svcs);
        disc = apr_pcalloc(p, sizeof(*disc));
        disc->service = apr_hash_make(p);
        all = mpp_json_pool_own(p, json_object_new_object());
        list = json_object_new_array();
        oa = mpp_json_pool_own(p, json_object_new_object());
        info = json_object_new_object();
        paths = json_object_new_object();
        xs = json_object_new_object();
        docs = json_object_new_object();
        cats = json_object_new_array();
        APR_ARRAY_PUSH(lines, const char *) = apr_psprintf(p, "# %s", title ? title : "API");
        APR_ARRAY_PUSH(lines, const char *) = "";
        APR_ARRAY_PUSH(lines, const char *) = "> Paid API served by Apache httpd with mod_mpp "
            "([Machine Payments Protocol](https://mpp.dev)): pay per request with an HTTP 402 Payment credential.";
        APR_ARRAY_PUSH(lines, const char *) = "";
        APR_ARRAY_PUSH(lines, const char *) = "## Services";
        APR_ARRAY_PUSH(lines, const char *) = "";
        for (int i = 0; i < svcs->nelts; i++) {
            const mpp_dir_cfg_t *d = APR_ARRAY_IDX(svcs, i, mpp_dir_cfg_t *);
            json_object *sj;
            if (apr_hash_get(disc->service, d->service, APR_HASH_KEY_STRING)) continue;  /* merged twice */
            sj = service_json(p, c, d);
            apr_hash_set(disc->service, d->service, APR_HASH_KEY_STRING, mpp_jcs(p, sj));
            json_object_array_add(list, sj);
            openapi_paths(p, c, d, paths);
            llms_service(p, c, d, lines);
            for (int k = 0; d->categories && k < d->categories->nelts; k++) {
                const char *cat = APR_ARRAY_IDX(d->categories, k, const char *);
                if (apr_hash_get(seen_cat, cat, APR_HASH_KEY_STRING)) continue;
                apr_hash_set(seen_cat, cat, APR_HASH_KEY_STRING, cat);
                json_object_array_add(cats, jstr(cat));
            }
        }
        json_object_object_add(all, "services", list);
        disc->discover = mpp_jcs(p, all);
        json_object_object_add(oa, "openapi", jstr("3.1.0"));
        json_object_object_add(info, "title", jstr(title ? title : "API"));
        json_object_object_add(info, "version", jstr("1.0.0"));
        json_object_object_add(oa, "info", info);
        json_object_object_add(oa, "paths", paths);
        json_object_object_add(xs, "categories", cats);
        json_object_object_add(docs, "llms", jstr("/llms.txt"));
        json_object_object_add(xs, "docs", docs);
        json_object_object_add(oa, "x-service-info", xs);
        disc->openapi = mpp_jcs(p, oa);
        APR_ARRAY_PUSH(lines, const char *) = "";
        APR_ARRAY_PUSH(lines, const char *) = "[OpenAPI discovery](/openapi.json)";
        disc->llms = apr_array_pstrcat(p, lines, '\n');
        disc->llms = apr_pstrcat(p, disc->llms, "\n", NULL);
        c->disc = disc;
    }
    return OK;
}

static int send_doc(request_rec *r, const char *type, const char *body)
{
    ap_set_content_type(r, type);
    apr_table_setn(r->headers_out, "Cache-Control", "public, max-age=300");
    apr_table_setn(r->headers_out, "Access-Control-Allow-Origin", "*");
    ap_set_content_length(r, (apr_off_t)strlen(body));
    if (!r->header_only) ap_rputs(body, r);
    return OK;
}

/* A quick handler: discovery is public and free, before any access check. */
int mpp_discovery_handler(request_rec *r, int lookup)
{
    mpp_srv_cfg_t *c = ap_get_module_config(r->server->module_config, &mpp_module);
    const char *u = r->parsed_uri.path;
    if (!c->disc || r->main || !u || (r->method_number != M_GET))
        return DECLINED;
    if (!strcmp(u, "/llms.txt"))
        return lookup ? OK : send_doc(r, "text/plain; charset=utf-8", c->disc->llms);
    if (!strcmp(u, "/openapi.json"))
        return lookup ? OK : send_doc(r, "application/json", c->disc->openapi);
    if (!strcmp(u, "/discover") || !strcmp(u, "/discover/"))
        return lookup ? OK : send_doc(r, "application/json", c->disc->discover);
    if (!strncmp(u, "/discover/", 10)) {
        const char *one = apr_hash_get(c->disc->service, u + 10, APR_HASH_KEY_STRING);
        if (!one) return lookup ? DECLINED : HTTP_NOT_FOUND;
        return lookup ? OK : send_doc(r, "application/json", one);
    }
    return DECLINED;
}
