/* test_cert.c: DN parsing, certificates and CSRs signed through a software
 * key and checked with OpenSSL, thumbprints, files, the manifest entry. */
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "unit.h"
#include "cert.h"
#include "jose.h"

static EVP_PKEY *soft_key;  /* the "token" key */
static EVP_PKEY *other_key; /* a different key */
static char dir[256];

/* A jose_sign_fn over a software key: what the token does. It checks that
 * the digest it is given is the SHA-256 of the data. */
static ek_err
soft_sign(void *arg, enum ek_alg alg, const unsigned char *data, size_t len,
          const unsigned char digest[32], unsigned char *sig, size_t *siglen)
{
    unsigned char check[32];

    assert(data != NULL && len > 100);
    assert(EVP_Digest(data, len, check, NULL, EVP_sha256(), NULL) == 1);
    assert(memcmp(check, digest, 32) == 0);
    ut_soft_sign(arg, alg, digest, sig, siglen);
    return EK_OK;
}

/* ---------------------------------------------------------------- DNs */

static char *
dn_string(const char *dn)
{
    X509_NAME *name = NULL;
    char *s;

    assert(cert_dn_parse(NULL, dn, &name) == EK_OK);
    s = cert_name_string(NULL, name);
    assert(s != NULL);
    X509_NAME_free(name);
    return s;
}

static void
expect_dn(const char *dn, const char *want)
{
    char *s = dn_string(dn);

    if (strcmp(s, want) != 0) {
        fprintf(stderr, "DN '%s' gave '%s', expected '%s'\n", dn, s, want);
        assert(0);
    }
    free(s);
}

static void
test_dn_good(void)
{
    X509_NAME *a = NULL, *b = NULL;
    const X509_NAME_ENTRY *e;
    const ASN1_STRING *v;

    expect_dn("CN=ExchangeAuth", "CN=ExchangeAuth");
    expect_dn("CN=app,O=Contoso,C=DE", "CN=app, O=Contoso, C=DE");
    expect_dn("/C=DE/O=Contoso/CN=app", "CN=app, O=Contoso, C=DE");
    expect_dn("  CN = app ,  O = Contoso  ", "CN=app, O=Contoso");
    expect_dn("CN=a\\,b", "CN=a\\,b"); /* RFC 2253 escaping */
    expect_dn("/CN=a\\/b/O=x\\=y", "O=x=y, CN=a/b");
    expect_dn("CN=a/b", "CN=a/b");
    expect_dn("/CN=a,b", "CN=a\\,b");
    expect_dn("CN=x\\ ", "CN=x\\ "); /* an escaped space stays */
    expect_dn("cn=lower,e=a@example.com",
              "CN=lower, emailAddress=a@example.com");
    expect_dn("CN=x,S=Bayern,L=München", "CN=x, ST=Bayern, L=München");
    expect_dn("CN=x,DC=contoso,DC=com", "CN=x, DC=contoso, DC=com");
    expect_dn("commonName=x,2.5.4.10=y", "CN=x, O=y");
    expect_dn("CN=Jürgen Ø", "CN=Jürgen Ø"); /* UTF-8 as it is */

    /* comma form: most specific first, so CN is the last RDN encoded */
    assert(cert_dn_parse(NULL, "CN=app,O=Contoso", &a) == EK_OK);
    assert(cert_dn_parse(NULL, "/O=Contoso/CN=app", &b) == EK_OK);
    assert(X509_NAME_cmp(a, b) == 0);
    assert(X509_NAME_entry_count(a) == 2);
    e = X509_NAME_get_entry(a, 0);
    assert(OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)) == NID_organizationName);
    e = X509_NAME_get_entry(a, 1);
    assert(OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)) == NID_commonName);
    X509_NAME_free(a);
    X509_NAME_free(b);

    /* UTF-8 goes in as UTF8String with the bytes given */
    assert(cert_dn_parse(NULL, "CN=Jürgen Ø", &a) == EK_OK);
    v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(a, 0));
    assert(ASN1_STRING_type(v) == V_ASN1_UTF8STRING);
    assert(ASN1_STRING_length(v) == (int)strlen("Jürgen Ø"));
    assert(memcmp(ASN1_STRING_get0_data(v), "Jürgen Ø", strlen("Jürgen Ø")) ==
           0);
    X509_NAME_free(a);
}

