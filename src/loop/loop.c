/*
 * Dispatch of the loop vtable, and the monotonic clock.
 */
#include "loop/loop.h"

#include <stddef.h>
#include <time.h>

struct loop_watch *loop_watch_add(struct loop *loop, int fd, int events, loop_watch_fn fn,
                                  void *opaque)
{
    return loop->impl->watch_add(loop, fd, events, fn, opaque);
}

void loop_watch_update(struct loop *loop, struct loop_watch *watch, int events)
{
    if (watch) {
        loop->impl->watch_update(watch, events);
    }
}

void loop_watch_remove(struct loop *loop, struct loop_watch *watch)
{
    if (watch) {
        loop->impl->watch_remove(watch);
    }
}

struct loop_timer *loop_timer_add(struct loop *loop, loop_timer_fn fn, void *opaque)
{
    return loop->impl->timer_add(loop, fn, opaque);
}

void loop_timer_start(struct loop *loop, struct loop_timer *timer, uint32_t ms)
{
    if (timer) {
        loop->impl->timer_start(timer, ms);
    }
}

void loop_timer_cancel(struct loop *loop, struct loop_timer *timer)
{
    if (timer) {
        loop->impl->timer_cancel(timer);
    }
}

void loop_timer_remove(struct loop *loop, struct loop_timer *timer)
{
    if (timer) {
        loop->impl->timer_remove(timer);
    }
}

void loop_destroy(struct loop *loop)
{
    if (loop) {
        loop->impl->destroy(loop);
    }
}

uint64_t loop_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t loop_now_ms(void)
{
    return loop_now_ns() / 1000000u;
}
