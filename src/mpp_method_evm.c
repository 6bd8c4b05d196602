/* The evm method (charge): EIP-3009 authorizations settled by the server's
 * relayer, client-signed EIP-1559 transactions broadcast by the server, and
 * hashes of transactions the client broadcast. Every check that needs no
 * chain runs first; the chain is asked only for what it alone knows. */
#include "mpp_method.h"
#include "mpp_addr.h"
#include "mpp_amount.h"
#include "mpp_evm.h"
#include "mpp_json.h"
#include "mpp_keccak.h"
#include "mpp_model.h"
#include "mpp_rpc.h"
#include "mpp_secp.h"
#include "mpp_store.h"
#include "mpp_time.h"
#include "mpp_u256.h"

#include <apr_strings.h>
#include <string.h>
#include <unistd.h>


#define POLL_FIRST_USEC 20000   /* receipt polling: soon after the broadcast, */
#define POLL_MAX_USEC 250000    /* then backing off to this */
#define POLL_GATED_USEC 80000   /* from this interval on (a slow chain), ask again only after a new block */
#define POLL_FORCE_USEC 2000000 /* but at least this often */
#define HEAD_FRESH_USEC 100000  /* a head read by one waiting thread serves the process's others */

/* What a request asks for, as bytes. */
typedef struct {
    const mpp_network_t *net;
    const mpp_asset_t *asset;
    unsigned char token[20];
    unsigned char recipient[20];
    unsigned char amount[32];
} terms_t;

static mpp_problem_t fail(mpp_payment_t *pay, mpp_problem_t t, const char *detail)
{
    pay->detail = detail;
    return t;
}

static int terms(mpp_payment_t *pay, terms_t *t)
{
    const char *rcp = mpp_json_str(pay->request, "recipient");
    const char *amt = mpp_json_str(pay->request, "amount");
    t->asset = pay->offer->asset;
    t->net = t->asset->network;
    return mpp_evm_address_parse(t->asset->address, t->token) || !rcp
        || mpp_evm_address_parse(rcp, t->recipient) || !amt || mpp_u256_from_dec(amt, t->amount);
}

static int type_allowed(const mpp_offer_t *o, const char *type)
{
    if (!o->types)
        return !strcmp(type, "authorization") || !strcmp(type, "transaction") || !strcmp(type, "hash");
    for (int i = 0; i < o->types->nelts; i++)
        if (!strcmp(APR_ARRAY_IDX(o->types, i, const char *), type)) return 1;
    return 0;
}

/* source, when present, must be did:pkh:eip155:<chainId>:<address of payer> */
static int source_ok(mpp_payment_t *pay, const terms_t *t, const unsigned char payer[20])
{
    const char *src, *colon;
    unsigned char a[20];
    if (!pay->cred->source) return 1;
    if (!json_object_is_type(pay->cred->source, json_type_string)) return 0;
    src = json_object_get_string(pay->cred->source);
    colon = strrchr(src, ':');
    if (!colon || strncmp(src, "did:pkh:eip155:", 15)) return 0;
    if (strcmp(apr_psprintf(pay->p, "did:pkh:eip155:%" APR_UINT64_T_FMT ":", t->net->chain_id),
               apr_pstrmemdup(pay->p, src, (apr_size_t)(colon - src + 1))))
        return 0;
    return mpp_evm_address_parse(colon + 1, a) == 0 && !memcmp(a, payer, 20);
}

/* ---- JSON-RPC helpers ---- */

static mpp_problem_t rpc(mpp_payment_t *pay, const terms_t *t, const char *method, json_object *params,
                         json_object **result, const char **reply_err)
{
    long code = 0;
    const char *err;
    mpp_rpc_rc_t rc = mpp_rpc_call(pay->p, &t->net->rpc, method, params, result, &code, &err);
    if (rc == MPP_RPC_OK) return MPP_OK;
    if (rc == MPP_RPC_ERROR_REPLY && reply_err) { *reply_err = err; return MPP_P_VERIFICATION_FAILED; }
    pay->detail = apr_psprintf(pay->p, "chain node unavailable (%s)", err);
    return MPP_P_BAD_GATEWAY;
}

static json_object *arr(json_object *a, json_object *b)
{
    json_object *p = json_object_new_array();
    if (a) json_object_array_add(p, a);
    if (b) json_object_array_add(p, b);
    return p;
}

static int quantity(json_object *o, const char *key, unsigned char out[32])
{
    const char *s = key ? mpp_json_str(o, key) : (json_object_is_type(o, json_type_string)
                                                  ? json_object_get_string(o) : NULL);
    return s ? mpp_u256_from_quantity(s, out) : -1;
}

/* Wait (bounded by the network's timeout) for a receipt with enough
 * confirmations, then check it. MPP_OK, a failure, or pending. */
/* The chain's head block number, read at most every HEAD_FRESH_USEC per
 * process: the threads waiting for receipts on a slow chain share it. A
 * cached head is never ahead of the node's. */
