/* test_jose.c: base64url, UUIDs, lifetimes, and JWT client assertions
 * signed with a software key and verified with OpenSSL. */

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "unit.h"
#include "jose.h"

static EVP_PKEY *soft_key; /* RSA 2048, made once */
static int sign_calls;

/* An ek_sign_digest_fn over a software key: what the token does. */
static ek_err
soft_sign(void *arg, enum ek_alg alg, const unsigned char digest[32],
          unsigned char *sig, size_t *siglen)
{
    sign_calls++;
    ut_soft_sign(arg, alg, digest, sig, siglen);
    return EK_OK;
}

/* A jose_sign_fn (data and digest), as a token key is driven: checks that
 * the data is "header.payload" and the digest its SHA-256. */
static char *expect_data;
static ek_err
data_sign(void *arg, enum ek_alg alg, const unsigned char *data, size_t len,
          const unsigned char digest[32], unsigned char *sig, size_t *siglen)
{
    unsigned char check[32];
    const char *dot;

    assert(len > 0 && memchr(data, '\0', len) == NULL);
    dot = memchr(data, '.', len);
    assert(dot != NULL &&
           memchr(dot + 1, '.', len - (size_t)(dot - (const char *)data) - 1) ==
               NULL);
    assert(EVP_Digest(data, len, check, NULL, EVP_sha256(), NULL) == 1);
    assert(memcmp(check, digest, 32) == 0);
    expect_data = strndup((const char *)data, len);
    return soft_sign(arg, alg, digest, sig, siglen);
}

static ek_err
failing_sign(void *arg, enum ek_alg alg, const unsigned char digest[32],
             unsigned char *sig, size_t *siglen)
{
    (void)alg;
    (void)digest;
    (void)sig;
    (void)siglen;
    return ek_seterr(arg, EK_ERR_PIN,
                     "the PIN was wrong; entrakey does "
                     "not retry");
}

static void
check_enc(const char *in, const char *want)
{
    char out[64];
    unsigned char *dec = NULL;
    size_t n = 0;

    assert(jose_b64url_len(strlen(in)) == strlen(want));
    jose_b64url_encode((const unsigned char *)in, strlen(in), out);
    assert(strcmp(out, want) == 0);
    assert(jose_b64url_decode(NULL, want, strlen(want), &dec, &n) == EK_OK);
    assert(n == strlen(in) && memcmp(dec, in, n) == 0 && dec[n] == '\0');
    free(dec);
}

/* RFC 4648 §10 vectors (unpadded), and the two characters that differ. */
static void
test_b64url_vectors(void)
{
    static const unsigned char urlish[] = {0xfb, 0xff, 0xbf};
    char out[16];
    unsigned char *dec = NULL;
    size_t n = 0;

    check_enc("", "");
    check_enc("f", "Zg");
    check_enc("fo", "Zm8");
    check_enc("foo", "Zm9v");
    check_enc("foob", "Zm9vYg");
    check_enc("fooba", "Zm9vYmE");
    check_enc("foobar", "Zm9vYmFy");
    jose_b64url_encode(urlish, sizeof urlish, out);
    assert(strcmp(out, "-_-_") == 0); /* standard base64: "+/+/" */
    assert(jose_b64url_decode(NULL, "-_-_", 4, &dec, &n) == EK_OK);
    assert(n == 3 && memcmp(dec, urlish, 3) == 0);
    free(dec);
}

static void
test_b64url_rejects(void)
{
    struct ek_ctx *ctx = NULL;
    static unsigned char x[] = "x";
    unsigned char *dec = x;
    size_t n = 7;

    assert(ek_ctx_new(&ctx) == EK_OK);
    assert(jose_b64url_decode(ctx, "Zg==", 4, &dec, &n) == EK_ERR_USAGE);
    assert(dec == NULL && n == 0);
    assert(strstr(ek_ctx_errmsg(ctx), "character 2") != NULL);
    assert(strstr(ek_ctx_errmsg(ctx), "padding is not used") != NULL);
    assert(jose_b64url_decode(ctx, "Zm9v+", 5, &dec, &n) == EK_ERR_USAGE);
    assert(strstr(ek_ctx_errmsg(ctx), "truncated") != NULL);
    assert(jose_b64url_decode(ctx, "Zm+v", 4, &dec, &n) == EK_ERR_USAGE);
    assert(strstr(ek_ctx_errmsg(ctx), "character 2 is not") != NULL);
    /* "Zh" would also decode to "f", with bits set that encode nothing */
    assert(jose_b64url_decode(ctx, "Zh", 2, &dec, &n) == EK_ERR_USAGE);
    assert(strstr(ek_ctx_errmsg(ctx), "not canonical") != NULL);
    ek_ctx_free(&ctx);
}

