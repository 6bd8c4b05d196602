/* Directive argument words: shell-like quoting inside words, so that
 * key="value with spaces" works as in the configuration reference. */
#ifndef MPP_ARGS_H
#define MPP_ARGS_H

#include <apr_pools.h>
#include <apr_tables.h>

/* Split line into words (array of char pointers). Quotes " and ' may appear anywhere
 * in a word; inside "..." a backslash escapes " and \. NULL and *err for an
 * unterminated quote. */
apr_array_header_t *mpp_args_split(apr_pool_t *p, const char *line, const char **err);

/* Split key=value; returns 0 and sets *key and *val, or -1 when there is no '='. */
int mpp_args_kv(apr_pool_t *p, const char *word, const char **key, const char **val);

#endif
