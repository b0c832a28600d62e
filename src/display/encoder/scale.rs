//! Half-size MJPEG frames for links too slow for the full size: the 2x2
//! box filter that makes them, and the rule that decides when a stream's
//! frames go at half size.
//!
//! A JPEG starved of bits turns to 8x8 blocks; the same bits spent on a
//! quarter of the pixels keep the picture's shapes, and spice-gtk scales
//! the decoded frame back to the stream's area (nearest neighbour,
//! `canvas_put_image` in spice-common's `sw_canvas.c`). Whether the half
//! size wins depends on the picture: on smooth video-like frames it wins
//! in PSNR from about 0.45 bits per pixel down (full-size quality 60), on
//! a sharp photo only where the full size cannot meet the budget even at
//! the lowest quality. The rule follows the quality the rate control
//! finds for the picture, which tells one from the other: at quality
//! [`HALVE_AT_QUALITY`] or below, half size; figures in
//! `docs/image-choice.md` ("Half-size MJPEG frames").

/// At or below this full-size quality (held for [`HOLD_FRAMES`]), frames
/// go at half size: at the budget of that quality the half size won by 3.8
/// and 8.9 dB on the smooth frames and lost 2.5 dB on the sharp photo,
/// whose full-size frames there are blocks all the same.
pub(super) const HALVE_AT_QUALITY: i32 = 15;

/// At or above this half-size quality (held for [`HOLD_FRAMES`]), frames go
/// at full size again: the budget that buys it buys the full size quality
/// 20 or more on every measured frame, above [`HALVE_AT_QUALITY`], so the
/// size does not flip back and forth.
pub(super) const FULL_AT_QUALITY: i32 = 90;

/// Frames a quality must hold before the size changes: the rate control
/// moves by up to 8 per frame and needs a few frames to settle after each
/// change (a third of a second at 30 fps).
pub(super) const HOLD_FRAMES: u32 = 10;

/// The size of `width`×`height` halved, odd sizes rounded up (the last
/// column or row averages one pixel, not two).
pub fn half_size(width: u32, height: u32) -> (u32, u32) {
    (width.div_ceil(2), height.div_ceil(2))
}

/// `width`×`height` x8r8g8b8 pixels (rows `stride` bytes apart) halved in
/// each direction by a 2x2 box filter: each output pixel is the rounded
/// mean of up to four input pixels. Rows of the result are packed. `None`
/// when `bgrx` is too short for the size.
pub fn halve_bgrx(bgrx: &[u8], stride: usize, width: u32, height: u32) -> Option<Vec<u8>> {
    let (w, h) = (width as usize, height as usize);
    if w == 0 || h == 0 {
        return Some(Vec::new());
    }
    let row = w.checked_mul(4)?;
    if stride < row || bgrx.len() < stride.checked_mul(h - 1)?.checked_add(row)? {
        return None;
    }
    let (half_w, half_h) = half_size(width, height);
    let (half_w, half_h) = (half_w as usize, half_h as usize);
    let mut out = vec![0u8; half_w * half_h * 4];
    for (oy, out_row) in out.chunks_exact_mut(half_w * 4).enumerate() {
        let top = &bgrx[2 * oy * stride..2 * oy * stride + row];
        // An odd last row averages with itself.
        let bottom = if 2 * oy + 1 < h {
            &bgrx[(2 * oy + 1) * stride..(2 * oy + 1) * stride + row]
        } else {
            top
        };
        for (ox, px) in out_row.chunks_exact_mut(4).enumerate() {
            let left = 8 * ox;
            // An odd last column averages with itself.
            let right = if 2 * ox + 1 < w { left + 4 } else { left };
            for c in 0..4 {
                let sum = u16::from(top[left + c])
                    + u16::from(top[right + c])
                    + u16::from(bottom[left + c])
                    + u16::from(bottom[right + c]);
                px[c] = ((sum + 2) / 4) as u8;
            }
        }
    }
    Some(out)
}

/// Whether a stream's frames go at full or half size, from the quality
/// the rate control wants, with hysteresis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SizeChoice {
    halved: bool,
    /// Frames in a row whose quality calls for the other size.
    streak: u32,
}

