/* entra.h: the Entra ID token request: form, exchange with retries, and the
 * parsers of what the token endpoint answers (exposed for tests, fuzzing). */
#ifndef EK_ENTRA_H
#define EK_ENTRA_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "internal.h"

#define ENTRA_SKEW_WARN 120        /* seconds of clock skew worth a warning */
#define ENTRA_THROTTLE_RETRIES 3   /* 429/503 with Retry-After */
#define ENTRA_DEFAULT_TIMEOUT 30
#define ENTRA_DEFAULT_MAX_WAIT 60
#define ENTRA_DEFAULT_429_WAIT 5   /* a 429 without Retry-After */

struct ek_access_token {
    struct ek_secret *value;
    char *type;
    char *scope;
    int64_t expires_in;
    int64_t ext_expires_in;
    int64_t expires_on;
};

/* One exchange of a signed assertion for an access token. */
struct entra_exchange {
    const char *url;                   /* {host}/{tenant}/oauth2/v2.0/token */
    const char *client_id;
    const char *scope;
    const struct ek_secret *assertion; /* re-used on each retry */
    const char *ca_file;
    unsigned timeout;                  /* per attempt; default when 0 */
    unsigned max_wait;                 /* default when 0 */
};

/* POSTs the client-credentials form, retrying as ek_token_acquire says,
 * and parses the answer. Errors: those of ek_token_acquire. */
ek_err entra_exchange(struct ek_ctx *ctx, const struct entra_exchange *x,
                      struct ek_access_token **tokp);

/* The form body, in a secret: grant_type, client_id, scope,
 * client_assertion_type and client_assertion, URL-encoded. */
ek_err entra_build_form(struct ek_ctx *ctx, const char *client_id,
                        const char *scope, const char *assertion,
                        struct ek_secret **formp);

/* "{host}/{tenant}/oauth2/v2.0/token" into a malloc'd string; host without
 * a trailing slash and https:// only. Errors: EK_ERR_USAGE. */
ek_err entra_token_url(struct ek_ctx *ctx, const char *host,
                       const char *tenant, char **urlp);

/* Checks --tenant (GUID or domain) and --client-id. EK_ERR_USAGE. */
ek_err entra_check_ids(struct ek_ctx *ctx, const char *tenant,
                       const char *client_id);

/* Parses a token endpoint answer. HTTP 200 with the token fields: EK_OK
 * and *out (expires_on from the local clock). Otherwise: EK_ERR_ENTRA
 * (error, AADSTS text, error_codes and a hint), EK_ERR_NETWORK (not JSON,
 * malformed, no token). Token strings are wiped from the parse tree. */
ek_err entra_parse_response(struct ek_ctx *ctx, long status,
                            const char *content_type, const char *body,
                            size_t len, struct ek_access_token **out);

/* Retry-After: delay-seconds or an HTTP-date (then relative to now, never
 * negative). 0 ok, -1 not understood. */
int entra_parse_retry_after(const char *value, time_t now, long *seconds);

/* An HTTP-date (IMF-fixdate, RFC 850 or asctime form, RFC 9110 5.6.7).
 * 0 ok, -1 not understood. */
int entra_parse_http_date(const char *value, time_t *t);

/* The hint for an AADSTS code, or NULL. skew: the clock skew known. */
const char *entra_hint(long code);

#endif /* EK_ENTRA_H */
