//! Inputs channel (type 3): keyboard and mouse.

use super::constants::{msg, msgc};
use super::error::Result;
use super::reader::Reader;
use super::server_message::{empty_server_message, ServerMessage};
use super::writer::Writer;

/// An inputs-channel message sent by the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputsClientMessage<'a> {
    /// Up to 4 XT set-1 scancode bytes packed LSB-first, ended by a 0 byte
    /// (see [`scancode_bytes`]).
    KeyDown {
        code: u32,
    },
    KeyUp {
        code: u32,
    },
    /// The client's lock-key state (`keyboard_modifier` flags).
    KeyModifiers {
        modifiers: u16,
    },
    /// Raw scancode bytes, e.g. an atomic press + release.
    KeyScancode(&'a [u8]),
    /// Relative motion (server mouse mode).
    MouseMotion {
        dx: i32,
        dy: i32,
        buttons_state: u16,
    },
    /// Absolute position on display channel `display_id` (client mouse mode).
    MousePosition {
        x: u32,
        y: u32,
        buttons_state: u16,
        display_id: u8,
    },
    /// `buttons_state` includes the pressed button.
    MousePress {
        button: u8,
        buttons_state: u16,
    },
    /// `buttons_state` excludes the released button.
    MouseRelease {
        button: u8,
        buttons_state: u16,
    },
}

impl<'a> InputsClientMessage<'a> {
    /// Parses an inputs-channel type; `Ok(None)` for an unknown type.
    pub fn parse(msg_type: u16, body: &'a [u8]) -> Result<Option<Self>> {
        use InputsClientMessage as M;
        let mut r = Reader::new(body);
        let m = match msg_type {
            msgc::inputs::KEY_DOWN => M::KeyDown { code: r.u32()? },
            msgc::inputs::KEY_UP => M::KeyUp { code: r.u32()? },
            msgc::inputs::KEY_MODIFIERS => M::KeyModifiers {
                modifiers: r.u16()?,
            },
            msgc::inputs::KEY_SCANCODE => M::KeyScancode(body),
            msgc::inputs::MOUSE_MOTION => M::MouseMotion {
                dx: r.i32()?,
                dy: r.i32()?,
                buttons_state: r.u16()?,
            },
            msgc::inputs::MOUSE_POSITION => M::MousePosition {
                x: r.u32()?,
                y: r.u32()?,
                buttons_state: r.u16()?,
                display_id: r.u8()?,
            },
            msgc::inputs::MOUSE_PRESS => M::MousePress {
                button: r.u8()?,
                buttons_state: r.u16()?,
            },
            msgc::inputs::MOUSE_RELEASE => M::MouseRelease {
                button: r.u8()?,
                buttons_state: r.u16()?,
            },
            _ => return Ok(None),
        };
        Ok(Some(m))
    }

    /// The `SPICE_MSGC_INPUTS_*` type number.
    pub fn msg_type(&self) -> u16 {
        use InputsClientMessage as M;
        match self {
            M::KeyDown { .. } => msgc::inputs::KEY_DOWN,
            M::KeyUp { .. } => msgc::inputs::KEY_UP,
            M::KeyModifiers { .. } => msgc::inputs::KEY_MODIFIERS,
            M::KeyScancode(_) => msgc::inputs::KEY_SCANCODE,
            M::MouseMotion { .. } => msgc::inputs::MOUSE_MOTION,
            M::MousePosition { .. } => msgc::inputs::MOUSE_POSITION,
            M::MousePress { .. } => msgc::inputs::MOUSE_PRESS,
            M::MouseRelease { .. } => msgc::inputs::MOUSE_RELEASE,
        }
    }

    /// Appends the body as a client would send it.
    pub fn encode(&self, out: &mut Vec<u8>) {
        use InputsClientMessage as M;
        let mut w = Writer::new(out);
        match *self {
            M::KeyDown { code } | M::KeyUp { code } => w.u32(code),
            M::KeyModifiers { modifiers } => w.u16(modifiers),
            M::KeyScancode(data) => w.bytes(data),
            M::MouseMotion {
                dx,
                dy,
                buttons_state,
            } => {
                w.i32(dx);
                w.i32(dy);
                w.u16(buttons_state);
            }
            M::MousePosition {
                x,
                y,
                buttons_state,
                display_id,
            } => {
                w.u32(x);
                w.u32(y);
                w.u16(buttons_state);
                w.u8(display_id);
            }
            M::MousePress {
                button,
                buttons_state,
            }
            | M::MouseRelease {
                button,
                buttons_state,
            } => {
                w.u8(button);
                w.u16(buttons_state);
            }
        }
    }
}

