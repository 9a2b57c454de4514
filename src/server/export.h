/*
 * Marking the functions of the public SPICE server ABI for export.
 *
 * The server code is compiled with -fvisibility=hidden (meson
 * gnu_symbol_visibility: 'hidden'), so nothing leaves libspice-server.so.1
 * unless it is both marked SPICE_EXPORT here and listed in its version node in
 * src/server/spice-server.syms. Use the macro on the definition of every
 * <spice.h> function we provide, and on nothing else:
 *
 *     SPICE_EXPORT int spice_server_set_port(SpiceServer *s, int port)
 *     {
 *         ...
 *     }
 *
 * tests/unit/server/test_abi.sh fails if a function is exported that the system
 * library does not export, or if one it exports is missing from ours.
 */
#ifndef CLOVE_SERVER_EXPORT_H
#define CLOVE_SERVER_EXPORT_H

#define SPICE_EXPORT __attribute__((visibility("default")))

#endif
