/* Secret and key files, read by the parent at startup, and the fallback
 * random challenge key kept across graceful restarts. */
#include "mod_mpp.h"

#include "http_log.h"

#include <apr_file_io.h>
#include <apr_strings.h>
#include <string.h>
#include <sys/stat.h>

#include "mpp_crypto.h"
#include "mpp_limits.h"
#include "mpp_secp.h"
#include "mpp_u256.h"

APLOG_USE_MODULE(mpp);

#define MAX_KEY_FILE 4096

/* Key material must not be readable by others nor writable by the group. */
static const char *check_mode(apr_pool_t *p, const char *path, struct stat *st)
{
    if (stat(path, st) != 0)
        return "cannot be read (missing or no permission)";
    if (!S_ISREG(st->st_mode))
        return "is not a regular file";
    if (st->st_mode & (S_IROTH | S_IWOTH | S_IWGRP))
        return apr_psprintf(p, "is accessible by others (mode %04o); chmod 0600 or 0640",
                            (unsigned)(st->st_mode & 07777));
    if (st->st_size > MAX_KEY_FILE)
        return "is too large for a key file";
    return NULL;
}

const char *mpp_key_file_check(apr_pool_t *p, const char *path)
{
    struct stat st;
    const char *e = check_mode(p, path, &st);
    return e ? apr_psprintf(p, "key file %s %s", path, e) : NULL;
}

const char *mpp_secret_load(apr_pool_t *p, const char *path, const unsigned char **key,
                            apr_size_t *keylen)
{
    struct stat st;
    apr_file_t *f;
    apr_size_t n;
    char *buf;
    const char *e;

    if (*path != '/')
        return "must be an absolute path";
    if ((e = check_mode(p, path, &st)))
        return e;
    if (apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, 0, p) != APR_SUCCESS)
        return "cannot be opened";
    buf = apr_palloc(p, MAX_KEY_FILE + 1);
    n = MAX_KEY_FILE;
    if (apr_file_read_full(f, buf, n, &n) != APR_SUCCESS && n == 0) {
        apr_file_close(f);
        return "is empty";
    }
    apr_file_close(f);
    if (n && buf[n - 1] == '\n') n--;   /* one trailing newline is not key material */
    if (n && buf[n - 1] == '\r') n--;
    if (n < MPP_HMAC_KEY_MIN)
        return apr_psprintf(p, "holds %lu bytes; the challenge key needs at least %d "
                            "(openssl rand -base64 48 > file)", (unsigned long)n, MPP_HMAC_KEY_MIN);
    *key = (const unsigned char *)buf;
    *keylen = n;
    return NULL;
}

const char *mpp_evm_key_load(apr_pool_t *p, const char *path, unsigned char key[32],
                             unsigned char addr[20])
{
    struct stat st;
    apr_file_t *f;
    char buf[80];
    apr_size_t n = sizeof(buf) - 1;
    const char *e;

    if ((e = check_mode(p, path, &st)))
        return apr_psprintf(p, "key file %s %s", path, e);
    if (apr_file_open(&f, path, APR_FOPEN_READ, 0, p) != APR_SUCCESS)
        return apr_psprintf(p, "key file %s cannot be opened", path);
    apr_file_read_full(f, buf, n, &n);
    apr_file_close(f);
    buf[n] = '\0';
    if (n && buf[n - 1] == '\n') buf[--n] = '\0';
    if (n && buf[n - 1] == '\r') buf[--n] = '\0';
    /* never echo the file's content: it is a private key */
    if (mpp_hex_decode(buf, key, 32) || mpp_secp_address(key, addr)) {
        memset(buf, 0, sizeof(buf));
        return apr_psprintf(p, "key file %s does not hold 0x and 64 hex digits of a valid key", path);
    }
    memset(buf, 0, sizeof(buf));
    return NULL;
}

const char *mpp_token_file_load(apr_pool_t *p, const char *path, const char **value)
{
    const unsigned char *buf;
    apr_size_t n;
    struct stat st;
    const char *e;
    apr_file_t *f;
    char *t;

    if (*path != '/') return apr_psprintf(p, "file=%s must be an absolute path", path);
    if ((e = check_mode(p, path, &st))) return apr_psprintf(p, "file %s %s", path, e);
    if (apr_file_open(&f, path, APR_FOPEN_READ, 0, p) != APR_SUCCESS)
        return apr_psprintf(p, "file %s cannot be opened", path);
    t = apr_palloc(p, MAX_KEY_FILE + 1);
    n = MAX_KEY_FILE;
    apr_file_read_full(f, t, n, &n);
    apr_file_close(f);
    if (n && t[n - 1] == '\n') n--;
    if (n && t[n - 1] == '\r') n--;
    t[n] = '\0';
    buf = (const unsigned char *)t;
    if (!n) return apr_psprintf(p, "file %s is empty", path);
    for (apr_size_t i = 0; i < n; i++)
        if (buf[i] < 0x20 || buf[i] == 0x7f)
            return apr_psprintf(p, "file %s holds a control character (a header value cannot)", path);
    *value = t;
    return NULL;
}

#define RETAINED_KEY "mod_mpp:challenge-key"

typedef struct { unsigned char key[32]; int ready; } retained_key_t;

static mpp_keys_t fallback;

int mpp_secret_post_config(apr_pool_t *pconf, server_rec *s)
{
    retained_key_t *rk = ap_retained_data_get(RETAINED_KEY);
    int needed = 0;

    for (server_rec *v = s; v; v = v->next) {
        mpp_srv_cfg_t *c = ap_get_module_config(v->module_config, &mpp_module);
        if (!c->keys_set) needed = 1;
    }
    if (!needed)
        return OK;
    if (!rk) {
        rk = ap_retained_data_create(RETAINED_KEY, sizeof(*rk));
        rk->ready = 0;
    }
    if (!rk->ready) {
        if (mpp_random(rk->key, sizeof(rk->key))) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, MPPLOGNO(00200) "no random bytes for the challenge key");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        rk->ready = 1;
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     MPPLOGNO(00201) "MPPSecretFile is not set; challenges use a random key kept across "
                     "graceful restarts only. Set MPPSecretFile when several servers share a realm.");
    }
    fallback.key = rk->key;
    fallback.keylen = sizeof(rk->key);
    return OK;
}

const mpp_keys_t *mpp_server_keys(server_rec *s)
{
    mpp_srv_cfg_t *c = ap_get_module_config(s->module_config, &mpp_module);
    return c->keys_set ? &c->keys : &fallback;
}
