/* text.c: text from outside made safe to quote in a sentence (text.h). */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "text.h"

/* The characters of base64 and base64url, and of a JWT's parts. */
static int
b64_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '+' ||
           c == '/' || c == '=';
}

/* How many bytes at s are redacted, and how: 0 when s starts no token.
 * s is at the start of a run (the byte before it is no b64_char or '.'). */
static size_t
token_len(const char *s, int *jwt)
{
    size_t i, seg = 0, longest = 0, jwt_dots = 0, full;
    int in_jwt = 0;

    for (i = 0; b64_char((unsigned char)s[i]) || s[i] == '.'; i++) {
        if (!in_jwt && strncmp(s + i, "eyJ", 3) == 0)
            in_jwt = 1;
        if (s[i] == '.') {
            jwt_dots += in_jwt;
            seg = 0;
        } else if (++seg > longest) {
            longest = seg;
        }
    }
    full = i;
    /* a sentence's final period is not part of a token */
    while (i > 0 && s[i - 1] == '.')
        i--;
    /* a JWT's header is a JSON object, base64url: "eyJ" ('{"') */
    *jwt = jwt_dots >= 2;
    if (*jwt && jwt_dots - (full - i) < 2)
        i = full; /* an unsigned JWT ends in its dot */
    return *jwt || longest >= TEXT_TOKEN_RUN ? i : 0;
}

/* The code point of a UTF-8 character of n bytes (valid, n > 1). */
static unsigned long
code_point(const unsigned char *p, size_t n)
{
    unsigned long cp = p[0] & (0x7f >> n);
    size_t i;

    for (i = 1; i < n; i++)
        cp = (cp << 6) | (p[i] & 0x3f);
    return cp;
}

/* C1 controls, and the characters that reorder text (bidi), break a line,
 * or hide (zero-width, BOM): a terminal or a reader would be misled. */
static int
unsafe_code_point(unsigned long cp)
{
    return (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x200b && cp <= 0x200f) ||
           (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x2069) ||
           cp == 0xfeff;
}

char *
text_quote(char *out, size_t outsz, const char *in)
{
    const unsigned char *p = (const unsigned char *)in;
    char piece[48];
    size_t o = 0, n, k;
    int jwt, prev_run = 0;

    if (outsz == 0)
        return out;
    out[0] = '\0';
    if (in == NULL)
        return out;
    while (*p != '\0') {
        n = 1;
        if (!prev_run && (k = token_len((const char *)p, &jwt)) > 0) {
            if (jwt)
                snprintf(piece, sizeof piece,
                         "[JWT redacted, %zu "
                         "characters]",
                         k);
            else
                snprintf(piece, sizeof piece, "[%zu characters redacted]", k);
            n = k;
        } else if (*p >= 0x20 && *p < 0x7f) {
            piece[0] = (char)*p;
            piece[1] = '\0';
        } else if (*p < 0x80 || (n = ek_utf8_char_len((const char *)p)) == 0) {
            snprintf(piece, sizeof piece, "\\x%02X", *p);
            n = 1;
        } else if (unsafe_code_point(code_point(p, n))) {
            snprintf(piece, sizeof piece, "\\u%04lX", code_point(p, n));
        } else {
            memcpy(piece, p, n);
            piece[n] = '\0';
        }
        /* room for the piece and a final "..." */
        if (o + strlen(piece) + 4 > outsz) {
            if (o + 4 <= outsz) {
                memcpy(out + o, "...", 4);
            } else {
                o = outsz > 4 ? outsz - 4 : 0;
                snprintf(out + o, outsz - o, "...");
            }
            return out;
        }
        memcpy(out + o, piece, strlen(piece) + 1);
        o += strlen(piece);
        prev_run = n == 1 && (b64_char(*p) || *p == '.');
        p += n;
    }
    return out;
}

int
text_id_copy(char *out, size_t outsz, const char *in)
{
    size_t n;

    if (in == NULL)
        return 0;
    n = strspn(in, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                   "0123456789-");
    if (n == 0 || n > 64 || in[n] != '\0' || n + 1 > outsz)
        return 0;
    memcpy(out, in, n + 1);
    return 1;
}
