/* cmd_rotate.c: `entrakey rotate`: a new key and certificate registered on
 * the app through Microsoft Graph's addKey with a proof signed on the
 * token, proven to work, the profiles switched, and the old key removed
 * (docs/rotation.md). Every stop after addKey says the state and the
 * commands that finish or undo it. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define DAYS_MAX 36500u
#define WAIT_DEFAULT 300u
#define WAIT_MAX 3600u
#define BACKOFF_MAX 30u
#define CMDLINE_MAX 4096

static const char usage_rotate[] =
    "usage: entrakey rotate [KEY-URI] --tenant T --client-id C\n"
    "           [--app-object-id OID] [--new-key NEW-KEY-URI |\n"
    "           --new-token TOKEN-URI] [--label L] [--days N] [--subject DN]\n"
    "           [--out FILE.cer] [--remove-old[=AFTER]] [--wait SECONDS]\n"
    "           [--dry-run] [options]\n"
    "       entrakey rotate KEY-URI ... --new-key NEW-KEY-URI --added\n"
    "       entrakey rotate KEY-URI ... --remove-key KEYID\n"
    "\n"
    "Rotates the app's key through Microsoft Graph (addKey/removeKey), with\n"
    "a proof of possession signed on the token by the current key; no Graph\n"
    "permission is needed (docs/rotation.md):\n"
    "  1. the current key (KEY-URI) gets a Graph token: it is registered;\n"
    "  2. a new key and its certificate are made on the token (as cert\n"
    "     create), and the .cer written;\n"
    "  3. a proof is signed with the current key; 4. addKey;\n"
    "  5. the new key gets a token, retried up to --wait seconds while\n"
    "     Entra ID starts honouring it;\n"
    "  6. the profiles that named the old key are switched to the new one;\n"
    "  7. with --remove-old, removeKey for the old key (proof signed by the\n"
    "     new key), now or, with AFTER, by a command printed for later.\n"
    "Any stop after step 4 says the app's state and the commands that\n"
    "finish or undo it.\n"
    "\n"
    "  --app-object-id OID   the application's Object ID (its Overview page);\n"
    "                        looked up through Graph when not given (needs\n"
    "                        Application.Read.All)\n"
    "  --new-key URI         use this existing key (its certificate, or a new\n"
    "                        one) instead of generating one\n"
    "  --new-token URI       generate the new key on this token (default: the\n"
    "                        current key's token)\n"
    "  --label L             the new key's label (default: the current\n"
    "                        label and today's date)\n"
    "  --subject DN          the new certificate's subject (default: the\n"
    "                        current one's)\n"
    "  --days N              its validity in days (default 365)\n"
    "  --out FILE.cer        where the new certificate goes (default:\n"
    "                        LABEL.cer here)\n"
    "  --remove-old[=AFTER]  remove the old key once the new one works; with\n"
    "                        AFTER (e.g. 7d, 12h, 30m, 90s; a bare number is\n"
    "                        days) print the command to run after that grace\n"
    "  --old-key-id KEYID    the old credential's keyId (the portal's\n"
    "                        Certificate ID), when the app cannot be read\n"
    "  --wait SECONDS        how long to wait for the new key to be honoured,\n"
    "                        1-3600 (default 300)\n"
    "  --added               the new key (--new-key) is already added: go on\n"
    "                        from step 5\n"
    "  --remove-key KEYID    only removeKey KEYID, with a proof signed by\n"
    "                        KEY-URI's key (to finish after a grace period,\n"
    "                        or to undo an addKey)\n"
    "  --graph-host URL      Graph's https://host[:port] (default: the\n"
    "                        cloud's)\n"
    "  --dry-run             sign nothing, post nothing: say what would be "
    "done\n"
    "  --tenant, --client-id, --cloud, --authority-host, --ca-file,\n"
    "  --timeout, --max-wait, --profile, --config, --resource, --scope: as\n"
    "  for entrakey token (the new key's check asks for --resource/--scope)\n"
    "\n"
    "Exit codes: 0 ok, 2 usage, 3 token, 4 PIN, 5 Entra ID or Graph refused,\n"
    "6 network or throttling, 7 file, 8 exists, 9 certificate.\n";

enum {
    OPT_APP_OBJECT_ID = OPT_CMD_BASE,
    OPT_NEW_KEY,
    OPT_NEW_TOKEN,
    OPT_LABEL,
    OPT_DAYS,
    OPT_SUBJECT,
    OPT_OUT,
    OPT_REMOVE_OLD,
    OPT_OLD_KEY_ID,
    OPT_WAIT,
    OPT_ADDED,
    OPT_REMOVE_KEY,
    OPT_GRAPH_HOST,
    OPT_DRY_RUN,
};

struct rot {
    struct cli *cli;
    struct cli_sign s;
    const char *object_id; /* given, or the lookup's */
    const char *new_key_uri, *new_token, *label, *subject, *out;
    const char *old_key_id, *remove_key, *graph_host;
    unsigned days, wait;
    int remove_old;    /* --remove-old given */
    long remove_after; /* its grace, seconds; 0 now */
    int added, dry_run;
    struct ek_graph_params gp;
    /* made on the way */
    struct ek_key *cur, *newk;
    struct ek_cert *cur_cert, *new_cert;
    struct ek_access_token *graph_tok;
    struct ek_graph_app *app;
    char *new_key_id;
    char *key_given; /* the current key's URI, owned (see step_profiles) */
    char label_buf[256], out_buf[512], token_buf[1024];
    int key_made; /* the new key was generated in this run */
};

/* ------------------------------------------------------------- helpers */

