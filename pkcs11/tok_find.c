/* tok_find.c: which tokens and keys a URI names: matching tokens, searching
 * them for private keys (logging in where private objects are hidden),
 * listing keys and opening the one key a URI names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok.h"

struct ek_key_list {
    struct ek_key **keys;
    size_t n;
};

/* ------------------------------------------------------------- selection */

/* A one-line list of tokens for messages: "'a' (serial 1), 'b' (…)". */
void
tok_describe_tokens(struct tok_slot *slots, size_t n, char *out, size_t outsz)
{
    size_t i, used = 0;
    int w;

    out[0] = '\0';
    for (i = 0; i < n && used < outsz; i++) {
        w = snprintf(out + used, outsz - used, "%s'%s' (serial %s)",
                     i > 0 ? ", " : "", slots[i].label, slots[i].serial);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    if (n == 0)
        snprintf(out, outsz, "none");
}

/* The slots that a URI's token part matches; none is EK_ERR_NOT_FOUND
 * naming the tokens there are. */
ek_err
tok_match_slots(struct ek_ctx *ctx, const char *uri_str, struct tok_uri *u,
               struct tok_slot **slotsp, size_t *np)
{
    struct tok_sel *sel = NULL;
    struct tok_slot *slots = NULL;
    char list[1024], shown[1024];
    size_t n = 0, i, m = 0;
    ek_err r;

    *slotsp = NULL;
    *np = 0;
    if ((r = tok_modules(ctx, u->module_path, &sel)) != EK_OK)
        return r;
    if ((r = tok_slots(ctx, sel, 0, &slots, &n)) != EK_OK)
        return r;
    for (i = 0; i < n; i++)
        if (tok_uri_match_slot(u, &slots[i]))
            slots[m++] = slots[i];
    if (m == 0) {
        tok_describe_tokens(slots, n, list, sizeof list);
        tok_uri_redact(uri_str, shown, sizeof shown);
        free(slots);
        if (n == 0 && sel->nmods == 1 && tok_module_is_client(&sel->mods[0])) {
            tok_client_address(list, sizeof list);
            return ek_seterr(ctx, EK_ERR_NOT_FOUND, "the p11-kit client "
                             "module (%s) has no token: the remote p11-kit "
                             "server is not reachable at %s; start `p11-kit "
                             "server` there, or forward its socket and set "
                             "P11_KIT_SERVER_ADDRESS", sel->mods[0].path,
                             list);
        }
        if (n == 0)
            return ek_seterr(ctx, EK_ERR_NOT_FOUND, "there is no initialised "
                             "token in the PKCS#11 module%s (%s); check that "
                             "the token is inserted, or give --module",
                             sel->nmods == 1 ? "" : "s",
                             sel->nmods == 1 ? sel->mods[0].path
                                             : "registered with p11-kit");
        return ek_seterr(ctx, EK_ERR_NOT_FOUND, "no token matches '%s'; the "
                         "tokens there are: %s (see entrakey tokens)", shown,
                         list);
    }
    *slotsp = slots;
    *np = m;
    return EK_OK;
}

/* Finds the private keys of a slot matching the URI's id/label. */
static ek_err
find_private(struct ek_ctx *ctx, struct tok_slot *s, CK_SESSION_HANDLE h,
             const struct tok_uri *u, CK_OBJECT_HANDLE **objsp,
             CK_ULONG *np)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE tmpl[3] = {{CKA_CLASS, &cls, sizeof cls}};
    CK_ATTRIBUTE *a;
    CK_ULONG n = 1;

    if (u != NULL && u->uri != NULL) {
        if ((a = p11_kit_uri_get_attribute(u->uri, CKA_ID)) != NULL)
            tmpl[n++] = *a;
        if ((a = p11_kit_uri_get_attribute(u->uri, CKA_LABEL)) != NULL)
            tmpl[n++] = *a;
    }
    return tok_find(ctx, s, h, tmpl, n, objsp, np);
}

