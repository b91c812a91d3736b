/* tok_keygen.c: RSA key pairs generated on the token with a non-exportable
 * template that degrades when a module refuses an attribute, and the
 * certificate objects stored beside them. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "tok.h"

/* Serialises keygen across this user's processes: two runs with one label
 * both pass the "no such label" check and make twins (same label, same id)
 * that no URI can tell apart. The lock is $XDG_RUNTIME_DIR/entrakey/
 * keygen.lock (else /run/entrakey/keygen.lock), held with flock(2) from
 * before this call loads any module until the key is made. It is taken
 * that early because a module that keeps its store in files can read it
 * half-written: SoftHSM 2.6.1 read its token.object while another
 * process's C_Login rewrote it and failed that login (CKR_GENERAL_ERROR),
 * and a run whose C_Initialize read the store while another run was
 * generating never saw that run's key and made a twin (CI, 2026-12-05).
 * One lock for all tokens: keygen is rare, and a per-token lock cannot be
 * named before the module is loaded. The check after generating covers
 * runs that do not share the directory. Returns the descriptor to close,
 * or -1 when there is no lock to take (said with -v). */
static int
keygen_lock(struct ek_ctx *ctx)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    char dir[PATH_MAX], path[PATH_MAX];
    struct stat st;
    int fd;

    if (xdg != NULL && xdg[0] == '/')
        snprintf(dir, sizeof dir, "%s/entrakey", xdg);
    else
        snprintf(dir, sizeof dir, "/run/entrakey");
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        goto nolock;
    /* a directory someone else controls could hand us any file */
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) ||
        st.st_uid != geteuid() || (st.st_mode & 022))
        goto nolock;
    if (snprintf(path, sizeof path, "%s/keygen.lock", dir) >= (int)sizeof path)
        goto nolock;
    fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        goto nolock;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ek_log(ctx, EK_LOG_INFO,
               "another keygen is running; waiting for it (%s)", path);
        while (flock(fd, LOCK_EX) != 0) {
            if (errno != EINTR) {
                close(fd);
                goto nolock;
            }
        }
    }
    return fd;
nolock:
    ek_log(ctx, EK_LOG_INFO,
           "no keygen lock (%s: %s); the check after generating still "
           "refuses twins",
           dir, strerror(errno));
    return -1;
}

/* How many private keys have the attribute (label or id). */
static ek_err
count_private(struct ek_ctx *ctx, struct tok_slot *s, CK_SESSION_HANDLE h,
              const CK_ATTRIBUTE *a, CK_ULONG *np)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t[2] = {{CKA_CLASS, &cls, sizeof cls}, *a};
    CK_OBJECT_HANDLE *objs = NULL;
    ek_err r;

    r = tok_find(ctx, s, h, t, 2, &objs, np);
    free(objs);
    return r;
}

static const char *
class_name(CK_OBJECT_CLASS c)
{
    switch (c) {
    case CKO_PRIVATE_KEY:
        return "a private key";
    case CKO_PUBLIC_KEY:
        return "a public key";
    case CKO_CERTIFICATE:
        return "a certificate";
    case CKO_SECRET_KEY:
        return "a secret key";
    case CKO_DATA:
        return "a data object";
    default:
        return "an object";
    }
}

/* EK_ERR_EXISTS when an object has the attribute (label or id), naming
 * the kinds of objects that have it. */
static ek_err
refuse_existing(struct ek_ctx *ctx, struct tok_slot *s, CK_SESSION_HANDLE h,
                CK_ATTRIBUTE *a, const char *what)
{
    CK_OBJECT_HANDLE *objs = NULL;
    CK_OBJECT_CLASS cls;
    CK_ATTRIBUTE ca = {CKA_CLASS, &cls, sizeof cls};
    CK_ULONG n = 0, i;
    char kinds[256];
    size_t used = 0;
    int w;
    ek_err r;

    if ((r = tok_find(ctx, s, h, a, 1, &objs, &n)) != EK_OK)
        return r;
    kinds[0] = '\0';
    for (i = 0; i < n && i < 4; i++) {
        cls = (CK_OBJECT_CLASS)-1;
        (void)TOK_CALL(ctx, s->mod->fl, C_GetAttributeValue, h, objs[i], &ca,
                       1);
        w = snprintf(kinds + used, sizeof kinds - used, "%s%s",
                     i == 0       ? ""
                     : i + 1 == n ? " and "
                                  : ", ",
                     class_name(cls));
        if (w > 0 && (size_t)w < sizeof kinds - used)
            used += (size_t)w;
    }
    free(objs);
    if (n == 0)
        return EK_OK;
    return ek_seterr(ctx, EK_ERR_EXISTS,
                     "token '%s' already has %s%s with "
                     "%s; nothing was generated and nothing was changed. "
                     "Choose another %s, or remove the old objects with the "
                     "token's tool",
                     s->label, kinds, n > 4 ? " and more" : "", what,
                     a->type == CKA_LABEL ? "label" : "id");
}

