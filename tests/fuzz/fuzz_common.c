/* Linked into every fuzz target and replay binary. */
#include "fuzz.h"

#include <apr_general.h>
#include <dlfcn.h>

#ifndef FUZZ_KEYS_DIR
#define FUZZ_KEYS_DIR "tests/fuzz/keys"
#endif

static apr_pool_t *pool, *forever;
static int tracking;

/* APR carves allocations out of 8 KiB blocks, so a write past the end of a
 * pool buffer lands in the next allocation and no sanitizer sees it. While
 * fuzzing, every apr_palloc (also the ones inside libapr: apr_pstrdup,
 * apr_array_push, ...) is its own malloc, freed by a pool cleanup, so ASan
 * reports the first byte out of bounds. The cleanup record itself comes
 * from the real allocator (the flag stops the recursion).
 * APR's blocks may be mmap'd, where LeakSanitizer does not look for
 * pointers: every live block is also on a list rooted in a global, so what
 * a pool holds (until it is cleared) is never reported as leaked. Pools are
 * used by one thread at a time here. */
typedef struct block {
    struct block *prev, *next;
    void *mem;
} block_t;

static block_t live = { &live, &live, NULL };
static void *(*real_palloc)(apr_pool_t *, apr_size_t);
static __thread int inside;

static apr_status_t free_block(void *data)
{
    block_t *b = data;
    b->prev->next = b->next;
    b->next->prev = b->prev;
    free(b->mem);
    free(b);
    return APR_SUCCESS;
}

void *apr_palloc(apr_pool_t *p, apr_size_t size)
{
    block_t *b;
    if (!real_palloc) {
        *(void **)&real_palloc = dlsym(RTLD_NEXT, "apr_palloc");
        if (!real_palloc) abort();
    }
    if (!tracking || inside) return real_palloc(p, size);
    inside = 1;
    if (!(b = malloc(sizeof(*b))) || !(b->mem = malloc(size ? size : 1))) abort();
    b->prev = &live;
    b->next = live.next;
    live.next->prev = b;
    live.next = b;
    apr_pool_cleanup_register(p, b, free_block, apr_pool_cleanup_null);
    inside = 0;
    return b->mem;
}

/* Everything pools hold is freed before LeakSanitizer's exit check. */
static void fuzz_fini(void)
{
    tracking = 0;
    apr_terminate();
}

void fuzz_init(void)
{
    if (pool) return;
    if (apr_initialize() != APR_SUCCESS || apr_pool_create(&pool, NULL) != APR_SUCCESS
        || apr_pool_create(&forever, NULL) != APR_SUCCESS)
        abort();
    atexit(fuzz_fini);
    tracking = 1;
}

apr_pool_t *fuzz_begin(void)
{
    return pool;
}

apr_pool_t *fuzz_forever(void)
{
    return forever;
}

void fuzz_end(void)
{
    apr_pool_clear(pool);
}

char *fuzz_str(apr_pool_t *p, const uint8_t *data, size_t size)
{
    char *s = apr_palloc(p, size + 1);
    if (size) memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

const char *fuzz_keys_dir(void)
{
    const char *e = getenv("MPP_FUZZ_KEYS");
    return e && *e ? e : FUZZ_KEYS_DIR;
}

const char *fuzz_hex(apr_pool_t *p, const unsigned char *b, size_t n)
{
    static const char h[] = "0123456789abcdef";
    char *o = apr_palloc(p, 2 * n + 1);
    for (size_t i = 0; i < n; i++) {
        o[2 * i] = h[b[i] >> 4];
        o[2 * i + 1] = h[b[i] & 15];
    }
    o[2 * n] = '\0';
    return o;
}

char *fuzz_field(apr_pool_t *p, fuzz_in_t *in, uint8_t sep)
{
    const uint8_t *e;
    size_t len;
    char *s;
    if (!in->n) return fuzz_str(p, NULL, 0);
    e = memchr(in->d, sep, in->n);
    len = e ? (size_t)(e - in->d) : in->n;
    s = fuzz_str(p, in->d, len);
    in->d += len + (e ? 1 : 0);
    in->n -= len + (e ? 1 : 0);
    return s;
}

void fuzz_bytes(fuzz_in_t *in, unsigned char *out, size_t n)
{
    size_t k = in->n < n ? in->n : n;
    if (k < n) memset(out + k, 0, n - k);
    if (!k) return;
    memcpy(out, in->d, k);
    in->d += k;
    in->n -= k;
}
