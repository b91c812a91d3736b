/* fast_main.c: `entrakey` as it is installed. `entrakey token` and
 * `entrakey assert` that a running agent serves are answered here, by the
 * commands' own code (cmd_token.c, cmd_assert.c, cli_opts.c) linked
 * without the token, TLS, X.509 and agent code: the client starts in a
 * millisecond or two instead of ten (docs/performance.md). Every other
 * command, and a request the agent does not serve, runs the whole command
 * (entrakey-full, in libexec) with the same arguments, environment and
 * descriptors: cli_direct_token and cli_direct_assert below stand for
 * direct.c and start it. Nothing is printed before that hand-over: standard
 * error is held in a buffer until the command ends, and dropped at the
 * hand-over, where the whole command says it again. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static char **full_argv;

/* The whole command: EK_FULL_FROM_BIN (the installed layout, relative to
 * this binary's directory), else entrakey-full beside it (a build tree),
 * else where it was to be installed (EK_FULL_INSTALLED: a copy of
 * entrakey elsewhere, or no /proc to say where this binary is). */
static _Noreturn void
run_full(void)
{
    static const char *const rel[] = {EK_FULL_FROM_BIN, "entrakey-full"};
    char self[PATH_MAX], path[PATH_MAX + 64];
    ssize_t n;
    size_t i;
    char *slash;
    int err = ENOENT;

    /* what was said so far the whole command says again */
    __fpurge(stdout);
    __fpurge(stderr);
    n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        if ((slash = strrchr(self, '/')) != NULL)
            slash[1] = '\0';
        for (i = 0; i < sizeof rel / sizeof rel[0]; i++) {
            if ((size_t)snprintf(path, sizeof path, "%s%s", self, rel[i]) >=
                sizeof path)
                continue;
            execv(path, full_argv);
            if (errno != ENOENT)
                err = errno;
        }
    }
    execv(EK_FULL_INSTALLED, full_argv);
    if (errno != ENOENT)
        err = errno;
    if (n > 0)
        fprintf(stderr,
                "entrakey: cannot run the whole command %s%s or %s: %s "
                "(is the installation complete?)\n",
                self, rel[0], EK_FULL_INSTALLED, strerror(err));
    else
        fprintf(stderr,
                "entrakey: cannot run the whole command %s: %s (and "
                "/proc/self/exe, which says where entrakey is, cannot be "
                "read)\n",
                EK_FULL_INSTALLED, strerror(err));
    (void)fflush(stderr);
    _exit(CLI_EXIT_INTERNAL);
}

int
cli_direct_token(struct cli *cli, struct cli_sign *s,
                 struct ek_access_token_params *p, struct ek_access_token **atp,
                 struct ek_key **keyp)
{
    (void)cli;
    (void)s;
    (void)p;
    (void)atp;
    (void)keyp;
    run_full();
}

int
cli_direct_assert(struct cli *cli, struct cli_sign *s,
                  struct ek_assertion_params *p, struct ek_secret **jwtp)
{
    (void)cli;
    (void)s;
    (void)p;
    (void)jwtp;
    run_full();
}

/* -v says what the whole command does: it runs from the start, so nothing
 * is said twice. Over-matching (an option's value "-v") only costs the
 * fast start. */
static int
verbose_asked(int argc, char **argv)
{
    int i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--verbose") == 0)
            return 1;
        if (argv[i][0] == '-' && argv[i][1] != '-' &&
            strchr(argv[i], 'v') != NULL)
            return 1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(struct cli *, int, char **);
    } fast[] = {{"token", cmd_token}, {"assert", cmd_assert}};
    static char errbuf[16384];
    struct cli cli;
    size_t i;

    full_argv = argv;
    if (argc < 2 || verbose_asked(argc, argv))
        run_full();
    for (i = 0; i < sizeof fast / sizeof fast[0]; i++)
        if (strcmp(argv[1], fast[i].name) == 0)
            break;
    if (i == sizeof fast / sizeof fast[0])
        run_full();
    (void)setvbuf(stderr, errbuf, _IOFBF, sizeof errbuf);
    cli_main_begin();
    memset(&cli, 0, sizeof cli);
    return cli_main_end(
        cli_main_run(&cli, fast[i].name, fast[i].fn, argc - 1, argv + 1));
}
