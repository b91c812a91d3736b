/* assertion.c: ek_assertion_sign: checks the inputs, finds the certificate,
 * and has jose build a client assertion signed on the token. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cert.h"
#include "jose.h"

/* A tenant id (GUID) or a domain: letters, digits, dots and hyphens, so
 * that nothing can break out of the token endpoint's path. */
static int
tenant_ok(const char *t)
{
    size_t i, n = strlen(t);

    if (n == 0 || n > 253 || t[0] == '.' || t[0] == '-' || t[n - 1] == '.' ||
        t[n - 1] == '-' || strstr(t, "..") != NULL)
        return 0;
    for (i = 0; i < n; i++)
        if (!isalnum((unsigned char)t[i]) && t[i] != '.' && t[i] != '-')
            return 0;
    return 1;
}

static int
client_id_ok(const char *s)
{
    size_t i, n = strlen(s);

    if (n == 0 || n > 256)
        return 0;
    for (i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] >= 0x7f)
            return 0;
    return 1;
}

/* "https://host[:port][/path]" without a trailing slash, into *outp. */
static ek_err
authority_url(struct ek_ctx *ctx, const char *host, char **outp)
{
    size_t i, n;
    char *s;

    *outp = NULL;
    if (strncmp(host, "https://", 8) != 0)
        return ek_seterr(ctx, EK_ERR_USAGE, "the authority host '%s' is not "
                         "an https:// URL; give e.g. --authority-host "
                         "https://login.microsoftonline.com", host);
    n = strlen(host);
    while (n > 8 && host[n - 1] == '/')
        n--;
    if (n == 8 || host[8] == '/')
        return ek_seterr(ctx, EK_ERR_USAGE, "the authority host '%s' has no "
                         "host name", host);
    /* a DNS name has at most 253 characters (RFC 1035 §2.3.4) */
    if (strcspn(host + 8, ":/") > 253)
        return ek_seterr(ctx, EK_ERR_USAGE, "the authority host '%.64s...' "
                         "has a host name of %zu characters, more than a "
                         "DNS name can have (253); give e.g. "
                         "--authority-host https://login.microsoftonline.com",
                         host, strcspn(host + 8, ":/"));
    for (i = 8; i < n; i++) {
        unsigned char ch = (unsigned char)host[i];

        if (ch <= ' ' || ch >= 0x7f || strchr("?#\"\\<>{}|^`", ch) != NULL)
            return ek_seterr(ctx, EK_ERR_USAGE, "the authority host '%s' "
                             "has a character that does not belong in it at "
                             "position %zu", host, i);
    }
    if ((s = ek_calloc(ctx, 1, n + 1)) == NULL)
        return EK_ERR_INTERNAL;
    memcpy(s, host, n);
    *outp = s;
    return EK_OK;
}

/* The certificate on the token with the key's id. Parsed once per context
 * and kept in ctx->cert_cache while the key's certificate DER stays the
 * same: OpenSSL 3 decodes the public key of every certificate it parses
 * through its provider decoders, which costs a fifth of a SoftHSM
 * signature, and a loop of assertions would pay it every time. */
static ek_err
token_cert(struct ek_ctx *ctx, const struct ek_key *k,
           const struct ek_cert **certp)
{
    const unsigned char *der = NULL;
    struct ek_cert *c = NULL;
    size_t len = 0;
    ek_err r;

    if (ctx->cert_cache != NULL && ek_key_cert_der(k, &der, &len) == EK_OK &&
        ctx->cert_cache->der_len == len &&
        memcmp(ctx->cert_cache->der, der, len) == 0) {
        *certp = ctx->cert_cache;
        return EK_OK;
    }
    if ((r = ek_cert_from_key(ctx, k, &c)) != EK_OK)
        return r;
    ek_cert_free(&ctx->cert_cache);
    ctx->cert_cache = c;
    *certp = c;
    return EK_OK;
}

ek_err
ek_assertion_sign(struct ek_ctx *ctx, struct ek_key *k,
                  const struct ek_assertion_params *params,
                  struct ek_secret **jwtp)
{
    struct cert_signer signer = {ctx, k};
    struct jose_assertion a;
    const struct ek_cert *cert;
    const char *host;
    char *base = NULL, *aud = NULL;
    char jti[JOSE_UUID_LEN + 1];
    char name[512];
    unsigned lifetime = 0;
    size_t n;
    int64_t now;
    ek_err r = EK_ERR_USAGE;

