/* agent_main.c: `entrakey agent`: options, the socket (made here or handed
 * over by systemd), the PIN once, foreground or --daemon, signals. */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent.h"
#include "agent_wi.h"
#include "../cli/wi.h"

static const char usage_agent[] =
    "usage: entrakey agent [KEY-URI...] [--profile NAME...] [options]\n"
    "\n"
    "Holds the keys' token sessions (the PIN read once, one C_Login) and\n"
    "serves access tokens and client assertions to this user's processes\n"
    "over HTTP/1.1 + JSON on a Unix socket; tokens are cached in memory and\n"
    "refreshed ahead of expiry. `entrakey token`, `assert` and `exec` use\n"
    "it by themselves. See docs/agent.md.\n"
    "\n"
    "options:\n"
    "  --profile NAME        serve the profile's key (repeatable)\n"
    "  --config FILE         the profiles file\n"
    "  --socket PATH         where to listen (default: $ENTRAKEY_AGENT_SOCK,\n"
    "                        else $XDG_RUNTIME_DIR/entrakey/agent.sock);\n"
    "                        systemd socket activation (LISTEN_FDS) wins\n"
    "  --daemon              detach once the keys are logged in\n"
    "  --min-lifetime SECS   serve cached tokens while this many seconds\n"
    "                        are left, 60-3000 (default 300)\n"
    "  --allow-uid UID       also serve this user (repeatable; every other\n"
    "                        user is refused and logged); the socket's\n"
    "                        directory is then 0711 and the socket 0666\n"
    "  --audit SPEC          json:PATH (JSON lines; json:- for stdout) or\n"
    "                        journal: one event per signature and token\n"
    "  --managed-identity[=127.0.0.1:PORT]\n"
    "                        also serve a managed-identity endpoint on\n"
    "                        127.0.0.1 for the first --profile's app; its\n"
    "                        variables go to managed-identity.env beside\n"
    "                        the socket "
    "(docs/managed-identity.md)\n" AGENT_WI_HELP
    "  --pin-source SRC      env:NAME | file:PATH | fd:N; default: the\n"
    "                        systemd credential 'entrakey-pin' when there\n"
    "                        is one, else the terminal\n"
    "  --module PATH, -v:    see entrakey --help\n"
    "\n"
    "Signals: SIGHUP reloads (cache emptied, keys opened again with the\n"
    "kept PIN); SIGTERM logs out, wipes the PIN and exits 0.\n";

enum {
    OPT_PROFILE = OPT_CMD_BASE,
    OPT_CONFIG,
    OPT_SOCKET,
    OPT_DAEMON,
    OPT_MIN_LIFETIME,
    OPT_ALLOW_UID,
    OPT_AUDIT,
    OPT_MANAGED_IDENTITY,
};

#define MAX_KEYS 16

struct agent_opts {
    const char *uris[MAX_KEYS];
    size_t nuris;
    const char *profiles[MAX_KEYS];
    size_t nprofiles;
    const char *config, *socket, *audit;
    int daemon;
    int mi; /* --managed-identity[=mi_listen] */
    const char *mi_listen;
    struct agent_wi_opts wi; /* --assertion-file (agent_wi.c) */
};

