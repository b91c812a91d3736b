/* graph.c: Microsoft Graph's calls for key rotation: the application's
 * object id and certificates, addKey and removeKey, and the proof of
 * possession they ask for, signed on the token (docs/rotation.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cert.h"
#include "entra.h"
#include "http.h"
#include "jose.h"
#include "text.h"

#define GRAPH_URL_MAX (ENTRA_AUTHORITY_MAX + 160)
#define GRAPH_NAME_MAX 90 /* Graph caps displayName at 90 characters */

struct ek_graph_key {
    char key_id[ENTRA_GUID_LEN + 1];
    char thumbprint[41];
    char *name;
    int64_t end;
};

struct ek_graph_app {
    char object_id[ENTRA_GUID_LEN + 1];
    struct ek_graph_key *keys;
    size_t n;
};

/* ------------------------------------------------------------- the proof */

ek_err
ek_graph_proof_sign(struct ek_ctx *ctx, struct ek_key *k, const char *object_id,
                    const struct ek_cert *cert, unsigned lifetime,
                    struct ek_secret **jwtp)
{
    struct cert_signer signer = {ctx, k};
    struct jose_proof p;
    struct ek_cert *own = NULL;
    char name[512];
    ek_err r = EK_ERR_USAGE;

    if (jwtp == NULL || k == NULL)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "ek_graph_proof_sign: no key or "
                         "place for the proof");
    *jwtp = NULL;
    if ((r = cert_key_check(ctx, k)) != EK_OK)
        return r;
    if (object_id == NULL || !entra_is_guid(object_id))
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "the application's object id '%s' "
                         "is not a GUID: it is the Object ID on the app's "
                         "Overview page (not the client id)",
                         object_id != NULL ? object_id : "");
    if (lifetime == 0)
        lifetime = JOSE_PROOF_LIFETIME_MAX;
    cert_key_name(k, name, sizeof name);
    if (cert == NULL) {
        r = ek_cert_from_key(ctx, k, &own);
        if (r == EK_ERR_NOT_FOUND)
            r = ek_seterr(ctx, EK_ERR_NOT_FOUND,
                          "no certificate for %s on its "
                          "token: the proof names the registered certificate "
                          "of the key that signs it",
                          name);
        if (r != EK_OK)
            goto out;
        cert = own;
    }
    if (!ek_cert_matches_key(cert, k)) {
        r = ek_seterr(ctx, EK_ERR_CERT,
                      "the certificate %s (thumbprint %s) "
                      "is not %s's: Graph would refuse the proof",
                      cert->subject, cert->thumbprint, name);
        goto out;
    }
    memset(&p, 0, sizeof p);
    p.now = (int64_t)time(NULL);
    if ((r = cert_check_validity(ctx, cert, p.now)) != EK_OK)
        goto out;
    p.x5t = cert->x5t;
    p.kid = cert->thumbprint;
    p.aud = JOSE_PROOF_AUD;
    p.iss = object_id;
    p.lifetime = lifetime;
    ek_log(ctx, EK_LOG_INFO,
           "proof of possession for application %s: aud %s, "
           "RS256, x5t %s (thumbprint %s), valid %u s",
           object_id, p.aud, cert->x5t, cert->thumbprint, lifetime);
    r = jose_proof_sign(ctx, &p, cert_key_sign, &signer, jwtp);
out:
    ek_cert_free(&own);
    return r;
}

/* ------------------------------------------------------------ the calls */

static void
pause_seconds(long s)
{
    struct timespec ts = {s, 0}, rem;

    while (nanosleep(&ts, &rem) != 0 && errno == EINTR)
        ts = rem;
}

/* The base URL, checked as an authority host is. */
static ek_err
graph_base(struct ek_ctx *ctx, const struct ek_graph_params *gp,
           char out[ENTRA_AUTHORITY_MAX + 1])
{
    const char *host;
    char why[EK_ERRMSG_MAX];

    if (gp == NULL)
        return ek_seterr(ctx, EK_ERR_USAGE, "no Graph parameters");
    host = gp->graph_host != NULL && gp->graph_host[0] != '\0'
               ? gp->graph_host
               : ek_cloud_graph_host(gp->cloud);
    if (entra_check_authority(ctx, host, out) != EK_OK) {
        snprintf(why, sizeof why, "%s", ek_ctx_errmsg(ctx));
        return ek_seterr(ctx, EK_ERR_USAGE, "the Graph host: %s", why);
    }
    return EK_OK;
}

