/* tok_module.c: PKCS#11 modules through p11-kit (managed loading), slots,
 * tokens, and what their mechanisms allow. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tok.h"

static void
module_clear(struct tok_module *m)
{
    free(m->name);
    free(m->path);
    memset(m, 0, sizeof *m);
}

static void
sel_free(struct tok_sel *sel)
{
    size_t i;

    for (i = 0; i < sel->nmods; i++) {
        if (sel->mods[i].finalize)
            p11_kit_module_finalize(sel->mods[i].fl);
        if (sel->registry == NULL)
            p11_kit_module_release(sel->mods[i].fl);
        module_clear(&sel->mods[i]);
    }
    /* the registry's modules are released together, those that failed to
     * initialise included */
    if (sel->registry != NULL)
        p11_kit_modules_release(sel->registry);
    free(sel->mods);
    free(sel->path);
    memset(sel, 0, sizeof *sel);
}

/* The token layer's cleanup, registered on the context with its state:
 * ek_ctx_free (the base layer) calls it without knowing the token layer. */
static void
tok_ctx_free(void *state)
{
    struct tok_ctx *t = state;
    size_t i;

    if (t == NULL)
        return;
    for (i = 0; i < t->nsels; i++)
        sel_free(&t->sels[i]);
    free(t->sels);
    free(t);
}

/* Initialises a managed module; CKR_CRYPTOKI_ALREADY_INITIALIZED means
 * someone else owns it: carry on, never finalise it. */
static CK_RV
module_init(struct ek_ctx *ctx, struct tok_module *m)
{
    CK_RV rv;

    rv = tok_traced(ctx, "C_Initialize", p11_kit_module_initialize(m->fl));
    if (rv == CKR_OK)
        m->finalize = 1;
    else if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED)
        rv = CKR_OK;
    if (rv == CKR_OK && TOK_CALL(ctx, m->fl, C_GetInfo, &m->info) == CKR_OK)
        m->has_info = 1;
    return rv;
}

static ek_err
module_names(struct ek_ctx *ctx, struct tok_module *m, const char *path)
{
    char *name = p11_kit_module_get_name(m->fl);
    char *file = p11_kit_module_get_filename(m->fl);
    const char *base;

    if (file == NULL && path != NULL)
        file = strdup(path);
    if (name == NULL && file != NULL) {
        base = strrchr(file, '/');
        name = strdup(base != NULL ? base + 1 : file);
    }
    if (name == NULL || file == NULL) {
        free(name);
        free(file);
        return ek_seterr_oom(ctx);
    }
    m->name = name;
    m->path = file;
    return EK_OK;
}

/* A relative path with a slash is relative to the working directory (not to
 * p11-kit's module directory, where a bare name is looked up). */
static ek_err
absolute_path(struct ek_ctx *ctx, const char *path, char *out, size_t outsz)
{
    char cwd[PATH_MAX];

    if (path[0] == '/' || strchr(path, '/') == NULL) {
        if (snprintf(out, outsz, "%s", path) >= (int)outsz)
            return ek_seterr(ctx, EK_ERR_USAGE,
                             "the module path '%s' is "
                             "too long",
                             path);
        return EK_OK;
    }
    if (getcwd(cwd, sizeof cwd) == NULL ||
        snprintf(out, outsz, "%s/%s", cwd, path) >= (int)outsz)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "the module path '%s' is too "
                         "long",
                         path);
    return EK_OK;
}

static ek_err
load_path(struct ek_ctx *ctx, const char *path, const char *from,
          struct tok_sel *sel)
{
    char abs[PATH_MAX];
    struct stat st;
    const char *why;
    int slash;
    CK_RV rv;
    ek_err r = EK_ERR_MODULE;