static int
parse(struct cli *cli, struct agent *a, struct agent_opts *o, int argc,
      char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        {"profile", required_argument, NULL, OPT_PROFILE},
        {"config", required_argument, NULL, OPT_CONFIG},
        {"socket", required_argument, NULL, OPT_SOCKET},
        {"daemon", no_argument, NULL, OPT_DAEMON},
        {"min-lifetime", required_argument, NULL, OPT_MIN_LIFETIME},
        {"allow-uid", required_argument, NULL, OPT_ALLOW_UID},
        {"audit", required_argument, NULL, OPT_AUDIT},
        {"managed-identity", optional_argument, NULL, OPT_MANAGED_IDENTITY},
        AGENT_WI_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    unsigned v;
    int c, rc;

    while ((c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS, longopts,
                            NULL)) != -1) {
        switch (c) {
        case OPT_PROFILE:
            if (o->nprofiles == MAX_KEYS)
                return cli_usage("agent", usage_agent,
                                 "at most %d "
                                 "profiles",
                                 MAX_KEYS);
            o->profiles[o->nprofiles++] = optarg;
            break;
        case OPT_CONFIG:
            o->config = optarg;
            break;
        case OPT_SOCKET:
            o->socket = optarg;
            break;
        case OPT_DAEMON:
            o->daemon = 1;
            break;
        case OPT_MIN_LIFETIME:
            if (cli_parse_uint(optarg, 60, 3000, &v) != 0)
                return cli_usage("agent", usage_agent,
                                 "--min-lifetime "
                                 "'%s' is not a number of seconds from 60 "
                                 "to 3000",
                                 optarg);
            a->min_lifetime = v;
            break;
        case OPT_ALLOW_UID:
            if (a->nallow == AGENT_MAX_ALLOW ||
                cli_parse_uint(optarg, 0, 0x7fffffff, &v) != 0)
                return cli_usage("agent", usage_agent,
                                 "--allow-uid '%s' "
                                 "is not a user id (at most %d)",
                                 optarg, AGENT_MAX_ALLOW);
            a->allow[a->nallow++] = (uid_t)v;
            break;
        case OPT_AUDIT:
            o->audit = optarg;
            break;
        case OPT_MANAGED_IDENTITY:
            o->mi = 1;
            o->mi_listen = optarg;
            break;
        default:
            if ((rc = agent_wi_opt(&o->wi, c, optarg, usage_agent)) >= 0) {
                if (rc > 0)
                    return rc;
                break;
            }
            rc = cli_common_opt(cli, c, optarg, "agent", usage_agent);
            if (rc != 0)
                return rc > 0 ? rc
                              : cli_usage("agent", usage_agent,
                                          "invalid arguments");
        }
    }
    while (optind < argc) {
        if (o->nuris == MAX_KEYS)
            return cli_usage("agent", usage_agent, "at most %d keys", MAX_KEYS);
        o->uris[o->nuris++] = argv[optind++];
    }
    if (o->nuris + o->nprofiles == 0)
        return cli_usage("agent", usage_agent,
                         "no key: give KEY-URI or "
                         "--profile NAME");
    if (o->mi && o->nprofiles == 0)
        return cli_usage("agent", usage_agent,
                         "--managed-identity serves the app of a "
                         "profile: give --profile NAME");
    if (o->config != NULL && o->nprofiles == 0)
        return cli_usage("agent", usage_agent,
                         "--config is read for "
                         "--profile NAME; give both");
    return 0;
}

/* The keys: URIs as given, then each profile's key (and its module and
 * PIN source when none was given). */
static int
gather_keys(struct cli *cli, struct agent *a, struct agent_opts *o,
            struct ek_config **cfgp, char **pin_src_buf)
{
    char *path = NULL;
    const char *v;
    size_t i, n = 0;
    ek_err r;

