/* cmd_quickstart.c: TEMPORARY stub of `entrakey quickstart`. */
#include "cli.h"

int
cmd_quickstart(struct cli *cli, int argc, char **argv)
{
    (void)cli;
    (void)argc;
    fprintf(stderr, "entrakey: %s is not implemented yet\n", argv[0]);
    return CLI_EXIT_INTERNAL;
}
