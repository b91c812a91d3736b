/* agent_mi.c: the managed-identity endpoint (App Service protocol,
 * api-version 2019-08-01 and 2017-09-01) on 127.0.0.1, served from the
 * agent's token cache: by `entrakey agent --managed-identity` and, for one
 * child, by `entrakey exec --managed-identity`. See
 * docs/managed-identity.md. */
#define _GNU_SOURCE /* environ, getrandom */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>

#include "agent.h"
#include "mi_http.h"

extern char **environ;

#define MI_PATH "/msi/token"
#define MI_BACKLOG 256 /* a burst of 100 connections waits, not refused */
#define MI_RETRY_AFTER 10
#define MI_SITE_NAME "entrakey"

/* The variables the child gets (and that are taken out of what it
 * inherits, so no stale endpoint reaches it). */
static const char *const mi_vars[] = {
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "APPSETTING_WEBSITE_SITE_NAME",
    "IDENTITY_SERVER_THUMBPRINT",
    "IMDS_ENDPOINT",
};
#define MI_NVARS_SET 5 /* the first five are set; the rest only removed */

/* ------------------------------------------------------------ settings */

static char *
normalise(const char *resource)
{
    size_t n = strlen(resource);
    char *r;

    while (n > 0 && resource[n - 1] == '/')
        n--;
    if ((r = malloc(n + 1)) == NULL)
        return NULL;
    memcpy(r, resource, n);
    r[n] = '\0';
    return r;
}

/* Adds a resource (or a scope: its /.default is cut) to the allow-list. */
int
agent_mi_allow(struct agent_mi *mi, const char *resource_or_scope)
{
    const char *suffix = "/.default";
    size_t n = strlen(resource_or_scope), m = strlen(suffix), i;
    char *r;

    if (mi->nallow == AGENT_MI_MAX_ALLOW)
        return -1;
    if (n > m && strcmp(resource_or_scope + n - m, suffix) == 0) {
        char *cut = strndup(resource_or_scope, n - m);

        if (cut == NULL)
            return -1;
        r = normalise(cut);
        free(cut);
    } else {
        r = normalise(resource_or_scope);
    }
    if (r == NULL)
        return -1;
    for (i = 0; i < mi->nallow; i++)
        if (strcasecmp(mi->allow[i], r) == 0) {
            free(r);
            return 0;
        }
    mi->allow[mi->nallow++] = r;
    return 0;
}

/* ARM's second name in each cloud (what az asks for). */
static const char *
arm_core_name(enum ek_cloud cloud)
{
    switch (cloud) {
    case EK_CLOUD_USGOV:
    case EK_CLOUD_USGOV_DOD:
        return "https://management.core.usgovcloudapi.net/";
    case EK_CLOUD_CHINA:
        return "https://management.core.chinacloudapi.cn/";
    default:
        return "https://management.core.windows.net/";
    }
}

int
agent_mi_allow_resource(struct agent_mi *mi, enum ek_resource r)
{
    const char *scope = ek_cloud_scope(mi->cloud, r);

    if (scope == NULL || agent_mi_allow(mi, scope) != 0)
        return -1;
    if (r == EK_RESOURCE_ARM)
        return agent_mi_allow(mi, arm_core_name(mi->cloud));
    return 0;
}

int
agent_mi_allow_defaults(struct agent_mi *mi)
{
    if (agent_mi_allow_resource(mi, EK_RESOURCE_EXO) != 0 ||
        agent_mi_allow_resource(mi, EK_RESOURCE_GRAPH) != 0 ||
        agent_mi_allow_resource(mi, EK_RESOURCE_ARM) != 0)
        return -1;
    return 0;
}

int
agent_mi_set_app(struct agent_mi *mi, const char *tenant, const char *client_id,
                 const char *authority, const char *ca_file)
{
    mi->tenant = strdup(tenant);
    mi->client_id = strdup(client_id);
    mi->authority = authority != NULL ? strdup(authority) : NULL;
    mi->ca_file = ca_file != NULL ? strdup(ca_file) : NULL;
    if (mi->tenant == NULL || mi->client_id == NULL ||
        (authority != NULL && mi->authority == NULL) ||
        (ca_file != NULL && mi->ca_file == NULL))
        return -1;
    return 0;
}

/* "127.0.0.1:PORT", "127.0.0.1" or "PORT"; NULL: a random port. Only the
 * loopback address: the endpoint hands out tokens to whoever connects
 * with the header. */
static int
mi_listen(struct agent_mi *mi, const char *spec, char *msg, size_t msgsz)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    const char *port = NULL, *colon;
    unsigned p = 0;
    int fd, one = 1;

    if (spec != NULL && spec[0] != '\0') {
        colon = strrchr(spec, ':');
        if (colon != NULL) {
            if ((size_t)(colon - spec) != strlen("127.0.0.1") ||
                strncmp(spec, "127.0.0.1", (size_t)(colon - spec)) != 0) {
                snprintf(msg, msgsz,
                         "--managed-identity listens on 127.0.0.1 only "
                         "(not '%.*s'): give 127.0.0.1:PORT or PORT",
                         (int)(colon - spec), spec);
                return -1;
            }
            port = colon + 1;
        } else if (strcmp(spec, "127.0.0.1") != 0) {
            port = spec;
        }
        if (port != NULL && cli_parse_uint(port, 1, 65535, &p) != 0) {
            snprintf(msg, msgsz,
                     "--managed-identity: '%s' is not a port (1-65535)", port);
            return -1;
        }
    }
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)p);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
        snprintf(msg, msgsz, "socket: %s", strerror(errno));
        return -1;
    }
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(fd, MI_BACKLOG) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        snprintf(msg, msgsz,
                 "cannot listen on 127.0.0.1:%u for the managed-identity "
                 "endpoint: %s",
                 p, strerror(errno));
        close(fd);
        return -1;
    }
    mi->fd = fd;
    mi->port = ntohs(sa.sin_port);
    snprintf(mi->endpoint, sizeof mi->endpoint, "http://127.0.0.1:%u%s",
             (unsigned)mi->port, MI_PATH);
    return 0;
}

