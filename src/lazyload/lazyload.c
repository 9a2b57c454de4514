/*
 * The binder behind the lazy stubs (lazyload.h). One mutex guards the
 * opening of every library (each is opened once, and dlopen() is itself
 * thread-safe); a slot is written with a release store, and a stub that
 * reads the old resolver address only binds again.
 */
#include "lazyload/lazyload.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static pthread_mutex_t lazyload_lock = PTHREAD_MUTEX_INITIALIZER;

/* The libraries opened so far: few, so a short list. */
#define LAZYLOAD_MAX_LIBS 8
static struct {
    struct lazyload_lib *lib;
    void *handle;
} lazyload_open_libs[LAZYLOAD_MAX_LIBS];

static void *lazyload_handle(struct lazyload_lib *lib, const char **why)
{
    void *handle = NULL;
    pthread_mutex_lock(&lazyload_lock);
    size_t i = 0;
    for (; i < LAZYLOAD_MAX_LIBS && lazyload_open_libs[i].lib; i++) {
        if (lazyload_open_libs[i].lib == lib) {
            handle = lazyload_open_libs[i].handle;
            break;
        }
    }
    if (!handle) {
        handle = dlopen(lib->soname, RTLD_NOW | RTLD_GLOBAL);
        if (!handle) {
            *why = dlerror();
        } else if (i < LAZYLOAD_MAX_LIBS) {
            lazyload_open_libs[i].lib = lib;
            lazyload_open_libs[i].handle = handle;
        }
    }
    pthread_mutex_unlock(&lazyload_lock);
    return handle;
}

int lazyload_open(struct lazyload_lib *lib, const char **why)
{
    return lazyload_handle(lib, why) ? 0 : -1;
}

/* What the dynamic loader does when a NEEDED library is missing. */
static void lazyload_fatal(const struct lazyload_lib *lib, const char *name, const char *why)
{
    char line[512];
    int n = snprintf(line, sizeof(line), "error while loading %s%s%s: %s\n", lib->soname,
                     name ? " for " : "", name ? name : "", why ? why : "unknown error");
    if (n > 0) {
        ssize_t rc =
                write(STDERR_FILENO, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line));
        (void)rc;
    }
    _exit(127);
}

void *lazyload_bind(struct lazyload_lib *lib, size_t index)
{
    const char *why = NULL;
    void *handle = lazyload_handle(lib, &why);
    if (!handle) {
        lazyload_fatal(lib, NULL, why);
    }
    dlerror();
    void *fn = dlsym(handle, lib->names[index]);
    if (!fn) {
        lazyload_fatal(lib, lib->names[index], dlerror());
    }
    __atomic_store_n(&lib->slots[index], fn, __ATOMIC_RELEASE);
    return fn;
}
