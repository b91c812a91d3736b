/* agent_client.c: asking a running `entrakey agent` over its Unix socket
 * (HTTP/1.1 + JSON through libcurl's CURLOPT_UNIX_SOCKET_PATH). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "entra.h"

#define AGENT_BODY_MAX (64 * 1024)
#define AGENT_TIMEOUT 120 /* the agent may wait for Entra ID and retries */

static pthread_once_t agent_once = PTHREAD_ONCE_INIT;
static CURLcode agent_init_rc = CURLE_FAILED_INIT;

static void
agent_global_init(void)
{
    agent_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct agent_sink {
    struct ek_secret *body;
    int over;
};

static size_t
on_agent_body(char *data, size_t size, size_t n, void *arg)
{
    struct agent_sink *s = arg;
    size_t len = size * n;

    if (s->body->len + len > AGENT_BODY_MAX) {
        s->over = 1;
        return 0;
    }
    if (ek_secret_append(NULL, s->body, data, len) != EK_OK)
        return 0;
    return len;
}

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
    ek_err e;

    if (!cJSON_IsNumber(code) || !cJSON_IsString(msg) || code->valueint <= 0 ||
        code->valueint > EK_ERR_NO_AGENT)
        return ek_seterr(ctx, EK_ERR_NO_AGENT,
                         "the agent at %s answered "
                         "HTTP %ld without an error it explains; is it an "
                         "entrakey agent?",
                         sock, status);
    e = (ek_err)code->valueint;
    return ek_seterr(ctx, e, "agent: %s", msg->valuestring);
}

