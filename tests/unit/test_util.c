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

/* Decodes s with flags into a buffer of size sz: the code, and the bytes
 * and their count in out and *len. */
static ek_err
pct(struct ek_ctx *ctx, const char *s, unsigned flags, char *out, size_t sz,
    size_t *len)
{
    *len = sz;
    return ek_percent_decode(ctx, s, strlen(s), flags, out, len);
}

static void
test_percent(void)
{
    struct ek_ctx *ctx = ut_ctx();
    char out[16];
    size_t n;

    /* either case; the rest as it is, '+' too unless it is asked for */
    assert(pct(ctx, "a%2fb%2F%41+c", 0, out, sizeof out, &n) == EK_OK &&
           n == 7 && strcmp(out, "a/b/A+c") == 0);
    assert(pct(ctx, "a+b%2B", EK_PERCENT_PLUS, out, sizeof out, &n) == EK_OK &&
           n == 4 && strcmp(out, "a b+") == 0);
    assert(pct(ctx, "", 0, out, sizeof out, &n) == EK_OK && n == 0 &&
           out[0] == '\0');
    /* %00 is a byte (a CKA_ID may hold it), unless the result is a string */
    assert(pct(ctx, "%00%01", 0, out, sizeof out, &n) == EK_OK && n == 2 &&
           out[0] == 0 && out[1] == 1 && out[2] == '\0');
    assert(pct(ctx, "ab%00", EK_PERCENT_NO_NUL, out, sizeof out, &n) ==
           EK_ERR_USAGE);
    assert(ut_has(ctx, "character 3 ") && ut_has(ctx, "NUL"));
    /* a bad escape: refused at its position, the value never repeated */
    assert(pct(ctx, "secret%zz", 0, out, sizeof out, &n) == EK_ERR_USAGE);
    assert(ut_has(ctx, "character 7 ") && ut_has(ctx, "two hex digits") &&
           !ut_has(ctx, "secret"));
    assert(pct(ctx, "a%4", 0, out, sizeof out, &n) == EK_ERR_USAGE);
    assert(pct(ctx, "a%", 0, out, sizeof out, &n) == EK_ERR_USAGE);
    assert(pct(ctx, "%g1", 0, out, sizeof out, &n) == EK_ERR_USAGE);
    assert(pct(ctx, "%1g", EK_PERCENT_NO_NUL, out, sizeof out, &n) ==
           EK_ERR_USAGE);
    /* or kept as written */
    assert(pct(ctx, "a%zz%4%", EK_PERCENT_KEEP_INVALID, out, sizeof out, &n) ==
               EK_OK &&
           n == 7 && strcmp(out, "a%zz%4%") == 0);
    assert(pct(ctx, "%%41", EK_PERCENT_KEEP_INVALID, out, sizeof out, &n) ==
               EK_OK &&
           n == 2 && strcmp(out, "%A") == 0);
    /* the size of out: n + 1 always does; the result and its NUL exactly */
    assert(pct(ctx, "abc", 0, out, 4, &n) == EK_OK && n == 3);
    assert(pct(ctx, "abcd", 0, out, 4, &n) == EK_ERR_USAGE);
    assert(ut_has(ctx, "longer than 3 bytes"));
    assert(pct(ctx, "%41%42%43", 0, out, 4, &n) == EK_OK && n == 3 &&
           strcmp(out, "ABC") == 0);
    assert(pct(ctx, "", 0, out, 0, &n) == EK_ERR_USAGE);
    n = sizeof out;
    assert(ek_percent_decode(ctx, NULL, 1, 0, out, &n) == EK_ERR_USAGE);
    assert(ek_percent_decode(ctx, "a", 1, 0, NULL, &n) == EK_ERR_USAGE);
    assert(ek_percent_decode(ctx, "a", 1, 0, out, NULL) == EK_ERR_USAGE);
    /* a NULL context: the code alone; n bytes of in, not up to a NUL */
    n = sizeof out;
    assert(ek_percent_decode(NULL, "%zz", 3, 0, out, &n) == EK_ERR_USAGE);
    n = sizeof out;
    assert(ek_percent_decode(NULL, "%41%42", 3, 0, out, &n) == EK_OK &&
           n == 1 && strcmp(out, "A") == 0);
    n = sizeof out;
    assert(ek_percent_decode(NULL, "%41%42", 4, 0, out, &n) == EK_ERR_USAGE);
    ek_ctx_free(&ctx);
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
    /* files longer than the first buffer (a page) read whole, up to max
     * exactly; one byte more is refused */
    {
        static unsigned char big[20000];
        size_t i;

        for (i = 0; i < sizeof big; i++)
            big[i] = (unsigned char)('a' + i % 26);
        assert(ek_file_write_atomic(ctx, path, big, sizeof big, 0600,
                                    EK_WRITE_FORCE) == EK_OK);
        assert(ek_file_read(ctx, path, sizeof big, &data, &len) == EK_OK);
        assert(len == sizeof big && memcmp(data, big, sizeof big) == 0 &&
               data[len] == '\0');
        free(data);
        assert(ek_file_read(ctx, path, 1 << 20, &data, &len) == EK_OK);
        assert(len == sizeof big && memcmp(data, big, sizeof big) == 0);
        free(data);
        assert(ek_file_read(ctx, path, sizeof big - 1, &data, &len) ==
               EK_ERR_IO);
        assert(data == NULL && strstr(ek_ctx_errmsg(ctx), "larger than"));
    }
    /* a file whose size stat says is 0 but that has content (/proc) */
    assert(ek_file_read(ctx, "/proc/self/status", 1 << 20, &data, &len) ==
           EK_OK);
    assert(len > 100 && strncmp((char *)data, "Name:", 5) == 0 &&
           strlen((char *)data) == len);
    free(data);
    /* and one longer than the first buffer: read whole as it grows */
    assert(ek_file_read(ctx, "/proc/self/smaps", 1 << 20, &data, &len) ==
           EK_OK);
    assert(len > 8192 && strlen((char *)data) == len &&
           strstr((char *)data + len - 2048, "VmFlags:") != NULL);
    free(data);
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
    test_percent();
    test_atomic_write();
    test_secret();
    test_pin_source_syntax();
    ut_rmtree(dir);
    printf("test_util: ok\n");
    return 0;
}
