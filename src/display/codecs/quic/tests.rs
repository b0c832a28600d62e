//! Round trips through the test decoder, on the kinds of content a
//! desktop shows, at the sizes where the format's segmenting and run
//! coding have edges.

use super::decoder::decode;
use super::*;

/// xorshift64*: reproducible pixels without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn byte(&mut self) -> u8 {
        (self.next() >> 56) as u8
    }
}

/// x8r8g8b8 pixels from `f(x, y) -> [b, g, r, x]`.
fn image(width: usize, height: usize, mut f: impl FnMut(usize, usize) -> [u8; 4]) -> Vec<u8> {
    let mut out = Vec::with_capacity(width * height * 4);
    for y in 0..height {
        for x in 0..width {
            out.extend_from_slice(&f(x, y));
        }
    }
    out
}

fn noise(rng: &mut Rng, width: usize, height: usize) -> Vec<u8> {
    image(width, height, |_, _| {
        [rng.byte(), rng.byte(), rng.byte(), rng.byte()]
    })
}

fn gradient(width: usize, height: usize) -> Vec<u8> {
    image(width, height, |x, y| {
        [(x * 3) as u8, (y * 2) as u8, ((x + y) / 2) as u8, 0xff]
    })
}

/// Smooth waves per channel plus grain, like a photograph.
fn photo(rng: &mut Rng, width: usize, height: usize) -> Vec<u8> {
    image(width, height, |x, y| {
        let grain = rng.below(11) as f64 - 5.0;
        let (xf, yf) = (x as f64, y as f64);
        let c = |base: f64, k: f64| {
            (base
                + 60.0 * (xf * (0.004 + 0.002 * k) + k).sin()
                + 55.0 * (yf * 0.005 + k).cos()
                + 20.0 * (yf * 0.027 + xf * 0.021).sin()
                + grain)
                .clamp(0.0, 255.0) as u8
        };
        [c(128.0, 0.0), c(120.0, 1.0), c(132.0, 2.0), 0]
    })
}

/// Windows, text-like strokes and flat areas: long runs, sharp edges.
fn desktop(rng: &mut Rng, width: usize, height: usize) -> Vec<u8> {
    let mut px = image(width, height, |_, _| [0x40, 0x34, 0x2e, 0]);
    for _ in 0..(width * height / 300).max(3) {
        let (x0, y0) = (
            rng.below(width as u64) as usize,
            rng.below(height as u64) as usize,
        );
        let (w, h) = (1 + rng.below(40) as usize, 1 + rng.below(12) as usize);
        let color = [rng.byte(), rng.byte(), rng.byte(), 0];
        for y in y0..(y0 + h).min(height) {
            for x in x0..(x0 + w).min(width) {
                px[(y * width + x) * 4..][..4].copy_from_slice(&color);
            }
        }
    }
    px
}

/// What the client shows for `pixels` of `image_type`: 4-byte pixels with
/// the X byte 0 unless there is alpha.
fn expected(image_type: ImageType, pixels: &[u8]) -> Vec<u8> {
    match image_type {
        ImageType::Rgb24 => pixels
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 0])
            .collect(),
        ImageType::Rgb32 => pixels
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2], 0])
            .collect(),
        ImageType::Rgba => pixels.to_vec(),
    }
}

fn to_rgb24(pixels: &[u8]) -> Vec<u8> {
    pixels
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect()
}

/// Encodes packed 4-byte pixels as each image type and checks the decode.
fn round_trip_all(width: usize, height: usize, pixels: &[u8]) -> usize {
    let mut rgb32_len = 0;
    for image_type in [ImageType::Rgb32, ImageType::Rgb24, ImageType::Rgba] {
        let input = match image_type {
            ImageType::Rgb24 => to_rgb24(pixels),
            _ => pixels.to_vec(),
        };
        let bpp = image_type.bytes_per_pixel();
        let data = encode(image_type, width as u32, height as u32, width * bpp, &input)
            .unwrap_or_else(|e| panic!("{width}x{height} {image_type:?}: {e}"));
        let decoded =
            decode(&data).unwrap_or_else(|e| panic!("{width}x{height} {image_type:?}: {e}"));
        assert_eq!(decoded.image_type, image_type as u32);
        assert_eq!((decoded.width, decoded.height), (width, height));
        assert!(
            decoded.pixels == expected(image_type, &input),
            "{width}x{height} {image_type:?}: pixels differ"
        );
        if image_type == ImageType::Rgb32 {
            rgb32_len = data.len();
        }
    }
    rgb32_len
}

#[test]
fn header_words() {
    let data = encode(ImageType::Rgb32, 2, 1, 8, &[1, 2, 3, 0, 1, 2, 3, 0]).unwrap();
    assert_eq!(&data[..4], b"QUIC");
    assert_eq!(&data[4..8], &[0; 4], "version 0");
    assert_eq!(&data[8..12], &[4, 0, 0, 0], "RGB32");
    assert_eq!(&data[12..16], &[2, 0, 0, 0]);
    assert_eq!(&data[16..20], &[1, 0, 0, 0]);
    assert_eq!(data.len() % 4, 0);
    assert_eq!(&data[data.len() - 4..], &[0; 4], "a trailing zero word");
}

