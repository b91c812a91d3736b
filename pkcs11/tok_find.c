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
            return ek_seterr(ctx, EK_ERR_NOT_FOUND,
                             "the p11-kit client "
                             "module (%s) has no token: the remote p11-kit "
                             "server is not reachable at %s; start `p11-kit "
                             "server` there, or forward its socket and set "
                             "P11_KIT_SERVER_ADDRESS",
                             sel->mods[0].path, list);
        }
        if (n == 0)
            return ek_seterr(ctx, EK_ERR_NOT_FOUND,
                             "there is no initialised "
                             "token in the PKCS#11 module%s (%s); check that "
                             "the token is inserted, or name the module that "
                             "has it",
                             sel->nmods == 1 ? "" : "s",
                             sel->nmods == 1 ? sel->mods[0].path
                                             : "registered with p11-kit");
        return ek_seterr(ctx, EK_ERR_NOT_FOUND,
                         "no token matches '%s'; the "
                         "tokens there are: %s",
                         shown, list);
    }
    *slotsp = slots;
    *np = m;
    return EK_OK;
}

/* Finds the objects of class cls on a slot matching the URI's id/label
 * (certificates: token objects only; ykcs11's attestation certificates
 * are session objects with the key's id). */
static ek_err
find_class(struct ek_ctx *ctx, struct tok_slot *s, CK_SESSION_HANDLE h,
           const struct tok_uri *u, CK_OBJECT_CLASS cls,
           CK_OBJECT_HANDLE **objsp, CK_ULONG *np)
{
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE tmpl[4] = {{CKA_CLASS, &cls, sizeof cls}};
    CK_ATTRIBUTE *a;
    CK_ULONG n = 1;

    if (cls == CKO_CERTIFICATE)
        tmpl[n++] = (CK_ATTRIBUTE){CKA_TOKEN, &yes, sizeof yes};
    if (u != NULL && u->uri != NULL) {
        if ((a = p11_kit_uri_get_attribute(u->uri, CKA_ID)) != NULL)
            tmpl[n++] = *a;
        if ((a = p11_kit_uri_get_attribute(u->uri, CKA_LABEL)) != NULL)
            tmpl[n++] = *a;
    }
    return tok_find(ctx, s, h, tmpl, n, objsp, np);
}

/* Finds the private keys of a slot matching the URI's id/label. */
static ek_err
find_private(struct ek_ctx *ctx, struct tok_slot *s, CK_SESSION_HANDLE h,
             const struct tok_uri *u, CK_OBJECT_HANDLE **objsp, CK_ULONG *np)
{
    return find_class(ctx, s, h, u, CKO_PRIVATE_KEY, objsp, np);
}

/* What a slot shows for a URI before any login: its visible private keys,
 * and, while private objects are hidden (CKF_LOGIN_REQUIRED, not logged
 * in), the public keys and certificates whose CKA_ID names a hidden
 * private key. A PIN is shown only to the token that holds the key, so
 * keys are found this way first (a token's login state is per process:
 * another context may have logged in). */
struct cand {
    CK_OBJECT_HANDLE obj;
    CK_OBJECT_CLASS cls; /* private key, public key or certificate */
    unsigned char *id;
    size_t idlen;
};
struct view {
    struct cand *c;
    size_t n;
    size_t nprivate;
    int hidden; /* private objects may be hidden until login */
};

static void
view_clear(struct view *v)
{
    size_t i;

    for (i = 0; i < v->n; i++)
        free(v->c[i].id);
    free(v->c);
    memset(v, 0, sizeof *v);
}

static ek_err
view_add(struct ek_ctx *ctx, struct tok_slot *s, CK_SESSION_HANDLE h,
         struct view *v, CK_OBJECT_HANDLE o, CK_OBJECT_CLASS cls)
{
    unsigned char *id = NULL;
    size_t idlen = 0, i;
    struct cand *grown;
    ek_err r;

    if ((r = tok_attr(ctx, s, h, o, CKA_ID, &id, &idlen)) != EK_OK)
        return r;
    if (cls != CKO_PRIVATE_KEY) {
        /* a public half names a hidden private key by its id: none, or
         * one already counted (a public key and its certificate), adds
         * nothing */
        for (i = 0; id != NULL && i < v->n; i++)
            if (v->c[i].idlen == idlen && memcmp(v->c[i].id, id, idlen) == 0)
                break;
        if (id == NULL || idlen == 0 || i < v->n) {
            free(id);
            return EK_OK;
        }
    }
    if ((grown = realloc(v->c, (v->n + 1) * sizeof *grown)) == NULL) {
        free(id);
        return ek_seterr_oom(ctx);
    }
    v->c = grown;
    v->c[v->n++] = (struct cand){o, cls, id, idlen};
    if (cls == CKO_PRIVATE_KEY)
        v->nprivate++;
    return EK_OK;
}

