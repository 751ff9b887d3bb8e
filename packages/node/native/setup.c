/*
 * setup.c - child-side setup between fork and exec (see setup.h).
 *
 * The steps, in libvirt's virExec order, each one small function below.  A
 * failing step writes "<stage> <errno>\n" to the status fd and exits 125:
 *
 *   0.  signals (vfork callers only): every handler to    -
 *       the default, before anything can be delivered
 *   1.  umask (when set; 0 allowed)                        -
 *   2.  the fd plan: child fd <- parent fd, /dev/null or   "dup2" "open"
 *       nothing; a source that is another entry's target
 *       is copied away first; a fd passed at its own
 *       number loses FD_CLOEXEC (the target gets it);      "keep-fd"
 *       then every other fd from close_from up is closed   "close-fds"
 *       but the status and handshake fds, which get
 *       FD_CLOEXEC (the target never sees them; the        "cloexec"
 *       parent reads EOF on the status fd at exec)
 *   2b. stdio: the FIFOs of a pipeline, stdin first,       "mkfifo" "fifo-open"
 *       then stdout, then stderr: mkfifo(path, 0600)       "fifo-unlink" "dup2"
 *       unless it exists, a blocking open (the
 *       rendezvous with the stage at the other end),
 *       the reader unlinks the path, dup2 onto 0/1/2;
 *       then stderr to stdout: dup2(1, 2)                  "dup2"
 *   3.  new process group: setpgid(0, 0) (not with a       "setpgid"
 *       setsid action, which makes its own group)
 *   4.  die with parent: PR_SET_PDEATHSIG, then re-check   "pdeathsig"
 *       the parent (not for daemons)
 *   5.  daemonize: chdir("/"), sync pipe, fork; the        "chdir" "daemon-pipe" "fork"
 *       intermediate waits for one byte and exits;
 *       the grandchild does setsid, locks and writes the   "setsid" "pidfile-open"
 *       pidfile (a regular file, never through a symlink), "pidfile-type"
 *       then releases the intermediate                     "pidfile-lock" "pidfile-write"
 *       (exit 0; 125 if the grandchild died first).        "daemon-sync"
 *       Later failures come from the grandchild, on the
 *       status fd, after the intermediate exited 0.
 *   6.  rlimits                                            "setrlimit(NOFILE)", ...
 *   7.  pre-exec actions, in the caller's order            "nice" "setsid"
 *                                                          "no-new-privileges"
 *                                                          "oom_score_adj" "ioprio_set"
 *   8.  credentials: keepcaps, setgroups, setresgid,       "keepcaps" "setgroups"
 *       setresuid (then re-arm step 4: the kernel clears   "setresgid" "setresuid"
 *       the parent-death signal when the ids change)
 *   9.  capabilities: bounding set, capset, ambient        "capget" "capset"
 *                                                          "capbset-drop" "ambient"
 *   10. chdir(cwd)                                         "chdir"
 *   11. handshake: write '1', wait for '1'                 "handshake"
 *   12. every signal unblocked (vfork callers only),       "execve"
 *       execve; failure exits 127 (ENOENT) or 126
 *
 * Async-signal-safe on purpose (the native spawn engine calls it right
 * after vfork, in a child that shares the parent's memory): only system
 * calls and plain code - no malloc, no stdio, no locale, no name service, and raw syscalls where glibc's wrapper does more
 * than the system call (setresuid & co. signal every thread of the process).
 */
#define _GNU_SOURCE
#include "setup.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Where the 16-bit-id system calls kept the old names (32-bit x86 and arm),
 * the 32-bit-id ones are the *32 variants; glibc picks them the same way. */
#ifdef SYS_setresuid32
#define EC_SYS_SETGROUPS SYS_setgroups32
#define EC_SYS_SETRESGID SYS_setresgid32
#define EC_SYS_SETRESUID SYS_setresuid32
#else
#define EC_SYS_SETGROUPS SYS_setgroups
#define EC_SYS_SETRESGID SYS_setresgid
#define EC_SYS_SETRESUID SYS_setresuid
#endif

/* _Fork (glibc 2.34) is fork without the atfork handlers and malloc locks:
 * async-signal-safe, and safe in a vfork child of a threaded parent. */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
#define ec_fork _Fork
#else
#define ec_fork fork
#endif

/* ------------------------------------------------------------ small tools */

