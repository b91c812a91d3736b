/* cmd_keygen.c: `entrakey keygen`: a non-exportable RSA key generated on
 * the token, with its attributes read back. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static const char usage_keygen[] =
    "usage: entrakey keygen TOKEN-URI --label LABEL [--id HEX]\n"
    "                       [--bits 2048|3072|4096] [--pin-source SRC]\n"
    "                       [--so-pin-source SRC] [--module PATH] [--json]\n"
    "\n"
    "Generates an RSA key pair (e = 65537) on the token TOKEN-URI names (see\n"
    "entrakey tokens), with CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE=TRUE,\n"
    "CKA_EXTRACTABLE=FALSE and CKA_SIGN. If the token refuses part of that\n"
    "template, entrakey tries again without the optional attributes and says\n"
    "what it left out. Then it reads back CKA_SENSITIVE, CKA_EXTRACTABLE,\n"
    "CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE and CKA_LOCAL and prints\n"
    "each with a verdict. Nothing is generated when an object with the same\n"
    "label or id exists on the token.\n"
    "\n"
    "options:\n"
    "  --label LABEL        the key's CKA_LABEL (required)\n"
    "  --id HEX             the key's CKA_ID, e.g. 01 (default: the lowest\n"
    "                       free one-byte id; on a YubiKey the id is the PIV\n"
    "                       slot: 1=9a, 2=9c, 3=9d, 4=9e)\n"
    "  --bits N             2048 (default), 3072 or 4096\n"
    "  --pin-source SRC     env:NAME | file:PATH | fd:N (default: the URI's\n"
    "                       pin-source=/pin-value=, else a prompt)\n"
    "  --so-pin-source SRC  the SO PIN; on a YubiKey (ykcs11) the management\n"
    "                       key, which key generation needs\n"
    "  --allow-final-pin-try  log in even if one PIN try is left\n"
    "  --module PATH        the PKCS#11 module (.so)\n"
    "  --json               print a JSON document instead of text\n"
    "  -v, --verbose        trace the PKCS#11 calls on stderr\n"
    "  -h, --help           this help\n";

enum {
    OPT_LABEL = OPT_CMD_BASE,
    OPT_ID,
    OPT_BITS,
};

/* ----------------------------------------------------------------- spinner */

/* A spinner on stderr while the token works, started when the library says
 * generation begins (after the login, so never over a PIN prompt). */
struct spinner {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int started;
    int stop;
    int tty;
};

static void *
spin(void *arg)
{
    static const char frames[] = "|/-\\";
    struct spinner *sp = arg;
    struct timespec ts;
    unsigned i = 0;

    pthread_mutex_lock(&sp->mu);
    while (!sp->stop) {
        fprintf(stderr, "\rgenerating the key on the token... %c",
                frames[i++ % 4]);
        fflush(stderr);
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 150 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&sp->cv, &sp->mu, &ts);
    }
    fputs("\r\033[K", stderr);
    fflush(stderr);
    pthread_mutex_unlock(&sp->mu);
    return NULL;
}

static void
spinner_stop(struct spinner *sp)
{
    if (!sp->started)
        return;
    pthread_mutex_lock(&sp->mu);
    sp->stop = 1;
    pthread_cond_signal(&sp->cv);
    pthread_mutex_unlock(&sp->mu);
    pthread_join(sp->thread, NULL);
    sp->started = 0;
}

/* Used without -v only (with -v the CLI's own log stays, and there is no
 * spinner): warnings as the CLI prints them, and the spinner's start. */
static void
keygen_log(void *arg, enum ek_log_level level, const char *msg)
{
    struct spinner *sp = arg;

    if (level == EK_LOG_WARN) {
        pthread_mutex_lock(&sp->mu);
        if (sp->started)
            fputs("\r\033[K", stderr);
        fprintf(stderr, "entrakey: warning: %s\n", msg);
        pthread_mutex_unlock(&sp->mu);
    }
    /* a keygen that waits for another one's lock says so, or it would
     * look hung (the other may be at its PIN prompt) */
    if (level == EK_LOG_INFO &&
        strncmp(msg, "another keygen is running", 25) == 0)
        fprintf(stderr, "entrakey: %s\n", msg);
    if (sp->tty && !sp->started && strncmp(msg, "generating a ", 13) == 0 &&
        pthread_create(&sp->thread, NULL, spin, sp) == 0)
        sp->started = 1;
}

/* ------------------------------------------------------------------ output */

