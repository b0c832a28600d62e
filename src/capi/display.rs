//! C glue of `RedDisplay` (`red-display.h`).

use glib::prelude::*;
use glib::translate::*;

use super::{guard, instance, return_val_if_fail, set_error, Instance};
use crate::Display;

type GError = glib::ffi::GError;

macro_rules! getter {
    ($func:ident, $ret:ty, $default:expr, |$d:ident| $body:expr) => {
        /// # Safety
        /// `display` is a `RedDisplay *`.
        #[no_mangle]
        pub unsafe extern "C" fn $func(display: *mut Instance) -> $ret {
            instance!(stringify!($func), display: Display, $default);
            let $d = &*display;
            $body
        }
    };
}

getter!(red_display_get_id, u32, 0, |d| d.id());
getter!(red_display_get_width, u32, 0, |d| d.width());
getter!(red_display_get_height, u32, 0, |d| d.height());
getter!(
    red_display_get_worker,
    *mut Instance,
    std::ptr::null_mut(),
    |d| object_ptr(d.worker())
);
getter!(
    red_display_get_display_channel,
    *mut Instance,
    std::ptr::null_mut(),
    |d| object_ptr(d.display_channel())
);
getter!(
    red_display_get_cursor_channel,
    *mut Instance,
    std::ptr::null_mut(),
    |d| object_ptr(d.cursor_channel())
);

/// A borrowed object as a transfer-none pointer, NULL for `None`.
fn object_ptr<T: ObjectType>(object: Option<&T>) -> *mut Instance {
    object.map_or(std::ptr::null_mut(), |o| o.as_ptr() as *mut Instance)
}

/// # Safety
/// `display` is a `RedDisplay *`, `pixels` a `GBytes *`.
#[no_mangle]
pub unsafe extern "C" fn red_display_draw(
    display: *mut Instance,
    x: i32,
    y: i32,
    width: i32,
    height: i32,
    pixels: *mut glib::ffi::GBytes,
    stride: usize,
) {
    instance!("red_display_draw", display: Display);
    return_val_if_fail!("red_display_draw", width >= 0 && height >= 0);
    return_val_if_fail!("red_display_draw", !pixels.is_null());
    // SAFETY: a non-NULL GBytes from the caller, borrowed for the call (the
    // worker takes its own reference).
    let pixels: Borrowed<glib::Bytes> = unsafe { from_glib_borrow(pixels) };
    guard("red_display_draw", (), || {
        if let Err(e) = display.draw(x, y, width as u32, height as u32, &pixels, stride) {
            red_critical!("red_display_draw: {}", e.message());
        }
    })
}

/// # Safety
/// `display` is a `RedDisplay *`.
#[no_mangle]
pub unsafe extern "C" fn red_display_fill(
    display: *mut Instance,
    x: i32,
    y: i32,
    width: i32,
    height: i32,
    color: u32,
) {
    instance!("red_display_fill", display: Display);
    return_val_if_fail!("red_display_fill", width >= 0 && height >= 0);
    guard("red_display_fill", (), || {
        display.fill(x, y, width as u32, height as u32, color)
    })
}

/// # Safety
/// `display` is a `RedDisplay *`.
#[no_mangle]
pub unsafe extern "C" fn red_display_copy_area(
    display: *mut Instance,
    src_x: i32,
    src_y: i32,
    width: i32,
    height: i32,
    dest_x: i32,
    dest_y: i32,
) {
    instance!("red_display_copy_area", display: Display);
    return_val_if_fail!("red_display_copy_area", width >= 0 && height >= 0);
    guard("red_display_copy_area", (), || {
        display.copy_area(src_x, src_y, width as u32, height as u32, dest_x, dest_y)
    })
}

/// # Safety
/// `display` is a `RedDisplay *`; `error` is NULL or points to a NULL `GError *`.
#[no_mangle]
pub unsafe extern "C" fn red_display_resize(
    display: *mut Instance,
    width: u32,
    height: u32,
    error: *mut *mut GError,
) -> glib::ffi::gboolean {
    instance!("red_display_resize", display: Display, glib::ffi::GFALSE);
    guard("red_display_resize", glib::ffi::GFALSE, || {
        match display.resize(width, height) {
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
/// `display` is a `RedDisplay *`, `pixels` a `GBytes *`; `error` is NULL or
/// points to a NULL `GError *`.
#[no_mangle]
pub unsafe extern "C" fn red_display_set_cursor(
    display: *mut Instance,
    width: u32,
    height: u32,
    hot_x: u32,
    hot_y: u32,
    pixels: *mut glib::ffi::GBytes,
    stride: usize,
    error: *mut *mut GError,
) -> glib::ffi::gboolean {
    instance!("red_display_set_cursor", display: Display, glib::ffi::GFALSE);
    return_val_if_fail!(
        "red_display_set_cursor",
        !pixels.is_null(),
        glib::ffi::GFALSE
    );
    // SAFETY: a non-NULL GBytes, borrowed for the call.
    let pixels: Borrowed<glib::Bytes> = unsafe { from_glib_borrow(pixels) };
    guard("red_display_set_cursor", glib::ffi::GFALSE, || {
        match display.set_cursor(width, height, hot_x, hot_y, &pixels, stride) {
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
/// `display` is a `RedDisplay *`.
#[no_mangle]
pub unsafe extern "C" fn red_display_move_cursor(display: *mut Instance, x: i32, y: i32) {
    instance!("red_display_move_cursor", display: Display);
    guard("red_display_move_cursor", (), || display.move_cursor(x, y))
}

/// # Safety
/// `display` is a `RedDisplay *`.
#[no_mangle]
pub unsafe extern "C" fn red_display_hide_cursor(display: *mut Instance) {
    instance!("red_display_hide_cursor", display: Display);
    guard("red_display_hide_cursor", (), || display.hide_cursor())
}

/// # Safety
/// `display` is a `RedDisplay *`; `width` and `height` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn red_display_snapshot(
    display: *mut Instance,
    width: *mut u32,
    height: *mut u32,
) -> *mut glib::ffi::GBytes {
    instance!("red_display_snapshot", display: Display, std::ptr::null_mut());
    let (w, h, pixels) = guard("red_display_snapshot", (0, 0, Vec::new()), || {
        display.snapshot()
    });
    // SAFETY: out-parameters are NULL or writable, per the contract.
    unsafe {
        if !width.is_null() {
            *width = w;
        }
        if !height.is_null() {
            *height = h;
        }
    }
    glib::Bytes::from_owned(pixels).into_glib_ptr()
}
