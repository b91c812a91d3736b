/* internal.h: what the library's modules share; never installed. */
#ifndef EK_INTERNAL_H
#define EK_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "entrakey.h"

#define EK_PIN_MAX 256     /* longest PIN accepted from any source */
#define EK_ERRMSG_MAX 2048 /* longest error sentence kept on a context */

/* What a layer above the base keeps on a context (the token layer's loaded
 * modules). The base layer knows only how to free it: the layer registers
 * its cleanup together with the state (ek_ctx_ext_set). */
enum ek_ctx_ext_id {
    EK_EXT_TOKEN = 0, /* pkcs11/: struct tok_ctx */
    EK_EXT_COUNT,
};

struct ek_ctx_ext {
    void *state;
    void (*free_fn)(void *state);
};

struct ek_ctx {
    char errmsg[EK_ERRMSG_MAX];
    ek_log_fn *log_fn;
    void *log_arg;
    enum ek_log_level log_max;
    char *module_path;   /* ek_ctx_set_module; NULL: default order */
    char *module_origin; /* ek_ctx_set_module_origin */
    struct ek_pin_source *pin_source; /* ek_ctx_set_pin_source; NULL: the
                                         URI's, else the prompt */
    struct ek_pin_source *so_pin_source;
    ek_pin_prompt_fn *prompt_fn;
    void *prompt_arg;
    unsigned flags;      /* EK_FLAG_* */
    int64_t clock_skew;  /* from the last HTTP Date header */
    int clock_skew_said; /* the last error sentence names the skew */
    /* the last assertion signed and the last token request (audit trails:
     * identifiers only, never the assertion or the token) */
    char last_jti[40];
    char last_thumbprint[48];
    char correlation_id[72]; /* client-request-id, as the server echoed it */
    char request_id[72];     /* the server's x-ms-request-id / trace_id */
    struct ek_ctx_ext ext[EK_EXT_COUNT]; /* freed by their own hooks */
};

/* The state a layer keeps on the context, or NULL. */
void *ek_ctx_ext_get(const struct ek_ctx *ctx, enum ek_ctx_ext_id id);
/* Keeps state on the context; ek_ctx_free calls free_fn(state) (in the
 * reverse order of the ids). Replacing state frees the old one first. */
void ek_ctx_ext_set(struct ek_ctx *ctx, enum ek_ctx_ext_id id, void *state,
                    void (*free_fn)(void *state));

/* ------------------------------------------------------------ errors, log */

/* Sets the context's error sentence (printf format) and returns code, so
 * that "return ek_seterr(ctx, EK_ERR_IO, …)" reads naturally. ctx may be
 * NULL (then only the code is returned). */
