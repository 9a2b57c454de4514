/* Tests src/common/log.c (rate limiting) and src/common/bytes.c. */
#include "check.h"
#include "common/bytes.h"
#include "common/log.h"

static void test_ratelimit_burst(void)
{
    struct log_ratelimit rl = {0};
    int suppressed = 0, allowed = 0;
    for (int i = 0; i < 100; i++) {
        allowed += log_ratelimit_allow(&rl, 5, 100000, &suppressed);
    }
    CHECK_EQ(allowed, 5);
    CHECK_EQ(rl.suppressed, 95);
}

static void test_reader_bounds(void)
{
    const uint8_t data[5] = {1, 2, 3, 4, 5};
    struct byte_reader r;
    reader_init(&r, data, sizeof(data));
    CHECK_EQ(read_u32(&r), 0x04030201);
    CHECK(reader_ok(&r));
    CHECK_EQ(read_u16(&r), 0);
    CHECK(!reader_ok(&r));
    CHECK_EQ(reader_remaining(&r), 0);
}

static void test_buf_grow(void)
{
    struct byte_buf b;
    buf_init(&b);
    for (int i = 0; i < 1000; i++) {
        buf_put_u32(&b, (uint32_t)i);
    }
    CHECK(buf_ok(&b));
    CHECK_EQ(b.len, 4000);
    CHECK_EQ(get_u32le(b.data + 3996), 999);
    buf_finish(&b);
}

int main(void)
{
    return check_run((struct check_case[]){
            CHECK_CASE(test_ratelimit_burst),
            CHECK_CASE(test_reader_bounds),
            CHECK_CASE(test_buf_grow),
            {0},
    });
}
