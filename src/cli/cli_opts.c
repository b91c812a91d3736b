/* cli_opts.c: the options of every command that signs (assert, token,
 * exec): parsing, the configuration files, and one precedence rule —
 * options > a named profile > the environment > the default profile. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "cli_audit.h"

#ifndef EK_SYSTEM_CONFIG
#define EK_SYSTEM_CONFIG "/etc/entrakey/config"
#endif

/* The profile key of each field, and the variable of the environment
 * level (NULL: no such variable). */
static const struct {
    const char *key;
    const char *env;
    const char *flag;
} fields[CLI_SF_COUNT] = {
    [CLI_SF_KEY] = {"key", NULL, "KEY-URI"},
    [CLI_SF_TENANT] = {"tenant", "AZURE_TENANT_ID", "--tenant"},
    [CLI_SF_CLIENT_ID] = {"client_id", "AZURE_CLIENT_ID", "--client-id"},
    [CLI_SF_MODULE] = {"module", "ENTRAKEY_MODULE", "--module"},
    [CLI_SF_PIN_SOURCE] = {"pin_source", NULL, "--pin-source"},
    [CLI_SF_CLOUD] = {"cloud", NULL, "--cloud"},
    [CLI_SF_RESOURCE] = {"resource", NULL, "--resource"},
    [CLI_SF_SCOPE] = {"scope", NULL, "--scope"},
    [CLI_SF_ALG] = {"alg", NULL, "--alg"},
    [CLI_SF_ORGANIZATION] = {"organization", NULL, "--organization"},
    [CLI_SF_AUTHORITY_HOST] = {"authority_host", "AZURE_AUTHORITY_HOST",
                               "--authority-host"},
    [CLI_SF_CA_FILE] = {"ca_file", NULL, "--ca-file"},
    [CLI_SF_AUDIT] = {"audit", NULL, "--audit"},
};

int
cli_alg_parse(const char *s, enum ek_alg *alg)
{
    /* the library's JOSE names, and the X.509 words of --sig */
    if (ek_alg_parse(s, alg) == EK_OK)
        return 0;
    if (strcasecmp(s, "rsa-pss") == 0)
        *alg = EK_ALG_PS256;
    else if (strcasecmp(s, "rsa-pkcs1") == 0)
        *alg = EK_ALG_RS256;
    else
        return -1;
    return 0;
}

/* ------------------------------------------------------ the config files */

void
cli_config_free(struct cli_config *cc)
{
    size_t i;

    for (i = 0; i < cc->n; i++) {
        ek_config_free(&cc->file[i].cfg);
        free(cc->file[i].path);
        cc->file[i].path = NULL;
    }
    cc->n = 0;
    free(cc->no_user);
    cc->no_user = NULL;
}

/* Loads path into the next slot; missing_ok for the search list. When
 * !strict, a file that cannot be used is skipped with a warning. */
static int
config_add(struct cli *cli, struct cli_config *cc, const char *path,
           int missing_ok, int strict)
{
    struct cli_config_file *f = &cc->file[cc->n];
    ek_err r;

    if ((f->path = strdup(path)) == NULL) {
        fprintf(stderr, "entrakey: out of memory\n");
        return CLI_EXIT_INTERNAL;
    }
    r = ek_config_load(cli->ctx, path, missing_ok, &f->cfg);
    if (r != EK_OK) {
        free(f->path);
        f->path = NULL;
        if (strict)
            return cli_fail(cli, r);
        cli_warn("%s; the file was not read", ek_ctx_errmsg(cli->ctx));
        return 0;
    }
    cc->n++;
    return 0;
}

