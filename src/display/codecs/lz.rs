//! SPICE's LZ image codec (SPICE_IMAGE_TYPE_LZ_RGB), the encoder side.
//!
//! The format, as spice-common's `lz.c` and `lz_decompress_tmpl.c` read it:
//!
//! * A header of seven big-endian `u32`s: magic `0x20205a4c`, version
//!   `0x00010001`, the `LzImageType`, width, height, stride (width × bytes
//!   per pixel; the decoder ignores it for RGB types) and top-down (1).
//! * A stream of `width × height` pixels, LZ77 style. A control byte below
//!   32 is a literal run of `ctrl + 1` pixels, each B, G, R (RGB24, RGB32
//!   and the RGB part of RGBA are the same stream). Any other control byte
//!   starts a copy of earlier pixels of the same image: its top 3 bits are
//!   the length (7 means more: bytes of 255 then a last byte below 255 are
//!   added), its low 5 bits and the next byte the distance − 1. That
//!   distance cannot be 8191: 31 and 255 there mean a far copy, whose
//!   distance − 8192 follows in two bytes. A copy's length is the coded
//!   length for RGB, the coded length + 2 for alpha. Copies may overlap
//!   what they write (a run is a copy at distance 1).
//! * For RGBA, a second such stream of the alpha bytes, one byte per
//!   literal.
//!
//! The decoder stops each stream at exactly `width × height` pixels and
//! insists that the input ends there, so nothing may follow.

use super::{ImageError, ImageType, Pixels};

const MAGIC: u32 = 0x2020_5a4c;
const VERSION: u32 = 0x0001_0001;

/// Longest literal run one control byte announces.
const MAX_LITERALS: usize = 32;
/// Distances up to this fit the two-byte (near) form.
const NEAR_DISTANCE: usize = 8191;
/// The far form adds 16 bits on top of the near range.
const MAX_DISTANCE: usize = NEAR_DISTANCE + 65536;

/// Positions remembered, by a hash of the 3 pixels there.
const HASH_BITS: u32 = 14;

/// After `1 << SKIP_SHIFT` pixels without a copy, every other pixel is
/// looked at, and so on.
pub(super) const SKIP_SHIFT: u32 = 5;
/// At most this many pixels are skipped at a time: GLZ finds later images'
/// copies only at positions it looked at.
pub(super) const MAX_SKIP: usize = 7;

/// What one stream encodes pixel by pixel.
pub(super) trait Unit: Copy + Eq {
    /// A value of the unit for hashing.
    fn key(self) -> u32;
    /// Appends `units` as literals (after their control byte).
    fn put_run(units: &[Self], out: &mut Vec<u8>);
}

/// A pixel's colour, `0x00RRGGBB`; sent as B, G, R.
impl Unit for u32 {
    fn key(self) -> u32 {
        self
    }
    fn put_run(units: &[Self], out: &mut Vec<u8>) {
        // One resize for the run: a push per byte checked the capacity
        // each time, and literals were LZ's hottest loop on text.
        let start = out.len();
        out.resize(start.saturating_add(units.len().saturating_mul(3)), 0);
        if let Some(tail) = out.get_mut(start..) {
            for (dst, unit) in tail.chunks_exact_mut(3).zip(units) {
                dst.copy_from_slice(&unit.to_le_bytes()[..3]);
            }
        }
    }
}

/// An alpha byte.
impl Unit for u8 {
    fn key(self) -> u32 {
        u32::from(self)
    }
    fn put_run(units: &[Self], out: &mut Vec<u8>) {
        out.extend_from_slice(units);
    }
}

/// How a stream's copies are coded and when they pay.
pub(super) struct StreamKind {
    /// The decoder adds this to a copy's coded length.
    pub len_bias: usize,
    /// Shortest copy worth its bytes at a near and at a far distance (a
    /// literal RGB pixel costs 3 bytes, an alpha one 1; a copy 2 or 4).
    pub min_near: usize,
    pub min_far: usize,
}

pub(super) const RGB_STREAM: StreamKind = StreamKind {
    len_bias: 0,
    min_near: 2,
    min_far: 2,
};

pub(super) const ALPHA_STREAM: StreamKind = StreamKind {
    len_bias: 2,
    min_near: 3,
    min_far: 5,
};

/// The slot, in a table of `1 << bits`, of the 3 units from `at` on, if
/// there are 3.
pub(super) fn hash_at<U: Unit>(px: &[U], at: usize, bits: u32) -> Option<usize> {
    match px.get(at..)? {
        [a, b, c, ..] => {
            let h = a.key().wrapping_mul(0x9e37_79b1)
                ^ b.key().wrapping_mul(0x85eb_ca77).rotate_left(11)
                ^ c.key().wrapping_mul(0xc2b2_ae3d).rotate_left(22);
            Some(h.checked_shr(32u32.saturating_sub(bits)).unwrap_or(0) as usize)
        }
        _ => None,
    }
}