static mpp_problem_t head_block(mpp_payment_t *pay, const terms_t *t, apr_uint64_t *h)
{
    mpp_network_t *net = (mpp_network_t *)t->net;   /* its run-time fields only */
    apr_int64_t now = (apr_int64_t)apr_time_now(), at = __atomic_load_n(&net->head_at, __ATOMIC_ACQUIRE);
    unsigned char q[32];
    json_object *bn = NULL;
    mpp_problem_t pr;
    if (at && now >= at && now - at < HEAD_FRESH_USEC) {
        *h = __atomic_load_n(&net->head, __ATOMIC_RELAXED);
        return MPP_OK;
    }
    if ((pr = rpc(pay, t, "eth_blockNumber", NULL, &bn, NULL)) != MPP_OK) return pr;
    if (quantity(bn, NULL, q) || mpp_u256_to_u64(q, h))
        return fail(pay, MPP_P_BAD_GATEWAY, "the chain node sent a bad block number");
    __atomic_store_n(&net->head, *h, __ATOMIC_RELAXED);
    __atomic_store_n(&net->head_at, now, __ATOMIC_RELEASE);
    return MPP_OK;
}

static mpp_problem_t await_receipt(mpp_payment_t *pay, const terms_t *t, const unsigned char hash[32],
                                   const unsigned char *from, int not_found_is_failure)
{
    apr_time_t deadline = apr_time_now() + apr_time_from_sec(t->net->timeout), polled = 0;
    const char *hx = mpp_hex_encode(pay->p, hash, 32);
    useconds_t wait = POLL_FIRST_USEC;
    apr_uint64_t polled_head = 0;
    int gated = 0;
    for (;;) {
        json_object *r = NULL, *bn = NULL;
        mpp_problem_t pr;
        /* a slow chain: a receipt can only appear in a new block, so it is
         * asked for again only once the head moved (a head read before the
         * last poll is never ahead of the block that poll saw) */
        if (wait >= POLL_GATED_USEC) {
            apr_uint64_t h;
            if ((pr = head_block(pay, t, &h)) != MPP_OK) { pay->pending = 1; return pr; }
            if (gated && h == polled_head && apr_time_now() - polled < POLL_FORCE_USEC) goto later;
            gated = 1;
            polled_head = h;
        }
        polled = apr_time_now();
        pr = rpc(pay, t, "eth_getTransactionReceipt", arr(json_object_new_string(hx), NULL), &r, NULL);
        if (pr != MPP_OK) { pay->pending = 1; return pr; }
        if (r && json_object_is_type(r, json_type_object)) {
            const char *st = mpp_json_str(r, "status");
            /* the relayer pays only for what it settles: its transactions are
             * never a client's payment (hash credentials) */
            if (not_found_is_failure && t->net->has_key && mpp_evm_receipt_sender_is(r, t->net->key_addr))
                return fail(pay, MPP_P_VERIFICATION_FAILED, "the transaction is this server's own settlement");
            unsigned char block[32], head[32];
            apr_uint64_t b, h;
            if (!st || strcmp(st, "0x1"))
                return fail(pay, MPP_P_VERIFICATION_FAILED, "the transaction reverted on chain");
            if (mpp_evm_receipt_transfer(r, t->token, t->recipient, from, t->amount) != MPP_EVM_TRANSFER_PAID)
                return fail(pay, MPP_P_VERIFICATION_FAILED,
                            "the transaction has no transfer of the token to the recipient for the amount");
            if (quantity(r, "blockNumber", block) || mpp_u256_to_u64(block, &b))
                return fail(pay, MPP_P_BAD_GATEWAY, "the chain node sent a receipt without a block number");
            if (t->net->confirmations <= 1) return MPP_OK;
            pr = rpc(pay, t, "eth_blockNumber", NULL, &bn, NULL);
            if (pr != MPP_OK) { pay->pending = 1; return pr; }
            if (quantity(bn, NULL, head) || mpp_u256_to_u64(head, &h))
                return fail(pay, MPP_P_BAD_GATEWAY, "the chain node sent a bad block number");
            if (h >= b && h - b + 1 >= (apr_uint64_t)t->net->confirmations) return MPP_OK;
        }
        /* a hash the client says it broadcast is there or it is not: no waiting */
        if (!r && not_found_is_failure)
            return fail(pay, MPP_P_VERIFICATION_FAILED, "the transaction was not found on chain");
    later:
        if (apr_time_now() >= deadline) {
            pay->pending = 1;
            return fail(pay, MPP_P_UNAVAILABLE,
                        "the payment is not confirmed yet; retry the same credential later");
        }
        usleep(wait);
        wait = wait * 2 < POLL_MAX_USEC ? wait * 2 : POLL_MAX_USEC;
    }
}

/* ---- authorization (EIP-3009) ---- */

typedef struct {
    unsigned char from[20], to[20], value[32], after[32], before[32], nonce[32], sig[65];
} auth_t;

