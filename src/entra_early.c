/* entra_early.c: a token request sent while the token signs its
 * assertion (ek_access_token_acquire's, when no one is asked for
 * anything). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entra.h"
#include "http.h"
#include "jose.h"

/* When the signing input is known (just before the token is asked, so
 * before the login), so is the form up to the signature and its whole
 * length (an RSA signature is as long as the modulus): libcurl is loaded,
 * and a thread connects, does the TLS handshake and sends all but the
 * signature, which follows when the token has made it. What it hides is
 * the connection's round trips behind the token's login and signature:
 * with a card that signs in 100 ms and 20 ms to the endpoint, 25 ms of
 * 176 (docs/performance.md). On loopback, with the endpoint on the same
 * two CPUs, it hides nothing: there every part waits for a CPU.
 *
 * Only when no one is asked for anything (tok_key_sign_unattended): a PIN
 * prompt or a pinpad comes before any connection. A signature that fails
 * stops the transfer before the body is whole, so the server never has a
 * request. The caller's log callback is called under a lock while the
 * thread runs (never two at once); the thread has its own copy of the
 * context for its error sentence. ENTRAKEY_EARLY_POST=0 turns it off. */
struct entra_early {
    pthread_t th;
    struct ek_ctx *ctx; /* the caller's; its log callback locked */
    struct ek_ctx tctx; /* the thread's copy */
    ek_log_fn *log_fn;  /* the caller's callback, put back at the end */
    void *log_arg;
    pthread_mutex_t log_mu;
    struct http_late late;
    struct http_request req;
    struct http_response resp;
    struct ek_secret *form; /* the whole form in the end; never moves */
    const char *client_id, *scope;
    size_t sig_at;    /* where in form the signature goes */
    size_t sig_len;   /* its base64url length */
    size_t input_len; /* the signing input's length */
    ek_err r;
    int begun;  /* the body has begun: the request is under way */
    int done;   /* the body is whole */
    int joined; /* the thread is over (early_join) */
    char crid[JOSE_UUID_LEN + 1];
};

static void
early_log(void *arg, enum ek_log_level level, const char *msg)
{
    struct entra_early *e = arg;

    pthread_mutex_lock(&e->log_mu);
    e->log_fn(e->log_arg, level, msg);
    pthread_mutex_unlock(&e->log_mu);
}

static void *
early_run(void *arg)
{
    struct entra_early *e = arg;

    e->r = http_post_form(&e->tctx, &e->req, &e->resp);
    return NULL;
}

static int
early_wanted(struct ek_key *k)
{
    const char *v = getenv("ENTRAKEY_EARLY_POST");

    if (v != NULL && strcmp(v, "0") == 0)
        return 0;
    return tok_key_sign_unattended(k);
}

/* Its state, or *ep NULL (then the request goes after the signature, as
 * it always may). The thread starts in entra_early_before_sign. */
ek_err
entra_early_start(struct ek_ctx *ctx, struct ek_key *k,
                  const struct entra_endpoint *ep,
                  const struct ek_access_token_params *params,
                  const char *scope, struct entra_early **ep_out)
{
    struct entra_early *e;
    ek_err r;

    *ep_out = NULL;
    if (!early_wanted(k))
        return EK_OK;
    if ((e = ek_calloc(ctx, 1, sizeof *e)) == NULL)
        return EK_ERR_INTERNAL;
    if ((r = jose_uuid_v4(ctx, e->crid)) != EK_OK) {
        free(e);
        return r;
    }
    e->ctx = ctx;
    e->client_id = ep->client_id;
    e->scope = scope;
    entra_request_init(&e->req, ep->token_url, params->ca_file, params->timeout,
                       e->crid);
    e->req.late = &e->late;
    http_late_init(&e->late);
    pthread_mutex_init(&e->log_mu, NULL);
    *ep_out = e;
    return EK_OK;
}

