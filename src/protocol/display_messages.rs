//! Display channel (type 2): surfaces, drawing, video streams.

use super::constants::{brush_type, msg, msgc, resource_type};
use super::error::Result;
use super::image::Image;
use super::reader::Reader;
use super::server_message::{empty_server_message, sized_bytes, ServerMessage};
use super::types::{Clip, DisplayBase, Head, Point, Rect};
use super::writer::{len_u16, len_u8, Writer};

/// A display-channel message sent by the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisplayClientMessage<'a> {
    /// Sent first on every display channel; sizes are in pixels.
    Init {
        pixmap_cache_id: u8,
        pixmap_cache_size: i64,
        glz_dictionary_id: u8,
        glz_dictionary_window_size: i32,
    },
    /// Stream playback statistics. `num_frames == 0 && num_drops == u32::MAX`
    /// means the client cannot decode the stream.
    StreamReport {
        stream_id: u32,
        unique_id: u32,
        start_frame_mm_time: u32,
        end_frame_mm_time: u32,
        num_frames: u32,
        num_drops: u32,
        last_frame_delay: i32,
        audio_delay: u32,
    },
    /// `image_compression` value.
    PreferredCompression {
        image_compression: u8,
    },
    GlDrawDone,
    /// `video_codec` values, most preferred first.
    PreferredVideoCodecType {
        codecs: &'a [u8],
    },
}

impl<'a> DisplayClientMessage<'a> {
    /// Parses a display-channel type; `Ok(None)` for an unknown type.
    pub fn parse(msg_type: u16, body: &'a [u8]) -> Result<Option<Self>> {
        use DisplayClientMessage as M;
        let mut r = Reader::new(body);
        let m = match msg_type {
            msgc::display::INIT => M::Init {
                pixmap_cache_id: r.u8()?,
                pixmap_cache_size: r.i64()?,
                glz_dictionary_id: r.u8()?,
                glz_dictionary_window_size: r.i32()?,
            },
            msgc::display::STREAM_REPORT => M::StreamReport {
                stream_id: r.u32()?,
                unique_id: r.u32()?,
                start_frame_mm_time: r.u32()?,
                end_frame_mm_time: r.u32()?,
                num_frames: r.u32()?,
                num_drops: r.u32()?,
                last_frame_delay: r.i32()?,
                audio_delay: r.u32()?,
            },
            msgc::display::PREFERRED_COMPRESSION => M::PreferredCompression {
                image_compression: r.u8()?,
            },
            msgc::display::GL_DRAW_DONE => M::GlDrawDone,
            msgc::display::PREFERRED_VIDEO_CODEC_TYPE => {
                let n = r.u8()?;
                M::PreferredVideoCodecType {
                    codecs: r.bytes(usize::from(n))?,
                }
            }
            _ => return Ok(None),
        };
        Ok(Some(m))
    }

    /// The `SPICE_MSGC_DISPLAY_*` type number.
    pub fn msg_type(&self) -> u16 {
        use DisplayClientMessage as M;
        match self {
            M::Init { .. } => msgc::display::INIT,
            M::StreamReport { .. } => msgc::display::STREAM_REPORT,
            M::PreferredCompression { .. } => msgc::display::PREFERRED_COMPRESSION,
            M::GlDrawDone => msgc::display::GL_DRAW_DONE,
            M::PreferredVideoCodecType { .. } => msgc::display::PREFERRED_VIDEO_CODEC_TYPE,
        }
    }