/* Writes n >= 0 in decimal; returns the length.  buf needs 20 bytes. */
static size_t fmt_uint(char *buf, unsigned long long n)
{
    char tmp[20];
    size_t len = 0;
    do {
        tmp[len++] = (char)('0' + n % 10);
        n /= 10;
    } while (n != 0);
    for (size_t i = 0; i < len; i++)
        buf[i] = tmp[len - 1 - i];
    return len;
}

/* Signed decimal; buf needs 21 bytes. */
static size_t fmt_int(char *buf, long long n)
{
    if (n >= 0)
        return fmt_uint(buf, (unsigned long long)n);
    buf[0] = '-';
    return 1 + fmt_uint(buf + 1, 0ULL - (unsigned long long)n);
}

static size_t append(char *buf, size_t at, size_t cap, const char *s)
{
    while (*s != '\0' && at < cap)
        buf[at++] = *s++;
    return at;
}

/* One write(2), retried only when a signal interrupted it before any byte. */
static int write1(int fd, const char *buf, size_t n)
{
    ssize_t w;
    do
        w = write(fd, buf, n);
    while (w < 0 && errno == EINTR);
    return w == (ssize_t)n ? 0 : -1;
}

/* Reports "<stage> <err>\n" in a single write (atomic on a pipe) and exits. */
static _Noreturn void fail_exit(const struct ec_setup *s, const char *stage, int err, int code)
{
    char rec[96];
    size_t n = append(rec, 0, sizeof rec - 22, stage);
    if (s->failure != 0) {
        size_t k = append(s->failure->stage, 0, sizeof s->failure->stage - 1, stage);
        s->failure->stage[k] = '\0';
        s->failure->err = err != 0 ? err : EINVAL;
    }
    rec[n++] = ' ';
    n += fmt_uint(rec + n, (unsigned)err);
    rec[n++] = '\n';
    if (s->status_fd >= 0)
        (void)write1(s->status_fd, rec, n); /* nobody to tell if this fails */
    _exit(code);
}

static _Noreturn void fail(const struct ec_setup *s, const char *stage, int err)
{
    fail_exit(s, stage, err, EC_EXIT_SETUP);
}

/* ------------------------------------------------------------ rlimit names */

const char *ec_rlimit_name(int resource)
{
    switch (resource) {
    case RLIMIT_AS: return "AS";
    case RLIMIT_CORE: return "CORE";
    case RLIMIT_CPU: return "CPU";
    case RLIMIT_DATA: return "DATA";
    case RLIMIT_FSIZE: return "FSIZE";
    case RLIMIT_LOCKS: return "LOCKS";
    case RLIMIT_MEMLOCK: return "MEMLOCK";
    case RLIMIT_MSGQUEUE: return "MSGQUEUE";
    case RLIMIT_NICE: return "NICE";
    case RLIMIT_NOFILE: return "NOFILE";
    case RLIMIT_NPROC: return "NPROC";
    case RLIMIT_RSS: return "RSS";
    case RLIMIT_RTPRIO: return "RTPRIO";
    case RLIMIT_RTTIME: return "RTTIME";
    case RLIMIT_SIGPENDING: return "SIGPENDING";
    case RLIMIT_STACK: return "STACK";
    default: return 0;
    }
}

/* ------------------------------------------------------------ 0. signals */

/* Before anything can be delivered: the parent's handlers must never run in
 * its shared memory, and an ignored signal (Node ignores SIGPIPE) would stay
 * ignored across exec.  SIG_DFL is 0: an all-zero kernel sigaction. */
static void reset_signals(const struct ec_setup *s)
{
    unsigned long dfl[4] = { 0, 0, 0, 0 };
    if (!s->reset_signals)
        return;
    for (int sig = 1; sig <= 64; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            syscall(SYS_rt_sigaction, sig, dfl, 0, EC_KERNEL_SIGSET_SIZE);
}

static void unblock_signals(const struct ec_setup *s)
{
    unsigned long none = 0;
    if (s->reset_signals)
        syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, 0, EC_KERNEL_SIGSET_SIZE);
}

/* ------------------------------------------------------------ 1. umask */

static void set_umask(const struct ec_setup *s)
{
    if (s->umask >= 0)
        umask((mode_t)s->umask);
}

/* ------------------------------------------------------------ 2. fds */

