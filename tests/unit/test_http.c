/* test_http.c: form redaction, URL checks, the CA bundle, transport errors,
 * HTTP dates and Retry-After. */
#include <time.h>

#include "unit.h"
#include "http.h"

static char dir[256];

static void
test_redact(void)
{
    const char *form = "grant_type=client_credentials&client_id=abc"
                       "&client_assertion=eyJhbGciOi.SECRET.SIG"
                       "&scope=x&client_secret=pw&access_token=TOK";
    char out[512];

    http_redact_form(form, strlen(form), out, sizeof out);
    assert(strcmp(out, "grant_type=client_credentials&client_id=abc"
                       "&client_assertion=[redacted 21 bytes]&scope=x"
                       "&client_secret=[redacted 2 bytes]"
                       "&access_token=[redacted 3 bytes]") == 0);
    /* truncation never shows a secret and always terminates */
    http_redact_form(form, strlen(form), out, 50);
    assert(strlen(out) == 49);
    assert(strstr(out, "SECRET") == NULL);
    /* a name alone, an empty value */
    http_redact_form("client_assertion&a=", 19, out, sizeof out);
    assert(strcmp(out, "client_assertion=[redacted 0 bytes]&a=") == 0);
    /* a name that only starts like a secret one is kept */
    http_redact_form("client_assertion_type=jwt", 25, out, sizeof out);
    assert(strcmp(out, "client_assertion_type=jwt") == 0);
}

static void
test_url_host(void)
{
    char h[64];

    assert(http_url_host("https://login.microsoftonline.com/t/oauth2/v2.0/"
                         "token",
                         h, sizeof h) == 0);
    assert(strcmp(h, "login.microsoftonline.com") == 0);
    assert(http_url_host("https://127.0.0.1:8443/x", h, sizeof h) == 0);
    assert(strcmp(h, "127.0.0.1:8443") == 0);
    assert(http_url_host("http://127.0.0.1:8443/x", h, sizeof h) == -1);
    assert(http_url_host("ftp://x/", h, sizeof h) == -1);
    assert(http_url_host("not a url", h, sizeof h) == -1);
}

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert(f != NULL);
    fputs(text, f);
    fclose(f);
}

static void
test_ca_bundle(void)
{
    struct ek_ctx *ctx = NULL;
    char sys[300], extra[300], der[300];
    unsigned char *b = NULL;
    size_t n = 0;

    assert(ek_ctx_new(&ctx) == EK_OK);
    snprintf(sys, sizeof sys, "%s/sys.pem", dir);
    snprintf(extra, sizeof extra, "%s/extra.pem", dir);
    snprintf(der, sizeof der, "%s/extra.der", dir);
    write_file(sys, "-----BEGIN CERTIFICATE-----\nSYS\n"
                    "-----END CERTIFICATE-----\n");
    write_file(extra, "-----BEGIN CERTIFICATE-----\nEXTRA\n"
                      "-----END CERTIFICATE-----\n");
    write_file(der, "0\x82\x01\x0a binary");
    /* --ca-file adds to the system bundle; it does not replace it */
    assert(http_ca_bundle(ctx, sys, extra, &b, &n) == EK_OK);
    assert(n == strlen((char *)b));
    assert(strstr((char *)b, "SYS") != NULL);
    assert(strstr((char *)b, "EXTRA") != NULL);
    assert(strstr((char *)b, "SYS") < strstr((char *)b, "EXTRA"));
    free(b);
    /* the real system bundle is found when none is named */
    assert(http_ca_bundle(ctx, NULL, extra, &b, &n) == EK_OK);
    assert(n > 1000 && strstr((char *)b, "EXTRA") != NULL);
    free(b);
    assert(http_ca_bundle(ctx, sys, der, &b, &n) == EK_ERR_IO);
    assert(b == NULL && ut_has(ctx, "holds no PEM certificate"));
    assert(http_ca_bundle(ctx, sys, "/nonexistent/ca.pem", &b, &n) ==
           EK_ERR_IO);
    assert(ut_has(ctx, "the CA file") && ut_has(ctx, "/nonexistent/ca.pem"));
    ek_ctx_free(&ctx);
}

