/* Directive arguments: shell-like word splitting (mpp_args_split,
 * mpp_args_kv) and the configuration model's parsers on the words
 * (mpp_network_parse, mpp_asset_parse, mpp_offer_parse), then resolving
 * against fixed networks and assets, tenant prices and the request object.
 * Input: one directive line; its first word picks the parser (MPPNetwork,
 * MPPAsset, MPPOffer, MPPPrice), anything else goes to all three. The
 * .htaccess-facing MPPPrice takes a price for every tenant-priced offer.
 * Invariants: words quoted again split to the same words; key=value splits
 * back to the word; a resolved offer's amount is canonical and tenant
 * amounts stay within its range; requests are JCS-serialisable. */
#include "fuzz.h"

#include <apr_hash.h>
#include <apr_strings.h>

#include "mpp_amount.h"
#include "mpp_args.h"
#include "mpp_json.h"
#include "mpp_model.h"

static apr_hash_t *nets, *assets;
static apr_array_header_t *tenant_offers;   /* mpp_offer_t * */

static apr_array_header_t *words(apr_pool_t *p, const char *line)
{
    const char *e;
    apr_array_header_t *w = mpp_args_split(p, line, &e);
    if (!w) abort();
    return w;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *const net_lines[] = {
        "base evm chain-id=8453 rpc=https://mainnet.base.org rpc=http://127.0.0.1:8545 confirmations=2",
        "sol solana cluster=devnet rpc=https://api.devnet.solana.com",
        "tempo tempo",
    };
    static const char *const asset_lines[] = {
        "usdc network=base address=0x833589fcd6edb6e08f4c7c32d4f71b54bda02913 decimals=6 eip712-name=\"USD Coin\" eip712-version=2",
        "wei network=base address=0x0000000000000000000000000000000000000001 decimals=36",
        "susdc network=sol mint=EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v decimals=6",
        "tusd network=tempo address=anything decimals=0",
    };
    static const char *const offer_lines[] = {
        "t1 asset=usdc price=0.01 recipient=0x742d35cc6634c0532925a3b844bc9e7595f8fe00 tenant-price=0.001..5",
        "t2 asset=wei amount=1 recipient=0x742d35cc6634c0532925a3b844bc9e7595f8fe00 tenant-price=0..115792089237316195423570985008687907853269.984665640564039457584007913129639935",
        "t3 asset=susdc price=1 recipient=JEKNVnkbo3jma5nREBBJCDoXFVeKkD56V3xKrvRmWxFG tenant-price=0.5..0.5",
    };
    apr_pool_t *p;
    fuzz_init();
    p = fuzz_forever();
    nets = apr_hash_make(p);
    assets = apr_hash_make(p);
    tenant_offers = apr_array_make(p, 4, sizeof(mpp_offer_t *));
    for (unsigned i = 0; i < sizeof(net_lines) / sizeof(net_lines[0]); i++) {
        mpp_network_t *n = apr_pcalloc(p, sizeof(*n));
        if (mpp_network_parse(p, n, words(p, net_lines[i]))) abort();
        apr_hash_set(nets, n->name, APR_HASH_KEY_STRING, n);
    }
    for (unsigned i = 0; i < sizeof(asset_lines) / sizeof(asset_lines[0]); i++) {
        mpp_asset_t *a = apr_pcalloc(p, sizeof(*a));
        if (mpp_asset_parse(p, a, words(p, asset_lines[i])) || mpp_asset_resolve(p, a, nets)) abort();
        apr_hash_set(assets, a->name, APR_HASH_KEY_STRING, a);
    }
    for (unsigned i = 0; i < sizeof(offer_lines) / sizeof(offer_lines[0]); i++) {
        mpp_offer_t *o = apr_pcalloc(p, sizeof(*o));
        const char *e = mpp_offer_parse(p, o, words(p, offer_lines[i]));
        if (e || (e = mpp_offer_resolve(p, o, assets))) {
            fprintf(stderr, "fuzz_config: %s: %s\n", offer_lines[i], e);
            abort();
        }
        APR_ARRAY_PUSH(tenant_offers, mpp_offer_t *) = o;
    }
    return 0;
}

/* "w" with \ and " escaped: what a configuration writer would emit */
static const char *quote(apr_pool_t *p, const char *w)
{
    char *o = apr_palloc(p, 2 * strlen(w) + 3), *q = o;
    *q++ = '"';
    for (; *w; w++) {
        if (*w == '"' || *w == '\\') *q++ = '\\';
        *q++ = *w;
    }
    *q++ = '"';
    *q = '\0';
    return o;
}

static void tenant(apr_pool_t *p, const mpp_offer_t *o, const char *price)
{
    char *amount = NULL;
    const char *e = mpp_offer_tenant_amount(p, o, price, &amount);
    if (e) return;
    FUZZ_ASSERT(amount && mpp_amount_valid(amount), "tenant amount %s", amount ? amount : "(null)");
    FUZZ_ASSERT(mpp_amount_cmp(amount, o->tenant_min_units) >= 0 && mpp_amount_cmp(amount, o->tenant_max_units) <= 0,
                "tenant price %s -> %s outside %s..%s", price, amount, o->tenant_min_units, o->tenant_max_units);
    mpp_jcs(p, mpp_offer_request(p, o, amount, NULL));
}