static mpp_problem_t parse_auth(mpp_payment_t *pay, auth_t *a)
{
    json_object *pl = pay->cred->payload;
    const char *from = mpp_json_str(pl, "from"), *to = mpp_json_str(pl, "to"),
               *value = mpp_json_str(pl, "value"), *after = mpp_json_str(pl, "validAfter"),
               *before = mpp_json_str(pl, "validBefore"), *nonce = mpp_json_str(pl, "nonce"),
               *sig = mpp_json_str(pl, "signature");
    if (!from || !to || !value || !after || !before || !nonce || !sig)
        return fail(pay, MPP_P_INVALID_PAYLOAD, "an authorization needs from, to, value, validAfter, "
                    "validBefore, nonce and signature strings");
    if (mpp_evm_address_parse(from, a->from) || mpp_evm_address_parse(to, a->to))
        return fail(pay, MPP_P_INVALID_PAYLOAD, "from and to must be 20-byte hex addresses");
    if (mpp_u256_from_dec(value, a->value) || mpp_u256_from_dec(after, a->after)
        || mpp_u256_from_dec(before, a->before))
        return fail(pay, MPP_P_INVALID_PAYLOAD, "value, validAfter and validBefore must be canonical "
                    "decimal integers below 2^256");
    if (mpp_hex_decode(nonce, a->nonce, 32))
        return fail(pay, MPP_P_INVALID_PAYLOAD, "nonce must be 32 bytes of hex");
    if (mpp_hex_decode(sig, a->sig, 65))
        return fail(pay, MPP_P_INVALID_PAYLOAD, "signature must be 65 bytes of hex");
    return MPP_OK;
}

static mpp_problem_t verify_auth(mpp_payment_t *pay, const terms_t *t, auth_t *a)
{
    unsigned char ch[32], now[32], dom[32], digest[32], signer[20];
    mpp_problem_t pr;
    if ((pr = parse_auth(pay, a)) != MPP_OK) return pr;
    if (memcmp(a->to, t->recipient, 20))
        return fail(pay, MPP_P_VERIFICATION_FAILED, "authorization recipient mismatch");
    if (memcmp(a->value, t->amount, 32))
        return fail(pay, MPP_P_VERIFICATION_FAILED, "authorization amount mismatch");
    mpp_evm_challenge_hash(pay->challenge_id, pay->realm, ch);
    if (memcmp(a->nonce, ch, 32))
        return fail(pay, MPP_P_VERIFICATION_FAILED, "authorization nonce is not this challenge's hash");
    mpp_u256_from_u64((apr_uint64_t)apr_time_sec(pay->now), now);
    if (memcmp(a->after, now, 32) > 0)
        return fail(pay, MPP_P_VERIFICATION_FAILED, "authorization is not valid yet");
    if (memcmp(a->before, now, 32) <= 0)
        return fail(pay, MPP_P_PAYMENT_EXPIRED, "authorization has expired");
    /* it must outlive our settlement, or the relayer pays gas for a revert */
    mpp_u256_from_u64((apr_uint64_t)apr_time_sec(pay->now) + (apr_uint64_t)t->net->timeout + 5, now);
    if (memcmp(a->before, now, 32) < 0)
        return fail(pay, MPP_P_VERIFICATION_FAILED, "authorization expires before it could be settled");
    if (!t->asset->eip712_name || !t->asset->eip712_version)
        return fail(pay, MPP_P_VERIFICATION_FAILED, "the asset has no EIP-712 name and version configured");
    mpp_eip712_domain(t->asset->eip712_name, t->asset->eip712_version, t->net->chain_id, t->token, dom);
    mpp_eip3009_digest(dom, a->from, a->to, a->value, a->after, a->before, a->nonce, digest);
    if (mpp_secp_recover(digest, a->sig, signer) || memcmp(signer, a->from, 20))
        return fail(pay, MPP_P_VERIFICATION_FAILED, "authorization signature does not recover to from");
    if (!source_ok(pay, t, a->from))
        return fail(pay, MPP_P_VERIFICATION_FAILED, "credential source is not the payer");
    pay->payer = mpp_evm_address_format(pay->p, a->from);
    pay->identity = apr_psprintf(pay->p, "evm:auth:%" APR_UINT64_T_FMT ":%s:%s", t->net->chain_id,
                                 mpp_hex_encode(pay->p, t->token, 20) + 2,
                                 mpp_hex_encode(pay->p, a->nonce, 32) + 2);
    return MPP_OK;
}

/* Dry-run transferWithAuthorization from the relayer: a used nonce, a short
 * balance or a bad signature is refused before any gas is spent. Every such
 * call of a token costs about the same, so once a process has an estimate it
 * dry-runs with eth_call at that limit (one execution on the node instead of
 * an estimate's search); a call that fails there gets a fresh estimate,
 * which also gives the node's reason. */
