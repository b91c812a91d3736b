/* entrakey.h: the public C API of libentrakey (keys on PKCS#11 tokens,
 * certificates, Entra ID client assertions and tokens). */
#ifndef ENTRAKEY_H
#define ENTRAKEY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(EK_BUILDING_LIBRARY)
#define EK_API __attribute__((visibility("default")))
#else
#define EK_API
#endif

/*
 * Errors: one context rule for every call (as libtls). A call reports its
 * error on the context it is given, or, when it takes no context, on the
 * context of the object it is given (a key carries the context it was
 * opened with: ek_key_sign's error is read with ek_ctx_errmsg of that
 * context). A call given both a context and a key needs the key's own
 * context (else EK_ERR_USAGE): sentences are never copied between
 * contexts.
 *
 * Threading: every object belongs to the context that made it. A context
 * and its objects may be used by one thread at a time; use one context per
 * thread for parallel work (modules are loaded once per process and shared,
 * reference-counted, by p11-kit). Sessions do not survive fork(): spawn
 * children with exec.
 */

/* Error codes. Explicit numbers; appended to, never renumbered. */
typedef enum ek_err {
    EK_OK = 0,
    EK_ERR_INTERNAL = 1, /* out of memory, unexpected library state */
    EK_ERR_USAGE = 2,    /* an argument is invalid or malformed */
    EK_ERR_MODULE = 3, /* the PKCS#11 module cannot be loaded or initialised */
    EK_ERR_TOKEN = 4,  /* a PKCS#11 call failed (the CKR_* is in the message) */
    EK_ERR_NOT_FOUND = 5, /* no token, key or certificate matches */
    EK_ERR_AMBIGUOUS = 6, /* several objects match where one is needed */
    EK_ERR_EXISTS = 7,    /* an object or file exists and would be replaced */
    EK_ERR_DEVICE = 8,    /* token removed or session lost */
    EK_ERR_MECHANISM = 9, /* the token lacks a mechanism that is needed */
    EK_ERR_INSECURE_KEY = 10, /* the key is extractable; refused */
    EK_ERR_PIN = 11,          /* PIN incorrect or PIN source unusable */
    EK_ERR_PIN_LOCKED = 12,   /* PIN locked, or final try refused */
    EK_ERR_PIN_REQUIRED = 13, /* a PIN is needed and there is no source */
    EK_ERR_CERT = 14,         /* certificate invalid, mismatched or expired */
    EK_ERR_ENTRA = 15,        /* the token endpoint refused the request */
    EK_ERR_NETWORK = 16,      /* connection, timeout, 5xx, malformed response */
    EK_ERR_TLS = 17,          /* TLS handshake or certificate verification */
    EK_ERR_IO = 18,           /* a local file could not be read or written */
    EK_ERR_CONFIG = 19,       /* the configuration file is invalid */
    EK_ERR_THROTTLED = 20, /* 429/503 with a wait beyond the allowed maximum */
    EK_ERR_CANCELED = 21,  /* the user or the token canceled the operation */
    EK_ERR_NO_AGENT = 22,  /* no entrakey agent answers for this key */
} ek_err;

/* The generic text of an error code; never NULL. */
EK_API const char *ek_strerror(ek_err e);

/* ---------------------------------------------------------------- context */

struct ek_ctx;

/* Creates a context. The caller owns *ctxp and frees it with ek_ctx_free.
 * Errors: EK_ERR_INTERNAL. */
EK_API ek_err ek_ctx_new(struct ek_ctx **ctxp);

/* Frees the context, its loaded modules and sessions; NULL-safe; sets
 * *ctxp = NULL. Objects made from the context must be freed before. */
EK_API void ek_ctx_free(struct ek_ctx **ctxp);

/* The sentence explaining the last error on this context: what failed, why,
 * and what to do. Valid until the next call on the context; never NULL. */
EK_API const char *ek_ctx_errmsg(const struct ek_ctx *ctx);

enum ek_log_level {
    EK_LOG_WARN = 1,  /* the user should see it (PIN count low, fallbacks) */
    EK_LOG_INFO = 2,  /* what was chosen (mechanism, module, URL) */
    EK_LOG_TRACE = 3, /* every C_* call and HTTP exchange, secrets redacted */
};

/* Called for each message at or below max_level. Messages never contain a
 * PIN, an assertion or an access token. */
typedef void ek_log_fn(void *arg, enum ek_log_level level, const char *msg);
EK_API void ek_ctx_set_log(struct ek_ctx *ctx, ek_log_fn *fn, void *arg,
                           enum ek_log_level max_level);

/* The PKCS#11 module to load: a path to a .so. NULL selects, in order, the
 * environment's ENTRAKEY_MODULE, then module-path= in the URI, then
 * p11-kit's proxy (every registered module). Errors: EK_ERR_USAGE. */
EK_API ek_err ek_ctx_set_module(struct ek_ctx *ctx, const char *path);
/* Where that path came from, as messages name it ("(from ORIGIN)"), e.g.
 * "module = in profile 'p' of FILE"; NULL or never set: "the module path
 * given". The string is copied. Errors: EK_ERR_INTERNAL (out of memory). */
EK_API ek_err ek_ctx_set_module_origin(struct ek_ctx *ctx, const char *origin);