/// How many of a copy's last positions enter the table: each is a write
/// to a random place of it. Since copies from the row above are tried
/// without the table, 3 take fewer bytes than 8 on every workload of
/// tests/codec_ratios.rs (text LZ 217.1 against 217.8 KB) in less time
/// (64 were once GLZ's hottest loop). 2 were fewer bytes still there,
/// but lost a seventh on repeats 80 pixels apart (the test
/// `gradients_and_patterns_round_trip_smaller`).
pub(super) const INSERT_TAIL: usize = 3;

const HASH_SIZE: usize = 1 << HASH_BITS;

/// How many units from `earlier` on equal those from `later` on. The two
/// may overlap: the decoder copies unit by unit, so what a copy writes is
/// already there when it reads it again.
pub(super) fn common<U: Unit>(px: &[U], earlier: usize, later: usize) -> usize {
    match (px.get(earlier..), px.get(later..)) {
        (Some(a), Some(b)) => equal_prefix(a, b),
        _ => 0,
    }
}

/// How many units `a` and `b` have equal from their start. Past the first
/// few, eight at a time: copies on text and UI run for hundreds of pixels,
/// and one unit at a time was LZ's hottest loop there; most copies are
/// short, and end within the first few.
pub(super) fn equal_prefix<U: Unit>(a: &[U], b: &[U]) -> usize {
    const STEP: usize = 8;
    let n = a.len().min(b.len());
    let (a, b) = (
        a.get(..n).unwrap_or_default(),
        b.get(..n).unwrap_or_default(),
    );
    let scalar = |from: usize, to: usize| match (a.get(from..to), b.get(from..to)) {
        (Some(x), Some(y)) => x.iter().zip(y).take_while(|(p, q)| p == q).count(),
        _ => 0,
    };
    let head = scalar(0, STEP.min(n));
    if head < STEP {
        return head;
    }
    let whole = a
        .get(STEP..)
        .unwrap_or_default()
        .chunks_exact(STEP)
        .zip(b.get(STEP..).unwrap_or_default().chunks_exact(STEP))
        .take_while(|(x, y)| x == y)
        .count()
        .saturating_add(1)
        .saturating_mul(STEP);
    whole.saturating_add(scalar(whole, n))
}

/// Appends literal runs of `units`.
pub(super) fn put_literals<U: Unit>(units: &[U], out: &mut Vec<u8>) {
    for run in units.chunks(MAX_LITERALS) {
        // chunks are 1..=32 long: the control byte is 0..=31.
        out.push(run.len().saturating_sub(1) as u8);
        U::put_run(run, out);
    }
}

/// Appends the length bytes after a control byte whose length field is 7.
pub(super) fn put_long_length(rest: usize, out: &mut Vec<u8>) {
    out.extend(std::iter::repeat_n(255u8, rest / 255));
    out.push((rest % 255) as u8);
}

/// Appends a copy of `coded_len` (≥ 1) at `distance` (1..=MAX_DISTANCE).
fn put_copy(coded_len: usize, distance: usize, out: &mut Vec<u8>) {
    let d = distance.saturating_sub(1);
    let near = d < NEAR_DISTANCE;
    let high = if near { (d >> 8) as u8 } else { 31 };
    let len_field = coded_len.min(7) as u8;
    out.push(len_field << 5 | high);
    if len_field == 7 {
        put_long_length(coded_len.saturating_sub(7), out);
    }
    if near {
        out.push(d as u8);
    } else {
        let far = d.saturating_sub(NEAR_DISTANCE);
        out.extend_from_slice(&[255, (far >> 8) as u8, far as u8]);
    }
}