/* RFC 4514: '+' joins values into one RDN; \XX is a byte in hex. Both
 * were taken literally once ("CN=a+UID=b" was one CN "a+UID=b"). */
static void
test_dn_rfc4514(void)
{
    X509_NAME *a = NULL, *b = NULL;
    const X509_NAME_ENTRY *e;
    const ASN1_STRING *v;

    assert(cert_dn_parse(NULL, "CN=app+UID=42,O=Contoso", &a) == EK_OK);
    assert(X509_NAME_entry_count(a) == 3);
    /* O alone first; CN and UID share the second RDN */
    e = X509_NAME_get_entry(a, 0);
    assert(OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)) == NID_organizationName);
    assert(X509_NAME_ENTRY_set(X509_NAME_get_entry(a, 1)) ==
           X509_NAME_ENTRY_set(X509_NAME_get_entry(a, 2)));
    assert(X509_NAME_ENTRY_set(X509_NAME_get_entry(a, 0)) !=
           X509_NAME_ENTRY_set(X509_NAME_get_entry(a, 1)));
    /* the slash form says the same */
    assert(cert_dn_parse(NULL, "/O=Contoso/CN=app+UID=42", &b) == EK_OK);
    assert(X509_NAME_cmp(a, b) == 0);
    X509_NAME_free(a);
    X509_NAME_free(b);
    expect_dn("OU=x+OU=y,DC=com", "OU=y + OU=x, DC=com");

    /* \2c is a comma, \C3\BC is ü: one CN, not two RDNs */
    assert(cert_dn_parse(NULL, "CN=R\\2c D J\\C3\\BCrgen,O=x", &a) == EK_OK);
    assert(X509_NAME_entry_count(a) == 2);
    v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(a, 1));
    assert(ASN1_STRING_length(v) == (int)strlen("R, D Jürgen"));
    assert(memcmp(ASN1_STRING_get0_data(v), "R, D Jürgen",
                  strlen("R, D Jürgen")) == 0);
    X509_NAME_free(a);
    expect_dn("CN=a\\+b", "CN=a\\+b"); /* an escaped '+' stays a '+' */
    expect_dn("CN=a\\2", "CN=a2");     /* not a hex pair: the character */
}

static void
expect_bad_dn(const char *dn, const char *msg)
{
    struct ek_ctx *ctx = NULL;
    X509_NAME *name = (X509_NAME *)1;

    assert(ek_ctx_new(&ctx) == EK_OK);
    assert(cert_dn_parse(ctx, dn, &name) == EK_ERR_USAGE);
    assert(name == NULL);
    if (strstr(ek_ctx_errmsg(ctx), msg) == NULL) {
        fprintf(stderr, "DN '%s': message '%s' lacks '%s'\n", dn,
                ek_ctx_errmsg(ctx), msg);
        assert(0);
    }
    ek_ctx_free(&ctx);
}

static void
test_dn_bad(void)
{
    expect_bad_dn("CN=x,,O=y", "DN 'CN=x,,O=y': empty component at "
                               "character 5");
    expect_bad_dn("CN=x,", "empty component at character 5");
    expect_bad_dn("CN=a+b", "no '=' in component 'b'");
    expect_bad_dn("CN=a+", "the DN ends with '+'");
    expect_bad_dn("CN=a\\00b", "would put a NUL in the value");
    expect_bad_dn("/CN=x//O=y", "empty component at character 6");
    expect_bad_dn("CN=x,Oy", "no '=' in component 'Oy' at character 5");
    expect_bad_dn("ExchangeAuth", "no '=' in component 'ExchangeAuth' at "
                                  "character 0");
    expect_bad_dn("XX=1", "unknown attribute type 'XX' at character 0");
    expect_bad_dn("CN=a,Foo=b", "unknown attribute type 'Foo' at "
                                "character 5");
    expect_bad_dn("CN=", "the value of CN at character 0 is empty");
    expect_bad_dn("CN=  ", "is empty");
    expect_bad_dn("=x", "attribute type is missing before '=' at "
                        "character 0");
    expect_bad_dn("CN=x\\", "a backslash at character 4 escapes nothing");
    expect_bad_dn("C\\N=x", "backslash in an attribute type");
    expect_bad_dn("CN=x,C=DEU", "C takes a two-letter country code");
    expect_bad_dn("", "the subject is empty");
    expect_bad_dn("/", "the subject is empty");
    /* ub-common-name is 64 */
    expect_bad_dn("CN=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                  "aaaaaaaaaa",
                  "string too long");
    expect_bad_dn("CN=\xff\xfe", "the value of CN at character 0 cannot be "
                                 "used");
}

