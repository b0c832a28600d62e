/* SPDX-License-Identifier: LGPL-2.1-or-later */

#pragma once

#if !defined(__REDSPICE_H_INSIDE__) && !defined(REDSPICE_COMPILATION)
#error "Only <redspice.h> can be included directly."
#endif

#include "red-channel.h"
#include "red-channel-client.h"

G_BEGIN_DECLS

#define RED_TYPE_DISPLAY_CHANNEL (red_display_channel_get_type ())
G_DECLARE_FINAL_TYPE (RedDisplayChannel, red_display_channel, RED, DISPLAY_CHANNEL, RedChannel)

/**
 * RedDisplayChannel:
 *
 * The a display's display channel.  its surface and drawing:Runs on its display's #RedWorker thread.
 */

#define RED_TYPE_DISPLAY_CHANNEL_CLIENT (red_display_channel_client_get_type ())
G_DECLARE_FINAL_TYPE (RedDisplayChannelClient, red_display_channel_client, RED, DISPLAY_CHANNEL_CLIENT, RedChannelClient)

/**
 * RedDisplayChannelClient:
 *
 * A remote client's connection to a #RedDisplayChannel, running on the
 * channel's thread.
 */

G_END_DECLS
