/* cert_build.c: self-signed X.509 v3 certificates and PKCS#10 requests
 * whose signature is made by a digest-signing callback (the token). */
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cert.h"

/*
 * How the signature algorithm gets into the certificate. OpenSSL 3 has no
 * public setter for a certificate's two AlgorithmIdentifiers (the one in
 * the TBSCertificate and the outer one); only X509_sign / X509_sign_ctx
 * set them. So:
 *
 *   1. X509_sign_ctx signs the certificate once with a throw-away software
 *      RSA key, with the digest and padding we want. OpenSSL writes both
 *      AlgorithmIdentifiers itself (for PSS: the RFC 4055 parameters
 *      SHA-256, MGF1-SHA-256, salt 32, trailer 1), and nothing of that
 *      signature survives.
 *   2. i2d_re_X509_tbs gives the DER TBSCertificate; it is signed with
 *      SHA-256 on the token through the callback.
 *   3. Certificate ::= SEQUENCE { tbs, signatureAlgorithm, BIT STRING } is
 *      assembled with ASN1_put_object and parsed back with d2i_X509.
 *   4. X509_verify against the token key's public key: nothing is returned
 *      (so nothing written or stored) unless it verifies.
 *
 * CSRs go the same way (X509_REQ_sign_ctx, i2d_re_X509_REQ_tbs,
 * d2i_X509_REQ, X509_REQ_verify). Only public API; no RSA_METHOD, no raw
 * RSA, no const cast.
 */

#define THROWAWAY_BITS 1024 /* enough for PSS with SHA-256 and salt 32 */

static ek_err
ossl_fail(struct ek_ctx *ctx, ek_err code, const char *what)
{
    char reason[256];
    unsigned long e = ERR_peek_last_error();

    if (e != 0)
        ERR_error_string_n(e, reason, sizeof reason);
    else
        snprintf(reason, sizeof reason, "no detail from OpenSSL");
    ERR_clear_error();
    return ek_seterr(ctx, code, "%s: %s", what, reason);
}

/* A digest context that signs with a throw-away key, set up for alg. */
static ek_err
throwaway_ctx(struct ek_ctx *ctx, enum ek_alg alg, EVP_PKEY **keyp,
              EVP_MD_CTX **mdp)
{
    EVP_PKEY *key = NULL;
    EVP_MD_CTX *md = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    ek_err r = EK_ERR_INTERNAL;

    *keyp = NULL;
    *mdp = NULL;
    if ((key = EVP_RSA_gen(THROWAWAY_BITS)) == NULL ||
        (md = EVP_MD_CTX_new()) == NULL ||
        EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, key) != 1) {
        r = ossl_fail(ctx, EK_ERR_INTERNAL,
                      "cannot prepare the signature "
                      "algorithm (OpenSSL)");
        goto out;
    }
    if (alg == EK_ALG_PS256 &&
        (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) != 1 ||
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1)) {
        r = ossl_fail(ctx, EK_ERR_INTERNAL,
                      "cannot set RSA-PSS parameters "
                      "(OpenSSL)");
        goto out;
    }
    *keyp = key;
    *mdp = md;
    key = NULL;
    md = NULL;
    r = EK_OK;
out:
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    return r;
}

/* Signs tbs (with SHA-256) through the callback and assembles
 * SEQUENCE { tbs, alg, BIT STRING sig } (Certificate and
 * CertificationRequest share this shape). */