/* ---------------------------------------------------------- certificates */

static const unsigned char pss_algid[] = {
    0x30, 0x41, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01,
    0x0a, 0x30, 0x34, 0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48,
    0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0xa1, 0x1c, 0x30, 0x1a,
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08, 0x30,
    0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
    0x05, 0x00, 0xa2, 0x03, 0x02, 0x01, 0x20,
};
static const unsigned char rsa_sha256_algid[] = {
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
    0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00,
};

static void
check_algid(const X509_ALGOR *alg, enum ek_alg which)
{
    unsigned char *der = NULL;
    int n = i2d_X509_ALGOR(alg, &der);

    if (which == EK_ALG_PS256)
        assert(n == (int)sizeof pss_algid &&
               memcmp(der, pss_algid, sizeof pss_algid) == 0);
    else
        assert(n == (int)sizeof rsa_sha256_algid &&
               memcmp(der, rsa_sha256_algid, sizeof rsa_sha256_algid) == 0);
    OPENSSL_free(der);
}

static X509 *
build(enum ek_alg alg, const char *subject, unsigned days, int64_t now)
{
    struct ek_ctx *ctx = NULL;
    X509 *x = NULL;

    assert(ek_ctx_new(&ctx) == EK_OK);
    if (cert_build(ctx, soft_key, subject, days, alg, now, soft_sign, soft_key,
                   &x) != EK_OK) {
        fprintf(stderr, "cert_build: %s\n", ek_ctx_errmsg(ctx));
        assert(0);
    }
    ek_ctx_free(&ctx);
    return x;
}

static void
check_cert(X509 *x, enum ek_alg alg, unsigned days, int64_t now)
{
    const X509_ALGOR *palg = NULL;
    const ASN1_BIT_STRING *psig = NULL;
    const ASN1_INTEGER *serial;
    const ASN1_OCTET_STRING *ski, *akid_keyid;
    AUTHORITY_KEYID *akid;
    BASIC_CONSTRAINTS *bc;
    int crit = -1, i;
    BIGNUM *bn;
    time_t t;

    /* OpenSSL's own verification, against the key */
    assert(X509_verify(x, soft_key) == 1);
    assert(X509_verify(x, other_key) != 1);
    assert(X509_get_version(x) == X509_VERSION_3);
    X509_get0_signature(&psig, &palg, x);
    check_algid(palg, alg);
    check_algid(X509_get0_tbs_sigalg(x), alg);
    assert(X509_get_signature_nid(x) ==
           (alg == EK_ALG_PS256 ? NID_rsassaPss : NID_sha256WithRSAEncryption));
    /* 16 bytes, positive */
    serial = X509_get0_serialNumber(x);
    bn = ASN1_INTEGER_to_BN(serial, NULL);
    assert(!BN_is_negative(bn) && !BN_is_zero(bn));
    assert(BN_num_bytes(bn) == 16);
    BN_free(bn);
    /* validity: now - 5 min, + days */
    t = (time_t)(now - 300);
    assert(ASN1_TIME_cmp_time_t(X509_get0_notBefore(x), t) == 0);
    assert(ASN1_TIME_cmp_time_t(X509_get0_notAfter(x),
                                t + (time_t)days * 86400) == 0);
    /* self-signed: issuer = subject */
    assert(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) ==
           0);
    /* extensions */
    bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit, NULL);
    assert(bc != NULL && crit == 1 && !bc->ca);
    BASIC_CONSTRAINTS_free(bc);
    i = X509_get_ext_by_NID(x, NID_key_usage, -1);
    assert(i >= 0 && X509_EXTENSION_get_critical(X509_get_ext(x, i)) == 1);
    assert(X509_get_key_usage(x) == KU_DIGITAL_SIGNATURE);
    assert(X509_get_extended_key_usage(x) == XKU_SSL_CLIENT);
    i = X509_get_ext_by_NID(x, NID_ext_key_usage, -1);
    assert(i >= 0 && X509_EXTENSION_get_critical(X509_get_ext(x, i)) == 0);
    ski = X509_get0_subject_key_id(x);
    akid_keyid = X509_get0_authority_key_id(x);
    assert(ski != NULL && akid_keyid != NULL);
    assert(ASN1_OCTET_STRING_cmp(ski, akid_keyid) == 0);
    akid = X509_get_ext_d2i(x, NID_authority_key_identifier, &crit, NULL);
    assert(akid != NULL && crit == 0 && akid->issuer == NULL &&
           akid->serial == NULL);
    AUTHORITY_KEYID_free(akid);
    assert(X509_check_purpose(x, X509_PURPOSE_SSL_CLIENT, 0) == 1);
}