    if (jwtp == NULL || k == NULL || params == NULL)
        return ek_seterr(ctx, EK_ERR_USAGE, "ek_assertion_sign: no key or "
                         "parameters");
    *jwtp = NULL;
    /* everything the user typed is checked before the token is touched */
    if (params->tenant == NULL || params->tenant[0] == '\0') {
        r = ek_seterr(ctx, EK_ERR_USAGE, "no tenant: give --tenant (the "
                      "tenant id, or a domain such as "
                      "contoso.onmicrosoft.com) or set AZURE_TENANT_ID");
        goto out;
    }
    if (!tenant_ok(params->tenant)) {
        r = ek_seterr(ctx, EK_ERR_USAGE, "the tenant '%s' is neither a "
                      "tenant id (GUID) nor a domain name (letters, digits, "
                      "dots, hyphens); check --tenant or AZURE_TENANT_ID",
                      params->tenant);
        goto out;
    }
    if (params->client_id == NULL || params->client_id[0] == '\0') {
        r = ek_seterr(ctx, EK_ERR_USAGE, "no client id: give --client-id "
                      "(the application (client) id of the app "
                      "registration) or set AZURE_CLIENT_ID");
        goto out;
    }
    if (!client_id_ok(params->client_id)) {
        r = ek_seterr(ctx, EK_ERR_USAGE, "the client id '%s' has spaces or "
                      "control characters; give the application (client) "
                      "id, a GUID, with --client-id", params->client_id);
        goto out;
    }
    if (params->alg != EK_ALG_PS256 && params->alg != EK_ALG_RS256) {
        r = ek_seterr(ctx, EK_ERR_USAGE, "unknown algorithm %d; use PS256 "
                      "or RS256", (int)params->alg);
        goto out;
    }
    if ((r = jose_lifetime(ctx, params->lifetime, &lifetime)) != EK_OK)
        goto out;
    host = params->authority_host;
    if (host == NULL || host[0] == '\0')
        host = ek_cloud_authority_host(params->cloud);
    if (host == NULL) {
        r = ek_seterr(ctx, EK_ERR_USAGE, "no login host is known for cloud "
                      "%d; give --authority-host", (int)params->cloud);
        goto out;
    }
    if ((r = authority_url(ctx, host, &base)) != EK_OK)
        goto out;
    n = strlen(base) + strlen(params->tenant) + sizeof "//oauth2/v2.0/token";
    if ((aud = ek_calloc(ctx, 1, n)) == NULL) {
        r = EK_ERR_INTERNAL;
        goto out;
    }
    snprintf(aud, n, "%s/%s/oauth2/v2.0/token", base, params->tenant);

    /* the certificate: given, or the one on the token with the key's id */
    cert_key_name(k, name, sizeof name);
    if ((cert = params->cert) == NULL) {
        r = token_cert(ctx, k, &cert);
        if (r == EK_ERR_NOT_FOUND)
            r = ek_seterr(ctx, EK_ERR_NOT_FOUND, "no certificate for %s; "
                          "make one with `entrakey cert create` or give "
                          "--cert FILE", name);
        if (r != EK_OK)
            goto out;
    }
    if (!ek_cert_matches_key(cert, k)) {
        r = ek_seterr(ctx, EK_ERR_CERT, "the certificate %s (thumbprint %s) "
                      "is not %s's: its public key differs, and Entra ID "
                      "would refuse the assertion (AADSTS700027); give the "
                      "certificate made for this key", cert->subject,
                      cert->thumbprint, name);
        goto out;
    }
    now = (int64_t)time(NULL);
    if ((r = cert_check_validity(ctx, cert, now)) != EK_OK ||
        (r = jose_uuid_v4(ctx, jti)) != EK_OK)
        goto out;

    memset(&a, 0, sizeof a);
    a.alg = params->alg;
    if (a.alg == EK_ALG_PS256 && ek_key_mechanism(k, EK_ALG_PS256) == NULL) {
        /* as MSAL .NET does: RS256 with the SHA-1 thumbprint */
        ek_log(ctx, EK_LOG_WARN, "token '%s' cannot sign RSA-PSS; using "
               "RS256 (with x5t)", ek_key_token_label(k) != NULL ?
               ek_key_token_label(k) : "");
        a.alg = EK_ALG_RS256;
    }
    a.x5t_s256 = cert->x5t_s256;
    a.x5t = cert->x5t;
    a.aud = aud;
    a.client_id = params->client_id;
    a.jti = jti;
    a.now = now;
    a.lifetime = lifetime;
    ek_log(ctx, EK_LOG_INFO, "assertion for %s: aud %s, %s, x5t#S256 %s, "
           "valid %u s", params->client_id, aud, a.alg == EK_ALG_PS256 ?
           "PS256" : "RS256", cert->x5t_s256, lifetime);
    r = jose_assertion_sign(ctx, &a, cert_key_sign, &signer, jwtp);
out:
    free(aud);
    free(base);
    return r;
}
