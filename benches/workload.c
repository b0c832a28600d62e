/* workload.c: the seeded frames both benchmark servers draw.
 *
 * Six workloads on one display, each a sequence of frames made of the
 * requests an application would make (draw pixels, fill, copy an area):
 *
 *   photo   full-screen photo-like frames: a new full-display image per frame
 *   text    a desktop of windows whose text and widgets change, a few per frame
 *   box     a 256x256 textured box moving over a plain desktop
 *   scroll  a document scrolling by one text line per frame (copy + new line)
 *   video   a 640x360 video-like rectangle in the middle of a desktop
 *   frames  the scroll workload's document, but drawn as one whole-screen
 *           image per frame, as an emulator or a screen grabber does: the
 *           server has to find the scroll in the pixels
 *
 * Everything comes from the seed and the frame number alone, so both servers
 * get byte-identical requests. Every frame from 1 on carries its number in a
 * stamp (see bench.h): inside the image for photo and video, as the frame's
 * last small drawing at the display's top-left corner for the others.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "bench.h"

#include <math.h>
#include <string.h>

#define DESKTOP_COLOR 0x2e3440
#define BOX_SIZE 256
#define VIDEO_W 640
#define VIDEO_H 360
#define GLYPH_W 8
#define GLYPH_H 16
#define N_GLYPHS 96
#define LINE_H 18
#define TEXT_COLOR 0x202020
#define PAPER_COLOR 0xffffff
/* the photo texture is this much larger than the display, for panning */
#define PAN_X 384
#define PAN_Y 216

typedef enum { WL_PHOTO, WL_TEXT, WL_BOX, WL_SCROLL, WL_VIDEO, WL_FRAMES } Kind;

struct _BenchWorkload {
  Kind kind;
  guint32 seed;
  gint width, height;
  /* photo and video: a photo-like texture larger than the display */
  guint8 *texture;
  gint tex_w, tex_h;
  /* text and scroll: a seeded font of glyph bitmaps */
  guint8 glyphs[N_GLYPHS][GLYPH_H][GLYPH_W];
  /* text: the windows whose contents change */
  BenchRect windows[6];
  /* scroll: the document area */
  BenchRect doc;
  /* box: the box's texture */
  guint8 *box;
};

static const char *const names[] = { "photo", "text", "box", "scroll", "video", "frames" };

/* A generator for frame n that does not depend on the frames before it. */
static GRand *
frame_rand (BenchWorkload *w, guint n, guint salt)
{
  guint32 words[3] = { w->seed, n, salt };
  return g_rand_new_with_seed_array (words, 3);
}

static GBytes *
take_pixels (guint8 *data, gint width, gint height)
{
  return g_bytes_new_take (data, (gsize) width * height * 4);
}

static void
put_pixel (guint8 *p, guint32 rgb)
{
  p[0] = rgb & 0xff;
  p[1] = (rgb >> 8) & 0xff;
  p[2] = (rgb >> 16) & 0xff;
  p[3] = 0;
}

static guint8
clamp8 (double v)
{
  return v < 0 ? 0 : v > 255 ? 255 : (guint8) v;
}

static guint
check_bits (guint n)
{
  return (n ^ (n >> 4) ^ (n >> 8) ^ 0x5) & 0xf;
}

void
bench_stamp_paint (guint8 *pixels, gsize stride, guint n)
{
  guint word;

  n %= BENCH_STAMP_MODULO;
  word = n | (check_bits (n) << 12);
  for (gint y = 0; y < BENCH_STAMP_BLOCK; y++)
    for (gint bit = 0; bit < BENCH_STAMP_BITS; bit++) {
      guint32 rgb = (word >> (BENCH_STAMP_BITS - 1 - bit)) & 1 ? 0xffffff : 0x000000;
      for (gint x = 0; x < BENCH_STAMP_BLOCK; x++)
        put_pixel (pixels + y * stride + (bit * BENCH_STAMP_BLOCK + x) * 4, rgb);
    }
}

/* A smooth, slightly noisy image like a photograph: sums of low-frequency
 * waves per channel (built from 1-D tables to stay cheap) plus grain. */