/* The lowest one-byte id no object uses: 1..24 on a YubiKey (the id is the
 * PIV slot), 1..255 elsewhere. */
static ek_err
pick_id(struct ek_ctx *ctx, struct tok_slot *s, CK_SESSION_HANDLE h,
        unsigned char *id)
{
    CK_OBJECT_HANDLE *objs = NULL;
    CK_ULONG n = 0;
    unsigned char cand;
    unsigned max = tok_slot_is_yubikey(s) ? 24 : 255;
    CK_ATTRIBUTE a = {CKA_ID, &cand, 1};
    ek_err r;

    for (unsigned v = 1; v <= max; v++) {
        cand = (unsigned char)v;
        if ((r = tok_find(ctx, s, h, &a, 1, &objs, &n)) != EK_OK)
            return r;
        free(objs);
        objs = NULL;
        if (n == 0) {
            *id = cand;
            return EK_OK;
        }
    }
    return ek_seterr(ctx, EK_ERR_EXISTS,
                     "token '%s' has no free key id "
                     "(1..%u are all used); give the key an id",
                     s->label, max);
}

static int
degradable(CK_RV rv)
{
    /* tpm2-pkcs11 says CKR_GENERAL_ERROR for DECRYPT=FALSE */
    return rv == CKR_ATTRIBUTE_TYPE_INVALID ||
           rv == CKR_ATTRIBUTE_VALUE_INVALID ||
           rv == CKR_TEMPLATE_INCONSISTENT || rv == CKR_GENERAL_ERROR;
}

#define DROP_EXTRACTABLE 0x1u
#define DROP_DECRYPT 0x2u

/* What to leave out after a refusal. CKA_EXTRACTABLE=FALSE is what keeps
 * the key on the token, so CKA_DECRYPT goes first; only a module that does
 * not know an attribute type (ykcs11 2.2.0 and CKA_EXTRACTABLE: every
 * module knows CKA_DECRYPT) has CKA_EXTRACTABLE left out first, since it
 * cannot honour it anyway. 0: nothing left to leave out. */
static unsigned
next_drop(unsigned drop, CK_RV rv)
{
    if (!(drop & DROP_EXTRACTABLE) && rv == CKR_ATTRIBUTE_TYPE_INVALID)
        return drop | DROP_EXTRACTABLE;
    if (!(drop & DROP_DECRYPT))
        return drop | DROP_DECRYPT;
    if (!(drop & DROP_EXTRACTABLE))
        return drop | DROP_EXTRACTABLE;
    return 0;
}

