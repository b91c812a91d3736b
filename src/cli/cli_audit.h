/* cli_audit.h: the audit trail that `entrakey agent` and the one-shot
 * commands (token, assert, exec with --audit) share: one structured event
 * per signature, token, login, removal, refusal, lock and unlock. */
#ifndef EK_CLI_AUDIT_H
#define EK_CLI_AUDIT_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

struct cli_audit;

/* Who asked: the agent's caller (SO_PEERCRED), or the command itself. */
struct cli_caller {
    pid_t pid;
    uid_t uid;
    gid_t gid;
    char exe[256];
};

/* Opens the trail spec names: "json:PATH" (JSON lines appended to PATH,
 * created 0600, never through a symbolic link), "json:-" (stdout) or
 * "journal" (journald, when built with libsystemd). 0, or -1 with the
 * reason in msg. */
int cli_audit_open(struct cli_audit **aup, const char *spec, char *msg,
                   size_t msgsz);
void cli_audit_close(struct cli_audit **aup); /* NULL-safe */

/* Writes one event (au NULL: nothing): event is "assertion", "token",
 * "login", "removal", "refusal", "lock", "unlock"; result "ok" or the
 * error's name; then name/value pairs ending with a (const char *)NULL
 * name. A NULL or "" value is left out; a "key" value has its pin-value
 * replaced. Never pass a PIN, an assertion or a token. Thread-safe. */
void cli_audit_event(struct cli_audit *au, const char *event,
                     const char *result, const struct cli_caller *who, ...);
void cli_audit_vevent(struct cli_audit *au, const char *event,
                      const char *result, const struct cli_caller *who,
                      va_list ap);

/* 1 when spec is one cli_audit_open understands (json:..., journal). */
int cli_audit_spec_ok(const char *spec);

/* The jti claim of a JWT's payload (a UUID), in out; "" when there is
 * none. The JWT itself is not kept. */
void cli_audit_jwt_jti(const char *jwt, char *out, size_t outsz);

/* This process as a caller (pid, uid, gid, /proc/self/exe). */
void cli_caller_self(struct cli_caller *who);

#endif /* EK_CLI_AUDIT_H */
