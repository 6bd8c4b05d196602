#include "mpp_challenge.h"
#include "mpp_b64.h"
#include "mpp_crypto.h"
#include "mpp_json.h"
#include "mpp_limits.h"
#include "mpp_utf8.h"

#include <apr_strings.h>
#include <string.h>

static const char *nz(const char *s) { return s ? s : ""; }

char *mpp_challenge_binding_input(apr_pool_t *p, const mpp_challenge_t *c)
{
    int hdr = c->header && *c->header && strcasecmp(c->header, "Authorization") != 0;
    return apr_pstrcat(p, nz(c->realm), "|", nz(c->method), "|", nz(c->intent), "|",
                       nz(c->request), "|", nz(c->expires), "|", nz(c->digest), "|",
                       hdr ? c->header : "", hdr ? "|" : "", nz(c->opaque), NULL);
}

char *mpp_challenge_compute_id(apr_pool_t *p, const unsigned char *key, apr_size_t keylen,
                               const mpp_challenge_t *c)
{
    unsigned char mac[32];
    const char *in = mpp_challenge_binding_input(p, c);
    mpp_hmac_sha256(key, keylen, (const unsigned char *)in, strlen(in), mac);
    return mpp_b64url_encode(p, mac, sizeof(mac));
}

/* ---- formatting ---- */

/* Write v as an auth-param quoted-string at *q (room for 6 bytes per input
 * byte and the quotes): non-ASCII as backslash-u escapes (mppx reads
 * those), quote and backslash escaped; controls and invalid UTF-8 refused. */
static int put_quoted(char **q, const char *v)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)v;
    char *o = *q;
    apr_size_t len = strlen(v);

    if (!mpp_utf8_valid(s, len))
        return -1;
    *o++ = '"';
    while (*s) {
        unsigned cp;
        if (*s < 0x80) {
            if ((*s < 0x20 && *s != '\t') || *s == 0x7f)
                return -1;
            if (*s == '"' || *s == '\\')
                *o++ = '\\';
            *o++ = (char)*s++;
            continue;
        }
        if (*s < 0xe0) { cp = ((s[0] & 0x1fu) << 6) | (s[1] & 0x3fu); s += 2; }
        else if (*s < 0xf0) { cp = ((s[0] & 0x0fu) << 12) | ((s[1] & 0x3fu) << 6) | (s[2] & 0x3fu); s += 3; }
        else {
            cp = ((s[0] & 0x07u) << 18) | ((s[1] & 0x3fu) << 12) | ((s[2] & 0x3fu) << 6) | (s[3] & 0x3fu);
            s += 4;
        }
        for (int k = 0; k < 2; k++) {
            unsigned u = cp;
            if (cp >= 0x10000)
                u = k == 0 ? 0xd800 + ((cp - 0x10000) >> 10) : 0xdc00 + ((cp - 0x10000) & 0x3ff);
            else if (k == 1)
                break;
            *o++ = '\\'; *o++ = 'u';
            *o++ = hex[(u >> 12) & 15]; *o++ = hex[(u >> 8) & 15]; *o++ = hex[(u >> 4) & 15]; *o++ = hex[u & 15];
        }
    }
    *o++ = '"';
    *q = o;
    return 0;
}

char *mpp_challenge_format(apr_pool_t *p, const mpp_challenge_t *c, const char **err)
{
    static const char *const names[] = { "id", "realm", "method", "intent", "request",
                                         "description", "digest", "expires", "opaque" };
    const char *vals[] = { c->id, c->realm, c->method, c->intent, c->request,
                           c->description, c->digest, c->expires, c->opaque };
    apr_size_t room = sizeof("Payment ");
    char *out, *q;
    int first = 1;

    if (!c->id || !*c->id || !c->realm || !c->method || !*c->method
        || !c->intent || !*c->intent || !c->request) {
        *err = "challenge lacks a required parameter";
        return NULL;
    }
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (vals[i]) room += strlen(names[i]) + 5 + 6 * strlen(vals[i]);
    q = out = apr_palloc(p, room);
    memcpy(q, "Payment ", 8);
    q += 8;
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        apr_size_t n;
        if (!vals[i])
            continue;
        if (!first) { *q++ = ','; *q++ = ' '; }
        first = 0;
        n = strlen(names[i]);
        memcpy(q, names[i], n);
        q += n;
        *q++ = '=';
        if (put_quoted(&q, vals[i])) {
            *err = apr_psprintf(p, "challenge parameter %s holds a control character or invalid UTF-8",
                                names[i]);
            return NULL;
        }
    }
    *q = '\0';
    return out;
}

