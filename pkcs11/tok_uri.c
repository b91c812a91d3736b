/* tok_uri.c: RFC 7512 PKCS#11 URIs through p11-kit: parsing with checks,
 * matching tokens, and formatting the URIs we print. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tok.h"

/* The attributes p11-kit 0.24 understands. */
static const char *const path_attrs[] = {
    "token",
    "manufacturer",
    "serial",
    "model",
    "library-manufacturer",
    "library-description",
    "library-version",
    "id",
    "object",
    "type",
    "object-type",
    "slot-description",
    "slot-manufacturer",
    "slot-id",
};
static const char *const query_attrs[] = {
    "pin-value",
    "pin-source",
    "module-name",
    "module-path",
};

static int
known(const char *name, size_t n, const char *const *list, size_t count)
{
    size_t i;

    for (i = 0; i < count; i++)
        if (strlen(list[i]) == n && strncmp(list[i], name, n) == 0)
            return 1;
    return 0;
}

#define NPATH (sizeof path_attrs / sizeof path_attrs[0])
#define NQUERY (sizeof query_attrs / sizeof query_attrs[0])

/* Whether a message may show this attribute's value: one p11-kit
 * understands, except pin-value. Everything else (a misspelt or
 * differently-cased name, a vendor's) is shown as ***, since a near miss
 * may well hold a PIN. */
static int
shown_attr(const char *name, size_t n)
{
    return known(name, n, path_attrs, NPATH) ||
           (known(name, n, query_attrs, NQUERY) &&
            !(n == 9 && strncmp(name, "pin-value", 9) == 0));
}

static int
has_pin_value(const char *p, size_t n)
{
    static const char key[] = "pin-value";
    size_t i;

    for (i = 0; i + sizeof key - 1 <= n; i++)
        if (strncasecmp(p + i, key, sizeof key - 1) == 0)
            return 1;
    return 0;
}

/* One attribute of a URI: [p, end) is "name=value" or, when malformed, no
 * '=' at all; *end is the separator (';', '?', '&' or NUL). */
struct seg {
    const char *p, *end, *eq;
    size_t n; /* the name's length */
    int query;
};

/* The next segment after s->end (or the first one when s->p is NULL);
 * 0 at the end of the URI. */
static int
next_seg(const char *uri, struct seg *s)
{
    const char *p;

    if (s->p == NULL) {
        p = uri + strcspn(uri, ":");
        if (*p == '\0')
            return 0;
        p++;
        s->query = 0;
        if (*p == '\0')
            return 0;
        if (*p == '?') {
            s->query = 1;
            p++;
        }
    } else {
        if (*s->end == '\0')
            return 0;
        if (*s->end == '?')
            s->query = 1;
        p = s->end + 1;
    }
    s->p = p;
    s->end = p + strcspn(p, s->query ? "&" : ";?");
    s->eq = memchr(p, '=', (size_t)(s->end - p));
    s->n = s->eq != NULL ? (size_t)(s->eq - p) : (size_t)(s->end - p);
    return 1;
}

