#include "mpp_b64.h"

static const char URL_ALPHA[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char STD_ALPHA[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *encode(apr_pool_t *p, const unsigned char *d, apr_size_t len,
                    const char *alpha, int pad)
{
    apr_size_t olen = (len / 3) * 4 + 4 + 1, i, o = 0;
    char *out = apr_palloc(p, olen);

    for (i = 0; i + 2 < len; i += 3) {
        unsigned v = ((unsigned)d[i] << 16) | ((unsigned)d[i + 1] << 8) | d[i + 2];
        out[o++] = alpha[(v >> 18) & 63];
        out[o++] = alpha[(v >> 12) & 63];
        out[o++] = alpha[(v >> 6) & 63];
        out[o++] = alpha[v & 63];
    }
    if (len - i == 1) {
        unsigned v = (unsigned)d[i] << 16;
        out[o++] = alpha[(v >> 18) & 63];
        out[o++] = alpha[(v >> 12) & 63];
        if (pad) { out[o++] = '='; out[o++] = '='; }
    }
    else if (len - i == 2) {
        unsigned v = ((unsigned)d[i] << 16) | ((unsigned)d[i + 1] << 8);
        out[o++] = alpha[(v >> 18) & 63];
        out[o++] = alpha[(v >> 12) & 63];
        out[o++] = alpha[(v >> 6) & 63];
        if (pad) out[o++] = '=';
    }
    out[o] = '\0';
    return out;
}

char *mpp_b64url_encode(apr_pool_t *p, const unsigned char *data, apr_size_t len)
{
    return encode(p, data, len, URL_ALPHA, 0);
}

char *mpp_b64std_encode(apr_pool_t *p, const unsigned char *data, apr_size_t len)
{
    return encode(p, data, len, STD_ALPHA, 1);
}

static int url_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

int mpp_b64url_decode(apr_pool_t *p, const char *in, apr_size_t inlen,
                      unsigned char **out, apr_size_t *outlen)
{
    apr_size_t i, o = 0, rem = inlen % 4;
    unsigned char *buf;
    unsigned acc = 0;
    int bits = 0;

    if (rem == 1)
        return -1;
    buf = apr_palloc(p, (inlen / 4) * 3 + 3 + 1);
    for (i = 0; i < inlen; i++) {
        int v = url_val((unsigned char)in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (unsigned char)((acc >> bits) & 0xff);
        }
    }
    /* leftover bits must be zero, or two texts would decode to one value */
    if (bits && (acc & ((1u << bits) - 1)))
        return -1;
    buf[o] = '\0';
    *out = buf;
    *outlen = o;
    return 0;
}
