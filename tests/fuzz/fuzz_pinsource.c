/* fuzz_pinsource.c: PIN-source strings (--pin-source) and hex ids. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ek_ctx *ctx = NULL;
    unsigned char id[64];
    size_t idlen = sizeof id;
    char *s;

    if ((s = malloc(size + 1)) == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (ek_ctx_new(&ctx) == EK_OK) {
        (void)ek_ctx_set_pin_source(ctx, s);
        (void)ek_ctx_set_so_pin_source(ctx, s);
        (void)ek_hex_decode(ctx, s, id, &idlen);
        (void)ek_ctx_set_module(ctx, s);
        ek_ctx_free(&ctx);
    }
    free(s);
    return 0;
}