static ek_err
generate(struct ek_ctx *ctx, struct tok_slot *s, CK_SESSION_HANDLE h,
         const char *label, const unsigned char *id, size_t id_len,
         CK_ULONG bits, CK_OBJECT_HANDLE *privp, CK_OBJECT_HANDLE *pubp,
         char *dropped, size_t droppedsz)
{
    CK_MECHANISM mech = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_BYTE e[] = {0x01, 0x00, 0x01};
    CK_ATTRIBUTE pub[] = {
        {CKA_TOKEN, &yes, sizeof yes},
        {CKA_VERIFY, &yes, sizeof yes},
        {CKA_MODULUS_BITS, &bits, sizeof bits},
        {CKA_PUBLIC_EXPONENT, e, sizeof e},
        {CKA_LABEL, (void *)(uintptr_t)label, strlen(label)},
        {CKA_ID, (void *)(uintptr_t)id, id_len},
    };
    CK_ATTRIBUTE priv[8];
    CK_OBJECT_HANDLE hpub = CK_INVALID_HANDLE, hpriv = CK_INVALID_HANDLE;
    CK_ULONG n;
    CK_RV rv = CKR_OK;
    int tries = 0;
    unsigned drop = 0, next;

    /* tpm2-pkcs11 refuses CKA_DECRYPT=FALSE always, and without a resource
     * manager each refused try leaves an object loaded in the TPM */
    if (tok_module_is_tpm2(s->mod))
        drop = DROP_DECRYPT;
    for (;; tries++) {
        n = 0;
        priv[n++] = (CK_ATTRIBUTE){CKA_TOKEN, &yes, sizeof yes};
        priv[n++] = (CK_ATTRIBUTE){CKA_PRIVATE, &yes, sizeof yes};
        priv[n++] = (CK_ATTRIBUTE){CKA_SENSITIVE, &yes, sizeof yes};
        if (!(drop & DROP_EXTRACTABLE))
            priv[n++] = (CK_ATTRIBUTE){CKA_EXTRACTABLE, &no, sizeof no};
        priv[n++] = (CK_ATTRIBUTE){CKA_SIGN, &yes, sizeof yes};
        if (!(drop & DROP_DECRYPT))
            priv[n++] = (CK_ATTRIBUTE){CKA_DECRYPT, &no, sizeof no};
        priv[n++] =
            (CK_ATTRIBUTE){CKA_LABEL, (void *)(uintptr_t)label, strlen(label)};
        priv[n++] = (CK_ATTRIBUTE){CKA_ID, (void *)(uintptr_t)id, id_len};
        rv = TOK_CALL(ctx, s->mod->fl, C_GenerateKeyPair, h, &mech, pub,
                      sizeof pub / sizeof pub[0], priv, n, &hpub, &hpriv);
        if (rv == CKR_OK || !degradable(rv) ||
            (next = next_drop(drop, rv)) == 0)
            break;
        ek_log(ctx, EK_LOG_WARN,
               "token '%s' refused the key template "
               "(C_GenerateKeyPair: %s); trying again without %s",
               s->label, tok_rv_name(rv) ? tok_rv_name(rv) : "error",
               next == DROP_EXTRACTABLE ? "CKA_EXTRACTABLE"
               : next == DROP_DECRYPT   ? "CKA_DECRYPT"
                                        : "CKA_EXTRACTABLE and CKA_DECRYPT");
        drop = next;
    }
    if (rv != CKR_OK)
        return tok_fail(ctx, rv,
                        "cannot generate a %lu-bit RSA key '%s' on "
                        "token '%s' (C_GenerateKeyPair%s)",
                        (unsigned long)bits, label, s->label,
                        tries > 0 ? ", also with a reduced template" : "");
    snprintf(dropped, droppedsz, "%s%s%s",
             drop & DROP_EXTRACTABLE ? "CKA_EXTRACTABLE" : "",
             drop == (DROP_EXTRACTABLE | DROP_DECRYPT) ? "," : "",
             drop & DROP_DECRYPT ? "CKA_DECRYPT" : "");
    *privp = hpriv;
    *pubp = hpub;
    return EK_OK;
}

/* Why the token cannot make the key, and what to do instead: the largest
 * size it makes, or, when the module makes no keys at all (OpenSC's PIV
 * driver), the vendor's tool and then cert create. */
