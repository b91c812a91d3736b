/* unit_mi_http.c: the managed-identity endpoint's request-head reader
 * (src/agent/mi_http.c): what it accepts, each refusal with its status,
 * the limits at their edges, and the same answer however the bytes come. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/mi_http.h"

static struct mi_http_req r;

static enum mi_http_rc
parse(const char *s, size_t n)
{
    mi_http_req_init(&r);
    return mi_http_parse(&r, s, n);
}

static enum mi_http_rc
parse_s(const char *s)
{
    return parse(s, strlen(s));
}

/* s is refused with status, and why contains what */
static void
refused(const char *s, size_t n, unsigned status, const char *what)
{
    enum mi_http_rc rc = parse(s, n);

    if (rc != MI_HTTP_ERROR || r.status != status ||
        strstr(r.why, what) == NULL) {
        fprintf(stderr, "%.60s: rc %d, %u '%s' (wanted %u '%s')\n", s, rc,
                r.status, r.why, status, what);
        abort();
    }
}

static void
refused_s(const char *s, unsigned status, const char *what)
{
    refused(s, strlen(s), status, what);
}

#define OKREQ                                                                  \
    "GET /msi/token?resource=https%3A%2F%2Fgraph.microsoft.com&api-version="   \
    "2019-08-01&x=a+b HTTP/1.1\r\nHost: 127.0.0.1:1234\r\n"                    \
    "X-IDENTITY-HEADER:   abc \t\r\nUser-Agent: t\xc3\xa9st\r\n\r\n"

static void
test_valid(void)
{
    assert(parse_s(OKREQ) == MI_HTTP_DONE);
    assert(strcmp(r.method, "GET") == 0);
    assert(strcmp(r.path, "/msi/token") == 0);
    assert(r.minor == 1 && r.keep_alive == 1 && r.has_body == 0);
    assert(r.head_len == strlen(OKREQ));
    assert(r.narg == 3 && r.nfield == 3);
    assert(strcmp(mi_http_arg(&r, "resource"), "https://graph.microsoft.com") ==
           0);
    assert(strcmp(mi_http_arg(&r, "API-Version"), "2019-08-01") == 0);
    assert(strcmp(mi_http_arg(&r, "x"), "a b") == 0);
    assert(mi_http_arg(&r, "client_id") == NULL);
    /* names in any case; values without the spaces around them */
    assert(strcmp(mi_http_field(&r, "x-identity-header"), "abc") == 0);
    assert(strcmp(mi_http_field(&r, "host"), "127.0.0.1:1234") == 0);
    assert(strcmp(mi_http_field(&r, "User-Agent"), "t\xc3\xa9st") == 0);
    assert(mi_http_field(&r, "secret") == NULL);
    /* the path, decoded; a path alone; the first of two parameters */
    assert(parse_s("GET /msi/%74oken/ HTTP/1.0\r\n\r\n") == MI_HTTP_DONE);
    assert(strcmp(r.path, "/msi/token/") == 0 && r.narg == 0);
    assert(r.minor == 0 && r.keep_alive == 0);
    assert(parse_s("GET /?a=1&&a=2&b&=c HTTP/1.0\r\n\r\n") == MI_HTTP_DONE);
    assert(strcmp(mi_http_arg(&r, "a"), "1") == 0);
    assert(strcmp(mi_http_arg(&r, "b"), "") == 0);
    assert(strcmp(mi_http_arg(&r, ""), "c") == 0);
}

static void
test_incomplete_and_pipelined(void)
{
    const char *two = OKREQ "GET / HTTP/1.1\r\n";
    size_t n = strlen(OKREQ), i;

    for (i = 0; i < n; i++)
        assert(parse(OKREQ, i) == MI_HTTP_MORE);
    /* a byte at a time: the same request */
    mi_http_req_init(&r);
    for (i = 1; i < n; i++)
        assert(mi_http_parse(&r, OKREQ, i) == MI_HTTP_MORE);
    assert(mi_http_parse(&r, OKREQ, n) == MI_HTTP_DONE);
    assert(r.head_len == n && r.nfield == 3 && r.narg == 3);
    assert(strcmp(mi_http_arg(&r, "x"), "a b") == 0);
    /* what follows the head is left for the next request */
    assert(parse_s(two) == MI_HTTP_DONE && r.head_len == n);
}

static void
test_connection(void)
{
    assert(parse_s("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, "
                   "CLOSE\r\n\r\n") == MI_HTTP_DONE);
    assert(r.keep_alive == 0);
    assert(parse_s("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n"
                   "\r\n") == MI_HTTP_DONE);
    assert(r.keep_alive == 1);
    assert(parse_s("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n") ==
           MI_HTTP_DONE);
    assert(r.keep_alive == 0);
}