/* Where the user PIN comes from: "env:NAME", "file:PATH" (a regular file
 * of mode 0600 or stricter; file:///PATH too), "fd:N". Of each, the first
 * line is the PIN (without "\n" or "\r\n"); an fd: is read no further.
 * NULL: the URI's pin-value=, else its pin-source= (the same forms, or a
 * bare file name), else the prompt callback. A key takes its source when
 * it is opened; the source is read once, right before C_Login.
 * Errors: EK_ERR_USAGE for a malformed source. */
EK_API ek_err ek_ctx_set_pin_source(struct ek_ctx *ctx, const char *source);

/* The security officer PIN source (YubiKey management key for keygen
 * through ykcs11); same forms as ek_ctx_set_pin_source. */
EK_API ek_err ek_ctx_set_so_pin_source(struct ek_ctx *ctx, const char *source);

/* Asks the user for a PIN: writes at most bufsz-1 bytes and a NUL into buf.
 * Returns EK_OK, or EK_ERR_PIN_REQUIRED when it cannot prompt (no TTY),
 * or EK_ERR_CANCELED. 'prompt' names the token. The library never touches
 * the terminal itself. */
typedef ek_err ek_pin_prompt_fn(void *arg, const char *prompt, char *buf,
                                size_t bufsz);
EK_API void ek_ctx_set_pin_prompt(struct ek_ctx *ctx, ek_pin_prompt_fn *fn,
                                  void *arg);

/* Flags that change policy. Each is off by default. */
#define EK_FLAG_ALLOW_FINAL_PIN_TRY                                            \
    0x1u /* log in even when FINAL_TRY is set                                  \
          */
#define EK_FLAG_INSECURE_ALLOW_EXTRACTABLE                                     \
    0x2u /* sign with an extractable key */
/* The prompt callback is the PIN source, before a URI's pin-value= and
 * pin-source= (as a source set with ek_ctx_set_pin_source would be): for
 * a program that reads its configured source itself and hands the PIN
 * over through the callback (the agent). */
#define EK_FLAG_PIN_PROMPT_FIRST 0x4u
EK_API void ek_ctx_set_flags(struct ek_ctx *ctx, unsigned flags);

/* Reads a PIN once from a source ("env:NAME", "file:PATH" mode 0600 or
 * stricter, "fd:N") into a secret the caller frees (it is wiped). For
 * programs that keep a PIN for later logins (the agent). Errors:
 * EK_ERR_USAGE (malformed source), EK_ERR_PIN (unreadable, empty). */
struct ek_secret;
EK_API ek_err ek_pin_read(struct ek_ctx *ctx, const char *source,
                          struct ek_secret **pinp);

/* ---------------------------------------------------------------- secrets */

/* A secret (assertion, access token): wiped when freed. */
struct ek_secret;
EK_API const char *
ek_secret_data(const struct ek_secret *s); /* NUL-terminated */
EK_API size_t ek_secret_len(const struct ek_secret *s);
EK_API void ek_secret_free(struct ek_secret **sp); /* wipes; NULL-safe */

/* Frees a string the library returned (not secrets). NULL-safe. */
EK_API void ek_free(void *p);

/* ----------------------------------------------------------------- tokens */

enum ek_alg {
    EK_ALG_PS256 = 0, /* RSASSA-PSS, SHA-256, MGF1-SHA-256, salt 32 */
    EK_ALG_RS256 = 1, /* RSASSA-PKCS1-v1_5 with SHA-256 */
};

/* Token flags (from CK_TOKEN_INFO) and capabilities. */
#define EK_TOKEN_LOGIN_REQUIRED 0x01u
#define EK_TOKEN_PIN_COUNT_LOW 0x02u
#define EK_TOKEN_PIN_FINAL_TRY 0x04u
#define EK_TOKEN_PIN_LOCKED 0x08u
#define EK_TOKEN_PROTECTED_AUTH 0x10u /* pinpad: PIN entered on the reader */
#define EK_TOKEN_INITIALIZED 0x20u
#define EK_TOKEN_WRITE_PROTECTED 0x40u
#define EK_TOKEN_REMOVABLE                                                     \
    0x80u /* CKF_REMOVABLE_DEVICE: the token can be                            \
             pulled, and its login lost with it */

struct ek_token; /* one token: a slot with a token present */
struct ek_token_list;

/* Lists the tokens of the selected module(s) (see ek_ctx_set_module). The
 * caller frees *listp. Errors: EK_ERR_MODULE, EK_ERR_TOKEN. */
EK_API ek_err ek_tokens_list(struct ek_ctx *ctx, struct ek_token_list **listp);
EK_API size_t ek_token_list_count(const struct ek_token_list *l);
/* Token i (NULL when i is out of range); valid until the list is freed. */
EK_API const struct ek_token *ek_token_list_get(const struct ek_token_list *l,
                                                size_t i);
/* A token's fields; strings are trimmed, never NULL (maybe ""). */
EK_API const char *ek_token_uri(const struct ek_token *t);
EK_API const char *ek_token_label(const struct ek_token *t);
EK_API const char *ek_token_manufacturer(const struct ek_token *t);
EK_API const char *ek_token_model(const struct ek_token *t);
EK_API const char *ek_token_serial(const struct ek_token *t);
EK_API const char *ek_token_module(const struct ek_token *t);
EK_API unsigned long ek_token_slot(const struct ek_token *t);
EK_API unsigned ek_token_flags(const struct ek_token *t);
/* The mechanism that would be used ("CKM_RSA_PKCS_PSS", …), or NULL when
 * the token cannot do it. keygen: "CKM_RSA_PKCS_KEY_PAIR_GEN" or NULL. */
