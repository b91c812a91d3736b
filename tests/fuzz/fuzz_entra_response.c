/* fuzz_entra_response.c: token endpoint answers (entra_parse_response).
 * An input is "STATUS CONTENT-TYPE\nBODY" (the corpus holds real Entra
 * success and error answers in that form); an input that does not start
 * with a status is a body answered with 200 application/json. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "entra.h"
#include "fuzz.h"

/* What an access token may hold: printable ASCII but space, quotes and
 * backslash. */
#define TOKEN_CHARS                                                            \
    "!#$%&()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_"             \
    "abcdefghijklmnopqrstuvwxyz{|}~"

struct answer {
    long status;
    char *content_type; /* NULL: no Content-Type header */
    char *body;         /* exactly len bytes, no NUL after them */
    size_t len;
};

static int
split(const uint8_t *data, size_t size, struct answer *a)
{
    const uint8_t *nl;
    size_t i = 0, ctlen;

    memset(a, 0, sizeof *a);
    a->status = 200;
    while (i < size && i < 3 && isdigit(data[i])) {
        a->status = (i == 0 ? 0 : a->status * 10) + (data[i] - '0');
        i++;
    }
    if (i > 0 && i < size && (data[i] == ' ' || data[i] == '\n')) {
        if (data[i] == ' ')
            i++;
        nl = memchr(data + i, '\n', size - i);
        ctlen = nl != NULL ? (size_t)(nl - (data + i)) : size - i;
        if (ctlen > 0 &&
            (a->content_type = fuzz_cstring(data + i, ctlen)) == NULL)
            return -1;
        i = nl != NULL ? (size_t)(nl - data) + 1 : size;
    } else {
        a->status = 200;
        i = 0;
        if ((a->content_type = strdup("application/json")) == NULL)
            return -1;
    }
    a->len = size - i;
    /* an exact-size copy: reading past len is an ASan report */
    if ((a->body = malloc(a->len > 0 ? a->len : 1)) == NULL)
        return -1;
    memcpy(a->body, data + i, a->len);
    return 0;
}

/* Where the value of the first "access_token" member starts in the body,
 * and how long its plain part is (up to a quote or an escape). */
static size_t
token_span(const char *body, size_t len, size_t *start)
{
    static const char key[] = "\"access_token\"";
    size_t i, n;

    for (i = 0; i + sizeof key - 1 <= len; i++) {
        if (memcmp(body + i, key, sizeof key - 1) != 0)
            continue;
        i += sizeof key - 1;
        while (i < len && (body[i] == ' ' || body[i] == '\t'))
            i++;
        if (i >= len || body[i++] != ':')
            return 0;
        while (i < len && (body[i] == ' ' || body[i] == '\t'))
            i++;
        if (i >= len || body[i++] != '"')
            return 0;
        for (n = 0; i + n < len && body[i + n] != '"' && body[i + n] != '\\';
             n++)
            ;
        *start = i;
        return n;
    }
    return 0;
}

/* Letters stay letters and digits digits: the JSON stays as valid. */
static char
rotate(char c)
{
    if (c >= 'a' && c <= 'z')
        return c == 'z' ? 'a' : (char)(c + 1);
    if (c >= 'A' && c <= 'Z')
        return c == 'Z' ? 'A' : (char)(c + 1);
    if (c >= '0' && c <= '9')
        return c == '9' ? '0' : (char)(c + 1);
    return c;
}

static ek_err
parse(const struct answer *a, char *msg, size_t msgsz)
{
    struct ek_ctx *ctx = NULL;
    struct ek_access_token *t = NULL;
    const unsigned char *p;
    ek_err r;

    if (ek_ctx_new(&ctx) != EK_OK)
        abort();
    r = entra_parse_response(ctx, a->status, a->content_type, a->body, a->len,
                             &t);
    FUZZ_CHECK((r == EK_OK) == (t != NULL));
    if (r == EK_OK) {
        const char *v = ek_access_token_value(t);

        FUZZ_CHECK(v != NULL && v[0] != '\0');
        /* printable ASCII without spaces or quotes, whole (issue 15) */
        FUZZ_CHECK(strspn(v, TOKEN_CHARS) == strlen(v));
        FUZZ_CHECK(strspn(ek_access_token_type(t), TOKEN_CHARS) ==
                   strlen(ek_access_token_type(t)));
        FUZZ_CHECK(ek_access_token_type(t) != NULL);
        FUZZ_CHECK(ek_access_token_expires_in(t) > 0);
        FUZZ_CHECK(ek_access_token_expires_on(t) >
                   ek_access_token_expires_in(t));
        FUZZ_CHECK(a->status == 200);
        msg[0] = '\0';
    } else {
        FUZZ_CHECK(r == EK_ERR_ENTRA || r == EK_ERR_NETWORK);
        FUZZ_CHECK(ctx->errmsg[0] != '\0');
        /* the server's text is quoted: no control character, no DEL */
        for (p = (const unsigned char *)ctx->errmsg; *p != '\0'; p++)
            FUZZ_CHECK(*p >= 0x20 && *p != 0x7f);
        snprintf(msg, msgsz, "%s", ctx->errmsg);
    }
    ek_access_token_free(&t);
    ek_ctx_free(&ctx);
    return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char msg1[EK_ERRMSG_MAX], msg2[EK_ERRMSG_MAX];
    struct answer a;
    size_t start = 0, n, i, changed = 0;
    ek_err r1, r2;

    if (split(data, size, &a) != 0)
        goto out;
    r1 = parse(&a, msg1, sizeof msg1);
    /* The access token never reaches a message: the same answer with
     * another token of the same shape gives the same sentence. */
    if ((n = token_span(a.body, a.len, &start)) > 0) {
        for (i = start; i < start + n; i++) {
            changed += rotate(a.body[i]) != a.body[i];
            a.body[i] = rotate(a.body[i]);
        }
        if (changed > 0) {
            r2 = parse(&a, msg2, sizeof msg2);
            FUZZ_CHECK(r1 == r2);
            FUZZ_CHECK(strcmp(msg1, msg2) == 0);
        }
    }
out:
    free(a.content_type);
    free(a.body);
    return 0;
}
