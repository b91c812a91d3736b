/* test_entra.c: clouds table, token responses and errors, Retry-After and
 * HTTP dates, the form and the token URL. */
#include <time.h>

#include "unit.h"
#include "entra.h"

static ek_err
parse(struct ek_ctx *ctx, long status, const char *ct, const char *body,
      struct ek_access_token **t)
{
    return entra_parse_response(ctx, status, ct, body, strlen(body), t);
}

static void
test_clouds(void)
{
    enum ek_cloud c;
    enum ek_resource r;

    assert(ek_cloud_parse("global", &c) == EK_OK && c == EK_CLOUD_GLOBAL);
    assert(ek_cloud_parse("usgov", &c) == EK_OK && c == EK_CLOUD_USGOV);
    assert(ek_cloud_parse("usgov-dod", &c) == EK_OK && c == EK_CLOUD_USGOV_DOD);
    assert(ek_cloud_parse("china", &c) == EK_OK && c == EK_CLOUD_CHINA);
    assert(ek_cloud_parse("germany", &c) == EK_ERR_USAGE);
    assert(ek_cloud_parse("", &c) == EK_ERR_USAGE);
    assert(ek_resource_parse("exo", &r) == EK_OK && r == EK_RESOURCE_EXO);
    assert(ek_resource_parse("graph", &r) == EK_OK && r == EK_RESOURCE_GRAPH);
    assert(ek_resource_parse("arm", &r) == EK_OK && r == EK_RESOURCE_ARM);
    assert(ek_resource_parse("compliance", &r) == EK_OK &&
           r == EK_RESOURCE_COMPLIANCE);
    assert(ek_resource_parse("sharepoint", &r) == EK_ERR_USAGE);

    assert(strcmp(ek_cloud_authority_host(EK_CLOUD_GLOBAL),
                  "https://login.microsoftonline.com") == 0);
    assert(strcmp(ek_cloud_authority_host(EK_CLOUD_USGOV),
                  "https://login.microsoftonline.us") == 0);
    assert(strcmp(ek_cloud_authority_host(EK_CLOUD_USGOV_DOD),
                  "https://login.microsoftonline.us") == 0);
    assert(strcmp(ek_cloud_authority_host(EK_CLOUD_CHINA),
                  "https://login.chinacloudapi.cn") == 0);
    assert(strcmp(ek_cloud_scope(EK_CLOUD_GLOBAL, EK_RESOURCE_EXO),
                  "https://outlook.office365.com/.default") == 0);
    assert(strcmp(ek_cloud_scope(EK_CLOUD_GLOBAL, EK_RESOURCE_GRAPH),
                  "https://graph.microsoft.com/.default") == 0);
    assert(strcmp(ek_cloud_scope(EK_CLOUD_GLOBAL, EK_RESOURCE_ARM),
                  "https://management.azure.com/.default") == 0);
    assert(strcmp(ek_cloud_scope(EK_CLOUD_GLOBAL, EK_RESOURCE_COMPLIANCE),
                  "https://ps.compliance.protection.outlook.com/.default") ==
           0);
    assert(strcmp(ek_cloud_scope(EK_CLOUD_USGOV, EK_RESOURCE_EXO),
                  "https://outlook.office365.us/.default") == 0);
    assert(strcmp(ek_cloud_scope(EK_CLOUD_USGOV_DOD, EK_RESOURCE_EXO),
                  "https://outlook-dod.office365.us/.default") == 0);
    assert(strcmp(ek_cloud_scope(EK_CLOUD_USGOV_DOD, EK_RESOURCE_GRAPH),
                  "https://dod-graph.microsoft.us/.default") == 0);
    assert(strcmp(ek_cloud_scope(EK_CLOUD_CHINA, EK_RESOURCE_EXO),
                  "https://partner.outlook.cn/.default") == 0);
    assert(ek_cloud_scope(EK_CLOUD_USGOV, EK_RESOURCE_COMPLIANCE) == NULL);
    assert(ek_cloud_scope((enum ek_cloud)99, EK_RESOURCE_EXO) == NULL);
    assert(strcmp(ek_cloud_exo_environment(EK_CLOUD_GLOBAL), "O365Default") ==
           0);
    assert(strcmp(ek_cloud_exo_environment(EK_CLOUD_USGOV),
                  "O365USGovGCCHigh") == 0);
    assert(strcmp(ek_cloud_exo_environment(EK_CLOUD_USGOV_DOD),
                  "O365USGovDoD") == 0);
    assert(strcmp(ek_cloud_exo_environment(EK_CLOUD_CHINA), "O365China") == 0);
}

