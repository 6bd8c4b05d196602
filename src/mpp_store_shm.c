/* Hash table in one region: header, bucket heads, fixed slots. Links are
 * 1-based slot indexes (the region may map at different addresses), the
 * bucket comes from SipHash-2-4 with a key drawn at format time, values are
 * copied under the lock, expired entries are reclaimed, live ones never. */
#include "mpp_store_shm.h"

#include <errno.h>
#include "mpp_crypto.h"

#include <apr_strings.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "MPPSTOR1"
#define F_USED    1u
#define F_DURABLE 2u
#define F_COUNTER 4u

typedef struct {
    char magic[8];
    apr_uint32_t slot_size;
    apr_uint32_t free_head;        /* 1-based, 0 = none */
    apr_uint64_t fresh;            /* slots 1..fresh have been handed out once */
    apr_int64_t last_sweep;        /* a full table is swept at most once a second */
    apr_uint64_t nslots;
    apr_uint64_t nbuckets;         /* power of two */
    apr_uint64_t used;
    apr_uint64_t refused;
    apr_uint64_t sip[2];
    apr_uint32_t journal_gen;
    apr_uint32_t pad;
    apr_uint64_t journal_bytes;
    apr_uint64_t journal_records;
    apr_uint64_t appended;         /* records appended since the last rewrite */
    apr_uint64_t written;          /* journal records written (a sequence) */
    apr_uint64_t synced;           /* ... of which all up to this one are on disk */
} hdr_t;

typedef struct {
    apr_uint32_t next;
    apr_uint16_t vlen;
    unsigned char flags;
    unsigned char pad;
    apr_int64_t expires;           /* 0: never */
    unsigned char id[32];
    unsigned char val[MPP_STORE_VALUE_MAX];
} slot_t;

typedef struct {
    hdr_t *h;
    apr_uint32_t *buckets;
    slot_t *slots;
    apr_global_mutex_t *lock;
    mpp_journal_t *journal;
    apr_pool_t *p;
    mpp_store_t *st;               /* for its clock */
} shm_t;

/* ---- SipHash-2-4 ---- */
#define ROTL(x, b) (apr_uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do { \
    v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
    v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; \
    v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
    v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); } while (0)

