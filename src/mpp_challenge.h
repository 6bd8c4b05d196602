/* The `Payment` challenge: binding id, WWW-Authenticate format and parse. */
#ifndef MPP_CHALLENGE_H
#define MPP_CHALLENGE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <json-c/json.h>

typedef struct {
    const char *id;
    const char *realm;
    const char *method;
    const char *intent;
    const char *request;      /* base64url(JCS(request object)) as on the wire */
    json_object *request_obj; /* the decoded request, when known */
    const char *expires;      /* optional fields: NULL when absent */
    const char *digest;
    const char *description;
    const char *opaque;
    const char *header;       /* credential header bound into the id, if not Authorization */
} mpp_challenge_t;

/* base64url(HMAC-SHA256(key, realm|method|intent|request|expires|digest|[header|]opaque)) */
char *mpp_challenge_compute_id(apr_pool_t *p, const unsigned char *key, apr_size_t keylen,
                               const mpp_challenge_t *c);

/* The HMAC input itself (exposed for tests and diagnostics). */
char *mpp_challenge_binding_input(apr_pool_t *p, const mpp_challenge_t *c);

/* `Payment id="..", realm="..", ...` in mppx's parameter order. Fails (NULL,
 * *err set) on CR, LF or other control characters in a value. Non-ASCII is
 * written as \uXXXX UTF-16 escapes, which mppx clients read back. */
char *mpp_challenge_format(apr_pool_t *p, const mpp_challenge_t *c, const char **err);

/* Parse every `Payment` challenge of a WWW-Authenticate value (other schemes
 * are skipped). Returns an array of mpp_challenge_t, or NULL and *err when
 * a Payment challenge is malformed or none is present. */
apr_array_header_t *mpp_challenge_parse_list(apr_pool_t *p, const char *hdr, const char **err);

/* The first Payment challenge of a header value; 0 or -1. */
int mpp_challenge_parse(apr_pool_t *p, const char *hdr, mpp_challenge_t *out, const char **err);

#endif
