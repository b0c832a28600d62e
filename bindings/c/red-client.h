/* SPDX-License-Identifier: LGPL-2.1-or-later */

#pragma once

#if !defined(__REDSPICE_H_INSIDE__) && !defined(REDSPICE_COMPILATION)
#error "Only <redspice.h> can be included directly."
#endif

#include <glib-object.h>
#include "red-channel-client.h"

G_BEGIN_DECLS

typedef struct _RedMainChannelClient RedMainChannelClient;

#define RED_TYPE_CLIENT (red_client_get_type ())
G_DECLARE_FINAL_TYPE (RedClient, red_client, RED, CLIENT, GObject)

/**
 * RedClient:
 *
 * A remote SPICE client: the group of its #RedChannelClient connections,
 * which it owns. It lives on the main thread and is destroyed there when
 * its main channel client disconnects (then #RedServer::client-disconnected
 * is emitted).
 */

/**
 * RedClient:id:
 *
 * The SPICE connection id of the client's session.
 */

/**
 * RedClient:address:
 *
 * The remote address of the client's main channel.
 */

/**
 * red_client_get_id:
 * @client: a #RedClient
 *
 * Gets the SPICE connection id of @client's session (#RedClient:id).
 *
 * Returns: the client's connection id
 */
guint red_client_get_id (RedClient *client);

/**
 * red_client_get_address:
 * @client: a #RedClient
 *
 * Gets the address of the remote end of @client's main channel.
 *
 * Returns: (transfer full) (nullable): the remote address, or %NULL
 */
gchar *red_client_get_address (RedClient *client);

/**
 * red_client_get_channel_clients:
 * @client: a #RedClient
 *
 * Lists the channel connections of @client.
 *
 * Returns: (transfer container) (element-type RedChannelClient): the
 *   client's channel clients; free the list with g_list_free()
 */
GList *red_client_get_channel_clients (RedClient *client);

/**
 * red_client_get_main_channel_client:
 * @client: a #RedClient
 *
 * Gets the main channel connection of @client.
 *
 * Returns: (transfer none) (nullable): the client's main channel client,
 *   or %NULL once it has gone
 */
RedMainChannelClient *red_client_get_main_channel_client (RedClient *client);

/**
 * red_client_disconnect:
 * @client: a #RedClient
 *
 * Disconnects every connection of the client, as if it had left: a request
 * is scheduled on the main thread that disconnects each channel client on
 * its own thread, destroys the client and emits
 * #RedServer::client-disconnected. May be called from any thread.
 */
void red_client_disconnect (RedClient *client);

G_END_DECLS