    a->keys = calloc(o->nuris + o->nprofiles, sizeof *a->keys);
    if (a->keys == NULL)
        return CLI_EXIT_INTERNAL;
    for (i = 0; i < o->nuris; i++)
        a->keys[n++].uri = strdup(o->uris[i]);
    if (o->nprofiles > 0) {
        if (o->config == NULL &&
            (r = ek_config_default_path(cli->ctx, &path)) != EK_OK)
            return cli_fail(cli, r);
        r = ek_config_load(cli->ctx, o->config != NULL ? o->config : path, 0,
                           cfgp);
        ek_free(path);
        if (r != EK_OK)
            return cli_fail(cli, r);
    }
    for (i = 0; i < o->nprofiles; i++) {
        if ((v = ek_config_get(*cfgp, o->profiles[i], "key")) == NULL ||
            v[0] == '\0') {
            fprintf(stderr,
                    "entrakey agent: profile '%s' has no key = "
                    "(or there is no such profile); see `entrakey profile "
                    "list`\n",
                    o->profiles[i]);
            return CLI_EXIT_USAGE;
        }
        a->keys[n].uri = strdup(v);
        if ((v = ek_config_get(*cfgp, o->profiles[i], "module")) != NULL &&
            v[0] != '\0')
            a->keys[n].module = strdup(v);
        if (cli->pin_source == NULL && *pin_src_buf == NULL &&
            (v = ek_config_get(*cfgp, o->profiles[i], "pin_source")) != NULL &&
            v[0] != '\0')
            *pin_src_buf = strdup(v);
        n++;
    }
    a->nkeys = n;
    for (i = 0; i < n; i++) {
        if (a->keys[i].uri == NULL)
            return CLI_EXIT_INTERNAL;
        agent_key_init(a, &a->keys[i]);
    }
    return 0;
}

/* A socket at path: its directory 0700 and ours, the socket 0600; a stale
 * socket (nobody listening) is replaced, a live one is not. shared (an
 * --allow-uid list): the directory 0711 (others pass through it, cannot
 * list it) and the socket 0666, so that the users allowed reach it; the
 * SO_PEERCRED check of every connection is then what refuses the rest. */
static int
make_socket(const char *path, int shared, char *msg, size_t msgsz)
{
    struct sockaddr_un sa;
    struct stat st;
    char dir[sizeof sa.sun_path];
    char *slash;
    mode_t old;
    int fd = -1, probe;

    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path) {
        snprintf(msg, msgsz, "the socket path %s is longer than %zu bytes",
                 path, sizeof sa.sun_path - 1);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path));
    snprintf(dir, sizeof dir, "%s", path);
    if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
        *slash = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            snprintf(msg, msgsz, "cannot make the directory %s: %s", dir,
                     strerror(errno));
            return -1;
        }
        if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) ||
            st.st_uid != geteuid() ||
            (st.st_mode & (shared ? 066 : 077)) != 0) {
            snprintf(msg, msgsz,
                     "the directory %s must be this user's and "
                     "mode %s; fix or remove it",
                     dir,
                     shared ? "0700 or 0711 (no reading or writing by "
                              "others)"
                            : "0700 (no access for others)");
            return -1;
        }
        if (shared && (st.st_mode & 011) != 011 && chmod(dir, 0711) != 0) {
            snprintf(msg, msgsz,
                     "cannot open the directory %s to the "
                     "users of --allow-uid (chmod 0711): %s",
                     dir, strerror(errno));
            return -1;
        }
    }
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(msg, msgsz,
                     "%s exists and is not a socket; not "
                     "replaced",
                     path);
            return -1;
        }
        probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0 &&
            connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0) {
            close(probe);
            snprintf(msg, msgsz, "an agent already listens at %s", path);
            return -1;
        }
        if (probe >= 0)
            close(probe);
        (void)unlink(path); /* stale: its agent is gone */
    }
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
        snprintf(msg, msgsz, "socket: %s", strerror(errno));
        return -1;
    }
    old = umask(shared ? 0111 : 0177);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        umask(old);
        snprintf(msg, msgsz, "cannot listen at %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    umask(old);
    if (chmod(path, shared ? 0666 : 0600) != 0 || listen(fd, 128) != 0) {
        snprintf(msg, msgsz, "cannot listen at %s: %s", path, strerror(errno));
        close(fd);
        (void)unlink(path);
        return -1;
    }
    return fd;
}

/* With an --allow-uid list: a warning when the users allowed cannot reach
 * the socket lfd listens at (a directory above it closed to others, as
 * $XDG_RUNTIME_DIR is, or a socket systemd made 0600); the agent serves
 * its own user all the same. */
