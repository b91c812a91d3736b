/* cmd_token.c: `entrakey token`, and the engine `entrakey exec` runs on
 * (cmd_exec.c passes its argv here): options, profile and environment, the
 * token request, the output formats, and the exec of the child. */
#include <errno.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"

#define TOKEN_OPTIONS_HELP                                                    \
    "KEY-URI is the private key's PKCS#11 URI (e.g. \"pkcs11:token=hsm;\n"   \
    "object=app;type=private\"); a profile's 'key' when not given.\n"        \
    "\n"                                                                      \
    "options:\n"                                                              \
    "  --tenant TENANT       directory (tenant) ID or domain\n"              \
    "                        (default: $AZURE_TENANT_ID, then the profile)\n" \
    "  --client-id APPID     the app's Application (client) ID\n"            \
    "                        (default: $AZURE_CLIENT_ID, then the profile)\n" \
    "  --resource NAME       exo (default), graph, arm or compliance: its\n" \
    "                        /.default scope in the cloud\n"                 \
    "  --scope SCOPE         the scope itself (e.g. URI/.default); instead\n"\
    "                        of --resource\n"                                 \
    "  --cloud NAME          global (default), usgov (GCC High), usgov-dod,\n"\
    "                        china\n"                                         \
    "  --authority-host URL  the login host (default: $AZURE_AUTHORITY_HOST,\n"\
    "                        the profile, else the cloud's); https only\n"   \
    "  --ca-file PEM         CA certificates to trust in addition to the\n"  \
    "                        system's (TLS is always verified)\n"            \
    "  --alg PS256|RS256     assertion signature (default PS256)\n"          \
    "  --cert FILE           the certificate (PEM or DER) to name in the\n"  \
    "                        assertion instead of the one on the token\n"    \
    "  --timeout SECONDS     per attempt, 1-600 (default 30); a timeout or\n"\
    "                        a lost connection is tried once more\n"         \
    "  --max-wait SECONDS    longest Retry-After wait honoured on HTTP\n"    \
    "                        429/503, 1-3600 (default 60)\n"                  \
    "  --organization DOMAIN the *.onmicrosoft.com domain (powershell\n"     \
    "                        format, ENTRAKEY_ORGANIZATION)\n"               \
    "  --profile NAME        take unset values from this profile\n"          \
    CLI_AGENT_HELP                                                            \
    "  --config FILE         the profiles file (default:\n"                  \
    "                        $XDG_CONFIG_HOME/entrakey/config)\n"            \
    "  --module PATH, --pin-source SRC, --allow-final-pin-try, -v: see\n"    \
    "                        entrakey --help\n"                               \
    "\n"                                                                      \
    "Precedence: options, then the environment (AZURE_TENANT_ID,\n"          \
    "AZURE_CLIENT_ID, AZURE_AUTHORITY_HOST, ENTRAKEY_MODULE), then the\n"    \
    "profile. Exit codes: 0 ok, 2 usage or config, 3 token, 4 PIN, 5 Entra\n"\
    "ID refused, 6 network, TLS, timeout or throttling, 7 file, 9\n"         \
    "certificate.\n"

static const char usage_token[] =
    "usage: entrakey token [KEY-URI] [--tenant TENANT] [--client-id APPID]\n"
    "           [--resource exo|graph|arm|compliance | --scope SCOPE]\n"
    "           [--cloud NAME] [--format raw|json|env|powershell] [options]\n"
    "\n"
    "Signs a client assertion with the key on the token and exchanges it at\n"
    "the Entra ID token endpoint (client credentials grant) for an access\n"
    "token, printed on stdout.\n"
    "\n"
    "  --format raw          the token and a newline (default)\n"
    "  --format json         access_token, token_type, expires_in,\n"
    "                        expires_on (epoch seconds), resource, tenant\n"
    "                        (--json is the same)\n"
    "  --format env          export ENTRAKEY_ACCESS_TOKEN='...' lines for sh\n"
    "  --format powershell   a Connect-ExchangeOnline -AccessToken command\n"
    "                        (Exchange Online tokens; needs --organization\n"
    "                        when the tenant is a GUID)\n"
    "\n" TOKEN_OPTIONS_HELP;

