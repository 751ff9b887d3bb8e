/*
 * helper.c - effect-command-helper: applies the child-side setup of a
 * command (setup.c) and execs the target in place, keeping the pid.
 *
 *   effect-command-helper --status-fd N [options] -- PATH ARGV0 [ARGS...]
 *
 *   --status-fd N              where failures are reported (required, N >= 3)
 *   --umask OCTAL              0..0777
 *   --keep-fd N                an fd the target keeps (repeatable); every
 *                              other fd >= 3 is closed
 *   --stdin-fifo PATH  --stdout-fifo PATH  --stderr-fifo PATH
 *                              kernel-pipe stdio for a pipeline: PATH is in a
 *                              private directory of the caller; the helpers of
 *                              two stages (started in either order) each do
 *                              mkfifo(PATH, 0600) unless it exists (the umask
 *                              does not apply), then a blocking open (stdin:
 *                              O_RDONLY, stdout/stderr: O_WRONLY) that waits
 *                              for the other stage, and dup2 onto fd 0/1/2.
 *                              The reader (--stdin-fifo) unlinks PATH once its
 *                              open returned: after the rendezvous the name is
 *                              gone.  One writer and one reader per PATH; a
 *                              middle stage gives --stdin-fifo and
 *                              --stdout-fifo.  --stderr-fifo with the
 *                              --stdout-fifo PATH means dup2(1, 2), as does
 *                              --stdout-fifo PATH --stderr-to-stdout.  A stage
 *                              that never comes leaves the other blocked in
 *                              open(2), before exec (status fd still open):
 *                              the caller kills it.  Done before every other
 *                              step but umask and closing fds.
 *   --stderr-to-stdout         dup2(1, 2) (after the FIFOs)
 *   --pgid new|inherit         own process group (default) or the parent's
 *   --pdeathsig SIGNUM --parent-pid PID
 *                              die with the parent (not with --daemonize)
 *   --daemonize [--pidfile PATH]  PATH: a regular file, never through a
 *                              symlink ("pidfile-open" ELOOP, "pidfile-type")
 *   --rlimit NAME:SOFT:HARD    NAME: AS CORE CPU DATA FSIZE LOCKS MEMLOCK
 *                              MSGQUEUE NICE NOFILE NPROC RSS RTPRIO RTTIME
 *                              SIGPENDING STACK; SOFT, HARD: decimal or
 *                              "unlimited" (repeatable)
 *   --nice N | --setsid | --no-new-privs | --oom-score-adj N
 *   | --ioprio CLASS:LEVEL     pre-exec actions, applied in the order given;
 *                              N for --nice is an increment (-40..40) as
 *                              for nice(1), the result clamped to -20..19;
 *                              CLASS realtime|best-effort|idle, LEVEL 0..7
 *   --uid NAME|N  --gid NAME|N  --groups LIST
 *                              LIST: comma-separated names or numbers, ""
 *                              for none.  Without --groups: the user's
 *                              groups (getgrouplist) plus --gid; none for a
 *                              numeric uid without a passwd entry; [gid] with
 *                              only --gid (as libvirt).  Without --gid, --uid
 *                              uses the user's primary group.
 *   --clear-caps               drop every capability ...
 *   --allow-cap N              ... except N (repeatable; implies --clear-caps)
 *   --cwd DIR
 *   --handshake-ready FD --handshake-wait FD
 *                              write '1' to READY, wait for '1' on WAIT
 *   PATH                       executed as is (no PATH search)
 *
 * Every failure, here or in the setup, is one record "<stage> <errno>\n" on
 * the status fd, then exit 125 (execve: 127 for ENOENT, else 126).  Stages
 * from this file: "usage" (EINVAL), "getpwnam" and "getgrnam" (ENOENT for an
 * unknown name), "malloc" (ENOMEM).  Stages of the FIFOs: "mkfifo" (EEXIST
 * when PATH exists but is no FIFO), "fifo-open", "fifo-unlink" (the reader;
 * ENOENT is ignored), "dup2".  Parsing may use all of libc; only
 * ec_setup_and_exec() has to be async-signal-safe.
 */
#define _GNU_SOURCE
#include "setup.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

static int status_fd = -1;

/* Record on the status fd, a readable line on stderr, exit 125. */
static _Noreturn void die(const char *stage, int err, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "effect-command-helper: %s\n", msg);
    if (status_fd >= 0) {
        char rec[64];
        int n = snprintf(rec, sizeof rec, "%s %d\n", stage, err);
        if (write(status_fd, rec, (size_t)n) < 0) { /* nobody left to tell */ }
    }
    _exit(EC_EXIT_SETUP);
}

