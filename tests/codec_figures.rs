//! Throughput and compression of the lossless image codecs on the kinds of
//! frames the benchmark workloads draw (`benches/workload.c`): photo-like
//! (smooth waves and grain) and text/UI (windows of text on a desktop).
//! Frames are cut into the bands the display channel sends (at most
//! 65536 pixels each) and each band is coded as `send_next` codes it.
//!
//! Ignored: the figures only mean something in release mode:
//! `cargo test --release --test codec_figures -- --ignored --nocapture`

use std::time::{Duration, Instant};

use redspice::display::codecs::quic;

const WIDTH: usize = 1280;
const HEIGHT: usize = 720;
const BAND_PIXELS: usize = 256 * 256;

/// xorshift64*: the frames are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn put(frame: &mut [u8], x: usize, y: usize, rgb: u32) {
    let p = (y * WIDTH + x) * 4;
    frame[p..p + 4].copy_from_slice(&[rgb as u8, (rgb >> 8) as u8, (rgb >> 16) as u8, 0]);
}

/// The photo workload's texture: per-channel low-frequency waves along x
/// and y, plus grain of -5..5 on all three channels.
fn photo(seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed);
    let ph: Vec<f64> = (0..6).map(|_| rng.below(6283) as f64 / 1000.0).collect();
    let mut frame = vec![0u8; WIDTH * HEIGHT * 4];
    for y in 0..HEIGHT {
        for x in 0..WIDTH {
            let grain = rng.below(11) as f64 - 5.0;
            let (xf, yf) = (x as f64, y as f64);
            let mut rgb = 0u32;
            for (c, base) in [128.0, 120.0, 132.0].into_iter().enumerate() {
                let k = c as f64;
                let col = 60.0 * (xf * (0.004 + 0.002 * k) + ph[c]).sin()
                    + 25.0 * (xf * 0.021 + ph[c + 3]).sin();
                let row = 55.0 * (yf * (0.005 + 0.0015 * k) + ph[5 - c]).cos()
                    + 20.0 * (yf * 0.027 + ph[c]).sin();
                let v = (base + col + row + grain).clamp(0.0, 255.0) as u32;
                rgb |= v << (8 * c);
            }
            put(&mut frame, x, y, rgb);
        }
    }
    frame
}

/// A desktop with windows: title bars, white paper, lines of 8x16 glyphs
/// (random strokes with a grey anti-aliased edge), as the text workload.
fn text(seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed);
    let mut glyphs = vec![[[0u8; 8]; 16]; 96];
    for g in glyphs.iter_mut().skip(1) {
        let (top, bottom) = (
            if rng.below(2) == 0 { 2 } else { 6 },
            12 + 3 * (rng.below(4) == 0) as usize,
        );
        for _ in 0..2 + rng.below(3) {
            if rng.below(2) == 0 {
                let x = 1 + rng.below(5) as usize;
                (top..bottom).for_each(|y| g[y][x] = 255);
            } else {
                let y = top + rng.below((bottom - top) as u64) as usize;
                (1..6).for_each(|x| g[y][x] = 255);
            }
        }
        for row in g.iter_mut() {
            for x in 0..7 {
                if row[x] == 255 && row[x + 1] == 0 {
                    row[x + 1] = 96;
                }
            }
        }
    }
    let mut frame = vec![0u8; WIDTH * HEIGHT * 4];
    (0..HEIGHT).for_each(|y| (0..WIDTH).for_each(|x| put(&mut frame, x, y, 0x2e3440)));
    for _ in 0..6 {
        let (w, h) = (300 + rng.below(500) as usize, 200 + rng.below(300) as usize);
        let (x0, y0) = (
            rng.below((WIDTH - w) as u64) as usize,
            rng.below((HEIGHT - h) as u64) as usize,
        );
        for y in y0..y0 + h {
            for x in x0..x0 + w {
                put(
                    &mut frame,
                    x,
                    y,
                    if y < y0 + 24 { 0x4c566a } else { 0xffffff },
                );
            }
        }
        for ly in (y0 + 28..y0 + h - 16).step_by(18) {
            let end = x0 + w - 8 - rng.below(w as u64 / 3) as usize;
            let mut x = x0 + 6;
            while x + 8 <= end {
                for _ in 0..2 + rng.below(8) {
                    if x + 8 > end {
                        break;
                    }
                    let g = &glyphs[1 + rng.below(95) as usize];
                    for (gy, row) in g.iter().enumerate() {
                        for (gx, &ink) in row.iter().enumerate() {
                            if ink > 0 {
                                let v = 255 - u32::from(ink) * (255 - 0x20) / 255;
                                put(&mut frame, x + gx, ly + gy, v << 16 | v << 8 | v);
                            }
                        }
                    }
                    x += 8;
                }
                x += 8;
            }
        }
    }
    frame
}

/// The bands `send_next` cuts a full-frame update into.
fn bands(frame: &[u8]) -> Vec<(u32, &[u8])> {
    let rows = BAND_PIXELS / WIDTH;
    frame
        .chunks(rows * WIDTH * 4)
        .map(|b| ((b.len() / (WIDTH * 4)) as u32, b))
        .collect()
}

fn lz4_24(band: &[u8]) -> usize {
    let packed: Vec<u8> = band
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    lz4_flex::block::compress(&packed).len()
}

fn quic_32(rows: u32, band: &[u8]) -> usize {
    quic::encode(quic::ImageType::Rgb32, WIDTH as u32, rows, WIDTH * 4, band)
        .expect("valid band")
        .len()
}

/// CPU time this thread has run, from the scheduler (wall time would
/// count the time others' load on the shared machine takes from us).
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Bytes out for one frame, and input MB per second of CPU time.
fn measure(frame: &[u8], code: impl Fn(u32, &[u8]) -> usize) -> (usize, f64) {
    let bands = bands(frame);
    let once = || bands.iter().map(|&(rows, b)| code(rows, b)).sum::<usize>();
    let bytes = once();
    let (wall, cpu) = (Instant::now(), cpu_time());
    let mut runs = 0;
    while wall.elapsed() < Duration::from_secs(1) || runs < 3 {
        std::hint::black_box(once());
        runs += 1;
    }
    let spent = match (cpu, cpu_time()) {
        (Some(a), Some(b)) => b - a,
        _ => wall.elapsed(),
    };
    (
        bytes,
        (frame.len() * runs) as f64 / spent.as_secs_f64() / 1e6,
    )
}

#[test]
#[ignore]
fn codec_figures() {
    println!("{WIDTH}x{HEIGHT} frames in {BAND_PIXELS}-pixel bands");
    println!("ratio: 32-bit raw bytes / coded bytes; MB/s: raw input per CPU second");
    println!(
        "{:<6} {:<9} {:>10} {:>7} {:>9}",
        "frame", "codec", "bytes", "ratio", "MB/s"
    );
    for (name, frame) in [("photo", photo(1)), ("text", text(2))] {
        let raw = frame.len();
        let rows: [(&str, (usize, f64)); 3] = [
            ("raw", (raw, f64::NAN)),
            ("lz4 24", measure(&frame, |_, b| lz4_24(b))),
            ("quic", measure(&frame, quic_32)),
        ];
        for (codec, (bytes, speed)) in rows {
            println!(
                "{name:<6} {codec:<9} {bytes:>10} {:>7.2} {:>9.0}",
                raw as f64 / bytes as f64,
                speed
            );
        }
    }
}
