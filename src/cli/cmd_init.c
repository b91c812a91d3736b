/* cmd_init.c: `entrakey init`: a key on the token, its certificate made and
 * stored on the token, and the .cer written, in one step. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define DAYS_MAX 36500u
#define ID_MAX 64

static const char usage_init[] =
    "usage: entrakey init TOKEN-URI --label LABEL --subject DN [--out "
    "FILE.cer]\n"
    "                     [--pem FILE.pem] [--days N] [--bits 2048|3072|4096]\n"
    "                     [--id HEX] [--sig rsa-pkcs1|rsa-pss] [--force] "
    "[--json]\n"
    "\n"
    "Generates a non-exportable RSA key on the token, builds its self-signed\n"
    "certificate there (the signature is made on the token and checked),\n"
    "stores the certificate under the key's id, and writes the .cer to upload\n"
    "to the app registration. Output files are checked before the key is\n"
    "made; if a later step fails, the key made in this run is named with the\n"
    "commands that remove it (it is never deleted silently).\n"
    "\n"
    "  --label LABEL     the key's label (CKA_LABEL); required\n"
    "  --subject DN      the certificate's subject: "
    "\"CN=ExchangeAuth,O=Contoso\"\n"
    "                    or \"/O=Contoso/CN=ExchangeAuth\"; required\n"
    "  --out FILE.cer    the DER certificate to write (default: LABEL.cer "
    "here)\n"
    "  --pem FILE.pem    write it as PEM too\n"
    "  --days N          validity in days; default 365\n"
    "  --bits N          RSA key size: 2048 (default), 3072 or 4096\n"
    "  --id HEX          the key's CKA_ID (default: an unused one)\n"
    "  --sig ALG         certificate signature: rsa-pkcs1 (default) or "
    "rsa-pss\n"
    "  --force           replace existing output files\n"
    "  --json            print the result as JSON\n"
    "Common options (--module, --pin-source, --so-pin-source, -v): see\n"
    "entrakey --help.\n";

enum {
    OPT_LABEL = OPT_CMD_BASE,
    OPT_SUBJECT,
    OPT_OUT,
    OPT_PEM,
    OPT_DAYS,
    OPT_BITS,
    OPT_ID,
    OPT_SIG,
    OPT_FORCE,
};

static const struct option longopts[] = {
    CLI_COMMON_LONGOPTS,
    {"label", required_argument, NULL, OPT_LABEL},
    {"subject", required_argument, NULL, OPT_SUBJECT},
    {"out", required_argument, NULL, OPT_OUT},
    {"pem", required_argument, NULL, OPT_PEM},
    {"days", required_argument, NULL, OPT_DAYS},
    {"bits", required_argument, NULL, OPT_BITS},
    {"id", required_argument, NULL, OPT_ID},
    {"sig", required_argument, NULL, OPT_SIG},
    {"force", no_argument, NULL, OPT_FORCE},
    {NULL, 0, NULL, 0},
};

/* The key stays; say so, and how to remove it. */
static void
report_leftover(const struct cli *cli, const struct ek_key *k)
{
    const char *module = cli->module;
    const char *id = ek_key_id_hex(k);

    if (module == NULL)
        module = getenv("ENTRAKEY_MODULE");
    if (module == NULL || module[0] == '\0')
        module = "MODULE.so";
    if (ek_key_in_piv_slot(k)) {
        fprintf(stderr,
                "entrakey: the key made in this run is still on the "
                "token: %s\n"
                "entrakey: to keep it, make its certificate with: entrakey "
                "cert create '%s' --subject … --force --so-pin-source …\n"
                "entrakey: PIV keys cannot be deleted, only overwritten: "
                "run entrakey init again with --id %s to replace it, or "
                "leave it (without a certificate it is not used)\n",
                ek_key_uri(k), ek_key_uri(k), id);
        return;
    }
    fprintf(stderr,
            "entrakey: the key made in this run is still on the "
            "token: %s\n"
            "entrakey: to keep it, make its certificate with: entrakey cert "
            "create '%s' --subject …\n"
            "entrakey: to remove it:\n"
            "  pkcs11-tool --module %s --token-label '%s' --login "
            "--delete-object --type privkey --id %s\n"
            "  pkcs11-tool --module %s --token-label '%s' --login "
            "--delete-object --type pubkey --id %s\n",
            ek_key_uri(k), ek_key_uri(k), cli_safe(module),
            cli_safe(ek_key_token_label(k)), id, cli_safe(module),
            cli_safe(ek_key_token_label(k)), id);
}

static const char *
attr_text(int v)
{
    return v == 1 ? "TRUE" : v == 0 ? "FALSE" : "unreadable";
}

