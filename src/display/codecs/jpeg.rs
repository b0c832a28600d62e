//! JPEG images, for photo-like areas when the link is too slow for
//! lossless ones: encoded by the system's libjpeg-turbo (through the
//! `turbojpeg` crate), decoded by spice-gtk with libjpeg (spice-common's
//! `canvas_get_jpeg`, which wants the JPEG's size to equal the image
//! descriptor's and reads it into x8r8g8b8).
//!
//! Chroma is kept whole (4:4:4) from [`FULL_CHROMA_QUALITY`] up, and
//! subsampled 4:2:0 below it as spice-server always does (libjpeg's
//! default): on a link fast enough for high quality, halving the colour
//! resolution costs more in fidelity (thin coloured lines, small images)
//! than it saves in bytes.

use super::lz::LzEncoder;
use super::{ImageError, ImageType, Pixels};

/// Quality on a link that keeps up: 40 dB PSNR and more on photographs,
/// grain included (at 90, i.i.d. grain of ±5 levels ends near 39.7 dB).
pub const FAST_LINK_QUALITY: u8 = 95;
/// The quality from which chroma is not subsampled.
pub const FULL_CHROMA_QUALITY: u8 = 85;
/// The lowest quality used on a slow link (spice-server's floor is 20 too).
pub const MIN_QUALITY: u8 = 20;
/// libjpeg's limit on each side.
pub const MAX_DIMENSION: u32 = 65_500;

/// A JPEG encoder; keeps libjpeg-turbo's compressor between images.
pub struct JpegEncoder {
    compressor: turbojpeg::Compressor,
}

impl std::fmt::Debug for JpegEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JpegEncoder")
    }
}

impl JpegEncoder {
    /// A new encoder, or an error if libjpeg-turbo cannot make one.
    pub fn new() -> Result<Self, ImageError> {
        let compressor =
            turbojpeg::Compressor::new().map_err(|e| ImageError::Library(e.to_string()))?;
        Ok(JpegEncoder { compressor })
    }

    /// Encodes `image` (RGB24 or RGB32; the alpha of RGBA is dropped) at
    /// `quality` (1–100, clamped) and appends the JPEG file to `out`.
    pub fn encode(
        &mut self,
        image: &Pixels<'_>,
        quality: u8,
        out: &mut Vec<u8>,
    ) -> Result<(), ImageError> {
        image.pixel_count()?;
        if image.width > MAX_DIMENSION || image.height > MAX_DIMENSION {
            return Err(ImageError::TooLarge);
        }
        let format = match image.kind {
            ImageType::Rgb24 => turbojpeg::PixelFormat::BGR,
            ImageType::Rgb32 | ImageType::Rgba => turbojpeg::PixelFormat::BGRX,
        };
        let quality = quality.clamp(1, 100);
        self.compressor.set_quality(i32::from(quality));
        self.compressor
            .set_subsamp(if quality >= FULL_CHROMA_QUALITY {
                turbojpeg::Subsamp::None
            } else {
                turbojpeg::Subsamp::Sub2x2
            });
        let jpeg = self
            .compressor
            .compress_to_vec(turbojpeg::Image {
                pixels: image.data,
                width: image.width as usize,
                pitch: image.stride,
                height: image.height as usize,
                format,
            })
            .map_err(|e| ImageError::Library(e.to_string()))?;
        out.extend_from_slice(&jpeg);
        Ok(())
    }