/* Whether a public key or certificate has an id that no visible private
 * key has: then private objects are hidden until login. */
static int
orphan_ids(struct ek_ctx *ctx, struct tok_slot *s, CK_SESSION_HANDLE h,
           CK_OBJECT_HANDLE *privs, CK_ULONG nprivs)
{
    static const CK_OBJECT_CLASS classes[] = {CKO_PUBLIC_KEY,
                                              CKO_CERTIFICATE};
    CK_OBJECT_CLASS cls;
    CK_ATTRIBUTE tmpl = {CKA_CLASS, &cls, sizeof cls};
    CK_OBJECT_HANDLE *objs = NULL;
    CK_ULONG n = 0, i, j;
    unsigned char *id = NULL, *pid = NULL;
    size_t idlen = 0, pidlen = 0;
    size_t c;
    int orphan = 0, found;

    for (c = 0; c < 2 && !orphan; c++) {
        cls = classes[c];
        if (tok_find(ctx, s, h, &tmpl, 1, &objs, &n) != EK_OK)
            return 1;
        for (i = 0; i < n && !orphan; i++) {
            if (tok_attr(ctx, s, h, objs[i], CKA_ID, &id, &idlen) != EK_OK ||
                id == NULL)
                continue;
            found = 0;
            for (j = 0; j < nprivs && !found; j++) {
                if (tok_attr(ctx, s, h, privs[j], CKA_ID, &pid, &pidlen) ==
                        EK_OK &&
                    pid != NULL && pidlen == idlen &&
                    memcmp(pid, id, idlen) == 0)
                    found = 1;
                free(pid);
                pid = NULL;
            }
            orphan = !found;
            free(id);
            id = NULL;
        }
        free(objs);
        objs = NULL;
    }
    return orphan;
}

/* Searches a slot, logging in first when private objects may be hidden. */
static ek_err
search_slot(struct ek_ctx *ctx, struct tok_slot *s, CK_SESSION_HANDLE h,
            const struct tok_uri *u, const struct ek_pin_source *pin_src,
            int listing, struct ek_secret **keep, CK_OBJECT_HANDLE **objsp,
            CK_ULONG *np)
{
    ek_err r;
    int need, logged;

    /* the login state before the search: another context of this process
     * may log in while it runs (login state is per application), and a
     * search made before that login sees no private object */
    logged = !(s->ti.flags & CKF_LOGIN_REQUIRED) ||
             tok_logged_in(ctx, s, h, NULL);
    if ((r = find_private(ctx, s, h, u, objsp, np)) != EK_OK)
        return r;
    if (logged)
        return EK_OK;
    if (listing)
        need = *np == 0 || orphan_ids(ctx, s, h, *objsp, *np);
    else
        need = *np == 0;
    if (!need)
        return EK_OK;
    free(*objsp);
    *objsp = NULL;
    *np = 0;
    if ((r = tok_login(ctx, s, h, TOK_LOGIN_USER, pin_src, keep)) != EK_OK)
        return r;
    return find_private(ctx, s, h, u, objsp, np);
}

static ek_err
uri_check_class(struct ek_ctx *ctx, const char *s, const struct tok_uri *u)
{
    char shown[1024];

    if (!u->has_class || u->cls == CKO_PRIVATE_KEY)
        return EK_OK;
    tok_uri_redact(s, shown, sizeof shown);
    return ek_seterr(ctx, EK_ERR_USAGE, "the URI '%s' names %s, not a "
                     "private key; use type=private or leave type= out",
                     shown,
                     u->cls == CKO_CERTIFICATE  ? "a certificate (type=cert)"
                     : u->cls == CKO_PUBLIC_KEY ? "a public key (type=public)"
                                                : "another kind of object");
}