static ek_err
sign_and_assemble(struct ek_ctx *ctx, const unsigned char *tbs, size_t tbslen,
                  const X509_ALGOR *alg, enum ek_alg sigalg, jose_sign_fn *sign,
                  void *sign_arg, unsigned char **derp, size_t *lenp)
{
    unsigned char digest[32];
    unsigned char sig[2048];
    unsigned char *algder = NULL, *buf = NULL, *p;
    size_t siglen = sizeof sig;
    int alglen, bitlen, content, total;
    ek_err r = EK_ERR_INTERNAL;

    *derp = NULL;
    *lenp = 0;
    if (EVP_Digest(tbs, tbslen, digest, NULL, EVP_sha256(), NULL) != 1) {
        r = ossl_fail(ctx, EK_ERR_INTERNAL, "SHA-256 failed");
        goto out;
    }
    if ((r = sign(sign_arg, sigalg, tbs, tbslen, digest, sig, &siglen)) !=
        EK_OK)
        goto out;
    r = EK_ERR_INTERNAL;
    if (siglen == 0 || siglen > sizeof sig || tbslen > (1u << 24)) {
        r = ek_seterr(ctx, EK_ERR_INTERNAL,
                      "the signature has an "
                      "impossible length (%zu bytes)",
                      siglen);
        goto out;
    }
    if ((alglen = i2d_X509_ALGOR(alg, &algder)) <= 0) {
        r = ossl_fail(ctx, EK_ERR_INTERNAL,
                      "cannot encode the signature "
                      "algorithm");
        goto out;
    }
    bitlen = ASN1_object_size(0, (int)siglen + 1, V_ASN1_BIT_STRING);
    content = (int)tbslen + alglen + bitlen;
    total = ASN1_object_size(1, content, V_ASN1_SEQUENCE);
    if (bitlen <= 0 || total <= 0 ||
        (buf = ek_calloc(ctx, 1, (size_t)total)) == NULL)
        goto out;
    p = buf;
    ASN1_put_object(&p, 1, content, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
    memcpy(p, tbs, tbslen);
    p += tbslen;
    memcpy(p, algder, (size_t)alglen);
    p += alglen;
    ASN1_put_object(&p, 0, (int)siglen + 1, V_ASN1_BIT_STRING,
                    V_ASN1_UNIVERSAL);
    *p++ = 0; /* no unused bits */
    memcpy(p, sig, siglen);
    p += siglen;
    if (p != buf + total) {
        r = ek_seterr(ctx, EK_ERR_INTERNAL, "DER assembly is inconsistent");
        goto out;
    }
    *derp = buf;
    *lenp = (size_t)total;
    buf = NULL;
    r = EK_OK;
out:
    free(buf);
    OPENSSL_free(algder);
    return r;
}

static ek_err
add_ext(struct ek_ctx *ctx, X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
    X509_EXTENSION *ext;
    int ok;

    if ((ext = X509V3_EXT_conf_nid(NULL, v3, nid, value)) == NULL)
        return ossl_fail(ctx, EK_ERR_INTERNAL,
                         "cannot make a certificate "
                         "extension");
    ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    if (!ok)
        return ossl_fail(ctx, EK_ERR_INTERNAL,
                         "cannot add a certificate "
                         "extension");
    return EK_OK;
}

static ek_err
check_alg_days(struct ek_ctx *ctx, enum ek_alg alg, unsigned days)
{
    if (alg != EK_ALG_RS256 && alg != EK_ALG_PS256)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "unknown signature algorithm "
                         "%d; use rsa-pkcs1 or rsa-pss",
                         (int)alg);
    if (days > CERT_DAYS_MAX)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "a validity of %u days is too "
                         "long: from 1 to %u days",
                         days, CERT_DAYS_MAX);
    return EK_OK;
}

