/* entra.c: the token request: an assertion for the checked endpoint,
 * exchanged at the token endpoint with the retries Entra ID asks for
 * (ek_access_token_acquire). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "entra.h"
#include "http.h"
#include "jose.h"
#include "text.h"

static void
pause_seconds(long s)
{
    struct timespec ts = {s, 0}, rem;

    while (nanosleep(&ts, &rem) != 0 && errno == EINTR)
        ts = rem;
}

/* The server's Date against the local clock: ctx->clock_skew; 1 when the
 * answer had a Date. Said once, after the exchange (say_clock), not per
 * answer. */
static int
note_clock(struct ek_ctx *ctx, const struct http_response *resp)
{
    time_t server, now = time(NULL);

    if (resp->date[0] == '\0' || http_parse_date(resp->date, &server))
        return 0;
    ctx->clock_skew = (int64_t)server - (int64_t)now;
    return 1;
}

/* One warning for a skew worth one, unless the error sentence already
 * names it (AADSTS700024, the assertion outside its time window). */
static void
say_clock(struct ek_ctx *ctx, int dated, const char *host)
{
    int64_t skew = ctx->clock_skew;

    if (dated && (skew > ENTRA_SKEW_WARN || skew < -ENTRA_SKEW_WARN) &&
        !ctx->clock_skew_said)
        ek_log(ctx, EK_LOG_WARN,
               "this machine's clock is %lld s %s %s's "
               "(HTTP Date); Entra ID may refuse assertions "
               "(AADSTS700024): set the clock right (NTP)",
               (long long)(skew > 0 ? skew : -skew),
               skew > 0 ? "behind" : "ahead of", host);
}

ek_err
entra_exchange(struct ek_ctx *ctx, const struct entra_exchange *x,
               struct ek_access_token **tokp)
{
    struct ek_secret *form = NULL;
    struct http_request req;
    struct http_response resp;
    char host[256] = "?";
    char ra[64] = "none"; /* Retry-After, quoted: server text */
    char prev[EK_ERRMSG_MAX];
    char crid[JOSE_UUID_LEN + 1];
    unsigned max_wait = x->max_wait != 0 ? x->max_wait : ENTRA_DEFAULT_MAX_WAIT;
    struct entra_early *first = x->first;
    int transient_retried = 0, throttled = 0, has_ra, dated = 0;
    long wait = 0, waited = 0;
    ek_err r = EK_ERR_INTERNAL;

