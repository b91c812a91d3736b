/* entra.c: Entra ID: the clouds table, the token request, its retries, and
 * the parsing of answers and errors. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "entra.h"
#include "http.h"

/* ------------------------------------------------------------ the clouds */

/*
 * Sources: entra-facts.md §1.1 (msal/authority.py), §1.3 (AzureCloudInstance)
 * and §1.4 for the login hosts; §1.6 (ScubaGear EXORestHelper.psm1, CIPP
 * New-ExoRequest) for the Exchange Online scopes; §3.1 (Connect-ExchangeOnline
 * doc) for -ExchangeEnvironmentName. Rows marked [unverified] have no source
 * in the facts: they come from the brief and from memory, and must be
 * checked against a tenant in that cloud.
 */
static const struct cloud_row {
    const char *name;
    const char *authority;
    const char *scope[4]; /* EXO, Graph, ARM, compliance: enum ek_resource */
    const char *exo_env;
} clouds[] = {
    [EK_CLOUD_GLOBAL] = {
        "global", "https://login.microsoftonline.com",
        {"https://outlook.office365.com/.default",
         "https://graph.microsoft.com/.default",          /* [unverified] */
         "https://management.azure.com/.default",         /* [unverified] */
         "https://ps.compliance.protection.outlook.com/.default"},
        "O365Default",
    },
    [EK_CLOUD_USGOV] = { /* GCC High */
        "usgov", "https://login.microsoftonline.us",
        {"https://outlook.office365.us/.default",
         "https://graph.microsoft.us/.default",           /* [unverified] */
         "https://management.usgovcloudapi.net/.default", /* [unverified] */
         NULL}, /* compliance: no source in the facts */
        "O365USGovGCCHigh",
    },
    [EK_CLOUD_USGOV_DOD] = {
        "usgov-dod", "https://login.microsoftonline.us",
        {"https://outlook-dod.office365.us/.default",
         "https://dod-graph.microsoft.us/.default",       /* [unverified] */
         "https://management.usgovcloudapi.net/.default", /* [unverified] */
         NULL},
        "O365USGovDoD",
    },
    [EK_CLOUD_CHINA] = { /* 21Vianet */
        "china", "https://login.chinacloudapi.cn",
        {"https://partner.outlook.cn/.default",           /* [unverified] */
         "https://microsoftgraph.chinacloudapi.cn/.default", /* [unverified] */
         "https://management.chinacloudapi.cn/.default",  /* [unverified] */
         NULL},
        "O365China",
    },
};

static const char *const resource_names[] = {
    [EK_RESOURCE_EXO] = "exo",
    [EK_RESOURCE_GRAPH] = "graph",
    [EK_RESOURCE_ARM] = "arm",
    [EK_RESOURCE_COMPLIANCE] = "compliance",
};

#define NCLOUDS (sizeof clouds / sizeof clouds[0])
#define NRESOURCES (sizeof resource_names / sizeof resource_names[0])

ek_err
ek_cloud_parse(const char *name, enum ek_cloud *cloud)
{
    size_t i;

    if (name == NULL || cloud == NULL)
        return EK_ERR_USAGE;
    for (i = 0; i < NCLOUDS; i++)
        if (strcasecmp(name, clouds[i].name) == 0) {
            *cloud = (enum ek_cloud)i;
            return EK_OK;
        }
    return EK_ERR_USAGE;
}

const char *
ek_cloud_authority_host(enum ek_cloud cloud)
{
    if ((unsigned)cloud >= NCLOUDS)
        cloud = EK_CLOUD_GLOBAL;
    return clouds[cloud].authority;
}

const char *
ek_cloud_scope(enum ek_cloud cloud, enum ek_resource r)
{
    if ((unsigned)cloud >= NCLOUDS || (unsigned)r >= NRESOURCES)
        return NULL;
    return clouds[cloud].scope[r];
}

const char *
ek_cloud_exo_environment(enum ek_cloud cloud)
{
    if ((unsigned)cloud >= NCLOUDS)
        cloud = EK_CLOUD_GLOBAL;
    return clouds[cloud].exo_env;
}

ek_err
ek_resource_parse(const char *name, enum ek_resource *r)
{
    size_t i;

    if (name == NULL || r == NULL)
        return EK_ERR_USAGE;
    for (i = 0; i < NRESOURCES; i++)
        if (strcasecmp(name, resource_names[i]) == 0) {
            *r = (enum ek_resource)i;
            return EK_OK;
        }
    return EK_ERR_USAGE;
}

/* ------------------------------------------------------- access tokens */

const char *
ek_access_token_value(const struct ek_access_token *t)
{
    return t != NULL ? ek_secret_data(t->value) : NULL;
}

