//! Messages every channel understands (type numbers 1..=100).
//!
//! A server must at least accept ACK_SYNC, ACK, PONG, DISCONNECTING and
//! MIGRATE_FLUSH_MARK on every channel: spice-server drops the connection on
//! anything it does not handle, and clients do send these.

use super::constants::{msg, msgc};
use super::error::Result;
use super::reader::Reader;
use super::server_message::ServerMessage;
use super::types::ChannelWait;
use super::writer::{len_u32, len_u8, Writer};

/// A common message sent by the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommonClientMessage<'a> {
    /// Starts ACK counting for the generation set by SET_ACK.
    AckSync {
        generation: u32,
    },
    /// The client received another `window` messages.
    Ack,
    /// Echo of a PING's id and timestamp (padding is not echoed).
    Pong {
        id: u32,
        timestamp: u64,
    },
    MigrateFlushMark,
    /// Opaque migration state.
    MigrateData(&'a [u8]),
    Disconnecting {
        time_stamp: u64,
        reason: u32,
    },
}

impl<'a> CommonClientMessage<'a> {
    /// Parses `body` if `msg_type` is a common client message; `Ok(None)`
    /// otherwise.
    pub fn parse(msg_type: u16, body: &'a [u8]) -> Result<Option<Self>> {
        let mut r = Reader::new(body);
        let m = match msg_type {
            msgc::common::ACK_SYNC => CommonClientMessage::AckSync {
                generation: r.u32()?,
            },
            msgc::common::ACK => CommonClientMessage::Ack,
            msgc::common::PONG => CommonClientMessage::Pong {
                id: r.u32()?,
                timestamp: r.u64()?,
            },
            msgc::common::MIGRATE_FLUSH_MARK => CommonClientMessage::MigrateFlushMark,
            msgc::common::MIGRATE_DATA => CommonClientMessage::MigrateData(body),
            msgc::common::DISCONNECTING => CommonClientMessage::Disconnecting {
                time_stamp: r.u64()?,
                reason: r.u32()?,
            },
            _ => return Ok(None),
        };
        Ok(Some(m))
    }

    /// The `SPICE_MSGC_*` type number.
    pub fn msg_type(&self) -> u16 {
        match self {
            CommonClientMessage::AckSync { .. } => msgc::common::ACK_SYNC,
            CommonClientMessage::Ack => msgc::common::ACK,
            CommonClientMessage::Pong { .. } => msgc::common::PONG,
            CommonClientMessage::MigrateFlushMark => msgc::common::MIGRATE_FLUSH_MARK,
            CommonClientMessage::MigrateData(_) => msgc::common::MIGRATE_DATA,
            CommonClientMessage::Disconnecting { .. } => msgc::common::DISCONNECTING,
        }
    }

    /// Appends the body as a client would send it.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut w = Writer::new(out);
        match *self {
            CommonClientMessage::AckSync { generation } => w.u32(generation),
            CommonClientMessage::Ack | CommonClientMessage::MigrateFlushMark => {}
            CommonClientMessage::Pong { id, timestamp } => {
                w.u32(id);
                w.u64(timestamp);
            }
            CommonClientMessage::MigrateData(data) => w.bytes(data),
            CommonClientMessage::Disconnecting { time_stamp, reason } => {
                w.u64(time_stamp);
                w.u32(reason);
            }
        }
    }
}

/// SET_ACK: asks the client to ACK every `window` messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetAck {
    pub generation: u32,
    pub window: u32,
}

impl ServerMessage for SetAck {
    fn msg_type(&self) -> u16 {
        msg::common::SET_ACK
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let mut w = Writer::new(out);
        w.u32(self.generation);
        w.u32(self.window);
        Ok(())
    }
}

/// PING: id, timestamp, then `padding` zero bytes (spice-server's bandwidth
/// test pads with 256 000 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ping {
    pub id: u32,
    pub timestamp: u64,
    pub padding: u32,
}

impl ServerMessage for Ping {
    fn msg_type(&self) -> u16 {
        msg::common::PING
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let mut w = Writer::new(out);
        w.u32(self.id);
        w.u64(self.timestamp);
        w.zeros(self.padding as usize);
        Ok(())
    }
}

/// WAIT_FOR_CHANNELS: the client holds this channel until the named channels
/// have received the given serials. At most 255 entries (u8 count).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitForChannels<'a> {
    pub waits: &'a [ChannelWait],
}

impl ServerMessage for WaitForChannels<'_> {
    fn msg_type(&self) -> u16 {
        msg::common::WAIT_FOR_CHANNELS
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let mut w = Writer::new(out);
        w.u8(len_u8("wait_count", self.waits.len())?);
        for wait in self.waits {
            wait.encode(&mut w);
        }
        Ok(())
    }
}

/// DISCONNECTING (server side): logged by clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Disconnecting {
    pub time_stamp: u64,
    pub reason: u32,
}

impl ServerMessage for Disconnecting {
    fn msg_type(&self) -> u16 {
        msg::common::DISCONNECTING
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let mut w = Writer::new(out);
        w.u64(self.time_stamp);
        w.u32(self.reason);
        Ok(())
    }
}

