/*
 * engine-reader.c - a child's pipe on the env's loop without a Node stream: readPipe reads one out
 * of it, writePipe writes bytes into one.
 * readPipe: the fd is polled with a uv_poll_t; when readable it is read into one buffer that every
 * reader of the env shares, and each chunk is handed to onData as a view of that buffer (lent:
 * valid during the call only). onData returning false stops reading and closes the fd.
 * writePipe: when writable, as much of the bytes as the fd takes is written; once all of them
 * went out the fd is closed (the child's EOF).
 * Either way the end (EOF or all written, or an error) calls onEnd once, after the fd was closed;
 * close() stops at once. A pipe end keeps the loop alive until it ends.
 */
#include "engine.h"

/* The shared read buffer; at most this many reads per wakeup, so that a fast writer cannot keep
 * the loop from the rest of its work. */
#define READ_BUFFER_SIZE (256 * 1024)
#define READS_PER_WAKEUP 32
/* At most this much written per wakeup, for the same reason: a fast reader empties the pipe as
 * quickly as it is filled. */
#define WRITE_PER_WAKEUP (4 * 1024 * 1024)

static void reader_release(reader_t *r)
{
    if (--r->refs == 0) free(r);
}

static void reader_finalize(napi_env env, void *data, void *hint)
{
    (void)env;
    (void)hint;
    reader_release(data);
}

static void reader_on_close(uv_handle_t *handle)
{
    reader_t *r = handle->data;
    engine_t *e = r->engine;
    napi_handle_scope scope = NULL;
    napi_open_handle_scope(e->env, &scope);
    if (r->prev != NULL) r->prev->next = r->next;
    else e->readers = r->next;
    if (r->next != NULL) r->next->prev = r->prev;
    r->prev = r->next = NULL;
    if (r->on_data != NULL) napi_delete_reference(e->env, r->on_data);
    if (r->on_end != NULL) napi_delete_reference(e->env, r->on_end);
    if (r->bytes != NULL) napi_delete_reference(e->env, r->bytes);
    r->bytes = NULL;
    if (r->async_context != NULL) napi_async_destroy(e->env, r->async_context);
    r->on_data = r->on_end = NULL;
    r->async_context = NULL;
    if (scope != NULL) napi_close_handle_scope(e->env, scope);
    e->open_handles--;
    reader_release(r);
    if (e->tearing_down && e->open_handles == 0 && e->spawning == 0) engine_finish(e);
}

/* Stops polling, closes the fd and then the handle; the callbacks are not called any more. */
void close_reader(reader_t *r)
{
    if (r->closing) return;
    r->closing = true;
    uv_poll_stop(&r->poll); /* out of epoll before the fd is closed */
    close(r->fd);
    r->fd = -1;
    uv_close((uv_handle_t *)&r->poll, reader_on_close);
}

/* Calls a callback in the reader's async context; an exception goes to 'uncaughtException'.
 * Whether it returned true (onData: go on reading). */
static bool call_back(reader_t *r, napi_ref ref, napi_value arg)
{
    napi_env env = r->engine->env;
    napi_value callback, global, result;
    bool go_on = false;
    if (ref == NULL || napi_get_reference_value(env, ref, &callback) != napi_ok || callback == NULL
        || napi_get_global(env, &global) != napi_ok) {
        return false;
    }
    napi_status status = napi_make_callback(env, r->async_context, global, callback, 1, &arg, &result);
    bool pending = false;
    if (status != napi_ok && napi_is_exception_pending(env, &pending) == napi_ok && pending) {
        napi_value exception;
        if (napi_get_and_clear_last_exception(env, &exception) == napi_ok) napi_fatal_exception(env, exception);
        return false;
    }
    return status == napi_ok && napi_get_value_bool(env, result, &go_on) == napi_ok && go_on;
}

/* The shared buffer, made again if JS detached it (transferred it away). */
static void *read_buffer(engine_t *e, napi_value *buffer)
{
    bool detached = true;
    void *data = NULL;
    if (e->read_buffer != NULL && napi_get_reference_value(e->env, e->read_buffer, buffer) == napi_ok
        && napi_is_detached_arraybuffer(e->env, *buffer, &detached) == napi_ok && !detached
        && napi_get_arraybuffer_info(e->env, *buffer, &data, NULL) == napi_ok) {
        return data;
    }
    if (e->read_buffer != NULL) napi_delete_reference(e->env, e->read_buffer);
    e->read_buffer = NULL;
    if (napi_create_arraybuffer(e->env, READ_BUFFER_SIZE, &data, buffer) != napi_ok
        || napi_create_reference(e->env, *buffer, 1, &e->read_buffer) != napi_ok) {
        return NULL;
    }
    return data;
}

