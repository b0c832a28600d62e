//! Data-stage message headers.
//!
//! After the link, every message has either the full 18-byte SpiceDataHeader
//! or, when the peer advertised MINI_HEADER, the 6-byte SpiceMiniDataHeader.
//! Both directions on a socket use the same kind. `size` counts the body
//! only.

use super::constants::{channel, msgc};
use super::error::{ProtocolError, Result};
use super::reader::Reader;
use super::writer::Writer;

/// Size of SpiceDataHeader (serial u64, type u16, size u32, sub_list u32).
pub const DATA_HEADER_SIZE: usize = 18;
/// Size of SpiceMiniDataHeader (type u16, size u32).
pub const MINI_HEADER_SIZE: usize = 6;

/// Absolute upper bound for any message body this crate will accept,
/// whatever the channel: keeps a hostile `size` from driving allocation.
pub const MAX_MESSAGE_SIZE: u32 = 64 * 1024 * 1024;

/// The full data header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct DataHeader {
    /// Starts at 1 and goes up by one per message sent on the channel.
    pub serial: u64,
    pub msg_type: u16,
    pub size: u32,
    /// 0, or the body offset of a SpiceSubMessageList.
    pub sub_list: u32,
}

impl DataHeader {
    pub fn parse(buf: &[u8]) -> Result<Self> {
        let mut r = Reader::new(buf);
        Ok(DataHeader {
            serial: r.u64()?,
            msg_type: r.u16()?,
            size: r.u32()?,
            sub_list: r.u32()?,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut w = Writer::new(out);
        w.u64(self.serial);
        w.u16(self.msg_type);
        w.u32(self.size);
        w.u32(self.sub_list);
    }
}

/// The mini data header (no serial, no sub-list).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct MiniHeader {
    pub msg_type: u16,
    pub size: u32,
}

impl MiniHeader {
    pub fn parse(buf: &[u8]) -> Result<Self> {
        let mut r = Reader::new(buf);
        Ok(MiniHeader {
            msg_type: r.u16()?,
            size: r.u32()?,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut w = Writer::new(out);
        w.u16(self.msg_type);
        w.u32(self.size);
    }
}

/// Which header a channel uses; decided once after the link from the peer's
/// MINI_HEADER common cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderKind {
    Full,
    Mini,
}

/// A header of either kind. For the mini header `serial` and `sub_list` are 0
/// (the receiver counts messages itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct MessageHeader {
    pub serial: u64,
    pub msg_type: u16,
    pub size: u32,
    pub sub_list: u32,
}

impl HeaderKind {
    /// Chooses the kind from the peer's common caps.
    pub fn from_peer_caps(peer_common: &super::caps::Caps) -> Self {
        if peer_common.has(super::constants::cap::common::MINI_HEADER) {
            HeaderKind::Mini
        } else {
            HeaderKind::Full
        }
    }

    /// Header length in bytes.
    pub fn size(self) -> usize {
        match self {
            HeaderKind::Full => DATA_HEADER_SIZE,
            HeaderKind::Mini => MINI_HEADER_SIZE,
        }
    }

    /// Parses a header of this kind from the front of `buf`.
    pub fn parse(self, buf: &[u8]) -> Result<MessageHeader> {
        match self {
            HeaderKind::Full => {
                let h = DataHeader::parse(buf)?;
                Ok(MessageHeader {
                    serial: h.serial,
                    msg_type: h.msg_type,
                    size: h.size,
                    sub_list: h.sub_list,
                })
            }
            HeaderKind::Mini => {
                let h = MiniHeader::parse(buf)?;
                Ok(MessageHeader {
                    serial: 0,
                    msg_type: h.msg_type,
                    size: h.size,
                    sub_list: 0,
                })
            }
        }
    }

