/* verify.c: checks an assertion signed on the token against its
 * certificate, with OpenSSL alone (quickstart's local proof). */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "internal.h"
#include "jose.h"

/* Does the header's thumbprint (x5t#S256, else x5t) name this certificate? */
static int
header_names_cert(const cJSON *hdr, const struct ek_cert *cert)
{
    const cJSON *s256 = cJSON_GetObjectItemCaseSensitive(hdr, "x5t#S256");
    const cJSON *s1 = cJSON_GetObjectItemCaseSensitive(hdr, "x5t");

    if (cJSON_IsString(s256))
        return strcmp(s256->valuestring, ek_cert_x5t_s256(cert)) == 0;
    if (cJSON_IsString(s1))
        return strcmp(s1->valuestring, ek_cert_x5t(cert)) == 0;
    return 0;
}

ek_err
ek_assertion_verify(struct ek_ctx *ctx, const char *jwt,
                    const struct ek_cert *cert)
{
    const char *dot1, *dot2;
    unsigned char *hdr_raw = NULL, *sig = NULL;
    size_t hdr_len = 0, sig_len = 0, der_len = 0;
    const unsigned char *der = NULL, *p;
    cJSON *hdr = NULL;
    const cJSON *alg;
    X509 *x = NULL;
    EVP_PKEY *pub = NULL;
    EVP_MD_CTX *md = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    int pss;
    ek_err r = EK_ERR_USAGE;

    if (jwt == NULL || cert == NULL)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "no assertion or certificate "
                         "to verify");
    if ((dot1 = strchr(jwt, '.')) == NULL ||
        (dot2 = strchr(dot1 + 1, '.')) == NULL ||
        strchr(dot2 + 1, '.') != NULL) {
        r = ek_seterr(ctx, EK_ERR_USAGE,
                      "the assertion is not a JWT "
                      "(three base64url parts separated by dots)");
        goto out;
    }
    if ((r = jose_b64url_decode(ctx, jwt, (size_t)(dot1 - jwt), &hdr_raw,
                                &hdr_len)) != EK_OK ||
        (r = jose_b64url_decode(ctx, dot2 + 1, strlen(dot2 + 1), &sig,
                                &sig_len)) != EK_OK)
        goto out;
    r = EK_ERR_USAGE;
    if ((hdr = cJSON_ParseWithLength((const char *)hdr_raw, hdr_len)) == NULL ||
        !cJSON_IsString(alg = cJSON_GetObjectItemCaseSensitive(hdr, "alg"))) {
        r = ek_seterr(ctx, EK_ERR_USAGE,
                      "the assertion's header is not a "
                      "JSON object with an \"alg\"");
        goto out;
    }
    if (strcmp(alg->valuestring, "PS256") == 0)
        pss = 1;
    else if (strcmp(alg->valuestring, "RS256") == 0)
        pss = 0;
    else {
        r = ek_seterr(ctx, EK_ERR_USAGE,
                      "the assertion's alg '%s' is "
                      "neither PS256 nor RS256",
                      alg->valuestring);
        goto out;
    }
    if (!header_names_cert(hdr, cert)) {
        r = ek_seterr(ctx, EK_ERR_CERT,
                      "the assertion's thumbprint header "
                      "does not name certificate %s",
                      ek_cert_thumbprint(cert));
        goto out;
    }
    r = EK_ERR_INTERNAL;
    if (ek_cert_der(cert, &der, &der_len) != EK_OK)
        goto out;
    p = der;
    if ((x = d2i_X509(NULL, &p, (long)der_len)) == NULL ||
        (pub = X509_get_pubkey(x)) == NULL || (md = EVP_MD_CTX_new()) == NULL ||
        EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, pub) != 1) {
        r = ek_seterr(ctx, EK_ERR_CERT,
                      "cannot use the public key of "
                      "certificate %s",
                      ek_cert_thumbprint(cert));
        goto out;
    }
    if (pss &&
        (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) != 1 ||
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1)) {
        r = ek_seterr(ctx, EK_ERR_INTERNAL, "OpenSSL cannot set up RSA-PSS");
        goto out;
    }
    if (EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)jwt,
                         (size_t)(dot2 - jwt)) != 1) {
        r = ek_seterr(ctx, EK_ERR_CERT,
                      "the assertion's %s signature does "
                      "not verify with certificate %s: the key that signed "
                      "it is not the certificate's",
                      alg->valuestring, ek_cert_thumbprint(cert));
        goto out;
    }
    r = EK_OK;
out:
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pub);
    X509_free(x);
    cJSON_Delete(hdr);
    free(hdr_raw);
    free(sig);
    return r;
}
