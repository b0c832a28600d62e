/* reference-backend.c: the benchmark runner's backend for Debian's C
 * libspice-server, the reference redspice is measured against.
 *
 * It serves the display the way QEMU's devices feed libspice-server: through
 * the QXL interface. Each BenchOp becomes a QXL drawable (a copy of a bitmap,
 * a solid fill or a copy of the screen onto itself) in a command FIFO that
 * libspice-server's display worker thread pops from, as it pops a QXL
 * device's command ring. The FIFO is bounded like QEMU's ring (32 commands):
 * can_accept() says when a frame has to wait. The QXL "physical" addresses
 * are the process's own pointers, through a single memory slot covering the
 * address space, so packed bitmaps are handed over without copying.
 *
 * Threads: every BenchBackend function runs on the main thread, and so do
 * the timers and watches of the SpiceCoreInterface (GLib's default main
 * context); get_command, req_cmd_notification and release_resource run on
 * libspice-server's worker thread. The command queues are shared under one
 * mutex.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include <glib.h>
#include <spice.h>

#include "../bench.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "redspice-bench"

/* QEMU's QXL command ring holds 32 commands; a guest driver waits when it
 * is full. */
#define RING_SIZE QXL_COMMAND_RING_SIZE

/* Memory slot layout. A QXLPHYSICAL carries its slot id and generation in
 * its top bits (memslot.c: id_bits + gen_bits, the rest is the address).
 * Our "physical" addresses are plain pointers with those bits zero, so one
 * slot (id 0, generation 0) in one group, spanning the whole address space
 * with no offset, makes every pointer valid. QEMU uses 8 + 8 bits for guest
 * addresses; one bit each (as spice-server's own display tests do) leaves
 * 62 bits for pointers. */
#define MEMSLOT_GROUP 0
#define MEMSLOT_ID_BITS 1
#define MEMSLOT_GEN_BITS 1

#define REFERENCE_ERROR (g_quark_from_static_string ("reference-backend-error-quark"))

/* One QXL command and everything it points to, freed when libspice-server
 * releases it. */
typedef struct {
  QXLCommandExt ext;
  QXLDrawable drawable;
  QXLImage image;  /* the source bitmap of a DRAW */
  GBytes *pixels;  /* a DRAW's pixels, when used in place */
  guint8 *copy;    /* a DRAW's pixels, when they had to be repacked */
  GList pending_link; /* in pending until get_command hands it over */
  GList live_link;    /* in live until released */
} Command;

static struct {
  SpiceServer *server;
  QXLInstance qxl;
  SpiceKbdInstance kbd;
  SpiceTabletInstance tablet;
  gint width, height;
  guint8 *primary;
  guint32 next_image_id;
  gint input_events; /* atomic */

  GMutex lock; /* guards the three fields below */
  GQueue pending;        /* Commands not yet fetched by the worker */
  GQueue live;           /* Commands submitted and not yet released */
  gboolean wakeup_asked; /* the worker waits for spice_qxl_wakeup() */
} b;

/* ---- SpiceCoreInterface on GLib's default main context ---- */

struct SpiceTimer {
  SpiceTimerFunc func;
  void *opaque;
  GSource *source; /* our reference while armed */
};

static gboolean
timer_fired (gpointer data)
{
  SpiceTimer *timer = data;
  GSource *source = timer->source;

  /* Disarm first: func may start the timer again or remove it. GLib keeps
   * the source alive while it is dispatched, so dropping our reference after
   * func is safe, and the timer itself is not touched after func. */
  timer->source = NULL;
  timer->func (timer->opaque);
  g_source_unref (source);
  return G_SOURCE_REMOVE;
}

static SpiceTimer *
core_timer_add (SpiceTimerFunc func, void *opaque)
{
  SpiceTimer *timer = g_new0 (SpiceTimer, 1);

  timer->func = func;
  timer->opaque = opaque;
  return timer;
}

