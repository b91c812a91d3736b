/* cmd_assert.c: `entrakey assert`: a client assertion (JWT) signed on the
 * token, printed alone on stdout for tools that take one. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_audit.h"

static const char usage_assert[] =
    "usage: entrakey assert [KEY-URI] [--tenant TENANT] [--client-id APPID]\n"
    "                       [--profile NAME] [--alg PS256|RS256]\n"
    "                       [--lifetime SECONDS] [--cloud NAME |\n"
    "                       --authority-host URL] [--cert FILE] [options]\n"
    "\n"
    "Prints a client assertion for the app registration: a JWT whose\n"
    "signature is made on the token, followed by a newline, and nothing else\n"
    "on stdout. Give it to MSAL (client_assertion), azure-identity\n"
    "(ClientAssertionCredential) or az login --federated-token. It takes\n"
    "the options of `entrakey token` (those only a request uses are\n"
    "accepted and have no effect here).\n"
    "The assertion is a credential for its lifetime: do not log it.\n"
    "\n" CLI_SIGN_OPTIONS_HELP;

int
cmd_assert(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        CLI_SIGN_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    const struct cli_sign_cmd cmd = {.longopts = longopts,
                                     .usage = usage_assert};
    struct cli_sign s;
    struct ek_assertion_params p;
    struct ek_access_token_params tp;
    struct ek_secret *jwt = NULL;
    char jti[64];
    int rc;
    ek_err r;

    cli_sign_init(&s, "assert");
    if ((rc = cli_sign_args(cli, &s, argc, argv, &cmd)) != 0) {
        rc = rc < 0 ? CLI_EXIT_OK : rc;
        goto out;
    }
    if (cli->json) {
        rc = cli_usage(s.cmd, NULL,
                       "assert prints the bare JWT; it has no "
                       "--json output");
        goto out;
    }
    if ((rc = cli_sign_resolve(cli, &s)) != 0 || (rc = cli_apply(cli)) != 0)
        goto out;
    cli_sign_assertion(&s, &p);
    if (s.cert_file == NULL &&
        (rc = cli_agent_sock(cli, s.agent_mode, &s.agent_sock)) != 0)
        goto out;
    if (s.agent_sock != NULL) {
        memset(&tp, 0, sizeof tp);
        tp.assertion = p;
        /* the scope is not part of an assertion; the agent wants one */
        tp.scope = "https://graph.microsoft.com/.default";
        r = ek_agent_assertion(cli->ctx, s.agent_sock, s.val[CLI_SF_KEY], &tp,
                               &jwt);
        if ((rc = cli_agent_fallback(cli, s.agent_mode, s.agent_sock, r)) >=
            0) {
            jti[0] = '\0';
            if (jwt != NULL)
                cli_audit_jwt_jti(ek_secret_data(jwt), jti, sizeof jti);
            cli_sign_audit(cli, &s, "assertion", r, "agent", jti);
        }
        if (rc > 0)
            goto out;
        if (rc == 0)
            goto got;
        rc = 0;
    }
    if ((rc = cli_direct_assert(cli, &s, &p, &jwt)) != 0)
        goto out;
got:
    /* straight to the descriptor: no copy left in a stdio buffer */
    if (cli_write_all(STDOUT_FILENO, ek_secret_data(jwt), ek_secret_len(jwt)) !=
            0 ||
        cli_write_all(STDOUT_FILENO, "\n", 1) != 0) {
        fprintf(stderr, "entrakey: cannot write the assertion to standard "
                        "output\n");
        rc = CLI_EXIT_FILE;
        goto out;
    }
    rc = CLI_EXIT_OK;
out:
    ek_secret_free(&jwt);
    cli_sign_free(&s);
    return rc;
}
