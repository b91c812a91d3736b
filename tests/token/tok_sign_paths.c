/* tok_sign_paths.c: a helper of the token tests: signs through each
 * mechanism path of the token layer and writes the signatures and the
 * public key, so that the scripts can check them with openssl; also drives
 * the session-loss and extractable-key refusals.
 *
 *   tok_sign_paths sign KEY-URI OUTDIR [PATH...]   (PATH: pss sha256-pss
 *                                                   x509-pss sha256-pkcs
 *                                                   pkcs-di; default all)
 *   tok_sign_paths choose KEY-URI
 *   tok_sign_paths api KEY-URI OUTDIR    (ek_key_sign, sign_digest)
 *   tok_sign_paths session-loss KEY-URI
 *   tok_sign_paths insecure KEY-URI
 *   tok_sign_paths open KEY-URI          (ek_key_open: the URI or the error)
 *   tok_sign_paths store-cert KEY-URI CERT.der [force]
 *   tok_sign_paths init LABEL SO-PIN USER-PIN   (ek_token_init)
 *
 * Environment: ENTRAKEY_MODULE, TOK_PIN_SOURCE (--pin-source), TOK_TRACE=1
 * (the log on stderr). */
#undef NDEBUG
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>
#include <openssl/x509.h>

#include "tok.h"

static const char msg[] = "entrakey: a message signed on the token";

static const struct {
    const char *name;
    enum tok_path path;
} paths[] = {
    {"pss", TOK_PATH_PSS},           {"sha256-pss", TOK_PATH_SHA256_PSS},
    {"x509-pss", TOK_PATH_X509_PSS}, {"sha256-pkcs", TOK_PATH_SHA256_PKCS},
    {"pkcs-di", TOK_PATH_PKCS_DI},
};
#define NPATHS (sizeof paths / sizeof paths[0])

static void
log_stderr(void *arg, enum ek_log_level level, const char *m)
{
    (void)arg;
    fprintf(stderr, "log[%d]: %s\n", (int)level, m);
}

static int
write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    if ((f = fopen(path, "wb")) == NULL || fwrite(data, 1, len, f) != len) {
        perror(path);
        if (f != NULL)
            fclose(f);
        return -1;
    }
    return fclose(f) == 0 ? 0 : -1;
}

static struct ek_ctx *
new_ctx(unsigned flags)
{
    struct ek_ctx *ctx = NULL;
    const char *src = getenv("TOK_PIN_SOURCE");
    const char *trace = getenv("TOK_TRACE");

    if (ek_ctx_new(&ctx) != EK_OK)
        exit(2);
    if (trace != NULL && strcmp(trace, "1") == 0)
        ek_ctx_set_log(ctx, log_stderr, NULL, EK_LOG_TRACE);
    if (src != NULL && ek_ctx_set_pin_source(ctx, src) != EK_OK) {
        fprintf(stderr, "%s\n", ek_ctx_errmsg(ctx));
        exit(2);
    }
    ek_ctx_set_flags(ctx, flags);
    return ctx;
}

static struct ek_key *
open_key(struct ek_ctx *ctx, const char *uri)
{
    struct ek_key *k = NULL;
    ek_err r;

    if ((r = ek_key_open(ctx, uri, &k)) != EK_OK) {
        printf("open failed (%d): %s\n", (int)r, ek_ctx_errmsg(ctx));
        exit(1);
    }
    return k;
}

static int
do_sign(int argc, char **argv)
{
    struct ek_ctx *ctx = new_ctx(0);
    struct ek_key *k = open_key(ctx, argv[2]);
    const char *dir = argv[3];
    const unsigned char *pub = NULL;
    unsigned char digest[32], sig[1024];
    size_t publen = 0, siglen, i;
    char name[64];
    int j, want, fails = 0;
    ek_err r;

    SHA256((const unsigned char *)msg, strlen(msg), digest);
    if (ek_key_public_der(k, &pub, &publen) != EK_OK ||
        write_file(dir, "pub.der", pub, publen) != 0 ||
        write_file(dir, "msg.bin", msg, strlen(msg)) != 0)
        return 1;
    for (i = 0; i < NPATHS; i++) {
        want = argc <= 4;
        for (j = 4; j < argc; j++)
            if (strcmp(argv[j], paths[i].name) == 0)
                want = 1;
        if (!want)
            continue;
        siglen = sizeof sig;
        r = tok_sign_path(k, paths[i].path, (const unsigned char *)msg,
                          strlen(msg), digest, sig, &siglen);
        if (r != EK_OK) {
            printf("%s failed (%d): %s\n", paths[i].name, (int)r,
                   ek_ctx_errmsg(ctx));
            fails++;
            continue;
        }
        snprintf(name, sizeof name, "%s.sig", paths[i].name);
        if (write_file(dir, name, sig, siglen) != 0)
            return 1;
        printf("%s %s %zu bytes\n", paths[i].name,
               tok_mech_name(tok_path_mech(paths[i].path)), siglen);
    }
    ek_key_free(&k);
    ek_ctx_free(&ctx);
    return fails == 0 ? 0 : 1;
}

