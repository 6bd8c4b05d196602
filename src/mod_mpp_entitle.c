/* Entitlements: JWTs that let a request through without a new payment,
 * accepted from X-Entitlement: Bearer <jwt> or a cookie, and handed out
 * after a payment (MPPGrant) for time-boxed access. */
#include "mod_mpp.h"

#include "http_log.h"
#include "http_protocol.h"

#include <apr_file_io.h>
#include <apr_strings.h>

#include "mpp_args.h"
#include "mpp_b64.h"
#include "mpp_crypto.h"
#include "mpp_json.h"
#include "mpp_store.h"

APLOG_USE_MODULE(mpp);

#define DEFAULT_COOKIE "mpp_entitlement"

static mpp_srv_cfg_t *srv(cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config, &mpp_module);
}

const char *mpp_set_jwt_key(cmd_parms *cmd, void *dv, const char *args)
{
    const char *e, *file = NULL, *jwks = NULL;
    apr_array_header_t *w = mpp_args_split(cmd->pool, args, &e);
    mpp_jwt_keyset_t *ks = apr_pcalloc(cmd->pool, sizeof(*ks));
    int have_alg = 0;
    if (!w) return apr_psprintf(cmd->pool, "MPPJWTKey: %s", e);
    if (w->nelts < 2) return "MPPJWTKey: name alg=... file=|jwks=...";
    ks->name = APR_ARRAY_IDX(w, 0, const char *);
    ks->leeway = 60;
    for (int i = 1; i < w->nelts; i++) {
        const char *k, *v;
        if (mpp_args_kv(cmd->pool, APR_ARRAY_IDX(w, i, const char *), &k, &v))
            return apr_psprintf(cmd->pool, "MPPJWTKey %s: '%s' is not key=value", ks->name, APR_ARRAY_IDX(w, i, const char *));
        if (!strcmp(k, "alg")) {
            if ((e = mpp_jwt_alg_parse(v, &ks->alg))) return apr_psprintf(cmd->pool, "MPPJWTKey %s: %s (got %s)", ks->name, e, v);
            have_alg = 1;
        }
        else if (!strcmp(k, "file")) file = v;
        else if (!strcmp(k, "jwks")) jwks = v;
        else if (!strcmp(k, "iss")) ks->iss = v;
        else if (!strcmp(k, "aud")) ks->aud = v;
        else if (!strcmp(k, "leeway")) {
            char *end;
            long lw = strtol(v, &end, 10);
            if (!*v || *end || lw < 0 || lw > 300) return apr_psprintf(cmd->pool, "MPPJWTKey %s: leeway=%s (0..300)", ks->name, v);
            ks->leeway = (int)lw;
        }
        else return apr_psprintf(cmd->pool, "MPPJWTKey %s: unknown parameter '%s'", ks->name, k);
    }
    if (!have_alg) return apr_psprintf(cmd->pool, "MPPJWTKey %s: alg= is required (it is never taken from a token)", ks->name);
    if (!file == !jwks) return apr_psprintf(cmd->pool, "MPPJWTKey %s: give exactly one of file= and jwks=", ks->name);
    if ((e = mpp_key_file_check(cmd->pool, file ? file : jwks)))
        return apr_psprintf(cmd->pool, "MPPJWTKey %s: %s", ks->name, e);
    if (file && (e = mpp_jwt_load_file(cmd->pool, ks, file)))
        return apr_psprintf(cmd->pool, "MPPJWTKey %s: file %s: %s", ks->name, file, e);
    if (jwks) {
        char *text;
        apr_size_t n = 1 << 20;
        apr_file_t *f;
        if (apr_file_open(&f, jwks, APR_FOPEN_READ, 0, cmd->pool) != APR_SUCCESS)
            return apr_psprintf(cmd->pool, "MPPJWTKey %s: jwks %s cannot be opened", ks->name, jwks);
        text = apr_palloc(cmd->pool, n);
        apr_file_read_full(f, text, n, &n);
        apr_file_close(f);
        if ((e = mpp_jwt_load_jwks(cmd->pool, ks, text, n)))
            return apr_psprintf(cmd->pool, "MPPJWTKey %s: jwks %s %s", ks->name, jwks, e);
    }
    if (apr_hash_get(srv(cmd)->jwt_keys, ks->name, APR_HASH_KEY_STRING))
        return apr_psprintf(cmd->pool, "MPPJWTKey %s: defined twice", ks->name);
    apr_hash_set(srv(cmd)->jwt_keys, ks->name, APR_HASH_KEY_STRING, ks);
    return NULL;
}

