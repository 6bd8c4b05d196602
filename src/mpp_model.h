/* The configuration model: networks, assets, offers, parsed from
 * key=value words and checked without httpd. */
#ifndef MPP_MODEL_H
#define MPP_MODEL_H

#include <apr_hash.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <json-c/json.h>

#include "mpp_method.h"
#include "mpp_rpc.h"

typedef enum { MPP_NET_EVM = 1, MPP_NET_SOLANA, MPP_NET_OTHER } mpp_net_kind_t;

typedef struct {
    const char *name;
    const char *type;              /* method name: evm, solana, or a provider's */
    mpp_net_kind_t kind;
    const mpp_method_t *method;    /* resolved by the caller for MPP_NET_OTHER */
    apr_uint64_t chain_id;         /* evm */
    const char *cluster;           /* solana */
    const char *commitment;        /* solana */
    apr_array_header_t *rpc_urls;  /* const char * URLs, first is primary */
    int confirmations;
    int timeout;                   /* seconds */
    const char *key_file;          /* relayer-key= or fee-payer-key= */
    int has_key;                   /* key loaded from key_file */
    unsigned char key[32];         /* the relayer's private key (evm) */
    unsigned char key_addr[20];    /* its address */
    mpp_rpc_t rpc;                 /* endpoints and limits for JSON-RPC */
    /* learnt at run time, per process (atomics: shared by its threads) */
    apr_uint64_t gas_price;        /* the last eth_gasPrice (wei) and when it was read */
    apr_int64_t gas_price_at;
    apr_uint64_t head;             /* the last eth_blockNumber and when it was read */
    apr_int64_t head_at;
} mpp_network_t;

typedef struct {
    const char *name;
    const char *network_name;
    const mpp_network_t *network;  /* set by mpp_asset_resolve */
    const char *address;           /* token contract or mint */
    int decimals;
    const char *eip712_name;
    const char *eip712_version;
    /* learnt at run time, per process: the gas limit its last estimated
     * transferWithAuthorization was given (atomic, 0: none yet) */
    apr_uint64_t auth_gas;
} mpp_asset_t;

typedef struct mpp_offer_t {
    const char *name;
    const char *intent;            /* charge */
    const char *asset_name;
    const mpp_asset_t *asset;      /* set by mpp_offer_resolve */
    const char *price;             /* decimal in asset units, or NULL when amount= */
    const char *amount;            /* base units (after resolve) */
    const char *recipient;
    apr_array_header_t *types;     /* const char * credential types */
    int expires;                   /* seconds */
    const char *description;
    const char *tenant_min;        /* decimal, NULL: no tenant price */
    const char *tenant_max;
    const char *tenant_min_units;  /* base units (after resolve) */
    const char *tenant_max_units;
    int tenant_recipient;
    /* made at startup, for requests at the offer's own price and recipient */
    const char *request_b64;       /* base64url(JCS(request)) */
    const char *x402_accept;       /* JCS of its x402 "accepts" entry, or NULL */
} mpp_offer_t;

/* Each parser takes the words after the directive name (words[0] = name) and
 * returns NULL or an error message naming the bad parameter and value. */
const char *mpp_network_parse(apr_pool_t *p, mpp_network_t *n, apr_array_header_t *words);
const char *mpp_asset_parse(apr_pool_t *p, mpp_asset_t *a, apr_array_header_t *words);
const char *mpp_offer_parse(apr_pool_t *p, mpp_offer_t *o, apr_array_header_t *words);

/* Link an asset to its network and check its address. */
const char *mpp_asset_resolve(apr_pool_t *p, mpp_asset_t *a, apr_hash_t *networks);
/* Link an offer to its asset; compute amounts; check the recipient. */
const char *mpp_offer_resolve(apr_pool_t *p, mpp_offer_t *o, apr_hash_t *assets);

/* Check an address for the offer's network; NULL when fine. */
const char *mpp_offer_check_address(apr_pool_t *p, const mpp_offer_t *o, const char *addr);

/* A tenant price (decimal) within the offer's tenant range -> base units. */
const char *mpp_offer_tenant_amount(apr_pool_t *p, const mpp_offer_t *o, const char *price,
                                    char **amount);

/* The request object an offer charges (amount/recipient may be overrides). */
json_object *mpp_offer_request(apr_pool_t *p, const mpp_offer_t *o, const char *amount,
                               const char *recipient);

#endif
