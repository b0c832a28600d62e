//! The C ABI: thin glue from `red_*` functions to the Rust objects.
//!
//! Every entry point checks its arguments the GLib way (a critical and a
//! safe return, like `g_return_val_if_fail`) and never lets a panic cross
//! the C boundary. Threads: unless a function says otherwise, call it on the
//! thread running the server's main context.

use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use glib::translate::*;

mod channel;
mod client;
mod display;
mod server;
mod types;

/// Logs GLib's "assertion failed" critical in the `redspice` domain.
pub(crate) fn return_if_fail_warning(function: &str, expression: &str) {
    red_critical!("{function}: assertion '{expression}' failed");
}

/// Runs `body`, turning a panic into a critical and `fallback`.
pub(crate) fn guard<R>(function: &str, fallback: R, body: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(_) => {
            red_critical!("{function}: internal error (panic caught at the C boundary)");
            fallback
        }
    }
}

/// `g_return_val_if_fail`: check, log a critical and return.
macro_rules! return_val_if_fail {
    ($function:expr, $cond:expr) => {
        if !$cond {
            $crate::capi::return_if_fail_warning($function, stringify!($cond));
            return;
        }
    };
    ($function:expr, $cond:expr, $val:expr) => {
        if !$cond {
            $crate::capi::return_if_fail_warning($function, stringify!($cond));
            return $val;
        }
    };
}
pub(crate) use return_val_if_fail;

/// Whether `ptr` is a live instance of `T` (or a subclass), as GLib's
/// `G_TYPE_CHECK_INSTANCE_TYPE`.
///
/// # Safety
/// `ptr` must be NULL or point to a GTypeInstance, as for GLib's macros.
pub(crate) unsafe fn is_instance<T: glib::prelude::StaticType>(
    ptr: *const std::ffi::c_void,
) -> bool {
    // SAFETY: the caller passes NULL or a GTypeInstance.
    !ptr.is_null()
        && unsafe {
            glib::gobject_ffi::g_type_check_instance_is_a(
                ptr as *mut glib::gobject_ffi::GTypeInstance,
                T::static_type().into_glib(),
            ) != glib::ffi::GFALSE
        }
}

/// Stores `err` into a GError out-parameter that may be NULL.
///
/// # Safety
/// `out` is NULL or points to a `GError *` that is NULL.
pub(crate) unsafe fn set_error(out: *mut *mut glib::ffi::GError, err: glib::Error) {
    if !out.is_null() {
        // SAFETY: the caller passes a valid location; ownership moves to C.
        unsafe { *out = err.into_glib_ptr() };
    }
}

/// Borrows a C string that may be NULL; invalid UTF-8 gives `Err`.
///
/// # Safety
/// `s` is NULL or a NUL-terminated string alive for the call.
pub(crate) unsafe fn opt_str<'a>(s: *const c_char) -> Result<Option<&'a str>, ()> {
    if s.is_null() {
        return Ok(None);
    }
    // SAFETY: per the contract above.
    unsafe { CStr::from_ptr(s) }
        .to_str()
        .map(Some)
        .map_err(|_| ())
}

/// Builds a GList of borrowed object pointers (transfer container).
pub(crate) fn object_list<T: glib::prelude::ObjectType>(items: &[T]) -> *mut glib::ffi::GList {
    let mut list = std::ptr::null_mut();
    for item in items.iter().rev() {
        // SAFETY: g_list_prepend takes any pointer; the objects stay owned by
        // the library (transfer container).
        list = unsafe { glib::ffi::g_list_prepend(list, item.as_ptr() as glib::ffi::gpointer) };
    }
    list
}

/// Borrows an instance pointer checked with [`is_instance`].
///
/// # Safety
/// `ptr` is a live instance of `T` for the duration of the borrow.
pub(crate) unsafe fn borrow<T>(ptr: *mut std::ffi::c_void) -> glib::translate::Borrowed<T>
where
    T: glib::prelude::ObjectType + FromGlibPtrBorrow<*mut T::GlibType>,
{
    // SAFETY: per the contract above.
    unsafe { from_glib_borrow(ptr as *mut T::GlibType) }
}

/// Checks that `$ptr` is an instance of `$ty` (critical and return `$ret`
/// otherwise), then rebinds it as a borrowed `$ty`.
macro_rules! instance {
    ($function:expr, $ptr:ident: $ty:ty) => {
        // SAFETY: the C caller passes NULL or a GTypeInstance, as GLib's own
        // type-check macros require.
        $crate::capi::return_val_if_fail!($function, unsafe {
            $crate::capi::is_instance::<$ty>($ptr as *const std::ffi::c_void)
        });
        // SAFETY: checked just above to be a live instance of the type.
        let $ptr = unsafe { $crate::capi::borrow::<$ty>($ptr as *mut std::ffi::c_void) };
    };
    ($function:expr, $ptr:ident: $ty:ty, $ret:expr) => {
        // SAFETY: the C caller passes NULL or a GTypeInstance, as GLib's own
        // type-check macros require.
        $crate::capi::return_val_if_fail!(
            $function,
            unsafe { $crate::capi::is_instance::<$ty>($ptr as *const std::ffi::c_void) },
            $ret
        );
        // SAFETY: checked just above to be a live instance of the type.
        let $ptr = unsafe { $crate::capi::borrow::<$ty>($ptr as *mut std::ffi::c_void) };
    };
}
pub(crate) use instance;

/// An instance pointer as C sees it.
pub type Instance = std::ffi::c_void;
