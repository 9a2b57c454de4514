/*
 * Event loops behind one small vtable.
 *
 * Server code never talks to an event loop directly: it adds watches and
 * timers on a `struct loop`. Two implementations exist:
 *  - loop_core.c adapts the host's SpiceCoreInterface (the host's main loop:
 *    QEMU, Xspice, clove-demo). The library never owns that thread.
 *  - loop_poll.c is our own poll(2) loop, one per worker thread.
 *
 * Contract (both implementations): watch and timer callbacks run on the
 * loop's thread; a callback may remove its own or any other watch/timer;
 * removing is immediate (no callback runs after remove returns).
 *
 * Thread: a loop and everything on it belong to one thread, except
 * msg_queue_post() (msg_queue.h), the only way in from other threads.
 */
#ifndef CLOVE_LOOP_LOOP_H
#define CLOVE_LOOP_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#define LOOP_READ  (1 << 0) /* == SPICE_WATCH_EVENT_READ */
#define LOOP_WRITE (1 << 1) /* == SPICE_WATCH_EVENT_WRITE */

struct loop;
struct loop_watch;
struct loop_timer;

typedef void (*loop_watch_fn)(int fd, int events, void *opaque);
typedef void (*loop_timer_fn)(void *opaque);

struct loop_impl {
    struct loop_watch *(*watch_add)(struct loop *loop, int fd, int events, loop_watch_fn fn,
                                    void *opaque);
    void (*watch_update)(struct loop_watch *watch, int events);
    void (*watch_remove)(struct loop_watch *watch);
    struct loop_timer *(*timer_add)(struct loop *loop, loop_timer_fn fn, void *opaque);
    void (*timer_start)(struct loop_timer *timer, uint32_t ms);
    void (*timer_cancel)(struct loop_timer *timer);
    void (*timer_remove)(struct loop_timer *timer);
    void (*destroy)(struct loop *loop);
};

struct loop {
    const struct loop_impl *impl;
};

/* Returns a new watch, or NULL on failure. */
struct loop_watch *loop_watch_add(struct loop *loop, int fd, int events, loop_watch_fn fn,
                                  void *opaque);
void loop_watch_update(struct loop *loop, struct loop_watch *watch, int events);
/* Accepts NULL. */
void loop_watch_remove(struct loop *loop, struct loop_watch *watch);

/* Returns a new, stopped timer, or NULL. */
struct loop_timer *loop_timer_add(struct loop *loop, loop_timer_fn fn, void *opaque);
/* (Re)arms a one-shot timer to fire after ms milliseconds. */
void loop_timer_start(struct loop *loop, struct loop_timer *timer, uint32_t ms);
void loop_timer_cancel(struct loop *loop, struct loop_timer *timer);
/* Accepts NULL. */
void loop_timer_remove(struct loop *loop, struct loop_timer *timer);

/* Accepts NULL. */
void loop_destroy(struct loop *loop);

/* ---- our own poll loop (loop_poll.c) ---- */

/* Returns a new loop owned by the calling thread, or NULL. */
struct loop *loop_poll_create(void);
/*
 * Runs one iteration: waits at most timeout_ms (-1 = until an event or a
 * timer) and dispatches. Returns the number of callbacks run, or a negative
 * CLOVE_E_* on a poll failure.
 */
int loop_poll_iterate(struct loop *loop, int timeout_ms);
/* Runs until loop_poll_quit(). */
void loop_poll_run(struct loop *loop);
/* Thread: the loop's own thread (use a msg_queue to stop it from elsewhere). */
void loop_poll_quit(struct loop *loop);

/* Monotonic clock in milliseconds and nanoseconds. */
uint64_t loop_now_ms(void);
uint64_t loop_now_ns(void);

#endif
