/*
 * engine-launch.c - one spawn: clone(CLONE_VM | CLONE_VFORK), the child running setup.c's steps
 * (async-signal-safe: it shares our memory until its exec), then pidfd_open. Runs on the loop
 * thread (spawn) or a thread-pool thread (spawnAsync); touches no JS.
 */
#include "engine.h"

/* Kills and reaps a child we cannot track (a spawn step after the spawn failed). */
void kill_and_reap_pid(pid_t pid)
{
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
}

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
int do_spawn(const spec_t *spec, pid_t *pid, int *pidfd, struct ec_failure *failure)
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
const char *step_path(const spec_t *spec, const char *step)
{
    if (strcmp(step, "execve") == 0) return spec->path;
    if (strcmp(step, "chdir") == 0) return spec->cwd;
    if (strcmp(step, "open") == 0) return "/dev/null";
    return NULL;
}
