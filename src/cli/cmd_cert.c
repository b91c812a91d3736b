/* cmd_cert.c: `entrakey cert create | csr | import | show | export`. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define DAYS_MAX 36500u
#define EXPIRY_WARN_DAYS 30

static const char usage_cert[] =
    "usage: entrakey cert create KEY-URI --subject DN [options]\n"
    "       entrakey cert csr KEY-URI --subject DN --out FILE.csr [options]\n"
    "       entrakey cert import KEY-URI FILE [--force]\n"
    "       entrakey cert show (KEY-URI | FILE) [--manifest] [--json]\n"
    "       entrakey cert export KEY-URI --out FILE.cer [--pem FILE.pem]\n"
    "\n"
    "Certificates for the key on the token: a self-signed one for the app\n"
    "registration (create), a request for your CA (csr), the certificate the\n"
    "CA issued (import), what a certificate holds (show), and the stored\n"
    "certificate written to a file again (export).\n"
    "See entrakey cert COMMAND --help.\n";

static const char usage_create[] =
    "usage: entrakey cert create KEY-URI --subject DN [--days N] [--out "
    "FILE.cer]\n"
    "                            [--pem FILE.pem] [--sig rsa-pkcs1|rsa-pss]\n"
    "                            [--no-store] [--force] [--json]\n"
    "\n"
    "Builds a self-signed X.509 v3 certificate for the key, signs it on the\n"
    "token, checks the signature with the key's public key, stores it on the\n"
    "token under the key's id, and writes it for upload to the app\n"
    "registration (Certificates & secrets).\n"
    "\n"
    "  --subject DN      the subject (and issuer): "
    "\"CN=ExchangeAuth,O=Contoso\"\n"
    "                    (most specific first) or "
    "\"/O=Contoso/CN=ExchangeAuth\";\n"
    "                    UTF-8; \\ escapes , / = + in values, \\XX is a\n"
    "                    byte in hex; CN=a+UID=b is one RDN (RFC 4514)\n"
    "  --days N          validity in days from now (minus 5 minutes for clock\n"
    "                    skew); default 365, at most 36500\n"
    "  --out FILE.cer    write the certificate as DER (the .cer to upload)\n"
    "  --pem FILE.pem    write it as PEM too\n"
    "  --sig ALG         rsa-pkcs1 (sha256WithRSAEncryption, the default) or\n"
    "                    rsa-pss (RSASSA-PSS, SHA-256, salt 32)\n"
    "  --no-store        do not store the certificate on the token\n"
    "  --force           replace the key's certificate on the token and the\n"
    "                    output files\n"
    "  --json            print the result as JSON\n"
    "\n"
    "Prints the SHA-1 thumbprint (what the portal and Connect-ExchangeOnline\n"
    "-CertificateThumbprint show), x5t and x5t#S256.\n"
    "On a YubiKey (ykcs11), storing needs the management key\n"
    "(--so-pin-source) besides the PIN, and after entrakey keygen the slot\n"
    "holds ykcs11's placeholder certificate: give --force to replace it.\n"
    "Common options (--module, --pin-source, --so-pin-source, -v): see\n"
    "entrakey --help.\n";

static const char usage_csr[] =
    "usage: entrakey cert csr KEY-URI --subject DN --out FILE.csr\n"
    "                         [--sig rsa-pkcs1|rsa-pss] [--force] [--json]\n"
    "\n"
    "Writes a PKCS#10 certificate request (PEM) for the key, signed on the\n"
    "token, for a CA to issue a certificate (import it with entrakey cert\n"
    "import). It asks for CA:FALSE, digitalSignature and clientAuth.\n"
    "\n"
    "  --subject DN      the subject, as for cert create\n"
    "  --out FILE.csr    the request file (required)\n"
    "  --sig ALG         rsa-pkcs1 (default) or rsa-pss\n"
    "  --force           replace FILE.csr if it exists\n"
    "  --json            print the result as JSON\n"
    "Common options (--module, --pin-source, -v): see entrakey --help.\n";

static const char usage_import[] =
    "usage: entrakey cert import KEY-URI FILE [--force] [--json]\n"
    "\n"
    "Stores a certificate (DER or PEM; the one your CA issued) on the token\n"
    "under the key's id, after checking that its public key is the key's.\n"
    "\n"
    "  --force           replace the key's certificate on the token\n"
    "  --json            print the result as JSON\n"
    "Common options (--module, --pin-source, -v): see entrakey --help.\n";

static const char usage_show[] =
    "usage: entrakey cert show (KEY-URI | FILE) [--manifest] [--json]\n"
    "\n"
    "Shows a certificate: the one on the token with the key's id, or a file\n"
    "(DER or PEM; an existing path is taken as a file): subject, issuer,\n"
    "validity, thumbprints. Flags expired and not yet valid certificates, and\n"
    "warns within 30 days of expiry. An expired certificate is shown, and\n"
    "the exit code is 9.\n"
    "\n"
    "  --manifest        print the keyCredentials entry for the app manifest\n"
    "                    or Microsoft Graph (JSON)\n"
    "  --json            print the details as JSON (with --manifest: with the\n"
    "                    entry as \"keyCredential\")\n"
    "Common options (--module, --pin-source, -v): see entrakey --help.\n";

static const char usage_export[] =
    "usage: entrakey cert export KEY-URI --out FILE.cer [--pem FILE.pem]\n"
    "                            [--force] [--json]\n"
    "\n"
    "Writes the certificate stored on the token with the key's id again:\n"
    "as DER (the .cer the app registration takes) and, with --pem, as PEM.\n"
    "Byte for byte what the token holds. No PIN is asked where the token\n"
    "shows its public objects without a login (most do).\n"
    "\n"
    "  --out FILE.cer    the DER file\n"
    "  --pem FILE.pem    a PEM file (with or instead of --out)\n"
    "  --force           replace the files if they exist (written whole or\n"
    "                    not at all)\n"
    "  --json            print the result as JSON\n"
    "Common options (--module, --pin-source, -v): see entrakey --help.\n";

enum {
    OPT_SUBJECT = OPT_CMD_BASE,
    OPT_DAYS,
    OPT_OUT,
    OPT_PEM,
    OPT_SIG,
    OPT_NO_STORE,
    OPT_FORCE,
    OPT_MANIFEST,
};

static const struct option longopts[] = {
    CLI_COMMON_LONGOPTS,
    {"subject", required_argument, NULL, OPT_SUBJECT},
    {"days", required_argument, NULL, OPT_DAYS},
    {"out", required_argument, NULL, OPT_OUT},
    {"pem", required_argument, NULL, OPT_PEM},
    {"sig", required_argument, NULL, OPT_SIG},
    {"no-store", no_argument, NULL, OPT_NO_STORE},
    {"force", no_argument, NULL, OPT_FORCE},
    {"manifest", no_argument, NULL, OPT_MANIFEST},
    {NULL, 0, NULL, 0},
};

struct opts {
    const char *cmd; /* "cert create" */
    const char *usage;
    unsigned allowed; /* which OPT_* bits this subcommand takes */
    const char *subject;
    const char *out;
    const char *pem;
    unsigned days;
    enum ek_alg sig;
    int no_store;
    int force;
    int manifest;
};