/* The sentence for an answer that is not a success. */
static ek_err
graph_refusal(struct ek_ctx *ctx, const char *what, long status,
              const char *body, size_t len)
{
    cJSON *j = NULL;
    const cJSON *err, *code = NULL, *msg = NULL, *inner, *rid = NULL;
    char code_q[96] = "", msg_q[400] = "", rid_q[96] = "";
    const char *hint = "";
    ek_err e = EK_ERR_ENTRA;

    if (len > 0)
        j = cJSON_ParseWithLength(body, len);
    err = cJSON_GetObjectItemCaseSensitive(j, "error");
    if (cJSON_IsObject(err)) {
        code = cJSON_GetObjectItemCaseSensitive(err, "code");
        msg = cJSON_GetObjectItemCaseSensitive(err, "message");
        inner = cJSON_GetObjectItemCaseSensitive(err, "innerError");
        rid = cJSON_GetObjectItemCaseSensitive(inner, "request-id");
    }
    if (code != NULL && cJSON_IsString(code) && code->valuestring != NULL)
        text_quote(code_q, sizeof code_q, code->valuestring);
    if (msg != NULL && cJSON_IsString(msg) && msg->valuestring != NULL)
        text_quote(msg_q, sizeof msg_q, msg->valuestring);
    if (rid != NULL && cJSON_IsString(rid) && rid->valuestring != NULL)
        text_quote(rid_q, sizeof rid_q, rid->valuestring);
    if (status >= 500) {
        e = EK_ERR_NETWORK;
        hint = "; Graph is in trouble: try again later";
    } else if (status == 401) {
        hint = "; the Graph token was not accepted: check the cloud and "
               "the Graph host";
    } else if (status == 403 && strcmp(what, "reading the application") == 0) {
        hint = "; reading the application needs the Application.Read.All "
               "application permission (with admin consent)";
    } else if (status == 403) {
        hint = "; the proof must be signed by a certificate registered on "
               "the app and still valid, with iss = the app's object id; an "
               "app whose certificates have all expired cannot use addKey "
               "(see docs/rotation.md, the portal route)";
    } else if (status == 404) {
        hint = "; check the application's object id (the Object ID on the "
               "app's Overview page, not the client id) and the tenant";
    }
    cJSON_Delete(j);
    return ek_seterr(ctx, e,
                     "Microsoft Graph refused %s: HTTP %ld%s%s%s%s%s%s%s%s",
                     what, status, code_q[0] != '\0' ? " " : "", code_q,
                     msg_q[0] != '\0' ? ": " : "", msg_q,
                     rid_q[0] != '\0' ? " (request-id " : "", rid_q,
                     rid_q[0] != '\0' ? ")" : "", hint);
}

/* One call with its retries: 429/503 with Retry-After up to max_wait (the
 * request was not done), and for a GET a lost connection or a 5xx once.
 * A POST that may have been done is never sent again. *respp holds a 2xx
 * answer on EK_OK. */
