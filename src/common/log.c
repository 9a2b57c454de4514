/*
 * Logging sink, level filter and rate limiter.
 *
 * The level is read once from the environment. Messages are formatted into a
 * bounded stack buffer, so a log call never allocates.
 */
#include "common/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t log_mutex = PTHREAD_MUTEX_INITIALIZER;
static log_handler_fn log_handler;
static pthread_once_t log_level_once = PTHREAD_ONCE_INIT;
static int log_max_level = LOG_LEVEL_WARN;

static void log_read_level(void)
{
    const char *env = getenv("CLOVE_DEBUG");
    if (env && *env) {
        int v = atoi(env);
        log_max_level = v >= 2 ? LOG_LEVEL_DEBUG : v == 1 ? LOG_LEVEL_INFO : LOG_LEVEL_WARN;
        return;
    }
    env = getenv("SPICE_DEBUG_LEVEL");
    if (env && atoi(env) >= 4) {
        log_max_level = LOG_LEVEL_DEBUG;
    } else if (env && atoi(env) >= 3) {
        log_max_level = LOG_LEVEL_INFO;
    }
}

void log_set_handler(log_handler_fn handler)
{
    pthread_mutex_lock(&log_mutex);
    log_handler = handler;
    pthread_mutex_unlock(&log_mutex);
}

bool log_enabled(enum log_level level)
{
    pthread_once(&log_level_once, log_read_level);
    return (int)level <= log_max_level;
}

static const char *level_name(enum log_level level)
{
    switch (level) {
    case LOG_LEVEL_ERROR:
        return "error";
    case LOG_LEVEL_WARN:
        return "warning";
    case LOG_LEVEL_INFO:
        return "info";
    default:
        return "debug";
    }
}

static void log_emit(enum log_level level, const char *file, int line, const char *msg)
{
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    pthread_mutex_lock(&log_mutex);
    if (log_handler) {
        log_handler(level, base, line, msg);
    } else {
        fprintf(stderr, "clove %s: [%s:%d] %s\n", level_name(level), base, line, msg);
    }
    pthread_mutex_unlock(&log_mutex);
}

void log_write(enum log_level level, const char *file, int line, const char *fmt, ...)
{
    if (!log_enabled(level)) {
        return;
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_emit(level, file, line, msg);
}

void log_write_errno(enum log_level level, const char *file, int line, const char *fmt, ...)
{
    int saved = errno;
    if (!log_enabled(level)) {
        return;
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof(msg)) {
        snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", strerror(saved));
    }
    log_emit(level, file, line, msg);
    errno = saved;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool log_ratelimit_allow(struct log_ratelimit *rl, int burst, int interval_ms, int *suppressed)
{
    bool allow;
    pthread_mutex_lock(&log_mutex);
    long long now = now_ms();
    if (rl->last_ms == 0) {
        rl->last_ms = now;
        rl->tokens = burst;
    }
    long long refill = (now - rl->last_ms) / interval_ms;
    if (refill > 0) {
        rl->tokens = rl->tokens + refill > burst ? burst : rl->tokens + (int)refill;
        rl->last_ms = now;
    }
    *suppressed = 0;
    if (rl->tokens > 0) {
        rl->tokens--;
        *suppressed = rl->suppressed;
        rl->suppressed = 0;
        allow = true;
    } else {
        rl->suppressed++;
        allow = false;
    }
    pthread_mutex_unlock(&log_mutex);
    return allow;
}
