/* cmd_profile.c: `entrakey profile add|show|list|remove`: named sets of
 * token options in the configuration file. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage_profile[] =
    "usage: entrakey profile add NAME [settings] [--force] [--config FILE]\n"
    "       entrakey profile show NAME [--json] [--config FILE]\n"
    "       entrakey profile list [--json] [--config FILE]\n"
    "       entrakey profile remove NAME [--config FILE]\n"
    "\n"
    "Profiles hold the signing options of `entrakey assert`, `token` and\n"
    "`exec` (given there with --profile NAME or ENTRAKEY_PROFILE; the\n"
    "profile 'default' is used when none is named). Precedence: options,\n"
    "a named profile, the environment, the default profile.\n"
    "add and remove write the user's file (or --config / ENTRAKEY_CONFIG),\n"
    "atomically, mode 0600, keeping comments and other profiles. list and\n"
    "show read the user's file, then /etc/entrakey/config; a profile is\n"
    "taken whole from the first file that has it, and show says which.\n"
    "\n"
    "settings (profile add):\n"
    "  --tenant TENANT        directory (tenant) ID or domain\n"
    "  --client-id APPID      the app's Application (client) ID\n"
    "  --key URI              the private key's PKCS#11 URI\n"
    "  --module PATH          the PKCS#11 module\n"
    "  --pin-source SRC       env:NAME | file:PATH | fd:N (never the PIN)\n"
    "  --cloud NAME           global, usgov, usgov-dod, china\n"
    "  --resource NAME        exo, graph, arm, compliance\n"
    "  --scope SCOPE          a scope instead of --resource\n"
    "  --alg PS256|RS256      assertion signature\n"
    "  --organization DOMAIN  the *.onmicrosoft.com domain\n"
    "  --authority-host URL   the login host (https)\n"
    "  --ca-file PEM          CA certificates to trust in addition\n"
    "  --audit SPEC           json:PATH, json:- or journal: audit events\n"
    "  --force                change a profile that exists (only the\n"
    "                         settings given are changed)\n"
    "\n"
    "  --config FILE          the only file (or $ENTRAKEY_CONFIG; default:\n"
    "                         $XDG_CONFIG_HOME/entrakey/config, else\n"
    "                         ~/.config/entrakey/config)\n"
    "  --json                 show and list as JSON\n";

enum {
    OPT_TENANT = OPT_CMD_BASE,
    OPT_CLIENT_ID,
    OPT_KEY,
    OPT_CLOUD,
    OPT_RESOURCE,
    OPT_SCOPE,
    OPT_ALG,
    OPT_ORGANIZATION,
    OPT_AUTHORITY_HOST,
    OPT_CA_FILE,
    OPT_AUDIT,
    OPT_CONFIG,
    OPT_FORCE,
};

/* The profile keys in the order they are shown. */
static const char *const keys[] = {
    "tenant",         "client_id", "key",   "module", "pin_source",
    "cloud",          "resource",  "scope", "alg",    "organization",
    "authority_host", "ca_file",   "audit",
};
#define NKEYS (sizeof keys / sizeof keys[0])

struct profile_cmd {
    const char *sub;
    const char *name;
    const char *config;
    const char *value[NKEYS]; /* profile add: the settings given */
    int force;
};

static int
key_index(const char *key)
{
    size_t i;

    for (i = 0; i < NKEYS; i++)
        if (strcmp(keys[i], key) == 0)
            return (int)i;
    return -1;
}

static int
profile_exists(const struct ek_config *cfg, const char *name)
{
    const char *p;
    size_t i;

    for (i = 0; name != NULL && i < ek_config_profile_count(cfg); i++)
        if ((p = ek_config_profile_name(cfg, i)) != NULL &&
            strcmp(p, name) == 0)
            return 1;
    return 0;
}

