/* cmd_tokens.c: `entrakey tokens`: modules, slots and tokens, their state
 * and what they can do. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage_tokens[] =
    "usage: entrakey tokens [--module PATH] [--json]\n"
    "\n"
    "Lists the tokens of the PKCS#11 module (--module, else $ENTRAKEY_MODULE,\n"
    "else every module registered with p11-kit): their URI, label,\n"
    "manufacturer, model and serial; their state (login required, PIN count\n"
    "low / final try / locked, PIN pad); and whether they can generate RSA\n"
    "keys and sign RS256 and PS256, with the mechanism entrakey would use.\n"
    "No PIN is needed.\n"
    "\n"
    "options:\n"
    "  --module PATH   the PKCS#11 module (.so) to ask\n"
    "  --json          print a JSON document instead of text\n"
    "  -v, --verbose   trace the PKCS#11 calls on stderr\n"
    "  -h, --help      this help\n";

static const struct {
    unsigned flag;
    const char *text;
    const char *json;
} flag_names[] = {
    {EK_TOKEN_LOGIN_REQUIRED, "login required", "login_required"},
    {EK_TOKEN_PIN_COUNT_LOW, "PIN count low", "pin_count_low"},
    {EK_TOKEN_PIN_FINAL_TRY, "PIN final try", "pin_final_try"},
    {EK_TOKEN_PIN_LOCKED, "PIN LOCKED", "pin_locked"},
    {EK_TOKEN_PROTECTED_AUTH, "PIN pad (protected authentication path)",
     "protected_authentication_path"},
    {EK_TOKEN_WRITE_PROTECTED, "write-protected", "write_protected"},
};
#define NFLAGS (sizeof flag_names / sizeof flag_names[0])

static void
print_text(const struct ek_token_list *l)
{
    const char *module = NULL, *m;
    unsigned f;
    size_t i, j;
    int any;

    for (i = 0; i < ek_token_list_count(l); i++) {
        const struct ek_token *tk = ek_token_list_get(l, i);

        if (module == NULL || strcmp(module, ek_token_module(tk)) != 0) {
            module = ek_token_module(tk);
            printf("%smodule %s\n", i > 0 ? "\n" : "", cli_safe(module));
        }
        f = ek_token_flags(tk);
        if (!(f & EK_TOKEN_INITIALIZED)) {
            printf("  slot %lu: a token that is not initialised (free "
                   "slot)\n",
                   ek_token_slot(tk));
            continue;
        }
        printf("  slot %lu: token '%s'\n", ek_token_slot(tk),
               cli_safe(ek_token_label(tk)));
        printf("    uri:          %s\n", ek_token_uri(tk));
        printf("    manufacturer: %s\n", cli_safe(ek_token_manufacturer(tk)));
        printf("    model:        %s\n", cli_safe(ek_token_model(tk)));
        printf("    serial:       %s\n", cli_safe(ek_token_serial(tk)));
        printf("    flags:        ");
        any = 0;
        for (j = 0; j < NFLAGS; j++) {
            if (!(f & flag_names[j].flag))
                continue;
            printf("%s%s", any ? ", " : "", flag_names[j].text);
            any = 1;
        }
        printf("%s\n", any ? "" : "none");
        m = ek_token_mech_keygen(tk);
        printf("    keygen:       %s\n",
               m != NULL ? "RSA (CKM_RSA_PKCS_KEY_PAIR_GEN)" : "no");
        m = ek_token_mech_sign(tk, EK_ALG_RS256);
        printf("    RS256:        %s\n", m != NULL ? m : "no");
        m = ek_token_mech_sign(tk, EK_ALG_PS256);
        printf("    PS256:        %s\n", m != NULL ? m : "no");
    }
}

static cJSON *
json_string_or_null(const char *s)
{
    return s != NULL ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static cJSON *
to_json(const struct ek_token_list *l)
{
    cJSON *doc = cJSON_CreateObject(), *arr, *t, *flags;
    unsigned f;
    size_t i, j;

    if (doc == NULL || (arr = cJSON_AddArrayToObject(doc, "tokens")) == NULL)
        goto fail;
    for (i = 0; i < ek_token_list_count(l); i++) {
        const struct ek_token *tk = ek_token_list_get(l, i);

        f = ek_token_flags(tk);
        if ((t = cJSON_CreateObject()) == NULL)
            goto fail;
        cJSON_AddItemToArray(arr, t);
        if (!cJSON_AddStringToObject(t, "module", ek_token_module(tk)) ||
            !cJSON_AddNumberToObject(t, "slot", (double)ek_token_slot(tk)) ||
            !cJSON_AddBoolToObject(t, "initialized",
                                   (f & EK_TOKEN_INITIALIZED) != 0) ||
            !cJSON_AddStringToObject(t, "uri", ek_token_uri(tk)) ||
            !cJSON_AddStringToObject(t, "label", ek_token_label(tk)) ||
            !cJSON_AddStringToObject(t, "manufacturer",
                                     ek_token_manufacturer(tk)) ||
            !cJSON_AddStringToObject(t, "model", ek_token_model(tk)) ||
            !cJSON_AddStringToObject(t, "serial", ek_token_serial(tk)) ||
            (flags = cJSON_AddObjectToObject(t, "flags")) == NULL)
            goto fail;
        for (j = 0; j < NFLAGS; j++)
            if (!cJSON_AddBoolToObject(flags, flag_names[j].json,
                                       (f & flag_names[j].flag) != 0))
                goto fail;
        if (!cJSON_AddItemToObject(
                t, "keygen", json_string_or_null(ek_token_mech_keygen(tk))) ||
            !cJSON_AddItemToObject(
                t, "rs256",
                json_string_or_null(ek_token_mech_sign(tk, EK_ALG_RS256))) ||
            !cJSON_AddItemToObject(
                t, "ps256",
                json_string_or_null(ek_token_mech_sign(tk, EK_ALG_PS256))))
            goto fail;
    }
    return doc;
fail:
    cJSON_Delete(doc);
    return NULL;
}

int
cmd_tokens(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct ek_token_list *l = NULL;
    ek_err r;
    int c, rc;

    while ((c = cli_getopt(argc, argv, CLI_COMMON_SHORTOPTS, longopts,
                           "tokens")) != -1) {
        rc = cli_common_opt(cli, c, optarg, "tokens", usage_tokens);
        if (rc > 0)
            return rc;
        if (rc < 0)
            return cli_usage("tokens", usage_tokens, "unexpected option");
    }
    if (optind < argc)
        return cli_usage("tokens", usage_tokens, "unexpected argument '%s'",
                         argv[optind]);
    if ((rc = cli_apply(cli)) != 0)
        return rc;
    if ((r = ek_tokens_list(cli->ctx, &l)) != EK_OK)
        return cli_fail(cli, r);
    if (cli->json) {
        rc = cli_print_json(to_json(l));
    } else {
        if (ek_token_list_count(l) == 0)
            printf("no tokens found; check that the token is inserted, or "
                   "give --module PATH\n");
        print_text(l);
        rc = CLI_EXIT_OK;
    }
    ek_token_list_free(&l);
    return rc;
}
