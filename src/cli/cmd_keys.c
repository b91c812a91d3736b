/* cmd_keys.c: `entrakey keys`: the private keys on tokens, how well they
 * prove non-exportability, and their certificates. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static const char usage_keys[] =
    "usage: entrakey keys [TOKEN-URI] [--module PATH] [--pin-source SRC]\n"
    "                     [--json]\n"
    "\n"
    "Lists the private keys on the tokens TOKEN-URI matches (every token when\n"
    "it is left out): URI, label, id, RSA size, the five attributes that\n"
    "show whether a key can leave the token (CKA_SENSITIVE, CKA_EXTRACTABLE,\n"
    "CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE, CKA_LOCAL) with a verdict,\n"
    "whether each signature needs the PIN again (CKA_ALWAYS_AUTHENTICATE),\n"
    "and the certificate with the key's id: subject, expiry and SHA-1\n"
    "thumbprint. Logs in (one C_Login) when the token hides private\n"
    "objects until then.\n"
    "\n"
    "options:\n"
    "  --module PATH        the PKCS#11 module (.so)\n"
    "  --pin-source SRC     env:NAME | file:PATH | fd:N (default: the URI's\n"
    "                       pin-source=/pin-value=, else a prompt)\n"
    "  --allow-final-pin-try  log in even if one PIN try is left\n"
    "  --json               print a JSON document instead of text\n"
    "  -v, --verbose        trace the PKCS#11 calls on stderr\n"
    "  -h, --help           this help\n"
    "\n"
    "Certificates that have expired or are not yet valid are flagged; one\n"
    "that expires within 30 days is warned about.\n";

/* What each attribute should read for a key that cannot leave the token. */
static int
attr_wanted(int a)
{
    return a == EK_ATTR_EXTRACTABLE ? 0 : 1;
}

enum cert_state { CERT_OK, CERT_EXPIRED, CERT_NOT_YET, CERT_EXPIRING };

static enum cert_state
cert_state(const struct ek_cert *c, long long now, long long *days)
{
    long long na = ek_cert_not_after(c);

    *days = (na - now) / 86400;
    if (now > na)
        return CERT_EXPIRED;
    if (now < ek_cert_not_before(c))
        return CERT_NOT_YET;
    if (na - now < 30LL * 86400)
        return CERT_EXPIRING;
    return CERT_OK;
}

static const char *const cert_state_json[] = {"valid", "expired",
                                              "not-yet-valid", "expiring"};

static void
print_cert(struct cli *cli, const struct ek_key *k, long long now)
{
    const unsigned char *der = NULL;
    struct ek_cert *c = NULL;
    char na[32], nb[32];
    size_t len = 0;
    long long days;
    ek_err r;

    if (ek_key_cert_der(k, &der, &len) != EK_OK) {
        printf("  certificate:   none with this id (entrakey cert create "
               "makes one)\n");
        return;
    }
    if ((r = ek_cert_load(cli->ctx, der, len, &c)) != EK_OK) {
        printf("  certificate:   %zu bytes that cannot be read: %s\n", len,
               ek_ctx_errmsg(cli->ctx));
        return;
    }
    cli_iso8601(ek_cert_not_after(c), na, sizeof na);
    cli_iso8601(ek_cert_not_before(c), nb, sizeof nb);
    printf("  certificate:   %s\n", ek_cert_subject(c));
    printf("    not after:   %s", na);
    switch (cert_state(c, now, &days)) {
    case CERT_EXPIRED:
        printf("  EXPIRED\n");
        cli_warn("the certificate of %s expired on %s; make a new one",
                 ek_key_uri(k), na);
        break;
    case CERT_NOT_YET:
        printf("  NOT YET VALID (from %s)\n", nb);
        cli_warn("the certificate of %s is not valid before %s", ek_key_uri(k),
                 nb);
        break;
    case CERT_EXPIRING:
        printf("  expires in %lld day%s\n", days, days == 1 ? "" : "s");
        cli_warn("the certificate of %s expires in %lld day%s (%s); make a "
                 "new one and upload it",
                 ek_key_uri(k), days, days == 1 ? "" : "s", na);
        break;
    default:
        printf("\n");
    }
    printf("    thumbprint:  %s (SHA-1)\n", ek_cert_thumbprint(c));
    ek_cert_free(&c);
}

