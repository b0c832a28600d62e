//! Bytes and speed of every image codec on frames like the benchmark's
//! workloads (`benches/workload.c`), band by band as the display channel
//! sends them: the per-codec benchmark (`bash tools/bench --codecs`).
//! Ignored: the figures mean something in release mode only:
//!
//! ```text
//! cargo test --release --test codec_ratios -- --ignored --nocapture
//! ```
//!
//! The normal (debug) run only checks, on a few small frames, that the
//! harness works.

use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use redspice::display::codecs::glz::{GlzDictionary, WindowPays};
use redspice::display::codecs::jpeg::JpegEncoder;
use redspice::display::codecs::lz::LzEncoder;
use redspice::display::codecs::{quic, zlib, ImageType, Pixels};

/// The display channel's largest band, in pixels (`MAX_DRAW_PIXELS`).
const BAND_PIXELS: usize = 256 * 256;

const DESKTOP: u32 = 0x2e3440;
const PAPER: u32 = 0xffffff;
const GLYPH_W: usize = 8;
const GLYPH_H: usize = 16;
const LINE_H: usize = 18;

#[derive(Clone, Copy, Debug)]
struct Rect {
    x: usize,
    y: usize,
    w: usize,
    h: usize,
}

/// A surface of `0x00RRGGBB` pixels, like the display's.
struct Surface {
    w: usize,
    h: usize,
    px: Vec<u32>,
}

impl Surface {
    fn new(w: usize, h: usize) -> Self {
        Surface {
            w,
            h,
            px: vec![DESKTOP; w * h],
        }
    }

    fn fill(&mut self, r: Rect, color: u32) {
        for y in r.y..r.y + r.h {
            self.px[y * self.w + r.x..][..r.w].fill(color);
        }
    }

    fn draw(&mut self, r: Rect, pixels: &[u32]) {
        for y in 0..r.h {
            self.px[(r.y + y) * self.w + r.x..][..r.w].copy_from_slice(&pixels[y * r.w..][..r.w]);
        }
    }

    /// The bands of `r` as x8r8g8b8 bytes, as `send_next` reads them.
    fn bands(&self, r: Rect) -> Vec<(u32, u32, Vec<u8>)> {
        let rows = (BAND_PIXELS / r.w).clamp(1, r.h);
        let mut out = Vec::new();
        let mut y = r.y;
        while y < r.y + r.h {
            let h = rows.min(r.y + r.h - y);
            let mut bytes = Vec::with_capacity(r.w * h * 4);
            for yy in y..y + h {
                for p in &self.px[yy * self.w + r.x..][..r.w] {
                    bytes.extend_from_slice(&p.to_le_bytes());
                }
            }
            out.push((r.w as u32, h as u32, bytes));
            y += h;
        }
        out
    }
}

/// One workload: frames of damage, each the rectangles its drawing
/// touched (copies travel as COPY_BITS and are left out, as in the
/// channel).
trait Workload {
    fn name(&self) -> &'static str;
    /// Draws frame `n` on `s`, returns what must be sent.
    fn frame(&mut self, n: usize, s: &mut Surface) -> Vec<Rect>;
}

type Font = Vec<[[u8; GLYPH_W]; GLYPH_H]>;

fn make_font(rng: &mut impl Rng) -> Font {
    let mut font = vec![[[0u8; GLYPH_W]; GLYPH_H]; 96];
    for g in font.iter_mut().skip(1) {
        let top = if rng.gen() { 2 } else { 6 };
        let bottom = if rng.gen_range(0..4) != 0 { 12 } else { 15 };
        for _ in 0..rng.gen_range(2..5) {
            if rng.gen() {
                let x = rng.gen_range(1..6);
                for row in g.iter_mut().take(bottom).skip(top) {
                    row[x] = 255;
                }
            } else {
                let y = rng.gen_range(top..bottom);
                g[y][1..6].fill(255);
            }
        }
        for row in g.iter_mut() {
            for x in 0..GLYPH_W - 1 {
                if row[x] == 255 && row[x + 1] == 0 {
                    row[x + 1] = 96;
                }
            }
        }
    }
    font
}

