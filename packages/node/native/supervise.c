/*
 * supervise.c - containment: the helper stays alive as the target's parent
 * and answers for every process the target starts, at any depth.
 *
 * The helper becomes a child subreaper (PR_SET_CHILD_SUBREAPER), forks the
 * target (which runs setup.c's steps and execs) and then only waits: it is
 * never in the data path (its own fds 0-2 are /dev/null, every other fd but
 * its four is closed).  A descendant that leaves its parent (setsid, double
 * fork) is re-parented to the supervisor, so "the tree" is always the
 * supervisor's children and their descendants; the supervisor exits once it
 * has no child left (waitpid: ECHILD), never before.
 *
 * Lines on the status fd, in this order:
 *   pid T            the target's pid, right after the fork
 *   exec             the target was exec'd, or instead its setup's failure
 *   <stage> <errno>  record, relayed as the target wrote it
 *   status W [last]  the target's raw wait status, once it was reaped;
 *                    "last" when nothing else of the tree is left (the
 *                    supervisor exits right after it)
 *   usage U S M      the whole tree's user and system CPU time (µs) and the
 *                    largest peak RSS (KiB), when every process was reaped
 *
 * Bytes on the control fd (the parent's end of a pipe):
 *   1..64            send that signal to the target (to its process group
 *                    while it leads one), not after it was reaped
 *   128 + 1..64      send it to every process of the tree (SIGCONT too, so
 *                    that a stopped one acts on it); SIGKILL repeats until
 *                    the tree is gone: a process killed in the middle of a
 *                    fork makes no child, so the loop converges
 *   end of file      the parent died or gave up the command: the death
 *                    signal to the tree, SIGKILL after the grace (at once
 *                    for SIGKILL; nothing without a death signal)
 * SIGTERM to the supervisor itself (the engine's teardown of a terminated
 * worker) SIGKILLs the tree at once.  Every other signal stays blocked: the
 * supervisor leaves only by SIGKILL, or when its tree is gone.
 *
 * The tree's members are found in /proc: pid and parent pid of every
 * process, then the supervisor's descendants by parent links.  A member is
 * signalled through a pidfd opened before its parent is checked again, so a
 * pid reused by a process outside the tree is never hit.
 */
#define _GNU_SOURCE
#include "supervise.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TREE 128

extern char **environ;

struct supervisor {
    int status_fd, control_fd, report_fd, signal_fd;
    pid_t self, target;
    int target_group;   /* the target leads its own process group */
    int target_reaped;
    int target_status;
    int status_said;
    int death_signal;   /* 0: the tree outlives the parent */
    long grace_ms;      /* -1: forever */
    int killing;        /* SIGKILL the tree until it is gone */
    long long kill_at;  /* when to start killing (ms, CLOCK_MONOTONIC); -1: not set */
    char report[64];    /* the target's setup failure, as written */
    size_t report_len;
    unsigned char *mark; /* pid -> in the tree; pid_max bytes */
    long pid_max;
};

static void say(struct supervisor *v, const char *fmt, ...)
{
    char line[96];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* EPIPE once the parent is gone: SIGPIPE is blocked, nobody is left to tell. */
    if (n > 0 && write(v->status_fd, line, (size_t)n) < 0) { /* ignored */ }
}

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static long read_pid_max(void)
{
    char buf[24] = { 0 };
    int fd = open("/proc/sys/kernel/pid_max", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (fd >= 0) close(fd);
    long max = n > 0 ? strtol(buf, NULL, 10) : 0;
    return max > 0 ? max : 4194304; /* the kernel's limit */
}

/* The parent pid in /proc/PID/stat (after the last ')' of the name), or -1. */
static pid_t parent_of(pid_t pid)
{
    char path[32], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    int ppid;
    return p != NULL && sscanf(p + 1, " %*c %d", &ppid) == 1 ? (pid_t)ppid : -1;
}

struct proc { pid_t pid, ppid; };

/* Every process's pid and parent; *n set; NULL when /proc cannot be read. */
static struct proc *processes(size_t *n)
{
    DIR *d = opendir("/proc");
    size_t cap = 256;
    struct proc *all = d != NULL ? malloc(cap * sizeof *all) : NULL;
    *n = 0;
    if (all == NULL) {
        if (d != NULL) closedir(d);
        return NULL;
    }
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end != '\0' || pid <= 0) continue;
        pid_t ppid = parent_of((pid_t)pid);
        if (ppid < 0) continue;
        if (*n == cap) {
            struct proc *more = realloc(all, 2 * cap * sizeof *all);
            if (more == NULL) break;
            all = more;
            cap *= 2;
        }
        all[(*n)++] = (struct proc){ (pid_t)pid, ppid };
    }
    closedir(d);
    return all;
}

