/* The payment gate (access phase): challenges, credential checks, and the
 * output filters that finish 402s and add receipts to 2xx answers. */
#include "mod_mpp.h"

#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "mod_core.h"
#include "util_filter.h"

#include <apr_strings.h>

#include "mpp_accept.h"
#include "mpp_b64.h"
#include "mpp_credential.h"
#include "mpp_digest.h"
#include "mpp_json.h"
#include "mpp_receipt.h"
#include "mpp_store.h"
#include "mpp_time.h"
#include "mpp_u256.h"

APLOG_USE_MODULE(mpp);

#define NOTE_PROBLEM "mpp-problem"     /* our problem body is the error page */
#define NOTE_RECEIPT "mpp-receipt"     /* Payment-Receipt for a 2xx answer */
#define NOTE_PAID    "mpp-paid"        /* this transaction is paid for */
#define NOTE_PAYWALL "mpp-paywall"     /* the error page is the HTML paywall */
#define NOTE_REQUIRE_DENIED "mpp-require-denied"   /* status to answer instead of authz's 401/403 */
#define ERROR_FILTER "MPP_PROBLEM"
#define RECEIPT_FILTER "MPP_RECEIPT"

static const char PAYMENT_HINT[] =
    "Pay with a wallet that supports one of the methods in the WWW-Authenticate "
    "Payment challenges, then retry with Authorization: Payment <credential>.";

typedef struct {
    const mpp_offer_t *offer;
    const char *request;          /* base64url(JCS(request)) */
    const char *amount;           /* a tenant's amount and recipient, or NULL */
    const char *recipient;
} gate_offer_t;

typedef struct {
    request_rec *r;
    mpp_srv_cfg_t *sc;
    const char *realm;
    const char *scope;
    apr_array_header_t *offers;   /* gate_offer_t */
    int has_body;
    unsigned char body_sha[32];
    int settle_after;             /* settle once the upstream answered below 400 */
    const char *rid;              /* resource id of entitlements for this place */
    int check_only;               /* Require payment: check the credential, take nothing */
    const char *body;             /* the problem (or paywall) body respond() made */
    const mpp_offer_t *offer;     /* the offer the credential names */
} gate_t;

static int is_loopback(const char *ip)
{
    return ip && (!strncmp(ip, "127.", 4) || !strcmp(ip, "::1") || !strncmp(ip, "::ffff:127.", 11));
}

/* Offers this place charges, with tenant price and recipient applied.
 * A bad tenant setting is a configuration error: 500, logged. */
static int resolve_offers(gate_t *g, mpp_dir_cfg_t *d, apr_array_header_t *names)
{
    request_rec *r = g->r;
    g->offers = apr_array_make(r->pool, names->nelts, sizeof(gate_offer_t));
    for (int i = 0; i < names->nelts; i++) {
        const char *name = APR_ARRAY_IDX(names, i, const char *), *e, *recipient = NULL;
        const mpp_offer_t *o = apr_hash_get(g->sc->offers, name, APR_HASH_KEY_STRING);
        char *amount = NULL;
        gate_offer_t *go;
        if (!o || !o->asset) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MPPLOGNO(01200) "MPPCharge %s (%s): unknown offer", name,
                          d->where ? d->where : r->uri);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (d->price && (e = mpp_offer_tenant_amount(r->pool, o, d->price, &amount))) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MPPLOGNO(01202) "MPPPrice %s (%s): %s", d->price,
                          d->where ? d->where : r->uri, e);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (d->recipient) {
            if (!o->tenant_recipient) {
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MPPLOGNO(01203) "MPPRecipient (%s): offer '%s' does not "
                              "allow a tenant recipient", d->where ? d->where : r->uri, o->name);
                return HTTP_INTERNAL_SERVER_ERROR;
            }
            if ((e = mpp_offer_check_address(r->pool, o, d->recipient))) {
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MPPLOGNO(01204) "MPPRecipient (%s): %s",
                              d->where ? d->where : r->uri, e);
                return HTTP_INTERNAL_SERVER_ERROR;
            }
            recipient = d->recipient;
        }
        go = apr_array_push(g->offers);
        go->offer = o;
        go->amount = amount;
        go->recipient = recipient;
        go->request = !amount && !recipient && o->request_b64 ? o->request_b64
            : mpp_jcs_b64url(r->pool, mpp_offer_request(r->pool, o, amount, recipient));
    }
    return OK;
}

static const char *offer_method(const gate_offer_t *go)
{
    return go->offer->asset->network->method->name;
}

/* x402 v2 requirements (JCS text) of an EVM offer that takes EIP-3009
 * authorizations at this amount and recipient, or NULL: x402-only wallets
 * learn the price from PAYMENT-REQUIRED. */
static const char *x402_accept(apr_pool_t *p, const mpp_offer_t *o, const char *amount, const char *recipient)
{
    const mpp_asset_t *a = o->asset;
    json_object *acc, *extra;
    const char *txt;
    int auth = !o->types;
    for (int i = 0; o->types && i < o->types->nelts; i++)
        if (!strcmp(APR_ARRAY_IDX(o->types, i, const char *), "authorization")) auth = 1;
    if (a->network->kind != MPP_NET_EVM || !auth || !a->eip712_name || !a->eip712_version)
        return NULL;
    acc = json_object_new_object();
    extra = json_object_new_object();
    json_object_object_add(acc, "amount", json_object_new_string(amount ? amount : o->amount));
    json_object_object_add(acc, "asset", json_object_new_string(a->address));
    json_object_object_add(extra, "assetTransferMethod", json_object_new_string("eip3009"));
    json_object_object_add(extra, "name", json_object_new_string(a->eip712_name));
    json_object_object_add(extra, "version", json_object_new_string(a->eip712_version));
    json_object_object_add(acc, "extra", extra);
    json_object_object_add(acc, "maxTimeoutSeconds", json_object_new_int(o->expires));
    json_object_object_add(acc, "network", json_object_new_string(
        apr_psprintf(p, "eip155:%" APR_UINT64_T_FMT, a->network->chain_id)));
    json_object_object_add(acc, "payTo", json_object_new_string(recipient ? recipient : o->recipient));
    json_object_object_add(acc, "scheme", json_object_new_string("exact"));
    txt = mpp_jcs(p, acc);
    json_object_put(acc);
    return txt;
}