static mpp_problem_t simulate_auth(mpp_payment_t *pay, const terms_t *t, const auth_t *a,
                                   unsigned char data[292], unsigned char gas[32])
{
    const unsigned char *r = a->sig, *s = a->sig + 32;
    int v = a->sig[64] < 27 ? a->sig[64] + 27 : a->sig[64];
    mpp_asset_t *asset = (mpp_asset_t *)t->asset;   /* its run-time field only */
    apr_uint64_t g, known = __atomic_load_n(&asset->auth_gas, __ATOMIC_RELAXED);
    json_object *call, *res = NULL;
    const char *reply_err = NULL;
    mpp_problem_t pr;

    if (!t->net->has_key)
        return fail(pay, MPP_P_VERIFICATION_FAILED, "this server has no relayer-key for the network");
    mpp_eip3009_call_data(a->from, a->to, a->value, a->after, a->before, a->nonce, v, r, s, data);
    call = json_object_new_object();
    json_object_object_add(call, "from", json_object_new_string(mpp_hex_encode(pay->p, t->net->key_addr, 20)));
    json_object_object_add(call, "to", json_object_new_string(mpp_hex_encode(pay->p, t->token, 20)));
    json_object_object_add(call, "data", json_object_new_string(mpp_hex_encode(pay->p, data, 292)));
    if (known) {
        json_object_object_add(call, "gas", json_object_new_string(apr_psprintf(pay->p, "0x%" APR_UINT64_T_HEX_FMT, known)));
        pr = rpc(pay, t, "eth_call", arr(json_object_get(call), json_object_new_string("latest")), &res, &reply_err);
        if (pr == MPP_OK && json_object_is_type(res, json_type_string) && !strncmp(json_object_get_string(res), "0x", 2)) {
            mpp_u256_from_u64(known, gas);
            json_object_put(call);
            return MPP_OK;
        }
        if (pr != MPP_OK && !reply_err) { json_object_put(call); return pr; }   /* the node is unreachable */
        json_object_object_del(call, "gas");
        reply_err = NULL;
        res = NULL;
    }
    if ((pr = rpc(pay, t, "eth_estimateGas", arr(call, NULL), &res, &reply_err)) != MPP_OK)
        return reply_err ? fail(pay, pr, apr_pstrcat(pay->p, "the token refuses the authorization: ",
                                                      reply_err, NULL)) : pr;
    if (quantity(res, NULL, gas) || mpp_u256_to_u64(gas, &g) || g > 10000000)
        return fail(pay, MPP_P_BAD_GATEWAY, "the chain node sent a bad gas estimate");
    g += g / 4 + 10000;
    mpp_u256_from_u64(g, gas);
    __atomic_store_n(&asset->auth_gas, g, __ATOMIC_RELAXED);
    return MPP_OK;
}

/* The relayer's next nonce, kept in the store (memory only) so settlements
 * need no RPC for it and can broadcast outside the settle lock. Only the
 * first settlement after a start reads the node's pending count; later the
 * count moves forward only (a pending count read while our own signed
 * transactions are still on their way would be behind them). */
static const char *nonce_key(mpp_payment_t *pay, const terms_t *t)
{
    return apr_psprintf(pay->p, "evm:relayer-nonce:%" APR_UINT64_T_FMT ":%s", t->net->chain_id,
                        mpp_hex_encode(pay->p, t->net->key_addr, 20) + 2);
}

static mpp_problem_t pending_count(mpp_payment_t *pay, const terms_t *t, const char *tag, apr_uint64_t *n)
{
    unsigned char q[32];
    json_object *res = NULL;
    mpp_problem_t pr = rpc(pay, t, "eth_getTransactionCount",
                           arr(json_object_new_string(mpp_hex_encode(pay->p, t->net->key_addr, 20)),
                               json_object_new_string(tag)), &res, NULL);
    if (pr != MPP_OK) return pr;
    if (quantity(res, NULL, q) || mpp_u256_to_u64(q, n))
        return fail(pay, MPP_P_BAD_GATEWAY, "bad nonce from the chain node");
    return MPP_OK;
}

/* Under the settle lock. *known: the store had it. */
static mpp_problem_t cached_nonce(mpp_payment_t *pay, const char *key, apr_uint64_t *n, int *known)
{
    unsigned char v[MPP_STORE_VALUE_MAX];
    apr_size_t vlen = 0;
    mpp_store_rc_t rc = mpp_store_get(pay->env->store, key, v, &vlen, NULL);
    *known = rc == MPP_STORE_OK && vlen == 8;
    if (*known) memcpy(n, v, 8);
    else if (rc != MPP_STORE_NOT_FOUND && rc != MPP_STORE_OK)
        return fail(pay, MPP_P_UNAVAILABLE, "the relayer's nonce cannot be read from the store");
    return MPP_OK;
}

static int set_nonce(mpp_payment_t *pay, const char *key, apr_uint64_t n)
{
    mpp_store_rc_t rc = mpp_store_remove(pay->env->store, key);
    if (rc != MPP_STORE_OK && rc != MPP_STORE_NOT_FOUND) return -1;
    /* an idle relayer reads the chain again after a day */
    return mpp_store_add(pay->env->store, key, &n, 8, apr_time_now() + apr_time_from_sec(86400), 0)
        == MPP_STORE_OK ? 0 : -1;
}

