/*
 * engine.c - the native spawn engine of @effect-command/node: an N-API addon (Linux only).
 *
 * Build (scripts/build-native.mjs does this):
 *   cc -O2 -Wall -Wextra -Werror -shared -fPIC -I<node include dir> -o build/engine.node native/engine.c
 * The N-API and libuv symbols resolve from the node binary at load time.
 *
 * Why: child_process forks the whole Node process on the event-loop thread, so a spawn costs more
 * the more memory the parent maps. Like glibc's posix_spawn, the engine uses clone(CLONE_VM |
 * CLONE_VFORK): the cost does not depend on the parent's size, and the spawning thread waits only
 * until the child's exec. Its own child code (launch_child) can do one thing posix_spawn cannot:
 * set the death signal (PR_SET_PDEATHSIG), so the default child needs no setup helper.
 *
 * JS API (synchronous but for spawnAsync; the exit callback comes later, from the loop):
 *   makePipe(capacity?) -> [readFd, writeFd]  pipe2(O_CLOEXEC); JS owns both fds. capacity: bytes
 *                                          of kernel buffer to ask for (F_SETPIPE_SZ, best effort)
 *   spawn(spec, onExit) -> Child           spec: { path, argv, envp, cwd, stdio, newGroup, newSession?,
 *                                                   deathSignal? }
 *     path        absolute path of the program (execve, no PATH search)
 *     argv, envp  string arrays ("NAME=VALUE"), passed exactly; envp null: a copy of this
 *                 process's environ, taken by the call (on the main thread, what process.env holds;
 *                 main thread only: a worker's copy of it would race with the main thread's setenv)
 *     cwd         string | null
 *     stdio       [childFd, source] pairs, any order, each child fd once: the child fd gets parent
 *                 fd source; -1: /dev/null (O_RDWR); -2: nothing (closed); [i, i] passes fd i at
 *                 its number; every fd not given is closed. The cost follows the number of pairs,
 *                 never the fd numbers (the child's fd limit still applies to them)
 *     newGroup    the child leads a new process group (setpgid(0, 0))
 *     newSession  optional: the child leads a new session (setsid), implies a new group
 *     deathSignal optional signal number: PR_SET_PDEATHSIG in the child, so it gets the signal
 *                 when the thread that spawned it ends (for spawnAsync a thread-pool thread, which
 *                 lives as long as the process); sent at once if the parent is already gone
 *   In the child, in this order: every signal handler reset to the default, setsid or setpgid, the
 *   death signal, the stdio fds, every other fd closed, chdir(cwd), an empty signal mask, execve.
 *   Child: { pid, kill(signal) -> boolean, ref(), unref() }   (methods: call them on the object)
 *     kill        pidfd_send_signal; false once the child was reaped (a reused pid is never hit)
 *     unref/ref   whether the running child keeps the loop alive (it does by default)
 *   spawnAsync(spec, onSpawn, onExit)      the same spawn on a libuv thread-pool thread (the loop is not
 *                                          blocked until the child's exec); onSpawn(error, child) comes
 *                                          from the loop: error null and the Child, or the Error as spawn
 *                                          throws it. The spec's fds must stay open until then.
 *   onExit({ code, signal, coreDumped }) is called once, after the child was reaped, in the async
 *   context of the spawn call (napi_make_callback). code: number | null; signal: "SIGTERM"... | null
 *   (both null only if something else in the process reaped the child first).
 *   makeSocketPair() -> [fd, fd]           socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC); JS owns both
 *   environ() -> ["NAME=VALUE", ...]      the process's environment (C environ: on the main thread, what
 *                                          process.env reads and writes; a worker's process.env is a copy,
 *                                          and reading environ there would race with the main thread)
 *   signalProcess(pid, signal) -> errno   kill(2), answering 0 or the errno instead of throwing; a
 *                                          negative pid is a process group (0 and -1 are refused)
 *   adopt(pid) -> boolean                 a child that child_process spawned in this env: killed and
 *                                          reaped at teardown like the engine's own (a worker's libuv
 *                                          never reaps it then); false when it is gone already
 *   forget(pid)                            it exited (libuv reaped it): drop it
 *   leave(pid)                             it was detached: at teardown only reaped, once it ends
 *   abi: the version of this API (bumped on incompatible changes; the loader checks it).
 *   unavailable: set (a reason) when the kernel lacks pidfds (before Linux 5.4); do not use then.
 *
 * Errors are thrown as Error with code ("ENOENT"), errno (negative, like Node) and syscall: the
 * step that failed ("execve" and "chdir", with path; "dup2", "setpgid", "clone", "pidfd_open",
 * ...). A step that fails in the child is written into the parent's memory before the child exits
 * 127; the engine reaps that child before it reports the error: nothing is left running or open.
 *
 * Exit: pidfd_open right after the spawn; a uv_poll_t on the pidfd (the caller's loop); when it is
 * readable, waitid(P_PIDFD) reaps that child only. No waitpid(-1), no SIGCHLD handler: libuv's
 * child_process in the same process reaps its own children as before.
 *
 * Environments (main thread, worker threads) are independent: all state hangs off the per-env
 * engine_t that the exported functions carry as their data; nothing is global. An async cleanup
 * hook runs when the env is torn down (worker.terminate(), worker exit, main thread exit): the
 * children that keep the loop alive (not unref'd, adopted and not left) are SIGKILLed, with their
 * process group when they lead one, and reaped synchronously; unref'd
 * (detached) children are left running, and a small detached thread reaps them when they end (no
 * zombies in a process whose worker is gone); every poll handle is closed before the hook
 * completes, so the worker's loop closes cleanly.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif
#include <node_api.h>
#include "setup.h"
#include <uv.h>

#define ENGINE_ABI 4

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

typedef struct engine engine_t;
typedef struct child child_t;
typedef struct adopted adopted_t;

struct child {
    child_t *prev, *next;          /* in engine->children while the poll handle is open */
    engine_t *engine;
    uv_poll_t poll;
    pid_t pid;
    int pidfd;                     /* -1 once closed */
    int refs;                      /* the JS wrapper, the open handle */
    bool reaped;
    bool closing;                  /* uv_close was called */
    bool unrefd;
    napi_ref on_exit;              /* until the callback was called */
    napi_async_context async_context;
};

/* A child_process child of this env (see adopt): only killed and reaped at teardown. */
struct adopted {
    adopted_t *next;
    pid_t pid;
    int pidfd;
    bool left;                     /* detached: reaped when it ends, never killed */
};

struct engine {
    napi_env env;
    uv_loop_t *loop;
    child_t *children;
    adopted_t *adopted;
    size_t open_handles;
    size_t spawning;               /* spawnAsync calls not completed yet */
    bool tearing_down;
    napi_async_cleanup_hook_handle cleanup;
    napi_ref child_class;
};

/* ------------------------------------------------------------------ syscalls */

static int sys_pidfd_open(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int sys_pidfd_send_signal(int pidfd, int sig)
{
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/* Blocking reap of one child by its pidfd; 0 or an errno. */
static int reap_pidfd(int pidfd, siginfo_t *info)
{
    memset(info, 0, sizeof *info);
    for (;;) {
        if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, info, WEXITED) == 0) return 0;
        if (errno == EINTR) continue;
        if (errno != EAGAIN) return errno;
        /* O_NONBLOCK (libuv sets it) and not exited yet: block in poll(2) until it is. */
        int flags = fcntl(pidfd, F_GETFL);
        if (flags < 0 || fcntl(pidfd, F_SETFL, flags & ~O_NONBLOCK) < 0) return errno;
    }
}

