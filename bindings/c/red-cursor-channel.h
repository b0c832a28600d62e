/* SPDX-License-Identifier: LGPL-2.1-or-later */

#pragma once

#if !defined(__REDSPICE_H_INSIDE__) && !defined(REDSPICE_COMPILATION)
#error "Only <redspice.h> can be included directly."
#endif

#include "red-channel.h"
#include "red-channel-client.h"

G_BEGIN_DECLS

#define RED_TYPE_CURSOR_CHANNEL (red_cursor_channel_get_type ())
G_DECLARE_FINAL_TYPE (RedCursorChannel, red_cursor_channel, RED, CURSOR_CHANNEL, RedChannel)

/**
 * RedCursorChannel:
 *
 * The a display's cursor channel.  pointer shape and position:Runs on its display's #RedWorker thread, beside the display channel of the same id.
 */

#define RED_TYPE_CURSOR_CHANNEL_CLIENT (red_cursor_channel_client_get_type ())
G_DECLARE_FINAL_TYPE (RedCursorChannelClient, red_cursor_channel_client, RED, CURSOR_CHANNEL_CLIENT, RedChannelClient)

/**
 * RedCursorChannelClient:
 *
 * A remote client's connection to a #RedCursorChannel, running on the
 * channel's thread.
 */

G_END_DECLS