static ek_err
graph_call(struct ek_ctx *ctx, const struct ek_graph_params *gp,
           const struct ek_access_token *tok, const char *what, const char *url,
           const struct ek_secret *body, struct http_response *resp)
{
    struct http_request req;
    char host[256] = "?", ra[64] = "none", prev[EK_ERRMSG_MAX];
    unsigned max_wait =
        gp->max_wait != 0 ? gp->max_wait : ENTRA_DEFAULT_MAX_WAIT;
    int retried = 0, throttled = 0, has_ra;
    long wait = 0, waited = 0;
    ek_err r;

    if (tok == NULL || ek_access_token_value(tok) == NULL)
        return ek_seterr(ctx, EK_ERR_USAGE, "%s: no Graph access token", what);
    (void)http_url_host(url, host, sizeof host);
    memset(&req, 0, sizeof req);
    req.url = url;
    req.form = body;
    req.get = body == NULL;
    req.json = body != NULL;
    req.bearer = ek_access_token_value(tok);
    req.ca_file = gp->ca_file;
    req.timeout = gp->timeout != 0 ? gp->timeout : ENTRA_DEFAULT_TIMEOUT;
    ek_log(ctx, EK_LOG_INFO, "Microsoft Graph: %s: %s %s", what,
           req.get ? "GET" : "POST", url);
    for (;;) {
        http_response_clear(resp);
        r = http_post_form(ctx, &req, resp);
        if (r != EK_OK) {
            if (resp->retryable && req.get && !retried) {
                retried = 1;
                ek_log(ctx, EK_LOG_WARN, "%s: %s; trying once more in 1 s",
                       host, resp->reason);
                pause_seconds(1);
                continue;
            }
            snprintf(prev, sizeof prev, "%s", ek_ctx_errmsg(ctx));
            r = ek_seterr(ctx, r, "%s: %s%s", what, prev,
                          !req.get && resp->retryable
                              ? "; the request was sent and its answer "
                                "lost: Graph may have done it"
                              : "");
            return r;
        }
        has_ra =
            resp->retry_after[0] != '\0' &&
            http_parse_retry_after(resp->retry_after, time(NULL), &wait) == 0;
        text_quote(ra, sizeof ra, has_ra ? resp->retry_after : "none");
        if (resp->status == 429 || (resp->status == 503 && has_ra)) {
            if (!has_ra)
                wait = ENTRA_DEFAULT_429_WAIT;
            if (wait > (long)max_wait)
                return ek_seterr(ctx, EK_ERR_THROTTLED,
                                 "%s: %s is throttling (HTTP %ld) and "
                                 "asks to wait %ld s (Retry-After: %s), "
                                 "more than the %u s it may wait; try "
                                 "again later or allow a longer wait",
                                 what, host, resp->status, wait, ra, max_wait);
            if (throttled == ENTRA_THROTTLE_RETRIES)
                return ek_seterr(ctx, EK_ERR_THROTTLED,
                                 "%s: %s is still throttling (HTTP %ld) "
                                 "after %d retries and %ld s of waiting; "
                                 "try again later",
                                 what, host, resp->status,
                                 ENTRA_THROTTLE_RETRIES, waited);
            throttled++;
            ek_log(ctx, EK_LOG_WARN,
                   "%s answered HTTP %ld; waiting %ld s as it asks "
                   "(Retry-After: %s), then retry %d of %d",
                   host, resp->status, wait, ra, throttled,
                   ENTRA_THROTTLE_RETRIES);
            pause_seconds(wait);
            waited += wait;
            continue;
        }
        if (resp->status >= 500 && req.get && !retried) {
            retried = 1;
            ek_log(ctx, EK_LOG_WARN,
                   "%s answered HTTP %ld; trying once more in 1 s", host,
                   resp->status);
            pause_seconds(1);
            continue;
        }
        break;
    }
    if (resp->status < 200 || resp->status > 299)
        return graph_refusal(ctx, what, resp->status,
                             ek_secret_data(resp->body),
                             ek_secret_len(resp->body));
    return EK_OK;
}

/* ------------------------------------------------------ the application */

/* customKeyIdentifier: base64 of the SHA-1 thumbprint's 20 bytes (Graph),
 * or its 40 hex digits (the manifest) -> upper-case hex, else "". */
static void
thumbprint_of(struct ek_ctx *ctx, const char *cki, char out[41])
{
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char bytes[32];
    size_t i, n = 0, len = strlen(cki);
    unsigned long acc = 0;
    int bits = 0;
    const char *p;

    (void)ctx;
    out[0] = '\0';
    if (len == 40 && strspn(cki, "0123456789abcdefABCDEF") == 40) {
        for (i = 0; i < 40; i++)
            out[i] =
                (char)((cki[i] >= 'a' && cki[i] <= 'f') ? cki[i] - 32 : cki[i]);
        out[40] = '\0';
        return;
    }
    for (i = 0; i < len && cki[i] != '='; i++) {
        if ((p = strchr(b64, cki[i])) == NULL || cki[i] == '\0')
            return;
        acc = (acc << 6) | (unsigned long)(p - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == sizeof bytes)
                return;
            bytes[n++] = (unsigned char)((acc >> bits) & 0xff);
        }
    }
    if (n == 20)
        ek_hex_encode(bytes, 20, out, 1);
}

