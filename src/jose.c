/* jose.c: base64url, UUID v4 and the JWT client assertion (header, claims,
 * one SHA-256 of "header.payload", the signature made by a callback). */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "jose.h"

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
jose_b64url_len(size_t n)
{
    return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

/* The base64 of in with the given alphabet; padded with '=' if pad. */
static void
b64_encode(const char *alphabet, int pad, const unsigned char *in, size_t n,
           char *out)
{
    size_t i, o = 0;
    unsigned long v;

    for (i = 0; i + 3 <= n; i += 3) {
        v = (unsigned long)in[i] << 16 | (unsigned long)in[i + 1] << 8 |
            in[i + 2];
        out[o++] = alphabet[v >> 18 & 0x3f];
        out[o++] = alphabet[v >> 12 & 0x3f];
        out[o++] = alphabet[v >> 6 & 0x3f];
        out[o++] = alphabet[v & 0x3f];
    }
    if (n - i == 1) {
        v = (unsigned long)in[i] << 16;
        out[o++] = alphabet[v >> 18 & 0x3f];
        out[o++] = alphabet[v >> 12 & 0x3f];
        if (pad) {
            out[o++] = '=';
            out[o++] = '=';
        }
    } else if (n - i == 2) {
        v = (unsigned long)in[i] << 16 | (unsigned long)in[i + 1] << 8;
        out[o++] = alphabet[v >> 18 & 0x3f];
        out[o++] = alphabet[v >> 12 & 0x3f];
        out[o++] = alphabet[v >> 6 & 0x3f];
        if (pad)
            out[o++] = '=';
    }
    out[o] = '\0';
}

void
jose_b64url_encode(const unsigned char *in, size_t n, char *out)
{
    b64_encode(b64url_alphabet, 0, in, n, out);
}

char *
jose_b64_encode(struct ek_ctx *ctx, const unsigned char *in, size_t n)
{
    char *out;

    if (n > SIZE_MAX / 2) {
        ek_seterr_oom(ctx);
        return NULL;
    }
    if ((out = ek_calloc(ctx, 1, (n + 2) / 3 * 4 + 1)) == NULL)
        return NULL;
    b64_encode(b64_alphabet, 1, in, n, out);
    return out;
}

static int
b64url_value(char c)
{
    const char *p;

    if (c == '\0' || (p = strchr(b64url_alphabet, c)) == NULL)
        return -1;
    return (int)(p - b64url_alphabet);
}

ek_err
jose_b64url_decode(struct ek_ctx *ctx, const char *in, size_t len,
                   unsigned char **outp, size_t *outlen)
{
    unsigned char *out = NULL;
    unsigned long acc = 0;
    size_t i, o = 0;
    int bits = 0, v;
    ek_err r = EK_ERR_USAGE;

    *outp = NULL;
    *outlen = 0;
    if (len % 4 == 1) {
        r = ek_seterr(ctx, EK_ERR_USAGE,
                      "base64url text of %zu characters "
                      "is truncated (a length of 4n+1 is impossible)",
                      len);
        goto out;
    }
    if ((out = ek_calloc(ctx, 1, len / 4 * 3 + 3)) == NULL) {
        r = EK_ERR_INTERNAL;
        goto out;
    }
    for (i = 0; i < len; i++) {
        if ((v = b64url_value(in[i])) < 0) {
            r = ek_seterr(ctx, EK_ERR_USAGE,
                          "not base64url: character %zu "
                          "is not A-Z, a-z, 0-9, '-' or '_'%s",
                          i, in[i] == '=' ? " (padding is not used)" : "");
            goto out;
        }
        acc = (acc << 6 | (unsigned long)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits & 0xff);
        }
    }
    /* the bits left over must be zero: one text, one value */
    if ((acc & ((1ul << bits) - 1)) != 0) {
        r = ek_seterr(ctx, EK_ERR_USAGE,
                      "not canonical base64url: the last "
                      "character has bits set that encode nothing");
        goto out;
    }
    out[o] = '\0';
    *outp = out;
    *outlen = o;
    out = NULL;
    r = EK_OK;
out:
    free(out);
    return r;
}

ek_err
jose_uuid_v4(struct ek_ctx *ctx, char out[JOSE_UUID_LEN + 1])
{
    unsigned char b[16];
    char hex[33];

    if (RAND_bytes(b, sizeof b) != 1)
        return ek_seterr(ctx, EK_ERR_INTERNAL,
                         "cannot make a UUID: OpenSSL's "
                         "random generator failed (RAND_bytes)");
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    ek_hex_encode(b, sizeof b, hex, 0);
    memcpy(out, hex, 8);
    out[8] = '-';
    memcpy(out + 9, hex + 8, 4);
    out[13] = '-';
    memcpy(out + 14, hex + 12, 4);
    out[18] = '-';
    memcpy(out + 19, hex + 16, 4);
    out[23] = '-';
    memcpy(out + 24, hex + 20, 12);
    out[36] = '\0';
    return EK_OK;
}

