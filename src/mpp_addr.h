/* Chain addresses: EVM 20-byte hex, Solana 32-byte base58. */
#ifndef MPP_ADDR_H
#define MPP_ADDR_H

#include <apr_pools.h>

/* "0x" + 40 hex digits, any case (checksums are not trusted); 0 or -1. */
int mpp_evm_address_parse(const char *s, unsigned char out[20]);

/* Lower-case 0x form of 20 bytes. */
char *mpp_evm_address_format(apr_pool_t *p, const unsigned char a[20]);

/* Base58 (Bitcoin alphabet) decoding to exactly 32 bytes; 0 or -1. */
int mpp_base58_decode32(const char *s, unsigned char out[32]);

#endif
