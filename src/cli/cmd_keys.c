/* cmd_keys.c: `entrakey keys`: the private keys on tokens, how well they
 * prove non-exportability, and their certificates; `entrakey keys delete`. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static const char usage_keys[] =
    "usage: entrakey keys [TOKEN-URI] [--module PATH] [--pin-source SRC]\n"
    "                     [--json]\n"
    "       entrakey keys delete KEY-URI [--yes] [--force] [--config FILE]\n"
    "                     (see entrakey keys delete --help)\n"
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

static const char usage_delete[] =
    "usage: entrakey keys delete KEY-URI [--yes] [--force] [--config FILE]\n"
    "                     [--json]\n"
    "\n"
    "Deletes a key from its token: the private key, then the certificate\n"
    "and the public key with its id, and lists what was deleted. Asks first\n"
    "on a terminal; elsewhere --yes is required. Needs the token's PIN (a\n"
    "YubiKey: the management key, --so-pin-source).\n"
    "\n"
    "A key in a PIV slot (YubiKey, PIV card) cannot be deleted, only\n"
    "replaced by a new key in the same slot: its certificate is deleted and\n"
    "the key stays, which is said.\n"
    "\n"
    "  --yes            delete without asking\n"
    "  --force          delete even when a profile names the key (the\n"
    "                   profile is left as it is)\n"
    "  --config FILE    the configuration file whose profiles are checked\n"
    "                   (default: the user's, then /etc/entrakey/config)\n"
    "  --json           print what was deleted as JSON\n"
    "Common options (--module, --pin-source, --so-pin-source, -v): see\n"
    "entrakey --help.\n"
    "\n"
    "Exit codes: 0 deleted, 2 usage (no --yes off a terminal, a profile\n"
    "names the key, or the answer was no), 3 token (the key or a part of it "
    "could not be\n"
    "deleted: the message says what is left), 4 PIN.\n";

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

/* ------------------------------------------------------------ delete */

/* Whether a profile's key URI names key k: each of token=, serial=,
 * object= and id= it has is k's (an attribute it lacks matches anything,
 * as the URI would when opened). Conservative on purpose: deleting a key a
 * profile still uses is what --force is for. */
static int
uri_names_key(const char *uri, const struct ek_key *k)
{
    const char *p, *end, *eq, *want;
    char val[512], hex[1025];
    size_t n, vlen, i;

    if (uri == NULL || strncmp(uri, "pkcs11:", 7) != 0)
        return 0;
    p = uri + 7;
    end = p + strcspn(p, "?");
    while (p < end) {
        n = strcspn(p, ";");
        if (p + n > end)
            n = (size_t)(end - p);
        eq = memchr(p, '=', n);
        vlen = sizeof val;
        /* a '%' that is not an escape is compared as written; a value too
         * long for val is not compared */
        if (eq != NULL &&
            ek_percent_decode(NULL, eq + 1, n - (size_t)(eq + 1 - p),
                              EK_PERCENT_KEEP_INVALID, val, &vlen) == EK_OK) {
            want = NULL;
            if ((size_t)(eq - p) == 5 && strncmp(p, "token", 5) == 0)
                want = ek_key_token_label(k);
            else if ((size_t)(eq - p) == 6 && strncmp(p, "serial", 6) == 0)
                want = ek_key_token_serial(k);
            else if ((size_t)(eq - p) == 6 && strncmp(p, "object", 6) == 0)
                want = ek_key_label(k);
            if (want != NULL &&
                (strlen(want) != vlen || strcmp(want, val) != 0))
                return 0;
            if ((size_t)(eq - p) == 2 && strncmp(p, "id", 2) == 0) {
                if (vlen * 2 >= sizeof hex)
                    return 0;
                for (i = 0; i < vlen; i++)
                    snprintf(hex + 2 * i, 3, "%02x", (unsigned char)val[i]);
                hex[2 * vlen] = '\0';
                if (strcmp(hex, ek_key_id_hex(k)) != 0)
                    return 0;
            }
        }
        p += n + (p + n < end ? 1 : 0);
    }
    return 1;
}