/// Appends one stream of `px`, rows of `width` units: greedy LZ77 with a
/// one-entry hash table and checks for a run and for the row above.
fn compress<U: Unit>(
    px: &[U],
    width: usize,
    kind: &StreamKind,
    table: &mut [u32],
    out: &mut Vec<u8>,
) {
    table.fill(0);
    let mut literals_from = 0;
    let mut at = 0;
    let mut misses = 0usize;
    // The row above is the likeliest long match in text and UI, and the
    // hash table, which keeps the last position of each 3 units, loses it
    // to nearer repeats of the same units (paper between glyphs).
    let row_above = (2..=MAX_DISTANCE).contains(&width).then_some(width);
    while let Some(slot) = hash_at(px, at, HASH_BITS) {
        let here = px.get(at);
        let (mut len, mut distance) = (0, 0);
        let mut consider = |d: usize| {
            if let Some(from) = at.checked_sub(d) {
                if px.get(from) == here {
                    let l = common(px, from, at);
                    if l > len {
                        (len, distance) = (l, d);
                    }
                }
            }
        };
        consider(1);
        if let Some(d) = row_above {
            consider(d);
        }
        if let Some(entry) = table.get_mut(slot) {
            // Entries are position + 1, so 0 is empty; positions are below
            // MAX_PIXELS and fit.
            let candidate = *entry as usize;
            *entry = at.saturating_add(1) as u32;
            if let Some(from) = candidate.checked_sub(1) {
                let d = at.saturating_sub(from);
                if (2..=MAX_DISTANCE).contains(&d) && Some(d) != row_above {
                    consider(d);
                }
            }
        }
        let min = if distance <= NEAR_DISTANCE {
            kind.min_near
        } else {
            kind.min_far
        };
        if distance == 0 || len < min {
            // Where nothing matches for long (photos, noise), look less
            // and less often: the skipped pixels go as literals anyway.
            misses = misses.saturating_add(1);
            at = at.saturating_add((misses >> SKIP_SHIFT).min(MAX_SKIP).saturating_add(1));
            continue;
        }
        misses = 0;
        put_literals(px.get(literals_from..at).unwrap_or_default(), out);
        put_copy(len.saturating_sub(kind.len_bias), distance, out);
        let end = at.saturating_add(len);
        // The copy's last positions start the likeliest next matches.
        for p in end.saturating_sub(INSERT_TAIL).max(at.saturating_add(1))..end {
            if let Some(entry) = hash_at(px, p, HASH_BITS).and_then(|s| table.get_mut(s)) {
                *entry = p.saturating_add(1) as u32;
            }
        }
        at = end;
        literals_from = end;
    }
    put_literals(px.get(literals_from..).unwrap_or_default(), out);
}

/// An LZ encoder; keeping one saves its buffers between images.
pub struct LzEncoder {
    table: Vec<u32>,
    rgb: Vec<u32>,
    alpha: Vec<u8>,
}

impl Default for LzEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl LzEncoder {
    pub fn new() -> Self {
        LzEncoder {
            table: vec![0; HASH_SIZE],
            rgb: Vec::new(),
            alpha: Vec::new(),
        }
    }

    /// Appends the LZ encoding of `image` (header and streams) to `out`,
    /// top row first.
    pub fn encode(&mut self, image: &Pixels<'_>, out: &mut Vec<u8>) -> Result<(), ImageError> {
        let count = put_header(image, image.kind.wire(), out)?;
        self.rgb.clear();
        self.rgb.reserve(count);
        image.gather_rgb(&mut self.rgb);
        compress(
            &self.rgb,
            image.width as usize,
            &RGB_STREAM,
            &mut self.table,
            out,
        );
        if image.kind == ImageType::Rgba {
            self.put_alpha(image, count, out);
        }
        Ok(())
    }

    /// Appends the LZ encoding of `image`'s alpha alone (type XXXA: the
    /// header, then the alpha stream), top row first; RGBA only.
    pub fn encode_alpha(
        &mut self,
        image: &Pixels<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), ImageError> {
        if image.kind != ImageType::Rgba {
            return Err(ImageError::NoAlpha);
        }
        let count = put_header(image, XXXA, out)?;
        self.put_alpha(image, count, out);
        Ok(())
    }

    /// Appends the alpha stream of `image`'s `count` pixels.
    fn put_alpha(&mut self, image: &Pixels<'_>, count: usize, out: &mut Vec<u8>) {
        self.alpha.clear();
        self.alpha.reserve(count);
        image.gather_alpha(&mut self.alpha);
        compress(
            &self.alpha,
            image.width as usize,
            &ALPHA_STREAM,
            &mut self.table,
            out,
        );
    }
}

/// The `LzImageType` of an alpha stream alone (spice-common's
/// `LZ_IMAGE_TYPE_XXXA`), the second part of a JPEG_ALPHA image.
const XXXA: u32 = 10;

/// Appends the header of an LZ image of `lz_type` for `image` (top-down);
/// the image's pixel count.
fn put_header(image: &Pixels<'_>, lz_type: u32, out: &mut Vec<u8>) -> Result<usize, ImageError> {
    let count = image.pixel_count()?;
    let stride = image
        .row_bytes()
        .and_then(|b| u32::try_from(b).ok())
        .ok_or(ImageError::TooLarge)?;
    for word in [
        MAGIC,
        VERSION,
        lz_type,
        image.width,
        image.height,
        stride,
        1,
    ] {
        out.extend_from_slice(&word.to_be_bytes());
    }
    Ok(count)
}

