/* stub_token.c: TEMPORARY stubs; each is deleted as its function is written. */
#include <stddef.h>

#include "internal.h"

ek_err
ek_tokens_list(struct ek_ctx *ctx, struct ek_token_list **listp)
{
    (void)ctx; (void)listp;
    return ek_seterr(ctx, EK_ERR_INTERNAL, "ek_tokens_list is not implemented yet");
}

size_t
ek_token_list_count(const struct ek_token_list *l)
{
    (void)l;
    return 0;
}

const char *
ek_token_uri(const struct ek_token_list *l, size_t i)
{
    (void)l; (void)i;
    return NULL;
}

const char *
ek_token_label(const struct ek_token_list *l, size_t i)
{
    (void)l; (void)i;
    return NULL;
}

const char *
ek_token_manufacturer(const struct ek_token_list *l, size_t i)
{
    (void)l; (void)i;
    return NULL;
}

const char *
ek_token_model(const struct ek_token_list *l, size_t i)
{
    (void)l; (void)i;
    return NULL;
}

const char *
ek_token_serial(const struct ek_token_list *l, size_t i)
{
    (void)l; (void)i;
    return NULL;
}

const char *
ek_token_module(const struct ek_token_list *l, size_t i)
{
    (void)l; (void)i;
    return NULL;
}

unsigned long
ek_token_slot(const struct ek_token_list *l, size_t i)
{
    (void)l; (void)i;
    return 0;
}

unsigned
ek_token_flags(const struct ek_token_list *l, size_t i)
{
    (void)l; (void)i;
    return 0;
}

const char *
ek_token_mech_sign(const struct ek_token_list *l, size_t i, enum ek_alg alg)
{
    (void)l; (void)i; (void)alg;
    return NULL;
}

const char *
ek_token_mech_keygen(const struct ek_token_list *l, size_t i)
{
    (void)l; (void)i;
    return NULL;
}

void
ek_token_list_free(struct ek_token_list **lp)
{
    (void)lp;
    return;
}

ek_err
ek_token_init(struct ek_ctx *ctx, const char *label, const char *so_pin, const char *user_pin)
{
    (void)ctx; (void)label; (void)so_pin; (void)user_pin;
    return ek_seterr(ctx, EK_ERR_INTERNAL, "ek_token_init is not implemented yet");
}

ek_err
ek_keys_list(struct ek_ctx *ctx, const char *token_uri, struct ek_key_list **listp)
{
    (void)ctx; (void)token_uri; (void)listp;
    return ek_seterr(ctx, EK_ERR_INTERNAL, "ek_keys_list is not implemented yet");
}

size_t
ek_key_list_count(const struct ek_key_list *l)
{
    (void)l;
    return 0;
}

const struct ek_key *
ek_key_list_get(const struct ek_key_list *l, size_t i)
{
    (void)l; (void)i;
    return NULL;
}

void
ek_key_list_free(struct ek_key_list **lp)
{
    (void)lp;
    return;
}

ek_err
ek_key_open(struct ek_ctx *ctx, const char *key_uri, struct ek_key **keyp)
{
    (void)ctx; (void)key_uri; (void)keyp;
    return ek_seterr(ctx, EK_ERR_INTERNAL, "ek_key_open is not implemented yet");
}

ek_err
ek_key_generate(struct ek_ctx *ctx, const char *token_uri, const struct ek_keygen_params *params, struct ek_key **keyp)
{
    (void)ctx; (void)token_uri; (void)params; (void)keyp;
    return ek_seterr(ctx, EK_ERR_INTERNAL, "ek_key_generate is not implemented yet");
}

void
ek_key_free(struct ek_key **keyp)
{
    (void)keyp;
    return;
}

const char *
ek_key_uri(const struct ek_key *k)
{
    (void)k;
    return NULL;
}

const char *
ek_key_label(const struct ek_key *k)
{
    (void)k;
    return NULL;
}

const char *
ek_key_id_hex(const struct ek_key *k)
{
    (void)k;
    return NULL;
}

const char *
ek_key_token_label(const struct ek_key *k)
{
    (void)k;
    return NULL;
}

unsigned
ek_key_bits(const struct ek_key *k)
{
    (void)k;
    return 0;
}

int
ek_key_attr(const struct ek_key *k, enum ek_key_attr a)
{
    (void)k; (void)a;
    return 0;
}

enum ek_verdict
ek_key_verdict(const struct ek_key *k)
{
    (void)k;
    return 0;
}

int
ek_key_always_authenticate(const struct ek_key *k)
{
    (void)k;
    return 0;
}

const char *
ek_key_template_dropped(const struct ek_key *k)
{
    (void)k;
    return NULL;
}

ek_err
ek_key_public_der(const struct ek_key *k, const unsigned char **der, size_t *len)
{
    (void)k; (void)der; (void)len;
    return ek_seterr(NULL, EK_ERR_INTERNAL, "ek_key_public_der is not implemented yet");
}

ek_err
ek_key_cert_der(const struct ek_key *k, const unsigned char **der, size_t *len)
{
    (void)k; (void)der; (void)len;
    return ek_seterr(NULL, EK_ERR_INTERNAL, "ek_key_cert_der is not implemented yet");
}

const char *
ek_key_mechanism(const struct ek_key *k, enum ek_alg alg)
{
    (void)k; (void)alg;
    return NULL;
}

ek_err
ek_key_sign(struct ek_key *k, enum ek_alg alg, const unsigned char *data, size_t len, unsigned char *sig, size_t *siglen)
{
    (void)k; (void)alg; (void)data; (void)len; (void)sig; (void)siglen;
    return ek_seterr(NULL, EK_ERR_INTERNAL, "ek_key_sign is not implemented yet");
}

void
tok_ctx_free(struct tok_ctx **tp)
{
    (void)tp;
}

struct ek_ctx *
tok_key_ctx(const struct ek_key *k)
{
    (void)k;
    return NULL;
}

ek_err
tok_key_sign_digest(void *key, enum ek_alg alg, const unsigned char digest[32],
                    unsigned char *sig, size_t *siglen)
{
    (void)key; (void)alg; (void)digest; (void)sig; (void)siglen;
    return EK_ERR_INTERNAL;
}

ek_err
tok_key_store_cert(struct ek_key *k, const unsigned char *der, size_t len,
                   const unsigned char *subject_der, size_t subject_len,
                   int force)
{
    (void)k; (void)der; (void)len; (void)subject_der; (void)subject_len; (void)force;
    return EK_ERR_INTERNAL;
}
