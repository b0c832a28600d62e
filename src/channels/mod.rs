//! The SPICE channels: each declares its `RedChannel` and
//! `RedChannelClient` subclasses and the protocol state of one client
//! connection ([`crate::model::connection::ChannelProtocol`]).
//!
//! The main and inputs channels run on the main thread; a display's
//! display and cursor channels run on that display's `RedWorker` thread.

pub mod cursor;
pub mod display;
pub mod inputs;
pub mod main;
