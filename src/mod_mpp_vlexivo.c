/* Vlexivo compatibility: the JSON challenge beside the MPP headers on a 402,
 * and the unlock handler that turns a confirmed on-chain payment for an
 * issued nonce into an entitlement token. Nonces are HMAC-bound (nothing is
 * stored until one is spent), spent once, and a transaction unlocks once. */
#include "mod_mpp.h"

#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"

#include <apr_strings.h>

#include "mpp_addr.h"
#include "mpp_args.h"
#include "mpp_b64.h"
#include "mpp_crypto.h"
#include "mpp_evm.h"
#include "mpp_json.h"
#include "mpp_rpc.h"
#include "mpp_store.h"
#include "mpp_time.h"
#include "mpp_u256.h"

APLOG_USE_MODULE(mpp);

#define PROTOCOL "vlexivo/1.0"
#define NONCE_TTL 900              /* seconds a nonce may be redeemed */
#define MAX_UNLOCK_BODY 16384

const char *mpp_set_compat(cmd_parms *cmd, void *dv, const char *args)
{
    mpp_dir_cfg_t *d = dv;
    const char *e;
    apr_array_header_t *w = mpp_args_split(cmd->pool, args, &e);
    if (!w) return apr_psprintf(cmd->pool, "MPPCompat: %s", e);
    if (w->nelts < 1 || strcmp(APR_ARRAY_IDX(w, 0, const char *), "vlexivo"))
        return "MPPCompat: the only compatibility mode is vlexivo";
    d->vlexivo = 1;
    d->unlock_url = "/v1/unlock";
    d->publisher = NULL;
    for (int i = 1; i < w->nelts; i++) {
        const char *k, *v;
        if (mpp_args_kv(cmd->pool, APR_ARRAY_IDX(w, i, const char *), &k, &v))
            return apr_psprintf(cmd->pool, "MPPCompat: '%s' is not key=value", APR_ARRAY_IDX(w, i, const char *));
        if (!strcmp(k, "unlock")) {
            if (v[0] != '/' || strpbrk(v, " \t\r\n\"")) return apr_psprintf(cmd->pool, "MPPCompat: unlock=%s must be a local path", v);
            d->unlock_url = v;
        }
        else if (!strcmp(k, "publisher")) d->publisher = v;
        else return apr_psprintf(cmd->pool, "MPPCompat: unknown parameter '%s'", k);
    }
    return NULL;
}

const char *mpp_set_rate_limit(cmd_parms *cmd, void *dv, const char *v)
{
    mpp_dir_cfg_t *d = dv;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || n < 0 || n > 1000000) return apr_psprintf(cmd->pool, "MPPRateLimit %s: 0..1000000 per minute", v);
    d->rate_limit = (int)n;
    return NULL;
}

int mpp_rate_limited(request_rec *r, mpp_dir_cfg_t *d)
{
    mpp_store_t *st = mpp_the_store();
    apr_int64_t minute = apr_time_sec(r->request_time) / 60;
    apr_uint64_t n = 0;
    mpp_store_status_t ss;
    if (d->rate_limit <= 0 || !st) return 0;
    /* counters must never crowd out payments: past half the store, stop counting */
    if (mpp_store_status(st, &ss) != MPP_STORE_OK || ss.used * 2 > ss.capacity) return 0;
    /* each place (or unlock endpoint) counts for itself */
    if (mpp_store_incr(st, apr_psprintf(r->pool, "rl:%s:%s:%" APR_INT64_T_FMT, d->where ? d->where : "-",
                                        r->useragent_ip, minute),
                       apr_time_from_sec((minute + 2) * 60), &n) != MPP_STORE_OK)
        return 1;   /* cannot count: refuse rather than let a flood through */
    return n > (apr_uint64_t)d->rate_limit;
}

/* nonce = "vlx1." b64url(JCS{e,n,r}) "." b64url(HMAC(key, "vlexivo|" payload)) */
static const char *nonce_mac(apr_pool_t *p, const unsigned char *key, apr_size_t keylen, const char *payload)
{
    unsigned char mac[32];
    const char *in = apr_pstrcat(p, "vlexivo|", payload, NULL);
    mpp_hmac_sha256(key, keylen, (const unsigned char *)in, strlen(in), mac);
    return mpp_b64url_encode(p, mac, sizeof(mac));
}

