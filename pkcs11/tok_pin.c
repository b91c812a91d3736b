/* tok_pin.c: PIN sources and the login policy: one C_Login per command,
 * never retried, never at FINAL_TRY or LOCKED, the PIN wiped right after. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tok.h"

/* Strips one trailing "\n" or "\r\n". */
static size_t
strip_newline(char *buf, size_t n)
{
    if (n > 0 && buf[n - 1] == '\n') {
        n--;
        if (n > 0 && buf[n - 1] == '\r')
            n--;
    }
    buf[n] = '\0';
    return n;
}

static ek_err
pin_from_file(struct ek_ctx *ctx, const char *path, char *buf, size_t bufsz,
              size_t *lenp)
{
    char tmp[EK_PIN_MAX + 3];
    struct stat st;
    size_t n = 0;
    ssize_t got;
    int fd = -1;
    ek_err r = EK_ERR_PIN;

    if ((fd = ek_open_regular(path, &st)) == -2) {
        r = ek_seterr(ctx, EK_ERR_PIN, "the PIN file '%s' is not a regular "
                      "file (%s); check the PIN source", path,
                      ek_file_type(st.st_mode));
        goto out;
    }
    if (fd < 0) {
        r = ek_seterr(ctx, EK_ERR_PIN, "cannot open the PIN file '%s': %s; "
                      "check the PIN source", path, strerror(errno));
        goto out;
    }
    if (st.st_mode & 077) {
        r = ek_seterr(ctx, EK_ERR_PIN, "the PIN file '%s' can be read or "
                      "changed by group or others (mode %04o); it was not "
                      "read. Run chmod 600 '%s'", path,
                      (unsigned)(st.st_mode & 07777), path);
        goto out;
    }
    for (;;) {
        got = read(fd, tmp + n, sizeof tmp - 1 - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            r = ek_seterr(ctx, EK_ERR_PIN, "cannot read the PIN file '%s': "
                          "%s", path, strerror(errno));
            goto out;
        }
        if (got == 0)
            break;
        n += (size_t)got;
        if (n >= sizeof tmp - 1)
            break;
    }
    n = strip_newline(tmp, n);
    if (n + 1 > bufsz || n > EK_PIN_MAX) {
        r = ek_seterr(ctx, EK_ERR_PIN, "the PIN file '%s' holds more than "
                      "%d bytes; is it the right file?", path, EK_PIN_MAX);
        goto out;
    }
    memcpy(buf, tmp, n + 1);
    *lenp = n;
    r = EK_OK;
out:
    ek_wipe(tmp, sizeof tmp);
    if (fd >= 0)
        close(fd);
    return r;
}

/* Reads up to a newline or EOF, one byte at a time so that nothing after
 * the PIN is consumed. The descriptor stays open: it is the caller's. */
static ek_err
pin_from_fd(struct ek_ctx *ctx, int fd, char *buf, size_t bufsz,
            size_t *lenp)
{
    size_t n = 0;
    ssize_t got;
    char c;

    for (;;) {
        got = read(fd, &c, 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            ek_wipe(buf, bufsz);
            return ek_seterr(ctx, EK_ERR_PIN, "cannot read the PIN from "
                             "file descriptor %d: %s; check --pin-source "
                             "fd:%d", fd, strerror(errno), fd);
        }
        if (got == 0)
            break;
        if (n + 2 > bufsz || n >= EK_PIN_MAX) {
            ek_wipe(buf, bufsz);
            c = 0;
            return ek_seterr(ctx, EK_ERR_PIN, "the PIN from file "
                             "descriptor %d is longer than %d bytes", fd,
                             EK_PIN_MAX);
        }
        buf[n++] = c;
        if (c == '\n')
            break;
    }
    c = 0;
    *lenp = strip_newline(buf, n);
    return EK_OK;
}