static void
test_cert_rs256(void)
{
    int64_t now = (int64_t)time(NULL);
    X509 *x = build(EK_ALG_RS256, "CN=ExchangeAuth,O=Contoso", 0, now);

    check_cert(x, EK_ALG_RS256, 365, now);
    X509_free(x);
}

static void
test_cert_ps256(void)
{
    int64_t now = 1764217365;
    X509 *x = build(EK_ALG_PS256, "/CN=Jürgen Ø", 730, now);

    check_cert(x, EK_ALG_PS256, 730, now);
    X509_free(x);
}

/* A signer that uses another key: the result must not be returned. */
static void
test_cert_wrong_signer(void)
{
    struct ek_ctx *ctx = NULL;
    X509 *x = (X509 *)1;
    X509_REQ *req = (X509_REQ *)1;

    assert(ek_ctx_new(&ctx) == EK_OK);
    assert(cert_build(ctx, soft_key, "CN=x", 0, EK_ALG_RS256, time(NULL),
                      soft_sign, other_key, &x) == EK_ERR_CERT);
    assert(x == NULL);
    assert(strstr(ek_ctx_errmsg(ctx), "does not verify with the key's "
                                      "public key") != NULL);
    assert(strstr(ek_ctx_errmsg(ctx), "nothing was written or stored") != NULL);
    assert(cert_csr_build(ctx, soft_key, "CN=x", EK_ALG_PS256, soft_sign,
                          other_key, &req) == EK_ERR_CERT);
    assert(req == NULL);
    assert(cert_build(ctx, soft_key, "CN=x", 36501, EK_ALG_RS256, 0, soft_sign,
                      soft_key, &x) == EK_ERR_USAGE);
    assert(strstr(ek_ctx_errmsg(ctx), "from 1 to 36500 days") != NULL);
    assert(strstr(ek_ctx_errmsg(ctx), "--") == NULL); /* no CLI flags */
    assert(cert_build(ctx, soft_key, "CN=x,,", 1, EK_ALG_RS256, 0, soft_sign,
                      soft_key, &x) == EK_ERR_USAGE);
    assert(strstr(ek_ctx_errmsg(ctx), "empty component") != NULL);
    ek_ctx_free(&ctx);
}

static void
test_csr(void)
{
    struct ek_ctx *ctx = NULL;
    X509_REQ *req = NULL;
    const X509_ALGOR *palg = NULL;
    const ASN1_BIT_STRING *psig = NULL;
    STACK_OF(X509_EXTENSION) * exts;
    X509_NAME *want = NULL;
    enum ek_alg algs[] = {EK_ALG_RS256, EK_ALG_PS256};
    size_t i;

    assert(ek_ctx_new(&ctx) == EK_OK);
    assert(cert_dn_parse(ctx, "CN=app,O=Contoso", &want) == EK_OK);
    for (i = 0; i < 2; i++) {
        assert(cert_csr_build(ctx, soft_key, "CN=app,O=Contoso", algs[i],
                              soft_sign, soft_key, &req) == EK_OK);
        assert(X509_REQ_verify(req, soft_key) == 1);
        assert(X509_REQ_verify(req, other_key) != 1);
        X509_REQ_get0_signature(req, &psig, &palg);
        check_algid(palg, algs[i]);
        assert(X509_NAME_cmp(X509_REQ_get_subject_name(req), want) == 0);
        assert(EVP_PKEY_eq(X509_REQ_get0_pubkey(req), soft_key) == 1);
        exts = X509_REQ_get_extensions(req);
        assert(exts != NULL && sk_X509_EXTENSION_num(exts) == 3);
        sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
        X509_REQ_free(req);
        req = NULL;
    }
    X509_NAME_free(want);
    ek_ctx_free(&ctx);
}

