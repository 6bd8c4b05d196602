#include "mpp_amount.h"

#include <apr_strings.h>
#include <string.h>

static const char UINT256_MAX[] =
    "115792089237316195423570985008687907853269984665640564039457584007913129639935";

int mpp_amount_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > sizeof(UINT256_MAX) - 1) return 0;
    if (s[0] == '0' && n > 1) return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    if (n == sizeof(UINT256_MAX) - 1 && strcmp(s, UINT256_MAX) > 0) return 0;
    return 1;
}

int mpp_amount_cmp(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb) return la < lb ? -1 : 1;
    return strcmp(a, b);
}

const char *mpp_amount_from_price(apr_pool_t *p, const char *price, int decimals, char **out)
{
    const char *dot = strchr(price, '.');
    size_t il = dot ? (size_t)(dot - price) : strlen(price);
    size_t fl = dot ? strlen(dot + 1) : 0;
    char *buf, *q;

    if (decimals < 0 || decimals > 77) return "decimals out of range";
    if (il == 0) return "price must start with a digit";
    for (size_t i = 0; i < il; i++)
        if (price[i] < '0' || price[i] > '9') return "price must be a plain decimal number";
    if (dot && fl == 0) return "price must not end with '.'";
    for (size_t i = 0; i < fl; i++)
        if (dot[1 + i] < '0' || dot[1 + i] > '9') return "price must be a plain decimal number";
    while (fl > 0 && dot[fl] == '0') fl--; /* trailing zeros of the fraction carry nothing */
    if (fl > (size_t)decimals) return "price has more decimal places than the asset";
    buf = apr_palloc(p, il + (size_t)decimals + 1);
    memcpy(buf, price, il);
    if (fl) memcpy(buf + il, dot + 1, fl);
    memset(buf + il + fl, '0', (size_t)decimals - fl);
    buf[il + (size_t)decimals] = '\0';
    for (q = buf; *q == '0' && q[1]; q++) ;
    if (!mpp_amount_valid(q)) return "amount exceeds 2^256-1";
    *out = q;
    return NULL;
}