static ek_err
view_slot(struct ek_ctx *ctx, struct tok_slot *s, CK_SESSION_HANDLE h,
          const struct tok_uri *u, struct view *v)
{
    static const CK_OBJECT_CLASS pub[] = {CKO_PUBLIC_KEY, CKO_CERTIFICATE};
    CK_OBJECT_HANDLE *objs = NULL;
    CK_ULONG n = 0, j;
    size_t c;
    ek_err r;

    view_clear(v);
    v->hidden =
        (s->ti.flags & CKF_LOGIN_REQUIRED) && !tok_logged_in(ctx, s, h, NULL);
    if ((r = find_private(ctx, s, h, u, &objs, &n)) != EK_OK)
        goto out;
    for (j = 0; j < n; j++)
        if ((r = view_add(ctx, s, h, v, objs[j], CKO_PRIVATE_KEY)) != EK_OK)
            goto out;
    for (c = 0; v->hidden && c < sizeof pub / sizeof pub[0]; c++) {
        free(objs);
        objs = NULL;
        if ((r = find_class(ctx, s, h, u, pub[c], &objs, &n)) != EK_OK)
            goto out;
        for (j = 0; j < n; j++)
            if ((r = view_add(ctx, s, h, v, objs[j], pub[c])) != EK_OK)
                goto out;
    }
    r = EK_OK;
out:
    free(objs);
    return r;
}

/* A key object for candidate c of a view. */
static ek_err
view_key(struct ek_ctx *ctx, struct tok_slot *s, CK_SESSION_HANDLE h,
         const struct cand *c, struct ek_key **kp)
{
    if (c->cls == CKO_PRIVATE_KEY)
        return tok_key_new(ctx, s, h, c->obj, kp);
    return tok_key_new_public(ctx, s, h, c->obj, c->cls == CKO_PUBLIC_KEY,
                              c->id, c->idlen, kp);
}

/* "'label' (serial S)" of slot s, for messages. */
static void
describe_slot(const struct tok_slot *s, char *out, size_t outsz)
{
    snprintf(out, outsz, "'%s' (serial %s)", s->label,
             s->serial[0] != '\0' ? s->serial : "none");
}