/// The scancode bytes packed in a KEY_DOWN/KEY_UP `code`: byte 0 first,
/// stopping at the first 0 byte (as spice-server does). Right Ctrl down
/// (`0x1de0`) gives `[0xe0, 0x1d]`.
pub fn scancode_bytes(code: u32) -> impl Iterator<Item = u8> {
    code.to_le_bytes().into_iter().take_while(|&b| b != 0)
}

/// INPUTS_INIT: the guest's keyboard LED state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InputsInit {
    pub keyboard_modifiers: u16,
}

impl ServerMessage for InputsInit {
    fn msg_type(&self) -> u16 {
        msg::inputs::INIT
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        Writer::new(out).u16(self.keyboard_modifiers);
        Ok(())
    }
}

/// INPUTS_KEY_MODIFIERS: the guest's LED state changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyModifiers {
    pub modifiers: u16,
}

impl ServerMessage for KeyModifiers {
    fn msg_type(&self) -> u16 {
        msg::inputs::KEY_MODIFIERS
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        Writer::new(out).u16(self.modifiers);
        Ok(())
    }
}

empty_server_message!(
    /// MOUSE_MOTION_ACK: send one per 4 motion/position messages or the
    /// client's pointer freezes after 8.
    MouseMotionAck,
    msg::inputs::MOUSE_MOTION_ACK
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::constants::{keyboard_modifier, mouse_button, mouse_button_mask};

    #[test]
    fn appendix_a_client_inputs() {
        let cases: [(u16, &[u8], InputsClientMessage<'_>); 5] = [
            (
                msgc::inputs::MOUSE_POSITION,
                &[
                    0x64, 0x00, 0x00, 0x00, 0xc8, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
                ],
                InputsClientMessage::MousePosition {
                    x: 100,
                    y: 200,
                    buttons_state: mouse_button_mask::LEFT,
                    display_id: 0,
                },
            ),
            (
                msgc::inputs::MOUSE_MOTION,
                &[0xfd, 0xff, 0xff, 0xff, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00],
                InputsClientMessage::MouseMotion {
                    dx: -3,
                    dy: 4,
                    buttons_state: 0,
                },
            ),
            (
                msgc::inputs::MOUSE_PRESS,
                &[0x01, 0x01, 0x00],
                InputsClientMessage::MousePress {
                    button: mouse_button::LEFT,
                    buttons_state: mouse_button_mask::LEFT,
                },
            ),
            (
                msgc::inputs::KEY_DOWN,
                &[0xe0, 0x1d, 0x00, 0x00],
                InputsClientMessage::KeyDown { code: 0x1de0 },
            ),
            (
                msgc::inputs::KEY_MODIFIERS,
                &[0x02, 0x00],
                InputsClientMessage::KeyModifiers {
                    modifiers: keyboard_modifier::NUM_LOCK,
                },
            ),
        ];
        for (t, bytes, want) in cases {
            assert_eq!(InputsClientMessage::parse(t, bytes).unwrap(), Some(want));
            let mut out = Vec::new();
            want.encode(&mut out);
            assert_eq!(out, bytes);
            assert_eq!(want.msg_type(), t);
            for n in 0..bytes.len() {
                assert!(InputsClientMessage::parse(t, &bytes[..n]).is_err());
            }
        }
    }

    #[test]
    fn appendix_a_server_inputs() {
        assert_eq!(
            InputsInit {
                keyboard_modifiers: keyboard_modifier::NUM_LOCK
            }
            .to_body()
            .unwrap(),
            [0x02, 0x00]
        );
        assert_eq!(KeyModifiers { modifiers: 4 }.to_body().unwrap(), [4, 0]);
        assert!(MouseMotionAck.to_body().unwrap().is_empty());
        assert_eq!(MouseMotionAck.msg_type(), 111);
    }

    #[test]
    fn scancodes() {
        assert_eq!(scancode_bytes(0x1de0).collect::<Vec<_>>(), [0xe0, 0x1d]);
        assert_eq!(scancode_bytes(0x9de0).collect::<Vec<_>>(), [0xe0, 0x9d]);
        assert_eq!(scancode_bytes(0x1e).collect::<Vec<_>>(), [0x1e]);
        assert_eq!(scancode_bytes(0).count(), 0);
        assert_eq!(scancode_bytes(0x0100_00e0).collect::<Vec<_>>(), [0xe0]);
    }

    #[test]
    fn others_round_trip() {
        for m in [
            InputsClientMessage::KeyUp { code: 0x9de0 },
            InputsClientMessage::KeyScancode(&[0x1e, 0x9e]),
            InputsClientMessage::MouseRelease {
                button: mouse_button::UP,
                buttons_state: 0,
            },
        ] {
            let mut out = Vec::new();
            m.encode(&mut out);
            assert_eq!(
                InputsClientMessage::parse(m.msg_type(), &out).unwrap(),
                Some(m)
            );
        }
        assert_eq!(InputsClientMessage::parse(105, &[]).unwrap(), None);
    }
}