/* ------------------------------------------------------ the cert object */

static struct ek_cert *
wrap_new(enum ek_alg alg, const char *subject)
{
    struct ek_cert *c = NULL;

    assert(cert_wrap(NULL, build(alg, subject, 0, time(NULL)), &c) == EK_OK);
    return c;
}

static void
test_thumbprints(void)
{
    struct ek_cert *c = wrap_new(EK_ALG_PS256, "CN=ExchangeAuth");
    unsigned char *der = NULL, *dec = NULL;
    unsigned char sha1[20], sha256[32];
    const unsigned char *cder;
    char hex[41];
    size_t n, clen;
    int len;

    len = i2d_X509(c->x509, &der);
    assert(ek_cert_der(c, &cder, &clen) == EK_OK);
    assert(len > 0 && (size_t)len == clen && memcmp(der, cder, clen) == 0);
    /* by hand: SHA-1 of the DER, upper-case hex */
    assert(EVP_Digest(der, (size_t)len, sha1, NULL, EVP_sha1(), NULL) == 1);
    assert(EVP_Digest(der, (size_t)len, sha256, NULL, EVP_sha256(), NULL) == 1);
    for (n = 0; n < 20; n++)
        snprintf(hex + 2 * n, 3, "%02X", sha1[n]);
    assert(strcmp(ek_cert_thumbprint(c), hex) == 0);
    assert(jose_b64url_decode(NULL, ek_cert_x5t(c), strlen(ek_cert_x5t(c)),
                              &dec, &n) == EK_OK);
    assert(n == 20 && memcmp(dec, sha1, 20) == 0);
    free(dec);
    assert(strlen(ek_cert_x5t_s256(c)) == 43);
    assert(jose_b64url_decode(NULL, ek_cert_x5t_s256(c),
                              strlen(ek_cert_x5t_s256(c)), &dec, &n) == EK_OK);
    assert(n == 32 && memcmp(dec, sha256, 32) == 0);
    free(dec);
    assert(strcmp(ek_cert_subject(c), "CN=ExchangeAuth") == 0);
    assert(strcmp(ek_cert_issuer(c), "CN=ExchangeAuth") == 0);
    assert(strcmp(ek_cert_sigalg(c), "rsassaPss") == 0);
    assert(ek_cert_key_bits(c) == 2048);
    assert(strlen(ek_cert_serial_hex(c)) == 32);
    assert(ek_cert_not_after(c) - ek_cert_not_before(c) == 365 * 86400);
    assert(cert_matches_pubkey(c, soft_key) == 1);
    assert(cert_matches_pubkey(c, other_key) == 0);
    OPENSSL_free(der);
    ek_cert_free(&c);
    assert(c == NULL);
    ek_cert_free(&c); /* NULL-safe */
    c = wrap_new(EK_ALG_RS256, "CN=a,O=b");
    assert(strcmp(ek_cert_sigalg(c), "sha256WithRSAEncryption") == 0);
    assert(strcmp(ek_cert_subject(c), "CN=a, O=b") == 0);
    ek_cert_free(&c);
}

