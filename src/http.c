/* http.c: HTTPS POST via libcurl: verified TLS, caps, headers, redaction. */
#define _GNU_SOURCE /* memmem */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>

#include "http.h"
#include "text.h"

/* http_dl.c's: not in the `entrakey` client linked with a static libcurl
 * (EK_AGENT_CURL), which never posts here but keeps this code in a
 * sanitizer build, whose objects keep every section */
#pragma weak http_dl_which
#pragma weak http_dl_warning

static pthread_once_t http_once = PTHREAD_ONCE_INIT;
static CURLcode http_init_rc = CURLE_FAILED_INIT;

static void
http_global_init(void)
{
    http_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

void
http_preload(void)
{
    pthread_once(&http_once, http_global_init);
}

/* ------------------------------------------------------- a body that comes */

void
http_late_init(struct http_late *l)
{
    memset(l, 0, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
}

void
http_late_destroy(struct http_late *l)
{
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
}

void
http_late_begin(struct http_late *l, const char *buf, size_t len, size_t ready)
{
    pthread_mutex_lock(&l->mu);
    l->buf = buf;
    l->len = len;
    l->ready = ready < len ? ready : len;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

void
http_late_done(struct http_late *l)
{
    pthread_mutex_lock(&l->mu);
    l->ready = l->len;
    (void)clock_gettime(CLOCK_MONOTONIC, &l->whole_at);
    l->whole = 1;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

void
http_late_fail(struct http_late *l)
{
    pthread_mutex_lock(&l->mu);
    l->failed = 1;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

/* CURLOPT_XFERINFOFUNCTION of a late body: the time limit, from when the
 * body was whole (libcurl's own CURLOPT_TIMEOUT would count the wait for
 * the signature). */
static int
late_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
              curl_off_t ultotal, curl_off_t ulnow)
{
    struct http_late *l = arg;
    struct timespec now;
    int over = 0;

    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    pthread_mutex_lock(&l->mu);
    if (l->whole && clock_gettime(CLOCK_MONOTONIC, &now) == 0 &&
        (double)(now.tv_sec - l->whole_at.tv_sec) +
                (double)(now.tv_nsec - l->whole_at.tv_nsec) / 1e9 >=
            (double)l->timeout)
        over = l->timed_out = 1;
    pthread_mutex_unlock(&l->mu);
    return over;
}

/* CURLOPT_READFUNCTION over a late body: what is there, else a wait for
 * more; libcurl asks no further than len (the Content-Length it sent). */
static size_t
late_read(char *dst, size_t size, size_t nitems, void *arg)
{
    struct http_late *l = arg;
    size_t n = size * nitems;

    pthread_mutex_lock(&l->mu);
    while (l->pos == l->ready && l->pos < l->len && !l->failed)
        pthread_cond_wait(&l->cv, &l->mu);
    if (l->failed) {
        pthread_mutex_unlock(&l->mu);
        return CURL_READFUNC_ABORT;
    }
    if (n > l->ready - l->pos)
        n = l->ready - l->pos;
    memcpy(dst, l->buf + l->pos, n);
    l->pos += n;
    pthread_mutex_unlock(&l->mu);
    return n;
}

const char *
http_proxy_var(void)
{
    static const char *const vars[] = {"https_proxy", "HTTPS_PROXY",
                                       "all_proxy", "ALL_PROXY"};
    const char *v;
    size_t i;

    for (i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if ((v = getenv(vars[i])) != NULL && v[0] != '\0')
            return vars[i];
    return NULL;
}

/* Field names whose values never reach a log. */
static const char *const secret_fields[] = {
    "client_assertion", "client_secret", "assertion", "access_token",
    "refresh_token",    "password",      "code",
};

void
http_redact_form(const char *form, size_t len, char *out, size_t outsz)
{
    size_t i = 0, o = 0, name_len, val_len, k;
    const char *field, *eq, *amp;
    int secret;
    int n;

    if (outsz == 0)
        return;
    out[0] = '\0';
    while (i < len && o + 1 < outsz) {
        field = form + i;
        amp = memchr(field, '&', len - i);
        if (amp == NULL)
            amp = form + len;
        eq = memchr(field, '=', (size_t)(amp - field));
        name_len = (size_t)((eq != NULL ? eq : amp) - field);
        val_len = eq != NULL ? (size_t)(amp - eq - 1) : 0;
        secret = 0;
        for (k = 0; k < sizeof secret_fields / sizeof secret_fields[0]; k++)
            if (strlen(secret_fields[k]) == name_len &&
                memcmp(secret_fields[k], field, name_len) == 0)
                secret = 1;
        if (secret)
            n = snprintf(out + o, outsz - o, "%s%.*s=[redacted %zu bytes]",
                         i > 0 ? "&" : "", (int)name_len, field, val_len);
        else
            n = snprintf(out + o, outsz - o, "%s%.*s", i > 0 ? "&" : "",
                         (int)(amp - field), field);
        if (n < 0)
            break;
        o += (size_t)n;
        if (o >= outsz) {
            o = outsz - 1;
            break;
        }
        i = (size_t)(amp - form) + 1;
    }
    out[o] = '\0';
}

int
http_url_host(const char *url, char *out, size_t outsz)
{
    CURLU *u = NULL;
    char *scheme = NULL, *host = NULL, *port = NULL;
    int r = -1;

    if (outsz == 0 || (u = curl_url()) == NULL)
        return -1;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        strcasecmp(scheme, "https") != 0 ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        host[0] == '\0')
        goto out;
    if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK)
        snprintf(out, outsz, "%s:%s", host, port);
    else
        snprintf(out, outsz, "%s", host);
    r = 0;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return r;
}

/* Reads --ca-file and checks that it holds PEM certificates. */
static ek_err
ca_file_read(struct ek_ctx *ctx, const char *ca_file, unsigned char **datap,
             size_t *lenp)
{
    static const char pem_cert[] = "-----BEGIN CERTIFICATE-----";

    if (ek_file_read(ctx, ca_file, 1024 * 1024, datap, lenp) != EK_OK)
        return ek_seterr(ctx, EK_ERR_IO,
                         "the CA file: %s; give a PEM file of "
                         "the CA certificates to trust",
                         ek_ctx_errmsg(ctx));
    if (memmem(*datap, *lenp, pem_cert, sizeof pem_cert - 1) == NULL) {
        free(*datap);
        *datap = NULL;
        return ek_seterr(ctx, EK_ERR_IO,
                         "the CA file '%s' holds no PEM "
                         "certificate (no '%s' line); give the CA "
                         "certificate(s) in PEM form",
                         ca_file, pem_cert);
    }
    return EK_OK;
}

/* The system's CA directory (hashed names, as update-ca-certificates and
 * c_rehash make them) when libcurl was built with one and it exists; else
 * NULL. OpenSSL looks a directory up by the issuer's hash and reads one
 * file, where a bundle file is parsed whole at every handshake: about 140
 * certificates, 20 ms with OpenSSL 3, half of a cold `entrakey token`. */
static const char *
http_system_capath(void)
{
    curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
    struct stat st;

    if (vi == NULL || vi->capath == NULL || stat(vi->capath, &st) != 0 ||
        !S_ISDIR(st.st_mode))
        return NULL;
    return vi->capath;
}

ek_err
http_ca_bundle(struct ek_ctx *ctx, const char *sys_bundle, const char *ca_file,
               unsigned char **bufp, size_t *lenp)
{
    unsigned char *sys = NULL, *extra = NULL, *buf = NULL;
    size_t sys_len = 0, extra_len = 0;
    curl_version_info_data *vi;
    ek_err r = EK_ERR_IO;

    *bufp = NULL;
    *lenp = 0;
    if ((r = ca_file_read(ctx, ca_file, &extra, &extra_len)) != EK_OK)
        goto out;
    if (sys_bundle == NULL) {
        vi = curl_version_info(CURLVERSION_NOW);
        sys_bundle = vi != NULL ? vi->cainfo : NULL;
    }
    /* the system's CAs stay trusted: --ca-file adds to them */
    if (sys_bundle != NULL &&
        ek_file_read(ctx, sys_bundle, HTTP_CA_MAX, &sys, &sys_len) != EK_OK)
        ek_log(ctx, EK_LOG_INFO,
               "system CA bundle '%s' unreadable; "
               "trusting only the CA file '%s'",
               sys_bundle, ca_file);
    if ((buf = ek_calloc(ctx, 1, sys_len + extra_len + 2)) == NULL) {
        r = EK_ERR_INTERNAL;
        goto out;
    }
    if (sys_len > 0)
        memcpy(buf, sys, sys_len);
    buf[sys_len] = '\n';
    memcpy(buf + sys_len + 1, extra, extra_len);
    *bufp = buf;
    *lenp = sys_len + 1 + extra_len;
    buf = NULL;
    r = EK_OK;
out:
    free(sys);
    free(extra);
    free(buf);
    return r;
}

static const char *
curl_code_name(CURLcode c)
{
    switch (c) {
    case CURLE_COULDNT_RESOLVE_PROXY:
        return "CURLE_COULDNT_RESOLVE_PROXY";
    case CURLE_COULDNT_RESOLVE_HOST:
        return "CURLE_COULDNT_RESOLVE_HOST";
    case CURLE_COULDNT_CONNECT:
        return "CURLE_COULDNT_CONNECT";
    case CURLE_OPERATION_TIMEDOUT:
        return "CURLE_OPERATION_TIMEDOUT";
    case CURLE_PARTIAL_FILE:
        return "CURLE_PARTIAL_FILE";
    case CURLE_SEND_ERROR:
        return "CURLE_SEND_ERROR";
    case CURLE_RECV_ERROR:
        return "CURLE_RECV_ERROR";
    case CURLE_GOT_NOTHING:
        return "CURLE_GOT_NOTHING";
    case CURLE_WRITE_ERROR:
        return "CURLE_WRITE_ERROR";
    case CURLE_FILESIZE_EXCEEDED:
        return "CURLE_FILESIZE_EXCEEDED";
    case CURLE_PEER_FAILED_VERIFICATION:
        return "CURLE_PEER_FAILED_VERIFICATION";
    case CURLE_SSL_CONNECT_ERROR:
        return "CURLE_SSL_CONNECT_ERROR";
    case CURLE_SSL_CACERT_BADFILE:
        return "CURLE_SSL_CACERT_BADFILE";
    case CURLE_SSL_CERTPROBLEM:
        return "CURLE_SSL_CERTPROBLEM";
    case CURLE_SSL_CIPHER:
        return "CURLE_SSL_CIPHER";
    case CURLE_SSL_ISSUER_ERROR:
        return "CURLE_SSL_ISSUER_ERROR";
    case CURLE_SSL_INVALIDCERTSTATUS:
        return "CURLE_SSL_INVALIDCERTSTATUS";
    case CURLE_SSL_CRL_BADFILE:
        return "CURLE_SSL_CRL_BADFILE";
    case CURLE_UNSUPPORTED_PROTOCOL:
        return "CURLE_UNSUPPORTED_PROTOCOL";
    case CURLE_URL_MALFORMAT:
        return "CURLE_URL_MALFORMAT";
    default:
        return "CURLE_*";
    }
}

static int
is_tls_error(CURLcode c)
{
    switch (c) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_USE_SSL_FAILED:
        return 1;
    default:
        return 0;
    }
}

/* A sentence for a failed transfer; resp->reason gets a short form. */
static ek_err
transfer_error(struct ek_ctx *ctx, CURL *c, CURLcode rc, const char *errbuf,
               const struct http_request *req, const char *host,
               const struct http_sink *sink, struct http_response *resp)
{
    char why_q[CURL_ERROR_SIZE + 64];
    /* curl's own words may quote the server's certificate names */
    const char *why =
        text_quote(why_q, sizeof why_q,
                   errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
    const char *name = curl_code_name(rc);
    const char *proxy_note = "";
    double connect_time = 0;
    unsigned ct;

    if (http_proxy_var() != NULL)
        proxy_note = "; a proxy is set in HTTPS_PROXY or ALL_PROXY: check "
                     "it, and NO_PROXY";
    if (sink->oom)
        return ek_seterr_oom(ctx);
    if (sink->too_big || rc == CURLE_FILESIZE_EXCEEDED)
        return ek_seterr(ctx, EK_ERR_NETWORK,
                         "the answer of %s was "
                         "refused: response larger than %d KiB (%s); a "
                         "token endpoint's answer is a few KiB: check the "
                         "authority host",
                         req->url, HTTP_BODY_MAX / 1024, name);
    if (is_tls_error(rc))
        return ek_seterr(
            ctx, EK_ERR_TLS,
            "TLS with %s failed: %s (%s); "
            "check the system clock, and if the endpoint uses "
            "a private CA, give its certificate (PEM) as the CA file%s",
            req->url, why, name, proxy_note);
    resp->retryable = 1;
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        (void)curl_easy_getinfo(c, CURLINFO_CONNECT_TIME, &connect_time);
        if (connect_time <= 0.0) {
            ct = req->timeout < HTTP_CONNECT_TIMEOUT ? req->timeout
                                                     : HTTP_CONNECT_TIMEOUT;
            snprintf(resp->reason, sizeof resp->reason,
                     "no connection "
                     "within %u s (%s)",
                     ct, name);
            return ek_seterr(ctx, EK_ERR_NETWORK,
                             "no connection within %u "
                             "s to %s (%s: %s; %s); check the network%s",
                             ct, host, name, why, req->url, proxy_note);
        }
        snprintf(resp->reason, sizeof resp->reason,
                 "no answer within %u s "
                 "(%s)",
                 req->timeout, name);
        return ek_seterr(ctx, EK_ERR_NETWORK,
                         "no answer within %u s from "
                         "%s (%s: %s; %s); check the network or raise "
                         "the timeout",
                         req->timeout, host, name, why, req->url);
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        snprintf(resp->reason, sizeof resp->reason,
                 "cannot resolve the "
                 "host (%s)",
                 name);
        return ek_seterr(ctx, EK_ERR_NETWORK,
                         "cannot resolve the host of "
                         "%s (%s: %s); check the authority host and "
                         "DNS%s",
                         req->url, name, why, proxy_note);
    case CURLE_COULDNT_CONNECT:
        snprintf(resp->reason, sizeof resp->reason, "cannot connect (%s)",
                 name);
        return ek_seterr(ctx, EK_ERR_NETWORK,
                         "cannot connect to %s (%s: "
                         "%s); check the network and the authority host%s",
                         req->url, name, why, proxy_note);
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
        snprintf(resp->reason, sizeof resp->reason,
                 "the exchange broke off "
                 "(%s)",
                 name);
        return ek_seterr(ctx, EK_ERR_NETWORK,
                         "the exchange with %s broke "
                         "off (%s: %s); check the network%s",
                         req->url, name, why, proxy_note);
    default:
        resp->retryable = 0;
        return ek_seterr(ctx, EK_ERR_NETWORK,
                         "the request to %s failed "
                         "(%s %d: %s)%s",
                         req->url, name, (int)rc, why, proxy_note);
    }
}

static void
copy_header(CURL *c, const char *name, char *out, size_t outsz)
{
    struct curl_header *h = NULL;

    out[0] = '\0';
    if (curl_easy_header(c, name, 0, CURLH_HEADER, -1, &h) == CURLHE_OK &&
        h != NULL && h->value != NULL)
        snprintf(out, outsz, "%s", h->value);
}

void
http_response_clear(struct http_response *resp)
{
    if (resp == NULL)
        return;
    ek_secret_free(&resp->body);
    memset(resp, 0, sizeof *resp);
}

ek_err
http_post_form(struct ek_ctx *ctx, const struct http_request *req,
               struct http_response *resp)
{
    CURL *c = NULL;
    struct curl_slist *hdrs = NULL, *h;
    struct curl_blob blob;
    unsigned char *bundle = NULL;
    const char *capath;
    size_t bundle_len = 0;
    char errbuf[CURL_ERROR_SIZE];
    char host[256];
    char ua[64], crid[96];
    const char *hv[] = {
        NULL, /* User-Agent */
        NULL, /* client-request-id (Entra's correlation id), when given */
        NULL, /* and return-client-request-id */
        "Accept: application/json",
        req->json ? "Content-Type: application/json"
                  : "Content-Type: application/x-www-form-urlencoded",
        "x-ms-lib-capability: retry-after, h429",
        "Expect:", /* no 100-continue round trip */
        NULL,      /* Authorization */
    };
    struct ek_secret *auth = NULL;
    size_t i;
    char *redacted = NULL;
    const char *body = NULL;
    size_t shown = 0, total = 0, redacted_sz = 0;
    char *ct = NULL;
    char ct_q[160], ra_q[160];
    const char *which, *warning;
    double secs = 0, t_connect = 0, t_tls = 0, t_first = 0;
    struct http_sink sink;
    CURLcode rc;
    ek_err r = EK_ERR_NETWORK;

    memset(resp, 0, sizeof *resp);
    memset(&sink, 0, sizeof sink);
    errbuf[0] = '\0';
    /* first: the URL is checked with libcurl's parser, which without
     * libcurl would call every URL not https:// */
    http_preload();
    if (http_init_rc != CURLE_OK)
        return ek_seterr(ctx, EK_ERR_INTERNAL,
                         "libcurl cannot be initialised: "
                         "%s",
                         curl_easy_strerror(http_init_rc));
    if (req->late != NULL && (req->get || req->json))
        return ek_seterr(ctx, EK_ERR_INTERNAL,
                         "http_post_form: a late body is a form's");
    if (http_url_host(req->url, host, sizeof host) != 0)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "'%s' is not an https:// URL; "
                         "entrakey talks to token endpoints over HTTPS "
                         "only (check the authority host)",
                         req->url);
    which = http_dl_which != NULL ? http_dl_which() : "linked in";
    ek_log(ctx, EK_LOG_TRACE, "libcurl: %s", which != NULL ? which : "none");
    if (http_dl_warning != NULL && (warning = http_dl_warning()) != NULL)
        ek_log(ctx, EK_LOG_WARN, "%s", warning);
    capath = http_system_capath();
    if (req->ca_file != NULL && capath != NULL) {
        /* checked here; libcurl reads it (CURLOPT_CAINFO below) */
        if ((r = ca_file_read(ctx, req->ca_file, &bundle, &bundle_len)) !=
            EK_OK)
            goto out;
        free(bundle);
        bundle = NULL;
    } else if (req->ca_file != NULL &&
               (r = http_ca_bundle(ctx, NULL, req->ca_file, &bundle,
                                   &bundle_len)) != EK_OK) {
        goto out;
    }
    if ((r = ek_secret_new(ctx, 4096, &resp->body)) != EK_OK)
        goto out;
    sink.ctx = ctx;
    sink.body = resp->body;
    sink.max = HTTP_BODY_MAX;
    if ((c = curl_easy_init()) == NULL) {
        r = ek_seterr_oom(ctx);
        goto out;
    }
    snprintf(ua, sizeof ua, "User-Agent: entrakey/%s", ek_version());
    hv[0] = ua;
    if (req->client_request_id != NULL) {
        snprintf(crid, sizeof crid, "client-request-id: %s",
                 req->client_request_id);
        hv[1] = crid;
        hv[2] = "return-client-request-id: true";
    }
    if (req->get)
        hv[4] = NULL; /* no body, no type */
    if (req->bearer != NULL) {
        if ((r = ek_secret_new(ctx, strlen(req->bearer) + 32, &auth)) !=
                EK_OK ||
            (r = ek_secret_append_str(ctx, auth, "Authorization: Bearer ")) !=
                EK_OK ||
            (r = ek_secret_append_str(ctx, auth, req->bearer)) != EK_OK)
            goto out;
        hv[7] = auth->buf;
    }
    for (i = 0; i < sizeof hv / sizeof hv[0]; i++) {
        if (hv[i] == NULL)
            continue;
        if ((h = curl_slist_append(hdrs, hv[i])) == NULL) {
            r = ek_seterr_oom(ctx);
            goto out;
        }
        hdrs = h;
    }
    /* never CURLOPT_VERBOSE: it would print the form, assertion and all */
    if (curl_easy_setopt(c, CURLOPT_URL, req->url) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT,
                         (long)HTTP_CONNECT_TIMEOUT) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)req->timeout) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
                         (curl_off_t)HTTP_BODY_MAX) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
        (req->get ? curl_easy_setopt(c, CURLOPT_HTTPGET, 1L) != CURLE_OK
         : req->late != NULL
             ? (curl_easy_setopt(c, CURLOPT_POST, 1L) != CURLE_OK ||
                curl_easy_setopt(c, CURLOPT_READFUNCTION, late_read) !=
                    CURLE_OK ||
                curl_easy_setopt(c, CURLOPT_READDATA, req->late) != CURLE_OK ||
                curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                                 (curl_off_t)req->late->len) != CURLE_OK ||
                curl_easy_setopt(c, CURLOPT_TIMEOUT, 0L) != CURLE_OK ||
                curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L) != CURLE_OK ||
                curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, late_progress) !=
                    CURLE_OK ||
                curl_easy_setopt(c, CURLOPT_XFERINFODATA, req->late) !=
                    CURLE_OK)
             : (curl_easy_setopt(c, CURLOPT_POST, 1L) != CURLE_OK ||
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->form->buf) !=
                    CURLE_OK ||
                curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                                 (curl_off_t)req->form->len) != CURLE_OK)) ||
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_sink_write) !=
            CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink) != CURLE_OK) {
        r = ek_seterr(ctx, EK_ERR_INTERNAL,
                      "libcurl refused an option "
                      "(%s); is libcurl older than 7.85?",
                      errbuf);
        goto out;
    }
    if (capath != NULL) {
        /* the system's CAs from their directory, --ca-file's (if any) in
         * addition: no bundle is parsed whole */
        if (curl_easy_setopt(c, CURLOPT_CAPATH, capath) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_CAINFO, req->ca_file) != CURLE_OK) {
            r = ek_seterr(ctx, EK_ERR_TLS,
                          "libcurl cannot use the CA "
                          "directory '%s'",
                          capath);
            goto out;
        }
    } else if (bundle != NULL) {
        blob.data = bundle;
        blob.len = bundle_len;
        blob.flags = CURL_BLOB_NOCOPY;
        if (curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob) != CURLE_OK) {
            r = ek_seterr(ctx, EK_ERR_TLS,
                          "this libcurl cannot take a CA "
                          "bundle from memory (CURLOPT_CAINFO_BLOB), so "
                          "the CA file cannot be honoured");
            goto out;
        }
    }
    if (req->get || req->json) {
        /* a JSON body may hold a proof: its size only */
        ek_log(ctx, EK_LOG_TRACE, "%s %s (%zu bytes%s%s)",
               req->get ? "GET" : "POST", req->url,
               req->get ? (size_t)0 : req->form->len,
               req->json ? " of JSON, not shown" : "",
               req->bearer != NULL ? ", Authorization: Bearer [redacted]" : "");
    } else if (ek_log_enabled(ctx, EK_LOG_TRACE)) {
        /* a late body: the part there now (its end is a signature) */
        if (req->late != NULL) {
            pthread_mutex_lock(&req->late->mu);
            body = req->late->buf;
            shown = req->late->ready;
            total = req->late->len;
            pthread_mutex_unlock(&req->late->mu);
        } else {
            body = req->form->buf;
            shown = total = req->form->len;
        }
        redacted_sz = shown + 64;
        if ((redacted = ek_calloc(ctx, 1, redacted_sz)) == NULL) {
            r = EK_ERR_INTERNAL;
            goto out;
        }
        http_redact_form(body, shown, redacted, redacted_sz);
        ek_log(ctx, EK_LOG_TRACE, "POST %s (%zu bytes%s: %s)", req->url, total,
               shown < total ? ", the assertion's signature sent when the "
                               "token has made it"
                             : "",
               redacted);
    }
    if (req->late != NULL) {
        pthread_mutex_lock(&req->late->mu);
        req->late->timeout = req->timeout;
        pthread_mutex_unlock(&req->late->mu);
    }
    rc = curl_easy_perform(c);
    (void)curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &secs);
    if (rc == CURLE_ABORTED_BY_CALLBACK && req->late != NULL &&
        req->late->timed_out) {
        /* late_progress's: said as libcurl's own time limit is */
        rc = CURLE_OPERATION_TIMEDOUT;
        snprintf(errbuf, sizeof errbuf,
                 "no answer %u s after the request was whole", req->timeout);
    }
    if (rc != CURLE_OK) {
        ek_log(ctx, EK_LOG_TRACE, "%s %s failed after %.2f s: %s",
               req->get ? "GET" : "POST", req->url, secs,
               curl_easy_strerror(rc));
        r = transfer_error(ctx, c, rc, errbuf, req, host, &sink, resp);
        goto out;
    }
    (void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK &&
        ct != NULL)
        snprintf(resp->content_type, sizeof resp->content_type, "%s", ct);
    copy_header(c, "Retry-After", resp->retry_after, sizeof resp->retry_after);
    copy_header(c, "Date", resp->date, sizeof resp->date);
    copy_header(c, "client-request-id", resp->client_request_id,
                sizeof resp->client_request_id);
    copy_header(c, "x-ms-request-id", resp->ms_request_id,
                sizeof resp->ms_request_id);
    /* sizes, status and curl's clock (where a slow exchange spends its
     * time: connect, TLS, the server); never the body: it may hold an
     * access token */
    (void)curl_easy_getinfo(c, CURLINFO_CONNECT_TIME, &t_connect);
    (void)curl_easy_getinfo(c, CURLINFO_APPCONNECT_TIME, &t_tls);
    (void)curl_easy_getinfo(c, CURLINFO_STARTTRANSFER_TIME, &t_first);
    /* the server's words, quoted: a header can carry escapes */
    ek_log(ctx, EK_LOG_TRACE,
           "HTTP %ld from %s: %s, %zu bytes, %.1f ms "
           "(connect %.2f ms, TLS done %.2f ms, first byte %.2f ms)%s%s",
           resp->status, host,
           text_quote(ct_q, sizeof ct_q,
                      resp->content_type[0] != '\0' ? resp->content_type
                                                    : "no type"),
           resp->body->len, secs * 1e3, t_connect * 1e3, t_tls * 1e3,
           t_first * 1e3, resp->retry_after[0] != '\0' ? ", Retry-After: " : "",
           text_quote(ra_q, sizeof ra_q, resp->retry_after));
    r = EK_OK;
out:
    if (redacted != NULL) {
        ek_wipe(redacted, redacted_sz);
        free(redacted);
    }
    curl_easy_cleanup(c);
    /* libcurl's copy of the Authorization header is wiped before it is
     * freed */
    for (h = hdrs; h != NULL; h = h->next)
        if (h->data != NULL)
            ek_wipe(h->data, strlen(h->data));
    curl_slist_free_all(hdrs);
    ek_secret_free(&auth);
    free(bundle);
    if (r != EK_OK)
        ek_secret_free(&resp->body); /* retryable and reason stay */
    return r;
}
