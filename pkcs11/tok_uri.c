/* tok_uri.c: RFC 7512 PKCS#11 URIs through p11-kit: parsing with checks,
 * matching tokens, and formatting the URIs we print. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok.h"

/* The attributes p11-kit 0.24 understands. */
static const char *const path_attrs[] = {
    "token", "manufacturer", "serial", "model", "library-manufacturer",
    "library-description", "library-version", "id", "object", "type",
    "object-type", "slot-description", "slot-manufacturer", "slot-id",
};
static const char *const query_attrs[] = {
    "pin-value", "pin-source", "module-name", "module-path",
};

void
tok_uri_redact(const char *s, char *out, size_t outsz)
{
    static const char key[] = "pin-value=";
    const char *p, *hit;
    size_t used = 0;
    int w;

    if (outsz == 0)
        return;
    out[0] = '\0';
    if (s == NULL) {
        snprintf(out, outsz, "(none)");
        return;
    }
    /* every pin-value= (a URI may repeat it), up to the next '&' */
    for (p = s; (hit = strstr(p, key)) != NULL && used < outsz;
         p = hit + strcspn(hit, "&")) {
        hit += sizeof key - 1;
        w = snprintf(out + used, outsz - used, "%.*s***", (int)(hit - p), p);
        if (w < 0)
            return;
        used += (size_t)w;
    }
    if (used < outsz)
        snprintf(out + used, outsz - used, "%s", p);
}

static int
known(const char *name, size_t n, const char *const *list, size_t count)
{
    size_t i;

    for (i = 0; i < count; i++)
        if (strlen(list[i]) == n && strncmp(list[i], name, n) == 0)
            return 1;
    return 0;
}

/* Finds the first attribute name p11-kit would not understand: p11-kit only
 * says that there is one. */
static int
first_unknown(const char *s, char *name, size_t namesz)
{
    const char *p = s + strlen("pkcs11:"), *end, *eq;
    int query = 0;
    size_t n;

    while (*p != '\0') {
        end = p + strcspn(p, query ? "&" : ";?");
        eq = memchr(p, '=', (size_t)(end - p));
        n = eq != NULL ? (size_t)(eq - p) : (size_t)(end - p);
        if (n > 0 &&
            !(query ? known(p, n, query_attrs, 4) || strncmp(p, "x-", 2) == 0
                    : known(p, n, path_attrs, sizeof path_attrs /
                                                  sizeof path_attrs[0]))) {
            snprintf(name, namesz, "%.*s", (int)n, p);
            return 1;
        }
        if (*end == '?')
            query = 1;
        p = *end != '\0' ? end + 1 : end;
    }
    return 0;
}

ek_err
tok_uri_parse(struct ek_ctx *ctx, const char *s, struct tok_uri *u)
{
    char shown[1024], name[64];
    CK_ATTRIBUTE *a;
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
        return ek_seterr(ctx, EK_ERR_USAGE, "the PKCS#11 URI '%s' is not "
                         "valid: %s; the form is "
                         "pkcs11:token=LABEL;object=LABEL;type=private "
                         "(RFC 7512; escape special characters as %%XX)",
                         shown, p11_kit_uri_message(rc));
    }
    if (first_unknown(s, name, sizeof name) ||
        p11_kit_uri_any_unrecognized(u->uri)) {
        if (!first_unknown(s, name, sizeof name))
            snprintf(name, sizeof name, "type");
        tok_uri_clear(u);
        return ek_seterr(ctx, EK_ERR_USAGE, "the PKCS#11 URI '%s' has an "
                         "attribute entrakey does not understand: '%s' (or "
                         "its value); use token=, serial=, id=, object=, "
                         "type=private, slot-id=, pin-source=, pin-value=, "
                         "module-path=", shown, name);
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
        return ek_seterr(ctx, EK_ERR_INTERNAL, "cannot format a PKCS#11 "
                         "URI: %s", p11_kit_uri_message(rc));
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
    pad(ti->label, sizeof ti->label, s->label);
    if (s->dup_label)
        pad(ti->serialNumber, sizeof ti->serialNumber, s->serial);
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