static void
test_success(void)
{
    struct ek_ctx *ctx = ut_ctx();
    struct ek_access_token *t = NULL;
    time_t before = time(NULL);

    assert(parse(ctx, 200, "application/json; charset=utf-8",
                 "{\"token_type\":\"Bearer\",\"expires_in\":3599,"
                 "\"ext_expires_in\":3599,\"access_token\":\"eyJ0.abc.def\"}",
                 &t) == EK_OK);
    assert(strcmp(ek_access_token_value(t), "eyJ0.abc.def") == 0);
    assert(strcmp(ek_access_token_type(t), "Bearer") == 0);
    assert(ek_access_token_expires_in(t) == 3599);
    assert(ek_access_token_expires_on(t) >= before + 3599 &&
           ek_access_token_expires_on(t) <= time(NULL) + 3599);
    assert(t->ext_expires_in == 3599);
    ek_access_token_free(&t);
    assert(t == NULL);

    /* v1-style string numbers */
    assert(parse(ctx, 200, "application/json",
                 "{\"token_type\":\"Bearer\",\"expires_in\":\"3600\","
                 "\"access_token\":\"x\"}",
                 &t) == EK_OK);
    assert(ek_access_token_expires_in(t) == 3600);
    ek_access_token_free(&t);

    /* a 200 without a token is not a success */
    assert(parse(ctx, 200, "application/json",
                 "{\"token_type\":\"Bearer\",\"expires_in\":3599}",
                 &t) == EK_ERR_NETWORK);
    assert(t == NULL && ut_has(ctx, "without an access_token"));
    assert(parse(ctx, 200, "application/json",
                 "{\"token_type\":\"Bearer\",\"expires_in\":\"soon\","
                 "\"access_token\":\"x\"}",
                 &t) == EK_ERR_NETWORK);
    assert(ut_has(ctx, "expires_in"));
    assert(parse(ctx, 200, "application/json",
                 "{\"expires_in\":5,\"access_token\":\"x\"}",
                 &t) == EK_ERR_NETWORK);
    assert(ut_has(ctx, "token_type"));
    ek_ctx_free(&ctx);
}

static const char err_fmt[] =
    "{\"error\":\"%s\",\"error_description\":\"AADSTS%ld: %s\\r\\n"
    "Trace ID: 0c1f-trace\\r\\nCorrelation ID: 7d2e-corr\\r\\nTimestamp: "
    "2026-01-01 00:00:00Z\",\"error_codes\":[%ld],\"timestamp\":"
    "\"2026-01-01 00:00:00Z\",\"trace_id\":\"0c1f-trace\","
    "\"correlation_id\":\"7d2e-corr\",\"error_uri\":"
    "\"https://login.microsoftonline.com/error?code=%ld\"}";

static ek_err
parse_error(struct ek_ctx *ctx, long status, const char *error, long code,
            const char *text)
{
    struct ek_access_token *t = NULL;
    char body[1024];
    ek_err r;

    snprintf(body, sizeof body, err_fmt, error, code, text, code, code);
    r = parse(ctx, status, "application/json; charset=utf-8", body, &t);
    assert(t == NULL);
    return r;
}

/* Issue 15: an access token that is not printable ASCII without spaces
 * or quotes is refused whole (exit 6 in the CLI), never printed. */
