/* SPDX-License-Identifier: LGPL-2.1-or-later */

#pragma once

#if !defined(__REDSPICE_H_INSIDE__) && !defined(REDSPICE_COMPILATION)
#error "Only <redspice.h> can be included directly."
#endif

#include <glib-object.h>
#include "red-worker.h"
#include "red-display-channel.h"
#include "red-cursor-channel.h"

G_BEGIN_DECLS

#define RED_TYPE_DISPLAY (red_display_get_type ())
G_DECLARE_FINAL_TYPE (RedDisplay, red_display, RED, DISPLAY, GObject)

/**
 * RedDisplay:
 *
 * A virtual monitor. The application draws into it; clients see it.
 * Create one with red_server_add_display().
 *
 * Pixels are 32-bit x8r8g8b8 in native byte order (bytes B, G, R, X on
 * little-endian machines): the layout of cairo's %CAIRO_FORMAT_RGB24, so
 * the data of a cairo image surface can be passed as it is. Drawing
 * outside the display is clipped.
 *
 * Call its functions on the main thread. They return at once: the work is
 * queued, in order, to the display's #RedWorker thread.
 */

/**
 * RedDisplay:id:
 *
 * The display number, from 0; its display and cursor channels have this id.
 */

/**
 * RedDisplay:width:
 *
 * The width in pixels.
 */

/**
 * RedDisplay:height:
 *
 * The height in pixels.
 */

/**
 * RedDisplay:frames-encoded:
 *
 * Video frames encoded for this display's streams so far: one per frame
 * and codec, however many clients receive it (for tests and benchmarks).
 */

/**
 * RedDisplay:worker:
 *
 * The #RedWorker running this display's channels.
 */

/**
 * RedDisplay:display-channel:
 *
 * This display's #RedDisplayChannel.
 */

/**
 * RedDisplay:cursor-channel:
 *
 * This display's #RedCursorChannel.
 */

/**
 * red_display_get_id:
 * @display: a #RedDisplay
 *
 * Gets the number of @display, from 0 (#RedDisplay:id).
 *
 * Returns: the display number
 */
guint red_display_get_id (RedDisplay *display);

/**
 * red_display_get_width:
 * @display: a #RedDisplay
 *
 * Gets the width of @display.
 *
 * Returns: the width in pixels
 */
guint red_display_get_width (RedDisplay *display);

/**
 * red_display_get_height:
 * @display: a #RedDisplay
 *
 * Gets the height of @display.
 *
 * Returns: the height in pixels
 */
guint red_display_get_height (RedDisplay *display);

/**
 * red_display_get_worker:
 * @display: a #RedDisplay
 *
 * Gets the worker thread that runs the channels of @display.
 *
 * Returns: (transfer none): the display's worker
 */
RedWorker *red_display_get_worker (RedDisplay *display);

/**
 * red_display_get_display_channel:
 * @display: a #RedDisplay
 *
 * Gets the display channel of @display, which runs on its worker
 * thread.
 *
 * Returns: (transfer none): the display's display channel
 */
RedDisplayChannel *red_display_get_display_channel (RedDisplay *display);

/**
 * red_display_get_cursor_channel:
 * @display: a #RedDisplay
 *
 * Gets the cursor channel of @display, which runs on its worker thread.
 *
 * Returns: (transfer none): the display's cursor channel
 */
RedCursorChannel *red_display_get_cursor_channel (RedDisplay *display);

/**
 * red_display_draw:
 * @display: a #RedDisplay
 * @x: left edge of the area, in display pixels
 * @y: top edge of the area
 * @width: width of the area
 * @height: height of the area
 * @pixels: x8r8g8b8 pixels of the area, row after row
 * @stride: bytes from the start of one row of @pixels to the next
 *
 * Copies pixels into the display. @pixels must hold @height rows of @width
 * pixels @stride bytes apart; it is referenced, not copied, until the
 * worker has blitted it, so do not change its memory afterwards.
 */
void red_display_draw (RedDisplay *display,
                       gint        x,
                       gint        y,
                       gint        width,
                       gint        height,
                       GBytes     *pixels,
                       gsize       stride);

/**
 * red_display_fill:
 * @display: a #RedDisplay
 * @x: left edge of the area
 * @y: top edge of the area
 * @width: width of the area
 * @height: height of the area
 * @color: the colour as 0xXXRRGGBB (the top byte is ignored)
 *
 * Fills an area with one colour.
 */
void red_display_fill (RedDisplay *display,
                       gint        x,
                       gint        y,
                       gint        width,
                       gint        height,
                       guint32     color);

/**
 * red_display_copy_area:
 * @display: a #RedDisplay
 * @src_x: left edge of the source area
 * @src_y: top edge of the source area
 * @width: width of the area
 * @height: height of the area
 * @dest_x: left edge of the destination
 * @dest_y: top edge of the destination
 *
 * Copies an area of the display to another place on it; the areas may
 * overlap. This is how scrolling reaches clients cheaply.
 */
void red_display_copy_area (RedDisplay *display,
                            gint        src_x,
                            gint        src_y,
                            gint        width,
                            gint        height,
                            gint        dest_x,
                            gint        dest_y);

/**
 * red_display_resize:
 * @display: a #RedDisplay
 * @width: the new width, 1 to 16384
 * @height: the new height, 1 to 16384
 * @error: return location for a #GError
 *
 * Changes the display's size. The area both sizes share keeps its pixels;
 * new area is black.
 *
 * Returns: %TRUE, or %FALSE with @error set (%RED_ERROR_INVALID_ARGUMENT)
 */
gboolean red_display_resize (RedDisplay *display,
                             guint       width,
                             guint       height,
                             GError    **error);

/**
 * red_display_set_cursor:
 * @display: a #RedDisplay
 * @width: cursor width, 1 to 512
 * @height: cursor height, 1 to 512
 * @hot_x: hotspot column, inside the cursor
 * @hot_y: hotspot row, inside the cursor
 * @pixels: premultiplied a8r8g8b8 pixels (cairo's %CAIRO_FORMAT_ARGB32)
 * @stride: bytes from one row of @pixels to the next
 * @error: return location for a #GError
 *
 * Sets the cursor shape and shows it.
 *
 * Returns: %TRUE, or %FALSE with @error set (%RED_ERROR_INVALID_ARGUMENT)
 */
gboolean red_display_set_cursor (RedDisplay *display,
                                 guint       width,
                                 guint       height,
                                 guint       hot_x,
                                 guint       hot_y,
                                 GBytes     *pixels,
                                 gsize       stride,
                                 GError    **error);

/**
 * red_display_move_cursor:
 * @display: a #RedDisplay
 * @x: the new cursor column
 * @y: the new cursor row
 *
 * Moves the cursor, and shows it if it has a shape.
 */
void red_display_move_cursor (RedDisplay *display,
                              gint        x,
                              gint        y);

/**
 * red_display_hide_cursor:
 * @display: a #RedDisplay
 *
 * Hides the cursor until it is next moved or given a shape.
 */
void red_display_hide_cursor (RedDisplay *display);

/**
 * red_display_snapshot:
 * @display: a #RedDisplay
 * @width: (out) (optional): return location for the width
 * @height: (out) (optional): return location for the height
 *
 * Copies the display's pixels as they are once every request made before
 * this call has been applied. Waits for the worker thread.
 *
 * Returns: (transfer full): x8r8g8b8 pixels, rows of @width * 4 bytes
 */
GBytes *red_display_snapshot (RedDisplay *display,
                              guint      *width,
                              guint      *height);

G_END_DECLS
