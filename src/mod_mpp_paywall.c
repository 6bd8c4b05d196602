/* The 402 page for browsers: a small readable HTML paywall beside the
 * problem+json body that payment clients read. */
#include "mod_mpp.h"

#include <apr_strings.h>
#include <apr_tables.h>

#include "mpp_utf8.h"

/* ---- Accept ---- */

/* Longer Accept values or more elements than a browser ever sends are not
 * parsed: such a client gets the JSON body, and the work stays bounded. */
#define ACCEPT_MAX_LEN   8192
#define ACCEPT_MAX_ELTS  64

enum { T_HTML, T_XHTML, T_JSON, T_PROBLEM, T_N };

static const struct { const char *type, *sub; } targets[T_N] = {
    { "text", "html" },
    { "application", "xhtml+xml" },
    { "application", "json" },
    { "application", "problem+json" },
};

static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
        || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static const char *skip_ows(const char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    return s;
}

static const char *token(const char *s, apr_size_t *len)
{
    const char *b = s;
    while (is_tchar((unsigned char)*s)) s++;
    *len = (apr_size_t)(s - b);
    return s;
}

/* A quoted-string at s[0] == '"'; returns the position after it or NULL. */
static const char *quoted(const char *s)
{
    for (s++; *s; s++) {
        if (*s == '\\') {
            if (!*++s) return NULL;
        }
        else if (*s == '"')
            return s + 1;
    }
    return NULL;
}

/* weight = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) -> 0..1000, or -1 */
static int parse_q(const char *s, apr_size_t len)
{
    int v, scale = 100;
    if (len == 0 || (s[0] != '0' && s[0] != '1') || (len > 1 && (s[1] != '.' || len > 5)))
        return -1;
    v = (s[0] - '0') * 1000;
    for (apr_size_t i = 2; i < len; i++, scale /= 10) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v += (s[i] - '0') * scale;
    }
    return v > 1000 ? -1 : v;
}

static int tok_is(const char *t, apr_size_t len, const char *want)
{
    return strlen(want) == len && !strncasecmp(t, want, len);
}

/* One media range at s into its type, subtype and q; returns the position
 * after it (at ',' or the end), with *ok 0 when it is malformed. */
static const char *media_range(const char *s, const char **type, apr_size_t *tl, const char **sub,
                               apr_size_t *sl, int *q, int *ok)
{
    int have_q = 0;
    *ok = 0;
    *q = 1000;
    *type = s = skip_ows(s);
    s = token(s, tl);
    if (!*tl || *s != '/') goto bad;
    *sub = ++s;
    s = token(s, sl);
    if (!*sl) goto bad;
    for (;;) {
        const char *name, *val;
        apr_size_t nl, vl;
        s = skip_ows(s);
        if (!*s || *s == ',') break;
        if (*s != ';') goto bad;
        s = skip_ows(s + 1);
        if (!*s || *s == ',') break;        /* an empty parameter: tolerated */
        name = s;
        s = token(s, &nl);
        if (!nl) goto bad;
        s = skip_ows(s);
        if (*s != '=') goto bad;
        val = s = skip_ows(s + 1);
        if (*s == '"') {
            if (!(s = quoted(s))) return val + strlen(val);   /* unterminated */
            vl = (apr_size_t)(s - val);
        }
        else {
            s = token(s, &vl);
            if (!vl) goto bad;
        }
        /* parameters after q are accept-ext: ignored */
        if (!have_q && tok_is(name, nl, "q")) {
            have_q = 1;
            if ((*q = parse_q(val, vl)) < 0) goto bad;
        }
    }
    *ok = 1;
    return s;
bad:
    /* on to the next element (a comma inside a quoted-string is not one) */
    while (*s && *s != ',') {
        if (*s == '"') {
            const char *e = quoted(s);
            if (!e) return s + strlen(s);
            s = e;
        }
        else s++;
    }
    return s;
}

