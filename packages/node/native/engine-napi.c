/* engine-napi.c - N-API helpers: pending exceptions, errors thrown like Node's, typed arguments. */
#include "engine.h"

/* Leaves a pending exception when a napi call fails (unless one is pending already). */
bool check(napi_env env, napi_status status)
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

void throw_type_error(napi_env env, const char *code, const char *msg)
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
void throw_errno(napi_env env, int err, const char *syscall_name, const char *path)
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
char *get_string(napi_env env, napi_value value, const char *what)
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

bool get_property(napi_env env, napi_value object, const char *name, napi_value *out)
{
    return check(env, napi_get_named_property(env, object, name, out));
}

bool is_nullish(napi_env env, napi_value value)
{
    napi_valuetype type;
    return napi_typeof(env, value, &type) == napi_ok && (type == napi_undefined || type == napi_null);
}

/* An integer in [min, max] (no NaN, no fraction), as an int. */
bool get_int_in(napi_env env, napi_value value, double min, double max, int *out)
{
    double d = 0;
    /* The range check first: it also rejects NaN and the infinities before the cast. */
    if (napi_get_value_double(env, value, &d) != napi_ok || !(d >= min && d <= max) || d != (double)(int)d) return false;
    *out = (int)d;
    return true;
}

bool is_function(napi_env env, napi_value value)
{
    napi_valuetype type;
    return napi_typeof(env, value, &type) == napi_ok && type == napi_function;
}

/* new Class(external) for the engine's own classes (only the engine makes the external): wraps
 * the native object with `finalize`; NULL with a TypeError pending otherwise. */
void *wrap_external(napi_env env, napi_callback_info info, napi_finalize finalize, napi_value *self)
{
    size_t argc = 1;
    napi_value argv[1];
    napi_valuetype type;
    void *data = NULL;
    if (napi_get_cb_info(env, info, &argc, argv, self, NULL) != napi_ok || argc < 1
        || napi_typeof(env, argv[0], &type) != napi_ok || type != napi_external
        || napi_get_value_external(env, argv[0], &data) != napi_ok || data == NULL) {
        throw_type_error(env, "ERR_ILLEGAL_CONSTRUCTOR", "Illegal constructor");
        return NULL;
    }
    return check(env, napi_wrap(env, *self, data, finalize, NULL, NULL)) ? data : NULL;
}
