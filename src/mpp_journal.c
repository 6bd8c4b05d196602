#include "mpp_journal.h"

#include <apr_strings.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "MPPJRNL1"
#define HDR 44                                   /* type, klen, vlen, expires, id */
#define REC_MAX (HDR + 255 + 65535 + 4)
#define WRITE_MAX (HDR + 255 + 256 + 4)          /* the largest record this side writes */

struct mpp_journal_t {
    apr_pool_t *p;
    const char *dir;
    const char *path;
    int fd;
    apr_uint32_t gen;
    /* the fd is replaced under the store lock but synced outside it, by
     * any thread of the process: readers (syncs) and the writer (reopen) */
    pthread_rwlock_t fdlock;
};

struct mpp_jwriter_t {
    mpp_journal_t *j;
    const char *tmp;
    int fd;
    char buf[65536];
    apr_size_t used;
    int failed;
};

/* CRC-32 (IEEE), table-driven; the table is built once per process. */
static apr_uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (apr_uint32_t i = 0; i < 256; i++) {
        apr_uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
        crc_table[i] = c;
    }
}

static apr_uint32_t crc32(const unsigned char *d, apr_size_t n)
{
    apr_uint32_t c = 0xffffffffu;
    pthread_once(&crc_once, crc_init);
    for (apr_size_t i = 0; i < n; i++)
        c = crc_table[(c ^ d[i]) & 0xff] ^ (c >> 8);
    return ~c;
}

static void put16(unsigned char *b, unsigned v) { b[0] = (unsigned char)v; b[1] = (unsigned char)(v >> 8); }
static void put32(unsigned char *b, apr_uint32_t v) { for (int i = 0; i < 4; i++) b[i] = (unsigned char)(v >> (8 * i)); }
static void put64(unsigned char *b, apr_uint64_t v) { for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i)); }
static unsigned get16(const unsigned char *b) { return (unsigned)b[0] | ((unsigned)b[1] << 8); }
static apr_uint32_t get32(const unsigned char *b)
{
    apr_uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | b[i];
    return v;
}
static apr_uint64_t get64(const unsigned char *b)
{
    apr_uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | b[i];
    return v;
}

/* Serialise r into b (at least REC_MAX bytes); returns the length or 0. */
static apr_size_t encode(unsigned char *b, const mpp_jrec_t *r)
{
    apr_size_t klen = r->key ? strlen(r->key) : 0, n;
    if (klen > 255 || r->vlen > 65535) return 0;
    b[0] = (unsigned char)r->type;
    b[1] = (unsigned char)klen;
    put16(b + 2, (unsigned)r->vlen);
    put64(b + 4, (apr_uint64_t)r->expires);
    memcpy(b + 12, r->id, 32);
    memcpy(b + HDR, r->key ? r->key : "", klen);
    if (r->vlen) memcpy(b + HDR + klen, r->value, r->vlen);
    n = HDR + klen + r->vlen;
    put32(b + n, crc32(b, n));
    return n + 4;
}

static int write_all(int fd, const void *buf, apr_size_t n)
{
    const char *s = buf;
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        s += w;
        n -= (apr_size_t)w;
    }
    return 0;
}