/* Marks the supervisor's descendants in v->mark (the supervisor too); returns the list. */
static struct proc *tree(struct supervisor *v, size_t *n)
{
    if (v->mark == NULL) {
        /* Only a command whose tree is signalled needs it (pid_max bytes: up to 4 MiB). */
        v->pid_max = read_pid_max();
        v->mark = malloc((size_t)v->pid_max);
        if (v->mark == NULL) return NULL;
    }
    struct proc *all = processes(n);
    if (all == NULL) return NULL;
    memset(v->mark, 0, (size_t)v->pid_max);
    v->mark[v->self] = 1;
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t i = 0; i < *n; i++) {
            pid_t pid = all[i].pid, ppid = all[i].ppid;
            if (pid < v->pid_max && ppid > 0 && ppid < v->pid_max && v->mark[ppid] && !v->mark[pid]) {
                v->mark[pid] = 1;
                changed = 1;
            }
        }
    }
    return all;
}

/* sig to every process of the tree (not the supervisor); SIGCONT after it unless it is SIGKILL or SIGCONT. */
static void signal_tree(struct supervisor *v, int sig)
{
    size_t n;
    struct proc *all = tree(v, &n);
    if (all == NULL) return;
    for (size_t i = 0; i < n; i++) {
        pid_t pid = all[i].pid;
        if (pid == v->self || pid >= v->pid_max || !v->mark[pid]) continue;
        int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0) continue;
        /* The pidfd holds this process; is it (still) in the tree? */
        pid_t ppid = parent_of(pid);
        if (ppid > 0 && ppid < v->pid_max && v->mark[ppid]) {
            syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
            if (sig != SIGKILL && sig != SIGCONT) syscall(SYS_pidfd_send_signal, pidfd, SIGCONT, NULL, 0);
        }
        close(pidfd);
    }
    free(all);
}

/* A signal for the target alone (its group while it leads one), as Process.kill sends it. */
static void signal_target(struct supervisor *v, int sig)
{
    if (v->target_reaped) return; /* its pid may be someone else's now */
    if (v->target_group && kill(-v->target, sig) == 0) return;
    kill(v->target, sig); /* no group yet: the target has not called setpgid */
}

static void start_killing(struct supervisor *v)
{
    v->killing = 1;
    signal_tree(v, SIGKILL);
}

/* The parent is gone (or gave the command up): the death signal, then SIGKILL after the grace. */
static void parent_gone(struct supervisor *v)
{
    close(v->control_fd);
    v->control_fd = -1;
    if (v->death_signal == 0) return;
    if (v->death_signal == SIGKILL) return start_killing(v);
    signal_tree(v, v->death_signal);
    if (v->grace_ms >= 0) v->kill_at = now_ms() + v->grace_ms;
}

static void read_control(struct supervisor *v)
{
    unsigned char bytes[64];
    ssize_t n = read(v->control_fd, bytes, sizeof bytes);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) return parent_gone(v);
    for (ssize_t i = 0; i < n; i++) {
        int sig = bytes[i] & (TREE - 1), whole = bytes[i] & TREE;
        if (sig < 1 || sig > 64) continue;
        if (!whole) signal_target(v, sig);
        else if (sig == SIGKILL) start_killing(v);
        else signal_tree(v, sig);
    }
}

/* The target's exec report: EOF at its exec (close-on-exec), or one failure record first. */
static void read_report(struct supervisor *v)
{
    for (;;) {
        ssize_t n = read(v->report_fd, v->report + v->report_len, sizeof v->report - 1 - v->report_len);
        if (n < 0 && errno == EINTR) continue;
        if (n > 0) {
            v->report_len += (size_t)n;
            if (v->report_len < sizeof v->report - 1) continue;
        }
        if (n < 0 && errno == EAGAIN) return;
        break;
    }
    close(v->report_fd);
    v->report_fd = -1;
    if (v->report_len == 0) say(v, "exec\n");
    else if (write(v->status_fd, v->report, v->report_len) < 0) { /* the parent is gone */ }
}

/* Reaps every child that ended; returns 0 once there is none left (ECHILD). */
static int reap_all(struct supervisor *v)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG | __WALL);
        if (pid < 0 && errno == EINTR) continue;
        if (pid < 0) return 0;
        if (pid == 0) return 1;
        if (pid == v->target) {
            /* Its report is complete now: nobody else holds the pipe. */
            if (v->report_fd >= 0) {
                fcntl(v->report_fd, F_SETFL, 0);
                read_report(v);
            }
            v->target_reaped = 1;
            v->target_status = status;
        }
    }
}