#define usage(...) die("usage", EINVAL, __VA_ARGS__)

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n == 0 ? 1 : n, size);
    if (p == NULL)
        die("malloc", ENOMEM, "out of memory");
    return p;
}

static int is_digits(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s != '\0'; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/* A whole-string integer in [min, max]; no spaces, no '+'. */
static long parse_long(const char *opt, const char *arg, int base, long min, long max)
{
    char *end;
    long v;
    if (!is_digits(arg[0] == '-' ? arg + 1 : arg))
        usage("%s: not a number: '%s'", opt, arg);
    errno = 0;
    v = strtol(arg, &end, base);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        usage("%s: out of range: '%s'", opt, arg);
    return v;
}

static rlim_t parse_rlim(const char *arg, const char *spec)
{
    char *end;
    unsigned long long v;
    if (strcmp(arg, "unlimited") == 0)
        return RLIM_INFINITY;
    if (!is_digits(arg))
        usage("--rlimit: bad value in '%s'", spec);
    errno = 0;
    v = strtoull(arg, &end, 10);
    if (errno != 0 || *end != '\0')
        usage("--rlimit: bad value in '%s'", spec);
    return (rlim_t)v;
}

static struct ec_rlimit parse_rlimit(const char *spec)
{
    char buf[128];
    char *soft, *hard;
    struct ec_rlimit r = { .resource = -1 };
    if (strlen(spec) >= sizeof buf)
        usage("--rlimit: too long: '%s'", spec);
    strcpy(buf, spec);
    soft = strchr(buf, ':');
    hard = soft == NULL ? NULL : strchr(soft + 1, ':');
    if (hard == NULL)
        usage("--rlimit: expected NAME:SOFT:HARD, got '%s'", spec);
    *soft++ = '\0';
    *hard++ = '\0';
    for (int res = 0; res < RLIM_NLIMITS; res++) {
        const char *name = ec_rlimit_name(res);
        if (name != NULL && strcmp(name, buf) == 0)
            r.resource = res;
    }
    if (r.resource < 0)
        usage("--rlimit: unknown resource '%s'", buf);
    r.soft = parse_rlim(soft, spec);
    r.hard = parse_rlim(hard, spec);
    return r;
}

static struct ec_action parse_ioprio(const char *spec)
{
    static const struct { const char *name; int class; } classes[] = {
        { "realtime:", EC_IOPRIO_REALTIME },
        { "best-effort:", EC_IOPRIO_BEST_EFFORT },
        { "idle:", EC_IOPRIO_IDLE },
    };
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++) {
        size_t n = strlen(classes[i].name);
        if (strncmp(spec, classes[i].name, n) == 0)
            return (struct ec_action){ EC_ACT_IOPRIO, classes[i].class, (int)parse_long("--ioprio", spec + n, 10, 0, 7) };
    }
    usage("--ioprio: expected realtime|best-effort|idle:LEVEL, got '%s'", spec);
}

/* uid_t and gid_t are 32 bits; -1 means "unchanged" and is no valid id. */
static unsigned int parse_id(const char *opt, const char *arg)
{
    char *end;
    unsigned long v;
    errno = 0;
    v = strtoul(arg, &end, 10);
    if (errno != 0 || *end != '\0' || v >= EC_UNSET_ID)
        usage("%s: out of range: '%s'", opt, arg);
    return (unsigned int)v;
}

static gid_t resolve_group(const char *name)
{
    struct group *gr;
    if (is_digits(name))
        return parse_id("--gid/--groups", name);
    errno = 0;
    gr = getgrnam(name);
    if (gr == NULL)
        die("getgrnam", errno != 0 ? errno : ENOENT, "unknown group '%s'", name);
    return gr->gr_gid;
}

static int cap_last_cap(void)
{
    char buf[16] = { 0 };
    int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (fd >= 0)
        close(fd);
    /* Without /proc, trust the kernel headers we were built with. */
    int last = n > 0 ? atoi(buf) : -1;
    return last >= 0 ? last : CAP_LAST_CAP;
}

