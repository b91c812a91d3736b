/* agent_http.c: the agent's HTTP/1.1 + JSON protocol on its Unix socket
 * (libmicrohttpd, a thread per connection): the caller checked with
 * SO_PEERCRED, bodies capped, versioned paths; see docs/agent.md. */
#define _GNU_SOURCE /* struct ucred */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "agent.h"

struct req {
    char body[AGENT_BODY_MAX + 1];
    size_t len;
    int checked;
    struct caller who;
};

static void
wipe_free(void *p)
{
    char *s = p;

    if (s != NULL) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

/* Queues doc (deleted here) as the answer; the text is wiped when sent. */
static enum MHD_Result
answer(struct MHD_Connection *c, unsigned status, cJSON *doc,
       const char *secret, long retry_after)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;
    char *s = doc != NULL ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON *v;
    char ra[32];

    if (doc != NULL && secret != NULL) {
        v = cJSON_GetObjectItemCaseSensitive(doc, secret);
        if (cJSON_IsString(v) && v->valuestring != NULL)
            explicit_bzero(v->valuestring, strlen(v->valuestring));
    }
    cJSON_Delete(doc);
    if (s == NULL)
        return MHD_NO;
    resp = MHD_create_response_from_buffer_with_free_callback(strlen(s), s,
                                                              wipe_free);
    if (resp == NULL) {
        wipe_free(s);
        return MHD_NO;
    }
    (void)MHD_add_response_header(resp, "Content-Type", "application/json");
    (void)MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (retry_after > 0) {
        snprintf(ra, sizeof ra, "%ld", retry_after);
        (void)MHD_add_response_header(resp, "Retry-After", ra);
    }
    ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static unsigned
status_for(ek_err e)
{
    switch (e) {
    case EK_ERR_USAGE:
    case EK_ERR_CONFIG:
        return MHD_HTTP_BAD_REQUEST;
    case EK_ERR_NO_AGENT:
        return MHD_HTTP_NOT_FOUND;
    case EK_ERR_THROTTLED:
        return MHD_HTTP_TOO_MANY_REQUESTS;
    case EK_ERR_ENTRA:
    case EK_ERR_NETWORK:
    case EK_ERR_TLS:
        return MHD_HTTP_BAD_GATEWAY;
    case EK_ERR_DEVICE:
    case EK_ERR_PIN:
    case EK_ERR_PIN_LOCKED:
    case EK_ERR_PIN_REQUIRED:
    case EK_ERR_CANCELED:
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    default:
        return MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
}

static enum MHD_Result
fail(struct MHD_Connection *c, ek_err e, const char *msg)
{
    cJSON *doc = cJSON_CreateObject(), *err;

    if (doc == NULL || (err = cJSON_AddObjectToObject(doc, "error")) == NULL ||
        cJSON_AddNumberToObject(err, "code", (double)e) == NULL ||
        cJSON_AddStringToObject(err, "name", ek_strerror(e)) == NULL ||
        cJSON_AddStringToObject(err, "message", msg) == NULL) {
        cJSON_Delete(doc);
        return MHD_NO;
    }
    return answer(c, status_for(e), doc, NULL,
                  e == EK_ERR_THROTTLED ? AGENT_HOLD_THROTTLED : 0);
}

static enum MHD_Result
fail_status(struct MHD_Connection *c, unsigned status, ek_err e,
            const char *msg)
{
    cJSON *doc = cJSON_CreateObject(), *err;

    if (doc == NULL || (err = cJSON_AddObjectToObject(doc, "error")) == NULL ||
        cJSON_AddNumberToObject(err, "code", (double)e) == NULL ||
        cJSON_AddStringToObject(err, "name", ek_strerror(e)) == NULL ||
        cJSON_AddStringToObject(err, "message", msg) == NULL) {
        cJSON_Delete(doc);
        return MHD_NO;
    }
    return answer(c, status, doc, NULL, 0);
}

/* SO_PEERCRED of the connection: the agent's own uid or an allowed one. */
static int
peer_ok(struct agent *a, struct MHD_Connection *c, struct caller *who)
{
    const union MHD_ConnectionInfo *ci;
    struct ucred cr;
    socklen_t len = sizeof cr;
    char path[64];
    ssize_t n;
    size_t i;

    memset(who, 0, sizeof *who);
    who->uid = (uid_t)-1;
    ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci == NULL ||
        getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0)
        return 0;
    who->pid = cr.pid;
    who->uid = cr.uid;
    who->gid = cr.gid;
    snprintf(path, sizeof path, "/proc/%ld/exe", (long)cr.pid);
    n = readlink(path, who->exe, sizeof who->exe - 1);
    who->exe[n > 0 ? n : 0] = '\0';
    if (cr.uid == geteuid())
        return 1;
    for (i = 0; i < a->nallow; i++)
        if (a->allow[i] == cr.uid)
            return 1;
    return 0;
}

static const char *
jstr(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int
jnum(const cJSON *o, const char *name, unsigned max, unsigned *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    *out = 0;
    if (v == NULL)
        return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > max)
        return -1;
    *out = (unsigned)v->valuedouble;
    return 0;
}

/* Parses a /v1/token or /v1/assertion body into p (strings point into
 * doc). Returns the key index, or -1 with msg set. */
static ssize_t
parse_request(struct agent *a, const cJSON *doc,
              struct ek_access_token_params *p, unsigned *num,
              const char *num_name, char *msg, size_t msgsz, ek_err *e)
{
    const char *key, *alg;
    unsigned cloud = 0;
    ssize_t ki;

    memset(p, 0, sizeof *p);
    *e = EK_ERR_USAGE;
    if (!cJSON_IsObject(doc)) {
        snprintf(msg, msgsz, "the body is not a JSON object");
        return -1;
    }
    key = jstr(doc, "key");
    p->assertion.tenant = jstr(doc, "tenant");
    p->assertion.client_id = jstr(doc, "client_id");
    p->assertion.authority_host = jstr(doc, "authority_host");
    p->scope = jstr(doc, "scope");
    p->ca_file = jstr(doc, "ca_file");
    alg = jstr(doc, "alg");
    if (key == NULL || p->assertion.tenant == NULL ||
        p->assertion.client_id == NULL || p->scope == NULL) {
        snprintf(msg, msgsz,
                 "key, tenant, client_id and scope are "
                 "required strings");
        return -1;
    }
    if (jnum(doc, "cloud", EK_CLOUD_CHINA, &cloud) != 0 ||
        jnum(doc, "timeout", 600, &p->timeout) != 0 ||
        jnum(doc, "max_wait", 3600, &p->max_wait) != 0 ||
        jnum(doc, num_name, 86400, num) != 0) {
        snprintf(msg, msgsz,
                 "cloud, timeout, max_wait and %s must be "
                 "small whole numbers",
                 num_name);
        return -1;
    }
    p->assertion.cloud = (enum ek_cloud)cloud;
    p->assertion.alg = EK_ALG_PS256;
    if (alg != NULL && strcasecmp(alg, "RS256") == 0)
        p->assertion.alg = EK_ALG_RS256;
    else if (alg != NULL && strcasecmp(alg, "PS256") != 0) {
        snprintf(msg, msgsz, "alg is PS256 or RS256");
        return -1;
    }
    if ((ki = agent_find_key(a, key)) < 0) {
        *e = EK_ERR_NO_AGENT;
        snprintf(msg, msgsz, "this agent does not hold key %s", key);
        return -1;
    }
    return ki;
}

/* POST /v1/token and /v1/assertion: one request body (parse_request),
 * then the access token (min_lifetime) or the assertion (lifetime). The
 * secret is wiped from every copy but the answer sent. */
static enum MHD_Result
do_sign(struct agent *a, struct MHD_Connection *c, struct req *rq, int token)
{
    struct ek_access_token_params p;
    struct agent_tok t;
    struct ek_secret *jwt = NULL;
    cJSON *in = cJSON_ParseWithLength(rq->body, rq->len), *out = NULL;
    const char *field = token ? "access_token" : "assertion";
    char msg[600];
    unsigned num = 0;
    ssize_t ki;
    ek_err e;
    int ok;
    time_t now;

    memset(&t, 0, sizeof t);
    if (in == NULL)
        return fail(c, EK_ERR_USAGE, "the body is not JSON");
    ki = parse_request(a, in, &p, &num, token ? "min_lifetime" : "lifetime",
                       msg, sizeof msg, &e);
    if (ki < 0) {
        cJSON_Delete(in);
        return fail(c, e, msg);
    }
    if (token) {
        e = agent_token(a, (size_t)ki, &p, num, &rq->who, &t, msg, sizeof msg);
    } else {
        p.assertion.lifetime = num;
        e = agent_assertion(a, (size_t)ki, &p, &rq->who, &jwt, msg, sizeof msg);
    }
    cJSON_Delete(in);
    if (e != EK_OK)
        return fail(c, e, msg);
    now = time(NULL);
    ok = (out = cJSON_CreateObject()) != NULL;
    if (ok && token)
        ok = cJSON_AddStringToObject(out, field, t.value) != NULL &&
             cJSON_AddStringToObject(out, "token_type", t.type) != NULL &&
             cJSON_AddNumberToObject(out, "expires_in",
                                     (double)(t.expires_on - now)) != NULL &&
             cJSON_AddNumberToObject(out, "expires_on", (double)t.expires_on) !=
                 NULL &&
             cJSON_AddStringToObject(out, "scope", t.scope) != NULL &&
             cJSON_AddStringToObject(out, "source",
                                     t.cached ? "cache" : "new") != NULL;
    else if (ok)
        ok = cJSON_AddStringToObject(out, field, ek_secret_data(jwt)) != NULL;
    agent_tok_clear(&t);
    ek_secret_free(&jwt);
    if (!ok) {
        /* a partial answer is never sent: its secret is wiped */
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(out, field);

        if (cJSON_IsString(v) && v->valuestring != NULL)
            explicit_bzero(v->valuestring, strlen(v->valuestring));
        cJSON_Delete(out);
        return fail(c, EK_ERR_INTERNAL, "out of memory");
    }
    return answer(c, MHD_HTTP_OK, out, field, 0);
}

static enum MHD_Result
do_status(struct agent *a, struct MHD_Connection *c)
{
    cJSON *doc = cJSON_CreateObject(), *keys, *cache, *o;
    struct centry *e;
    size_t i;
    time_t now = time(NULL);
    static const char *const states[] = {"ready", "gone", "locked"};

    if (doc == NULL)
        return MHD_NO;
    cJSON_AddStringToObject(doc, "version", ek_version());
    cJSON_AddNumberToObject(doc, "pid", (double)getpid());
    cJSON_AddBoolToObject(doc, "dumpable",
                          prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0);
    keys = cJSON_AddArrayToObject(doc, "keys");
    for (i = 0; keys != NULL && i < a->nkeys; i++) {
        struct akey *k = &a->keys[i];

        if ((o = cJSON_CreateObject()) == NULL)
            break;
        pthread_mutex_lock(&k->mu);
        cJSON_AddStringToObject(o, "uri", k->uri);
        cJSON_AddStringToObject(o, "token", k->label);
        cJSON_AddStringToObject(o, "serial", k->serial);
        cJSON_AddStringToObject(o, "model", k->model);
        cJSON_AddStringToObject(o, "state", states[k->state]);
        cJSON_AddBoolToObject(o, "logged_in",
                              k->key != NULL && ek_key_logged_in(k->key));
        cJSON_AddNumberToObject(o, "signatures", (double)k->signatures);
        cJSON_AddNumberToObject(o, "logins", (double)k->logins);
        pthread_mutex_unlock(&k->mu);
        cJSON_AddItemToArray(keys, o);
    }
    pthread_mutex_lock(&a->mu);
    cJSON_AddBoolToObject(doc, "locked", a->locked);
    cJSON_AddBoolToObject(doc, "pin_kept", a->pin_kept);
    cJSON_AddNumberToObject(doc, "min_lifetime", a->min_lifetime);
    cJSON_AddNumberToObject(doc, "requests", (double)a->requests);
    cJSON_AddNumberToObject(doc, "refused", (double)a->refused);
    cache = cJSON_AddArrayToObject(doc, "cache");
    for (e = a->cache; cache != NULL && e != NULL; e = e->next) {
        if ((o = cJSON_CreateObject()) == NULL)
            break;
        cJSON_AddStringToObject(o, "key", a->keys[e->key].uri);
        cJSON_AddStringToObject(o, "tenant", e->tenant);
        cJSON_AddStringToObject(o, "client_id", e->client_id);
        cJSON_AddStringToObject(o, "scope", e->scope);
        cJSON_AddBoolToObject(o, "token", e->token != NULL);
        cJSON_AddNumberToObject(o, "expires_on", (double)e->expires_on);
        cJSON_AddNumberToObject(o, "expires_in",
                                e->token != NULL ? (double)(e->expires_on - now)
                                                 : 0);
        if (e->last_err != EK_OK)
            cJSON_AddStringToObject(o, "last_error", e->last_msg);
        cJSON_AddItemToArray(cache, o);
    }
    pthread_mutex_unlock(&a->mu);
    return answer(c, MHD_HTTP_OK, doc, NULL, 0);
}

static enum MHD_Result
ok_answer(struct MHD_Connection *c, const char *what)
{
    cJSON *doc = cJSON_CreateObject();

    if (doc == NULL || cJSON_AddStringToObject(doc, "result", what) == NULL) {
        cJSON_Delete(doc);
        return MHD_NO;
    }
    return answer(c, MHD_HTTP_OK, doc, NULL, 0);
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
        const char *method, const char *version, const char *upload,
        size_t *upload_size, void **con_cls)
{
    struct agent *a = cls;
    struct req *rq = *con_cls;
    const char *cl;
    char msg[600];
    int post = strcmp(method, "POST") == 0;
    ek_err e;

    (void)version;
    if (rq == NULL) {
        if ((rq = calloc(1, sizeof *rq)) == NULL)
            return MHD_NO;
        *con_cls = rq;
        if (!peer_ok(a, c, &rq->who)) {
            pthread_mutex_lock(&a->mu);
            a->refused++;
            pthread_mutex_unlock(&a->mu);
            agent_log(a,
                      "refused a connection from uid %ld pid %ld (%s): "
                      "not this agent's user nor in --allow-uid",
                      (long)rq->who.uid, (long)rq->who.pid,
                      rq->who.exe[0] != '\0' ? rq->who.exe : "?");
            agent_audit_event(a->audit, "refusal", "refused", &rq->who, "path",
                              url, (const char *)NULL);
            return fail_status(c, MHD_HTTP_FORBIDDEN, EK_ERR_USAGE,
                               "this agent serves its own user only");
        }
        rq->checked = 1;
        cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                         MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl != NULL && strtoul(cl, NULL, 10) > AGENT_BODY_MAX)
            return fail_status(c, MHD_HTTP_CONTENT_TOO_LARGE, EK_ERR_USAGE,
                               "the body is over 16 KiB");
        return MHD_YES;
    }
    if (!rq->checked)
        return MHD_NO;
    if (*upload_size != 0) {
        if (rq->len + *upload_size > AGENT_BODY_MAX)
            return MHD_NO; /* over the cap: the connection is closed */
        memcpy(rq->body + rq->len, upload, *upload_size);
        rq->len += *upload_size;
        *upload_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&a->mu);
    a->requests++;
    pthread_mutex_unlock(&a->mu);
    if (strcmp(url, "/v1/status") == 0) {
        if (strcmp(method, "GET") != 0)
            return fail_status(c, MHD_HTTP_METHOD_NOT_ALLOWED, EK_ERR_USAGE,
                               "use GET");
        return do_status(a, c);
    }
    if (strcmp(url, "/v1/token") != 0 && strcmp(url, "/v1/assertion") != 0 &&
        strcmp(url, "/v1/lock") != 0 && strcmp(url, "/v1/unlock") != 0 &&
        strcmp(url, "/v1/reload") != 0)
        return fail_status(c, MHD_HTTP_NOT_FOUND, EK_ERR_USAGE,
                           "unknown path; see docs/agent.md (/v1/token, "
                           "/v1/assertion, /v1/status, /v1/lock, "
                           "/v1/unlock, /v1/reload)");
    if (!post)
        return fail_status(c, MHD_HTTP_METHOD_NOT_ALLOWED, EK_ERR_USAGE,
                           "use POST");
    if (strcmp(url, "/v1/token") == 0)
        return do_sign(a, c, rq, 1);
    if (strcmp(url, "/v1/assertion") == 0)
        return do_sign(a, c, rq, 0);
    if (strcmp(url, "/v1/lock") == 0) {
        agent_lock(a);
        return ok_answer(c, "locked");
    }
    msg[0] = '\0';
    if (strcmp(url, "/v1/unlock") == 0)
        e = agent_unlock(a, msg, sizeof msg);
    else
        e = agent_reload(a, msg, sizeof msg);
    if (e != EK_OK)
        return fail(c, e, msg);
    return ok_answer(c,
                     strcmp(url, "/v1/unlock") == 0 ? "unlocked" : "reloaded");
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
          enum MHD_RequestTerminationCode toe)
{
    struct req *rq = *con_cls;

    (void)cls;
    (void)c;
    (void)toe;
    if (rq != NULL) {
        explicit_bzero(rq->body, rq->len);
        free(rq);
        *con_cls = NULL;
    }
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    char buf[512];

    vsnprintf(buf, sizeof buf, fmt, ap);
    buf[strcspn(buf, "\n")] = '\0';
    agent_log(cls, "http: %s", buf);
}

struct MHD_Daemon *
agent_http_start(struct agent *a, int listen_fd)
{
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
                     MHD_USE_ERROR_LOG;

    return MHD_start_daemon(
        flags, 0, NULL, NULL, handler, a, MHD_OPTION_LISTEN_SOCKET, listen_fd,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)AGENT_CONN_TIMEOUT,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)AGENT_CONN_LIMIT,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
        MHD_OPTION_NOTIFY_COMPLETED, completed, a, MHD_OPTION_EXTERNAL_LOGGER,
        mhd_log, a, MHD_OPTION_END);
}
