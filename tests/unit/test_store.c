/* Unit tests of the store (shm table) and its journal: insert-if-absent,
 * collisions, expiry and reclamation, counters, capacity, replay, torn and
 * corrupt journals, write failures and compaction. */
#include <apr_hash.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mpp_journal.h"
#include "mpp_store.h"
#include "mpp_store_shm.h"

#include "tests.h"

/* ------------------------------------------------------------------ */
/* fixture and helpers                                                 */

static apr_pool_t *tp;

/* The store clock in these tests: a fixed, arbitrary instant that tests move. */
#define T0 ((apr_time_t)1000000000000000LL)
#define SEC ((apr_time_t)APR_USEC_PER_SEC)
static apr_time_t fake_now;
static apr_time_t fake_clock(void) { return fake_now; }

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&tp, NULL), APR_SUCCESS);
    fake_now = T0;
}

static void teardown(void)
{
    apr_pool_destroy(tp);
    tp = NULL;
}

static TCase *tcase(const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    return tc;
}

static apr_status_t free_region(void *mem)
{
    free(mem);
    return APR_SUCCESS;
}

/* A zero-filled region of exactly bytes, so that the sanitizer build catches
 * any access past it. */
static void *region(apr_size_t bytes)
{
    void *mem = calloc(1, bytes);
    ck_assert_ptr_nonnull(mem);
    apr_pool_cleanup_register(tp, mem, free_region, apr_pool_cleanup_null);
    return mem;
}

/* The smallest region that holds at least n entries. */
static apr_size_t bytes_for(apr_uint64_t n)
{
    apr_size_t b = 64;
    while (mpp_shm_store_capacity(b) < n)
        b += 8;
    return b;
}

static mpp_store_t *attach_fake(void *mem, apr_size_t bytes, mpp_journal_t *j)
{
    mpp_store_t *st = mpp_shm_store_attach(tp, mem, bytes, NULL, j);
    ck_assert_ptr_nonnull(st);
    st->now = fake_clock;
    return st;
}

/* A fresh table of bytes on the fake clock, memory-only or over journal j. */
static mpp_store_t *store_new(apr_size_t bytes, mpp_journal_t *j)
{
    void *mem = region(bytes);
    ck_assert_int_eq(mpp_shm_store_format(mem, bytes), 0);
    return attach_fake(mem, bytes, j);
}

static void assert_valid(mpp_store_t *st)
{
    const char *err = NULL;
    int rv = mpp_shm_store_validate(st, &err);
    ck_assert_msg(rv == 0, "validate: %s", err ? err : "?");
}

static mpp_store_status_t status_of(mpp_store_t *st)
{
    mpp_store_status_t s;
    memset(&s, 0xa5, sizeof(s));
    ck_assert_int_eq(mpp_store_status(st, &s), MPP_STORE_OK);
    return s;
}

static const char *key(const char *prefix, int i)
{
    return apr_psprintf(tp, "%s-%d", prefix, i);
}

/* The value stored under a key (vlen must match). */
static void assert_value(mpp_store_t *st, const char *k, const void *val, apr_size_t vlen,
                         apr_time_t expires)
{
    unsigned char got[MPP_STORE_VALUE_MAX + 8];
    apr_size_t glen = 9999;
    apr_time_t gexp = -1;
    mpp_store_rc_t rc = mpp_store_get(st, k, got, &glen, &gexp);
    ck_assert_msg(rc == MPP_STORE_OK, "get %s: %s", k, mpp_store_rc_name(rc));
    ck_assert_uint_eq(glen, vlen);
    ck_assert_msg(vlen == 0 || !memcmp(got, val, vlen), "value of %s differs", k);
    ck_assert_int_eq(gexp, expires);
}

static void assert_absent(mpp_store_t *st, const char *k)
{
    mpp_store_rc_t rc = mpp_store_get(st, k, NULL, NULL, NULL);
    ck_assert_msg(rc == MPP_STORE_NOT_FOUND, "get %s: %s, expected not found", k, mpp_store_rc_name(rc));
}

/* A 256-bit counter: every byte b, then byte i set to v. */
static void counter(unsigned char c[32], unsigned char b, int i, unsigned char v)
{
    memset(c, b, 32);
    if (i >= 0)
        c[i] = v;
}

/* The counter and record stored by advance. */
static void assert_counter(mpp_store_t *st, const char *k, const unsigned char c[32],
                           const void *rec, apr_size_t rlen)
{
    unsigned char want[64];
    memcpy(want, c, 32);
    if (rlen)
        memcpy(want + 32, rec, rlen);
    assert_value(st, k, want, 32 + rlen, 0);
}

/* ---- snapshots of a table, by id ---- */

typedef struct {
    unsigned char value[MPP_STORE_VALUE_MAX];
    apr_size_t vlen;
    apr_time_t expires;
    int durable, counter;
} snap_t;

static int snap_one(void *baton, const mpp_store_entry_t *e)
{
    apr_hash_t *h = baton;
    snap_t *s = apr_pcalloc(tp, sizeof(*s));
    ck_assert_uint_le(e->vlen, MPP_STORE_VALUE_MAX);
    memcpy(s->value, e->value, e->vlen);
    s->vlen = e->vlen;
    s->expires = e->expires;
    s->durable = e->durable;
    s->counter = e->counter;
    ck_assert_ptr_null(apr_hash_get(h, e->id, 32));   /* each id once */
    apr_hash_set(h, apr_pmemdup(tp, e->id, 32), 32, s);
    return 0;
}

/* The live entries of st (durable ones only when durable_only). */
static apr_hash_t *snapshot(mpp_store_t *st, int durable_only)
{
    apr_hash_t *h = apr_hash_make(tp);
    ck_assert_int_eq(mpp_store_iterate(st, snap_one, h), MPP_STORE_OK);
    if (durable_only) {
        for (apr_hash_index_t *hi = apr_hash_first(tp, h); hi; hi = apr_hash_next(hi)) {
            const void *id;
            void *v;
            apr_hash_this(hi, &id, NULL, &v);
            if (!((snap_t *)v)->durable)
                apr_hash_set(h, id, 32, NULL);
        }
    }
    return h;
}

static void assert_same_entries(apr_hash_t *a, apr_hash_t *b)
{
    ck_assert_uint_eq(apr_hash_count(a), apr_hash_count(b));
    for (apr_hash_index_t *hi = apr_hash_first(tp, a); hi; hi = apr_hash_next(hi)) {
        const void *id;
        void *v;
        const snap_t *x, *y;
        apr_hash_this(hi, &id, NULL, &v);
        x = v;
        y = apr_hash_get(b, id, 32);
        ck_assert_ptr_nonnull(y);
        ck_assert_uint_eq(x->vlen, y->vlen);
        ck_assert(!memcmp(x->value, y->value, x->vlen));
        ck_assert_int_eq(x->expires, y->expires);
        ck_assert_int_eq(x->counter, y->counter);
    }
}

/* ---- temporary journal directories ---- */

/* Each test's directory lives in one base directory per test case, made and
 * removed by the runner itself: a failed assertion ends a forked test past
 * its own cleanups. */
static char jbase[1024];

static void remove_dir_files(const char *dir)
{
    char path[2048];
    snprintf(path, sizeof(path), "%s/%s", dir, MPP_JOURNAL_FILE);
    unlink(path);
    snprintf(path, sizeof(path), "%s/%s.new", dir, MPP_JOURNAL_FILE);
    unlink(path);
    rmdir(dir);
}

static void jbase_setup(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(jbase, sizeof(jbase), "%s/mpp-store-test.XXXXXX", base && *base ? base : "/tmp");
    ck_assert_msg(mkdtemp(jbase) != NULL, "mkdtemp: %s", strerror(errno));
}

static void jbase_teardown(void)
{
    DIR *d = opendir(jbase);
    struct dirent *e;
    char path[2048];
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", jbase, e->d_name);
        remove_dir_files(path);
    }
    if (d)
        closedir(d);
    rmdir(jbase);
}

static apr_status_t remove_dir(void *data)
{
    remove_dir_files(data);
    return APR_SUCCESS;
}

static const char *tmpdir_new(void)
{
    char *dir = apr_pstrcat(tp, jbase, "/t.XXXXXX", NULL);
    ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp in %s: %s", jbase, strerror(errno));
    apr_pool_cleanup_register(tp, dir, remove_dir, apr_pool_cleanup_null);
    return dir;
}

static const char *jpath(const char *dir)
{
    return apr_pstrcat(tp, dir, "/", MPP_JOURNAL_FILE, NULL);
}

static mpp_journal_t *jopen(const char *dir)
{
    const char *err = NULL;
    mpp_journal_t *j = mpp_journal_open(tp, dir, &err);
    ck_assert_msg(j != NULL, "journal open: %s", err ? err : "?");
    return j;
}