/* The end: the fd is closed, then onEnd gets 0 (EOF) or the errno. */
static void reader_end(reader_t *r, int err)
{
    napi_env env = r->engine->env;
    close_reader(r);
    napi_value code;
    if (napi_create_int32(env, err, &code) == napi_ok) call_back(r, r->on_end, code);
}

static void on_readable(uv_poll_t *handle, int status, int events)
{
    (void)events;
    reader_t *r = handle->data;
    engine_t *e = r->engine;
    napi_handle_scope scope;
    if (r->closing || napi_open_handle_scope(e->env, &scope) != napi_ok) return;
    if (status < 0) {
        reader_end(r, -status);
        napi_close_handle_scope(e->env, scope);
        return;
    }
    for (int i = 0; i < READS_PER_WAKEUP && !r->closing; i++) {
        napi_value buffer, view;
        void *data = read_buffer(e, &buffer);
        if (data == NULL) {
            reader_end(r, ENOMEM);
            break;
        }
        ssize_t n = read(r->fd, data, READ_BUFFER_SIZE);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n <= 0) {
            reader_end(r, n == 0 ? 0 : errno);
            break;
        }
        if (napi_create_typedarray(e->env, napi_uint8_array, (size_t)n, buffer, 0, &view) != napi_ok) {
            reader_end(r, ENOMEM);
            break;
        }
        /* onData may have called close(): then it is over already. */
        if (!call_back(r, r->on_data, view)) {
            close_reader(r);
            break;
        }
    }
    napi_close_handle_scope(e->env, scope);
}

/* Writes until the fd is full, all of it went out (then ends with 0) or the write fails. The
 * bytes are looked up on every wakeup: JS may have detached (transferred) their buffer since. */
static void on_writable(uv_poll_t *handle, int status, int events)
{
    (void)events;
    reader_t *r = handle->data;
    napi_env env = r->engine->env;
    napi_handle_scope scope;
    if (r->closing || napi_open_handle_scope(env, &scope) != napi_ok) return;
    napi_value view, arraybuffer;
    napi_typedarray_type type;
    size_t length = 0, offset = 0, budget = WRITE_PER_WAKEUP;
    void *data = NULL;
    bool detached = true;
    int err = 0;
    if ((napi_get_reference_value(env, r->bytes, &view) != napi_ok
            || napi_get_typedarray_info(env, view, &type, &length, &data, &arraybuffer, &offset) != napi_ok
            || napi_is_detached_arraybuffer(env, arraybuffer, &detached) != napi_ok || detached || length < r->length)) {
        err = EFAULT; /* the bytes are gone (detached, or shrunk) */
    }
    while (err == 0 && r->written < r->length && budget > 0) {
        size_t size = r->length - r->written < budget ? r->length - r->written : budget;
        const char *from = (const char *)data + r->written;
        /* No SIGPIPE from a socket whose peer is gone: EPIPE, which onEnd reports. */
        ssize_t n = send(r->fd, from, size, MSG_NOSIGNAL);
        if (n < 0 && errno == ENOTSOCK) n = write(r->fd, from, size);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n < 0) err = errno;
        else {
            r->written += (size_t)n;
            budget -= (size_t)n;
        }
    }
    /* libuv reports EPOLLERR as EBADF, and stops polling: the end, with what a write said first
     * (EPIPE: the child closed its end). */
    if (err == 0 && status < 0 && r->written < r->length) err = -status;
    if (err != 0 || r->written == r->length) reader_end(r, err);
    napi_close_handle_scope(env, scope);
}

/* The pipe end for readPipe and writePipe: takes the fd (closed when the end comes, and at once
 * when this throws), polls it for `events`, and returns the JS object; `r` gets its callbacks and
 * bytes from the caller once made (it is not polled before the loop's next turn). */
