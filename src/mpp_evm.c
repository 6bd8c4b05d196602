#include "mpp_evm.h"
#include "mpp_addr.h"
#include "mpp_keccak.h"
#include "mpp_rlp.h"
#include "mpp_secp.h"
#include "mpp_u256.h"

#include <apr_tables.h>
#include <string.h>

static const unsigned char TWA_TYPEHASH[32] = {   /* TransferWithAuthorization(...) */
    0x7c, 0x7c, 0x6c, 0xdb, 0x67, 0xa1, 0x87, 0x43, 0xf4, 0x9e, 0xc6, 0xfa, 0x9b, 0x35, 0xf5, 0x0d,
    0x52, 0xed, 0x05, 0xcb, 0xed, 0x4c, 0xc5, 0x92, 0xe1, 0x3b, 0x44, 0x50, 0x1c, 0x1a, 0x22, 0x67,
};
static const unsigned char DOMAIN_TYPEHASH[32] = { /* EIP712Domain(string,string,uint256,address) */
    0x8b, 0x73, 0xc3, 0xc6, 0x9b, 0xb8, 0xfe, 0x3d, 0x51, 0x2e, 0xcc, 0x4c, 0xf7, 0x59, 0xcc, 0x79,
    0x23, 0x9f, 0x7b, 0x17, 0x9b, 0x0f, 0xfa, 0xca, 0xa9, 0xa7, 0x5d, 0x52, 0x2b, 0x39, 0x40, 0x0f,
};

void mpp_evm_challenge_hash(const char *id, const char *realm, unsigned char out[32])
{
    mpp_keccak_t k;
    mpp_keccak_init(&k);
    mpp_keccak_update(&k, id, strlen(id));
    mpp_keccak_update(&k, realm, strlen(realm));
    mpp_keccak_final(&k, out);
}

static void word_addr(unsigned char w[32], const unsigned char a[20])
{
    memset(w, 0, 12);
    memcpy(w + 12, a, 20);
}

void mpp_eip712_domain(const char *name, const char *version, apr_uint64_t chain_id,
                       const unsigned char contract[20], unsigned char out[32])
{
    unsigned char enc[5 * 32];
    memcpy(enc, DOMAIN_TYPEHASH, 32);
    mpp_keccak256(name, strlen(name), enc + 32);
    mpp_keccak256(version, strlen(version), enc + 64);
    memset(enc + 96, 0, 32);
    for (int i = 0; i < 8; i++) enc[127 - i] = (unsigned char)(chain_id >> (8 * i));
    word_addr(enc + 128, contract);
    mpp_keccak256(enc, sizeof(enc), out);
}

void mpp_eip3009_digest(const unsigned char domain[32], const unsigned char from[20],
                        const unsigned char to[20], const unsigned char value[32],
                        const unsigned char valid_after[32], const unsigned char valid_before[32],
                        const unsigned char nonce[32], unsigned char out[32])
{
    unsigned char enc[7 * 32], msg[66];
    memcpy(enc, TWA_TYPEHASH, 32);
    word_addr(enc + 32, from);
    word_addr(enc + 64, to);
    memcpy(enc + 96, value, 32);
    memcpy(enc + 128, valid_after, 32);
    memcpy(enc + 160, valid_before, 32);
    memcpy(enc + 192, nonce, 32);
    msg[0] = 0x19;
    msg[1] = 0x01;
    memcpy(msg + 2, domain, 32);
    mpp_keccak256(enc, sizeof(enc), msg + 34);
    mpp_keccak256(msg, sizeof(msg), out);
}

