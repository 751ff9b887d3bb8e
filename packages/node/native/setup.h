/*
 * setup.h - the child-side setup of effect-command: everything libvirt's
 * virExec does between fork and exec, as one async-signal-safe routine.
 *
 * Its callers (helper.c after its own exec, the engine in its vfork child)
 * resolve every name to a number first, fill a struct ec_setup and call
 * ec_setup_and_exec(), which applies the setup in libvirt's order and execs
 * the target in place.  It never returns: on failure it writes
 * "<stage> <errno>\n" to status_fd in one write(2) (and the same into
 * *failure, when given) and exits 125 (126/127 when execve itself fails).
 * See the list of steps at the top of setup.c.
 */
#ifndef EC_SETUP_H
#define EC_SETUP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

/* The kernel's sigset_t (64 signals), for the raw rt_sig* calls: glibc's
 * wrappers leave out its own internal signals (32, 33), which must be reset,
 * blocked and unblocked too. */
#define EC_KERNEL_SIGSET_SIZE 8

/* "Leave unchanged" for uid and gid: setresuid/setresgid treat -1 the same way. */
#define EC_UNSET_ID ((unsigned int)-1)

/* Exit codes, as in libvirt (EXIT_CANCELED and the shell's exec failures). */
enum { EC_EXIT_SETUP = 125, EC_EXIT_NOEXEC = 126, EC_EXIT_NOENT = 127 };

enum ec_action_kind {
    EC_ACT_NICE,          /* nice(value): an increment, clamped to -20..19   */
    EC_ACT_SETSID,        /* setsid()                                        */
    EC_ACT_NO_NEW_PRIVS,  /* prctl(PR_SET_NO_NEW_PRIVS, 1)                   */
    EC_ACT_OOM_SCORE_ADJ, /* write value to /proc/self/oom_score_adj         */
    EC_ACT_IOPRIO         /* ioprio_set(class = value, level = level)        */
};

/* ioprio classes (linux/ioprio.h) */
enum { EC_IOPRIO_REALTIME = 1, EC_IOPRIO_BEST_EFFORT = 2, EC_IOPRIO_IDLE = 3 };

struct ec_action {
    enum ec_action_kind kind;
    int value; /* nice increment, oom_score_adj, or ioprio class */
    int level; /* ioprio level 0..7 */
};

struct ec_rlimit {
    int resource; /* RLIMIT_* */
    rlim_t soft;  /* RLIM_INFINITY for unlimited */
    rlim_t hard;
};

/* An fd plan entry: child fd `target` gets parent fd `source`, without
 * FD_CLOEXEC (source == target: the fd is passed at its own number), or
 * /dev/null (O_RDWR) or nothing. */
enum { EC_FD_DEV_NULL = -1, EC_FD_CLOSED = -2 };

struct ec_fd {
    int target;
    int source;
};

/* Where a vfork parent reads which step failed (the child shares its memory). */
struct ec_failure {
    int err;
    char stage[40];
};

struct ec_setup {
    /* Every signal handler back to the default first, and every signal
     * unblocked just before execve: for a child that still shares its
     * parent's memory and handlers (vfork; the parent blocked every signal). */
    int reset_signals;

    int umask; /* -1: inherit; 0 is a valid mask */

    /* The fd plan, sorted by target, each target once; staged: n_fds ints of
     * scratch the child writes (no allocation after vfork).  Every other fd
     * from close_from up is closed but the status and handshake fds. */
    const struct ec_fd *fds;
    size_t n_fds;
    int *staged;
    int close_from;

    int status_fd;               /* failure records go here (-1: none); close-on-exec */
    struct ec_failure *failure;  /* NULL, or where a failure is recorded as well */

    /* FIFO stdio for pipelines (NULL: leave the fd alone).  Each is created
     * with mkfifo(path, 0600) unless it exists, opened blocking (the open is
     * the rendezvous with the helper at the other end) and moved onto fd 0, 1
     * or 2; the reader (stdin_fifo) unlinks the path once its open returned.
     * stderr_fifo naming the same path as stdout_fifo means dup2(1, 2). */
    const char *stdin_fifo;
    const char *stdout_fifo;
    const char *stderr_fifo;
    int stderr_to_stdout; /* dup2(1, 2), after the FIFOs */
    int new_pgid;         /* setpgid(0, 0) */

    int pdeathsig;    /* 0: none; ignored with daemonize */
    pid_t parent_pid; /* the parent that must be alive; 0: do not check */

    int daemonize;       /* setsid + double fork, grandchild execs */
    const char *pidfile; /* NULL: none; only with daemonize */

    const struct ec_rlimit *rlimits;
    size_t n_rlimits;

    const struct ec_action *actions; /* applied in this order */
    size_t n_actions;

    const gid_t *groups; /* supplementary groups, when has_groups */
    size_t n_groups;
    int has_groups;
    gid_t gid; /* EC_UNSET_ID: unchanged */
    uid_t uid; /* EC_UNSET_ID: unchanged */

    int clear_caps;        /* drop every capability not in allowed_caps */
    uint64_t allowed_caps; /* bit n = capability n; non-zero implies clear_caps */
    int cap_last_cap;      /* /proc/sys/kernel/cap_last_cap */

    const char *cwd; /* NULL: inherit */

    int handshake_ready_fd; /* -1: no handshake */
    int handshake_wait_fd;

    const char *path; /* execve(path, argv, envp); no PATH search */
    char *const *argv;
    char *const *envp;
};

/* "NOFILE" for RLIMIT_NOFILE etc. (the suffix after RLIMIT_); NULL if unknown. */
const char *ec_rlimit_name(int resource);

/* Applies the setup and execs; never returns.  Async-signal-safe. */
_Noreturn void ec_setup_and_exec(const struct ec_setup *s);

#endif
