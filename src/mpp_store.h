/* The store: shared state that spends things exactly once. A payment, a
 * challenge id, a nonce is added atomically (insert-if-absent); a channel's
 * cumulative amount only advances. Live entries are never evicted, and every
 * failure is reported so callers can fail closed. */
#ifndef MPP_STORE_H
#define MPP_STORE_H

#include <apr_pools.h>
#include <apr_time.h>

typedef enum {
    MPP_STORE_OK = 0,
    MPP_STORE_EXISTS,        /* add: the key is present and live */
    MPP_STORE_NOT_FOUND,     /* get, remove, persist: no live entry */
    MPP_STORE_NOT_GREATER,   /* advance: the counter is not greater than the stored one */
    MPP_STORE_FULL,          /* no room: live entries are never evicted */
    MPP_STORE_ERROR          /* lock, memory or journal failure */
} mpp_store_rc_t;

#define MPP_STORE_VALUE_MAX 64   /* bytes of value per entry */
#define MPP_STORE_RECORD_MAX 32  /* bytes of record beside a 256-bit counter */
#define MPP_STORE_KEY_MAX 255

typedef struct {
    apr_uint64_t capacity;        /* entries */
    apr_uint64_t used;            /* entries holding a key (live or not yet reclaimed) */
    apr_uint64_t refused;         /* adds refused because the store was full */
    apr_uint64_t journal_bytes;
    apr_uint64_t journal_records;
    apr_size_t entry_bytes;       /* memory per entry, index included */
} mpp_store_status_t;

typedef struct {
    unsigned char id[32];         /* SHA-256 of the key */
    const char *key;              /* the key text when known (journal), else NULL */
    const unsigned char *value;
    apr_size_t vlen;
    apr_time_t expires;
    int durable;
    int counter;                  /* value starts with a 256-bit counter (advance) */
} mpp_store_entry_t;

/* Iterator callback: return non-zero to stop. */
typedef int mpp_store_each_fn(void *baton, const mpp_store_entry_t *e);

typedef struct mpp_store_t mpp_store_t;

typedef struct mpp_store_provider_t {
    const char *name;
    mpp_store_rc_t (*add)(mpp_store_t *st, const unsigned char id[32], const char *key,
                          const void *val, apr_size_t vlen, apr_time_t expires, int durable);
    mpp_store_rc_t (*persist)(mpp_store_t *st, const unsigned char id[32], const char *key);
    mpp_store_rc_t (*get)(mpp_store_t *st, const unsigned char id[32], void *val,
                          apr_size_t *vlen, apr_time_t *expires);
    mpp_store_rc_t (*advance)(mpp_store_t *st, const unsigned char id[32], const char *key,
                              const unsigned char counter[32], const void *rec, apr_size_t rlen,
                              apr_time_t expires);
    mpp_store_rc_t (*remove)(mpp_store_t *st, const unsigned char id[32], const char *key);
    mpp_store_rc_t (*incr)(mpp_store_t *st, const unsigned char id[32], apr_time_t expires,
                           apr_uint64_t *value);
    mpp_store_rc_t (*status)(mpp_store_t *st, mpp_store_status_t *out);
    mpp_store_rc_t (*iterate)(mpp_store_t *st, mpp_store_each_fn *fn, void *baton);
} mpp_store_provider_t;

struct mpp_store_t {
    const mpp_store_provider_t *provider;
    void *impl;
    apr_time_t (*now)(void);      /* the clock (tests may replace it) */
};

/* Provider registry: "shm" is built in; others register by name. */
void mpp_store_register(const mpp_store_provider_t *p);
const mpp_store_provider_t *mpp_store_provider(const char *name);

/* The operations, by key text (hashed to a 32-byte id). expires is absolute.
 * add(durable=0) is a claim that lives in memory only; persist journals it. */
mpp_store_rc_t mpp_store_add(mpp_store_t *st, const char *key, const void *val, apr_size_t vlen,
                             apr_time_t expires, int durable);
mpp_store_rc_t mpp_store_persist(mpp_store_t *st, const char *key);
mpp_store_rc_t mpp_store_get(mpp_store_t *st, const char *key, void *val, apr_size_t *vlen,
                             apr_time_t *expires);
/* Store counter (big-endian uint256) and rec only if counter is greater than
 * the stored counter, or nothing is stored; always durable. */
mpp_store_rc_t mpp_store_advance(mpp_store_t *st, const char *key, const unsigned char counter[32],
                                 const void *rec, apr_size_t rlen, apr_time_t expires);
mpp_store_rc_t mpp_store_remove(mpp_store_t *st, const char *key);
/* A counter in memory only (rate limits): +1, created at 1 with expires. */
mpp_store_rc_t mpp_store_incr(mpp_store_t *st, const char *key, apr_time_t expires, apr_uint64_t *value);
mpp_store_rc_t mpp_store_status(mpp_store_t *st, mpp_store_status_t *out);
mpp_store_rc_t mpp_store_iterate(mpp_store_t *st, mpp_store_each_fn *fn, void *baton);

void mpp_store_key_id(const char *key, unsigned char id[32]);
const char *mpp_store_rc_name(mpp_store_rc_t rc);

#endif
