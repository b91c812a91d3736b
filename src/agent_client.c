/* agent_client.c: asking a running `entrakey agent` over its Unix socket:
 * one HTTP/1.1 request with a JSON body, answered with a Content-Length
 * and the connection closed. Written on the socket directly, not through
 * libcurl: loading libcurl and its dependencies (TLS, LDAP, SSH, Kerberos…)
 * costs a client served from the agent's cache more time and memory than
 * the whole exchange. */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "entra.h"
#include "text.h"

#define AGENT_BODY_MAX (64 * 1024)
#define AGENT_HEAD_MAX (8 * 1024)
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

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Writes the n buffers of iov, in order, before the deadline: the head and
 * the body leave in one segment, so the agent reads the whole request at
 * once; 0, or -1 with errno (ETIMEDOUT). iov is consumed. */
static int
send_all(int fd, struct iovec *iov, size_t n, double deadline)
{
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    struct msghdr m;
    ssize_t sent;
    int ms;

    while (n > 0) {
        if (iov->iov_len == 0) {
            iov++;
            n--;
            continue;
        }
        ms = (int)((deadline - now_s()) * 1000);
        if (ms <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (poll(&pfd, 1, ms) < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        memset(&m, 0, sizeof m);
        m.msg_iov = iov;
        m.msg_iovlen = n;
        sent = sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                continue;
            return -1;
        }
        for (; n > 0 && (size_t)sent >= iov->iov_len; iov++, n--)
            sent -= (ssize_t)iov->iov_len;
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + sent;
            iov->iov_len -= (size_t)sent;
        }
    }
    return 0;
}

/* The value of the head's Content-Length header (any case), or NULL. */
static const char *
content_length(const char *head, const char *end)
{
    const char *line = memchr(head, '\n', (size_t)(end - head));

    while (line != NULL && line < end) {
        line++;
        if (end - line > 15 && strncasecmp(line, "Content-Length:", 15) == 0)
            return line + 15;
        line = memchr(line, '\n', (size_t)(end - line));
    }
    return NULL;
}

/* Reads the Content-Length value at v (up to the line's end before end):
 * optional blanks, 1 to 9 digits, optional blanks. 0 when it is not that. */
static int
length_value(const char *v, const char *end, size_t *np)
{
    size_t n = 0;
    int digits = 0;

    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    for (; v < end && *v >= '0' && *v <= '9'; v++, digits++) {
        if (digits == 9)
            return 0;
        n = n * 10 + (size_t)(*v - '0');
    }
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    if (digits == 0 || v >= end || *v != '\r')
        return 0;
    *np = n;
    return 1;
}

/* The head of the answer in buf: 0 while it is not complete; else its
 * length in *headp and 1 with the Content-Length in *np, 2 without one,
 * -1 with one that is not a number. What the reader and the parser both
 * go by. */
static int
answer_head(const char *buf, size_t len, size_t *headp, size_t *np)
{
    const char *end, *cl;

    if ((end = memmem(buf, len, "\r\n\r\n", 4)) == NULL)
        return 0;
    *headp = (size_t)(end - buf) + 4;
    if ((cl = content_length(buf, end + 2)) == NULL)
        return 2;
    return length_value(cl, end + 2, np) ? 1 : -1;
}

size_t
ek_agent_answer_want(const char *buf, size_t len)
{
    size_t head = 0, n = 0;

    switch (answer_head(buf, len, &head, &n)) {
    case 0:
        return 0;
    case 1:
        return head + n;
    default:
        return SIZE_MAX;
    }
}

/* Reads the answer into ans until the agent closes, the Content-Length is
 * complete, or it is too long; 0, 1 (too long), or -1 with errno. */
static int
recv_answer(int fd, struct ek_secret *ans, double deadline)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    char buf[4096];
    size_t want = 0;
    ssize_t n;
    int ms;

    for (;;) {
        if (want == 0)
            want = ek_agent_answer_want(ans->buf, ans->len);
        if (want != 0 && want != SIZE_MAX && ans->len >= want)
            return 0;
        ms = (int)((deadline - now_s()) * 1000);
        if (ms <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (poll(&pfd, 1, ms) < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                continue;
            ek_wipe(buf, sizeof buf);
            return -1;
        }
        if (n == 0)
            break;
        if (ans->len + (size_t)n > AGENT_HEAD_MAX + AGENT_BODY_MAX) {
            ek_wipe(buf, sizeof buf);
            return 1;
        }
        if (ek_secret_append(NULL, ans, buf, (size_t)n) != EK_OK) {
            ek_wipe(buf, sizeof buf);
            errno = ENOMEM;
            return -1;
        }
    }
    ek_wipe(buf, sizeof buf);
    return 0;
}

/* The status of "HTTP/1.x NNN ..." and the body: what follows the head,
 * Content-Length bytes of it when the head says so. -1 when the answer is
 * not HTTP (or its Content-Length not a number), -2 when it is shorter than
 * its Content-Length. */
static long
parse_answer(const char *buf, size_t len, const char **bodyp, size_t *lenp)
{
    long status;
    size_t i, n = 0, head = 0;
    int h;

    if (len < 13 || memcmp(buf, "HTTP/1.", 7) != 0 ||
        (buf[7] != '0' && buf[7] != '1') || buf[8] != ' ' ||
        (h = answer_head(buf, len, &head, &n)) <= 0)
        return -1;
    for (status = 0, i = 9; i < 12; i++) {
        if (buf[i] < '0' || buf[i] > '9')
            return -1;
        status = status * 10 + (buf[i] - '0');
    }
    if (buf[12] != ' ' && buf[12] != '\r')
        return -1;
    *bodyp = buf + head;
    *lenp = len - head;
    if (h == 1) {
        if (n > *lenp)
            return -2;
        *lenp = n;
    }
    return status;
}