static int
random_hex(char *out, size_t nbytes)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char buf[64];
    size_t i;

    if (nbytes > sizeof buf || getrandom(buf, nbytes, 0) != (ssize_t)nbytes)
        return -1;
    for (i = 0; i < nbytes; i++) {
        out[2 * i] = hex[buf[i] >> 4];
        out[2 * i + 1] = hex[buf[i] & 15];
    }
    out[2 * nbytes] = '\0';
    explicit_bzero(buf, sizeof buf);
    return 0;
}

int
agent_mi_init(struct agent_mi *mi, const char *listen_spec, char *msg,
              size_t msgsz)
{
    mi->fd = -1;
    /* 256 random bits per start: the header every request must carry */
    if (random_hex(mi->header, 32) != 0) {
        snprintf(msg, msgsz, "getrandom: %s", strerror(errno));
        return -1;
    }
    return mi_listen(mi, listen_spec, msg, msgsz);
}

/* ------------------------------------------------------------- serving */

static int
same_secret(const char *given, const char *header)
{
    size_t n = strlen(header), i;
    volatile unsigned char d = 0;

    /* the length is not secret (64 hex digits); the bytes are compared
     * in constant time */
    if (given == NULL || strlen(given) != n)
        return 0;
    for (i = 0; i < n; i++)
        d |= (unsigned char)(given[i] ^ header[i]);
    return d == 0;
}

static void
correlation_id(char *out, size_t outsz)
{
    unsigned char b[16];

    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
        memset(b, 0, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, outsz,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
             b[11], b[12], b[13], b[14], b[15]);
}

/* One connection: its socket, the bytes read, the request being read. */
struct mi_conn {
    struct agent_mi *mi;
    int fd;
    int loopback;    /* the peer is in 127.0.0.0/8 */
    int close_after; /* the answer ends the connection */
    int done;        /* the thread is over: the acceptor joins and frees */
    pthread_t th;
    struct mi_conn *next;
    size_t len;
    /* last: not cleared when the connection starts */
    char buf[MI_HTTP_HEAD_MAX + 1];
    struct mi_http_req req;
};

/* The acceptor, its wake-up pipe and the connections (under mu). */
struct mi_server {
    struct agent_mi *mi;
    pthread_t th;
    int wake[2];
    pthread_mutex_t mu;
    struct mi_conn *conns;
    size_t active;
};

/* Sends doc (deleted here) as the answer, in one write; the member named
 * secret and the text are wiped. 0, or -1: the connection ends. A client
 * gone is EPIPE, not a signal: the command ignores SIGPIPE before anything
 * else (cli_main_begin). */
static int
reply(struct mi_conn *c, unsigned status, cJSON *doc, const char *secret,
      long retry_after)
{
    char *body = doc != NULL ? cJSON_PrintUnformatted(doc) : NULL, *out;
    char ra[40] = "";
    cJSON *v;
    size_t n, blen;
    int len, rc;

    if (doc != NULL && secret != NULL) {
        v = cJSON_GetObjectItemCaseSensitive(doc, secret);
        if (cJSON_IsString(v) && v->valuestring != NULL)
            explicit_bzero(v->valuestring, strlen(v->valuestring));
    }
    cJSON_Delete(doc);
    if (body == NULL)
        return -1;
    blen = strlen(body);
    if (retry_after > 0)
        snprintf(ra, sizeof ra, "Retry-After: %ld\r\n", retry_after);
    n = blen + 512;
    if ((out = malloc(n)) == NULL) {
        explicit_bzero(body, blen);
        free(body);
        return -1;
    }
    len = snprintf(out, n,
                   "HTTP/1.1 %u %s\r\nContent-Type: application/json\r\n"
                   "Cache-Control: no-store\r\nContent-Length: %zu\r\n"
                   "%s%s%s\r\n",
                   status, mi_http_reason(status), blen, ra,
                   status == 405 ? "Allow: GET\r\n" : "",
                   c->close_after ? "Connection: close\r\n" : "");
    rc = -1;
    if (len > 0 && (size_t)len + blen < n) {
        memcpy(out + len, body, blen);
        rc = cli_write_all(c->fd, out, (size_t)len + blen);
        explicit_bzero(out, (size_t)len + blen);
    }
    explicit_bzero(body, blen);
    free(body);
    free(out);
    return rc;
}

/* An error in the App Service endpoint's shape: {"statusCode": N,
 * "message": "...", "correlationId": "..."}. */