int
cli_config_open(struct cli *cli, struct cli_config *cc, const char *config,
                int strict)
{
    const char *sys, *env;
    char *user = NULL;
    int rc;

    memset(cc, 0, sizeof *cc);
    env = getenv("ENTRAKEY_CONFIG");
    if (config == NULL && env != NULL && env[0] != '\0') {
        config = env;
        cc->named_by = "ENTRAKEY_CONFIG";
    } else if (config != NULL) {
        cc->named_by = "--config";
    }
    if (config != NULL) {
        /* a file named is the only file read, and must be there */
        cc->single = 1;
        return config_add(cli, cc, config, !strict, 1);
    }
    if (ek_config_default_path(cli->ctx, &user) == EK_OK) {
        rc = config_add(cli, cc, user, 1, strict);
        ek_free(user);
        if (rc != 0)
            return rc;
    } else if ((cc->no_user = strdup(ek_ctx_errmsg(cli->ctx))) == NULL) {
        fprintf(stderr, "entrakey: out of memory\n");
        return CLI_EXIT_INTERNAL;
    }
    /* for the tests only (docs/entrakey.1): the system file's path */
    sys = getenv("ENTRAKEY_SYSTEM_CONFIG");
    if (sys == NULL)
        sys = EK_SYSTEM_CONFIG;
    if (sys[0] != '\0')
        return config_add(cli, cc, sys, 1, strict);
    return 0;
}

int
cli_config_has(const struct ek_config *cfg, const char *profile)
{
    const char *p;
    size_t i;

    for (i = 0; cfg != NULL && i < ek_config_profile_count(cfg); i++)
        if ((p = ek_config_profile_name(cfg, i)) != NULL &&
            strcmp(p, profile) == 0)
            return 1;
    return 0;
}

const struct cli_config_file *
cli_config_find(const struct cli_config *cc, const char *profile)
{
    size_t i;

    /* per profile: the first file that has it (the user's) holds it all */
    for (i = 0; i < cc->n; i++)
        if (cli_config_has(cc->file[i].cfg, profile))
            return &cc->file[i];
    return NULL;
}

void
cli_config_no_profile(const struct cli_config *cc, const char *cmd,
                      const char *profile)
{
    size_t i;

    fprintf(stderr, "entrakey %s: no profile '%s' in ", cmd, profile);
    if (cc->n == 0)
        fputs("any configuration file", stderr);
    for (i = 0; i < cc->n; i++)
        fprintf(stderr, "%s%s", i > 0 ? " or " : "", cc->file[i].path);
    if (cc->no_user != NULL)
        fprintf(stderr, " (%s; give --config FILE)", cc->no_user);
    fputs("; see `entrakey profile list`\n", stderr);
}

/* ------------------------------------------------------------- options */

void
cli_sign_init(struct cli_sign *s, const char *cmd)
{
    memset(s, 0, sizeof *s);
    s->cmd = cmd;
}

int
cli_sign_args(struct cli *cli, struct cli_sign *s, int nargs, char **argv,
              const struct cli_sign_cmd *cmd)
{
    int c, rc;

    while ((c = cli_getopt(nargs, argv, CLI_COMMON_SHORTOPTS, cmd->longopts,
                           s->cmd)) != -1) {
        if (c == 'h') {
            fputs(cmd->usage, stdout);
            return -1;
        }
        rc = cmd->own != NULL ? cmd->own(cmd->arg, c, optarg) : -1;
        if (rc < 0)
            rc = cli_sign_opt(s, c, optarg);
        if (rc < 0)
            rc = cli_common_opt(cli, c, optarg, s->cmd, cmd->usage);
        if (rc < 0)
            rc = cli_usage(s->cmd, NULL, "unexpected option");
        if (rc != 0)
            return rc;
    }
    if (optind < nargs)
        s->val[CLI_SF_KEY] = argv[optind++];
    if (optind < nargs)
        return cli_usage(s->cmd, NULL, "unexpected argument '%s'%s%s",
                         argv[optind], cmd->extra != NULL ? "; " : "",
                         cmd->extra != NULL ? cmd->extra : "");
    return 0;
}