/* "2027-12-04T10:00:00Z" (fractions allowed) -> epoch seconds; 0. */
static int64_t
graph_time(const char *s)
{
    struct tm tm;

    memset(&tm, 0, sizeof tm);
    if (s == NULL)
        return 0;
    /* NOLINTNEXTLINE(cert-err34-c): widths bound each number */
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon,
               &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm);
}

static ek_err
app_parse(struct ek_ctx *ctx, const char *body, size_t len,
          struct ek_graph_app **appp)
{
    struct ek_graph_app *a = NULL;
    cJSON *j = NULL;
    const cJSON *id, *keys, *k, *v;
    size_t n;
    ek_err r = EK_ERR_NETWORK;

    j = cJSON_ParseWithLength(body, len);
    id = cJSON_GetObjectItemCaseSensitive(j, "id");
    keys = cJSON_GetObjectItemCaseSensitive(j, "keyCredentials");
    if (!cJSON_IsString(id) || !entra_is_guid(id->valuestring) ||
        (keys != NULL && !cJSON_IsArray(keys))) {
        r = ek_seterr(ctx, EK_ERR_NETWORK,
                      "Microsoft Graph's answer about "
                      "the application is not what it should be (no object "
                      "id, or keyCredentials is not a list)");
        goto out;
    }
    if ((a = ek_calloc(ctx, 1, sizeof *a)) == NULL) {
        r = EK_ERR_INTERNAL;
        goto out;
    }
    snprintf(a->object_id, sizeof a->object_id, "%s", id->valuestring);
    n = keys != NULL ? (size_t)cJSON_GetArraySize(keys) : 0;
    if (n > 0 && (a->keys = ek_calloc(ctx, n, sizeof *a->keys)) == NULL) {
        r = EK_ERR_INTERNAL;
        goto out;
    }
    cJSON_ArrayForEach(k, keys)
    {
        struct ek_graph_key *gk = &a->keys[a->n];

        v = cJSON_GetObjectItemCaseSensitive(k, "keyId");
        if (!cJSON_IsString(v) || !entra_is_guid(v->valuestring))
            continue;
        snprintf(gk->key_id, sizeof gk->key_id, "%s", v->valuestring);
        v = cJSON_GetObjectItemCaseSensitive(k, "customKeyIdentifier");
        if (cJSON_IsString(v))
            thumbprint_of(ctx, v->valuestring, gk->thumbprint);
        v = cJSON_GetObjectItemCaseSensitive(k, "displayName");
        if ((gk->name = ek_strdup(ctx, cJSON_IsString(v) ? v->valuestring
                                                         : "")) == NULL) {
            r = EK_ERR_INTERNAL;
            goto out;
        }
        v = cJSON_GetObjectItemCaseSensitive(k, "endDateTime");
        gk->end = graph_time(cJSON_IsString(v) ? v->valuestring : NULL);
        a->n++;
    }
    *appp = a;
    a = NULL;
    r = EK_OK;
out:
    ek_graph_app_free(&a);
    cJSON_Delete(j);
    return r;
}

ek_err
ek_graph_app_get(struct ek_ctx *ctx, const struct ek_graph_params *gp,
                 const struct ek_access_token *graph_token,
                 const char *client_id, struct ek_graph_app **appp)
{
    struct http_response resp;
    char base[ENTRA_AUTHORITY_MAX + 1], url[GRAPH_URL_MAX];
    ek_err r;

    if (appp == NULL)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "ek_graph_app_get: no place "
                         "for the answer");
    *appp = NULL;
    memset(&resp, 0, sizeof resp);
    if ((r = entra_check_client_id(ctx, client_id)) != EK_OK ||
        (r = graph_base(ctx, gp, base)) != EK_OK)
        return r;
    snprintf(url, sizeof url,
             "%s/v1.0/applications(appId='%s')?$select=id,keyCredentials", base,
             client_id);
    if ((r = graph_call(ctx, gp, graph_token, "reading the application", url,
                        NULL, &resp)) == EK_OK)
        r = app_parse(ctx, ek_secret_data(resp.body), ek_secret_len(resp.body),
                      appp);
    http_response_clear(&resp);
    return r;
}

const char *
ek_graph_app_object_id(const struct ek_graph_app *a)
{
    return a != NULL ? a->object_id : NULL;
}

