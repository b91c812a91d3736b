/* timeit.c: runs one command as a whole process and prints its wall time,
 * peak RSS and exit status; the benchmark's stopwatch, not part of the
 * product.
 *
 * usage: timeit [-o OUT] [-e ERR] -- COMMAND [ARGS...]
 * Prints "WALL_MS MAXRSS_KB STATUS CPU_MS" on stdout (CPU: user + system
 * time of the child, which other load on the machine disturbs less). The clock
 * runs from just before posix_spawn to the return of wait4, so the shell that
 * calls timeit costs nothing. The child's stdin is /dev/null; stdout and stderr
 * go to OUT and ERR (default /dev/null). STATUS is the exit code, or
 * 128+signal. The peak RSS is the child's ru_maxrss (what /usr/bin/time -f %M
 * shows). */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int
main(int argc, char **argv)
{
    posix_spawn_file_actions_t fa;
    const char *out = "/dev/null", *err = "/dev/null";
    struct rusage ru;
    double t0, t1;
    pid_t pid;
    int c, st, rc;

    while ((c = getopt(argc, argv, "+o:e:")) != -1) {
        switch (c) {
        case 'o':
            out = optarg;
            break;
        case 'e':
            err = optarg;
            break;
        default:
            fprintf(stderr, "usage: timeit [-o OUT] [-e ERR] -- CMD...\n");
            return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "usage: timeit [-o OUT] [-e ERR] -- CMD...\n");
        return 2;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    t0 = now_ms();
    rc = posix_spawnp(&pid, argv[optind], &fa, NULL, argv + optind, environ);
    if (rc != 0) {
        fprintf(stderr, "timeit: cannot run %s: %s\n", argv[optind],
                strerror(rc));
        return 127;
    }
    if (wait4(pid, &st, 0, &ru) < 0) {
        perror("timeit: wait4");
        return 1;
    }
    t1 = now_ms();
    posix_spawn_file_actions_destroy(&fa);
    if (WIFEXITED(st))
        rc = WEXITSTATUS(st);
    else
        rc = 128 + WTERMSIG(st);
    printf("%.3f %ld %d %.3f\n", t1 - t0, ru.ru_maxrss, rc,
           (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
               (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3);
    return 0;
}