/* What depends on an offer alone is made once, at startup. */
void mpp_gate_precompute(apr_pool_t *p, server_rec *s)
{
    for (server_rec *v = s; v; v = v->next) {
        mpp_srv_cfg_t *c = ap_get_module_config(v->module_config, &mpp_module);
        for (apr_hash_index_t *hi = apr_hash_first(p, c->offers); hi; hi = apr_hash_next(hi)) {
            mpp_offer_t *o = apr_hash_this_val(hi);
            if (o->request_b64 || !o->asset) continue;
            o->request_b64 = mpp_jcs_b64url(p, mpp_offer_request(p, o, NULL, NULL));
            o->x402_accept = x402_accept(p, o, NULL, NULL);
        }
    }
}

/* PAYMENT-REQUIRED: the x402 answer, written directly (JCS member order). */
static void add_x402(gate_t *g, const char *accepts)
{
    request_rec *r = g->r;
    const char *txt = apr_pstrcat(r->pool, "{\"accepts\":[", accepts, "],\"error\":\"Payment required\","
                                  "\"resource\":{\"url\":", mpp_json_quote(r->pool, ap_construct_url(r->pool, r->uri, r)),
                                  "},\"x402Version\":2}", NULL);
    apr_table_setn(r->err_headers_out, "PAYMENT-REQUIRED",
                   mpp_b64std_encode(r->pool, (const unsigned char *)txt, strlen(txt)));
}

/* Fresh challenges (ranked by Accept-Payment) into err_headers_out; returns
 * the first id for the problem body. */
static const char *add_challenges(gate_t *g)
{
    request_rec *r = g->r;
    const mpp_keys_t *keys = mpp_server_keys(r->server);
    int n = g->offers->nelts, *order = apr_palloc(r->pool, sizeof(int) * (apr_size_t)n), kept = -1;
    const char *accept = apr_table_get(r->headers_in, "Accept-Payment"), *first = NULL;
    const char *digest = g->has_body ? mpp_digest_format(r->pool, g->body_sha) : NULL;
    const char *accepts = NULL, *acc;

    if (accept) {
        const char **methods = apr_palloc(r->pool, sizeof(char *) * (apr_size_t)n);
        const char **intents = apr_palloc(r->pool, sizeof(char *) * (apr_size_t)n);
        for (int i = 0; i < n; i++) {
            gate_offer_t *go = &APR_ARRAY_IDX(g->offers, i, gate_offer_t);
            methods[i] = offer_method(go);
            intents[i] = go->offer->intent;
        }
        kept = mpp_accept_rank(r->pool, accept, methods, intents, n, order);
    }
    if (kept < 0) {
        for (int i = 0; i < n; i++) order[i] = i;
        kept = n;
    }
    for (int k = 0; k < kept; k++) {
        gate_offer_t *go = &APR_ARRAY_IDX(g->offers, order[k], gate_offer_t);
        mpp_challenge_t c = { 0 };
        const char *hdr, *err;
        c.realm = g->realm;
        c.method = offer_method(go);
        c.intent = go->offer->intent;
        c.request = go->request;
        c.expires = mpp_time_format(r->pool, r->request_time + apr_time_from_sec(go->offer->expires));
        c.digest = digest;
        c.description = go->offer->description;
        c.opaque = mpp_opaque_for_scope(r->pool, g->scope);
        if (!c.opaque) return NULL;
        c.id = mpp_challenge_compute_id(r->pool, keys->key, keys->keylen, &c);
        if (!(hdr = mpp_challenge_format(r->pool, &c, &err))) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MPPLOGNO(01205) "cannot format a challenge: %s", err);
            return NULL;
        }
        apr_table_addn(r->err_headers_out, "WWW-Authenticate", hdr);
        if (!first) first = c.id;
        acc = !go->amount && !go->recipient ? go->offer->x402_accept
            : x402_accept(r->pool, go->offer, go->amount, go->recipient);
        if (acc) accepts = accepts ? apr_pstrcat(r->pool, accepts, ",", acc, NULL) : acc;
    }
    if (accepts) add_x402(g, accepts);
    return first;
}

/* The HTML paywall for the offers of this place. */
static const char *paywall(gate_t *g, const char *detail)
{
    request_rec *r = g->r;
    mpp_paywall_offer_t *po = apr_pcalloc(r->pool, sizeof(*po) * (apr_size_t)g->offers->nelts);
    const char *err;
    for (int i = 0; i < g->offers->nelts; i++) {
        gate_offer_t *go = &APR_ARRAY_IDX(g->offers, i, gate_offer_t);
        json_object *req = mpp_json_from_b64url(r->pool, go->request, 65536, 8, &err);
        po[i].offer = go->offer;
        po[i].amount = req ? mpp_json_str(req, "amount") : go->offer->amount;
        po[i].recipient = req ? mpp_json_str(req, "recipient") : go->offer->recipient;
    }
    return mpp_paywall_html(r, g->realm, po, g->offers->nelts, detail);
}

/* An error answer with an RFC 9457 body; challenges when asked (402 always). */
static int respond(gate_t *g, mpp_problem_t t, const char *detail, int with_challenges)
{
    request_rec *r = g->r;
    int status = mpp_problem_status(t);
    const char *id = NULL, *body;

    if (with_challenges || status == HTTP_PAYMENT_REQUIRED) {
        if (!(id = add_challenges(g))) {
            t = MPP_P_INTERNAL;
            status = HTTP_INTERNAL_SERVER_ERROR;
            detail = "the server could not issue a payment challenge";
            apr_table_unset(r->err_headers_out, "WWW-Authenticate");
        }
    }
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    body = mpp_problem_json(r->pool, t, detail, t == MPP_P_PAYMENT_REQUIRED ? PAYMENT_HINT : NULL, id);
    if (status == HTTP_PAYMENT_REQUIRED && g->offers && g->offers->nelts) {
        /* Vlexivo clients read a "challenge" member (an RFC 9457 extension member) */
        mpp_dir_cfg_t *d = ap_get_module_config(r->per_dir_config, &mpp_module);
        const char *vch = d->vlexivo == 1 ? mpp_vlexivo_challenge(r, d, g->rid ? g->rid : r->uri,
            APR_ARRAY_IDX(g->offers, 0, gate_offer_t).request,
            d->grant_secs ? "per-session" : d->ent_scope ? d->ent_scope : "per-article") : NULL;
        if (vch) {
            body = apr_pstrcat(r->pool, apr_pstrmemdup(r->pool, body, strlen(body) - 1), ",\"challenge\":", vch, "}", NULL);
            apr_table_setn(r->err_headers_out, "X-Vlexivo-Protocol", "vlexivo/1.0");
        }
    }
    mpp_outcome(r, t == MPP_P_PAYMENT_REQUIRED ? MPP_OUT_CHALLENGED : MPP_OUT_REJECTED, t, g->offer);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MPPLOGNO(01201) "%d %s: %s", status,
                  mpp_problem_slug(t), detail ? ap_escape_logitem(r->pool, detail) : "");
    if (status == HTTP_PAYMENT_REQUIRED && g->offers && mpp_paywall_wanted(r)) {
        /* a browser: the readable page, unless the admin has an ErrorDocument 402 */
        if (ap_response_code_string(r, ap_index_of_response(HTTP_PAYMENT_REQUIRED)))
            return status;
        body = paywall(g, detail);
        apr_table_setn(r->notes, NOTE_PAYWALL, "1");
        /* the page runs nothing and loads nothing, whatever reached it */
        apr_table_setn(r->err_headers_out, "Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; "
                       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    }
    g->body = body;
    ap_custom_response(r, status, body);
    apr_table_setn(r->notes, NOTE_PROBLEM, "1");
    return status;
}