/* Appends ' s' to buf, single-quoted for sh when it needs it. */
static void
add_arg(char *buf, size_t len, const char *s)
{
    size_t n = strlen(buf);
    const char *p;
    int plain = s[0] != '\0' &&
                strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVW"
                          "XYZ0123456789-_./:=@,+%") == strlen(s);

    if (n + 2 >= len)
        return;
    buf[n++] = ' ';
    if (plain) {
        snprintf(buf + n, len - n, "%s", s);
        return;
    }
    buf[n++] = '\'';
    for (p = s; *p != '\0' && n + 5 < len; p++) {
        if (*p == '\'') {
            memcpy(buf + n, "'\\''", 4);
            n += 4;
        } else {
            buf[n++] = *p;
        }
    }
    buf[n++] = '\'';
    buf[n] = '\0';
}

/* "entrakey rotate KEY --tenant … --app-object-id …" for key, with the
 * options that say where the app is. */
static const char *
base_cmd(const struct rot *o, const char *key, char *buf, size_t len)
{
    const struct cli_sign *s = &o->s;

    snprintf(buf, len, "entrakey rotate");
    add_arg(buf, len, key);
    if (s->profile_named && s->profile != NULL) {
        strncat(buf, " --profile", len - strlen(buf) - 1);
        add_arg(buf, len, s->profile);
    }
    strncat(buf, " --tenant", len - strlen(buf) - 1);
    add_arg(buf, len, s->val[CLI_SF_TENANT]);
    strncat(buf, " --client-id", len - strlen(buf) - 1);
    add_arg(buf, len, s->val[CLI_SF_CLIENT_ID]);
    if (o->object_id != NULL) {
        strncat(buf, " --app-object-id", len - strlen(buf) - 1);
        add_arg(buf, len, o->object_id);
    }
    if (s->val[CLI_SF_CLOUD] != NULL) {
        strncat(buf, " --cloud", len - strlen(buf) - 1);
        add_arg(buf, len, s->val[CLI_SF_CLOUD]);
    }
    if (s->val[CLI_SF_AUTHORITY_HOST] != NULL) {
        strncat(buf, " --authority-host", len - strlen(buf) - 1);
        add_arg(buf, len, s->val[CLI_SF_AUTHORITY_HOST]);
    }
    if (o->graph_host != NULL) {
        strncat(buf, " --graph-host", len - strlen(buf) - 1);
        add_arg(buf, len, o->graph_host);
    }
    if (s->val[CLI_SF_CA_FILE] != NULL) {
        strncat(buf, " --ca-file", len - strlen(buf) - 1);
        add_arg(buf, len, s->val[CLI_SF_CA_FILE]);
    }
    if (s->val[CLI_SF_SCOPE] != NULL) {
        strncat(buf, " --scope", len - strlen(buf) - 1);
        add_arg(buf, len, s->val[CLI_SF_SCOPE]);
    } else if (s->val[CLI_SF_RESOURCE] != NULL) {
        strncat(buf, " --resource", len - strlen(buf) - 1);
        add_arg(buf, len, s->val[CLI_SF_RESOURCE]);
    }
    if (o->cli->module != NULL && s->origin[CLI_SF_MODULE] == CLI_FROM_FLAG) {
        strncat(buf, " --module", len - strlen(buf) - 1);
        add_arg(buf, len, o->cli->module);
    }
    return buf;
}

/* The token part of a key URI: its id, object and type dropped. */
static void
token_uri_of(const char *key_uri, char *out, size_t len)
{
    const char *p = key_uri + strlen("pkcs11:"), *end, *q;
    size_t n;

    snprintf(out, len, "pkcs11:");
    q = strchr(p, '?');
    while (*p != '\0' && (q == NULL || p < q)) {
        end = p + strcspn(p, ";?");
        n = (size_t)(end - p);
        if (strncmp(p, "id=", 3) != 0 && strncmp(p, "object=", 7) != 0 &&
            strncmp(p, "type=", 5) != 0 && n > 0 && strlen(out) + n + 2 < len)
            snprintf(out + strlen(out), len - strlen(out), "%s%.*s",
                     out[strlen(out) - 1] != ':' ? ";" : "", (int)n, p);
        p = *end == ';' ? end + 1 : end;
    }
    if (q != NULL && strlen(out) + strlen(q) < len)
        snprintf(out + strlen(out), len - strlen(out), "%s", q);
}

/* --remove-old=AFTER: N[smhd], a bare number of days. */
static int
parse_after(const char *s, long *secs)
{
    char *end = NULL;
    long n, unit = 86400;

    errno = 0;
    n = strtol(s, &end, 10);
    if (errno != 0 || end == s || n < 0 || n > 3650L * 86400)
        return -1;
    if (*end != '\0') {
        if (end[1] != '\0')
            return -1;
        switch (*end) {
        case 's':
            unit = 1;
            break;
        case 'm':
            unit = 60;
            break;
        case 'h':
            unit = 3600;
            break;
        case 'd':
            unit = 86400;
            break;
        default:
            return -1;
        }
    }
    if (n > 3650L * 86400 / unit)
        return -1;
    *secs = n * unit;
    return 0;
}

static void
pause_s(unsigned s)
{
    struct timespec ts = {(time_t)s, 0}, rem;

    while (nanosleep(&ts, &rem) != 0 && errno == EINTR)
        ts = rem;
}

/* An access token with key k for the resource (graph: Microsoft Graph,
 * else the command's resource or scope). */
static ek_err
get_token(struct rot *o, struct ek_key *k, int graph,
          struct ek_access_token **atp)
{
    struct ek_access_token_params p;

