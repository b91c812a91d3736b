/* cmd_token.c: `entrakey token`: an access token from the Entra ID token
 * endpoint, printed in one of four formats; and the request itself, which
 * `entrakey exec` (cmd_exec.c) shares. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

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
    "                        expires_on (epoch seconds), scope, resource\n"
    "                        (the scope without /.default, or null), tenant\n"
    "                        (--json is the same)\n"
    "  --format env          export ENTRAKEY_ACCESS_TOKEN='...' lines for sh\n"
    "  --format powershell   the module's connect line for the resource:\n"
    "                        Connect-ExchangeOnline (exo), "
    "Connect-IPPSSession\n"
    "                        (compliance; both need --organization when\n"
    "                        the tenant is a GUID), Connect-MgGraph (graph),\n"
    "                        Connect-AzAccount (arm)\n"
    "\n" CLI_SIGN_OPTIONS_HELP "\n"
    "Exit codes: 0 ok, 2 usage or config, 3 token, 4 PIN, 5 Entra ID\n"
    "refused, 6 network, TLS, timeout or throttling, 7 file, 9 certificate.\n";

enum {
    OPT_FORMAT = OPT_CMD_BASE,
};

enum out_format { FMT_RAW, FMT_JSON, FMT_ENV, FMT_POWERSHELL };

int
cli_token_acquire(struct cli *cli, struct cli_sign *s,
                  struct ek_access_token **atp, struct ek_key **keyp)
{
    struct ek_access_token_params p;
    int rc;
    ek_err r;

    if ((rc = cli_apply(cli)) != 0)
        return rc;
    memset(&p, 0, sizeof p);
    cli_sign_assertion(s, &p.assertion);
    p.scope = s->val[CLI_SF_SCOPE];
    p.resource = s->resource;
    p.ca_file = s->val[CLI_SF_CA_FILE];
    p.timeout = s->timeout;
    p.max_wait = s->max_wait;
    /* the agent first (it holds the session and a cache), unless --cert */
    if (s->cert_file == NULL &&
        (rc = cli_agent_sock(cli, s->agent_mode, &s->agent_sock)) != 0)
        return rc;
    if (s->agent_sock != NULL) {
        r = ek_agent_token(cli->ctx, s->agent_sock, s->val[CLI_SF_KEY], &p, 0,
                           atp);
        if ((rc = cli_agent_fallback(cli, s->agent_mode, s->agent_sock, r)) >=
            0) {
            cli_sign_audit(cli, s, "token", r, "agent", NULL);
            return rc;
        }
    }
    return cli_direct_token(cli, s, &p, atp, keyp);
}

/* ------------------------------------------------------------- output */

/* The whole output in one buffer that is wiped at every growth and at the
 * end, written with write(2): no copy of the token stays in stdio. */
struct outbuf {
    char *p;
    size_t n, cap;
    int oom;
};

static void
ob_add(struct outbuf *ob, const char *s, size_t n)
{
    char *np;
    size_t ncap;

    if (ob->oom)
        return;
    if (ob->n + n + 1 > ob->cap) {
        ncap = (ob->n + n + 1) * 2;
        if ((np = malloc(ncap)) == NULL) {
            ob->oom = 1;
            return;
        }
        if (ob->p != NULL) {
            memcpy(np, ob->p, ob->n);
            explicit_bzero(ob->p, ob->cap);
            free(ob->p);
        }
        ob->p = np;
        ob->cap = ncap;
    }
    memcpy(ob->p + ob->n, s, n);
    ob->n += n;
    ob->p[ob->n] = '\0';
}

static void
ob_str(struct outbuf *ob, const char *s)
{
    ob_add(ob, s, strlen(s));
}

static void
ob_free(struct outbuf *ob)
{
    if (ob->p != NULL) {
        explicit_bzero(ob->p, ob->cap);
        free(ob->p);
    }
    memset(ob, 0, sizeof *ob);
}

/* Adds s in single quotes for sh ('\'' for a quote) or PowerShell. The
 * PowerShell language specification (2.3.5.2, verbatim strings) ends a
 * single-quoted string at any single-quote-character: ' and U+2018 to
 * U+201B; each is doubled, as '' is, so that none ends the string. */