static int already_paid(request_rec *r)
{
    for (request_rec *q = r->main ? r->main : r->prev; q; q = q->main ? q->main : q->prev)
        if (apr_table_get(q->notes, NOTE_PAID)) return 1;
    return 0;
}

/* 503 with Retry-After: the gate cannot record payments, so it takes none. */
static int unavailable(gate_t *g, const char *detail, int retry_after)
{
    apr_table_setn(g->r->err_headers_out, "Retry-After", apr_itoa(g->r->pool, retry_after));
    return respond(g, MPP_P_UNAVAILABLE, detail, 0);
}

static int store_trouble(gate_t *g, mpp_store_rc_t rc)
{
    static apr_time_t last_full_log;   /* per process: a full store is logged once a minute */
    request_rec *r = g->r;
    if (rc == MPP_STORE_FULL) {
        if (r->request_time - last_full_log > apr_time_from_sec(60)) {
            last_full_log = r->request_time;
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MPPLOGNO(01206) "the payment store is full (%lu bytes): "
                          "payments are refused until entries expire; raise MPPStore size=",
                          (unsigned long)mpp_store_cfg.size);
        }
        return unavailable(g, "the payment store is full; retry later", 30);
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MPPLOGNO(01207) "payment store error (%s): refusing payments",
                  mpp_store_rc_name(rc));
    return unavailable(g, "payments cannot be recorded right now; retry later", 5);
}

/* A challenge's life in the store, as a counter that only advances: claimed
 * (memory only), submitted (journaled with the settlement's reference, so a
 * timeout or crash is resolved from the chain, never by paying twice), paid.
 * The state is byte 30 of the counter; byte 31 counts submissions, so a
 * settlement sent again (a new transaction) replaces the reference. */
enum { ST_CLAIMED = 1, ST_SUBMITTED = 2, ST_PAID = 3 };
#define PENDING_TTL apr_time_from_sec(86400)   /* a submitted settlement may take a while */

typedef struct {
    gate_t *g;
    mpp_store_t *st;
    const char *key;              /* cid:<challenge id> */
    apr_time_t expires;           /* of the challenge */
    int identity_held;            /* pay->identity is claimed by this request */
    int submitted;                /* a settlement may be on its way to the chain (how many times) */
} claim_t;

static void state_counter(unsigned char c[32], int state)
{
    memset(c, 0, 32);
    c[30] = (unsigned char)state;
}

/* Called by a method right before it broadcasts. */
static int submitting(mpp_payment_t *pay, const unsigned char ref[32])
{
    claim_t *cl = pay->gate;
    unsigned char c[32];
    if (pay->identity && cl->identity_held && mpp_store_persist(cl->st, pay->identity) != MPP_STORE_OK)
        return -1;
    if (cl->submitted >= 255) return -1;
    state_counter(c, ST_SUBMITTED);
    c[31] = (unsigned char)(cl->submitted + 1);
    if (mpp_store_advance(cl->st, cl->key, c, ref, 32, cl->expires + PENDING_TTL) != MPP_STORE_OK)
        return -1;
    cl->submitted++;
    return 0;
}

static int settle_lock(void *baton) { return mpp_settle_lock(); }
static void settle_unlock(void *baton) { mpp_settle_unlock(); }

static const mpp_env_t *gate_env(mpp_store_t *st)
{
    static mpp_env_t env;   /* the same for every request of this process */
    env.store = st;
    env.settle_lock = settle_lock;
    env.settle_unlock = settle_unlock;
    return &env;
}

/* The payment was good but cannot be recorded: 503, served nothing. A
 * settlement of ours in flight keeps its journaled state (the retry resumes
 * it); otherwise the in-memory claims go, so the same credential can be sent
 * again once the store recovers. */
static int unrecorded(gate_t *g, claim_t *cl, mpp_payment_t *pay, mpp_store_rc_t rc)
{
    if (!cl->submitted) {
        if (pay->identity && cl->identity_held) mpp_store_remove(cl->st, pay->identity);
        mpp_store_remove(cl->st, cl->key);
    }
    return store_trouble(g, rc);
}

/* MPPGrant: an entitlement for this place, handed out with the receipt. */
static void note_grant(gate_t *g, request_rec *r)
{
    mpp_dir_cfg_t *d = ap_get_module_config(r->per_dir_config, &mpp_module);
    const char *tok;
    if (d->grant_secs && (tok = mpp_grant(r, d, g->realm, g->rid, apr_table_get(r->notes, "mpp-payer"),
                                          apr_table_get(r->notes, "mpp-amount"))))
        apr_table_setn(r->notes, "mpp-grant", tok);
}

/* Who paid and how much, for the backend (MPP-Payer, MPP-Amount). */
static void note_payer(request_rec *r, const mpp_payment_t *pay)
{
    /* only what the method verified: an unverified source could name anyone */
    const char *payer = pay->payer, *amount = mpp_json_str(pay->request, "amount");
    for (const char *c = payer; c && *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) { payer = NULL; break; }   /* header-safe only */
    apr_table_setn(r->notes, "mpp-payer", payer ? apr_pstrndup(r->pool, payer, 256) : "anonymous");
    if (amount) apr_table_setn(r->notes, "mpp-amount", amount);
}