static void offer(apr_pool_t *p, apr_array_header_t *w)
{
    mpp_offer_t o;
    const char *e = mpp_offer_parse(p, &o, w);
    if (e) return;
    if ((e = mpp_offer_resolve(p, &o, assets))) return;
    FUZZ_ASSERT(o.amount && mpp_amount_valid(o.amount), "offer amount %s", o.amount ? o.amount : "(null)");
    FUZZ_ASSERT(!mpp_offer_check_address(p, &o, o.recipient), "resolved with a bad recipient");
    if (o.tenant_min_units) {
        FUZZ_ASSERT(mpp_amount_valid(o.tenant_min_units) && mpp_amount_valid(o.tenant_max_units)
                    && mpp_amount_cmp(o.tenant_min_units, o.tenant_max_units) <= 0, "tenant range");
        tenant(p, &o, o.tenant_min);
        tenant(p, &o, o.tenant_max);
        if (o.price) tenant(p, &o, o.price);
    }
    mpp_jcs(p, mpp_offer_request(p, &o, NULL, NULL));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_begin();
    const char *line = fuzz_str(p, data, size), *err = NULL, *dir;
    apr_array_header_t *w = mpp_args_split(p, line, &err), *rest;

    if (!w) {
        FUZZ_ASSERT(err != NULL, "refused without a reason");
        goto done;
    }
    /* quoting every word and splitting again gives the same words */
    {
        const char *joined = "";
        apr_array_header_t *w2;
        for (int i = 0; i < w->nelts; i++)
            joined = apr_pstrcat(p, joined, i ? " " : "", quote(p, APR_ARRAY_IDX(w, i, const char *)), NULL);
        w2 = mpp_args_split(p, joined, &err);
        FUZZ_ASSERT(w2 && w2->nelts == w->nelts, "re-quoted line splits into %d words, not %d: %s",
                    w2 ? w2->nelts : -1, w->nelts, joined);
        for (int i = 0; i < w->nelts; i++) {
            const char *a = APR_ARRAY_IDX(w, i, const char *), *b = APR_ARRAY_IDX(w2, i, const char *), *k, *v;
            FUZZ_ASSERT(!strcmp(a, b), "word %d changed: [%s] -> [%s]", i, a, b);
            if (!mpp_args_kv(p, a, &k, &v))
                FUZZ_ASSERT(*k && !strchr(k, '=') && !strcmp(apr_pstrcat(p, k, "=", v, NULL), a),
                            "key=value split of [%s] is [%s]=[%s]", a, k, v);
            else FUZZ_ASSERT(!strchr(a, '=') || a[0] == '=', "[%s] has a key=value", a);
        }
    }
    if (w->nelts == 0) goto done;
    dir = APR_ARRAY_IDX(w, 0, const char *);
    rest = apr_array_copy(p, w);
    /* drop the directive name */
    memmove(rest->elts, rest->elts + sizeof(char *), (size_t)(rest->nelts - 1) * sizeof(char *));
    rest->nelts--;
    if (!strcasecmp(dir, "MPPPrice")) {
        for (int i = 0; i < tenant_offers->nelts && rest->nelts; i++)
            tenant(p, APR_ARRAY_IDX(tenant_offers, i, mpp_offer_t *), APR_ARRAY_IDX(rest, 0, const char *));
        goto done;
    }
    if (!strcasecmp(dir, "MPPNetwork") || strncasecmp(dir, "MPP", 3)) {
        mpp_network_t n;
        apr_array_header_t *ww = strncasecmp(dir, "MPP", 3) ? w : rest;
        if (!mpp_network_parse(p, &n, ww)) {
            FUZZ_ASSERT(n.kind == MPP_NET_OTHER || n.rpc_urls->nelts > 0, "a network without rpc=");
            FUZZ_ASSERT(n.timeout > 0 && n.rpc.timeout_ms == n.timeout * 1000L, "timeout");
        }
    }
    if (!strcasecmp(dir, "MPPAsset") || strncasecmp(dir, "MPP", 3)) {
        mpp_asset_t a;
        apr_array_header_t *ww = strncasecmp(dir, "MPP", 3) ? w : rest;
        if (!mpp_asset_parse(p, &a, ww) && !mpp_asset_resolve(p, &a, nets)) {
            FUZZ_ASSERT(a.decimals >= 0 && a.decimals <= 36, "decimals %d", a.decimals);
            /* the offers' lookup: this asset under its own name */
            apr_hash_set(assets, "fuzzed", APR_HASH_KEY_STRING, &a);
            offer(p, words(p, "f asset=fuzzed price=1.5 recipient=0x742d35cc6634c0532925a3b844bc9e7595f8fe00 "
                              "tenant-price=0.1..2"));
            apr_hash_set(assets, "fuzzed", APR_HASH_KEY_STRING, NULL);
        }
    }
    if (!strcasecmp(dir, "MPPOffer") || strncasecmp(dir, "MPP", 3))
        offer(p, strncasecmp(dir, "MPP", 3) ? w : rest);
done:
    fuzz_end();
    return 0;
}
