/* cert.c: the certificate object (parsing, thumbprints, files, the
 * keyCredentials JSON) and the public ek_cert_* and ek_csr_create calls. */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cert.h"
#include "jose.h"

/* ------------------------------------------------------------ key helpers */

ek_err
cert_key_check(struct ek_ctx *ctx, const struct ek_key *k)
{
    /* one context per call: the key's errors land on the key's context,
     * so a call given another context would lose them */
    if (k != NULL && tok_key_ctx(k) != ctx)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "the key was opened with "
                         "another context; use the context it belongs to");
    return EK_OK;
}

ek_err
cert_key_sign(void *signer, enum ek_alg alg, const unsigned char *data,
              size_t len, const unsigned char digest[32], unsigned char *sig,
              size_t *siglen)
{
    struct cert_signer *s = signer;

    (void)digest; /* ek_key_sign hashes on the host, or the token does */
    return ek_key_sign(s->key, alg, data, len, sig, siglen);
}

void
cert_key_name(const struct ek_key *k, char *buf, size_t len)
{
    const char *label = ek_key_label(k), *id = ek_key_id_hex(k);
    const char *tok = ek_key_token_label(k);

    snprintf(buf, len, "key '%s' (id %s) on token '%s'",
             label != NULL ? label : "",
             id != NULL && id[0] != '\0' ? id : "none", tok != NULL ? tok : "");
}

ek_err
cert_key_pubkey(struct ek_ctx *ctx, const struct ek_key *k, EVP_PKEY **pkeyp)
{
    const unsigned char *der = NULL, *p;
    size_t len = 0;
    EVP_PKEY *pkey;
    char name[512];
    ek_err r;

    *pkeyp = NULL;
    if ((r = ek_key_public_der(k, &der, &len)) != EK_OK)
        return r;
    p = der;
    if (der == NULL || (pkey = d2i_PUBKEY(NULL, &p, (long)len)) == NULL) {
        ERR_clear_error();
        cert_key_name(k, name, sizeof name);
        return ek_seterr(ctx, EK_ERR_TOKEN,
                         "the public key of %s cannot "
                         "be parsed",
                         name);
    }
    *pkeyp = pkey;
    return EK_OK;
}

/* ------------------------------------------------------------ the object */

void
cert_iso8601(int64_t t, char buf[32])
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL ||
        strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, 32, "%lld", (long long)t);
}

static int64_t
asn1_time_epoch(const ASN1_TIME *t)
{
    struct tm tm;

    memset(&tm, 0, sizeof tm);
    if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
        return 0;
    return (int64_t)timegm(&tm);
}

ek_err
cert_wrap(struct ek_ctx *ctx, X509 *x509, struct ek_cert **certp)
{
    struct ek_cert *c = NULL;
    unsigned char *der = NULL;
    unsigned char sha256[32];
    BIGNUM *bn = NULL;
    char *hex = NULL;
    const char *sigalg;
    EVP_PKEY *pub;
    int len, nid;
    ek_err r = EK_ERR_INTERNAL;

    *certp = NULL;
    if ((c = ek_calloc(ctx, 1, sizeof *c)) == NULL)
        goto out;
    c->x509 = x509;
    x509 = NULL;
    if ((len = i2d_X509(c->x509, &der)) <= 0) {
        r = ek_seterr(ctx, EK_ERR_CERT,
                      "the certificate cannot be encoded "
                      "as DER");
        goto out;
    }
    if ((c->der = ek_calloc(ctx, 1, (size_t)len)) == NULL)
        goto out;
    memcpy(c->der, der, (size_t)len);
    c->der_len = (size_t)len;
    if (EVP_Digest(c->der, c->der_len, c->sha1, NULL, EVP_sha1(), NULL) != 1 ||
        EVP_Digest(c->der, c->der_len, sha256, NULL, EVP_sha256(), NULL) != 1) {
        r = ek_seterr(ctx, EK_ERR_INTERNAL, "cannot hash the certificate");
        goto out;
    }
    ek_hex_encode(c->sha1, sizeof c->sha1, c->thumbprint, 1);
    jose_b64url_encode(c->sha1, sizeof c->sha1, c->x5t);
    jose_b64url_encode(sha256, sizeof sha256, c->x5t_s256);
    if ((c->subject = cert_name_string(ctx, X509_get_subject_name(c->x509))) ==
            NULL ||
        (c->issuer = cert_name_string(ctx, X509_get_issuer_name(c->x509))) ==
            NULL)
        goto out;
    if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(c->x509), NULL)) ==
            NULL ||
        (hex = BN_bn2hex(bn)) == NULL) {
        r = ek_seterr(ctx, EK_ERR_CERT,
                      "the certificate's serial number "
                      "cannot be read");
        goto out;
    }
    if ((c->serial_hex = ek_strdup(ctx, hex)) == NULL)
        goto out;
    nid = X509_get_signature_nid(c->x509);
    if (nid != NID_undef && (sigalg = OBJ_nid2ln(nid)) != NULL)
        snprintf(c->sigalg, sizeof c->sigalg, "%s", sigalg);
    else
        snprintf(c->sigalg, sizeof c->sigalg, "unknown");
    if ((pub = X509_get0_pubkey(c->x509)) != NULL)
        c->key_bits = (unsigned)EVP_PKEY_get_bits(pub);
    ERR_clear_error();
    c->not_before = asn1_time_epoch(X509_get0_notBefore(c->x509));
    c->not_after = asn1_time_epoch(X509_get0_notAfter(c->x509));
    *certp = c;
    c = NULL;
    r = EK_OK;