static void
core_timer_cancel (SpiceTimer *timer)
{
  if (timer->source) {
    g_source_destroy (timer->source);
    g_source_unref (timer->source);
    timer->source = NULL;
  }
}

static void
core_timer_start (SpiceTimer *timer, uint32_t ms)
{
  core_timer_cancel (timer);
  timer->source = g_timeout_source_new (ms);
  g_source_set_callback (timer->source, timer_fired, timer, NULL);
  g_source_attach (timer->source, NULL);
}

static void
core_timer_remove (SpiceTimer *timer)
{
  core_timer_cancel (timer);
  g_free (timer);
}

struct SpiceWatch {
  GSource source; /* first: the watch is its own GSource */
  int fd;
  int mask;
  gpointer tag; /* the polled fd, NULL while mask is 0 */
  SpiceWatchFunc func;
  void *opaque;
};

static gboolean
watch_dispatch (GSource *source, GSourceFunc callback G_GNUC_UNUSED, gpointer user_data G_GNUC_UNUSED)
{
  SpiceWatch *watch = (SpiceWatch *) source;
  GIOCondition cond = watch->tag ? g_source_query_unix_fd (source, watch->tag) : 0;
  int events = 0;

  /* A hang-up or an error is reported for every event asked for, so that
   * the reader or the writer sees it; otherwise poll() would keep returning
   * it and the loop would spin. */
  if (cond & (G_IO_HUP | G_IO_ERR | G_IO_NVAL))
    events = watch->mask;
  if ((cond & G_IO_IN) && (watch->mask & SPICE_WATCH_EVENT_READ))
    events |= SPICE_WATCH_EVENT_READ;
  if ((cond & G_IO_OUT) && (watch->mask & SPICE_WATCH_EVENT_WRITE))
    events |= SPICE_WATCH_EVENT_WRITE;
  if (events)
    watch->func (watch->fd, events, watch->opaque); /* may remove the watch */
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs watch_funcs = {
  .dispatch = watch_dispatch,
};

static void
core_watch_update_mask (SpiceWatch *watch, int event_mask)
{
  GIOCondition cond = 0;

  if (event_mask & SPICE_WATCH_EVENT_READ)
    cond |= G_IO_IN;
  if (event_mask & SPICE_WATCH_EVENT_WRITE)
    cond |= G_IO_OUT;
  watch->mask = event_mask;
  /* With no events wanted the fd must not be polled at all: poll() reports
   * a hang-up even for an empty event set. */
  if (cond && watch->tag) {
    g_source_modify_unix_fd (&watch->source, watch->tag, cond);
  } else if (cond) {
    watch->tag = g_source_add_unix_fd (&watch->source, watch->fd, cond);
  } else if (watch->tag) {
    g_source_remove_unix_fd (&watch->source, watch->tag);
    watch->tag = NULL;
  }
}

static SpiceWatch *
core_watch_add (int fd, int event_mask, SpiceWatchFunc func, void *opaque)
{
  SpiceWatch *watch = (SpiceWatch *) g_source_new (&watch_funcs, sizeof (SpiceWatch));

  watch->fd = fd;
  watch->func = func;
  watch->opaque = opaque;
  core_watch_update_mask (watch, event_mask);
  g_source_attach (&watch->source, NULL);
  return watch;
}

static void
core_watch_remove (SpiceWatch *watch)
{
  g_source_destroy (&watch->source);
  g_source_unref (&watch->source);
}

static void
core_channel_event (int event G_GNUC_UNUSED, SpiceChannelEventInfo *info G_GNUC_UNUSED)
{
  /* Nothing to track: n_clients() asks the server. (libspice-server may
   * call this from its worker thread, so it must stay empty.) */
}

static SpiceCoreInterface core = {
  .base = {
    .type = SPICE_INTERFACE_CORE,
    .description = "redspice-bench GLib core",
    .major_version = SPICE_INTERFACE_CORE_MAJOR,
    .minor_version = SPICE_INTERFACE_CORE_MINOR,
  },
  .timer_add = core_timer_add,
  .timer_start = core_timer_start,
  .timer_cancel = core_timer_cancel,
  .timer_remove = core_timer_remove,
  .watch_add = core_watch_add,
  .watch_update_mask = core_watch_update_mask,
  .watch_remove = core_watch_remove,
  .channel_event = core_channel_event,
};

/* ---- commands ---- */

static void
command_free (Command *cmd)
{
  if (cmd->pixels)
    g_bytes_unref (cmd->pixels);
  g_free (cmd->copy);
  g_free (cmd);
}

/* A drawable on the primary surface covering @bbox, its fields common to
 * every kind filled in. */
static Command *
command_new (guint8 type, const BenchRect *bbox)
{
  Command *cmd = g_new0 (Command, 1);
  QXLDrawable *d = &cmd->drawable;

  cmd->pending_link.data = cmd;
  cmd->live_link.data = cmd;
  cmd->ext.cmd.type = QXL_CMD_DRAW;
  cmd->ext.cmd.data = (QXLPHYSICAL) (uintptr_t) d;
  cmd->ext.group_id = MEMSLOT_GROUP;
  cmd->ext.flags = 0; /* native QXL drawables, not the old "compat" layout */

  /* release_resource gets this back and frees the whole Command. */
  d->release_info.id = (uint64_t) (uintptr_t) cmd;
  d->surface_id = 0;
  d->effect = QXL_EFFECT_OPAQUE;
  d->type = type;
  d->bbox.left = bbox->x;
  d->bbox.top = bbox->y;
  d->bbox.right = bbox->x + bbox->width;
  d->bbox.bottom = bbox->y + bbox->height;
  d->clip.type = SPICE_CLIP_TYPE_NONE;
  /* As QEMU does; libspice-server restamps it when it takes the drawable. */
  d->mm_time = (uint32_t) (g_get_monotonic_time () / 1000);
  /* No other surface is read. */
  d->surfaces_dest[0] = d->surfaces_dest[1] = d->surfaces_dest[2] = -1;
  return cmd;
}

static void
command_queue (Command *cmd)
{
  g_mutex_lock (&b.lock);
  g_queue_push_tail_link (&b.live, &cmd->live_link);
  g_queue_push_tail_link (&b.pending, &cmd->pending_link);
  g_mutex_unlock (&b.lock);
}

/* Clips @r to the bounds_w x bounds_h area at the origin, moving the source
 * point (*sx, *sy) that maps to its corner along; FALSE when nothing is
 * left. libspice-server drops (with a warning) a drawable reaching outside
 * its surface. */
static gboolean
clip_rect (BenchRect *r, gint *sx, gint *sy, gint bounds_w, gint bounds_h)
{
  if (r->x < 0) {
    r->width += r->x;
    *sx -= r->x;
    r->x = 0;
  }
  if (r->y < 0) {
    r->height += r->y;
    *sy -= r->y;
    r->y = 0;
  }
  r->width = MIN (r->width, bounds_w - r->x);
  r->height = MIN (r->height, bounds_h - r->y);
  return r->width > 0 && r->height > 0;
}

static void
submit_draw (const BenchOp *op)
{
  gint w = op->rect.width, h = op->rect.height;
  gsize row = (gsize) w * 4;
  BenchRect r = op->rect;
  gint sx = 0, sy = 0;
  const guint8 *data;
  gsize size;
  Command *cmd;
  QXLImage *image;

  if (w <= 0 || h <= 0)
    return;
  data = op->pixels ? g_bytes_get_data (op->pixels, &size) : NULL;
  if (!data || op->stride < row || size < op->stride * (h - 1) + row) {
    g_warning ("DRAW of %dx%d: pixels missing or too short", w, h);
    return;
  }
  if (!clip_rect (&r, &sx, &sy, b.width, b.height))
    return;

  cmd = command_new (QXL_DRAW_COPY, &r);
  image = &cmd->image;
  /* Rows padded beyond the width would stop libspice-server from using
   * LZ/GLZ on the bitmap (dcc.cpp: can_lz_compress), so those are repacked
   * as a guest driver would when copying into device memory; packed pixels
   * (the workloads' case) are used in place, referenced until released. */
  if (op->stride == row) {
    cmd->pixels = g_bytes_ref (op->pixels);
  } else {
    cmd->copy = g_malloc (row * h);
    for (gint y = 0; y < h; y++)
      memcpy (cmd->copy + row * y, data + op->stride * y, row);
    data = cmd->copy;
  }

  /* Each bitmap is new: a unique id in the device's group and no
   * QXL_IMAGE_CACHE flag, which would ask libspice-server to keep it in the
   * client's pixmap cache under that id for reuse, as QEMU's display does. */
  QXL_SET_IMAGE_ID (image, QXL_IMAGE_GROUP_DEVICE, ++b.next_image_id);
  image->descriptor.type = SPICE_IMAGE_TYPE_BITMAP;
  image->descriptor.flags = 0;
  image->descriptor.width = w;
  image->descriptor.height = h;
  image->bitmap.format = SPICE_BITMAP_FMT_32BIT; /* x8r8g8b8, little-endian */
  /* DIRECT: bitmap.data points at the pixels themselves rather than at a
   * QXLDataChunk, whose data has to follow its header in memory (so a chunk
   * would cost a copy). TOP_DOWN: the first row is the top one. */
  image->bitmap.flags = QXL_BITMAP_DIRECT | QXL_BITMAP_TOP_DOWN;
  image->bitmap.x = w;
  image->bitmap.y = h;
  image->bitmap.stride = row;
  image->bitmap.palette = 0;
  image->bitmap.data = (QXLPHYSICAL) (uintptr_t) data;

  cmd->drawable.u.copy.src_bitmap = (QXLPHYSICAL) (uintptr_t) image;
  cmd->drawable.u.copy.src_area.left = sx;
  cmd->drawable.u.copy.src_area.top = sy;
  cmd->drawable.u.copy.src_area.right = sx + r.width;
  cmd->drawable.u.copy.src_area.bottom = sy + r.height;
  cmd->drawable.u.copy.rop_descriptor = SPICE_ROPD_OP_PUT;
  cmd->drawable.u.copy.scale_mode = SPICE_IMAGE_SCALE_MODE_NEAREST; /* 1:1 anyway */
  command_queue (cmd);
}

static void
submit_fill (const BenchOp *op)
{
  BenchRect r = op->rect;
  gint sx = 0, sy = 0;
  Command *cmd;

  if (!clip_rect (&r, &sx, &sy, b.width, b.height))
    return;
  cmd = command_new (QXL_DRAW_FILL, &r);
  cmd->drawable.u.fill.brush.type = SPICE_BRUSH_TYPE_SOLID;
  cmd->drawable.u.fill.brush.u.color = op->color & 0xffffff;
  cmd->drawable.u.fill.rop_descriptor = SPICE_ROPD_OP_PUT;
  command_queue (cmd);
}

static void
submit_copy (const BenchOp *op)
{
  BenchRect r = op->rect;
  gint sx = op->src_x, sy = op->src_y;
  BenchRect src;
  gint dx, dy;
  Command *cmd;

  /* Clip the destination, then the source, each moving the other along. */
  if (!clip_rect (&r, &sx, &sy, b.width, b.height))
    return;
  src = (BenchRect) { sx, sy, r.width, r.height };
  dx = r.x;
  dy = r.y;
  if (!clip_rect (&src, &dx, &dy, b.width, b.height))
    return;
  r = (BenchRect) { dx, dy, src.width, src.height };

  /* QXL_COPY_BITS copies the surface's own pixels at src_pos to bbox. */
  cmd = command_new (QXL_COPY_BITS, &r);
  cmd->drawable.u.copy_bits.src_pos.x = src.x;
  cmd->drawable.u.copy_bits.src_pos.y = src.y;
  command_queue (cmd);
}

/* ---- QXLInterface ---- */

static void
qxl_set_compression_level (QXLInstance *qin G_GNUC_UNUSED, int level G_GNUC_UNUSED)
{
}

static void
qxl_get_init_info (QXLInstance *qin G_GNUC_UNUSED, QXLDevInitInfo *info)
{
  memset (info, 0, sizeof *info);
  info->num_memslots_groups = 1;
  info->num_memslots = 1;
  info->memslot_id_bits = MEMSLOT_ID_BITS;
  info->memslot_gen_bits = MEMSLOT_GEN_BITS;
  info->internal_groupslot_id = 0;
  /* Only the primary surface (id 0) is used. */
  info->n_surfaces = 1;
  /* Only a hint passed to clients; QEMU's plain (non-QXL) display says
   * 16 MiB too. */
  info->qxl_ram_size = 16 * 1024 * 1024;
}

/* worker thread */
static int
qxl_get_command (QXLInstance *qin G_GNUC_UNUSED, struct QXLCommandExt *ext)
{
  GList *link;

  g_mutex_lock (&b.lock);
  link = g_queue_pop_head_link (&b.pending);
  /* A worker fetching commands is not waiting: forget an older request, so
   * that flush() wakes it only when it asks again. */
  if (link)
    b.wakeup_asked = FALSE;
  g_mutex_unlock (&b.lock);
  if (!link)
    return 0;
  *ext = ((Command *) link->data)->ext;
  return 1;
}

/* worker thread: called when get_command found nothing (after one more
 * poll 10 ms later); as QEMU's QXL ring, ask for a wakeup unless commands
 * came meanwhile. */
static int
qxl_req_cmd_notification (QXLInstance *qin G_GNUC_UNUSED)
{
  gboolean wait;

  g_mutex_lock (&b.lock);
  wait = g_queue_is_empty (&b.pending);
  if (wait)
    b.wakeup_asked = TRUE;
  g_mutex_unlock (&b.lock);
  return wait;
}

/* worker thread, or the main thread inside spice_server_destroy() */
static void
qxl_release_resource (QXLInstance *qin G_GNUC_UNUSED, struct QXLReleaseInfoExt release_info)
{
  Command *cmd = (Command *) (uintptr_t) release_info.info->id;

  g_mutex_lock (&b.lock);
  g_queue_unlink (&b.live, &cmd->live_link);
  g_mutex_unlock (&b.lock);
  command_free (cmd);
}

static int
qxl_get_cursor_command (QXLInstance *qin G_GNUC_UNUSED, struct QXLCommandExt *ext G_GNUC_UNUSED)
{
  return 0;
}

static int
qxl_req_cursor_notification (QXLInstance *qin G_GNUC_UNUSED)
{
  /* There never are cursor commands: let the worker wait for a wakeup that
   * never comes (0 would make it poll again at once). */
  return 1;
}

static void
qxl_notify_update (QXLInstance *qin G_GNUC_UNUSED, uint32_t update_id G_GNUC_UNUSED)
{
  /* only for QXL_CMD_UPDATE, which is never sent */
}

static int
qxl_flush_resources (QXLInstance *qin G_GNUC_UNUSED)
{
  /* Asked on out-of-memory; nothing is held that could be freed early. */
  return 0;
}

static void
qxl_async_complete (QXLInstance *qin G_GNUC_UNUSED, uint64_t cookie G_GNUC_UNUSED)
{
  /* only the synchronous spice_qxl_* calls are used */
}

static void
qxl_update_area_complete (QXLInstance *qin G_GNUC_UNUSED, uint32_t surface_id G_GNUC_UNUSED,
                          struct QXLRect *updated_rects G_GNUC_UNUSED,
                          uint32_t num_updated_rects G_GNUC_UNUSED)
{
}

static void
qxl_set_client_capabilities (QXLInstance *qin G_GNUC_UNUSED, uint8_t client_present G_GNUC_UNUSED,
                             uint8_t caps[SPICE_CAPABILITIES_SIZE] G_GNUC_UNUSED)
{
}

static int
qxl_client_monitors_config (QXLInstance *qin G_GNUC_UNUSED,
                            VDAgentMonitorsConfig *monitors_config G_GNUC_UNUSED)
{
  return 0; /* not supported: the display keeps its size */
}

/* attached_worker is left NULL (libspice-server checks): the memory slot
 * and the primary surface are set up right after spice_server_add_interface
 * instead. set_mm_time is deprecated and unused. */
static const QXLInterface qxl_sif = {
  .base = {
    .type = SPICE_INTERFACE_QXL,
    .description = "redspice-bench display",
    .major_version = SPICE_INTERFACE_QXL_MAJOR,
    .minor_version = SPICE_INTERFACE_QXL_MINOR,
  },
  .set_compression_level = qxl_set_compression_level,
  .get_init_info = qxl_get_init_info,
  .get_command = qxl_get_command,
  .req_cmd_notification = qxl_req_cmd_notification,
  .release_resource = qxl_release_resource,
  .get_cursor_command = qxl_get_cursor_command,
  .req_cursor_notification = qxl_req_cursor_notification,
  .notify_update = qxl_notify_update,
  .flush_resources = qxl_flush_resources,
  .async_complete = qxl_async_complete,
  .update_area_complete = qxl_update_area_complete,
  .set_client_capabilities = qxl_set_client_capabilities,
  .client_monitors_config = qxl_client_monitors_config,
};

/* ---- inputs ---- */

static void
kbd_push_scan_freg (SpiceKbdInstance *sin G_GNUC_UNUSED, uint8_t frag)
{
  /* One count per key press or release: the 0xe0/0xe1 prefixes of extended
   * scan codes arrive as fragments of their own. */
  if (frag != 0xe0 && frag != 0xe1)
    g_atomic_int_inc (&b.input_events);
}

static uint8_t
kbd_get_leds (SpiceKbdInstance *sin G_GNUC_UNUSED)
{
  return 0;
}

static void
tablet_set_logical_size (SpiceTabletInstance *tablet G_GNUC_UNUSED, int width G_GNUC_UNUSED,
                         int height G_GNUC_UNUSED)
{
  /* not an input event: the server tells the size of the display */
}

static void
tablet_position (SpiceTabletInstance *tablet G_GNUC_UNUSED, int x G_GNUC_UNUSED,
                 int y G_GNUC_UNUSED, uint32_t buttons_state G_GNUC_UNUSED)
{
  g_atomic_int_inc (&b.input_events);
}

static void
tablet_wheel (SpiceTabletInstance *tablet G_GNUC_UNUSED, int wheel_motion G_GNUC_UNUSED,
              uint32_t buttons_state G_GNUC_UNUSED)
{
  g_atomic_int_inc (&b.input_events);
}

static void
tablet_buttons (SpiceTabletInstance *tablet G_GNUC_UNUSED, uint32_t buttons_state G_GNUC_UNUSED)
{
  g_atomic_int_inc (&b.input_events);
}

static const SpiceKbdInterface kbd_sif = {
  .base = {
    .type = SPICE_INTERFACE_KEYBOARD,
    .description = "redspice-bench keyboard",
    .major_version = SPICE_INTERFACE_KEYBOARD_MAJOR,
    .minor_version = SPICE_INTERFACE_KEYBOARD_MINOR,
  },
  .push_scan_freg = kbd_push_scan_freg,
  .get_leds = kbd_get_leds,
};

/* A tablet (absolute pointer) lets clients use client mouse mode, as QEMU's
 * usb-tablet does. */
static const SpiceTabletInterface tablet_sif = {
  .base = {
    .type = SPICE_INTERFACE_TABLET,
    .description = "redspice-bench tablet",
    .major_version = SPICE_INTERFACE_TABLET_MAJOR,
    .minor_version = SPICE_INTERFACE_TABLET_MINOR,
  },
  .set_logical_size = tablet_set_logical_size,
  .position = tablet_position,
  .wheel = tablet_wheel,
  .buttons = tablet_buttons,
};

/* ---- BenchBackend ---- */

static void
free_commands (void)
{
  GList *link;

  /* Only after the worker has gone: nothing else touches the queues now. */
  g_queue_init (&b.pending);
  while ((link = g_queue_pop_head_link (&b.live)))
    command_free (link->data);
  b.wakeup_asked = FALSE;
}

static void
stop (void)
{
  if (!b.server)
    return;
  /* Disconnects clients and joins the worker thread; drawables it still
   * holds may be released meanwhile, the others are freed below. */
  spice_server_destroy (b.server);
  b.server = NULL;
  free_commands ();
  g_clear_pointer (&b.primary, g_free);
}

static gboolean
start (guint port, guint width, guint height, GError **error)
{
  QXLDevMemSlot slot = { 0 };
  QXLDevSurfaceCreate surface = { 0 };

  g_return_val_if_fail (b.server == NULL, FALSE);
  if (width == 0 || height == 0 || width > 16384 || height > 16384) {
    g_set_error (error, REFERENCE_ERROR, 0, "unsupported display size %ux%u", width, height);
    return FALSE;
  }

  b.server = spice_server_new ();
  spice_server_set_addr (b.server, "127.0.0.1", 0);
  if (spice_server_set_port (b.server, port) != 0) {
    g_set_error (error, REFERENCE_ERROR, 0, "invalid port %u", port);
    goto fail;
  }
  spice_server_set_noauth (b.server);
  /* QEMU's defaults (ui/spice-core.c, qemu_spice_init) are image-compression
   * auto_glz, jpeg-wan-compression auto, zlib-glz-wan-compression auto,
   * streaming-video off.
   * - auto_glz: as QEMU (and libspice-server's own default).
   * - JPEG and zlib-over-GLZ for WAN: "auto" turns them on only for a client
   *   whose bandwidth test measured under 10 Mbit/s
   *   (main-channel-client.cpp: is_low_bandwidth), never the case over
   *   loopback; "never" gives that same result without depending on the
   *   test, so still images stay lossless, as with redspice.
   * - streaming-video filter (libspice-server's own default), not QEMU's
   *   off: redspice streams video, so the reference must too. */
  spice_server_set_image_compression (b.server, SPICE_IMAGE_COMPRESSION_AUTO_GLZ);
  spice_server_set_jpeg_compression (b.server, SPICE_WAN_COMPRESSION_NEVER);
  spice_server_set_zlib_glz_compression (b.server, SPICE_WAN_COMPRESSION_NEVER);
  spice_server_set_streaming_video (b.server, SPICE_STREAM_VIDEO_FILTER);
  /* Video codecs stay at libspice-server's default (Debian 0.15.1:
   * "spice:mjpeg;gstreamer:mjpeg;gstreamer:h264;gstreamer:vp8;gstreamer:vp9"),
   * as QEMU leaves them unless asked. */
  if (spice_server_init (b.server, &core) != 0) {
    g_set_error (error, REFERENCE_ERROR, 0,
                 "libspice-server could not listen on 127.0.0.1:%u", port);
    goto fail;
  }

  b.width = width;
  b.height = height;
  b.next_image_id = 0;
  g_atomic_int_set (&b.input_events, 0);
  free_commands ();

  /* Starts the display worker thread (get_init_info is called here). */
  b.qxl.base.sif = &qxl_sif.base;
  b.qxl.id = 0;
  if (spice_server_add_interface (b.server, &b.qxl.base) != 0) {
    g_set_error (error, REFERENCE_ERROR, 0, "libspice-server refused the QXL interface");
    goto fail;
  }
  b.kbd.base.sif = &kbd_sif.base;
  b.tablet.base.sif = &tablet_sif.base;
  if (spice_server_add_interface (b.server, &b.kbd.base) != 0 ||
      spice_server_add_interface (b.server, &b.tablet.base) != 0) {
    g_set_error (error, REFERENCE_ERROR, 0, "libspice-server refused the input interfaces");
    goto fail;
  }

  /* The one slot: every pointer as it is (see MEMSLOT_ID_BITS). */
  slot.slot_group_id = MEMSLOT_GROUP;
  slot.slot_id = 0;
  slot.generation = 0;
  slot.virt_start = 0;
  slot.virt_end = ~(uintptr_t) 0;
  slot.addr_delta = 0;
  spice_qxl_add_memslot (&b.qxl, &slot);

  /* The primary surface: x8r8g8b8, black. The stride is negative as QEMU
   * and spice-server's tests give it: mem is the lowest address of the
   * buffer and row y starts at mem + (height - 1 - y) * width * 4 (a
   * bottom-up bitmap in memory, as on Windows). libspice-server only renders
   * into this buffer for itself and reads it back through its canvas, which
   * knows the stride, so clients see the surface the right way up with
   * either sign; the sign only fixes where a row lives in our buffer. */
  b.primary = g_malloc0 ((gsize) width * height * 4);
  surface.width = width;
  surface.height = height;
  surface.stride = -(int32_t) (width * 4);
  surface.format = SPICE_SURFACE_FMT_32_xRGB;
  surface.position = 0;
  /* TRUE allows client mouse mode (with the tablet), as QEMU. */
  surface.mouse_mode = TRUE;
  surface.flags = 0; /* not QXL_SURF_FLAG_KEEP_DATA: the server clears it */
  surface.type = QXL_SURF_TYPE_PRIMARY;
  surface.mem = (QXLPHYSICAL) (uintptr_t) b.primary;
  surface.group_id = MEMSLOT_GROUP;
  spice_qxl_create_primary_surface (&b.qxl, 0, &surface);

  /* The worker only fetches commands while the "VM" runs. */
  spice_server_vm_start (b.server);
  return TRUE;

fail:
  spice_server_destroy (b.server);
  b.server = NULL;
  free_commands ();
  g_clear_pointer (&b.primary, g_free);
  return FALSE;
}

static gboolean
can_accept (guint n_ops)
{
  guint pending;

  g_mutex_lock (&b.lock);
  pending = g_queue_get_length (&b.pending);
  g_mutex_unlock (&b.lock);
  /* A frame bigger than the whole ring goes in once the ring is empty. */
  return pending == 0 || pending + n_ops <= RING_SIZE;
}

static void
submit (const BenchOp *op)
{
  g_return_if_fail (b.server != NULL);
  switch (op->kind) {
  case BENCH_OP_DRAW:
    submit_draw (op);
    break;
  case BENCH_OP_FILL:
    submit_fill (op);
    break;
  case BENCH_OP_COPY:
    submit_copy (op);
    break;
  default:
    g_warning ("unknown BenchOp kind %d", op->kind);
  }
}

static void
flush (void)
{
  gboolean wake;

  if (!b.server)
    return;
  /* As a QXL guest notifies the device only when the worker asked
   * (notify_on_prod); otherwise the worker polls again within 10 ms. */
  g_mutex_lock (&b.lock);
  wake = b.wakeup_asked && !g_queue_is_empty (&b.pending);
  if (wake)
    b.wakeup_asked = FALSE;
  g_mutex_unlock (&b.lock);
  if (wake)
    spice_qxl_wakeup (&b.qxl);
}

static guint
n_clients (void)
{
  int n;

  if (!b.server)
    return 0;
  /* deprecated for lack of a better name, still the way to ask */
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  n = spice_server_get_num_clients (b.server);
  G_GNUC_END_IGNORE_DEPRECATIONS
  return n > 0 ? (guint) n : 0;
}

static guint
n_input_events (void)
{
  return (guint) g_atomic_int_get (&b.input_events);
}

const BenchBackend bench_backend = {
  "libspice-server",
  start,
  can_accept,
  submit,
  flush,
  n_clients,
  n_input_events,
  stop,
};
