//! The cursor channel (SPICE channel type 4) of one `RedDisplay`, running
//! in that display's `RedWorker` thread beside its display channel.

declare_channel_pair! {
    /// A display's cursor channel: pointer shape and position.
    channel CursorChannel = "RedCursorChannel", CursorChannel;
    /// A client's cursor channel connection, in the worker thread.
    client CursorChannelClient = "RedCursorChannelClient", CursorChannelClient;
    protocol CursorProtocol;
}

use std::sync::{Arc, Mutex};

use crate::base::sync::lock;
use crate::display::state::{CursorShape, CursorState, DisplayState};
use crate::model::channel_client::ChannelClient;
use crate::model::connection::{ChannelProtocol, Outbox, Result};
use crate::model::error::ConnectionError;
use crate::protocol::constants::cursor_type;
use crate::protocol::cursor_messages::{
    Cursor, CursorHeader, CursorHide, CursorInit, CursorMove, CursorSet,
};
use crate::protocol::{ClientMessage, Point16};

/// The cursor channel's side of one client connection: it remembers what
/// the client was told, to send only the difference.
///
/// Every shape goes with its pixels and no cache flags. spice-html5 has no
/// cursor cache and ignores the flags: a FROM_CACHE shape (header, no
/// pixels) shows there as an empty cursor, and the server cannot tell it
/// from spice-gtk (both may come through a WebSocket proxy). A shape is
/// sent again only when it is shown after a hide; caching would have saved
/// those few KiB, and spice-gtk's cache (which it empties only on
/// INVAL_ALL) no longer grows with every new shape.
pub(crate) struct CursorProtocol {
    state: Arc<Mutex<DisplayState>>,
    sent: CursorState,
}

/// SPICE's ALPHA cursors carry straight alpha; the application's pixels
/// are premultiplied (cairo's ARGB32).
fn unpremultiply(shape: &CursorShape) -> Vec<u8> {
    let mut out = Vec::with_capacity(shape.pixels.len() * 4);
    for &p in &shape.pixels {
        let a = p >> 24;
        let channel = |shift: u32| {
            let c = (p >> shift) & 0xff;
            (c * 255 + a / 2).checked_div(a).unwrap_or(0).min(255)
        };
        let straight = (a << 24) | (channel(16) << 16) | (channel(8) << 8) | channel(0);
        out.extend_from_slice(&straight.to_le_bytes());
    }
    out
}

fn position(state: &CursorState) -> Point16 {
    let clamp = |v: i32| v.clamp(i16::MIN.into(), i16::MAX.into()) as i16;
    Point16 {
        x: clamp(state.x),
        y: clamp(state.y),
    }
}

fn header(serial: u64, shape: &CursorShape) -> CursorHeader {
    CursorHeader {
        unique: serial,
        cursor_type: cursor_type::ALPHA,
        width: shape.width as u16,
        height: shape.height as u16,
        hot_spot_x: shape.hot_x as u16,
        hot_spot_y: shape.hot_y as u16,
    }
}

impl CursorProtocol {
    pub(crate) fn new(state: Arc<Mutex<DisplayState>>) -> Self {
        CursorProtocol {
            state,
            sent: CursorState::default(),
        }
    }

    fn current(&self) -> CursorState {
        lock(&self.state).cursor.clone()
    }

    /// The Cursor part of INIT or SET for `now`, with its pixels.
    fn cursor<'a>(now: &CursorState, data: &'a mut Vec<u8>) -> Cursor<'a> {
        let Some(shape) = &now.shape else {
            return Cursor::None;
        };
        *data = unpremultiply(shape);
        Cursor::Shape {
            flags: 0,
            header: header(now.serial, shape),
            data,
        }
    }

    /// Sends what changed since the client was last told.
    fn update(&mut self, out: &mut Outbox) -> Result {
        let now = self.current();
        if now == self.sent {
            return Ok(());
        }
        let new_shape = now.serial != self.sent.serial;
        if !now.visible {
            if self.sent.visible {
                out.send(&CursorHide)?;
            }
        } else if new_shape || !self.sent.visible {
            let mut data = Vec::new();
            let cursor = Self::cursor(&now, &mut data);
            out.send(&CursorSet {
                position: position(&now),
                visible: true,
                cursor,
            })?;
        } else {
            out.send(&CursorMove {
                position: position(&now),
            })?;
        }
        self.sent = now;
        Ok(())
    }
}

impl ChannelProtocol for CursorProtocol {
    fn start(&mut self, _rcc: &ChannelClient, out: &mut Outbox) -> Result {
        out.start_acks()?;
        let now = self.current();
        let mut data = Vec::new();
        let cursor = Self::cursor(&now, &mut data);
        let visible = now.visible && now.shape.is_some();
        out.send(&CursorInit {
            position: position(&now),
            trail_length: 0,
            trail_frequency: 0,
            visible,
            cursor,
        })?;
        // spice-html5 reads only the position of CURSOR_INIT: the shape
        // again as a SET (spice-gtk shows the same shape twice).
        if visible {
            out.send(&CursorSet {
                position: position(&now),
                visible: true,
                cursor: Self::cursor(&now, &mut data),
            })?;
        }
        self.sent = now;
        Ok(())
    }

    fn handle(
        &mut self,
        _rcc: &ChannelClient,
        message: ClientMessage<'_>,
        _out: &mut Outbox,
    ) -> Result {
        Err(ConnectionError::unexpected("cursor", message.msg_type()))
    }

    fn as_any(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

/// Passes a cursor change to every client of `channel`; worker thread.
pub(crate) fn forward(channel: &CursorChannel) {
    channel.for_each_protocol(|p, out| p.update(out));
}
