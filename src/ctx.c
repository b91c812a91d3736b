/* ctx.c: the library context: error sentences, logging, settings. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#define EK_CTX_C /* defines ek_seterr, ek_calloc: no analyzer macros */
#include "internal.h"

static const char *const errtext[] = {
    [EK_OK] = "success",
    [EK_ERR_INTERNAL] = "internal error",
    [EK_ERR_USAGE] = "invalid argument",
    [EK_ERR_MODULE] = "PKCS#11 module cannot be used",
    [EK_ERR_TOKEN] = "PKCS#11 operation failed",
    [EK_ERR_NOT_FOUND] = "not found",
    [EK_ERR_AMBIGUOUS] = "several objects match",
    [EK_ERR_EXISTS] = "already exists",
    [EK_ERR_DEVICE] = "token removed or session lost",
    [EK_ERR_MECHANISM] = "mechanism not supported by the token",
    [EK_ERR_INSECURE_KEY] = "key is extractable",
    [EK_ERR_PIN] = "PIN incorrect or unusable",
    [EK_ERR_PIN_LOCKED] = "PIN locked or at its final try",
    [EK_ERR_PIN_REQUIRED] = "PIN required",
    [EK_ERR_CERT] = "certificate problem",
    [EK_ERR_ENTRA] = "Entra ID refused the request",
    [EK_ERR_NETWORK] = "network error",
    [EK_ERR_TLS] = "TLS error",
    [EK_ERR_IO] = "file error",
    [EK_ERR_CONFIG] = "configuration error",
    [EK_ERR_THROTTLED] = "throttled by the server",
    [EK_ERR_CANCELED] = "canceled",
    [EK_ERR_NO_AGENT] = "no agent serves this key",
};

const char *
ek_strerror(ek_err e)
{
    if ((unsigned)e < sizeof errtext / sizeof errtext[0] &&
        errtext[e] != NULL)
        return errtext[e];
    return "unknown error";
}

const char *
ek_version(void)
{
    return EK_VERSION_STRING;
}

ek_err
ek_ctx_new(struct ek_ctx **ctxp)
{
    struct ek_ctx *ctx;

    if (ctxp == NULL)
        return EK_ERR_USAGE;
    *ctxp = NULL;
    if ((ctx = calloc(1, sizeof *ctx)) == NULL)
        return EK_ERR_INTERNAL;
    ctx->log_max = EK_LOG_WARN;
    *ctxp = ctx;
    return EK_OK;
}

void
ek_ctx_free(struct ek_ctx **ctxp)
{
    struct ek_ctx *ctx;
    size_t i;

    if (ctxp == NULL || (ctx = *ctxp) == NULL)
        return;
    /* the layers above free what they keep here: the base layer calls
     * nothing above it */
    for (i = EK_EXT_COUNT; i-- > 0;)
        ek_ctx_ext_set(ctx, (enum ek_ctx_ext_id)i, NULL, NULL);
    free(ctx->module_path);
    free(ctx->module_origin);
    free(ctx->pin_source);
    free(ctx->so_pin_source);
    /* OPENSSL_cleanse, not ek_wipe (secret.c): the context is the bottom
     * of the base layer and calls no other file of the library */
    OPENSSL_cleanse(ctx, sizeof *ctx);
    free(ctx);
    *ctxp = NULL;
}

void *
ek_ctx_ext_get(const struct ek_ctx *ctx, enum ek_ctx_ext_id id)
{
    if (ctx == NULL || (unsigned)id >= EK_EXT_COUNT)
        return NULL;
    return ctx->ext[id].state;
}

void
ek_ctx_ext_set(struct ek_ctx *ctx, enum ek_ctx_ext_id id, void *state,
               void (*free_fn)(void *state))
{
    struct ek_ctx_ext old;

    if (ctx == NULL || (unsigned)id >= EK_EXT_COUNT)
        return;
    old = ctx->ext[id];
    ctx->ext[id].state = state;
    ctx->ext[id].free_fn = free_fn;
    if (old.state != NULL && old.state != state && old.free_fn != NULL)
        old.free_fn(old.state);
}