out:
    OPENSSL_free(hex);
    BN_free(bn);
    OPENSSL_free(der);
    X509_free(x509);
    ek_cert_free(&c);
    return r;
}

void
ek_cert_free(struct ek_cert **certp)
{
    struct ek_cert *c;

    if (certp == NULL || (c = *certp) == NULL)
        return;
    X509_free(c->x509);
    free(c->der);
    free(c->subject);
    free(c->issuer);
    free(c->serial_hex);
    free(c);
    *certp = NULL;
}

/* Parses DER or PEM; "what" names the source in messages. */
static ek_err
cert_parse(struct ek_ctx *ctx, const unsigned char *data, size_t len,
           const char *what, struct ek_cert **certp)
{
    X509 *x = NULL;
    BIO *bio = NULL;
    const unsigned char *p = data;
    char reason[256] = "";
    size_t i = 0;
    unsigned long e;

    *certp = NULL;
    if (data == NULL || len == 0)
        return ek_seterr(ctx, EK_ERR_CERT,
                         "%s is empty; give an X.509 "
                         "certificate in DER (.cer) or PEM",
                         what);
    if (len > CERT_FILE_MAX)
        return ek_seterr(ctx, EK_ERR_CERT,
                         "%s is larger than 1 MiB; it is "
                         "not a certificate",
                         what);
    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' ||
                       data[i] == '\n'))
        i++;
    /* PEM, also after explanatory text (openssl x509 -text writes it);
     * a DER certificate starts with a SEQUENCE tag */
    /* cppcheck-suppress knownConditionTrueFalse ; it loses i's bound */
    if ((len - i >= 10 && memcmp(data + i, "-----BEGIN", 10) == 0) ||
        (i < len && data[i] != 0x30 &&
         memmem(data, len, "-----BEGIN CERTIFICATE-----", 27) != NULL)) {
        if ((bio = BIO_new_mem_buf(data, (int)len)) != NULL)
            x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        BIO_free(bio);
    } else if ((x = d2i_X509(NULL, &p, (long)len)) != NULL && p != data + len) {
        X509_free(x);
        x = NULL;
        ERR_clear_error();
        return ek_seterr(ctx, EK_ERR_CERT,
                         "%s has %zu bytes after the "
                         "certificate; give one DER certificate (or PEM)",
                         what, len - (size_t)(p - data));
    }
    if (x == NULL) {
        if ((e = ERR_peek_last_error()) != 0)
            snprintf(reason, sizeof reason, ": %s",
                     ERR_reason_error_string(e) != NULL
                         ? ERR_reason_error_string(e)
                         : "unknown OpenSSL error");
        ERR_clear_error();
        return ek_seterr(ctx, EK_ERR_CERT,
                         "%s is not an X.509 certificate"
                         "%s; give a certificate in DER (.cer) or PEM "
                         "(-----BEGIN CERTIFICATE-----)",
                         what, reason);
    }
    return cert_wrap(ctx, x, certp);
}

ek_err
ek_cert_load(struct ek_ctx *ctx, const unsigned char *data, size_t len,
             struct ek_cert **certp)
{
    if (certp == NULL)
        return ek_seterr(ctx, EK_ERR_USAGE, "ek_cert_load: no result pointer");
    return cert_parse(ctx, data, len, "the certificate", certp);
}