/* assertion_tap: the form up to the signature, and the request begins. */
void
entra_early_before_sign(void *arg, const unsigned char *input, size_t len,
                        size_t siglen)
{
    struct entra_early *e = arg;
    char *a = NULL; /* header.claims and the dot: no secret, wiped all
                       the same, as every part of an assertion is */
    size_t total;

    if (e->begun || siglen == 0 || siglen > JOSE_SIG_MAX ||
        (a = malloc(len + 2)) == NULL)
        goto fail;
    memcpy(a, input, len);
    a[len] = '.';
    a[len + 1] = '\0';
    e->sig_len = jose_b64url_len(siglen);
    e->input_len = len;
    /* no context: a failure here only means no early request */
    if (entra_build_form_room(NULL, e->client_id, e->scope, a, e->sig_len + 1,
                              &e->form) != EK_OK)
        goto fail;
    e->sig_at = e->form->len;
    total = e->form->len + e->sig_len;
    if (total > e->form->cap)
        goto fail;
    ek_wipe(a, len + 2);
    free(a);
    a = NULL;
    http_late_begin(&e->late, e->form->buf, total, e->form->len);
    /* libcurl is loaded here, before the thread: two dlopen()s at once
     * wait for each other, and their page faults contend */
    http_preload();
    e->log_fn = e->ctx->log_fn;
    e->log_arg = e->ctx->log_arg;
    if (e->log_fn != NULL) {
        e->ctx->log_fn = early_log;
        e->ctx->log_arg = e;
    }
    e->tctx = *e->ctx; /* errors of its own; the same (locked) log */
    if (pthread_create(&e->th, NULL, early_run, e) != 0) {
        e->ctx->log_fn = e->log_fn;
        e->ctx->log_arg = e->log_arg;
        goto fail; /* the request goes after the signature */
    }
    e->begun = 1;
    ek_log(e->ctx, EK_LOG_TRACE,
           "the token request goes out while the token signs "
           "(ENTRAKEY_EARLY_POST=0: after it)");
    return;
fail:
    if (a != NULL)
        ek_wipe(a, len + 2);
    free(a);
    http_late_fail(&e->late);
}

/* After the signature: its end of the body, or (no JWT, or not the one
 * begun) the transfer stopped. */
void
entra_early_after_sign(struct entra_early *e, const struct ek_secret *jwt)
{
    const char *j = ek_secret_data(jwt);
    size_t n = ek_secret_len(jwt);

    if (e->begun && j != NULL && n == e->input_len + 1 + e->sig_len &&
        memcmp(j, e->form->buf + e->sig_at - e->input_len - 1,
               e->input_len + 1) == 0 &&
        ek_secret_append(NULL, e->form, j + e->input_len + 1, e->sig_len) ==
            EK_OK) {
        e->done = 1;
        http_late_done(&e->late);
        return;
    }
    http_late_fail(&e->late);
}

int
entra_early_going(const struct entra_early *e)
{
    return e != NULL && e->done;
}

const char *
entra_early_crid(const struct entra_early *e)
{
    return e->crid;
}

/* Waits for the thread, if it started; once. */
static void
early_join(struct entra_early *e)
{
    if (!e->begun || e->joined)
        return;
    if (!e->done)
        http_late_fail(&e->late);
    pthread_join(e->th, NULL);
    e->joined = 1;
    e->ctx->log_fn = e->log_fn;
    e->ctx->log_arg = e->log_arg;
}

/* The first attempt's result, as http_post_form gives it. */
ek_err
entra_early_result(struct ek_ctx *ctx, struct entra_early *e,
                   struct http_response *resp)
{
    early_join(e);
    *resp = e->resp;
    memset(&e->resp, 0, sizeof e->resp);
    if (e->r != EK_OK)
        return ek_seterr(ctx, e->r, "%s", ek_ctx_errmsg(&e->tctx));
    return EK_OK;
}

void
entra_early_free(struct entra_early **ep)
{
    struct entra_early *e = *ep;

    if (e == NULL)
        return;
    early_join(e);
    http_response_clear(&e->resp);
    ek_secret_free(&e->form);
    ek_wipe(&e->tctx, sizeof e->tctx);
    http_late_destroy(&e->late);
    pthread_mutex_destroy(&e->log_mu);
    free(e);
    *ep = NULL;
}
