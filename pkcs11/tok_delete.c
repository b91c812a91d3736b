/* tok_delete.c: deleting a key from its token: the private key, the public
 * keys and the certificates with its CKA_ID, each C_DestroyObject judged,
 * and a PIV slot's key left in place (it can only be replaced). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok.h"

/* A module that will not destroy an object at all (a PIV slot, a token
 * whose objects are not CKA_DESTROYABLE), as opposed to a failure. */
static int
refused(CK_RV rv)
{
    return rv == CKR_ACTION_PROHIBITED || rv == CKR_FUNCTION_NOT_SUPPORTED ||
           rv == CKR_TOKEN_WRITE_PROTECTED || rv == CKR_ATTRIBUTE_READ_ONLY;
}

/* The objects of class cls with the key's id (token objects only). */
static ek_err
find_with_id(struct ek_key *k, CK_OBJECT_CLASS cls, CK_OBJECT_HANDLE **objsp,
             CK_ULONG *np)
{
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof cls},
        {CKA_TOKEN, &yes, sizeof yes},
        {CKA_ID, k->id, k->id_len},
    };

    return tok_find(k->ctx, &k->slot, k->session, tmpl, 3, objsp, np);
}

/* "private key", "public key and certificate" … of EK_OBJ_* bits. */
static void
describe(unsigned bits, char *out, size_t outsz)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {
        {EK_OBJ_PRIVATE_KEY, "private key"},
        {EK_OBJ_PUBLIC_KEY, "public key"},
        {EK_OBJ_CERT, "certificate"},
    };
    size_t i, used = 0;
    int w;

    out[0] = '\0';
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!(bits & names[i].bit))
            continue;
        w = snprintf(out + used, outsz - used, "%s%s", used > 0 ? ", " : "",
                     names[i].name);
        if (w < 0 || (size_t)w >= outsz - used)
            break;
        used += (size_t)w;
    }
    if (out[0] == '\0')
        snprintf(out, outsz, "nothing");
}

/* Destroys objs[0..n) of one class (bit); a refusal when refused_ok adds
 * bit to *kept. Sets the sentence of a failure, naming what is gone. */
static ek_err
destroy_all(struct ek_key *k, CK_OBJECT_HANDLE *objs, CK_ULONG n, unsigned bit,
            const char *what, unsigned *deleted, unsigned *kept)
{
    struct ek_ctx *ctx = k->ctx;
    char gone[96];
    CK_ULONG i;
    CK_RV rv;

    for (i = 0; i < n; i++) {
        rv = TOK_CALL(ctx, k->slot.mod->fl, C_DestroyObject, k->session,
                      objs[i]);
        if (rv == CKR_OK || rv == CKR_OBJECT_HANDLE_INVALID) {
            /* gone, or gone already (another program deleted it) */
            *deleted |= bit;
            continue;
        }
        describe(*deleted, gone, sizeof gone);
        if (refused(rv) && tok_rv_code(rv) != EK_ERR_DEVICE) {
            *kept |= bit;
            return ek_seterr(ctx, EK_ERR_TOKEN,
                             "token '%s' does not let the %s of key %s be "
                             "deleted (C_DestroyObject: %s); deleted so far: "
                             "%s. Remove it with the token's own tool",
                             k->slot.label, what, k->uri,
                             tok_rv_name(rv) ? tok_rv_name(rv) : "refused",
                             gone);
        }
        *kept |= bit;
        return tok_fail(ctx, rv,
                        "cannot delete the %s of key %s on token '%s' "
                        "(C_DestroyObject); deleted so far: %s",
                        what, k->uri, k->slot.label, gone);
    }
    return EK_OK;
}

