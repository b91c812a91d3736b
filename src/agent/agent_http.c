/* agent_http.c: the agent's HTTP/1.1 + JSON protocol on its Unix socket:
 * the caller checked with SO_PEERCRED, bodies capped, versioned paths; see
 * docs/agent.md.
 *
 * libmicrohttpd reads and writes every connection in one epoll thread.
 * A complete request is suspended there and handed to a pool of kept
 * worker threads, which may wait (on the key's session, or on a token
 * being fetched) without holding up the others; the worker leaves the
 * answer in the request and resumes the connection, and the epoll thread
 * sends it. No thread is made or ended per request: a new thread's
 * start-up (its stack, and OpenSSL's per-thread state inside the PKCS#11
 * module) cost a cache miss a third of its time. */
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

#define POOL_KEEP 4    /* idle workers kept beyond the idle time */
#define POOL_IDLE_S 30 /* an idle worker beyond POOL_KEEP ends after */
#define STOP_SEND_S (AGENT_CONN_TIMEOUT + 5) /* answers in hand, at stop */

enum op {
    OP_NONE,
    OP_TOKEN,
    OP_ASSERTION,
    OP_STATUS,
    OP_LOCK,
    OP_UNLOCK,
    OP_RELOAD
};

struct req {
    struct req *next; /* in the pool's queue */
    struct MHD_Connection *c;
    enum op op;
    int checked;
    int suspended;   /* handed to a worker, not yet answered */
    int handed;      /* counted in the pool's handed until completed */
    int answered;    /* status, text and retry_after hold the answer */
    unsigned status; /* 0: no answer could be built; the connection ends */
    char *text;      /* the JSON answer, wiped when sent or dropped */
    long retry_after;
    struct caller who;
    size_t len;
    char body[AGENT_BODY_MAX + 1];
};

/* The server: the daemon and its worker pool (queue under mu). */
struct agent_http {
    struct agent *a;
    struct MHD_Daemon *d;
    pthread_mutex_t mu;
    pthread_cond_t work; /* a request queued, or stopping */
    pthread_cond_t gone; /* a worker ended, or a handed request completed */
    struct req *head, *tail;
    unsigned workers; /* started, not ended */
    unsigned queued;  /* requests in the queue */
    unsigned busy;    /* requests a worker is serving */
    unsigned handed;  /* requests handed to the pool, not yet completed */
    /* the worker that ended last: each ending worker joins the one before
     * it, and the stop joins the last, so that no other thread (not the
     * daemon's, which serves every connection) waits on an ending one */
    pthread_t last_ended;
    int any_ended;
    int stopping;
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

/* Keeps doc (deleted here) as rq's answer; the member named secret is
 * wiped from doc, and the text when it is sent or dropped. */
static void
answer(struct req *rq, unsigned status, cJSON *doc, const char *secret,
       long retry_after)
{
    char *s = doc != NULL ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON *v;

    if (doc != NULL && secret != NULL) {
        v = cJSON_GetObjectItemCaseSensitive(doc, secret);
        if (cJSON_IsString(v) && v->valuestring != NULL)
            explicit_bzero(v->valuestring, strlen(v->valuestring));
    }
    cJSON_Delete(doc);
    wipe_free(rq->text);
    rq->text = s;
    rq->status = s != NULL ? status : 0;
    rq->retry_after = retry_after;
    rq->answered = 1;
}

/* Queues rq's answer on c (from the access handler only). */
static enum MHD_Result
send_answer(struct MHD_Connection *c, struct req *rq)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;
    char ra[32];

