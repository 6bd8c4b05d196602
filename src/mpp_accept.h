/* Accept-Payment: the client's method/intent preferences. */
#ifndef MPP_ACCEPT_H
#define MPP_ACCEPT_H

#include <apr_pools.h>

/* Rank n offers (methods[i]/intents[i]) by an Accept-Payment value. Writes
 * the kept offers' indices to order[] (q descending, server order on ties;
 * q=0 and unmatched offers dropped) and returns how many. Returns -1 when the
 * value is malformed or keeps nothing: the caller then offers everything. */
int mpp_accept_rank(apr_pool_t *p, const char *hdr, const char *const *methods,
                    const char *const *intents, int n, int *order);

#endif
