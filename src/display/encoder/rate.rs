//! Rate models: the frame rate and bitrate an encoder starts with, how a
//! bitrate becomes each encoder's setting, and MJPEG's rate control
//! (libjpeg-turbo has a quality, not a bitrate).

use super::codec::VideoCodec;

/// The frame rate assumed when the caller has no hint.
const DEFAULT_FPS: u32 = 30;
/// The highest frame rate an encoder is set up for.
const MAX_FPS: u32 = 240;

/// Default bitrate of the video codecs: a quarter bit per pixel (1.7 Mbit/s
/// at 640x360, 30 fps), within the bounds below.
const VIDEO_PIXELS_PER_BIT: u64 = 4;
const VIDEO_MIN_DEFAULT_BITRATE: u64 = 256_000;
const VIDEO_MAX_DEFAULT_BITRATE: u64 = 20_000_000;
/// Default bitrate of MJPEG: 1 bit per pixel, about JPEG quality 75 on
/// typical pictures.
const MJPEG_PIXELS_PER_BIT: u64 = 1;

/// The lowest bitrate (bit/s) given to vp8enc/vp9enc: libvpx takes kbit/s,
/// and less would round to 0.
const VPX_MIN_BITRATE: u64 = 1000;
/// x264enc's largest `bitrate` (kbit/s), the property's own bound.
const X264_MAX_KBPS: u64 = 2_048_000;

/// The JPEG qualities MJPEG uses (libjpeg-turbo takes 1..=100): the ends of the
/// bitrate → quality curve and the bounds of its rate control.
const JPEG_QUALITY_MIN: i32 = 10;
const JPEG_QUALITY_MAX: i32 = 95;

/// The frame rate for a caller's hint (0: no hint).
pub(super) fn frame_rate(fps_hint: u32) -> u32 {
    if fps_hint == 0 {
        DEFAULT_FPS
    } else {
        fps_hint.min(MAX_FPS)
    }
}

/// The bitrate used when the caller gives 0 (see the constants above).
pub(super) fn default_bitrate(codec: VideoCodec, width: u32, height: u32, fps: u32) -> u64 {
    let pixels_per_second = width as u64 * height as u64 * fps as u64;
    match codec {
        VideoCodec::Mjpeg => pixels_per_second / MJPEG_PIXELS_PER_BIT,
        _ => (pixels_per_second / VIDEO_PIXELS_PER_BIT)
            .clamp(VIDEO_MIN_DEFAULT_BITRATE, VIDEO_MAX_DEFAULT_BITRATE),
    }
}

/// The bits one frame may have at `bitrate` and `fps`.
pub(super) fn bits_per_frame(bitrate: u64, fps: u32) -> f64 {
    bitrate as f64 / f64::from(fps.max(1))
}

/// The encoder property that carries the rate, and its value: the bitrate
/// for the video codecs, `jpeg_quality` (from [`JpegRate`]) for MJPEG.
pub(super) fn rate_property(
    codec: VideoCodec,
    bitrate: u64,
    jpeg_quality: i32,
) -> (&'static str, String) {
    match codec {
        VideoCodec::Mjpeg => ("quality", jpeg_quality.to_string()),
        VideoCodec::Vp8 | VideoCodec::Vp9 => {
            let bps = bitrate.clamp(VPX_MIN_BITRATE, i32::MAX as u64);
            ("target-bitrate", bps.to_string())
        }
        VideoCodec::H264 => {
            let kbps = (bitrate / 1000).clamp(1, X264_MAX_KBPS);
            ("bitrate", kbps.to_string())
        }
    }
}

/// A JPEG quality (`JPEG_QUALITY_MIN..=JPEG_QUALITY_MAX`) for a bitrate:
/// bits per pixel mapped through typical 4:2:0 JPEG sizes of natural images
/// (quality 50 ≈ 0.7 bpp, 75 ≈ 1 bpp, 90 ≈ 2 bpp), interpolated in log
/// scale.
pub(super) fn jpeg_quality(bitrate: u64, width: u32, height: u32, fps: u32) -> i32 {
    const TABLE: [(f64, f64); 6] = [
        (0.25, JPEG_QUALITY_MIN as f64),
        (0.45, 25.0),
        (0.7, 50.0),
        (1.0, 75.0),
        (2.0, 90.0),
        (4.0, JPEG_QUALITY_MAX as f64),
    ];
    let pixels = (width as f64 * height as f64 * fps.max(1) as f64).max(1.0);
    let bpp = (bitrate as f64 / pixels).max(1e-6).log2();
    let (first, last) = (TABLE[0], TABLE[TABLE.len() - 1]);
    if bpp <= first.0.log2() {
        return first.1 as i32;
    }
    if bpp >= last.0.log2() {
        return last.1 as i32;
    }
    for pair in TABLE.windows(2) {
        let (x0, y0) = (pair[0].0.log2(), pair[0].1);
        let (x1, y1) = (pair[1].0.log2(), pair[1].1);
        if bpp <= x1 {
            return (y0 + (y1 - y0) * (bpp - x0) / (x1 - x0)).round() as i32;
        }
    }
    last.1 as i32
}

