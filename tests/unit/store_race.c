/* Many processes x threads racing on one shm store, as httpd children do:
 * every worker adds the same keys in the same order, all starting at once
 * and meeting again every few dozen keys so that none runs ahead, and each
 * key must be won by exactly one add; then all of them advance a few
 * counters with random values, and each counter must end at the largest
 * value anyone offered, never seen going backwards. A second, durable pass
 * runs over a journal that the workers compact while they race; the journal
 * must then hold one add per key and load back to the same entries.
 *
 *   store_race [keys [processes [threads [rounds]]]]
 *
 * Defaults: 4000 keys, 8 processes x 4 threads, 300 rounds of advances; the
 * durable pass uses an eighth of the keys and a tenth of the rounds.
 * MPP_STORE_RACE_LOCK=fcntl|flock|sysvsem|posixsem|pthread picks the lock
 * mechanism (default: APR's). Exit 0 only when every property holds. */
#include <apr_general.h>
#include <apr_global_mutex.h>
#include <apr_hash.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mpp_journal.h"
#include "mpp_store.h"
#include "mpp_store_shm.h"

#define NCOUNTERS 4
#define BLOCK 50           /* keys between meeting points */
#define WAIT_SECONDS 120

/* Shared between all processes (anonymous shared memory). */
typedef struct {
    unsigned ready;        /* workers waiting at the start line */
    unsigned go;
    unsigned block;        /* arrivals at the meeting points between blocks of keys */
    unsigned added;        /* workers done adding */
    unsigned failed;       /* a child could not start */
    unsigned errors;       /* unexpected results */
    unsigned backwards;    /* a counter read lower than before, or torn */
    unsigned advanced;     /* advances that stored */
    unsigned compactions;
} ctl_t;

/* One pass: set up in the parent, inherited by the children. */
static struct {
    unsigned keys, procs, threads, workers, rounds;
    unsigned every;                /* keys between compactions (durable pass) */
    int durable;
    void *mem;                     /* the store's region */
    apr_size_t bytes;
    apr_global_mutex_t *mutex;
    const char *lockfile;
    mpp_journal_t *journal;
    char **key, *ckey[NCOUNTERS];
    ctl_t *ctl;
    apr_uint32_t *ok, *exists, *winner;   /* per key; winner is worker + 1 */
    unsigned char *maxc;                  /* per worker and counter: the largest offered */
} R;

typedef struct {
    mpp_store_t *st;
    unsigned id;
} worker_t;

static void bad(const char *what, unsigned i, mpp_store_rc_t rc)
{
    if (__atomic_fetch_add(&R.ctl->errors, 1, __ATOMIC_SEQ_CST) < 10)
        fprintf(stderr, "store_race: %s %u: %s\n", what, i, mpp_store_rc_name(rc));
}

