/* cli.h: what the entrakey command's files share (never the library's). */
#ifndef EK_CLI_H
#define EK_CLI_H

#include <getopt.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include <entrakey.h>

/* Exit codes (docs/errors.md). Stable: appended to, never renumbered. */
enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_INTERNAL = 1, /* unexpected failure, out of memory */
    CLI_EXIT_USAGE = 2,    /* bad arguments, bad configuration */
    CLI_EXIT_TOKEN = 3,    /* module, token, key, mechanism, session */
    CLI_EXIT_PIN = 4,      /* PIN incorrect, locked, final try, no source */
    CLI_EXIT_ENTRA = 5,    /* the Entra ID token endpoint refused */
    CLI_EXIT_NETWORK = 6,  /* connection, TLS, timeout, throttling */
    CLI_EXIT_FILE = 7,     /* a local file cannot be read or written */
    CLI_EXIT_EXISTS = 8,   /* would replace a file or token object */
    CLI_EXIT_CERT = 9,     /* certificate invalid, mismatched, expired */
};

/* The state every command shares. */
struct cli {
    struct ek_ctx *ctx;
    const char *cmd;        /* "token", "cert create" …: for hints */
    int verbose;            /* -v: INFO and TRACE messages on stderr */
    int json;               /* --json where the command supports it */
    unsigned flags;         /* EK_FLAG_* */
    const char *module;     /* --module */
    const char *pin_source; /* --pin-source */
    const char *so_pin_source;
};

/* Long options every command accepts; put CLI_COMMON_LONGOPTS first in a
 * command's option table, and pass unknown results to cli_common_opt. */
enum {
    OPT_MODULE = 1000,
    OPT_PIN_SOURCE,
    OPT_SO_PIN_SOURCE,
    OPT_ALLOW_FINAL_PIN_TRY,
    OPT_INSECURE_EXTRACTABLE,
    OPT_JSON,
    OPT_HELP,
    OPT_SIGN_BASE = 1050, /* the signing options (CLI_SIGN_LONGOPTS) */
    OPT_CMD_BASE = 1100,  /* commands number their own options from here */
};
#define CLI_COMMON_LONGOPTS                                                    \
    {"module", required_argument, NULL, OPT_MODULE},                           \
        {"pin-source", required_argument, NULL, OPT_PIN_SOURCE},               \
        {"so-pin-source", required_argument, NULL, OPT_SO_PIN_SOURCE},         \
        {"allow-final-pin-try", no_argument, NULL, OPT_ALLOW_FINAL_PIN_TRY},   \
        {"insecure-allow-extractable-key", no_argument, NULL,                  \
         OPT_INSECURE_EXTRACTABLE},                                            \
        {"json", no_argument, NULL, OPT_JSON},                                 \
        {"verbose", no_argument, NULL, 'v'},                                   \
    {                                                                          \
        "help", no_argument, NULL, 'h'                                         \
    }
#define CLI_COMMON_SHORTOPTS "vh"

/* Wraps getopt_long with our own messages: the cause in one line, never
 * an option's value (it could be a PIN), and no abbreviation of an option
 * that takes a PIN source. On '?' it has printed why. */
int cli_getopt(int argc, char **argv, const char *shortopts,
               const struct option *longopts, const char *cmd);

/* Handles a common option. Returns 0 if handled, -1 if c is not common,
 * or an exit code > 0 (usage) after printing why. */
int cli_common_opt(struct cli *cli, int c, const char *arg, const char *cmd,
                   const char *usage);

/* Applies --module, --pin-source and the flags to the context; call after
 * option parsing. Returns 0 or an exit code after printing the error. */
int cli_apply(struct cli *cli);

/* cli_fail after opening a key or token failed: also says what the URI
 * may have meant (a space for %20, id=01 for id=%01). */
int cli_fail_uri(struct cli *cli, ek_err e, const char *uri);
/* Prints "entrakey: <the context's sentence>" and returns the exit code for
 * e. */
