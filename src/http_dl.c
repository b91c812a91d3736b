/* http_dl.c: libcurl loaded at the first HTTP request, not at start-up. */
/*
 * Which libcurl: entrakey's own HTTPS-only build, libentrakey-curl.so.4
 * beside libentrakey.so (scripts/lean-curl.sh: TLS through the system's
 * libssl.so.3, nothing else loaded), when the build has one (EK_HTTPS_CURL)
 * and it is there; else, and always when a proxy is set in the
 * environment (every kind of proxy and proxy login is the system's
 * libcurl's) or ENTRAKEY_LIBCURL=system, the system's libcurl.so.4.
 * Loading that one and its 31 libraries is about 8 ms of a cold `entrakey
 * token`; the own build about 1 ms (docs/performance.md).
 *
 * Linking libcurl costs every command about 4.5 ms and 4 MiB before main()
 * (its own dependencies: GnuTLS, LDAP, SSH, Kerberos, SASL, RTMP, IDN…),
 * more than the whole of a SoftHSM signature; `assert`, `keygen`, `cert`
 * never make a request. So the library does not link libcurl: this file
 * defines the curl_* functions http.c calls, and each forwards to
 * libcurl.so.4 opened with dlopen the first time one is called. Hidden
 * like every non-ek_ symbol (-fvisibility=hidden, CURL_EXTERN is empty).
 */
#define _GNU_SOURCE            /* dladdr */
#define CURL_DISABLE_TYPECHECK /* we define curl_easy_setopt/getinfo */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "dl.h"
#include "http.h"

#define HTTP_DL_LIBCURL "libcurl.so.4"
#define HTTP_DL_OWN "libentrakey-curl.so.4"

static struct {
    void *h;
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_perform)(CURL *);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    void (*easy_cleanup)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    CURLHcode (*easy_header)(CURL *, const char *, size_t, unsigned int, int,
                             struct curl_header **);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
    void (*free)(void *);
    CURLU *(*url)(void);
    void (*url_cleanup)(CURLU *);
    CURLUcode (*url_set)(CURLU *, CURLUPart, const char *, unsigned int);
    CURLUcode (*url_get)(CURLU *, CURLUPart, char **, unsigned int);
    curl_version_info_data *(*version_info)(CURLversion);
} dl;
static char dl_error[512];            /* a sentence around dlerror's text */
static char dl_which[PATH_MAX + 400]; /* which one, and why: http_dl_which */
static char dl_warning[160];          /* http_dl_warning; "" when none */
static pthread_mutex_t dl_warning_mu = PTHREAD_MUTEX_INITIALIZER;
static int dl_warning_given; /* once per process, under the mutex */
static pthread_once_t dl_once = PTHREAD_ONCE_INIT;

/* The own build's path: beside the object this code is in (libentrakey.so,
 * installed or in the build tree). 0, or -1 when there is none to try,
 * and then why not in why. want_system: ENTRAKEY_LIBCURL=system. */
static int
dl_own_path(int want_system, char *path, size_t len, char *why, size_t whylen)
{
#ifdef EK_HTTPS_CURL
    const char *proxy, *slash;
    Dl_info info;
    int n;

    if (want_system) {
        snprintf(why, whylen, "ENTRAKEY_LIBCURL=system");
        return -1;
    }
    if ((proxy = http_proxy_var()) != NULL) {
        snprintf(why, whylen, "%s is set; proxies go through it", proxy);
        return -1;
    }
    if (dladdr((void *)dl_own_path, &info) == 0 || info.dli_fname == NULL ||
        (slash = strrchr(info.dli_fname, '/')) == NULL) {
        snprintf(why, whylen, "libentrakey's directory is unknown");
        return -1;
    }
    n = snprintf(path, len, "%.*s/%s", (int)(slash - info.dli_fname),
                 info.dli_fname, HTTP_DL_OWN);
    if (n < 0 || (size_t)n >= len || access(path, R_OK) != 0) {
        snprintf(why, whylen, "no %s beside libentrakey", HTTP_DL_OWN);
        return -1;
    }
    return 0;
#else
    (void)want_system;
    (void)path;
    (void)len;
    snprintf(why, whylen, "built without entrakey's own");
    return -1;
#endif
}

