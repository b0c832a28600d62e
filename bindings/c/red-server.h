/* SPDX-License-Identifier: LGPL-2.1-or-later */

#pragma once

#if !defined(__REDSPICE_H_INSIDE__) && !defined(REDSPICE_COMPILATION)
#error "Only <redspice.h> can be included directly."
#endif

#include <gio/gio.h>
#include "red-display.h"
#include "red-client.h"
#include "red-main-channel.h"
#include "red-inputs-channel.h"

G_BEGIN_DECLS

#define RED_TYPE_SERVER (red_server_get_type ())
G_DECLARE_FINAL_TYPE (RedServer, red_server, RED, SERVER, GObject)

/**
 * RedServer:
 *
 * A SPICE server: it listens for SPICE clients (remote-viewer, GNOME
 * Boxes, spice-gtk, spice-html5), shows them its displays and reports
 * their keyboard and mouse.
 *
 * The server runs on its #RedServer:main-context, the main thread: the
 * listener, authentication, the clients and the main and inputs channels
 * live there, and every signal is emitted there. Each #RedDisplay runs its
 * channels on a #RedWorker thread of its own. Call the server's functions
 * on the main thread.
 */

/**
 * RedServer:address:
 *
 * The IP address to listen on, or a Unix socket: `unix:/path/to/socket`
 * (the file is made with the process's umask and removed on
 * red_server_stop(); an existing file is an error, not replaced) or
 * `unix:@name` (Linux's abstract namespace). Default: `127.0.0.1`. TLS
 * needs an IP address.
 */

/**
 * RedServer:port:
 *
 * The TCP port to listen on. 0 (the default) picks a free port, which this
 * property reports once red_server_start() has succeeded.
 */

/**
 * RedServer:tls-port:
 *
 * The TLS port, or -1 (the default) for none; 0 picks a free port, which
 * this property reports once red_server_start() has succeeded. TLS needs
 * a certificate and its key: #RedServer:x509-cert-file and
 * #RedServer:x509-key-file, or #RedServer:tls-certificate; without them
 * red_server_start() fails with %RED_ERROR_INVALID_ARGUMENT. Links on this
 * port use TLS 1.2 or newer; the plain #RedServer:port stays open for the
 * channels not listed in #RedServer:secure-channels.
 */

/**
 * RedServer:x509-cert-file:
 *
 * A PEM file with the server's certificate, followed by any intermediate
 * certificates, for TLS (QEMU's name for the setting), or %NULL.
 */

/**
 * RedServer:x509-key-file:
 *
 * A PEM file with the private key of #RedServer:x509-cert-file, or %NULL.
 */

/**
 * RedServer:x509-key-password:
 *
 * The password of an encrypted #RedServer:x509-key-file (write-only), or
 * %NULL for a key that is not encrypted.
 */

/**
 * RedServer:x509-cacert-file:
 *
 * A PEM file with the CA that client certificates must chain to, or %NULL.
 * Clients need not present a certificate; one that does is checked
 * against this CA.
 */

/**
 * RedServer:tls-certificate:
 *
 * The certificate and its private key for TLS as a #GTlsCertificate, used
 * instead of the files when set. Reading it gives an equal certificate
 * made from the same PEM, not the object that was set.
 */

/**
 * RedServer:secure-channels:
 *
 * The channels that accept TLS links only, by name: "main", "display",
 * "inputs", "cursor", "playback", "record", or "all" (spice-server's
 * channel security). A plain link to one of them is answered with SPICE's
 * NEED_SECURED, on which spice-gtk links it again on the TLS port.
 * Unknown names make the whole value be ignored with a warning.
 */

/**
 * RedServer:password:
 *
 * The ticket clients must present, with no expiry (write-only). Setting
 * it selects %RED_AUTH_MODE_TICKET. See red_server_set_ticket().
 */

/**
 * RedServer:auth:
 *
 * How clients authenticate. Default: %RED_AUTH_MODE_NONE.
 */

