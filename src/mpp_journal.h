/* The durable journal of a store: append-only records, each fsync'd before
 * the caller goes on; replay at startup; compaction by rewrite and rename. */
#ifndef MPP_JOURNAL_H
#define MPP_JOURNAL_H

#include <apr_pools.h>
#include <apr_time.h>

#define MPP_JOURNAL_FILE "store.journal"

typedef enum { MPP_JREC_ADD = 1, MPP_JREC_DEL = 2, MPP_JREC_ADV = 3 } mpp_jrec_type_t;

typedef struct {
    mpp_jrec_type_t type;
    unsigned char id[32];
    const char *key;              /* may be NULL (compacted records keep only the id) */
    const unsigned char *value;
    apr_size_t vlen;
    apr_time_t expires;
} mpp_jrec_t;

typedef struct {
    apr_uint64_t records;         /* valid records read */
    apr_uint64_t bytes;           /* bytes up to the end of the last valid record */
    int torn;                     /* trailing bytes that are not a whole valid record */
} mpp_jstat_t;

typedef struct mpp_journal_t mpp_journal_t;

/* Open dir/store.journal for appending (created with a header if missing).
 * A torn tail is not touched here: the startup load reports it and its
 * rewrite drops it. *err on failure. */
mpp_journal_t *mpp_journal_open(apr_pool_t *p, const char *dir, const char **err);

/* Append one record and fdatasync. 0, or -1 (nothing may be assumed written). */
int mpp_journal_append(mpp_journal_t *j, const mpp_jrec_t *r);
/* The two halves, so that callers can write under their lock and sync after
 * it (one fdatasync then covers every record written before it started, by
 * any process): write (a failed write leaves nothing behind), and sync. */
int mpp_journal_write(mpp_journal_t *j, const mpp_jrec_t *r);
int mpp_journal_sync(mpp_journal_t *j);

/* Reopen when another process compacted the file (generation changed). */
int mpp_journal_sync_gen(mpp_journal_t *j, apr_uint32_t gen);
apr_uint64_t mpp_journal_size(mpp_journal_t *j);

/* Read every valid record of a journal file in order; stops cleanly at a torn
 * or corrupt tail. cb returns non-zero to stop. -1 when the file cannot be
 * read or is not a journal. A missing file is an empty journal. */
int mpp_journal_read(apr_pool_t *p, const char *path, int (*cb)(void *baton, const mpp_jrec_t *r),
                     void *baton, mpp_jstat_t *st, const char **err);

/* Compaction: begin writes a new file beside the journal, add appends to it,
 * commit fsyncs it and renames it over the journal (then fsyncs the dir). */
typedef struct mpp_jwriter_t mpp_jwriter_t;
mpp_jwriter_t *mpp_journal_rewrite_begin(apr_pool_t *p, mpp_journal_t *j, const char **err);
int mpp_journal_rewrite_add(mpp_jwriter_t *w, const mpp_jrec_t *r);
int mpp_journal_rewrite_commit(mpp_jwriter_t *w, apr_uint32_t new_gen, const char **err);

const char *mpp_journal_path(mpp_journal_t *j);
/* Give the open journal to the server user (fchown: no path, no symlink). */
int mpp_journal_chown(mpp_journal_t *j, long uid, long gid);

#endif