EK_API const char *ek_token_mech_sign(const struct ek_token *t,
                                      enum ek_alg alg);
EK_API const char *ek_token_mech_keygen(const struct ek_token *t);
EK_API void ek_token_list_free(struct ek_token_list **lp);

/* Initialises the first uninitialised slot of the selected module as a new
 * token (C_InitToken, then C_InitPIN for the user PIN): what the embedded
 * SoftHSM token needs. The PINs are not kept. Errors: EK_ERR_NOT_FOUND (no
 * free slot), EK_ERR_TOKEN. */
EK_API ek_err ek_token_init(struct ek_ctx *ctx, const char *label,
                            const char *so_pin, const char *user_pin);

/* ------------------------------------------------------------------- keys */

/* A private key on a token (with its public half and certificate, if any).
 * An opened key holds a session; login happens at the first signature. */
struct ek_key;
struct ek_key_list;

/* Non-exportability attributes, read back from the token. */
enum ek_key_attr {
    EK_ATTR_SENSITIVE = 0,
    EK_ATTR_EXTRACTABLE = 1,
    EK_ATTR_ALWAYS_SENSITIVE = 2,
    EK_ATTR_NEVER_EXTRACTABLE = 3,
    EK_ATTR_LOCAL = 4,
};
#define EK_ATTR_COUNT 5

enum ek_verdict {
    EK_VERDICT_NON_EXPORTABLE = 0, /* all five attributes as they should be */
    EK_VERDICT_UNPROVEN = 1,       /* not extractable, but some attribute
                                      unreadable or weak (see each) */
    EK_VERDICT_EXTRACTABLE = 2,    /* CKA_EXTRACTABLE=TRUE or SENSITIVE=FALSE */
};

/* Lists private keys matching token_uri (a token or object URI; NULL for
 * every token). Logs in if the token requires it to see private objects.
 * Errors: EK_ERR_MODULE, EK_ERR_TOKEN, EK_ERR_NOT_FOUND, PIN errors. */
EK_API ek_err ek_keys_list(struct ek_ctx *ctx, const char *token_uri,
                           struct ek_key_list **listp);
EK_API size_t ek_key_list_count(const struct ek_key_list *l);
/* Valid until the list is freed. */
EK_API const struct ek_key *ek_key_list_get(const struct ek_key_list *l,
                                            size_t i);
EK_API void ek_key_list_free(struct ek_key_list **lp);

/* Opens the single private key the URI names. Errors: EK_ERR_NOT_FOUND
 * (the message lists what there is), EK_ERR_AMBIGUOUS (it lists the
 * matches), EK_ERR_USAGE (bad URI), module, token and PIN errors. */
EK_API ek_err ek_key_open(struct ek_ctx *ctx, const char *key_uri,
                          struct ek_key **keyp);

struct ek_keygen_params {
    const char *label;       /* required: CKA_LABEL */
    const unsigned char *id; /* CKA_ID; NULL picks an unused one */
    size_t id_len;
    unsigned bits; /* 2048 (default when 0), 3072 or 4096 */
};

/* Generates an RSA key pair (e 65537) on the token that token_uri names,
 * with CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE, !CKA_EXTRACTABLE, CKA_SIGN,
 * then reads back the five attributes. Refuses (EK_ERR_EXISTS) when an
 * object with that label or id exists. The new key is returned open. */
EK_API ek_err ek_key_generate(struct ek_ctx *ctx, const char *token_uri,
                              const struct ek_keygen_params *params,
                              struct ek_key **keyp);
EK_API void ek_key_free(struct ek_key **keyp);

EK_API const char *ek_key_uri(const struct ek_key *k); /* token + id + type */
EK_API const char *ek_key_label(const struct ek_key *k);
EK_API const char *ek_key_id_hex(const struct ek_key *k);
/* Parses a key id (CKA_ID) written in hex, as ek_key_id_hex, pkcs11-tool
 * and p11tool write it: "0a1b", "0x0a1b" or "0a:1b" (one ':' between
 * bytes), any case. *lenp is the size of out on entry and the number of
 * bytes written on success. Errors: EK_ERR_USAGE (empty, not hex, an odd
 * number of digits, longer than *lenp bytes; the sentence on ctx, which
 * may be NULL, gives the position, never the id). */
EK_API ek_err ek_key_id_parse(struct ek_ctx *ctx, const char *s,
                              unsigned char *out, size_t *lenp);
EK_API const char *ek_key_token_label(const struct ek_key *k);
/* The token's serial number and model (CK_TOKEN_INFO), trimmed. */
EK_API const char *ek_key_token_serial(const struct ek_key *k);
EK_API const char *ek_key_token_model(const struct ek_key *k);
/* The EK_TOKEN_* flags of the key's token and slot, as read when the key
 * was opened (EK_TOKEN_REMOVABLE: whether the login can be lost). */