/// Paper with lines of random words, like `text_block`.
fn text_block(font: &Font, rng: &mut impl Rng, w: usize, h: usize, margin: usize) -> Vec<u32> {
    let mut px = vec![PAPER; w * h];
    let mut ly = 1;
    while ly + GLYPH_H <= h {
        let mut x = margin;
        let end = w - rng.gen_range(0..w / 3 + 1);
        while x + GLYPH_W <= end {
            let word = rng.gen_range(2..10);
            let mut i = 0;
            while i < word && x + GLYPH_W <= end {
                let g = &font[rng.gen_range(1..96)];
                for (gy, row) in g.iter().enumerate() {
                    for (gx, &ink) in row.iter().enumerate() {
                        if ink != 0 {
                            let v = 255 - u32::from(ink) * (255 - 0x20) / 255;
                            px[(ly + gy) * w + x + gx] = v << 16 | v << 8 | v;
                        }
                    }
                }
                i += 1;
                x += GLYPH_W;
            }
            x += GLYPH_W;
        }
        ly += LINE_H;
    }
    px
}

struct Text {
    font: Font,
    rng: rand::rngs::StdRng,
    windows: Vec<Rect>,
}

impl Workload for Text {
    fn name(&self) -> &'static str {
        "text"
    }
    fn frame(&mut self, n: usize, s: &mut Surface) -> Vec<Rect> {
        let mut damage = Vec::new();
        if n == 0 {
            s.fill(
                Rect {
                    x: 0,
                    y: 0,
                    w: s.w,
                    h: s.h,
                },
                DESKTOP,
            );
            damage.push(Rect {
                x: 0,
                y: 0,
                w: s.w,
                h: s.h,
            });
            for r in self.windows.clone() {
                s.fill(Rect { h: 24, ..r }, 0x4c566a);
                let body = Rect {
                    y: r.y + 24,
                    h: r.h - 24,
                    ..r
                };
                let px = text_block(&self.font, &mut self.rng, body.w, body.h, 8);
                s.draw(body, &px);
            }
            return damage;
        }
        for _ in 0..self.rng.gen_range(2..5) {
            let r = self.windows[self.rng.gen_range(0..self.windows.len())];
            let bw = self.rng.gen_range(r.w / 3..r.w - 16);
            let bh = self.rng.gen_range(2..8) * LINE_H;
            let by = r.y + 32 + self.rng.gen_range(0..(r.h - 40 - bh) / LINE_H + 1) * LINE_H;
            let block = Rect {
                x: r.x + 8,
                y: by,
                w: bw,
                h: bh,
            };
            let px = text_block(&self.font, &mut self.rng, bw, bh, 0);
            s.draw(block, &px);
            damage.push(block);
        }
        damage
    }
}

struct Scroll {
    font: Font,
    rng: rand::rngs::StdRng,
    doc: Rect,
}

impl Workload for Scroll {
    fn name(&self) -> &'static str {
        "scroll"
    }
    fn frame(&mut self, n: usize, s: &mut Surface) -> Vec<Rect> {
        let d = self.doc;
        if n == 0 {
            let px = text_block(&self.font, &mut self.rng, d.w, d.h, 16);
            s.draw(d, &px);
            return vec![Rect {
                x: 0,
                y: 0,
                w: s.w,
                h: s.h,
            }];
        }
        // the copy goes as COPY_BITS; the new last line is an image
        let line = Rect {
            y: d.y + d.h - LINE_H,
            h: LINE_H,
            ..d
        };
        let px = text_block(&self.font, &mut self.rng, d.w, LINE_H, 16);
        s.draw(line, &px);
        vec![line]
    }
}

/// The 256x256 box: a gradient every pixel of which differs.
struct BoxMove {
    box_px: Vec<u32>,
    last: Option<Rect>,
}

impl Workload for BoxMove {
    fn name(&self) -> &'static str {
        "box"
    }
    fn frame(&mut self, n: usize, s: &mut Surface) -> Vec<Rect> {
        let (range_x, range_y) = (s.w - 256, s.h - 256 - 32);
        let (px, py) = ((n * 14) % (2 * range_x), (n * 9) % (2 * range_y));
        let x = if px < range_x { px } else { 2 * range_x - px };
        let y = 32 + if py < range_y { py } else { 2 * range_y - py };
        let r = Rect {
            x,
            y,
            w: 256,
            h: 256,
        };
        let mut damage = vec![r];
        if let Some(old) = self.last {
            s.fill(old, DESKTOP);
            damage.push(old);
        }
        s.draw(r, &self.box_px);
        self.last = Some(r);
        if n == 0 {
            damage = vec![Rect {
                x: 0,
                y: 0,
                w: s.w,
                h: s.h,
            }];
        }
        // the channel sends the region: the union's bounding box is close
        let x0 = damage.iter().map(|r| r.x).min().unwrap();
        let y0 = damage.iter().map(|r| r.y).min().unwrap();
        let x1 = damage.iter().map(|r| r.x + r.w).max().unwrap();
        let y1 = damage.iter().map(|r| r.y + r.h).max().unwrap();
        vec![Rect {
            x: x0,
            y: y0,
            w: x1 - x0,
            h: y1 - y0,
        }]
    }
}