static void
warn_unreachable(int lfd)
{
    struct sockaddr_un sa;
    socklen_t len = sizeof sa;
    struct stat st;
    char path[sizeof sa.sun_path + 1];
    char *slash;

    memset(&sa, 0, sizeof sa);
    if (getsockname(lfd, (struct sockaddr *)&sa, &len) != 0 ||
        sa.sun_family != AF_UNIX || sa.sun_path[0] != '/')
        return;
    snprintf(path, sizeof path, "%s", sa.sun_path);
    if (stat(path, &st) == 0 && (st.st_mode & 006) != 006) {
        fprintf(stderr,
                "entrakey agent: warning: the socket %s is mode %04o: the "
                "users of --allow-uid cannot connect (make it 0666; under "
                "systemd, SocketMode=0666)\n",
                path, (unsigned)(st.st_mode & 07777));
        return;
    }
    while ((slash = strrchr(path, '/')) != NULL && slash != path) {
        *slash = '\0';
        if (stat(path, &st) == 0 && !(st.st_mode & S_IXOTH)) {
            fprintf(stderr,
                    "entrakey agent: warning: %s is mode %04o, closed to "
                    "other users: the users of --allow-uid cannot reach "
                    "the socket; give --socket in a directory they can "
                    "pass through (docs/agent.md, \"The socket\")\n",
                    path, (unsigned)(st.st_mode & 07777));
            return;
        }
    }
}

/* systemd socket activation: fd 3 when LISTEN_PID is us. */
static int
activated_socket(void)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    int fd = 3;

    if (pid == NULL || fds == NULL || strtol(pid, NULL, 10) != getpid() ||
        strtol(fds, NULL, 10) < 1)
        return -1;
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd;
}

static void
notify_ready(void)
{
    const char *ns = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    int fd;

    if (ns == NULL || (ns[0] != '/' && ns[0] != '@') ||
        strlen(ns) >= sizeof sa.sun_path)
        return;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, ns, strlen(ns));
    if (sa.sun_path[0] == '@')
        sa.sun_path[0] = '\0';
    if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
        return;
    (void)sendto(
        fd, "READY=1", 7, 0, (struct sockaddr *)&sa,
        (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(ns)));
    close(fd);
}

