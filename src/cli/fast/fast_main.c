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
 * hand-over, where the whole command says it again.
 *
 * The direct path of token and assert, the one whose start-up counts,
 * loads the whole command into this process (entrakey-full.so, the same
 * code as entrakey-full) instead of executing entrakey-full: a second
 * exec and start of a process was about 3 ms of a 26 ms cold token
 * (docs/performance.md). Without entrakey-full.so, or when it cannot be
 * loaded, entrakey-full is executed as for the other commands. */
#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static char **full_argv;
static int full_argc;

/* Where the whole command lies, with suffix ("" for entrakey-full, ".so"
 * for its loadable twin): EK_FULL_FROM_BIN (the installed layout, relative
 * to this binary's directory), else beside it (a build tree), else where
 * it was to be installed (EK_FULL_INSTALLED). Calls try(path) on each
 * until one returns; self gets this binary's directory ("" when
 * /proc/self/exe cannot say it: then only the installed path is tried). */
static void
each_full_path(const char *suffix, void (*try)(const char *path),
               char self[PATH_MAX])
{
    static const char *const rel[] = {EK_FULL_FROM_BIN, "entrakey-full"};
    char path[PATH_MAX + 64];
    ssize_t n;
    size_t i;
    char *slash;

    n = readlink("/proc/self/exe", self, PATH_MAX - 1);
    if (n <= 0)
        n = 0;
    self[n] = '\0';
    if (n > 0) {
        if ((slash = strrchr(self, '/')) != NULL)
            slash[1] = '\0';
        for (i = 0; i < sizeof rel / sizeof rel[0]; i++)
            if ((size_t)snprintf(path, sizeof path, "%s%s%s", self, rel[i],
                                 suffix) < sizeof path)
                try(path);
    }
    if ((size_t)snprintf(path, sizeof path, "%s%s", EK_FULL_INSTALLED, suffix) <
        sizeof path)
        try(path);
}

/* dlopen's try: runs the whole command in this process if path is it,
 * and exits with its status; returns when it is not there or cannot be
 * loaded (entrakey-full is executed then). */
static void
try_load(const char *path)
{
    int (*full_main)(int, char **);
    void *h;

    if ((h = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL)
        return;
    *(void **)&full_main = dlsym(h, "ek_full_main");
    if (full_main == NULL) {
        (void)dlclose(h);
        return;
    }
    /* what was said so far the whole command says again, with standard
     * error unbuffered as in a process of its own */
    __fpurge(stdout);
    __fpurge(stderr);
    (void)setvbuf(stderr, NULL, _IONBF, 0);
    cli_main_handover();
    optind = 0; /* getopt starts again, as in a process of its own */
    exit(full_main(full_argc, full_argv));
}

static int exec_err = ENOENT;

/* execv's try: returns only when path cannot be executed */
static void
try_exec(const char *path)
{
    execv(path, full_argv);
    if (errno != ENOENT)
        exec_err = errno;
}

/* The whole command, executed (entrakey-full; see each_full_path). */
static _Noreturn void
run_full(void)
{
    char self[PATH_MAX];

    /* what was said so far the whole command says again */
    __fpurge(stdout);
    __fpurge(stderr);
    each_full_path("", try_exec, self);
    if (self[0] != '\0')
        fprintf(stderr,
                "entrakey: cannot run the whole command %s%s or %s: %s "
                "(is the installation complete?)\n",
                self, EK_FULL_FROM_BIN, EK_FULL_INSTALLED, strerror(exec_err));
    else
        fprintf(stderr,
                "entrakey: cannot run the whole command %s: %s (and "
                "/proc/self/exe, which says where entrakey is, cannot be "
                "read)\n",
                EK_FULL_INSTALLED, strerror(exec_err));
    (void)fflush(stderr);
    _exit(CLI_EXIT_INTERNAL);
}

/* The direct path: the whole command in this process, else executed. */
static _Noreturn void
run_direct(void)
{
    char self[PATH_MAX];

    each_full_path(".so", try_load, self);
    run_full();
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
    run_direct();
}

int
cli_direct_assert(struct cli *cli, struct cli_sign *s,
                  struct ek_assertion_params *p, struct ek_secret **jwtp)
{
    (void)cli;
    (void)s;
    (void)p;
    (void)jwtp;
    run_direct();
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
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    static char errbuf[16384];
    struct cli cli;
    size_t i;
    int c;

    full_argv = argv;
    full_argc = argc;
    if (argc < 2 || verbose_asked(argc, argv))
        run_full();
    (void)setvbuf(stderr, errbuf, _IOFBF, sizeof errbuf);
    cli_main_begin();
    memset(&cli, 0, sizeof cli);
    /* leading common options, as main.c takes them (entrakey --module M
     * token ...); --version, --help and a wrong one the whole command says */
    while ((c = cli_getopt(argc, argv, "+" CLI_COMMON_SHORTOPTS, longopts,
                           "")) != -1)
        if (c == 'V' || c == 'h' ||
            cli_common_opt(&cli, c, optarg, "", "") != 0)
            run_full();
    if (optind >= argc)
        run_full();
    for (i = 0; i < sizeof fast / sizeof fast[0]; i++)
        if (strcmp(argv[optind], fast[i].name) == 0)
            break;
    if (i == sizeof fast / sizeof fast[0])
        run_full();
    return cli_main_end(cli_main_run(&cli, fast[i].name, fast[i].fn,
                                     argc - optind, argv + optind));
}
