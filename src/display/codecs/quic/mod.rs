//! A QUIC encoder: SPICE's lossless image codec (an SFALIC derivative:
//! prediction from the left and upper neighbours, context-modelled
//! Golomb-Rice codes, run lengths), producing what spice-common's decoder
//! in every SPICE client reads. Bytes in, bytes out, no panics.
//!
//! The stream is 32-bit little-endian words, bits taken from the most
//! significant end: the magic "QUIC", the version (0), the image type,
//! width and height, then the rows, then zero padding to a word and one
//! zero word.

mod golomb;
mod model;
mod rows;

#[cfg(test)]
mod decoder;
#[cfg(test)]
mod tests;

use golomb::BitWriter;
use rows::Group;

/// "QUIC", read as a little-endian word.
const MAGIC: u32 = u32::from_le_bytes(*b"QUIC");
/// Version 0.0: the only one there is.
const VERSION: u32 = 0;

/// The pixel layouts QUIC can carry, with their numbers on the wire
/// (spice-common's `QuicImageType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageType {
    /// Packed 3-byte pixels: B, G, R.
    Rgb24 = 3,
    /// 4-byte x8r8g8b8 pixels: B, G, R and an ignored byte (the decoder
    /// writes 0 there).
    Rgb32 = 4,
    /// 4-byte a8r8g8b8 pixels: B, G, R, A; alpha is coded after each row's
    /// colours.
    Rgba = 5,
}

impl ImageType {
    /// Bytes per input pixel.
    pub fn bytes_per_pixel(self) -> usize {
        match self {
            ImageType::Rgb24 => 3,
            ImageType::Rgb32 | ImageType::Rgba => 4,
        }
    }
}

/// Why an image cannot be encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuicError {
    /// The rows do not fit in the buffer given.
    BufferTooSmall { needed: u64, actual: usize },
    /// The stride is shorter than a row of pixels.
    StrideTooSmall { stride: usize, row_bytes: u64 },
    /// Width or height beyond what the decoder's `int` fields take.
    TooLarge { width: u32, height: u32 },
}

impl std::fmt::Display for QuicError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QuicError::BufferTooSmall { needed, actual } => {
                write!(f, "QUIC: {needed} bytes of pixels needed, {actual} given")
            }
            QuicError::StrideTooSmall { stride, row_bytes } => {
                write!(
                    f,
                    "QUIC: stride {stride} is less than a row ({row_bytes} bytes)"
                )
            }
            QuicError::TooLarge { width, height } => {
                write!(f, "QUIC: a {width}x{height} image is too large")
            }
        }
    }
}

impl std::error::Error for QuicError {}

/// Encodes `height` rows of `width` pixels, `stride` bytes apart in
/// `pixels` (top row first; the last row need not be padded to `stride`).
/// An empty image gives a header with no rows.
pub fn encode(
    image_type: ImageType,
    width: u32,
    height: u32,
    stride: usize,
    pixels: &[u8],
) -> Result<Vec<u8>, QuicError> {
    let too_large = QuicError::TooLarge { width, height };
    if width > i32::MAX as u32 || height > i32::MAX as u32 {
        return Err(too_large);
    }
    let bpp = image_type.bytes_per_pixel() as u64;
    let row_bytes = u64::from(width) * bpp;
    if width > 0 && height > 0 {
        if (stride as u64) < row_bytes {
            return Err(QuicError::StrideTooSmall { stride, row_bytes });
        }
        let needed = (stride as u64)
            .checked_mul(u64::from(height) - 1)
            .and_then(|n| n.checked_add(row_bytes))
            .ok_or(too_large)?;
        if needed > pixels.len() as u64 {
            return Err(QuicError::BufferTooSmall {
                needed,
                actual: pixels.len(),
            });
        }
    }
    // Photos come out at a third to a half of the raw size.
    let mut out = BitWriter::with_capacity(24 + pixels.len() / 2);
    for word in [MAGIC, VERSION, image_type as u32, width, height] {
        out.put(word, 32);
    }
    if width > 0 && height > 0 {
        let (width, height) = (width as usize, height as usize);
        let row_len = width * bpp as usize;
        let row = |y: usize| &pixels[y * stride..y * stride + row_len];
        match image_type {
            ImageType::Rgb24 => code_rgb::<3>(&mut out, width, height, row),
            ImageType::Rgb32 => code_rgb::<4>(&mut out, width, height, row),
            ImageType::Rgba => {
                let mut rgb = Group::<3, 4>::new(width);
                let mut alpha = Group::<1, 4>::new(width);
                rgb.first_row(&mut out, row(0), width);
                alpha.first_row(&mut out, row(0), width);
                for y in 1..height {
                    rgb.next_row(&mut out, row(y - 1), row(y), width);
                    alpha.next_row(&mut out, row(y - 1), row(y), width);
                }
            }
        }
    }
    Ok(out.finish())
}

/// Codes R, G and B (bytes 2, 1 and 0 of each `BPP`-byte pixel).
fn code_rgb<'a, const BPP: usize>(
    out: &mut BitWriter,
    width: usize,
    height: usize,
    row: impl Fn(usize) -> &'a [u8],
) {
    let mut rgb = Group::<3, BPP>::new(width);
    rgb.first_row(out, row(0), width);
    for y in 1..height {
        rgb.next_row(out, row(y - 1), row(y), width);
    }
}