/*
 * SIGKILL for a child that is still ours (running, or ended but not reaped: its pid and group id
 * cannot be reused yet) and, when it leads its own process group, for the whole group. A child
 * reaped already (ECHILD) is left alone: its numbers may belong to someone else now.
 */
static void kill_tree(int pidfd, pid_t pid)
{
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &info, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD) return;
    if (getpgid(pid) == pid) kill(-pid, SIGKILL);
    sys_pidfd_send_signal(pidfd, SIGKILL);
}

/* Kills and reaps a child we cannot track (a spawn step after the spawn failed). */
static void kill_and_reap_pid(pid_t pid)
{
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
}

/* ------------------------------------------------------------------ signal names */

static const char *signal_name(int sig, char *buf, size_t size)
{
    switch (sig) {
#define S(name) case name: return #name
        S(SIGHUP); S(SIGINT); S(SIGQUIT); S(SIGILL); S(SIGTRAP); S(SIGABRT); S(SIGBUS);
        S(SIGFPE); S(SIGKILL); S(SIGUSR1); S(SIGSEGV); S(SIGUSR2); S(SIGPIPE); S(SIGALRM);
        S(SIGTERM); S(SIGSTKFLT); S(SIGCHLD); S(SIGCONT); S(SIGSTOP); S(SIGTSTP); S(SIGTTIN);
        S(SIGTTOU); S(SIGURG); S(SIGXCPU); S(SIGXFSZ); S(SIGVTALRM); S(SIGPROF); S(SIGWINCH);
        S(SIGIO); S(SIGPWR); S(SIGSYS);
#undef S
    default:
        if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
            snprintf(buf, size, "SIGRTMIN+%d", sig - SIGRTMIN);
        } else {
            snprintf(buf, size, "SIG%d", sig);
        }
        return buf;
    }
}

/* ------------------------------------------------------------------ N-API helpers */

/* Leaves a pending exception when a napi call fails (unless one is pending already). */
static bool check(napi_env env, napi_status status)
{
    if (status == napi_ok) return true;
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) == napi_ok && !pending) {
        const napi_extended_error_info *info = NULL;
        napi_get_last_error_info(env, &info);
        const char *msg = info != NULL && info->error_message != NULL ? info->error_message : "N-API call failed";
        napi_throw_error(env, "ERR_NATIVE_ENGINE", msg);
    }
    return false;
}

#define CHECK(call) \
    do { \
        if (!check(env, (call))) goto fail; \
    } while (0)

static void throw_type_error(napi_env env, const char *code, const char *msg)
{
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) napi_throw_type_error(env, code, msg);
}

/* The errno's name ("ENOENT") and description; glibc knows every name (libuv misses some, ENOEXEC). */
static void errno_text(int err, char *name, size_t name_size, char *desc, size_t desc_size)
{
    const char *n = strerrorname_np(err);
    const char *d = strerrordesc_np(err);
    if (n != NULL) snprintf(name, name_size, "%s", n);
    else uv_err_name_r(-err, name, name_size);
    if (d != NULL) snprintf(desc, desc_size, "%s", d);
    else uv_strerror_r(-err, desc, desc_size);
}

/* Throws an Error like Node's: message "ENOENT: No such file or directory, execve '/x'",
 * code "ENOENT", errno -2, syscall, path (when given). */
static void throw_errno(napi_env env, int err, const char *syscall_name, const char *path)
{
    char name[64], desc[128];
    errno_text(err, name, sizeof name, desc, sizeof desc);
    size_t len = strlen(name) + strlen(desc) + strlen(syscall_name) + (path != NULL ? strlen(path) : 0) + 16;
    char *msg = malloc(len);
    if (msg == NULL) {
        napi_throw_error(env, name, desc);
        return;
    }
    if (path != NULL) snprintf(msg, len, "%s: %s, %s '%s'", name, desc, syscall_name, path);
    else snprintf(msg, len, "%s: %s, %s", name, desc, syscall_name);

    napi_value code_v, msg_v, error, errno_v, syscall_v, path_v;
    bool ok = napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code_v) == napi_ok
        && napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &msg_v) == napi_ok
        && napi_create_error(env, code_v, msg_v, &error) == napi_ok
        && napi_create_int32(env, -err, &errno_v) == napi_ok
        && napi_set_named_property(env, error, "errno", errno_v) == napi_ok
        && napi_create_string_utf8(env, syscall_name, NAPI_AUTO_LENGTH, &syscall_v) == napi_ok
        && napi_set_named_property(env, error, "syscall", syscall_v) == napi_ok;
    if (ok && path != NULL) {
        ok = napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &path_v) == napi_ok
            && napi_set_named_property(env, error, "path", path_v) == napi_ok;
    }
    if (ok) napi_throw(env, error);
    else napi_throw_error(env, name, msg);
    free(msg);
}

/* A JS string as a malloc'd C string; TypeError for a non-string or an embedded NUL. */
static char *get_string(napi_env env, napi_value value, const char *what)
{
    napi_valuetype type;
    if (napi_typeof(env, value, &type) != napi_ok || type != napi_string) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s must be a string", what);
        throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
        return NULL;
    }
    size_t len = 0;
    if (!check(env, napi_get_value_string_utf8(env, value, NULL, 0, &len))) return NULL;
    char *s = malloc(len + 1);
    if (s == NULL) {
        throw_errno(env, ENOMEM, "malloc", NULL);
        return NULL;
    }
    size_t got = 0;
    if (!check(env, napi_get_value_string_utf8(env, value, s, len + 1, &got))) {
        free(s);
        return NULL;
    }
    if (strlen(s) != got) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s must not contain null bytes", what);
        throw_type_error(env, "ERR_INVALID_ARG_VALUE", msg);
        free(s);
        return NULL;
    }
    return s;
}

static bool get_property(napi_env env, napi_value object, const char *name, napi_value *out)
{
    return check(env, napi_get_named_property(env, object, name, out));
}

static bool is_nullish(napi_env env, napi_value value)
{
    napi_valuetype type;
    return napi_typeof(env, value, &type) == napi_ok && (type == napi_undefined || type == napi_null);
}

/* ------------------------------------------------------------------ the spec */

typedef struct {
    char *path;
    char **argv;                   /* NULL-terminated */
    char **envp;                   /* NULL-terminated */
    char *cwd;                     /* or NULL */
    struct ec_fd *fds;             /* the fd plan, sorted by target, distinct */
    size_t nfds;
    bool new_group;
    bool new_session;
    int death_signal;              /* PR_SET_PDEATHSIG in the child; 0: none */
} spec_t;

static void free_strings(char **strings)
{
    if (strings == NULL) return;
    for (char **s = strings; *s != NULL; s++) free(*s);
    free(strings);
}

static void free_spec(spec_t *spec)
{
    free(spec->path);
    free_strings(spec->argv);
    free_strings(spec->envp);
    free(spec->cwd);
    free(spec->fds);
    memset(spec, 0, sizeof *spec);
}