static void
ob_quoted(struct outbuf *ob, const char *s, int powershell)
{
    const unsigned char *p = (const unsigned char *)s;

    ob_str(ob, "'");
    for (; *p != '\0'; p++) {
        if (*p == '\'') {
            ob_str(ob, powershell ? "''" : "'\\''");
        } else if (powershell && p[0] == 0xe2 && p[1] == 0x80 && p[2] >= 0x98 &&
                   p[2] <= 0x9b) {
            ob_add(ob, (const char *)p, 3);
            ob_add(ob, (const char *)p, 3);
            p += 2;
        } else {
            ob_add(ob, (const char *)p, 1);
        }
    }
    ob_str(ob, "'");
}

/* The resource of a "RESOURCE/.default" scope, in buf; NULL otherwise. */
static const char *
scope_resource(const char *scope, char *buf, size_t len)
{
    static const char suffix[] = "/.default";
    size_t n = scope != NULL ? strlen(scope) : 0;

    if (n <= sizeof suffix - 1 ||
        strcmp(scope + n - (sizeof suffix - 1), suffix) != 0 ||
        n - (sizeof suffix - 1) >= len)
        return NULL;
    memcpy(buf, scope, n - (sizeof suffix - 1));
    buf[n - (sizeof suffix - 1)] = '\0';
    return buf;
}

static int
json_token(const struct cli_sign *s, const struct ek_access_token *at,
           struct outbuf *ob)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON *tok;
    char *text = NULL, res[512];
    const char *resource;
    int rc = CLI_EXIT_INTERNAL;

    resource = scope_resource(ek_access_token_scope(at), res, sizeof res);
    if (doc == NULL ||
        (tok = cJSON_AddStringToObject(doc, "access_token",
                                       ek_access_token_value(at))) == NULL ||
        cJSON_AddStringToObject(doc, "token_type", ek_access_token_type(at)) ==
            NULL ||
        cJSON_AddNumberToObject(doc, "expires_in",
                                (double)ek_access_token_expires_in(at)) ==
            NULL ||
        cJSON_AddNumberToObject(doc, "expires_on",
                                (double)ek_access_token_expires_on(at)) ==
            NULL ||
        cJSON_AddStringToObject(doc, "scope", ek_access_token_scope(at)) ==
            NULL ||
        (resource != NULL ? cJSON_AddStringToObject(doc, "resource", resource)
                          : cJSON_AddNullToObject(doc, "resource")) == NULL ||
        cJSON_AddStringToObject(doc, "tenant", s->val[CLI_SF_TENANT]) == NULL ||
        (text = cJSON_Print(doc)) == NULL) {
        fprintf(stderr, "entrakey: out of memory\n");
        goto out;
    }
    ob_str(ob, text);
    ob_str(ob, "\n");
    rc = CLI_EXIT_OK;
out:
    /* the token's copies in the tree and the text are wiped */
    if (text != NULL) {
        explicit_bzero(text, strlen(text));
        free(text);
    }
    if (doc != NULL) {
        tok = cJSON_GetObjectItemCaseSensitive(doc, "access_token");
        if (cJSON_IsString(tok) && tok->valuestring != NULL)
            explicit_bzero(tok->valuestring, strlen(tok->valuestring));
        cJSON_Delete(doc);
    }
    return rc;
}

/* The resource of the token's request for --format powershell: the one
 * whose scope in the cloud is the scope asked for (--scope), or
 * --resource. -1 when the scope is none of them. */
static int
ps_resource(const struct cli_sign *s)
{
    static const enum ek_resource all[] = {EK_RESOURCE_EXO, EK_RESOURCE_GRAPH,
                                           EK_RESOURCE_ARM,
                                           EK_RESOURCE_COMPLIANCE};
    const char *v;
    size_t i;

    if (s->val[CLI_SF_SCOPE] == NULL)
        return (int)s->resource;
    for (i = 0; i < sizeof all / sizeof all[0]; i++)
        if ((v = ek_cloud_scope(s->cloud, all[i])) != NULL &&
            strcmp(s->val[CLI_SF_SCOPE], v) == 0)
            return (int)all[i];
    return -1;
}

/* The -Environment of Connect-MgGraph and of Connect-AzAccount for the
 * cloud; NULL for the global cloud (the modules' default). */
static const char *
ps_environment(enum ek_cloud cloud, int az)
{
    switch (cloud) {
    case EK_CLOUD_USGOV:
        return az ? "AzureUSGovernment" : "USGov";
    case EK_CLOUD_USGOV_DOD:
        return az ? "AzureUSGovernment" : "USGovDoD";
    case EK_CLOUD_CHINA:
        return az ? "AzureChinaCloud" : "China";
    default:
        return NULL;
    }
}

