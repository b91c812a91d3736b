/* entra_endpoint.c: where a token request goes, checked once by one rule
 * set: the tenant, the client id and the authority host become the token
 * endpoint's URL, which is also the client assertion's aud. And the form
 * that is posted there. The rules are in docs/exchange-online.md. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "entra.h"
#include "http.h"
#include "text.h"

#define DNS_NAME_MAX 253 /* RFC 1035 2.3.4, without the final dot */
#define DNS_LABEL_MAX 63

/* 8-4-4-4-12 hexadecimal digits, either case. */
int
entra_is_guid(const char *s)
{
    size_t i;

    for (i = 0; i < ENTRA_GUID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return s[i] == '\0';
}

/* Why name[0..n) is not a DNS name of letters, digits and hyphens (LDH,
 * RFC 1123 2.1), or NULL. Each label 1-63 characters, no hyphen at either
 * end of one; no empty label ("a..b", a dot at either end). */
static const char *
dns_name_problem(const char *name, size_t n, size_t *labels)
{
    size_t i, len = 0;

    *labels = 0;
    if (n == 0)
        return "it is empty";
    if (n > DNS_NAME_MAX)
        return "it is longer than a domain name can be (253 characters)";
    for (i = 0; i <= n; i++) {
        if (i == n || name[i] == '.') {
            if (len == 0)
                return "it has an empty label (a dot at the start or the "
                       "end, or two dots in a row)";
            if (name[i - 1] == '-' || name[i - len] == '-')
                return "a label starts or ends with a hyphen";
            (*labels)++;
            len = 0;
            continue;
        }
        if ((unsigned char)name[i] >= 0x80)
            return "it is not ASCII (give an internationalised name in its "
                   "xn-- form)";
        if (!isalnum((unsigned char)name[i]) && name[i] != '-')
            return "it has a character a domain name cannot have (only "
                   "letters, digits, hyphens and dots)";
        if (++len > DNS_LABEL_MAX)
            return "a label is longer than 63 characters";
    }
    return NULL;
}

ek_err
entra_check_tenant(struct ek_ctx *ctx, const char *tenant)
{
    static const char *const well_known[] = {"common", "organizations",
                                             "consumers"};
    const char *why, *last;
    char q[96];
    size_t i, labels, n;

    if (tenant == NULL || tenant[0] == '\0')
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "the tenant is missing: it is "
                         "the directory (tenant) ID, a GUID, or one of the "
                         "tenant's domains such as contoso.onmicrosoft.com");
    if (entra_is_guid(tenant))
        return EK_OK;
    text_quote(q, sizeof q, tenant);
    /* the client credentials grant acts as the app in one tenant: these
     * name no tenant, and MSAL warns against them for this grant */
    for (i = 0; i < sizeof well_known / sizeof well_known[0]; i++)
        if (strcasecmp(tenant, well_known[i]) == 0)
            return ek_seterr(ctx, EK_ERR_USAGE,
                             "the tenant '%s' names no "
                             "tenant: an app signs in to one tenant, named "
                             "by its directory (tenant) ID or one of its "
                             "domains",
                             q);
    n = strlen(tenant);
    why = dns_name_problem(tenant, n, &labels);
    if (why == NULL && labels < 2)
        why = "a tenant's domain has at least two labels, such as "
              "contoso.onmicrosoft.com";
    if (why == NULL) {
        last = strrchr(tenant, '.') + 1;
        if (strspn(last, "0123456789") == strlen(last))
            why = "its last label is a number (an IP address is not a "
                  "tenant)";
    }
    if (why != NULL)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "the tenant '%s' is not a GUID "
                         "or a domain name: %s",
                         q, why);
    return EK_OK;
}

ek_err
entra_check_client_id(struct ek_ctx *ctx, const char *client_id)
{
    char q[96];

    if (client_id == NULL || client_id[0] == '\0')
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "the client id is missing: it "
                         "is the application (client) ID of the app "
                         "registration, a GUID");
    if (!entra_is_guid(client_id))
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "the client id '%s' is not an "
                         "application (client) ID: Entra ID names every app "
                         "registration by a GUID such as "
                         "11111111-2222-3333-4444-555555555555",
                         text_quote(q, sizeof q, client_id));
    return EK_OK;
}

