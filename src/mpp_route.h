/* Routes of a proxied service: "METHOD /pattern" with :name (one segment)
 * and * (the rest), and the path checks that keep tricks from reaching a
 * cheaper route. */
#ifndef MPP_ROUTE_H
#define MPP_ROUTE_H

#include <apr_pools.h>
#include <apr_tables.h>

typedef struct {
    const char *method;           /* upper-case; NULL = any method */
    const char *pattern;          /* as written, e.g. /v1/items/:id */
    apr_array_header_t *segs;     /* const char *: literal, ":name" or "*" */
} mpp_route_pat_t;

/* Parse "GET /v1/x" or "/v1/x"; NULL or an error message. */
const char *mpp_route_parse(apr_pool_t *p, const char *spec, mpp_route_pat_t *out);

/* 1 when method and path (relative, starting with '/') match. Literal
 * segments compare case-insensitively (so case never selects a cheaper
 * route); HEAD matches GET routes. */
int mpp_route_match(const mpp_route_pat_t *pt, const char *method, const char *path);

/* NULL when a decoded path and its raw form are plain; otherwise why not:
 * ';', '\\', NUL, '//', '/./', '/../', a segment ending in '.' or ' ', or a
 * raw path with encoded '/', '\\', '.', ';' or '%'. */
const char *mpp_path_suspicious(const char *decoded, const char *raw);

/* OpenAPI form of a pattern: :name -> {name}, * -> {wildcard}. */
char *mpp_route_openapi_path(apr_pool_t *p, const char *base, const mpp_route_pat_t *pt);

#endif
