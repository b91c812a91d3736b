/* cmd_assert.c: `entrakey assert`: a client assertion (JWT) signed on the
 * token, printed alone on stdout for tools that take one. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"

static const char usage_assert[] =
    "usage: entrakey assert KEY-URI --tenant TENANT --client-id APPID\n"
    "                       [--alg PS256|RS256] [--lifetime SECONDS]\n"
    "                       [--cloud NAME | --authority-host URL] [--cert FILE]\n"
    "\n"
    "Prints a client assertion for the app registration: a JWT whose\n"
    "signature is made on the token, followed by a newline, and nothing else\n"
    "on stdout. Give it to MSAL (client_assertion), azure-identity\n"
    "(ClientAssertionCredential) or az login --federated-token.\n"
    "\n"
    "  --tenant TENANT        the tenant id or domain (contoso.onmicrosoft.com);\n"
    "                         default $AZURE_TENANT_ID\n"
    "  --client-id APPID      the application (client) id; default\n"
    "                         $AZURE_CLIENT_ID\n"
    "  --alg ALG              PS256 (default; header x5t#S256) or RS256 (adds\n"
    "                         x5t); a token without RSA-PSS gets RS256, with a\n"
    "                         warning\n"
    "  --lifetime SECONDS     exp - iat; default (or 0) 600, at most 3600\n"
    "  --cloud NAME           global (default), usgov, usgov-dod or china: sets\n"
    "                         the login host of the audience\n"
    "  --authority-host URL   the login host itself, e.g.\n"
    "                         https://login.microsoftonline.com; default\n"
    "                         $AZURE_AUTHORITY_HOST, else the cloud's\n"
    "  --cert FILE            the certificate (DER or PEM) whose thumbprint goes\n"
    "                         in the header; default: the one on the token\n"
    "                         with the key's id\n"
    CLI_AGENT_HELP
    "Common options (--module, --pin-source, -v): see entrakey --help.\n"
    "The assertion is a credential for its lifetime: do not log it.\n";

enum {
    OPT_TENANT = OPT_CMD_BASE,
    OPT_CLIENT_ID,
    OPT_ALG,
    OPT_LIFETIME,
    OPT_CLOUD,
    OPT_AUTHORITY_HOST,
    OPT_CERT,
    OPT_AGENT,
    OPT_NO_AGENT,
};

static const struct option longopts[] = {
    CLI_COMMON_LONGOPTS,
    {"tenant", required_argument, NULL, OPT_TENANT},
    {"client-id", required_argument, NULL, OPT_CLIENT_ID},
    {"alg", required_argument, NULL, OPT_ALG},
    {"lifetime", required_argument, NULL, OPT_LIFETIME},
    {"cloud", required_argument, NULL, OPT_CLOUD},
    {"authority-host", required_argument, NULL, OPT_AUTHORITY_HOST},
    {"cert", required_argument, NULL, OPT_CERT},
    {"agent", no_argument, NULL, OPT_AGENT},
    {"no-agent", no_argument, NULL, OPT_NO_AGENT},
    {NULL, 0, NULL, 0},
};

/* A value from a flag, else from the environment, else NULL. */
static const char *
flag_or_env(const char *flag, const char *env)
{
    const char *v;

    if (flag != NULL)
        return flag;
    v = getenv(env);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

static int
write_all(const char *p, size_t n)
{
    ssize_t w;

    while (n > 0) {
        w = write(STDOUT_FILENO, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int
cmd_assert(struct cli *cli, int argc, char **argv)
{
    static const char cmd[] = "assert";
    struct ek_assertion_params p;
    struct ek_key *k = NULL;
    struct ek_cert *cert = NULL;
    struct ek_secret *jwt = NULL;
    const char *tenant = NULL, *client_id = NULL, *host = NULL;
    const char *cloud = NULL, *cert_file = NULL;
    char *host_url = NULL, *sock = NULL;
    struct ek_access_token_params tp;
    int agent_mode = 0;
    size_t n;
    int c, rc;
    ek_err r;

    memset(&p, 0, sizeof p);
    p.alg = EK_ALG_PS256;
    optind = 0;
    opterr = 1;
    while ((c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS, longopts,
                            NULL)) != -1) {
        switch (c) {
        case OPT_TENANT:
            tenant = optarg;
            break;
        case OPT_CLIENT_ID:
            client_id = optarg;
            break;
        case OPT_ALG:
            if (strcasecmp(optarg, "PS256") == 0)
                p.alg = EK_ALG_PS256;
            else if (strcasecmp(optarg, "RS256") == 0)
                p.alg = EK_ALG_RS256;
            else
                return cli_usage(cmd, usage_assert, "--alg '%s' is not "
                                 "PS256 or RS256", optarg);
            break;
        case OPT_LIFETIME:
            if (cli_parse_uint(optarg, 0, 3600, &p.lifetime) != 0)
                return cli_usage(cmd, usage_assert, "--lifetime '%s' is not "
                                 "a number of seconds up to 3600 (Entra ID "
                                 "asks for 5-10 minutes; 0 means 600)",
                                 optarg);
            break;
        case OPT_CLOUD:
            cloud = optarg;
            break;
        case OPT_AUTHORITY_HOST:
            host = optarg;
            break;
        case OPT_CERT:
            cert_file = optarg;
            break;
        case OPT_AGENT:
            agent_mode = 1;
            break;
        case OPT_NO_AGENT:
            agent_mode = -1;
            break;
        case OPT_JSON:
            return cli_usage(cmd, usage_assert, "assert prints the bare JWT; "
                             "it has no --json output");
        default:
            if ((rc = cli_common_opt(cli, c, optarg, cmd, usage_assert)) != 0)
                return rc > 0 ? rc : cli_usage(cmd, usage_assert,
                                               "unexpected option");
        }
    }
    if (argc - optind != 1)
        return cli_usage(cmd, usage_assert, "give the key's pkcs11: URI");
    /* flags win over the Azure SDKs' environment variables */
    if ((p.tenant = flag_or_env(tenant, "AZURE_TENANT_ID")) == NULL)
        return cli_usage(cmd, usage_assert, "no tenant: give --tenant (the "
                         "tenant id or a domain such as "
                         "contoso.onmicrosoft.com) or set AZURE_TENANT_ID");
    if ((p.client_id = flag_or_env(client_id, "AZURE_CLIENT_ID")) == NULL)
        return cli_usage(cmd, usage_assert, "no client id: give --client-id "
                         "(the application (client) id) or set "
                         "AZURE_CLIENT_ID");
    if ((rc = cli_apply(cli)) != 0)
        return rc;
    if (cloud != NULL && (r = ek_cloud_parse(cloud, &p.cloud)) != EK_OK)
        return cli_usage(cmd, usage_assert, "--cloud '%s' is not global, "
                         "usgov, usgov-dod or china", cloud);
    if ((host = flag_or_env(host, "AZURE_AUTHORITY_HOST")) != NULL &&
        strstr(host, "://") == NULL) {
        /* as the Azure SDKs take it: a bare host name means https */
        n = strlen(host) + sizeof "https://";
        if ((host_url = malloc(n)) == NULL) {
            fprintf(stderr, "entrakey: out of memory\n");
            return CLI_EXIT_INTERNAL;
        }
        snprintf(host_url, n, "https://%s", host);
        host = host_url;
    }
    p.authority_host = host;
    /* the file before the token: a bad file needs no PIN */
    if (cert_file != NULL &&
        (r = ek_cert_load_file(cli->ctx, cert_file, &cert)) != EK_OK) {
        rc = cli_fail(cli, r);
        goto out;
    }
    p.cert = cert;
    if (agent_mode > 0 && cert_file != NULL) {
        rc = cli_usage(cmd, usage_assert, "--cert needs the direct path: the "
                       "agent names the certificate on the token");
        goto out;
    }
    if (cert_file == NULL &&
        (rc = cli_agent_sock(cli, agent_mode, &sock)) != 0)
        goto out;
    if (sock != NULL) {
        memset(&tp, 0, sizeof tp);
        tp.assertion = p;
        /* the scope is not part of an assertion; the agent wants one */
        tp.scope = "https://graph.microsoft.com/.default";
        r = ek_agent_assertion(cli->ctx, sock, argv[optind], &tp, &jwt);
        if ((rc = cli_agent_fallback(cli, agent_mode, sock, r)) > 0)
            goto out;
        if (rc == 0)
            goto got;
        rc = 0;
    }
    if ((r = ek_key_open(cli->ctx, argv[optind], &k)) != EK_OK ||
        (r = ek_assertion_sign(cli->ctx, k, &p, &jwt)) != EK_OK) {
        rc = cli_fail(cli, r);
        goto out;
    }
got:
    /* straight to the descriptor: no copy left in a stdio buffer */
    if (write_all(ek_secret_data(jwt), ek_secret_len(jwt)) != 0 ||
        write_all("\n", 1) != 0) {
        fprintf(stderr, "entrakey: cannot write the assertion to standard "
                "output\n");
        rc = CLI_EXIT_FILE;
        goto out;
    }
    rc = CLI_EXIT_OK;
out:
    ek_secret_free(&jwt);
    ek_cert_free(&cert);
    ek_key_free(&k);
    free(host_url);
    ek_free(sock);
    return rc;
}
