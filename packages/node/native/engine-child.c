/*
 * engine-child.c - a spawned child on its env's loop: the JS object (NativeChild), its pidfd polled
 * with a uv_poll_t; when readable, waitid(P_PIDFD) reaps that child only (no waitpid(-1), no SIGCHLD
 * handler: child_process in the same process reaps its own children as before), and onExit is
 * called. The reaping and every kill run on the loop thread, so a kill never races the reap.
 */
#include "engine.h"

/* Blocking reap of one child by its pidfd; 0 or an errno. */
int reap_pidfd(int pidfd, siginfo_t *info)
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
void close_child(child_t *c)
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

/* Whether the child of `pidfd` is not reaped yet (running, or a zombie): then neither its pid nor
 * the id of the process group it leads (its pid) can be reused. ECHILD: something reaped it. */
bool unreaped(int pidfd)
{
    siginfo_t info;
    memset(&info, 0, sizeof info);
    return !(waitid((idtype_t)P_PIDFD, (id_t)pidfd, &info, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD);
}

/*
 * Signals an unreaped child, or with `group` its process group: 0, or the errno (ESRCH: nobody got
 * it), `step` naming the call. The group is kill(-pid): while the child is unreaped, a group with
 * that id can only be the one it leads. ESRCH there: it leads none (yet: a helper makes its group
 * itself), and the child alone gets the signal, through its pidfd.
 */
static int signal_child(const child_t *c, int sig, bool group, const char **step)
{
    if (group && unreaped(c->pidfd)) {
        *step = "kill";
        if (kill(-c->pid, sig) == 0) return 0;
        if (errno != ESRCH) return errno;
    }
    *step = "pidfd_send_signal";
    return sys_pidfd_send_signal(c->pidfd, sig) == 0 ? 0 : errno;
}

/* kill(signal, group?) -> whether it was delivered. The child is reaped on this thread only (on the
 * loop, see on_readable), so it cannot be reaped between the check and the signal. */
napi_value js_kill(napi_env env, napi_callback_info info)
{
    size_t argc = 2;
    napi_value argv[2], result = NULL;
    child_t *c = unwrap_this(env, info, &argc, argv);
    if (c == NULL) return NULL;
    int sig = 0;
    bool group = false;
    napi_valuetype type;
    /* Checked as a double: an int32 conversion would wrap 2**32 + 9 to SIGKILL. */
    if (argc < 1 || napi_typeof(env, argv[0], &type) != napi_ok || type != napi_number
        || !get_int_in(env, argv[0], 0, SIGRTMAX, &sig)) {
        throw_type_error(env, "ERR_INVALID_ARG_TYPE", "kill(signal, group?): signal must be a signal number (0 to probe)");
        return NULL;
    }
    if (argc >= 2 && !is_nullish(env, argv[1]) && napi_get_value_bool(env, argv[1], &group) != napi_ok) {
        throw_type_error(env, "ERR_INVALID_ARG_TYPE", "kill(signal, group?): group must be a boolean");
        return NULL;
    }
    const char *step = NULL;
    int err = c->reaped || c->pidfd < 0 ? ESRCH : signal_child(c, sig, group, &step);
    if (err != 0 && err != ESRCH) {
        throw_errno(env, err, step, NULL);
        return NULL;
    }
    napi_get_boolean(env, err == 0, &result);
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

napi_value js_ref(napi_env env, napi_callback_info info)
{
    return set_ref(env, info, true);
}

napi_value js_unref(napi_env env, napi_callback_info info)
{
    return set_ref(env, info, false);
}

/* new Child(external): only spawn can make the external. */
napi_value js_child_constructor(napi_env env, napi_callback_info info)
{
    napi_value self;
    child_t *object = wrap_external(env, info, child_finalize, &self);
    if (object == NULL) return NULL;
    object->refs++;
    return self;
}

/* Tracks a spawned child (its pidfd polled on the loop) and returns its JS object, or NULL with
 * an exception pending (the child was then killed and reaped). Takes over `pidfd`. */
napi_value track_child(napi_env env, engine_t *e, pid_t pid, int pidfd, bool supervisor, napi_value on_exit)
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
    c->supervisor = supervisor;
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
        end_child(c->pidfd, c->pid, c->supervisor);
        reap_ended(c->pidfd, c->supervisor);
        c->reaped = true;
        close_child(c);
        return NULL;
    }
}