EK_API unsigned ek_key_token_flags(const struct ek_key *k);
EK_API unsigned ek_key_bits(const struct ek_key *k);
/* 1 TRUE, 0 FALSE, -1 unreadable (the module does not report it). */
EK_API int ek_key_attr(const struct ek_key *k, enum ek_key_attr a);
EK_API enum ek_verdict ek_key_verdict(const struct ek_key *k);
EK_API int ek_key_always_authenticate(const struct ek_key *k);
/* 1 when the key was found, before any login, through its public key or
 * certificate: its private object and the five attributes are read only at
 * the first signature, after the login of the key's own token (until then
 * ek_key_attr gives -1). A PIN is shown only to the token that holds the
 * key. */
EK_API int ek_key_needs_login(const struct ek_key *k);
/* 1 when the key is in a PIV slot (a YubiKey through ykcs11, a PIV card
 * through OpenSC): such a key cannot be deleted, only overwritten by a new
 * key in the same slot. */
EK_API int ek_key_in_piv_slot(const struct ek_key *k);
/* 1 when the module reports the key attributes as fixed values, not as
 * what the device knows of the key (OpenSC's PIV driver): the verdict
 * then says so. */
EK_API int ek_key_attrs_fixed(const struct ek_key *k);
/* Which attributes the keygen template had to leave out, comma-separated,
 * or "" (ek_key_generate only). */
EK_API const char *ek_key_template_dropped(const struct ek_key *k);
/* The public key as DER SubjectPublicKeyInfo. Valid while k lives. */
EK_API ek_err ek_key_public_der(const struct ek_key *k,
                                const unsigned char **der, size_t *len);
/* The certificate object with the key's CKA_ID, as DER; EK_ERR_NOT_FOUND
 * when there is none. Valid while k lives. */
EK_API ek_err ek_key_cert_der(const struct ek_key *k, const unsigned char **der,
                              size_t *len);
/* The mechanism the key would use for alg, or NULL if none. */
EK_API const char *ek_key_mechanism(const struct ek_key *k, enum ek_alg alg);

/* What ek_key_delete found and destroyed, or left: bits. */
#define EK_OBJ_PRIVATE_KEY 0x1u
#define EK_OBJ_PUBLIC_KEY 0x2u
#define EK_OBJ_CERT 0x4u

/* Deletes the key from its token: the private key, then the certificates
 * and public keys with its CKA_ID (one C_DestroyObject each, each result
 * judged), after the login of the key's token (one C_Login, never retried;
 * a YubiKey deletes with the SO login, the management key of
 * ek_ctx_set_so_pin_source). A key in a PIV slot (ek_key_in_piv_slot)
 * cannot be deleted: its certificate is, the key stays (said at
 * EK_LOG_WARN). *deletedp gets the EK_OBJ_* bits of what was destroyed and
 * *keptp those of what remains, on failure too (a failure after the private
 * key was destroyed names what is left). Either may be NULL. Afterwards k
 * signs no more: free it. Errors: PIN errors, EK_ERR_DEVICE, EK_ERR_USAGE
 * (no CKA_ID, no session), EK_ERR_TOKEN (the C_DestroyObject that failed or
 * was refused, by its CKR_* name). */
EK_API ek_err ek_key_delete(struct ek_key *k, unsigned *deletedp,
                            unsigned *keptp);

/* Takes the PIN source the key was opened with (whichever it came from:
 * the context's, or the URI's pin-source=) out of reach of a program this
 * process runs next: an env:NAME variable is unset, an fd:N descriptor
 * closed (0, 1 and 2 are pointed at /dev/null instead). A file: source is
 * left alone (mode 0600, the owner's). For exec-style wrappers, after the
 * last signature and before exec; not thread-safe (it changes the
 * process's environment). */
EK_API void ek_key_pin_source_scrub(struct ek_key *k);
/* The same for the context's PIN source (ek_ctx_set_pin_source), for a
 * program that got what it needed without opening a key. */
EK_API void ek_ctx_pin_source_scrub(struct ek_ctx *ctx);

/* Signs data on the token: SHA-256 on the host, then the signature by the
 * mechanism chosen for alg. *siglen is the buffer size in, the signature
 * length (the modulus length) out. Logs in first if needed (one C_Login,
 * never retried). Errors: PIN errors, EK_ERR_INSECURE_KEY, EK_ERR_DEVICE,
 * EK_ERR_MECHANISM, EK_ERR_TOKEN. */
EK_API ek_err ek_key_sign(struct ek_key *k, enum ek_alg alg,
                          const unsigned char *data, size_t len,
                          unsigned char *sig, size_t *siglen);

/* Logs in now if the token needs it and the session is not logged in yet
 * (one C_Login, never retried; counters checked first), so that a program
 * holding the key (the agent) learns of a wrong PIN at start. A key found
 * through its public objects (ek_key_needs_login) then has its private
 * object found and its attributes read (ek_key_attr). Errors: PIN errors,
 * EK_ERR_DEVICE, EK_ERR_NOT_FOUND (no private key with its id). */
EK_API ek_err ek_key_login(struct ek_key *k);
/* 1 while the key's session is logged in, else 0 (never logs in). */
EK_API int ek_key_logged_in(struct ek_key *k);

/* ----------------------------------------------------------- certificates */

struct ek_cert;

/* Parses a certificate, DER or PEM. Errors: EK_ERR_CERT. */
EK_API ek_err ek_cert_load(struct ek_ctx *ctx, const unsigned char *data,
                           size_t len, struct ek_cert **certp);