    if ((r = absolute_path(ctx, path, abs, sizeof abs)) != EK_OK)
        return r;
    slash = strchr(abs, '/') != NULL; /* else p11-kit's module directory */
    if (slash && stat(abs, &st) != 0)
        return ek_seterr(ctx, EK_ERR_MODULE,
                         "cannot load the PKCS#11 "
                         "module '%s' (from %s): %s; check the path (e.g. "
                         "/usr/lib/softhsm/libsofthsm2.so)",
                         path, from, strerror(errno));
    if (slash && !S_ISREG(st.st_mode))
        return ek_seterr(ctx, EK_ERR_MODULE,
                         "cannot load the PKCS#11 "
                         "module '%s' (from %s): not a regular file; give "
                         "the path of the module's .so file",
                         path, from);
    if ((sel->mods = ek_calloc(ctx, 1, sizeof *sel->mods)) == NULL)
        return EK_ERR_INTERNAL;
    /* said before the module's code runs: if it crashes, -v named it */
    ek_log(ctx, EK_LOG_INFO, "loading the PKCS#11 module %s (from %s)", abs,
           from);
    sel->mods[0].fl = p11_kit_module_load(abs, 0);
    if (sel->mods[0].fl == NULL) {
        why = p11_kit_message();
        r = ek_seterr(ctx, EK_ERR_MODULE,
                      "cannot load the PKCS#11 module "
                      "'%s' (from %s): %s; check that it is a PKCS#11 module "
                      "(a shared library that exports C_GetFunctionList) "
                      "built for this machine",
                      path, from, why != NULL ? why : "unknown error");
        goto fail;
    }
    sel->nmods = 1;
    if ((r = module_names(ctx, &sel->mods[0], abs)) != EK_OK)
        goto fail;
    rv = module_init(ctx, &sel->mods[0]);
    if (rv != CKR_OK && strstr(abs, "libsoftokn3") != NULL) {
        /* NSS takes its database directory in C_Initialize's pReserved */
        r = ek_seterr(ctx, EK_ERR_MODULE,
                      "cannot initialise NSS softokn "
                      "'%s' (from %s; C_Initialize: %s): it needs its "
                      "database directory as init arguments, which a "
                      "module path cannot carry; register it with p11-kit "
                      "(a .module file with x-init-reserved: "
                      "configdir='sql:DIR' ...) and name it in the URI "
                      "with ?module-name=NAME, without a module path (see "
                      "docs/compatibility.md)",
                      path, from, tok_rv_name(rv) ? tok_rv_name(rv) : "error");
        goto fail;
    }
    if (rv != CKR_OK) {
        r = tok_fail(ctx, rv,
                     "cannot initialise the PKCS#11 module '%s' "
                     "(from %s; C_Initialize)",
                     path, from);
        if (r != EK_ERR_INTERNAL)
            r = EK_ERR_MODULE;
        goto fail;
    }
    ek_log(ctx, EK_LOG_INFO, "PKCS#11 module %s (from %s)", sel->mods[0].path,
           from);
    return EK_OK;
fail:
    sel_free(sel);
    return r;
}

static ek_err
load_registry(struct ek_ctx *ctx, struct tok_sel *sel)
{
    struct tok_module *m;
    size_t n = 0, i;
    const char *why;
    CK_RV rv;
    ek_err r = EK_ERR_MODULE;

    sel->registry = p11_kit_modules_load(NULL, 0);
    if (sel->registry == NULL) {
        why = p11_kit_message();
        return ek_seterr(ctx, EK_ERR_MODULE,
                         "cannot load the PKCS#11 "
                         "modules registered with p11-kit: %s; name a module "
                         "path (or ENTRAKEY_MODULE)",
                         why != NULL ? why : "unknown error");
    }
    while (sel->registry[n] != NULL)
        n++;
    if (n > 0 && (sel->mods = ek_calloc(ctx, n, sizeof *sel->mods)) == NULL) {
        r = EK_ERR_INTERNAL;
        goto fail;
    }
    for (i = 0; i < n; i++) {
        m = &sel->mods[sel->nmods];
        m->fl = sel->registry[i];
        if ((r = module_names(ctx, m, NULL)) != EK_OK)
            goto fail;
        rv = module_init(ctx, m);
        if (rv != CKR_OK) {
            if (p11_kit_module_get_flags(m->fl) & P11_KIT_MODULE_CRITICAL) {
                r = tok_fail(ctx, rv,
                             "cannot initialise the registered "
                             "PKCS#11 module '%s' (%s; C_Initialize), which "
                             "is marked critical",
                             m->name, m->path);
                if (r != EK_ERR_INTERNAL)
                    r = EK_ERR_MODULE;
                module_clear(m);
                goto fail;
            }
            ek_log(ctx, EK_LOG_WARN,
                   "the registered PKCS#11 module '%s' "
                   "(%s) cannot be initialised (%s); skipped",
                   m->name, m->path,
                   tok_rv_name(rv) ? tok_rv_name(rv) : "error");
            module_clear(m);
            continue;
        }
        sel->nmods++;
    }
    ek_log(ctx, EK_LOG_INFO, "PKCS#11 modules registered with p11-kit: %zu",
           sel->nmods);
    return EK_OK;
fail:
    sel_free(sel);
    return r;
}

ek_err
tok_modules(struct ek_ctx *ctx, const char *uri_module_path,
            struct tok_sel **selp)
{
    struct tok_ctx *t;
    struct tok_sel *sels, *sel;
    const char *path = NULL, *from = NULL, *env;
    size_t i;
    ek_err r;