/// Rate control for MJPEG, which has none of its own: libjpeg-turbo takes a
/// quality, and the bytes a quality gives depend on the picture (grain and
/// detail cost several times what smooth areas do). After each frame the
/// quality moves towards the one whose frames fit the bitrate; JPEG frames
/// do not depend on each other, so the next frame follows at once.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct JpegRate {
    quality: i32,
    /// Recent frame sizes in bits, smoothed; None after a change.
    average_bits: Option<f64>,
}

impl JpegRate {
    pub(super) fn new(quality: i32) -> JpegRate {
        JpegRate {
            quality: quality.clamp(JPEG_QUALITY_MIN, JPEG_QUALITY_MAX),
            average_bits: None,
        }
    }

    /// The quality for the next frame.
    pub(super) fn quality(&self) -> i32 {
        self.quality
    }

    /// Takes the size of the frame just encoded and the bits a frame may
    /// have; returns the quality for the next frames if it changes.
    pub(super) fn frame_done(&mut self, frame_bytes: usize, target_bits: f64) -> Option<i32> {
        let bits = frame_bytes as f64 * 8.0;
        let average = match self.average_bits {
            Some(a) => a * 0.7 + bits * 0.3,
            None => bits,
        };
        self.average_bits = Some(average);
        let ratio = average / target_bits.max(1.0);
        // A band around the target keeps the quality from flickering.
        let step = if ratio > 2.0 {
            -8
        } else if ratio > 1.4 {
            -4
        } else if ratio > 1.15 {
            -2
        } else if ratio < 0.5 {
            4
        } else if ratio < 0.85 {
            2
        } else {
            0
        };
        let quality = (self.quality + step).clamp(JPEG_QUALITY_MIN, JPEG_QUALITY_MAX);
        if quality == self.quality {
            return None;
        }
        self.quality = quality;
        self.average_bits = None;
        Some(quality)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_rate_steers_the_quality_to_the_target() {
        let mut rate = JpegRate::new(75);
        // frames three times too large: big steps down
        assert_eq!(rate.frame_done(3000, 8000.0), Some(67));
        // within 15 % of the target: no change
        assert_eq!(rate.frame_done(1050, 8000.0), None);
        assert_eq!(rate.quality, 67);
        // far too small: up, never past the maximum
        let mut rate = JpegRate::new(94);
        assert_eq!(rate.frame_done(100, 8000.0), Some(95));
        assert_eq!(rate.frame_done(100, 8000.0), None);
        // never below the minimum
        let mut rate = JpegRate::new(12);
        assert_eq!(rate.frame_done(100_000, 8000.0), Some(10));
        assert_eq!(rate.frame_done(100_000, 8000.0), None);
    }

    #[test]
    fn jpeg_rate_converges_on_a_size_model() {
        // a picture whose frames grow with the quality like real JPEGs do
        let size = |q: i32| (200.0 * 1.05f64.powi(q)) as usize;
        let target = 8.0 * size(60) as f64;
        let mut rate = JpegRate::new(90);
        for _ in 0..40 {
            rate.frame_done(size(rate.quality), target);
        }
        assert!(
            (55..=65).contains(&rate.quality),
            "quality {}",
            rate.quality
        );
    }

    #[test]
    fn jpeg_quality_curve() {
        assert_eq!(jpeg_quality(0, 100, 100, 30), 10);
        assert_eq!(jpeg_quality(300_000, 100, 100, 30), 75);
        assert_eq!(jpeg_quality(u64::MAX, 100, 100, 30), 95);
        let mut last = 0;
        for bps in (1..100).map(|i| i * 100_000u64) {
            let q = jpeg_quality(bps, 320, 240, 30);
            assert!(q >= last);
            last = q;
        }
    }
}
