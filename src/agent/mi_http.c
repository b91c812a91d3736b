/* mi_http.c: the managed-identity endpoint's HTTP/1.1 request-head reader
 * (see mi_http.h): strict, limited, incremental, without I/O. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <entrakey.h>

#include "mi_http.h"

/* The fields that may appear once only: the secrets (two values would let
 * a proxy and a client disagree on which one counts), the proxy marker and
 * what frames the request. */
static const char *const single[] = {
    "X-IDENTITY-HEADER", "secret",     "X-Forwarded-For",   "Host",
    "Content-Length",    "Connection", "Transfer-Encoding",
};

void
mi_http_req_init(struct mi_http_req *r)
{
    /* the store is written before it is read: not cleared per request */
    memset(r, 0, offsetof(struct mi_http_req, store));
}

static enum mi_http_rc refuse(struct mi_http_req *r, unsigned status,
                              const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum mi_http_rc
refuse(struct mi_http_req *r, unsigned status, const char *fmt, ...)
{
    va_list ap;

    r->status = status;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
    return MI_HTTP_ERROR;
}

/* RFC 9110's tchar */
static int
is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Copies s[0..n) into the store, NUL-terminated; NULL when full. */
static char *
store_put(struct mi_http_req *r, const char *s, size_t n)
{
    char *d;

    if (n + 1 > sizeof r->store - r->used)
        return NULL;
    d = r->store + r->used;
    memcpy(d, s, n);
    d[n] = '\0';
    r->used += n + 1;
    return d;
}

/* Percent-decodes s[0..n) into the store ('+' a space when plus); NULL
 * with *bad set when an escape is not %XX or decodes to NUL. */
static char *
store_decoded(struct mi_http_req *r, const char *s, size_t n, int plus,
              int *bad)
{
    char *d;
    size_t len;

    *bad = 0;
    /* what is left must hold s undecoded: a request line too long is 414
     * whatever its escapes */
    if (n + 1 > sizeof r->store - r->used)
        return NULL;
    d = r->store + r->used;
    len = sizeof r->store - r->used;
    if (ek_percent_decode(NULL, s, n,
                          EK_PERCENT_NO_NUL | (plus ? EK_PERCENT_PLUS : 0), d,
                          &len) != EK_OK) {
        *bad = 1;
        return NULL;
    }
    r->used += len + 1;
    return d;
}

static enum mi_http_rc
query(struct mi_http_req *r, const char *q, size_t n)
{
    const char *end = q + n, *amp, *eq;
    struct mi_http_kv *kv;
    int bad;

    while (q < end) {
        amp = memchr(q, '&', (size_t)(end - q));
        if (amp == NULL)
            amp = end;
        if (amp == q) {
            q++;
            continue;
        }
        if (r->narg == MI_HTTP_ARGS_MAX)
            return refuse(r, 414, "more than %d query parameters",
                          MI_HTTP_ARGS_MAX);
        kv = &r->arg[r->narg];
        eq = memchr(q, '=', (size_t)(amp - q));
        kv->name =
            store_decoded(r, q, (size_t)((eq != NULL ? eq : amp) - q), 1, &bad);
        if (kv->name != NULL)
            kv->value =
                eq != NULL
                    ? store_decoded(r, eq + 1, (size_t)(amp - eq - 1), 1, &bad)
                    : store_put(r, "", 0);
        if (kv->name == NULL || kv->value == NULL)
            return bad ? refuse(r, 400,
                                "the query has a '%%' that is not followed "
                                "by two hex digits, or encodes a NUL")
                       : refuse(r, 414, "the request line is too long");
        r->narg++;
        q = amp + 1;
    }
    return MI_HTTP_MORE;
}

/* METHOD SP origin-form SP HTTP/1.x, exactly. */
static enum mi_http_rc
request_line(struct mi_http_req *r, const char *s, size_t n)
{
    const char *sp1, *sp2, *t, *qm, *v;
    size_t i, tn;
    int bad;

    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return refuse(r, 400,
                          "the request line holds a control or non-ASCII "
                          "byte (0x%02x)",
                          (unsigned)(unsigned char)s[i]);
    if ((sp1 = memchr(s, ' ', n)) == NULL ||
        (sp2 = memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - s))) == NULL ||
        memchr(sp2 + 1, ' ', n - (size_t)(sp2 + 1 - s)) != NULL)
        return refuse(r, 400,
                      "malformed request line: expected METHOD /path "
                      "HTTP/1.1");
    if (sp1 == s || (size_t)(sp1 - s) >= MI_HTTP_METHOD_MAX)
        return refuse(r, 400,
                      "malformed request line: no method or a "
                      "method too long");
    for (t = s; t < sp1; t++)
        if (!is_tchar((unsigned char)*t))
            return refuse(r, 400,
                          "malformed request line: a method is a "
                          "token");
    memcpy(r->method, s, (size_t)(sp1 - s));
    r->method[sp1 - s] = '\0';
    v = sp2 + 1;
    if (n - (size_t)(v - s) != 8 || strncmp(v, "HTTP/", 5) != 0 || v[5] < '0' ||
        v[5] > '9' || v[6] != '.' || v[7] < '0' || v[7] > '9')
        return refuse(r, 400,
                      "malformed request line: the version is not "
                      "HTTP/1.1 or HTTP/1.0");
    if (v[5] != '1' || v[7] > '1')
        return refuse(r, 505, "HTTP/%c.%c is not supported: use HTTP/1.1", v[5],
                      v[7]);
    r->minor = v[7] - '0';
    t = sp1 + 1;
    tn = (size_t)(sp2 - t);
    if (tn == 0 || t[0] != '/' || memchr(t, '#', tn) != NULL)
        return refuse(r, 400, "the request target is not a path (/...)");
    qm = memchr(t, '?', tn);
    r->path =
        store_decoded(r, t, (size_t)((qm != NULL ? qm : t + tn) - t), 0, &bad);
    if (r->path == NULL)
        return bad ? refuse(r, 400,
                            "the path has a '%%' that is not followed by "
                            "two hex digits, or encodes a NUL")
                   : refuse(r, 414, "the request line is too long");
    if (qm != NULL)
        return query(r, qm + 1, (size_t)(t + tn - qm - 1));
    return MI_HTTP_MORE;
}