    *selp = NULL;
    env = getenv("ENTRAKEY_MODULE");
    if (ctx->module_path != NULL) {
        path = ctx->module_path;
        from = ctx->module_origin != NULL ? ctx->module_origin
                                          : "the module path given";
    } else if (env != NULL && env[0] != '\0') {
        path = env;
        from = "ENTRAKEY_MODULE";
    } else if (uri_module_path != NULL && uri_module_path[0] != '\0') {
        path = uri_module_path;
        from = "module-path= in the URI";
    }
    if ((t = ek_ctx_ext_get(ctx, EK_EXT_TOKEN)) == NULL) {
        if ((t = ek_calloc(ctx, 1, sizeof *t)) == NULL)
            return EK_ERR_INTERNAL;
        ek_ctx_ext_set(ctx, EK_EXT_TOKEN, t, tok_ctx_free);
    }
    for (i = 0; i < t->nsels; i++) {
        sel = &t->sels[i];
        if ((path == NULL && sel->path == NULL) ||
            (path != NULL && sel->path != NULL &&
             strcmp(path, sel->path) == 0)) {
            *selp = sel;
            return EK_OK;
        }
    }
    sels = realloc(t->sels, (t->nsels + 1) * sizeof *sels);
    if (sels == NULL)
        return ek_seterr_oom(ctx);
    t->sels = sels;
    sel = &sels[t->nsels];
    memset(sel, 0, sizeof *sel);
    if (path != NULL)
        r = load_path(ctx, path, from, sel);
    else
        r = load_registry(ctx, sel);
    if (r != EK_OK)
        return r;
    if (path != NULL && (sel->path = ek_strdup(ctx, path)) == NULL) {
        sel_free(sel);
        return EK_ERR_INTERNAL;
    }
    t->nsels++;
    *selp = sel;
    return EK_OK;
}

void
tok_trim(char *out, const unsigned char *in, size_t n)
{
    while (n > 0 && (in[n - 1] == ' ' || in[n - 1] == '\0'))
        n--;
    memcpy(out, in, n);
    out[n] = '\0';
}

ek_err
tok_slot_refresh(struct ek_ctx *ctx, struct tok_slot *s)
{
    CK_TOKEN_INFO ti;
    CK_RV rv;

    rv = TOK_CALL(ctx, s->mod->fl, C_GetTokenInfo, s->id, &ti);
    if (rv != CKR_OK)
        return tok_fail(ctx, rv,
                        "cannot read the state of token '%s' "
                        "(C_GetTokenInfo)",
                        s->label);
    /* only the flags (the PIN counters) are news; the token's identity
     * stays as it was found, so that messages name it even when a module
     * answers with a half-written record (SoftHSM rewrites its token file
     * at every login, softhsm/SoftHSMv2#757) */
    s->ti.flags = ti.flags;
    return EK_OK;
}

int
tok_slot_is_yubikey(const struct tok_slot *s)
{
    return strncmp(s->manufacturer, "Yubico", 6) == 0 ||
           strstr(s->model, "YubiKey") != NULL;
}

int
tok_module_is_tpm2(const struct tok_module *m)
{
    return m->has_info && strncmp((const char *)m->info.manufacturerID,
                                  "tpm2-software", 13) == 0;
}

int
tok_module_is_client(const struct tok_module *m)
{
    return m->path != NULL && strstr(m->path, "p11-kit-client") != NULL;
}

/* Where p11-kit-client.so looks for its server (p11-kit 0.24: the
 * variable, else $XDG_RUNTIME_DIR/p11-kit/pkcs11). */
void
tok_client_address(char *out, size_t outsz)
{
    const char *a = getenv("P11_KIT_SERVER_ADDRESS");
    const char *run = getenv("XDG_RUNTIME_DIR");

    if (a != NULL && a[0] != '\0')
        snprintf(out, outsz, "%s (P11_KIT_SERVER_ADDRESS)", a);
    else if (run != NULL && run[0] != '\0')
        snprintf(out, outsz,
                 "unix:path=%s/p11-kit/pkcs11 (no "
                 "P11_KIT_SERVER_ADDRESS)",
                 run);
    else
        snprintf(out, outsz,
                 "nowhere (neither P11_KIT_SERVER_ADDRESS nor "
                 "XDG_RUNTIME_DIR is set)");
}

