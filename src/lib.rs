//! redspice: a SPICE remote-display server whose objects are GObjects.
//!
//! The object model and the threads follow spice-server's own description
//! (`RedServer`, `RedClient`, `RedChannel`, `RedChannelClient`, one
//! `RedWorker` thread per `RedDisplay`), see `docs/threading.md`.
//! The C ABI lives in [`capi`]; everything else is safe Rust.

#[macro_use]
mod log;
#[macro_use]
mod channel_types;

pub mod capi;
pub mod channel;
pub mod channel_client;
pub mod client;
pub mod connection;
pub mod core;
pub mod cursor_channel;
pub mod dispatcher;
pub mod display;
pub mod display_channel;
pub mod display_streams;
pub mod enums;
pub mod error;
pub mod i18n;
pub mod inputs_channel;
pub mod link;
pub mod live_objects;
pub mod main_channel;
pub mod protocol;
pub mod server;
mod sys;
pub mod ticket;
pub mod worker;

#[cfg(test)]
mod tests;

pub use channel::{Channel, ChannelExt};
pub use channel_client::{ChannelClient, ChannelClientExt};
pub use client::Client;
pub use cursor_channel::{CursorChannel, CursorChannelClient};
pub use display::Display;
pub use display_channel::{DisplayChannel, DisplayChannelClient};
pub use enums::{AuthMode, ChannelType, ImageCompression, StreamingVideo};
pub use error::RedError;
pub use inputs_channel::{InputsChannel, InputsChannelClient};
pub use main_channel::{MainChannel, MainChannelClient};
pub use server::Server;
pub use worker::Worker;

/// The GLib log domain of every message this library logs.
pub const LOG_DOMAIN: &str = "redspice";
