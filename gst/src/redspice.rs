//! The few functions of libredspice-1.0's C API the sink calls
//! (`bindings/c/red-server.h`, `bindings/c/red-display.h`), and safe
//! wrappers holding the objects as `glib::Object`s.
//!
//! The plugin links to the shared library instead of the crate so that an
//! application's `RedServer` and the sink's are one GType.

use glib::prelude::*;
use glib::translate::*;

use crate::i18n::gettext;

type GObject = glib::gobject_ffi::GObject;
type GError = glib::ffi::GError;

extern "C" {
    fn red_server_get_type() -> glib::ffi::GType;
    fn red_display_get_type() -> glib::ffi::GType;
    fn red_server_start(server: *mut GObject, error: *mut *mut GError) -> glib::ffi::gboolean;
    fn red_server_stop(server: *mut GObject);
    fn red_server_get_port(server: *mut GObject) -> u32;
    fn red_server_add_display(
        server: *mut GObject,
        width: u32,
        height: u32,
        error: *mut *mut GError,
    ) -> *mut GObject;
    fn red_display_get_id(display: *mut GObject) -> u32;
    fn red_display_get_width(display: *mut GObject) -> u32;
    fn red_display_get_height(display: *mut GObject) -> u32;
    fn red_display_draw(
        display: *mut GObject,
        x: i32,
        y: i32,
        width: i32,
        height: i32,
        pixels: *mut glib::ffi::GBytes,
        stride: usize,
    );
    fn red_display_resize(
        display: *mut GObject,
        width: u32,
        height: u32,
        error: *mut *mut GError,
    ) -> glib::ffi::gboolean;
}

/// The largest display side redspice accepts (`red_display_resize()`).
pub const MAX_SIZE: u32 = 16384;

/// `RedServer`'s GType.
pub fn server_type() -> glib::Type {
    // SAFETY: a plain GType getter of the linked library; registers the type
    // on first use, thread-safely.
    unsafe { from_glib(red_server_get_type()) }
}

/// `RedDisplay`'s GType.
pub fn display_type() -> glib::Type {
    // SAFETY: as for `server_type`.
    unsafe { from_glib(red_display_get_type()) }
}

/// A property spec whose values are objects of `object_type`: glib-rs
/// builds these for static types only, and the library's types are known
/// at run time.
pub fn object_param_spec(
    name: &str,
    nick: &str,
    blurb: &str,
    object_type: glib::Type,
    flags: glib::ParamFlags,
) -> glib::ParamSpec {
    // SAFETY: valid NUL-terminated strings for the call (GLib copies them
    // unless they are static) and a GType registered by the library; the
    // floating spec is sunk by from_glib_none.
    unsafe {
        from_glib_none(glib::gobject_ffi::g_param_spec_object(
            name.to_glib_none().0,
            nick.to_glib_none().0,
            blurb.to_glib_none().0,
            object_type.into_glib(),
            flags.into_glib(),
        ))
    }
}

/// A `RedServer`. Call its methods on the thread running its
/// `main-context`, as the library requires.
#[derive(Clone, Debug, PartialEq)]
pub struct Server(glib::Object);

impl Server {
    /// `object` as a server, if it is one.
    pub fn from_object(object: glib::Object) -> Option<Server> {
        object.type_().is_a(server_type()).then_some(Server(object))
    }

    /// A new server on `context`; to be called on the thread that will run
    /// `context` (the server takes the constructing thread for its main
    /// thread).
    pub fn new(context: &glib::MainContext) -> Server {
        Server(
            glib::Object::builder_with_type(server_type())
                .property("main-context", context.to_value())
                .build(),
        )
    }

    /// Sets an enumerated property from the nick of one of its values
    /// ("off", "lz4", ...), or says why not.
    pub fn set_enum_by_nick(&self, property: &str, nick: &str) -> Result<(), String> {
        let pspec = self
            .0
            .find_property(property)
            .ok_or_else(|| format!("RedServer has no property {property}"))?;
        let class = glib::EnumClass::with_type(pspec.value_type())
            .ok_or_else(|| format!("RedServer:{property} is not an enumeration"))?;
        let value = class.to_value_by_nick(nick).ok_or_else(|| {
            let nicks: Vec<&str> = class.values().iter().map(|v| v.nick()).collect();
            gettext("{value} is not a value of {property} (one of {values})")
                .replace("{value}", &format!("{nick:?}"))
                .replace("{property}", property)
                .replace("{values}", &nicks.join(", "))
        })?;
        self.0.set_property_from_value(property, &value);
        Ok(())
    }