    /// Appends the body as a client would send it.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        use DisplayClientMessage as M;
        let mut w = Writer::new(out);
        match *self {
            M::Init {
                pixmap_cache_id,
                pixmap_cache_size,
                glz_dictionary_id,
                glz_dictionary_window_size,
            } => {
                w.u8(pixmap_cache_id);
                w.i64(pixmap_cache_size);
                w.u8(glz_dictionary_id);
                w.i32(glz_dictionary_window_size);
            }
            M::StreamReport {
                stream_id,
                unique_id,
                start_frame_mm_time,
                end_frame_mm_time,
                num_frames,
                num_drops,
                last_frame_delay,
                audio_delay,
            } => {
                w.u32(stream_id);
                w.u32(unique_id);
                w.u32(start_frame_mm_time);
                w.u32(end_frame_mm_time);
                w.u32(num_frames);
                w.u32(num_drops);
                w.i32(last_frame_delay);
                w.u32(audio_delay);
            }
            M::PreferredCompression { image_compression } => w.u8(image_compression),
            M::GlDrawDone => {}
            M::PreferredVideoCodecType { codecs } => {
                w.u8(len_u8("num_of_codecs", codecs.len())?);
                w.bytes(codecs);
            }
        }
        Ok(())
    }
}

/// Writes an empty QMask (flags 0, pos (0,0), bitmap NULL): 13 bytes.
fn no_mask(w: &mut Writer<'_>) {
    w.u8(0);
    Point::default().encode(w);
    w.u32(0);
}

/// SURFACE_CREATE (20 bytes). The primary surface (flags PRIMARY) must come
/// before anything is drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SurfaceCreate {
    pub surface_id: u32,
    pub width: u32,
    pub height: u32,
    /// `surface_fmt` (u32).
    pub format: u32,
    /// `surface_flags` (u32); only PRIMARY for pre-MULTI_CODEC clients.
    pub flags: u32,
}

impl ServerMessage for SurfaceCreate {
    fn msg_type(&self) -> u16 {
        msg::display::SURFACE_CREATE
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let mut w = Writer::new(out);
        w.u32(self.surface_id);
        w.u32(self.width);
        w.u32(self.height);
        w.u32(self.format);
        w.u32(self.flags);
        Ok(())
    }
}

/// SURFACE_DESTROY.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SurfaceDestroy {
    pub surface_id: u32,
}

impl ServerMessage for SurfaceDestroy {
    fn msg_type(&self) -> u16 {
        msg::display::SURFACE_DESTROY
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        Writer::new(out).u32(self.surface_id);
        Ok(())
    }
}

/// MONITORS_CONFIG: must be sent if the server advertised the cap, or the
/// spice-gtk widget stays blank.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MonitorsConfig<'a> {
    pub max_allowed: u16,
    pub heads: &'a [Head],
}

impl ServerMessage for MonitorsConfig<'_> {
    fn msg_type(&self) -> u16 {
        msg::display::MONITORS_CONFIG
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let mut w = Writer::new(out);
        w.u16(len_u16("monitors count", self.heads.len())?);
        w.u16(self.max_allowed);
        for h in self.heads {
            h.encode(&mut w);
        }
        Ok(())
    }
}

/// A brush without image patterns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Brush {
    #[default]
    None,
    /// Solid colour, x8r8g8b8.
    Solid(u32),
}

impl Brush {
    fn encode(&self, w: &mut Writer<'_>) {
        match *self {
            Brush::None => w.u8(brush_type::NONE),
            Brush::Solid(color) => {
                w.u8(brush_type::SOLID);
                w.u32(color);
            }
        }
    }
}

/// DRAW_FILL with no mask.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DrawFill<'a> {
    pub base: DisplayBase<'a>,
    pub brush: Brush,
    /// `ropd` flags; `OP_PUT` for a plain fill.
    pub rop_descriptor: u16,
}

impl ServerMessage for DrawFill<'_> {
    fn msg_type(&self) -> u16 {
        msg::display::DRAW_FILL
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let mut w = Writer::new(out);
        self.base.encode(&mut w)?;
        self.brush.encode(&mut w);
        w.u16(self.rop_descriptor);
        no_mask(&mut w);
        Ok(())
    }
}

