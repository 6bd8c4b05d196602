/* The request body bound by a challenge digest: read it before the handler
 * (bounded), hash it, and replay it to whichever handler runs next. */
#include "mod_mpp.h"

#include "http_log.h"
#include "http_protocol.h"
#include "util_filter.h"

#include <apr_strings.h>
#include <openssl/evp.h>

APLOG_USE_MODULE(mpp);

#define REPLAY_FILTER "MPP_BODY_REPLAY"

typedef struct { apr_bucket_brigade *kept; unsigned char sha256[32]; } replay_ctx_t;

static apr_status_t replay_filter(ap_filter_t *f, apr_bucket_brigade *bb, ap_input_mode_t mode,
                                  apr_read_type_e block, apr_off_t readbytes)
{
    replay_ctx_t *ctx = f->ctx;

    if (mode != AP_MODE_READBYTES)
        return ap_get_brigade(f->next, bb, mode, block, readbytes);
    if (!ctx || APR_BRIGADE_EMPTY(ctx->kept)) {
        /* everything (with EOS) was handed over already */
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(f->c->bucket_alloc));
        return APR_SUCCESS;
    }
    {
        apr_bucket *e;
        apr_status_t rv = apr_brigade_partition(ctx->kept, readbytes, &e);
        apr_bucket_brigade *rest;
        if (rv != APR_SUCCESS && rv != APR_INCOMPLETE)
            return rv;
        rest = apr_brigade_split(ctx->kept, e);
        APR_BRIGADE_CONCAT(bb, ctx->kept);
        APR_BRIGADE_CONCAT(ctx->kept, rest);
        apr_brigade_destroy(rest);
    }
    return APR_SUCCESS;
}

void mpp_body_register(void)
{
    ap_register_input_filter(REPLAY_FILTER, replay_filter, NULL, AP_FTYPE_RESOURCE);
}

static int request_has_body(request_rec *r)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    const char *te = apr_table_get(r->headers_in, "Transfer-Encoding");
    if (te) return 1;
    if (cl) {
        apr_off_t n;
        if (apr_strtoff(&n, cl, NULL, 10) == APR_SUCCESS && n > 0) return 1;
    }
    return 0;
}

int mpp_body_digest(request_rec *r, unsigned char sha256[32], int *has_body)
{
    apr_bucket_brigade *bb, *kept;
    EVP_MD_CTX *md;
    apr_off_t total = 0;
    int seen_eos = 0, status = OK;
    unsigned int mlen = 32;
    replay_ctx_t *ctx;

    *has_body = 0;
    /* once per request: Require payment checks before the payment is taken */
    apr_pool_userdata_get((void **)&ctx, REPLAY_FILTER, r->pool);
    if (ctx) {
        memcpy(sha256, ctx->sha256, 32);
        *has_body = 1;
        return OK;
    }
    if (!request_has_body(r))
        return OK;
    {
        const char *cl = apr_table_get(r->headers_in, "Content-Length");
        apr_off_t n;
        if (cl && apr_strtoff(&n, cl, NULL, 10) == APR_SUCCESS && n > MPP_MAX_BODY)
            return HTTP_REQUEST_ENTITY_TOO_LARGE;
    }
    md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    kept = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    while (!seen_eos) {
        apr_status_t rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES, APR_BLOCK_READ, 8192);
        if (rv != APR_SUCCESS) {
            status = ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
            break;
        }
        while (!APR_BRIGADE_EMPTY(bb)) {
            apr_bucket *e = APR_BRIGADE_FIRST(bb);
            const char *data;
            apr_size_t len;
            if (APR_BUCKET_IS_EOS(e)) { seen_eos = 1; apr_bucket_delete(e); continue; }
            if (APR_BUCKET_IS_METADATA(e)) { apr_bucket_delete(e); continue; }
            if (apr_bucket_read(e, &data, &len, APR_BLOCK_READ) != APR_SUCCESS) {
                status = HTTP_BAD_REQUEST;
                break;
            }
            total += (apr_off_t)len;
            if (total > MPP_MAX_BODY) { status = HTTP_REQUEST_ENTITY_TOO_LARGE; break; }
            EVP_DigestUpdate(md, data, len);
            APR_BUCKET_REMOVE(e);
            apr_bucket_setaside(e, r->pool);
            APR_BRIGADE_INSERT_TAIL(kept, e);
        }
        apr_brigade_cleanup(bb);
        if (status != OK) break;
    }
    EVP_DigestFinal_ex(md, sha256, &mlen);
    EVP_MD_CTX_free(md);
    if (status != OK)
        return status;
    ctx = apr_pcalloc(r->pool, sizeof(*ctx));
    ctx->kept = kept;
    memcpy(ctx->sha256, sha256, 32);
    apr_pool_userdata_setn(ctx, REPLAY_FILTER, NULL, r->pool);
    ap_add_input_filter(REPLAY_FILTER, ctx, r, r->connection);
    *has_body = 1;
    return OK;
}
