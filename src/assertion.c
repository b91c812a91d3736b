/* assertion.c: ek_assertion_sign: the endpoint checked (entra_endpoint.c),
 * the certificate found, and a client assertion built by jose and signed
 * on the token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cert.h"
#include "entra.h"
#include "jose.h"

static void
cert_cache_free(void *cache)
{
    struct ek_cert *c = cache;

    ek_cert_free(&c);
}

/* The certificate on the token with the key's id. Parsed once per key and
 * kept on the key while its certificate DER stays the same: OpenSSL 3
 * decodes the public key of every certificate it parses through its
 * provider decoders, which costs a fifth of a SoftHSM signature, and a
 * loop of assertions would pay it every time. */
static ek_err
token_cert(struct ek_ctx *ctx, struct ek_key *k, const struct ek_cert **certp)
{
    const struct ek_cert *cached = tok_key_cache(k);
    const unsigned char *der = NULL;
    struct ek_cert *c = NULL;
    size_t len = 0;
    ek_err r;

    if (cached != NULL && ek_key_cert_der(k, &der, &len) == EK_OK &&
        cached->der_len == len && memcmp(cached->der, der, len) == 0) {
        *certp = cached;
        return EK_OK;
    }
    if ((r = ek_cert_from_key(ctx, k, &c)) != EK_OK)
        return r;
    tok_key_set_cache(k, c, cert_cache_free);
    *certp = c;
    return EK_OK;
}

ek_err
ek_assertion_sign(struct ek_ctx *ctx, struct ek_key *k,
                  const struct ek_assertion_params *params,
                  struct ek_secret **jwtp)
{
    struct entra_endpoint ep;
    ek_err r;

    if (jwtp == NULL || k == NULL || params == NULL)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "ek_assertion_sign: no key or "
                         "parameters");
    *jwtp = NULL;
    /* everything the caller gave is checked before the token is touched */
    if ((r = entra_endpoint_init(ctx, &ep, params->tenant, params->client_id,
                                 params->cloud, params->authority_host)) !=
        EK_OK)
        return r;
    return assertion_sign_endpoint(ctx, k, &ep, params, NULL, jwtp);
}

/* The token's signer, which tells the tap (if any) before the token
 * signs. */
struct tapped_signer {
    struct cert_signer inner;
    const struct assertion_tap *tap;
};

static ek_err
tapped_sign(void *arg, enum ek_alg alg, const unsigned char *data, size_t len,
            const unsigned char digest[32], unsigned char *sig, size_t *siglen)
{
    struct tapped_signer *t = arg;

    /* an RSA signature is as long as the modulus */
    if (t->tap != NULL)
        t->tap->before_sign(t->tap->arg, data, len,
                            ((size_t)ek_key_bits(t->inner.key) + 7) / 8);
    return cert_key_sign(&t->inner, alg, data, len, digest, sig, siglen);
}

ek_err
assertion_sign_endpoint(struct ek_ctx *ctx, struct ek_key *k,
                        const struct entra_endpoint *ep,
                        const struct ek_assertion_params *params,
                        const struct assertion_tap *tap,
                        struct ek_secret **jwtp)
{
    struct tapped_signer signer = {{ctx, k}, tap};
    struct jose_assertion a;
    const struct ek_cert *cert;
    char jti[JOSE_UUID_LEN + 1];
    char name[512];
    unsigned lifetime = 0;
    int64_t now;
    ek_err r = EK_ERR_USAGE;

    *jwtp = NULL;
    ctx->last_jti[0] = ctx->last_thumbprint[0] = '\0';
    if (params->alg != EK_ALG_PS256 && params->alg != EK_ALG_RS256)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "unknown algorithm %d; use PS256 "
                         "or RS256",
                         (int)params->alg);
    if ((r = jose_lifetime(ctx, params->lifetime, &lifetime)) != EK_OK)
        return r;

    /* the certificate: given, or the one on the token with the key's id */
    cert_key_name(k, name, sizeof name);
    if ((cert = params->cert) == NULL) {
        r = token_cert(ctx, k, &cert);
        if (r == EK_ERR_NOT_FOUND)
            r = ek_seterr(ctx, EK_ERR_NOT_FOUND,
                          "no certificate for %s: "
                          "store one with the key's id on its token, or give "
                          "the certificate",
                          name);
        if (r != EK_OK)
            return r;
    }
    if (!ek_cert_matches_key(cert, k))
        return ek_seterr(ctx, EK_ERR_CERT,
                         "the certificate %s (thumbprint "
                         "%s) is not %s's: its public key differs, and Entra "
                         "ID would refuse the assertion (AADSTS700027); give "
                         "the certificate made for this key",
                         cert->subject, cert->thumbprint, name);
    now = (int64_t)time(NULL);
    if ((r = cert_check_validity(ctx, cert, now)) != EK_OK ||
        (r = jose_uuid_v4(ctx, jti)) != EK_OK)
        return r;

    memset(&a, 0, sizeof a);
    a.alg = params->alg;
    if (a.alg == EK_ALG_PS256 && ek_key_mechanism(k, EK_ALG_PS256) == NULL) {
        /* as MSAL .NET does: RS256 with the SHA-1 thumbprint */
        ek_log(ctx, EK_LOG_WARN,
               "token '%s' cannot sign RSA-PSS; using "
               "RS256 (with x5t)",
               ek_key_token_label(k) != NULL ? ek_key_token_label(k) : "");
        a.alg = EK_ALG_RS256;
    }
    a.x5t_s256 = cert->x5t_s256;
    a.x5t = cert->x5t;
    a.aud = ep->token_url;
    a.client_id = ep->client_id;
    a.jti = jti;
    a.now = now;
    a.lifetime = lifetime;
    ek_log(ctx, EK_LOG_INFO,
           "assertion for %s: aud %s, %s, x5t#S256 %s, "
           "valid %u s",
           ep->client_id, ep->token_url,
           a.alg == EK_ALG_PS256 ? "PS256" : "RS256", cert->x5t_s256, lifetime);
    if ((r = jose_assertion_sign(ctx, &a, tapped_sign, &signer, jwtp)) != EK_OK)
        return r;
    snprintf(ctx->last_jti, sizeof ctx->last_jti, "%s", jti);
    snprintf(ctx->last_thumbprint, sizeof ctx->last_thumbprint, "%s",
             cert->thumbprint);
    return EK_OK;
}
