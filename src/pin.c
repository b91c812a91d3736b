/* pin.c: PIN sources: the one parser of "env:NAME", "file:PATH", "fd:N"
 * (and a URI's pin-source= / pin-value=), reading the first line of a
 * source, and taking a source out of reach of a child process. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

struct ek_pin_source {
    enum ek_pin_kind kind;
    unsigned flags;         /* EK_PINSRC_* it was parsed with */
    int fd;                 /* EK_PIN_FD */
    struct ek_secret *spec; /* the source as given; for EK_PIN_VALUE the
                               PIN itself, so it is wiped when freed */
    size_t arg;             /* offset in spec of the name, path or PIN */
};

static const char *
what(unsigned flags)
{
    if (flags & EK_PINSRC_URI)
        return "the pin-source= of the URI";
    if (flags & EK_PINSRC_SO)
        return "the SO PIN source";
    return "the PIN source";
}

static ek_err
bad(struct ek_ctx *ctx, unsigned flags, const char *text, const char *why)
{
    /* the text itself is never repeated: it could be a PIN */
    (void)text;
    return ek_seterr(ctx, EK_ERR_USAGE,
                     "%s is not understood: %s; use "
                     "env:NAME (an environment variable), file:PATH (a file "
                     "readable only by you) or fd:N (an open file "
                     "descriptor)",
                     what(flags), why);
}

static ek_err
new_source(struct ek_ctx *ctx, enum ek_pin_kind kind, unsigned flags,
           const char *text, size_t arg, struct ek_pin_source **srcp)
{
    struct ek_pin_source *s;
    ek_err r;

    if ((s = ek_calloc(ctx, 1, sizeof *s)) == NULL)
        return EK_ERR_INTERNAL;
    s->kind = kind;
    s->flags = flags;
    s->fd = -1;
    s->arg = arg;
    if ((r = ek_secret_new(ctx, strlen(text), &s->spec)) != EK_OK ||
        (r = ek_secret_append_str(ctx, s->spec, text)) != EK_OK) {
        ek_pin_source_free(&s);
        return r;
    }
    *srcp = s;
    return EK_OK;
}

ek_err
ek_pin_source_parse(struct ek_ctx *ctx, const char *text, unsigned flags,
                    struct ek_pin_source **srcp)
{
    static const char name_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "abcdefghijklmnopqrstuvwxyz"
                                     "0123456789_";
    struct ek_pin_source *s = NULL;
    const char *rest;
    char *end = NULL;
    long fd;
    ek_err r;

    *srcp = NULL;
    if (text == NULL || text[0] == '\0')
        return bad(ctx, flags, "", "it is empty");
    if (strncmp(text, "env:", 4) == 0) {
        rest = text + 4;
        if (rest[0] == '\0' || rest[0] == '=' ||
            strspn(rest, name_chars) != strlen(rest) ||
            (rest[0] >= '0' && rest[0] <= '9'))
            return bad(ctx, flags, text,
                       "an environment variable's name is "
                       "letters, digits and '_'");
        return new_source(ctx, EK_PIN_ENV, flags, text, 4, srcp);
    }
    if (strncmp(text, "fd:", 3) == 0) {
        errno = 0;
        fd = strtol(text + 3, &end, 10);
        if (text[3] < '0' || text[3] > '9' || *end != '\0' || errno != 0 ||
            fd < 0 || fd > 65535)
            return bad(ctx, flags, text, "fd:N takes a descriptor number");
        if ((r = new_source(ctx, EK_PIN_FD, flags, text, 3, &s)) != EK_OK)
            return r;
        s->fd = (int)fd;
        *srcp = s;
        return EK_OK;
    }
    if (strncmp(text, "file://", 7) == 0) {
        /* RFC 8089: file:///PATH (no host) is a local path; file://HOST/
         * names another machine, which no PIN should be read from */
        if (text[7] != '/')
            return bad(ctx, flags, text,
                       "file://HOST/PATH names a host; a "
                       "local file is file:/PATH or file:///PATH");
        return new_source(ctx, EK_PIN_FILE, flags, text, 7, srcp);
    }
    if (strncmp(text, "file:", 5) == 0) {
        if (text[5] == '\0')
            return bad(ctx, flags, text, "file: needs a path");
        return new_source(ctx, EK_PIN_FILE, flags, text, 5, srcp);
    }
    /* RFC 7512 lets a URI's pin-source= be a bare file name (as p11-kit
     * and OpenSC read it); "|command" is never run */
    if ((flags & EK_PINSRC_URI) && text[0] != '|' && strchr(text, ':') == NULL)
        return new_source(ctx, EK_PIN_FILE, flags, text, 0, srcp);
    return bad(ctx, flags, text,
               text[0] == '|' ? "entrakey never runs a "
                                "command for a PIN"
                              : "it has no known prefix");
}

