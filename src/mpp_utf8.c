#include "mpp_utf8.h"

int mpp_utf8_valid(const unsigned char *s, apr_size_t len)
{
    apr_size_t i = 0;

    while (i < len) {
        unsigned char c = s[i];
        unsigned cp;
        int n;

        if (c < 0x80) { i++; continue; }
        if (c >= 0xc2 && c <= 0xdf) { n = 1; cp = c & 0x1f; }
        else if (c >= 0xe0 && c <= 0xef) { n = 2; cp = c & 0x0f; }
        else if (c >= 0xf0 && c <= 0xf4) { n = 3; cp = c & 0x07; }
        else return 0;
        for (int k = 1; k <= n; k++) {
            if (i + (apr_size_t)k >= len || (s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += (apr_size_t)n + 1;
    }
    return 1;
}

void mpp_utf8_put(char *b, apr_size_t *o, unsigned cp)
{
    if (cp < 0x80) b[(*o)++] = (char)cp;
    else if (cp < 0x800) {
        b[(*o)++] = (char)(0xc0 | (cp >> 6));
        b[(*o)++] = (char)(0x80 | (cp & 0x3f));
    }
    else if (cp < 0x10000) {
        b[(*o)++] = (char)(0xe0 | (cp >> 12));
        b[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[(*o)++] = (char)(0x80 | (cp & 0x3f));
    }
    else {
        b[(*o)++] = (char)(0xf0 | (cp >> 18));
        b[(*o)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[(*o)++] = (char)(0x80 | (cp & 0x3f));
    }
}

int mpp_hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}
