//! SPICE's GLZ image codec (SPICE_IMAGE_TYPE_GLZ_RGB): LZ whose copies may
//! also come from earlier images, kept in a dictionary the client mirrors.
//!
//! The format, as spice-gtk's `decode-glz.c` and `decode-glz-tmpl.c` read
//! it (spice-server writes it in `glz-encoder.c` and
//! `glz-encode-match.tmpl.c`):
//!
//! * Header, big-endian: magic `0x20205a4c`, version `0x00010001` (`u32`s),
//!   one byte `LzImageType | top_down << 4`, width, height, stride
//!   (`u32`s), the image's id (`u64`), and how many images back the window
//!   starts (`u32`): the client drops every image older than that.
//! * The streams of LZ (see [`super::lz`]): literal runs are the same; a
//!   copy differs. Its control byte holds the length in its top 3 bits (7:
//!   more bytes follow, as in LZ; the length is not biased for RGB, + 2 for
//!   alpha), a "long offset" flag (bit 4) and the offset's low 4 bits; the
//!   next byte has offset bits 4..12. Then, for a short offset, a byte
//!   whose top 2 bits say how many more bytes (0..3) carry the image
//!   distance above its low 6 bits; for a long one, a byte with that count
//!   in its top 2 bits, a "very long" flag (bit 5) and offset bits 12..17,
//!   then the image distance in that many bytes (little-endian), then
//!   offset bits 17..25 if very long.
//! * Image distance 0 is this image, and the offset is the distance − 1
//!   back; otherwise the copy reads that many images back, from the pixel
//!   at the offset (no bias), and must stay inside that image.
//!
//! Ids count up from 0 for one dictionary with no gap: spice-gtk finds an
//! image by `id % slots` and only drops images once every id up to the
//! newest has arrived. It waits for a referenced image that has not
//! arrived, so the images of one dictionary may travel on several display
//! channels; but an id that is never sent stalls the client. So an image
//! that is encoded and then not sent must be [`GlzDictionary::forget`]ten
//! while it is still the newest.

use std::collections::VecDeque;

use super::lz::{
    common, equal_prefix, hash_at, put_literals, put_long_length, INSERT_TAIL, MAX_SKIP, SKIP_SHIFT,
};
use super::{ImageError, ImageType, Pixels};

const MAGIC: u32 = 0x2020_5a4c;
const VERSION: u32 = 0x0001_0001;

/// The most pixels a dictionary keeps, whatever the client offers: its
/// copy of the pixels costs 4 bytes each (spice-gtk offers 3 Mi pixels
/// unless told otherwise; the format allows 32 Mi).
pub const MAX_WINDOW_PIXELS: usize = 1 << 22;

/// Offsets are at most 25 bits.
const MAX_OFFSET: usize = 1 << 25;

/// Positions remembered, by a hash of the 3 pixels there, across the
/// whole window. 2^16 entries (a table that stays in the core's cache)
/// encode text and scrolling about 15% faster (tests/codec_ratios.rs),
/// but forget most of the previous frame of a panning full-screen
/// picture: the benchmark's photo sent 20 to 50% more bytes per frame
/// before its stream started.
const HASH_BITS: u32 = 18;

/// A run of the previous pixel at least this long is taken without
/// looking for a copy in the window.
const LONG_RUN: usize = 64;

/// An image in the window.
struct WindowImage {
    id: u64,
    /// Its first pixel's position in the dictionary's numbering of every
    /// pixel it has seen, which the hash table records.
    pos: u64,
    rgb: Vec<u32>,
}

impl WindowImage {
    fn end(&self) -> u64 {
        self.pos.saturating_add(self.rgb.len() as u64)
    }
}

/// One client's GLZ dictionary: the images it holds, and the encoder
/// state that finds copies in them.
pub struct GlzDictionary {
    /// Pixels the window may hold.
    window: usize,
    /// Oldest first.
    images: VecDeque<WindowImage>,
    /// Pixels in `images`.
    pixels: usize,
    next_id: u64,
    next_pos: u64,
    /// Position + 1 (modulo 2^32) of a recent pixel by the hash of the 3
    /// pixels from it; 0 is empty. Old or wrong entries are harmless: a
    /// candidate is checked against the window and the pixels.
    table: Vec<u32>,
    alpha_table: Vec<u32>,
    alpha: Vec<u8>,
    /// What the copies of the last image were.
    last_copies: CopyStats,
}