extern char **environ;

/* A NULL-terminated copy of the process's environment, or NULL (out of memory). On the main thread
 * it is what process.env reads and writes (a worker's process.env is a copy of its own). */
static char **copy_environ(void)
{
    size_t n = 0;
    while (environ[n] != NULL) n++;
    char **copy = calloc(n + 1, sizeof *copy);
    if (copy == NULL) return NULL;
    for (size_t i = 0; i < n; i++) {
        if ((copy[i] = strdup(environ[i])) == NULL) {
            free_strings(copy);
            return NULL;
        }
    }
    return copy;
}

static bool get_string_array(napi_env env, napi_value object, const char *name, char ***out)
{
    napi_value array;
    bool is_array = false;
    if (!get_property(env, object, name, &array)) return false;
    if (napi_is_array(env, array, &is_array) != napi_ok || !is_array) {
        char msg[160];
        snprintf(msg, sizeof msg, "spec.%s must be an array of strings", name);
        throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
        return false;
    }
    uint32_t n = 0;
    if (!check(env, napi_get_array_length(env, array, &n))) return false;
    char **strings = calloc((size_t)n + 1, sizeof *strings);
    if (strings == NULL) {
        throw_errno(env, ENOMEM, "malloc", NULL);
        return false;
    }
    for (uint32_t i = 0; i < n; i++) {
        napi_value item;
        char what[64];
        snprintf(what, sizeof what, "spec.%s[%u]", name, i);
        if (!check(env, napi_get_element(env, array, i, &item)) || (strings[i] = get_string(env, item, what)) == NULL) {
            free_strings(strings);
            return false;
        }
    }
    *out = strings;
    return true;
}

static bool get_bool(napi_env env, napi_value object, const char *name, bool *out)
{
    napi_value value;
    if (!get_property(env, object, name, &value)) return false;
    if (is_nullish(env, value)) {
        *out = false;
        return true;
    }
    if (napi_get_value_bool(env, value, out) != napi_ok) {
        char msg[160];
        snprintf(msg, sizeof msg, "spec.%s must be a boolean", name);
        throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
        return false;
    }
    return true;
}

/* An integer in [min, max] (no NaN, no fraction), as an int. */
static bool get_int_in(napi_env env, napi_value value, double min, double max, int *out)
{
    double d = 0;
    /* The range check first: it also rejects NaN and the infinities before the cast. */
    if (napi_get_value_double(env, value, &d) != napi_ok || !(d >= min && d <= max) || d != (double)(int)d) return false;
    *out = (int)d;
    return true;
}

static int compare_stdio(const void *a, const void *b)
{
    const struct ec_fd *x = a, *y = b;
    return (x->target > y->target) - (x->target < y->target);
}

/* spec.stdio: [childFd, source] pairs, in any order; kept sorted by child fd. Its cost follows the
 * number of pairs, never the fd numbers. */
static bool read_stdio(napi_env env, napi_value object, spec_t *spec)
{
    napi_value array;
    bool is_array = false;
    uint32_t n = 0;
    if (!get_property(env, object, "stdio", &array)) return false;
    if (napi_is_array(env, array, &is_array) != napi_ok || !is_array) {
        throw_type_error(env, "ERR_INVALID_ARG_TYPE", "spec.stdio must be an array of [childFd, source] pairs");
        return false;
    }
    if (!check(env, napi_get_array_length(env, array, &n))) return false;
    if (n > 65536) {
        throw_type_error(env, "ERR_INVALID_ARG_VALUE", "spec.stdio is too long");
        return false;
    }
    spec->fds = malloc(((size_t)n + 1) * sizeof *spec->fds);
    if (spec->fds == NULL) {
        throw_errno(env, ENOMEM, "malloc", NULL);
        return false;
    }
    for (uint32_t i = 0; i < n; i++) {
        napi_value pair, target, source;
        bool pair_is_array = false;
        uint32_t length = 0;
        if (!check(env, napi_get_element(env, array, i, &pair))) return false;
        if (napi_is_array(env, pair, &pair_is_array) != napi_ok || !pair_is_array
            || napi_get_array_length(env, pair, &length) != napi_ok || length != 2
            || !check(env, napi_get_element(env, pair, 0, &target)) || !check(env, napi_get_element(env, pair, 1, &source))
            || !get_int_in(env, target, 0, INT_MAX, &spec->fds[i].target)
            || !get_int_in(env, source, EC_FD_CLOSED, INT_MAX, &spec->fds[i].source)) {
            char msg[160];
            snprintf(msg, sizeof msg, "spec.stdio[%u] must be [childFd, parent fd | -1 (/dev/null) | -2 (closed)]", i);
            throw_type_error(env, "ERR_INVALID_ARG_VALUE", msg);
            return false;
        }
    }
    qsort(spec->fds, n, sizeof *spec->fds, compare_stdio);
    for (uint32_t i = 1; i < n; i++) {
        if (spec->fds[i].target == spec->fds[i - 1].target) {
            char msg[160];
            snprintf(msg, sizeof msg, "spec.stdio gives child fd %d twice", spec->fds[i].target);
            throw_type_error(env, "ERR_INVALID_ARG_VALUE", msg);
            return false;
        }
    }
    spec->nfds = n;
    return true;
}

static bool read_spec(napi_env env, napi_value object, spec_t *spec)
{
    napi_value value;
    napi_valuetype type;
    memset(spec, 0, sizeof *spec);
    if (napi_typeof(env, object, &type) != napi_ok || type != napi_object) {
        throw_type_error(env, "ERR_INVALID_ARG_TYPE", "spec must be an object");
        return false;
    }
    if (!get_property(env, object, "path", &value) || (spec->path = get_string(env, value, "spec.path")) == NULL) goto fail;
    if (!get_string_array(env, object, "argv", &spec->argv)) goto fail;
    if (!get_property(env, object, "envp", &value)) goto fail;
    if (is_nullish(env, value)) {
        if ((spec->envp = copy_environ()) == NULL) {
            throw_errno(env, ENOMEM, "malloc", NULL);
            goto fail;
        }
    } else if (!get_string_array(env, object, "envp", &spec->envp)) {
        goto fail;
    }
    if (!get_property(env, object, "cwd", &value)) goto fail;
    if (!is_nullish(env, value) && (spec->cwd = get_string(env, value, "spec.cwd")) == NULL) goto fail;

    if (!read_stdio(env, object, spec)) goto fail;
    if (!get_bool(env, object, "newGroup", &spec->new_group)) goto fail;
    if (!get_bool(env, object, "newSession", &spec->new_session)) goto fail;
    if (!get_property(env, object, "deathSignal", &value)) goto fail;
    if (!is_nullish(env, value)) {
        if (!get_int_in(env, value, 1, SIGRTMAX, &spec->death_signal)) {
            throw_type_error(env, "ERR_INVALID_ARG_VALUE", "spec.deathSignal must be a signal number");
            goto fail;
        }
    }
    return true;
fail:
    free_spec(spec);
    return false;
}

/* ------------------------------------------------------------------ children */

static void engine_finish(engine_t *e);

static void child_release(child_t *c)
{
    if (--c->refs == 0) free(c);
}

