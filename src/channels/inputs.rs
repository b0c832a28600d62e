//! The inputs channel (SPICE channel type 3), on the main thread.

declare_channel_pair! {
    /// The inputs channel: keyboard and mouse from clients.
    channel InputsChannel = "RedInputsChannel", InputsChannel;
    /// A client's inputs channel connection.
    client InputsChannelClient = "RedInputsChannelClient", InputsChannelClient;
    protocol InputsProtocol;
}

use crate::base::dispatcher::Dispatcher;
use crate::model::channel_client::ChannelClient;
use crate::model::connection::{ChannelProtocol, Outbox, Result};
use crate::model::error::ConnectionError;
use crate::model::messages::{InputEvent, MainMessage};
use crate::protocol::constants::SPICE_INPUT_MOTION_ACK_BUNCH;
use crate::protocol::inputs_messages::{scancode_bytes, InputsInit, MouseMotionAck};
use crate::protocol::{ClientMessage, InputsClientMessage};

/// Turns scancode bytes (E0 prefixes, release bits) into key events.
pub fn key_events(bytes: impl IntoIterator<Item = u8>) -> Vec<(u32, bool)> {
    let mut events = Vec::new();
    let mut extended = false;
    for b in bytes {
        if b == 0xe0 {
            extended = true;
            continue;
        }
        let code = u32::from(b & 0x7f) | if extended { 0xe000 } else { 0 };
        events.push((code, b & 0x80 == 0));
        extended = false;
    }
    events
}

/// Input events waiting for the main loop above which a client's input is
/// read later: the events of one KEY_SCANCODE (up to 4 KiB of scancodes)
/// come on top, so the queue stays within a few thousand events.
const MAX_QUEUED_EVENTS: usize = 1024;

/// The inputs channel's side of one client connection (main thread).
/// Events go through the main dispatcher, so they reach the application
/// in order and outside the connection's lock.
pub(crate) struct InputsProtocol {
    dispatcher: Dispatcher<MainMessage>,
    motions: u32,
    /// The guest's lock-key state at connection time.
    modifiers: u32,
}

impl InputsProtocol {
    pub(crate) fn new(dispatcher: Dispatcher<MainMessage>, modifiers: u32) -> Self {
        InputsProtocol {
            dispatcher,
            motions: 0,
            modifiers,
        }
    }

    fn emit(&self, event: InputEvent) {
        self.dispatcher.send(MainMessage::Input(event));
    }

    fn motion(&mut self, out: &mut Outbox) -> Result {
        self.motions += 1;
        if self.motions.is_multiple_of(SPICE_INPUT_MOTION_ACK_BUNCH) {
            out.send(&MouseMotionAck)?;
        }
        Ok(())
    }
}

impl ChannelProtocol for InputsProtocol {
    fn ready_for_input(&self) -> bool {
        self.dispatcher.queued() < MAX_QUEUED_EVENTS
    }

    fn start(&mut self, _rcc: &ChannelClient, out: &mut Outbox) -> Result {
        out.send(&InputsInit {
            keyboard_modifiers: self.modifiers as u16,
        })
    }

    fn handle(
        &mut self,
        _rcc: &ChannelClient,
        message: ClientMessage<'_>,
        out: &mut Outbox,
    ) -> Result {
        let ClientMessage::Inputs(message) = message else {
            return Err(ConnectionError::unexpected("inputs", message.msg_type()));
        };
        match message {
            InputsClientMessage::KeyDown { code } | InputsClientMessage::KeyUp { code } => {
                let down = matches!(message, InputsClientMessage::KeyDown { .. });
                for (scancode, _) in key_events(scancode_bytes(code)) {
                    self.emit(InputEvent::Key {
                        scancode,
                        pressed: down,
                    });
                }
            }
            InputsClientMessage::KeyScancode(bytes) => {
                for (scancode, pressed) in key_events(bytes.iter().copied()) {
                    self.emit(InputEvent::Key { scancode, pressed });
                }
            }
            InputsClientMessage::KeyModifiers { modifiers } => {
                self.emit(InputEvent::Modifiers(u32::from(modifiers)))
            }
            InputsClientMessage::MouseMotion {
                dx,
                dy,
                buttons_state,
            } => {
                self.emit(InputEvent::Motion {
                    dx,
                    dy,
                    buttons: u32::from(buttons_state),
                });
                self.motion(out)?;
            }
            InputsClientMessage::MousePosition {
                x,
                y,
                buttons_state,
                display_id,
            } => {
                self.emit(InputEvent::Position {
                    display_id: u32::from(display_id),
                    x: x.min(i32::MAX as u32) as i32,
                    y: y.min(i32::MAX as u32) as i32,
                    buttons: u32::from(buttons_state),
                });
                self.motion(out)?;
            }
            InputsClientMessage::MousePress {
                button,
                buttons_state,
            } => self.emit(InputEvent::Button {
                button: u32::from(button),
                pressed: true,
                buttons: u32::from(buttons_state),
            }),
            InputsClientMessage::MouseRelease {
                button,
                buttons_state,
            } => self.emit(InputEvent::Button {
                button: u32::from(button),
                pressed: false,
                buttons: u32::from(buttons_state),
            }),
        }
        Ok(())
    }

    fn as_any(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::key_events;

    #[test]
    fn extended_keys_and_release_bits() {
        assert_eq!(key_events([0x1e]), vec![(0x1e, true)]);
        assert_eq!(key_events([0x9e]), vec![(0x1e, false)]);
        assert_eq!(key_events([0xe0, 0x1d]), vec![(0xe01d, true)]);
        assert_eq!(key_events([0xe0, 0x9d]), vec![(0xe01d, false)]);
        assert_eq!(
            key_events([0xe0, 0x48, 0xe0, 0xc8]),
            vec![(0xe048, true), (0xe048, false)]
        );
    }
}
