#include "mpp_u256.h"
#include "mpp_amount.h"

#include <apr_strings.h>
#include <string.h>

static int hv(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int mpp_u256_from_dec(const char *s, unsigned char out[32])
{
    if (!mpp_amount_valid(s)) return -1;   /* canonical and <= 2^256-1 */
    memset(out, 0, 32);
    for (; *s; s++) {
        unsigned carry = (unsigned)(*s - '0');
        for (int i = 31; i >= 0; i--) {
            unsigned v = out[i] * 10u + carry;
            out[i] = (unsigned char)(v & 0xff);
            carry = v >> 8;
        }
    }
    return 0;
}

int mpp_u256_from_quantity(const char *s, unsigned char out[32])
{
    size_t n;
    if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) return -1;
    s += 2;
    n = strlen(s);
    if (n == 0 || n > 64 || (n > 1 && s[0] == '0')) return -1;
    memset(out, 0, 32);
    for (size_t i = 0; i < n; i++) {
        int v = hv(s[n - 1 - i]);
        if (v < 0) return -1;
        out[31 - i / 2] |= (unsigned char)(i % 2 ? v << 4 : v);
    }
    return 0;
}

char *mpp_u256_to_dec(apr_pool_t *p, const unsigned char v[32])
{
    unsigned char t[32];
    char buf[80], *o = buf + sizeof(buf) - 1;
    int zero;
    memcpy(t, v, 32);
    *o = '\0';
    do {
        unsigned rem = 0;
        zero = 1;
        for (int i = 0; i < 32; i++) {
            unsigned cur = (rem << 8) | t[i];
            t[i] = (unsigned char)(cur / 10);
            rem = cur % 10;
            if (t[i]) zero = 0;
        }
        *--o = (char)('0' + rem);
    } while (!zero);
    return apr_pstrdup(p, o);
}

int mpp_u256_to_u64(const unsigned char v[32], apr_uint64_t *out)
{
    apr_uint64_t x = 0;
    for (int i = 0; i < 24; i++) if (v[i]) return -1;
    for (int i = 24; i < 32; i++) x = (x << 8) | v[i];
    *out = x;
    return 0;
}

void mpp_u256_from_u64(apr_uint64_t x, unsigned char out[32])
{
    memset(out, 0, 32);
    for (int i = 31; i >= 24; i--) { out[i] = (unsigned char)(x & 0xff); x >>= 8; }
}

int mpp_hex_decode(const char *s, unsigned char *out, apr_size_t n)
{
    if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || strlen(s + 2) != 2 * n) return -1;
    s += 2;
    for (apr_size_t i = 0; i < n; i++) {
        int a = hv(s[2 * i]), b = hv(s[2 * i + 1]);
        if (a < 0 || b < 0) return -1;
        out[i] = (unsigned char)(a << 4 | b);
    }
    return 0;
}

int mpp_hex_decode_var(apr_pool_t *p, const char *s, apr_size_t max, unsigned char **out, apr_size_t *n)
{
    size_t len;
    if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) return -1;
    len = strlen(s + 2);
    if (len % 2 || len / 2 > max) return -1;
    *n = len / 2;
    *out = apr_palloc(p, *n ? *n : 1);
    return mpp_hex_decode(s, *out, *n);
}

char *mpp_hex_encode(apr_pool_t *p, const unsigned char *b, apr_size_t n)
{
    static const char h[] = "0123456789abcdef";
    char *o = apr_palloc(p, 2 * n + 3);
    o[0] = '0'; o[1] = 'x';
    for (apr_size_t i = 0; i < n; i++) { o[2 + 2 * i] = h[b[i] >> 4]; o[3 + 2 * i] = h[b[i] & 15]; }
    o[2 + 2 * n] = '\0';
    return o;
}

char *mpp_u256_to_quantity(apr_pool_t *p, const unsigned char v[32])
{
    static const char h[] = "0123456789abcdef";
    char buf[67], *o = buf;
    int started = 0;
    *o++ = '0'; *o++ = 'x';
    for (int i = 0; i < 32; i++) {
        int hi = v[i] >> 4, lo = v[i] & 15;
        if (started || hi) { *o++ = h[hi]; started = 1; }
        if (started || lo) { *o++ = h[lo]; started = 1; }
    }
    if (!started) *o++ = '0';
    *o = '\0';
    return apr_pstrdup(p, buf);
}