int
cli_sign_opt(struct cli_sign *s, int c, const char *arg)
{
    enum cli_sign_field f;

    switch (c) {
    case OPT_S_TENANT:
        f = CLI_SF_TENANT;
        break;
    case OPT_S_CLIENT_ID:
        f = CLI_SF_CLIENT_ID;
        break;
    case OPT_S_SCOPE:
        f = CLI_SF_SCOPE;
        break;
    case OPT_S_RESOURCE:
        f = CLI_SF_RESOURCE;
        break;
    case OPT_S_CLOUD:
        f = CLI_SF_CLOUD;
        break;
    case OPT_S_AUTHORITY_HOST:
        f = CLI_SF_AUTHORITY_HOST;
        break;
    case OPT_S_CA_FILE:
        f = CLI_SF_CA_FILE;
        break;
    case OPT_S_AUDIT:
        f = CLI_SF_AUDIT;
        break;
    case OPT_S_ALG:
        f = CLI_SF_ALG;
        break;
    case OPT_S_ORGANIZATION:
        f = CLI_SF_ORGANIZATION;
        break;
    case OPT_S_PROFILE:
        s->profile = arg;
        return 0;
    case OPT_S_CONFIG:
        s->config = arg;
        return 0;
    case OPT_S_CERT:
        s->cert_file = arg;
        return 0;
    case OPT_S_AGENT:
        s->agent_mode = 1;
        return 0;
    case OPT_S_NO_AGENT:
        s->agent_mode = -1;
        return 0;
    case OPT_S_TIMEOUT:
        if (cli_parse_uint(arg, 1, 600, &s->timeout) != 0)
            return cli_usage(s->cmd, NULL,
                             "--timeout '%s' is not a number "
                             "of seconds from 1 to 600",
                             arg);
        return 0;
    case OPT_S_MAX_WAIT:
        if (cli_parse_uint(arg, 1, 3600, &s->max_wait) != 0)
            return cli_usage(s->cmd, NULL,
                             "--max-wait '%s' is not a number "
                             "of seconds from 1 to 3600",
                             arg);
        return 0;
    case OPT_S_LIFETIME:
        if (cli_parse_uint(arg, 0, 3600, &s->lifetime) != 0)
            return cli_usage(s->cmd, NULL,
                             "--lifetime '%s' is not a number "
                             "of seconds up to 3600 (Entra ID asks for 5-10 "
                             "minutes; 0 means 600)",
                             arg);
        return 0;
    default:
        return -1;
    }
    s->val[f] = arg;
    s->origin[f] = CLI_FROM_FLAG;
    return 0;
}

/* Takes the unset values from profile p of file f at level origin. */
static void
take_profile(struct cli_sign *s, const struct cli_config_file *f, const char *p,
             enum cli_origin origin)
{
    const char *v;
    int i;

    for (i = 0; i < CLI_SF_COUNT; i++) {
        if (s->val[i] != NULL)
            continue;
        /* scope and resource are one choice: an option for either wins */
        if ((i == CLI_SF_SCOPE && s->origin[CLI_SF_RESOURCE] != 0 &&
             s->origin[CLI_SF_RESOURCE] < origin) ||
            (i == CLI_SF_RESOURCE && s->origin[CLI_SF_SCOPE] != 0 &&
             s->origin[CLI_SF_SCOPE] < origin))
            continue;
        v = ek_config_get(f->cfg, p, fields[i].key);
        if (v == NULL || v[0] == '\0')
            continue;
        s->val[i] = v;
        s->origin[i] = origin;
    }
}

static void
take_env(struct cli_sign *s)
{
    const char *v;
    int i;

    for (i = 0; i < CLI_SF_COUNT; i++) {
        if (s->val[i] != NULL || fields[i].env == NULL)
            continue;
        v = getenv(fields[i].env);
        if (v == NULL || v[0] == '\0')
            continue;
        s->val[i] = v;
        s->origin[i] = CLI_FROM_ENV;
    }
}

/* Writes uri to stderr with the value of each pin-value= replaced. */
static void
put_redacted_uri(const char *uri)
{
    const char *p = uri, *hit, *end;

    while ((hit = strstr(p, "pin-value=")) != NULL) {
        (void)fwrite(p, 1, (size_t)(hit - p), stderr);
        fputs("pin-value=(hidden)", stderr);
        end = hit + strlen("pin-value=");
        end += strcspn(end, ";?&");
        p = end;
    }
    fputs(p, stderr);
}