static void
test_body(void)
{
    assert(
        parse_s("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 000\r\n\r\n") ==
        MI_HTTP_DONE);
    assert(r.has_body == 0);
    assert(parse_s("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n") ==
           MI_HTTP_DONE);
    assert(r.has_body == 1 && strcmp(r.method, "POST") == 0);
    assert(parse_s("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                   "\r\n") == MI_HTTP_DONE);
    assert(r.has_body == 1);
    refused_s("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400,
              "Content-Length is not a number");
    refused_s("GET / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", 400,
              "Content-Length is not a number");
}

static void
test_malformed(void)
{
    static const char nul[] = "GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n";
    static const char nul_line[] = "GET /\0 HTTP/1.1\r\n\r\n";

    refused_s("GARBAGE\r\n\r\n", 400, "malformed request line");
    refused_s("GET  / HTTP/1.1\r\n\r\n", 400, "malformed request line");
    refused_s("GET / HTTP/1.1 \r\n\r\n", 400, "malformed request line");
    refused_s(" GET / HTTP/1.1\r\n\r\n", 400, "malformed request line");
    refused_s("GET / http/1.1\r\n\r\n", 400, "version");
    refused_s("GET / HTTP/1.10\r\n\r\n", 400, "version");
    refused_s("GET / HTTP/1\r\n\r\n", 400, "version");
    refused_s("GET /x HTTP/9.9\r\n\r\n", 505, "HTTP/9.9 is not supported");
    refused_s("GET /x HTTP/2.0\r\n\r\n", 505, "not supported");
    refused_s("GET /x HTTP/1.2\r\n\r\n", 505, "not supported");
    refused_s("G(T / HTTP/1.1\r\n\r\n", 400, "a method is a token");
    refused_s("ABCDEFGHIJKLMNOP / HTTP/1.1\r\n\r\n", 400, "method too long");
    assert(parse_s("ABCDEFGHIJKLMNO / HTTP/1.0\r\n\r\n") == MI_HTTP_DONE);
    refused_s("GET http://h/msi/token HTTP/1.1\r\n\r\n", 400, "not a path");
    refused_s("GET * HTTP/1.1\r\n\r\n", 400, "not a path");
    refused_s("GET /a#b HTTP/1.1\r\n\r\n", 400, "not a path");
    refused_s("GET /\xc3\xa9 HTTP/1.1\r\n\r\n", 400, "non-ASCII byte (0xc3)");
    refused_s("GET /a\rb HTTP/1.1\r\n\r\n", 400, "control");
    refused(nul_line, sizeof nul_line - 1, 400, "(0x00)");
    refused_s("\r\nGET / HTTP/1.1\r\n\r\n", 400, "empty line before");
    /* line ends */
    refused_s("GET / HTTP/1.1\n\n", 400, "bare LF");
    refused_s("GET / HTTP/1.1\r\nHost: h\n\r\n", 400, "bare LF");
    refused_s("GET / HTTP/1.1\r\nHost: h\r\n\n", 400, "bare LF");
    /* header lines */
    refused_s("GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400,
              "without ':'");
    refused_s("GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", 400,
              "without a name");
    refused_s("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400, "space before ':'");
    refused_s("GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", 400, "space before ':'");
    refused_s("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n", 400,
              "obs-fold");
    refused_s("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n\tb\r\n\r\n", 400,
              "obs-fold");
    refused_s("GET / HTTP/1.1\r\nHost: h\r\nX A: b\r\n\r\n", 400,
              "not a token character");
    refused_s("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x01\r\n\r\n", 400,
              "the value of X-A holds a control byte (0x01)");
    refused_s("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x7f\r\n\r\n", 400,
              "control byte (0x7f)");
    refused_s("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n", 400,
              "control byte (0x0d)");
    refused(nul, sizeof nul - 1, 400, "control byte (0x00)");
    refused_s("GET / HTTP/1.1\r\n\r\n", 400, "without Host");
    /* percent-encoding */
    refused_s("GET /?resource=%zz HTTP/1.0\r\n\r\n", 400, "two hex digits");
    refused_s("GET /?resource=% HTTP/1.0\r\n\r\n", 400, "two hex digits");
    refused_s("GET /?resource=%4 HTTP/1.0\r\n\r\n", 400, "two hex digits");
    refused_s("GET /?resource=a%00 HTTP/1.0\r\n\r\n", 400, "NUL");
    refused_s("GET /?%g1=x HTTP/1.0\r\n\r\n", 400, "two hex digits");
    refused_s("GET /msi%2 HTTP/1.0\r\n\r\n", 400, "the path has a '%'");
    assert(parse_s("GET /?r=%4a%4B HTTP/1.0\r\n\r\n") == MI_HTTP_DONE);
    assert(strcmp(mi_http_arg(&r, "r"), "JK") == 0);
}

static void
test_duplicates(void)
{
    static const char *const once[] = {
        "X-IDENTITY-HEADER", "secret",     "X-Forwarded-For",  "Host",
        "Content-Length",    "Connection", "Transfer-Encoding"};
    char buf[256];
    size_t i;

    for (i = 0; i < sizeof once / sizeof once[0]; i++) {
        snprintf(buf, sizeof buf,
                 "GET / HTTP/1.1\r\nHost: h\r\n%s: 0\r\n%s: 0\r\n\r\n",
                 i == 3 ? "X-Other" : once[i], once[i]);
        if (i == 3) /* Host, given twice in other cases */
            snprintf(buf, sizeof buf,
                     "GET / HTTP/1.1\r\nhost: a\r\nHOST: a\r\n\r\n");
        refused_s(buf, 400, "appears more than once");
    }
    /* in other cases, other fields may repeat */
    assert(parse_s("GET / HTTP/1.1\r\nHost: h\r\nAccept: a\r\naccept: b\r\n"
                   "\r\n") == MI_HTTP_DONE);
    refused_s("GET / HTTP/1.1\r\nHost: h\r\nx-identity-header: a\r\n"
              "X-Identity-Header: a\r\n\r\n",
              400, "X-IDENTITY-HEADER header appears more than once");
}

/* "GET /" + pad + " HTTP/1.1": a request line of exactly n bytes */
static char *
line_of(size_t n, const char *rest)
{
    size_t fixed = strlen("GET / HTTP/1.1"), m = strlen(rest);
    char *s = malloc(n + 2 + m + 1);

    assert(s != NULL && n >= fixed);
    memcpy(s, "GET /", 5);
    memset(s + 5, 'a', n - fixed);
    memcpy(s + 5 + n - fixed, " HTTP/1.1\r\n", 11);
    memcpy(s + n + 2, rest, m + 1);
    return s;
}

static void
test_limits(void)
{
    char *s, *h, buf[64];
    size_t i, n;

    /* the request line: 8192 bytes, not one more */
    s = line_of(MI_HTTP_LINE_MAX, "Host: h\r\n\r\n");
    assert(parse_s(s) == MI_HTTP_DONE);
    free(s);
    s = line_of(MI_HTTP_LINE_MAX + 1, "Host: h\r\n\r\n");
    refused_s(s, 414, "longer than 8192");
    /* refused before its end arrives */
    refused(s, MI_HTTP_LINE_MAX + 2, 414, "longer than 8192");
    assert(parse(s, MI_HTTP_LINE_MAX + 1) == MI_HTTP_MORE);
    free(s);
    /* the head: 16384 bytes with its CR LF CR LF, not one more */
    for (n = MI_HTTP_HEAD_MAX; n <= MI_HTTP_HEAD_MAX + 1; n++) {
        s = line_of(100, "");
        h = malloc(n + 1);
        assert(h != NULL);
        i = (size_t)snprintf(h, n + 1, "%sHost: h\r\nX-Big: ", s);
        memset(h + i, 'b', n - i - 4);
        memcpy(h + n - 4, "\r\n\r\n", 4);
        h[n] = '\0';
        if (n == MI_HTTP_HEAD_MAX) {
            assert(parse(h, n) == MI_HTTP_DONE && r.head_len == n);
        } else {
            refused(h, n, 431, "larger than 16384");
            /* and before it ends */
            refused(h, MI_HTTP_HEAD_MAX + 1, 431, "larger than 16384");
        }
        free(h);
        free(s);
    }
    /* 64 header fields, not 65 */
    h = calloc(1, 4096);
    assert(h != NULL);
    strcpy(h, "GET / HTTP/1.1\r\nHost: h\r\n");
    for (i = 1; i < MI_HTTP_FIELDS_MAX; i++) {
        snprintf(buf, sizeof buf, "X-%zu: v\r\n", i);
        strcat(h, buf);
    }
    n = strlen(h);
    strcat(h, "\r\n");
    assert(parse_s(h) == MI_HTTP_DONE && r.nfield == MI_HTTP_FIELDS_MAX);
    strcpy(h + n, "X-Last: v\r\n\r\n");
    refused_s(h, 431, "more than 64 header fields");
    /* 32 query parameters, not 33 */
    strcpy(h, "GET /?");
    for (i = 0; i < MI_HTTP_ARGS_MAX; i++)
        strcat(h, "a=1&");
    n = strlen(h);
    strcat(h, " HTTP/1.0\r\n\r\n");
    assert(parse_s(h) == MI_HTTP_DONE && r.narg == MI_HTTP_ARGS_MAX);
    strcpy(h + n, "b=2 HTTP/1.0\r\n\r\n");
    refused_s(h, 414, "more than 32 query parameters");
    free(h);
}

static void
test_reason(void)
{
    assert(strcmp(mi_http_reason(431), "Request Header Fields Too Large") == 0);
    assert(strcmp(mi_http_reason(414), "URI Too Long") == 0);
    assert(strcmp(mi_http_reason(505), "HTTP Version Not Supported") == 0);
    assert(strcmp(mi_http_reason(299), "Error") == 0);
}

int
main(void)
{
    test_valid();
    test_incomplete_and_pipelined();
    test_connection();
    test_body();
    test_malformed();
    test_duplicates();
    test_limits();
    test_reason();
    return 0;
}
