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
 *   --contain FD [--contain-grace MS]
 *                              containment (supervise.c): stay as the
 *                              target's supervisor, commanded through the
 *                              pipe FD; the death signal (--pdeathsig) goes
 *                              to the whole tree when FD ends, SIGKILL MS
 *                              later (default: never); not with --daemonize
 *   PATH                       executed as is (no PATH search)
 *
 *   effect-command-helper --ssh-mux SOCKET COMMAND
 *                              the helper's other role: COMMAND over an
 *                              OpenSSH ControlMaster (mux.c)
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
#include "mux.h"
#include "setup.h"
#include "supervise.h"

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

/* What the options say, before the names are resolved and the lists handed to the setup. */
struct args {
    struct ec_setup s;
    struct ec_fd *keep; /* no option list is longer than argv */
    struct ec_rlimit *rlimits;
    struct ec_action *actions;
    const char *uid, *gid, *groups;
    int contain_fd;    /* -1: no containment */
    int contain_grace; /* ms; -1: forever */
};

static void keep_fd(struct args *a, const char *opt, const char *val)
{
    int fd = (int)parse_long(opt, val, 10, 0, INT_MAX);
    a->keep[a->s.n_fds++] = (struct ec_fd){ fd, fd };
}

static void pgid(struct args *a, const char *opt, const char *val)
{
    (void)opt;
    if (strcmp(val, "new") != 0 && strcmp(val, "inherit") != 0)
        usage("--pgid: expected new or inherit, got '%s'", val);
    a->s.new_pgid = strcmp(val, "new") == 0;
}

/* SIGRTMAX is no constant (a libc call): not a table's INT. */
static void pdeathsig(struct args *a, const char *opt, const char *val)
{
    a->s.pdeathsig = (int)parse_long(opt, val, 10, 1, SIGRTMAX);
}

static void rlimit(struct args *a, const char *opt, const char *val)
{
    (void)opt;
    a->rlimits[a->s.n_rlimits++] = parse_rlimit(val);
}

static void ioprio(struct args *a, const char *opt, const char *val)
{
    (void)opt;
    a->actions[a->s.n_actions++] = parse_ioprio(val);
}

static void allow_cap(struct args *a, const char *opt, const char *val)
{
    a->s.allowed_caps |= 1ULL << parse_long(opt, val, 10, 0, 63);
}

/*
 * One row per option.  SET writes 1 to an int, INT a number in [min, max]
 * (in base `base`), PATH a non-empty string, STRING any string, ACTION adds a
 * pre-exec action (with a number in [min, max] when the option takes a
 * value); CUSTOM calls `custom`.  `at` is the field, in struct args.
 */
enum kind { SET, INT, PATH, STRING, ACTION, CUSTOM };

struct option {
    const char *name;
    int value; /* takes the next argument */
    int once;  /* a second one is a usage error */
    enum kind kind;
    size_t at;
    long min, max;
    int base;
    enum ec_action_kind action;
    void (*custom)(struct args *a, const char *opt, const char *val);
};

#define FIELD(f) .at = offsetof(struct args, f)
#define FD_RANGE .min = 3, .max = INT_MAX, .base = 10

