/* cli_common.c: what every entrakey command shares: exit codes, messages,
 * JSON output, the common options, the PIN prompt and the log. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define EK_CLI_COMMON_C /* defines cli_usage, cli_fail */
#include "cli.h"

int
cli_exit_code(ek_err e)
{
    switch (e) {
    case EK_OK:
        return CLI_EXIT_OK;
    case EK_ERR_USAGE:
    case EK_ERR_CONFIG:
        return CLI_EXIT_USAGE;
    case EK_ERR_MODULE:
    case EK_ERR_TOKEN:
    case EK_ERR_NOT_FOUND:
    case EK_ERR_AMBIGUOUS:
    case EK_ERR_DEVICE:
    case EK_ERR_MECHANISM:
    case EK_ERR_INSECURE_KEY:
    case EK_ERR_NO_AGENT:
        return CLI_EXIT_TOKEN;
    case EK_ERR_PIN:
    case EK_ERR_PIN_LOCKED:
    case EK_ERR_PIN_REQUIRED:
    case EK_ERR_CANCELED:
        return CLI_EXIT_PIN;
    case EK_ERR_ENTRA:
        return CLI_EXIT_ENTRA;
    case EK_ERR_NETWORK:
    case EK_ERR_TLS:
    case EK_ERR_THROTTLED:
        return CLI_EXIT_NETWORK;
    case EK_ERR_IO:
        return CLI_EXIT_FILE;
    case EK_ERR_EXISTS:
        return CLI_EXIT_EXISTS;
    case EK_ERR_CERT:
        return CLI_EXIT_CERT;
    case EK_ERR_INTERNAL:
    default:
        return CLI_EXIT_INTERNAL;
    }
}

/* The command line's remedy for an error the library describes in its
 * own terms (curl's tool adds its --option hints the same way): by error
 * code (EK_OK: any code), the command (a prefix; NULL any) and words of
 * the sentence (NULL any); the first entry that fits gives the hint. A
 * hint whose option the sentence already names is not repeated. The
 * library never names an option (ctest lib_sentences): the words matched
 * here are its own. */
