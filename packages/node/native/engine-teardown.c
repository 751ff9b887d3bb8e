/*
 * engine-teardown.c - what happens when an env goes away. Environments (main thread, workers) are
 * independent: all state hangs off the per-env engine_t the exports carry as their data. An async
 * cleanup hook runs when the env is torn down (worker.terminate(), worker exit, main thread exit):
 * the children that keep the loop alive (not unref'd; adopted and not left) are SIGKILLed, with
 * their process group when they lead one, and reaped synchronously; unref'd (detached) children are
 * left running, and a small detached thread reaps them when they end (no zombies in a process whose
 * worker is gone); every poll handle (children's and readers') is closed before the hook
 * completes, so the loop closes cleanly. Also adopt/forget/leave: child_process children handled the same way at teardown.
 */
#include "engine.h"

/*
 * Ends a child that is still ours (running, or ended but not reaped: its pid and group id cannot
 * be reused yet): SIGKILL, with its process group when it leads one. A containment supervisor gets
 * SIGTERM instead: it SIGKILLs its whole tree and exits (a SIGKILL would orphan the tree). A child
 * reaped already (ECHILD) is left alone: its numbers may belong to someone else now.
 */
void end_child(int pidfd, pid_t pid, bool supervisor)
{
    if (!unreaped(pidfd)) return;
    if (supervisor) {
        sys_pidfd_send_signal(pidfd, SIGTERM);
        return;
    }
    if (getpgid(pid) == pid) kill(-pid, SIGKILL);
    sys_pidfd_send_signal(pidfd, SIGKILL);
}

/* Reaps a child end_child ended; a supervisor still there after 2 s (a member of its tree stuck in
 * the kernel) is SIGKILLed, so that a teardown is bounded. */
void reap_ended(int pidfd, bool supervisor)
{
    siginfo_t ignored;
    if (supervisor) {
        struct pollfd p = { pidfd, POLLIN, 0 };
        int ready;
        while ((ready = poll(&p, 1, 2000)) < 0 && errno == EINTR) {}
        if (ready == 0) sys_pidfd_send_signal(pidfd, SIGKILL);
    }
    reap_pidfd(pidfd, &ignored); /* ECHILD when libuv reaped it first */
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

/* adopt(pid, supervisor) -> boolean: a child_process child of this env, ended (end_child) and
 * reaped at teardown, when no JS runs for libuv to reap it. False: it is gone already. */
napi_value js_adopt(napi_env env, napi_callback_info info)
{
    engine_t *e = NULL;
    napi_value result;
    pid_t pid = pid_argument(env, info, &e, "adopt(pid): pid must be a process id");
    if (pid == 0) return NULL;
    bool supervisor = false;
    size_t argc = 2;
    napi_value argv[2];
    if (!check(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL))) return NULL;
    if (argc >= 2 && !check(env, napi_get_value_bool(env, argv[1], &supervisor))) return NULL;
    int pidfd = sys_pidfd_open(pid);
    adopted_t *a = pidfd >= 0 ? calloc(1, sizeof *a) : NULL;
    if (a != NULL) {
        a->pid = pid;
        a->pidfd = pidfd;
        a->supervisor = supervisor;
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
napi_value js_forget(napi_env env, napi_callback_info info)
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
napi_value js_leave(napi_env env, napi_callback_info info)
{
    engine_t *e = NULL;
    pid_t pid = pid_argument(env, info, &e, "leave(pid): pid must be a process id");
    adopted_t **link = pid != 0 ? find_adopted(e, pid) : NULL;
    if (link != NULL) (*link)->left = true;
    return NULL;
}

void engine_finish(engine_t *e)
{
    napi_handle_scope scope = NULL;
    napi_open_handle_scope(e->env, &scope);
    if (e->child_class != NULL) napi_delete_reference(e->env, e->child_class);
    if (e->reader_class != NULL) napi_delete_reference(e->env, e->reader_class);
    if (e->read_buffer != NULL) napi_delete_reference(e->env, e->read_buffer);
    if (scope != NULL) napi_close_handle_scope(e->env, scope);
    napi_remove_async_cleanup_hook(e->cleanup);
    close_owned_fds(e);
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
void engine_cleanup(napi_async_cleanup_hook_handle handle, void *arg)
{
    (void)handle;
    engine_t *e = arg;
    e->tearing_down = true;
    size_t detached = 0;
    for (child_t *c = e->children; c != NULL; c = c->next) {
        if (c->reaped || c->closing) continue;
        if (c->unrefd) detached++;
        else end_child(c->pidfd, c->pid, c->supervisor);
    }
    for (adopted_t *a = e->adopted; a != NULL; a = a->next) {
        if (a->left) detached++;
        else end_child(a->pidfd, a->pid, a->supervisor);
    }
    reaper_t *reaper = detached > 0 ? malloc(sizeof *reaper + detached * sizeof reaper->fds[0]) : NULL;
    if (reaper != NULL) reaper->n = 0;
    for (child_t *c = e->children; c != NULL; c = c->next) {
        if (c->closing) continue;
        if (!c->reaped && !c->unrefd) {
            reap_ended(c->pidfd, c->supervisor);
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
            reap_ended(a->pidfd, a->supervisor);
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
    for (reader_t *r = e->readers; r != NULL; r = r->next) close_reader(r);
    if (reaper != NULL && !start_reaper(reaper)) {
        for (size_t i = 0; i < reaper->n; i++) close(reaper->fds[i].fd);
        free(reaper);
    }
    if (e->open_handles == 0 && e->spawning == 0) engine_finish(e);
}