ek_err
ek_cert_load_file(struct ek_ctx *ctx, const char *path, struct ek_cert **certp)
{
    unsigned char *data = NULL;
    size_t len = 0;
    char what[4200];
    ek_err r;

    if (certp == NULL || path == NULL)
        return ek_seterr(ctx, EK_ERR_USAGE, "no certificate file was given");
    *certp = NULL;
    if ((r = ek_file_read(ctx, path, CERT_FILE_MAX, &data, &len)) != EK_OK)
        return r;
    snprintf(what, sizeof what, "'%s'", path);
    r = cert_parse(ctx, data, len, what, certp);
    free(data);
    return r;
}

ek_err
ek_cert_from_key(struct ek_ctx *ctx, const struct ek_key *k,
                 struct ek_cert **certp)
{
    const unsigned char *der = NULL;
    size_t len = 0;
    char name[512];
    ek_err r;

    if (certp == NULL || k == NULL)
        return ek_seterr(ctx, EK_ERR_USAGE, "ek_cert_from_key: no key");
    *certp = NULL;
    if ((r = cert_key_check(ctx, k)) != EK_OK)
        return r;
    if ((r = ek_key_cert_der(k, &der, &len)) != EK_OK)
        return r;
    memcpy(name, "the certificate of ", 19);
    cert_key_name(k, name + 19, sizeof name - 19);
    return cert_parse(ctx, der, len, name, certp);
}

const char *
ek_cert_subject(const struct ek_cert *c)
{
    return c != NULL ? c->subject : NULL;
}

const char *
ek_cert_issuer(const struct ek_cert *c)
{
    return c != NULL ? c->issuer : NULL;
}

const char *
ek_cert_serial_hex(const struct ek_cert *c)
{
    return c != NULL ? c->serial_hex : NULL;
}

int64_t
ek_cert_not_before(const struct ek_cert *c)
{
    return c != NULL ? c->not_before : 0;
}

int64_t
ek_cert_not_after(const struct ek_cert *c)
{
    return c != NULL ? c->not_after : 0;
}

const char *
ek_cert_thumbprint(const struct ek_cert *c)
{
    return c != NULL ? c->thumbprint : NULL;
}

const char *
ek_cert_x5t(const struct ek_cert *c)
{
    return c != NULL ? c->x5t : NULL;
}

const char *
ek_cert_x5t_s256(const struct ek_cert *c)
{
    return c != NULL ? c->x5t_s256 : NULL;
}

const char *
ek_cert_sigalg(const struct ek_cert *c)
{
    return c != NULL ? c->sigalg : NULL;
}

unsigned
ek_cert_key_bits(const struct ek_cert *c)
{
    return c != NULL ? c->key_bits : 0;
}

ek_err
ek_cert_der(const struct ek_cert *c, const unsigned char **der, size_t *len)
{
    if (c == NULL || der == NULL || len == NULL)
        return EK_ERR_USAGE;
    *der = c->der;
    *len = c->der_len;
    return EK_OK;
}

int
cert_matches_pubkey(const struct ek_cert *c, EVP_PKEY *pub)
{
    EVP_PKEY *cpub;
    int eq;

    if (c == NULL || pub == NULL ||
        (cpub = X509_get0_pubkey(c->x509)) == NULL) {
        ERR_clear_error();
        return 0;
    }
    /* compares the key material, not the bytes of two encodings */
    eq = EVP_PKEY_eq(cpub, pub) == 1;
    ERR_clear_error();
    return eq;
}

int
ek_cert_matches_key(const struct ek_cert *c, const struct ek_key *k)
{
    const unsigned char *kder = NULL;
    unsigned char *cder = NULL;
    EVP_PKEY *pub = NULL;
    size_t klen = 0;
    int eq, clen;

    if (c == NULL || k == NULL)
        return 0;
    /* the same SubjectPublicKeyInfo bytes are the same key: decided without
     * decoding a key (OpenSSL 3's decoders cost a fifth of a signature) */
    if (ek_key_public_der(k, &kder, &klen) == EK_OK && kder != NULL &&
        (clen = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(c->x509), &cder)) > 0) {
        eq = (size_t)clen == klen && memcmp(cder, kder, klen) == 0;
        OPENSSL_free(cder);
        if (eq)
            return 1;
    }
    ERR_clear_error();
    /* other encodings (an RSASSA-PSS SPKI) may hold the same key */
    if (cert_key_pubkey(NULL, k, &pub) != EK_OK)
        return 0;
    eq = cert_matches_pubkey(c, pub);
    EVP_PKEY_free(pub);
    return eq;
}