#define ALLOW(o) (1u << ((o)-OPT_CMD_BASE))

static const char *
option_name(int val)
{
    size_t i;

    for (i = 0; longopts[i].name != NULL; i++)
        if (longopts[i].val == val)
            return longopts[i].name;
    return "?";
}

/* Parses options; returns -1 when parsing went well, else an exit code. */
static int
parse(struct cli *cli, struct opts *o, int argc, char **argv)
{
    int c, rc;

    cli->cmd = o->cmd;
    optind = 0;
    while ((c = cli_getopt(argc, argv, CLI_COMMON_SHORTOPTS, longopts,
                           o->cmd)) != -1) {
        if (c >= OPT_CMD_BASE && !(o->allowed & ALLOW(c)))
            return cli_usage(o->cmd, o->usage, "%s does not take --%s", o->cmd,
                             option_name(c));
        switch (c) {
        case OPT_SUBJECT:
            o->subject = optarg;
            break;
        case OPT_DAYS:
            if (cli_parse_uint(optarg, 1, DAYS_MAX, &o->days) != 0)
                return cli_usage(o->cmd, o->usage,
                                 "--days '%s' is not a "
                                 "number of days from 1 to %u",
                                 optarg, DAYS_MAX);
            break;
        case OPT_OUT:
            o->out = optarg;
            break;
        case OPT_PEM:
            o->pem = optarg;
            break;
        case OPT_SIG:
            if (cli_alg_parse(optarg, &o->sig) != 0)
                return cli_usage(o->cmd, o->usage,
                                 "--sig '%s' is not "
                                 "rsa-pkcs1 or rsa-pss",
                                 optarg);
            break;
        case OPT_NO_STORE:
            o->no_store = 1;
            break;
        case OPT_FORCE:
            o->force = 1;
            break;
        case OPT_MANIFEST:
            o->manifest = 1;
            break;
        default:
            if ((rc = cli_common_opt(cli, c, optarg, o->cmd, o->usage)) != 0)
                return rc > 0
                           ? rc
                           : cli_usage(o->cmd, o->usage, "unexpected option");
        }
    }
    return -1;
}

