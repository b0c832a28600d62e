//! `_get_type` and `_error_quark` functions, which g-ir-scanner's dumper
//! and C's type macros call.

use glib::prelude::*;
use glib::translate::*;

macro_rules! get_type {
    ($($func:ident => $ty:ty),+ $(,)?) => {
        $(
            #[no_mangle]
            pub extern "C" fn $func() -> glib::ffi::GType {
                <$ty as StaticType>::static_type().into_glib()
            }
        )+
    };
}

get_type! {
    red_server_get_type => crate::Server,
    red_client_get_type => crate::Client,
    red_channel_get_type => crate::Channel,
    red_channel_client_get_type => crate::ChannelClient,
    red_main_channel_get_type => crate::MainChannel,
    red_main_channel_client_get_type => crate::MainChannelClient,
    red_inputs_channel_get_type => crate::InputsChannel,
    red_inputs_channel_client_get_type => crate::InputsChannelClient,
    red_display_channel_get_type => crate::DisplayChannel,
    red_display_channel_client_get_type => crate::DisplayChannelClient,
    red_cursor_channel_get_type => crate::CursorChannel,
    red_cursor_channel_client_get_type => crate::CursorChannelClient,
    red_display_get_type => crate::Display,
    red_worker_get_type => crate::Worker,
    red_channel_type_get_type => crate::ChannelType,
    red_auth_mode_get_type => crate::AuthMode,
    red_image_compression_get_type => crate::ImageCompression,
    red_streaming_video_get_type => crate::StreamingVideo,
    red_ticket_flags_get_type => crate::TicketFlags,
    red_error_get_type => crate::RedError,
}

#[no_mangle]
pub extern "C" fn red_error_quark() -> glib::ffi::GQuark {
    <crate::RedError as glib::error::ErrorDomain>::domain().into_glib()
}

/// Live instances of the class named `type_name` (a test hook).
///
/// # Safety
/// `type_name` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn red_debug_get_live_objects(type_name: *const std::ffi::c_char) -> i64 {
    // SAFETY: per the contract above.
    let name = unsafe { super::opt_str(type_name) };
    super::return_val_if_fail!(
        "red_debug_get_live_objects",
        matches!(name, Ok(Some(_))),
        -1
    );
    let Ok(Some(name)) = name else { return -1 };
    crate::base::live_objects::count(name).unwrap_or(-1)
}