    memset(&p, 0, sizeof p);
    cli_sign_assertion(&o->s, &p.assertion);
    p.ca_file = o->s.val[CLI_SF_CA_FILE];
    p.timeout = o->s.timeout;
    p.max_wait = o->s.max_wait;
    if (graph) {
        p.resource = EK_RESOURCE_GRAPH;
    } else {
        p.scope = o->s.val[CLI_SF_SCOPE];
        p.resource = o->s.resource;
    }
    return ek_access_token_acquire(o->cli->ctx, k, &p, atp);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void
say(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

/* -------------------------------------------------------- stated stops */

/* After addKey: the error, the state, and the ready commands. */
static int
stop_after_add(struct rot *o, ek_err r, const char *step)
{
    char fin[CMDLINE_MAX], undo[CMDLINE_MAX];
    int rc = cli_fail(o->cli, r);

    base_cmd(o, o->s.val[CLI_SF_KEY], fin, sizeof fin);
    strncat(fin, " --new-key", sizeof fin - strlen(fin) - 1);
    add_arg(fin, sizeof fin, ek_key_uri(o->newk));
    strncat(fin, " --out", sizeof fin - strlen(fin) - 1);
    add_arg(fin, sizeof fin, o->out);
    strncat(fin, " --added", sizeof fin - strlen(fin) - 1);
    if (o->remove_old) {
        strncat(fin, " --remove-old", sizeof fin - strlen(fin) - 1);
        if (o->old_key_id != NULL) {
            strncat(fin, " --old-key-id", sizeof fin - strlen(fin) - 1);
            add_arg(fin, sizeof fin, o->old_key_id);
        }
    }
    fprintf(stderr,
            "entrakey: rotate stopped at %s. State: BOTH keys are registered "
            "on the app: the old one (thumbprint %s%s%s) still works and "
            "nothing else was changed; the new one (%s, thumbprint %s%s%s) is "
            "on the token and in %s.\n"
            "entrakey: to finish (check the new key, switch the profiles%s):\n"
            "  %s\n",
            step, ek_cert_thumbprint(o->cur_cert),
            o->old_key_id != NULL ? ", keyId " : "",
            o->old_key_id != NULL ? o->old_key_id : "", ek_key_uri(o->newk),
            ek_cert_thumbprint(o->new_cert),
            o->new_key_id != NULL ? ", keyId " : "",
            o->new_key_id != NULL ? o->new_key_id : "", o->out,
            o->remove_old ? ", remove the old key" : "", fin);
    if (o->new_key_id != NULL) {
        base_cmd(o, o->s.val[CLI_SF_KEY], undo, sizeof undo);
        strncat(undo, " --remove-key", sizeof undo - strlen(undo) - 1);
        add_arg(undo, sizeof undo, o->new_key_id);
        fprintf(stderr, "entrakey: to undo (remove the new key again):\n  %s\n",
                undo);
    } else {
        fprintf(stderr,
                "entrakey: to undo, remove the certificate with thumbprint "
                "%s under Certificates & secrets in the portal\n",
                ek_cert_thumbprint(o->new_cert));
    }
    return rc;
}

/* ------------------------------------------------------------- steps */

/* Step 1: the current key and certificate, registered (a Graph token). */
static int
step_current(struct rot *o)
{
    struct cli *cli = o->cli;
    char until[32];
    long long days;
    ek_err r;

    if ((r = ek_key_open(cli->ctx, o->s.val[CLI_SF_KEY], &o->cur)) != EK_OK)
        return cli_fail_uri(cli, r, o->s.val[CLI_SF_KEY]);
    if ((r = ek_cert_from_key(cli->ctx, o->cur, &o->cur_cert)) != EK_OK) {
        fprintf(stderr,
                "entrakey: %s\nentrakey: rotate proves possession "
                "with the certificate stored with the current key; nothing "
                "was changed\n",
                ek_ctx_errmsg(cli->ctx));
        return cli_exit_code(r);
    }
    cli_iso8601((long long)ek_cert_not_after(o->cur_cert), until, sizeof until);
    days = ((long long)ek_cert_not_after(o->cur_cert) - (long long)time(NULL)) /
           86400;
    if ((long long)ek_cert_not_after(o->cur_cert) < (long long)time(NULL)) {
        fprintf(stderr,
                "entrakey: the current certificate %s (thumbprint %s) "
                "expired on %s: Graph's addKey needs a proof signed by a "
                "valid registered certificate, so this app cannot rotate "
                "itself. Upload a new certificate in the portal instead "
                "(docs/rotation.md, \"All certificates expired\"); nothing "
                "was changed\n",
                ek_cert_subject(o->cur_cert), ek_cert_thumbprint(o->cur_cert),
                until);
        return CLI_EXIT_CERT;
    }
    if (!ek_cert_matches_key(o->cur_cert, o->cur)) {
        fprintf(stderr,
                "entrakey: the certificate stored with %s is not the "
                "key's (its public key differs); nothing was changed\n",
                ek_key_uri(o->cur));
        return CLI_EXIT_CERT;
    }
    say("current:      %s\n", ek_key_uri(o->cur));
    say("              certificate %s, thumbprint %s, valid until %s (%lld "
        "day%s left)\n",
        ek_cert_subject(o->cur_cert), ek_cert_thumbprint(o->cur_cert), until,
        days, days == 1 ? "" : "s");
    if (o->dry_run)
        return 0;
    if ((r = get_token(o, o->cur, 1, &o->graph_tok)) != EK_OK) {
        int rc = cli_fail(cli, r);

        cli_sign_after_error(cli, &o->s, r);
        fprintf(stderr, "entrakey: step 1 failed: the current key could not "
                        "get a Microsoft Graph token, so it cannot be proven "
                        "registered; nothing was changed\n");
        return rc;
    }
    say("step 1:       the current key is registered: Entra ID issued a "
        "Microsoft Graph token for it\n");
    return 0;
}

/* The object id and the old keyId, from Graph when they are not given. */
static int
step_lookup(struct rot *o)
{
    struct cli *cli = o->cli;
    const char *found;
    ek_err r;
    int need_oid = o->object_id == NULL;
    int need_old = o->remove_old && o->old_key_id == NULL;

    if (!need_oid && !need_old)
        return 0;
    if (o->dry_run) {
        say("would:        look the app up in Graph (GET "
            "/v1.0/applications(appId='%s')) for %s\n",
            o->s.val[CLI_SF_CLIENT_ID],
            need_oid && need_old ? "its object id and the old keyId"
            : need_oid           ? "its object id"
                                 : "the old credential's keyId");
        return 0;
    }
    if ((r = ek_graph_app_get(cli->ctx, &o->gp, o->graph_tok,
                              o->s.val[CLI_SF_CLIENT_ID], &o->app)) != EK_OK) {
        int rc = cli_fail(cli, r);

        if (need_oid)
            fprintf(stderr,
                    "entrakey: the application's object id is on its "
                    "Overview page in the portal (Object ID, not the "
                    "Application (client) ID): give --app-object-id OID. "
                    "The lookup needs the Application.Read.All "
                    "permission; addKey and removeKey need none\n");
        else
            fprintf(stderr,
                    "entrakey: --remove-old needs the old credential's "
                    "keyId: give --old-key-id KEYID (the portal's "
                    "Certificate ID for thumbprint %s), or grant "
                    "Application.Read.All to let it be looked up\n",
                    ek_cert_thumbprint(o->cur_cert));
        fprintf(stderr, "entrakey: nothing was changed\n");
        return rc;
    }
    if (need_oid) {
        o->object_id = ek_graph_app_object_id(o->app);
        say("lookup:       the application's object id is %s\n", o->object_id);
    }
    found = ek_graph_app_key_for(o->app, o->cur_cert);
    if (!need_old && o->old_key_id == NULL && found != NULL)
        o->old_key_id = found; /* for the removal command printed later */
    if (need_old) {
        if (found == NULL) {
            fprintf(stderr,
                    "entrakey: the app's certificates (%zu) do not include "
                    "the current one (thumbprint %s), though it got a token; "
                    "give --old-key-id KEYID (the portal's Certificate ID); "
                    "nothing was changed\n",
                    ek_graph_app_key_count(o->app),
                    ek_cert_thumbprint(o->cur_cert));
            return CLI_EXIT_ENTRA;
        }
        o->old_key_id = found;
        say("lookup:       the current certificate's keyId is %s\n",
            o->old_key_id);
    }
    return 0;
}

/* Step 2: the new key, its certificate on the token, and the .cer. */
static int
step_new_key(struct rot *o)
{
    struct cli *cli = o->cli;
    struct ek_keygen_params kp;
    struct ek_cert_params cp;
    struct ek_cert *onfile = NULL;
    const unsigned char *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    const char *subject =
        o->subject != NULL ? o->subject : ek_cert_subject(o->cur_cert);
    char today[16];
    time_t now = time(NULL);
    struct tm tm;
    ek_err r;
    int rc;

    if (o->new_key_uri == NULL) {
        token_uri_of(o->new_token != NULL ? o->new_token : ek_key_uri(o->cur),
                     o->token_buf, sizeof o->token_buf);
        if (o->label == NULL) {
            gmtime_r(&now, &tm);
            strftime(today, sizeof today, "%Y%m%d", &tm);
            snprintf(o->label_buf, sizeof o->label_buf, "%s-%s",
                     ek_key_label(o->cur), today);
            o->label = o->label_buf;
        }
    }
    if (o->out == NULL && o->new_key_uri == NULL) {
        if (strchr(o->label, '/') != NULL)
            return cli_usage("rotate", NULL,
                             "the label '%s' is not a file name; "
                             "give --out FILE.cer",
                             o->label);
        snprintf(o->out_buf, sizeof o->out_buf, "%s.cer", o->label);
        o->out = o->out_buf;
    }
    if ((r = ek_dn_check(cli->ctx, subject)) != EK_OK)
        return cli_fail(cli, r);
    if (o->dry_run) {
        if (o->out == NULL)
            o->out = "the key's LABEL.cer";
        if (o->new_key_uri != NULL)
            say("would:        use the key %s (making its certificate if it "
                "has none)\n",
                o->new_key_uri);
        else
            say("would:        generate a key labelled '%s' on %s\n", o->label,
                o->token_buf);
        say("would:        make its certificate %s (%u days) on the token, "
            "write %s\n",
            subject, o->days != 0 ? o->days : 365, o->out);
        return 0;
    }
    if (o->new_key_uri != NULL) {
        if ((r = ek_key_open(cli->ctx, o->new_key_uri, &o->newk)) != EK_OK)
            return cli_fail_uri(cli, r, o->new_key_uri);
        if (ek_cert_from_key(cli->ctx, o->newk, &o->new_cert) == EK_OK &&
            (!ek_cert_matches_key(o->new_cert, o->newk) ||
             ek_cert_not_after(o->new_cert) < (int64_t)now)) {
            fprintf(stderr,
                    "entrakey: the certificate stored with %s is expired or "
                    "not the key's; replace it with entrakey cert create "
                    "--force, or give another key; nothing was changed\n",
                    ek_key_uri(o->newk));
            return CLI_EXIT_CERT;
        }
        if (o->out == NULL) {
            if (strchr(ek_key_label(o->newk), '/') != NULL ||
                ek_key_label(o->newk)[0] == '\0')
                return cli_usage("rotate", NULL,
                                 "the new key's label is not a file name; "
                                 "give --out FILE.cer");
            snprintf(o->out_buf, sizeof o->out_buf, "%s.cer",
                     ek_key_label(o->newk));
            o->out = o->out_buf;
        }
        if (o->new_cert == NULL && o->added) {
            fprintf(stderr,
                    "entrakey: --added, but %s has no certificate on its "
                    "token; nothing was changed\n",
                    ek_key_uri(o->newk));
            return CLI_EXIT_CERT;
        }
    } else {
        memset(&kp, 0, sizeof kp);
        kp.label = o->label;
        kp.bits = ek_key_bits(o->cur) >= 2048 ? ek_key_bits(o->cur) : 2048;
        if (kp.bits != 2048 && kp.bits != 3072 && kp.bits != 4096)
            kp.bits = 2048;
        if ((r = ek_key_generate(cli->ctx, o->token_buf, &kp, &o->newk)) !=
            EK_OK) {
            rc = cli_fail(cli, r);
            fprintf(stderr, "entrakey: step 2 failed: no key was made; "
                            "nothing was changed\n");
            return rc;
        }
        o->key_made = 1;
    }
    if (o->new_cert == NULL) {
        memset(&cp, 0, sizeof cp);
        cp.subject = subject;
        cp.days = o->days;
        cp.sig = EK_ALG_RS256;
        if ((r = ek_cert_create(cli->ctx, o->newk, &cp, &o->new_cert)) !=
            EK_OK) {
            rc = cli_fail(cli, r);
            fprintf(stderr,
                    "entrakey: step 2 failed: the new key %s has no "
                    "certificate; nothing was changed on the app. Try again "
                    "with --new-key '%s'\n",
                    ek_key_uri(o->newk), ek_key_uri(o->newk));
            return rc;
        }
    }
    /* the .cer: written, or already there with the same certificate */
    r = ek_cert_write(cli->ctx, o->new_cert, o->out, EK_FORMAT_DER, 0);
    if (r == EK_ERR_EXISTS &&
        ek_cert_load_file(cli->ctx, o->out, &onfile) == EK_OK &&
        ek_cert_der(onfile, &a, &alen) == EK_OK &&
        ek_cert_der(o->new_cert, &b, &blen) == EK_OK && alen == blen &&
        memcmp(a, b, alen) == 0)
        r = EK_OK;
    ek_cert_free(&onfile);
    if (r != EK_OK) {
        rc = cli_fail(cli, r);
        fprintf(stderr,
                "entrakey: step 2 stopped: the new key %s and its "
                "certificate are on the token, but %s could not be "
                "written; nothing was changed on the app. Give --out, then "
                "--new-key '%s'\n",
                ek_key_uri(o->newk), o->out, ek_key_uri(o->newk));
        return rc;
    }
    say("step 2:       new key %s\n", ek_key_uri(o->newk));
    say("              certificate %s, thumbprint %s, written to %s\n",
        ek_cert_subject(o->new_cert), ek_cert_thumbprint(o->new_cert), o->out);
    return 0;
}

/* Steps 3 and 4: the proof with the current key, and addKey. */
static int
step_add(struct rot *o)
{
    struct cli *cli = o->cli;
    struct ek_secret *proof = NULL;
    char again[CMDLINE_MAX];
    ek_err r;
    int rc, lost = 0;

    if (o->dry_run) {
        say("would:        sign a proof of possession with the current key "
            "(aud 00000002-0000-0000-c000-000000000000, iss the object id)\n"
            "would:        POST %s/v1.0/applications/%s/addKey with the new "
            "certificate\n",
            o->graph_host != NULL ? o->graph_host
                                  : ek_cloud_graph_host(o->s.cloud),
            o->object_id != NULL ? o->object_id : "OBJECT-ID");
        return 0;
    }
    if ((r = ek_graph_proof_sign(cli->ctx, o->cur, o->object_id, o->cur_cert, 0,
                                 &proof)) != EK_OK) {
        rc = cli_fail(cli, r);
        fprintf(stderr,
                "entrakey: step 3 failed: no proof was signed; nothing was "
                "changed on the app\n");
        goto retry_line;
    }
    say("step 3:       proof of possession signed with the current key\n");
    r = ek_graph_key_add(cli->ctx, &o->gp, o->graph_tok, o->object_id,
                         o->new_cert, proof, &o->new_key_id);
    ek_secret_free(&proof);
    if (r != EK_OK) {
        rc = cli_fail(cli, r);
        lost = strstr(ek_ctx_errmsg(cli->ctx), "may have done it") != NULL;
        if (lost)
            fprintf(stderr,
                    "entrakey: step 4 (addKey) got no answer: the new key "
                    "may or may not be registered. Check with `entrakey "
                    "token '%s' ...` in a few minutes (it works once the key "
                    "is registered), or the portal (thumbprint %s); the old "
                    "key still works either way\n",
                    ek_key_uri(o->newk), ek_cert_thumbprint(o->new_cert));
        else
            fprintf(stderr,
                    "entrakey: step 4 (addKey) failed: nothing was changed "
                    "on the app; the old key still works. The new key %s "
                    "and its certificate stay on the token and in %s\n",
                    ek_key_uri(o->newk), o->out);
        goto retry_line;
    }
    say("step 4:       addKey: the new certificate is registered on the app "
        "(keyId %s)\n",
        o->new_key_id != NULL ? o->new_key_id : "not in Graph's answer");
    return 0;
retry_line:
    base_cmd(o, o->s.val[CLI_SF_KEY], again, sizeof again);
    strncat(again, " --new-key", sizeof again - strlen(again) - 1);
    add_arg(again, sizeof again, ek_key_uri(o->newk));
    strncat(again, " --out", sizeof again - strlen(again) - 1);
    add_arg(again, sizeof again, o->out);
    if (o->remove_old) {
        strncat(again, " --remove-old", sizeof again - strlen(again) - 1);
        if (o->old_key_id != NULL) {
            strncat(again, " --old-key-id", sizeof again - strlen(again) - 1);
            add_arg(again, sizeof again, o->old_key_id);
        }
    }
    if (lost) {
        fprintf(stderr,
                "entrakey: if it was added, finish with:\n  %s --added\n"
                "entrakey: if it was not, try again with:\n  %s\n",
                again, again);
        return rc;
    }
    fprintf(stderr,
            "entrakey: to try again with the same new key:\n  %s\n"
            "entrakey: or upload %s under Certificates & secrets in the "
            "portal, then run that command with --added\n",
            again, o->out);
    return rc;
}

/* Step 5: the new key works (Entra ID takes a while to honour it). */
static int
step_prove(struct rot *o)
{
    struct ek_access_token *at = NULL;
    time_t start = time(NULL);
    unsigned pause = 1, tries = 0;
    long waited;
    ek_err r;

    if (o->dry_run) {
        say("would:        get a token with the new key, waiting up to %u s "
            "for Entra ID to honour it\n",
            o->wait);
        return 0;
    }
    for (;;) {
        tries++;
        r = get_token(o, o->newk, 0, &at);
        ek_access_token_free(&at);
        waited = (long)(time(NULL) - start);
        if (r == EK_OK)
            break;
        /* only a refusal by Entra ID is worth waiting for: never a PIN,
         * a token or a network error (a PIN is never tried twice) */
        if (r != EK_ERR_ENTRA)
            return stop_after_add(o, r, "step 5 (the new key's first token)");
        if (waited + (long)pause > (long)o->wait) {
            fprintf(stderr,
                    "entrakey: the new key was not honoured within %ld s "
                    "(%u tries, --wait %u); Entra ID can take several "
                    "minutes to honour a new credential\n",
                    waited, tries, o->wait);
            return stop_after_add(o, r, "step 5 (the new key's first token)");
        }
        fprintf(stderr,
                "entrakey: the new key is not honoured yet (try %u, %ld s "
                "waited); trying again in %u s\n",
                tries, waited, pause);
        pause_s(pause);
        pause = pause * 2 > BACKOFF_MAX ? BACKOFF_MAX : pause * 2;
    }
    say("step 5:       the new key works: a token was issued after %ld s of "
        "waiting (%u tr%s)\n",
        waited, tries, tries == 1 ? "y" : "ies");
    return 0;
}

/* Step 6: every profile that named the old key (and the one named) now
 * names the new one; each file written atomically. */
static int
step_profiles(struct rot *o)
{
    struct cli *cli = o->cli;
    struct cli_config *cc = &o->s.cc;
    const char *name, *v;
    const char *old_given;
    size_t f, i;
    int changed, n = 0, failed = 0;
    ek_err r;

    /* the URI may be a profile's own value, which ek_config_set frees
     * when it replaces it: keep a copy for the comparisons below and for
     * the commands printed after this step */
    if (o->key_given == NULL) {
        if ((o->key_given = strdup(o->s.val[CLI_SF_KEY])) == NULL) {
            fprintf(stderr, "entrakey: out of memory\n");
            return CLI_EXIT_INTERNAL;
        }
        o->s.val[CLI_SF_KEY] = o->key_given;
    }
    old_given = o->key_given;

    for (f = 0; f < cc->n; f++) {
        changed = 0;
        for (i = 0; i < ek_config_profile_count(cc->file[f].cfg); i++) {
            name = ek_config_profile_name(cc->file[f].cfg, i);
            v = name != NULL ? ek_config_get(cc->file[f].cfg, name, "key")
                             : NULL;
            if (name == NULL ||
                !((v != NULL && (strcmp(v, old_given) == 0 ||
                                 strcmp(v, ek_key_uri(o->cur)) == 0)) ||
                  (o->s.profile_named && strcmp(name, o->s.profile) == 0 &&
                   o->s.profile_file != NULL &&
                   strcmp(o->s.profile_file, cc->file[f].path) == 0)))
                continue;
            if (o->dry_run) {
                say("would:        set key in profile %s of %s\n", name,
                    cc->file[f].path);
                continue;
            }
            if ((r = ek_config_set(cli->ctx, cc->file[f].cfg, name, "key",
                                   ek_key_uri(o->newk))) != EK_OK) {
                (void)cli_fail(cli, r);
                failed = 1;
                continue;
            }
            say("step 6:       profile %s in %s now names the new key\n", name,
                cc->file[f].path);
            changed = 1;
            n++;
        }
        if (changed && (r = ek_config_save(cli->ctx, cc->file[f].cfg,
                                           cc->file[f].path)) != EK_OK) {
            fprintf(stderr,
                    "entrakey: %s\nentrakey: the profiles in %s still name "
                    "the old key: set key = %s there (entrakey profile add "
                    "NAME --key ... --force)\n",
                    ek_ctx_errmsg(cli->ctx), cc->file[f].path,
                    ek_key_uri(o->newk));
            failed = 1;
        }
    }
    if (n == 0 && !o->dry_run)
        say("step 6:       no profile named the old key\n");
    return failed ? CLI_EXIT_FILE : 0;
}

/* Step 7: removeKey for the old key, now or by a printed command. */
static int
step_remove(struct rot *o)
{
    struct cli *cli = o->cli;
    struct ek_access_token *tok = NULL;
    struct ek_secret *proof = NULL;
    char later[CMDLINE_MAX], when[32];
    ek_err r = EK_OK;
    int rc = 0;

    if (!o->remove_old) {
        say("old key:      still registered (and still works); remove it "
            "once nothing uses it:\n");
        base_cmd(o, ek_key_uri(o->newk), later, sizeof later);
        strncat(later, " --remove-key", sizeof later - strlen(later) - 1);
        add_arg(later, sizeof later,
                o->old_key_id != NULL ? o->old_key_id : "OLD-KEY-ID");
        say("  %s\n", later);
        return 0;
    }
    base_cmd(o, o->dry_run ? "NEW-KEY-URI" : ek_key_uri(o->newk), later,
             sizeof later);
    strncat(later, " --remove-key", sizeof later - strlen(later) - 1);
    add_arg(later, sizeof later,
            o->old_key_id != NULL ? o->old_key_id : "OLD-KEY-ID");
    if (o->remove_after > 0) {
        cli_iso8601((long long)time(NULL) + o->remove_after, when, sizeof when);
        say("%s        the old key stays registered for the grace period; "
            "after %s run:\n  %s\n",
            o->dry_run ? "would:" : "step 7:", when, later);
        return 0;
    }
    if (o->dry_run) {
        say("would:        sign a proof with the new key and POST removeKey "
            "for the old key (keyId %s)\n",
            o->old_key_id != NULL ? o->old_key_id : "looked up");
        return 0;
    }
    if ((r = get_token(o, o->newk, 1, &tok)) != EK_OK ||
        (r = ek_graph_proof_sign(cli->ctx, o->newk, o->object_id, o->new_cert,
                                 0, &proof)) != EK_OK ||
        (r = ek_graph_key_remove(cli->ctx, &o->gp, tok, o->object_id,
                                 o->old_key_id, proof)) != EK_OK) {
        rc = cli_fail(cli, r);
        fprintf(stderr,
                "entrakey: rotate stopped at step 7 (removeKey). State: the "
                "new key works and the profiles name it; the old key "
                "(thumbprint %s, keyId %s) is %s. To finish:\n  %s\n",
                ek_cert_thumbprint(o->cur_cert), o->old_key_id,
                strstr(ek_ctx_errmsg(cli->ctx), "may have done it") != NULL
                    ? "removed or still registered (the answer was lost)"
                    : "still registered and still works",
                later);
        goto out;
    }
    say("step 7:       removeKey: the old key (keyId %s) is no longer "
        "registered\n",
        o->old_key_id);
out:
    ek_secret_free(&proof);
    ek_access_token_free(&tok);
    return rc;
}

/* --remove-key KEYID: the last step alone. */
static int
remove_only(struct rot *o)
{
    struct cli *cli = o->cli;
    struct ek_secret *proof = NULL;
    ek_err r;
    int rc;

    if (o->dry_run) {
        say("would:        sign a proof with %s and POST removeKey for keyId "
            "%s\n",
            o->s.val[CLI_SF_KEY], o->remove_key);
        return 0;
    }
    if ((r = ek_graph_proof_sign(cli->ctx, o->cur, o->object_id, o->cur_cert, 0,
                                 &proof)) != EK_OK ||
        (r = ek_graph_key_remove(cli->ctx, &o->gp, o->graph_tok, o->object_id,
                                 o->remove_key, proof)) != EK_OK) {
        rc = cli_fail(cli, r);
        fprintf(stderr, "entrakey: the key %s was not removed%s\n",
                o->remove_key,
                strstr(ek_ctx_errmsg(cli->ctx), "may have done it") != NULL
                    ? " (or its answer was lost): run the command again"
                    : "");
        ek_secret_free(&proof);
        return rc;
    }
    ek_secret_free(&proof);
    say("removed:      the key %s is no longer registered on the app\n",
        o->remove_key);
    return 0;
}

/* ------------------------------------------------------------ command */

static int
parse(struct rot *o, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"tenant", required_argument, NULL, OPT_S_TENANT},
        {"client-id", required_argument, NULL, OPT_S_CLIENT_ID},
        {"scope", required_argument, NULL, OPT_S_SCOPE},
        {"resource", required_argument, NULL, OPT_S_RESOURCE},
        {"cloud", required_argument, NULL, OPT_S_CLOUD},
        {"authority-host", required_argument, NULL, OPT_S_AUTHORITY_HOST},
        {"ca-file", required_argument, NULL, OPT_S_CA_FILE},
        {"timeout", required_argument, NULL, OPT_S_TIMEOUT},
        {"max-wait", required_argument, NULL, OPT_S_MAX_WAIT},
        {"profile", required_argument, NULL, OPT_S_PROFILE},
        {"config", required_argument, NULL, OPT_S_CONFIG},
        {"app-object-id", required_argument, NULL, OPT_APP_OBJECT_ID},
        {"new-key", required_argument, NULL, OPT_NEW_KEY},
        {"new-token", required_argument, NULL, OPT_NEW_TOKEN},
        {"label", required_argument, NULL, OPT_LABEL},
        {"days", required_argument, NULL, OPT_DAYS},
        {"subject", required_argument, NULL, OPT_SUBJECT},
        {"out", required_argument, NULL, OPT_OUT},
        {"remove-old", optional_argument, NULL, OPT_REMOVE_OLD},
        {"old-key-id", required_argument, NULL, OPT_OLD_KEY_ID},
        {"wait", required_argument, NULL, OPT_WAIT},
        {"added", no_argument, NULL, OPT_ADDED},
        {"remove-key", required_argument, NULL, OPT_REMOVE_KEY},
        {"graph-host", required_argument, NULL, OPT_GRAPH_HOST},
        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "rotate";
    int c, rc;

    optind = 0;
    while ((c = cli_getopt(argc, argv, CLI_COMMON_SHORTOPTS, longopts, cmd)) !=
           -1) {
        switch (c) {
        case 'h':
            fputs(usage_rotate, stdout);
            return CLI_EXIT_OK;
        case OPT_APP_OBJECT_ID:
            o->object_id = optarg;
            break;
        case OPT_NEW_KEY:
            o->new_key_uri = optarg;
            break;
        case OPT_NEW_TOKEN:
            o->new_token = optarg;
            break;
        case OPT_LABEL:
            o->label = optarg;
            break;
        case OPT_DAYS:
            if (cli_parse_uint(optarg, 1, DAYS_MAX, &o->days) != 0)
                return cli_usage(cmd, NULL,
                                 "--days '%s' is not a number of days "
                                 "from 1 to %u",
                                 optarg, DAYS_MAX);
            break;
        case OPT_SUBJECT:
            o->subject = optarg;
            break;
        case OPT_OUT:
            o->out = optarg;
            break;
        case OPT_REMOVE_OLD:
            o->remove_old = 1;
            if (optarg != NULL && parse_after(optarg, &o->remove_after) != 0)
                return cli_usage(cmd, NULL,
                                 "--remove-old='%s' is not a grace "
                                 "period such as 7d, 12h, 30m or 90s",
                                 optarg);
            break;
        case OPT_OLD_KEY_ID:
            o->old_key_id = optarg;
            break;
        case OPT_WAIT:
            if (cli_parse_uint(optarg, 1, WAIT_MAX, &o->wait) != 0)
                return cli_usage(cmd, NULL,
                                 "--wait '%s' is not a number of "
                                 "seconds from 1 to %u",
                                 optarg, WAIT_MAX);
            break;
        case OPT_ADDED:
            o->added = 1;
            break;
        case OPT_REMOVE_KEY:
            o->remove_key = optarg;
            break;
        case OPT_GRAPH_HOST:
            o->graph_host = optarg;
            break;
        case OPT_DRY_RUN:
            o->dry_run = 1;
            break;
        default:
            if ((rc = cli_sign_opt(&o->s, c, optarg)) < 0)
                rc = cli_common_opt(o->cli, c, optarg, cmd, usage_rotate);
            if (rc < 0)
                rc = cli_usage(cmd, NULL, "unexpected option");
            if (rc != 0)
                return rc;
        }
    }
    if (optind < argc)
        o->s.val[CLI_SF_KEY] = argv[optind++];
    if (optind < argc)
        return cli_usage(cmd, NULL, "unexpected argument '%s'", argv[optind]);
    if (o->new_key_uri != NULL && o->new_token != NULL)
        return cli_usage(cmd, NULL, "give --new-key or --new-token, not both");
    if (o->added && o->new_key_uri == NULL)
        return cli_usage(cmd, NULL,
                         "--added needs --new-key: the key that "
                         "was added");
    if (o->remove_key != NULL &&
        (o->new_key_uri != NULL || o->new_token != NULL || o->added ||
         o->remove_old))
        return cli_usage(cmd, NULL,
                         "--remove-key is the removal alone: "
                         "no --new-key, --new-token, --added or --remove-old");
    if (o->new_key_uri != NULL && o->label != NULL)
        return cli_usage(cmd, NULL,
                         "--label names a key to generate; "
                         "--new-key uses an existing one");
    return -1;
}

int
cmd_rotate(struct cli *cli, int argc, char **argv)
{
    struct rot o;
    int rc;

    memset(&o, 0, sizeof o);
    o.cli = cli;
    o.wait = WAIT_DEFAULT;
    cli_sign_init(&o.s, "rotate");
    if ((rc = parse(&o, argc, argv)) >= 0)
        goto out;
    if ((rc = cli_sign_resolve(cli, &o.s)) != 0 || (rc = cli_apply(cli)) != 0)
        goto out;
    o.gp.cloud = o.s.cloud;
    o.gp.graph_host = o.graph_host;
    o.gp.ca_file = o.s.val[CLI_SF_CA_FILE];
    o.gp.timeout = o.s.timeout;
    o.gp.max_wait = o.s.max_wait;
    if (o.dry_run)
        say("dry run:      nothing is signed, made or posted\n");
    if ((rc = step_current(&o)) != 0)
        goto out;
    if (o.remove_key != NULL) {
        if ((rc = step_lookup(&o)) == 0)
            rc = remove_only(&o);
        goto out;
    }
    if ((rc = step_lookup(&o)) != 0 || (rc = step_new_key(&o)) != 0)
        goto out;
    if (o.added)
        say("step 4:       skipped (--added): the new key was added before\n");
    else if ((rc = step_add(&o)) != 0)
        goto out;
    if ((rc = step_prove(&o)) != 0)
        goto out;
    if ((rc = step_profiles(&o)) != 0) {
        fprintf(stderr, "entrakey: the new key works and both keys are "
                        "registered; the old key was not removed\n");
        goto out;
    }
    if ((rc = step_remove(&o)) != 0)
        goto out;
    if (!o.dry_run)
        say("rotated:      %s -> %s\n", ek_cert_thumbprint(o.cur_cert),
            ek_cert_thumbprint(o.new_cert));
    rc = CLI_EXIT_OK;
out:
    ek_graph_app_free(&o.app);
    ek_free(o.new_key_id);
    free(o.key_given);
    ek_access_token_free(&o.graph_tok);
    ek_cert_free(&o.new_cert);
    ek_cert_free(&o.cur_cert);
    ek_key_free(&o.newk);
    ek_key_free(&o.cur);
    cli_sign_free(&o.s);
    return rc;
}
