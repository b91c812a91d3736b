/* test_tok.c: the token layer's parts that need no token: CK_RV names and
 * codes, error sentences, mechanism choice, PIN sources, URIs. */
#include <errno.h>
#include <fcntl.h>

#include "unit.h"
#include "tok.h"

static char dir[256];

static void
test_rv_names(void)
{
    assert(strcmp(tok_rv_name(CKR_PIN_INCORRECT), "CKR_PIN_INCORRECT") == 0);
    assert(strcmp(tok_rv_name(CKR_OK), "CKR_OK") == 0);
    assert(strcmp(tok_rv_name(CKR_FUNCTION_REJECTED),
                  "CKR_FUNCTION_REJECTED") == 0);
    assert(strcmp(tok_rv_name(CKR_CRYPTOKI_ALREADY_INITIALIZED),
                  "CKR_CRYPTOKI_ALREADY_INITIALIZED") == 0);
    assert(tok_rv_name(0x7777) == NULL);
}

static void
test_rv_codes(void)
{
    assert(tok_rv_code(CKR_OK) == EK_OK);
    assert(tok_rv_code(CKR_PIN_INCORRECT) == EK_ERR_PIN);
    assert(tok_rv_code(CKR_PIN_LEN_RANGE) == EK_ERR_PIN);
    assert(tok_rv_code(CKR_PIN_INVALID) == EK_ERR_PIN);
    assert(tok_rv_code(CKR_PIN_LOCKED) == EK_ERR_PIN_LOCKED);
    assert(tok_rv_code(CKR_DEVICE_REMOVED) == EK_ERR_DEVICE);
    assert(tok_rv_code(CKR_TOKEN_NOT_PRESENT) == EK_ERR_DEVICE);
    assert(tok_rv_code(CKR_SESSION_HANDLE_INVALID) == EK_ERR_DEVICE);
    assert(tok_rv_code(CKR_SESSION_CLOSED) == EK_ERR_DEVICE);
    assert(tok_rv_code(CKR_DEVICE_ERROR) == EK_ERR_DEVICE);
    assert(tok_rv_code(CKR_MECHANISM_INVALID) == EK_ERR_MECHANISM);
    assert(tok_rv_code(CKR_FUNCTION_CANCELED) == EK_ERR_CANCELED);
    assert(tok_rv_code(CKR_GENERAL_ERROR) == EK_ERR_TOKEN);
    assert(tok_rv_code(CKR_VENDOR_DEFINED + 5) == EK_ERR_TOKEN);
}

static void
test_fail_sentence(void)
{
    struct ek_ctx *ctx = NULL;

    assert(ek_ctx_new(&ctx) == EK_OK);
    assert(tok_fail(ctx, CKR_DEVICE_REMOVED, "cannot sign on token '%s'",
                    "t1") == EK_ERR_DEVICE);
    assert(strcmp(ek_ctx_errmsg(ctx),
                  "cannot sign on token 't1': CKR_DEVICE_REMOVED (0x32); "
                  "reinsert or reconnect the token and run the command "
                  "again") == 0);
    assert(tok_fail(ctx, CKR_PIN_INCORRECT, "x") == EK_ERR_PIN);
    assert(strstr(ek_ctx_errmsg(ctx), "does not retry") != NULL);
    assert(tok_fail(ctx, CKR_MECHANISM_INVALID, "x") == EK_ERR_MECHANISM);
    assert(strstr(ek_ctx_errmsg(ctx), "CKR_MECHANISM_INVALID (0x70)") != NULL);
    assert(tok_fail(ctx, CKR_VENDOR_DEFINED | 0x42, "x") == EK_ERR_TOKEN);
    assert(strstr(ek_ctx_errmsg(ctx), "vendor-defined") != NULL);
    ek_ctx_free(&ctx);
}

