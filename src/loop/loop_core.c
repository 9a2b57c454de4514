/*
 * The adapter from our loop vtable onto the host's SpiceCoreInterface.
 *
 * Each of our watches/timers wraps the host's SpiceWatch/SpiceTimer and a
 * trampoline, so callbacks keep our signatures. The host owns the loop; we
 * never block in it.
 */
#include "loop/loop_core.h"

#include <spice.h>
#include <stdlib.h>

struct core_loop {
    struct loop base;
    const SpiceCoreInterface *core;
};

struct loop_watch {
    struct core_loop *loop;
    SpiceWatch *watch;
    loop_watch_fn fn;
    void *opaque;
};

struct loop_timer {
    struct core_loop *loop;
    SpiceTimer *timer;
    loop_timer_fn fn;
    void *opaque;
};

static void core_watch_trampoline(int fd, int event, void *opaque)
{
    struct loop_watch *w = opaque;
    w->fn(fd, event, w->opaque);
}

static void core_timer_trampoline(void *opaque)
{
    struct loop_timer *t = opaque;
    t->fn(t->opaque);
}

static struct loop_watch *core_watch_add(struct loop *base, int fd, int events, loop_watch_fn fn,
                                         void *opaque)
{
    struct core_loop *loop = (struct core_loop *)base;
    struct loop_watch *w = calloc(1, sizeof(*w));
    if (!w) {
        return NULL;
    }
    w->loop = loop;
    w->fn = fn;
    w->opaque = opaque;
    w->watch = loop->core->watch_add(fd, events, core_watch_trampoline, w);
    if (!w->watch) {
        free(w);
        return NULL;
    }
    return w;
}

static void core_watch_update(struct loop_watch *w, int events)
{
    w->loop->core->watch_update_mask(w->watch, events);
}

static void core_watch_remove(struct loop_watch *w)
{
    w->loop->core->watch_remove(w->watch);
    free(w);
}

static struct loop_timer *core_timer_add(struct loop *base, loop_timer_fn fn, void *opaque)
{
    struct core_loop *loop = (struct core_loop *)base;
    struct loop_timer *t = calloc(1, sizeof(*t));
    if (!t) {
        return NULL;
    }
    t->loop = loop;
    t->fn = fn;
    t->opaque = opaque;
    t->timer = loop->core->timer_add(core_timer_trampoline, t);
    if (!t->timer) {
        free(t);
        return NULL;
    }
    return t;
}

static void core_timer_start(struct loop_timer *t, uint32_t ms)
{
    t->loop->core->timer_start(t->timer, ms);
}

static void core_timer_cancel(struct loop_timer *t)
{
    t->loop->core->timer_cancel(t->timer);
}

static void core_timer_remove(struct loop_timer *t)
{
    t->loop->core->timer_remove(t->timer);
    free(t);
}

static void core_loop_destroy(struct loop *base)
{
    free(base);
}

static const struct loop_impl core_loop_impl = {
        .watch_add = core_watch_add,
        .watch_update = core_watch_update,
        .watch_remove = core_watch_remove,
        .timer_add = core_timer_add,
        .timer_start = core_timer_start,
        .timer_cancel = core_timer_cancel,
        .timer_remove = core_timer_remove,
        .destroy = core_loop_destroy,
};

struct loop *loop_core_create(const SpiceCoreInterface *core)
{
    struct core_loop *loop = calloc(1, sizeof(*loop));
    if (!loop) {
        return NULL;
    }
    loop->base.impl = &core_loop_impl;
    loop->core = core;
    return &loop->base;
}