static void
make_texture (BenchWorkload *w)
{
  GRand *rand = frame_rand (w, 0, 1);
  gint tw = w->width + PAN_X, th = w->height + PAN_Y;
  double ph[6];
  g_autofree double *col = g_new (double, tw * 3);
  g_autofree double *row = g_new (double, th * 3);

  for (guint i = 0; i < G_N_ELEMENTS (ph); i++)
    ph[i] = g_rand_double_range (rand, 0, 2 * G_PI);
  for (gint x = 0; x < tw; x++)
    for (gint c = 0; c < 3; c++)
      col[x * 3 + c] = 60 * sin (x * (0.004 + 0.002 * c) + ph[c]) + 25 * sin (x * 0.021 + ph[c + 3]);
  for (gint y = 0; y < th; y++)
    for (gint c = 0; c < 3; c++)
      row[y * 3 + c] = 55 * cos (y * (0.005 + 0.0015 * c) + ph[5 - c]) + 20 * sin (y * 0.027 + ph[c]);

  w->tex_w = tw;
  w->tex_h = th;
  w->texture = g_malloc ((gsize) tw * th * 4);
  for (gint y = 0; y < th; y++) {
    guint8 *p = w->texture + (gsize) y * tw * 4;
    for (gint x = 0; x < tw; x++, p += 4) {
      gint grain = (gint) g_rand_int_range (rand, -5, 6);
      p[0] = clamp8 (128 + col[x * 3 + 0] + row[y * 3 + 0] + grain);
      p[1] = clamp8 (120 + col[x * 3 + 1] + row[y * 3 + 1] + grain);
      p[2] = clamp8 (132 + col[x * 3 + 2] + row[y * 3 + 2] + grain);
      p[3] = 0;
    }
  }
  g_rand_free (rand);
}

/* A width x height window of the texture at a position that glides with n,
 * stamped with n at its top-left corner. */
static GBytes *
texture_frame (BenchWorkload *w, guint n, gint width, gint height, double speed)
{
  gint max_x = w->tex_w - width, max_y = w->tex_h - height;
  gint ox = (gint) ((max_x / 2) * (1 + sin (n * 0.05 * speed + w->seed % 7)));
  gint oy = (gint) ((max_y / 2) * (1 + sin (n * 0.037 * speed + w->seed % 5)));
  guint8 *data = g_malloc ((gsize) width * height * 4);

  ox = CLAMP (ox, 0, max_x);
  oy = CLAMP (oy, 0, max_y);
  for (gint y = 0; y < height; y++)
    memcpy (data + (gsize) y * width * 4, w->texture + ((gsize) (oy + y) * w->tex_w + ox) * 4,
            (gsize) width * 4);
  bench_stamp_paint (data, (gsize) width * 4, n);
  return take_pixels (data, width, height);
}

/* Glyphs: random strokes in an 8x16 cell (x-height, some ascenders and
 * descenders), drawn as ink with a grey edge like anti-aliased text. */
static void
make_font (BenchWorkload *w)
{
  GRand *rand = frame_rand (w, 0, 2);

  memset (w->glyphs, 0, sizeof w->glyphs);
  for (gint g = 1; g < N_GLYPHS; g++) {
    gint top = g_rand_boolean (rand) ? 2 : 6, bottom = g_rand_int_range (rand, 0, 4) ? 12 : 15;
    gint strokes = g_rand_int_range (rand, 2, 5);
    for (gint s = 0; s < strokes; s++) {
      if (g_rand_boolean (rand)) {
        gint x = g_rand_int_range (rand, 1, 6);
        for (gint y = top; y < bottom; y++)
          w->glyphs[g][y][x] = 255;
      } else {
        gint y = g_rand_int_range (rand, top, bottom);
        for (gint x = 1; x < 6; x++)
          w->glyphs[g][y][x] = 255;
      }
    }
    for (gint y = 0; y < GLYPH_H; y++)
      for (gint x = 0; x < GLYPH_W - 1; x++)
        if (w->glyphs[g][y][x] == 255 && w->glyphs[g][y][x + 1] == 0)
          w->glyphs[g][y][x + 1] = 96;
  }
  g_rand_free (rand);
}

