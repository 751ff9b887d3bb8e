/* engine.h - the native engine's internal declarations, shared by its files (see engine.c). */
#ifndef EC_ENGINE_H
#define EC_ENGINE_H

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
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif
#include <node_api.h>
#include <uv.h>

#include "setup.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

typedef struct engine engine_t;
typedef struct child child_t;
typedef struct adopted adopted_t;
typedef struct reader reader_t;

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
    bool supervisor;               /* a containment supervisor: ended with SIGTERM (see reap_ended) */
    napi_ref on_exit;              /* until the callback was called */
    napi_async_context async_context;
};

/* A pipe out of a child read on the loop, or one into a child written (engine-reader.c). */
struct reader {
    reader_t *prev, *next;         /* in engine->readers while the poll handle is open */
    engine_t *engine;
    uv_poll_t poll;
    int fd;                        /* -1 once closed */
    int refs;                      /* the JS wrapper, the open handle */
    bool closing;                  /* uv_close was called */
    napi_ref on_data, on_end;      /* a writer has no on_data */
    napi_ref bytes;                /* a writer's Uint8Array, until it ends */
    size_t length, written;        /* a writer's: its length when given, how much went out */
    napi_async_context async_context;
};

/* An fd the engine made (makePipe, makeSocketPair) that nobody took yet: closed when the env ends,
 * if it still is the same file (its number may have been reused after a close the engine missed). */
typedef struct {
    int fd;
    dev_t dev;
    ino_t ino;
} owned_fd_t;

/* A child_process child of this env (see adopt): only killed and reaped at teardown. */
struct adopted {
    adopted_t *next;
    pid_t pid;
    int pidfd;
    bool left;                     /* detached: reaped when it ends, never killed */
    bool supervisor;
};

struct engine {
    napi_env env;
    uv_loop_t *loop;
    child_t *children;
    adopted_t *adopted;
    reader_t *readers;
    size_t open_handles;
    size_t spawning;               /* spawnAsync calls not completed yet */
    bool tearing_down;
    napi_async_cleanup_hook_handle cleanup;
    napi_ref child_class;
    napi_ref reader_class;
    napi_ref read_buffer;          /* the readers' shared read buffer (an ArrayBuffer), once made */
    owned_fd_t *owned;             /* the fds made and not taken yet (see owned_fd_t) */
    size_t owned_count, owned_capacity;
};

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
    bool supervisor;               /* the helper as a containment supervisor */
} spec_t;

/* Leaves a pending exception and jumps to `fail` when a napi call fails. */
#define CHECK(call) \
    do { \
        if (!check(env, (call))) goto fail; \
    } while (0)

static inline int sys_pidfd_open(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

static inline int sys_pidfd_send_signal(int pidfd, int sig)
{
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/* engine-napi.c */
bool check(napi_env env, napi_status status);
void throw_type_error(napi_env env, const char *code, const char *msg);
void throw_errno(napi_env env, int err, const char *syscall_name, const char *path);
char *get_string(napi_env env, napi_value value, const char *what);
bool get_property(napi_env env, napi_value object, const char *name, napi_value *out);
bool is_nullish(napi_env env, napi_value value);
bool get_int_in(napi_env env, napi_value value, double min, double max, int *out);
bool is_function(napi_env env, napi_value value);
void *wrap_external(napi_env env, napi_callback_info info, napi_finalize finalize, napi_value *self);

/* engine-spec.c */
void free_spec(spec_t *spec);
bool read_spec(napi_env env, napi_value object, spec_t *spec);

/* engine-launch.c */
void kill_and_reap_pid(pid_t pid);
int do_spawn(const spec_t *spec, pid_t *pid, int *pidfd, struct ec_failure *failure);
const char *step_path(const spec_t *spec, const char *step);

/* engine-child.c */
int reap_pidfd(int pidfd, siginfo_t *info);
void close_child(child_t *c);
bool unreaped(int pidfd);
napi_value js_kill(napi_env env, napi_callback_info info);
napi_value js_ref(napi_env env, napi_callback_info info);
napi_value js_unref(napi_env env, napi_callback_info info);
napi_value js_child_constructor(napi_env env, napi_callback_info info);
napi_value track_child(napi_env env, engine_t *e, pid_t pid, int pidfd, bool supervisor, napi_value on_exit);

/* engine.c */
bool disown_fd(engine_t *e, int fd);
void close_owned_fds(engine_t *e);

/* engine-reader.c */
void close_reader(reader_t *r);
napi_value js_read_pipe(napi_env env, napi_callback_info info);
napi_value js_write_pipe(napi_env env, napi_callback_info info);
napi_value js_reader_constructor(napi_env env, napi_callback_info info);
napi_value js_reader_close(napi_env env, napi_callback_info info);

/* engine-spawn.c */
napi_value js_spawn(napi_env env, napi_callback_info info);
napi_value js_spawn_async(napi_env env, napi_callback_info info);

/* engine-teardown.c */
napi_value js_adopt(napi_env env, napi_callback_info info);
napi_value js_forget(napi_env env, napi_callback_info info);
napi_value js_leave(napi_env env, napi_callback_info info);
void end_child(int pidfd, pid_t pid, bool supervisor);
void reap_ended(int pidfd, bool supervisor);
void engine_finish(engine_t *e);
void engine_cleanup(napi_async_cleanup_hook_handle handle, void *arg);

#endif
