//! C glue of `RedClient` (`red-client.h`).

use std::ffi::c_char;

use glib::prelude::*;
use glib::translate::*;

use super::{guard, instance, object_list, Instance};
use crate::Client;

/// # Safety
/// `client` is a `RedClient *`.
#[no_mangle]
pub unsafe extern "C" fn red_client_get_id(client: *mut Instance) -> u32 {
    instance!("red_client_get_id", client: Client, 0);
    client.id()
}

/// # Safety
/// `client` is a `RedClient *`. The string is the property's: it stays
/// valid while the client lives (transfer none, as the header says).
#[no_mangle]
pub unsafe extern "C" fn red_client_get_address(client: *mut Instance) -> *mut c_char {
    instance!("red_client_get_address", client: Client, std::ptr::null_mut());
    // Transfer full: a copy the caller frees.
    client.address().to_glib_full()
}

/// # Safety
/// `client` is a `RedClient *`.
#[no_mangle]
pub unsafe extern "C" fn red_client_get_channel_clients(
    client: *mut Instance,
) -> *mut glib::ffi::GList {
    instance!("red_client_get_channel_clients", client: Client, std::ptr::null_mut());
    object_list(&client.channel_clients())
}

/// # Safety
/// `client` is a `RedClient *`.
#[no_mangle]
pub unsafe extern "C" fn red_client_get_main_channel_client(
    client: *mut Instance,
) -> *mut Instance {
    instance!("red_client_get_main_channel_client", client: Client, std::ptr::null_mut());
    // Transfer none: RedClient::channels owns it until the main thread
    // removes it, which cannot happen during this main-thread call.
    client
        .main_channel_client()
        .map(|mcc| mcc.as_ptr() as *mut Instance)
        .unwrap_or(std::ptr::null_mut())
}

/// # Safety
/// `client` is a `RedClient *`.
#[no_mangle]
pub unsafe extern "C" fn red_client_disconnect(client: *mut Instance) {
    instance!("red_client_disconnect", client: Client);
    guard("red_client_disconnect", (), || client.disconnect())
}