/* The answer once the method has spoken: 200 (receipt kept for the output
 * filter), or a problem; 5xx answers carry no challenge. */
static int finish(gate_t *g, claim_t *cl, const mpp_method_t *m, mpp_payment_t *pay, mpp_problem_t t)
{
    request_rec *r = g->r;
    unsigned char c[32], ref[32] = { 0 };
    json_object *receipt;
    const char *hdr, *err;
    mpp_store_rc_t rc;

    if (t != MPP_OK) {
        int status = mpp_problem_status(t);
        if (pay->pending && cl->submitted) {
            /* the chain will tell: keep every claim, let the client retry the same credential */
            apr_table_setn(r->err_headers_out, "Retry-After", "5");
            return respond(g, MPP_P_UNAVAILABLE, pay->detail, 0);
        }
        /* nothing was paid, or nothing of ours is in flight: the challenge (and
         * the payment) may be answered again */
        if (pay->identity && cl->identity_held) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, MPPLOGNO(01208) "payment %s released: %s",
                          pay->identity, pay->detail ? ap_escape_logitem(r->pool, pay->detail) : "refused");
            mpp_store_remove(cl->st, pay->identity);
        }
        mpp_store_remove(cl->st, cl->key);
        if (status >= 500) apr_table_setn(r->err_headers_out, "Retry-After", "5");
        return respond(g, t, pay->detail, status < 500);
    }
    if (pay->identity && cl->identity_held && (rc = mpp_store_persist(cl->st, pay->identity)) != MPP_STORE_OK)
        return unrecorded(g, cl, pay, rc);
    if (pay->reference && strlen(pay->reference) == 66)
        mpp_hex_decode(pay->reference, ref, 32);
    state_counter(c, ST_PAID);
    rc = mpp_store_advance(cl->st, cl->key, c, ref, 32, cl->expires + apr_time_from_sec(5));
    if (rc == MPP_STORE_NOT_GREATER)   /* a concurrent retry of this credential got it */
        return respond(g, MPP_P_INVALID_CHALLENGE, "this challenge was already used", 1);
    if (rc != MPP_STORE_OK)
        return unrecorded(g, cl, pay, rc);
    receipt = m->receipt ? m->receipt(pay) : mpp_receipt_default(pay, m->name);
    mpp_json_pool_own(r->pool, receipt);
    if (!(hdr = mpp_receipt_format(r->pool, receipt, &err))) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MPPLOGNO(01209) "method %s wrote a bad receipt: %s", m->name, err);
        return respond(g, MPP_P_INTERNAL, "the payment was accepted but no receipt could be written", 0);
    }
    apr_table_setn(r->notes, NOTE_RECEIPT, hdr);
    apr_table_setn(r->notes, NOTE_PAID, "1");
    if (pay->reference) apr_table_setn(r->notes, "mpp-reference", pay->reference);
    note_payer(r, pay);
    note_grant(g, r);
    mpp_outcome(r, MPP_OUT_PAID, 0, pay->offer);
    return OK;
}

/* A settlement, counted while it runs (mod_status shows the queue). */
static mpp_problem_t settle_counted(const mpp_method_t *m, mpp_payment_t *pay)
{
    mpp_problem_t t;
    if (!m->settle) return MPP_OK;
    mpp_stats_settling(1);
    t = m->settle(pay);
    mpp_stats_settling(-1);
    return t;
}

/* ---- settle after the upstream answered (MPPSettle after) ---- */

typedef struct {
    gate_t g;
    claim_t cl;
    mpp_payment_t pay;
    mpp_credential_t cred;
    const mpp_method_t *m;
    int done;
} deferred_t;

static void release(claim_t *cl, mpp_payment_t *pay, const char *why)
{
    if (pay->identity && cl->identity_held) mpp_store_remove(cl->st, pay->identity);
    mpp_store_remove(cl->st, cl->key);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, cl->g->r, MPPLOGNO(01210) "challenge %s released: %s",
                  pay->challenge_id, why);
}

/* A deferred settlement that never ran (the request ended early) pays nothing. */
static apr_status_t deferred_cleanup(void *data)
{
    deferred_t *df = data;
    if (!df->done) {
        df->done = 1;
        release(&df->cl, &df->pay, "the request ended before the upstream answered");
    }
    return APR_SUCCESS;
}

/* Settle now, from the output filter, before any byte of the answer leaves:
 * MPP_OK (serve it, with the receipt) or the problem to answer instead. */
static mpp_problem_t settle_deferred(request_rec *r, deferred_t *df)
{
    mpp_payment_t *pay = &df->pay;
    unsigned char c[32], ref[32] = { 0 };
    json_object *receipt;
    const char *hdr, *err;
    mpp_problem_t t;

    df->done = 1;
    if (r->status >= 400) {
        release(&df->cl, pay, "the upstream answered an error, nothing was settled");
        return MPP_OK;   /* the upstream's own error goes out, unpaid and without receipt */
    }
    t = settle_counted(df->m, pay);
    if (t != MPP_OK) {
        if (pay->pending && df->cl.submitted) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, MPPLOGNO(01211) "settlement of %s is pending: %s",
                          pay->challenge_id, pay->detail ? pay->detail : "");
            pay->detail = "the payment is not confirmed yet; retry the same credential later";
            return MPP_P_UNAVAILABLE;
        }
        release(&df->cl, pay, pay->detail ? pay->detail : "settlement failed");
        return t == MPP_P_UNAVAILABLE || t == MPP_P_BAD_GATEWAY ? t : MPP_P_VERIFICATION_FAILED;
    }
    if ((pay->identity && df->cl.identity_held && mpp_store_persist(df->cl.st, pay->identity) != MPP_STORE_OK)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MPPLOGNO(01212) "settled %s but cannot record it", pay->challenge_id);
        pay->detail = "payments cannot be recorded right now; retry the same credential later";
        return MPP_P_UNAVAILABLE;
    }
    if (pay->reference && strlen(pay->reference) == 66) mpp_hex_decode(pay->reference, ref, 32);
    state_counter(c, ST_PAID);
    if (mpp_store_advance(df->cl.st, df->cl.key, c, ref, 32, df->cl.expires + apr_time_from_sec(5)) != MPP_STORE_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MPPLOGNO(01213) "settled %s but cannot record it", pay->challenge_id);
        pay->detail = "payments cannot be recorded right now; retry the same credential later";
        return MPP_P_UNAVAILABLE;
    }
    receipt = mpp_json_pool_own(r->pool, df->m->receipt ? df->m->receipt(pay) : mpp_receipt_default(pay, df->m->name));
    if ((hdr = mpp_receipt_format(r->pool, receipt, &err)))
        apr_table_setn(r->notes, NOTE_RECEIPT, hdr);
    note_grant(&df->g, r);
    mpp_outcome(r, MPP_OUT_PAID, 0, pay->offer);
    return MPP_OK;
}