static const struct option options[] = {
    { "--status-fd", 1, 1, INT, FIELD(s.status_fd), FD_RANGE },
    { "--umask", 1, 1, INT, FIELD(s.umask), .min = 0, .max = 0777, .base = 8 },
    { "--keep-fd", 1, 0, CUSTOM, .custom = keep_fd },
    { "--stderr-to-stdout", 0, 1, SET, FIELD(s.stderr_to_stdout) },
    { "--stdin-fifo", 1, 1, PATH, FIELD(s.stdin_fifo) },
    { "--stdout-fifo", 1, 1, PATH, FIELD(s.stdout_fifo) },
    { "--stderr-fifo", 1, 1, PATH, FIELD(s.stderr_fifo) },
    { "--pgid", 1, 1, CUSTOM, .custom = pgid },
    { "--pdeathsig", 1, 1, CUSTOM, .custom = pdeathsig },
    { "--parent-pid", 1, 1, INT, FIELD(s.parent_pid), .min = 1, .max = INT_MAX, .base = 10 },
    { "--daemonize", 0, 1, SET, FIELD(s.daemonize) },
    { "--pidfile", 1, 1, PATH, FIELD(s.pidfile) },
    { "--rlimit", 1, 0, CUSTOM, .custom = rlimit },
    { "--nice", 1, 0, ACTION, .min = -40, .max = 40, .action = EC_ACT_NICE },
    { "--setsid", 0, 0, ACTION, .action = EC_ACT_SETSID },
    { "--no-new-privs", 0, 0, ACTION, .action = EC_ACT_NO_NEW_PRIVS },
    /* The kernel checks the range (-1000..1000) and reports EINVAL. */
    { "--oom-score-adj", 1, 0, ACTION, .min = INT_MIN, .max = INT_MAX, .action = EC_ACT_OOM_SCORE_ADJ },
    { "--ioprio", 1, 0, CUSTOM, .custom = ioprio },
    { "--uid", 1, 1, STRING, FIELD(uid) },
    { "--gid", 1, 1, STRING, FIELD(gid) },
    { "--groups", 1, 1, STRING, FIELD(groups) },
    { "--clear-caps", 0, 1, SET, FIELD(s.clear_caps) },
    { "--allow-cap", 1, 0, CUSTOM, .custom = allow_cap },
    { "--cwd", 1, 1, STRING, FIELD(s.cwd) },
    { "--handshake-ready", 1, 1, INT, FIELD(s.handshake_ready_fd), FD_RANGE },
    { "--handshake-wait", 1, 1, INT, FIELD(s.handshake_wait_fd), FD_RANGE },
    { "--contain", 1, 1, INT, FIELD(contain_fd), FD_RANGE },
    { "--contain-grace", 1, 1, INT, FIELD(contain_grace), .min = 0, .max = INT_MAX, .base = 10 },
};

#define N_OPTIONS (sizeof options / sizeof options[0])

static void apply(struct args *a, const struct option *o, const char *val)
{
    void *field = (char *)a + o->at;
    switch (o->kind) {
    case SET:
        *(int *)field = 1;
        break;
    case INT:
        *(int *)field = (int)parse_long(o->name, val, o->base, o->min, o->max);
        break;
    case PATH:
        if (*val == '\0')
            usage("%s: empty path", o->name);
        /* fall through */
    case STRING:
        *(const char **)field = val;
        break;
    case ACTION:
        a->actions[a->s.n_actions++] =
            (struct ec_action){ o->action, val != NULL ? (int)parse_long(o->name, val, 10, o->min, o->max) : 0, 0 };
        break;
    case CUSTOM:
        o->custom(a, o->name, val);
        break;
    }
}

/* Reads the options up to "--"; returns the index of "--" (argc when there is none). */
static int parse_options(struct args *a, int argc, char **argv)
{
    unsigned char seen[N_OPTIONS] = { 0 };
    int i;
    for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        const char *opt = argv[i], *val = NULL;
        size_t k = 0;
        while (k < N_OPTIONS && strcmp(opt, options[k].name) != 0)
            k++;
        /* Every option but the flags takes the next argument (an unknown one too). */
        if (k == N_OPTIONS || options[k].value) {
            if (i + 1 >= argc)
                usage("%s needs a value", opt);
            val = argv[++i];
        }
        if (k == N_OPTIONS)
            usage("unknown option '%s'", opt);
        if (options[k].once && seen[k]++ != 0)
            usage("%s given twice", opt);
        apply(a, &options[k], val);
    }
    return i;
}