ek_err ek_seterr(struct ek_ctx *ctx, ek_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
ek_err ek_vseterr(struct ek_ctx *ctx, ek_err code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/* "out of memory" with the code EK_ERR_INTERNAL. */
ek_err ek_seterr_oom(struct ek_ctx *ctx);
/* clang-tidy's analyzer sees one file at a time and cannot know that these
 * return their code; without this it follows "return ek_seterr(ctx,
 * EK_ERR_X, ...)" as if it could return EK_OK and reports null
 * dereferences on paths that do not exist. Only the analyzer sees it. */
#if defined(__clang_analyzer__) && !defined(EK_CTX_C)
#define ek_seterr(ctx, code, ...)                                              \
    (ek_seterr((ctx), (code), __VA_ARGS__), (code))
#define ek_seterr_oom(ctx) (ek_seterr_oom(ctx), EK_ERR_INTERNAL)
#endif

/* Sends a message to the log callback if level <= the context's maximum.
 * Never pass a secret. */
void ek_log(struct ek_ctx *ctx, enum ek_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int ek_log_enabled(const struct ek_ctx *ctx, enum ek_log_level level);

/* ---------------------------------------------------------------- secrets */

struct ek_secret {
    char *buf; /* NUL-terminated; wiped before free and before realloc */
    size_t len;
    size_t cap;
};

/* Wipes n bytes; never optimised away. */
void ek_wipe(void *p, size_t n);
/* A new empty secret with room for cap bytes (grows on append). */
ek_err ek_secret_new(struct ek_ctx *ctx, size_t cap, struct ek_secret **sp);
/* Appends n bytes; on growth the old buffer is wiped. */
ek_err ek_secret_append(struct ek_ctx *ctx, struct ek_secret *s,
                        const void *data, size_t n);
ek_err ek_secret_append_str(struct ek_ctx *ctx, struct ek_secret *s,
                            const char *str);

/* ------------------------------------------------------------ PIN sources */

/* Where a PIN comes from (src/pin.c): the one parser of every form, used by
 * ek_ctx_set_pin_source, by the token layer's login (a URI's pin-source=
 * and pin-value=) and by ek_key_pin_source_scrub. */
enum ek_pin_kind {
    EK_PIN_NONE = 0,
    EK_PIN_ENV = 1,   /* env:NAME */
    EK_PIN_FILE = 2,  /* file:PATH, file:///PATH; a bare path in a URI */
    EK_PIN_FD = 3,    /* fd:N */
    EK_PIN_VALUE = 4, /* a URI's pin-value=: the PIN itself */
};
#define EK_PINSRC_URI 0x1u /* a URI's pin-source=: bare paths are files */
#define EK_PINSRC_SO 0x2u  /* the SO PIN's (for messages) */

struct ek_pin_source;

/* Parses a source. Errors: EK_ERR_USAGE naming it and the forms. */
ek_err ek_pin_source_parse(struct ek_ctx *ctx, const char *text, unsigned flags,
                           struct ek_pin_source **srcp);
/* A source holding the PIN itself (pin-value=), kept in a wiped secret. */
ek_err ek_pin_source_value(struct ek_ctx *ctx, const char *pin,
                           struct ek_pin_source **srcp);
/* A copy (NULL gives NULL). */
ek_err ek_pin_source_dup(struct ek_ctx *ctx, const struct ek_pin_source *src,
                         struct ek_pin_source **copyp);
void ek_pin_source_free(struct ek_pin_source **srcp); /* wipes; NULL-safe */
enum ek_pin_kind ek_pin_source_kind(const struct ek_pin_source *src);
/* 1 when reading the PIN waits for someone to type it: an fd: source that
 * is a terminal. */
int ek_pin_source_typed(const struct ek_pin_source *src);
/* "env:NAME" etc. as given, for messages; "pin-value=" for a PIN. */
const char *ek_pin_source_text(const struct ek_pin_source *src);
/* Reads the PIN: the first line of an env:, file: or fd: source (without
 * "\n" or "\r\n"; an fd: is read no further), a pin-value= as it is.
 * A file must be a regular file of mode 0600 or stricter. buf gets the
 * PIN and a NUL. Errors: EK_ERR_PIN (unset, unreadable, empty, longer
 * than EK_PIN_MAX), naming the source. */
ek_err ek_pin_source_read(struct ek_ctx *ctx, const struct ek_pin_source *src,
                          char *buf, size_t bufsz, size_t *lenp);
/* Takes the source out of reach of a program this process runs: unsets
 * an env: variable, closes an fd: (0-2 become /dev/null). */
void ek_pin_source_scrub(const struct ek_pin_source *src);

/* ------------------------------------------------------------ small utils */

/* Lower- or upper-case hex of n bytes into out (2n+1 bytes). */
void ek_hex_encode(const unsigned char *in, size_t n, char *out, int upper);
/* The value of a hex digit (0-9, a-f, A-F), or -1. The one reader of hex
 * digits: ek_key_id_parse, ek_percent_decode, DN escapes (\XX). */
int ek_hex_digit(int c);

/* Writes data to path atomically: a temporary file in the same directory,
 * fsync, then rename (or link, without EK_WRITE_FORCE, so that an existing
 * file is never replaced: EK_ERR_EXISTS). On failure nothing is left.
 * Errors: EK_ERR_IO naming the path and errno, EK_ERR_EXISTS. */
ek_err ek_file_write_atomic(struct ek_ctx *ctx, const char *path,
                            const void *data, size_t len, mode_t mode,
                            unsigned flags);
/* Reads a whole file of at most max bytes into a malloc'd buffer (one NUL
 * added after the data, not counted). Errors: EK_ERR_IO (missing, too big,
 * unreadable), naming the path. */
/* Opens path read-only, never blocking in open() (a FIFO), and only when
 * it is a regular file: the descriptor (blocking again), -1 with errno,
 * or -2 when it is something else (*st says what). */
int ek_open_regular(const char *path, struct stat *st);
/* "a FIFO", "a directory" … for messages. */
const char *ek_file_type(mode_t mode);
ek_err ek_file_read(struct ek_ctx *ctx, const char *path, size_t max,
                    unsigned char **datap, size_t *lenp);

/* 1 when s (NUL-terminated) is valid UTF-8 (no overlong forms, no
 * surrogates); the length of the character at s, 0 if it is not one. */
int ek_utf8_valid(const char *s);
size_t ek_utf8_char_len(const char *s);
/* Copies s to out (cut to outsz) with what a terminal would act on made
 * visible: C0 controls and DEL as \xHH, C1 controls (U+0080-U+009F) as
 * \u00HH, bytes that are not UTF-8 as \xHH. Token labels and other
 * strings from outside reach messages only through this. */
void ek_escape_ctrl(const char *s, char *out, size_t outsz);

/* malloc/calloc/strdup that set an EK_ERR_INTERNAL message on failure. */
void *ek_calloc(struct ek_ctx *ctx, size_t n, size_t size);
char *ek_strdup(struct ek_ctx *ctx, const char *s);
/* For the analyzer (see ek_seterr above): ek_calloc's memory is zeroed. */
#if defined(__clang_analyzer__) && !defined(EK_CTX_C)
#include <stdlib.h>
#define ek_calloc(ctx, n, size) ((void)(ctx), calloc((n), (size)))
#endif

/* ---------------------------------------------- between the library's parts */

/* Implemented by pkcs11/: */

/* The context a key belongs to. */
struct ek_ctx *tok_key_ctx(const struct ek_key *k);
/* 1 when k's next signature needs no one: no PIN prompt, no pinpad, no
 * PIN typed on a terminal fd (a touch policy a module does not show is
 * not known). A request may then be under way while the token signs. */
int tok_key_sign_unattended(const struct ek_key *k);
/* 1 when ek_key_generate made k in this run (pkcs11/tok_key.c). */
int tok_key_made_here(const struct ek_key *k);
/* What a layer above keeps on a key (assertion.c: the parsed certificate),
 * or NULL. free_fn(cache) runs when the key is freed or the cache is
 * replaced: the token layer calls nothing above it. */
void *tok_key_cache(const struct ek_key *k);
void tok_key_set_cache(struct ek_key *k, void *cache,
                       void (*free_fn)(void *cache));
/* Stores a certificate object with the key's CKA_ID and CKA_LABEL. An
 * existing certificate with that id is EK_ERR_EXISTS unless force (then it
 * is replaced: the new one is created before the old one is destroyed).
 * subject_der/issuer_der/serial_der: DER of the certificate's fields. */
ek_err tok_key_store_cert(struct ek_key *k, const unsigned char *der,
                          size_t len, const unsigned char *subject_der,
                          size_t subject_len, int force);

#endif /* EK_INTERNAL_H */
