/* SPDX-License-Identifier: LGPL-2.1-or-later */

#pragma once

#if !defined(__REDSPICE_H_INSIDE__) && !defined(REDSPICE_COMPILATION)
#error "Only <redspice.h> can be included directly."
#endif

#include <glib-object.h>
#include "red-channel.h"

G_BEGIN_DECLS

typedef struct _RedClient RedClient;

#define RED_TYPE_CHANNEL_CLIENT (red_channel_client_get_type ())
G_DECLARE_DERIVABLE_TYPE (RedChannelClient, red_channel_client, RED, CHANNEL_CLIENT, GObject)

/**
 * RedChannelClient:
 *
 * One remote client's connection to one channel (abstract).
 *
 * A channel client is created on its channel's thread and runs there; its
 * last reference may be dropped on any thread. It owns its channel and
 * points at its #RedClient without owning it: the #RedClient owns it.
 */

/**
 * RedChannelClientClass:
 * @parent_class: the parent class
 *
 * The class of #RedChannelClient; not derivable outside the library.
 */
struct _RedChannelClientClass
{
  GObjectClass parent_class;

  /*< private >*/
  gpointer padding[8];
};

/**
 * RedChannelClient:channel:
 *
 * The channel this client is connected to; the channel client holds a
 * reference on it.
 */

/**
 * RedChannelClient:client:
 *
 * The remote client this connection belongs to (not owned: %NULL once
 * the client is gone).
 */

/**
 * RedChannelClient:connected:
 *
 * Whether the connection is still up.
 */

/**
 * RedChannelClient:handler-thread-id:
 *
 * The kernel id of the thread that last ran one of this connection's
 * handlers (socket watches, timers, requests), or 0: a hook for tests of
 * the threading rules.
 */

/**
 * RedChannelClient:bandwidth:
 *
 * The bandwidth of the link to the client in bits per second, measured
 * from how fast the kernel's send queue of this connection drains while
 * it is not empty, smoothed; 0 until measured (a link faster than what
 * was ever sent on it, such as loopback, may stay unmeasured). It bounds
 * the bytes queued toward the client to about two frame intervals.
 * #GObject::notify is emitted on the server's main context when it
 * changes by more than a tenth, at most once a second.
 */

/**
 * RedChannelClient:round-trip-time:
 *
 * The PING/PONG round trip of this connection in microseconds, smoothed
 * over the answers, or -1 before the first answer. The server pings every
 * connection when it starts and every 10 seconds. #GObject::notify is
 * emitted on the server's main context after each answer.
 */

/**
 * red_channel_client_get_channel:
 * @rcc: a #RedChannelClient
 *
 * Gets the channel @rcc is a connection to.
 *
 * Returns: (transfer none): the channel
 */
RedChannel *red_channel_client_get_channel (RedChannelClient *rcc);

/**
 * red_channel_client_get_client:
 * @rcc: a #RedChannelClient
 *
 * Gets the remote client @rcc belongs to.
 *
 * Returns: (transfer none) (nullable): the remote client, or %NULL when it
 *   is gone
 */
RedClient *red_channel_client_get_client (RedChannelClient *rcc);

/**
 * red_channel_client_is_connected:
 * @rcc: a #RedChannelClient
 *
 * Tells whether the connection of @rcc is still up.
 *
 * Returns: whether the connection is still up
 */
gboolean red_channel_client_is_connected (RedChannelClient *rcc);

/**
 * red_channel_client_disconnect:
 * @rcc: a #RedChannelClient
 *
 * Closes this one connection. The work happens on the channel's thread;
 * the rest of the client stays connected, unless @rcc is the client's
 * main channel client, whose departure disconnects the whole client.
 * May be called from any thread.
 */
void red_channel_client_disconnect (RedChannelClient *rcc);

G_END_DECLS
