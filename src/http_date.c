/* http_date.c: the HTTP header values that carry time: HTTP-dates (the
 * Date header, for clock skew) and Retry-After (RFC 9110 5.6.7, 10.2.3). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http.h"

static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static int
month_index(const char *m)
{
    int i;

    for (i = 0; i < 12; i++)
        if (strcmp(m, months[i]) == 0)
            return i;
    return -1;
}

static int
only_space(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return *s == '\0';
}

int
http_parse_date(const char *value, time_t *t)
{
    char wd[16], mon[4];
    int d = 0, y = 0, H = 0, M = 0, S = 0, n = -1, mi;
    struct tm tm;
    time_t r;

    if (value == NULL || t == NULL)
        return -1;
    while (*value == ' ' || *value == '\t')
        value++;
    /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
    /* NOLINTNEXTLINE(cert-err34-c): widths bound each number; checked at got */
    if (sscanf(value, "%3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d GMT%n", wd,
               &d, mon, &y, &H, &M, &S, &n) == 7 &&
        n > 0 && only_space(value + n))
        goto got;
    /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
    n = -1;
    /* NOLINTNEXTLINE(cert-err34-c): widths bound each number; checked at got */
    if (sscanf(value, "%15[A-Za-z], %2d-%3[A-Za-z]-%2d %2d:%2d:%2d GMT%n", wd,
               &d, mon, &y, &H, &M, &S, &n) == 7 &&
        n > 0 && only_space(value + n)) {
        y += y < 70 ? 2000 : 1900;
        goto got;
    }
    /* asctime: Sun Nov  6 08:49:37 1994 */
    n = -1;
    /* NOLINTNEXTLINE(cert-err34-c): widths bound each number; checked at got */
    if (sscanf(value, "%3[A-Za-z] %3[A-Za-z] %2d %2d:%2d:%2d %4d%n", wd, mon,
               &d, &H, &M, &S, &y, &n) == 7 &&
        n > 0 && only_space(value + n))
        goto got;
    return -1;
got:
    if ((mi = month_index(mon)) < 0 || d < 1 || d > 31 || H < 0 || H > 23 ||
        M < 0 || M > 59 || S < 0 || S > 60 || y < 1970 || y > 9999)
        return -1;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mi;
    tm.tm_mday = d;
    tm.tm_hour = H;
    tm.tm_min = M;
    tm.tm_sec = S;
    if ((r = timegm(&tm)) == (time_t)-1)
        return -1;
    *t = r;
    return 0;
}

int
http_parse_retry_after(const char *value, time_t now, long *seconds)
{
    const char *p;
    size_t digits;
    long long v = 0;
    time_t when;

    if (value == NULL || seconds == NULL)
        return -1;
    while (*value == ' ' || *value == '\t')
        value++;
    digits = strspn(value, "0123456789");
    if (digits > 0 && only_space(value + digits)) {
        /* delay-seconds; absurd values are capped, not wrapped */
        for (p = value; p < value + digits; p++) {
            v = v * 10 + (*p - '0');
            if (v > 1000000000LL) {
                v = 1000000000LL;
                break;
            }
        }
        *seconds = (long)v;
        return 0;
    }
    if (http_parse_date(value, &when) != 0)
        return -1;
    *seconds = when > now ? (long)(when - now) : 0;
    return 0;
}
