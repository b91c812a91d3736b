/* fuzz_b64url.c: base64url (jose_b64url_decode / _encode): any text
 * decodes or is refused without harm, a text that decodes is the one
 * encoding of its bytes, and decode(encode(x)) == x; the padded base64 of
 * the manifest agrees with OpenSSL's encoder. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "fuzz.h"
#include "jose.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The input as text: decoded, then encoded back. */
static void
check_decode(struct ek_ctx *ctx, const uint8_t *data, size_t size)
{
    char *text = NULL, *back = NULL;
    unsigned char *out = NULL;
    size_t outlen = 0;
    ek_err r;

    /* exact size, no NUL after it: the decoder must keep to len */
    if ((text = malloc(size > 0 ? size : 1)) == NULL)
        return;
    memcpy(text, data, size);
    r = jose_b64url_decode(ctx, text, size, &out, &outlen);
    FUZZ_CHECK((r == EK_OK) == (out != NULL));
    if (r != EK_OK) {
        FUZZ_CHECK(r == EK_ERR_USAGE && ctx->errmsg[0] != '\0');
        FUZZ_CHECK(outlen == 0);
        goto out;
    }
    FUZZ_CHECK(outlen == size * 3 / 4);
    FUZZ_CHECK(out[outlen] == '\0');
    FUZZ_CHECK(jose_b64url_len(outlen) == size);
    if ((back = malloc(size + 1)) == NULL)
        goto out;
    jose_b64url_encode(out, outlen, back);
    FUZZ_CHECK(strlen(back) == size && memcmp(back, data, size) == 0);
out:
    free(back);
    free(out);
    free(text);
}

/* The input as bytes: encoded, then decoded back. */
static void
check_encode(struct ek_ctx *ctx, const uint8_t *data, size_t size)
{
    size_t n = jose_b64url_len(size), outlen = 0;
    char *text = NULL, *padded = NULL;
    unsigned char *out = NULL, *peer = NULL;
    int plen;

    if ((text = malloc(n + 1)) == NULL)
        return;
    jose_b64url_encode(data, size, text);
    FUZZ_CHECK(strlen(text) == n && strspn(text, alphabet) == n);
    FUZZ_CHECK(jose_b64url_decode(ctx, text, n, &out, &outlen) == EK_OK);
    FUZZ_CHECK(outlen == size && memcmp(out, data, size) == 0);

    if ((padded = jose_b64_encode(ctx, data, size)) == NULL ||
        (peer = malloc((size + 2) / 3 * 4 + 1)) == NULL)
        goto out;
    plen = EVP_EncodeBlock(peer, data, (int)size);
    FUZZ_CHECK(plen >= 0 && strlen(padded) == (size_t)plen &&
               memcmp(padded, peer, (size_t)plen) == 0);
out:
    free(peer);
    free(padded);
    free(out);
    free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ek_ctx *ctx = NULL;

    if (ek_ctx_new(&ctx) != EK_OK)
        return 0;
    check_decode(ctx, data, size);
    check_encode(ctx, data, size);
    ek_ctx_free(&ctx);
    return 0;
}
