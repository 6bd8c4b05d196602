#include "mpp_json.h"
#include "mpp_b64.h"
#include "mpp_utf8.h"

#include <apr_strings.h>
#include <apr_tables.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const unsigned char *s;
    apr_size_t len, pos;
    int max_depth;
    const char *err;
    apr_pool_t *p;
} jp_t;

static json_object *jp_value(jp_t *j, int depth);

static void jp_ws(jp_t *j)
{
    while (j->pos < j->len) {
        unsigned char c = j->s[j->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        j->pos++;
    }
}

/* Reads a string at j->pos (which is on the opening quote). */
static char *jp_string(jp_t *j, apr_size_t *outlen)
{
    apr_size_t start = ++j->pos, end = start, o = 0;
    char *buf;

    /* find the closing quote first so the buffer is sized once */
    while (end < j->len && j->s[end] != '"') {
        if (j->s[end] == '\\') end++;
        end++;
    }
    if (end >= j->len) { j->err = "unterminated string"; return NULL; }
    buf = apr_palloc(j->p, end - start + 1);
    while (j->pos < end) {
        unsigned char c = j->s[j->pos];
        if (c < 0x20) { j->err = "control character in string"; return NULL; }
        if (c != '\\') { buf[o++] = (char)c; j->pos++; continue; }
        j->pos++;
        c = j->s[j->pos++];
        switch (c) {
        case '"': buf[o++] = '"'; break;
        case '\\': buf[o++] = '\\'; break;
        case '/': buf[o++] = '/'; break;
        case 'b': buf[o++] = '\b'; break;
        case 'f': buf[o++] = '\f'; break;
        case 'n': buf[o++] = '\n'; break;
        case 'r': buf[o++] = '\r'; break;
        case 't': buf[o++] = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (j->pos + 4 > end || mpp_hex4((const char *)j->s + j->pos, &cp)) {
                j->err = "bad \\u escape"; return NULL;
            }
            j->pos += 4;
            if (cp >= 0xdc00 && cp <= 0xdfff) { j->err = "lone surrogate"; return NULL; }
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (j->pos + 6 > end || j->s[j->pos] != '\\' || j->s[j->pos + 1] != 'u'
                    || mpp_hex4((const char *)j->s + j->pos + 2, &lo) || lo < 0xdc00 || lo > 0xdfff) {
                    j->err = "lone surrogate"; return NULL;
                }
                j->pos += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            if (cp == 0) { j->err = "NUL character in string"; return NULL; }
            mpp_utf8_put(buf, &o, cp); /* an escape is >= 6 bytes, output <= 4 */
            break;
        }
        default:
            j->err = "bad escape"; return NULL;
        }
    }
    j->pos = end + 1;
    buf[o] = '\0';
    *outlen = o;
    return buf;
}

static json_object *jp_number(jp_t *j)
{
    apr_size_t st = j->pos;
    int is_int = 1;
    const unsigned char *s = j->s;

    if (j->pos < j->len && s[j->pos] == '-') j->pos++;
    if (j->pos >= j->len) goto bad;
    if (s[j->pos] == '0') j->pos++;
    else if (s[j->pos] >= '1' && s[j->pos] <= '9')
        while (j->pos < j->len && s[j->pos] >= '0' && s[j->pos] <= '9') j->pos++;
    else goto bad;
    if (j->pos < j->len && s[j->pos] == '.') {
        is_int = 0; j->pos++;
        if (j->pos >= j->len || s[j->pos] < '0' || s[j->pos] > '9') goto bad;
        while (j->pos < j->len && s[j->pos] >= '0' && s[j->pos] <= '9') j->pos++;
    }
    if (j->pos < j->len && (s[j->pos] == 'e' || s[j->pos] == 'E')) {
        is_int = 0; j->pos++;
        if (j->pos < j->len && (s[j->pos] == '+' || s[j->pos] == '-')) j->pos++;
        if (j->pos >= j->len || s[j->pos] < '0' || s[j->pos] > '9') goto bad;
        while (j->pos < j->len && s[j->pos] >= '0' && s[j->pos] <= '9') j->pos++;
    }
    {
        char *txt = apr_pstrmemdup(j->p, (const char *)s + st, j->pos - st);
        char *endp;
        if (is_int) {
            long long v;
            errno = 0;
            v = strtoll(txt, &endp, 10);
            if (errno == 0 && *endp == '\0')
                return json_object_new_int64(v);
        }
        {
            double d;
            errno = 0;
            d = strtod(txt, &endp);
            if (*endp != '\0' || !isfinite(d)) { j->err = "number out of range"; return NULL; }
            return json_object_new_double(d);
        }
    }
bad:
    j->err = "bad number";
    return NULL;
}