ek_err
jose_lifetime(struct ek_ctx *ctx, unsigned in, unsigned *out)
{
    if (in > JOSE_LIFETIME_MAX)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "an assertion lifetime of %u s "
                         "is too long: at most %u s is allowed (Entra ID "
                         "asks for 5-10 minutes); 0 means %u",
                         in, JOSE_LIFETIME_MAX, JOSE_LIFETIME_DEFAULT);
    *out = in == 0 ? JOSE_LIFETIME_DEFAULT : in;
    return EK_OK;
}

/* Prints a cJSON object compactly and appends its base64url to s. */
static ek_err
append_b64url_json(struct ek_ctx *ctx, struct ek_secret *s, cJSON *obj)
{
    char *json = NULL, *enc = NULL;
    size_t n;
    ek_err r = EK_ERR_INTERNAL;

    if ((json = cJSON_PrintUnformatted(obj)) == NULL) {
        r = ek_seterr_oom(ctx);
        goto out;
    }
    n = strlen(json);
    if ((enc = ek_calloc(ctx, 1, jose_b64url_len(n) + 1)) == NULL)
        goto out;
    jose_b64url_encode((const unsigned char *)json, n, enc);
    if ((r = ek_secret_append_str(ctx, s, enc)) != EK_OK)
        goto out;
    r = EK_OK;
out:
    if (json != NULL) {
        ek_wipe(json, strlen(json));
        cJSON_free(json);
    }
    if (enc != NULL) {
        ek_wipe(enc, strlen(enc));
        free(enc);
    }
    return r;
}

static int
missing(const char *s)
{
    return s == NULL || s[0] == '\0';
}

/* Encodes header and claims, hashes "header.payload" once with SHA-256,
 * has sign() sign it with alg, and returns the whole JWT in *jwtp. */
static ek_err
jose_sign_parts(struct ek_ctx *ctx, cJSON *hdr, cJSON *claims, enum ek_alg alg,
                jose_sign_fn *sign, void *sign_arg, struct ek_secret **jwtp)
{
    struct ek_secret *jwt = NULL;
    unsigned char digest[32];
    unsigned char sig[JOSE_SIG_MAX];
    char sigenc[JOSE_SIG_MAX / 3 * 4 + 8];
    size_t siglen = sizeof sig;
    ek_err r = EK_ERR_INTERNAL;

    if ((r = ek_secret_new(ctx, 1024, &jwt)) != EK_OK ||
        (r = append_b64url_json(ctx, jwt, hdr)) != EK_OK ||
        (r = ek_secret_append_str(ctx, jwt, ".")) != EK_OK ||
        (r = append_b64url_json(ctx, jwt, claims)) != EK_OK)
        goto out;
    /* the digest, for signers of digests; a token key is given the data
     * too, and ek_key_sign hashes it (or the token does) */
    if (EVP_Digest(jwt->buf, jwt->len, digest, NULL, EVP_sha256(), NULL) != 1) {
        r = ek_seterr(ctx, EK_ERR_INTERNAL,
                      "SHA-256 of the assertion "
                      "failed in OpenSSL");
        goto out;
    }
    if ((r = sign(sign_arg, alg, (const unsigned char *)jwt->buf, jwt->len,
                  digest, sig, &siglen)) != EK_OK)
        goto out;
    if (siglen == 0 || siglen > sizeof sig) {
        r = ek_seterr(ctx, EK_ERR_INTERNAL,
                      "the token returned a signature "
                      "of %zu bytes",
                      siglen);
        goto out;
    }
    jose_b64url_encode(sig, siglen, sigenc);
    if ((r = ek_secret_append_str(ctx, jwt, ".")) != EK_OK ||
        (r = ek_secret_append_str(ctx, jwt, sigenc)) != EK_OK)
        goto out;
    *jwtp = jwt;
    jwt = NULL;
    r = EK_OK;
out:
    ek_wipe(sigenc, sizeof sigenc);
    ek_wipe(sig, sizeof sig);
    ek_wipe(digest, sizeof digest);
    ek_secret_free(&jwt);
    return r;
}

ek_err
jose_sign_digest_only(void *signer, enum ek_alg alg, const unsigned char *data,
                      size_t len, const unsigned char digest[32],
                      unsigned char *sig, size_t *siglen)
{
    const struct jose_digest_signer *s = signer;

    (void)data;
    (void)len;
    return s->fn(s->arg, alg, digest, sig, siglen);
}

ek_err
jose_assertion_build(struct ek_ctx *ctx, const struct jose_assertion *a,
                     ek_sign_digest_fn *sign, void *sign_arg,
                     struct ek_secret **jwtp)
{
    struct jose_digest_signer s = {sign, sign_arg};

    return jose_assertion_sign(ctx, a, jose_sign_digest_only, &s, jwtp);
}

