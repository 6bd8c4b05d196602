/* EIP-712 / EIP-3009 typed-data hashing with fuzzed fields, the
 * authorization nonce (challenge hash), signer recovery from untrusted
 * signatures, and the transferWithAuthorization call data.
 * Input: from, to, contract (20 bytes each), value, validAfter,
 * validBefore, nonce (32 each), chain id (8), a 65-byte signature, then
 * name NUL version NUL challenge-id NUL realm.
 * Invariants: domain and digest equal an independent encoding built from
 * the type strings (so the module's precomputed type hashes are checked
 * too); a digest signed with a fixed key recovers to its address for
 * v = 27/28 and 0/1; a high-s signature never recovers; call data
 * carries every field at its ABI offset. */
#include "fuzz.h"

#include "mpp_evm.h"
#include "mpp_keccak.h"
#include "mpp_secp.h"

static const unsigned char KEY0[32] = {
    0xac, 0x09, 0x74, 0xbe, 0xc3, 0x9a, 0x17, 0xe3, 0x6b, 0xa4, 0xa6, 0xb4, 0xd2, 0x38, 0xff, 0x94,
    0x4b, 0xac, 0xb4, 0x78, 0xcb, 0xed, 0x5e, 0xfc, 0xae, 0x78, 0x4d, 0x7b, 0xf4, 0xf2, 0xff, 0x80,
};
/* n / 2 of secp256k1: s above it is the malleable twin */
static const unsigned char HALF_N[32] = {
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0,
};
static unsigned char addr0[20], domain_th[32], twa_th[32];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char DOMAIN[] = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)";
    static const char TWA[] = "TransferWithAuthorization(address from,address to,uint256 value,"
                              "uint256 validAfter,uint256 validBefore,bytes32 nonce)";
    fuzz_init();
    if (mpp_secp_address(KEY0, addr0)) abort();
    mpp_keccak256(DOMAIN, strlen(DOMAIN), domain_th);
    mpp_keccak256(TWA, strlen(TWA), twa_th);
    return 0;
}

