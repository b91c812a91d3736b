/* cert.h: X.509 certificates and CSRs signed through a digest-signing
 * callback (the cert module). */
#ifndef EK_CERT_H
#define EK_CERT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "internal.h"
#include "jose.h"

#define CERT_DAYS_DEFAULT 365u
#define CERT_DAYS_MAX 36500u
#define CERT_BACKDATE 300        /* notBefore = now - 5 min: clock skew */
#define CERT_FILE_MAX (1u << 20) /* certificate files are read up to 1 MiB */

struct ek_cert {
    X509 *x509;
    unsigned char *der;
    size_t der_len;
    char *subject; /* "CN=…, O=…" UTF-8, most specific first */
    char *issuer;
    char *serial_hex;    /* upper-case hex of the serial's bytes */
    char thumbprint[41]; /* SHA-1 of the DER, upper-case hex */
    char x5t[28];        /* base64url SHA-1 */
    char x5t_s256[44];   /* base64url SHA-256 */
    char sigalg[64];     /* "sha256WithRSAEncryption", "rsassaPss" */
    unsigned key_bits;
    int64_t not_before;
    int64_t not_after;
    unsigned char sha1[20];
};

/* Parses a distinguished name: "CN=…,O=…" (RFC 4514 order: the most
 * specific attribute first, so it is encoded last) or "/O=…/CN=…"
 * (OpenSSL's order: encoded as written). Values are UTF-8; a backslash
 * escapes the next character (',', '/', '=', '+', '\\'). Attribute types
 * are OpenSSL's short or long names (CN, O, OU, L, ST, C, DC, emailAddress,
 * serialNumber, …, also E and S as Windows writes them) or dotted OIDs.
 * Errors: EK_ERR_USAGE with the position, EK_ERR_INTERNAL. */
ek_err cert_dn_parse(struct ek_ctx *ctx, const char *dn, X509_NAME **namep);

/* A name as "CN=…, O=…" (UTF-8, RFC 2253 order), malloc'd. */
char *cert_name_string(struct ek_ctx *ctx, const X509_NAME *name);

/* The public key of a key on a token, as an EVP_PKEY the caller frees. */
ek_err cert_key_pubkey(struct ek_ctx *ctx, const struct ek_key *k,
                       EVP_PKEY **pkeyp);

/* Builds a self-signed X.509 v3 certificate for pub: serial of 16 random
 * bytes, validity [now - 5 min, + days], basicConstraints CA:FALSE and
 * keyUsage digitalSignature (both critical), extendedKeyUsage clientAuth,
 * subject and authority key identifiers. The TBSCertificate is signed by
 * sign() with SHA-256 (sha256WithRSAEncryption for RS256, RSASSA-PSS with
 * SHA-256/MGF1-SHA-256/salt 32 for PS256); the result is verified against
 * pub before it is returned (EK_ERR_CERT if it does not verify). */
ek_err cert_build(struct ek_ctx *ctx, EVP_PKEY *pub, const char *subject,
                  unsigned days, enum ek_alg alg, int64_t now,
                  jose_sign_fn *sign, void *sign_arg, X509 **x509p);

/* Builds a PKCS#10 request for pub with the subject, signed the same way
 * and verified with X509_REQ_verify. */
ek_err cert_csr_build(struct ek_ctx *ctx, EVP_PKEY *pub, const char *subject,
                      enum ek_alg alg, jose_sign_fn *sign, void *sign_arg,
                      X509_REQ **reqp);

/* Wraps an X509 (taking ownership, even on failure) into a struct ek_cert
 * with every string computed. */
ek_err cert_wrap(struct ek_ctx *ctx, X509 *x509, struct ek_cert **certp);

/* 1 when the certificate's SubjectPublicKeyInfo is pub's, else 0. */
int cert_matches_pubkey(const struct ek_cert *c, EVP_PKEY *pub);

/* Checks that now lies within the validity of c: EK_ERR_CERT saying
 * expired or not yet valid, naming the certificate and what to do. */
ek_err cert_check_validity(struct ek_ctx *ctx, const struct ek_cert *c,
                           int64_t now);

/* A jose_sign_fn over a key on a token (arg: struct cert_signer *). It
 * signs the data with ek_key_sign, so that every PS256 mechanism of the
 * documented order (docs/architecture.md) can be chosen,
 * CKM_SHA256_RSA_PKCS_PSS (which needs the data) included; the error sentence
 * is carried over to ctx. */
struct cert_signer {
    struct ek_ctx *ctx;
    struct ek_key *key;
};
ek_err cert_key_sign(void *signer, enum ek_alg alg, const unsigned char *data,
                     size_t len, const unsigned char digest[32],
                     unsigned char *sig, size_t *siglen);

/* EK_ERR_USAGE unless k belongs to ctx: one context per call, so that the
 * token layer's errors (set on the key's context) are ctx's. */
ek_err cert_key_check(struct ek_ctx *ctx, const struct ek_key *k);

/* "key 'LABEL' (id 01) on token 'T'" for messages. */
void cert_key_name(const struct ek_key *k, char *buf, size_t len);

/* Formats epoch seconds as "2026-11-27T04:22:45Z" into buf (21 bytes). */
void cert_iso8601(int64_t t, char buf[32]);

#endif /* EK_CERT_H */
