#include "mpp_model.h"
#include "mpp_addr.h"
#include "mpp_amount.h"
#include "mpp_args.h"
#include "mpp_json.h"

#include <apr_strings.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define WORD(a, i) APR_ARRAY_IDX((a), (i), const char *)

static int is_name(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')
              || *s == '-' || *s == '_' || *s == '.'))
            return 0;
    return 1;
}

static const char *parse_uint(apr_pool_t *p, const char *key, const char *v, apr_uint64_t max,
                              apr_uint64_t *out)
{
    char *end;
    unsigned long long x;
    if (!*v || *v == '-' || *v == '+' || (v[0] == '0' && v[1]))
        return apr_psprintf(p, "%s=%s is not a plain non-negative integer", key, v);
    errno = 0;
    x = strtoull(v, &end, 10);
    if (errno || *end || x > max)
        return apr_psprintf(p, "%s=%s is out of range (0..%llu)", key, v, (unsigned long long)max);
    *out = x;
    return NULL;
}

static const char *check_url(apr_pool_t *p, const char *v)
{
    if (strncmp(v, "http://", 7) && strncmp(v, "https://", 8))
        return apr_psprintf(p, "rpc=%s is not an http:// or https:// URL", v);
    for (const char *c = v; *c; c++)
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
            return apr_psprintf(p, "rpc=%s contains a space or control character", v);
    return NULL;
}

const char *mpp_network_parse(apr_pool_t *p, mpp_network_t *n, apr_array_header_t *w)
{
    memset(n, 0, sizeof(*n));
    if (w->nelts < 2) return "needs a name and a type (evm or solana)";
    n->name = WORD(w, 0);
    n->type = WORD(w, 1);
    if (!is_name(n->name)) return apr_psprintf(p, "invalid network name '%s'", n->name);
    if (!strcmp(n->type, "evm")) { n->kind = MPP_NET_EVM; n->method = &mpp_method_evm; }
    else if (!strcmp(n->type, "solana")) { n->kind = MPP_NET_SOLANA; n->method = &mpp_method_solana; }
    else {
        for (const char *c = n->type; *c; c++)
            if (*c < 'a' || *c > 'z')
                return apr_psprintf(p, "unknown network type '%s'", n->type);
        n->kind = MPP_NET_OTHER;
    }
    n->rpc_urls = apr_array_make(p, 2, sizeof(const char *));
    n->confirmations = 1;
    n->timeout = 5;
    for (int i = 2; i < w->nelts; i++) {
        const char *k, *v, *e = NULL;
        apr_uint64_t u = 0;
        if (mpp_args_kv(p, WORD(w, i), &k, &v))
            return apr_psprintf(p, "'%s' is not key=value", WORD(w, i));
        if (!strcmp(k, "rpc")) {
            if ((e = check_url(p, v))) return e;
            APR_ARRAY_PUSH(n->rpc_urls, const char *) = v;
        }
        else if (!strcmp(k, "confirmations")) {
            if ((e = parse_uint(p, k, v, 1000, &u))) return e;
            n->confirmations = (int)u;
        }
        else if (!strcmp(k, "timeout")) {
            if ((e = parse_uint(p, k, v, 600, &u))) return e;
            if (u == 0) return "timeout=0 is not allowed";
            n->timeout = (int)u;
        }
        else if (n->kind == MPP_NET_EVM && !strcmp(k, "chain-id")) {
            /* EIP-155 chain ids fit well below 2^53 in practice; keep JSON-safe */
            if ((e = parse_uint(p, k, v, 9007199254740991ULL, &u))) return e;
            if (u == 0) return "chain-id=0 is not a valid chain";
            n->chain_id = u;
        }
        else if (n->kind == MPP_NET_EVM && !strcmp(k, "relayer-key")) {
            if (*v != '/') return apr_psprintf(p, "relayer-key=%s must be an absolute path", v);
            n->key_file = v;
        }
        else if (n->kind == MPP_NET_SOLANA && !strcmp(k, "cluster")) {
            if (strcmp(v, "mainnet-beta") && strcmp(v, "mainnet") && strcmp(v, "devnet")
                && strcmp(v, "testnet") && strcmp(v, "localnet"))
                return apr_psprintf(p, "cluster=%s is not one of mainnet-beta, devnet, testnet, localnet", v);
            n->cluster = v;
        }
        else if (n->kind == MPP_NET_SOLANA && !strcmp(k, "commitment")) {
            if (strcmp(v, "processed") && strcmp(v, "confirmed") && strcmp(v, "finalized"))
                return apr_psprintf(p, "commitment=%s is not processed, confirmed or finalized", v);
            n->commitment = v;
        }
        else if (n->kind == MPP_NET_SOLANA && !strcmp(k, "fee-payer-key")) {
            if (*v != '/') return apr_psprintf(p, "fee-payer-key=%s must be an absolute path", v);
            n->key_file = v;
        }
        else
            return apr_psprintf(p, "unknown parameter '%s' for a %s network", k, n->type);
    }
    if (n->kind == MPP_NET_EVM && !n->chain_id) return "an evm network needs chain-id=";
    if (n->kind == MPP_NET_SOLANA && !n->cluster) return "a solana network needs cluster=";
    if (n->kind != MPP_NET_OTHER && n->rpc_urls->nelts == 0) return "needs at least one rpc=URL";
    if (n->kind == MPP_NET_SOLANA && !n->commitment) n->commitment = "confirmed";
    n->rpc.urls = n->rpc_urls;
    n->rpc.timeout_ms = n->timeout * 1000L;
    n->rpc.connect_timeout_ms = n->timeout * 1000L < 2000 ? n->timeout * 1000L : 2000;
    n->rpc.max_response = 4 * 1024 * 1024;
    return NULL;
}