/* Where child fd `fd` is in the sorted plan, or -1. */
static long find_target(const struct ec_setup *s, long fd)
{
    size_t lo = 0, hi = s->n_fds;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->fds[mid].target == fd)
            return (long)mid;
        if (s->fds[mid].target < fd)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static int is_private(const struct ec_setup *s, long fd)
{
    return fd >= 0 && (fd == s->status_fd || fd == s->handshake_ready_fd || fd == s->handshake_wait_fd);
}

static int is_kept(const struct ec_setup *s, long fd)
{
    return fd < s->close_from || is_private(s, fd) || find_target(s, fd) >= 0;
}

static void set_cloexec(const struct ec_setup *s, int fd, int on, const char *stage)
{
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0 || fcntl(fd, F_SETFD, on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC) < 0)
        fail(s, stage, errno);
}

/* A source that is another entry's target, given something else there, would
 * be overwritten before it is read. */
static int endangered(const struct ec_setup *s, size_t i)
{
    int source = s->fds[i].source;
    if (source < 0 || source == s->fds[i].target)
        return 0;
    long j = find_target(s, source);
    return j >= 0 && s->fds[j].source != source;
}

/*
 * The plan, in the number of its entries whatever the fd numbers are: each
 * endangered source is first copied to the lowest free fd that is no target
 * (close-on-exec; closed by the close step); a copy that lands on a target
 * stays open as a placeholder until that target's own entry replaces it.
 */
static void apply_fd_plan(const struct ec_setup *s)
{
    for (size_t i = 0; i < s->n_fds; i++) {
        if (!endangered(s, i))
            continue;
        int copy;
        do
            if ((copy = fcntl(s->fds[i].source, F_DUPFD_CLOEXEC, 0)) < 0)
                fail(s, "dup2", errno);
        while (find_target(s, copy) >= 0);
        s->staged[i] = copy;
    }
    for (size_t i = 0; i < s->n_fds; i++) {
        const int target = s->fds[i].target, source = endangered(s, i) ? s->staged[i] : s->fds[i].source;
        if (source == EC_FD_DEV_NULL) {
            /* Closed first, like posix_spawn's open action: a parent at its fd limit still can. */
            close(target);
            int fd = open("/dev/null", O_RDWR);
            if (fd < 0)
                fail(s, "open", errno);
            if (fd != target && (dup2(fd, target) < 0 || close(fd) < 0))
                fail(s, "dup2", errno);
        } else if (source == EC_FD_CLOSED) {
            close(target);
        } else if (source == target) {
            set_cloexec(s, target, 0, "keep-fd");
        } else if (dup2(source, target) < 0) { /* dup2 leaves the copy without FD_CLOEXEC */
            fail(s, "dup2", errno);
        }
    }
}

#if defined(SYS_close_range) && !defined(EC_FORCE_PROC_FD_SCAN)
/* The smallest kept fd >= from (from >= close_from), or -1: the plan is
 * sorted, so a binary search, then the three private fds. */
static long next_kept(const struct ec_setup *s, long from)
{
    size_t lo = 0, hi = s->n_fds;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->fds[mid].target < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    long best = lo < s->n_fds ? s->fds[lo].target : -1;
    const int special[3] = { s->status_fd, s->handshake_ready_fd, s->handshake_wait_fd };
    for (size_t i = 0; i < 3; i++)
        if (special[i] >= from && (best < 0 || special[i] < best))
            best = special[i];
    return best;
}

/* close_range(2) (Linux 5.9) over the gaps between kept fds: one system call
 * per kept fd, whatever the fd limit.  -1 with ENOSYS on older kernels (or
 * EPERM from a seccomp filter that does not know it), before anything was
 * closed. */
static int close_gaps(const struct ec_setup *s)
{
    long lo = s->close_from;
    for (;;) {
        long kept = next_kept(s, lo);
        unsigned int hi = kept < 0 ? ~0U : (unsigned int)(kept - 1);
        if ((kept < 0 || kept > lo) && syscall(SYS_close_range, (unsigned int)lo, hi, 0) < 0)
            return -1;
        if (kept < 0)
            return 0;
        lo = kept + 1;
    }
}
#else /* no close_range, or -DEC_FORCE_PROC_FD_SCAN to test the fallback */
static int close_gaps(const struct ec_setup *s)
{
    (void)s;
    errno = ENOSYS;
    return -1;
}
#endif

struct ec_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/* Without close_range: list /proc/self/fd with getdents64 into a stack
 * buffer and close as we go.  Closing while listing is safe here: the
 * directory's position is the fd number, so no entry is skipped. */
