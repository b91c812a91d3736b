/* tok_key.c: the key object: what a private key is (its attributes, public
 * key, certificate and URI, read once when it is opened), its getters and
 * its release. Finding keys is in tok_find.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include "tok.h"

/* ------------------------------------------------------------ key loading */

/* RSAPublicKey (RFC 8017 A.1.1), for the SubjectPublicKeyInfo below. */
struct rsa_pub {
    ASN1_INTEGER *n;
    ASN1_INTEGER *e;
};
ASN1_SEQUENCE(rsa_pub) =
    {
        ASN1_SIMPLE(struct rsa_pub, n, ASN1_INTEGER),
        ASN1_SIMPLE(struct rsa_pub, e, ASN1_INTEGER),
} static_ASN1_SEQUENCE_END_name(struct rsa_pub, rsa_pub)

    /* The SubjectPublicKeyInfo (rsaEncryption) of the modulus and exponent,
     * encoded with OpenSSL's ASN.1 templates; not through an EVP_PKEY and
     * i2d_PUBKEY, which OpenSSL 3 runs through its provider encoders: 100 us a
     * key, and 0.5 ms the first time in a process, on every command. */
    static ek_err build_spki(struct ek_key * k)
{
    struct rsa_pub rp = {NULL, NULL};
    X509_PUBKEY *xp = NULL;
    BIGNUM *n = NULL, *e = NULL;
    unsigned char *penc = NULL, *der = NULL;
    int plen, len;
    ek_err r = EK_ERR_INTERNAL;

    n = BN_bin2bn(k->modulus, (int)k->modulus_len, NULL);
    e = BN_bin2bn(k->exponent, (int)k->exponent_len, NULL);
    if (n == NULL || e == NULL || BN_is_zero(n) || BN_is_zero(e) ||
        (rp.n = BN_to_ASN1_INTEGER(n, NULL)) == NULL ||
        (rp.e = BN_to_ASN1_INTEGER(e, NULL)) == NULL ||
        (plen = ASN1_item_i2d((ASN1_VALUE *)&rp, &penc,
                              ASN1_ITEM_rptr(rsa_pub))) <= 0 ||
        (xp = X509_PUBKEY_new()) == NULL ||
        !X509_PUBKEY_set0_param(xp, OBJ_nid2obj(NID_rsaEncryption), V_ASN1_NULL,
                                NULL, penc, plen)) {
        r = ek_seterr(k->ctx, EK_ERR_TOKEN,
                      "the public key of '%s' on token "
                      "'%s' is not a valid RSA key (CKA_MODULUS / "
                      "CKA_PUBLIC_EXPONENT)",
                      k->label, k->slot.label);
        goto out;
    }
    penc = NULL; /* xp owns it now */
    if ((len = i2d_X509_PUBKEY(xp, &der)) <= 0) {
        r = ek_seterr(k->ctx, EK_ERR_TOKEN,
                      "the public key of '%s' on token "
                      "'%s' cannot be encoded",
                      k->label, k->slot.label);
        goto out;
    }
    k->pub_der = der;
    k->pub_len = (size_t)len;
    r = EK_OK;
out:
    X509_PUBKEY_free(xp);
    OPENSSL_free(penc);
    ASN1_INTEGER_free(rp.n);
    ASN1_INTEGER_free(rp.e);
    BN_free(n);
    BN_free(e);
    return r;
}

/* The modulus and exponent: from the private object, else from the public
 * key pub (the one the key was found through), else from the first public
 * key with the same CKA_ID. */
