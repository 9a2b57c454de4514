/*
 * Memory for a large surface, made ready before the surface is known.
 *
 * A fresh mapping costs one page fault per 4 KiB when first written: for a
 * 1024x768 primary that is 768 faults, about 2 ms here, and the surface is
 * created just before its first draw arrives, so that time sits on the path
 * to the first frame. A display channel spends far longer waiting for its
 * link reply (the reference server generates an RSA key per link, 8-16 ms),
 * so the session starts a prefault there: a helper thread populates a
 * mapping of a typical size in the background, and the first large surface
 * takes it, resized to fit (mremap keeps the populated pages; the rest is
 * populated then).
 */
#ifndef CLOVE_CLIENT_PREFAULT_H
#define CLOVE_CLIENT_PREFAULT_H

#include <stddef.h>
#include <stdint.h>

struct prefault;

/* Maps `size` bytes and starts populating them on a helper thread. NULL if
 * either fails (the caller then simply goes without). */
struct prefault *prefault_start(size_t size);

/*
 * Stops the helper and hands over a mapping of at least `size` zeroed
 * bytes, populated, whose length goes to *mapped (munmap it with that).
 * NULL when the memory was already taken or cannot be resized; the caller
 * then allocates as usual. Call at most once that succeeds.
 */
uint8_t *prefault_take(struct prefault *p, size_t size, size_t *mapped);

/* Gives the memory up when no surface will take it (the first surface is
 * small): the helper stops and unmaps it all, without the caller waiting.
 * After a take, or on NULL, does nothing. */
void prefault_release(struct prefault *p);

/* Stops the helper (waiting for it) and unmaps what was not taken. NULL is
 * fine. */
void prefault_destroy(struct prefault *p);

#endif
