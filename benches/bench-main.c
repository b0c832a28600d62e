/* bench-main.c: the benchmark server runner, shared by both servers.
 *
 *   redspice-bench-server  --workload=NAME --port=PORT [--seed=N] [--fps=F]
 *   reference-bench-server (the same options; libspice-server)
 *
 * It starts the backend's server with one 1920x1080 display, draws the
 * workload's frame 0, and prints one JSON line per event on stdout:
 *
 *   {"event": "ready", ...}   listening; the resident memory before clients
 *
 * then obeys lines on stdin:
 *
 *   start SECONDS   draw frames 1, 2, ... at --fps for SECONDS, then print
 *                   {"event": "done", ...}: when each frame was submitted
 *                   (CLOCK_MONOTONIC, microseconds), the pixels it changed,
 *                   the process's CPU time, the part of it spent generating
 *                   frames, resident memory, clients and input events
 *   status          print {"event": "status", ...}: clients, input events,
 *                   resident memory and the process's CPU time so far
 *   quit            stop the server and exit (so does end of input)
 *
 * A frame is made when it is due, or as soon after as the backend accepts it
 * (the reference's command ring may be full); a server that falls behind
 * gets fewer frames, never a burst. The driver is benches/run.py.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "bench.h"

#include <glib-unix.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  GMainLoop *loop;
  BenchWorkload *workload;
  guint fps;
  /* the current run */
  gboolean running;
  gint64 run_start, run_end, due;
  guint next_frame;
  GArray *ops;            /* the next frame's requests, made but not submitted */
  GArray *submit_us;      /* gint64 per frame from 1 */
  GArray *frame_pixels;   /* guint64 per frame from 1 */
  double cpu_start, gen_cpu;
  GSource *tick;
} Runner;