/// The copies of one GLZ image: what says whether the dictionary pays
/// (see [`WindowPays`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CopyStats {
    /// Copies from earlier images, and the pixels they copied.
    pub from_window: usize,
    pub window_pixels: usize,
    /// Copies inside the image: each takes a byte more than in LZ (the
    /// image distance).
    pub inside: usize,
}

/// A copy found for the pixel being encoded.
#[derive(Clone, Copy)]
struct Found {
    len: usize,
    /// 0: this image.
    image_distance: u64,
    /// The coded offset: distance − 1 back in this image, else the pixel
    /// in the other image.
    offset: usize,
    cost: usize,
}

impl GlzDictionary {
    /// A dictionary of at most `window_pixels` (the client's DISPLAY_INIT
    /// `glz_dictionary_window_size`, capped at [`MAX_WINDOW_PIXELS`]).
    pub fn new(window_pixels: u32) -> Self {
        GlzDictionary {
            window: (window_pixels as usize).min(MAX_WINDOW_PIXELS),
            images: VecDeque::new(),
            pixels: 0,
            next_id: 0,
            next_pos: 0,
            table: vec![0; 1 << HASH_BITS],
            alpha_table: Vec::new(),
            alpha: Vec::new(),
            last_copies: CopyStats::default(),
        }
    }

    /// The window, in pixels.
    pub fn window(&self) -> usize {
        self.window
    }

    /// The id the next image gets.
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    /// Appends the GLZ encoding of `image` (top row first) to `out`, adds
    /// the image to the window, and returns its id. Older images leave the
    /// window first as needed; the header tells the client.
    pub fn encode(&mut self, image: &Pixels<'_>, out: &mut Vec<u8>) -> Result<u64, ImageError> {
        let count = image.pixel_count()?;
        // spice-server's rule: an image must leave room in the window.
        if count >= self.window {
            return Err(ImageError::LargerThanWindow);
        }
        let stride = image
            .row_bytes()
            .and_then(|b| u32::try_from(b).ok())
            .ok_or(ImageError::TooLarge)?;
        while self.pixels.saturating_add(count) > self.window {
            match self.images.pop_front() {
                Some(old) => self.pixels = self.pixels.saturating_sub(old.rgb.len()),
                None => break,
            }
        }
        let id = self.next_id;
        let head = self.images.front().map_or(id, |i| i.id);
        // At most one image per pixel of the window: fits.
        let head_distance = u32::try_from(id.saturating_sub(head)).unwrap_or(u32::MAX);

        out.extend_from_slice(&MAGIC.to_be_bytes());
        out.extend_from_slice(&VERSION.to_be_bytes());
        // The type fits its 4 bits; bit 4 is top-down.
        out.push(image.kind.wire() as u8 | 1 << 4);
        for word in [image.width, image.height, stride] {
            out.extend_from_slice(&word.to_be_bytes());
        }
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&head_distance.to_be_bytes());

        let mut rgb = Vec::with_capacity(count);
        image.gather_rgb(&mut rgb);
        let pos = self.next_pos;
        self.compress_rgb(&rgb, image.width as usize, pos, id, out);
        if image.kind == ImageType::Rgba {
            // Alpha copies stay inside the image: the window keeps colours
            // only (the display's surfaces have no alpha).
            let mut alpha = std::mem::take(&mut self.alpha);
            alpha.clear();
            image.gather_alpha(&mut alpha);
            if self.alpha_table.is_empty() {
                self.alpha_table = vec![0; 1 << 14];
            }
            compress_alpha(&alpha, &mut self.alpha_table, out);
            self.alpha = alpha;
        }