static void
test_hostile_token(void)
{
    static const struct {
        const char *json_value; /* as it is in the JSON */
        const char *why;
    } bad[] = {
        {"eyJ0.a\\u001b[31mb.c", "a control character at character 7"},
        {"eyJ0.ab.c\\r\\nX-Evil: 1", "a control character at character 10"},
        {"eyJ0.ab.c\\nexport X=1", "a control character at character 10"},
        {"eyJ0.ab.c\\u0000.hidden", "a NUL character (\\u0000)"},
        {"eyJ0.ab\\u2019; Write-Output PWNED; \\u2019",
         "a byte that is not ASCII at character 8"},
        {"eyJ0 ab.c", "a space at character 5"},
        {"eyJ0.ab'c", "a quote or backslash at character 8"},
        {"eyJ0.ab\\\"c", "a quote or backslash at character 8"},
        {"eyJ0.ab\\\\c", "a quote or backslash at character 8"},
        {"eyJ0.ab`c", "a quote or backslash at character 8"},
        {"eyJ0.ab\\u007fc", "a control character at character 8"},
        {"eyJ0.ab\\u0085c", "a byte that is not ASCII at character 8"},
    };
    struct ek_ctx *ctx = ut_ctx();
    struct ek_access_token *t = NULL;
    char body[512];
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(body, sizeof body,
                 "{\"token_type\":\"Bearer\","
                 "\"expires_in\":3599,\"access_token\":\"%s\"}",
                 bad[i].json_value);
        assert(parse(ctx, 200, "application/json", body, &t) == EK_ERR_NETWORK);
        assert(t == NULL);
        assert(ut_has(ctx, "the token endpoint returned a malformed "
                           "access_token") &&
               ut_has(ctx, bad[i].why));
        /* the value itself is never in the sentence */
        assert(strstr(ek_ctx_errmsg(ctx), "eyJ0") == NULL &&
               strstr(ek_ctx_errmsg(ctx), "PWNED") == NULL);
    }
    /* an escaped backslash before "u0000" is no NUL */
    assert(parse(ctx, 200, "application/json",
                 "{\"token_type\":\"Bearer\",\"expires_in\":3599,"
                 "\"access_token\":\"eyJ0.ab.c\",\"x\":\"\\\\u0000\"}",
                 &t) == EK_OK);
    ek_access_token_free(&t);
    /* a NUL in the member's name would make it "access_token" */
    assert(parse(ctx, 200, "application/json",
                 "{\"token_type\":\"Bearer\",\"expires_in\":3599,"
                 "\"access_token\\u0000x\":\"eyJ0.ab.c\"}",
                 &t) == EK_ERR_NETWORK);
    /* the token_type too */
    assert(parse(ctx, 200, "application/json",
                 "{\"token_type\":\"Bearer\\u001b[2J\",\"expires_in\":3599,"
                 "\"access_token\":\"eyJ0.ab.c\"}",
                 &t) == EK_ERR_NETWORK);
    assert(ut_has(ctx, "malformed token_type"));
    /* what Entra sends: JWTs, and opaque base64 tokens */
    assert(parse(ctx, 200, "application/json",
                 "{\"token_type\":\"Bearer\",\"expires_in\":3599,"
                 "\"access_token\":\"EwBwA8l6BAAU+7/ab==~!*._-\"}",
                 &t) == EK_OK);
    ek_access_token_free(&t);
    ek_ctx_free(&ctx);
}

/* Issue 15: the server's error, description, ids and Content-Type reach
 * the sentence with their control characters escaped, and a JWT in them
 * is redacted whole. */