static const struct {
    ek_err code;
    const char *cmd;
    const char *has;
    const char *option;
    const char *text;
} hints[] = {
    /* PINs */
    {EK_ERR_PIN_REQUIRED, NULL, "SO PIN", "--so-pin-source",
     "give --so-pin-source env:NAME, file:PATH or fd:N, or run on a "
     "terminal"},
    {EK_ERR_PIN_REQUIRED, NULL, NULL, "--pin-source",
     "give --pin-source env:NAME, file:PATH or fd:N, or run on a terminal"},
    {EK_ERR_PIN_LOCKED, NULL, "final", "--allow-final-pin-try",
     "--allow-final-pin-try logs in anyway (a wrong PIN then locks it)"},
    {EK_ERR_USAGE, NULL, "pin-value=", "--pin-source",
     "give --pin-source env:NAME, file:PATH or fd:N (pin_source = in the "
     "profile)"},
    /* modules and tokens */
    {EK_ERR_MODULE, NULL, "NSS softokn", "--module",
     "leave out --module and ENTRAKEY_MODULE, and name the registered "
     "module in the URI (?module-name=NAME)"},
    {EK_ERR_MODULE, NULL, NULL, "--module",
     "name the module with --module PATH or ENTRAKEY_MODULE"},
    {EK_ERR_NOT_FOUND, NULL, "no initialised token", "--module",
     "name the module that has it with --module PATH or ENTRAKEY_MODULE"},
    {EK_ERR_NOT_FOUND, NULL, "no token matches", "entrakey tokens",
     "`entrakey tokens` lists the tokens and their URIs"},
    {EK_ERR_NOT_FOUND, NULL, "has no certificate with the id", "--cert",
     "make one with `entrakey cert create KEY-URI --subject DN`, or give "
     "its file with --cert FILE"},
    {EK_ERR_INSECURE_KEY, NULL, NULL, "--insecure-allow-extractable-key",
     "make a new key with `entrakey keygen`, or, knowing the risk, give "
     "--insecure-allow-extractable-key"},
    /* key generation */
    {EK_ERR_USAGE, NULL, "needs a label", "--label", "give it with --label"},
    {EK_ERR_USAGE, NULL, "label is not valid UTF-8", "--label",
     "give --label in UTF-8"},
    {EK_ERR_USAGE, NULL, "URI of the token to make the key on",
     "entrakey tokens", "`entrakey tokens` lists the tokens and their URIs"},
    {EK_ERR_USAGE, NULL, "label and id are parameters", "--label",
     "give the key's label and id with --label and --id"},
    {EK_ERR_EXISTS, NULL, "another label or id", "--label",
     "give another --label or --id"},
    {EK_ERR_EXISTS, NULL, "Choose another label", "--label",
     "give another --label"},
    {EK_ERR_EXISTS, NULL, "Choose another id", "--id", "give another --id"},
    {EK_ERR_EXISTS, NULL, "no free key id", "--id", "give one with --id HEX"},
    {EK_ERR_MECHANISM, NULL, "cannot generate keys", "cert create",
     "then `entrakey cert create KEY-URI --subject DN` makes its "
     "certificate"},
    {EK_ERR_MECHANISM, NULL, "-bit RSA keys", "--bits",
     "give the size with --bits"},
    /* certificates */
    {EK_ERR_EXISTS, "cert create", "YubiKey", "--force",
     "give --force to replace it (and the management key with "
     "--so-pin-source), or --no-store to make one without storing it"},
    {EK_ERR_EXISTS, "cert create", "certificate", "--force",
     "give --force to replace it, or --no-store to make one without "
     "storing it"},
    {EK_ERR_EXISTS, "cert import", "certificate", "--force",
     "give --force to replace it"},
    {EK_ERR_EXISTS, NULL, "exists and was left", "--force",
     "give --force to replace it, or choose another name"},
    {EK_ERR_TOKEN, "cert create", "does not store certificates", "--no-store",
     "make it with --no-store --out FILE.cer, then give --cert FILE.cer "
     "to assert, token and exec"},
    {EK_ERR_CERT, NULL, "expired", "--force",
     "make a new one with `entrakey cert create KEY-URI --subject DN "
     "--force --out FILE.cer` and upload it"},
    {EK_ERR_MECHANISM, "cert", "cannot make RSA-PSS", "--sig",
     "use --sig rsa-pkcs1"},
    {EK_ERR_MECHANISM, "cert", "cannot make PKCS#1", "--sig",
     "use --sig rsa-pss"},
    {EK_ERR_MECHANISM, "init", "cannot make RSA-PSS", "--sig",
     "use --sig rsa-pkcs1"},
    {EK_ERR_MECHANISM, "init", "cannot make PKCS#1", "--sig",
     "use --sig rsa-pss"},
    {EK_ERR_USAGE, NULL, "subject is", "--subject",
     "give --subject, e.g. --subject 'CN=ExchangeAuth'"},
    {EK_ERR_USAGE, NULL, "days is too long", "--days",
     "give --days from 1 to 36500"},
    /* signing */
    {EK_ERR_MECHANISM, NULL, "PS256 signature", "--alg",
     "give --alg RS256 (`entrakey tokens` lists the token's mechanisms)"},
    {EK_ERR_MECHANISM, NULL, "RS256 signature", "entrakey tokens",
     "`entrakey tokens` lists the token's mechanisms"},
    /* configuration */
    {EK_ERR_CONFIG, NULL, "does not exist", "--config",
     "make a profile with `entrakey profile add`, or give --config FILE"},
    {EK_ERR_CONFIG, NULL, "nor HOME is set", "--config", "give --config FILE"},
    /* the token endpoint */
    {EK_ERR_THROTTLED, NULL, NULL, "--max-wait",
     "try again later, or raise --max-wait"},
    {EK_ERR_ENTRA, NULL, "AADSTS700016", "--client-id",
     "check --client-id and --tenant"},
    {EK_ERR_ENTRA, NULL, "AADSTS90002", "--tenant",
     "check --tenant and --cloud"},
    {EK_ERR_ENTRA, NULL, "AADSTS50049", "--authority-host",
     "check --cloud, --authority-host and --tenant"},
    {EK_ERR_ENTRA, NULL, "AADSTS1002012", "--scope",
     "give --scope RESOURCE/.default or --resource"},
    {EK_ERR_ENTRA, NULL, "AADSTS70011", "--scope",
     "give --scope RESOURCE/.default or --resource"},
    /* the PKCS#11 advice, whatever the code */
    {EK_OK, NULL, "does not support this mechanism", "entrakey tokens",
     "`entrakey tokens` shows what it can do"},
    {EK_OK, NULL, "this key size", "--bits", "give --bits 2048"},
    {EK_OK, NULL, "SO PIN source", "--so-pin-source",
     "give it with --so-pin-source"},
    {EK_OK, NULL, "a trace of the PKCS#11 calls", "-v",
     "-v traces the PKCS#11 calls"},
};

