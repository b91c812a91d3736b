/* direct.c: the direct path of `token` and `assert` (and `exec`): the
 * certificate file, the key on the token, the signature and the request,
 * when no agent serves them. Apart from the rest of the commands so that
 * the agent's client (src/cli/fast/) is linked without it: a client the
 * agent serves never loads the token, TLS or X.509 code. */
#include <string.h>

#include "cli.h"

int
cli_direct_token(struct cli *cli, struct cli_sign *s,
                 struct ek_access_token_params *p, struct ek_access_token **atp,
                 struct ek_key **keyp)
{
    struct ek_key *key = NULL;
    struct ek_cert *cert = NULL;
    int rc;
    ek_err r;

    /* the file before the token: a bad file needs no PIN */
    if (s->cert_file != NULL &&
        (r = ek_cert_load_file(cli->ctx, s->cert_file, &cert)) != EK_OK) {
        rc = cli_fail(cli, r);
        goto out;
    }
    p->assertion.cert = cert;
    if ((r = ek_key_open(cli->ctx, s->val[CLI_SF_KEY], &key)) != EK_OK) {
        cli_sign_audit(cli, s, "token", r, "direct", NULL);
        rc = cli_fail_uri(cli, r, s->val[CLI_SF_KEY]);
        goto out;
    }
    cli_warn_expiry(cli, key, cert);
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

    /* the file before the token: a bad file needs no PIN */
    if (s->cert_file != NULL &&
        (r = ek_cert_load_file(cli->ctx, s->cert_file, &cert)) != EK_OK) {
        rc = cli_fail(cli, r);
        goto out;
    }
    p->cert = cert;
    if ((r = ek_key_open(cli->ctx, s->val[CLI_SF_KEY], &k)) != EK_OK) {
        cli_sign_audit(cli, s, "assertion", r, "direct", NULL);
        rc = cli_fail_uri(cli, r, s->val[CLI_SF_KEY]);
        goto out;
    }
    cli_warn_expiry(cli, k, cert);
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
