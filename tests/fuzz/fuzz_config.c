/* fuzz_config.c: the INI profile file (cfg_parse, as ek_config_load reads
 * it), and the promise of a save: an unchanged file is written back as it
 * was, and what is set reads back the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"

static const char *const keys[] = {
    "tenant",         "client_id", "key", "module",     "cloud",
    "resource",       "scope",     "alg", "pin_source", "organization",
    "authority_host", "ca_file",
};
#define NKEYS (sizeof keys / sizeof keys[0])

#define NEW_PROFILE "fuzz-new"
#define NEW_CLIENT "0d2f6a4c-1b3e-4f5a-8c7d-9e0f1a2b3c4d"
#define NEW_SCOPE "https://graph.microsoft.com/.default"

static int
has_profile(const struct ek_config *cfg, const char *name)
{
    size_t i;

    for (i = 0; i < ek_config_profile_count(cfg); i++)
        if (strcmp(ek_config_profile_name(cfg, i), name) == 0)
            return 1;
    return 0;
}

static int
same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) ||
           (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Every profile and value of a is in b, and b has no other profile. */
static void
check_same(const struct ek_config *a, const struct ek_config *b)
{
    const char *p;
    size_t i, k;

    FUZZ_CHECK(ek_config_profile_count(a) == ek_config_profile_count(b));
    for (i = 0; i < ek_config_profile_count(a); i++) {
        p = ek_config_profile_name(a, i);
        FUZZ_CHECK(p != NULL);
        FUZZ_CHECK(same_str(p, ek_config_profile_name(b, i)));
        for (k = 0; k < NKEYS; k++)
            FUZZ_CHECK(same_str(ek_config_get(a, p, keys[k]),
                                ek_config_get(b, p, keys[k])));
    }
}

static struct ek_config *
reparse(struct ek_ctx *ctx, const struct ek_config *cfg)
{
    struct ek_config *again = NULL;
    char *text = NULL;
    size_t len = 0;

    FUZZ_CHECK(cfg_render(ctx, cfg, &text, &len) == EK_OK);
    FUZZ_CHECK(strlen(text) == len);
    if (cfg_parse(ctx, "rendered", text, len, &again) != EK_OK) {
        fprintf(stderr, "rendered text does not load: %s\n---\n%s---\n",
                ek_ctx_errmsg(ctx), text);
        FUZZ_CHECK(!"a rendered config loads again");
    }
    free(text);
    return again;
}

static void
check_edits(struct ek_ctx *ctx, struct ek_config *cfg, const char *value)
{
    struct ek_config *orig = NULL, *again = NULL;
    char *text = NULL;
    const char *first = NULL, *p;
    size_t len = 0, i, k, count = ek_config_profile_count(cfg);
    int had_new = has_profile(cfg, NEW_PROFILE), value_ok;

    /* a copy of what was loaded, to compare the edited one with */
    FUZZ_CHECK(cfg_render(ctx, cfg, &text, &len) == EK_OK);
    FUZZ_CHECK(cfg_parse(ctx, "copy", text, len, &orig) == EK_OK);
    free(text);

    if (count > 0) {
        first = ek_config_profile_name(cfg, 0);
        FUZZ_CHECK(ek_config_set(ctx, cfg, first, "scope", NEW_SCOPE) == EK_OK);
        FUZZ_CHECK(ek_config_set(ctx, cfg, first, "tenant", NULL) == EK_OK);
    }
    FUZZ_CHECK(ek_config_set(ctx, cfg, NEW_PROFILE, "client_id", NEW_CLIENT) ==
               EK_OK);
    /* a value the checker accepts is one the file holds unchanged */
    value_ok = cfg_check_value(ctx, "organization", value) == EK_OK;
    if (value_ok)
        FUZZ_CHECK(ek_config_set(ctx, cfg, NEW_PROFILE, "organization",
                                 value) == EK_OK);
    else
        FUZZ_CHECK(ek_config_set(ctx, cfg, NEW_PROFILE, "organization",
                                 value) == EK_ERR_USAGE);

    again = reparse(ctx, cfg);
    FUZZ_CHECK(ek_config_profile_count(again) == count + (had_new ? 0 : 1));
    FUZZ_CHECK(
        same_str(ek_config_get(again, NEW_PROFILE, "client_id"), NEW_CLIENT));
    if (value_ok)
        FUZZ_CHECK(
            same_str(ek_config_get(again, NEW_PROFILE, "organization"), value));
    for (i = 0; i < ek_config_profile_count(orig); i++) {
        p = ek_config_profile_name(orig, i);
        for (k = 0; k < NKEYS; k++) {
            if (strcmp(p, NEW_PROFILE) == 0 &&
                (strcmp(keys[k], "client_id") == 0 ||
                 (value_ok && strcmp(keys[k], "organization") == 0)))
                continue;
            if (first != NULL && strcmp(p, first) == 0 &&
                strcmp(keys[k], "scope") == 0)
                FUZZ_CHECK(
                    same_str(ek_config_get(again, p, "scope"), NEW_SCOPE));
            else if (first != NULL && strcmp(p, first) == 0 &&
                     strcmp(keys[k], "tenant") == 0)
                FUZZ_CHECK(ek_config_get(again, p, "tenant") == NULL);
            else
                FUZZ_CHECK(same_str(ek_config_get(again, p, keys[k]),
                                    ek_config_get(orig, p, keys[k])));
        }
    }
    ek_config_free(&again);
    ek_config_free(&orig);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ek_ctx *ctx = NULL;
    struct ek_config *cfg = NULL, *again = NULL;
    char *text = NULL, *rendered = NULL, *value = NULL;
    const uint8_t *nl;
    size_t len = 0;
    ek_err r;

    /* exact size, no NUL after it: the parser must keep to len */
    if ((text = malloc(size > 0 ? size : 1)) == NULL ||
        ek_ctx_new(&ctx) != EK_OK)
        goto out;
    memcpy(text, data, size);
    r = cfg_parse(ctx, "fuzz", text, size, &cfg);
    FUZZ_CHECK((r == EK_OK) == (cfg != NULL));
    if (r != EK_OK) {
        FUZZ_CHECK(r == EK_ERR_CONFIG || r == EK_ERR_INTERNAL);
        FUZZ_CHECK(ctx->errmsg[0] != '\0');
        goto out;
    }
    /* unchanged, the file is written back byte for byte (a final newline
     * added), and reads back the same */
    FUZZ_CHECK(cfg_render(ctx, cfg, &rendered, &len) == EK_OK);
    if (size > 0) {
        FUZZ_CHECK(len == size || (len == size + 1 && data[size - 1] != '\n'));
        FUZZ_CHECK(memcmp(rendered, data, size) == 0);
    }
    again = reparse(ctx, cfg);
    check_same(cfg, again);
    check_same(again, cfg);

    /* the first line of the input is also tried as a value */
    nl = memchr(data, '\n', size);
    if ((value = fuzz_cstring(data, nl != NULL ? (size_t)(nl - data) : size)) ==
        NULL)
        goto out;
    check_edits(ctx, cfg, value);
out:
    free(value);
    free(rendered);
    ek_config_free(&again);
    ek_config_free(&cfg);
    ek_ctx_free(&ctx);
    free(text);
    return 0;
}
