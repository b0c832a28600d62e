//! Small structs shared by many messages (spice.proto `Point`, `Rect`,
//! `Clip`, `DisplayBase`, `ChannelId`, ...), with their exact wire layouts.

use super::constants::clip_type;
use super::error::{ProtocolError, Result};
use super::reader::Reader;
use super::writer::{len_u32, Writer};

/// Point: x i32, y i32 (8 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Point {
    pub x: i32,
    pub y: i32,
}

impl Point {
    pub fn encode(&self, w: &mut Writer<'_>) {
        w.i32(self.x);
        w.i32(self.y);
    }

    pub fn parse(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Point {
            x: r.i32()?,
            y: r.i32()?,
        })
    }
}

/// Point16: x i16, y i16 (4 bytes), used by the cursor channel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Point16 {
    pub x: i16,
    pub y: i16,
}

impl Point16 {
    pub fn encode(&self, w: &mut Writer<'_>) {
        w.i16(self.x);
        w.i16(self.y);
    }

    pub fn parse(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Point16 {
            x: r.i16()?,
            y: r.i16()?,
        })
    }
}

/// Rect: **top, left, bottom, right** (i32 each, 16 bytes). The field order
/// is the protocol's, not x/y/w/h.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rect {
    pub top: i32,
    pub left: i32,
    pub bottom: i32,
    pub right: i32,
}

impl Rect {
    /// The rectangle at (x, y) of the given size (saturating at i32 bounds).
    pub fn from_xywh(x: i32, y: i32, width: i32, height: i32) -> Self {
        Rect {
            top: y,
            left: x,
            bottom: y.saturating_add(height),
            right: x.saturating_add(width),
        }
    }

    pub fn encode(&self, w: &mut Writer<'_>) {
        w.i32(self.top);
        w.i32(self.left);
        w.i32(self.bottom);
        w.i32(self.right);
    }

    pub fn parse(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Rect {
            top: r.i32()?,
            left: r.i32()?,
            bottom: r.i32()?,
            right: r.i32()?,
        })
    }
}

/// Clip: type u8, and for RECTS a count u32 plus the rects inline. It is
/// variable-sized, so every field after it moves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Clip<'a> {
    /// Draw everything (1 byte).
    #[default]
    None,
    /// Draw only inside these rects (5 + 16n bytes). An empty list draws
    /// nothing at all.
    Rects(&'a [Rect]),
}

impl Clip<'_> {
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        match self {
            Clip::None => w.u8(clip_type::NONE),
            Clip::Rects(rects) => {
                w.u8(clip_type::RECTS);
                w.u32(len_u32("clip num_rects", rects.len())?);
                for r in rects.iter() {
                    r.encode(w);
                }
            }
        }
        Ok(())
    }

    /// Parses a clip into owned rects (for tests and tools reading server
    /// messages; the server itself never parses clips).
    pub fn parse_owned(r: &mut Reader<'_>) -> Result<Option<Vec<Rect>>> {
        match r.u8()? {
            clip_type::NONE => Ok(None),
            clip_type::RECTS => {
                let n = r.u32()?;
                // Each rect needs 16 bytes: refuse counts the input cannot hold
                // before allocating.
                if u64::from(n).saturating_mul(16) > r.remaining() as u64 {
                    return Err(ProtocolError::Truncated {
                        offset: r.position(),
                        needed: (n as usize).saturating_mul(16),
                        available: r.remaining(),
                    });
                }
                (0..n)
                    .map(|_| Rect::parse(r))
                    .collect::<Result<_>>()
                    .map(Some)
            }
            other => Err(ProtocolError::InvalidValue {
                field: "clip type",
                value: u64::from(other),
            }),
        }
    }
}

/// DisplayBase: surface_id u32, box Rect, clip Clip (21 bytes with no clip).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DisplayBase<'a> {
    pub surface_id: u32,
    /// Destination rectangle on the surface.
    pub bbox: Rect,
    pub clip: Clip<'a>,
}