const char *
ek_access_token_type(const struct ek_access_token *t)
{
    return t != NULL ? t->type : NULL;
}

int64_t
ek_access_token_expires_in(const struct ek_access_token *t)
{
    return t != NULL ? t->expires_in : 0;
}

int64_t
ek_access_token_expires_on(const struct ek_access_token *t)
{
    return t != NULL ? t->expires_on : 0;
}

const char *
ek_access_token_scope(const struct ek_access_token *t)
{
    return t != NULL ? t->scope : NULL;
}

void
ek_access_token_free(struct ek_access_token **tp)
{
    struct ek_access_token *t;

    if (tp == NULL || (t = *tp) == NULL)
        return;
    ek_secret_free(&t->value);
    free(t->type);
    free(t->scope);
    ek_wipe(t, sizeof *t);
    free(t);
    *tp = NULL;
}

/* ------------------------------------------------------------- parsing */

static const char *const months[] = {"Jan", "Feb", "Mar", "Apr",
                                     "May", "Jun", "Jul", "Aug",
                                     "Sep", "Oct", "Nov", "Dec"};

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
entra_parse_http_date(const char *value, time_t *t)
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
               &d, mon, &y, &H, &M, &S, &n) == 7 && n > 0 &&
        only_space(value + n))
        goto got;
    /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
    n = -1;
    /* NOLINTNEXTLINE(cert-err34-c): widths bound each number; checked at got */
    if (sscanf(value, "%15[A-Za-z], %2d-%3[A-Za-z]-%2d %2d:%2d:%2d GMT%n", wd,
               &d, mon, &y, &H, &M, &S, &n) == 7 && n > 0 &&
        only_space(value + n)) {
        y += y < 70 ? 2000 : 1900;
        goto got;
    }
    /* asctime: Sun Nov  6 08:49:37 1994 */
    n = -1;
    /* NOLINTNEXTLINE(cert-err34-c): widths bound each number; checked at got */
    if (sscanf(value, "%3[A-Za-z] %3[A-Za-z] %2d %2d:%2d:%2d %4d%n", wd, mon,
               &d, &H, &M, &S, &y, &n) == 7 && n > 0 && only_space(value + n))
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
entra_parse_retry_after(const char *value, time_t now, long *seconds)
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
    if (entra_parse_http_date(value, &when) != 0)
        return -1;
    *seconds = when > now ? (long)(when - now) : 0;
    return 0;
}

static const struct {
    long code;
    const char *hint;
} hints[] = {
    {700027, "the certificate is not registered on the app, the key is not "
             "the certificate's, or the certificate has expired: upload the "
             ".cer to the app registration (Certificates & secrets) and "
             "check that its thumbprint is the one `entrakey cert show` "
             "prints"},
    {700024, "the assertion's time window (nbf/exp) is not valid at the "
             "server: check this machine's clock (NTP)"},
    {700016, "no such app in that tenant: check --client-id (the "
             "Application (client) ID) and --tenant"},
    {90002, "the tenant is not found in this cloud: check --tenant (a GUID or "
            "a *.onmicrosoft.com domain) and --cloud"},
    {50049, "the authority is not known: check --cloud, --authority-host and "
            "--tenant"},
    {500011, "the resource's service principal is missing in the tenant: for "
             "Exchange Online the tenant needs Exchange Online (the Office "
             "365 Exchange Online service principal), and the app needs "
             "Exchange.ManageAsApp with admin consent"},
    {7000215, "a client secret reached the token endpoint, not a "
              "certificate assertion: entrakey sends only assertions, so "
              "check that no proxy rewrites the request and that the app "
              "has the certificate registered"},
    {1002012, "the scope is not valid: use one resource's /.default scope "
              "(e.g. https://outlook.office365.com/.default) or --resource"},
    {70011, "the scope is not valid: use one resource's /.default scope "
            "(e.g. https://outlook.office365.com/.default) or --resource"},
    {700022, "the scope names more than one resource: ask for one resource "
             "per token"},
    {7000112, "the application is disabled in the tenant: an administrator "
              "must enable it"},
    {50012, "the assertion was refused: check that the registered "
            "certificate is the one on the token (`entrakey cert show`)"},
};

const char *
entra_hint(long code)
{
    size_t i;

    for (i = 0; i < sizeof hints / sizeof hints[0]; i++)
        if (hints[i].code == code)
            return hints[i].hint;
    return NULL;
}

