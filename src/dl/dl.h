/* dl.h: open a shared library and fill a table of its symbols; shared by
 * the library (libcurl) and the commands (libmicrohttpd, libsystemd).
 * Not installed, not exported. */
#ifndef EK_DL_H
#define EK_DL_H

#include <stddef.h>

struct ek_dl_sym {
    const char *name; /* what dlsym looks up */
    void **slot;      /* where its address goes */
};

/*
 * Opens lib with dlopen(RTLD_NOW | RTLD_LOCAL) and stores each symbol of
 * syms[0..n) in its slot. Returns the handle, which the caller keeps (the
 * slots point into it), or NULL and then:
 *   - lib cannot be loaded: *missing = NULL;
 *   - lib lacks a symbol: *missing = that name (syms[i].name), lib is
 *     closed again and every slot set to NULL;
 * and why holds dlerror's text, which names lib or the symbol. The
 * callers word the sentence a person reads. dlerror's state is per
 * thread; opening the same library from two threads at once is the
 * caller's to prevent (pthread_once, or before threads start).
 */
void *ek_dl_open(const char *lib, const struct ek_dl_sym *syms, size_t n,
                 const char **missing, char *why, size_t whysz);

#endif