static apr_off_t file_size(const char *path)
{
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    return (apr_off_t)sb.st_size;
}

static int count_rec(void *baton, const mpp_jrec_t *r)
{
    (void)r;
    (*(int *)baton)++;
    return 0;
}

/* Read a journal file; the callback's count must match the stat's. */
static mpp_jstat_t jread(const char *path)
{
    mpp_jstat_t js;
    const char *err = NULL;
    int n = 0;
    int rv = mpp_journal_read(tp, path, count_rec, &n, &js, &err);
    ck_assert_msg(rv == 0, "journal read: %s", err ? err : "?");
    ck_assert_uint_eq(js.records, (apr_uint64_t)n);
    return js;
}

/* A fresh table over a fresh open of dir's journal, loaded from it. */
static mpp_store_t *load_new(const char *dir, apr_size_t bytes, mpp_jstat_t *js)
{
    const char *err = NULL;
    mpp_store_t *st = store_new(bytes, jopen(dir));
    int rv = mpp_shm_store_load(st, tp, js, &err);
    ck_assert_msg(rv == 0, "load: %s", err ? err : "?");
    assert_valid(st);
    return st;
}

static void write_file(const char *path, const void *data, apr_size_t n, int flags)
{
    int fd = open(path, O_WRONLY | O_CREAT | flags, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, n), (ssize_t)n);
    ck_assert_int_eq(close(fd), 0);
}

/* ------------------------------------------------------------------ */
/* add                                                                 */

START_TEST(store_add_then_exists)
{
    mpp_store_t *st = store_new(bytes_for(64), NULL);
    ck_assert_int_eq(mpp_store_add(st, "pay:1", "first", 5, 0, 0), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_add(st, "pay:1", "second", 6, 0, 0), MPP_STORE_EXISTS);
    ck_assert_int_eq(mpp_store_add(st, "pay:1", "third", 5, T0 + SEC, 1), MPP_STORE_EXISTS);
    /* a refused add leaves the winner's value */
    assert_value(st, "pay:1", "first", 5, 0);
    ck_assert_uint_eq(status_of(st).used, 1);
}
END_TEST

START_TEST(store_distinct_keys_independent)
{
    mpp_store_t *st = store_new(bytes_for(64), NULL);
    const char *keys[] = { "pay:1", "pay:10", "Pay:1", "pay:1 ", "pay:2" };
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(mpp_store_add(st, keys[i], keys[i], strlen(keys[i]), 0, 0), MPP_STORE_OK);
    for (int i = 0; i < 5; i++)
        assert_value(st, keys[i], keys[i], strlen(keys[i]), 0);
    ck_assert_int_eq(mpp_store_remove(st, "pay:1"), MPP_STORE_OK);
    assert_absent(st, "pay:1");
    for (int i = 1; i < 5; i++)
        assert_value(st, keys[i], keys[i], strlen(keys[i]), 0);
    ck_assert_uint_eq(status_of(st).used, 4);
}
END_TEST

START_TEST(store_value_round_trip)
{
    mpp_store_t *st = store_new(bytes_for(128), NULL);
    unsigned char v[MPP_STORE_VALUE_MAX];
    apr_size_t vlen = 1;
    apr_time_t when = 1;
    for (int i = 0; i < MPP_STORE_VALUE_MAX; i++)
        v[i] = (unsigned char)(i * 37 + 1);
    v[3] = 0;   /* binary, not text */
    for (apr_size_t n = 0; n <= MPP_STORE_VALUE_MAX; n++)
        ck_assert_int_eq(mpp_store_add(st, key("v", (int)n), n ? v : NULL, n, T0 + (apr_time_t)(n + 1) * SEC, 0),
                         MPP_STORE_OK);
    for (apr_size_t n = 0; n <= MPP_STORE_VALUE_MAX; n++)
        assert_value(st, key("v", (int)n), v, n, T0 + (apr_time_t)(n + 1) * SEC);
    /* every out parameter is optional */
    ck_assert_int_eq(mpp_store_get(st, key("v", 9), NULL, NULL, NULL), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_get(st, key("v", 9), NULL, &vlen, &when), MPP_STORE_OK);
    ck_assert_uint_eq(vlen, 9);
    ck_assert_int_eq(when, T0 + 10 * SEC);
    assert_absent(st, "never-added");
}
END_TEST

START_TEST(store_value_max)
{
    mpp_store_t *st = store_new(bytes_for(64), NULL);
    unsigned char v[MPP_STORE_VALUE_MAX + 1], id[32];
    memset(v, 'x', sizeof(v));
    ck_assert_int_eq(mpp_store_add(st, "max", v, MPP_STORE_VALUE_MAX, 0, 0), MPP_STORE_OK);
    assert_value(st, "max", v, MPP_STORE_VALUE_MAX, 0);
    ck_assert_int_eq(mpp_store_add(st, "over", v, MPP_STORE_VALUE_MAX + 1, 0, 0), MPP_STORE_ERROR);
    /* the provider checks too, not only the key-text wrapper */
    mpp_store_key_id("over", id);
    ck_assert_int_eq(st->provider->add(st, id, "over", v, MPP_STORE_VALUE_MAX + 1, 0, 0), MPP_STORE_ERROR);
    ck_assert_int_eq(st->provider->add(st, id, "over", v, 1000, 0, 0), MPP_STORE_ERROR);
    assert_absent(st, "over");
    ck_assert_uint_eq(status_of(st).used, 1);
    assert_valid(st);
}
END_TEST

START_TEST(store_key_max)
{
    mpp_store_t *st = store_new(bytes_for(64), NULL);
    char k[MPP_STORE_KEY_MAX + 2];
    unsigned char c[32];
    memset(k, 'k', sizeof(k));
    k[MPP_STORE_KEY_MAX] = 0;
    ck_assert_int_eq(mpp_store_add(st, k, "v", 1, 0, 0), MPP_STORE_OK);
    assert_value(st, k, "v", 1, 0);
    k[MPP_STORE_KEY_MAX] = 'k';
    k[MPP_STORE_KEY_MAX + 1] = 0;
    counter(c, 1, -1, 0);
    ck_assert_int_eq(mpp_store_add(st, k, "v", 1, 0, 0), MPP_STORE_ERROR);
    ck_assert_int_eq(mpp_store_get(st, k, NULL, NULL, NULL), MPP_STORE_ERROR);
    ck_assert_int_eq(mpp_store_persist(st, k), MPP_STORE_ERROR);
    ck_assert_int_eq(mpp_store_remove(st, k), MPP_STORE_ERROR);
    ck_assert_int_eq(mpp_store_advance(st, k, c, NULL, 0, 0), MPP_STORE_ERROR);
    /* no key at all */
    ck_assert_int_eq(mpp_store_add(st, "", "v", 1, 0, 0), MPP_STORE_ERROR);
    ck_assert_int_eq(mpp_store_add(st, NULL, "v", 1, 0, 0), MPP_STORE_ERROR);
    ck_assert_int_eq(mpp_store_get(st, "", NULL, NULL, NULL), MPP_STORE_ERROR);
    ck_assert_uint_eq(status_of(st).used, 1);
}
END_TEST

/* ------------------------------------------------------------------ */
/* collisions: more keys than buckets                                  */

