/* cmd_exec.c: `entrakey exec [KEY-URI] [token options] -- COMMAND [ARGS...]`:
 * gets a token as `entrakey token` does, closes the token session, and
 * execs COMMAND with the token in its environment. The options, the request
 * and the exec live with `token` in cmd_token.c, which serves both commands
 * (it tells them apart by argv[0]) so that the two never drift apart. */
#include "cli.h"

int
cmd_exec(struct cli *cli, int argc, char **argv)
{
    return cmd_token(cli, argc, argv);
}