    if (rq->status == 0 || rq->text == NULL)
        return MHD_NO;
    resp = MHD_create_response_from_buffer_with_free_callback(
        strlen(rq->text), rq->text, wipe_free);
    if (resp == NULL)
        return MHD_NO; /* rq->text is wiped with rq */
    rq->text = NULL;   /* the response owns it now */
    (void)MHD_add_response_header(resp, "Content-Type", "application/json");
    (void)MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (rq->retry_after > 0) {
        snprintf(ra, sizeof ra, "%ld", rq->retry_after);
        (void)MHD_add_response_header(resp, "Retry-After", ra);
    }
    ret = MHD_queue_response(c, rq->status, resp);
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

/* No answer could be built: the connection ends. */
static void
no_answer(struct req *rq)
{
    wipe_free(rq->text);
    rq->text = NULL;
    rq->status = 0;
    rq->answered = 1;
}

static void
fail(struct req *rq, ek_err e, const char *msg)
{
    cJSON *doc = cJSON_CreateObject(), *err;

    if (doc == NULL || (err = cJSON_AddObjectToObject(doc, "error")) == NULL ||
        cJSON_AddNumberToObject(err, "code", (double)e) == NULL ||
        cJSON_AddStringToObject(err, "name", ek_strerror(e)) == NULL ||
        cJSON_AddStringToObject(err, "message", msg) == NULL) {
        cJSON_Delete(doc);
        no_answer(rq);
        return;
    }
    answer(rq, status_for(e), doc, NULL,
           e == EK_ERR_THROTTLED ? AGENT_HOLD_THROTTLED : 0);
}

static void
fail_status(struct req *rq, unsigned status, ek_err e, const char *msg)
{
    cJSON *doc = cJSON_CreateObject(), *err;

    if (doc == NULL || (err = cJSON_AddObjectToObject(doc, "error")) == NULL ||
        cJSON_AddNumberToObject(err, "code", (double)e) == NULL ||
        cJSON_AddStringToObject(err, "name", ek_strerror(e)) == NULL ||
        cJSON_AddStringToObject(err, "message", msg) == NULL) {
        cJSON_Delete(doc);
        no_answer(rq);
        return;
    }
    answer(rq, status, doc, NULL, 0);
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
static void
do_sign(struct agent *a, struct req *rq, int token)
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
    if (in == NULL) {
        fail(rq, EK_ERR_USAGE, "the body is not JSON");
        return;
    }
    ki = parse_request(a, in, &p, &num, token ? "min_lifetime" : "lifetime",
                       msg, sizeof msg, &e);
    if (ki < 0) {
        cJSON_Delete(in);
        fail(rq, e, msg);
        return;
    }
    if (token) {
        e = agent_token(a, (size_t)ki, &p, num, &rq->who, &t, msg, sizeof msg);
    } else {
        p.assertion.lifetime = num;
        e = agent_assertion(a, (size_t)ki, &p, &rq->who, &jwt, msg, sizeof msg);
    }
    cJSON_Delete(in);
    if (e != EK_OK) {
        fail(rq, e, msg);
        return;
    }
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
        fail(rq, EK_ERR_INTERNAL, "out of memory");
        return;
    }
    answer(rq, MHD_HTTP_OK, out, field, 0);
}

static void
do_status(struct agent *a, struct req *rq)
{
    cJSON *doc = cJSON_CreateObject(), *keys, *cache, *o;
    struct centry *e;
    size_t i;
    time_t now = time(NULL);
    static const char *const states[] = {"ready", "gone", "locked"};

    if (doc == NULL) {
        no_answer(rq);
        return;
    }
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
    answer(rq, MHD_HTTP_OK, doc, NULL, 0);
}

static void
ok_answer(struct req *rq, const char *what)
{
    cJSON *doc = cJSON_CreateObject();

    if (doc == NULL || cJSON_AddStringToObject(doc, "result", what) == NULL) {
        cJSON_Delete(doc);
        no_answer(rq);
        return;
    }
    answer(rq, MHD_HTTP_OK, doc, NULL, 0);
}

/* What a worker does with a complete request: rq's answer is left in it. */
static void
serve(struct agent *a, struct req *rq)
{
    char msg[600];
    ek_err e;

    switch (rq->op) {
    case OP_TOKEN:
        do_sign(a, rq, 1);
        return;
    case OP_ASSERTION:
        do_sign(a, rq, 0);
        return;
    case OP_STATUS:
        do_status(a, rq);
        return;
    case OP_LOCK:
        agent_lock(a);
        ok_answer(rq, "locked");
        return;
    case OP_UNLOCK:
    case OP_RELOAD:
        msg[0] = '\0';
        e = rq->op == OP_UNLOCK ? agent_unlock(a, msg, sizeof msg)
                                : agent_reload(a, msg, sizeof msg);
        if (e != EK_OK)
            fail(rq, e, msg);
        else
            ok_answer(rq, rq->op == OP_UNLOCK ? "unlocked" : "reloaded");
        return;
    case OP_NONE:
        break;
    }
    no_answer(rq);
}

