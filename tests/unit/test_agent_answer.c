/* test_agent_answer.c: what the client makes of an agent's answers
 * (agent_client.c), on the fuzzer's seeds (tests/fuzz/corpus/agent_answer/):
 * each seed's expected outcome, so that the corpus the fuzzer starts from
 * is known to reach the paths it names. */
#include <stdint.h>

#include "unit.h"
#include "entra.h"
#include "../fuzz/fuzz.h"

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

/* The token answer in seed name ("NNN\n" then the body, as the fuzzer
 * reads it): the parse gives code and, on success, the seeds' token, else
 * a sentence with says (and without avoid, when given). */
static void
token(const char *name, ek_err code, const char *says, const char *avoid)
{
    struct ek_ctx *ctx = NULL;
    struct ek_access_token *t = NULL;
    size_t len, off;
    char *buf = seed(name, &len);
    long status = fuzz_agent_status((const uint8_t *)buf, len, &off);
    ek_err r;

    assert(off == 4);
    assert(ek_ctx_new(&ctx) == EK_OK);
    r = ek_agent_answer_token(ctx, SOCK, status, buf + off, len - off, &t);
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
    size_t len, off;
    char *buf = seed(name, &len);
    long status = fuzz_agent_status((const uint8_t *)buf, len, &off);

    assert(ek_ctx_new(&ctx) == EK_OK);
    assert(ek_agent_answer_assertion(ctx, SOCK, status, buf + off, len - off,
                                     &jwt) == code);
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
    token("token_ok", EK_OK, NULL, NULL);
    assertion("assertion_ok", EK_OK);
    assertion("token_ok", EK_ERR_NO_AGENT);
    /* the agent's errors: its code, its sentence made safe */
    token("err_uid", EK_ERR_USAGE, "agent: caller uid 1001 is not allowed",
          NULL);
    token("err_removed", EK_ERR_DEVICE, "reinsert", NULL);
    token("err_path", EK_ERR_USAGE, "agent: no such path", NULL);
    token("err_escape", EK_ERR_ENTRA, "AADSTS700027 \\x1B[31mred", "eyJ0eXAi");
    token("err_code_unknown", EK_ERR_NO_AGENT, "without an error it explains",
          NULL);
    /* not the agent's JSON */
    token("not_json", EK_ERR_NO_AGENT, "without JSON", NULL);
    token("token_not_object", EK_ERR_NO_AGENT, "without JSON", NULL);
    /* a token that is not one */
    token("token_escape", EK_ERR_NO_AGENT, "a control character", "\x1b");
    token("token_space", EK_ERR_NO_AGENT, "a space", NULL);
    token("token_nul", EK_ERR_NO_AGENT, "without the token's fields", NULL);
    token("token_inf", EK_ERR_NO_AGENT, "without the token's fields", NULL);
    token("token_negative", EK_ERR_NO_AGENT, "without the token's fields",
          NULL);
    return 0;
}
