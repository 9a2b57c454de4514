/*
 * Tests for the public API of src/client/session.c that need no server:
 * argument checks, states, the public error codes (include/clove/client.h
 * mirrors src/common/error.h) and a refused connection.
 */
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include "check.h"
#include "clove/client.h"
#include "clove/version.h"

static void test_codes(void)
{
    CHECK_STR_EQ(clove_strerror(CLOVE_E_DENIED), "permission denied");
    CHECK_STR_EQ(clove_strerror(CLOVE_OK), "success");
    CHECK_STR_EQ(clove_version_string(), CLOVE_VERSION_STRING);
}

static void test_states(void)
{
    struct clove_session *s = clove_session_create();
    CHECK(s != NULL);
    struct clove_frame f;
    CHECK_EQ(clove_session_set_server(s, "", 5900), CLOVE_E_INVALID);
    CHECK_EQ(clove_session_set_server(s, "127.0.0.1", 0), CLOVE_E_INVALID);
    CHECK_EQ(clove_session_run(s, 0), CLOVE_E_STATE);
    CHECK_EQ(clove_session_connect(s), CLOVE_E_STATE);
    CHECK_EQ(clove_session_get_primary(s, &f), CLOVE_E_STATE);
    char longpw[80];
    memset(longpw, 'a', sizeof(longpw) - 1);
    longpw[sizeof(longpw) - 1] = '\0';
    CHECK_EQ(clove_session_set_password(s, longpw), CLOVE_E_RANGE);
    CHECK_EQ(clove_session_set_password(s, "ok"), 0);
    CHECK_EQ(clove_session_set_display_only(s, true), 0);
    CHECK_EQ(clove_session_set_channel_disabled(s, CLOVE_CHANNEL_INPUTS, true), 0);
    CHECK_EQ(clove_session_set_channel_disabled(s, CLOVE_CHANNEL_CURSOR, true), 0);
    CHECK_EQ(clove_session_set_channel_disabled(s, CLOVE_CHANNEL_CURSOR, false), 0);
    CHECK_EQ(clove_session_set_channel_disabled(s, 1, true), CLOVE_E_UNSUPPORTED);
    CHECK_EQ(clove_session_set_channel_disabled(s, 2, true), CLOVE_E_UNSUPPORTED);
    CHECK_EQ(clove_session_set_channel_disabled(s, 9, true), CLOVE_E_UNSUPPORTED);
    CHECK_STR_EQ(clove_session_error(s), "");
    clove_session_destroy(s);
    clove_session_destroy(NULL);
}

static void test_refused(void)
{
    /* A port that was free a moment ago: bind, read it, close. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    struct clove_session *s = clove_session_create();
    CHECK_EQ(clove_session_set_server(s, "127.0.0.1", ntohs(a.sin_port)), 0);
    CHECK_EQ(clove_session_connect(s), 0);
    int rc = clove_session_run(s, 2000);
    CHECK_EQ(rc, CLOVE_E_IO);
    CHECK(strstr(clove_session_error(s), "refused") != NULL);
    clove_session_destroy(s);
}

int main(void)
{
    return check_run((struct check_case[]){
            CHECK_CASE(test_codes),
            CHECK_CASE(test_states),
            CHECK_CASE(test_refused),
            {0},
    });
}
