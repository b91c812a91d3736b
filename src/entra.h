/* entra.h: Entra ID, in six files that call downwards only:
 *   entra.c          the exchange with its retries; ek_access_token_acquire
 *   entra_early.c    its first try sent while the token signs
 *   assertion.c      the client assertion for a checked endpoint
 *   entra_endpoint.c tenant, client id, authority host -> token URL (= aud);
 *                    the form and the request
 *   entra_response.c the answer: the access token, errors, AADSTS hints
 *   entra_clouds.c   clouds, resources and algorithm names
 * (and http.c, http_date.c below them). Exposed for tests and fuzzing. */
#ifndef EK_ENTRA_H
#define EK_ENTRA_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "internal.h"

#define ENTRA_SKEW_WARN 120      /* seconds of clock skew worth a warning */
#define ENTRA_THROTTLE_RETRIES 3 /* 429/503 with Retry-After */
#define ENTRA_DEFAULT_TIMEOUT 30
#define ENTRA_DEFAULT_MAX_WAIT 60
#define ENTRA_DEFAULT_429_WAIT 5 /* a 429 without Retry-After */

#define ENTRA_GUID_LEN 36
#define ENTRA_TENANT_MAX 253 /* a GUID, or a domain name */
#define ENTRA_HOST_MAX 253
#define ENTRA_AUTHORITY_MAX (8 + ENTRA_HOST_MAX + 6) /* https://host:port */
#define ENTRA_URL_MAX                                                          \
    (ENTRA_AUTHORITY_MAX + 1 + ENTRA_TENANT_MAX + 18) /* /oauth2/v2.0/token */

/* ------------------------------------------------------ entra_clouds.c */

/* "global", "usgov"... or NULL for a value outside the enum. */
const char *entra_cloud_name(enum ek_cloud cloud);
/* "exo", "graph"... or NULL for a value outside the enum. */
const char *entra_resource_name(enum ek_resource r);

/* ---------------------------------------------------- entra_endpoint.c */

/* Where a token request goes: checked by entra_endpoint_init, the one
 * place where these rules live. token_url is what is posted to and what
 * the client assertion's aud says. */
struct entra_endpoint {
    char tenant[ENTRA_TENANT_MAX + 1];       /* as given */
    char client_id[ENTRA_GUID_LEN + 1];      /* as given */
    char authority[ENTRA_AUTHORITY_MAX + 1]; /* https://host[:port], normal */
    char token_url[ENTRA_URL_MAX + 1];       /* {authority}/{tenant}/oauth2/
                                                v2.0/token */
};

/* Checks the tenant, the client id and the authority host (NULL or "":
 * the cloud's), in that order, and fills ep. Errors: EK_ERR_USAGE with a
 * sentence naming what is wrong and why, in the library's terms. */
ek_err entra_endpoint_init(struct ek_ctx *ctx, struct entra_endpoint *ep,
                           const char *tenant, const char *client_id,
                           enum ek_cloud cloud, const char *authority_host);

/* The rules, one by one (entra_endpoint_init uses them; EK_ERR_USAGE).
 * Tenant: a GUID, or a domain name of two or more LDH labels whose last
 * label is not a number; not "common", "organizations", "consumers".
 * Client id: a GUID. Authority: https://host[:port] with an optional
 * trailing '/', no userinfo, path, query or fragment; written to out in
 * lower case without a default port. */
ek_err entra_check_tenant(struct ek_ctx *ctx, const char *tenant);
ek_err entra_check_client_id(struct ek_ctx *ctx, const char *client_id);
ek_err entra_check_authority(struct ek_ctx *ctx, const char *authority,
                             char out[ENTRA_AUTHORITY_MAX + 1]);
/* 1 when s is 8-4-4-4-12 hexadecimal digits. */
int entra_is_guid(const char *s);

/* The form body, in a secret: grant_type, client_id, scope,
 * client_assertion_type and client_assertion, URL-encoded. */
ek_err entra_build_form(struct ek_ctx *ctx, const char *client_id,
                        const char *scope, const char *assertion,
                        struct ek_secret **formp);
/* The same, with room for `room` more bytes appended to it without the
 * secret's buffer moving (an assertion's signature, appended while the
 * form is being sent). */
ek_err entra_build_form_room(struct ek_ctx *ctx, const char *client_id,
                             const char *scope, const char *assertion,
                             size_t room, struct ek_secret **formp);
/* A token request without its body: the URL, the CA file, the time limit
 * per try (ENTRA_DEFAULT_TIMEOUT when 0) and the correlation id
 * (client-request-id); the first try sent while the token signs and the
 * tries after the signature are set up alike. */
struct http_request;
void entra_request_init(struct http_request *req, const char *url,
                        const char *ca_file, unsigned timeout,
                        const char *crid);

/* ----------------------------------------------------------- assertion.c */

/* ek_assertion_sign for an endpoint entra_endpoint_init has checked (its
 * tenant, client_id, cloud and authority_host are not looked at again). */
