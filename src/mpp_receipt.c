#include "mpp_receipt.h"
#include "mpp_json.h"
#include "mpp_limits.h"
#include "mpp_time.h"

#include <string.h>

static int check(json_object *r, const char **err)
{
    const char *st = mpp_json_str(r, "status"), *ts = mpp_json_str(r, "timestamp");
    const char *ref = mpp_json_str(r, "reference");
    json_object *m;
    apr_time_t t;

    if (!st || !*st) { *err = "receipt.status missing"; return -1; }
    if (!ts || mpp_time_parse(ts, &t)) { *err = "receipt.timestamp missing or not RFC 3339"; return -1; }
    if (!ref || !*ref) { *err = "receipt.reference missing"; return -1; }
    if (json_object_object_get_ex(r, "method", &m) && !json_object_is_type(m, json_type_string)) {
        *err = "receipt.method is not a string";
        return -1;
    }
    return 0;
}

char *mpp_receipt_format(apr_pool_t *p, json_object *receipt, const char **err)
{
    if (!receipt || !json_object_is_type(receipt, json_type_object)) {
        *err = "receipt is not an object";
        return NULL;
    }
    if (check(receipt, err))
        return NULL;
    return mpp_jcs_b64url(p, receipt);
}

json_object *mpp_receipt_parse(apr_pool_t *p, const char *hdr, const char **err)
{
    json_object *r;
    while (*hdr == ' ' || *hdr == '\t') hdr++;
    r = mpp_json_from_b64url(p, hdr, MPP_MAX_JSON, MPP_MAX_JSON_DEPTH, err);
    if (!r || check(r, err))
        return NULL;
    return r;
}