/// Full-screen photo-like frames panning over a larger texture.
struct Photo {
    tex: Vec<u32>,
    tw: usize,
    th: usize,
}

impl Photo {
    fn new(w: usize, h: usize, rng: &mut impl Rng) -> Self {
        let (tw, th) = (w + 384, h + 216);
        let ph: Vec<f64> = (0..6)
            .map(|_| rng.gen_range(0.0..std::f64::consts::TAU))
            .collect();
        let mut tex = Vec::with_capacity(tw * th);
        for y in 0..th {
            for x in 0..tw {
                let grain = rng.gen_range(-5..6) as f64;
                let c = |i: usize, base: f64| {
                    let (xf, yf) = (x as f64, y as f64);
                    let v = base
                        + 60.0 * (xf * (0.004 + 0.002 * i as f64) + ph[i]).sin()
                        + 25.0 * (xf * 0.021 + ph[i + 3]).sin()
                        + 55.0 * (yf * (0.005 + 0.0015 * i as f64) + ph[5 - i]).cos()
                        + 20.0 * (yf * 0.027 + ph[i]).sin()
                        + grain;
                    v.clamp(0.0, 255.0) as u32
                };
                tex.push(c(0, 128.0) | c(1, 120.0) << 8 | c(2, 132.0) << 16);
            }
        }
        Photo { tex, tw, th }
    }
}

impl Workload for Photo {
    fn name(&self) -> &'static str {
        "photo"
    }
    fn frame(&mut self, n: usize, s: &mut Surface) -> Vec<Rect> {
        let (max_x, max_y) = (self.tw - s.w, self.th - s.h);
        let ox = ((max_x / 2) as f64 * (1.0 + (n as f64 * 0.05).sin())) as usize;
        let oy = ((max_y / 2) as f64 * (1.0 + (n as f64 * 0.037).sin())) as usize;
        let (ox, oy) = (ox.min(max_x), oy.min(max_y));
        for y in 0..s.h {
            let from = (oy + y) * self.tw + ox;
            s.px[y * s.w..][..s.w].copy_from_slice(&self.tex[from..][..s.w]);
        }
        vec![Rect {
            x: 0,
            y: 0,
            w: s.w,
            h: s.h,
        }]
    }
}

fn workloads(w: usize, h: usize) -> Vec<Box<dyn Workload>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let font = make_font(&mut rng);
    let (cw, ch) = (w / 3, (h - 40) / 2);
    let windows = (0..6)
        .map(|i| Rect {
            x: (i % 3) * cw + 20,
            y: 40 + (i / 3) * ch + 20,
            w: cw - 40,
            h: ch - 40,
        })
        .collect();
    let doc = Rect {
        x: w / 6,
        y: 40,
        w: w * 2 / 3,
        h: (h - 80) / LINE_H * LINE_H,
    };
    let mut box_px = Vec::with_capacity(256 * 256);
    for y in 0..256u32 {
        for x in 0..256u32 {
            let border = x < 4 || y < 4 || x >= 252 || y >= 252;
            let check = ((x / 32) + (y / 32)) % 2 == 1;
            box_px.push(if border {
                0xf0f0f0
            } else {
                x << 16 | y << 8 | if check { 0xc0 } else { 0x40 }
            });
        }
    }
    vec![
        Box::new(Photo::new(w, h, &mut rng)),
        Box::new(Text {
            font: font.clone(),
            rng: rand::rngs::StdRng::seed_from_u64(2),
            windows,
        }),
        Box::new(BoxMove { box_px, last: None }),
        Box::new(Scroll {
            font,
            rng: rand::rngs::StdRng::seed_from_u64(3),
            doc,
        }),
    ]
}

/// A band of x8r8g8b8 bytes as the codecs take it.
fn rgb32(width: u32, height: u32, bytes: &[u8]) -> Pixels<'_> {
    Pixels {
        kind: ImageType::Rgb32,
        width,
        height,
        stride: width as usize * 4,
        data: bytes,
    }
}

/// A codec: encodes a band of x8r8g8b8 bytes, returns the bytes on the
/// wire (the image data, not the descriptor).
trait Codec {
    fn name(&self) -> &'static str;
    fn encode(&mut self, width: u32, height: u32, bytes: &[u8]) -> usize;
    /// The first screen is out (the display channel sends it whole).
    fn first_screen_sent(&mut self) {}
}