    /// Encodes an RGBA `image` as a JPEG_ALPHA image's data: the colours
    /// as a JPEG at `quality`, then the alpha, lossless, as an LZ stream
    /// of type XXXA, as spice-common's `canvas_get_jpeg_alpha` reads them
    /// (top-down). Returns the JPEG's size, the message's `jpeg_size`.
    pub fn encode_with_alpha(
        &mut self,
        image: &Pixels<'_>,
        quality: u8,
        alpha: &mut LzEncoder,
        out: &mut Vec<u8>,
    ) -> Result<u32, ImageError> {
        if image.kind != ImageType::Rgba {
            return Err(ImageError::NoAlpha);
        }
        let start = out.len();
        self.encode(image, quality, out)?;
        let jpeg_size =
            u32::try_from(out.len().saturating_sub(start)).map_err(|_| ImageError::TooLarge)?;
        if let Err(e) = alpha.encode_alpha(image, out) {
            out.truncate(start);
            return Err(e);
        }
        Ok(jpeg_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A photograph's stand-in: smooth gradients with mild noise.
    fn photo(width: u32, height: u32, seed: u32) -> Vec<u8> {
        let mut state = seed.wrapping_mul(2_654_435_761) | 1;
        let mut noise = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state % 7) as i32 - 3
        };
        let mut out = Vec::new();
        for y in 0..height as i32 {
            for x in 0..width as i32 {
                // Sensor noise is mostly in brightness, not colour.
                let grain = noise();
                let b = 128 + (60.0 * ((x as f32) / 23.0).sin()) as i32 + grain;
                let g = 100 + (y * 90 / height.max(1) as i32) + grain;
                let r = 90 + ((x + y) * 80 / (width + height).max(1) as i32) + grain;
                out.extend_from_slice(&[
                    b.clamp(0, 255) as u8,
                    g.clamp(0, 255) as u8,
                    r.clamp(0, 255) as u8,
                    0,
                ]);
            }
        }
        out
    }