static void
fill_rect (guint8 *data, gsize stride, gint x, gint y, gint width, gint height, guint32 rgb)
{
  for (gint yy = y; yy < y + height; yy++)
    for (gint xx = x; xx < x + width; xx++)
      put_pixel (data + yy * stride + xx * 4, rgb);
}

/* Lines of random words in the seeded font, from (x, y), clipped to width x
 * height of the buffer. */
static void
render_text (BenchWorkload *w, GRand *rand, guint8 *data, gsize stride, gint width, gint height,
             gint x0, gint y0)
{
  for (gint ly = y0; ly + GLYPH_H <= height; ly += LINE_H) {
    gint x = x0;
    gint end = width - g_rand_int_range (rand, 0, width / 3 + 1);
    while (x + GLYPH_W <= end) {
      gint word = g_rand_int_range (rand, 2, 10);
      for (gint i = 0; i < word && x + GLYPH_W <= end; i++, x += GLYPH_W) {
        gint g = g_rand_int_range (rand, 1, N_GLYPHS);
        for (gint gy = 0; gy < GLYPH_H; gy++)
          for (gint gx = 0; gx < GLYPH_W; gx++) {
            guint8 ink = w->glyphs[g][gy][gx];
            if (ink) {
              guint8 v = 255 - ink * (255 - 0x20) / 255;
              put_pixel (data + (ly + gy) * stride + (x + gx) * 4, v << 16 | v << 8 | v);
            }
          }
      }
      x += GLYPH_W;
    }
  }
}

/* A text block: paper with lines of text, as one drawing. */
static GBytes *
text_block (BenchWorkload *w, GRand *rand, gint width, gint height, gint margin)
{
  guint8 *data = g_malloc ((gsize) width * height * 4);
  gsize stride = (gsize) width * 4;

  fill_rect (data, stride, 0, 0, width, height, PAPER_COLOR);
  render_text (w, rand, data, stride, width, height, margin, 1);
  return take_pixels (data, width, height);
}

static void
push (GArray *ops, BenchOpKind kind, gint x, gint y, gint width, gint height)
{
  BenchOp op = { .kind = kind, .rect = { x, y, width, height } };
  g_array_append_val (ops, op);
}

static void
push_draw (GArray *ops, gint x, gint y, gint width, gint height, GBytes *pixels)
{
  push (ops, BENCH_OP_DRAW, x, y, width, height);
  g_array_index (ops, BenchOp, ops->len - 1).pixels = pixels;
  g_array_index (ops, BenchOp, ops->len - 1).stride = (gsize) width * 4;
}

static void
push_fill (GArray *ops, gint x, gint y, gint width, gint height, guint32 color)
{
  push (ops, BENCH_OP_FILL, x, y, width, height);
  g_array_index (ops, BenchOp, ops->len - 1).color = color;
}

static void
push_stamp (GArray *ops, guint n)
{
  gint width = BENCH_STAMP_BITS * BENCH_STAMP_BLOCK, height = BENCH_STAMP_BLOCK;
  guint8 *data = g_malloc ((gsize) width * height * 4);

  bench_stamp_paint (data, (gsize) width * 4, n);
  push_draw (ops, 0, 0, width, height, take_pixels (data, width, height));
}

static void
make_box (BenchWorkload *w)
{
  gsize stride = BOX_SIZE * 4;

  w->box = g_malloc (stride * BOX_SIZE);
  for (gint y = 0; y < BOX_SIZE; y++)
    for (gint x = 0; x < BOX_SIZE; x++) {
      gboolean border = x < 4 || y < 4 || x >= BOX_SIZE - 4 || y >= BOX_SIZE - 4;
      gboolean check = ((x / 32) + (y / 32)) % 2;
      guint32 rgb = border ? 0xf0f0f0 : (guint32) (x << 16 | y << 8 | (check ? 0xc0 : 0x40));
      put_pixel (w->box + y * stride + x * 4, rgb);
    }
}

