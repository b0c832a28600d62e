//! Every message a client may send, dispatched by channel type and message
//! type.
//!
//! Unknown types become [`ClientMessage::Unknown`] so the caller can skip
//! them (disconnecting on unknown-but-legal messages breaks real clients);
//! a known type with a malformed body is an error.

use super::common_messages::CommonClientMessage;
use super::constants::{channel, msg};
use super::display_messages::DisplayClientMessage;
use super::error::Result;
use super::inputs_messages::InputsClientMessage;
use super::main_messages::MainClientMessage;

/// A parsed client → server message. Payloads borrow from the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientMessage<'a> {
    /// Types 1..=100, valid on every channel.
    Common(CommonClientMessage<'a>),
    Main(MainClientMessage<'a>),
    Display(DisplayClientMessage<'a>),
    Inputs(InputsClientMessage<'a>),
    /// A type this crate does not know on this channel (cursor, sound, ...
    /// have no client messages of their own here).
    Unknown {
        channel_type: u8,
        msg_type: u16,
        body: &'a [u8],
    },
}

/// Parses the body of a client message of `msg_type` received on a channel
/// of `channel_type`.
pub fn parse_client_message(
    channel_type: u8,
    msg_type: u16,
    body: &[u8],
) -> Result<ClientMessage<'_>> {
    let parsed = if msg_type <= msg::common::BASE_LAST {
        CommonClientMessage::parse(msg_type, body)?.map(ClientMessage::Common)
    } else {
        match channel_type {
            channel::MAIN => MainClientMessage::parse(msg_type, body)?.map(ClientMessage::Main),
            channel::DISPLAY => {
                DisplayClientMessage::parse(msg_type, body)?.map(ClientMessage::Display)
            }
            channel::INPUTS => {
                InputsClientMessage::parse(msg_type, body)?.map(ClientMessage::Inputs)
            }
            _ => None,
        }
    };
    Ok(parsed.unwrap_or(ClientMessage::Unknown {
        channel_type,
        msg_type,
        body,
    }))
}

impl<'a> ClientMessage<'a> {
    /// Same as [`parse_client_message`].
    pub fn parse(channel_type: u8, msg_type: u16, body: &'a [u8]) -> Result<Self> {
        parse_client_message(channel_type, msg_type, body)
    }

    /// The message type number for the data header.
    pub fn msg_type(&self) -> u16 {
        match self {
            ClientMessage::Common(m) => m.msg_type(),
            ClientMessage::Main(m) => m.msg_type(),
            ClientMessage::Display(m) => m.msg_type(),
            ClientMessage::Inputs(m) => m.msg_type(),
            ClientMessage::Unknown { msg_type, .. } => *msg_type,
        }
    }

    /// Appends the body as a client would send it (for tests, fuzzing and
    /// test clients). `Unknown` bodies are copied verbatim.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        match self {
            ClientMessage::Common(m) => m.encode(out),
            ClientMessage::Main(m) => m.encode(out),
            ClientMessage::Display(m) => m.encode(out)?,
            ClientMessage::Inputs(m) => m.encode(out),
            ClientMessage::Unknown { body, .. } => out.extend_from_slice(body),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::constants::msgc;
    use crate::protocol::error::ProtocolError;

    #[test]
    fn dispatches_by_channel() {
        assert_eq!(
            parse_client_message(channel::CURSOR, msgc::common::ACK_SYNC, &[1, 0, 0, 0]).unwrap(),
            ClientMessage::Common(CommonClientMessage::AckSync { generation: 1 })
        );
        assert_eq!(
            parse_client_message(channel::MAIN, msgc::main::ATTACH_CHANNELS, &[]).unwrap(),
            ClientMessage::Main(MainClientMessage::AttachChannels)
        );
        // Same number, other channel: inputs KEY_DOWN vs main CLIENT_INFO (101).
        assert!(matches!(
            parse_client_message(channel::INPUTS, 101, &[0x1e, 0, 0, 0]).unwrap(),
            ClientMessage::Inputs(InputsClientMessage::KeyDown { code: 0x1e })
        ));
        assert!(matches!(
            parse_client_message(channel::DISPLAY, 101, &[0; 14]).unwrap(),
            ClientMessage::Display(DisplayClientMessage::Init { .. })
        ));
        assert!(parse_client_message(channel::MAIN, 101, &[0; 4]).is_err());
    }

    #[test]
    fn unknown_types_are_skippable() {
        for (ch, t) in [
            (channel::CURSOR, 101),
            (channel::PLAYBACK, 101),
            (channel::MAIN, 200),
            (channel::DISPLAY, 99),
            (channel::INPUTS, 7),
            (0, 0),
            (255, u16::MAX),
        ] {
            let m = parse_client_message(ch, t, &[1, 2, 3]).unwrap();
            assert_eq!(
                m,
                ClientMessage::Unknown {
                    channel_type: ch,
                    msg_type: t,
                    body: &[1, 2, 3]
                }
            );
            assert_eq!(m.msg_type(), t);
            let mut out = Vec::new();
            m.encode(&mut out).unwrap();
            assert_eq!(out, [1, 2, 3]);
        }
    }

    #[test]
    fn malformed_known_bodies() {
        // (channel, type, body) that must all fail without panicking.
        let cases: &[(u8, u16, &[u8])] = &[
            (channel::MAIN, msgc::common::ACK_SYNC, &[]),
            (channel::MAIN, msgc::common::PONG, &[0; 11]),
            (channel::DISPLAY, msgc::common::DISCONNECTING, &[0; 8]),
            (channel::MAIN, msgc::main::CLIENT_INFO, &[0; 7]),
            (channel::MAIN, msgc::main::MOUSE_MODE_REQUEST, &[2]),
            (channel::MAIN, msgc::main::AGENT_START, &[]),
            (channel::MAIN, msgc::main::AGENT_TOKEN, &[1, 2, 3]),
            (channel::MAIN, msgc::main::MIGRATE_DST_DO_SEAMLESS, &[0]),
            (channel::DISPLAY, msgc::display::INIT, &[0; 13]),
            (channel::DISPLAY, msgc::display::STREAM_REPORT, &[0; 31]),
            (channel::DISPLAY, msgc::display::PREFERRED_COMPRESSION, &[]),
            (
                channel::DISPLAY,
                msgc::display::PREFERRED_VIDEO_CODEC_TYPE,
                &[],
            ),
            (
                channel::DISPLAY,
                msgc::display::PREFERRED_VIDEO_CODEC_TYPE,
                &[3, 1, 2],
            ),
            (
                channel::DISPLAY,
                msgc::display::PREFERRED_VIDEO_CODEC_TYPE,
                &[255],
            ),
            (channel::INPUTS, msgc::inputs::KEY_DOWN, &[0xe0, 0x1d]),
            (channel::INPUTS, msgc::inputs::KEY_UP, &[]),
            (channel::INPUTS, msgc::inputs::KEY_MODIFIERS, &[1]),
            (channel::INPUTS, msgc::inputs::MOUSE_MOTION, &[0; 9]),
            (channel::INPUTS, msgc::inputs::MOUSE_POSITION, &[0; 10]),
            (channel::INPUTS, msgc::inputs::MOUSE_PRESS, &[1, 1]),
            (channel::INPUTS, msgc::inputs::MOUSE_RELEASE, &[]),
        ];
        for &(ch, t, body) in cases {
            let r = parse_client_message(ch, t, body);
            assert!(
                matches!(r, Err(ProtocolError::Truncated { .. })),
                "channel {ch} type {t} body {body:?} gave {r:?}"
            );
        }
    }

    #[test]
    fn empty_and_raw_bodies_are_fine() {
        for (ch, t) in [
            (channel::MAIN, msgc::common::ACK),
            (channel::MAIN, msgc::common::MIGRATE_FLUSH_MARK),
            (channel::MAIN, msgc::common::MIGRATE_DATA),
            (channel::MAIN, msgc::main::AGENT_DATA),
            (channel::MAIN, msgc::main::QUALITY_INDICATOR),
            (channel::INPUTS, msgc::inputs::KEY_SCANCODE),
            (channel::DISPLAY, msgc::display::GL_DRAW_DONE),
        ] {
            assert!(parse_client_message(ch, t, &[]).is_ok());
        }
    }
}
