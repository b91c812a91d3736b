/* agent_client.c: asking a running `entrakey agent` over its Unix socket:
 * one HTTP/1.1 POST with a JSON body, through libcurl
 * (CURLOPT_UNIX_SOCKET_PATH), which does all of HTTP; this file makes the
 * request's JSON and checks the answer's. Which libcurl: in libentrakey and
 * entrakey-full the system's, opened at the first request (http_dl.c); in
 * the `entrakey` client, a static libcurl with HTTP only when the build has
 * one (EK_AGENT_CURL, scripts/lean-curl.sh): the system's libcurl.so.4
 * loads 30 libraries (TLS, LDAP, SSH, Kerberos…), more time than a whole
 * answer from the agent's cache (docs/performance.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "entra.h"
#include "http.h"
#include "text.h"

#define AGENT_BODY_MAX (64 * 1024)
#define AGENT_CONNECT_TIMEOUT 5 /* seconds */
#define AGENT_TIMEOUT 120 /* the agent may wait for Entra ID and retries */

ek_err
ek_agent_socket_path(struct ek_ctx *ctx, char **pathp)
{
    const char *e, *rt;
    size_t n;

    if (pathp == NULL)
        return EK_ERR_USAGE;
    *pathp = NULL;
    if ((e = getenv("ENTRAKEY_AGENT_SOCK")) != NULL && e[0] != '\0') {
        *pathp = ek_strdup(ctx, e);
        return *pathp != NULL ? EK_OK : EK_ERR_INTERNAL;
    }
    if ((rt = getenv("XDG_RUNTIME_DIR")) == NULL || rt[0] != '/')
        return ek_seterr(ctx, EK_ERR_NO_AGENT,
                         "no agent socket: neither "
                         "ENTRAKEY_AGENT_SOCK nor XDG_RUNTIME_DIR is set");
    n = strlen(rt) + sizeof "/entrakey/agent.sock";
    if ((*pathp = ek_calloc(ctx, 1, n)) == NULL)
        return EK_ERR_INTERNAL;
    snprintf(*pathp, n, "%s/entrakey/agent.sock", rt);
    return EK_OK;
}

/* The agent's error object {"code": N, "message": "..."} as this
 * context's error. */
static ek_err
agent_error(struct ek_ctx *ctx, const char *sock, long status, cJSON *doc)
{
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(doc, "error");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(err, "code");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(err, "message");
    char line[1024];
    ek_err e;

    if (!cJSON_IsNumber(code) || !cJSON_IsString(msg) || code->valueint <= 0 ||
        code->valueint > EK_ERR_NO_AGENT)
        return ek_seterr(ctx, EK_ERR_NO_AGENT,
                         "the agent at %s answered "
                         "HTTP %ld without an error it explains; is it an "
                         "entrakey agent?",
                         sock, status);
    e = (ek_err)code->valueint;
    /* the agent's own sentence, but made safe for a terminal: whoever
     * answers on the socket wrote it */
    return ek_seterr(ctx, e, "agent: %s",
                     text_quote(line, sizeof line, msg->valuestring));
}

/* The answer of the agent's status as this context's error, or EK_OK with
 * the JSON tree in *docp when its status is 200. */
static ek_err
answer_doc(struct ek_ctx *ctx, const char *sock, long status, const char *body,
           size_t len, cJSON **docp)
{
    cJSON *doc;

    *docp = NULL;
    if ((doc = cJSON_ParseWithLength(body, len)) == NULL ||
        !cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        return ek_seterr(ctx, EK_ERR_NO_AGENT,
                         "the agent at %s answered HTTP "
                         "%ld without JSON; is it an entrakey agent?",
                         sock, status);
    }
    if (status != 200) {
        ek_err r = agent_error(ctx, sock, status, doc);

        cJSON_Delete(doc);
        return r;
    }
    *docp = doc;
    return EK_OK;
}

/* Wipes the string values named secret before deleting the tree. */
static void
wipe_delete(cJSON *doc, const char *secret)
{
    cJSON *v;

    if (doc == NULL)
        return;
    v = cJSON_GetObjectItemCaseSensitive(doc, secret);
    if (cJSON_IsString(v) && v->valuestring != NULL)
        ek_wipe(v->valuestring, strlen(v->valuestring));
    cJSON_Delete(doc);
}

/* What went wrong in asking the agent, from libcurl's code, as this
 * context's error. */