/* ---- parsing (RFC 9110 auth-params, with mppx's \uXXXX extension) ---- */

static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
        || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int is_ows(unsigned char c) { return c == ' ' || c == '\t'; }

/* Reads a quoted-string at *pp (on the opening quote). Linear time. Returns
 * NULL for an unterminated string (with *pp at the end). */
static char *read_quoted(apr_pool_t *p, const char **pp)
{
    const char *s = *pp + 1;
    const char *q = s;
    apr_size_t o = 0;
    char *buf;

    while (*q && *q != '"') {
        if (*q == '\\' && q[1]) q++;
        q++;
    }
    if (!*q) { *pp = q; return NULL; }
    buf = apr_palloc(p, (apr_size_t)(q - s) + 1);
    while (s < q) {
        if (*s != '\\') { buf[o++] = *s++; continue; }
        s++;
        if (*s == 'u' && q - s >= 5) {
            unsigned u, lo;
            if (mpp_hex4(s + 1, &u) == 0) {
                s += 5;
                if (u >= 0xd800 && u <= 0xdbff && q - s >= 6 && s[0] == '\\' && s[1] == 'u'
                    && mpp_hex4(s + 2, &lo) == 0 && lo >= 0xdc00 && lo <= 0xdfff) {
                    u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
                    s += 6;
                }
                else if (u >= 0xd800 && u <= 0xdfff)
                    u = 0xfffd;
                mpp_utf8_put(buf, &o, u);
                continue;
            }
        }
        buf[o++] = *s++;
    }
    buf[o] = '\0';
    *pp = q + 1;
    return buf;
}

/* At a list element start: is this `token 1*SP token=` (a new scheme) ? */
static int at_scheme_start(const char *s, const char **after_scheme)
{
    const char *t = s;
    while (is_tchar((unsigned char)*t) && *t != '=') t++;
    if (t == s) return 0;
    if (*t == '\0' || *t == ',') { *after_scheme = t; return 1; }
    if (!is_ows((unsigned char)*t)) return 0;
    *after_scheme = t;
    return 1;
}

typedef struct { const char *name; const char *value; } kv_t;

/* Parses params of one challenge starting at *pp; stops at the end or at the
 * start of the next scheme. Not strict (another scheme's params): duplicate
 * or excess params are dropped, so a sloppy foreign challenge cannot hide
 * the Payment challenges after it. */
static int parse_params(apr_pool_t *p, const char **pp, apr_array_header_t *kvs, int strict,
                        const char **err)
{
    const char *s = *pp;
    for (;;) {
        const char *ns, *ne, *save;
        char *name, *value = NULL;
        int bad = 0;

        while (is_ows((unsigned char)*s) || *s == ',') s++;
        if (!*s) break;
        /* is this the next challenge's scheme? */
        save = s;
        ns = s;
        while (is_tchar((unsigned char)*s) && *s != '=') s++;
        ne = s;
        if (ne == ns) { *err = "invalid auth-param"; return -1; }
        while (is_ows((unsigned char)*s)) s++;
        if (*s != '=') {
            const char *after;
            if (at_scheme_start(save, &after)) { s = save; break; }
            *err = "invalid auth-param";
            return -1;
        }
        s++;
        while (is_ows((unsigned char)*s)) s++;
        name = apr_pstrmemdup(p, ns, (apr_size_t)(ne - ns));
        for (char *c = name; *c; c++)
            if (*c >= 'A' && *c <= 'Z') *c = (char)(*c + 32);
        if (*s == '"') {
            value = read_quoted(p, &s);
            if (!value) bad = 1;
        }
        else {
            const char *vs = s;
            while (is_tchar((unsigned char)*s)) s++;
            value = apr_pstrmemdup(p, vs, (apr_size_t)(s - vs));
        }
        /* junk up to the next comma (e.g. text after an unescaped quote) is ignored */
        while (*s && *s != ',') {
            if (*s == '"') {
                const char *q = s;
                if (!read_quoted(p, &q)) { s = q; break; }
                s = q;
            }
            else s++;
        }
        if (bad) {
            if (strict && (!strcmp(name, "id") || !strcmp(name, "realm") || !strcmp(name, "method")
                || !strcmp(name, "intent") || !strcmp(name, "request") || !strcmp(name, "expires")
                || !strcmp(name, "digest") || !strcmp(name, "opaque") || !strcmp(name, "description"))) {
                *err = apr_psprintf(p, "unterminated quoted-string in %s", name);
                return -1;
            }
            continue;
        }
        for (int i = 0; i < kvs->nelts; i++) {
            if (!strcmp(APR_ARRAY_IDX(kvs, i, kv_t).name, name)) {
                *err = apr_psprintf(p, "duplicate parameter %s", name);
                bad = 1;
            }
        }
        if (!bad && kvs->nelts >= MPP_MAX_PARAMS) { *err = "too many parameters"; bad = 1; }
        if (bad) {
            if (strict)
                return -1;
            continue;
        }
        {
            kv_t *kv = apr_array_push(kvs);
            kv->name = name;
            kv->value = value;
        }
    }
    *pp = s;
    return 0;
}

