/* The evm method's verification of a credential's payload and source
 * (mpp_method_evm.verify: authorization fields and EIP-712 signature,
 * signed transactions, hashes, did:pkh sources), for an offer of 10000
 * base units of Base USDC, with and without a type restriction, and as a
 * settle-after route. Nothing reaches the chain: the network has no relayer
 * key, so the dry run stops before any JSON-RPC call.
 * Input: a JSON object {"payload":{...},"source":...}.
 * Invariants: an accepted payment has an identity (and a payer, except a
 * hash), of the form the store expects; a refusal has a detail, and its
 * problem body is strict JSON (valid UTF-8, whatever the client wrote). */
#include "fuzz.h"

#include <apr_hash.h>
#include <apr_strings.h>

#include "mpp_args.h"
#include "mpp_json.h"
#include "mpp_limits.h"
#include "mpp_method.h"
#include "mpp_model.h"
#include "mpp_problem.h"

#define NOW_SEC 1893456000LL   /* 2030-01-01: the seed authorization is valid until 2100 */
#define CHALLENGE_ID "wyhGJvegEx9s6AZmB1C5PfOEvf6npWhq-flEBZU8OO4"
#define REALM "api.example.com"

static mpp_offer_t offers[2];
static json_object *requests[2];

static apr_array_header_t *words(apr_pool_t *p, const char *line)
{
    const char *e;
    apr_array_header_t *w = mpp_args_split(p, line, &e);
    if (!w) abort();
    return w;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    apr_pool_t *p;
    static mpp_network_t net;
    static mpp_asset_t asset;
    apr_hash_t *nets, *assets;
    static const char *const offer_lines[2] = {
        "basic asset=usdc amount=10000 recipient=0x742d35cc6634c0532925a3b844bc9e7595f8fe00",
        "narrow asset=usdc price=0.01 recipient=0x742D35CC6634C0532925A3B844BC9E7595F8FE00 types=authorization,hash",
    };
    fuzz_init();
    p = fuzz_forever();
    nets = apr_hash_make(p);
    assets = apr_hash_make(p);
    if (mpp_network_parse(p, &net, words(p, "base evm chain-id=8453 rpc=http://127.0.0.1:9/")))
        abort();
    apr_hash_set(nets, net.name, APR_HASH_KEY_STRING, &net);
    if (mpp_asset_parse(p, &asset, words(p, "usdc network=base address=0x833589fcd6edb6e08f4c7c32d4f71b54bda02913 "
                                            "decimals=6 eip712-name=\"USD Coin\" eip712-version=2"))
        || mpp_asset_resolve(p, &asset, nets))
        abort();
    apr_hash_set(assets, asset.name, APR_HASH_KEY_STRING, &asset);
    for (int i = 0; i < 2; i++) {
        if (mpp_offer_parse(p, &offers[i], words(p, offer_lines[i])) || mpp_offer_resolve(p, &offers[i], assets))
            abort();
        requests[i] = mpp_offer_request(p, &offers[i], NULL, NULL);
    }
    return 0;
}

static void check_problem(apr_pool_t *p, mpp_problem_t pr, const char *detail)
{
    const char *body = mpp_problem_json(p, pr, detail, NULL, CHALLENGE_ID), *err;
    FUZZ_ASSERT(mpp_json_parse(p, body, strlen(body), 1 << 20, 4, &err), "problem body is not JSON (%s): %s",
                err, body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_begin();
    const char *text = fuzz_str(p, data, size), *err;
    json_object *root = mpp_json_parse(p, text, size, MPP_MAX_JSON, MPP_MAX_JSON_DEPTH, &err), *v;
    mpp_credential_t cred;

    memset(&cred, 0, sizeof(cred));
    if (!root || !json_object_is_type(root, json_type_object)
        || !json_object_object_get_ex(root, "payload", &cred.payload)
        || !json_object_is_type(cred.payload, json_type_object))
        goto done;
    /* as mpp_credential_decode admits it */
    if (json_object_object_get_ex(root, "source", &v) && v
        && (json_object_is_type(v, json_type_string) || json_object_is_type(v, json_type_object)))
        cred.source = v;
    for (int i = 0; i < 2; i++) {
        for (int simulate = 0; simulate < 2; simulate++) {
            mpp_env_t env = { NULL, NULL, NULL, NULL };
            mpp_payment_t pay;
            mpp_problem_t pr;
            memset(&pay, 0, sizeof(pay));
            pay.p = p;
            pay.env = &env;
            pay.cred = &cred;
            pay.offer = &offers[i];
            pay.request = requests[i];
            pay.challenge_id = CHALLENGE_ID;
            pay.realm = REALM;
            pay.now = apr_time_from_sec(NOW_SEC);
            pay.simulate = simulate;
            pr = mpp_method_evm.verify(&pay);
            if (pr == MPP_OK) {
                const char *type = mpp_json_str(cred.payload, "type");
                FUZZ_ASSERT(type && pay.identity, "accepted without an identity");
                if (!strcmp(type, "authorization"))
                    FUZZ_ASSERT(pay.payer && !strncmp(pay.identity, "evm:auth:8453:", 14)
                                && strlen(pay.identity) == 14 + 40 + 1 + 64, "identity %s", pay.identity);
                else {
                    FUZZ_ASSERT(!strncmp(pay.identity, "evm:tx:8453:", 12) && strlen(pay.identity) == 12 + 64,
                                "identity %s", pay.identity);
                    if (!strcmp(type, "transaction")) FUZZ_ASSERT(pay.payer, "a transaction without a payer");
                }
                FUZZ_ASSERT(!simulate, "a dry run without a relayer key passed");
            }
            else {
                FUZZ_ASSERT(pay.detail, "problem %d without a detail", (int)pr);
                check_problem(p, pr, pay.detail);
            }
        }
    }
done:
    fuzz_end();
    return 0;
}