static ek_err
list_append(struct ek_ctx *ctx, struct ek_key_list *l, struct ek_key *k)
{
    struct ek_key **grown;

    grown = realloc(l->keys, (l->n + 1) * sizeof(struct ek_key *));
    if (grown == NULL)
        return ek_seterr_oom(ctx);
    l->keys = grown;
    l->keys[l->n++] = k;
    return EK_OK;
}

ek_err
ek_keys_list(struct ek_ctx *ctx, const char *token_uri,
             struct ek_key_list **listp)
{
    struct tok_uri u;
    struct tok_slot *slots = NULL;
    struct ek_key_list *l = NULL;
    struct ek_key *k = NULL;
    struct ek_pin_source *pin_src = NULL;
    CK_OBJECT_HANDLE *objs = NULL;
    CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
    CK_ULONG nobj = 0, j;
    size_t n = 0, i = 0;
    ek_err r = EK_ERR_INTERNAL;

    if (ctx == NULL || listp == NULL)
        return EK_ERR_USAGE;
    *listp = NULL;
    if ((r = tok_uri_parse(ctx, token_uri, &u)) != EK_OK)
        return r;
    if ((r = uri_check_class(ctx, token_uri, &u)) != EK_OK)
        goto out;
    if ((r = tok_pin_resolve(ctx, &u, &pin_src)) != EK_OK)
        goto out;
    if ((r = tok_match_slots(ctx, token_uri, &u, &slots, &n)) != EK_OK)
        goto out;
    if ((l = ek_calloc(ctx, 1, sizeof *l)) == NULL) {
        r = EK_ERR_INTERNAL;
        goto out;
    }
    for (i = 0; i < n; i++) {
        if ((r = tok_session_open(ctx, &slots[i], 0, &h)) != EK_OK)
            goto out;
        if ((r = search_slot(ctx, &slots[i], h, &u, pin_src, 1, NULL, &objs,
                             &nobj)) !=
            EK_OK)
            goto out;
        for (j = 0; j < nobj; j++) {
            if ((r = tok_key_new(ctx, &slots[i], h, objs[j], &k)) != EK_OK)
                goto out;
            /* a listed key keeps no session */
            k->session = CK_INVALID_HANDLE;
            if ((r = list_append(ctx, l, k)) != EK_OK) {
                ek_key_free(&k);
                goto out;
            }
        }
        free(objs);
        objs = NULL;
        tok_session_close(ctx, &slots[i], h);
        h = CK_INVALID_HANDLE;
    }
    *listp = l;
    l = NULL;
    r = EK_OK;
out:
    if (h != CK_INVALID_HANDLE)
        tok_session_close(ctx, &slots[i], h);
    free(objs);
    ek_key_list_free(&l);
    ek_pin_source_free(&pin_src);
    free(slots);
    tok_uri_clear(&u);
    return r;
}

size_t
ek_key_list_count(const struct ek_key_list *l)
{
    return l != NULL ? l->n : 0;
}

const struct ek_key *
ek_key_list_get(const struct ek_key_list *l, size_t i)
{
    return l != NULL && i < l->n ? l->keys[i] : NULL;
}

void
ek_key_list_free(struct ek_key_list **lp)
{
    struct ek_key_list *l;
    size_t i;

    if (lp == NULL || (l = *lp) == NULL)
        return;
    for (i = 0; i < l->n; i++)
        ek_key_free(&l->keys[i]);
    free(l->keys);
    free(l);
    *lp = NULL;
}

