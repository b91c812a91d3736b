/* tok_object.c: sessions, object searches and attribute reads: the small
 * steps every other part of the token layer is made of. */
#include <stdlib.h>
#include <string.h>

#include "tok.h"

ek_err
tok_session_open(struct ek_ctx *ctx, struct tok_slot *s, int rw,
                 CK_SESSION_HANDLE *hp)
{
    CK_FLAGS flags = CKF_SERIAL_SESSION;
    CK_RV rv;

    *hp = CK_INVALID_HANDLE;
    if (rw && !(s->ti.flags & CKF_WRITE_PROTECTED))
        flags |= CKF_RW_SESSION;
    rv = TOK_CALL(ctx, s->mod->fl, C_OpenSession, s->id, flags, NULL, NULL, hp);
    if (rv == CKR_TOKEN_WRITE_PROTECTED && (flags & CKF_RW_SESSION) &&
        rw == 1) {
        flags &= ~(CK_FLAGS)CKF_RW_SESSION;
        rv = TOK_CALL(ctx, s->mod->fl, C_OpenSession, s->id, flags, NULL, NULL,
                      hp);
    }
    if (rv != CKR_OK) {
        *hp = CK_INVALID_HANDLE;
        return tok_fail(ctx, rv,
                        "cannot open a session on token '%s' "
                        "(C_OpenSession)",
                        s->label);
    }
    return EK_OK;
}

void
tok_session_close(struct ek_ctx *ctx, struct tok_slot *s, CK_SESSION_HANDLE h)
{
    if (h != CK_INVALID_HANDLE)
        (void)TOK_CALL(ctx, s->mod->fl, C_CloseSession, h);
}

ek_err
tok_find(struct ek_ctx *ctx, struct tok_slot *s, CK_SESSION_HANDLE h,
         CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE **objsp,
         CK_ULONG *countp)
{
    CK_OBJECT_HANDLE *objs = NULL, *grown;
    CK_ULONG count = 0, got = 0;
    CK_RV rv;
    ek_err r = EK_ERR_TOKEN;

    *objsp = NULL;
    *countp = 0;
    rv = TOK_CALL(ctx, s->mod->fl, C_FindObjectsInit, h, tmpl, n);
    if (rv != CKR_OK)
        return tok_fail(ctx, rv,
                        "cannot search token '%s' "
                        "(C_FindObjectsInit)",
                        s->label);
    for (;;) {
        grown = realloc(objs, (count + 32) * sizeof *objs);
        if (grown == NULL) {
            r = ek_seterr_oom(ctx);
            goto out;
        }
        objs = grown;
        rv =
            TOK_CALL(ctx, s->mod->fl, C_FindObjects, h, objs + count, 32, &got);
        if (rv != CKR_OK) {
            r = tok_fail(ctx, rv, "cannot search token '%s' (C_FindObjects)",
                         s->label);
            goto out;
        }
        count += got;
        if (got < 32 || count > 100000)
            break;
    }
    *objsp = objs;
    *countp = count;
    objs = NULL;
    r = EK_OK;
out:
    rv = TOK_CALL(ctx, s->mod->fl, C_FindObjectsFinal, h);
    if (rv != CKR_OK && r == EK_OK) {
        free(*objsp);
        *objsp = NULL;
        *countp = 0;
        r = tok_fail(ctx, rv,
                     "cannot search token '%s' "
                     "(C_FindObjectsFinal)",
                     s->label);
    }
    free(objs);
    return r;
}

/* A value read in one call when it fits this many bytes: every ID, label,
 * modulus and exponent, and most certificates. A larger one is read as
 * before, its length first. Each call is a round trip to a remote token
 * (p11-kit remoting, a network HSM) and a re-read of the object's file on
 * SoftHSM. */
#define TOK_ATTR_GUESS 2048

