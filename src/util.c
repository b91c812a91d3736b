/* util.c: hex, and files written atomically and read with a size cap. */
#define _GNU_SOURCE /* renameat2 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

void
ek_hex_encode(const unsigned char *in, size_t n, char *out, int upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
    out[2 * n] = '\0';
}

int
ek_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The value is not repeated in a sentence: it may be a URI's pin-value=
 * or a query's secret. */
ek_err
ek_percent_decode(struct ek_ctx *ctx, const char *in, size_t n, unsigned flags,
                  char *out, size_t *lenp)
{
    size_t i, o = 0;
    int hi, lo;
    char c;

    if ((in == NULL && n > 0) || out == NULL || lenp == NULL || *lenp == 0)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "ek_percent_decode: no input or no buffer");
    for (i = 0; i < n; i++) {
        if (o + 1 >= *lenp)
            return ek_seterr(ctx, EK_ERR_USAGE,
                             "the decoded value is longer than %zu bytes",
                             *lenp - 1);
        c = in[i];
        if (c == '%') {
            hi = i + 2 < n ? ek_hex_digit((unsigned char)in[i + 1]) : -1;
            lo = i + 2 < n ? ek_hex_digit((unsigned char)in[i + 2]) : -1;
            if (hi >= 0 && lo >= 0) {
                if (hi == 0 && lo == 0 && (flags & EK_PERCENT_NO_NUL) != 0)
                    return ek_seterr(ctx, EK_ERR_USAGE,
                                     "character %zu of the value is %%00, "
                                     "a NUL byte",
                                     i + 1);
                out[o++] = (char)(hi << 4 | lo);
                i += 2;
                continue;
            }
            if ((flags & EK_PERCENT_KEEP_INVALID) == 0)
                return ek_seterr(ctx, EK_ERR_USAGE,
                                 "character %zu of the value is a '%%' not "
                                 "followed by two hex digits (write '%%' as "
                                 "%%25)",
                                 i + 1);
        } else if (c == '+' && (flags & EK_PERCENT_PLUS) != 0) {
            c = ' ';
        }
        out[o++] = c;
    }
    out[o] = '\0';
    *lenp = o;
    return EK_OK;
}

/* The id is not repeated in a sentence: it is what someone typed, and
 * the position says where it went wrong. */
ek_err
ek_key_id_parse(struct ek_ctx *ctx, const char *s, unsigned char *out,
                size_t *lenp)
{
    const char *p;
    size_t n = 0, max;
    int hi, lo;

    if (s == NULL || out == NULL || lenp == NULL)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "ek_key_id_parse: no id or no buffer");
    max = *lenp;
    p = s;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        p += 2;
    while (*p != '\0') {
        if (n > 0 && p[0] == ':' && p[1] != '\0')
            p++; /* one ':' between bytes, as pkcs11-tool prints ids */
        if ((hi = ek_hex_digit((unsigned char)p[0])) < 0)
            return ek_seterr(ctx, EK_ERR_USAGE,
                             "the key id is not hex: character %zu is not "
                             "0-9 or a-f%s",
                             (size_t)(p - s) + 1,
                             n > 0 ? " (or one ':' between bytes)" : "");
        if ((lo = ek_hex_digit((unsigned char)p[1])) < 0)
            return p[1] == '\0'
                       ? ek_seterr(ctx, EK_ERR_USAGE,
                                   "the key id has an odd number of hex "
                                   "digits: a byte is two (01, not 1)")
                       : ek_seterr(ctx, EK_ERR_USAGE,
                                   "the key id is not hex: character %zu "
                                   "is not 0-9 or a-f",
                                   (size_t)(p - s) + 2);
        if (n == max)
            return ek_seterr(ctx, EK_ERR_USAGE,
                             "the key id is too long (at most %zu bytes)", max);
        out[n++] = (unsigned char)(hi << 4 | lo);
        p += 2;
    }
    if (n == 0)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "the key id is empty: give at least one byte in "
                         "hex, e.g. 01");
    *lenp = n;
    return EK_OK;
}

/* Moves tmp to path without ever replacing an existing file. */
static int
rename_noreplace(const char *tmp, const char *path)
{
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
    /* file system without RENAME_NOREPLACE: link refuses an existing name */
    if (link(tmp, path) != 0)
        return -1;
    unlink(tmp);
    return 0;
}

