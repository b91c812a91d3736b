/* trivial_http.c: the managed-identity benchmark's floor: a loopback HTTP
 * server that answers every request with the same 200 JSON body (read
 * from BODY-FILE: a real answer of the endpoint), one connection at a time,
 * keep-alive honoured. Prints its port on stdout. Not part of the product.
 *
 * usage: trivial_http BODY-FILE */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
    static char body[16384], resp[17000], buf[16384];
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    FILE *f;
    size_t blen, rlen, got;
    ssize_t n;
    int lfd, fd, one = 1, closing;

    if (argc != 2 || (f = fopen(argv[1], "r")) == NULL)
        return 2;
    blen = fread(body, 1, sizeof body, f);
    fclose(f);
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(lfd, 256) != 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl) != 0)
        return 1;
    printf("%d\n", ntohs(sa.sin_port));
    fflush(stdout);
    for (;;) {
        if ((fd = accept(lfd, NULL, NULL)) < 0)
            continue;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        for (;;) {
            got = 0;
            buf[0] = '\0';
            while (strstr(buf, "\r\n\r\n") == NULL &&
                   (n = read(fd, buf + got, sizeof buf - 1 - got)) > 0) {
                got += (size_t)n;
                buf[got] = '\0';
            }
            if (strstr(buf, "\r\n\r\n") == NULL)
                break;
            closing = strcasestr(buf, "Connection: close") != NULL;
            rlen = (size_t)snprintf(resp, sizeof resp,
                                    "HTTP/1.1 200 OK\r\nContent-Type: "
                                    "application/json\r\nContent-Length: "
                                    "%zu\r\n\r\n",
                                    blen);
            memcpy(resp + rlen, body, blen);
            if (write(fd, resp, rlen + blen) < 0 || closing)
                break;
        }
        close(fd);
    }
}