static double
process_cpu_seconds (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double
thread_cpu_seconds (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* VmRSS of this process, in KiB. */
static guint64
rss_kib (void)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return 0;
  line = strstr (status, "VmRSS:");
  return line ? g_ascii_strtoull (line + 6, NULL, 10) : 0;
}

static void
emit (GString *json)
{
  g_string_append (json, "}\n");
  fputs (json->str, stdout);
  fflush (stdout);
  g_string_free (json, TRUE);
}

/* Drops the requests made and not yet (or already) submitted. */
static void
clear_ops (Runner *r)
{
  for (guint i = 0; i < r->ops->len; i++)
    bench_op_clear (&g_array_index (r->ops, BenchOp, i));
  g_array_set_size (r->ops, 0);
}

static void
make_frame (Runner *r)
{
  double t0 = thread_cpu_seconds ();

  bench_workload_frame (r->workload, r->next_frame, r->ops);
  r->gen_cpu += thread_cpu_seconds () - t0;
}

static void
submit_frame (Runner *r)
{
  guint64 pixels = 0;
  gint64 now = g_get_monotonic_time ();
  double t0;

  for (guint i = 0; i < r->ops->len; i++) {
    BenchOp *op = &g_array_index (r->ops, BenchOp, i);
    pixels += (guint64) op->rect.width * op->rect.height;
    bench_backend.submit (op);
  }
  bench_backend.flush ();
  /* dropping our references is the workload's cost, not the server's */
  t0 = thread_cpu_seconds ();
  clear_ops (r);
  r->gen_cpu += thread_cpu_seconds () - t0;
  if (r->next_frame > 0) {
    g_array_append_val (r->submit_us, now);
    g_array_append_val (r->frame_pixels, pixels);
  }
}

static void
finish_run (Runner *r)
{
  GString *json = g_string_new ("{\"event\": \"done\"");
  double cpu = process_cpu_seconds () - r->cpu_start;
  double wall = (g_get_monotonic_time () - r->run_start) / 1e6;

  r->running = FALSE;
  clear_ops (r);
  g_string_append_printf (json, ", \"frames\": %u, \"wall_s\": %.6f, \"cpu_s\": %.6f, \"gen_cpu_s\": %.6f",
                          r->submit_us->len, wall, cpu, r->gen_cpu);
  g_string_append_printf (json, ", \"process_cpu_at_start_s\": %.6f", r->cpu_start);
  g_string_append_printf (json, ", \"rss_kib\": %" G_GUINT64_FORMAT ", \"clients\": %u, \"input_events\": %u",
                          rss_kib (), bench_backend.n_clients (), bench_backend.n_input_events ());
  g_string_append (json, ", \"submit_us\": [");
  for (guint i = 0; i < r->submit_us->len; i++)
    g_string_append_printf (json, "%s%" G_GINT64_FORMAT, i ? ", " : "", g_array_index (r->submit_us, gint64, i));
  g_string_append (json, "], \"frame_pixels\": [");
  for (guint i = 0; i < r->frame_pixels->len; i++)
    g_string_append_printf (json, "%s%" G_GUINT64_FORMAT, i ? ", " : "",
                            g_array_index (r->frame_pixels, guint64, i));
  g_string_append (json, "]");
  emit (json);
}

/* The frame clock: a source whose ready time is the next frame's due time
 * (microsecond resolution, unlike a millisecond timeout). */
static gboolean
tick (gpointer data)
{
  Runner *r = data;
  gint64 now = g_get_monotonic_time ();
  gint64 period = G_USEC_PER_SEC / r->fps;

  if (!r->running)
    return G_SOURCE_REMOVE;
  if (now >= r->run_end) {
    finish_run (r);
    r->tick = NULL;
    return G_SOURCE_REMOVE;
  }
  if (now >= r->due) {
    if (r->ops->len == 0)
      make_frame (r);
    if (!bench_backend.can_accept (r->ops->len)) {
      /* the application waits for the server, like a guest on a full ring */
      g_source_set_ready_time (r->tick, now + 500);
      return G_SOURCE_CONTINUE;
    }
    submit_frame (r);
    r->next_frame++;
    if (r->next_frame >= BENCH_STAMP_MODULO) {
      finish_run (r);
      r->tick = NULL;
      return G_SOURCE_REMOVE;
    }
    r->due += period;
    if (r->due < now) /* late: no burst to catch up */
      r->due = now + period;
  }
  g_source_set_ready_time (r->tick, MIN (r->due, r->run_end));
  return G_SOURCE_CONTINUE;
}

static gboolean
clock_dispatch (GSource *source, GSourceFunc callback, gpointer data)
{
  /* ready once per g_source_set_ready_time */
  g_source_set_ready_time (source, -1);
  return callback (data);
}

static GSourceFuncs clock_funcs = { .dispatch = clock_dispatch };

static void
start_run (Runner *r, double seconds)
{
  if (r->running) {
    g_printerr ("bench: a run is already going\n");
    return;
  }
  r->running = TRUE;
  r->next_frame = 1;
  g_array_set_size (r->submit_us, 0);
  g_array_set_size (r->frame_pixels, 0);
  r->gen_cpu = 0;
  r->cpu_start = process_cpu_seconds ();
  r->run_start = g_get_monotonic_time ();
  r->run_end = r->run_start + (gint64) (seconds * G_USEC_PER_SEC);
  r->due = r->run_start;
  r->tick = g_source_new (&clock_funcs, sizeof (GSource));
  g_source_set_ready_time (r->tick, r->due);
  g_source_set_callback (r->tick, tick, r, NULL);
  g_source_attach (r->tick, NULL);
  g_source_unref (r->tick);
}

static void
print_status (void)
{
  GString *json = g_string_new ("{\"event\": \"status\"");

  g_string_append_printf (json, ", \"clients\": %u, \"input_events\": %u, \"rss_kib\": %" G_GUINT64_FORMAT,
                          bench_backend.n_clients (), bench_backend.n_input_events (), rss_kib ());
  g_string_append_printf (json, ", \"process_cpu_s\": %.6f", process_cpu_seconds ());
  emit (json);
}

static gboolean
on_stdin (GIOChannel *channel, GIOCondition condition G_GNUC_UNUSED, gpointer data)
{
  Runner *r = data;
  g_autofree char *line = NULL;
  GIOStatus status = g_io_channel_read_line (channel, &line, NULL, NULL, NULL);

  if (status == G_IO_STATUS_AGAIN)
    return G_SOURCE_CONTINUE;
  if (status != G_IO_STATUS_NORMAL) {
    g_main_loop_quit (r->loop);
    return G_SOURCE_REMOVE;
  }
  g_strstrip (line);
  if (g_str_has_prefix (line, "start ")) {
    start_run (r, g_ascii_strtod (line + 6, NULL));
  } else if (g_str_equal (line, "status")) {
    print_status ();
  } else if (g_str_equal (line, "quit")) {
    g_main_loop_quit (r->loop);
    return G_SOURCE_REMOVE;
  } else if (*line) {
    g_printerr ("bench: unknown command \"%s\"\n", line);
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_signal (gpointer data)
{
  g_main_loop_quit (((Runner *) data)->loop);
  return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
  g_autofree char *workload = NULL;
  gint port = 0, seed = 1, fps = 30, width = 1920, height = 1080;
  GOptionEntry entries[] = {
    { "workload", 0, 0, G_OPTION_ARG_STRING, &workload, "photo, text, box, scroll or video", "NAME" },
    { "port", 0, 0, G_OPTION_ARG_INT, &port, "TCP port on 127.0.0.1", "PORT" },
    { "seed", 0, 0, G_OPTION_ARG_INT, &seed, "the workload's seed (1)", "N" },
    { "fps", 0, 0, G_OPTION_ARG_INT, &fps, "frames per second to draw (30)", "F" },
    { "width", 0, 0, G_OPTION_ARG_INT, &width, "display width (1920)", "W" },
    { "height", 0, 0, G_OPTION_ARG_INT, &height, "display height (1080)", "H" },
    { NULL }
  };
  g_autoptr (GOptionContext) options = g_option_context_new ("- serve a benchmark workload over SPICE");
  g_autoptr (GError) error = NULL;
  Runner r = { 0 };
  BenchRect stamp;
  GIOChannel *in;
  GString *json;

  /* stdout carries the JSON lines: GLib's debug and info messages
   * (G_MESSAGES_DEBUG) go to stderr, which REDSPICE_BENCH_SERVER_LOG keeps */
  g_log_writer_default_set_use_stderr (TRUE);
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error)) {
    g_printerr ("%s\n", error->message);
    return 2;
  }
  if (!workload || port <= 0 || port > 65535 || fps < 1 || fps > 1000) {
    g_printerr ("bench: --workload, --port (1-65535) are needed; --fps is 1 to 1000\n");
    return 2;
  }
  r.workload = bench_workload_new (workload, seed, width, height, &error);
  if (!r.workload) {
    g_printerr ("bench: %s\n", error->message);
    return 2;
  }
  r.fps = fps;
  r.ops = g_array_new (FALSE, TRUE, sizeof (BenchOp));
  r.submit_us = g_array_new (FALSE, FALSE, sizeof (gint64));
  r.frame_pixels = g_array_new (FALSE, FALSE, sizeof (guint64));
  r.loop = g_main_loop_new (NULL, FALSE);

  if (!bench_backend.start (port, width, height, &error)) {
    g_printerr ("bench: %s: %s\n", bench_backend.name, error->message);
    return 1;
  }
  make_frame (&r);
  submit_frame (&r);

  bench_workload_stamp_rect (r.workload, &stamp);
  json = g_string_new ("{\"event\": \"ready\"");
  g_string_append_printf (json, ", \"server\": \"%s\", \"pid\": %d, \"port\": %d, \"workload\": \"%s\", \"seed\": %d",
                          bench_backend.name, (int) getpid (), port, workload, seed);
  g_string_append_printf (json, ", \"fps\": %d, \"width\": %d, \"height\": %d, \"stamp\": [%d, %d, %d, %d]",
                          fps, width, height, stamp.x, stamp.y, stamp.width, stamp.height);
  g_string_append_printf (json, ", \"rss_kib\": %" G_GUINT64_FORMAT, rss_kib ());
  emit (json);

  in = g_io_channel_unix_new (STDIN_FILENO);
  g_io_add_watch (in, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, &r);
  g_unix_signal_add (SIGTERM, on_signal, &r);
  g_unix_signal_add (SIGINT, on_signal, &r);
  g_main_loop_run (r.loop);

  if (r.tick)
    g_source_destroy (r.tick);
  bench_backend.stop ();
  clear_ops (&r);
  g_array_unref (r.ops);
  g_array_unref (r.submit_us);
  g_array_unref (r.frame_pixels);
  g_io_channel_unref (in);
  g_main_loop_unref (r.loop);
  bench_workload_free (r.workload);
  return 0;
}
