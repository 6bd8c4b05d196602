/* mpp-keygen: key files for mod_mpp, written the way the module reads them.
 *   mpp-keygen [--force] [--owner USER[:GROUP]] secret FILE
 *       the MPPSecretFile challenge key: base64 of 48 random bytes
 *   mpp-keygen [--force] [--owner USER[:GROUP]] evm-key FILE
 *       an EVM private key (relayer-key=): 0x + 64 hex digits; prints the
 *       address (EIP-55) on stdout
 * Files are created with mode 0600 and never through a symlink. An existing
 * file is kept unless --force, which replaces it atomically (a rename), so a
 * reader never sees half a key. Exit: 0 done, 1 failure, 2 usage. */
#include <apr_general.h>
#include <apr_strings.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mpp_b64.h"
#include "mpp_crypto.h"
#include "mpp_keccak.h"
#include "mpp_secp.h"
#include "mpp_u256.h"

#define MPP_KEYGEN_SECRET_BYTES 48   /* base64: 64 characters, twice the loader's minimum */

static const char *prog = "mpp-keygen";

static int usage(FILE *out, int code)
{
    fprintf(out,
            "usage: mpp-keygen [--force] [--owner USER[:GROUP]] secret FILE\n"
            "       mpp-keygen [--force] [--owner USER[:GROUP]] evm-key FILE\n"
            "  secret   a challenge key for MPPSecretFile (base64 of %d random bytes)\n"
            "  evm-key  an EVM private key for MPPNetwork relayer-key= (0x + 64 hex);\n"
            "           prints its address on stdout\n"
            "  --force  replace FILE if it exists\n"
            "  --owner  give FILE to USER (and GROUP, default USER's group); mode stays 0600\n",
            MPP_KEYGEN_SECRET_BYTES);
    return code;
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

/* A name or a number, as chown(1) takes them. */
static int mpp_parse_id(const char *s, int is_group, uid_t *uid, gid_t *gid)
{
    char *end;
    if (!*s) return -1;
    if (is_group) {
        struct group *g = getgrnam(s);
        if (g) { *gid = g->gr_gid; return 0; }
    }
    else {
        struct passwd *pw = getpwnam(s);
        if (pw) { *uid = pw->pw_uid; *gid = pw->pw_gid; return 0; }
    }
    errno = 0;
    unsigned long n = strtoul(s, &end, 10);
    if (errno || *end || !isdigit((unsigned char)*s) || n > 0x7fffffffUL) return -1;
    if (is_group) *gid = (gid_t)n;
    else {
        struct passwd *pw = getpwuid((uid_t)n);
        *uid = (uid_t)n;
        if (pw) *gid = pw->pw_gid;
        else return -1;   /* an unknown uid has no group to default to */
    }
    return 0;
}

static int mpp_parse_owner(apr_pool_t *p, const char *spec, uid_t *uid, gid_t *gid)
{
    char *user = apr_pstrdup(p, spec), *group = strchr(user, ':');
    if (group) *group++ = '\0';
    if (mpp_parse_id(user, 0, uid, gid))
        return fail("--owner %s: no such user", spec);
    if (group && mpp_parse_id(group, 1, uid, gid))
        return fail("--owner %s: no such group", spec);
    return 0;
}

static int mpp_write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Writes content to path with mode 0600 (and owner); 0 or 1 with a message. */
static int mpp_write_key_file(apr_pool_t *p, const char *path, const char *content, int force,
                              int chown_it, uid_t uid, gid_t gid)
{
    char *dir = apr_pstrdup(p, path), *slash = strrchr(dir, '/'), *tmp = NULL;
    const char *created, *what;
    int fd;

    if (slash) *(slash == dir ? slash + 1 : slash) = '\0';
    else dir = apr_pstrdup(p, ".");
    if (force) {
        /* a private name beside the target: the rename below must not cross filesystems */
        tmp = apr_pstrcat(p, dir, "/.mpp-keygen.XXXXXX", NULL);
        fd = mkostemp(tmp, O_CLOEXEC);
        created = tmp;
    }
    else {
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        created = path;
    }
    if (fd < 0) {
        if (!force && errno == EEXIST)
            return fail("%s exists; not overwritten (--force replaces it)", path);
        return fail("cannot create %s%s: %s", force ? "a file in " : "", force ? dir : path,
                    strerror(errno));
    }
    /* the umask may have narrowed the mode; the loader wants exactly this */
    what = "set the mode of";
    if (fchmod(fd, 0600) != 0) goto bad;
    what = "change the owner of";
    if (chown_it && fchown(fd, uid, gid) != 0) goto bad;
    what = "write";
    if (mpp_write_all(fd, content, strlen(content)) != 0 || fsync(fd) != 0) goto bad;
    if (close(fd) != 0) { fd = -1; goto bad; }
    fd = -1;
    what = "replace";
    if (force && rename(tmp, path) != 0) goto bad;
    /* the new name must survive a crash as the content does */
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        fsync(fd);
        close(fd);
    }
    return 0;
bad:
    {
        int e = errno;
        if (fd >= 0) close(fd);
        unlink(created);
        return fail("cannot %s %s: %s", what, path, strerror(e));
    }
}

