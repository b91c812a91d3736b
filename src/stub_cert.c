/* stub_cert.c: TEMPORARY stubs; each is deleted as its function is written. */
#include <stddef.h>

#include "internal.h"

ek_err
ek_cert_load(struct ek_ctx *ctx, const unsigned char *data, size_t len, struct ek_cert **certp)
{
    (void)ctx; (void)data; (void)len; (void)certp;
    return ek_seterr(ctx, EK_ERR_INTERNAL, "ek_cert_load is not implemented yet");
}

ek_err
ek_cert_load_file(struct ek_ctx *ctx, const char *path, struct ek_cert **certp)
{
    (void)ctx; (void)path; (void)certp;
    return ek_seterr(ctx, EK_ERR_INTERNAL, "ek_cert_load_file is not implemented yet");
}

ek_err
ek_cert_from_key(struct ek_ctx *ctx, const struct ek_key *k, struct ek_cert **certp)
{
    (void)ctx; (void)k; (void)certp;
    return ek_seterr(ctx, EK_ERR_INTERNAL, "ek_cert_from_key is not implemented yet");
}

void
ek_cert_free(struct ek_cert **certp)
{
    (void)certp;
    return;
}

const char *
ek_cert_subject(const struct ek_cert *c)
{
    (void)c;
    return NULL;
}

const char *
ek_cert_issuer(const struct ek_cert *c)
{
    (void)c;
    return NULL;
}

const char *
ek_cert_serial_hex(const struct ek_cert *c)
{
    (void)c;
    return NULL;
}

int64_t
ek_cert_not_before(const struct ek_cert *c)
{
    (void)c;
    return 0;
}

int64_t
ek_cert_not_after(const struct ek_cert *c)
{
    (void)c;
    return 0;
}

const char *
ek_cert_thumbprint(const struct ek_cert *c)
{
    (void)c;
    return NULL;
}

const char *
ek_cert_x5t(const struct ek_cert *c)
{
    (void)c;
    return NULL;
}

const char *
ek_cert_x5t_s256(const struct ek_cert *c)
{
    (void)c;
    return NULL;
}

const char *
ek_cert_sigalg(const struct ek_cert *c)
{
    (void)c;
    return NULL;
}

unsigned
ek_cert_key_bits(const struct ek_cert *c)
{
    (void)c;
    return 0;
}

ek_err
ek_cert_der(const struct ek_cert *c, const unsigned char **der, size_t *len)
{
    (void)c; (void)der; (void)len;
    return ek_seterr(NULL, EK_ERR_INTERNAL, "ek_cert_der is not implemented yet");
}

int
ek_cert_matches_key(const struct ek_cert *c, const struct ek_key *k)
{
    (void)c; (void)k;
    return 0;
}

ek_err
ek_cert_manifest_json(struct ek_ctx *ctx, const struct ek_cert *c, char **jsonp)
{
    (void)ctx; (void)c; (void)jsonp;
    return ek_seterr(ctx, EK_ERR_INTERNAL, "ek_cert_manifest_json is not implemented yet");
}

ek_err
ek_cert_write(struct ek_ctx *ctx, const struct ek_cert *c, const char *path, enum ek_format fmt, unsigned flags)
{
    (void)ctx; (void)c; (void)path; (void)fmt; (void)flags;
    return ek_seterr(ctx, EK_ERR_INTERNAL, "ek_cert_write is not implemented yet");
}

ek_err
ek_cert_create(struct ek_ctx *ctx, struct ek_key *k, const struct ek_cert_params *params, struct ek_cert **certp)
{
    (void)ctx; (void)k; (void)params; (void)certp;
    return ek_seterr(ctx, EK_ERR_INTERNAL, "ek_cert_create is not implemented yet");
}

ek_err
ek_csr_create(struct ek_ctx *ctx, struct ek_key *k, const char *subject, enum ek_alg sig, const char *path, unsigned flags)
{
    (void)ctx; (void)k; (void)subject; (void)sig; (void)path; (void)flags;
    return ek_seterr(ctx, EK_ERR_INTERNAL, "ek_csr_create is not implemented yet");
}

ek_err
ek_cert_import(struct ek_ctx *ctx, struct ek_key *k, const struct ek_cert *c, unsigned flags)
{
    (void)ctx; (void)k; (void)c; (void)flags;
    return ek_seterr(ctx, EK_ERR_INTERNAL, "ek_cert_import is not implemented yet");
}

ek_err
ek_assertion_sign(struct ek_ctx *ctx, struct ek_key *k, const struct ek_assertion_params *params, struct ek_secret **jwtp)
{
    (void)ctx; (void)k; (void)params; (void)jwtp;
    return ek_seterr(ctx, EK_ERR_INTERNAL, "ek_assertion_sign is not implemented yet");
}

