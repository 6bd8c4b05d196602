/* Accept-Payment (mpp_accept_rank) against a fixed list of offers, and
 * against offers named by the input itself. Input: the header value, then
 * optionally NUL and method/intent pairs (one a line) as the offers.
 * Invariants: the result is -1 or 1..n; the kept indices are distinct and
 * in range; "* / *" (without spaces) keeps everything in server order. */
#include "fuzz.h"

#include <apr_strings.h>

#include "mpp_accept.h"

#define MAX_OFFERS 16

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    return 0;
}

static void rank(apr_pool_t *p, const char *hdr, const char *const *m, const char *const *i, int n)
{
    int order[MAX_OFFERS], seen[MAX_OFFERS] = { 0 }, k;
    for (int j = 0; j < MAX_OFFERS; j++) order[j] = -7;
    k = mpp_accept_rank(p, hdr, m, i, n, order);
    FUZZ_ASSERT(k == -1 || (k >= 1 && k <= n), "kept %d of %d", k, n);
    for (int j = 0; j < k; j++) {
        FUZZ_ASSERT(order[j] >= 0 && order[j] < n, "index %d", order[j]);
        FUZZ_ASSERT(!seen[order[j]]++, "offer %d kept twice", order[j]);
    }
    for (int j = k > 0 ? k : 0; j < MAX_OFFERS; j++) FUZZ_ASSERT(order[j] == -7, "wrote past the kept offers");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const M[] = { "evm", "solana", "tempo", "evm", "stripe" };
    static const char *const I[] = { "charge", "charge", "session", "session", "charge" };
    apr_pool_t *p = fuzz_begin();
    fuzz_in_t in = { data, size };
    const char *hdr = fuzz_field(p, &in, 0);
    const char *m[MAX_OFFERS], *i[MAX_OFFERS];
    int n = 0;

    rank(p, hdr, M, I, 5);
    /* offers from the rest of the input */
    while (in.n && n < MAX_OFFERS) {
        char *line = fuzz_field(p, &in, '\n'), *slash = strchr(line, '/');
        if (slash) *slash = '\0';
        m[n] = line;
        i[n] = slash ? slash + 1 : "charge";
        n++;
    }
    if (n) rank(p, hdr, m, i, n);
    {
        int order[5];
        FUZZ_ASSERT(mpp_accept_rank(p, "*/*", M, I, 5, order) == 5 && order[0] == 0 && order[4] == 4,
                    "*/* does not keep the server order");
    }
    fuzz_end();
    return 0;
}
