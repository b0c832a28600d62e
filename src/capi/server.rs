//! C glue of `RedServer` (`red-server.h`).

use std::ffi::c_char;

use glib::prelude::*;
use glib::translate::*;

use super::{guard, instance, object_list, opt_str, return_val_if_fail, set_error, Instance};
use crate::Server;

#[no_mangle]
pub extern "C" fn red_server_new() -> *mut Instance {
    guard("red_server_new", std::ptr::null_mut(), || {
        let server: *mut <Server as ObjectType>::GlibType = Server::new().into_glib_ptr();
        server as *mut Instance
    })
}

/// # Safety
/// `server` is a `RedServer *`; `error` is NULL or points to a NULL `GError *`.
#[no_mangle]
pub unsafe extern "C" fn red_server_start(
    server: *mut Instance,
    error: *mut *mut glib::ffi::GError,
) -> glib::ffi::gboolean {
    instance!("red_server_start", server: Server, glib::ffi::GFALSE);
    return_val_if_fail!(
        "red_server_start",
        // SAFETY: a non-NULL error location is readable, as GError rules say.
        error.is_null() || unsafe { (*error).is_null() },
        glib::ffi::GFALSE
    );
    guard("red_server_start", glib::ffi::GFALSE, || {
        match server.start() {
            Ok(()) => glib::ffi::GTRUE,
            Err(e) => {
                // SAFETY: checked above.
                unsafe { set_error(error, e) };
                glib::ffi::GFALSE
            }
        }
    })
}

/// # Safety
/// `server` is a `RedServer *`.
#[no_mangle]
pub unsafe extern "C" fn red_server_stop(server: *mut Instance) {
    instance!("red_server_stop", server: Server);
    guard("red_server_stop", (), || server.stop())
}

/// # Safety
/// `server` is a `RedServer *`.
#[no_mangle]
pub unsafe extern "C" fn red_server_is_running(server: *mut Instance) -> glib::ffi::gboolean {
    instance!("red_server_is_running", server: Server, glib::ffi::GFALSE);
    server.is_running().into_glib()
}

/// # Safety
/// `server` is a `RedServer *`.
#[no_mangle]
pub unsafe extern "C" fn red_server_get_port(server: *mut Instance) -> u32 {
    instance!("red_server_get_port", server: Server, 0);
    server.port()
}

/// # Safety
/// `server` is a `RedServer *`; `error` is NULL or points to a NULL `GError *`.
#[no_mangle]
pub unsafe extern "C" fn red_server_add_display(
    server: *mut Instance,
    width: u32,
    height: u32,
    error: *mut *mut glib::ffi::GError,
) -> *mut Instance {
    instance!("red_server_add_display", server: Server, std::ptr::null_mut());
    guard("red_server_add_display", std::ptr::null_mut(), || {
        match server.add_display(width, height) {
            // Transfer none: the server owns its displays.
            Ok(display) => display.as_ptr() as *mut Instance,
            Err(e) => {
                // SAFETY: the caller's contract.
                unsafe { set_error(error, e) };
                std::ptr::null_mut()
            }
        }
    })
}

/// # Safety
/// `server` is a `RedServer *`.
#[no_mangle]
pub unsafe extern "C" fn red_server_get_displays(server: *mut Instance) -> *mut glib::ffi::GList {
    instance!("red_server_get_displays", server: Server, std::ptr::null_mut());
    object_list(&server.displays())
}

/// # Safety
/// `server` is a `RedServer *`.
#[no_mangle]
pub unsafe extern "C" fn red_server_get_clients(server: *mut Instance) -> *mut glib::ffi::GList {
    instance!("red_server_get_clients", server: Server, std::ptr::null_mut());
    object_list(&server.clients())
}

/// # Safety
/// `server` is a `RedServer *`.
#[no_mangle]
pub unsafe extern "C" fn red_server_get_main_channel(server: *mut Instance) -> *mut Instance {
    instance!("red_server_get_main_channel", server: Server, std::ptr::null_mut());
    server.main_channel().as_ptr() as *mut Instance
}

