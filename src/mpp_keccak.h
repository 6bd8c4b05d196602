/* Keccak-256 as Ethereum uses it (original 0x01 padding, not SHA3-256),
 * on nettle's Keccak-f[1600] permutation. */
#ifndef MPP_KECCAK_H
#define MPP_KECCAK_H

#include <stddef.h>

typedef struct {
    unsigned long long a[25];
    unsigned char buf[136];
    size_t used;
} mpp_keccak_t;

void mpp_keccak_init(mpp_keccak_t *k);
void mpp_keccak_update(mpp_keccak_t *k, const void *data, size_t len);
void mpp_keccak_final(mpp_keccak_t *k, unsigned char out[32]);
void mpp_keccak256(const void *data, size_t len, unsigned char out[32]);

#endif