/* Reads a certificate file, DER or PEM. Errors: EK_ERR_IO, EK_ERR_CERT. */
EK_API ek_err ek_cert_load_file(struct ek_ctx *ctx, const char *path,
                                struct ek_cert **certp);
/* The certificate on the token with the key's id. EK_ERR_NOT_FOUND. */
EK_API ek_err ek_cert_from_key(struct ek_ctx *ctx, const struct ek_key *k,
                               struct ek_cert **certp);
EK_API void ek_cert_free(struct ek_cert **certp);

EK_API const char *ek_cert_subject(const struct ek_cert *c); /* "CN=…, O=…" */
EK_API const char *ek_cert_issuer(const struct ek_cert *c);
EK_API const char *ek_cert_serial_hex(const struct ek_cert *c);
EK_API int64_t ek_cert_not_before(const struct ek_cert *c); /* epoch seconds */
EK_API int64_t ek_cert_not_after(const struct ek_cert *c);
EK_API const char *
ek_cert_thumbprint(const struct ek_cert *c); /* SHA-1, 40 uppercase hex */
EK_API const char *ek_cert_x5t(const struct ek_cert *c); /* b64url SHA-1 */
EK_API const char *
ek_cert_x5t_s256(const struct ek_cert *c); /* b64url SHA-256 */
EK_API const char *ek_cert_sigalg(
    const struct ek_cert *c); /* "sha256WithRSAEncryption", "rsassaPss" */
EK_API unsigned ek_cert_key_bits(const struct ek_cert *c);
EK_API ek_err ek_cert_der(const struct ek_cert *c, const unsigned char **der,
                          size_t *len);
/* 1 when the certificate's public key is the key's, else 0. */
EK_API int ek_cert_matches_key(const struct ek_cert *c, const struct ek_key *k);

/* The keyCredentials entry (JSON object) for the app manifest / Graph.
 * The caller frees *jsonp with ek_free. */
EK_API ek_err ek_cert_manifest_json(struct ek_ctx *ctx, const struct ek_cert *c,
                                    char **jsonp);

/* Options are flags. EK_WRITE_FORCE: replace an existing file, or (in
 * struct ek_cert_params) the certificate stored with the key's id. */
#define EK_WRITE_FORCE 0x1u
#define EK_CERT_NO_STORE 0x2u /* ek_cert_create: do not store on the token */
enum ek_format { EK_FORMAT_DER = 0, EK_FORMAT_PEM = 1 };
/* Writes atomically (temporary file + rename, mode 0644). An existing file
 * is EK_ERR_EXISTS unless EK_WRITE_FORCE. Errors: EK_ERR_IO. */
EK_API ek_err ek_cert_write(struct ek_ctx *ctx, const struct ek_cert *c,
                            const char *path, enum ek_format fmt,
                            unsigned flags);

struct ek_cert_params {
    const char *subject; /* "CN=…,O=…" or "/CN=…/O=…", UTF-8; required */
    unsigned days;       /* validity; 365 when 0 */
    enum ek_alg sig;     /* EK_ALG_RS256 (sha256WithRSA) or EK_ALG_PS256 */
    unsigned flags;      /* EK_CERT_NO_STORE, EK_WRITE_FORCE */
};

/* Builds an X.509 v3 certificate for the key, signed on the token, verified
 * against the key's public key, and (unless EK_CERT_NO_STORE) stored on the
 * token with the key's CKA_ID and label. Errors: EK_ERR_USAGE (DN syntax, with
 * the position), EK_ERR_EXISTS, token and PIN errors, EK_ERR_CERT. */
EK_API ek_err ek_cert_create(struct ek_ctx *ctx, struct ek_key *k,
                             const struct ek_cert_params *params,
                             struct ek_cert **certp);

/* Checks a subject DN as ek_cert_create would parse it, without a key (so
 * that `entrakey init` refuses a bad DN before it generates a key).
 * Errors: EK_ERR_USAGE with the position. */
EK_API ek_err ek_dn_check(struct ek_ctx *ctx, const char *dn);

/* A PKCS#10 request for the key, signed on the token, written as PEM to
 * path (atomically; EK_WRITE_FORCE to replace). */
EK_API ek_err ek_csr_create(struct ek_ctx *ctx, struct ek_key *k,
                            const char *subject, enum ek_alg sig,
                            const char *path, unsigned flags);

/* Stores a certificate (a CA-issued one) under the key's id after checking
 * that its public key is the key's (EK_ERR_CERT otherwise). An existing
 * certificate is EK_ERR_EXISTS unless EK_WRITE_FORCE. */
EK_API ek_err ek_cert_import(struct ek_ctx *ctx, struct ek_key *k,
                             const struct ek_cert *c, unsigned flags);

/* ------------------------------------------------------------- Entra ID */

enum ek_cloud {
    EK_CLOUD_GLOBAL = 0,
    EK_CLOUD_USGOV = 1, /* GCC High */
    EK_CLOUD_USGOV_DOD = 2,
    EK_CLOUD_CHINA = 3,
};
enum ek_resource {
    EK_RESOURCE_EXO = 0,
    EK_RESOURCE_GRAPH = 1,
    EK_RESOURCE_ARM = 2,
    EK_RESOURCE_COMPLIANCE = 3,
};

