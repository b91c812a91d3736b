/* http_dl.c: libcurl loaded at the first HTTP request, not at start-up. */
/*
 * Linking libcurl costs every command about 4.5 ms and 4 MiB before main()
 * (its own dependencies: GnuTLS, LDAP, SSH, Kerberos, SASL, RTMP, IDN…),
 * more than the whole of a SoftHSM signature; `assert`, `keygen`, `cert`
 * never make a request. So the library does not link libcurl: this file
 * defines the curl_* functions http.c calls, and each forwards to
 * libcurl.so.4 opened with dlopen the first time one is called. Hidden
 * like every non-ek_ symbol (-fvisibility=hidden, CURL_EXTERN is empty).
 */
#define CURL_DISABLE_TYPECHECK /* we define curl_easy_setopt/getinfo */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include <curl/curl.h>

#include "dl.h"

#define HTTP_DL_LIBCURL "libcurl.so.4"

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
static char dl_error[512]; /* a sentence around dlerror's text */
static pthread_once_t dl_once = PTHREAD_ONCE_INIT;

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
    const char *missing;
    char why[256];

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