/* The profiles naming k, as "'a' (FILE), 'b' (FILE)" in out; their count. */
static int
profiles_naming(struct cli *cli, const char *config, const struct ek_key *k,
                char *out, size_t outsz)
{
    struct cli_config cc;
    const char *name;
    size_t i, j, used = 0;
    int count = 0, w;

    out[0] = '\0';
    if (cli_config_open(cli, &cc, config, config != NULL) != 0)
        return -1;
    for (i = 0; i < cc.n; i++) {
        for (j = 0; j < ek_config_profile_count(cc.file[i].cfg); j++) {
            name = ek_config_profile_name(cc.file[i].cfg, j);
            /* a profile is taken whole from the first file that has it */
            if (name == NULL || cli_config_find(&cc, name) != &cc.file[i] ||
                !uri_names_key(ek_config_get(cc.file[i].cfg, name, "key"), k))
                continue;
            count++;
            w = snprintf(out + used, outsz - used, "%s'%s' (%s)",
                         used > 0 ? ", " : "", cli_safe(name), cc.file[i].path);
            if (w > 0 && (size_t)w < outsz - used)
                used += (size_t)w;
        }
    }
    cli_config_free(&cc);
    return count;
}

/* Asks on the terminal; 1 for yes. */
static int
confirm(const struct ek_key *k)
{
    char line[16];

    fprintf(stderr, "Delete key %s from token '%s'? [y/N] ", ek_key_uri(k),
            cli_safe(ek_key_token_label(k)));
    fflush(stderr);
    if (fgets(line, sizeof line, stdin) == NULL)
        return 0;
    return strcmp(line, "y\n") == 0 || strcmp(line, "yes\n") == 0 ||
           strcmp(line, "Y\n") == 0;
}

static void
list_objects(const char *verb, unsigned bits, const char *cert)
{
    if (bits & EK_OBJ_PRIVATE_KEY)
        printf("%-9s private key\n", verb);
    if (bits & EK_OBJ_PUBLIC_KEY)
        printf("%-9s public key\n", verb);
    if (bits & EK_OBJ_CERT)
        printf("%-9s certificate%s%s\n", verb, cert[0] != '\0' ? " " : "",
               cert);
}

static cJSON *
objects_json(unsigned bits)
{
    cJSON *a = cJSON_CreateArray();

    if (a == NULL)
        return NULL;
    if (bits & EK_OBJ_PRIVATE_KEY)
        cJSON_AddItemToArray(a, cJSON_CreateString("private key"));
    if (bits & EK_OBJ_PUBLIC_KEY)
        cJSON_AddItemToArray(a, cJSON_CreateString("public key"));
    if (bits & EK_OBJ_CERT)
        cJSON_AddItemToArray(a, cJSON_CreateString("certificate"));
    return a;
}