static void *
worker(void *arg)
{
    struct agent_http *h = arg;
    struct req *rq;
    struct timespec until;
    pthread_t prev;
    int rc, had_prev;

    pthread_mutex_lock(&h->mu);
    for (;;) {
        rc = 0;
        while (h->head == NULL && !h->stopping && rc != ETIMEDOUT) {
            clock_gettime(CLOCK_MONOTONIC, &until);
            until.tv_sec += POOL_IDLE_S;
            rc = pthread_cond_timedwait(&h->work, &h->mu, &until);
        }
        if (h->head == NULL &&
            (h->stopping || (rc == ETIMEDOUT && h->workers > POOL_KEEP)))
            break;
        if ((rq = h->head) == NULL)
            continue; /* idle past the time, but one of the kept ones */
        if ((h->head = rq->next) == NULL)
            h->tail = NULL;
        rq->next = NULL;
        h->queued--;
        h->busy++;
        pthread_mutex_unlock(&h->mu);
        serve(h->a, rq);
        /* free again before the answer leaves: the caller's next request
         * finds this worker rather than starting another */
        pthread_mutex_lock(&h->mu);
        h->busy--;
        pthread_mutex_unlock(&h->mu);
        /* rq belongs to the connection again: not touched after this */
        MHD_resume_connection(rq->c);
        pthread_mutex_lock(&h->mu);
    }
    h->workers--;
    prev = h->last_ended;
    had_prev = h->any_ended;
    h->last_ended = pthread_self();
    h->any_ended = 1;
    pthread_cond_broadcast(&h->gone);
    pthread_mutex_unlock(&h->mu);
    /* h is not touched after this: the stop may free it once this thread
     * is joined, which is after the one before it is */
    if (had_prev)
        pthread_join(prev, NULL);
    return NULL;
}

/* Hands rq to the pool (from the access handler): the connection is
 * suspended until a worker has its answer. -1: not handed (stopping, or
 * no worker could be started); the caller answers. */
static int
dispatch(struct agent_http *h, struct MHD_Connection *c, struct req *rq)
{
    pthread_t th;

    pthread_mutex_lock(&h->mu);
    if (h->stopping) {
        pthread_mutex_unlock(&h->mu);
        return -1;
    }
    if (h->queued + h->busy >= h->workers && h->workers < AGENT_CONN_LIMIT) {
        if (pthread_create(&th, NULL, worker, h) == 0)
            h->workers++;
        else if (h->workers == 0) {
            pthread_mutex_unlock(&h->mu);
            return -1;
        }
        /* else a busy worker takes it when it is free */
    }
    /* suspended before it can be resumed */
    MHD_suspend_connection(c);
    rq->c = c;
    rq->suspended = 1;
    rq->handed = 1;
    h->handed++;
    if (h->tail != NULL)
        h->tail->next = rq;
    else
        h->head = rq;
    h->tail = rq;
    h->queued++;
    pthread_cond_signal(&h->work);
    pthread_mutex_unlock(&h->mu);
    return 0;
}

static enum op
op_of(const char *url)
{
    static const struct {
        const char *path;
        enum op op;
    } paths[] = {
        {"/v1/token", OP_TOKEN},   {"/v1/assertion", OP_ASSERTION},
        {"/v1/status", OP_STATUS}, {"/v1/lock", OP_LOCK},
        {"/v1/unlock", OP_UNLOCK}, {"/v1/reload", OP_RELOAD},
    };
    size_t i;

    for (i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (strcmp(url, paths[i].path) == 0)
            return paths[i].op;
    return OP_NONE;
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
        const char *method, const char *version, const char *upload,
        size_t *upload_size, void **con_cls)
{
    struct agent_http *h = cls;
    struct agent *a = h->a;
    struct req *rq = *con_cls;
    const char *cl;

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
            fail_status(rq, MHD_HTTP_FORBIDDEN, EK_ERR_USAGE,
                        "this agent serves its own user only");
            return send_answer(c, rq);
        }
        rq->checked = 1;
        cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                         MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl != NULL && strtoul(cl, NULL, 10) > AGENT_BODY_MAX) {
            fail_status(rq, MHD_HTTP_CONTENT_TOO_LARGE, EK_ERR_USAGE,
                        "the body is over 16 KiB");
            return send_answer(c, rq);
        }
        return MHD_YES;
    }
    if (!rq->checked)
        return MHD_NO;
    if (rq->suspended) {
        /* resumed: the worker's answer */
        rq->suspended = 0;
        return send_answer(c, rq);
    }
    if (*upload_size != 0) {
        if (rq->len + *upload_size > AGENT_BODY_MAX)
            return MHD_NO; /* over the cap: the connection is closed */
        memcpy(rq->body + rq->len, upload, *upload_size);
        rq->len += *upload_size;
        *upload_size = 0;
        return MHD_YES;
    }
    if (rq->answered)
        return send_answer(c, rq);
    pthread_mutex_lock(&a->mu);
    a->requests++;
    pthread_mutex_unlock(&a->mu);
    if ((rq->op = op_of(url)) == OP_NONE)
        fail_status(rq, MHD_HTTP_NOT_FOUND, EK_ERR_USAGE,
                    "unknown path; see docs/agent.md (/v1/token, "
                    "/v1/assertion, /v1/status, /v1/lock, "
                    "/v1/unlock, /v1/reload)");
    else if (rq->op == OP_STATUS && strcmp(method, "GET") != 0)
        fail_status(rq, MHD_HTTP_METHOD_NOT_ALLOWED, EK_ERR_USAGE, "use GET");
    else if (rq->op != OP_STATUS && strcmp(method, "POST") != 0)
        fail_status(rq, MHD_HTTP_METHOD_NOT_ALLOWED, EK_ERR_USAGE, "use POST");
    else if (dispatch(h, c, rq) == 0)
        return MHD_YES;
    else
        fail_status(rq, MHD_HTTP_SERVICE_UNAVAILABLE, EK_ERR_INTERNAL,
                    h->stopping ? "the agent is stopping"
                                : "the agent could not start a worker thread");
    return send_answer(c, rq);
}

