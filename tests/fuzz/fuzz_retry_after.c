/* fuzz_retry_after.c: Retry-After header values (http_parse_retry_after):
 * delay-seconds or an HTTP-date, read against a fixed "now". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"
#include "fuzz.h"

#define NOW ((time_t)1732681365) /* Wed, 27 Nov 2024 04:22:45 GMT */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s;
    const char *p;
    long seconds = -1, again = -1;
    time_t when;
    size_t digits;

    if ((s = fuzz_cstring(data, size)) == NULL)
        return 0;
    if (http_parse_retry_after(s, NOW, &seconds) == 0) {
        FUZZ_CHECK(seconds >= 0);
        /* the same value read again gives the same wait */
        FUZZ_CHECK(http_parse_retry_after(s, NOW, &again) == 0);
        FUZZ_CHECK(again == seconds);
        p = s + strspn(s, " \t");
        digits = strspn(p, "0123456789");
        if (digits == 0) {
            /* a date: the wait is the time from now to it, or nothing */
            FUZZ_CHECK(http_parse_date(s, &when) == 0);
            FUZZ_CHECK(seconds == (when > NOW ? (long)(when - NOW) : 0));
        } else if (digits <= 9) {
            FUZZ_CHECK(seconds == strtol(p, NULL, 10));
        } else {
            FUZZ_CHECK(seconds <= 1000000000L);
        }
    }
    free(s);
    return 0;
}