static int
keys_delete(struct cli *cli, int argc, char **argv)
{
    enum { OPT_YES = OPT_CMD_BASE, OPT_FORCE, OPT_CONFIG };
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"yes", no_argument, NULL, OPT_YES},
        {"force", no_argument, NULL, OPT_FORCE},
        {"config", required_argument, NULL, OPT_CONFIG},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "keys delete", *config = NULL;
    struct ek_key *k = NULL;
    struct ek_cert *c = NULL;
    const unsigned char *der = NULL;
    char names[2048], cert[512], uri[1024];
    unsigned deleted = 0, kept = 0;
    size_t len = 0;
    int yes = 0, force = 0, c_opt, rc, n;
    cJSON *doc;
    ek_err r;

    cli->cmd = cmd;
    optind = 0;
    while ((c_opt = cli_getopt(argc, argv, CLI_COMMON_SHORTOPTS, longopts,
                               cmd)) != -1) {
        switch (c_opt) {
        case OPT_YES:
            yes = 1;
            break;
        case OPT_FORCE:
            force = 1;
            break;
        case OPT_CONFIG:
            config = optarg;
            break;
        default:
            if ((rc = cli_common_opt(cli, c_opt, optarg, cmd, usage_delete)) !=
                0)
                return rc > 0
                           ? rc
                           : cli_usage(cmd, usage_delete, "unexpected option");
        }
    }
    if (argc - optind != 1)
        return cli_usage(cmd, usage_delete,
                         argc - optind == 0 ? "give the key's pkcs11: URI"
                                            : "one key URI, please");
    if (!yes && !isatty(STDIN_FILENO))
        return cli_usage(cmd, usage_delete,
                         "standard input is not a terminal to ask on: give "
                         "--yes to delete without asking; nothing was "
                         "deleted");
    if ((rc = cli_apply(cli)) != 0)
        return rc;
    if ((r = ek_key_open(cli->ctx, argv[optind], &k)) != EK_OK) {
        rc = cli_fail_uri(cli, r, argv[optind]);
        goto out;
    }
    snprintf(uri, sizeof uri, "%s", ek_key_uri(k));
    cert[0] = '\0';
    if (ek_key_cert_der(k, &der, &len) == EK_OK &&
        ek_cert_load(cli->ctx, der, len, &c) == EK_OK)
        snprintf(cert, sizeof cert, "%s (thumbprint %s)", ek_cert_subject(c),
                 ek_cert_thumbprint(c));
    if ((n = profiles_naming(cli, config, k, names, sizeof names)) < 0) {
        rc = CLI_EXIT_USAGE;
        goto out;
    }
    if (n > 0 && !force) {
        fprintf(stderr,
                "entrakey: key %s is named by profile%s %s; nothing was "
                "deleted. Point %s at another key (entrakey profile add NAME "
                "--key URI), or give --force to delete it anyway\n",
                uri, n == 1 ? "" : "s", names, n == 1 ? "it" : "them");
        rc = CLI_EXIT_USAGE;
        goto out;
    }
    if (n > 0)
        cli_warn("profile%s %s name%s key %s, which is deleted (--force)",
                 n == 1 ? "" : "s", names, n == 1 ? "s" : "", uri);
    if (!yes) {
        printf("key:         %s\n", uri);
        printf("token:       %s\n", cli_safe(ek_key_token_label(k)));
        printf("label:       %s\n", cli_safe(ek_key_label(k)));
        printf("certificate: %s\n", cert[0] != '\0' ? cert : "none");
        fflush(stdout);
        if (!confirm(k)) {
            fprintf(stderr, "entrakey: nothing was deleted\n");
            rc = CLI_EXIT_USAGE;
            goto out;
        }
    }
    r = ek_key_delete(k, &deleted, &kept);
    if (r != EK_OK)
        rc = cli_fail(cli, r);
    else
        rc = CLI_EXIT_OK;
    /* a PIV slot's key kept: the library said so (EK_LOG_WARN) */
    if (cli->json) {
        doc = cJSON_CreateObject();
        if (doc != NULL &&
            (cJSON_AddStringToObject(doc, "key", uri) == NULL ||
             !cJSON_AddItemToObject(doc, "deleted", objects_json(deleted)) ||
             !cJSON_AddItemToObject(doc, "kept", objects_json(kept)) ||
             (cert[0] != '\0'
                  ? cJSON_AddStringToObject(doc, "certificate", cert)
                  : cJSON_AddNullToObject(doc, "certificate")) == NULL)) {
            cJSON_Delete(doc);
            doc = NULL;
        }
        n = cli_print_json(doc);
        if (rc == CLI_EXIT_OK)
            rc = n;
        goto out;
    }
    printf("key:      %s\n", uri);
    list_objects("deleted:", deleted, cert);
    list_objects("kept:", kept, (kept & EK_OBJ_CERT) ? cert : "");
    if (deleted == 0)
        printf("deleted:  nothing\n");
out:
    ek_cert_free(&c);
    ek_key_free(&k);
    return rc;
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

    if (argc >= 2 && strcmp(argv[1], "delete") == 0)
        return keys_delete(cli, argc - 1, argv + 1);
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