/* The request is over: its answer sent, or the connection gone. */
static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
          enum MHD_RequestTerminationCode toe)
{
    struct agent_http *h = cls;
    struct req *rq = *con_cls;

    (void)c;
    (void)toe;
    if (rq == NULL)
        return;
    if (rq->handed) {
        pthread_mutex_lock(&h->mu);
        h->handed--;
        pthread_cond_broadcast(&h->gone);
        pthread_mutex_unlock(&h->mu);
    }
    wipe_free(rq->text);
    explicit_bzero(rq->body, rq->len);
    free(rq);
    *con_cls = NULL;
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    char buf[512];

    vsnprintf(buf, sizeof buf, fmt, ap);
    buf[strcspn(buf, "\n")] = '\0';
    agent_log(cls, "http: %s", buf);
}

struct agent_http *
agent_http_start(struct agent *a, int listen_fd, char *msg, size_t msgsz)
{
    struct agent_http *h;
    pthread_condattr_t ca;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;

    if (agent_mhd_load(msg, msgsz) != 0)
        return NULL;
    if ((h = calloc(1, sizeof *h)) == NULL) {
        snprintf(msg, msgsz, "out of memory");
        return NULL;
    }
    h->a = a;
    pthread_mutex_init(&h->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->work, &ca);
    pthread_cond_init(&h->gone, &ca);
    pthread_condattr_destroy(&ca);
    /* the logger first: libmicrohttpd says so otherwise, on stderr */
    h->d = MHD_start_daemon(
        flags, 0, NULL, NULL, handler, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
        a, MHD_OPTION_LISTEN_SOCKET, listen_fd, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)AGENT_CONN_TIMEOUT, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)AGENT_CONN_LIMIT, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)32768, MHD_OPTION_NOTIFY_COMPLETED, completed, h,
        MHD_OPTION_END);
    if (h->d == NULL) {
        snprintf(msg, msgsz, "libmicrohttpd did not start on the socket");
        agent_http_stop(h);
        return NULL;
    }
    return h;
}

void
agent_http_stop(struct agent_http *h)
{
    struct timespec until;
    pthread_t last;
    int any;

    if (h == NULL)
        return;
    /* the workers answer what they hold and what is queued, and end;
     * then no connection is suspended and the daemon can stop. The
     * answers they left are sent by the daemon's thread: it is stopped
     * once they are (a reader that does not read is cut off by the
     * connection timeout; STOP_SEND_S bounds the wait anyway) */
    pthread_mutex_lock(&h->mu);
    h->stopping = 1;
    pthread_cond_broadcast(&h->work);
    while (h->workers > 0)
        pthread_cond_wait(&h->gone, &h->mu);
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += STOP_SEND_S;
    while (h->handed > 0 &&
           pthread_cond_timedwait(&h->gone, &h->mu, &until) != ETIMEDOUT)
        ;
    last = h->last_ended;
    any = h->any_ended;
    pthread_mutex_unlock(&h->mu);
    /* no worker is left to end: the last one joins the others */
    if (any)
        pthread_join(last, NULL);
    if (h->d != NULL)
        MHD_stop_daemon(h->d);
    pthread_cond_destroy(&h->work);
    pthread_cond_destroy(&h->gone);
    pthread_mutex_destroy(&h->mu);
    free(h);
}