/* Parses "global", "usgov", "usgov-dod", "china". EK_ERR_USAGE otherwise. */
EK_API ek_err ek_cloud_parse(const char *name, enum ek_cloud *cloud);
/* "https://login.microsoftonline.com" etc.; never NULL. */
EK_API const char *ek_cloud_authority_host(enum ek_cloud cloud);
/* The /.default scope of a resource in a cloud, or NULL if it has none. */
EK_API const char *ek_cloud_scope(enum ek_cloud cloud, enum ek_resource r);
/* Connect-ExchangeOnline -ExchangeEnvironmentName value ("O365Default"…). */
EK_API const char *ek_cloud_exo_environment(enum ek_cloud cloud);
/* Parses "exo", "graph", "arm", "compliance". EK_ERR_USAGE otherwise. */
EK_API ek_err ek_resource_parse(const char *name, enum ek_resource *r);
/* Parses "PS256" or "RS256", in any case (the JWT always carries the
 * upper-case name). EK_ERR_USAGE otherwise. */
EK_API ek_err ek_alg_parse(const char *name, enum ek_alg *alg);

/* The tenant, client id and authority host are checked by one rule set
 * (docs/exchange-online.md, "The tenant, the client ID and the authority
 * host") for both ek_assertion_sign and ek_access_token_acquire; the token
 * endpoint's URL they make is the assertion's aud. */
struct ek_assertion_params {
    const char *tenant;    /* required: a GUID, or a domain such as
                              contoso.onmicrosoft.com */
    const char *client_id; /* required: the application (client) ID,
                              a GUID */
    enum ek_cloud cloud;
    const char *authority_host; /* https://host[:port], overrides the
                                   cloud's login host */
    enum ek_alg alg;            /* PS256 by default; RS256 adds x5t */
    unsigned lifetime;          /* seconds; 600 when 0; at most 3600 */
    const struct ek_cert *cert; /* NULL: the certificate on the token */
};

/* Signs a JWT client assertion on the token. If the token cannot do PSS at
 * all, RS256 is used and said at EK_LOG_WARN. The caller frees *jwtp.
 * Errors: EK_ERR_USAGE, EK_ERR_NOT_FOUND (no certificate), EK_ERR_CERT,
 * token and PIN errors. */
EK_API ek_err ek_assertion_sign(struct ek_ctx *ctx, struct ek_key *k,
                                const struct ek_assertion_params *params,
                                struct ek_secret **jwtp);

/* Verifies a JWT's signature (PS256 or RS256, from its header) with the
 * certificate's public key, and that its x5t#S256 / x5t header names that
 * certificate. Checks no claims. Errors: EK_ERR_CERT (bad signature or
 * another certificate), EK_ERR_USAGE (not a JWT). */
EK_API ek_err ek_assertion_verify(struct ek_ctx *ctx, const char *jwt,
                                  const struct ek_cert *cert);

struct ek_access_token_params {
    struct ek_assertion_params assertion;
    const char *scope;         /* overrides resource */
    enum ek_resource resource; /* EXO by default */
    const char *ca_file;       /* extra CA bundle (PEM) to trust */
    unsigned timeout;          /* total seconds per attempt; 30 when 0 */
    unsigned max_wait;         /* max Retry-After wait, seconds; 60 when 0 */
};

struct ek_access_token;

/* Signs an assertion on the token and exchanges it at the Entra ID token
 * endpoint (client credentials). Retries a connection error, timeout or 5xx
 * once, and 429/503 with Retry-After up to max_wait; never a 400.
 * When the signature needs no one (the PIN from a source, not a prompt or
 * a pinpad), the request goes out while the token signs: a thread of its
 * own connects and sends the form up to the signature, which follows when
 * the token has made it (a signature that fails stops the request before
 * it is whole). Meanwhile the log callback may be called from that thread,
 * never two calls at once. ENTRAKEY_EARLY_POST=0 in the environment sends
 * the request after the signature instead.
 * Errors: EK_ERR_ENTRA (message holds error, AADSTS code and a hint),
 * EK_ERR_NETWORK, EK_ERR_TLS, EK_ERR_THROTTLED, and the errors of
 * ek_assertion_sign. */
EK_API ek_err ek_access_token_acquire(
    struct ek_ctx *ctx, struct ek_key *k,
    const struct ek_access_token_params *params, struct ek_access_token **tokp);
/* Posts an assertion signed with ek_assertion_sign(params->assertion) to
 * the token endpoint those parameters name, with the retries of
 * ek_access_token_acquire: its second half, for a program that signs in
 * one place and posts in another (the agent signs under its session lock
 * and posts outside it). The caller frees *tokp. Errors: those of
 * ek_access_token_acquire after the signature. */
EK_API ek_err ek_access_token_exchange(
    struct ek_ctx *ctx, const struct ek_access_token_params *params,
    const struct ek_secret *assertion, struct ek_access_token **tokp);
EK_API const char *ek_access_token_value(const struct ek_access_token *t);
EK_API const char *ek_access_token_type(const struct ek_access_token *t);
EK_API int64_t ek_access_token_expires_in(const struct ek_access_token *t);
EK_API int64_t ek_access_token_expires_on(const struct ek_access_token *t);
EK_API const char *ek_access_token_scope(const struct ek_access_token *t);
EK_API void ek_access_token_free(struct ek_access_token **tp); /* wipes */

/* --------------------------------------------------- Microsoft Graph */

/* Key rotation through Microsoft Graph (docs/rotation.md): an application
 * adds and removes its own certificates with addKey and removeKey, with no
 * permission, when the request carries a proof of possession signed by one
 * of its registered, valid certificates. */

