/* tok_keys.c: finding, opening, listing and describing private keys: their
 * attributes, public key, certificate and URI. */
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

struct ek_key_list {
    struct ek_key **keys;
    size_t n;
};

/* ------------------------------------------------------------ key loading */

/* RSAPublicKey (RFC 8017 A.1.1), for the SubjectPublicKeyInfo below. */
struct rsa_pub {
    ASN1_INTEGER *n;
    ASN1_INTEGER *e;
};
ASN1_SEQUENCE(rsa_pub) = {
    ASN1_SIMPLE(struct rsa_pub, n, ASN1_INTEGER),
    ASN1_SIMPLE(struct rsa_pub, e, ASN1_INTEGER),
} static_ASN1_SEQUENCE_END_name(struct rsa_pub, rsa_pub)

/* The SubjectPublicKeyInfo (rsaEncryption) of the modulus and exponent,
 * encoded with OpenSSL's ASN.1 templates; not through an EVP_PKEY and
 * i2d_PUBKEY, which OpenSSL 3 runs through its provider encoders: 100 us a
 * key, and 0.5 ms the first time in a process, on every command. */
static ek_err
build_spki(struct ek_key *k)
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
        !X509_PUBKEY_set0_param(xp, OBJ_nid2obj(NID_rsaEncryption),
                                V_ASN1_NULL, NULL, penc, plen)) {
        r = ek_seterr(k->ctx, EK_ERR_TOKEN, "the public key of '%s' on token "
                      "'%s' is not a valid RSA key (CKA_MODULUS / "
                      "CKA_PUBLIC_EXPONENT)", k->label, k->slot.label);
        goto out;
    }
    penc = NULL; /* xp owns it now */
    if ((len = i2d_X509_PUBKEY(xp, &der)) <= 0) {
        r = ek_seterr(k->ctx, EK_ERR_TOKEN, "the public key of '%s' on token "
                      "'%s' cannot be encoded", k->label, k->slot.label);
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
 * key with the same CKA_ID. */
static ek_err
load_public(struct ek_key *k)
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
    if (k->modulus == NULL) /* else read by load_batched */
        r = tok_attr(k->ctx, &k->slot, k->session, k->priv, CKA_MODULUS,
                     &k->modulus, &k->modulus_len);
    if (r == EK_OK && k->exponent == NULL)
        r = tok_attr(k->ctx, &k->slot, k->session, k->priv,
                     CKA_PUBLIC_EXPONENT, &k->exponent, &k->exponent_len);
    if (r != EK_OK)
        return r;
    if ((k->modulus == NULL || k->exponent == NULL) && k->id_len > 0) {
        if ((r = tok_find(k->ctx, &k->slot, k->session, tmpl, 2, &objs,
                          &n)) != EK_OK)
            return r;
        if (n > 0) {
            if (k->modulus == NULL)
                r = tok_attr(k->ctx, &k->slot, k->session, objs[0],
                             CKA_MODULUS, &k->modulus, &k->modulus_len);
            if (r == EK_OK && k->exponent == NULL)
                r = tok_attr(k->ctx, &k->slot, k->session, objs[0],
                             CKA_PUBLIC_EXPONENT, &k->exponent,
                             &k->exponent_len);
            if (r == EK_OK && k->modulus == NULL &&
                tok_attr_ulong(k->ctx, &k->slot, k->session, objs[0],
                               CKA_MODULUS_BITS, &bits) == EK_OK)
                k->bits = (unsigned)bits;
        }
        free(objs);
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
        ek_log(k->ctx, EK_LOG_WARN, "token '%s' has %lu certificates with "
               "the id of key '%s'; using the first", k->slot.label,
               (unsigned long)n, k->label);
    if (n > 0)
        r = tok_attr(k->ctx, &k->slot, k->session, objs[0], CKA_VALUE,
                     &k->cert_der, &k->cert_len);
    free(objs);
    return r;
}

/* Reads in three C_GetAttributeValue calls what one-by-one reads take
 * fifteen for: the key type, the five non-exportability attributes and
 * CKA_ALWAYS_AUTHENTICATE; then the lengths, then the values of the label,
 * id, modulus and public exponent. Each call costs a module like SoftHSM a
 * look at its object files (about 25 us), and a cold `entrakey assert`
 * made 19 of them. Returns 0 when the module answered each batch with
 * CKR_OK and every attribute; else -1, nothing is kept, and the caller
 * reads one attribute at a time (a module may refuse a template naming an
 * attribute it lacks: that must stay a missing attribute, not an error). */
static int
load_batched(struct ek_key *k)
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
    CK_ATTRIBUTE var[] = {
        {CKA_LABEL, NULL, 0},
        {CKA_ID, NULL, 0},
        {CKA_MODULUS, NULL, 0},
        {CKA_PUBLIC_EXPONENT, NULL, 0},
    };
    const size_t nfixed = sizeof fixed / sizeof fixed[0];
    const size_t nvar = sizeof var / sizeof var[0];
    unsigned char *val[sizeof var / sizeof var[0]] = {NULL};
    CK_FUNCTION_LIST *fl = k->slot.mod->fl;
    size_t i;
    int r = -1;

    memset(b, 0, sizeof b);
    if (TOK_CALL(k->ctx, fl, C_GetAttributeValue, k->session, k->priv, fixed,
                 nfixed) != CKR_OK ||
        TOK_CALL(k->ctx, fl, C_GetAttributeValue, k->session, k->priv, var,
                 nvar) != CKR_OK)
        goto out;
    for (i = 0; i < nfixed; i++)
        if (fixed[i].ulValueLen != (i == 0 ? sizeof kt : sizeof b[0]))
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
    k->key_type = kt;
    for (i = 0; i < EK_ATTR_COUNT; i++)
        k->attr[i] = b[i] ? 1 : 0;
    k->always_auth = b[EK_ATTR_COUNT] ? 1 : 0;
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

ek_err
tok_key_load(struct ek_key *k)
{
    static const CK_ATTRIBUTE_TYPE five[EK_ATTR_COUNT] = {
        [EK_ATTR_SENSITIVE] = CKA_SENSITIVE,
        [EK_ATTR_EXTRACTABLE] = CKA_EXTRACTABLE,
        [EK_ATTR_ALWAYS_SENSITIVE] = CKA_ALWAYS_SENSITIVE,
        [EK_ATTR_NEVER_EXTRACTABLE] = CKA_NEVER_EXTRACTABLE,
        [EK_ATTR_LOCAL] = CKA_LOCAL,
    };
    struct ek_ctx *ctx = k->ctx;
    unsigned char *v = NULL;
    size_t len = 0;
    CK_ULONG kt = 0;
    int i;
    ek_err r;

    k->key_type = CK_UNAVAILABLE_INFORMATION;
    if (load_batched(k) != 0) {
        if (tok_attr_ulong(ctx, &k->slot, k->session, k->priv, CKA_KEY_TYPE,
                           &kt) == EK_OK)
            k->key_type = kt;
        if ((r = tok_attr(ctx, &k->slot, k->session, k->priv, CKA_LABEL,
                          &v, &len)) != EK_OK)
            return r;
        k->label = (char *)v;
        if ((r = tok_attr(ctx, &k->slot, k->session, k->priv, CKA_ID,
                          &k->id, &k->id_len)) != EK_OK)
            return r;
        for (i = 0; i < EK_ATTR_COUNT; i++)
            k->attr[i] = tok_attr_bool(ctx, &k->slot, k->session, k->priv,
                                       five[i]);
        k->always_auth = tok_attr_bool(ctx, &k->slot, k->session, k->priv,
                                       CKA_ALWAYS_AUTHENTICATE) == 1;
    }
    if (k->label == NULL && (k->label = ek_strdup(ctx, "")) == NULL)
        return EK_ERR_INTERNAL;
    if ((k->id_hex = ek_calloc(ctx, 1, 2 * k->id_len + 1)) == NULL)
        return EK_ERR_INTERNAL;
    if (k->id != NULL)
        ek_hex_encode(k->id, k->id_len, k->id_hex, 0);
    if ((r = load_public(k)) != EK_OK)
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
    if (k->pin_value != NULL) {
        ek_wipe(k->pin_value, strlen(k->pin_value));
        free(k->pin_value);
    }
    free(k->pin_source);
    ek_secret_free(&k->pin);
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

/* ------------------------------------------------------------- selection */

/* A one-line list of tokens for messages: "'a' (serial 1), 'b' (…)". */
void
tok_describe_tokens(struct tok_slot *slots, size_t n, char *out, size_t outsz)
{
    size_t i, used = 0;
    int w;

    out[0] = '\0';
    for (i = 0; i < n && used < outsz; i++) {
        w = snprintf(out + used, outsz - used, "%s'%s' (serial %s)",
                     i > 0 ? ", " : "", slots[i].label, slots[i].serial);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    if (n == 0)
        snprintf(out, outsz, "none");
}

/* The slots that a URI's token part matches; none is EK_ERR_NOT_FOUND
 * naming the tokens there are. */
ek_err
tok_match_slots(struct ek_ctx *ctx, const char *uri_str, struct tok_uri *u,
               struct tok_slot **slotsp, size_t *np)
{
    struct tok_sel *sel = NULL;
    struct tok_slot *slots = NULL;
    char list[1024], shown[1024];
    size_t n = 0, i, m = 0;
    ek_err r;

    *slotsp = NULL;
    *np = 0;
    if ((r = tok_modules(ctx, u->module_path, &sel)) != EK_OK)
        return r;
    if ((r = tok_slots(ctx, sel, 0, &slots, &n)) != EK_OK)
        return r;
    for (i = 0; i < n; i++)
        if (tok_uri_match_slot(u, &slots[i]))
            slots[m++] = slots[i];
    if (m == 0) {
        tok_describe_tokens(slots, n, list, sizeof list);
        tok_uri_redact(uri_str, shown, sizeof shown);
        free(slots);
        if (n == 0 && sel->nmods == 1 && tok_module_is_client(&sel->mods[0])) {
            tok_client_address(list, sizeof list);
            return ek_seterr(ctx, EK_ERR_NOT_FOUND, "the p11-kit client "
                             "module (%s) has no token: the remote p11-kit "
                             "server is not reachable at %s; start `p11-kit "
                             "server` there, or forward its socket and set "
                             "P11_KIT_SERVER_ADDRESS", sel->mods[0].path,
                             list);
        }
        if (n == 0)
            return ek_seterr(ctx, EK_ERR_NOT_FOUND, "there is no initialised "
                             "token in the PKCS#11 module%s (%s); check that "
                             "the token is inserted, or give --module",
                             sel->nmods == 1 ? "" : "s",
                             sel->nmods == 1 ? sel->mods[0].path
                                             : "registered with p11-kit");
        return ek_seterr(ctx, EK_ERR_NOT_FOUND, "no token matches '%s'; the "
                         "tokens there are: %s (see entrakey tokens)", shown,
                         list);
    }
    *slotsp = slots;
    *np = m;
    return EK_OK;
}

/* Finds the private keys of a slot matching the URI's id/label. */
static ek_err
find_private(struct ek_ctx *ctx, struct tok_slot *s, CK_SESSION_HANDLE h,
             const struct tok_uri *u, CK_OBJECT_HANDLE **objsp,
             CK_ULONG *np)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE tmpl[3] = {{CKA_CLASS, &cls, sizeof cls}};
    CK_ATTRIBUTE *a;
    CK_ULONG n = 1;

    if (u != NULL && u->uri != NULL) {
        if ((a = p11_kit_uri_get_attribute(u->uri, CKA_ID)) != NULL)
            tmpl[n++] = *a;
        if ((a = p11_kit_uri_get_attribute(u->uri, CKA_LABEL)) != NULL)
            tmpl[n++] = *a;
    }
    return tok_find(ctx, s, h, tmpl, n, objsp, np);
}

/* Whether a public key or certificate has an id that no visible private
 * key has: then private objects are hidden until login. */
static int
orphan_ids(struct ek_ctx *ctx, struct tok_slot *s, CK_SESSION_HANDLE h,
           CK_OBJECT_HANDLE *privs, CK_ULONG nprivs)
{
    static const CK_OBJECT_CLASS classes[] = {CKO_PUBLIC_KEY,
                                              CKO_CERTIFICATE};
    CK_OBJECT_CLASS cls;
    CK_ATTRIBUTE tmpl = {CKA_CLASS, &cls, sizeof cls};
    CK_OBJECT_HANDLE *objs = NULL;
    CK_ULONG n = 0, i, j;
    unsigned char *id = NULL, *pid = NULL;
    size_t idlen = 0, pidlen = 0;
    size_t c;
    int orphan = 0, found;

    for (c = 0; c < 2 && !orphan; c++) {
        cls = classes[c];
        if (tok_find(ctx, s, h, &tmpl, 1, &objs, &n) != EK_OK)
            return 1;
        for (i = 0; i < n && !orphan; i++) {
            if (tok_attr(ctx, s, h, objs[i], CKA_ID, &id, &idlen) != EK_OK ||
                id == NULL)
                continue;
            found = 0;
            for (j = 0; j < nprivs && !found; j++) {
                if (tok_attr(ctx, s, h, privs[j], CKA_ID, &pid, &pidlen) ==
                        EK_OK &&
                    pid != NULL && pidlen == idlen &&
                    memcmp(pid, id, idlen) == 0)
                    found = 1;
                free(pid);
                pid = NULL;
            }
            orphan = !found;
            free(id);
            id = NULL;
        }
        free(objs);
        objs = NULL;
    }
    return orphan;
}

/* Searches a slot, logging in first when private objects may be hidden. */
static ek_err
search_slot(struct ek_ctx *ctx, struct tok_slot *s, CK_SESSION_HANDLE h,
            const struct tok_uri *u, int listing, struct ek_secret **keep,
            CK_OBJECT_HANDLE **objsp, CK_ULONG *np)
{
    ek_err r;
    int need, logged;

    /* the login state before the search: another context of this process
     * may log in while it runs (login state is per application), and a
     * search made before that login sees no private object */
    logged = !(s->ti.flags & CKF_LOGIN_REQUIRED) ||
             tok_logged_in(ctx, s, h, NULL);
    if ((r = find_private(ctx, s, h, u, objsp, np)) != EK_OK)
        return r;
    if (logged)
        return EK_OK;
    if (listing)
        need = *np == 0 || orphan_ids(ctx, s, h, *objsp, *np);
    else
        need = *np == 0;
    if (!need)
        return EK_OK;
    free(*objsp);
    *objsp = NULL;
    *np = 0;
    if ((r = tok_login(ctx, s, h, TOK_LOGIN_USER, u ? u->pin_value : NULL,
                       u ? u->pin_source : NULL, keep)) != EK_OK)
        return r;
    return find_private(ctx, s, h, u, objsp, np);
}

ek_err
tok_key_new(struct ek_ctx *ctx, const struct tok_slot *s, CK_SESSION_HANDLE h,
            CK_OBJECT_HANDLE o, struct ek_key **kp)
{
    struct ek_key *k;
    ek_err r;

    *kp = NULL;
    if ((k = ek_calloc(ctx, 1, sizeof *k)) == NULL)
        return EK_ERR_INTERNAL;
    k->ctx = ctx;
    k->slot = *s;
    k->session = h;
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

static ek_err
uri_check_class(struct ek_ctx *ctx, const char *s, const struct tok_uri *u)
{
    char shown[1024];

    if (!u->has_class || u->cls == CKO_PRIVATE_KEY)
        return EK_OK;
    tok_uri_redact(s, shown, sizeof shown);
    return ek_seterr(ctx, EK_ERR_USAGE, "the URI '%s' names %s, not a "
                     "private key; use type=private or leave type= out",
                     shown,
                     u->cls == CKO_CERTIFICATE  ? "a certificate (type=cert)"
                     : u->cls == CKO_PUBLIC_KEY ? "a public key (type=public)"
                                                : "another kind of object");
}

static ek_err
list_append(struct ek_ctx *ctx, struct ek_key_list *l, struct ek_key *k)
{
    struct ek_key **grown;

    grown = realloc(l->keys, (l->n + 1) * sizeof(struct ek_key *));
    if (grown == NULL)
        return ek_seterr_oom(ctx);
    l->keys = grown;
    l->keys[l->n++] = k;
    return EK_OK;
}

ek_err
ek_keys_list(struct ek_ctx *ctx, const char *token_uri,
             struct ek_key_list **listp)
{
    struct tok_uri u;
    struct tok_slot *slots = NULL;
    struct ek_key_list *l = NULL;
    struct ek_key *k = NULL;
    CK_OBJECT_HANDLE *objs = NULL;
    CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
    CK_ULONG nobj = 0, j;
    size_t n = 0, i = 0;
    ek_err r = EK_ERR_INTERNAL;

    if (ctx == NULL || listp == NULL)
        return EK_ERR_USAGE;
    *listp = NULL;
    if ((r = tok_uri_parse(ctx, token_uri, &u)) != EK_OK)
        return r;
    if ((r = uri_check_class(ctx, token_uri, &u)) != EK_OK)
        goto out;
    if ((r = tok_match_slots(ctx, token_uri, &u, &slots, &n)) != EK_OK)
        goto out;
    if ((l = ek_calloc(ctx, 1, sizeof *l)) == NULL) {
        r = EK_ERR_INTERNAL;
        goto out;
    }
    for (i = 0; i < n; i++) {
        if ((r = tok_session_open(ctx, &slots[i], 0, &h)) != EK_OK)
            goto out;
        if ((r = search_slot(ctx, &slots[i], h, &u, 1, NULL, &objs,
                             &nobj)) !=
            EK_OK)
            goto out;
        for (j = 0; j < nobj; j++) {
            if ((r = tok_key_new(ctx, &slots[i], h, objs[j], &k)) != EK_OK)
                goto out;
            /* a listed key keeps no session */
            k->session = CK_INVALID_HANDLE;
            if ((r = list_append(ctx, l, k)) != EK_OK) {
                ek_key_free(&k);
                goto out;
            }
        }
        free(objs);
        objs = NULL;
        tok_session_close(ctx, &slots[i], h);
        h = CK_INVALID_HANDLE;
    }
    *listp = l;
    l = NULL;
    r = EK_OK;
out:
    if (h != CK_INVALID_HANDLE)
        tok_session_close(ctx, &slots[i], h);
    free(objs);
    ek_key_list_free(&l);
    free(slots);
    tok_uri_clear(&u);
    return r;
}

size_t
ek_key_list_count(const struct ek_key_list *l)
{
    return l != NULL ? l->n : 0;
}

const struct ek_key *
ek_key_list_get(const struct ek_key_list *l, size_t i)
{
    return l != NULL && i < l->n ? l->keys[i] : NULL;
}

void
ek_key_list_free(struct ek_key_list **lp)
{
    struct ek_key_list *l;
    size_t i;

    if (lp == NULL || (l = *lp) == NULL)
        return;
    for (i = 0; i < l->n; i++)
        ek_key_free(&l->keys[i]);
    free(l->keys);
    free(l);
    *lp = NULL;
}

/* "URI1, URI2" of every private key on the slots (for messages). */
static void
describe_keys(struct ek_ctx *ctx, struct tok_slot *slots, size_t n,
              CK_SESSION_HANDLE *hs, char *out, size_t outsz)
{
    CK_OBJECT_HANDLE *objs = NULL;
    CK_ULONG nobj = 0, j;
    unsigned char *id = NULL, *label = NULL;
    size_t idlen = 0, labellen = 0, used = 0, i;
    char *uri = NULL;
    int w;

    out[0] = '\0';
    for (i = 0; i < n; i++) {
        if (hs[i] == CK_INVALID_HANDLE ||
            find_private(ctx, &slots[i], hs[i], NULL, &objs, &nobj) != EK_OK)
            continue;
        for (j = 0; j < nobj && used < outsz; j++) {
            if (tok_attr(ctx, &slots[i], hs[i], objs[j], CKA_ID, &id,
                         &idlen) == EK_OK &&
                tok_attr(ctx, &slots[i], hs[i], objs[j], CKA_LABEL, &label,
                         &labellen) == EK_OK &&
                tok_uri_key(ctx, &slots[i], id, idlen, (char *)label,
                            &uri) == EK_OK) {
                w = snprintf(out + used, outsz - used, "%s%s",
                             used > 0 ? ", " : "", uri);
                if (w > 0)
                    used += (size_t)w;
            }
            free(id);
            free(label);
            free(uri);
            id = label = NULL;
            uri = NULL;
        }
        free(objs);
        objs = NULL;
    }
}

/* "object='x', id=01" of what a URI asks for. */
static void
describe_want(const struct tok_uri *u, char *out, size_t outsz)
{
    CK_ATTRIBUTE *a;
    char hex[129];
    size_t used = 0;
    int w;

    out[0] = '\0';
    if ((a = p11_kit_uri_get_attribute(u->uri, CKA_LABEL)) != NULL) {
        w = snprintf(out, outsz, "object='%.*s'", (int)a->ulValueLen,
                     (const char *)a->pValue);
        if (w > 0)
            used = (size_t)w;
    }
    if ((a = p11_kit_uri_get_attribute(u->uri, CKA_ID)) != NULL &&
        used < outsz) {
        ek_hex_encode(a->pValue, a->ulValueLen < 64 ? a->ulValueLen : 64,
                      hex, 0);
        snprintf(out + used, outsz - used, "%sid=%s", used > 0 ? ", " : "",
                 hex);
    }
    if (out[0] == '\0')
        snprintf(out, outsz, "any private key");
}

static ek_err
tok_key_open_uri(struct ek_ctx *ctx, const char *key_uri, int rw,
                 struct ek_key **keyp)
{
    struct tok_uri u;
    struct tok_slot *slots = NULL;
    CK_SESSION_HANDLE *hs = NULL;
    CK_OBJECT_HANDLE *objs = NULL, found = CK_INVALID_HANDLE;
    CK_ULONG nobj = 0;
    size_t n = 0, i, at = 0, matches = 0;
    struct ek_key *k = NULL;
    struct ek_secret *pin = NULL;
    char shown[1024], list[3072], save[EK_ERRMSG_MAX], want[512],
        tokens[1024];
    ek_err r = EK_ERR_INTERNAL;

    *keyp = NULL;
    if (key_uri == NULL || key_uri[0] == '\0')
        return ek_seterr(ctx, EK_ERR_USAGE, "no key URI was given; list the "
                         "keys with entrakey keys");
    if ((r = tok_uri_parse(ctx, key_uri, &u)) != EK_OK)
        return r;
    tok_uri_redact(key_uri, shown, sizeof shown);
    if ((r = uri_check_class(ctx, key_uri, &u)) != EK_OK)
        goto out;
    if ((r = tok_match_slots(ctx, key_uri, &u, &slots, &n)) != EK_OK)
        goto out;
    if ((hs = ek_calloc(ctx, n, sizeof *hs)) == NULL) {
        r = EK_ERR_INTERNAL;
        goto out;
    }
    list[0] = '\0';
    for (i = 0; i < n; i++) {
        if ((r = tok_session_open(ctx, &slots[i], rw, &hs[i])) != EK_OK)
            goto out;
        if ((r = search_slot(ctx, &slots[i], hs[i], &u, 0, &pin, &objs,
                             &nobj)) !=
            EK_OK)
            goto out;
        if (nobj > 0 && matches == 0) {
            at = i;
            found = objs[0];
        }
        matches += nobj;
        if (nobj > 0) {
            /* the URIs of the matches, for EK_ERR_AMBIGUOUS */
            for (CK_ULONG j = 0; j < nobj; j++) {
                unsigned char *id = NULL, *label = NULL;
                size_t idlen = 0, labellen = 0, used = strlen(list);
                char *uri = NULL;

                if (tok_attr(ctx, &slots[i], hs[i], objs[j], CKA_ID, &id,
                             &idlen) == EK_OK &&
                    tok_attr(ctx, &slots[i], hs[i], objs[j], CKA_LABEL,
                             &label, &labellen) == EK_OK &&
                    tok_uri_key(ctx, &slots[i], id, idlen, (char *)label,
                                &uri) == EK_OK && used < sizeof list)
                    snprintf(list + used, sizeof list - used, "%s%s",
                             used > 0 ? ", " : "", uri);
                free(id);
                free(label);
                free(uri);
            }
        }
        free(objs);
        objs = NULL;
    }
    if (matches == 0) {
        describe_want(&u, want, sizeof want);
        tok_describe_tokens(slots, n, tokens, sizeof tokens);
        describe_keys(ctx, slots, n, hs, list, sizeof list);
        if (list[0] == '\0')
            r = ek_seterr(ctx, EK_ERR_NOT_FOUND, "no private key matches "
                          "'%s': there is no private key on the matching "
                          "token%s; make one with entrakey keygen", shown,
                          n == 1 ? "" : "s");
        else
            r = ek_seterr(ctx, EK_ERR_NOT_FOUND, "no private key matches "
                          "'%s' (it looked for %s on %s); the private keys "
                          "there are: %s", shown, want, tokens, list);
        goto out;
    }
    if (matches > 1) {
        r = ek_seterr(ctx, EK_ERR_AMBIGUOUS, "%zu private keys match '%s': "
                      "%s; name one with id= (and serial= if the tokens "
                      "share a label)", matches, shown, list);
        goto out;
    }
    if ((r = tok_key_new(ctx, &slots[at], hs[at], found, &k)) != EK_OK)
        goto out;
    hs[at] = CK_INVALID_HANDLE; /* the key's now */
    if ((r = tok_mech_mask(ctx, &k->slot, k->bits, &k->mech_mask)) != EK_OK)
        goto out;
    if ((u.pin_value != NULL &&
         (k->pin_value = ek_strdup(ctx, u.pin_value)) == NULL) ||
        (u.pin_source != NULL &&
         (k->pin_source = ek_strdup(ctx, u.pin_source)) == NULL)) {
        r = EK_ERR_INTERNAL;
        goto out;
    }
    if (k->always_auth) {
        /* the PIN of the login above serves the context-specific logins:
         * a source such as fd:N can be read only once */
        k->pin = pin;
        pin = NULL;
    }
    ek_log(ctx, EK_LOG_INFO, "key %s (%u-bit RSA) on token '%s'", k->uri,
           k->bits, k->slot.label);
    *keyp = k;
    k = NULL;
    r = EK_OK;
out:
    /* closing sessions must not replace the sentence of a failure */
    snprintf(save, sizeof save, "%s", ek_ctx_errmsg(ctx));
    ek_key_free(&k);
    for (i = 0; hs != NULL && i < n; i++)
        tok_session_close(ctx, &slots[i], hs[i]);
    if (r != EK_OK)
        ek_seterr(ctx, r, "%s", save);
    free(hs);
    free(objs);
    free(slots);
    ek_secret_free(&pin);
    tok_uri_clear(&u);
    return r;
}

ek_err
ek_key_open(struct ek_ctx *ctx, const char *key_uri, struct ek_key **keyp)
{
    if (ctx == NULL || keyp == NULL)
        return EK_ERR_USAGE;
    return tok_key_open_uri(ctx, key_uri, 1, keyp);
}

/* --------------------------------------------------------------- getters */

struct ek_ctx *
tok_key_ctx(const struct ek_key *k)
{
    return k != NULL ? k->ctx : NULL;
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
        return ek_seterr(k->ctx, EK_ERR_NOT_FOUND, "the public key of %s on "
                         "token '%s' cannot be read (the private object has "
                         "no CKA_MODULUS / CKA_PUBLIC_EXPONENT and there is "
                         "no public key object with its id)", k->uri,
                         k->slot.label);
    *der = k->pub_der;
    *len = k->pub_len;
    return EK_OK;
}

ek_err
ek_key_cert_der(const struct ek_key *k, const unsigned char **der,
                size_t *len)
{
    if (k == NULL || der == NULL || len == NULL)
        return EK_ERR_USAGE;
    *der = NULL;
    *len = 0;
    if (k->cert_der == NULL)
        return ek_seterr(k->ctx, EK_ERR_NOT_FOUND, "token '%s' has no "
                         "certificate with the id of key %s; make one with "
                         "entrakey cert create, or give the .cer file",
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
    /* what ek_key_sign uses; tok_key_sign_digest can use it too unless it
     * is CKM_SHA256_RSA_PKCS_PSS or CKM_SHA256_RSA_PKCS (they hash on the
     * token and need the message) */
    p = tok_choose(k->mech_mask, alg, 1);
    return p == TOK_PATH_NONE ? NULL : tok_mech_name(tok_path_mech(p));
}