        self.images.push_back(WindowImage { id, pos, rgb });
        self.pixels = self.pixels.saturating_add(count);
        self.next_id = id.saturating_add(1);
        self.next_pos = pos.saturating_add(count as u64);
        Ok(id)
    }

    /// The copies of the last image encoded.
    pub fn last_copies(&self) -> CopyStats {
        self.last_copies
    }

    /// Takes back image `id`, encoded but not sent, if it is the newest:
    /// the next image gets its id. False if it is not the newest.
    pub fn forget(&mut self, id: u64) -> bool {
        if self.images.back().is_none_or(|i| i.id != id) {
            return false;
        }
        if let Some(image) = self.images.pop_back() {
            self.pixels = self.pixels.saturating_sub(image.rgb.len());
        }
        // Positions are never reused (the table may still name them), ids
        // must be.
        self.next_id = id;
        true
    }

    /// Where a table entry leads, seen from `at` (the position being
    /// encoded): the image (None: the current one, which starts at `pos`)
    /// and the pixel in it.
    fn resolve(&self, entry: u32, at: u64, pos: u64) -> Option<(Option<&WindowImage>, usize)> {
        let low = entry.checked_sub(1)?;
        // The newest position with these low 32 bits before `at`.
        let mut candidate = (at & !0xffff_ffff) | u64::from(low);
        if candidate >= at {
            candidate = candidate.checked_sub(1 << 32)?;
        }
        if candidate >= pos {
            return Some((None, usize::try_from(candidate.saturating_sub(pos)).ok()?));
        }
        let index = self.images.partition_point(|i| i.end() <= candidate);
        let image = self.images.get(index)?;
        if candidate < image.pos {
            return None;
        }
        Some((
            Some(image),
            usize::try_from(candidate.saturating_sub(image.pos)).ok()?,
        ))
    }

    /// The RGB stream of the image `id` of pixels `rgb`, rows of `width`,
    /// at `pos`.
    fn compress_rgb(&mut self, rgb: &[u32], width: usize, pos: u64, id: u64, out: &mut Vec<u8>) {
        let mut literals_from = 0;
        let mut at = 0;
        let mut misses = 0usize;
        let mut copies = CopyStats::default();
        while let Some(slot) = hash_at(rgb, at, HASH_BITS) {
            let global = pos.saturating_add(at as u64);
            let mut best: Option<Found> = None;
            if let Some(prev) = at.checked_sub(1) {
                if rgb.get(prev) == rgb.get(at) {
                    best = copy(common(rgb, prev, at), 0, 0, &RGB);
                }
            }
            // The row above, as in LZ: the table loses it to nearer
            // repeats, and in text and UI it is the likeliest long copy.
            if let Some(above) = at.checked_sub(width).filter(|_| width > 1) {
                if rgb.get(above) == rgb.get(at) {
                    let found = copy(common(rgb, above, at), 0, width.saturating_sub(1), &RGB);
                    if let Some(f) = found {
                        if best.is_none_or(|b| better(&f, &b)) {
                            best = Some(f);
                        }
                    }
                }
            }
            // A long run of one colour (paper, a window's background) is
            // as cheap as copies get: looking further costs more than it
            // could save.
            let entry = if best.is_some_and(|b| b.len >= LONG_RUN) {
                0
            } else {
                self.table.get(slot).copied().unwrap_or(0)
            };
            if let Some((image, offset)) = self.resolve(entry, global, pos) {
                let found = match image {
                    None => {
                        let back = at.saturating_sub(offset);
                        copy(common(rgb, offset, at), 0, back.saturating_sub(1), &RGB)
                    }
                    Some(image) => copy(
                        match (image.rgb.get(offset..), rgb.get(at..)) {
                            (Some(a), Some(b)) => equal_prefix(a, b),
                            _ => 0,
                        },
                        id.saturating_sub(image.id),
                        offset,
                        &RGB,
                    ),
                };
                if let Some(f) = found {
                    if best.is_none_or(|b| better(&f, &b)) {
                        best = Some(f);
                    }
                }
            }
            if let Some(entry) = self.table.get_mut(slot) {
                *entry = (global as u32).wrapping_add(1);
            }
            let Some(found) = best else {
                // As in LZ: look less often where nothing matches.
                misses = misses.saturating_add(1);
                at = at.saturating_add((misses >> SKIP_SHIFT).min(MAX_SKIP).saturating_add(1));
                continue;
            };
            misses = 0;
            if found.image_distance > 0 {
                copies.from_window = copies.from_window.saturating_add(1);
                copies.window_pixels = copies.window_pixels.saturating_add(found.len);
            } else {
                copies.inside = copies.inside.saturating_add(1);
            }
            put_literals(rgb.get(literals_from..at).unwrap_or_default(), out);
            put_copy(&found, RGB.len_bias, out);
            let end = at.saturating_add(found.len);
            for p in end.saturating_sub(INSERT_TAIL).max(at.saturating_add(1))..end {
                if let Some(entry) = hash_at(rgb, p, HASH_BITS).and_then(|s| self.table.get_mut(s))
                {
                    *entry = (pos.saturating_add(p as u64) as u32).wrapping_add(1);
                }
            }
            at = end;
            literals_from = end;
        }
        put_literals(rgb.get(literals_from..).unwrap_or_default(), out);
        self.last_copies = copies;
    }
}