ek_err
ek_key_delete(struct ek_key *k, unsigned *deletedp, unsigned *keptp)
{
    struct ek_ctx *ctx;
    CK_OBJECT_HANDLE *pubs = NULL, *certs = NULL, priv;
    CK_ULONG npub = 0, ncert = 0;
    unsigned deleted = 0, kept = 0;
    int piv, yubikey, so = 0;
    ek_err r = EK_ERR_INTERNAL;

    if (deletedp != NULL)
        *deletedp = 0;
    if (keptp != NULL)
        *keptp = 0;
    if (k == NULL)
        return EK_ERR_USAGE;
    ctx = k->ctx;
    if (k->lost || k->session == CK_INVALID_HANDLE)
        return ek_seterr(ctx, k->lost ? EK_ERR_DEVICE : EK_ERR_USAGE,
                         "key %s has no session with token '%s' (a listed "
                         "key, or the token went away); open it with "
                         "ek_key_open",
                         k->uri, k->slot.label);
    if (k->id_len == 0)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "key %s on token '%s' has no CKA_ID, which names "
                         "its public key and certificate; nothing was "
                         "deleted: remove it with the token's own tool",
                         k->uri, k->slot.label);
    piv = ek_key_in_piv_slot(k);
    yubikey = tok_slot_is_yubikey(&k->slot);
    if (yubikey) {
        /* ykcs11 deletes objects (certificates only) after the SO login,
         * the management key, as it stores them */
        if (!(tok_logged_in(ctx, &k->slot, k->session, &so) && so)) {
            if (tok_logged_in(ctx, &k->slot, k->session, NULL))
                (void)TOK_CALL(ctx, k->slot.mod->fl, C_Logout, k->session);
            r = tok_login(ctx, &k->slot, k->session, TOK_LOGIN_SO,
                          ctx->so_pin_source, NULL);
            if (r != EK_OK)
                goto out;
        }
    } else if (k->priv == CK_INVALID_HANDLE) {
        /* found through its public objects: the login, then the private
         * object by its id */
        if ((r = tok_key_resolve(k)) != EK_OK)
            goto out;
    } else if ((r = tok_login(ctx, &k->slot, k->session, TOK_LOGIN_USER,
                              k->pin_src, NULL)) != EK_OK) {
        goto out;
    }
    if ((r = find_with_id(k, CKO_PUBLIC_KEY, &pubs, &npub)) != EK_OK ||
        (r = find_with_id(k, CKO_CERTIFICATE, &certs, &ncert)) != EK_OK)
        goto out;
    if (piv) {
        /* a PIV slot always holds a key: only a new one replaces it */
        kept |= EK_OBJ_PRIVATE_KEY | (npub > 0 ? EK_OBJ_PUBLIC_KEY : 0);
        ek_log(ctx, EK_LOG_WARN,
               "key %s is in a PIV slot of token '%s': PIV keys cannot be "
               "deleted, only replaced by a new key generated in the same "
               "slot; its certificate is deleted",
               k->uri, k->slot.label);
        r = destroy_all(k, certs, ncert, EK_OBJ_CERT, "certificate", &deleted,
                        &kept);
        goto out;
    }
    /* the private key first: if the token refuses it, the pair and its
     * certificate stay whole */
    priv = k->priv;
    if ((r = destroy_all(k, &priv, 1, EK_OBJ_PRIVATE_KEY, "private key",
                         &deleted, &kept)) != EK_OK)
        goto out;
    k->priv = CK_INVALID_HANDLE;
    if ((r = destroy_all(k, certs, ncert, EK_OBJ_CERT, "certificate", &deleted,
                         &kept)) != EK_OK ||
        (r = destroy_all(k, pubs, npub, EK_OBJ_PUBLIC_KEY, "public key",
                         &deleted, &kept)) != EK_OK)
        goto out;
    r = EK_OK;
out:
    if (r != EK_OK && !piv)
        /* what was there and is not gone stays */
        kept |= ((k->priv != CK_INVALID_HANDLE ? EK_OBJ_PRIVATE_KEY : 0) |
                 (npub > 0 ? EK_OBJ_PUBLIC_KEY : 0) |
                 (ncert > 0 ? EK_OBJ_CERT : 0)) &
                ~deleted;
    if (deleted & EK_OBJ_CERT) {
        free(k->cert_der);
        k->cert_der = NULL;
        k->cert_len = 0;
    }
    if (deletedp != NULL)
        *deletedp = deleted;
    if (keptp != NULL)
        *keptp = kept;
    free(pubs);
    free(certs);
    return r;
}
