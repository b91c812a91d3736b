/* tok_pin.c: PIN sources and the login policy: one C_Login per command,
 * never retried, never at FINAL_TRY or LOCKED, the PIN wiped right after. */
#include <stdio.h>
#include <string.h>

#include "tok.h"

ek_err
tok_pin_resolve(struct ek_ctx *ctx, const struct tok_uri *u,
                struct ek_pin_source **srcp)
{
    *srcp = NULL;
    if (ctx->pin_source != NULL) {
        if (u != NULL && (u->pin_value != NULL || u->pin_source != NULL))
            ek_log(ctx, EK_LOG_INFO,
                   "the PIN source set on the context "
                   "comes before the URI's pin-%s=",
                   u->pin_value != NULL ? "value" : "source");
        return ek_pin_source_dup(ctx, ctx->pin_source, srcp);
    }
    if (ctx->flags & EK_FLAG_PIN_PROMPT_FIRST) {
        /* the program's own source, through the callback, comes first */
        if (u != NULL && (u->pin_value != NULL || u->pin_source != NULL))
            ek_log(ctx, EK_LOG_INFO,
                   "the program's PIN source comes before "
                   "the URI's pin-%s=",
                   u->pin_value != NULL ? "value" : "source");
        return EK_OK;
    }
    if (u != NULL && u->pin_value != NULL)
        return ek_pin_source_value(ctx, u->pin_value, srcp);
    if (u != NULL && u->pin_source != NULL)
        return ek_pin_source_parse(ctx, u->pin_source, EK_PINSRC_URI, srcp);
    return EK_OK; /* the prompt */
}

int
tok_logged_in(struct ek_ctx *ctx, struct tok_slot *s, CK_SESSION_HANDLE h,
              int *so)
{
    CK_SESSION_INFO si;

    if (so != NULL)
        *so = 0;
    if (TOK_CALL(ctx, s->mod->fl, C_GetSessionInfo, h, &si) != CKR_OK)
        return 0;
    if (so != NULL)
        *so = si.state == CKS_RW_SO_FUNCTIONS;
    return si.state == CKS_RO_USER_FUNCTIONS ||
           si.state == CKS_RW_USER_FUNCTIONS || si.state == CKS_RW_SO_FUNCTIONS;
}

/* How a locked PIN is unblocked, which depends on the module. */
static const char *
unblock_advice(const struct tok_slot *s)
{
    if (tok_module_is_tpm2(s->mod))
        return "a TPM in dictionary-attack lockout takes no PIN until its "
               "recovery time has passed; wait, or clear the lockout with "
               "tpm2_dictionarylockout --clear-lockout (it needs the TPM's "
               "lockout authorization)";
    if (tok_slot_is_yubikey(s))
        return "unblock it with the PUK (ykman piv access unblock-pin)";
    return "unblock it with the SO PIN / PUK (the token's admin tool)";
}

/* What a refused management key may mean on a YubiKey: firmware 5.7 and
 * later ship with an AES-192 default management key, which ykcs11 2.2.0
 * (3DES only) cannot use. ykcs11 gives the firmware as major.minor with
 * minor = 10 * minor + patch (5.7.1 is 5.71). */
static const char *
so_advice(const struct tok_slot *s)
{
    const CK_VERSION *v = &s->ti.firmwareVersion;

    if (!tok_slot_is_yubikey(s))
        return "check the SO PIN source";
    if (v->major > 5 || (v->major == 5 && v->minor >= 70))
        return "check the management key source (the SO PIN source, 48 "
               "hex digits); this YubiKey has firmware 5.7 or later, whose "
               "default management key is AES-192, and this ykcs11 speaks "
               "3DES only: set a 3DES management key (ykman piv access "
               "change-management-key -a TDES), or generate the key with "
               "ykman and use it through OpenSC";
    return "check the management key source (the SO PIN source, 48 hex "
           "digits)";
}

/* Refuses a login the token's counters advise against. */
static ek_err
check_counters(struct ek_ctx *ctx, struct tok_slot *s, enum tok_login_kind kind)
{
    CK_FLAGS f = s->ti.flags;
    CK_FLAGS locked = CKF_USER_PIN_LOCKED, final = CKF_USER_PIN_FINAL_TRY,
             low = CKF_USER_PIN_COUNT_LOW;
    const char *who = "user PIN";

    if (kind == TOK_LOGIN_SO) {
        locked = CKF_SO_PIN_LOCKED;
        final = CKF_SO_PIN_FINAL_TRY;
        low = CKF_SO_PIN_COUNT_LOW;
        who = "SO PIN";
    }
    if (f & locked)
        return ek_seterr(ctx, EK_ERR_PIN_LOCKED,
                         "the %s of token '%s' is "
                         "locked; %s; entrakey did not try to log in",
                         who, s->label, unblock_advice(s));
    if (f & final) {
        if (!(ctx->flags & EK_FLAG_ALLOW_FINAL_PIN_TRY))
            return ek_seterr(ctx, EK_ERR_PIN_LOCKED,
                             "token '%s': one %s try "
                             "is left: a wrong PIN would lock the token; not "
                             "trying. If you are sure of the PIN, allow the "
                             "final try (EK_FLAG_ALLOW_FINAL_PIN_TRY)",
                             s->label, who);
        ek_log(ctx, EK_LOG_WARN,
               "token '%s': one %s try is left; trying, as "
               "the final try was allowed",
               s->label, who);
    } else if (f & low) {
        ek_log(ctx, EK_LOG_WARN,
               "token '%s': the %s has been entered wrong "
               "before (the retry counter is low)",
               s->label, who);
    }
    return EK_OK;
}