const char *
cli_sign_origin(const struct cli_sign *s, enum cli_sign_field f, char *buf,
                size_t len)
{
    switch (s->origin[f]) {
    case CLI_FROM_FLAG:
        snprintf(buf, len, "%s",
                 f == CLI_SF_KEY ? "the command line" : fields[f].flag);
        break;
    case CLI_FROM_PROFILE:
        snprintf(buf, len, "profile %s in %s", s->profile, s->profile_file);
        break;
    case CLI_FROM_ENV:
        snprintf(buf, len, "environment %s", fields[f].env);
        break;
    case CLI_FROM_DEFAULT_PROFILE:
        snprintf(buf, len, "default profile in %s", s->profile_file);
        break;
    default:
        snprintf(buf, len, "built-in default");
        break;
    }
    return buf;
}

/* -v: each value and where it came from (never a PIN source's value,
 * never a URI's pin-value). */
static void
say_origins(const struct cli_sign *s)
{
    char buf[512];
    int i;

    if (s->profile != NULL)
        fprintf(stderr, "entrakey: profile %s from %s%s%s%s\n", s->profile,
                s->profile_file, s->profile_named ? " (named by " : "",
                s->profile_named ? s->profile_via : "",
                s->profile_named ? ")" : "");
    for (i = 0; i < CLI_SF_COUNT; i++) {
        if (s->val[i] == NULL)
            continue;
        fprintf(stderr, "entrakey: %s = ", fields[i].key);
        if (i == CLI_SF_PIN_SOURCE)
            fputs("(not shown)", stderr);
        else if (i == CLI_SF_KEY)
            put_redacted_uri(s->val[i]);
        else
            fputs(s->val[i], stderr);
        fprintf(stderr, " (from %s)\n", cli_sign_origin(s, i, buf, sizeof buf));
    }
}