const char *
cli_hint(const struct cli *cli, ek_err e, const char *msg)
{
    size_t i, n;

    if (e == EK_OK || msg == NULL)
        return NULL;
    /* the agent's own sentence says what to do about it: the options
     * below are the one-shot command's, not the agent's (a locked agent
     * needs unlocking, not --pin-source) */
    if (strncmp(msg, "agent: ", 7) == 0)
        return NULL;
    for (i = 0; i < sizeof hints / sizeof hints[0]; i++) {
        if (hints[i].code != EK_OK && hints[i].code != e)
            continue;
        n = hints[i].cmd != NULL ? strlen(hints[i].cmd) : 0;
        if (n > 0 &&
            (cli->cmd == NULL || strncmp(cli->cmd, hints[i].cmd, n) != 0))
            continue;
        if (hints[i].has != NULL && strstr(msg, hints[i].has) == NULL)
            continue;
        if (strstr(msg, hints[i].option) != NULL)
            return NULL; /* the sentence says it already */
        if (strcmp(hints[i].option, "-v") == 0 && cli->verbose)
            return NULL; /* the trace is on the screen */
        return hints[i].text;
    }
    return NULL;
}

/* What a URI that found nothing may have meant: a space (p11-kit drops
 * it: "exo automation" is searched as "exoautomation") or an id written
 * as hex digits (id=01 is the two bytes "01", 0x30 0x31). */
static void
uri_hint(const char *uri)
{
    const char *id, *end;
    size_t n;

    if (strchr(uri, ' ') != NULL)
        fprintf(stderr,
                "entrakey: the URI has a space, which PKCS#11 URIs "
                "do not keep: write it as %%20 (object=exo%%20automation)"
                "\n");
    id = strstr(uri, "id=");
    if (id != NULL && (id == uri + 7 || id[-1] == ';' || id[-1] == ':')) {
        id += 3;
        end = id + strcspn(id, ";?&");
        n = (size_t)(end - id);
        if (n > 0 && n <= 16 && n % 2 == 0 &&
            strspn(id, "0123456789abcdefABCDEF") >= n &&
            memchr(id, '%', n) == NULL) {
            fprintf(stderr,
                    "entrakey: id=%.*s is the characters '%.*s'; "
                    "did you mean the bytes: id=",
                    (int)n, id, (int)n, id);
            for (; id < end; id += 2)
                fprintf(stderr, "%%%.2s", id);
            fputs(" ?\n", stderr);
        }
    }
}

int
cli_fail_uri(struct cli *cli, ek_err e, const char *uri)
{
    int rc = cli_fail(cli, e);

    if ((e == EK_ERR_NOT_FOUND || e == EK_ERR_USAGE) && uri != NULL)
        uri_hint(uri);
    return rc;
}