START_TEST(store_collisions_small_table)
{
    /* 100..127 slots share 64 buckets: by pigeonhole, chains hold several */
    apr_size_t bytes = bytes_for(100);
    apr_uint64_t cap = mpp_shm_store_capacity(bytes);
    mpp_store_t *st = store_new(bytes, NULL);
    int n = (int)cap, removed = 0;

    ck_assert_uint_ge(cap, 100);
    ck_assert_uint_lt(cap, 128);
    assert_valid(st);
    for (int i = 0; i < n; i++) {
        const char *k = key("c", i);
        ck_assert_int_eq(mpp_store_add(st, k, k, strlen(k), 0, 0), MPP_STORE_OK);
    }
    assert_valid(st);
    ck_assert_int_eq(mpp_store_add(st, "one-too-many", "x", 1, 0, 0), MPP_STORE_FULL);
    assert_valid(st);
    for (int i = 0; i < n; i++)
        assert_value(st, key("c", i), key("c", i), strlen(key("c", i)), 0);

    /* new entries go to the head of a chain: removing older keys in insertion
     * order takes them from the middle and the tail of chains */
    for (int i = 0; i < n; i += 3, removed++)
        ck_assert_int_eq(mpp_store_remove(st, key("c", i)), MPP_STORE_OK);
    assert_valid(st);
    ck_assert_uint_eq(status_of(st).used, (apr_uint64_t)(n - removed));
    for (int i = 0; i < n; i++) {
        if (i % 3 == 0) assert_absent(st, key("c", i));
        else assert_value(st, key("c", i), key("c", i), strlen(key("c", i)), 0);
    }
    /* and from the other end, newest first */
    for (int i = n - 1; i >= 0; i--)
        if (i % 3 == 1) ck_assert_int_eq(mpp_store_remove(st, key("c", i)), MPP_STORE_OK);
    assert_valid(st);
    for (int i = 0; i < n; i++) {
        if (i % 3 != 2) assert_absent(st, key("c", i));
        else assert_value(st, key("c", i), key("c", i), strlen(key("c", i)), 0);
    }

    /* freed slots are reused: refill to the brim */
    for (int i = 0; i < n; i++)
        if (i % 3 != 2) ck_assert_int_eq(mpp_store_add(st, key("r", i), "r", 1, 0, 0), MPP_STORE_OK);
    assert_valid(st);
    ck_assert_uint_eq(status_of(st).used, cap);
    ck_assert_int_eq(mpp_store_add(st, "one-too-many", "x", 1, 0, 0), MPP_STORE_FULL);

    /* expired entries in the middle of chains are reclaimed by lookups */
    for (int i = 0; i < n; i++)
        if (i % 3 != 2) ck_assert_int_eq(mpp_store_remove(st, key("r", i)), MPP_STORE_OK);
    for (int i = 0; i < n; i++)
        if (i % 3 != 2)
            ck_assert_int_eq(mpp_store_add(st, key("e", i), "e", 1, T0 + (i % 2 ? 5 : 50) * SEC, 0),
                             MPP_STORE_OK);
    fake_now = T0 + 10 * SEC;
    for (int i = 0; i < n; i++) {
        if (i % 3 == 2) assert_value(st, key("c", i), key("c", i), strlen(key("c", i)), 0);
        else if (i % 2) assert_absent(st, key("e", i));
        else assert_value(st, key("e", i), "e", 1, T0 + 50 * SEC);
        assert_valid(st);
    }
    /* everything else goes, key by key */
    for (int i = 0; i < n; i++) {
        if (i % 3 == 2) ck_assert_int_eq(mpp_store_remove(st, key("c", i)), MPP_STORE_OK);
        else if (!(i % 2)) ck_assert_int_eq(mpp_store_remove(st, key("e", i)), MPP_STORE_OK);
    }
    assert_valid(st);
    fake_now = T0 + 100 * SEC;
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(mpp_store_add(st, key("z", i), "z", 1, 0, 0), MPP_STORE_OK);
    assert_valid(st);
    ck_assert_uint_eq(status_of(st).used, cap);
}
END_TEST

/* ------------------------------------------------------------------ */
/* TTL                                                                 */

START_TEST(store_ttl_live_until_expires)
{
    mpp_store_t *st = store_new(bytes_for(64), NULL);
    apr_time_t until = T0 + 10 * SEC;
    ck_assert_int_eq(mpp_store_add(st, "t", "old", 3, until, 0), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_add(st, "forever", "f", 1, 0, 0), MPP_STORE_OK);
    fake_now = until - 1;
    assert_value(st, "t", "old", 3, until);
    ck_assert_int_eq(mpp_store_add(st, "t", "new", 3, 0, 0), MPP_STORE_EXISTS);
    /* at the expiry instant the entry is gone */
    fake_now = until;
    assert_absent(st, "t");
    ck_assert_int_eq(mpp_store_persist(st, "t"), MPP_STORE_NOT_FOUND);
    ck_assert_int_eq(mpp_store_remove(st, "t"), MPP_STORE_NOT_FOUND);
    ck_assert_int_eq(mpp_store_add(st, "t", "new", 3, until + 10 * SEC, 0), MPP_STORE_OK);
    assert_value(st, "t", "new", 3, until + 10 * SEC);
    /* expires 0 is never */
    fake_now = T0 + 100LL * 365 * 86400 * SEC;
    assert_value(st, "forever", "f", 1, 0);
    assert_absent(st, "t");
    assert_valid(st);
}
END_TEST

START_TEST(store_ttl_full_table_reclaims_expired)
{
    apr_size_t bytes = bytes_for(64);
    mpp_store_t *st = store_new(bytes, NULL);
    apr_uint64_t cap = mpp_shm_store_capacity(bytes);
    mpp_store_status_t s;

    for (apr_uint64_t i = 0; i < cap; i++)
        ck_assert_int_eq(mpp_store_add(st, key("x", (int)i), "x", 1, T0 + 10 * SEC, 0), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_add(st, "late", "l", 1, 0, 0), MPP_STORE_FULL);
    s = status_of(st);
    ck_assert_uint_eq(s.used, cap);
    ck_assert_uint_eq(s.refused, 1);
    /* still full while they live */
    fake_now = T0 + 9 * SEC;
    ck_assert_int_eq(mpp_store_add(st, "late", "l", 1, 0, 0), MPP_STORE_FULL);
    ck_assert_uint_eq(status_of(st).refused, 2);
    /* expired (and more than a second since the last sweep): every expired
     * entry is reclaimed, not only those in the chains new keys walk */
    fake_now = T0 + 11 * SEC;
    ck_assert_int_eq(mpp_store_add(st, "late", "l", 1, 0, 0), MPP_STORE_OK);
    for (apr_uint64_t i = 1; i < cap; i++)
        ck_assert_int_eq(mpp_store_add(st, key("y", (int)i), "y", 1, 0, 0), MPP_STORE_OK);
    s = status_of(st);
    ck_assert_uint_eq(s.used, cap);
    ck_assert_uint_eq(s.refused, 2);
    assert_valid(st);
    for (apr_uint64_t i = 0; i < cap; i++)
        assert_absent(st, key("x", (int)i));
    ck_assert_int_eq(mpp_store_add(st, "later", "l", 1, 0, 0), MPP_STORE_FULL);
    assert_valid(st);
}
END_TEST

START_TEST(store_live_entries_never_evicted)
{
    apr_size_t bytes = bytes_for(64);
    mpp_store_t *st = store_new(bytes, NULL);
    int cap = (int)mpp_shm_store_capacity(bytes), half = cap / 2;

    /* half never expire, half expire at T0 + 10 s; the long-lived ones last */
    for (int i = 0; i < cap; i++)
        ck_assert_int_eq(mpp_store_add(st, key("k", i), key("k", i), strlen(key("k", i)),
                                       i < half ? T0 + 10 * SEC : (i % 2 ? 0 : T0 + 86400 * SEC), 0),
                         MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_add(st, "new", "n", 1, 0, 0), MPP_STORE_FULL);
    for (int i = 0; i < cap; i++)
        ck_assert_int_eq(mpp_store_get(st, key("k", i), NULL, NULL, NULL), MPP_STORE_OK);

    /* once the short half expired, exactly that many new keys fit */
    fake_now = T0 + 20 * SEC;
    for (int i = 0; i < half; i++)
        ck_assert_int_eq(mpp_store_add(st, key("n", i), "n", 1, 0, 0), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_add(st, "new", "n", 1, 0, 0), MPP_STORE_FULL);
    /* a sweep much later still finds nothing to take */
    fake_now = T0 + 3600 * SEC;
    ck_assert_int_eq(mpp_store_add(st, "new", "n", 1, 0, 0), MPP_STORE_FULL);
    ck_assert_uint_eq(status_of(st).refused, 3);
    for (int i = half; i < cap; i++)
        assert_value(st, key("k", i), key("k", i), strlen(key("k", i)),
                     i % 2 ? 0 : T0 + 86400 * SEC);
    for (int i = 0; i < half; i++)
        assert_value(st, key("n", i), "n", 1, 0);
    assert_valid(st);
}
END_TEST

/* ------------------------------------------------------------------ */
/* advance                                                             */

START_TEST(store_advance_only_forward)
{
    mpp_store_t *st = store_new(bytes_for(64), NULL);
    unsigned char c1[32], c2[32], c0[32];
    counter(c1, 0, 31, 5);
    counter(c2, 0, 31, 6);
    counter(c0, 0, 31, 4);
    /* the first advance stores */
    ck_assert_int_eq(mpp_store_advance(st, "ch", c1, "r1", 2, 0), MPP_STORE_OK);
    assert_counter(st, "ch", c1, "r1", 2);
    /* equal or smaller: refused, the stored record unchanged */
    ck_assert_int_eq(mpp_store_advance(st, "ch", c1, "xx", 2, 0), MPP_STORE_NOT_GREATER);
    ck_assert_int_eq(mpp_store_advance(st, "ch", c0, "yy", 2, 0), MPP_STORE_NOT_GREATER);
    assert_counter(st, "ch", c1, "r1", 2);
    /* larger: stored with its record */
    ck_assert_int_eq(mpp_store_advance(st, "ch", c2, "r2!", 3, 0), MPP_STORE_OK);
    assert_counter(st, "ch", c2, "r2!", 3);
    ck_assert_int_eq(mpp_store_advance(st, "ch", c1, "zz", 2, 0), MPP_STORE_NOT_GREATER);
    ck_assert_int_eq(mpp_store_advance(st, "ch", c2, NULL, 0, 0), MPP_STORE_NOT_GREATER);
    assert_counter(st, "ch", c2, "r2!", 3);
    /* other keys are separate channels */
    ck_assert_int_eq(mpp_store_advance(st, "ch2", c0, NULL, 0, 0), MPP_STORE_OK);
    assert_counter(st, "ch2", c0, NULL, 0);
    ck_assert_uint_eq(status_of(st).used, 2);
    assert_valid(st);
}
END_TEST