static ek_err
uri_check_class(struct ek_ctx *ctx, const char *s, const struct tok_uri *u)
{
    char shown[1024];

    if (!u->has_class || u->cls == CKO_PRIVATE_KEY)
        return EK_OK;
    tok_uri_redact(s, shown, sizeof shown);
    return ek_seterr(ctx, EK_ERR_USAGE,
                     "the URI '%s' names %s, not a "
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
    struct view v = {NULL, 0, 0, 0};
    struct ek_pin_source *pin_src = NULL;
    CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
    size_t n = 0, i = 0, j;
    int named;
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
    /* a login only for a token the URI names alone: never one PIN for
     * several tokens */
    named = token_uri != NULL && token_uri[0] != '\0' && n == 1;
    for (i = 0; i < n; i++) {
        if ((r = tok_session_open(ctx, &slots[i], 0, &h)) != EK_OK)
            goto out;
        if ((r = view_slot(ctx, &slots[i], h, &u, &v)) != EK_OK)
            goto out;
        if (v.hidden && (v.n == 0 || v.n > v.nprivate)) {
            if (named) {
                r = tok_login(ctx, &slots[i], h, TOK_LOGIN_USER, pin_src, NULL);
                if (r == EK_OK)
                    r = view_slot(ctx, &slots[i], h, &u, &v);
                else if (r == EK_ERR_PIN_REQUIRED)
                    ek_log(ctx, EK_LOG_WARN,
                           "token '%s' keeps its private "
                           "keys hidden until login and there is no PIN "
                           "source: its keys are listed from their public "
                           "keys and certificates, without their "
                           "attributes",
                           slots[i].label);
                if (r != EK_OK && r != EK_ERR_PIN_REQUIRED)
                    goto out;
            } else {
                ek_log(ctx, EK_LOG_INFO,
                       "token '%s': private keys are "
                       "hidden until login; listed from public objects (a "
                       "URI that names this token alone lets it log in)",
                       slots[i].label);
            }
        }
        for (j = 0; j < v.n; j++) {
            if ((r = view_key(ctx, &slots[i], h, &v.c[j], &k)) != EK_OK)
                goto out;
            /* a listed key keeps no session */
            k->session = CK_INVALID_HANDLE;
            if ((r = list_append(ctx, l, k)) != EK_OK) {
                ek_key_free(&k);
                goto out;
            }
        }
        tok_session_close(ctx, &slots[i], h);
        h = CK_INVALID_HANDLE;
    }
    *listp = l;
    l = NULL;
    r = EK_OK;
out:
    if (h != CK_INVALID_HANDLE)
        tok_session_close(ctx, &slots[i], h);
    view_clear(&v);
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
            if (tok_attr(ctx, &slots[i], hs[i], objs[j], CKA_ID, &id, &idlen) ==
                    EK_OK &&
                tok_attr(ctx, &slots[i], hs[i], objs[j], CKA_LABEL, &label,
                         &labellen) == EK_OK &&
                tok_uri_key(ctx, &slots[i], id, idlen, (char *)label, &uri) ==
                    EK_OK) {
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
        ek_hex_encode(a->pValue, a->ulValueLen < 64 ? a->ulValueLen : 64, hex,
                      0);
        snprintf(out + used, outsz - used, "%sid=%s", used > 0 ? ", " : "",
                 hex);
    }
    if (out[0] == '\0')
        snprintf(out, outsz, "any private key");
}

/* Appends "URI (token 'L', serial S)" of candidate c to list. */
static void
describe_cand(struct ek_ctx *ctx, struct tok_slot *s, CK_SESSION_HANDLE h,
              const struct cand *c, char *list, size_t listsz)
{
    unsigned char *label = NULL;
    size_t labellen = 0, used = strlen(list);
    char *uri = NULL;

    /* the URI carries serial= where tokens share a label (dup_label) */
    if (used < listsz &&
        tok_attr(ctx, s, h, c->obj, CKA_LABEL, &label, &labellen) == EK_OK &&
        tok_uri_key(ctx, s, c->id, c->idlen, (char *)label, &uri) == EK_OK)
        snprintf(list + used, listsz - used, "%s%s (token '%s', serial %s)",
                 used > 0 ? ", " : "", uri, s->label,
                 s->serial[0] != '\0' ? s->serial : "none");
    free(label);
    free(uri);
}

static ek_err
tok_key_open_uri(struct ek_ctx *ctx, const char *key_uri, int rw,
                 struct ek_key **keyp)
{
    struct tok_uri u;
    struct tok_slot *slots = NULL;
    CK_SESSION_HANDLE *hs = NULL;
    struct view *views = NULL;
    size_t n = 0, i, j, at = 0, matches = 0, nhidden = 0, hidden_at = 0;
    struct ek_key *k = NULL;
    struct ek_secret *pin = NULL;
    struct ek_pin_source *pin_src = NULL;
    CK_OBJECT_HANDLE *objs = NULL;
    CK_ULONG nobj = 0;
    const struct cand *found = NULL;
    char shown[1024], list[3072], save[EK_ERRMSG_MAX], want[512], tokens[1024],
        one[128];
    ek_err r = EK_ERR_INTERNAL;

    *keyp = NULL;
    if (key_uri == NULL || key_uri[0] == '\0')
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "no key URI was given; list the "
                         "keys first");
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
    if ((hs = ek_calloc(ctx, n, sizeof *hs)) == NULL ||
        (views = ek_calloc(ctx, n, sizeof *views)) == NULL) {
        r = EK_ERR_INTERNAL;
        goto out;
    }
    /* first, what every matching token shows without a login */
    list[0] = tokens[0] = '\0';
    for (i = 0; i < n; i++) {
        if ((r = tok_session_open(ctx, &slots[i], rw, &hs[i])) != EK_OK)
            goto out;
        if ((r = view_slot(ctx, &slots[i], hs[i], &u, &views[i])) != EK_OK)
            goto out;
        if (views[i].n > 0 && matches == 0) {
            at = i;
            found = &views[i].c[0];
        }
        matches += views[i].n;
        if (views[i].n == 0 && views[i].hidden) {
            /* may hold a private key without a public half */
            if (nhidden++ == 0)
                hidden_at = i;
            describe_slot(&slots[i], one, sizeof one);
            snprintf(tokens + strlen(tokens), sizeof tokens - strlen(tokens),
                     "%s%s", nhidden > 1 ? ", " : "", one);
        }
    }
    if (matches > 1) {
        /* refused before any login: one PIN is never tried on several
         * tokens. The candidates' labels are read for the message only
         * (one call each: a round trip on a remote token) */
        for (i = 0; i < n; i++)
            for (j = 0; j < views[i].n; j++)
                describe_cand(ctx, &slots[i], hs[i], &views[i].c[j], list,
                              sizeof list);
        r = ek_seterr(ctx, EK_ERR_AMBIGUOUS,
                      "%zu keys match '%s': %s; name "
                      "one (id=, and serial= where several tokens hold "
                      "it); no PIN was used",
                      matches, shown, list);
        goto out;
    }
    if (matches == 0 && nhidden > 1) {
        r = ek_seterr(ctx, EK_ERR_AMBIGUOUS,
                      "no public key or certificate "
                      "matching '%s' is visible, and %zu tokens keep their "
                      "private keys hidden until login: %s. A PIN goes to "
                      "one token only: name it in the URI (serial=); no PIN "
                      "was used",
                      shown, nhidden, tokens);
        goto out;
    }
    if (matches == 0 && nhidden == 1) {
        /* one token may hold it as a private key alone: its login */
        at = hidden_at;
        if ((r = tok_login(ctx, &slots[at], hs[at], TOK_LOGIN_USER, pin_src,
                           &pin)) != EK_OK)
            goto out;
        if ((r = find_private(ctx, &slots[at], hs[at], &u, &objs, &nobj)) !=
            EK_OK)
            goto out;
        if (nobj > 1) {
            for (j = 0; j < nobj; j++) {
                struct cand c = {objs[j], CKO_PRIVATE_KEY, NULL, 0};

                if (tok_attr(ctx, &slots[at], hs[at], objs[j], CKA_ID, &c.id,
                             &c.idlen) == EK_OK)
                    describe_cand(ctx, &slots[at], hs[at], &c, list,
                                  sizeof list);
                free(c.id);
            }
            r = ek_seterr(ctx, EK_ERR_AMBIGUOUS,
                          "%lu private keys match "
                          "'%s' on token '%s': %s; name one with id=",
                          (unsigned long)nobj, shown, slots[at].label, list);
            goto out;
        }
        if (nobj == 1) {
            if ((r = tok_key_new(ctx, &slots[at], hs[at], objs[0], &k)) !=
                EK_OK)
                goto out;
            matches = 1;
        }
    } else if (matches == 1) {
        if ((r = view_key(ctx, &slots[at], hs[at], found, &k)) != EK_OK)
            goto out;
    }
    if (k == NULL) {
        describe_want(&u, want, sizeof want);
        tok_describe_tokens(slots, n, tokens, sizeof tokens);
        describe_keys(ctx, slots, n, hs, list, sizeof list);
        if (list[0] == '\0')
            r = ek_seterr(ctx, EK_ERR_NOT_FOUND,
                          "no private key matches "
                          "'%s': there is no private key on the matching "
                          "token%s; generate one first",
                          shown, n == 1 ? "" : "s");
        else
            r = ek_seterr(ctx, EK_ERR_NOT_FOUND,
                          "no private key matches "
                          "'%s' (it looked for %s on %s); the private keys "
                          "there are: %s",
                          shown, want, tokens, list);
        goto out;
    }
    hs[at] = CK_INVALID_HANDLE; /* the key's now */
    if ((r = tok_mech_mask(ctx, &k->slot, k->bits, 0, &k->mech_mask)) != EK_OK)
        goto out;
    k->pin_src = pin_src;
    pin_src = NULL;
    if (k->always_auth && pin != NULL) {
        /* the PIN of the login above serves the context-specific logins:
         * a source such as fd:N can be read only once */
        k->pin = pin;
        pin = NULL;
    }
    ek_log(ctx, EK_LOG_INFO, "key %s (%u-bit RSA) on token '%s'%s", k->uri,
           k->bits, k->slot.label,
           ek_key_needs_login(k)
               ? ", found through "
                 "its public objects (the login comes at the first signature)"
               : "");
    *keyp = k;
    k = NULL;
    r = EK_OK;
out:
    /* closing sessions must not replace the sentence of a failure */
    snprintf(save, sizeof save, "%s", ek_ctx_errmsg(ctx));
    ek_key_free(&k);
    for (i = 0; hs != NULL && i < n; i++)
        tok_session_close(ctx, &slots[i], hs[i]);
    for (i = 0; views != NULL && i < n; i++)
        view_clear(&views[i]);
    if (r != EK_OK)
        ek_seterr(ctx, r, "%s", save);
    free(views);
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