static ek_err
post_error(struct ek_ctx *ctx, const char *sock, CURLcode rc, long os_errno,
           const struct http_sink *sink)
{
    if (sink->oom)
        return ek_seterr_oom(ctx);
    if (sink->too_big || rc == CURLE_FILESIZE_EXCEEDED)
        return ek_seterr(ctx, EK_ERR_NO_AGENT,
                         "the agent at %s did not answer: the answer is too "
                         "long",
                         sock);
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
        return ek_seterr(
            ctx, EK_ERR_NO_AGENT, "no agent listens at %s (%s)", sock,
            os_errno != 0 ? strerror((int)os_errno) : curl_easy_strerror(rc));
    case CURLE_OPERATION_TIMEDOUT:
        return ek_seterr(ctx, EK_ERR_NETWORK,
                         "the agent at %s did not answer (no answer within "
                         "the time allowed)",
                         sock);
    case CURLE_PARTIAL_FILE:
        return ek_seterr(ctx, EK_ERR_NO_AGENT,
                         "the agent at %s did not answer: the answer was "
                         "cut short",
                         sock);
    case CURLE_UNSUPPORTED_PROTOCOL: /* HTTP/0.9: not HTTP at all */
    case CURLE_WEIRD_SERVER_REPLY:
        return ek_seterr(ctx, EK_ERR_NO_AGENT,
                         "the agent at %s did not answer HTTP; is it an "
                         "entrakey agent?",
                         sock);
    default:
        return ek_seterr(ctx, EK_ERR_NO_AGENT,
                         "the agent at %s did not answer (%s)", sock,
                         curl_easy_strerror(rc));
    }
}

/* POSTs the JSON body to path on the agent, through libcurl over the Unix
 * socket; *statusp and *ansp are the answer's status and body. */
static ek_err
agent_post(struct ek_ctx *ctx, const char *sock, const char *path,
           const char *body, long *statusp, struct ek_secret **ansp)
{
    struct http_sink sink = {.ctx = ctx, .max = AGENT_BODY_MAX};
    struct curl_slist *hdrs = NULL, *h;
    char url[128];
    const size_t path_max = sizeof((struct sockaddr_un){0}.sun_path);
    struct stat st;
    long os_errno = 0;
    CURLcode rc;
    CURL *c = NULL;
    ek_err r;

    *ansp = NULL;
    *statusp = 0;
    if (stat(sock, &st) != 0)
        return ek_seterr(ctx, EK_ERR_NO_AGENT, "no agent socket at %s: %s",
                         sock, strerror(errno));
    if (!S_ISSOCK(st.st_mode))
        return ek_seterr(ctx, EK_ERR_NO_AGENT,
                         "no agent socket at %s: it is %s", sock,
                         ek_file_type(st.st_mode));
    if (strlen(sock) >= path_max)
        return ek_seterr(ctx, EK_ERR_NO_AGENT,
                         "the agent socket path %s is longer than a Unix "
                         "socket's %zu bytes",
                         sock, path_max - 1);
    if ((size_t)snprintf(url, sizeof url, "http://localhost%s", path) >=
        sizeof url)
        return ek_seterr(ctx, EK_ERR_INTERNAL, "agent path %s too long", path);
    if ((c = curl_easy_init()) == NULL)
        return ek_seterr(ctx, EK_ERR_NO_AGENT, "cannot ask the agent: %s",
                         curl_easy_strerror(CURLE_FAILED_INIT));
    if ((r = ek_secret_new(ctx, 4096, &sink.body)) != EK_OK)
        goto out;
    /* no "Expect: 100-continue" round trip, whatever the body's size */
    if ((h = curl_slist_append(NULL, "Content-Type: application/json")) ==
            NULL ||
        (hdrs = h, (h = curl_slist_append(hdrs, "Expect:")) == NULL)) {
        r = ek_seterr_oom(ctx);
        goto out;
    }
    hdrs = h;
    /* never CURLOPT_VERBOSE: the answer holds the token */
    if (curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http") != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT,
                         (long)AGENT_CONNECT_TIMEOUT) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)AGENT_TIMEOUT) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_MAXFILESIZE, (long)AGENT_BODY_MAX) !=
            CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body)) !=
            CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_sink_write) !=
            CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink) != CURLE_OK) {
        r = ek_seterr(ctx, EK_ERR_NO_AGENT,
                      "cannot ask the agent: this libcurl lacks an option "
                      "it needs (HTTP over a Unix socket)");
        goto out;
    }
    ek_log(ctx, EK_LOG_TRACE, "POST %s on the agent at %s", path, sock);
    if ((rc = curl_easy_perform(c)) != CURLE_OK) {
        (void)curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
        r = post_error(ctx, sock, rc, os_errno, &sink);
        goto out;
    }
    if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, statusp) != CURLE_OK ||
        *statusp < 100 || *statusp > 599) {
        r = ek_seterr(ctx, EK_ERR_NO_AGENT,
                      "the agent at %s did not answer HTTP; is it an "
                      "entrakey agent?",
                      sock);
        goto out;
    }
    *ansp = sink.body;
    sink.body = NULL;
    r = EK_OK;