const char *mpp_set_entitlement(cmd_parms *cmd, void *dv, const char *args)
{
    mpp_dir_cfg_t *d = dv;
    const char *e;
    apr_array_header_t *w = mpp_args_split(cmd->pool, args, &e);
    if (!w) return apr_psprintf(cmd->pool, "MPPEntitlement: %s", e);
    if (w->nelts < 1) return "MPPEntitlement: needs a key name (MPPJWTKey)";
    d->ent_key = APR_ARRAY_IDX(w, 0, const char *);
    d->ent_scope = "per-session";
    d->ent_cookie = NULL;
    for (int i = 1; i < w->nelts; i++) {
        const char *k, *v;
        if (mpp_args_kv(cmd->pool, APR_ARRAY_IDX(w, i, const char *), &k, &v))
            return apr_psprintf(cmd->pool, "MPPEntitlement: '%s' is not key=value", APR_ARRAY_IDX(w, i, const char *));
        if (!strcmp(k, "scope")) {
            if (strcmp(v, "per-call") && strcmp(v, "per-article") && strcmp(v, "per-session"))
                return apr_psprintf(cmd->pool, "MPPEntitlement: scope=%s is not per-call, per-article or per-session", v);
            d->ent_scope = v;
        }
        else if (!strcmp(k, "cookie")) {
            for (const char *c = v; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
                    return apr_psprintf(cmd->pool, "MPPEntitlement: cookie=%s is not a cookie name", v);
            d->ent_cookie = v;
        }
        else return apr_psprintf(cmd->pool, "MPPEntitlement: unknown parameter '%s'", k);
    }
    /* in .htaccess the server's keys are known now */
    if (ap_check_cmd_context(cmd, NOT_IN_HTACCESS)
        && !apr_hash_get(srv(cmd)->jwt_keys, d->ent_key, APR_HASH_KEY_STRING))
        return apr_psprintf(cmd->pool, "MPPEntitlement: unknown key '%s'", d->ent_key);
    return NULL;
}

const char *mpp_set_grant(cmd_parms *cmd, void *dv, const char *args)
{
    mpp_dir_cfg_t *d = dv;
    const char *e;
    apr_array_header_t *w = mpp_args_split(cmd->pool, args, &e);
    if (!w) return apr_psprintf(cmd->pool, "MPPGrant: %s", e);
    d->grant_secs = 0;
    d->grant_key = NULL;
    d->grant_cookie = 0;
    for (int i = 0; i < w->nelts; i++) {
        const char *k, *v;
        if (mpp_args_kv(cmd->pool, APR_ARRAY_IDX(w, i, const char *), &k, &v))
            return apr_psprintf(cmd->pool, "MPPGrant: '%s' is not key=value", APR_ARRAY_IDX(w, i, const char *));
        if (!strcmp(k, "session")) {
            char *end;
            long s = strtol(v, &end, 10);
            if (*end || s < 1 || s > 31 * 86400) return apr_psprintf(cmd->pool, "MPPGrant: session=%s (1..2678400 seconds)", v);
            d->grant_secs = (int)s;
        }
        else if (!strcmp(k, "key")) d->grant_key = v;
        else if (!strcmp(k, "cookie")) {
            if (strcasecmp(v, "on") && strcasecmp(v, "off")) return apr_psprintf(cmd->pool, "MPPGrant: cookie=%s (on or off)", v);
            d->grant_cookie = !strcasecmp(v, "on");
        }
        else return apr_psprintf(cmd->pool, "MPPGrant: unknown parameter '%s'", k);
    }
    if (!d->grant_secs) return "MPPGrant: session=SECONDS is required";
    return NULL;
}

const mpp_jwt_keyset_t *mpp_grant_keyset(apr_pool_t *p, mpp_srv_cfg_t *c, const char *name)
{
    if (name) return apr_hash_get(c->jwt_keys, name, APR_HASH_KEY_STRING);
    /* without key=, the only key set there is */
    return apr_hash_count(c->jwt_keys) == 1 ? apr_hash_this_val(apr_hash_first(p, c->jwt_keys)) : NULL;
}

static const mpp_jwt_keyset_t *keyset(request_rec *r, const char *name)
{
    return mpp_grant_keyset(r->pool, ap_get_module_config(r->server->module_config, &mpp_module), name);
}

static const char *cookie_value(request_rec *r, const char *name)
{
    const char *h = apr_table_get(r->headers_in, "Cookie");
    apr_size_t n = strlen(name);
    while (h && *h) {
        while (*h == ' ' || *h == ';') h++;
        if (!strncmp(h, name, n) && h[n] == '=') {
            const char *v = h + n + 1, *e = strchr(v, ';');
            return e ? apr_pstrmemdup(r->pool, v, (apr_size_t)(e - v)) : apr_pstrdup(r->pool, v);
        }
        h = strchr(h, ';');
    }
    return NULL;
}

static int scope_allows(const mpp_jwt_claims_t *c, const char *scope)
{
    const char *scp = c->scp;
    apr_size_t n = strlen(scope);
    if (!scp) return 1;                  /* no scp: the key's configuration decides */
    for (const char *s = scp; (s = strstr(s, scope)); s += n)
        if ((s == scp || s[-1] == ' ') && (s[n] == '\0' || s[n] == ' ')) return 1;
    return 0;
}

/* One candidate token against one key set and scope. */
static int accept_token(request_rec *r, const mpp_jwt_keyset_t *ks, const char *scope, const char *token,
                  const char *realm, const char *rid, int prefix_rid)
{
    const char *err, *eid;
    const mpp_jwt_claims_t *c = mpp_jwt_check(r->pool, ks, token, apr_time_now(), &err);
    if (!c) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MPPLOGNO(00800) "entitlement refused (%s): %s", ks->name, err);
        return 0;
    }
    if (!ks->aud && !strcmp(scope, "per-session") && (!c->aud || strcmp(c->aud, realm))) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MPPLOGNO(00801) "entitlement refused (%s): aud is not the realm", ks->name);
        return 0;
    }
    if (!scope_allows(c, scope)) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MPPLOGNO(00802) "entitlement refused (%s): scp does not allow %s", ks->name, scope);
        return 0;
    }
    if (strcmp(scope, "per-session") || prefix_rid) {
        /* a grant opens exactly the place it was bought for, never a nested
         * or similarly named (dearer) one */
        if (!c->rid || strcmp(c->rid, rid)) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MPPLOGNO(00803) "entitlement refused (%s): rid is not this resource", ks->name);
            return 0;
        }
    }
    if (!strcmp(scope, "per-call")) {
        mpp_store_t *st = mpp_the_store();
        /* clamp: an absurd exp must not overflow into an already-expired record */
        int64_t cap = (int64_t)apr_time_sec(apr_time_now()) + 10LL * 366 * 86400;
        apr_time_t until = apr_time_from_sec((c->exp < cap ? c->exp : cap) + ks->leeway + 5);
        eid = c->eid ? c->eid : c->jti;
        if (!eid || strlen(eid) > 128 || !st
            || mpp_store_add(st, apr_pstrcat(r->pool, "jwt:", ks->name, ":", eid, NULL), NULL, 0, until, 1)
               != MPP_STORE_OK) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MPPLOGNO(00804) "entitlement refused (%s): per-call token "
                          "without eid, already spent, or the store is unavailable", ks->name);
            return 0;
        }
    }
    {
        const char *sub = c->sub;
        for (const char *q = sub; q && *q; q++)
            if ((unsigned char)*q < 0x20 || *q == 0x7f) { sub = NULL; break; }   /* header-safe only */
        apr_table_setn(r->notes, "mpp-payer", sub ? apr_pstrndup(r->pool, sub, 256) : "entitled");
    }
    return 1;
}

