/*
 * Logging for the whole project.
 *
 * Every line carries a level and file:line. The default sink writes warnings
 * and errors to stderr; CLOVE_DEBUG=1 (or SPICE_DEBUG_LEVEL>=3, for hosts that
 * already set it) also shows info, CLOVE_DEBUG=2 debug. A host may install its
 * own sink with log_set_handler(). Lines a peer can trigger must go through
 * log_ratelimited() so that a hostile client cannot flood the host's log.
 *
 * Pure layers (proto, codec) never log; they return err_desc strings.
 *
 * Thread: any. The sink is called with an internal mutex held.
 */
#ifndef CLOVE_COMMON_LOG_H
#define CLOVE_COMMON_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level {
    LOG_LEVEL_ERROR = 0,
    LOG_LEVEL_WARN = 1,
    LOG_LEVEL_INFO = 2,
    LOG_LEVEL_DEBUG = 3,
};

typedef void (*log_handler_fn)(enum log_level level, const char *file, int line, const char *msg);

void log_set_handler(log_handler_fn handler);
bool log_enabled(enum log_level level);
void log_write(enum log_level level, const char *file, int line, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* Like log_write, and appends ": strerror(errno)". */
void log_write_errno(enum log_level level, const char *file, int line, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

#define log_error(...) log_write(LOG_LEVEL_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define log_warn(...)  log_write(LOG_LEVEL_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define log_info(...)  log_write(LOG_LEVEL_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(...)                                               \
    do {                                                             \
        if (log_enabled(LOG_LEVEL_DEBUG)) {                          \
            log_write(LOG_LEVEL_DEBUG, __FILE__, __LINE__, __VA_ARGS__); \
        }                                                            \
    } while (0)
#define log_errno(...) log_write_errno(LOG_LEVEL_WARN, __FILE__, __LINE__, __VA_ARGS__)

/*
 * A token bucket for lines a peer can trigger: at most `burst` lines, refilled
 * at one line per `interval_ms`. Declare one static per call site.
 */
struct log_ratelimit {
    long long last_ms;
    int tokens;
    int suppressed;
};

bool log_ratelimit_allow(struct log_ratelimit *rl, int burst, int interval_ms, int *suppressed);

#define log_ratelimited(level, ...)                                              \
    do {                                                                         \
        static struct log_ratelimit rl_;                                         \
        int suppressed_;                                                         \
        if (log_ratelimit_allow(&rl_, 20, 500, &suppressed_)) {                  \
            if (suppressed_ > 0) {                                               \
                log_write(level, __FILE__, __LINE__, "(%d similar lines suppressed)", \
                          suppressed_);                                          \
            }                                                                    \
            log_write(level, __FILE__, __LINE__, __VA_ARGS__);                   \
        }                                                                        \
    } while (0)

/* Logs `what` once per process at warning level (for unimplemented API). */
#define log_once(...)                    \
    do {                                 \
        static int once_;                \
        if (!__atomic_exchange_n(&once_, 1, __ATOMIC_RELAXED)) { \
            log_warn(__VA_ARGS__);       \
        }                                \
    } while (0)

#endif
