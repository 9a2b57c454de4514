/*
 * Text for the CLOVE_E_* codes.
 */
#include "common/error.h"

const char *clove_strerror(int code)
{
    switch (code) {
    case CLOVE_OK:
        return "success";
    case CLOVE_E_INCOMPLETE:
        return "incomplete input";
    case CLOVE_E_INVALID:
        return "invalid data";
    case CLOVE_E_RANGE:
        return "value out of range";
    case CLOVE_E_NOMEM:
        return "out of memory";
    case CLOVE_E_IO:
        return "I/O error";
    case CLOVE_E_CLOSED:
        return "connection closed";
    case CLOVE_E_AGAIN:
        return "operation would block";
    case CLOVE_E_UNSUPPORTED:
        return "unsupported";
    case CLOVE_E_DENIED:
        return "permission denied";
    case CLOVE_E_STATE:
        return "invalid state";
    default:
        return "unknown error";
    }
}
