/* cmd_exec.c: `entrakey exec [KEY-URI] [signing options] -- COMMAND
 * [ARGS...]`: gets an access token as `entrakey token` does (the same
 * options and request, cli_opts.c and cli_token_acquire), closes the token
 * session, and execs COMMAND with the token in its environment. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "wi.h"

static const char usage_exec[] =
    "usage: entrakey exec [KEY-URI] [signing options] -- COMMAND [ARGS...]\n"
    "       entrakey exec --workload-identity [KEY-URI] [signing options]\n"
    "                     [--assertion-refresh SECONDS] -- COMMAND [ARGS...]\n"
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
    "\n"
    "  --managed-identity[=127.0.0.1:PORT]\n"
    "                        instead of a token in the environment, serve\n"
    "                        a managed-identity endpoint on 127.0.0.1 (a\n"
    "                        random port by default) for COMMAND's\n"
    "                        lifetime and give it IDENTITY_ENDPOINT,\n"
    "                        IDENTITY_HEADER, MSI_ENDPOINT and MSI_SECRET;\n"
    "                        with --agent, the agent's endpoint (see\n"
    "                        docs/managed-identity.md)\n"
    "  --workload-identity   instead of a token: keep a fresh client\n"
    "                        assertion in a private file for the child\n"
    "                        (AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID,\n"
    "                        AZURE_TENANT_ID, AZURE_AUTHORITY_HOST), as\n"
    "                        azure-identity's DefaultAzureCredential reads\n"
    "                        it; entrakey stays, rewrites it and removes it\n"
    "                        when COMMAND ends (docs/workload-identity.md)\n"
    "  --assertion-refresh SECONDS  rewrite it every SECONDS, 1-3000\n"
    "                        (default 300); --lifetime is then 660-3600\n"
    "                        (default 3600) and at least SECONDS + 600\n"
    "\n" CLI_SIGN_OPTIONS_HELP;

enum { OPT_EXEC_MANAGED_IDENTITY = OPT_CMD_BASE };

/* Replaces the process with the child; returns only on failure. */
static int
exec_child(struct cli *cli, struct cli_sign *s, char **child,
           struct ek_access_token **atp, struct ek_key **keyp)
{
    char expires[32];
    const char *org = s->val[CLI_SF_ORGANIZATION];
    int e;

    snprintf(expires, sizeof expires, "%lld",
             (long long)ek_access_token_expires_on(*atp));
    if (setenv("ENTRAKEY_ACCESS_TOKEN", ek_access_token_value(*atp), 1) != 0 ||
        setenv("ENTRAKEY_TENANT", s->val[CLI_SF_TENANT], 1) != 0 ||
        setenv("ENTRAKEY_EXPIRES_ON", expires, 1) != 0 ||
        (org != NULL ? setenv("ENTRAKEY_ORGANIZATION", org, 1)
                     : unsetenv("ENTRAKEY_ORGANIZATION")) != 0) {
        fprintf(stderr, "entrakey: cannot set the environment: %s\n",
                strerror(errno));
        return CLI_EXIT_INTERNAL;
    }
    /* with --agent the child can ask the agent again (never a PIN) */
    if (s->agent_mode > 0 && s->agent_sock != NULL &&
        setenv("ENTRAKEY_AGENT_SOCK", s->agent_sock, 1) != 0) {
        fprintf(stderr, "entrakey: cannot set the environment: %s\n",
                strerror(errno));
        return CLI_EXIT_INTERNAL;
    }
    /* no PIN and no PIN source reaches the child: the context's
     * (--pin-source, the profile's) */
    ek_ctx_pin_source_scrub(cli->ctx);
    /* and the source the key used, whichever it came from (--pin-source,
     * the profile, the URI's pin-source=); none when the agent served */
    if (*keyp != NULL)
        ek_key_pin_source_scrub(*keyp);
    /* close the token session before exec: sessions do not survive it */
    ek_key_free(keyp);
    ek_access_token_free(atp);
    ek_ctx_free(&cli->ctx);
    fflush(stdout);
    fflush(stderr);
    /* entrakey ignores SIGPIPE; an ignored signal stays ignored across
     * exec, and the child's pipelines rely on it killing them */
    (void)signal(SIGPIPE, SIG_DFL);
    execvp(child[0], child);
    e = errno;
    if (e == ENOENT) {
        fprintf(stderr, "entrakey exec: cannot run '%s': command not found\n",
                child[0]);
        return 127;
    }
    fprintf(stderr, "entrakey exec: cannot run '%s': %s%s\n", child[0],
            strerror(e),
            e == EACCES || e == ENOEXEC ? " (is it an executable file?)" : "");
    return 126;
}

