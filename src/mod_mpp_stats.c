/* What the gate did, for operators: LogFormat environment variables per
 * request, and counters shared by all processes for mod_status. */
#include "mod_mpp.h"

#include "ap_mpm.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "mod_status.h"

#include <apr_hash.h>
#include <apr_optional_hooks.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <apr_uri.h>

#include "mpp_problem.h"
#include "mpp_rpc.h"
#include "mpp_store.h"

APLOG_USE_MODULE(mpp);

#define MAX_ENDPOINTS 32
#define LABEL_MAX 96

typedef struct {
    char label[LABEL_MAX];        /* network and scheme://host:port, never a path (keys live there) */
    apr_uint64_t calls, failed, error_replies, usec_total, usec_max;
} endpoint_t;

typedef struct {
    apr_uint64_t outcome[MPP_OUT__COUNT];
    apr_uint64_t problem[MPP_P__COUNT];
    apr_uint64_t settling;        /* settlements running now */
    apr_uint64_t settlements;     /* settlements run */
    apr_uint32_t endpoints;
    apr_time_t since;
    endpoint_t ep[MAX_ENDPOINTS];
} stats_t;

static stats_t *stats;            /* in shared memory kept across graceful restarts */
static apr_hash_t *slot_of;       /* RPC URL -> endpoint index + 1 (read-only after startup) */

#define ADD(x, n) __atomic_add_fetch(&(x), (n), __ATOMIC_RELAXED)
#define GET(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

static const char *const OUTCOME[MPP_OUT__COUNT] = { "free", "paid", "entitled", "challenged", "rejected" };

void mpp_outcome(request_rec *r, mpp_outcome_t o, int problem, const mpp_offer_t *offer)
{
    apr_table_t *e = r->subprocess_env;
    apr_table_setn(e, "MPP_STATUS", OUTCOME[o]);
    if (stats) ADD(stats->outcome[o], 1);
    if (o == MPP_OUT_CHALLENGED || o == MPP_OUT_REJECTED) {
        if (problem >= 0 && problem < MPP_P__COUNT) {
            apr_table_setn(e, "MPP_PROBLEM", mpp_problem_slug((mpp_problem_t)problem));
            if (stats) ADD(stats->problem[problem], 1);
        }
    }
    else
        apr_table_unset(e, "MPP_PROBLEM");
    if (offer && offer->asset) {
        apr_table_setn(e, "MPP_METHOD", offer->asset->network->method->name);
        apr_table_setn(e, "MPP_ASSET", offer->asset->name);
    }
    if (o == MPP_OUT_PAID || o == MPP_OUT_ENTITLED) {
        const char *v;
        /* an entitlement names its holder (the token's sub) */
        if ((v = apr_table_get(r->notes, "mpp-payer"))) apr_table_setn(e, "MPP_PAYER", v);
        if (o == MPP_OUT_PAID && (v = apr_table_get(r->notes, "mpp-amount"))) apr_table_setn(e, "MPP_AMOUNT", v);
        if (o == MPP_OUT_PAID && (v = apr_table_get(r->notes, "mpp-reference"))) apr_table_setn(e, "MPP_REFERENCE", v);
    }
}

void mpp_stats_settling(int delta)
{
    if (!stats) return;
    if (delta > 0) {
        ADD(stats->settling, 1);
        ADD(stats->settlements, 1);
    }
    else
        __atomic_sub_fetch(&stats->settling, 1, __ATOMIC_RELAXED);
}

