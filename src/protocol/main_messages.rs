//! Main channel (type 1): session setup, mouse mode, channel list, agent.

use super::constants::{msg, msgc};
use super::error::Result;
use super::reader::Reader;
use super::server_message::{empty_server_message, ServerMessage};
use super::types::ChannelId;
use super::writer::{len_u32, Writer};

/// A main-channel message sent by the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MainClientMessage<'a> {
    /// Obsolete; spice-gtk no longer sends it.
    ClientInfo {
        cache_size: u64,
    },
    MigrateConnected,
    MigrateConnectError,
    /// The client is ready for CHANNELS_LIST (never send it earlier).
    AttachChannels,
    /// `mouse_mode` flags (u16).
    MouseModeRequest {
        mode: u16,
    },
    /// How many AGENT_DATA messages the server may send (spice-gtk: ~0).
    AgentStart {
        num_tokens: u32,
    },
    /// A slice of the vdagent stream.
    AgentData(&'a [u8]),
    AgentToken {
        num_tokens: u32,
    },
    MigrateEnd,
    MigrateDstDoSeamless {
        src_version: u32,
    },
    MigrateConnectedSeamless,
    /// Newer than spice.proto 2017; opaque.
    QualityIndicator(&'a [u8]),
}

impl<'a> MainClientMessage<'a> {
    /// Parses a main-channel type (101 and up); `Ok(None)` for an unknown type.
    pub fn parse(msg_type: u16, body: &'a [u8]) -> Result<Option<Self>> {
        use MainClientMessage as M;
        let mut r = Reader::new(body);
        let m = match msg_type {
            msgc::main::CLIENT_INFO => M::ClientInfo {
                cache_size: r.u64()?,
            },
            msgc::main::MIGRATE_CONNECTED => M::MigrateConnected,
            msgc::main::MIGRATE_CONNECT_ERROR => M::MigrateConnectError,
            msgc::main::ATTACH_CHANNELS => M::AttachChannels,
            msgc::main::MOUSE_MODE_REQUEST => M::MouseModeRequest { mode: r.u16()? },
            msgc::main::AGENT_START => M::AgentStart {
                num_tokens: r.u32()?,
            },
            msgc::main::AGENT_DATA => M::AgentData(body),
            msgc::main::AGENT_TOKEN => M::AgentToken {
                num_tokens: r.u32()?,
            },
            msgc::main::MIGRATE_END => M::MigrateEnd,
            msgc::main::MIGRATE_DST_DO_SEAMLESS => M::MigrateDstDoSeamless {
                src_version: r.u32()?,
            },
            msgc::main::MIGRATE_CONNECTED_SEAMLESS => M::MigrateConnectedSeamless,
            msgc::main::QUALITY_INDICATOR => M::QualityIndicator(body),
            _ => return Ok(None),
        };
        Ok(Some(m))
    }

    /// The `SPICE_MSGC_MAIN_*` type number.
    pub fn msg_type(&self) -> u16 {
        use MainClientMessage as M;
        match self {
            M::ClientInfo { .. } => msgc::main::CLIENT_INFO,
            M::MigrateConnected => msgc::main::MIGRATE_CONNECTED,
            M::MigrateConnectError => msgc::main::MIGRATE_CONNECT_ERROR,
            M::AttachChannels => msgc::main::ATTACH_CHANNELS,
            M::MouseModeRequest { .. } => msgc::main::MOUSE_MODE_REQUEST,
            M::AgentStart { .. } => msgc::main::AGENT_START,
            M::AgentData(_) => msgc::main::AGENT_DATA,
            M::AgentToken { .. } => msgc::main::AGENT_TOKEN,
            M::MigrateEnd => msgc::main::MIGRATE_END,
            M::MigrateDstDoSeamless { .. } => msgc::main::MIGRATE_DST_DO_SEAMLESS,
            M::MigrateConnectedSeamless => msgc::main::MIGRATE_CONNECTED_SEAMLESS,
            M::QualityIndicator(_) => msgc::main::QUALITY_INDICATOR,
        }
    }

    /// Appends the body as a client would send it.
    pub fn encode(&self, out: &mut Vec<u8>) {
        use MainClientMessage as M;
        let mut w = Writer::new(out);
        match *self {
            M::ClientInfo { cache_size } => w.u64(cache_size),
            M::MigrateConnected
            | M::MigrateConnectError
            | M::AttachChannels
            | M::MigrateEnd
            | M::MigrateConnectedSeamless => {}
            M::MouseModeRequest { mode } => w.u16(mode),
            M::AgentStart { num_tokens } | M::AgentToken { num_tokens } => w.u32(num_tokens),
            M::AgentData(data) | M::QualityIndicator(data) => w.bytes(data),
            M::MigrateDstDoSeamless { src_version } => w.u32(src_version),
        }
    }
}

/// MAIN_INIT: the first data message of a session. All fields are u32
/// (mouse modes too, unlike MOUSE_MODE).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MainInit {
    /// The connection id every other channel must link with (non-zero).
    pub session_id: u32,
    pub display_channels_hint: u32,
    pub supported_mouse_modes: u32,
    pub current_mouse_mode: u32,
    pub agent_connected: u32,
    pub agent_tokens: u32,
    /// Server mm-clock minus a lead (spice-server: 400 ms) so that frames
    /// stamped "now" are not late on arrival.
    pub multi_media_time: u32,
    pub ram_hint: u32,
}

