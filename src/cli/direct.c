/* direct.c: the direct path of `token` and `assert` (and `exec`): the
 * certificate file, the key on the token, the signature and the request,
 * when no agent serves them. Apart from the rest of the commands so that
 * the agent's client (src/cli/fast/) is linked without it: a client the
 * agent serves never loads the token, TLS or X.509 code. */
#include <string.h>

#include "cli.h"

/* What token and assert do first: the certificate file before the token
 * (a bad file needs no PIN), then the key, a failure audited as event; a
 * certificate that expires soon is said. 0, or the exit code (the caller
 * frees *certp and *keyp in both cases). */
static int
direct_open(struct cli *cli, struct cli_sign *s, const char *event,
            struct ek_cert **certp, struct ek_key **keyp)
{
    ek_err r;

    if (s->cert_file != NULL &&
        (r = ek_cert_load_file(cli->ctx, s->cert_file, certp)) != EK_OK)
        return cli_fail(cli, r);
    if ((r = ek_key_open(cli->ctx, s->val[CLI_SF_KEY], keyp)) != EK_OK) {
        cli_sign_audit(cli, s, event, r, "direct", NULL);
        return cli_fail_uri(cli, r, s->val[CLI_SF_KEY]);
    }
    cli_warn_expiry(cli, *keyp, *certp);
    return CLI_EXIT_OK;
}

int
cli_direct_token(struct cli *cli, struct cli_sign *s,
                 struct ek_access_token_params *p, struct ek_access_token **atp,
                 struct ek_key **keyp)
{
    struct ek_key *key = NULL;
    struct ek_cert *cert = NULL;
    int rc;
    ek_err r;

    if ((rc = direct_open(cli, s, "token", &cert, &key)) != CLI_EXIT_OK)
        goto out;
    p->assertion.cert = cert;
    r = ek_access_token_acquire(cli->ctx, key, p, atp);
    /* a signature was made when the context holds its jti */
    if (ek_ctx_assertion_jti(cli->ctx)[0] != '\0')
        cli_sign_audit(cli, s, "assertion", EK_OK, "direct",
                       ek_ctx_assertion_jti(cli->ctx));
    cli_sign_audit(cli, s, "token", r, "direct",
                   ek_ctx_assertion_jti(cli->ctx));
    if (r != EK_OK) {
        rc = cli_fail(cli, r);
        cli_sign_after_error(cli, s, r);
        goto out;
    }
    rc = CLI_EXIT_OK;
    if (keyp != NULL) {
        *keyp = key; /* exec scrubs its PIN source, then frees it */
        key = NULL;
    }
out:
    p->assertion.cert = NULL;
    ek_cert_free(&cert);
    ek_key_free(&key);
    return rc;
}

int
cli_direct_assert(struct cli *cli, struct cli_sign *s,
                  struct ek_assertion_params *p, struct ek_secret **jwtp)
{
    struct ek_key *k = NULL;
    struct ek_cert *cert = NULL;
    int rc;
    ek_err r;

    if ((rc = direct_open(cli, s, "assertion", &cert, &k)) != CLI_EXIT_OK)
        goto out;
    p->cert = cert;
    r = ek_assertion_sign(cli->ctx, k, p, jwtp);
    cli_sign_audit(cli, s, "assertion", r, "direct",
                   ek_ctx_assertion_jti(cli->ctx));
    if (r != EK_OK) {
        rc = cli_fail(cli, r);
        cli_sign_after_error(cli, s, r);
        goto out;
    }
    rc = CLI_EXIT_OK;
out:
    p->cert = NULL;
    ek_cert_free(&cert);
    ek_key_free(&k);
    return rc;
}
