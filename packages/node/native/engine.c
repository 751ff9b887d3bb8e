/*
 * engine.c - the native spawn engine of @effect-command/node (an N-API addon, Linux only): the
 * module's init and its small exports (pipes, socket pairs, environ, kill(2) that answers).
 * What each export does is described in one place: src/internal/engine.ts.
 *
 * Why: child_process forks the whole Node process on the event-loop thread, so a spawn costs more
 * the more memory the parent maps. Like glibc's posix_spawn, the engine uses clone(CLONE_VM |
 * CLONE_VFORK) (engine-launch.c): the cost does not depend on the parent's size, and the spawning
 * thread waits only until the child's exec. The child runs setup.c's steps, the same code as the
 * setup helper's, so it can do what posix_spawn cannot, such as setting the death signal.
 *
 * The files: engine.h (internal declarations), engine-napi.c (N-API helpers, errors like Node's),
 * engine-spec.c (the JS spec -> spec_t), engine-launch.c (clone, the child, pidfd_open),
 * engine-child.c (a child on the loop: its pidfd polled and reaped there, kill, exit callback),
 * engine-spawn.c (spawn and spawnAsync), engine-reader.c (readPipe: a child's output read on the
 * loop without a Node stream), engine-teardown.c (adopted children, env teardown, the
 * detached reaper thread). The N-API and libuv symbols resolve from the node binary at load time.
 */
#include "engine.h"

#define ENGINE_ABI 9

/* Records an fd the engine made: it is closed at the env's end unless taken first. */
static bool own_fd(engine_t *e, int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0) return false;
    /* An entry with this number is stale: the kernel reuses a number only once it was closed. */
    disown_fd(e, fd);
    if (e->owned_count == e->owned_capacity) {
        size_t capacity = e->owned_capacity == 0 ? 16 : 2 * e->owned_capacity;
        owned_fd_t *grown = realloc(e->owned, capacity * sizeof *grown);
        if (grown == NULL) return false;
        e->owned = grown;
        e->owned_capacity = capacity;
    }
    e->owned[e->owned_count++] = (owned_fd_t){ fd, st.st_dev, st.st_ino };
    return true;
}

/* The fd is taken (by a reader or writer, a Node socket, a close): whether the engine had it. */
bool disown_fd(engine_t *e, int fd)
{
    for (size_t i = 0; i < e->owned_count; i++) {
        if (e->owned[i].fd != fd) continue;
        e->owned[i] = e->owned[--e->owned_count];
        return true;
    }
    return false;
}

/* At the env's end (a terminated worker: JS will not close them any more), the fds nobody took. */
void close_owned_fds(engine_t *e)
{
    for (size_t i = 0; i < e->owned_count; i++) {
        struct stat st;
        owned_fd_t *o = &e->owned[i];
        if (fstat(o->fd, &st) == 0 && st.st_dev == o->dev && st.st_ino == o->ino) close(o->fd);
    }
    free(e->owned);
    e->owned = NULL;
    e->owned_count = e->owned_capacity = 0;
}

/* [fds[0], fds[1]] as a JS array, both owned by the engine until taken (closeFd, releaseFd,
 * readPipe, writePipe); on failure both fds are closed and an exception is pending. */
static napi_value fd_pair(napi_env env, engine_t *e, const int fds[2])
{
    napi_value result, a, b;
    if (!own_fd(e, fds[0]) || !own_fd(e, fds[1])) {
        disown_fd(e, fds[0]);
        close(fds[0]);
        close(fds[1]);
        throw_errno(env, ENOMEM, "malloc", NULL);
        return NULL;
    }
    if (napi_create_array_with_length(env, 2, &result) != napi_ok || napi_create_int32(env, fds[0], &a) != napi_ok
        || napi_create_int32(env, fds[1], &b) != napi_ok || napi_set_element(env, result, 0, a) != napi_ok
        || napi_set_element(env, result, 1, b) != napi_ok) {
        disown_fd(e, fds[0]);
        disown_fd(e, fds[1]);
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
    engine_t *e = NULL;
    int fds[2];
    if (!check(env, napi_get_cb_info(env, info, NULL, NULL, NULL, (void **)&e))) return NULL;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
        throw_errno(env, errno, "socketpair", NULL);
        return NULL;
    }
    return fd_pair(env, e, fds);
}

/* The fd argument of closeFd and releaseFd, and the engine; false with a TypeError pending. */
static bool fd_arg(napi_env env, napi_callback_info info, const char *usage, engine_t **e, int *fd)
{
    size_t argc = 1;
    napi_value argv[1];
    if (!check(env, napi_get_cb_info(env, info, &argc, argv, NULL, (void **)e))) return false;
    if (argc >= 1 && get_int_in(env, argv[0], 0, INT_MAX, fd)) return true;
    throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
    return false;
}

/* closeFd(fd): closes an fd the engine made and nobody took; false (nothing closed) otherwise. */
static napi_value js_close_fd(napi_env env, napi_callback_info info)
{
    engine_t *e = NULL;
    int fd = -1;
    napi_value result;
    if (!fd_arg(env, info, "closeFd(fd): an fd", &e, &fd)) return NULL;
    bool owned = disown_fd(e, fd);
    if (owned) close(fd);
    return check(env, napi_get_boolean(env, owned, &result)) ? result : NULL;
}

/* releaseFd(fd): the caller takes an fd the engine made (a Node socket, which closes it itself). */
static napi_value js_release_fd(napi_env env, napi_callback_info info)
{
    engine_t *e = NULL;
    int fd = -1;
    if (fd_arg(env, info, "releaseFd(fd): an fd", &e, &fd)) disown_fd(e, fd);
    return NULL;
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
    engine_t *e = NULL;
    if (!check(env, napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&e))) return NULL;
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
    return fd_pair(env, e, fds);
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
    napi_property_descriptor reader_methods[] = {
        { "close", NULL, js_reader_close, NULL, NULL, NULL, napi_default_method, NULL },
    };
    CHECK(napi_define_class(env, "NativeReader", NAPI_AUTO_LENGTH, js_reader_constructor, e, 1, reader_methods, &constructor));
    CHECK(napi_create_reference(env, constructor, 1, &e->reader_class));
    CHECK(napi_create_function(env, "readPipe", NAPI_AUTO_LENGTH, js_read_pipe, e, &fn));
    CHECK(napi_set_named_property(env, exports, "readPipe", fn));
    CHECK(napi_create_function(env, "writePipe", NAPI_AUTO_LENGTH, js_write_pipe, e, &fn));
    CHECK(napi_set_named_property(env, exports, "writePipe", fn));
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
    CHECK(napi_create_function(env, "closeFd", NAPI_AUTO_LENGTH, js_close_fd, e, &fn));
    CHECK(napi_set_named_property(env, exports, "closeFd", fn));
    CHECK(napi_create_function(env, "releaseFd", NAPI_AUTO_LENGTH, js_release_fd, e, &fn));
    CHECK(napi_set_named_property(env, exports, "releaseFd", fn));
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
    if (e->reader_class != NULL) napi_delete_reference(env, e->reader_class);
    free(e);
    return NULL;
}
