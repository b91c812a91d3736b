/* error.c: the bottom of the library: error sentences and logging on a
 * context, and allocation that reports its failure. Calls no other file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    if ((unsigned)e < sizeof errtext / sizeof errtext[0] && errtext[e] != NULL)
        return errtext[e];
    return "unknown error";
}

const char *
ek_ctx_errmsg(const struct ek_ctx *ctx)
{
    if (ctx == NULL || ctx->errmsg[0] == '\0')
        return "no error recorded";
    return ctx->errmsg;
}

/* How much of the end of an over-long sentence is kept: the end says what
 * to do, and an argument of any length (a 100 kB --tenant) must not push it
 * out. */
#define EK_ERRMSG_TAIL 512

/* The length of the UTF-8 character at s (1-4), or 0 when the bytes there
 * are not one (a stray continuation byte, an overlong form, a surrogate,
 * beyond U+10FFFF, cut short by the NUL). */
size_t
ek_utf8_char_len(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        return (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (p[0] >= 0xe0 && p[0] <= 0xef) {
        if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
            (p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f))
            return 0;
        return 3;
    }
    if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
            (p[3] & 0xc0) != 0x80 || (p[0] == 0xf0 && p[1] < 0x90) ||
            (p[0] == 0xf4 && p[1] > 0x8f))
            return 0;
        return 4;
    }
    return 0;
}

/* in error.c (with ek_utf8_char_len) so that the bottom of the base layer
 * calls no other file */
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