/* POSTs body to path on the agent; on HTTP 200 *docp holds the answer. */
static ek_err
agent_post(struct ek_ctx *ctx, const char *sock, const char *path,
           const char *body, cJSON **docp)
{
    CURL *c = NULL;
    struct curl_slist *hdrs = NULL, *h;
    struct agent_sink sink;
    char url[128];
    char errbuf[CURL_ERROR_SIZE];
    long status = 0;
    CURLcode rc;
    cJSON *doc = NULL;
    struct stat st;
    ek_err r = EK_ERR_NO_AGENT;

    *docp = NULL;
    memset(&sink, 0, sizeof sink);
    errbuf[0] = '\0';
    if (stat(sock, &st) != 0 || !S_ISSOCK(st.st_mode))
        return ek_seterr(ctx, EK_ERR_NO_AGENT, "no agent socket at %s%s%s",
                         sock, errno != 0 ? ": " : "",
                         errno != 0 ? strerror(errno) : "");
    pthread_once(&agent_once, agent_global_init);
    if (agent_init_rc != CURLE_OK)
        return ek_seterr(ctx, EK_ERR_NETWORK, "libcurl cannot start: %s",
                         curl_easy_strerror(agent_init_rc));
    if ((r = ek_secret_new(ctx, 4096, &sink.body)) != EK_OK)
        return r;
    r = EK_ERR_INTERNAL;
    snprintf(url, sizeof url, "http://localhost%s", path);
    if ((c = curl_easy_init()) == NULL ||
        (h = curl_slist_append(NULL, "Content-Type: application/json")) ==
            NULL) {
        r = ek_seterr(ctx, EK_ERR_INTERNAL, "libcurl: out of memory");
        goto out;
    }
    hdrs = h;
    if ((h = curl_slist_append(hdrs, "Expect:")) == NULL) {
        r = ek_seterr(ctx, EK_ERR_INTERNAL, "libcurl: out of memory");
        goto out;
    }
    hdrs = h;
    if (curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http") != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_NOPROXY, "*") != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)AGENT_TIMEOUT) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_agent_body) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink) != CURLE_OK) {
        r = ek_seterr(ctx, EK_ERR_INTERNAL, "libcurl refused an option");
        goto out;
    }
    ek_log(ctx, EK_LOG_TRACE, "POST %s on the agent at %s", path, sock);
    rc = curl_easy_perform(c);
    if (rc == CURLE_COULDNT_CONNECT) {
        r = ek_seterr(ctx, EK_ERR_NO_AGENT, "no agent listens at %s (%s)", sock,
                      errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
        goto out;
    }
    if (rc != CURLE_OK) {
        r = ek_seterr(ctx,
                      rc == CURLE_OPERATION_TIMEDOUT ? EK_ERR_NETWORK
                                                     : EK_ERR_NO_AGENT,
                      "the agent at %s did not answer (%s)%s", sock,
                      errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc),
                      sink.over ? ": the answer is too long" : "");
        goto out;
    }
    (void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    doc = cJSON_ParseWithLength(sink.body->buf, sink.body->len);
    if (doc == NULL) {
        r = ek_seterr(ctx, EK_ERR_NO_AGENT,
                      "the agent at %s answered HTTP "
                      "%ld without JSON; is it an entrakey agent?",
                      sock, status);
        goto out;
    }
    if (status != 200) {
        r = agent_error(ctx, sock, status, doc);
        goto out;
    }
    *docp = doc;
    doc = NULL;
    r = EK_OK;
out:
    if (doc != NULL)
        cJSON_Delete(doc);
    if (c != NULL)
        curl_easy_cleanup(c);
    curl_slist_free_all(hdrs);
    ek_secret_free(&sink.body);
    return r;
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
    struct ek_access_token *t = NULL;
    cJSON *doc = NULL;
    const cJSON *v, *type, *scope, *exp_in, *exp_on;
    char *body = NULL;
    ek_err r = EK_ERR_USAGE;

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
    if ((r = agent_post(ctx, sock, "/v1/token", body, &doc)) != EK_OK)
        goto out;
    v = cJSON_GetObjectItemCaseSensitive(doc, "access_token");
    type = cJSON_GetObjectItemCaseSensitive(doc, "token_type");
    scope = cJSON_GetObjectItemCaseSensitive(doc, "scope");
    exp_in = cJSON_GetObjectItemCaseSensitive(doc, "expires_in");
    exp_on = cJSON_GetObjectItemCaseSensitive(doc, "expires_on");
    if (!cJSON_IsString(v) || !cJSON_IsString(type) || !cJSON_IsString(scope) ||
        !cJSON_IsNumber(exp_in) || !cJSON_IsNumber(exp_on)) {
        r = ek_seterr(ctx, EK_ERR_NO_AGENT,
                      "the agent at %s answered "
                      "without the token's fields",
                      sock);
        goto out;
    }
    r = EK_ERR_INTERNAL;
    if ((t = ek_calloc(ctx, 1, sizeof *t)) == NULL ||
        (t->type = ek_strdup(ctx, type->valuestring)) == NULL ||
        (t->scope = ek_strdup(ctx, scope->valuestring)) == NULL ||
        ek_secret_new(ctx, strlen(v->valuestring) + 1, &t->value) != EK_OK ||
        ek_secret_append_str(ctx, t->value, v->valuestring) != EK_OK)
        goto out;
    t->expires_in = (int64_t)exp_in->valuedouble;
    t->expires_on = (int64_t)exp_on->valuedouble;
    *tokp = t;
    t = NULL;
    r = EK_OK;
out:
    ek_access_token_free(&t);
    wipe_delete(doc, "access_token");
    free(body);
    return r;
}

ek_err
ek_agent_assertion(struct ek_ctx *ctx, const char *sock, const char *key_uri,
                   const struct ek_access_token_params *params,
                   struct ek_secret **jwtp)
{
    cJSON *doc = NULL;
    const cJSON *v;
    char *body = NULL;
    ek_err r = EK_ERR_USAGE;

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
    if ((r = agent_post(ctx, sock, "/v1/assertion", body, &doc)) != EK_OK)
        goto out;
    v = cJSON_GetObjectItemCaseSensitive(doc, "assertion");
    if (!cJSON_IsString(v)) {
        r = ek_seterr(ctx, EK_ERR_NO_AGENT,
                      "the agent at %s answered "
                      "without an assertion",
                      sock);
        goto out;
    }
    if ((r = ek_secret_new(ctx, strlen(v->valuestring) + 1, jwtp)) == EK_OK &&
        (r = ek_secret_append_str(ctx, *jwtp, v->valuestring)) != EK_OK)
        ek_secret_free(jwtp);
out:
    wipe_delete(doc, "assertion");
    free(body);
    return r;
}
