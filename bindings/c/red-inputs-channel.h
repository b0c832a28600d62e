/* SPDX-License-Identifier: LGPL-2.1-or-later */

#pragma once

#if !defined(__REDSPICE_H_INSIDE__) && !defined(REDSPICE_COMPILATION)
#error "Only <redspice.h> can be included directly."
#endif

#include "red-channel.h"
#include "red-channel-client.h"

G_BEGIN_DECLS

#define RED_TYPE_INPUTS_CHANNEL (red_inputs_channel_get_type ())
G_DECLARE_FINAL_TYPE (RedInputsChannel, red_inputs_channel, RED, INPUTS_CHANNEL, RedChannel)

/**
 * RedInputsChannel:
 *
 * The the inputs channel.  keyboard and mouse from clients:Runs on the main thread; its events reach the application as #RedServer signals.
 */

#define RED_TYPE_INPUTS_CHANNEL_CLIENT (red_inputs_channel_client_get_type ())
G_DECLARE_FINAL_TYPE (RedInputsChannelClient, red_inputs_channel_client, RED, INPUTS_CHANNEL_CLIENT, RedChannelClient)

/**
 * RedInputsChannelClient:
 *
 * A remote client's connection to a #RedInputsChannel, running on the
 * channel's thread.
 */

G_END_DECLS
