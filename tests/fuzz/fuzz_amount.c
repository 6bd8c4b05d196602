/* Amounts and numbers: base-unit amounts (mpp_amount_valid, _cmp), prices
 * in asset units (mpp_amount_from_price), 256-bit decimals and JSON-RPC
 * quantities (mpp_u256_*), hex byte strings and base58 addresses.
 * Input: a decimals byte, then two texts separated by a newline.
 * Invariants: each reader accepts exactly the canonical texts, so the
 * writer gives the text back; comparing texts agrees with comparing bytes;
 * a price converts exactly when an independent reading says it should, to
 * the value it names. */
#include "fuzz.h"

#include <apr_strings.h>
#include <ctype.h>

#include "mpp_addr.h"
#include "mpp_amount.h"
#include "mpp_u256.h"

static const char MAX256[] =
    "115792089237316195423570985008687907853269984665640564039457584007913129639935";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    return 0;
}

static int sign_of(int x)
{
    return (x > 0) - (x < 0);
}

static char *lower(apr_pool_t *p, const char *s)
{
    char *o = apr_pstrdup(p, s);
    for (char *c = o; *c; c++) *c = (char)tolower((unsigned char)*c);
    return o;
}

/* Bitcoin-alphabet base58 of 32 bytes, leading zero bytes as '1'. */
static char *b58(apr_pool_t *p, const unsigned char in[32])
{
    static const char A[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    unsigned char n[32], digits[64];
    int nd = 0, zeros = 0, k = 0;
    char *o = apr_palloc(p, 80);
    memcpy(n, in, 32);
    while (zeros < 32 && !in[zeros]) zeros++;
    for (;;) {
        unsigned rem = 0;
        int nonzero = 0;
        for (int i = 0; i < 32; i++) {
            unsigned cur = rem << 8 | n[i];
            n[i] = (unsigned char)(cur / 58);
            rem = cur % 58;
            nonzero |= n[i];
        }
        if (!nonzero && !rem && !nd) break;
        digits[nd++] = (unsigned char)rem;
        if (!nonzero) break;
    }
    for (int i = 0; i < zeros; i++) o[k++] = '1';
    while (nd) o[k++] = A[digits[--nd]];
    o[k] = '\0';
    return o;
}

/* What a price should give: NULL when it must be refused. */
static const char *expected_units(apr_pool_t *p, const char *price, int dec)
{
    const char *dot = strchr(price, '.');
    size_t il = dot ? (size_t)(dot - price) : strlen(price), fl = dot ? strlen(dot + 1) : 0;
    char *digits;
    const char *q;
    if (dec < 0 || dec > 77 || il == 0 || (dot && fl == 0)) return NULL;
    for (size_t i = 0; i < il; i++) if (!isdigit((unsigned char)price[i])) return NULL;
    for (size_t i = 0; i < fl; i++) if (!isdigit((unsigned char)dot[1 + i])) return NULL;
    while (fl && dot[fl] == '0') fl--;
    if (fl > (size_t)dec) return NULL;
    digits = apr_pstrcat(p, apr_pstrmemdup(p, price, il), dot ? apr_pstrmemdup(p, dot + 1, fl) : "", NULL);
    for (size_t i = fl; i < (size_t)dec; i++) digits = apr_pstrcat(p, digits, "0", NULL);
    for (q = digits; *q == '0' && q[1]; q++) ;
    if (strlen(q) > strlen(MAX256) || (strlen(q) == strlen(MAX256) && strcmp(q, MAX256) > 0)) return NULL;
    return q;
}

static void one_text(apr_pool_t *p, const char *s, int dec)
{
    unsigned char v[32], b20[20], b32[32], *var;
    apr_size_t n;
    apr_uint64_t u;
    int valid = mpp_amount_valid(s);
    const char *exp = expected_units(p, s, dec);
    char *out = NULL;
    const char *e;

    FUZZ_ASSERT(valid == (mpp_u256_from_dec(s, v) == 0), "amount_valid and u256_from_dec disagree on %s", s);
    if (valid) {
        FUZZ_ASSERT(!strcmp(mpp_u256_to_dec(p, v), s), "%s reads back as %s", s, mpp_u256_to_dec(p, v));
        if (!mpp_u256_to_u64(v, &u)) {
            unsigned char w[32];
            mpp_u256_from_u64(u, w);
            FUZZ_ASSERT(!memcmp(w, v, 32) && !strcmp(apr_psprintf(p, "%" APR_UINT64_T_FMT, u), s), "u64 of %s", s);
        }
        else FUZZ_ASSERT(strlen(s) >= 20, "%s does not fit 64 bits", s);
    }
    e = mpp_amount_from_price(p, s, dec, &out);
    FUZZ_ASSERT(!e == !!exp, "price %s with %d decimals: %s, expected %s", s, dec, e ? e : out, exp ? exp : "refusal");
    if (!e) FUZZ_ASSERT(!strcmp(out, exp) && mpp_amount_valid(out), "price %s (%d) -> %s, expected %s", s, dec, out, exp);

    if (!mpp_u256_from_quantity(s, v)) {
        FUZZ_ASSERT(!strcmp(mpp_u256_to_quantity(p, v), apr_pstrcat(p, "0x", lower(p, s + 2), NULL)),
                    "quantity %s reads back as %s", s, mpp_u256_to_quantity(p, v));
    }
    if (!mpp_hex_decode_var(p, s, 64, &var, &n)) {
        FUZZ_ASSERT(!strcmp(mpp_hex_encode(p, var, n), apr_pstrcat(p, "0x", lower(p, s + 2), NULL)), "hex %s", s);
        FUZZ_ASSERT(!mpp_hex_decode(s, var, n), "exact hex refuses what var hex took");
    }
    if (!mpp_evm_address_parse(s, b20))
        FUZZ_ASSERT(!strcmp(mpp_evm_address_format(p, b20), apr_pstrcat(p, "0x", lower(p, s + 2), NULL)),
                    "address %s", s);
    if (!mpp_hex_decode(s, b32, 32)) FUZZ_ASSERT(strlen(s) == 66, "32-byte hex of %zu chars", strlen(s));
    if (!mpp_base58_decode32(s, b32))
        FUZZ_ASSERT(!strcmp(b58(p, b32), s), "base58 %s is not canonical (%s)", s, b58(p, b32));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_begin();
    fuzz_in_t in = { data, size };
    unsigned char d;
    int dec;
    const char *a, *b;
    unsigned char va[32], vb[32];

    fuzz_bytes(&in, &d, 1);
    dec = (int)(d % 82) - 2;   /* -2 .. 79: both sides of the allowed range */
    a = fuzz_field(p, &in, '\n');
    b = fuzz_field(p, &in, '\n');
    one_text(p, a, dec);
    one_text(p, b, dec);
    if (!mpp_u256_from_dec(a, va) && !mpp_u256_from_dec(b, vb))
        FUZZ_ASSERT(sign_of(mpp_amount_cmp(a, b)) == sign_of(memcmp(va, vb, 32)), "cmp(%s, %s)", a, b);
    fuzz_end();
    return 0;
}