/* Take the next nonce (under the settle lock); forward: at least the node's
 * pending count (after "nonce too low": another server or wallet used the key). */
static mpp_problem_t take_nonce(mpp_payment_t *pay, const terms_t *t, const char *key, int forward,
                                apr_uint64_t *n)
{
    apr_uint64_t node;
    int known;
    mpp_problem_t pr = cached_nonce(pay, key, n, &known);
    if (pr != MPP_OK) return pr;
    if (!known || forward) {
        if ((pr = pending_count(pay, t, "pending", &node)) != MPP_OK) return pr;
        if (!known || node > *n) *n = node;
    }
    return MPP_OK;
}

static int sign_settlement(mpp_payment_t *pay, const terms_t *t, apr_uint64_t nonce, const unsigned char price[32],
                           const unsigned char gas[32], const unsigned char *to, unsigned char *data,
                           apr_size_t dlen, unsigned char **raw, apr_size_t *rawlen)
{
    mpp_evm_tx_t tx;
    apr_uint64_t gp;
    if (mpp_u256_to_u64(price, &gp) || gp > (apr_uint64_t)1 << 60) return -1;
    memset(&tx, 0, sizeof(tx));
    mpp_u256_from_u64(t->net->chain_id, tx.chain_id);
    mpp_u256_from_u64(nonce, tx.nonce);
    /* fee cap: twice the current price (plus 1 gwei of tip), so a rising base fee still fits */
    mpp_u256_from_u64(gp < 1000000000ULL ? gp : 1000000000ULL, tx.max_priority_fee);
    mpp_u256_from_u64(2 * gp + 1000000000ULL, tx.max_fee);
    memcpy(tx.gas, gas, 32);
    memcpy(tx.to, to, 20);
    tx.has_to = 1;
    tx.data = data;
    tx.data_len = dlen;
    return mpp_evm_tx_sign(pay->p, &tx, t->net->key, raw, rawlen);
}

/* A nonce taken but not used would hold back every later settlement: a
 * zero-value transaction to the relayer itself uses it. (Sent for a nonce
 * that is in use after all, the node refuses it as a replacement.) */
static void fill_gap(mpp_payment_t *pay, const terms_t *t, apr_uint64_t nonce, const unsigned char price[32])
{
    unsigned char gas[32], *raw, none[1] = { 0 };
    apr_size_t rawlen;
    json_object *res = NULL;
    mpp_u256_from_u64(21000, gas);
    if (!sign_settlement(pay, t, nonce, price, gas, t->net->key_addr, none, 0, &raw, &rawlen))
        rpc(pay, t, "eth_sendRawTransaction",
            arr(json_object_new_string(mpp_hex_encode(pay->p, raw, rawlen)), NULL), &res, NULL);
}

/* Our transaction is not mined in time: if the node's mined count stopped
 * below it and its pool has nothing at that nonce either (its pending count
 * stops there too), a nonce was lost (a crash between taking and sending
 * it): fill it. A transaction that is merely slow is never replaced. */
static void heal(mpp_payment_t *pay, const terms_t *t, apr_uint64_t nonce, const unsigned char price[32])
{
    apr_uint64_t mined, pending;
    if (pending_count(pay, t, "latest", &mined) == MPP_OK && mined < nonce
        && pending_count(pay, t, "pending", &pending) == MPP_OK && pending == mined)
        fill_gap(pay, t, mined, price);
}


static int has_text(const char *s, const char *what)
{
    for (; s && *s; s++)
        if (!strncasecmp(s, what, strlen(what))) return 1;
    return 0;
}

/* The gas price, read at most every two seconds per process. */
static mpp_problem_t gas_price(mpp_payment_t *pay, const terms_t *t, unsigned char price[32])
{
    mpp_network_t *net = (mpp_network_t *)t->net;   /* its run-time fields only */
    apr_int64_t now = (apr_int64_t)apr_time_now(), at = __atomic_load_n(&net->gas_price_at, __ATOMIC_ACQUIRE);
    apr_uint64_t gp;
    json_object *res = NULL;
    mpp_problem_t pr;
    if (at && now - at < (apr_int64_t)apr_time_from_sec(2) && now >= at) {
        mpp_u256_from_u64(__atomic_load_n(&net->gas_price, __ATOMIC_RELAXED), price);
        return MPP_OK;
    }
    if ((pr = rpc(pay, t, "eth_gasPrice", NULL, &res, NULL)) != MPP_OK) return pr;
    if (quantity(res, NULL, price) || mpp_u256_to_u64(price, &gp) || gp > (apr_uint64_t)1 << 60)
        return fail(pay, MPP_P_BAD_GATEWAY, "the chain node sent a bad gas price");
    __atomic_store_n(&net->gas_price, gp, __ATOMIC_RELAXED);
    __atomic_store_n(&net->gas_price_at, now, __ATOMIC_RELEASE);
    return MPP_OK;
}

