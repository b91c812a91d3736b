/* mhd_dl.c: libmicrohttpd opened by `entrakey agent` when its server
 * starts, not linked. */
/*
 * Linking libmicrohttpd (with GnuTLS and what GnuTLS needs) cost every
 * command of entrakey-full about 4 ms of dynamic linking before main(),
 * and only the agent serves HTTP on its socket. So entrakey-full does not
 * link it: this file defines the MHD_* functions agent_http.c calls, each
 * forwarding to libmicrohttpd.so.12 opened by agent_mhd_load. Hidden, so
 * that the library's own calls never reach these.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include <microhttpd.h>

#include "agent.h"
#include "dl.h"

#define MHD_DL_LIB "libmicrohttpd.so.12"
#define HIDDEN __attribute__((visibility("hidden")))

static struct {
    void *h;
    struct MHD_Daemon *(*start_daemon_va)(unsigned int, uint16_t,
                                          MHD_AcceptPolicyCallback, void *,
                                          MHD_AccessHandlerCallback, void *,
                                          va_list);
    void (*stop_daemon)(struct MHD_Daemon *);
    struct MHD_Response *(*create_response)(size_t, void *,
                                            MHD_ContentReaderFreeCallback);
    enum MHD_Result (*add_response_header)(struct MHD_Response *, const char *,
                                           const char *);
    enum MHD_Result (*queue_response)(struct MHD_Connection *, unsigned int,
                                      struct MHD_Response *);
    void (*destroy_response)(struct MHD_Response *);
    const union MHD_ConnectionInfo *(*get_connection_info)(
        struct MHD_Connection *, enum MHD_ConnectionInfoType, ...);
    const char *(*lookup_connection_value)(struct MHD_Connection *,
                                           enum MHD_ValueKind, const char *);
    void (*suspend_connection)(struct MHD_Connection *);
    void (*resume_connection)(struct MHD_Connection *);
} dl;
static char dl_error[512]; /* a sentence around dlerror's text */
static pthread_once_t dl_once = PTHREAD_ONCE_INIT;

static void
dl_load(void)
{
    const struct ek_dl_sym syms[] = {
#define SYM(f, name) {name, (void **)&dl.f}
        SYM(start_daemon_va, "MHD_start_daemon_va"),
        SYM(stop_daemon, "MHD_stop_daemon"),
        SYM(create_response,
            "MHD_create_response_from_buffer_with_free_callback"),
        SYM(add_response_header, "MHD_add_response_header"),
        SYM(queue_response, "MHD_queue_response"),
        SYM(destroy_response, "MHD_destroy_response"),
        SYM(get_connection_info, "MHD_get_connection_info"),
        SYM(lookup_connection_value, "MHD_lookup_connection_value"),
        SYM(suspend_connection, "MHD_suspend_connection"),
        SYM(resume_connection, "MHD_resume_connection"),
#undef SYM
    };
    const char *missing;
    char why[256];

    dl.h = ek_dl_open(MHD_DL_LIB, syms, sizeof syms / sizeof syms[0], &missing,
                      why, sizeof why);
    if (dl.h != NULL)
        return;
    if (missing == NULL)
        snprintf(dl_error, sizeof dl_error,
                 "%s cannot be loaded (install libmicrohttpd12): %s",
                 MHD_DL_LIB, why);
    else
        snprintf(dl_error, sizeof dl_error,
                 "%s has no %s (libmicrohttpd 0.9.71 or later is "
                 "needed)",
                 MHD_DL_LIB, missing);
}

int
agent_mhd_load(char *msg, size_t msgsz)
{
    pthread_once(&dl_once, dl_load);
    if (dl.h != NULL)
        return 0;
    snprintf(msg, msgsz, "%s", dl_error);
    return -1;
}

/* The functions below are reached only after agent_mhd_load succeeded
 * (agent_http_start): the daemon, and so every connection, exists only
 * then. */

HIDDEN struct MHD_Daemon *
MHD_start_daemon(unsigned int flags, uint16_t port,
                 MHD_AcceptPolicyCallback apc, void *apc_cls,
                 MHD_AccessHandlerCallback dh, void *dh_cls, ...)
{
    struct MHD_Daemon *d;
    va_list ap;

    if (dl.h == NULL)
        return NULL;
    va_start(ap, dh_cls);
    d = dl.start_daemon_va(flags, port, apc, apc_cls, dh, dh_cls, ap);
    va_end(ap);
    return d;
}

HIDDEN void
MHD_stop_daemon(struct MHD_Daemon *d)
{
    dl.stop_daemon(d);
}

HIDDEN struct MHD_Response *
MHD_create_response_from_buffer_with_free_callback(
    size_t size, void *buffer, MHD_ContentReaderFreeCallback crfc)
{
    return dl.create_response(size, buffer, crfc);
}

HIDDEN enum MHD_Result
MHD_add_response_header(struct MHD_Response *r, const char *header,
                        const char *content)
{
    return dl.add_response_header(r, header, content);
}

HIDDEN enum MHD_Result
MHD_queue_response(struct MHD_Connection *c, unsigned int status_code,
                   struct MHD_Response *r)
{
    return dl.queue_response(c, status_code, r);
}

HIDDEN void
MHD_destroy_response(struct MHD_Response *r)
{
    dl.destroy_response(r);
}

/* Only for the kinds of information that take no further argument (the
 * agent asks for MHD_CONNECTION_INFO_CONNECTION_FD). */
HIDDEN const union MHD_ConnectionInfo *
MHD_get_connection_info(struct MHD_Connection *c,
                        enum MHD_ConnectionInfoType info_type, ...)
{
    return dl.get_connection_info(c, info_type);
}

HIDDEN const char *
MHD_lookup_connection_value(struct MHD_Connection *c, enum MHD_ValueKind kind,
                            const char *key)
{
    return dl.lookup_connection_value(c, kind, key);
}

HIDDEN void
MHD_suspend_connection(struct MHD_Connection *c)
{
    dl.suspend_connection(c);
}

HIDDEN void
MHD_resume_connection(struct MHD_Connection *c)
{
    dl.resume_connection(c);
}
