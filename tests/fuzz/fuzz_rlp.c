/* RLP decoding of untrusted bytes (mpp_rlp_decode, mpp_rlp_items,
 * mpp_rlp_uint) and the EIP-1559 transaction decoder built on it
 * (mpp_evm_tx_decode, with sender recovery), and the ERC-20 call data
 * parser. Invariants: the decoder accepts canonical RLP only, so encoding
 * what it decoded gives back exactly the bytes it consumed; items never
 * reach past their list; a decoded transaction signed again (with a fixed
 * key) decodes to the same fields; transfer data round-trips. */
#include "fuzz.h"

#include <apr_tables.h>

#include "mpp_evm.h"
#include "mpp_rlp.h"
#include "mpp_secp.h"

#define MAX_ITEMS 64
#define MAX_DEPTH 32

/* the widely published first development key */
static const unsigned char KEY0[32] = {
    0xac, 0x09, 0x74, 0xbe, 0xc3, 0x9a, 0x17, 0xe3, 0x6b, 0xa4, 0xa6, 0xb4, 0xd2, 0x38, 0xff, 0x94,
    0x4b, 0xac, 0xb4, 0x78, 0xcb, 0xed, 0x5e, 0xfc, 0xae, 0x78, 0x4d, 0x7b, 0xf4, 0xf2, 0xff, 0x80,
};
static unsigned char addr0[20];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    if (mpp_secp_address(KEY0, addr0)) abort();
    return 0;
}

/* Re-encode item into b; 0, or -1 when a list is too long to walk here. */
static int encode(apr_array_header_t *b, const mpp_rlp_t *it, int depth)
{
    mpp_rlp_t items[MAX_ITEMS];
    int n, start = b->nelts;
    if (!it->is_list) {
        unsigned char w[32];
        mpp_rlp_put_bytes(b, it->p, it->len);
        /* a canonical integer encodes the same through put_uint */
        if (mpp_rlp_uint(it, w) == 0) {
            apr_array_header_t *u = apr_array_make(b->pool, 40, 1);
            int i = 0;
            mpp_rlp_put_uint(u, w);
            while (i < 32 && !w[i]) i++;
            FUZZ_ASSERT((size_t)u->nelts == (size_t)(b->nelts - start), "uint encodes differently");
            FUZZ_ASSERT(!memcmp(u->elts, b->elts + start, (size_t)u->nelts), "uint encodes differently");
            FUZZ_ASSERT((size_t)(32 - i) == it->len, "uint of %zu bytes has %d significant", (size_t)it->len, 32 - i);
        }
        return 0;
    }
    if (depth >= MAX_DEPTH || mpp_rlp_items(it, items, MAX_ITEMS, &n)) return -1;
    for (int i = 0; i < n; i++) {
        FUZZ_ASSERT(items[i].p >= it->p && items[i].p + items[i].len <= it->p + it->len,
                    "item %d reaches outside its list", i);
        if (encode(b, &items[i], depth + 1)) return -1;
    }
    mpp_rlp_wrap_list(b, start);
    return 0;
}

static void check_tx(apr_pool_t *p, const uint8_t *data, size_t size)
{
    mpp_evm_tx_t tx, again;
    const char *err = NULL;
    unsigned char *raw, to[20], amount[32], d[68];
    apr_size_t len;

    if (mpp_evm_tx_decode(data, size, &tx, &err)) {
        FUZZ_ASSERT(err != NULL, "refused without a reason");
        return;
    }
    FUZZ_ASSERT(tx.data >= data && tx.data + tx.data_len <= data + size, "data outside the input");
    if (!mpp_erc20_parse_transfer(tx.data, tx.data_len, to, amount)) {
        mpp_erc20_transfer_data(to, amount, d);
        FUZZ_ASSERT(tx.data_len == 68 && !memcmp(d, tx.data, 68), "transfer data does not round-trip");
    }
    /* signing needs an empty access list; the decoder keeps none */
    if (!tx.access_list_empty) return;
    FUZZ_ASSERT(mpp_evm_tx_sign(p, &tx, KEY0, &raw, &len) == 0, "cannot sign decoded fields");
    FUZZ_ASSERT(mpp_evm_tx_decode(raw, len, &again, &err) == 0, "own transaction refused: %s", err);
    FUZZ_ASSERT(!memcmp(again.from, addr0, 20), "recovered %s, signed by %s", fuzz_hex(p, again.from, 20),
                fuzz_hex(p, addr0, 20));
    FUZZ_ASSERT(!memcmp(again.chain_id, tx.chain_id, 32) && !memcmp(again.nonce, tx.nonce, 32)
                && !memcmp(again.max_priority_fee, tx.max_priority_fee, 32) && !memcmp(again.max_fee, tx.max_fee, 32)
                && !memcmp(again.gas, tx.gas, 32) && !memcmp(again.value, tx.value, 32)
                && again.has_to == tx.has_to && (!tx.has_to || !memcmp(again.to, tx.to, 20))
                && again.data_len == tx.data_len && !memcmp(again.data, tx.data, tx.data_len),
                "fields changed by sign/decode");
    /* a transaction that was signed by KEY0 re-signs to the same bytes */
    if (!memcmp(tx.from, addr0, 20))
        FUZZ_ASSERT(len == size && !memcmp(raw, data, size), "KEY0's transaction re-signs differently");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_begin();
    /* an exact copy: the decoder must not read past it */
    unsigned char *in = apr_palloc(p, size ? size : 1);
    mpp_rlp_t it;
    apr_size_t used = 0;

    if (size) memcpy(in, data, size);
    if (mpp_rlp_decode(in, size, &it, &used) == 0) {
        apr_array_header_t *b = apr_array_make(p, 64, 1);
        FUZZ_ASSERT(used >= 1 && used <= size, "used %zu of %zu", (size_t)used, size);
        FUZZ_ASSERT(it.p >= in && it.p + it.len <= in + used, "payload outside the item");
        if (encode(b, &it, 0) == 0)
            FUZZ_ASSERT((size_t)b->nelts == used && !memcmp(b->elts, in, used),
                        "re-encoding differs: %s vs %s", fuzz_hex(p, in, used),
                        fuzz_hex(p, (unsigned char *)b->elts, (size_t)b->nelts));
    }
    /* the same bytes as a type-2 transaction (the tag added when missing) */
    if (size && in[0] == 0x02) check_tx(p, in, size);
    else {
        unsigned char *t = apr_palloc(p, size + 1);
        t[0] = 0x02;
        if (size) memcpy(t + 1, in, size);
        check_tx(p, t, size + 1);
    }
    fuzz_end();
    return 0;
}
