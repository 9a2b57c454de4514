/*
 * Lazy binding of a shared library a program may not need before its
 * first call into it (x86-64 builds of the client programs: OpenSSL).
 *
 * DESIGN: loading libssl and libcrypto at start-up costs a client program
 * ~1.5 ms before main() (their relocations and page faults), and
 * clove-shot first needs them once its link message is out, while the
 * server generates its RSA key. So the programs link, instead of the
 * libraries, stubs made by gen_stubs.py from a list of names: a function
 * of each name that jumps through a slot, whose first call comes here;
 * lazyload_bind() opens the library (once, RTLD_NOW | RTLD_GLOBAL), looks
 * the name up and stores its address in the slot. The libraries then are
 * not NEEDED at all (tests/unit/lazyload checks it), and everything else
 * about them is as if they were linked: the same library, found the same
 * way by its soname.
 *
 * A library that cannot be opened, or lacks a name, ends the process with
 * status 127 and one line on stderr, as the dynamic loader does when a
 * NEEDED library is missing.
 */
#ifndef CLOVE_LAZYLOAD_H
#define CLOVE_LAZYLOAD_H

#include <stddef.h>

struct lazyload_lib {
    const char *soname;       /* e.g. "libssl.so.3"; its own NEEDED come with it */
    const char *const *names; /* count symbol names */
    void **slots;             /* count jump slots (the stubs' table) */
    size_t count;
};

/* Called by the stubs: the address of lib's symbol `index`, stored in its
 * slot. Thread-safe. */
void *lazyload_bind(struct lazyload_lib *lib, size_t index);

/* Opens lib now (returns 0, or -1 with *why set) without binding a name:
 * for tests. */
int lazyload_open(struct lazyload_lib *lib, const char **why);

#endif
