/* cmd_check.c: `entrakey check`: for monitoring, one run over keys or
 * profiles: the token and key there, the certificate's validity, the key
 * still non-exportable, optionally a login and a real token exchange; as
 * text, JSON or Prometheus text exposition, with exit codes that say the
 * worst finding. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* The check's own exit codes, after the common 0-9 (docs/errors.md); the
 * higher, the worse: several keys give the highest. */
enum {
    CHECK_OK = 0,
    CHECK_EXPIRING = 10, /* the certificate expires within --warn-days */
    CHECK_EXCHANGE = 11, /* --token: the token exchange failed */
    CHECK_CERT = 12,     /* certificate expired, not yet valid, missing,
                            or not the key's */
    CHECK_MISSING = 13,  /* token or key missing or unusable (module,
                            token, key; with --login a PIN failure) */
    CHECK_INSECURE = 14, /* the key can leave the token */
};

#define WARN_DAYS_DEFAULT 30u
#define WARN_DAYS_MAX 3650u

static const char usage_check[] =
    "usage: entrakey check [KEY-URI... | --profile NAME...] [--warn-days N]\n"
    "           [--format text|json|prometheus] [--out FILE] [--login]\n"
    "           [--token] [signing options]\n"
    "\n"
    "Checks each key (the KEY-URIs, the --profile NAMEs, or else the profile\n"
    "of $ENTRAKEY_PROFILE or 'default') for monitoring: its token and key\n"
    "are there, its certificate on the token is within its validity and is\n"
    "the key's, and the key's attributes still say it cannot leave the\n"
    "token. Without --login nor --token no PIN is used (a token that hides\n"
    "its private keys until a login shows their attributes only then).\n"
    "\n"
    "  --warn-days N     a certificate that expires within N days is a\n"
    "                    warning (exit 10); default 30, 0 turns it off\n"
    "  --format F        text (default), json (--json is the same) or\n"
    "                    prometheus (text exposition for node exporter's\n"
    "                    textfile collector)\n"
    "  --out FILE        write the report to FILE atomically (a temporary\n"
    "                    file renamed over it, mode 0644) instead of stdout\n"
    "  --login           log in to each key's token (one C_Login, never\n"
    "                    retried; the usual PIN sources) and read the key's\n"
    "                    attributes\n"
    "  --token           also get an access token with each key (a real\n"
    "                    exchange with Entra ID; needs the tenant and client\n"
    "                    id: options, profile or environment; never through\n"
    "                    an agent)\n"
    "  --profile NAME    check this profile's key; may be given many times\n"
    "\n"
    "The signing options of entrakey token (--tenant, --client-id, --cloud,\n"
    "--authority-host, --resource, --scope, --ca-file, --timeout,\n"
    "--max-wait, --config ...) apply to --token; see entrakey token --help.\n"
    "\n"
    "Exit codes, the worst of all keys checked: 0 all well; 10 a\n"
    "certificate expires within --warn-days; 11 a token exchange failed\n"
    "(--token); 12 a certificate has expired, is not yet valid, is missing\n"
    "or is not the key's; 13 a token or key is missing or unusable (with\n"
    "--login: the PIN); 14 a key can leave its token (CKA_EXTRACTABLE or\n"
    "not CKA_SENSITIVE). 2 usage, 7 the --out file cannot be written.\n";

enum {
    OPT_WARN_DAYS = OPT_CMD_BASE,
    OPT_FORMAT,
    OPT_OUT,
    OPT_LOGIN,
    OPT_TOKEN,
};

enum fmt { FMT_TEXT, FMT_JSON, FMT_PROM };

/* What a step found; NOT_RUN when it was not asked for or could not run. */
enum step { STEP_NOT_RUN, STEP_OK, STEP_FAILED };