/* Fills the credential fields of s from the --uid/--gid/--groups strings. */
static void resolve_ids(struct ec_setup *s, const char *uid_arg, const char *gid_arg, const char *groups_arg)
{
    char *user = NULL; /* login name, when the uid has a passwd entry */
    gid_t primary = 0;

    if (uid_arg != NULL) {
        struct passwd *pw;
        errno = 0;
        if (is_digits(uid_arg)) {
            s->uid = parse_id("--uid", uid_arg);
            pw = getpwuid(s->uid); /* no entry is fine for a number */
        } else {
            pw = getpwnam(uid_arg);
            if (pw == NULL)
                die("getpwnam", errno != 0 ? errno : ENOENT, "unknown user '%s'", uid_arg);
            s->uid = pw->pw_uid;
        }
        if (pw != NULL) {
            user = strdup(pw->pw_name);
            if (user == NULL)
                die("malloc", ENOMEM, "out of memory");
            primary = pw->pw_gid;
        }
    }
    if (gid_arg != NULL)
        s->gid = resolve_group(gid_arg);
    else if (user != NULL)
        s->gid = primary;

    if (groups_arg != NULL) {
        /* At most one group per comma, plus one. */
        size_t max = 1;
        for (const char *p = groups_arg; *p != '\0'; p++)
            max += *p == ',';
        gid_t *list = xcalloc(max, sizeof *list);
        size_t n = 0;
        if (*groups_arg != '\0') {
            char *copy = strdup(groups_arg), *save = NULL;
            if (copy == NULL)
                die("malloc", ENOMEM, "out of memory");
            for (const char *p = copy; *p != '\0'; p++)
                if (*p == ',' && (p == copy || p[1] == '\0' || p[1] == ','))
                    usage("--groups: empty name in '%s'", groups_arg);
            for (char *g = strtok_r(copy, ",", &save); g != NULL; g = strtok_r(NULL, ",", &save))
                list[n++] = resolve_group(g);
            free(copy);
        }
        s->groups = list;
        s->n_groups = n;
        s->has_groups = 1;
    } else if (user != NULL) {
        int n = 32;
        gid_t *list = xcalloc((size_t)n + 1, sizeof *list);
        /* -1 with n raised to the size needed when the buffer is too small. */
        while (getgrouplist(user, primary, list, &n) < 0) {
            free(list);
            list = xcalloc((size_t)n + 1, sizeof *list);
        }
        /* libvirt's virGetGroupList: the user's groups, plus the explicit gid. */
        int found = 0;
        for (int i = 0; i < n; i++)
            found |= list[i] == s->gid;
        if (gid_arg != NULL && !found)
            list[n++] = s->gid;
        s->groups = list;
        s->n_groups = (size_t)n;
        s->has_groups = 1;
    } else if (uid_arg != NULL || gid_arg != NULL) {
        /* A numeric uid without a passwd entry: no supplementary groups;
         * only --gid: just that group (as libvirt). */
        gid_t *list = xcalloc(1, sizeof *list);
        list[0] = s->gid;
        s->groups = list;
        s->n_groups = gid_arg != NULL ? 1 : 0;
        s->has_groups = 1;
    }
    free(user);
}

/* --status-fd first, so that even a usage error can be reported there. */
static void find_status_fd(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--status-fd") == 0) {
            char *end;
            long fd;
            errno = 0;
            fd = strtol(argv[i + 1], &end, 10);
            if (is_digits(argv[i + 1]) && errno == 0 && *end == '\0' && fd >= 3 && fd <= INT_MAX &&
                fcntl((int)fd, F_GETFD) >= 0)
                status_fd = (int)fd;
            break;
        }
    }
    if (status_fd < 0) {
        fprintf(stderr, "effect-command-helper: --status-fd N (an open fd >= 3) is required\n");
        _exit(EC_EXIT_SETUP);
    }
}

static int compare_fd(const void *a, const void *b)
{
    const struct ec_fd *x = a, *y = b;
    return (x->target > y->target) - (x->target < y->target);
}

/* The fd plan is sorted by target, each target once (--keep-fd may repeat one). */
static void sort_unique(struct ec_fd *fds, size_t *n)
{
    size_t out = 0;
    qsort(fds, *n, sizeof *fds, compare_fd);
    for (size_t i = 0; i < *n; i++)
        if (out == 0 || fds[out - 1].target != fds[i].target)
            fds[out++] = fds[i];
    *n = out;
}

static void once(int *seen, const char *opt)
{
    if ((*seen)++ != 0)
        usage("%s given twice", opt);
}

static const char *fifo_path(const char *opt, const char *val)
{
    if (*val == '\0')
        usage("%s: empty path", opt);
    return val;
}