ek_err
cert_check_validity(struct ek_ctx *ctx, const struct ek_cert *c, int64_t now)
{
    char when[32];

    if (now > c->not_after) {
        cert_iso8601(c->not_after, when);
        return ek_seterr(ctx, EK_ERR_CERT,
                         "the certificate %s (thumbprint "
                         "%s) expired on %s; Entra ID refuses assertions "
                         "made with it (AADSTS700027). Make a new "
                         "certificate for the key and upload it to the app "
                         "registration",
                         c->subject, c->thumbprint, when);
    }
    if (now < c->not_before) {
        cert_iso8601(c->not_before, when);
        return ek_seterr(ctx, EK_ERR_CERT,
                         "the certificate %s (thumbprint "
                         "%s) is not valid before %s; check this machine's "
                         "clock, or wait",
                         c->subject, c->thumbprint, when);
    }
    return EK_OK;
}

/* ------------------------------------------------------------ output */

ek_err
ek_cert_write(struct ek_ctx *ctx, const struct ek_cert *c, const char *path,
              enum ek_format fmt, unsigned flags)
{
    BIO *bio = NULL;
    char *data = NULL;
    long n;
    ek_err r = EK_ERR_INTERNAL;

    if (c == NULL || path == NULL)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "no certificate or no path to "
                         "write it to");
    if (fmt == EK_FORMAT_DER)
        return ek_file_write_atomic(ctx, path, c->der, c->der_len, 0644, flags);
    if (fmt != EK_FORMAT_PEM)
        return ek_seterr(ctx, EK_ERR_USAGE, "unknown certificate format %d",
                         (int)fmt);
    if ((bio = BIO_new(BIO_s_mem())) == NULL ||
        PEM_write_bio_X509(bio, c->x509) != 1 ||
        (n = BIO_get_mem_data(bio, &data)) <= 0) {
        ERR_clear_error();
        r = ek_seterr(ctx, EK_ERR_INTERNAL,
                      "cannot encode the certificate "
                      "as PEM");
        goto out;
    }
    r = ek_file_write_atomic(ctx, path, data, (size_t)n, 0644, flags);
out:
    BIO_free(bio);
    return r;
}

/* At most max characters of a UTF-8 string (never cutting a character). */
static size_t
utf8_prefix(const char *s, size_t max)
{
    size_t i = 0, chars = 0;

    while (s[i] != '\0' && chars < max) {
        i++;
        while (((unsigned char)s[i] & 0xc0) == 0x80)
            i++;
        chars++;
    }
    return i;
}

ek_err
ek_cert_manifest_json(struct ek_ctx *ctx, const struct ek_cert *c, char **jsonp)
{
    cJSON *o = NULL;
    char *thumb64 = NULL, *key64 = NULL, *name = NULL, *s = NULL;
    char uuid[JOSE_UUID_LEN + 1], start[32], end[32];
    size_t n;
    ek_err r = EK_ERR_INTERNAL;

    if (jsonp == NULL || c == NULL)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "ek_cert_manifest_json: no "
                         "certificate");
    *jsonp = NULL;
    if ((r = jose_uuid_v4(ctx, uuid)) != EK_OK)
        goto out;
    r = EK_ERR_INTERNAL;
    if ((thumb64 = jose_b64_encode(ctx, c->sha1, sizeof c->sha1)) == NULL ||
        (key64 = jose_b64_encode(ctx, c->der, c->der_len)) == NULL)
        goto out;
    /* Graph caps displayName at 90 characters */
    n = utf8_prefix(c->subject, 90);
    if ((name = ek_calloc(ctx, 1, n + 1)) == NULL)
        goto out;
    memcpy(name, c->subject, n);
    cert_iso8601(c->not_before, start);
    cert_iso8601(c->not_after, end);
    if ((o = cJSON_CreateObject()) == NULL ||
        cJSON_AddStringToObject(o, "customKeyIdentifier", thumb64) == NULL ||
        cJSON_AddStringToObject(o, "keyId", uuid) == NULL ||
        cJSON_AddStringToObject(o, "type", "AsymmetricX509Cert") == NULL ||
        cJSON_AddStringToObject(o, "usage", "Verify") == NULL ||
        cJSON_AddStringToObject(o, "key", key64) == NULL ||
        cJSON_AddStringToObject(o, "displayName", name) == NULL ||
        cJSON_AddStringToObject(o, "startDateTime", start) == NULL ||
        cJSON_AddStringToObject(o, "endDateTime", end) == NULL ||
        (s = cJSON_Print(o)) == NULL) {
        r = ek_seterr_oom(ctx);
        goto out;
    }
    /* the caller frees with ek_free (free), not cJSON_free */
    if ((*jsonp = ek_strdup(ctx, s)) == NULL)
        goto out;
    r = EK_OK;