static ek_err
load_public(struct ek_key *k, CK_OBJECT_HANDLE pub)
{
    CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof cls},
        {CKA_ID, k->id, k->id_len},
    };
    CK_OBJECT_HANDLE *objs = NULL;
    CK_ULONG n = 0, bits = 0;
    ek_err r;

    r = EK_OK;
    /* else read by load_batched, or not known yet (found through a public
     * object: tok_key_new_public) */
    if (k->modulus == NULL && k->priv != CK_INVALID_HANDLE)
        r = tok_attr(k->ctx, &k->slot, k->session, k->priv, CKA_MODULUS,
                     &k->modulus, &k->modulus_len);
    if (r == EK_OK && k->exponent == NULL && k->priv != CK_INVALID_HANDLE)
        r = tok_attr(k->ctx, &k->slot, k->session, k->priv, CKA_PUBLIC_EXPONENT,
                     &k->exponent, &k->exponent_len);
    if (r != EK_OK)
        return r;
    if ((k->modulus == NULL || k->exponent == NULL) &&
        (pub != CK_INVALID_HANDLE || k->id_len > 0)) {
        /* pub, else the first public key with the key's id */
        if (pub == CK_INVALID_HANDLE) {
            if ((r = tok_find(k->ctx, &k->slot, k->session, tmpl, 2, &objs,
                              &n)) != EK_OK)
                return r;
            pub = n > 0 ? objs[0] : CK_INVALID_HANDLE;
            free(objs);
        }
        if (pub != CK_INVALID_HANDLE) {
            if (k->modulus == NULL)
                r = tok_attr(k->ctx, &k->slot, k->session, pub, CKA_MODULUS,
                             &k->modulus, &k->modulus_len);
            if (r == EK_OK && k->exponent == NULL)
                r = tok_attr(k->ctx, &k->slot, k->session, pub,
                             CKA_PUBLIC_EXPONENT, &k->exponent,
                             &k->exponent_len);
            if (r == EK_OK && k->modulus == NULL &&
                tok_attr_ulong(k->ctx, &k->slot, k->session, pub,
                               CKA_MODULUS_BITS, &bits) == EK_OK)
                k->bits = (unsigned)bits;
        }
        if (r != EK_OK)
            return r;
    }
    if (k->modulus != NULL) {
        /* leading zero bytes do not count */
        while (k->modulus_len > 1 && k->modulus[0] == 0) {
            memmove(k->modulus, k->modulus + 1, k->modulus_len - 1);
            k->modulus_len--;
        }
        k->bits = (unsigned)k->modulus_len * 8;
        for (unsigned char top = k->modulus[0]; top < 0x80 && k->bits > 0;
             top = (unsigned char)(top << 1))
            k->bits--;
    }
    if (k->modulus != NULL && k->exponent != NULL)
        return build_spki(k);
    return EK_OK;
}

static ek_err
load_cert(struct ek_key *k)
{
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_CERTIFICATE_TYPE ct = CKC_X_509;
    CK_BBOOL yes = CK_TRUE;
    /* CKA_TOKEN: ykcs11's attestation certificates are session objects
     * with the key's id */
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof cls},
        {CKA_CERTIFICATE_TYPE, &ct, sizeof ct},
        {CKA_TOKEN, &yes, sizeof yes},
        {CKA_ID, k->id, k->id_len},
    };
    CK_OBJECT_HANDLE *objs = NULL;
    CK_ULONG n = 0;
    ek_err r;

    if (k->id_len == 0)
        return EK_OK;
    if ((r = tok_find(k->ctx, &k->slot, k->session, tmpl, 4, &objs, &n)) !=
        EK_OK)
        return r;
    if (n > 1)
        ek_log(k->ctx, EK_LOG_WARN,
               "token '%s' has %lu certificates with "
               "the id of key '%s'; using the first",
               k->slot.label, (unsigned long)n, k->label);
    if (n > 0)
        r = tok_attr(k->ctx, &k->slot, k->session, objs[0], CKA_VALUE,
                     &k->cert_der, &k->cert_len);
    free(objs);
    return r;
}

/* Reads in one C_GetAttributeValue call the key type, the five
 * non-exportability attributes and CKA_ALWAYS_AUTHENTICATE of the private
 * object, and keeps them on k. Returns 0 when the module answered CKR_OK
 * with every one of them; else -1 and nothing is kept (the caller reads
 * one at a time: a module may refuse a template naming an attribute it
 * lacks, which must stay a missing attribute, not an error). */
