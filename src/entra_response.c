/* entra_response.c: what the token endpoint answers: the access token
 * (checked, held in a secret), and the error sentences made of Entra's
 * error JSON, an HTML page or nothing, with the AADSTS hints. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "entra.h"
#include "text.h"

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

static const struct {
    long code;
    const char *hint;
} hints[] = {
    {700027, "the certificate is not registered on the app, the key is not "
             "the certificate's, or the certificate has expired: upload the "
             ".cer to the app registration (Certificates & secrets) and "
             "check that its thumbprint is the one of the certificate on "
             "the token"},
    {700024, "the assertion's time window (nbf/exp) is not valid at the "
             "server: check this machine's clock (NTP)"},
    {700016, "no such app in that tenant: check the client id (the "
             "Application (client) ID) and the tenant"},
    {90002, "the tenant is not found in this cloud: check the tenant (a GUID "
            "or a *.onmicrosoft.com domain) and the cloud"},
    {50049, "the authority is not known: check the cloud, the authority "
            "host and the tenant"},
    {500011, "the resource's service principal is missing in the tenant: for "
             "Exchange Online the tenant needs Exchange Online (the Office "
             "365 Exchange Online service principal), and the app needs "
             "Exchange.ManageAsApp with admin consent"},
    {7000215, "a client secret reached the token endpoint, not a "
              "certificate assertion: entrakey sends only assertions, so "
              "check that no proxy rewrites the request and that the app "
              "has the certificate registered"},
    {1002012, "the scope is not valid: use one resource's /.default scope "
              "(e.g. https://outlook.office365.com/.default)"},
    {70011, "the scope is not valid: use one resource's /.default scope "
            "(e.g. https://outlook.office365.com/.default)"},
    {700022, "the scope names more than one resource: ask for one resource "
             "per token"},
    {7000112, "the application is disabled in the tenant: an administrator "
              "must enable it"},
    {50012, "the assertion was refused: check that the registered "
            "certificate is the one on the token"},
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
        return "check the certificate registered on the app, the client id "
               "and the tenant";
    if (strcmp(error, "unauthorized_client") == 0)
        return "check the client id and the tenant, and that the app is "
               "consented in that tenant";
    if (strcmp(error, "invalid_scope") == 0)
        return "use one resource's /.default scope";
    if (strcmp(error, "invalid_request") == 0)
        return "check the tenant, the client id, the cloud and the scope";
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

    return cJSON_IsString(item) && item->valuestring != NULL ? item->valuestring
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
 * trace that some answers put on the same line, nor a final period;
 * quoted (text.h). Redaction sees four times what is shown, so that a
 * token is never shown cut short instead of redacted. */
static void
first_line(const char *desc, char *out, size_t outsz)
{
    char line[4 * 512];
    const char *cut;
    size_t n;

    n = strcspn(desc, "\r\n");
    if ((cut = strstr(desc, " Trace ID:")) != NULL && (size_t)(cut - desc) < n)
        n = (size_t)(cut - desc);
    while (n > 0 && (desc[n - 1] == ' ' || desc[n - 1] == '.'))
        n--;
    if (n >= sizeof line)
        n = sizeof line - 1;
    memcpy(line, desc, n);
    line[n] = '\0';
    text_quote(out, outsz < sizeof line / 4 ? outsz : sizeof line / 4, line);
}

/* The snippet of a page, quoted: a token in it redacted whole. */
static void
quoted_snippet(const char *body, size_t len, char *out, size_t outsz)
{
    char text[4096];

    body_snippet(body, len, text, sizeof text);
    text_quote(out, outsz, text);
}