static ek_err
no_source(struct ek_ctx *ctx, struct tok_slot *s, enum tok_login_kind kind)
{
    if (kind == TOK_LOGIN_SO)
        return ek_seterr(ctx, EK_ERR_PIN_REQUIRED,
                         "token '%s' needs the SO "
                         "PIN (on a YubiKey: the management key) and there "
                         "is no source: name an SO PIN source "
                         "(env:NAME, file:PATH or fd:N; the prompt needs a "
                         "terminal)",
                         s->label);
    return ek_seterr(ctx, EK_ERR_PIN_REQUIRED,
                     "token '%s' needs a PIN and "
                     "there is no source: name a PIN source "
                     "(env:NAME, file:PATH or fd:N, or pin-source= in the "
                     "URI; the prompt needs a terminal on stdin)",
                     s->label);
}

/* Reads the PIN for a login into buf: from src, else the prompt. */
static ek_err
get_pin(struct ek_ctx *ctx, struct tok_slot *s, enum tok_login_kind kind,
        const struct ek_pin_source *src, char *buf, size_t bufsz, size_t *lenp)
{
    char prompt[256], label[4 * 32 + 1];
    ek_err r;

    if (src != NULL) {
        if ((r = ek_pin_source_read(ctx, src, buf, bufsz, lenp)) != EK_OK)
            return r;
        /* a command line is readable by every user of the machine */
        if (ek_pin_source_kind(src) == EK_PIN_VALUE)
            ek_log(ctx, EK_LOG_WARN,
                   "the PIN for token '%s' comes from "
                   "pin-value= in the URI, which other users of this "
                   "machine can read while the program runs; use a PIN "
                   "source (pin-source=) for anything but a test token",
                   s->label);
        return EK_OK;
    }
    if (ctx->prompt_fn == NULL)
        return no_source(ctx, s, kind);
    /* the label is the token's: a terminal escape in it could draw a
     * prompt of its own */
    ek_escape_ctrl(s->label, label, sizeof label);
    snprintf(prompt, sizeof prompt, "%s for token '%s': ",
             kind == TOK_LOGIN_SO ? "SO PIN (YubiKey: management key)" : "PIN",
             label);
    /* a callback that failed in a call of this context (the agent's,
     * reading its PIN source) keeps that call's sentence */
    ctx->errmsg[0] = '\0';
    r = ctx->prompt_fn(ctx->prompt_arg, prompt, buf, bufsz);
    if (r != EK_OK && r != EK_ERR_PIN_REQUIRED && r != EK_ERR_CANCELED &&
        ctx->errmsg[0] != '\0')
        return r;
    if (r == EK_ERR_PIN_REQUIRED)
        return no_source(ctx, s, kind);
    if (r == EK_ERR_CANCELED)
        return ek_seterr(ctx, EK_ERR_CANCELED,
                         "the PIN entry for token '%s' "
                         "was canceled; nothing was tried",
                         s->label);
    if (r != EK_OK)
        return ek_seterr(ctx, r == EK_ERR_PIN ? EK_ERR_PIN : r,
                         "the PIN "
                         "for token '%s' could not be read from the "
                         "terminal (too long?)",
                         s->label);
    buf[bufsz - 1] = '\0';
    *lenp = strlen(buf);
    if (*lenp == 0)
        return ek_seterr(ctx, EK_ERR_PIN,
                         "the PIN entered for token '%s' "
                         "is empty; nothing was tried",
                         s->label);
    return EK_OK;
}

ek_err
tok_login(struct ek_ctx *ctx, struct tok_slot *s, CK_SESSION_HANDLE h,
          enum tok_login_kind kind, const struct ek_pin_source *src,
          struct ek_secret **keep)
{
    static const CK_USER_TYPE types[] = {CKU_USER, CKU_SO,
                                         CKU_CONTEXT_SPECIFIC};
    static const char *const kinds[] = {"CKU_USER", "CKU_SO",
                                        "CKU_CONTEXT_SPECIFIC"};
    char pin[EK_PIN_MAX + 1];
    CK_SESSION_INFO si;
    const char *p = NULL;
    size_t len = 0;
    int so = 0;
    CK_RV rv;
    ek_err r = EK_ERR_PIN;