static const char *make_nonce(request_rec *r, const char *rid, apr_time_t exp)
{
    const mpp_keys_t *keys = mpp_server_keys(r->server);
    json_object *o = mpp_json_pool_own(r->pool, json_object_new_object());
    unsigned char rnd[12];
    const char *payload;
    if (mpp_random(rnd, sizeof(rnd))) return NULL;
    json_object_object_add(o, "e", json_object_new_int64(apr_time_sec(exp)));
    json_object_object_add(o, "n", json_object_new_string(mpp_b64url_encode(r->pool, rnd, sizeof(rnd))));
    json_object_object_add(o, "r", json_object_new_string(rid));
    payload = mpp_jcs_b64url(r->pool, o);
    return apr_pstrcat(r->pool, "vlx1.", payload, ".", nonce_mac(r->pool, keys->key, keys->keylen, payload), NULL);
}

const char *mpp_vlexivo_challenge(request_rec *r, mpp_dir_cfg_t *d, const char *rid, const char *request_b64,
                                  const char *scope_type)
{
    const char *err, *nonce;
    json_object *req = request_b64 ? mpp_json_from_b64url(r->pool, request_b64, 65536, 8, &err) : NULL;
    json_object *ch, *price, *md, *v;
    apr_time_t exp = r->request_time + apr_time_from_sec(NONCE_TTL);
    if (d->vlexivo != 1 || !req || !(nonce = make_nonce(r, rid, exp))) return NULL;
    ch = mpp_json_pool_own(r->pool, json_object_new_object());
    price = json_object_new_object();
    json_object_object_add(price, "amount", json_object_new_string(mpp_json_str(req, "amount")));
    json_object_object_add(price, "currency", json_object_new_string(mpp_json_str(req, "currency")));
    json_object_object_add(price, "recipient", json_object_new_string(mpp_json_str(req, "recipient")));
    if (json_object_object_get_ex(req, "methodDetails", &md) && json_object_object_get_ex(md, "chainId", &v))
        json_object_object_add(price, "network", json_object_new_string(
            apr_psprintf(r->pool, "eip155:%" APR_INT64_T_FMT, (apr_int64_t)json_object_get_int64(v))));
    if (md && json_object_object_get_ex(md, "decimals", &v))
        json_object_object_add(price, "decimals", json_object_new_int(json_object_get_int(v)));
    json_object_object_add(ch, "nonce", json_object_new_string(nonce));
    json_object_object_add(ch, "resource_id", json_object_new_string(rid));
    json_object_object_add(ch, "scope_type", json_object_new_string(scope_type));
    json_object_object_add(ch, "price", price);
    json_object_object_add(ch, "unlock_url", json_object_new_string(d->unlock_url ? d->unlock_url : "/v1/unlock"));
    json_object_object_add(ch, "expires_at", json_object_new_string(mpp_time_format(r->pool, exp)));
    json_object_object_add(ch, "protocol", json_object_new_string(PROTOCOL));
    json_object_object_add(ch, "publisher_id", json_object_new_string(
        d->publisher ? d->publisher : r->server->server_hostname ? r->server->server_hostname : "mod_mpp"));
    return mpp_jcs(r->pool, ch);
}

/* ---- the unlock handler ---- */

static int reply(request_rec *r, int status, const char *code, const char *message, json_object *ok)
{
    json_object *o = ok;
    const char *txt;
    if (!o) {
        json_object *e = json_object_new_object();
        o = mpp_json_pool_own(r->pool, json_object_new_object());
        json_object_object_add(o, "success", json_object_new_boolean(0));
        json_object_object_add(e, "code", json_object_new_string(code));
        json_object_object_add(e, "message", json_object_new_string(message));
        json_object_object_add(o, "error", e);
        json_object_object_add(o, "status", json_object_new_int(status));
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MPPLOGNO(00900) "unlock %d %s: %s", status, code,
                      ap_escape_logitem(r->pool, message));
    }
    txt = mpp_jcs(r->pool, o);
    r->status = status;
    ap_set_content_type(r, "application/json");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "X-Vlexivo-Protocol", PROTOCOL);
    ap_set_content_length(r, (apr_off_t)strlen(txt));
    ap_rputs(txt, r);
    return OK;
}