int mpp_paywall_wanted(request_rec *r)
{
    const char *s = apr_table_get(r->headers_in, "Accept");
    int spec[T_N], q[T_N], elts = 0, html, json;

    if (!s || strlen(s) > ACCEPT_MAX_LEN)
        return 0;
    for (int t = 0; t < T_N; t++) spec[t] = -1, q[t] = 0;
    while (*s) {
        const char *type, *sub;
        apr_size_t tl, sl;
        int w, ok;
        if (*s == ',' || *s == ' ' || *s == '\t') { s++; continue; }
        if (++elts > ACCEPT_MAX_ELTS)
            return 0;
        s = media_range(s, &type, &tl, &sub, &sl, &w, &ok);
        if (!ok) continue;
        /* the most specific range that matches decides a type's weight */
        for (int t = 0; t < T_N; t++) {
            int sp;
            if (tok_is(type, tl, "*") && tok_is(sub, sl, "*")) sp = 1;
            else if (!tok_is(type, tl, targets[t].type)) continue;
            else if (tok_is(sub, sl, "*")) sp = 2;
            else if (tok_is(sub, sl, targets[t].sub)) sp = 3;
            else continue;
            if (sp > spec[t] || (sp == spec[t] && w > q[t])) spec[t] = sp, q[t] = w;
        }
    }
    html = q[T_HTML] > q[T_XHTML] ? q[T_HTML] : q[T_XHTML];
    json = q[T_JSON] > q[T_PROBLEM] ? q[T_JSON] : q[T_PROBLEM];
    /* a tie (a bare wildcard range) keeps JSON: API clients and curl see what they always saw */
    return html > json;
}

/* ---- the page ---- */

/* Text for HTML content and attribute values: markup characters become
 * references, control characters and malformed UTF-8 become U+FFFD (the
 * request path is the attacker's, and arbitrary bytes once decoded). */
static apr_size_t esc_into(char *out, const char *s)
{
    static const char repl[] = "\xef\xbf\xbd";
    apr_size_t o = 0, n = strlen(s);
    for (apr_size_t i = 0; i < n; ) {
        unsigned char c = (unsigned char)s[i];
        const char *ent = NULL, *lit = NULL;
        apr_size_t len = 1;
        switch (c) {
        case '&': ent = "&amp;"; break;
        case '<': ent = "&lt;"; break;
        case '>': ent = "&gt;"; break;
        case '"': ent = "&quot;"; break;
        case '\'': ent = "&#39;"; break;
        default:
            if (c >= 0x80) {
                apr_size_t k = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
                if (i + k <= n && mpp_utf8_valid((const unsigned char *)s + i, k)) {
                    len = k;
                    lit = s + i;
                }
                else ent = repl;
            }
            else if (c < 0x20 || c == 0x7f) ent = c == '\t' || c == '\n' ? " " : repl;
            else lit = s + i;
        }
        if (!ent) {
            if (out) memcpy(out + o, lit, len);   // NOLINT(bugprone-not-null-terminated-result): esc() terminates the buffer
            o += len;
        }
        else {
            apr_size_t el = strlen(ent);
            if (out) memcpy(out + o, ent, el);   // NOLINT(bugprone-not-null-terminated-result): esc() terminates the buffer
            o += el;
        }
        i += len;
    }
    return o;
}

static const char *esc(apr_pool_t *p, const char *s)
{
    char *out;
    apr_size_t n;
    if (!s) return "";
    n = esc_into(NULL, s);
    out = apr_palloc(p, n + 1);
    esc_into(out, s);
    out[n] = '\0';
    return out;
}

/* Base units to asset units with exact digit arithmetic ("10000", 6 ->
 * "0.01"): amounts go up to 2^256-1, far beyond a double. */