static apr_uint64_t next_rand(apr_uint64_t *s)
{
    /* xorshift64* */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

/* The record stored beside a counter: a function of it, so a reader can
 * tell a counter from someone else's record. */
static void record_of(const unsigned char c[32], unsigned char rec[32])
{
    for (int i = 0; i < 32; i++)
        rec[i] = (unsigned char)(c[31 - i] ^ 0xa5);
}

static void spin_until(const unsigned *v, unsigned at_least)
{
    while (__atomic_load_n(v, __ATOMIC_ACQUIRE) < at_least)
        sched_yield();
}

static void *work(void *arg)
{
    worker_t *w = arg;
    apr_uint64_t rng = ((apr_uint64_t)getpid() << 32) ^ (w->id * 0x9E3779B97F4A7C15ULL) ^ (apr_uint64_t)apr_time_now();
    unsigned char max[NCOUNTERS][32], seen[NCOUNTERS][32];
    const char *err;

    if (!rng)
        rng = 1;
    memset(max, 0, sizeof(max));
    memset(seen, 0, sizeof(seen));

    /* everyone adds the same keys in the same order, from the same moment */
    __atomic_add_fetch(&R.ctl->ready, 1, __ATOMIC_SEQ_CST);
    spin_until(&R.ctl->go, 1);
    for (unsigned i = 0; i < R.keys; i++) {
        apr_uint32_t val[2] = { w->id, i };
        mpp_store_rc_t rc;
        /* and meet again every BLOCK keys, so that none runs far ahead */
        if (i % BLOCK == 0 && i) {
            __atomic_add_fetch(&R.ctl->block, 1, __ATOMIC_SEQ_CST);
            spin_until(&R.ctl->block, i / BLOCK * R.workers);
        }
        rc = mpp_store_add(w->st, R.key[i], val, sizeof(val), 0, R.durable);
        if (rc == MPP_STORE_OK) {
            __atomic_add_fetch(&R.ok[i], 1, __ATOMIC_SEQ_CST);
            __atomic_store_n(&R.winner[i], w->id + 1, __ATOMIC_SEQ_CST);
        }
        else if (rc == MPP_STORE_EXISTS)
            __atomic_add_fetch(&R.exists[i], 1, __ATOMIC_SEQ_CST);
        else
            bad("add", i, rc);
        /* let the next worker in: with more workers than cores, this keeps
         * them all on the same keys instead of a few running ahead */
        sched_yield();
        /* one thread per process rewrites the journal now and then, so the
         * others must follow it to the new file */
        if (R.durable && w->id % R.threads == 0 && i % R.every == R.every - 1) {
            if (mpp_shm_store_compact(w->st, &err)) {
                bad("compact", i, MPP_STORE_ERROR);
                fprintf(stderr, "store_race: %s\n", err);
            }
            else
                __atomic_add_fetch(&R.ctl->compactions, 1, __ATOMIC_SEQ_CST);
        }
    }

    /* then all of them advance the same counters */
    __atomic_add_fetch(&R.ctl->added, 1, __ATOMIC_SEQ_CST);
    spin_until(&R.ctl->added, R.workers);
    for (unsigned r = 0; r < R.rounds; r++) {
        for (unsigned c = 0; c < NCOUNTERS; c++) {
            unsigned char ctr[32], rec[32];
            mpp_store_rc_t rc;
            for (int b = 0; b < 32; b += 8) {
                apr_uint64_t x = next_rand(&rng);
                memcpy(ctr + b, &x, 8);
            }
            /* random, rising by round so that many of them store */
            ctr[0] = 0;
            ctr[1] = (unsigned char)(r >> 16);
            ctr[2] = (unsigned char)(r >> 8);
            ctr[3] = (unsigned char)r;
            record_of(ctr, rec);
            rc = mpp_store_advance(w->st, R.ckey[c], ctr, rec, sizeof(rec), 0);
            if (rc == MPP_STORE_OK)
                __atomic_add_fetch(&R.ctl->advanced, 1, __ATOMIC_SEQ_CST);
            else if (rc != MPP_STORE_NOT_GREATER)
                bad("advance", c, rc);
            if (memcmp(ctr, max[c], 32) > 0)
                memcpy(max[c], ctr, 32);
            /* what anyone reads only rises, and the record goes with it */
            if ((r + c) % 4 == 0) {
                unsigned char v[64], want[32];
                apr_size_t vlen = 0;
                rc = mpp_store_get(w->st, R.ckey[c], v, &vlen, NULL);
                if (rc != MPP_STORE_OK)
                    bad("get counter", c, rc);
                else {
                    record_of(v, want);
                    if (vlen != 64 || memcmp(v, seen[c], 32) < 0 || memcmp(v + 32, want, 32))
                        __atomic_add_fetch(&R.ctl->backwards, 1, __ATOMIC_SEQ_CST);
                    memcpy(seen[c], v, 32);
                }
            }
        }
    }
    memcpy(R.maxc + (apr_size_t)w->id * NCOUNTERS * 32, max, sizeof(max));
    return NULL;
}

static int child_main(unsigned proc)
{
    apr_pool_t *p;
    apr_global_mutex_t *m = R.mutex;
    mpp_store_t *st;
    pthread_t th[64];
    worker_t w[64];
    unsigned started = 0;

    if (apr_pool_create(&p, NULL) != APR_SUCCESS
        || apr_global_mutex_child_init(&m, R.lockfile, p) != APR_SUCCESS
        || !(st = mpp_shm_store_attach(p, R.mem, R.bytes, m, R.journal))) {
        __atomic_store_n(&R.ctl->failed, 1, __ATOMIC_SEQ_CST);
        return 2;
    }
    for (unsigned t = 0; t < R.threads; t++) {
        w[t].st = st;
        w[t].id = proc * R.threads + t;
        if (pthread_create(&th[t], NULL, work, &w[t]) != 0) {
            __atomic_store_n(&R.ctl->failed, 1, __ATOMIC_SEQ_CST);
            break;
        }
        started++;
    }
    for (unsigned t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    return started == R.threads ? 0 : 2;
}

static apr_lockmech_e lock_mech(void)
{
    const char *m = getenv("MPP_STORE_RACE_LOCK");
    if (!m || !*m || !strcmp(m, "default")) return APR_LOCK_DEFAULT;
    if (!strcmp(m, "fcntl")) return APR_LOCK_FCNTL;
    if (!strcmp(m, "flock")) return APR_LOCK_FLOCK;
    if (!strcmp(m, "sysvsem")) return APR_LOCK_SYSVSEM;
    if (!strcmp(m, "posixsem")) return APR_LOCK_POSIXSEM;
    if (!strcmp(m, "pthread")) return APR_LOCK_PROC_PTHREAD;
    fprintf(stderr, "store_race: unknown MPP_STORE_RACE_LOCK=%s\n", m);
    exit(2);
}

static void *shm_region(apr_pool_t *p, apr_size_t bytes)
{
    apr_shm_t *shm;
    apr_status_t rv = apr_shm_create(&shm, bytes, NULL, p);   /* anonymous */
    if (rv != APR_SUCCESS) {
        char buf[128];
        fprintf(stderr, "store_race: apr_shm_create: %s\n", apr_strerror(rv, buf, sizeof(buf)));
        return NULL;
    }
    return apr_shm_baseaddr_get(shm);
}

static void kill_all(pid_t *pids, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (pids[i]) {
            kill(pids[i], SIGKILL);
            waitpid(pids[i], NULL, 0);
            pids[i] = 0;
        }
}

/* Wait for every child. When one ends badly or they take too long, the
 * rest would wait forever for it at a barrier: kill them. */
static int reap(pid_t *pids, unsigned n, apr_time_t deadline)
{
    unsigned left = n;
    int failed = 0;
    while (left && !failed) {
        for (unsigned i = 0; i < n; i++) {
            int status;
            pid_t r;
            if (!pids[i])
                continue;
            r = waitpid(pids[i], &status, WNOHANG);
            if (r == 0)
                continue;
            if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "store_race: child %u ended badly (status %d)\n", i, r < 0 ? -1 : status);
                failed = 1;
            }
            pids[i] = 0;
            left--;
        }
        if (left && !failed && apr_time_now() > deadline) {
            fprintf(stderr, "store_race: children still running after %d s\n", WAIT_SECONDS);
            failed = 1;
        }
        if (left && !failed)
            usleep(2000);
    }
    kill_all(pids, n);
    return failed;
}

