/* The `Payment-Receipt` header: base64url of a JSON object. */
#ifndef MPP_RECEIPT_H
#define MPP_RECEIPT_H

#include <apr_pools.h>
#include <json-c/json.h>

/* base64url(JCS(receipt)); NULL and *err unless status, timestamp (RFC 3339)
 * and reference are present strings. */
char *mpp_receipt_format(apr_pool_t *p, json_object *receipt, const char **err);

/* Decode and check a header value (same rules); the object or NULL. */
json_object *mpp_receipt_parse(apr_pool_t *p, const char *hdr, const char **err);

#endif
