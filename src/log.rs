//! Structured logging in the `redspice` domain
//! (`G_MESSAGES_DEBUG=redspice` shows the debug messages).

macro_rules! red_log {
    ($level:ident, $($arg:tt)+) => {
        glib::log_structured!(
            $crate::LOG_DOMAIN,
            glib::LogLevel::$level,
            { "MESSAGE" => format!($($arg)+); }
        )
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
