//! C glue of `RedChannel`, `RedChannelClient` and `RedWorker`.

use glib::prelude::*;
use glib::translate::*;

use super::{guard, instance, object_list, Instance};
use crate::{Channel, ChannelClient, ChannelClientExt, ChannelExt, Worker};

/// # Safety
/// `channel` is a `RedChannel *`.
#[no_mangle]
pub unsafe extern "C" fn red_channel_get_channel_type(channel: *mut Instance) -> i32 {
    instance!("red_channel_get_channel_type", channel: Channel, 0);
    channel.channel_type().into_glib()
}

/// # Safety
/// `channel` is a `RedChannel *`.
#[no_mangle]
pub unsafe extern "C" fn red_channel_get_id(channel: *mut Instance) -> u32 {
    instance!("red_channel_get_id", channel: Channel, 0);
    ChannelExt::id(&*channel)
}

/// # Safety
/// `channel` is a `RedChannel *`.
#[no_mangle]
pub unsafe extern "C" fn red_channel_get_main_context(
    channel: *mut Instance,
) -> *mut glib::ffi::GMainContext {
    instance!("red_channel_get_main_context", channel: Channel, std::ptr::null_mut());
    // Transfer none: the channel's core keeps the context alive.
    channel.core().context().to_glib_none().0
}

/// # Safety
/// `channel` is a `RedChannel *`.
#[no_mangle]
pub unsafe extern "C" fn red_channel_get_clients(channel: *mut Instance) -> *mut glib::ffi::GList {
    instance!("red_channel_get_clients", channel: Channel, std::ptr::null_mut());
    object_list(&channel.clients())
}

/// # Safety
/// `rcc` is a `RedChannelClient *`.
#[no_mangle]
pub unsafe extern "C" fn red_channel_client_get_channel(rcc: *mut Instance) -> *mut Instance {
    instance!("red_channel_client_get_channel", rcc: ChannelClient, std::ptr::null_mut());
    // Transfer none: the channel client owns its channel.
    rcc.channel()
        .map_or(std::ptr::null_mut(), |c| c.as_ptr() as *mut Instance)
}

/// # Safety
/// `rcc` is a `RedChannelClient *`.
#[no_mangle]
pub unsafe extern "C" fn red_channel_client_get_client(rcc: *mut Instance) -> *mut Instance {
    instance!("red_channel_client_get_client", rcc: ChannelClient, std::ptr::null_mut());
    // Transfer none: the server's client list holds the client while it is
    // connected; after that this returns NULL once it is finalized.
    rcc.client()
        .map(|c| c.as_ptr() as *mut Instance)
        .unwrap_or(std::ptr::null_mut())
}

/// # Safety
/// `rcc` is a `RedChannelClient *`.
#[no_mangle]
pub unsafe extern "C" fn red_channel_client_is_connected(
    rcc: *mut Instance,
) -> glib::ffi::gboolean {
    instance!("red_channel_client_is_connected", rcc: ChannelClient, glib::ffi::GFALSE);
    rcc.is_connected().into_glib()
}

/// # Safety
/// `rcc` is a `RedChannelClient *`.
#[no_mangle]
pub unsafe extern "C" fn red_channel_client_disconnect(rcc: *mut Instance) {
    instance!("red_channel_client_disconnect", rcc: ChannelClient);
    guard("red_channel_client_disconnect", (), || {
        rcc.close_connection()
    })
}

/// # Safety
/// `worker` is a `RedWorker *`.
#[no_mangle]
pub unsafe extern "C" fn red_worker_get_display_id(worker: *mut Instance) -> u32 {
    instance!("red_worker_get_display_id", worker: Worker, 0);
    worker.display_id()
}

/// # Safety
/// `worker` is a `RedWorker *`.
#[no_mangle]
pub unsafe extern "C" fn red_worker_get_main_context(
    worker: *mut Instance,
) -> *mut glib::ffi::GMainContext {
    instance!("red_worker_get_main_context", worker: Worker, std::ptr::null_mut());
    worker.core().context().to_glib_none().0
}