int
cli_sign_resolve(struct cli *cli, struct cli_sign *s)
{
    const struct cli_config_file *f = NULL;
    const char *env;
    size_t n;
    int rc;

    /* the common options that are fields of a profile */
    if (cli->module != NULL) {
        s->val[CLI_SF_MODULE] = cli->module;
        s->origin[CLI_SF_MODULE] = CLI_FROM_FLAG;
    }
    if (cli->pin_source != NULL) {
        s->val[CLI_SF_PIN_SOURCE] = cli->pin_source;
        s->origin[CLI_SF_PIN_SOURCE] = CLI_FROM_FLAG;
    }
    if (s->val[CLI_SF_KEY] != NULL)
        s->origin[CLI_SF_KEY] = CLI_FROM_FLAG;
    s->profile_via = "--profile";
    env = getenv("ENTRAKEY_PROFILE");
    if (s->profile == NULL && env != NULL && env[0] != '\0') {
        s->profile = env;
        s->profile_via = "ENTRAKEY_PROFILE";
    }
    s->profile_named = s->profile != NULL;
    /* a named profile must be there; the default one may be missing, and
     * then an unreadable file does not stop a command given everything */
    if ((rc = cli_config_open(cli, &s->cc, s->config, s->profile_named)) != 0)
        return rc;
    if (s->profile_named) {
        if ((f = cli_config_find(&s->cc, s->profile)) == NULL) {
            cli_config_no_profile(&s->cc, s->cmd, s->profile);
            return CLI_EXIT_USAGE;
        }
        s->profile_file = f->path;
        take_profile(s, f, s->profile, CLI_FROM_PROFILE);
    }
    take_env(s);
    if (!s->profile_named &&
        (f = cli_config_find(&s->cc, CLI_DEFAULT_PROFILE)) != NULL) {
        s->profile = CLI_DEFAULT_PROFILE;
        s->profile_file = f->path;
        take_profile(s, f, s->profile, CLI_FROM_DEFAULT_PROFILE);
    }
    if (cli->verbose)
        say_origins(s);

    /* messages about the module say where it came from */
    if (s->origin[CLI_SF_MODULE] == CLI_FROM_PROFILE ||
        s->origin[CLI_SF_MODULE] == CLI_FROM_DEFAULT_PROFILE) {
        char origin[PATH_MAX + 128];
        ek_err r;

        snprintf(origin, sizeof origin, "module = in profile '%s' of %s",
                 s->profile, s->profile_file);
        if ((r = ek_ctx_set_module_origin(cli->ctx, origin)) != EK_OK)
            return cli_fail(cli, r);
    }
    /* the module from the environment is the library's to read */
    cli->module =
        s->origin[CLI_SF_MODULE] == CLI_FROM_ENV ? NULL : s->val[CLI_SF_MODULE];
    cli->pin_source = s->val[CLI_SF_PIN_SOURCE];

    if (s->val[CLI_SF_SCOPE] != NULL && s->val[CLI_SF_RESOURCE] != NULL &&
        s->origin[CLI_SF_SCOPE] == s->origin[CLI_SF_RESOURCE])
        return cli_usage(s->cmd, NULL,
                         "give --scope or --resource, not "
                         "both");
    /* the one set at the higher level wins */
    if (s->val[CLI_SF_SCOPE] != NULL && s->val[CLI_SF_RESOURCE] != NULL) {
        if (s->origin[CLI_SF_SCOPE] < s->origin[CLI_SF_RESOURCE])
            s->val[CLI_SF_RESOURCE] = NULL;
        else
            s->val[CLI_SF_SCOPE] = NULL;
    }
    if (s->agent_mode > 0 && s->cert_file != NULL)
        return cli_usage(s->cmd, NULL,
                         "--cert needs the direct path: the "
                         "agent names the certificate on the token");
    if (s->val[CLI_SF_KEY] == NULL)
        return cli_usage(s->cmd, NULL,
                         "no key: give KEY-URI (see `entrakey "
                         "keys`) or a profile with key = URI");
    if (s->val[CLI_SF_TENANT] == NULL && !s->no_app)
        return cli_usage(s->cmd, NULL,
                         "no tenant: give --tenant (the "
                         "tenant id or a domain such as "
                         "contoso.onmicrosoft.com), AZURE_TENANT_ID, or a "
                         "profile with tenant =");
    if (s->val[CLI_SF_CLIENT_ID] == NULL && !s->no_app)
        return cli_usage(s->cmd, NULL,
                         "no client id: give --client-id (the "
                         "application (client) id), AZURE_CLIENT_ID, or a "
                         "profile with client_id =");
    s->cloud = EK_CLOUD_GLOBAL;
    if (s->val[CLI_SF_CLOUD] != NULL &&
        ek_cloud_parse(s->val[CLI_SF_CLOUD], &s->cloud) != EK_OK)
        return cli_usage(s->cmd, NULL,
                         "cloud '%s' is not one of global, "
                         "usgov, usgov-dod, china",
                         s->val[CLI_SF_CLOUD]);
    s->resource = EK_RESOURCE_EXO;
    if (s->val[CLI_SF_RESOURCE] != NULL &&
        ek_resource_parse(s->val[CLI_SF_RESOURCE], &s->resource) != EK_OK)
        return cli_usage(s->cmd, NULL,
                         "resource '%s' is not one of exo, "
                         "graph, arm, compliance",
                         s->val[CLI_SF_RESOURCE]);
    s->alg = EK_ALG_PS256;
    if (s->val[CLI_SF_ALG] != NULL &&
        cli_alg_parse(s->val[CLI_SF_ALG], &s->alg) != 0)
        return cli_usage(s->cmd, NULL, "alg '%s' is not PS256 or RS256",
                         s->val[CLI_SF_ALG]);
    if (s->val[CLI_SF_AUDIT] != NULL) {
        char msg[512];
        char origin[512];

        /* opened before the token is touched: a trail that cannot be
         * written stops the command before any signature */
        if (!cli_audit_spec_ok(s->val[CLI_SF_AUDIT]))
            return cli_usage(
                s->cmd, NULL,
                "audit '%s' (from %s) is not json:PATH, json:- "
                "or journal",
                s->val[CLI_SF_AUDIT],
                cli_sign_origin(s, CLI_SF_AUDIT, origin, sizeof origin));
        if (cli_audit_open(&s->audit, s->val[CLI_SF_AUDIT], msg, sizeof msg) !=
            0) {
            fprintf(stderr, "entrakey %s: %s (from %s)\n", s->cmd, msg,
                    cli_sign_origin(s, CLI_SF_AUDIT, origin, sizeof origin));
            return strncmp(s->val[CLI_SF_AUDIT], "json:", 5) == 0
                       ? CLI_EXIT_FILE
                       : CLI_EXIT_USAGE;
        }
    }
    if (s->val[CLI_SF_AUTHORITY_HOST] != NULL &&
        strstr(s->val[CLI_SF_AUTHORITY_HOST], "://") == NULL) {
        /* as the Azure SDKs take it: a bare host name means https */
        n = strlen(s->val[CLI_SF_AUTHORITY_HOST]) + sizeof "https://";
        if ((s->authority_buf = malloc(n)) == NULL) {
            fprintf(stderr, "entrakey: out of memory\n");
            return CLI_EXIT_INTERNAL;
        }
        snprintf(s->authority_buf, n, "https://%s",
                 s->val[CLI_SF_AUTHORITY_HOST]);
        s->val[CLI_SF_AUTHORITY_HOST] = s->authority_buf;
    }
    return 0;
}