static int
parse_args(struct cli *cli, struct profile_cmd *pc, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"tenant", required_argument, NULL, OPT_TENANT},
        {"client-id", required_argument, NULL, OPT_CLIENT_ID},
        {"key", required_argument, NULL, OPT_KEY},
        {"cloud", required_argument, NULL, OPT_CLOUD},
        {"resource", required_argument, NULL, OPT_RESOURCE},
        {"scope", required_argument, NULL, OPT_SCOPE},
        {"alg", required_argument, NULL, OPT_ALG},
        {"organization", required_argument, NULL, OPT_ORGANIZATION},
        {"authority-host", required_argument, NULL, OPT_AUTHORITY_HOST},
        {"ca-file", required_argument, NULL, OPT_CA_FILE},
        {"audit", required_argument, NULL, OPT_AUDIT},
        {"config", required_argument, NULL, OPT_CONFIG},
        {"force", no_argument, NULL, OPT_FORCE},
        {NULL, 0, NULL, 0},
    };
    static const struct {
        int opt;
        const char *key;
    } map[] = {
        {OPT_TENANT, "tenant"},
        {OPT_CLIENT_ID, "client_id"},
        {OPT_KEY, "key"},
        {OPT_CLOUD, "cloud"},
        {OPT_RESOURCE, "resource"},
        {OPT_SCOPE, "scope"},
        {OPT_ALG, "alg"},
        {OPT_ORGANIZATION, "organization"},
        {OPT_AUTHORITY_HOST, "authority_host"},
        {OPT_CA_FILE, "ca_file"},
        {OPT_AUDIT, "audit"},
    };
    size_t i;
    int c, rc, handled;

    while ((c = cli_getopt(argc, argv, CLI_COMMON_SHORTOPTS, longopts,
                           "profile")) != -1) {
        handled = 0;
        for (i = 0; i < sizeof map / sizeof map[0]; i++)
            if (map[i].opt == c) {
                pc->value[key_index(map[i].key)] = optarg;
                handled = 1;
            }
        if (handled)
            continue;
        if (c == OPT_CONFIG) {
            pc->config = optarg;
            continue;
        }
        if (c == OPT_FORCE) {
            pc->force = 1;
            continue;
        }
        rc = cli_common_opt(cli, c, optarg, "profile", usage_profile);
        if (rc != 0)
            return rc > 0 ? rc
                          : cli_usage("profile", usage_profile,
                                      "invalid arguments");
    }
    /* common options that are settings here */
    pc->value[key_index("module")] = cli->module;
    pc->value[key_index("pin_source")] = cli->pin_source;
    if (strcmp(pc->sub, "list") != 0) {
        if (optind >= argc)
            return cli_usage("profile", usage_profile,
                             "%s needs a profile "
                             "NAME",
                             pc->sub);
        pc->name = argv[optind++];
    }
    if (optind < argc)
        return cli_usage("profile", usage_profile,
                         "unexpected argument "
                         "'%s'",
                         argv[optind]);
    if (strcmp(pc->sub, "add") != 0) {
        for (i = 0; i < NKEYS; i++)
            if (pc->value[i] != NULL)
                return cli_usage("profile", usage_profile,
                                 "profile %s "
                                 "takes no settings; use profile add",
                                 pc->sub);
        if (pc->force)
            return cli_usage("profile", usage_profile,
                             "--force is for "
                             "profile add");
    }
    return 0;
}