/* The JS wrapper was collected (or the env is going away). */
static void child_finalize(napi_env env, void *data, void *hint)
{
    (void)env;
    (void)hint;
    child_release(data);
}

static void release_callback(child_t *c)
{
    napi_env env = c->engine->env;
    if (c->on_exit != NULL) napi_delete_reference(env, c->on_exit);
    if (c->async_context != NULL) napi_async_destroy(env, c->async_context);
    c->on_exit = NULL;
    c->async_context = NULL;
}

static void on_close(uv_handle_t *handle)
{
    child_t *c = handle->data;
    engine_t *e = c->engine;
    napi_handle_scope scope = NULL;
    napi_open_handle_scope(e->env, &scope);
    if (c->prev != NULL) c->prev->next = c->next;
    else e->children = c->next;
    if (c->next != NULL) c->next->prev = c->prev;
    c->prev = c->next = NULL;
    release_callback(c);
    if (scope != NULL) napi_close_handle_scope(e->env, scope);
    e->open_handles--;
    child_release(c);
    if (e->tearing_down && e->open_handles == 0 && e->spawning == 0) engine_finish(e);
}

/* Stops watching, closes the pidfd and the handle. The child may still run (unref'd at teardown). */
static void close_child(child_t *c)
{
    if (c->closing) return;
    c->closing = true;
    uv_poll_stop(&c->poll); /* removes the fd from epoll before it is closed */
    if (c->pidfd >= 0) close(c->pidfd);
    c->pidfd = -1;
    uv_close((uv_handle_t *)&c->poll, on_close);
}

static napi_value exit_info(napi_env env, const siginfo_t *info, int err)
{
    napi_value result, code, signal, dumped;
    char buf[32];
    if (napi_create_object(env, &result) != napi_ok || napi_get_null(env, &code) != napi_ok
        || napi_get_null(env, &signal) != napi_ok) {
        return NULL;
    }
    bool core = false;
    if (err == 0 && info->si_code == CLD_EXITED) {
        if (napi_create_int32(env, info->si_status, &code) != napi_ok) return NULL;
    } else if (err == 0 && (info->si_code == CLD_KILLED || info->si_code == CLD_DUMPED)) {
        core = info->si_code == CLD_DUMPED;
        if (napi_create_string_utf8(env, signal_name(info->si_status, buf, sizeof buf), NAPI_AUTO_LENGTH, &signal) != napi_ok) {
            return NULL;
        }
    }
    if (napi_get_boolean(env, core, &dumped) != napi_ok || napi_set_named_property(env, result, "code", code) != napi_ok
        || napi_set_named_property(env, result, "signal", signal) != napi_ok
        || napi_set_named_property(env, result, "coreDumped", dumped) != napi_ok) {
        return NULL;
    }
    return result;
}

/* Calls onExit in the spawn's async context; an exception goes to 'uncaughtException'. */
static void deliver_exit(child_t *c, const siginfo_t *info, int err)
{
    napi_env env = c->engine->env;
    napi_ref callback_ref = c->on_exit;
    napi_async_context context = c->async_context;
    c->on_exit = NULL;
    c->async_context = NULL;
    napi_handle_scope scope;
    if (callback_ref != NULL && napi_open_handle_scope(env, &scope) == napi_ok) {
        napi_value callback, global, arg;
        if (napi_get_reference_value(env, callback_ref, &callback) == napi_ok && callback != NULL
            && napi_get_global(env, &global) == napi_ok && (arg = exit_info(env, info, err)) != NULL) {
            napi_status status = napi_make_callback(env, context, global, callback, 1, &arg, NULL);
            bool pending = false;
            /* Not ok without an exception: the env cannot run JS any more (it is being torn down). */
            if (status != napi_ok && napi_is_exception_pending(env, &pending) == napi_ok && pending) {
                napi_value exception;
                if (napi_get_and_clear_last_exception(env, &exception) == napi_ok) napi_fatal_exception(env, exception);
            }
        }
        napi_close_handle_scope(env, scope);
    }
    if (callback_ref != NULL) napi_delete_reference(env, callback_ref);
    if (context != NULL) napi_async_destroy(env, context);
}

static void on_readable(uv_poll_t *handle, int status, int events)
{
    (void)status;
    (void)events;
    child_t *c = handle->data;
    if (c->reaped || c->closing) return;
    siginfo_t info;
    memset(&info, 0, sizeof info);
    int err = 0;
    for (;;) {
        if (waitid((idtype_t)P_PIDFD, (id_t)c->pidfd, &info, WEXITED) == 0) break;
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return; /* readable but not yet waitable: poll again */
        err = errno;                 /* ECHILD: reaped by someone else */
        break;
    }
    c->reaped = true;
    close_child(c);
    deliver_exit(c, &info, err);
}

static child_t *unwrap_this(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv)
{
    napi_value self;
    void *data = NULL;
    if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok || napi_unwrap(env, self, &data) != napi_ok || data == NULL) {
        throw_type_error(env, "ERR_INVALID_THIS", "not a native engine child: call kill/ref/unref as methods of it");
        return NULL;
    }
    return data;
}

static napi_value js_kill(napi_env env, napi_callback_info info)
{
    size_t argc = 1;
    napi_value argv[1], result = NULL;
    child_t *c = unwrap_this(env, info, &argc, argv);
    if (c == NULL) return NULL;
    int sig = 0;
    napi_valuetype type;
    /* Checked as a double: an int32 conversion would wrap 2**32 + 9 to SIGKILL. */
    if (argc < 1 || napi_typeof(env, argv[0], &type) != napi_ok || type != napi_number
        || !get_int_in(env, argv[0], 0, SIGRTMAX, &sig)) {
        throw_type_error(env, "ERR_INVALID_ARG_TYPE", "kill(signal): signal must be a signal number (0 to probe)");
        return NULL;
    }
    bool sent = false;
    if (!c->reaped && c->pidfd >= 0) {
        if (sys_pidfd_send_signal(c->pidfd, sig) == 0) {
            sent = true;
        } else if (errno != ESRCH) {
            throw_errno(env, errno, "pidfd_send_signal", NULL);
            return NULL;
        }
    }
    napi_get_boolean(env, sent, &result);
    return result;
}

static napi_value set_ref(napi_env env, napi_callback_info info, bool ref)
{
    size_t argc = 0;
    child_t *c = unwrap_this(env, info, &argc, NULL);
    if (c == NULL) return NULL;
    c->unrefd = !ref;
    if (!c->closing) {
        if (ref) uv_ref((uv_handle_t *)&c->poll);
        else uv_unref((uv_handle_t *)&c->poll);
    }
    return NULL;
}

static napi_value js_ref(napi_env env, napi_callback_info info)
{
    return set_ref(env, info, true);
}

static napi_value js_unref(napi_env env, napi_callback_info info)
{
    return set_ref(env, info, false);
}

/* new Child(external): only spawn can make the external. */
static napi_value js_child_constructor(napi_env env, napi_callback_info info)
{
    size_t argc = 1;
    napi_value argv[1], self;
    napi_valuetype type;
    void *data = NULL;
    if (napi_get_cb_info(env, info, &argc, argv, &self, NULL) != napi_ok || argc < 1
        || napi_typeof(env, argv[0], &type) != napi_ok || type != napi_external
        || napi_get_value_external(env, argv[0], &data) != napi_ok || data == NULL) {
        throw_type_error(env, "ERR_ILLEGAL_CONSTRUCTOR", "Illegal constructor");
        return NULL;
    }
    child_t *c = data;
    if (!check(env, napi_wrap(env, self, c, child_finalize, NULL, NULL))) return NULL;
    c->refs++;
    return self;
}