static int jp_lit(jp_t *j, const char *lit)
{
    apr_size_t n = strlen(lit);
    if (j->len - j->pos < n || memcmp(j->s + j->pos, lit, n)) return -1;
    j->pos += n;
    return 0;
}

static json_object *jp_value(jp_t *j, int depth)
{
    jp_ws(j);
    if (j->pos >= j->len) { j->err = "unexpected end of JSON"; return NULL; }
    switch (j->s[j->pos]) {
    case '{': {
        json_object *o;
        if (depth >= j->max_depth) { j->err = "JSON nested too deeply"; return NULL; }
        o = json_object_new_object();
        j->pos++;
        jp_ws(j);
        if (j->pos < j->len && j->s[j->pos] == '}') { j->pos++; return o; }
        for (;;) {
            apr_size_t klen;
            char *key;
            json_object *v;
            jp_ws(j);
            if (j->pos >= j->len || j->s[j->pos] != '"') { j->err = "expected object key"; break; }
            if (!(key = jp_string(j, &klen))) break;
            if (json_object_object_get_ex(o, key, NULL)) { j->err = "duplicate object key"; break; }
            jp_ws(j);
            if (j->pos >= j->len || j->s[j->pos] != ':') { j->err = "expected ':'"; break; }
            j->pos++;
            v = jp_value(j, depth + 1);
            if (!v && j->err) break;
            json_object_object_add(o, key, v);
            jp_ws(j);
            if (j->pos < j->len && j->s[j->pos] == ',') { j->pos++; continue; }
            if (j->pos < j->len && j->s[j->pos] == '}') { j->pos++; return o; }
            j->err = "expected ',' or '}'";
            break;
        }
        json_object_put(o);
        return NULL;
    }
    case '[': {
        json_object *a;
        if (depth >= j->max_depth) { j->err = "JSON nested too deeply"; return NULL; }
        a = json_object_new_array();
        j->pos++;
        jp_ws(j);
        if (j->pos < j->len && j->s[j->pos] == ']') { j->pos++; return a; }
        for (;;) {
            json_object *v = jp_value(j, depth + 1);
            if (!v && j->err) break;
            json_object_array_add(a, v);
            jp_ws(j);
            if (j->pos < j->len && j->s[j->pos] == ',') { j->pos++; continue; }
            if (j->pos < j->len && j->s[j->pos] == ']') { j->pos++; return a; }
            j->err = "expected ',' or ']'";
            break;
        }
        json_object_put(a);
        return NULL;
    }
    case '"': {
        apr_size_t n;
        char *s = jp_string(j, &n);
        if (s && n > (apr_size_t)INT32_MAX) { j->err = "string too long"; return NULL; }
        return s ? json_object_new_string_len(s, (int)n) : NULL;
    }
    case 't':
        if (jp_lit(j, "true") == 0) return json_object_new_boolean(1);
        break;
    case 'f':
        if (jp_lit(j, "false") == 0) return json_object_new_boolean(0);
        break;
    case 'n':
        /* json-c has no null object: NULL with no error means JSON null */
        if (jp_lit(j, "null") == 0) return NULL;
        break;
    default:
        return jp_number(j);
    }
    j->err = "invalid JSON literal";
    return NULL;
}

static apr_status_t put_cleanup(void *o)
{
    json_object_put(o);
    return APR_SUCCESS;
}

json_object *mpp_json_pool_own(apr_pool_t *p, json_object *o)
{
    if (o)
        apr_pool_cleanup_register(p, o, put_cleanup, apr_pool_cleanup_null);
    return o;
}

json_object *mpp_json_parse(apr_pool_t *p, const char *text, apr_size_t len,
                            apr_size_t max_len, int max_depth, const char **err)
{
    jp_t j;
    json_object *o;

    *err = NULL;
    if (len > max_len) { *err = "JSON too large"; return NULL; }
    if (!mpp_utf8_valid((const unsigned char *)text, len)) { *err = "invalid UTF-8"; return NULL; }
    j.s = (const unsigned char *)text; j.len = len; j.pos = 0;
    j.max_depth = max_depth; j.err = NULL; j.p = p;
    o = jp_value(&j, 0);
    if (!o) {
        *err = j.err ? j.err : "JSON null is not accepted here";
        return NULL;
    }
    jp_ws(&j);
    if (j.pos != j.len) {
        json_object_put(o);
        *err = "trailing data after JSON";
        return NULL;
    }
    return mpp_json_pool_own(p, o);
}