static int open_append(mpp_journal_t *j, const char **err)
{
    struct stat st;
    /* never through a symlink: the directory belongs to the server user */
    int fd = open(j->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        *err = apr_psprintf(j->p, "cannot open %s: %s", j->path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) { close(fd); *err = "the journal is not a regular file"; return -1; }
    if (st.st_size == 0) {
        if (write_all(fd, MAGIC, 8) || fdatasync(fd)) {
            close(fd);
            *err = apr_psprintf(j->p, "cannot write %s: %s", j->path, strerror(errno));
            return -1;
        }
    }
    else {
        char m[8];
        if (pread(fd, m, 8, 0) != 8 || memcmp(m, MAGIC, 8)) {
            close(fd);
            *err = apr_psprintf(j->p, "%s is not a mod_mpp journal", j->path);
            return -1;
        }
    }
    pthread_rwlock_wrlock(&j->fdlock);
    if (j->fd >= 0) close(j->fd);
    j->fd = fd;
    pthread_rwlock_unlock(&j->fdlock);
    return 0;
}

mpp_journal_t *mpp_journal_open(apr_pool_t *p, const char *dir, const char **err)
{
    mpp_journal_t *j = apr_pcalloc(p, sizeof(*j));
    j->p = p;
    j->dir = apr_pstrdup(p, dir);
    j->path = apr_pstrcat(p, dir, "/", MPP_JOURNAL_FILE, NULL);
    j->fd = -1;
    pthread_rwlock_init(&j->fdlock, NULL);
    return open_append(j, err) ? NULL : j;
}

const char *mpp_journal_path(mpp_journal_t *j) { return j->path; }

int mpp_journal_chown(mpp_journal_t *j, long uid, long gid)
{
    return j->fd >= 0 && fchown(j->fd, (uid_t)uid, (gid_t)gid) == 0 ? 0 : -1;
}

apr_uint64_t mpp_journal_size(mpp_journal_t *j)
{
    struct stat st;
    return fstat(j->fd, &st) == 0 ? (apr_uint64_t)st.st_size : 0;
}

int mpp_journal_sync_gen(mpp_journal_t *j, apr_uint32_t gen)
{
    const char *err;
    if (j->gen == gen) return 0;
    if (open_append(j, &err)) return -1;
    j->gen = gen;
    return 0;
}

int mpp_journal_write(mpp_journal_t *j, const mpp_jrec_t *r)
{
    unsigned char b[WRITE_MAX];
    apr_size_t n;
    off_t before;

    if (r->vlen > 256 || !(n = encode(b, r))) return -1;
    if (j->fd < 0 || (before = lseek(j->fd, 0, SEEK_END)) < 0) return -1;
    if (write_all(j->fd, b, n)) {
        /* never leave a partial record in front of later ones */
        if (ftruncate(j->fd, before) != 0 || fdatasync(j->fd) != 0) {
            pthread_rwlock_wrlock(&j->fdlock);
            close(j->fd);
            j->fd = -1;   /* every later append fails: closed, not open */
            pthread_rwlock_unlock(&j->fdlock);
        }
        return -1;
    }
    return 0;
}

int mpp_journal_sync(mpp_journal_t *j)
{
    int rc;
    pthread_rwlock_rdlock(&j->fdlock);
    rc = j->fd >= 0 && fdatasync(j->fd) == 0 ? 0 : -1;
    pthread_rwlock_unlock(&j->fdlock);
    return rc;
}

int mpp_journal_append(mpp_journal_t *j, const mpp_jrec_t *r)
{
    return mpp_journal_write(j, r) || mpp_journal_sync(j) ? -1 : 0;
}

int mpp_journal_read(apr_pool_t *p, const char *path, int (*cb)(void *baton, const mpp_jrec_t *r),
                     void *baton, mpp_jstat_t *st, const char **err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    unsigned char *buf;
    apr_size_t have = 0, pos = 0, cap = 1 << 20;
    apr_uint64_t base = 8;
    int eof = 0;
    char m[8];

    memset(st, 0, sizeof(*st));
    if (fd < 0) {
        if (errno == ENOENT) return 0;
        *err = apr_psprintf(p, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    if (read(fd, m, 8) != 8 || memcmp(m, MAGIC, 8)) {
        struct stat sb;
        int empty = fstat(fd, &sb) == 0 && sb.st_size == 0;
        close(fd);
        if (empty) return 0;
        *err = apr_psprintf(p, "%s is not a mod_mpp journal", path);
        return -1;
    }
    st->bytes = 8;
    buf = apr_palloc(p, cap + REC_MAX);
    for (;;) {
        apr_size_t klen, vlen, n;
        mpp_jrec_t r;
        /* keep at least one whole record in the buffer */
        if (!eof && have - pos < REC_MAX) {
            memmove(buf, buf + pos, have - pos);
            base += pos;
            have -= pos;
            pos = 0;
            while (!eof && have < cap) {
                ssize_t rd = read(fd, buf + have, cap - have);
                if (rd < 0) {
                    if (errno == EINTR) continue;
                    close(fd);
                    *err = apr_psprintf(p, "cannot read %s: %s", path, strerror(errno));
                    return -1;
                }
                if (rd == 0) eof = 1;
                have += (apr_size_t)rd;
            }
        }
        if (have - pos == 0) break;
        if (have - pos < HDR + 4) { st->torn = 1; break; }
        klen = buf[pos + 1];
        vlen = get16(buf + pos + 2);
        n = HDR + klen + vlen;
        if (have - pos < n + 4 || get32(buf + pos + n) != crc32(buf + pos, n)
            || buf[pos] < MPP_JREC_ADD || buf[pos] > MPP_JREC_ADV) {
            st->torn = 1;
            break;
        }
        r.type = (mpp_jrec_type_t)buf[pos];
        r.expires = (apr_time_t)get64(buf + pos + 4);
        memcpy(r.id, buf + pos + 12, 32);
        r.key = klen ? apr_pstrmemdup(p, (const char *)buf + pos + HDR, klen) : NULL;
        r.value = buf + pos + HDR + klen;
        r.vlen = vlen;
        pos += n + 4;
        st->records++;
        st->bytes = base + pos;
        if (cb && cb(baton, &r)) break;
    }
    close(fd);
    return 0;
}

mpp_jwriter_t *mpp_journal_rewrite_begin(apr_pool_t *p, mpp_journal_t *j, const char **err)
{
    mpp_jwriter_t *w = apr_pcalloc(p, sizeof(*w));
    w->j = j;
    w->tmp = apr_pstrcat(p, j->path, ".new", NULL);
    unlink(w->tmp);   /* a fresh file, never one someone placed there */
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (w->fd < 0) {
        *err = apr_psprintf(p, "cannot create %s: %s", w->tmp, strerror(errno));
        return NULL;
    }
    memcpy(w->buf, MAGIC, 8);
    w->used = 8;
    return w;
}

int mpp_journal_rewrite_add(mpp_jwriter_t *w, const mpp_jrec_t *r)
{
    apr_size_t n;
    if (w->failed) return -1;
    if (r->vlen > 256) { w->failed = 1; return -1; }
    if (sizeof(w->buf) - w->used < WRITE_MAX) {
        if (write_all(w->fd, w->buf, w->used)) { w->failed = 1; return -1; }
        w->used = 0;
    }
    if (!(n = encode((unsigned char *)w->buf + w->used, r))) { w->failed = 1; return -1; }
    w->used += n;
    return 0;
}

int mpp_journal_rewrite_commit(mpp_jwriter_t *w, apr_uint32_t new_gen, const char **err)
{
    mpp_journal_t *j = w->j;
    int dfd;
    if (w->failed || write_all(w->fd, w->buf, w->used) || fsync(w->fd)) {
        *err = apr_psprintf(j->p, "cannot write %s: %s", w->tmp, strerror(errno));
        close(w->fd);
        unlink(w->tmp);
        return -1;
    }
    close(w->fd);
    if (rename(w->tmp, j->path) != 0) {
        *err = apr_psprintf(j->p, "cannot replace %s: %s", j->path, strerror(errno));
        unlink(w->tmp);
        return -1;
    }
    /* the rename itself must survive a crash */
    dfd = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) { fsync(dfd); close(dfd); }
    /* the new file is the journal now, whatever happens next: a process that
     * cannot open it must fail its appends, never write to the old one */
    j->gen = new_gen;
    if (open_append(j, err)) {
        pthread_rwlock_wrlock(&j->fdlock);
        if (j->fd >= 0) close(j->fd);
        j->fd = -1;
        pthread_rwlock_unlock(&j->fdlock);
    }
    return 0;
}
