/* jose.h: base64url, UUIDs and JWT client assertions (the jose module). */
#ifndef EK_JOSE_H
#define EK_JOSE_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

#define JOSE_LIFETIME_DEFAULT 600u /* seconds, as every MSAL uses */
#define JOSE_LIFETIME_MAX 3600u
#define JOSE_UUID_LEN 36  /* "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" */
#define JOSE_SIG_MAX 2048 /* bytes: RSA up to 16384 bits */

/* The length of the unpadded base64url text of n bytes (without a NUL). */
size_t jose_b64url_len(size_t n);
/* Writes the unpadded base64url of n bytes and a NUL into out, which holds
 * jose_b64url_len(n) + 1 bytes. */
void jose_b64url_encode(const unsigned char *in, size_t n, char *out);
/* Decodes unpadded base64url (padding '=' is refused, as are characters
 * outside the alphabet and non-zero trailing bits) into a malloc'd buffer
 * that the caller frees; one NUL is added after the data, not counted.
 * Errors: EK_ERR_USAGE naming the offset, EK_ERR_INTERNAL. */
ek_err jose_b64url_decode(struct ek_ctx *ctx, const char *in, size_t len,
                          unsigned char **outp, size_t *outlen);
/* The standard, padded base64 (RFC 4648 §4) of n bytes, malloc'd; the
 * caller frees it. NULL when out of memory (the context says so). */
char *jose_b64_encode(struct ek_ctx *ctx, const unsigned char *in, size_t n);

/* A random (version 4) UUID in lower case, from RAND_bytes, into out
 * (JOSE_UUID_LEN + 1 bytes). Errors: EK_ERR_INTERNAL (no randomness). */
ek_err jose_uuid_v4(struct ek_ctx *ctx, char out[JOSE_UUID_LEN + 1]);

/* Checks an assertion lifetime: 0 gives JOSE_LIFETIME_DEFAULT, more than
 * JOSE_LIFETIME_MAX is EK_ERR_USAGE (naming --lifetime). */
ek_err jose_lifetime(struct ek_ctx *ctx, unsigned in, unsigned *out);

/* What goes into a client assertion. Every string is required except x5t,
 * which RS256 needs (the SHA-1 thumbprint header, for older verifiers). */
struct jose_assertion {
    enum ek_alg alg;
    const char *x5t_s256;  /* base64url SHA-256 of the certificate's DER */
    const char *x5t;       /* base64url SHA-1; RS256 only */
    const char *aud;       /* the token endpoint */
    const char *client_id; /* iss and sub */
    const char *jti;       /* a UUID */
    int64_t now;           /* nbf and iat */
    unsigned lifetime;     /* exp = now + lifetime; 0: the default */
};

/* Signs data with RS256 or PS256 semantics; digest is its SHA-256 (made
 * once, by the caller). A token key is given the data, because the token
 * may have to hash it itself (CKM_SHA256_RSA_PKCS_PSS, the second
 * PS256 choice); a software key needs only the digest. *siglen: buffer
 * size in, signature length out. */
typedef ek_err jose_sign_fn(void *arg, enum ek_alg alg,
                            const unsigned char *data, size_t len,
                            const unsigned char digest[32], unsigned char *sig,
                            size_t *siglen);

/* Signs a SHA-256 digest with RS256 or PS256 semantics: a software key
 * (the unit tests and the fuzz targets sign with one). */
typedef ek_err ek_sign_digest_fn(void *arg, enum ek_alg alg,
                                 const unsigned char digest[32],
                                 unsigned char *sig, size_t *siglen);

/* A jose_sign_fn over an ek_sign_digest_fn: arg is a struct
 * jose_digest_signer; the data is not used. */
struct jose_digest_signer {
    ek_sign_digest_fn *fn;
    void *arg;
};
ek_err jose_sign_digest_only(void *signer, enum ek_alg alg,
                             const unsigned char *data, size_t len,
                             const unsigned char digest[32], unsigned char *sig,
                             size_t *siglen);

/* Builds header and claims with cJSON, hashes "header.payload" once with
 * SHA-256, has sign() sign it (RS256 or PS256 as a->alg says) and returns
 * "header.payload.signature" in a secret the caller frees with
 * ek_secret_free. Errors: EK_ERR_USAGE (a missing field, the lifetime),
 * EK_ERR_INTERNAL, and whatever sign() returns. */
ek_err jose_assertion_sign(struct ek_ctx *ctx, const struct jose_assertion *a,
                           jose_sign_fn *sign, void *sign_arg,
                           struct ek_secret **jwtp);
/* The same with a signer of digests (a software key). */
ek_err jose_assertion_build(struct ek_ctx *ctx, const struct jose_assertion *a,
                            ek_sign_digest_fn *sign, void *sign_arg,
                            struct ek_secret **jwtp);

/* What goes into the proof of possession Microsoft Graph's addKey and
 * removeKey ask for (docs/rotation.md): RS256, with the certificate's SHA-1
 * thumbprint as x5t and kid; aud, iss (the application's object id), nbf,
 * iat and exp = now + lifetime. */
#define JOSE_PROOF_AUD "00000002-0000-0000-c000-000000000000"
#define JOSE_PROOF_LIFETIME_MAX 600u
struct jose_proof {
    const char *x5t; /* base64url SHA-1 of the certificate's DER */
    const char *kid; /* the SHA-1 thumbprint, upper-case hex */
    const char *aud;
    const char *iss; /* the application's object id */
    int64_t now;
    unsigned lifetime; /* 1 to JOSE_PROOF_LIFETIME_MAX */
};
/* Builds and signs the proof as jose_assertion_sign does an assertion.
 * Errors: EK_ERR_USAGE (a missing field, the lifetime), EK_ERR_INTERNAL,
 * and whatever sign() returns. */
ek_err jose_proof_sign(struct ek_ctx *ctx, const struct jose_proof *p,
                       jose_sign_fn *sign, void *sign_arg,
                       struct ek_secret **jwtp);

#endif /* EK_JOSE_H */
