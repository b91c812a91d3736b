/* text.h: text that came from outside (a server, a token, a user's
 * argument), made safe to quote in an error sentence or a log line. */
#ifndef EK_TEXT_H
#define EK_TEXT_H

#include <stddef.h>

/* Shortest run of base64url characters quoted as it is: longer runs look
 * like a token or a signature, not like a name, a GUID (36) or a SHA-256
 * thumbprint in base64url (43). */
#define TEXT_TOKEN_RUN 64

/* Copies in (NUL-terminated) to out (outsz bytes, always NUL-terminated)
 * so that it can be quoted in one line on a terminal: control characters
 * (C0, DEL, C1), bytes that are not UTF-8, and the Unicode characters that
 * reorder or break a line are written as \xNN or \uNNNN; printable ASCII
 * and other UTF-8 stay. Text that looks like a token is replaced, on
 * purpose and whatever its length: a JWT ("eyJ" and two dots) by
 * "[JWT redacted, N characters]", and any other run of TEXT_TOKEN_RUN or
 * more base64/base64url characters by "[N characters redacted]". A cut
 * copy ends in "...". Returns out. */
char *text_quote(char *out, size_t outsz, const char *in);

/* Copies in to out (outsz >= 65) when it looks like an identifier a
 * server sends (a GUID, a request id): 1 to 64 letters, digits and '-'.
 * Returns 1 when copied, 0 (out untouched) otherwise: anything else is
 * not kept (an audit trail holds identifiers, not server text). */
int text_id_copy(char *out, size_t outsz, const char *in);

#endif /* EK_TEXT_H */