static int close_listed(const struct ec_setup *s)
{
    uint64_t buf[512]; /* 4 KiB, aligned for the records */
    int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return -1;
    for (;;) {
        long n = syscall(SYS_getdents64, dir, buf, sizeof buf);
        if (n < 0) {
            int err = errno;
            close(dir);
            errno = err;
            return -1;
        }
        if (n == 0)
            break;
        for (long off = 0; off < n;) {
            const struct ec_dirent64 *d = (const struct ec_dirent64 *)((const char *)buf + off);
            long fd = 0;
            off += d->d_reclen;
            if (d->d_name[0] < '0' || d->d_name[0] > '9')
                continue; /* "." and ".." */
            for (const char *p = d->d_name; *p >= '0' && *p <= '9'; p++)
                fd = fd * 10 + (*p - '0');
            if (fd != dir && !is_kept(s, fd))
                close((int)fd);
        }
    }
    close(dir);
    return 0;
}

static void setup_fds(const struct ec_setup *s)
{
    apply_fd_plan(s);
    if (close_gaps(s) < 0 && ((errno != ENOSYS && errno != EPERM) || close_listed(s) < 0))
        fail(s, "close-fds", errno);
    if (s->status_fd >= 0)
        set_cloexec(s, s->status_fd, 1, "cloexec");
    if (s->handshake_ready_fd >= 0) {
        set_cloexec(s, s->handshake_ready_fd, 1, "cloexec");
        set_cloexec(s, s->handshake_wait_fd, 1, "cloexec");
    }
}

/* ------------------------------------------------------------ 2b. stdio */