/* "a text/html page" or "a body without a Content-Type". */
static void
page_kind(const char *content_type, char *out, size_t outsz)
{
    const char *semi;
    char type[128], q[96];

    if (content_type == NULL || content_type[0] == '\0') {
        snprintf(out, outsz, "a body without a Content-Type");
        return;
    }
    semi = strchr(content_type, ';');
    snprintf(type, sizeof type, "%.*s",
             (int)(semi != NULL ? (size_t)(semi - content_type)
                                : strlen(content_type)),
             content_type);
    snprintf(out, outsz, "a %s page", text_quote(q, sizeof q, type));
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
        return ek_seterr(ctx, EK_ERR_NETWORK,
                         "the token endpoint answered "
                         "HTTP %ld with an empty body, not JSON; check the "
                         "authority host and any proxy",
                         status);
    if (is_json_type(content_type) || looks_like_json(body, len))
        /* no excerpt: a JSON success cut short would show the token */
        return ek_seterr(ctx, EK_ERR_NETWORK,
                         "the token endpoint answered "
                         "HTTP %ld with malformed JSON (%zu bytes; cut "
                         "short?); try again, and check any proxy",
                         status, len);
    quoted_snippet(body, len, snippet, sizeof snippet);
    page_kind(content_type, type, sizeof type);
    return ek_seterr(ctx, EK_ERR_NETWORK,
                     "the token endpoint answered HTTP "
                     "%ld with %s, not JSON: \"%s\"; check the authority "
                     "host and any proxy",
                     status, type, snippet);
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
    char error_q[96], trace_q[96], corr_q[96];
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

    /* the ids for audit trails: the server's own, when they are ids */
    if (ctx != NULL) {
        (void)text_id_copy(ctx->correlation_id, sizeof ctx->correlation_id,
                           corr);
        if (ctx->request_id[0] == '\0')
            (void)text_id_copy(ctx->request_id, sizeof ctx->request_id, trace);
    }
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
        error = text_quote(error_q, sizeof error_q, error);
    }
    if (hint_code == 700024 && ctx != NULL &&
        (ctx->clock_skew > ENTRA_SKEW_WARN ||
         ctx->clock_skew < -ENTRA_SKEW_WARN)) {
        ctx->clock_skew_said = 1; /* no warning besides */
        snprintf(skewnote, sizeof skewnote,
                 " This machine's clock is %lld "
                 "s %s the server's.",
                 (long long)(ctx->clock_skew > 0 ? ctx->clock_skew
                                                 : -ctx->clock_skew),
                 ctx->clock_skew > 0 ? "behind" : "ahead of");
    }
    if (trace != NULL || corr != NULL)
        snprintf(
            ids, sizeof ids, "; trace ID %s; correlation ID %s",
            text_quote(trace_q, sizeof trace_q, trace != NULL ? trace : "-"),
            text_quote(corr_q, sizeof corr_q, corr != NULL ? corr : "-"));
    if (error == NULL && desc == NULL)
        return ek_seterr(ctx, EK_ERR_NETWORK,
                         "the token endpoint answered "
                         "HTTP %ld with JSON that holds neither a token nor "
                         "an error; check the authority host",
                         status);
    /* the description's sentence, then the hint as a sentence of its own */
    hint_first[0] = (char)(hint != NULL ? toupper((unsigned char)hint[0]) : 0);
    return ek_seterr(
        ctx, EK_ERR_ENTRA,
        "Entra ID refused the token request "
        "(HTTP %ld %s%s%s): %s.%s%s%s%s%s [error_codes %s%s]",
        status, error != NULL ? error : "without an error field",
        meaning != NULL ? ": " : "", meaning != NULL ? meaning : "",
        first[0] != '\0' ? first : "no description", hint != NULL ? " " : "",
        hint_first, hint != NULL ? hint + 1 : "", hint != NULL ? "." : "",
        skewnote, codelist[0] != '\0' ? codelist : "none", ids);
}

/* A JSON escape of NUL (\u0000) in the body: cJSON decodes it into the
 * string, where it silently ends the value. */
int
entra_json_has_nul(const char *body, size_t len)
{
    size_t i;

    for (i = 0; i + 1 < len; i++) {
        if (body[i] != '\\')
            continue;
        if (i + 5 < len && memcmp(body + i + 1, "u0000", 5) == 0)
            return 1;
        i++; /* the escaped character, which may be a backslash */
    }
    return 0;
}

/* Why s is not a plausible token value (printable ASCII without spaces or
 * quotes: JWTs, Entra's opaque tokens and "Bearer" fit), into why; 0 if it
 * is one. Printed raw, put in an environment variable or in a quoted
 * shell or PowerShell line, anything else could be a terminal escape, a
 * second line or the end of the quoting. The value is never quoted. */
int
entra_token_chars_bad(const char *s, char *why, size_t whysz)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i;

    for (i = 0; p[i] != '\0'; i++) {
        if (p[i] > ' ' && p[i] < 0x7f && p[i] != '"' && p[i] != '\'' &&
            p[i] != '`' && p[i] != '\\')
            continue;
        snprintf(why, whysz, "%s at character %zu",
                 p[i] == ' '    ? "a space"
                 : p[i] < ' '   ? "a control character"
                 : p[i] == 0x7f ? "a control character"
                 : p[i] >= 0x80 ? "a byte that is not ASCII"
                                : "a quote or backslash",
                 i + 1);
        return 1;
    }
    return 0;
}

