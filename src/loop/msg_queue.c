/*
 * The message queue: a mutex-protected FIFO plus an eventfd registered as a
 * read watch on the receiving loop.
 *
 * DESIGN: posting takes the mutex only to link the item; draining swaps the
 * whole list out under the mutex and runs it unlocked, so `run` may post
 * more items (to any queue) without deadlock. Synchronous calls wait on one
 * condition variable shared by the queue, each for its own `done` flag.
 */
#include "loop/msg_queue.h"

#include "common/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct msg_queue {
    struct loop *loop;
    struct loop_watch *watch;
    int efd;
    pthread_t owner;
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    struct msg_item *head, *tail;
};

static void msg_queue_on_event(int fd, int events, void *opaque)
{
    struct msg_queue *q = opaque;
    uint64_t v;
    while (read(fd, &v, sizeof(v)) < 0 && errno == EINTR) {
    }
    msg_queue_drain(q);
}

struct msg_queue *msg_queue_create(struct loop *loop)
{
    struct msg_queue *q = calloc(1, sizeof(*q));
    if (!q) {
        return NULL;
    }
    q->loop = loop;
    q->owner = pthread_self();
    q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (q->efd < 0) {
        log_errno("eventfd");
        goto error_efd;
    }
    pthread_mutex_init(&q->mutex, NULL);
    pthread_cond_init(&q->cond, NULL);
    q->watch = loop_watch_add(loop, q->efd, LOOP_READ, msg_queue_on_event, q);
    if (!q->watch) {
        goto error_watch;
    }
    return q;

error_watch:
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->mutex);
    close(q->efd);
error_efd:
    free(q);
    return NULL;
}

void msg_queue_destroy(struct msg_queue *q)
{
    if (!q) {
        return;
    }
    loop_watch_remove(q->loop, q->watch);
    close(q->efd);
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->mutex);
    free(q);
}

void msg_queue_set_owner(struct msg_queue *q)
{
    q->owner = pthread_self();
}

void msg_queue_post(struct msg_queue *q, struct msg_item *item)
{
    item->next = NULL;
    pthread_mutex_lock(&q->mutex);
    if (q->tail) {
        q->tail->next = item;
    } else {
        q->head = item;
    }
    q->tail = item;
    pthread_mutex_unlock(&q->mutex);
    uint64_t one = 1;
    while (write(q->efd, &one, sizeof(one)) < 0 && errno == EINTR) {
    }
}

void msg_queue_call(struct msg_queue *q, struct msg_item *item)
{
    if (pthread_equal(pthread_self(), q->owner)) {
        item->done = NULL;
        item->run(item);
        return;
    }
    bool done = false;
    item->done = &done;
    msg_queue_post(q, item);
    pthread_mutex_lock(&q->mutex);
    while (!done) {
        pthread_cond_wait(&q->cond, &q->mutex);
    }
    pthread_mutex_unlock(&q->mutex);
}

void msg_queue_drain(struct msg_queue *q)
{
    pthread_mutex_lock(&q->mutex);
    struct msg_item *item = q->head;
    q->head = q->tail = NULL;
    pthread_mutex_unlock(&q->mutex);
    while (item) {
        struct msg_item *next = item->next;
        bool *done = item->done;
        item->run(item);
        if (done) {
            pthread_mutex_lock(&q->mutex);
            *done = true;
            pthread_cond_broadcast(&q->cond);
            pthread_mutex_unlock(&q->mutex);
        }
        item = next;
    }
}