static void
iso(int64_t t, char buf[32])
{
    cli_iso8601((long long)t, buf, 32);
}

/* "valid", "expired", "not yet valid" or "expires soon", and the days
 * left (negative once expired). */
static const char *
validity_status(const struct ek_cert *c, long long *days_left)
{
    long long now = (long long)time(NULL);
    long long left = (long long)ek_cert_not_after(c) - now;

    *days_left = left >= 0 ? left / 86400 : -((-left + 86399) / 86400);
    if (left < 0)
        return "expired";
    if ((long long)ek_cert_not_before(c) > now)
        return "not yet valid";
    if (left < EXPIRY_WARN_DAYS * 86400LL)
        return "expires soon";
    return "valid";
}

static void
warn_validity(const struct ek_cert *c)
{
    long long days;
    const char *st = validity_status(c, &days);
    char when[32];

    if (strcmp(st, "expired") == 0) {
        iso(ek_cert_not_after(c), when);
        cli_warn("the certificate %s expired on %s; Entra ID refuses it "
                 "(AADSTS700027): make a new one with entrakey cert create "
                 "--force and upload it",
                 ek_cert_subject(c), when);
    } else if (strcmp(st, "not yet valid") == 0) {
        iso(ek_cert_not_before(c), when);
        cli_warn("the certificate %s is not valid before %s",
                 ek_cert_subject(c), when);
    } else if (strcmp(st, "expires soon") == 0) {
        iso(ek_cert_not_after(c), when);
        cli_warn("the certificate %s expires on %s (in %lld day%s); make "
                 "and upload its successor now",
                 ek_cert_subject(c), when, days, days == 1 ? "" : "s");
    }
}

static void
print_cert(const struct ek_cert *c)
{
    char nb[32], na[32];
    long long days;
    const char *st = validity_status(c, &days);

    iso(ek_cert_not_before(c), nb);
    iso(ek_cert_not_after(c), na);
    printf("subject:      %s\n", ek_cert_subject(c));
    printf("issuer:       %s%s\n", ek_cert_issuer(c),
           strcmp(ek_cert_subject(c), ek_cert_issuer(c)) == 0 ? " (self-signed)"
                                                              : "");
    printf("serial:       %s\n", ek_cert_serial_hex(c));
    printf("valid from:   %s\n", nb);
    printf("valid until:  %s", na);
    if (strcmp(st, "expired") == 0)
        printf("  EXPIRED\n");
    else if (strcmp(st, "not yet valid") == 0)
        printf("  NOT YET VALID\n");
    else
        printf("  (%lld day%s left)\n", days, days == 1 ? "" : "s");
    printf("signature:    %s, RSA %u bits\n", ek_cert_sigalg(c),
           ek_cert_key_bits(c));
    printf("thumbprint:   %s\n", ek_cert_thumbprint(c));
    printf("              (SHA-1: the portal's Thumbprint and "
           "Connect-ExchangeOnline -CertificateThumbprint)\n");
    printf("x5t:          %s\n", ek_cert_x5t(c));
    printf("x5t#S256:     %s\n", ek_cert_x5t_s256(c));
}

