/* SPDX-License-Identifier: LGPL-2.1-or-later */

#pragma once

#if !defined(__REDSPICE_H_INSIDE__) && !defined(REDSPICE_COMPILATION)
#error "Only <redspice.h> can be included directly."
#endif

#include "red-channel.h"
#include "red-channel-client.h"

G_BEGIN_DECLS

#define RED_TYPE_MAIN_CHANNEL (red_main_channel_get_type ())
G_DECLARE_FINAL_TYPE (RedMainChannel, red_main_channel, RED, MAIN_CHANNEL, RedChannel)

/**
 * RedMainChannel:
 *
 * The the main channel.  session set-up, mouse modes, the channel list:Runs on the main thread.
 */

#define RED_TYPE_MAIN_CHANNEL_CLIENT (red_main_channel_client_get_type ())
G_DECLARE_FINAL_TYPE (RedMainChannelClient, red_main_channel_client, RED, MAIN_CHANNEL_CLIENT, RedChannelClient)

/**
 * RedMainChannelClient:
 *
 * A remote client's connection to a #RedMainChannel, running on the
 * channel's thread.
 */

G_END_DECLS