    *tokp = NULL;
    memset(&resp, 0, sizeof resp);
    ctx->clock_skew_said = 0;
    ctx->correlation_id[0] = ctx->request_id[0] = '\0';
    (void)http_url_host(x->url, host, sizeof host);
    /* one correlation id for the request and its retries, as MSAL sends
     * it: Entra's sign-in logs show it, and audit trails join on it */
    if (x->first != NULL)
        snprintf(crid, sizeof crid, "%s", entra_early_crid(x->first));
    else if ((r = jose_uuid_v4(ctx, crid)) != EK_OK)
        goto out;
    if ((r = entra_build_form(ctx, x->client_id, x->scope,
                              ek_secret_data(x->assertion), &form)) != EK_OK)
        goto out;
    entra_request_init(&req, x->url, x->ca_file, x->timeout, crid);
    req.form = form;
    ek_log(ctx, EK_LOG_INFO,
           "token request to %s for scope %s (correlation id %s)", x->url,
           x->scope, crid);
    for (;;) {
        http_response_clear(&resp);
        snprintf(ctx->correlation_id, sizeof ctx->correlation_id, "%s", crid);
        if (first != NULL) {
            r = entra_early_result(ctx, first, &resp);
            first = NULL;
        } else {
            r = http_post_form(ctx, &req, &resp);
        }
        (void)text_id_copy(ctx->correlation_id, sizeof ctx->correlation_id,
                           resp.client_request_id);
        if (!text_id_copy(ctx->request_id, sizeof ctx->request_id,
                          resp.ms_request_id))
            ctx->request_id[0] = '\0';
        if (r != EK_OK) {
            if (!resp.retryable)
                goto out;
            if (transient_retried) {
                snprintf(prev, sizeof prev, "%s", ek_ctx_errmsg(ctx));
                r = ek_seterr(ctx, r, "after 2 tries: %s", prev);
                goto out;
            }
            /* one more try: a dropped connection or a lost answer */
            transient_retried = 1;
            ek_log(ctx, EK_LOG_WARN, "%s: %s; trying once more in 1 s", host,
                   resp.reason);
            pause_seconds(1);
            continue;
        }
        dated |= note_clock(ctx, &resp);
        has_ra =
            resp.retry_after[0] != '\0' &&
            http_parse_retry_after(resp.retry_after, time(NULL), &wait) == 0;
        text_quote(ra, sizeof ra, has_ra ? resp.retry_after : "none");
        if (resp.status == 429 || (resp.status == 503 && has_ra)) {
            if (!has_ra)
                wait = ENTRA_DEFAULT_429_WAIT;
            if (wait > (long)max_wait) {
                r = ek_seterr(ctx, EK_ERR_THROTTLED,
                              "%s is throttling "
                              "(HTTP %ld) and asks to wait %ld s "
                              "(Retry-After: %s), more than the %u s it may "
                              "wait; try again later or allow a longer wait",
                              host, resp.status, wait, ra, max_wait);
                goto out;
            }
            if (throttled == ENTRA_THROTTLE_RETRIES) {
                r = ek_seterr(ctx, EK_ERR_THROTTLED,
                              "%s is still throttling "
                              "(HTTP %ld) after %d retries and %ld s of "
                              "waiting; try again later",
                              host, resp.status, ENTRA_THROTTLE_RETRIES,
                              waited);
                goto out;
            }
            throttled++;
            ek_log(ctx, EK_LOG_WARN,
                   "%s answered HTTP %ld; waiting %ld s as "
                   "it asks (Retry-After: %s), then retry %d of %d",
                   host, resp.status, wait, ra, throttled,
                   ENTRA_THROTTLE_RETRIES);
            pause_seconds(wait);
            waited += wait;
            continue;
        }
        /* one more try, whole: a 5xx without Retry-After, or a 408 (the
         * server stopped waiting for a request sent while the token signed
         * and a signature that took long: a touch), sent again at once */
        if (!transient_retried &&
            (resp.status == 408 || (resp.status >= 500 && !has_ra))) {
            transient_retried = 1;
            if (resp.status == 408) {
                ek_log(ctx, EK_LOG_WARN,
                       "%s answered HTTP 408 (it stopped waiting for the "
                       "request); sending it again",
                       host);
            } else {
                ek_log(ctx, EK_LOG_WARN,
                       "%s answered HTTP %ld; trying once more "
                       "in 1 s",
                       host, resp.status);
                pause_seconds(1);
            }
            continue;
        }
        break;
    }
    if (resp.status >= 500) {
        r = entra_server_failure(ctx, x->url, resp.status, resp.content_type,
                                 ek_secret_data(resp.body),
                                 ek_secret_len(resp.body),
                                 transient_retried ? 2 : 1);
        goto out;
    }
    r = entra_parse_response(ctx, resp.status, resp.content_type,
                             ek_secret_data(resp.body),
                             ek_secret_len(resp.body), tokp);
    if (r != EK_OK)
        goto out;
    if (((*tokp)->scope = ek_strdup(ctx, x->scope)) == NULL) {
        ek_access_token_free(tokp);
        r = EK_ERR_INTERNAL;
        goto out;
    }
    ek_log(ctx, EK_LOG_INFO, "got a %s token from %s, valid %lld s",
           (*tokp)->type, host, (long long)(*tokp)->expires_in);
    r = EK_OK;
out:
    say_clock(ctx, dated, host);
    http_response_clear(&resp);
    ek_secret_free(&form);
    ek_wipe(prev, sizeof prev);
    return r;
}

/* The scope a request asks for: its own, else its resource's in its
 * cloud. */