static void
test_hostile_errors(void)
{
    struct ek_ctx *ctx = ut_ctx();
    struct ek_access_token *t = NULL;
    const char *msg;
    char body[2048], jwt[700];

    assert(parse(ctx, 401, "application/json",
                 "{\"error\":\"invalid_client\\u001b]0;pwned\\u0007\","
                 "\"error_description\":\"AADSTS700027: bad\\u001b[2J "
                 "key\\r\\nTrace ID: x\",\"error_codes\":[700027],"
                 "\"trace_id\":\"t\\u001b[1m\",\"correlation_id\":"
                 "\"c\\u009b31m\\u202e\"}",
                 &t) == EK_ERR_ENTRA);
    msg = ek_ctx_errmsg(ctx);
    assert(strchr(msg, 0x1b) == NULL && strchr(msg, 0x07) == NULL &&
           strstr(msg, "\xc2\x9b") == NULL &&
           strstr(msg, "\xe2\x80\xae") == NULL);
    assert(ut_has(ctx, "invalid_client\\x1B]0;pwned\\x07") &&
           ut_has(ctx, "AADSTS700027: bad\\x1B[2J key") &&
           ut_has(ctx, "trace ID t\\x1B[1m") &&
           ut_has(ctx, "correlation ID c\\u009B31m\\u202E"));

    /* a JWT in the description: redacted whole, however short */
    snprintf(jwt, sizeof jwt, "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4In0.%s",
             "c2lnbmF0dXJlc2lnbmF0dXJl");
    snprintf(body, sizeof body,
             "{\"error\":\"invalid_request\","
             "\"error_description\":\"AADSTS50027: JWT token is invalid: "
             "%s.\",\"error_codes\":[50027]}",
             jwt);
    assert(parse(ctx, 400, "application/json", body, &t) == EK_ERR_ENTRA);
    assert(strstr(ek_ctx_errmsg(ctx), "eyJ") == NULL &&
           strstr(ek_ctx_errmsg(ctx), "c2lnbmF0") == NULL);
    assert(ut_has(ctx, "JWT token is invalid: [JWT redacted, 61 "
                       "characters]"));
    /* a long one past the first 512 characters is not shown cut short */
    memset(jwt, 'A', 600);
    jwt[600] = '\0';
    snprintf(body, sizeof body,
             "{\"error\":\"invalid_request\","
             "\"error_description\":\"AADSTS50027: x %s\"}",
             jwt);
    assert(parse(ctx, 400, "application/json", body, &t) == EK_ERR_ENTRA);
    assert(ut_has(ctx, "AADSTS50027: x [600 characters redacted]") &&
           strstr(ek_ctx_errmsg(ctx), "AAAA") == NULL);

    /* a page whose Content-Type and text carry escapes and a token */
    snprintf(body, sizeof body,
             "<html><body>\x1b[31mError\x1b[0m for "
             "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4In0.c2ln</body></html>");
    assert(entra_parse_response(ctx, 502, "text/html\x1b[31m; x", body,
                                strlen(body), &t) == EK_ERR_NETWORK);
    msg = ek_ctx_errmsg(ctx);
    assert(strchr(msg, 0x1b) == NULL && strstr(msg, "eyJ") == NULL);
    assert(ut_has(ctx, "a text/html\\x1B[31m page") &&
           ut_has(ctx, "[JWT redacted"));
    assert(entra_server_failure(ctx, "https://h/t/oauth2/v2.0/token", 503,
                                "text/html\x1b[31m", body, strlen(body),
                                2) == EK_ERR_NETWORK);
    msg = ek_ctx_errmsg(ctx);
    assert(strchr(msg, 0x1b) == NULL && strstr(msg, "eyJ") == NULL);
    snprintf(body, sizeof body,
             "{\"error\":\"server_error\\u001b[5m\","
             "\"error_description\":\"AADSTS90033: down\\u001b[2J\","
             "\"trace_id\":\"\\u001b[8m\"}");
    assert(entra_server_failure(ctx, "https://h/t/oauth2/v2.0/token", 500,
                                "application/json", body, strlen(body),
                                1) == EK_ERR_NETWORK);
    msg = ek_ctx_errmsg(ctx);
    assert(strchr(msg, 0x1b) == NULL);
    assert(ut_has(ctx, "server_error\\x1B[5m: AADSTS90033: down\\x1B[2J "
                       "(trace ID \\x1B[8m)"));
    ek_ctx_free(&ctx);
}