int
cmd_agent(struct cli *cli, int argc, char **argv)
{
    struct agent a;
    struct agent_opts o;
    struct ek_config *cfg = NULL;
    struct agent_http *d = NULL;
    struct agent_mi mi;
    struct wi_keeper *wik = NULL;
    char *sock = NULL, *pin_src_buf = NULL, *cred_buf = NULL;
    char msg[600] = "";
    const char *cred_dir;
    pthread_t refresher;
    int refresher_started = 0, lfd = -1, made_socket = 0, rc, sig;
    int ready_pipe[2] = {-1, -1};
    sigset_t sigs;
    pid_t child;
    size_t n;
    ek_err r;

    memset(&a, 0, sizeof a);
    memset(&o, 0, sizeof o);
    memset(&mi, 0, sizeof mi);
    mi.fd = -1;
    a.cli = cli;
    a.min_lifetime = AGENT_MIN_LIFETIME;
    pthread_mutex_init(&a.mu, NULL);
    pthread_cond_init(&a.refresh_cv, NULL);
    /* no core, no ptrace by other processes of the user: the PIN */
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if ((rc = parse(cli, &a, &o, argc, argv)) != 0)
        goto out;
    if ((rc = cli_apply(cli)) != 0)
        goto out;
    a.verbose = cli->verbose;
    if ((rc = gather_keys(cli, &a, &o, &cfg, &pin_src_buf)) != 0)
        goto out;
    a.pin_source = cli->pin_source != NULL ? cli->pin_source : pin_src_buf;
    /* the one-shot rule: --pin-source or a profile's before the URI's;
     * the URI's before the credential and the terminal */
    a.pin_first = a.pin_source != NULL;
    if (a.pin_source == NULL &&
        (cred_dir = getenv("CREDENTIALS_DIRECTORY")) != NULL) {
        /* systemd LoadCredential=/LoadCredentialEncrypted=entrakey-pin */
        n = strlen(cred_dir) + sizeof "file:/entrakey-pin";
        if ((cred_buf = malloc(n)) == NULL) {
            rc = CLI_EXIT_INTERNAL;
            goto out;
        }
        snprintf(cred_buf, n, "file:%s/entrakey-pin", cred_dir);
        if (access(cred_buf + 5, R_OK) == 0)
            a.pin_source = cred_buf;
    }
    a.prompt_ok = a.pin_source == NULL && isatty(STDIN_FILENO);
    if (o.audit != NULL &&
        cli_audit_open(&a.audit, o.audit, msg, sizeof msg) != 0) {
        fprintf(stderr, "entrakey agent: %s\n", msg);
        rc = CLI_EXIT_USAGE;
        goto out;
    }
    /* the server's library before a PIN is asked for or used */
    if (agent_mhd_load(msg, sizeof msg) != 0) {
        fprintf(stderr, "entrakey agent: %s\n", msg);
        rc = CLI_EXIT_INTERNAL;
        goto out;
    }
    if (agent_pin_init(&a) != 0) {
        fprintf(stderr, "entrakey agent: cannot map memory for the PIN\n");
        rc = CLI_EXIT_INTERNAL;
        goto out;
    }
    if ((lfd = activated_socket()) < 0) {
        if (o.socket != NULL)
            sock = strdup(o.socket);
        else if ((r = ek_agent_socket_path(cli->ctx, &sock)) != EK_OK) {
            fprintf(stderr, "entrakey agent: no place for the socket: set "
                            "XDG_RUNTIME_DIR or give --socket PATH\n");
            rc = CLI_EXIT_USAGE;
            goto out;
        }
        if (sock == NULL ||
            (lfd = make_socket(sock, a.nallow > 0, msg, sizeof msg)) < 0) {
            fprintf(stderr, "entrakey agent: %s\n", msg);
            rc = CLI_EXIT_FILE;
            goto out;
        }
        made_socket = 1;
    }
    if (a.nallow > 0)
        warn_unreachable(lfd);
    if (o.daemon) {
        /* a prompt needs the terminal: before detaching */
        if (a.prompt_ok) {
            if (cli_prompt_pin(NULL, "PIN for the agent's token: ", a.pin,
                               a.pin_cap) != EK_OK) {
                fprintf(stderr, "entrakey agent: no PIN was entered\n");
                rc = CLI_EXIT_PIN;
                goto out;
            }
            a.pin_len = strlen(a.pin);
            a.pin_kept = 1;
            a.pin_read = 1;
        }
        if (pipe2(ready_pipe, O_CLOEXEC) != 0 || (child = fork()) < 0) {
            fprintf(stderr, "entrakey agent: cannot detach: %s\n",
                    strerror(errno));
            rc = CLI_EXIT_INTERNAL;
            goto out;
        }
        if (child > 0) {
            /* the parent says how the start went, then leaves */
            char st[8] = "";

            close(ready_pipe[1]);
            ready_pipe[1] = -1;
            explicit_bzero(a.pin, a.pin_cap);
            made_socket = 0;
            n = 0;
            while (n < sizeof st - 1 && read(ready_pipe[0], st + n, 1) == 1)
                n++;
            if (n > 0 && st[0] == '0') {
                printf("ENTRAKEY_AGENT_SOCK=%s; export ENTRAKEY_AGENT_SOCK;"
                       "\n",
                       sock != NULL ? sock : "");
                printf("ENTRAKEY_AGENT_PID=%ld; export ENTRAKEY_AGENT_PID;"
                       "\n",
                       (long)child);
                rc = CLI_EXIT_OK;
            } else {
                rc = n > 0 ? (int)strtol(st, NULL, 10) : CLI_EXIT_INTERNAL;
            }
            goto out_parent;
        }
        close(ready_pipe[0]);
        ready_pipe[0] = -1;
        (void)setsid();
        (void)mlock(a.pin, a.pin_cap); /* locks are not inherited */
    }
    if ((r = agent_keys_open(&a, msg, sizeof msg)) != EK_OK) {
        fprintf(stderr, "entrakey agent: %s\n", msg);
        rc = cli_exit_code(r);
        goto out;
    }
    /* signals are taken by this thread only (sigwait below) */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    if ((d = agent_http_start(&a, lfd, msg, sizeof msg)) == NULL) {
        fprintf(stderr, "entrakey agent: the HTTP server did not start: %s\n",
                msg);
        rc = CLI_EXIT_INTERNAL;
        goto out;
    }
    if (o.mi && agent_mi_serve(&a, &mi, cfg, o.profiles[0], o.nuris,
                               o.mi_listen, sock, msg, sizeof msg) != 0) {
        fprintf(stderr, "entrakey agent: %s\n", msg);
        rc = CLI_EXIT_USAGE;
        goto out;
    }
    if (pthread_create(&refresher, NULL, agent_refresher, &a) == 0)
        refresher_started = 1;
    if ((rc = agent_wi_start(
             &a, &o.wi, cfg,
             o.nuris == 0 && o.nprofiles > 0 ? o.profiles[0] : NULL, &wik)) !=
        0)
        goto out;
    agent_log(&a, "serving %zu key(s) at %s (pid %ld)", a.nkeys,
              sock != NULL ? sock : "the socket systemd passed",
              (long)getpid());
    notify_ready();
    if (o.daemon) {
        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);

        if (write(ready_pipe[1], "0", 1) < 0) {
            /* the parent is gone; carry on */
        }
        close(ready_pipe[1]);
        ready_pipe[1] = -1;
        if (devnull >= 0) {
            dup2(devnull, STDIN_FILENO);
            dup2(devnull, STDOUT_FILENO);
            dup2(devnull, STDERR_FILENO);
            close(devnull);
        }
    }
    for (;;) {
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            agent_log(&a, "SIGHUP: reloading");
            if (agent_reload(&a, msg, sizeof msg) != EK_OK)
                agent_log(&a, "reload: %s", msg);
            continue;
        }
        agent_log(&a, "%s: logging out and exiting",
                  sig == SIGTERM ? "SIGTERM" : "SIGINT");
        break;
    }
    rc = CLI_EXIT_OK;