static enum mi_http_rc
field_line(struct mi_http_req *r, const char *s, size_t n)
{
    const char *colon, *v, *e;
    struct mi_http_kv *kv;
    size_t i;

    if (s[0] == ' ' || s[0] == '\t')
        return refuse(r, 400,
                      "a header line starts with a space (obs-fold "
                      "is not accepted)");
    if ((colon = memchr(s, ':', n)) == NULL)
        return refuse(r, 400, "a header line without ':'");
    if (colon == s)
        return refuse(r, 400, "a header line without a name");
    if (colon[-1] == ' ' || colon[-1] == '\t')
        return refuse(r, 400, "a space before ':' in a header line");
    for (v = s; v < colon; v++)
        if (!is_tchar((unsigned char)*v))
            return refuse(r, 400,
                          "a header name holds a byte (0x%02x) that "
                          "is not a token character",
                          (unsigned)(unsigned char)*v);
    for (v = colon + 1; v < s + n; v++)
        if (((unsigned char)*v < 0x20 && *v != '\t') ||
            (unsigned char)*v == 0x7f)
            return refuse(r, 400,
                          "the value of %.*s holds a control byte (0x%02x)",
                          (int)(colon - s < 64 ? colon - s : 64), s,
                          (unsigned)(unsigned char)*v);
    if (r->nfield == MI_HTTP_FIELDS_MAX)
        return refuse(r, 431, "more than %d header fields", MI_HTTP_FIELDS_MAX);
    for (i = 0; i < sizeof single / sizeof single[0]; i++)
        if ((size_t)(colon - s) == strlen(single[i]) &&
            strncasecmp(s, single[i], (size_t)(colon - s)) == 0 &&
            mi_http_field(r, single[i]) != NULL)
            return refuse(r, 400, "the %s header appears more than once",
                          single[i]);
    v = colon + 1;
    e = s + n;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    kv = &r->field[r->nfield];
    if ((kv->name = store_put(r, s, (size_t)(colon - s))) == NULL ||
        (kv->value = store_put(r, v, (size_t)(e - v))) == NULL)
        return refuse(r, 431, "the request head is too large");
    r->nfield++;
    return MI_HTTP_MORE;
}

