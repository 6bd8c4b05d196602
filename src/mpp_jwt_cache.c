/* Verified tokens, per thread. A client with an entitlement sends the same
 * token with every request: decoding it, parsing its header and checking
 * its signature once is enough. What depends on the clock, the issuer and
 * the audience is checked on every use (mpp_jwt_claims_check). Entries are
 * told apart by key set and its serial (a reloaded key set never matches an
 * entry of the old one) and the whole token, compared in constant time. */
#include "mpp_jwt.h"

#include <apr_strings.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 8

typedef struct {
    const mpp_jwt_keyset_t *ks;
    apr_uint64_t serial;
    apr_size_t tlen, blen;
    char *blk;                  /* the token, then the claims' strings and aud list */
    mpp_jwt_claims_t c;         /* pointing into blk */
} slot_t;

typedef struct {
    slot_t s[SLOTS];
    unsigned next;
} cache_t;

static pthread_key_t key;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int key_ok;

static void drop(void *v)
{
    cache_t *c = v;
    for (int i = 0; i < SLOTS; i++) free(c->s[i].blk);
    free(c);
}

static void make_key(void)
{
    key_ok = !pthread_key_create(&key, drop);
}

static cache_t *cache(void)
{
    cache_t *c;
    if (pthread_once(&once, make_key) || !key_ok) return NULL;
    if (!(c = pthread_getspecific(key)) && (c = calloc(1, sizeof(*c))) && pthread_setspecific(key, c)) {
        free(c);
        c = NULL;
    }
    return c;
}

static const char *rebase(const char *s, const char *from, char *to)
{
    return s ? to + (s - from) : NULL;
}

/* A copy of c and its strings whose block starts at to (from: c's block). */
static void relocate(const mpp_jwt_claims_t *c, const char *from, char *to, const char **auds_at,
                     mpp_jwt_claims_t *out)
{
    *out = *c;
    out->iss = rebase(c->iss, from, to);
    out->sub = rebase(c->sub, from, to);
    out->rid = rebase(c->rid, from, to);
    out->scp = rebase(c->scp, from, to);
    out->eid = rebase(c->eid, from, to);
    out->jti = rebase(c->jti, from, to);
    out->aud = rebase(c->aud, from, to);
    out->auds = c->auds ? auds_at : NULL;
    for (int i = 0; c->auds && i < c->n_auds; i++) out->auds[i] = rebase(c->auds[i], from, to);
}

static apr_size_t str_size(const char *s) { return s ? strlen(s) + 1 : 0; }

static char *put(char **at, const char *s)
{
    char *d = *at;
    if (!s) return NULL;
    memcpy(d, s, strlen(s) + 1);
    *at += strlen(s) + 1;
    return d;
}

/* Keep a verified token (malloc: the slot outlives requests). */
static void keep(cache_t *cc, const mpp_jwt_keyset_t *ks, const char *token, apr_size_t tlen,
                 const mpp_jwt_claims_t *c)
{
    slot_t *s = &cc->s[cc->next++ % SLOTS];
    apr_size_t n = tlen + str_size(c->iss) + str_size(c->sub) + str_size(c->rid) + str_size(c->scp)
                   + str_size(c->eid) + str_size(c->jti) + str_size(c->aud);
    apr_size_t auds_off;
    char *blk, *at;
    for (int i = 0; c->auds && i < c->n_auds; i++) n += str_size(c->auds[i]);
    auds_off = (n + sizeof(char *) - 1) / sizeof(char *) * sizeof(char *);
    n = auds_off + (apr_size_t)c->n_auds * sizeof(char *);
    free(s->blk);
    s->blk = NULL;
    if (!(blk = malloc(n))) return;
    memcpy(blk, token, tlen);
    at = blk + tlen;
    s->c = *c;
    s->c.iss = put(&at, c->iss);
    s->c.sub = put(&at, c->sub);
    s->c.rid = put(&at, c->rid);
    s->c.scp = put(&at, c->scp);
    s->c.eid = put(&at, c->eid);
    s->c.jti = put(&at, c->jti);
    s->c.aud = put(&at, c->aud);
    s->c.auds = c->auds ? (const char **)(void *)(blk + auds_off) : NULL;
    for (int i = 0; c->auds && i < c->n_auds; i++) s->c.auds[i] = put(&at, c->auds[i]);
    s->ks = ks;
    s->serial = ks->serial;
    s->tlen = tlen;
    s->blen = n;
    s->blk = blk;
}

static const slot_t *find(cache_t *cc, const mpp_jwt_keyset_t *ks, const char *token, apr_size_t tlen)
{
    for (int i = 0; i < SLOTS; i++) {
        const slot_t *s = &cc->s[i];
        if (s->blk && s->ks == ks && s->serial == ks->serial && s->tlen == tlen
            && !CRYPTO_memcmp(s->blk, token, tlen))
            return s;
    }
    return NULL;
}

const mpp_jwt_claims_t *mpp_jwt_check(apr_pool_t *p, const mpp_jwt_keyset_t *ks, const char *token,
                                      apr_time_t now, const char **err)
{
    apr_size_t tlen = strlen(token);
    cache_t *cc = tlen <= MPP_JWT_MAX ? cache() : NULL;
    const slot_t *s = cc ? find(cc, ks, token, tlen) : NULL;
    mpp_jwt_claims_t *c = apr_palloc(p, sizeof(*c));
    if (s) {
        /* the request gets its own copy: the slot may be reused meanwhile */
        char *blk = apr_pmemdup(p, s->blk, s->blen);
        apr_size_t auds_off = s->c.auds ? (apr_size_t)((const char *)s->c.auds - s->blk) : 0;
        relocate(&s->c, s->blk, blk, (const char **)(void *)(blk + auds_off), c);
    }
    else {
        json_object *claims = mpp_jwt_verify_signature(p, ks, token, err);
        if (!claims) return NULL;
        mpp_jwt_claims_read(p, claims, c);
        if (cc) keep(cc, ks, token, tlen, c);
    }
    return (*err = mpp_jwt_claims_check(c, ks, now)) ? NULL : c;
}
