#include "mpp_keccak.h"

#include <nettle/sha3.h>
#include <string.h>

#define RATE 136   /* 1600 - 2 * 256 bits */

static void absorb(mpp_keccak_t *k, const unsigned char *block)
{
    struct sha3_state st;
    for (int i = 0; i < RATE / 8; i++) {
        unsigned long long w = 0;
        for (int b = 7; b >= 0; b--) w = (w << 8) | block[8 * i + b];
        k->a[i] ^= w;
    }
    memcpy(st.a, k->a, sizeof(st.a));
    sha3_permute(&st);
    memcpy(k->a, st.a, sizeof(st.a));
}

void mpp_keccak_init(mpp_keccak_t *k)
{
    memset(k, 0, sizeof(*k));
}

void mpp_keccak_update(mpp_keccak_t *k, const void *data, size_t len)
{
    const unsigned char *d = data;
    while (len) {
        size_t n = RATE - k->used;
        if (n > len) n = len;
        memcpy(k->buf + k->used, d, n);
        k->used += n;
        d += n;
        len -= n;
        if (k->used == RATE) {
            absorb(k, k->buf);
            k->used = 0;
        }
    }
}

void mpp_keccak_final(mpp_keccak_t *k, unsigned char out[32])
{
    memset(k->buf + k->used, 0, RATE - k->used);
    k->buf[k->used] ^= 0x01;      /* Keccak padding, as Ethereum */
    k->buf[RATE - 1] ^= 0x80;
    absorb(k, k->buf);
    for (int i = 0; i < 4; i++)
        for (int b = 0; b < 8; b++)
            out[8 * i + b] = (unsigned char)(k->a[i] >> (8 * b));
}

void mpp_keccak256(const void *data, size_t len, unsigned char out[32])
{
    mpp_keccak_t k;
    mpp_keccak_init(&k);
    mpp_keccak_update(&k, data, len);
    mpp_keccak_final(&k, out);
}
