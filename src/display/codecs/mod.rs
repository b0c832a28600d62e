//! Lossless image codecs for drawing updates: pure functions from pixels
//! to the bytes a SPICE image carries, with no glib and no I/O, so they
//! can be tested and fuzzed on their own.

pub mod quic;