void
cli_sign_assertion(const struct cli_sign *s, struct ek_assertion_params *p)
{
    memset(p, 0, sizeof *p);
    p->tenant = s->val[CLI_SF_TENANT];
    p->client_id = s->val[CLI_SF_CLIENT_ID];
    p->cloud = s->cloud;
    p->authority_host = s->val[CLI_SF_AUTHORITY_HOST];
    p->alg = s->alg;
    p->lifetime = s->lifetime;
}

void
cli_sign_after_error(const struct cli *cli, const struct cli_sign *s, ek_err r)
{
    const char *msg = ek_ctx_errmsg(cli->ctx);

    if (r == EK_ERR_ENTRA && strstr(msg, "AADSTS700016") != NULL &&
        s->origin[CLI_SF_CLIENT_ID] == CLI_FROM_ENV)
        fprintf(stderr,
                "entrakey: note: the client id %s came from "
                "AZURE_CLIENT_ID in the environment (Azure VMs and AKS set "
                "it for their own identity); give --client-id, or name your "
                "profile with --profile or ENTRAKEY_PROFILE, which win over "
                "the environment\n",
                s->val[CLI_SF_CLIENT_ID]);
}

void
cli_sign_audit(const struct cli *cli, const struct cli_sign *s,
               const char *event, ek_err r, const char *path, const char *jti)
{
    struct cli_caller me;
    const char *scope = NULL;

    if (s->audit == NULL)
        return;
    cli_caller_self(&me);
    if (strcmp(event, "token") == 0)
        scope = s->val[CLI_SF_SCOPE] != NULL
                    ? s->val[CLI_SF_SCOPE]
                    : ek_cloud_scope(s->cloud, s->resource);
    /* the direct path's identifiers are on the context; the agent's are
     * in the agent's own trail */
    cli_audit_event(
        s->audit, event, r == EK_OK ? "ok" : ek_strerror(r), &me, "key",
        s->val[CLI_SF_KEY], "path", path, "thumbprint",
        strcmp(path, "direct") == 0 ? ek_ctx_assertion_thumbprint(cli->ctx)
                                    : NULL,
        "tenant", s->val[CLI_SF_TENANT], "client_id", s->val[CLI_SF_CLIENT_ID],
        "scope", scope, "jti", jti, "correlation_id",
        strcmp(path, "direct") == 0 && scope != NULL
            ? ek_ctx_correlation_id(cli->ctx)
            : NULL,
        "request_id",
        strcmp(path, "direct") == 0 && scope != NULL
            ? ek_ctx_request_id(cli->ctx)
            : NULL,
        (const char *)NULL);
}

void
cli_sign_free(struct cli_sign *s)
{
    cli_config_free(&s->cc);
    cli_audit_close(&s->audit);
    ek_free(s->agent_sock);
    s->agent_sock = NULL;
    free(s->authority_buf);
    s->authority_buf = NULL;
}
