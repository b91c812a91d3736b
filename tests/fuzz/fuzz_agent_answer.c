/* fuzz_agent_answer.c: what the client makes of an agent's answer
 * (agent_client.c: ek_agent_answer_token and ek_agent_answer_assertion),
 * once libcurl has read its HTTP: a status and a body. An input is "NNN\n"
 * (the status) then the body (fuzz_agent_status); the corpus holds the
 * agent's real answers (a token, an assertion, its errors) and broken
 * ones. Whoever can bind the socket writes them.
 *
 * Properties: a token or assertion given is printable ASCII without spaces
 * or quotes, with lifetimes a time can be, and only on status 200; an error
 * is the agent's, or "no agent", and its sentence holds no control
 * character. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "entra.h"
#include "fuzz.h"

#define SOCK "/run/user/1000/entrakey/agent.sock"
#define TOKEN_CHARS                                                            \
    "!#$%&()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_"             \
    "abcdefghijklmnopqrstuvwxyz{|}~"

static void
check_msg(const struct ek_ctx *ctx)
{
    const unsigned char *p = (const unsigned char *)ek_ctx_errmsg(ctx);

    FUZZ_CHECK(p != NULL && *p != '\0');
    for (; *p != '\0'; p++)
        FUZZ_CHECK(*p >= 0x20 && *p != 0x7f);
}

/* Parses buf, with status, as a token answer. */
static ek_err
token(long status, const char *buf, size_t len)
{
    struct ek_ctx *ctx = NULL;
    struct ek_access_token *t = NULL;
    ek_err r;

    if (ek_ctx_new(&ctx) != EK_OK)
        abort();
    r = ek_agent_answer_token(ctx, SOCK, status, buf, len, &t);
    FUZZ_CHECK((r == EK_OK) == (t != NULL));
    FUZZ_CHECK(r != EK_OK || status == 200);
    if (r == EK_OK) {
        const char *v = ek_access_token_value(t);

        FUZZ_CHECK(v != NULL && v[0] != '\0' &&
                   strspn(v, TOKEN_CHARS) == strlen(v));
        FUZZ_CHECK(strspn(ek_access_token_type(t), TOKEN_CHARS) ==
                   strlen(ek_access_token_type(t)));
        FUZZ_CHECK(ek_access_token_expires_in(t) >= 0 &&
                   ek_access_token_expires_on(t) >= 0);
    } else {
        /* an error the agent named (1 to EK_ERR_NO_AGENT), or no agent */
        FUZZ_CHECK(r > EK_OK && r <= EK_ERR_NO_AGENT);
        check_msg(ctx);
    }
    ek_access_token_free(&t);
    ek_ctx_free(&ctx);
    return r;
}

static ek_err
assertion(long status, const char *buf, size_t len)
{
    struct ek_ctx *ctx = NULL;
    struct ek_secret *jwt = NULL;
    ek_err r;

    if (ek_ctx_new(&ctx) != EK_OK)
        abort();
    r = ek_agent_answer_assertion(ctx, SOCK, status, buf, len, &jwt);
    FUZZ_CHECK((r == EK_OK) == (jwt != NULL));
    FUZZ_CHECK(r != EK_OK || status == 200);
    if (r == EK_OK)
        FUZZ_CHECK(jwt->len > 0 && strlen(jwt->buf) == jwt->len &&
                   strspn(jwt->buf, TOKEN_CHARS) == jwt->len);
    else
        check_msg(ctx);
    ek_secret_free(&jwt);
    ek_ctx_free(&ctx);
    return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf;
    size_t off, len;
    long status = fuzz_agent_status(data, size, &off);

    /* an exact-size copy of the body: reading past it is an ASan report */
    len = size - off;
    if ((buf = malloc(len > 0 ? len : 1)) == NULL)
        return 0;
    memcpy(buf, data + off, len);
    (void)token(status, buf, len);
    (void)assertion(status, buf, len);
    free(buf);
    return 0;
}