ek_err
tok_pin_read(struct ek_ctx *ctx, const char *src, int bare_is_file, char *buf,
             size_t bufsz, size_t *lenp)
{
    const char *v;
    char *end = NULL;
    long fd;
    size_t n;
    ek_err r;

    *lenp = 0;
    buf[0] = '\0';
    if (strncmp(src, "env:", 4) == 0) {
        if ((v = getenv(src + 4)) == NULL)
            return ek_seterr(ctx, EK_ERR_PIN, "the PIN source '%s' names an "
                             "environment variable that is not set; export "
                             "%s or give another PIN source", src, src + 4);
        n = strlen(v);
        if (n + 1 > bufsz || n > EK_PIN_MAX)
            return ek_seterr(ctx, EK_ERR_PIN, "the PIN in '%s' is longer "
                             "than %d bytes", src, EK_PIN_MAX);
        memcpy(buf, v, n + 1);
        *lenp = n;
        r = EK_OK;
    } else if (strncmp(src, "file://", 7) == 0) {
        r = pin_from_file(ctx, src + 6, buf, bufsz, lenp);
    } else if (strncmp(src, "file:", 5) == 0) {
        r = pin_from_file(ctx, src + 5, buf, bufsz, lenp);
    } else if (strncmp(src, "fd:", 3) == 0) {
        errno = 0;
        fd = strtol(src + 3, &end, 10);
        if (src[3] == '\0' || *end != '\0' || errno != 0 || fd < 0 ||
            fd > 65535)
            return ek_seterr(ctx, EK_ERR_USAGE, "the PIN source '%s' is not "
                             "understood; fd:N takes a descriptor number",
                             src);
        r = pin_from_fd(ctx, (int)fd, buf, bufsz, lenp);
    } else if (bare_is_file && src[0] != '|' && src[0] != '\0') {
        r = pin_from_file(ctx, src, buf, bufsz, lenp);
    } else {
        return ek_seterr(ctx, EK_ERR_USAGE, "the PIN source '%s' is not "
                         "understood; use env:NAME, file:PATH or fd:N", src);
    }
    if (r == EK_OK && *lenp == 0) {
        ek_wipe(buf, bufsz);
        return ek_seterr(ctx, EK_ERR_PIN, "the PIN from '%s' is empty; check "
                         "the PIN source", src);
    }
    return r;
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
           si.state == CKS_RW_USER_FUNCTIONS ||
           si.state == CKS_RW_SO_FUNCTIONS;
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
        return "check the management key source (--so-pin-source, 48 hex "
               "digits); this YubiKey has firmware 5.7 or later, whose "
               "default management key is AES-192, and this ykcs11 speaks "
               "3DES only: set a 3DES management key (ykman piv access "
               "change-management-key -a TDES), or generate the key with "
               "ykman and use it through OpenSC";
    return "check the management key source (--so-pin-source, 48 hex "
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
        return ek_seterr(ctx, EK_ERR_PIN_LOCKED, "the %s of token '%s' is "
                         "locked; %s; entrakey did not try to log in", who,
                         s->label, unblock_advice(s));
    if (f & final) {
        if (!(ctx->flags & EK_FLAG_ALLOW_FINAL_PIN_TRY))
            return ek_seterr(ctx, EK_ERR_PIN_LOCKED, "token '%s': one %s try "
                             "is left: a wrong PIN would lock the token; not "
                             "trying. If you are sure of the PIN, run again "
                             "with --allow-final-pin-try", s->label, who);
        ek_log(ctx, EK_LOG_WARN, "token '%s': one %s try is left; trying as "
               "asked (--allow-final-pin-try)", s->label, who);
    } else if (f & low) {
        ek_log(ctx, EK_LOG_WARN, "token '%s': the %s has been entered wrong "
               "before (the retry counter is low)", s->label, who);
    }
    return EK_OK;
}

static ek_err
no_source(struct ek_ctx *ctx, struct tok_slot *s, enum tok_login_kind kind)
{
    if (kind == TOK_LOGIN_SO)
        return ek_seterr(ctx, EK_ERR_PIN_REQUIRED, "token '%s' needs the SO "
                         "PIN (on a YubiKey: the management key) and there "
                         "is no source: give --so-pin-source "
                         "env:NAME|file:PATH|fd:N (the prompt needs a "
                         "terminal)", s->label);
    return ek_seterr(ctx, EK_ERR_PIN_REQUIRED, "token '%s' needs a PIN and "
                     "there is no source: give --pin-source "
                     "env:NAME|file:PATH|fd:N, or pin-source= in the URI "
                     "(the prompt needs a terminal on stdin)", s->label);
}

