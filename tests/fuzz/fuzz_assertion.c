/* fuzz_assertion.c: the JWT round trip: an assertion built by
 * jose_assertion_build (signed by a software key, as the token would)
 * from any client id and audience verifies with ek_assertion_verify, and
 * its header and claims decode to exactly what went in. An input is one
 * byte of options (bit 0: RS256; the rest: the lifetime in 30 s steps),
 * then "CLIENT_ID\nAUDIENCE". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "fuzz.h"
#include "fuzz_keys.h"
#include "jose.h"

#define NOW ((int64_t)1732681365)
#define JTI "6f1c2d3e-4a5b-4c6d-8e7f-901a2b3c4d5e"

static EVP_PKEY *key;
static struct ek_cert *cert;

static ek_err
soft_sign(void *arg, enum ek_alg alg, const unsigned char digest[32],
          unsigned char *sig, size_t *siglen)
{
    EVP_PKEY_CTX *pc;
    int ok;

    if ((pc = EVP_PKEY_CTX_new(arg, NULL)) == NULL)
        abort();
    ok = EVP_PKEY_sign_init(pc) == 1 &&
         EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) == 1 &&
         (alg == EK_ALG_RS256 ||
          (EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) == 1 &&
           EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, 32) == 1 &&
           EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha256()) == 1)) &&
         EVP_PKEY_sign(pc, sig, siglen, digest, 32) == 1;
    EVP_PKEY_CTX_free(pc);
    FUZZ_CHECK(ok);
    return EK_OK;
}

static void
setup(void)
{
    struct ek_ctx *ctx = NULL;
    BIO *bio;

    if ((bio = BIO_new_mem_buf(fuzz_key_pem, -1)) == NULL ||
        (key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) == NULL ||
        ek_ctx_new(&ctx) != EK_OK ||
        ek_cert_load(ctx, (const unsigned char *)fuzz_cert_pem,
                     strlen(fuzz_cert_pem), &cert) != EK_OK)
        abort();
    BIO_free(bio);
    ek_ctx_free(&ctx);
}

/* Part i (0: header, 1: claims) of a JWT, decoded and parsed. */
static cJSON *
part(struct ek_ctx *ctx, const char *jwt, int i)
{
    const char *p = jwt, *end;
    unsigned char *raw = NULL;
    size_t len = 0;
    cJSON *j;

    if (i == 1)
        p = strchr(jwt, '.') + 1;
    end = strchr(p, '.');
    FUZZ_CHECK(jose_b64url_decode(ctx, p, (size_t)(end - p), &raw, &len) ==
               EK_OK);
    FUZZ_CHECK((j = cJSON_ParseWithLength((const char *)raw, len)) != NULL);
    free(raw);
    return j;
}

static int
str_is(const cJSON *o, const char *name, const char *want)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, name);

    return cJSON_IsString(item) && strcmp(item->valuestring, want) == 0;
}

static int
num_is(const cJSON *o, const char *name, int64_t want)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, name);

    return cJSON_IsNumber(item) && item->valuedouble == (double)want;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ek_ctx *ctx = NULL;
    struct ek_secret *jwt = NULL;
    struct jose_assertion a;
    cJSON *hdr = NULL, *claims = NULL;
    char *text = NULL, *nl;
    const char *dot;
    unsigned lifetime;
    ek_err r;

    if (size < 1)
        return 0;
    if (key == NULL)
        setup();
    if ((text = fuzz_cstring(data + 1, size - 1)) == NULL ||
        ek_ctx_new(&ctx) != EK_OK)
        goto out;
    memset(&a, 0, sizeof a);
    a.alg = data[0] & 1 ? EK_ALG_RS256 : EK_ALG_PS256;
    a.lifetime = (unsigned)(data[0] >> 1) * 30u;
    a.x5t_s256 = ek_cert_x5t_s256(cert);
    a.x5t = ek_cert_x5t(cert);
    a.client_id = text;
    a.aud = "https://login.microsoftonline.com/contoso.onmicrosoft.com"
            "/oauth2/v2.0/token";
    if ((nl = strchr(text, '\n')) != NULL) {
        *nl = '\0';
        a.aud = nl + 1;
    }
    a.jti = JTI;
    a.now = NOW;
    r = jose_assertion_build(ctx, &a, soft_sign, key, &jwt);
    FUZZ_CHECK((r == EK_OK) == (jwt != NULL));
    if (r != EK_OK) {
        FUZZ_CHECK(r == EK_ERR_USAGE);
        FUZZ_CHECK(a.client_id[0] == '\0' || a.aud[0] == '\0' ||
                   a.lifetime > JOSE_LIFETIME_MAX);
        goto out;
    }
    FUZZ_CHECK(a.lifetime <= JOSE_LIFETIME_MAX);
    lifetime = a.lifetime == 0 ? JOSE_LIFETIME_DEFAULT : a.lifetime;

    /* it verifies, it is three parts, and it says what went in */
    FUZZ_CHECK(strlen(ek_secret_data(jwt)) == ek_secret_len(jwt));
    FUZZ_CHECK(ek_assertion_verify(ctx, ek_secret_data(jwt), cert) == EK_OK);
    FUZZ_CHECK((dot = strchr(ek_secret_data(jwt), '.')) != NULL &&
               (dot = strchr(dot + 1, '.')) != NULL &&
               strchr(dot + 1, '.') == NULL);
    hdr = part(ctx, ek_secret_data(jwt), 0);
    claims = part(ctx, ek_secret_data(jwt), 1);
    FUZZ_CHECK(str_is(hdr, "alg", a.alg == EK_ALG_RS256 ? "RS256" : "PS256"));
    FUZZ_CHECK(str_is(hdr, "typ", "JWT"));
    FUZZ_CHECK(str_is(hdr, "x5t#S256", a.x5t_s256));
    FUZZ_CHECK(a.alg == EK_ALG_PS256 || str_is(hdr, "x5t", a.x5t));
    FUZZ_CHECK(str_is(claims, "iss", a.client_id));
    FUZZ_CHECK(str_is(claims, "sub", a.client_id));
    FUZZ_CHECK(str_is(claims, "aud", a.aud));
    FUZZ_CHECK(str_is(claims, "jti", JTI));
    FUZZ_CHECK(num_is(claims, "nbf", NOW) && num_is(claims, "iat", NOW));
    FUZZ_CHECK(num_is(claims, "exp", NOW + (int64_t)lifetime));
out:
    cJSON_Delete(claims);
    cJSON_Delete(hdr);
    ek_secret_free(&jwt);
    ek_ctx_free(&ctx);
    free(text);
    ERR_clear_error();
    return 0;
}
