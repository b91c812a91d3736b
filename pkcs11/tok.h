/* tok.h: the token layer's internals, shared by the files of pkcs11/. */
#ifndef EK_TOK_H
#define EK_TOK_H

#include <stddef.h>

#include <p11-kit/p11-kit.h>
#include <p11-kit/uri.h>

#include "internal.h"

/* ------------------------------------------------------- calls and errors */

/* Every C_* call goes through TOK_CALL: the call's name and its CK_RV are
 * traced at EK_LOG_TRACE (never the arguments, so never a PIN). */
#define TOK_CALL(ctx, fl, fn, ...) tok_traced((ctx), #fn, (fl)->fn(__VA_ARGS__))

CK_RV tok_traced(struct ek_ctx *ctx, const char *fn, CK_RV rv);
/* "CKR_PIN_INCORRECT", or NULL for a value not in the table. */
const char *tok_rv_name(CK_RV rv);
/* The error code for a CK_RV (CKR_PIN_INCORRECT → EK_ERR_PIN, …). */
ek_err tok_rv_code(CK_RV rv);
/* Sets "<what failed>: CKR_NAME (0x…); <what to do>" and returns the
 * code of rv; the format says what failed, naming token and key. */
ek_err tok_fail(struct ek_ctx *ctx, CK_RV rv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "CKM_RSA_PKCS_PSS" etc., or NULL. */
const char *tok_mech_name(CK_MECHANISM_TYPE m);

/* ----------------------------------------------------------------- modules */

struct tok_module {
    CK_FUNCTION_LIST *fl;
    char *name;   /* p11-kit's name, else the file name */
    char *path;   /* the file */
    int finalize; /* we initialised it (not ALREADY_INITIALIZED) */
    CK_INFO info; /* C_GetInfo, for library-* URI attributes */
    int has_info;
};

/* One selection of modules: one path, or every registered module. */
struct tok_sel {
    char *path; /* NULL: the p11-kit registry */
    struct tok_module *mods;
    size_t nmods;
    CK_FUNCTION_LIST **registry; /* from p11_kit_modules_load, or NULL */
};

struct tok_ctx {
    struct tok_sel *sels;
    size_t nsels;
};

/* The modules to use for a URI (module_path from the URI's module-path=,
 * may be NULL): ctx->module_path, else $ENTRAKEY_MODULE, else module_path,
 * else the registry. Loaded once per context. */
ek_err tok_modules(struct ek_ctx *ctx, const char *uri_module_path,
                   struct tok_sel **selp);

/* A slot with a token, and what we know about it. */
struct tok_slot {
    struct tok_module *mod;
    CK_SLOT_ID id;
    CK_SLOT_INFO si;
    CK_TOKEN_INFO ti;
    char label[33];
    char manufacturer[33];
    char model[17];
    char serial[17];
    int dup_label; /* another token in the selection has this label */
};

/* Every slot with a token present in the selection; uninitialised tokens
 * only when include_uninit. The caller frees *slotsp. */
ek_err tok_slots(struct ek_ctx *ctx, struct tok_sel *sel, int include_uninit,
                 struct tok_slot **slotsp, size_t *np);
/* The EK_TOKEN_* flags of a slot and its token. */
unsigned tok_slot_flags(const struct tok_slot *s);
/* Re-reads the PIN counter flags of a slot (right before a login). */
ek_err tok_slot_refresh(struct ek_ctx *ctx, struct tok_slot *s);
/* Copies a blank-padded field into a NUL-terminated trimmed string. */
void tok_trim(char *out, const unsigned char *in, size_t n);
/* 1 for a YubiKey through ykcs11 (its keygen needs the SO login). */
int tok_slot_is_yubikey(const struct tok_slot *s);
/* Whether the module is tpm2-pkcs11 (C_GetInfo's manufacturer). */
int tok_module_is_tpm2(const struct tok_module *m);
/* Whether the module is p11-kit-client.so, and where it looks for its
 * server (for messages). */
int tok_module_is_client(const struct tok_module *m);
void tok_client_address(char *out, size_t outsz);

/* ----------------------------------------------------------- mechanisms */

/* The ways of signing; each has a mechanism on the token. */
enum tok_path {
    TOK_PATH_PSS = 0,         /* CKM_RSA_PKCS_PSS over the digest */
    TOK_PATH_SHA256_PSS = 1,  /* CKM_SHA256_RSA_PKCS_PSS over the data */
    TOK_PATH_X509_PSS = 2,    /* CKM_RSA_X_509 over a local EMSA-PSS block */
    TOK_PATH_SHA256_PKCS = 3, /* CKM_SHA256_RSA_PKCS over the data */
    TOK_PATH_PKCS_DI = 4,     /* CKM_RSA_PKCS over DigestInfo(SHA-256) */
    TOK_PATH_COUNT = 5,
    TOK_PATH_NONE = -1,
};
#define TOK_PATH_BIT(p) (1u << (p))
/* CKM_RSA_PKCS_KEY_PAIR_GEN with CKF_GENERATE_KEY_PAIR */
#define TOK_CAN_KEYGEN 0x100u

/* Which paths the token's mechanisms allow for a key of bits (0: any);
 * with keygen, also TOK_CAN_KEYGEN (one more call: the key pair
 * generator's sizes). */
ek_err tok_mech_mask(struct ek_ctx *ctx, const struct tok_slot *s,
                     unsigned bits, int keygen, unsigned *maskp);
/* The path for alg among mask. PS256: CKM_RSA_PKCS_PSS, else
 * CKM_SHA256_RSA_PKCS_PSS, else CKM_RSA_X_509 + local PSS; RS256:
 * CKM_RSA_PKCS over DigestInfo, else CKM_SHA256_RSA_PKCS. with_data when
 * the whole message is at hand (ek_key_sign; what ek_key_mechanism
 * reports), else the paths that need it are skipped. */
enum tok_path tok_choose(unsigned mask, enum ek_alg alg, int with_data);
CK_MECHANISM_TYPE tok_path_mech(enum tok_path p);
const char *tok_path_alg(enum tok_path p); /* "PS256" or "RS256" */

/* -------------------------------------------------------------------- URIs */

/* A parsed URI with what entrakey needs from it. */
struct tok_uri {
    P11KitUri *uri; /* NULL: match everything */
    const char *module_path;
    const char *pin_value;
    const char *pin_source;
    int has_id, has_label, has_class;
    CK_OBJECT_CLASS cls;
};
/* Parses s (NULL: everything). An unknown attribute, a bad syntax or
 * another scheme is EK_ERR_USAGE naming it. */
ek_err tok_uri_parse(struct ek_ctx *ctx, const char *s, struct tok_uri *u);
void tok_uri_clear(struct tok_uri *u);
/* A copy of a URI fit for a message: pin-value= shown as ***. */
void tok_uri_redact(const char *s, char *out, size_t outsz);
/* Whether the token (module, slot and token fields) matches. */
int tok_uri_match_slot(const struct tok_uri *u, const struct tok_slot *s);
/* pkcs11:token=…;id=…;object=…;type=private (serial= when the label is
 * not unique). The caller frees *outp. */
ek_err tok_uri_key(struct ek_ctx *ctx, const struct tok_slot *s,
                   const unsigned char *id, size_t id_len, const char *label,
                   char **outp);
/* pkcs11:model=…;manufacturer=…;serial=…;token=… */
ek_err tok_uri_token(struct ek_ctx *ctx, const struct tok_slot *s, char **outp);

/* ---------------------------------------------------------------- the key */

struct ek_key {
    struct ek_ctx *ctx;
    struct tok_slot slot;
    CK_SESSION_HANDLE session; /* CK_INVALID_HANDLE: none (list entry) */
    CK_OBJECT_HANDLE priv;
    CK_KEY_TYPE key_type;
    char *uri;
    char *label;
    unsigned char *id;
    size_t id_len;
    char *id_hex;
    unsigned bits;
    unsigned char *modulus;
    size_t modulus_len;
    unsigned char *exponent;
    size_t exponent_len;
    int attr[EK_ATTR_COUNT];
    int always_auth;
    char dropped[128];
    unsigned char *pub_der;
    size_t pub_len;
    unsigned char *cert_der;
    size_t cert_len;
    unsigned mech_mask;            /* TOK_PATH_BIT() of the usable paths */
    struct ek_pin_source *pin_src; /* the user PIN's, resolved when the key
                                      was opened (NULL: the prompt) */
    struct ek_secret *pin;         /* kept only for always-authenticate keys */
    int warned_extractable;
    int lost;      /* the session died (device error) */
    int made_here; /* generated by this ek_key_generate: a
                      certificate with its id is ykcs11's
                      placeholder, replaced without --force */
    void *cache;   /* the layer above's (tok_key_set_cache) */
    void (*cache_free)(void *cache);
};

/* Reads what the key is from its private object (session open, key->priv
 * set): label, id, type, modulus, the five attributes, the public key, the
 * certificate with its id, the URI. */
ek_err tok_key_load(struct ek_key *k);
/* A new key object for the private key o found through session h on s; the
 * key takes h (closes it when freed) only if the caller sets it so. */
/* A key found, before any login, through its public key or certificate o
 * (is_pubkey: which), whose CKA_ID (id, idlen: read already) names the
 * private key, hidden until login: label, public key (from o itself when
 * it is the public key), certificate and URI are read; the private object
 * and its attributes only by tok_key_resolve. */
ek_err tok_key_new_public(struct ek_ctx *ctx, const struct tok_slot *s,
                          CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o,
                          int is_pubkey, const unsigned char *id, size_t idlen,
                          struct ek_key **kp);
/* Makes sure the key's private object is known: for a key found through a
 * public object, logs in (the one C_Login; never retried) and finds the
 * private key with its id, then reads its attributes. */
ek_err tok_key_resolve(struct ek_key *k);
ek_err tok_key_new(struct ek_ctx *ctx, const struct tok_slot *s,
                   CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, struct ek_key **kp);
/* The initialised tokens whose slot/token/module fields the URI matches;
 * none is EK_ERR_NOT_FOUND naming the tokens there are. uri_str is the
 * text of u (for messages). The caller frees *slotsp. */
ek_err tok_match_slots(struct ek_ctx *ctx, const char *uri_str,
                       struct tok_uri *u, struct tok_slot **slotsp, size_t *np);
/* "'a' (serial 1), 'b' (serial 2)" for messages. */
void tok_describe_tokens(struct tok_slot *slots, size_t n, char *out,
                         size_t outsz);
/* Frees what a key holds, closing its session if it has one. */
void tok_key_clear(struct ek_key *k);
/* Opens a session on the key's slot (R/W unless write-protected). */
ek_err tok_session_open(struct ek_ctx *ctx, struct tok_slot *s, int rw,
                        CK_SESSION_HANDLE *hp);
void tok_session_close(struct ek_ctx *ctx, struct tok_slot *s,
                       CK_SESSION_HANDLE h);
/* Finds objects matching tmpl; the caller frees *objsp. */
ek_err tok_find(struct ek_ctx *ctx, struct tok_slot *s, CK_SESSION_HANDLE h,
                CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE **objsp,
                CK_ULONG *countp);
/* Reads one attribute into a new buffer (*lenp = 0 and NULL when the
 * module does not have it). */
ek_err tok_attr(struct ek_ctx *ctx, struct tok_slot *s, CK_SESSION_HANDLE h,
                CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type,
                unsigned char **valp, size_t *lenp);
/* A CK_ULONG attribute; EK_ERR_NOT_FOUND when unreadable, a device error
 * as such. */
ek_err tok_attr_ulong(struct ek_ctx *ctx, struct tok_slot *s,
                      CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o,
                      CK_ATTRIBUTE_TYPE type, CK_ULONG *v);
/* A CK_BBOOL attribute: 1, 0, or -1 when unreadable. */
int tok_attr_bool(struct ek_ctx *ctx, struct tok_slot *s, CK_SESSION_HANDLE h,
                  CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type);

/* ----------------------------------------------------------------- logins */

enum tok_login_kind {
    TOK_LOGIN_USER = 0,
    TOK_LOGIN_SO = 1,
    TOK_LOGIN_CONTEXT = 2, /* CKU_CONTEXT_SPECIFIC, after C_SignInit */
};

/* The user PIN source for what a URI names: the context's
 * (ek_ctx_set_pin_source), else the URI's pin-value=, else its
 * pin-source=; *srcp NULL: the prompt. Resolved once (when a key is
 * opened, or a listing starts) and kept; the caller frees *srcp. */
ek_err tok_pin_resolve(struct ek_ctx *ctx, const struct tok_uri *u,
                       struct ek_pin_source **srcp);
/* Logs in on session h of slot s unless it is logged in already, with the
 * PIN from src (the resolved user source, or ctx->so_pin_source for SO;
 * NULL: the prompt). Token info is re-read first: LOCKED and FINAL_TRY
 * refuse. One C_Login, never retried. keep: when not NULL, the PIN is kept
 * there (always-authenticate keys) and reused instead of read again. */
ek_err tok_login(struct ek_ctx *ctx, struct tok_slot *s, CK_SESSION_HANDLE h,
                 enum tok_login_kind kind, const struct ek_pin_source *src,
                 struct ek_secret **keep);
/* Whether the session is logged in (user or SO). */
int tok_logged_in(struct ek_ctx *ctx, struct tok_slot *s, CK_SESSION_HANDLE h,
                  int *so);

/* ------------------------------------------------------------------ signing */

/* Signs with an explicitly chosen path (tests exercise each). data/len are
 * needed by the *_SHA256_* paths (may be NULL otherwise); digest is the
 * SHA-256 of the data. *siglen: buffer size in, modulus length out. */
ek_err tok_sign_path(struct ek_key *k, enum tok_path path,
                     const unsigned char *data, size_t len,
                     const unsigned char digest[32], unsigned char *sig,
                     size_t *siglen);

#endif /* EK_TOK_H */