/* Reads the PIN for a login into buf from the first source there is. */
static ek_err
get_pin(struct ek_ctx *ctx, struct tok_slot *s, enum tok_login_kind kind,
        const char *uri_pin_value, const char *uri_pin_source, char *buf,
        size_t bufsz, size_t *lenp)
{
    const char *src = kind == TOK_LOGIN_SO ? ctx->so_pin_source
                                           : ctx->pin_source;
    char prompt[256], label[4 * 32 + 1];
    size_t n;
    ek_err r;

    if (src != NULL)
        return tok_pin_read(ctx, src, 0, buf, bufsz, lenp);
    if (kind != TOK_LOGIN_SO && uri_pin_value != NULL) {
        n = strlen(uri_pin_value);
        if (n == 0 || n + 1 > bufsz || n > EK_PIN_MAX)
            return ek_seterr(ctx, EK_ERR_PIN, "the pin-value= of the URI "
                             "is empty or longer than %d bytes", EK_PIN_MAX);
        memcpy(buf, uri_pin_value, n + 1);
        *lenp = n;
        /* a command line is readable by every user of the machine */
        ek_log(ctx, EK_LOG_WARN, "the PIN for token '%s' comes from "
               "pin-value= in the URI, which other users of this machine "
               "can read while the command runs; use --pin-source or "
               "pin-source= for anything but a test token", s->label);
        return EK_OK;
    }
    if (kind != TOK_LOGIN_SO && uri_pin_source != NULL)
        return tok_pin_read(ctx, uri_pin_source, 1, buf, bufsz, lenp);
    if (ctx->prompt_fn == NULL)
        return no_source(ctx, s, kind);
    /* the label is the token's: a terminal escape in it could draw a
     * prompt of its own */
    ek_escape_ctrl(s->label, label, sizeof label);
    snprintf(prompt, sizeof prompt, "%s for token '%s': ",
             kind == TOK_LOGIN_SO ? "SO PIN (YubiKey: management key)"
                                  : "PIN", label);
    r = ctx->prompt_fn(ctx->prompt_arg, prompt, buf, bufsz);
    if (r == EK_ERR_PIN_REQUIRED)
        return no_source(ctx, s, kind);
    if (r == EK_ERR_CANCELED)
        return ek_seterr(ctx, EK_ERR_CANCELED, "the PIN entry for token '%s' "
                         "was canceled; nothing was tried", s->label);
    if (r != EK_OK)
        return ek_seterr(ctx, r == EK_ERR_PIN ? EK_ERR_PIN : r, "the PIN "
                         "for token '%s' could not be read from the "
                         "terminal (too long?)", s->label);
    buf[bufsz - 1] = '\0';
    *lenp = strlen(buf);
    if (*lenp == 0)
        return ek_seterr(ctx, EK_ERR_PIN, "the PIN entered for token '%s' "
                         "is empty; nothing was tried", s->label);
    return EK_OK;
}

ek_err
tok_login(struct ek_ctx *ctx, struct tok_slot *s, CK_SESSION_HANDLE h,
          enum tok_login_kind kind, const char *uri_pin_value,
          const char *uri_pin_source, struct ek_secret **keep)
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
            r = tok_fail(ctx, rv, "the session with token '%s' is no longer "
                         "valid (C_GetSessionInfo)", s->label);
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
        ek_log(ctx, EK_LOG_WARN, "enter the PIN on the reader's pinpad for "
               "token '%s'", s->label);
        rv = TOK_CALL(ctx, s->mod->fl, C_Login, h, types[kind], NULL, 0);
    } else {
        if (keep != NULL && *keep != NULL) {
            p = ek_secret_data(*keep);
            len = ek_secret_len(*keep);
        } else {
            r = get_pin(ctx, s, kind, uri_pin_value, uri_pin_source, pin,
                        sizeof pin, &len);
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
        r = ek_seterr(ctx, EK_ERR_PIN, "the SO PIN for token '%s' was wrong "
                      "(C_Login: CKR_PIN_INCORRECT); entrakey does not retry "
                      "(a wrong PIN in a loop locks a card); %s", s->label,
                      so_advice(s));
    else if (rv == CKR_PIN_INCORRECT)
        r = ek_seterr(ctx, EK_ERR_PIN, "the %s for token '%s' was wrong "
                      "(C_Login: CKR_PIN_INCORRECT); entrakey does not retry "
                      "(a wrong PIN in a loop locks a card); check the PIN "
                      "source", kind == TOK_LOGIN_SO ? "SO PIN" : "PIN",
                      s->label);
    else if (rv == CKR_PIN_LOCKED)
        r = ek_seterr(ctx, EK_ERR_PIN_LOCKED, "the %s of token '%s' is "
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
    size_t len = 0;
    ek_err r = EK_ERR_USAGE;

    if (pinp == NULL || source == NULL)
        return ek_seterr(ctx, EK_ERR_USAGE, "ek_pin_read: a source and a "
                         "place for the PIN are required");
    *pinp = NULL;
    if ((r = tok_pin_read(ctx, source, 0, buf, sizeof buf, &len)) != EK_OK)
        goto out;
    if ((r = ek_secret_new(ctx, len + 1, pinp)) != EK_OK)
        goto out;
    if ((r = ek_secret_append(ctx, *pinp, buf, len)) != EK_OK)
        ek_secret_free(pinp);
out:
    ek_wipe(buf, sizeof buf);
    return r;
}