out:
    cJSON_free(s);
    cJSON_Delete(o);
    free(name);
    free(key64);
    free(thumb64);
    return r;
}

/* ------------------------------------------------------------ on the token */

/* The DER of the certificate's subject, for CKA_SUBJECT. */
static ek_err
store(struct ek_ctx *ctx, struct ek_key *k, const struct ek_cert *c, int force)
{
    unsigned char *subj = NULL;
    int n;
    ek_err r;

    if ((n = i2d_X509_NAME(X509_get_subject_name(c->x509), &subj)) <= 0) {
        ERR_clear_error();
        return ek_seterr(ctx, EK_ERR_CERT,
                         "the certificate's subject cannot "
                         "be encoded");
    }
    r = tok_key_store_cert(k, c->der, c->der_len, subj, (size_t)n, force);
    OPENSSL_free(subj);
    return r;
}

/* A token that cannot make the signature asked for is told before the
 * PIN is asked for, in the words of the cert commands. */
static ek_err
check_mech(struct ek_ctx *ctx, const struct ek_key *k, enum ek_alg sig)
{
    char name[512];

    if (ek_key_mechanism(k, sig) != NULL)
        return EK_OK;
    cert_key_name(k, name, sizeof name);
    return ek_seterr(ctx, EK_ERR_MECHANISM,
                     "%s cannot make %s signatures "
                     "(the token offers no mechanism for them); use %s "
                     "signatures",
                     name, sig == EK_ALG_PS256 ? "RSA-PSS" : "PKCS#1 v1.5",
                     sig == EK_ALG_PS256 ? "PKCS#1 v1.5 (EK_ALG_RS256)"
                                         : "RSA-PSS (EK_ALG_PS256)");
}

/* EK_ERR_EXISTS before any signing when the key has a certificate. */
static ek_err
refuse_existing(struct ek_ctx *ctx, struct ek_key *k)
{
    const unsigned char *der = NULL;
    size_t len = 0;
    char name[512];
    ek_err r;

    if (tok_key_made_here(k))
        return EK_OK; /* ykcs11's placeholder, written by its keygen */
    r = ek_key_cert_der(k, &der, &len);
    if (r == EK_ERR_NOT_FOUND)
        return EK_OK;
    if (r != EK_OK)
        return r;
    cert_key_name(k, name, sizeof name);
    return ek_seterr(ctx, EK_ERR_EXISTS,
                     "%s already has a certificate; it "
                     "was left as it is (EK_WRITE_FORCE replaces it)%s",
                     name,
                     ek_key_in_piv_slot(k)
                         ? "; a YubiKey's keygen leaves a placeholder "
                           "certificate, and storing on a YubiKey also "
                           "needs the management key (the SO PIN source)"
                         : "");
}

ek_err
ek_cert_create(struct ek_ctx *ctx, struct ek_key *k,
               const struct ek_cert_params *params, struct ek_cert **certp)
{
    struct cert_signer signer = {ctx, k};
    struct ek_cert *c = NULL;
    EVP_PKEY *pub = NULL;
    X509 *x = NULL;
    ek_err r = EK_ERR_USAGE;

    if (certp == NULL || k == NULL)
        return ek_seterr(ctx, EK_ERR_USAGE, "ek_cert_create: no key");
    *certp = NULL;
    if ((r = cert_key_check(ctx, k)) != EK_OK)
        return r;
    if (params == NULL || params->subject == NULL ||
        params->subject[0] == '\0') {
        r = ek_seterr(ctx, EK_ERR_USAGE,
                      "a subject is required: a "
                      "distinguished name such as 'CN=ExchangeAuth'");
        goto out;
    }
    if (params->days > CERT_DAYS_MAX) {
        r = ek_seterr(ctx, EK_ERR_USAGE,
                      "a validity of %u days is too "
                      "long: from 1 to %u days",
                      params->days, CERT_DAYS_MAX);
        goto out;
    }
    /* before the PIN is asked for and anything is signed */
    if ((params->sig == EK_ALG_RS256 || params->sig == EK_ALG_PS256) &&
        (r = check_mech(ctx, k, params->sig)) != EK_OK)
        goto out;
    if (!(params->flags & (EK_CERT_NO_STORE | EK_WRITE_FORCE)) &&
        (r = refuse_existing(ctx, k)) != EK_OK)
        goto out;
    if ((r = cert_key_pubkey(ctx, k, &pub)) != EK_OK ||
        (r = cert_build(ctx, pub, params->subject, params->days, params->sig,
                        (int64_t)time(NULL), cert_key_sign, &signer, &x)) !=
            EK_OK ||
        (r = cert_wrap(ctx, x, &c)) != EK_OK)
        goto out;
    x = NULL; /* cert_wrap took it */
    ek_log(ctx, EK_LOG_INFO,
           "certificate %s (%s) signed on the token and "
           "verified with the key's public key; thumbprint %s",
           c->subject, c->sigalg, c->thumbprint);
    if (!(params->flags & EK_CERT_NO_STORE) &&
        (r = store(ctx, k, c, (params->flags & EK_WRITE_FORCE) != 0)) != EK_OK)
        goto out;
    *certp = c;
    c = NULL;
    r = EK_OK;
out:
    X509_free(x);
    ek_cert_free(&c);
    EVP_PKEY_free(pub);
    return r;
}