/* The box bounces off the edges of the display below the stamp's row. */
static void
box_position (BenchWorkload *w, guint n, gint *x, gint *y)
{
  gint range_x = w->width - BOX_SIZE, range_y = w->height - BOX_SIZE - 32;
  gint px = (gint) ((n * 14 + w->seed % 97) % (guint) (2 * range_x));
  gint py = (gint) ((n * 9 + w->seed % 89) % (guint) (2 * range_y));

  *x = px < range_x ? px : 2 * range_x - px;
  *y = 32 + (py < range_y ? py : 2 * range_y - py);
}

BenchWorkload *
bench_workload_new (const char *name, guint32 seed, guint width, guint height, GError **error)
{
  BenchWorkload *w;
  gint kind = -1;

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (g_strcmp0 (name, names[i]) == 0)
      kind = i;
  if (kind < 0) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "unknown workload \"%s\" (photo, text, box, scroll, video or frames)", name);
    return NULL;
  }
  if (width < 1280 || height < 720 || width > 4096 || height > 4096) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "the workloads need a display of 1280x720 to 4096x4096");
    return NULL;
  }

  w = g_new0 (BenchWorkload, 1);
  w->kind = kind;
  w->seed = seed;
  w->width = width;
  w->height = height;
  switch (w->kind) {
  case WL_PHOTO:
  case WL_VIDEO:
    make_texture (w);
    break;
  case WL_TEXT:
    make_font (w);
    for (guint i = 0; i < G_N_ELEMENTS (w->windows); i++) {
      /* two rows of three windows */
      gint cw = width / 3, ch = (height - 40) / 2;
      w->windows[i] = (BenchRect) { (i % 3) * cw + 20, 40 + (i / 3) * ch + 20, cw - 40, ch - 40 };
    }
    break;
  case WL_SCROLL:
  case WL_FRAMES:
    make_font (w);
    w->doc = (BenchRect) { width / 6, 40, width * 2 / 3, (height - 80) / LINE_H * LINE_H };
    break;
  case WL_BOX:
    make_box (w);
    break;
  }
  return w;
}

void
bench_workload_free (BenchWorkload *w)
{
  if (!w)
    return;
  g_free (w->texture);
  g_free (w->box);
  g_free (w);
}

void
bench_workload_stamp_rect (BenchWorkload *w, BenchRect *rect)
{
  *rect = (BenchRect) { 0, 0, BENCH_STAMP_BITS * BENCH_STAMP_BLOCK, BENCH_STAMP_BLOCK };
  if (w->kind == WL_VIDEO) {
    rect->x = (w->width - VIDEO_W) / 2;
    rect->y = (w->height - VIDEO_H) / 2;
  }
}

static void
text_frame (BenchWorkload *w, guint n, GArray *ops)
{
  GRand *rand = frame_rand (w, n, 3);

  if (n == 0) {
    push_fill (ops, 0, 0, w->width, w->height, DESKTOP_COLOR);
    for (guint i = 0; i < G_N_ELEMENTS (w->windows); i++) {
      BenchRect r = w->windows[i];
      push_fill (ops, r.x, r.y, r.width, 24, 0x4c566a);          /* title bar */
      push_draw (ops, r.x, r.y + 24, r.width, r.height - 24,      /* contents */
                 text_block (w, rand, r.width, r.height - 24, 8));
    }
  } else {
    /* a few windows change: a paragraph is rewritten, a button flips, the
     * status line changes */
    gint changes = g_rand_int_range (rand, 2, 5);
    for (gint i = 0; i < changes; i++) {
      BenchRect r = w->windows[g_rand_int_range (rand, 0, G_N_ELEMENTS (w->windows))];
      gint bw = g_rand_int_range (rand, r.width / 3, r.width - 16);
      gint bh = g_rand_int_range (rand, 2, 8) * LINE_H;
      gint bx = r.x + 8, by = r.y + 32 + g_rand_int_range (rand, 0, (r.height - 40 - bh) / LINE_H + 1) * LINE_H;
      push_draw (ops, bx, by, bw, bh, text_block (w, rand, bw, bh, 0));
      push_fill (ops, r.x + r.width - 96, r.y + 4, 88, 16, g_rand_boolean (rand) ? 0x88c0d0 : 0x5e81ac);
    }
    push_stamp (ops, n);
  }
  g_rand_free (rand);
}