static int
do_choose(char **argv)
{
    struct ek_ctx *ctx = new_ctx(0);
    struct ek_key *k = open_key(ctx, argv[2]);
    const char *m;

    m = ek_key_mechanism(k, EK_ALG_PS256);
    printf("PS256 %s\n", m != NULL ? m : "none");
    m = ek_key_mechanism(k, EK_ALG_RS256);
    printf("RS256 %s\n", m != NULL ? m : "none");
    ek_key_free(&k);
    ek_ctx_free(&ctx);
    return 0;
}

/* The public entry points: ek_key_sign over the data and
 * sign_digest over its digest, for both algorithms. */
/* Signs a digest through the path the key's mechanisms allow without the
 * message (CKM_RSA_PKCS_PSS, CKM_RSA_X_509 + local PSS, CKM_RSA_PKCS over
 * DigestInfo). The library signs only with ek_key_sign (the message at
 * hand); this digest-only path lives here, for the tests that reach each
 * mechanism from a digest. */
static ek_err
sign_digest(struct ek_key *k, enum ek_alg alg, const unsigned char digest[32],
            unsigned char *sig, size_t *siglen)
{
    enum tok_path p = tok_choose(k->mech_mask, alg, 0);

    if (p == TOK_PATH_NONE)
        return ek_seterr(k->ctx, EK_ERR_MECHANISM,
                         "token '%s' has no "
                         "mechanism that signs a digest for %s",
                         k->slot.label,
                         alg == EK_ALG_PS256 ? "PS256" : "RS256");
    return tok_sign_path(k, p, NULL, 0, digest, sig, siglen);
}

static int
do_api(char **argv)
{
    struct ek_ctx *ctx = new_ctx(0);
    struct ek_key *k = open_key(ctx, argv[2]);
    const char *dir = argv[3];
    const unsigned char *pub = NULL;
    unsigned char digest[32], sig[1024];
    size_t publen = 0, siglen;
    int alg;
    char name[64];
    ek_err r;

    SHA256((const unsigned char *)msg, strlen(msg), digest);
    if (ek_key_public_der(k, &pub, &publen) != EK_OK ||
        write_file(dir, "pub.der", pub, publen) != 0 ||
        write_file(dir, "msg.bin", msg, strlen(msg)) != 0)
        return 1;
    for (alg = 0; alg < 2; alg++) {
        siglen = sizeof sig;
        r = ek_key_sign(k, (enum ek_alg)alg, (const unsigned char *)msg,
                        strlen(msg), sig, &siglen);
        if (r != EK_OK) {
            printf("ek_key_sign failed (%d): %s\n", (int)r, ek_ctx_errmsg(ctx));
            return 1;
        }
        snprintf(name, sizeof name, "api-%s.sig", alg ? "rs256" : "ps256");
        if (write_file(dir, name, sig, siglen) != 0)
            return 1;
        siglen = sizeof sig;
        r = sign_digest(k, (enum ek_alg)alg, digest, sig, &siglen);
        if (r != EK_OK) {
            printf("sign_digest failed (%d): %s\n", (int)r, ek_ctx_errmsg(ctx));
            return 1;
        }
        snprintf(name, sizeof name, "digest-%s.sig", alg ? "rs256" : "ps256");
        if (write_file(dir, name, sig, siglen) != 0)
            return 1;
    }
    printf("api ok\n");
    ek_key_free(&k);
    ek_ctx_free(&ctx);
    return 0;
}

/* The session disappears under the key (as when a token is pulled): the
 * signature fails with EK_ERR_DEVICE and a sentence, without a crash, a
 * hang or a second login. */
static int
do_session_loss(char **argv)
{
    struct ek_ctx *ctx = new_ctx(0);
    struct ek_key *k = open_key(ctx, argv[2]);
    unsigned char digest[32] = {1}, sig[1024];
    size_t siglen = sizeof sig;
    ek_err r;

    r = sign_digest(k, EK_ALG_PS256, digest, sig, &siglen);
    if (r != EK_OK) {
        printf("first signature failed: %s\n", ek_ctx_errmsg(ctx));
        return 1;
    }
    (void)k->slot.mod->fl->C_CloseSession(k->session);
    siglen = sizeof sig;
    r = sign_digest(k, EK_ALG_PS256, digest, sig, &siglen);
    printf("code %d: %s\n", (int)r, ek_ctx_errmsg(ctx));
    siglen = sizeof sig;
    r = sign_digest(k, EK_ALG_PS256, digest, sig, &siglen);
    printf("again code %d: %s\n", (int)r, ek_ctx_errmsg(ctx));
    ek_key_free(&k);
    ek_ctx_free(&ctx);
    return 0;
}

/* One context per call: a key used with another context is refused on
 * that context (its error sentence is never copied between contexts). */