static void
test_choose(void)
{
    unsigned all = 0x1f;

    assert(tok_choose(all, EK_ALG_PS256, 0) == TOK_PATH_PSS);
    assert(tok_choose(all, EK_ALG_PS256, 1) == TOK_PATH_PSS);
    /* RS256 (docs/architecture.md): CKM_SHA256_RSA_PKCS with the data, else
     * CKM_RSA_PKCS over a DigestInfo made on the host */
    assert(tok_choose(all, EK_ALG_RS256, 0) == TOK_PATH_PKCS_DI);
    assert(tok_choose(all, EK_ALG_RS256, 1) == TOK_PATH_SHA256_PKCS);
    assert(tok_choose(all & ~TOK_PATH_BIT(TOK_PATH_SHA256_PKCS), EK_ALG_RS256,
                      1) == TOK_PATH_PKCS_DI);
    assert(tok_choose(TOK_PATH_BIT(TOK_PATH_SHA256_PKCS), EK_ALG_RS256, 1) ==
           TOK_PATH_SHA256_PKCS);
    /* PS256: the token's hashing before raw RSA */
    assert(tok_choose(all & ~TOK_PATH_BIT(TOK_PATH_PSS), EK_ALG_PS256, 1) ==
           TOK_PATH_SHA256_PSS);
    /* p11-kit 0.24 remoting: no SHA256_RSA_PKCS_PSS; raw PSS stays first */
    assert(tok_choose(TOK_PATH_BIT(TOK_PATH_SHA256_PSS) |
                          TOK_PATH_BIT(TOK_PATH_X509_PSS),
                      EK_ALG_PS256, 1) == TOK_PATH_SHA256_PSS);
    assert(tok_choose(TOK_PATH_BIT(TOK_PATH_SHA256_PSS) |
                          TOK_PATH_BIT(TOK_PATH_X509_PSS),
                      EK_ALG_PS256, 0) == TOK_PATH_X509_PSS);
    assert(tok_choose(TOK_PATH_BIT(TOK_PATH_SHA256_PSS), EK_ALG_PS256, 0) ==
           TOK_PATH_NONE);
    assert(tok_choose(TOK_PATH_BIT(TOK_PATH_SHA256_PKCS), EK_ALG_RS256, 0) ==
           TOK_PATH_NONE);
    assert(tok_choose(TOK_PATH_BIT(TOK_PATH_PKCS_DI), EK_ALG_RS256, 1) ==
           TOK_PATH_PKCS_DI);
    assert(tok_choose(0, EK_ALG_PS256, 1) == TOK_PATH_NONE);
    assert(strcmp(tok_mech_name(tok_path_mech(TOK_PATH_X509_PSS)),
                  "CKM_RSA_X_509") == 0);
    assert(strcmp(tok_path_alg(TOK_PATH_PKCS_DI), "RS256") == 0);
}

static void
write_file(const char *path, const char *data, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    assert(fd >= 0);
    assert(write(fd, data, strlen(data)) == (ssize_t)strlen(data));
    assert(fchmod(fd, mode) == 0);
    close(fd);
}

/* Parses and reads a PIN source, as a login does. */
static ek_err
pin_read(struct ek_ctx *ctx, const char *text, unsigned flags, char *buf,
         size_t bufsz, size_t *lenp)
{
    struct ek_pin_source *src = NULL;
    ek_err r;

    *lenp = 0;
    if ((r = ek_pin_source_parse(ctx, text, flags, &src)) != EK_OK)
        return r;
    r = ek_pin_source_read(ctx, src, buf, bufsz, lenp);
    ek_pin_source_free(&src);
    assert(src == NULL);
    return r;
}