static void
scroll_frame (BenchWorkload *w, guint n, GArray *ops)
{
  BenchRect d = w->doc;
  GRand *rand = frame_rand (w, n, 4);

  if (n == 0) {
    push_fill (ops, 0, 0, w->width, w->height, DESKTOP_COLOR);
    push_draw (ops, d.x, d.y, d.width, d.height, text_block (w, rand, d.width, d.height, 16));
  } else {
    /* scroll up one line, then draw the new last line */
    push (ops, BENCH_OP_COPY, d.x, d.y, d.width, d.height - LINE_H);
    g_array_index (ops, BenchOp, ops->len - 1).src_x = d.x;
    g_array_index (ops, BenchOp, ops->len - 1).src_y = d.y + LINE_H;
    push_draw (ops, d.x, d.y + d.height - LINE_H, d.width, LINE_H, text_block (w, rand, d.width, LINE_H, 16));
    push_stamp (ops, n);
  }
  g_rand_free (rand);
}

/* The document of frame n, lines n, n + 1, ... each from its own seed, on
 * the desktop, as one whole-screen image with the stamp inside. */
static void
frames_frame (BenchWorkload *w, guint n, GArray *ops)
{
  BenchRect d = w->doc;
  gsize stride = (gsize) w->width * 4;
  guint8 *data = g_malloc (stride * w->height);

  fill_rect (data, stride, 0, 0, w->width, w->height, DESKTOP_COLOR);
  for (gint i = 0; i < d.height / LINE_H; i++) {
    GRand *rand = frame_rand (w, n + i, 5);
    GBytes *line = text_block (w, rand, d.width, LINE_H, 16);
    const guint8 *src = g_bytes_get_data (line, NULL);
    for (gint y = 0; y < LINE_H; y++)
      memcpy (data + (d.y + i * LINE_H + y) * stride + d.x * 4,
              src + (gsize) y * d.width * 4, (gsize) d.width * 4);
    g_bytes_unref (line);
    g_rand_free (rand);
  }
  if (n > 0)
    bench_stamp_paint (data, stride, n);
  push_draw (ops, 0, 0, w->width, w->height, take_pixels (data, w->width, w->height));
}

static void
box_frame (BenchWorkload *w, guint n, GArray *ops)
{
  gint x, y;

  box_position (w, n, &x, &y);
  if (n == 0) {
    push_fill (ops, 0, 0, w->width, w->height, DESKTOP_COLOR);
  } else {
    gint ox, oy;
    box_position (w, n - 1, &ox, &oy);
    push_fill (ops, ox, oy, BOX_SIZE, BOX_SIZE, DESKTOP_COLOR);
  }
  push_draw (ops, x, y, BOX_SIZE, BOX_SIZE,
             g_bytes_new_static (w->box, (gsize) BOX_SIZE * BOX_SIZE * 4));
  if (n > 0)
    push_stamp (ops, n);
}

void
bench_workload_frame (BenchWorkload *w, guint n, GArray *ops)
{
  switch (w->kind) {
  case WL_PHOTO:
    push_draw (ops, 0, 0, w->width, w->height, texture_frame (w, n, w->width, w->height, 1.0));
    break;
  case WL_VIDEO: {
    gint x = (w->width - VIDEO_W) / 2, y = (w->height - VIDEO_H) / 2;
    if (n == 0)
      push_fill (ops, 0, 0, w->width, w->height, DESKTOP_COLOR);
    push_draw (ops, x, y, VIDEO_W, VIDEO_H, texture_frame (w, n, VIDEO_W, VIDEO_H, 4.0));
    break;
  }
  case WL_TEXT:
    text_frame (w, n, ops);
    break;
  case WL_SCROLL:
    scroll_frame (w, n, ops);
    break;
  case WL_BOX:
    box_frame (w, n, ops);
    break;
  case WL_FRAMES:
    frames_frame (w, n, ops);
    break;
  }
}

void
bench_op_clear (BenchOp *op)
{
  g_clear_pointer (&op->pixels, g_bytes_unref);
}