/* ------------------------------------------------------------------ spawn */

/* The child's stack, until its exec: it only makes system calls. */
#define LAUNCH_STACK_SIZE (64 * 1024)

/* The child, between clone(CLONE_VM | CLONE_VFORK) and exec: setup.c's steps (async-signal-safe),
 * on its own stack in the parent's memory while the spawning thread waits. */
static int launch_child(void *arg)
{
    ec_setup_and_exec(arg);
}

/* Step names as the engine has always reported them (setup.c's own names are the helper's). */
static const char *engine_step(const char *stage)
{
    if (strcmp(stage, "pdeathsig") == 0) return "prctl";
    if (strcmp(stage, "keep-fd") == 0) return "fcntl";
    if (strcmp(stage, "close-fds") == 0) return "close_range";
    return stage;
}

/*
 * Spawn and pidfd_open: what may run off the loop thread. 0, or an errno with `failure` naming the
 * failing step ("execve", "chdir", ...); on success *pid and *pidfd are the running child's (a
 * failed pidfd_open kills and reaps it). Like glibc's posix_spawn: clone(CLONE_VM | CLONE_VFORK)
 * returns once the child exec'd or exited, so nothing of the parent is copied, and a failed step
 * is known here (the child wrote it into our memory) and its child already reaped.
 */
static int do_spawn(const spec_t *spec, pid_t *pid, int *pidfd, struct ec_failure *failure)
{
    static const struct ec_action new_session = { EC_ACT_SETSID, 0, 0 };
    *pid = -1;
    *pidfd = -1;
    int *staged = calloc(spec->nfds + 1, sizeof *staged);
    void *stack = staged == NULL ? MAP_FAILED
        : mmap(NULL, LAUNCH_STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
        int err = staged == NULL ? ENOMEM : errno;
        snprintf(failure->stage, sizeof failure->stage, "%s", staged == NULL ? "malloc" : "mmap");
        free(staged);
        return err;
    }
    memset(failure, 0, sizeof *failure);
    struct ec_setup setup = {
        .reset_signals = 1,
        .umask = -1,
        .fds = spec->fds,
        .n_fds = spec->nfds,
        .staged = staged,
        .close_from = 0,
        .status_fd = -1,
        .failure = failure,
        .new_pgid = spec->new_group,
        .pdeathsig = spec->death_signal,
        .parent_pid = getpid(),
        .actions = spec->new_session ? &new_session : NULL,
        .n_actions = spec->new_session ? 1 : 0,
        .gid = EC_UNSET_ID,
        .uid = EC_UNSET_ID,
        .cwd = spec->cwd,
        .handshake_ready_fd = -1,
        .handshake_wait_fd = -1,
        .path = spec->path,
        .argv = spec->argv,
        .envp = spec->envp,
    };
    unsigned long all = ~0UL, old = 0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, EC_KERNEL_SIGSET_SIZE);
    pid_t child = clone(launch_child, (char *)stack + LAUNCH_STACK_SIZE, CLONE_VM | CLONE_VFORK | SIGCHLD, &setup);
    int err = child < 0 ? errno : 0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, EC_KERNEL_SIGSET_SIZE);
#if defined(__SANITIZE_ADDRESS__)
    /* An ASan build: the child ran instrumented code on this stack and never returned, so its
     * redzones are still poisoned, and memory mapped here later would seem to overflow. */
    __asan_unpoison_memory_region(stack, LAUNCH_STACK_SIZE);
#endif
    munmap(stack, LAUNCH_STACK_SIZE);
    free(staged);
    if (child < 0) {
        snprintf(failure->stage, sizeof failure->stage, "clone");
        return err;
    }
    if (failure->err != 0) {
        /* The child exited before its exec: reap it. */
        while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {
        }
        const char *step = engine_step(failure->stage);
        if (step != failure->stage) snprintf(failure->stage, sizeof failure->stage, "%s", step);
        return failure->err;
    }
    *pid = child;
    /* The child runs: from here on a failure kills and reaps it. */
    if ((*pidfd = sys_pidfd_open(*pid)) < 0) {
        err = errno;
        kill_and_reap_pid(*pid);
        snprintf(failure->stage, sizeof failure->stage, "pidfd_open");
        return err;
    }
    return 0;
}

/* Which path an errno from a spawn step is about. */
static const char *step_path(const spec_t *spec, const char *step)
{
    if (strcmp(step, "execve") == 0) return spec->path;
    if (strcmp(step, "chdir") == 0) return spec->cwd;
    if (strcmp(step, "open") == 0) return "/dev/null";
    return NULL;
}

/* Tracks a spawned child (its pidfd polled on the loop) and returns its JS object, or NULL with
 * an exception pending (the child was then killed and reaped). Takes over `pidfd`. */
static napi_value track_child(napi_env env, engine_t *e, pid_t pid, int pidfd, napi_value on_exit)
{
    int err;
    child_t *c = calloc(1, sizeof *c);
    if (c == NULL) {
        close(pidfd);
        kill_and_reap_pid(pid);
        throw_errno(env, ENOMEM, "malloc", NULL);
        return NULL;
    }
    c->engine = e;
    c->pid = pid;
    c->pidfd = pidfd;
    if ((err = uv_poll_init(e->loop, &c->poll, pidfd)) != 0) {
        close(pidfd);
        free(c);
        kill_and_reap_pid(pid);
        throw_errno(env, -err, "uv_poll_init", NULL);
        return NULL;
    }
    /* The handle is open: it holds a ref, and on_close unlinks and releases. */
    c->poll.data = c;
    c->refs = 1;
    c->next = e->children;
    if (e->children != NULL) e->children->prev = c;
    e->children = c;
    e->open_handles++;

    napi_value object, external, constructor, pid_v, name;
    CHECK(napi_create_external(env, c, NULL, NULL, &external));
    CHECK(napi_get_reference_value(env, e->child_class, &constructor));
    CHECK(napi_new_instance(env, constructor, 1, &external, &object));
    CHECK(napi_create_int32(env, pid, &pid_v));
    napi_property_descriptor pid_property = { "pid", NULL, NULL, NULL, NULL, pid_v, napi_enumerable, NULL };
    CHECK(napi_define_properties(env, object, 1, &pid_property));
    CHECK(napi_create_string_utf8(env, "effect-command:child", NAPI_AUTO_LENGTH, &name));
    CHECK(napi_create_reference(env, on_exit, 1, &c->on_exit));
    CHECK(napi_async_init(env, object, name, &c->async_context));
    if ((err = uv_poll_start(&c->poll, UV_READABLE, on_readable)) != 0) {
        throw_errno(env, -err, "uv_poll_start", NULL);
        goto fail;
    }
    return object;
fail: {
        siginfo_t ignored;
        sys_pidfd_send_signal(c->pidfd, SIGKILL);
        reap_pidfd(c->pidfd, &ignored);
        c->reaped = true;
        close_child(c);
        return NULL;
    }
}

