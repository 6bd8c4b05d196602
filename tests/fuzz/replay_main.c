/* Replays files through LLVMFuzzerTestOneInput without libFuzzer, so the
 * committed corpora run under any compiler's sanitizers in the test suite.
 * Usage: replay_<target> DIR|FILE ...  (directories: every regular file, in
 * name order; hidden files are skipped). */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

static long replayed;

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;
    if (!f) { fprintf(stderr, "%s: %s\n", path, strerror(errno)); return -1; }
    if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
        fprintf(stderr, "%s: cannot size\n", path);
        fclose(f);
        return -1;
    }
    /* an exact-size buffer (never NULL), so reads past the input are caught */
    buf = malloc((size_t)n ? (size_t)n : 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "%s: cannot read\n", path);
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t)n);
    free(buf);
    replayed++;
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int replay_path(const char *path)
{
    struct stat st;
    struct dirent **ents;
    int n, rc = 0;
    if (stat(path, &st)) { fprintf(stderr, "%s: %s\n", path, strerror(errno)); return -1; }
    if (!S_ISDIR(st.st_mode)) return replay_file(path);
    if ((n = scandir(path, &ents, NULL, by_name)) < 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char full[4096];
        struct stat fs;
        if (ents[i]->d_name[0] != '.'
            && snprintf(full, sizeof(full), "%s/%s", path, ents[i]->d_name) < (int)sizeof(full)
            && !stat(full, &fs) && S_ISREG(fs.st_mode) && replay_file(full))
            rc = -1;
        free(ents[i]);
    }
    free(ents);
    return rc;
}

int main(int argc, char **argv)
{
    int rc = 0;
    const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR|FILE ...\n", name);
        return 2;
    }
    LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++)
        if (replay_path(argv[i])) rc = 1;
    printf("%s: %ld inputs replayed\n", name, replayed);
    return rc;
}
