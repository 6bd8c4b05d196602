/* mpp-store: an operator's view of a mod_mpp store journal.
 *   mpp-store [-d DIR] stat        records, live entries, torn tail
 *   mpp-store [-d DIR] dump        every live entry
 *   mpp-store [-d DIR] get KEY     one entry (exit 1 when absent)
 * It reads DIR/store.journal (default: the build's state dir) and never
 * writes; it is safe while httpd runs. */
#include <apr_general.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mpp_journal.h"
#include "mpp_store.h"
#include "mpp_time.h"

#ifndef MPP_DEFAULT_STATEDIR
#define MPP_DEFAULT_STATEDIR "/var/lib/apache2/mpp"
#endif

typedef struct {
    mpp_jrec_type_t type;
    const char *key;
    unsigned char id[32];
    unsigned char value[256];
    apr_size_t vlen;
    apr_time_t expires;
} entry_t;

typedef struct {
    apr_pool_t *p;
    apr_hash_t *live;        /* id -> entry_t */
    apr_time_t now;
} view_t;

static int collect(void *baton, const mpp_jrec_t *r)
{
    view_t *v = baton;
    entry_t *e = apr_hash_get(v->live, r->id, 32);
    if (r->type == MPP_JREC_DEL) {
        if (e) apr_hash_set(v->live, e->id, 32, NULL);
        return 0;
    }
    if (!e) {
        e = apr_pcalloc(v->p, sizeof(*e));
        memcpy(e->id, r->id, 32);
        apr_hash_set(v->live, e->id, 32, e);
    }
    e->type = r->type;
    if (r->key) e->key = r->key;          /* compacted records carry only the id */
    e->vlen = r->vlen < sizeof(e->value) ? r->vlen : sizeof(e->value);
    memcpy(e->value, r->value, e->vlen);
    e->expires = r->expires;
    return 0;
}

static const char *hex(apr_pool_t *p, const unsigned char *b, apr_size_t n)
{
    static const char h[] = "0123456789abcdef";
    char *o = apr_palloc(p, 2 * n + 1);
    for (apr_size_t i = 0; i < n; i++) { o[2 * i] = h[b[i] >> 4]; o[2 * i + 1] = h[b[i] & 15]; }
    o[2 * n] = '\0';
    return o;
}

static void print_entry(apr_pool_t *p, const entry_t *e)
{
    printf("%s\t%s\t%s\t%s\n", e->key ? e->key : apr_pstrcat(p, "id:", hex(p, e->id, 32), NULL),
           e->expires ? mpp_time_format(p, e->expires) : "never",
           e->type == MPP_JREC_ADV ? "counter" : "entry",
           e->vlen ? hex(p, e->value, e->vlen) : "-");
}

static int usage(void)
{
    fprintf(stderr, "usage: mpp-store [-d DIR] stat | dump | get KEY\n"
                    "  reads DIR/" MPP_JOURNAL_FILE " (default DIR: " MPP_DEFAULT_STATEDIR ")\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *dir = MPP_DEFAULT_STATEDIR, *cmd, *err = NULL;
    apr_pool_t *p;
    mpp_jstat_t st;
    view_t v;
    int c, live = 0, expired = 0;

    while ((c = getopt(argc, argv, "d:h")) != -1) {
        if (c == 'd') dir = optarg;
        else return usage();
    }
    if (optind >= argc) return usage();
    cmd = argv[optind];
    if (apr_initialize() != APR_SUCCESS || apr_pool_create(&p, NULL) != APR_SUCCESS) return 3;
    v.p = p;
    v.live = apr_hash_make(p);
    v.now = apr_time_now();
    if (mpp_journal_read(p, apr_pstrcat(p, dir, "/", MPP_JOURNAL_FILE, NULL), collect, &v, &st, &err)) {
        fprintf(stderr, "mpp-store: %s\n", err);
        return 3;
    }
    for (apr_hash_index_t *hi = apr_hash_first(p, v.live); hi; hi = apr_hash_next(hi)) {
        entry_t *e = apr_hash_this_val(hi);
        if (e->expires && e->expires <= v.now) { expired++; apr_hash_set(v.live, e->id, 32, NULL); }
        else live++;
    }
    if (!strcmp(cmd, "stat") && optind + 1 == argc) {
        printf("journal\t%s/%s\nrecords\t%" APR_UINT64_T_FMT "\nbytes\t%" APR_UINT64_T_FMT
               "\nlive\t%d\nexpired\t%d\ntorn_tail\t%s\n", dir, MPP_JOURNAL_FILE, st.records, st.bytes,
               live, expired, st.torn ? "yes" : "no");
        return 0;
    }
    if (!strcmp(cmd, "dump") && optind + 1 == argc) {
        for (apr_hash_index_t *hi = apr_hash_first(p, v.live); hi; hi = apr_hash_next(hi))
            print_entry(p, apr_hash_this_val(hi));
        return 0;
    }
    if (!strcmp(cmd, "get") && optind + 2 == argc) {
        unsigned char id[32];
        entry_t *e;
        mpp_store_key_id(argv[optind + 1], id);
        if (!(e = apr_hash_get(v.live, id, 32))) {
            fprintf(stderr, "mpp-store: %s: not in the store\n", argv[optind + 1]);
            return 1;
        }
        if (!e->key) e->key = argv[optind + 1];
        print_entry(p, e);
        return 0;
    }
    return usage();
}
