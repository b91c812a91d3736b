/* unit.h: what the unit tests share: assert() always on, a check that an
 * error sentence says what it should, and a private temporary directory. */
#ifndef EK_UNIT_H
#define EK_UNIT_H

#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <entrakey.h>

#ifdef OPENSSL_EVP_H
#include <openssl/rsa.h>
#endif

/* 1 when the context's last sentence contains s; else prints both and
 * returns 0, so that assert(ut_has(ctx, "…")) shows what the user saw. */
static inline int
ut_has(const struct ek_ctx *ctx, const char *s)
{
    if (strstr(ek_ctx_errmsg(ctx), s) != NULL)
        return 1;
    fprintf(stderr, "missing '%s' in: %s\n", s, ek_ctx_errmsg(ctx));
    return 0;
}

/* A new context; the test aborts if it cannot be made. */
static inline struct ek_ctx *
ut_ctx(void)
{
    struct ek_ctx *ctx = NULL;

    assert(ek_ctx_new(&ctx) == EK_OK);
    return ctx;
}

/* Makes a fresh directory "$EK_TEST_TMP/NAME.XXXXXX" (or under /tmp) into
 * dir, which must hold at least 256 bytes. */
static inline void
ut_tmpdir(char *dir, size_t len, const char *name)
{
    const char *base = getenv("EK_TEST_TMP");
    int n;

    if (base != NULL && base[0] != '\0')
        (void)mkdir(base, 0700);
    else
        base = "/tmp";
    n = snprintf(dir, len, "%s/%s.XXXXXX", base, name);
    assert(n > 0 && (size_t)n < len);
    assert(mkdtemp(dir) != NULL);
}

/* Removes what ut_tmpdir made, with everything in it. */
static inline void
ut_rmtree(const char *dir)
{
    char cmd[512];
    int n = snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);

    assert(n > 0 && (size_t)n < sizeof cmd && strchr(dir, '\'') == NULL);
    assert(system(cmd) == 0);
}

#ifdef OPENSSL_EVP_H
/* Signs a SHA-256 digest with a software RSA key as a token would for alg
 * (PS256: PSS, MGF1-SHA-256, salt 32; RS256: PKCS#1 v1.5). */
static inline void
ut_soft_sign(EVP_PKEY *key, enum ek_alg alg, const unsigned char digest[32],
             unsigned char *sig, size_t *siglen)
{
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(key, NULL);

    assert(pc != NULL);
    assert(EVP_PKEY_sign_init(pc) == 1);
    assert(EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) == 1);
    if (alg == EK_ALG_PS256) {
        assert(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) == 1);
        assert(EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, 32) == 1);
        assert(EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha256()) == 1);
    } else {
        assert(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) == 1);
    }
    assert(EVP_PKEY_sign(pc, sig, siglen, digest, 32) == 1);
    EVP_PKEY_CTX_free(pc);
}
#endif

#endif /* EK_UNIT_H */
