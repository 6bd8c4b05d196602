/* Token amounts as decimal strings up to 2^256-1 (never floating point). */
#ifndef MPP_AMOUNT_H
#define MPP_AMOUNT_H

#include <apr_pools.h>

/* 1 for a canonical base-unit integer: ^(0|[1-9][0-9]*)$ and <= 2^256-1. */
int mpp_amount_valid(const char *s);

/* Compare two valid amounts: <0, 0, >0. */
int mpp_amount_cmp(const char *a, const char *b);

/* Convert a decimal price in asset units ("0.01") to base units with the
 * asset's decimals ("10000" for 6). Rejects signs, exponents, more fractional
 * digits than decimals, and results above 2^256-1. NULL on success, else an
 * error message. */
const char *mpp_amount_from_price(apr_pool_t *p, const char *price, int decimals, char **out);

#endif