/* One key to check, and what was found. */
struct target {
    const char *profile; /* NULL: a KEY-URI */
    struct cli_sign s;
    struct ek_ctx *ctx;
    const char *module, *pin_source; /* resolved for this target */
    /* results */
    int status;
    char key[1024];  /* the key's URI, or the argument redacted */
    char token[256]; /* the token's label, "" when not found */
    char problem[1024];
    int key_found;
    int cert_state; /* -1 none, else enum cert_state */
    char subject[512], thumbprint[48];
    long long not_before, not_after, days_left;
    int matches;     /* the certificate's public key is the key's */
    int attrs_known; /* the five attributes were read */
    enum ek_verdict verdict;
    enum step login, exchange;
    char login_msg[1024], exchange_msg[1024];
};

enum cert_state { CERT_VALID, CERT_EXPIRING, CERT_EXPIRED, CERT_NOT_YET };
static const char *const cert_state_word[] = {"valid", "expiring", "expired",
                                              "not-yet-valid"};

static const char *
status_text(int st)
{
    switch (st) {
    case CHECK_OK:
        return "ok";
    case CHECK_EXPIRING:
        return "certificate expires soon";
    case CHECK_EXCHANGE:
        return "token exchange failed";
    case CHECK_CERT:
        return "certificate expired or unusable";
    case CHECK_MISSING:
        return "token or key missing or unusable";
    case CHECK_INSECURE:
        return "key can leave the token";
    default:
        return "error";
    }
}

static const char *
verdict_word(const struct target *t)
{
    if (!t->attrs_known)
        return "unknown";
    switch (t->verdict) {
    case EK_VERDICT_NON_EXPORTABLE:
        return "non-exportable";
    case EK_VERDICT_EXTRACTABLE:
        return "extractable";
    default:
        return "unproven";
    }
}

static const char *
step_word(enum step s)
{
    return s == STEP_OK ? "ok" : s == STEP_FAILED ? "failed" : "not-run";
}

/* Raises t's status to st, keeping the first problem sentence of the
 * worst finding. */
