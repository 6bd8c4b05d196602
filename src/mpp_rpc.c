#include "mpp_rpc.h"
#include "mpp_json.h"

#include <apr_atomic.h>
#include <apr_strings.h>
#include <curl/curl.h>
#include <string.h>

typedef struct {
    apr_pool_t *p;
    char *buf;
    apr_size_t len, cap, max;
    int too_big;
} sink_t;

static size_t on_data(char *ptr, size_t size, size_t n, void *ud)
{
    sink_t *s = ud;
    size_t add = size * n;
    if (s->len + add > s->max) { s->too_big = 1; return 0; }   /* abort the transfer */
    if (s->len + add + 1 > s->cap) {
        apr_size_t cap = s->cap ? s->cap : 4096;
        char *nb;
        while (cap < s->len + add + 1) cap *= 2;
        nb = apr_palloc(s->p, cap);
        if (s->len) memcpy(nb, s->buf, s->len);
        s->buf = nb;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, ptr, add);
    s->len += add;
    return add;
}

int mpp_rpc_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static volatile apr_uint32_t next_id;
mpp_rpc_observer_fn *mpp_rpc_observer;

/* One endpoint: 0 with *reply parsed, or -1 (try the next). */
static int call_one(apr_pool_t *p, const mpp_rpc_t *rpc, const char *url, const char *body,
                    apr_uint32_t id, json_object **reply, const char **err)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    sink_t s = { p, NULL, 0, 0, rpc->max_response, 0 };
    long status = 0;
    CURLcode rc;
    json_object *o, *v;

    if (!c) { *err = "cannot create an HTTP handle"; return -1; }
    h = curl_slist_append(h, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, rpc->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, rpc->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (s.too_big) { *err = "RPC answer larger than the limit"; return -1; }
    if (rc != CURLE_OK) { *err = apr_pstrcat(p, "RPC transport: ", curl_easy_strerror(rc), NULL); return -1; }
    if (status != 200) { *err = apr_psprintf(p, "RPC HTTP status %ld", status); return -1; }
    o = mpp_json_parse(p, s.buf ? s.buf : "", s.len, rpc->max_response, 64, err);
    if (!o || !json_object_is_type(o, json_type_object)) {
        *err = "RPC answer is not a JSON object";
        return -1;
    }
    if (!json_object_object_get_ex(o, "id", &v) || !json_object_is_type(v, json_type_int)
        || json_object_get_int64(v) != (int64_t)id) {
        *err = "RPC answer carries another id";
        return -1;
    }
    *reply = o;
    return 0;
}

mpp_rpc_rc_t mpp_rpc_call(apr_pool_t *p, const mpp_rpc_t *rpc, const char *method,
                          json_object *params, json_object **result, long *code, const char **err)
{
    apr_uint32_t id = apr_atomic_inc32(&next_id) + 1;
    json_object *req = mpp_json_pool_own(p, json_object_new_object());
    const char *body;

    json_object_object_add(req, "jsonrpc", json_object_new_string("2.0"));
    json_object_object_add(req, "id", json_object_new_int64(id));
    json_object_object_add(req, "method", json_object_new_string(method));
    json_object_object_add(req, "params", params ? params : json_object_new_array());
    body = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
    *err = "no RPC endpoint configured";
    for (int i = 0; i < rpc->urls->nelts; i++) {
        const char *url = APR_ARRAY_IDX(rpc->urls, i, const char *);
        json_object *reply = NULL, *e, *r;
        apr_time_t t0 = apr_time_now();
        int failed = call_one(p, rpc, url, body, id, &reply, err), has_error = 0;
        if (!failed)
            has_error = json_object_object_get_ex(reply, "error", &e) && e;
        if (mpp_rpc_observer)
            mpp_rpc_observer(url, apr_time_now() - t0, failed ? MPP_RPC_UNREACHABLE
                             : has_error ? MPP_RPC_ERROR_REPLY : MPP_RPC_OK);
        if (failed)
            continue;
        if (has_error) {
            json_object *m, *cd;
            *err = json_object_object_get_ex(e, "message", &m) && json_object_is_type(m, json_type_string)
                ? apr_pstrdup(p, json_object_get_string(m)) : "RPC error";
            *code = json_object_object_get_ex(e, "code", &cd) ? (long)json_object_get_int64(cd) : 0;
            return MPP_RPC_ERROR_REPLY;
        }
        if (!json_object_object_get_ex(reply, "result", &r)) {
            *err = "RPC answer has neither result nor error";
            continue;
        }
        *result = r;
        return MPP_RPC_OK;
    }
    return MPP_RPC_UNREACHABLE;
}
