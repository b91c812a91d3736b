/* agent_wi.c: `entrakey agent --assertion-file PATH`: the first key's
 * client assertion kept fresh in a file (wi_file.c) through the agent's
 * own signing path (its session, its recovery, its audit trail). */
#include <stdlib.h>
#include <string.h>

#include "../cli/wi.h"
#include "agent_wi.h"

struct agent_wi {
    struct agent *a;
    struct ek_access_token_params p;
    char *tenant, *client_id, *authority;
    const char *path;
};

/* One keeper per agent: its parameters live as long as the agent. */
static struct agent_wi the_wi;

int
agent_wi_opt(struct agent_wi_opts *o, int c, const char *arg, const char *usage)
{
    unsigned *u = NULL;
    unsigned v;

    switch (c) {
    case OPT_AWI_FILE:
        o->path = arg;
        return 0;
    case OPT_AWI_TENANT:
        o->tenant = arg;
        return 0;
    case OPT_AWI_CLIENT_ID:
        o->client_id = arg;
        return 0;
    case OPT_AWI_AUTHORITY:
        o->authority = arg;
        return 0;
    case OPT_AWI_CLOUD:
        o->cloud = arg;
        return 0;
    case OPT_AWI_LIFETIME:
        u = &o->lifetime;
        break;
    case OPT_AWI_REFRESH:
        u = &o->refresh;
        break;
    default:
        return -1;
    }
    if (cli_parse_uint(arg, 1, 3600, &v) != 0)
        return cli_usage("agent", usage, "%s '%s' is not a number of seconds",
                         c == OPT_AWI_LIFETIME ? "--assertion-lifetime"
                                               : "--assertion-refresh",
                         arg);
    *u = v;
    return 0;
}

static ek_err
wi_sign(void *arg, unsigned lifetime, struct ek_secret **jwtp, int *revoke,
        char *msg, size_t msgsz)
{
    struct agent_wi *w = arg;
    ek_err r;

    w->p.assertion.lifetime = lifetime;
    r = agent_assertion(w->a, 0, &w->p, NULL, jwtp, msg, msgsz);
    if (r != EK_OK) {
        /* locked (POST /v1/lock): no credential outlives the lock */
        pthread_mutex_lock(&w->a->mu);
        *revoke = w->a->locked;
        pthread_mutex_unlock(&w->a->mu);
    }
    return r;
}

static void
wi_event(void *arg, const char *event, const char *text)
{
    struct agent_wi *w = arg;

    agent_log(w->a, "assertion file: %s", text);
    agent_audit_event(w->a->audit, "assertion_file", event, NULL, "path",
                      w->path, "tenant", w->tenant, "client_id", w->client_id,
                      (const char *)NULL);
}

/* The value: the option, else the profile's, else the environment's. */
static char *
pick(const char *opt, const struct ek_config *cfg, const char *profile,
     const char *key, const char *env)
{
    const char *v = opt;

    if (v == NULL && cfg != NULL && profile != NULL &&
        (v = ek_config_get(cfg, profile, key)) != NULL && v[0] == '\0')
        v = NULL;
    if (v == NULL && env != NULL && (v = getenv(env)) != NULL && v[0] == '\0')
        v = NULL;
    return v != NULL ? strdup(v) : NULL;
}

int
agent_wi_start(struct agent *a, const struct agent_wi_opts *o,
               const struct ek_config *cfg, const char *profile,
               struct wi_keeper **kp)
{
    struct agent_wi *w = &the_wi;
    unsigned lifetime = o->lifetime ? o->lifetime : WI_LIFETIME_DEFAULT;
    unsigned refresh = o->refresh ? o->refresh : WI_REFRESH_DEFAULT;
    char msg[700];
    char *cloud = NULL, *alg = NULL;
    ek_err r;

    *kp = NULL;
    if (o->path == NULL) {
        if (o->lifetime || o->refresh || o->tenant || o->client_id ||
            o->authority || o->cloud)
            return cli_usage("agent", NULL,
                             "--assertion-lifetime, --assertion-refresh, "
                             "--tenant, --client-id, --authority-host and "
                             "--cloud are for --assertion-file");
        return 0;
    }
    if (wi_timing_check(lifetime, refresh, msg, sizeof msg) != 0)
        return cli_usage("agent", NULL,
                         "%s (--assertion-lifetime, "
                         "--assertion-refresh)",
                         msg);
    memset(w, 0, sizeof *w);
    w->a = a;
    w->path = o->path;
    w->tenant = pick(o->tenant, cfg, profile, "tenant", "AZURE_TENANT_ID");
    w->client_id =
        pick(o->client_id, cfg, profile, "client_id", "AZURE_CLIENT_ID");
    w->authority = pick(o->authority, cfg, profile, "authority_host",
                        "AZURE_AUTHORITY_HOST");
    cloud = pick(o->cloud, cfg, profile, "cloud", NULL);
    alg = pick(NULL, cfg, profile, "alg", NULL);
    if (w->tenant == NULL || w->client_id == NULL) {
        free(cloud);
        free(alg);
        agent_wi_stop(kp);
        return cli_usage("agent", NULL,
                         "--assertion-file needs the tenant and the "
                         "client id: give --tenant and --client-id (or a "
                         "--profile that has them, or AZURE_TENANT_ID and "
                         "AZURE_CLIENT_ID)");
    }
    w->p.assertion.tenant = w->tenant;
    w->p.assertion.client_id = w->client_id;
    w->p.assertion.authority_host = w->authority;
    w->p.scope = ""; /* an assertion has none; the audit says so */
    if ((cloud != NULL &&
         ek_cloud_parse(cloud, &w->p.assertion.cloud) != EK_OK) ||
        (alg != NULL && ek_alg_parse(alg, &w->p.assertion.alg) != EK_OK)) {
        fprintf(stderr, "entrakey agent: unknown cloud '%s' or alg '%s'\n",
                cloud != NULL ? cloud : "", alg != NULL ? alg : "");
        free(cloud);
        free(alg);
        agent_wi_stop(kp);
        return CLI_EXIT_USAGE;
    }
    free(cloud);
    free(alg);
    if (wi_keeper_open(kp, o->path, 1, lifetime, refresh, wi_sign, wi_event, w,
                       msg, sizeof msg) != 0) {
        fprintf(stderr, "entrakey agent: %s\n", msg);
        agent_wi_stop(kp);
        return CLI_EXIT_FILE;
    }
    if ((r = wi_keeper_first(*kp, msg, sizeof msg)) != EK_OK) {
        fprintf(stderr, "entrakey agent: the assertion file %s: %s\n", o->path,
                msg);
        agent_wi_stop(kp);
        return r == EK_ERR_IO ? CLI_EXIT_FILE : cli_exit_code(r);
    }
    if (wi_keeper_start(*kp) != 0) {
        fprintf(stderr, "entrakey agent: cannot start a thread\n");
        agent_wi_stop(kp);
        return CLI_EXIT_INTERNAL;
    }
    return 0;
}

void
agent_wi_stop(struct wi_keeper **kp)
{
    struct agent_wi *w = &the_wi;

    wi_keeper_close(kp, 0);
    free(w->tenant);
    free(w->client_id);
    free(w->authority);
    w->tenant = w->client_id = w->authority = NULL;
}