/// Bands of LZ after the dictionary did not pay.
const LZ_BANDS: u32 = 480;
/// Bands of GLZ that decide whether it pays.
const PROBE_BANDS: u32 = 8;

/// Whether a client's GLZ dictionary pays for the byte each copy inside
/// an image costs over LZ. GLZ wins where the client saw the pixels before
/// (a moved window, a sprite, a panned picture: the benchmark's box takes
/// 28 times fewer bytes than in LZ), LZ where it did not (text being
/// typed, lines scrolling in: 30 % fewer than GLZ). So GLZ goes first, and
/// after a run of bands whose copies from earlier images saved less than
/// their copies inside cost, LZ for a while, then GLZ again to see. What
/// goes in LZ never enters the dictionary: a later image cannot copy it.
#[derive(Debug, Default)]
pub struct WindowPays {
    /// Bytes the window saved minus the bytes its format cost, over the
    /// current probe.
    score: i64,
    probed: u32,
    lz_left: u32,
}

impl WindowPays {
    /// Whether the next band goes in GLZ.
    pub fn use_glz(&mut self) -> bool {
        if self.lz_left > 0 {
            self.lz_left = self.lz_left.saturating_sub(1);
            return false;
        }
        true
    }

    /// A band went in GLZ with these copies.
    pub fn coded(&mut self, copies: CopyStats) {
        // A pixel copied from the window instead of sent as a literal
        // saves its 3 bytes, less about 4 for the copy.
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        let saved = count(copies.window_pixels)
            .saturating_mul(3)
            .saturating_sub(count(copies.from_window).saturating_mul(4));
        self.score = self
            .score
            .saturating_add(saved.saturating_sub(count(copies.inside)));
        self.probed = self.probed.saturating_add(1);
        if self.probed >= PROBE_BANDS {
            if self.score < 0 {
                self.lz_left = LZ_BANDS;
            }
            self.score = 0;
            self.probed = 0;
        }
    }
}

/// How copies of a stream pay.
struct Stream {
    /// Bytes of one literal unit.
    unit_bytes: usize,
    /// The decoder adds this to the coded length.
    len_bias: usize,
}

const RGB: Stream = Stream {
    unit_bytes: 3,
    len_bias: 0,
};

const ALPHA: Stream = Stream {
    unit_bytes: 1,
    len_bias: 2,
};

/// A copy of `len` units, if it can be coded and saves bytes over
/// literals (counting the control byte literals after it need).
fn copy(len: usize, image_distance: u64, offset: usize, stream: &Stream) -> Option<Found> {
    if len <= stream.len_bias {
        return None;
    }
    let cost = copy_cost(image_distance, offset)?;
    (len.saturating_mul(stream.unit_bytes) > cost.saturating_add(1)).then_some(Found {
        len,
        image_distance,
        offset,
        cost,
    })
}

/// Whether `a` beats `b`: more units saved for its bytes.
fn better(a: &Found, b: &Found) -> bool {
    let gain = |f: &Found| f.len.saturating_mul(3).saturating_sub(f.cost);
    gain(a) > gain(b)
}