int mpp_evm_tx_decode(const unsigned char *raw, apr_size_t len, mpp_evm_tx_t *tx, const char **err)
{
    mpp_rlp_t list, f[12];
    apr_size_t used;
    int n;
    unsigned char y[32], r[32], s[32], sighash[32];
    mpp_keccak_t k;

    memset(tx, 0, sizeof(*tx));
    if (len < 2 || raw[0] != 0x02) { *err = "not an EIP-1559 (type 2) transaction"; return -1; }
    if (mpp_rlp_decode(raw + 1, len - 1, &list, &used) || used != len - 1 || !list.is_list
        || mpp_rlp_items(&list, f, 12, &n) || n != 12) {
        *err = "transaction is not canonical RLP of 12 fields";
        return -1;
    }
    if (mpp_rlp_uint(&f[0], tx->chain_id) || mpp_rlp_uint(&f[1], tx->nonce)
        || mpp_rlp_uint(&f[2], tx->max_priority_fee) || mpp_rlp_uint(&f[3], tx->max_fee)
        || mpp_rlp_uint(&f[4], tx->gas) || mpp_rlp_uint(&f[6], tx->value)
        || mpp_rlp_uint(&f[9], y) || mpp_rlp_uint(&f[10], r) || mpp_rlp_uint(&f[11], s)) {
        *err = "transaction has a malformed number";
        return -1;
    }
    if (f[5].is_list || (f[5].len != 20 && f[5].len != 0) || f[7].is_list || !f[8].is_list) {
        *err = "transaction has a malformed field";
        return -1;
    }
    tx->has_to = f[5].len == 20;
    if (tx->has_to) memcpy(tx->to, f[5].p, 20);
    tx->data = f[7].p;
    tx->data_len = f[7].len;
    tx->access_list_empty = f[8].len == 0;
    for (int i = 0; i < 31; i++) if (y[i]) { *err = "bad signature parity"; return -1; }
    if (y[31] > 1) { *err = "bad signature parity"; return -1; }
    /* the signing hash covers 0x02 || rlp(first nine fields) */
    {
        apr_size_t body = (apr_size_t)(f[9].p - list.p) - (f[9].len == 1 && f[9].p[0] < 0x80 ? 0 : 1);
        unsigned char h[9];
        apr_size_t hn;
        const unsigned char *start = list.p;
        /* rebuild the list header for the shortened payload */
        if (body < 56) { h[0] = (unsigned char)(0xc0 + body); hn = 1; }
        else {
            unsigned char tmp[8];
            int kk = 0;
            apr_size_t l = body;
            while (l) { tmp[kk++] = (unsigned char)(l & 0xff); l >>= 8; }
            h[0] = (unsigned char)(0xf7 + kk);
            for (int i = 0; i < kk; i++) h[1 + i] = tmp[kk - 1 - i];
            hn = (apr_size_t)kk + 1;
        }
        mpp_keccak_init(&k);
        mpp_keccak_update(&k, raw, 1);
        mpp_keccak_update(&k, h, hn);
        mpp_keccak_update(&k, start, body);
        mpp_keccak_final(&k, sighash);
    }
    if (mpp_secp_recover_rs(sighash, r, s, y[31], tx->from)) {
        *err = "transaction signature does not recover (or has a high s)";
        return -1;
    }
    mpp_keccak256(raw, len, tx->hash);
    return 0;
}

/* 0x02 || rlp([fields..., accessList=[] (, yParity, r, s)]) */
static apr_array_header_t *encode_tx(apr_pool_t *p, const mpp_evm_tx_t *tx, const unsigned char *rs,
                                     int recid)
{
    apr_array_header_t *b = apr_array_make(p, 256, 1);
    *(unsigned char *)apr_array_push(b) = 0x02;
    mpp_rlp_put_uint(b, tx->chain_id);
    mpp_rlp_put_uint(b, tx->nonce);
    mpp_rlp_put_uint(b, tx->max_priority_fee);
    mpp_rlp_put_uint(b, tx->max_fee);
    mpp_rlp_put_uint(b, tx->gas);
    mpp_rlp_put_bytes(b, tx->to, tx->has_to ? 20 : 0);
    mpp_rlp_put_uint(b, tx->value);
    mpp_rlp_put_bytes(b, tx->data, tx->data_len);
    *(unsigned char *)apr_array_push(b) = 0xc0;          /* empty access list */
    if (rs) {
        unsigned char w[32];
        mpp_u256_from_u64((apr_uint64_t)recid, w);
        mpp_rlp_put_uint(b, w);
        memcpy(w, rs, 32);
        mpp_rlp_put_uint(b, w);
        memcpy(w, rs + 32, 32);
        mpp_rlp_put_uint(b, w);
    }
    mpp_rlp_wrap_list(b, 1);
    return b;
}

int mpp_evm_tx_sign(apr_pool_t *p, const mpp_evm_tx_t *tx, const unsigned char key[32],
                    unsigned char **raw, apr_size_t *len)
{
    apr_array_header_t *b = encode_tx(p, tx, NULL, 0);
    unsigned char sighash[32], rs[64];
    int recid;

    mpp_keccak256(b->elts, (apr_size_t)b->nelts, sighash);
    if (mpp_secp_sign(key, sighash, rs, &recid)) return -1;
    b = encode_tx(p, tx, rs, recid);
    *raw = (unsigned char *)b->elts;
    *len = (apr_size_t)b->nelts;
    return 0;
}

void mpp_erc20_transfer_data(const unsigned char to[20], const unsigned char amount[32],
                             unsigned char out[68])
{
    static const unsigned char sel[4] = { 0xa9, 0x05, 0x9c, 0xbb };
    memcpy(out, sel, 4);
    word_addr(out + 4, to);
    memcpy(out + 36, amount, 32);
}

