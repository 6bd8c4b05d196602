/* Proxied services: MPPService/MPPRoute configuration, route selection
 * for the gate, and what goes upstream (payment headers removed, the
 * upstream's own credential and the payer's identity added). */
#include "mod_mpp.h"

#include "http_core.h"
#include "http_log.h"
#include "http_request.h"

#include <apr_strings.h>

#include "mpp_args.h"

APLOG_USE_MODULE(mpp);

const char *mpp_set_service(cmd_parms *cmd, void *dv, const char *args)
{
    mpp_dir_cfg_t *d = dv;
    const char *e;
    apr_array_header_t *w = mpp_args_split(cmd->pool, args, &e);
    apr_size_t n;
    if (!w) return apr_psprintf(cmd->pool, "MPPService: %s", e);
    if (!cmd->path || cmd->path[0] != '/')
        return "MPPService belongs in a <Location /path> (not a regex section)";
    if (w->nelts < 1) return "MPPService: needs an id";
    d->service = APR_ARRAY_IDX(w, 0, const char *);
    for (const char *c = d->service; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '_'))
            return apr_psprintf(cmd->pool, "MPPService: id '%s' may use letters, digits, - and _ only", d->service);
    for (int i = 1; i < w->nelts; i++) {
        const char *k, *v;
        if (mpp_args_kv(cmd->pool, APR_ARRAY_IDX(w, i, const char *), &k, &v))
            return apr_psprintf(cmd->pool, "MPPService: '%s' is not key=value", APR_ARRAY_IDX(w, i, const char *));
        if (!strcmp(k, "title")) d->service_title = v;
        else if (!strcmp(k, "description")) d->service_desc = v;
        else if (!strcmp(k, "categories")) {
            char *last, *t, *dup = apr_pstrdup(cmd->pool, v);
            d->categories = apr_array_make(cmd->pool, 2, sizeof(const char *));
            for (t = apr_strtok(dup, ",", &last); t; t = apr_strtok(NULL, ",", &last))
                APR_ARRAY_PUSH(d->categories, const char *) = t;
        }
        else return apr_psprintf(cmd->pool, "MPPService: unknown parameter '%s'", k);
    }
    n = strlen(cmd->path);
    d->base = apr_pstrmemdup(cmd->pool, cmd->path, n && cmd->path[n - 1] == '/' ? n - 1 : n);
    d->routes = apr_array_make(cmd->pool, 8, sizeof(mpp_route_t));
    return NULL;
}

const char *mpp_set_route(cmd_parms *cmd, void *dv, const char *args)
{
    mpp_dir_cfg_t *d = dv;
    const char *e;
    apr_array_header_t *w = mpp_args_split(cmd->pool, args, &e);
    mpp_route_t *rt;
    if (!w) return apr_psprintf(cmd->pool, "MPPRoute: %s", e);
    if (!d->service || !d->routes)
        return "MPPRoute needs MPPService earlier in the same <Location>";
    if (w->nelts < 2) return "MPPRoute: needs \"METHOD /pattern\" and offers or free";
    rt = apr_array_push(d->routes);
    memset(rt, 0, sizeof(*rt));
    rt->settle_after = -1;
    if ((e = mpp_route_parse(cmd->pool, APR_ARRAY_IDX(w, 0, const char *), &rt->pat)))
        return apr_psprintf(cmd->pool, "MPPRoute \"%s\": %s", APR_ARRAY_IDX(w, 0, const char *), e);
    rt->offers = apr_array_make(cmd->pool, 2, sizeof(const char *));
    for (int i = 1; i < w->nelts; i++) {
        const char *word = APR_ARRAY_IDX(w, i, const char *), *k, *v;
        if (!mpp_args_kv(cmd->pool, word, &k, &v)) {
            if (!strcmp(k, "settle")) {
                if (!strcmp(v, "before")) rt->settle_after = 0;
                else if (!strcmp(v, "after")) rt->settle_after = 1;
                else return apr_psprintf(cmd->pool, "MPPRoute: settle=%s is not before or after", v);
            }
            else if (!strcmp(k, "description")) rt->description = v;
            else return apr_psprintf(cmd->pool, "MPPRoute: unknown parameter '%s'", k);
        }
        else if (!strcmp(word, "free")) rt->free = 1;
        else APR_ARRAY_PUSH(rt->offers, const char *) = word;
    }
    if (rt->free && rt->offers->nelts) return "MPPRoute: free cannot be combined with offers";
    if (!rt->free && !rt->offers->nelts) return "MPPRoute: needs offers or free";
    return NULL;
}

