/* fuzz_pinsource.c: PIN-source strings (--pin-source) and key ids in hex
 * (ek_key_id_parse). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "internal.h"

/* s without a leading 0x and without ':' (at most len - 1 characters). */
static const char *
bare_hex(const char *s, char *out, size_t len)
{
    size_t n = 0;

    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    for (; *s != '\0' && n + 1 < len; s++)
        if (*s != ':')
            out[n++] = *s;
    out[n] = '\0';
    return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ek_ctx *ctx = NULL;
    unsigned char id[64];
    size_t idlen = sizeof id;
    char hex[2 * sizeof id + 1], plain[2 * sizeof id + 1];
    char *s;
    ek_err r;

    if ((s = malloc(size + 1)) == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (ek_ctx_new(&ctx) == EK_OK) {
        /* a source is accepted only in one of its three forms */
        r = ek_ctx_set_pin_source(ctx, s);
        FUZZ_CHECK(r == EK_OK || r == EK_ERR_USAGE);
        if (r == EK_OK)
            FUZZ_CHECK(strncmp(s, "env:", 4) == 0 ||
                       strncmp(s, "file:", 5) == 0 ||
                       strncmp(s, "fd:", 3) == 0);
        /* a refused source is never repeated: it could be the PIN */
        if (r == EK_ERR_USAGE && strlen(s) >= 4 &&
            strspn(s, "0123456789") == strlen(s))
            FUZZ_CHECK(strstr(ek_ctx_errmsg(ctx), s) == NULL);
        FUZZ_CHECK(ek_ctx_set_so_pin_source(ctx, s) == r);
        /* an id that parses is the hex of what it parses to, less its
         * 0x and the ':' between bytes */
        r = ek_key_id_parse(ctx, s, id, &idlen);
        FUZZ_CHECK(r == EK_OK || r == EK_ERR_USAGE);
        if (r == EK_OK) {
            FUZZ_CHECK(idlen >= 1 && idlen <= sizeof id);
            ek_hex_encode(id, idlen, hex, 0);
            FUZZ_CHECK(strcasecmp(hex, bare_hex(s, plain, sizeof plain)) == 0);
        }
        (void)ek_ctx_set_module(ctx, s);
        ek_ctx_free(&ctx);
    }
    free(s);
    return 0;
}