static napi_value open_end(napi_env env, engine_t *e, int fd, int events, uv_poll_cb cb, const char *what, reader_t **made)
{
    napi_value object, external, constructor, name;
    int err;
    disown_fd(e, fd); /* it is the reader's (or writer's) now */
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        err = errno;
        close(fd);
        throw_errno(env, err, "fcntl", NULL);
        return NULL;
    }
    reader_t *r = calloc(1, sizeof *r);
    if (r == NULL) {
        close(fd);
        throw_errno(env, ENOMEM, "malloc", NULL);
        return NULL;
    }
    r->engine = e;
    r->fd = fd;
    if ((err = uv_poll_init(e->loop, &r->poll, fd)) != 0) {
        close(fd);
        free(r);
        throw_errno(env, -err, "uv_poll_init", NULL);
        return NULL;
    }
    /* The handle is open: it holds a ref, and reader_on_close unlinks and releases. */
    r->poll.data = r;
    r->refs = 1;
    r->next = e->readers;
    if (e->readers != NULL) e->readers->prev = r;
    e->readers = r;
    e->open_handles++;
    CHECK(napi_create_external(env, r, NULL, NULL, &external));
    CHECK(napi_get_reference_value(env, e->reader_class, &constructor));
    CHECK(napi_new_instance(env, constructor, 1, &external, &object));
    CHECK(napi_create_string_utf8(env, what, NAPI_AUTO_LENGTH, &name));
    CHECK(napi_async_init(env, object, name, &r->async_context));
    if ((err = uv_poll_start(&r->poll, events, cb)) != 0) {
        throw_errno(env, -err, "uv_poll_start", NULL);
        goto fail;
    }
    *made = r;
    return object;
fail:
    close_reader(r);
    return NULL;
}

/* Arguments readPipe or writePipe refuses: a TypeError, and the fd, once it was one, is closed
 * (taken, even by a call that throws). */
static napi_value refuse(napi_env env, engine_t *e, int fd, const char *usage)
{
    if (fd >= 0) {
        disown_fd(e, fd);
        close(fd);
    }
    throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
    return NULL;
}

/* readPipe(fd, onData, onEnd) -> reader. Takes the fd: it is closed when the reader ends, and at
 * once when the call throws. */
napi_value js_read_pipe(napi_env env, napi_callback_info info)
{
    size_t argc = 3;
    napi_value argv[3], object;
    engine_t *e = NULL;
    reader_t *r = NULL;
    int fd = -1;
    if (!check(env, napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&e))) return NULL;
    if (argc < 3 || !get_int_in(env, argv[0], 0, INT_MAX, &fd) || !is_function(env, argv[1]) || !is_function(env, argv[2])) {
        return refuse(env, e, fd, "readPipe(fd, onData, onEnd): an fd and two functions");
    }
    object = open_end(env, e, fd, UV_READABLE, on_readable, "effect-command:reader", &r);
    if (object == NULL) return NULL;
    CHECK(napi_create_reference(env, argv[1], 1, &r->on_data));
    CHECK(napi_create_reference(env, argv[2], 1, &r->on_end));
    return object;
fail:
    close_reader(r);
    return NULL;
}

/* writePipe(fd, bytes, onEnd) -> writer (a Reader: only close()). Takes the fd like readPipe. */
napi_value js_write_pipe(napi_env env, napi_callback_info info)
{
    size_t argc = 3;
    napi_value argv[3], object;
    engine_t *e = NULL;
    reader_t *r = NULL;
    int fd = -1;
    bool typed = false;
    napi_typedarray_type type = napi_int8_array;
    size_t length = 0;
    if (!check(env, napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&e))) return NULL;
    if (argc < 3 || !get_int_in(env, argv[0], 0, INT_MAX, &fd) || napi_is_typedarray(env, argv[1], &typed) != napi_ok || !typed
        || napi_get_typedarray_info(env, argv[1], &type, &length, NULL, NULL, NULL) != napi_ok || type != napi_uint8_array
        || !is_function(env, argv[2])) {
        return refuse(env, e, fd, "writePipe(fd, bytes, onEnd): an fd, a Uint8Array and a function");
    }
    object = open_end(env, e, fd, UV_WRITABLE, on_writable, "effect-command:writer", &r);
    if (object == NULL) return NULL;
    r->length = length;
    CHECK(napi_create_reference(env, argv[1], 1, &r->bytes));
    CHECK(napi_create_reference(env, argv[2], 1, &r->on_end));
    return object;
fail:
    close_reader(r);
    return NULL;
}

/* new Reader(external): only readPipe can make the external. */
napi_value js_reader_constructor(napi_env env, napi_callback_info info)
{
    napi_value self;
    reader_t *object = wrap_external(env, info, reader_finalize, &self);
    if (object == NULL) return NULL;
    object->refs++;
    return self;
}

/* reader.close(): stops reading and closes the fd; no callback comes after it. */
napi_value js_reader_close(napi_env env, napi_callback_info info)
{
    napi_value self;
    void *data = NULL;
    size_t argc = 0;
    if (napi_get_cb_info(env, info, &argc, NULL, &self, NULL) != napi_ok || napi_unwrap(env, self, &data) != napi_ok || data == NULL) {
        throw_type_error(env, "ERR_INVALID_THIS", "not a native engine reader: call close as its method");
        return NULL;
    }
    close_reader(data);
    return NULL;
}
