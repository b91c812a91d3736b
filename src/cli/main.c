/* main.c: entrakey-full, the whole command: the leading common options
 * and the dispatch to a command (what every main does around it is in
 * cli_main.c, the shared helpers in cli_common.c). The installed entrakey
 * (fast/fast_main.c) runs it for all but the agent's clients. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage_main[] =
    "usage: entrakey [common options] COMMAND [ARGS] [common options]\n"
    "\n"
    "Keys on a PKCS#11 token, certificates for Entra ID app registrations,\n"
    "client assertions signed on the token, and access tokens.\n"
    "\n"
    "commands:\n"
    "  quickstart   try the whole flow on an embedded software token\n"
    "  tokens       list modules, slots and tokens\n"
    "  keys         list keys and certificates on a token; delete a key\n"
    "  keygen       generate a non-exportable RSA key on a token\n"
    "  cert         create, request (CSR), import, show or export a\n"
    "               certificate\n"
    "  init         keygen + certificate + .cer export in one step\n"
    "  assert       print a client assertion (JWT) signed on the token\n"
    "  token        get an access token from Entra ID\n"
    "  exec         run a command with an access token in its environment\n"
    "  rotate       replace the app's key through Microsoft Graph (addKey)\n"
    "  profile      manage profiles in the configuration file\n"
    "  check        check keys, certificates and tokens for monitoring\n"
    "  agent        keep the token logged in, serve tokens (docs/agent.md)\n"
    "\n"
    "common options:\n"
    "  -v, --verbose            say what is done (PKCS#11 calls, URLs); never "
    "secrets\n"
    "  --module PATH            the PKCS#11 module (default: "
    "$ENTRAKEY_MODULE,\n"
    "                           module-path= in the URI, else p11-kit's "
    "proxy)\n"
    "  --pin-source SRC         env:NAME | file:PATH | fd:N (default: prompt)\n"
    "  --allow-final-pin-try    log in even if the token has one PIN try left\n"
    "  --json                   machine-readable output, where offered\n"
    "  -h, --help               help for a command: entrakey COMMAND --help\n"
    "                           or entrakey help COMMAND\n"
    "  --version                print the version\n"
    "\n"
    "Exit codes: 0 ok, 1 internal, 2 usage, 3 token, 4 PIN, 5 Entra ID,\n"
    "6 network/TLS, 7 file, 8 exists, 9 certificate; check adds 10-14\n"
    "(see entrakey(1)).\n";

static const struct {
    const char *name;
    int (*fn)(struct cli *, int, char **);
} commands[] = {
    {"tokens", cmd_tokens},   {"keys", cmd_keys},
    {"keygen", cmd_keygen},   {"cert", cmd_cert},
    {"init", cmd_init},       {"assert", cmd_assert},
    {"token", cmd_token},     {"exec", cmd_exec},
    {"profile", cmd_profile}, {"quickstart", cmd_quickstart},
    {"agent", cmd_agent},     {"check", cmd_check},
    {"rotate", cmd_rotate},
};

static int run_main(int argc, char **argv);
/* in entrakey-full.so, built with main=ek_full_main: the entry point the
 * client (fast/fast_main.c) looks up, which wants a prototype */
int main(int argc, char **argv);

int
main(int argc, char **argv)
{
    cli_main_begin();
    return cli_main_end(run_main(argc, argv));
}

static int
run_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct cli cli;
    static char help_opt[] = "--help";
    char *help[3] = {NULL, help_opt, NULL};
    size_t i;
    int c, rc;

    memset(&cli, 0, sizeof cli);
    /* leading common options: entrakey -v --json --module X tokens; the
     * command sees them as its own */
    while ((c = cli_getopt(argc, argv, "+" CLI_COMMON_SHORTOPTS, longopts,
                           "")) != -1) {
        if (c == 'V') {
            printf("entrakey %s (libentrakey %s)\n", EK_VERSION_STRING,
                   ek_version());
            return CLI_EXIT_OK;
        }
        rc = cli_common_opt(&cli, c, optarg, "", usage_main);
        if (rc != 0)
            return rc;
    }
    if (optind >= argc) {
        fputs(usage_main, stderr);
        return CLI_EXIT_USAGE;
    }
    /* entrakey help [COMMAND] is COMMAND --help */
    if (strcmp(argv[optind], "help") == 0) {
        if (optind + 1 >= argc) {
            fputs(usage_main, stdout);
            return CLI_EXIT_OK;
        }
        if (optind + 2 < argc)
            return cli_usage("help", NULL, "give one command");
        help[0] = argv[optind + 1];
        argc = 2;
        argv = help;
        optind = 0;
    }
    for (i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[optind], commands[i].name) != 0)
            continue;
        return cli_main_run(&cli, commands[i].name, commands[i].fn,
                            argc - optind, argv + optind);
    }
    return cli_usage("", NULL, "unknown command '%s'", argv[optind]);
}