START_TEST(store_advance_big_endian)
{
    mpp_store_t *st = store_new(bytes_for(64), NULL);
    unsigned char hi[32], lo[32], low_byte[32], zero[32], max[32];
    counter(hi, 0, 0, 1);         /* 0x01 00 .. 00 */
    counter(lo, 0xff, 0, 0);      /* 0x00 ff .. ff */
    counter(low_byte, 0, 31, 2);  /* 0x00 .. 00 02: larger than hi read little-endian */
    counter(zero, 0, -1, 0);
    counter(max, 0xff, -1, 0);

    ck_assert_int_eq(mpp_store_advance(st, "a", lo, NULL, 0, 0), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_advance(st, "a", hi, NULL, 0, 0), MPP_STORE_OK);
    assert_counter(st, "a", hi, NULL, 0);

    ck_assert_int_eq(mpp_store_advance(st, "b", hi, NULL, 0, 0), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_advance(st, "b", lo, NULL, 0, 0), MPP_STORE_NOT_GREATER);
    ck_assert_int_eq(mpp_store_advance(st, "b", low_byte, NULL, 0, 0), MPP_STORE_NOT_GREATER);
    assert_counter(st, "b", hi, NULL, 0);
    ck_assert_int_eq(mpp_store_advance(st, "b", max, NULL, 0, 0), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_advance(st, "b", max, NULL, 0, 0), MPP_STORE_NOT_GREATER);
    assert_counter(st, "b", max, NULL, 0);

    /* zero is a counter like any other: stored first, then only exceeded */
    ck_assert_int_eq(mpp_store_advance(st, "c", zero, NULL, 0, 0), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_advance(st, "c", zero, NULL, 0, 0), MPP_STORE_NOT_GREATER);
    ck_assert_int_eq(mpp_store_advance(st, "c", low_byte, NULL, 0, 0), MPP_STORE_OK);
    assert_counter(st, "c", low_byte, NULL, 0);
}
END_TEST

START_TEST(store_advance_record_beside_counter)
{
    mpp_store_t *st = store_new(bytes_for(64), NULL);
    unsigned char c[32], rec[MPP_STORE_RECORD_MAX + 1], id[32];
    for (int i = 0; i < (int)sizeof(rec); i++)
        rec[i] = (unsigned char)(0xc0 + i);
    counter(c, 0, 31, 1);
    ck_assert_int_eq(mpp_store_advance(st, "r", c, rec, MPP_STORE_RECORD_MAX, T0 + SEC), MPP_STORE_OK);
    {
        unsigned char want[64];
        memcpy(want, c, 32);
        memcpy(want + 32, rec, MPP_STORE_RECORD_MAX);
        assert_value(st, "r", want, 32 + MPP_STORE_RECORD_MAX, T0 + SEC);
    }
    /* a shorter record replaces the longer one entirely */
    counter(c, 0, 31, 2);
    ck_assert_int_eq(mpp_store_advance(st, "r", c, "ab", 2, 0), MPP_STORE_OK);
    assert_counter(st, "r", c, "ab", 2);
    /* too long: refused by the wrapper and by the provider, nothing changes */
    counter(c, 0, 31, 3);
    ck_assert_int_eq(mpp_store_advance(st, "r", c, rec, MPP_STORE_RECORD_MAX + 1, 0), MPP_STORE_ERROR);
    mpp_store_key_id("r", id);
    ck_assert_int_eq(st->provider->advance(st, id, "r", c, rec, MPP_STORE_RECORD_MAX + 1, 0), MPP_STORE_ERROR);
    ck_assert_int_eq(mpp_store_advance(st, "new", c, rec, MPP_STORE_RECORD_MAX + 1, 0), MPP_STORE_ERROR);
    assert_absent(st, "new");
    counter(c, 0, 31, 2);
    assert_counter(st, "r", c, "ab", 2);
    ck_assert_uint_eq(status_of(st).used, 1);
}
END_TEST

START_TEST(store_advance_after_expiry_starts_over)
{
    mpp_store_t *st = store_new(bytes_for(64), NULL);
    unsigned char big[32], small[32];
    counter(big, 0, 0, 9);
    counter(small, 0, 31, 1);
    ck_assert_int_eq(mpp_store_advance(st, "e", big, NULL, 0, T0 + 5 * SEC), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_advance(st, "e", small, NULL, 0, 0), MPP_STORE_NOT_GREATER);
    fake_now = T0 + 5 * SEC;
    ck_assert_int_eq(mpp_store_advance(st, "e", small, NULL, 0, 0), MPP_STORE_OK);
    assert_counter(st, "e", small, NULL, 0);
    assert_valid(st);
}
END_TEST

START_TEST(store_advance_full)
{
    apr_size_t bytes = bytes_for(16);
    mpp_store_t *st = store_new(bytes, NULL);
    apr_uint64_t cap = mpp_shm_store_capacity(bytes);
    unsigned char c[32];
    counter(c, 0, 31, 1);
    for (apr_uint64_t i = 0; i < cap; i++)
        ck_assert_int_eq(mpp_store_add(st, key("f", (int)i), NULL, 0, 0, 0), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_advance(st, "ch", c, NULL, 0, 0), MPP_STORE_FULL);
    assert_absent(st, "ch");
    assert_valid(st);
}
END_TEST

/* ------------------------------------------------------------------ */
/* remove, persist, status, iterate                                    */

START_TEST(store_remove)
{
    mpp_store_t *st = store_new(bytes_for(64), NULL);
    ck_assert_int_eq(mpp_store_remove(st, "missing"), MPP_STORE_NOT_FOUND);
    ck_assert_int_eq(mpp_store_add(st, "a", "1", 1, 0, 0), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_add(st, "b", "2", 1, 0, 1), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_remove(st, "a"), MPP_STORE_OK);
    assert_absent(st, "a");
    ck_assert_int_eq(mpp_store_remove(st, "a"), MPP_STORE_NOT_FOUND);
    ck_assert_int_eq(mpp_store_remove(st, "b"), MPP_STORE_OK);
    ck_assert_uint_eq(status_of(st).used, 0);
    /* a removed key can be added again */
    ck_assert_int_eq(mpp_store_add(st, "a", "3", 1, 0, 0), MPP_STORE_OK);
    assert_value(st, "a", "3", 1, 0);
    ck_assert_uint_eq(status_of(st).used, 1);
    assert_valid(st);
}
END_TEST

static int count_durable(void *baton, const mpp_store_entry_t *e)
{
    int *n = baton;
    n[0]++;
    n[1] += e->durable;
    return 0;
}

START_TEST(store_persist)
{
    mpp_store_t *st = store_new(bytes_for(64), NULL);
    int n[2] = { 0, 0 };
    ck_assert_int_eq(mpp_store_persist(st, "missing"), MPP_STORE_NOT_FOUND);
    ck_assert_int_eq(mpp_store_add(st, "claim", "v", 1, T0 + 10 * SEC, 0), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_iterate(st, count_durable, n), MPP_STORE_OK);
    ck_assert_int_eq(n[0], 1);
    ck_assert_int_eq(n[1], 0);
    ck_assert_int_eq(mpp_store_persist(st, "claim"), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_persist(st, "claim"), MPP_STORE_OK);
    n[0] = n[1] = 0;
    ck_assert_int_eq(mpp_store_iterate(st, count_durable, n), MPP_STORE_OK);
    ck_assert_int_eq(n[1], 1);
    /* persist keeps the value and the expiry, and the key stays taken */
    assert_value(st, "claim", "v", 1, T0 + 10 * SEC);
    ck_assert_int_eq(mpp_store_add(st, "claim", "w", 1, 0, 0), MPP_STORE_EXISTS);
    fake_now = T0 + 10 * SEC;
    ck_assert_int_eq(mpp_store_persist(st, "claim"), MPP_STORE_NOT_FOUND);
}
END_TEST