struct assertion_tap;
ek_err assertion_sign_endpoint(struct ek_ctx *ctx, struct ek_key *k,
                               const struct entra_endpoint *ep,
                               const struct ek_assertion_params *params,
                               const struct assertion_tap *tap,
                               struct ek_secret **jwtp);
/* What assertion_sign_endpoint tells of the assertion before the token
 * signs it: the JWS signing input ("header.claims", base64url) and the
 * signature's length in bytes; called once, from the signing thread, just
 * before the token is asked (and so before a login). */
struct assertion_tap {
    void (*before_sign)(void *arg, const unsigned char *input, size_t len,
                        size_t siglen);
    void *arg;
};

/* ---------------------------------------------------- entra_response.c */

struct ek_access_token {
    struct ek_secret *value;
    char *type;
    char *scope;
    int64_t expires_in;
    int64_t ext_expires_in;
    int64_t expires_on;
};

/* Parses a token endpoint answer. HTTP 200 with the token fields: EK_OK
 * and *out (expires_on from the local clock). Otherwise: EK_ERR_ENTRA
 * (error, AADSTS text, error_codes and a hint), EK_ERR_NETWORK (not JSON,
 * malformed, no token, an access_token that is not printable ASCII without
 * spaces or quotes). Server text in a sentence is made safe (text.h).
 * Token strings are wiped from the parse tree. */
ek_err entra_parse_response(struct ek_ctx *ctx, long status,
                            const char *content_type, const char *body,
                            size_t len, struct ek_access_token **out);

/* The sentence for a 5xx that stayed a 5xx after tries attempts:
 * EK_ERR_NETWORK. */
ek_err entra_server_failure(struct ek_ctx *ctx, const char *url, long status,
                            const char *content_type, const char *body,
                            size_t len, int tries);

/* The hint for an AADSTS code, or NULL. */
const char *entra_hint(long code);

/* ------------------------------------------------------------- entra.c */

/* One exchange of a signed assertion for an access token. */
struct entra_early;
struct entra_exchange {
    const char *url; /* entra_endpoint.token_url */
    const char *client_id;
    const char *scope;
    const struct ek_secret *assertion; /* re-used on each retry */
    const char *ca_file;
    unsigned timeout;  /* per attempt; default when 0 */
    unsigned max_wait; /* default when 0 */
    /* the first attempt, sent while the token signed (entra.c), or NULL;
     * its correlation id is the request's */
    struct entra_early *first;
};

/* entra_early.c: the first attempt of a token request, sent while the
 * token signs. entra_early_start starts its thread, or leaves *ep NULL
 * (the request then goes after the signature): when the key's signature
 * needs no one and ENTRAKEY_EARLY_POST is not 0. entra_early_before_sign
 * is the assertion_tap (arg: the entra_early). entra_early_after_sign
 * gives it the finished JWT, or NULL when the signature failed (the
 * transfer then stops before the body is whole); entra_early_going says
 * whether the attempt goes on, entra_early_crid its correlation id (the
 * request's). entra_early_result waits for the attempt and gives its result
 * as http_post_form would (the error sentence on ctx). entra_early_free
 * stops what is left and waits for the thread; NULL-safe. */
struct http_response;
ek_err entra_early_start(struct ek_ctx *ctx, struct ek_key *k,
                         const struct entra_endpoint *ep,
                         const struct ek_access_token_params *params,
                         const char *scope, struct entra_early **ep_out);
void entra_early_before_sign(void *arg, const unsigned char *input, size_t len,
                             size_t siglen);
void entra_early_after_sign(struct entra_early *e, const struct ek_secret *jwt);
ek_err entra_early_result(struct ek_ctx *ctx, struct entra_early *e,
                          struct http_response *resp);
int entra_early_going(const struct entra_early *e);
const char *entra_early_crid(const struct entra_early *e);
void entra_early_free(struct entra_early **ep);

/* POSTs the client-credentials form, retrying as ek_access_token_acquire
 * says, and parses the answer. Errors: those of ek_access_token_acquire. */
ek_err entra_exchange(struct ek_ctx *ctx, const struct entra_exchange *x,
                      struct ek_access_token **tokp);

/* Why s is not a plausible access token or token type (printable ASCII
 * without spaces, quotes or backslashes), in why; 0 when it is one. */
int entra_token_chars_bad(const char *s, char *why, size_t whysz);
/* Whether a JSON body holds an escaped NUL (\u0000), which cJSON decodes
 * into a string where it silently ends it. */
int entra_json_has_nul(const char *body, size_t len);

/* The agent's answers (agent_client.c), apart from the socket for their
 * fuzzer: the body of an answer with HTTP status `status` (libcurl read
 * it) as the token or the assertion on 200, or else the agent's error
 * (EK_ERR_NO_AGENT when it is not one). */
ek_err ek_agent_answer_token(struct ek_ctx *ctx, const char *sock, long status,
                             const char *buf, size_t len,
                             struct ek_access_token **tokp);
ek_err ek_agent_answer_assertion(struct ek_ctx *ctx, const char *sock,
                                 long status, const char *buf, size_t len,
                                 struct ek_secret **jwtp);

#endif /* EK_ENTRA_H */
