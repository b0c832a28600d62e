//! redspice: a SPICE remote-display server whose objects are GObjects.
//!
//! The object model and the threads follow spice-server's own description
//! (`RedServer`, `RedClient`, `RedChannel`, `RedChannelClient`, one
//! `RedWorker` thread per `RedDisplay`), see `docs/threading.md`.
//!
//! The modules are layers; each imports only from the layers listed
//! before it (`docs/architecture.md` walks through them, and a test checks
//! the rule):
//!
//! 1. [`base`]: cores, dispatchers, logging, translations, enums, errors.
//! 2. [`protocol`]: the SPICE wire format as pure data.
//! 3. [`model`]: `RedChannel`, `RedChannelClient`, `RedClient`, the
//!    connection of a channel client and the messages between threads.
//! 4. [`display`]: the display engine (surface, damage, stream detection,
//!    video encoders), with no channels in it.
//! 5. [`channels`]: the main, inputs, cursor and display channels.
//! 6. [`worker`]: `RedWorker`, the thread of one display's channels.
//! 7. [`server`]: `RedServer`, `RedDisplay`, the link stage and tickets.
//! 8. [`capi`]: the C ABI; the only place with `unsafe` besides thin FFI
//!    wrappers in `base`.

#[macro_use]
pub mod base;
#[macro_use]
pub mod model;

pub mod protocol;

pub mod channels;
pub mod display;
pub mod worker;

pub mod server;

pub mod capi;

#[cfg(test)]
mod tests;

pub use base::enums::{AuthMode, ChannelType, ImageCompression, StreamingVideo, TicketFlags};
pub use base::error::RedError;
pub use channels::cursor::{CursorChannel, CursorChannelClient};
pub use channels::display::{DisplayChannel, DisplayChannelClient};
pub use channels::inputs::{InputsChannel, InputsChannelClient};
pub use channels::main::{MainChannel, MainChannelClient};
pub use model::channel::{Channel, ChannelExt};
pub use model::channel_client::{ChannelClient, ChannelClientExt};
pub use model::client::Client;
pub use server::display::Display;
pub use server::Server;
pub use worker::Worker;

/// The GLib log domain of every message this library logs.
pub const LOG_DOMAIN: &str = "redspice";