static ek_err
module_slots(struct ek_ctx *ctx, struct tok_module *m, CK_SLOT_ID **idsp,
             CK_ULONG *np)
{
    CK_SLOT_ID *ids = NULL;
    CK_ULONG n = 0, want;
    CK_RV rv;
    int tries;

    *idsp = NULL;
    *np = 0;
    for (tries = 0; tries < 4; tries++) {
        rv = TOK_CALL(ctx, m->fl, C_GetSlotList, CK_TRUE, NULL, &want);
        if (rv != CKR_OK)
            break;
        free(ids);
        ids = NULL;
        if (want == 0) {
            n = 0;
            break;
        }
        if ((ids = ek_calloc(ctx, want, sizeof *ids)) == NULL)
            return EK_ERR_INTERNAL;
        n = want;
        rv = TOK_CALL(ctx, m->fl, C_GetSlotList, CK_TRUE, ids, &n);
        if (rv != CKR_BUFFER_TOO_SMALL)
            break;
    }
    if (rv != CKR_OK) {
        free(ids);
        /* ykcs11 says CKR_DEVICE_ERROR when pcscd is not running: there
         * is no token, which the caller reports */
        ek_log(ctx, EK_LOG_WARN,
               "the PKCS#11 module '%s' cannot list its "
               "slots (C_GetSlotList: %s); skipped",
               m->name, tok_rv_name(rv) ? tok_rv_name(rv) : "error");
        return EK_OK;
    }
    if (n == 0 && tok_module_is_client(m)) {
        char addr[512];

        /* p11-kit-client.so answers with no slots when its server is not
         * there: say so, not "no tokens" */
        tok_client_address(addr, sizeof addr);
        ek_log(ctx, EK_LOG_WARN,
               "the p11-kit client module '%s' reaches "
               "no remote p11-kit server: the server is not reachable at "
               "%s; start `p11-kit server` there (or forward its socket) and "
               "set P11_KIT_SERVER_ADDRESS",
               m->name, addr);
    }
    *idsp = ids;
    *np = n;
    return EK_OK;
}

ek_err
tok_slots(struct ek_ctx *ctx, struct tok_sel *sel, int include_uninit,
          struct tok_slot **slotsp, size_t *np)
{
    struct tok_slot *slots = NULL, *grown, *s;
    CK_SLOT_ID *ids = NULL;
    CK_ULONG nids = 0, j;
    size_t n = 0, i, k;
    CK_RV rv;
    ek_err r = EK_ERR_INTERNAL;

    *slotsp = NULL;
    *np = 0;
    for (i = 0; i < sel->nmods; i++) {
        if ((r = module_slots(ctx, &sel->mods[i], &ids, &nids)) != EK_OK)
            goto fail;
        for (j = 0; j < nids; j++) {
            grown = realloc(slots, (n + 1) * sizeof *slots);
            if (grown == NULL) {
                r = ek_seterr_oom(ctx);
                goto fail;
            }
            slots = grown;
            s = &slots[n];
            memset(s, 0, sizeof *s);
            s->mod = &sel->mods[i];
            s->id = ids[j];
            rv = TOK_CALL(ctx, s->mod->fl, C_GetSlotInfo, s->id, &s->si);
            if (rv != CKR_OK || !(s->si.flags & CKF_TOKEN_PRESENT))
                continue;
            rv = TOK_CALL(ctx, s->mod->fl, C_GetTokenInfo, s->id, &s->ti);
            if (rv != CKR_OK)
                continue; /* removed meanwhile, or not recognised */
            if (!include_uninit && !(s->ti.flags & CKF_TOKEN_INITIALIZED))
                continue;
            tok_trim(s->label, s->ti.label, sizeof s->ti.label);
            tok_trim(s->manufacturer, s->ti.manufacturerID,
                     sizeof s->ti.manufacturerID);
            tok_trim(s->model, s->ti.model, sizeof s->ti.model);
            tok_trim(s->serial, s->ti.serialNumber, sizeof s->ti.serialNumber);
            n++;
        }
        free(ids);
        ids = NULL;
    }
    for (i = 0; i < n; i++)
        for (k = 0; k < n; k++)
            if (i != k && strcmp(slots[i].label, slots[k].label) == 0)
                slots[i].dup_label = 1;
    *slotsp = slots;
    *np = n;
    return EK_OK;
fail:
    free(ids);
    free(slots);
    return r;
}

/* ----------------------------------------------------------- mechanisms */

static const CK_MECHANISM_TYPE path_mech[TOK_PATH_COUNT] = {
    [TOK_PATH_PSS] = CKM_RSA_PKCS_PSS,
    [TOK_PATH_SHA256_PSS] = CKM_SHA256_RSA_PKCS_PSS,
    [TOK_PATH_X509_PSS] = CKM_RSA_X_509,
    [TOK_PATH_SHA256_PKCS] = CKM_SHA256_RSA_PKCS,
    [TOK_PATH_PKCS_DI] = CKM_RSA_PKCS,
};