static int
read_fixed_batched(struct ek_key *k)
{
    CK_ULONG kt = 0;
    CK_BBOOL b[EK_ATTR_COUNT + 1];
    CK_ATTRIBUTE fixed[] = {
        {CKA_KEY_TYPE, &kt, sizeof kt},
        {CKA_SENSITIVE, &b[EK_ATTR_SENSITIVE], sizeof b[0]},
        {CKA_EXTRACTABLE, &b[EK_ATTR_EXTRACTABLE], sizeof b[0]},
        {CKA_ALWAYS_SENSITIVE, &b[EK_ATTR_ALWAYS_SENSITIVE], sizeof b[0]},
        {CKA_NEVER_EXTRACTABLE, &b[EK_ATTR_NEVER_EXTRACTABLE], sizeof b[0]},
        {CKA_LOCAL, &b[EK_ATTR_LOCAL], sizeof b[0]},
        {CKA_ALWAYS_AUTHENTICATE, &b[EK_ATTR_COUNT], sizeof b[0]},
    };
    const size_t nfixed = sizeof fixed / sizeof fixed[0];
    size_t i;

    memset(b, 0, sizeof b);
    if (TOK_CALL(k->ctx, k->slot.mod->fl, C_GetAttributeValue, k->session,
                 k->priv, fixed, nfixed) != CKR_OK)
        return -1;
    for (i = 0; i < nfixed; i++)
        if (fixed[i].ulValueLen != (i == 0 ? sizeof kt : sizeof b[0]))
            return -1;
    k->key_type = kt;
    for (i = 0; i < EK_ATTR_COUNT; i++)
        k->attr[i] = b[i] ? 1 : 0;
    k->always_auth = b[EK_ATTR_COUNT] ? 1 : 0;
    return 0;
}

/* Reads in three C_GetAttributeValue calls what one-by-one reads take
 * fifteen for: the fixed attributes above; then the lengths, then the
 * values of the label, id, modulus and public exponent. Each call costs a
 * module like SoftHSM a look at its object files (about 25 us; a remote
 * token a round trip), and a cold `entrakey assert` made 19 of them.
 * Returns 0 when the module answered each batch with CKR_OK and every
 * attribute; else -1, nothing is kept but what read_fixed_batched kept
 * (which the caller's one-by-one reads set again), and the caller reads
 * one attribute at a time. */
static int
load_batched(struct ek_key *k)
{
    CK_ATTRIBUTE var[] = {
        {CKA_LABEL, NULL, 0},
        {CKA_ID, NULL, 0},
        {CKA_MODULUS, NULL, 0},
        {CKA_PUBLIC_EXPONENT, NULL, 0},
    };
    const size_t nvar = sizeof var / sizeof var[0];
    unsigned char *val[sizeof var / sizeof var[0]] = {NULL};
    CK_FUNCTION_LIST *fl = k->slot.mod->fl;
    size_t i;
    int r = -1;

    if (read_fixed_batched(k) != 0 ||
        TOK_CALL(k->ctx, fl, C_GetAttributeValue, k->session, k->priv, var,
                 nvar) != CKR_OK)
        goto out;
    for (i = 0; i < nvar; i++) {
        if (var[i].ulValueLen == CK_UNAVAILABLE_INFORMATION ||
            var[i].ulValueLen > 1u << 20 ||
            (val[i] = calloc(1, var[i].ulValueLen + 1)) == NULL)
            goto out;
        var[i].pValue = val[i];
    }
    if (TOK_CALL(k->ctx, fl, C_GetAttributeValue, k->session, k->priv, var,
                 nvar) != CKR_OK)
        goto out;
    for (i = 0; i < nvar; i++)
        if (var[i].ulValueLen == CK_UNAVAILABLE_INFORMATION)
            goto out;
    k->label = (char *)val[0];
    k->id = val[1];
    k->id_len = var[1].ulValueLen;
    k->modulus = val[2];
    k->modulus_len = var[2].ulValueLen;
    k->exponent = val[3];
    k->exponent_len = var[3].ulValueLen;
    memset(val, 0, sizeof val);
    r = 0;
out:
    for (i = 0; i < nvar; i++)
        free(val[i]);
    return r;
}

/* The five non-exportability attributes and CKA_ALWAYS_AUTHENTICATE of
 * the private object, one at a time (a module may lack any of them). */