static void
test_pin_sources(void)
{
    struct ek_ctx *ctx = NULL;
    char buf[EK_PIN_MAX + 1], path[512], src[600], big[EK_PIN_MAX + 10];
    size_t len = 0;
    int p[2];

    assert(ek_ctx_new(&ctx) == EK_OK);
    setenv("TOK_TEST_PIN", "4321", 1);
    assert(pin_read(ctx, "env:TOK_TEST_PIN", 0, buf, sizeof buf, &len) ==
           EK_OK);
    assert(len == 4 && strcmp(buf, "4321") == 0);
    /* the first line only, for every source (issue 15) */
    setenv("TOK_TEST_PIN", "4321\r\nsecond", 1);
    assert(pin_read(ctx, "env:TOK_TEST_PIN", 0, buf, sizeof buf, &len) ==
           EK_OK);
    assert(len == 4 && strcmp(buf, "4321") == 0);
    unsetenv("TOK_TEST_PIN");
    assert(pin_read(ctx, "env:TOK_TEST_PIN", 0, buf, sizeof buf, &len) ==
           EK_ERR_PIN);
    assert(strstr(ek_ctx_errmsg(ctx), "not set") != NULL);

    /* the first line, without its CRLF */
    snprintf(path, sizeof path, "%s/pin", dir);
    write_file(path, "12 34\r\n", 0600);
    snprintf(src, sizeof src, "file:%s", path);
    assert(pin_read(ctx, src, 0, buf, sizeof buf, &len) == EK_OK);
    assert(strcmp(buf, "12 34") == 0 && len == 5);
    /* printf '123456\n\n' sent "123456\n" before (issue 15 item 1) */
    write_file(path, "1234\n\n", 0600);
    assert(pin_read(ctx, src, 0, buf, sizeof buf, &len) == EK_OK);
    assert(strcmp(buf, "1234") == 0 && len == 4);
    write_file(path, "1234\nsecond line\n", 0600);
    assert(pin_read(ctx, src, 0, buf, sizeof buf, &len) == EK_OK);
    assert(strcmp(buf, "1234") == 0 && len == 4);

    /* a file others can read is refused, and the message says chmod 600 */
    write_file(path, "1234\n", 0644);
    assert(pin_read(ctx, src, 0, buf, sizeof buf, &len) == EK_ERR_PIN);
    assert(strstr(ek_ctx_errmsg(ctx), "chmod 600") != NULL);
    assert(strstr(ek_ctx_errmsg(ctx), "0644") != NULL);
    assert(len == 0);
    write_file(path, "1234\n", 0640);
    assert(pin_read(ctx, src, 0, buf, sizeof buf, &len) == EK_ERR_PIN);

    /* a bare path only where the URI's pin-source= allows it */
    write_file(path, "5678", 0600);
    assert(pin_read(ctx, path, EK_PINSRC_URI, buf, sizeof buf, &len) == EK_OK);
    assert(strcmp(buf, "5678") == 0);
    assert(pin_read(ctx, path, 0, buf, sizeof buf, &len) == EK_ERR_USAGE);
    assert(strstr(ek_ctx_errmsg(ctx), "env:NAME") != NULL);
    /* file:///PATH is a local file (RFC 8089); file://HOST/ is refused */
    snprintf(src, sizeof src, "file://%s", path);
    assert(path[0] == '/');
    assert(pin_read(ctx, src, 0, buf, sizeof buf, &len) == EK_OK);
    assert(strcmp(buf, "5678") == 0);
    assert(pin_read(ctx, "file://host/pin", EK_PINSRC_URI, buf, sizeof buf,
                    &len) == EK_ERR_USAGE);
    assert(strstr(ek_ctx_errmsg(ctx), "names a host") != NULL);

    /* empty and too long */
    write_file(path, "\n1234\n", 0600);
    snprintf(src, sizeof src, "file:%s", path);
    assert(pin_read(ctx, src, 0, buf, sizeof buf, &len) == EK_ERR_PIN);
    assert(strstr(ek_ctx_errmsg(ctx), "empty") != NULL);
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    write_file(path, big, 0600);
    assert(pin_read(ctx, src, 0, buf, sizeof buf, &len) == EK_ERR_PIN);
    assert(strstr(ek_ctx_errmsg(ctx), "more than") != NULL);
    big[EK_PIN_MAX] = '\n';
    write_file(path, big, 0600);
    assert(pin_read(ctx, src, 0, buf, sizeof buf, &len) == EK_OK);
    assert(len == EK_PIN_MAX);
    snprintf(src, sizeof src, "file:%s/missing", dir);
    assert(pin_read(ctx, src, 0, buf, sizeof buf, &len) == EK_ERR_PIN);
    assert(strstr(ek_ctx_errmsg(ctx), "No such file") != NULL);
    /* a FIFO is not waited on: refused at once */
    snprintf(path, sizeof path, "%s/fifo", dir);
    assert(mkfifo(path, 0600) == 0);
    snprintf(src, sizeof src, "file:%s", path);
    assert(pin_read(ctx, src, 0, buf, sizeof buf, &len) == EK_ERR_PIN);
    assert(strstr(ek_ctx_errmsg(ctx), "not a regular file") != NULL);
    unlink(path);
    snprintf(path, sizeof path, "%s/pin", dir);

    /* fd: reads up to the newline and leaves the rest */
    assert(pipe(p) == 0);
    assert(write(p[1], "9999\r\nrest", 10) == 10);
    close(p[1]);
    snprintf(src, sizeof src, "fd:%d", p[0]);
    assert(pin_read(ctx, src, 0, buf, sizeof buf, &len) == EK_OK);
    assert(strcmp(buf, "9999") == 0 && len == 4);
    assert(read(p[0], buf, 4) == 4 && memcmp(buf, "rest", 4) == 0);
    close(p[0]);

    /* the forms refused, the same for the context and a URI */
    assert(pin_read(ctx, "fd:x", 0, buf, sizeof buf, &len) == EK_ERR_USAGE);
    assert(pin_read(ctx, "fd:", 0, buf, sizeof buf, &len) == EK_ERR_USAGE);
    assert(pin_read(ctx, "fd:-1", 0, buf, sizeof buf, &len) == EK_ERR_USAGE);
    assert(pin_read(ctx, "fd:70000", 0, buf, sizeof buf, &len) == EK_ERR_USAGE);
    assert(pin_read(ctx, "env:", 0, buf, sizeof buf, &len) == EK_ERR_USAGE);
    assert(pin_read(ctx, "env:A-B", EK_PINSRC_URI, buf, sizeof buf, &len) ==
           EK_ERR_USAGE);
    assert(pin_read(ctx, "file:", 0, buf, sizeof buf, &len) == EK_ERR_USAGE);
    assert(pin_read(ctx, "|cat /pin", EK_PINSRC_URI, buf, sizeof buf, &len) ==
           EK_ERR_USAGE);
    assert(strstr(ek_ctx_errmsg(ctx), "never runs a command") != NULL);
    assert(pin_read(ctx, "http://x/pin", EK_PINSRC_URI, buf, sizeof buf,
                    &len) == EK_ERR_USAGE);
    assert(ek_ctx_set_pin_source(ctx, "1234") == EK_ERR_USAGE);
    assert(ut_has(ctx, "the PIN source is not understood"));
    assert(strstr(ek_ctx_errmsg(ctx), "1234") == NULL); /* never repeated */
    assert(ek_ctx_set_so_pin_source(ctx, "x") == EK_ERR_USAGE);
    assert(strstr(ek_ctx_errmsg(ctx), "the SO PIN source") != NULL);
    assert(ek_ctx_set_pin_source(ctx, "fd:3") == EK_OK);
    assert(ek_ctx_set_pin_source(ctx, NULL) == EK_OK);
    unlink(path);
    ek_ctx_free(&ctx);
}