static void
test_errors_hints(void)
{
    struct ek_ctx *ctx = ut_ctx();

    assert(parse_error(ctx, 401, "invalid_client", 700027,
                       "Client assertion failed signature validation.") ==
           EK_ERR_ENTRA);
    assert(ut_has(ctx, "HTTP 401 invalid_client"));
    assert(ut_has(ctx, "AADSTS700027: Client assertion failed signature "
                       "validation."));
    assert(ut_has(ctx, "upload the .cer"));
    assert(ut_has(ctx, "the one of the certificate on the token"));
    assert(ut_has(ctx, "[error_codes 700027;"));
    assert(ut_has(ctx, "correlation ID 7d2e-corr"));
    /* only the first line of the description */
    assert(strstr(ek_ctx_errmsg(ctx), "Timestamp:") == NULL);

    assert(parse_error(ctx, 400, "invalid_client", 700024,
                       "Client assertion is not within its valid time "
                       "range.") == EK_ERR_ENTRA);
    assert(ut_has(ctx, "AADSTS700024") && ut_has(ctx, "clock"));
    assert(strstr(ek_ctx_errmsg(ctx), "behind") == NULL);
    ctx->clock_skew = 600; /* the server is 10 minutes ahead */
    assert(parse_error(ctx, 400, "invalid_client", 700024,
                       "Client assertion is not within its valid time "
                       "range.") == EK_ERR_ENTRA);
    assert(ut_has(ctx, "600 s behind the server's"));
    ctx->clock_skew = -300;
    assert(parse_error(ctx, 400, "invalid_client", 700024, "x") ==
           EK_ERR_ENTRA);
    assert(ut_has(ctx, "300 s ahead of the server's"));
    ctx->clock_skew = 0;

    assert(parse_error(ctx, 400, "unauthorized_client", 700016,
                       "Application with identifier 'x' was not found.") ==
           EK_ERR_ENTRA);
    assert(ut_has(ctx, "check the client id") &&
           ut_has(ctx, "unauthorized_client"));

    assert(parse_error(ctx, 400, "invalid_request", 90002,
                       "Tenant 'x' not found.") == EK_ERR_ENTRA);
    assert(ut_has(ctx, "check the tenant") && ut_has(ctx, "the cloud"));
    assert(parse_error(ctx, 400, "invalid_request", 50049,
                       "Unknown or invalid instance.") == EK_ERR_ENTRA);
    assert(ut_has(ctx, "check the cloud"));

    assert(parse_error(ctx, 400, "invalid_request", 500011,
                       "The resource principal named "
                       "https://outlook.office365.com was not found.") ==
           EK_ERR_ENTRA);
    assert(ut_has(ctx, "Exchange.ManageAsApp") &&
           ut_has(ctx, "service principal"));

    assert(parse_error(ctx, 401, "invalid_client", 7000215,
                       "Invalid client secret provided.") == EK_ERR_ENTRA);
    assert(ut_has(ctx, "client secret"));

    assert(parse_error(ctx, 400, "invalid_scope", 1002012,
                       "The provided value for scope x is not valid.") ==
           EK_ERR_ENTRA);
    assert(ut_has(ctx, "/.default") && ut_has(ctx, "invalid_scope"));
    assert(parse_error(ctx, 400, "invalid_scope", 70011, "bad scope") ==
           EK_ERR_ENTRA);
    assert(ut_has(ctx, "/.default"));

    /* an unknown code: the OAuth error field still gives a hint */
    assert(parse_error(ctx, 401, "invalid_client", 123456, "Something.") ==
           EK_ERR_ENTRA);
    assert(ut_has(ctx, "AADSTS123456: Something.") &&
           ut_has(ctx, "Check the certificate registered"));

    assert(entra_hint(700027) != NULL && entra_hint(1) == NULL);
    ek_ctx_free(&ctx);
}

static void
test_error_shapes(void)
{
    struct ek_ctx *ctx = ut_ctx();
    struct ek_access_token *t = NULL;

    /* the trace on the same line, no codes */
    assert(parse(ctx, 400, "application/json",
                 "{\"error\":\"invalid_request\",\"error_description\":"
                 "\"AADSTS900144: The request body must contain the "
                 "following parameter: 'client_id'. Trace ID: abc\"}",
                 &t) == EK_ERR_ENTRA);
    assert(ut_has(ctx, "'client_id'."));
    assert(strstr(ek_ctx_errmsg(ctx), "Trace ID") == NULL);
    /* JSON that is neither */
    assert(parse(ctx, 400, "application/json", "{\"hello\":1}", &t) ==
           EK_ERR_NETWORK);
    assert(ut_has(ctx, "neither a token nor an error"));
    /* an error field on a 200 is still an error */
    assert(parse(ctx, 200, "application/json",
                 "{\"error\":\"invalid_client\",\"access_token\":\"x\","
                 "\"token_type\":\"Bearer\",\"expires_in\":1}",
                 &t) == EK_ERR_ENTRA);
    assert(t == NULL);
    ek_ctx_free(&ctx);
}