int mpp_erc20_parse_transfer(const unsigned char *data, apr_size_t len, unsigned char to[20],
                             unsigned char amount[32])
{
    static const unsigned char sel[4] = { 0xa9, 0x05, 0x9c, 0xbb };
    static const unsigned char zero[12] = { 0 };
    if (len != 68 || memcmp(data, sel, 4) || memcmp(data + 4, zero, 12)) return -1;
    memcpy(to, data + 16, 20);
    memcpy(amount, data + 36, 32);
    return 0;
}

void mpp_eip3009_call_data(const unsigned char from[20], const unsigned char to[20],
                           const unsigned char value[32], const unsigned char valid_after[32],
                           const unsigned char valid_before[32], const unsigned char nonce[32],
                           int v, const unsigned char r[32], const unsigned char s[32],
                           unsigned char out[292])
{
    static const unsigned char sel[4] = { 0xe3, 0xee, 0x16, 0x0e };
    memcpy(out, sel, 4);
    word_addr(out + 4, from);
    word_addr(out + 36, to);
    memcpy(out + 68, value, 32);
    memcpy(out + 100, valid_after, 32);
    memcpy(out + 132, valid_before, 32);
    memcpy(out + 164, nonce, 32);
    memset(out + 196, 0, 32);
    out[227] = (unsigned char)v;
    memcpy(out + 228, r, 32);
    memcpy(out + 260, s, 32);
}

static const unsigned char TRANSFER_TOPIC[32] = {   /* Transfer(address,address,uint256) */
    0xdd, 0xf2, 0x52, 0xad, 0x1b, 0xe2, 0xc8, 0x9b, 0x69, 0xc2, 0xb0, 0x68, 0xfc, 0x37, 0x8d, 0xaa,
    0x95, 0x2b, 0xa7, 0xf1, 0x63, 0xc4, 0xa1, 0x16, 0x28, 0xf5, 0x5a, 0x4d, 0xf5, 0x23, 0xb3, 0xef,
};

/* One 32-byte hex member of a JSON array (never trusting the node's types). */
static int word_at(json_object *arr, size_t i, unsigned char out[32])
{
    json_object *v = json_object_array_get_idx(arr, i);
    return v && json_object_is_type(v, json_type_string) ? mpp_hex_decode(json_object_get_string(v), out, 32) : -1;
}

mpp_evm_transfer_t mpp_evm_receipt_transfer(json_object *receipt, const unsigned char token[20],
                                            const unsigned char recipient[20], const unsigned char *from,
                                            const unsigned char amount[32])
{
    mpp_evm_transfer_t best = MPP_EVM_NO_TRANSFER;
    json_object *logs, *l, *topics, *v;
    if (!json_object_object_get_ex(receipt, "logs", &logs) || !json_object_is_type(logs, json_type_array))
        return best;
    for (size_t i = 0; i < json_object_array_length(logs); i++) {
        unsigned char a[20], t0[32], t1[32], t2[32], val[32];
        l = json_object_array_get_idx(logs, i);
        if (!l || !json_object_object_get_ex(l, "address", &v) || !json_object_is_type(v, json_type_string)
            || mpp_evm_address_parse(json_object_get_string(v), a) || memcmp(a, token, 20))
            continue;
        if (!json_object_object_get_ex(l, "topics", &topics) || !json_object_is_type(topics, json_type_array)
            || json_object_array_length(topics) != 3 || word_at(topics, 0, t0) || memcmp(t0, TRANSFER_TOPIC, 32)
            || word_at(topics, 1, t1) || word_at(topics, 2, t2))
            continue;
        if (!json_object_object_get_ex(l, "data", &v) || !json_object_is_type(v, json_type_string)
            || mpp_hex_decode(json_object_get_string(v), val, 32))
            continue;
        if (memcmp(t2 + 12, recipient, 20) || (from && memcmp(t1 + 12, from, 20)))
            continue;
        if (memcmp(val, amount, 32) >= 0) return MPP_EVM_TRANSFER_PAID;
        best = MPP_EVM_TRANSFER_BELOW;
    }
    return best;
}

int mpp_evm_receipt_sender_is(json_object *receipt, const unsigned char addr[20])
{
    json_object *v;
    unsigned char a[20];
    /* a receipt without a readable sender is treated as sent by addr: the
     * caller refuses what it cannot tell apart */
    if (!json_object_object_get_ex(receipt, "from", &v) || !json_object_is_type(v, json_type_string)
        || mpp_evm_address_parse(json_object_get_string(v), a))
        return 1;
    return memcmp(a, addr, 20) == 0;
}