ek_err
ek_cert_import(struct ek_ctx *ctx, struct ek_key *k, const struct ek_cert *c,
               unsigned flags)
{
    EVP_PKEY *pub = NULL;
    char name[512];
    ek_err r;

    if (k == NULL || c == NULL)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "ek_cert_import: no key or "
                         "certificate");
    if ((r = cert_key_check(ctx, k)) != EK_OK)
        return r;
    if ((r = cert_key_pubkey(ctx, k, &pub)) != EK_OK)
        goto out;
    if (!cert_matches_pubkey(c, pub)) {
        cert_key_name(k, name, sizeof name);
        r = ek_seterr(ctx, EK_ERR_CERT,
                      "the certificate's public key is not "
                      "%s's: %s (thumbprint %s) was issued for another key; "
                      "nothing was stored",
                      name, c->subject, c->thumbprint);
        goto out;
    }
    if (!(flags & EK_WRITE_FORCE) && (r = refuse_existing(ctx, k)) != EK_OK)
        goto out;
    if (time(NULL) > c->not_after)
        ek_log(ctx, EK_LOG_WARN,
               "the certificate %s has expired; Entra ID "
               "will refuse it",
               c->subject);
    r = store(ctx, k, c, (flags & EK_WRITE_FORCE) != 0);
out:
    EVP_PKEY_free(pub);
    return r;
}

ek_err
ek_csr_create(struct ek_ctx *ctx, struct ek_key *k, const char *subject,
              enum ek_alg sig, const char *path, unsigned flags)
{
    struct cert_signer signer = {ctx, k};
    EVP_PKEY *pub = NULL;
    X509_REQ *req = NULL;
    BIO *bio = NULL;
    char *data = NULL;
    long n;
    ek_err r = EK_ERR_USAGE;

    if (k == NULL || path == NULL || path[0] == '\0')
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "a CSR needs a key and an "
                         "output file");
    if ((r = cert_key_check(ctx, k)) != EK_OK)
        return r;
    if (subject == NULL || subject[0] == '\0')
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "a subject is required: a "
                         "distinguished name such as 'CN=ExchangeAuth'");
    if (!(flags & EK_WRITE_FORCE) && access(path, F_OK) == 0)
        return ek_seterr(ctx, EK_ERR_EXISTS,
                         "'%s' exists and was left as "
                         "it is (EK_WRITE_FORCE replaces it)",
                         path);
    if (((sig == EK_ALG_RS256 || sig == EK_ALG_PS256) &&
         (r = check_mech(ctx, k, sig)) != EK_OK) ||
        (r = cert_key_pubkey(ctx, k, &pub)) != EK_OK ||
        (r = cert_csr_build(ctx, pub, subject, sig, cert_key_sign, &signer,
                            &req)) != EK_OK)
        goto out;
    if ((bio = BIO_new(BIO_s_mem())) == NULL ||
        PEM_write_bio_X509_REQ(bio, req) != 1 ||
        (n = BIO_get_mem_data(bio, &data)) <= 0) {
        ERR_clear_error();
        r = ek_seterr(ctx, EK_ERR_INTERNAL,
                      "cannot encode the request as "
                      "PEM");
        goto out;
    }
    r = ek_file_write_atomic(ctx, path, data, (size_t)n, 0644, flags);
out:
    BIO_free(bio);
    X509_REQ_free(req);
    EVP_PKEY_free(pub);
    return r;
}
