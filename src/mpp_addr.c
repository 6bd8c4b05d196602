#include "mpp_addr.h"
#include "mpp_u256.h"

#include <string.h>

int mpp_evm_address_parse(const char *s, unsigned char out[20])
{
    /* 0x and exactly 40 hex digits; checksums carry nothing we trust */
    return mpp_hex_decode(s, out, 20);
}

char *mpp_evm_address_format(apr_pool_t *p, const unsigned char a[20])
{
    static const char hex[] = "0123456789abcdef";
    char *o = apr_palloc(p, 43);
    o[0] = '0'; o[1] = 'x';
    for (int i = 0; i < 20; i++) {
        o[2 + 2 * i] = hex[a[i] >> 4];
        o[3 + 2 * i] = hex[a[i] & 15];
    }
    o[42] = '\0';
    return o;
}

int mpp_base58_decode32(const char *s, unsigned char out[32])
{
    static const char A[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    unsigned char buf[64] = { 0 };
    size_t n = strlen(s), zeros = 0, used = 0;

    if (n == 0 || n > 44) return -1;
    while (zeros < n && s[zeros] == '1') zeros++;
    for (size_t i = 0; i < n; i++) {
        const char *c = strchr(A, s[i]);
        unsigned carry;
        if (!c || !s[i]) return -1;
        carry = (unsigned)(c - A);
        for (size_t j = 0; j < used || carry; j++) {
            if (j >= sizeof(buf)) return -1;
            carry += 58u * buf[sizeof(buf) - 1 - j];
            buf[sizeof(buf) - 1 - j] = (unsigned char)(carry & 0xff);
            carry >>= 8;
            if (j + 1 > used) used = j + 1;
        }
    }
    /* leading '1's are leading zero bytes */
    {
        size_t sig = used;
        while (sig && buf[sizeof(buf) - sig] == 0) sig--;
        if (zeros + sig != 32) return -1;
        memset(out, 0, zeros);
        memcpy(out + zeros, buf + sizeof(buf) - sig, sig);
    }
    return 0;
}
