/* wi_file.c: keeps a client assertion fresh in a file for workload
 * identity (AZURE_FEDERATED_TOKEN_FILE): written atomically (a temporary
 * file in the same directory, then rename), mode 0600, with no trailing
 * newline; rewritten by a thread; removed when it would be too old. */
#define _GNU_SOURCE /* O_CLOEXEC with openat, renameat */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "wi.h"

struct wi_keeper {
    int dirfd;
    char *path; /* as given */
    char *dir;  /* its directory, for messages and rmdir */
    char *name; /* the file's name in dir */
    unsigned lifetime, refresh;
    wi_sign_fn *sign;
    wi_event_fn *event;
    void *arg;
    pthread_t th;
    int started, stopping;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    time_t exp;       /* the file's assertion expires (lower bound); 0: none */
    time_t next_at;   /* the next signature */
    unsigned backoff; /* seconds; 0 after a success */
    int wrote;        /* a file of ours may be there */
    unsigned long tmpn;
};

int
wi_timing_check(unsigned lifetime, unsigned refresh, char *msg, size_t msgsz)
{
    if (lifetime < WI_LIFETIME_MIN || lifetime > WI_LIFETIME_MAX) {
        snprintf(msg, msgsz,
                 "the assertion lifetime %u is not from %u to %u seconds",
                 lifetime, WI_LIFETIME_MIN, WI_LIFETIME_MAX);
        return -1;
    }
    if (refresh < WI_REFRESH_MIN || refresh > WI_REFRESH_MAX) {
        snprintf(msg, msgsz,
                 "the refresh interval %u is not from %u to %u seconds",
                 refresh, WI_REFRESH_MIN, WI_REFRESH_MAX);
        return -1;
    }
    if (refresh >= lifetime || lifetime - refresh < WI_MIN_LEFT) {
        snprintf(msg, msgsz,
                 "an assertion of %u seconds rewritten every %u seconds "
                 "would be read with less than %u seconds left; make the "
                 "lifetime at least the interval + %u",
                 lifetime, refresh, WI_MIN_LEFT, WI_MIN_LEFT);
        return -1;
    }
    return 0;
}

