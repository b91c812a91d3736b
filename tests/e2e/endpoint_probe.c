/* endpoint_probe.c: the library alone, for e2e_test_endpoint_rules:
 *   endpoint_probe assert KEY-URI PIN-SOURCE TENANT CLIENT-ID AUTHORITY
 *   endpoint_probe token  KEY-URI PIN-SOURCE TENANT CLIENT-ID AUTHORITY CA
 * AUTHORITY "-" is none (the global cloud's). assert prints the JWT, token
 * "ok"; an error prints the context's sentence on stderr. The exit status
 * is the ek_err. */
#include <stdio.h>
#include <string.h>

#include <entrakey.h>

int
main(int argc, char **argv)
{
    struct ek_ctx *ctx = NULL;
    struct ek_key *k = NULL;
    struct ek_secret *jwt = NULL;
    struct ek_access_token *at = NULL;
    struct ek_access_token_params p;
    int token;
    ek_err r;

    if (argc < 7 || (token = strcmp(argv[1], "token") == 0) != (argc == 8)) {
        fprintf(stderr, "usage: endpoint_probe assert|token KEY-URI "
                        "PIN-SOURCE TENANT CLIENT-ID AUTHORITY [CA]\n");
        return 100;
    }
    memset(&p, 0, sizeof p);
    p.assertion.tenant = argv[4];
    p.assertion.client_id = argv[5];
    p.assertion.authority_host = strcmp(argv[6], "-") == 0 ? NULL : argv[6];
    p.ca_file = token ? argv[7] : NULL;
    if ((r = ek_ctx_new(&ctx)) != EK_OK)
        return (int)r;
    if ((r = ek_ctx_set_pin_source(ctx, argv[3])) != EK_OK ||
        (r = ek_key_open(ctx, argv[2], &k)) != EK_OK)
        goto out;
    if (token)
        r = ek_access_token_acquire(ctx, k, &p, &at);
    else
        r = ek_assertion_sign(ctx, k, &p.assertion, &jwt);
    if (r == EK_OK)
        printf("%s\n", token ? "ok" : ek_secret_data(jwt));
out:
    if (r != EK_OK)
        fprintf(stderr, "%s\n", ek_ctx_errmsg(ctx));
    ek_secret_free(&jwt);
    ek_access_token_free(&at);
    ek_key_free(&k);
    ek_ctx_free(&ctx);
    return (int)r;
}