void
tok_uri_redact(const char *s, char *out, size_t outsz)
{
    struct seg g = {NULL, NULL, NULL, 0, 0};
    const char *done;
    size_t used = 0, n;
    int w, keep;

    if (outsz == 0)
        return;
    out[0] = '\0';
    if (s == NULL) {
        snprintf(out, outsz, "(none)");
        return;
    }
    /* a scheme is letters, digits, '+', '-', '.'; anything else before
     * the ':' (or no ':') may be a PIN given in the wrong place */
    n = strcspn(s, ":");
    if (s[n] != ':' ||
        strspn(s, "abcdefghijklmnopqrstuvwxyz"
                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.") != n) {
        snprintf(out, outsz, "***");
        return;
    }
    done = s;
    while (used < outsz && next_seg(s, &g)) {
        keep = g.eq != NULL && shown_attr(g.p, g.n) &&
               !has_pin_value(g.p, (size_t)(g.end - g.p));
        if (keep)
            continue;
        /* what came before, the name and '=' when there is one, then *** */
        w = snprintf(out + used, outsz - used, "%.*s***",
                     (int)((g.eq != NULL ? g.eq + 1 : g.p) - done), done);
        if (w < 0)
            return;
        used += (size_t)w;
        done = g.end;
    }
    if (used < outsz)
        snprintf(out + used, outsz - used, "%s", done);
}

/* Refuses what p11-kit 0.24 would read differently from what was written:
 * an empty segment (";;", a ';' or '&' at either end) ends its parsing and
 * silently drops what follows, so "pkcs11:token=u;;object=x" would name
 * any key on u. Names the first attribute p11-kit does not understand
 * (p11-kit only says that there is one). */
static ek_err
check_segments(struct ek_ctx *ctx, const char *s, const char *shown)
{
    struct seg g = {NULL, NULL, NULL, 0, 0};
    const char *rest = s + strcspn(s, ":");

    if (*rest == ':' && rest[1] == '?' && rest[2] == '\0')
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "the PKCS#11 URI '%s' has an "
                         "empty query after '?'; remove the '?'",
                         shown);
    while (next_seg(s, &g)) {
        if (g.p == g.end)
            return ek_seterr(ctx, EK_ERR_USAGE,
                             "the PKCS#11 URI '%s' has "
                             "an empty attribute (\"%s\", or a '%c' at the "
                             "start or end); remove the extra '%c', since "
                             "what follows it would be ignored",
                             shown, g.query ? "&&" : ";;", g.query ? '&' : ';',
                             g.query ? '&' : ';');
        if (g.n > 0 && !(g.query ? known(g.p, g.n, query_attrs, NQUERY) ||
                                       strncmp(g.p, "x-", 2) == 0
                                 : known(g.p, g.n, path_attrs, NPATH)))
            return ek_seterr(ctx, EK_ERR_USAGE,
                             "the PKCS#11 URI '%s' has an "
                             "attribute entrakey does not understand: '%.*s' "
                             "(or its value); use token=, manufacturer=, "
                             "serial=, model=, library-manufacturer=, "
                             "library-description=, library-version=, id=, "
                             "object=, type=private, slot-id=, "
                             "slot-description=, slot-manufacturer=, "
                             "pin-source=, pin-value=, module-name=, "
                             "module-path=",
                             shown, g.n > 63 ? 63 : (int)g.n, g.p);
    }
    return EK_OK;
}

static int
set_field(const unsigned char *f)
{
    return f[0] != '\0';
}

/* Whether p11-kit holds the attribute [name, name + n) that the string
 * had: it stops at what it cannot read without saying so. */
static int
parsed(P11KitUri *uri, const char *name, size_t n)
{
    CK_TOKEN_INFO *ti = p11_kit_uri_get_token_info(uri);
    CK_SLOT_INFO *si = p11_kit_uri_get_slot_info(uri);
    CK_INFO *mi = p11_kit_uri_get_module_info(uri);
    const struct {
        const char *name;
        int set;
    } t[] = {
        {"token", set_field(ti->label)},
        {"manufacturer", set_field(ti->manufacturerID)},
        {"serial", set_field(ti->serialNumber)},
        {"model", set_field(ti->model)},
        {"library-manufacturer", set_field(mi->manufacturerID)},
        {"library-description", set_field(mi->libraryDescription)},
        {"library-version", mi->libraryVersion.major != (CK_BYTE)-1},
        {"id", p11_kit_uri_get_attribute(uri, CKA_ID) != NULL},
        {"object", p11_kit_uri_get_attribute(uri, CKA_LABEL) != NULL},
        {"type", p11_kit_uri_get_attribute(uri, CKA_CLASS) != NULL},
        {"object-type", p11_kit_uri_get_attribute(uri, CKA_CLASS) != NULL},
        {"slot-description", set_field(si->slotDescription)},
        {"slot-manufacturer", set_field(si->manufacturerID)},
        {"slot-id", p11_kit_uri_get_slot_id(uri) != (CK_SLOT_ID)-1},
        {"pin-value", p11_kit_uri_get_pin_value(uri) != NULL},
        {"pin-source", p11_kit_uri_get_pin_source(uri) != NULL},
        {"module-name", p11_kit_uri_get_module_name(uri) != NULL},
        {"module-path", p11_kit_uri_get_module_path(uri) != NULL},
    };
    size_t i;

    for (i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strlen(t[i].name) == n && strncmp(t[i].name, name, n) == 0)
            return t[i].set;
    return 1; /* x-…: vendor attributes p11-kit keeps aside */
}