    fn decode(jpeg: &[u8]) -> (usize, usize, Vec<u8>) {
        let mut d = turbojpeg::Decompressor::new().unwrap();
        let header = d.read_header(jpeg).unwrap();
        let mut pixels = vec![0u8; header.width * header.height * 4];
        d.decompress(
            jpeg,
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

    fn psnr(a: &[u8], b: &[u8]) -> f64 {
        let (mut sum, mut n) = (0f64, 0f64);
        for (pa, pb) in a.chunks_exact(4).zip(b.chunks_exact(4)) {
            for c in 0..3 {
                let d = f64::from(pa[c]) - f64::from(pb[c]);
                sum += d * d;
                n += 1.0;
            }
        }
        if sum == 0.0 {
            return f64::INFINITY;
        }
        10.0 * (255.0f64 * 255.0 / (sum / n)).log10()
    }

    #[test]
    fn fast_link_quality_keeps_photographs_above_40_db() {
        let mut encoder = JpegEncoder::new().unwrap();
        for (w, h) in [(640, 360), (1, 1), (17, 9), (333, 5), (1, 4096), (16384, 1)] {
            let data = photo(w, h, w ^ h);
            let image = Pixels {
                kind: ImageType::Rgb32,
                width: w,
                height: h,
                stride: w as usize * 4,
                data: &data,
            };
            let mut jpeg = Vec::new();
            encoder
                .encode(&image, FAST_LINK_QUALITY, &mut jpeg)
                .unwrap();
            let (dw, dh, decoded) = decode(&jpeg);
            assert_eq!((dw, dh), (w as usize, h as usize));
            let quality = psnr(&data, &decoded);
            assert!(quality >= 40.0, "{w}x{h}: {quality:.1} dB");
            println!("{w}x{h}: {quality:.1} dB, {} bytes", jpeg.len());
            if w * h >= 640 * 360 {
                // And it is what JPEG is for: far fewer bytes than raw.
                assert!(jpeg.len() * 8 < data.len(), "{} bytes", jpeg.len());
            }
        }
    }

    #[test]
    fn jpeg_alpha_is_the_jpeg_then_the_exact_alpha_in_lz() {
        let mut encoder = JpegEncoder::new().unwrap();
        let mut alpha = LzEncoder::new();
        for (w, h) in [(200u32, 120u32), (1, 1), (17, 9)] {
            let mut data = photo(w, h, 5);
            // A window with rounded, shadowed edges: alpha ramps and runs.
            for (i, p) in data.chunks_exact_mut(4).enumerate() {
                let (x, y) = (i as u32 % w, i as u32 / w);
                p[3] = (x.min(y).min(w - 1 - x).min(h - 1 - y) * 40).min(255) as u8;
            }
            let image = Pixels {
                kind: ImageType::Rgba,
                width: w,
                height: h,
                stride: w as usize * 4,
                data: &data,
            };
            let mut out = vec![0xaa];
            let jpeg_size = encoder
                .encode_with_alpha(&image, FAST_LINK_QUALITY, &mut alpha, &mut out)
                .unwrap() as usize;
            let (dw, dh, colours) = decode(&out[1..1 + jpeg_size]);
            assert_eq!((dw, dh), (w as usize, h as usize));
            assert!(psnr(&data, &colours) >= 40.0, "{w}x{h}");
            let decoded = crate::display::codecs::test_decoder::lz(&out[1 + jpeg_size..]).unwrap();
            assert_eq!((decoded.kind, decoded.width, decoded.height), (10, w, h));
            let want: Vec<u8> = data.chunks_exact(4).map(|p| p[3]).collect();
            let got: Vec<u8> = decoded.pixels.chunks_exact(4).map(|p| p[3]).collect();
            assert!(got == want, "{w}x{h}: alpha differs");
        }
        // Without alpha there is nothing to send as JPEG_ALPHA.
        let data = photo(4, 4, 1);
        let image = Pixels {
            kind: ImageType::Rgb32,
            width: 4,
            height: 4,
            stride: 16,
            data: &data,
        };
        let mut out = Vec::new();
        assert!(matches!(
            encoder.encode_with_alpha(&image, 90, &mut alpha, &mut out),
            Err(ImageError::NoAlpha)
        ));
        assert!(out.is_empty());
    }

    #[test]
    fn lower_quality_costs_fewer_bytes() {
        let mut encoder = JpegEncoder::new().unwrap();
        let data = photo(320, 240, 7);
        let image = Pixels {
            kind: ImageType::Rgb32,
            width: 320,
            height: 240,
            stride: 320 * 4,
            data: &data,
        };
        let (mut fine, mut coarse) = (Vec::new(), Vec::new());
        encoder
            .encode(&image, FAST_LINK_QUALITY, &mut fine)
            .unwrap();
        encoder.encode(&image, MIN_QUALITY, &mut coarse).unwrap();
        assert!(
            coarse.len() < fine.len() / 2,
            "{} vs {}",
            coarse.len(),
            fine.len()
        );
    }

    #[test]
    fn strides_and_packed_rgb_are_honoured() {
        let mut encoder = JpegEncoder::new().unwrap();
        let (w, h) = (31u32, 7u32);
        let bgrx = photo(w, h, 3);
        // The same pixels as packed BGR, and as BGRX rows with padding.
        let bgr: Vec<u8> = bgrx
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        let mut padded = Vec::new();
        for row in bgrx.chunks_exact(w as usize * 4) {
            padded.extend_from_slice(row);
            padded.extend_from_slice(&[0xaa; 12]);
        }
        let mut outputs = Vec::new();
        for (kind, stride, data) in [
            (ImageType::Rgb32, w as usize * 4, &bgrx),
            (ImageType::Rgb24, w as usize * 3, &bgr),
            (ImageType::Rgb32, w as usize * 4 + 12, &padded),
        ] {
            let image = Pixels {
                kind,
                width: w,
                height: h,
                stride,
                data,
            };
            let mut jpeg = Vec::new();
            encoder
                .encode(&image, FAST_LINK_QUALITY, &mut jpeg)
                .unwrap();
            outputs.push(decode(&jpeg).2);
        }
        assert_eq!(outputs[0], outputs[1]);
        assert_eq!(outputs[0], outputs[2]);
    }

    #[test]
    fn bad_sizes_are_errors() {
        let mut encoder = JpegEncoder::new().unwrap();
        let image = Pixels {
            kind: ImageType::Rgb32,
            width: 4,
            height: 4,
            stride: 16,
            data: &[0; 20],
        };
        assert!(matches!(
            encoder.encode(&image, 80, &mut Vec::new()),
            Err(ImageError::ShortData { .. })
        ));
        let empty = Pixels { width: 0, ..image };
        assert_eq!(
            encoder.encode(&empty, 80, &mut Vec::new()),
            Err(ImageError::Empty)
        );
    }
}