/* "URI1, URI2" of every private key on the slots (for messages). */
static void
describe_keys(struct ek_ctx *ctx, struct tok_slot *slots, size_t n,
              CK_SESSION_HANDLE *hs, char *out, size_t outsz)
{
    CK_OBJECT_HANDLE *objs = NULL;
    CK_ULONG nobj = 0, j;
    unsigned char *id = NULL, *label = NULL;
    size_t idlen = 0, labellen = 0, used = 0, i;
    char *uri = NULL;
    int w;

    out[0] = '\0';
    for (i = 0; i < n; i++) {
        if (hs[i] == CK_INVALID_HANDLE ||
            find_private(ctx, &slots[i], hs[i], NULL, &objs, &nobj) != EK_OK)
            continue;
        for (j = 0; j < nobj && used < outsz; j++) {
            if (tok_attr(ctx, &slots[i], hs[i], objs[j], CKA_ID, &id,
                         &idlen) == EK_OK &&
                tok_attr(ctx, &slots[i], hs[i], objs[j], CKA_LABEL, &label,
                         &labellen) == EK_OK &&
                tok_uri_key(ctx, &slots[i], id, idlen, (char *)label,
                            &uri) == EK_OK) {
                w = snprintf(out + used, outsz - used, "%s%s",
                             used > 0 ? ", " : "", uri);
                if (w > 0)
                    used += (size_t)w;
            }
            free(id);
            free(label);
            free(uri);
            id = label = NULL;
            uri = NULL;
        }
        free(objs);
        objs = NULL;
    }
}

/* "object='x', id=01" of what a URI asks for. */
static void
describe_want(const struct tok_uri *u, char *out, size_t outsz)
{
    CK_ATTRIBUTE *a;
    char hex[129];
    size_t used = 0;
    int w;

    out[0] = '\0';
    if ((a = p11_kit_uri_get_attribute(u->uri, CKA_LABEL)) != NULL) {
        w = snprintf(out, outsz, "object='%.*s'", (int)a->ulValueLen,
                     (const char *)a->pValue);
        if (w > 0)
            used = (size_t)w;
    }
    if ((a = p11_kit_uri_get_attribute(u->uri, CKA_ID)) != NULL &&
        used < outsz) {
        ek_hex_encode(a->pValue, a->ulValueLen < 64 ? a->ulValueLen : 64,
                      hex, 0);
        snprintf(out + used, outsz - used, "%sid=%s", used > 0 ? ", " : "",
                 hex);
    }
    if (out[0] == '\0')
        snprintf(out, outsz, "any private key");
}

static ek_err
tok_key_open_uri(struct ek_ctx *ctx, const char *key_uri, int rw,
                 struct ek_key **keyp)
{
    struct tok_uri u;
    struct tok_slot *slots = NULL;
    CK_SESSION_HANDLE *hs = NULL;
    CK_OBJECT_HANDLE *objs = NULL, found = CK_INVALID_HANDLE;
    CK_ULONG nobj = 0;
    size_t n = 0, i, at = 0, matches = 0;
    struct ek_key *k = NULL;
    struct ek_secret *pin = NULL;
    struct ek_pin_source *pin_src = NULL;
    char shown[1024], list[3072], save[EK_ERRMSG_MAX], want[512],
        tokens[1024];
    ek_err r = EK_ERR_INTERNAL;