/* exec's own options, numbered apart from others' (OPT_CMD_BASE + 40) */
enum {
    OPT_WI = OPT_CMD_BASE + 40,
    OPT_WI_REFRESH,
};

/* What exec's own options set. */
struct exec_opts {
    const char *mi_listen;
    int mi;
    int wi;
    unsigned wi_refresh;
};

/* --managed-identity, --workload-identity, --assertion-refresh: 0 done,
 * -1 not one, > 0 exit (cli_sign_cmd.own). */
static int
exec_opt(void *arg_, int c, const char *arg)
{
    struct exec_opts *o = arg_;

    if (c == OPT_EXEC_MANAGED_IDENTITY) {
        o->mi = 1;
        o->mi_listen = arg;
        return 0;
    }
    if (c == OPT_WI) {
        o->wi = 1;
        return 0;
    }
    if (c != OPT_WI_REFRESH)
        return -1;
    if (cli_parse_uint(arg, WI_REFRESH_MIN, WI_REFRESH_MAX, &o->wi_refresh) !=
        0)
        return cli_usage("exec", NULL,
                         "--assertion-refresh '%s' is not a number of "
                         "seconds from %u to %u",
                         arg, WI_REFRESH_MIN, WI_REFRESH_MAX);
    return 0;
}

int
cmd_exec(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        CLI_SIGN_LONGOPTS,
        {"managed-identity", optional_argument, NULL,
         OPT_EXEC_MANAGED_IDENTITY},
        {"workload-identity", no_argument, NULL, OPT_WI},
        {"assertion-refresh", required_argument, NULL, OPT_WI_REFRESH},
        {NULL, 0, NULL, 0},
    };
    struct exec_opts o = {NULL, 0, 0, 0};
    const struct cli_sign_cmd cmd = {.longopts = longopts,
                                     .usage = usage_exec,
                                     .own = exec_opt,
                                     .arg = &o,
                                     .extra =
                                         "put -- before the command to run"};
    struct cli_sign s;
    struct ek_access_token *at = NULL;
    struct ek_key *key = NULL;
    int rc, nargs, i;

    cli_sign_init(&s, "exec");
    /* options end at "--"; what follows is the child's, untouched */
    for (i = 1; i < argc; i++)
        if (strcmp(argv[i], "--") == 0)
            break;
    if (i == argc) {
        for (i = 1; i < argc; i++)
            if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
                fputs(usage_exec, stdout);
                return CLI_EXIT_OK;
            }
        return cli_usage(s.cmd, NULL,
                         "no command: put -- before the "
                         "command to run");
    }
    nargs = i;
    if ((rc = cli_sign_args(cli, &s, nargs, argv, &cmd)) != 0) {
        rc = rc < 0 ? CLI_EXIT_OK : rc;
        goto out;
    }
    if (nargs + 1 >= argc) {
        rc = cli_usage(s.cmd, NULL,
                       "no command to run: give -- COMMAND "
                       "[ARGS...]");
        goto out;
    }
    if (cli->json) {
        rc = cli_usage(s.cmd, NULL, "--json has no meaning for exec");
        goto out;
    }
    if (o.wi_refresh != 0 && !o.wi) {
        rc = cli_usage(s.cmd, NULL,
                       "--assertion-refresh is for --workload-identity");
        goto out;
    }
    if (o.wi && o.mi) {
        rc = cli_usage(s.cmd, NULL,
                       "--workload-identity and --managed-identity: one "
                       "or the other");
        goto out;
    }
    if (o.wi) {
        if ((rc = cli_sign_resolve(cli, &s)) == 0)
            rc = cli_exec_wi(cli, &s, argv + nargs + 1,
                             o.wi_refresh != 0 ? o.wi_refresh
                                               : WI_REFRESH_DEFAULT);
        goto out;
    }
    /* the agent's endpoint: the agent holds the key and the app */
    if (o.mi && s.agent_mode > 0) {
        rc = agent_mi_exec(cli, &s, o.mi_listen, argv + nargs + 1);
        goto out;
    }
    if ((rc = cli_sign_resolve(cli, &s)) != 0 ||
        (rc = cli_token_check_org(&s)) != 0)
        goto out;
    if (o.mi) {
        rc = agent_mi_exec(cli, &s, o.mi_listen, argv + nargs + 1);
        goto out;
    }
    if ((rc = cli_token_acquire(cli, &s, &at, &key)) != 0)
        goto out;
    rc = exec_child(cli, &s, argv + nargs + 1, &at, &key);
out:
    ek_key_free(&key);
    ek_access_token_free(&at);
    cli_sign_free(&s);
    return rc;
}