/* The host of an authority: a DNS name (one label is enough: localhost, a
 * private STS), an IPv4 address, or an IPv6 address in brackets. Copied
 * in lower case to out. NULL when it is fine, else why not. */
static const char *
host_problem(const char *host, size_t n, char *out)
{
    size_t i, labels;
    const char *why;

    if (n == 0)
        return "it has no host name";
    if (host[0] == '[') {
        if (n < 4 || n > 47 || host[n - 1] != ']' ||
            strspn(host + 1, "0123456789abcdefABCDEF:.") != n - 2 ||
            memchr(host, ':', n) == NULL)
            return "its IPv6 address in brackets is not one";
    } else if ((why = dns_name_problem(host, n, &labels)) != NULL) {
        return why;
    }
    for (i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)host[i]);
    out[n] = '\0';
    return NULL;
}

ek_err
entra_check_authority(struct ek_ctx *ctx, const char *authority,
                      char out[ENTRA_AUTHORITY_MAX + 1])
{
    char q[96], host[ENTRA_HOST_MAX + 1];
    const char *rest, *end, *colon = NULL, *why = NULL;
    unsigned long port = 0;
    size_t n, hn, i;

    out[0] = '\0';
    if (authority == NULL || authority[0] == '\0')
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "the authority host is empty; "
                         "it is an https:// URL such as "
                         "https://login.microsoftonline.com");
    /* a password is never quoted back, nor sent anywhere */
    if (strchr(authority, '@') != NULL)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "the authority host has a user "
                         "name or password in it (an '@'; not shown here): "
                         "it would reach the server and the assertion; give "
                         "only https://host[:port]");
    text_quote(q, sizeof q, authority);
    /* a bare host means https, as the Azure SDKs read
     * AZURE_AUTHORITY_HOST; any other scheme is refused */
    if (strstr(authority, "://") == NULL)
        rest = authority;
    else if (strncasecmp(authority, "https://", 8) == 0)
        rest = authority + 8;
    else
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "the authority host '%s' is not "
                         "an https:// URL; the token endpoint is reached "
                         "over HTTPS only (e.g. "
                         "https://login.microsoftonline.com)",
                         q);
    n = strcspn(rest, "/?#");
    end = rest + n;
    /* one trailing slash is the same URL; anything after it is a path */
    if (end[0] != '\0' && !(end[0] == '/' && end[1] == '\0'))
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "the authority host '%s' has a "
                         "path, query or fragment; give only "
                         "https://host[:port]: the token endpoint's path "
                         "(/TENANT/oauth2/v2.0/token) is added to it",
                         q);
    if (n > 0 && rest[0] == '[') {
        const char *rb = memchr(rest, ']', n);

        if (rb != NULL && rb + 1 < end && rb[1] == ':')
            colon = rb + 1;
        else if (rb != NULL && rb + 1 != end)
            why = "its IPv6 address in brackets is not one";
    } else {
        colon = memchr(rest, ':', n);
    }
    hn = colon != NULL ? (size_t)(colon - rest) : n;
    if (why == NULL && hn > ENTRA_HOST_MAX)
        why = "it is longer than a domain name can be (253 characters)";
    if (why == NULL)
        why = host_problem(rest, hn, host);
    if (why == NULL && colon != NULL) {
        for (i = 1; colon + i < end && i <= 6; i++) {
            if (!isdigit((unsigned char)colon[i]))
                break;
            port = port * 10 + (unsigned long)(colon[i] - '0');
        }
        if (colon + i != end || i == 1 || port == 0 || port > 65535)
            why = "its port is not a number from 1 to 65535";
    }
    if (why != NULL)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "the authority host '%s' is not "
                         "https://host[:port]: %s",
                         q, why);
    /* scheme and host in lower case, the default port left out (RFC 3986
     * 6.2.2, 6.2.3): the URL posted to and the aud Entra ID compares are
     * the normal form of what was given */
    if (port != 0 && port != 443)
        /* port <= 65535 was checked; the mask tells the compiler so */
        snprintf(out, ENTRA_AUTHORITY_MAX + 1, "https://%s:%u", host,
                 (unsigned)(port & 0xffffu));
    else
        snprintf(out, ENTRA_AUTHORITY_MAX + 1, "https://%s", host);
    return EK_OK;
}