static int mi_fail(struct agent_mi *mi, struct mi_conn *c, unsigned status,
                   long retry_after, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int
mi_fail(struct agent_mi *mi, struct mi_conn *c, unsigned status,
        long retry_after, const char *fmt, ...)
{
    cJSON *doc = cJSON_CreateObject();
    char text[700], corr[40];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    correlation_id(corr, sizeof corr);
    pthread_mutex_lock(&mi->a->mu);
    mi->refused++;
    pthread_mutex_unlock(&mi->a->mu);
    /* who lacks the header, or comes from elsewhere, is logged and
     * audited (the message names headers, never their values) */
    if (status == 401 || status == 403 ||
        strstr(text, "X-Forwarded-For") != NULL) {
        agent_log(mi->a, "managed identity: refused a request (%u): %s", status,
                  text);
        agent_audit_event(mi->a->audit, "refusal", "refused", NULL, "path",
                          "managed-identity", "correlation_id", corr,
                          (const char *)NULL);
    }
    if (doc == NULL ||
        cJSON_AddNumberToObject(doc, "statusCode", (double)status) == NULL ||
        cJSON_AddStringToObject(doc, "message", text) == NULL ||
        cJSON_AddStringToObject(doc, "correlationId", corr) == NULL) {
        cJSON_Delete(doc);
        return -1;
    }
    return reply(c, status, doc, NULL, retry_after);
}

/* "MM/DD/YYYY HH:MM:SS +00:00": 2017-09-01's expires_on, which msrestazure
 * and az 2.45 parse. */
static void
mi_date(int64_t t, char *out, size_t outsz)
{
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(out, outsz, "%m/%d/%Y %H:%M:%S +00:00", &tm);
}

static int
resource_allowed(const struct agent_mi *mi, const char *norm)
{
    size_t i;

    for (i = 0; i < mi->nallow; i++)
        if (strcasecmp(mi->allow[i], norm) == 0)
            return 1;
    return 0;
}

static int
mi_token(struct agent_mi *mi, struct mi_conn *c, int v2019)
{
    static const char *const ids[] = {"client_id", "clientid",
                                      "object_id", "principal_id",
                                      "mi_res_id", "msi_res_id"};
    struct ek_access_token_params p;
    struct agent_tok t;
    struct caller who;
    const char *resource, *v;
    char *norm = NULL, *scope = NULL, msg[600], num[3][24], date[40];
    cJSON *out = NULL;
    unsigned min_life;
    size_t i, n;
    ek_err e;

    resource = mi_http_arg(&c->req, "resource");
    if (resource == NULL || resource[0] == '\0')
        return mi_fail(mi, c, 400, 0,
                       "resource is a required parameter (the resource "
                       "URI, e.g. https://graph.microsoft.com)");
    for (i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        v = mi_http_arg(&c->req, ids[i]);
        /* this endpoint serves one app: naming it is fine, naming another
         * identity is the caller's mistake */
        if (v != NULL && v[0] != '\0' && strcasecmp(v, mi->client_id) != 0)
            return mi_fail(mi, c, 400, 0,
                           "Unable to load the proper Managed Identity: "
                           "this endpoint serves the app %s only, not %s "
                           "'%s'",
                           mi->client_id, ids[i], cli_safe(v));
    }
    if ((norm = normalise(resource)) == NULL)
        return -1;
    if (!resource_allowed(mi, norm)) {
        char list[600] = "";

        for (i = 0, n = 0; i < mi->nallow && n < sizeof list; i++)
            n += (size_t)snprintf(list + n, sizeof list - n, "%s%s",
                                  i > 0 ? ", " : "", mi->allow[i]);
        free(norm);
        return mi_fail(mi, c, 400, 0,
                       "resource '%s' is not one this endpoint serves (%s); "
                       "see docs/managed-identity.md",
                       cli_safe(resource), list);
    }
    n = strlen(norm) + sizeof "/.default";
    if ((scope = malloc(n)) == NULL) {
        free(norm);
        return -1;
    }
    snprintf(scope, n, "%s/.default", norm);
    free(norm);
    memset(&p, 0, sizeof p);
    p.assertion.tenant = mi->tenant;
    p.assertion.client_id = mi->client_id;
    p.assertion.cloud = mi->cloud;
    p.assertion.authority_host = mi->authority;
    p.assertion.alg = mi->alg;
    p.scope = scope;
    p.ca_file = mi->ca_file;
    p.timeout = mi->timeout;
    p.max_wait = mi->max_wait;
    memset(&who, 0, sizeof who);
    who.uid = (uid_t)-1;
    snprintf(who.exe, sizeof who.exe, "managed-identity endpoint %s",
             mi->endpoint);
    /* never a token with less than 5 minutes left */
    min_life = mi->a->min_lifetime > AGENT_MIN_LIFETIME ? mi->a->min_lifetime
                                                        : AGENT_MIN_LIFETIME;
    e = agent_token(mi->a, mi->key, &p, min_life, &who, &t, msg, sizeof msg);
    free(scope);
    if (e != EK_OK) {
        switch (e) {
        case EK_ERR_DEVICE:
        case EK_ERR_PIN:
        case EK_ERR_PIN_LOCKED:
        case EK_ERR_PIN_REQUIRED:
        case EK_ERR_CANCELED:
        case EK_ERR_ENTRA:
        case EK_ERR_NETWORK:
        case EK_ERR_TLS:
        case EK_ERR_THROTTLED:
            return mi_fail(
                mi, c, 503,
                e == EK_ERR_THROTTLED ? AGENT_HOLD_THROTTLED : MI_RETRY_AFTER,
                "entrakey could not get a token for the app: %s", msg);
        default:
            return mi_fail(mi, c, 500, 0,
                           "entrakey could not get a token for the app: %s",
                           msg);
        }
    }
    snprintf(num[0], sizeof num[0], "%lld", (long long)t.expires_on);
    snprintf(num[1], sizeof num[1], "%lld",
             (long long)(t.expires_on - (int64_t)time(NULL)));
    snprintf(num[2], sizeof num[2], "%lld",
             (long long)(t.expires_on - t.lifetime));
    mi_date(t.expires_on, date, sizeof date);
    if ((out = cJSON_CreateObject()) == NULL ||
        cJSON_AddStringToObject(out, "access_token", t.value) == NULL ||
        cJSON_AddStringToObject(out, "expires_on", v2019 ? num[0] : date) ==
            NULL ||
        (v2019 &&
         (cJSON_AddStringToObject(out, "expires_in", num[1]) == NULL ||
          cJSON_AddStringToObject(out, "not_before", num[2]) == NULL)) ||
        cJSON_AddStringToObject(out, "resource", resource) == NULL ||
        cJSON_AddStringToObject(out, "token_type", "Bearer") == NULL ||
        cJSON_AddStringToObject(out, "client_id", mi->client_id) == NULL) {
        agent_tok_clear(&t);
        if (out != NULL)
            return reply(c, 500, out, "access_token", 0);
        return -1;
    }
    agent_tok_clear(&t);
    pthread_mutex_lock(&mi->a->mu);
    mi->served++;
    pthread_mutex_unlock(&mi->a->mu);
    return reply(c, 200, out, "access_token", 0);
}

/* One request, its head read whole: the checks in the order the endpoint
 * always made them, then the token. 0, or -1: the connection ends. */
static int
mi_handle(struct agent_mi *mi, struct mi_conn *c)
{
    const struct mi_http_req *r = &c->req;
    const char *api, *hdr;
    int v2019;

    if (!c->loopback) {
        c->close_after = 1;
        return mi_fail(mi, c, 403, 0,
                       "this endpoint serves the loopback address only");
    }
    if (mi_http_field(r, "X-Forwarded-For") != NULL)
        return mi_fail(mi, c, 400, 0,
                       "a request with X-Forwarded-For is refused: the "
                       "endpoint is not served through a proxy");
    if (r->has_body)
        c->close_after = 1; /* a body is never read: the connection ends */
    if (strcmp(r->path, MI_PATH) != 0 && strcmp(r->path, MI_PATH "/") != 0)
        return mi_fail(mi, c, 404, 0, "unknown path; the endpoint is %s",
                       MI_PATH);
    if (strcmp(r->method, "GET") != 0) {
        /* the connection ends: a HEAD client would take the JSON body
         * for the start of the next answer */
        c->close_after = 1;
        return mi_fail(mi, c, 405, 0,
                       "use GET %s?resource=...&api-version=2019-08-01",
                       MI_PATH);
    }
    if (r->has_body)
        return mi_fail(mi, c, 400, 0, "a GET with a body is refused");
    api = mi_http_arg(r, "api-version");
    if (api == NULL)
        return mi_fail(mi, c, 400, 0,
                       "api-version is a required parameter (2019-08-01 "
                       "or 2017-09-01)");
    if (strcmp(api, "2019-08-01") == 0) {
        v2019 = 1;
        hdr = mi_http_field(r, "X-IDENTITY-HEADER");
    } else if (strcmp(api, "2017-09-01") == 0) {
        v2019 = 0;
        hdr = mi_http_field(r, "secret");
    } else {
        return mi_fail(mi, c, 400, 0,
                       "api-version '%s' is not supported: use 2019-08-01 "
                       "(IDENTITY_ENDPOINT) or 2017-09-01 (MSI_ENDPOINT)",
                       cli_safe(api));
    }
    if (hdr == NULL)
        return mi_fail(mi, c, 401, 0, "the %s header is missing",
                       v2019 ? "X-IDENTITY-HEADER" : "secret");
    if (!same_secret(hdr, mi->header))
        return mi_fail(mi, c, 401, 0, "the %s header is not this endpoint's",
                       v2019 ? "X-IDENTITY-HEADER" : "secret");
    return mi_token(mi, c, v2019);
}

static int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads until the head is whole, refused, or the time is up (a deadline
 * from the first wait: a byte now and then does not extend it). 1: a head
 * (or a refusal) to answer; 0: the connection ends without an answer. */
static int
read_head(struct mi_conn *c, enum mi_http_rc *rc)
{
    int64_t deadline = now_ms() + (int64_t)AGENT_CONN_TIMEOUT * 1000, left;
    struct pollfd p;
    ssize_t n;
    int k;

    mi_http_req_init(&c->req);
    *rc = mi_http_parse(&c->req, c->buf, c->len);
    while (*rc == MI_HTTP_MORE) {
        if (c->len == sizeof c->buf || (left = deadline - now_ms()) <= 0)
            break;
        p.fd = c->fd;
        p.events = POLLIN;
        p.revents = 0;
        k = poll(&p, 1, (int)left);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return 0;
        if (k == 0)
            break;
        n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 0; /* the client is gone, or closed between requests */
        c->len += (size_t)n;
        *rc = mi_http_parse(&c->req, c->buf, c->len);
    }
    if (*rc == MI_HTTP_MORE) {
        if (c->len == 0)
            return 0; /* an idle keep-alive connection: just closed */
        c->req.status = 408;
        snprintf(c->req.why, sizeof c->req.why,
                 "the request head did not arrive within %d seconds",
                 AGENT_CONN_TIMEOUT);
        *rc = MI_HTTP_ERROR;
    }
    return 1;
}

/* Ends the connection so that the answer is read: no RST for bytes the
 * client sent and we did not read (a refused 40 KiB head), at most a
 * second and 1 MiB of them drained. */
static void
conn_finish(struct mi_conn *c)
{
    int64_t deadline = now_ms() + 1000, left;
    struct pollfd p;
    size_t drained = 0;
    ssize_t n;

    (void)shutdown(c->fd, SHUT_WR);
    while (drained < (1u << 20) && (left = deadline - now_ms()) > 0) {
        p.fd = c->fd;
        p.events = POLLIN;
        p.revents = 0;
        if (poll(&p, 1, (int)left) <= 0)
            break;
        n = recv(c->fd, c->buf, sizeof c->buf, 0);
        if (n <= 0)
            break;
        drained += (size_t)n;
    }
    (void)shutdown(c->fd, SHUT_RDWR);
}

static void *
conn_main(void *arg)
{
    struct mi_conn *c = arg;
    struct agent_mi *mi = c->mi;
    enum mi_http_rc rc;
    size_t rest;

    for (;;) {
        if (!read_head(c, &rc))
            break;
        c->close_after = 1;
        if (rc == MI_HTTP_ERROR) {
            /* the head was not read to its end: the connection ends */
            if (!c->loopback)
                (void)mi_fail(mi, c, 403, 0,
                              "this endpoint serves the loopback address "
                              "only");
            else
                (void)mi_fail(mi, c, c->req.status, 0, "%s", c->req.why);
            break;
        }
        c->close_after = !c->req.keep_alive;
        if (mi_handle(mi, c) != 0 || c->close_after)
            break;
        /* what follows the head is the next request's */
        rest = c->len - c->req.head_len;
        memmove(c->buf, c->buf + c->req.head_len, rest);
        c->len = rest;
    }
    conn_finish(c);
    explicit_bzero(c->buf, sizeof c->buf);
    explicit_bzero(c->req.store, sizeof c->req.store);
    pthread_mutex_lock(&mi->srv->mu);
    c->done = 1;
    mi->srv->active--;
    pthread_mutex_unlock(&mi->srv->mu);
    return NULL;
}

/* Joins and frees the connections that ended (all of them, and waits for
 * them, when all is set). */
static void
reap(struct mi_server *srv, int all)
{
    struct mi_conn **pp, *c;

    for (;;) {
        pthread_mutex_lock(&srv->mu);
        for (pp = &srv->conns; *pp != NULL && !(*pp)->done && !all;
             pp = &(*pp)->next)
            ;
        c = *pp;
        if (c != NULL)
            *pp = c->next;
        pthread_mutex_unlock(&srv->mu);
        if (c == NULL)
            return;
        pthread_join(c->th, NULL);
        close(c->fd);
        free(c);
    }
}

static void
accept_one(struct mi_server *srv)
{
    struct agent_mi *mi = srv->mi;
    struct sockaddr_in sa;
    socklen_t salen = sizeof sa;
    struct timeval tv = {AGENT_CONN_TIMEOUT, 0};
    struct mi_conn *c;
    char junk[4096];
    int fd, one = 1, full, e = 0;

    memset(&sa, 0, sizeof sa);
    fd = accept4(mi->fd, (struct sockaddr *)&sa, &salen, SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
            errno == ENOBUFS)
            (void)poll(NULL, 0, 50); /* out of descriptors: not a spin */
        return;
    }
    /* a client that does not read its answer holds a thread no longer
     * than this */
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* the buffers (34 KiB) are written before they are read */
    if ((c = malloc(sizeof *c)) == NULL) {
        close(fd);
        return;
    }
    memset(c, 0, offsetof(struct mi_conn, buf));
    c->mi = mi;
    c->fd = fd;
    c->loopback = salen >= sizeof sa && sa.sin_family == AF_INET &&
                  (ntohl(sa.sin_addr.s_addr) >> 24) == 127;
    pthread_mutex_lock(&srv->mu);
    full = srv->active >= AGENT_CONN_LIMIT;
    if (!full && (e = pthread_create(&c->th, NULL, conn_main, c)) == 0) {
        c->next = srv->conns;
        srv->conns = c;
        srv->active++;
        pthread_mutex_unlock(&srv->mu);
        return;
    }
    pthread_mutex_unlock(&srv->mu);
    /* what the client sent so far is read, so that closing does not
     * reset the connection before it reads the answer */
    while (recv(fd, junk, sizeof junk, MSG_DONTWAIT) > 0)
        ;
    c->close_after = 1;
    if (full)
        (void)mi_fail(mi, c, 503, 1,
                      "the endpoint serves %d connections at once; try again",
                      AGENT_CONN_LIMIT);
    else
        (void)mi_fail(mi, c, 503, 1,
                      "the endpoint cannot start a thread for the connection "
                      "(%s); try again",
                      strerror(e));
    (void)shutdown(fd, SHUT_WR);
    close(fd);
    free(c);
}

