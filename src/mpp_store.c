#include "mpp_store.h"
#include "mpp_crypto.h"

#include <string.h>

#define MAX_PROVIDERS 8

static const mpp_store_provider_t *providers[MAX_PROVIDERS];

void mpp_store_register(const mpp_store_provider_t *p)
{
    for (int i = 0; i < MAX_PROVIDERS; i++) {
        if (!providers[i] || !strcmp(providers[i]->name, p->name)) {
            providers[i] = p;
            return;
        }
    }
}

const mpp_store_provider_t *mpp_store_provider(const char *name)
{
    for (int i = 0; i < MAX_PROVIDERS && providers[i]; i++)
        if (!strcmp(providers[i]->name, name)) return providers[i];
    return NULL;
}

void mpp_store_key_id(const char *key, unsigned char id[32])
{
    mpp_sha256((const unsigned char *)key, strlen(key), id);
}

static int key_ok(const char *key)
{
    return key && *key && strlen(key) <= MPP_STORE_KEY_MAX;
}

mpp_store_rc_t mpp_store_add(mpp_store_t *st, const char *key, const void *val, apr_size_t vlen,
                             apr_time_t expires, int durable)
{
    unsigned char id[32];
    if (!key_ok(key) || vlen > MPP_STORE_VALUE_MAX) return MPP_STORE_ERROR;
    mpp_store_key_id(key, id);
    return st->provider->add(st, id, key, val, vlen, expires, durable);
}

mpp_store_rc_t mpp_store_persist(mpp_store_t *st, const char *key)
{
    unsigned char id[32];
    if (!key_ok(key)) return MPP_STORE_ERROR;
    mpp_store_key_id(key, id);
    return st->provider->persist(st, id, key);
}

mpp_store_rc_t mpp_store_get(mpp_store_t *st, const char *key, void *val, apr_size_t *vlen,
                             apr_time_t *expires)
{
    unsigned char id[32];
    if (!key_ok(key)) return MPP_STORE_ERROR;
    mpp_store_key_id(key, id);
    return st->provider->get(st, id, val, vlen, expires);
}

mpp_store_rc_t mpp_store_advance(mpp_store_t *st, const char *key, const unsigned char counter[32],
                                 const void *rec, apr_size_t rlen, apr_time_t expires)
{
    unsigned char id[32];
    if (!key_ok(key) || rlen > MPP_STORE_RECORD_MAX) return MPP_STORE_ERROR;
    mpp_store_key_id(key, id);
    return st->provider->advance(st, id, key, counter, rec, rlen, expires);
}

mpp_store_rc_t mpp_store_remove(mpp_store_t *st, const char *key)
{
    unsigned char id[32];
    if (!key_ok(key)) return MPP_STORE_ERROR;
    mpp_store_key_id(key, id);
    return st->provider->remove(st, id, key);
}

mpp_store_rc_t mpp_store_incr(mpp_store_t *st, const char *key, apr_time_t expires, apr_uint64_t *value)
{
    unsigned char id[32];
    if (!key_ok(key) || !st->provider->incr) return MPP_STORE_ERROR;
    mpp_store_key_id(key, id);
    return st->provider->incr(st, id, expires, value);
}

mpp_store_rc_t mpp_store_status(mpp_store_t *st, mpp_store_status_t *out)
{
    return st->provider->status(st, out);
}

mpp_store_rc_t mpp_store_iterate(mpp_store_t *st, mpp_store_each_fn *fn, void *baton)
{
    return st->provider->iterate(st, fn, baton);
}

const char *mpp_store_rc_name(mpp_store_rc_t rc)
{
    switch (rc) {
    case MPP_STORE_OK: return "ok";
    case MPP_STORE_EXISTS: return "exists";
    case MPP_STORE_NOT_FOUND: return "not found";
    case MPP_STORE_NOT_GREATER: return "not greater";
    case MPP_STORE_FULL: return "full";
    case MPP_STORE_ERROR: return "error";
    }
    return "?";
}
