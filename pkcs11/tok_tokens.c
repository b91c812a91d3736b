/* tok_tokens.c: listing tokens with their state and capabilities, and
 * initialising a free slot (the embedded SoftHSM token). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok.h"

struct ek_token {
    char *uri;
    char *module;
    char label[33];
    char manufacturer[33];
    char model[17];
    char serial[17];
    unsigned long slot;
    unsigned flags;
    unsigned mask;
};

struct ek_token_list {
    struct ek_token *e;
    size_t n;
};

unsigned
tok_slot_flags(const struct tok_slot *s)
{
    const CK_TOKEN_INFO *ti = &s->ti;
    unsigned f = 0;

    if (ti->flags & CKF_LOGIN_REQUIRED)
        f |= EK_TOKEN_LOGIN_REQUIRED;
    if (ti->flags & CKF_USER_PIN_COUNT_LOW)
        f |= EK_TOKEN_PIN_COUNT_LOW;
    if (ti->flags & CKF_USER_PIN_FINAL_TRY)
        f |= EK_TOKEN_PIN_FINAL_TRY;
    if (ti->flags & CKF_USER_PIN_LOCKED)
        f |= EK_TOKEN_PIN_LOCKED;
    if (ti->flags & CKF_PROTECTED_AUTHENTICATION_PATH)
        f |= EK_TOKEN_PROTECTED_AUTH;
    if (ti->flags & CKF_TOKEN_INITIALIZED)
        f |= EK_TOKEN_INITIALIZED;
    if (ti->flags & CKF_WRITE_PROTECTED)
        f |= EK_TOKEN_WRITE_PROTECTED;
    if (s->si.flags & CKF_REMOVABLE_DEVICE)
        f |= EK_TOKEN_REMOVABLE;
    return f;
}

ek_err
ek_tokens_list(struct ek_ctx *ctx, struct ek_token_list **listp)
{
    struct tok_sel *sel = NULL;
    struct tok_slot *slots = NULL;
    struct ek_token_list *l = NULL;
    struct ek_token *e;
    size_t n = 0, i;
    char save[EK_ERRMSG_MAX];
    ek_err r = EK_ERR_INTERNAL;

    if (ctx == NULL || listp == NULL)
        return EK_ERR_USAGE;
    *listp = NULL;
    if ((r = tok_modules(ctx, NULL, &sel)) != EK_OK)
        return r;
    if ((r = tok_slots(ctx, sel, 1, &slots, &n)) != EK_OK)
        return r;
    if ((l = ek_calloc(ctx, 1, sizeof *l)) == NULL ||
        (n > 0 && (l->e = ek_calloc(ctx, n, sizeof *l->e)) == NULL)) {
        r = EK_ERR_INTERNAL;
        goto out;
    }
    for (i = 0; i < n; i++) {
        e = &l->e[l->n++];
        memcpy(e->label, slots[i].label, sizeof e->label);
        memcpy(e->manufacturer, slots[i].manufacturer, sizeof e->manufacturer);
        memcpy(e->model, slots[i].model, sizeof e->model);
        memcpy(e->serial, slots[i].serial, sizeof e->serial);
        e->slot = slots[i].id;
        e->flags = tok_slot_flags(&slots[i]);
        if ((r = tok_uri_token(ctx, &slots[i], &e->uri)) != EK_OK)
            goto out;
        if ((e->module = ek_strdup(ctx, slots[i].mod->path)) == NULL) {
            r = EK_ERR_INTERNAL;
            goto out;
        }
        /* a token whose mechanisms cannot be listed just shows none */
        snprintf(save, sizeof save, "%s", ek_ctx_errmsg(ctx));
        if (tok_mech_mask(ctx, &slots[i], 0, 1, &e->mask) != EK_OK) {
            ek_log(ctx, EK_LOG_WARN, "%s", ek_ctx_errmsg(ctx));
            ek_seterr(ctx, EK_OK, "%s", save);
            e->mask = 0;
        }
    }
    *listp = l;
    l = NULL;
    r = EK_OK;
out:
    ek_token_list_free(&l);
    free(slots);
    return r;
}

size_t
ek_token_list_count(const struct ek_token_list *l)
{
    return l != NULL ? l->n : 0;
}

const struct ek_token *
ek_token_list_get(const struct ek_token_list *l, size_t i)
{
    return l != NULL && i < l->n ? &l->e[i] : NULL;
}

const char *
ek_token_uri(const struct ek_token *t)
{
    return t != NULL ? t->uri : "";
}

const char *
ek_token_label(const struct ek_token *t)
{
    return t != NULL ? t->label : "";
}

const char *
ek_token_manufacturer(const struct ek_token *t)
{
    return t != NULL ? t->manufacturer : "";
}

const char *
ek_token_model(const struct ek_token *t)
{
    return t != NULL ? t->model : "";
}

const char *
ek_token_serial(const struct ek_token *t)
{
    return t != NULL ? t->serial : "";
}

const char *
ek_token_module(const struct ek_token *t)
{
    return t != NULL ? t->module : "";
}

unsigned long
ek_token_slot(const struct ek_token *t)
{
    return t != NULL ? t->slot : 0;
}