/// NOTIFY: a text message for the user. `message_len` counts the text only;
/// like spice-server a trailing NUL is sent after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Notify<'a> {
    pub time_stamp: u64,
    /// `notify_severity`.
    pub severity: u32,
    /// `notify_visibility`.
    pub visibility: u32,
    /// error/warn/info code (`WARN_GENERAL` = 0 ...).
    pub what: u32,
    pub message: &'a str,
}

impl ServerMessage for Notify<'_> {
    fn msg_type(&self) -> u16 {
        msg::common::NOTIFY
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let mut w = Writer::new(out);
        w.u64(self.time_stamp);
        w.u32(self.severity);
        w.u32(self.visibility);
        w.u32(self.what);
        w.u32(len_u32("notify message_len", self.message.len())?);
        w.bytes(self.message.as_bytes());
        w.u8(0);
        Ok(())
    }
}

/// MIGRATE: start of a live migration (`migrate_flags`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Migrate {
    pub flags: u32,
}

impl ServerMessage for Migrate {
    fn msg_type(&self) -> u16 {
        msg::common::MIGRATE
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        Writer::new(out).u32(self.flags);
        Ok(())
    }
}

/// MIGRATE_DATA (server side): opaque bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MigrateData<'a>(pub &'a [u8]);

impl ServerMessage for MigrateData<'_> {
    fn msg_type(&self) -> u16 {
        msg::common::MIGRATE_DATA
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        Writer::new(out).bytes(self.0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::constants::link_err;

    #[test]
    fn appendix_a_server_common() {
        let b = SetAck {
            generation: 1,
            window: 20,
        }
        .to_body()
        .unwrap();
        assert_eq!(b, [0x01, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00]);
        let b = Ping {
            id: 7,
            timestamp: 0x0102_0304_0506_0708,
            padding: 0,
        }
        .to_body()
        .unwrap();
        assert_eq!(
            b,
            [0x07, 0x00, 0x00, 0x00, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01]
        );
    }

    #[test]
    fn appendix_a_client_common() {
        let cases: [(u16, &[u8], CommonClientMessage<'_>); 3] = [
            (
                msgc::common::ACK_SYNC,
                &[0x01, 0x00, 0x00, 0x00],
                CommonClientMessage::AckSync { generation: 1 },
            ),
            (
                msgc::common::PONG,
                &[
                    0x07, 0x00, 0x00, 0x00, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
                ],
                CommonClientMessage::Pong {
                    id: 7,
                    timestamp: 0x0102_0304_0506_0708,
                },
            ),
            (
                msgc::common::DISCONNECTING,
                &[
                    0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                ],
                CommonClientMessage::Disconnecting {
                    time_stamp: 5,
                    reason: link_err::OK,
                },
            ),
        ];
        for (t, bytes, want) in cases {
            assert_eq!(CommonClientMessage::parse(t, bytes).unwrap(), Some(want));
            let mut out = Vec::new();
            want.encode(&mut out);
            assert_eq!(out, bytes);
            assert_eq!(want.msg_type(), t);
            for n in 0..bytes.len() {
                assert!(CommonClientMessage::parse(t, &bytes[..n]).is_err());
            }
        }
    }

    #[test]
    fn other_common_messages() {
        assert_eq!(
            CommonClientMessage::parse(msgc::common::ACK, &[]).unwrap(),
            Some(CommonClientMessage::Ack)
        );
        assert_eq!(
            CommonClientMessage::parse(msgc::common::MIGRATE_DATA, &[1, 2]).unwrap(),
            Some(CommonClientMessage::MigrateData(&[1, 2]))
        );
        assert_eq!(CommonClientMessage::parse(101, &[]).unwrap(), None);
        assert_eq!(CommonClientMessage::parse(7, &[]).unwrap(), None);

        let n = Notify {
            time_stamp: 1,
            severity: 1,
            visibility: 2,
            what: 0,
            message: "hi",
        }
        .to_body()
        .unwrap();
        assert_eq!(
            n,
            [
                1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, b'h', b'i',
                0
            ]
        );
        let waits = [ChannelWait {
            channel_type: 2,
            channel_id: 0,
            message_serial: 9,
        }];
        assert_eq!(
            WaitForChannels { waits: &waits }.to_body().unwrap(),
            [1, 2, 0, 9, 0, 0, 0, 0, 0, 0, 0]
        );
        let too_many = vec![ChannelWait::default(); 256];
        assert!(WaitForChannels { waits: &too_many }.to_body().is_err());
        assert_eq!(
            Ping {
                id: 1,
                timestamp: 2,
                padding: 3
            }
            .to_body()
            .unwrap()
            .len(),
            15
        );
        assert_eq!(
            Disconnecting {
                time_stamp: 5,
                reason: 0
            }
            .to_body()
            .unwrap(),
            [5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(Migrate { flags: 3 }.to_body().unwrap(), [3, 0, 0, 0]);
        assert_eq!(MigrateData(&[9]).to_body().unwrap(), [9]);
    }
}