impl SizeChoice {
    /// Frames start at full size.
    pub(super) fn new() -> SizeChoice {
        SizeChoice {
            halved: false,
            streak: 0,
        }
    }

    /// Whether frames go at half size now.
    pub(super) fn halved(&self) -> bool {
        self.halved
    }

    /// Takes the quality the rate control wants for the next frame at the
    /// current size; returns the new choice when it changes (true: half
    /// size).
    pub(super) fn update(&mut self, quality: i32) -> Option<bool> {
        let other = if self.halved {
            quality >= FULL_AT_QUALITY
        } else {
            quality <= HALVE_AT_QUALITY
        };
        self.streak = if other { self.streak + 1 } else { 0 };
        if self.streak < HOLD_FRAMES {
            return None;
        }
        self.halved = !self.halved;
        self.streak = 0;
        Some(self.halved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn px(b: u8, g: u8, r: u8) -> [u8; 4] {
        [b, g, r, 0]
    }

    #[test]
    fn a_2x2_block_becomes_its_mean() {
        let mut src = Vec::new();
        src.extend(px(0, 10, 255));
        src.extend(px(4, 20, 255));
        src.extend(px(8, 30, 0));
        src.extend(px(12, 41, 0));
        // 2x2 packed, as two rows of 8 bytes
        let out = halve_bgrx(&src, 8, 2, 2).unwrap();
        // 24/4 = 6, 101/4 = 25.25 -> 25, 510/4 = 127.5 -> 128 (rounded)
        assert_eq!(out, px(6, 25, 128));
    }

    #[test]
    fn odd_sizes_round_up_and_average_what_is_there() {
        // 3x3 of increasing values; stride with 4 bytes of padding
        let stride = 3 * 4 + 4;
        let mut src = vec![0xEEu8; stride * 3];
        for y in 0..3 {
            for x in 0..3 {
                let v = (y * 3 + x) as u8 * 10;
                src[y * stride + x * 4..y * stride + x * 4 + 4].copy_from_slice(&px(v, v, v));
            }
        }
        assert_eq!(half_size(3, 3), (2, 2));
        let out = halve_bgrx(&src, stride, 3, 3).unwrap();
        assert_eq!(out.len(), 2 * 2 * 4);
        // top-left: (0 + 10 + 30 + 40) / 4 = 20
        assert_eq!(&out[0..3], &[20, 20, 20]);
        // top-right: the last column with itself: (20 + 20 + 50 + 50) / 4 = 35
        assert_eq!(&out[4..7], &[35, 35, 35]);
        // bottom-left: the last row with itself: (60 + 70 + 60 + 70) / 4 = 65
        assert_eq!(&out[8..11], &[65, 65, 65]);
        // bottom-right: one pixel alone
        assert_eq!(&out[12..15], &[80, 80, 80]);
        // the padding never leaks in
        assert!(!out.contains(&0xEE));
    }

    #[test]
    fn a_flat_picture_stays_flat() {
        let (w, h) = (17u32, 9u32);
        let src: Vec<u8> = (0..w * h).flat_map(|_| px(1, 2, 3)).collect();
        let out = halve_bgrx(&src, w as usize * 4, w, h).unwrap();
        assert_eq!(out.len(), 9 * 5 * 4);
        assert!(out.chunks_exact(4).all(|p| p == px(1, 2, 3)));
    }

    #[test]
    fn short_buffers_are_refused() {
        assert_eq!(halve_bgrx(&[0; 15], 8, 2, 2), None);
        assert_eq!(halve_bgrx(&[0; 16], 4, 2, 2), None);
        assert_eq!(halve_bgrx(&[], 0, 0, 5), Some(Vec::new()));
    }

    #[test]
    fn the_size_follows_the_quality_with_hysteresis() {
        let mut choice = SizeChoice::new();
        assert!(!choice.halved());
        // a low quality for fewer than HOLD_FRAMES frames changes nothing
        for _ in 1..HOLD_FRAMES {
            assert_eq!(choice.update(HALVE_AT_QUALITY), None);
        }
        assert_eq!(choice.update(HALVE_AT_QUALITY + 1), None);
        for _ in 1..HOLD_FRAMES {
            assert_eq!(choice.update(10), None);
        }
        assert_eq!(choice.update(10), Some(true));
        assert!(choice.halved());
        // at half size, qualities between the thresholds keep it
        for q in [HALVE_AT_QUALITY + 1, 50, FULL_AT_QUALITY - 1].repeat(HOLD_FRAMES as usize) {
            assert_eq!(choice.update(q), None);
        }
        for _ in 1..HOLD_FRAMES {
            assert_eq!(choice.update(FULL_AT_QUALITY), None);
        }
        assert_eq!(choice.update(95), Some(false));
        // and at full size they keep the full size
        for q in [HALVE_AT_QUALITY + 1, FULL_AT_QUALITY].repeat(HOLD_FRAMES as usize) {
            assert_eq!(choice.update(q), None);
        }
        assert!(!choice.halved());
    }

    /// The streaming test's frame (`frame_pixels(0)` in
    /// `tests/python/test_streaming.py`): smooth sine gradients.
    fn streaming_frame(w: usize, h: usize, n: usize) -> Vec<u8> {
        let wave = |v: usize, div: f64| (127.0 + 120.0 * (v as f64 / div).sin()) as i32 as u8;
        let mut out = vec![0u8; w * h * 4];
        for y in 0..h {
            for x in 0..w {
                let i = (y * w + x) * 4;
                out[i] = wave(x + y + n * 5, 41.0);
                out[i + 1] = wave(y + n * 4, 37.0);
                out[i + 2] = wave(x + n * 6, 53.0);
            }
        }
        out
    }

    /// `photo_pixels` of `tests/python/test_lossy_link.py` (its grain from
    /// another generator): colour waves with ±6 of grain.
    fn grainy_frame(w: usize, h: usize) -> Vec<u8> {
        let mut seed = 11u32;
        let mut grain = || {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            ((seed >> 16) % 13) as i32 - 6
        };
        let (fx, fy) = (29.0, 33.0);
        let mut out = vec![0u8; w * h * 4];
        for y in 0..h {
            for x in 0..w {
                let i = (y * w + x) * 4;
                let (xf, yf) = (x as f64, y as f64);
                let b = (127.0 + 100.0 * (xf / fx + yf / 53.0).sin()) as i32 + grain();
                let g = (127.0 + 100.0 * (yf / fy + 1.0).sin()) as i32 + grain();
                let r = (127.0 + 100.0 * ((xf + yf) / 61.0 + 2.0).sin()) as i32 + grain();
                out[i] = b.clamp(0, 255) as u8;
                out[i + 1] = g.clamp(0, 255) as u8;
                out[i + 2] = r.clamp(0, 255) as u8;
            }
        }
        out
    }

    fn jpeg(pixels: &[u8], w: usize, h: usize, quality: i32) -> Vec<u8> {
        let mut c = turbojpeg::Compressor::new().unwrap();
        c.set_subsamp(turbojpeg::Subsamp::Sub2x2);
        c.set_quality(quality);
        c.compress_to_vec(turbojpeg::Image {
            pixels,
            width: w,
            pitch: w * 4,
            height: h,
            format: turbojpeg::PixelFormat::BGRX,
        })
        .unwrap()
    }

    fn unjpeg(data: &[u8]) -> (usize, usize, Vec<u8>) {
        let mut d = turbojpeg::Decompressor::new().unwrap();
        let header = d.read_header(data).unwrap();
        let mut pixels = vec![0u8; header.width * header.height * 4];
        d.decompress(
            data,
            turbojpeg::Image {
                pixels: pixels.as_mut_slice(),
                width: header.width,
                pitch: header.width * 4,
                height: header.height,
                format: turbojpeg::PixelFormat::BGRX,
            },
        )
        .unwrap();
        (header.width, header.height, pixels)
    }

    /// Nearest-neighbour upscale to `w`×`h`, as spice-gtk's
    /// `canvas_put_image` (pixman, PIXMAN_FILTER_NEAREST) does.
    fn upscale_nearest(src: &[u8], sw: usize, sh: usize, w: usize, h: usize) -> Vec<u8> {
        let mut out = vec![0u8; w * h * 4];
        for y in 0..h {
            let sy = (((y as f64 + 0.5) * sh as f64 / h as f64) as usize).min(sh - 1);
            for x in 0..w {
                let sx = (((x as f64 + 0.5) * sw as f64 / w as f64) as usize).min(sw - 1);
                out[(y * w + x) * 4..][..4].copy_from_slice(&src[(sy * sw + sx) * 4..][..4]);
            }
        }
        out
    }

    fn psnr(a: &[u8], b: &[u8]) -> f64 {
        let (mut total, mut count) = (0f64, 0f64);
        for (pa, pb) in a.chunks_exact(4).zip(b.chunks_exact(4)) {
            for c in 0..3 {
                let d = f64::from(pa[c]) - f64::from(pb[c]);
                total += d * d;
                count += 1.0;
            }
        }
        10.0 * (255.0 * 255.0 / (total / count).max(1e-9)).log10()
    }

    /// (bits per full-size pixel, PSNR) for every quality 10..=95 in steps
    /// of 5, at full size and at half size upscaled.
    type Curve = Vec<(i32, f64, f64)>;
    fn curves(pixels: &[u8], w: usize, h: usize) -> (Curve, Curve) {
        let (hw, hh) = half_size(w as u32, h as u32);
        let half = halve_bgrx(pixels, w * 4, w as u32, h as u32).unwrap();
        let mut full_curve = Vec::new();
        let mut half_curve = Vec::new();
        for q in (10..=95).step_by(5) {
            let data = jpeg(pixels, w, h, q);
            let (_, _, back) = unjpeg(&data);
            full_curve.push((
                q,
                data.len() as f64 * 8.0 / (w * h) as f64,
                psnr(pixels, &back),
            ));
            let data = jpeg(&half, hw as usize, hh as usize, q);
            let (dw, dh, back) = unjpeg(&data);
            let up = upscale_nearest(&back, dw, dh, w, h);
            half_curve.push((
                q,
                data.len() as f64 * 8.0 / (w * h) as f64,
                psnr(pixels, &up),
            ));
        }
        (full_curve, half_curve)
    }

    /// The PSNR a curve reaches at `bpp` (its best point within it).
    fn psnr_within(curve: &Curve, bpp: f64) -> Option<(i32, f64)> {
        curve
            .iter()
            .filter(|(_, b, _)| *b <= bpp)
            .map(|(q, _, p)| (*q, *p))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// The figures behind [`HALVE_AT_QUALITY`]: `cargo test --lib --
    /// --ignored --nocapture half_size_figures` (a real photo is read from
    /// `REDSPICE_PHOTO`, a JPEG file, if set).
    #[test]
    #[ignore]
    fn half_size_figures() {
        let mut frames = vec![
            (
                "streaming test frame 640x360",
                streaming_frame(640, 360, 0),
                640,
                360,
            ),
            (
                "grainy photo-like 640x360",
                grainy_frame(640, 360),
                640,
                360,
            ),
        ];
        if let Ok(path) = std::env::var("REDSPICE_PHOTO") {
            let (w, h, pixels) = unjpeg(&std::fs::read(&path).unwrap());
            frames.push(("photo", pixels, w, h));
        }
        for (name, pixels, w, h) in frames {
            let (full, half) = curves(&pixels, w, h);
            println!("{name} ({w}x{h})");
            println!("  q    full bpp  PSNR    half bpp  PSNR");
            for (f, hf) in full.iter().zip(half.iter()) {
                println!(
                    "  {:2}   {:6.3}  {:5.2}    {:6.3}  {:5.2}",
                    f.0, f.1, f.2, hf.1, hf.2
                );
            }
            println!("  budget bpp: best full (q, dB) / best half (q, dB)");
            for budget in [0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.8] {
                println!(
                    "  {budget:4.2}: {:?} / {:?}",
                    psnr_within(&full, budget),
                    psnr_within(&half, budget)
                );
            }
        }
    }
}
