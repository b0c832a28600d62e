//! zlib around GLZ (ZLIB_GLZ_RGB): spice-server wraps a GLZ image in zlib
//! on slow links when that saves bytes, and spice-gtk inflates it
//! (`decode-zlib.c`, `inflateInit`: zlib's own header and checksum) into a
//! buffer of exactly the GLZ size the image states, before the GLZ
//! decoder sees it. Through the system's zlib, as spice-gtk's.

use std::io::Write;

use flate2::write::ZlibEncoder;
use flate2::Compression;

use super::ImageError;

/// spice-server's default zlib level (`zlib-glz-wan-compression`'s).
pub const DEFAULT_LEVEL: u32 = 3;

/// `glz` compressed with zlib at `level` (0–9), or `None` when that
/// saves nothing, in which case the GLZ image goes as it is.
pub fn wrap(glz: &[u8], level: u32) -> Result<Option<Vec<u8>>, ImageError> {
    if u32::try_from(glz.len()).is_err() {
        return Err(ImageError::TooLarge);
    }
    let mut encoder = ZlibEncoder::new(
        Vec::with_capacity(glz.len() / 2),
        Compression::new(level.min(9)),
    );
    encoder
        .write_all(glz)
        .map_err(|e| ImageError::Library(e.to_string()))?;
    let wrapped = encoder
        .finish()
        .map_err(|e| ImageError::Library(e.to_string()))?;
    Ok((wrapped.len() < glz.len()).then_some(wrapped))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::display::codecs::glz::GlzDictionary;
    use crate::display::codecs::{test_decoder, ImageType, Pixels};
    use std::io::Read;

    fn inflate(data: &[u8], expected_len: usize) -> Vec<u8> {
        // As spice-gtk does: a zlib stream, into a buffer of the size the
        // image states.
        let mut out = Vec::new();
        flate2::read::ZlibDecoder::new(data)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out.len(), expected_len);
        out
    }

    #[test]
    fn wrapped_glz_inflates_to_the_same_stream_and_pixels() {
        // Text-like rows: few colours, repeated runs (what GLZ leaves
        // compressible for zlib).
        let (w, h) = (300u32, 40u32);
        let mut data = Vec::new();
        for y in 0..h {
            for x in 0..w {
                let ink = (x / 3 + y / 5) % 7 == 0;
                data.extend_from_slice(if ink {
                    &[20, 20, 20, 0]
                } else {
                    &[250, 250, 250, 0]
                });
            }
        }
        let image = Pixels {
            kind: ImageType::Rgb32,
            width: w,
            height: h,
            stride: w as usize * 4,
            data: &data,
        };
        let mut dictionary = GlzDictionary::new(1 << 20);
        let mut glz = Vec::new();
        dictionary.encode(&image, &mut glz).unwrap();
        let wrapped = wrap(&glz, DEFAULT_LEVEL)
            .unwrap()
            .expect("zlib saves bytes here");
        assert!(wrapped.len() < glz.len());
        let inflated = inflate(&wrapped, glz.len());
        assert_eq!(inflated, glz);
        let decoded = test_decoder::GlzWindow::default()
            .decode(&inflated)
            .unwrap();
        assert_eq!(decoded.pixels, test_decoder::expected(&image));
    }

    #[test]
    fn incompressible_streams_are_left_alone() {
        let mut state = 0x1234_5678u32;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as u8
            })
            .collect();
        assert_eq!(wrap(&noise, DEFAULT_LEVEL).unwrap(), None);
        assert_eq!(wrap(&[], DEFAULT_LEVEL).unwrap(), None);
    }
}
