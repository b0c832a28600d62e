/* SPDX-License-Identifier: LGPL-2.1-or-later */

#pragma once

#if !defined(__REDSPICE_H_INSIDE__) && !defined(REDSPICE_COMPILATION)
#error "Only <redspice.h> can be included directly."
#endif

#include <glib-object.h>
#include "red-enums.h"

G_BEGIN_DECLS

#define RED_TYPE_CHANNEL (red_channel_get_type ())
G_DECLARE_DERIVABLE_TYPE (RedChannel, red_channel, RED, CHANNEL, GObject)

/**
 * RedChannel:
 *
 * A SPICE channel (abstract). The server creates its main and inputs
 * channels, and one display and one cursor channel per #RedDisplay.
 *
 * Channels are created and disposed on the main thread. Each runs on the
 * thread of its core, #RedChannel:main-context: the server's main context
 * for the main and inputs channels, its display's #RedWorker thread for
 * the display and cursor channels. A channel lists its channel clients
 * without owning them; each #RedChannelClient owns its channel.
 */

/**
 * RedChannelClass:
 * @parent_class: the parent class
 *
 * The class of #RedChannel. Channels are implemented inside the library;
 * the class cannot be derived from outside it.
 */
struct _RedChannelClass
{
  GObjectClass parent_class;

  /*< private >*/
  gpointer padding[8];
};

/**
 * RedChannel:channel-type:
 *
 * The SPICE channel type.
 */

/**
 * RedChannel:id:
 *
 * The channel id: 0 for the main and inputs channels, the display's id
 * for its display and cursor channels.
 */

/**
 * RedChannel:main-context:
 *
 * The channel's core: the #GMainContext on which its timers and socket
 * watches run (spice-server's `red_channel_get_core_interface`).
 */

/**
 * RedChannel:thread-id:
 *
 * The kernel id (`gettid()`) of the thread running the channel's core, for
 * tests and diagnostics.
 */

/**
 * red_channel_get_channel_type:
 * @channel: a #RedChannel
 *
 * Gets the SPICE channel type of @channel: main, display, inputs or cursor.
 *
 * Returns: the channel's SPICE type
 */
RedChannelType red_channel_get_channel_type (RedChannel *channel);

/**
 * red_channel_get_id:
 * @channel: a #RedChannel
 *
 * Gets the id of @channel among the channels of its type: the display
 * number for display and cursor channels, 0 for the others.
 *
 * Returns: the channel id
 */
guint red_channel_get_id (RedChannel *channel);

/**
 * red_channel_get_main_context:
 * @channel: a #RedChannel
 *
 * Gets the channel's core, the context its timers and watches use. It may
 * be run by another thread than the caller's: never iterate it yourself.
 *
 * Returns: (transfer none): the channel's #GMainContext
 */
GMainContext *red_channel_get_main_context (RedChannel *channel);

/**
 * red_channel_get_clients:
 * @channel: a #RedChannel
 *
 * Lists the channel clients connected to the channel. Call on the main
 * thread.
 *
 * Returns: (transfer container) (element-type RedChannelClient): the
 *   channel clients; free the list with g_list_free()
 */
GList *red_channel_get_clients (RedChannel *channel);

G_END_DECLS
