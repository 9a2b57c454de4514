/*
 * A typed message queue into a loop's thread: the only way threads talk.
 *
 * A message is any struct that embeds `struct msg_item` and sets `run`. The
 * receiving loop runs item->run(item) on its own thread, in posting order;
 * `run` owns the item (frees it if it was allocated). An eventfd wakes the
 * receiving loop.
 *
 * msg_queue_call() is the synchronous form for calls that must complete
 * before returning (e.g. spice_qxl_add_memslot): the caller blocks until
 * `run` has returned. It must never be used from the receiving thread itself;
 * there it runs the item directly.
 */
#ifndef CLOVE_LOOP_MSG_QUEUE_H
#define CLOVE_LOOP_MSG_QUEUE_H

#include <stdbool.h>

#include "loop/loop.h"

struct msg_item {
    struct msg_item *next;
    void (*run)(struct msg_item *item);
    /* private: set by msg_queue_call */
    bool *done;
};

struct msg_queue;

/*
 * Creates a queue whose messages run on `loop` (borrowed; must outlive the
 * queue). Thread: the loop's thread. Returns NULL on failure.
 */
struct msg_queue *msg_queue_create(struct loop *loop);
/* Runs nothing that is still queued; frees the queue. Accepts NULL. */
void msg_queue_destroy(struct msg_queue *q);

/* Thread: any. Takes the item. */
void msg_queue_post(struct msg_queue *q, struct msg_item *item);
/* Thread: any; blocks until item->run returned (runs inline on the loop's thread). */
void msg_queue_call(struct msg_queue *q, struct msg_item *item);
/* Marks the calling thread as the receiving thread (for a worker that
 * creates its queue before starting its thread, call this from the thread). */
void msg_queue_set_owner(struct msg_queue *q);
/* Runs everything queued now (normally done by the loop watch). */
void msg_queue_drain(struct msg_queue *q);

#endif