/* The agent's answer (len bytes of HTTP) as a JSON tree in *docp when its
 * status is 200; otherwise its error as the context's. */
static ek_err
answer_doc(struct ek_ctx *ctx, const char *sock, const char *buf, size_t len,
           cJSON **docp)
{
    const char *jbody = NULL;
    size_t jlen = 0;
    long status;
    cJSON *doc;

    *docp = NULL;
    if ((status = parse_answer(buf, len, &jbody, &jlen)) == -2)
        return ek_seterr(ctx, EK_ERR_NO_AGENT,
                         "the agent at %s did not answer: the answer was "
                         "cut short",
                         sock);
    if (status < 0)
        return ek_seterr(ctx, EK_ERR_NO_AGENT,
                         "the agent at %s did not answer HTTP; is it an "
                         "entrakey agent?",
                         sock);
    if ((doc = cJSON_ParseWithLength(jbody, jlen)) == NULL ||
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

/* POSTs body to path on the agent; *ansp holds its answer as it came
 * (HTTP, of any status). */
static ek_err
agent_post(struct ek_ctx *ctx, const char *sock, const char *path, char *body,
           struct ek_secret **ansp)
{
    struct sockaddr_un sa;
    struct timeval tv = {.tv_sec = AGENT_CONNECT_TIMEOUT};
    struct ek_secret *ans = NULL;
    struct iovec iov[2];
    char head[256];
    size_t blen = strlen(body);
    double deadline;
    struct stat st;
    int fd = -1, n, rc;
    ek_err r;

    *ansp = NULL;
    if (stat(sock, &st) != 0)
        return ek_seterr(ctx, EK_ERR_NO_AGENT, "no agent socket at %s: %s",
                         sock, strerror(errno));
    if (!S_ISSOCK(st.st_mode))
        return ek_seterr(ctx, EK_ERR_NO_AGENT,
                         "no agent socket at %s: it is %s", sock,
                         ek_file_type(st.st_mode));
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(sock) >= sizeof sa.sun_path)
        return ek_seterr(ctx, EK_ERR_NO_AGENT,
                         "the agent socket path %s is longer than a Unix "
                         "socket's %zu bytes",
                         sock, sizeof sa.sun_path - 1);
    memcpy(sa.sun_path, sock, strlen(sock) + 1);
    n = snprintf(head, sizeof head,
                 "POST %s HTTP/1.1\r\nHost: localhost\r\n"
                 "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                 "Connection: close\r\n\r\n",
                 path, blen);
    if (n < 0 || (size_t)n >= sizeof head)
        return ek_seterr(ctx, EK_ERR_INTERNAL, "agent path %s too long", path);
    if ((r = ek_secret_new(ctx, 4096, &ans)) != EK_OK)
        return r;
    ek_log(ctx, EK_LOG_TRACE, "POST %s on the agent at %s", path, sock);
    /* a blocking connect that gives up after SO_SNDTIMEO (a full backlog) */
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0 ||
        connect(fd, (const struct sockaddr *)&sa, sizeof sa) != 0) {
        r = ek_seterr(ctx, EK_ERR_NO_AGENT, "no agent listens at %s (%s)", sock,
                      strerror(errno));
        goto out;
    }
    deadline = now_s() + AGENT_TIMEOUT;
    iov[0].iov_base = head;
    iov[0].iov_len = (size_t)n;
    iov[1].iov_base = body; /* sendmsg only reads it */
    iov[1].iov_len = blen;
    if (send_all(fd, iov, 2, deadline) != 0 ||
        (rc = recv_answer(fd, ans, deadline)) < 0) {
        r = ek_seterr(ctx,
                      errno == ETIMEDOUT ? EK_ERR_NETWORK : EK_ERR_NO_AGENT,
                      "the agent at %s did not answer (%s)", sock,
                      errno == ETIMEDOUT ? "no answer within the time allowed"
                                         : strerror(errno));
        goto out;
    }
    if (rc == 1) {
        r = ek_seterr(ctx, EK_ERR_NO_AGENT,
                      "the agent at %s did not answer: the answer is too long",
                      sock);
        goto out;
    }
    *ansp = ans;
    ans = NULL;
    r = EK_OK;
out:
    if (fd >= 0)
        close(fd);
    ek_secret_free(&ans);
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
ek_agent_answer_token(struct ek_ctx *ctx, const char *sock, const char *buf,
                      size_t len, struct ek_access_token **tokp)
{
    struct ek_access_token *t = NULL;
    cJSON *doc = NULL;
    const cJSON *v, *type, *scope;
    int64_t exp_in, exp_on;
    char why[96] = "";
    ek_err r;

    *tokp = NULL;
    if ((r = answer_doc(ctx, sock, buf, len, &doc)) != EK_OK)
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
ek_agent_answer_assertion(struct ek_ctx *ctx, const char *sock, const char *buf,
                          size_t len, struct ek_secret **jwtp)
{
    cJSON *doc = NULL;
    const cJSON *v;
    char why[96] = "";
    ek_err r;

    *jwtp = NULL;
    if ((r = answer_doc(ctx, sock, buf, len, &doc)) != EK_OK)
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
    if ((r = agent_post(ctx, sock, "/v1/token", body, &ans)) == EK_OK)
        r = ek_agent_answer_token(ctx, sock, ans->buf, ans->len, tokp);
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
    if ((r = agent_post(ctx, sock, "/v1/assertion", body, &ans)) == EK_OK)
        r = ek_agent_answer_assertion(ctx, sock, ans->buf, ans->len, jwtp);
    ek_secret_free(&ans);
    free(body);
    return r;
}