int cli_fail(struct cli *cli, ek_err e);
/* The command line's remedy for error e with the library's sentence msg
 * (the option to give), or NULL. */
const char *cli_hint(const struct cli *cli, ek_err e, const char *msg);
/* Prints "entrakey CMD: <message>" and where the help is; returns 2. */
int cli_usage(const char *cmd, const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The exit code for a library error. */
int cli_exit_code(ek_err e);
/* For clang-tidy's analyzer, which sees one file at a time: cli_usage
 * returns CLI_EXIT_USAGE and cli_fail a failure (see src/internal.h). */
#if defined(__clang_analyzer__) && !defined(EK_CLI_COMMON_C)
#define cli_usage(cmd, usage, ...)                                             \
    (cli_usage((cmd), (usage), __VA_ARGS__), CLI_EXIT_USAGE)
#define cli_fail(cli, e)                                                       \
    (cli_fail((cli), (e)), (e) == EK_OK ? CLI_EXIT_OK : CLI_EXIT_INTERNAL)
#endif
/* Writes all of p to fd with write(2) (no stdio copy); 0 or -1 (errno). */
int cli_write_all(int fd, const char *p, size_t n);
/* Prints a warning "entrakey: warning: …" on stderr. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* token, assert, exec: a warning on stderr, once per run, when the
 * certificate the assertion names (cert, else the one stored with k)
 * expires within CLI_EXPIRY_WARN_DAYS days (an expired one is refused by
 * the signature itself). Never on stdout. */
#define CLI_EXPIRY_WARN_DAYS 30
void cli_warn_expiry(struct cli *cli, const struct ek_key *k,
                     const struct ek_cert *cert);

/* Prints a cJSON document on stdout (pretty) and deletes it. */
int cli_print_json(cJSON *doc);
/* Formats epoch seconds as "2026-11-27T04:27:45Z". */
void cli_iso8601(long long epoch, char *buf, size_t len);

/* Before any token work: path must not exist (unless force) and its
 * directory must be there to write into. Prints why not, ending with
 * outcome ("nothing was done"), and returns the exit code; 0 if fine. */
int cli_check_output(const char *path, int force, const char *outcome);

/* Whether paths a and b name one file: the same device and inode when
 * both exist (a link, "./a.cer" and "a.cer"), else the same resolved
 * directory and the same last name. */
int cli_same_file(const char *a, const char *b);

/* s fit for a terminal: what came from a token or a file (labels,
 * manufacturer, model, serial, module names) with C0/C1 controls, DEL and
 * bytes that are not UTF-8 escaped (\xHH, \u00HH), as the library does
 * in its sentences. Returns one of 8 rotating static buffers, so several
 * may be used in one printf. */
const char *cli_safe(const char *s);

/* "CKA_SENSITIVE" … for enum ek_key_attr a. */
const char *cli_attr_name(int a);
/* The sentence for a key's non-exportability verdict. */
const char *cli_verdict_text(enum ek_verdict v);
/* The same for a key, saying when the module reports fixed values. */
const char *cli_key_verdict_text(const struct ek_key *k);
/* Adds a key's uri, token, label, id, bits, the five attributes (true,
 * false or null) and the verdict word to o (keys --json, keygen --json);
 * 0, or -1 when out of memory. */
int cli_key_json(cJSON *o, const struct ek_key *k);
/* cli_key_json and the template attributes the token refused
 * ("template_dropped"): a key just made (keygen --json, init --json). */
int cli_key_made_json(cJSON *o, const struct ek_key *k);

/* Around a command, in both binaries (cli_main.c): cli_main_begin first
 * thing in main; cli_main_run makes the context (core dumps off first) and
 * runs fn with argv[0] the command's name; cli_main_end judges standard
 * output and gives the exit status. */
void cli_main_begin(void);
int cli_main_run(struct cli *cli, const char *name,
                 int (*fn)(struct cli *, int, char **), int argc, char **argv);
int cli_main_end(int rc);
/* The client (fast/fast_main.c) hands the process over to the whole
 * command loaded into it: what cli_main_begin registered for the end of
 * the process is then the whole command's to do, not the client's. */
void cli_main_handover(void);

/* Starts the clock of the -v timestamps (main, first thing). */
void cli_clock_start(void);
/* The PIN prompt the context calls: no echo, only on a terminal. */
ek_err cli_prompt_pin(void *arg, const char *prompt, char *buf, size_t bufsz);

/* Parses a whole unsigned number in [min, max]; 0 ok, -1 bad. */
int cli_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out);

