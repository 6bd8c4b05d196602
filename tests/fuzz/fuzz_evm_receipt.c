/* A transaction receipt as a node sends it (eth_getTransactionReceipt's
 * result), read the way the evm method and the Vlexivo unlock handler read
 * it: strict JSON with the RPC limits, status, the Transfer logs
 * (mpp_evm_receipt_transfer) and the block number. The expected token,
 * payee, payer and amount come from the first 92 input bytes, the receipt
 * JSON from the rest, so the fuzzer can make logs match.
 * Invariants: naming the payer never makes a receipt pay more; a receipt
 * that pays an amount pays every smaller one; PAID means some log really
 * carries token, payee and a value of at least the amount (checked here
 * independently); the classification does not depend on unrelated logs
 * appended after it; the sender test reads "from" as an address. */
#include "fuzz.h"

#include <json-c/json.h>

#include "mpp_addr.h"
#include "mpp_evm.h"
#include "mpp_json.h"
#include "mpp_u256.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    return 0;
}

static int hex32(json_object *v, unsigned char out[32])
{
    return v && json_object_is_type(v, json_type_string) ? mpp_hex_decode(json_object_get_string(v), out, 32) : -1;
}

/* An independent reading of "some log pays": the reference for PAID. */
static int some_log_pays(json_object *r, const unsigned char token[20], const unsigned char to[20],
                         const unsigned char *from, const unsigned char amount[32])
{
    static const char TOPIC[] = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";
    json_object *logs;
    if (!json_object_object_get_ex(r, "logs", &logs) || !json_object_is_type(logs, json_type_array)) return 0;
    for (size_t i = 0; i < json_object_array_length(logs); i++) {
        json_object *l = json_object_array_get_idx(logs, i), *a, *t, *d;
        unsigned char addr[20], w0[32], w1[32], w2[32], val[32];
        if (!l || !json_object_is_type(l, json_type_object)
            || !json_object_object_get_ex(l, "address", &a) || !json_object_is_type(a, json_type_string)
            || mpp_evm_address_parse(json_object_get_string(a), addr) || memcmp(addr, token, 20)
            || !json_object_object_get_ex(l, "topics", &t) || !json_object_is_type(t, json_type_array)
            || json_object_array_length(t) != 3
            || hex32(json_object_array_get_idx(t, 0), w0) || hex32(json_object_array_get_idx(t, 1), w1)
            || hex32(json_object_array_get_idx(t, 2), w2)
            || !json_object_object_get_ex(l, "data", &d) || hex32(d, val))
            continue;
        if (strcasecmp(json_object_get_string(json_object_array_get_idx(t, 0)), TOPIC)) continue;
        if (memcmp(w2 + 12, to, 20) || (from && memcmp(w1 + 12, from, 20))) continue;
        if (memcmp(val, amount, 32) >= 0) return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_begin();
    fuzz_in_t in = { data, size };
    unsigned char token[20], to[20], from[20], amount[32], smaller[32], q[32];
    const char *err, *text;
    json_object *r;
    size_t tlen;

    fuzz_bytes(&in, token, 20);
    fuzz_bytes(&in, to, 20);
    fuzz_bytes(&in, from, 20);
    fuzz_bytes(&in, amount, 32);
    tlen = in.n;
    text = fuzz_str(p, in.d, tlen);
    r = mpp_json_parse(p, text, tlen, 4 * 1024 * 1024, 64, &err);
    if (r && json_object_is_type(r, json_type_object)) {
        mpp_evm_transfer_t any = mpp_evm_receipt_transfer(r, token, to, NULL, amount);
        mpp_evm_transfer_t payer = mpp_evm_receipt_transfer(r, token, to, from, amount);
        const char *bn = mpp_json_str(r, "blockNumber");
        apr_uint64_t u;
        int i;

        FUZZ_ASSERT(payer <= any, "naming the payer made it pay more");
        FUZZ_ASSERT((any == MPP_EVM_TRANSFER_PAID) == some_log_pays(r, token, to, NULL, amount),
                    "PAID disagrees with the logs: %d", (int)any);
        FUZZ_ASSERT((payer == MPP_EVM_TRANSFER_PAID) == some_log_pays(r, token, to, from, amount),
                    "PAID (with payer) disagrees with the logs: %d", (int)payer);
        /* amount - 1 (when non-zero) is paid whenever amount is */
        memcpy(smaller, amount, 32);
        for (i = 31; i >= 0 && smaller[i] == 0; i--) smaller[i] = 0xff;
        if (i >= 0) {
            smaller[i]--;
            if (any == MPP_EVM_TRANSFER_PAID)
                FUZZ_ASSERT(mpp_evm_receipt_transfer(r, token, to, NULL, smaller) == MPP_EVM_TRANSFER_PAID,
                            "pays %s but not one less", fuzz_hex(p, amount, 32));
        }
        /* an unrelated log appended changes nothing */
        {
            json_object *logs;
            if (json_object_object_get_ex(r, "logs", &logs) && json_object_is_type(logs, json_type_array)) {
                json_object *l = json_object_new_object();
                json_object_object_add(l, "address", json_object_new_string("0x0000000000000000000000000000000000000000"));
                json_object_array_add(logs, l);
                if (memcmp(token, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 20))
                    FUZZ_ASSERT(mpp_evm_receipt_transfer(r, token, to, NULL, amount) == any,
                                "an unrelated log changed the result");
            }
        }
        if (bn && !mpp_u256_from_quantity(bn, q)) mpp_u256_to_u64(q, &u);
        mpp_json_str(r, "status");
        /* the relayer's own transaction: a readable "from" decides, an
         * unreadable one counts as the relayer's (refused, never paid) */
        {
            const char *f = mpp_json_str(r, "from");
            unsigned char a[20];
            int is = mpp_evm_receipt_sender_is(r, from);
            if (f && !mpp_evm_address_parse(f, a)) FUZZ_ASSERT(is == !memcmp(a, from, 20), "sender_is(%s) = %d", f, is);
            else FUZZ_ASSERT(is == 1, "an unreadable sender is not treated as the relayer");
        }
    }
    fuzz_end();
    return 0;
}