ek_err
cert_build(struct ek_ctx *ctx, EVP_PKEY *pub, const char *subject,
           unsigned days, enum ek_alg alg, int64_t now, jose_sign_fn *sign,
           void *sign_arg, X509 **x509p)
{
    X509_NAME *name = NULL;
    X509 *x = NULL, *out = NULL;
    EVP_PKEY *tmp = NULL;
    EVP_MD_CTX *md = NULL;
    BIGNUM *bn = NULL;
    X509V3_CTX v3;
    const X509_ALGOR *palg = NULL;
    const ASN1_BIT_STRING *psig = NULL;
    unsigned char serial[16];
    unsigned char *tbs = NULL, *der = NULL;
    const unsigned char *p;
    size_t derlen = 0;
    int tbslen;
    int64_t nb;
    ek_err r = EK_ERR_INTERNAL;

    *x509p = NULL;
    if ((r = check_alg_days(ctx, alg, days)) != EK_OK)
        goto out;
    if (days == 0)
        days = CERT_DAYS_DEFAULT;
    if ((r = cert_dn_parse(ctx, subject, &name)) != EK_OK)
        goto out;
    r = EK_ERR_INTERNAL;
    if (RAND_bytes(serial, sizeof serial) != 1) {
        r = ossl_fail(ctx, EK_ERR_INTERNAL, "no random serial number");
        goto out;
    }
    serial[0] &= 0x7f; /* positive */
    if (serial[0] == 0)
        serial[0] = 0x01; /* nonzero, and 16 bytes long */
    nb = now - CERT_BACKDATE;
    if ((x = X509_new()) == NULL || !X509_set_version(x, X509_VERSION_3) ||
        (bn = BN_bin2bn(serial, sizeof serial, NULL)) == NULL ||
        BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL ||
        !X509_set_subject_name(x, name) || !X509_set_issuer_name(x, name) ||
        ASN1_TIME_set(X509_getm_notBefore(x), (time_t)nb) == NULL ||
        ASN1_TIME_set(X509_getm_notAfter(x),
                      (time_t)(nb + (int64_t)days * 86400)) == NULL ||
        !X509_set_pubkey(x, pub)) {
        r = ossl_fail(ctx, EK_ERR_INTERNAL, "cannot fill in the certificate");
        goto out;
    }
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    X509V3_set_ctx_nodb(&v3);
    /* keyid:always: OpenSSL 3 leaves the AKI out of self-signed
     * certificates unless asked; Windows' certificates carry one */
    if ((r = add_ext(ctx, x, &v3, NID_basic_constraints,
                     "critical,CA:FALSE")) != EK_OK ||
        (r = add_ext(ctx, x, &v3, NID_key_usage,
                     "critical,digitalSignature")) != EK_OK ||
        (r = add_ext(ctx, x, &v3, NID_ext_key_usage, "clientAuth")) != EK_OK ||
        (r = add_ext(ctx, x, &v3, NID_subject_key_identifier, "hash")) !=
            EK_OK ||
        (r = add_ext(ctx, x, &v3, NID_authority_key_identifier,
                     "keyid:always")) != EK_OK)
        goto out;
    if ((r = throwaway_ctx(ctx, alg, &tmp, &md)) != EK_OK)
        goto out;
    r = EK_ERR_INTERNAL;
    if (X509_sign_ctx(x, md) <= 0) {
        r = ossl_fail(ctx, EK_ERR_INTERNAL,
                      "cannot set the signature "
                      "algorithm");
        goto out;
    }
    X509_get0_signature(&psig, &palg, x);
    if ((tbslen = i2d_re_X509_tbs(x, &tbs)) <= 0) {
        r = ossl_fail(ctx, EK_ERR_INTERNAL,
                      "cannot encode the "
                      "TBSCertificate");
        goto out;
    }
    if ((r = sign_and_assemble(ctx, tbs, (size_t)tbslen, palg, alg, sign,
                               sign_arg, &der, &derlen)) != EK_OK)
        goto out;
    p = der;
    if ((out = d2i_X509(NULL, &p, (long)derlen)) == NULL || p != der + derlen) {
        r = ossl_fail(ctx, EK_ERR_CERT,
                      "the assembled certificate does "
                      "not parse");
        goto out;
    }
    if (X509_verify(out, pub) != 1) {
        ERR_clear_error();
        r = ek_seterr(ctx, EK_ERR_CERT,
                      "the certificate signed on the token "
                      "does not verify with the key's public key: the token "
                      "signed with another key or a wrong padding; nothing "
                      "was written or stored");
        goto out;
    }
    *x509p = out;
    out = NULL;
    r = EK_OK;
out:
    X509_free(out);
    free(der);
    OPENSSL_free(tbs);
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(tmp);
    BN_free(bn);
    X509_free(x);
    X509_NAME_free(name);
    return r;
}

