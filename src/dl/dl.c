/* dl.c: a library opened with dlopen and its symbol table filled, in one
 * place for libcurl, libmicrohttpd and libsystemd (dl.h). */
#include <dlfcn.h>
#include <stdio.h>

#include "dl.h"

/* dlerror's text, or a stand-in when there is none */
static void
dl_why(char *why, size_t whysz)
{
    const char *err = dlerror();

    snprintf(why, whysz, "%s", err != NULL ? err : "not found");
}

void *
ek_dl_open(const char *lib, const struct ek_dl_sym *syms, size_t n,
           const char **missing, char *why, size_t whysz)
{
    void *h;
    size_t i;
    size_t j;

    *missing = NULL;
    if ((h = dlopen(lib, RTLD_NOW | RTLD_LOCAL)) == NULL) {
        dl_why(why, whysz);
        return NULL;
    }
    for (i = 0; i < n; i++) {
        if ((*syms[i].slot = dlsym(h, syms[i].name)) == NULL) {
            dl_why(why, whysz);
            *missing = syms[i].name;
            /* no slot is left pointing into a closed library */
            for (j = 0; j < i; j++)
                *syms[j].slot = NULL;
            dlclose(h);
            return NULL;
        }
    }
    return h;
}