static int count_adds(void *baton, const mpp_jrec_t *r)
{
    apr_hash_t *h = baton;
    apr_pool_t *p = apr_hash_pool_get(h);
    unsigned *n;
    if (r->type != MPP_JREC_ADD)
        return 0;
    n = apr_hash_get(h, r->id, 32);
    if (!n) {
        n = apr_pcalloc(p, sizeof(*n));
        apr_hash_set(h, apr_pmemdup(p, r->id, 32), 32, n);
    }
    (*n)++;
    return 0;
}

/* The checks after a pass; returns the number of failed properties. */
static int verify(apr_pool_t *p, mpp_store_t *st, const char *what)
{
    unsigned doubles = 0, missing = 0, wrong_losers = 0, bad_values = 0, bad_counters = 0;
    unsigned winners_w = 0, winners_p = 0;
    unsigned char *won_w = apr_pcalloc(p, R.workers), *won_p = apr_pcalloc(p, R.procs);
    apr_uint64_t total = (apr_uint64_t)R.keys * R.workers;
    mpp_store_status_t s;
    const char *err = NULL;
    int fails = 0, sound;

    /* the links first: lookups in a broken table might never end */
    sound = mpp_shm_store_validate(st, &err) == 0;
    if (!sound) {
        printf("%svalidate: %s\n", what, err);
        fails++;
    }
    for (unsigned i = 0; i < R.keys; i++) {
        apr_uint32_t val[2];
        apr_size_t vlen = 0;
        if (R.ok[i] > 1) doubles++;
        if (R.ok[i] == 0) missing++;
        if (R.exists[i] != R.workers - 1) wrong_losers++;
        /* the winner's value is the one stored */
        if (sound && (mpp_store_get(st, R.key[i], val, &vlen, NULL) != MPP_STORE_OK || vlen != sizeof(val)
                      || val[1] != i || val[0] + 1 != R.winner[i]))
            bad_values++;
        if (R.winner[i]) {
            unsigned wk = R.winner[i] - 1;
            if (!won_w[wk]) { won_w[wk] = 1; winners_w++; }
            if (!won_p[wk / R.threads]) { won_p[wk / R.threads] = 1; winners_p++; }
        }
    }
    printf("%s%" APR_UINT64_T_FMT " contended adds, %u keys, %u double winners\n", what, total, R.keys, doubles);
    printf("%s  %u missing winners, %u keys with a wrong number of losers, %u wrong values; "
           "keys won by %u of %u workers in %u of %u processes\n",
           what, missing, wrong_losers, bad_values, winners_w, R.workers, winners_p, R.procs);
    if (doubles || missing || wrong_losers || bad_values)
        fails++;

    for (unsigned c = 0; c < NCOUNTERS && sound; c++) {
        unsigned char best[32], v[64], rec[32];
        apr_size_t vlen = 0;
        memset(best, 0, sizeof(best));
        for (unsigned wk = 0; wk < R.workers; wk++) {
            const unsigned char *m = R.maxc + ((apr_size_t)wk * NCOUNTERS + c) * 32;
            if (memcmp(m, best, 32) > 0)
                memcpy(best, m, 32);
        }
        record_of(best, rec);
        if (mpp_store_get(st, R.ckey[c], v, &vlen, NULL) != MPP_STORE_OK || vlen != 64
            || memcmp(v, best, 32) || memcmp(v + 32, rec, 32))
            bad_counters++;
    }
    printf("%s%u counters x %" APR_UINT64_T_FMT " advances (%u stored): %u not at the largest offered, "
           "%u reads going backwards\n", what, NCOUNTERS, (apr_uint64_t)R.workers * R.rounds * NCOUNTERS,
           R.ctl->advanced, bad_counters, R.ctl->backwards);
    if (bad_counters || R.ctl->backwards)
        fails++;
    if (R.ctl->errors) {
        printf("%s%u unexpected results\n", what, R.ctl->errors);
        fails++;
    }
    if (mpp_store_status(st, &s) != MPP_STORE_OK || s.used != R.keys + NCOUNTERS || s.refused) {
        printf("%sstatus: %" APR_UINT64_T_FMT " used, %" APR_UINT64_T_FMT " refused, expected %u and 0\n",
               what, s.used, s.refused, R.keys + NCOUNTERS);
        fails++;
    }
    return fails;
}

