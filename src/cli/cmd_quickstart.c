/* cmd_quickstart.c: `entrakey quickstart`: the whole first-time flow on an
 * embedded SoftHSM token made once under $XDG_DATA_HOME/entrakey/softhsm;
 * the certificate goes to $XDG_DATA_HOME/entrakey/ExchangeAuth.cer (never
 * into whatever directory it is run from, e.g. a source checkout). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define QS_TOKEN "entrakey-quickstart"
#define QS_KEY "entrakey-quickstart"
#define QS_SUBJECT "CN=entrakey quickstart"
#define QS_CER "ExchangeAuth.cer"
#define QS_TENANT "contoso.onmicrosoft.com"
#define QS_CLIENT "00000000-0000-0000-0000-000000000000"

static const char usage[] =
    "usage: entrakey quickstart [--out FILE] [--force] [-v]\n"
    "\n"
    "Runs the whole first-time flow on an embedded SoftHSM token, made once\n"
    "under $XDG_DATA_HOME/entrakey/softhsm (default ~/.local/share):\n"
    "a non-exportable key, a self-signed certificate made on the token,\n"
    "$XDG_DATA_HOME/entrakey/ExchangeAuth.cer, its thumbprints, a client\n"
    "assertion signed on the token and verified, and the Azure portal steps\n"
    "with the values filled in. Running it again reuses the token and key.\n"
    "\n"
    "A software token is for trying entrakey, not for production keys: use a\n"
    "YubiKey, smartcard, HSM or TPM for those (see docs/getting-started.md).\n"
    "\n"
    "  --out FILE   write the certificate (DER, the .cer the portal takes)\n"
    "               to FILE instead of $XDG_DATA_HOME/entrakey/"
    "ExchangeAuth.cer\n"
    "  --force      replace that file if it holds another certificate\n";

static const char *const softhsm_paths[] = {
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
};

/* dir + "/" + name into out; -1 when it does not fit. */
static int
path_join(char *out, size_t len, const char *dir, const char *name)
{
    int n = snprintf(out, len, "%s/%s", dir, name);

    return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* mkdir -p with mode 0700 for each part we create. */
static int
mkdirs(const char *path)
{
    char buf[PATH_MAX];
    char *p;

    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return -1;
    for (p = buf + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* $XDG_DATA_HOME/entrakey, else ~/.local/share/entrakey, into out. */
static int
data_dir(char *out, size_t len)
{
    const char *xdg = getenv("XDG_DATA_HOME");
    const char *home = getenv("HOME");

    if (xdg != NULL && xdg[0] == '/')
        return snprintf(out, len, "%s/entrakey", xdg) < (int)len ? 0 : -1;
    if (home != NULL && home[0] == '/')
        return snprintf(out, len, "%s/.local/share/entrakey", home) < (int)len
                   ? 0
                   : -1;
    return -1;
}

/* Writes a small file with mode 0600 that must not exist yet. */
static int
write_new_file(const char *path, const char *text, mode_t mode)
{
    size_t len = strlen(text);
    int fd;

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return -1;
    if (write(fd, text, len) != (ssize_t)len || fsync(fd) != 0) {
        close(fd);
        unlink(path);
        return -1;
    }
    return close(fd);
}

/* A random PIN of n characters from an unambiguous alphabet. */
static int
random_pin(char *out, size_t n)
{
    static const char alphabet[] = "23456789abcdefghjkmnpqrstuvwxyz";
    unsigned char raw[64];
    size_t i;
    int fd;

    if (n >= sizeof raw)
        return -1;
    if ((fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) < 0)
        return -1;
    if (read(fd, raw, n) != (ssize_t)n) {
        close(fd);
        return -1;
    }
    close(fd);
    for (i = 0; i < n; i++)
        out[i] = alphabet[raw[i] % (sizeof alphabet - 1)];
    out[n] = '\0';
    explicit_bzero(raw, sizeof raw);
    return 0;
}

/* Makes softhsm2.conf and the token, once. Sets SOFTHSM2_CONF. */
static int
setup_store(struct cli *cli, const char *dir, int *created)
{
    char path[PATH_MAX], conf[PATH_MAX + 256], tokens[PATH_MAX];
    char pin[17], sopin[17];
    struct stat st;
    ek_err r;
    int rc = CLI_EXIT_FILE;

    *created = 0;
    if (mkdirs(dir) != 0) {
        fprintf(stderr,
                "entrakey: cannot create '%s': %s; set "
                "XDG_DATA_HOME to a writable directory\n",
                dir, strerror(errno));
        return CLI_EXIT_FILE;
    }
    if (path_join(tokens, sizeof tokens, dir, "tokens") != 0 ||
        mkdirs(tokens) != 0) {
        fprintf(stderr, "entrakey: cannot create '%s': %s\n", tokens,
                strerror(errno));
        return CLI_EXIT_FILE;
    }
    if (path_join(path, sizeof path, dir, "softhsm2.conf") != 0)
        return CLI_EXIT_FILE;
    if (stat(path, &st) != 0) {
        snprintf(conf, sizeof conf,
                 "# made by entrakey quickstart: a software token for "
                 "trying entrakey\n"
                 "directories.tokendir = %s\n"
                 "objectstore.backend = file\n"
                 "log.level = ERROR\n"
                 "slots.removable = false\n",
                 tokens);
        if (write_new_file(path, conf, 0600) != 0) {
            fprintf(stderr, "entrakey: cannot write '%s': %s\n", path,
                    strerror(errno));
            return CLI_EXIT_FILE;
        }
    }
    if (setenv("SOFTHSM2_CONF", path, 1) != 0)
        return CLI_EXIT_INTERNAL;

    if (path_join(path, sizeof path, dir, "user-pin") != 0)
        return CLI_EXIT_FILE;
    if (stat(path, &st) == 0)
        return 0; /* made before */
    if (random_pin(pin, 12) != 0 || random_pin(sopin, 16) != 0) {
        fprintf(stderr, "entrakey: cannot read /dev/urandom\n");
        return CLI_EXIT_INTERNAL;
    }
    if ((r = ek_token_init(cli->ctx, QS_TOKEN, sopin, pin)) != EK_OK) {
        rc = cli_fail(cli, r);
        goto out;
    }
    if (write_new_file(path, pin, 0600) != 0) {
        fprintf(stderr, "entrakey: cannot write '%s': %s\n", path,
                strerror(errno));
        goto out;
    }
    if (path_join(path, sizeof path, dir, "so-pin") != 0 ||
        write_new_file(path, sopin, 0600) != 0) {
        fprintf(stderr, "entrakey: cannot write '%s': %s\n", path,
                strerror(errno));
        goto out;
    }
    printf("Made the embedded software token '%s'.\n"
           "  user PIN: %s   (shown once; kept in %s/user-pin, mode 0600)\n"
           "  SO PIN:   kept in %s/so-pin, mode 0600\n\n",
           QS_TOKEN, pin, dir, dir);
    *created = 1;
    rc = 0;
out:
    explicit_bzero(pin, sizeof pin);
    explicit_bzero(sopin, sizeof sopin);
    return rc;
}

static const char *
module_path(void)
{
    size_t i;

    for (i = 0; i < sizeof softhsm_paths / sizeof softhsm_paths[0]; i++)
        if (access(softhsm_paths[i], R_OK) == 0)
            return softhsm_paths[i];
    return NULL;
}

/* The key: opened if it exists, else generated. */
static ek_err
get_key(struct cli *cli, struct ek_key **keyp)
{
    struct ek_keygen_params kp;
    ek_err r;
    int i;

    r = ek_key_open(cli->ctx,
                    "pkcs11:token=" QS_TOKEN ";object=" QS_KEY ";type=private",
                    keyp);
    if (r != EK_ERR_NOT_FOUND)
        return r;
    memset(&kp, 0, sizeof kp);
    kp.label = QS_KEY;
    kp.bits = 2048;
    printf("Generating an RSA-2048 key on the token...\n");
    fflush(stdout);
    if ((r = ek_key_generate(cli->ctx, "pkcs11:token=" QS_TOKEN, &kp, keyp)) !=
        EK_OK)
        return r;
    printf("Key generated: %s\n", ek_key_uri(*keyp));
    for (i = 0; i < EK_ATTR_COUNT; i++) {
        int v = ek_key_attr(*keyp, (enum ek_key_attr)i);
        printf("  %-22s %s\n", cli_attr_name(i),
               v < 0 ? "unreadable"
               : v   ? "TRUE"
                     : "FALSE");
    }
    printf("\n");
    return EK_OK;
}

/* Writes the .cer to path unless an identical one is already there. */
static int
export_cer(struct cli *cli, const struct ek_cert *cert, const char *path,
           int force)
{
    struct ek_cert *old = NULL;
    ek_err r;
    int same = 0;

    if (access(path, F_OK) == 0) {
        if (ek_cert_load_file(cli->ctx, path, &old) == EK_OK)
            same =
                strcmp(ek_cert_thumbprint(old), ek_cert_thumbprint(cert)) == 0;
        ek_cert_free(&old);
        if (same)
            return 0;
        if (!force) {
            fprintf(stderr,
                    "entrakey: %s exists and holds another "
                    "certificate; left as it is. Move it away, run "
                    "`entrakey quickstart --force`, or give another "
                    "--out FILE\n",
                    path);
            return CLI_EXIT_EXISTS;
        }
    }
    r = ek_cert_write(cli->ctx, cert, path, EK_FORMAT_DER,
                      force ? EK_WRITE_FORCE : 0);
    if (r != EK_OK)
        return cli_fail(cli, r);
    return 0;
}

static void
print_steps(const struct ek_cert *cert, const char *dir, const char *keyuri,
            const char *cer)
{
    char nb[32], na[32], cwd[PATH_MAX];

    cli_iso8601(ek_cert_not_before(cert), nb, sizeof nb);
    cli_iso8601(ek_cert_not_after(cert), na, sizeof na);
    if (cer[0] == '/' || getcwd(cwd, sizeof cwd) == NULL)
        cwd[0] = '\0';
    printf("Certificate\n"
           "  file:        %s%s%s\n"
           "  subject:     %s\n"
           "  valid:       %s to %s\n"
           "  thumbprint:  %s   (SHA-1; what the portal shows)\n"
           "  x5t#S256:    %s\n"
           "  key:         %s\n\n",
           cwd, cwd[0] != '\0' ? "/" : "", cer, ek_cert_subject(cert), nb, na,
           ek_cert_thumbprint(cert), ek_cert_x5t_s256(cert), keyuri);
    printf(
        "In the Azure portal (https://portal.azure.com), Microsoft Entra ID:\n"
        "  1. App registrations > New registration: a name, single tenant,\n"
        "     no redirect URI. Note the Application (client) ID and the\n"
        "     Directory (tenant) ID.\n"
        "  2. API permissions > Add a permission > APIs my organization uses\n"
        "     > Office 365 Exchange Online > Application permissions >\n"
        "     Exchange.ManageAsApp > Add permissions, then Grant admin "
        "consent.\n"
        "  3. Certificates & secrets > Certificates > Upload certificate:\n"
        "     %s\n"
        "     (thumbprint %s).\n"
        "  4. Roles and administrators > Exchange Administrator (or a\n"
        "     narrower role) > Add assignments: the app.\n\n",
        cer, ek_cert_thumbprint(cert));
    printf("Then, with your tenant and application ID in place of these:\n"
           "  TENANT=contoso.onmicrosoft.com                       "
           "# Directory (tenant) ID or domain\n"
           "  APPLICATION_ID=11111111-2222-3333-4444-555555555555  "
           "# Application (client) ID\n"
           "  export ENTRAKEY_MODULE=%s SOFTHSM2_CONF=%s/softhsm2.conf\n"
           "  entrakey token '%s' \\\n"
           "      --pin-source file:%s/user-pin \\\n"
           "      --tenant \"$TENANT\" --client-id \"$APPLICATION_ID\" "
           "--format powershell\n"
           "which prints the line for PowerShell (ExchangeOnlineManagement "
           "3.1+):\n"
           "  Connect-ExchangeOnline -AccessToken '<token>' -Organization "
           "contoso.onmicrosoft.com\n\n",
           module_path() ? module_path() : "libsofthsm2.so", dir, keyuri, dir);
    printf("This is a software token, for trying entrakey: its key lives in "
           "files under\n%s. For production keys use a YubiKey, smartcard, "
           "HSM or TPM\n(docs/getting-started.md).\n",
           dir);
}

int
cmd_quickstart(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"force", no_argument, NULL, OPT_CMD_BASE},
        {"out", required_argument, NULL, OPT_CMD_BASE + 1},
        {NULL, 0, NULL, 0},
    };
    char base[PATH_MAX], dir[PATH_MAX], cerpath[PATH_MAX];
    char pinsrc[PATH_MAX + 8];
    const char *out = NULL;
    struct ek_key *key = NULL;
    struct ek_cert *cert = NULL;
    struct ek_cert_params cp;
    struct ek_assertion_params ap;
    struct ek_secret *jwt = NULL;
    const char *mod;
    int c, rc, force = 0, created = 0;
    ek_err r;

    while ((c = cli_getopt(argc, argv, CLI_COMMON_SHORTOPTS, longopts,
                           "quickstart")) != -1) {
        if (c == OPT_CMD_BASE) {
            force = 1;
            continue;
        }
        if (c == OPT_CMD_BASE + 1) {
            if (optarg[0] == '\0')
                return cli_usage("quickstart", usage,
                                 "--out needs a file "
                                 "name");
            out = optarg;
            continue;
        }
        if ((rc = cli_common_opt(cli, c, optarg, "quickstart", usage)) != 0)
            return rc > 0 ? rc
                          : cli_usage("quickstart", usage, "unknown option");
    }
    if (optind < argc)
        return cli_usage("quickstart", usage, "unexpected argument '%s'",
                         argv[optind]);
    if (cli->module != NULL || cli->pin_source != NULL)
        return cli_usage("quickstart", usage,
                         "quickstart always uses its "
                         "embedded SoftHSM token and its own PIN file; "
                         "--module and --pin-source are for other commands");
    if ((mod = module_path()) == NULL) {
        fprintf(stderr, "entrakey: SoftHSM is not installed (no "
                        "libsofthsm2.so in the usual places); install it with "
                        "`apt-get install softhsm2`, or use a real token with "
                        "`entrakey init`\n");
        return CLI_EXIT_TOKEN;
    }
    if (data_dir(base, sizeof base) != 0 ||
        path_join(dir, sizeof dir, base, "softhsm") != 0) {
        fprintf(stderr, "entrakey: neither XDG_DATA_HOME nor HOME is set to "
                        "an absolute path; set one so the embedded token has a "
                        "home\n");
        return CLI_EXIT_FILE;
    }
    if (out == NULL) {
        if (path_join(cerpath, sizeof cerpath, base, QS_CER) != 0)
            return CLI_EXIT_FILE;
        out = cerpath;
    }
    cli->module = mod;
    if (snprintf(pinsrc, sizeof pinsrc, "file:%s/user-pin", dir) >=
        (int)sizeof pinsrc)
        return CLI_EXIT_FILE;
    cli->pin_source = pinsrc;
    if ((rc = cli_apply(cli)) != 0)
        return rc;

    printf("entrakey quickstart: trying the whole flow on a software token.\n"
           "(A software token is for trying entrakey, not for production "
           "keys.)\n\n");
    if ((rc = setup_store(cli, dir, &created)) != 0)
        goto out;
    if (!created)
        printf("Using the embedded software token made before (%s).\n\n", dir);
    if ((r = get_key(cli, &key)) != EK_OK) {
        rc = cli_fail(cli, r);
        goto out;
    }
    r = ek_cert_from_key(cli->ctx, key, &cert);
    if (r == EK_ERR_NOT_FOUND) {
        memset(&cp, 0, sizeof cp);
        cp.subject = QS_SUBJECT;
        cp.days = 365;
        cp.sig = EK_ALG_RS256;
        printf("Making a self-signed certificate, signed on the token...\n");
        r = ek_cert_create(cli->ctx, key, &cp, &cert);
    }
    if (r != EK_OK) {
        rc = cli_fail(cli, r);
        goto out;
    }
    if ((rc = export_cer(cli, cert, out, force)) != 0)
        goto out;

    memset(&ap, 0, sizeof ap);
    ap.tenant = QS_TENANT;
    ap.client_id = QS_CLIENT;
    ap.alg = EK_ALG_PS256;
    ap.cert = cert;
    if ((r = ek_assertion_sign(cli->ctx, key, &ap, &jwt)) != EK_OK) {
        rc = cli_fail(cli, r);
        goto out;
    }
    if ((r = ek_assertion_verify(cli->ctx, ek_secret_data(jwt), cert)) !=
        EK_OK) {
        rc = cli_fail(cli, r);
        goto out;
    }
    printf("Signed a client assertion (PS256) on the token and verified it "
           "with the\ncertificate: %zu bytes, for tenant %s.\n\n",
           ek_secret_len(jwt), QS_TENANT);
    print_steps(cert, dir, ek_key_uri(key), out);
    rc = CLI_EXIT_OK;
out:
    ek_secret_free(&jwt);
    ek_cert_free(&cert);
    ek_key_free(&key);
    return rc;
}