static void
test_not_json(void)
{
    struct ek_ctx *ctx = ut_ctx();
    struct ek_access_token *t = NULL;
    const char *trunc = "{\"token_type\":\"Bearer\",\"expires_in\":3599,"
                        "\"access_token\":\"eyJSECRETPART";
    char *huge;
    size_t n = 1024 * 1024, i;

    assert(parse(ctx, 503, "text/html; charset=us-ascii",
                 "<html><head><title>Service Unavailable</title></head>"
                 "<body><h1>Service   Unavailable</h1></body></html>",
                 &t) == EK_ERR_NETWORK);
    assert(ut_has(ctx, "the token endpoint answered HTTP 503 with a text/html "
                       "page, not JSON"));
    assert(ut_has(ctx, "Service Unavailable Service Unavailable"));

    /* a success cut short: malformed, and no part of the token shown */
    assert(parse(ctx, 200, "application/json", trunc, &t) == EK_ERR_NETWORK);
    assert(ut_has(ctx, "malformed JSON"));
    assert(strstr(ek_ctx_errmsg(ctx), "SECRET") == NULL);

    /* the same, mislabelled as text: still no excerpt */
    assert(parse(ctx, 200, "text/plain", trunc, &t) == EK_ERR_NETWORK);
    assert(strstr(ek_ctx_errmsg(ctx), "SECRET") == NULL);
    assert(parse(ctx, 200, "text/plain", "junk access_token=SECRET", &t) ==
           EK_ERR_NETWORK);
    assert(strstr(ek_ctx_errmsg(ctx), "SECRET") == NULL);

    assert(entra_parse_response(ctx, 502, "", "", 0, &t) == EK_ERR_NETWORK);
    assert(ut_has(ctx, "empty body"));
    assert(parse(ctx, 200, NULL, "plain words", &t) == EK_ERR_NETWORK);
    assert(ut_has(ctx, "without a Content-Type") && ut_has(ctx, "plain words"));

    /* a huge HTML body: the excerpt stays short */
    huge = malloc(n + 1);
    assert(huge != NULL);
    for (i = 0; i < n; i++)
        huge[i] = "<p>abc</p>"[i % 10];
    huge[n] = '\0';
    assert(entra_parse_response(ctx, 500, "text/html", huge, n, &t) ==
           EK_ERR_NETWORK);
    assert(strlen(ek_ctx_errmsg(ctx)) < 400);
    /* a huge JSON document is parsed, and refused for what it lacks */
    memset(huge, ' ', n);
    huge[0] = '{';
    huge[n - 1] = '}';
    assert(entra_parse_response(ctx, 200, "application/json", huge, n, &t) ==
           EK_ERR_NETWORK);
    assert(ut_has(ctx, "access_token"));
    free(huge);
    ek_ctx_free(&ctx);
}

static void
test_form(void)
{
    struct ek_ctx *ctx = ut_ctx();
    struct ek_secret *f = NULL;

    assert(entra_build_form(ctx, "11111111-2222-3333-4444-555555555555",
                            "https://outlook.office365.com/.default",
                            "aaa.bbb.c-_c", &f) == EK_OK);
    assert(strcmp(ek_secret_data(f),
                  "grant_type=client_credentials"
                  "&client_id=11111111-2222-3333-4444-555555555555"
                  "&scope=https%3A%2F%2Foutlook.office365.com%2F.default"
                  "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3A"
                  "client-assertion-type%3Ajwt-bearer"
                  "&client_assertion=aaa.bbb.c-_c") == 0);
    ek_secret_free(&f);
    assert(entra_build_form(ctx, "a", "x y&z=1", "j", &f) == EK_OK);
    assert(strstr(ek_secret_data(f), "&scope=x%20y%26z%3D1&") != NULL);
    ek_secret_free(&f);

    ek_ctx_free(&ctx);
}