    if (kind != TOK_LOGIN_CONTEXT) {
        /* a lost session ends here: no C_Login on a dead handle */
        rv = TOK_CALL(ctx, s->mod->fl, C_GetSessionInfo, h, &si);
        if (rv != CKR_OK) {
            r = tok_fail(ctx, rv,
                         "the session with token '%s' is no longer "
                         "valid (C_GetSessionInfo)",
                         s->label);
            goto out;
        }
        so = si.state == CKS_RW_SO_FUNCTIONS;
        if (so || si.state == CKS_RO_USER_FUNCTIONS ||
            si.state == CKS_RW_USER_FUNCTIONS) {
            if (kind == TOK_LOGIN_USER || so) {
                r = EK_OK;
                goto out;
            }
        }
    }
    /* the counters as they are now, not as they were when listed */
    if ((r = tok_slot_refresh(ctx, s)) != EK_OK)
        goto out;
    if ((r = check_counters(ctx, s, kind)) != EK_OK)
        goto out;
    if (s->ti.flags & CKF_PROTECTED_AUTHENTICATION_PATH) {
        ek_log(ctx, EK_LOG_WARN,
               "enter the PIN on the reader's pinpad for "
               "token '%s'",
               s->label);
        rv = TOK_CALL(ctx, s->mod->fl, C_Login, h, types[kind], NULL, 0);
    } else {
        if (keep != NULL && *keep != NULL) {
            p = ek_secret_data(*keep);
            len = ek_secret_len(*keep);
        } else {
            r = get_pin(ctx, s, kind, src, pin, sizeof pin, &len);
            if (r != EK_OK)
                goto out;
            p = pin;
            if (keep != NULL &&
                ((r = ek_secret_new(ctx, len, keep)) != EK_OK ||
                 (r = ek_secret_append(ctx, *keep, pin, len)) != EK_OK))
                goto out;
        }
        ek_log(ctx, EK_LOG_INFO, "logging in to token '%s' (%s)", s->label,
               kinds[kind]);
        rv = TOK_CALL(ctx, s->mod->fl, C_Login, h, types[kind],
                      (CK_UTF8CHAR *)(uintptr_t)p, len);
        ek_wipe(pin, sizeof pin);
    }
    if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) {
        r = EK_OK;
        goto out;
    }
    if (keep != NULL)
        ek_secret_free(keep); /* a PIN that failed is never used again */
    if (rv == CKR_PIN_INCORRECT && kind == TOK_LOGIN_SO)
        r = ek_seterr(ctx, EK_ERR_PIN,
                      "the SO PIN for token '%s' was wrong "
                      "(C_Login: CKR_PIN_INCORRECT); entrakey does not retry "
                      "(a wrong PIN in a loop locks a card); %s",
                      s->label, so_advice(s));
    else if (rv == CKR_PIN_INCORRECT)
        r = ek_seterr(ctx, EK_ERR_PIN,
                      "the %s for token '%s' was wrong "
                      "(C_Login: CKR_PIN_INCORRECT); entrakey does not retry "
                      "(a wrong PIN in a loop locks a card); check the PIN "
                      "source",
                      kind == TOK_LOGIN_SO ? "SO PIN" : "PIN", s->label);
    else if (rv == CKR_PIN_LOCKED)
        r = ek_seterr(ctx, EK_ERR_PIN_LOCKED,
                      "the %s of token '%s' is "
                      "locked (C_Login: CKR_PIN_LOCKED); %s",
                      kind == TOK_LOGIN_SO ? "SO PIN" : "user PIN", s->label,
                      unblock_advice(s));
    else
        r = tok_fail(ctx, rv, "cannot log in to token '%s' (C_Login %s)",
                     s->label, kinds[kind]);
out:
    ek_wipe(pin, sizeof pin);
    return r;
}

ek_err
ek_pin_read(struct ek_ctx *ctx, const char *source, struct ek_secret **pinp)
{
    char buf[EK_PIN_MAX + 2];
    struct ek_pin_source *src = NULL;
    size_t len = 0;
    ek_err r = EK_ERR_USAGE;

    if (pinp == NULL || source == NULL)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "ek_pin_read: a source and a "
                         "place for the PIN are required");
    *pinp = NULL;
    if ((r = ek_pin_source_parse(ctx, source, 0, &src)) != EK_OK ||
        (r = ek_pin_source_read(ctx, src, buf, sizeof buf, &len)) != EK_OK)
        goto out;
    if ((r = ek_secret_new(ctx, len + 1, pinp)) != EK_OK)
        goto out;
    if ((r = ek_secret_append(ctx, *pinp, buf, len)) != EK_OK)
        ek_secret_free(pinp);
out:
    ek_pin_source_free(&src);
    ek_wipe(buf, sizeof buf);
    return r;
}
