/* Routes of a proxied service: pattern parsing (mpp_route_parse), matching
 * (mpp_route_match), the path checks that guard them (mpp_path_suspicious)
 * and the OpenAPI form. Input: spec NUL method NUL path NUL raw-path.
 * Invariants: a path built from a pattern (":name" -> a value, "*" -> any
 * rest) matches it, in any letter case and as HEAD for GET; a path that
 * matches a pattern without "*" has exactly as many segments; a plain path
 * (not suspicious) has no dot segments and no empty segments. */
#include "fuzz.h"

#include <apr_strings.h>
#include <ctype.h>

#include "mpp_route.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    return 0;
}

static int segments(const char *path)
{
    int n = 0;
    for (const char *c = path; *c; c++) n += *c == '/';
    return n;
}

static char *flip_case(apr_pool_t *p, const char *s)
{
    char *o = apr_pstrdup(p, s);
    for (char *c = o; *c; c++)
        *c = (char)(islower((unsigned char)*c) ? toupper((unsigned char)*c) : tolower((unsigned char)*c));
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_begin();
    fuzz_in_t in = { data, size };
    const char *spec = fuzz_field(p, &in, 0), *method = fuzz_field(p, &in, 0);
    const char *path = fuzz_field(p, &in, 0), *raw = fuzz_field(p, &in, 0);
    const char *why = mpp_path_suspicious(path, *raw ? raw : path);
    mpp_route_pat_t pt;
    const char *e = mpp_route_parse(p, spec, &pt);

    mpp_path_suspicious(path, NULL);
    if (!why && *path == '/') {
        FUZZ_ASSERT(!strstr(path, "//") && !strstr(path, "/./") && !strstr(path, "/../"),
                    "plain path with an empty or dot segment: %s", path);
        FUZZ_ASSERT(strcmp(path + strlen(path) - (strlen(path) >= 2 ? 2 : 1), "/.")
                    && (strlen(path) < 3 || strcmp(path + strlen(path) - 3, "/..")),
                    "plain path ending in a dot segment: %s", path);
    }
    if (e) goto done;
    FUZZ_ASSERT(pt.pattern && pt.pattern[0] == '/' && pt.segs, "parsed pattern without segments");
    mpp_route_openapi_path(p, "/svc", &pt);
    {
        /* the path this pattern stands for (joined once: a copy per
         * segment of a long pattern churns ASan's heap into an OOM) */
        const char *built, *m = pt.method ? pt.method : "GET";
        apr_array_header_t *parts = apr_array_make(p, 2 * pt.segs->nelts + 1, sizeof(const char *));
        int star = 0;
        for (int i = 0; i < pt.segs->nelts; i++) {
            const char *seg = APR_ARRAY_IDX(pt.segs, i, const char *);
            if (!strcmp(seg, "*")) { APR_ARRAY_PUSH(parts, const char *) = "/rest/of/it"; star = 1; }
            else if (seg[0] == ':') APR_ARRAY_PUSH(parts, const char *) = "/v";
            else {
                APR_ARRAY_PUSH(parts, const char *) = "/";
                APR_ARRAY_PUSH(parts, const char *) = seg;
            }
        }
        built = apr_array_pstrcat(p, parts, 0);
        if (!*built) built = "/";
        FUZZ_ASSERT(mpp_route_match(&pt, m, built), "%s does not match %s %s", built, m, pt.pattern);
        FUZZ_ASSERT(mpp_route_match(&pt, m, flip_case(p, built)), "case-flipped %s does not match %s", built,
                    pt.pattern);
        if (!strcmp(m, "GET")) FUZZ_ASSERT(mpp_route_match(&pt, "HEAD", built), "HEAD does not match GET");
        if (!star) {
            FUZZ_ASSERT(!mpp_route_match(&pt, m, apr_pstrcat(p, built, strcmp(built, "/") ? "/x" : "x/y", NULL)),
                        "a longer path matches %s", pt.pattern);
        }
    }
    if (*method && mpp_route_match(&pt, method, path)) {
        FUZZ_ASSERT(*path == '/', "a relative path matched");
        if (pt.method && strcasecmp(pt.method, method))
            FUZZ_ASSERT(!strcasecmp(method, "HEAD") && !strcmp(pt.method, "GET"), "method %s matched %s", method,
                        pt.method);
        {
            int star = 0;
            for (int i = 0; i < pt.segs->nelts; i++)
                star |= !strcmp(APR_ARRAY_IDX(pt.segs, i, const char *), "*");
            if (!star) FUZZ_ASSERT(segments(path) == (pt.segs->nelts ? pt.segs->nelts : 1),
                                   "%s matched %s with another number of segments", path, pt.pattern);
        }
    }
done:
    fuzz_end();
    return 0;
}