/* strcmp without libc: both non-null and equal. */
static int same_path(const char *a, const char *b)
{
    if (a == 0 || b == 0)
        return 0;
    while (*a != '\0' && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

/* fd (close-on-exec) becomes target (0, 1 or 2), which the target keeps. */
static void move_fd(const struct ec_setup *s, int fd, int target)
{
    if (fd == target) {
        /* target was closed, so open(2) picked it: keep it, minus O_CLOEXEC */
        set_cloexec(s, fd, 0, "dup2");
        return;
    }
    if (dup2(fd, target) < 0) /* dup2 leaves the copy without FD_CLOEXEC */
        fail(s, "dup2", errno);
    close(fd);
}

/*
 * One end of a pipeline's pipe, met at a FIFO path in a directory private to
 * the caller.  Both stages run this, in either order: whoever comes first
 * creates the FIFO (the other gets EEXIST), and each open(2) blocks until the
 * other side opens too.  When the reader's open returns, the writer is inside
 * its open with the inode in hand, so the reader can unlink the name: nothing
 * is left behind once both have met.
 */
static void open_fifo(const struct ec_setup *s, const char *path, int target)
{
    int reader = target == 0;
    struct stat st;
    int fd, rc, err;
    /* Exactly 0600 whatever umask step 1 set for the target (a umask taking
     * the owner's bits would lock the other stage out of the FIFO). */
    mode_t mask = umask(0);
    rc = mkfifo(path, 0600);
    err = errno;
    umask(mask);
    if (rc < 0 && err != EEXIST)
        fail(s, "mkfifo", err);
    do
        fd = open(path, (reader ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        fail(s, "fifo-open", errno);
    /* EEXIST from mkfifo was fine only if what exists is a FIFO.  Checked on
     * the open file (no race); a regular file opened here is left untouched. */
    if (fstat(fd, &st) < 0)
        fail(s, "fifo-open", errno);
    if (!S_ISFIFO(st.st_mode))
        fail(s, "mkfifo", EEXIST);
    if (reader && unlink(path) < 0 && errno != ENOENT)
        fail(s, "fifo-unlink", errno);
    move_fd(s, fd, target);
}

static void setup_stdio(const struct ec_setup *s)
{
    int err_is_out = same_path(s->stderr_fifo, s->stdout_fifo);
    if (s->stdin_fifo != 0)
        open_fifo(s, s->stdin_fifo, 0);
    if (s->stdout_fifo != 0)
        open_fifo(s, s->stdout_fifo, 1);
    /* Opening the same path again would wait for a second reader (the first
     * one unlinked the name already): share stdout's pipe instead. */
    if (s->stderr_fifo != 0 && !err_is_out)
        open_fifo(s, s->stderr_fifo, 2);
    /* The same open file description, not a copy of the stream: one offset,
     * one pipe, so the order of interleaved writes survives. */
    if ((s->stderr_to_stdout || err_is_out) && dup2(1, 2) < 0)
        fail(s, "dup2", errno);
}

/* ------------------------------------------------------------ 3. pgid */

static int has_setsid_action(const struct ec_setup *s)
{
    for (size_t i = 0; i < s->n_actions; i++)
        if (s->actions[i].kind == EC_ACT_SETSID)
            return 1;
    return 0;
}

static void new_process_group(const struct ec_setup *s)
{
    /* A setsid action makes a new group itself, and would fail with EPERM
     * if we were a group leader already; a group leader needs nothing. */
    if (!s->new_pgid || has_setsid_action(s) || getpgid(0) == getpid())
        return;
    if (setpgid(0, 0) < 0)
        fail(s, "setpgid", errno);
}

/* ------------------------------------------------------------ 4. pdeathsig */

static void die_with_parent(const struct ec_setup *s)
{
    if (s->pdeathsig == 0 || s->daemonize)
        return;
    if (prctl(PR_SET_PDEATHSIG, (unsigned long)s->pdeathsig, 0, 0, 0) < 0)
        fail(s, "pdeathsig", errno);
    /* If the parent died before the prctl, nobody will ever send the signal:
     * we have been reparented, so send it ourselves.  kill(getpid()) rather
     * than raise(): raise trusts glibc's cached thread id. */
    if (s->parent_pid > 0 && getppid() != s->parent_pid)
        kill(getpid(), s->pdeathsig);
}

/* ------------------------------------------------------------ 5. daemonize */

/*
 * The pid file is opened as what its name is, never through a symlink
 * (O_NOFOLLOW: ELOOP), and only a regular file is written: a symlink planted
 * in a shared directory must not make a root daemon truncate its target, and
 * a FIFO or a device must neither block the open (O_NONBLOCK) nor be written.
 */
static int open_pidfile(const struct ec_setup *s)
{
    struct stat st;
    int fd = open(s->pidfile, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC, 0644);
    if (fd < 0)
        fail(s, "pidfile-open", errno);
    if (fstat(fd, &st) < 0)
        fail(s, "pidfile-open", errno);
    /* A second hard link would have the pid written into a file that is also someone else's. */
    if (!S_ISREG(st.st_mode) || st.st_nlink != 1)
        fail(s, "pidfile-type", EINVAL);
    return fd;
}

static void acquire_pidfile(const struct ec_setup *s)
{
    for (;;) {
        struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
        struct stat held, named;
        int fd = open_pidfile(s);
        /* Whole file, non-blocking: a live daemon holds it, so EAGAIN/EACCES
         * means "already running". */
        if (fcntl(fd, F_SETLK, &lock) < 0)
            fail(s, "pidfile-lock", errno);
        /* Whoever cleans up stale pidfiles may have unlinked or replaced the
         * file between our open and our lock: then our lock guards nothing
         * and we start over with the file that now has the name. */
        if (fstat(fd, &held) < 0)
            fail(s, "pidfile-lock", errno);
        int named_ok = lstat(s->pidfile, &named) == 0;
        if (!named_ok && errno != ENOENT)
            fail(s, "pidfile-lock", errno);
        if (!named_ok || named.st_dev != held.st_dev || named.st_ino != held.st_ino) {
            close(fd);
            continue;
        }
        char pid[20];
        size_t n = fmt_uint(pid, (unsigned long long)getpid());
        if (ftruncate(fd, 0) < 0 || write1(fd, pid, n) < 0)
            fail(s, "pidfile-write", errno);
        /* The daemon keeps the locked fd open: the lock lives as long as it. */
        set_cloexec(s, fd, 0, "pidfile-write");
        return;
    }
}

static void daemonize(const struct ec_setup *s)
{
    int sync[2];
    if (!s->daemonize)
        return;
    if (chdir("/") < 0)
        fail(s, "chdir", errno);
    if (pipe2(sync, O_CLOEXEC) < 0)
        fail(s, "daemon-pipe", errno);
    pid_t pid = ec_fork();
    if (pid < 0)
        fail(s, "fork", errno);
    if (pid > 0) {
        /* Intermediate: exit only when the grandchild holds the pidfile, so
         * the parent finds it written and locked as soon as we are reaped.
         * Close our write end first, or a grandchild that dies early would
         * leave us blocked forever (libvirt's 2020 code has that bug). */
        char byte;
        ssize_t n;
        close(sync[1]);
        do
            n = read(sync[0], &byte, 1);
        while (n < 0 && errno == EINTR);
        _exit(n == 1 ? 0 : EC_EXIT_SETUP);
    }
    close(sync[0]);
    /* setsid here, not before the fork: the daemon itself is then the leader
     * of a new session (without a controlling terminal), and setsid cannot
     * fail with EPERM because step 3 made the intermediate a group leader. */
    if (setsid() < 0)
        fail(s, "setsid", errno);
    if (s->pidfile != 0)
        acquire_pidfile(s);
    if (write1(sync[1], "1", 1) < 0)
        fail(s, "daemon-sync", errno);
    close(sync[1]);
}

/* ------------------------------------------------------------ 6. rlimits */

static void set_rlimits(const struct ec_setup *s)
{
    for (size_t i = 0; i < s->n_rlimits; i++) {
        const struct ec_rlimit *r = &s->rlimits[i];
        struct rlimit lim = { .rlim_cur = r->soft, .rlim_max = r->hard };
        if (setrlimit(r->resource, &lim) < 0) {
            int err = errno;
            const char *name = ec_rlimit_name(r->resource);
            char stage[40];
            size_t n = append(stage, 0, sizeof stage - 1, "setrlimit(");
            if (name != 0)
                n = append(stage, n, sizeof stage - 1, name);
            else
                n += fmt_int(stage + n, r->resource);
            n = append(stage, n, sizeof stage - 1, ")");
            stage[n] = '\0';
            fail(s, stage, err);
        }
    }
}

/* ------------------------------------------------------------ 7. actions */

static int write_oom_score_adj(int value)
{
    char buf[21];
    size_t n = fmt_int(buf, value);
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = write1(fd, buf, n);
    int err = errno;
    close(fd);
    errno = err;
    return rc;
}

static void run_actions(const struct ec_setup *s)
{
    for (size_t i = 0; i < s->n_actions; i++) {
        const struct ec_action *a = &s->actions[i];
        switch (a->kind) {
        case EC_ACT_NICE: {
            /* nice(2): an increment, the result clamped to -20..19.  The raw
             * getpriority returns 20 - nice (1..40): no errno guesswork. */
            long now = syscall(SYS_getpriority, PRIO_PROCESS, 0);
            long want = 20 - now + a->value;
            want = want < -20 ? -20 : want > 19 ? 19 : want;
            if (now < 0 || setpriority(PRIO_PROCESS, 0, (int)want) < 0)
                fail(s, "nice", errno);
            break;
        }
        case EC_ACT_SETSID:
            if (getsid(0) != getpid() && setsid() < 0)
                fail(s, "setsid", errno);
            break;
        case EC_ACT_NO_NEW_PRIVS:
            if (prctl(PR_SET_NO_NEW_PRIVS, 1UL, 0UL, 0UL, 0UL) < 0)
                fail(s, "no-new-privileges", errno);
            break;
        case EC_ACT_OOM_SCORE_ADJ:
            if (write_oom_score_adj(a->value) < 0)
                fail(s, "oom_score_adj", errno);
            break;
        case EC_ACT_IOPRIO:
            /* No glibc wrapper.  IOPRIO_WHO_PROCESS = 1, who 0 = ourselves,
             * IOPRIO_PRIO_VALUE(class, level) = class << 13 | level. */
            if (syscall(SYS_ioprio_set, 1, 0, (a->value << 13) | a->level) < 0)
                fail(s, "ioprio_set", errno);
            break;
        }
    }
}

/* ------------------------------------------------------------ 8. ids */

static int caps_requested(const struct ec_setup *s)
{
    return s->clear_caps || s->allowed_caps != 0;
}

static void set_credentials(const struct ec_setup *s)
{
    /* Leaving uid 0 empties the permitted set unless KEEPCAPS is set; step 9
     * needs it (CAP_SETPCAP for the bounding set, the allowed caps). */
    if (s->uid != EC_UNSET_ID && caps_requested(s) && prctl(PR_SET_KEEPCAPS, 1UL, 0UL, 0UL, 0UL) < 0)
        fail(s, "keepcaps", errno);
    /* Raw system calls: glibc's wrappers broadcast the change to every
     * thread of the process, which is not ours to touch after vfork. */
    if (s->has_groups && syscall(EC_SYS_SETGROUPS, s->n_groups, s->groups) < 0)
        fail(s, "setgroups", errno);
    if (s->gid != EC_UNSET_ID && syscall(EC_SYS_SETRESGID, s->gid, s->gid, s->gid) < 0)
        fail(s, "setresgid", errno);
    if (s->uid != EC_UNSET_ID && syscall(EC_SYS_SETRESUID, s->uid, s->uid, s->uid) < 0)
        fail(s, "setresuid", errno);
    /* Changing the effective uid or gid clears the parent-death signal. */
    if (s->uid != EC_UNSET_ID || s->gid != EC_UNSET_ID)
        die_with_parent(s);
}

/* ------------------------------------------------------------ 9. caps */

static void set_caps(const struct ec_setup *s)
{
    struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct d[2];
    uint64_t allowed = s->allowed_caps;
    int last = s->cap_last_cap > 63 ? 63 : s->cap_last_cap;

    if (!caps_requested(s))
        return;
    if (syscall(SYS_capget, &hdr, d) < 0)
        fail(s, "capget", errno);
    /* After setresuid with KEEPCAPS the permitted set survived but the
     * effective set is empty: make everything permitted effective again for
     * the bounding-set drop below. */
    d[0].effective = d[0].permitted;
    d[1].effective = d[1].permitted;
    if (syscall(SYS_capset, &hdr, d) < 0)
        fail(s, "capset", errno);
    /* Shrinking the bounding set needs CAP_SETPCAP.  Without it (a caller
     * that is not root) skip it, as libvirt does: such a process has no
     * capabilities to keep, and the bounding set only limits what an exec of
     * a setuid or file-capability binary could add. */
    if ((d[0].permitted & (1U << CAP_SETPCAP)) != 0) {
        for (int cap = 0; cap <= last; cap++)
            if ((allowed & (1ULL << cap)) == 0 && prctl(PR_CAPBSET_DROP, (unsigned long)cap, 0UL, 0UL, 0UL) < 0)
                fail(s, "capbset-drop", errno);
    }
    d[0].effective = d[0].permitted = d[0].inheritable = (uint32_t)allowed;
    d[1].effective = d[1].permitted = d[1].inheritable = (uint32_t)(allowed >> 32);
    if (syscall(SYS_capset, &hdr, d) < 0)
        fail(s, "capset", errno);
    /* Ambient capabilities are what a non-root uid keeps across execve of an
     * ordinary binary; each needs to be permitted and inheritable (done). */
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0UL, 0UL, 0UL) < 0)
        fail(s, "ambient", errno);
    for (int cap = 0; cap <= last; cap++)
        if ((allowed & (1ULL << cap)) != 0 && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, (unsigned long)cap, 0UL, 0UL) < 0)
            fail(s, "ambient", errno);
}

/* ------------------------------------------------------------ 10. cwd */

static void change_directory(const struct ec_setup *s)
{
    if (s->cwd != 0 && chdir(s->cwd) < 0)
        fail(s, "chdir", errno);
}

/* ------------------------------------------------------------ 11. handshake */

static void handshake(const struct ec_setup *s)
{
    char byte = '1';
    ssize_t n;
    if (s->handshake_ready_fd < 0)
        return;
    if (write1(s->handshake_ready_fd, &byte, 1) < 0)
        fail(s, "handshake", errno);
    do
        n = read(s->handshake_wait_fd, &byte, 1);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        fail(s, "handshake", errno);
    if (n == 0)
        fail(s, "handshake", EPIPE); /* the parent went away or gave up */
    if (byte != '1')
        fail(s, "handshake", EPROTO);
}

/* ------------------------------------------------------------ 12. exec */

_Noreturn void ec_setup_and_exec(const struct ec_setup *s)
{
    reset_signals(s);
    set_umask(s);
    setup_fds(s);
    setup_stdio(s);
    new_process_group(s);
    die_with_parent(s);
    daemonize(s);
    set_rlimits(s);
    run_actions(s);
    set_credentials(s);
    set_caps(s);
    change_directory(s);
    handshake(s);
    unblock_signals(s);
    execve(s->path, s->argv, s->envp);
    int err = errno;
    fail_exit(s, "execve", err, err == ENOENT ? EC_EXIT_NOENT : EC_EXIT_NOEXEC);
}
