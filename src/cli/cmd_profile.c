/* cmd_profile.c: TEMPORARY stub of `entrakey profile`. */
#include "cli.h"

int
cmd_profile(struct cli *cli, int argc, char **argv)
{
    (void)cli;
    (void)argc;
    fprintf(stderr, "entrakey: %s is not implemented yet\n", argv[0]);
    return CLI_EXIT_INTERNAL;
}