static ek_err
no_keygen(struct ek_ctx *ctx, struct tok_slot *s, unsigned bits)
{
    CK_MECHANISM_INFO mi;
    unsigned long hi;
    CK_RV rv;

    rv = TOK_CALL(ctx, s->mod->fl, C_GetMechanismInfo, s->id,
                  CKM_RSA_PKCS_KEY_PAIR_GEN, &mi);
    if (rv != CKR_OK || !(mi.flags & CKF_GENERATE_KEY_PAIR))
        return ek_seterr(ctx, EK_ERR_MECHANISM,
                         "token '%s': this module "
                         "cannot generate keys (no "
                         "CKM_RSA_PKCS_KEY_PAIR_GEN); generate the key on "
                         "the device with its vendor's tool (for a PIV card: "
                         "yubico-piv-tool -a generate, or ykman piv keys "
                         "generate), then make only its certificate here",
                         s->label);
    hi = mi.ulMaxKeySize < 1024 ? mi.ulMaxKeySize * 8 : mi.ulMaxKeySize;
    if (hi >= 2048 && hi < bits)
        return ek_seterr(ctx, EK_ERR_MECHANISM,
                         "token '%s' cannot generate "
                         "%u-bit RSA keys: %lu bits is its limit%s; "
                         "generate a %lu-bit key",
                         s->label, bits, hi,
                         tok_module_is_tpm2(s->mod)
                             ? " (a TPM 2.0 makes RSA "
                               "keys of at most 3072 bits)"
                             : "",
                         hi >= 3072 ? 3072ul : 2048ul);
    return ek_seterr(
        ctx, EK_ERR_MECHANISM,
        "token '%s' cannot generate "
        "%u-bit RSA keys (CKM_RSA_PKCS_KEY_PAIR_GEN offers "
        "%lu to %lu bits); choose a size in that range, or "
        "generate the key with the token's own tool",
        s->label, bits,
        mi.ulMinKeySize < 1024 ? mi.ulMinKeySize * 8 : mi.ulMinKeySize, hi);
}