/* ------------------------------------------------- the signing options */

/* The options of every command that signs (assert, token, exec; the agent
 * later), and the configuration files they read. Precedence, one rule:
 * options > a named profile (--profile, ENTRAKEY_PROFILE) > the environment
 * (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_AUTHORITY_HOST, ENTRAKEY_MODULE)
 * > the profile named "default". */
enum {
    OPT_S_TENANT = OPT_SIGN_BASE,
    OPT_S_CLIENT_ID,
    OPT_S_SCOPE,
    OPT_S_RESOURCE,
    OPT_S_CLOUD,
    OPT_S_AUTHORITY_HOST,
    OPT_S_CA_FILE,
    OPT_S_ALG,
    OPT_S_TIMEOUT,
    OPT_S_MAX_WAIT,
    OPT_S_PROFILE,
    OPT_S_CONFIG,
    OPT_S_ORGANIZATION,
    OPT_S_CERT,
    OPT_S_LIFETIME,
    OPT_S_AGENT,
    OPT_S_NO_AGENT,
    OPT_S_AUDIT,
};
#define CLI_SIGN_LONGOPTS                                                      \
    {"tenant", required_argument, NULL, OPT_S_TENANT},                         \
        {"client-id", required_argument, NULL, OPT_S_CLIENT_ID},               \
        {"scope", required_argument, NULL, OPT_S_SCOPE},                       \
        {"resource", required_argument, NULL, OPT_S_RESOURCE},                 \
        {"cloud", required_argument, NULL, OPT_S_CLOUD},                       \
        {"authority-host", required_argument, NULL, OPT_S_AUTHORITY_HOST},     \
        {"ca-file", required_argument, NULL, OPT_S_CA_FILE},                   \
        {"alg", required_argument, NULL, OPT_S_ALG},                           \
        {"timeout", required_argument, NULL, OPT_S_TIMEOUT},                   \
        {"max-wait", required_argument, NULL, OPT_S_MAX_WAIT},                 \
        {"profile", required_argument, NULL, OPT_S_PROFILE},                   \
        {"config", required_argument, NULL, OPT_S_CONFIG},                     \
        {"organization", required_argument, NULL, OPT_S_ORGANIZATION},         \
        {"cert", required_argument, NULL, OPT_S_CERT},                         \
        {"lifetime", required_argument, NULL, OPT_S_LIFETIME},                 \
        {"agent", no_argument, NULL, OPT_S_AGENT},                             \
        {"audit", required_argument, NULL, OPT_S_AUDIT},                       \
    {                                                                          \
        "no-agent", no_argument, NULL, OPT_S_NO_AGENT                          \
    }

