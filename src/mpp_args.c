#include "mpp_args.h"

#include <apr_strings.h>
#include <string.h>

apr_array_header_t *mpp_args_split(apr_pool_t *p, const char *line, const char **err)
{
    apr_array_header_t *out = apr_array_make(p, 8, sizeof(char *));
    const char *s = line;

    *err = NULL;
    for (;;) {
        char *w, *o;
        while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') s++;
        if (!*s) break;
        w = o = apr_palloc(p, strlen(s) + 1);
        while (*s && *s != ' ' && *s != '\t' && *s != '\r' && *s != '\n') {
            if (*s == '"' || *s == '\'') {
                char q = *s++;
                while (*s && *s != q) {
                    if (q == '"' && *s == '\\' && (s[1] == '"' || s[1] == '\\')) s++;
                    *o++ = *s++;
                }
                if (!*s) { *err = "unterminated quote"; return NULL; }
                s++;
            }
            else *o++ = *s++;
        }
        *o = '\0';
        APR_ARRAY_PUSH(out, char *) = w;
    }
    return out;
}

int mpp_args_kv(apr_pool_t *p, const char *word, const char **key, const char **val)
{
    const char *eq = strchr(word, '=');
    if (!eq || eq == word) return -1;
    *key = apr_pstrmemdup(p, word, (apr_size_t)(eq - word));
    *val = eq + 1;
    return 0;
}
