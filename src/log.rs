//! Structured logging in the `redspice` domain
//! (`G_MESSAGES_DEBUG=redspice` shows the debug messages).
//!
//! glib-rs's `log_structured!` passes GLIB_DOMAIN with an explicit length,
//! which GLib's default writer compares as a C string when filtering by
//! `G_MESSAGES_DEBUG`: our own fields are NUL-terminated (length -1).

use std::ffi::{c_char, CString};

use glib::translate::IntoGlib;

/// Logs `message` at `level` in the `redspice` domain with its source place.
pub fn log(level: glib::LogLevel, file: &'static str, line: u32, message: &str) {
    let priority: &[u8] = match level {
        glib::LogLevel::Error => b"3\0",
        glib::LogLevel::Critical | glib::LogLevel::Warning => b"4\0",
        glib::LogLevel::Message => b"5\0",
        glib::LogLevel::Info => b"6\0",
        glib::LogLevel::Debug => b"7\0",
    };
    let message = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    let file = CString::new(file).unwrap_or_default();
    let line = CString::new(line.to_string()).unwrap_or_default();
    let field = |key: &'static [u8], value: *const c_char| glib::ffi::GLogField {
        key: key.as_ptr() as *const c_char,
        value: value as *const _,
        length: -1,
    };
    let fields = [
        field(b"GLIB_DOMAIN\0", b"redspice\0".as_ptr() as *const c_char),
        field(b"PRIORITY\0", priority.as_ptr() as *const c_char),
        field(b"CODE_FILE\0", file.as_ptr()),
        field(b"CODE_LINE\0", line.as_ptr()),
        field(b"MESSAGE\0", message.as_ptr()),
    ];
    // SAFETY: every key and value is a NUL-terminated string (length -1)
    // that outlives the call; the array length is exact.
    unsafe {
        glib::ffi::g_log_structured_array(level.into_glib(), fields.as_ptr(), fields.len());
    }
}

macro_rules! red_log {
    ($level:ident, $($arg:tt)+) => {
        $crate::log::log(glib::LogLevel::$level, file!(), line!(), &format!($($arg)+))
    };
}

#[allow(unused_macros)]
macro_rules! red_debug { ($($arg:tt)+) => { red_log!(Debug, $($arg)+) }; }
#[allow(unused_macros)]
macro_rules! red_info { ($($arg:tt)+) => { red_log!(Info, $($arg)+) }; }
#[allow(unused_macros)]
macro_rules! red_warning { ($($arg:tt)+) => { red_log!(Warning, $($arg)+) }; }
#[allow(unused_macros)]
macro_rules! red_critical { ($($arg:tt)+) => { red_log!(Critical, $($arg)+) }; }
