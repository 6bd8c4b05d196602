#include "mpp_rlp.h"

#include <string.h>

static int be_len(const unsigned char *p, apr_size_t n, apr_size_t *out)
{
    apr_size_t v = 0;
    if (n == 0 || n > 4 || p[0] == 0) return -1;   /* canonical, and < 4 GiB */
    for (apr_size_t i = 0; i < n; i++) v = (v << 8) | p[i];
    *out = v;
    return 0;
}

int mpp_rlp_decode(const unsigned char *in, apr_size_t inlen, mpp_rlp_t *item, apr_size_t *used)
{
    unsigned char b;
    apr_size_t hdr, len;

    if (inlen == 0) return -1;
    b = in[0];
    if (b < 0x80) {
        item->p = in; item->len = 1; item->is_list = 0;
        *used = 1;
        return 0;
    }
    if (b <= 0xb7) {
        hdr = 1; len = b - 0x80u; item->is_list = 0;
        if (len == 1 && (inlen < 2 || in[1] < 0x80)) return -1;
    }
    else if (b <= 0xbf) {
        apr_size_t ll = b - 0xb7u;
        if (inlen < 1 + ll || be_len(in + 1, ll, &len) || len < 56) return -1;
        hdr = 1 + ll; item->is_list = 0;
    }
    else if (b <= 0xf7) {
        hdr = 1; len = b - 0xc0u; item->is_list = 1;
    }
    else {
        apr_size_t ll = b - 0xf7u;
        if (inlen < 1 + ll || be_len(in + 1, ll, &len) || len < 56) return -1;
        hdr = 1 + ll; item->is_list = 1;
    }
    if (len > inlen - hdr) return -1;
    item->p = in + hdr;
    item->len = len;
    *used = hdr + len;
    return 0;
}

int mpp_rlp_items(const mpp_rlp_t *list, mpp_rlp_t *items, int max, int *count)
{
    apr_size_t off = 0, used;
    int n = 0;
    if (!list->is_list) return -1;
    while (off < list->len) {
        if (n >= max || mpp_rlp_decode(list->p + off, list->len - off, &items[n], &used)) return -1;
        off += used;
        n++;
    }
    *count = n;
    return 0;
}

int mpp_rlp_uint(const mpp_rlp_t *item, unsigned char out[32])
{
    if (item->is_list || item->len > 32 || (item->len && item->p[0] == 0)) return -1;
    memset(out, 0, 32);
    memcpy(out + 32 - item->len, item->p, item->len);
    return 0;
}

static void put(apr_array_header_t *b, const void *s, apr_size_t n)
{
    for (apr_size_t i = 0; i < n; i++)
        *(unsigned char *)apr_array_push(b) = ((const unsigned char *)s)[i];
}

static void header(unsigned char *h, apr_size_t *hn, apr_size_t len, unsigned base)
{
    if (len < 56) { h[0] = (unsigned char)(base + len); *hn = 1; return; }
    {
        unsigned char tmp[8];
        int k = 0;
        while (len) { tmp[k++] = (unsigned char)(len & 0xff); len >>= 8; }
        h[0] = (unsigned char)(base + 55 + (unsigned)k);
        for (int i = 0; i < k; i++) h[1 + i] = tmp[k - 1 - i];
        *hn = (apr_size_t)k + 1;
    }
}

void mpp_rlp_put_bytes(apr_array_header_t *b, const unsigned char *s, apr_size_t n)
{
    unsigned char h[9];
    apr_size_t hn;
    if (n == 1 && s[0] < 0x80) { put(b, s, 1); return; }
    header(h, &hn, n, 0x80);
    put(b, h, hn);
    put(b, s, n);
}

void mpp_rlp_put_uint(apr_array_header_t *b, const unsigned char v[32])
{
    int i = 0;
    while (i < 32 && v[i] == 0) i++;
    mpp_rlp_put_bytes(b, v + i, (apr_size_t)(32 - i));
}

void mpp_rlp_wrap_list(apr_array_header_t *b, int start)
{
    apr_size_t len = (apr_size_t)(b->nelts - start), hn;
    unsigned char h[9];
    header(h, &hn, len, 0xc0);
    for (apr_size_t i = 0; i < hn; i++) apr_array_push(b);
    memmove(b->elts + start + hn, b->elts + start, len);
    memcpy(b->elts + start, h, hn);
}