int
cli_fail(struct cli *cli, ek_err e)
{
    const char *msg = ek_ctx_errmsg(cli->ctx);
    const char *hint;

    /* never NULL (a sentence for "none recorded"); said for gcc -O3, which
     * cannot see it through the library and warns (-Wformat-overflow) */
    if (msg == NULL)
        msg = ek_strerror(e);
    hint = cli_hint(cli, e, msg);
    fprintf(stderr, "entrakey: %s\n", msg);
    if (hint != NULL)
        fprintf(stderr, "entrakey: %s\n", hint);
    return cli_exit_code(e);
}

int
cli_usage(const char *cmd, const char *usage, const char *fmt, ...)
{
    va_list ap;

    /* the cause, and where the help is: not the whole help, which would
     * scroll the cause away */
    (void)usage;
    fprintf(stderr, "entrakey%s%s: ", cmd[0] != '\0' ? " " : "", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nentrakey: see `entrakey%s%s --help`\n",
            cmd[0] != '\0' ? " " : "", cmd);
    return CLI_EXIT_USAGE;
}

int
cli_write_all(int fd, const char *p, size_t n)
{
    ssize_t w;

    while (n > 0) {
        w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Options whose value names a PIN source: they must be written in full,
 * so that a mistyped or abbreviated option never carries a PIN somewhere
 * it is echoed or used. */
static int
secret_option(const char *name)
{
    return strcmp(name, "pin-source") == 0 ||
           strcmp(name, "so-pin-source") == 0;
}

int
cli_getopt(int argc, char **argv, const char *shortopts,
           const struct option *longopts, const char *cmd)
{
    const char *arg, *name;
    size_t len;
    int c, idx = -1;

    opterr = 0; /* getopt's messages repeat the value of an option */
    c = getopt_long(argc, argv, shortopts, longopts, &idx);
    if (c == -1)
        return c;
    /* the element just read: "--name=value", or "--name" before its value */
    arg = optind >= 1 && optind <= argc ? argv[optind - 1] : "";
    if (optarg != NULL && optind >= 2 && arg == optarg)
        arg = argv[optind - 2];
    if (c == '?' || c == ':') {
        if (arg[0] == '-' && arg[1] == '-') {
            len = strcspn(arg, "=");
            if (optopt != 0 && arg[len] == '=')
                cli_usage(cmd, NULL, "option '%.*s' takes no value", (int)len,
                          arg);
            else if (optopt != 0)
                cli_usage(cmd, NULL, "option '%.*s' needs a value", (int)len,
                          arg);
            else
                cli_usage(cmd, NULL, "unknown or ambiguous option '%.*s'",
                          (int)len, arg);
        } else if (optopt != 0 && strchr(shortopts, optopt) != NULL) {
            cli_usage(cmd, NULL, "option '-%c' needs a value", optopt);
        } else if (optopt > ' ' && optopt < 0x7f) {
            cli_usage(cmd, NULL, "unknown option '-%c'", optopt);
        } else {
            cli_usage(cmd, NULL, "unknown option");
        }
        return '?';
    }
    if (idx >= 0 && secret_option(longopts[idx].name)) {
        name = longopts[idx].name;
        len = strlen(name);
        if (strncmp(arg, "--", 2) != 0 || strncmp(arg + 2, name, len) != 0 ||
            (arg[2 + len] != '\0' && arg[2 + len] != '=')) {
            cli_usage(cmd, NULL,
                      "write --%s in full: an abbreviated "
                      "option is not taken for a PIN source",
                      name);
            return '?';
        }
    }
    return c;
}

void
cli_warn(const char *fmt, ...)
{
    va_list ap;

    fputs("entrakey: warning: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void
cli_warn_expiry(struct cli *cli, const struct ek_key *k,
                const struct ek_cert *cert)
{
    static int warned;
    const unsigned char *der = NULL;
    struct ek_cert *own = NULL;
    long long now = (long long)time(NULL), left, days;
    char when[32];
    size_t len = 0;

    if (warned)
        return;
    if (cert == NULL) {
        if (k == NULL || ek_key_cert_der(k, &der, &len) != EK_OK ||
            ek_cert_load(cli->ctx, der, len, &own) != EK_OK)
            return; /* none: the signature says so */
        cert = own;
    }
    left = (long long)ek_cert_not_after(cert) - now;
    /* an expired one is refused by the signature, with its own sentence */
    if (left >= 0 && left < CLI_EXPIRY_WARN_DAYS * 86400LL) {
        warned = 1;
        days = left / 86400;
        cli_iso8601(ek_cert_not_after(cert), when, sizeof when);
        cli_warn("the certificate %s (thumbprint %s) expires on %s, in %lld "
                 "day%s; Entra ID refuses it from then on: make its "
                 "successor and upload it now (entrakey check watches "
                 "this: docs/monitoring.md)",
                 ek_cert_subject(cert), ek_cert_thumbprint(cert), when, days,
                 days == 1 ? "" : "s");
    }
    ek_cert_free(&own);
}

/* The length of the UTF-8 character at p (1-4), or 0 when it is not one. */
static size_t
utf8_char_len(const unsigned char *p)
{
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        return (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (p[0] >= 0xe0 && p[0] <= 0xef)
        return (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80 &&
                       !(p[0] == 0xe0 && p[1] < 0xa0) &&
                       !(p[0] == 0xed && p[1] > 0x9f)
                   ? 3
                   : 0;
    if (p[0] >= 0xf0 && p[0] <= 0xf4)
        return (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80 &&
                       (p[3] & 0xc0) == 0x80 &&
                       !(p[0] == 0xf0 && p[1] < 0x90) &&
                       !(p[0] == 0xf4 && p[1] > 0x8f)
                   ? 4
                   : 0;
    return 0;
}

/* The resolved directory of path and its last name, as one path. */
static int
resolved(const char *path, char *out, size_t outsz)
{
    char dir[PATH_MAX], real[PATH_MAX];
    const char *slash = strrchr(path, '/'), *base;

    if (slash == NULL) {
        snprintf(dir, sizeof dir, ".");
        base = path;
    } else {
        snprintf(dir, sizeof dir, "%.*s",
                 slash == path ? 1 : (int)(slash - path), path);
        base = slash + 1;
    }
    if (realpath(dir, real) == NULL)
        return -1;
    return snprintf(out, outsz, "%s/%s", real, base) < (int)outsz ? 0 : -1;
}

int
cli_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    char ra[PATH_MAX + 256], rb[PATH_MAX + 256];

    if (strcmp(a, b) == 0)
        return 1;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    if (resolved(a, ra, sizeof ra) != 0 || resolved(b, rb, sizeof rb) != 0)
        return 0;
    return strcmp(ra, rb) == 0;
}

const char *
cli_safe(const char *s)
{
    static char bufs[8][1024];
    static unsigned next;
    const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
    char *out = bufs[next++ % 8], esc[8];
    size_t used = 0, n, e;

    for (; *p != '\0'; p += n) {
        n = utf8_char_len(p);
        if (n == 0 || *p < 0x20 || *p == 0x7f) {
            snprintf(esc, sizeof esc, "\\x%02x", *p);
            n = 1;
        } else if (n == 2 && p[0] == 0xc2 && p[1] < 0xa0) {
            snprintf(esc, sizeof esc, "\\u%04x", p[1]);
        } else {
            if (used + n >= sizeof bufs[0])
                break;
            memcpy(out + used, p, n);
            used += n;
            continue;
        }
        e = strlen(esc);
        if (used + e >= sizeof bufs[0])
            break;
        memcpy(out + used, esc, e);
        used += e;
    }
    out[used] = '\0';
    return out;
}

/* Prints s with each byte that is not part of a UTF-8 character replaced
 * by U+FFFD: labels come from tokens, which do not all keep to UTF-8, and
 * JSON is UTF-8 (RFC 8259 §8.1). cJSON escapes only '"', '\\' and control
 * characters, so any other byte is inside a string. -1 on a write error. */
static int
put_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n;

    while (*p != '\0') {
        if ((n = utf8_char_len(p)) == 0) {
            if (fputs("\xef\xbf\xbd", stdout) == EOF)
                return -1;
            p++;
        } else {
            if (fwrite(p, 1, n, stdout) != n)
                return -1;
            p += n;
        }
    }
    return putchar('\n') == EOF ? -1 : 0;
}

int
cli_print_json(cJSON *doc)
{
    char *s;

    if (doc == NULL) {
        fprintf(stderr, "entrakey: out of memory\n");
        return CLI_EXIT_INTERNAL;
    }
    s = cJSON_Print(doc);
    cJSON_Delete(doc);
    if (s == NULL) {
        fprintf(stderr, "entrakey: out of memory\n");
        return CLI_EXIT_INTERNAL;
    }
    if (put_utf8(s) != 0) {
        free(s);
        fprintf(stderr, "entrakey: cannot write to standard output\n");
        return CLI_EXIT_FILE;
    }
    free(s);
    return CLI_EXIT_OK;
}

void
cli_iso8601(long long epoch, char *buf, size_t len)
{
    time_t t = (time_t)epoch;
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL ||
        strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, len, "%lld", epoch);
}

int
cli_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
    unsigned long v;
    char *end = NULL;

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = (unsigned)v;
    return 0;
}

const char *
cli_attr_name(int a)
{
    static const char *const names[EK_ATTR_COUNT] = {
        "CKA_SENSITIVE",         "CKA_EXTRACTABLE", "CKA_ALWAYS_SENSITIVE",
        "CKA_NEVER_EXTRACTABLE", "CKA_LOCAL",
    };

    return a >= 0 && a < EK_ATTR_COUNT ? names[a] : "CKA_?";
}

const char *
cli_verdict_text(enum ek_verdict v)
{
    switch (v) {
    case EK_VERDICT_NON_EXPORTABLE:
        return "non-exportable: made on the token and never extractable";
    case EK_VERDICT_EXTRACTABLE:
        return "EXTRACTABLE: the private key can leave the token; entrakey "
               "refuses to sign with it";
    default:
        return "unproven: not extractable, but some attribute is unreadable "
               "or weak (see above)";
    }
}

const char *
cli_key_verdict_text(const struct ek_key *k)
{
    if (ek_key_needs_login(k))
        return "not read: the token keeps its private keys hidden until "
               "login, and this key was found through its public key or "
               "certificate (name this token alone in the URI and give a "
               "PIN source to read the attributes)";
    if (ek_key_attrs_fixed(k) && ek_key_verdict(k) == EK_VERDICT_NON_EXPORTABLE)
        return "fixed values: this module reports these attributes as "
               "constants for every key (OpenSC's PIV driver), not as read "
               "from the card; a PIV card does not export keys, but these "
               "values do not show where the key was made";
    return cli_verdict_text(ek_key_verdict(k));
}

int
cli_key_json(cJSON *o, const struct ek_key *k)
{
    static const char *const words[] = {
        [EK_VERDICT_NON_EXPORTABLE] = "non-exportable",
        [EK_VERDICT_UNPROVEN] = "unproven",
        [EK_VERDICT_EXTRACTABLE] = "extractable",
    };
    enum ek_verdict verdict = ek_key_verdict(k);
    cJSON *attrs;
    int a, v;

    if (!cJSON_AddStringToObject(o, "uri", ek_key_uri(k)) ||
        !cJSON_AddStringToObject(o, "token", ek_key_token_label(k)) ||
        !cJSON_AddStringToObject(o, "label", ek_key_label(k)) ||
        !cJSON_AddStringToObject(o, "id", ek_key_id_hex(k)) ||
        !cJSON_AddNumberToObject(o, "bits", ek_key_bits(k)) ||
        (attrs = cJSON_AddObjectToObject(o, "attributes")) == NULL)
        return -1;
    for (a = 0; a < EK_ATTR_COUNT; a++) {
        v = ek_key_attr(k, (enum ek_key_attr)a);
        if (!cJSON_AddItemToObject(attrs, cli_attr_name(a),
                                   v < 0 ? cJSON_CreateNull()
                                         : cJSON_CreateBool(v)))
            return -1;
    }
    if (!cJSON_AddStringToObject(o, "verdict",
                                 ek_key_needs_login(k) ? "not read"
                                 : (unsigned)verdict <= EK_VERDICT_EXTRACTABLE
                                     ? words[verdict]
                                     : "unproven") ||
        !cJSON_AddBoolToObject(o, "private_key_visible",
                               !ek_key_needs_login(k)))
        return -1;
    return 0;
}

int
cli_key_made_json(cJSON *o, const struct ek_key *k)
{
    const char *dropped = ek_key_template_dropped(k), *p, *comma;
    cJSON *arr, *item;
    char name[64];

    if (cli_key_json(o, k) != 0 ||
        (arr = cJSON_AddArrayToObject(o, "template_dropped")) == NULL)
        return -1;
    for (p = dropped; *p != '\0'; p = *comma ? comma + 1 : comma) {
        comma = p + strcspn(p, ",");
        snprintf(name, sizeof name, "%.*s", (int)(comma - p), p);
        if ((item = cJSON_CreateString(name)) == NULL ||
            !cJSON_AddItemToArray(arr, item)) {
            cJSON_Delete(item);
            return -1;
        }
    }
    return 0;
}

int
cli_check_output(const char *path, int force, const char *outcome)
{
    char dir[PATH_MAX];
    const char *slash;
    struct stat st;

    if (path[0] == '\0') {
        fprintf(stderr, "entrakey: an output file name is empty\n");
        return CLI_EXIT_USAGE;
    }
    if (!force && lstat(path, &st) == 0) {
        fprintf(stderr,
                "entrakey: '%s' exists and was left as it is; give "
                "--force to replace it, or choose another name; %s\n",
                path, outcome);
        return CLI_EXIT_EXISTS;
    }
    slash = strrchr(path, '/');
    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (stat(dir, &st) != 0) {
        fprintf(stderr,
                "entrakey: cannot write '%s': the directory '%s' "
                "cannot be used: %s; %s\n",
                path, dir, strerror(errno), outcome);
        return CLI_EXIT_FILE;
    }
    if (!S_ISDIR(st.st_mode) || access(dir, W_OK | X_OK) != 0) {
        fprintf(stderr, "entrakey: cannot write '%s': '%s' is %s; %s\n", path,
                dir, S_ISDIR(st.st_mode) ? "not writable" : "not a directory",
                outcome);
        return CLI_EXIT_FILE;
    }
    return 0;
}

int
cli_common_opt(struct cli *cli, int c, const char *arg, const char *cmd,
               const char *usage)
{
    (void)cmd;
    switch (c) {
    case 'v':
        cli->verbose++;
        return 0;
    case OPT_MODULE:
        cli->module = arg;
        return 0;
    case OPT_PIN_SOURCE:
        cli->pin_source = arg;
        return 0;
    case OPT_SO_PIN_SOURCE:
        cli->so_pin_source = arg;
        return 0;
    case OPT_ALLOW_FINAL_PIN_TRY:
        cli->flags |= EK_FLAG_ALLOW_FINAL_PIN_TRY;
        return 0;
    case OPT_INSECURE_EXTRACTABLE:
        cli->flags |= EK_FLAG_INSECURE_ALLOW_EXTRACTABLE;
        return 0;
    case OPT_JSON:
        cli->json = 1;
        return 0;
    case 'h':
        fputs(usage, stdout);
        exit(CLI_EXIT_OK);
    case '?':
    case ':':
        /* cli_getopt has said what was wrong */
        return CLI_EXIT_USAGE;
    default:
        return -1;
    }
}

static struct timespec start_time;

void
cli_clock_start(void)
{
    clock_gettime(CLOCK_MONOTONIC, &start_time);
}

/* Milliseconds since the command started: -v lines carry them so that a
 * slow step (module load, login, TLS) shows where the time goes. */
static double
elapsed_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start_time.tv_sec) * 1e3 +
           (double)(now.tv_nsec - start_time.tv_nsec) / 1e6;
}

void
cli_log_to_stderr(void *arg, enum ek_log_level level, const char *msg)
{
    (void)arg;
    if (level == EK_LOG_WARN)
        fprintf(stderr, "entrakey: warning: %s\n", msg);
    else
        fprintf(stderr, "entrakey: [%9.3f ms] %s\n", elapsed_ms(), msg);
}

/* Reads a PIN from the terminal without echo. Never prompts when stdin is
 * not a terminal: an unattended job must fail at once, not hang. */
ek_err
cli_prompt_pin(void *arg, const char *prompt, char *buf, size_t bufsz)
{
    struct termios old, noecho;
    int fd = -1, restore = 0;
    size_t n = 0;
    ssize_t r;
    char c;
    ek_err ret = EK_ERR_PIN_REQUIRED;

    (void)arg;
    if (bufsz == 0 || !isatty(STDIN_FILENO))
        return EK_ERR_PIN_REQUIRED;
    if ((fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY)) < 0)
        return EK_ERR_PIN_REQUIRED;
    if (tcgetattr(fd, &old) == 0) {
        noecho = old;
        noecho.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
        noecho.c_lflag |= ICANON;
        if (tcsetattr(fd, TCSAFLUSH, &noecho) == 0)
            restore = 1;
    }
    if (write(fd, prompt, strlen(prompt)) < 0)
        goto out;
    for (;;) {
        r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            ret = EK_ERR_CANCELED;
            goto out;
        }
        if (c == '\n' || c == '\r')
            break;
        if (n + 1 >= bufsz) {
            ret = EK_ERR_PIN;
            goto out;
        }
        buf[n++] = c;
    }
    buf[n] = '\0';
    ret = EK_OK;