static void
test_validity(void)
{
    struct ek_ctx *ctx = NULL;
    struct ek_cert *c = wrap_new(EK_ALG_RS256, "CN=old");

    assert(ek_ctx_new(&ctx) == EK_OK);
    assert(cert_check_validity(ctx, c, time(NULL)) == EK_OK);
    assert(cert_check_validity(ctx, c, c->not_after + 1) == EK_ERR_CERT);
    assert(strstr(ek_ctx_errmsg(ctx), "expired on") != NULL);
    assert(strstr(ek_ctx_errmsg(ctx), "AADSTS700027") != NULL);
    assert(strstr(ek_ctx_errmsg(ctx), c->thumbprint) != NULL);
    assert(cert_check_validity(ctx, c, c->not_before - 1) == EK_ERR_CERT);
    assert(strstr(ek_ctx_errmsg(ctx), "is not valid before") != NULL);
    ek_cert_free(&c);
    ek_ctx_free(&ctx);
}

static void
test_load(void)
{
    struct ek_ctx *ctx = NULL;
    struct ek_cert *c = wrap_new(EK_ALG_RS256, "CN=load"), *d = NULL;
    unsigned char *buf;
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem = NULL;
    long n;

    assert(ek_ctx_new(&ctx) == EK_OK);
    /* DER */
    assert(ek_cert_load(ctx, c->der, c->der_len, &d) == EK_OK);
    assert(strcmp(ek_cert_thumbprint(d), ek_cert_thumbprint(c)) == 0);
    ek_cert_free(&d);
    /* PEM, with text before it */
    assert(BIO_puts(bio, "\n") == 1);
    assert(PEM_write_bio_X509(bio, c->x509) == 1);
    n = BIO_get_mem_data(bio, &pem);
    assert(ek_cert_load(ctx, (unsigned char *)pem, (size_t)n, &d) == EK_OK);
    assert(strcmp(ek_cert_thumbprint(d), ek_cert_thumbprint(c)) == 0);
    ek_cert_free(&d);
    /* garbage, truncated, trailing bytes */
    assert(ek_cert_load(ctx, (const unsigned char *)"hello", 5, &d) ==
           EK_ERR_CERT);
    assert(d == NULL);
    assert(strstr(ek_ctx_errmsg(ctx), "is not an X.509 certificate") != NULL);
    assert(ek_cert_load(ctx, c->der, c->der_len - 1, &d) == EK_ERR_CERT);
    buf = malloc(c->der_len + 2);
    memcpy(buf, c->der, c->der_len);
    buf[c->der_len] = buf[c->der_len + 1] = 0;
    assert(ek_cert_load(ctx, buf, c->der_len + 2, &d) == EK_ERR_CERT);
    assert(strstr(ek_ctx_errmsg(ctx), "2 bytes after the certificate") != NULL);
    free(buf);
    assert(ek_cert_load(ctx, (const unsigned char *)"-----BEGIN X", 12, &d) ==
           EK_ERR_CERT);
    assert(ek_cert_load(ctx, c->der, 0, &d) == EK_ERR_CERT);
    assert(strstr(ek_ctx_errmsg(ctx), "is empty") != NULL);
    BIO_free(bio);
    ek_cert_free(&c);
    ek_ctx_free(&ctx);
}