static void
test_b64_standard(void)
{
    static const unsigned char urlish[] = {0xfb, 0xff};
    char *s;

    s = jose_b64_encode(NULL, (const unsigned char *)"f", 1);
    assert(strcmp(s, "Zg==") == 0);
    free(s);
    s = jose_b64_encode(NULL, (const unsigned char *)"fo", 2);
    assert(strcmp(s, "Zm8=") == 0);
    free(s);
    s = jose_b64_encode(NULL, (const unsigned char *)"foobar", 6);
    assert(strcmp(s, "Zm9vYmFy") == 0);
    free(s);
    s = jose_b64_encode(NULL, urlish, 2);
    assert(strcmp(s, "+/8=") == 0);
    free(s);
    s = jose_b64_encode(NULL, (const unsigned char *)"", 0);
    assert(strcmp(s, "") == 0);
    free(s);
}

static void
test_uuid(void)
{
    char a[JOSE_UUID_LEN + 1], b[JOSE_UUID_LEN + 1];
    size_t i;

    assert(jose_uuid_v4(NULL, a) == EK_OK);
    assert(jose_uuid_v4(NULL, b) == EK_OK);
    assert(strlen(a) == 36 && strcmp(a, b) != 0);
    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            assert(a[i] == '-');
        else
            assert(strchr("0123456789abcdef", a[i]) != NULL);
    }
    assert(a[14] == '4');
    assert(strchr("89ab", a[19]) != NULL);
}

static void
test_lifetime(void)
{
    struct ek_ctx *ctx = NULL;
    unsigned out = 1;

    assert(ek_ctx_new(&ctx) == EK_OK);
    assert(jose_lifetime(ctx, 0, &out) == EK_OK && out == 600);
    assert(jose_lifetime(ctx, 60, &out) == EK_OK && out == 60);
    assert(jose_lifetime(ctx, 3600, &out) == EK_OK && out == 3600);
    assert(jose_lifetime(ctx, 3601, &out) == EK_ERR_USAGE);
    assert(strstr(ek_ctx_errmsg(ctx), "3601 s is too long") != NULL);
    assert(strstr(ek_ctx_errmsg(ctx), "0 means 600") != NULL);
    assert(strstr(ek_ctx_errmsg(ctx), "--") == NULL); /* no CLI flags */
    ek_ctx_free(&ctx);
}

/* Splits a JWT, checks its JSON, and verifies the signature with OpenSSL
 * (not with our code) over "header.payload". */