/// Bytes of a copy's coding, its length beyond 6 aside; None if it cannot
/// be coded.
fn copy_cost(image_distance: u64, offset: usize) -> Option<usize> {
    if offset >= MAX_OFFSET {
        return None;
    }
    if offset < 1 << 12 {
        return match image_distance {
            0..64 => Some(3),
            64..0x4000 => Some(4),
            0x4000..0x40_0000 => Some(5),
            0x40_0000..0x4000_0000 => Some(6),
            _ => None,
        };
    }
    let with_distance: usize = match image_distance {
        0 => 3,
        1..0x100 => 4,
        0x100..0x1_0000 => 5,
        0x1_0000..0x100_0000 => 6,
        _ => return None,
    };
    Some(if offset >= 1 << 17 {
        with_distance.saturating_add(1)
    } else {
        with_distance
    })
}

/// Appends a copy (which [`copy_cost`] accepted).
fn put_copy(found: &Found, len_bias: usize, out: &mut Vec<u8>) {
    let coded = found.len.saturating_sub(len_bias);
    let offset = found.offset;
    let distance = found.image_distance;
    let long = offset >= 1 << 12;
    let len_field = coded.min(7) as u8;
    out.push(len_field << 5 | u8::from(long) << 4 | (offset & 0x0f) as u8);
    if len_field == 7 {
        put_long_length(coded.saturating_sub(7), out);
    }
    out.push((offset >> 4) as u8);
    if !long {
        let extra: u8 = match distance {
            0..64 => 0,
            64..0x4000 => 1,
            0x4000..0x40_0000 => 2,
            _ => 3,
        };
        out.push(extra << 6 | (distance & 0x3f) as u8);
        let mut rest = distance >> 6;
        for _ in 0..extra {
            out.push(rest as u8);
            rest >>= 8;
        }
    } else {
        let very_long = offset >= 1 << 17;
        let extra: u8 = match distance {
            0 => 0,
            1..0x100 => 1,
            0x100..0x1_0000 => 2,
            _ => 3,
        };
        out.push(extra << 6 | u8::from(very_long) << 5 | ((offset >> 12) & 0x1f) as u8);
        let mut rest = distance;
        for _ in 0..extra {
            out.push(rest as u8);
            rest >>= 8;
        }
        if very_long {
            out.push((offset >> 17) as u8);
        }
    }
}

