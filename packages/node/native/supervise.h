/* supervise.h - containment: the helper as the target's supervisor (see supervise.c). */
#ifndef EC_SUPERVISE_H
#define EC_SUPERVISE_H

#include "setup.h"

/*
 * Forks the target (s applied in the child, as ec_setup_and_exec does) and
 * supervises its tree until every process of it was reaped; never returns.
 * control_fd: the parent's commands and its death (end of file); grace_ms:
 * between a death signal other than SIGKILL and SIGKILL (-1: forever).  A
 * failure before the fork goes to die(stage, errno), which must not return.
 */
_Noreturn void ec_supervise(struct ec_setup *s, int control_fd, long grace_ms, void (*die)(const char *stage, int err));

#endif