const char *
ek_ctx_errmsg(const struct ek_ctx *ctx)
{
    if (ctx == NULL || ctx->errmsg[0] == '\0')
        return "no error recorded";
    return ctx->errmsg;
}

int64_t
ek_ctx_clock_skew(const struct ek_ctx *ctx)
{
    return ctx != NULL ? ctx->clock_skew : 0;
}

/* How much of the end of an over-long sentence is kept: the end says what
 * to do, and an argument of any length (a 100 kB --tenant) must not push it
 * out. */
#define EK_ERRMSG_TAIL 512

void
ek_escape_ctrl(const char *s, char *out, size_t outsz)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t used = 0, n;
    char esc[8];

    if (outsz == 0)
        return;
    for (; *p != '\0'; p += n) {
        n = ek_utf8_char_len((const char *)p);
        if (n == 0 || *p < 0x20 || *p == 0x7f) {
            snprintf(esc, sizeof esc, "\\x%02x", *p);
            n = 1;
        } else if (n == 2 && p[0] == 0xc2 && p[1] < 0xa0) {
            snprintf(esc, sizeof esc, "\\u%04x", p[1]);
        } else {
            if (used + n >= outsz)
                break;
            memcpy(out + used, p, n);
            used += n;
            continue;
        }
        if (used + strlen(esc) >= outsz)
            break;
        memcpy(out + used, esc, strlen(esc));
        used += strlen(esc);
    }
    out[used] = '\0';
}

ek_err
ek_vseterr(struct ek_ctx *ctx, ek_err code, const char *fmt, va_list ap)
{
    char buf[EK_ERRMSG_MAX];
    char *full = NULL;
    size_t head, tail;
    va_list aq;
    int n;

    if (ctx == NULL)
        return code;
    /* formatted apart from ctx->errmsg: an argument may be the context's
     * last sentence (ek_seterr(ctx, ..., "%s", ek_ctx_errmsg(ctx))) */
    va_copy(aq, ap);
    if ((n = vsnprintf(buf, sizeof buf, fmt, ap)) < 0)
        buf[0] = '\0';
    if (n >= 0 && (size_t)n >= sizeof buf &&
        (full = malloc((size_t)n + 1)) != NULL &&
        vsnprintf(full, (size_t)n + 1, fmt, aq) == n) {
        /* the head and the tail, never cutting a UTF-8 character */
        tail = EK_ERRMSG_TAIL;
        while (tail > 0 && ((unsigned char)full[n - tail] & 0xc0) == 0x80)
            tail--;
        head = sizeof buf - tail - 32;
        while (head > 0 && ((unsigned char)buf[head] & 0xc0) == 0x80)
            head--;
        snprintf(buf + head, sizeof buf - head, " [...%zu bytes...] %s",
                 (size_t)n - head - tail, full + n - tail);
    }
    /* a token's label or a server's text may hold terminal escapes */
    ek_escape_ctrl(buf, ctx->errmsg, sizeof ctx->errmsg);
    free(full);
    va_end(aq);
    return code;
}

ek_err
ek_seterr(struct ek_ctx *ctx, ek_err code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    ek_vseterr(ctx, code, fmt, ap);
    va_end(ap);
    return code;
}

ek_err
ek_seterr_oom(struct ek_ctx *ctx)
{
    return ek_seterr(ctx, EK_ERR_INTERNAL, "out of memory");
}

int
ek_log_enabled(const struct ek_ctx *ctx, enum ek_log_level level)
{
    return ctx != NULL && ctx->log_fn != NULL && level <= ctx->log_max;
}

void
ek_log(struct ek_ctx *ctx, enum ek_log_level level, const char *fmt, ...)
{
    char msg[1024], safe[1024];
    va_list ap;

    if (!ek_log_enabled(ctx, level))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ek_escape_ctrl(msg, safe, sizeof safe);
    ctx->log_fn(ctx->log_arg, level, safe);
}

