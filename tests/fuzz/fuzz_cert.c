/* fuzz_cert.c: certificate input, DER or PEM (ek_cert_load), and what is
 * computed from it: thumbprints, names, the manifest JSON. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "cert.h"
#include "fuzz.h"

/* base64url without padding by OpenSSL's encoder: an independent peer */
static void
b64url(const unsigned char *in, size_t n, char *out)
{
    int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n), i;

    while (len > 0 && out[len - 1] == '=')
        out[--len] = '\0';
    for (i = 0; i < len; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
}

static void
check_cert(struct ek_ctx *ctx, const struct ek_cert *c)
{
    const unsigned char *der = NULL;
    unsigned char sha1[20], sha256[32];
    char hex[41], enc[64];
    char *json = NULL;
    cJSON *j = NULL;
    const cJSON *item;
    struct ek_cert *again = NULL;
    size_t len = 0;

    FUZZ_CHECK(ek_cert_der(c, &der, &len) == EK_OK && der != NULL && len > 0);
    FUZZ_CHECK(EVP_Digest(der, len, sha1, NULL, EVP_sha1(), NULL) == 1);
    FUZZ_CHECK(EVP_Digest(der, len, sha256, NULL, EVP_sha256(), NULL) == 1);
    ek_hex_encode(sha1, sizeof sha1, hex, 1);
    FUZZ_CHECK(strcmp(ek_cert_thumbprint(c), hex) == 0);
    b64url(sha1, sizeof sha1, enc);
    FUZZ_CHECK(strcmp(ek_cert_x5t(c), enc) == 0);
    b64url(sha256, sizeof sha256, enc);
    FUZZ_CHECK(strcmp(ek_cert_x5t_s256(c), enc) == 0);
    FUZZ_CHECK(ek_cert_subject(c) != NULL && ek_cert_issuer(c) != NULL);
    FUZZ_CHECK(ek_cert_serial_hex(c) != NULL);
    FUZZ_CHECK(ek_cert_sigalg(c) != NULL && ek_cert_sigalg(c)[0] != '\0');
    (void)ek_cert_key_bits(c);
    (void)ek_cert_not_before(c);
    (void)ek_cert_not_after(c);
    (void)cert_check_validity(ctx, c, 1732681365);

    /* the DER we keep loads again as the same certificate */
    FUZZ_CHECK(ek_cert_load(ctx, der, len, &again) == EK_OK);
    FUZZ_CHECK(strcmp(ek_cert_thumbprint(again), ek_cert_thumbprint(c)) == 0);
    FUZZ_CHECK(strcmp(ek_cert_subject(again), ek_cert_subject(c)) == 0);
    FUZZ_CHECK(strcmp(ek_cert_serial_hex(again), ek_cert_serial_hex(c)) == 0);
    FUZZ_CHECK(ek_cert_not_after(again) == ek_cert_not_after(c));
    ek_cert_free(&again);

    /* the manifest entry is JSON naming this certificate */
    FUZZ_CHECK(ek_cert_manifest_json(ctx, c, &json) == EK_OK);
    FUZZ_CHECK((j = cJSON_Parse(json)) != NULL);
    item = cJSON_GetObjectItemCaseSensitive(j, "displayName");
    FUZZ_CHECK(cJSON_IsString(item));
    FUZZ_CHECK(strncmp(item->valuestring, ek_cert_subject(c),
                       strlen(item->valuestring)) == 0);
    item = cJSON_GetObjectItemCaseSensitive(j, "customKeyIdentifier");
    FUZZ_CHECK(cJSON_IsString(item) && strlen(item->valuestring) == 28);
    cJSON_Delete(j);
    ek_free(json);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ek_ctx *ctx = NULL;
    struct ek_cert *c = NULL;
    ek_err r;

    if (ek_ctx_new(&ctx) != EK_OK)
        return 0;
    r = ek_cert_load(ctx, data, size, &c);
    FUZZ_CHECK((r == EK_OK) == (c != NULL));
    if (r == EK_OK)
        check_cert(ctx, c);
    else
        FUZZ_CHECK(r == EK_ERR_CERT && ctx->errmsg[0] != '\0');
    ek_cert_free(&c);
    ek_ctx_free(&ctx);
    ERR_clear_error();
    return 0;
}