/* Settle an authorization: the settle lock covers only taking a nonce and
 * signing (no RPC, no disk), so settlements of many workers are recorded
 * and broadcast side by side. The record (journaled, synced) comes before
 * the broadcast, so a crash or timeout is resolved from the chain. */
static mpp_problem_t settle_auth(mpp_payment_t *pay, const terms_t *t, const auth_t *a)
{
    unsigned char data[292], gas[32], price[32], hash[32], *raw = NULL;
    json_object *res = NULL;
    const char *reply_err = NULL, *key;
    apr_size_t rawlen = 0;
    apr_uint64_t nonce = 0;
    mpp_problem_t pr;

    if ((pr = simulate_auth(pay, t, a, data, gas)) != MPP_OK) return pr;
    if ((pr = gas_price(pay, t, price)) != MPP_OK) return pr;

    key = nonce_key(pay, t);
    for (int attempt = 1;; attempt++) {
        if (pay->env->settle_lock(pay->env->baton))
            return fail(pay, MPP_P_UNAVAILABLE, "the settlement lock is unavailable");
        pr = take_nonce(pay, t, key, attempt > 1, &nonce);
        if (pr == MPP_OK && sign_settlement(pay, t, nonce, price, gas, t->token, data, sizeof(data), &raw, &rawlen))
            pr = fail(pay, MPP_P_INTERNAL, "cannot sign the settlement transaction");
        if (pr == MPP_OK && set_nonce(pay, key, nonce + 1))
            pr = fail(pay, MPP_P_UNAVAILABLE, "the relayer's nonce cannot be kept in the store");
        pay->env->settle_unlock(pay->env->baton);
        if (pr != MPP_OK) return pr;

        mpp_keccak256(raw, rawlen, hash);
        if (pay->submitting(pay, hash)) {
            fill_gap(pay, t, nonce, price);
            return fail(pay, MPP_P_UNAVAILABLE, "the settlement cannot be recorded; nothing was sent");
        }
        reply_err = NULL;
        pr = rpc(pay, t, "eth_sendRawTransaction",
                 arr(json_object_new_string(mpp_hex_encode(pay->p, raw, rawlen)), NULL), &res, &reply_err);
        if (pr == MPP_P_BAD_GATEWAY) {
            pay->pending = 1;   /* it may have reached the node */
            return pr;
        }
        if (pr == MPP_OK || has_text(reply_err, "already known") || has_text(reply_err, "known transaction"))
            break;
        if (has_text(reply_err, "nonce too low")) {
            /* another server (or wallet) used the relayer key: ask the node, once more */
            if (attempt < 3) continue;
            return fail(pay, MPP_P_UNAVAILABLE, "the relayer's nonce keeps moving; retry the same credential");
        }
        fill_gap(pay, t, nonce, price);
        return fail(pay, pr, apr_pstrcat(pay->p, "the settlement was rejected: ", reply_err, NULL));
    }
    pay->reference = mpp_hex_encode(pay->p, hash, 32);
    pr = await_receipt(pay, t, hash, a->from, 0);
    /* not mined in time: a lost nonce below ours may be holding it back */
    if (pr != MPP_OK && pay->pending) heal(pay, t, nonce, price);
    return pr;
}

/* ---- transaction (client-signed EIP-1559) ---- */

static mpp_problem_t verify_tx(mpp_payment_t *pay, const terms_t *t, mpp_evm_tx_t *tx,
                               unsigned char **raw, apr_size_t *rawlen)
{
    const char *sig = mpp_json_str(pay->cred->payload, "signature"), *err;
    unsigned char chain[32], to[20], amount[32], zero[32] = { 0 };
    if (!sig || mpp_hex_decode_var(pay->p, sig, 16384, raw, rawlen))
        return fail(pay, MPP_P_INVALID_PAYLOAD, "a transaction credential needs signature: 0x + the signed transaction");
    if (mpp_evm_tx_decode(*raw, *rawlen, tx, &err))
        return fail(pay, MPP_P_INVALID_PAYLOAD, err);
    mpp_u256_from_u64(t->net->chain_id, chain);
    if (memcmp(tx->chain_id, chain, 32))
        return fail(pay, MPP_P_VERIFICATION_FAILED, "transaction is for another chain");
    if (!tx->has_to || memcmp(tx->to, t->token, 20))
        return fail(pay, MPP_P_VERIFICATION_FAILED, "transaction does not call the token");
    if (memcmp(tx->value, zero, 32))
        return fail(pay, MPP_P_VERIFICATION_FAILED, "transaction must not send ether");
    if (mpp_erc20_parse_transfer(tx->data, tx->data_len, to, amount))
        return fail(pay, MPP_P_VERIFICATION_FAILED, "transaction is not transfer(address,uint256)");
    if (memcmp(to, t->recipient, 20))
        return fail(pay, MPP_P_VERIFICATION_FAILED, "transaction recipient mismatch");
    if (memcmp(amount, t->amount, 32))
        return fail(pay, MPP_P_VERIFICATION_FAILED, "transaction amount mismatch");
    if (!source_ok(pay, t, tx->from))
        return fail(pay, MPP_P_VERIFICATION_FAILED, "credential source is not the payer");
    pay->payer = mpp_evm_address_format(pay->p, tx->from);
    pay->identity = apr_psprintf(pay->p, "evm:tx:%" APR_UINT64_T_FMT ":%s", t->net->chain_id,
                                 mpp_hex_encode(pay->p, tx->hash, 32) + 2);
    return MPP_OK;
}

