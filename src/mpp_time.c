#include "mpp_time.h"

#include <apr_strings.h>
#include <string.h>

/* days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm) */
static long long days_from_civil(long long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

char *mpp_time_format(apr_pool_t *p, apr_time_t t)
{
    apr_time_exp_t x;
    apr_time_exp_gmt(&x, t);
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02dZ", x.tm_year + 1900, x.tm_mon + 1,
                        x.tm_mday, x.tm_hour, x.tm_min, x.tm_sec);
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int mpp_time_parse(const char *s, apr_time_t *out)
{
    static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int Y, M, D, h, mi, sec, oh = 0, om = 0, sign = 0;
    long long usec = 0, days, total;
    const char *q;

    if (strlen(s) < 20) return -1;
    if (digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) || s[7] != '-'
        || digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't')
        || digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':'
        || digits(s + 17, 2, &sec))
        return -1;
    if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 || mi > 59 || sec > 60)
        return -1;
    if (M == 2 && D == 29 && !((Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0))
        return -1;
    q = s + 19;
    if (*q == '.') {
        int n = 0;
        long long scale = 100000;
        q++;
        while (*q >= '0' && *q <= '9') {
            if (n < 6) { usec += (*q - '0') * scale; scale /= 10; }
            n++; q++;
        }
        if (n == 0 || n > 9) return -1;
    }
    if (*q == 'Z' || *q == 'z') q++;
    else if (*q == '+' || *q == '-') {
        sign = *q == '-' ? -1 : 1;
        if (digits(q + 1, 2, &oh) || q[3] != ':' || digits(q + 4, 2, &om) || oh > 23 || om > 59)
            return -1;
        q += 6;
    }
    else return -1;
    if (*q) return -1;
    if (sec == 60) sec = 59; /* leap second: the instant before */
    days = days_from_civil(Y, (unsigned)M, (unsigned)D);
    total = days * 86400 + h * 3600 + mi * 60 + sec - sign * (oh * 3600 + om * 60);
    *out = (apr_time_t)(total * 1000000LL + usec);
    return 0;
}
