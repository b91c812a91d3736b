/* cmd_exec_wi.c: `entrakey exec --workload-identity`: the child runs with
 * AZURE_FEDERATED_TOKEN_FILE (a fresh client assertion in a private
 * directory), AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_AUTHORITY_HOST in
 * its environment alone; entrakey stays, rewrites the file while the child
 * runs, and removes it when the child ends or on SIGTERM/SIGINT/SIGHUP/
 * SIGQUIT (forwarded to the child). docs/workload-identity.md. */
#define _GNU_SOURCE /* mkdtemp, sigwaitinfo */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wi.h"

extern char **environ;

/* What the keeper's thread signs with: the agent, or the key here. */
struct wi_exec {
    struct cli *cli;
    struct cli_sign *s;
    struct ek_access_token_params p;
    struct ek_cert *cert;
    struct ek_key *key;
    const char *sock; /* the agent's, or NULL */
    int first;        /* the first signature: its errors are printed */
    ek_err pin_err;   /* a PIN error: never tried again */
};

/* Variables that would make DefaultAzureCredential take another
 * credential before the file (a client secret, a certificate, a user, a
 * managed-identity endpoint): not given to the child. */
static const char *const shadowing[] = {
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "AZURE_USERNAME",
    "AZURE_PASSWORD",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "IDENTITY_SERVER_THUMBPRINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "IMDS_ENDPOINT",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_AUTHORITY_HOST",
    NULL,
};

static int
is_pin_error(ek_err r)
{
    return r == EK_ERR_PIN || r == EK_ERR_PIN_LOCKED ||
           r == EK_ERR_PIN_REQUIRED || r == EK_ERR_CANCELED;
}

static ek_err
exec_sign(void *arg, unsigned lifetime, struct ek_secret **jwtp, int *revoke,
          char *msg, size_t msgsz)
{
    struct wi_exec *x = arg;
    struct ek_ctx *ctx = x->cli->ctx;
    ek_err r;

    (void)revoke;
    x->p.assertion.lifetime = lifetime;
    if (x->pin_err != EK_OK) {
        snprintf(msg, msgsz,
                 "the PIN was refused or is unavailable (%s); a PIN "
                 "is never tried twice: restart entrakey exec",
                 ek_strerror(x->pin_err));
        return x->pin_err;
    }
    if (x->sock != NULL) {
        r = ek_agent_assertion(ctx, x->sock, x->s->val[CLI_SF_KEY], &x->p,
                               jwtp);
        if (x->first && r == EK_ERR_NO_AGENT && x->s->agent_mode == 0) {
            /* no agent for this key: sign here from now on */
            if (x->cli->verbose)
                fprintf(stderr, "entrakey: %s; signing directly\n",
                        ek_ctx_errmsg(ctx));
            x->sock = NULL;
        } else {
            if (r == EK_OK && x->first && x->cli->verbose)
                fprintf(stderr, "entrakey: served by the agent at %s\n",
                        x->sock);
            if (r != EK_OK)
                snprintf(msg, msgsz, "%s", ek_ctx_errmsg(ctx));
            return r;
        }
    }
    if (x->key == NULL &&
        (r = ek_key_open(ctx, x->s->val[CLI_SF_KEY], &x->key)) != EK_OK)
        goto fail;
    if ((r = ek_assertion_sign(ctx, x->key, &x->p.assertion, jwtp)) != EK_OK)
        goto fail;
    return EK_OK;
fail:
    snprintf(msg, msgsz, "%s", ek_ctx_errmsg(ctx));
    if (is_pin_error(r))
        x->pin_err = r;
    /* the token gone: found again (and logged in from a file: source) at
     * the next try; the session of this key is lost anyway */
    if (r == EK_ERR_DEVICE)
        ek_key_free(&x->key);
    return r;
}

static void
exec_event(void *arg, const char *event, const char *text)
{
    struct wi_exec *x = arg;

    if (strcmp(event, "written") != 0 || x->cli->verbose)
        fprintf(stderr, "entrakey exec: %s\n", text);
}

/* A private directory: $XDG_RUNTIME_DIR/entrakey/wi-XXXXXX (its parent
 * made 0700 when missing, and refused when others can enter it), else
 * ${TMPDIR:-/tmp}/entrakey-wi-XXXXXX. mkdtemp makes it 0700. */
