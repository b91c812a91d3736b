/* mi_http.h: the managed-identity endpoint's own HTTP/1.1 request-head
 * reader: a pure function over the bytes received so far, strict, with
 * hard limits; every refusal comes back as a status and a sentence that
 * the endpoint answers in its JSON shape. No I/O, no allocation. */
#ifndef EK_MI_HTTP_H
#define EK_MI_HTTP_H

#include <stddef.h>

#define MI_HTTP_LINE_MAX 8192 /* request line without CR LF; more: 414 */
#define MI_HTTP_HEAD_MAX                                                       \
    16384                     /* the whole head with CR LF CR LF; more: 431    \
                               */
#define MI_HTTP_FIELDS_MAX 64 /* header fields; more: 431 */
#define MI_HTTP_ARGS_MAX 32   /* query parameters; more: 414 */
#define MI_HTTP_METHOD_MAX 16 /* a longer method: 400 */

enum mi_http_rc {
    MI_HTTP_MORE = 0,  /* no full head yet: give more bytes */
    MI_HTTP_DONE = 1,  /* a full head in buf[0..head_len) */
    MI_HTTP_ERROR = -1 /* refuse with status and why; close afterwards */
};

struct mi_http_kv {
    const char *name;  /* NUL-terminated, in store */
    const char *value; /* NUL-terminated, in store (decoded for args) */
};

/* One request head. Zero it (mi_http_req_init) before the first call for
 * each request; mi_http_parse carries on where it stopped. */
struct mi_http_req {
    /* the result, when MI_HTTP_DONE */
    char method[MI_HTTP_METHOD_MAX];
    const char *path; /* percent-decoded, in store */
    int minor;        /* HTTP/1.<minor>: 0 or 1 */
    int keep_alive;   /* 1.1 without Connection: close */
    int has_body;     /* Transfer-Encoding, or a Content-Length but 0 */
    struct mi_http_kv field[MI_HTTP_FIELDS_MAX];
    size_t nfield;
    struct mi_http_kv arg[MI_HTTP_ARGS_MAX];
    size_t narg;
    size_t head_len; /* bytes of the head, CR LF CR LF included */
    /* the refusal, when MI_HTTP_ERROR */
    unsigned status; /* 400, 414, 431 or 505 */
    char why[160];   /* names no header value */
    /* the state between calls */
    size_t pos;  /* start of the next line to read */
    size_t scan; /* bytes from pos already searched for LF */
    int in_head; /* the request line was read */
    size_t used; /* bytes of store used */
    /* last: mi_http_req_init clears everything before it */
    char store[MI_HTTP_HEAD_MAX + 2 * (MI_HTTP_FIELDS_MAX + MI_HTTP_ARGS_MAX) +
               8];
};

void mi_http_req_init(struct mi_http_req *r);

/* Reads the request head at the start of buf[0..len) (len only grows
 * between calls; buf's first bytes never change). MI_HTTP_DONE: r holds
 * the request, and bytes from head_len on are the next request's.
 * MI_HTTP_MORE: nothing wrong so far. MI_HTTP_ERROR: r->status and
 * r->why. Lines end with CR LF (a bare LF, a NUL or another control byte
 * is refused); no obs-fold, no space before ':'; Host once in 1.1;
 * X-IDENTITY-HEADER, secret, X-Forwarded-For, Host, Content-Length,
 * Transfer-Encoding, Connection at most once; Content-Length digits only;
 * a body is only noted (has_body: the caller refuses it); the path and
 * the query percent-decoded strictly ('+' in the query is a space; %00
 * refused). */
enum mi_http_rc mi_http_parse(struct mi_http_req *r, const char *buf,
                              size_t len);

/* The value of the field name (any case), or NULL. */
const char *mi_http_field(const struct mi_http_req *r, const char *name);
/* The value of the first query parameter name (any case, as the
 * endpoint always matched them), or NULL. */
const char *mi_http_arg(const struct mi_http_req *r, const char *name);
/* The reason phrase for a status this endpoint answers. */
const char *mi_http_reason(unsigned status);

#endif /* EK_MI_HTTP_H */