ek_err
ek_key_generate(struct ek_ctx *ctx, const char *token_uri,
                const struct ek_keygen_params *params, struct ek_key **keyp)
{
    struct tok_uri u;
    struct tok_slot *slots = NULL, *s;
    struct ek_key *k = NULL;
    struct ek_pin_source *pin_src = NULL;
    CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE hpriv = CK_INVALID_HANDLE, hpub = CK_INVALID_HANDLE;
    CK_ATTRIBUTE a, ida;
    CK_ULONG twins_label = 0, twins_id = 0;
    CK_RV rv1, rv2;
    int lockfd = -1;
    unsigned char picked;
    const unsigned char *id;
    size_t id_len, n = 0;
    unsigned bits, mask = 0;
    char list[1024], shown[1024], hex[129], dropped[128];
    ek_err r = EK_ERR_INTERNAL;

    if (ctx == NULL || keyp == NULL || params == NULL)
        return EK_ERR_USAGE;
    *keyp = NULL;
    bits = params->bits == 0 ? 2048 : params->bits;
    if (bits != 2048 && bits != 3072 && bits != 4096)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "%u-bit keys are not offered; "
                         "use 2048, 3072 or 4096",
                         bits);
    if (params->label == NULL || params->label[0] == '\0' ||
        strlen(params->label) > 128)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "a key needs a label of 1 to 128 "
                         "bytes");
    if (!ek_utf8_valid(params->label))
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "the label is not valid UTF-8 "
                         "(CKA_LABEL is a UTF-8 string); give the label "
                         "in UTF-8");
    if (params->id != NULL && (params->id_len == 0 || params->id_len > 64))
        return ek_seterr(ctx, EK_ERR_USAGE, "a key id has 1 to 64 bytes");
    if (token_uri == NULL)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "key generation needs the URI of "
                         "the token to make the key on");
    if ((r = tok_uri_parse(ctx, token_uri, &u)) != EK_OK)
        return r;
    tok_uri_redact(token_uri, shown, sizeof shown);
    if (u.has_id || u.has_label || u.has_class) {
        r = ek_seterr(ctx, EK_ERR_USAGE,
                      "keygen takes a token URI, not an "
                      "object's: '%s' has id=, object= or type=; the new "
                      "key's label and id are parameters of their own",
                      shown);
        goto out;
    }
    lockfd = keygen_lock(ctx);
    if ((r = tok_match_slots(ctx, token_uri, &u, &slots, &n)) != EK_OK)
        goto out;
    if (n > 1) {
        tok_describe_tokens(slots, n, list, sizeof list);
        r = ek_seterr(ctx, EK_ERR_AMBIGUOUS,
                      "%zu tokens match '%s': %s; name "
                      "one (add serial=)",
                      n, shown, list);
        goto out;
    }
    s = &slots[0];
    if ((r = tok_mech_mask(ctx, s, bits, 1, &mask)) != EK_OK)
        goto out;
    if (!(mask & TOK_CAN_KEYGEN)) {
        r = no_keygen(ctx, s, bits);
        goto out;
    }
    if ((r = tok_pin_resolve(ctx, &u, &pin_src)) != EK_OK)
        goto out;
    if ((r = tok_session_open(ctx, s, 2, &h)) != EK_OK)
        goto out;
    /* ykcs11 generates keys only after the SO login (the management key) */
    if (tok_slot_is_yubikey(s))
        r = tok_login(ctx, s, h, TOK_LOGIN_SO, ctx->so_pin_source, NULL);
    else
        r = tok_login(ctx, s, h, TOK_LOGIN_USER, pin_src, NULL);
    if (r != EK_OK)
        goto out;
    a.type = CKA_LABEL;
    a.pValue = (void *)(uintptr_t)params->label;
    a.ulValueLen = strlen(params->label);
    snprintf(list, sizeof list, "the label '%s'", params->label);
    if ((r = refuse_existing(ctx, s, h, &a, list)) != EK_OK)
        goto out;
    if (params->id != NULL) {
        id = params->id;
        id_len = params->id_len;
    } else {
        if ((r = pick_id(ctx, s, h, &picked)) != EK_OK)
            goto out;
        id = &picked;
        id_len = 1;
    }
    ek_hex_encode(id, id_len, hex, 0);
    a.type = CKA_ID;
    a.pValue = (void *)(uintptr_t)id;
    a.ulValueLen = id_len;
    snprintf(list, sizeof list, "the id %s", hex);
    if ((r = refuse_existing(ctx, s, h, &a, list)) != EK_OK)
        goto out;
    ek_log(ctx, EK_LOG_INFO,
           "generating a %u-bit RSA key '%s' (id %s) on "
           "token '%s' with CKM_RSA_PKCS_KEY_PAIR_GEN",
           bits, params->label, hex, s->label);
    if ((r = generate(ctx, s, h, params->label, id, id_len, bits, &hpriv, &hpub,
                      dropped, sizeof dropped)) != EK_OK)
        goto out;
    /* another program (or a run without our lock) may have made a key
     * with this label or id meanwhile: then the pair this run made goes,
     * by its own handles, and no two keys are left alike */
    ida = (CK_ATTRIBUTE){CKA_ID, (void *)(uintptr_t)id, id_len};
    if ((r = count_private(ctx, s, h, &ida, &twins_id)) != EK_OK)
        goto out;
    a.type = CKA_LABEL;
    a.pValue = (void *)(uintptr_t)params->label;
    a.ulValueLen = strlen(params->label);
    if ((r = count_private(ctx, s, h, &a, &twins_label)) != EK_OK)
        goto out;
    if (twins_label > 1 || twins_id > 1) {
        rv1 = TOK_CALL(ctx, s->mod->fl, C_DestroyObject, h, hpriv);
        rv2 = hpub != CK_INVALID_HANDLE
                  ? TOK_CALL(ctx, s->mod->fl, C_DestroyObject, h, hpub)
                  : CKR_OK;
        if (rv1 != CKR_OK || rv2 != CKR_OK) {
            r = tok_fail(ctx, rv1 != CKR_OK ? rv1 : rv2,
                         "another program "
                         "made a key with the %s '%s' on token '%s' while "
                         "this one was generated, and the key this run made "
                         "could not be removed (C_DestroyObject); remove the "
                         "twin (id %s) with the token's tool",
                         twins_label > 1 ? "label" : "id",
                         twins_label > 1 ? params->label : hex, s->label, hex);
            goto out;
        }
        r = ek_seterr(ctx, EK_ERR_EXISTS,
                      "another program made a key with "
                      "the %s '%s' on token '%s' while this one was "
                      "generated; the key this run made was removed, so "
                      "that no two keys are alike. Choose another label "
                      "or id, or use the other key",
                      twins_label > 1 ? "label" : "id",
                      twins_label > 1 ? params->label : hex, s->label);
        goto out;
    }
    if ((r = tok_key_new(ctx, s, h, hpriv, &k)) != EK_OK)
        goto out;
    h = CK_INVALID_HANDLE; /* the key's now */
    snprintf(k->dropped, sizeof k->dropped, "%s", dropped);
    k->made_here = 1;
    if (strcmp(k->label, params->label) != 0)
        ek_log(ctx, EK_LOG_WARN,
               "token '%s' ignores the label asked for (%s): the key "
               "is labelled '%s'",
               s->label,
               tok_slot_is_yubikey(s) ? "ykcs11 names a key after its PIV "
                                        "slot"
                                      : "the module chose its own label",
               k->label);
    if ((r = tok_mech_mask(ctx, &k->slot, k->bits, 0, &k->mech_mask)) != EK_OK)
        goto out;
    k->pin_src = pin_src;
    pin_src = NULL;
    if (ek_key_verdict(k) != EK_VERDICT_NON_EXPORTABLE)
        ek_log(ctx, EK_LOG_WARN,
               "the new key %s does not prove itself "
               "non-exportable; see its attributes",
               k->uri);
    *keyp = k;
    k = NULL;
    r = EK_OK;