/* The help text of the signing options, for each command's usage. */
#define CLI_SIGN_OPTIONS_HELP                                                  \
    "KEY-URI is the private key's PKCS#11 URI (e.g. \"pkcs11:token=hsm;\n"     \
    "object=app;type=private\"); a profile's 'key' when not given.\n"          \
    "\n"                                                                       \
    "signing options (the same for assert, token and exec):\n"                 \
    "  --tenant TENANT       directory (tenant) ID or domain\n"                \
    "                        (or $AZURE_TENANT_ID, or a profile's tenant)\n"   \
    "  --client-id APPID     the app's Application (client) ID\n"              \
    "                        (or $AZURE_CLIENT_ID, or a profile's)\n"          \
    "  --cloud NAME          global (default), usgov (GCC High), usgov-dod,\n" \
    "                        china\n"                                          \
    "  --authority-host URL  the login host (or $AZURE_AUTHORITY_HOST;\n"      \
    "                        default: the cloud's); https only\n"              \
    "  --alg PS256|RS256     assertion signature (default PS256; a token\n"    \
    "                        without RSA-PSS gets RS256, with a warning)\n"    \
    "  --lifetime SECONDS    the assertion's exp - iat; default (or 0) 600,\n" \
    "                        at most 3600\n"                                   \
    "  --cert FILE           the certificate (PEM or DER) to name in the\n"    \
    "                        assertion instead of the one on the token\n"      \
    "  --profile NAME        take values from this profile (or\n"              \
    "                        $ENTRAKEY_PROFILE; else the profile 'default')\n" \
    "  --config FILE         the only configuration file to read (or\n"        \
    "                        $ENTRAKEY_CONFIG; default: the user's\n"          \
    "                        ~/.config/entrakey/config, then\n"                \
    "                        /etc/entrakey/config)\n"                          \
    "  --resource NAME       exo (default), graph, arm or compliance: its\n"   \
    "                        /.default scope in the cloud (token, exec)\n"     \
    "  --scope SCOPE         the scope itself (e.g. URI/.default); instead\n"  \
    "                        of --resource (token, exec)\n"                    \
    "  --ca-file PEM         CA certificates to trust in addition to the\n"    \
    "                        system's; TLS is always verified (token, exec)\n" \
    "  --timeout SECONDS     per attempt, 1-600 (default 30); a timeout or\n"  \
    "                        a lost connection is tried once more\n"           \
    "  --max-wait SECONDS    longest Retry-After wait honoured on HTTP\n"      \
    "                        429/503, 1-3600 (default 60)\n"                   \
    "  --organization DOMAIN the *.onmicrosoft.com domain (powershell\n"       \
    "                        format, ENTRAKEY_ORGANIZATION)\n"                 \
    "  --audit SPEC          one audit event per signature and token:\n"       \
    "                        json:PATH (JSON lines), json:- or journal (or\n"  \
    "                        a profile's audit =); see "                       \
    "docs/agent.md\n" CLI_AGENT_HELP                                           \
    "  --module PATH, --pin-source SRC, --allow-final-pin-try, -v: see\n"      \
    "                        entrakey --help\n"                                \
    "\n"                                                                       \
    "Precedence: options, then a named profile (--profile or\n"                \
    "ENTRAKEY_PROFILE), then the environment (AZURE_TENANT_ID,\n"              \
    "AZURE_CLIENT_ID, AZURE_AUTHORITY_HOST, ENTRAKEY_MODULE), then the\n"      \
    "profile 'default'; -v says where each value came from.\n"

/* The fields a profile can hold (the keys of the configuration file). */
enum cli_sign_field {
    CLI_SF_KEY,
    CLI_SF_TENANT,
    CLI_SF_CLIENT_ID,
    CLI_SF_MODULE,
    CLI_SF_PIN_SOURCE,
    CLI_SF_CLOUD,
    CLI_SF_RESOURCE,
    CLI_SF_SCOPE,
    CLI_SF_ALG,
    CLI_SF_ORGANIZATION,
    CLI_SF_AUTHORITY_HOST,
    CLI_SF_CA_FILE,
    CLI_SF_AUDIT,
    CLI_SF_COUNT
};
/* Where a value came from; a lower number wins. */
enum cli_origin {
    CLI_FROM_NONE,
    CLI_FROM_FLAG,
    CLI_FROM_PROFILE,
    CLI_FROM_ENV,
    CLI_FROM_DEFAULT_PROFILE,
};
#define CLI_DEFAULT_PROFILE "default"

/* The configuration files read: --config or ENTRAKEY_CONFIG alone, else
 * the user's then the system's. A profile is taken whole from the first
 * file that has it (the user's wins, per profile). */
