/* cert_dn.c: distinguished names: parsing "CN=…,O=…" and "/O=…/CN=…" into
 * an X509_NAME, and printing names as "CN=…, O=…". */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "cert.h"

/* Names people write that OpenSSL does not know by that spelling
 * (Windows' E= and S=, upper-case spellings). */
static const struct {
    const char *alias;
    int nid;
} dn_aliases[] = {
    {"E", NID_pkcs9_emailAddress},
    {"EMAIL", NID_pkcs9_emailAddress},
    {"EMAILADDRESS", NID_pkcs9_emailAddress},
    {"S", NID_stateOrProvinceName},
    {"ST", NID_stateOrProvinceName},
    {"CN", NID_commonName},
    {"O", NID_organizationName},
    {"OU", NID_organizationalUnitName},
    {"L", NID_localityName},
    {"C", NID_countryName},
    {"DC", NID_domainComponent},
    {"STREET", NID_streetAddress},
    {"SERIALNUMBER", NID_serialNumber},
    {"T", NID_title},
    {"TITLE", NID_title},
    {"G", NID_givenName},
    {"GN", NID_givenName},
    {"GIVENNAME", NID_givenName},
    {"SN", NID_surname},
    {"SURNAME", NID_surname},
    {"UID", NID_userId},
    {"POSTALCODE", NID_postalCode},
};

static int
dn_nid(const char *type)
{
    size_t i;
    int nid;

    if ((nid = OBJ_txt2nid(type)) != NID_undef)
        return nid;
    for (i = 0; i < sizeof dn_aliases / sizeof dn_aliases[0]; i++)
        if (strcasecmp(type, dn_aliases[i].alias) == 0)
            return dn_aliases[i].nid;
    return NID_undef;
}

/* OpenSSL's reason for the last error, with its detail ("maxsize=64"). */
static void
ossl_reason(char *buf, size_t len)
{
    const char *data = NULL, *reason;
    unsigned long e;
    int flags = 0;

    e = ERR_peek_last_error_all(NULL, NULL, NULL, &data, &flags);
    reason = e != 0 ? ERR_reason_error_string(e) : NULL;
    if (reason == NULL)
        reason = "OpenSSL refused it";
    if (data != NULL && (flags & ERR_TXT_STRING) && data[0] != '\0')
        snprintf(buf, len, "%s (%s)", reason, data);
    else
        snprintf(buf, len, "%s", reason);
    ERR_clear_error();
}

struct dn_comp {
    size_t pos; /* offset of the component in the DN, for messages */
    int nid;
    int plus;    /* joined to the one before by '+': one multi-valued RDN */
    char *value; /* points into the value buffer */
};