/* What the OAuth error field means; classification comes from it first. */
static const char *
oauth_error_meaning(const char *error)
{
    static const struct {
        const char *error;
        const char *meaning;
    } t[] = {
        {"invalid_client", "the app's credentials were not accepted"},
        {"unauthorized_client", "the app may not use this grant here"},
        {"invalid_scope", "the scope is not valid"},
        {"invalid_request", "the request is not valid"},
        {"invalid_grant", "the grant is not valid"},
        {"unsupported_grant_type", "the grant type is not supported"},
        {"temporarily_unavailable", "the service is temporarily unavailable"},
        {"server_error", "the service failed"},
        {"interaction_required", "interaction is required"},
    };
    size_t i;

    for (i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(error, t[i].error) == 0)
            return t[i].meaning;
    return NULL;
}

static const char *
oauth_error_hint(const char *error)
{
    if (strcmp(error, "invalid_client") == 0)
        return "check the certificate registered on the app, --client-id "
               "and --tenant";
    if (strcmp(error, "unauthorized_client") == 0)
        return "check --client-id and --tenant, and that the app is "
               "consented in that tenant";
    if (strcmp(error, "invalid_scope") == 0)
        return "use one resource's /.default scope, or --resource";
    if (strcmp(error, "invalid_request") == 0)
        return "check --tenant, --client-id, --cloud and --scope";
    if (strcmp(error, "temporarily_unavailable") == 0 ||
        strcmp(error, "server_error") == 0)
        return "try again later";
    return NULL;
}

/* Wipes every token string in the tree, then deletes it. */
static void
json_wipe_delete(cJSON *j)
{
    static const char *const secret_keys[] = {"access_token", "refresh_token",
                                              "id_token"};
    cJSON *item;
    size_t i;

    if (j == NULL)
        return;
    for (i = 0; i < sizeof secret_keys / sizeof secret_keys[0]; i++) {
        item = cJSON_GetObjectItemCaseSensitive(j, secret_keys[i]);
        if (cJSON_IsString(item) && item->valuestring != NULL)
            ek_wipe(item->valuestring, strlen(item->valuestring));
    }
    cJSON_Delete(j);
}

/* A number or a string of digits (Entra v1 sent expires_in as "3599"). */
static int
json_int(const cJSON *item, int64_t *v)
{
    char *end = NULL;
    long long n;

    if (cJSON_IsNumber(item)) {
        if (item->valuedouble < 0 || item->valuedouble > 1e12)
            return -1;
        *v = (int64_t)item->valuedouble;
        return 0;
    }
    if (cJSON_IsString(item) && item->valuestring != NULL &&
        isdigit((unsigned char)item->valuestring[0])) {
        errno = 0;
        n = strtoll(item->valuestring, &end, 10);
        if (errno != 0 || *end != '\0' || n > 1000000000000LL)
            return -1;
        *v = n;
        return 0;
    }
    return -1;
}

static const char *
json_str(const cJSON *j, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(j, key);

    return cJSON_IsString(item) && item->valuestring != NULL
               ? item->valuestring
               : NULL;
}

/* Printable text of a non-JSON body (an HTML error page): tags dropped,
 * white space folded, at most outsz-1 characters. */
static void
body_snippet(const char *body, size_t len, char *out, size_t outsz)
{
    size_t i, o = 0;
    int in_tag = 0, space = 1;
    unsigned char c;

    for (i = 0; i < len && o + 1 < outsz; i++) {
        c = (unsigned char)body[i];
        if (c == '<') {
            in_tag = 1;
            continue;
        }
        if (in_tag) {
            if (c == '>') {
                in_tag = 0;
                if (!space) {
                    out[o++] = ' ';
                    space = 1;
                }
            }
            continue;
        }
        if (isspace(c) || c < 0x20 || c >= 0x7f) {
            if (!space) {
                out[o++] = ' ';
                space = 1;
            }
            continue;
        }
        out[o++] = (char)c;
        space = 0;
    }
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
}

/* The first line of error_description (the AADSTS text), without the
 * trace that some answers put on the same line, nor a final period. */
static void
first_line(const char *desc, char *out, size_t outsz)
{
    const char *cut;
    size_t n;

    n = strcspn(desc, "\r\n");
    if ((cut = strstr(desc, " Trace ID:")) != NULL &&
        (size_t)(cut - desc) < n)
        n = (size_t)(cut - desc);
    while (n > 0 && (desc[n - 1] == ' ' || desc[n - 1] == '.'))
        n--;
    snprintf(out, outsz, "%.*s", (int)n, desc);
}

/* "a text/html page" or "a body without a Content-Type". */
static void
page_kind(const char *content_type, char *out, size_t outsz)
{
    const char *semi;

    if (content_type == NULL || content_type[0] == '\0') {
        snprintf(out, outsz, "a body without a Content-Type");
        return;
    }
    semi = strchr(content_type, ';');
    snprintf(out, outsz, "a %.*s page",
             (int)(semi != NULL ? (size_t)(semi - content_type)
                                : strlen(content_type)),
             content_type);
}