ek_err
ek_pin_source_value(struct ek_ctx *ctx, const char *pin,
                    struct ek_pin_source **srcp)
{
    *srcp = NULL;
    return new_source(ctx, EK_PIN_VALUE, EK_PINSRC_URI, pin, 0, srcp);
}

ek_err
ek_pin_source_dup(struct ek_ctx *ctx, const struct ek_pin_source *src,
                  struct ek_pin_source **copyp)
{
    struct ek_pin_source *s = NULL;
    ek_err r;

    *copyp = NULL;
    if (src == NULL)
        return EK_OK;
    if ((r = new_source(ctx, src->kind, src->flags, ek_secret_data(src->spec),
                        src->arg, &s)) != EK_OK)
        return r;
    s->fd = src->fd;
    *copyp = s;
    return EK_OK;
}

void
ek_pin_source_free(struct ek_pin_source **srcp)
{
    if (srcp == NULL || *srcp == NULL)
        return;
    ek_secret_free(&(*srcp)->spec);
    free(*srcp);
    *srcp = NULL;
}

enum ek_pin_kind
ek_pin_source_kind(const struct ek_pin_source *src)
{
    return src != NULL ? src->kind : EK_PIN_NONE;
}

int
ek_pin_source_typed(const struct ek_pin_source *src)
{
    return src != NULL && src->kind == EK_PIN_FD && isatty(src->fd);
}

const char *
ek_pin_source_text(const struct ek_pin_source *src)
{
    if (src == NULL)
        return "";
    if (src->kind == EK_PIN_VALUE)
        return "pin-value="; /* the PIN itself: never shown */
    return ek_secret_data(src->spec);
}

/* Keeps the first line: up to "\n" or "\r\n" (or "\r" at the end). */
static size_t
first_line(char *buf, size_t n)
{
    size_t i;

    for (i = 0; i < n && buf[i] != '\n'; i++)
        ;
    if (i > 0 && buf[i - 1] == '\r')
        i--;
    ek_wipe(buf + i, n - i);
    buf[i] = '\0';
    return i;
}

/* Reads from fd until a newline, EOF or max bytes; one byte at a time for
 * a descriptor so that nothing after the PIN is consumed, in blocks for a
 * file. *nlp: a newline was seen. */