static void
dl_load(void)
{
    const struct ek_dl_sym syms[] = {
#define SYM(f, name) {name, (void **)&dl.f}
        SYM(global_init, "curl_global_init"),
        SYM(easy_init, "curl_easy_init"),
        SYM(easy_setopt, "curl_easy_setopt"),
        SYM(easy_perform, "curl_easy_perform"),
        SYM(easy_getinfo, "curl_easy_getinfo"),
        SYM(easy_cleanup, "curl_easy_cleanup"),
        SYM(easy_strerror, "curl_easy_strerror"),
        SYM(easy_header, "curl_easy_header"),
        SYM(slist_append, "curl_slist_append"),
        SYM(slist_free_all, "curl_slist_free_all"),
        SYM(free, "curl_free"),
        SYM(url, "curl_url"),
        SYM(url_cleanup, "curl_url_cleanup"),
        SYM(url_set, "curl_url_set"),
        SYM(url_get, "curl_url_get"),
        SYM(version_info, "curl_version_info"),
#undef SYM
    };
    const char *missing, *choice = getenv("ENTRAKEY_LIBCURL");
    char why[256], own[PATH_MAX], reason[PATH_MAX + 320];
    int want_system = choice != NULL && strcmp(choice, "system") == 0;

    /* its one value; any other is said, not guessed at (a misspelt
     * "system" must not pass for a choice that was made) */
    if (choice != NULL && choice[0] != '\0' && !want_system)
        snprintf(dl_warning, sizeof dl_warning,
                 "ENTRAKEY_LIBCURL='%.40s%s' is not understood, and is "
                 "ignored: its one value is 'system'",
                 choice, strlen(choice) > 40 ? "..." : "");
    if (dl_own_path(want_system, own, sizeof own, reason, sizeof reason) == 0) {
        dl.h = ek_dl_open(own, syms, sizeof syms / sizeof syms[0], &missing,
                          why, sizeof why);
        if (dl.h != NULL) {
            snprintf(dl_which, sizeof dl_which,
                     "%s (entrakey's own, HTTPS only)", own);
            return;
        }
        /* a broken own build is said, and the system's used */
        snprintf(reason, sizeof reason, "%s: %s", own,
                 missing != NULL ? "a symbol is missing" : why);
    }
    snprintf(dl_which, sizeof dl_which, "the system's %s (%s)", HTTP_DL_LIBCURL,
             reason);
    dl.h = ek_dl_open(HTTP_DL_LIBCURL, syms, sizeof syms / sizeof syms[0],
                      &missing, why, sizeof why);
    if (dl.h != NULL)
        return;
    if (missing == NULL)
        snprintf(dl_error, sizeof dl_error, "%s cannot be loaded: %s",
                 HTTP_DL_LIBCURL, why);
    else
        snprintf(dl_error, sizeof dl_error,
                 "%s has no %s (libcurl "
                 "7.84 or later is needed)",
                 HTTP_DL_LIBCURL, missing);
}

static int
loaded(void)
{
    pthread_once(&dl_once, dl_load);
    return dl.h != NULL;
}

const char *
http_dl_which(void)
{
    return loaded() ? dl_which : NULL;
}

const char *
http_dl_warning(void)
{
    int given;

    (void)loaded(); /* dl_load reads the choice */
    if (dl_warning[0] == '\0')
        return NULL;
    pthread_mutex_lock(&dl_warning_mu);
    given = dl_warning_given;
    dl_warning_given = 1;
    pthread_mutex_unlock(&dl_warning_mu);
    return given ? NULL : dl_warning;
}