static void
test_write_and_load_file(void)
{
    struct ek_ctx *ctx = NULL;
    struct ek_cert *c = wrap_new(EK_ALG_PS256, "CN=file"), *d = NULL;
    char der_path[512], pem_path[512], bad[512];
    struct stat st;
    FILE *f;
    char line[64];

    assert(ek_ctx_new(&ctx) == EK_OK);
    snprintf(der_path, sizeof der_path, "%s/c.cer", dir);
    snprintf(pem_path, sizeof pem_path, "%s/c.pem", dir);
    snprintf(bad, sizeof bad, "%s/missing/c.cer", dir);
    assert(ek_cert_write(ctx, c, der_path, EK_FORMAT_DER, 0) == EK_OK);
    assert(ek_cert_write(ctx, c, pem_path, EK_FORMAT_PEM, 0) == EK_OK);
    assert(stat(der_path, &st) == 0 && (st.st_mode & 0777) == 0644);
    assert((size_t)st.st_size == c->der_len);
    f = fopen(pem_path, "r");
    assert(f != NULL && fgets(line, sizeof line, f) != NULL);
    assert(strcmp(line, "-----BEGIN CERTIFICATE-----\n") == 0);
    fclose(f);
    assert(ek_cert_load_file(ctx, der_path, &d) == EK_OK);
    assert(strcmp(ek_cert_thumbprint(d), ek_cert_thumbprint(c)) == 0);
    ek_cert_free(&d);
    assert(ek_cert_load_file(ctx, pem_path, &d) == EK_OK);
    assert(strcmp(ek_cert_thumbprint(d), ek_cert_thumbprint(c)) == 0);
    ek_cert_free(&d);
    /* never replaced without force */
    assert(ek_cert_write(ctx, c, der_path, EK_FORMAT_PEM, 0) == EK_ERR_EXISTS);
    assert(strstr(ek_ctx_errmsg(ctx), "EK_WRITE_FORCE") != NULL);
    assert(strstr(ek_ctx_errmsg(ctx), "--") == NULL);
    assert(stat(der_path, &st) == 0 && (size_t)st.st_size == c->der_len);
    assert(ek_cert_write(ctx, c, der_path, EK_FORMAT_PEM, EK_WRITE_FORCE) ==
           EK_OK);
    assert(stat(der_path, &st) == 0 && (size_t)st.st_size != c->der_len);
    assert(ek_cert_write(ctx, c, bad, EK_FORMAT_DER, 0) == EK_ERR_IO);
    assert(ek_cert_load_file(ctx, bad, &d) == EK_ERR_IO);
    assert(strstr(ek_ctx_errmsg(ctx), bad) != NULL);
    /* a file that is not a certificate is named */
    snprintf(bad, sizeof bad, "%s/not.cer", dir);
    f = fopen(bad, "w");
    fputs("not a certificate\n", f);
    fclose(f);
    assert(ek_cert_load_file(ctx, bad, &d) == EK_ERR_CERT);
    assert(strstr(ek_ctx_errmsg(ctx), "not.cer' is not an X.509") != NULL);
    unlink(bad);
    unlink(der_path);
    unlink(pem_path);
    ek_cert_free(&c);
    ek_ctx_free(&ctx);
}

static void
test_manifest(void)
{
    struct ek_ctx *ctx = NULL;
    struct ek_cert *c = wrap_new(EK_ALG_RS256, "CN=ExchangeAuth");
    char *json = NULL, start[32], end[32];
    cJSON *o;
    unsigned char buf[8192];
    const char *s;
    int n;

    assert(ek_ctx_new(&ctx) == EK_OK);
    assert(ek_cert_manifest_json(ctx, c, &json) == EK_OK);
    o = cJSON_Parse(json);
    assert(o != NULL);
    /* customKeyIdentifier: standard base64 of the SHA-1 bytes */
    s = cJSON_GetObjectItem(o, "customKeyIdentifier")->valuestring;
    assert(strlen(s) == 28 && s[27] == '=');
    n = EVP_DecodeBlock(buf, (const unsigned char *)s, (int)strlen(s));
    assert(n == 21 && memcmp(buf, c->sha1, 20) == 0); /* 1 pad byte */
    s = cJSON_GetObjectItem(o, "key")->valuestring;
    n = EVP_DecodeBlock(buf, (const unsigned char *)s, (int)strlen(s));
    assert(n >= (int)c->der_len && memcmp(buf, c->der, c->der_len) == 0);
    s = cJSON_GetObjectItem(o, "keyId")->valuestring;
    assert(strlen(s) == 36 && s[14] == '4');
    assert(strcmp(cJSON_GetObjectItem(o, "type")->valuestring,
                  "AsymmetricX509Cert") == 0);
    assert(strcmp(cJSON_GetObjectItem(o, "usage")->valuestring, "Verify") == 0);
    assert(strcmp(cJSON_GetObjectItem(o, "displayName")->valuestring,
                  "CN=ExchangeAuth") == 0);
    cert_iso8601(c->not_before, start);
    cert_iso8601(c->not_after, end);
    assert(strcmp(cJSON_GetObjectItem(o, "startDateTime")->valuestring,
                  start) == 0);
    assert(strcmp(cJSON_GetObjectItem(o, "endDateTime")->valuestring, end) ==
           0);
    assert(strlen(start) == 20 && start[10] == 'T' && start[19] == 'Z');
    cJSON_Delete(o);
    ek_free(json);
    ek_cert_free(&c);
    ek_ctx_free(&ctx);
}