out:
    c = 0;
    if (restore)
        tcsetattr(fd, TCSAFLUSH, &old);
    if (write(fd, "\n", 1) < 0) {
        /* nothing to do: the newline is cosmetic */
    }
    close(fd);
    if (ret != EK_OK)
        memset(buf, 0, bufsz);
    return ret;
}

static int
bad_pin_source(const char *what)
{
    fprintf(stderr,
            "entrakey: the %s source given is not understood (it "
            "is not repeated here: it could be a PIN); use env:NAME (an "
            "environment variable), file:PATH (a file readable only by "
            "you) or fd:N (an open file descriptor), never the PIN "
            "itself\n",
            what);
    return CLI_EXIT_USAGE;
}

int
cli_apply(struct cli *cli)
{
    ek_err r;

    ek_ctx_set_log(cli->ctx, cli_log_to_stderr, NULL,
                   cli->verbose >= 1 ? EK_LOG_TRACE : EK_LOG_WARN);
    ek_ctx_set_flags(cli->ctx, cli->flags);
    if (cli->module != NULL &&
        (r = ek_ctx_set_module(cli->ctx, cli->module)) != EK_OK)
        return cli_fail(cli, r);
    /* a PIN source that does not parse may be a PIN typed in its place:
     * the library's sentence, which could quote it, is not printed */
    if (cli->pin_source != NULL &&
        (r = ek_ctx_set_pin_source(cli->ctx, cli->pin_source)) != EK_OK)
        return r == EK_ERR_USAGE ? bad_pin_source("PIN") : cli_fail(cli, r);
    if (cli->so_pin_source != NULL &&
        (r = ek_ctx_set_so_pin_source(cli->ctx, cli->so_pin_source)) != EK_OK)
        return r == EK_ERR_USAGE ? bad_pin_source("SO PIN") : cli_fail(cli, r);
    return 0;
}
