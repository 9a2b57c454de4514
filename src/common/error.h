/*
 * Error codes shared by every Clove module.
 *
 * Functions that can fail return 0 (or a byte count) on success and one of
 * these negative codes on failure. Parsers return CLOVE_E_INCOMPLETE when more
 * input is needed, which callers must treat as "wait", never as an error.
 */
#ifndef CLOVE_COMMON_ERROR_H
#define CLOVE_COMMON_ERROR_H

enum clove_error {
    CLOVE_OK = 0,
    CLOVE_E_INCOMPLETE = -1, /* need more bytes */
    CLOVE_E_INVALID = -2,    /* malformed input */
    CLOVE_E_RANGE = -3,      /* a size or count beyond protocol limits */
    CLOVE_E_NOMEM = -4,      /* allocation failed */
    CLOVE_E_IO = -5,         /* socket or file error (see errno) */
    CLOVE_E_CLOSED = -6,     /* peer closed the connection */
    CLOVE_E_AGAIN = -7,      /* would block */
    CLOVE_E_UNSUPPORTED = -8,
    CLOVE_E_DENIED = -9,
    CLOVE_E_STATE = -10, /* call not valid in the current state */
};

/* Returns a static, human-readable description of a CLOVE_E_* code. */
const char *clove_strerror(int code);

#endif