START_TEST(store_status_counts)
{
    apr_size_t bytes = bytes_for(32);
    mpp_store_t *st = store_new(bytes, NULL);
    mpp_store_status_t s = status_of(st);
    apr_uint64_t cap = mpp_shm_store_capacity(bytes);
    unsigned char c[32];

    ck_assert_uint_eq(s.capacity, cap);
    ck_assert_uint_eq(s.used, 0);
    ck_assert_uint_eq(s.refused, 0);
    ck_assert_uint_eq(s.journal_bytes, 0);
    ck_assert_uint_eq(s.journal_records, 0);
    ck_assert_uint_eq(s.entry_bytes, mpp_shm_store_entry_bytes());
    ck_assert_uint_ge(s.entry_bytes, 32 + MPP_STORE_VALUE_MAX);

    ck_assert_int_eq(mpp_store_add(st, "a", "1", 1, 0, 0), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_add(st, "b", "1", 1, 0, 1), MPP_STORE_OK);
    counter(c, 0, 31, 1);
    ck_assert_int_eq(mpp_store_advance(st, "c", c, NULL, 0, 0), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_add(st, "a", "1", 1, 0, 0), MPP_STORE_EXISTS);
    ck_assert_int_eq(mpp_store_add(st, "z", "1", 1000, 0, 0), MPP_STORE_ERROR);
    ck_assert_uint_eq(status_of(st).used, 3);
    ck_assert_int_eq(mpp_store_remove(st, "a"), MPP_STORE_OK);
    ck_assert_uint_eq(status_of(st).used, 2);
    for (apr_uint64_t i = 2; i < cap; i++)
        ck_assert_int_eq(mpp_store_add(st, key("f", (int)i), NULL, 0, 0, 0), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_add(st, "x", NULL, 0, 0, 0), MPP_STORE_FULL);
    ck_assert_int_eq(mpp_store_add(st, "y", NULL, 0, 0, 0), MPP_STORE_FULL);
    s = status_of(st);
    ck_assert_uint_eq(s.used, cap);
    ck_assert_uint_eq(s.refused, 2);
    ck_assert_uint_eq(s.capacity, cap);
}
END_TEST

typedef struct { int seen, counters, stop_after; } iter_t;

static int iter_cb(void *baton, const mpp_store_entry_t *e)
{
    iter_t *it = baton;
    it->seen++;
    it->counters += e->counter;
    ck_assert_ptr_null(e->key);
    return it->stop_after && it->seen >= it->stop_after;
}

START_TEST(store_iterate)
{
    mpp_store_t *st = store_new(bytes_for(64), NULL);
    unsigned char c[32];
    iter_t it = { 0, 0, 0 };
    counter(c, 0, 31, 1);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(mpp_store_add(st, key("i", i), "v", 1, i < 4 ? T0 + SEC : 0, i % 2), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_advance(st, "ch", c, "r", 1, 0), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_iterate(st, iter_cb, &it), MPP_STORE_OK);
    ck_assert_int_eq(it.seen, 11);
    ck_assert_int_eq(it.counters, 1);
    /* expired entries are not visited */
    fake_now = T0 + SEC;
    memset(&it, 0, sizeof(it));
    ck_assert_int_eq(mpp_store_iterate(st, iter_cb, &it), MPP_STORE_OK);
    ck_assert_int_eq(it.seen, 7);
    /* a non-zero return stops the walk */
    memset(&it, 0, sizeof(it));
    it.stop_after = 3;
    ck_assert_int_eq(mpp_store_iterate(st, iter_cb, &it), MPP_STORE_OK);
    ck_assert_int_eq(it.seen, 3);
}
END_TEST

/* ------------------------------------------------------------------ */
/* layout and capacity                                                 */

START_TEST(store_format_and_attach_checks)
{
    apr_size_t bytes = bytes_for(16);
    void *mem = region(bytes + 4096);
    ck_assert_uint_eq(mpp_shm_store_capacity(0), 0);
    ck_assert_uint_eq(mpp_shm_store_capacity(100), 0);
    ck_assert_int_eq(mpp_shm_store_format(mem, 100), -1);
    ck_assert_int_eq(mpp_shm_store_format(mem, bytes - 8), -1);
    /* an unformatted region is not a table */
    ck_assert_ptr_null(mpp_shm_store_attach(tp, mem, bytes, NULL, NULL));
    ck_assert_int_eq(mpp_shm_store_format(mem, bytes), 0);
    ck_assert_ptr_nonnull(mpp_shm_store_attach(tp, mem, bytes, NULL, NULL));
    /* nor is a region shorter than the table laid out in it */
    ck_assert_ptr_null(mpp_shm_store_attach(tp, mem, bytes / 2, NULL, NULL));
    ck_assert_ptr_null(mpp_shm_store_attach(tp, mem, 16, NULL, NULL));
    /* capacity grows with the region */
    ck_assert_uint_gt(mpp_shm_store_capacity(2 * bytes), mpp_shm_store_capacity(bytes));
    /* a store of the built-in provider, found by name */
    mpp_store_register(&mpp_store_shm_provider);
    ck_assert_ptr_eq(mpp_store_provider("shm"), &mpp_store_shm_provider);
    ck_assert_ptr_null(mpp_store_provider("nonesuch"));
}
END_TEST

#define MIB128 ((apr_size_t)128 * 1024 * 1024)

START_TEST(store_capacity_128mib)
{
    apr_uint64_t cap = mpp_shm_store_capacity(MIB128);
    ck_assert_uint_ge(cap, 1000000);
    /* entry_bytes is an honest price: the region holds at least that many */
    ck_assert_uint_ge(cap, (MIB128 - 4096) / mpp_shm_store_entry_bytes());
}
END_TEST

/* A million consumed payments fit in 128 MiB. */
START_TEST(store_million_keys_in_128mib)
{
    mpp_store_t *st = store_new(MIB128, NULL);
    mpp_store_status_t s;
    char k[96];
    unsigned char v[32];
    memset(v, 0x5a, sizeof(v));
    for (int i = 0; i < 1000000; i++) {
        mpp_store_rc_t rc;
        snprintf(k, sizeof(k), "pay:0x%064x", i);
        memcpy(v, &i, sizeof(i));
        rc = mpp_store_add(st, k, v, sizeof(v), T0 + 86400 * SEC, 0);
        if (rc != MPP_STORE_OK)
            ck_abort_msg("add %d: %s", i, mpp_store_rc_name(rc));
    }
    s = status_of(st);
    ck_assert_uint_eq(s.used, 1000000);
    ck_assert_uint_eq(s.refused, 0);
    assert_valid(st);
    for (int i = 0; i < 1000000; i += 99991) {
        snprintf(k, sizeof(k), "pay:0x%064x", i);
        memcpy(v, &i, sizeof(i));
        assert_value(st, k, v, sizeof(v), T0 + 86400 * SEC);
        ck_assert_int_eq(mpp_store_add(st, k, v, sizeof(v), 0, 0), MPP_STORE_EXISTS);
    }
}
END_TEST

/* ------------------------------------------------------------------ */
/* journal                                                             */

START_TEST(journal_read_missing_file_is_empty)
{
    const char *dir = tmpdir_new();
    mpp_jstat_t js = jread(jpath(dir));
    ck_assert_uint_eq(js.records, 0);
    ck_assert_int_eq(js.torn, 0);
    /* so is an empty file */
    write_file(jpath(dir), "", 0, O_TRUNC);
    js = jread(jpath(dir));
    ck_assert_uint_eq(js.records, 0);
    ck_assert_int_eq(js.torn, 0);
}
END_TEST

START_TEST(journal_read_foreign_file_fails)
{
    const char *dir = tmpdir_new(), *err = NULL;
    const char text[] = "this is not a journal, just a file in the way\n";
    mpp_jstat_t js;
    write_file(jpath(dir), text, sizeof(text) - 1, O_TRUNC);
    ck_assert_int_eq(mpp_journal_read(tp, jpath(dir), count_rec, &(int){ 0 }, &js, &err), -1);
    ck_assert_ptr_nonnull(err);
    ck_assert_uint_eq(js.records, 0);
    /* and the store will not append to it */
    err = NULL;
    ck_assert_ptr_null(mpp_journal_open(tp, dir, &err));
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(file_size(jpath(dir)), (apr_off_t)sizeof(text) - 1);
}
END_TEST

static int stop_at_two(void *baton, const mpp_jrec_t *r)
{
    (void)r;
    return ++*(int *)baton == 2;
}