static const char usage_exec[] =
    "usage: entrakey exec [KEY-URI] [token options] -- COMMAND [ARGS...]\n"
    "\n"
    "Gets an access token as `entrakey token` does, then runs COMMAND (no\n"
    "shell) in its place with ENTRAKEY_ACCESS_TOKEN, ENTRAKEY_TENANT,\n"
    "ENTRAKEY_ORGANIZATION and ENTRAKEY_EXPIRES_ON in its environment. The\n"
    "token session is closed first; no PIN reaches the child, and the\n"
    "variable of --pin-source env:NAME is removed from its environment.\n"
    "The exit code is COMMAND's; 127 when it is not found, 126 when it\n"
    "cannot be run, else entrakey's own codes before it starts.\n"
    "\n"
    "Example: entrakey exec --profile prod -- pwsh -File ./job.ps1\n"
    "\n" TOKEN_OPTIONS_HELP;

enum {
    OPT_TENANT = OPT_CMD_BASE,
    OPT_CLIENT_ID,
    OPT_SCOPE,
    OPT_RESOURCE,
    OPT_CLOUD,
    OPT_AUTHORITY_HOST,
    OPT_CA_FILE,
    OPT_FORMAT,
    OPT_ALG,
    OPT_TIMEOUT,
    OPT_MAX_WAIT,
    OPT_PROFILE,
    OPT_CONFIG,
    OPT_ORGANIZATION,
    OPT_CERT,
    OPT_AGENT,
    OPT_NO_AGENT,
};

enum out_format { FMT_RAW, FMT_JSON, FMT_ENV, FMT_POWERSHELL };

struct token_cmd {
    const char *cmd;   /* "token" or "exec" */
    const char *usage;
    int exec;
    /* as given */
    const char *key_uri, *tenant, *client_id, *scope, *resource, *cloud;
    const char *authority_host, *ca_file, *format, *alg, *profile, *config;
    const char *organization, *cert_file;
    unsigned timeout, max_wait;
    int agent_mode;    /* -1 --no-agent, 0 default, 1 --agent */
    char *agent_sock;  /* the agent that served the token, or NULL */
    char **child; /* exec: COMMAND ARGS..., NULL-terminated */
    /* resolved */
    struct ek_config *cfg;
    char *authority_buf; /* AZURE_AUTHORITY_HOST with https:// added */
    enum ek_cloud cloud_v;
    enum ek_resource resource_v;
    enum ek_alg alg_v;
    enum out_format fmt;
};

