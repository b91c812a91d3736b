/* cli_audit.c: the audit trail of `entrakey agent` and of the one-shot
 * commands (--audit, a profile's audit =): one structured event per
 * signature, token, login, removal and refusal, as JSON lines or to
 * journald. Values are names and identifiers only: never a PIN, assertion
 * or token; a key URI's pin-value is replaced. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <sys/uio.h>

#include "cli_audit.h"
#include "dl.h"

/* Fixed MESSAGE_IDs (journalctl MESSAGE_ID=...), one per event. */
static const struct {
    const char *event;
    const char *id;
} message_ids[] = {
    {"assertion", "3f1c6f0e8b6a4a7e9d2b5c1a0e4f7d21"},
    {"token", "7a2d9e4c1b8f4f05a6c3d2e1f0b9a812"},
    {"login", "c4e1a7b2d9f34e6a8b5c0d1e2f3a4b51"},
    {"removal", "9b8a7c6d5e4f4a3b2c1d0e9f8a7b6c52"},
    {"refusal", "e5d4c3b2a1f04e9d8c7b6a5f4e3d2c13"},
    {"lock", "1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6"},
    {"unlock", "6c5b4a3f2e1d40c9b8a7f6e5d4c3b2a1"},
    {"keygen", "2b4d6f8a0c1e43a5b7c9d0e2f4a6b8c0"},
    {"cert", "8c6a4e2d0b9f47e5c3a1b2d4f6e8a0c2"},
    {"assertion_file", "f9650daf8c074db08b37fc452376a4a8"},
};

/* libsystemd's sd_journal_sendv, opened when journal is asked for: a
 * command that does not write to the journal never loads libsystemd (and
 * its libgcrypt, liblzma, libzstd ...), which would cost the agent's
 * client most of its start (docs/performance.md). */
typedef int (*journal_sendv_fn)(const struct iovec *iov, int n);
/* where sd_journal_sendv sends (journald's native socket) */
#define JOURNAL_SOCKET "/run/systemd/journal/socket"

/* The library, opened once for the process and kept (audit trails are
 * opened before any thread starts). */
static void *libsystemd;
static journal_sendv_fn journal_sendv;

static journal_sendv_fn
journal_open(char *msg, size_t msgsz)
{
    void *sym = NULL;
    const struct ek_dl_sym syms[] = {{"sd_journal_sendv", &sym}};
    const char *missing;
    char why[256];

    if (libsystemd != NULL)
        return journal_sendv;
    libsystemd =
        ek_dl_open("libsystemd.so.0", syms, 1, &missing, why, sizeof why);
    if (libsystemd == NULL && missing == NULL) {
        snprintf(msg, msgsz,
                 "audit 'journal': cannot load libsystemd.so.0 (%s); "
                 "install libsystemd0 or use json:PATH",
                 why);
        return NULL;
    }
    if (libsystemd == NULL) { /* the one symbol asked for */
        snprintf(msg, msgsz,
                 "audit 'journal': libsystemd.so.0 has no "
                 "sd_journal_sendv; use json:PATH");
        return NULL;
    }
    /* POSIX: a function pointer converts through memcpy */
    memcpy(&journal_sendv, &sym, sizeof journal_sendv);
    return journal_sendv;
}

struct cli_audit {
    int fd; /* JSON lines, or -1 */
    journal_sendv_fn journal;
    int journal_warned; /* a failed send is said once */
    pthread_mutex_t mu;
};

int
cli_audit_open(struct cli_audit **aup, const char *spec, char *msg,
               size_t msgsz)
{
    struct cli_audit *au;
    const char *path;

    if ((au = calloc(1, sizeof *au)) == NULL) {
        snprintf(msg, msgsz, "out of memory");
        return -1;
    }
    au->fd = -1;
    pthread_mutex_init(&au->mu, NULL);
    if (strcmp(spec, "journal") == 0) {
        if ((au->journal = journal_open(msg, msgsz)) == NULL) {
            pthread_mutex_destroy(&au->mu);
            free(au);
            return -1;
        }
        /* libsystemd drops a message silently when journald is not there:
         * say so once, here */
        if (access(JOURNAL_SOCKET, F_OK) != 0) {
            au->journal_warned = 1;
            fprintf(stderr,
                    "entrakey: warning: no systemd-journald here (%s is "
                    "missing): audit events sent to the journal are lost; "
                    "give --audit json:PATH instead\n",
                    JOURNAL_SOCKET);
        }
    } else if (strncmp(spec, "json:", 5) == 0) {
        path = spec + 5;
        if (strcmp(path, "-") == 0)
            au->fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 0);
        else
            au->fd = open(
                path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
                0600);
        if (au->fd < 0) {
            snprintf(msg, msgsz, "cannot open the audit log '%s': %s", path,
                     strerror(errno));
            free(au);
            return -1;
        }
    } else {
        snprintf(msg, msgsz,
                 "audit '%s' is not json:PATH, json:- or "
                 "journal",
                 spec);
        free(au);
        return -1;
    }
    *aup = au;
    return 0;
}