#[test]
fn noise_round_trips() {
    let mut rng = Rng(1);
    let px = noise(&mut rng, 97, 61);
    let len = round_trip_all(97, 61, &px);
    // Noise does not compress, but stays near 3 bytes a pixel.
    assert!(len < 97 * 61 * 4, "{len}");
}

#[test]
fn gradients_compress_well() {
    let px = gradient(200, 150);
    let len = round_trip_all(200, 150, &px);
    assert!(len * 2 < 200 * 150 * 3, "gradient: {len} bytes");
}

#[test]
fn photo_like_content_compresses() {
    let mut rng = Rng(2);
    let px = photo(&mut rng, 320, 200);
    let len = round_trip_all(320, 200, &px);
    // The grain alone is worth about 10 bits a pixel.
    assert!(len * 5 < 320 * 200 * 3 * 3, "photo: {len} bytes");
}

#[test]
fn desktop_content_round_trips() {
    let mut rng = Rng(3);
    let px = desktop(&mut rng, 300, 200);
    let len = round_trip_all(300, 200, &px);
    assert!(len * 10 < 300 * 200 * 3, "desktop: {len} bytes");
}

#[test]
fn solid_images_are_mostly_runs() {
    for (w, h) in [
        (1, 1),
        (2, 2),
        (3, 3),
        (4, 4),
        (64, 64),
        (1000, 3),
        (2049, 2),
    ] {
        let px = image(w, h, |_, _| [9, 200, 77, 0]);
        let len = round_trip_all(w, h, &px);
        // The first row has no run coding: a bit per component.
        if h >= 64 {
            assert!(len < 200, "{w}x{h} solid: {len} bytes");
        }
    }
}

#[test]
fn tiny_and_odd_sizes() {
    let mut rng = Rng(4);
    for w in 1..=9 {
        for h in 1..=5 {
            let px = noise(&mut rng, w, h);
            round_trip_all(w, h, &px);
            let px = desktop(&mut rng, w, h);
            round_trip_all(w, h, &px);
        }
    }
    for (w, h) in [(13, 7), (31, 17), (127, 3), (255, 9), (333, 5)] {
        let px = photo(&mut rng, w, h);
        round_trip_all(w, h, &px);
    }
}

#[test]
fn one_row_of_16384_pixels() {
    let mut rng = Rng(5);
    // Crosses every wait-mask step inside one row.
    let px = photo(&mut rng, 16384, 1);
    round_trip_all(16384, 1, &px);
    let px = desktop(&mut rng, 16384, 2);
    round_trip_all(16384, 2, &px);
}

#[test]
fn a_one_pixel_wide_strip() {
    let mut rng = Rng(6);
    let px = photo(&mut rng, 1, 4096);
    round_trip_all(1, 4096, &px);
    let px = image(1, 4096, |_, y| [(y / 100) as u8, 0, 0, 0]);
    round_trip_all(1, 4096, &px);
}

#[test]
fn wide_rows_cross_segment_boundaries() {
    let mut rng = Rng(7);
    // Runs that end exactly at, and cross, the 2048-pixel segment edges.
    for w in [2047, 2048, 2049, 4097, 6000] {
        let px = image(w, 4, |x, y| {
            if (x / 512 + y) % 2 == 0 {
                [1, 2, 3, 0]
            } else {
                [x as u8, 7, 9, 0]
            }
        });
        round_trip_all(w, 4, &px);
        let px = desktop(&mut rng, w, 3);
        round_trip_all(w, 3, &px);
    }
}

#[test]
fn alpha_is_coded_separately() {
    let mut rng = Rng(8);
    let px = image(50, 40, |x, y| {
        let a = if (x + y) % 7 == 0 {
            rng.byte()
        } else {
            (x * 5) as u8
        };
        [(y * 3) as u8, 0x80, (x ^ y) as u8, a]
    });
    let data = encode(ImageType::Rgba, 50, 40, 200, &px).unwrap();
    assert_eq!(decode(&data).unwrap().pixels, px);
    let flat = image(300, 30, |x, _| [x as u8, 1, 2, 0xff]);
    let data = encode(ImageType::Rgba, 300, 30, 1200, &flat).unwrap();
    assert_eq!(decode(&data).unwrap().pixels, flat);
}

#[test]
fn padded_strides() {
    let mut rng = Rng(9);
    let (w, h, stride) = (37, 21, 37 * 4 + 12);
    let padded = noise(&mut rng, stride / 4, h);
    // The last row needs no padding.
    let input = &padded[..stride * (h - 1) + w * 4];
    let data = encode(ImageType::Rgb32, w as u32, h as u32, stride, input).unwrap();
    let packed: Vec<u8> = (0..h)
        .flat_map(|y| input[y * stride..y * stride + w * 4].to_vec())
        .collect();
    assert_eq!(
        decode(&data).unwrap().pixels,
        expected(ImageType::Rgb32, &packed)
    );
}