/* The profile's value of key, or NULL. */
static const char *
prof(const struct token_cmd *t, const char *key)
{
    const char *v;

    if (t->cfg == NULL || t->profile == NULL)
        return NULL;
    v = ek_config_get(t->cfg, t->profile, key);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

/* The first value set: an option, then the environment, then the profile. */
static const char *
pick(const char *flag, const char *env, const char *profile_value)
{
    const char *e;

    if (flag != NULL)
        return flag;
    if (env != NULL && (e = getenv(env)) != NULL && e[0] != '\0')
        return e;
    return profile_value;
}

static int
parse_args(struct cli *cli, struct token_cmd *t, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"tenant", required_argument, NULL, OPT_TENANT},
        {"client-id", required_argument, NULL, OPT_CLIENT_ID},
        {"scope", required_argument, NULL, OPT_SCOPE},
        {"resource", required_argument, NULL, OPT_RESOURCE},
        {"cloud", required_argument, NULL, OPT_CLOUD},
        {"authority-host", required_argument, NULL, OPT_AUTHORITY_HOST},
        {"ca-file", required_argument, NULL, OPT_CA_FILE},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"alg", required_argument, NULL, OPT_ALG},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"max-wait", required_argument, NULL, OPT_MAX_WAIT},
        {"profile", required_argument, NULL, OPT_PROFILE},
        {"config", required_argument, NULL, OPT_CONFIG},
        {"organization", required_argument, NULL, OPT_ORGANIZATION},
        {"cert", required_argument, NULL, OPT_CERT},
        {"agent", no_argument, NULL, OPT_AGENT},
        {"no-agent", no_argument, NULL, OPT_NO_AGENT},
        {NULL, 0, NULL, 0},
    };
    int c, rc, nargs = argc, i;

    if (t->exec) {
        /* options end at "--"; what follows is the child's, untouched */
        for (i = 1; i < argc; i++)
            if (strcmp(argv[i], "--") == 0)
                break;
        if (i == argc) {
            for (i = 1; i < argc; i++)
                if (strcmp(argv[i], "-h") == 0 ||
                    strcmp(argv[i], "--help") == 0) {
                    fputs(t->usage, stdout);
                    exit(CLI_EXIT_OK);
                }
            return cli_usage(t->cmd, t->usage, "no command: put -- before "
                             "the command to run");
        }
        nargs = i;
    }
    opterr = 1;
    while ((c = getopt_long(nargs, argv, CLI_COMMON_SHORTOPTS, longopts,
                            NULL)) != -1) {
        switch (c) {
        case OPT_TENANT:
            t->tenant = optarg;
            break;
        case OPT_CLIENT_ID:
            t->client_id = optarg;
            break;
        case OPT_SCOPE:
            t->scope = optarg;
            break;
        case OPT_RESOURCE:
            t->resource = optarg;
            break;
        case OPT_CLOUD:
            t->cloud = optarg;
            break;
        case OPT_AUTHORITY_HOST:
            t->authority_host = optarg;
            break;
        case OPT_CA_FILE:
            t->ca_file = optarg;
            break;
        case OPT_FORMAT:
            t->format = optarg;
            break;
        case OPT_ALG:
            t->alg = optarg;
            break;
        case OPT_TIMEOUT:
            if (cli_parse_uint(optarg, 1, 600, &t->timeout) != 0)
                return cli_usage(t->cmd, t->usage, "--timeout '%s' is not a "
                                 "number of seconds from 1 to 600", optarg);
            break;
        case OPT_MAX_WAIT:
            if (cli_parse_uint(optarg, 1, 3600, &t->max_wait) != 0)
                return cli_usage(t->cmd, t->usage, "--max-wait '%s' is not "
                                 "a number of seconds from 1 to 3600",
                                 optarg);
            break;
        case OPT_PROFILE:
            t->profile = optarg;
            break;
        case OPT_CONFIG:
            t->config = optarg;
            break;
        case OPT_ORGANIZATION:
            t->organization = optarg;
            break;
        case OPT_CERT:
            t->cert_file = optarg;
            break;
        case OPT_AGENT:
            t->agent_mode = 1;
            break;
        case OPT_NO_AGENT:
            t->agent_mode = -1;
            break;
        default:
            rc = cli_common_opt(cli, c, optarg, t->cmd, t->usage);
            if (rc != 0)
                return rc > 0 ? rc : cli_usage(t->cmd, t->usage,
                                               "invalid arguments");
        }
    }
    if (optind < nargs)
        t->key_uri = argv[optind++];
    if (optind < nargs)
        return cli_usage(t->cmd, t->usage, "unexpected argument '%s'%s",
                         argv[optind], t->exec ? "; put -- before the "
                         "command to run" : "");
    if (t->agent_mode > 0 && t->cert_file != NULL)
        return cli_usage(t->cmd, t->usage, "--cert needs the direct path: "
                         "the agent names the certificate on the token");
    if (t->exec) {
        if (nargs >= argc || nargs + 1 >= argc)
            return cli_usage(t->cmd, t->usage, "no command to run: give "
                             "-- COMMAND [ARGS...]");
        t->child = argv + nargs + 1;
        if (cli->json)
            return cli_usage(t->cmd, t->usage, "--json has no meaning for "
                             "exec");
    }
    return 0;
}

/* Loads the profile, merges, and checks everything that can be checked
 * before the token is touched (no PIN is asked for a doomed request). */