/* A body that may hold a token, whatever its Content-Type says: JSON, or
 * anything naming a token field. Never quoted in a message. */
static int
looks_like_json(const char *body, size_t len)
{
    static const char *const marks[] = {"access_token", "refresh_token",
                                        "id_token"};
    size_t i, k, n;

    for (i = 0; i < len && isspace((unsigned char)body[i]); i++)
        ;
    if (i < len && (body[i] == '{' || body[i] == '['))
        return 1;
    for (k = 0; k < sizeof marks / sizeof marks[0]; k++) {
        n = strlen(marks[k]);
        for (i = 0; i + n <= len; i++)
            if (memcmp(body + i, marks[k], n) == 0)
                return 1;
    }
    return 0;
}

static int
is_json_type(const char *ct)
{
    return ct != NULL && (strncasecmp(ct, "application/json", 16) == 0 ||
                          strstr(ct, "+json") != NULL);
}

static ek_err
not_json(struct ek_ctx *ctx, long status, const char *content_type,
         const char *body, size_t len)
{
    char snippet[160];
    char type[96];

    if (len == 0)
        return ek_seterr(ctx, EK_ERR_NETWORK, "the token endpoint answered "
                         "HTTP %ld with an empty body, not JSON; check the "
                         "authority host and any proxy", status);
    if (is_json_type(content_type) || looks_like_json(body, len))
        /* no excerpt: a JSON success cut short would show the token */
        return ek_seterr(ctx, EK_ERR_NETWORK, "the token endpoint answered "
                         "HTTP %ld with malformed JSON (%zu bytes; cut "
                         "short?); try again, and check any proxy", status,
                         len);
    body_snippet(body, len, snippet, sizeof snippet);
    page_kind(content_type, type, sizeof type);
    return ek_seterr(ctx, EK_ERR_NETWORK, "the token endpoint answered HTTP "
                     "%ld with %s, not JSON: \"%s\"; check the authority "
                     "host and any proxy", status, type, snippet);
}

/* The error answer: classified by the OAuth error field, explained by the
 * first line of error_description (the AADSTS text), hinted by the code. */
static ek_err
entra_error(struct ek_ctx *ctx, long status, const cJSON *j)
{
    const char *error = json_str(j, "error");
    const char *desc = json_str(j, "error_description");
    const char *trace = json_str(j, "trace_id");
    const char *corr = json_str(j, "correlation_id");
    const cJSON *codes = cJSON_GetObjectItemCaseSensitive(j, "error_codes");
    const cJSON *c;
    const char *meaning = NULL, *hint = NULL;
    char first[512] = "";
    char codelist[128] = "";
    char skewnote[160] = "";
    char ids[200] = "";
    char hint_first[2] = "";
    size_t o = 0;
    long code, hint_code = 0;

    if (desc != NULL)
        first_line(desc, first, sizeof first);
    cJSON_ArrayForEach(c, codes)
    {
        /* AADSTS codes are whole numbers of a few digits; converting a
         * 1e300 would be undefined behaviour */
        if (!cJSON_IsNumber(c) ||
            !(c->valuedouble >= 0 && c->valuedouble <= 999999999.0))
            continue;
        code = (long)c->valuedouble;
        if (o < sizeof codelist)
            o += (size_t)snprintf(codelist + o, sizeof codelist - o, "%s%ld",
                                  o > 0 ? ", " : "", code);
        if (hint == NULL && (hint = entra_hint(code)) != NULL)
            hint_code = code;
    }
    if (error != NULL) {
        meaning = oauth_error_meaning(error);
        if (hint == NULL)
            hint = oauth_error_hint(error);
    }
    if (hint_code == 700024 && ctx != NULL &&
        (ctx->clock_skew > ENTRA_SKEW_WARN ||
         ctx->clock_skew < -ENTRA_SKEW_WARN))
        snprintf(skewnote, sizeof skewnote, " This machine's clock is %lld "
                 "s %s the server's.",
                 (long long)(ctx->clock_skew > 0 ? ctx->clock_skew
                                                 : -ctx->clock_skew),
                 ctx->clock_skew > 0 ? "behind" : "ahead of");
    if (trace != NULL || corr != NULL)
        snprintf(ids, sizeof ids, "; trace ID %s; correlation ID %s",
                 trace != NULL ? trace : "-", corr != NULL ? corr : "-");
    if (error == NULL && desc == NULL)
        return ek_seterr(ctx, EK_ERR_NETWORK, "the token endpoint answered "
                         "HTTP %ld with JSON that holds neither a token nor "
                         "an error; check the authority host", status);
    /* the description's sentence, then the hint as a sentence of its own */
    hint_first[0] =
        (char)(hint != NULL ? toupper((unsigned char)hint[0]) : 0);
    return ek_seterr(ctx, EK_ERR_ENTRA, "Entra ID refused the token request "
                     "(HTTP %ld %s%s%s): %s.%s%s%s%s%s [error_codes %s%s]",
                     status, error != NULL ? error : "without an error field",
                     meaning != NULL ? ": " : "",
                     meaning != NULL ? meaning : "",
                     first[0] != '\0' ? first : "no description",
                     hint != NULL ? " " : "", hint_first,
                     hint != NULL ? hint + 1 : "", hint != NULL ? "." : "",
                     skewnote, codelist[0] != '\0' ? codelist : "none", ids);
}