static char *
private_dir(char *msg, size_t msgsz)
{
    const char *rt = getenv("XDG_RUNTIME_DIR"), *tmp = getenv("TMPDIR");
    struct stat st;
    char *d = NULL;
    size_t n;

    if (rt != NULL && rt[0] == '/') {
        n = strlen(rt) + sizeof "/entrakey/wi-XXXXXX";
        if ((d = malloc(n)) == NULL)
            goto oom;
        snprintf(d, n, "%s/entrakey", rt);
        if ((mkdir(d, 0700) == 0 || errno == EEXIST) && lstat(d, &st) == 0 &&
            S_ISDIR(st.st_mode) && st.st_uid == geteuid() &&
            (st.st_mode & 077) == 0) {
            snprintf(d, n, "%s/entrakey/wi-XXXXXX", rt);
            if (mkdtemp(d) != NULL)
                return d;
        }
        free(d);
    }
    if (tmp == NULL || tmp[0] != '/')
        tmp = "/tmp";
    n = strlen(tmp) + sizeof "/entrakey-wi-XXXXXX";
    if ((d = malloc(n)) == NULL)
        goto oom;
    snprintf(d, n, "%s/entrakey-wi-XXXXXX", tmp);
    if (mkdtemp(d) != NULL)
        return d;
    snprintf(msg, msgsz, "cannot make a private directory in %s: %s", tmp,
             strerror(errno));
    free(d);
    return NULL;
oom:
    snprintf(msg, msgsz, "out of memory");
    return NULL;
}

static int
shadowed(const char *entry)
{
    size_t i, n;

    for (i = 0; shadowing[i] != NULL; i++) {
        n = strlen(shadowing[i]);
        if (strncmp(entry, shadowing[i], n) == 0 && entry[n] == '=')
            return 1;
    }
    return 0;
}

/* The child's environment: ours (after the PIN source was scrubbed)
 * without the shadowing variables, with the four of workload identity in
 * own[] (the caller frees them and the array). Our own environment is
 * left as it is. */
static char **
child_env(const char *const vals[4], char *own[4])
{
    static const char *const names[4] = {"AZURE_FEDERATED_TOKEN_FILE",
                                         "AZURE_CLIENT_ID", "AZURE_TENANT_ID",
                                         "AZURE_AUTHORITY_HOST"};
    char **env;
    size_t n = 0, i, j = 0, len;

    while (environ[n] != NULL)
        n++;
    if ((env = calloc(n + 5, sizeof *env)) == NULL)
        return NULL;
    for (i = 0; i < n; i++)
        if (!shadowed(environ[i]))
            env[j++] = environ[i];
    for (i = 0; i < 4; i++) {
        len = strlen(names[i]) + strlen(vals[i]) + 2;
        if ((own[i] = malloc(len)) == NULL) {
            free(env);
            return NULL;
        }
        snprintf(own[i], len, "%s=%s", names[i], vals[i]);
        env[j++] = own[i];
    }
    env[j] = NULL;
    return env;
}

