/* RFC 3339 date-times. */
#ifndef MPP_TIME_H
#define MPP_TIME_H

#include <apr_pools.h>
#include <apr_time.h>

/* "2026-01-29T12:00:00Z" (UTC, whole seconds). */
char *mpp_time_format(apr_pool_t *p, apr_time_t t);

/* Strict RFC 3339 date-time (fraction and numeric offset allowed); the
 * instant in microseconds since the epoch. Returns 0 or -1. */
int mpp_time_parse(const char *s, apr_time_t *out);

#endif