size_t
ek_graph_app_key_count(const struct ek_graph_app *a)
{
    return a != NULL ? a->n : 0;
}

const char *
ek_graph_app_key_id(const struct ek_graph_app *a, size_t i)
{
    return a != NULL && i < a->n ? a->keys[i].key_id : NULL;
}

const char *
ek_graph_app_key_thumbprint(const struct ek_graph_app *a, size_t i)
{
    return a != NULL && i < a->n ? a->keys[i].thumbprint : NULL;
}

const char *
ek_graph_app_key_name(const struct ek_graph_app *a, size_t i)
{
    return a != NULL && i < a->n ? a->keys[i].name : NULL;
}

int64_t
ek_graph_app_key_end(const struct ek_graph_app *a, size_t i)
{
    return a != NULL && i < a->n ? a->keys[i].end : 0;
}

const char *
ek_graph_app_key_for(const struct ek_graph_app *a, const struct ek_cert *c)
{
    size_t i;

    for (i = 0; a != NULL && c != NULL && i < a->n; i++)
        if (strcmp(a->keys[i].thumbprint, c->thumbprint) == 0)
            return a->keys[i].key_id;
    return NULL;
}

void
ek_graph_app_free(struct ek_graph_app **ap)
{
    struct ek_graph_app *a;
    size_t i;

    if (ap == NULL || (a = *ap) == NULL)
        return;
    for (i = 0; i < a->n; i++)
        free(a->keys[i].name);
    free(a->keys);
    free(a);
    *ap = NULL;
}

/* ------------------------------------------------- addKey and removeKey */

/* The JSON body, with the proof, in a secret; the tree's copy of the proof
 * is wiped. */
static ek_err
json_body(struct ek_ctx *ctx, cJSON *doc, struct ek_secret **bodyp)
{
    const cJSON *proof = cJSON_GetObjectItemCaseSensitive(doc, "proof");
    char *text = NULL;
    ek_err r = EK_ERR_INTERNAL;

    if ((text = cJSON_PrintUnformatted(doc)) == NULL) {
        r = ek_seterr_oom(ctx);
        goto out;
    }
    if ((r = ek_secret_new(ctx, strlen(text) + 1, bodyp)) != EK_OK ||
        (r = ek_secret_append_str(ctx, *bodyp, text)) != EK_OK)
        goto out;
    r = EK_OK;
out:
    if (text != NULL) {
        ek_wipe(text, strlen(text));
        cJSON_free(text);
    }
    if (cJSON_IsString(proof) && proof->valuestring != NULL)
        ek_wipe(proof->valuestring, strlen(proof->valuestring));
    if (r != EK_OK)
        ek_secret_free(bodyp);
    return r;
}

static ek_err
check_ids(struct ek_ctx *ctx, const char *object_id, const char *key_id,
          const struct ek_secret *proof)
{
    if (object_id == NULL || !entra_is_guid(object_id))
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "the application's object id '%s' "
                         "is not a GUID: it is the Object ID on the app's "
                         "Overview page (not the client id)",
                         object_id != NULL ? object_id : "");
    if (key_id != NULL && !entra_is_guid(key_id))
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "the key id '%s' is not a GUID: "
                         "it is the Certificate ID the portal shows under "
                         "Certificates & secrets",
                         key_id);
    if (proof == NULL || ek_secret_len(proof) == 0)
        return ek_seterr(ctx, EK_ERR_USAGE, "no proof of possession");
    return EK_OK;
}