ek_err
entra_parse_response(struct ek_ctx *ctx, long status, const char *content_type,
                     const char *body, size_t len,
                     struct ek_access_token **out)
{
    struct ek_access_token *t = NULL;
    cJSON *j = NULL;
    const cJSON *tok;
    const char *type;
    int64_t expires_in = 0, ext = 0;
    ek_err r = EK_ERR_NETWORK;

    *out = NULL;
    if (body == NULL)
        len = 0;
    if (len == 0 || (j = cJSON_ParseWithLength(body, len)) == NULL ||
        !cJSON_IsObject(j)) {
        r = not_json(ctx, status, content_type, body, len);
        goto out;
    }
    if (status != 200 ||
        cJSON_GetObjectItemCaseSensitive(j, "error") != NULL) {
        r = entra_error(ctx, status, j);
        goto out;
    }
    tok = cJSON_GetObjectItemCaseSensitive(j, "access_token");
    type = json_str(j, "token_type");
    if (!cJSON_IsString(tok) || tok->valuestring == NULL ||
        tok->valuestring[0] == '\0' || type == NULL ||
        json_int(cJSON_GetObjectItemCaseSensitive(j, "expires_in"),
                 &expires_in) != 0 || expires_in <= 0) {
        r = ek_seterr(ctx, EK_ERR_NETWORK, "the token endpoint answered "
                      "HTTP 200 without %s; check the authority host",
                      !cJSON_IsString(tok) || tok->valuestring == NULL ||
                              tok->valuestring[0] == '\0'
                          ? "an access_token"
                      : type == NULL ? "a token_type"
                                     : "a valid expires_in");
        goto out;
    }
    (void)json_int(cJSON_GetObjectItemCaseSensitive(j, "ext_expires_in"),
                   &ext);
    if ((t = ek_calloc(ctx, 1, sizeof *t)) == NULL ||
        (r = ek_secret_new(ctx, strlen(tok->valuestring), &t->value)) !=
            EK_OK ||
        (r = ek_secret_append_str(ctx, t->value, tok->valuestring)) != EK_OK ||
        (t->type = ek_strdup(ctx, type)) == NULL) {
        r = EK_ERR_INTERNAL;
        goto out;
    }
    t->expires_in = expires_in;
    t->ext_expires_in = ext;
    t->expires_on = (int64_t)time(NULL) + expires_in;
    *out = t;
    t = NULL;
    r = EK_OK;
out:
    json_wipe_delete(j);
    ek_access_token_free(&t);
    return r;
}

/* ------------------------------------------------------------- request */

ek_err
entra_check_ids(struct ek_ctx *ctx, const char *tenant, const char *client_id)
{
    static const char host_chars[] = "abcdefghijklmnopqrstuvwxyz"
                                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789.-";

    if (tenant == NULL || tenant[0] == '\0')
        return ek_seterr(ctx, EK_ERR_USAGE, "no tenant: give --tenant (the "
                         "directory (tenant) ID, or a domain such as "
                         "contoso.onmicrosoft.com) or AZURE_TENANT_ID");
    if (strspn(tenant, host_chars) != strlen(tenant) || strlen(tenant) > 253 ||
        tenant[0] == '.' || tenant[0] == '-')
        return ek_seterr(ctx, EK_ERR_USAGE, "tenant '%s' is neither a GUID "
                         "nor a domain name (letters, digits, dots and "
                         "hyphens); check --tenant", tenant);
    if (client_id == NULL || client_id[0] == '\0')
        return ek_seterr(ctx, EK_ERR_USAGE, "no client id: give --client-id "
                         "(the app's Application (client) ID) or "
                         "AZURE_CLIENT_ID");
    if (strspn(client_id, host_chars) != strlen(client_id) ||
        strlen(client_id) > 128)
        return ek_seterr(ctx, EK_ERR_USAGE, "client id '%s' is not an "
                         "application ID (a GUID); check --client-id",
                         client_id);
    return EK_OK;
}

