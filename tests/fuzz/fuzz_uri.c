/* fuzz_uri.c: PKCS#11 URIs (tok_uri_parse, RFC 7512 through p11-kit), the
 * redaction of pin-value= in messages, matching a token, and the URIs we
 * print read back. Pure: no module is loaded (tok_modules and the slot
 * list need one; the token tests cover them). */
#define _GNU_SOURCE /* strcasestr */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "tok.h"

/* Every "pin-value=" shown, in any case, is followed by "***" (when it
 * was not cut). */
static void
check_redacted(const char *shown, size_t outsz)
{
    const char *p = shown;
    size_t len = strlen(shown);

    /* any case: p11-kit reads only "pin-value", but a near miss may still
     * be the PIN */
    while ((p = strcasestr(p, "pin-value=")) != NULL) {
        p += strlen("pin-value=");
        if ((size_t)(p - shown) + 3 <= len || len + 1 < outsz)
            FUZZ_CHECK(strncmp(p, "***", 3) == 0);
    }
}

static void
fake_slot(struct tok_module *mod, struct tok_slot *s, const char *label)
{
    size_t n;

    memset(mod, 0, sizeof *mod);
    mod->name = (char *)(uintptr_t) "fake";
    mod->path = (char *)(uintptr_t) "/nonexistent/fake.so";
    mod->has_info = 1;
    memset(&mod->info, ' ', sizeof mod->info);
    mod->info.cryptokiVersion.major = 2;
    mod->info.cryptokiVersion.minor = 40;
    memcpy(mod->info.manufacturerID, "SoftHSM", 7);
    memcpy(mod->info.libraryDescription, "Implementation of PKCS11", 24);
    mod->info.flags = 0;
    mod->info.libraryVersion.major = 2;
    mod->info.libraryVersion.minor = 6;

    memset(s, 0, sizeof *s);
    s->mod = mod;
    s->id = 1528;
    memset(&s->si, ' ', sizeof s->si);
    memset(&s->ti, ' ', sizeof s->ti);
    s->si.flags = CKF_TOKEN_PRESENT;
    s->ti.flags = CKF_TOKEN_INITIALIZED | CKF_LOGIN_REQUIRED;
    /* a label as tok_trim leaves it: at most 32 bytes, no trailing blank */
    n = strnlen(label, 32);
    while (n > 0 && label[n - 1] == ' ')
        n--;
    memcpy(s->label, label, n);
    s->label[n] = '\0';
    memcpy(s->ti.label, s->label, n);
    snprintf(s->manufacturer, sizeof s->manufacturer, "SoftHSM project");
    memcpy(s->ti.manufacturerID, s->manufacturer, strlen(s->manufacturer));
    snprintf(s->model, sizeof s->model, "SoftHSM v2");
    memcpy(s->ti.model, s->model, strlen(s->model));
    snprintf(s->serial, sizeof s->serial, "5f3a1c2b9d8e7f60");
    memcpy(s->ti.serialNumber, s->serial, strlen(s->serial));
}