static void raise_status(struct target *t, int st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
raise_status(struct target *t, int st, const char *fmt, ...)
{
    va_list ap;

    if (st <= t->status)
        return;
    t->status = st;
    va_start(ap, fmt);
    vsnprintf(t->problem, sizeof t->problem, fmt, ap);
    va_end(ap);
}

/* The URI with each pin-value= hidden, for labels and messages. */
static void
redact_uri(const char *uri, char *out, size_t outsz)
{
    const char *p = uri, *hit;
    size_t used = 0, n;

    out[0] = '\0';
    while ((hit = strstr(p, "pin-value=")) != NULL && used < outsz) {
        n = (size_t)(hit - p);
        used += (size_t)snprintf(out + used, outsz - used, "%.*s%s", (int)n, p,
                                 "pin-value=(hidden)");
        p = hit + strlen("pin-value=");
        p += strcspn(p, ";?&");
    }
    if (used < outsz)
        snprintf(out + used, outsz - used, "%s", p);
}

/* ------------------------------------------------------------ checking */

/* The prompt of a check without --login: never asks. */
static ek_err
no_prompt(void *arg, const char *prompt, char *buf, size_t bufsz)
{
    (void)arg;
    (void)prompt;
    (void)buf;
    (void)bufsz;
    return EK_ERR_PIN_REQUIRED;
}

static void
check_cert(struct target *t, const struct ek_key *k, unsigned warn_days,
           long long now)
{
    const unsigned char *der = NULL;
    struct ek_cert *c = NULL;
    size_t len = 0;
    char when[32];

    t->cert_state = -1;
    if (ek_key_cert_der(k, &der, &len) != EK_OK) {
        raise_status(t, CHECK_CERT,
                     "token '%s' has no certificate with the key's id: no "
                     "assertion can be signed (entrakey cert create or cert "
                     "import)",
                     t->token);
        return;
    }
    if (ek_cert_load(t->ctx, der, len, &c) != EK_OK) {
        raise_status(t, CHECK_CERT, "%s", ek_ctx_errmsg(t->ctx));
        return;
    }
    snprintf(t->subject, sizeof t->subject, "%s", ek_cert_subject(c));
    snprintf(t->thumbprint, sizeof t->thumbprint, "%s", ek_cert_thumbprint(c));
    t->not_before = ek_cert_not_before(c);
    t->not_after = ek_cert_not_after(c);
    t->days_left = t->not_after >= now
                       ? (t->not_after - now) / 86400
                       : -((now - t->not_after + 86399) / 86400);
    t->matches = ek_cert_matches_key(c, k);
    if (now > t->not_after) {
        t->cert_state = CERT_EXPIRED;
        cli_iso8601(t->not_after, when, sizeof when);
        raise_status(t, CHECK_CERT,
                     "the certificate %s expired on %s; Entra ID refuses it "
                     "(AADSTS700027): make a new one and upload it",
                     t->subject, when);
    } else if (now < t->not_before) {
        t->cert_state = CERT_NOT_YET;
        cli_iso8601(t->not_before, when, sizeof when);
        raise_status(t, CHECK_CERT, "the certificate %s is not valid before %s",
                     t->subject, when);
    } else if (t->not_after - now < (long long)warn_days * 86400) {
        t->cert_state = CERT_EXPIRING;
        cli_iso8601(t->not_after, when, sizeof when);
        raise_status(t, CHECK_EXPIRING,
                     "the certificate %s expires on %s (in %lld day%s): make "
                     "and upload its successor now",
                     t->subject, when, t->days_left,
                     t->days_left == 1 ? "" : "s");
    } else {
        t->cert_state = CERT_VALID;
    }
    if (!t->matches)
        raise_status(t, CHECK_CERT,
                     "the certificate stored with the key (%s) is not the "
                     "key's: its public key differs",
                     t->subject);
    ek_cert_free(&c);
}

static void
check_attrs(struct target *t, const struct ek_key *k)
{
    if (ek_key_needs_login(k))
        return;
    t->attrs_known = 1;
    t->verdict = ek_key_verdict(k);
    if (t->verdict == EK_VERDICT_EXTRACTABLE)
        raise_status(t, CHECK_INSECURE,
                     "key %s can leave the token (CKA_EXTRACTABLE=TRUE or "
                     "CKA_SENSITIVE=FALSE): treat it as copied; make a new "
                     "key with entrakey keygen",
                     t->key);
}

static void
check_one(struct cli *cli, struct target *t, unsigned warn_days, int login,
          int token, long long now)
{
    struct ek_access_token_params p;
    struct ek_access_token *at = NULL;
    struct ek_key *k = NULL;
    ek_err r;

    cli->ctx = t->ctx;
    cli->module = t->module;
    cli->pin_source = t->pin_source;
    redact_uri(t->s.val[CLI_SF_KEY], t->key, sizeof t->key);
    if (cli_apply(cli) != 0) {
        raise_status(t, CHECK_MISSING, "%s",
                     "the module or PIN source of "
                     "this key cannot be used");
        return;
    }
    if ((r = ek_key_open(t->ctx, t->s.val[CLI_SF_KEY], &k)) != EK_OK) {
        if (r == EK_ERR_PIN_REQUIRED && !login && !token)
            raise_status(t, CHECK_MISSING,
                         "no public key or certificate matches %s: the key "
                         "is missing, or its token shows it only after a "
                         "login (--login)",
                         t->key);
        else
            raise_status(t, CHECK_MISSING, "%s", ek_ctx_errmsg(t->ctx));
        return;
    }
    t->key_found = 1;
    snprintf(t->key, sizeof t->key, "%s", ek_key_uri(k));
    snprintf(t->token, sizeof t->token, "%s", cli_safe(ek_key_token_label(k)));
    check_cert(t, k, warn_days, now);
    check_attrs(t, k);
    if (t->status == CHECK_INSECURE)
        goto out; /* no PIN for a key that is refused anyway */
    if (login || token) {
        r = ek_key_login(k);
        t->login = r == EK_OK ? STEP_OK : STEP_FAILED;
        if (r != EK_OK) {
            snprintf(t->login_msg, sizeof t->login_msg, "%s",
                     ek_ctx_errmsg(t->ctx));
            raise_status(t, CHECK_MISSING, "%s", t->login_msg);
            goto out;
        }
        check_attrs(t, k);
        if (t->status == CHECK_INSECURE)
            goto out;
    }
    if (!token)
        goto out;
    if (t->cert_state != CERT_VALID && t->cert_state != CERT_EXPIRING) {
        snprintf(t->exchange_msg, sizeof t->exchange_msg,
                 "not tried: the certificate cannot be used");
        goto out;
    }
    memset(&p, 0, sizeof p);
    cli_sign_assertion(&t->s, &p.assertion);
    p.scope = t->s.val[CLI_SF_SCOPE];
    p.resource = t->s.resource;
    p.ca_file = t->s.val[CLI_SF_CA_FILE];
    p.timeout = t->s.timeout;
    p.max_wait = t->s.max_wait;
    r = ek_access_token_acquire(t->ctx, k, &p, &at);
    t->exchange = r == EK_OK ? STEP_OK : STEP_FAILED;
    if (r != EK_OK) {
        snprintf(t->exchange_msg, sizeof t->exchange_msg, "%s",
                 ek_ctx_errmsg(t->ctx));
        raise_status(t, r == EK_ERR_CERT ? CHECK_CERT : CHECK_EXCHANGE, "%s",
                     t->exchange_msg);
    } else {
        snprintf(t->exchange_msg, sizeof t->exchange_msg,
                 "an access token for %s, valid %lld s",
                 ek_access_token_scope(at),
                 (long long)ek_access_token_expires_in(at));
    }
    check_attrs(t, k); /* the signature read them, if nothing did */
out:
    ek_access_token_free(&at);
    ek_key_free(&k);
}

/* ------------------------------------------------------------ output */

/* Writes s as a Prometheus label value: \, " and newline escaped. */
static void
prom_label(FILE *f, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\')
            fputs("\\\\", f);
        else if (*s == '"')
            fputs("\\\"", f);
        else if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
}

static void
prom_labels(FILE *f, const struct target *t)
{
    fputs("{profile=\"", f);
    prom_label(f, t->profile != NULL ? t->profile : "");
    fputs("\",key=\"", f);
    prom_label(f, t->key);
    fputs("\",token=\"", f);
    prom_label(f, t->token);
    fputs("\"}", f);
}

/* One metric family: HELP, TYPE, and a sample per target that has it. */
static void
prom_family(FILE *f, const char *name, const char *help, struct target *ts,
            size_t n, int (*value)(const struct target *, double *))
{
    double v;
    size_t i;

    fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
    for (i = 0; i < n; i++) {
        if (!value(&ts[i], &v))
            continue;
        fputs(name, f);
        prom_labels(f, &ts[i]);
        fprintf(f, " %.17g\n", v);
    }
}

static int
v_status(const struct target *t, double *v)
{
    *v = t->status;
    return 1;
}
static int
v_found(const struct target *t, double *v)
{
    *v = t->key_found;
    return 1;
}
static int
v_not_after(const struct target *t, double *v)
{
    *v = (double)t->not_after;
    return t->key_found && t->cert_state >= 0;
}
static int
v_not_before(const struct target *t, double *v)
{
    *v = (double)t->not_before;
    return t->key_found && t->cert_state >= 0;
}
static int
v_cert_valid(const struct target *t, double *v)
{
    *v = (t->cert_state == CERT_VALID || t->cert_state == CERT_EXPIRING) &&
         t->matches;
    return t->key_found;
}
static int
v_non_exportable(const struct target *t, double *v)
{
    *v = t->verdict == EK_VERDICT_NON_EXPORTABLE;
    return t->attrs_known;
}
static int
v_extractable(const struct target *t, double *v)
{
    *v = t->verdict == EK_VERDICT_EXTRACTABLE;
    return t->attrs_known;
}
static int
v_login(const struct target *t, double *v)
{
    *v = t->login == STEP_OK;
    return t->login != STEP_NOT_RUN;
}
static int
v_exchange(const struct target *t, double *v)
{
    *v = t->exchange == STEP_OK;
    return t->exchange != STEP_NOT_RUN;
}

static void
out_prom(FILE *f, struct target *ts, size_t n, long long now,
         unsigned warn_days)
{
    prom_family(f, "entrakey_check_status",
                "Result of entrakey check per key: 0 ok, 10 certificate "
                "expires within the warning days, 11 token exchange failed, "
                "12 certificate expired or unusable, 13 token or key missing "
                "or unusable, 14 key can leave the token.",
                ts, n, v_status);
    prom_family(f, "entrakey_key_present",
                "1 when the key's token and key were found.", ts, n, v_found);
    prom_family(f, "entrakey_cert_not_after_timestamp_seconds",
                "The notAfter of the key's certificate on the token, in "
                "seconds since the epoch.",
                ts, n, v_not_after);
    prom_family(f, "entrakey_cert_not_before_timestamp_seconds",
                "The notBefore of the key's certificate on the token, in "
                "seconds since the epoch.",
                ts, n, v_not_before);
    prom_family(f, "entrakey_cert_valid",
                "1 when the key's certificate is within its validity and "
                "holds the key's public key.",
                ts, n, v_cert_valid);
    prom_family(f, "entrakey_key_non_exportable",
                "1 when the token reports all five non-exportability "
                "attributes as they should be (absent until a login shows "
                "them).",
                ts, n, v_non_exportable);
    prom_family(f, "entrakey_key_extractable",
                "1 when the key can leave the token (CKA_EXTRACTABLE=TRUE "
                "or CKA_SENSITIVE=FALSE).",
                ts, n, v_extractable);
    prom_family(f, "entrakey_login_success",
                "1 when the login to the key's token succeeded (--login).", ts,
                n, v_login);
    prom_family(f, "entrakey_token_exchange_success",
                "1 when an access token was obtained with the key (--token).",
                ts, n, v_exchange);
    fprintf(f,
            "# HELP entrakey_check_warn_days The --warn-days of the check.\n"
            "# TYPE entrakey_check_warn_days gauge\n"
            "entrakey_check_warn_days %u\n"
            "# HELP entrakey_check_timestamp_seconds When the check ran, in "
            "seconds since the epoch.\n"
            "# TYPE entrakey_check_timestamp_seconds gauge\n"
            "entrakey_check_timestamp_seconds %lld\n",
            warn_days, now);
}

static cJSON *
json_target(const struct target *t)
{
    cJSON *o = cJSON_CreateObject(), *c;
    char nb[32], na[32];

    if (o == NULL)
        return NULL;
    if ((t->profile != NULL ? cJSON_AddStringToObject(o, "profile", t->profile)
                            : cJSON_AddNullToObject(o, "profile")) == NULL ||
        cJSON_AddStringToObject(o, "key", t->key) == NULL ||
        cJSON_AddStringToObject(o, "token", t->token) == NULL ||
        cJSON_AddNumberToObject(o, "status", t->status) == NULL ||
        cJSON_AddStringToObject(o, "status_text", status_text(t->status)) ==
            NULL ||
        (t->problem[0] != '\0'
             ? cJSON_AddStringToObject(o, "problem", t->problem)
             : cJSON_AddNullToObject(o, "problem")) == NULL ||
        cJSON_AddBoolToObject(o, "key_present", t->key_found) == NULL ||
        cJSON_AddStringToObject(o, "key_verdict", verdict_word(t)) == NULL ||
        cJSON_AddStringToObject(o, "login", step_word(t->login)) == NULL ||
        cJSON_AddStringToObject(o, "token_exchange", step_word(t->exchange)) ==
            NULL)
        goto fail;
    if (t->cert_state < 0) {
        if (cJSON_AddNullToObject(o, "certificate") == NULL)
            goto fail;
        return o;
    }
    cli_iso8601(t->not_before, nb, sizeof nb);
    cli_iso8601(t->not_after, na, sizeof na);
    if ((c = cJSON_AddObjectToObject(o, "certificate")) == NULL ||
        cJSON_AddStringToObject(c, "subject", t->subject) == NULL ||
        cJSON_AddStringToObject(c, "thumbprint", t->thumbprint) == NULL ||
        cJSON_AddStringToObject(c, "not_before", nb) == NULL ||
        cJSON_AddStringToObject(c, "not_after", na) == NULL ||
        cJSON_AddNumberToObject(c, "days_left", (double)t->days_left) == NULL ||
        cJSON_AddStringToObject(c, "state", cert_state_word[t->cert_state]) ==
            NULL ||
        cJSON_AddBoolToObject(c, "matches_key", t->matches) == NULL)
        goto fail;
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

static int
out_json(FILE *f, struct target *ts, size_t n, int worst, long long now,
         unsigned warn_days)
{
    cJSON *doc = cJSON_CreateObject(), *arr, *o;
    char when[32], *text = NULL;
    size_t i;

    cli_iso8601(now, when, sizeof when);
    if (doc == NULL || cJSON_AddNumberToObject(doc, "status", worst) == NULL ||
        cJSON_AddStringToObject(doc, "status_text", status_text(worst)) ==
            NULL ||
        cJSON_AddStringToObject(doc, "checked_at", when) == NULL ||
        cJSON_AddNumberToObject(doc, "warn_days", warn_days) == NULL ||
        (arr = cJSON_AddArrayToObject(doc, "keys")) == NULL)
        goto fail;
    for (i = 0; i < n; i++) {
        if ((o = json_target(&ts[i])) == NULL)
            goto fail;
        cJSON_AddItemToArray(arr, o);
    }
    if ((text = cJSON_Print(doc)) == NULL)
        goto fail;
    fprintf(f, "%s\n", text);
    free(text);
    cJSON_Delete(doc);
    return 0;
fail:
    cJSON_Delete(doc);
    return -1;
}

static void
out_text(FILE *f, struct target *ts, size_t n, int worst)
{
    const struct target *t;
    char na[32];
    size_t i;

    for (i = 0; i < n; i++) {
        t = &ts[i];
        if (i > 0)
            fputc('\n', f);
        fprintf(f, "key %s", t->key);
        if (t->profile != NULL)
            fprintf(f, " (profile %s)", cli_safe(t->profile));
        fprintf(f, "\n  status:       %d %s\n", t->status,
                status_text(t->status));
        if (t->problem[0] != '\0')
            fprintf(f, "  problem:      %s\n", t->problem);
        if (!t->key_found)
            continue;
        fprintf(f, "  token:        '%s'\n", t->token);
        if (t->cert_state >= 0) {
            cli_iso8601(t->not_after, na, sizeof na);
            fprintf(f, "  certificate:  %s, thumbprint %s\n", t->subject,
                    t->thumbprint);
            fprintf(f, "  valid until:  %s (%lld day%s left), %s%s\n", na,
                    t->days_left, t->days_left == 1 ? "" : "s",
                    cert_state_word[t->cert_state],
                    t->matches ? "" : ", NOT the key's");
        } else {
            fprintf(f, "  certificate:  none\n");
        }
        fprintf(f, "  key:          %s%s\n", verdict_word(t),
                t->attrs_known ? ""
                               : " (the token shows the attributes "
                                 "after a login: --login)");
        fprintf(f, "  login:        %s\n",
                t->login == STEP_NOT_RUN ? "not tried (--login)"
                                         : step_word(t->login));
        if (t->exchange == STEP_NOT_RUN)
            fprintf(f, "  exchange:     %s\n",
                    t->exchange_msg[0] != '\0' ? t->exchange_msg
                                               : "not tried (--token)");
        else
            fprintf(f, "  exchange:     %s: %s\n", step_word(t->exchange),
                    t->exchange_msg);
    }
    if (n > 1)
        fprintf(f, "\n%zu keys checked; the worst: %d %s\n", n, worst,
                status_text(worst));
}

/* Writes data to path atomically: a temporary file beside it (a name the
 * textfile collector ignores), fsync, rename; mode 0644. 0 or an exit
 * code after printing why. */
static int
write_atomic(const char *path, const char *data, size_t len)
{
    char tmp[PATH_MAX];
    const char *slash = strrchr(path, '/');
    int fd, e;

    if (slash != NULL)
        snprintf(tmp, sizeof tmp, "%.*s/.%s.XXXXXX", (int)(slash - path), path,
                 slash + 1);
    else
        snprintf(tmp, sizeof tmp, ".%s.XXXXXX", path);
    if ((fd = mkstemp(tmp)) < 0) {
        fprintf(stderr,
                "entrakey: cannot write '%s': %s; nothing was "
                "changed\n",
                path, strerror(errno));
        return CLI_EXIT_FILE;
    }
    if (fchmod(fd, 0644) != 0 || cli_write_all(fd, data, len) != 0 ||
        fsync(fd) != 0) {
        e = errno;
        close(fd);
        unlink(tmp);
        fprintf(stderr,
                "entrakey: cannot write '%s': %s; nothing was "
                "changed\n",
                path, strerror(e));
        return CLI_EXIT_FILE;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        e = errno;
        unlink(tmp);
        fprintf(stderr,
                "entrakey: cannot write '%s': %s; nothing was "
                "changed\n",
                path, strerror(e));
        return CLI_EXIT_FILE;
    }
    return 0;
}

/* ------------------------------------------------------------ command */

int
cmd_check(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        CLI_SIGN_LONGOPTS,
        {"warn-days", required_argument, NULL, OPT_WARN_DAYS},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"out", required_argument, NULL, OPT_OUT},
        {"login", no_argument, NULL, OPT_LOGIN},
        {"token", no_argument, NULL, OPT_TOKEN},
        {NULL, 0, NULL, 0},
    };
    struct cli_sign base;
    struct target *ts = NULL;
    struct ek_ctx *main_ctx = cli->ctx;
    const char *module = NULL, *pin_source = NULL, *out = NULL;
    const char **profiles = NULL;
    size_t nprofiles = 0, nkeys = 0, n = 0, i;
    unsigned warn_days = WARN_DAYS_DEFAULT;
    enum fmt fmt = FMT_TEXT;
    int login = 0, token = 0, c, rc = CLI_EXIT_INTERNAL, worst = 0, ofmt = 0;
    long long now;
    char *buf = NULL;
    size_t buflen = 0;
    FILE *mem = NULL;

    cli_sign_init(&base, "check");
    if ((profiles = calloc((size_t)argc + 1, sizeof *profiles)) == NULL) {
        fprintf(stderr, "entrakey: out of memory\n");
        return CLI_EXIT_INTERNAL;
    }
    while ((c = cli_getopt(argc, argv, CLI_COMMON_SHORTOPTS, longopts,
                           base.cmd)) != -1) {
        switch (c) {
        case OPT_WARN_DAYS:
            if (cli_parse_uint(optarg, 0, WARN_DAYS_MAX, &warn_days) != 0) {
                rc = cli_usage(base.cmd, NULL,
                               "--warn-days '%s' is not a number of days "
                               "from 0 to %u",
                               optarg, WARN_DAYS_MAX);
                goto out;
            }
            continue;
        case OPT_FORMAT:
            if (strcmp(optarg, "text") == 0)
                fmt = FMT_TEXT;
            else if (strcmp(optarg, "json") == 0)
                fmt = FMT_JSON;
            else if (strcmp(optarg, "prometheus") == 0)
                fmt = FMT_PROM;
            else {
                rc = cli_usage(base.cmd, NULL,
                               "format '%s' is not one of text, json, "
                               "prometheus",
                               optarg);
                goto out;
            }
            ofmt = 1;
            continue;
        case OPT_OUT:
            out = optarg;
            continue;
        case OPT_LOGIN:
            login = 1;
            continue;
        case OPT_TOKEN:
            token = 1;
            continue;
        case OPT_S_PROFILE:
            profiles[nprofiles++] = optarg;
            continue;
        case 'h':
            fputs(usage_check, stdout);
            rc = CLI_EXIT_OK;
            goto out;
        default:
            break;
        }
        if ((rc = cli_sign_opt(&base, c, optarg)) < 0)
            rc = cli_common_opt(cli, c, optarg, base.cmd, usage_check);
        if (rc < 0)
            rc = cli_usage(base.cmd, NULL, "unexpected option");
        if (rc != 0)
            goto out;
    }
    if (cli->json) {
        if (ofmt && fmt != FMT_JSON) {
            rc = cli_usage(base.cmd, NULL, "--json and --format disagree");
            goto out;
        }
        fmt = FMT_JSON;
    }
    if (base.agent_mode > 0 || base.cert_file != NULL) {
        rc = cli_usage(base.cmd, NULL,
                       "check signs with the key and the certificate on "
                       "the token itself: it takes neither --agent nor "
                       "--cert");
        goto out;
    }
    base.agent_mode = -1;
    base.no_app = !token;
    nkeys = (size_t)(argc - optind);
    if (nkeys > 0 && nprofiles > 0) {
        rc = cli_usage(base.cmd, NULL,
                       "give KEY-URIs or --profile NAMEs, not both");
        goto out;
    }
    n = nkeys + nprofiles;
    if ((ts = calloc(n > 0 ? n : 1, sizeof *ts)) == NULL) {
        fprintf(stderr, "entrakey: out of memory\n");
        goto out;
    }
    if (n == 0)
        n = 1; /* $ENTRAKEY_PROFILE, else the default profile */
    for (i = 0; i < n; i++) {
        ts[i].cert_state = -1;
        ts[i].s = base;
        if (i < nkeys)
            ts[i].s.val[CLI_SF_KEY] = argv[optind + (int)i];
        else if (nprofiles > 0)
            ts[i].s.profile = profiles[i];
    }
    /* every target resolved before anything is checked: a usage error is
     * exit 2 with nothing touched */
    module = cli->module;
    pin_source = cli->pin_source;
    for (i = 0; i < n; i++) {
        if (ek_ctx_new(&ts[i].ctx) != EK_OK) {
            fprintf(stderr, "entrakey: out of memory\n");
            goto out;
        }
        /* no PIN without --login or --token: no source, and a prompt
         * that never asks (ek_key_open logs in to look for a private key
         * that has no public half) */
        ek_ctx_set_pin_prompt(
            ts[i].ctx, login || token ? cli_prompt_pin : no_prompt, NULL);
        cli->ctx = ts[i].ctx;
        cli->module = module;
        cli->pin_source = pin_source;
        if ((rc = cli_sign_resolve(cli, &ts[i].s)) != 0)
            goto out;
        /* a KEY-URI is labelled by itself, not by the profile that
         * gave its tenant */
        ts[i].profile = i < nkeys ? NULL : ts[i].s.profile;
        ts[i].module = cli->module;
        ts[i].pin_source = login || token ? cli->pin_source : NULL;
    }
    now = (long long)time(NULL);
    for (i = 0; i < n; i++) {
        check_one(cli, &ts[i], warn_days, login, token, now);
        if (ts[i].status > worst)
            worst = ts[i].status;
        /* the sentences on stderr too (the journal), except where the
         * text report on a terminal holds them already */
        if (ts[i].problem[0] != '\0' && (fmt != FMT_TEXT || out != NULL))
            fprintf(stderr, "entrakey: %s: %s\n", ts[i].key, ts[i].problem);
    }
    if ((mem = open_memstream(&buf, &buflen)) == NULL) {
        fprintf(stderr, "entrakey: out of memory\n");
        rc = CLI_EXIT_INTERNAL;
        goto out;
    }
    if (fmt == FMT_PROM)
        out_prom(mem, ts, n, now, warn_days);
    else if (fmt == FMT_JSON)
        rc = out_json(mem, ts, n, worst, now, warn_days);
    else
        out_text(mem, ts, n, worst);
    if (fclose(mem) != 0 || (fmt == FMT_JSON && rc != 0)) {
        mem = NULL;
        fprintf(stderr, "entrakey: out of memory\n");
        rc = CLI_EXIT_INTERNAL;
        goto out;
    }
    mem = NULL;
    if (out != NULL)
        rc = write_atomic(out, buf, buflen);
    else
        rc = fwrite(buf, 1, buflen, stdout) == buflen ? 0 : CLI_EXIT_FILE;
    if (rc == 0)
        rc = worst;
out:
    if (mem != NULL)
        fclose(mem);
    free(buf);
    for (i = 0; ts != NULL && i < n; i++) {
        cli_sign_free(&ts[i].s);
        ek_ctx_free(&ts[i].ctx);
    }
    cli->ctx = main_ctx;
    free(ts);
    free(profiles);
    return rc;
}
