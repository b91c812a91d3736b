/* fuzz_http_date.c: HTTP Date header values (http_parse_date), the
 * three forms of RFC 9110 5.6.7, checked against a round trip through the
 * IMF-fixdate form. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s, out[64];
    time_t t = 0, back = 0;
    struct tm tm;

    if ((s = fuzz_cstring(data, size)) == NULL)
        return 0;
    if (http_parse_date(s, &t) == 0) {
        /* years 1970 to 9999 (a 31 December 9999 23:59:60 may roll over) */
        FUZZ_CHECK(t >= 0 && t <= (time_t)253402300800LL);
        FUZZ_CHECK(gmtime_r(&t, &tm) != NULL);
        if (tm.tm_year + 1900 <= 9999) {
            /* what we read, written as IMF-fixdate, reads back the same */
            FUZZ_CHECK(strftime(out, sizeof out, "%a, %d %b %Y %H:%M:%S GMT",
                                &tm) > 0);
            FUZZ_CHECK(http_parse_date(out, &back) == 0);
            FUZZ_CHECK(back == t);
        }
    }
    free(s);
    return 0;
}
