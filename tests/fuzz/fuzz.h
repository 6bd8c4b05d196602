/* Shared by the fuzz targets: one APR pool per input, invariant checks that
 * abort (so libFuzzer keeps the input), and helpers that split an input into
 * fields. Every target defines LLVMFuzzerInitialize and calls fuzz_init. */
#ifndef MPP_FUZZ_H
#define MPP_FUZZ_H

#include <apr_pools.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* apr_initialize (once) and the pool that fuzz_begin hands out. */
void fuzz_init(void);

/* The pool for this input; fuzz_end clears it (with every allocation
 * freed one by one, see fuzz_common.c). */
apr_pool_t *fuzz_begin(void);
void fuzz_end(void);
/* A pool never cleared, for what LLVMFuzzerInitialize sets up. */
apr_pool_t *fuzz_forever(void);

/* A NUL-terminated copy of exactly size + 1 bytes, so that ASan catches a
 * read one byte past the terminator. */
char *fuzz_str(apr_pool_t *p, const uint8_t *data, size_t size);

/* The directory of the JWT keys (FUZZ_KEYS_DIR, or $MPP_FUZZ_KEYS). */
const char *fuzz_keys_dir(void);

/* Lower-case hex of n bytes (for messages). */
const char *fuzz_hex(apr_pool_t *p, const unsigned char *b, size_t n);

/* Splits input at a separator byte: the next field (NUL-terminated copy)
 * and the rest. Returns "" once the input is used up. */
typedef struct {
    const uint8_t *d;
    size_t n;
} fuzz_in_t;

char *fuzz_field(apr_pool_t *p, fuzz_in_t *in, uint8_t sep);
/* Up to n raw bytes (zero-filled when the input runs out). */
void fuzz_bytes(fuzz_in_t *in, unsigned char *out, size_t n);

#define FUZZ_ASSERT(cond, ...)                                                       \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "\ninvariant broken at %s:%d: %s\n  ", __FILE__, __LINE__, \
                    #cond);                                                          \
            fprintf(stderr, __VA_ARGS__);                                            \
            fputc('\n', stderr);                                                     \
            abort();                                                                 \
        }                                                                            \
    } while (0)

#endif
