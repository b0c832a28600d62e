//! The SPICE wire format as pure data.
//!
//! Bytes in, typed messages out; typed messages in, bytes out. Nothing here
//! does I/O, spawns threads or touches glib, so every parser can be fuzzed
//! and unit-tested in isolation. All values on the wire are little-endian
//! and packed; pointer fields are `u32` byte offsets from the first byte of
//! the message body (see [`writer::Writer`]).
//!
//! Parsers never panic: every read goes through the bounds-checked
//! [`reader::Reader`], and every length taken from the wire is combined with
//! checked arithmetic. Trailing bytes after a known client message are
//! tolerated, as spice-common's generated demarshallers do.

// The no-panic promise is enforced by clippy outside tests.
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

pub mod caps;
pub mod client_message;
pub mod common_messages;
pub mod constants;
pub mod cursor_messages;
pub mod display_messages;
pub mod error;
pub mod fuzzing;
pub mod header;
pub mod image;
pub mod inputs_messages;
pub mod link;
pub mod main_messages;
pub mod reader;
pub mod sasl;
pub mod server_message;
pub mod types;
pub mod websocket;
pub mod writer;

pub use caps::Caps;
pub use client_message::{parse_client_message, ClientMessage};
pub use common_messages::CommonClientMessage;
pub use display_messages::DisplayClientMessage;
pub use error::{ProtocolError, Result};
pub use header::{check_client_body_size, DataHeader, HeaderKind, MessageHeader, MiniHeader};
pub use image::{Image, ImageData};
pub use inputs_messages::InputsClientMessage;
pub use link::{
    encode_link_result, parse_auth_mechanism, parse_encrypted_ticket, AuthMechanism, LinkHeader,
    LinkMess, LinkReply,
};
pub use main_messages::MainClientMessage;
pub use reader::Reader;
pub use server_message::{encode_frame, ServerMessage};
pub use types::{ChannelId, ChannelWait, Clip, DisplayBase, Head, Point, Point16, Rect};
pub use writer::Writer;