int main(int argc, char **argv)
{
    struct ec_setup s = {
        .umask = -1,
        .status_fd = -1,
        .new_pgid = 1,
        .gid = EC_UNSET_ID,
        .uid = EC_UNSET_ID,
        .handshake_ready_fd = -1,
        .handshake_wait_fd = -1,
    };
    /* No option list is longer than argv. */
    struct ec_fd *keep = xcalloc((size_t)argc, sizeof *keep);
    struct ec_rlimit *rlimits = xcalloc((size_t)argc, sizeof *rlimits);
    struct ec_action *actions = xcalloc((size_t)argc, sizeof *actions);
    const char *uid_arg = NULL, *gid_arg = NULL, *groups_arg = NULL;
    int seen_status = 0, seen_umask = 0, seen_pgid = 0, seen_sig = 0, seen_ppid = 0, seen_daemon = 0,
        seen_pidfile = 0, seen_uid = 0, seen_gid = 0, seen_groups = 0, seen_clear = 0, seen_cwd = 0,
        seen_ready = 0, seen_wait = 0, seen_stderr = 0, seen_in_fifo = 0, seen_out_fifo = 0, seen_err_fifo = 0;
    int i;

    find_status_fd(argc, argv);

    for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        const char *opt = argv[i];
        /* Every option but the flags takes the next argument. */
        int flag = strcmp(opt, "--stderr-to-stdout") == 0 || strcmp(opt, "--daemonize") == 0 ||
                   strcmp(opt, "--setsid") == 0 || strcmp(opt, "--no-new-privs") == 0 ||
                   strcmp(opt, "--clear-caps") == 0;
        const char *val = NULL;
        if (!flag) {
            if (i + 1 >= argc)
                usage("%s needs a value", opt);
            val = argv[++i];
        }

        if (strcmp(opt, "--status-fd") == 0) {
            once(&seen_status, opt);
            s.status_fd = (int)parse_long(opt, val, 10, 3, INT_MAX);
        } else if (strcmp(opt, "--umask") == 0) {
            once(&seen_umask, opt);
            s.umask = (int)parse_long(opt, val, 8, 0, 0777);
        } else if (strcmp(opt, "--keep-fd") == 0) {
            int fd = (int)parse_long(opt, val, 10, 0, INT_MAX);
            keep[s.n_fds++] = (struct ec_fd){ fd, fd };
        } else if (strcmp(opt, "--stderr-to-stdout") == 0) {
            once(&seen_stderr, opt);
            s.stderr_to_stdout = 1;
        } else if (strcmp(opt, "--stdin-fifo") == 0) {
            once(&seen_in_fifo, opt);
            s.stdin_fifo = fifo_path(opt, val);
        } else if (strcmp(opt, "--stdout-fifo") == 0) {
            once(&seen_out_fifo, opt);
            s.stdout_fifo = fifo_path(opt, val);
        } else if (strcmp(opt, "--stderr-fifo") == 0) {
            once(&seen_err_fifo, opt);
            s.stderr_fifo = fifo_path(opt, val);
        } else if (strcmp(opt, "--pgid") == 0) {
            once(&seen_pgid, opt);
            if (strcmp(val, "new") != 0 && strcmp(val, "inherit") != 0)
                usage("--pgid: expected new or inherit, got '%s'", val);
            s.new_pgid = strcmp(val, "new") == 0;
        } else if (strcmp(opt, "--pdeathsig") == 0) {
            once(&seen_sig, opt);
            s.pdeathsig = (int)parse_long(opt, val, 10, 1, SIGRTMAX);
        } else if (strcmp(opt, "--parent-pid") == 0) {
            once(&seen_ppid, opt);
            s.parent_pid = (pid_t)parse_long(opt, val, 10, 1, INT_MAX);
        } else if (strcmp(opt, "--daemonize") == 0) {
            once(&seen_daemon, opt);
            s.daemonize = 1;
        } else if (strcmp(opt, "--pidfile") == 0) {
            once(&seen_pidfile, opt);
            if (*val == '\0')
                usage("--pidfile: empty path");
            s.pidfile = val;
        } else if (strcmp(opt, "--rlimit") == 0) {
            rlimits[s.n_rlimits++] = parse_rlimit(val);
        } else if (strcmp(opt, "--nice") == 0) {
            actions[s.n_actions++] = (struct ec_action){ EC_ACT_NICE, (int)parse_long(opt, val, 10, -40, 40), 0 };
        } else if (strcmp(opt, "--setsid") == 0) {
            actions[s.n_actions++] = (struct ec_action){ EC_ACT_SETSID, 0, 0 };
        } else if (strcmp(opt, "--no-new-privs") == 0) {
            actions[s.n_actions++] = (struct ec_action){ EC_ACT_NO_NEW_PRIVS, 0, 0 };
        } else if (strcmp(opt, "--oom-score-adj") == 0) {
            /* The kernel checks the range (-1000..1000) and reports EINVAL. */
            actions[s.n_actions++] = (struct ec_action){ EC_ACT_OOM_SCORE_ADJ, (int)parse_long(opt, val, 10, INT_MIN, INT_MAX), 0 };
        } else if (strcmp(opt, "--ioprio") == 0) {
            actions[s.n_actions++] = parse_ioprio(val);
        } else if (strcmp(opt, "--uid") == 0) {
            once(&seen_uid, opt);
            uid_arg = val;
        } else if (strcmp(opt, "--gid") == 0) {
            once(&seen_gid, opt);
            gid_arg = val;
        } else if (strcmp(opt, "--groups") == 0) {
            once(&seen_groups, opt);
            groups_arg = val;
        } else if (strcmp(opt, "--clear-caps") == 0) {
            once(&seen_clear, opt);
            s.clear_caps = 1;
        } else if (strcmp(opt, "--allow-cap") == 0) {
            s.allowed_caps |= 1ULL << parse_long(opt, val, 10, 0, 63);
        } else if (strcmp(opt, "--cwd") == 0) {
            once(&seen_cwd, opt);
            s.cwd = val;
        } else if (strcmp(opt, "--handshake-ready") == 0) {
            once(&seen_ready, opt);
            s.handshake_ready_fd = (int)parse_long(opt, val, 10, 3, INT_MAX);
        } else if (strcmp(opt, "--handshake-wait") == 0) {
            once(&seen_wait, opt);
            s.handshake_wait_fd = (int)parse_long(opt, val, 10, 3, INT_MAX);
        } else {
            usage("unknown option '%s'", opt);
        }
    }
    /* argv[i] is "--", then PATH and ARGV0 at least. */
    if (i >= argc || argc - (i + 1) < 2)
        usage("expected -- PATH ARGV0 [ARGS...] after the options");

    if (s.pidfile != NULL && !s.daemonize)
        usage("--pidfile needs --daemonize");
    if ((s.pdeathsig != 0) != (s.parent_pid != 0))
        usage("--pdeathsig and --parent-pid go together");
    if (s.pdeathsig != 0 && s.daemonize)
        usage("--pdeathsig cannot be used with --daemonize: a daemon outlives its parent");
    if (s.stderr_fifo != NULL && s.stderr_to_stdout)
        usage("--stderr-fifo and --stderr-to-stdout both say where stderr goes");
    if (s.stdin_fifo != NULL && ((s.stdout_fifo != NULL && strcmp(s.stdin_fifo, s.stdout_fifo) == 0) ||
                                 (s.stderr_fifo != NULL && strcmp(s.stdin_fifo, s.stderr_fifo) == 0)))
        usage("--stdin-fifo %s: the same FIFO as this stage's output; it would wait for itself", s.stdin_fifo);
    if ((s.handshake_ready_fd >= 0) != (s.handshake_wait_fd >= 0))
        usage("--handshake-ready and --handshake-wait go together");
    if (s.handshake_ready_fd == s.status_fd || s.handshake_wait_fd == s.status_fd)
        usage("the handshake fds must differ from the status fd");
    for (size_t k = 0; k < s.n_fds; k++)
        if (keep[k].target == s.status_fd || keep[k].target == s.handshake_ready_fd || keep[k].target == s.handshake_wait_fd)
            usage("--keep-fd %d: the status and handshake fds are never passed on", keep[k].target);

    s.cap_last_cap = cap_last_cap();
    if (s.cap_last_cap < 63 && s.allowed_caps >> s.cap_last_cap >> 1 != 0)
        usage("--allow-cap: the kernel knows capabilities 0..%d only", s.cap_last_cap);

    resolve_ids(&s, uid_arg, gid_arg, groups_arg);

    sort_unique(keep, &s.n_fds);
    s.fds = keep;
    s.staged = xcalloc(s.n_fds, sizeof *s.staged);
    s.close_from = 3;
    s.rlimits = rlimits;
    s.actions = actions;
    s.path = argv[i + 1];
    s.argv = &argv[i + 2];
    s.envp = environ;
    fflush(NULL); /* nothing buffered may be lost at exec */
    ec_setup_and_exec(&s);
}