ek_err
entra_token_url(struct ek_ctx *ctx, const char *host, const char *tenant,
                char **urlp)
{
    char hostpart[256];
    size_t n, need;
    char *url;

    *urlp = NULL;
    n = strlen(host);
    while (n > 0 && host[n - 1] == '/')
        n--;
    if (n < 9 || strncasecmp(host, "https://", 8) != 0)
        return ek_seterr(ctx, EK_ERR_USAGE, "authority host '%s' is not an "
                         "https:// URL; entrakey talks to Entra ID over HTTPS "
                         "only (e.g. https://login.microsoftonline.com)",
                         host);
    need = n + 1 + strlen(tenant) + sizeof "/oauth2/v2.0/token";
    if ((url = ek_calloc(ctx, 1, need)) == NULL)
        return EK_ERR_INTERNAL;
    snprintf(url, need, "%.*s/%s/oauth2/v2.0/token", (int)n, host, tenant);
    if (http_url_host(url, hostpart, sizeof hostpart) != 0) {
        free(url);
        return ek_seterr(ctx, EK_ERR_USAGE, "authority host '%s' is not a "
                         "valid https:// URL", host);
    }
    *urlp = url;
    return EK_OK;
}

/* Appends str URL-encoded (RFC 3986 unreserved characters kept). */
static ek_err
form_append(struct ek_ctx *ctx, struct ek_secret *s, const char *str)
{
    static const char hex[] = "0123456789ABCDEF";
    char enc[3];
    unsigned char c;
    ek_err r;

    for (; *str != '\0'; str++) {
        c = (unsigned char)*str;
        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            r = ek_secret_append(ctx, s, str, 1);
        } else {
            enc[0] = '%';
            enc[1] = hex[c >> 4];
            enc[2] = hex[c & 0x0f];
            r = ek_secret_append(ctx, s, enc, 3);
        }
        if (r != EK_OK)
            return r;
    }
    return EK_OK;
}

ek_err
entra_build_form(struct ek_ctx *ctx, const char *client_id, const char *scope,
                 const char *assertion, struct ek_secret **formp)
{
    struct ek_secret *f = NULL;
    ek_err r = EK_ERR_INTERNAL;

    *formp = NULL;
    if ((r = ek_secret_new(ctx, strlen(assertion) + 512, &f)) != EK_OK)
        goto out;
    if ((r = ek_secret_append_str(ctx, f, "grant_type=client_credentials"
                                  "&client_id=")) != EK_OK ||
        (r = form_append(ctx, f, client_id)) != EK_OK ||
        (r = ek_secret_append_str(ctx, f, "&scope=")) != EK_OK ||
        (r = form_append(ctx, f, scope)) != EK_OK ||
        (r = ek_secret_append_str(ctx, f, "&client_assertion_type="
                                  "urn%3Aietf%3Aparams%3Aoauth%3A"
                                  "client-assertion-type%3Ajwt-bearer"
                                  "&client_assertion=")) != EK_OK ||
        (r = form_append(ctx, f, assertion)) != EK_OK)
        goto out;
    *formp = f;
    f = NULL;
    r = EK_OK;
out:
    ek_secret_free(&f);
    return r;
}

/* A 5xx that stayed a 5xx: the service failed, not our request. */
static ek_err
server_failure(struct ek_ctx *ctx, const char *url,
               const struct http_response *resp, int tries)
{
    const char *body = ek_secret_data(resp->body);
    size_t len = ek_secret_len(resp->body);
    const char *error, *desc, *trace;
    char detail[700], first[400] = "", kind[96], snippet[160];
    cJSON *j = NULL;

    if (len > 0)
        j = cJSON_ParseWithLength(body, len);
    if (cJSON_IsObject(j) && ((error = json_str(j, "error")) != NULL ||
                              json_str(j, "error_description") != NULL)) {
        desc = json_str(j, "error_description");
        trace = json_str(j, "trace_id");
        if (desc != NULL)
            first_line(desc, first, sizeof first);
        snprintf(detail, sizeof detail, "%s: %s%s%s%s",
                 error != NULL ? error : "error",
                 first[0] != '\0' ? first : "no description",
                 trace != NULL ? " (trace ID " : "",
                 trace != NULL ? trace : "", trace != NULL ? ")" : "");
    } else if (len == 0) {
        snprintf(detail, sizeof detail, "an empty body");
    } else if (is_json_type(resp->content_type) ||
               looks_like_json(body, len)) {
        snprintf(detail, sizeof detail, "malformed JSON, %zu bytes", len);
    } else {
        page_kind(resp->content_type, kind, sizeof kind);
        body_snippet(body, len, snippet, sizeof snippet);
        snprintf(detail, sizeof detail, "%s, not JSON: \"%s\"", kind,
                 snippet);
    }
    json_wipe_delete(j);
    return ek_seterr(ctx, EK_ERR_NETWORK, "the token endpoint %s failed "
                     "with HTTP %ld%s (%s); the service is in trouble: try "
                     "again later", url, resp->status,
                     tries > 1 ? ", twice" : "", detail);
}

