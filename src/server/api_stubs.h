/*
 * Hooks between the unimplemented parts of the public API (api_stubs.c) and
 * the server object (server.c).
 *
 * Client migration is not implemented, but the host still drives it: QEMU
 * registers a SpiceMigrateInstance through spice_server_add_interface() and
 * expects its migrate_connect_complete / migrate_end_complete callbacks to be
 * called after spice_server_migrate_connect() / spice_server_migrate_end()
 * (QEMU turns the second one into the SPICE_MIGRATE_COMPLETED QMP event that
 * libvirt waits for). The migration functions live in api_stubs.c, the
 * instance is known to server.c; this hook hands it over.
 */
#ifndef CLOVE_SERVER_API_STUBS_H
#define CLOVE_SERVER_API_STUBS_H

#include <spice.h>

/*
 * Records `sin` as the migration interface of `server` (borrows both; NULL
 * `sin` forgets it). server.c calls it when the host adds an interface of type
 * SPICE_INTERFACE_MIGRATION, and with NULL when that interface is removed and
 * from spice_server_destroy(). Up to 8 servers per process are tracked; more
 * are logged and their callbacks are not delivered.
 *
 * Thread: any (internally locked).
 */
void api_stubs_set_migration(SpiceServer *server, SpiceMigrateInstance *sin);

#endif
