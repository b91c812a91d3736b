/* wi.h: the workload-identity assertion file (docs/workload-identity.md):
 * a bare JWT kept fresh in a file for AZURE_FEDERATED_TOKEN_FILE, by
 * `entrakey exec --workload-identity` and `entrakey agent
 * --assertion-file`. */
#ifndef EK_WI_H
#define EK_WI_H

#include <stddef.h>

#include "cli.h"

#define WI_LIFETIME_DEFAULT 3600u /* the assertion's exp - iat */
#define WI_REFRESH_DEFAULT 300u   /* a new one every so many seconds */
/* a reader never sees one with less left: azure-identity keeps what it
 * read for 5-10 minutes before it reads the file again */
#define WI_MIN_LEFT 600u
#define WI_LIFETIME_MIN (WI_MIN_LEFT + 60u)
#define WI_LIFETIME_MAX 3600u /* the library's limit */
#define WI_REFRESH_MIN 1u
#define WI_REFRESH_MAX (WI_LIFETIME_MAX - WI_MIN_LEFT)
#define WI_FILE_NAME "azure-identity-token" /* exec's file in its dir */

/* Checks a lifetime and refresh interval: lifetime in [660, 3600],
 * refresh in [1, 3000], and lifetime - refresh >= 600, so that the file
 * always holds an assertion with at least 10 minutes left. 0, or -1 with
 * the reason in msg. */
int wi_timing_check(unsigned lifetime, unsigned refresh, char *msg,
                    size_t msgsz);

/* Signs one assertion of the given lifetime into *jwtp (the caller frees
 * it). *revoke set to 1 asks for the file to go at once (the agent was
 * locked). Returns EK_OK or the error, with the sentence in msg. Called
 * from the keeper's thread only, after wi_keeper_first. */
typedef ek_err wi_sign_fn(void *arg, unsigned lifetime, struct ek_secret **jwtp,
                          int *revoke, char *msg, size_t msgsz);
/* Reports an event: "written", "failed", "removed" with a sentence that
 * never holds the assertion. */
typedef void wi_event_fn(void *arg, const char *event, const char *text);

struct wi_keeper;

/* Prepares to keep path fresh: its directory must be this user's (or
 * root's) and writable by nobody else; created 0700 when missing and
 * mkdir is set. *kp is freed with wi_keeper_close. 0, or -1 with the
 * reason in msg. */
int wi_keeper_open(struct wi_keeper **kp, const char *path, int mkdir_ok,
                   unsigned lifetime, unsigned refresh, wi_sign_fn *sign,
                   wi_event_fn *event, void *arg, char *msg, size_t msgsz);
/* The first assertion, written before anyone is told of the file. EK_OK,
 * or the signing error (msg says why; nothing written). */
ek_err wi_keeper_first(struct wi_keeper *k, char *msg, size_t msgsz);
/* Starts the thread that rewrites the file every refresh seconds; after
 * a failure it keeps the file while it has 10 minutes left, retries (5 s
 * doubling to 60 s) and removes it when it would have less. 0 or -1. */
int wi_keeper_start(struct wi_keeper *k);
/* Stops the thread, removes the file (and the directory when rmdir is
 * set and it is empty), frees *kp. NULL-safe. */
void wi_keeper_close(struct wi_keeper **kp, int rmdir_too);
/* The file's path (as given). */
const char *wi_keeper_path(const struct wi_keeper *k);

/* exec --workload-identity (cmd_exec_wi.c): runs the child with the four
 * variables and keeps its file fresh until it ends. Returns the child's
 * exit code, or entrakey's. */
int cli_exec_wi(struct cli *cli, struct cli_sign *s, char **child,
                unsigned refresh);

#endif /* EK_WI_H */