/* Every attribute written is one p11-kit parsed. */
static ek_err
check_parsed(struct ek_ctx *ctx, const char *s, P11KitUri *uri,
             const char *shown)
{
    struct seg g = {NULL, NULL, NULL, 0, 0};

    while (next_seg(s, &g))
        if (!parsed(uri, g.p, g.n))
            return ek_seterr(ctx, EK_ERR_USAGE,
                             "the PKCS#11 URI '%s' has "
                             "'%.*s' where p11-kit did not read it; check "
                             "the separators (';' between path attributes, "
                             "'?' then '&' between query attributes)",
                             shown, g.n > 63 ? 63 : (int)g.n, g.p);
    return EK_OK;
}

ek_err
tok_uri_parse(struct ek_ctx *ctx, const char *s, struct tok_uri *u)
{
    char shown[1024];
    CK_ATTRIBUTE *a;
    ek_err r;
    int rc;

    memset(u, 0, sizeof *u);
    if (s == NULL)
        return EK_OK;
    tok_uri_redact(s, shown, sizeof shown);
    if ((u->uri = p11_kit_uri_new()) == NULL)
        return ek_seterr_oom(ctx);
    rc = p11_kit_uri_parse(s, P11_KIT_URI_FOR_ANY, u->uri);
    if (rc != P11_KIT_URI_OK) {
        tok_uri_clear(u);
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "the PKCS#11 URI '%s' is not "
                         "valid: %s; the form is "
                         "pkcs11:token=LABEL;object=LABEL;type=private "
                         "(RFC 7512; escape special characters as %%XX)",
                         shown, p11_kit_uri_message(rc));
    }
    if ((r = check_segments(ctx, s, shown)) != EK_OK) {
        tok_uri_clear(u);
        return r;
    }
    if (p11_kit_uri_any_unrecognized(u->uri)) {
        tok_uri_clear(u);
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "the PKCS#11 URI '%s' has an "
                         "attribute entrakey does not understand: 'type' (or "
                         "its value); use token=, serial=, id=, object=, "
                         "type=private, slot-id=, pin-source=, pin-value=, "
                         "module-path=",
                         shown);
    }
    if ((r = check_parsed(ctx, s, u->uri, shown)) != EK_OK) {
        tok_uri_clear(u);
        return r;
    }
    u->module_path = p11_kit_uri_get_module_path(u->uri);
    u->pin_value = p11_kit_uri_get_pin_value(u->uri);
    u->pin_source = p11_kit_uri_get_pin_source(u->uri);
    u->has_id = p11_kit_uri_get_attribute(u->uri, CKA_ID) != NULL;
    u->has_label = p11_kit_uri_get_attribute(u->uri, CKA_LABEL) != NULL;
    if ((a = p11_kit_uri_get_attribute(u->uri, CKA_CLASS)) != NULL &&
        a->ulValueLen == sizeof(CK_OBJECT_CLASS)) {
        u->has_class = 1;
        memcpy(&u->cls, a->pValue, sizeof u->cls);
    }
    return EK_OK;
}

void
tok_uri_clear(struct tok_uri *u)
{
    const char *pv;

    if (u->uri != NULL) {
        /* p11-kit frees its copy of pin-value= without wiping it */
        if ((pv = p11_kit_uri_get_pin_value(u->uri)) != NULL)
            ek_wipe((void *)(uintptr_t)pv, strlen(pv));
        p11_kit_uri_free(u->uri);
    }
    memset(u, 0, sizeof *u);
}