/* Tokens are objects: a list hands out each; getters are NULL-safe. */
static void
test_token_objects(void)
{
    assert(ek_token_list_count(NULL) == 0);
    assert(ek_token_list_get(NULL, 0) == NULL);
    assert(strcmp(ek_token_label(NULL), "") == 0);
    assert(strcmp(ek_token_uri(NULL), "") == 0);
    assert(ek_token_slot(NULL) == 0 && ek_token_flags(NULL) == 0);
    assert(ek_token_mech_sign(NULL, EK_ALG_PS256) == NULL);
    assert(ek_token_mech_keygen(NULL) == NULL);
}

/* pin-value= is the PIN itself: read as it is, never shown. */
static void
test_pin_value(void)
{
    struct ek_ctx *ctx = NULL;
    struct ek_pin_source *src = NULL, *copy = NULL;
    char buf[EK_PIN_MAX + 1];
    size_t len = 0;

    assert(ek_ctx_new(&ctx) == EK_OK);
    assert(ek_pin_source_value(ctx, "12 34", &src) == EK_OK);
    assert(ek_pin_source_kind(src) == EK_PIN_VALUE);
    assert(strcmp(ek_pin_source_text(src), "pin-value=") == 0);
    assert(ek_pin_source_dup(ctx, src, &copy) == EK_OK);
    assert(ek_pin_source_read(ctx, copy, buf, sizeof buf, &len) == EK_OK);
    assert(len == 5 && strcmp(buf, "12 34") == 0);
    ek_pin_source_free(&src);
    ek_pin_source_free(&copy);
    assert(ek_pin_source_value(ctx, "", &src) == EK_OK);
    assert(ek_pin_source_read(ctx, src, buf, sizeof buf, &len) == EK_ERR_PIN);
    assert(strstr(ek_ctx_errmsg(ctx), "empty") != NULL);
    ek_pin_source_free(&src);
    ek_ctx_free(&ctx);
}

