/* config.h: profiles in an INI file (inih), kept line by line so that a
 * save changes only the lines it must. */
#ifndef EK_CONFIG_H
#define EK_CONFIG_H

#include <stddef.h>

#include "internal.h"

#define CFG_FILE_MAX (1024 * 1024)
#define CFG_NAME_MAX 64

/* 1 when key is one of the known profile keys. */
int cfg_known_key(const char *key);
/* "tenant, client_id, …": the known keys, for messages. */
const char *cfg_known_keys(void);

/* Checks a profile name: letters, digits, '.', '_', '-', '@'; at most
 * CFG_NAME_MAX. EK_ERR_USAGE. */
ek_err cfg_check_name(struct ek_ctx *ctx, const char *name);

/* Checks that value can be written as "key = value" and read back the
 * same by inih, and that cloud, resource and alg values are known.
 * EK_ERR_USAGE saying why. */
ek_err cfg_check_value(struct ek_ctx *ctx, const char *key, const char *value);

/* Parses INI text as ek_config_load does; name is used in messages. */
ek_err cfg_parse(struct ek_ctx *ctx, const char *name, const char *text,
                 size_t len, struct ek_config **cfgp);

/* The file's text as ek_config_save would write it; the caller frees. */
ek_err cfg_render(struct ek_ctx *ctx, const struct ek_config *cfg, char **textp,
                  size_t *lenp);

#endif /* EK_CONFIG_H */