/* The upstream answered but the payment did not go through: its answer is
 * swallowed and a problem goes out instead (headers are not sent yet). */
static void replace_answer(request_rec *r, ap_filter_t *f, apr_bucket_brigade *bb, mpp_problem_t t,
                           const char *detail)
{
    const char *body = mpp_problem_json(r->pool, t, detail, NULL, NULL);
    mpp_outcome(r, MPP_OUT_REJECTED, t, NULL);
    apr_brigade_cleanup(bb);
    apr_table_clear(r->headers_out);
    r->status = mpp_problem_status(t);
    r->status_line = NULL;
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (t == MPP_P_UNAVAILABLE || t == MPP_P_BAD_GATEWAY) apr_table_setn(r->headers_out, "Retry-After", "5");
    ap_set_content_type(r, "application/problem+json");
    ap_set_content_length(r, (apr_off_t)strlen(body));
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_immortal_create(body, strlen(body), f->c->bucket_alloc));
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(f->c->bucket_alloc));
}

/* Run the method behind the offer once the echo is known good. The challenge
 * id is claimed first, so concurrent copies of one credential have one
 * winner; a settlement left pending by a timeout or crash is resumed. */
static int pay(gate_t *g, const gate_offer_t *go, const mpp_credential_t *cred, int expired)
{
    request_rec *r = g->r;
    const mpp_method_t *m = go->offer->asset->network->method;
    mpp_store_t *st = mpp_the_store();
    mpp_payment_t pay = { 0 };
    claim_t cl = { 0 };
    unsigned char c[32], val[MPP_STORE_VALUE_MAX];
    apr_size_t vlen = 0;
    mpp_problem_t t;
    mpp_store_rc_t rc;

    if (!st)
        return store_trouble(g, MPP_STORE_ERROR);
    cl.g = g;
    cl.st = st;
    cl.key = apr_pstrcat(r->pool, "cid:", cred->challenge.id, NULL);
    mpp_time_parse(cred->challenge.expires, &cl.expires);   /* checked already */
    pay.p = r->pool;
    pay.env = gate_env(st);
    pay.cred = cred;
    pay.offer = go->offer;
    pay.request = cred->challenge.request_obj;
    pay.challenge_id = cred->challenge.id;
    pay.realm = cred->challenge.realm;
    pay.now = apr_time_now();
    pay.submitting = submitting;
    pay.gate = &cl;
    pay.simulate = g->settle_after;

    state_counter(c, ST_CLAIMED);
    rc = expired ? MPP_STORE_EXISTS : mpp_store_add(st, cl.key, c, 32, cl.expires + apr_time_from_sec(5), 0);
    if (rc == MPP_STORE_EXISTS) {
        rc = mpp_store_get(st, cl.key, val, &vlen, NULL);
        if (rc == MPP_STORE_OK && vlen == 64 && val[30] == ST_SUBMITTED && m->resume) {
            cl.submitted = val[31];
            return finish(g, &cl, m, &pay, m->resume(&pay, val + 32));
        }
        if (expired)
            return respond(g, MPP_P_PAYMENT_EXPIRED, "the challenge has expired", 1);
        if (rc != MPP_STORE_OK && rc != MPP_STORE_NOT_FOUND)
            return store_trouble(g, rc);
        return respond(g, MPP_P_INVALID_CHALLENGE, vlen && val[30] == ST_CLAIMED
                       ? "this challenge is being paid by another request" : "this challenge was already used", 1);
    }
    if (rc != MPP_STORE_OK)
        return store_trouble(g, rc);

    if ((t = m->verify(&pay)) != MPP_OK)
        return finish(g, &cl, m, &pay, t);
    if (pay.identity) {
        /* one payment (a transaction, an authorization) buys one challenge, ever */
        rc = mpp_store_add(st, pay.identity, c, 32, 0, 0);
        if (rc == MPP_STORE_EXISTS) {
            pay.identity = NULL;
            pay.detail = "this payment was already used";
            return finish(g, &cl, m, &pay, MPP_P_VERIFICATION_FAILED);
        }
        if (rc != MPP_STORE_OK) {
            mpp_store_remove(st, cl.key);
            return store_trouble(g, rc);
        }
        cl.identity_held = 1;
    }
    if (g->settle_after) {
        /* forward first; the output filter settles on an answer below 400 */
        deferred_t *df = apr_pcalloc(r->pool, sizeof(*df));
        df->g = *g;
        df->cl = cl;
        df->cl.g = &df->g;
        df->cred = *cred;
        df->pay = pay;
        df->pay.cred = &df->cred;
        df->pay.gate = &df->cl;
        df->m = m;
        note_payer(r, &pay);
        /* known now only when the method fixed it at verification */
        if (pay.reference) apr_table_setn(r->notes, "mpp-reference", pay.reference);
        ap_set_module_config(r->request_config, &mpp_module, df);
        apr_pool_cleanup_register(r->pool, df, deferred_cleanup, apr_pool_cleanup_null);
        apr_table_setn(r->notes, NOTE_PAID, "1");
        return OK;
    }
    t = settle_counted(m, &pay);
    return finish(g, &cl, m, &pay, t);
}

/* The payment this place needs with these offers: OK (paid, entitled, or,
 * when g->check_only, a credential good enough to try), or the answer
 * respond() prepared. */
