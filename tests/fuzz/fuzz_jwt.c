/* fuzz_jwt.c: JWT-like text checked by ek_assertion_verify against a fixed
 * certificate: whatever the text, no harm; what verifies stops verifying
 * when one character of its payload or signature changes, and does not
 * verify with another certificate. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "fuzz.h"
#include "fuzz_keys.h"
#include "internal.h"

static struct ek_cert *cert, *other;

static struct ek_cert *
load(const char *pem)
{
    struct ek_ctx *ctx = NULL;
    struct ek_cert *c = NULL;

    if (ek_ctx_new(&ctx) != EK_OK ||
        ek_cert_load(ctx, (const unsigned char *)pem, strlen(pem), &c) != EK_OK)
        abort();
    ek_ctx_free(&ctx);
    return c;
}

static ek_err
verify(const char *jwt, const struct ek_cert *c)
{
    struct ek_ctx *ctx = NULL;
    ek_err r;

    if (ek_ctx_new(&ctx) != EK_OK)
        abort();
    r = ek_assertion_verify(ctx, jwt, c);
    FUZZ_CHECK(r == EK_OK || r == EK_ERR_USAGE || r == EK_ERR_CERT ||
               r == EK_ERR_INTERNAL);
    if (r != EK_OK)
        FUZZ_CHECK(strcmp(ek_ctx_errmsg(ctx), "no error recorded") != 0);
    ek_ctx_free(&ctx);
    ERR_clear_error();
    return r;
}

/* Verifies s with s[i] replaced by another base64url character. */
static ek_err
verify_changed(char *s, size_t i)
{
    char keep = s[i];
    ek_err r;

    s[i] = keep == 'A' ? 'B' : 'A';
    r = verify(s, cert);
    s[i] = keep;
    return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s;
    char *dot1, *dot2;

    if (cert == NULL) {
        cert = load(fuzz_cert_pem);
        other = load(fuzz_other_cert_pem);
    }
    if ((s = fuzz_cstring(data, size)) == NULL)
        return 0;
    if (verify(s, cert) == EK_OK) {
        FUZZ_CHECK(verify(s, other) != EK_OK);
        FUZZ_CHECK((dot1 = strchr(s, '.')) != NULL);
        FUZZ_CHECK((dot2 = strchr(dot1 + 1, '.')) != NULL);
        FUZZ_CHECK(dot2[1] != '\0');
        /* the first character of the signature carries six bits */
        FUZZ_CHECK(verify_changed(s, (size_t)(dot2 + 1 - s)) == EK_ERR_CERT);
        if (dot2 > dot1 + 1)
            FUZZ_CHECK(verify_changed(s, (size_t)(dot1 + 1 - s)) ==
                       EK_ERR_CERT);
        FUZZ_CHECK(verify_changed(s, 0) != EK_OK);
    }
    free(s);
    return 0;
}
