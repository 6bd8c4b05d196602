/* EVM structures of the charge method: EIP-712 digests for EIP-3009
 * authorizations, the challenge hash, EIP-1559 transactions (decode with
 * sender recovery, encode and sign), and ERC-20 call data. */
#ifndef MPP_EVM_H
#define MPP_EVM_H

#include <apr_pools.h>
#include <json-c/json.h>

/* keccak256(utf8(id) || utf8(realm)): what an authorization's nonce must be. */
void mpp_evm_challenge_hash(const char *id, const char *realm, unsigned char out[32]);

/* EIP-712 domain separator {name, version, chainId, verifyingContract}. */
void mpp_eip712_domain(const char *name, const char *version, apr_uint64_t chain_id,
                       const unsigned char contract[20], unsigned char out[32]);

/* The digest an EIP-3009 TransferWithAuthorization signature signs. */
void mpp_eip3009_digest(const unsigned char domain[32], const unsigned char from[20],
                        const unsigned char to[20], const unsigned char value[32],
                        const unsigned char valid_after[32], const unsigned char valid_before[32],
                        const unsigned char nonce[32], unsigned char out[32]);

typedef struct {
    unsigned char chain_id[32], nonce[32], max_priority_fee[32], max_fee[32], gas[32], value[32];
    unsigned char to[20];
    int has_to;
    const unsigned char *data;
    apr_size_t data_len;
    int access_list_empty;
    unsigned char hash[32];       /* keccak256 of the raw signed transaction */
    unsigned char from[20];       /* recovered sender */
} mpp_evm_tx_t;

/* Decode a signed EIP-1559 (type 2) transaction and recover its sender. */
int mpp_evm_tx_decode(const unsigned char *raw, apr_size_t len, mpp_evm_tx_t *tx, const char **err);

/* Encode and sign an EIP-1559 transaction (empty access list) with key. */
int mpp_evm_tx_sign(apr_pool_t *p, const mpp_evm_tx_t *tx, const unsigned char key[32],
                    unsigned char **raw, apr_size_t *len);

/* What a transaction receipt's logs pay: an ERC-20 Transfer of token to
 * recipient (from `from` when given) of at least amount, only a smaller
 * one, or none. */
typedef enum { MPP_EVM_NO_TRANSFER = 0, MPP_EVM_TRANSFER_BELOW, MPP_EVM_TRANSFER_PAID } mpp_evm_transfer_t;
mpp_evm_transfer_t mpp_evm_receipt_transfer(json_object *receipt, const unsigned char token[20],
                                            const unsigned char recipient[20], const unsigned char *from,
                                            const unsigned char amount[32]);

/* Was the receipt's transaction sent by addr (or is its sender unreadable)? */
int mpp_evm_receipt_sender_is(json_object *receipt, const unsigned char addr[20]);

/* transfer(address,uint256) call data (68 bytes) and its check. */
void mpp_erc20_transfer_data(const unsigned char to[20], const unsigned char amount[32],
                             unsigned char out[68]);
int mpp_erc20_parse_transfer(const unsigned char *data, apr_size_t len, unsigned char to[20],
                             unsigned char amount[32]);

/* transferWithAuthorization(from,to,value,validAfter,validBefore,nonce,v,r,s) data (4 + 9*32). */
void mpp_eip3009_call_data(const unsigned char from[20], const unsigned char to[20],
                           const unsigned char value[32], const unsigned char valid_after[32],
                           const unsigned char valid_before[32], const unsigned char nonce[32],
                           int v, const unsigned char r[32], const unsigned char s[32],
                           unsigned char out[292]);

#endif