static void
test_iso8601(void)
{
    char buf[32];

    cert_iso8601(1795760565 - 7200, buf);
    assert(strcmp(buf, "2026-11-27T04:22:45Z") == 0);
    cert_iso8601(0, buf);
    assert(strcmp(buf, "1970-01-01T00:00:00Z") == 0);
}

/* What ek_assertion_sign refuses before it touches the token. */
static void
test_assertion_usage(void)
{
    static char dummy;
    struct ek_key *k = (struct ek_key *)(void *)&dummy; /* never used */
    struct ek_ctx *ctx = NULL;
    struct ek_secret *jwt = NULL;
    struct ek_assertion_params p;

    assert(ek_ctx_new(&ctx) == EK_OK);
    memset(&p, 0, sizeof p);
    assert(ek_assertion_sign(ctx, k, &p, &jwt) == EK_ERR_USAGE);
    assert(strstr(ek_ctx_errmsg(ctx), "the tenant is missing") != NULL);
    p.tenant = "contoso.onmicrosoft.com/../x";
    assert(ek_assertion_sign(ctx, k, &p, &jwt) == EK_ERR_USAGE);
    assert(strstr(ek_ctx_errmsg(ctx), "is not a GUID or a domain") != NULL);
    p.tenant = "contoso.com?x=1";
    assert(ek_assertion_sign(ctx, k, &p, &jwt) == EK_ERR_USAGE);
    p.tenant = "-contoso";
    assert(ek_assertion_sign(ctx, k, &p, &jwt) == EK_ERR_USAGE);
    p.tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    assert(ek_assertion_sign(ctx, k, &p, &jwt) == EK_ERR_USAGE);
    assert(strstr(ek_ctx_errmsg(ctx), "the client id is missing") != NULL);
    p.client_id = "a b";
    assert(ek_assertion_sign(ctx, k, &p, &jwt) == EK_ERR_USAGE);
    assert(strstr(ek_ctx_errmsg(ctx), "client id 'a b'") != NULL);
    p.client_id = "11111111-2222-3333-4444-555555555555";
    p.lifetime = 3601;
    assert(ek_assertion_sign(ctx, k, &p, &jwt) == EK_ERR_USAGE);
    assert(strstr(ek_ctx_errmsg(ctx), "at most 3600 s") != NULL);
    assert(strstr(ek_ctx_errmsg(ctx), "--") == NULL);
    p.lifetime = 0;
    p.authority_host = "http://login.microsoftonline.com";
    assert(ek_assertion_sign(ctx, k, &p, &jwt) == EK_ERR_USAGE);
    assert(strstr(ek_ctx_errmsg(ctx), "not an https:// URL") != NULL);
    p.authority_host = "https:///";
    assert(ek_assertion_sign(ctx, k, &p, &jwt) == EK_ERR_USAGE);
    assert(strstr(ek_ctx_errmsg(ctx), "no host name") != NULL);
    p.authority_host = "https://login.example.com/x?y";
    assert(ek_assertion_sign(ctx, k, &p, &jwt) == EK_ERR_USAGE);
    assert(strstr(ek_ctx_errmsg(ctx), "has a path, query or fragment") != NULL);
    assert(jwt == NULL);
    ek_ctx_free(&ctx);
}

int
main(void)
{
    ut_tmpdir(dir, sizeof dir, "test_cert");
    soft_key = EVP_RSA_gen(2048);
    other_key = EVP_RSA_gen(2048);
    assert(soft_key != NULL && other_key != NULL);
    test_dn_good();
    test_dn_bad();
    test_dn_rfc4514();
    test_cert_rs256();
    test_cert_ps256();
    test_cert_wrong_signer();
    test_csr();
    test_thumbprints();
    test_validity();
    test_load();
    test_write_and_load_file();
    test_manifest();
    test_iso8601();
    test_assertion_usage();
    EVP_PKEY_free(soft_key);
    EVP_PKEY_free(other_key);
    rmdir(dir);
    printf("test_cert: all passed\n");
    return 0;
}
