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
    let priority = match level {
        glib::LogLevel::Error => c"3",
        glib::LogLevel::Critical | glib::LogLevel::Warning => c"4",
        glib::LogLevel::Message => c"5",
        glib::LogLevel::Info => c"6",
        glib::LogLevel::Debug => c"7",
    };
    let message = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    let file = CString::new(file).unwrap_or_default();
    let line = CString::new(line.to_string()).unwrap_or_default();
    let field = |key: &'static std::ffi::CStr, value: *const c_char| glib::ffi::GLogField {
        key: key.as_ptr(),
        value: value as *const _,
        length: -1,
    };
    let fields = [
        field(c"GLIB_DOMAIN", c"redspice".as_ptr()),
        field(c"PRIORITY", priority.as_ptr()),
        field(c"CODE_FILE", file.as_ptr()),
        field(c"CODE_LINE", line.as_ptr()),
        field(c"MESSAGE", message.as_ptr()),
    ];
    // SAFETY: every key and value is a NUL-terminated string (length -1)
    // that outlives the call; the array length is exact.
    unsafe {
        glib::ffi::g_log_structured_array(level.into_glib(), fields.as_ptr(), fields.len());
    }
}

macro_rules! red_log {
    ($level:ident, $($arg:tt)+) => {
        $crate::base::log::log(glib::LogLevel::$level, file!(), line!(), &format!($($arg)+))
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
