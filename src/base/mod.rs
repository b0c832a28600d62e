//! The foundations every other layer uses: cores (a `GMainContext` and its
//! thread), dispatchers between threads, logging, translations, live-object
//! counts, the lock helper, the multimedia clock, and the public enums and
//! error domain. Nothing here knows about channels, clients or SPICE.

#[macro_use]
pub mod log;

pub mod clock;
pub mod core;
pub mod dispatcher;
pub mod enums;
pub mod error;
pub mod i18n;
pub mod live_objects;
pub mod sync;
pub(crate) mod sys;