int mpp_entitled(request_rec *r, mpp_dir_cfg_t *d, const char *realm, const char *rid)
{
    const char *hdr = apr_table_get(r->headers_in, "X-Entitlement"), *tokens[3] = { NULL, NULL, NULL };
    const mpp_jwt_keyset_t *ent = d->ent_key ? keyset(r, d->ent_key) : NULL;
    const mpp_jwt_keyset_t *grant = d->grant_secs ? keyset(r, d->grant_key) : NULL;
    if (!ent && !grant) return DECLINED;
    if (hdr && !strncasecmp(hdr, "Bearer ", 7)) tokens[0] = hdr + 7;
    /* MPPEntitlement tokens: the header or the place's cookie; our grants:
     * the header or the cookie our grants set */
    tokens[1] = cookie_value(r, d->ent_cookie ? d->ent_cookie : DEFAULT_COOKIE);   /* entitlements */
    tokens[2] = cookie_value(r, DEFAULT_COOKIE);                                      /* our grants */
    for (int i = 0; i < 3; i++) {
        if (!tokens[i] || strlen(tokens[i]) > MPP_JWT_MAX) continue;
        if (ent && i != 2 && accept_token(r, ent, d->ent_scope, tokens[i], realm, rid, 0)) return OK;
        /* our own grants cover the place they were bought for, until exp */
        if (grant && i != 1 && accept_token(r, grant, "per-session", tokens[i], realm, d->where ? d->where : rid, 1))
            return OK;
    }
    return DECLINED;
}

