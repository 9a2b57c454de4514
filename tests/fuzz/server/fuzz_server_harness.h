/*
 * What the server fuzz targets share: one fake host per process (reused by
 * every input, left clean after each), a fixed RSA ticket key, and helpers to
 * feed bytes to a connection and wait, boundedly, until the server has
 * consumed them.
 *
 * The ticket key: the link stage makes a fresh RSA-1024 key per connection,
 * which costs milliseconds. The targets link with -Wl,--wrap=EVP_PKEY_keygen
 * and the wrapper below hands out references to one fixed key instead, so an
 * input costs microseconds, and corpus files can carry valid tickets
 * (encrypted under that key by gen_server_corpus) that reach the password
 * check. Nothing else in the server changes.
 */
#ifndef CLOVE_FUZZ_SERVER_HARNESS_H
#define CLOVE_FUZZ_SERVER_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fake_host.h"

/* The password of fuzz hosts that ask for one. */
#define FUZZ_PASSWORD "fuzz"

/* The fixed key as PEM (private; fuzz_server_key.c), for the corpus generator. */
extern const char fuzz_ticket_key_pem[];

/* The process-wide host, created on first use with these options. Returns NULL on failure. */
struct fake_host *fuzz_host(const struct fake_host_options *opts);

/*
 * Runs the loop until the server has read everything written on c (the
 * socket's unread byte count is 0) or closed it, at most timeout_ms.
 */
bool fuzz_wait_consumed(struct fake_client *c, int timeout_ms);

/*
 * Ends an input: closes the clients given, then runs the loop until the
 * server has no connection in the link stage and no client left. Aborts
 * (a finding) if that does not happen within a few seconds.
 */
void fuzz_finish(struct fake_host *h, struct fake_client **clients, int n);

#endif