void
cli_audit_close(struct cli_audit **aup)
{
    struct cli_audit *au = *aup;

    if (au == NULL)
        return;
    if (au->fd >= 0)
        close(au->fd);
    pthread_mutex_destroy(&au->mu);
    free(au);
    *aup = NULL;
}

/* Appends s as a JSON string. */
static void
put_json(char *buf, size_t sz, size_t *n, const char *s)
{
    if (*n + 2 >= sz)
        return;
    buf[(*n)++] = '"';
    for (; *s != '\0' && *n + 8 < sz; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\') {
            buf[(*n)++] = '\\';
            buf[(*n)++] = (char)c;
        } else if (c < 0x20) {
            *n += (size_t)snprintf(buf + *n, sz - *n, "\\u%04x", c);
        } else {
            buf[(*n)++] = (char)c;
        }
    }
    buf[(*n)++] = '"';
    buf[*n] = '\0';
}

static void
put_raw(char *buf, size_t sz, size_t *n, const char *s)
{
    int w = snprintf(buf + *n, sz - *n, "%s", s);

    if (w > 0 && *n + (size_t)w < sz)
        *n += (size_t)w;
}

/* A key URI with the value of every pin-value= (any case) replaced. */
static void
redact_uri(const char *in, char *out, size_t outsz)
{
    static const char attr[] = "pin-value=";
    size_t o = 0;

    while (*in != '\0' && o + 1 < outsz) {
        if (strncasecmp(in, attr, sizeof attr - 1) == 0 &&
            o + sizeof attr + 3 < outsz) {
            memcpy(out + o, in, sizeof attr - 1);
            o += sizeof attr - 1;
            memcpy(out + o, "***", 3);
            o += 3;
            in += sizeof attr - 1;
            in += strcspn(in, ";?&");
            continue;
        }
        out[o++] = *in++;
    }
    out[o] = '\0';
}

int
cli_audit_spec_ok(const char *spec)
{
    return strcmp(spec, "journal") == 0 ||
           (strncmp(spec, "json:", 5) == 0 && spec[5] != '\0');
}

void
cli_audit_jwt_jti(const char *jwt, char *out, size_t outsz)
{
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char *p = strchr(jwt, '.'), *q, *end;
    char buf[2048];
    size_t n = 0;
    unsigned v = 0;
    int bits = 0;

    out[0] = '\0';
    if (p == NULL || (end = strchr(++p, '.')) == NULL)
        return;
    for (q = p; q < end && n + 1 < sizeof buf; q++) {
        const char *c = strchr(b64, *q);

        if (c == NULL || *q == '\0')
            return;
        v = (v << 6) | (unsigned)(c - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[n++] = (char)((v >> bits) & 0xff);
        }
    }
    buf[n] = '\0';
    if ((p = strstr(buf, "\"jti\":\"")) != NULL) {
        p += 7;
        if ((q = strchr(p, '"')) != NULL && (size_t)(q - p) < outsz &&
            strspn(p, "0123456789abcdefABCDEF-") == (size_t)(q - p)) {
            memcpy(out, p, (size_t)(q - p));
            out[q - p] = '\0';
        }
    }
    explicit_bzero(buf, sizeof buf);
}

void
cli_caller_self(struct cli_caller *who)
{
    ssize_t n;

    memset(who, 0, sizeof *who);
    who->pid = getpid();
    who->uid = getuid();
    who->gid = getgid();
    n = readlink("/proc/self/exe", who->exe, sizeof who->exe - 1);
    who->exe[n > 0 ? (size_t)n : 0] = '\0';
}

void
cli_audit_event(struct cli_audit *au, const char *event, const char *result,
                const struct cli_caller *who, ...)
{
    va_list ap;

    va_start(ap, who);
    cli_audit_vevent(au, event, result, who, ap);
    va_end(ap);
}

