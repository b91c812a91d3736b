/* tok_sign.c: RS256 and PS256 signatures made on the token, by the
 * mechanism the token offers (hash on the host where possible). */
/* RSA_padding_add_PKCS1_PSS_mgf1 is the one OpenSSL function for EMSA-PSS
 * encoding without a private key; it is deprecated, not gone. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "tok.h"

#define SIG_MAX 2048 /* bytes: a 16384-bit modulus */

/* DigestInfo for SHA-256 (RFC 8017 §9.2 note 1), followed by the hash. */
static const unsigned char sha256_prefix[19] = {
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
    0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
};

/* EMSA-PSS (SHA-256, MGF1-SHA-256, salt 32) of the digest, as long as the
 * modulus, for raw RSA on the token. */
static ek_err
pss_encode(struct ek_key *k, const unsigned char digest[32], unsigned char *em,
           size_t emsz)
{
    const unsigned char *p = k->pub_der;
    EVP_PKEY *pkey = NULL;
    const RSA *rsa;
    ek_err r = EK_ERR_INTERNAL;

    if (p == NULL || (size_t)(k->bits + 7) / 8 > emsz)
        return ek_seterr(k->ctx, EK_ERR_MECHANISM,
                         "PS256 through "
                         "CKM_RSA_X_509 needs the public key of %s, which "
                         "token '%s' does not give",
                         k->uri, k->slot.label);
    if ((pkey = d2i_PUBKEY(NULL, &p, (long)k->pub_len)) == NULL ||
        (rsa = EVP_PKEY_get0_RSA(pkey)) == NULL ||
        RSA_padding_add_PKCS1_PSS_mgf1((RSA *)(uintptr_t)rsa, em, digest,
                                       EVP_sha256(), EVP_sha256(), 32) != 1) {
        r = ek_seterr(k->ctx, EK_ERR_INTERNAL,
                      "cannot encode the PSS block "
                      "for key %s (OpenSSL)",
                      k->uri);
        goto out;
    }
    r = EK_OK;
out:
    EVP_PKEY_free(pkey);
    return r;
}

/* The session is dropped after an operation that failed half-way, so that
 * no half-done operation lingers; the key must then be opened again. */
static void
drop_session(struct ek_key *k, ek_err why)
{
    tok_session_close(k->ctx, &k->slot, k->session);
    k->session = CK_INVALID_HANDLE;
    if (why == EK_ERR_DEVICE)
        k->lost = 1;
}

static ek_err
check_key(struct ek_key *k)
{
    struct ek_ctx *ctx = k->ctx;

    if (k->lost)
        return ek_seterr(ctx, EK_ERR_DEVICE,
                         "the session with token '%s' "
                         "was lost; reinsert or reconnect the token and run "
                         "the command again",
                         k->slot.label);
    if (k->session == CK_INVALID_HANDLE)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "key %s has no session (a "
                         "listed key, or one whose signature failed); open "
                         "it with ek_key_open",
                         k->uri);
    if (k->key_type != CKK_RSA && k->key_type != CK_UNAVAILABLE_INFORMATION)
        return ek_seterr(ctx, EK_ERR_MECHANISM,
                         "key %s on token '%s' is not "
                         "an RSA key (CKA_KEY_TYPE 0x%lx); entrakey signs "
                         "with RSA keys",
                         k->uri, k->slot.label, (unsigned long)k->key_type);
    if (k->attr[EK_ATTR_EXTRACTABLE] == 1 || k->attr[EK_ATTR_SENSITIVE] == 0) {
        if (!(ctx->flags & EK_FLAG_INSECURE_ALLOW_EXTRACTABLE))
            return ek_seterr(ctx, EK_ERR_INSECURE_KEY,
                             "key %s on token '%s' "
                             "can leave the token (%s): entrakey does not "
                             "sign with it. Make a new key on the token, or, "
                             "knowing the risk, allow extractable keys "
                             "(EK_FLAG_INSECURE_ALLOW_EXTRACTABLE)",
                             k->uri, k->slot.label,
                             k->attr[EK_ATTR_EXTRACTABLE] == 1
                                 ? "CKA_EXTRACTABLE=TRUE"
                                 : "CKA_SENSITIVE=FALSE");
        if (!k->warned_extractable)
            ek_log(ctx, EK_LOG_WARN,
                   "signing with key %s although it can "
                   "leave the token (%s), as extractable keys "
                   "were allowed",
                   k->uri,
                   k->attr[EK_ATTR_EXTRACTABLE] == 1 ? "CKA_EXTRACTABLE=TRUE"
                                                     : "CKA_SENSITIVE=FALSE");
        k->warned_extractable = 1;
    }
    return EK_OK;
}