impl DisplayBase<'_> {
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u32(self.surface_id);
        self.bbox.encode(w);
        self.clip.encode(w)
    }
}

/// ChannelId: type u8, id u8, as listed in MAIN_CHANNELS_LIST.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ChannelId {
    pub channel_type: u8,
    pub id: u8,
}

impl ChannelId {
    pub fn encode(&self, w: &mut Writer<'_>) {
        w.u8(self.channel_type);
        w.u8(self.id);
    }
}

/// ChannelWait / WaitForChannel: channel_type u8, channel_id u8,
/// message_serial u64 (10 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChannelWait {
    pub channel_type: u8,
    pub channel_id: u8,
    pub message_serial: u64,
}

impl ChannelWait {
    pub fn encode(&self, w: &mut Writer<'_>) {
        w.u8(self.channel_type);
        w.u8(self.channel_id);
        w.u64(self.message_serial);
    }
}

/// Head (one monitor in MONITORS_CONFIG): 7 × u32 = 28 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Head {
    pub monitor_id: u32,
    pub surface_id: u32,
    pub width: u32,
    pub height: u32,
    pub x: u32,
    pub y: u32,
    pub flags: u32,
}

impl Head {
    pub fn encode(&self, w: &mut Writer<'_>) {
        w.u32(self.monitor_id);
        w.u32(self.surface_id);
        w.u32(self.width);
        w.u32(self.height);
        w.u32(self.x);
        w.u32(self.y);
        w.u32(self.flags);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(f: impl FnOnce(&mut Writer<'_>)) -> Vec<u8> {
        let mut out = Vec::new();
        f(&mut Writer::new(&mut out));
        out
    }

    #[test]
    fn rect_order_is_top_left_bottom_right() {
        let r = Rect::from_xywh(10, 20, 2, 2);
        assert_eq!(
            r,
            Rect {
                top: 20,
                left: 10,
                bottom: 22,
                right: 12
            }
        );
        let bytes = enc(|w| r.encode(w));
        assert_eq!(bytes, [20, 0, 0, 0, 10, 0, 0, 0, 22, 0, 0, 0, 12, 0, 0, 0]);
        assert_eq!(Rect::parse(&mut Reader::new(&bytes)).unwrap(), r);
    }

    #[test]
    fn clip_sizes_and_parse() {
        assert_eq!(enc(|w| Clip::None.encode(w).unwrap()), [0]);
        assert_eq!(
            enc(|w| Clip::Rects(&[]).encode(w).unwrap()),
            [1, 0, 0, 0, 0]
        );
        let rects = [Rect::from_xywh(1, 2, 2, 2)];
        let bytes = enc(|w| Clip::Rects(&rects).encode(w).unwrap());
        assert_eq!(bytes.len(), 21);
        assert_eq!(
            Clip::parse_owned(&mut Reader::new(&bytes)).unwrap(),
            Some(rects.to_vec())
        );
        assert_eq!(Clip::parse_owned(&mut Reader::new(&[0])).unwrap(), None);
        // bad type, huge count, truncated rect
        assert!(Clip::parse_owned(&mut Reader::new(&[2])).is_err());
        assert!(Clip::parse_owned(&mut Reader::new(&[1, 0xff, 0xff, 0xff, 0xff])).is_err());
        assert!(Clip::parse_owned(&mut Reader::new(&bytes[..20])).is_err());
    }

    #[test]
    fn points_round_trip() {
        let p = Point { x: -3, y: 4 };
        let b = enc(|w| p.encode(w));
        assert_eq!(Point::parse(&mut Reader::new(&b)).unwrap(), p);
        let p = Point16 { x: 5, y: -6 };
        let b = enc(|w| p.encode(w));
        assert_eq!(b, [5, 0, 0xfa, 0xff]);
        assert_eq!(Point16::parse(&mut Reader::new(&b)).unwrap(), p);
    }
}
