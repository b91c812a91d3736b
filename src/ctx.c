/* ctx.c: the library context: its life and its settings. Error sentences,
 * logging and allocation are in error.c, below it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

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
    ek_pin_source_free(&ctx->pin_source);
    ek_pin_source_free(&ctx->so_pin_source);
    ek_wipe(ctx, sizeof *ctx);
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

int64_t
ek_ctx_clock_skew(const struct ek_ctx *ctx)
{
    return ctx != NULL ? ctx->clock_skew : 0;
}

const char *
ek_ctx_assertion_jti(const struct ek_ctx *ctx)
{
    return ctx != NULL ? ctx->last_jti : "";
}

const char *
ek_ctx_assertion_thumbprint(const struct ek_ctx *ctx)
{
    return ctx != NULL ? ctx->last_thumbprint : "";
}

const char *
ek_ctx_correlation_id(const struct ek_ctx *ctx)
{
    return ctx != NULL ? ctx->correlation_id : "";
}

const char *
ek_ctx_request_id(const struct ek_ctx *ctx)
{
    return ctx != NULL ? ctx->request_id : "";
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
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "the module path is empty; "
                         "give the path of a PKCS#11 module (.so)");
    return replace_string(ctx, &ctx->module_path, path);
}

ek_err
ek_ctx_set_module_origin(struct ek_ctx *ctx, const char *origin)
{
    return replace_string(ctx, &ctx->module_origin, origin);
}

/* The form is checked now; the source itself is read at login. */
static ek_err
set_pin_source(struct ek_ctx *ctx, struct ek_pin_source **slot,
               const char *source, unsigned flags)
{
    struct ek_pin_source *src = NULL;
    ek_err r;

    if (ctx == NULL)
        return EK_ERR_USAGE;
    if (source != NULL &&
        (r = ek_pin_source_parse(ctx, source, flags, &src)) != EK_OK)
        return r;
    ek_pin_source_free(slot);
    *slot = src;
    return EK_OK;
}

ek_err
ek_ctx_set_pin_source(struct ek_ctx *ctx, const char *source)
{
    return set_pin_source(ctx, ctx != NULL ? &ctx->pin_source : NULL, source,
                          0);
}

ek_err
ek_ctx_set_so_pin_source(struct ek_ctx *ctx, const char *source)
{
    return set_pin_source(ctx, ctx != NULL ? &ctx->so_pin_source : NULL, source,
                          EK_PINSRC_SO);
}

void
ek_ctx_pin_source_scrub(struct ek_ctx *ctx)
{
    if (ctx != NULL)
        ek_pin_source_scrub(ctx->pin_source);
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