struct Raw;
impl Codec for Raw {
    fn name(&self) -> &'static str {
        "raw"
    }
    fn encode(&mut self, _: u32, _: u32, bytes: &[u8]) -> usize {
        bytes.len()
    }
}

struct Lz4;
impl Codec for Lz4 {
    fn name(&self) -> &'static str {
        "lz4-24"
    }
    fn encode(&mut self, _: u32, _: u32, bytes: &[u8]) -> usize {
        let packed: Vec<u8> = bytes
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        lz4_flex::block::compress(&packed).len() + 6
    }
}

struct Lz(LzEncoder, Vec<u8>);
impl Codec for Lz {
    fn name(&self) -> &'static str {
        "lz"
    }
    fn encode(&mut self, width: u32, height: u32, bytes: &[u8]) -> usize {
        self.1.clear();
        let image = rgb32(width, height, bytes);
        self.0.encode(&image, &mut self.1).unwrap();
        // the channel sends a bitmap where LZ does not shrink
        self.1.len().min(bytes.len())
    }
}

/// GLZ with spice-gtk's default window (12 MiB of pixels); images it
/// cannot take (larger than the window) go as LZ, as in the channel.
struct Glz(GlzDictionary, LzEncoder, Vec<u8>);
impl Codec for Glz {
    fn name(&self) -> &'static str {
        "glz"
    }
    fn encode(&mut self, width: u32, height: u32, bytes: &[u8]) -> usize {
        self.2.clear();
        let image = rgb32(width, height, bytes);
        match self.0.encode(&image, &mut self.2) {
            Ok(id) if self.2.len() >= bytes.len() => {
                // a bitmap goes instead; the image leaves the dictionary
                self.0.forget(id);
                bytes.len()
            }
            Ok(_) => self.2.len(),
            Err(_) => {
                self.2.clear();
                self.1.encode(&image, &mut self.2).unwrap();
                self.2.len().min(bytes.len())
            }
        }
    }
}

impl Glz {
    fn new() -> Self {
        Glz(
            GlzDictionary::new(12 << 20 >> 2),
            LzEncoder::new(),
            Vec::new(),
        )
    }
}

/// What `auto` sends: GLZ while its dictionary pays, LZ for a while when
/// it does not ([`WindowPays`]).
struct GlzOrLz(Glz, WindowPays, Vec<u8>, bool);
impl Codec for GlzOrLz {
    fn name(&self) -> &'static str {
        "auto"
    }
    fn first_screen_sent(&mut self) {
        self.3 = true;
    }
    fn encode(&mut self, width: u32, height: u32, bytes: &[u8]) -> usize {
        if self.1.use_glz() {
            let n = self.0.encode(width, height, bytes);
            // The first screen has nothing to copy from: not a test of
            // the window.
            if self.3 {
                self.1.coded(self.0 .0.last_copies());
            }
            return n;
        }
        self.2.clear();
        let image = rgb32(width, height, bytes);
        self.0 .1.encode(&image, &mut self.2).unwrap();
        self.2.len().min(bytes.len())
    }
}

/// GLZ wrapped in zlib at spice-server's level, where that saves bytes (as
/// the display channel sends it on slow links).
struct ZlibGlz(Glz);
impl Codec for ZlibGlz {
    fn name(&self) -> &'static str {
        "zlib-glz"
    }
    fn encode(&mut self, width: u32, height: u32, bytes: &[u8]) -> usize {
        let n = self.0.encode(width, height, bytes);
        if n != self.0 .2.len() {
            // A bitmap or LZ went instead of GLZ.
            return n;
        }
        match zlib::wrap(&self.0 .2, zlib::DEFAULT_LEVEL).unwrap() {
            Some(wrapped) => wrapped.len() + 4,
            None => n,
        }
    }
}

/// QUIC; a bitmap where it does not shrink.
struct Quic;
impl Codec for Quic {
    fn name(&self) -> &'static str {
        "quic"
    }
    fn encode(&mut self, width: u32, height: u32, bytes: &[u8]) -> usize {
        let encoded = quic::encode(
            quic::ImageType::Rgb32,
            width,
            height,
            width as usize * 4,
            bytes,
        )
        .unwrap();
        encoded.len().min(bytes.len())
    }
}

/// JPEG (lossy) at a quality.
struct Jpeg(JpegEncoder, u8, &'static str, Vec<u8>);
impl Codec for Jpeg {
    fn name(&self) -> &'static str {
        self.2
    }
    fn encode(&mut self, width: u32, height: u32, bytes: &[u8]) -> usize {
        self.3.clear();
        let image = rgb32(width, height, bytes);
        self.0.encode(&image, self.1, &mut self.3).unwrap();
        self.3.len()
    }
}

