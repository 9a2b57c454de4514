/*
 * Tests for src/client/prefault.c: the memory a take hands over is zeroed,
 * populated (resident, by mincore) and usable; a take smaller than the
 * prefault leaves the rest to the helper, which unmaps it (msync then says
 * ENOMEM there); a larger take grows the mapping; a second take and a NULL
 * prefault give nothing; a release gives it all up (then a take gives
 * nothing); destroying an untaken prefault unmaps it all.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/mman.h>

#include "check.h"
#include "client/prefault.h"

static size_t page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

/* Every page of [p, p + len) is mapped. */
static bool mapped(const uint8_t *p, size_t len)
{
    for (size_t off = 0; off < len; off += page_size()) {
        if (msync((void *)(p + off), page_size(), MS_ASYNC) != 0) {
            return false;
        }
    }
    return true;
}

/* No page of [p, p + len) is mapped. */
static bool unmapped(const uint8_t *p, size_t len)
{
    for (size_t off = 0; off < len; off += page_size()) {
        errno = 0;
        if (msync((void *)(p + off), page_size(), MS_ASYNC) == 0 || errno != ENOMEM) {
            return false;
        }
    }
    return true;
}

/* Every page is resident and every byte zero. */
static bool ready_and_zero(const uint8_t *p, size_t len)
{
    size_t pages = (len + page_size() - 1) / page_size();
    unsigned char *vec = malloc(pages);
    bool ok = vec && mincore((void *)p, len, vec) == 0;
    for (size_t i = 0; ok && i < pages; i++) {
        ok = vec[i] & 1;
    }
    free(vec);
    for (size_t i = 0; ok && i < len; i++) {
        ok = p[i] == 0;
    }
    return ok;
}

static void test_take_smaller(void)
{
    const size_t size = 4u << 20, want = (3u << 20) + 100;
    struct prefault *p = prefault_start(size);
    CHECK(p != NULL);
    size_t len = 0;
    uint8_t *m = prefault_take(p, want, &len);
    CHECK(m != NULL);
    CHECK_EQ(len, (want + page_size() - 1) / page_size() * page_size());
    CHECK(ready_and_zero(m, len));
    memset(m, 0xab, len);
    /* Taken once only. */
    size_t again = 0;
    CHECK(prefault_take(p, 1, &again) == NULL);
    prefault_destroy(p); /* joins the helper, which unmapped the rest */
    CHECK(unmapped(m + len, size - len));
    CHECK(mapped(m, len));
    CHECK_EQ(m[len - 1], 0xab);
    CHECK_EQ(munmap(m, len), 0);
}

static void test_take_larger(void)
{
    const size_t size = 1u << 20, want = 3u << 20;
    struct prefault *p = prefault_start(size);
    CHECK(p != NULL);
    usleep(20000); /* let the helper populate some or all of it first */
    size_t len = 0;
    uint8_t *m = prefault_take(p, want, &len);
    CHECK(m != NULL);
    CHECK_EQ(len, want);
    CHECK(ready_and_zero(m, len));
    memset(m, 0xcd, len);
    prefault_destroy(p);
    CHECK(mapped(m, len));
    CHECK_EQ(m[0], 0xcd);
    CHECK_EQ(munmap(m, len), 0);
}

static void test_release(void)
{
    const size_t size = 2u << 20;
    struct prefault *p = prefault_start(size);
    CHECK(p != NULL);
    usleep(5000);
    prefault_release(p);
    size_t len = 0;
    CHECK(prefault_take(p, 4096, &len) == NULL);
    prefault_release(p); /* twice: nothing */
    prefault_destroy(p);
    prefault_release(NULL);
}

static void test_untaken_and_null(void)
{
    struct prefault *p = prefault_start(2u << 20);
    CHECK(p != NULL);
    prefault_destroy(p);
    prefault_destroy(NULL);
    size_t len = 0;
    CHECK(prefault_take(NULL, 4096, &len) == NULL);
    p = prefault_start(1u << 20);
    CHECK(prefault_take(p, 0, &len) == NULL);
    prefault_destroy(p);
}

int main(void)
{
    return check_run((struct check_case[]){
            CHECK_CASE(test_take_smaller),
            CHECK_CASE(test_take_larger),
            CHECK_CASE(test_release),
            CHECK_CASE(test_untaken_and_null),
            {0},
    });
}