static void
print_text(const struct ek_key *k)
{
    const char *dropped = ek_key_template_dropped(k);
    int a, v, want;

    printf("generated a %u-bit RSA key on token '%s'\n", ek_key_bits(k),
           cli_safe(ek_key_token_label(k)));
    printf("  uri:      %s\n", ek_key_uri(k));
    printf("  label:    %s\n", cli_safe(ek_key_label(k)));
    printf("  id:       %s\n", ek_key_id_hex(k));
    printf("  attributes read back from the token:\n");
    for (a = 0; a < 5; a++) {
        v = ek_key_attr(k, (enum ek_key_attr)a);
        want = a == EK_ATTR_EXTRACTABLE ? 0 : 1;
        printf("    %-23s %-10s %s\n", cli_attr_name(a),
               v == 1   ? "TRUE"
               : v == 0 ? "FALSE"
                        : "unreadable",
               v == want ? "ok"
               : v < 0   ? "(the module does not report it)"
                         : (want ? "(should be TRUE)" : "(should be FALSE)"));
    }
    printf("  verdict:  %s\n", cli_key_verdict_text(k));
    if (dropped[0] == '\0')
        printf("  template: applied as asked\n");
    else
        printf("  template: the token refused part of it; left out: %s "
               "(see the values read back above)\n",
               dropped);
}

static cJSON *
to_json(const struct ek_key *k)
{
    cJSON *o = cJSON_CreateObject();

    if (o == NULL || cli_key_made_json(o, k) != 0) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

int
cmd_keygen(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"label", required_argument, NULL, OPT_LABEL},
        {"id", required_argument, NULL, OPT_ID},
        {"bits", required_argument, NULL, OPT_BITS},
        {NULL, 0, NULL, 0},
    };
    struct ek_keygen_params p;
    struct spinner sp;
    struct ek_key *k = NULL;
    const char *uri = NULL;
    unsigned char id[64];
    size_t id_len = 0;
    ek_err r;
    int c, rc;

    memset(&p, 0, sizeof p);
    while ((c = cli_getopt(argc, argv, CLI_COMMON_SHORTOPTS, longopts,
                           "keygen")) != -1) {
        switch (c) {
        case OPT_LABEL:
            p.label = optarg;
            continue;
        case OPT_ID:
            id_len = sizeof id;
            if (ek_key_id_parse(cli->ctx, optarg, id, &id_len) != EK_OK)
                return cli_usage("keygen", usage_keygen,
                                 "--id '%s' is not "
                                 "hex of 1 to 64 bytes (e.g. 01 or a1b2)",
                                 optarg);
            p.id = id;
            p.id_len = id_len;
            continue;
        case OPT_BITS:
            if (cli_parse_uint(optarg, 2048, 4096, &p.bits) != 0 ||
                (p.bits != 2048 && p.bits != 3072 && p.bits != 4096))
                return cli_usage("keygen", usage_keygen,
                                 "--bits takes 2048, "
                                 "3072 or 4096, not '%s'",
                                 optarg);
            continue;
        default:
            break;
        }
        rc = cli_common_opt(cli, c, optarg, "keygen", usage_keygen);
        if (rc > 0)
            return rc;
        if (rc < 0)
            return cli_usage("keygen", usage_keygen, "unexpected option");
    }
    if (optind < argc)
        uri = argv[optind++];
    if (optind < argc)
        return cli_usage("keygen", usage_keygen, "unexpected argument '%s'",
                         argv[optind]);
    if (uri == NULL)
        return cli_usage("keygen", usage_keygen,
                         "give the token's URI "
                         "(see entrakey tokens)");
    if (p.label == NULL || p.label[0] == '\0')
        return cli_usage("keygen", usage_keygen,
                         "give the new key a "
                         "--label");
    if ((rc = cli_apply(cli)) != 0)
        return rc;
    memset(&sp, 0, sizeof sp);
    pthread_mutex_init(&sp.mu, NULL);
    pthread_cond_init(&sp.cv, NULL);
    sp.tty = isatty(STDERR_FILENO);
    if (!cli->verbose)
        ek_ctx_set_log(cli->ctx, keygen_log, &sp, EK_LOG_INFO);
    r = ek_key_generate(cli->ctx, uri, &p, &k);
    spinner_stop(&sp);
    if (!cli->verbose)
        ek_ctx_set_log(cli->ctx, keygen_log, &sp, EK_LOG_WARN);
    if (r != EK_OK) {
        rc = cli_fail(cli, r);
        goto out;
    }
    if (cli->json) {
        rc = cli_print_json(to_json(k));
    } else {
        print_text(k);
        rc = CLI_EXIT_OK;
    }
out:
    ek_key_free(&k);
    if (!cli->verbose)
        ek_ctx_set_log(cli->ctx, NULL, NULL, EK_LOG_WARN);
    pthread_cond_destroy(&sp.cv);
    pthread_mutex_destroy(&sp.mu);
    return rc;
}
