/* http.h: HTTPS POST of a form through libcurl: TLS always verified, time
 * and size caps, response headers captured, secrets redacted in traces. */
#ifndef EK_HTTP_H
#define EK_HTTP_H

#include <pthread.h>
#include <stddef.h>
#include <time.h>

#include "internal.h"

#define HTTP_BODY_MAX (64 * 1024) /* a token response is a few KiB */
#define HTTP_CONNECT_TIMEOUT 10   /* seconds */
#define HTTP_CA_MAX (8 * 1024 * 1024)

struct http_late;

struct http_request {
    const char *url;               /* https:// only */
    const struct ek_secret *form;  /* the body: application/x-www-form-
                                      urlencoded, or JSON when json is set;
                                      NULL with get or late */
    struct http_late *late;        /* instead of form: a form whose end
                                      comes while it is sent (below) */
    const char *ca_file;           /* PEM CAs added to the system bundle */
    unsigned timeout;              /* total seconds for the exchange (a
                                      late body's: from when it is whole) */
    const char *client_request_id; /* sent as client-request-id, or NULL */
    int get;                       /* a GET (no body) instead of a POST */
    int json;                      /* the body is application/json (never
                                      traced: it may hold a proof) */
    const char *bearer;            /* "Authorization: Bearer" token, or NULL;
                                      never traced, wiped from the headers */
};

/* A response body as libcurl reads it (CURLOPT_WRITEFUNCTION
 * http_sink_write, CURLOPT_WRITEDATA the sink): appended to body, which
 * must be at most max long; a longer one stops the transfer with too_big
 * set, a failed allocation with oom set. */
struct http_sink {
    struct ek_ctx *ctx; /* for the allocation's error; may be NULL */
    struct ek_secret *body;
    size_t max;
    int too_big;
    int oom;
};
size_t http_sink_write(char *data, size_t size, size_t nmemb, void *arg);

struct http_response {
    long status;            /* 0 when no answer came */
    char content_type[128]; /* "" when absent */
    char retry_after[128];
    char date[64];
    char client_request_id[128]; /* the server's echo, "" when absent */
    char ms_request_id[128];     /* x-ms-request-id, "" when absent */
    struct ek_secret *body;      /* may carry a token: a secret */
    int retryable;               /* a failed exchange worth one more try */
    char reason[128]; /* then, in short: "no answer within 5 s (…)" */
};

/* A form body whose end is written while the request is under way: a
 * token request sent while the token signs its assertion. buf will hold
 * len bytes, of which the first `ready` are there; http_post_form sends
 * them as they come (libcurl's read callback waits for the rest), with a
 * Content-Length of len. The writer never moves buf: it writes past
 * `ready` and then says so (http_late_done), or gives up (http_late_fail:
 * a transfer waiting for the rest stops, CURLE_ABORTED_BY_CALLBACK, and
 * the server never has a whole request). */
struct http_late {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const char *buf;
    size_t len;   /* 0 until http_late_begin */
    size_t ready; /* bytes of buf the reader may send */
    size_t pos;   /* bytes sent (the read callback's) */
    int failed;
    /* the request's time limit runs from when the body is whole, not
     * from the connection: a signature may take a touch's time */
    struct timespec whole_at; /* CLOCK_MONOTONIC, set by http_late_done */
    int whole;
    unsigned timeout; /* seconds, http_post_form's */
    int timed_out;
};
void http_late_init(struct http_late *l);
void http_late_destroy(struct http_late *l);
/* The body begins: len bytes in the end, the first `ready` of them in buf
 * now. */
void http_late_begin(struct http_late *l, const char *buf, size_t len,
                     size_t ready);
/* The whole body is in buf; the request's time limit starts. */
void http_late_done(struct http_late *l);
/* The rest will not come. */
void http_late_fail(struct http_late *l);

/* Loads and initialises libcurl if it is not yet (http_post_form does it
 * on its first use; the thread of an early token request does it while
 * the certificate is read). Safe from any thread. */
void http_preload(void);

/* POSTs req->form (or GETs, req->get) to req->url and fills resp (cleared
 * first; the caller clears it with http_response_clear). Any answer with a
 * status, whatever the status, is EK_OK. Errors: EK_ERR_USAGE (not an https://
 * URL), EK_ERR_NETWORK (resolve, connect, timeout, cut short, body over
 * HTTP_BODY_MAX; resp->retryable says whether a retry may help), EK_ERR_TLS,
 * EK_ERR_IO (ca_file). Initialises libcurl on first use. */
ek_err http_post_form(struct ek_ctx *ctx, const struct http_request *req,
                      struct http_response *resp);
void http_response_clear(struct http_response *resp);

/* Copies the form to out (NUL-terminated, truncated to outsz) with the
 * values of client_assertion, client_secret, assertion, access_token,
 * refresh_token and password replaced by "[redacted N bytes]". */
void http_redact_form(const char *form, size_t len, char *out, size_t outsz);

/* The CA bundle to trust: the system's bundle (sys_bundle; NULL: libcurl's
 * default) followed by the PEM certificates of ca_file, in one buffer the
 * caller frees. Errors: EK_ERR_IO (unreadable, or no PEM certificate in
 * ca_file). */
ek_err http_ca_bundle(struct ek_ctx *ctx, const char *sys_bundle,
                      const char *ca_file, unsigned char **bufp, size_t *lenp);

/* The proxy variable libcurl would use for an https:// URL
 * (https_proxy, HTTPS_PROXY, all_proxy, ALL_PROXY; set and not empty), or
 * NULL. */
const char *http_proxy_var(void);

/* http_dl.c: which libcurl the requests go through and why ("PATH
 * (entrakey's own, HTTPS only)", "the system's libcurl.so.4 (REASON)"),
 * loading it if it is not yet; NULL when none could be loaded. Not in a
 * build that links libcurl itself. */
const char *http_dl_which(void);
/* http_dl.c: a sentence on a setting of the choice it did not understand
 * (ENTRAKEY_LIBCURL), to its first caller in the process (a retry, or an
 * agent's next refresh, does not say it again); else NULL. Not in a build
 * that links libcurl. */
const char *http_dl_warning(void);

/* "host[:port]" of an https URL into out; -1 if the URL is not one. */
int http_url_host(const char *url, char *out, size_t outsz);

/* http_date.c */

/* An HTTP-date (IMF-fixdate, RFC 850 or asctime form, RFC 9110 5.6.7).
 * 0 ok, -1 not understood. */
int http_parse_date(const char *value, time_t *t);

/* Retry-After: delay-seconds or an HTTP-date (then relative to now, never
 * negative). 0 ok, -1 not understood. */
int http_parse_retry_after(const char *value, time_t now, long *seconds);

#endif /* EK_HTTP_H */