fn codecs() -> Vec<Box<dyn Codec>> {
    let jpeg =
        |quality, name| Box::new(Jpeg(JpegEncoder::new().unwrap(), quality, name, Vec::new()));
    vec![
        Box::new(Raw),
        Box::new(Lz4),
        Box::new(Lz(LzEncoder::new(), Vec::new())),
        Box::new(Glz::new()),
        Box::new(GlzOrLz(
            Glz::new(),
            WindowPays::default(),
            Vec::new(),
            false,
        )),
        Box::new(ZlibGlz(Glz::new())),
        Box::new(Quic),
        jpeg(95, "jpeg95"),
        jpeg(85, "jpeg85"),
        jpeg(50, "jpeg50"),
    ]
}

/// CPU time this thread has run: wall time would count the time others'
/// load on the shared machine takes from us. CLOCK_THREAD_CPUTIME_ID, not
/// /proc's schedstat, which moves only at scheduler ticks (milliseconds).
fn cpu_time() -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

struct Totals {
    input: usize,
    output: usize,
    time: Duration,
}

fn measure(
    w: usize,
    h: usize,
    frames: usize,
    runs: usize,
) -> Vec<(String, Vec<(&'static str, Totals)>)> {
    let mut results = Vec::new();
    for mut wl in workloads(w, h) {
        let mut surface = Surface::new(w, h);
        let mut bands = Vec::new();
        let mut first_screen = 0;
        for n in 0..frames {
            if n == 1 {
                first_screen = bands.len();
            }
            for r in wl.frame(n, &mut surface) {
                for band in surface.bands(r) {
                    // one colour goes as DRAW_FILL, no image
                    if !band.2.chunks_exact(4).all(|p| p[..3] == band.2[..3]) {
                        bands.push(band);
                    }
                }
            }
        }
        let mut rows: Vec<(&'static str, Totals)> = Vec::new();
        // The best of `runs` passes, each with fresh codecs (GLZ's
        // dictionary starts empty): the machine may be busy.
        for _ in 0..runs {
            for (i, mut codec) in codecs().into_iter().enumerate() {
                let (start, cpu_start) = (Instant::now(), cpu_time());
                let mut totals = Totals {
                    input: 0,
                    output: 0,
                    time: Duration::ZERO,
                };
                for (i, (bw, bh, bytes)) in bands.iter().enumerate() {
                    if i == first_screen {
                        codec.first_screen_sent();
                    }
                    totals.input += bytes.len();
                    totals.output += codec.encode(*bw, *bh, bytes);
                }
                totals.time = match (cpu_start, cpu_time()) {
                    (Some(a), Some(b)) => b - a,
                    _ => start.elapsed(),
                };
                match rows.get_mut(i) {
                    Some((_, best)) => best.time = best.time.min(totals.time),
                    None => rows.push((codec.name(), totals)),
                }
            }
        }
        results.push((wl.name().to_string(), rows));
    }
    results
}

#[test]
fn harness_runs_on_small_frames() {
    for (name, rows) in measure(640, 480, 2, 1) {
        let raw = rows[0].1.output;
        assert!(raw > 0, "{name}");
        for (codec, t) in &rows {
            assert!(t.output <= t.input + t.input / 8 + 64, "{name} {codec}");
        }
    }
}

#[test]
#[ignore = "figures for the report: run in release mode"]
fn codec_ratios() {
    let (w, h, frames) = (1280, 720, 30);
    println!("{w}x{h}, {frames} frames per workload; ratio = raw 32-bit bytes / encoded bytes;");
    println!("MB/s of raw 32-bit input per CPU second, best of 5 passes; jpeg is lossy");
    println!(
        "{:<8} {:<8} {:>12} {:>8} {:>10}",
        "workload", "codec", "bytes", "ratio", "MB/s"
    );
    for (name, rows) in measure(w, h, frames, 5) {
        for (codec, t) in rows {
            let mbs = if codec == "raw" {
                "-".to_string()
            } else {
                format!(
                    "{:.0}",
                    t.input as f64 / 1e6 / t.time.as_secs_f64().max(1e-9)
                )
            };
            println!(
                "{name:<8} {codec:<8} {:>12} {:>8.2} {mbs:>10}",
                t.output,
                t.input as f64 / t.output.max(1) as f64,
            );
        }
    }
}
