/*
 * A tiny TAP test harness: CHECK macros that print both values on failure,
 * and a runner that executes each test case as a small function.
 *
 *   static void test_foo(void) { CHECK_EQ(1 + 1, 2); }
 *   int main(void) { return check_run((struct check_case[]){
 *       CHECK_CASE(test_foo), {0}}); }
 */
#ifndef CLOVE_TESTS_CHECK_H
#define CLOVE_TESTS_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int check_failed_;

#define CHECK_FAIL_(fmt, ...)                                                        \
    do {                                                                             \
        printf("# %s:%d: " fmt "\n", __FILE__, __LINE__, __VA_ARGS__);               \
        check_failed_ = 1;                                                           \
    } while (0)

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            CHECK_FAIL_("CHECK(%s) failed", #cond);                                  \
            return;                                                                  \
        }                                                                            \
    } while (0)

#define CHECK_EQ(a, b)                                                               \
    do {                                                                             \
        long long a_ = (long long)(a), b_ = (long long)(b);                          \
        if (a_ != b_) {                                                              \
            CHECK_FAIL_("CHECK_EQ(%s, %s): %lld != %lld", #a, #b, a_, b_);           \
            return;                                                                  \
        }                                                                            \
    } while (0)

#define CHECK_MEM_EQ(a, b, n)                                                        \
    do {                                                                             \
        if (memcmp((a), (b), (n)) != 0) {                                            \
            CHECK_FAIL_("CHECK_MEM_EQ(%s, %s, %s) differ", #a, #b, #n);              \
            return;                                                                  \
        }                                                                            \
    } while (0)

#define CHECK_STR_EQ(a, b)                                                           \
    do {                                                                             \
        const char *a_ = (a), *b_ = (b);                                             \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                     \
            CHECK_FAIL_("CHECK_STR_EQ(%s, %s): \"%s\" != \"%s\"", #a, #b,            \
                        a_ ? a_ : "(null)", b_ ? b_ : "(null)");                     \
            return;                                                                  \
        }                                                                            \
    } while (0)

struct check_case {
    const char *name;
    void (*fn)(void);
};

#define CHECK_CASE(f) {#f, f}

static inline int check_run(const struct check_case *cases)
{
    int n = 0, failures = 0;
    /* Line-buffered: a sanitizer that ends the process at exit (LSan)
     * must not swallow the results printed so far. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    while (cases[n].name) {
        n++;
    }
    printf("1..%d\n", n);
    for (int i = 0; i < n; i++) {
        check_failed_ = 0;
        cases[i].fn();
        printf("%s %d - %s\n", check_failed_ ? "not ok" : "ok", i + 1, cases[i].name);
        failures += check_failed_;
    }
    return failures ? 1 : 0;
}

#endif