START_TEST(journal_records_round_trip)
{
    const char *dir = tmpdir_new(), *err = NULL;
    mpp_journal_t *j = jopen(dir);
    mpp_jrec_t r;
    mpp_jstat_t js;
    int n = 0;
    memset(&r, 0, sizeof(r));
    for (int i = 0; i < 5; i++) {
        r.type = i == 3 ? MPP_JREC_DEL : MPP_JREC_ADD;
        mpp_store_key_id(key("j", i), r.id);
        r.key = i == 4 ? NULL : key("j", i);
        r.value = (const unsigned char *)"value";
        r.vlen = r.type == MPP_JREC_DEL ? 0 : 5;
        r.expires = T0 + i;
        ck_assert_int_eq(mpp_journal_append(j, &r), 0);
    }
    ck_assert_uint_eq(mpp_journal_size(j), (apr_uint64_t)file_size(jpath(dir)));
    js = jread(jpath(dir));
    ck_assert_uint_eq(js.records, 5);
    ck_assert_uint_eq(js.bytes, (apr_uint64_t)file_size(jpath(dir)));
    ck_assert_int_eq(js.torn, 0);
    /* the callback can stop the read */
    ck_assert_int_eq(mpp_journal_read(tp, jpath(dir), stop_at_two, &n, &js, &err), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_uint_eq(js.records, 2);
    /* a value too long for a record is refused, nothing written */
    r.type = MPP_JREC_ADD;
    r.vlen = 257;
    r.value = (const unsigned char *)apr_pcalloc(tp, 257);
    ck_assert_int_eq(mpp_journal_append(j, &r), -1);
    ck_assert_uint_eq(jread(jpath(dir)).records, 5);
}
END_TEST

/* A history over dir's journal; returns the number of live durable entries
 * at T0 + 60 s (when "short" and "ch-short" have expired). */
static int history(const char *dir, mpp_store_t **out)
{
    mpp_store_t *st = store_new(bytes_for(256), jopen(dir));
    unsigned char c1[32], c2[32];
    counter(c1, 0, 31, 1);
    counter(c2, 0, 30, 1);
    ck_assert_int_eq(mpp_store_add(st, "d1", "one", 3, 0, 1), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_add(st, "d2", "two", 3, T0 + 3600 * SEC, 1), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_add(st, "short", "s", 1, T0 + 10 * SEC, 1), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_add(st, "mem", "m", 1, 0, 0), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_add(st, "p", "pp", 2, T0 + 7200 * SEC, 0), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_persist(st, "p"), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_add(st, "gone", "g", 1, 0, 1), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_remove(st, "gone"), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_add(st, "back", "first", 5, 0, 1), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_remove(st, "back"), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_add(st, "back", "again", 5, 0, 1), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_advance(st, "ch", c1, "r1", 2, 0), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_advance(st, "ch", c2, "r2", 2, 0), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_advance(st, "ch", c1, "r3", 2, 0), MPP_STORE_NOT_GREATER);
    ck_assert_int_eq(mpp_store_advance(st, "ch-short", c1, NULL, 0, T0 + 5 * SEC), MPP_STORE_OK);
    /* a non-durable claim removed again writes nothing */
    ck_assert_int_eq(mpp_store_add(st, "mem2", "m", 1, 0, 0), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_remove(st, "mem2"), MPP_STORE_OK);
    /* 12 records: 6 durable adds and a persist, 2 removes, 3 advances */
    ck_assert_uint_eq(status_of(st).journal_records, 12);
    ck_assert_uint_eq(jread(jpath(dir)).records, 12);
    if (out)
        *out = st;
    return 5;   /* d1, d2, p, back, ch */
}

static void assert_history_restored(mpp_store_t *st)
{
    unsigned char c2[32];
    counter(c2, 0, 30, 1);
    assert_value(st, "d1", "one", 3, 0);
    assert_value(st, "d2", "two", 3, T0 + 3600 * SEC);
    assert_value(st, "p", "pp", 2, T0 + 7200 * SEC);
    assert_value(st, "back", "again", 5, 0);
    assert_counter(st, "ch", c2, "r2", 2);
    assert_absent(st, "short");      /* expired by now */
    assert_absent(st, "ch-short");
    assert_absent(st, "mem");        /* never durable */
    assert_absent(st, "mem2");
    assert_absent(st, "gone");       /* removed */
    ck_assert_uint_eq(status_of(st).used, 5);
    /* restored counters are still only advanced */
    ck_assert_int_eq(mpp_store_advance(st, "ch", c2, NULL, 0, 0), MPP_STORE_NOT_GREATER);
    ck_assert_int_eq(mpp_store_add(st, "d1", "x", 1, 0, 0), MPP_STORE_EXISTS);
}

START_TEST(journal_load_restores_live_durable_entries)
{
    const char *dir = tmpdir_new();
    mpp_jstat_t js;
    mpp_store_t *a, *b;
    int live = history(dir, &a);
    fake_now = T0 + 60 * SEC;
    b = load_new(dir, bytes_for(256), &js);
    ck_assert_uint_eq(js.records, 12);
    ck_assert_int_eq(js.torn, 0);
    ck_assert_int_eq(live, 5);
    /* expired records were not even loaded (before any lookup reclaims them) */
    ck_assert_uint_eq(status_of(b).used, 5);
    assert_history_restored(b);
    /* every durable live entry of the writer, and nothing else */
    assert_same_entries(snapshot(a, 1), snapshot(b, 0));
}
END_TEST

START_TEST(journal_load_compacts_to_live_entries)
{
    const char *dir = tmpdir_new();
    mpp_jstat_t js;
    mpp_store_t *b, *c;
    int live = history(dir, NULL);
    apr_off_t before = file_size(jpath(dir));
    fake_now = T0 + 60 * SEC;
    b = load_new(dir, bytes_for(256), &js);
    /* the journal now holds one record per live entry */
    js = jread(jpath(dir));
    ck_assert_uint_eq(js.records, (apr_uint64_t)live);
    ck_assert_int_eq(js.torn, 0);
    ck_assert_uint_eq(status_of(b).journal_records, (apr_uint64_t)live);
    ck_assert_uint_eq(status_of(b).journal_bytes, (apr_uint64_t)file_size(jpath(dir)));
    ck_assert_int_lt(file_size(jpath(dir)), before);
    ck_assert_int_ne(access(apr_pstrcat(tp, jpath(dir), ".new", NULL), F_OK), 0);
    /* and loads again to the same entries (compacted records carry no key) */
    c = load_new(dir, bytes_for(256), &js);
    ck_assert_uint_eq(js.records, (apr_uint64_t)live);
    assert_history_restored(c);
    assert_same_entries(snapshot(b, 0), snapshot(c, 0));
    /* appends after a load go on after the compacted records */
    ck_assert_int_eq(mpp_store_add(c, "after", "a", 1, 0, 1), MPP_STORE_OK);
    c = load_new(dir, bytes_for(256), &js);
    ck_assert_uint_eq(js.records, (apr_uint64_t)live + 1);
    assert_value(c, "after", "a", 1, 0);
}
END_TEST

/* n durable adds "k-0".."k-(n-1)"; off[i] is where record i starts. */
static mpp_store_t *durable_adds(const char *dir, int n, apr_uint64_t *off)
{
    mpp_store_t *st = store_new(bytes_for(64), jopen(dir));
    for (int i = 0; i < n; i++) {
        if (off)
            off[i] = status_of(st).journal_bytes;
        ck_assert_int_eq(mpp_store_add(st, key("k", i), key("v", i), strlen(key("v", i)), 0, 1), MPP_STORE_OK);
    }
    if (off)
        off[n] = status_of(st).journal_bytes;
    return st;
}

START_TEST(journal_torn_last_record_dropped)
{
    const char *dir = tmpdir_new();
    mpp_jstat_t js;
    mpp_store_t *st;
    apr_uint64_t off[6];
    durable_adds(dir, 5, off);
    ck_assert_uint_eq(off[5], (apr_uint64_t)file_size(jpath(dir)));
    /* a crash in the middle of the last write */
    ck_assert_int_eq(truncate(jpath(dir), (off_t)off[5] - 3), 0);
    js = jread(jpath(dir));
    ck_assert_uint_eq(js.records, 4);
    ck_assert_uint_eq(js.bytes, off[4]);
    ck_assert_int_eq(js.torn, 1);
    st = load_new(dir, bytes_for(64), &js);
    ck_assert_uint_eq(js.records, 4);
    ck_assert_int_eq(js.torn, 1);
    for (int i = 0; i < 4; i++)
        assert_value(st, key("k", i), key("v", i), strlen(key("v", i)), 0);
    assert_absent(st, key("k", 4));
    /* the rewrite dropped the torn tail: later records are read again */
    ck_assert_int_eq(mpp_store_add(st, key("k", 5), "later", 5, 0, 1), MPP_STORE_OK);
    js = jread(jpath(dir));
    ck_assert_uint_eq(js.records, 5);
    ck_assert_int_eq(js.torn, 0);
    st = load_new(dir, bytes_for(64), &js);
    ck_assert_int_eq(js.torn, 0);
    assert_value(st, key("k", 5), "later", 5, 0);
    assert_value(st, key("k", 3), key("v", 3), strlen(key("v", 3)), 0);
}
END_TEST

START_TEST(journal_garbage_tail_dropped)
{
    /* a stray byte, a short run, zero-filled blocks, a plausible header */
    static const apr_size_t lens[] = { 1, 7, 64, 64 };
    for (int t = 0; t < 4; t++) {
        const char *dir = tmpdir_new();
        unsigned char tail[64];
        mpp_jstat_t js;
        mpp_store_t *st;
        apr_uint64_t off[4];
        memset(tail, t == 3 ? 'z' : 0, sizeof(tail));
        if (t < 2)
            for (int i = 0; i < 7; i++)
                tail[i] = (unsigned char)(i + 1);
        if (t == 3) {
            tail[0] = MPP_JREC_ADD;   /* type, klen 3, vlen 2, then no valid CRC */
            tail[1] = 3;
            tail[2] = 2;
            tail[3] = 0;
        }
        durable_adds(dir, 3, off);
        write_file(jpath(dir), tail, lens[t], O_APPEND);
        js = jread(jpath(dir));
        ck_assert_uint_eq(js.records, 3);
        ck_assert_uint_eq(js.bytes, off[3]);
        ck_assert_int_eq(js.torn, 1);
        st = load_new(dir, bytes_for(64), &js);
        ck_assert_int_eq(js.torn, 1);
        for (int i = 0; i < 3; i++)
            assert_value(st, key("k", i), key("v", i), strlen(key("v", i)), 0);
        ck_assert_uint_eq(status_of(st).used, 3);
        ck_assert_int_eq(jread(jpath(dir)).torn, 0);
    }
}
END_TEST

/* A bad CRC in the middle ends the replay there: the records after it are
 * ignored (and dropped by the rewrite), since nothing after a corrupt record
 * can be trusted to be in order. */
START_TEST(journal_corrupt_record_stops_replay_later_records_ignored)
{
    const char *dir = tmpdir_new();
    mpp_jstat_t js;
    mpp_store_t *st;
    apr_uint64_t off[7];
    unsigned char b;
    int fd;
    durable_adds(dir, 6, off);
    /* flip one bit in the value of record 2 */
    fd = open(jpath(dir), O_RDWR);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, &b, 1, (off_t)off[3] - 6), 1);
    b ^= 0x10;
    ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)off[3] - 6), 1);
    close(fd);
    js = jread(jpath(dir));
    ck_assert_uint_eq(js.records, 2);
    ck_assert_uint_eq(js.bytes, off[2]);
    ck_assert_int_eq(js.torn, 1);
    st = load_new(dir, bytes_for(64), &js);
    ck_assert_uint_eq(js.records, 2);
    ck_assert_int_eq(js.torn, 1);
    assert_value(st, key("k", 0), key("v", 0), strlen(key("v", 0)), 0);
    assert_value(st, key("k", 1), key("v", 1), strlen(key("v", 1)), 0);
    for (int i = 2; i < 6; i++)
        assert_absent(st, key("k", i));
    ck_assert_uint_eq(jread(jpath(dir)).records, 2);
}
END_TEST

