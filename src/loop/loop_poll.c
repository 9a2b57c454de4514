/*
 * Our own poll(2) event loop, one per worker thread.
 *
 * DESIGN: watches and timers live in singly linked lists; a worker has a
 * handful of each (its channel clients' sockets, a message queue, ack and
 * ping timers), so linear scans beat any fancier structure. Removal during
 * dispatch only marks an entry dead; dead entries are skipped and freed at
 * the end of the iteration, which makes "a callback may remove anything"
 * safe without reference counts.
 */
#include "common/error.h"
#include "common/log.h"
#include "loop/loop.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>

struct loop_watch {
    struct poll_loop *loop;
    struct loop_watch *next;
    int fd;
    int events;
    bool dead;
    loop_watch_fn fn;
    void *opaque;
};

struct loop_timer {
    struct poll_loop *loop;
    struct loop_timer *next;
    bool armed;
    bool dead;
    uint64_t due_ms;
    loop_timer_fn fn;
    void *opaque;
};

struct poll_loop {
    struct loop base;
    struct loop_watch *watches;
    struct loop_timer *timers;
    bool quit;
    int dispatching;
    bool has_dead;
    struct pollfd *pfds;
    struct loop_watch **pfd_watches;
    size_t pfd_cap;
};

static const struct loop_impl poll_loop_impl;

static struct poll_loop *poll_loop_from_loop(struct loop *loop)
{
    return (struct poll_loop *)loop;
}

static struct loop_watch *poll_watch_add(struct loop *base, int fd, int events, loop_watch_fn fn,
                                         void *opaque)
{
    struct poll_loop *loop = poll_loop_from_loop(base);
    struct loop_watch *w = calloc(1, sizeof(*w));
    if (!w) {
        return NULL;
    }
    w->loop = loop;
    w->fd = fd;
    w->events = events;
    w->fn = fn;
    w->opaque = opaque;
    w->next = loop->watches;
    loop->watches = w;
    return w;
}

static void poll_watch_update(struct loop_watch *w, int events)
{
    w->events = events;
}

static void poll_collect_dead(struct poll_loop *loop)
{
    if (!loop->has_dead || loop->dispatching) {
        return;
    }
    for (struct loop_watch **pw = &loop->watches; *pw;) {
        if ((*pw)->dead) {
            struct loop_watch *dead = *pw;
            *pw = dead->next;
            free(dead);
        } else {
            pw = &(*pw)->next;
        }
    }
    for (struct loop_timer **pt = &loop->timers; *pt;) {
        if ((*pt)->dead) {
            struct loop_timer *dead = *pt;
            *pt = dead->next;
            free(dead);
        } else {
            pt = &(*pt)->next;
        }
    }
    loop->has_dead = false;
}

static void poll_watch_remove(struct loop_watch *w)
{
    w->dead = true;
    w->loop->has_dead = true;
    poll_collect_dead(w->loop);
}

static struct loop_timer *poll_timer_add(struct loop *base, loop_timer_fn fn, void *opaque)
{
    struct poll_loop *loop = poll_loop_from_loop(base);
    struct loop_timer *t = calloc(1, sizeof(*t));
    if (!t) {
        return NULL;
    }
    t->loop = loop;
    t->fn = fn;
    t->opaque = opaque;
    t->next = loop->timers;
    loop->timers = t;
    return t;
}

static void poll_timer_start(struct loop_timer *t, uint32_t ms)
{
    t->armed = true;
    t->due_ms = loop_now_ms() + ms;
}

static void poll_timer_cancel(struct loop_timer *t)
{
    t->armed = false;
}

static void poll_timer_remove(struct loop_timer *t)
{
    t->armed = false;
    t->dead = true;
    t->loop->has_dead = true;
    poll_collect_dead(t->loop);
}

static void poll_loop_destroy(struct loop *base)
{
    struct poll_loop *loop = poll_loop_from_loop(base);
    while (loop->watches) {
        struct loop_watch *w = loop->watches;
        loop->watches = w->next;
        free(w);
    }
    while (loop->timers) {
        struct loop_timer *t = loop->timers;
        loop->timers = t->next;
        free(t);
    }
    free(loop->pfds);
    free(loop->pfd_watches);
    free(loop);
}