/* Options that only make sense together, or must differ. */
static void check_combinations(const struct args *a)
{
    const struct ec_setup *s = &a->s;
    if (s->pidfile != NULL && !s->daemonize)
        usage("--pidfile needs --daemonize");
    if ((s->pdeathsig != 0) != (s->parent_pid != 0))
        usage("--pdeathsig and --parent-pid go together");
    if (s->pdeathsig != 0 && s->daemonize)
        usage("--pdeathsig cannot be used with --daemonize: a daemon outlives its parent");
    if (s->stderr_fifo != NULL && s->stderr_to_stdout)
        usage("--stderr-fifo and --stderr-to-stdout both say where stderr goes");
    if (s->stdin_fifo != NULL && ((s->stdout_fifo != NULL && strcmp(s->stdin_fifo, s->stdout_fifo) == 0) ||
                                 (s->stderr_fifo != NULL && strcmp(s->stdin_fifo, s->stderr_fifo) == 0)))
        usage("--stdin-fifo %s: the same FIFO as this stage's output; it would wait for itself", s->stdin_fifo);
    if ((s->handshake_ready_fd >= 0) != (s->handshake_wait_fd >= 0))
        usage("--handshake-ready and --handshake-wait go together");
    if (s->handshake_ready_fd == s->status_fd || s->handshake_wait_fd == s->status_fd)
        usage("the handshake fds must differ from the status fd");
    for (size_t k = 0; k < s->n_fds; k++)
        if (a->keep[k].target == s->status_fd || a->keep[k].target == s->handshake_ready_fd || a->keep[k].target == s->handshake_wait_fd ||
            a->keep[k].target == a->contain_fd)
            usage("--keep-fd %d: the status, handshake and control fds are never passed on", a->keep[k].target);
    if (a->contain_fd >= 0 && s->daemonize)
        usage("--contain cannot be used with --daemonize: a daemon leaves on purpose");
    if (a->contain_grace >= 0 && a->contain_fd < 0)
        usage("--contain-grace needs --contain");
    if (a->contain_fd >= 0 && (a->contain_fd == s->status_fd || a->contain_fd == s->handshake_ready_fd || a->contain_fd == s->handshake_wait_fd))
        usage("--contain %d: the control fd must differ from the status and handshake fds", a->contain_fd);
}

static _Noreturn void die_errno(const char *stage, int err)
{
    die(stage, err, "%s: %s", stage, strerror(err));
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--ssh-mux") == 0)
        return ssh_mux_main(argc - 1, argv + 1);
    struct args a = {
        .s = {
            .umask = -1,
            .status_fd = -1,
            .new_pgid = 1,
            .gid = EC_UNSET_ID,
            .uid = EC_UNSET_ID,
            .handshake_ready_fd = -1,
            .handshake_wait_fd = -1,
        },
        .keep = xcalloc((size_t)argc, sizeof *a.keep),
        .rlimits = xcalloc((size_t)argc, sizeof *a.rlimits),
        .actions = xcalloc((size_t)argc, sizeof *a.actions),
        .contain_fd = -1,
        .contain_grace = -1,
    };
    struct ec_setup *s = &a.s;

    find_status_fd(argc, argv);
    int i = parse_options(&a, argc, argv);
    /* argv[i] is "--", then PATH and ARGV0 at least. */
    if (i >= argc || argc - (i + 1) < 2)
        usage("expected -- PATH ARGV0 [ARGS...] after the options");
    check_combinations(&a);

    /* Only the capability step reads it: one file read less for every other command. */
    s->cap_last_cap = s->clear_caps || s->allowed_caps != 0 ? cap_last_cap() : CAP_LAST_CAP;
    if (s->cap_last_cap < 63 && s->allowed_caps >> s->cap_last_cap >> 1 != 0)
        usage("--allow-cap: the kernel knows capabilities 0..%d only", s->cap_last_cap);

    resolve_ids(s, a.uid, a.gid, a.groups);

    sort_unique(a.keep, &s->n_fds);
    s->fds = a.keep;
    s->staged = xcalloc(s->n_fds, sizeof *s->staged);
    s->close_from = 3;
    s->rlimits = a.rlimits;
    s->actions = a.actions;
    s->path = argv[i + 1];
    s->argv = &argv[i + 2];
    s->envp = environ;
    fflush(NULL); /* nothing buffered may be lost at exec */
    if (a.contain_fd >= 0)
        ec_supervise(s, a.contain_fd, a.contain_grace, die_errno);
    ec_setup_and_exec(s);
}