json_object *mpp_json_from_b64url(apr_pool_t *p, const char *b64, apr_size_t max_len,
                                  int max_depth, const char **err)
{
    unsigned char *raw;
    apr_size_t rlen, blen = strlen(b64);
    json_object *o;

    if (blen / 4 * 3 > max_len) { *err = "value too large"; return NULL; }
    if (mpp_b64url_decode(p, b64, blen, &raw, &rlen)) { *err = "invalid base64url"; return NULL; }
    o = mpp_json_parse(p, (const char *)raw, rlen, max_len, max_depth, err);
    if (o && !json_object_is_type(o, json_type_object)) {
        *err = "JSON value is not an object";
        return NULL;
    }
    return o;
}

const char *mpp_json_str(json_object *o, const char *key)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* ---- JCS ---- */

/* Next UTF-16 code unit of a UTF-8 string (input is valid UTF-8). */
static unsigned u16_next(const unsigned char **s, unsigned *pending)
{
    unsigned cp;
    const unsigned char *c = *s;
    if (*pending) { unsigned u = *pending; *pending = 0; return u; }
    if (c[0] < 0x80) { cp = c[0]; *s += 1; }
    else if (c[0] < 0xe0) { cp = ((c[0] & 0x1fu) << 6) | (c[1] & 0x3fu); *s += 2; }
    else if (c[0] < 0xf0) { cp = ((c[0] & 0x0fu) << 12) | ((c[1] & 0x3fu) << 6) | (c[2] & 0x3fu); *s += 3; }
    else {
        cp = ((c[0] & 0x07u) << 18) | ((c[1] & 0x3fu) << 12) | ((c[2] & 0x3fu) << 6) | (c[3] & 0x3fu);
        *s += 4;
        cp -= 0x10000;
        *pending = 0xdc00 + (cp & 0x3ff);
        return 0xd800 + (cp >> 10);
    }
    return cp;
}

static int u16_cmp(const void *a, const void *b)
{
    const unsigned char *x = *(const unsigned char *const *)a;
    const unsigned char *y = *(const unsigned char *const *)b;
    unsigned px = 0, py = 0;
    for (;;) {
        unsigned ux, uy;
        if (!*x && !px) return (*y || py) ? -1 : 0;
        if (!*y && !py) return 1;
        ux = u16_next(&x, &px);
        uy = u16_next(&y, &py);
        if (ux != uy) return ux < uy ? -1 : 1;
    }
}

char *mpp_json_number_es(apr_pool_t *p, double d)
{
    char buf[40], digits[20];
    int prec, n, k = 0, neg = d < 0;
    char *e, *out, *q;

    if (d == 0) return apr_pstrdup(p, "0");
    if (neg) d = -d;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*e", prec - 1, d);
        if (strtod(buf, NULL) == d) break;
    }
    e = strchr(buf, 'e');
    for (q = buf; q < e; q++)
        if (*q >= '0' && *q <= '9') digits[k++] = *q;
    while (k > 1 && digits[k - 1] == '0') k--;
    digits[k] = '\0';
    n = (int)strtol(e + 1, NULL, 10) + 1;
    out = apr_palloc(p, 48);
    q = out;
    if (neg) *q++ = '-';
    if (k <= n && n <= 21) {
        memcpy(q, digits, (size_t)k); q += k;
        for (int i = 0; i < n - k; i++) *q++ = '0';
    }
    else if (0 < n && n <= 21) {
        memcpy(q, digits, (size_t)n); q += n;
        *q++ = '.';
        /* here n < k <= 17: digits + n is inside digits */
        // cppcheck-suppress pointerOutOfBoundsCond
        memcpy(q, digits + n, (size_t)(k - n)); q += k - n;
    }
    else if (-6 < n && n <= 0) {
        *q++ = '0'; *q++ = '.';
        for (int i = 0; i < -n; i++) *q++ = '0';
        memcpy(q, digits, (size_t)k); q += k;
    }
    else {
        *q++ = digits[0];
        if (k > 1) { *q++ = '.'; memcpy(q, digits + 1, (size_t)(k - 1)); q += k - 1; }
        q += sprintf(q, "e%c%d", n - 1 >= 0 ? '+' : '-', abs(n - 1));
    }
    *q = '\0';
    return out;
}