ek_err
tok_sign_path(struct ek_key *k, enum tok_path path, const unsigned char *data,
              size_t len, const unsigned char digest[32], unsigned char *sig,
              size_t *siglen)
{
    struct ek_ctx *ctx;
    CK_RSA_PKCS_PSS_PARAMS pss = {CKM_SHA256, CKG_MGF1_SHA256, 32};
    CK_MECHANISM mech = {0, NULL, 0};
    unsigned char block[SIG_MAX], out[SIG_MAX];
    const unsigned char *in = NULL;
    CK_ULONG inlen = 0, outlen = sizeof out;
    size_t modlen;
    const char *mname;
    int so, ctx_login;
    CK_RV rv;
    ek_err r = EK_ERR_INTERNAL;

    if (k == NULL || sig == NULL || siglen == NULL || digest == NULL ||
        path < 0 || path >= TOK_PATH_COUNT)
        return EK_ERR_USAGE;
    ctx = k->ctx;
    modlen = (k->bits + 7) / 8;
    if (modlen > SIG_MAX)
        return ek_seterr(ctx, EK_ERR_MECHANISM,
                         "key %s is %u bits; entrakey "
                         "signs with keys up to %d bits",
                         k->uri, k->bits, SIG_MAX * 8);
    if (modlen > 0 && *siglen < modlen)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "the signature buffer holds %zu "
                         "bytes; key %s needs %zu",
                         *siglen, k->uri, modlen);
    /* a key found through its public half: the login of its own token,
     * then its private object and attributes, before anything is signed */
    if (!k->lost && (r = tok_key_resolve(k)) != EK_OK) {
        if (r == EK_ERR_DEVICE)
            drop_session(k, r);
        return r;
    }
    if ((r = check_key(k)) != EK_OK)
        return r;
    mech.mechanism = tok_path_mech(path);
    mname = tok_mech_name(mech.mechanism);
    switch (path) {
    case TOK_PATH_PSS:
        mech.pParameter = &pss;
        mech.ulParameterLen = sizeof pss;
        in = digest;
        inlen = 32;
        break;
    case TOK_PATH_SHA256_PSS:
        mech.pParameter = &pss;
        mech.ulParameterLen = sizeof pss;
        __attribute__((fallthrough));
    case TOK_PATH_SHA256_PKCS:
        if (data == NULL)
            return ek_seterr(ctx, EK_ERR_MECHANISM,
                             "%s needs the whole "
                             "message, not its digest; token '%s' has no "
                             "mechanism that signs a digest for %s",
                             mname, k->slot.label, tok_path_alg(path));
        in = data;
        inlen = len;
        break;
    case TOK_PATH_X509_PSS:
        if (modlen == 0)
            return ek_seterr(ctx, EK_ERR_MECHANISM,
                             "the size of key %s is "
                             "unknown; PS256 through CKM_RSA_X_509 needs it",
                             k->uri);
        if ((r = pss_encode(k, digest, block, sizeof block)) != EK_OK)
            return r;
        in = block;
        inlen = modlen;
        break;
    case TOK_PATH_PKCS_DI:
        memcpy(block, sha256_prefix, sizeof sha256_prefix);
        memcpy(block + sizeof sha256_prefix, digest, 32);
        in = block;
        inlen = sizeof sha256_prefix + 32;
        break;
    default:
        return EK_ERR_USAGE;
    }
    /* one C_Login of the user per command (tok_login checks the session) */
    if ((r = tok_login(ctx, &k->slot, k->session, TOK_LOGIN_USER, k->pin_src,
                       k->always_auth ? &k->pin : NULL)) != EK_OK) {
        if (r == EK_ERR_DEVICE)
            drop_session(k, r);
        goto out;
    }
    /* logged in as SO only (ykcs11 after keygen with the management key):
     * the user PIN comes as a context-specific login, which ykcs11 takes
     * for any PIV slot */
    so = 0;
    ctx_login =
        k->always_auth || (tok_logged_in(ctx, &k->slot, k->session, &so) && so);
    ek_log(ctx, EK_LOG_INFO, "signing with %s (%s) on token '%s'", mname,
           tok_path_alg(path), k->slot.label);
    rv = TOK_CALL(ctx, k->slot.mod->fl, C_SignInit, k->session, &mech, k->priv);
    if (rv != CKR_OK) {
        r = tok_fail(ctx, rv,
                     "cannot start a %s signature with key %s on "
                     "token '%s' (C_SignInit, %s)",
                     tok_path_alg(path), k->uri, k->slot.label, mname);
        if (r == EK_ERR_DEVICE)
            drop_session(k, r);
        goto out;
    }
    if (ctx_login) {
        /* CKA_ALWAYS_AUTHENTICATE: a context-specific login between
         * C_SignInit and C_Sign, with the PIN read once per command */
        if ((r = tok_login(ctx, &k->slot, k->session, TOK_LOGIN_CONTEXT,
                           k->pin_src, &k->pin)) != EK_OK) {
            drop_session(k, r);
            goto out;
        }
    }
    outlen = modlen > 0 ? modlen : sizeof out;
    rv = TOK_CALL(ctx, k->slot.mod->fl, C_Sign, k->session,
                  (CK_BYTE *)(uintptr_t)in, inlen, out, &outlen);
    if (rv == CKR_BUFFER_TOO_SMALL && outlen <= sizeof out) {
        /* the operation is still active (PKCS#11 §5.2): call again once
         * with the size the token asked for */
        rv = TOK_CALL(ctx, k->slot.mod->fl, C_Sign, k->session,
                      (CK_BYTE *)(uintptr_t)in, inlen, out, &outlen);
    }
    if (rv == CKR_BUFFER_TOO_SMALL) {
        drop_session(k, r);
        r = ek_seterr(ctx, EK_ERR_TOKEN,
                      "token '%s' wants %lu bytes for a "
                      "signature by key %s (C_Sign: CKR_BUFFER_TOO_SMALL); "
                      "entrakey supports keys up to %d bits",
                      k->slot.label, (unsigned long)outlen, k->uri,
                      SIG_MAX * 8);
        goto out;
    }
    if (rv != CKR_OK) {
        /* a failed C_Sign has ended the operation: never tried again */
        r = tok_fail(ctx, rv,
                     "cannot sign with key %s on token '%s' "
                     "(C_Sign, %s)",
                     k->uri, k->slot.label, mname);
        if (r == EK_ERR_DEVICE)
            drop_session(k, r);
        goto out;
    }
    if (modlen == 0)
        modlen = outlen;
    if (outlen > modlen || modlen > *siglen) {
        r = ek_seterr(ctx, EK_ERR_TOKEN,
                      "token '%s' returned a signature of "
                      "%lu bytes for a %zu-byte modulus (key %s)",
                      k->slot.label, (unsigned long)outlen, modlen, k->uri);
        goto out;
    }
    /* left-padded to the modulus length (RFC 8017 I2OSP) */
    memset(sig, 0, modlen - outlen);
    memcpy(sig + (modlen - outlen), out, outlen);
    *siglen = modlen;
    r = EK_OK;