static ek_err
read_line(int fd, int bytewise, char *buf, size_t max, size_t *np)
{
    size_t n = 0;
    ssize_t got;

    while (n < max) {
        got = read(fd, buf + n, bytewise ? 1 : max - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return EK_ERR_IO;
        if (got == 0)
            break;
        if (memchr(buf + n, '\n', (size_t)got) != NULL) {
            n += (size_t)got;
            break;
        }
        n += (size_t)got;
    }
    *np = n;
    return EK_OK;
}

static ek_err
read_file(struct ek_ctx *ctx, const struct ek_pin_source *src, char *tmp,
          size_t max, size_t *np)
{
    const char *path = ek_secret_data(src->spec) + src->arg;
    struct stat st;
    int fd = -1, e;
    ek_err r = EK_ERR_PIN;

    /* without blocking: a FIFO must not hang the command in open() */
    if ((fd = ek_open_regular(path, &st)) == -2) {
        r = ek_seterr(ctx, EK_ERR_PIN,
                      "the PIN file '%s' is not a regular "
                      "file (%s); check %s",
                      path, ek_file_type(st.st_mode), what(src->flags));
        goto out;
    }
    if (fd < 0) {
        r = ek_seterr(ctx, EK_ERR_PIN,
                      "cannot open the PIN file '%s': %s; "
                      "check %s",
                      path, strerror(errno), what(src->flags));
        goto out;
    }
    if (st.st_mode & 077) {
        r = ek_seterr(ctx, EK_ERR_PIN,
                      "the PIN file '%s' can be read or "
                      "changed by group or others (mode %04o); it was not "
                      "read. Run chmod 600 '%s'",
                      path, (unsigned)(st.st_mode & 07777), path);
        goto out;
    }
    if (read_line(fd, 0, tmp, max, np) != EK_OK) {
        e = errno;
        r = ek_seterr(ctx, EK_ERR_PIN, "cannot read the PIN file '%s': %s",
                      path, strerror(e));
        goto out;
    }
    r = EK_OK;
out:
    if (fd >= 0)
        close(fd);
    return r;
}

ek_err
ek_pin_source_read(struct ek_ctx *ctx, const struct ek_pin_source *src,
                   char *buf, size_t bufsz, size_t *lenp)
{
    /* room for a PIN of EK_PIN_MAX bytes, "\r\n", and one byte more to
     * tell a longer first line */
    char tmp[EK_PIN_MAX + 4];
    const char *v, *arg;
    size_t n = 0, max = sizeof tmp - 1;
    ek_err r = EK_ERR_PIN;

    *lenp = 0;
    if (bufsz > 0)
        buf[0] = '\0';
    if (src == NULL || bufsz == 0)
        return EK_ERR_USAGE;
    arg = ek_secret_data(src->spec) + src->arg;
    switch (src->kind) {
    case EK_PIN_ENV:
        if ((v = getenv(arg)) == NULL) {
            r = ek_seterr(ctx, EK_ERR_PIN,
                          "%s '%s' names an environment "
                          "variable that is not set; export %s or give "
                          "another PIN source",
                          what(src->flags), ek_pin_source_text(src), arg);
            goto out;
        }
        n = strlen(v);
        if (n > max)
            n = max;
        memcpy(tmp, v, n);
        break;
    case EK_PIN_FILE:
        if ((r = read_file(ctx, src, tmp, max, &n)) != EK_OK)
            goto out;
        break;
    case EK_PIN_FD:
        if (read_line(src->fd, 1, tmp, max, &n) != EK_OK) {
            r = ek_seterr(ctx, EK_ERR_PIN,
                          "cannot read the PIN from file "
                          "descriptor %d: %s; check %s",
                          src->fd, strerror(errno), what(src->flags));
            goto out;
        }
        break;
    case EK_PIN_VALUE:
        /* the PIN itself: taken as it is */
        n = strlen(arg);
        if (n > max)
            n = max;
        memcpy(tmp, arg, n);
        tmp[n] = '\0';
        break;
    default:
        r = EK_ERR_USAGE;
        goto out;
    }
    if (src->kind != EK_PIN_VALUE)
        n = first_line(tmp, n); /* the first line only, for every source */
    tmp[n] = '\0';
    if (n > EK_PIN_MAX || n + 1 > bufsz) {
        r = ek_seterr(ctx, EK_ERR_PIN,
                      "the PIN from %s '%s' is longer than "
                      "%d bytes (more than %d bytes in its first line); is "
                      "it the right source?",
                      what(src->flags), ek_pin_source_text(src), EK_PIN_MAX,
                      EK_PIN_MAX);
        goto out;
    }
    if (n == 0) {
        r = ek_seterr(ctx, EK_ERR_PIN,
                      "the PIN from %s '%s' is empty%s; "
                      "nothing was tried",
                      what(src->flags), ek_pin_source_text(src),
                      src->kind == EK_PIN_VALUE ? "" : " (its first line)");
        goto out;
    }
    memcpy(buf, tmp, n + 1);
    *lenp = n;
    r = EK_OK;
out:
    ek_wipe(tmp, sizeof tmp);
    return r;
}

void
ek_pin_source_scrub(const struct ek_pin_source *src)
{
    int null;

    if (src == NULL)
        return;
    switch (src->kind) {
    case EK_PIN_ENV:
        unsetenv(ek_secret_data(src->spec) + src->arg);
        break;
    case EK_PIN_FD:
        /* 0-2 become /dev/null: a child must not find its stdin closed,
         * nor read (or lseek back to) the PIN there */
        if (src->fd <= 2 &&
            (null = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
            dup2(null, src->fd);
            if (null != src->fd)
                close(null);
        } else {
            close(src->fd);
        }
        break;
    default:
        /* a file stays: it is the owner's, mode 0600; a pin-value= lives
         * only in this process */
        break;
    }
}
