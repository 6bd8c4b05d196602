/* Strict JSON reading (limits, no duplicate keys, valid UTF-8) onto json-c
 * objects, and RFC 8785 (JCS) canonical serialisation. */
#ifndef MPP_JSON_H
#define MPP_JSON_H

#include <apr_pools.h>
#include <json-c/json.h>

#define MPP_JSON_MAX_DEPTH_DEFAULT 16

/* Parse len bytes. Rejects: input over max_len, nesting deeper than
 * max_depth, invalid UTF-8, duplicate object keys, NUL characters, lone
 * surrogates, non-finite numbers and trailing data. The root is released
 * when pool p is cleared. On failure returns NULL and sets *err. */
json_object *mpp_json_parse(apr_pool_t *p, const char *text, apr_size_t len,
                            apr_size_t max_len, int max_depth, const char **err);

/* JCS serialisation: sorted keys (UTF-16 code units), no whitespace,
 * ECMAScript number form, minimal string escaping. */
char *mpp_jcs(apr_pool_t *p, json_object *o);
/* A string as JCS writes it, quotes included (to build JCS text by hand). */
char *mpp_json_quote(apr_pool_t *p, const char *s);

/* base64url(JCS(o)): the form of the `request` and `opaque` auth-params. */
char *mpp_jcs_b64url(apr_pool_t *p, json_object *o);

/* Decode a base64url JSON object (strict base64url and strict JSON). */
json_object *mpp_json_from_b64url(apr_pool_t *p, const char *b64, apr_size_t max_len,
                                  int max_depth, const char **err);

/* Tie an object's reference to a pool (json_object_put at cleanup). */
json_object *mpp_json_pool_own(apr_pool_t *p, json_object *o);

/* Member as a string, NULL when absent or not a string. */
const char *mpp_json_str(json_object *o, const char *key);

/* ECMAScript Number::toString for a finite double. */
char *mpp_json_number_es(apr_pool_t *p, double d);

#endif