out:
    ek_key_free(&k);
    ek_pin_source_free(&pin_src);
    if (h != CK_INVALID_HANDLE)
        tok_session_close(ctx, &slots[0], h);
    if (lockfd >= 0)
        close(lockfd); /* releases the lock, after the key is complete */
    free(slots);
    tok_uri_clear(&u);
    return r;
}

/* ----------------------------------------------------- certificate objects */

ek_err
tok_key_store_cert(struct ek_key *k, const unsigned char *der, size_t len,
                   const unsigned char *subject_der, size_t subject_len,
                   int force)
{
    struct ek_ctx *ctx;
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_CERTIFICATE_TYPE ct = CKC_X_509;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE find[] = {
        {CKA_CLASS, &cls, sizeof cls},
        {CKA_TOKEN, &yes, sizeof yes},
        {CKA_ID, NULL, 0},
    };
    /* the minimal template ykcs11 2.2.0 accepts (no hash attributes), with
     * the issuer and serial number NSS softokn requires
     * (CKR_TEMPLATE_INCOMPLETE without them) */
    CK_ATTRIBUTE tmpl[9];
    const unsigned char *p = der;
    X509 *x = NULL;
    unsigned char *issuer = NULL, *serial = NULL;
    int ilen = 0, slen = 0;
    CK_OBJECT_HANDLE *old = NULL, created = CK_INVALID_HANDLE;
    CK_ULONG nold = 0, i, n = 0;
    unsigned char *copy = NULL;
    int yubikey, so = 0;
    CK_RV rv;
    ek_err r = EK_ERR_INTERNAL;

    if (k == NULL || der == NULL || len == 0 || subject_der == NULL)
        return EK_ERR_USAGE;
    ctx = k->ctx;
    if (k->session == CK_INVALID_HANDLE)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "key %s has no session; open it "
                         "with ek_key_open",
                         k->uri);
    if (k->id_len == 0)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "key %s has no CKA_ID, so a "
                         "certificate cannot be tied to it",
                         k->uri);
    yubikey = tok_slot_is_yubikey(&k->slot);
    if (yubikey && !(tok_logged_in(ctx, &k->slot, k->session, &so) && so)) {
        /* ykcs11 stores objects only after the SO login */
        if (tok_logged_in(ctx, &k->slot, k->session, NULL))
            (void)TOK_CALL(ctx, k->slot.mod->fl, C_Logout, k->session);
        r = tok_login(ctx, &k->slot, k->session, TOK_LOGIN_SO,
                      ctx->so_pin_source, NULL);
    } else {
        r = tok_login(ctx, &k->slot, k->session, TOK_LOGIN_USER, k->pin_src,
                      k->always_auth ? &k->pin : NULL);
    }
    if (r != EK_OK)
        return r;
    find[2].pValue = k->id;
    find[2].ulValueLen = k->id_len;
    if ((r = tok_find(ctx, &k->slot, k->session, find, 3, &old, &nold)) !=
        EK_OK)
        return r;
    if (nold > 0 && !force && !k->made_here) {
        r = ek_seterr(ctx, EK_ERR_EXISTS,
                      "token '%s' already has a "
                      "certificate with the id of key %s; it was left as it "
                      "is (EK_WRITE_FORCE replaces it)%s",
                      k->slot.label, k->uri,
                      yubikey ? " (with the SO PIN source: a YubiKey "
                                "stores certificates with the management key)"
                              : "");
        goto out;
    }
    tmpl[n++] = (CK_ATTRIBUTE){CKA_CLASS, &cls, sizeof cls};
    tmpl[n++] = (CK_ATTRIBUTE){CKA_CERTIFICATE_TYPE, &ct, sizeof ct};
    tmpl[n++] = (CK_ATTRIBUTE){CKA_TOKEN, &yes, sizeof yes};
    tmpl[n++] = (CK_ATTRIBUTE){CKA_ID, k->id, k->id_len};
    if (k->label[0] != '\0')
        tmpl[n++] = (CK_ATTRIBUTE){CKA_LABEL, k->label, strlen(k->label)};
    tmpl[n++] = (CK_ATTRIBUTE){CKA_SUBJECT, (void *)(uintptr_t)subject_der,
                               subject_len};
    tmpl[n++] = (CK_ATTRIBUTE){CKA_VALUE, (void *)(uintptr_t)der, len};
    if ((x = d2i_X509(NULL, &p, (long)len)) == NULL ||
        (ilen = i2d_X509_NAME(X509_get_issuer_name(x), &issuer)) <= 0 ||
        (slen = i2d_ASN1_INTEGER(X509_get0_serialNumber(x), &serial)) <= 0) {
        r = ek_seterr(ctx, EK_ERR_CERT,
                      "the certificate of key %s cannot "
                      "be read back for its issuer and serial number",
                      k->uri);
        goto out;
    }
    tmpl[n++] = (CK_ATTRIBUTE){CKA_ISSUER, issuer, (CK_ULONG)ilen};
    tmpl[n++] = (CK_ATTRIBUTE){CKA_SERIAL_NUMBER, serial, (CK_ULONG)slen};
    rv = TOK_CALL(ctx, k->slot.mod->fl, C_CreateObject, k->session, tmpl, n,
                  &created);
    if (rv == CKR_FUNCTION_NOT_SUPPORTED || rv == CKR_ACTION_PROHIBITED ||
        rv == CKR_TOKEN_WRITE_PROTECTED) {
        /* OpenSC's PIV driver stores nothing */
        r = ek_seterr(ctx, EK_ERR_TOKEN,
                      "token '%s' does not store "
                      "certificates through this module (C_CreateObject: "
                      "%s); make the certificate without storing it "
                      "(EK_CERT_NO_STORE), keep it in a file and name that "
                      "file where the key signs (or store it with the "
                      "card's own tool)",
                      k->slot.label,
                      tok_rv_name(rv) ? tok_rv_name(rv) : "error");
        goto out;
    }
    if (rv != CKR_OK) {
        r = tok_fail(ctx, rv,
                     "cannot store the certificate of key %s on "
                     "token '%s' (C_CreateObject)",
                     k->uri, k->slot.label);
        goto out;
    }
    if ((copy = ek_calloc(ctx, 1, len)) == NULL) {
        r = EK_ERR_INTERNAL;
        goto out;
    }
    memcpy(copy, der, len);
    free(k->cert_der);
    k->cert_der = copy;
    k->cert_len = len;
    /* replaced: the new one exists before the old one goes (on a YubiKey
     * the new object took the slot's place already) */
    for (i = 0; i < nold && !yubikey; i++) {
        rv =
            TOK_CALL(ctx, k->slot.mod->fl, C_DestroyObject, k->session, old[i]);
        if (rv != CKR_OK) {
            r = tok_fail(ctx, rv,
                         "the new certificate of key %s is stored "
                         "on token '%s', but the old one could not be "
                         "removed (C_DestroyObject); remove it with the "
                         "token's tool",
                         k->uri, k->slot.label);
            goto out;
        }
    }
    ek_log(ctx, EK_LOG_INFO, "stored the certificate of key %s on token '%s'%s",
           k->uri, k->slot.label, nold > 0 ? " (replacing the old one)" : "");
    r = EK_OK;
out:
    OPENSSL_free(issuer);
    OPENSSL_free(serial);
    X509_free(x);
    free(old);
    return r;
}