/// DRAW_COPY with no mask: the image is appended after the fixed part and
/// `src_bitmap` points at it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DrawCopy<'a> {
    pub base: DisplayBase<'a>,
    pub image: Image<'a>,
    /// Source rectangle in image pixels, usually (0,0)-(w,h).
    pub src_area: Rect,
    /// `ropd` flags; `OP_PUT` for a plain copy.
    pub rop_descriptor: u16,
    /// `image_scale_mode`.
    pub scale_mode: u8,
}

impl ServerMessage for DrawCopy<'_> {
    fn msg_type(&self) -> u16 {
        msg::display::DRAW_COPY
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let mut w = Writer::new(out);
        self.base.encode(&mut w)?;
        let src_bitmap = w.placeholder_u32();
        self.src_area.encode(&mut w);
        w.u16(self.rop_descriptor);
        w.u8(self.scale_mode);
        no_mask(&mut w);
        w.point_here(src_bitmap)?;
        self.image.encode(&mut w)
    }
}

/// COPY_BITS: copy a screen area from `src_pos` to `base.bbox`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CopyBits<'a> {
    pub base: DisplayBase<'a>,
    pub src_pos: Point,
}

impl ServerMessage for CopyBits<'_> {
    fn msg_type(&self) -> u16 {
        msg::display::COPY_BITS
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let mut w = Writer::new(out);
        self.base.encode(&mut w)?;
        self.src_pos.encode(&mut w);
        Ok(())
    }
}

/// STREAM_CREATE (50 bytes + clip). Use `Clip::None` for a visible stream:
/// RECTS with no rects shows nothing until STREAM_CLIP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamCreate<'a> {
    pub surface_id: u32,
    /// Below `SPICE_MAX_NUM_STREAMS`.
    pub id: u32,
    /// `stream_flags`; set TOP_DOWN or spice-gtk flips the frames.
    pub flags: u8,
    /// `video_codec`.
    pub codec_type: u8,
    pub stamp: u64,
    pub stream_width: u32,
    pub stream_height: u32,
    pub src_width: u32,
    pub src_height: u32,
    pub dest: Rect,
    pub clip: Clip<'a>,
}

impl ServerMessage for StreamCreate<'_> {
    fn msg_type(&self) -> u16 {
        msg::display::STREAM_CREATE
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let mut w = Writer::new(out);
        w.u32(self.surface_id);
        w.u32(self.id);
        w.u8(self.flags);
        w.u8(self.codec_type);
        w.u64(self.stamp);
        w.u32(self.stream_width);
        w.u32(self.stream_height);
        w.u32(self.src_width);
        w.u32(self.src_height);
        self.dest.encode(&mut w);
        self.clip.encode(&mut w)
    }
}

/// STREAM_DATA: one encoded frame, shown at `multi_media_time` (server
/// mm-clock, ms).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamData<'a> {
    pub id: u32,
    pub multi_media_time: u32,
    pub data: &'a [u8],
}

impl ServerMessage for StreamData<'_> {
    fn msg_type(&self) -> u16 {
        msg::display::STREAM_DATA
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let mut w = Writer::new(out);
        w.u32(self.id);
        w.u32(self.multi_media_time);
        sized_bytes(&mut w, "stream data_size", self.data)
    }
}

/// STREAM_DATA_SIZED: a frame with its own size and destination (needs the
/// client's SIZED_STREAM cap).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamDataSized<'a> {
    pub id: u32,
    pub multi_media_time: u32,
    pub width: u32,
    pub height: u32,
    pub dest: Rect,
    pub data: &'a [u8],
}

impl ServerMessage for StreamDataSized<'_> {
    fn msg_type(&self) -> u16 {
        msg::display::STREAM_DATA_SIZED
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let mut w = Writer::new(out);
        w.u32(self.id);
        w.u32(self.multi_media_time);
        w.u32(self.width);
        w.u32(self.height);
        self.dest.encode(&mut w);
        sized_bytes(&mut w, "stream data_size", self.data)
    }
}

/// STREAM_CLIP: new visible region of a stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamClip<'a> {
    pub id: u32,
    pub clip: Clip<'a>,
}

