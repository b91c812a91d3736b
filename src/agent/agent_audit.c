/* agent_audit.c: the agent's audit events, written by the trail the
 * one-shot commands share (src/cli/cli_audit.c). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"

void
agent_audit_event(struct cli_audit *au, const char *event, const char *result,
                  const struct caller *who, ...)
{
    struct cli_caller c;
    va_list ap;

    if (who != NULL) {
        memset(&c, 0, sizeof c);
        c.pid = who->pid;
        c.uid = who->uid;
        c.gid = who->gid;
        snprintf(c.exe, sizeof c.exe, "%s", who->exe);
    }
    va_start(ap, who);
    cli_audit_vevent(au, event, result, who != NULL ? &c : NULL, ap);
    va_end(ap);
}
