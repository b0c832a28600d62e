//! The display engine of one `RedDisplay`, run by its worker thread: the
//! primary surface and its drawing, damage regions, video-rate detection
//! of changing rectangles, the video encoders and the lossless image
//! codecs. It knows nothing of channels or clients; `channels::display`
//! sends what it produces.

pub mod codecs;
pub mod encoder;
pub mod motion;
pub mod pixmap_cache;
pub mod rate_group;
pub mod region;
pub mod state;
pub mod stream;
pub mod surface;
