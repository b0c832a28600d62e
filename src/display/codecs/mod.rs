//! The image codecs, as pure functions of pixels: no glib,
//! no I/O, bytes in and bytes out.
//!
//! * [`lz`]: LZ_RGB images, decoded by spice-common's `lz.c` (spice-gtk
//!   links it as its canvas decoder).
//! * [`glz`]: GLZ_RGB images, LZ with copies from earlier images of a
//!   dictionary the client keeps (spice-gtk's `decode-glz.c`).
//! * [`quic`]: QUIC images, SPICE's context-modelled Golomb coder for
//!   photo-like content (spice-common's `quic.c`).
//! * [`jpeg`]: JPEG through the system's libjpeg-turbo, lossy, for
//!   photo-like areas on slow links; [`zlib`]: zlib around GLZ
//!   (ZLIB_GLZ_RGB) through the system's zlib.
//!
//! Encoders never panic, whatever the sizes they are given: clippy denies
//! indexing, unchecked arithmetic and unwrapping here outside tests, and
//! every bad input is an [`ImageError`].

#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

pub mod glz;
pub mod jpeg;
pub mod lz;
// QUIC's tables and context model index by values its own arithmetic
// bounds, and its sizes are checked before any pixel is read; it is held
// to byte equality with spice-common's encoder and to a random
// no-panic test instead of these two lints.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
pub mod quic;

#[cfg(test)]
mod test_decoder;
pub mod zlib;

use std::fmt;

/// The pixel layouts the codecs take, named after spice-common's
/// `LzImageType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ImageType {
    /// Packed B, G, R bytes.
    Rgb24,
    /// B, G, R, X bytes (x8r8g8b8 little-endian, the surface format); the
    /// X byte is not sent and the client reads it as 0.
    Rgb32,
    /// B, G, R, A bytes; the alpha bytes travel as a second stream.
    Rgba,
}

impl ImageType {
    /// `LzImageType` (spice-common `lz_common.h`).
    pub const fn wire(self) -> u32 {
        match self {
            ImageType::Rgb24 => 7,
            ImageType::Rgb32 => 8,
            ImageType::Rgba => 9,
        }
    }

    /// Bytes of one input pixel, also the header's stride unit.
    pub const fn bytes_per_pixel(self) -> usize {
        match self {
            ImageType::Rgb24 => 3,
            ImageType::Rgb32 | ImageType::Rgba => 4,
        }
    }
}

/// Largest image, in pixels: the decoders count pixels, and allocate
/// 4 bytes each, in C `int`s.
pub const MAX_PIXELS: usize = (i32::MAX / 4) as usize;

/// An image to encode: `height` rows of `width` pixels, `stride` bytes
/// apart, top row first.
#[derive(Clone, Copy, Debug)]
pub struct Pixels<'a> {
    pub kind: ImageType,
    pub width: u32,
    pub height: u32,
    pub stride: usize,
    pub data: &'a [u8],
}

/// Why an image cannot be encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageError {
    /// No pixels: the format has no way to say so.
    Empty,
    /// More than [`MAX_PIXELS`], or sizes that overflow.
    TooLarge,
    /// A stride shorter than a row.
    BadStride { stride: usize, row_bytes: usize },
    /// Fewer bytes than the rows need.
    ShortData { needed: usize, actual: usize },
    /// Larger than the client's whole dictionary window (GLZ).
    LargerThanWindow,
    /// The system library (libjpeg-turbo, zlib) failed.
    Library(String),
    /// An alpha encoding (JPEG_ALPHA) of an image without alpha.
    NoAlpha,
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageError::Empty => write!(f, "empty image"),
            ImageError::TooLarge => write!(f, "image too large"),
            ImageError::NoAlpha => write!(f, "image without alpha"),
            ImageError::BadStride { stride, row_bytes } => {
                write!(f, "stride {stride} shorter than a row of {row_bytes} bytes")
            }
            ImageError::ShortData { needed, actual } => {
                write!(f, "{actual} bytes of pixels, {needed} needed")
            }
            ImageError::LargerThanWindow => write!(f, "image larger than the dictionary window"),
            ImageError::Library(why) => write!(f, "codec library: {why}"),
        }
    }
}

impl std::error::Error for ImageError {}

impl Pixels<'_> {
    /// The number of pixels, once the sizes are checked against the data.
    pub fn pixel_count(&self) -> Result<usize, ImageError> {
        let (width, height) = (self.width as usize, self.height as usize);
        if width == 0 || height == 0 {
            return Err(ImageError::Empty);
        }
        let count = width
            .checked_mul(height)
            .filter(|n| *n <= MAX_PIXELS)
            .ok_or(ImageError::TooLarge)?;
        let row_bytes = self.row_bytes().ok_or(ImageError::TooLarge)?;
        if self.stride < row_bytes {
            return Err(ImageError::BadStride {
                stride: self.stride,
                row_bytes,
            });
        }
        let needed = self
            .stride
            .checked_mul(height.saturating_sub(1))
            .and_then(|b| b.checked_add(row_bytes))
            .ok_or(ImageError::TooLarge)?;
        if self.data.len() < needed {
            return Err(ImageError::ShortData {
                needed,
                actual: self.data.len(),
            });
        }
        Ok(count)
    }

    fn row_bytes(&self) -> Option<usize> {
        (self.width as usize).checked_mul(self.kind.bytes_per_pixel())
    }

    /// The rows, each exactly `width` pixels long.
    fn rows(&self) -> impl Iterator<Item = &[u8]> {
        let row_bytes = self.row_bytes().unwrap_or(0);
        self.data
            .chunks(self.stride.max(1))
            .take(self.height as usize)
            .map(move |row| row.get(..row_bytes).unwrap_or_default())
    }

    /// The colour of every pixel as `0x00RRGGBB`, appended to `into`: the
    /// unit the codecs match on (the X byte of RGB32 is not part of it).
    pub(crate) fn gather_rgb(&self, into: &mut Vec<u32>) {
        for row in self.rows() {
            match self.kind {
                ImageType::Rgb24 => into.extend(
                    row.chunks_exact(3)
                        .map(|p| u32::from_le_bytes([at(p, 0), at(p, 1), at(p, 2), 0])),
                ),
                // A whole word masked: the compiler makes it a vector loop.
                ImageType::Rgb32 | ImageType::Rgba => into.extend(row.chunks_exact(4).map(|p| {
                    let word: [u8; 4] = p.try_into().unwrap_or_default();
                    u32::from_le_bytes(word) & 0x00ff_ffff
                })),
            }
        }
    }

    /// The alpha byte of every pixel (RGBA only), appended to `into`.
    pub(crate) fn gather_alpha(&self, into: &mut Vec<u8>) {
        for row in self.rows() {
            into.extend(row.chunks_exact(4).map(|p| at(p, 3)));
        }
    }
}

fn at(bytes: &[u8], i: usize) -> u8 {
    bytes.get(i).copied().unwrap_or(0)
}