out:
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    ek_secret_free(&sink.body);
    return r;
}

/* A number of the answer that a time or a lifetime in seconds can be:
 * finite, 0 to 2^53 (the cast to int64_t is then defined). */
static int
seconds_value(const cJSON *v, int64_t *out)
{
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0.0) ||
        v->valuedouble > 9007199254740992.0)
        return 0;
    *out = (int64_t)v->valuedouble;
    return 1;
}

ek_err
ek_agent_answer_token(struct ek_ctx *ctx, const char *sock, long status,
                      const char *buf, size_t len,
                      struct ek_access_token **tokp)
{
    struct ek_access_token *t = NULL;
    cJSON *doc = NULL;
    const cJSON *v, *type, *scope;
    int64_t exp_in, exp_on;
    char why[96] = "";
    ek_err r;

    *tokp = NULL;
    if ((r = answer_doc(ctx, sock, status, buf, len, &doc)) != EK_OK)
        return r;
    v = cJSON_GetObjectItemCaseSensitive(doc, "access_token");
    type = cJSON_GetObjectItemCaseSensitive(doc, "token_type");
    scope = cJSON_GetObjectItemCaseSensitive(doc, "scope");
    if (!cJSON_IsString(v) || v->valuestring[0] == '\0' ||
        entra_token_chars_bad(v->valuestring, why, sizeof why) ||
        !cJSON_IsString(type) ||
        entra_token_chars_bad(type->valuestring, why, sizeof why) ||
        !cJSON_IsString(scope) || entra_json_has_nul(buf, len) ||
        !seconds_value(cJSON_GetObjectItemCaseSensitive(doc, "expires_in"),
                       &exp_in) ||
        !seconds_value(cJSON_GetObjectItemCaseSensitive(doc, "expires_on"),
                       &exp_on)) {
        r = ek_seterr(ctx, EK_ERR_NO_AGENT,
                      "the agent at %s answered without the token's "
                      "fields%s%s%s",
                      sock, why[0] != '\0' ? " (a malformed value: " : "", why,
                      why[0] != '\0' ? ")" : "");
        goto out;
    }
    r = EK_ERR_INTERNAL;
    if ((t = ek_calloc(ctx, 1, sizeof *t)) == NULL ||
        (t->type = ek_strdup(ctx, type->valuestring)) == NULL ||
        (t->scope = ek_strdup(ctx, scope->valuestring)) == NULL ||
        ek_secret_new(ctx, strlen(v->valuestring) + 1, &t->value) != EK_OK ||
        ek_secret_append_str(ctx, t->value, v->valuestring) != EK_OK)
        goto out;
    t->expires_in = exp_in;
    t->expires_on = exp_on;
    *tokp = t;
    t = NULL;
    r = EK_OK;
out:
    ek_access_token_free(&t);
    wipe_delete(doc, "access_token");
    return r;
}

ek_err
ek_agent_answer_assertion(struct ek_ctx *ctx, const char *sock, long status,
                          const char *buf, size_t len, struct ek_secret **jwtp)
{
    cJSON *doc = NULL;
    const cJSON *v;
    char why[96] = "";
    ek_err r;

    *jwtp = NULL;
    if ((r = answer_doc(ctx, sock, status, buf, len, &doc)) != EK_OK)
        return r;
    v = cJSON_GetObjectItemCaseSensitive(doc, "assertion");
    if (!cJSON_IsString(v) || v->valuestring[0] == '\0' ||
        entra_token_chars_bad(v->valuestring, why, sizeof why) ||
        entra_json_has_nul(buf, len)) {
        r = ek_seterr(ctx, EK_ERR_NO_AGENT,
                      "the agent at %s answered without an assertion%s%s%s",
                      sock, why[0] != '\0' ? " (a malformed one: " : "", why,
                      why[0] != '\0' ? ")" : "");
        goto out;
    }
    if ((r = ek_secret_new(ctx, strlen(v->valuestring) + 1, jwtp)) == EK_OK &&
        (r = ek_secret_append_str(ctx, *jwtp, v->valuestring)) != EK_OK)
        ek_secret_free(jwtp);
out:
    wipe_delete(doc, "assertion");
    return r;
}

