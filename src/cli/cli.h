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
    CLI_EXIT_INTERNAL = 1,  /* unexpected failure, out of memory */
    CLI_EXIT_USAGE = 2,     /* bad arguments, bad configuration */
    CLI_EXIT_TOKEN = 3,     /* module, token, key, mechanism, session */
    CLI_EXIT_PIN = 4,       /* PIN incorrect, locked, final try, no source */
    CLI_EXIT_ENTRA = 5,     /* the Entra ID token endpoint refused */
    CLI_EXIT_NETWORK = 6,   /* connection, TLS, timeout, throttling */
    CLI_EXIT_FILE = 7,      /* a local file cannot be read or written */
    CLI_EXIT_EXISTS = 8,    /* would replace a file or token object */
    CLI_EXIT_CERT = 9,      /* certificate invalid, mismatched, expired */
};

/* The state every command shares. */
struct cli {
    struct ek_ctx *ctx;
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
    OPT_CMD_BASE = 1100, /* commands number their own options from here */
};
#define CLI_COMMON_LONGOPTS                                                   \
    {"module", required_argument, NULL, OPT_MODULE},                          \
        {"pin-source", required_argument, NULL, OPT_PIN_SOURCE},              \
        {"so-pin-source", required_argument, NULL, OPT_SO_PIN_SOURCE},        \
        {"allow-final-pin-try", no_argument, NULL, OPT_ALLOW_FINAL_PIN_TRY},  \
        {"insecure-allow-extractable-key", no_argument, NULL,                 \
         OPT_INSECURE_EXTRACTABLE},                                           \
        {"json", no_argument, NULL, OPT_JSON},                                \
        {"verbose", no_argument, NULL, 'v'},                                  \
        {"help", no_argument, NULL, 'h'}
#define CLI_COMMON_SHORTOPTS "vh"

/* Handles a common option. Returns 0 if handled, -1 if c is not common,
 * or an exit code > 0 (usage) after printing why. */
int cli_common_opt(struct cli *cli, int c, const char *arg, const char *cmd,
                   const char *usage);

/* Applies --module, --pin-source and the flags to the context; call after
 * option parsing. Returns 0 or an exit code after printing the error. */
int cli_apply(struct cli *cli);

/* Prints "entrakey: <the context's sentence>" and returns the exit code for
 * e. */
int cli_fail(struct cli *cli, ek_err e);
/* Prints "entrakey CMD: <message>" and the usage hint; returns 2. */
int cli_usage(const char *cmd, const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The exit code for a library error. */
int cli_exit_code(ek_err e);
/* For clang-tidy's analyzer, which sees one file at a time: cli_usage
 * returns CLI_EXIT_USAGE and cli_fail a failure (see src/internal.h). */
#if defined(__clang_analyzer__) && !defined(EK_CLI_MAIN_C)
#define cli_usage(cmd, usage, ...) \
    (cli_usage((cmd), (usage), __VA_ARGS__), CLI_EXIT_USAGE)
#define cli_fail(cli, e) \
    (cli_fail((cli), (e)), (e) == EK_OK ? CLI_EXIT_OK : CLI_EXIT_INTERNAL)
#endif
/* Prints a warning "entrakey: warning: …" on stderr. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

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
/* Parses a hex id (an optional 0x; ':' allowed between bytes, as
 * pkcs11-tool prints ids) into at most max bytes; 0 ok, -1 bad. */
int cli_parse_hex(const char *s, unsigned char *out, size_t max,
                  size_t *len);

/* Parses a whole unsigned number in [min, max]; 0 ok, -1 bad. */
int cli_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out);

/* The agent socket to ask (agent_use.c): mode -1 --no-agent (*sockp
 * NULL), 1 --agent (the socket, whether there or not), 0 the default:
 * $ENTRAKEY_AGENT_SOCK, or the default socket when it exists. Returns 0,
 * or an exit code after printing why. The caller frees *sockp (ek_free). */
int cli_agent_sock(struct cli *cli, int mode, char **sockp);
/* After asking the agent: 0 when it answered (said at -v), -1 when the
 * direct path should be taken (no agent for the key, mode 0; said at -v),
 * else the exit code after printing the agent's error. */
int cli_agent_fallback(struct cli *cli, int mode, const char *sock,
                       ek_err r);
#define CLI_AGENT_HELP                                                        \
    "  --agent               ask the running entrakey agent only (fail\n"  \
    "                        when none serves the key)\n"                    \
    "  --no-agent            sign here even when an agent runs (default:\n"\
    "                        the agent at $ENTRAKEY_AGENT_SOCK or the\n"     \
    "                        default socket when it serves the key)\n"

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
int cmd_quickstart(struct cli *cli, int argc, char **argv);
int cmd_agent(struct cli *cli, int argc, char **argv); /* src/agent/ */

/* The terminal PIN prompt (no echo; EK_ERR_PIN_REQUIRED without a TTY). */
ek_err cli_prompt_pin(void *arg, const char *prompt, char *buf,
                      size_t bufsz);
/* The log callback -v installs ("entrakey: [ms] message"). */
void cli_log_to_stderr(void *arg, enum ek_log_level level, const char *msg);

#endif /* EK_CLI_H */