static cJSON *
cert_json(const struct ek_cert *c)
{
    cJSON *o = cJSON_CreateObject();
    char nb[32], na[32];
    long long days;
    const char *st = validity_status(c, &days);

    iso(ek_cert_not_before(c), nb);
    iso(ek_cert_not_after(c), na);
    if (o == NULL ||
        cJSON_AddStringToObject(o, "subject", ek_cert_subject(c)) == NULL ||
        cJSON_AddStringToObject(o, "issuer", ek_cert_issuer(c)) == NULL ||
        cJSON_AddStringToObject(o, "serial", ek_cert_serial_hex(c)) == NULL ||
        cJSON_AddStringToObject(o, "notBefore", nb) == NULL ||
        cJSON_AddStringToObject(o, "notAfter", na) == NULL ||
        cJSON_AddStringToObject(o, "status", st) == NULL ||
        cJSON_AddNumberToObject(o, "daysLeft", (double)days) == NULL ||
        cJSON_AddStringToObject(o, "signatureAlgorithm", ek_cert_sigalg(c)) ==
            NULL ||
        cJSON_AddNumberToObject(o, "keyBits", ek_cert_key_bits(c)) == NULL ||
        cJSON_AddStringToObject(o, "thumbprint", ek_cert_thumbprint(c)) ==
            NULL ||
        cJSON_AddStringToObject(o, "x5t", ek_cert_x5t(c)) == NULL ||
        cJSON_AddStringToObject(o, "x5t#S256", ek_cert_x5t_s256(c)) == NULL) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static void
add_file(cJSON *files, const char *path, const char *format)
{
    cJSON *f = cJSON_CreateObject();

    if (f == NULL)
        return;
    cJSON_AddStringToObject(f, "path", path);
    cJSON_AddStringToObject(f, "format", format);
    cJSON_AddItemToArray(files, f);
}

/* The --json answer of a command that wrote c's files: the certificate,
 * the key, whether it is stored on the token (stored < 0: not said) and
 * the files written; printed, and the exit code returned. */
static int
print_written_json(const struct ek_cert *c, const struct ek_key *k, int stored,
                   const char *der, const char *pem)
{
    cJSON *doc, *files;

    if ((doc = cert_json(c)) == NULL ||
        cJSON_AddStringToObject(doc, "key", ek_key_uri(k)) == NULL ||
        (stored >= 0 && cJSON_AddBoolToObject(doc, "stored", stored) == NULL) ||
        (files = cJSON_AddArrayToObject(doc, "files")) == NULL) {
        cJSON_Delete(doc);
        return cli_print_json(NULL);
    }
    if (der != NULL)
        add_file(files, der, "DER");
    if (pem != NULL)
        add_file(files, pem, "PEM");
    return cli_print_json(doc);
}

/* ------------------------------------------------------------ create */

static int
cert_create(struct cli *cli, int argc, char **argv)
{
    struct opts o = {.cmd = "cert create",
                     .usage = usage_create,
                     .sig = EK_ALG_RS256,
                     .allowed = ALLOW(OPT_SUBJECT) | ALLOW(OPT_DAYS) |
                                ALLOW(OPT_OUT) | ALLOW(OPT_PEM) |
                                ALLOW(OPT_SIG) | ALLOW(OPT_NO_STORE) |
                                ALLOW(OPT_FORCE)};
    struct ek_cert_params params;
    struct ek_key *k = NULL;
    struct ek_cert *c = NULL, *old = NULL;
    const char *written[2] = {NULL, NULL};
    unsigned wflags;
    int rc, nwritten = 0, i;
    ek_err r;

    if ((rc = parse(cli, &o, argc, argv)) >= 0)
        return rc;
    if (argc - optind != 1)
        return cli_usage(o.cmd, o.usage,
                         argc - optind == 0 ? "give the key's pkcs11: URI"
                                            : "one key URI, please");
    if (o.subject == NULL)
        return cli_usage(o.cmd, o.usage,
                         "--subject is required, e.g. "
                         "--subject 'CN=ExchangeAuth'");
    if (o.out != NULL && o.pem != NULL && cli_same_file(o.out, o.pem))
        return cli_usage(o.cmd, o.usage,
                         "--out and --pem name the same "
                         "file");
    if ((o.out != NULL &&
         (rc = cli_check_output(o.out, o.force, "nothing was done")) != 0) ||
        (o.pem != NULL &&
         (rc = cli_check_output(o.pem, o.force, "nothing was done")) != 0))
        return rc;
    if ((rc = cli_apply(cli)) != 0)
        return rc;
    if ((r = ek_dn_check(cli->ctx, o.subject)) != EK_OK)
        return cli_fail(cli, r);
    if ((r = ek_key_open(cli->ctx, argv[optind], &k)) != EK_OK) {
        rc = cli_fail_uri(cli, r, argv[optind]);
        goto out;
    }
    memset(&params, 0, sizeof params);
    params.subject = o.subject;
    params.days = o.days;
    params.sig = o.sig;
    params.flags = o.force ? EK_WRITE_FORCE : 0;
    if (o.out == NULL && o.pem == NULL) {
        /* nothing to write: build, verify and store in one call */
        if (o.no_store)
            params.flags |= EK_CERT_NO_STORE;
        if ((r = ek_cert_create(cli->ctx, k, &params, &c)) != EK_OK) {
            rc = cli_fail(cli, r);
            goto out;
        }
    } else {
        /* files first, the token last, so that a failure leaves neither
         * a stored certificate without its file nor a file without it */
        if (!o.no_store && !o.force) {
            r = ek_cert_from_key(cli->ctx, k, &old);
            if (r == EK_OK) {
                fprintf(stderr,
                        "entrakey: key %s already has a "
                        "certificate on the token (%s, thumbprint %s); it "
                        "was left as it is. Give --force to replace it%s, "
                        "or --no-store\n",
                        ek_key_uri(k), ek_cert_subject(old),
                        ek_cert_thumbprint(old),
                        ek_key_in_piv_slot(k)
                            ? " (a YubiKey's keygen leaves a placeholder "
                              "certificate; storing on a YubiKey also needs "
                              "the management key: --so-pin-source)"
                            : "");
                rc = CLI_EXIT_EXISTS;
                goto out;
            }
            if (r != EK_ERR_NOT_FOUND) {
                rc = cli_fail(cli, r);
                goto out;
            }
        }
        params.flags |= EK_CERT_NO_STORE;
        if ((r = ek_cert_create(cli->ctx, k, &params, &c)) != EK_OK) {
            rc = cli_fail(cli, r);
            goto out;
        }
        wflags = o.force ? EK_WRITE_FORCE : 0;
        if (o.out != NULL) {
            if ((r = ek_cert_write(cli->ctx, c, o.out, EK_FORMAT_DER,
                                   wflags)) != EK_OK) {
                rc = cli_fail(cli, r);
                goto out;
            }
            written[nwritten++] = o.out;
        }
        if (o.pem != NULL) {
            if ((r = ek_cert_write(cli->ctx, c, o.pem, EK_FORMAT_PEM,
                                   wflags)) != EK_OK) {
                rc = cli_fail(cli, r);
                goto out;
            }
            written[nwritten++] = o.pem;
        }
        if (!o.no_store &&
            (r = ek_cert_import(cli->ctx, k, c,
                                o.force ? EK_WRITE_FORCE : 0)) != EK_OK) {
            rc = cli_fail(cli, r);
            goto out;
        }
        nwritten = 0; /* done: the files stay */
    }
    if (cli->json) {
        rc = print_written_json(c, k, !o.no_store, o.out, o.pem);
        goto out;
    }
    printf("key:          %s\n", ek_key_uri(k));
    print_cert(c);
    if (o.no_store)
        printf("stored:       no (--no-store)\n");
    else
        printf("stored:       on token '%s' with id %s\n",
               cli_safe(ek_key_token_label(k)), ek_key_id_hex(k));
    if (o.out != NULL)
        printf("written:      %s (DER: upload it to the app registration)\n",
               o.out);
    if (o.pem != NULL)
        printf("written:      %s (PEM)\n", o.pem);
    rc = CLI_EXIT_OK;
out:
    /* a failure after a file was written takes the file back */
    for (i = 0; i < nwritten; i++)
        if (written[i] != NULL)
            unlink(written[i]);
    ek_cert_free(&old);
    ek_cert_free(&c);
    ek_key_free(&k);
    return rc;
}

/* ------------------------------------------------------------ csr */

static int
cert_csr(struct cli *cli, int argc, char **argv)
{
    struct opts o = {.cmd = "cert csr",
                     .usage = usage_csr,
                     .sig = EK_ALG_RS256,
                     .allowed = ALLOW(OPT_SUBJECT) | ALLOW(OPT_OUT) |
                                ALLOW(OPT_SIG) | ALLOW(OPT_FORCE)};
    struct ek_key *k = NULL;
    cJSON *doc;
    int rc;
    ek_err r;

    if ((rc = parse(cli, &o, argc, argv)) >= 0)
        return rc;
    if (argc - optind != 1)
        return cli_usage(o.cmd, o.usage, "give the key's pkcs11: URI");
    if (o.subject == NULL)
        return cli_usage(o.cmd, o.usage, "--subject is required");
    if (o.out == NULL)
        return cli_usage(o.cmd, o.usage, "--out FILE.csr is required");
    if ((rc = cli_check_output(o.out, o.force, "nothing was done")) != 0 ||
        (rc = cli_apply(cli)) != 0)
        return rc;
    if ((r = ek_dn_check(cli->ctx, o.subject)) != EK_OK)
        return cli_fail(cli, r);
    if ((r = ek_key_open(cli->ctx, argv[optind], &k)) != EK_OK ||
        (r = ek_csr_create(cli->ctx, k, o.subject, o.sig, o.out,
                           o.force ? EK_WRITE_FORCE : 0)) != EK_OK) {
        rc = cli_fail(cli, r);
        goto out;
    }
    if (cli->json) {
        doc = cJSON_CreateObject();
        if (doc != NULL &&
            (cJSON_AddStringToObject(doc, "key", ek_key_uri(k)) == NULL ||
             cJSON_AddStringToObject(doc, "subject", o.subject) == NULL ||
             cJSON_AddStringToObject(doc, "path", o.out) == NULL ||
             cJSON_AddStringToObject(
                 doc, "signatureAlgorithm",
                 o.sig == EK_ALG_PS256 ? "rsassaPss"
                                       : "sha256WithRSAEncryption") == NULL)) {
            cJSON_Delete(doc);
            doc = NULL;
        }
        rc = cli_print_json(doc);
        goto out;
    }
    printf("key:          %s\n", ek_key_uri(k));
    printf("written:      %s (PKCS#10 request, PEM) for %s\n", o.out,
           o.subject);
    printf("next:         have your CA issue it, then: entrakey cert import "
           "'%s' ISSUED.cer\n",
           ek_key_uri(k));
    rc = CLI_EXIT_OK;
out:
    ek_key_free(&k);
    return rc;
}

/* ------------------------------------------------------------ import */

static int
cert_import(struct cli *cli, int argc, char **argv)
{
    struct opts o = {.cmd = "cert import",
                     .usage = usage_import,
                     .allowed = ALLOW(OPT_FORCE)};
    struct ek_key *k = NULL;
    struct ek_cert *c = NULL;
    cJSON *doc;
    int rc;
    ek_err r;

    if ((rc = parse(cli, &o, argc, argv)) >= 0)
        return rc;
    if (argc - optind != 2)
        return cli_usage(o.cmd, o.usage,
                         "give the key's pkcs11: URI and a "
                         "certificate file");
    if ((rc = cli_apply(cli)) != 0)
        return rc;
    /* the file first: a bad file needs no PIN */
    if ((r = ek_cert_load_file(cli->ctx, argv[optind + 1], &c)) != EK_OK)
        return cli_fail(cli, r);
    if ((r = ek_key_open(cli->ctx, argv[optind], &k)) != EK_OK ||
        (r = ek_cert_import(cli->ctx, k, c, o.force ? EK_WRITE_FORCE : 0)) !=
            EK_OK) {
        rc = cli_fail(cli, r);
        goto out;
    }
    warn_validity(c);
    if (cli->json) {
        if ((doc = cert_json(c)) != NULL &&
            (cJSON_AddStringToObject(doc, "key", ek_key_uri(k)) == NULL ||
             cJSON_AddBoolToObject(doc, "stored", 1) == NULL)) {
            cJSON_Delete(doc);
            doc = NULL;
        }
        rc = cli_print_json(doc);
        goto out;
    }
    printf("key:          %s\n", ek_key_uri(k));
    print_cert(c);
    printf("stored:       on token '%s' with id %s\n",
           cli_safe(ek_key_token_label(k)), ek_key_id_hex(k));
    rc = CLI_EXIT_OK;
out:
    ek_cert_free(&c);
    ek_key_free(&k);
    return rc;
}

/* ------------------------------------------------------------ show */

/* What cert show exits with once it has shown c: the certificate code for
 * one that has expired (docs/errors.md), so that a script notices. */
static int
show_rc(const struct ek_cert *c)
{
    long long days;

    return strcmp(validity_status(c, &days), "expired") == 0 ? CLI_EXIT_CERT
                                                             : CLI_EXIT_OK;
}

static int
cert_show(struct cli *cli, int argc, char **argv)
{
    struct opts o = {.cmd = "cert show",
                     .usage = usage_show,
                     .allowed = ALLOW(OPT_MANIFEST)};
    struct ek_key *k = NULL;
    struct ek_cert *c = NULL;
    struct stat st;
    const char *arg;
    char *manifest = NULL;
    cJSON *doc = NULL, *entry;
    int rc, matches = -1;
    ek_err r;

    if ((rc = parse(cli, &o, argc, argv)) >= 0)
        return rc;
    if (argc - optind != 1)
        return cli_usage(o.cmd, o.usage,
                         "give a key's pkcs11: URI or a "
                         "certificate file");
    if ((rc = cli_apply(cli)) != 0)
        return rc;
    arg = argv[optind];
    /* "pkcs11:…" is always a URI, even when a file has that name (give
     * ./pkcs11:… for the file): a file must not stand in for a key */
    if (strncmp(arg, "pkcs11:", 7) == 0) {
        if ((r = ek_key_open(cli->ctx, arg, &k)) == EK_OK &&
            (r = ek_cert_from_key(cli->ctx, k, &c)) == EK_OK)
            matches = ek_cert_matches_key(c, k);
    } else if (stat(arg, &st) == 0) {
        r = ek_cert_load_file(cli->ctx, arg, &c);
    } else {
        fprintf(stderr,
                "entrakey: '%s' is neither a file nor a pkcs11: "
                "URI\n",
                arg);
        return CLI_EXIT_FILE;
    }
    if (r != EK_OK) {
        rc = cli_fail(cli, r);
        goto out;
    }
    if (matches == 0)
        cli_warn("the certificate's public key is not the key's: it cannot "
                 "be used with this key");
    warn_validity(c);
    if (o.manifest &&
        (r = ek_cert_manifest_json(cli->ctx, c, &manifest)) != EK_OK) {
        rc = cli_fail(cli, r);
        goto out;
    }
    if (cli->json) {
        if ((doc = cert_json(c)) == NULL ||
            (k != NULL &&
             (cJSON_AddStringToObject(doc, "key", ek_key_uri(k)) == NULL ||
              cJSON_AddBoolToObject(doc, "matchesKey", matches == 1) ==
                  NULL)) ||
            (k == NULL && cJSON_AddStringToObject(doc, "file", arg) == NULL)) {
            rc = cli_print_json(NULL);
            goto out;
        }
        if (manifest != NULL) {
            if ((entry = cJSON_Parse(manifest)) == NULL ||
                !cJSON_AddItemToObject(doc, "keyCredential", entry)) {
                cJSON_Delete(entry);
                rc = cli_print_json(NULL);
                goto out;
            }
        }
        rc = cli_print_json(doc);
        doc = NULL;
        if (rc == CLI_EXIT_OK)
            rc = show_rc(c);
        goto out;
    }
    if (manifest != NULL) {
        /* the entry alone, ready for "keyCredentials": [ … ] */
        printf("%s\n", manifest);
        rc = show_rc(c);
        goto out;
    }
    if (k != NULL)
        printf("key:          %s\n", ek_key_uri(k));
    else
        printf("file:         %s\n", arg);
    print_cert(c);
    rc = show_rc(c);
out:
    cJSON_Delete(doc);
    ek_free(manifest);
    ek_cert_free(&c);
    ek_key_free(&k);
    return rc;
}

/* ------------------------------------------------------------ export */

static int
cert_export(struct cli *cli, int argc, char **argv)
{
    struct opts o = {.cmd = "cert export",
                     .usage = usage_export,
                     .allowed =
                         ALLOW(OPT_OUT) | ALLOW(OPT_PEM) | ALLOW(OPT_FORCE)};
    struct ek_key *k = NULL;
    struct ek_cert *c = NULL;
    const char *written = NULL;
    unsigned wflags;
    int rc;
    ek_err r;

    if ((rc = parse(cli, &o, argc, argv)) >= 0)
        return rc;
    if (argc - optind != 1)
        return cli_usage(o.cmd, o.usage,
                         argc - optind == 0 ? "give the key's pkcs11: URI"
                                            : "one key URI, please");
    if (o.out == NULL && o.pem == NULL)
        return cli_usage(o.cmd, o.usage,
                         "give --out FILE.cer (DER) and/or --pem FILE.pem");
    if (o.out != NULL && o.pem != NULL && cli_same_file(o.out, o.pem))
        return cli_usage(o.cmd, o.usage, "--out and --pem name the same file");
    if ((o.out != NULL &&
         (rc = cli_check_output(o.out, o.force, "nothing was written")) != 0) ||
        (o.pem != NULL &&
         (rc = cli_check_output(o.pem, o.force, "nothing was written")) != 0))
        return rc;
    if ((rc = cli_apply(cli)) != 0)
        return rc;
    /* no login: the certificate is a public object, found with the key */
    if ((r = ek_key_open(cli->ctx, argv[optind], &k)) != EK_OK) {
        rc = cli_fail_uri(cli, r, argv[optind]);
        goto out;
    }
    if ((r = ek_cert_from_key(cli->ctx, k, &c)) != EK_OK) {
        rc = cli_fail(cli, r);
        goto out;
    }
    if (!ek_cert_matches_key(c, k))
        cli_warn("the certificate stored with key %s is not that key's (its "
                 "public key differs): it cannot be used with this key",
                 ek_key_uri(k));
    warn_validity(c);
    wflags = o.force ? EK_WRITE_FORCE : 0;
    if (o.out != NULL) {
        /* a file this run made is taken back if --pem fails; one it
         * replaced (--force) is not: there is no old one to restore */
        int fresh = access(o.out, F_OK) != 0;

        if ((r = ek_cert_write(cli->ctx, c, o.out, EK_FORMAT_DER, wflags)) !=
            EK_OK) {
            rc = cli_fail(cli, r);
            goto out;
        }
        if (fresh)
            written = o.out;
    }
    if (o.pem != NULL && (r = ek_cert_write(cli->ctx, c, o.pem, EK_FORMAT_PEM,
                                            wflags)) != EK_OK) {
        rc = cli_fail(cli, r);
        goto out;
    }
    written = NULL; /* done: the files stay */
    if (cli->json) {
        rc = print_written_json(c, k, -1, o.out, o.pem);
        goto out;
    }
    printf("key:          %s\n", ek_key_uri(k));
    print_cert(c);
    if (o.out != NULL)
        printf("written:      %s (DER: upload it to the app registration)\n",
               o.out);
    if (o.pem != NULL)
        printf("written:      %s (PEM)\n", o.pem);
    rc = CLI_EXIT_OK;
out:
    /* both files or neither */
    if (written != NULL)
        unlink(written);
    ek_cert_free(&c);
    ek_key_free(&k);
    return rc;
}

int
cmd_cert(struct cli *cli, int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(struct cli *, int, char **);
    } subs[] = {
        {"create", cert_create}, {"csr", cert_csr},
        {"import", cert_import}, {"show", cert_show},
        {"export", cert_export},
    };
    size_t i;

    if (argc < 2) {
        fputs(usage_cert, stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(usage_cert, stdout);
        return CLI_EXIT_OK;
    }
    for (i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            return subs[i].fn(cli, argc - 1, argv + 1);
    return cli_usage("cert", usage_cert, "unknown subcommand '%s'", argv[1]);
}