/* The request body common to /v1/token and /v1/assertion. */
static char *
request_body(struct ek_ctx *ctx, const char *key_uri,
             const struct ek_access_token_params *p, unsigned number,
             const char *number_name)
{
    const struct ek_assertion_params *a = &p->assertion;
    const char *scope = p->scope;
    cJSON *o = cJSON_CreateObject();
    char *s = NULL;

    if (scope == NULL || scope[0] == '\0')
        scope = ek_cloud_scope(a->cloud, p->resource);
    if (o == NULL || cJSON_AddStringToObject(o, "key", key_uri) == NULL ||
        cJSON_AddStringToObject(o, "tenant", a->tenant) == NULL ||
        cJSON_AddStringToObject(o, "client_id", a->client_id) == NULL ||
        cJSON_AddNumberToObject(o, "cloud", (double)a->cloud) == NULL ||
        cJSON_AddStringToObject(
            o, "alg", a->alg == EK_ALG_RS256 ? "RS256" : "PS256") == NULL ||
        (scope != NULL && cJSON_AddStringToObject(o, "scope", scope) == NULL) ||
        (a->authority_host != NULL &&
         cJSON_AddStringToObject(o, "authority_host", a->authority_host) ==
             NULL) ||
        (p->ca_file != NULL &&
         cJSON_AddStringToObject(o, "ca_file", p->ca_file) == NULL) ||
        (p->timeout != 0 &&
         cJSON_AddNumberToObject(o, "timeout", p->timeout) == NULL) ||
        (p->max_wait != 0 &&
         cJSON_AddNumberToObject(o, "max_wait", p->max_wait) == NULL) ||
        (number != 0 &&
         cJSON_AddNumberToObject(o, number_name, number) == NULL) ||
        (s = cJSON_PrintUnformatted(o)) == NULL)
        (void)ek_seterr_oom(ctx);
    cJSON_Delete(o);
    return s;
}

ek_err
ek_agent_token(struct ek_ctx *ctx, const char *sock, const char *key_uri,
               const struct ek_access_token_params *params,
               unsigned min_lifetime, struct ek_access_token **tokp)
{
    struct ek_secret *ans = NULL;
    char *body = NULL;
    long status = 0;
    ek_err r;

    if (tokp == NULL)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "ek_agent_token: no place for "
                         "the token");
    *tokp = NULL;
    if (ctx == NULL || sock == NULL || key_uri == NULL || params == NULL ||
        params->assertion.tenant == NULL || params->assertion.client_id == NULL)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "ek_agent_token: a socket, a "
                         "key, a tenant and a client id are required");
    if (params->assertion.cert != NULL)
        return ek_seterr(ctx, EK_ERR_NO_AGENT,
                         "the agent names the "
                         "certificate on the token; a certificate given by "
                         "the caller needs the direct path");
    if ((body = request_body(ctx, key_uri, params, min_lifetime,
                             "min_lifetime")) == NULL)
        return EK_ERR_INTERNAL;
    if ((r = agent_post(ctx, sock, "/v1/token", body, &status, &ans)) == EK_OK)
        r = ek_agent_answer_token(ctx, sock, status, ans->buf, ans->len, tokp);
    ek_secret_free(&ans);
    free(body);
    return r;
}

ek_err
ek_agent_assertion(struct ek_ctx *ctx, const char *sock, const char *key_uri,
                   const struct ek_access_token_params *params,
                   struct ek_secret **jwtp)
{
    struct ek_secret *ans = NULL;
    char *body = NULL;
    long status = 0;
    ek_err r;

    if (jwtp == NULL)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "ek_agent_assertion: no place "
                         "for the assertion");
    *jwtp = NULL;
    if (ctx == NULL || sock == NULL || key_uri == NULL || params == NULL ||
        params->assertion.tenant == NULL || params->assertion.client_id == NULL)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "ek_agent_assertion: a socket, "
                         "a key, a tenant and a client id are required");
    if (params->assertion.cert != NULL)
        return ek_seterr(ctx, EK_ERR_NO_AGENT,
                         "the agent names the "
                         "certificate on the token; a certificate given by "
                         "the caller needs the direct path");
    if ((body = request_body(ctx, key_uri, params, params->assertion.lifetime,
                             "lifetime")) == NULL)
        return EK_ERR_INTERNAL;
    if ((r = agent_post(ctx, sock, "/v1/assertion", body, &status, &ans)) ==
        EK_OK)
        r = ek_agent_answer_assertion(ctx, sock, status, ans->buf, ans->len,
                                      jwtp);
    ek_secret_free(&ans);
    free(body);
    return r;
}