static int decide(gate_t *g, mpp_dir_cfg_t *d, apr_array_header_t *names)
{
    request_rec *r = g->r;
    const char *auth, *err, *detail;
    mpp_credential_t cred;
    mpp_cred_status_t crc;
    mpp_expect_t *exps;
    int st, idx;
    mpp_problem_t t;

    if ((st = resolve_offers(g, d, names)) != OK)
        return st;

    if (strcmp(ap_http_scheme(r), "https") && g->sc->allow_plain_http != 1
        && !is_loopback(r->useragent_ip))
        return respond(g, MPP_P_FORBIDDEN, "payments require HTTPS; this request arrived over plain HTTP", 0);

    /* a valid entitlement is as good as a payment here */
    if ((d->ent_key || d->grant_secs) && mpp_entitled(r, d, g->realm, g->rid) == OK) {
        apr_table_setn(r->notes, NOTE_PAID, "1");
        apr_table_setn(r->notes, "mpp-entitled", "1");
        mpp_outcome(r, MPP_OUT_ENTITLED, 0, NULL);
        return OK;
    }

    if ((st = mpp_body_digest(r, g->body_sha, &g->has_body)) != OK) {
        if (st == HTTP_REQUEST_ENTITY_TOO_LARGE)
            return respond(g, MPP_P_TOO_LARGE, "request body too large to be bound to a payment", 0);
        return st;
    }

    /* Payment-Authorization leaves Authorization to a login (Require payment);
     * a Payment credential in Authorization comes first */
    auth = apr_table_get(r->headers_in, "Authorization");
    crc = auth ? mpp_credential_parse(r->pool, auth, &cred, &err) : MPP_CRED_NONE;
    if (crc == MPP_CRED_NONE && (auth = apr_table_get(r->headers_in, "Payment-Authorization")))
        crc = mpp_credential_parse(r->pool, auth, &cred, &err);
    switch (crc) {
    case MPP_CRED_NONE:
        if (mpp_rate_limited(r, d)) {
            apr_table_setn(r->err_headers_out, "Retry-After", "60");
            return respond(g, MPP_P_TOO_MANY, "too many challenges for this address; retry in a minute", 0);
        }
        return respond(g, MPP_P_PAYMENT_REQUIRED, "Payment is required.", 1);
    case MPP_CRED_MULTIPLE:
        return respond(g, MPP_P_BAD_REQUEST, "send exactly one Authorization: Payment credential", 1);
    case MPP_CRED_MALFORMED:
        return respond(g, MPP_P_MALFORMED_CREDENTIAL, err, 1);
    case MPP_CRED_OK:
        break;
    }

    exps = apr_pcalloc(r->pool, sizeof(*exps) * (apr_size_t)g->offers->nelts);
    for (int i = 0; i < g->offers->nelts; i++) {
        gate_offer_t *go = &APR_ARRAY_IDX(g->offers, i, gate_offer_t);
        exps[i].realm = g->realm;
        exps[i].method = offer_method(go);
        exps[i].intent = go->offer->intent;
        exps[i].request = go->request;
        exps[i].scope = g->scope;
        exps[i].body_sha256 = g->has_body ? g->body_sha : NULL;
    }
    idx = mpp_verify_pick(r->pool, &cred.challenge, exps, g->offers->nelts);
    if (idx < 0)
        return respond(g, MPP_P_METHOD_UNSUPPORTED,
                       apr_psprintf(r->pool, "this resource does not accept %s/%s payments",
                                    cred.challenge.method, cred.challenge.intent), 1);
    g->offer = APR_ARRAY_IDX(g->offers, idx, gate_offer_t).offer;
    t = mpp_verify_echo(r->pool, mpp_server_keys(r->server), &cred.challenge, &exps[idx],
                        apr_time_now(), &detail);
    if (g->check_only && (t == MPP_OK || t == MPP_P_PAYMENT_EXPIRED))
        return OK;
    /* an expired challenge may still have a settlement in flight to collect */
    if (t == MPP_P_PAYMENT_EXPIRED)
        return pay(g, &APR_ARRAY_IDX(g->offers, idx, gate_offer_t), &cred, 1);
    if (t != MPP_OK)
        return respond(g, t, detail, 1);
    return pay(g, &APR_ARRAY_IDX(g->offers, idx, gate_offer_t), &cred, 0);
}

static void gate_init(gate_t *g, request_rec *r)
{
    g->r = r;
    g->sc = ap_get_module_config(r->server->module_config, &mpp_module);
    g->realm = g->sc->realm ? g->sc->realm : r->server->server_hostname;
    if (!g->realm) g->realm = "MPP Payment";
}

/* Move the headers the gate put on an answer (challenges, Cache-Control,
 * Retry-After) out of err_headers_out, into a table of their own. */
static apr_table_t *take_gate_headers(request_rec *r)
{
    const apr_array_header_t *h = apr_table_elts(r->err_headers_out);
    apr_table_t *keep = apr_table_make(r->pool, h->nelts), *taken = apr_table_make(r->pool, 4);
    for (int i = 0; i < h->nelts; i++) {
        const apr_table_entry_t *e = &APR_ARRAY_IDX(h, i, apr_table_entry_t);
        if (!e->key) continue;
        if ((!strcasecmp(e->key, "WWW-Authenticate") && !strncasecmp(e->val, "Payment", 7))
            || !strcasecmp(e->key, "PAYMENT-REQUIRED") || !strcasecmp(e->key, "X-Vlexivo-Protocol")
            || !strcasecmp(e->key, "Retry-After") || !strcasecmp(e->key, "Cache-Control"))
            apr_table_addn(taken, e->key, e->val);
        else
            apr_table_addn(keep, e->key, e->val);
    }
    r->err_headers_out = keep;
    return taken;
}

/* MPPMode shadow: the answer the gate would have sent is logged, its
 * challenges stay on the answer, and the request is served. */
static int shadowed(gate_t *g, mpp_dir_cfg_t *d, int st)
{
    request_rec *r = g->r;
    if (st == OK || st == DECLINED || d->shadow != 1)
        return st;
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, MPPLOGNO(01301) "shadow mode: would answer %d (%s) for %s",
                  st, apr_table_get(r->subprocess_env, "MPP_PROBLEM") ? apr_table_get(r->subprocess_env, "MPP_PROBLEM") : "-",
                  ap_escape_logitem(r->pool, r->uri));
    apr_table_unset(r->notes, NOTE_PROBLEM);
    apr_table_unset(r->notes, NOTE_PAYWALL);
    apr_table_unset(r->err_headers_out, "Cache-Control");
    apr_table_unset(r->err_headers_out, "Retry-After");
    apr_table_setn(r->subprocess_env, "MPP_MODE", "shadow");
    return OK;
}