    *keyp = NULL;
    if (key_uri == NULL || key_uri[0] == '\0')
        return ek_seterr(ctx, EK_ERR_USAGE, "no key URI was given; list the "
                         "keys with entrakey keys");
    if ((r = tok_uri_parse(ctx, key_uri, &u)) != EK_OK)
        return r;
    tok_uri_redact(key_uri, shown, sizeof shown);
    if ((r = uri_check_class(ctx, key_uri, &u)) != EK_OK)
        goto out;
    /* the PIN source is resolved once, here, and kept on the key */
    if ((r = tok_pin_resolve(ctx, &u, &pin_src)) != EK_OK)
        goto out;
    if ((r = tok_match_slots(ctx, key_uri, &u, &slots, &n)) != EK_OK)
        goto out;
    if ((hs = ek_calloc(ctx, n, sizeof *hs)) == NULL) {
        r = EK_ERR_INTERNAL;
        goto out;
    }
    list[0] = '\0';
    for (i = 0; i < n; i++) {
        if ((r = tok_session_open(ctx, &slots[i], rw, &hs[i])) != EK_OK)
            goto out;
        if ((r = search_slot(ctx, &slots[i], hs[i], &u, pin_src, 0, &pin,
                             &objs,
                             &nobj)) !=
            EK_OK)
            goto out;
        if (nobj > 0 && matches == 0) {
            at = i;
            found = objs[0];
        }
        matches += nobj;
        if (nobj > 0) {
            /* the URIs of the matches, for EK_ERR_AMBIGUOUS */
            for (CK_ULONG j = 0; j < nobj; j++) {
                unsigned char *id = NULL, *label = NULL;
                size_t idlen = 0, labellen = 0, used = strlen(list);
                char *uri = NULL;

                if (tok_attr(ctx, &slots[i], hs[i], objs[j], CKA_ID, &id,
                             &idlen) == EK_OK &&
                    tok_attr(ctx, &slots[i], hs[i], objs[j], CKA_LABEL,
                             &label, &labellen) == EK_OK &&
                    tok_uri_key(ctx, &slots[i], id, idlen, (char *)label,
                                &uri) == EK_OK && used < sizeof list)
                    snprintf(list + used, sizeof list - used, "%s%s",
                             used > 0 ? ", " : "", uri);
                free(id);
                free(label);
                free(uri);
            }
        }
        free(objs);
        objs = NULL;
    }
    if (matches == 0) {
        describe_want(&u, want, sizeof want);
        tok_describe_tokens(slots, n, tokens, sizeof tokens);
        describe_keys(ctx, slots, n, hs, list, sizeof list);
        if (list[0] == '\0')
            r = ek_seterr(ctx, EK_ERR_NOT_FOUND, "no private key matches "
                          "'%s': there is no private key on the matching "
                          "token%s; make one with entrakey keygen", shown,
                          n == 1 ? "" : "s");
        else
            r = ek_seterr(ctx, EK_ERR_NOT_FOUND, "no private key matches "
                          "'%s' (it looked for %s on %s); the private keys "
                          "there are: %s", shown, want, tokens, list);
        goto out;
    }
    if (matches > 1) {
        r = ek_seterr(ctx, EK_ERR_AMBIGUOUS, "%zu private keys match '%s': "
                      "%s; name one with id= (and serial= if the tokens "
                      "share a label)", matches, shown, list);
        goto out;
    }
    if ((r = tok_key_new(ctx, &slots[at], hs[at], found, &k)) != EK_OK)
        goto out;
    hs[at] = CK_INVALID_HANDLE; /* the key's now */
    if ((r = tok_mech_mask(ctx, &k->slot, k->bits, &k->mech_mask)) != EK_OK)
        goto out;
    k->pin_src = pin_src;
    pin_src = NULL;
    if (k->always_auth) {
        /* the PIN of the login above serves the context-specific logins:
         * a source such as fd:N can be read only once */
        k->pin = pin;
        pin = NULL;
    }
    ek_log(ctx, EK_LOG_INFO, "key %s (%u-bit RSA) on token '%s'", k->uri,
           k->bits, k->slot.label);
    *keyp = k;
    k = NULL;
    r = EK_OK;
out:
    /* closing sessions must not replace the sentence of a failure */
    snprintf(save, sizeof save, "%s", ek_ctx_errmsg(ctx));
    ek_key_free(&k);
    for (i = 0; hs != NULL && i < n; i++)
        tok_session_close(ctx, &slots[i], hs[i]);
    if (r != EK_OK)
        ek_seterr(ctx, r, "%s", save);
    free(hs);
    free(objs);
    free(slots);
    ek_secret_free(&pin);
    ek_pin_source_free(&pin_src);
    tok_uri_clear(&u);
    return r;
}

ek_err
ek_key_open(struct ek_ctx *ctx, const char *key_uri, struct ek_key **keyp)
{
    if (ctx == NULL || keyp == NULL)
        return EK_ERR_USAGE;
    return tok_key_open_uri(ctx, key_uri, 1, keyp);
}