static int
resolve(struct cli *cli, struct token_cmd *t)
{
    char *path = NULL;
    const char *v;
    size_t n;
    ek_err r;

    if (t->profile != NULL) {
        if (t->config == NULL) {
            if ((r = ek_config_default_path(cli->ctx, &path)) != EK_OK)
                return cli_fail(cli, r);
        }
        r = ek_config_load(cli->ctx, t->config != NULL ? t->config : path, 0,
                           &t->cfg);
        if (r != EK_OK) {
            ek_free(path);
            return cli_fail(cli, r);
        }
        if (ek_config_get(t->cfg, t->profile, "tenant") == NULL) {
            /* is there such a profile at all? */
            for (n = 0; n < ek_config_profile_count(t->cfg); n++)
                if (strcmp(ek_config_profile_name(t->cfg, n), t->profile) ==
                    0)
                    break;
            if (n == ek_config_profile_count(t->cfg)) {
                fprintf(stderr, "entrakey %s: no profile '%s' in %s; see "
                        "`entrakey profile list`\n", t->cmd, t->profile,
                        t->config != NULL ? t->config : path);
                ek_free(path);
                return CLI_EXIT_USAGE;
            }
        }
        /* messages about the module say where it came from */
        if (cli->module == NULL && getenv("ENTRAKEY_MODULE") == NULL &&
            prof(t, "module") != NULL) {
            char origin[PATH_MAX + 128];

            snprintf(origin, sizeof origin, "module = in profile '%s' of %s",
                     t->profile, t->config != NULL ? t->config : path);
            if ((r = ek_ctx_set_module_origin(cli->ctx, origin)) != EK_OK) {
                ek_free(path);
                return cli_fail(cli, r);
            }
        }
        ek_free(path);
    }
    t->key_uri = pick(t->key_uri, NULL, prof(t, "key"));
    t->tenant = pick(t->tenant, "AZURE_TENANT_ID", prof(t, "tenant"));
    t->client_id = pick(t->client_id, "AZURE_CLIENT_ID", prof(t, "client_id"));
    t->authority_host = pick(t->authority_host, "AZURE_AUTHORITY_HOST",
                             prof(t, "authority_host"));
    t->organization = pick(t->organization, NULL, prof(t, "organization"));
    t->ca_file = pick(t->ca_file, NULL, prof(t, "ca_file"));
    t->alg = pick(t->alg, NULL, prof(t, "alg"));
    t->cloud = pick(t->cloud, NULL, prof(t, "cloud"));
    if (t->scope == NULL && t->resource == NULL) {
        t->scope = prof(t, "scope");
        if (t->scope == NULL)
            t->resource = prof(t, "resource");
    }
    if (cli->module == NULL && getenv("ENTRAKEY_MODULE") == NULL)
        cli->module = prof(t, "module");
    if (cli->pin_source == NULL)
        cli->pin_source = prof(t, "pin_source");

    if (t->scope != NULL && t->resource != NULL)
        return cli_usage(t->cmd, t->usage, "give --scope or --resource, "
                         "not both");
    if (t->config != NULL && t->profile == NULL)
        return cli_usage(t->cmd, t->usage, "--config is read for --profile "
                         "NAME; give both");
    if (t->key_uri == NULL)
        return cli_usage(t->cmd, t->usage, "no key: give KEY-URI (see "
                         "`entrakey keys`) or a profile with key = URI");
    if (t->tenant == NULL)
        return cli_usage(t->cmd, t->usage, "no tenant: give --tenant, "
                         "AZURE_TENANT_ID, or a profile with tenant =");
    if (t->client_id == NULL)
        return cli_usage(t->cmd, t->usage, "no client id: give --client-id, "
                         "AZURE_CLIENT_ID, or a profile with client_id =");
    t->cloud_v = EK_CLOUD_GLOBAL;
    if (t->cloud != NULL && ek_cloud_parse(t->cloud, &t->cloud_v) != EK_OK)
        return cli_usage(t->cmd, t->usage, "cloud '%s' is not one of global, "
                         "usgov, usgov-dod, china", t->cloud);
    t->resource_v = EK_RESOURCE_EXO;
    if (t->resource != NULL &&
        ek_resource_parse(t->resource, &t->resource_v) != EK_OK)
        return cli_usage(t->cmd, t->usage, "resource '%s' is not one of exo, "
                         "graph, arm, compliance", t->resource);
    t->alg_v = EK_ALG_PS256;
    if (t->alg != NULL) {
        if (strcasecmp(t->alg, "PS256") == 0)
            t->alg_v = EK_ALG_PS256;
        else if (strcasecmp(t->alg, "RS256") == 0)
            t->alg_v = EK_ALG_RS256;
        else
            return cli_usage(t->cmd, t->usage, "alg '%s' is not PS256 or "
                             "RS256", t->alg);
    }
    if (t->authority_host != NULL && strstr(t->authority_host, "://") ==
                                         NULL) {
        /* AZURE_AUTHORITY_HOST may be a bare host, as in the Azure SDKs */
        n = strlen(t->authority_host) + sizeof "https://";
        if ((t->authority_buf = malloc(n)) == NULL) {
            fprintf(stderr, "entrakey: out of memory\n");
            return CLI_EXIT_INTERNAL;
        }
        snprintf(t->authority_buf, n, "https://%s", t->authority_host);
        t->authority_host = t->authority_buf;
    }
    if (t->format == NULL || strcmp(t->format, "raw") == 0)
        t->fmt = cli->json ? FMT_JSON : FMT_RAW;
    else if (strcmp(t->format, "json") == 0)
        t->fmt = FMT_JSON;
    else if (strcmp(t->format, "env") == 0)
        t->fmt = FMT_ENV;
    else if (strcmp(t->format, "powershell") == 0)
        t->fmt = FMT_POWERSHELL;
    else
        return cli_usage(t->cmd, t->usage, "format '%s' is not one of raw, "
                         "json, env, powershell", t->format);
    if (cli->json && t->fmt != FMT_JSON)
        return cli_usage(t->cmd, t->usage, "--json and --format %s "
                         "disagree", t->format);
    if (t->organization == NULL && strchr(t->tenant, '.') != NULL)
        t->organization = t->tenant;
    if (t->fmt == FMT_POWERSHELL) {
        v = ek_cloud_scope(t->cloud_v, EK_RESOURCE_EXO);
        if ((t->scope != NULL && (v == NULL || strcmp(t->scope, v) != 0)) ||
            (t->scope == NULL && t->resource_v != EK_RESOURCE_EXO))
            return cli_usage(t->cmd, t->usage, "--format powershell prints "
                             "Connect-ExchangeOnline, which needs an "
                             "Exchange Online token: use --resource exo");
        if (t->organization == NULL)
            return cli_usage(t->cmd, t->usage, "--format powershell needs "
                             "the organization for Connect-ExchangeOnline "
                             "-Organization: the tenant '%s' is a GUID, so "
                             "give --organization contoso.onmicrosoft.com "
                             "(the tenant's *.onmicrosoft.com domain)",
                             t->tenant);
    }
    if (t->organization != NULL && (t->organization[0] == '\0' ||
                                    strpbrk(t->organization, "'\"` \t\n;$")))
        return cli_usage(t->cmd, t->usage, "organization '%s' is not a "
                         "domain name", t->organization);
    return 0;
}