ek_err
ek_file_write_atomic(struct ek_ctx *ctx, const char *path, const void *data,
                     size_t len, mode_t mode, unsigned flags)
{
    char tmp[PATH_MAX];
    char dir[PATH_MAX];
    const char *slash;
    const unsigned char *p = data;
    size_t off = 0;
    ssize_t w;
    int fd = -1, dfd = -1, made = 0;
    ek_err r = EK_ERR_IO;

    if (path == NULL || path[0] == '\0')
        return ek_seterr(ctx, EK_ERR_USAGE, "no output file was given");
    if (!(flags & EK_WRITE_FORCE) && access(path, F_OK) == 0)
        return ek_seterr(ctx, EK_ERR_EXISTS,
                         "'%s' exists and was left as "
                         "it is (EK_WRITE_FORCE replaces it)",
                         path);
    slash = strrchr(path, '/');
    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", dir,
                 slash ? slash + 1 : path) >= (int)sizeof tmp) {
        r = ek_seterr(ctx, EK_ERR_IO, "path '%s' is too long", path);
        goto out;
    }
    if ((fd = mkstemp(tmp)) < 0) {
        r = ek_seterr(ctx, EK_ERR_IO,
                      "cannot write '%s': cannot create a "
                      "file in '%s': %s; check that the directory exists "
                      "and is writable",
                      path, dir, strerror(errno));
        goto out;
    }
    made = 1;
    if (fchmod(fd, mode) != 0) {
        r = ek_seterr(ctx, EK_ERR_IO, "cannot write '%s': chmod: %s", path,
                      strerror(errno));
        goto out;
    }
    while (off < len) {
        w = write(fd, p + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            r = ek_seterr(ctx, EK_ERR_IO,
                          "cannot write '%s': %s; nothing "
                          "was left behind",
                          path, w < 0 ? strerror(errno) : "short write");
            goto out;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        fd = -1;
        r = ek_seterr(ctx, EK_ERR_IO,
                      "cannot write '%s': %s; nothing was "
                      "left behind",
                      path, strerror(errno));
        goto out;
    }
    fd = -1;
    if (flags & EK_WRITE_FORCE) {
        if (rename(tmp, path) != 0) {
            r = ek_seterr(ctx, EK_ERR_IO, "cannot write '%s': rename: %s", path,
                          strerror(errno));
            goto out;
        }
    } else if (rename_noreplace(tmp, path) != 0) {
        if (errno == EEXIST)
            r = ek_seterr(ctx, EK_ERR_EXISTS,
                          "'%s' exists and was left as "
                          "it is (EK_WRITE_FORCE replaces it)",
                          path);
        else
            r = ek_seterr(ctx, EK_ERR_IO, "cannot write '%s': %s", path,
                          strerror(errno));
        goto out;
    }
    made = 0;
    if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    r = EK_OK;
out:
    if (fd >= 0)
        close(fd);
    if (made)
        unlink(tmp);
    return r;
}

int
ek_open_regular(const char *path, struct stat *st)
{
    int fd, flags;

    /* O_NONBLOCK: open() of a FIFO would otherwise wait for a writer, and
     * an unattended job would hang where no input can come */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -1;
    if (fstat(fd, st) != 0) {
        close(fd);
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        close(fd);
        return -2;
    }
    if ((flags = fcntl(fd, F_GETFL)) < 0 ||
        fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Doubles *bufp's *capp bytes, up to limit; the old copy is wiped (a PIN
 * file is read with ek_file_read too). */
static ek_err
grow(struct ek_ctx *ctx, unsigned char **bufp, size_t *capp, size_t limit)
{
    size_t cap = *capp > limit / 2 ? limit : *capp * 2;
    unsigned char *buf;

    if ((buf = ek_calloc(ctx, 1, cap)) == NULL)
        return EK_ERR_INTERNAL;
    memcpy(buf, *bufp, *capp);
    ek_wipe(*bufp, *capp);
    free(*bufp);
    *bufp = buf;
    *capp = cap;
    return EK_OK;
}

ek_err
ek_file_read(struct ek_ctx *ctx, const char *path, size_t max,
             unsigned char **datap, size_t *lenp)
{
    unsigned char *buf = NULL;
    struct stat st;
    size_t len = 0, cap = 0;
    ssize_t n;
    int fd = -1;
    ek_err r = EK_ERR_IO;

    *datap = NULL;
    *lenp = 0;
    if ((fd = ek_open_regular(path, &st)) == -2) {
        r = ek_seterr(ctx, EK_ERR_IO,
                      "'%s' is not a regular file (%s); "
                      "give a file",
                      path, ek_file_type(st.st_mode));
        goto out;
    }
    if (fd < 0) {
        r = ek_seterr(ctx, EK_ERR_IO, "cannot open '%s': %s", path,
                      strerror(errno));
        goto out;
    }
    /* room for what fstat says (a page at least: /proc and the like say
     * 0), grown while the file says more, never past max + 1: a few
     * hundred bytes of configuration do not map a megabyte */
    cap = (size_t)st.st_size < max ? (size_t)st.st_size + 1 : max + 1;
    if (cap < 4096)
        cap = max + 1 < 4096 ? max + 1 : 4096;
    if ((buf = ek_calloc(ctx, 1, cap)) == NULL) {
        r = EK_ERR_INTERNAL;
        goto out;
    }
    for (;;) {
        if (len == cap && (r = grow(ctx, &buf, &cap, max + 1)) != EK_OK)
            goto out;
        n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = ek_seterr(ctx, EK_ERR_IO, "cannot read '%s': %s", path,
                          strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > max) {
            r = ek_seterr(ctx, EK_ERR_IO,
                          "'%s' is larger than %zu bytes; "
                          "is it the right file?",
                          path, max);
            goto out;
        }
    }
    buf[len] = '\0';
    *datap = buf;
    *lenp = len;
    buf = NULL;
    r = EK_OK;
out:
    if (buf != NULL) {
        ek_wipe(buf, cap);
        free(buf);
    }
    if (fd >= 0)
        close(fd);
    return r;
}

const char *
ek_file_type(mode_t mode)
{
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISSOCK(mode))
        return "a socket";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    return "not a regular file";
}

int
ek_utf8_valid(const char *s)
{
    size_t n;

    for (; *s != '\0'; s += n)
        if ((n = ek_utf8_char_len(s)) == 0)
            return 0;
    return 1;
}