ek_err
tok_attr(struct ek_ctx *ctx, struct tok_slot *s, CK_SESSION_HANDLE h,
         CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, unsigned char **valp,
         size_t *lenp)
{
    unsigned char guess[TOK_ATTR_GUESS];
    CK_ATTRIBUTE a = {type, guess, sizeof guess};
    CK_ULONG cap = sizeof guess;
    unsigned char *v = NULL;
    CK_RV rv;

    *valp = NULL;
    *lenp = 0;
    /* First into a buffer of the usual size. When the module says it is
     * too small (CKR_BUFFER_TOO_SMALL, or CKR_OK with a longer length): the
     * length, then the value into a buffer of that size. */
    rv = TOK_CALL(ctx, s->mod->fl, C_GetAttributeValue, h, o, &a, 1);
    if (rv == CKR_BUFFER_TOO_SMALL ||
        (rv == CKR_OK && a.ulValueLen != CK_UNAVAILABLE_INFORMATION &&
         a.ulValueLen > cap)) {
        a.pValue = NULL;
        a.ulValueLen = 0;
        rv = TOK_CALL(ctx, s->mod->fl, C_GetAttributeValue, h, o, &a, 1);
        if (rv == CKR_OK && a.ulValueLen != CK_UNAVAILABLE_INFORMATION) {
            if (a.ulValueLen > 1u << 20)
                return ek_seterr(ctx, EK_ERR_TOKEN,
                                 "token '%s' reports an "
                                 "attribute of %lu bytes; refused",
                                 s->label, (unsigned long)a.ulValueLen);
            cap = a.ulValueLen;
            if ((v = ek_calloc(ctx, 1, cap + 1)) == NULL)
                return EK_ERR_INTERNAL;
            a.pValue = v;
            rv = TOK_CALL(ctx, s->mod->fl, C_GetAttributeValue, h, o, &a, 1);
        }
    }
    if (rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE ||
        (rv == CKR_OK && a.ulValueLen == CK_UNAVAILABLE_INFORMATION)) {
        free(v);
        return EK_OK;
    }
    if (rv == CKR_OK && a.ulValueLen > cap) /* it grew again */
        rv = CKR_BUFFER_TOO_SMALL;
    if (rv != CKR_OK) {
        free(v);
        return tok_fail(ctx, rv,
                        "cannot read an attribute of an object on "
                        "token '%s' (C_GetAttributeValue)",
                        s->label);
    }
    /* the value at its own size, with a zero after it */
    if (v == NULL) {
        if ((v = ek_calloc(ctx, 1, a.ulValueLen + 1)) == NULL)
            return EK_ERR_INTERNAL;
        memcpy(v, guess, a.ulValueLen);
    }
    *valp = v;
    *lenp = a.ulValueLen;
    return EK_OK;
}

int
tok_attr_bool(struct ek_ctx *ctx, struct tok_slot *s, CK_SESSION_HANDLE h,
              CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type)
{
    CK_BBOOL b = CK_FALSE;
    CK_ATTRIBUTE a = {type, &b, sizeof b};

    if (TOK_CALL(ctx, s->mod->fl, C_GetAttributeValue, h, o, &a, 1) != CKR_OK ||
        a.ulValueLen != sizeof b)
        return -1;
    return b ? 1 : 0;
}

ek_err
tok_attr_ulong(struct ek_ctx *ctx, struct tok_slot *s, CK_SESSION_HANDLE h,
               CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, CK_ULONG *v)
{
    CK_ATTRIBUTE a = {type, v, sizeof *v};
    CK_RV rv;

    rv = TOK_CALL(ctx, s->mod->fl, C_GetAttributeValue, h, o, &a, 1);
    if (rv == CKR_OK && a.ulValueLen == sizeof *v)
        return EK_OK;
    if (tok_rv_code(rv) == EK_ERR_DEVICE)
        return tok_fail(ctx, rv,
                        "cannot read an attribute of an object on "
                        "token '%s' (C_GetAttributeValue)",
                        s->label);
    return EK_ERR_NOT_FOUND;
}