/* The durable pass: the journal holds exactly one add per key and loads
 * back into a fresh table with the same entries. */
static int verify_journal(apr_pool_t *p, const char *dir, const char *what)
{
    apr_hash_t *adds = apr_hash_make(p);
    const char *err = NULL, *path = apr_pstrcat(p, dir, "/", MPP_JOURNAL_FILE, NULL);
    mpp_jstat_t js;
    unsigned once = 0, other = 0;
    mpp_store_t *st;
    mpp_journal_t *j;
    void *mem;
    int fails = 0;

    if (mpp_journal_read(p, path, count_adds, adds, &js, &err)) {
        printf("%sjournal: %s\n", what, err);
        return 1;
    }
    for (unsigned i = 0; i < R.keys; i++) {
        unsigned char id[32];
        unsigned *n;
        mpp_store_key_id(R.key[i], id);
        n = apr_hash_get(adds, id, 32);
        if (n && *n == 1)
            once++;
        if (n)
            apr_hash_set(adds, id, 32, NULL);
    }
    other = apr_hash_count(adds);
    printf("%sjournal: %" APR_UINT64_T_FMT " records after %u compactions, %u of %u keys added exactly once, "
           "%u other adds%s\n", what, js.records, R.ctl->compactions, once, R.keys, other,
           js.torn ? ", torn" : "");
    if (once != R.keys || other || js.torn || !R.ctl->compactions)
        fails++;

    /* load into a fresh table: everything comes back */
    mem = calloc(1, R.bytes);
    if (!mem || mpp_shm_store_format(mem, R.bytes) || !(j = mpp_journal_open(p, dir, &err))
        || !(st = mpp_shm_store_attach(p, mem, R.bytes, NULL, j)) || mpp_shm_store_load(st, p, &js, &err)) {
        printf("%sreload: %s\n", what, err ? err : "cannot set up");
        free(mem);
        return fails + 1;
    }
    fails += verify(p, st, apr_pstrcat(p, what, "reloaded: ", NULL));
    free(mem);
    return fails;
}