/* ---- write failures: a file size limit makes write() fail for real ---- */

typedef struct {
    struct rlimit old;
    struct sigaction oldsig;
} fsize_guard_t;

/* From now on no file of this process may grow past limit bytes (EFBIG).
 * No check assertion may run until fsize_restore: they write files too. */
static int fsize_limit(fsize_guard_t *s, rlim_t limit)
{
    struct rlimit rl;
    struct sigaction ign;
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    if (getrlimit(RLIMIT_FSIZE, &s->old) || (s->old.rlim_max != RLIM_INFINITY && s->old.rlim_max < limit))
        return -1;
    if (sigaction(SIGXFSZ, &ign, &s->oldsig))
        return -1;
    rl.rlim_cur = limit;
    rl.rlim_max = s->old.rlim_max;
    return setrlimit(RLIMIT_FSIZE, &rl);
}

static void fsize_restore(fsize_guard_t *s)
{
    setrlimit(RLIMIT_FSIZE, &s->old);
    sigaction(SIGXFSZ, &s->oldsig, NULL);
}

START_TEST(journal_write_failure_changes_nothing)
{
    const char *dir = tmpdir_new();
    mpp_store_t *st = store_new(bytes_for(64), jopen(dir));
    unsigned char c1[32], c2[32];
    mpp_store_rc_t rc[7];
    mpp_store_status_t s0, s1;
    mpp_jstat_t js;
    fsize_guard_t lim;
    apr_off_t size;
    int n[2] = { 0, 0 };

    counter(c1, 0, 31, 1);
    counter(c2, 0, 31, 2);
    ck_assert_int_eq(mpp_store_add(st, "before", "b", 1, 0, 1), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_add(st, "claim", "c", 1, 0, 0), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_advance(st, "ch", c1, "r1", 2, 0), MPP_STORE_OK);
    s0 = status_of(st);
    size = file_size(jpath(dir));

    /* room for 10 more bytes: each append writes part of a record, then fails */
    ck_assert_int_eq(fsize_limit(&lim, (rlim_t)size + 10), 0);
    rc[0] = mpp_store_add(st, "lost", "l", 1, 0, 1);
    rc[1] = mpp_store_advance(st, "ch", c2, "r2", 2, 0);
    rc[2] = mpp_store_advance(st, "ch-new", c1, NULL, 0, 0);
    rc[3] = mpp_store_remove(st, "before");
    rc[4] = mpp_store_persist(st, "claim");
    rc[5] = mpp_store_add(st, "claim2", "c", 1, 0, 0);   /* memory only: unaffected */
    rc[6] = mpp_store_remove(st, "claim2");
    fsize_restore(&lim);

    ck_assert_int_eq(rc[0], MPP_STORE_ERROR);
    ck_assert_int_eq(rc[1], MPP_STORE_ERROR);
    ck_assert_int_eq(rc[2], MPP_STORE_ERROR);
    ck_assert_int_eq(rc[3], MPP_STORE_ERROR);
    ck_assert_int_eq(rc[4], MPP_STORE_ERROR);
    ck_assert_int_eq(rc[5], MPP_STORE_OK);
    ck_assert_int_eq(rc[6], MPP_STORE_OK);
    /* nothing behind: no entry, no partial record, counters unchanged */
    assert_absent(st, "lost");
    assert_absent(st, "ch-new");
    assert_counter(st, "ch", c1, "r1", 2);
    assert_value(st, "before", "b", 1, 0);
    ck_assert_int_eq(mpp_store_iterate(st, count_durable, n), MPP_STORE_OK);
    ck_assert_int_eq(n[0], 3);
    ck_assert_int_eq(n[1], 2);          /* "claim" is still not durable */
    s1 = status_of(st);
    ck_assert_uint_eq(s1.used, s0.used);
    ck_assert_uint_eq(s1.journal_records, s0.journal_records);
    ck_assert_int_eq(file_size(jpath(dir)), size);
    js = jread(jpath(dir));
    ck_assert_int_eq(js.torn, 0);
    ck_assert_uint_eq(js.records, s0.journal_records);
    assert_valid(st);

    /* the journal still works once writes do */
    ck_assert_int_eq(mpp_store_add(st, "lost", "l", 1, 0, 1), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_advance(st, "ch", c2, "r2", 2, 0), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_remove(st, "before"), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_persist(st, "claim"), MPP_STORE_OK);
    st = load_new(dir, bytes_for(64), &js);
    ck_assert_int_eq(js.torn, 0);
    assert_value(st, "lost", "l", 1, 0);
    assert_value(st, "claim", "c", 1, 0);
    assert_counter(st, "ch", c2, "r2", 2);
    assert_absent(st, "before");
    assert_absent(st, "ch-new");
    ck_assert_uint_eq(status_of(st).used, 3);
}
END_TEST

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;
    if (!d)
        return -1;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* A failed rewrite keeps the old journal, removes its half-written file and
 * leaks no descriptor. */
START_TEST(journal_compaction_failure_keeps_old_journal)
{
    const char *dir = tmpdir_new(), *err = NULL, *tmp = apr_pstrcat(tp, jpath(dir), ".new", NULL);
    mpp_store_t *st = store_new(bytes_for(2048), jopen(dir));
    unsigned char v[MPP_STORE_VALUE_MAX];
    mpp_jstat_t js;
    fsize_guard_t lim;
    apr_off_t size;
    int fds, rv;

    memset(v, 'v', sizeof(v));
    for (int i = 0; i < 1500; i++)
        ck_assert_int_eq(mpp_store_add(st, key("k", i), v, sizeof(v), 0, 1), MPP_STORE_OK);
    size = file_size(jpath(dir));
    fds = open_fds();
    ck_assert_int_ge(fds, 0);

    ck_assert_int_eq(fsize_limit(&lim, 4096), 0);
    rv = mpp_shm_store_compact(st, &err);
    fsize_restore(&lim);

    ck_assert_int_eq(rv, -1);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(open_fds(), fds);
    ck_assert_int_ne(access(tmp, F_OK), 0);
    ck_assert_int_eq(file_size(jpath(dir)), size);
    ck_assert_uint_eq(status_of(st).journal_records, 1500);
    /* and the store goes on: appends land in the whole old journal */
    ck_assert_int_eq(mpp_store_add(st, "after", "a", 1, 0, 1), MPP_STORE_OK);
    st = load_new(dir, bytes_for(2048), &js);
    ck_assert_uint_eq(js.records, 1501);
    ck_assert_int_eq(js.torn, 0);
    ck_assert_uint_eq(status_of(st).used, 1501);
    assert_value(st, "after", "a", 1, 0);
    assert_value(st, key("k", 1499), v, sizeof(v), 0);
}
END_TEST