static void word_addr(unsigned char *w, const unsigned char a[20])
{
    memset(w, 0, 12);
    memcpy(w + 12, a, 20);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_begin();
    fuzz_in_t in = { data, size };
    unsigned char from[20], to[20], contract[20], value[32], after[32], before[32], nonce[32], chain[8], sig[65];
    unsigned char dom[32], dig[32], ref[32], enc[7 * 32], msg[66], rs[64], s65[65], got[20], call[292];
    const char *name, *version, *id, *realm;
    apr_uint64_t chain_id = 0;
    int recid;

    fuzz_bytes(&in, from, 20);
    fuzz_bytes(&in, to, 20);
    fuzz_bytes(&in, contract, 20);
    fuzz_bytes(&in, value, 32);
    fuzz_bytes(&in, after, 32);
    fuzz_bytes(&in, before, 32);
    fuzz_bytes(&in, nonce, 32);
    fuzz_bytes(&in, chain, 8);
    fuzz_bytes(&in, sig, 65);
    name = fuzz_field(p, &in, 0);
    version = fuzz_field(p, &in, 0);
    id = fuzz_field(p, &in, 0);
    realm = fuzz_field(p, &in, 0);
    for (int i = 0; i < 8; i++) chain_id = chain_id << 8 | chain[i];

    /* the domain separator, encoded here from the EIP-712 rules */
    mpp_eip712_domain(name, version, chain_id, contract, dom);
    memcpy(enc, domain_th, 32);
    mpp_keccak256(name, strlen(name), enc + 32);
    mpp_keccak256(version, strlen(version), enc + 64);
    memset(enc + 96, 0, 24);
    memcpy(enc + 120, chain, 8);
    word_addr(enc + 128, contract);
    mpp_keccak256(enc, 5 * 32, ref);
    FUZZ_ASSERT(!memcmp(dom, ref, 32), "domain separator %s, expected %s", fuzz_hex(p, dom, 32), fuzz_hex(p, ref, 32));

    /* the EIP-3009 digest */
    mpp_eip3009_digest(dom, from, to, value, after, before, nonce, dig);
    memcpy(enc, twa_th, 32);
    word_addr(enc + 32, from);
    word_addr(enc + 64, to);
    memcpy(enc + 96, value, 32);
    memcpy(enc + 128, after, 32);
    memcpy(enc + 160, before, 32);
    memcpy(enc + 192, nonce, 32);
    msg[0] = 0x19;
    msg[1] = 0x01;
    memcpy(msg + 2, dom, 32);
    mpp_keccak256(enc, sizeof(enc), msg + 34);
    mpp_keccak256(msg, sizeof(msg), ref);
    FUZZ_ASSERT(!memcmp(dig, ref, 32), "EIP-3009 digest %s, expected %s", fuzz_hex(p, dig, 32), fuzz_hex(p, ref, 32));

    /* the nonce an authorization must carry: keccak256(id || realm) */
    {
        mpp_keccak_t k;
        unsigned char h[32];
        mpp_evm_challenge_hash(id, realm, h);
        mpp_keccak_init(&k);
        mpp_keccak_update(&k, id, strlen(id));
        mpp_keccak_update(&k, realm, strlen(realm));
        mpp_keccak_final(&k, ref);
        FUZZ_ASSERT(!memcmp(h, ref, 32), "challenge hash differs from keccak256(id || realm)");
    }

    /* a signature by KEY0 over the digest recovers to KEY0's address */
    FUZZ_ASSERT(mpp_secp_sign(KEY0, dig, rs, &recid) == 0 && (recid == 0 || recid == 1), "cannot sign");
    FUZZ_ASSERT(memcmp(rs + 32, HALF_N, 32) <= 0, "signed with a high s");
    memcpy(s65, rs, 64);
    s65[64] = (unsigned char)(27 + recid);
    FUZZ_ASSERT(mpp_secp_recover(dig, s65, got) == 0 && !memcmp(got, addr0, 20), "v=27/28 does not recover");
    s65[64] = (unsigned char)recid;
    FUZZ_ASSERT(mpp_secp_recover(dig, s65, got) == 0 && !memcmp(got, addr0, 20), "v=0/1 does not recover");
    FUZZ_ASSERT(mpp_secp_recover_rs(dig, rs, rs + 32, recid, got) == 0 && !memcmp(got, addr0, 20),
                "recover_rs does not recover");

    /* the client's signature: whatever it recovers to, never from a high s */
    if (mpp_secp_recover(dig, sig, got) == 0) {
        FUZZ_ASSERT(memcmp(sig + 32, HALF_N, 32) <= 0, "a high-s signature recovered");
        FUZZ_ASSERT(sig[64] == 0 || sig[64] == 1 || sig[64] == 27 || sig[64] == 28, "v=%d recovered", sig[64]);
    }

    /* transferWithAuthorization call data: selector, then ABI words */
    mpp_eip3009_call_data(from, to, value, after, before, nonce, 27 + recid, rs, rs + 32, call);
    FUZZ_ASSERT(!memcmp(call, "\xe3\xee\x16\x0e", 4), "selector");
    word_addr(enc, from);
    FUZZ_ASSERT(!memcmp(call + 4, enc, 32), "from word");
    word_addr(enc, to);
    FUZZ_ASSERT(!memcmp(call + 36, enc, 32), "to word");
    FUZZ_ASSERT(!memcmp(call + 68, value, 32) && !memcmp(call + 100, after, 32) && !memcmp(call + 132, before, 32)
                && !memcmp(call + 164, nonce, 32) && call[227] == 27 + recid && !memcmp(call + 228, rs, 64),
                "call data layout");
    fuzz_end();
    return 0;
}