static void
read_private_attrs(struct ek_key *k)
{
    static const CK_ATTRIBUTE_TYPE five[EK_ATTR_COUNT] = {
        [EK_ATTR_SENSITIVE] = CKA_SENSITIVE,
        [EK_ATTR_EXTRACTABLE] = CKA_EXTRACTABLE,
        [EK_ATTR_ALWAYS_SENSITIVE] = CKA_ALWAYS_SENSITIVE,
        [EK_ATTR_NEVER_EXTRACTABLE] = CKA_NEVER_EXTRACTABLE,
        [EK_ATTR_LOCAL] = CKA_LOCAL,
    };
    int i;

    for (i = 0; i < EK_ATTR_COUNT; i++)
        k->attr[i] =
            tok_attr_bool(k->ctx, &k->slot, k->session, k->priv, five[i]);
    k->always_auth = tok_attr_bool(k->ctx, &k->slot, k->session, k->priv,
                                   CKA_ALWAYS_AUTHENTICATE) == 1;
}

ek_err
tok_key_load(struct ek_key *k)
{
    struct ek_ctx *ctx = k->ctx;
    unsigned char *v = NULL;
    size_t len = 0;
    CK_ULONG kt = 0;
    ek_err r;

    k->key_type = CK_UNAVAILABLE_INFORMATION;
    if (load_batched(k) != 0) {
        if (tok_attr_ulong(ctx, &k->slot, k->session, k->priv, CKA_KEY_TYPE,
                           &kt) == EK_OK)
            k->key_type = kt;
        if ((r = tok_attr(ctx, &k->slot, k->session, k->priv, CKA_LABEL, &v,
                          &len)) != EK_OK)
            return r;
        k->label = (char *)v;
        if ((r = tok_attr(ctx, &k->slot, k->session, k->priv, CKA_ID, &k->id,
                          &k->id_len)) != EK_OK)
            return r;
        read_private_attrs(k);
    }
    if (k->label == NULL && (k->label = ek_strdup(ctx, "")) == NULL)
        return EK_ERR_INTERNAL;
    if ((k->id_hex = ek_calloc(ctx, 1, 2 * k->id_len + 1)) == NULL)
        return EK_ERR_INTERNAL;
    if (k->id != NULL)
        ek_hex_encode(k->id, k->id_len, k->id_hex, 0);
    if ((r = load_public(k, CK_INVALID_HANDLE)) != EK_OK)
        return r;
    if ((r = load_cert(k)) != EK_OK)
        return r;
    return tok_uri_key(ctx, &k->slot, k->id, k->id_len, k->label, &k->uri);
}

void
tok_key_clear(struct ek_key *k)
{
    if (k->session != CK_INVALID_HANDLE)
        tok_session_close(k->ctx, &k->slot, k->session);
    free(k->uri);
    free(k->label);
    free(k->id);
    free(k->id_hex);
    free(k->modulus);
    free(k->exponent);
    OPENSSL_free(k->pub_der);
    free(k->cert_der);
    ek_pin_source_free(&k->pin_src);
    ek_secret_free(&k->pin);
    tok_key_set_cache(k, NULL, NULL);
    memset(k, 0, sizeof *k);
}

void
ek_key_free(struct ek_key **keyp)
{
    if (keyp == NULL || *keyp == NULL)
        return;
    tok_key_clear(*keyp);
    free(*keyp);
    *keyp = NULL;
}

/* A key object on slot s using session h, nothing read yet. */
static struct ek_key *
key_alloc(struct ek_ctx *ctx, const struct tok_slot *s, CK_SESSION_HANDLE h)
{
    struct ek_key *k = ek_calloc(ctx, 1, sizeof *k);

    if (k != NULL) {
        k->ctx = ctx;
        k->slot = *s;
        k->session = h;
    }
    return k;
}