/* What ek_key_pin_source_scrub does for exec: the variable is unset, the
 * descriptor closed (0-2: /dev/null in its place). */
static void
test_pin_scrub(void)
{
    struct ek_ctx *ctx = NULL;
    struct ek_pin_source *src = NULL;
    char text[32];
    int p[2];

    assert(ek_ctx_new(&ctx) == EK_OK);
    setenv("TOK_TEST_SCRUB", "1234", 1);
    assert(ek_pin_source_parse(ctx, "env:TOK_TEST_SCRUB", 0, &src) == EK_OK);
    ek_pin_source_scrub(src);
    assert(getenv("TOK_TEST_SCRUB") == NULL);
    ek_pin_source_free(&src);

    assert(pipe(p) == 0);
    snprintf(text, sizeof text, "fd:%d", p[0]);
    assert(ek_pin_source_parse(ctx, text, EK_PINSRC_URI, &src) == EK_OK);
    ek_pin_source_scrub(src);
    assert(fcntl(p[0], F_GETFD) == -1 && errno == EBADF);
    ek_pin_source_free(&src);
    close(p[1]);
    ek_ctx_free(&ctx);
}

static void
test_uri_parse(void)
{
    struct ek_ctx *ctx = NULL;
    struct tok_uri u;

    assert(ek_ctx_new(&ctx) == EK_OK);
    assert(tok_uri_parse(ctx,
                         "pkcs11:token=My%20Token;id=%01%ab;"
                         "object=k;type=private?pin-value=1234&"
                         "module-path=/x.so",
                         &u) == EK_OK);
    assert(u.has_id && u.has_label && u.has_class);
    assert(u.cls == CKO_PRIVATE_KEY);
    assert(strcmp(u.pin_value, "1234") == 0);
    assert(strcmp(u.module_path, "/x.so") == 0);
    tok_uri_clear(&u);

    assert(tok_uri_parse(ctx, "pkcs11:token=a;foo=bar", &u) == EK_ERR_USAGE);
    assert(strstr(ek_ctx_errmsg(ctx), "'foo'") != NULL);
    assert(u.uri == NULL);
    assert(tok_uri_parse(ctx, "pkcs11:token=a?pin-sorce=x", &u) ==
           EK_ERR_USAGE);
    assert(strstr(ek_ctx_errmsg(ctx), "'pin-sorce'") != NULL);
    assert(tok_uri_parse(ctx, "pkcs11:type=foo", &u) == EK_ERR_USAGE);
    assert(tok_uri_parse(ctx, "pkcs11:token=a?x-vendor=1", &u) == EK_OK);
    tok_uri_clear(&u);
    assert(tok_uri_parse(ctx, "pkcs12:token=a", &u) == EK_ERR_USAGE);
    assert(strstr(ek_ctx_errmsg(ctx), "not valid") != NULL);
    /* the PIN never appears in a message */
    assert(tok_uri_parse(ctx, "pkcs11:id=%4?pin-value=s3cret", &u) ==
           EK_ERR_USAGE);
    assert(strstr(ek_ctx_errmsg(ctx), "s3cret") == NULL);
    assert(strstr(ek_ctx_errmsg(ctx), "pin-value=***") != NULL);
    assert(tok_uri_parse(ctx, NULL, &u) == EK_OK && u.uri == NULL);
    {
        char shown[64];

        tok_uri_redact("pkcs11:?pin-value=a1&pin-value=b2&x=1", shown,
                       sizeof shown);
        /* an unknown attribute's value may be a misplaced PIN too */
        assert(strcmp(shown, "pkcs11:?pin-value=***&pin-value=***&x=***") == 0);
        tok_uri_redact("pkcs11:token=t;object=o?module-path=/m.so&Pin-Value=1",
                       shown, sizeof shown);
        assert(strcmp(shown, "pkcs11:token=t;object=o?module-path=/m.so&"
                             "Pin-Value=***") == 0);
        tok_uri_redact("pkcs11:token=t?pin-value=s3cr3t", shown, 20);
        assert(strstr(shown, "s3") == NULL);
    }
    ek_ctx_free(&ctx);
}