static void *
accept_main(void *arg)
{
    struct mi_server *srv = arg;
    struct pollfd p[2];
    int n;

    for (;;) {
        p[0].fd = srv->mi->fd;
        p[0].events = POLLIN;
        p[0].revents = 0;
        p[1].fd = srv->wake[0];
        p[1].events = POLLIN;
        p[1].revents = 0;
        n = poll(p, 2, 1000);
        reap(srv, 0);
        if (n > 0 && p[1].revents != 0)
            break;
        if (n > 0 && (p[0].revents & POLLIN) != 0)
            accept_one(srv);
    }
    return NULL;
}

int
agent_mi_start(struct agent *a, struct agent_mi *mi, char *msg, size_t msgsz)
{
    struct mi_server *srv;

    mi->a = a;
    if ((srv = calloc(1, sizeof *srv)) == NULL) {
        snprintf(msg, msgsz,
                 "the managed-identity endpoint did not start: "
                 "out of memory");
        return -1;
    }
    srv->mi = mi;
    if (pipe2(srv->wake, O_CLOEXEC) != 0) {
        snprintf(msg, msgsz,
                 "the managed-identity endpoint did not start: pipe: %s",
                 strerror(errno));
        free(srv);
        return -1;
    }
    pthread_mutex_init(&srv->mu, NULL);
    mi->srv = srv;
    if (pthread_create(&srv->th, NULL, accept_main, srv) != 0) {
        snprintf(msg, msgsz, "the managed-identity endpoint did not start");
        close(srv->wake[0]);
        close(srv->wake[1]);
        pthread_mutex_destroy(&srv->mu);
        free(srv);
        mi->srv = NULL;
        return -1;
    }
    return 0;
}