static const char *kv_get(apr_array_header_t *kvs, const char *name)
{
    for (int i = 0; i < kvs->nelts; i++)
        if (!strcmp(APR_ARRAY_IDX(kvs, i, kv_t).name, name))
            return APR_ARRAY_IDX(kvs, i, kv_t).value;
    return NULL;
}

static int build(apr_pool_t *p, apr_array_header_t *kvs, mpp_challenge_t *c, const char **err)
{
    memset(c, 0, sizeof(*c));
    c->id = kv_get(kvs, "id");
    c->realm = kv_get(kvs, "realm");
    c->method = kv_get(kvs, "method");
    c->intent = kv_get(kvs, "intent");
    c->request = kv_get(kvs, "request");
    c->expires = kv_get(kvs, "expires");
    c->digest = kv_get(kvs, "digest");
    c->description = kv_get(kvs, "description");
    c->opaque = kv_get(kvs, "opaque");
    if (!c->id || !*c->id) { *err = "missing or empty id"; return -1; }
    if (!c->realm) { *err = "missing realm"; return -1; }
    if (!c->method || !*c->method) { *err = "missing method"; return -1; }
    if (!c->intent || !*c->intent) { *err = "missing intent"; return -1; }
    if (!c->request) { *err = "missing request"; return -1; }
    c->request_obj = mpp_json_from_b64url(p, c->request, MPP_MAX_JSON, MPP_MAX_JSON_DEPTH, err);
    if (!c->request_obj) {
        *err = apr_pstrcat(p, "request: ", *err, NULL);
        return -1;
    }
    return 0;
}

apr_array_header_t *mpp_challenge_parse_list(apr_pool_t *p, const char *hdr, const char **err)
{
    apr_array_header_t *out = apr_array_make(p, 2, sizeof(mpp_challenge_t));
    const char *s = hdr;

    *err = NULL;
    if (strlen(hdr) > MPP_MAX_CHALLENGE_HDR) { *err = "header too long"; return NULL; }
    for (;;) {
        const char *ss;
        apr_size_t slen;
        while (is_ows((unsigned char)*s) || *s == ',') s++;
        if (!*s) break;
        ss = s;
        while (is_tchar((unsigned char)*s)) s++;
        slen = (apr_size_t)(s - ss);
        if (!slen || (*s && !is_ows((unsigned char)*s) && *s != ',')) {
            *err = "invalid auth-scheme";
            return NULL;
        }
        if (slen == 7 && !strncasecmp(ss, "Payment", 7)) {
            apr_array_header_t *kvs = apr_array_make(p, 10, sizeof(kv_t));
            mpp_challenge_t *c;
            if (parse_params(p, &s, kvs, 1, err))
                return NULL;
            c = apr_array_push(out);
            if (build(p, kvs, c, err))
                return NULL;
        }
        else {
            /* another scheme: skip its params or token68 */
            apr_array_header_t *kvs = apr_array_make(p, 4, sizeof(kv_t));
            const char *ignored;
            if (parse_params(p, &s, kvs, 0, &ignored))
                while (*s && *s != ',') s++;
        }
    }
    if (out->nelts == 0) {
        if (!*err) *err = "no Payment challenge";
        return NULL;
    }
    return out;
}

int mpp_challenge_parse(apr_pool_t *p, const char *hdr, mpp_challenge_t *out, const char **err)
{
    apr_array_header_t *l = mpp_challenge_parse_list(p, hdr, err);
    if (!l)
        return -1;
    *out = APR_ARRAY_IDX(l, 0, mpp_challenge_t);
    return 0;
}