ek_err
entra_parse_response(struct ek_ctx *ctx, long status, const char *content_type,
                     const char *body, size_t len, struct ek_access_token **out)
{
    struct ek_access_token *t = NULL;
    cJSON *j = NULL;
    const cJSON *tok;
    const char *type;
    int64_t expires_in = 0, ext = 0;
    char why[80] = "";
    ek_err r = EK_ERR_NETWORK;

    *out = NULL;
    if (body == NULL)
        len = 0;
    if (len == 0 || (j = cJSON_ParseWithLength(body, len)) == NULL ||
        !cJSON_IsObject(j)) {
        r = not_json(ctx, status, content_type, body, len);
        goto out;
    }
    if (status != 200 || cJSON_GetObjectItemCaseSensitive(j, "error") != NULL) {
        r = entra_error(ctx, status, j);
        goto out;
    }
    tok = cJSON_GetObjectItemCaseSensitive(j, "access_token");
    type = json_str(j, "token_type");
    if (!cJSON_IsString(tok) || tok->valuestring == NULL ||
        tok->valuestring[0] == '\0' || type == NULL ||
        json_int(cJSON_GetObjectItemCaseSensitive(j, "expires_in"),
                 &expires_in) != 0 ||
        expires_in <= 0) {
        r = ek_seterr(ctx, EK_ERR_NETWORK,
                      "the token endpoint answered "
                      "HTTP 200 without %s; check the authority host",
                      !cJSON_IsString(tok) || tok->valuestring == NULL ||
                              tok->valuestring[0] == '\0'
                          ? "an access_token"
                      : type == NULL ? "a token_type"
                                     : "a valid expires_in");
        goto out;
    }
    if (entra_json_has_nul(body, len))
        snprintf(why, sizeof why, "a NUL character (\\u0000) in the answer");
    if (why[0] != '\0' ||
        entra_token_chars_bad(tok->valuestring, why, sizeof why)) {
        r = ek_seterr(ctx, EK_ERR_NETWORK,
                      "the token endpoint returned a "
                      "malformed access_token (%s; an access token is "
                      "printable ASCII without spaces or quotes); check the "
                      "authority host and any proxy",
                      why);
        goto out;
    }
    if (entra_token_chars_bad(type, why, sizeof why)) {
        r = ek_seterr(ctx, EK_ERR_NETWORK,
                      "the token endpoint returned a "
                      "malformed token_type (%s); check the authority host "
                      "and any proxy",
                      why);
        goto out;
    }
    (void)json_int(cJSON_GetObjectItemCaseSensitive(j, "ext_expires_in"), &ext);
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

/* A 5xx that stayed a 5xx: the service failed, not our request. */
ek_err
entra_server_failure(struct ek_ctx *ctx, const char *url, long status,
                     const char *content_type, const char *body, size_t len,
                     int tries)
{
    const char *error, *desc, *trace;
    char detail[700], first[400] = "", kind[96], snippet[160];
    char error_q[96], trace_q[96];
    cJSON *j = NULL;

    if (len > 0)
        j = cJSON_ParseWithLength(body, len);
    if (cJSON_IsObject(j) && ((error = json_str(j, "error")) != NULL ||
                              json_str(j, "error_description") != NULL)) {
        desc = json_str(j, "error_description");
        trace = json_str(j, "trace_id");
        if (desc != NULL)
            first_line(desc, first, sizeof first);
        snprintf(
            detail, sizeof detail, "%s: %s%s%s%s",
            text_quote(error_q, sizeof error_q,
                       error != NULL ? error : "error"),
            first[0] != '\0' ? first : "no description",
            trace != NULL ? " (trace ID " : "",
            text_quote(trace_q, sizeof trace_q, trace != NULL ? trace : ""),
            trace != NULL ? ")" : "");
    } else if (len == 0) {
        snprintf(detail, sizeof detail, "an empty body");
    } else if (is_json_type(content_type) || looks_like_json(body, len)) {
        snprintf(detail, sizeof detail, "malformed JSON, %zu bytes", len);
    } else {
        page_kind(content_type, kind, sizeof kind);
        quoted_snippet(body, len, snippet, sizeof snippet);
        snprintf(detail, sizeof detail, "%s, not JSON: \"%s\"", kind, snippet);
    }
    json_wipe_delete(j);
    return ek_seterr(ctx, EK_ERR_NETWORK,
                     "the token endpoint %s failed "
                     "with HTTP %ld%s (%s); the service is in trouble: try "
                     "again later",
                     url, status, tries > 1 ? ", twice" : "", detail);
}
