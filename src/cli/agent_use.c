/* agent_use.c: whether `token`, `assert` and `exec` ask a running
 * `entrakey agent` or sign directly (--agent, --no-agent, the default). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

int
cli_agent_sock(struct cli *cli, int mode, char **sockp)
{
    struct stat st;
    const char *env = getenv("ENTRAKEY_AGENT_SOCK");
    ek_err r;

    *sockp = NULL;
    if (mode < 0) {
        if (cli->verbose)
            fprintf(stderr, "entrakey: --no-agent: signing directly\n");
        return 0;
    }
    if ((r = ek_agent_socket_path(cli->ctx, sockp)) != EK_OK) {
        if (mode > 0)
            return cli_fail(cli, r);
        return 0;
    }
    /* the default socket is asked only when it is there */
    if (mode == 0 && (env == NULL || env[0] == '\0') &&
        (stat(*sockp, &st) != 0 || !S_ISSOCK(st.st_mode))) {
        if (cli->verbose)
            fprintf(stderr,
                    "entrakey: no agent socket at %s; signing "
                    "directly\n",
                    *sockp);
        ek_free(*sockp);
        *sockp = NULL;
    }
    return 0;
}

int
cli_agent_fallback(struct cli *cli, int mode, const char *sock, ek_err r)
{
    if (r == EK_OK) {
        if (cli->verbose)
            fprintf(stderr, "entrakey: served by the agent at %s\n", sock);
        return 0;
    }
    if (r == EK_ERR_NO_AGENT && mode == 0) {
        if (cli->verbose)
            fprintf(stderr, "entrakey: %s; signing directly\n",
                    ek_ctx_errmsg(cli->ctx));
        return -1;
    }
    return cli_fail(cli, r);
}
