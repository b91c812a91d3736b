/* agent.h: what the files of `entrakey agent` share: the held keys, the
 * kept PIN, the token cache, the HTTP server and the audit trail. */
#ifndef EK_AGENT_H
#define EK_AGENT_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "../cli/cli.h"
#include "../cli/cli_audit.h"

#define AGENT_BODY_MAX 16384   /* request bodies; larger: closed */
#define AGENT_MIN_LIFETIME 300 /* served while this many seconds left */
#define AGENT_CONN_TIMEOUT 10  /* idle seconds before a connection ends */
#define AGENT_CONN_LIMIT 256
#define AGENT_MAX_ALLOW 16
#define AGENT_HOLD_FAILED 10    /* seconds before a failed refresh again */
#define AGENT_HOLD_THROTTLED 60 /* after 429/503 beyond --max-wait */

enum akey_state { AKEY_READY, AKEY_GONE, AKEY_LOCKED };

struct sign_job;

/* A key the agent serves: its own context and session; mu is the session
 * lock (never an HTTPS exchange under it). Signatures are made in order
 * by the key's signing thread, from the queue under qmu: one thread
 * signing back to back keeps the session busy, where waiters taking
 * turns on mu would leave it idle at each hand-over. */
struct akey {
    char *uri;    /* as given (what clients name) */
    char *module; /* profile's module, or NULL */
    struct ek_ctx *ctx;
    struct ek_key *key;
    pthread_mutex_t mu;
    enum akey_state state;
    const char *locked_why; /* AKEY_LOCKED: why, and what to do (a
                               sentence's end, static text) */
    char serial[20], model[20], label[40];
    char canon[512]; /* ek_key_uri of the opened key */
    unsigned long signatures, logins;
    int removable; /* its token can be pulled (CKF_REMOVABLE_DEVICE) */
    struct agent *a;
    pthread_mutex_t qmu;
    pthread_cond_t qcv; /* a job queued, or stop */
    struct sign_job *qhead, *qtail;
    pthread_t signer;
    int signer_on, signer_stop;
};

/* A cached access token for (key, tenant, client, scope, authority). */
struct centry {
    struct centry *next;
    size_t key;
    char *tenant, *client_id, *scope, *authority, *ca_file;
    int cloud;
    enum ek_alg alg;
    unsigned timeout, max_wait;
    char *token; /* malloc'd, wiped when replaced or freed */
    char *type;
    int64_t expires_on, lifetime;
    int inflight;
    unsigned long gen; /* bumped at the end of each fetch */
    ek_err last_err;
    char last_msg[512];
    time_t hold_until; /* no new attempt before (after a failure) */
    pthread_cond_t cv;
};

struct agent {
    struct cli *cli;
    struct akey *keys;
    size_t nkeys;
    const char *pin_source; /* re-read by unlock when readable again */
    int pin_first;          /* pin_source is --pin-source or a profile's:
                               before the URI's (EK_FLAG_PIN_PROMPT_FIRST) */
    int pin_read;           /* the source was read once */
    char *pin;              /* locked page: mlock + MADV_DONTDUMP */
    size_t pin_len, pin_cap;
    int pin_kept, prompt_ok;
    int locked; /* lock: no PIN, no session, no cache */
    unsigned min_lifetime;
    uid_t allow[AGENT_MAX_ALLOW];
    size_t nallow;
    pthread_mutex_t mu; /* the cache, the lock state, the PIN */
    struct centry *cache;
    pthread_cond_t refresh_cv;
    int stopping;
    struct cli_audit *audit;
    unsigned long requests, refused;
    int verbose;
    int quiet; /* exec's endpoint: agent_log only at -v */
};

/* Who is asking: from SO_PEERCRED. */
struct caller {
    pid_t pid;
    uid_t uid;
    gid_t gid;
    char exe[256];
};

/* agent_core.c */
/* A key's locks and queue (k->uri set by the caller), and their end: the
 * signing thread is stopped once nothing can ask it any more. */
void agent_key_init(struct agent *a, struct akey *k);
void agent_key_fini(struct akey *k);
int agent_pin_init(struct agent *a);
void agent_pin_wipe(struct agent *a);
/* After logins: the PIN is kept only while a held key's token can lose
 * its login (removable); otherwise it is wiped now. */
void agent_pin_settle(struct agent *a);
ek_err agent_keys_open(struct agent *a, char *msg, size_t msgsz);
void agent_keys_close(struct agent *a);
void agent_lock(struct agent *a);
ek_err agent_unlock(struct agent *a, char *msg, size_t msgsz);
ek_err agent_reload(struct agent *a, char *msg, size_t msgsz);
ssize_t agent_find_key(struct agent *a, const char *uri);
/* Serves a token: p as the client gave it; *tokp a copy the caller wipes
 * and frees. */