const char *mpp_asset_parse(apr_pool_t *p, mpp_asset_t *a, apr_array_header_t *w)
{
    int have_dec = 0;
    memset(a, 0, sizeof(*a));
    if (w->nelts < 1) return "needs a name";
    a->name = WORD(w, 0);
    if (!is_name(a->name)) return apr_psprintf(p, "invalid asset name '%s'", a->name);
    for (int i = 1; i < w->nelts; i++) {
        const char *k, *v, *e;
        apr_uint64_t u = 0;
        if (mpp_args_kv(p, WORD(w, i), &k, &v))
            return apr_psprintf(p, "'%s' is not key=value", WORD(w, i));
        if (!strcmp(k, "network")) a->network_name = v;
        else if (!strcmp(k, "address") || !strcmp(k, "mint")) a->address = v;
        else if (!strcmp(k, "decimals")) {
            if ((e = parse_uint(p, k, v, 36, &u))) return e;
            a->decimals = (int)u;
            have_dec = 1;
        }
        else if (!strcmp(k, "eip712-name")) a->eip712_name = v;
        else if (!strcmp(k, "eip712-version")) a->eip712_version = v;
        else return apr_psprintf(p, "unknown parameter '%s'", k);
    }
    if (!a->network_name) return "needs network=";
    if (!a->address) return "needs address=";
    if (!have_dec) return "needs decimals=";
    return NULL;
}

static const char *check_address(apr_pool_t *p, const mpp_network_t *n, const char *addr,
                                 const char *what)
{
    unsigned char b[32];
    if (n->kind == MPP_NET_EVM) {
        if (mpp_evm_address_parse(addr, b))
            return apr_psprintf(p, "%s %s is not an EVM address (0x and 40 hex digits)", what, addr);
    }
    else if (n->kind == MPP_NET_SOLANA) {
        if (mpp_base58_decode32(addr, b))
            return apr_psprintf(p, "%s %s is not a Solana address (base58 of 32 bytes)", what, addr);
    }
    else if (n->method && n->method->check_address) {
        const char *e = n->method->check_address(p, addr);
        if (e) return apr_psprintf(p, "%s %s: %s", what, addr, e);
    }
    else if (!*addr) return apr_psprintf(p, "%s is empty", what);
    return NULL;
}

const char *mpp_asset_resolve(apr_pool_t *p, mpp_asset_t *a, apr_hash_t *networks)
{
    const mpp_network_t *n = apr_hash_get(networks, a->network_name, APR_HASH_KEY_STRING);
    if (!n) return apr_psprintf(p, "unknown network '%s' (define it with MPPNetwork)", a->network_name);
    a->network = n;
    return check_address(p, n, a->address, "address");
}