/* The checks on the whole head. */
static enum mi_http_rc
head_done(struct mi_http_req *r)
{
    const char *cl = mi_http_field(r, "Content-Length");
    const char *conn = mi_http_field(r, "Connection"), *t, *e;
    size_t n;

    if (r->minor == 1 && mi_http_field(r, "Host") == NULL)
        return refuse(r, 400, "an HTTP/1.1 request without Host");
    if (cl != NULL) {
        if (cl[0] == '\0' || strspn(cl, "0123456789") != strlen(cl))
            return refuse(r, 400, "Content-Length is not a number");
        if (strspn(cl, "0") != strlen(cl))
            r->has_body = 1;
    }
    if (mi_http_field(r, "Transfer-Encoding") != NULL)
        r->has_body = 1;
    r->keep_alive = r->minor == 1;
    for (t = conn; t != NULL && *t != '\0'; t = *e == ',' ? e + 1 : e) {
        t += strspn(t, " \t");
        e = t + strcspn(t, ",");
        n = (size_t)(e - t);
        while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
            n--;
        if (n == 5 && strncasecmp(t, "close", 5) == 0)
            r->keep_alive = 0;
    }
    return MI_HTTP_DONE;
}

enum mi_http_rc
mi_http_parse(struct mi_http_req *r, const char *buf, size_t len)
{
    const char *lf;
    size_t raw, from;
    enum mi_http_rc rc;

    for (;;) {
        from = r->pos + r->scan;
        lf = from < len ? memchr(buf + from, '\n', len - from) : NULL;
        if (lf == NULL) {
            r->scan = len > r->pos ? len - r->pos : 0;
            /* the limits hold before the line ends: nobody sends 16 KiB
             * for nothing */
            if (!r->in_head && len - r->pos > MI_HTTP_LINE_MAX + 1)
                return refuse(r, 414,
                              "the request line is longer than %d "
                              "bytes",
                              MI_HTTP_LINE_MAX);
            if (len > MI_HTTP_HEAD_MAX)
                return refuse(r, 431,
                              "the request head is larger than %d "
                              "bytes",
                              MI_HTTP_HEAD_MAX);
            return MI_HTTP_MORE;
        }
        raw = (size_t)(lf - (buf + r->pos));
        if (!r->in_head && raw > MI_HTTP_LINE_MAX + 1)
            return refuse(r, 414, "the request line is longer than %d bytes",
                          MI_HTTP_LINE_MAX);
        if ((size_t)(lf - buf) + 1 > MI_HTTP_HEAD_MAX)
            return refuse(r, 431, "the request head is larger than %d bytes",
                          MI_HTTP_HEAD_MAX);
        if (raw == 0 || lf[-1] != '\r')
            return refuse(r, 400,
                          "a line ends with a bare LF: lines end "
                          "with CR LF");
        if (!r->in_head) {
            if (raw == 1)
                return refuse(r, 400,
                              "an empty line before the request "
                              "line");
            rc = request_line(r, buf + r->pos, raw - 1);
            r->in_head = 1;
        } else if (raw == 1) {
            r->pos = (size_t)(lf - buf) + 1;
            r->scan = 0;
            r->head_len = r->pos;
            return head_done(r);
        } else {
            rc = field_line(r, buf + r->pos, raw - 1);
        }
        if (rc == MI_HTTP_ERROR)
            return rc;
        r->pos = (size_t)(lf - buf) + 1;
        r->scan = 0;
    }
}

const char *
mi_http_field(const struct mi_http_req *r, const char *name)
{
    size_t i;

    for (i = 0; i < r->nfield; i++)
        if (strcasecmp(r->field[i].name, name) == 0)
            return r->field[i].value;
    return NULL;
}

const char *
mi_http_arg(const struct mi_http_req *r, const char *name)
{
    size_t i;

    for (i = 0; i < r->narg; i++)
        if (strcasecmp(r->arg[i].name, name) == 0)
            return r->arg[i].value;
    return NULL;
}

const char *
mi_http_reason(unsigned status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 414:
        return "URI Too Long";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Error";
    }
}
