/* cli_main.c: what both entrakey binaries do around a command: standard
 * output judged once at the end, core dumps off and the library context
 * made before a command runs (main.c: the whole command; fast/: the
 * agent's client). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "cli.h"

/* Standard output is buffered: a full disk or a closed pipe shows only
 * when it is flushed, so a command that printed is judged once, here,
 * after it returned (coreutils' close_stdout). */
static int stdout_checked;

int
cli_main_end(int rc)
{
    int err = 0;

    (void)fflush(stderr);
    if (stdout_checked)
        return rc;
    stdout_checked = 1;
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout))
        err = errno != 0 ? errno : EIO;
    if (fclose(stdout) != 0 && err == 0)
        err = errno != 0 ? errno : EIO;
    if (err == 0)
        return rc;
    fprintf(stderr,
            "entrakey: cannot write to standard output: %s; what "
            "was printed is incomplete\n",
            strerror(err));
    (void)fflush(stderr);
    return rc == CLI_EXIT_OK ? CLI_EXIT_FILE : rc;
}

void
cli_main_handover(void)
{
    stdout_checked = 1;
}

/* For the paths that call exit() (--help). */
static void
end_at_exit(void)
{
    int rc = cli_main_end(CLI_EXIT_OK);

    if (rc != CLI_EXIT_OK)
        _exit(rc);
}

void
cli_main_begin(void)
{
    atexit(end_at_exit);
    cli_clock_start();
    signal(SIGPIPE, SIG_IGN);
}

int
cli_main_run(struct cli *cli, const char *name,
             int (*fn)(struct cli *, int, char **), int argc, char **argv)
{
    int rc;

    /* before any PIN is read: no core file, and /proc/PID/mem, environ and
     * ptrace for root only (an exec child is dumpable again) */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        fprintf(stderr,
                "entrakey: cannot turn core dumps off "
                "(prctl): %s\n",
                strerror(errno));
        return CLI_EXIT_INTERNAL;
    }
    if (ek_ctx_new(&cli->ctx) != EK_OK) {
        fprintf(stderr, "entrakey: out of memory\n");
        return CLI_EXIT_INTERNAL;
    }
    ek_ctx_set_pin_prompt(cli->ctx, cli_prompt_pin, NULL);
    /* a module path set on the context came from --module, unless the
     * option group says it came from a profile */
    if (ek_ctx_set_module_origin(cli->ctx, "--module") != EK_OK) {
        ek_ctx_free(&cli->ctx);
        fprintf(stderr, "entrakey: out of memory\n");
        return CLI_EXIT_INTERNAL;
    }
    cli->cmd = name;
    /* commands parse from their own name on */
    optind = 0;
    rc = fn(cli, argc, argv);
    ek_ctx_free(&cli->ctx);
    return rc;
}
