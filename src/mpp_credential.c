#include "mpp_credential.h"
#include "mpp_b64.h"
#include "mpp_json.h"
#include "mpp_limits.h"

#include <apr_strings.h>
#include <string.h>

static int is_b64url(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
        || c == '-' || c == '_';
}

/* Method and intent names are short tokens; anything else is not ours. */
static int token_ok(const char *s, const char *allowed)
{
    size_t n = strlen(s);
    return n > 0 && n <= 64 && strspn(s, allowed) == n;
}

/* Challenge echo members that must be strings when present. */
static int echo_str(json_object *ch, const char *key, const char **out, int required,
                    const char **err, apr_pool_t *p)
{
    json_object *v;
    *out = NULL;
    if (!json_object_object_get_ex(ch, key, &v) || v == NULL) {
        if (required) { *err = apr_psprintf(p, "challenge.%s is missing", key); return -1; }
        return 0;
    }
    if (!json_object_is_type(v, json_type_string)) {
        *err = apr_psprintf(p, "challenge.%s is not a string", key);
        return -1;
    }
    *out = json_object_get_string(v);
    return 0;
}

mpp_cred_status_t mpp_credential_decode(apr_pool_t *p, const char *token, apr_size_t len,
                                        mpp_credential_t *c, const char **err)
{
    unsigned char *raw;
    apr_size_t rlen;
    json_object *root, *ch, *v;
    mpp_challenge_t *e = &c->challenge;

    memset(c, 0, sizeof(*c));
    if (len > MPP_MAX_AUTH_HEADER) { *err = "credential too large"; return MPP_CRED_MALFORMED; }
    if (mpp_b64url_decode(p, token, len, &raw, &rlen)) {
        *err = "credential is not valid base64url";
        return MPP_CRED_MALFORMED;
    }
    root = mpp_json_parse(p, (const char *)raw, rlen, MPP_MAX_JSON, MPP_MAX_JSON_DEPTH, err);
    if (!root) return MPP_CRED_MALFORMED;
    if (!json_object_is_type(root, json_type_object)) {
        *err = "credential is not a JSON object";
        return MPP_CRED_MALFORMED;
    }
    if (!json_object_object_get_ex(root, "challenge", &ch) || !json_object_is_type(ch, json_type_object)) {
        *err = "credential.challenge is missing or not an object";
        return MPP_CRED_MALFORMED;
    }
    if (echo_str(ch, "id", &e->id, 1, err, p) || echo_str(ch, "realm", &e->realm, 1, err, p)
        || echo_str(ch, "method", &e->method, 1, err, p)
        || echo_str(ch, "intent", &e->intent, 1, err, p)
        || echo_str(ch, "request", &e->request, 1, err, p)
        || echo_str(ch, "expires", &e->expires, 0, err, p)
        || echo_str(ch, "digest", &e->digest, 0, err, p)
        || echo_str(ch, "description", &e->description, 0, err, p)
        || echo_str(ch, "opaque", &e->opaque, 0, err, p)
        || echo_str(ch, "header", &e->header, 0, err, p))
        return MPP_CRED_MALFORMED;
    if (!*e->id) { *err = "challenge.id is empty"; return MPP_CRED_MALFORMED; }
    if (!token_ok(e->method, "abcdefghijklmnopqrstuvwxyz0123456789:_-")
        || e->method[0] < 'a' || e->method[0] > 'z') {
        *err = "challenge.method is not a method name";
        return MPP_CRED_MALFORMED;
    }
    if (!token_ok(e->intent, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-")) {
        *err = "challenge.intent is not an intent name";
        return MPP_CRED_MALFORMED;
    }
    e->request_obj = mpp_json_from_b64url(p, e->request, MPP_MAX_JSON, MPP_MAX_JSON_DEPTH, err);
    if (!e->request_obj) {
        *err = apr_pstrcat(p, "challenge.request: ", *err, NULL);
        return MPP_CRED_MALFORMED;
    }
    if (!json_object_object_get_ex(root, "payload", &c->payload)
        || !json_object_is_type(c->payload, json_type_object)) {
        *err = "credential.payload is missing or not an object";
        return MPP_CRED_MALFORMED;
    }
    if (json_object_object_get_ex(root, "source", &v) && v != NULL) {
        if (!json_object_is_type(v, json_type_string) && !json_object_is_type(v, json_type_object)) {
            *err = "credential.source must be a string";
            return MPP_CRED_MALFORMED;
        }
        c->source = v;
    }
    return MPP_CRED_OK;
}

mpp_cred_status_t mpp_credential_parse(apr_pool_t *p, const char *hdr,
                                       mpp_credential_t *c, const char **err)
{
    const char *s = hdr, *tok = NULL;
    apr_size_t toklen = 0;
    int found = 0;

    *err = NULL;
    if (strlen(hdr) > MPP_MAX_AUTH_HEADER) { *err = "Authorization header too large"; return MPP_CRED_MALFORMED; }
    /* elements are comma-separated; base64url never contains a comma */
    while (*s) {
        const char *e = strchr(s, ',');
        const char *end = e ? e : s + strlen(s);
        const char *q = s;
        while (q < end && (*q == ' ' || *q == '\t')) q++;
        if (end - q >= 7 && !strncasecmp(q, "Payment", 7)
            && (end - q == 7 || q[7] == ' ' || q[7] == '\t')) {
            const char *t = q + 7, *te;
            if (++found > 1) { *err = "more than one Payment credential"; return MPP_CRED_MULTIPLE; }
            while (t < end && (*t == ' ' || *t == '\t')) t++;
            te = t;
            while (te < end && is_b64url((unsigned char)*te)) te++;
            tok = t;
            toklen = (apr_size_t)(te - t);
            while (te < end && (*te == ' ' || *te == '\t')) te++;
            if (te != end || toklen == 0) tok = NULL; /* junk: malformed */
        }
        s = e ? e + 1 : end;
    }
    if (!found) { *err = "no Payment credential"; return MPP_CRED_NONE; }
    if (!tok) { *err = "credential is not a base64url token"; return MPP_CRED_MALFORMED; }
    return mpp_credential_decode(p, tok, toklen, c, err);
}

char *mpp_credential_format(apr_pool_t *p, const mpp_credential_t *c, const char **err)
{
    const mpp_challenge_t *e = &c->challenge;
    json_object *root = mpp_json_pool_own(p, json_object_new_object());
    json_object *ch = json_object_new_object();
    const char *req = e->request;
    const char *names[] = { "id", "realm", "method", "intent", "description", "digest",
                            "expires", "opaque", "header" };
    const char *vals[] = { e->id, e->realm, e->method, e->intent, e->description, e->digest,
                           e->expires, e->opaque, e->header };

    if (!req && e->request_obj)
        req = mpp_jcs_b64url(p, e->request_obj);
    if (!e->id || !e->realm || !e->method || !e->intent || !req || !c->payload) {
        json_object_put(ch);
        *err = "credential lacks a required field";
        return NULL;
    }
    json_object_object_add(root, "challenge", ch);
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (vals[i])
            json_object_object_add(ch, names[i], json_object_new_string(vals[i]));
    json_object_object_add(ch, "request", json_object_new_string(req));
    json_object_object_add(root, "payload", json_object_get(c->payload));
    if (c->source)
        json_object_object_add(root, "source", json_object_get(c->source));
    return apr_pstrcat(p, "Payment ", mpp_jcs_b64url(p, root), NULL);
}