/* Writes s in single quotes for sh ('\'' for a quote) or PowerShell. The
 * PowerShell language specification (2.3.5.2, verbatim strings) ends a
 * single-quoted string at any single-quote-character: ' and U+2018 to
 * U+201B; each is doubled, as '' is, so that none ends the string. */
static void
put_quoted(const char *s, int powershell)
{
    const unsigned char *p = (const unsigned char *)s;

    putchar('\'');
    for (; *p != '\0'; p++) {
        if (*p == '\'') {
            fputs(powershell ? "''" : "'\\''", stdout);
        } else if (powershell && p[0] == 0xe2 && p[1] == 0x80 &&
                   p[2] >= 0x98 && p[2] <= 0x9b) {
            fwrite(p, 1, 3, stdout);
            fwrite(p, 1, 3, stdout);
            p += 2;
        } else {
            putchar(*p);
        }
    }
    putchar('\'');
}

static int
print_json_token(const struct token_cmd *t, const struct ek_access_token *at)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON *tok;
    char *s = NULL;
    int rc = CLI_EXIT_INTERNAL;

    if (doc == NULL ||
        (tok = cJSON_AddStringToObject(doc, "access_token",
                                       ek_access_token_value(at))) == NULL ||
        cJSON_AddStringToObject(doc, "token_type",
                                ek_access_token_type(at)) == NULL ||
        cJSON_AddNumberToObject(doc, "expires_in",
                                (double)ek_access_token_expires_in(at)) ==
            NULL ||
        cJSON_AddNumberToObject(doc, "expires_on",
                                (double)ek_access_token_expires_on(at)) ==
            NULL ||
        cJSON_AddStringToObject(doc, "resource",
                                ek_access_token_scope(at)) == NULL ||
        cJSON_AddStringToObject(doc, "tenant", t->tenant) == NULL ||
        (s = cJSON_Print(doc)) == NULL) {
        fprintf(stderr, "entrakey: out of memory\n");
        goto out;
    }
    printf("%s\n", s);
    rc = CLI_EXIT_OK;