/* A field of endpoint_rules.txt: \xNN a byte, \\ a backslash. */
static char *
decode_field(char *s)
{
    char *o = s, *start = s;
    unsigned v;

    while (*s != '\0') {
        if (s[0] == '\\' && s[1] == '\\') {
            *o++ = '\\';
            s += 2;
        } else if (s[0] == '\\' && s[1] == 'x' &&
                   sscanf(s + 2, "%2x", &v) == 1) {
            *o++ = (char)v;
            s += 4;
        } else {
            *o++ = *s++;
        }
    }
    *o = '\0';
    return start;
}

/* The table shared with the e2e test: the one rule set gives each row's
 * verdict and URL; ek_assertion_sign and ek_access_token_acquire give the
 * same code and the same sentence for each refused row (before any key is
 * used: the key here is a dummy that would crash if it were). */
static void
test_endpoint_rules(void)
{
    struct ek_ctx *ctx = ut_ctx();
    struct entra_endpoint ep;
    struct ek_assertion_params ap;
    struct ek_access_token_params tp;
    struct ek_secret *jwt = NULL;
    struct ek_access_token *t = NULL;
    struct ek_key *k = (struct ek_key *)(void *)&ap;
    char path[1024], line[4096], msg[EK_ERRMSG_MAX];
    char *f[4], *save = NULL, *nl;
    const char *v[3];
    const char *src = getenv("EK_SOURCE_DIR");
    int rows = 0, valid = 0, i;
    FILE *fp;
    ek_err r;

    assert(src != NULL);
    snprintf(path, sizeof path, "%s/tests/e2e/endpoint_rules.txt", src);
    assert((fp = fopen(path, "r")) != NULL);
    while (fgets(line, sizeof line, fp) != NULL) {
        if ((nl = strchr(line, '\n')) != NULL)
            *nl = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        f[0] = strtok_r(line, "|", &save);
        for (i = 1; i < 4; i++)
            f[i] = strtok_r(NULL, i < 3 ? "|" : "", &save);
        assert(f[3] != NULL);
        for (i = 0; i < 3; i++)
            v[i] = strcmp(f[i], "(empty)") == 0  ? ""
                   : strcmp(f[i], "(none)") == 0 ? NULL
                                                 : decode_field(f[i]);
        decode_field(f[3]);
        rows++;
        r = entra_endpoint_init(ctx, &ep, v[0], v[1], EK_CLOUD_GLOBAL, v[2]);
        if (strncmp(f[3], "error: ", 7) != 0) {
            valid++;
            if (r != EK_OK || strcmp(ep.token_url, f[3]) != 0)
                fprintf(stderr, "row %d: %s -> %d %s %s\n", rows, v[0], r,
                        ep.token_url, ek_ctx_errmsg(ctx));
            assert(r == EK_OK && strcmp(ep.token_url, f[3]) == 0);
            continue;
        }
        assert(r == EK_ERR_USAGE && ut_has(ctx, f[3] + 7));
        snprintf(msg, sizeof msg, "%s", ek_ctx_errmsg(ctx));
        /* a password is never in a sentence */
        assert(strstr(msg, "pw") == NULL);
        memset(&ap, 0, sizeof ap);
        ap.tenant = v[0];
        ap.client_id = v[1];
        ap.authority_host = v[2];
        assert(ek_assertion_sign(ctx, k, &ap, &jwt) == EK_ERR_USAGE);
        assert(jwt == NULL && strcmp(ek_ctx_errmsg(ctx), msg) == 0);
        memset(&tp, 0, sizeof tp);
        tp.assertion = ap;
        assert(ek_access_token_acquire(ctx, k, &tp, &t) == EK_ERR_USAGE);
        assert(t == NULL && strcmp(ek_ctx_errmsg(ctx), msg) == 0);
    }
    fclose(fp);
    assert(rows >= 30 && valid >= 10);
    ek_ctx_free(&ctx);
}