impl ServerMessage for StreamClip<'_> {
    fn msg_type(&self) -> u16 {
        msg::display::STREAM_CLIP
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let mut w = Writer::new(out);
        w.u32(self.id);
        self.clip.encode(&mut w)
    }
}

/// STREAM_DESTROY.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamDestroy {
    pub id: u32,
}

impl ServerMessage for StreamDestroy {
    fn msg_type(&self) -> u16 {
        msg::display::STREAM_DESTROY
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        Writer::new(out).u32(self.id);
        Ok(())
    }
}

/// STREAM_ACTIVATE_REPORT: asks for STREAM_REPORTs on a stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamActivateReport {
    pub stream_id: u32,
    pub unique_id: u32,
    pub max_window_size: u32,
    pub timeout_ms: u32,
}

impl ServerMessage for StreamActivateReport {
    fn msg_type(&self) -> u16 {
        msg::display::STREAM_ACTIVATE_REPORT
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let mut w = Writer::new(out);
        w.u32(self.stream_id);
        w.u32(self.unique_id);
        w.u32(self.max_window_size);
        w.u32(self.timeout_ms);
        Ok(())
    }
}

/// INVAL_PALETTE: drop one cached palette.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InvalPalette {
    pub id: u64,
}

impl ServerMessage for InvalPalette {
    fn msg_type(&self) -> u16 {
        msg::display::INVAL_PALETTE
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        Writer::new(out).u64(self.id);
        Ok(())
    }
}

/// INVAL_LIST: drop these pixmaps from the client's image cache. (spice-gtk
/// has no handler for INVAL_PIXMAP; this is the message it takes.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InvalPixmaps<'a> {
    /// Cache ids, at most 65535 (the count is a `u16`).
    pub ids: &'a [u64],
}

impl ServerMessage for InvalPixmaps<'_> {
    fn msg_type(&self) -> u16 {
        msg::display::INVAL_LIST
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let mut w = Writer::new(out);
        w.u16(len_u16("inval_list count", self.ids.len())?);
        for &id in self.ids {
            w.u8(resource_type::PIXMAP);
            w.u64(id);
        }
        Ok(())
    }
}

/// GL_DRAW: area updated in the GL scanout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GlDraw {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

impl ServerMessage for GlDraw {
    fn msg_type(&self) -> u16 {
        msg::display::GL_DRAW
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let mut w = Writer::new(out);
        w.u32(self.x);
        w.u32(self.y);
        w.u32(self.w);
        w.u32(self.h);
        Ok(())
    }
}