out:
    /* the token's copies in the tree and the text are wiped */
    if (s != NULL) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
    if (doc != NULL) {
        tok = cJSON_GetObjectItemCaseSensitive(doc, "access_token");
        if (cJSON_IsString(tok) && tok->valuestring != NULL)
            explicit_bzero(tok->valuestring, strlen(tok->valuestring));
        cJSON_Delete(doc);
    }
    return rc;
}

static int
print_token(const struct token_cmd *t, const struct ek_access_token *at)
{
    const char *env;
    int rc = CLI_EXIT_OK;

    switch (t->fmt) {
    case FMT_RAW:
        printf("%s\n", ek_access_token_value(at));
        break;
    case FMT_JSON:
        rc = print_json_token(t, at);
        break;
    case FMT_ENV:
        fputs("export ENTRAKEY_ACCESS_TOKEN=", stdout);
        put_quoted(ek_access_token_value(at), 0);
        fputs("\nexport ENTRAKEY_TENANT=", stdout);
        put_quoted(t->tenant, 0);
        printf("\nexport ENTRAKEY_EXPIRES_ON='%lld'\n",
               (long long)ek_access_token_expires_on(at));
        if (t->organization != NULL) {
            fputs("export ENTRAKEY_ORGANIZATION=", stdout);
            put_quoted(t->organization, 0);
            putchar('\n');
        }
        break;
    case FMT_POWERSHELL:
        fputs("Connect-ExchangeOnline -AccessToken ", stdout);
        put_quoted(ek_access_token_value(at), 1);
        fputs(" -Organization ", stdout);
        put_quoted(t->organization, 1);
        env = ek_cloud_exo_environment(t->cloud_v);
        if (t->cloud_v != EK_CLOUD_GLOBAL)
            printf(" -ExchangeEnvironmentName %s", env);
        putchar('\n');
        break;
    }
    if (rc == CLI_EXIT_OK && (fflush(stdout) != 0 || ferror(stdout))) {
        fprintf(stderr, "entrakey: cannot write the token to stdout: %s\n",
                strerror(errno));
        rc = CLI_EXIT_FILE;
    }
    return rc;
}

/* After a failed request: the clock, if it is far off the server's. */
static void
note_skew(struct cli *cli)
{
    long long skew = (long long)ek_ctx_clock_skew(cli->ctx);

    if (skew > 120 || skew < -120)
        fprintf(stderr, "entrakey: note: this machine's clock is %lld s %s "
                "the token endpoint's (its HTTP Date); Entra ID refuses "
                "assertions outside their time window (AADSTS700024): set "
                "the clock right (NTP)\n", skew > 0 ? skew : -skew,
                skew > 0 ? "behind" : "ahead of");
}

/* Replaces the process with the child; returns only on failure. */
static int
exec_child(struct cli *cli, struct token_cmd *t, struct ek_access_token **atp,
           struct ek_key **keyp, struct ek_cert **certp)
{
    char expires[32];
    const char *src = cli->pin_source;
    char pin_var[256] = "";
    int pin_fd = -1, e;