ek_err
entra_endpoint_init(struct ek_ctx *ctx, struct entra_endpoint *ep,
                    const char *tenant, const char *client_id,
                    enum ek_cloud cloud, const char *authority_host)
{
    ek_err r;

    memset(ep, 0, sizeof *ep);
    if ((r = entra_check_tenant(ctx, tenant)) != EK_OK ||
        (r = entra_check_client_id(ctx, client_id)) != EK_OK)
        return r;
    if (entra_cloud_name(cloud) == NULL)
        return ek_seterr(ctx, EK_ERR_USAGE, "unknown cloud %d", (int)cloud);
    if (authority_host == NULL || authority_host[0] == '\0')
        authority_host = ek_cloud_authority_host(cloud);
    if ((r = entra_check_authority(ctx, authority_host, ep->authority)) !=
        EK_OK)
        return r;
    snprintf(ep->tenant, sizeof ep->tenant, "%s", tenant);
    snprintf(ep->client_id, sizeof ep->client_id, "%s", client_id);
    snprintf(ep->token_url, sizeof ep->token_url, "%s/%s/oauth2/v2.0/token",
             ep->authority, ep->tenant);
    return EK_OK;
}

/* Appends str URL-encoded (RFC 3986 unreserved characters kept). */
static ek_err
form_append(struct ek_ctx *ctx, struct ek_secret *s, const char *str)
{
    static const char hex[] = "0123456789ABCDEF";
    char enc[3];
    unsigned char c;
    ek_err r;

    for (; *str != '\0'; str++) {
        c = (unsigned char)*str;
        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            r = ek_secret_append(ctx, s, str, 1);
        } else {
            enc[0] = '%';
            enc[1] = hex[c >> 4];
            enc[2] = hex[c & 0x0f];
            r = ek_secret_append(ctx, s, enc, 3);
        }
        if (r != EK_OK)
            return r;
    }
    return EK_OK;
}

void
entra_request_init(struct http_request *req, const char *url,
                   const char *ca_file, unsigned timeout, const char *crid)
{
    memset(req, 0, sizeof *req);
    req->url = url;
    req->ca_file = ca_file;
    req->timeout = timeout != 0 ? timeout : ENTRA_DEFAULT_TIMEOUT;
    req->client_request_id = crid;
}

ek_err
entra_build_form(struct ek_ctx *ctx, const char *client_id, const char *scope,
                 const char *assertion, struct ek_secret **formp)
{
    return entra_build_form_room(ctx, client_id, scope, assertion, 0, formp);
}

ek_err
entra_build_form_room(struct ek_ctx *ctx, const char *client_id,
                      const char *scope, const char *assertion, size_t room,
                      struct ek_secret **formp)
{
    struct ek_secret *f = NULL;
    ek_err r = EK_ERR_INTERNAL;

    *formp = NULL;
    if (room > SIZE_MAX / 2)
        return ek_seterr_oom(ctx);
    if ((r = ek_secret_new(ctx,
                           strlen(assertion) + 3 * strlen(client_id) +
                               3 * strlen(scope) + 256 + room,
                           &f)) != EK_OK)
        goto out;
    if ((r = ek_secret_append_str(ctx, f,
                                  "grant_type=client_credentials"
                                  "&client_id=")) != EK_OK ||
        (r = form_append(ctx, f, client_id)) != EK_OK ||
        (r = ek_secret_append_str(ctx, f, "&scope=")) != EK_OK ||
        (r = form_append(ctx, f, scope)) != EK_OK ||
        (r = ek_secret_append_str(ctx, f,
                                  "&client_assertion_type="
                                  "urn%3Aietf%3Aparams%3Aoauth%3A"
                                  "client-assertion-type%3Ajwt-bearer"
                                  "&client_assertion=")) != EK_OK ||
        (r = form_append(ctx, f, assertion)) != EK_OK)
        goto out;
    *formp = f;
    f = NULL;
    r = EK_OK;
out:
    ek_secret_free(&f);
    return r;
}
