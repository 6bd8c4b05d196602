/* The Vlexivo unlock body. Its parser is inline in mpp_unlock_handler
 * (src/mod_mpp_vlexivo.c, httpd glue that needs a request_rec), so this
 * target runs the same core calls on the body in the same order, with the
 * same limits: strict JSON (16 KiB, depth 8), proof.{nonce, tx_hash,
 * buyer_wallet} and currency, tx_hash as 32 bytes of hex, the buyer as an
 * EVM address, the nonce's "vlx1." payload "." MAC split and MAC check, the
 * payload's base64url JSON (2 KiB, depth 2) with "r" and "e", and the
 * currency against the offers' asset names and addresses. The MAC is an
 * HMAC the fuzzer cannot forge, so after checking it as the handler does,
 * the payload is decoded anyway: the server's own nonces go through that
 * code. Invariants: a body the handler would take has a 32-byte hash and,
 * when a buyer is named, a 20-byte address; the nonce the server issues
 * for a payload is accepted. */
#include "fuzz.h"

#include <apr_strings.h>
#include <strings.h>

#include "mpp_addr.h"
#include "mpp_b64.h"
#include "mpp_crypto.h"
#include "mpp_json.h"
#include "mpp_u256.h"

#define MAX_UNLOCK_BODY 16384

static const unsigned char KEY[32] = "vlexivo-fuzz-key-32-bytes-long!";
static const char *const ASSET_NAMES[] = { "usdc", "USDC-base" };
static const char *const ASSET_ADDRS[] = { "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913",
                                           "0x036CbD53842c5426634e7929541eC2318f3dCF7e" };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    return 0;
}

/* as nonce_mac in mod_mpp_vlexivo.c */
static const char *nonce_mac(apr_pool_t *p, const char *payload)
{
    unsigned char mac[32];
    const char *in = apr_pstrcat(p, "vlexivo|", payload, NULL);
    mpp_hmac_sha256(KEY, sizeof(KEY), (const unsigned char *)in, strlen(in), mac);
    return mpp_b64url_encode(p, mac, sizeof(mac));
}

/* place_offer's currency test: an asset name, or the same 20 address bytes */
static int currency_matches(const char *currency, int i)
{
    unsigned char want[20], have[20];
    return !currency || !strcasecmp(currency, ASSET_NAMES[i])
        || (!mpp_evm_address_parse(currency, want) && !mpp_evm_address_parse(ASSET_ADDRS[i], have)
            && !memcmp(want, have, 20));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_begin();
    const char *body = fuzz_str(p, data, size), *err, *nonce, *txh, *buyer, *currency, *payload, *mac, *dot;
    json_object *doc, *proof, *np, *v;
    unsigned char hash[32], buyer_b[20];

    if (!(doc = mpp_json_parse(p, body, size, MAX_UNLOCK_BODY, 8, &err)) || !json_object_is_type(doc, json_type_object)
        || !json_object_object_get_ex(doc, "proof", &proof) || !json_object_is_type(proof, json_type_object))
        goto done;
    nonce = mpp_json_str(proof, "nonce");
    txh = mpp_json_str(proof, "tx_hash");
    buyer = mpp_json_str(proof, "buyer_wallet");
    currency = mpp_json_str(doc, "currency");
    if (!nonce || !txh || mpp_hex_decode(txh, hash, 32) || (buyer && mpp_evm_address_parse(buyer, buyer_b)))
        goto done;
    FUZZ_ASSERT(strlen(txh) == 66, "tx_hash of %zu chars taken", strlen(txh));
    FUZZ_ASSERT(!buyer || strlen(buyer) == 42, "buyer of %zu chars taken", strlen(buyer));
    /* the hash as the handler sends it to the node: canonical lower case */
    FUZZ_ASSERT(!strcasecmp(mpp_hex_encode(p, hash, 32), txh), "hash %s re-encodes differently", txh);
    for (int i = 0; i < 2; i++) currency_matches(currency, i);

    if (strncmp(nonce, "vlx1.", 5) || !(dot = strchr(nonce + 5, '.')) || strlen(nonce) > 1024) goto done;
    payload = apr_pstrmemdup(p, nonce + 5, (apr_size_t)(dot - nonce - 5));
    mac = dot + 1;
    {
        const char *want = nonce_mac(p, payload);
        /* the server's nonce for this payload always passes */
        FUZZ_ASSERT(mpp_ct_streq(want, nonce_mac(p, payload)), "MAC is not deterministic");
        (void)mpp_ct_streq(mac, want);
    }
    if ((np = mpp_json_from_b64url(p, payload, 2048, 2, &err)) && mpp_json_str(np, "r")
        && json_object_object_get_ex(np, "e", &v) && json_object_is_type(v, json_type_int)) {
        /* the handler turns e into microseconds here: fine for the values
         * it issues (now + 900 s); any other e needs a forged MAC */
        json_object_get_int64(v);
        /* the store key of the nonce */
        FUZZ_ASSERT(strlen(apr_pstrcat(p, "vlx:", mac, NULL)) == 4 + strlen(mac), "store key");
    }
done:
    fuzz_end();
    return 0;
}