#[test]
fn bad_sizes_are_errors() {
    let px = [0u8; 64];
    assert!(matches!(
        encode(ImageType::Rgb32, 4, 5, 16, &px),
        Err(QuicError::BufferTooSmall { .. })
    ));
    assert!(matches!(
        encode(ImageType::Rgb32, 4, 2, 15, &px),
        Err(QuicError::StrideTooSmall { .. })
    ));
    assert!(matches!(
        encode(ImageType::Rgb24, u32::MAX, 1, usize::MAX, &px),
        Err(QuicError::TooLarge { .. })
    ));
    assert!(encode(ImageType::Rgba, 1 << 30, 1 << 30, usize::MAX, &px).is_err());
    assert!(encode(ImageType::Rgb32, 1, 1 << 30, usize::MAX / 2, &px).is_err());
    // Empty images are a bare header.
    for (w, h) in [(0, 0), (0, 5), (5, 0)] {
        let data = encode(ImageType::Rgb32, w, h, 0, &[]).unwrap();
        assert_eq!(data.len(), 24);
        let d = decode(&data).unwrap();
        assert_eq!((d.width, d.height), (w as usize, h as usize));
    }
}

/// Random sizes, strides, content mixes and buffer lengths: the encoder
/// never panics, and whatever it accepts decodes to its input.
#[test]
fn never_panics_and_always_round_trips() {
    let mut rng = Rng(0x5eed);
    for case in 0..400 {
        let width = match rng.below(8) {
            0 => rng.below(3),
            1 => 2000 + rng.below(200),
            _ => 1 + rng.below(70),
        } as usize;
        let height = if width > 1000 {
            1 + rng.below(3)
        } else {
            rng.below(40)
        } as usize;
        let image_type = [ImageType::Rgb24, ImageType::Rgb32, ImageType::Rgba][case % 3];
        let bpp = image_type.bytes_per_pixel();
        let stride = width * bpp + rng.below(3) as usize * (rng.below(5) as usize);
        // Mix of runs, repeats of the row above, noise and smooth areas.
        let mut px = vec![0u8; stride * height];
        let mut last = [0u8; 4];
        for y in 0..height {
            for x in 0..width {
                match rng.below(6) {
                    0 => last = [rng.byte(), rng.byte(), rng.byte(), rng.byte()],
                    1 if y > 0 => {
                        let above = (y - 1) * stride + x * bpp;
                        last[..bpp].copy_from_slice(&px[above..above + bpp]);
                    }
                    2 => last = last.map(|v| v.wrapping_add(rng.below(3) as u8)),
                    _ => {}
                }
                px[y * stride + x * bpp..][..bpp].copy_from_slice(&last[..bpp]);
            }
        }
        // Sometimes too short a buffer, or a stride too small.
        let cut = if rng.below(10) == 0 {
            rng.below(px.len() as u64 + 1) as usize
        } else {
            px.len()
        };
        let bad_stride = if rng.below(15) == 0 {
            stride.saturating_sub(1)
        } else {
            stride
        };
        match encode(
            image_type,
            width as u32,
            height as u32,
            bad_stride,
            &px[..cut],
        ) {
            Ok(data) => {
                let d = decode(&data).unwrap_or_else(|e| panic!("case {case}: {e}"));
                let packed: Vec<u8> = (0..height)
                    .flat_map(|y| px[y * bad_stride..][..width * bpp].to_vec())
                    .collect();
                assert!(
                    d.pixels == expected(image_type, &packed),
                    "case {case}: {width}x{height} {image_type:?} differs"
                );
            }
            Err(e) => assert!(
                width > 0 && height > 0 && (cut < px.len() || bad_stride < stride),
                "case {case}: {e}"
            ),
        }
    }
}

/// A small image mixing runs, repeats and noise, and its encoding as
/// spice-common's own encoder produces it (checked byte for byte when this
/// test was written), so a change of the bit stream cannot go unnoticed.
fn golden_image() -> Vec<u8> {
    image(12, 6, |x, y| match (x + 2 * y) % 5 {
        0 | 1 => [0x20, 0x40, 0x60, 0],
        2 => [(x * 17) as u8, (y * 29) as u8, (x * y) as u8, 0],
        _ => [(x * 7 + y) as u8, 0x40, 0x61, 0],
    })
}

#[test]
fn golden_stream() {
    let data = encode(ImageType::Rgb32, 12, 6, 48, &golden_image()).unwrap();
    let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, GOLDEN_HEX);
}

const GOLDEN_HEX: &str = concat!(
    "5155494300000000040000000c0000000600000080c00040ff3f80802c000084",
    "e9060000e80808980888081882bf1f08fb4110e0060000010b000006257f0081",
    "9f54fc010cdcc0e2d450300751bc55941b002cd600000006c94a07bec1de0040",
    "b520d44a02db6120dce6754693725586e00f183c18583fa28c5376690230cc80",
    "00f830b0f5ae530090a759835602c3c926ae8d09cb746b28de80619180a7ff04",
    "00b8c1a450ac98000f1426c590c28081ef1aa69e9fc321867c32307051038f27",
    "1b8c030b88128015c8345fb08f60b84d8820bf837d01f10060d3ccb778815b60",
    "00000000",
);
