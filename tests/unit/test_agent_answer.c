/* test_agent_answer.c: what the client makes of an agent's answers
 * (agent_client.c), on the fuzzer's seeds (tests/fuzz/corpus/agent_answer/):
 * each seed's expected outcome, so that the corpus the fuzzer starts from
 * is known to reach the paths it names. */
#include <stdint.h>

#include "unit.h"
#include "entra.h"

#define SOCK "/run/user/1000/entrakey/agent.sock"

static char *
seed(const char *name, size_t *lenp)
{
    char path[1024];
    unsigned char *data = NULL;
    struct ek_ctx *ctx = NULL;

    assert(ek_ctx_new(&ctx) == EK_OK);
    snprintf(path, sizeof path, "%s/tests/fuzz/corpus/agent_answer/%s",
             getenv("EK_SOURCE_DIR"), name);
    if (ek_file_read(ctx, path, 1 << 16, &data, lenp) != EK_OK) {
        fprintf(stderr, "%s\n", ek_ctx_errmsg(ctx));
        abort();
    }
    ek_ctx_free(&ctx);
    return (char *)data;
}

#define TO_END -1 /* ek_agent_answer_want says: read to the end */
#define WHOLE -2  /* ... the whole seed, its Content-Length exact */
#define BEYOND -3 /* ... more than the seed holds (it is cut short) */
#define BUT(n) (-1000 - (n)) /* ... the whole seed but its last n bytes */

/* The token answer in seed name: ek_agent_answer_want gives want (a length,
 * 0, or one of the above), the parse gives code and, on success, the
 * seeds' token, else a sentence with says (and without avoid, when
 * given). */
static void
token(const char *name, long want, ek_err code, const char *says,
      const char *avoid)
{
    struct ek_ctx *ctx = NULL;
    struct ek_access_token *t = NULL;
    size_t len;
    char *buf = seed(name, &len);
    ek_err r;

    size_t w = ek_agent_answer_want(buf, len);

    assert(ek_ctx_new(&ctx) == EK_OK);
    if (!(want == TO_END   ? w == SIZE_MAX
          : want == WHOLE  ? w == len
          : want == BEYOND ? w > len && w != SIZE_MAX
          : want <= BUT(0) ? w == len - (size_t)(-1000 - want)
                           : w == (size_t)want)) {
        fprintf(stderr, "%s: want %zu (of %zu), not %ld\n", name, w, len, want);
        abort();
    }
    r = ek_agent_answer_token(ctx, SOCK, buf, len, &t);
    if (r != code) {
        fprintf(stderr, "%s: %d (%s), not %d\n", name, r, ek_ctx_errmsg(ctx),
                code);
        abort();
    }
    if (r == EK_OK) {
        assert(strncmp(ek_access_token_value(t), "eyJ0", 4) == 0);
        assert(strcmp(ek_access_token_type(t), "Bearer") == 0);
        assert(ek_access_token_expires_in(t) == 3599);
        assert(ek_access_token_expires_on(t) == 1796458000);
    } else {
        assert(t == NULL);
        assert(ut_has(ctx, says));
        assert(avoid == NULL || strstr(ek_ctx_errmsg(ctx), avoid) == NULL);
    }
    ek_access_token_free(&t);
    ek_ctx_free(&ctx);
    free(buf);
}

static void
assertion(const char *name, ek_err code)
{
    struct ek_ctx *ctx = NULL;
    struct ek_secret *jwt = NULL;
    size_t len;
    char *buf = seed(name, &len);

    assert(ek_ctx_new(&ctx) == EK_OK);
    assert(ek_agent_answer_assertion(ctx, SOCK, buf, len, &jwt) == code);
    assert((jwt != NULL) == (code == EK_OK));
    if (jwt != NULL)
        assert(strncmp(jwt->buf, "eyJ0", 4) == 0);
    ek_secret_free(&jwt);
    ek_ctx_free(&ctx);
    free(buf);
}

int
main(void)
{
    /* served */
    token("token_ok", WHOLE, EK_OK, NULL, NULL);
    /* what follows Content-Length is not read */
    token("token_extra_bytes", BUT(30), EK_OK, NULL, NULL);
    token("token_no_length", TO_END, EK_OK, NULL, NULL);
    token("http10_bare", TO_END, EK_OK, NULL, NULL);
    assertion("assertion_ok", EK_OK);
    assertion("token_ok", EK_ERR_NO_AGENT);
    /* the agent's errors: its code, its sentence made safe */
    token("err_uid", WHOLE, EK_ERR_USAGE,
          "agent: caller uid 1001 is not allowed", NULL);
    token("err_removed", WHOLE, EK_ERR_DEVICE, "reinsert", NULL);
    token("err_escape", WHOLE, EK_ERR_ENTRA, "AADSTS700027 \\x1B[31mred",
          "eyJ0eXAi");
    token("err_code_unknown", WHOLE, EK_ERR_NO_AGENT,
          "without an error it explains", NULL);
    /* broken answers */
    token("token_cut_short", BEYOND, EK_ERR_NO_AGENT, "cut short", NULL);
    token("token_length_negative", TO_END, EK_ERR_NO_AGENT,
          "did not answer HTTP", NULL);
    token("token_length_huge", TO_END, EK_ERR_NO_AGENT, "did not answer HTTP",
          NULL);
    token("not_http", 0, EK_ERR_NO_AGENT, "did not answer HTTP", NULL);
    token("head_only", 0, EK_ERR_NO_AGENT, "did not answer HTTP", NULL);
    token("token_not_object", WHOLE, EK_ERR_NO_AGENT, "without JSON", NULL);
    /* a token that is not one */
    token("token_escape", WHOLE, EK_ERR_NO_AGENT, "a control character",
          "\x1b");
    token("token_space", WHOLE, EK_ERR_NO_AGENT, "a space", NULL);
    token("token_nul", WHOLE, EK_ERR_NO_AGENT, "without the token's fields",
          NULL);
    token("token_inf", WHOLE, EK_ERR_NO_AGENT, "without the token's fields",
          NULL);
    token("token_negative", WHOLE, EK_ERR_NO_AGENT,
          "without the token's fields", NULL);
    return 0;
}
