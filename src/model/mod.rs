//! The object model of spice-server (see `docs/threading.md`):
//! `RedChannel`, `RedChannelClient` and `RedClient` with their ownership
//! links, the connection a channel client speaks SPICE over, the messages
//! that cross threads, and the errors that end a connection.
//!
//! These three classes point at each other as spice-server's do, so their
//! modules import each other; nothing here imports a concrete channel, the
//! worker or the server.

#[macro_use]
mod channel_pair;

pub mod channel;
pub mod channel_client;
pub mod client;
pub mod connection;
pub mod error;
pub mod link;
pub mod messages;
pub mod transport;