static void
test_uri_format(void)
{
    struct ek_ctx *ctx = NULL;
    struct tok_slot s;
    unsigned char id[] = {0x01, 0xab};
    char *out = NULL;

    assert(ek_ctx_new(&ctx) == EK_OK);
    memset(&s, 0, sizeof s);
    strcpy(s.label, "My Token;1");
    strcpy(s.serial, "a602c1308d9a7d4e");
    strcpy(s.model, "SoftHSM v2");
    assert(tok_uri_key(ctx, &s, id, sizeof id, "k 1/é", &out) == EK_OK);
    assert(strcmp(out, "pkcs11:token=My%20Token%3B1;id=%01%AB;"
                       "object=k%201%2F%C3%A9;type=private") == 0);
    free(out);
    s.dup_label = 1;
    assert(tok_uri_key(ctx, &s, id, 1, "", &out) == EK_OK);
    assert(strcmp(out, "pkcs11:serial=a602c1308d9a7d4e;token=My%20Token%3B1;"
                       "id=%01;type=private") == 0);
    free(out);
    assert(tok_uri_token(ctx, &s, &out) == EK_OK);
    assert(strcmp(out, "pkcs11:model=SoftHSM%20v2;serial=a602c1308d9a7d4e;"
                       "token=My%20Token%3B1") == 0);
    free(out);
    ek_ctx_free(&ctx);
}

static void
test_trim(void)
{
    char out[33];
    unsigned char in[32];

    memset(in, ' ', sizeof in);
    memcpy(in, "label x", 7);
    tok_trim(out, in, sizeof in);
    assert(strcmp(out, "label x") == 0);
    memset(in, ' ', sizeof in);
    tok_trim(out, in, sizeof in);
    assert(out[0] == '\0');
}

int
main(void)
{
    ut_tmpdir(dir, sizeof dir, "test_tok");
    test_rv_names();
    test_rv_codes();
    test_fail_sentence();
    test_choose();
    test_pin_sources();
    test_pin_value();
    test_token_objects();
    test_pin_scrub();
    test_uri_parse();
    test_uri_format();
    test_trim();
    rmdir(dir);
    printf("test_tok: all passed\n");
    return 0;
}
