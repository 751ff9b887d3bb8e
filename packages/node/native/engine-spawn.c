/* engine-spawn.c - spawn (on the loop thread) and spawnAsync (on a libuv thread-pool thread). */
#include "engine.h"

napi_value js_spawn(napi_env env, napi_callback_info info)
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
    bool supervisor = spec.supervisor;
    free_spec(&spec);
    return err != 0 ? NULL : track_child(env, e, pid, pidfd, supervisor, argv[1]);
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
            end_child(w->pidfd, w->pid, w->spec.supervisor);
            reap_ended(w->pidfd, w->spec.supervisor);
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
                args[1] = track_child(env, e, w->pid, w->pidfd, w->spec.supervisor, on_exit);
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

napi_value js_spawn_async(napi_env env, napi_callback_info info)
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