static void
check_jwt(const char *jwt, enum ek_alg alg, int64_t now, unsigned lifetime)
{
    const char *dot1 = strchr(jwt, '.'), *dot2;
    unsigned char *hdr = NULL, *pay = NULL, *sig = NULL;
    size_t hlen, plen, slen;
    cJSON *h, *p;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pc = NULL;

    assert(dot1 != NULL);
    dot2 = strchr(dot1 + 1, '.');
    assert(dot2 != NULL && strchr(dot2 + 1, '.') == NULL);
    assert(strchr(jwt, '=') == NULL); /* unpadded */
    assert(jose_b64url_decode(NULL, jwt, (size_t)(dot1 - jwt), &hdr, &hlen) ==
           EK_OK);
    assert(jose_b64url_decode(NULL, dot1 + 1, (size_t)(dot2 - dot1 - 1), &pay,
                              &plen) == EK_OK);
    assert(jose_b64url_decode(NULL, dot2 + 1, strlen(dot2 + 1), &sig, &slen) ==
           EK_OK);
    assert(slen == 256);
    h = cJSON_ParseWithLength((const char *)hdr, hlen);
    p = cJSON_ParseWithLength((const char *)pay, plen);
    assert(h != NULL && p != NULL);
    assert(strcmp(cJSON_GetObjectItem(h, "alg")->valuestring,
                  alg == EK_ALG_PS256 ? "PS256" : "RS256") == 0);
    assert(strcmp(cJSON_GetObjectItem(h, "typ")->valuestring, "JWT") == 0);
    assert(strcmp(cJSON_GetObjectItem(h, "x5t#S256")->valuestring,
                  "S256thumb") == 0);
    if (alg == EK_ALG_RS256)
        assert(strcmp(cJSON_GetObjectItem(h, "x5t")->valuestring,
                      "sha1thumb") == 0);
    else
        assert(cJSON_GetObjectItem(h, "x5t") == NULL);
    assert(strcmp(cJSON_GetObjectItem(p, "aud")->valuestring,
                  "https://login.microsoftonline.com/contoso.onmicrosoft.com"
                  "/oauth2/v2.0/token") == 0);
    assert(strcmp(cJSON_GetObjectItem(p, "iss")->valuestring,
                  "11111111-2222-3333-4444-555555555555") == 0);
    assert(strcmp(cJSON_GetObjectItem(p, "sub")->valuestring,
                  "11111111-2222-3333-4444-555555555555") == 0);
    assert(strcmp(cJSON_GetObjectItem(p, "jti")->valuestring,
                  "8f8c2a5e-0d6e-4c43-9a57-1f0d7f3f9b1e") == 0);
    assert((int64_t)cJSON_GetObjectItem(p, "nbf")->valuedouble == now);
    assert((int64_t)cJSON_GetObjectItem(p, "iat")->valuedouble == now);
    assert((int64_t)cJSON_GetObjectItem(p, "exp")->valuedouble ==
           now + lifetime);
    /* integer NumericDates, not 1.7e9 or 1764217365.0 */
    {
        char want[64];

        snprintf(want, sizeof want, "\"exp\":%lld}",
                 (long long)(now + lifetime));
        assert(strstr((const char *)pay, want) != NULL);
        snprintf(want, sizeof want, "\"nbf\":%lld,", (long long)now);
        assert(strstr((const char *)pay, want) != NULL);
    }
    assert(EVP_DigestVerifyInit(md, &pc, EVP_sha256(), NULL, soft_key) == 1);
    if (alg == EK_ALG_PS256) {
        assert(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) == 1);
        assert(EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, 32) == 1);
        assert(EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha256()) == 1);
    }
    assert(EVP_DigestVerify(md, sig, slen, (const unsigned char *)jwt,
                            (size_t)(dot2 - jwt)) == 1);
    /* and a changed payload does not verify */
    assert(EVP_DigestVerifyInit(md, &pc, EVP_sha256(), NULL, soft_key) == 1);
    if (alg == EK_ALG_PS256) {
        assert(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) == 1);
        assert(EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, 32) == 1);
    }
    assert(EVP_DigestVerify(md, sig, slen, (const unsigned char *)jwt,
                            (size_t)(dot2 - jwt) - 1) != 1);
    EVP_MD_CTX_free(md);
    cJSON_Delete(h);
    cJSON_Delete(p);
    free(hdr);
    free(pay);
    free(sig);
}

static struct jose_assertion
sample(enum ek_alg alg, unsigned lifetime)
{
    struct jose_assertion a;

    memset(&a, 0, sizeof a);
    a.alg = alg;
    a.x5t_s256 = "S256thumb";
    a.x5t = "sha1thumb";
    a.aud = "https://login.microsoftonline.com/contoso.onmicrosoft.com"
            "/oauth2/v2.0/token";
    a.client_id = "11111111-2222-3333-4444-555555555555";
    a.jti = "8f8c2a5e-0d6e-4c43-9a57-1f0d7f3f9b1e";
    a.now = 1764217365;
    a.lifetime = lifetime;
    return a;
}