struct cli_config_file {
    char *path;
    struct ek_config *cfg;
};
struct cli_config {
    struct cli_config_file file[2];
    size_t n;
    int single;           /* one file named by --config / ENTRAKEY_CONFIG */
    const char *named_by; /* "--config", "ENTRAKEY_CONFIG" or NULL */
    char *no_user;        /* why there is no user file, or NULL */
};
/* Opens the files; strict: a file that cannot be read is an error (else a
 * warning). 0 or an exit code after printing why. */
int cli_config_open(struct cli *cli, struct cli_config *cc, const char *config,
                    int strict);
void cli_config_free(struct cli_config *cc);
/* The file holding profile, or NULL. */
const struct cli_config_file *cli_config_find(const struct cli_config *cc,
                                              const char *profile);
/* 1 when cfg has the profile. */
int cli_config_has(const struct ek_config *cfg, const char *profile);
/* Prints "no profile NAME in FILES" for cmd. */
void cli_config_no_profile(const struct cli_config *cc, const char *cmd,
                           const char *profile);

struct cli_audit;
struct cli_sign {
    const char *cmd;
    const char *val[CLI_SF_COUNT];
    enum cli_origin origin[CLI_SF_COUNT];
    const char *profile;     /* the profile used (named or "default") */
    const char *profile_via; /* "--profile" or "ENTRAKEY_PROFILE" */
    int profile_named;
    const char *profile_file;
    const char *config; /* --config */
    const char *cert_file;
    unsigned timeout, max_wait, lifetime;
    int agent_mode;          /* -1 --no-agent, 0 default, 1 --agent */
    int no_app;              /* no request is made (check without
                                --token): tenant and client id are not
                                required */
    char *agent_sock;        /* the agent that served the token, or NULL */
    struct cli_audit *audit; /* --audit or the profile's audit =, or NULL */
    /* resolved */
    struct cli_config cc;
    char *authority_buf;
    enum ek_cloud cloud;
    enum ek_resource resource;
    enum ek_alg alg;
};
void cli_sign_init(struct cli_sign *s, const char *cmd);
/* Handles a signing option: 0 done, -1 not one, > 0 an exit code. */
int cli_sign_opt(struct cli_sign *s, int c, const char *arg);
/* What a signing command adds to the shared option loop. */
struct cli_sign_cmd {
    const struct option *longopts; /* CLI_COMMON_, CLI_SIGN_ and its own */
    const char *usage;             /* printed by -h/--help */
    /* its own options: 0 handled, -1 not its own, > 0 an exit code;
     * NULL: it has none */
    int (*own)(void *arg, int c, const char *optarg);
    void *arg;
    const char *extra; /* said after "unexpected argument 'X'", or NULL */
};
/* The option loop of assert, token and exec (the agent later): the
 * command's own options, then the signing and the common ones, -h/--help;
 * then KEY-URI, the one argument among argv[optind..nargs). Returns 0 to go
 * on, -1 after printing the help (exit 0), or an exit code after printing
 * why. */
int cli_sign_args(struct cli *cli, struct cli_sign *s, int nargs, char **argv,
                  const struct cli_sign_cmd *cmd);
/* Applies the precedence, checks and parses what can be checked before
 * the token is touched (no PIN is asked for a doomed request), and sets
 * cli->module and cli->pin_source. 0 or an exit code after printing why. */
int cli_sign_resolve(struct cli *cli, struct cli_sign *s);
/* Fills p (zeroed first) from the resolved values. */
void cli_sign_assertion(const struct cli_sign *s,
                        struct ek_assertion_params *p);
/* "--tenant", "profile P in FILE", "environment AZURE_TENANT_ID" … */
const char *cli_sign_origin(const struct cli_sign *s, enum cli_sign_field f,
                            char *buf, size_t len);
/* After a failed signing or request: what the origins tell the user. */
void cli_sign_after_error(const struct cli *cli, const struct cli_sign *s,
                          ek_err r);
/* --audit: one event ("assertion" or "token") with result r, the path
 * taken ("direct" or "agent"), the jti (or NULL) and, on the direct path,
 * the identifiers the context holds. Nothing without --audit. */