/* Graph's host in a cloud, "https://graph.microsoft.com" etc.; never
 * NULL. */
EK_API const char *ek_cloud_graph_host(enum ek_cloud cloud);

struct ek_graph_params {
    enum ek_cloud cloud;
    const char *graph_host; /* https://host[:port]; NULL: the cloud's */
    const char *ca_file;    /* extra CA bundle (PEM), as for the token */
    unsigned timeout;       /* total seconds per attempt; 30 when 0 */
    unsigned max_wait;      /* max Retry-After wait, seconds; 60 when 0 */
};

/* Signs on the token, with the key k, the proof Graph's addKey and
 * removeKey ask for: a JWT (RS256; header x5t and kid: the certificate's
 * SHA-1 thumbprint) with aud 00000002-0000-0000-c000-000000000000, iss =
 * object_id (the application's object id, not its client id), nbf, iat and
 * exp = nbf + lifetime. cert NULL: the certificate on the token with the
 * key's id; it must be the key's and valid now. lifetime: seconds, 600 when
 * 0, at most 600. The caller frees *jwtp. Errors: EK_ERR_USAGE,
 * EK_ERR_NOT_FOUND (no certificate), EK_ERR_CERT, token and PIN errors. */
EK_API ek_err ek_graph_proof_sign(struct ek_ctx *ctx, struct ek_key *k,
                                  const char *object_id,
                                  const struct ek_cert *cert, unsigned lifetime,
                                  struct ek_secret **jwtp);

/* An application as Graph shows it: its object id and its certificates. */
struct ek_graph_app;

/* GET /v1.0/applications(appId='client_id')?$select=id,keyCredentials with
 * a Graph access token (needs Application.Read.All, or ownership of the
 * app). Retries a connection error, timeout or 5xx once, 429/503 as
 * ek_access_token_acquire does. The caller frees *appp. Errors:
 * EK_ERR_ENTRA (Graph refused: HTTP status, Graph's code and message),
 * EK_ERR_NOT_FOUND (no such application), EK_ERR_NETWORK, EK_ERR_TLS,
 * EK_ERR_THROTTLED, EK_ERR_USAGE. */
EK_API ek_err ek_graph_app_get(struct ek_ctx *ctx,
                               const struct ek_graph_params *gp,
                               const struct ek_access_token *graph_token,
                               const char *client_id,
                               struct ek_graph_app **appp);
EK_API const char *ek_graph_app_object_id(const struct ek_graph_app *a);
EK_API size_t ek_graph_app_key_count(const struct ek_graph_app *a);
/* Key i's keyId (a GUID), its SHA-1 thumbprint (40 upper-case hex, from
 * customKeyIdentifier; "" when it is not one), its displayName ("" when
 * none) and its endDateTime (epoch seconds; 0 unknown); NULL or 0 when i
 * is out of range. */
EK_API const char *ek_graph_app_key_id(const struct ek_graph_app *a, size_t i);
EK_API const char *ek_graph_app_key_thumbprint(const struct ek_graph_app *a,
                                               size_t i);
EK_API const char *ek_graph_app_key_name(const struct ek_graph_app *a,
                                         size_t i);
EK_API int64_t ek_graph_app_key_end(const struct ek_graph_app *a, size_t i);
/* The keyId of the credential whose thumbprint is the certificate's, or
 * NULL. */
EK_API const char *ek_graph_app_key_for(const struct ek_graph_app *a,
                                        const struct ek_cert *c);
EK_API void ek_graph_app_free(struct ek_graph_app **ap);

/* POST /v1.0/applications/{object_id}/addKey: adds the certificate c
 * (AsymmetricX509Cert, usage Verify, displayName its subject) with a proof
 * from ek_graph_proof_sign. *key_idp (freed with ek_free) gets the new
 * credential's keyId from Graph's answer (NULL when the answer has none).
 * Never retried but for 429/503 with Retry-After (a lost answer may mean
 * the key was added: the message says so). Errors: those of
 * ek_graph_app_get. */
EK_API ek_err ek_graph_key_add(struct ek_ctx *ctx,
                               const struct ek_graph_params *gp,
                               const struct ek_access_token *graph_token,
                               const char *object_id, const struct ek_cert *c,
                               const struct ek_secret *proof, char **key_idp);

/* POST /v1.0/applications/{object_id}/removeKey for the credential key_id,
 * with a proof signed by another registered key. Retried as
 * ek_graph_key_add. Errors: those of ek_graph_app_get. */
EK_API ek_err ek_graph_key_remove(struct ek_ctx *ctx,
                                  const struct ek_graph_params *gp,
                                  const struct ek_access_token *graph_token,
                                  const char *object_id, const char *key_id,
                                  const struct ek_secret *proof);

/* ------------------------------------------------------------------ agent */

/* The agent's socket: $ENTRAKEY_AGENT_SOCK, else
 * $XDG_RUNTIME_DIR/entrakey/agent.sock. The caller frees *pathp with
 * ek_free. Errors: EK_ERR_NO_AGENT when neither variable is set. */
EK_API ek_err ek_agent_socket_path(struct ek_ctx *ctx, char **pathp);