static void remove_dir(const char *dir)
{
    char path[4096];
    const char *names[] = { MPP_JOURNAL_FILE, MPP_JOURNAL_FILE ".new", "lock" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

static int race(apr_pool_t *pp, int durable, unsigned keys, unsigned procs, unsigned threads,
                unsigned rounds)
{
    apr_pool_t *p;
    const char *base = getenv("TMPDIR"), *what = durable ? "durable: " : "", *err = NULL;
    char *dir;
    pid_t *pids;
    apr_size_t rbytes;
    unsigned char *res;
    mpp_store_t *st;
    apr_time_t start, deadline;
    unsigned forked = 0;
    int fails = 0;
    apr_status_t rv;

    apr_pool_create(&p, pp);
    memset(&R, 0, sizeof(R));
    R.keys = keys;
    R.procs = procs;
    R.threads = threads;
    R.workers = procs * threads;
    R.rounds = rounds;
    R.durable = durable;
    R.every = keys / 8 + 1 < 61 ? keys / 8 + 1 : 61;

    dir = apr_pstrcat(p, base && *base ? base : "/tmp", "/mpp-store-race.XXXXXX", NULL);
    if (!mkdtemp(dir)) {
        perror("store_race: mkdtemp");
        return 1;
    }
    R.lockfile = apr_pstrcat(p, dir, "/lock", NULL);

    /* the store, with room to spare */
    R.bytes = 4096 + (apr_size_t)(keys + NCOUNTERS + 64) * mpp_shm_store_entry_bytes();
    if (mpp_shm_store_capacity(R.bytes) < keys + NCOUNTERS || !(R.mem = shm_region(p, R.bytes))
        || mpp_shm_store_format(R.mem, R.bytes)) {
        fprintf(stderr, "store_race: cannot lay out the store\n");
        remove_dir(dir);
        return 1;
    }
    /* the shared results */
    rbytes = sizeof(ctl_t) + 3 * sizeof(apr_uint32_t) * keys + (apr_size_t)R.workers * NCOUNTERS * 32;
    if (!(res = shm_region(p, rbytes))) {
        remove_dir(dir);
        return 1;
    }
    memset(res, 0, rbytes);
    R.ctl = (ctl_t *)res;
    R.ok = (apr_uint32_t *)(res + sizeof(ctl_t));
    R.exists = R.ok + keys;
    R.winner = R.exists + keys;
    R.maxc = (unsigned char *)(R.winner + keys);

    if ((rv = apr_global_mutex_create(&R.mutex, R.lockfile, lock_mech(), p)) != APR_SUCCESS) {
        char buf[128];
        fprintf(stderr, "store_race: apr_global_mutex_create: %s\n", apr_strerror(rv, buf, sizeof(buf)));
        remove_dir(dir);
        return 1;
    }
    if (durable && !(R.journal = mpp_journal_open(p, dir, &err))) {
        fprintf(stderr, "store_race: %s\n", err);
        remove_dir(dir);
        return 1;
    }
    R.key = apr_palloc(p, sizeof(char *) * keys);
    for (unsigned i = 0; i < keys; i++)
        R.key[i] = apr_psprintf(p, "race:%s:%u", durable ? "durable" : "memory", i);
    for (unsigned c = 0; c < NCOUNTERS; c++)
        R.ckey[c] = apr_psprintf(p, "channel:%s:%u", durable ? "durable" : "memory", c);

    fflush(stdout);
    fflush(stderr);
    pids = apr_pcalloc(p, sizeof(pid_t) * procs);
    for (unsigned i = 0; i < procs; i++) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(child_main(i));
        if (pid < 0) {
            perror("store_race: fork");
            __atomic_store_n(&R.ctl->failed, 1, __ATOMIC_SEQ_CST);
            break;
        }
        pids[forked++] = pid;
    }
    /* the start line: every worker waiting, then all at once */
    start = apr_time_now();
    deadline = start + apr_time_from_sec(WAIT_SECONDS);
    while (__atomic_load_n(&R.ctl->ready, __ATOMIC_ACQUIRE) < R.workers
           && !__atomic_load_n(&R.ctl->failed, __ATOMIC_ACQUIRE) && apr_time_now() < deadline)
        usleep(1000);
    if (R.ctl->ready < R.workers) {
        fprintf(stderr, "store_race: only %u of %u workers started\n", R.ctl->ready, R.workers);
        kill_all(pids, forked);
        fails++;
    }
    else if (__atomic_store_n(&R.ctl->go, 1, __ATOMIC_RELEASE), reap(pids, forked, deadline))
        fails++;
    else {
        printf("%s%u processes x %u threads done in %.2f s\n", what, procs, threads,
               (double)(apr_time_now() - start) / APR_USEC_PER_SEC);
        if (!(st = mpp_shm_store_attach(p, R.mem, R.bytes, NULL, NULL))) {
            fprintf(stderr, "store_race: cannot attach\n");
            fails++;
        }
        else {
            fails += verify(p, st, what);
            if (durable)
                fails += verify_journal(p, dir, what);
        }
    }
    apr_global_mutex_destroy(R.mutex);
    remove_dir(dir);
    apr_pool_destroy(p);
    return fails;
}

static unsigned num_arg(int argc, char **argv, int i, unsigned dflt, unsigned max)
{
    char *end;
    unsigned long v;
    if (argc <= i)
        return dflt;
    v = strtoul(argv[i], &end, 10);
    if (*end || v == 0 || v > max) {
        fprintf(stderr, "usage: store_race [keys [processes [threads [rounds]]]]\n");
        exit(2);
    }
    return (unsigned)v;
}

int main(int argc, char **argv)
{
    apr_pool_t *p;
    unsigned keys = num_arg(argc, argv, 1, 4000, 10000000);
    unsigned procs = num_arg(argc, argv, 2, 8, 64);
    unsigned threads = num_arg(argc, argv, 3, 4, 64);
    unsigned rounds = num_arg(argc, argv, 4, 300, 1000000);
    int fails;

    if (apr_initialize() != APR_SUCCESS || apr_pool_create(&p, NULL) != APR_SUCCESS) {
        fprintf(stderr, "store_race: cannot initialise APR\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    fails = race(p, 0, keys, procs, threads, rounds);
    fails += race(p, 1, keys / 8 ? keys / 8 : 1, procs, threads, rounds / 10 ? rounds / 10 : 1);
    apr_pool_destroy(p);
    apr_terminate();
    if (fails)
        printf("FAIL: %d properties did not hold\n", fails);
    return fails ? 1 : 0;
}
