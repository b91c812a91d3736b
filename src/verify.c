/* verify.c: checks an assertion signed on the token against its
 * certificate, with OpenSSL alone (quickstart's local proof). */
#include "internal.h"

ek_err
ek_assertion_verify(struct ek_ctx *ctx, const char *jwt,
                    const struct ek_cert *cert)
{
    (void)jwt;
    (void)cert;
    return ek_seterr(ctx, EK_ERR_INTERNAL, "not implemented yet");
}
