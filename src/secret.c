/* secret.c: the one container for PINs' neighbours: assertions, tokens,
 * request bodies. Wiped on growth and on free. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* explicit_bzero (glibc 2.25) is kept by the compiler as OPENSSL_cleanse
 * is, and needs no libcrypto: the agent's client wipes without loading it */
void
ek_wipe(void *p, size_t n)
{
    if (p != NULL && n > 0)
        explicit_bzero(p, n);
}

ek_err
ek_secret_new(struct ek_ctx *ctx, size_t cap, struct ek_secret **sp)
{
    struct ek_secret *s;

    *sp = NULL;
    if ((s = ek_calloc(ctx, 1, sizeof *s)) == NULL)
        return EK_ERR_INTERNAL;
    s->cap = cap < 64 ? 64 : cap;
    if ((s->buf = ek_calloc(ctx, 1, s->cap + 1)) == NULL) {
        free(s);
        return EK_ERR_INTERNAL;
    }
    *sp = s;
    return EK_OK;
}

ek_err
ek_secret_append(struct ek_ctx *ctx, struct ek_secret *s, const void *data,
                 size_t n)
{
    char *nb;
    size_t ncap;

    if (n > SIZE_MAX / 2 - s->len)
        return ek_seterr_oom(ctx);
    if (s->len + n > s->cap) {
        ncap = s->cap * 2;
        if (ncap < s->len + n)
            ncap = s->len + n;
        /* not realloc: the old copy must be wiped, not abandoned */
        if ((nb = ek_calloc(ctx, 1, ncap + 1)) == NULL)
            return EK_ERR_INTERNAL;
        memcpy(nb, s->buf, s->len);
        ek_wipe(s->buf, s->cap + 1);
        free(s->buf);
        s->buf = nb;
        s->cap = ncap;
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return EK_OK;
}

ek_err
ek_secret_append_str(struct ek_ctx *ctx, struct ek_secret *s, const char *str)
{
    return ek_secret_append(ctx, s, str, strlen(str));
}

const char *
ek_secret_data(const struct ek_secret *s)
{
    return s != NULL ? s->buf : NULL;
}

size_t
ek_secret_len(const struct ek_secret *s)
{
    return s != NULL ? s->len : 0;
}

void
ek_secret_free(struct ek_secret **sp)
{
    struct ek_secret *s;

    if (sp == NULL || (s = *sp) == NULL)
        return;
    if (s->buf != NULL) {
        ek_wipe(s->buf, s->cap + 1);
        free(s->buf);
    }
    ek_wipe(s, sizeof *s);
    free(s);
    *sp = NULL;
}