/* EIP-55: a hex letter is upper case where keccak256 of the lower-case hex
 * has a nibble of 8 or more. */
static void mpp_eip55(const unsigned char addr[20], char out[43])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char h[32];
    out[0] = '0';
    out[1] = 'x';
    for (int i = 0; i < 20; i++) {
        out[2 + 2 * i] = hex[addr[i] >> 4];
        out[3 + 2 * i] = hex[addr[i] & 15];
    }
    out[42] = '\0';
    mpp_keccak256(out + 2, 40, h);
    for (int i = 0; i < 40; i++) {
        int nibble = (i & 1) ? (h[i / 2] & 15) : (h[i / 2] >> 4);
        if (nibble >= 8) out[2 + i] = (char)toupper((unsigned char)out[2 + i]);
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"force", no_argument, NULL, 'f'},
        {"owner", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *owner = NULL, *cmd, *path;
    int c, force = 0, rc;
    uid_t uid = 0;
    gid_t gid = 0;
    apr_pool_t *p;

    while ((c = getopt_long(argc, argv, "fo:h", opts, NULL)) != -1) {
        if (c == 'f') force = 1;
        else if (c == 'o') owner = optarg;
        else if (c == 'h') return usage(stdout, 0);
        else return usage(stderr, 2);
    }
    if (argc - optind != 2) return usage(stderr, 2);
    cmd = argv[optind];
    path = argv[optind + 1];
    if (strcmp(cmd, "secret") && strcmp(cmd, "evm-key")) {
        fprintf(stderr, "%s: unknown command %s\n", prog, cmd);
        return usage(stderr, 2);
    }
    if (!*path) return usage(stderr, 2);
    if (apr_initialize() != APR_SUCCESS || apr_pool_create(&p, NULL) != APR_SUCCESS) {
        fprintf(stderr, "%s: cannot initialise APR\n", prog);
        return 1;
    }
    /* every check before the file exists, so a failure leaves nothing behind */
    if (owner && mpp_parse_owner(p, owner, &uid, &gid)) return 1;

    if (!strcmp(cmd, "secret")) {
        unsigned char raw[MPP_KEYGEN_SECRET_BYTES];
        char *text;
        if (mpp_random(raw, sizeof(raw))) return fail("no random bytes from the system");
        text = apr_pstrcat(p, mpp_b64std_encode(p, raw, sizeof(raw)), "\n", NULL);
        rc = mpp_write_key_file(p, path, text, force, owner != NULL, uid, gid);
        memset(raw, 0, sizeof(raw));
        memset(text, 0, strlen(text));
    }
    else {
        unsigned char key[32], addr[20];
        char *text, shown[43];
        int tries = 0;
        /* a draw of zero or >= the curve order is not a key; it is rare enough
         * that a few tries always suffice */
        do {
            if (mpp_random(key, sizeof(key))) return fail("no random bytes from the system");
        } while (mpp_secp_address(key, addr) && ++tries < 8);
        if (tries == 8) return fail("no valid secp256k1 key could be drawn");
        text = apr_pstrcat(p, mpp_hex_encode(p, key, sizeof(key)), "\n", NULL);
        rc = mpp_write_key_file(p, path, text, force, owner != NULL, uid, gid);
        memset(key, 0, sizeof(key));
        memset(text, 0, strlen(text));
        if (!rc) {
            mpp_eip55(addr, shown);
            printf("%s\n", shown);
            if (fflush(stdout) != 0) rc = fail("cannot write the address to stdout");
        }
    }
    apr_pool_destroy(p);
    apr_terminate();
    return rc;
}