/// The alpha stream: copies inside the image only.
fn compress_alpha(alpha: &[u8], table: &mut [u32], out: &mut Vec<u8>) {
    const BITS: u32 = 14;
    table.fill(0);
    let mut literals_from = 0;
    let mut at = 0;
    while let Some(slot) = hash_at(alpha, at, BITS) {
        let mut best: Option<Found> = None;
        if let Some(prev) = at.checked_sub(1) {
            if alpha.get(prev) == alpha.get(at) {
                best = copy(common(alpha, prev, at), 0, 0, &ALPHA);
            }
        }
        if let Some(entry) = table.get_mut(slot) {
            if let Some(from) = (*entry as usize).checked_sub(1) {
                let back = at.saturating_sub(from);
                if back > 1 {
                    let found = copy(common(alpha, from, at), 0, back.saturating_sub(1), &ALPHA);
                    if let Some(f) = found {
                        if best.is_none_or(|b| f.len > b.len) {
                            best = Some(f);
                        }
                    }
                }
            }
            *entry = at.saturating_add(1) as u32;
        }
        let Some(found) = best else {
            at = at.saturating_add(1);
            continue;
        };
        put_literals(alpha.get(literals_from..at).unwrap_or_default(), out);
        put_copy(&found, ALPHA.len_bias, out);
        at = at.saturating_add(found.len);
        literals_from = at;
    }
    put_literals(alpha.get(literals_from..).unwrap_or_default(), out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::display::codecs::test_decoder::{expected, GlzWindow};
    use rand::{Rng, SeedableRng};

    fn rgb32(width: u32, height: u32, make: impl Fn(usize, usize) -> u32) -> Vec<u8> {
        let mut data = Vec::new();
        for y in 0..height as usize {
            for x in 0..width as usize {
                data.extend_from_slice(&make(x, y).to_le_bytes());
            }
        }
        data
    }

    fn image(kind: ImageType, width: u32, height: u32, data: &[u8]) -> Pixels<'_> {
        Pixels {
            kind,
            width,
            height,
            stride: width as usize * kind.bytes_per_pixel(),
            data,
        }
    }

    /// Encodes `image` into `dict`, decodes it in `window`, compares; the
    /// encoded size.
    fn send(dict: &mut GlzDictionary, window: &mut GlzWindow, image: &Pixels<'_>) -> usize {
        let mut out = Vec::new();
        let id = dict.encode(image, &mut out).expect("encodable");
        let decoded = window
            .decode(&out)
            .unwrap_or_else(|e| panic!("image {id} {}x{}: {e}", image.width, image.height));
        assert_eq!(decoded.kind, image.kind.wire());
        assert!(
            decoded.pixels == expected(image),
            "image {id} {:?} {}x{}: pixels differ",
            image.kind,
            image.width,
            image.height
        );
        out.len()
    }

    #[test]
    fn header_carries_id_and_window_head() {
        let mut dict = GlzDictionary::new(100);
        let data = rgb32(5, 5, |x, y| (x * 7 + y) as u32);
        let mut out = Vec::new();
        assert_eq!(
            dict.encode(&image(ImageType::Rgb32, 5, 5, &data), &mut out),
            Ok(0)
        );
        assert_eq!(
            &out[..29],
            &[
                0x20, 0x20, 0x5a, 0x4c, 0, 1, 0, 1, 0x18, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 20, 0,
                0, 0, 0, 0, 0, 0, 0,
            ]
        );
        assert_eq!(&out[29..33], &[0, 0, 0, 0], "window head: this image");
        // three more fit in 100 pixels; the fifth pushes the first out
        for id in 1..4 {
            out.clear();
            dict.encode(&image(ImageType::Rgb32, 5, 5, &data), &mut out)
                .unwrap();
            assert_eq!(&out[21..29], &(id as u64).to_be_bytes());
            assert_eq!(&out[29..33], &(id as u32).to_be_bytes());
        }
        out.clear();
        dict.encode(&image(ImageType::Rgb32, 5, 5, &data), &mut out)
            .unwrap();
        assert_eq!(&out[29..33], &3u32.to_be_bytes(), "image 4, head 1");
    }

    #[test]
    fn single_images_round_trip() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut dict = GlzDictionary::new(1 << 20);
        let mut window = GlzWindow::default();
        for (w, h) in [
            (1, 1),
            (2, 1),
            (1, 2),
            (7, 5),
            (33, 17),
            (129, 3),
            (16384, 1),
            (1, 4096),
        ] {
            for kind in [ImageType::Rgb24, ImageType::Rgb32, ImageType::Rgba] {
                let n = (w * h) as usize * kind.bytes_per_pixel();
                let noise: Vec<u8> = (0..n).map(|_| rng.gen()).collect();
                let few: Vec<u8> = (0..n)
                    .map(|_| [0, 0x80, 0xff][rng.gen_range(0..3)])
                    .collect();
                let solid = vec![0x42u8; n];
                for data in [&noise, &few, &solid] {
                    send(&mut dict, &mut window, &image(kind, w, h, data));
                }
            }
        }
    }

    #[test]
    fn repeated_images_cost_a_few_bytes() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let mut dict = GlzDictionary::new(1 << 20);
        let mut window = GlzWindow::default();
        // every pixel differs: LZ cannot shrink it, GLZ copies it whole
        let data = rgb32(256, 200, |x, y| (x << 16 | y << 8) as u32 ^ 0x40);
        let first = send(
            &mut dict,
            &mut window,
            &image(ImageType::Rgb32, 256, 200, &data),
        );
        assert!(first > 256 * 200 * 3, "{first}");
        let again = send(
            &mut dict,
            &mut window,
            &image(ImageType::Rgb32, 256, 200, &data),
        );
        assert!(again < 1000, "{again}");
        // a part of it, shifted, after images of noise
        for _ in 0..5 {
            let noise: Vec<u8> = (0..64 * 64 * 4).map(|_| rng.gen()).collect();
            send(
                &mut dict,
                &mut window,
                &image(ImageType::Rgb32, 64, 64, &noise),
            );
        }
        let part = rgb32(100, 50, |x, y| {
            ((x + 30) << 16 | (y + 70) << 8) as u32 ^ 0x40
        });
        let size = send(
            &mut dict,
            &mut window,
            &image(ImageType::Rgb32, 100, 50, &part),
        );
        // a copy per row, after at most a few literals
        assert!(size < 50 * 30, "{size}");
    }

    #[test]
    fn copies_are_counted_by_where_they_come_from() {
        let mut dict = GlzDictionary::new(1 << 20);
        let mut out = Vec::new();
        // Rows that repeat: copies inside the image only.
        let stripes = rgb32(
            64,
            32,
            |x, y| if (x / 8 + y) % 2 == 0 { 0x102030 } else { 0 },
        );
        dict.encode(&image(ImageType::Rgb32, 64, 32, &stripes), &mut out)
            .unwrap();
        let first = dict.last_copies();
        assert_eq!((first.from_window, first.window_pixels), (0, 0));
        assert!(first.inside > 0);
        // Unlike anything in it, then again: from the window.
        let ramp = rgb32(64, 32, |x, y| (x << 16 | y << 8) as u32 ^ 0x55);
        dict.encode(&image(ImageType::Rgb32, 64, 32, &ramp), &mut out)
            .unwrap();
        dict.encode(&image(ImageType::Rgb32, 64, 32, &ramp), &mut out)
            .unwrap();
        let again = dict.last_copies();
        assert!(again.from_window > 0);
        assert!(again.window_pixels > 64 * 30, "{again:?}");
    }

    #[test]
    fn lz_takes_over_while_the_window_does_not_pay() {
        let mut pays = WindowPays::default();
        let inside_only = CopyStats {
            inside: 20,
            ..CopyStats::default()
        };
        for _ in 0..PROBE_BANDS {
            assert!(pays.use_glz());
            pays.coded(inside_only);
        }
        for _ in 0..LZ_BANDS {
            assert!(!pays.use_glz());
        }
        // Then GLZ again, and a band copied from the window keeps it.
        let from_window = CopyStats {
            from_window: 10,
            window_pixels: 2000,
            inside: 20,
        };
        for _ in 0..PROBE_BANDS * 3 {
            assert!(pays.use_glz());
            pays.coded(if pays.probed == 0 {
                from_window
            } else {
                inside_only
            });
        }
    }

    #[test]
    fn the_window_wraps_and_never_names_a_dropped_image() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        // 10 images of 1000 pixels fit; 300 go through
        let mut dict = GlzDictionary::new(10_000);
        let mut window = GlzWindow::default();
        let tiles: Vec<Vec<u8>> = (0..30)
            .map(|_| (0..40 * 25 * 4).map(|_| rng.gen()).collect())
            .collect();
        let mut total = 0;
        for n in 0..300 {
            // tiles come back, often after they left the window
            let tile = &tiles[rng.gen_range(0..tiles.len())];
            total += send(
                &mut dict,
                &mut window,
                &image(ImageType::Rgb32, 40, 25, tile),
            );
            assert!(window.images.len() <= 10, "{n}: {}", window.images.len());
            assert!(dict.pixels <= dict.window());
        }
        assert_eq!(dict.next_id(), 300);
        assert!(total < 300 * 40 * 25 * 3, "{total}");
    }

    #[test]
    fn forgotten_images_give_back_their_id() {
        let mut dict = GlzDictionary::new(1 << 16);
        let mut window = GlzWindow::default();
        let a = rgb32(50, 20, |x, y| (x * 3 + y * 1000) as u32);
        let b = rgb32(50, 20, |x, y| (x * 5 + y * 77) as u32);
        send(&mut dict, &mut window, &image(ImageType::Rgb32, 50, 20, &a));
        let mut out = Vec::new();
        let lost = dict
            .encode(&image(ImageType::Rgb32, 50, 20, &b), &mut out)
            .unwrap();
        assert!(!dict.forget(lost + 1));
        assert!(dict.forget(lost));
        assert_eq!(dict.next_id(), lost);
        // the same pixels again must not copy from the forgotten image
        send(&mut dict, &mut window, &image(ImageType::Rgb32, 50, 20, &b));
        send(&mut dict, &mut window, &image(ImageType::Rgb32, 50, 20, &a));
    }

    #[test]
    fn every_copy_form_decodes() {
        // copies from images 1..2^24 back, at offsets up to 2^25 - 1
        let src: Vec<u8> = (0..8u8).flat_map(|i| [i, i ^ 0x55, 0xaa, 0]).collect();
        for distance in [
            1u64,
            63,
            64,
            0x3fff,
            0x4000,
            0x3f_ffff,
            0x40_0000,
            0x3fff_ffff,
        ] {
            for offset in [0usize, 5, 4095, 4096, (1 << 17) - 1, 1 << 17, (1 << 25) - 8] {
                let Some(cost) = copy_cost(distance, offset) else {
                    assert!(offset >= 4096 && distance >= 1 << 24);
                    continue;
                };
                let id = 1u64 << 31;
                let mut window = GlzWindow {
                    next_id: id,
                    ..GlzWindow::default()
                };
                let mut big = vec![0u8; (offset + 4) * 4];
                big[offset * 4..].copy_from_slice(&src[..16]);
                window.images.insert(id - distance, big);
                let mut bytes = Vec::new();
                bytes.extend_from_slice(&[0x20, 0x20, 0x5a, 0x4c, 0, 1, 0, 1, 0x18]);
                for w in [4u32, 1, 16] {
                    bytes.extend_from_slice(&w.to_be_bytes());
                }
                bytes.extend_from_slice(&id.to_be_bytes());
                bytes.extend_from_slice(&(distance as u32).to_be_bytes());
                let found = Found {
                    len: 4,
                    image_distance: distance,
                    offset,
                    cost,
                };
                let before = bytes.len();
                put_copy(&found, 0, &mut bytes);
                assert_eq!(bytes.len() - before, cost, "{distance} {offset}");
                let decoded = window.decode(&bytes).unwrap();
                assert_eq!(decoded.pixels, &src[..16], "{distance} {offset}");
            }
        }
    }

    #[test]
    fn larger_than_the_window_is_an_error() {
        let mut dict = GlzDictionary::new(100);
        let data = vec![0u8; 400];
        let mut out = Vec::new();
        assert_eq!(
            dict.encode(&image(ImageType::Rgb32, 10, 10, &data), &mut out),
            Err(ImageError::LargerThanWindow)
        );
        assert_eq!(
            GlzDictionary::new(0).encode(&image(ImageType::Rgb32, 1, 1, &data), &mut out),
            Err(ImageError::LargerThanWindow)
        );
        assert!(out.is_empty());
        assert_eq!(dict.next_id(), 0);
        assert_eq!(GlzDictionary::new(u32::MAX).window(), MAX_WINDOW_PIXELS);
    }

    /// Fuzz-style: random sequences of sizes, kinds and textures through
    /// small windows, some images forgotten: never a panic, always exact.
    #[test]
    fn fuzz_sequences_round_trip() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(4);
        for _ in 0..20 {
            let mut dict = GlzDictionary::new(rng.gen_range(1..3000));
            let mut window = GlzWindow::default();
            let palette: Vec<u8> = (0..rng.gen_range(1..5)).map(|_| rng.gen()).collect();
            for _ in 0..60 {
                let kind =
                    [ImageType::Rgb24, ImageType::Rgb32, ImageType::Rgba][rng.gen_range(0..3)];
                let (w, h) = (rng.gen_range(0..50u32), rng.gen_range(0..10u32));
                let stride = w as usize * kind.bytes_per_pixel() + rng.gen_range(0..2) * 4;
                let data: Vec<u8> = (0..stride * h as usize)
                    .map(|_| palette[rng.gen_range(0..palette.len())])
                    .collect();
                let img = Pixels {
                    kind,
                    width: w,
                    height: h,
                    stride,
                    data: &data,
                };
                let mut out = Vec::new();
                match dict.encode(&img, &mut out) {
                    Ok(id) if rng.gen_bool(0.1) => assert!(dict.forget(id)),
                    Ok(id) => {
                        let decoded = window
                            .decode(&out)
                            .unwrap_or_else(|e| panic!("image {id} {w}x{h}: {e}"));
                        assert!(decoded.pixels == expected(&img), "image {id}");
                    }
                    Err(_) => assert!(
                        img.pixel_count().is_err() || w as usize * h as usize >= dict.window()
                    ),
                }
            }
        }
    }
}
