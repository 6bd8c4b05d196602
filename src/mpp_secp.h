/* secp256k1 for Ethereum: signer recovery and signing (libsecp256k1). */
#ifndef MPP_SECP_H
#define MPP_SECP_H

/* Recover the address that signed digest. sig is r || s || v with v 27/28
 * or 0/1. High-s signatures (malleable twins) are refused. 0 or -1. */
int mpp_secp_recover(const unsigned char digest[32], const unsigned char sig[65],
                     unsigned char addr[20]);

/* The same with the parts apart; recid 0 or 1. */
int mpp_secp_recover_rs(const unsigned char digest[32], const unsigned char r[32],
                        const unsigned char s[32], int recid, unsigned char addr[20]);

/* Sign digest with a 32-byte private key: rs = r || s (low s), *recid 0/1. */
int mpp_secp_sign(const unsigned char key[32], const unsigned char digest[32],
                  unsigned char rs[64], int *recid);

/* The address of a private key. 0 or -1 (invalid key). */
int mpp_secp_address(const unsigned char key[32], unsigned char addr[20]);

#endif