impl ServerMessage for MainInit {
    fn msg_type(&self) -> u16 {
        msg::main::INIT
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let mut w = Writer::new(out);
        for v in [
            self.session_id,
            self.display_channels_hint,
            self.supported_mouse_modes,
            self.current_mouse_mode,
            self.agent_connected,
            self.agent_tokens,
            self.multi_media_time,
            self.ram_hint,
        ] {
            w.u32(v);
        }
        Ok(())
    }
}

/// CHANNELS_LIST: the channels the client should open (never main itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelsList<'a> {
    pub channels: &'a [ChannelId],
}

impl ServerMessage for ChannelsList<'_> {
    fn msg_type(&self) -> u16 {
        msg::main::CHANNELS_LIST
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let mut w = Writer::new(out);
        w.u32(len_u32("num_of_channels", self.channels.len())?);
        for c in self.channels {
            c.encode(&mut w);
        }
        Ok(())
    }
}

/// MOUSE_MODE: u16 supported modes, u16 current mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MouseMode {
    pub supported_modes: u16,
    pub current_mode: u16,
}

impl ServerMessage for MouseMode {
    fn msg_type(&self) -> u16 {
        msg::main::MOUSE_MODE
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let mut w = Writer::new(out);
        w.u16(self.supported_modes);
        w.u16(self.current_mode);
        Ok(())
    }
}

/// MULTI_MEDIA_TIME: resets the client's mm-clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MultiMediaTime {
    pub time: u32,
}

impl ServerMessage for MultiMediaTime {
    fn msg_type(&self) -> u16 {
        msg::main::MULTI_MEDIA_TIME
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        Writer::new(out).u32(self.time);
        Ok(())
    }
}

/// AGENT_DISCONNECTED: `link_err` code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AgentDisconnected {
    pub error_code: u32,
}

impl ServerMessage for AgentDisconnected {
    fn msg_type(&self) -> u16 {
        msg::main::AGENT_DISCONNECTED
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        Writer::new(out).u32(self.error_code);
        Ok(())
    }
}

/// AGENT_DATA (server side): a slice of the vdagent stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AgentData<'a>(pub &'a [u8]);

impl ServerMessage for AgentData<'_> {
    fn msg_type(&self) -> u16 {
        msg::main::AGENT_DATA
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        Writer::new(out).bytes(self.0);
        Ok(())
    }
}

/// AGENT_TOKEN: grants the client more AGENT_DATA messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AgentToken {
    pub num_tokens: u32,
}

impl ServerMessage for AgentToken {
    fn msg_type(&self) -> u16 {
        msg::main::AGENT_TOKEN
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        Writer::new(out).u32(self.num_tokens);
        Ok(())
    }
}

/// AGENT_CONNECTED_TOKENS: agent attached, with its token grant (for clients
/// with the AGENT_CONNECTED_TOKENS cap).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AgentConnectedTokens {
    pub num_tokens: u32,
}

impl ServerMessage for AgentConnectedTokens {
    fn msg_type(&self) -> u16 {
        msg::main::AGENT_CONNECTED_TOKENS
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        Writer::new(out).u32(self.num_tokens);
        Ok(())
    }
}

/// NAME: the VM name. Like spice-server, `name_len` counts a trailing NUL
/// that is sent too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Name<'a> {
    pub name: &'a str,
}

impl ServerMessage for Name<'_> {
    fn msg_type(&self) -> u16 {
        msg::main::NAME
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let mut w = Writer::new(out);
        w.u32(len_u32("name_len", self.name.len().saturating_add(1))?);
        w.bytes(self.name.as_bytes());
        w.u8(0);
        Ok(())
    }
}

/// UUID: 16 raw bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Uuid {
    pub uuid: [u8; 16],
}

impl ServerMessage for Uuid {
    fn msg_type(&self) -> u16 {
        msg::main::UUID
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        Writer::new(out).bytes(&self.uuid);
        Ok(())
    }
}