/* Stops accepting, ends every connection (a request waiting for a token
 * ends when its wait does) and joins every thread. */
static void
server_stop(struct mi_server *srv)
{
    struct mi_conn *c;

    while (write(srv->wake[1], "x", 1) < 0 && errno == EINTR)
        ;
    pthread_join(srv->th, NULL);
    pthread_mutex_lock(&srv->mu);
    for (c = srv->conns; c != NULL; c = c->next)
        (void)shutdown(c->fd, SHUT_RDWR);
    pthread_mutex_unlock(&srv->mu);
    reap(srv, 1);
    close(srv->wake[0]);
    close(srv->wake[1]);
    pthread_mutex_destroy(&srv->mu);
    free(srv);
}

void
agent_mi_stop(struct agent_mi *mi)
{
    size_t i;

    if (mi->srv != NULL)
        server_stop(mi->srv);
    mi->srv = NULL;
    if (mi->fd >= 0)
        close(mi->fd);
    mi->fd = -1;
    if (mi->file != NULL)
        (void)unlink(mi->file);
    free(mi->file);
    mi->file = NULL;
    explicit_bzero(mi->header, sizeof mi->header);
    for (i = 0; i < mi->nallow; i++)
        free(mi->allow[i]);
    mi->nallow = 0;
    free(mi->tenant);
    free(mi->client_id);
    free(mi->authority);
    free(mi->ca_file);
    mi->tenant = mi->client_id = mi->authority = mi->ca_file = NULL;
}