CURLcode
curl_global_init(long flags)
{
    return loaded() ? dl.global_init(flags) : CURLE_FAILED_INIT;
}

CURL *
curl_easy_init(void)
{
    return loaded() ? dl.easy_init() : NULL;
}

/* The one argument is passed on with the type its option's number says
 * (curl.h: CURLOPTTYPE_*), so no variadic call is guessed at. */
CURLcode
curl_easy_setopt(CURL *c, CURLoption opt, ...)
{
    typedef void (*fn_ptr)(void);
    va_list ap;
    CURLcode r;

    if (!loaded())
        return CURLE_FAILED_INIT;
    va_start(ap, opt);
    /* one va_arg of the option's type; the branches differ only in that
     * type (which clang-tidy's branch-clone does not compare) */
    if (opt < CURLOPTTYPE_OBJECTPOINT) {
        long v = va_arg(ap, long);

        r = dl.easy_setopt(c, opt, v);
    } else if (opt >= CURLOPTTYPE_FUNCTIONPOINT && opt < CURLOPTTYPE_OFF_T) {
        fn_ptr v = va_arg(ap, fn_ptr);

        r = dl.easy_setopt(c, opt, v);
    } else if (opt >= CURLOPTTYPE_OFF_T && opt < CURLOPTTYPE_BLOB) {
        curl_off_t v = va_arg(ap, curl_off_t);

        r = dl.easy_setopt(c, opt, v);
    } else { /* object pointers and blobs */
        void *v = va_arg(ap, void *);

        r = dl.easy_setopt(c, opt, v);
    }
    va_end(ap);
    return r;
}

CURLcode
curl_easy_perform(CURL *c)
{
    return loaded() ? dl.easy_perform(c) : CURLE_FAILED_INIT;
}

/* Every CURLINFO_* takes one pointer. */
CURLcode
curl_easy_getinfo(CURL *c, CURLINFO info, ...)
{
    va_list ap;
    void *p;

    if (!loaded())
        return CURLE_FAILED_INIT;
    va_start(ap, info);
    p = va_arg(ap, void *);
    va_end(ap);
    return dl.easy_getinfo(c, info, p);
}

void
curl_easy_cleanup(CURL *c)
{
    if (c != NULL && loaded())
        dl.easy_cleanup(c);
}

const char *
curl_easy_strerror(CURLcode code)
{
    return loaded() ? dl.easy_strerror(code) : dl_error;
}

CURLHcode
curl_easy_header(CURL *c, const char *name, size_t index, unsigned int origin,
                 int request, struct curl_header **hout)
{
    if (!loaded())
        return CURLHE_NOT_BUILT_IN;
    return dl.easy_header(c, name, index, origin, request, hout);
}

struct curl_slist *
curl_slist_append(struct curl_slist *l, const char *s)
{
    return loaded() ? dl.slist_append(l, s) : NULL;
}

void
curl_slist_free_all(struct curl_slist *l)
{
    if (l != NULL && loaded())
        dl.slist_free_all(l);
}

void
curl_free(void *p)
{
    if (p != NULL && loaded())
        dl.free(p);
}

CURLU *
curl_url(void)
{
    return loaded() ? dl.url() : NULL;
}

void
curl_url_cleanup(CURLU *u)
{
    if (u != NULL && loaded())
        dl.url_cleanup(u);
}

CURLUcode
curl_url_set(CURLU *u, CURLUPart what, const char *part, unsigned int flags)
{
    return loaded() ? dl.url_set(u, what, part, flags) : CURLUE_OUT_OF_MEMORY;
}

CURLUcode
curl_url_get(CURLU *u, CURLUPart what, char **part, unsigned int flags)
{
    return loaded() ? dl.url_get(u, what, part, flags) : CURLUE_OUT_OF_MEMORY;
}

curl_version_info_data *
curl_version_info(CURLversion v)
{
    return loaded() ? dl.version_info(v) : NULL;
}