out:
    ek_wipe(block, sizeof block);
    ek_wipe(out, sizeof out);
    return r;
}

static ek_err
no_mechanism(struct ek_key *k, enum ek_alg alg, int with_data)
{
    if (alg == EK_ALG_PS256)
        return ek_seterr(k->ctx, EK_ERR_MECHANISM,
                         "token '%s' cannot make a "
                         "PS256 signature with %u-bit key %s: it offers none "
                         "of CKM_RSA_PKCS_PSS%s, CKM_RSA_X_509 for signing "
                         "(its mechanism list); sign RS256 instead",
                         k->slot.label, k->bits, k->uri,
                         with_data ? ", CKM_SHA256_RSA_PKCS_PSS" : "");
    return ek_seterr(k->ctx, EK_ERR_MECHANISM,
                     "token '%s' cannot make an "
                     "RS256 signature with %u-bit key %s: it offers %s for "
                     "signing (its mechanism list)",
                     k->slot.label, k->bits, k->uri,
                     with_data ? "neither CKM_SHA256_RSA_PKCS nor "
                                 "CKM_RSA_PKCS"
                               : "no CKM_RSA_PKCS (needed to sign a digest)");
}

ek_err
ek_key_sign(struct ek_key *k, enum ek_alg alg, const unsigned char *data,
            size_t len, unsigned char *sig, size_t *siglen)
{
    unsigned char digest[32];
    enum tok_path p;
    ek_err r;

    if (k == NULL || (data == NULL && len > 0) || sig == NULL || siglen == NULL)
        return EK_ERR_USAGE;
    if (alg != EK_ALG_PS256 && alg != EK_ALG_RS256)
        return ek_seterr(k->ctx, EK_ERR_USAGE,
                         "unknown signature "
                         "algorithm %d",
                         (int)alg);
    if ((p = tok_choose(k->mech_mask, alg, 1)) == TOK_PATH_NONE)
        return no_mechanism(k, alg, 1);
    if (SHA256(data != NULL ? data : (const unsigned char *)"", len, digest) ==
        NULL)
        return ek_seterr(k->ctx, EK_ERR_INTERNAL, "SHA-256 failed");
    r = tok_sign_path(k, p, data != NULL ? data : (const unsigned char *)"",
                      len, digest, sig, siglen);
    ek_wipe(digest, sizeof digest);
    return r;
}

ek_err
ek_key_login(struct ek_key *k)
{
    ek_err r;

    if (k == NULL)
        return EK_ERR_USAGE;
    if ((r = check_key(k)) != EK_OK)
        return r;
    /* a key found through its public objects: the login, then its
     * private object and attributes (what the first signature would do) */
    if (k->priv == CK_INVALID_HANDLE)
        r = tok_key_resolve(k);
    else /* tok_login checks the session first: no second C_Login */
        r = tok_login(k->ctx, &k->slot, k->session, TOK_LOGIN_USER, k->pin_src,
                      k->always_auth ? &k->pin : NULL);
    if (r == EK_ERR_DEVICE)
        drop_session(k, r);
    return r;
}

int
ek_key_logged_in(struct ek_key *k)
{
    if (k == NULL || k->lost || k->session == CK_INVALID_HANDLE)
        return 0;
    return tok_logged_in(k->ctx, &k->slot, k->session, NULL);
}
