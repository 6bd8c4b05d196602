/* Unit tests of the EVM primitives (Keccak-256, secp256k1, uint256 and hex,
 * RLP, EIP-1559 transactions, EIP-712/EIP-3009, ERC-20 call data) and of the
 * JSON-RPC client, against a loopback HTTP server run inside the test. */
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <json-c/json.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "mpp_evm.h"
#include "mpp_json.h"
#include "mpp_keccak.h"
#include "mpp_rlp.h"
#include "mpp_rpc.h"
#include "mpp_secp.h"
#include "mpp_u256.h"

#include "tests.h"

/* ------------------------------------------------------------------ */
/* fixture and helpers                                                 */

static apr_pool_t *tp;

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&tp, NULL), APR_SUCCESS);
}

static void teardown(void)
{
    apr_pool_destroy(tp);
    tp = NULL;
}

static TCase *tcase(const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    return tc;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Test data in hex (with or without 0x) -> exactly n bytes. */
static void unhex(const char *h, unsigned char *out, apr_size_t n)
{
    if (h[0] == '0' && h[1] == 'x') h += 2;
    ck_assert_msg(strlen(h) == 2 * n, "test vector %s is not %u bytes", h, (unsigned)n);
    for (apr_size_t i = 0; i < n; i++) {
        int a = hexval(h[2 * i]), b = hexval(h[2 * i + 1]);
        ck_assert(a >= 0 && b >= 0);
        out[i] = (unsigned char)(a << 4 | b);
    }
}

/* Test data in hex -> pool bytes of its own length. */
static unsigned char *unhex_p(const char *h, apr_size_t *n)
{
    unsigned char *b;
    if (h[0] == '0' && h[1] == 'x') h += 2;
    *n = strlen(h) / 2;
    b = apr_palloc(tp, *n + 1);
    unhex(h, b, *n);
    return b;
}

/* Lower-case hex without a prefix (independent of mpp_hex_encode). */
static const char *hexs(const unsigned char *b, apr_size_t n)
{
    static const char d[] = "0123456789abcdef";
    char *o = apr_palloc(tp, 2 * n + 1);
    for (apr_size_t i = 0; i < n; i++) {
        o[2 * i] = d[b[i] >> 4];
        o[2 * i + 1] = d[b[i] & 15];
    }
    o[2 * n] = '\0';
    return o;
}

static unsigned char *pattern(apr_size_t n)
{
    unsigned char *b = apr_palloc(tp, n ? n : 1);
    for (apr_size_t i = 0; i < n; i++)
        b[i] = (unsigned char)((i * 7 + 3) & 0xff);
    return b;
}

static const char *kec(const void *d, apr_size_t n)
{
    unsigned char h[32];
    mpp_keccak256(d, n, h);
    return hexs(h, 32);
}

static const char *kec_s(const char *s)
{
    return kec(s, strlen(s));
}

/* the widely published first development key and its address */
#define KEY0 "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
#define ADDR0 "f39fd6e51aad88f6f4ce6ab8827279cfffb92266"
#define USDC_BASE "833589fcd6edb6e08f4c7c32d4f71b54bda02913"
#define PAYEE "742d35cc6634c0532925a3b844bc9e7595f8fe00"

/* EIP-3009 authorization signed by KEY0 (Base USDC, 10000 units to PAYEE) */
#define DOMAIN_SEP "02fa7265e7c5d81118673727957699e4d68f74cd74b7db77da710fe8a2c7834f"
#define AUTH_NONCE "08e2a36c9a7ea49949f519ff74249afee3a5ee5a7a30ebfd0c03722e7d1df903"
#define AUTH_DIGEST "5385245ed664d27eeda60c3ce7573530279023ff687ae4bf0567be503bdf571a"
#define AUTH_SIG \
    "87eba18ad8ac7292fdf20beacc144906ea64ac30afc602a9ea6c610ccc7bdb26" \
    "3c5408f84c63361124f976382f556c7353622c2b58d2a6cef1511ff2f2b59519" "1b"

/* EIP-1559 transaction signed by KEY0: transfer(PAYEE, 10000) on Base USDC */
#define TRANSFER_DATA \
    "a9059cbb000000000000000000000000742d35cc6634c0532925a3b844bc9e7595f8fe00" \
    "0000000000000000000000000000000000000000000000000000000000002710"
#define RAW_TX \
    "02f8b182210580830f4240843b9aca00830186a094833589fcd6edb6e08f4c7c32d4f71b54bda02913" \
    "80b844" TRANSFER_DATA "c080" \
    "a050c1ca9bae3b6bbe16bc3dbc504b5121eb426948643bfdcfef44dde0ea6d5f81" \
    "a023c2621fed030065ab5d0fe3e231f458afc4850bf73f1d2cb55a490d9680e645"
#define RAW_TX_HASH "f6cf7b704600958a6708377d6550dc45ff5759fd91acbf5eedd4c989f5570331"

/* contract creations with every other field zero (chain 8453, nonces 0 and
 * 1, signed by KEY0): their unsigned lists are shorter than 56 bytes, and
 * they carry yParity 1 and 0 */
#define SHORT_TX_N0 \
    "02f84e82210580808080808080c001" \
    "a0717d822230bb453940bb322b96a75b23c0408ef19442d7ae3cb9d96defe43b3b" \
    "a02552ae4ef096ebbb7dc6d6441be3f67ab3e185e12253a19f61fd70b426688a45"
#define SHORT_TX_N1 \
    "02f84e82210501808080808080c080" \
    "a0b48b379c747500465de2a77de91366f688bee42ceca285198f571566c8992c8b" \
    "a063a4165f276ba6a1d3621a197bf70c0b1eb067b17c6f6cccb8415dec728bc088"

/* the order of secp256k1, big-endian */
static const unsigned char SECP_N[32] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
    0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
};

/* out = a - b (mod 2^256), big-endian */
static void sub256(const unsigned char a[32], const unsigned char b[32], unsigned char out[32])
{
    int borrow = 0;
    for (int i = 31; i >= 0; i--) {
        int d = a[i] - b[i] - borrow;
        borrow = d < 0;
        out[i] = (unsigned char)(d + (borrow ? 256 : 0));
    }
}

/* ------------------------------------------------------------------ */
/* Keccak-256                                                          */