    /// Appends a header of this kind (`serial`/`sub_list` are dropped for
    /// the mini header).
    pub fn encode(self, header: &MessageHeader, out: &mut Vec<u8>) {
        match self {
            HeaderKind::Full => DataHeader {
                serial: header.serial,
                msg_type: header.msg_type,
                size: header.size,
                sub_list: header.sub_list,
            }
            .encode(out),
            HeaderKind::Mini => MiniHeader {
                msg_type: header.msg_type,
                size: header.size,
            }
            .encode(out),
        }
    }
}

/// The largest body a client message of this type may have on this channel.
///
/// spice-server reads client messages into small fixed buffers (1 KiB on
/// display/cursor, 2 KiB on inputs, a few dozen KiB on main) and only
/// MIGRATE_DATA and AGENT_DATA are dynamic. These bounds are a little more
/// generous but still stop a peer from announcing gigabytes. MIGRATE_DATA
/// answers a migration, which redspice never starts: no channel takes one
/// with a body (spice-server's are up to megabytes, held until complete).
pub fn max_client_body_size(channel_type: u8, msg_type: u16) -> u32 {
    const KIB: u32 = 1024;
    if msg_type == msgc::common::MIGRATE_DATA {
        return 0;
    }
    match channel_type {
        channel::MAIN => 64 * KIB,
        channel::DISPLAY | channel::CURSOR | channel::INPUTS => 4 * KIB,
        _ => KIB * KIB,
    }
}

/// Rejects a client message body larger than [`max_client_body_size`] (and
/// never more than [`MAX_MESSAGE_SIZE`]) before the caller reads it.
pub fn check_client_body_size(channel_type: u8, header: &MessageHeader) -> Result<()> {
    let max = max_client_body_size(channel_type, header.msg_type).min(MAX_MESSAGE_SIZE);
    if header.size > max {
        return Err(ProtocolError::MessageTooLarge {
            size: header.size,
            max,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::caps::Caps;

    #[test]
    fn appendix_a_headers() {
        // Mini header for SURFACE_CREATE (type 314, size 20).
        let mini = MiniHeader {
            msg_type: 314,
            size: 20,
        };
        let mut out = Vec::new();
        mini.encode(&mut out);
        assert_eq!(out, [0x3a, 0x01, 0x14, 0x00, 0x00, 0x00]);
        assert_eq!(MiniHeader::parse(&out).unwrap(), mini);

        // Full header for the same as the first message on a channel.
        let full = DataHeader {
            serial: 1,
            msg_type: 314,
            size: 20,
            sub_list: 0,
        };
        let mut out = Vec::new();
        full.encode(&mut out);
        assert_eq!(
            out,
            [
                0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3a, 0x01, 0x14, 0x00, 0x00, 0x00,
                0x00, 0x00, 0x00, 0x00
            ]
        );
        assert_eq!(DataHeader::parse(&out).unwrap(), full);
    }

    #[test]
    fn kinds_round_trip() {
        let h = MessageHeader {
            serial: 0x0102_0304_0506_0708,
            msg_type: 0xabcd,
            size: 0x1122_3344,
            sub_list: 9,
        };
        for kind in [HeaderKind::Full, HeaderKind::Mini] {
            let mut out = Vec::new();
            kind.encode(&h, &mut out);
            assert_eq!(out.len(), kind.size());
            let back = kind.parse(&out).unwrap();
            assert_eq!(back.msg_type, h.msg_type);
            assert_eq!(back.size, h.size);
            if kind == HeaderKind::Full {
                assert_eq!(back, h);
            } else {
                assert_eq!((back.serial, back.sub_list), (0, 0));
            }
            for n in 0..out.len() {
                assert!(kind.parse(&out[..n]).is_err());
            }
        }
    }

    #[test]
    fn kind_from_caps() {
        assert_eq!(
            HeaderKind::from_peer_caps(&Caps::from_words(vec![0x09])),
            HeaderKind::Mini
        );
        assert_eq!(
            HeaderKind::from_peer_caps(&Caps::from_words(vec![0x03])),
            HeaderKind::Full
        );
        assert_eq!(HeaderKind::from_peer_caps(&Caps::new()), HeaderKind::Full);
    }

    #[test]
    fn size_limits() {
        let h = |msg_type, size| MessageHeader {
            serial: 0,
            msg_type,
            size,
            sub_list: 0,
        };
        assert!(check_client_body_size(channel::INPUTS, &h(112, 11)).is_ok());
        assert!(check_client_body_size(channel::INPUTS, &h(112, 4097)).is_err());
        assert!(check_client_body_size(channel::MAIN, &h(107, 2048)).is_ok());
        assert!(check_client_body_size(channel::MAIN, &h(107, u32::MAX)).is_err());
        // MIGRATE_DATA (5): none has a body, since redspice never migrates.
        for ch in [
            channel::MAIN,
            channel::DISPLAY,
            channel::INPUTS,
            channel::CURSOR,
        ] {
            assert!(check_client_body_size(ch, &h(5, 0)).is_ok());
            assert!(check_client_body_size(ch, &h(5, 1)).is_err());
        }
        assert!(check_client_body_size(channel::USBREDIR, &h(101, 1 << 20)).is_ok());
        assert_eq!(
            check_client_body_size(channel::CURSOR, &h(1, 5000)),
            Err(ProtocolError::MessageTooLarge {
                size: 5000,
                max: 4096
            })
        );
    }
}