int mpp_gate_access(request_rec *r)
{
    mpp_dir_cfg_t *d = ap_get_module_config(r->per_dir_config, &mpp_module);
    gate_t g = { 0 };
    apr_array_header_t *names = d->offers;

    /* already paid, or the unlock handler looking up the place it sells */
    if (already_paid(r) || (r->main && r->main->handler && !strcmp(r->main->handler, "mpp-unlock")))
        return DECLINED;
    gate_init(&g, r);
    if (d->service) {
        /* a proxied service: its routes decide, and nothing else is forwarded */
        const mpp_route_t *route;
        const char *why;
        int st = mpp_service_route(r, d, &route, &why);
        if (st != OK || !route)
            return respond(&g, MPP_P_NOT_FOUND, apr_pstrcat(r->pool, "not forwarded: ", why, NULL), 0);
        if (route->free) {
            mpp_outcome(r, MPP_OUT_FREE, 0, NULL);
            return DECLINED;
        }
        names = route->offers;
        g.scope = apr_pstrcat(r->pool, d->service, " ", route->pat.method ? route->pat.method : "*",
                              " ", route->pat.pattern, NULL);
        g.settle_after = route->settle_after != -1 ? route->settle_after : d->settle_after == 1;
        g.rid = g.scope;
    }
    else {
        if (!d->charge_set || !d->offers || d->offers->nelts == 0) {
            if (!r->main) mpp_outcome(r, MPP_OUT_FREE, 0, NULL);
            return DECLINED;
        }
        if (r->method_number == M_OPTIONS) {
            /* free, but answered here: no handler (PHP, CGI, proxy) runs for it */
            apr_table_setn(r->notes, "mpp-options", "1");
            mpp_outcome(r, MPP_OUT_FREE, 0, NULL);
            return DECLINED;
        }
        /* HEAD is priced as GET: a credential for one serves the other */
        g.scope = apr_pstrcat(r->pool, r->header_only ? "GET" : r->method, " ", r->uri, NULL);
        g.rid = r->uri;
    }
    return shadowed(&g, d, decide(&g, d, names));
}

/* ---- Require payment ---- */

#define REQUIRE_OFFERS "mpp-require-offers"        /* pool userdata: offers of a provisional grant */
#define REQUIRE_HEADERS "mpp-require-headers"      /* pool userdata: the refused Require's challenges */

static int require_place(gate_t *g, request_rec *r, mpp_dir_cfg_t *d)
{
    gate_init(g, r);
    if (d->service) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MPPLOGNO(01302) "Require payment (%s): not for an "
                      "MPPService location; its MPPRoute lines set the prices", d->where ? d->where : r->uri);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    g->scope = apr_pstrcat(r->pool, r->header_only ? "GET" : r->method, " ", r->uri, NULL);
    g->rid = r->uri;
    return OK;
}

int mpp_gate_require(request_rec *r, apr_array_header_t *offers)
{
    mpp_dir_cfg_t *d = ap_get_module_config(r->per_dir_config, &mpp_module);
    gate_t g = { 0 };
    int st;

    if (already_paid(r) || r->method_number == M_OPTIONS)
        return OK;
    if ((st = require_place(&g, r, d)) != OK)
        return st;
    g.check_only = 1;
    st = decide(&g, d, offers);
    if (st == OK) {
        if (!apr_table_get(r->notes, NOTE_PAID))   /* a credential: paid for in fixups */
            apr_pool_userdata_setn(offers, REQUIRE_OFFERS, NULL, r->pool);
        apr_table_unset(r->notes, NOTE_REQUIRE_DENIED);
        apr_pool_userdata_setn(NULL, REQUIRE_HEADERS, NULL, r->pool);
        return OK;
    }
    if (shadowed(&g, d, st) == OK)
        return OK;
    /* authz may still grant by another Require: the answer is kept aside
     * for when it does not (mpp_insert_error_filters) */
    apr_table_unset(r->notes, NOTE_PROBLEM);
    apr_pool_userdata_setn(take_gate_headers(r), REQUIRE_HEADERS, NULL, r->pool);
    if (!r->user && ap_auth_type(r)) {
        /* a login comes first: its 401 goes out, carrying the payment challenges too */
        apr_table_unset(r->notes, NOTE_REQUIRE_DENIED);
        return st;
    }
    apr_table_setn(r->notes, NOTE_REQUIRE_DENIED, apr_itoa(r->pool, st));
    {
        /* mod_authz_core answers 401 or 403; the body is ours (or the admin's 402 document) */
        const char *body = g.body;
        if (!body && (body = ap_response_code_string(r, ap_index_of_response(HTTP_PAYMENT_REQUIRED))) && *body == '"')
            body++;
        if (body) {
            ap_custom_response(r, HTTP_FORBIDDEN, body);
            ap_custom_response(r, HTTP_UNAUTHORIZED, body);
        }
    }
    return st;
}

/* After every Require said yes: take the payment a provisional grant named. */
int mpp_gate_fixups(request_rec *r)
{
    apr_array_header_t *offers = NULL;
    mpp_dir_cfg_t *d;
    gate_t g = { 0 };
    int st;

    apr_table_t *refused = NULL;
    apr_pool_userdata_get((void **)&refused, REQUIRE_HEADERS, r->pool);
    if (refused) {
        /* another Require granted access: the answer kept aside is not needed */
        apr_pool_userdata_setn(NULL, REQUIRE_HEADERS, NULL, r->pool);
        apr_table_unset(r->notes, NOTE_REQUIRE_DENIED);
        if (!apr_table_get(r->notes, NOTE_PAID)) mpp_outcome(r, MPP_OUT_FREE, 0, NULL);
    }
    apr_pool_userdata_get((void **)&offers, REQUIRE_OFFERS, r->pool);
    if (!offers || already_paid(r) || apr_table_get(r->notes, NOTE_PAID))
        return DECLINED;
    apr_pool_userdata_setn(NULL, REQUIRE_OFFERS, NULL, r->pool);
    d = ap_get_module_config(r->per_dir_config, &mpp_module);
    if ((st = require_place(&g, r, d)) != OK)
        return st;
    st = shadowed(&g, d, decide(&g, d, offers));
    return st == OK ? DECLINED : st;
}

