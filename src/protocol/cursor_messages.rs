//! Cursor channel (type 4): pointer shape and position. The client sends
//! nothing here beyond the common messages.

use super::constants::{cursor_flags, msg};
use super::error::{ProtocolError, Result};
use super::server_message::{empty_server_message, ServerMessage};
use super::types::Point16;
use super::writer::Writer;

/// CursorHeader (17 bytes): describes the shape that follows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CursorHeader {
    /// Cache key for CACHE_ME / FROM_CACHE.
    pub unique: u64,
    /// `cursor_type`.
    pub cursor_type: u8,
    pub width: u16,
    pub height: u16,
    pub hot_spot_x: u16,
    pub hot_spot_y: u16,
}

impl CursorHeader {
    fn encode(&self, w: &mut Writer<'_>) {
        w.u64(self.unique);
        w.u8(self.cursor_type);
        w.u16(self.width);
        w.u16(self.height);
        w.u16(self.hot_spot_x);
        w.u16(self.hot_spot_y);
    }
}

/// The Cursor struct: flags, then (unless "no cursor") a header and the
/// shape bytes, which run to the end of the message with no length field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Cursor<'a> {
    /// flags = NONE (1): no header, no data.
    #[default]
    None,
    /// A shape. `flags` may hold CACHE_ME or FROM_CACHE (then `data` is
    /// empty) but not NONE. ALPHA data is width×height×4 bytes B,G,R,A.
    Shape {
        flags: u16,
        header: CursorHeader,
        data: &'a [u8],
    },
}

impl Cursor<'_> {
    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        match *self {
            Cursor::None => w.u16(cursor_flags::NONE),
            Cursor::Shape {
                flags,
                header,
                data,
            } => {
                if flags & cursor_flags::NONE != 0 {
                    return Err(ProtocolError::InvalidValue {
                        field: "cursor flags (NONE with a shape)",
                        value: u64::from(flags),
                    });
                }
                w.u16(flags);
                header.encode(w);
                w.bytes(data);
            }
        }
        Ok(())
    }
}

/// CURSOR_INIT: must come before SET/MOVE, which spice-gtk ignores until then.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CursorInit<'a> {
    pub position: Point16,
    pub trail_length: u16,
    pub trail_frequency: u16,
    pub visible: bool,
    pub cursor: Cursor<'a>,
}

impl ServerMessage for CursorInit<'_> {
    fn msg_type(&self) -> u16 {
        msg::cursor::INIT
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let mut w = Writer::new(out);
        self.position.encode(&mut w);
        w.u16(self.trail_length);
        w.u16(self.trail_frequency);
        w.u8(u8::from(self.visible));
        self.cursor.encode(&mut w)
    }
}

/// CURSOR_SET: a new shape (and position/visibility).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CursorSet<'a> {
    pub position: Point16,
    pub visible: bool,
    pub cursor: Cursor<'a>,
}

impl ServerMessage for CursorSet<'_> {
    fn msg_type(&self) -> u16 {
        msg::cursor::SET
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let mut w = Writer::new(out);
        self.position.encode(&mut w);
        w.u8(u8::from(self.visible));
        self.cursor.encode(&mut w)
    }
}

/// CURSOR_MOVE.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CursorMove {
    pub position: Point16,
}

impl ServerMessage for CursorMove {
    fn msg_type(&self) -> u16 {
        msg::cursor::MOVE
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        self.position.encode(&mut Writer::new(out));
        Ok(())
    }
}

/// CURSOR_TRAIL.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CursorTrail {
    pub length: u16,
    pub frequency: u16,
}

impl ServerMessage for CursorTrail {
    fn msg_type(&self) -> u16 {
        msg::cursor::TRAIL
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let mut w = Writer::new(out);
        w.u16(self.length);
        w.u16(self.frequency);
        Ok(())
    }
}

/// CURSOR_INVAL_ONE: drop one cached shape.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CursorInvalOne {
    pub id: u64,
}

impl ServerMessage for CursorInvalOne {
    fn msg_type(&self) -> u16 {
        msg::cursor::INVAL_ONE
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        Writer::new(out).u64(self.id);
        Ok(())
    }
}

empty_server_message!(
    /// CURSOR_RESET.
    CursorReset,
    msg::cursor::RESET
);
empty_server_message!(
    /// CURSOR_HIDE.
    CursorHide,
    msg::cursor::HIDE
);
empty_server_message!(
    /// CURSOR_INVAL_ALL: drop every cached shape.
    CursorInvalAll,
    msg::cursor::INVAL_ALL
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::constants::cursor_type;

    #[test]
    fn appendix_a_cursor_init() {
        let pixel = [0x11, 0x22, 0x33, 0xff];
        let b = CursorInit {
            position: Point16 { x: 5, y: 6 },
            trail_length: 0,
            trail_frequency: 0,
            visible: true,
            cursor: Cursor::Shape {
                flags: 0,
                header: CursorHeader {
                    unique: 0,
                    cursor_type: cursor_type::ALPHA,
                    width: 1,
                    height: 1,
                    hot_spot_x: 0,
                    hot_spot_y: 0,
                },
                data: &pixel,
            },
        }
        .to_body()
        .unwrap();
        assert_eq!(
            b,
            [
                0x05, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
                0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
                0x11, 0x22, 0x33, 0xff
            ]
        );
    }

    #[test]
    fn no_cursor_and_others() {
        let b = CursorInit::default().to_body().unwrap();
        assert_eq!(b, [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
        let b = CursorSet {
            position: Point16 { x: 1, y: 2 },
            visible: true,
            cursor: Cursor::None,
        }
        .to_body()
        .unwrap();
        assert_eq!(b, [1, 0, 2, 0, 1, 1, 0]);
        let bad = CursorSet {
            cursor: Cursor::Shape {
                flags: cursor_flags::NONE,
                header: CursorHeader::default(),
                data: &[],
            },
            ..Default::default()
        };
        assert!(bad.to_body().is_err());
        assert_eq!(
            CursorMove {
                position: Point16 { x: -1, y: 3 }
            }
            .to_body()
            .unwrap(),
            [0xff, 0xff, 3, 0]
        );
        assert_eq!(
            CursorTrail {
                length: 1,
                frequency: 2
            }
            .to_body()
            .unwrap(),
            [1, 0, 2, 0]
        );
        assert_eq!(
            CursorInvalOne { id: 9 }.to_body().unwrap(),
            [9, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(CursorReset.msg_type(), 102);
        assert_eq!(CursorHide.msg_type(), 105);
        assert_eq!(CursorInvalAll.msg_type(), 108);
        assert_eq!(CursorSet::default().msg_type(), 103);
    }
}
