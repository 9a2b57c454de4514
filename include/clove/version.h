/*
 * Version of the Clove client library (libclove-client).
 *
 * The macros give the version a program was compiled against;
 * clove_version_string() the one it runs with.
 */
#ifndef CLOVE_VERSION_H
#define CLOVE_VERSION_H

#define CLOVE_VERSION_MAJOR  0
#define CLOVE_VERSION_MINOR  1
#define CLOVE_VERSION_MICRO  0
#define CLOVE_VERSION_STRING "0.1.0"

/* Returns a static string such as "0.1.0". Thread: any. */
const char *clove_version_string(void);

#endif
