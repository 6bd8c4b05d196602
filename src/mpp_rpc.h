/* JSON-RPC 2.0 over HTTP (libcurl) to chain nodes: endpoints tried in order,
 * connect and total timeouts, a response size cap, ids checked. */
#ifndef MPP_RPC_H
#define MPP_RPC_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <json-c/json.h>

typedef enum {
    MPP_RPC_OK = 0,
    MPP_RPC_UNREACHABLE,     /* no endpoint gave a well-formed answer */
    MPP_RPC_ERROR_REPLY      /* the node answered with a JSON-RPC error object */
} mpp_rpc_rc_t;

typedef struct {
    apr_array_header_t *urls;        /* const char *, primary first */
    long timeout_ms;                 /* whole call, per endpoint */
    long connect_timeout_ms;
    apr_size_t max_response;         /* bytes */
} mpp_rpc_t;

/* Told of every endpoint tried (for statistics): the URL, how long the
 * call took and MPP_RPC_OK, _UNREACHABLE (no usable answer) or _ERROR_REPLY.
 * Set once at startup; NULL: nobody is told. */
typedef void mpp_rpc_observer_fn(const char *url, apr_interval_time_t took, int rc);
extern mpp_rpc_observer_fn *mpp_rpc_observer;

/* Once per process before threads start (curl_global_init). */
int mpp_rpc_global_init(void);

/* Call method with params (a JSON array; the call takes a reference). On OK,
 * *result is the result member (owned by pool p; NULL for JSON null). On
 * ERROR_REPLY, *err is the node's message and *code its code. */
mpp_rpc_rc_t mpp_rpc_call(apr_pool_t *p, const mpp_rpc_t *rpc, const char *method,
                          json_object *params, json_object **result, long *code, const char **err);

#endif