empty_server_message!(
    /// MIGRATE_CANCEL.
    MigrateCancel,
    msg::main::MIGRATE_CANCEL
);
empty_server_message!(
    /// AGENT_CONNECTED (clients without AGENT_CONNECTED_TOKENS).
    AgentConnected,
    msg::main::AGENT_CONNECTED
);
empty_server_message!(
    /// MIGRATE_END.
    MigrateEnd,
    msg::main::MIGRATE_END
);
empty_server_message!(
    /// MIGRATE_DST_SEAMLESS_ACK.
    MigrateDstSeamlessAck,
    msg::main::MIGRATE_DST_SEAMLESS_ACK
);
empty_server_message!(
    /// MIGRATE_DST_SEAMLESS_NACK.
    MigrateDstSeamlessNack,
    msg::main::MIGRATE_DST_SEAMLESS_NACK
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::constants::{channel, mouse_mode};

    #[test]
    fn appendix_a_main_init() {
        let b = MainInit {
            session_id: 0xdead_beef,
            display_channels_hint: 1,
            supported_mouse_modes: 3,
            current_mouse_mode: 2,
            agent_connected: 0,
            agent_tokens: 10,
            multi_media_time: 0x1000,
            ram_hint: 0,
        }
        .to_body()
        .unwrap();
        assert_eq!(
            b,
            [
                0xef, 0xbe, 0xad, 0xde, 0x01, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x02, 0x00,
                0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00,
                0x00, 0x00, 0x00, 0x00
            ]
        );
    }

    #[test]
    fn appendix_a_channels_list_and_mouse_mode() {
        let list = [
            ChannelId {
                channel_type: channel::DISPLAY,
                id: 0,
            },
            ChannelId {
                channel_type: channel::INPUTS,
                id: 0,
            },
            ChannelId {
                channel_type: channel::CURSOR,
                id: 0,
            },
        ];
        assert_eq!(
            ChannelsList { channels: &list }.to_body().unwrap(),
            [0x03, 0x00, 0x00, 0x00, 0x02, 0x00, 0x03, 0x00, 0x04, 0x00]
        );
        assert_eq!(
            MouseMode {
                supported_modes: 3,
                current_mode: 2
            }
            .to_body()
            .unwrap(),
            [0x03, 0x00, 0x02, 0x00]
        );
    }

    #[test]
    fn appendix_a_client_main() {
        let cases: [(u16, &[u8], MainClientMessage<'_>); 2] = [
            (
                msgc::main::MOUSE_MODE_REQUEST,
                &[0x02, 0x00],
                MainClientMessage::MouseModeRequest {
                    mode: mouse_mode::CLIENT,
                },
            ),
            (
                msgc::main::AGENT_START,
                &[0xff, 0xff, 0xff, 0xff],
                MainClientMessage::AgentStart {
                    num_tokens: u32::MAX,
                },
            ),
        ];
        for (t, bytes, want) in cases {
            assert_eq!(MainClientMessage::parse(t, bytes).unwrap(), Some(want));
            let mut out = Vec::new();
            want.encode(&mut out);
            assert_eq!(out, bytes);
            assert_eq!(want.msg_type(), t);
            for n in 0..bytes.len() {
                assert!(MainClientMessage::parse(t, &bytes[..n]).is_err());
            }
        }
    }

    #[test]
    fn all_client_main_round_trip() {
        let all = [
            MainClientMessage::ClientInfo { cache_size: 77 },
            MainClientMessage::MigrateConnected,
            MainClientMessage::MigrateConnectError,
            MainClientMessage::AttachChannels,
            MainClientMessage::MouseModeRequest { mode: 1 },
            MainClientMessage::AgentStart { num_tokens: 5 },
            MainClientMessage::AgentData(&[1, 2, 3]),
            MainClientMessage::AgentToken { num_tokens: 6 },
            MainClientMessage::MigrateEnd,
            MainClientMessage::MigrateDstDoSeamless { src_version: 2 },
            MainClientMessage::MigrateConnectedSeamless,
            MainClientMessage::QualityIndicator(b"q"),
        ];
        for m in all {
            let mut out = Vec::new();
            m.encode(&mut out);
            assert_eq!(
                MainClientMessage::parse(m.msg_type(), &out).unwrap(),
                Some(m)
            );
        }
        assert_eq!(MainClientMessage::parse(113, &[]).unwrap(), None);
        // Trailing bytes are tolerated, as by spice-common's demarshallers.
        assert_eq!(
            MainClientMessage::parse(msgc::main::AGENT_TOKEN, &[1, 0, 0, 0, 9]).unwrap(),
            Some(MainClientMessage::AgentToken { num_tokens: 1 })
        );
    }

    #[test]
    fn other_main_server_messages() {
        assert_eq!(
            Name { name: "vm" }.to_body().unwrap(),
            [3, 0, 0, 0, b'v', b'm', 0]
        );
        let uuid = [7u8; 16];
        assert_eq!(Uuid { uuid }.to_body().unwrap(), uuid);
        assert_eq!(MultiMediaTime { time: 5 }.to_body().unwrap(), [5, 0, 0, 0]);
        assert_eq!(
            AgentToken { num_tokens: 10 }.to_body().unwrap(),
            [10, 0, 0, 0]
        );
        assert_eq!(
            AgentConnectedTokens { num_tokens: 10 }.msg_type(),
            msg::main::AGENT_CONNECTED_TOKENS
        );
        assert_eq!(AgentData(&[1, 2]).to_body().unwrap(), [1, 2]);
        assert_eq!(
            AgentDisconnected { error_code: 1 }.to_body().unwrap(),
            [1, 0, 0, 0]
        );
        assert!(AgentConnected.to_body().unwrap().is_empty());
        assert_eq!(MigrateCancel.msg_type(), 102);
        assert_eq!(MigrateEnd.msg_type(), 112);
        assert_eq!(MigrateDstSeamlessAck.msg_type(), 117);
        assert_eq!(MigrateDstSeamlessNack.msg_type(), 118);
    }
}