START_TEST(journal_compact_keeps_every_live_durable_entry)
{
    const char *dir = tmpdir_new(), *err = NULL;
    mpp_store_t *a = store_new(bytes_for(1024), jopen(dir)), *b;
    unsigned char c[32];
    mpp_jstat_t js;
    apr_hash_t *live;
    int rv;

    for (int i = 0; i < 300; i++)
        ck_assert_int_eq(mpp_store_add(a, key("d", i), key("d", i), strlen(key("d", i)),
                                       i % 5 ? 0 : T0 + 30 * SEC, 1), MPP_STORE_OK);
    for (int i = 0; i < 300; i += 3)
        ck_assert_int_eq(mpp_store_remove(a, key("d", i)), MPP_STORE_OK);
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq(mpp_store_add(a, key("m", i), "m", 1, 0, 0), MPP_STORE_OK);
    for (int i = 0; i < 20; i += 2)
        ck_assert_int_eq(mpp_store_persist(a, key("m", i)), MPP_STORE_OK);
    for (int r = 1; r <= 20; r++) {
        for (int k = 0; k < 10; k++) {
            counter(c, 0, 31, (unsigned char)r);
            c[0] = (unsigned char)k;
            ck_assert_int_eq(mpp_store_advance(a, key("ch", k), c, &r, sizeof(r), k == 9 ? T0 + 30 * SEC : 0),
                             MPP_STORE_OK);
        }
    }
    fake_now = T0 + 31 * SEC;   /* the short-lived ones are dead now */
    live = snapshot(a, 1);
    /* 200 kept adds less 40 short-lived ones, 10 persisted claims, 9 channels */
    ck_assert_uint_eq(apr_hash_count(live), 200 - 40 + 10 + 9);
    ck_assert_uint_gt(jread(jpath(dir)).records, apr_hash_count(live));

    rv = mpp_shm_store_compact(a, &err);
    ck_assert_msg(rv == 0, "compact: %s", err ? err : "?");
    js = jread(jpath(dir));
    ck_assert_uint_eq(js.records, apr_hash_count(live));
    ck_assert_uint_eq(status_of(a).journal_records, apr_hash_count(live));
    /* the writer goes on appending to the new file */
    ck_assert_int_eq(mpp_store_add(a, "after", "a", 1, 0, 1), MPP_STORE_OK);
    ck_assert_uint_eq(jread(jpath(dir)).records, apr_hash_count(live) + 1);
    b = load_new(dir, bytes_for(1024), &js);
    ck_assert_int_eq(mpp_store_remove(b, "after"), MPP_STORE_OK);
    assert_same_entries(live, snapshot(b, 0));
}
END_TEST

/* Two attachments of one table with their own journal descriptors, as two
 * server processes: when one rewrites the journal, the other follows. */
START_TEST(journal_compaction_by_another_process_is_followed)
{
    const char *dir = tmpdir_new(), *err = NULL;
    apr_size_t bytes = bytes_for(64);
    void *mem = region(bytes);
    mpp_store_t *s1, *s2, *st;
    mpp_jstat_t js;
    ck_assert_int_eq(mpp_shm_store_format(mem, bytes), 0);
    s1 = attach_fake(mem, bytes, jopen(dir));
    s2 = attach_fake(mem, bytes, jopen(dir));
    ck_assert_int_eq(mpp_store_add(s1, "k1", "1", 1, 0, 1), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_add(s2, "k2", "2", 1, 0, 1), MPP_STORE_OK);
    ck_assert_int_eq(mpp_shm_store_compact(s1, &err), 0);
    ck_assert_int_eq(mpp_store_add(s2, "k3", "3", 1, 0, 1), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_remove(s2, "k1"), MPP_STORE_OK);
    ck_assert_int_eq(mpp_store_add(s1, "k4", "4", 1, 0, 1), MPP_STORE_OK);
    ck_assert_int_eq(mpp_shm_store_compact(s2, &err), 0);
    ck_assert_int_eq(mpp_store_add(s1, "k5", "5", 1, 0, 1), MPP_STORE_OK);
    ck_assert_uint_eq(status_of(s2).journal_bytes, (apr_uint64_t)file_size(jpath(dir)));
    st = load_new(dir, bytes, &js);
    ck_assert_uint_eq(js.records, 4);
    assert_absent(st, "k1");
    assert_value(st, "k2", "2", 1, 0);
    assert_value(st, "k3", "3", 1, 0);
    assert_value(st, "k4", "4", 1, 0);
    assert_value(st, "k5", "5", 1, 0);
}
END_TEST

START_TEST(journal_load_into_too_small_table_fails)
{
    const char *dir = tmpdir_new(), *err = NULL;
    mpp_store_t *st = store_new(bytes_for(64), jopen(dir));
    mpp_jstat_t js;
    apr_uint64_t cap = mpp_shm_store_capacity(bytes_for(16));
    for (apr_uint64_t i = 0; i < cap + 1; i++)
        ck_assert_int_eq(mpp_store_add(st, key("k", (int)i), "v", 1, 0, 1), MPP_STORE_OK);
    st = store_new(bytes_for(16), jopen(dir));
    ck_assert_int_eq(mpp_shm_store_load(st, tp, &js, &err), -1);
    ck_assert_ptr_nonnull(err);
    /* the journal is left whole for a larger store */
    ck_assert_uint_eq(jread(jpath(dir)).records, cap + 1);
    st = load_new(dir, bytes_for(64), &js);
    ck_assert_uint_eq(status_of(st).used, cap + 1);
}
END_TEST

/* ------------------------------------------------------------------ */

Suite *suite_store(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase("add");
    tcase_add_test(tc, store_add_then_exists);
    tcase_add_test(tc, store_distinct_keys_independent);
    tcase_add_test(tc, store_value_round_trip);
    tcase_add_test(tc, store_value_max);
    tcase_add_test(tc, store_key_max);
    suite_add_tcase(s, tc);
    tc = tcase("collisions");
    tcase_add_test(tc, store_collisions_small_table);
    suite_add_tcase(s, tc);
    tc = tcase("ttl");
    tcase_add_test(tc, store_ttl_live_until_expires);
    tcase_add_test(tc, store_ttl_full_table_reclaims_expired);
    tcase_add_test(tc, store_live_entries_never_evicted);
    suite_add_tcase(s, tc);
    tc = tcase("advance");
    tcase_add_test(tc, store_advance_only_forward);
    tcase_add_test(tc, store_advance_big_endian);
    tcase_add_test(tc, store_advance_record_beside_counter);
    tcase_add_test(tc, store_advance_after_expiry_starts_over);
    tcase_add_test(tc, store_advance_full);
    suite_add_tcase(s, tc);
    tc = tcase("operations");
    tcase_add_test(tc, store_remove);
    tcase_add_test(tc, store_persist);
    tcase_add_test(tc, store_status_counts);
    tcase_add_test(tc, store_iterate);
    suite_add_tcase(s, tc);
    tc = tcase("capacity");
    tcase_add_test(tc, store_format_and_attach_checks);
    tcase_add_test(tc, store_capacity_128mib);
    tcase_add_test(tc, store_million_keys_in_128mib);
    suite_add_tcase(s, tc);
    return s;
}

Suite *suite_journal(void)
{
    Suite *s = suite_create("journal");
    TCase *tc = tcase("journal");
    tcase_add_unchecked_fixture(tc, jbase_setup, jbase_teardown);
    tcase_add_test(tc, journal_read_missing_file_is_empty);
    tcase_add_test(tc, journal_read_foreign_file_fails);
    tcase_add_test(tc, journal_records_round_trip);
    tcase_add_test(tc, journal_load_restores_live_durable_entries);
    tcase_add_test(tc, journal_load_compacts_to_live_entries);
    tcase_add_test(tc, journal_torn_last_record_dropped);
    tcase_add_test(tc, journal_garbage_tail_dropped);
    tcase_add_test(tc, journal_corrupt_record_stops_replay_later_records_ignored);
    tcase_add_test(tc, journal_write_failure_changes_nothing);
    tcase_add_test(tc, journal_compaction_failure_keeps_old_journal);
    tcase_add_test(tc, journal_compact_keeps_every_live_durable_entry);
    tcase_add_test(tc, journal_compaction_by_another_process_is_followed);
    tcase_add_test(tc, journal_load_into_too_small_table_fails);
    suite_add_tcase(s, tc);
    return s;
}