int
cli_exec_wi(struct cli *cli, struct cli_sign *s, char **child, unsigned refresh)
{
    struct wi_exec x;
    struct wi_keeper *k = NULL;
    posix_spawnattr_t attr;
    sigset_t sigs, none, def;
    siginfo_t info;
    char msg[700] = "", *dir = NULL, *file = NULL, **env = NULL;
    char *own[4] = {NULL, NULL, NULL, NULL};
    const char *vals[4];
    unsigned lifetime = s->lifetime != 0 ? s->lifetime : WI_LIFETIME_DEFAULT;
    int rc, attr_made = 0, st, sig, e;
    pid_t pid = -1, w;
    size_t n;
    ek_err r;

    memset(&x, 0, sizeof x);
    x.cli = cli;
    x.s = s;
    x.first = 1;
    if (wi_timing_check(lifetime, refresh, msg, sizeof msg) != 0)
        return cli_usage(s->cmd, NULL, "%s (--lifetime, --assertion-refresh)",
                         msg);
    if ((rc = cli_apply(cli)) != 0)
        return rc;
    if (s->cert_file != NULL &&
        (r = ek_cert_load_file(cli->ctx, s->cert_file, &x.cert)) != EK_OK)
        return cli_fail(cli, r);
    cli_sign_assertion(s, &x.p.assertion);
    x.p.assertion.cert = x.cert;
    /* the agent wants a scope with an assertion; none is part of it */
    x.p.scope = "https://graph.microsoft.com/.default";
    x.p.ca_file = s->val[CLI_SF_CA_FILE];
    if (s->cert_file == NULL &&
        (rc = cli_agent_sock(cli, s->agent_mode, &s->agent_sock)) != 0)
        goto out;
    x.sock = s->agent_sock;
    if ((dir = private_dir(msg, sizeof msg)) == NULL) {
        fprintf(stderr, "entrakey exec: %s\n", msg);
        rc = CLI_EXIT_FILE;
        goto out;
    }
    n = strlen(dir) + sizeof "/" WI_FILE_NAME;
    if ((file = malloc(n)) == NULL) {
        rc = CLI_EXIT_INTERNAL;
        goto out;
    }
    snprintf(file, n, "%s/%s", dir, WI_FILE_NAME);
    if (wi_keeper_open(&k, file, 0, lifetime, refresh, exec_sign, exec_event,
                       &x, msg, sizeof msg) != 0) {
        fprintf(stderr, "entrakey exec: %s\n", msg);
        rc = CLI_EXIT_FILE;
        goto out;
    }
    if ((r = wi_keeper_first(k, msg, sizeof msg)) != EK_OK) {
        if (r == EK_ERR_IO)
            fprintf(stderr, "entrakey exec: %s\n", msg);
        else if (x.key == NULL && x.sock == NULL)
            (void)cli_fail_uri(cli, r, s->val[CLI_SF_KEY]);
        else
            (void)cli_fail(cli, r);
        cli_sign_after_error(cli, s, r);
        rc = r == EK_ERR_IO ? CLI_EXIT_FILE : cli_exit_code(r);
        goto out;
    }
    x.first = 0;
    /* no PIN and no PIN source reaches the child; and none is asked for
     * on the terminal the child now has */
    ek_ctx_pin_source_scrub(cli->ctx);
    if (x.key != NULL)
        ek_key_pin_source_scrub(x.key);
    ek_ctx_set_pin_prompt(cli->ctx, NULL, NULL);
    vals[0] = file;
    vals[1] = s->val[CLI_SF_CLIENT_ID];
    vals[2] = s->val[CLI_SF_TENANT];
    vals[3] = x.p.assertion.authority_host != NULL
                  ? x.p.assertion.authority_host
                  : ek_cloud_authority_host(s->cloud);
    if ((env = child_env(vals, own)) == NULL) {
        fprintf(stderr, "entrakey exec: out of memory\n");
        rc = CLI_EXIT_INTERNAL;
        goto out;
    }
    /* signals come to this thread by sigwaitinfo; the keeper inherits the
     * mask, the child gets an empty one */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGCHLD);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGQUIT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    if (wi_keeper_start(k) != 0) {
        fprintf(stderr, "entrakey exec: cannot start a thread\n");
        rc = CLI_EXIT_INTERNAL;
        goto out;
    }
    sigemptyset(&none);
    if (posix_spawnattr_init(&attr) != 0) {
        rc = CLI_EXIT_INTERNAL;
        goto out;
    }
    attr_made = 1;
    (void)posix_spawnattr_setsigmask(&attr, &none);
    /* and SIGPIPE, which entrakey ignores, is the child's again */
    def = sigs;
    sigaddset(&def, SIGPIPE);
    (void)posix_spawnattr_setsigdefault(&attr, &def);
    (void)posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
                                              POSIX_SPAWN_SETSIGDEF);
    fflush(stdout);
    fflush(stderr);
    e = posix_spawnp(&pid, child[0], NULL, &attr, child, env);
    if (e != 0) {
        pid = -1;
        if (e == ENOENT) {
            fprintf(stderr,
                    "entrakey exec: cannot run '%s': command not found\n",
                    child[0]);
            rc = 127;
        } else {
            fprintf(stderr, "entrakey exec: cannot run '%s': %s%s\n", child[0],
                    strerror(e),
                    e == EACCES || e == ENOEXEC ? " (is it an executable file?)"
                                                : "");
            rc = 126;
        }
        goto out;
    }
    for (;;) {
        sig = sigwaitinfo(&sigs, &info);
        if (sig < 0)
            continue;
        if (sig == SIGCHLD) {
            w = waitpid(pid, &st, WNOHANG);
            if (w == pid && (WIFEXITED(st) || WIFSIGNALED(st)))
                break;
            continue;
        }
        /* sent to us by a process (kill): the child has it too; from the
         * terminal (SI_KERNEL) the child got its own */
        if (info.si_code <= 0)
            (void)kill(pid, sig);
        /* the credential goes now, whatever the child does next */
        wi_keeper_close(&k, 1);
    }
    pid = -1;
    rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
out:
    if (pid > 0) {
        (void)kill(pid, SIGTERM);
        (void)waitpid(pid, NULL, 0);
    }
    if (attr_made)
        posix_spawnattr_destroy(&attr);
    wi_keeper_close(&k, 1);
    if (k == NULL && dir != NULL)
        (void)rmdir(dir); /* when the keeper never opened */
    free(env);
    for (n = 0; n < 4; n++)
        free(own[n]);
    free(file);
    free(dir);
    ek_key_free(&x.key);
    ek_cert_free(&x.cert);
    return rc;
}