static const char *human_amount(apr_pool_t *p, const char *amount, int decimals)
{
    apr_size_t len, d, il;
    const char *digits;
    char *out, *e;
    if (!amount || !*amount || decimals < 0 || decimals > 77)
        return amount;
    for (const char *c = amount; *c; c++)
        if (*c < '0' || *c > '9') return amount;
    for (digits = amount; *digits == '0' && digits[1]; digits++) ;
    len = strlen(digits);
    d = (apr_size_t)decimals;
    il = len > d ? len - d : 1;
    out = apr_palloc(p, il + d + 2);
    if (len > d) {
        memcpy(out, digits, il);
        out[il] = '.';
        memcpy(out + il + 1, digits + il, d);
    }
    else {
        out[0] = '0';
        out[1] = '.';
        memset(out + 2, '0', d - len);
        memcpy(out + 2 + d - len, digits, len);
    }
    e = out + il + 1 + d;
    while (e > out + il + 1 && e[-1] == '0') e--;
    if (e == out + il + 1) e--;              /* a whole number: no '.' */
    *e = '\0';
    return out;
}

static const char PAGE_HEAD[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<meta name=\"robots\" content=\"noindex\">\n"
    "<title>Payment required</title>\n"
    "<style>\n"
    ":root{color-scheme:light dark;--fg:#16191d;--mut:#5d6670;--bg:#f3f4f6;--card:#fff;"
    "--line:#e2e5e9;--acc:#4338ca;--chip:#eef0ff}\n"
    "@media (prefers-color-scheme:dark){:root{--fg:#e9ebee;--mut:#9ba4ae;--bg:#0f1216;"
    "--card:#181c22;--line:#2a3039;--acc:#a5b4fc;--chip:#23264a}}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;background:var(--bg);color:var(--fg);"
    "font:16px/1.55 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Noto Sans\",sans-serif}\n"
    "main{max-width:38rem;margin:0 auto;padding:3rem 1.25rem 2rem}\n"
    ".tag{display:inline-block;margin:0;padding:.15rem .6rem;border-radius:999px;"
    "background:var(--chip);color:var(--acc);font-size:.75rem;font-weight:600;letter-spacing:.04em}\n"
    "h1{font-size:2rem;line-height:1.2;margin:.6rem 0 .4rem}\n"
    "h2{font-size:.8rem;text-transform:uppercase;letter-spacing:.08em;color:var(--mut);"
    "margin:2rem 0 .6rem}\n"
    ".lead{margin:0;color:var(--mut);font-size:1.05rem}\n"
    ".card{background:var(--card);border:1px solid var(--line);border-radius:14px;"
    "padding:1.25rem 1.35rem;margin:0 0 .8rem;box-shadow:0 1px 2px rgba(0,0,0,.04)}\n"
    ".price{margin:0;font-size:2.1rem;font-weight:700;line-height:1.15;overflow-wrap:anywhere}\n"
    ".price span{font-size:1.05rem;font-weight:600;color:var(--mut)}\n"
    ".desc{margin:.35rem 0 0}\n"
    "dl{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.45rem 1.1rem;"
    "margin:1rem 0 0;font-size:.9rem}\n"
    "dt{color:var(--mut)}\n"
    "dd{margin:0}\n"
    ".meta{margin:1.4rem 0 0}\n"
    "code{font:.85em/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;word-break:break-all}\n"
    "p code,li code{background:var(--chip);padding:.05rem .3rem;border-radius:4px;word-break:normal}\n"
    "ol{padding-left:1.3rem;margin:.5rem 0}\n"
    "li{margin:.25rem 0}\n"
    "footer{margin-top:2rem;font-size:.8rem;color:var(--mut)}\n"
    /* a phone: labels above values, and a 42-character address on one line */
    "@media (max-width:30rem){main{padding:1.75rem 1rem 1.5rem}h1{font-size:1.6rem}"
    ".card{padding:1rem}dl{grid-template-columns:minmax(0,1fr);gap:.1rem}"
    "dd{margin-bottom:.5rem}dd code{font-size:.72rem}}\n"
    "</style>\n"
    "</head>\n"
    "<body>\n"
    "<main>\n"
    "<p class=\"tag\">HTTP 402</p>\n"
    "<h1>Payment required</h1>\n";

static const char PAGE_HOW[] =
    "<h2>How to pay</h2>\n"

    "<p>Payment is made by software, not on this page. A wallet or agent that speaks the "
    "Machine Payments Protocol (for example the <code>mppx</code> client):</p>\n"
    "<ol>\n"
    "<li>reads the <code>WWW-Authenticate: Payment</code> challenge sent with this answer,</li>\n"
    "<li>pays as the challenge asks,</li>\n"
    "<li>requests this URL again with <code>Authorization: Payment</code> and its credential, "
    "and gets the resource with a receipt.</li>\n"
    "</ol>\n"
    "<p>The same URL answers machines with JSON (<code>application/problem+json</code>) "
    "when they ask for <code>application/json</code>.</p>\n"
    "<footer>Machine Payments Protocol &middot; HTTP 402 Payment Required</footer>\n"
    "</main>\n"
    "</body>\n"
    "</html>\n";

static const char *network_text(apr_pool_t *p, const mpp_network_t *net)
{
    if (!net) return "";
    switch (net->kind) {
    case MPP_NET_EVM:
        return apr_psprintf(p, "%s &middot; chain id %" APR_UINT64_T_FMT, esc(p, net->name),
                            net->chain_id);
    case MPP_NET_SOLANA:
        return apr_pstrcat(p, esc(p, net->name), " &middot; Solana ", esc(p, net->cluster), NULL);
    default:
        return apr_pstrcat(p, esc(p, net->name), " &middot; ", esc(p, net->type), NULL);
    }
}

static const char *offer_card(apr_pool_t *p, const mpp_paywall_offer_t *po)
{
    const mpp_offer_t *o = po->offer;
    const mpp_asset_t *a = o ? o->asset : NULL;
    const char *amount = po->amount ? po->amount : o ? o->amount : NULL;
    const char *token;
    if (!a)
        return "";
    token = a->eip712_name
        ? apr_pstrcat(p, esc(p, a->eip712_name), "<br><code>", esc(p, a->address), "</code>", NULL)
        : apr_pstrcat(p, "<code>", esc(p, a->address), "</code>", NULL);
    return apr_pstrcat(p,
        "<section class=\"card\">\n"
        "<p class=\"price\">", esc(p, human_amount(p, amount, a->decimals)),
        " <span>", esc(p, a->name), "</span></p>\n",
        o->description ? "<p class=\"desc\">" : "", o->description ? esc(p, o->description) : "",
        o->description ? "</p>\n" : "",
        "<dl>\n"
        "<dt>Network</dt><dd>", network_text(p, a->network), "</dd>\n"
        "<dt>Token</dt><dd>", token, "</dd>\n"
        "<dt>Pay to</dt><dd><code>", esc(p, po->recipient ? po->recipient : o->recipient), "</code></dd>\n"
        "</dl>\n"
        "</section>\n", NULL);
}

const char *mpp_paywall_html(request_rec *r, const char *realm, const mpp_paywall_offer_t *offers,
                             int n, const char *detail)
{
    apr_pool_t *p = r->pool;
    apr_array_header_t *parts = apr_array_make(p, n + 4, sizeof(const char *));

    APR_ARRAY_PUSH(parts, const char *) = PAGE_HEAD;
    APR_ARRAY_PUSH(parts, const char *) = apr_pstrcat(p,
        "<p class=\"lead\">", esc(p, detail ? detail : "Payment is required."), "</p>\n"
        "<dl class=\"meta\">\n"
        "<dt>Resource</dt><dd><code>", esc(p, r->uri), "</code></dd>\n"
        "<dt>Realm</dt><dd>", esc(p, realm), "</dd>\n"
        "</dl>\n"
        "<h2>", n > 1 ? "Price &middot; pay with any one of these" : "Price", "</h2>\n", NULL);
    for (int i = 0; offers && i < n; i++)
        APR_ARRAY_PUSH(parts, const char *) = offer_card(p, &offers[i]);
    APR_ARRAY_PUSH(parts, const char *) = PAGE_HOW;
    return apr_array_pstrcat(p, parts, 0);
}