static int
do_add(struct cli *cli, struct profile_cmd *pc, struct ek_config *cfg,
       const char *path)
{
    size_t i, n = 0;
    int existed;
    ek_err r;

    for (i = 0; i < NKEYS; i++)
        n += pc->value[i] != NULL;
    if (n == 0)
        return cli_usage("profile", usage_profile,
                         "profile add needs at "
                         "least one setting (e.g. --tenant, --client-id, "
                         "--key)");
    if (pc->value[key_index("scope")] != NULL &&
        pc->value[key_index("resource")] != NULL)
        return cli_usage("profile", usage_profile,
                         "give --scope or "
                         "--resource, not both");
    existed = profile_exists(cfg, pc->name);
    if (existed && !pc->force) {
        fprintf(stderr,
                "entrakey: profile '%s' exists in %s and was left as "
                "it is; give --force to change the settings given\n",
                pc->name, path);
        return CLI_EXIT_EXISTS;
    }
    for (i = 0; i < NKEYS; i++) {
        if (pc->value[i] == NULL)
            continue;
        if ((r = ek_config_set(cli->ctx, cfg, pc->name, keys[i],
                               pc->value[i])) != EK_OK)
            return cli_fail(cli, r);
        /* scope and resource exclude each other in one profile */
        if (strcmp(keys[i], "scope") == 0)
            (void)ek_config_set(cli->ctx, cfg, pc->name, "resource", NULL);
        if (strcmp(keys[i], "resource") == 0)
            (void)ek_config_set(cli->ctx, cfg, pc->name, "scope", NULL);
    }
    if ((r = ek_config_save(cli->ctx, cfg, path)) != EK_OK)
        return cli_fail(cli, r);
    printf("profile '%s' %s in %s\n", pc->name, existed ? "updated" : "added",
           path);
    for (i = 0; i < NKEYS; i++)
        if (pc->value[i] != NULL)
            printf("  %s = %s\n", keys[i], pc->value[i]);
    return CLI_EXIT_OK;
}

static int
do_show(struct cli *cli, struct profile_cmd *pc, const struct cli_config *cc)
{
    const struct cli_config_file *f = cli_config_find(cc, pc->name);
    cJSON *doc;
    const char *v;
    size_t i;

    if (f == NULL) {
        cli_config_no_profile(cc, "profile", pc->name);
        return CLI_EXIT_USAGE;
    }
    if (cli->json) {
        if ((doc = cJSON_CreateObject()) == NULL ||
            cJSON_AddStringToObject(doc, "name", pc->name) == NULL ||
            cJSON_AddStringToObject(doc, "file", f->path) == NULL)
            return cli_print_json(doc);
        for (i = 0; i < NKEYS; i++)
            if ((v = ek_config_get(f->cfg, pc->name, keys[i])) != NULL &&
                cJSON_AddStringToObject(doc, keys[i], v) == NULL) {
                cJSON_Delete(doc);
                return cli_print_json(NULL);
            }
        return cli_print_json(doc);
    }
    /* a profile is taken whole from one file: every value is from f */
    printf("# from %s\n", f->path);
    for (i = 0; i < cc->n; i++)
        if (&cc->file[i] != f && cli_config_has(cc->file[i].cfg, pc->name))
            printf("# (also in %s, not used: the first file wins)\n",
                   cc->file[i].path);
    printf("[profile %s]\n", pc->name);
    for (i = 0; i < NKEYS; i++)
        if ((v = ek_config_get(f->cfg, pc->name, keys[i])) != NULL)
            printf("%s = %s\n", keys[i], v);
    return CLI_EXIT_OK;
}

/* The names of every file's profiles, each once, in the order read. */
static int
do_list(struct cli *cli, const struct cli_config *cc)
{
    cJSON *doc = NULL, *s;
    const char *name;
    size_t i, j;

    if (cli->json && (doc = cJSON_CreateArray()) == NULL)
        return cli_print_json(NULL);
    for (i = 0; i < cc->n; i++) {
        for (j = 0; j < ek_config_profile_count(cc->file[i].cfg); j++) {
            name = ek_config_profile_name(cc->file[i].cfg, j);
            if (cli_config_find(cc, name) != &cc->file[i])
                continue; /* shown with the file that wins */
            if (!cli->json) {
                printf("%s\n", name);
                continue;
            }
            if ((s = cJSON_CreateString(name)) == NULL ||
                !cJSON_AddItemToArray(doc, s)) {
                cJSON_Delete(s);
                cJSON_Delete(doc);
                return cli_print_json(NULL);
            }
        }
    }
    return cli->json ? cli_print_json(doc) : CLI_EXIT_OK;
}

