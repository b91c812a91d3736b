/* agent_core.c: the agent's held keys and kept PIN, and the token cache
 * with single-flight fetches and refresh ahead of expiry. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "agent.h"

void
agent_log(struct agent *a, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    if (a != NULL && a->quiet && !a->verbose)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "entrakey agent: %s\n", buf);
}

/* ------------------------------------------------------------------ PIN */

/* The PIN lives in one page that is never swapped (mlock), never in a
 * core (MADV_DONTDUMP; the process is not dumpable either) and wiped. */
int
agent_pin_init(struct agent *a)
{
    long pg = sysconf(_SC_PAGESIZE);
    void *p;

    a->pin_cap = pg > 0 ? (size_t)pg : 4096;
    p = mmap(NULL, a->pin_cap, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    if (mlock(p, a->pin_cap) != 0)
        agent_log(a,
                  "warning: cannot lock the PIN's memory (mlock: %s); "
                  "raise RLIMIT_MEMLOCK",
                  strerror(errno));
    (void)madvise(p, a->pin_cap, MADV_DONTDUMP);
    a->pin = p;
    a->pin_len = 0;
    a->pin_kept = 0;
    return 0;
}

void
agent_pin_wipe(struct agent *a)
{
    if (a->pin != NULL)
        explicit_bzero(a->pin, a->pin_cap);
    a->pin_len = 0;
    a->pin_kept = 0;
}

/* Whether the source can be read again after the PIN was wiped: a file
 * (or the systemd credential, a file); not fd:, env: (wiped from the
 * environment after the first read) or the terminal. */
static int
pin_rereadable(const struct agent *a)
{
    return a->pin_source != NULL && strncmp(a->pin_source, "file:", 5) == 0;
}

void
agent_pin_settle(struct agent *a)
{
    size_t i;
    int keep = 0;

    pthread_mutex_lock(&a->mu);
    for (i = 0; i < a->nkeys; i++)
        keep |= a->keys[i].removable;
    if (!keep && a->pin_kept) {
        /* a token that cannot be pulled keeps its login: the PIN has done
         * its work (re-read from a file source should the login be lost
         * anyway) */
        agent_pin_wipe(a);
        agent_log(a,
                  "PIN wiped after the login: no held token is "
                  "removable%s",
                  pin_rereadable(a) ? " (a lost login re-reads the PIN file)"
                                    : "");
    }
    pthread_mutex_unlock(&a->mu);
}

/* Once the PIN is read, its source is let go where it lingers: a PIN from
 * env:NAME is wiped where the kernel shows it (/proc/PID/environ reads the
 * process's first environment block) and removed from the environment; an
 * fd: (read once) is pointed at /dev/null, so that the agent does not hold
 * the file or pipe it came from for its whole life. */
static void
forget_pin_source(const char *source)
{
    char *v, *end;
    long fd;
    int nul;

    if (source != NULL && strncmp(source, "fd:", 3) == 0) {
        fd = strtol(source + 3, &end, 10);
        if (end != source + 3 && *end == '\0' && fd >= 0 && fd <= INT_MAX &&
            (nul = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
            (void)dup2(nul, (int)fd);
            close(nul);
        }
        return;
    }
    if (source == NULL || strncmp(source, "env:", 4) != 0)
        return;
    if ((v = getenv(source + 4)) != NULL) {
        explicit_bzero(v, strlen(v));
        unsetenv(source + 4);
    }
}

/* The library asks for the PIN right before its one C_Login: the kept one,
 * else (once, at start) the configured source or the terminal. */
static ek_err
pin_get(struct akey *k, const char *prompt, char *buf, size_t bufsz)
{
    struct agent *a = k->a;
    struct ek_secret *s = NULL;
    ek_err r;

    if (a->locked)
        return EK_ERR_PIN_REQUIRED;
    if (!a->pin_kept) {
        if (a->pin_read && !pin_rereadable(a))
            return EK_ERR_PIN_REQUIRED; /* fd:, env:, the terminal: once */
        if (a->pin_source != NULL) {
            if ((r = ek_pin_read(k->ctx, a->pin_source, &s)) != EK_OK)
                return r == EK_ERR_USAGE ? EK_ERR_PIN : r;
            if (ek_secret_len(s) + 1 > a->pin_cap) {
                ek_secret_free(&s);
                return EK_ERR_PIN;
            }
            memcpy(a->pin, ek_secret_data(s), ek_secret_len(s));
            a->pin_len = ek_secret_len(s);
            ek_secret_free(&s);
            forget_pin_source(a->pin_source);
        } else if (a->prompt_ok) {
            if ((r = cli_prompt_pin(NULL, prompt, a->pin, a->pin_cap)) != EK_OK)
                return r;
            a->pin_len = strlen(a->pin);
        } else {
            return EK_ERR_PIN_REQUIRED;
        }
        a->pin[a->pin_len] = '\0';
        a->pin_kept = 1;
        a->pin_read = 1;
    }
    if (a->pin_len + 1 > bufsz)
        return EK_ERR_PIN;
    memcpy(buf, a->pin, a->pin_len + 1);
    return EK_OK;
}

/* Under a->mu: agent_pin_settle and lock wipe the PIN from other threads
 * (never held while a key's lock is taken, so the order k->mu, a->mu is
 * safe). */
static ek_err
agent_prompt(void *arg, const char *prompt, char *buf, size_t bufsz)
{
    struct akey *k = arg;
    ek_err r;

    pthread_mutex_lock(&k->a->mu);
    r = pin_get(k, prompt, buf, bufsz);
    pthread_mutex_unlock(&k->a->mu);
    return r;
}

/* ----------------------------------------------------------------- keys */

static void
copy_err(struct ek_ctx *ctx, char *msg, size_t msgsz)
{
    snprintf(msg, msgsz, "%s", ek_ctx_errmsg(ctx));
}

/* akey.locked_why when another token is found in a key's place */
static const char locked_other_token[] =
    "another token was inserted; insert the right one and POST /v1/unlock";

/* Whether the token k held (its serial and model) is present again:
 * EK_OK; another token with its label in its place: the key is locked
 * (EK_ERR_PIN_LOCKED, no PIN sent); none: EK_ERR_DEVICE. */
static ek_err
same_token_back(struct akey *k, char *msg, size_t msgsz)
{
    struct ek_token_list *l = NULL;
    const char *other = NULL;
    size_t i;
    ek_err r;

    if ((r = ek_tokens_list(k->ctx, &l)) != EK_OK) {
        copy_err(k->ctx, msg, msgsz);
        return r == EK_ERR_NOT_FOUND || r == EK_ERR_TOKEN ? EK_ERR_DEVICE : r;
    }
    for (i = 0; i < ek_token_list_count(l); i++) {
        if (strcmp(ek_token_serial(ek_token_list_get(l, i)), k->serial) == 0 &&
            strcmp(ek_token_model(ek_token_list_get(l, i)), k->model) == 0)
            break;
        if (strcmp(ek_token_label(ek_token_list_get(l, i)), k->label) == 0)
            other = ek_token_serial(ek_token_list_get(l, i));
    }
    if (i < ek_token_list_count(l)) {
        ek_token_list_free(&l);
        return EK_OK;
    }
    if (other == NULL) {
        ek_token_list_free(&l);
        snprintf(msg, msgsz,
                 "token '%s' (serial %s) is not there; "
                 "reinsert or reconnect it",
                 k->label, k->serial);
        return EK_ERR_DEVICE;
    }
    agent_log(k->a,
              "key %s: a different token (serial '%s') is in the "
              "place of '%s' (serial '%s', model '%s'); locked, no PIN sent",
              k->uri, other, k->label, k->serial, k->model);
    snprintf(msg, msgsz,
             "a different token (serial '%s') was inserted in "
             "place of '%s' (serial '%s'): the agent locked this key and "
             "sent no PIN; insert the right token and POST /v1/unlock",
             other, k->label, k->serial);
    agent_audit_event(k->a->audit, "removal", "other-token", NULL, "key",
                      k->uri, "serial", other, (const char *)NULL);
    ek_token_list_free(&l);
    k->state = AKEY_LOCKED;
    k->locked_why = locked_other_token;
    return EK_ERR_PIN_LOCKED;
}

/* Opens k and logs in (k->mu held or not yet shared). A token that came
 * back with another serial or model is not logged in to: locked. */
static ek_err
akey_open(struct akey *k, char *msg, size_t msgsz)
{
    struct agent *a = k->a;
    ek_err r;

    ek_key_free(&k->key);
    /* before ek_key_open, which logs in to find a private key: the token
     * that came back must be the one held, or no PIN goes to it */
    if (k->serial[0] != '\0' && (r = same_token_back(k, msg, msgsz)) != EK_OK)
        return r;
    if ((r = ek_key_open(k->ctx, k->uri, &k->key)) != EK_OK) {
        copy_err(k->ctx, msg, msgsz);
        if (k->serial[0] != '\0' &&
            (r == EK_ERR_NOT_FOUND || r == EK_ERR_TOKEN))
            r = EK_ERR_DEVICE; /* the token we held is not there */
        return r;
    }
    if (k->serial[0] != '\0' &&
        (strcmp(k->serial, ek_key_token_serial(k->key)) != 0 ||
         strcmp(k->model, ek_key_token_model(k->key)) != 0)) {
        agent_log(a,
                  "key %s: a different token (serial '%s', model '%s') "
                  "is in the place of serial '%s' model '%s'; locked, no "
                  "PIN sent",
                  k->uri, ek_key_token_serial(k->key),
                  ek_key_token_model(k->key), k->serial, k->model);
        snprintf(msg, msgsz,
                 "a different token (serial '%s') was inserted "
                 "in place of '%s' (serial '%s'): the agent locked this key "
                 "and sent no PIN; insert the right token and run curl "
                 "--unix-socket SOCK -X POST http://localhost/v1/unlock",
                 ek_key_token_serial(k->key), k->label, k->serial);
        agent_audit_event(a->audit, "removal", "other-token", NULL, "key",
                          k->uri, "serial", ek_key_token_serial(k->key),
                          (const char *)NULL);
        ek_key_free(&k->key);
        k->state = AKEY_LOCKED;
        k->locked_why = locked_other_token;
        return EK_ERR_PIN_LOCKED;
    }
    r = ek_key_login(k->key);
    agent_audit_event(a->audit, "login", r == EK_OK ? "ok" : ek_strerror(r),
                      NULL, "key", k->uri, "serial",
                      ek_key_token_serial(k->key), (const char *)NULL);
    if (r != EK_OK) {
        copy_err(k->ctx, msg, msgsz);
        if (r == EK_ERR_PIN || r == EK_ERR_PIN_LOCKED) {
            /* a wrong PIN is never tried again */
            agent_pin_wipe(a);
            k->state = AKEY_LOCKED;
            k->locked_why = "its PIN was refused; POST /v1/unlock after "
                            "fixing the PIN source";
        } else if (r == EK_ERR_PIN_REQUIRED && a->pin_read && !a->pin_kept) {
            snprintf(msg, msgsz,
                     "token '%s' needs a new login (the agent was locked, or "
                     "the token lost its login), and the agent did not keep "
                     "the PIN (the token is not removable) and cannot read "
                     "its source again (fd:, env: or the terminal); restart "
                     "the agent, or give it --pin-source file:PATH",
                     k->label);
            k->state = AKEY_LOCKED;
            k->locked_why = "its PIN source cannot be read again (fd:, env: "
                            "or the terminal); restart the agent, or give it "
                            "--pin-source file:PATH";
        }
        ek_key_free(&k->key);
        return r;
    }
    k->logins++;
    k->removable = (ek_key_token_flags(k->key) & EK_TOKEN_REMOVABLE) != 0;
    snprintf(k->serial, sizeof k->serial, "%s", ek_key_token_serial(k->key));
    snprintf(k->model, sizeof k->model, "%s", ek_key_token_model(k->key));
    snprintf(k->label, sizeof k->label, "%s", ek_key_token_label(k->key));
    snprintf(k->canon, sizeof k->canon, "%s", ek_key_uri(k->key));
    k->state = AKEY_READY;
    return EK_OK;
}

ek_err
agent_keys_open(struct agent *a, char *msg, size_t msgsz)
{
    size_t i;
    ek_err r;

    for (i = 0; i < a->nkeys; i++) {
        struct akey *k = &a->keys[i];

        if (k->ctx == NULL) {
            if (ek_ctx_new(&k->ctx) != EK_OK)
                return EK_ERR_INTERNAL;
            k->a = a;
            ek_ctx_set_log(k->ctx, cli_log_to_stderr, NULL,
                           a->verbose ? EK_LOG_TRACE : EK_LOG_WARN);
            ek_ctx_set_pin_prompt(k->ctx, agent_prompt, k);
            ek_ctx_set_flags(k->ctx,
                             a->cli->flags |
                                 (a->pin_first ? EK_FLAG_PIN_PROMPT_FIRST : 0));
            if (k->module != NULL &&
                (r = ek_ctx_set_module(k->ctx, k->module)) != EK_OK) {
                copy_err(k->ctx, msg, msgsz);
                return r;
            }
            if (a->cli->module != NULL &&
                (r = ek_ctx_set_module(k->ctx, a->cli->module)) != EK_OK) {
                copy_err(k->ctx, msg, msgsz);
                return r;
            }
        }
        if ((r = akey_open(k, msg, msgsz)) != EK_OK)
            return r;
        agent_log(a, "holding key %s on token '%s' (serial %s%s), logged in",
                  k->uri, k->label, k->serial,
                  k->removable ? ", removable" : "");
    }
    agent_pin_settle(a);
    return EK_OK;
}

void
agent_keys_close(struct agent *a)
{
    size_t i;

    /* closing the last session logs the token out (PKCS#11 5.6) */
    for (i = 0; i < a->nkeys; i++) {
        pthread_mutex_lock(&a->keys[i].mu);
        ek_key_free(&a->keys[i].key);
        a->keys[i].state = AKEY_GONE;
        pthread_mutex_unlock(&a->keys[i].mu);
    }
}

ssize_t
agent_find_key(struct agent *a, const char *uri)
{
    size_t i;

    for (i = 0; i < a->nkeys; i++)
        if (strcmp(a->keys[i].uri, uri) == 0 ||
            (a->keys[i].canon[0] != '\0' && strcmp(a->keys[i].canon, uri) == 0))
            return (ssize_t)i;
    return -1;
}

static void
centry_free(struct centry *e)
{
    if (e->token != NULL) {
        explicit_bzero(e->token, strlen(e->token));
        free(e->token);
    }
    free(e->type);
    free(e->tenant);
    free(e->client_id);
    free(e->scope);
    free(e->authority);
    free(e->ca_file);
    pthread_cond_destroy(&e->cv);
    free(e);
}

static void
cache_drop_tokens(struct agent *a)
{
    struct centry *e;

    for (e = a->cache; e != NULL; e = e->next) {
        if (e->token != NULL) {
            explicit_bzero(e->token, strlen(e->token));
            free(e->token);
            e->token = NULL;
        }
        e->expires_on = 0;
    }
}

void
agent_cache_free(struct agent *a)
{
    struct centry *e, *n;

    for (e = a->cache; e != NULL; e = n) {
        n = e->next;
        centry_free(e);
    }
    a->cache = NULL;
}

void
agent_lock(struct agent *a)
{
    pthread_mutex_lock(&a->mu);
    a->locked = 1;
    agent_pin_wipe(a);
    cache_drop_tokens(a);
    pthread_mutex_unlock(&a->mu);
    agent_keys_close(a);
    agent_log(a, "locked: PIN wiped, sessions closed, cache emptied");
    agent_audit_event(a->audit, "lock", "ok", NULL, (const char *)NULL);
}

ek_err
agent_unlock(struct agent *a, char *msg, size_t msgsz)
{
    size_t i;
    ek_err r = EK_OK;

    pthread_mutex_lock(&a->mu);
    a->locked = 0;
    pthread_mutex_unlock(&a->mu);
    for (i = 0; i < a->nkeys && r == EK_OK; i++) {
        struct akey *k = &a->keys[i];

        pthread_mutex_lock(&k->mu);
        k->serial[0] = '\0'; /* whatever token is there now is accepted */
        if (k->state != AKEY_READY || k->key == NULL)
            r = akey_open(k, msg, msgsz);
        pthread_mutex_unlock(&k->mu);
    }
    agent_audit_event(a->audit, "unlock", r == EK_OK ? "ok" : ek_strerror(r),
                      NULL, (const char *)NULL);
    if (r == EK_OK)
        agent_pin_settle(a);
    if (r != EK_OK && !a->pin_kept && a->pin_source == NULL)
        snprintf(msg, msgsz,
                 "the agent has no PIN and no PIN source it "
                 "can read again (the PIN came from a prompt or fd:); "
                 "restart the agent");
    return r;
}

ek_err
agent_reload(struct agent *a, char *msg, size_t msgsz)
{
    size_t i;
    ek_err r = EK_OK;

    pthread_mutex_lock(&a->mu);
    cache_drop_tokens(a);
    pthread_mutex_unlock(&a->mu);
    for (i = 0; i < a->nkeys; i++) {
        struct akey *k = &a->keys[i];
        ek_err kr;

        pthread_mutex_lock(&k->mu);
        if (k->state != AKEY_LOCKED && !a->locked &&
            (kr = akey_open(k, msg, msgsz)) != EK_OK && r == EK_OK)
            r = kr;
        pthread_mutex_unlock(&k->mu);
    }
    agent_log(a, "reloaded: cache emptied, keys opened again");
    agent_pin_settle(a);
    return r;
}

/* --------------------------------------------------------------- tokens */

/* Ready to sign (k->mu held): the session there, or found again. */
static ek_err
akey_ready(struct akey *k, char *msg, size_t msgsz)
{
    ek_err r;

    if (k->a->locked) {
        snprintf(msg, msgsz,
                 "the agent is locked; unlock it (POST "
                 "/v1/unlock) or restart it");
        return EK_ERR_PIN_REQUIRED;
    }
    if (k->state == AKEY_LOCKED) {
        snprintf(msg, msgsz, "key %s is locked in the agent: %s", k->uri,
                 k->locked_why != NULL ? k->locked_why
                                       : "POST /v1/unlock after fixing it");
        return EK_ERR_PIN_LOCKED;
    }
    if (k->state == AKEY_READY && k->key != NULL)
        return EK_OK;
    if ((r = akey_open(k, msg, msgsz)) == EK_OK)
        agent_pin_settle(k->a);
    return r;
}

/* After a signature failed: a device error means the token is gone. */
static void
akey_failed(struct akey *k, ek_err r)
{
    if (r == EK_ERR_DEVICE) {
        agent_log(k->a,
                  "token '%s' of key %s is gone; waiting for it to "
                  "come back",
                  k->label, k->uri);
        agent_audit_event(k->a->audit, "removal", "gone", NULL, "key", k->uri,
                          "serial", k->serial, (const char *)NULL);
        ek_key_free(&k->key);
        k->state = AKEY_GONE;
    }
}

/* A signature asked of a key's signing thread; on the asker's stack. */
struct sign_job {
    struct sign_job *next;
    const struct ek_access_token_params *p;
    struct ek_secret **jwtp;
    char *jti; /* 64 bytes */
    char thumb[48];
    char *msg;
    size_t msgsz;
    ek_err r;
    int done;
    pthread_cond_t cv; /* done (under the key's qmu) */
};

/* One signature on the held session (k->mu taken here). */
static void
sign_one(struct akey *k, struct sign_job *j)
{
    pthread_mutex_lock(&k->mu);
    if ((j->r = akey_ready(k, j->msg, j->msgsz)) == EK_OK) {
        j->r = ek_assertion_sign(k->ctx, k->key, &j->p->assertion, j->jwtp);
        /* identifiers for the audit trail, read under the key's lock */
        snprintf(j->jti, 64, "%s", ek_ctx_assertion_jti(k->ctx));
        snprintf(j->thumb, sizeof j->thumb, "%s",
                 ek_ctx_assertion_thumbprint(k->ctx));
        if (j->r != EK_OK) {
            copy_err(k->ctx, j->msg, j->msgsz);
            akey_failed(k, j->r);
        } else {
            k->signatures++;
        }
    }
    pthread_mutex_unlock(&k->mu);
}

static void *
signer(void *arg)
{
    struct akey *k = arg;
    struct sign_job *j;

    pthread_mutex_lock(&k->qmu);
    for (;;) {
        while (k->qhead == NULL && !k->signer_stop)
            pthread_cond_wait(&k->qcv, &k->qmu);
        if ((j = k->qhead) == NULL)
            break;
        if ((k->qhead = j->next) == NULL)
            k->qtail = NULL;
        pthread_mutex_unlock(&k->qmu);
        sign_one(k, j);
        pthread_mutex_lock(&k->qmu);
        j->done = 1;
        pthread_cond_signal(&j->cv);
    }
    pthread_mutex_unlock(&k->qmu);
    return NULL;
}

void
agent_key_init(struct agent *a, struct akey *k)
{
    pthread_mutex_init(&k->mu, NULL);
    pthread_mutex_init(&k->qmu, NULL);
    pthread_cond_init(&k->qcv, NULL);
    k->a = a;
    k->state = AKEY_GONE;
}

void
agent_key_fini(struct akey *k)
{
    if (k->a == NULL)
        return; /* never initialised */
    pthread_mutex_lock(&k->qmu);
    k->signer_stop = 1;
    pthread_cond_signal(&k->qcv);
    pthread_mutex_unlock(&k->qmu);
    if (k->signer_on)
        pthread_join(k->signer, NULL);
    k->signer_on = 0;
    pthread_cond_destroy(&k->qcv);
    pthread_mutex_destroy(&k->qmu);
    pthread_mutex_destroy(&k->mu);
    k->a = NULL;
}

static ek_err
sign_for(struct agent *a, size_t key, const struct ek_access_token_params *p,
         const struct caller *who, struct ek_secret **jwtp, char jti[64],
         char *msg, size_t msgsz)
{
    struct akey *k = &a->keys[key];
    struct sign_job j;
    const char *scope = p->scope;

    memset(&j, 0, sizeof j);
    j.p = p;
    j.jwtp = jwtp;
    j.jti = jti;
    j.msg = msg;
    j.msgsz = msgsz;
    pthread_cond_init(&j.cv, NULL);
    pthread_mutex_lock(&k->qmu);
    if (!k->signer_on && !k->signer_stop &&
        pthread_create(&k->signer, NULL, signer, k) == 0)
        k->signer_on = 1;
    if (k->signer_on && !k->signer_stop) {
        if (k->qtail != NULL)
            k->qtail->next = &j;
        else
            k->qhead = &j;
        k->qtail = &j;
        pthread_cond_signal(&k->qcv);
        while (!j.done)
            pthread_cond_wait(&j.cv, &k->qmu);
        pthread_mutex_unlock(&k->qmu);
    } else {
        /* no signing thread (it could not start, or the key is ending):
         * signed here, in turn on the session lock */
        pthread_mutex_unlock(&k->qmu);
        sign_one(k, &j);
    }
    pthread_cond_destroy(&j.cv);
    if (scope == NULL)
        scope = ek_cloud_scope(p->assertion.cloud, p->resource);
    agent_audit_event(a->audit, "assertion",
                      j.r == EK_OK ? "ok" : ek_strerror(j.r), who, "key",
                      k->uri, "thumbprint", j.thumb, "tenant",
                      p->assertion.tenant, "client_id", p->assertion.client_id,
                      "scope", scope, "jti", jti, (const char *)NULL);
    return j.r;
}

ek_err
agent_assertion(struct agent *a, size_t key,
                const struct ek_access_token_params *p,
                const struct caller *who, struct ek_secret **jwtp, char *msg,
                size_t msgsz)
{
    char jti[64] = "";

    *jwtp = NULL;
    return sign_for(a, key, p, who, jwtp, jti, msg, msgsz);
}

static int
same(const char *x, const char *y)
{
    if (x == NULL || y == NULL)
        return x == y;
    return strcmp(x, y) == 0;
}

static char *
dup_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

/* The entry for this request (a->mu held); NULL when out of memory. */
static struct centry *
cache_entry(struct agent *a, size_t key, const struct ek_access_token_params *p,
            const char *scope)
{
    const struct ek_assertion_params *ap = &p->assertion;
    struct centry *e;

    for (e = a->cache; e != NULL; e = e->next)
        if (e->key == key && same(e->tenant, ap->tenant) &&
            same(e->client_id, ap->client_id) && same(e->scope, scope) &&
            same(e->authority, ap->authority_host) &&
            e->cloud == (int)ap->cloud)
            break;
    if (e == NULL) {
        if ((e = calloc(1, sizeof *e)) == NULL)
            return NULL;
        e->key = key;
        e->cloud = (int)ap->cloud;
        e->alg = ap->alg;
        e->tenant = strdup(ap->tenant);
        e->client_id = strdup(ap->client_id);
        e->scope = strdup(scope);
        e->authority = dup_or_null(ap->authority_host);
        if (e->tenant == NULL || e->client_id == NULL || e->scope == NULL ||
            (ap->authority_host != NULL && e->authority == NULL)) {
            centry_free(e);
            return NULL;
        }
        pthread_cond_init(&e->cv, NULL);
        e->next = a->cache;
        a->cache = e;
    }
    /* the latest caller's transport settings are used for refreshes; a
     * fetch running now has its own copy (fetch) */
    free(e->ca_file);
    e->ca_file = dup_or_null(p->ca_file);
    e->timeout = p->timeout;
    e->max_wait = p->max_wait;
    e->alg = ap->alg;
    return e;
}

static void
entry_params(const struct centry *e, struct ek_access_token_params *p)
{
    memset(p, 0, sizeof *p);
    p->assertion.tenant = e->tenant;
    p->assertion.client_id = e->client_id;
    p->assertion.cloud = (enum ek_cloud)e->cloud;
    p->assertion.authority_host = e->authority;
    p->assertion.alg = e->alg;
    p->scope = e->scope;
    p->ca_file = e->ca_file;
    p->timeout = e->timeout;
    p->max_wait = e->max_wait;
}

/* One fetch for entry e (e->inflight set by the caller, a->mu not held):
 * sign under the key's lock, post outside it, then store the result. */
static void
fetch(struct agent *a, struct centry *e, const struct caller *who)
{
    struct ek_access_token_params p;
    struct ek_secret *jwt = NULL;
    struct ek_access_token *at = NULL;
    struct ek_ctx *x = NULL;
    char msg[512] = "", jti[64] = "";
    char *val = NULL, *type = NULL, *ca_file = NULL;
    int64_t exp_on = 0, exp_in = 0;
    ek_err r;

    pthread_mutex_lock(&a->mu);
    /* the key fields of an entry never change and entries are freed only
     * at exit; ca_file is replaced by later callers: copied */
    entry_params(e, &p);
    if (e->ca_file != NULL && (ca_file = strdup(e->ca_file)) == NULL) {
        pthread_mutex_unlock(&a->mu);
        r = EK_ERR_INTERNAL;
        snprintf(msg, sizeof msg, "out of memory");
        goto done;
    }
    p.ca_file = ca_file;
    pthread_mutex_unlock(&a->mu);
    r = sign_for(a, e->key, &p, who, &jwt, jti, msg, sizeof msg);
    if (r == EK_OK) {
        if (ek_ctx_new(&x) != EK_OK) {
            r = EK_ERR_INTERNAL;
            snprintf(msg, sizeof msg, "out of memory");
        } else {
            ek_ctx_set_log(x, cli_log_to_stderr, NULL,
                           a->verbose ? EK_LOG_TRACE : EK_LOG_WARN);
            r = ek_access_token_exchange(x, &p, jwt, &at);
            if (r != EK_OK)
                copy_err(x, msg, sizeof msg);
        }
    }
    ek_secret_free(&jwt);
    if (r == EK_OK) {
        exp_on = ek_access_token_expires_on(at);
        exp_in = ek_access_token_expires_in(at);
        if ((val = strdup(ek_access_token_value(at))) == NULL ||
            (type = strdup(ek_access_token_type(at))) == NULL) {
            r = EK_ERR_INTERNAL;
            snprintf(msg, sizeof msg, "out of memory");
        }
    }
    /* the jti of the assertion spent, and the server's ids (success or
     * failure) to join Entra's sign-in logs */
    agent_audit_event(
        a->audit, "token", r == EK_OK ? "ok" : ek_strerror(r), who, "key",
        a->keys[e->key].uri, "tenant", p.assertion.tenant, "client_id",
        p.assertion.client_id, "scope", p.scope, "jti", jti, "correlation_id",
        x != NULL ? ek_ctx_correlation_id(x) : NULL, "request_id",
        x != NULL ? ek_ctx_request_id(x) : NULL, (const char *)NULL);
    ek_access_token_free(&at);
    ek_ctx_free(&x);
done:
    free(ca_file);
    pthread_mutex_lock(&a->mu);
    if (r == EK_OK && !a->locked) {
        if (e->token != NULL) {
            explicit_bzero(e->token, strlen(e->token));
            free(e->token);
        }
        free(e->type);
        e->token = val;
        e->type = type;
        val = type = NULL;
        e->expires_on = exp_on;
        e->lifetime = exp_in;
        e->last_err = EK_OK;
        e->hold_until = 0;
    } else if (r != EK_OK) {
        /* a failed refresh never replaces a still-valid token */
        e->last_err = r;
        snprintf(e->last_msg, sizeof e->last_msg, "%s", msg);
        e->hold_until =
            time(NULL) +
            (r == EK_ERR_THROTTLED ? AGENT_HOLD_THROTTLED : AGENT_HOLD_FAILED);
        agent_log(a, "token for %s / %s failed: %s", e->client_id, e->scope,
                  msg);
    }
    e->inflight = 0;
    e->gen++;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&a->mu);
    if (val != NULL) {
        explicit_bzero(val, strlen(val));
        free(val);
    }
    free(type);
}

void
agent_tok_clear(struct agent_tok *t)
{
    if (t->value != NULL) {
        explicit_bzero(t->value, strlen(t->value));
        free(t->value);
    }
    free(t->type);
    free(t->scope);
    memset(t, 0, sizeof *t);
}

ek_err
agent_token(struct agent *a, size_t key, const struct ek_access_token_params *p,
            unsigned min_lifetime, const struct caller *who,
            struct agent_tok *out, char *msg, size_t msgsz)
{
    struct centry *e;
    const char *scope = p->scope;
    unsigned long gen;
    int fetched = 0;
    time_t now;
    ek_err r = EK_ERR_INTERNAL;

    memset(out, 0, sizeof *out);
    if (scope == NULL &&
        (scope = ek_cloud_scope(p->assertion.cloud, p->resource)) == NULL) {
        snprintf(msg, msgsz, "no scope given");
        return EK_ERR_USAGE;
    }
    if (min_lifetime == 0)
        min_lifetime = a->min_lifetime;
    pthread_mutex_lock(&a->mu);
    if (a->locked) {
        pthread_mutex_unlock(&a->mu);
        snprintf(msg, msgsz,
                 "the agent is locked; unlock it (POST "
                 "/v1/unlock) or restart it");
        return EK_ERR_PIN_REQUIRED;
    }
    if ((e = cache_entry(a, key, p, scope)) == NULL) {
        pthread_mutex_unlock(&a->mu);
        snprintf(msg, msgsz, "out of memory");
        return EK_ERR_INTERNAL;
    }
    for (;;) {
        now = time(NULL);
        if (e->token != NULL && e->expires_on - now >= (int64_t)min_lifetime) {
            if ((out->value = strdup(e->token)) == NULL ||
                (out->type = strdup(e->type)) == NULL ||
                (out->scope = strdup(e->scope)) == NULL) {
                agent_tok_clear(out);
                snprintf(msg, msgsz, "out of memory");
                r = EK_ERR_INTERNAL;
                break;
            }
            out->expires_on = e->expires_on;
            out->lifetime = e->lifetime;
            out->cached = !fetched;
            r = EK_OK;
            break;
        }
        if (e->token != NULL && e->lifetime < (int64_t)min_lifetime) {
            /* no new token would do: the endpoint issues shorter ones (and
             * asking it again for each such request would only load it) */
            snprintf(msg, msgsz,
                     "min_lifetime %u s is more than a token from this "
                     "endpoint lives (%lld s): ask for at most %lld s",
                     min_lifetime, (long long)e->lifetime,
                     (long long)e->lifetime);
            r = EK_ERR_USAGE;
            break;
        }
        if (e->inflight) {
            /* single flight: wait for the one fetch, then take its result */
            gen = e->gen;
            while (e->inflight && e->gen == gen)
                pthread_cond_wait(&e->cv, &a->mu);
            fetched = 1;
            if (e->last_err != EK_OK &&
                !(e->token != NULL &&
                  e->expires_on - time(NULL) >= (int64_t)min_lifetime)) {
                r = e->last_err;
                snprintf(msg, msgsz, "%s", e->last_msg);
                break;
            }
            continue;
        }
        if (fetched || (e->hold_until > now && e->last_err != EK_OK)) {
            /* this caller's fetch failed, or one failed a moment ago
             * (Retry-After and back-off hold for every caller) */
            r = e->last_err != EK_OK ? e->last_err : EK_ERR_INTERNAL;
            snprintf(msg, msgsz, "%s", e->last_msg);
            break;
        }
        e->inflight = 1;
        pthread_mutex_unlock(&a->mu);
        fetch(a, e, who);
        pthread_mutex_lock(&a->mu);
        fetched = 1;
    }
    pthread_mutex_unlock(&a->mu);
    return r;
}

/* When a token is refreshed ahead: min_lifetime + a minute before expiry,
 * or at half-life for tokens that live longer than two hours. */
static int
due(const struct agent *a, const struct centry *e, time_t now)
{
    int64_t ahead = (int64_t)a->min_lifetime + 60;

    if (e->lifetime > 7200)
        ahead = e->lifetime / 2;
    return e->token != NULL && !e->inflight && e->expires_on - now <= ahead &&
           (e->hold_until <= now || e->last_err == EK_OK);
}

void *
agent_refresher(void *arg)
{
    struct agent *a = arg;
    struct centry *e;
    struct timespec ts;

    pthread_mutex_lock(&a->mu);
    while (!a->stopping) {
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&a->refresh_cv, &a->mu, &ts);
        if (a->stopping || a->locked)
            continue;
        for (e = a->cache; e != NULL; e = e->next) {
            if (!due(a, e, time(NULL)))
                continue;
            e->inflight = 1;
            pthread_mutex_unlock(&a->mu);
            fetch(a, e, NULL);
            pthread_mutex_lock(&a->mu);
            break; /* the list may have grown: start over next second */
        }
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}