/* The line that connects the resource's PowerShell module with the token
 * (docs/powershell.md); every value in single quotes (ob_quoted). */
static void
ps_line(const struct cli_sign *s, const struct ek_access_token *at,
        struct outbuf *ob)
{
    const char *env;

    switch (ps_resource(s)) {
    case EK_RESOURCE_GRAPH:
        /* Microsoft.Graph 2.x takes a SecureString */
        ob_str(ob, "Connect-MgGraph -AccessToken (ConvertTo-SecureString ");
        ob_quoted(ob, ek_access_token_value(at), 1);
        ob_str(ob, " -AsPlainText -Force)");
        if ((env = ps_environment(s->cloud, 0)) != NULL) {
            ob_str(ob, " -Environment ");
            ob_str(ob, env);
        }
        break;
    case EK_RESOURCE_ARM:
        ob_str(ob, "Connect-AzAccount -AccessToken ");
        ob_quoted(ob, ek_access_token_value(at), 1);
        ob_str(ob, " -AccountId ");
        ob_quoted(ob, s->val[CLI_SF_CLIENT_ID], 1);
        ob_str(ob, " -Tenant ");
        ob_quoted(ob, s->val[CLI_SF_TENANT], 1);
        if ((env = ps_environment(s->cloud, 1)) != NULL) {
            ob_str(ob, " -Environment ");
            ob_str(ob, env);
        }
        break;
    case EK_RESOURCE_COMPLIANCE:
        /* ExchangeOnlineManagement 3.8.0 and later */
        ob_str(ob, "Connect-IPPSSession -AccessToken ");
        ob_quoted(ob, ek_access_token_value(at), 1);
        ob_str(ob, " -Organization ");
        ob_quoted(ob, s->val[CLI_SF_ORGANIZATION], 1);
        break;
    default:
        ob_str(ob, "Connect-ExchangeOnline -AccessToken ");
        ob_quoted(ob, ek_access_token_value(at), 1);
        ob_str(ob, " -Organization ");
        ob_quoted(ob, s->val[CLI_SF_ORGANIZATION], 1);
        if (s->cloud != EK_CLOUD_GLOBAL) {
            ob_str(ob, " -ExchangeEnvironmentName ");
            ob_str(ob, ek_cloud_exo_environment(s->cloud));
        }
        break;
    }
    ob_str(ob, "\n");
}

static int
print_token(const struct cli_sign *s, enum out_format fmt,
            const struct ek_access_token *at)
{
    struct outbuf ob;
    char num[32];
    int rc = CLI_EXIT_OK;

    memset(&ob, 0, sizeof ob);
    switch (fmt) {
    case FMT_RAW:
        ob_str(&ob, ek_access_token_value(at));
        ob_str(&ob, "\n");
        break;
    case FMT_JSON:
        rc = json_token(s, at, &ob);
        break;
    case FMT_ENV:
        ob_str(&ob, "export ENTRAKEY_ACCESS_TOKEN=");
        ob_quoted(&ob, ek_access_token_value(at), 0);
        ob_str(&ob, "\nexport ENTRAKEY_TENANT=");
        ob_quoted(&ob, s->val[CLI_SF_TENANT], 0);
        snprintf(num, sizeof num, "%lld",
                 (long long)ek_access_token_expires_on(at));
        ob_str(&ob, "\nexport ENTRAKEY_EXPIRES_ON='");
        ob_str(&ob, num);
        ob_str(&ob, "'\n");
        if (s->val[CLI_SF_ORGANIZATION] != NULL) {
            ob_str(&ob, "export ENTRAKEY_ORGANIZATION=");
            ob_quoted(&ob, s->val[CLI_SF_ORGANIZATION], 0);
            ob_str(&ob, "\n");
        }
        break;
    case FMT_POWERSHELL:
        ps_line(s, at, &ob);
        break;
    }
    if (rc == CLI_EXIT_OK && ob.oom) {
        fprintf(stderr, "entrakey: out of memory\n");
        rc = CLI_EXIT_INTERNAL;
    }
    if (rc == CLI_EXIT_OK && cli_write_all(STDOUT_FILENO, ob.p, ob.n) != 0) {
        fprintf(stderr,
                "entrakey: cannot write the token to standard "
                "output: %s\n",
                strerror(errno));
        rc = CLI_EXIT_FILE;
    }
    ob_free(&ob);
    return rc;
}