/// Encodes `image` with a fresh encoder.
pub fn encode(image: &Pixels<'_>) -> Result<Vec<u8>, ImageError> {
    let mut out = Vec::new();
    LzEncoder::new().encode(image, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::display::codecs::test_decoder::{self, expected};
    use rand::{Rng, SeedableRng};

    /// Encodes, decodes with the test decoder, compares; the encoded size.
    fn round_trip(kind: ImageType, width: u32, height: u32, stride: usize, data: &[u8]) -> usize {
        let image = Pixels {
            kind,
            width,
            height,
            stride,
            data,
        };
        let bytes = encode(&image).expect("encodable");
        let decoded =
            test_decoder::lz(&bytes).unwrap_or_else(|e| panic!("{kind:?} {width}x{height}: {e}"));
        assert_eq!(decoded.kind, kind.wire());
        assert_eq!((decoded.width, decoded.height), (width, height));
        assert!(
            decoded.pixels == expected(&image),
            "{kind:?} {width}x{height} stride {stride}: pixels differ"
        );
        bytes.len()
    }

    fn all_kinds(width: u32, height: u32, make: impl Fn(usize, usize) -> [u8; 4]) -> Vec<usize> {
        [ImageType::Rgb24, ImageType::Rgb32, ImageType::Rgba]
            .into_iter()
            .map(|kind| {
                let bpp = kind.bytes_per_pixel();
                let mut data = Vec::new();
                for y in 0..height as usize {
                    for x in 0..width as usize {
                        data.extend_from_slice(&make(x, y)[..bpp]);
                    }
                }
                round_trip(kind, width, height, width as usize * bpp, &data)
            })
            .collect()
    }

    #[test]
    fn equal_prefix_counts_like_one_unit_at_a_time() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        for _ in 0..2000 {
            let len = rng.gen_range(0..60);
            let a: Vec<u32> = (0..len).map(|_| rng.gen_range(0..3)).collect();
            let mut b = a.clone();
            b.truncate(rng.gen_range(0..=len));
            if let Some(at) = (!b.is_empty()).then(|| rng.gen_range(0..b.len())) {
                if rng.gen_bool(0.7) {
                    b[at] ^= 1;
                }
            }
            let naive = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
            assert_eq!(equal_prefix(&a, &b), naive, "{a:?} {b:?}");
            assert_eq!(equal_prefix(&b, &a), naive);
        }
    }

    #[test]
    fn header_is_spice_commons() {
        let data = [1, 2, 3, 0xff];
        let bytes = encode(&Pixels {
            kind: ImageType::Rgb32,
            width: 1,
            height: 1,
            stride: 4,
            data: &data,
        })
        .unwrap();
        assert_eq!(
            bytes,
            [
                0x20, 0x20, 0x5a, 0x4c, 0, 1, 0, 1, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 4,
                0, 0, 0, 1, // header
                0, 1, 2, 3, // one literal: B, G, R
            ]
        );
    }

    #[test]
    fn solid_images_are_a_few_bytes() {
        let sizes = all_kinds(300, 200, |_, _| [9, 8, 7, 200]);
        // header, 1 literal, one long run; RGBA: and the same for alpha.
        assert!(sizes[1] < 28 + 4 + 4 + 240, "{sizes:?}");
        assert!(sizes[2] < 28 + 2 * (4 + 4 + 240), "{sizes:?}");
    }

    #[test]
    fn random_images_round_trip() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        for (w, h) in [
            (1, 1),
            (2, 1),
            (1, 2),
            (3, 3),
            (7, 5),
            (33, 17),
            (64, 64),
            (129, 3),
        ] {
            let noise: Vec<[u8; 4]> = (0..w * h).map(|_| rng.gen()).collect();
            all_kinds(w, h, |x, y| noise[y * w as usize + x]);
        }
    }

    #[test]
    fn gradients_and_patterns_round_trip_smaller() {
        // every pixel different: LZ has nothing to copy, but stays exact
        all_kinds(200, 100, |x, y| [x as u8, y as u8, (x + y) as u8, x as u8]);
        // a horizontal gradient: each row copies the one above
        let gradient = all_kinds(200, 100, |x, _| [x as u8, (x / 2) as u8, 255 - x as u8, 0]);
        assert!(gradient[0] < 200 * 3 + 100 * 8, "{gradient:?}");
        // text-like: a glyph row repeated with shifts, far repeats
        let glyph = |x: usize, y: usize| (x * 7 + y * 3) % 11 < 3;
        let text = all_kinds(640, 48, |x, y| {
            if glyph(x % 80, y % 16) {
                [0x20, 0x20, 0x20, 0]
            } else {
                [0xff, 0xff, 0xff, 0xff]
            }
        });
        assert!(text[1] * 10 < 640 * 48 * 4, "{text:?}");
    }

    #[test]
    fn odd_widths_and_padded_strides_round_trip() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        for width in [1u32, 3, 5, 31, 33, 257] {
            for kind in [ImageType::Rgb24, ImageType::Rgb32, ImageType::Rgba] {
                let height = 9;
                let stride = width as usize * kind.bytes_per_pixel() + 5;
                // few colours: copies and literals mix
                let data: Vec<u8> = (0..stride * height)
                    .map(|_| [0u8, 0x40, 0xff][rng.gen_range(0..3)])
                    .collect();
                round_trip(kind, width, height as u32, stride, &data);
            }
        }
    }

    #[test]
    fn long_strips_round_trip() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        // one row of 16384, and a column of 4096, mostly runs and repeats
        let row: Vec<[u8; 4]> = (0..16384)
            .map(|i| {
                if i % 700 < 350 {
                    [1, 2, 3, 4]
                } else {
                    rng.gen()
                }
            })
            .collect();
        all_kinds(16384, 1, |x, _| row[x]);
        all_kinds(1, 4096, |_, y| row[y * 3]);
        // far copies: a random block repeated beyond the near distance
        let block: Vec<[u8; 4]> = (0..9000).map(|_| rng.gen()).collect();
        let far = all_kinds(27000, 1, |x, _| block[x % 9000]);
        assert!(far[1] < 9000 * 4 + 2000, "{far:?}");
    }

    #[test]
    fn bad_sizes_are_errors() {
        let data = [0u8; 16];
        let image = |width, height, stride| Pixels {
            kind: ImageType::Rgb32,
            width,
            height,
            stride,
            data: &data,
        };
        assert_eq!(encode(&image(0, 1, 4)), Err(ImageError::Empty));
        assert_eq!(encode(&image(1, 0, 4)), Err(ImageError::Empty));
        assert!(matches!(
            encode(&image(2, 1, 4)),
            Err(ImageError::BadStride { .. })
        ));
        assert!(matches!(
            encode(&image(2, 3, 8)),
            Err(ImageError::ShortData { .. })
        ));
        assert_eq!(
            encode(&image(u32::MAX, u32::MAX, 4)),
            Err(ImageError::TooLarge)
        );
        assert_eq!(
            encode(&image(1 << 20, 1 << 10, usize::MAX)),
            Err(ImageError::TooLarge)
        );
        assert!(encode(&image(2, 2, 8)).is_ok());
    }

    /// Fuzz-style: random sizes, strides and content of every texture,
    /// including garbage sizes: never a panic, always a faithful decode.
    #[test]
    fn fuzz_never_panics_and_round_trips() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(4);
        let mut encoder = LzEncoder::new();
        for _ in 0..400 {
            let kind = [ImageType::Rgb24, ImageType::Rgb32, ImageType::Rgba][rng.gen_range(0..3)];
            let width = rng.gen_range(0..90u32);
            let height = rng.gen_range(0..12u32);
            let stride = width as usize * kind.bytes_per_pixel() + rng.gen_range(0..3) * 4;
            let len = if rng.gen_bool(0.1) {
                rng.gen_range(0..stride * height as usize + 1)
            } else {
                stride * height as usize
            };
            let palette: Vec<u8> = (0..rng.gen_range(1..6)).map(|_| rng.gen()).collect();
            let runs = rng.gen_bool(0.5);
            let mut data = Vec::with_capacity(len);
            while data.len() < len {
                let b = palette[rng.gen_range(0..palette.len())];
                let n = if runs { rng.gen_range(1..40) } else { 1 };
                data.extend(std::iter::repeat_n(b, n.min(len - data.len())));
            }
            let image = Pixels {
                kind,
                width,
                height,
                stride,
                data: &data,
            };
            let mut out = Vec::new();
            match encoder.encode(&image, &mut out) {
                Ok(()) => {
                    let decoded = test_decoder::lz(&out).unwrap_or_else(|e| {
                        panic!("{kind:?} {width}x{height} stride {stride}: {e}")
                    });
                    assert!(decoded.pixels == expected(&image));
                }
                Err(e) => assert!(image.pixel_count().is_err(), "{e}"),
            }
        }
    }
}