static void
pause_seconds(long s)
{
    struct timespec ts = {s, 0}, rem;

    while (nanosleep(&ts, &rem) != 0 && errno == EINTR)
        ts = rem;
}

/* The server's Date against the local clock: ctx->clock_skew. */
static void
note_clock(struct ek_ctx *ctx, const struct http_response *resp,
           const char *host)
{
    time_t server, now = time(NULL);
    int64_t skew;

    if (resp->date[0] == '\0' || entra_parse_http_date(resp->date, &server))
        return;
    skew = (int64_t)server - (int64_t)now;
    ctx->clock_skew = skew;
    if (skew > ENTRA_SKEW_WARN || skew < -ENTRA_SKEW_WARN)
        ek_log(ctx, EK_LOG_WARN, "this machine's clock is %lld s %s %s's "
               "(HTTP Date); Entra ID may refuse assertions "
               "(AADSTS700024): set the clock right (NTP)",
               (long long)(skew > 0 ? skew : -skew),
               skew > 0 ? "behind" : "ahead of", host);
}

ek_err
entra_exchange(struct ek_ctx *ctx, const struct entra_exchange *x,
               struct ek_access_token **tokp)
{
    struct ek_secret *form = NULL;
    struct http_request req;
    struct http_response resp;
    char host[256] = "?";
    char prev[EK_ERRMSG_MAX];
    unsigned timeout = x->timeout != 0 ? x->timeout : ENTRA_DEFAULT_TIMEOUT;
    unsigned max_wait =
        x->max_wait != 0 ? x->max_wait : ENTRA_DEFAULT_MAX_WAIT;
    int transient_retried = 0, throttled = 0, has_ra;
    long wait = 0, waited = 0;
    ek_err r = EK_ERR_INTERNAL;

    *tokp = NULL;
    memset(&resp, 0, sizeof resp);
    (void)http_url_host(x->url, host, sizeof host);
    if ((r = entra_build_form(ctx, x->client_id, x->scope,
                              ek_secret_data(x->assertion), &form)) != EK_OK)
        goto out;
    memset(&req, 0, sizeof req);
    req.url = x->url;
    req.form = form;
    req.ca_file = x->ca_file;
    req.timeout = timeout;
    ek_log(ctx, EK_LOG_INFO, "token request to %s for scope %s", x->url,
           x->scope);
    for (;;) {
        http_response_clear(&resp);
        r = http_post_form(ctx, &req, &resp);
        if (r != EK_OK) {
            if (!resp.retryable)
                goto out;
            if (transient_retried) {
                snprintf(prev, sizeof prev, "%s", ek_ctx_errmsg(ctx));
                r = ek_seterr(ctx, r, "after 2 tries: %s", prev);
                goto out;
            }
            /* one more try: a dropped connection or a lost answer */
            transient_retried = 1;
            ek_log(ctx, EK_LOG_WARN, "%s: %s; trying once more in 1 s", host,
                   resp.reason);
            pause_seconds(1);
            continue;
        }
        note_clock(ctx, &resp, host);
        has_ra = resp.retry_after[0] != '\0' &&
                 entra_parse_retry_after(resp.retry_after, time(NULL),
                                         &wait) == 0;
        if (resp.status == 429 || (resp.status == 503 && has_ra)) {
            if (!has_ra)
                wait = ENTRA_DEFAULT_429_WAIT;
            if (wait > (long)max_wait) {
                r = ek_seterr(ctx, EK_ERR_THROTTLED, "%s is throttling "
                              "(HTTP %ld) and asks to wait %ld s "
                              "(Retry-After: %s), more than --max-wait %u s; "
                              "try again later or raise --max-wait", host,
                              resp.status, wait,
                              has_ra ? resp.retry_after : "none", max_wait);
                goto out;
            }
            if (throttled == ENTRA_THROTTLE_RETRIES) {
                r = ek_seterr(ctx, EK_ERR_THROTTLED, "%s is still throttling "
                              "(HTTP %ld) after %d retries and %ld s of "
                              "waiting; try again later", host, resp.status,
                              ENTRA_THROTTLE_RETRIES, waited);
                goto out;
            }
            throttled++;
            ek_log(ctx, EK_LOG_WARN, "%s answered HTTP %ld; waiting %ld s as "
                   "it asks (Retry-After: %s), then retry %d of %d", host,
                   resp.status, wait, has_ra ? resp.retry_after : "none",
                   throttled, ENTRA_THROTTLE_RETRIES);
            pause_seconds(wait);
            waited += wait;
            continue;
        }
        if (resp.status >= 500 && !has_ra && !transient_retried) {
            transient_retried = 1;
            ek_log(ctx, EK_LOG_WARN, "%s answered HTTP %ld; trying once more "
                   "in 1 s", host, resp.status);
            pause_seconds(1);
            continue;
        }
        break;
    }
    if (resp.status >= 500) {
        r = server_failure(ctx, x->url, &resp, transient_retried ? 2 : 1);
        goto out;
    }
    r = entra_parse_response(ctx, resp.status, resp.content_type,
                             ek_secret_data(resp.body),
                             ek_secret_len(resp.body), tokp);
    if (r != EK_OK)
        goto out;
    if (((*tokp)->scope = ek_strdup(ctx, x->scope)) == NULL) {
        ek_access_token_free(tokp);
        r = EK_ERR_INTERNAL;
        goto out;
    }
    ek_log(ctx, EK_LOG_INFO, "got a %s token from %s, valid %lld s",
           (*tokp)->type, host, (long long)(*tokp)->expires_in);
    r = EK_OK;
out:
    http_response_clear(&resp);
    ek_secret_free(&form);
    ek_wipe(prev, sizeof prev);
    return r;
}