struct agent_tok {
    char *value;
    char *type;
    char *scope;
    int64_t expires_on;
    int64_t lifetime; /* expires_in when it was issued */
    int cached;
};
ek_err agent_token(struct agent *a, size_t key,
                   const struct ek_access_token_params *p,
                   unsigned min_lifetime, const struct caller *who,
                   struct agent_tok *out, char *msg, size_t msgsz);
void agent_tok_clear(struct agent_tok *t);
ek_err agent_assertion(struct agent *a, size_t key,
                       const struct ek_access_token_params *p,
                       const struct caller *who, struct ek_secret **jwtp,
                       char *msg, size_t msgsz);
void *agent_refresher(void *arg);
void agent_cache_free(struct agent *a);
void agent_log(struct agent *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* agent_http.c: the server on the listening socket listen_fd (not
 * closed here); NULL with msg if it cannot start. agent_http_stop answers
 * what is in hand, stops and frees. */
struct agent_http;
struct agent_http *agent_http_start(struct agent *a, int listen_fd, char *msg,
                                    size_t msgsz);
void agent_http_stop(struct agent_http *h);

/* mhd_dl.c: opens libmicrohttpd (once; entrakey-full does not link it).
 * 0, or -1 with msg. */
int agent_mhd_load(char *msg, size_t msgsz);

/* agent_audit.c: one event per signature, token, login, removal, refusal
 * (cli_audit_event with the caller; the trail is opened and closed with
 * cli_audit_open / cli_audit_close). fields: name/value pairs ending with
 * a (const char *)NULL name. */
void agent_audit_event(struct cli_audit *au, const char *event,
                       const char *result, const struct caller *who, ...);

/* agent_mi.c: the managed-identity endpoint on 127.0.0.1 (App Service
 * protocol 2019-08-01 and 2017-09-01), served from the cache for one app
 * (tenant, client id) and key. */
#define AGENT_MI_MAX_ALLOW 16
struct agent_mi {
    struct agent *a;
    size_t key; /* index in a->keys */
    char *tenant, *client_id, *authority, *ca_file;
    enum ek_cloud cloud;
    enum ek_alg alg;
    unsigned timeout, max_wait;
    char *allow[AGENT_MI_MAX_ALLOW]; /* resources, no trailing '/' */
    size_t nallow;
    char header[65]; /* 256 random bits, hex */
    char endpoint[64];
    int fd;
    unsigned short port;
    struct mi_server *srv; /* agent_mi.c's own HTTP/1.1 server */
    char *file; /* the agent's managed-identity.env, removed at stop */
    unsigned long served, refused;
};
/* Makes the listening socket (listen_spec: "127.0.0.1:PORT", "PORT" or
 * NULL for a random port) and the header value. 0 or -1 with msg. */
int agent_mi_init(struct agent_mi *mi, const char *listen_spec, char *msg,
                  size_t msgsz);
int agent_mi_set_app(struct agent_mi *mi, const char *tenant,
                     const char *client_id, const char *authority,
                     const char *ca_file);
/* The allow-list: a resource URI or scope; a named resource (ARM: both of
 * its names); the defaults (Exchange Online, Graph, ARM). 0 or -1. */
int agent_mi_allow(struct agent_mi *mi, const char *resource_or_scope);
int agent_mi_allow_resource(struct agent_mi *mi, enum ek_resource r);
int agent_mi_allow_defaults(struct agent_mi *mi);
int agent_mi_start(struct agent *a, struct agent_mi *mi, char *msg,
                   size_t msgsz);
/* Writes the variables to managed-identity.env beside the socket sock
 * (0600), removed by agent_mi_stop. 0 or -1 with msg. */
int agent_mi_write_file(struct agent_mi *mi, const char *sock, char *msg,
                        size_t msgsz);
/* `agent --managed-identity`: the app of profile (its key is a->keys[key]),
 * the endpoint started and its file written beside sock (NULL: the
 * default socket's directory). 0 or -1 with msg. */
int agent_mi_serve(struct agent *a, struct agent_mi *mi, struct ek_config *cfg,
                   const char *profile, size_t key, const char *listen_spec,
                   const char *sock, char *msg, size_t msgsz);
/* Stops serving, removes the file, wipes the header, frees. */
void agent_mi_stop(struct agent_mi *mi);

#endif /* EK_AGENT_H */