ek_err
ek_graph_key_add(struct ek_ctx *ctx, const struct ek_graph_params *gp,
                 const struct ek_access_token *graph_token,
                 const char *object_id, const struct ek_cert *c,
                 const struct ek_secret *proof, char **key_idp)
{
    struct http_response resp;
    struct ek_secret *body = NULL;
    cJSON *doc = NULL, *kc, *ans = NULL;
    const cJSON *kid;
    char base[ENTRA_AUTHORITY_MAX + 1], url[GRAPH_URL_MAX];
    char name[GRAPH_NAME_MAX * 4 + 1];
    char *key64 = NULL;
    size_t i, chars;
    ek_err r = EK_ERR_USAGE;

    memset(&resp, 0, sizeof resp);
    if (key_idp != NULL)
        *key_idp = NULL;
    if (c == NULL || key_idp == NULL)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "ek_graph_key_add: no "
                         "certificate or place for the key id");
    if ((r = check_ids(ctx, object_id, NULL, proof)) != EK_OK ||
        (r = graph_base(ctx, gp, base)) != EK_OK)
        return r;
    /* the subject, cut at a character to Graph's 90 */
    for (i = 0, chars = 0; c->subject[i] != '\0' && chars < GRAPH_NAME_MAX;
         chars++) {
        i++;
        while (((unsigned char)c->subject[i] & 0xc0) == 0x80)
            i++;
    }
    snprintf(name, sizeof name, "%.*s", (int)i, c->subject);
    snprintf(url, sizeof url, "%s/v1.0/applications/%s/addKey", base,
             object_id);
    r = EK_ERR_INTERNAL;
    if ((key64 = jose_b64_encode(ctx, c->der, c->der_len)) == NULL)
        goto out;
    if ((doc = cJSON_CreateObject()) == NULL ||
        (kc = cJSON_AddObjectToObject(doc, "keyCredential")) == NULL ||
        cJSON_AddStringToObject(kc, "type", "AsymmetricX509Cert") == NULL ||
        cJSON_AddStringToObject(kc, "usage", "Verify") == NULL ||
        cJSON_AddStringToObject(kc, "key", key64) == NULL ||
        cJSON_AddStringToObject(kc, "displayName", name) == NULL ||
        cJSON_AddNullToObject(doc, "passwordCredential") == NULL ||
        cJSON_AddStringToObject(doc, "proof", ek_secret_data(proof)) == NULL) {
        r = ek_seterr_oom(ctx);
        goto out;
    }
    if ((r = json_body(ctx, doc, &body)) != EK_OK)
        goto out;
    if ((r = graph_call(ctx, gp, graph_token, "adding the key (addKey)", url,
                        body, &resp)) != EK_OK)
        goto out;
    ans = cJSON_ParseWithLength(ek_secret_data(resp.body),
                                ek_secret_len(resp.body));
    kid = cJSON_GetObjectItemCaseSensitive(ans, "keyId");
    if (cJSON_IsString(kid) && entra_is_guid(kid->valuestring)) {
        if ((*key_idp = ek_strdup(ctx, kid->valuestring)) == NULL) {
            r = EK_ERR_INTERNAL;
            goto out;
        }
    } else {
        ek_log(ctx, EK_LOG_WARN,
               "Graph added the key but its answer names no "
               "keyId: the portal shows it as the Certificate ID");
    }
    r = EK_OK;
out:
    cJSON_Delete(ans);
    cJSON_Delete(doc);
    ek_secret_free(&body);
    free(key64);
    http_response_clear(&resp);
    return r;
}

ek_err
ek_graph_key_remove(struct ek_ctx *ctx, const struct ek_graph_params *gp,
                    const struct ek_access_token *graph_token,
                    const char *object_id, const char *key_id,
                    const struct ek_secret *proof)
{
    struct http_response resp;
    struct ek_secret *body = NULL;
    cJSON *doc = NULL;
    char base[ENTRA_AUTHORITY_MAX + 1], url[GRAPH_URL_MAX];
    ek_err r;

    memset(&resp, 0, sizeof resp);
    if (key_id == NULL)
        return ek_seterr(ctx, EK_ERR_USAGE, "no key id to remove");
    if ((r = check_ids(ctx, object_id, key_id, proof)) != EK_OK ||
        (r = graph_base(ctx, gp, base)) != EK_OK)
        return r;
    snprintf(url, sizeof url, "%s/v1.0/applications/%s/removeKey", base,
             object_id);
    if ((doc = cJSON_CreateObject()) == NULL ||
        cJSON_AddStringToObject(doc, "keyId", key_id) == NULL ||
        cJSON_AddStringToObject(doc, "proof", ek_secret_data(proof)) == NULL) {
        r = ek_seterr_oom(ctx);
        goto out;
    }
    if ((r = json_body(ctx, doc, &body)) != EK_OK)
        goto out;
    r = graph_call(ctx, gp, graph_token, "removing the key (removeKey)", url,
                   body, &resp);
out:
    cJSON_Delete(doc);
    ek_secret_free(&body);
    http_response_clear(&resp);
    return r;
}