/* ------------------------------------------------ the child's variables */

/* The five values, in mi_vars' order. */
static void
mi_values(const struct agent_mi *mi, const char *vals[MI_NVARS_SET])
{
    vals[0] = mi->endpoint;
    vals[1] = mi->header;
    vals[2] = mi->endpoint;
    vals[3] = mi->header;
    /* msrestazure (az 2.45) takes the App Service path, with the secret
     * header, only when it sees this variable */
    vals[4] = MI_SITE_NAME;
}

static int
is_mi_var(const char *entry)
{
    size_t i, n;

    for (i = 0; i < sizeof mi_vars / sizeof mi_vars[0]; i++) {
        n = strlen(mi_vars[i]);
        if (strncmp(entry, mi_vars[i], n) == 0 && entry[n] == '=')
            return 1;
    }
    return 0;
}

/* This process's environment without any endpoint variables, plus vals:
 * a new array whose added strings the caller wipes (mi_env_free). */
static char **
mi_env(const char *const vals[MI_NVARS_SET], size_t *nadded)
{
    size_t n = 0, k = 0, i, len;
    char **env;

    while (environ[n] != NULL)
        n++;
    if ((env = calloc(n + MI_NVARS_SET + 1, sizeof *env)) == NULL)
        return NULL;
    for (i = 0; i < MI_NVARS_SET; i++) {
        len = strlen(mi_vars[i]) + strlen(vals[i]) + 2;
        if ((env[k] = malloc(len)) == NULL)
            break;
        snprintf(env[k], len, "%s=%s", mi_vars[i], vals[i]);
        k++;
    }
    *nadded = k;
    if (k < MI_NVARS_SET)
        return env; /* the caller sees fewer than MI_NVARS_SET added */
    for (i = 0; i < n; i++)
        if (!is_mi_var(environ[i]))
            env[k++] = environ[i];
    env[k] = NULL;
    return env;
}

static void
mi_env_free(char **env, size_t nadded)
{
    size_t i;

    if (env == NULL)
        return;
    for (i = 0; i < nadded; i++) {
        explicit_bzero(env[i], strlen(env[i]));
        free(env[i]);
    }
    free(env);
}

/* The agent's file: the five variables as NAME=VALUE lines, 0600, next to
 * the socket, written whole (a temporary file renamed). */
int
agent_mi_write_file(struct agent_mi *mi, const char *sock, char *msg,
                    size_t msgsz)
{
    const char *vals[MI_NVARS_SET];
    char path[4096], tmp[4200], buf[1024];
    const char *slash = sock != NULL ? strrchr(sock, '/') : NULL;
    size_t i, n = 0;
    int fd;

    if (slash == NULL || slash == sock) {
        snprintf(msg, msgsz,
                 "no directory for the managed-identity file next "
                 "to %s",
                 sock != NULL ? sock : "(none)");
        return -1;
    }
    snprintf(path, sizeof path, "%.*s/managed-identity.env",
             (int)(slash - sock), sock);
    snprintf(tmp, sizeof tmp, "%s.%ld", path, (long)getpid());
    mi_values(mi, vals);
    for (i = 0; i < MI_NVARS_SET; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s=%s\n", mi_vars[i],
                              vals[i]);
    (void)unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || cli_write_all(fd, buf, n) != 0 || fsync(fd) != 0 ||
        close(fd) != 0 || rename(tmp, path) != 0) {
        snprintf(msg, msgsz, "cannot write %s: %s", path, strerror(errno));
        explicit_bzero(buf, sizeof buf);
        (void)unlink(tmp);
        return -1;
    }
    fd = -1;
    explicit_bzero(buf, sizeof buf);
    if ((mi->file = strdup(path)) == NULL)
        return -1;
    return 0;
}

/* ------------------------------------------------- the agent's endpoint */