/**
 * RedServer:sasl-app-name:
 *
 * The application name Cyrus libsasl2 is set up with when
 * #RedServer:auth is %RED_AUTH_MODE_SASL: it reads its settings (such as
 * `mech_list` and `sasldb_path`) from `NAME.conf` in its configuration
 * path (`/etc/sasl2` on Debian, or the directories in the
 * `SASL_CONF_PATH` environment variable). Clients authenticate for the
 * SASL service "spice", as with spice-server. libsasl2 takes one name per
 * process: the first server to authenticate a client sets it. Setting
 * %NULL restores the default, "redspice".
 *
 * On a link without TLS, the mechanism must provide a security layer of
 * at least 56 bits (DIGEST-MD5 or GSSAPI; spice-gtk requires the same),
 * which then protects the whole connection. Over TLS any mechanism the
 * configuration allows will do.
 */

/**
 * RedServer:main-context:
 *
 * The #GMainContext the server runs on. Default: the thread-default
 * context of the thread that constructs the server.
 */

/**
 * RedServer:name:
 *
 * A name for the session that clients may show, or %NULL.
 */

/**
 * RedServer:uuid:
 *
 * A UUID for the session in its 36-character text form, or %NULL. Values
 * that are not UUIDs are ignored with a warning.
 */

/**
 * RedServer:image-compression:
 *
 * Lossless compression of drawing updates.
 */

/**
 * RedServer:video-codecs:
 *
 * The video encoders to use, in order of preference, in spice-server's
 * syntax: `encoder:codec` pairs separated by `;`, for example
 * `gstreamer:h264;gstreamer:vp8;gstreamer:mjpeg`.
 */

/**
 * RedServer:streaming-video:
 *
 * When changing regions of a display become video streams.
 */

/**
 * RedServer:stream-start-frames:
 *
 * How many times one rectangle must be redrawn, each update within 200 ms
 * of the previous one, before it becomes a video stream (in
 * %RED_STREAMING_VIDEO_FILTER mode). Default: 20.
 */

/**
 * RedServer:stream-min-area:
 *
 * The smallest rectangle, in pixels, that may become a stream in
 * %RED_STREAMING_VIDEO_FILTER mode. Default: 9216 (96×96).
 */

/**
 * RedServer:stream-timeout:
 *
 * Milliseconds without an update after which a stream ends; its area is
 * then sent again losslessly. Default: 1000.
 */

/**
 * RedServer:max-clients:
 *
 * How many clients may be connected at once (16 by default; 0 means no
 * limit: each session costs tens of MiB). A client over the limit is refused in the link reply, before
 * any password is asked for: spice-gtk reports a link error, not an
 * authentication failure.
 */

/**
 * RedServer:running:
 *
 * Whether the server listens for clients. A connection has 10 seconds to
 * complete the SPICE link stage. At most 64 connections from one address
 * and 256 in all are in that stage at once: beyond that, the one that has
 * made the least progress is closed, so idle connections cannot keep a
 * client out.
 */

/**
 * RedServer::client-connected:
 * @server: the server
 * @client: the #RedClient that has connected
 *
 * Emitted on the main thread when a client's main channel has linked.
 */

/**
 * RedServer::client-disconnected:
 * @server: the server
 * @client: the #RedClient that has left
 *
 * Emitted on the main thread after every connection of @client is closed.
 */

/**
 * RedServer::channel-client-connected:
 * @server: the server
 * @channel_client: the new #RedChannelClient
 *
 * Emitted on the main thread when a client has connected one channel,
 * for example a display channel set up on its #RedWorker thread: the
 * worker's report reaches the main thread through the main dispatcher.
 */

/**
 * RedServer::channel-client-disconnected:
 * @server: the server
 * @channel_client: the #RedChannelClient that has closed
 *
 * Emitted on the main thread when one channel connection of a client has
 * closed.
 */

