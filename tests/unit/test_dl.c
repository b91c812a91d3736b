/* test_dl.c: ek_dl_open, the one dlopen + dlsym table of the library
 * (libcurl) and the commands (libmicrohttpd, libsystemd). */
#include <dlfcn.h>
#include <sys/types.h>

#include "unit.h"
#include "dl/dl.h"

#define NOLIB "libentrakey-test-no-such-library.so.0"
#define NOSYM "ek_test_no_such_symbol"

static int
has(const char *why, const char *s)
{
    if (strstr(why, s) != NULL)
        return 1;
    fprintf(stderr, "missing '%s' in: %s\n", s, why);
    return 0;
}

/* a library that is not there: NULL, no symbol named, dlerror's text */
static void
test_no_library(void)
{
    void *p = NULL;
    const struct ek_dl_sym syms[] = {{"getpid", &p}};
    const char *missing = "not set";
    char why[256] = "";

    assert(ek_dl_open(NOLIB, syms, 1, &missing, why, sizeof why) == NULL);
    assert(missing == NULL);
    assert(has(why, NOLIB));
    assert(p == NULL);
}

/* a library without one of the symbols: NULL, that symbol named, no slot
 * left pointing into the closed library */
static void
test_no_symbol(void)
{
    void *a = NULL;
    void *b = NULL;
    void *c = NULL;
    const struct ek_dl_sym syms[] = {
        {"getpid", &a}, {NOSYM, &b}, {"strlen", &c}};
    const char *missing = NULL;
    char why[256] = "";

    assert(ek_dl_open("libc.so.6", syms, 3, &missing, why, sizeof why) == NULL);
    assert(missing == syms[1].name);
    assert(has(why, NOSYM));
    assert(a == NULL && b == NULL && c == NULL);
    /* a short buffer still ends in a NUL */
    assert(ek_dl_open("libc.so.6", syms, 3, &missing, why, 8) == NULL);
    assert(strlen(why) == 7);
}

/* a good table: the handle, every slot filled with the right function */
static void
test_good_table(void)
{
    void *p_getpid = NULL;
    void *p_strlen = NULL;
    const struct ek_dl_sym syms[] = {{"getpid", &p_getpid},
                                     {"strlen", &p_strlen}};
    const char *missing = "not set";
    char why[256] = "";
    pid_t (*fn_getpid)(void);
    size_t (*fn_strlen)(const char *);
    void *h;

    h = ek_dl_open("libc.so.6", syms, 2, &missing, why, sizeof why);
    assert(h != NULL);
    assert(p_getpid != NULL && p_strlen != NULL);
    /* POSIX: a function pointer converts through memcpy */
    memcpy(&fn_getpid, &p_getpid, sizeof fn_getpid);
    memcpy(&fn_strlen, &p_strlen, sizeof fn_strlen);
    assert(fn_getpid() == getpid());
    assert(fn_strlen("entrakey") == 8);
    assert(dlclose(h) == 0);
}

int
main(void)
{
    test_no_library();
    test_no_symbol();
    test_good_table();
    printf("test_dl: ok\n");
    return 0;
}
