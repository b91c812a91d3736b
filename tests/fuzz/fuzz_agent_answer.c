/* fuzz_agent_answer.c: what the client reads from an agent's socket
 * (agent_client.c: ek_agent_answer_want, ek_agent_answer_token and
 * ek_agent_answer_assertion). An input is the bytes of the answer as they
 * came; the corpus holds the agent's real answers (a token, an assertion,
 * its errors) and broken ones. Whoever can bind the socket writes them.
 *
 * Properties: how much to read is decided by the head alone (every prefix
 * says "not yet" or the same length); what is read up to that length
 * parses as the whole does (bytes past Content-Length are not looked at);
 * a token or assertion given is printable ASCII without spaces or quotes,
 * with lifetimes a time can be; an error is the agent's, or "no agent",
 * and its sentence holds no control character. */
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

/* Parses buf as a token answer; the token's value copied to val (when
 * EK_OK). */
static ek_err
token(const char *buf, size_t len, char *val, size_t valsz)
{
    struct ek_ctx *ctx = NULL;
    struct ek_access_token *t = NULL;
    ek_err r;

    if (ek_ctx_new(&ctx) != EK_OK)
        abort();
    r = ek_agent_answer_token(ctx, SOCK, buf, len, &t);
    FUZZ_CHECK((r == EK_OK) == (t != NULL));
    val[0] = '\0';
    if (r == EK_OK) {
        const char *v = ek_access_token_value(t);

        FUZZ_CHECK(v != NULL && v[0] != '\0' &&
                   strspn(v, TOKEN_CHARS) == strlen(v));
        FUZZ_CHECK(strspn(ek_access_token_type(t), TOKEN_CHARS) ==
                   strlen(ek_access_token_type(t)));
        FUZZ_CHECK(ek_access_token_expires_in(t) >= 0 &&
                   ek_access_token_expires_on(t) >= 0);
        snprintf(val, valsz, "%s", v);
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
assertion(const char *buf, size_t len)
{
    struct ek_ctx *ctx = NULL;
    struct ek_secret *jwt = NULL;
    ek_err r;

    if (ek_ctx_new(&ctx) != EK_OK)
        abort();
    r = ek_agent_answer_assertion(ctx, SOCK, buf, len, &jwt);
    FUZZ_CHECK((r == EK_OK) == (jwt != NULL));
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
    char *buf, whole[4096], cut[4096];
    size_t want, w, k, step;
    ek_err r1, r2;

    /* an exact-size copy: reading past size is an ASan report */
    if ((buf = malloc(size > 0 ? size : 1)) == NULL)
        return 0;
    memcpy(buf, data, size);
    want = ek_agent_answer_want(buf, size);
    /* the head decides: a prefix says "not yet" or the same */
    step = size / 16 + 1;
    for (k = 0; k < size; k += step) {
        w = ek_agent_answer_want(buf, k);
        FUZZ_CHECK(w == 0 || w == want);
    }
    if (want != 0 && want != SIZE_MAX)
        FUZZ_CHECK(want >= 4); /* at least the empty line */
    r1 = token(buf, size, whole, sizeof whole);
    (void)assertion(buf, size);
    /* the client stops reading at want: the same answer */
    if (want != 0 && want < size) {
        r2 = token(buf, want, cut, sizeof cut);
        FUZZ_CHECK(r1 == r2 && strcmp(whole, cut) == 0);
    }
    free(buf);
    return 0;
}