/* The JCS writer appends runs of bytes to a pool buffer that doubles. */
typedef struct {
    apr_pool_t *p;
    char *d;
    apr_size_t n, cap;
} sb_t;

static void sb_need(sb_t *b, apr_size_t more)
{
    apr_size_t cap = b->cap ? b->cap : 256;
    char *d;
    if (b->n + more + 1 <= b->cap) return;
    while (cap < b->n + more + 1) cap *= 2;
    d = apr_palloc(b->p, cap);
    if (b->n) memcpy(d, b->d, b->n);
    b->d = d;
    b->cap = cap;
}

static void sb_put(sb_t *b, const char *s, apr_size_t n)
{
    sb_need(b, n);
    memcpy(b->d + b->n, s, n);
    b->n += n;
}

static void sb_putc(sb_t *b, char c)
{
    sb_need(b, 1);
    b->d[b->n++] = c;
}

/* A string as JSON.stringify writes it (what JCS asks for). */
static void jcs_string(sb_t *b, const char *s, apr_size_t len)
{
    static const char hex[] = "0123456789abcdef";
    apr_size_t run = 0;
    sb_need(b, len + 2);
    sb_putc(b, '"');
    for (apr_size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char u[6];
        const char *esc;
        apr_size_t elen = 2;
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            u[0] = '\\'; u[1] = 'u'; u[2] = '0'; u[3] = '0'; u[4] = hex[c >> 4]; u[5] = hex[c & 15];
            esc = u;
            elen = 6;
        }
        sb_put(b, s + run, i - run);
        sb_put(b, esc, elen);
        run = i + 1;
    }
    sb_put(b, s + run, len - run);
    sb_putc(b, '"');
}

static void jcs_puts(sb_t *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void jcs_value(sb_t *b, json_object *o)
{
    char num[32];
    switch (json_object_get_type(o)) {
    case json_type_null:
        jcs_puts(b, "null");
        break;
    case json_type_boolean:
        jcs_puts(b, json_object_get_boolean(o) ? "true" : "false");
        break;
    case json_type_int:
        snprintf(num, sizeof(num), "%" APR_INT64_T_FMT, (apr_int64_t)json_object_get_int64(o));
        jcs_puts(b, num);
        break;
    case json_type_double:
        jcs_puts(b, mpp_json_number_es(b->p, json_object_get_double(o)));
        break;
    case json_type_string:
        jcs_string(b, json_object_get_string(o), (apr_size_t)json_object_get_string_len(o));
        break;
    case json_type_array: {
        size_t n = json_object_array_length(o);
        sb_putc(b, '[');
        for (size_t i = 0; i < n; i++) {
            if (i) sb_putc(b, ',');
            jcs_value(b, json_object_array_get_idx(o, i));
        }
        sb_putc(b, ']');
        break;
    }
    case json_type_object: {
        int n = json_object_object_length(o), i = 0;
        const char *few[16], **keys = n <= 16 ? few : apr_palloc(b->p, sizeof(char *) * (apr_size_t)n);
        json_object_object_foreach(o, k, v) { (void)v; keys[i++] = k; }
        qsort(keys, (size_t)n, sizeof(char *), u16_cmp);
        sb_putc(b, '{');
        for (i = 0; i < n; i++) {
            json_object *mv = NULL;
            if (i) sb_putc(b, ',');
            jcs_string(b, keys[i], strlen(keys[i]));
            sb_putc(b, ':');
            json_object_object_get_ex(o, keys[i], &mv);
            jcs_value(b, mv);
        }
        sb_putc(b, '}');
        break;
    }
    }
}

char *mpp_jcs(apr_pool_t *p, json_object *o)
{
    sb_t b = { p, NULL, 0, 0 };
    jcs_value(&b, o);
    sb_need(&b, 0);
    b.d[b.n] = '\0';
    return b.d;
}

char *mpp_json_quote(apr_pool_t *p, const char *s)
{
    sb_t b = { p, NULL, 0, 0 };
    jcs_string(&b, s, strlen(s));
    b.d[b.n] = '\0';
    return b.d;
}

char *mpp_jcs_b64url(apr_pool_t *p, json_object *o)
{
    char *s = mpp_jcs(p, o);
    return mpp_b64url_encode(p, (const unsigned char *)s, strlen(s));
}