ek_err
ek_token_acquire(struct ek_ctx *ctx, struct ek_key *k,
                 const struct ek_token_params *params,
                 struct ek_access_token **tokp)
{
    struct ek_assertion_params ap;
    struct entra_exchange x;
    struct ek_secret *jwt = NULL;
    const char *host, *scope;
    char *url = NULL, *host_norm = NULL;
    size_t n;
    ek_err r = EK_ERR_USAGE;

    if (tokp == NULL)
        return ek_seterr(ctx, EK_ERR_USAGE, "ek_token_acquire: no place for "
                         "the token");
    *tokp = NULL;
    if (ctx == NULL || k == NULL || params == NULL)
        return ek_seterr(ctx, EK_ERR_USAGE, "ek_token_acquire: a context, "
                         "a key and parameters are required");
    ap = params->assertion;
    if ((r = entra_check_ids(ctx, ap.tenant, ap.client_id)) != EK_OK)
        goto out;
    if ((unsigned)ap.cloud >= NCLOUDS) {
        r = ek_seterr(ctx, EK_ERR_USAGE, "unknown cloud %d", (int)ap.cloud);
        goto out;
    }
    scope = params->scope;
    if (scope == NULL || scope[0] == '\0') {
        if ((unsigned)params->resource >= NRESOURCES) {
            r = ek_seterr(ctx, EK_ERR_USAGE, "unknown resource %d",
                          (int)params->resource);
            goto out;
        }
        if ((scope = ek_cloud_scope(ap.cloud, params->resource)) == NULL) {
            r = ek_seterr(ctx, EK_ERR_USAGE, "no known %s scope in the %s "
                          "cloud; give it with --scope URI/.default",
                          resource_names[params->resource],
                          clouds[ap.cloud].name);
            goto out;
        }
    }
    host = ap.authority_host != NULL && ap.authority_host[0] != '\0'
               ? ap.authority_host
               : ek_cloud_authority_host(ap.cloud);
    if ((r = entra_token_url(ctx, host, ap.tenant, &url)) != EK_OK)
        goto out;
    /* the assertion's aud names the very endpoint the form is posted to */
    n = strlen(host);
    while (n > 0 && host[n - 1] == '/')
        n--;
    if ((host_norm = ek_calloc(ctx, 1, n + 1)) == NULL) {
        r = EK_ERR_INTERNAL;
        goto out;
    }
    memcpy(host_norm, host, n);
    ap.authority_host = host_norm;
    if ((r = ek_assertion_sign(ctx, k, &ap, &jwt)) != EK_OK)
        goto out;
    memset(&x, 0, sizeof x);
    x.url = url;
    x.client_id = ap.client_id;
    x.scope = scope;
    x.assertion = jwt;
    x.ca_file = params->ca_file;
    x.timeout = params->timeout;
    x.max_wait = params->max_wait;
    r = entra_exchange(ctx, &x, tokp);
out:
    ek_secret_free(&jwt);
    free(url);
    free(host_norm);
    return r;
}