static mpp_problem_t settle_tx(mpp_payment_t *pay, const terms_t *t, const mpp_evm_tx_t *tx,
                               const unsigned char *raw, apr_size_t rawlen)
{
    json_object *res = NULL;
    const char *reply_err = NULL;
    mpp_problem_t pr;
    if (pay->submitting(pay, tx->hash))
        return fail(pay, MPP_P_UNAVAILABLE, "the settlement cannot be recorded; nothing was sent");
    pr = rpc(pay, t, "eth_sendRawTransaction",
             arr(json_object_new_string(mpp_hex_encode(pay->p, raw, rawlen)), NULL), &res, &reply_err);
    if (pr == MPP_P_BAD_GATEWAY) { pay->pending = 1; return pr; }
    if (pr != MPP_OK && reply_err && strstr(reply_err, "nonce too low")) {
        /* mined already (a retry), or its nonce went to another transaction:
         * only the first can ever pay */
        json_object *known = NULL;
        pr = rpc(pay, t, "eth_getTransactionByHash",
                 arr(json_object_new_string(mpp_hex_encode(pay->p, tx->hash, 32)), NULL), &known, NULL);
        if (pr != MPP_OK) { pay->pending = 1; return pr; }
        if (!known)
            return fail(pay, MPP_P_VERIFICATION_FAILED,
                        "the transaction's nonce is already used: it can never be mined");
    }
    /* a node that already has it says so: the receipt decides */
    else if (pr != MPP_OK && !(reply_err && strstr(reply_err, "already known")))
        return fail(pay, pr, apr_pstrcat(pay->p, "the transaction was rejected: ", reply_err, NULL));
    pay->reference = mpp_hex_encode(pay->p, tx->hash, 32);
    return await_receipt(pay, t, tx->hash, tx->from, 0);
}

/* ---- hash (the client broadcast it) ---- */

static mpp_problem_t verify_hash(mpp_payment_t *pay, const terms_t *t, unsigned char hash[32])
{
    const char *h = mpp_json_str(pay->cred->payload, "hash");
    if (!h || mpp_hex_decode(h, hash, 32))
        return fail(pay, MPP_P_INVALID_PAYLOAD, "a hash credential needs hash: 0x + 32 bytes of hex");
    pay->identity = apr_psprintf(pay->p, "evm:tx:%" APR_UINT64_T_FMT ":%s", t->net->chain_id,
                                 mpp_hex_encode(pay->p, hash, 32) + 2);
    return MPP_OK;
}

/* ---- the method ---- */

static mpp_problem_t evm_verify(mpp_payment_t *pay)
{
    const char *type = mpp_json_str(pay->cred->payload, "type");
    terms_t t;
    if (terms(pay, &t))
        return fail(pay, MPP_P_INTERNAL, "the offer's addresses or amount are not usable");
    if (!type)
        return fail(pay, MPP_P_INVALID_PAYLOAD, "payload.type is missing");
    if (!type_allowed(pay->offer, type)) {
        /* at most 32 bytes of the client's text, never half a UTF-8
         * character: the detail goes into the problem+json body */
        int n = 0;
        while (n < 32 && type[n]) n++;
        while (n > 0 && ((unsigned char)type[n] & 0xc0) == 0x80) n--;
        return fail(pay, MPP_P_VERIFICATION_FAILED,
                    apr_psprintf(pay->p, "credential type %.*s is not accepted here", n, type));
    }
    /* settling after the upstream answered needs a dry run first: only an
     * authorization has one (a transaction or hash cannot be tried out) */
    if (pay->simulate && strcmp(type, "authorization"))
        return fail(pay, MPP_P_VERIFICATION_FAILED, "this route settles after serving: send an authorization");
    if (!strcmp(type, "authorization")) {
        auth_t a;
        unsigned char data[292], gas[32];
        mpp_problem_t pr = verify_auth(pay, &t, &a);
        /* settling later (after the upstream answered): dry-run it now */
        if (pr == MPP_OK && pay->simulate) pr = simulate_auth(pay, &t, &a, data, gas);
        return pr;
    }
    if (!strcmp(type, "transaction")) {
        mpp_evm_tx_t tx;
        unsigned char *raw;
        apr_size_t n;
        return verify_tx(pay, &t, &tx, &raw, &n);
    }
    {
        unsigned char h[32];
        return verify_hash(pay, &t, h);
    }
}