ek_err
jose_assertion_sign(struct ek_ctx *ctx, const struct jose_assertion *a,
                    jose_sign_fn *sign, void *sign_arg, struct ek_secret **jwtp)
{
    cJSON *hdr = NULL, *claims = NULL;
    unsigned lifetime = 0;
    ek_err r = EK_ERR_INTERNAL;

    *jwtp = NULL;
    if (a->alg != EK_ALG_PS256 && a->alg != EK_ALG_RS256) {
        r = ek_seterr(ctx, EK_ERR_USAGE,
                      "unknown signature algorithm %d; "
                      "use PS256 or RS256",
                      (int)a->alg);
        goto out;
    }
    if (missing(a->x5t_s256) || (a->alg == EK_ALG_RS256 && missing(a->x5t)) ||
        missing(a->aud) || missing(a->client_id) || missing(a->jti)) {
        r = ek_seterr(ctx, EK_ERR_USAGE,
                      "cannot build the assertion: a "
                      "thumbprint, the audience, the client id or the jti "
                      "is missing");
        goto out;
    }
    if ((r = jose_lifetime(ctx, a->lifetime, &lifetime)) != EK_OK)
        goto out;
    r = EK_ERR_INTERNAL;
    if ((hdr = cJSON_CreateObject()) == NULL ||
        cJSON_AddStringToObject(
            hdr, "alg", a->alg == EK_ALG_PS256 ? "PS256" : "RS256") == NULL ||
        cJSON_AddStringToObject(hdr, "typ", "JWT") == NULL ||
        cJSON_AddStringToObject(hdr, "x5t#S256", a->x5t_s256) == NULL ||
        (a->alg == EK_ALG_RS256 &&
         cJSON_AddStringToObject(hdr, "x5t", a->x5t) == NULL)) {
        r = ek_seterr_oom(ctx);
        goto out;
    }
    /* NumericDates as JSON integers: cJSON prints whole doubles below 2^53
     * without a fraction or exponent */
    if ((claims = cJSON_CreateObject()) == NULL ||
        cJSON_AddStringToObject(claims, "aud", a->aud) == NULL ||
        cJSON_AddStringToObject(claims, "iss", a->client_id) == NULL ||
        cJSON_AddStringToObject(claims, "sub", a->client_id) == NULL ||
        cJSON_AddStringToObject(claims, "jti", a->jti) == NULL ||
        cJSON_AddNumberToObject(claims, "nbf", (double)a->now) == NULL ||
        cJSON_AddNumberToObject(claims, "iat", (double)a->now) == NULL ||
        cJSON_AddNumberToObject(claims, "exp",
                                (double)(a->now + (int64_t)lifetime)) == NULL) {
        r = ek_seterr_oom(ctx);
        goto out;
    }
    r = jose_sign_parts(ctx, hdr, claims, a->alg, sign, sign_arg, jwtp);
out:
    cJSON_Delete(claims);
    cJSON_Delete(hdr);
    return r;
}

ek_err
jose_proof_sign(struct ek_ctx *ctx, const struct jose_proof *p,
                jose_sign_fn *sign, void *sign_arg, struct ek_secret **jwtp)
{
    cJSON *hdr = NULL, *claims = NULL;
    ek_err r = EK_ERR_USAGE;

    *jwtp = NULL;
    if (missing(p->x5t) || missing(p->kid) || missing(p->aud) ||
        missing(p->iss)) {
        r = ek_seterr(ctx, EK_ERR_USAGE,
                      "cannot build the proof: a "
                      "thumbprint, the audience or the object id is missing");
        goto out;
    }
    if (p->lifetime == 0 || p->lifetime > JOSE_PROOF_LIFETIME_MAX) {
        r = ek_seterr(ctx, EK_ERR_USAGE,
                      "a proof lifetime of %u s is "
                      "not allowed: Graph asks for at most %u s",
                      p->lifetime, JOSE_PROOF_LIFETIME_MAX);
        goto out;
    }
    r = EK_ERR_INTERNAL;
    /* the header Graph's own sample makes (X509SigningCredentials): RS256,
     * the SHA-1 thumbprint as x5t and as kid */
    if ((hdr = cJSON_CreateObject()) == NULL ||
        cJSON_AddStringToObject(hdr, "alg", "RS256") == NULL ||
        cJSON_AddStringToObject(hdr, "kid", p->kid) == NULL ||
        cJSON_AddStringToObject(hdr, "typ", "JWT") == NULL ||
        cJSON_AddStringToObject(hdr, "x5t", p->x5t) == NULL ||
        (claims = cJSON_CreateObject()) == NULL ||
        cJSON_AddStringToObject(claims, "aud", p->aud) == NULL ||
        cJSON_AddStringToObject(claims, "iss", p->iss) == NULL ||
        cJSON_AddNumberToObject(claims, "nbf", (double)p->now) == NULL ||
        cJSON_AddNumberToObject(claims, "iat", (double)p->now) == NULL ||
        cJSON_AddNumberToObject(
            claims, "exp", (double)(p->now + (int64_t)p->lifetime)) == NULL) {
        r = ek_seterr_oom(ctx);
        goto out;
    }
    r = jose_sign_parts(ctx, hdr, claims, EK_ALG_RS256, sign, sign_arg, jwtp);
out:
    cJSON_Delete(claims);
    cJSON_Delete(hdr);
    return r;
}