/**
 * RedServer::key-event:
 * @server: the server
 * @scancode: the PC/AT set-1 scancode; extended keys carry the 0xe0 prefix
 *   in the second byte (0xe01d is Right Ctrl)
 * @pressed: %TRUE for a press, %FALSE for a release
 *
 * Emitted on the main thread for every key a client presses or releases.
 */

/**
 * RedServer::key-modifiers:
 * @server: the server
 * @modifiers: lock keys as SPICE sends them: 1 Scroll Lock, 2 Num Lock,
 *   4 Caps Lock
 *
 * Emitted on the main thread when a client sends its lock-key state.
 */

/**
 * RedServer::pointer-motion:
 * @server: the server
 * @dx: relative horizontal motion
 * @dy: relative vertical motion
 * @buttons: the buttons held, as a mask (1 left, 2 middle, 4 right)
 *
 * Emitted on the main thread for relative mouse motion (server mouse mode).
 */

/**
 * RedServer::pointer-position:
 * @server: the server
 * @display_id: the id of the display the pointer is on
 * @x: the column on that display
 * @y: the row on that display
 * @buttons: the buttons held, as a mask (1 left, 2 middle, 4 right)
 *
 * Emitted on the main thread for absolute pointer positions, in client
 * mouse mode only (a client chooses the mode; positions sent in server
 * mode are ignored, as spice-server ignores them). Positions are clamped
 * to the display; positions on a display that does not exist are dropped.
 */

/**
 * RedServer::button-event:
 * @server: the server
 * @button: the button: 1 left, 2 middle, 3 right, 4 wheel up, 5 wheel down
 * @pressed: %TRUE for a press, %FALSE for a release
 * @buttons: the buttons held after the event, as a mask
 *
 * Emitted on the main thread for mouse buttons and wheel steps.
 */

/**
 * red_server_new:
 *
 * Creates a server on the calling thread's thread-default main context.
 * Use g_object_new() with #RedServer:main-context to pick another.
 *
 * Returns: (transfer full): a new #RedServer
 */
RedServer *red_server_new (void);

/**
 * red_server_start:
 * @server: a #RedServer
 * @error: return location for a #GError
 *
 * Starts listening on #RedServer:address and #RedServer:port and starts
 * the display workers.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *   (%RED_ERROR_ALREADY_RUNNING, %RED_ERROR_ADDRESS_IN_USE, ...)
 */
gboolean red_server_start (RedServer *server,
                           GError   **error);

/**
 * red_server_stop:
 * @server: a #RedServer
 *
 * Stops listening, disconnects every client and stops and joins every
 * display worker thread. Displays keep their contents and can still be
 * drawn into; red_server_start() starts again.
 */
void red_server_stop (RedServer *server);

/**
 * red_server_is_running:
 * @server: a #RedServer
 *
 * Tells whether @server listens: between a successful
 * red_server_start() and red_server_stop().
 *
 * Returns: whether the server listens
 */
gboolean red_server_is_running (RedServer *server);

/**
 * red_server_get_port:
 * @server: a #RedServer
 *
 * Gets the TCP port @server listens on.
 *
 * Returns: the port listened on (the one picked when #RedServer:port was 0)
 */
guint red_server_get_port (RedServer *server);

/**
 * red_server_add_display:
 * @server: a #RedServer
 * @width: width in pixels, 1 to 16384
 * @height: height in pixels, 1 to 16384
 * @error: return location for a #GError
 *
 * Adds a virtual monitor, black at first, with the next free id, and its
 * worker thread (started now if the server runs, else by
 * red_server_start()).
 *
 * Returns: (transfer none): the display, owned by @server, or %NULL with
 *   @error set
 */
RedDisplay *red_server_add_display (RedServer *server,
                                    guint      width,
                                    guint      height,
                                    GError   **error);

