/* fuzz_mi_http.c: the managed-identity endpoint's request-head reader
 * (src/agent/mi_http.c) on bytes from the network: read whole and read in
 * pieces (sizes from the first byte) it gives the same answer; a head it
 * accepts keeps the limits and the shapes the endpoint relies on. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/mi_http.h"
#include "fuzz.h"

static int
is_status(unsigned s)
{
    return s == 400 || s == 414 || s == 431 || s == 505;
}

static void
check_done(const struct mi_http_req *r, const uint8_t *data, size_t size)
{
    size_t i;

    FUZZ_CHECK(r->head_len >= 4 && r->head_len <= size &&
               r->head_len <= MI_HTTP_HEAD_MAX);
    FUZZ_CHECK(memcmp(data + r->head_len - 4, "\r\n\r\n", 4) == 0);
    FUZZ_CHECK(r->method[0] != '\0' && strlen(r->method) < MI_HTTP_METHOD_MAX);
    FUZZ_CHECK(r->path != NULL && r->path[0] == '/');
    FUZZ_CHECK(r->minor == 0 || r->minor == 1);
    FUZZ_CHECK(r->keep_alive == 0 || r->minor == 1);
    FUZZ_CHECK(r->minor == 0 || mi_http_field(r, "Host") != NULL);
    FUZZ_CHECK(r->nfield <= MI_HTTP_FIELDS_MAX && r->narg <= MI_HTTP_ARGS_MAX);
    FUZZ_CHECK(r->used <= sizeof r->store);
    for (i = 0; i < r->nfield; i++) {
        const char *v = r->field[i].value;

        FUZZ_CHECK(r->field[i].name[0] != '\0');
        FUZZ_CHECK(strpbrk(r->field[i].name, " \t:\r\n") == NULL);
        FUZZ_CHECK(strpbrk(v, "\r\n") == NULL);
        FUZZ_CHECK(v[0] != ' ' && v[0] != '\t');
        /* the field's value as the lookup gives it (the first such name) */
        FUZZ_CHECK(mi_http_field(r, r->field[i].name) != NULL);
    }
    for (i = 0; i < r->narg; i++)
        FUZZ_CHECK(r->arg[i].name != NULL && r->arg[i].value != NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct mi_http_req whole, pieces;
    const char *buf = (const char *)data;
    enum mi_http_rc a, b;
    size_t step, len;

    if (size > MI_HTTP_HEAD_MAX + 64)
        return 0;
    mi_http_req_init(&whole);
    a = mi_http_parse(&whole, buf, size);
    if (a == MI_HTTP_DONE)
        check_done(&whole, data, size);
    else if (a == MI_HTTP_ERROR)
        FUZZ_CHECK(is_status(whole.status) && whole.why[0] != '\0');
    /* the same bytes as they would come from a socket */
    step = size > 0 ? (size_t)data[0] % 97 + 1 : 1;
    mi_http_req_init(&pieces);
    b = MI_HTTP_MORE;
    for (len = 0; b == MI_HTTP_MORE && len < size;) {
        len = len + step < size ? len + step : size;
        b = mi_http_parse(&pieces, buf, len);
    }
    if (size == 0)
        b = mi_http_parse(&pieces, buf, 0);
    FUZZ_CHECK(a == b);
    if (a == MI_HTTP_DONE) {
        FUZZ_CHECK(whole.head_len == pieces.head_len);
        FUZZ_CHECK(whole.nfield == pieces.nfield && whole.narg == pieces.narg);
        FUZZ_CHECK(strcmp(whole.method, pieces.method) == 0);
        FUZZ_CHECK(strcmp(whole.path, pieces.path) == 0);
        FUZZ_CHECK(whole.keep_alive == pieces.keep_alive &&
                   whole.has_body == pieces.has_body);
    } else if (a == MI_HTTP_ERROR) {
        FUZZ_CHECK(whole.status == pieces.status);
    }
    return 0;
}