int
agent_mi_serve(struct agent *a, struct agent_mi *mi, struct ek_config *cfg,
               const char *profile, size_t key, const char *listen_spec,
               const char *sock, char *msg, size_t msgsz)
{
    const char *tenant = ek_config_get(cfg, profile, "tenant");
    const char *client = ek_config_get(cfg, profile, "client_id");
    const char *v, *auth = ek_config_get(cfg, profile, "authority_host");
    char *authbuf = NULL, *sockbuf = NULL;
    enum ek_resource res;
    size_t n;
    int rc = -1;

    if (tenant == NULL || tenant[0] == '\0' || client == NULL ||
        client[0] == '\0') {
        snprintf(msg, msgsz,
                 "--managed-identity serves the app of the first --profile "
                 "('%s'), which needs tenant = and client_id =",
                 profile);
        return -1;
    }
    mi->key = key;
    mi->cloud = EK_CLOUD_GLOBAL;
    mi->alg = EK_ALG_PS256;
    if ((v = ek_config_get(cfg, profile, "cloud")) != NULL && v[0] != '\0' &&
        ek_cloud_parse(v, &mi->cloud) != EK_OK) {
        snprintf(msg, msgsz, "profile '%s': cloud '%s' is not known", profile,
                 v);
        return -1;
    }
    if ((v = ek_config_get(cfg, profile, "alg")) != NULL && v[0] != '\0' &&
        cli_alg_parse(v, &mi->alg) != 0) {
        snprintf(msg, msgsz, "profile '%s': alg '%s' is not PS256 or RS256",
                 profile, v);
        return -1;
    }
    if (auth != NULL && (auth[0] == '\0' || strstr(auth, "://") == NULL)) {
        if (auth[0] == '\0') {
            auth = NULL;
        } else {
            n = strlen(auth) + sizeof "https://";
            if ((authbuf = malloc(n)) == NULL)
                return -1;
            snprintf(authbuf, n, "https://%s", auth);
            auth = authbuf;
        }
    }
    v = ek_config_get(cfg, profile, "ca_file");
    if (agent_mi_set_app(mi, tenant, client, auth,
                         v != NULL && v[0] != '\0' ? v : NULL) != 0)
        goto out;
    /* the allow-list: the profile's resource or scope, else the defaults */
    if ((v = ek_config_get(cfg, profile, "scope")) != NULL && v[0] != '\0') {
        if (agent_mi_allow(mi, v) != 0)
            goto out;
    } else if ((v = ek_config_get(cfg, profile, "resource")) != NULL &&
               v[0] != '\0') {
        if (ek_resource_parse(v, &res) != EK_OK ||
            agent_mi_allow_resource(mi, res) != 0) {
            snprintf(msg, msgsz, "profile '%s': resource '%s' is not known",
                     profile, v);
            goto out;
        }
    } else if (agent_mi_allow_defaults(mi) != 0) {
        goto out;
    }
    if (agent_mi_init(mi, listen_spec, msg, msgsz) != 0 ||
        agent_mi_start(a, mi, msg, msgsz) != 0)
        goto out;
    if (sock == NULL) {
        if (ek_agent_socket_path(a->cli->ctx, &sockbuf) != EK_OK) {
            snprintf(msg, msgsz,
                     "no place for the managed-identity file: set "
                     "XDG_RUNTIME_DIR or give --socket PATH");
            goto out;
        }
        sock = sockbuf;
    }
    if (agent_mi_write_file(mi, sock, msg, msgsz) != 0)
        goto out;
    agent_log(a,
              "managed-identity endpoint %s for app %s (header and "
              "endpoint in %s)",
              mi->endpoint, mi->client_id, mi->file);
    rc = 0;
out:
    free(authbuf);
    ek_free(sockbuf);
    return rc;
}

/* --------------------------------------------------- exec's endpoint */

static volatile pid_t mi_child;

static void
forward(int sig)
{
    pid_t p = mi_child;

    if (p > 0)
        (void)kill(p, sig);
}

/* Runs child with env and waits for it, passing on SIGTERM, SIGINT,
 * SIGHUP and SIGQUIT; its exit code (128 + N when signal N ended it). */
static int
run_child(char **child, char **env)
{
    static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};
    struct sigaction sa, old[4];
    posix_spawnattr_t attr;
    sigset_t none, def;
    pid_t pid;
    int st = 0, e, rc;
    size_t i;

    sigemptyset(&none);
    sigemptyset(&def);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward;
    sigemptyset(&sa.sa_mask);
    for (i = 0; i < 4; i++) {
        sigaddset(&def, sigs[i]);
        sigaction(sigs[i], &sa, &old[i]);
    }
    sigaddset(&def, SIGPIPE); /* ignored by entrakey, not the child's */
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &def);
    posix_spawnattr_setflags(&attr,
                             POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    fflush(stdout);
    fflush(stderr);
    e = posix_spawnp(&pid, child[0], NULL, &attr, child, env);
    posix_spawnattr_destroy(&attr);
    if (e != 0) {
        for (i = 0; i < 4; i++)
            sigaction(sigs[i], &old[i], NULL);
        if (e == ENOENT) {
            fprintf(stderr,
                    "entrakey exec: cannot run '%s': command not found\n",
                    child[0]);
            return 127;
        }
        fprintf(stderr, "entrakey exec: cannot run '%s': %s\n", child[0],
                strerror(e));
        return 126;
    }
    mi_child = pid;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    mi_child = 0;
    for (i = 0; i < 4; i++)
        sigaction(sigs[i], &old[i], NULL);
    if (WIFEXITED(st))
        rc = WEXITSTATUS(st);
    else if (WIFSIGNALED(st))
        rc = 128 + WTERMSIG(st);
    else
        rc = CLI_EXIT_INTERNAL;
    return rc;
}

/* `exec --agent --managed-identity`: the running agent's endpoint, from
 * the file beside its socket; the child replaces this process. */
static int
exec_agent_endpoint(struct cli *cli, char **child)
{
    char *sock = NULL, path[4096], buf[1024], *line, *save = NULL, *eq;
    const char *slash;
    struct stat st;
    ssize_t n;
    size_t i, got = 0;
    int fd = -1, rc = CLI_EXIT_USAGE;

    if ((rc = cli_apply(cli)) != 0 || (rc = cli_agent_sock(cli, 1, &sock)) != 0)
        return rc;
    rc = CLI_EXIT_USAGE;
    if (sock == NULL || (slash = strrchr(sock, '/')) == NULL) {
        fprintf(stderr, "entrakey exec: no agent socket\n");
        goto out;
    }
    snprintf(path, sizeof path, "%.*s/managed-identity.env",
             (int)(slash - sock), sock);
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
        fprintf(stderr,
                "entrakey exec: the agent at %s serves no managed-identity "
                "endpoint (%s: %s); start it with --managed-identity\n",
                sock, path,
                fd < 0 ? strerror(errno) : "not this user's 0600 file");
        goto out;
    }
    n = read(fd, buf, sizeof buf - 1);
    if (n <= 0) {
        fprintf(stderr, "entrakey exec: cannot read %s\n", path);
        goto out;
    }
    buf[n] = '\0';
    for (line = strtok_r(buf, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        if ((eq = strchr(line, '=')) == NULL)
            continue;
        *eq = '\0';
        for (i = 0; i < MI_NVARS_SET; i++)
            if (strcmp(line, mi_vars[i]) == 0 &&
                setenv(mi_vars[i], eq + 1, 1) == 0)
                got |= 1u << i;
    }
    explicit_bzero(buf, sizeof buf);
    if (got != (1u << MI_NVARS_SET) - 1) {
        fprintf(stderr, "entrakey exec: %s is not the agent's file\n", path);
        goto out;
    }
    if (cli->verbose)
        fprintf(stderr,
                "entrakey: the child uses the agent's managed-identity "
                "endpoint %s\n",
                getenv("IDENTITY_ENDPOINT"));
    ek_ctx_pin_source_scrub(cli->ctx);
    close(fd);
    fd = -1;
    ek_free(sock);
    sock = NULL;
    fflush(stdout);
    fflush(stderr);
    (void)signal(SIGPIPE, SIG_DFL); /* ignored by entrakey, not the child's */
    execvp(child[0], child);
    if (errno == ENOENT) {
        fprintf(stderr, "entrakey exec: cannot run '%s': command not found\n",
                child[0]);
        rc = 127;
    } else {
        fprintf(stderr, "entrakey exec: cannot run '%s': %s\n", child[0],
                strerror(errno));
        rc = 126;
    }
out:
    if (fd >= 0)
        close(fd);
    ek_free(sock);
    return rc;
}

