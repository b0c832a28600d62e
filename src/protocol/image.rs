//! SpiceImage: the 18-byte ImageDescriptor plus a type-dependent part, as
//! pointed to by DRAW_COPY's `src_bitmap`.
//!
//! Only what a from-scratch server sends is covered: uncompressed bitmaps
//! (no palette), QUIC, LZ, GLZ, LZ4, JPEG, cache references and surface
//! copies.

use super::constants::{bitmap_flags, image_type};
use super::error::{ProtocolError, Result};
use super::server_message::sized_bytes;
use super::writer::{len_u32, Writer};

/// The type-dependent part of an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageData<'a> {
    /// Raw pixels, `stride × height` bytes, inline. Use `bitmap_fmt::BIT32`
    /// with `bitmap_flags::TOP_DOWN` and stride = 4 × width for the widest
    /// client support. Palettes are not supported, so PAL_FROM_CACHE is
    /// rejected and the palette pointer is always NULL.
    Bitmap {
        format: u8,
        flags: u8,
        stride: u32,
        pixels: &'a [u8],
    },
    /// One LZ image (spice-common `lz.c` format: its own header with type,
    /// size and top-down flag, then the stream), as spice.proto's
    /// BinaryData: a `u32` size and the bytes. The client reads it as one
    /// chunk.
    LzRgb(&'a [u8]),
    /// One GLZ image (spice-gtk `decode-glz.c` format), as LZ_RGB: a `u32`
    /// size and the bytes.
    GlzRgb(&'a [u8]),
    /// One QUIC stream (see `display::codecs::quic`): whole 32-bit words,
    /// its header repeating the descriptor's width and height.
    Quic(&'a [u8]),
    /// The LZ4 payload: top_down byte, bitmap_fmt byte, then big-endian
    /// length-prefixed raw LZ4 blocks (see [`lz4_image_payload`]).
    Lz4(&'a [u8]),
    /// One baseline JPEG file, sized exactly width × height.
    Jpeg(&'a [u8]),
    /// A JPEG of the colours followed by an LZ stream of type XXXA of the
    /// alpha (see `display::codecs::jpeg`): flags (`jpeg_alpha_flags`),
    /// the JPEG's size, then a `u32` size and both.
    JpegAlpha {
        flags: u8,
        jpeg_size: u32,
        data: &'a [u8],
    },
    /// One GLZ image, zlib-compressed (with zlib's header, as the client
    /// inflates it): the GLZ stream's size, then a `u32` size and the
    /// compressed bytes.
    ZlibGlzRgb { glz_data_size: u32, data: &'a [u8] },
    /// Draw the client's cached copy of the descriptor id.
    FromCache,
    /// Same, asking for the lossless copy.
    FromCacheLossless,
    /// Copy from another surface.
    Surface { surface_id: u32 },
}

/// A complete image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Image<'a> {
    /// Cache id (only meaningful with CACHE_ME / FROM_CACHE).
    pub id: u64,
    /// `image_flags`; a server without cache accounting leaves CACHE_ME off.
    pub flags: u8,
    pub width: u32,
    pub height: u32,
    pub data: ImageData<'a>,
}

impl Image<'_> {
    /// The descriptor's `image_type`.
    pub fn image_type(&self) -> u8 {
        match self.data {
            ImageData::Bitmap { .. } => image_type::BITMAP,
            ImageData::LzRgb(_) => image_type::LZ_RGB,
            ImageData::GlzRgb(_) => image_type::GLZ_RGB,
            ImageData::Quic(_) => image_type::QUIC,
            ImageData::Lz4(_) => image_type::LZ4,
            ImageData::Jpeg(_) => image_type::JPEG,
            ImageData::JpegAlpha { .. } => image_type::JPEG_ALPHA,
            ImageData::ZlibGlzRgb { .. } => image_type::ZLIB_GLZ_RGB,
            ImageData::FromCache => image_type::FROM_CACHE,
            ImageData::FromCacheLossless => image_type::FROM_CACHE_LOSSLESS,
            ImageData::Surface { .. } => image_type::SURFACE,
        }
    }

    /// Appends descriptor and data.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u64(self.id);
        w.u8(self.image_type());
        w.u8(self.flags);
        w.u32(self.width);
        w.u32(self.height);
        match self.data {
            ImageData::Bitmap {
                format,
                flags,
                stride,
                pixels,
            } => {
                if flags & bitmap_flags::PAL_FROM_CACHE != 0 {
                    return Err(ProtocolError::InvalidValue {
                        field: "bitmap flags (palettes unsupported)",
                        value: u64::from(flags),
                    });
                }
                let expected = u64::from(stride).saturating_mul(u64::from(self.height));
                if pixels.len() as u64 != expected {
                    return Err(ProtocolError::LengthMismatch {
                        field: "bitmap pixels (stride × height)",
                        expected,
                        actual: pixels.len() as u64,
                    });
                }
                w.u8(format);
                w.u8(flags);
                w.u32(self.width);
                w.u32(self.height);
                w.u32(stride);
                w.u32(0); // palette pointer: none
                w.bytes(pixels);
            }
            ImageData::LzRgb(data) => sized_bytes(w, "lz data_size", data)?,
            ImageData::GlzRgb(data) => sized_bytes(w, "glz data_size", data)?,
            ImageData::Quic(data) => sized_bytes(w, "quic data_size", data)?,
            ImageData::Lz4(data) => sized_bytes(w, "lz4 data_size", data)?,
            ImageData::Jpeg(data) => sized_bytes(w, "jpeg data_size", data)?,
            ImageData::JpegAlpha {
                flags,
                jpeg_size,
                data,
            } => {
                if jpeg_size as usize > data.len() {
                    return Err(ProtocolError::LengthMismatch {
                        field: "jpeg_alpha jpeg_size",
                        expected: data.len() as u64,
                        actual: u64::from(jpeg_size),
                    });
                }
                w.u8(flags);
                w.u32(jpeg_size);
                sized_bytes(w, "jpeg_alpha data_size", data)?
            }
            ImageData::ZlibGlzRgb {
                glz_data_size,
                data,
            } => {
                w.u32(glz_data_size);
                sized_bytes(w, "zlib-glz data_size", data)?
            }
            ImageData::FromCache | ImageData::FromCacheLossless => {}
            ImageData::Surface { surface_id } => w.u32(surface_id),
        }
        Ok(())
    }
}

/// Builds an LZ4 image payload: `top_down` byte, `format` byte (16BIT,
/// 24BIT, 32BIT or RGBA), then each block as a **big-endian** u32 length and
/// the raw LZ4 block. Rows inside must be packed (width × bytes-per-pixel).
pub fn lz4_image_payload(top_down: bool, format: u8, blocks: &[&[u8]]) -> Result<Vec<u8>> {
    let mut out = vec![u8::from(top_down), format];
    for block in blocks {
        out.extend_from_slice(&len_u32("lz4 block length", block.len())?.to_be_bytes());
        out.extend_from_slice(block);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::constants::{bitmap_fmt, jpeg_alpha_flags};

    fn enc(img: &Image<'_>) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        img.encode(&mut Writer::new(&mut out))?;
        Ok(out)
    }

    #[test]
    fn lz4_payload_lengths_are_big_endian() {
        let p = lz4_image_payload(true, bitmap_fmt::BIT32, &[&[0xaa, 0xbb], &[0xcc]]).unwrap();
        assert_eq!(p, [1, 8, 0, 0, 0, 2, 0xaa, 0xbb, 0, 0, 0, 1, 0xcc]);
        assert_eq!(lz4_image_payload(false, 9, &[]).unwrap(), [0, 9]);
    }

    #[test]
    fn bitmap_checks() {
        let pixels = [0u8; 8];
        let mut img = Image {
            id: 0,
            flags: 0,
            width: 2,
            height: 1,
            data: ImageData::Bitmap {
                format: bitmap_fmt::BIT32,
                flags: bitmap_flags::TOP_DOWN,
                stride: 8,
                pixels: &pixels,
            },
        };
        assert_eq!(enc(&img).unwrap().len(), 18 + 18 + 8);
        img.height = 2;
        assert!(enc(&img).is_err());
        img.height = 1;
        img.data = ImageData::Bitmap {
            format: bitmap_fmt::BIT32,
            flags: bitmap_flags::PAL_FROM_CACHE,
            stride: 8,
            pixels: &pixels,
        };
        assert!(enc(&img).is_err());
        img.data = ImageData::Bitmap {
            format: bitmap_fmt::BIT32,
            flags: 0,
            stride: u32::MAX,
            pixels: &pixels,
        };
        assert!(enc(&img).is_err());
    }

    #[test]
    fn other_kinds() {
        let base = Image {
            id: 5,
            flags: 0,
            width: 1,
            height: 1,
            data: ImageData::FromCache,
        };
        let b = enc(&base).unwrap();
        assert_eq!(b, [5, 0, 0, 0, 0, 0, 0, 0, 103, 0, 1, 0, 0, 0, 1, 0, 0, 0]);
        let img = Image {
            data: ImageData::Surface { surface_id: 3 },
            ..base
        };
        assert_eq!(
            &enc(&img).unwrap()[8..],
            &[104, 0, 1, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0]
        );
        let img = Image {
            data: ImageData::Jpeg(&[0xff, 0xd8]),
            ..base
        };
        assert_eq!(&enc(&img).unwrap()[18..], &[2, 0, 0, 0, 0xff, 0xd8]);
        assert_eq!(img.image_type(), 105);
        let img = Image {
            data: ImageData::LzRgb(&[0x20, 0x20]),
            ..base
        };
        assert_eq!(img.image_type(), 101);
        assert_eq!(&enc(&img).unwrap()[18..], &[2, 0, 0, 0, 0x20, 0x20]);
        let img = Image {
            data: ImageData::GlzRgb(&[0x20]),
            ..base
        };
        assert_eq!(img.image_type(), 102);
        assert_eq!(&enc(&img).unwrap()[18..], &[1, 0, 0, 0, 0x20]);
        let img = Image {
            data: ImageData::Quic(b"QUIC\0\0\0\0"),
            ..base
        };
        assert_eq!(img.image_type(), 1);
        assert_eq!(&enc(&img).unwrap()[18..], b"\x08\0\0\0QUIC\0\0\0\0");
        let img = Image {
            data: ImageData::ZlibGlzRgb {
                glz_data_size: 300,
                data: &[0x78, 0x9c],
            },
            ..base
        };
        assert_eq!(img.image_type(), 107);
        assert_eq!(
            &enc(&img).unwrap()[18..],
            &[0x2c, 1, 0, 0, 2, 0, 0, 0, 0x78, 0x9c]
        );
        let img = Image {
            data: ImageData::FromCacheLossless,
            ..base
        };
        assert_eq!(img.image_type(), 106);
        let img = Image {
            data: ImageData::JpegAlpha {
                flags: jpeg_alpha_flags::TOP_DOWN,
                jpeg_size: 2,
                data: &[0xff, 0xd8, 0x20],
            },
            ..base
        };
        assert_eq!(img.image_type(), 108);
        assert_eq!(
            &enc(&img).unwrap()[18..],
            &[1, 2, 0, 0, 0, 3, 0, 0, 0, 0xff, 0xd8, 0x20]
        );
        // A JPEG larger than the data is refused.
        let img = Image {
            data: ImageData::JpegAlpha {
                flags: 0,
                jpeg_size: 4,
                data: &[0xff, 0xd8, 0x20],
            },
            ..base
        };
        assert!(enc(&img).is_err());
    }
}
