//! Clocks shared by the channels.

/// The multimedia clock: monotonic milliseconds, as spice-server's. The
/// main channel gives it to clients (MAIN_INIT, MULTI_MEDIA_TIME) and
/// stream frames are stamped with it; it wraps after 49 days, as SPICE's
/// 32-bit field does.
pub fn mm_time() -> u32 {
    (glib::monotonic_time() / 1000) as u32
}

/// Monotonic nanoseconds, for PING timestamps.
pub fn monotonic_ns() -> u64 {
    u64::try_from(glib::monotonic_time()).unwrap_or(0) * 1000
}
