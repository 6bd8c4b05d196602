#include "mpp_accept.h"

#include <apr_strings.h>
#include <apr_tables.h>
#include <string.h>

typedef struct { char *method, *intent; int q; } range_t;

static char *trim(char *s)
{
    char *e;
    while (*s == ' ' || *s == '\t') s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t')) *--e = '\0';
    return s;
}

static int valid_id(const char *s)
{
    if (!strcmp(s, "*")) return 1;
    if (!*s) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')
              || *s == '-' || *s == '_' || *s == ':'))
            return 0;
    return 1;
}

/* q-value "0", "1", "0.5", "1.000" -> 0..1000, or -1 */
static int parse_q(const char *s)
{
    int v = 0, scale = 100;
    if (s[0] != '0' && s[0] != '1') return -1;
    v = (s[0] - '0') * 1000;
    s++;
    if (*s == '.') {
        s++;
        for (int i = 0; *s && i < 3; i++, s++) {
            if (*s < '0' || *s > '9') return -1;
            v += (*s - '0') * scale;
            scale /= 10;
        }
    }
    if (*s || v > 1000) return -1;
    return v;
}

int mpp_accept_rank(apr_pool_t *p, const char *hdr, const char *const *methods,
                    const char *const *intents, int n, int *order)
{
    apr_array_header_t *ranges = apr_array_make(p, 4, sizeof(range_t));
    char *dup, *elt, *last;
    int *qs, kept = 0;

    if (strlen(hdr) > 4096) return -1;
    dup = apr_pstrdup(p, hdr);
    for (elt = apr_strtok(dup, ",", &last); elt; elt = apr_strtok(NULL, ",", &last)) {
        char *semi, *slash, *r = trim(elt);
        range_t *rg;
        if (!*r) continue;
        rg = apr_array_push(ranges);
        rg->q = 1000;
        semi = strchr(r, ';');
        if (semi) {
            char *param, *plast;
            *semi = '\0';
            for (param = apr_strtok(semi + 1, ";", &plast); param; param = apr_strtok(NULL, ";", &plast)) {
                char *t = trim(param);
                if (strncasecmp(t, "q=", 2)) return -1;
                if ((rg->q = parse_q(trim(t + 2))) < 0) return -1;
            }
        }
        r = trim(r);
        slash = strchr(r, '/');
        if (!slash) return -1;
        *slash = '\0';
        rg->method = r;
        rg->intent = slash + 1;
        if (!valid_id(rg->method) || !valid_id(rg->intent)) return -1;
    }
    if (ranges->nelts == 0) return -1;
    qs = apr_palloc(p, sizeof(int) * (apr_size_t)n);
    for (int i = 0; i < n; i++) {
        int best_spec = -1, best_q = 0;
        for (int j = 0; j < ranges->nelts; j++) {
            range_t *rg = &APR_ARRAY_IDX(ranges, j, range_t);
            int mm = !strcmp(rg->method, "*") ? 0 : (!strcmp(rg->method, methods[i]) ? 2 : -1);
            int im = !strcmp(rg->intent, "*") ? 0 : (!strcmp(rg->intent, intents[i]) ? 1 : -1);
            int spec;
            if (mm < 0 || im < 0) continue;
            spec = mm + im;
            if (spec > best_spec || (spec == best_spec && rg->q > best_q)) {
                best_spec = spec;
                best_q = rg->q;
            }
        }
        qs[i] = best_spec < 0 ? 0 : best_q;
    }
    /* stable insertion sort by descending q, dropping q=0 */
    for (int i = 0; i < n; i++) {
        int k;
        if (qs[i] == 0) continue;
        for (k = kept; k > 0 && qs[order[k - 1]] < qs[i]; k--)
            order[k] = order[k - 1];
        order[k] = i;
        kept++;
    }
    return kept ? kept : -1;
}