const char *mpp_set_upstream_bearer(cmd_parms *cmd, void *dv, const char *args)
{
    mpp_dir_cfg_t *d = dv;
    const char *v, *e;
    if (strncmp(args, "file=", 5)) return "MPPUpstreamBearer: file=/path";
    if ((e = mpp_token_file_load(cmd->pool, args + 5, &v)))
        return apr_psprintf(cmd->pool, "MPPUpstreamBearer: %s", e);
    d->upstream_header = "Authorization";
    d->upstream_value = apr_pstrcat(cmd->pool, "Bearer ", v, NULL);
    return NULL;
}

const char *mpp_set_upstream_header(cmd_parms *cmd, void *dv, const char *name, const char *file)
{
    mpp_dir_cfg_t *d = dv;
    const char *v, *e;
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-'))
            return apr_psprintf(cmd->pool, "MPPUpstreamHeader: '%s' is not a header name", name);
    if (strncmp(file, "file=", 5)) return "MPPUpstreamHeader: Name file=/path";
    if ((e = mpp_token_file_load(cmd->pool, file + 5, &v)))
        return apr_psprintf(cmd->pool, "MPPUpstreamHeader: %s", e);
    d->upstream_header = name;
    d->upstream_value = v;
    return NULL;
}

const char *mpp_set_settle(cmd_parms *cmd, void *dv, const char *v)
{
    mpp_dir_cfg_t *d = dv;
    if (!strcmp(v, "before")) d->settle_after = 0;
    else if (!strcmp(v, "after")) d->settle_after = 1;
    else return apr_psprintf(cmd->pool, "MPPSettle %s: before or after", v);
    return NULL;
}

int mpp_service_route(request_rec *r, mpp_dir_cfg_t *d, const mpp_route_t **route, const char **why)
{
    apr_size_t n = strlen(d->base);
    const char *rel;
    *route = NULL;
    if ((*why = mpp_path_suspicious(r->uri, r->unparsed_uri)))
        return HTTP_NOT_FOUND;
    if (strncmp(r->uri, d->base, n) || (r->uri[n] != '/' && r->uri[n] != '\0')) {
        *why = "outside the service";
        return HTTP_NOT_FOUND;
    }
    rel = r->uri[n] ? r->uri + n : "/";
    for (int i = 0; i < d->routes->nelts; i++) {
        const mpp_route_t *rt = &APR_ARRAY_IDX(d->routes, i, mpp_route_t);
        if (mpp_route_match(&rt->pat, r->method, rel)) {
            *route = rt;
            return OK;
        }
    }
    *why = "no route of this service matches";
    return OK;
}

/* Payment headers never go upstream; the upstream's credential and the
 * payer's identity do. Spoofed MPP-* headers are dropped everywhere we
 * charge, so backends (CGI, PHP, proxies) can trust them. */
int mpp_fixups(request_rec *r)
{
    mpp_dir_cfg_t *d = ap_get_module_config(r->per_dir_config, &mpp_module);
    const char *auth, *payer, *amount, *ref;
    request_rec *m = r;
    if (!d->service && !(d->charge_set && d->offers && d->offers->nelts))
        return DECLINED;
    while (m->prev) m = m->prev;   /* the original request carries the notes */
    {
        /* every client-sent MPP-* header: only we speak for the payment */
        const apr_array_header_t *arr = apr_table_elts(r->headers_in);
        const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
        apr_array_header_t *drop = apr_array_make(r->pool, 2, sizeof(const char *));
        for (int i = 0; i < arr->nelts; i++)
            if (e[i].key && !strncasecmp(e[i].key, "MPP-", 4)) APR_ARRAY_PUSH(drop, const char *) = e[i].key;
        for (int i = 0; i < drop->nelts; i++) apr_table_unset(r->headers_in, APR_ARRAY_IDX(drop, i, const char *));
    }
    if (d->service) apr_table_unset(r->headers_in, "X-Entitlement");   /* a bearer token of ours */
    auth = apr_table_get(r->headers_in, "Authorization");
    if (auth && (!strncasecmp(auth, "Payment", 7) || ap_strcasestr(auth, "Payment ")))
        apr_table_unset(r->headers_in, "Authorization");
    apr_table_unset(r->headers_in, "Payment-Authorization");
    apr_table_unset(r->headers_in, "PAYMENT-SIGNATURE");
    apr_table_unset(r->headers_in, "X-PAYMENT");
    apr_table_unset(r->headers_in, "Payment-Receipt");
    apr_table_unset(r->headers_in, "Accept-Payment");
    if (d->service && d->upstream_header)
        apr_table_set(r->headers_in, d->upstream_header, d->upstream_value);
    if ((payer = apr_table_get(m->notes, "mpp-payer"))) apr_table_set(r->headers_in, "MPP-Payer", payer);
    if ((amount = apr_table_get(m->notes, "mpp-amount"))) apr_table_set(r->headers_in, "MPP-Amount", amount);
    if ((ref = apr_table_get(m->notes, "mpp-reference"))) apr_table_set(r->headers_in, "MPP-Reference", ref);
    return DECLINED;
}