static bool is_function(napi_env env, napi_value value)
{
    napi_valuetype type;
    return napi_typeof(env, value, &type) == napi_ok && type == napi_function;
}

static napi_value js_spawn(napi_env env, napi_callback_info info)
{
    size_t argc = 2;
    napi_value argv[2];
    engine_t *e = NULL;
    if (!check(env, napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&e))) return NULL;
    if (argc < 2 || !is_function(env, argv[1])) {
        throw_type_error(env, "ERR_INVALID_ARG_TYPE", "spawn(spec, onExit): onExit must be a function");
        return NULL;
    }
    spec_t spec;
    if (!read_spec(env, argv[0], &spec)) return NULL;
    pid_t pid;
    int pidfd;
    struct ec_failure failure;
    int err = do_spawn(&spec, &pid, &pidfd, &failure);
    if (err != 0) throw_errno(env, err, failure.stage, step_path(&spec, failure.stage));
    free_spec(&spec);
    return err != 0 ? NULL : track_child(env, e, pid, pidfd, argv[1]);
}

/*
 * spawnAsync: the same spawn on a libuv thread-pool thread, so the loop is never blocked while
 * the kernel copies the spec and execs (the clone returns only after the child's exec). The
 * spec is read (and its fds must stay open) until onSpawn is called.
 */
typedef struct {
    engine_t *engine;
    spec_t spec;
    napi_async_work work;
    napi_ref on_spawn, on_exit;
    pid_t pid;
    int pidfd;
    int err;
    struct ec_failure failure;
} spawn_work_t;

static void spawn_execute(napi_env env, void *data)
{
    (void)env;
    spawn_work_t *w = data;
    w->err = do_spawn(&w->spec, &w->pid, &w->pidfd, &w->failure);
}

static void spawn_complete(napi_env env, napi_status status, void *data)
{
    spawn_work_t *w = data;
    engine_t *e = w->engine;
    e->spawning--;
    bool ran = status == napi_ok;
    if (e->tearing_down || !ran) {
        /* Nobody is left to hand the child to: it must not outlive the env unwatched. */
        if (ran && w->err == 0) {
            siginfo_t ignored;
            sys_pidfd_send_signal(w->pidfd, SIGKILL);
            reap_pidfd(w->pidfd, &ignored);
            close(w->pidfd);
        }
    } else {
        napi_handle_scope scope;
        if (napi_open_handle_scope(env, &scope) == napi_ok) {
            napi_value on_spawn, on_exit, global, args[2] = { NULL, NULL };
            napi_get_reference_value(env, w->on_spawn, &on_spawn);
            napi_get_reference_value(env, w->on_exit, &on_exit);
            napi_get_global(env, &global);
            if (w->err != 0) {
                throw_errno(env, w->err, w->failure.stage, step_path(&w->spec, w->failure.stage));
            } else {
                args[1] = track_child(env, e, w->pid, w->pidfd, on_exit);
            }
            /* The failure (ours or track_child's) becomes onSpawn's first argument. */
            bool pending = false;
            if (napi_is_exception_pending(env, &pending) == napi_ok && pending) napi_get_and_clear_last_exception(env, &args[0]);
            if (args[0] == NULL) napi_get_null(env, &args[0]);
            if (args[1] == NULL) napi_get_undefined(env, &args[1]);
            if (napi_call_function(env, global, on_spawn, 2, args, NULL) != napi_ok) {
                napi_value exception;
                if (napi_is_exception_pending(env, &pending) == napi_ok && pending
                    && napi_get_and_clear_last_exception(env, &exception) == napi_ok) {
                    napi_fatal_exception(env, exception);
                }
            }
            napi_close_handle_scope(env, scope);
        }
    }
    free_spec(&w->spec);
    napi_delete_reference(env, w->on_spawn);
    napi_delete_reference(env, w->on_exit);
    napi_delete_async_work(env, w->work);
    free(w);
    if (e->tearing_down && e->open_handles == 0 && e->spawning == 0) engine_finish(e);
}

static napi_value js_spawn_async(napi_env env, napi_callback_info info)
{
    size_t argc = 3;
    napi_value argv[3], name;
    engine_t *e = NULL;
    if (!check(env, napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&e))) return NULL;
    if (argc < 3 || !is_function(env, argv[1]) || !is_function(env, argv[2])) {
        throw_type_error(env, "ERR_INVALID_ARG_TYPE", "spawnAsync(spec, onSpawn, onExit): onSpawn and onExit must be functions");
        return NULL;
    }
    spawn_work_t *w = calloc(1, sizeof *w);
    if (w == NULL) {
        throw_errno(env, ENOMEM, "malloc", NULL);
        return NULL;
    }
    w->engine = e;
    w->pidfd = -1;
    if (!read_spec(env, argv[0], &w->spec)) {
        free(w);
        return NULL;
    }
    CHECK(napi_create_reference(env, argv[1], 1, &w->on_spawn));
    CHECK(napi_create_reference(env, argv[2], 1, &w->on_exit));
    CHECK(napi_create_string_utf8(env, "effect-command:spawn", NAPI_AUTO_LENGTH, &name));
    CHECK(napi_create_async_work(env, NULL, name, spawn_execute, spawn_complete, w, &w->work));
    CHECK(napi_queue_async_work(env, w->work));
    e->spawning++;
    return NULL;
fail:
    if (w->work != NULL) napi_delete_async_work(env, w->work);
    if (w->on_spawn != NULL) napi_delete_reference(env, w->on_spawn);
    if (w->on_exit != NULL) napi_delete_reference(env, w->on_exit);
    free_spec(&w->spec);
    free(w);
    return NULL;
}

/* [fds[0], fds[1]] as a JS array; on failure both fds are closed and an exception is pending. */
static napi_value fd_pair(napi_env env, const int fds[2])
{
    napi_value result, a, b;
    if (napi_create_array_with_length(env, 2, &result) != napi_ok || napi_create_int32(env, fds[0], &a) != napi_ok
        || napi_create_int32(env, fds[1], &b) != napi_ok || napi_set_element(env, result, 0, a) != napi_ok
        || napi_set_element(env, result, 1, b) != napi_ok) {
        close(fds[0]);
        close(fds[1]);
        check(env, napi_generic_failure);
        return NULL;
    }
    return result;
}

/* socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC): [ours, theirs]. Used for a child's stdin: a
 * pipe wakes its writer whenever the reader frees any room (a writer feeding `wc` then writes
 * 16 KiB at a time), a socket only once half of its buffer is free. */
static napi_value js_make_socket_pair(napi_env env, napi_callback_info info)
{
    (void)info;
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
        throw_errno(env, errno, "socketpair", NULL);
        return NULL;
    }
    return fd_pair(env, fds);
}

/* The process's environment (what Node's process.env reads and writes on the main thread) as
 * "NAME=VALUE" strings: one call instead of a getenv per variable. */
static napi_value js_environ(napi_env env, napi_callback_info info)
{
    (void)info;
    size_t n = 0;
    while (environ[n] != NULL) n++;
    napi_value result, item;
    CHECK(napi_create_array_with_length(env, n, &result));
    for (size_t i = 0; i < n; i++) {
        CHECK(napi_create_string_utf8(env, environ[i], NAPI_AUTO_LENGTH, &item));
        CHECK(napi_set_element(env, result, (uint32_t)i, item));
    }
    return result;
fail:
    return NULL;
}

