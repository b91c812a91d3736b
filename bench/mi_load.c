/* mi_load.c: the managed-identity benchmark's client: REQUESTS sequential
 * GETs of PATH on 127.0.0.1:PORT with the X-IDENTITY-HEADER HEADER, either
 * a new connection per request ("close") or all over one connection
 * ("keepalive"); each answer must be 200 with an access_token. Prints
 * "N requests/s, median U us". Not part of the product; the HTTP here is
 * the least a load generator needs.
 *
 * usage: mi_load PORT PATH HEADER close|keepalive REQUESTS */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double
now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
conn(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* One request and its whole answer (Content-Length); 0 ok. */
static int
one(int fd, const char *req, size_t reqlen)
{
    char buf[16384], *hdr_end, *cl;
    size_t got = 0, need;
    ssize_t n;

    if (write(fd, req, reqlen) != (ssize_t)reqlen)
        return -1;
    for (;;) {
        n = read(fd, buf + got, sizeof buf - 1 - got);
        if (n <= 0)
            return -1;
        got += (size_t)n;
        buf[got] = '\0';
        if ((hdr_end = strstr(buf, "\r\n\r\n")) == NULL)
            continue;
        if ((cl = strcasestr(buf, "\r\nContent-Length:")) == NULL ||
            cl > hdr_end)
            return -1;
        need = (size_t)(hdr_end + 4 - buf) + strtoul(cl + 17, NULL, 10);
        if (got >= need)
            break;
    }
    return strncmp(buf + 9, "200", 3) == 0 &&
                   strstr(buf, "\"access_token\"") != NULL
               ? 0
               : -1;
}

static int
cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
    char req[2048];
    int port, keep, fd = -1, len;
    long n, i;
    double *lat, t0, t1, start;

    if (argc != 6)
        return fprintf(stderr, "usage: mi_load PORT PATH HEADER "
                               "close|keepalive REQUESTS\n"),
               2;
    port = atoi(argv[1]);
    keep = strcmp(argv[4], "keepalive") == 0;
    n = atol(argv[5]);
    len = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                   "X-IDENTITY-HEADER: %s\r\n%s\r\n",
                   argv[2], port, argv[3], keep ? "" : "Connection: close\r\n");
    if ((lat = calloc((size_t)n, sizeof *lat)) == NULL)
        return 1;
    start = now_us();
    for (i = 0; i < n; i++) {
        t0 = now_us();
        if (fd < 0 && (fd = conn(port)) < 0)
            return fprintf(stderr, "mi_load: cannot connect\n"), 1;
        if (one(fd, req, (size_t)len) != 0)
            return fprintf(stderr, "mi_load: request %ld failed\n", i), 1;
        if (!keep) {
            close(fd);
            fd = -1;
        }
        t1 = now_us();
        lat[i] = t1 - t0;
    }
    t1 = now_us();
    qsort(lat, (size_t)n, sizeof *lat, cmp);
    printf("%.0f requests/s, median %.0f us\n", (double)n * 1e6 / (t1 - start),
           lat[n / 2]);
    return 0;
}
