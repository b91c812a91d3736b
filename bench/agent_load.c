/* agent_load.c: many clients at once against `entrakey agent`, for the
 * benchmark: THREADS threads each send REQUESTS/THREADS requests over the
 * agent's Unix socket (one connection per request, as a client process
 * makes) and check each answer is 200 with the expected field. Prints
 * "N requests/s" on stdout. Not part of the product; the HTTP here is the
 * least a load generator needs.
 *
 * usage: agent_load SOCKET PATH BODY-FILE THREADS REQUESTS */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char *sock_path, *path;
static char body[8192];
static size_t body_len;
static long per_thread;
static long failures;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static int
one(void)
{
    struct sockaddr_un sa;
    char req[9000], resp[16384];
    size_t got = 0;
    ssize_t n;
    int fd, len, ok;

    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock_path);
    if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    len = snprintf(req, sizeof req,
                   "POST %s HTTP/1.1\r\nHost: localhost\r\n"
                   "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                   "Connection: close\r\n\r\n%s",
                   path, body_len, body);
    if (write(fd, req, (size_t)len) != len) {
        close(fd);
        return -1;
    }
    while (got < sizeof resp - 1 &&
           (n = read(fd, resp + got, sizeof resp - 1 - got)) > 0)
        got += (size_t)n;
    resp[got] = '\0';
    close(fd);
    ok = strncmp(resp, "HTTP/1.1 200", 12) == 0 &&
         (strstr(resp, "\"access_token\"") != NULL ||
          strstr(resp, "\"assertion\"") != NULL);
    return ok ? 0 : -1;
}

static void *
worker(void *arg)
{
    long i, bad = 0;

    (void)arg;
    for (i = 0; i < per_thread; i++)
        if (one() != 0)
            bad++;
    pthread_mutex_lock(&mu);
    failures += bad;
    pthread_mutex_unlock(&mu);
    return NULL;
}

int
main(int argc, char **argv)
{
    pthread_t th[256];
    struct timespec t0, t1;
    FILE *f;
    long threads, total, i;
    double secs;

    if (argc != 6) {
        fprintf(stderr, "usage: agent_load SOCKET PATH BODY-FILE THREADS "
                        "REQUESTS\n");
        return 2;
    }
    sock_path = argv[1];
    path = argv[2];
    if ((f = fopen(argv[3], "r")) == NULL)
        return 2;
    body_len = fread(body, 1, sizeof body - 1, f);
    fclose(f);
    body[body_len] = '\0';
    threads = strtol(argv[4], NULL, 10);
    total = strtol(argv[5], NULL, 10);
    if (threads < 1 || threads > 256 || total < threads)
        return 2;
    per_thread = total / threads;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (i = 0; i < threads; i++)
        pthread_create(&th[i], NULL, worker, NULL);
    for (i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) +
           (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("%.1f requests/s\n", (double)(per_thread * threads) / secs);
    if (failures > 0) {
        fprintf(stderr, "agent_load: %ld of %ld requests failed\n", failures,
                per_thread * threads);
        return 1;
    }
    return 0;
}
