/* The shm store provider: a fixed-size hash table in one memory region
 * (anonymous shared memory in httpd), a global mutex, and a journal. */
#ifndef MPP_STORE_SHM_H
#define MPP_STORE_SHM_H

#include <apr_global_mutex.h>

#include "mpp_journal.h"
#include "mpp_store.h"

extern const mpp_store_provider_t mpp_store_shm_provider;

/* Bytes per entry (slot and its share of the index) and capacity of a region. */
apr_size_t mpp_shm_store_entry_bytes(void);
apr_uint64_t mpp_shm_store_capacity(apr_size_t bytes);

/* Lay out an empty table in mem (random hash key). 0 or -1 (region too small). */
int mpp_shm_store_format(void *mem, apr_size_t bytes);

/* A store over a formatted region. lock may be NULL when one thread uses it;
 * journal may be NULL for a memory-only store. */
mpp_store_t *mpp_shm_store_attach(apr_pool_t *p, void *mem, apr_size_t bytes,
                                  apr_global_mutex_t *lock, mpp_journal_t *journal);

/* Startup: replay a journal file into the (empty) table, skipping expired
 * entries, then rewrite the journal with the live durable entries only. */
int mpp_shm_store_load(mpp_store_t *st, apr_pool_t *p, mpp_jstat_t *jst, const char **err);

/* Rewrite the journal now (takes the lock). */
int mpp_shm_store_compact(mpp_store_t *st, const char **err);

/* Check the table's links: every slot is in exactly one bucket chain or the
 * free list. 0, or -1 with *err (for tests and the store tool). */
int mpp_shm_store_validate(mpp_store_t *st, const char **err);

/* apr_global_mutex_lock, retried when a file lock reports a deadlock that
 * only its per-process view sees. */
apr_status_t mpp_global_mutex_lock(apr_global_mutex_t *m);

#endif