static const struct loop_impl poll_loop_impl = {
        .watch_add = poll_watch_add,
        .watch_update = poll_watch_update,
        .watch_remove = poll_watch_remove,
        .timer_add = poll_timer_add,
        .timer_start = poll_timer_start,
        .timer_cancel = poll_timer_cancel,
        .timer_remove = poll_timer_remove,
        .destroy = poll_loop_destroy,
};

struct loop *loop_poll_create(void)
{
    struct poll_loop *loop = calloc(1, sizeof(*loop));
    if (!loop) {
        return NULL;
    }
    loop->base.impl = &poll_loop_impl;
    return &loop->base;
}

static int poll_next_timeout(struct poll_loop *loop, int timeout_ms)
{
    uint64_t now = loop_now_ms();
    for (struct loop_timer *t = loop->timers; t; t = t->next) {
        if (!t->armed || t->dead) {
            continue;
        }
        int wait = t->due_ms <= now ? 0 : (int)(t->due_ms - now);
        if (timeout_ms < 0 || wait < timeout_ms) {
            timeout_ms = wait;
        }
    }
    return timeout_ms;
}

int loop_poll_iterate(struct loop *base, int timeout_ms)
{
    struct poll_loop *loop = poll_loop_from_loop(base);
    size_t n = 0;
    for (struct loop_watch *w = loop->watches; w; w = w->next) {
        n++;
    }
    if (n > loop->pfd_cap) {
        size_t cap = n * 2;
        struct pollfd *pfds = realloc(loop->pfds, cap * sizeof(*pfds));
        if (pfds) {
            loop->pfds = pfds;
        }
        struct loop_watch **pws = realloc(loop->pfd_watches, cap * sizeof(*pws));
        if (pws) {
            loop->pfd_watches = pws;
        }
        if (!pfds || !pws) {
            return CLOVE_E_NOMEM;
        }
        loop->pfd_cap = cap;
    }
    size_t nfds = 0;
    for (struct loop_watch *w = loop->watches; w; w = w->next) {
        if (w->dead || w->events == 0) {
            continue;
        }
        loop->pfds[nfds].fd = w->fd;
        loop->pfds[nfds].events = (short)(((w->events & LOOP_READ) ? POLLIN : 0) |
                                          ((w->events & LOOP_WRITE) ? POLLOUT : 0));
        loop->pfds[nfds].revents = 0;
        loop->pfd_watches[nfds] = w;
        nfds++;
    }
    int rc = poll(loop->pfds, nfds, poll_next_timeout(loop, timeout_ms));
    if (rc < 0 && errno != EINTR) {
        log_errno("poll");
        return CLOVE_E_IO;
    }
    int ran = 0;
    loop->dispatching++;
    for (size_t i = 0; rc > 0 && i < nfds; i++) {
        struct loop_watch *w = loop->pfd_watches[i];
        short re = loop->pfds[i].revents;
        if (!re || w->dead) {
            continue;
        }
        int ev = 0;
        if (re & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
            ev |= LOOP_READ;
        }
        if (re & (POLLOUT | POLLERR | POLLHUP)) {
            ev |= LOOP_WRITE;
        }
        ev &= w->events ? w->events : ev;
        if (ev) {
            w->fn(w->fd, ev, w->opaque);
            ran++;
        }
    }
    uint64_t now = loop_now_ms();
    for (struct loop_timer *t = loop->timers; t; t = t->next) {
        if (t->armed && !t->dead && t->due_ms <= now) {
            t->armed = false;
            t->fn(t->opaque);
            ran++;
        }
    }
    loop->dispatching--;
    poll_collect_dead(loop);
    return ran;
}

void loop_poll_run(struct loop *base)
{
    struct poll_loop *loop = poll_loop_from_loop(base);
    loop->quit = false;
    while (!loop->quit) {
        if (loop_poll_iterate(base, -1) < 0) {
            break;
        }
    }
}

void loop_poll_quit(struct loop *base)
{
    poll_loop_from_loop(base)->quit = true;
}