int
tok_uri_match_slot(const struct tok_uri *u, const struct tok_slot *s)
{
    CK_SLOT_ID want;
    const char *mname;

    if (u == NULL || u->uri == NULL)
        return 1;
    if (!p11_kit_uri_match_token_info(u->uri, &s->ti))
        return 0;
    if (!p11_kit_uri_match_slot_info(u->uri, &s->si))
        return 0;
    if (s->mod->has_info &&
        !p11_kit_uri_match_module_info(u->uri, &s->mod->info))
        return 0;
    want = p11_kit_uri_get_slot_id(u->uri);
    if (want != (CK_SLOT_ID)-1 && want != s->id)
        return 0;
    mname = p11_kit_uri_get_module_name(u->uri);
    if (mname != NULL && strcmp(mname, s->mod->name) != 0)
        return 0;
    return 1;
}

static void
pad(unsigned char *field, size_t n, const char *s)
{
    size_t len = strlen(s);

    if (len == 0)
        return; /* left zero: p11-kit leaves the attribute out */
    memset(field, ' ', n);
    memcpy(field, s, len < n ? len : n);
}

static ek_err
format(struct ek_ctx *ctx, P11KitUri *uri, P11KitUriType type, char **outp)
{
    char *out = NULL;
    int rc;

    rc = p11_kit_uri_format(uri, type, &out);
    p11_kit_uri_free(uri);
    if (rc != P11_KIT_URI_OK || out == NULL) {
        free(out);
        return ek_seterr(ctx, EK_ERR_INTERNAL,
                         "cannot format a PKCS#11 "
                         "URI: %s",
                         p11_kit_uri_message(rc));
    }
    *outp = out;
    return EK_OK;
}

ek_err
tok_uri_key(struct ek_ctx *ctx, const struct tok_slot *s,
            const unsigned char *id, size_t id_len, const char *label,
            char **outp)
{
    P11KitUri *uri;
    CK_TOKEN_INFO *ti;
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE a;

    *outp = NULL;
    if ((uri = p11_kit_uri_new()) == NULL)
        return ek_seterr_oom(ctx);
    ti = p11_kit_uri_get_token_info(uri);
    if (strncmp(s->manufacturer, "piv_II", 6) == 0) {
        /* OpenSC names a PIV token after one of its certificates, so a
         * token= URI stops matching when a certificate changes: the
         * card's model and serial number do not */
        pad(ti->model, sizeof ti->model, s->model);
        pad(ti->manufacturerID, sizeof ti->manufacturerID, s->manufacturer);
        pad(ti->serialNumber, sizeof ti->serialNumber, s->serial);
    } else {
        pad(ti->label, sizeof ti->label, s->label);
        if (s->dup_label)
            pad(ti->serialNumber, sizeof ti->serialNumber, s->serial);
    }
    if (id_len > 0) {
        a.type = CKA_ID;
        a.pValue = (void *)(uintptr_t)id;
        a.ulValueLen = id_len;
        p11_kit_uri_set_attribute(uri, &a);
    }
    if (label != NULL && label[0] != '\0') {
        a.type = CKA_LABEL;
        a.pValue = (void *)(uintptr_t)label;
        a.ulValueLen = strlen(label);
        p11_kit_uri_set_attribute(uri, &a);
    }
    a.type = CKA_CLASS;
    a.pValue = &cls;
    a.ulValueLen = sizeof cls;
    p11_kit_uri_set_attribute(uri, &a);
    return format(ctx, uri, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, outp);
}

ek_err
tok_uri_token(struct ek_ctx *ctx, const struct tok_slot *s, char **outp)
{
    P11KitUri *uri;
    CK_TOKEN_INFO *ti;

    *outp = NULL;
    if ((uri = p11_kit_uri_new()) == NULL)
        return ek_seterr_oom(ctx);
    ti = p11_kit_uri_get_token_info(uri);
    pad(ti->label, sizeof ti->label, s->label);
    pad(ti->manufacturerID, sizeof ti->manufacturerID, s->manufacturer);
    pad(ti->model, sizeof ti->model, s->model);
    pad(ti->serialNumber, sizeof ti->serialNumber, s->serial);
    return format(ctx, uri, P11_KIT_URI_FOR_TOKEN, outp);
}
