/* fuzz.h: what the fuzz targets share: the entry point's prototype, a
 * NUL-terminated copy of the input, and an oracle that aborts (so that
 * libFuzzer and the replay main both report a broken property). */
#ifndef EK_FUZZ_H
#define EK_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property every input must keep; a broken one is a finding. Prints
 * only when it fails, so a run is silent otherwise. */
#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: property broken: %s\n", __FILE__,          \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* The input up to its first NUL, as a malloc'd C string (NULL when out of
 * memory): the parsers that take a C string see what a caller would
 * pass. */
static inline char *
fuzz_cstring(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, '\0', size);
    size_t n = nul != NULL ? (size_t)(nul - data) : size;
    char *s;

    if ((s = malloc(n + 1)) == NULL)
        return NULL;
    memcpy(s, data, n);
    s[n] = '\0';
    return s;
}

/* An agent's answer as libcurl hands it to the client (agent_client.c):
 * the seeds of fuzz_agent_answer are "NNN\n" (the HTTP status) then the
 * body. The status, and the body's offset in *offp; 200 and 0 when the
 * input does not start so. */
static inline long
fuzz_agent_status(const uint8_t *data, size_t size, size_t *offp)
{
    long status = 0;
    size_t i;

    for (i = 0; i < 3 && i < size && data[i] >= '0' && data[i] <= '9'; i++)
        status = status * 10 + (data[i] - '0');
    if (i == 3 && size > 3 && data[3] == '\n') {
        *offp = 4;
        return status;
    }
    *offp = 0;
    return 200;
}

#endif /* EK_FUZZ_H */