int
agent_mi_exec(struct cli *cli, struct cli_sign *s, const char *listen_spec,
              char **child)
{
    struct agent a;
    struct agent_mi mi;
    const char *vals[MI_NVARS_SET];
    char msg[600] = "", **env = NULL;
    pthread_t refresher;
    int refresher_started = 0, rc;
    size_t nadded = 0;
    ek_err r;

    if (s->agent_mode > 0)
        return exec_agent_endpoint(cli, child);
    memset(&a, 0, sizeof a);
    memset(&mi, 0, sizeof mi);
    mi.fd = -1;
    a.cli = cli;
    a.min_lifetime = AGENT_MIN_LIFETIME;
    a.verbose = cli->verbose;
    a.quiet = 1;
    pthread_mutex_init(&a.mu, NULL);
    pthread_cond_init(&a.refresh_cv, NULL);
    if ((rc = cli_apply(cli)) != 0)
        goto out;
    /* the app: the resolved signing options */
    mi.cloud = s->cloud;
    mi.alg = s->alg;
    mi.timeout = s->timeout;
    mi.max_wait = s->max_wait;
    mi.key = 0;
    rc = CLI_EXIT_INTERNAL;
    if (agent_mi_set_app(&mi, s->val[CLI_SF_TENANT], s->val[CLI_SF_CLIENT_ID],
                         s->val[CLI_SF_AUTHORITY_HOST],
                         s->val[CLI_SF_CA_FILE]) != 0)
        goto out;
    if ((s->val[CLI_SF_SCOPE] != NULL &&
         agent_mi_allow(&mi, s->val[CLI_SF_SCOPE]) != 0) ||
        (s->val[CLI_SF_RESOURCE] != NULL &&
         agent_mi_allow_resource(&mi, s->resource) != 0) ||
        (mi.nallow == 0 && agent_mi_allow_defaults(&mi) != 0))
        goto out;
    if ((a.keys = calloc(1, sizeof *a.keys)) == NULL ||
        (a.keys[0].uri = strdup(s->val[CLI_SF_KEY])) == NULL)
        goto out;
    a.nkeys = 1;
    agent_key_init(&a, &a.keys[0]);
    a.pin_source = cli->pin_source;
    a.prompt_ok = a.pin_source == NULL && isatty(STDIN_FILENO);
    if (agent_pin_init(&a) != 0)
        goto out;
    if (agent_mi_init(&mi, listen_spec, msg, sizeof msg) != 0) {
        fprintf(stderr, "entrakey exec: %s\n", msg);
        rc = listen_spec != NULL ? CLI_EXIT_USAGE : CLI_EXIT_INTERNAL;
        goto out;
    }
    /* the PIN once, the login now: a doomed child is never started */
    if ((r = agent_keys_open(&a, msg, sizeof msg)) != EK_OK) {
        fprintf(stderr, "entrakey: %s\n", msg);
        rc = cli_exit_code(r);
        goto out;
    }
    /* no PIN and no PIN source reaches the child */
    ek_ctx_pin_source_scrub(cli->ctx);
    if (a.keys[0].key != NULL)
        ek_key_pin_source_scrub(a.keys[0].key);
    if (agent_mi_start(&a, &mi, msg, sizeof msg) != 0) {
        fprintf(stderr, "entrakey exec: %s\n", msg);
        goto out;
    }
    if (pthread_create(&refresher, NULL, agent_refresher, &a) == 0)
        refresher_started = 1;
    if (cli->verbose)
        fprintf(stderr,
                "entrakey: managed-identity endpoint %s for the child\n",
                mi.endpoint);
    mi_values(&mi, vals);
    if ((env = mi_env(vals, &nadded)) == NULL || nadded < MI_NVARS_SET)
        goto out;
    rc = run_child(child, env);
out:
    mi_env_free(env, nadded);
    agent_mi_stop(&mi);
    if (refresher_started) {
        pthread_mutex_lock(&a.mu);
        a.stopping = 1;
        pthread_cond_broadcast(&a.refresh_cv);
        pthread_mutex_unlock(&a.mu);
        pthread_join(refresher, NULL);
    }
    if (a.keys != NULL) {
        agent_keys_close(&a);
        agent_key_fini(&a.keys[0]);
        ek_ctx_free(&a.keys[0].ctx);
        free(a.keys[0].uri);
    }
    free(a.keys);
    agent_cache_free(&a);
    agent_pin_wipe(&a);
    if (a.pin != NULL)
        munmap(a.pin, a.pin_cap);
    return rc;
}