ek_err
tok_key_new(struct ek_ctx *ctx, const struct tok_slot *s, CK_SESSION_HANDLE h,
            CK_OBJECT_HANDLE o, struct ek_key **kp)
{
    struct ek_key *k;
    ek_err r;

    *kp = NULL;
    if ((k = key_alloc(ctx, s, h)) == NULL)
        return EK_ERR_INTERNAL;
    k->priv = o;
    if ((r = tok_key_load(k)) != EK_OK) {
        k->session = CK_INVALID_HANDLE; /* the caller's */
        tok_key_clear(k);
        free(k);
        return r;
    }
    *kp = k;
    return EK_OK;
}

/* The modulus and exponent from the certificate, for a key found through
 * a certificate alone (no public key object). */
static ek_err
public_from_cert(struct ek_key *k)
{
    const unsigned char *p = k->cert_der;
    X509 *x = NULL;
    EVP_PKEY *pk;
    BIGNUM *n = NULL, *e = NULL;
    ek_err r = EK_OK;

    if (k->cert_der == NULL || k->modulus != NULL)
        return EK_OK;
    if ((x = d2i_X509(NULL, &p, (long)k->cert_len)) == NULL ||
        (pk = X509_get0_pubkey(x)) == NULL ||
        !EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &n) ||
        !EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &e))
        goto out; /* not RSA, or unreadable: the key stays without one */
    k->modulus_len = (size_t)BN_num_bytes(n);
    k->exponent_len = (size_t)BN_num_bytes(e);
    if ((k->modulus = ek_calloc(k->ctx, 1, k->modulus_len + 1)) == NULL ||
        (k->exponent = ek_calloc(k->ctx, 1, k->exponent_len + 1)) == NULL) {
        r = EK_ERR_INTERNAL;
        goto out;
    }
    BN_bn2bin(n, k->modulus);
    BN_bn2bin(e, k->exponent);
    /* the size and the SubjectPublicKeyInfo */
    r = load_public(k, CK_INVALID_HANDLE);
out:
    BN_free(n);
    BN_free(e);
    X509_free(x);
    return r;
}

ek_err
tok_key_new_public(struct ek_ctx *ctx, const struct tok_slot *s,
                   CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, int is_pubkey,
                   const unsigned char *id, size_t idlen, struct ek_key **kp)
{
    struct ek_key *k;
    unsigned char *v = NULL;
    size_t len = 0;
    int i;
    ek_err r;

    *kp = NULL;
    if ((k = key_alloc(ctx, s, h)) == NULL)
        return EK_ERR_INTERNAL;
    k->priv = CK_INVALID_HANDLE;
    k->key_type = CK_UNAVAILABLE_INFORMATION;
    for (i = 0; i < EK_ATTR_COUNT; i++)
        k->attr[i] = -1; /* read from the private key after the login */
    if ((r = tok_attr(ctx, &k->slot, h, o, CKA_LABEL, &v, &len)) != EK_OK)
        goto fail;
    if (idlen > 0) {
        if ((k->id = ek_calloc(ctx, 1, idlen)) == NULL) {
            r = EK_ERR_INTERNAL;
            goto fail;
        }
        memcpy(k->id, id, idlen);
        k->id_len = idlen;
    }
    k->label = (char *)v;
    v = NULL;
    if (k->label == NULL && (k->label = ek_strdup(ctx, "")) == NULL) {
        r = EK_ERR_INTERNAL;
        goto fail;
    }
    if ((k->id_hex = ek_calloc(ctx, 1, 2 * k->id_len + 1)) == NULL) {
        r = EK_ERR_INTERNAL;
        goto fail;
    }
    if (k->id != NULL)
        ek_hex_encode(k->id, k->id_len, k->id_hex, 0);
    if ((r = load_public(k, is_pubkey ? o : CK_INVALID_HANDLE)) != EK_OK ||
        (r = load_cert(k)) != EK_OK || (r = public_from_cert(k)) != EK_OK ||
        (r = tok_uri_key(ctx, &k->slot, k->id, k->id_len, k->label, &k->uri)) !=
            EK_OK)
        goto fail;
    *kp = k;
    return EK_OK;
fail:
    free(v);
    k->session = CK_INVALID_HANDLE; /* the caller's */
    tok_key_clear(k);
    free(k);
    return r;
}