static int
print_json(const struct ek_key *k, const struct ek_cert *c, const char *out,
           const char *pem)
{
    cJSON *doc = cJSON_CreateObject(), *key, *cert, *files, *f;
    char nb[32], na[32];
    int ok = doc != NULL;

    cli_iso8601((long long)ek_cert_not_before(c), nb, sizeof nb);
    cli_iso8601((long long)ek_cert_not_after(c), na, sizeof na);
    /* the key as keygen --json describes it */
    ok = ok && (key = cJSON_AddObjectToObject(doc, "key")) != NULL &&
         cli_key_made_json(key, k) == 0;
    ok = ok && (cert = cJSON_AddObjectToObject(doc, "certificate")) != NULL &&
         cJSON_AddStringToObject(cert, "subject", ek_cert_subject(c)) != NULL &&
         cJSON_AddStringToObject(cert, "serial", ek_cert_serial_hex(c)) !=
             NULL &&
         cJSON_AddStringToObject(cert, "notBefore", nb) != NULL &&
         cJSON_AddStringToObject(cert, "notAfter", na) != NULL &&
         cJSON_AddStringToObject(cert, "signatureAlgorithm",
                                 ek_cert_sigalg(c)) != NULL &&
         cJSON_AddStringToObject(cert, "thumbprint", ek_cert_thumbprint(c)) !=
             NULL &&
         cJSON_AddStringToObject(cert, "x5t", ek_cert_x5t(c)) != NULL &&
         cJSON_AddStringToObject(cert, "x5t#S256", ek_cert_x5t_s256(c)) !=
             NULL &&
         cJSON_AddBoolToObject(cert, "stored", 1) != NULL &&
         (files = cJSON_AddArrayToObject(doc, "files")) != NULL &&
         (f = cJSON_CreateObject()) != NULL && cJSON_AddItemToArray(files, f) &&
         cJSON_AddStringToObject(f, "path", out) != NULL &&
         cJSON_AddStringToObject(f, "format", "DER") != NULL;
    if (ok && pem != NULL)
        ok = (f = cJSON_CreateObject()) != NULL &&
             cJSON_AddItemToArray(files, f) &&
             cJSON_AddStringToObject(f, "path", pem) != NULL &&
             cJSON_AddStringToObject(f, "format", "PEM") != NULL;
    if (!ok) {
        cJSON_Delete(doc);
        doc = NULL;
    }
    return cli_print_json(doc);
}

static void
print_text(const struct ek_key *k, const struct ek_cert *c, const char *out,
           const char *pem)
{
    const char *dropped = ek_key_template_dropped(k);
    char nb[32], na[32];
    int i;

    cli_iso8601((long long)ek_cert_not_before(c), nb, sizeof nb);
    cli_iso8601((long long)ek_cert_not_after(c), na, sizeof na);
    printf("key:          %s\n", ek_key_uri(k));
    printf("              RSA %u bits, label '%s', id %s\n", ek_key_bits(k),
           cli_safe(ek_key_label(k)), ek_key_id_hex(k));
    for (i = 0; i < EK_ATTR_COUNT; i++)
        printf("              %-22s %s\n", cli_attr_name(i),
               attr_text(ek_key_attr(k, (enum ek_key_attr)i)));
    printf("verdict:      %s\n", cli_key_verdict_text(k));
    if (dropped != NULL && dropped[0] != '\0')
        printf("              (the token refused these template attributes: "
               "%s)\n",
               dropped);
    printf("subject:      %s\n", ek_cert_subject(c));
    printf("valid from:   %s\n", nb);
    printf("valid until:  %s\n", na);
    printf("signature:    %s (made on the token, verified)\n",
           ek_cert_sigalg(c));
    printf("thumbprint:   %s\n", ek_cert_thumbprint(c));
    printf("              (SHA-1: the portal's Thumbprint and "
           "Connect-ExchangeOnline -CertificateThumbprint)\n");
    printf("x5t:          %s\n", ek_cert_x5t(c));
    printf("x5t#S256:     %s\n", ek_cert_x5t_s256(c));
    printf("stored:       on token '%s' with id %s\n",
           cli_safe(ek_key_token_label(k)), ek_key_id_hex(k));
    printf("written:      %s (DER: upload it to the app registration, "
           "Certificates & secrets)\n",
           out);
    if (pem != NULL)
        printf("written:      %s (PEM)\n", pem);
}