static int
do_remove(struct cli *cli, struct profile_cmd *pc, struct ek_config *cfg,
          const char *path)
{
    size_t i;
    ek_err r;

    if (!profile_exists(cfg, pc->name)) {
        fprintf(stderr,
                "entrakey: no profile '%s' in %s; see `entrakey "
                "profile list`\n",
                pc->name, path);
        return CLI_EXIT_USAGE;
    }
    for (i = 0; i < NKEYS; i++)
        if ((r = ek_config_set(cli->ctx, cfg, pc->name, keys[i], NULL)) !=
            EK_OK)
            return cli_fail(cli, r);
    if ((r = ek_config_save(cli->ctx, cfg, path)) != EK_OK)
        return cli_fail(cli, r);
    printf("profile '%s' removed from %s\n", pc->name, path);
    return CLI_EXIT_OK;
}

int
cmd_profile(struct cli *cli, int argc, char **argv)
{
    struct profile_cmd pc;
    struct ek_config *cfg = NULL;
    struct cli_config cc;
    char *defpath = NULL;
    const char *path, *env;
    int rc;
    ek_err r;

    memset(&pc, 0, sizeof pc);
    memset(&cc, 0, sizeof cc);
    if (argc >= 2 &&
        (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        fputs(usage_profile, stdout);
        return CLI_EXIT_OK;
    }
    if (argc < 2 ||
        (strcmp(argv[1], "add") != 0 && strcmp(argv[1], "show") != 0 &&
         strcmp(argv[1], "list") != 0 && strcmp(argv[1], "remove") != 0))
        return cli_usage("profile", usage_profile,
                         "give add, show, list or "
                         "remove");
    pc.sub = argv[1];
    /* the subcommand parses from its own name on */
    optind = 0;
    if ((rc = parse_args(cli, &pc, argc - 1, argv + 1)) != 0)
        return rc;
    if ((rc = cli_apply(cli)) != 0)
        return rc;
    if (pc.name != NULL && strcmp(pc.sub, "add") == 0 &&
        (strlen(pc.name) == 0 ||
         strspn(pc.name, "abcdefghijklmnopqrstuvwxyz"
                         "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789._-@") != strlen(pc.name) ||
         strlen(pc.name) > 64))
        return cli_usage("profile", usage_profile,
                         "profile name '%s' is not "
                         "valid: use 1 to 64 letters, digits, '.', '_', '-' "
                         "or '@'",
                         pc.name);
    if (strcmp(pc.sub, "list") == 0 || strcmp(pc.sub, "show") == 0) {
        /* what a command would read: the user's file, then the system's */
        if ((rc = cli_config_open(cli, &cc, pc.config, 1)) != 0)
            goto out;
        rc = strcmp(pc.sub, "list") == 0 ? do_list(cli, &cc)
                                         : do_show(cli, &pc, &cc);
        goto out;
    }
    /* add and remove write one file: --config, ENTRAKEY_CONFIG, else the
     * user's (the system file is changed with --config) */
    path = pc.config;
    if (path == NULL && (env = getenv("ENTRAKEY_CONFIG")) != NULL &&
        env[0] != '\0')
        path = env;
    if (path == NULL) {
        if ((r = ek_config_default_path(cli->ctx, &defpath)) != EK_OK) {
            rc = cli_fail(cli, r);
            fprintf(stderr, "entrakey: give --config FILE\n");
            goto out;
        }
        path = defpath;
    }
    /* a missing file is an empty one */
    if ((r = ek_config_load(cli->ctx, path, 1, &cfg)) != EK_OK) {
        rc = cli_fail(cli, r);
        goto out;
    }
    if (strcmp(pc.sub, "add") == 0)
        rc = do_add(cli, &pc, cfg, path);
    else
        rc = do_remove(cli, &pc, cfg, path);
out:
    ek_config_free(&cfg);
    cli_config_free(&cc);
    ek_free(defpath);
    return rc;
}