const char *mpp_offer_parse(apr_pool_t *p, mpp_offer_t *o, apr_array_header_t *w)
{
    memset(o, 0, sizeof(*o));
    if (w->nelts < 1) return "needs a name";
    o->name = WORD(w, 0);
    if (!is_name(o->name) || !strcmp(o->name, "off"))
        return apr_psprintf(p, "invalid offer name '%s'", o->name);
    o->intent = "charge";
    o->expires = 300;
    for (int i = 1; i < w->nelts; i++) {
        const char *k, *v, *e;
        apr_uint64_t u = 0;
        if (mpp_args_kv(p, WORD(w, i), &k, &v))
            return apr_psprintf(p, "'%s' is not key=value", WORD(w, i));
        if (!strcmp(k, "asset")) o->asset_name = v;
        else if (!strcmp(k, "price")) o->price = v;
        else if (!strcmp(k, "amount")) {
            if (!mpp_amount_valid(v))
                return apr_psprintf(p, "amount=%s is not an integer in base units (0..2^256-1)", v);
            o->amount = v;
        }
        else if (!strcmp(k, "recipient")) o->recipient = v;
        else if (!strcmp(k, "types")) {
            char *last, *t, *dup = apr_pstrdup(p, v);
            o->types = apr_array_make(p, 3, sizeof(const char *));
            for (t = apr_strtok(dup, ",", &last); t; t = apr_strtok(NULL, ",", &last)) {
                if (strcmp(t, "authorization") && strcmp(t, "transaction") && strcmp(t, "hash"))
                    return apr_psprintf(p, "types=%s: unknown credential type '%s'", v, t);
                for (int j = 0; j < o->types->nelts; j++)
                    if (!strcmp(APR_ARRAY_IDX(o->types, j, const char *), t))
                        return apr_psprintf(p, "types=%s: '%s' listed twice", v, t);
                APR_ARRAY_PUSH(o->types, const char *) = t;
            }
            if (o->types->nelts == 0) return "types= is empty";
        }
        else if (!strcmp(k, "expires")) {
            if ((e = parse_uint(p, k, v, 86400, &u))) return e;
            if (u < 10) return apr_psprintf(p, "expires=%s is too short (at least 10 seconds)", v);
            o->expires = (int)u;
        }
        else if (!strcmp(k, "description")) {
            for (const char *c = v; *c; c++)
                if ((unsigned char)*c < 0x20 || *c == 0x7f)
                    return "description= contains a control character";
            o->description = v;
        }
        else if (!strcmp(k, "tenant-price")) {
            const char *dots = strstr(v, "..");
            if (!dots) return apr_psprintf(p, "tenant-price=%s is not min..max", v);
            o->tenant_min = apr_pstrmemdup(p, v, (apr_size_t)(dots - v));
            o->tenant_max = dots + 2;
        }
        else if (!strcmp(k, "tenant-recipient")) {
            if (!strcasecmp(v, "on")) o->tenant_recipient = 1;
            else if (!strcasecmp(v, "off")) o->tenant_recipient = 0;
            else return apr_psprintf(p, "tenant-recipient=%s is not on or off", v);
        }
        else if (!strcmp(k, "intent")) {
            if (strcmp(v, "charge")) return apr_psprintf(p, "intent=%s is not supported (charge)", v);
            o->intent = v;
        }
        else return apr_psprintf(p, "unknown parameter '%s'", k);
    }
    if (!o->asset_name) return "needs asset=";
    if (!o->price && !o->amount) return "needs price= (asset units) or amount= (base units)";
    if (o->price && o->amount) return "price= and amount= are exclusive";
    if (!o->recipient) return "needs recipient=";
    return NULL;
}

const char *mpp_offer_resolve(apr_pool_t *p, mpp_offer_t *o, apr_hash_t *assets)
{
    const mpp_asset_t *a = apr_hash_get(assets, o->asset_name, APR_HASH_KEY_STRING);
    const char *e;
    char *units;

    if (!a) return apr_psprintf(p, "unknown asset '%s' (define it with MPPAsset)", o->asset_name);
    if (!a->network) return apr_psprintf(p, "asset '%s' has no resolved network", a->name);
    o->asset = a;
    if (o->price) {
        if ((e = mpp_amount_from_price(p, o->price, a->decimals, &units)))
            return apr_psprintf(p, "price=%s: %s", o->price, e);
        o->amount = units;
    }
    if ((e = check_address(p, a->network, o->recipient, "recipient")))
        return e;
    if (o->tenant_min) {
        if ((e = mpp_amount_from_price(p, o->tenant_min, a->decimals, &units)))
            return apr_psprintf(p, "tenant-price minimum %s: %s", o->tenant_min, e);
        o->tenant_min_units = units;
        if ((e = mpp_amount_from_price(p, o->tenant_max, a->decimals, &units)))
            return apr_psprintf(p, "tenant-price maximum %s: %s", o->tenant_max, e);
        o->tenant_max_units = units;
        if (mpp_amount_cmp(o->tenant_min_units, o->tenant_max_units) > 0)
            return apr_psprintf(p, "tenant-price=%s..%s: minimum above maximum", o->tenant_min, o->tenant_max);
    }
    if (a->network->kind != MPP_NET_EVM && o->types)
        return "types= applies to evm offers only";
    return NULL;
}

const char *mpp_offer_check_address(apr_pool_t *p, const mpp_offer_t *o, const char *addr)
{
    return check_address(p, o->asset->network, addr, "recipient");
}

const char *mpp_offer_tenant_amount(apr_pool_t *p, const mpp_offer_t *o, const char *price,
                                    char **amount)
{
    const char *e;
    if (!o->tenant_min_units)
        return apr_psprintf(p, "offer '%s' does not allow a tenant price (tenant-price=min..max)", o->name);
    if ((e = mpp_amount_from_price(p, price, o->asset->decimals, amount)))
        return apr_psprintf(p, "price %s: %s", price, e);
    if (mpp_amount_cmp(*amount, o->tenant_min_units) < 0 || mpp_amount_cmp(*amount, o->tenant_max_units) > 0)
        return apr_psprintf(p, "price %s is outside offer '%s' tenant range %s..%s", price, o->name,
                            o->tenant_min, o->tenant_max);
    return NULL;
}

json_object *mpp_offer_request(apr_pool_t *p, const mpp_offer_t *o, const char *amount,
                               const char *recipient)
{
    json_object *r = mpp_json_pool_own(p, json_object_new_object());
    const mpp_method_t *m = o->asset->network->method;
    json_object_object_add(r, "amount", json_object_new_string(amount ? amount : o->amount));
    json_object_object_add(r, "currency", json_object_new_string(o->asset->address));
    json_object_object_add(r, "recipient", json_object_new_string(recipient ? recipient : o->recipient));
    if (m && m->build_request)
        m->build_request(p, o, r);
    return r;
}
