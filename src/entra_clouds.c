/* entra_clouds.c: the names a user gives for where to sign in and what
 * for: the clouds (login host, scopes, Exchange environment), the
 * resources, and the assertion algorithms. No other file of the library is
 * called from here. */
#include <string.h>
#include <strings.h>

#include "entra.h"

/*
 * Sources: entra-facts.md §1.1 (msal/authority.py), §1.3 (AzureCloudInstance)
 * and §1.4 for the login hosts; §1.6 (ScubaGear EXORestHelper.psm1, CIPP
 * New-ExoRequest) for the Exchange Online scopes; §3.1 (Connect-ExchangeOnline
 * doc) for -ExchangeEnvironmentName. Rows marked [unverified] have no source
 * in the facts: they come from the brief and from memory, and must be
 * checked against a tenant in that cloud.
 */
static const struct cloud_row {
    const char *name;
    const char *authority;
    const char *scope[4]; /* EXO, Graph, ARM, compliance: enum ek_resource */
    const char *exo_env;
    const char *graph; /* Microsoft Graph's host: addKey, removeKey */
} clouds[] = {
    [EK_CLOUD_GLOBAL] =
        {
            "global",
            "https://login.microsoftonline.com",
            {"https://outlook.office365.com/.default",
             "https://graph.microsoft.com/.default",  /* [unverified] */
             "https://management.azure.com/.default", /* [unverified] */
             "https://ps.compliance.protection.outlook.com/.default"},
            "O365Default",
            "https://graph.microsoft.com",
        },
    [EK_CLOUD_USGOV] =
        {
            /* GCC High */
            "usgov",
            "https://login.microsoftonline.us",
            {"https://outlook.office365.us/.default",
             "https://graph.microsoft.us/.default",           /* [unverified] */
             "https://management.usgovcloudapi.net/.default", /* [unverified] */
             NULL}, /* compliance: no source in the facts */
            "O365USGovGCCHigh",
            "https://graph.microsoft.us", /* [unverified] */
        },
    [EK_CLOUD_USGOV_DOD] =
        {
            "usgov-dod",
            "https://login.microsoftonline.us",
            {"https://outlook-dod.office365.us/.default",
             "https://dod-graph.microsoft.us/.default",       /* [unverified] */
             "https://management.usgovcloudapi.net/.default", /* [unverified] */
             NULL},
            "O365USGovDoD",
            "https://dod-graph.microsoft.us", /* [unverified] */
        },
    [EK_CLOUD_CHINA] =
        {
            /* 21Vianet */
            "china",
            "https://login.chinacloudapi.cn",
            {"https://partner.outlook.cn/.default", /* [unverified] */
             "https://microsoftgraph.chinacloudapi.cn/.default", /* [unverified]
                                                                  */
             "https://management.chinacloudapi.cn/.default", /* [unverified] */
             NULL},
            "O365China",
            "https://microsoftgraph.chinacloudapi.cn", /* [unverified] */
        },
};

static const char *const resource_names[] = {
    [EK_RESOURCE_EXO] = "exo",
    [EK_RESOURCE_GRAPH] = "graph",
    [EK_RESOURCE_ARM] = "arm",
    [EK_RESOURCE_COMPLIANCE] = "compliance",
};

#define NCLOUDS (sizeof clouds / sizeof clouds[0])
#define NRESOURCES (sizeof resource_names / sizeof resource_names[0])

ek_err
ek_cloud_parse(const char *name, enum ek_cloud *cloud)
{
    size_t i;

    if (name == NULL || cloud == NULL)
        return EK_ERR_USAGE;
    for (i = 0; i < NCLOUDS; i++)
        if (strcasecmp(name, clouds[i].name) == 0) {
            *cloud = (enum ek_cloud)i;
            return EK_OK;
        }
    return EK_ERR_USAGE;
}

const char *
ek_cloud_authority_host(enum ek_cloud cloud)
{
    if ((unsigned)cloud >= NCLOUDS)
        cloud = EK_CLOUD_GLOBAL;
    return clouds[cloud].authority;
}

const char *
ek_cloud_scope(enum ek_cloud cloud, enum ek_resource r)
{
    if ((unsigned)cloud >= NCLOUDS || (unsigned)r >= NRESOURCES)
        return NULL;
    return clouds[cloud].scope[r];
}

const char *
ek_cloud_exo_environment(enum ek_cloud cloud)
{
    if ((unsigned)cloud >= NCLOUDS)
        cloud = EK_CLOUD_GLOBAL;
    return clouds[cloud].exo_env;
}

const char *
ek_cloud_graph_host(enum ek_cloud cloud)
{
    if ((unsigned)cloud >= NCLOUDS)
        cloud = EK_CLOUD_GLOBAL;
    return clouds[cloud].graph;
}

ek_err
ek_resource_parse(const char *name, enum ek_resource *r)
{
    size_t i;

    if (name == NULL || r == NULL)
        return EK_ERR_USAGE;
    for (i = 0; i < NRESOURCES; i++)
        if (strcasecmp(name, resource_names[i]) == 0) {
            *r = (enum ek_resource)i;
            return EK_OK;
        }
    return EK_ERR_USAGE;
}

const char *
entra_cloud_name(enum ek_cloud cloud)
{
    return (unsigned)cloud < NCLOUDS ? clouds[cloud].name : NULL;
}

const char *
entra_resource_name(enum ek_resource r)
{
    return (unsigned)r < NRESOURCES ? resource_names[r] : NULL;
}

/* The JOSE names (RFC 7518 3.1) are case-sensitive in a JWT; what a user
 * types is matched without case, as the cloud and resource names are, and
 * the JWT always carries the canonical upper-case name. */
ek_err
ek_alg_parse(const char *name, enum ek_alg *alg)
{
    if (name == NULL || alg == NULL)
        return EK_ERR_USAGE;
    if (strcasecmp(name, "PS256") == 0) {
        *alg = EK_ALG_PS256;
        return EK_OK;
    }
    if (strcasecmp(name, "RS256") == 0) {
        *alg = EK_ALG_RS256;
        return EK_OK;
    }
    return EK_ERR_USAGE;
}