ek_err
tok_key_resolve(struct ek_key *k)
{
    struct ek_ctx *ctx = k->ctx;
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof cls},
        {CKA_ID, k->id, k->id_len},
    };
    CK_OBJECT_HANDLE *objs = NULL;
    CK_ULONG n = 0, kt = 0;
    ek_err r;

    if (k->priv != CK_INVALID_HANDLE)
        return EK_OK;
    if (k->session == CK_INVALID_HANDLE)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "key %s has no session (a "
                         "listed key); open it with ek_key_open",
                         k->uri);
    if (k->id_len == 0)
        return ek_seterr(ctx, EK_ERR_NOT_FOUND,
                         "key %s on token '%s' was "
                         "found through a public object without CKA_ID, "
                         "which names no private key",
                         k->uri, k->slot.label);
    /* the one login of this key's token; the PIN is kept until it is
     * known whether the key wants a login before each signature (a
     * source such as fd:N can be read only once) */
    if ((r = tok_login(ctx, &k->slot, k->session, TOK_LOGIN_USER, k->pin_src,
                       &k->pin)) != EK_OK)
        return r;
    if ((r = tok_find(ctx, &k->slot, k->session, tmpl, 2, &objs, &n)) != EK_OK)
        goto out;
    if (n != 1) {
        r = ek_seterr(ctx, n == 0 ? EK_ERR_NOT_FOUND : EK_ERR_AMBIGUOUS,
                      "token '%s' shows a public key or certificate for key "
                      "%s, but %s private key with its id (%s) after the "
                      "login",
                      k->slot.label, k->uri,
                      n == 0 ? "no"
                             : "more "
                               "than one",
                      k->id_hex);
        goto out;
    }
    k->priv = objs[0];
    /* in one call if the module can (tok_key_load's first batch) */
    if (read_fixed_batched(k) != 0) {
        if (tok_attr_ulong(ctx, &k->slot, k->session, k->priv, CKA_KEY_TYPE,
                           &kt) == EK_OK)
            k->key_type = kt;
        read_private_attrs(k);
    }
    r = EK_OK;
out:
    if (r != EK_OK || !k->always_auth)
        ek_secret_free(&k->pin);
    free(objs);
    return r;
}

int
ek_key_needs_login(const struct ek_key *k)
{
    return k != NULL && k->priv == CK_INVALID_HANDLE;
}

int
tok_key_sign_unattended(const struct ek_key *k)
{
    int from_source;

    if (k == NULL || (k->slot.ti.flags & CKF_PROTECTED_AUTHENTICATION_PATH))
        return 0;
    /* a login to come reads a source, not the prompt (nor a program's
     * callback set to come first) */
    from_source = k->pin_src != NULL && !ek_pin_source_typed(k->pin_src);
    if (k->priv != CK_INVALID_HANDLE)
        /* logged in; an always-authenticate key logs in again with the
         * PIN it kept, else it reads the source again */
        return !k->always_auth || k->pin != NULL || from_source;
    return from_source;
}

/* --------------------------------------------------------------- getters */

struct ek_ctx *
tok_key_ctx(const struct ek_key *k)
{
    return k != NULL ? k->ctx : NULL;
}

void *
tok_key_cache(const struct ek_key *k)
{
    return k != NULL ? k->cache : NULL;
}

void
tok_key_set_cache(struct ek_key *k, void *cache, void (*free_fn)(void *cache))
{
    void *old = k->cache;
    void (*old_free)(void *) = k->cache_free;

    k->cache = cache;
    k->cache_free = free_fn;
    if (old != NULL && old != cache && old_free != NULL)
        old_free(old);
}

void
ek_key_pin_source_scrub(struct ek_key *k)
{
    if (k != NULL)
        ek_pin_source_scrub(k->pin_src);
}

const char *
ek_key_uri(const struct ek_key *k)
{
    return k != NULL ? k->uri : NULL;
}

const char *
ek_key_label(const struct ek_key *k)
{
    return k != NULL ? k->label : NULL;
}

const char *
ek_key_id_hex(const struct ek_key *k)
{
    return k != NULL ? k->id_hex : NULL;
}

const char *
ek_key_token_label(const struct ek_key *k)
{
    return k != NULL ? k->slot.label : NULL;
}