static void
print_key(struct cli *cli, const struct ek_key *k, long long now)
{
    int a, v;

    printf("key %s\n", ek_key_uri(k));
    printf("  token:         %s\n", cli_safe(ek_key_token_label(k)));
    printf("  label:         %s\n", cli_safe(ek_key_label(k)));
    printf("  id:            %s\n", ek_key_id_hex(k));
    if (ek_key_bits(k) > 0)
        printf("  RSA bits:      %u\n", ek_key_bits(k));
    else
        printf("  RSA bits:      unknown (not an RSA key?)\n");
    for (a = 0; a < 5 && !ek_key_needs_login(k); a++) {
        v = ek_key_attr(k, (enum ek_key_attr)a);
        printf("  %-23s %-10s %s\n", cli_attr_name(a),
               v == 1   ? "TRUE"
               : v == 0 ? "FALSE"
                        : "unreadable",
               v == attr_wanted(a) ? "ok"
               : v < 0             ? "(the module does not report it)"
                                   : (attr_wanted(a) ? "(should be TRUE)"
                                                     : "(should be FALSE)"));
    }
    printf("  verdict:       %s\n", cli_key_verdict_text(k));
    printf("  always-authenticate: %s\n",
           ek_key_always_authenticate(k)
               ? "yes (the PIN is asked for each signature)"
               : "no");
    print_cert(cli, k, now);
}

static cJSON *
cert_json(struct cli *cli, const struct ek_key *k, long long now)
{
    const unsigned char *der = NULL;
    struct ek_cert *c = NULL;
    cJSON *o;
    char na[32], nb[32];
    size_t len = 0;
    long long days;

    if (ek_key_cert_der(k, &der, &len) != EK_OK)
        return cJSON_CreateNull();
    if ((o = cJSON_CreateObject()) == NULL)
        return NULL;
    if (ek_cert_load(cli->ctx, der, len, &c) != EK_OK) {
        cJSON_AddStringToObject(o, "error", ek_ctx_errmsg(cli->ctx));
        return o;
    }
    cli_iso8601(ek_cert_not_after(c), na, sizeof na);
    cli_iso8601(ek_cert_not_before(c), nb, sizeof nb);
    cJSON_AddStringToObject(o, "subject", ek_cert_subject(c));
    cJSON_AddStringToObject(o, "not_before", nb);
    cJSON_AddStringToObject(o, "not_after", na);
    cJSON_AddStringToObject(o, "thumbprint", ek_cert_thumbprint(c));
    cJSON_AddStringToObject(o, "status",
                            cert_state_json[cert_state(c, now, &days)]);
    ek_cert_free(&c);
    return o;
}

static cJSON *
to_json(struct cli *cli, const struct ek_key_list *l, long long now)
{
    cJSON *doc = cJSON_CreateObject(), *arr, *o;
    const struct ek_key *k;
    size_t i;

    if (doc == NULL || (arr = cJSON_AddArrayToObject(doc, "keys")) == NULL)
        goto fail;
    for (i = 0; i < ek_key_list_count(l); i++) {
        k = ek_key_list_get(l, i);
        if ((o = cJSON_CreateObject()) == NULL)
            goto fail;
        cJSON_AddItemToArray(arr, o);
        if (cli_key_json(o, k) != 0 ||
            !cJSON_AddBoolToObject(o, "always_authenticate",
                                   ek_key_always_authenticate(k)) ||
            !cJSON_AddItemToObject(o, "certificate", cert_json(cli, k, now)))
            goto fail;
    }
    return doc;
fail:
    cJSON_Delete(doc);
    return NULL;
}

int
cmd_keys(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct ek_key_list *l = NULL;
    const char *uri = NULL;
    long long now = (long long)time(NULL);
    size_t i;
    ek_err r;
    int c, rc;

    while ((c = cli_getopt(argc, argv, CLI_COMMON_SHORTOPTS, longopts,
                           "keys")) != -1) {
        rc = cli_common_opt(cli, c, optarg, "keys", usage_keys);
        if (rc > 0)
            return rc;
        if (rc < 0)
            return cli_usage("keys", usage_keys, "unexpected option");
    }
    if (optind < argc)
        uri = argv[optind++];
    if (optind < argc)
        return cli_usage("keys", usage_keys, "unexpected argument '%s'",
                         argv[optind]);
    if ((rc = cli_apply(cli)) != 0)
        return rc;
    if ((r = ek_keys_list(cli->ctx, uri, &l)) != EK_OK)
        return cli_fail(cli, r);
    if (cli->json) {
        rc = cli_print_json(to_json(cli, l, now));
    } else {
        if (ek_key_list_count(l) == 0)
            printf("no private keys found; make one with entrakey keygen\n");
        for (i = 0; i < ek_key_list_count(l); i++) {
            if (i > 0)
                printf("\n");
            print_key(cli, ek_key_list_get(l, i), now);
        }
        rc = CLI_EXIT_OK;
    }
    ek_key_list_free(&l);
    return rc;
}