static int
do_ctxrule(char **argv)
{
    struct ek_ctx *ctx = new_ctx(0), *other = new_ctx(0);
    struct ek_key *k = open_key(ctx, argv[2]);
    struct ek_cert *c = NULL;
    ek_err r;

    r = ek_cert_from_key(other, k, &c);
    printf("other code %d: %s\n", (int)r, ek_ctx_errmsg(other));
    r = ek_cert_from_key(ctx, k, &c);
    printf("own code %d\n", (int)r);
    ek_cert_free(&c);
    ek_key_free(&k);
    ek_ctx_free(&other);
    ek_ctx_free(&ctx);
    return 0;
}

static int
do_insecure(char **argv)
{
    struct ek_ctx *ctx = new_ctx(0);
    struct ek_key *k = open_key(ctx, argv[2]);
    unsigned char digest[32] = {1}, sig[1024];
    size_t siglen = sizeof sig;
    ek_err r;

    r = sign_digest(k, EK_ALG_RS256, digest, sig, &siglen);
    printf("default code %d: %s\n", (int)r, ek_ctx_errmsg(ctx));
    ek_key_free(&k);
    ek_ctx_free(&ctx);
    ctx = new_ctx(EK_FLAG_INSECURE_ALLOW_EXTRACTABLE);
    ek_ctx_set_log(ctx, log_stderr, NULL, EK_LOG_WARN);
    k = open_key(ctx, argv[2]);
    siglen = sizeof sig;
    r = sign_digest(k, EK_ALG_RS256, digest, sig, &siglen);
    printf("allowed code %d\n", (int)r);
    ek_key_free(&k);
    ek_ctx_free(&ctx);
    return 0;
}

static int
do_open(char **argv)
{
    struct ek_ctx *ctx = new_ctx(0);
    struct ek_key *k = NULL;
    ek_err r;

    r = ek_key_open(ctx, argv[2], &k);
    if (r == EK_OK)
        printf("ok %s\n", ek_key_uri(k));
    else
        printf("code %d: %s\n", (int)r, ek_ctx_errmsg(ctx));
    ek_key_free(&k);
    ek_ctx_free(&ctx);
    return 0;
}

/* tok_key_store_cert as the certificate module calls it. */
static int
do_store_cert(int argc, char **argv)
{
    struct ek_ctx *ctx = new_ctx(0);
    struct ek_key *k = open_key(ctx, argv[2]);
    unsigned char der[16384], *subj = NULL;
    const unsigned char *p = der;
    const unsigned char *got = NULL;
    size_t len, gotlen = 0;
    X509 *x = NULL;
    FILE *f;
    int subjlen;
    ek_err r;

    if ((f = fopen(argv[3], "rb")) == NULL)
        return 2;
    len = fread(der, 1, sizeof der, f);
    fclose(f);
    if ((x = d2i_X509(NULL, &p, (long)len)) == NULL ||
        (subjlen = i2d_X509_NAME(X509_get_subject_name(x), &subj)) <= 0)
        return 2;
    r = tok_key_store_cert(k, der, len, subj, (size_t)subjlen,
                           argc > 4 && strcmp(argv[4], "force") == 0);
    printf("code %d: %s\n", (int)r, r == EK_OK ? "stored" : ek_ctx_errmsg(ctx));
    if (r == EK_OK)
        printf("cert_der %s\n", ek_key_cert_der(k, &got, &gotlen) == EK_OK &&
                                        gotlen == len &&
                                        memcmp(got, der, len) == 0
                                    ? "updated"
                                    : "stale");
    OPENSSL_free(subj);
    X509_free(x);
    ek_key_free(&k);
    ek_ctx_free(&ctx);
    return 0;
}

static int
do_init(char **argv)
{
    struct ek_ctx *ctx = new_ctx(0);
    ek_err r;

    r = ek_token_init(ctx, argv[2], argv[3], argv[4]);
    printf("code %d: %s\n", (int)r,
           r == EK_OK ? "initialised" : ek_ctx_errmsg(ctx));
    ek_ctx_free(&ctx);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "open") == 0)
        return do_open(argv);
    if (argc >= 4 && strcmp(argv[1], "store-cert") == 0)
        return do_store_cert(argc, argv);
    if (argc == 5 && strcmp(argv[1], "init") == 0)
        return do_init(argv);
    if (argc >= 4 && strcmp(argv[1], "sign") == 0)
        return do_sign(argc, argv);
    if (argc == 3 && strcmp(argv[1], "choose") == 0)
        return do_choose(argv);
    if (argc == 4 && strcmp(argv[1], "api") == 0)
        return do_api(argv);
    if (argc == 3 && strcmp(argv[1], "session-loss") == 0)
        return do_session_loss(argv);
    if (argc == 3 && strcmp(argv[1], "insecure") == 0)
        return do_insecure(argv);
    if (argc == 3 && strcmp(argv[1], "ctxrule") == 0)
        return do_ctxrule(argv);
    fprintf(stderr, "usage: see the comment at the top of %s\n", __FILE__);
    return 2;
}