/* Reaps, and says the target's status once it was reaped; returns 0 once nothing is left. */
static int reap(struct supervisor *v)
{
    int left = reap_all(v);
    if (v->target_reaped && !v->status_said) {
        v->status_said = 1;
        say(v, left ? "status %d\n" : "status %d last\n", v->target_status);
    }
    return left;
}

static void handle_signals(struct supervisor *v)
{
    struct signalfd_siginfo info;
    while (read(v->signal_fd, &info, sizeof info) == (ssize_t)sizeof info) {
        if (info.ssi_signo == SIGTERM && !v->killing) start_killing(v);
    }
}

static _Noreturn void supervise(struct supervisor *v)
{
    while (reap(v)) {
        struct pollfd fds[3] = {
            { v->signal_fd, POLLIN, 0 },
            { v->control_fd, POLLIN, 0 },
            { v->report_fd, POLLIN, 0 },
        };
        int timeout = -1;
        if (v->killing) {
            timeout = 10; /* until the tree is gone: members forked meanwhile */
        } else if (v->kill_at >= 0) {
            long long left = v->kill_at - now_ms();
            timeout = left > 0 ? (int)(left < 1000000 ? left : 1000000) : 0;
        }
        int ready = poll(fds, 3, timeout);
        if (ready < 0 && errno != EINTR) break;
        if (v->killing) signal_tree(v, SIGKILL);
        else if (v->kill_at >= 0 && now_ms() >= v->kill_at) start_killing(v);
        if (ready <= 0) continue;
        if (fds[0].revents != 0) handle_signals(v);
        if (fds[1].revents != 0) read_control(v);
        if (fds[2].revents != 0) read_report(v);
    }
    struct rusage ru;
    if (getrusage(RUSAGE_CHILDREN, &ru) == 0) {
        say(v, "usage %lld %lld %ld\n",
            (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
            (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec, ru.ru_maxrss);
    }
    _exit(0);
}

/* Closes every fd but 0-2 and the ones in keep (sorted, distinct, >= 3). */
static void close_others(const int *keep, size_t n)
{
    unsigned int from = 3;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned int)keep[i] > from) syscall(SYS_close_range, from, (unsigned int)keep[i] - 1, 0);
        from = (unsigned int)keep[i] + 1;
    }
    syscall(SYS_close_range, from, ~0U, 0);
}

static int compare_int(const void *a, const void *b)
{
    return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

_Noreturn void ec_supervise(struct ec_setup *s, int control_fd, long grace_ms, void (*die)(const char *stage, int err))
{
    struct supervisor v = {
        .status_fd = s->status_fd,
        .control_fd = control_fd,
        .self = getpid(),
        .target_group = s->new_pgid,
        .death_signal = s->pdeathsig,
        .grace_ms = grace_ms,
        .kill_at = -1,
    };
    for (size_t i = 0; i < s->n_actions; i++)
        v.target_group |= s->actions[i].kind == EC_ACT_SETSID;
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) die("subreaper", errno);

    sigset_t all, watched, before;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &before);
    sigemptyset(&watched);
    sigaddset(&watched, SIGCHLD);
    sigaddset(&watched, SIGTERM);
    v.signal_fd = signalfd(-1, &watched, SFD_NONBLOCK | SFD_CLOEXEC);
    if (v.signal_fd < 0) die("signalfd", errno);

    int report[2];
    if (pipe2(report, O_CLOEXEC) < 0) die("pipe", errno);
    s->status_fd = report[1];
    if (s->pdeathsig != 0) s->parent_pid = v.self; /* the target dies with the supervisor */

    v.target = fork();
    if (v.target < 0) die("fork", errno);
    if (v.target == 0) {
        /* The target's setup takes signals as the helper did (a handshake waits in it). */
        sigprocmask(SIG_SETMASK, &before, NULL);
        ec_setup_and_exec(s);
    }
    /* Nothing of the command's environment stays readable in the supervisor's /proc/PID/environ
     * (secrets; processes counted by a variable): the target has its own copy. */
    for (char **e = environ; *e != NULL; e++) memset(*e, 0, strlen(*e));

    close(report[1]);
    v.report_fd = report[0];
    fcntl(v.report_fd, F_SETFL, O_NONBLOCK);
    fcntl(v.control_fd, F_SETFL, O_NONBLOCK);
    say(&v, "pid %d\n", (int)v.target);

    /* Out of the data path and off every fd the target was given. */
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int fd = 0; fd <= 2 && devnull >= 0; fd++) dup2(devnull, fd);
    int keep[4] = { v.status_fd, v.control_fd, v.report_fd, v.signal_fd };
    qsort(keep, 4, sizeof keep[0], compare_int);
    close_others(keep, 4);
    if (chdir("/") < 0) { /* only so that no directory is kept busy */ }
    supervise(&v);
}