/**
 * red_server_get_displays:
 * @server: a #RedServer
 *
 * Lists the displays of @server.
 *
 * Returns: (transfer container) (element-type RedDisplay): the displays in
 *   the order they were added; free the list with g_list_free()
 */
GList *red_server_get_displays (RedServer *server);

/**
 * red_server_get_clients:
 * @server: a #RedServer
 *
 * Lists the clients connected to @server.
 *
 * Returns: (transfer container) (element-type RedClient): the connected
 *   clients; free the list with g_list_free()
 */
GList *red_server_get_clients (RedServer *server);

/**
 * red_server_get_main_channel:
 * @server: a #RedServer
 *
 * Gets the main channel of @server, which runs on its main thread.
 *
 * Returns: (transfer none): the server's main channel
 */
RedMainChannel *red_server_get_main_channel (RedServer *server);

/**
 * red_server_get_inputs_channel:
 * @server: a #RedServer
 *
 * Gets the inputs channel of @server, which runs on its main thread.
 *
 * Returns: (transfer none): the server's inputs channel
 */
RedInputsChannel *red_server_get_inputs_channel (RedServer *server);

/**
 * red_server_set_ticket:
 * @server: a #RedServer
 * @password: (nullable): the ticket, or %NULL to clear it
 * @lifetime: seconds the ticket stays valid; 0 for ever
 *
 * Sets the ticket (password) clients must present. Setting one selects
 * %RED_AUTH_MODE_TICKET. Clearing it keeps ticket authentication, which
 * then refuses every client, as spice-server does.
 */
void red_server_set_ticket (RedServer   *server,
                            const gchar *password,
                            guint        lifetime);

/**
 * red_server_set_ticket_full:
 * @server: a #RedServer
 * @password: (nullable): the ticket, or %NULL to clear it
 * @lifetime: seconds the ticket stays valid; 0 for ever
 * @flags: what to do when clients are connected
 * @error: return location for a #GError, or %NULL
 *
 * Sets the ticket as red_server_set_ticket() does, with spice-server's
 * choices for the clients already connected, who linked with the old
 * ticket: with %RED_TICKET_FLAGS_FAIL_IF_CONNECTED the ticket is left
 * unchanged and %RED_ERROR_CLIENTS_CONNECTED is returned while any client
 * is connected; with %RED_TICKET_FLAGS_DISCONNECT_IF_CONNECTED they are
 * told the session ends and disconnected. With neither they stay.
 *
 * Returns: %TRUE if the ticket was set
 */
gboolean red_server_set_ticket_full (RedServer       *server,
                                     const gchar     *password,
                                     guint            lifetime,
                                     RedTicketFlags   flags,
                                     GError         **error);

/**
 * red_server_set_key_modifiers:
 * @server: a #RedServer
 * @modifiers: lock keys: 1 Scroll Lock, 2 Num Lock, 4 Caps Lock
 *
 * Sets the keyboard lock state the machine shows; every connected client
 * is told, so its keyboard LEDs follow, and new clients start with it.
 */
void red_server_set_key_modifiers (RedServer *server,
                                   guint      modifiers);

/**
 * red_server_get_key_modifiers:
 * @server: a #RedServer
 *
 * Gets the keyboard lock state @server shows its clients.
 *
 * Returns: the lock state set with red_server_set_key_modifiers()
 */
guint red_server_get_key_modifiers (RedServer *server);

/**
 * red_server_add_client_socket:
 * @server: a #RedServer
 * @socket: a connected stream #GSocket
 * @error: return location for a #GError
 *
 * Hands over a connection the application accepted itself (as VM managers
 * pass file descriptors). The server duplicates the descriptor, so the
 * caller may close @socket; the connection goes through the same link
 * stage as one accepted by the server.
 *
 * Returns: %TRUE, or %FALSE with @error set
 */
gboolean red_server_add_client_socket (RedServer *server,
                                       GSocket   *socket,
                                       GError   **error);

G_END_DECLS
