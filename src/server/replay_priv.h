/*
 * Private to spice_replay_* (replay.c, replay_read.c): the replay object and
 * the reader primitives the command parsers are built on.
 *
 * Every primitive latches r->error on malformed input and then does nothing
 * more (values read as 0, pointers NULL), so parsers may read a whole
 * structure and check r->error once. Buffers come from the command being
 * read (r->cur) and die with it.
 *
 * Thread: the reader runs on the host thread that calls next_cmd; the id map
 * is locked for free_cmd on other threads.
 */
#ifndef CLOVE_SERVER_REPLAY_PRIV_H
#define CLOVE_SERVER_REPLAY_PRIV_H

#include <pthread.h>
#include <spice.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define REPLAY_LINE_MAX     256
#define REPLAY_MAX_SURFACES 65536
#define REPLAY_READ_STEP    (1u << 20)

#define PHYS(p)             ((QXLPHYSICAL)(uintptr_t)(p))

struct replay_cmd {
    QXLCommandExt ext; /* first: what the host sees */
    void **allocs;
    size_t n_allocs, cap_allocs;
    int64_t destroy_id; /* replayed surface id freed with this command, or -1 */
};

struct SpiceReplay {
    FILE *file;
    bool error;
    unsigned counter;
    uint32_t nsurfaces;
    struct replay_cmd *cur; /* the command being read */
    uint8_t *primary_mem;
    bool created_primary;
    pthread_mutex_t lock;  /* guards the three arrays below */
    uint32_t *id_map;      /* recorded id -> replayed id + 1 (0: none); REPLAY_MAX_SURFACES */
    uint32_t *id_owner;    /* replayed id -> recorded id + 1 (0: free); nsurfaces */
    uint8_t **surface_mem; /* replayed id -> its memory; nsurfaces */
};

void *replay_fail(SpiceReplay *r, const char *why);
void *replay_alloc(SpiceReplay *r, size_t size);
bool replay_read_line(SpiceReplay *r, char buf[REPLAY_LINE_MAX]);
bool replay_parse_line(SpiceReplay *r, const char *buf, const char *key, unsigned n, int64_t *v);
bool replay_line(SpiceReplay *r, const char *key, unsigned n, int64_t *v);
uint32_t replay_u32(SpiceReplay *r, int64_t v);
uint32_t replay_get32(SpiceReplay *r, const char *key);
uint64_t replay_get64(SpiceReplay *r, const char *key);
void replay_get_rect(SpiceReplay *r, const char *prefix, QXLRect *out);
void replay_get_point(SpiceReplay *r, const char *key, int32_t *x, int32_t *y);
uint8_t *replay_read_binary(SpiceReplay *r, const char *prefix, size_t base, size_t *size);
uint8_t *replay_read_chunks(SpiceReplay *r, const char *prefix, size_t base, size_t *total);
uint32_t replay_id_get(SpiceReplay *r, uint32_t recorded);
int64_t replay_id_new(SpiceReplay *r, uint32_t recorded, uint8_t *mem);
void replay_id_free(SpiceReplay *r, uint32_t id);

#endif
