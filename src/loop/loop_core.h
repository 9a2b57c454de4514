/*
 * A `struct loop` on top of the host's SpiceCoreInterface (the host's main
 * loop). Thread: the host's main-loop thread.
 */
#ifndef CLOVE_LOOP_LOOP_CORE_H
#define CLOVE_LOOP_LOOP_CORE_H

#include "loop/loop.h"

struct SpiceCoreInterface;

/* Returns a new loop borrowing `core` (which must outlive it), or NULL. */
struct loop *loop_core_create(const struct SpiceCoreInterface *core);

#endif