const char *mpp_grant(request_rec *r, mpp_dir_cfg_t *d, const char *realm, const char *rid,
                      const char *payer, const char *amount)
{
    const mpp_jwt_keyset_t *ks = d->grant_secs ? keyset(r, d->grant_key) : NULL;
    json_object *c;
    unsigned char eid[16];
    const char *tok, *err;
    apr_time_t now = apr_time_now();
    if (!ks || mpp_random(eid, sizeof(eid))) return NULL;
    c = mpp_json_pool_own(r->pool, json_object_new_object());
    json_object_object_add(c, "iss", json_object_new_string(ks->iss ? ks->iss : realm));
    json_object_object_add(c, "sub", json_object_new_string(payer ? payer : "anonymous"));
    json_object_object_add(c, "aud", json_object_new_string(ks->aud ? ks->aud : realm));
    json_object_object_add(c, "iat", json_object_new_int64(apr_time_sec(now)));
    json_object_object_add(c, "exp", json_object_new_int64(apr_time_sec(now) + d->grant_secs));
    json_object_object_add(c, "eid", json_object_new_string(mpp_b64url_encode(r->pool, eid, sizeof(eid))));
    json_object_object_add(c, "rid", json_object_new_string(d->where ? d->where : rid));
    json_object_object_add(c, "scp", json_object_new_string("per-session"));
    if (amount) json_object_object_add(c, "amt", json_object_new_string(amount));
    if (!(tok = mpp_jwt_sign(r->pool, ks, c, &err))) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MPPLOGNO(00805) "MPPGrant cannot sign with key %s: %s", ks->name, err);
        return NULL;
    }
    return tok;
}