void cli_sign_audit(const struct cli *cli, const struct cli_sign *s,
                    const char *event, ek_err r, const char *path,
                    const char *jti);
void cli_sign_free(struct cli_sign *s);

/* token and exec: opens the key, signs, and asks for the access token;
 * the key (and its session) is closed before it returns unless keyp, which
 * then holds it. 0 or an exit code after printing why. */
int cli_token_acquire(struct cli *cli, struct cli_sign *s,
                      struct ek_access_token **atp, struct ek_key **keyp);
/* The direct path (direct.c), when no agent serves the request: the
 * --cert file, the key opened on the token, the signature and, for a
 * token, the request; the audit events and the messages. p is the
 * request as cli_token_acquire or assert made it. 0 or an exit code after
 * printing why. In the agent's client (src/cli/fast/) these start the
 * whole command instead. */
int cli_direct_token(struct cli *cli, struct cli_sign *s,
                     struct ek_access_token_params *p,
                     struct ek_access_token **atp, struct ek_key **keyp);
int cli_direct_assert(struct cli *cli, struct cli_sign *s,
                      struct ek_assertion_params *p, struct ek_secret **jwtp);
/* token and exec: the organization (the tenant when it is a domain). */
int cli_token_check_org(struct cli_sign *s);

/* PS256/rsa-pss or RS256/rsa-pkcs1 (any case); 0 ok, -1 unknown. */
int cli_alg_parse(const char *s, enum ek_alg *alg);

/* The agent socket to ask (agent_use.c): mode -1 --no-agent (*sockp
 * NULL), 1 --agent (the socket, whether there or not), 0 the default:
 * $ENTRAKEY_AGENT_SOCK, or the default socket when it exists. Returns 0,
 * or an exit code after printing why. The caller frees *sockp (ek_free). */
int cli_agent_sock(struct cli *cli, int mode, char **sockp);
/* After asking the agent: 0 when it answered (said at -v), -1 when the
 * direct path should be taken (no agent for the key, mode 0; said at -v),
 * else the exit code after printing the agent's error. */
int cli_agent_fallback(struct cli *cli, int mode, const char *sock, ek_err r);
#define CLI_AGENT_HELP                                                         \
    "  --agent               ask the running entrakey agent only (fail\n"      \
    "                        when none serves the key)\n"                      \
    "  --no-agent            sign here even when an agent runs (default:\n"    \
    "                        the agent at $ENTRAKEY_AGENT_SOCK or the\n"       \
    "                        default socket when it serves the key)\n"
/* The log callback -v installs ("entrakey: [ms] message"). */
void cli_log_to_stderr(void *arg, enum ek_log_level level, const char *msg);

/* Subcommands: argv[0] is the command's name; return the exit code. */
int cmd_tokens(struct cli *cli, int argc, char **argv);
int cmd_keys(struct cli *cli, int argc, char **argv);
int cmd_keygen(struct cli *cli, int argc, char **argv);
int cmd_cert(struct cli *cli, int argc, char **argv);
int cmd_init(struct cli *cli, int argc, char **argv);
int cmd_assert(struct cli *cli, int argc, char **argv);
int cmd_token(struct cli *cli, int argc, char **argv);
int cmd_exec(struct cli *cli, int argc, char **argv);
int cmd_profile(struct cli *cli, int argc, char **argv);
int cmd_check(struct cli *cli, int argc, char **argv);
int cmd_quickstart(struct cli *cli, int argc, char **argv);
int cmd_rotate(struct cli *cli, int argc, char **argv);
int cmd_agent(struct cli *cli, int argc, char **argv); /* src/agent/ */
/* `exec --managed-identity` (src/agent/agent_mi.c): serves the endpoint
 * for child's lifetime and returns its exit code. */
int agent_mi_exec(struct cli *cli, struct cli_sign *s, const char *listen_spec,
                  char **child);

#endif /* EK_CLI_H */
