/* The shared store in httpd: one anonymous shm segment, one global mutex
 * (type "mpp-store", so the Mutex directive applies) and one journal, all
 * created once in the parent and kept across graceful restarts, so old and
 * new children never see two different stores. */
#include "mod_mpp.h"

#include "http_log.h"
#include "mpm_common.h"
#include "unixd.h"
#include "util_mutex.h"

#include <apr_file_info.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mpp_store_shm.h"

APLOG_USE_MODULE(mpp);

#define RETAINED "mod_mpp:store"

typedef struct {
    apr_shm_t *shm;
    apr_global_mutex_t *mutex;
    apr_global_mutex_t *settle;   /* mpp-settle: one relayer transaction at a time */
    mpp_journal_t *journal;
    apr_size_t size;
    const char *dir;
    int lockfd;                   /* flock on dir/store.lock: one server per state dir */
    int ready;
} retained_t;

static retained_t *R;
static mpp_store_t *store;   /* this process's handle */

mpp_store_t *mpp_the_store(void)
{
    return store;
}

const char *mpp_store_dir(void)
{
    return mpp_store_cfg.dir ? mpp_store_cfg.dir : MPP_DEFAULT_STATEDIR;
}

void mpp_store_pre_config(apr_pool_t *pconf)
{
    ap_mutex_register(pconf, MPP_STORE_MUTEX, NULL, APR_LOCK_DEFAULT, 0);
    ap_mutex_register(pconf, MPP_SETTLE_MUTEX, NULL, APR_LOCK_DEFAULT, 0);
    mpp_store_register(&mpp_store_shm_provider);
}

/* The state dir must exist, belong to the server user and be closed to others. */
static int prepare_dir(apr_pool_t *p, server_rec *s, const char *dir)
{
    struct stat st;
    if (apr_dir_make_recursive(dir, APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_UEXECUTE, p)
        != APR_SUCCESS || stat(dir, &st) != 0) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, errno, s, MPPLOGNO(00300) "MPPStore dir=%s cannot be created", dir);
        return -1;
    }
    if (st.st_mode & S_IWOTH) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, MPPLOGNO(00301) "MPPStore dir=%s is world-writable", dir);
        return -1;
    }
    if (geteuid() == 0) {
        if (chown(dir, ap_unixd_config.user_id, ap_unixd_config.group_id) != 0
            || chmod(dir, 0700) != 0) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, errno, s,
                         MPPLOGNO(00302) "MPPStore dir=%s: cannot give it to the server user", dir);
            return -1;
        }
    }
    return 0;
}

int mpp_store_check(apr_pool_t *p, server_rec *s)
{
    struct stat st;
    const char *dir = mpp_store_dir();
    if (stat(dir, &st) == 0 && (st.st_mode & S_IWOTH)) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     MPPLOGNO(00303) "MPPStore dir=%s is world-writable: payment records must be private (chmod 0700)", dir);
        return -1;
    }
    return 0;
}

int mpp_store_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    apr_pool_t *pp = s->process->pool;
    const char *dir = mpp_store_dir(), *err;
    mpp_jstat_t jst;
    apr_status_t rv;
    void *mem;

    R = ap_retained_data_get(RETAINED);
    if (R && R->ready) {
        if (R->size != mpp_store_cfg.size || strcmp(R->dir, dir))
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         MPPLOGNO(00304) "MPPStore size= or dir= changed; the running store is kept "
                         "until a full restart");
        store = mpp_shm_store_attach(pconf, apr_shm_baseaddr_get(R->shm), R->size, R->mutex, R->journal);
        return store ? OK : HTTP_INTERNAL_SERVER_ERROR;
    }
    if (!R) R = ap_retained_data_create(RETAINED, sizeof(*R));
    memset(R, 0, sizeof(*R));
    if (prepare_dir(ptemp, s, dir))
        return HTTP_INTERNAL_SERVER_ERROR;
    /* two servers on one journal would each rewrite it under the other */
    R->lockfd = open(apr_pstrcat(ptemp, dir, "/store.lock", NULL), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (R->lockfd >= 0) {
        struct stat lst;
        if (fstat(R->lockfd, &lst) != 0 || !S_ISREG(lst.st_mode)) { close(R->lockfd); R->lockfd = -1; }
    }
    if (R->lockfd < 0 || flock(R->lockfd, LOCK_EX | LOCK_NB) != 0) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, errno, s, MPPLOGNO(00305) "MPPStore dir=%s is in use by another server "
                     "(each server needs its own state directory)", dir);
        if (R->lockfd >= 0) close(R->lockfd);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (geteuid() == 0 && fchown(R->lockfd, ap_unixd_config.user_id, ap_unixd_config.group_id) != 0) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, errno, s, MPPLOGNO(00306) "MPPStore dir=%s: cannot give store.lock to the server user", dir);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    R->size = mpp_store_cfg.size;
    R->dir = apr_pstrdup(pp, dir);
    if ((rv = apr_shm_create(&R->shm, R->size, NULL, pp)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, MPPLOGNO(00307) "cannot create %lu bytes of shared memory "
                     "for MPPStore", (unsigned long)R->size);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    mem = apr_shm_baseaddr_get(R->shm);
    if (mpp_shm_store_format(mem, R->size)) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, MPPLOGNO(00308) "MPPStore size= is too small");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (ap_global_mutex_create(&R->mutex, NULL, MPP_STORE_MUTEX, NULL, s, pp, 0) != APR_SUCCESS
        || ap_global_mutex_create(&R->settle, NULL, MPP_SETTLE_MUTEX, NULL, s, pp, 0) != APR_SUCCESS)
        return HTTP_INTERNAL_SERVER_ERROR; /* core logged why */
    if (!(R->journal = mpp_journal_open(pp, dir, &err))) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, MPPLOGNO(00309) "%s", err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    store = mpp_shm_store_attach(pconf, mem, R->size, R->mutex, R->journal);
    if (!store || mpp_shm_store_load(store, ptemp, &jst, &err)) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, MPPLOGNO(00310) "cannot load the store journal: %s",
                     store ? err : "bad layout");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (geteuid() == 0 && mpp_journal_chown(R->journal, ap_unixd_config.user_id, ap_unixd_config.group_id)) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, errno, s, MPPLOGNO(00311) "cannot give %s to the server user",
                     mpp_journal_path(R->journal));
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                 MPPLOGNO(00312) "store of %" APR_UINT64_T_FMT " entries, journal %s: %" APR_UINT64_T_FMT
                 " records replayed%s", mpp_shm_store_capacity(R->size), mpp_journal_path(R->journal),
                 jst.records, jst.torn ? " (a torn last record was dropped)" : "");
    R->ready = 1;
    return OK;
}

int mpp_settle_lock(void)
{
    return R && R->settle && mpp_global_mutex_lock(R->settle) == APR_SUCCESS ? 0 : -1;
}

void mpp_settle_unlock(void)
{
    apr_global_mutex_unlock(R->settle);
}

void mpp_store_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;
    if (!R || !R->ready)
        return;
    rv = apr_global_mutex_child_init(&R->mutex, apr_global_mutex_lockfile(R->mutex), pchild);
    if (rv == APR_SUCCESS)
        rv = apr_global_mutex_child_init(&R->settle, apr_global_mutex_lockfile(R->settle), pchild);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, MPPLOGNO(00313) "cannot attach the mpp-store mutex");
        store = NULL;   /* every paid request gets 503 */
        return;
    }
    store = mpp_shm_store_attach(pchild, apr_shm_baseaddr_get(R->shm), R->size, R->mutex, R->journal);
}