    pub fn object(&self) -> &glib::Object {
        &self.0
    }

    fn ptr(&self) -> *mut GObject {
        self.0.as_ptr()
    }

    pub fn start(&self) -> Result<(), glib::Error> {
        let mut error = std::ptr::null_mut();
        // SAFETY: a live RedServer (checked type) and a NULL GError location.
        let ok = unsafe { red_server_start(self.ptr(), &mut error) };
        if ok != glib::ffi::GFALSE {
            Ok(())
        } else {
            // SAFETY: on FALSE the library set a GError we now own.
            Err(unsafe { from_glib_full(error) })
        }
    }

    pub fn stop(&self) {
        // SAFETY: a live RedServer.
        unsafe { red_server_stop(self.ptr()) }
    }

    pub fn port(&self) -> u32 {
        // SAFETY: a live RedServer.
        unsafe { red_server_get_port(self.ptr()) }
    }

    /// Adds a display; the server owns it, the `Display` is one more
    /// reference.
    pub fn add_display(&self, width: u32, height: u32) -> Result<Display, glib::Error> {
        let mut error = std::ptr::null_mut();
        // SAFETY: a live RedServer and a NULL GError location; the display
        // comes back transfer none, so take a reference of our own.
        unsafe {
            let display = red_server_add_display(self.ptr(), width, height, &mut error);
            if display.is_null() {
                Err(from_glib_full(error))
            } else {
                Ok(Display(from_glib_none(display)))
            }
        }
    }
}

/// A `RedDisplay`, used on its server's main thread.
#[derive(Clone, Debug, PartialEq)]
pub struct Display(glib::Object);

// SAFETY: GObject reference counts are atomic, and the sink calls the
// library's functions on the server's main thread only, as the library
// asks (see sink/imp.rs); from other threads it only takes and drops
// references, checks types and connects or disconnects signal handlers,
// which GObject does thread-safely. Its last references to its own server
// go on that thread (`stop`).
unsafe impl Send for Server {}
// SAFETY: as for Send.
unsafe impl Sync for Server {}
// SAFETY: as for Server.
unsafe impl Send for Display {}
// SAFETY: as for Server.
unsafe impl Sync for Display {}

impl Display {
    pub fn object(&self) -> &glib::Object {
        &self.0
    }

    fn ptr(&self) -> *mut GObject {
        self.0.as_ptr()
    }

    pub fn id(&self) -> u32 {
        // SAFETY: a live RedDisplay (checked type).
        unsafe { red_display_get_id(self.ptr()) }
    }

    pub fn size(&self) -> (u32, u32) {
        // SAFETY: a live RedDisplay.
        unsafe {
            (
                red_display_get_width(self.ptr()),
                red_display_get_height(self.ptr()),
            )
        }
    }

    /// Draws `width`×`height` x8r8g8b8 pixels, rows `stride` bytes apart,
    /// at (0, 0). The library keeps a reference to `pixels` until its
    /// worker has copied them.
    pub fn draw(&self, width: u32, height: u32, pixels: &glib::Bytes, stride: usize) {
        debug_assert!(width <= MAX_SIZE && height <= MAX_SIZE);
        // SAFETY: a live RedDisplay and a live GBytes borrowed for the call
        // (the library takes its own reference); sizes fit in gint.
        unsafe {
            red_display_draw(
                self.ptr(),
                0,
                0,
                width as i32,
                height as i32,
                pixels.to_glib_none().0,
                stride,
            )
        }
    }

    pub fn resize(&self, width: u32, height: u32) -> Result<(), glib::Error> {
        let mut error = std::ptr::null_mut();
        // SAFETY: a live RedDisplay and a NULL GError location.
        let ok = unsafe { red_display_resize(self.ptr(), width, height, &mut error) };
        if ok != glib::ffi::GFALSE {
            Ok(())
        } else {
            // SAFETY: on FALSE the library set a GError we now own.
            Err(unsafe { from_glib_full(error) })
        }
    }
}
