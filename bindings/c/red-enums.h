/* SPDX-License-Identifier: LGPL-2.1-or-later */

#pragma once

#if !defined(__REDSPICE_H_INSIDE__) && !defined(REDSPICE_COMPILATION)
#error "Only <redspice.h> can be included directly."
#endif

#include <glib-object.h>

G_BEGIN_DECLS

/**
 * RedChannelType:
 * @RED_CHANNEL_TYPE_MAIN: the main channel
 * @RED_CHANNEL_TYPE_DISPLAY: a display channel
 * @RED_CHANNEL_TYPE_INPUTS: the inputs channel
 * @RED_CHANNEL_TYPE_CURSOR: a cursor channel
 * @RED_CHANNEL_TYPE_PLAYBACK: audio playback
 * @RED_CHANNEL_TYPE_RECORD: audio recording
 * @RED_CHANNEL_TYPE_TUNNEL: the obsolete tunnel channel
 * @RED_CHANNEL_TYPE_SMARTCARD: smartcard
 * @RED_CHANNEL_TYPE_USBREDIR: USB redirection
 * @RED_CHANNEL_TYPE_PORT: a port
 * @RED_CHANNEL_TYPE_WEBDAV: folder sharing
 *
 * SPICE channel types, with the numbers SPICE uses on the wire.
 */
typedef enum {
  RED_CHANNEL_TYPE_MAIN = 1,
  RED_CHANNEL_TYPE_DISPLAY = 2,
  RED_CHANNEL_TYPE_INPUTS = 3,
  RED_CHANNEL_TYPE_CURSOR = 4,
  RED_CHANNEL_TYPE_PLAYBACK = 5,
  RED_CHANNEL_TYPE_RECORD = 6,
  RED_CHANNEL_TYPE_TUNNEL = 7,
  RED_CHANNEL_TYPE_SMARTCARD = 8,
  RED_CHANNEL_TYPE_USBREDIR = 9,
  RED_CHANNEL_TYPE_PORT = 10,
  RED_CHANNEL_TYPE_WEBDAV = 11,
} RedChannelType;

GType red_channel_type_get_type (void);
#define RED_TYPE_CHANNEL_TYPE (red_channel_type_get_type ())

/**
 * RedAuthMode:
 * @RED_AUTH_MODE_NONE: anyone who reaches the port may connect
 * @RED_AUTH_MODE_TICKET: clients must present the ticket (password) set
 *   with red_server_set_ticket() or #RedServer:password
 * @RED_AUTH_MODE_SASL: SASL authentication through Cyrus libsasl2, with
 *   the mechanisms of the configuration that #RedServer:sasl-app-name
 *   selects
 *
 * How clients authenticate.
 */
typedef enum {
  RED_AUTH_MODE_NONE = 0,
  RED_AUTH_MODE_TICKET = 1,
  RED_AUTH_MODE_SASL = 2,
} RedAuthMode;

GType red_auth_mode_get_type (void);
#define RED_TYPE_AUTH_MODE (red_auth_mode_get_type ())

/**
 * RedImageCompression:
 * @RED_IMAGE_COMPRESSION_OFF: uncompressed bitmaps
 * @RED_IMAGE_COMPRESSION_AUTO: GLZ, as libspice-server's default (LZ
 *   until the client has announced its dictionary window)
 * @RED_IMAGE_COMPRESSION_LZ4: LZ4 (uncompressed for clients without it)
 * @RED_IMAGE_COMPRESSION_LZ: SPICE's LZ, which every client decodes
 *   (uncompressed where LZ would be larger)
 * @RED_IMAGE_COMPRESSION_GLZ: SPICE's GLZ, LZ with copies from the
 *   client's recent images (a dictionary per client, of the window the
 *   client offers); LZ until the client has announced its window, and for
 *   images larger than it
 * @RED_IMAGE_COMPRESSION_QUIC: QUIC, SPICE's lossless codec for photo-like
 *   images, which every client decodes
 * @RED_IMAGE_COMPRESSION_JPEG: JPEG (lossy: quality 95, chroma kept
 *   whole) for links too slow for lossless images of photo-like content;
 *   every client decodes it. What clients show stays lossy until the area
 *   is drawn again.
 *
 * Compression of drawing updates; every mode but
 * %RED_IMAGE_COMPRESSION_JPEG is lossless.
 */
typedef enum {
  RED_IMAGE_COMPRESSION_OFF = 0,
  RED_IMAGE_COMPRESSION_AUTO = 1,
  RED_IMAGE_COMPRESSION_LZ4 = 2,
  RED_IMAGE_COMPRESSION_LZ = 3,
  RED_IMAGE_COMPRESSION_GLZ = 4,
  RED_IMAGE_COMPRESSION_QUIC = 5,
  RED_IMAGE_COMPRESSION_JPEG = 6,
} RedImageCompression;

GType red_image_compression_get_type (void);
#define RED_TYPE_IMAGE_COMPRESSION (red_image_compression_get_type ())

/**
 * RedStreamingVideo:
 * @RED_STREAMING_VIDEO_OFF: never stream
 * @RED_STREAMING_VIDEO_FILTER: stream regions that change at video rate
 * @RED_STREAMING_VIDEO_ALL: stream every region that changes repeatedly
 *
 * When changing regions of a display become video streams.
 */
typedef enum {
  RED_STREAMING_VIDEO_OFF = 0,
  RED_STREAMING_VIDEO_FILTER = 1,
  RED_STREAMING_VIDEO_ALL = 2,
} RedStreamingVideo;

GType red_streaming_video_get_type (void);
#define RED_TYPE_STREAMING_VIDEO (red_streaming_video_get_type ())

/**
 * RedTicketFlags:
 * @RED_TICKET_FLAGS_FAIL_IF_CONNECTED: leave the ticket unchanged and fail
 *   while a client is connected
 * @RED_TICKET_FLAGS_DISCONNECT_IF_CONNECTED: disconnect the clients that
 *   are connected
 *
 * What red_server_set_ticket_full() does when clients are connected.
 */
typedef enum /*< flags >*/ {
  RED_TICKET_FLAGS_FAIL_IF_CONNECTED = 1 << 0,
  RED_TICKET_FLAGS_DISCONNECT_IF_CONNECTED = 1 << 1,
} RedTicketFlags;

GType red_ticket_flags_get_type (void);
#define RED_TYPE_TICKET_FLAGS (red_ticket_flags_get_type ())

G_END_DECLS
