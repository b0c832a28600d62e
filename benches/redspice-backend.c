/* redspice-backend.c: the benchmark runner's redspice server, through the
 * public C API only, with the library's defaults (as an application would
 * use it).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "bench.h"

#include <redspice.h>

static RedServer *server;
static RedDisplay *display;
static guint input_events;

static void
on_input (void)
{
  input_events++;
}

static gboolean
start (guint port, guint width, guint height, GError **error)
{
  server = red_server_new ();
  g_object_set (server, "address", "127.0.0.1", "port", port, NULL);
  /* Another image codec than auto's, by its nick ("lz", "quic"...). */
  const char *compression = g_getenv ("REDSPICE_BENCH_IMAGE_COMPRESSION");
  if (compression)
    {
      GEnumClass *klass = g_type_class_ref (RED_TYPE_IMAGE_COMPRESSION);
      GEnumValue *value = g_enum_get_value_by_nick (klass, compression);
      if (!value)
        g_error ("no image compression is called %s", compression);
      g_object_set (server, "image-compression", value->value, NULL);
      g_type_class_unref (klass);
    }
  display = red_server_add_display (server, width, height, error);
  if (!display)
    return FALSE;
  g_signal_connect_swapped (server, "key-event", G_CALLBACK (on_input), NULL);
  g_signal_connect_swapped (server, "pointer-motion", G_CALLBACK (on_input), NULL);
  g_signal_connect_swapped (server, "pointer-position", G_CALLBACK (on_input), NULL);
  g_signal_connect_swapped (server, "button-event", G_CALLBACK (on_input), NULL);
  return red_server_start (server, error);
}

static gboolean
can_accept (guint n_ops G_GNUC_UNUSED)
{
  /* red_display_draw itself makes the application wait when clients are
   * far behind */
  return TRUE;
}

static void
submit (const BenchOp *op)
{
  const BenchRect *r = &op->rect;

  switch (op->kind) {
  case BENCH_OP_DRAW:
    red_display_draw (display, r->x, r->y, r->width, r->height, op->pixels, op->stride);
    break;
  case BENCH_OP_FILL:
    red_display_fill (display, r->x, r->y, r->width, r->height, op->color);
    break;
  case BENCH_OP_COPY:
    red_display_copy_area (display, op->src_x, op->src_y, r->width, r->height, r->x, r->y);
    break;
  }
}

static void
flush (void)
{
  /* every request is on its way to the worker already */
}

static guint
n_clients (void)
{
  GList *clients = red_server_get_clients (server);
  guint n = g_list_length (clients);

  g_list_free (clients);
  return n;
}

static guint
n_input_events (void)
{
  return input_events;
}

static void
stop (void)
{
  red_server_stop (server);
  g_clear_object (&server);
  display = NULL;
}

const BenchBackend bench_backend = {
  .name = "redspice",
  .start = start,
  .can_accept = can_accept,
  .submit = submit,
  .flush = flush,
  .n_clients = n_clients,
  .n_input_events = n_input_events,
  .stop = stop,
};