unsigned
ek_token_flags(const struct ek_token *t)
{
    return t != NULL ? t->flags : 0;
}

const char *
ek_token_mech_sign(const struct ek_token *t, enum ek_alg alg)
{
    enum tok_path p;

    if (t == NULL)
        return NULL;
    p = tok_choose(t->mask, alg, 1);
    return p == TOK_PATH_NONE ? NULL : tok_mech_name(tok_path_mech(p));
}

const char *
ek_token_mech_keygen(const struct ek_token *t)
{
    if (t == NULL || !(t->mask & TOK_CAN_KEYGEN))
        return NULL;
    return "CKM_RSA_PKCS_KEY_PAIR_GEN";
}

void
ek_token_list_free(struct ek_token_list **lp)
{
    struct ek_token_list *l;
    size_t i;

    if (lp == NULL || (l = *lp) == NULL)
        return;
    for (i = 0; i < l->n; i++) {
        free(l->e[i].uri);
        free(l->e[i].module);
    }
    free(l->e);
    free(l);
    *lp = NULL;
}

/* ------------------------------------------------------------ token init */

ek_err
ek_token_init(struct ek_ctx *ctx, const char *label, const char *so_pin,
              const char *user_pin)
{
    struct tok_sel *sel = NULL;
    struct tok_slot *slots = NULL, *s = NULL;
    CK_UTF8CHAR lab[32];
    CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
    size_t n = 0, i;
    int logged = 0;
    CK_RV rv;
    ek_err r = EK_ERR_INTERNAL;

    if (ctx == NULL)
        return EK_ERR_USAGE;
    if (label == NULL || label[0] == '\0' || strlen(label) > sizeof lab)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "a token label must have 1 to "
                         "%zu bytes",
                         sizeof lab);
    if (so_pin == NULL || so_pin[0] == '\0' || user_pin == NULL ||
        user_pin[0] == '\0')
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "initialising a token needs an "
                         "SO PIN and a user PIN");
    memset(lab, ' ', sizeof lab);
    memcpy(lab, label, strlen(label));
    if ((r = tok_modules(ctx, NULL, &sel)) != EK_OK)
        return r;
    if ((r = tok_slots(ctx, sel, 1, &slots, &n)) != EK_OK)
        return r;
    for (i = 0; i < n && s == NULL; i++)
        if (!(slots[i].ti.flags & CKF_TOKEN_INITIALIZED))
            s = &slots[i];
    if (s == NULL) {
        r = ek_seterr(ctx, EK_ERR_NOT_FOUND,
                      "there is no free slot (a "
                      "token present but not initialised) in the PKCS#11 "
                      "module%s; nothing was changed",
                      sel->nmods == 1 ? "" : "s");
        goto out;
    }
    rv = TOK_CALL(ctx, s->mod->fl, C_InitToken, s->id,
                  (CK_UTF8CHAR *)(uintptr_t)so_pin, strlen(so_pin), lab);
    if (rv != CKR_OK) {
        r = tok_fail(ctx, rv,
                     "cannot initialise a token '%s' in slot %lu "
                     "of %s (C_InitToken)",
                     label, (unsigned long)s->id, s->mod->name);
        goto out;
    }
    /* slot ids may change on initialisation (SoftHSM): find the token
     * again by its label and its still uninitialised user PIN */
    free(slots);
    slots = NULL;
    s = NULL;
    if ((r = tok_slots(ctx, sel, 0, &slots, &n)) != EK_OK)
        goto out;
    for (i = 0; i < n && s == NULL; i++)
        if (strcmp(slots[i].label, label) == 0 &&
            !(slots[i].ti.flags & CKF_USER_PIN_INITIALIZED))
            s = &slots[i];
    if (s == NULL) {
        r = ek_seterr(ctx, EK_ERR_TOKEN,
                      "the new token '%s' cannot be found "
                      "after C_InitToken; set its user PIN with the token's "
                      "tool",
                      label);
        goto out;
    }
    if ((r = tok_session_open(ctx, s, 2, &h)) != EK_OK)
        goto out;
    rv = TOK_CALL(ctx, s->mod->fl, C_Login, h, CKU_SO,
                  (CK_UTF8CHAR *)(uintptr_t)so_pin, strlen(so_pin));
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
        r = tok_fail(ctx, rv,
                     "cannot log in as SO to the new token '%s' "
                     "(C_Login CKU_SO)",
                     label);
        goto out;
    }
    logged = 1;
    rv = TOK_CALL(ctx, s->mod->fl, C_InitPIN, h,
                  (CK_UTF8CHAR *)(uintptr_t)user_pin, strlen(user_pin));
    if (rv != CKR_OK) {
        r = tok_fail(ctx, rv,
                     "cannot set the user PIN of the new token '%s' "
                     "(C_InitPIN)",
                     label);
        goto out;
    }
    ek_log(ctx, EK_LOG_INFO, "initialised token '%s' in slot %lu of %s", label,
           (unsigned long)s->id, s->mod->name);
    r = EK_OK;
out:
    if (logged)
        (void)TOK_CALL(ctx, s->mod->fl, C_Logout, h);
    if (h != CK_INVALID_HANDLE)
        tok_session_close(ctx, s, h);
    free(slots);
    return r;
}