empty_server_message!(
    /// MARK: the display is ready; spice-gtk draws nothing before it (and
    /// refuses it before a primary surface exists).
    Mark,
    msg::display::MARK
);
empty_server_message!(
    /// RESET.
    Reset,
    msg::display::RESET
);
empty_server_message!(
    /// INVAL_ALL_PALETTES.
    InvalAllPalettes,
    msg::display::INVAL_ALL_PALETTES
);
empty_server_message!(
    /// STREAM_DESTROY_ALL.
    StreamDestroyAll,
    msg::display::STREAM_DESTROY_ALL
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::constants::{
        bitmap_flags, bitmap_fmt, image_compression, ropd, stream_flags, surface_flags,
        surface_fmt, video_codec,
    };
    use crate::protocol::image::ImageData;

    fn base(clip: Clip<'_>) -> DisplayBase<'_> {
        DisplayBase {
            surface_id: 0,
            bbox: Rect::from_xywh(10, 20, 2, 2),
            clip,
        }
    }

    #[test]
    fn appendix_a_draw_copy_bitmap() {
        let pixels: Vec<u8> = (0xa0..=0xaf).collect();
        let msg = DrawCopy {
            base: base(Clip::None),
            image: Image {
                id: 0x1122_3344_5566_7788,
                flags: 0,
                width: 2,
                height: 2,
                data: ImageData::Bitmap {
                    format: bitmap_fmt::BIT32,
                    flags: bitmap_flags::TOP_DOWN,
                    stride: 8,
                    pixels: &pixels,
                },
            },
            src_area: Rect::from_xywh(0, 0, 2, 2),
            rop_descriptor: ropd::OP_PUT,
            scale_mode: 0,
        };
        let want: [u8; 109] = [
            0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x16, 0x00,
            0x00, 0x00, // 0x00
            0x0c, 0x00, 0x00, 0x00, 0x00, 0x39, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, // 0x10
            0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, // 0x20
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x88, 0x77, 0x66, 0x55, 0x44,
            0x33, 0x22, // 0x30
            0x11, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x08, 0x04, 0x02,
            0x00, 0x00, // 0x40
            0x00, 0x02, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xa0,
            0xa1, 0xa2, // 0x50
            0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
        ];
        assert_eq!(msg.to_body().unwrap(), want);
        assert_eq!(msg.msg_type(), 304);
    }

    #[test]
    fn appendix_a_draw_copy_lz4_with_clip() {
        let rects = [Rect {
            top: 2,
            left: 1,
            bottom: 4,
            right: 3,
        }];
        let payload = [0x01, 0x08, 0x00, 0x00, 0x00];
        let msg = DrawCopy {
            base: base(Clip::Rects(&rects)),
            image: Image {
                id: 0x1122_3344_5566_7788,
                flags: 0,
                width: 2,
                height: 2,
                data: ImageData::Lz4(&payload),
            },
            src_area: Rect::from_xywh(0, 0, 2, 2),
            rop_descriptor: ropd::OP_PUT,
            scale_mode: 0,
        };
        let want: [u8; 104] = [
            0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x16, 0x00,
            0x00, 0x00, // 0x00
            0x0c, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01,
            0x00, 0x00, // 0x10
            0x00, 0x04, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x4d, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, // 0x20
            0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x08,
            0x00, 0x00, // 0x30
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x88,
            0x77, 0x66, // 0x40
            0x55, 0x44, 0x33, 0x22, 0x11, 0x6d, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00,
            0x00, 0x05, // 0x50
            0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x00, 0x00,
        ];
        assert_eq!(msg.to_body().unwrap(), want);
    }

    #[test]
    fn draw_copy_pointer_is_relative_to_body_start() {
        // Encoding after a header already in the vector must give the same
        // offsets.
        let payload = [1u8, 8];
        let msg = DrawCopy {
            base: base(Clip::None),
            image: Image {
                id: 0,
                flags: 0,
                width: 0,
                height: 0,
                data: ImageData::Lz4(&payload),
            },
            src_area: Rect::default(),
            rop_descriptor: ropd::OP_PUT,
            scale_mode: 0,
        };
        let mut out = vec![0xee; 18];
        msg.encode(&mut out).unwrap();
        assert_eq!(&out[18 + 21..18 + 25], &[0x39, 0, 0, 0]);
        assert_eq!(&out[18..], &msg.to_body().unwrap()[..]);
    }

    #[test]
    fn appendix_a_surface_create() {
        let b = SurfaceCreate {
            surface_id: 0,
            width: 1024,
            height: 768,
            format: surface_fmt::FMT_32_XRGB,
            flags: surface_flags::PRIMARY,
        }
        .to_body()
        .unwrap();
        assert_eq!(
            b,
            [
                0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x20, 0x00,
                0x00, 0x00, 0x01, 0x00, 0x00, 0x00
            ]
        );
    }

    fn stream_create(clip: Clip<'_>) -> StreamCreate<'_> {
        StreamCreate {
            surface_id: 0,
            id: 3,
            flags: stream_flags::TOP_DOWN,
            codec_type: video_codec::MJPEG,
            stamp: 0,
            stream_width: 640,
            stream_height: 480,
            src_width: 640,
            src_height: 480,
            dest: Rect::from_xywh(0, 0, 640, 480),
            clip,
        }
    }

    #[test]
    fn appendix_a_stream_create() {
        let want: [u8; 55] = [
            0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, // 0x00
            0x00, 0x00, 0x80, 0x02, 0x00, 0x00, 0xe0, 0x01, 0x00, 0x00, 0x80, 0x02, 0x00, 0x00,
            0xe0, 0x01, // 0x10
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe0, 0x01, 0x00, 0x00,
            0x80, 0x02, // 0x20
            0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
        ];
        assert_eq!(stream_create(Clip::Rects(&[])).to_body().unwrap(), want);
        // With clip NONE the last 5 bytes become a single 00.
        let visible = stream_create(Clip::None).to_body().unwrap();
        assert_eq!(visible.len(), 51);
        assert_eq!(&visible[..50], &want[..50]);
        assert_eq!(visible[50], 0);
    }

    #[test]
    fn appendix_a_stream_data() {
        let b = StreamData {
            id: 3,
            multi_media_time: 0x0102_0304,
            data: &[0xff, 0xd8, 0xff, 0xd9],
        }
        .to_body()
        .unwrap();
        assert_eq!(
            b,
            [
                0x03, 0x00, 0x00, 0x00, 0x04, 0x03, 0x02, 0x01, 0x04, 0x00, 0x00, 0x00, 0xff, 0xd8,
                0xff, 0xd9
            ]
        );
    }

    #[test]
    fn appendix_a_monitors_config() {
        let heads = [Head {
            monitor_id: 0,
            surface_id: 0,
            width: 1024,
            height: 768,
            x: 0,
            y: 0,
            flags: 0,
        }];
        let b = MonitorsConfig {
            max_allowed: 1,
            heads: &heads,
        }
        .to_body()
        .unwrap();
        assert_eq!(
            b,
            [
                0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04,
                0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                0x00, 0x00, 0x00, 0x00
            ]
        );
    }

    #[test]
    fn other_server_display_messages() {
        // DRAW_FILL: base (21) + brush (5) + rop (2) + mask (13) = 41.
        let b = DrawFill {
            base: base(Clip::None),
            brush: Brush::Solid(0x00ff_0000),
            rop_descriptor: ropd::OP_PUT,
        }
        .to_body()
        .unwrap();
        assert_eq!(b.len(), 41);
        assert_eq!(&b[21..28], &[1, 0, 0, 0xff, 0, 8, 0]);
        assert!(b[28..].iter().all(|&x| x == 0));
        let b = CopyBits {
            base: base(Clip::None),
            src_pos: Point { x: 1, y: 2 },
        }
        .to_body()
        .unwrap();
        assert_eq!(&b[21..], &[1, 0, 0, 0, 2, 0, 0, 0]);
        let b = StreamDataSized {
            id: 1,
            multi_media_time: 2,
            width: 3,
            height: 4,
            dest: Rect::from_xywh(0, 0, 3, 4),
            data: &[9, 9],
        }
        .to_body()
        .unwrap();
        assert_eq!(b.len(), 36 + 2);
        assert_eq!(&b[32..], &[2, 0, 0, 0, 9, 9]);
        let rects = [Rect::default()];
        assert_eq!(
            StreamClip {
                id: 3,
                clip: Clip::Rects(&rects)
            }
            .to_body()
            .unwrap()
            .len(),
            4 + 5 + 16
        );
        assert_eq!(StreamDestroy { id: 3 }.to_body().unwrap(), [3, 0, 0, 0]);
        assert_eq!(
            StreamActivateReport {
                stream_id: 1,
                unique_id: 2,
                max_window_size: 5,
                timeout_ms: 1000
            }
            .to_body()
            .unwrap(),
            [1, 0, 0, 0, 2, 0, 0, 0, 5, 0, 0, 0, 0xe8, 3, 0, 0]
        );
        assert_eq!(
            SurfaceDestroy { surface_id: 1 }.to_body().unwrap(),
            [1, 0, 0, 0]
        );
        assert_eq!(InvalPalette { id: 2 }.to_body().unwrap().len(), 8);
        let inval = InvalPixmaps { ids: &[5, 0x0102] };
        assert_eq!(inval.msg_type(), 105);
        assert_eq!(
            inval.to_body().unwrap(),
            [2, 0, 1, 5, 0, 0, 0, 0, 0, 0, 0, 1, 0x02, 0x01, 0, 0, 0, 0, 0, 0]
        );
        let too_many = vec![0u64; 65536];
        assert!(InvalPixmaps { ids: &too_many }.to_body().is_err());
        assert_eq!(GlDraw::default().to_body().unwrap().len(), 16);
        assert_eq!(Mark.msg_type(), 102);
        assert_eq!(Reset.msg_type(), 103);
        assert_eq!(InvalAllPalettes.msg_type(), 108);
        assert_eq!(StreamDestroyAll.msg_type(), 126);
        let too_many = vec![Head::default(); 65536];
        assert!(MonitorsConfig {
            max_allowed: 1,
            heads: &too_many
        }
        .to_body()
        .is_err());
    }

    #[test]
    fn appendix_a_client_display() {
        let cases: [(u16, &[u8], DisplayClientMessage<'_>); 4] = [
            (
                msgc::display::INIT,
                &[
                    0x01, 0x00, 0x00, 0x50, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x20,
                    0x00,
                ],
                DisplayClientMessage::Init {
                    pixmap_cache_id: 1,
                    pixmap_cache_size: 20 * 1024 * 1024 / 4,
                    glz_dictionary_id: 1,
                    glz_dictionary_window_size: 8 * 1024 * 1024 / 4,
                },
            ),
            (
                msgc::display::STREAM_REPORT,
                &[
                    0x03, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00, 0xc8,
                    0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xfb, 0xff,
                    0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                ],
                DisplayClientMessage::StreamReport {
                    stream_id: 3,
                    unique_id: 9,
                    start_frame_mm_time: 100,
                    end_frame_mm_time: 200,
                    num_frames: 10,
                    num_drops: 0xffff_ffff,
                    last_frame_delay: -5,
                    audio_delay: 0xffff_ffff,
                },
            ),
            (
                msgc::display::PREFERRED_COMPRESSION,
                &[0x07],
                DisplayClientMessage::PreferredCompression {
                    image_compression: image_compression::LZ4,
                },
            ),
            (
                msgc::display::PREFERRED_VIDEO_CODEC_TYPE,
                &[0x02, 0x03, 0x01],
                DisplayClientMessage::PreferredVideoCodecType {
                    codecs: &[video_codec::H264, video_codec::MJPEG],
                },
            ),
        ];
        for (t, bytes, want) in cases {
            assert_eq!(DisplayClientMessage::parse(t, bytes).unwrap(), Some(want));
            let mut out = Vec::new();
            want.encode(&mut out).unwrap();
            assert_eq!(out, bytes);
            assert_eq!(want.msg_type(), t);
            for n in 0..bytes.len() {
                assert!(DisplayClientMessage::parse(t, &bytes[..n]).is_err());
            }
        }
        assert_eq!(
            DisplayClientMessage::parse(msgc::display::GL_DRAW_DONE, &[]).unwrap(),
            Some(DisplayClientMessage::GlDrawDone)
        );
        assert_eq!(DisplayClientMessage::parse(106, &[]).unwrap(), None);
        // A codec count larger than the body is an error, not a short read.
        assert!(DisplayClientMessage::parse(
            msgc::display::PREFERRED_VIDEO_CODEC_TYPE,
            &[0xff, 1, 2]
        )
        .is_err());
        let too_many = [0u8; 256];
        let mut out = Vec::new();
        assert!(
            DisplayClientMessage::PreferredVideoCodecType { codecs: &too_many }
                .encode(&mut out)
                .is_err()
        );
    }
}