/* ---- output filters ---- */

/* Error pages from ap_die are text/html; ours are problem+json. */
static apr_status_t problem_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    if (apr_table_get(r->notes, NOTE_PAYWALL))
        ap_set_content_type(r, "text/html; charset=utf-8");
    else if (apr_table_get(r->notes, NOTE_PROBLEM) || (r->prev && apr_table_get(r->prev->notes, NOTE_PROBLEM)))
        ap_set_content_type(r, "application/problem+json");
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

/* Payment-Receipt and Cache-Control: private, on 2xx answers only. */
static apr_status_t receipt_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    const char *receipt;
    deferred_t *df = ap_get_module_config(r->request_config, &mpp_module);
    if (f->ctx) {   /* the answer was replaced: nothing of the upstream's goes out */
        apr_brigade_cleanup(bb);
        return APR_SUCCESS;
    }
    if (df && !df->done) {
        mpp_problem_t t = settle_deferred(r, df);
        if (t != MPP_OK) {
            replace_answer(r, f, bb, t, df->pay.detail);
            f->ctx = r;   /* drop whatever else the upstream sends */
            return ap_pass_brigade(f->next, bb);
        }
    }
    receipt = apr_table_get(r->notes, NOTE_RECEIPT);
    if (receipt && r->status >= 200 && r->status < 300) {
        const char *cc = apr_table_get(r->headers_out, "Cache-Control");
        const char *grant = apr_table_get(r->notes, "mpp-grant");
        apr_table_setn(r->headers_out, "Payment-Receipt", receipt);
        if (grant) {
            mpp_dir_cfg_t *d = ap_get_module_config(r->per_dir_config, &mpp_module);
            apr_table_setn(r->headers_out, "X-Entitlement", apr_pstrcat(r->pool, "Bearer ", grant, NULL));
            if (d->grant_cookie == 1) {
                const char *path = d->where && d->where[0] == '/' && !strncmp(r->uri, d->where, strlen(d->where))
                    ? d->where : "/";
                /* Secure, unless this is plain HTTP on loopback (a local test) */
                int secure = !strcmp(ap_http_scheme(r), "https") || !is_loopback(r->useragent_ip);
                apr_table_addn(r->headers_out, "Set-Cookie",
                               apr_psprintf(r->pool, "mpp_entitlement=%s; Path=%s; Max-Age=%d; HttpOnly; SameSite=Lax%s",
                                            grant, path, d->grant_secs, secure ? "; Secure" : ""));
            }
        }
        if (!cc)
            apr_table_setn(r->headers_out, "Cache-Control", "private");
        else if (!ap_find_token(r->pool, cc, "private"))
            apr_table_setn(r->headers_out, "Cache-Control", apr_pstrcat(r->pool, cc, ", private", NULL));
    }
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

/* Require payment was refused and mod_authz_core answers 401 or 403: when
 * payment is what is missing, the gate's answer (402 and challenges) goes
 * out instead, without the login challenge authz added. */
static void require_answer(request_rec *r, request_rec *at)
{
    const char *deny = apr_table_get(at->notes, NOTE_REQUIRE_DENIED);
    apr_table_t *gate = NULL;
    apr_pool_userdata_get((void **)&gate, REQUIRE_HEADERS, at->pool);
    if (!gate || (r->status != HTTP_UNAUTHORIZED && r->status != HTTP_FORBIDDEN))
        return;
    if (deny) {
        apr_table_unset(r->err_headers_out, "WWW-Authenticate");   /* no login challenge: the login passed */
        r->err_headers_out = apr_table_overlay(r->pool, r->err_headers_out, gate);
        r->status = (int)apr_atoi64(deny);
        r->status_line = NULL;
        apr_table_setn(r->notes, NOTE_PROBLEM, "1");
        if (apr_table_get(at->notes, NOTE_PAYWALL)) apr_table_setn(r->notes, NOTE_PAYWALL, "1");
    }
    else if (r->status == HTTP_UNAUTHORIZED) {
        /* a login is asked for; paying is the other way in, where it is one */
        const apr_array_header_t *h = apr_table_elts(gate);
        for (int i = 0; i < h->nelts; i++) {
            const apr_table_entry_t *e = &APR_ARRAY_IDX(h, i, apr_table_entry_t);
            if (!strcasecmp(e->key, "WWW-Authenticate"))
                apr_table_addn(r->err_headers_out, e->key, e->val);
        }
    }
}

void mpp_insert_filters(request_rec *r)
{
    /* the admin's ErrorDocument 402 page, reached by a redirect from authz's 401/403 */
    if (r->prev && apr_table_get(r->prev->notes, NOTE_REQUIRE_DENIED))
        require_answer(r, r->prev);
    const char *receipt = apr_table_get(r->notes, NOTE_RECEIPT);
    /* after an internal redirect the payment was taken by an earlier request */
    for (request_rec *q = r->prev; !receipt && q; q = q->prev)
        if ((receipt = apr_table_get(q->notes, NOTE_RECEIPT)))
            apr_table_setn(r->notes, NOTE_RECEIPT, receipt);
    if (receipt || ap_get_module_config(r->request_config, &mpp_module))
        ap_add_output_filter(RECEIPT_FILTER, NULL, r, r->connection);
}

void mpp_insert_error_filters(request_rec *r)
{
    require_answer(r, r);
    if (apr_table_get(r->notes, NOTE_PROBLEM))
        ap_add_output_filter(ERROR_FILTER, NULL, r, r->connection);
}

/* OPTIONS at a charged place: 204 with Allow, before any content handler. */
int mpp_options_handler(request_rec *r)
{
    if (!apr_table_get(r->notes, "mpp-options") || r->method_number != M_OPTIONS)
        return DECLINED;
    apr_table_setn(r->headers_out, "Allow", "OPTIONS, GET, HEAD, POST");
    r->status = HTTP_NO_CONTENT;
    return OK;
}

void mpp_register_filters(void)
{
    ap_register_output_filter(ERROR_FILTER, problem_filter, NULL, AP_FTYPE_CONTENT_SET);
    /* after mod_headers (CONTENT_SET) so Cache-Control it sets still gets private */
    ap_register_output_filter(RECEIPT_FILTER, receipt_filter, NULL, AP_FTYPE_CONTENT_SET + 5);
    mpp_body_register();
}