static ek_err
request_scope(struct ek_ctx *ctx, const struct ek_access_token_params *params,
              const char **scopep)
{
    const struct ek_assertion_params *ap = &params->assertion;
    const char *scope = params->scope;

    if (scope == NULL || scope[0] == '\0') {
        if (entra_resource_name(params->resource) == NULL)
            return ek_seterr(ctx, EK_ERR_USAGE, "unknown resource %d",
                             (int)params->resource);
        if ((scope = ek_cloud_scope(ap->cloud, params->resource)) == NULL)
            return ek_seterr(ctx, EK_ERR_USAGE,
                             "no known %s scope in the %s "
                             "cloud; give the scope (URI/.default) itself",
                             entra_resource_name(params->resource),
                             entra_cloud_name(ap->cloud));
    }
    *scopep = scope;
    return EK_OK;
}

static ek_err
request_post(struct ek_ctx *ctx, const struct entra_endpoint *ep,
             const struct ek_access_token_params *params, const char *scope,
             const struct ek_secret *jwt, struct entra_early *first,
             struct ek_access_token **tokp)
{
    struct entra_exchange x;

    memset(&x, 0, sizeof x);
    x.first = first;
    x.url = ep->token_url;
    x.client_id = ep->client_id;
    x.scope = scope;
    x.assertion = jwt;
    x.ca_file = params->ca_file;
    x.timeout = params->timeout;
    x.max_wait = params->max_wait;
    return entra_exchange(ctx, &x, tokp);
}

ek_err
ek_access_token_acquire(struct ek_ctx *ctx, struct ek_key *k,
                        const struct ek_access_token_params *params,
                        struct ek_access_token **tokp)
{
    const struct ek_assertion_params *ap;
    struct entra_endpoint ep;
    struct ek_secret *jwt = NULL;
    struct entra_early *early = NULL;
    struct assertion_tap tap;
    const char *scope = NULL;
    ek_err r = EK_ERR_USAGE;

    if (tokp == NULL)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "ek_access_token_acquire: no "
                         "place for the token");
    *tokp = NULL;
    if (ctx == NULL || k == NULL || params == NULL)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "ek_access_token_acquire: a "
                         "context, a key and parameters are required");
    ap = &params->assertion;
    /* checked once: the URL posted to is the assertion's aud */
    if ((r = entra_endpoint_init(ctx, &ep, ap->tenant, ap->client_id, ap->cloud,
                                 ap->authority_host)) != EK_OK)
        goto out;
    if ((r = request_scope(ctx, params, &scope)) != EK_OK)
        goto out;
    if ((r = entra_early_start(ctx, k, &ep, params, scope, &early)) != EK_OK)
        goto out;
    if (early != NULL) {
        tap.before_sign = entra_early_before_sign;
        tap.arg = early;
    }
    r = assertion_sign_endpoint(ctx, k, &ep, ap, early != NULL ? &tap : NULL,
                                &jwt);
    if (early != NULL) {
        entra_early_after_sign(early, r == EK_OK ? jwt : NULL);
        if (!entra_early_going(early))
            entra_early_free(&early); /* stopped: nothing whole was sent */
    }
    if (r != EK_OK)
        goto out;
    r = request_post(ctx, &ep, params, scope, jwt, early, tokp);
out:
    entra_early_free(&early);
    ek_secret_free(&jwt);
    return r;
}

ek_err
ek_access_token_exchange(struct ek_ctx *ctx,
                         const struct ek_access_token_params *params,
                         const struct ek_secret *assertion,
                         struct ek_access_token **tokp)
{
    const struct ek_assertion_params *ap;
    struct entra_endpoint ep;
    const char *scope = NULL;
    ek_err r = EK_ERR_USAGE;

    if (tokp == NULL)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "ek_access_token_exchange: no "
                         "place for the token");
    *tokp = NULL;
    if (ctx == NULL || params == NULL || assertion == NULL)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "ek_access_token_exchange: a "
                         "context, parameters and an assertion are "
                         "required");
    ap = &params->assertion;
    /* the same rules as the signature: the URL is the assertion's aud */
    if ((r = entra_endpoint_init(ctx, &ep, ap->tenant, ap->client_id, ap->cloud,
                                 ap->authority_host)) != EK_OK)
        return r;
    if ((r = request_scope(ctx, params, &scope)) != EK_OK)
        return r;
    return request_post(ctx, &ep, params, scope, assertion, NULL, tokp);
}
