/* stub_entra.c: TEMPORARY stubs; each is deleted as its function is written. */
#include <stddef.h>

#include "internal.h"

ek_err
ek_cloud_parse(const char *name, enum ek_cloud *cloud)
{
    (void)name; (void)cloud;
    return ek_seterr(NULL, EK_ERR_INTERNAL, "ek_cloud_parse is not implemented yet");
}

const char *
ek_cloud_authority_host(enum ek_cloud cloud)
{
    (void)cloud;
    return NULL;
}

const char *
ek_cloud_scope(enum ek_cloud cloud, enum ek_resource r)
{
    (void)cloud; (void)r;
    return NULL;
}

const char *
ek_cloud_exo_environment(enum ek_cloud cloud)
{
    (void)cloud;
    return NULL;
}

ek_err
ek_resource_parse(const char *name, enum ek_resource *r)
{
    (void)name; (void)r;
    return ek_seterr(NULL, EK_ERR_INTERNAL, "ek_resource_parse is not implemented yet");
}

ek_err
ek_token_acquire(struct ek_ctx *ctx, struct ek_key *k, const struct ek_token_params *params, struct ek_access_token **tokp)
{
    (void)ctx; (void)k; (void)params; (void)tokp;
    return ek_seterr(ctx, EK_ERR_INTERNAL, "ek_token_acquire is not implemented yet");
}

const char *
ek_access_token_value(const struct ek_access_token *t)
{
    (void)t;
    return NULL;
}

const char *
ek_access_token_type(const struct ek_access_token *t)
{
    (void)t;
    return NULL;
}

int64_t
ek_access_token_expires_in(const struct ek_access_token *t)
{
    (void)t;
    return 0;
}

int64_t
ek_access_token_expires_on(const struct ek_access_token *t)
{
    (void)t;
    return 0;
}

const char *
ek_access_token_scope(const struct ek_access_token *t)
{
    (void)t;
    return NULL;
}

void
ek_access_token_free(struct ek_access_token **tp)
{
    (void)tp;
    return;
}

ek_err
ek_config_default_path(struct ek_ctx *ctx, char **pathp)
{
    (void)ctx; (void)pathp;
    return ek_seterr(ctx, EK_ERR_INTERNAL, "ek_config_default_path is not implemented yet");
}

ek_err
ek_config_load(struct ek_ctx *ctx, const char *path, int missing_ok, struct ek_config **cfgp)
{
    (void)ctx; (void)path; (void)missing_ok; (void)cfgp;
    return ek_seterr(ctx, EK_ERR_INTERNAL, "ek_config_load is not implemented yet");
}

void
ek_config_free(struct ek_config **cfgp)
{
    (void)cfgp;
    return;
}

const char *
ek_config_get(const struct ek_config *cfg, const char *profile, const char *key)
{
    (void)cfg; (void)profile; (void)key;
    return NULL;
}

size_t
ek_config_profile_count(const struct ek_config *cfg)
{
    (void)cfg;
    return 0;
}

const char *
ek_config_profile_name(const struct ek_config *cfg, size_t i)
{
    (void)cfg; (void)i;
    return NULL;
}

ek_err
ek_config_set(struct ek_ctx *ctx, struct ek_config *cfg, const char *profile, const char *key, const char *value)
{
    (void)ctx; (void)cfg; (void)profile; (void)key; (void)value;
    return ek_seterr(ctx, EK_ERR_INTERNAL, "ek_config_set is not implemented yet");
}

ek_err
ek_config_save(struct ek_ctx *ctx, const struct ek_config *cfg, const char *path)
{
    (void)ctx; (void)cfg; (void)path;
    return ek_seterr(ctx, EK_ERR_INTERNAL, "ek_config_save is not implemented yet");
}