static void
test_endpoint_details(void)
{
    struct ek_ctx *ctx = ut_ctx();
    struct entra_endpoint ep;
    char big[300];

    /* the clouds' own login hosts */
    assert(entra_endpoint_init(ctx, &ep, "contoso.com",
                               "11111111-2222-3333-4444-555555555555",
                               EK_CLOUD_USGOV, NULL) == EK_OK);
    assert(strcmp(ep.token_url, "https://login.microsoftonline.us/"
                                "contoso.com/oauth2/v2.0/token") == 0);
    assert(strcmp(ep.authority, "https://login.microsoftonline.us") == 0);
    assert(entra_endpoint_init(ctx, &ep, "contoso.com",
                               "11111111-2222-3333-4444-555555555555",
                               EK_CLOUD_CHINA, "") == EK_OK);
    assert(strcmp(ep.authority, "https://login.chinacloudapi.cn") == 0);
    assert(entra_endpoint_init(ctx, &ep, "contoso.com",
                               "11111111-2222-3333-4444-555555555555",
                               (enum ek_cloud)9, NULL) == EK_ERR_USAGE);
    assert(ut_has(ctx, "unknown cloud 9"));
    /* the sentences speak of the library's parameters, not of flags */
    assert(entra_endpoint_init(ctx, &ep, NULL, NULL, EK_CLOUD_GLOBAL, NULL) ==
           EK_ERR_USAGE);
    assert(ut_has(ctx, "the tenant is missing") &&
           strstr(ek_ctx_errmsg(ctx), "--") == NULL);
    /* an over-long value is quoted in part, and the sentence still ends */
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert(entra_check_client_id(ctx, big) == EK_ERR_USAGE);
    assert(ut_has(ctx, "'[299 characters redacted]' is not an application"));
    memset(big, ':', sizeof big - 1);
    assert(entra_check_client_id(ctx, big) == EK_ERR_USAGE);
    assert(ut_has(ctx, "::...' is not an application") &&
           ut_has(ctx, "such as 11111111-2222-3333-4444-555555555555"));
    /* a JWT given as a tenant is not quoted back */
    assert(entra_check_tenant(ctx, "eyJhbGciOiJQUzI1NiJ9.eyJhdWQiOiJ4In0."
                                   "c2ln_bmF0dXJl") == EK_ERR_USAGE);
    assert(ut_has(ctx, "[JWT redacted, 50 characters]") &&
           strstr(ek_ctx_errmsg(ctx), "eyJ") == NULL);
    ek_ctx_free(&ctx);
}

static void
test_acquire_usage(void)
{
    struct ek_ctx *ctx = ut_ctx();
    struct ek_access_token_params p;
    struct ek_access_token *t = NULL;
    /* the key is never reached: a non-NULL pointer is enough */
    struct ek_key *k = (struct ek_key *)(void *)&p;

    memset(&p, 0, sizeof p);
    assert(ek_access_token_acquire(ctx, k, &p, &t) == EK_ERR_USAGE);
    assert(ut_has(ctx, "the tenant is missing"));
    p.assertion.tenant = "t.example";
    p.assertion.client_id = "11111111-2222-3333-4444-555555555555";
    p.assertion.cloud = EK_CLOUD_USGOV;
    p.resource = EK_RESOURCE_COMPLIANCE;
    assert(ek_access_token_acquire(ctx, k, &p, &t) == EK_ERR_USAGE);
    assert(ut_has(ctx, "no known compliance scope in the usgov cloud") &&
           ut_has(ctx, "give the scope"));
    p.scope = "https://x/.default";
    p.assertion.authority_host = "http://127.0.0.1:1";
    assert(ek_access_token_acquire(ctx, k, &p, &t) == EK_ERR_USAGE);
    assert(ut_has(ctx, "https://"));
    assert(t == NULL);
    ek_ctx_free(&ctx);
}

int
main(void)
{
    test_clouds();
    test_success();
    test_hostile_token();
    test_hostile_errors();
    test_errors_hints();
    test_error_shapes();
    test_not_json();
    test_form();
    test_endpoint_rules();
    test_endpoint_details();
    test_acquire_usage();
    printf("test_entra: ok\n");
    return 0;
}
