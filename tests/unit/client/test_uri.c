/* Tests src/client/uri.c: spice:// URIs, good and hostile. */
#include <string.h>

#include "check.h"
#include "clove/client.h"

static void test_forms(void)
{
    struct clove_uri u;
    CHECK_EQ(clove_uri_parse("spice://example.org:5900", &u), 0);
    CHECK_STR_EQ(u.host, "example.org");
    CHECK_EQ(u.port, 5900);
    CHECK_EQ(u.tls_port, -1);
    CHECK(!u.has_password);
    CHECK_EQ(clove_uri_parse("spice://127.0.0.1/?port=5901&tls-port=5902&password=a%20b%3f", &u),
             0);
    CHECK_STR_EQ(u.host, "127.0.0.1");
    CHECK_EQ(u.port, 5901);
    CHECK_EQ(u.tls_port, 5902);
    CHECK(u.has_password);
    CHECK_STR_EQ(u.password, "a b?");
    CHECK_EQ(clove_uri_parse("spice://[::1]:6000?foo=bar", &u), 0);
    CHECK_STR_EQ(u.host, "::1");
    CHECK_EQ(u.port, 6000);
    CHECK_EQ(clove_uri_parse("spice://?port=7", &u), 0);
    CHECK_STR_EQ(u.host, "");
    CHECK_EQ(u.port, 7);
    /* A '%' without two hex digits is kept as it is. */
    CHECK_EQ(clove_uri_parse("spice://h?password=100%4g%", &u), 0);
    CHECK_STR_EQ(u.password, "100%4g%");
}

static void test_refused(void)
{
    struct clove_uri u;
    static const char *const bad[] = {
            "http://h:1",        "spice://h:0",         "spice://h:65536",
            "spice://h:12x",     "spice://[::1:5900",   "spice://h?port",
            "spice://h?port=-1", "spice://h?tls-port=", NULL,
    };
    for (int i = 0; bad[i]; i++) {
        CHECK_EQ(clove_uri_parse(bad[i], &u), CLOVE_E_INVALID);
    }
    CHECK_EQ(clove_uri_parse(NULL, &u), CLOVE_E_INVALID);
    char long_password[200] = "spice://h?password=";
    memset(long_password + strlen(long_password), 'x', 100);
    CHECK_EQ(clove_uri_parse(long_password, &u), CLOVE_E_INVALID);
    char huge[3000] = "spice://";
    memset(huge + 8, 'a', 2000);
    CHECK_EQ(clove_uri_parse(huge, &u), CLOVE_E_INVALID);
}

int main(void)
{
    return check_run((struct check_case[]){
            CHECK_CASE(test_forms),
            CHECK_CASE(test_refused),
            {0},
    });
}