void
cli_audit_vevent(struct cli_audit *au, const char *event, const char *result,
                 const struct cli_caller *who, va_list ap)
{
    char line[4096], num[64], when[80], key[1024];
    const char *names[16], *values[16];
    size_t n = 0, nf = 0, i;
    struct timespec ts;
    struct tm tm;
    const char *mid = "00000000000000000000000000000000";

    if (au == NULL)
        return;
    while (nf < 16 && (names[nf] = va_arg(ap, const char *)) != NULL) {
        values[nf] = va_arg(ap, const char *);
        if (strcmp(names[nf], "key") == 0 && values[nf] != NULL) {
            redact_uri(values[nf], key, sizeof key);
            values[nf] = key;
        }
        if (values[nf] != NULL && values[nf][0] == '\0')
            values[nf] = NULL; /* an unknown value is left out */
        nf++;
    }
    for (i = 0; i < sizeof message_ids / sizeof message_ids[0]; i++)
        if (strcmp(message_ids[i].event, event) == 0)
            mid = message_ids[i].id;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (long)(ts.tv_nsec / 1000000) % 1000);
    pthread_mutex_lock(&au->mu);
    if (au->fd >= 0) {
        put_raw(line, sizeof line, &n, "{\"time\":");
        put_json(line, sizeof line, &n, when);
        put_raw(line, sizeof line, &n, ",\"event\":");
        put_json(line, sizeof line, &n, event);
        put_raw(line, sizeof line, &n, ",\"message_id\":");
        put_json(line, sizeof line, &n, mid);
        put_raw(line, sizeof line, &n, ",\"result\":");
        put_json(line, sizeof line, &n, result);
        for (i = 0; i < nf; i++) {
            if (values[i] == NULL)
                continue;
            put_raw(line, sizeof line, &n, ",");
            put_json(line, sizeof line, &n, names[i]);
            put_raw(line, sizeof line, &n, ":");
            put_json(line, sizeof line, &n, values[i]);
        }
        if (who != NULL) {
            snprintf(num, sizeof num, ",\"caller_pid\":%ld,\"caller_uid\":%ld",
                     (long)who->pid, (long)who->uid);
            put_raw(line, sizeof line, &n, num);
            if (who->exe[0] != '\0') {
                put_raw(line, sizeof line, &n, ",\"caller_exe\":");
                put_json(line, sizeof line, &n, who->exe);
            }
        }
        put_raw(line, sizeof line, &n, "}\n");
        if (write(au->fd, line, n) < 0)
            fprintf(stderr,
                    "entrakey: warning: cannot write the audit "
                    "log: %s\n",
                    strerror(errno));
    }
    if (au->journal != NULL) {
        char f[16][300];
        struct iovec iov[24];
        int k = 0, rc;
        char m1[300], m2[64], m3[128], m4[80], m5[80], m6[300], m7[80];
        char prio[] = "PRIORITY=6";

        snprintf(m1, sizeof m1, "MESSAGE=entrakey %s: %s", event, result);
        snprintf(m2, sizeof m2, "MESSAGE_ID=%s", mid);
        snprintf(m3, sizeof m3, "ENTRAKEY_EVENT=%s", event);
        snprintf(m4, sizeof m4, "ENTRAKEY_RESULT=%s", result);
        iov[k].iov_base = m1;
        iov[k++].iov_len = strlen(m1);
        iov[k].iov_base = m2;
        iov[k++].iov_len = strlen(m2);
        iov[k].iov_base = m3;
        iov[k++].iov_len = strlen(m3);
        iov[k].iov_base = m4;
        iov[k++].iov_len = strlen(m4);
        iov[k].iov_base = prio;
        iov[k++].iov_len = strlen(prio);
        for (i = 0; i < nf; i++) {
            size_t j, l;

            if (values[i] == NULL)
                continue;
            l = (size_t)snprintf(f[i], sizeof f[i], "ENTRAKEY_%s=%s", names[i],
                                 values[i]);
            for (j = 9; j < l && f[i][j] != '='; j++)
                if (f[i][j] >= 'a' && f[i][j] <= 'z')
                    f[i][j] = (char)(f[i][j] - 'a' + 'A');
            iov[k].iov_base = f[i];
            iov[k++].iov_len = strlen(f[i]);
        }
        if (who != NULL) {
            snprintf(m5, sizeof m5, "ENTRAKEY_CALLER_PID=%ld", (long)who->pid);
            snprintf(m7, sizeof m7, "ENTRAKEY_CALLER_UID=%ld", (long)who->uid);
            snprintf(m6, sizeof m6, "ENTRAKEY_CALLER_EXE=%s", who->exe);
            iov[k].iov_base = m5;
            iov[k++].iov_len = strlen(m5);
            iov[k].iov_base = m7;
            iov[k++].iov_len = strlen(m7);
            iov[k].iov_base = m6;
            iov[k++].iov_len = strlen(m6);
        }
        if ((rc = au->journal(iov, k)) < 0 && !au->journal_warned) {
            au->journal_warned = 1;
            fprintf(stderr,
                    "entrakey: warning: cannot write to the journal "
                    "(%s; is systemd-journald running?): audit events "
                    "are lost; give --audit json:PATH instead\n",
                    strerror(-rc));
        }
    }
    pthread_mutex_unlock(&au->mu);
}
