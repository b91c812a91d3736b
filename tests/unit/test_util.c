/* test_util.c: hex, atomic files, secrets, error sentences. */
#include <errno.h>

#include "unit.h"
#include "internal.h"

static char dir[256];

static void
test_hex(void)
{
    struct ek_ctx *ctx = NULL;
    unsigned char b[4];
    size_t n = sizeof b;
    char s[9];

    assert(ek_ctx_new(&ctx) == EK_OK);
    assert(ek_key_id_parse(ctx, "0aFf", b, &n) == EK_OK);
    assert(n == 2 && b[0] == 0x0a && b[1] == 0xff);
    ek_hex_encode(b, n, s, 1);
    assert(strcmp(s, "0AFF") == 0);
    /* as pkcs11-tool and p11tool print ids */
    n = sizeof b;
    assert(ek_key_id_parse(ctx, "0x0a:b1:C2", b, &n) == EK_OK);
    assert(n == 3 && b[0] == 0x0a && b[1] == 0xb1 && b[2] == 0xc2);
    n = sizeof b;
    assert(ek_key_id_parse(ctx, "0X01", b, &n) == EK_OK);
    assert(n == 1 && b[0] == 0x01);
    /* the position, never the id */
    n = sizeof b;
    assert(ek_key_id_parse(ctx, "0g", b, &n) == EK_ERR_USAGE);
    assert(ut_has(ctx, "not hex: character 2 ") && !ut_has(ctx, "0g"));
    n = sizeof b;
    assert(ek_key_id_parse(ctx, "abc", b, &n) == EK_ERR_USAGE);
    assert(ut_has(ctx, "odd number"));
    n = sizeof b;
    assert(ek_key_id_parse(ctx, "0a::ff", b, &n) == EK_ERR_USAGE);
    assert(ut_has(ctx, "character 4 ") && ut_has(ctx, "one ':'"));
    n = sizeof b;
    assert(ek_key_id_parse(ctx, "0a:", b, &n) == EK_ERR_USAGE);
    n = sizeof b;
    assert(ek_key_id_parse(ctx, ":0a", b, &n) == EK_ERR_USAGE);
    assert(ut_has(ctx, "character 1 "));
    n = sizeof b;
    assert(ek_key_id_parse(ctx, "", b, &n) == EK_ERR_USAGE);
    assert(ut_has(ctx, "empty"));
    n = sizeof b;
    assert(ek_key_id_parse(ctx, "0x", b, &n) == EK_ERR_USAGE);
    n = 1;
    assert(ek_key_id_parse(ctx, "0102", b, &n) == EK_ERR_USAGE);
    assert(ut_has(ctx, "too long (at most 1 bytes)") && n == 1);
    /* a NULL context: the code alone */
    n = sizeof b;
    assert(ek_key_id_parse(NULL, "zz", b, &n) == EK_ERR_USAGE);
    /* the one digit reader, also behind the DN's \XX */
    assert(ek_hex_digit('0') == 0 && ek_hex_digit('f') == 15 &&
           ek_hex_digit('F') == 15 && ek_hex_digit('g') == -1 &&
           ek_hex_digit(':') == -1 && ek_hex_digit(-1) == -1);
    ek_ctx_free(&ctx);
    assert(ctx == NULL);
}

static void
test_atomic_write(void)
{
    struct ek_ctx *ctx = NULL;
    char path[512];
    unsigned char *data = NULL;
    size_t len = 0;
    struct stat st;

    assert(ek_ctx_new(&ctx) == EK_OK);
    snprintf(path, sizeof path, "%s/out.cer", dir);
    assert(ek_file_write_atomic(ctx, path, "abc", 3, 0644, 0) == EK_OK);
    assert(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644);
    /* never replaced without force; the original is intact */
    assert(ek_file_write_atomic(ctx, path, "xyz", 3, 0644, 0) == EK_ERR_EXISTS);
    assert(strstr(ek_ctx_errmsg(ctx), "EK_WRITE_FORCE") != NULL);
    assert(strstr(ek_ctx_errmsg(ctx), "--") == NULL); /* no CLI flags */
    assert(ek_file_read(ctx, path, 100, &data, &len) == EK_OK);
    assert(len == 3 && memcmp(data, "abc", 3) == 0);
    free(data);
    assert(ek_file_write_atomic(ctx, path, "xyz1", 4, 0600, EK_WRITE_FORCE) ==
           EK_OK);
    assert(ek_file_read(ctx, path, 100, &data, &len) == EK_OK);
    assert(len == 4 && memcmp(data, "xyz1", 4) == 0);
    free(data);
    /* the size cap */
    assert(ek_file_read(ctx, path, 3, &data, &len) == EK_ERR_IO);
    assert(strstr(ek_ctx_errmsg(ctx), "larger than") != NULL);
    /* a missing directory: EK_ERR_IO, naming the path */
    snprintf(path, sizeof path, "%s/nodir/out.cer", dir);
    assert(ek_file_write_atomic(ctx, path, "abc", 3, 0644, 0) == EK_ERR_IO);
    assert(strstr(ek_ctx_errmsg(ctx), "nodir") != NULL);
    ek_ctx_free(&ctx);
}

static void
test_secret(void)
{
    struct ek_ctx *ctx = NULL;
    struct ek_secret *s = NULL;
    char big[300];
    int i;

    memset(big, 'x', sizeof big);
    assert(ek_ctx_new(&ctx) == EK_OK);
    assert(ek_secret_new(ctx, 8, &s) == EK_OK);
    for (i = 0; i < 10; i++)
        assert(ek_secret_append(ctx, s, big, sizeof big) == EK_OK);
    assert(ek_secret_len(s) == 3000);
    assert(strlen(ek_secret_data(s)) == 3000);
    ek_secret_free(&s);
    assert(s == NULL);
    ek_secret_free(&s); /* NULL-safe */
    ek_ctx_free(&ctx);
}

static void
test_pin_source_syntax(void)
{
    struct ek_ctx *ctx = NULL;

    assert(ek_ctx_new(&ctx) == EK_OK);
    assert(ek_ctx_set_pin_source(ctx, "env:EK_PIN") == EK_OK);
    assert(ek_ctx_set_pin_source(ctx, "file:/x") == EK_OK);
    assert(ek_ctx_set_pin_source(ctx, "fd:3") == EK_OK);
    assert(ek_ctx_set_pin_source(ctx, "1234") == EK_ERR_USAGE);
    assert(strstr(ek_ctx_errmsg(ctx), "env:NAME") != NULL);
    assert(ek_ctx_set_pin_source(ctx, "fd:x") == EK_ERR_USAGE);
    assert(ek_ctx_set_pin_source(ctx, "env:") == EK_ERR_USAGE);
    assert(strcmp(ek_strerror(EK_ERR_PIN_LOCKED),
                  "PIN locked or at its final try") == 0);
    assert(strcmp(ek_strerror((ek_err)999), "unknown error") == 0);
    ek_ctx_free(&ctx);
}

int
main(void)
{
    ut_tmpdir(dir, sizeof dir, "test_util");
    test_hex();
    test_atomic_write();
    test_secret();
    test_pin_source_syntax();
    ut_rmtree(dir);
    printf("test_util: ok\n");
    return 0;
}
