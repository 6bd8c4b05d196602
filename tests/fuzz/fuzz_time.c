/* RFC 3339 date-times (mpp_time_parse) as credentials' and receipts'
 * expires and timestamps carry them, and the writer (mpp_time_format).
 * Invariants: an accepted value equals the instant computed independently
 * with timegm() from its fields (offset, fraction and leap second
 * included); writing an accepted whole-second UTC instant and reading it
 * back gives the same instant. */
#include "fuzz.h"

#include <time.h>

#include "mpp_time.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_begin();
    const char *s = fuzz_str(p, data, size);
    apr_time_t t;

    if (mpp_time_parse(s, &t) == 0) {
        struct tm tm;
        long long secs, usec = 0, off = 0;
        const char *q = s + 19;
        memset(&tm, 0, sizeof(tm));
        FUZZ_ASSERT(sscanf(s, "%4d-%2d-%2d%*c%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                           &tm.tm_min, &tm.tm_sec) == 6, "accepted %s", s);
        if (tm.tm_sec == 60) tm.tm_sec = 59;   /* a leap second is the instant before */
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        secs = (long long)timegm(&tm);
        if (*q == '.') {
            long long scale = 100000;
            for (q++; *q >= '0' && *q <= '9'; q++, scale /= 10)
                if (scale) usec += (*q - '0') * scale;
        }
        if (*q == '+' || *q == '-') off = (*q == '-' ? -1 : 1) * ((q[1] - '0') * 36000 + (q[2] - '0') * 3600
                                                                   + (q[4] - '0') * 600 + (q[5] - '0') * 60);
        FUZZ_ASSERT(t == (secs - off) * 1000000LL + usec, "%s read as %lld, expected %lld", s, (long long)t,
                    (secs - off) * 1000000LL + usec);
        /* whole seconds: the writer's text reads back to the same instant */
        if (t % 1000000 == 0 && t >= 0) {
            const char *w = mpp_time_format(p, t);
            apr_time_t t2;
            FUZZ_ASSERT(mpp_time_parse(w, &t2) == 0 && t2 == t, "%s written as %s", s, w);
        }
    }
    fuzz_end();
    return 0;
}