/* ------------------------------------------------------------ command */

/* Checks what only `token` has: the format and the organization. */
static int
check_format(struct cli *cli, struct cli_sign *s, const char *format,
             enum out_format *fmt)
{
    const char *org = s->val[CLI_SF_ORGANIZATION];
    const char *tenant = s->val[CLI_SF_TENANT];
    int res;

    if (format == NULL || strcmp(format, "raw") == 0)
        *fmt = cli->json ? FMT_JSON : FMT_RAW;
    else if (strcmp(format, "json") == 0)
        *fmt = FMT_JSON;
    else if (strcmp(format, "env") == 0)
        *fmt = FMT_ENV;
    else if (strcmp(format, "powershell") == 0)
        *fmt = FMT_POWERSHELL;
    else
        return cli_usage(s->cmd, NULL,
                         "format '%s' is not one of raw, "
                         "json, env, powershell",
                         format);
    if (cli->json && *fmt != FMT_JSON)
        return cli_usage(s->cmd, NULL, "--json and --format %s disagree",
                         format);
    if (*fmt == FMT_POWERSHELL) {
        res = ps_resource(s);
        if (res < 0)
            return cli_usage(s->cmd, NULL,
                             "--format powershell prints the line of "
                             "Exchange Online, Security & Compliance, "
                             "Microsoft Graph or Azure; the scope '%s' is "
                             "none of them in this cloud: use --resource "
                             "exo|compliance|graph|arm, or --format raw",
                             s->val[CLI_SF_SCOPE]);
        if (org == NULL &&
            (res == (int)EK_RESOURCE_EXO || res == (int)EK_RESOURCE_COMPLIANCE))
            return cli_usage(s->cmd, NULL,
                             "--format powershell needs the "
                             "organization for %s "
                             "-Organization: the tenant '%s' is a GUID, so "
                             "give --organization contoso.onmicrosoft.com "
                             "(the tenant's *.onmicrosoft.com domain)",
                             res == (int)EK_RESOURCE_EXO
                                 ? "Connect-ExchangeOnline"
                                 : "Connect-IPPSSession",
                             tenant);
    }
    return 0;
}

int
cli_token_check_org(struct cli_sign *s)
{
    const char *org;

    if (s->val[CLI_SF_ORGANIZATION] == NULL &&
        strchr(s->val[CLI_SF_TENANT], '.') != NULL)
        s->val[CLI_SF_ORGANIZATION] = s->val[CLI_SF_TENANT];
    org = s->val[CLI_SF_ORGANIZATION];
    if (org != NULL && (org[0] == '\0' || strpbrk(org, "'\"` \t\n;$") != NULL))
        return cli_usage(s->cmd, NULL,
                         "organization '%s' is not a domain "
                         "name",
                         org);
    return 0;
}

/* token's own option: --format. */
static int
format_opt(void *arg, int c, const char *optarg_)
{
    if (c != OPT_FORMAT)
        return -1;
    *(const char **)arg = optarg_;
    return 0;
}

int
cmd_token(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        CLI_SIGN_LONGOPTS,
        {"format", required_argument, NULL, OPT_FORMAT},
        {NULL, 0, NULL, 0},
    };
    struct cli_sign s;
    struct ek_access_token *at = NULL;
    const char *format = NULL;
    const struct cli_sign_cmd cmd = {.longopts = longopts,
                                     .usage = usage_token,
                                     .own = format_opt,
                                     .arg = &format};
    enum out_format fmt = FMT_RAW;
    int rc;

    cli_sign_init(&s, "token");
    if ((rc = cli_sign_args(cli, &s, argc, argv, &cmd)) != 0) {
        rc = rc < 0 ? CLI_EXIT_OK : rc;
        goto out;
    }
    if ((rc = cli_sign_resolve(cli, &s)) != 0 ||
        (rc = cli_token_check_org(&s)) != 0 ||
        (rc = check_format(cli, &s, format, &fmt)) != 0)
        goto out;
    if ((rc = cli_token_acquire(cli, &s, &at, NULL)) != 0)
        goto out;
    rc = print_token(&s, fmt, at);
out:
    ek_access_token_free(&at);
    cli_sign_free(&s);
    return rc;
}
