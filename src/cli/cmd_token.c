/* cmd_token.c: TEMPORARY stub of `entrakey token`. */
#include "cli.h"

int
cmd_token(struct cli *cli, int argc, char **argv)
{
    (void)cli;
    (void)argc;
    fprintf(stderr, "entrakey: %s is not implemented yet\n", argv[0]);
    return CLI_EXIT_INTERNAL;
}