int
cmd_init(struct cli *cli, int argc, char **argv)
{
    static const char cmd[] = "init";
    struct ek_keygen_params kp;
    struct ek_cert_params cp;
    struct ek_key *k = NULL;
    struct ek_cert *c = NULL;
    const char *label = NULL, *subject = NULL, *out = NULL, *pem = NULL;
    const char *written[2] = {NULL, NULL};
    char default_out[PATH_MAX];
    unsigned char id[ID_MAX];
    size_t id_len = 0;
    unsigned days = 0, bits = 2048;
    enum ek_alg sig = EK_ALG_RS256;
    int c_opt, rc, force = 0, nwritten = 0, i;
    ek_err r;

    optind = 0;
    while ((c_opt = cli_getopt(argc, argv, CLI_COMMON_SHORTOPTS, longopts,
                               "init")) != -1) {
        switch (c_opt) {
        case OPT_LABEL:
            label = optarg;
            break;
        case OPT_SUBJECT:
            subject = optarg;
            break;
        case OPT_OUT:
            out = optarg;
            break;
        case OPT_PEM:
            pem = optarg;
            break;
        case OPT_DAYS:
            if (cli_parse_uint(optarg, 1, DAYS_MAX, &days) != 0)
                return cli_usage(cmd, usage_init,
                                 "--days '%s' is not a "
                                 "number of days from 1 to %u",
                                 optarg, DAYS_MAX);
            break;
        case OPT_BITS:
            if (cli_parse_uint(optarg, 2048, 4096, &bits) != 0 ||
                (bits != 2048 && bits != 3072 && bits != 4096))
                return cli_usage(cmd, usage_init,
                                 "--bits '%s': give 2048, "
                                 "3072 or 4096",
                                 optarg);
            break;
        case OPT_ID:
            id_len = sizeof id;
            if (ek_key_id_parse(cli->ctx, optarg, id, &id_len) != EK_OK)
                return cli_usage(cmd, usage_init,
                                 "--id '%s' is not hex "
                                 "bytes (e.g. 01 or a1b2), at most %d",
                                 optarg, ID_MAX);
            break;
        case OPT_SIG:
            if (cli_alg_parse(optarg, &sig) != 0)
                return cli_usage(cmd, usage_init,
                                 "--sig '%s' is not "
                                 "rsa-pkcs1 or rsa-pss",
                                 optarg);
            break;
        case OPT_FORCE:
            force = 1;
            break;
        default:
            if ((rc = cli_common_opt(cli, c_opt, optarg, cmd, usage_init)) != 0)
                return rc > 0 ? rc
                              : cli_usage(cmd, usage_init, "unexpected option");
        }
    }
    if (argc - optind != 1)
        return cli_usage(cmd, usage_init, "give the token's pkcs11: URI");
    if (label == NULL || label[0] == '\0')
        return cli_usage(cmd, usage_init, "--label is required");
    if (subject == NULL)
        return cli_usage(cmd, usage_init,
                         "--subject is required, e.g. "
                         "--subject 'CN=ExchangeAuth'");
    if (out == NULL) {
        if (strchr(label, '/') != NULL || strcmp(label, ".") == 0 ||
            strcmp(label, "..") == 0)
            return cli_usage(cmd, usage_init,
                             "the label '%s' is not a file "
                             "name; give --out FILE.cer",
                             label);
        snprintf(default_out, sizeof default_out, "%s.cer", label);
        out = default_out;
    }
    if (pem != NULL && cli_same_file(out, pem))
        return cli_usage(cmd, usage_init,
                         "--out and --pem name the same "
                         "file");
    /* everything that can be refused is refused before the key is made */
    if ((rc = cli_check_output(out, force, "no key was made")) != 0 ||
        (pem != NULL &&
         (rc = cli_check_output(pem, force, "no key was made")) != 0) ||
        (rc = cli_apply(cli)) != 0)
        return rc;
    if ((r = ek_dn_check(cli->ctx, subject)) != EK_OK)
        return cli_fail(cli, r);

    memset(&kp, 0, sizeof kp);
    kp.label = label;
    kp.id = id_len > 0 ? id : NULL;
    kp.id_len = id_len;
    kp.bits = bits;
    if ((r = ek_key_generate(cli->ctx, argv[optind], &kp, &k)) != EK_OK)
        return cli_fail(cli, r);
    if (ek_key_verdict(k) == EK_VERDICT_EXTRACTABLE)
        cli_warn("the token reports the new key as extractable; see "
                 "entrakey keys");

    /* the certificate: made and checked, written, then stored, so that a
     * failure leaves no file without its certificate on the token */
    memset(&cp, 0, sizeof cp);
    cp.subject = subject;
    cp.days = days;
    cp.sig = sig;
    cp.flags = EK_CERT_NO_STORE;
    if ((r = ek_cert_create(cli->ctx, k, &cp, &c)) != EK_OK)
        goto fail;
    if ((r = ek_cert_write(cli->ctx, c, out, EK_FORMAT_DER,
                           force ? EK_WRITE_FORCE : 0)) != EK_OK)
        goto fail;
    written[nwritten++] = out;
    if (pem != NULL) {
        if ((r = ek_cert_write(cli->ctx, c, pem, EK_FORMAT_PEM,
                               force ? EK_WRITE_FORCE : 0)) != EK_OK)
            goto fail;
        written[nwritten++] = pem;
    }
    if ((r = ek_cert_import(cli->ctx, k, c, 0)) != EK_OK)
        goto fail;
    if (cli->json)
        rc = print_json(k, c, out, pem);
    else {
        print_text(k, c, out, pem);
        rc = CLI_EXIT_OK;
    }
    goto out;
fail:
    rc = cli_fail(cli, r);
    for (i = 0; i < nwritten; i++)
        unlink(written[i]);
    report_leftover(cli, k);
out:
    ek_cert_free(&c);
    ek_key_free(&k);
    return rc;
}