static int read_body(request_rec *r, char **out, apr_size_t *len)
{
    apr_size_t cap = MAX_UNLOCK_BODY + 1, n = 0;
    char *buf = apr_palloc(r->pool, cap);
    if (ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK) != OK) return -1;
    if (ap_should_client_block(r)) {
        long got;
        while ((got = ap_get_client_block(r, buf + n, cap - n)) > 0) {
            n += (apr_size_t)got;
            if (n >= cap) return -1;
        }
        if (got < 0) return -1;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* The offer at the place the nonce names, for the currency the buyer paid in. */
static const mpp_offer_t *place_offer(request_rec *r, const char *rid, const char *currency,
                                      mpp_dir_cfg_t **dout, int *no_currency)
{
    request_rec *sub = ap_sub_req_lookup_uri(rid, r, NULL);
    mpp_srv_cfg_t *c = ap_get_module_config(r->server->module_config, &mpp_module);
    mpp_dir_cfg_t *d;
    unsigned char want[20], have[20];
    *no_currency = 0;
    if (!sub) return NULL;
    d = ap_get_module_config(sub->per_dir_config, &mpp_module);
    *dout = d;
    if (!d->charge_set || !d->offers) return NULL;
    for (int i = 0; i < d->offers->nelts; i++) {
        const mpp_offer_t *o = apr_hash_get(c->offers, APR_ARRAY_IDX(d->offers, i, const char *), APR_HASH_KEY_STRING);
        if (!o || !o->asset || o->asset->network->kind != MPP_NET_EVM) continue;
        if (!currency || !strcasecmp(currency, o->asset->name)
            || (!mpp_evm_address_parse(currency, want) && !mpp_evm_address_parse(o->asset->address, have)
                && !memcmp(want, have, 20)))
            return o;
    }
    *no_currency = 1;
    return NULL;
}

int mpp_unlock_handler(request_rec *r)
{
    mpp_dir_cfg_t *hd = ap_get_module_config(r->per_dir_config, &mpp_module), *d = NULL;
    char *body;
    apr_size_t blen;
    const char *err, *nonce, *txh, *buyer, *currency, *payload, *mac, *rid, *dot;
    json_object *doc, *proof, *np, *v, *rcpt = NULL, *res, *claims;
    const mpp_offer_t *o;
    const mpp_keys_t *keys = mpp_server_keys(r->server);
    unsigned char hash[32], token[20], recipient[20], amount[32], buyer_b[20];
    mpp_store_t *st = mpp_the_store();
    const mpp_jwt_keyset_t *ks;
    apr_time_t nexp, tok_exp;
    int no_currency, scope_session;
    long code;
    mpp_rpc_rc_t rc;
    const char *nkey, *tkey, *tok, *scope_type, *eff_amount, *eff_recipient;
    mpp_srv_cfg_t *c = ap_get_module_config(r->server->module_config, &mpp_module);

    if (!r->handler || strcmp(r->handler, "mpp-unlock")) return DECLINED;
    if (r->method_number != M_POST) {
        apr_table_setn(r->headers_out, "Allow", "POST");
        return reply(r, 405, "VALIDATION_ERROR", "use POST", NULL);
    }
    if (mpp_rate_limited(r, hd)) {
        apr_table_setn(r->err_headers_out, "Retry-After", "60");
        return reply(r, 429, "RATE_LIMITED", "too many unlock requests from this address", NULL);
    }
    if (read_body(r, &body, &blen)) return reply(r, 422, "VALIDATION_ERROR", "the body is missing or too large", NULL);
    if (!(doc = mpp_json_parse(r->pool, body, blen, MAX_UNLOCK_BODY, 8, &err)) || !json_object_is_type(doc, json_type_object)
        || !json_object_object_get_ex(doc, "proof", &proof) || !json_object_is_type(proof, json_type_object))
        return reply(r, 422, "VALIDATION_ERROR", "expected {proof:{tx_hash, buyer_wallet, nonce}, currency}", NULL);
    nonce = mpp_json_str(proof, "nonce");
    txh = mpp_json_str(proof, "tx_hash");
    buyer = mpp_json_str(proof, "buyer_wallet");
    currency = mpp_json_str(doc, "currency");
    if (!nonce || !txh || mpp_hex_decode(txh, hash, 32) || (buyer && mpp_evm_address_parse(buyer, buyer_b)))
        return reply(r, 422, "VALIDATION_ERROR", "proof needs nonce, tx_hash (0x + 64 hex) and a valid buyer_wallet", NULL);
    /* the nonce must be ours: HMAC under the current or previous key */
    if (strncmp(nonce, "vlx1.", 5) || !(dot = strchr(nonce + 5, '.')) || strlen(nonce) > 1024)
        return reply(r, 404, "NONCE_NOT_FOUND", "unknown nonce", NULL);
    payload = apr_pstrmemdup(r->pool, nonce + 5, (apr_size_t)(dot - nonce - 5));
    mac = dot + 1;
    if (!mpp_ct_streq(mac, nonce_mac(r->pool, keys->key, keys->keylen, payload))
        && !(keys->prev_key && mpp_ct_streq(mac, nonce_mac(r->pool, keys->prev_key, keys->prev_keylen, payload))))
        return reply(r, 404, "NONCE_NOT_FOUND", "unknown nonce", NULL);
    if (!(np = mpp_json_from_b64url(r->pool, payload, 2048, 2, &err)) || !(rid = mpp_json_str(np, "r"))
        || !json_object_object_get_ex(np, "e", &v) || !json_object_is_type(v, json_type_int))
        return reply(r, 404, "NONCE_NOT_FOUND", "unknown nonce", NULL);
    nexp = apr_time_from_sec(json_object_get_int64(v));
    if (nexp < apr_time_now()) return reply(r, 410, "NONCE_EXPIRED", "the nonce has expired", NULL);
    if (!st) return reply(r, 503, "BLOCKCHAIN_VERIFICATION_ERROR", "the payment store is unavailable", NULL);
    nkey = apr_pstrcat(r->pool, "vlx:", mac, NULL);
    if (mpp_store_get(st, nkey, NULL, NULL, NULL) == MPP_STORE_OK)
        return reply(r, 409, "NONCE_ALREADY_USED", "the nonce was already redeemed", NULL);
    if (!(o = place_offer(r, rid, currency, &d, &no_currency)))
        return no_currency ? reply(r, 402, "NO_CURRENCY_MATCH", "the resource is not priced in that currency", NULL)
                           : reply(r, 404, "NONCE_NOT_FOUND", "the nonce's resource is not for sale here", NULL);
    /* the terms the place advertises: the tenant's price and payee when set */
    {
        char *tamount = NULL;
        const char *e2;
        if (d->price && (e2 = mpp_offer_tenant_amount(r->pool, o, d->price, &tamount))) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MPPLOGNO(00901) "MPPPrice %s (%s): %s", d->price,
                          d->where ? d->where : r->uri, e2);
            return reply(r, 500, "VALIDATION_ERROR", "the resource's price is misconfigured", NULL);
        }
        eff_amount = tamount ? tamount : o->amount;
        eff_recipient = d->recipient && o->tenant_recipient ? d->recipient : o->recipient;
    }
    /* who will sign, before anything is spent */
    scope_session = d->grant_secs > 0;
    ks = scope_session ? mpp_grant_keyset(r->pool, c, d->grant_key)
                       : d->ent_key ? apr_hash_get(c->jwt_keys, d->ent_key, APR_HASH_KEY_STRING) : NULL;
    if (!ks || !mpp_jwt_can_sign(ks))
        return reply(r, 500, "VALIDATION_ERROR", "the resource has no key that can sign entitlements", NULL);
    tkey = apr_psprintf(r->pool, "evm:tx:%" APR_UINT64_T_FMT ":%s", o->asset->network->chain_id,
                        mpp_hex_encode(r->pool, hash, 32) + 2);
    if (mpp_store_get(st, tkey, NULL, NULL, NULL) == MPP_STORE_OK)
        return reply(r, 409, "NONCE_ALREADY_USED", "the transaction already unlocked something", NULL);
    /* the chain: a confirmed Transfer of the token to the recipient for the price */
    mpp_evm_address_parse(o->asset->address, token);
    mpp_evm_address_parse(eff_recipient, recipient);
    mpp_u256_from_dec(eff_amount, amount);
    res = json_object_new_array();
    /* the canonical form, whatever case the client wrote */
    json_object_array_add(res, json_object_new_string(mpp_hex_encode(r->pool, hash, 32)));
    rc = mpp_rpc_call(r->pool, &o->asset->network->rpc, "eth_getTransactionReceipt", res, &rcpt, &code, &err);
    if (rc != MPP_RPC_OK)
        return reply(r, 502, "BLOCKCHAIN_VERIFICATION_ERROR", "the chain node did not answer", NULL);
    if (!rcpt) return reply(r, 404, "TX_NOT_FOUND", "the transaction is not on chain (yet)", NULL);
    if (!mpp_json_str(rcpt, "status") || strcmp(mpp_json_str(rcpt, "status"), "0x1"))
        return reply(r, 402, "TX_FAILED", "the transaction reverted", NULL);
    /* the relayer's settlements pay for what they settled, never for an unlock */
    if (o->asset->network->has_key && mpp_evm_receipt_sender_is(rcpt, o->asset->network->key_addr))
        return reply(r, 402, "WRONG_RECIPIENT", "the transaction is this server's own settlement", NULL);
    {
        mpp_evm_transfer_t paid = mpp_evm_receipt_transfer(rcpt, token, recipient, buyer ? buyer_b : NULL, amount);
        unsigned char bn[32], head[32];
        apr_uint64_t b, h;
        json_object *bno = NULL;
        if (paid == MPP_EVM_NO_TRANSFER)
            return reply(r, 402, "WRONG_RECIPIENT", "no transfer of the token to the recipient", NULL);
        if (paid == MPP_EVM_TRANSFER_BELOW) return reply(r, 402, "UNDERPAYMENT", "the transfer is below the price", NULL);
        if (o->asset->network->confirmations > 1) {
            if (mpp_u256_from_quantity(mpp_json_str(rcpt, "blockNumber") ? mpp_json_str(rcpt, "blockNumber") : "", bn)
                || mpp_u256_to_u64(bn, &b)
                || mpp_rpc_call(r->pool, &o->asset->network->rpc, "eth_blockNumber", NULL, &bno, &code, &err) != MPP_RPC_OK
                || !bno || mpp_u256_from_quantity(json_object_get_string(bno), head) || mpp_u256_to_u64(head, &h))
                return reply(r, 502, "BLOCKCHAIN_VERIFICATION_ERROR", "cannot count confirmations", NULL);
            if (h < b || h - b + 1 < (apr_uint64_t)o->asset->network->confirmations)
                return reply(r, 404, "TX_NOT_FOUND", "the transaction is not confirmed yet", NULL);
        }
    }
    /* spend the nonce and the transaction, atomically each, durably */
    switch (mpp_store_add(st, nkey, NULL, 0, nexp + apr_time_from_sec(60), 1)) {
    case MPP_STORE_OK: break;
    case MPP_STORE_EXISTS: return reply(r, 409, "NONCE_ALREADY_USED", "the nonce was already redeemed", NULL);
    default: return reply(r, 503, "BLOCKCHAIN_VERIFICATION_ERROR", "the payment store is unavailable", NULL);
    }
    switch (mpp_store_add(st, tkey, NULL, 0, 0, 1)) {
    case MPP_STORE_OK: break;
    case MPP_STORE_EXISTS:
        mpp_store_remove(st, nkey);
        return reply(r, 409, "NONCE_ALREADY_USED", "the transaction already unlocked something", NULL);
    default:
        mpp_store_remove(st, nkey);
        return reply(r, 503, "BLOCKCHAIN_VERIFICATION_ERROR", "the payment store is unavailable", NULL);
    }
    /* the entitlement: the place's grant key (session), else its entitlement key */
    scope_type = scope_session ? "per-session" : (d->ent_scope ? d->ent_scope : "per-article");
    tok_exp = apr_time_now() + apr_time_from_sec(scope_session ? d->grant_secs : 3600);
    claims = mpp_json_pool_own(r->pool, json_object_new_object());
    {
        const char *realm = c->realm ? c->realm : r->server->server_hostname;
        unsigned char eid[16];
        mpp_random(eid, sizeof(eid));
        json_object_object_add(claims, "iss", json_object_new_string(ks->iss ? ks->iss : realm));
        json_object_object_add(claims, "sub", json_object_new_string(buyer ? buyer : "anonymous"));
        json_object_object_add(claims, "aud", json_object_new_string(ks->aud ? ks->aud : realm));
        json_object_object_add(claims, "iat", json_object_new_int64(apr_time_sec(apr_time_now())));
        json_object_object_add(claims, "exp", json_object_new_int64(apr_time_sec(tok_exp)));
        json_object_object_add(claims, "eid", json_object_new_string(mpp_b64url_encode(r->pool, eid, sizeof(eid))));
        json_object_object_add(claims, "rid", json_object_new_string(scope_session && d->where ? d->where : rid));
        json_object_object_add(claims, "scp", json_object_new_string(scope_type));
        json_object_object_add(claims, "amt", json_object_new_string(eff_amount));
    }
    if (!(tok = mpp_jwt_sign(r->pool, ks, claims, &err))) {
        /* nothing was handed out: the nonce and the transaction stay usable */
        mpp_store_remove(st, tkey);
        mpp_store_remove(st, nkey);
        return reply(r, 500, "VALIDATION_ERROR", "the entitlement could not be signed", NULL);
    }
    {
        json_object *ok = mpp_json_pool_own(r->pool, json_object_new_object());
        json_object_object_add(ok, "status", json_object_new_string("granted"));
        json_object_object_add(ok, "entitlement_token", json_object_new_string(tok));
        json_object_object_add(ok, "resource_id", json_object_new_string(rid));
        json_object_object_add(ok, "scope_type", json_object_new_string(scope_type));
        json_object_object_add(ok, "expires_at", json_object_new_string(mpp_time_format(r->pool, tok_exp)));
        json_object_object_add(ok, "tx_hash", json_object_new_string(mpp_hex_encode(r->pool, hash, 32)));
        return reply(r, 200, NULL, NULL, ok);
    }
}
