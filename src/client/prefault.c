/*
 * The surface prefault (prefault.h). The helper populates the mapping
 * 256 KiB at a time with MADV_POPULATE_WRITE (Linux 5.14; without it the
 * helper does nothing and the taker populates) and checks between chunks
 * whether it should stop. Taking the memory does not wait for it: the
 * helper stops after its current chunk and then unmaps the part that was
 * not taken (freeing populated pages costs ~0.1 ms per MiB, which stays off
 * the taker's path). The taker populates what the helper had not reached;
 * populating a page twice is harmless, as MADV_POPULATE_WRITE never changes
 * what a page holds. Only a surface larger than the mapping waits for the
 * helper, to resize the mapping.
 */
#define _GNU_SOURCE /* mremap */
#include "client/prefault.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include <sys/mman.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

#define PREFAULT_CHUNK (256u * 1024u)
#define PREFAULT_STACK (256u * 1024u)

struct prefault {
    uint8_t *base; /* owns `size` bytes until taken (then NULL) */
    uint8_t *map;  /* the mapping as the helper sees it: never changes */
    size_t size;
    pthread_t thread;
    bool joined;
    atomic_bool stop;        /* checked between chunks */
    atomic_size_t populated; /* bytes from base the helper has populated */
    pthread_mutex_t lock;    /* guards `told` and `keep` */
    pthread_cond_t cond;
    bool told;   /* the taker (or prefault_destroy) has said what to keep */
    size_t keep; /* bytes from base taken: the helper unmaps the rest */
};

static void *prefault_run(void *opaque)
{
    struct prefault *p = opaque;
    for (size_t off = 0; off < p->size; off += PREFAULT_CHUNK) {
        if (atomic_load_explicit(&p->stop, memory_order_acquire)) {
            break;
        }
        size_t n = p->size - off < PREFAULT_CHUNK ? p->size - off : PREFAULT_CHUNK;
        if (madvise(p->map + off, n, MADV_POPULATE_WRITE) != 0) {
            break;
        }
        atomic_store_explicit(&p->populated, off + n, memory_order_release);
    }
    /* Wait for the word on what to keep (all of it: not taken). */
    pthread_mutex_lock(&p->lock);
    while (!p->told) {
        pthread_cond_wait(&p->cond, &p->lock);
    }
    size_t keep = p->keep;
    pthread_mutex_unlock(&p->lock);
    if (keep < p->size) {
        munmap(p->map + keep, p->size - keep);
    }
    return NULL;
}

struct prefault *prefault_start(size_t size)
{
    struct prefault *p = calloc(1, sizeof(*p));
    if (!p) {
        return NULL;
    }
    p->size = size;
    void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
        free(p);
        return NULL;
    }
    p->base = base;
    p->map = base;
    atomic_init(&p->stop, false);
    atomic_init(&p->populated, 0);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    pthread_attr_t attr;
    int rc = pthread_attr_init(&attr);
    if (rc == 0) {
        (void)pthread_attr_setstacksize(&attr, PREFAULT_STACK);
        rc = pthread_create(&p->thread, &attr, prefault_run, p);
        pthread_attr_destroy(&attr);
    }
    if (rc != 0) {
        pthread_cond_destroy(&p->cond);
        pthread_mutex_destroy(&p->lock);
        munmap(p->base, size);
        free(p);
        return NULL;
    }
    return p;
}

/* Tells the helper to stop, keeping `keep` bytes from base. */
static void prefault_stop(struct prefault *p, size_t keep)
{
    atomic_store_explicit(&p->stop, true, memory_order_release);
    pthread_mutex_lock(&p->lock);
    if (!p->told) {
        p->told = true;
        p->keep = keep;
        pthread_cond_signal(&p->cond);
    }
    pthread_mutex_unlock(&p->lock);
}

static void prefault_join(struct prefault *p)
{
    if (!p->joined) {
        pthread_join(p->thread, NULL);
        p->joined = true;
    }
}

/* Populates [base, base + len) for the taker: one call, or a write per page
 * where the kernel lacks MADV_POPULATE_WRITE (the helper never writes). */
static void populate(uint8_t *base, size_t len)
{
    if (len == 0 || madvise(base, len, MADV_POPULATE_WRITE) == 0) {
        return;
    }
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    for (size_t off = 0; off < len; off += page) {
        ((volatile uint8_t *)base)[off] = 0;
    }
}

uint8_t *prefault_take(struct prefault *p, size_t size, size_t *mapped)
{
    if (!p || !p->base || size == 0) {
        return NULL;
    }
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t want = (size + page - 1) / page * page;
    uint8_t *base = p->base;
    size_t done;
    if (want <= p->size) {
        done = atomic_load_explicit(&p->populated, memory_order_acquire);
        prefault_stop(p, want);
    } else {
        /* Resizing needs the helper gone. mremap moves the page tables,
         * not the pages: what is populated stays so. */
        prefault_stop(p, p->size);
        prefault_join(p);
        done = atomic_load_explicit(&p->populated, memory_order_acquire);
        void *grown = mremap(base, p->size, want, MREMAP_MAYMOVE);
        if (grown == MAP_FAILED) {
            return NULL; /* prefault_destroy() unmaps it */
        }
        base = grown;
    }
    p->base = NULL;
    done = done < want ? done : want;
    populate(base + done, want - done);
    *mapped = want;
    return base;
}

void prefault_release(struct prefault *p)
{
    if (p && p->base) {
        prefault_stop(p, 0);
        p->base = NULL;
    }
}

void prefault_destroy(struct prefault *p)
{
    if (!p) {
        return;
    }
    if (p->base) {
        prefault_stop(p, p->size);
        prefault_join(p);
        munmap(p->base, p->size);
    } else {
        prefault_join(p); /* taken: already told what to keep */
    }
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