static void
test_assertion_ps256(void)
{
    struct ek_ctx *ctx = NULL;
    struct ek_secret *jwt = NULL;
    struct jose_assertion a = sample(EK_ALG_PS256, 0);

    assert(ek_ctx_new(&ctx) == EK_OK);
    sign_calls = 0;
    assert(jose_assertion_build(ctx, &a, soft_sign, soft_key, &jwt) == EK_OK);
    assert(sign_calls == 1);
    assert(ek_secret_len(jwt) == strlen(ek_secret_data(jwt)));
    check_jwt(ek_secret_data(jwt), EK_ALG_PS256, a.now, 600);
    ek_secret_free(&jwt);
    assert(jwt == NULL);
    ek_ctx_free(&ctx);
}

static void
test_assertion_rs256(void)
{
    struct ek_ctx *ctx = NULL;
    struct ek_secret *jwt = NULL;
    struct jose_assertion a = sample(EK_ALG_RS256, 3600);

    assert(ek_ctx_new(&ctx) == EK_OK);
    a.now = 4102444800; /* 2100: past 2^31, still an integer */
    assert(jose_assertion_build(ctx, &a, soft_sign, soft_key, &jwt) == EK_OK);
    check_jwt(ek_secret_data(jwt), EK_ALG_RS256, a.now, 3600);
    ek_secret_free(&jwt);
    ek_ctx_free(&ctx);
}

/* jose_assertion_sign gives the signer "header.payload" itself */
static void
test_assertion_data_signer(void)
{
    struct ek_ctx *ctx = NULL;
    struct ek_secret *jwt = NULL;
    struct jose_assertion a = sample(EK_ALG_PS256, 120);
    const char *last;

    assert(ek_ctx_new(&ctx) == EK_OK);
    assert(jose_assertion_sign(ctx, &a, data_sign, soft_key, &jwt) == EK_OK);
    check_jwt(ek_secret_data(jwt), EK_ALG_PS256, a.now, 120);
    last = strrchr(ek_secret_data(jwt), '.');
    assert(strlen(expect_data) == (size_t)(last - ek_secret_data(jwt)));
    assert(strncmp(expect_data, ek_secret_data(jwt), strlen(expect_data)) == 0);
    free(expect_data);
    expect_data = NULL;
    ek_secret_free(&jwt);
    ek_ctx_free(&ctx);
}

static void
test_assertion_errors(void)
{
    struct ek_ctx *ctx = NULL;
    struct ek_secret *jwt = NULL;
    struct jose_assertion a = sample(EK_ALG_PS256, 3601);

    assert(ek_ctx_new(&ctx) == EK_OK);
    sign_calls = 0;
    assert(jose_assertion_build(ctx, &a, soft_sign, soft_key, &jwt) ==
           EK_ERR_USAGE);
    assert(jwt == NULL && sign_calls == 0);
    assert(strstr(ek_ctx_errmsg(ctx), "0 means 600") != NULL);
    assert(strstr(ek_ctx_errmsg(ctx), "--") == NULL); /* no CLI flags */
    a = sample(EK_ALG_RS256, 0);
    a.x5t = NULL; /* RS256 needs the SHA-1 thumbprint */
    assert(jose_assertion_build(ctx, &a, soft_sign, soft_key, &jwt) ==
           EK_ERR_USAGE);
    assert(sign_calls == 0);
    a = sample(EK_ALG_PS256, 0);
    a.x5t = NULL; /* PS256 does not */
    assert(jose_assertion_build(ctx, &a, soft_sign, soft_key, &jwt) == EK_OK);
    ek_secret_free(&jwt);
    /* the signer's error comes back as it is */
    a = sample(EK_ALG_PS256, 0);
    assert(jose_assertion_build(ctx, &a, failing_sign, ctx, &jwt) ==
           EK_ERR_PIN);
    assert(jwt == NULL);
    assert(strstr(ek_ctx_errmsg(ctx), "does not retry") != NULL);
    ek_ctx_free(&ctx);
}

/* The proof of possession for Graph's addKey/removeKey: RS256 with x5t and
 * kid, aud Graph's, iss the object id, nbf = iat, exp = nbf + lifetime; no
 * sub, no jti; the signature verifies; a lifetime over 600 s, or a missing
 * field, is refused before anything is signed. */
