#include "mpp_route.h"

#include <apr_strings.h>
#include <string.h>
#include <strings.h>

static const char *const METHODS[] = { "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", NULL };

const char *mpp_route_parse(apr_pool_t *p, const char *spec, mpp_route_pat_t *out)
{
    const char *sp = strchr(spec, ' '), *pat = spec, *s;
    memset(out, 0, sizeof(*out));
    if (sp) {
        char *m = apr_pstrmemdup(p, spec, (apr_size_t)(sp - spec));
        int ok = 0;
        for (char *c = m; *c; c++) if (*c >= 'a' && *c <= 'z') *c = (char)(*c - 32);
        for (int i = 0; METHODS[i]; i++) if (!strcmp(METHODS[i], m)) ok = 1;
        if (!ok) return apr_psprintf(p, "unknown method '%s'", m);
        out->method = m;
        pat = sp + 1;
        while (*pat == ' ') pat++;
    }
    if (*pat != '/') return apr_psprintf(p, "pattern '%s' must start with /", pat);
    out->pattern = apr_pstrdup(p, pat);
    out->segs = apr_array_make(p, 4, sizeof(const char *));
    s = pat + 1;
    while (*s) {
        const char *e = strchr(s, '/');
        char *seg = e ? apr_pstrmemdup(p, s, (apr_size_t)(e - s)) : apr_pstrdup(p, s);
        if (!*seg) return apr_psprintf(p, "pattern '%s' has an empty segment", pat);
        if (out->segs->nelts && !strcmp(APR_ARRAY_IDX(out->segs, out->segs->nelts - 1, const char *), "*"))
            return apr_psprintf(p, "pattern '%s': * must be the last segment", pat);
        if (seg[0] == ':' && !seg[1]) return apr_psprintf(p, "pattern '%s': a parameter needs a name", pat);
        if (strchr(seg, '*') && strcmp(seg, "*"))
            return apr_psprintf(p, "pattern '%s': * stands alone as a segment", pat);
        for (const char *c = seg; *c; c++)
            if ((unsigned char)*c <= 0x20 || *c == ';' || *c == '\\' || *c == '%' || *c == '?' || *c == '#')
                return apr_psprintf(p, "pattern '%s' has a character that paths never match", pat);
        APR_ARRAY_PUSH(out->segs, const char *) = seg;
        if (!e) break;
        s = e + 1;
        if (!*s) { APR_ARRAY_PUSH(out->segs, const char *) = ""; break; }  /* trailing slash */
    }
    return NULL;
}

int mpp_route_match(const mpp_route_pat_t *pt, const char *method, const char *path)
{
    const char *s = path;
    if (pt->method && strcasecmp(pt->method, method)
        && !(!strcasecmp(method, "HEAD") && !strcmp(pt->method, "GET")))
        return 0;
    if (*s != '/') return 0;
    s++;
    for (int i = 0; i < pt->segs->nelts; i++) {
        const char *seg = APR_ARRAY_IDX(pt->segs, i, const char *);
        const char *e = strchr(s, '/');
        apr_size_t n = e ? (apr_size_t)(e - s) : strlen(s);
        if (!strcmp(seg, "*")) return 1;                    /* the rest, even nothing */
        if (seg[0] == ':') { if (n == 0) return 0; }
        else if (strlen(seg) != n || strncasecmp(seg, s, n)) return 0;
        if (i + 1 == pt->segs->nelts) return e == NULL;      /* the path must end here */
        if (!e)   /* the path ends: only a final * (matching nothing) may remain */
            return i + 2 == pt->segs->nelts && !strcmp(APR_ARRAY_IDX(pt->segs, i + 1, const char *), "*");
        s = e + 1;
    }
    return pt->segs->nelts == 0 && *s == '\0';
}

static const char *plain_path(const char *d, apr_size_t n);

const char *mpp_path_suspicious(const char *d, const char *raw)
{
    const char *why = plain_path(d, strlen(d));
    apr_size_t rn = 0;
    if (why) return why;
    /* the raw form too: httpd merges slashes and resolves dot segments
     * before we look, and an upstream may read the raw form differently */
    while (raw && raw[rn] && raw[rn] != '?' && raw[rn] != '#') rn++;
    if (raw && (why = plain_path(raw, rn))) return why;
    for (const char *c = raw; c && *c && *c != '?'; c++) {
        if (c[0] == '%' && c[1] && c[2]) {
            char h[3] = { c[1], c[2], 0 };
            if (!strcasecmp(h, "2f") || !strcasecmp(h, "5c") || !strcasecmp(h, "2e")
                || !strcasecmp(h, "3b") || !strcasecmp(h, "25"))
                return "an encoded '/', '\\', '.', ';' or '%' in the path";
        }
    }
    return NULL;
}

static const char *plain_path(const char *d, apr_size_t n)
{
    const char *end = d + n;
    for (const char *c = d; c < end; c++) {
        const char *next = c + 1 < end ? c + 1 : NULL;
        if (*c == ';') return "a ';' in the path";
        if (*c == '\\') return "a backslash in the path";
        if ((unsigned char)*c < 0x20 || *c == 0x7f) return "a control character in the path";
        if (*c == '/' && next && *next == '/') return "an empty path segment";
        if (*c == '/' && next && *next == '.') {
            const char *after = next + 1 < end ? next + 1 : NULL;
            if (!after || *after == '/') return "a dot segment";
            if (*after == '.' && (next + 2 >= end || next[2] == '/')) return "a dot segment";
        }
        if ((*c == '.' || *c == ' ') && c != d && (!next || *next == '/'))
            return "a segment ending in a dot or a space";
    }
    return NULL;
}

char *mpp_route_openapi_path(apr_pool_t *p, const char *base, const mpp_route_pat_t *pt)
{
    /* the parts, joined once (not a copy per segment) */
    apr_array_header_t *parts = apr_array_make(p, 4 * pt->segs->nelts + 2, sizeof(const char *));
    APR_ARRAY_PUSH(parts, const char *) = base;
    for (int i = 0; i < pt->segs->nelts; i++) {
        const char *seg = APR_ARRAY_IDX(pt->segs, i, const char *);
        if (!strcmp(seg, "*")) APR_ARRAY_PUSH(parts, const char *) = "/{wildcard}";
        else if (seg[0] == ':') {
            APR_ARRAY_PUSH(parts, const char *) = "/{";
            APR_ARRAY_PUSH(parts, const char *) = seg + 1;
            APR_ARRAY_PUSH(parts, const char *) = "}";
        }
        else {
            APR_ARRAY_PUSH(parts, const char *) = "/";
            APR_ARRAY_PUSH(parts, const char *) = seg;
        }
    }
    if (!pt->segs->nelts) APR_ARRAY_PUSH(parts, const char *) = "/";
    return apr_array_pstrcat(p, parts, 0);
}