    if (src != NULL && strncmp(src, "env:", 4) == 0)
        snprintf(pin_var, sizeof pin_var, "%s", src + 4);
    if (src != NULL && strncmp(src, "fd:", 3) == 0)
        pin_fd = (int)strtol(src + 3, NULL, 10); /* checked by cli_apply */
    snprintf(expires, sizeof expires, "%lld",
             (long long)ek_access_token_expires_on(*atp));
    if (setenv("ENTRAKEY_ACCESS_TOKEN", ek_access_token_value(*atp), 1) !=
            0 ||
        setenv("ENTRAKEY_TENANT", t->tenant, 1) != 0 ||
        setenv("ENTRAKEY_EXPIRES_ON", expires, 1) != 0 ||
        (t->organization != NULL
             ? setenv("ENTRAKEY_ORGANIZATION", t->organization, 1)
             : unsetenv("ENTRAKEY_ORGANIZATION")) != 0) {
        fprintf(stderr, "entrakey: cannot set the environment: %s\n",
                strerror(errno));
        return CLI_EXIT_INTERNAL;
    }
    /* with --agent the child can ask the agent again (never a PIN) */
    if (t->agent_mode > 0 && t->agent_sock != NULL &&
        setenv("ENTRAKEY_AGENT_SOCK", t->agent_sock, 1) != 0) {
        fprintf(stderr, "entrakey: cannot set the environment: %s\n",
                strerror(errno));
        return CLI_EXIT_INTERNAL;
    }
    /* no PIN and no PIN source reaches the child */
    if (pin_var[0] != '\0')
        unsetenv(pin_var);
    if (pin_fd > 2)
        close(pin_fd);
    /* close the token session before exec: sessions do not survive it */
    ek_access_token_free(atp);
    ek_cert_free(certp);
    ek_key_free(keyp);
    ek_config_free(&t->cfg);
    ek_ctx_free(&cli->ctx);
    fflush(stdout);
    fflush(stderr);
    execvp(t->child[0], t->child);
    e = errno;
    if (e == ENOENT) {
        fprintf(stderr, "entrakey exec: cannot run '%s': command not found\n",
                t->child[0]);
        return 127;
    }
    fprintf(stderr, "entrakey exec: cannot run '%s': %s%s\n", t->child[0],
            strerror(e), e == EACCES || e == ENOEXEC
                             ? " (is it an executable file?)" : "");
    return 126;
}

static int
token_main(struct cli *cli, int argc, char **argv, int exec)
{
    struct token_cmd t;
    struct ek_access_token_params p;
    struct ek_key *key = NULL;
    struct ek_cert *cert = NULL;
    struct ek_access_token *at = NULL;
    int rc;
    ek_err r;

    memset(&t, 0, sizeof t);
    t.exec = exec;
    t.cmd = exec ? "exec" : "token";
    t.usage = exec ? usage_exec : usage_token;
    if ((rc = parse_args(cli, &t, argc, argv)) != 0)
        goto out;
    if ((rc = resolve(cli, &t)) != 0)
        goto out;
    if ((rc = cli_apply(cli)) != 0)
        goto out;
    if (t.cert_file != NULL &&
        (r = ek_cert_load_file(cli->ctx, t.cert_file, &cert)) != EK_OK) {
        rc = cli_fail(cli, r);
        goto out;
    }
    memset(&p, 0, sizeof p);
    p.assertion.tenant = t.tenant;
    p.assertion.client_id = t.client_id;
    p.assertion.cloud = t.cloud_v;
    p.assertion.authority_host = t.authority_host;
    p.assertion.alg = t.alg_v;
    p.assertion.cert = cert;
    p.scope = t.scope;
    p.resource = t.resource_v;
    p.ca_file = t.ca_file;
    p.timeout = t.timeout;
    p.max_wait = t.max_wait;
    if (t.cert_file == NULL &&
        (rc = cli_agent_sock(cli, t.agent_mode, &t.agent_sock)) != 0)
        goto out;
    if (t.agent_sock != NULL) {
        r = ek_agent_token(cli->ctx, t.agent_sock, t.key_uri, &p, 0, &at);
        if ((rc = cli_agent_fallback(cli, t.agent_mode, t.agent_sock, r)) >
            0)
            goto out;
        if (rc == 0)
            goto got;
        rc = 0;
    }
    if ((r = ek_key_open(cli->ctx, t.key_uri, &key)) != EK_OK) {
        rc = cli_fail(cli, r);
        goto out;
    }
    if ((r = ek_access_token_acquire(cli->ctx, key, &p, &at)) != EK_OK) {
        rc = cli_fail(cli, r);
        note_skew(cli);
        goto out;
    }
got:
    if (exec)
        rc = exec_child(cli, &t, &at, &key, &cert);
    else
        rc = print_token(&t, at);
out:
    ek_access_token_free(&at);
    ek_cert_free(&cert);
    ek_key_free(&key);
    ek_config_free(&t.cfg);
    free(t.authority_buf);
    ek_free(t.agent_sock);
    return rc;
}

int
cmd_token(struct cli *cli, int argc, char **argv)
{
    /* `entrakey exec` is this command plus the exec (see cmd_exec.c) */
    return token_main(cli, argc, argv, strcmp(argv[0], "exec") == 0);
}
