/* bench.h: the benchmark servers' shared parts.
 *
 * Two small programs serve the same seeded workloads over SPICE, one through
 * redspice (benches/redspice-backend.c) and one through Debian's C
 * libspice-server (benches/reference/reference-backend.c). Everything but the
 * backend is shared: the workloads (workload.c) and the runner
 * (bench-main.c: options, pacing, timing, the JSON lines the driver reads).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  gint x, y, width, height;
} BenchRect;

typedef enum {
  BENCH_OP_DRAW, /* copy @pixels (x8r8g8b8, @stride bytes a row) to @rect */
  BENCH_OP_FILL, /* fill @rect with @color (0x00RRGGBB) */
  BENCH_OP_COPY, /* copy the display's area at (@src_x, @src_y) of @rect's size to @rect */
} BenchOpKind;

/* One drawing request, as an application would make it. */
typedef struct {
  BenchOpKind kind;
  BenchRect rect;
  gint src_x, src_y;
  guint32 color;
  GBytes *pixels;
  gsize stride;
} BenchOp;

/* A server the runner drives. Every function runs on the main thread, in
 * the default main context, which the runner iterates. */
typedef struct {
  /* how the figures name it */
  const char *name;
  /* Starts serving one width x height display (x8r8g8b8, black) on
   * 127.0.0.1:port without authentication, with a keyboard and a mouse. */
  gboolean (*start) (guint port, guint width, guint height, GError **error);
  /* Whether a frame of n_ops requests can be made now without the
   * application having to wait for the server (the reference's command ring
   * is bounded like QXL's; redspice blocks inside draw itself). */
  gboolean (*can_accept) (guint n_ops);
  /* One request; the backend takes its own reference on op->pixels. */
  void (*submit) (const BenchOp *op);
  /* The frame's requests are all submitted. */
  void (*flush) (void);
  /* Clients connected now. */
  guint (*n_clients) (void);
  /* Key and pointer events received from clients so far. */
  guint (*n_input_events) (void);
  /* Stops serving and frees everything. */
  void (*stop) (void);
} BenchBackend;

/* Each server program defines its backend. */
extern const BenchBackend bench_backend;

/* ---- workloads (workload.c) ---- */

typedef struct _BenchWorkload BenchWorkload;

/* "photo", "text", "box", "scroll" or "video"; NULL with @error otherwise. */
BenchWorkload *bench_workload_new (const char *name,
                                   guint32     seed,
                                   guint       width,
                                   guint       height,
                                   GError    **error);
void bench_workload_free (BenchWorkload *workload);
/* Appends frame n's requests to @ops (a GArray of BenchOp; clear each with
 * bench_op_clear). Frame 0 is the initial screen; every frame from 1 on
 * carries its number in the stamp. */
void bench_workload_frame (BenchWorkload *workload,
                           guint          n,
                           GArray        *ops);
/* Where the frame number is, in display pixels. */
void bench_workload_stamp_rect (BenchWorkload *workload,
                                BenchRect     *rect);
void bench_op_clear (BenchOp *op);

/* The frame-number stamp: a row of BENCH_STAMP_BITS black or white blocks of
 * BENCH_STAMP_BLOCK x BENCH_STAMP_BLOCK pixels: 12 bits of the number
 * (modulo 4096), most significant first, then 4 check bits. */
#define BENCH_STAMP_BITS 16
#define BENCH_STAMP_BLOCK 16
#define BENCH_STAMP_MODULO 4096
void bench_stamp_paint (guint8 *pixels,
                        gsize   stride,
                        guint   n);

G_END_DECLS