CK_MECHANISM_TYPE
tok_path_mech(enum tok_path p)
{
    return path_mech[p];
}

const char *
tok_path_alg(enum tok_path p)
{
    return p <= TOK_PATH_X509_PSS ? "PS256" : "RS256";
}

/* Whether a key of bits fits the mechanism's range. Some modules give the
 * range in bytes: a maximum under 1024 cannot be bits for RSA. */
static int
size_ok(const CK_MECHANISM_INFO *mi, unsigned bits)
{
    unsigned long lo = mi->ulMinKeySize, hi = mi->ulMaxKeySize;

    if (bits == 0 || hi == 0)
        return 1;
    if (hi < 1024) {
        lo *= 8;
        hi *= 8;
    }
    return bits >= lo && bits <= hi;
}

ek_err
tok_mech_mask(struct ek_ctx *ctx, const struct tok_slot *s, unsigned bits,
              int keygen, unsigned *maskp)
{
    CK_MECHANISM_TYPE *list = NULL;
    CK_MECHANISM_INFO mi;
    CK_ULONG n = 0, i;
    unsigned mask = 0;
    int p;
    CK_RV rv;

    *maskp = 0;
    /* the count first, always: a first guess of 128 entries in one call
     * overran the stack with NSS's softoken (Debian 12's libsoftokn3, in
     * tokens_test_nss), which lists more and does not stop at the count
     * it is given */
    rv = TOK_CALL(ctx, s->mod->fl, C_GetMechanismList, s->id, NULL, &n);
    if (rv == CKR_OK && n > 0) {
        /* one spare entry: p11-kit 0.24's client reads one past the end
         * when it purges the mechanisms its RPC cannot carry
         * (mechanism_list_purge in rpc-client.c) */
        if ((list = ek_calloc(ctx, n + 1, sizeof *list)) == NULL)
            return EK_ERR_INTERNAL;
        rv = TOK_CALL(ctx, s->mod->fl, C_GetMechanismList, s->id, list, &n);
    }
    if (rv != CKR_OK) {
        free(list);
        return tok_fail(ctx, rv,
                        "cannot list the mechanisms of token '%s' "
                        "(C_GetMechanismList)",
                        s->label);
    }
    for (i = 0; i < n; i++) {
        if (list[i] == CKM_RSA_PKCS_KEY_PAIR_GEN) {
            if (!keygen)
                continue;
            rv = TOK_CALL(ctx, s->mod->fl, C_GetMechanismInfo, s->id, list[i],
                          &mi);
            if (rv != CKR_OK ||
                ((mi.flags & CKF_GENERATE_KEY_PAIR) && size_ok(&mi, bits)))
                mask |= TOK_CAN_KEYGEN;
            continue;
        }
        for (p = 0; p < TOK_PATH_COUNT; p++) {
            if (list[i] != path_mech[p])
                continue;
            rv = TOK_CALL(ctx, s->mod->fl, C_GetMechanismInfo, s->id, list[i],
                          &mi);
            /* a listed mechanism whose info cannot be read is tried */
            if (rv != CKR_OK || ((mi.flags & CKF_SIGN) && size_ok(&mi, bits)))
                mask |= TOK_PATH_BIT(p);
        }
    }
    free(list);
    *maskp = mask;
    return EK_OK;
}

enum tok_path
tok_choose(unsigned mask, enum ek_alg alg, int with_data)
{
    /* the order docs/architecture.md gives. PS256: hash on the host and
     * CKM_RSA_PKCS_PSS; else the token's own hashing, before raw RSA,
     * which FIPS-mode HSMs refuse. RS256: CKM_SHA256_RSA_PKCS, the
     * mechanism every PKCS#11 policy allows, else CKM_RSA_PKCS over a
     * DigestInfo made on the host (the only choice with a bare digest) */
    static const enum tok_path ps[] = {TOK_PATH_PSS, TOK_PATH_SHA256_PSS,
                                       TOK_PATH_X509_PSS};
    static const enum tok_path rs[] = {TOK_PATH_SHA256_PKCS, TOK_PATH_PKCS_DI};
    const enum tok_path *order = alg == EK_ALG_PS256 ? ps : rs;
    size_t n = alg == EK_ALG_PS256 ? 3 : 2, i;

    for (i = 0; i < n; i++) {
        if (!with_data && (order[i] == TOK_PATH_SHA256_PSS ||
                           order[i] == TOK_PATH_SHA256_PKCS))
            continue;
        if (mask & TOK_PATH_BIT(order[i]))
            return order[i];
    }
    return TOK_PATH_NONE;
}