static apr_uint64_t le64(const unsigned char *p)
{
    apr_uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* SipHash-2-4 of the 32-byte id (exactly four words plus the length block). */
static apr_uint64_t siphash32(const apr_uint64_t k[2], const unsigned char id[32])
{
    apr_uint64_t v0 = 0x736f6d6570736575ULL ^ k[0], v1 = 0x646f72616e646f6dULL ^ k[1];
    apr_uint64_t v2 = 0x6c7967656e657261ULL ^ k[0], v3 = 0x7465646279746573ULL ^ k[1];
    for (int i = 0; i < 4; i++) {
        apr_uint64_t m = le64(id + 8 * i);
        v3 ^= m; SIPROUND; SIPROUND; v0 ^= m;
    }
    {
        apr_uint64_t b = (apr_uint64_t)32 << 56;
        v3 ^= b; SIPROUND; SIPROUND; v0 ^= b;
    }
    v2 ^= 0xff;
    SIPROUND; SIPROUND; SIPROUND; SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- layout ---- */

static apr_uint64_t pow2_floor(apr_uint64_t n)
{
    apr_uint64_t p = 1;
    while (p * 2 <= n) p *= 2;
    return p;
}

static apr_size_t layout_bytes(apr_uint64_t nslots, apr_uint64_t nbuckets)
{
    return APR_ALIGN_DEFAULT(sizeof(hdr_t)) + APR_ALIGN_DEFAULT(nbuckets * sizeof(apr_uint32_t))
        + nslots * sizeof(slot_t);
}

apr_size_t mpp_shm_store_entry_bytes(void)
{
    return sizeof(slot_t) + sizeof(apr_uint32_t);
}

apr_uint64_t mpp_shm_store_capacity(apr_size_t bytes)
{
    apr_uint64_t n;
    if (bytes < layout_bytes(16, 16)) return 0;
    n = (bytes - APR_ALIGN_DEFAULT(sizeof(hdr_t))) / (sizeof(slot_t) + sizeof(apr_uint32_t));
    /* the bucket array is a power of two at most n: room for a few more slots */
    while (layout_bytes(n + 1, pow2_floor(n + 1)) <= bytes) n++;
    while (n > 16 && layout_bytes(n, pow2_floor(n)) > bytes) n--;
    if (n > 0xfffffffeULL) n = 0xfffffffeULL;
    return n;
}

static void map(shm_t *s, void *mem)
{
    char *m = mem;
    s->h = mem;
    s->buckets = (apr_uint32_t *)(m + APR_ALIGN_DEFAULT(sizeof(hdr_t)));
    s->slots = (slot_t *)(m + APR_ALIGN_DEFAULT(sizeof(hdr_t))
                          + APR_ALIGN_DEFAULT(s->h->nbuckets * sizeof(apr_uint32_t)));
}

int mpp_shm_store_format(void *mem, apr_size_t bytes)
{
    apr_uint64_t n = mpp_shm_store_capacity(bytes);
    hdr_t *h = mem;
    if (n < 16) return -1;
    /* header and index only: slots are handed out in order the first time
     * (h->fresh), so a large region is not touched until it is used */
    memset(mem, 0, layout_bytes(0, pow2_floor(n)));
    memcpy(h->magic, MAGIC, 8);
    h->slot_size = sizeof(slot_t);
    h->nslots = n;
    h->nbuckets = pow2_floor(n);
    if (mpp_random((unsigned char *)h->sip, sizeof(h->sip))) return -1;
    return 0;
}

/* ---- locking and the journal ---- */

apr_status_t mpp_global_mutex_lock(apr_global_mutex_t *m)
{
    apr_status_t rv;
    /* fcntl locks (Debian's default "Mutex file:") see processes, not
     * threads: a thread waiting on one mutex while another thread of its
     * process holds the other can be told EDEADLK although nothing is
     * deadlocked (the mutexes are always taken settle, then store) */
    for (int i = 0; (rv = apr_global_mutex_lock(m)) == APR_FROM_OS_ERROR(EDEADLK) && i < 100000; i++)
        apr_sleep(50);
    return rv;
}

static int lock(shm_t *s)
{
    if (s->lock && mpp_global_mutex_lock(s->lock) != APR_SUCCESS) return -1;
    if (s->journal && mpp_journal_sync_gen(s->journal, s->h->journal_gen)) {
        if (s->lock) apr_global_mutex_unlock(s->lock);
        return -1;
    }
    return 0;
}

static void unlock(shm_t *s)
{
    if (s->lock) apr_global_mutex_unlock(s->lock);
}

static int compact_locked(shm_t *s, const char **err);

/* Write one record (under the lock); *seq is what sync_to() must wait for
 * once the lock is released. */
static int journal(shm_t *s, mpp_jrec_type_t type, const slot_t *sl, const char *key, apr_uint64_t *seq)
{
    mpp_jrec_t r;
    if (!s->journal) return 0;
    r.type = type;
    memcpy(r.id, sl->id, 32);
    r.key = key;
    r.value = sl->val;
    r.vlen = type == MPP_JREC_DEL ? 0 : sl->vlen;
    r.expires = sl->expires;
    if (mpp_journal_write(s->journal, &r)) return -1;
    s->h->journal_records++;
    s->h->appended++;
    *seq = __atomic_add_fetch(&s->h->written, 1, __ATOMIC_SEQ_CST);
    return 0;
}

/* Group commit, outside the lock: the caller's record is on disk when this
 * returns 0. One fdatasync covers every record written before it started,
 * by any process, so concurrent callers mostly find their work done. */
static int sync_to(shm_t *s, apr_uint64_t seq)
{
    apr_uint64_t w, cur;
    if (!seq || __atomic_load_n(&s->h->synced, __ATOMIC_SEQ_CST) >= seq) return 0;
    w = __atomic_load_n(&s->h->written, __ATOMIC_SEQ_CST);
    if (mpp_journal_sync(s->journal)) return -1;
    cur = __atomic_load_n(&s->h->synced, __ATOMIC_SEQ_CST);
    while (cur < w && !__atomic_compare_exchange_n(&s->h->synced, &cur, w, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
        ;
    return 0;
}

/* After a successful append: rewrite when the journal is mostly dead records. */
static void maybe_compact(shm_t *s)
{
    const char *err;
    if (s->journal && s->h->appended > 100000 && s->h->appended > 2 * s->h->used)
        compact_locked(s, &err); /* failure keeps the old journal, which is still whole */
}

/* ---- the table ---- */

static int live(const slot_t *sl, apr_time_t now)
{
    return sl->expires == 0 || sl->expires > now;
}

static apr_uint32_t *bucket(shm_t *s, const unsigned char id[32])
{
    return &s->buckets[siphash32(s->h->sip, id) & (s->h->nbuckets - 1)];
}

static void free_slot(shm_t *s, apr_uint32_t idx)
{
    slot_t *sl = &s->slots[idx - 1];
    sl->flags = 0;
    sl->next = s->h->free_head;
    s->h->free_head = idx;
    s->h->used--;
}

/* Find id in its chain, reclaiming expired slots on the way; returns the
 * 1-based index or 0, and the link that points at it. */
static apr_uint32_t find(shm_t *s, const unsigned char id[32], apr_time_t now, apr_uint32_t **link)
{
    apr_uint32_t *l = bucket(s, id);
    while (*l) {
        apr_uint32_t idx = *l;
        slot_t *sl = &s->slots[idx - 1];
        if (!live(sl, now)) {
            *l = sl->next;
            free_slot(s, idx);
            continue;
        }
        if (!memcmp(sl->id, id, 32)) {
            if (link) *link = l;
            return idx;
        }
        l = &sl->next;
    }
    return 0;
}

/* Reclaim every expired slot (when the free list ran dry). */
static void sweep(shm_t *s, apr_time_t now)
{
    for (apr_uint64_t b = 0; b < s->h->nbuckets; b++) {
        apr_uint32_t *l = &s->buckets[b];
        while (*l) {
            apr_uint32_t idx = *l;
            slot_t *sl = &s->slots[idx - 1];
            if (!live(sl, now)) { *l = sl->next; free_slot(s, idx); }
            else l = &sl->next;
        }
    }
}

/* A new slot linked into id's bucket, or 0 when full. */
static apr_uint32_t insert(shm_t *s, const unsigned char id[32], apr_time_t now)
{
    apr_uint32_t idx, *b;
    if (!s->h->free_head && s->h->fresh == s->h->nslots && now - s->h->last_sweep >= APR_USEC_PER_SEC) {
        s->h->last_sweep = now;
        sweep(s, now);
    }
    if ((idx = s->h->free_head))
        s->h->free_head = s->slots[idx - 1].next;
    else if (s->h->fresh < s->h->nslots)
        idx = (apr_uint32_t)++s->h->fresh;
    else {
        s->h->refused++;
        return 0;
    }
    s->h->used++;
    b = bucket(s, id);
    s->slots[idx - 1].next = *b;
    *b = idx;
    memcpy(s->slots[idx - 1].id, id, 32);
    return idx;
}

static void unlink_slot(shm_t *s, apr_uint32_t *link, apr_uint32_t idx)
{
    *link = s->slots[idx - 1].next;
    free_slot(s, idx);
}

static mpp_store_rc_t shm_add(mpp_store_t *st, const unsigned char id[32], const char *key,
                              const void *val, apr_size_t vlen, apr_time_t expires, int durable)
{
    shm_t *s = st->impl;
    apr_time_t now = st->now();
    apr_uint32_t idx, *link;
    slot_t *sl;
    mpp_store_rc_t rc = MPP_STORE_OK;
    apr_uint64_t seq = 0;

    if (vlen > MPP_STORE_VALUE_MAX) return MPP_STORE_ERROR;
    if (lock(s)) return MPP_STORE_ERROR;
    if (find(s, id, now, NULL)) rc = MPP_STORE_EXISTS;
    else if (!(idx = insert(s, id, now))) rc = MPP_STORE_FULL;
    else {
        sl = &s->slots[idx - 1];
        sl->flags = F_USED | (durable ? F_DURABLE : 0);
        sl->vlen = (apr_uint16_t)vlen;
        if (vlen) memcpy(sl->val, val, vlen);
        sl->expires = expires;
        if (durable) {
            if (journal(s, MPP_JREC_ADD, sl, key, &seq)) {
                link = bucket(s, id);   /* just linked at the head */
                unlink_slot(s, link, idx);
                rc = MPP_STORE_ERROR;
            }
            else maybe_compact(s);
        }
    }
    unlock(s);
    return rc == MPP_STORE_OK && sync_to(s, seq) ? MPP_STORE_ERROR : rc;
}

static mpp_store_rc_t shm_persist(mpp_store_t *st, const unsigned char id[32], const char *key)
{
    shm_t *s = st->impl;
    apr_uint32_t idx;
    mpp_store_rc_t rc = MPP_STORE_OK;
    apr_uint64_t seq = 0;
    if (lock(s)) return MPP_STORE_ERROR;
    if (!(idx = find(s, id, st->now(), NULL))) rc = MPP_STORE_NOT_FOUND;
    else if (!(s->slots[idx - 1].flags & F_DURABLE)) {
        if (journal(s, MPP_JREC_ADD, &s->slots[idx - 1], key, &seq)) rc = MPP_STORE_ERROR;
        else { s->slots[idx - 1].flags |= F_DURABLE; maybe_compact(s); }
    }
    unlock(s);
    return rc == MPP_STORE_OK && sync_to(s, seq) ? MPP_STORE_ERROR : rc;
}

static mpp_store_rc_t shm_get(mpp_store_t *st, const unsigned char id[32], void *val,
                              apr_size_t *vlen, apr_time_t *expires)
{
    shm_t *s = st->impl;
    apr_uint32_t idx;
    mpp_store_rc_t rc = MPP_STORE_OK;
    if (lock(s)) return MPP_STORE_ERROR;
    if (!(idx = find(s, id, st->now(), NULL))) rc = MPP_STORE_NOT_FOUND;
    else {
        slot_t *sl = &s->slots[idx - 1];
        if (val) memcpy(val, sl->val, sl->vlen);
        if (vlen) *vlen = sl->vlen;
        if (expires) *expires = sl->expires;
    }
    unlock(s);
    return rc;
}

static mpp_store_rc_t shm_advance(mpp_store_t *st, const unsigned char id[32], const char *key,
                                  const unsigned char counter[32], const void *rec,
                                  apr_size_t rlen, apr_time_t expires)
{
    shm_t *s = st->impl;
    apr_time_t now = st->now();
    apr_uint32_t idx, *link = NULL;
    mpp_store_rc_t rc = MPP_STORE_OK;
    slot_t *sl, old = { 0 };   /* read back only when find() set link (and old) */
    apr_uint64_t seq = 0;

    if (rlen > MPP_STORE_RECORD_MAX) return MPP_STORE_ERROR;
    if (lock(s)) return MPP_STORE_ERROR;
    if ((idx = find(s, id, now, &link))) {
        sl = &s->slots[idx - 1];
        old = *sl;
        if (sl->vlen < 32 || memcmp(counter, sl->val, 32) <= 0) {
            unlock(s);
            return MPP_STORE_NOT_GREATER;
        }
    }
    else if (!(idx = insert(s, id, now))) {
        unlock(s);
        return MPP_STORE_FULL;
    }
    sl = &s->slots[idx - 1];
    sl->flags = F_USED | F_DURABLE | F_COUNTER;
    memcpy(sl->val, counter, 32);
    if (rlen) memcpy(sl->val + 32, rec, rlen);
    sl->vlen = (apr_uint16_t)(32 + rlen);
    sl->expires = expires;
    if (journal(s, MPP_JREC_ADV, sl, key, &seq)) {
        if (link) { apr_uint32_t next = sl->next; *sl = old; sl->next = next; }
        else unlink_slot(s, bucket(s, id), idx);
        rc = MPP_STORE_ERROR;
    }
    else maybe_compact(s);
    unlock(s);
    return rc == MPP_STORE_OK && sync_to(s, seq) ? MPP_STORE_ERROR : rc;
}

static mpp_store_rc_t shm_remove(mpp_store_t *st, const unsigned char id[32], const char *key)
{
    shm_t *s = st->impl;
    apr_uint32_t idx, *link;
    mpp_store_rc_t rc = MPP_STORE_OK;
    apr_uint64_t seq = 0;
    if (lock(s)) return MPP_STORE_ERROR;
    if (!(idx = find(s, id, st->now(), &link))) rc = MPP_STORE_NOT_FOUND;
    else if ((s->slots[idx - 1].flags & F_DURABLE) && journal(s, MPP_JREC_DEL, &s->slots[idx - 1], key, &seq))
        rc = MPP_STORE_ERROR;   /* still recorded: keep it */
    else
        unlink_slot(s, link, idx);
    unlock(s);
    return rc == MPP_STORE_OK && sync_to(s, seq) ? MPP_STORE_ERROR : rc;
}

static mpp_store_rc_t shm_incr(mpp_store_t *st, const unsigned char id[32], apr_time_t expires,
                               apr_uint64_t *value)
{
    shm_t *s = st->impl;
    apr_time_t now = st->now();
    apr_uint32_t idx;
    apr_uint64_t v = 0;
    mpp_store_rc_t rc = MPP_STORE_OK;
    if (lock(s)) return MPP_STORE_ERROR;
    if ((idx = find(s, id, now, NULL))) {
        slot_t *sl = &s->slots[idx - 1];
        if (sl->vlen == sizeof(v)) memcpy(&v, sl->val, sizeof(v));
        v++;
        memcpy(sl->val, &v, sizeof(v));
        sl->vlen = sizeof(v);
    }
    else if ((idx = insert(s, id, now))) {
        slot_t *sl = &s->slots[idx - 1];
        v = 1;
        sl->flags = F_USED;
        memcpy(sl->val, &v, sizeof(v));
        sl->vlen = sizeof(v);
        sl->expires = expires;
    }
    else rc = MPP_STORE_FULL;
    unlock(s);
    *value = v;
    return rc;
}

static mpp_store_rc_t shm_status(mpp_store_t *st, mpp_store_status_t *out)
{
    shm_t *s = st->impl;
    if (lock(s)) return MPP_STORE_ERROR;
    out->capacity = s->h->nslots;
    out->used = s->h->used;
    out->refused = s->h->refused;
    out->journal_bytes = s->journal ? mpp_journal_size(s->journal) : 0;
    out->journal_records = s->h->journal_records;
    out->entry_bytes = mpp_shm_store_entry_bytes();
    unlock(s);
    return MPP_STORE_OK;
}

static void to_entry(const slot_t *sl, mpp_store_entry_t *e)
{
    memcpy(e->id, sl->id, 32);
    e->key = NULL;
    e->value = sl->val;
    e->vlen = sl->vlen;
    e->expires = sl->expires;
    e->durable = !!(sl->flags & F_DURABLE);
    e->counter = !!(sl->flags & F_COUNTER);
}

static mpp_store_rc_t shm_iterate(mpp_store_t *st, mpp_store_each_fn *fn, void *baton)
{
    shm_t *s = st->impl;
    apr_time_t now = st->now();
    if (lock(s)) return MPP_STORE_ERROR;
    for (apr_uint64_t b = 0; b < s->h->nbuckets; b++) {
        for (apr_uint32_t idx = s->buckets[b]; idx; idx = s->slots[idx - 1].next) {
            mpp_store_entry_t e;
            if (!live(&s->slots[idx - 1], now)) continue;
            to_entry(&s->slots[idx - 1], &e);
            if (fn(baton, &e)) { unlock(s); return MPP_STORE_OK; }
        }
    }
    unlock(s);
    return MPP_STORE_OK;
}

const mpp_store_provider_t mpp_store_shm_provider = {
    .name = "shm", .add = shm_add, .persist = shm_persist, .get = shm_get, .advance = shm_advance,
    .remove = shm_remove, .incr = shm_incr, .status = shm_status, .iterate = shm_iterate,
};

mpp_store_t *mpp_shm_store_attach(apr_pool_t *p, void *mem, apr_size_t bytes,
                                  apr_global_mutex_t *lk, mpp_journal_t *journal)
{
    mpp_store_t *st = apr_pcalloc(p, sizeof(*st));
    shm_t *s = apr_pcalloc(p, sizeof(*s));
    hdr_t *h = mem;
    if (bytes < sizeof(hdr_t) || memcmp(h->magic, MAGIC, 8) || h->slot_size != sizeof(slot_t)
        || layout_bytes(h->nslots, h->nbuckets) > bytes)
        return NULL;
    map(s, mem);
    s->lock = lk;
    s->journal = journal;
    s->p = p;
    s->st = st;
    st->provider = &mpp_store_shm_provider;
    st->impl = s;
    st->now = apr_time_now;
    return st;
}

/* ---- startup replay and compaction ---- */

typedef struct { shm_t *s; apr_time_t now; int full; } load_t;

static int load_rec(void *baton, const mpp_jrec_t *r)
{
    load_t *L = baton;
    shm_t *s = L->s;
    apr_uint32_t idx, *link;
    slot_t *sl;

    idx = find(s, r->id, L->now, &link);
    if (r->type == MPP_JREC_DEL) {
        if (idx) unlink_slot(s, link, idx);
        return 0;
    }
    if (r->expires && r->expires <= L->now) {
        if (idx) unlink_slot(s, link, idx);   /* a later record may have shortened it */
        return 0;
    }
    if (r->vlen > MPP_STORE_VALUE_MAX) return 0;
    if (!idx && !(idx = insert(s, r->id, L->now))) { L->full = 1; return 1; }
    sl = &s->slots[idx - 1];
    sl->flags = F_USED | F_DURABLE | (r->type == MPP_JREC_ADV ? F_COUNTER : 0);
    sl->vlen = (apr_uint16_t)r->vlen;
    memcpy(sl->val, r->value, r->vlen);
    sl->expires = r->expires;
    return 0;
}

int mpp_shm_store_load(mpp_store_t *st, apr_pool_t *p, mpp_jstat_t *jst, const char **err)
{
    shm_t *s = st->impl;
    load_t L = { s, st->now(), 0 };
    memset(jst, 0, sizeof(*jst));
    if (!s->journal) return 0;
    if (mpp_journal_read(p, mpp_journal_path(s->journal), load_rec, &L, jst, err)) return -1;
    if (L.full) {
        *err = "the journal holds more live entries than the store has room for: raise MPPStore size=";
        return -1;
    }
    return mpp_shm_store_compact(st, err);
}

static int compact_locked(shm_t *s, const char **err)
{
    apr_pool_t *tp;
    mpp_jwriter_t *w;
    apr_uint64_t n = 0;
    apr_time_t now = s->st->now();
    int rv = -1;

    if (!s->journal) return 0;
    if (apr_pool_create(&tp, s->p) != APR_SUCCESS) { *err = "out of memory"; return -1; }
    if ((w = mpp_journal_rewrite_begin(tp, s->journal, err))) {
        int failed = 0;
        for (apr_uint64_t b = 0; b < s->h->nbuckets && !failed; b++) {
            for (apr_uint32_t idx = s->buckets[b]; idx; idx = s->slots[idx - 1].next) {
                slot_t *sl = &s->slots[idx - 1];
                mpp_jrec_t r;
                if (!(sl->flags & F_DURABLE) || !live(sl, now)) continue;
                r.type = (sl->flags & F_COUNTER) ? MPP_JREC_ADV : MPP_JREC_ADD;
                memcpy(r.id, sl->id, 32);
                r.key = NULL;
                r.value = sl->val;
                r.vlen = sl->vlen;
                r.expires = sl->expires;
                if (mpp_journal_rewrite_add(w, &r)) { failed = 1; break; }
                n++;
            }
        }
        /* after a failed add, commit fails too: it closes and removes the new file */
        if (mpp_journal_rewrite_commit(w, s->h->journal_gen + 1, err) == 0) {
            s->h->journal_gen++;
            s->h->journal_records = n;
            s->h->appended = 0;
            /* the rewrite was synced whole: so is every record before it */
            __atomic_store_n(&s->h->synced, __atomic_load_n(&s->h->written, __ATOMIC_SEQ_CST), __ATOMIC_SEQ_CST);
            rv = 0;
        }
    }
    apr_pool_destroy(tp);
    return rv;
}

int mpp_shm_store_compact(mpp_store_t *st, const char **err)
{
    shm_t *s = st->impl;
    int rv;
    if (lock(s)) { *err = "cannot take the store lock"; return -1; }
    rv = compact_locked(s, err);
    unlock(s);
    return rv;
}

int mpp_shm_store_validate(mpp_store_t *st, const char **err)
{
    shm_t *s = st->impl;
    apr_uint64_t n = s->h->nslots, seen = 0, chained = 0;
    unsigned char *mark = calloc(n ? n : 1, 1);
    int rv = 0;

    if (!mark) { *err = "out of memory"; return -1; }
    for (apr_uint64_t b = 0; b < s->h->nbuckets && !rv; b++) {
        for (apr_uint32_t idx = s->buckets[b]; idx; idx = s->slots[idx - 1].next) {
            if (idx > n || mark[idx - 1]) { *err = "slot linked twice or out of range"; rv = -1; break; }
            if (!(s->slots[idx - 1].flags & F_USED)) { *err = "unused slot in a chain"; rv = -1; break; }
            if ((siphash32(s->h->sip, s->slots[idx - 1].id) & (s->h->nbuckets - 1)) != b) {
                *err = "slot in the wrong bucket"; rv = -1; break;
            }
            mark[idx - 1] = 1;
            seen++;
            chained++;
        }
    }
    for (apr_uint32_t idx = s->h->free_head; idx && !rv; idx = s->slots[idx - 1].next) {
        if (idx > n || mark[idx - 1]) { *err = "free slot linked twice or out of range"; rv = -1; break; }
        mark[idx - 1] = 1;
        seen++;
    }
    for (apr_uint64_t i = s->h->fresh; i < n && !rv; i++) {
        if (mark[i]) { *err = "a never-used slot is linked"; rv = -1; break; }
        seen++;
    }
    if (!rv && seen != n) { *err = "slots lost from both the chains and the free list"; rv = -1; }
    if (!rv && chained != s->h->used) { *err = "used count does not match the chains"; rv = -1; }
    free(mark);
    return rv;
}