static mpp_problem_t evm_settle(mpp_payment_t *pay)
{
    const char *type = mpp_json_str(pay->cred->payload, "type");
    terms_t t;
    mpp_problem_t pr;
    if (terms(pay, &t)) return fail(pay, MPP_P_INTERNAL, "the offer is not usable");
    if (!strcmp(type, "authorization")) {
        auth_t a;
        if ((pr = parse_auth(pay, &a)) != MPP_OK) return pr;
        return settle_auth(pay, &t, &a);
    }
    if (!strcmp(type, "transaction")) {
        mpp_evm_tx_t tx;
        unsigned char *raw;
        apr_size_t n;
        if ((pr = verify_tx(pay, &t, &tx, &raw, &n)) != MPP_OK) return pr;
        return settle_tx(pay, &t, &tx, raw, n);
    }
    {
        unsigned char h[32];
        unsigned char payer[20], *from = NULL;
        if ((pr = verify_hash(pay, &t, h)) != MPP_OK) return pr;
        pay->reference = mpp_hex_encode(pay->p, h, 32);
        /* the payer named by source must be the sender of the transfer */
        if (pay->cred->source) {
            const char *src = json_object_is_type(pay->cred->source, json_type_string)
                ? json_object_get_string(pay->cred->source) : "";
            const char *colon = strrchr(src, ':');
            if (!colon || mpp_evm_address_parse(colon + 1, payer) || !source_ok(pay, &t, payer))
                return fail(pay, MPP_P_VERIFICATION_FAILED, "credential source is not a did:pkh of this chain");
            from = payer;
        }
        return await_receipt(pay, &t, h, from, 1);
    }
}

static mpp_problem_t evm_resume(mpp_payment_t *pay, const unsigned char ref[32])
{
    const char *type = mpp_json_str(pay->cred->payload, "type");
    terms_t t;
    if (terms(pay, &t) || !type) return fail(pay, MPP_P_INTERNAL, "the offer is not usable");
    pay->reference = mpp_hex_encode(pay->p, ref, 32);
    return await_receipt(pay, &t, ref, NULL, 0);
}

static json_object *evm_receipt(mpp_payment_t *pay)
{
    json_object *r = mpp_receipt_default(pay, "evm");
    json_object_object_add(r, "chainId",
                           json_object_new_int64((int64_t)pay->offer->asset->network->chain_id));
    return r;
}

static void evm_build_request(apr_pool_t *p, const mpp_offer_t *o, json_object *r)
{
    json_object *md = json_object_new_object(), *types = json_object_new_array();
    (void)p;
    json_object_object_add(md, "chainId", json_object_new_int64((int64_t)o->asset->network->chain_id));
    json_object_object_add(md, "decimals", json_object_new_int(o->asset->decimals));
    if (o->types) {
        for (int i = 0; i < o->types->nelts; i++)
            json_object_array_add(types, json_object_new_string(APR_ARRAY_IDX(o->types, i, const char *)));
    }
    else {
        json_object_array_add(types, json_object_new_string("authorization"));
        json_object_array_add(types, json_object_new_string("transaction"));
        json_object_array_add(types, json_object_new_string("hash"));
    }
    json_object_object_add(md, "credentialTypes", types);
    json_object_object_add(r, "methodDetails", md);
}

const mpp_method_t mpp_method_evm = {
    .name = "evm", .build_request = evm_build_request, .verify = evm_verify,
    .settle = evm_settle, .resume = evm_resume, .receipt = evm_receipt,
};

static void sol_build_request(apr_pool_t *p, const mpp_offer_t *o, json_object *r)
{
    json_object *md = json_object_new_object();
    (void)p;
    json_object_object_add(md, "decimals", json_object_new_int(o->asset->decimals));
    if (o->asset->network->cluster)
        json_object_object_add(md, "network", json_object_new_string(o->asset->network->cluster));
    json_object_object_add(r, "methodDetails", md);
}

static mpp_problem_t sol_verify(mpp_payment_t *pay)
{
    pay->detail = "solana payment verification is not available on this server";
    return MPP_P_VERIFICATION_FAILED;
}

const mpp_method_t mpp_method_solana = {
    .name = "solana", .build_request = sol_build_request, .verify = sol_verify,
};

json_object *mpp_receipt_default(mpp_payment_t *pay, const char *method)
{
    json_object *r = json_object_new_object();
    json_object_object_add(r, "status", json_object_new_string("success"));
    json_object_object_add(r, "method", json_object_new_string(method));
    json_object_object_add(r, "timestamp", json_object_new_string(mpp_time_format(pay->p, pay->now)));
    json_object_object_add(r, "reference", json_object_new_string(pay->reference ? pay->reference : ""));
    if (pay->challenge_id)
        json_object_object_add(r, "challengeId", json_object_new_string(pay->challenge_id));
    return r;
}
