/* fuzz_dn.c: distinguished names as --subject takes them (cert_dn_parse):
 * "CN=…,O=…" and "/O=…/CN=…", with escapes and UTF-8 values. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "cert.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ek_ctx *ctx = NULL;
    X509_NAME *name = NULL, *again = NULL;
    unsigned char *der = NULL;
    const unsigned char *p;
    char *s = NULL, *text = NULL;
    int len;
    ek_err r;

    if ((s = fuzz_cstring(data, size)) == NULL || ek_ctx_new(&ctx) != EK_OK)
        goto out;
    r = cert_dn_parse(ctx, s, &name);
    FUZZ_CHECK((r == EK_OK) == (name != NULL));
    if (r != EK_OK) {
        FUZZ_CHECK(r == EK_ERR_USAGE || r == EK_ERR_INTERNAL);
        FUZZ_CHECK(ctx->errmsg[0] != '\0');
        goto out;
    }
    /* a name made is a name that encodes, decodes and prints */
    FUZZ_CHECK(X509_NAME_entry_count(name) > 0);
    FUZZ_CHECK((len = i2d_X509_NAME(name, &der)) > 0);
    p = der;
    FUZZ_CHECK((again = d2i_X509_NAME(NULL, &p, len)) != NULL);
    FUZZ_CHECK(p == der + len);
    FUZZ_CHECK(X509_NAME_cmp(name, again) == 0);
    FUZZ_CHECK((text = cert_name_string(ctx, name)) != NULL);
    FUZZ_CHECK(text[0] != '\0');
out:
    ERR_clear_error();
    free(text);
    OPENSSL_free(der);
    X509_NAME_free(again);
    X509_NAME_free(name);
    ek_ctx_free(&ctx);
    free(s);
    return 0;
}
