/* http_sink.c: a response body that libcurl writes into a wiped buffer, up
 * to a cap: the token endpoint's answer (http.c) and the agent's
 * (agent_client.c). Apart from http.c so that the agent's client links it
 * without the HTTPS request code. */
#include "http.h"

size_t
http_sink_write(char *data, size_t size, size_t nmemb, void *arg)
{
    struct http_sink *s = arg;
    size_t n = size * nmemb;

    if (n > s->max - s->body->len) {
        s->too_big = 1;
        return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
    }
    if (n > 0 && ek_secret_append(s->ctx, s->body, data, n) != EK_OK) {
        s->oom = 1;
        return 0;
    }
    return n;
}