const char *
ek_key_token_serial(const struct ek_key *k)
{
    return k != NULL ? k->slot.serial : NULL;
}

unsigned
ek_key_token_flags(const struct ek_key *k)
{
    return k != NULL ? tok_slot_flags(&k->slot) : 0;
}

const char *
ek_key_token_model(const struct ek_key *k)
{
    return k != NULL ? k->slot.model : NULL;
}

unsigned
ek_key_bits(const struct ek_key *k)
{
    return k != NULL ? k->bits : 0;
}

int
ek_key_attr(const struct ek_key *k, enum ek_key_attr a)
{
    if (k == NULL || (unsigned)a >= EK_ATTR_COUNT)
        return -1;
    return k->attr[a];
}

enum ek_verdict
ek_key_verdict(const struct ek_key *k)
{
    int i;

    if (k == NULL)
        return EK_VERDICT_UNPROVEN;
    if (k->attr[EK_ATTR_EXTRACTABLE] == 1 || k->attr[EK_ATTR_SENSITIVE] == 0)
        return EK_VERDICT_EXTRACTABLE;
    for (i = 0; i < EK_ATTR_COUNT; i++) {
        if (i == EK_ATTR_EXTRACTABLE) {
            if (k->attr[i] != 0)
                return EK_VERDICT_UNPROVEN;
        } else if (k->attr[i] != 1) {
            return EK_VERDICT_UNPROVEN;
        }
    }
    return EK_VERDICT_NON_EXPORTABLE;
}

int
tok_key_made_here(const struct ek_key *k)
{
    return k != NULL && k->made_here;
}

int
ek_key_in_piv_slot(const struct ek_key *k)
{
    return k != NULL && (tok_slot_is_yubikey(&k->slot) ||
                         strncmp(k->slot.manufacturer, "piv_II", 6) == 0);
}

int
ek_key_attrs_fixed(const struct ek_key *k)
{
    /* OpenSC's PIV driver answers CKA_SENSITIVE, CKA_ALWAYS_SENSITIVE,
     * CKA_NEVER_EXTRACTABLE and CKA_LOCAL with constants for every key */
    return k != NULL && strncmp(k->slot.manufacturer, "piv_II", 6) == 0;
}

int
ek_key_always_authenticate(const struct ek_key *k)
{
    return k != NULL && k->always_auth;
}

const char *
ek_key_template_dropped(const struct ek_key *k)
{
    return k != NULL ? k->dropped : "";
}

ek_err
ek_key_public_der(const struct ek_key *k, const unsigned char **der,
                  size_t *len)
{
    if (k == NULL || der == NULL || len == NULL)
        return EK_ERR_USAGE;
    *der = NULL;
    *len = 0;
    if (k->pub_der == NULL)
        return ek_seterr(k->ctx, EK_ERR_NOT_FOUND,
                         "the public key of %s on "
                         "token '%s' cannot be read (the private object has "
                         "no CKA_MODULUS / CKA_PUBLIC_EXPONENT and there is "
                         "no public key object with its id)",
                         k->uri, k->slot.label);
    *der = k->pub_der;
    *len = k->pub_len;
    return EK_OK;
}

ek_err
ek_key_cert_der(const struct ek_key *k, const unsigned char **der, size_t *len)
{
    if (k == NULL || der == NULL || len == NULL)
        return EK_ERR_USAGE;
    *der = NULL;
    *len = 0;
    if (k->cert_der == NULL)
        return ek_seterr(k->ctx, EK_ERR_NOT_FOUND,
                         "token '%s' has no "
                         "certificate with the id of key %s; make one, or "
                         "give the certificate's file",
                         k->slot.label, k->uri);
    *der = k->cert_der;
    *len = k->cert_len;
    return EK_OK;
}

const char *
ek_key_mechanism(const struct ek_key *k, enum ek_alg alg)
{
    enum tok_path p;

    if (k == NULL)
        return NULL;
    /* what ek_key_sign uses */
    p = tok_choose(k->mech_mask, alg, 1);
    return p == TOK_PATH_NONE ? NULL : tok_mech_name(tok_path_mech(p));
}