static void
test_transport_errors(void)
{
    struct ek_ctx *ctx = NULL;
    struct ek_secret *form = NULL;
    struct http_request req;
    struct http_response resp;

    assert(ek_ctx_new(&ctx) == EK_OK);
    assert(ek_secret_new(ctx, 64, &form) == EK_OK);
    assert(ek_secret_append_str(ctx, form, "a=b") == EK_OK);
    memset(&req, 0, sizeof req);
    req.form = form;
    req.timeout = 5;
    req.url = "http://127.0.0.1:1/token";
    assert(http_post_form(ctx, &req, &resp) == EK_ERR_USAGE);
    assert(ut_has(ctx, "not an https:// URL"));
    assert(resp.body == NULL && !resp.retryable);
    /* port 1 on the loopback: refused at once */
    req.url = "https://127.0.0.1:1/token";
    assert(http_post_form(ctx, &req, &resp) == EK_ERR_NETWORK);
    assert(ut_has(ctx, "cannot connect to https://127.0.0.1:1/token"));
    assert(ut_has(ctx, "CURLE_COULDNT_CONNECT"));
    assert(resp.retryable && resp.body == NULL);
    http_response_clear(&resp);
    ek_secret_free(&form);
    ek_ctx_free(&ctx);
}

static void
test_http_date(void)
{
    time_t t = 0;

    /* RFC 9110 5.6.7: the three forms of one instant */
    assert(http_parse_date("Sun, 06 Nov 1994 08:49:37 GMT", &t) == 0);
    assert(t == 784111777);
    t = 0;
    assert(http_parse_date("Sunday, 06-Nov-94 08:49:37 GMT", &t) == 0);
    assert(t == 784111777);
    t = 0;
    assert(http_parse_date("Sun Nov  6 08:49:37 1994", &t) == 0);
    assert(t == 784111777);
    assert(http_parse_date("Thu, 01 Jan 2026 00:00:00 GMT", &t) == 0);
    assert(t == 1767225600);
    assert(http_parse_date("Sun, 06 Foo 1994 08:49:37 GMT", &t) == -1);
    assert(http_parse_date("Sun, 06 Nov 1994 25:49:37 GMT", &t) == -1);
    assert(http_parse_date("Sun, 06 Nov 1994 08:49:37", &t) == -1);
    assert(http_parse_date("Sun, 06 Nov 1994 08:49:37 GMT junk", &t) == -1);
    assert(http_parse_date("", &t) == -1);
    assert(http_parse_date("120", &t) == -1);
}

static void
test_retry_after(void)
{
    long s = -1;
    time_t now = 1767225600; /* Thu, 01 Jan 2026 00:00:00 GMT */

    assert(http_parse_retry_after("120", now, &s) == 0 && s == 120);
    assert(http_parse_retry_after(" 0 ", now, &s) == 0 && s == 0);
    assert(http_parse_retry_after("99999999999999999999", now, &s) == 0 &&
           s == 1000000000L);
    assert(http_parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now, &s) ==
               0 &&
           s == 30);
    /* a date in the past means now */
    assert(http_parse_retry_after("Wed, 31 Dec 2025 23:00:00 GMT", now, &s) ==
               0 &&
           s == 0);
    s = -1;
    assert(http_parse_retry_after("-5", now, &s) == -1 && s == -1);
    assert(http_parse_retry_after("1.5", now, &s) == -1);
    assert(http_parse_retry_after("soon", now, &s) == -1);
    assert(http_parse_retry_after("", now, &s) == -1);
    assert(http_parse_retry_after("12 34", now, &s) == -1);
}

int
main(void)
{
    ut_tmpdir(dir, sizeof dir, "test_http");
    test_redact();
    test_http_date();
    test_retry_after();
    test_url_host();
    test_ca_bundle();
    test_transport_errors();
    ut_rmtree(dir);
    printf("test_http: ok\n");
    return 0;
}