out:
    if (ready_pipe[1] >= 0) {
        char st[8];

        snprintf(st, sizeof st, "%d", rc);
        if (write(ready_pipe[1], st, strlen(st)) < 0) {
            /* nothing to tell */
        }
        close(ready_pipe[1]);
    }
    agent_mi_stop(&mi);
    agent_http_stop(d);
    agent_wi_stop(&wik); /* the file goes with the agent */
    if (refresher_started) {
        pthread_mutex_lock(&a.mu);
        a.stopping = 1;
        pthread_cond_broadcast(&a.refresh_cv);
        pthread_mutex_unlock(&a.mu);
        pthread_join(refresher, NULL);
    }
    agent_keys_close(&a);
out_parent:
    if (ready_pipe[0] >= 0)
        close(ready_pipe[0]);
    if (made_socket && sock != NULL)
        (void)unlink(sock);
    if (lfd >= 0)
        close(lfd);
    agent_cache_free(&a);
    agent_pin_wipe(&a);
    if (a.pin != NULL)
        munmap(a.pin, a.pin_cap);
    for (n = 0; a.keys != NULL && n < a.nkeys; n++) {
        agent_key_fini(&a.keys[n]);
        ek_ctx_free(&a.keys[n].ctx);
        free(a.keys[n].uri);
        free(a.keys[n].module);
    }
    free(a.keys);
    cli_audit_close(&a.audit);
    ek_config_free(&cfg);
    free(sock);
    free(pin_src_buf);
    free(cred_buf);
    return rc;
}