static napi_value js_make_pipe(napi_env env, napi_callback_info info)
{
    size_t argc = 1;
    napi_value argv[1];
    int64_t capacity = 0;
    napi_valuetype type = napi_undefined;
    if (!check(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL))) return NULL;
    if (argc >= 1 && (napi_typeof(env, argv[0], &type) != napi_ok || (type != napi_undefined && type != napi_number)
        || (type == napi_number && (napi_get_value_int64(env, argv[0], &capacity) != napi_ok || capacity < 0 || capacity > INT_MAX)))) {
        throw_type_error(env, "ERR_INVALID_ARG_TYPE", "makePipe(capacity?): capacity must be a byte count");
        return NULL;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        throw_errno(env, errno, "pipe2", NULL);
        return NULL;
    }
    /* A bigger kernel buffer: fewer wakeups for the reader and the writer. Best effort (the
     * kernel caps it at /proc/sys/fs/pipe-max-size for unprivileged processes). */
    if (capacity > 0) fcntl(fds[1], F_SETPIPE_SZ, (int)capacity);
    return fd_pair(env, fds);
}

/* kill(2) that answers instead of throwing: 0, or the errno (ESRCH: no such process or group).
 * Node's process.kill throws an Error, stack trace included, for every ESRCH. */
static napi_value js_signal_process(napi_env env, napi_callback_info info)
{
    size_t argc = 2;
    napi_value argv[2], result;
    double pid = 0, sig = -1;
    if (!check(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL))) return NULL;
    /* 0 and -1 would signal our own group or every process we may signal. */
    if (argc < 2 || napi_get_value_double(env, argv[0], &pid) != napi_ok || napi_get_value_double(env, argv[1], &sig) != napi_ok
        || !(pid >= INT_MIN + 1 && pid <= INT_MAX) || pid != (double)(int)pid || pid == 0 || pid == -1
        || !(sig >= 0 && sig <= SIGRTMAX) || sig != (double)(int)sig) {
        throw_type_error(env, "ERR_INVALID_ARG_VALUE", "signalProcess(pid, signal): pid (negative: a group) and signal must be numbers");
        return NULL;
    }
    int err = kill((pid_t)pid, (int)sig) == 0 ? 0 : errno;
    if (!check(env, napi_create_int32(env, err, &result))) return NULL;
    return result;
}

/* The pid argument of adopt/forget/leave: a positive pid, or 0 (with a TypeError pending). */
static pid_t pid_argument(napi_env env, napi_callback_info info, engine_t **e, const char *usage)
{
    size_t argc = 1;
    napi_value argv[1];
    int pid = 0;
    if (!check(env, napi_get_cb_info(env, info, &argc, argv, NULL, (void **)e))) return 0;
    if (argc < 1 || !get_int_in(env, argv[0], 1, INT_MAX, &pid)) {
        throw_type_error(env, "ERR_INVALID_ARG_VALUE", usage);
        return 0;
    }
    return (pid_t)pid;
}

/* adopt(pid) -> boolean: a child_process child of this env, killed (with its group when it leads
 * one) and reaped at teardown, when no JS runs for libuv to reap it. False: it is gone already. */
static napi_value js_adopt(napi_env env, napi_callback_info info)
{
    engine_t *e = NULL;
    napi_value result;
    pid_t pid = pid_argument(env, info, &e, "adopt(pid): pid must be a process id");
    if (pid == 0) return NULL;
    int pidfd = sys_pidfd_open(pid);
    adopted_t *a = pidfd >= 0 ? calloc(1, sizeof *a) : NULL;
    if (a != NULL) {
        a->pid = pid;
        a->pidfd = pidfd;
        a->next = e->adopted;
        e->adopted = a;
    } else if (pidfd >= 0) {
        close(pidfd);
        throw_errno(env, ENOMEM, "malloc", NULL);
        return NULL;
    }
    if (!check(env, napi_get_boolean(env, a != NULL, &result))) return NULL;
    return result;
}

/* The adopted entry of pid (the link that points to it), or NULL. */
static adopted_t **find_adopted(engine_t *e, pid_t pid)
{
    for (adopted_t **link = &e->adopted; *link != NULL; link = &(*link)->next) {
        if ((*link)->pid == pid) return link;
    }
    return NULL;
}

/* forget(pid): libuv reaped it; drop it before its pid can be reused. */
static napi_value js_forget(napi_env env, napi_callback_info info)
{
    engine_t *e = NULL;
    pid_t pid = pid_argument(env, info, &e, "forget(pid): pid must be a process id");
    adopted_t **link = pid != 0 ? find_adopted(e, pid) : NULL;
    if (link != NULL) {
        adopted_t *a = *link;
        *link = a->next;
        close(a->pidfd);
        free(a);
    }
    return NULL;
}

/* leave(pid): detached; at teardown it is only reaped, once it ends. */
static napi_value js_leave(napi_env env, napi_callback_info info)
{
    engine_t *e = NULL;
    pid_t pid = pid_argument(env, info, &e, "leave(pid): pid must be a process id");
    adopted_t **link = pid != 0 ? find_adopted(e, pid) : NULL;
    if (link != NULL) (*link)->left = true;
    return NULL;
}

/* ------------------------------------------------------------------ env lifecycle */

static void engine_finish(engine_t *e)
{
    napi_handle_scope scope = NULL;
    napi_open_handle_scope(e->env, &scope);
    if (e->child_class != NULL) napi_delete_reference(e->env, e->child_class);
    if (scope != NULL) napi_close_handle_scope(e->env, scope);
    napi_remove_async_cleanup_hook(e->cleanup);
    free(e);
}

/*
 * Detached (unref'd) children outlive their env. In a worker the process goes on, and a child that
 * nobody waits for would stay a zombie when it ends: a small detached thread keeps their pidfds and
 * reaps each one when it exits, then ends. (When the process exits first, the children are
 * reparented as usual.) Returns false when the thread cannot be started; the caller closes the fds.
 */
typedef struct {
    size_t n;
    struct pollfd fds[];
} reaper_t;