static void report(struct wi_keeper *k, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
report(struct wi_keeper *k, const char *event, const char *fmt, ...)
{
    char text[700];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (k->event != NULL)
        k->event(k->arg, event, text);
}

/* The directory: this user's or root's, writable by nobody else. */
static int
dir_ok(int fd, const char *dir, char *msg, size_t msgsz)
{
    struct stat st;

    if (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(msg, msgsz, "%s is not a directory", dir);
        return -1;
    }
    if ((st.st_uid != geteuid() && st.st_uid != 0) ||
        (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        snprintf(msg, msgsz,
                 "the directory %s can be written by other users (owner "
                 "uid %ld, mode %04o): another user could replace the "
                 "assertion file; use a directory of your own, mode 0700",
                 dir, (long)st.st_uid, (unsigned)(st.st_mode & 07777));
        return -1;
    }
    return 0;
}

/* Makes dir and its missing parents, each 0700. */
static int
mkdir_p(const char *dir, char *msg, size_t msgsz)
{
    char buf[4096];
    char *p;
    size_t n = strlen(dir);

    if (n >= sizeof buf) {
        snprintf(msg, msgsz, "the directory name %s is too long", dir);
        return -1;
    }
    memcpy(buf, dir, n + 1);
    for (p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        if (p[-1] != '/') {
            char c = *p;

            *p = '\0';
            if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
                snprintf(msg, msgsz, "cannot make the directory %s: %s", buf,
                         strerror(errno));
                return -1;
            }
            *p = c;
        }
        if (*p == '\0')
            break;
    }
    return 0;
}

int
wi_keeper_open(struct wi_keeper **kp, const char *path, int mkdir_ok,
               unsigned lifetime, unsigned refresh, wi_sign_fn *sign,
               wi_event_fn *event, void *arg, char *msg, size_t msgsz)
{
    struct wi_keeper *k = NULL;
    struct stat st;
    char *slash;
    int rc = -1;

    *kp = NULL;
    if (wi_timing_check(lifetime, refresh, msg, msgsz) != 0)
        return -1;
    if (path[0] == '\0' || path[strlen(path) - 1] == '/') {
        snprintf(msg, msgsz, "the assertion file '%s' is not a file name",
                 path);
        return -1;
    }
    if ((k = calloc(1, sizeof *k)) == NULL ||
        (k->path = strdup(path)) == NULL || (k->dir = strdup(path)) == NULL)
        goto oom;
    k->dirfd = -1;
    if ((slash = strrchr(k->dir, '/')) == NULL) {
        free(k->dir);
        if ((k->dir = strdup(".")) == NULL || (k->name = strdup(path)) == NULL)
            goto oom;
    } else {
        if ((k->name = strdup(slash + 1)) == NULL)
            goto oom;
        slash[slash == k->dir ? 1 : 0] = '\0';
    }
    if (strcmp(k->name, ".") == 0 || strcmp(k->name, "..") == 0) {
        snprintf(msg, msgsz, "the assertion file '%s' is not a file name",
                 path);
        goto out;
    }
    if (mkdir_ok && mkdir_p(k->dir, msg, msgsz) != 0)
        goto out;
    k->dirfd = open(k->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (k->dirfd < 0) {
        snprintf(msg, msgsz, "cannot open the directory %s: %s", k->dir,
                 strerror(errno));
        goto out;
    }
    if (dir_ok(k->dirfd, k->dir, msg, msgsz) != 0)
        goto out;
    if (fstatat(k->dirfd, k->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        !S_ISREG(st.st_mode)) {
        snprintf(msg, msgsz,
                 "%s exists and is not a regular file; not "
                 "replaced",
                 path);
        goto out;
    }
    k->lifetime = lifetime;
    k->refresh = refresh;
    k->sign = sign;
    k->event = event;
    k->arg = arg;
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    *kp = k;
    k = NULL;
    rc = 0;
    goto out;
oom:
    snprintf(msg, msgsz, "out of memory");
out:
    if (k != NULL) {
        if (k->dirfd >= 0)
            close(k->dirfd);
        free(k->path);
        free(k->dir);
        free(k->name);
        free(k);
    }
    return rc;
}

/* Writes data as the file: a new file beside it (0600, O_EXCL), written
 * whole and synced, then renamed over it: a reader sees the old assertion
 * or the new one, never part of one. */
static int
write_atomic(struct wi_keeper *k, const char *data, size_t n, char *msg,
             size_t msgsz)
{
    char tmp[300];
    size_t off = 0;
    ssize_t w;
    int fd, e;

    snprintf(tmp, sizeof tmp, ".%.200s.%ld.%lu.tmp", k->name, (long)getpid(),
             ++k->tmpn);
    fd = openat(k->dirfd, tmp,
                O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 && errno == EEXIST && unlinkat(k->dirfd, tmp, 0) == 0)
        fd = openat(k->dirfd, tmp,
                    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(msg, msgsz, "cannot write in %s: %s", k->dir, strerror(errno));
        return -1;
    }
    (void)fchmod(fd, 0600); /* whatever the umask */
    while (off < n) {
        w = write(fd, data + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    if (off < n || fsync(fd) != 0) {
        e = errno;
        close(fd);
        (void)unlinkat(k->dirfd, tmp, 0);
        snprintf(msg, msgsz, "cannot write %s: %s", k->path,
                 off < n && e == 0 ? "short write" : strerror(e));
        return -1;
    }
    if (close(fd) != 0 || renameat(k->dirfd, tmp, k->dirfd, k->name) != 0) {
        e = errno;
        (void)unlinkat(k->dirfd, tmp, 0);
        snprintf(msg, msgsz, "cannot replace %s: %s", k->path, strerror(e));
        return -1;
    }
    return 0;
}

static void
remove_file(struct wi_keeper *k, const char *why)
{
    if (k->exp == 0)
        return;
    if (unlinkat(k->dirfd, k->name, 0) != 0 && errno != ENOENT)
        report(k, "failed", "cannot remove %s: %s", k->path, strerror(errno));
    else
        report(k, "removed", "removed %s: %s", k->path, why);
    k->exp = 0;
}

/* One signature and write. EK_OK, or the error with msg. */
static ek_err
attempt(struct wi_keeper *k, int *revoke, char *msg, size_t msgsz)
{
    struct ek_secret *jwt = NULL;
    time_t t0 = time(NULL);
    ek_err r;

    *revoke = 0;
    msg[0] = '\0';
    r = k->sign(k->arg, k->lifetime, &jwt, revoke, msg, msgsz);
    if (r == EK_OK && write_atomic(k, ek_secret_data(jwt), ek_secret_len(jwt),
                                   msg, msgsz) != 0)
        r = EK_ERR_IO;
    ek_secret_free(&jwt);
    if (r == EK_OK) {
        /* iat is at least t0: exp at least t0 + lifetime */
        k->exp = t0 + (time_t)k->lifetime;
        k->next_at = t0 + (time_t)k->refresh;
        k->backoff = 0;
        k->wrote = 1;
    }
    return r;
}

ek_err
wi_keeper_first(struct wi_keeper *k, char *msg, size_t msgsz)
{
    int revoke;
    ek_err r = attempt(k, &revoke, msg, msgsz);

    if (r == EK_OK)
        report(k, "written", "wrote %s (lifetime %u s, rewritten every %u s)",
               k->path, k->lifetime, k->refresh);
    return r;
}

static void *
keeper_main(void *arg)
{
    struct wi_keeper *k = arg;
    struct timespec ts;
    char msg[600];
    time_t now, wake;
    int revoke;
    ek_err r;

    pthread_mutex_lock(&k->mu);
    while (!k->stopping) {
        now = time(NULL);
        if (now >= k->next_at) {
            pthread_mutex_unlock(&k->mu);
            r = attempt(k, &revoke, msg, sizeof msg);
            now = time(NULL);
            if (r != EK_OK) {
                /* keep the old file while a reader can still use it;
                 * retry soon, then less often */
                k->backoff = k->backoff == 0 ? 5 : k->backoff * 2;
                if (k->backoff > 60)
                    k->backoff = 60;
                if (k->backoff > k->refresh)
                    k->backoff = k->refresh;
                k->next_at = now + (time_t)k->backoff;
                report(k, "failed",
                       "no new assertion for %s: %s; the file %s; next try "
                       "in %u s",
                       k->path, msg,
                       k->exp == 0 ? "is not there"
                       : revoke    ? "is removed"
                                   : "is kept while it has 10 minutes left",
                       k->backoff);
                if (revoke)
                    remove_file(k, "the agent was locked");
            }
            pthread_mutex_lock(&k->mu);
            continue;
        }
        if (k->exp != 0 && now >= k->exp - WI_MIN_LEFT)
            remove_file(k, "it would have less than 10 minutes left and no "
                           "new one could be signed (a reader gets a clear "
                           "'file not found', not an expired assertion)");
        wake = k->next_at;
        if (k->exp != 0 && k->exp - WI_MIN_LEFT < wake)
            wake = k->exp - WI_MIN_LEFT;
        ts.tv_sec = wake;
        ts.tv_nsec = 0;
        pthread_cond_timedwait(&k->cv, &k->mu, &ts);
    }
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

int
wi_keeper_start(struct wi_keeper *k)
{
    if (pthread_create(&k->th, NULL, keeper_main, k) != 0)
        return -1;
    k->started = 1;
    return 0;
}

const char *
wi_keeper_path(const struct wi_keeper *k)
{
    return k->path;
}

void
wi_keeper_close(struct wi_keeper **kp, int rmdir_too)
{
    struct wi_keeper *k = kp != NULL ? *kp : NULL;

    if (k == NULL)
        return;
    if (k->started) {
        pthread_mutex_lock(&k->mu);
        k->stopping = 1;
        pthread_cond_broadcast(&k->cv);
        pthread_mutex_unlock(&k->mu);
        pthread_join(k->th, NULL);
    }
    /* what this keeper wrote goes (never a file it did not write) */
    if (k->wrote && unlinkat(k->dirfd, k->name, 0) != 0 && errno != ENOENT)
        report(k, "failed", "cannot remove %s: %s", k->path, strerror(errno));
    if (rmdir_too && rmdir(k->dir) != 0 && errno != ENOENT)
        report(k, "failed", "cannot remove the directory %s: %s", k->dir,
               strerror(errno));
    close(k->dirfd);
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->cv);
    free(k->path);
    free(k->dir);
    free(k->name);
    free(k);
    *kp = NULL;
}
