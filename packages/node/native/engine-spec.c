/* engine-spec.c - the spec object of spawn/spawnAsync read into a spec_t (malloc'd, on the calling
 * thread), and freed. */
#include "engine.h"

static void free_strings(char **strings)
{
    if (strings == NULL) return;
    for (char **s = strings; *s != NULL; s++) free(*s);
    free(strings);
}

void free_spec(spec_t *spec)
{
    free(spec->path);
    free_strings(spec->argv);
    free_strings(spec->envp);
    free(spec->cwd);
    free(spec->fds);
    memset(spec, 0, sizeof *spec);
}

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

bool read_spec(napi_env env, napi_value object, spec_t *spec)
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
    if (!get_bool(env, object, "supervisor", &spec->supervisor)) goto fail;
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