START_TEST(keccak_vectors)
{
    ck_assert_str_eq(kec("", 0), "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
    ck_assert_str_eq(kec_s("abc"), "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
}
END_TEST

START_TEST(keccak_rate_boundaries)
{
    /* one byte short of the 136-byte rate, exactly it, one over, two blocks;
     * input byte i is (7i + 3) mod 256 */
    static const struct { apr_size_t n; const char *h; } v[] = {
        { 135, "00ef96af9cf4b24c7f269d922294444a197d0a33638c2e56634c57e892103a8f" },
        { 136, "742061bcad767ed4c4f5883b1dcb1aad11afdcc140dc469d953759b127b9f9ed" },
        { 137, "e3371f61e770abf254c34239c3b0099ad90594507415bc81dd0a10b9692bbf2a" },
        { 272, "ac141fd7b0a0ffcd2e967254d508da3ec616596493c36fa304425647d90e6de5" },
        { 1000, "80cdc8dd52cbb3dbaea8f383209893fa2bb52efbd5aedbb4b26dcfe307fcdc9b" },
    };
    for (unsigned i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        ck_assert_str_eq(kec(pattern(v[i].n), v[i].n), v[i].h);
}
END_TEST

START_TEST(keccak_incremental)
{
    static const apr_size_t chunk[] = { 1, 2, 3, 5, 7, 11, 13, 31, 67, 135, 136, 137, 271, 999 };
    static const apr_size_t mixed[] = { 0, 1, 134, 0, 1, 2, 135, 136, 137, 3, 0, 272, 179 };
    const apr_size_t total = 1000;
    const unsigned char *d = pattern(total);
    unsigned char one[32], inc[32];
    mpp_keccak_t k;

    mpp_keccak256(d, total, one);
    for (unsigned c = 0; c < sizeof(chunk) / sizeof(chunk[0]); c++) {
        mpp_keccak_init(&k);
        for (apr_size_t off = 0; off < total; off += chunk[c])
            mpp_keccak_update(&k, d + off, total - off < chunk[c] ? total - off : chunk[c]);
        mpp_keccak_final(&k, inc);
        ck_assert_msg(memcmp(one, inc, 32) == 0, "chunks of %u differ", (unsigned)chunk[c]);
    }
    {
        apr_size_t off = 0;
        mpp_keccak_init(&k);
        for (unsigned i = 0; i < sizeof(mixed) / sizeof(mixed[0]); i++) {
            mpp_keccak_update(&k, d + off, mixed[i]);
            off += mixed[i];
        }
        ck_assert_uint_eq(off, total);
        mpp_keccak_final(&k, inc);
        ck_assert_mem_eq(one, inc, 32);
    }
    /* each prefix length, split at every 17th byte, matches one-shot */
    for (apr_size_t n = 0; n <= 300; n++) {
        mpp_keccak256(d, n, one);
        mpp_keccak_init(&k);
        for (apr_size_t off = 0; off < n; off += 17)
            mpp_keccak_update(&k, d + off, n - off < 17 ? n - off : 17);
        mpp_keccak_final(&k, inc);
        ck_assert_msg(memcmp(one, inc, 32) == 0, "length %u differs", (unsigned)n);
    }
}
END_TEST

START_TEST(keccak_type_and_selector_constants)
{
    static const struct { const char *text; const char *hash; apr_size_t n; } v[] = {
        { "TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,"
          "uint256 validBefore,bytes32 nonce)",
          "7c7c6cdb67a18743f49ec6fa9b35f50d52ed05cbed4cc592e13b44501c1a2267", 32 },
        { "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)",
          "8b73c3c69bb8fe3d512ecc4cf759cc79239f7b179b0ffacaa9a75d522b39400f", 32 },
        { "Transfer(address,address,uint256)",
          "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef", 32 },
        { "AuthorizationUsed(address,bytes32)",
          "98de503528ee59b575ef0c0a2576a82497bfc029a5685b209e9ec333479b10a5", 32 },
        { "transfer(address,uint256)", "a9059cbb", 4 },
        { "balanceOf(address)", "70a08231", 4 },
        { "allowance(address,address)", "dd62ed3e", 4 },
        { "transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,uint8,"
          "bytes32,bytes32)", "e3ee160e", 4 },
        { "authorizationState(address,bytes32)", "e94a0102", 4 },
    };
    for (unsigned i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        unsigned char h[32];
        mpp_keccak256(v[i].text, strlen(v[i].text), h);
        ck_assert_str_eq(hexs(h, v[i].n), v[i].hash);
    }
}
END_TEST

/* ------------------------------------------------------------------ */
/* secp256k1                                                           */

START_TEST(secp_address_of_key)
{
    unsigned char key[32], addr[20];
    unhex(KEY0, key, 32);
    ck_assert_int_eq(mpp_secp_address(key, addr), 0);
    ck_assert_str_eq(hexs(addr, 20), ADDR0);
}
END_TEST

START_TEST(secp_recover_vector)
{
    unsigned char digest[32], sig[65], addr[20], other[32];

    unhex(AUTH_DIGEST, digest, 32);
    unhex(AUTH_SIG, sig, 65);
    ck_assert_int_eq(mpp_secp_recover(digest, sig, addr), 0);
    ck_assert_str_eq(hexs(addr, 20), ADDR0);
    /* v as 0/1 too, and the split form */
    sig[64] = 0;
    memset(addr, 0, 20);
    ck_assert_int_eq(mpp_secp_recover(digest, sig, addr), 0);
    ck_assert_str_eq(hexs(addr, 20), ADDR0);
    memset(addr, 0, 20);
    ck_assert_int_eq(mpp_secp_recover_rs(digest, sig, sig + 32, 0, addr), 0);
    ck_assert_str_eq(hexs(addr, 20), ADDR0);
    /* the other parity or another digest is somebody else */
    sig[64] = 28;
    if (mpp_secp_recover(digest, sig, addr) == 0)
        ck_assert_str_ne(hexs(addr, 20), ADDR0);
    sig[64] = 27;
    memcpy(other, digest, 32);
    other[31] ^= 1;
    if (mpp_secp_recover(other, sig, addr) == 0)
        ck_assert_str_ne(hexs(addr, 20), ADDR0);
}
END_TEST

START_TEST(secp_sign_deterministic)
{
    unsigned char key[32], digest[32], sig[65], rs[64], rs2[64], addr[20];
    int recid = -1, recid2 = -1;

    unhex(KEY0, key, 32);
    unhex(AUTH_DIGEST, digest, 32);
    unhex(AUTH_SIG, sig, 65);
    ck_assert_int_eq(mpp_secp_sign(key, digest, rs, &recid), 0);
    ck_assert_str_eq(hexs(rs, 64), hexs(sig, 64));   /* RFC 6979: the same r and s */
    ck_assert_int_eq(recid, sig[64] - 27);
    ck_assert_int_eq(mpp_secp_sign(key, digest, rs2, &recid2), 0);
    ck_assert_mem_eq(rs, rs2, 64);
    ck_assert_int_eq(recid, recid2);
    ck_assert_int_eq(mpp_secp_recover_rs(digest, rs, rs + 32, recid, addr), 0);
    ck_assert_str_eq(hexs(addr, 20), ADDR0);
}
END_TEST

START_TEST(secp_high_s_refused)
{
    unsigned char digest[32], sig[65], twin[65], addr[20], half[32], one[32] = { 0 };

    unhex(AUTH_DIGEST, digest, 32);
    unhex(AUTH_SIG, sig, 65);
    /* (r, n - s) with the other parity is the same signer's malleable twin */
    memcpy(twin, sig, 32);
    sub256(SECP_N, sig + 32, twin + 32);
    twin[64] = sig[64] == 27 ? 28 : 27;
    ck_assert_int_eq(mpp_secp_recover(digest, twin, addr), -1);
    ck_assert_int_eq(mpp_secp_recover_rs(digest, twin, twin + 32, twin[64] - 27, addr), -1);
    /* the bound is n/2 itself: s = n/2 recovers (some key), n/2 + 1 does not */
    one[31] = 1;
    sub256(SECP_N, one, half);              /* n - 1 (even) */
    for (int i = 31; i >= 0; i--)           /* halve it */
        half[i] = (unsigned char)((half[i] >> 1) | (i > 0 ? (half[i - 1] & 1) << 7 : 0));
    ck_assert_str_eq(hexs(half, 32), "7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0");
    ck_assert_int_eq(mpp_secp_recover_rs(digest, sig, half, 0, addr), 0);
    half[31]++;
    ck_assert_int_eq(mpp_secp_recover_rs(digest, sig, half, 0, addr), -1);
    ck_assert_int_eq(mpp_secp_recover_rs(digest, sig, half, 1, addr), -1);
}
END_TEST

START_TEST(secp_recid_range)
{
    unsigned char digest[32], sig[65], addr[20];
    static const int bad_v[] = { 2, 3, 29, 30, 26, 255 };

    unhex(AUTH_DIGEST, digest, 32);
    unhex(AUTH_SIG, sig, 65);
    for (int recid = -1; recid <= 4; recid++)
        if (recid != 0 && recid != 1)
            ck_assert_int_eq(mpp_secp_recover_rs(digest, sig, sig + 32, recid, addr), -1);
    for (unsigned i = 0; i < sizeof(bad_v) / sizeof(bad_v[0]); i++) {
        sig[64] = (unsigned char)bad_v[i];
        ck_assert_msg(mpp_secp_recover(digest, sig, addr) == -1, "v %d accepted", bad_v[i]);
    }
    /* recid 2/3 name the point at x = r + n, which exists for small r:
     * refused all the same */
    for (int r = 1; r <= 16; r++) {
        unsigned char rr[32] = { 0 };
        rr[31] = (unsigned char)r;
        for (int recid = 2; recid <= 3; recid++)
            ck_assert_msg(mpp_secp_recover_rs(digest, rr, sig + 32, recid, addr) == -1,
                          "r %d recid %d accepted", r, recid);
        memcpy(sig, rr, 32);
        sig[64] = 29;
        ck_assert_int_eq(mpp_secp_recover(digest, sig, addr), -1);
        sig[64] = 30;
        ck_assert_int_eq(mpp_secp_recover(digest, sig, addr), -1);
    }
}
END_TEST

START_TEST(secp_invalid_key)
{
    unsigned char key[32], addr[20], rs[64], digest[32] = { 1 };
    int recid;

    memset(key, 0, 32);                      /* zero */
    ck_assert_int_eq(mpp_secp_address(key, addr), -1);
    ck_assert_int_eq(mpp_secp_sign(key, digest, rs, &recid), -1);
    memcpy(key, SECP_N, 32);                 /* the group order */
    ck_assert_int_eq(mpp_secp_address(key, addr), -1);
    ck_assert_int_eq(mpp_secp_sign(key, digest, rs, &recid), -1);
    memset(key, 0xff, 32);                   /* above it */
    ck_assert_int_eq(mpp_secp_address(key, addr), -1);
    ck_assert_int_eq(mpp_secp_sign(key, digest, rs, &recid), -1);
    memcpy(key, SECP_N, 32);                 /* n - 1 is the largest valid key */
    key[31]--;
    ck_assert_int_eq(mpp_secp_address(key, addr), 0);
    memset(key, 0, 32);
    key[31] = 1;
    ck_assert_int_eq(mpp_secp_address(key, addr), 0);
    ck_assert_str_eq(hexs(addr, 20), "7e5f4552091a69125d5dfcb7b8c2659029395bdf");
}
END_TEST

/* ------------------------------------------------------------------ */
/* uint256 and hex                                                     */

#define U256_MAX_DEC "115792089237316195423570985008687907853269984665640564039457584007913129639935"

START_TEST(u256_decimal_round_trip)
{
    static const struct { const char *dec, *hex; } v[] = {
        { "0", "0000000000000000000000000000000000000000000000000000000000000000" },
        { "1", "0000000000000000000000000000000000000000000000000000000000000001" },
        { "10000", "0000000000000000000000000000000000000000000000000000000000002710" },
        { "18446744073709551615", "000000000000000000000000000000000000000000000000ffffffffffffffff" },
        { "18446744073709551616", "0000000000000000000000000000000000000000000000010000000000000000" },
        { U256_MAX_DEC, "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff" },
    };
    for (unsigned i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        unsigned char b[32], e[32];
        memset(b, 0xa5, 32);
        ck_assert_int_eq(mpp_u256_from_dec(v[i].dec, b), 0);
        ck_assert_str_eq(hexs(b, 32), v[i].hex);
        unhex(v[i].hex, e, 32);
        ck_assert_str_eq(mpp_u256_to_dec(tp, e), v[i].dec);
    }
}
END_TEST

START_TEST(u256_decimal_rejects)
{
    static const char *const bad[] = {
        "", "00", "01", "007", "+1", "-1", "-0", " 1", "1 ", "1.0", "1e3", "0x10", "12a",
        /* 2^256 and beyond */
        "115792089237316195423570985008687907853269984665640564039457584007913129639936",
        "115792089237316195423570985008687907853269984665640564039457584007913129640000",
        "1157920892373161954235709850086879078532699846656405640394575840079131296399350",
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        unsigned char b[32];
        ck_assert_msg(mpp_u256_from_dec(bad[i], b) == -1, "\"%s\" accepted", bad[i]);
    }
}
END_TEST

START_TEST(u256_u64)
{
    unsigned char b[32];
    apr_uint64_t x = 0;

    mpp_u256_from_u64(APR_UINT64_C(0x0102030405060708), b);
    ck_assert_str_eq(hexs(b, 32), "0000000000000000000000000000000000000000000000000102030405060708");
    ck_assert_int_eq(mpp_u256_to_u64(b, &x), 0);
    ck_assert(x == APR_UINT64_C(0x0102030405060708));
    ck_assert_int_eq(mpp_u256_from_dec("18446744073709551615", b), 0);
    ck_assert_int_eq(mpp_u256_to_u64(b, &x), 0);
    ck_assert(x == ~APR_UINT64_C(0));
    ck_assert_int_eq(mpp_u256_from_dec("18446744073709551616", b), 0);
    ck_assert_int_eq(mpp_u256_to_u64(b, &x), -1);
    memset(b, 0, 32);
    b[0] = 0x80;
    ck_assert_int_eq(mpp_u256_to_u64(b, &x), -1);
}
END_TEST

START_TEST(u256_quantity)
{
    static const char *const bad[] = {
        "0x", "0x01", "0x00", "0x0001", "1a", "0", "", "x1a", "0x1g", "0x 1", "-0x1", "0x1a ",
        "0x10000000000000000000000000000000000000000000000000000000000000000",   /* 65 digits */
    };
    unsigned char b[32];
    char q[67];

    ck_assert_int_eq(mpp_u256_from_quantity("0x0", b), 0);
    ck_assert_str_eq(hexs(b, 32), "0000000000000000000000000000000000000000000000000000000000000000");
    ck_assert_int_eq(mpp_u256_from_quantity("0x1a", b), 0);
    ck_assert_str_eq(hexs(b, 32), "000000000000000000000000000000000000000000000000000000000000001a");
    ck_assert_int_eq(mpp_u256_from_quantity("0x2105", b), 0);
    ck_assert_str_eq(mpp_u256_to_dec(tp, b), "8453");
    ck_assert_int_eq(mpp_u256_from_quantity("0xABCdef", b), 0);
    ck_assert_str_eq(mpp_u256_to_dec(tp, b), "11259375");
    ck_assert_int_eq(mpp_u256_from_quantity("0x123", b), 0);   /* odd digit count */
    ck_assert_str_eq(hexs(b + 30, 2), "0123");
    ck_assert_int_eq(mpp_u256_from_quantity(
        "0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", b), 0);
    ck_assert_str_eq(mpp_u256_to_dec(tp, b), U256_MAX_DEC);
    ck_assert_int_eq(mpp_u256_from_quantity(
        "0x8000000000000000000000000000000000000000000000000000000000000001", b), 0);
    ck_assert_str_eq(hexs(b, 32), "8000000000000000000000000000000000000000000000000000000000000001");
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(mpp_u256_from_quantity(bad[i], b) == -1, "\"%s\" accepted", bad[i]);

    /* to_quantity: minimal digits, and back */
    memset(b, 0, 32);
    ck_assert_str_eq(mpp_u256_to_quantity(tp, b), "0x0");
    b[31] = 0x1a;
    ck_assert_str_eq(mpp_u256_to_quantity(tp, b), "0x1a");
    b[31] = 0x0a;
    ck_assert_str_eq(mpp_u256_to_quantity(tp, b), "0xa");
    b[30] = 0x01;
    b[31] = 0x00;
    ck_assert_str_eq(mpp_u256_to_quantity(tp, b), "0x100");
    memset(b, 0xff, 32);
    ck_assert_str_eq(mpp_u256_to_quantity(tp, b),
                     "0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
    for (int i = 0; i < 32; i++)
        b[i] = (unsigned char)(i * 29 + 1);
    b[0] = 0;
    b[1] = 0x0c;
    strcpy(q, mpp_u256_to_quantity(tp, b));
    ck_assert_int_eq(q[2], 'c');
    {
        unsigned char back[32];
        ck_assert_int_eq(mpp_u256_from_quantity(q, back), 0);
        ck_assert_mem_eq(back, b, 32);
    }
}
END_TEST

START_TEST(hex_exact_and_var)
{
    unsigned char b[8], *v = NULL;
    apr_size_t n = 99;

    ck_assert_int_eq(mpp_hex_decode("0x00ff10Ab", b, 4), 0);
    ck_assert_str_eq(hexs(b, 4), "00ff10ab");
    ck_assert_int_eq(mpp_hex_decode("0x", b, 0), 0);
    ck_assert_int_eq(mpp_hex_decode("0x00ff10a", b, 4), -1);    /* one digit short */
    ck_assert_int_eq(mpp_hex_decode("0x00ff10abc", b, 4), -1);  /* one over */
    ck_assert_int_eq(mpp_hex_decode("0x00ff10abcd", b, 4), -1); /* a byte over */
    ck_assert_int_eq(mpp_hex_decode("0x00ff10", b, 4), -1);     /* a byte short */
    ck_assert_int_eq(mpp_hex_decode("00ff10ab", b, 4), -1);     /* no prefix */
    ck_assert_int_eq(mpp_hex_decode("0x00ff10ag", b, 4), -1);
    ck_assert_int_eq(mpp_hex_decode("0x00ff 0ab", b, 4), -1);
    ck_assert_int_eq(mpp_hex_decode("", b, 0), -1);
    ck_assert_int_eq(mpp_hex_decode("0", b, 0), -1);

    ck_assert_int_eq(mpp_hex_decode_var(tp, "0x", 4, &v, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(mpp_hex_decode_var(tp, "0xdeadbeef", 4, &v, &n), 0);
    ck_assert_uint_eq(n, 4);
    ck_assert_str_eq(hexs(v, n), "deadbeef");
    ck_assert_int_eq(mpp_hex_decode_var(tp, "0xdeadbeef00", 4, &v, &n), -1);  /* over max */
    ck_assert_int_eq(mpp_hex_decode_var(tp, "0xdeadbeef00", 5, &v, &n), 0);
    ck_assert_uint_eq(n, 5);
    ck_assert_int_eq(mpp_hex_decode_var(tp, "0xdeadbee", 4, &v, &n), -1);    /* odd */
    ck_assert_int_eq(mpp_hex_decode_var(tp, "deadbeef", 4, &v, &n), -1);
    ck_assert_int_eq(mpp_hex_decode_var(tp, "0xdeadbeeg", 4, &v, &n), -1);
    ck_assert_int_eq(mpp_hex_decode_var(tp, "0x00", 0, &v, &n), -1);

    ck_assert_str_eq(mpp_hex_encode(tp, (const unsigned char *)"\x00\xab\xff", 3), "0x00abff");
    ck_assert_str_eq(mpp_hex_encode(tp, (const unsigned char *)"", 0), "0x");
}
END_TEST

/* ------------------------------------------------------------------ */
/* RLP                                                                 */

static unsigned char *cat_bytes(const unsigned char *head, apr_size_t hn, unsigned char fill,
                                apr_size_t fn, apr_size_t *total)
{
    unsigned char *b = apr_palloc(tp, hn + fn + 1);
    memcpy(b, head, hn);
    memset(b + hn, fill, fn);
    *total = hn + fn;
    return b;
}

static int rlp_ok(const unsigned char *in, apr_size_t n, mpp_rlp_t *it, apr_size_t *used)
{
    return mpp_rlp_decode(in, n, it, used) == 0;
}

START_TEST(rlp_decode_canonical)
{
    mpp_rlp_t it;
    apr_size_t used, n;
    unsigned char *b;

    ck_assert(rlp_ok((const unsigned char *)"\x00", 1, &it, &used));
    ck_assert(!it.is_list && it.len == 1 && it.p[0] == 0 && used == 1);
    ck_assert(rlp_ok((const unsigned char *)"\x7f\x01", 2, &it, &used));
    ck_assert(!it.is_list && it.len == 1 && it.p[0] == 0x7f && used == 1);
    ck_assert(rlp_ok((const unsigned char *)"\x80", 1, &it, &used));
    ck_assert(!it.is_list && it.len == 0 && used == 1);
    ck_assert(rlp_ok((const unsigned char *)"\x81\x80", 2, &it, &used));
    ck_assert(!it.is_list && it.len == 1 && it.p[0] == 0x80 && used == 2);
    ck_assert(rlp_ok((const unsigned char *)"\x83" "dog", 4, &it, &used));
    ck_assert(!it.is_list && it.len == 3 && memcmp(it.p, "dog", 3) == 0 && used == 4);
    b = cat_bytes((const unsigned char *)"\xb7", 1, 'x', 55, &n);
    ck_assert(rlp_ok(b, n, &it, &used));
    ck_assert(it.len == 55 && used == 56 && it.p == b + 1);
    b = cat_bytes((const unsigned char *)"\xb8\x38", 2, 'x', 56, &n);
    ck_assert(rlp_ok(b, n, &it, &used));
    ck_assert(it.len == 56 && used == 58 && it.p == b + 2);
    b = cat_bytes((const unsigned char *)"\xb9\x04\x00", 3, 'x', 1024, &n);
    ck_assert(rlp_ok(b, n, &it, &used));
    ck_assert(!it.is_list && it.len == 1024 && used == 1027);
    ck_assert(rlp_ok((const unsigned char *)"\xc0", 1, &it, &used));
    ck_assert(it.is_list && it.len == 0 && used == 1);
    ck_assert(rlp_ok((const unsigned char *)"\xc8\x83" "cat" "\x83" "dog", 9, &it, &used));
    ck_assert(it.is_list && it.len == 8 && used == 9);
    b = cat_bytes((const unsigned char *)"\xf8\x38", 2, 0x01, 56, &n);
    ck_assert(rlp_ok(b, n, &it, &used));
    ck_assert(it.is_list && it.len == 56 && used == 58);
}
END_TEST

START_TEST(rlp_decode_rejects)
{
    static const struct { const char *head; apr_size_t hn; apr_size_t fill; const char *why; } bad[] = {
        { "", 0, 0, "empty input" },
        { "\x81\x05", 2, 0, "single byte < 0x80 as a string" },
        { "\x81\x00", 2, 0, "single zero byte as a string" },
        { "\x81\x7f", 2, 0, "0x7f as a string" },
        { "\x81", 1, 0, "0x81 with nothing after" },
        { "\xb8\x05", 2, 5, "long string form for 5 bytes" },
        { "\xb8\x37", 2, 55, "long string form for 55 bytes" },
        { "\xb8\x00", 2, 0, "long string form for 0 bytes" },
        { "\xb9\x00\x38", 3, 56, "string length with a leading zero" },
        { "\xba\x00\x00\x38", 4, 56, "string length with two leading zeros" },
        { "\xf8\x03", 2, 3, "long list form for 3 bytes" },
        { "\xf8\x37", 2, 55, "long list form for 55 bytes" },
        { "\xf9\x00\x38", 3, 56, "list length with a leading zero" },
        { "\x83" "ab", 3, 0, "truncated string" },
        { "\xb8", 1, 0, "missing length byte" },
        { "\xb9\x04", 2, 0, "truncated length" },
        { "\xb8\x38", 2, 55, "long string one byte short" },
        { "\xb9\x04\x00", 3, 1023, "1 KiB string one byte short" },
        { "\xc3\x01\x02", 3, 0, "list longer than the input" },
        { "\xf8\x38", 2, 55, "long list one byte short" },
        { "\xf9\x04\x00", 3, 100, "long list far beyond the input" },
        { "\xbf\x01\x00\x00\x00\x00\x00\x00\x00", 9, 0, "eight length bytes" },
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        apr_size_t n, used = 12345;
        unsigned char *b = cat_bytes((const unsigned char *)bad[i].head, bad[i].hn, 0x61, bad[i].fill, &n);
        mpp_rlp_t it;
        ck_assert_msg(mpp_rlp_decode(b, n, &it, &used) == -1, "accepted: %s", bad[i].why);
    }
}
END_TEST

START_TEST(rlp_items)
{
    mpp_rlp_t list, it[4];
    apr_size_t used;
    int count = -1;
    unsigned char big[3 + 1024];

    ck_assert(rlp_ok((const unsigned char *)"\xc8\x83" "cat" "\x83" "dog", 9, &list, &used));
    ck_assert_int_eq(mpp_rlp_items(&list, it, 4, &count), 0);
    ck_assert_int_eq(count, 2);
    ck_assert(it[0].len == 3 && memcmp(it[0].p, "cat", 3) == 0 && !it[0].is_list);
    ck_assert(it[1].len == 3 && memcmp(it[1].p, "dog", 3) == 0);
    ck_assert_int_eq(mpp_rlp_items(&list, it, 1, &count), -1);   /* more than max */
    ck_assert(rlp_ok((const unsigned char *)"\xc0", 1, &list, &used));
    ck_assert_int_eq(mpp_rlp_items(&list, it, 4, &count), 0);
    ck_assert_int_eq(count, 0);
    /* an item must end inside its list, even when the input goes on */
    ck_assert(rlp_ok((const unsigned char *)"\xc2\x83" "abc", 5, &list, &used));
    ck_assert_uint_eq(used, 3);
    ck_assert_int_eq(mpp_rlp_items(&list, it, 4, &count), -1);
    /* non-canonical items inside a list */
    ck_assert(rlp_ok((const unsigned char *)"\xc2\x81\x05", 3, &list, &used));
    ck_assert_int_eq(mpp_rlp_items(&list, it, 4, &count), -1);
    /* a string is not a list */
    big[0] = 0xb9; big[1] = 0x04; big[2] = 0x00;
    memset(big + 3, 0xc0, 1024);
    ck_assert(rlp_ok(big, sizeof(big), &list, &used));
    ck_assert_int_eq(mpp_rlp_items(&list, it, 4, &count), -1);
}
END_TEST

static mpp_rlp_t rlp_item(const unsigned char *b, apr_size_t n)
{
    mpp_rlp_t it;
    apr_size_t used;
    ck_assert_int_eq(mpp_rlp_decode(b, n, &it, &used), 0);
    ck_assert_uint_eq(used, n);
    return it;
}

START_TEST(rlp_uint)
{
    unsigned char out[32], b[40];
    mpp_rlp_t it;

    it = rlp_item((const unsigned char *)"\x80", 1);
    ck_assert_int_eq(mpp_rlp_uint(&it, out), 0);
    ck_assert_str_eq(mpp_u256_to_dec(tp, out), "0");
    it = rlp_item((const unsigned char *)"\x05", 1);
    ck_assert_int_eq(mpp_rlp_uint(&it, out), 0);
    ck_assert_str_eq(mpp_u256_to_dec(tp, out), "5");
    it = rlp_item((const unsigned char *)"\x82\x01\x00", 3);
    ck_assert_int_eq(mpp_rlp_uint(&it, out), 0);
    ck_assert_str_eq(mpp_u256_to_dec(tp, out), "256");
    b[0] = 0xa0;
    memset(b + 1, 0xff, 32);
    it = rlp_item(b, 33);
    ck_assert_int_eq(mpp_rlp_uint(&it, out), 0);
    ck_assert_str_eq(mpp_u256_to_dec(tp, out), U256_MAX_DEC);
    /* leading zero bytes */
    it = rlp_item((const unsigned char *)"\x00", 1);
    ck_assert_int_eq(mpp_rlp_uint(&it, out), -1);
    it = rlp_item((const unsigned char *)"\x82\x00\x01", 3);
    ck_assert_int_eq(mpp_rlp_uint(&it, out), -1);
    b[0] = 0xa0;
    memset(b + 1, 0, 31);
    b[32] = 0x80;
    it = rlp_item(b, 33);
    ck_assert_int_eq(mpp_rlp_uint(&it, out), -1);
    /* more than 32 bytes */
    b[0] = 0xa1;
    memset(b + 1, 0x11, 33);
    it = rlp_item(b, 34);
    ck_assert_int_eq(mpp_rlp_uint(&it, out), -1);
    /* a list */
    it = rlp_item((const unsigned char *)"\xc1\x05", 2);
    ck_assert_int_eq(mpp_rlp_uint(&it, out), -1);
}
END_TEST

static apr_array_header_t *bytes_arr(void)
{
    return apr_array_make(tp, 64, 1);
}

START_TEST(rlp_encode_strings)
{
    static const struct { apr_size_t n; unsigned char fill; const char *head; apr_size_t hn; } v[] = {
        { 0, 0, "\x80", 1 },
        { 1, 0x00, "", 0 },
        { 1, 0x7f, "", 0 },
        { 1, 0x80, "\x81", 1 },
        { 1, 0xff, "\x81", 1 },
        { 2, 0x01, "\x82", 1 },
        { 55, 0x42, "\xb7", 1 },
        { 56, 0x42, "\xb8\x38", 2 },
        { 255, 0x42, "\xb8\xff", 2 },
        { 256, 0x42, "\xb9\x01\x00", 3 },
        { 1024, 0x42, "\xb9\x04\x00", 3 },
        { 65536, 0x42, "\xba\x01\x00\x00", 4 },
    };
    for (unsigned i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        apr_array_header_t *b = bytes_arr();
        unsigned char *s = apr_palloc(tp, v[i].n + 1);
        mpp_rlp_t it;
        apr_size_t used;
        memset(s, v[i].fill, v[i].n);
        mpp_rlp_put_bytes(b, s, v[i].n);
        ck_assert_uint_eq((apr_size_t)b->nelts, v[i].hn + v[i].n);
        ck_assert_mem_eq(b->elts, v[i].head, v[i].hn);
        ck_assert_int_eq(memcmp(b->elts + v[i].hn, s, v[i].n), 0);
        ck_assert_int_eq(mpp_rlp_decode((unsigned char *)b->elts, (apr_size_t)b->nelts, &it, &used), 0);
        ck_assert_uint_eq(used, (apr_size_t)b->nelts);
        ck_assert(!it.is_list);
        ck_assert_uint_eq(it.len, v[i].n);
        ck_assert_int_eq(memcmp(it.p, s, v[i].n), 0);
    }
}
END_TEST

START_TEST(rlp_encode_uints)
{
    static const struct { const char *dec, *enc; } v[] = {
        { "0", "80" }, { "1", "01" }, { "127", "7f" }, { "128", "8180" }, { "1024", "820400" },
        { "8453", "822105" }, { "1000000000", "843b9aca00" },
        { U256_MAX_DEC, "a0ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff" },
    };
    for (unsigned i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        apr_array_header_t *b = bytes_arr();
        unsigned char x[32], y[32];
        mpp_rlp_t it;
        ck_assert_int_eq(mpp_u256_from_dec(v[i].dec, x), 0);
        mpp_rlp_put_uint(b, x);
        ck_assert_str_eq(hexs((unsigned char *)b->elts, (apr_size_t)b->nelts), v[i].enc);
        it = rlp_item((unsigned char *)b->elts, (apr_size_t)b->nelts);
        ck_assert_int_eq(mpp_rlp_uint(&it, y), 0);
        ck_assert_mem_eq(x, y, 32);
    }
}
END_TEST

START_TEST(rlp_encode_lists)
{
    apr_array_header_t *b = bytes_arr();
    mpp_rlp_t top, it[4], sub[4], sub2[4];
    int s0, s1, s2, s3, n;
    apr_size_t used, len;
    unsigned char *s;

    /* ["cat", "dog"] */
    mpp_rlp_put_bytes(b, (const unsigned char *)"cat", 3);
    mpp_rlp_put_bytes(b, (const unsigned char *)"dog", 3);
    mpp_rlp_wrap_list(b, 0);
    ck_assert_str_eq(hexs((unsigned char *)b->elts, (apr_size_t)b->nelts), "c88363617483646f67");

    /* [ [], [[]], [ [], [[]] ] ] after a prefix byte that must stay */
    b = bytes_arr();
    *(unsigned char *)apr_array_push(b) = 0xaa;
    s0 = b->nelts;
    s1 = b->nelts; mpp_rlp_wrap_list(b, s1);
    s1 = b->nelts; s2 = b->nelts; mpp_rlp_wrap_list(b, s2); mpp_rlp_wrap_list(b, s1);
    s1 = b->nelts;
    s2 = b->nelts; mpp_rlp_wrap_list(b, s2);
    s2 = b->nelts; s3 = b->nelts; mpp_rlp_wrap_list(b, s3); mpp_rlp_wrap_list(b, s2);
    mpp_rlp_wrap_list(b, s1);
    mpp_rlp_wrap_list(b, s0);
    ck_assert_str_eq(hexs((unsigned char *)b->elts, (apr_size_t)b->nelts), "aac7c0c1c0c3c0c1c0");
    ck_assert_int_eq(mpp_rlp_decode((unsigned char *)b->elts + 1, (apr_size_t)b->nelts - 1, &top, &used), 0);
    ck_assert_uint_eq(used, 8);
    ck_assert_int_eq(mpp_rlp_items(&top, it, 4, &n), 0);
    ck_assert_int_eq(n, 3);
    ck_assert(it[0].is_list && it[0].len == 0);
    ck_assert_int_eq(mpp_rlp_items(&it[1], sub, 4, &n), 0);
    ck_assert(n == 1 && sub[0].is_list && sub[0].len == 0);
    ck_assert_int_eq(mpp_rlp_items(&it[2], sub, 4, &n), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(mpp_rlp_items(&sub[1], sub2, 4, &n), 0);
    ck_assert(n == 1 && sub2[0].is_list && sub2[0].len == 0);

    /* payloads of 55 (short form) and 56 bytes (long form) */
    for (apr_size_t k = 54; k <= 55; k++) {
        b = bytes_arr();
        s = pattern(k);
        mpp_rlp_put_bytes(b, s, k);
        mpp_rlp_wrap_list(b, 0);
        len = (apr_size_t)b->nelts;
        if (k == 54)
            ck_assert_uint_eq((unsigned char)b->elts[0], 0xf7);
        else
            ck_assert_str_eq(hexs((unsigned char *)b->elts, 2), "f838");
        ck_assert_int_eq(mpp_rlp_decode((unsigned char *)b->elts, len, &top, &used), 0);
        ck_assert_uint_eq(used, len);
        ck_assert_int_eq(mpp_rlp_items(&top, it, 4, &n), 0);
        ck_assert(n == 1 && it[0].len == k && memcmp(it[0].p, s, k) == 0);
    }

    /* [1 KiB string, "cat", [""]] */
    b = bytes_arr();
    s = pattern(1024);
    mpp_rlp_put_bytes(b, s, 1024);
    mpp_rlp_put_bytes(b, (const unsigned char *)"cat", 3);
    s1 = b->nelts;
    mpp_rlp_put_bytes(b, (const unsigned char *)"", 0);
    mpp_rlp_wrap_list(b, s1);
    mpp_rlp_wrap_list(b, 0);
    len = (apr_size_t)b->nelts;
    ck_assert_uint_eq(len, 3 + 3 + 1024 + 4 + 2);
    ck_assert_str_eq(hexs((unsigned char *)b->elts, 6), "f90409b90400");
    ck_assert_int_eq(mpp_rlp_decode((unsigned char *)b->elts, len, &top, &used), 0);
    ck_assert_uint_eq(used, len);
    ck_assert_int_eq(mpp_rlp_items(&top, it, 4, &n), 0);
    ck_assert_int_eq(n, 3);
    ck_assert(it[0].len == 1024 && memcmp(it[0].p, s, 1024) == 0);
    ck_assert(it[1].len == 3 && memcmp(it[1].p, "cat", 3) == 0);
    ck_assert_int_eq(mpp_rlp_items(&it[2], sub, 4, &n), 0);
    ck_assert(n == 1 && !sub[0].is_list && sub[0].len == 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* EVM: challenge hash, EIP-712, transactions, call data               */

START_TEST(evm_challenge_hash)
{
    unsigned char h[32];
    mpp_evm_challenge_hash("tDKs9tMAtkwQ-DwXLEz1ouw9yFraxrK2K0d5fb_g5EY", "api.example.com", h);
    ck_assert_str_eq(hexs(h, 32), "c500d6a2f3423063124da02c002d729b0aa28b704eda7b0e7a55d0fc009f9b21");
    mpp_evm_challenge_hash("wyhGJvegEx9s6AZmB1C5PfOEvf6npWhq-flEBZU8OO4", "api.example.com", h);
    ck_assert_str_eq(hexs(h, 32), AUTH_NONCE);
    /* no separator: the same as hashing the concatenation */
    mpp_evm_challenge_hash("ab", "c", h);
    ck_assert_str_eq(hexs(h, 32), kec_s("abc"));
}
END_TEST

START_TEST(evm_eip712_authorization)
{
    unsigned char usdc[20], from[20], to[20], value[32], after[32], before[32], nonce[32];
    unsigned char domain[32], digest[32], sig[65], addr[20];

    unhex(USDC_BASE, usdc, 20);
    unhex(ADDR0, from, 20);
    unhex(PAYEE, to, 20);
    mpp_u256_from_u64(10000, value);
    mpp_u256_from_u64(0, after);
    mpp_u256_from_u64(APR_UINT64_C(4102444800), before);
    mpp_evm_challenge_hash("wyhGJvegEx9s6AZmB1C5PfOEvf6npWhq-flEBZU8OO4", "api.example.com", nonce);

    mpp_eip712_domain("USD Coin", "2", 8453, usdc, domain);
    ck_assert_str_eq(hexs(domain, 32), DOMAIN_SEP);
    mpp_eip3009_digest(domain, from, to, value, after, before, nonce, digest);
    ck_assert_str_eq(hexs(digest, 32), AUTH_DIGEST);
    unhex(AUTH_SIG, sig, 65);
    ck_assert_int_eq(mpp_secp_recover(digest, sig, addr), 0);
    ck_assert_str_eq(hexs(addr, 20), ADDR0);

    /* other domains, one with a chain id wider than 32 bits */
    unhex("01c5c0122039549ad1493b8220cabedd739bc44e", usdc, 20);
    mpp_eip712_domain("USDC", "2", 11142220, usdc, domain);
    ck_assert_str_eq(hexs(domain, 32), "23f491197bb8c5ea4fe8dd4c2293b600f073553f9814015e7a5eb57724df9578");
    mpp_eip712_domain("USDC", "2", APR_UINT64_C(0x0102030405060708), usdc, domain);
    ck_assert_str_eq(hexs(domain, 32), "dc20e69b4918e712f0004bc4828f20577820409045031c46cbce08a97084e652");

    /* every input takes part */
    unhex(USDC_BASE, usdc, 20);
    mpp_eip712_domain("USDC", "2", 8453, usdc, domain);
    ck_assert_str_ne(hexs(domain, 32), DOMAIN_SEP);
    mpp_eip712_domain("USD Coin", "1", 8453, usdc, domain);
    ck_assert_str_ne(hexs(domain, 32), DOMAIN_SEP);
    mpp_eip712_domain("USD Coin", "2", 84532, usdc, domain);
    ck_assert_str_ne(hexs(domain, 32), DOMAIN_SEP);
    mpp_eip712_domain("USD Coin", "2", 8453, to, domain);
    ck_assert_str_ne(hexs(domain, 32), DOMAIN_SEP);
    unhex(DOMAIN_SEP, domain, 32);
    mpp_u256_from_u64(10001, value);
    mpp_eip3009_digest(domain, from, to, value, after, before, nonce, digest);
    ck_assert_str_ne(hexs(digest, 32), AUTH_DIGEST);
    mpp_u256_from_u64(10000, value);
    mpp_eip3009_digest(domain, from, to, value, after, before, after, digest);
    ck_assert_str_ne(hexs(digest, 32), AUTH_DIGEST);
    mpp_eip3009_digest(domain, to, from, value, after, before, nonce, digest);
    ck_assert_str_ne(hexs(digest, 32), AUTH_DIGEST);
}
END_TEST

static const char *dec_of(const unsigned char v[32])
{
    return mpp_u256_to_dec(tp, v);
}

START_TEST(evm_tx_decode_vector)
{
    apr_size_t n;
    const unsigned char *raw = unhex_p(RAW_TX, &n);
    mpp_evm_tx_t tx;
    const char *err = NULL;
    unsigned char to[20], amount[32];

    ck_assert_uint_eq(n, 180);
    ck_assert_msg(mpp_evm_tx_decode(raw, n, &tx, &err) == 0, "decode: %s", err ? err : "?");
    ck_assert_str_eq(hexs(tx.hash, 32), RAW_TX_HASH);
    ck_assert_str_eq(hexs(tx.from, 20), ADDR0);
    ck_assert_str_eq(dec_of(tx.chain_id), "8453");
    ck_assert_str_eq(dec_of(tx.nonce), "0");
    ck_assert_str_eq(dec_of(tx.max_priority_fee), "1000000");
    ck_assert_str_eq(dec_of(tx.max_fee), "1000000000");
    ck_assert_str_eq(dec_of(tx.gas), "100000");
    ck_assert_str_eq(dec_of(tx.value), "0");
    ck_assert_int_eq(tx.has_to, 1);
    ck_assert_str_eq(hexs(tx.to, 20), USDC_BASE);
    ck_assert_int_eq(tx.access_list_empty, 1);
    ck_assert_uint_eq(tx.data_len, 68);
    ck_assert_str_eq(hexs(tx.data, tx.data_len), TRANSFER_DATA);
    ck_assert_int_eq(mpp_erc20_parse_transfer(tx.data, tx.data_len, to, amount), 0);
    ck_assert_str_eq(hexs(to, 20), PAYEE);
    ck_assert_str_eq(dec_of(amount), "10000");
}
END_TEST

/* Decode raw, sign its fields again with KEY0: the same bytes. */
static void resign_same(const char *hex)
{
    apr_size_t n, len = 0;
    const unsigned char *raw = unhex_p(hex, &n);
    unsigned char key[32], *out = NULL;
    mpp_evm_tx_t tx;
    const char *err = NULL;

    ck_assert_msg(mpp_evm_tx_decode(raw, n, &tx, &err) == 0, "decode: %s", err ? err : "?");
    ck_assert_str_eq(hexs(tx.from, 20), ADDR0);
    unhex(KEY0, key, 32);
    ck_assert_int_eq(mpp_evm_tx_sign(tp, &tx, key, &out, &len), 0);
    ck_assert_str_eq(hexs(out, len), hexs(raw, n));
}

START_TEST(evm_tx_resign)
{
    resign_same(RAW_TX);
    resign_same(SHORT_TX_N0);
    resign_same(SHORT_TX_N1);
}
END_TEST

START_TEST(evm_tx_short_both_parities)
{
    static const char *const v[] = { SHORT_TX_N0, SHORT_TX_N1 };
    for (int i = 0; i < 2; i++) {
        apr_size_t n;
        const unsigned char *raw = unhex_p(v[i], &n);
        mpp_evm_tx_t tx;
        const char *err = NULL;
        unsigned char h[32];

        ck_assert_msg(mpp_evm_tx_decode(raw, n, &tx, &err) == 0, "decode: %s", err ? err : "?");
        ck_assert_str_eq(hexs(tx.from, 20), ADDR0);
        ck_assert_int_eq(tx.has_to, 0);
        ck_assert_uint_eq(tx.data_len, 0);
        ck_assert_str_eq(dec_of(tx.nonce), i == 0 ? "0" : "1");
        ck_assert_str_eq(dec_of(tx.chain_id), "8453");
        mpp_keccak256(raw, n, h);
        ck_assert_mem_eq(tx.hash, h, 32);
    }
}
END_TEST

typedef struct {
    const unsigned char *p;
    apr_size_t n;
} span_t;

/* The encoded items of the list of a typed transaction. */
static int tx_spans(const unsigned char *raw, apr_size_t len, span_t *sp, int max)
{
    mpp_rlp_t list, it;
    apr_size_t used, off = 0;
    int n = 0;
    ck_assert_int_eq(mpp_rlp_decode(raw + 1, len - 1, &list, &used), 0);
    while (off < list.len) {
        ck_assert_int_lt(n, max);
        ck_assert_int_eq(mpp_rlp_decode(list.p + off, list.len - off, &it, &used), 0);
        sp[n].p = list.p + off;
        sp[n].n = used;
        off += used;
        n++;
    }
    return n;
}

/* type || list of the given encoded items */
static unsigned char *tx_build(unsigned char type, const span_t *sp, int n, apr_size_t *len)
{
    apr_array_header_t *b = bytes_arr();
    *(unsigned char *)apr_array_push(b) = type;
    for (int i = 0; i < n; i++)
        for (apr_size_t j = 0; j < sp[i].n; j++)
            *(unsigned char *)apr_array_push(b) = sp[i].p[j];
    mpp_rlp_wrap_list(b, 1);
    *len = (apr_size_t)b->nelts;
    return (unsigned char *)b->elts;
}

START_TEST(evm_tx_sign_fresh)
{
    /* sign transactions the server builds itself; decode recovers KEY0 */
    unsigned char key[32], data[68], to[20], amount[32];
    int seen[2] = { 0, 0 };

    unhex(KEY0, key, 32);
    unhex(PAYEE, to, 20);
    mpp_u256_from_u64(10000, amount);
    mpp_erc20_transfer_data(to, amount, data);
    ck_assert_str_eq(hexs(data, 68), TRANSFER_DATA);
    for (int i = 0; i < 16; i++) {
        mpp_evm_tx_t tx, back;
        unsigned char *raw = NULL;
        apr_size_t len = 0;
        const char *err = NULL;
        memset(&tx, 0, sizeof(tx));
        mpp_u256_from_u64(8453, tx.chain_id);
        mpp_u256_from_u64((apr_uint64_t)i, tx.nonce);
        mpp_u256_from_u64(1000000, tx.max_priority_fee);
        mpp_u256_from_u64(APR_UINT64_C(1000000000) + (apr_uint64_t)i, tx.max_fee);
        mpp_u256_from_u64(100000, tx.gas);
        unhex(USDC_BASE, tx.to, 20);
        tx.has_to = 1;
        tx.data = data;
        tx.data_len = sizeof(data);
        ck_assert_int_eq(mpp_evm_tx_sign(tp, &tx, key, &raw, &len), 0);
        ck_assert_int_eq(raw[0], 0x02);
        ck_assert_msg(mpp_evm_tx_decode(raw, len, &back, &err) == 0, "decode: %s", err ? err : "?");
        ck_assert_str_eq(hexs(back.from, 20), ADDR0);
        ck_assert_mem_eq(back.nonce, tx.nonce, 32);
        ck_assert_mem_eq(back.max_fee, tx.max_fee, 32);
        ck_assert_mem_eq(back.to, tx.to, 20);
        ck_assert_uint_eq(back.data_len, 68);
        ck_assert_mem_eq(back.data, data, 68);
        {
            span_t sp[12];
            ck_assert_int_eq(tx_spans(raw, len, sp, 12), 12);
            ck_assert(sp[9].n == 1 && (sp[9].p[0] == 0x80 || sp[9].p[0] == 0x01));
            seen[sp[9].p[0] == 0x01] = 1;
        }
    }
    ck_assert_msg(seen[0] && seen[1], "both signature parities expected over 16 transactions");
}
END_TEST

static int decodes(const unsigned char *raw, apr_size_t len, mpp_evm_tx_t *tx, const char **err)
{
    *err = NULL;
    if (mpp_evm_tx_decode(raw, len, tx, err) == 0)
        return 1;
    ck_assert_ptr_nonnull(*err);
    return 0;
}

START_TEST(evm_tx_rejects_structure)
{
    apr_size_t n, len;
    const unsigned char *raw = unhex_p(RAW_TX, &n);
    unsigned char *b;
    span_t sp[13], alt[13];
    mpp_evm_tx_t tx;
    const char *err;
    int k = tx_spans(raw, n, sp, 13);

    ck_assert_int_eq(k, 12);
    /* the rebuild helper reproduces the original */
    b = tx_build(0x02, sp, 12, &len);
    ck_assert_str_eq(hexs(b, len), RAW_TX);
    ck_assert(decodes(b, len, &tx, &err));

    /* other type bytes, and the bare list */
    for (int t = 0; t < 0x80; t++) {
        if (t == 0x02) continue;
        b = tx_build((unsigned char)t, sp, 12, &len);
        ck_assert_msg(!decodes(b, len, &tx, &err), "type 0x%02x accepted", t);
    }
    ck_assert(!decodes(raw + 1, n - 1, &tx, &err));
    ck_assert(!decodes(raw, 1, &tx, &err));
    ck_assert(!decodes(raw, 0, &tx, &err));

    /* trailing bytes after the list; the list cut short */
    b = apr_palloc(tp, n + 1);
    memcpy(b, raw, n);
    b[n] = 0x00;
    ck_assert(!decodes(b, n + 1, &tx, &err));
    b[n] = 0x80;
    ck_assert(!decodes(b, n + 1, &tx, &err));
    ck_assert(!decodes(raw, n - 1, &tx, &err));

    /* 11 fields (no s) and 13 (one extra) */
    b = tx_build(0x02, sp, 11, &len);
    ck_assert(!decodes(b, len, &tx, &err));
    memcpy(alt, sp, sizeof(span_t) * 12);
    alt[12].p = (const unsigned char *)"\x80";
    alt[12].n = 1;
    b = tx_build(0x02, alt, 13, &len);
    ck_assert(!decodes(b, len, &tx, &err));
    /* 11 fields, the first one missing */
    b = tx_build(0x02, sp + 1, 11, &len);
    ck_assert(!decodes(b, len, &tx, &err));
}
END_TEST

START_TEST(evm_tx_rejects_fields)
{
    apr_size_t n, len;
    const unsigned char *raw = unhex_p(RAW_TX, &n);
    unsigned char *b, big[34];
    span_t sp[12], alt[12];
    mpp_evm_tx_t tx;
    const char *err;

    ck_assert_int_eq(tx_spans(raw, n, sp, 12), 12);

    /* yParity 2, and parity written with a leading zero byte */
    memcpy(alt, sp, sizeof(alt));
    alt[9].p = (const unsigned char *)"\x02";
    alt[9].n = 1;
    b = tx_build(0x02, alt, 12, &len);
    ck_assert(!decodes(b, len, &tx, &err));
    ck_assert_msg(strstr(err, "parity") != NULL, "unexpected error: %s", err);
    alt[9].p = (const unsigned char *)"\x00";
    b = tx_build(0x02, alt, 12, &len);
    ck_assert(!decodes(b, len, &tx, &err));
    big[0] = 0xa0;
    memset(big + 1, 0, 32);
    big[32] = 0x01;        /* 32-byte word 1: zero padded, not canonical */
    alt[9].p = big;
    alt[9].n = 33;
    b = tx_build(0x02, alt, 12, &len);
    ck_assert(!decodes(b, len, &tx, &err));
    /* the other parity is somebody else, or nobody */
    alt[9].p = (const unsigned char *)"\x01";
    alt[9].n = 1;
    b = tx_build(0x02, alt, 12, &len);
    if (decodes(b, len, &tx, &err))
        ck_assert_str_ne(hexs(tx.from, 20), ADDR0);

    /* a 19-byte recipient; an access list that is a string; data as a list */
    memcpy(alt, sp, sizeof(alt));
    alt[5].p = (const unsigned char *)"\x93" "0123456789012345678";
    alt[5].n = 20;
    b = tx_build(0x02, alt, 12, &len);
    ck_assert(!decodes(b, len, &tx, &err));
    memcpy(alt, sp, sizeof(alt));
    alt[8].p = (const unsigned char *)"\x80";
    b = tx_build(0x02, alt, 12, &len);
    ck_assert(!decodes(b, len, &tx, &err));
    memcpy(alt, sp, sizeof(alt));
    alt[7].p = (const unsigned char *)"\xc0";
    alt[7].n = 1;
    b = tx_build(0x02, alt, 12, &len);
    ck_assert(!decodes(b, len, &tx, &err));
    /* a number field with a leading zero byte */
    memcpy(alt, sp, sizeof(alt));
    alt[0].p = (const unsigned char *)"\x83\x00\x21\x05";
    alt[0].n = 4;
    b = tx_build(0x02, alt, 12, &len);
    ck_assert(!decodes(b, len, &tx, &err));
    /* high s: the malleable twin (n - s, other parity) of the same signature */
    memcpy(alt, sp, sizeof(alt));
    big[0] = 0xa0;
    sub256(SECP_N, sp[11].p + 1, big + 1);
    alt[11].p = big;
    alt[11].n = 33;
    alt[9].p = (const unsigned char *)"\x01";
    alt[9].n = 1;
    b = tx_build(0x02, alt, 12, &len);
    ck_assert(!decodes(b, len, &tx, &err));
}
END_TEST

START_TEST(evm_tx_tampered)
{
    apr_size_t n;
    const unsigned char *raw = unhex_p(RAW_TX, &n);
    unsigned char *b = apr_palloc(tp, n);
    int decoded = 0;

    /* flip one bit of each byte in turn: never the same sender */
    for (apr_size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit += 7) {
            mpp_evm_tx_t tx;
            const char *err;
            memcpy(b, raw, n);
            b[i] ^= (unsigned char)(1u << bit);
            if (decodes(b, n, &tx, &err)) {
                decoded++;
                ck_assert_msg(strcmp(hexs(tx.from, 20), ADDR0) != 0,
                              "byte %u bit %d tampered, still from the signer", (unsigned)i, bit);
                ck_assert_str_ne(hexs(tx.hash, 32), RAW_TX_HASH);
            }
        }
    }
    ck_assert_int_gt(decoded, 0);   /* most changes to the data still parse */
}
END_TEST

START_TEST(evm_erc20_transfer_parse)
{
    apr_size_t n;
    unsigned char *d = unhex_p(TRANSFER_DATA, &n), to[20], amount[32], *b;

    ck_assert_uint_eq(n, 68);
    ck_assert_int_eq(mpp_erc20_parse_transfer(d, n, to, amount), 0);
    ck_assert_str_eq(hexs(to, 20), PAYEE);
    ck_assert_str_eq(dec_of(amount), "10000");

    b = apr_palloc(tp, 69);
    /* wrong selector (each byte) */
    for (int i = 0; i < 4; i++) {
        memcpy(b, d, 68);
        b[i] ^= 0x01;
        ck_assert_int_eq(mpp_erc20_parse_transfer(b, 68, to, amount), -1);
    }
    /* non-zero address padding (each byte) */
    for (int i = 4; i < 16; i++) {
        memcpy(b, d, 68);
        b[i] = 0x01;
        ck_assert_msg(mpp_erc20_parse_transfer(b, 68, to, amount) == -1, "padding byte %d", i);
    }
    /* wrong lengths */
    memcpy(b, d, 68);
    b[68] = 0;
    ck_assert_int_eq(mpp_erc20_parse_transfer(b, 67, to, amount), -1);
    ck_assert_int_eq(mpp_erc20_parse_transfer(b, 69, to, amount), -1);
    ck_assert_int_eq(mpp_erc20_parse_transfer(b, 4, to, amount), -1);
    ck_assert_int_eq(mpp_erc20_parse_transfer(b, 0, to, amount), -1);
    /* the other parts are free */
    b[20] ^= 0xff;
    b[67] = 0x11;
    ck_assert_int_eq(mpp_erc20_parse_transfer(b, 68, to, amount), 0);
}
END_TEST

START_TEST(evm_eip3009_call_data_layout)
{
    unsigned char from[20], to[20], value[32], after[32], before[32], nonce[32], r[32], s[32];
    unsigned char out[292], sig[65], sel[32];
    static const char *const sigtext =
        "transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,uint8,bytes32,bytes32)";

    unhex(ADDR0, from, 20);
    unhex(PAYEE, to, 20);
    mpp_u256_from_u64(10000, value);
    mpp_u256_from_u64(1, after);
    mpp_u256_from_u64(APR_UINT64_C(4102444800), before);
    unhex(AUTH_NONCE, nonce, 32);
    unhex(AUTH_SIG, sig, 65);
    memcpy(r, sig, 32);
    memcpy(s, sig + 32, 32);
    memset(out, 0xee, sizeof(out));
    mpp_eip3009_call_data(from, to, value, after, before, nonce, sig[64], r, s, out);

    mpp_keccak256(sigtext, strlen(sigtext), sel);
    ck_assert_str_eq(hexs(out, 4), "e3ee160e");
    ck_assert_mem_eq(out, sel, 4);
    ck_assert_str_eq(hexs(out + 4, 32), "000000000000000000000000" ADDR0);
    ck_assert_str_eq(hexs(out + 36, 32), "000000000000000000000000" PAYEE);
    ck_assert_str_eq(hexs(out + 68, 32), "0000000000000000000000000000000000000000000000000000000000002710");
    ck_assert_str_eq(hexs(out + 100, 32), "0000000000000000000000000000000000000000000000000000000000000001");
    ck_assert_str_eq(hexs(out + 132, 32), "00000000000000000000000000000000000000000000000000000000f4865700");
    ck_assert_str_eq(hexs(out + 164, 32), AUTH_NONCE);
    ck_assert_str_eq(hexs(out + 196, 32), "000000000000000000000000000000000000000000000000000000000000001b");
    ck_assert_int_eq(out[227], 27);
    ck_assert_mem_eq(out + 228, r, 32);
    ck_assert_mem_eq(out + 260, s, 32);
}
END_TEST

/* A receipt log as a chain node writes it: token, Transfer(from, to, value). */
static const char *transfer_log(const char *token, const char *from, const char *to, unsigned value)
{
    return apr_psprintf(tp, "{\"address\":\"%s\",\"topics\":[\"0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef\","
                        "\"0x000000000000000000000000%s\",\"0x000000000000000000000000%s\"],"
                        "\"data\":\"0x%064x\"}", token, from, to, value);
}

static mpp_evm_transfer_t classify(const char *logs, const char *from_hex, unsigned amount)
{
    const char *err, *doc = apr_psprintf(tp, "{\"logs\":[%s]}", logs);
    json_object *r = mpp_json_parse(tp, doc, strlen(doc), 65536, 8, &err);
    unsigned char token[20], rcpt[20], from[20], amt[32];
    ck_assert_ptr_nonnull(r);
    mpp_hex_decode("0x5fbdb2315678afecb367f032d93f642f64180aa3", token, 20);
    mpp_hex_decode("0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc", rcpt, 20);
    if (from_hex) mpp_hex_decode(from_hex, from, 20);
    mpp_u256_from_u64(amount, amt);
    return mpp_evm_receipt_transfer(r, token, rcpt, from_hex ? from : NULL, amt);
}

START_TEST(receipt_transfer_classification)
{
    const char *T = "0x5FbDB2315678afecb367f032d93F642f64180aa3", *P = "15d34aaf54267db7d7c367839aaf71a00a2c6a65",
               *R = "3c44cdddb6a900fa2b585dd299e03d12fa4293bc", *X = "70997970c51812dc3a010c7d01b50e0d17dc79c8";
    ck_assert_int_eq(classify(transfer_log(T, P, R, 10000), NULL, 10000), MPP_EVM_TRANSFER_PAID);
    ck_assert_int_eq(classify(transfer_log(T, P, R, 10001), NULL, 10000), MPP_EVM_TRANSFER_PAID);
    ck_assert_int_eq(classify(transfer_log(T, P, R, 9999), NULL, 10000), MPP_EVM_TRANSFER_BELOW);
    ck_assert_int_eq(classify(transfer_log(T, P, X, 10000), NULL, 10000), MPP_EVM_NO_TRANSFER);
    ck_assert_int_eq(classify(transfer_log("0x" "1111111111111111111111111111111111111111", P, R, 10000), NULL, 10000),
                     MPP_EVM_NO_TRANSFER);
    /* the payer named must be the sender */
    ck_assert_int_eq(classify(transfer_log(T, P, R, 10000), "0x70997970c51812dc3a010c7d01b50e0d17dc79c8", 10000),
                     MPP_EVM_NO_TRANSFER);
    ck_assert_int_eq(classify(transfer_log(T, P, R, 10000), "0x15d34aaf54267db7d7c367839aaf71a00a2c6a65", 10000),
                     MPP_EVM_TRANSFER_PAID);
    /* a smaller transfer first, then the paying one */
    ck_assert_int_eq(classify(apr_pstrcat(tp, transfer_log(T, P, R, 1), ",", transfer_log(T, P, R, 10000), NULL),
                              NULL, 10000), MPP_EVM_TRANSFER_PAID);
    /* a lying node: nulls, numbers and short arrays where hex strings belong */
    ck_assert_int_eq(classify(apr_psprintf(tp, "{\"address\":\"%s\",\"topics\":[null,null,null],\"data\":\"0x01\"}", T),
                              NULL, 1), MPP_EVM_NO_TRANSFER);
    ck_assert_int_eq(classify(apr_psprintf(tp, "{\"address\":\"%s\",\"topics\":[1,2,3],\"data\":null}", T), NULL, 1),
                     MPP_EVM_NO_TRANSFER);
    ck_assert_int_eq(classify(apr_psprintf(tp, "{\"address\":null,\"topics\":\"x\",\"data\":1}"), NULL, 1),
                     MPP_EVM_NO_TRANSFER);
    ck_assert_int_eq(classify("null, 3, \"x\"", NULL, 1), MPP_EVM_NO_TRANSFER);
}
END_TEST

Suite *suite_evm(void)
{
    Suite *s = suite_create("evm");
    TCase *tc = tcase("keccak");
    tcase_add_test(tc, keccak_vectors);
    tcase_add_test(tc, keccak_rate_boundaries);
    tcase_add_test(tc, keccak_incremental);
    tcase_add_test(tc, keccak_type_and_selector_constants);
    suite_add_tcase(s, tc);

    tc = tcase("receipt");
    tcase_add_test(tc, receipt_transfer_classification);
    suite_add_tcase(s, tc);

    tc = tcase("secp");
    tcase_add_test(tc, secp_address_of_key);
    tcase_add_test(tc, secp_recover_vector);
    tcase_add_test(tc, secp_sign_deterministic);
    tcase_add_test(tc, secp_high_s_refused);
    tcase_add_test(tc, secp_recid_range);
    tcase_add_test(tc, secp_invalid_key);
    suite_add_tcase(s, tc);

    tc = tcase("u256");
    tcase_add_test(tc, u256_decimal_round_trip);
    tcase_add_test(tc, u256_decimal_rejects);
    tcase_add_test(tc, u256_u64);
    tcase_add_test(tc, u256_quantity);
    tcase_add_test(tc, hex_exact_and_var);
    suite_add_tcase(s, tc);

    tc = tcase("rlp");
    tcase_add_test(tc, rlp_decode_canonical);
    tcase_add_test(tc, rlp_decode_rejects);
    tcase_add_test(tc, rlp_items);
    tcase_add_test(tc, rlp_uint);
    tcase_add_test(tc, rlp_encode_strings);
    tcase_add_test(tc, rlp_encode_uints);
    tcase_add_test(tc, rlp_encode_lists);
    suite_add_tcase(s, tc);

    tc = tcase("evm");
    tcase_add_test(tc, evm_challenge_hash);
    tcase_add_test(tc, evm_eip712_authorization);
    tcase_add_test(tc, evm_tx_decode_vector);
    tcase_add_test(tc, evm_tx_resign);
    tcase_add_test(tc, evm_tx_short_both_parities);
    tcase_add_test(tc, evm_tx_sign_fresh);
    tcase_add_test(tc, evm_tx_rejects_structure);
    tcase_add_test(tc, evm_tx_rejects_fields);
    tcase_add_test(tc, evm_tx_tampered);
    tcase_add_test(tc, evm_erc20_transfer_parse);
    tcase_add_test(tc, evm_eip3009_call_data_layout);
    suite_add_tcase(s, tc);
    return s;
}

/* ------------------------------------------------------------------ */
/* JSON-RPC client against a loopback server                           */

typedef enum {
    SRV_RESULT,        /* {"result": <result>} with the request's id */
    SRV_ERROR,         /* a JSON-RPC error object */
    SRV_WRONG_ID,      /* a result under another id */
    SRV_STRING_ID,     /* a result under the id written as a string */
    SRV_NOT_JSON,      /* 200 with an HTML body */
    SRV_HTTP500,       /* a well-formed result, but status 500 */
    SRV_NO_RESULT,     /* neither result nor error */
    SRV_SILENT,        /* reads the request, never answers */
    SRV_BIG_STALL,     /* announces 1 MiB, sends 8 KiB of it, then stalls */
} srv_mode_t;

typedef struct {
    int fd;                   /* listening socket */
    int port;
    srv_mode_t mode;
    const char *result;       /* JSON text of the result member */
    pthread_t th;
    int stop;                 /* __atomic */
    pthread_mutex_t mu;
    int hits;
    char head[4096];          /* last request line and headers, lower-cased */
    char body[4096];          /* last request body */
    int held[8];
    int nheld;
} srv_t;

#define MAX_SRV 6
static srv_t *servers[MAX_SRV];
static int nservers;
static int dead_fd = -1;

static int send_all(int c, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(c, p, n, MSG_NOSIGNAL);
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Read one HTTP request; 0 with head (lower-cased) and body, or -1. */
static int read_request(int c, char *head, size_t headcap, char *body, size_t bodycap)
{
    char buf[16384];
    size_t n = 0, hlen, clen = 0, have;
    char *eoh = NULL;

    while (!eoh) {
        ssize_t r;
        if (n >= sizeof(buf) - 1) return -1;
        r = recv(c, buf + n, sizeof(buf) - 1 - n, 0);
        if (r <= 0) return -1;
        n += (size_t)r;
        buf[n] = '\0';
        eoh = strstr(buf, "\r\n\r\n");
    }
    hlen = (size_t)(eoh - buf) + 4;
    if (hlen >= headcap) return -1;
    for (size_t i = 0; i < hlen; i++)
        head[i] = (char)tolower((unsigned char)buf[i]);
    head[hlen] = '\0';
    {
        const char *cl = strstr(head, "\r\ncontent-length:");
        if (cl) clen = strtoul(cl + 17, NULL, 10);
    }
    if (strstr(head, "\r\nexpect: 100-continue"))
        send_all(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    if (clen >= bodycap) return -1;
    have = n - hlen;
    if (have > clen) have = clen;
    memcpy(body, buf + hlen, have);
    while (have < clen) {
        ssize_t r = recv(c, body + have, clen - have, 0);
        if (r <= 0) return -1;
        have += (size_t)r;
    }
    body[clen] = '\0';
    return 0;
}

/* malloc'd printf (the server thread must not share the test's pool) */
__attribute__((format(printf, 1, 2)))
static char *xfmt(const char *f, ...)
{
    va_list ap;
    int n;
    char *o;
    va_start(ap, f);
    n = vsnprintf(NULL, 0, f, ap);
    va_end(ap);
    o = malloc((size_t)n + 1);
    if (!o) return NULL;
    va_start(ap, f);
    vsnprintf(o, (size_t)n + 1, f, ap);
    va_end(ap);
    return o;
}

static void serve(srv_t *s, int c)
{
    char head[4096], body[4096];
    long long id = -1;
    int status = 200;
    char *reply;
    struct timeval tv = { 2, 0 };

    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (read_request(c, head, sizeof(head), body, sizeof(body))) {
        close(c);
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->hits++;
    strcpy(s->head, head);
    strcpy(s->body, body);
    pthread_mutex_unlock(&s->mu);
    {
        json_object *o = json_tokener_parse(body), *v;
        if (o && json_object_object_get_ex(o, "id", &v))
            id = (long long)json_object_get_int64(v);
        json_object_put(o);
    }
    switch (s->mode) {
    case SRV_BIG_STALL:
        if (s->nheld < (int)(sizeof(s->held) / sizeof(s->held[0]))) {
            static const char hdr[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                      "Content-Length: 1048576\r\n\r\n";
            char *chunk = malloc(8192);
            if (chunk) {
                int hn = snprintf(chunk, 8192, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":\"0x", id);
                memset(chunk + hn, 'a', 8192 - (size_t)hn);
                if (send_all(c, hdr, sizeof(hdr) - 1) == 0)
                    send_all(c, chunk, 8192);
                free(chunk);
            }
            s->held[s->nheld++] = c;
            return;
        }
        reply = NULL;
        break;
    case SRV_SILENT:
        if (s->nheld < (int)(sizeof(s->held) / sizeof(s->held[0]))) {
            s->held[s->nheld++] = c;
            return;
        }
        reply = NULL;
        break;
    case SRV_RESULT:
        reply = xfmt("{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":%s}", id, s->result);
        break;
    case SRV_ERROR:
        reply = xfmt("{\"jsonrpc\":\"2.0\",\"id\":%lld,"
                             "\"error\":{\"code\":-32000,\"message\":\"nonce too low\"}}", id);
        break;
    case SRV_WRONG_ID:
        reply = xfmt("{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":%s}", id + 1, s->result);
        break;
    case SRV_STRING_ID:
        reply = xfmt("{\"jsonrpc\":\"2.0\",\"id\":\"%lld\",\"result\":%s}", id, s->result);
        break;
    case SRV_NOT_JSON:
        reply = xfmt("%s", "<html><body>502 Bad Gateway</body></html>");
        break;
    case SRV_HTTP500:
        status = 500;
        reply = xfmt("{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":%s}", id, s->result);
        break;
    case SRV_NO_RESULT:
    default:
        reply = xfmt("{\"jsonrpc\":\"2.0\",\"id\":%lld}", id);
        break;
    }
    if (reply) {
        char hdr[256];
        int hn = snprintf(hdr, sizeof(hdr),
                          "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                          "Content-Length: %u\r\nConnection: close\r\n\r\n",
                          status, status == 200 ? "OK" : "Internal Server Error",
                          (unsigned)strlen(reply));
        if (send_all(c, hdr, (size_t)hn) == 0)
            send_all(c, reply, strlen(reply));
        free(reply);
    }
    shutdown(c, SHUT_WR);
    close(c);
}

static void *srv_main(void *arg)
{
    srv_t *s = arg;
    while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
        struct pollfd pf = { s->fd, POLLIN, 0 };
        int c;
        if (poll(&pf, 1, 20) <= 0)
            continue;
        c = accept(s->fd, NULL, NULL);
        if (c >= 0)
            serve(s, c);
    }
    for (int i = 0; i < s->nheld; i++)
        close(s->held[i]);
    close(s->fd);
    return NULL;
}

/* A socket bound to 127.0.0.1 on a kernel-chosen port; *port set. */
static int bound_socket(int *port)
{
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    ck_assert_int_ge(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static srv_t *srv_start(srv_mode_t mode, const char *result)
{
    srv_t *s = apr_pcalloc(tp, sizeof(*s));
    ck_assert_int_lt(nservers, MAX_SRV);
    s->fd = bound_socket(&s->port);
    ck_assert_int_eq(listen(s->fd, 8), 0);
    s->mode = mode;
    s->result = result ? result : "\"0x2105\"";
    pthread_mutex_init(&s->mu, NULL);
    ck_assert_int_eq(pthread_create(&s->th, NULL, srv_main, s), 0);
    servers[nservers++] = s;
    return s;
}

static int srv_hits(srv_t *s)
{
    int h;
    pthread_mutex_lock(&s->mu);
    h = s->hits;
    pthread_mutex_unlock(&s->mu);
    return h;
}

static const char *srv_url(const srv_t *s)
{
    return apr_psprintf(tp, "http://127.0.0.1:%d/", s->port);
}

/* A URL where nothing listens: the port stays bound, never listening. */
static const char *dead_url(void)
{
    int port;
    if (dead_fd >= 0) close(dead_fd);
    dead_fd = bound_socket(&port);
    return apr_psprintf(tp, "http://127.0.0.1:%d/", port);
}

static void rpc_setup(void)
{
    /* the servers are local: no proxy may stand between */
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    nservers = 0;
    dead_fd = -1;
    setup();
}

static void rpc_teardown(void)
{
    for (int i = 0; i < nservers; i++) {
        __atomic_store_n(&servers[i]->stop, 1, __ATOMIC_RELEASE);
        pthread_join(servers[i]->th, NULL);
        pthread_mutex_destroy(&servers[i]->mu);
    }
    nservers = 0;
    if (dead_fd >= 0) close(dead_fd);
    dead_fd = -1;
    teardown();
}

static void rpc_global(void)
{
    ck_assert_int_eq(mpp_rpc_global_init(), 0);
}

static mpp_rpc_t *rpc_of(long timeout_ms, apr_size_t max_response, int n, ...)
{
    mpp_rpc_t *r = apr_pcalloc(tp, sizeof(*r));
    va_list ap;
    r->urls = apr_array_make(tp, n > 0 ? n : 1, sizeof(const char *));
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        APR_ARRAY_PUSH(r->urls, const char *) = va_arg(ap, const char *);
    va_end(ap);
    r->timeout_ms = timeout_ms;
    r->connect_timeout_ms = timeout_ms;
    r->max_response = max_response;
    return r;
}

static json_object *params_balance(void)
{
    json_object *a = json_object_new_array();
    json_object_array_add(a, json_object_new_string("0x" ADDR0));
    json_object_array_add(a, json_object_new_string("latest"));
    return a;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct {
    mpp_rpc_rc_t rc;
    json_object *result;
    long code;
    const char *err;
} call_t;

static call_t call(const mpp_rpc_t *r, const char *method, json_object *params)
{
    call_t c = { MPP_RPC_OK, NULL, 12345, NULL };
    c.rc = mpp_rpc_call(tp, r, method, params, &c.result, &c.code, &c.err);
    return c;
}

START_TEST(rpc_result)
{
    srv_t *s = srv_start(SRV_RESULT, "\"0x2105\"");
    call_t c = call(rpc_of(2000, 65536, 1, srv_url(s)), "eth_chainId", NULL);

    ck_assert_msg(c.rc == MPP_RPC_OK, "rc %d: %s", c.rc, c.err ? c.err : "");
    ck_assert_ptr_nonnull(c.result);
    ck_assert(json_object_is_type(c.result, json_type_string));
    ck_assert_str_eq(json_object_get_string(c.result), "0x2105");
    ck_assert_int_eq(srv_hits(s), 1);
}
END_TEST

START_TEST(rpc_result_shapes)
{
    srv_t *obj = srv_start(SRV_RESULT, "{\"status\":\"0x1\",\"logs\":[]}");
    srv_t *nul = srv_start(SRV_RESULT, "null");
    call_t c = call(rpc_of(2000, 65536, 1, srv_url(obj)), "eth_getTransactionReceipt", NULL);
    json_object *st;

    ck_assert_int_eq(c.rc, MPP_RPC_OK);
    ck_assert(json_object_is_type(c.result, json_type_object));
    ck_assert(json_object_object_get_ex(c.result, "status", &st));
    ck_assert_str_eq(json_object_get_string(st), "0x1");
    /* JSON null (a pending receipt) is a result, not a failure */
    c = call(rpc_of(2000, 65536, 1, srv_url(nul)), "eth_getTransactionReceipt", NULL);
    ck_assert_int_eq(c.rc, MPP_RPC_OK);
    ck_assert_ptr_null(c.result);
}
END_TEST

START_TEST(rpc_error_reply)
{
    srv_t *e = srv_start(SRV_ERROR, NULL), *good = srv_start(SRV_RESULT, NULL);
    /* a node's error is an answer: the next endpoint is not asked */
    call_t c = call(rpc_of(2000, 65536, 2, srv_url(e), srv_url(good)), "eth_sendRawTransaction",
                    NULL);

    ck_assert_int_eq(c.rc, MPP_RPC_ERROR_REPLY);
    ck_assert_int_eq(c.code, -32000);
    ck_assert_ptr_nonnull(c.err);
    ck_assert_str_eq(c.err, "nonce too low");
    ck_assert_int_eq(srv_hits(e), 1);
    ck_assert_int_eq(srv_hits(good), 0);
}
END_TEST

/* The bad endpoint alone is unreachable; before a good one, the good one answers. */
static void falls_through(srv_mode_t mode, apr_size_t max_response, const char *bad_result)
{
    srv_t *bad = srv_start(mode, bad_result), *good = srv_start(SRV_RESULT, "\"0x2105\"");
    call_t c = call(rpc_of(2000, max_response, 1, srv_url(bad)), "eth_chainId", NULL);

    ck_assert_msg(c.rc == MPP_RPC_UNREACHABLE, "mode %d alone: rc %d", (int)mode, c.rc);
    ck_assert_ptr_nonnull(c.err);
    ck_assert_int_eq(srv_hits(bad), 1);
    c = call(rpc_of(2000, max_response, 2, srv_url(bad), srv_url(good)), "eth_chainId", NULL);
    ck_assert_msg(c.rc == MPP_RPC_OK, "mode %d then good: rc %d (%s)", (int)mode, c.rc,
                  c.err ? c.err : "");
    ck_assert_str_eq(json_object_get_string(c.result), "0x2105");
    ck_assert_int_eq(srv_hits(bad), 2);
    ck_assert_int_eq(srv_hits(good), 1);
}

START_TEST(rpc_wrong_id_is_unreachable)
{
    falls_through(SRV_WRONG_ID, 65536, "\"0xbad\"");
}
END_TEST

START_TEST(rpc_string_id_is_unreachable)
{
    falls_through(SRV_STRING_ID, 65536, "\"0xbad\"");
}
END_TEST

START_TEST(rpc_not_json_is_unreachable)
{
    falls_through(SRV_NOT_JSON, 65536, NULL);
}
END_TEST

START_TEST(rpc_http_500_is_unreachable)
{
    falls_through(SRV_HTTP500, 65536, "\"0xbad\"");
}
END_TEST

START_TEST(rpc_no_result_is_unreachable)
{
    falls_through(SRV_NO_RESULT, 65536, NULL);
}
END_TEST

START_TEST(rpc_response_size_cap)
{
    /* an 8 KiB well-formed answer against a 1 KiB cap */
    char *big = apr_palloc(tp, 8200);
    char *small = apr_palloc(tp, 900);
    srv_t *s;
    call_t c;

    big[0] = '"'; big[1] = '0'; big[2] = 'x';
    memset(big + 3, 'a', 8190);
    big[8193] = '"';
    big[8194] = '\0';
    falls_through(SRV_RESULT, 1024, big);

    /* under the cap is fine */
    small[0] = '"';
    memset(small + 1, 'b', 880);
    small[881] = '"';
    small[882] = '\0';
    s = srv_start(SRV_RESULT, small);
    c = call(rpc_of(2000, 1024, 1, srv_url(s)), "eth_call", NULL);
    ck_assert_msg(c.rc == MPP_RPC_OK, "rc %d: %s", c.rc, c.err ? c.err : "");
    ck_assert_uint_eq(strlen(json_object_get_string(c.result)), 880);
}
END_TEST

START_TEST(rpc_response_cap_cuts_off)
{
    /* an answer passing the cap is dropped at once, not read to its end */
    srv_t *big = srv_start(SRV_BIG_STALL, NULL), *good = srv_start(SRV_RESULT, NULL);
    double t0 = now_s(), dt;
    call_t c = call(rpc_of(3000, 1024, 2, srv_url(big), srv_url(good)), "eth_call", NULL);

    dt = now_s() - t0;
    ck_assert_msg(c.rc == MPP_RPC_OK, "rc %d: %s", c.rc, c.err ? c.err : "");
    ck_assert_str_eq(json_object_get_string(c.result), "0x2105");
    ck_assert_int_eq(srv_hits(big), 1);
    ck_assert_msg(dt < 1.5, "the oversized answer was waited for (%.2f s)", dt);
}
END_TEST

START_TEST(rpc_dead_endpoints)
{
    srv_t *good = srv_start(SRV_RESULT, NULL);
    const char *d1 = dead_url();
    call_t c = call(rpc_of(2000, 65536, 2, d1, srv_url(good)), "eth_chainId", NULL);

    ck_assert_msg(c.rc == MPP_RPC_OK, "rc %d: %s", c.rc, c.err ? c.err : "");
    ck_assert_str_eq(json_object_get_string(c.result), "0x2105");
    ck_assert_int_eq(srv_hits(good), 1);

    c = call(rpc_of(2000, 65536, 2, d1, d1), "eth_chainId", NULL);
    ck_assert_int_eq(c.rc, MPP_RPC_UNREACHABLE);
    ck_assert_ptr_nonnull(c.err);
    c = call(rpc_of(2000, 65536, 1, "http://127.0.0.1:0/"), "eth_chainId", NULL);
    ck_assert_int_eq(c.rc, MPP_RPC_UNREACHABLE);
    /* no endpoint at all */
    c = call(rpc_of(2000, 65536, 0), "eth_chainId", NULL);
    ck_assert_int_eq(c.rc, MPP_RPC_UNREACHABLE);
    ck_assert_ptr_nonnull(c.err);
    ck_assert_int_eq(srv_hits(good), 1);
}
END_TEST

START_TEST(rpc_timeout)
{
    srv_t *silent = srv_start(SRV_SILENT, NULL), *good = srv_start(SRV_RESULT, NULL);
    double t0 = now_s(), dt;
    call_t c = call(rpc_of(300, 65536, 1, srv_url(silent)), "eth_chainId", NULL);

    dt = now_s() - t0;
    ck_assert_int_eq(c.rc, MPP_RPC_UNREACHABLE);
    ck_assert_msg(dt < 2.0, "call took %.2f s", dt);
    ck_assert_msg(dt >= 0.25, "call gave up after %.2f s, before the timeout", dt);
    ck_assert_int_eq(srv_hits(silent), 1);

    /* a hung primary costs the timeout, then the next endpoint answers */
    t0 = now_s();
    c = call(rpc_of(300, 65536, 2, srv_url(silent), srv_url(good)), "eth_chainId", NULL);
    dt = now_s() - t0;
    ck_assert_msg(c.rc == MPP_RPC_OK, "rc %d: %s", c.rc, c.err ? c.err : "");
    ck_assert_msg(dt < 2.0, "call took %.2f s", dt);
    ck_assert_int_eq(srv_hits(silent), 2);
    ck_assert_int_eq(srv_hits(good), 1);
}
END_TEST

START_TEST(rpc_request_body)
{
    srv_t *s = srv_start(SRV_RESULT, "\"0x0\"");
    const mpp_rpc_t *r = rpc_of(2000, 65536, 1, srv_url(s));
    call_t c = call(r, "eth_getBalance", params_balance());
    json_object *req, *v;
    const char *perr = NULL;
    long long id1;

    ck_assert_msg(c.rc == MPP_RPC_OK, "rc %d: %s", c.rc, c.err ? c.err : "");
    ck_assert_str_eq(json_object_get_string(c.result), "0x0");
    pthread_mutex_lock(&s->mu);
    ck_assert_msg(strncmp(s->head, "post / http/1.1\r\n", 17) == 0, "request: %s", s->head);
    ck_assert_ptr_nonnull(strstr(s->head, "\r\ncontent-type: application/json\r\n"));
    req = mpp_json_parse(tp, s->body, strlen(s->body), 4096, 8, &perr);
    pthread_mutex_unlock(&s->mu);
    ck_assert_msg(req != NULL, "request body is not strict JSON: %s", perr ? perr : "?");
    ck_assert(json_object_is_type(req, json_type_object));
    ck_assert_int_eq(json_object_object_length(req), 4);
    ck_assert(json_object_object_get_ex(req, "jsonrpc", &v));
    ck_assert(json_object_is_type(v, json_type_string));
    ck_assert_str_eq(json_object_get_string(v), "2.0");
    ck_assert(json_object_object_get_ex(req, "method", &v));
    ck_assert_str_eq(json_object_get_string(v), "eth_getBalance");
    ck_assert(json_object_object_get_ex(req, "params", &v));
    ck_assert(json_object_is_type(v, json_type_array));
    ck_assert_uint_eq(json_object_array_length(v), 2);
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(v, 0)), "0x" ADDR0);
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(v, 1)), "latest");
    ck_assert(json_object_object_get_ex(req, "id", &v));
    ck_assert(json_object_is_type(v, json_type_int));
    id1 = (long long)json_object_get_int64(v);

    /* without params: an empty array; a fresh id */
    c = call(r, "eth_blockNumber", NULL);
    ck_assert_int_eq(c.rc, MPP_RPC_OK);
    pthread_mutex_lock(&s->mu);
    req = mpp_json_parse(tp, s->body, strlen(s->body), 4096, 8, &perr);
    pthread_mutex_unlock(&s->mu);
    ck_assert_ptr_nonnull(req);
    ck_assert(json_object_object_get_ex(req, "method", &v));
    ck_assert_str_eq(json_object_get_string(v), "eth_blockNumber");
    ck_assert(json_object_object_get_ex(req, "params", &v));
    ck_assert(json_object_is_type(v, json_type_array));
    ck_assert_uint_eq(json_object_array_length(v), 0);
    ck_assert(json_object_object_get_ex(req, "id", &v));
    ck_assert(json_object_get_int64(v) != id1);
}
END_TEST

Suite *suite_rpc(void)
{
    Suite *s = suite_create("rpc");
    TCase *tc = tcase_create("rpc");
    tcase_add_unchecked_fixture(tc, rpc_global, NULL);
    tcase_add_checked_fixture(tc, rpc_setup, rpc_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, rpc_result);
    tcase_add_test(tc, rpc_result_shapes);
    tcase_add_test(tc, rpc_error_reply);
    tcase_add_test(tc, rpc_wrong_id_is_unreachable);
    tcase_add_test(tc, rpc_string_id_is_unreachable);
    tcase_add_test(tc, rpc_not_json_is_unreachable);
    tcase_add_test(tc, rpc_http_500_is_unreachable);
    tcase_add_test(tc, rpc_no_result_is_unreachable);
    tcase_add_test(tc, rpc_response_size_cap);
    tcase_add_test(tc, rpc_response_cap_cuts_off);
    tcase_add_test(tc, rpc_dead_endpoints);
    tcase_add_test(tc, rpc_timeout);
    tcase_add_test(tc, rpc_request_body);
    suite_add_tcase(s, tc);
    return s;
}