/* Asks a CA for what Entra ID needs: an end-entity client certificate. */
static ek_err
csr_extensions(struct ek_ctx *ctx, X509_REQ *req)
{
    STACK_OF(X509_EXTENSION) *exts = NULL;
    X509_EXTENSION *ext = NULL;
    static const struct {
        int nid;
        const char *value;
    } want[] = {
        {NID_basic_constraints, "critical,CA:FALSE"},
        {NID_key_usage, "critical,digitalSignature"},
        {NID_ext_key_usage, "clientAuth"},
    };
    size_t i;
    ek_err r = EK_ERR_INTERNAL;

    if ((exts = sk_X509_EXTENSION_new_null()) == NULL) {
        r = ek_seterr_oom(ctx);
        goto out;
    }
    for (i = 0; i < sizeof want / sizeof want[0]; i++) {
        if ((ext = X509V3_EXT_conf_nid(NULL, NULL, want[i].nid,
                                       want[i].value)) == NULL ||
            !sk_X509_EXTENSION_push(exts, ext)) {
            X509_EXTENSION_free(ext);
            r = ossl_fail(ctx, EK_ERR_INTERNAL,
                          "cannot make a request "
                          "extension");
            goto out;
        }
    }
    if (!X509_REQ_add_extensions(req, exts)) {
        r = ossl_fail(ctx, EK_ERR_INTERNAL, "cannot add request extensions");
        goto out;
    }
    r = EK_OK;
out:
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return r;
}

ek_err
cert_csr_build(struct ek_ctx *ctx, EVP_PKEY *pub, const char *subject,
               enum ek_alg alg, jose_sign_fn *sign, void *sign_arg,
               X509_REQ **reqp)
{
    X509_NAME *name = NULL;
    X509_REQ *req = NULL, *out = NULL;
    EVP_PKEY *tmp = NULL;
    EVP_MD_CTX *md = NULL;
    const X509_ALGOR *palg = NULL;
    const ASN1_BIT_STRING *psig = NULL;
    unsigned char *tbs = NULL, *der = NULL;
    const unsigned char *p;
    size_t derlen = 0;
    int tbslen;
    ek_err r = EK_ERR_INTERNAL;

    *reqp = NULL;
    if ((r = check_alg_days(ctx, alg, 0)) != EK_OK ||
        (r = cert_dn_parse(ctx, subject, &name)) != EK_OK)
        goto out;
    r = EK_ERR_INTERNAL;
    if ((req = X509_REQ_new()) == NULL ||
        !X509_REQ_set_version(req, X509_REQ_VERSION_1) ||
        !X509_REQ_set_subject_name(req, name) ||
        !X509_REQ_set_pubkey(req, pub)) {
        r = ossl_fail(ctx, EK_ERR_INTERNAL, "cannot fill in the request");
        goto out;
    }
    if ((r = csr_extensions(ctx, req)) != EK_OK ||
        (r = throwaway_ctx(ctx, alg, &tmp, &md)) != EK_OK)
        goto out;
    r = EK_ERR_INTERNAL;
    if (X509_REQ_sign_ctx(req, md) <= 0) {
        r = ossl_fail(ctx, EK_ERR_INTERNAL,
                      "cannot set the signature "
                      "algorithm");
        goto out;
    }
    X509_REQ_get0_signature(req, &psig, &palg);
    if ((tbslen = i2d_re_X509_REQ_tbs(req, &tbs)) <= 0) {
        r = ossl_fail(ctx, EK_ERR_INTERNAL, "cannot encode the request");
        goto out;
    }
    if ((r = sign_and_assemble(ctx, tbs, (size_t)tbslen, palg, alg, sign,
                               sign_arg, &der, &derlen)) != EK_OK)
        goto out;
    p = der;
    if ((out = d2i_X509_REQ(NULL, &p, (long)derlen)) == NULL ||
        p != der + derlen) {
        r = ossl_fail(ctx, EK_ERR_CERT,
                      "the assembled request does not "
                      "parse");
        goto out;
    }
    if (X509_REQ_verify(out, pub) != 1) {
        ERR_clear_error();
        r = ek_seterr(ctx, EK_ERR_CERT,
                      "the request signed on the token "
                      "does not verify with the key's public key; nothing "
                      "was written");
        goto out;
    }
    *reqp = out;
    out = NULL;
    r = EK_OK;
out:
    X509_REQ_free(out);
    free(der);
    OPENSSL_free(tbs);
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(tmp);
    X509_REQ_free(req);
    X509_NAME_free(name);
    return r;
}