void
ek_ctx_set_log(struct ek_ctx *ctx, ek_log_fn *fn, void *arg,
               enum ek_log_level max_level)
{
    if (ctx == NULL)
        return;
    ctx->log_fn = fn;
    ctx->log_arg = arg;
    ctx->log_max = max_level;
}

static ek_err
replace_string(struct ek_ctx *ctx, char **slot, const char *value)
{
    char *copy = NULL;

    if (value != NULL && (copy = ek_strdup(ctx, value)) == NULL)
        return EK_ERR_INTERNAL;
    free(*slot);
    *slot = copy;
    return EK_OK;
}

ek_err
ek_ctx_set_module(struct ek_ctx *ctx, const char *path)
{
    if (ctx == NULL)
        return EK_ERR_USAGE;
    if (path != NULL && path[0] == '\0')
        return ek_seterr(ctx, EK_ERR_USAGE, "the module path is empty; "
                         "give the path of a PKCS#11 module (.so)");
    return replace_string(ctx, &ctx->module_path, path);
}

ek_err
ek_ctx_set_module_origin(struct ek_ctx *ctx, const char *origin)
{
    return replace_string(ctx, &ctx->module_origin, origin);
}

/* Checks the form of a PIN source; the source itself is read at login. */
static ek_err
check_pin_source(struct ek_ctx *ctx, const char *what, const char *src)
{
    const char *rest;
    char *end = NULL;
    long fd;

    if (strncmp(src, "env:", 4) == 0) {
        rest = src + 4;
        if (rest[0] == '\0' || strspn(rest, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                      "abcdefghijklmnopqrstuvwxyz"
                                      "0123456789_") != strlen(rest))
            goto bad;
        return EK_OK;
    }
    if (strncmp(src, "file:", 5) == 0) {
        if (src[5] == '\0')
            goto bad;
        return EK_OK;
    }
    if (strncmp(src, "fd:", 3) == 0) {
        errno = 0;
        fd = strtol(src + 3, &end, 10);
        if (src[3] == '\0' || *end != '\0' || errno != 0 || fd < 0 ||
            fd > 65535)
            goto bad;
        return EK_OK;
    }
bad:
    return ek_seterr(ctx, EK_ERR_USAGE, "%s '%s' is not understood; use "
                     "env:NAME (an environment variable), file:PATH (a file "
                     "readable only by you) or fd:N (an open file "
                     "descriptor)", what, src);
}

ek_err
ek_ctx_set_pin_source(struct ek_ctx *ctx, const char *source)
{
    ek_err r;

    if (ctx == NULL)
        return EK_ERR_USAGE;
    if (source != NULL &&
        (r = check_pin_source(ctx, "PIN source", source)) != EK_OK)
        return r;
    return replace_string(ctx, &ctx->pin_source, source);
}

ek_err
ek_ctx_set_so_pin_source(struct ek_ctx *ctx, const char *source)
{
    ek_err r;

    if (ctx == NULL)
        return EK_ERR_USAGE;
    if (source != NULL &&
        (r = check_pin_source(ctx, "SO PIN source", source)) != EK_OK)
        return r;
    return replace_string(ctx, &ctx->so_pin_source, source);
}

void
ek_ctx_set_pin_prompt(struct ek_ctx *ctx, ek_pin_prompt_fn *fn, void *arg)
{
    if (ctx == NULL)
        return;
    ctx->prompt_fn = fn;
    ctx->prompt_arg = arg;
}

void
ek_ctx_set_flags(struct ek_ctx *ctx, unsigned flags)
{
    if (ctx != NULL)
        ctx->flags = flags;
}

void
ek_free(void *p)
{
    free(p);
}

void *
ek_calloc(struct ek_ctx *ctx, size_t n, size_t size)
{
    void *p = calloc(n, size);

    if (p == NULL)
        ek_seterr_oom(ctx);
    return p;
}

char *
ek_strdup(struct ek_ctx *ctx, const char *s)
{
    char *p = strdup(s);

    if (p == NULL)
        ek_seterr_oom(ctx);
    return p;
}