static void *reaper_main(void *arg)
{
    reaper_t *r = arg;
    size_t left = r->n;
    while (left > 0) {
        if (poll(r->fds, r->n, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (size_t i = 0; i < r->n; i++) {
            if (r->fds[i].fd < 0 || r->fds[i].revents == 0) continue;
            siginfo_t info;
            memset(&info, 0, sizeof info);
            int rc = waitid((idtype_t)P_PIDFD, (id_t)r->fds[i].fd, &info, WEXITED | WNOHANG);
            if (rc == 0 && info.si_pid == 0) continue; /* not waitable yet */
            if (rc < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            close(r->fds[i].fd);
            r->fds[i].fd = -1;
            left--;
        }
    }
    for (size_t i = 0; i < r->n; i++) {
        if (r->fds[i].fd >= 0) close(r->fds[i].fd);
    }
    free(r);
    return NULL;
}

/* The reaper runs this library's code after the env is gone, and a worker's env unloads the addon
 * (dlclose) when no other thread loaded it: keep it loaded for the life of the process. */
static bool pin_library(void)
{
    Dl_info info;
    return dladdr((void *)reaper_main, &info) != 0 && info.dli_fname != NULL
        && dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) != NULL;
}

static bool start_reaper(reaper_t *r)
{
    pthread_attr_t attr;
    pthread_t thread;
    sigset_t all, old;
    if (!pin_library() || pthread_attr_init(&attr) != 0) return false;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    /* The thread takes no signal: they stay with the threads that handle them. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = pthread_create(&thread, &attr, reaper_main, r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return err == 0;
}

/*
 * The env is going away (worker terminated or exited, main thread done). Children that keep the
 * loop alive are SIGKILLed (all first, so they die in parallel) and reaped here; unref'd ones are
 * left running, for the reaper thread. The hook completes once every handle's close callback ran.
 */
static void engine_cleanup(napi_async_cleanup_hook_handle handle, void *arg)
{
    (void)handle;
    engine_t *e = arg;
    e->tearing_down = true;
    size_t detached = 0;
    for (child_t *c = e->children; c != NULL; c = c->next) {
        if (c->reaped || c->closing) continue;
        if (c->unrefd) detached++;
        else kill_tree(c->pidfd, c->pid);
    }
    for (adopted_t *a = e->adopted; a != NULL; a = a->next) {
        if (a->left) detached++;
        else kill_tree(a->pidfd, a->pid);
    }
    reaper_t *reaper = detached > 0 ? malloc(sizeof *reaper + detached * sizeof reaper->fds[0]) : NULL;
    if (reaper != NULL) reaper->n = 0;
    for (child_t *c = e->children; c != NULL; c = c->next) {
        if (c->closing) continue;
        if (!c->reaped && !c->unrefd) {
            siginfo_t ignored;
            reap_pidfd(c->pidfd, &ignored);
            c->reaped = true;
        } else if (!c->reaped && reaper != NULL) {
            uv_poll_stop(&c->poll); /* out of epoll before the fd changes hands */
            reaper->fds[reaper->n].fd = c->pidfd;
            reaper->fds[reaper->n].events = POLLIN;
            reaper->fds[reaper->n].revents = 0;
            reaper->n++;
            c->pidfd = -1;
        }
        close_child(c);
    }
    while (e->adopted != NULL) {
        adopted_t *a = e->adopted;
        e->adopted = a->next;
        if (!a->left) {
            siginfo_t ignored;
            reap_pidfd(a->pidfd, &ignored); /* ECHILD when libuv reaped it first */
            close(a->pidfd);
        } else if (reaper != NULL) {
            reaper->fds[reaper->n].fd = a->pidfd;
            reaper->fds[reaper->n].events = POLLIN;
            reaper->fds[reaper->n].revents = 0;
            reaper->n++;
        } else {
            close(a->pidfd);
        }
        free(a);
    }
    if (reaper != NULL && !start_reaper(reaper)) {
        for (size_t i = 0; i < reaper->n; i++) close(reaper->fds[i].fd);
        free(reaper);
    }
    if (e->open_handles == 0 && e->spawning == 0) engine_finish(e);
}

/* What the kernel lacks for this engine (pidfd_open: 5.3, waitid(P_PIDFD): 5.4), or NULL. */
static const char *missing_kernel_support(void)
{
    int pidfd = sys_pidfd_open(getpid());
    if (pidfd < 0) return errno == ENOSYS ? "pidfd_open: ENOSYS (Linux 5.3 or later needed)" : NULL;
    siginfo_t info;
    memset(&info, 0, sizeof info);
    /* Our own process is not our child: ECHILD where P_PIDFD is known, EINVAL where it is not. */
    int rc = waitid((idtype_t)P_PIDFD, (id_t)pidfd, &info, WEXITED | WNOHANG);
    int err = rc < 0 ? errno : 0;
    close(pidfd);
    return err == EINVAL ? "waitid(P_PIDFD): EINVAL (Linux 5.4 or later needed)" : NULL;
}

NAPI_MODULE_INIT()
{
    engine_t *e = calloc(1, sizeof *e);
    if (e == NULL) {
        napi_throw_error(env, "ENOMEM", "native engine: out of memory");
        return NULL;
    }
    e->env = env;
    napi_value constructor, fn, abi;
    napi_property_descriptor methods[] = {
        { "kill", NULL, js_kill, NULL, NULL, NULL, napi_default_method, NULL },
        { "ref", NULL, js_ref, NULL, NULL, NULL, napi_default_method, NULL },
        { "unref", NULL, js_unref, NULL, NULL, NULL, napi_default_method, NULL },
    };
    CHECK(napi_get_uv_event_loop(env, &e->loop));
    CHECK(napi_define_class(env, "NativeChild", NAPI_AUTO_LENGTH, js_child_constructor, e, 3, methods, &constructor));
    CHECK(napi_create_reference(env, constructor, 1, &e->child_class));
    CHECK(napi_create_function(env, "spawn", NAPI_AUTO_LENGTH, js_spawn, e, &fn));
    CHECK(napi_set_named_property(env, exports, "spawn", fn));
    CHECK(napi_create_function(env, "spawnAsync", NAPI_AUTO_LENGTH, js_spawn_async, e, &fn));
    CHECK(napi_set_named_property(env, exports, "spawnAsync", fn));
    CHECK(napi_create_function(env, "makeSocketPair", NAPI_AUTO_LENGTH, js_make_socket_pair, e, &fn));
    CHECK(napi_set_named_property(env, exports, "makeSocketPair", fn));
    CHECK(napi_create_function(env, "environ", NAPI_AUTO_LENGTH, js_environ, e, &fn));
    CHECK(napi_set_named_property(env, exports, "environ", fn));
    CHECK(napi_create_function(env, "makePipe", NAPI_AUTO_LENGTH, js_make_pipe, e, &fn));
    CHECK(napi_set_named_property(env, exports, "makePipe", fn));
    CHECK(napi_create_function(env, "signalProcess", NAPI_AUTO_LENGTH, js_signal_process, e, &fn));
    CHECK(napi_set_named_property(env, exports, "signalProcess", fn));
    CHECK(napi_create_function(env, "adopt", NAPI_AUTO_LENGTH, js_adopt, e, &fn));
    CHECK(napi_set_named_property(env, exports, "adopt", fn));
    CHECK(napi_create_function(env, "forget", NAPI_AUTO_LENGTH, js_forget, e, &fn));
    CHECK(napi_set_named_property(env, exports, "forget", fn));
    CHECK(napi_create_function(env, "leave", NAPI_AUTO_LENGTH, js_leave, e, &fn));
    CHECK(napi_set_named_property(env, exports, "leave", fn));
    CHECK(napi_create_int32(env, ENGINE_ABI, &abi));
    CHECK(napi_set_named_property(env, exports, "abi", abi));
    const char *missing = missing_kernel_support();
    if (missing != NULL) {
        napi_value reason;
        CHECK(napi_create_string_utf8(env, missing, NAPI_AUTO_LENGTH, &reason));
        CHECK(napi_set_named_property(env, exports, "unavailable", reason));
    }
    CHECK(napi_add_async_cleanup_hook(env, engine_cleanup, e, &e->cleanup));
    return exports;
fail:
    if (e->child_class != NULL) napi_delete_reference(env, e->child_class);
    free(e);
    return NULL;
}