/* Asks the `entrakey agent` listening at sock for an access token made with
 * the key key_uri (as the agent was started with it) for params' tenant,
 * client id and scope, with at least min_lifetime seconds left (0: the
 * agent's minimum). The agent answers from its cache or signs and posts.
 * params->assertion.cert must be NULL. Errors: EK_ERR_NO_AGENT when no
 * agent answers at sock or it does not serve key_uri (the caller may take
 * the direct path); otherwise the agent's code and sentence
 * (EK_ERR_DEVICE, PIN errors, EK_ERR_ENTRA, EK_ERR_THROTTLED, ...). */
EK_API ek_err ek_agent_token(struct ek_ctx *ctx, const char *sock,
                             const char *key_uri,
                             const struct ek_access_token_params *params,
                             unsigned min_lifetime,
                             struct ek_access_token **tokp);
/* The same for a client assertion (params->assertion.lifetime, alg; the
 * aud as ek_assertion_sign_for). The caller frees *jwtp. */
EK_API ek_err ek_agent_assertion(struct ek_ctx *ctx, const char *sock,
                                 const char *key_uri,
                                 const struct ek_access_token_params *params,
                                 struct ek_secret **jwtp);

/* ----------------------------------------------------------------- config */

/* Profiles in an INI file: [profile NAME] sections of key = value. Keys:
 * tenant, client_id, key, module, cloud, resource, scope, alg, pin_source,
 * organization, authority_host, ca_file, audit. The file format is part of the
 * ABI; which files are searched and the precedence of profiles, options
 * and the environment are the command's (docs/api.md). */
struct ek_config;

/* The default path: $XDG_CONFIG_HOME/entrakey/config, else
 * $HOME/.config/entrakey/config. The caller frees it with ek_free.
 * Errors: EK_ERR_CONFIG when neither variable is set. */
EK_API ek_err ek_config_default_path(struct ek_ctx *ctx, char **pathp);
/* Loads path; a missing file gives an empty config when missing_ok.
 * Errors: EK_ERR_IO, EK_ERR_CONFIG (naming the line). */
EK_API ek_err ek_config_load(struct ek_ctx *ctx, const char *path,
                             int missing_ok, struct ek_config **cfgp);
EK_API void ek_config_free(struct ek_config **cfgp);
/* The value of key in profile, or NULL. */
EK_API const char *ek_config_get(const struct ek_config *cfg,
                                 const char *profile, const char *key);
EK_API size_t ek_config_profile_count(const struct ek_config *cfg);
EK_API const char *ek_config_profile_name(const struct ek_config *cfg,
                                          size_t i);
/* Sets (value NULL: removes) a key; EK_ERR_USAGE for an unknown key. */
EK_API ek_err ek_config_set(struct ek_ctx *ctx, struct ek_config *cfg,
                            const char *profile, const char *key,
                            const char *value);
/* Writes the file atomically, mode 0600, creating its directory. */
EK_API ek_err ek_config_save(struct ek_ctx *ctx, const struct ek_config *cfg,
                             const char *path);

/* ------------------------------------------------------------------ misc */

/* The library version, "0.1.0". */
EK_API const char *ek_version(void);

/* Percent-decodes in[0..n) as the values of a PKCS#11 URI (RFC 7512) and
 * a URL's path and query are written: '%' and two hex digits (any case)
 * is that byte, anything else is itself. out gets the bytes and a NUL;
 * *lenp is the size of out on entry (n + 1 always suffices) and the number
 * of bytes before that NUL on success; the result holds a 0 byte for %00
 * unless EK_PERCENT_NO_NUL. Errors: EK_ERR_USAGE (a '%' not followed by
 * two hex digits, %00 with EK_PERCENT_NO_NUL, out too small; the sentence
 * on ctx, which may be NULL, gives the position, never the value; out is
 * then undefined). No allocation; thread-safe with distinct ctx. */
#define EK_PERCENT_PLUS 0x1u   /* '+' is a space (a form-encoded query) */
#define EK_PERCENT_NO_NUL 0x2u /* %00 is an error: the result is a string */
/* a '%' not followed by two hex digits is kept as written, not an error */
#define EK_PERCENT_KEEP_INVALID 0x4u
EK_API ek_err ek_percent_decode(struct ek_ctx *ctx, const char *in, size_t n,
                                unsigned flags, char *out, size_t *lenp);

/* Compares the clock with an HTTP Date of the last exchange: seconds the
 * server is ahead (negative: behind), 0 if unknown. */
EK_API int64_t ek_ctx_clock_skew(const struct ek_ctx *ctx);

/* For audit trails: identifiers of the last assertion signed with this
 * context (its jti claim; the SHA-1 thumbprint, 40 uppercase hex, of the
 * certificate it names) and of the last token request made with it (the
 * correlation id: the client-request-id sent, as the server echoed it, or
 * its JSON correlation_id; the request id: x-ms-request-id, else the JSON
 * trace_id). Set on success and on failure once the request was sent;
 * "" when unknown. Values from the server are kept only when they are
 * letters, digits and '-' (at most 64). Valid until the next call. */
EK_API const char *ek_ctx_assertion_jti(const struct ek_ctx *ctx);
EK_API const char *ek_ctx_assertion_thumbprint(const struct ek_ctx *ctx);
EK_API const char *ek_ctx_correlation_id(const struct ek_ctx *ctx);
EK_API const char *ek_ctx_request_id(const struct ek_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif /* ENTRAKEY_H */
