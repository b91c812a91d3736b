/* agent_wi.h: `entrakey agent --assertion-file PATH`: the agent keeps a
 * fresh client assertion of its first key in a file, for workload
 * identity (docs/workload-identity.md). */
#ifndef EK_AGENT_WI_H
#define EK_AGENT_WI_H

#include "agent.h"

struct wi_keeper;

enum {
    OPT_AWI_FILE = OPT_CMD_BASE + 40, /* apart from agent_main.c's own */
    OPT_AWI_LIFETIME,
    OPT_AWI_REFRESH,
    OPT_AWI_TENANT,
    OPT_AWI_CLIENT_ID,
    OPT_AWI_AUTHORITY,
    OPT_AWI_CLOUD,
};
#define AGENT_WI_LONGOPTS                                                      \
    {"assertion-file", required_argument, NULL, OPT_AWI_FILE},                 \
        {"assertion-lifetime", required_argument, NULL, OPT_AWI_LIFETIME},     \
        {"assertion-refresh", required_argument, NULL, OPT_AWI_REFRESH},       \
        {"tenant", required_argument, NULL, OPT_AWI_TENANT},                   \
        {"client-id", required_argument, NULL, OPT_AWI_CLIENT_ID},             \
        {"authority-host", required_argument, NULL, OPT_AWI_AUTHORITY},        \
    {                                                                          \
        "cloud", required_argument, NULL, OPT_AWI_CLOUD                        \
    }
#define AGENT_WI_HELP                                                          \
    "  --assertion-file PATH keep a fresh client assertion of the first key\n" \
    "                        in PATH (a bare JWT, mode 0600, its directory\n"  \
    "                        made 0700 when missing) for\n"                    \
    "                        AZURE_FEDERATED_TOKEN_FILE; removed at exit\n"    \
    "  --assertion-lifetime SECS  660-3600 (default 3600)\n"                   \
    "  --assertion-refresh SECS   rewrite every SECS, 1-3000 (default 300);\n" \
    "                        the lifetime must be at least SECS + 600\n"       \
    "  --tenant, --client-id, --authority-host, --cloud: the assertion's\n"    \
    "                        (else the first --profile's, else\n"              \
    "                        $AZURE_TENANT_ID, $AZURE_CLIENT_ID,\n"            \
    "                        $AZURE_AUTHORITY_HOST)\n"

struct agent_wi_opts {
    const char *path, *tenant, *client_id, *authority, *cloud;
    unsigned lifetime, refresh;
};

/* An option of ours: 0 handled, -1 not ours, > 0 an exit code (usage). */
int agent_wi_opt(struct agent_wi_opts *o, int c, const char *arg,
                 const char *usage);
/* After the keys are open and signals blocked: checks the values, writes
 * the first assertion and starts the thread that keeps it fresh. cfg and
 * profile (the first key's, or NULL) give values the options did not.
 * 0, or an exit code after printing why. Nothing to do without a path. */
int agent_wi_start(struct agent *a, const struct agent_wi_opts *o,
                   const struct ek_config *cfg, const char *profile,
                   struct wi_keeper **kp);
/* Stops the thread and removes the file. NULL-safe. */
void agent_wi_stop(struct wi_keeper **kp);

#endif /* EK_AGENT_WI_H */