ek_err
cert_dn_parse(struct ek_ctx *ctx, const char *dn, X509_NAME **namep)
{
    X509_NAME *name = NULL;
    struct dn_comp *comps = NULL;
    char *vals = NULL, *v, *type = NULL;
    char why[256];
    size_t len, i, start, tstart, tend, n = 0, vlen, keep, k, j;
    size_t rdn_start = 0, rdn_end = 0;
    char sep;
    ek_err r = EK_ERR_USAGE;

    *namep = NULL;
    if (dn == NULL || dn[0] == '\0' || strcmp(dn, "/") == 0) {
        r = ek_seterr(ctx, EK_ERR_USAGE,
                      "the subject is empty; give a "
                      "distinguished name such as 'CN=ExchangeAuth'");
        goto out;
    }
    len = strlen(dn);
    sep = dn[0] == '/' ? '/' : ',';
    if ((comps = ek_calloc(ctx, len + 1, sizeof *comps)) == NULL ||
        (vals = ek_calloc(ctx, 2, len + 1)) == NULL ||
        (type = ek_calloc(ctx, 1, len + 1)) == NULL) {
        r = EK_ERR_INTERNAL;
        goto out;
    }
    v = vals;
    i = sep == '/' ? 1 : 0;
    for (;;) {
        start = i;
        while (dn[i] == ' ')
            i++;
        tstart = i;
        while (dn[i] != '\0' && dn[i] != '=' && dn[i] != sep) {
            if (dn[i] == '\\') {
                r = ek_seterr(ctx, EK_ERR_USAGE,
                              "DN '%s': a backslash in "
                              "an attribute type at character %zu",
                              dn, i);
                goto out;
            }
            i++;
        }
        if (i == tstart && dn[i] != '=') {
            r = ek_seterr(ctx, EK_ERR_USAGE,
                          "DN '%s': empty component at "
                          "character %zu",
                          dn, start);
            goto out;
        }
        if (dn[i] != '=') {
            r = ek_seterr(ctx, EK_ERR_USAGE,
                          "DN '%s': no '=' in component "
                          "'%.*s' at character %zu; write TYPE=VALUE, e.g. "
                          "CN=ExchangeAuth",
                          dn, (int)(i - tstart), dn + tstart, tstart);
            goto out;
        }
        tend = i;
        while (tend > tstart && dn[tend - 1] == ' ')
            tend--;
        if (tend == tstart) {
            r = ek_seterr(ctx, EK_ERR_USAGE,
                          "DN '%s': the attribute type "
                          "is missing before '=' at character %zu",
                          dn, i);
            goto out;
        }
        memcpy(type, dn + tstart, tend - tstart);
        type[tend - tstart] = '\0';
        if ((comps[n].nid = dn_nid(type)) == NID_undef) {
            r = ek_seterr(ctx, EK_ERR_USAGE,
                          "DN '%s': unknown attribute "
                          "type '%s' at character %zu; use CN, O, OU, L, ST, "
                          "C, DC, emailAddress, serialNumber or another "
                          "X.520 name",
                          dn, type, tstart);
            goto out;
        }
        comps[n].pos = tstart;
        comps[n].plus = n > 0 && start > 0 && dn[start - 1] == '+';
        i++; /* '=' */
        while (dn[i] == ' ')
            i++;
        vlen = 0;
        keep = 0; /* trailing spaces are dropped unless escaped */
        /* an unescaped '+' joins the next attribute to this RDN (RFC 4514
         * 2.2: "CN=a+UID=b" is one RDN with two values) */
        while (dn[i] != '\0' && dn[i] != sep && dn[i] != '+') {
            if (dn[i] == '\\') {
                if (dn[i + 1] == '\0') {
                    r = ek_seterr(ctx, EK_ERR_USAGE,
                                  "DN '%s': a backslash "
                                  "at character %zu escapes nothing; write "
                                  "\\\\ for a backslash",
                                  dn, i);
                    goto out;
                }
                /* \XX: a byte in hex (RFC 4514 2.4: "\2c" is ',') */
                if (ek_hex_digit(dn[i + 1]) >= 0 && dn[i + 2] != '\0' &&
                    ek_hex_digit(dn[i + 2]) >= 0) {
                    v[vlen] = (char)(ek_hex_digit(dn[i + 1]) << 4 |
                                     ek_hex_digit(dn[i + 2]));
                    if (v[vlen] == '\0') {
                        r = ek_seterr(ctx, EK_ERR_USAGE,
                                      "DN '%s': \\00 at "
                                      "character %zu would put a NUL in "
                                      "the value",
                                      dn, i);
                        goto out;
                    }
                    keep = ++vlen;
                    i += 3;
                    continue;
                }
                v[vlen++] = dn[i + 1];
                keep = vlen;
                i += 2;
                continue;
            }
            v[vlen++] = dn[i];
            if (dn[i] != ' ')
                keep = vlen;
            i++;
        }
        vlen = keep;
        v[vlen] = '\0';
        if (vlen == 0) {
            r = ek_seterr(ctx, EK_ERR_USAGE,
                          "DN '%s': the value of %s at "
                          "character %zu is empty",
                          dn, type, tstart);
            goto out;
        }
        comps[n].value = v;
        v += vlen + 1;
        n++;
        if (dn[i] == '\0')
            break;
        i++; /* the separator, or '+' */
        if (dn[i] == '\0') {
            r = ek_seterr(ctx, EK_ERR_USAGE,
                          "DN '%s': empty component at "
                          "character %zu (the DN ends with '%c')",
                          dn, i, dn[i - 1]);
            goto out;
        }
    }
    if ((name = X509_NAME_new()) == NULL) {
        r = ek_seterr_oom(ctx);
        goto out;
    }
    /* "CN=x,O=y" lists the most specific RDN first (RFC 4514): it is the
     * last in the encoding. "/O=y/CN=x" is in encoding order. An RDN of
     * several values (joined by '+') keeps them together: its first value
     * opens the RDN (set 0), the others join it (set -1). */
    for (k = 0; k < n; k += rdn_end - rdn_start) {
        if (sep == ',') {
            rdn_end = n - k; /* one past the last value of this RDN */
            rdn_start = rdn_end - 1;
            while (rdn_start > 0 && comps[rdn_start].plus)
                rdn_start--;
        } else {
            rdn_start = k;
            rdn_end = k + 1;
            while (rdn_end < n && comps[rdn_end].plus)
                rdn_end++;
        }
        for (j = rdn_start; j < rdn_end; j++) {
            const struct dn_comp *c = &comps[j];

            if (X509_NAME_add_entry_by_NID(name, c->nid, MBSTRING_UTF8,
                                           (const unsigned char *)c->value, -1,
                                           -1, j == rdn_start ? 0 : -1))
                continue;
            ossl_reason(why, sizeof why);
            r = ek_seterr(ctx, EK_ERR_USAGE,
                          "DN '%s': the value of %s at "
                          "character %zu cannot be used: %s%s",
                          dn, OBJ_nid2sn(c->nid), c->pos, why,
                          c->nid == NID_countryName
                              ? "; C takes a two-letter country code"
                              : "");
            goto out;
        }
    }
    *namep = name;
    name = NULL;
    r = EK_OK;
out:
    X509_NAME_free(name);
    free(type);
    free(vals);
    free(comps);
    return r;
}

char *
cert_name_string(struct ek_ctx *ctx, const X509_NAME *name)
{
    /* RFC 2253 order and escaping, ", " between RDNs, UTF-8 as it is */
    const unsigned long flags =
        ((XN_FLAG_RFC2253 & ~XN_FLAG_SEP_MASK) | XN_FLAG_SEP_CPLUS_SPC) &
        ~(unsigned long)ASN1_STRFLGS_ESC_MSB;
    BIO *bio = NULL;
    char *data = NULL, *s = NULL;
    long n;

    if ((bio = BIO_new(BIO_s_mem())) == NULL ||
        X509_NAME_print_ex(bio, name, 0, flags) < 0 ||
        (n = BIO_get_mem_data(bio, &data)) < 0) {
        ek_seterr(ctx, EK_ERR_INTERNAL,
                  "cannot print a distinguished name "
                  "with OpenSSL");
        goto out;
    }
    if ((s = ek_calloc(ctx, 1, (size_t)n + 1)) == NULL)
        goto out;
    memcpy(s, data, (size_t)n);
out:
    BIO_free(bio);
    return s;
}

ek_err
ek_dn_check(struct ek_ctx *ctx, const char *dn)
{
    X509_NAME *name = NULL;
    ek_err r;

    r = cert_dn_parse(ctx, dn, &name);
    X509_NAME_free(name);
    return r;
}