static void
test_proof(void)
{
    struct ek_ctx *ctx = NULL;
    struct ek_secret *jwt = NULL;
    struct jose_digest_signer ds = {soft_sign, NULL};
    struct jose_proof p;
    const char *t, *dot1, *dot2;
    unsigned char *hdr = NULL, *pay = NULL, *sig = NULL;
    size_t hl, pl, sl;
    cJSON *h, *c;
    EVP_MD_CTX *md = EVP_MD_CTX_new();

    ds.arg = soft_key;
    assert(ek_ctx_new(&ctx) == EK_OK);
    memset(&p, 0, sizeof p);
    p.x5t = "sha1thumb";
    p.kid = "A0B1C2D3E4F5A6B7C8D9E0F1A2B3C4D5E6F7A8B9";
    p.aud = JOSE_PROOF_AUD;
    p.iss = "4a0c7a3e-9d3f-4d0b-8f5e-2c1b6e7d9a10";
    p.now = 1764217365;
    p.lifetime = 600;
    sign_calls = 0;
    assert(jose_proof_sign(ctx, &p, jose_sign_digest_only, &ds, &jwt) == EK_OK);
    assert(sign_calls == 1);
    t = ek_secret_data(jwt);
    dot1 = strchr(t, '.');
    dot2 = strchr(dot1 + 1, '.');
    assert(jose_b64url_decode(NULL, t, (size_t)(dot1 - t), &hdr, &hl) == EK_OK);
    assert(jose_b64url_decode(NULL, dot1 + 1, (size_t)(dot2 - dot1 - 1), &pay,
                              &pl) == EK_OK);
    assert(jose_b64url_decode(NULL, dot2 + 1, strlen(dot2 + 1), &sig, &sl) ==
           EK_OK);
    h = cJSON_ParseWithLength((const char *)hdr, hl);
    c = cJSON_ParseWithLength((const char *)pay, pl);
    assert(strcmp(cJSON_GetObjectItem(h, "alg")->valuestring, "RS256") == 0);
    assert(strcmp(cJSON_GetObjectItem(h, "x5t")->valuestring, "sha1thumb") ==
           0);
    assert(strcmp(cJSON_GetObjectItem(h, "kid")->valuestring, p.kid) == 0);
    assert(strcmp(cJSON_GetObjectItem(c, "aud")->valuestring,
                  "00000002-0000-0000-c000-000000000000") == 0);
    assert(strcmp(cJSON_GetObjectItem(c, "iss")->valuestring, p.iss) == 0);
    assert(cJSON_GetObjectItem(c, "sub") == NULL);
    assert((int64_t)cJSON_GetObjectItem(c, "nbf")->valuedouble == p.now);
    assert((int64_t)cJSON_GetObjectItem(c, "exp")->valuedouble == p.now + 600);
    assert(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, soft_key) == 1);
    assert(EVP_DigestVerify(md, sig, sl, (const unsigned char *)t,
                            (size_t)(dot2 - t)) == 1);
    ek_secret_free(&jwt);
    /* over ten minutes, or no object id: refused, nothing signed */
    sign_calls = 0;
    p.lifetime = 601;
    assert(jose_proof_sign(ctx, &p, jose_sign_digest_only, &ds, &jwt) ==
           EK_ERR_USAGE);
    assert(strstr(ek_ctx_errmsg(ctx), "at most 600 s") != NULL);
    p.lifetime = 600;
    p.iss = NULL;
    assert(jose_proof_sign(ctx, &p, jose_sign_digest_only, &ds, &jwt) ==
           EK_ERR_USAGE);
    assert(sign_calls == 0 && jwt == NULL);
    EVP_MD_CTX_free(md);
    cJSON_Delete(h);
    cJSON_Delete(c);
    free(hdr);
    free(pay);
    free(sig);
    ek_ctx_free(&ctx);
}

int
main(void)
{
    soft_key = EVP_RSA_gen(2048);
    assert(soft_key != NULL);
    test_b64url_vectors();
    test_b64url_rejects();
    test_b64_standard();
    test_uuid();
    test_lifetime();
    test_assertion_ps256();
    test_assertion_rs256();
    test_assertion_data_signer();
    test_assertion_errors();
    test_proof();
    EVP_PKEY_free(soft_key);
    printf("test_jose: all passed\n");
    return 0;
}