/* The URIs entrakey prints parse back to what they name. */
static void
check_format(struct ek_ctx *ctx, const char *s, size_t slen)
{
    struct tok_module mod;
    struct tok_slot slot;
    struct tok_uri u;
    const CK_ATTRIBUTE *a;
    unsigned char id[20];
    size_t idlen = slen < sizeof id ? slen : sizeof id;
    char *out = NULL;
    int dup;

    memcpy(id, s, idlen);
    fake_slot(&mod, &slot, s);
    for (dup = 0; dup <= 1; dup++) {
        slot.dup_label = dup;
        FUZZ_CHECK(tok_uri_key(ctx, &slot, id, idlen, s, &out) == EK_OK);
        if (tok_uri_parse(ctx, out, &u) != EK_OK) {
            fprintf(stderr, "tok_uri_key gave '%s': %s\n", out,
                    ek_ctx_errmsg(ctx));
            FUZZ_CHECK(!"a key URI we print parses");
        }
        FUZZ_CHECK(tok_uri_match_slot(&u, &slot));
        FUZZ_CHECK(u.has_class && u.cls == CKO_PRIVATE_KEY);
        FUZZ_CHECK(u.has_id == (idlen > 0));
        if (idlen > 0) {
            a = p11_kit_uri_get_attribute(u.uri, CKA_ID);
            FUZZ_CHECK(a != NULL && a->ulValueLen == idlen &&
                       memcmp(a->pValue, id, idlen) == 0);
        }
        FUZZ_CHECK(u.has_label == (slen > 0));
        if (slen > 0) {
            a = p11_kit_uri_get_attribute(u.uri, CKA_LABEL);
            FUZZ_CHECK(a != NULL && a->ulValueLen == slen &&
                       memcmp(a->pValue, s, slen) == 0);
        }
        FUZZ_CHECK(u.pin_value == NULL && u.pin_source == NULL &&
                   u.module_path == NULL);
        tok_uri_clear(&u);
        free(out);
        out = NULL;
    }
    FUZZ_CHECK(tok_uri_token(ctx, &slot, &out) == EK_OK);
    FUZZ_CHECK(tok_uri_parse(ctx, out, &u) == EK_OK);
    FUZZ_CHECK(tok_uri_match_slot(&u, &slot));
    FUZZ_CHECK(!u.has_id && !u.has_label && !u.has_class);
    tok_uri_clear(&u);
    free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ek_ctx *ctx = NULL;
    struct tok_module mod;
    struct tok_slot slot;
    struct tok_uri u, again;
    char *s = NULL, *shown = NULL, small[24];
    size_t slen, shownsz;
    ek_err r;

    if ((s = fuzz_cstring(data, size)) == NULL || ek_ctx_new(&ctx) != EK_OK)
        goto out;
    slen = strlen(s);
    shownsz = slen + 8;
    if ((shown = malloc(shownsz)) == NULL)
        goto out;
    tok_uri_redact(s, shown, shownsz);
    check_redacted(shown, shownsz);
    tok_uri_redact(s, small, sizeof small);
    check_redacted(small, sizeof small);

    r = tok_uri_parse(ctx, s, &u);
    if (r != EK_OK) {
        FUZZ_CHECK(r == EK_ERR_USAGE || r == EK_ERR_INTERNAL);
        FUZZ_CHECK(u.uri == NULL);
        FUZZ_CHECK(ctx->errmsg[0] != '\0');
    } else {
        /* p11-kit 0.24 stops at an empty segment: none is let through.
         * ';' separates the path's attributes and '&' the query's; inside
         * the other part each is a character of a value */
        const char *q = strchr(s, '?');
        size_t plen = q != NULL ? (size_t)(q - s) : slen;

        FUZZ_CHECK(memmem(s, plen, ";;", 2) == NULL &&
                   memmem(s, plen, ":;", 2) == NULL &&
                   (plen == 0 || s[plen - 1] != ';'));
        FUZZ_CHECK(q == NULL || (strstr(q, "&&") == NULL && q[1] != '&' &&
                                 s[slen - 1] != '&' && q[1] != '\0'));
        fake_slot(&mod, &slot, "SoftHSM token");
        (void)tok_uri_match_slot(&u, &slot);
        /* the redacted URI no longer carries the PIN p11-kit would use */
        if (u.pin_value != NULL && strcmp(u.pin_value, "***") != 0 &&
            tok_uri_parse(ctx, shown, &again) == EK_OK) {
            FUZZ_CHECK(again.pin_value == NULL ||
                       strcmp(again.pin_value, u.pin_value) != 0);
            tok_uri_clear(&again);
        }
        tok_uri_clear(&u);
    }
    check_format(ctx, s, slen);
out:
    free(shown);
    ek_ctx_free(&ctx);
    free(s);
    return 0;
}