/// # Safety
/// `server` is a `RedServer *`.
#[no_mangle]
pub unsafe extern "C" fn red_server_get_inputs_channel(server: *mut Instance) -> *mut Instance {
    instance!("red_server_get_inputs_channel", server: Server, std::ptr::null_mut());
    server.inputs_channel().as_ptr() as *mut Instance
}

/// # Safety
/// `server` is a `RedServer *`.
#[no_mangle]
pub unsafe extern "C" fn red_server_set_key_modifiers(server: *mut Instance, modifiers: u32) {
    instance!("red_server_set_key_modifiers", server: Server);
    guard("red_server_set_key_modifiers", (), || {
        server.set_key_modifiers(modifiers)
    })
}

/// # Safety
/// `server` is a `RedServer *`.
#[no_mangle]
pub unsafe extern "C" fn red_server_get_key_modifiers(server: *mut Instance) -> u32 {
    instance!("red_server_get_key_modifiers", server: Server, 0);
    server.key_modifiers()
}

/// # Safety
/// `server` is a `RedServer *`; `password` is NULL or a string.
#[no_mangle]
pub unsafe extern "C" fn red_server_set_ticket(
    server: *mut Instance,
    password: *const c_char,
    lifetime: u32,
) {
    instance!("red_server_set_ticket", server: Server);
    // SAFETY: the caller's contract.
    let password = unsafe { opt_str(password) };
    return_val_if_fail!("red_server_set_ticket", password.is_ok());
    let Ok(password) = password else { return };
    guard("red_server_set_ticket", (), || {
        server.set_ticket(password, lifetime)
    })
}

/// # Safety
/// `server` is a `RedServer *`; `password` is NULL or a string; `error` is
/// NULL or points to a NULL `GError *`.
#[no_mangle]
pub unsafe extern "C" fn red_server_set_ticket_full(
    server: *mut Instance,
    password: *const c_char,
    lifetime: u32,
    flags: u32,
    error: *mut *mut glib::ffi::GError,
) -> glib::ffi::gboolean {
    instance!("red_server_set_ticket_full", server: Server, glib::ffi::GFALSE);
    // SAFETY: the caller's contract.
    let password = unsafe { opt_str(password) };
    return_val_if_fail!(
        "red_server_set_ticket_full",
        password.is_ok(),
        glib::ffi::GFALSE
    );
    let Ok(password) = password else {
        return glib::ffi::GFALSE;
    };
    let known = crate::TicketFlags::all().bits();
    return_val_if_fail!(
        "red_server_set_ticket_full",
        flags & !known == 0,
        glib::ffi::GFALSE
    );
    let flags = crate::TicketFlags::from_bits_truncate(flags);
    guard("red_server_set_ticket_full", glib::ffi::GFALSE, || {
        match server.set_ticket_full(password, lifetime, flags) {
            Ok(()) => glib::ffi::GTRUE,
            Err(e) => {
                // SAFETY: the caller's contract.
                unsafe { set_error(error, e) };
                glib::ffi::GFALSE
            }
        }
    })
}

/// # Safety
/// `server` is a `RedServer *`, `socket` a `GSocket *`; `error` is NULL or
/// points to a NULL `GError *`.
#[no_mangle]
pub unsafe extern "C" fn red_server_add_client_socket(
    server: *mut Instance,
    socket: *mut gio::ffi::GSocket,
    error: *mut *mut glib::ffi::GError,
) -> glib::ffi::gboolean {
    instance!("red_server_add_client_socket", server: Server, glib::ffi::GFALSE);
    instance!("red_server_add_client_socket", socket: gio::Socket, glib::ffi::GFALSE);
    guard("red_server_add_client_socket", glib::ffi::GFALSE, || {
        match server.add_client_socket(&socket) {
            Ok(()) => glib::ffi::GTRUE,
            Err(e) => {
                // SAFETY: the caller's contract.
                unsafe { set_error(error, e) };
                glib::ffi::GFALSE
            }
        }
    })
}