/* Called by the RPC client after each endpoint it tried. */
static void observe_rpc(const char *url, apr_interval_time_t took, int rc)
{
    apr_size_t i = slot_of ? (apr_size_t)apr_hash_get(slot_of, url, APR_HASH_KEY_STRING) : 0;
    endpoint_t *ep;
    apr_uint64_t us = took > 0 ? (apr_uint64_t)took : 0, max;
    if (!stats || !i) return;
    ep = &stats->ep[i - 1];
    ADD(ep->calls, 1);
    ADD(ep->usec_total, us);
    if (rc == MPP_RPC_UNREACHABLE) ADD(ep->failed, 1);
    else if (rc == MPP_RPC_ERROR_REPLY) ADD(ep->error_replies, 1);
    max = GET(ep->usec_max);
    while (us > max && !__atomic_compare_exchange_n(&ep->usec_max, &max, us, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
}

/* network name + scheme://host[:port] of an RPC URL: its path and user
 * part may hold an API key, which must never be shown. */
static const char *endpoint_label(apr_pool_t *p, const char *network, const char *url)
{
    apr_uri_t u;
    if (apr_uri_parse(p, url, &u) != APR_SUCCESS || !u.scheme || !u.hostname)
        return apr_pstrcat(p, network, " (unparsable URL)", NULL);
    return apr_psprintf(p, "%s %s://%s%s%s", network, u.scheme, u.hostname, u.port_str ? ":" : "",
                        u.port_str ? u.port_str : "");
}

static void add_endpoints(apr_pool_t *p, apr_hash_t *networks, apr_uint32_t *n)
{
    for (apr_hash_index_t *hi = apr_hash_first(p, networks); hi; hi = apr_hash_next(hi)) {
        const mpp_network_t *net = apr_hash_this_val(hi);
        for (int i = 0; net->rpc_urls && i < net->rpc_urls->nelts; i++) {
            const char *url = APR_ARRAY_IDX(net->rpc_urls, i, const char *);
            const char *label;
            endpoint_t *ep;
            if (apr_hash_get(slot_of, url, APR_HASH_KEY_STRING) || *n >= MAX_ENDPOINTS) continue;
            ep = &stats->ep[*n];
            label = endpoint_label(p, net->name, url);
            if (strncmp(ep->label, label, LABEL_MAX - 1)) {   /* another endpoint here now: start over */
                memset(ep, 0, sizeof(*ep));
                apr_cpystrn(ep->label, label, LABEL_MAX);
            }
            apr_hash_set(slot_of, url, APR_HASH_KEY_STRING, (void *)(apr_size_t)(*n + 1));
            (*n)++;
        }
    }
}

int mpp_stats_post_config(apr_pool_t *pconf, server_rec *s)
{
    static const char KEY[] = "mpp-stats";
    apr_shm_t **shm = ap_retained_data_get(KEY);
    apr_uint32_t n = 0;
    apr_status_t rv;

    if (!shm) {
        /* the retained block holds one apr_shm_t pointer */
        shm = ap_retained_data_create(KEY, sizeof(*shm));   // NOLINT(bugprone-sizeof-expression)
        /* anonymous, in the process pool: every generation of children inherits it */
        if ((rv = apr_shm_create(shm, sizeof(stats_t), NULL, s->process->pool)) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, MPPLOGNO(01001) "no shared memory for counters; "
                         "mod_status will not show mod_mpp's");
            *shm = NULL;
            return OK;
        }
        memset(apr_shm_baseaddr_get(*shm), 0, sizeof(stats_t));
        ((stats_t *)apr_shm_baseaddr_get(*shm))->since = apr_time_now();
    }
    if (!*shm) return OK;
    stats = apr_shm_baseaddr_get(*shm);
    slot_of = apr_hash_make(pconf);
    for (server_rec *v = s; v; v = v->next) {
        mpp_srv_cfg_t *c = ap_get_module_config(v->module_config, &mpp_module);
        if (c->networks) add_endpoints(pconf, c->networks, &n);
    }
    stats->endpoints = n;
    return OK;
}

static void row(request_rec *r, int text, const char *key, apr_uint64_t v)
{
    if (text) ap_rprintf(r, "MPP%s: %" APR_UINT64_T_FMT "\n", key, v);
    else ap_rprintf(r, "<tr><td>%s</td><td>%" APR_UINT64_T_FMT "</td></tr>\n", key, v);
}

/* The mod_status section (?auto gives "MPPKey: value" lines). */
static int status_hook(request_rec *r, int flags)
{
    int text = (flags & AP_STATUS_SHORT) != 0;
    mpp_store_t *st = mpp_the_store();
    mpp_store_status_t ss = { 0 };
    if (!stats) return OK;
    if (!text)
        ap_rputs("<hr />\n<h2>mod_mpp</h2>\n<table border=\"0\">\n", r);
    if (st && mpp_store_status(st, &ss) == MPP_STORE_OK) {
        row(r, text, "StoreCapacity", ss.capacity);
        row(r, text, "StoreUsed", ss.used);
        row(r, text, "StoreRefusedFull", ss.refused);
        row(r, text, "StoreJournalRecords", ss.journal_records);
        row(r, text, "StoreJournalBytes", ss.journal_bytes);
    }
    else if (text)
        ap_rputs("MPPStore: unavailable\n", r);
    else
        ap_rputs("<tr><td>Store</td><td>unavailable</td></tr>\n", r);
    row(r, text, "ChallengesIssued", GET(stats->outcome[MPP_OUT_CHALLENGED]));
    row(r, text, "PaymentsAccepted", GET(stats->outcome[MPP_OUT_PAID]));
    row(r, text, "EntitledRequests", GET(stats->outcome[MPP_OUT_ENTITLED]));
    row(r, text, "FreeRequests", GET(stats->outcome[MPP_OUT_FREE]));
    row(r, text, "Rejected", GET(stats->outcome[MPP_OUT_REJECTED]));
    for (int t = 0; t < MPP_P__COUNT; t++) {
        apr_uint64_t v = GET(stats->problem[t]);
        if (t == MPP_P_PAYMENT_REQUIRED || !v) continue;
        row(r, text, apr_pstrcat(r->pool, "Rejected-", mpp_problem_slug((mpp_problem_t)t), NULL), v);
    }
    row(r, text, "SettlementsInFlight", GET(stats->settling));
    row(r, text, "SettlementsRun", GET(stats->settlements));
    for (apr_uint32_t i = 0; i < stats->endpoints && i < MAX_ENDPOINTS; i++) {
        endpoint_t *ep = &stats->ep[i];
        apr_uint64_t calls = GET(ep->calls), avg = calls ? GET(ep->usec_total) / calls : 0;
        if (text)
            ap_rprintf(r, "MPPRPC: %s calls=%" APR_UINT64_T_FMT " failed=%" APR_UINT64_T_FMT
                       " errors=%" APR_UINT64_T_FMT " avg_us=%" APR_UINT64_T_FMT " max_us=%" APR_UINT64_T_FMT "\n",
                       ep->label, calls, GET(ep->failed), GET(ep->error_replies), avg, GET(ep->usec_max));
        else
            ap_rprintf(r, "<tr><td>RPC %s</td><td>%" APR_UINT64_T_FMT " calls, %" APR_UINT64_T_FMT " failed, %"
                       APR_UINT64_T_FMT " error replies, average %" APR_UINT64_T_FMT " &micro;s, max %"
                       APR_UINT64_T_FMT " &micro;s</td></tr>\n", ap_escape_html(r->pool, ep->label), calls,
                       GET(ep->failed), GET(ep->error_replies), avg, GET(ep->usec_max));
    }
    if (!text)
        ap_rputs("</table>\n", r);
    return OK;
}

void mpp_stats_register(void)
{
    APR_OPTIONAL_HOOK(ap, status_hook, status_hook, NULL, NULL, APR_HOOK_MIDDLE);
    mpp_rpc_observer = observe_rpc;
}
