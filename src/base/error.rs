//! The `RedError` GError domain.

/// Errors the library reports through `GError`. Values 3 and 5 are gone
/// (codes nothing raised) and stay unused, so the others keep theirs.
#[derive(Debug, Eq, PartialEq, Clone, Copy, glib::Enum, glib::ErrorDomain)]
#[enum_type(name = "RedError")]
#[error_domain(name = "red-error-quark")]
#[repr(i32)]
pub enum RedError {
    /// Something failed that has no more specific code.
    #[enum_value(name = "RED_ERROR_FAILED", nick = "failed")]
    Failed = 0,
    /// The listening socket could not be set up.
    #[enum_value(name = "RED_ERROR_ADDRESS_IN_USE", nick = "address-in-use")]
    AddressInUse = 1,
    /// An argument or property value is not acceptable.
    #[enum_value(name = "RED_ERROR_INVALID_ARGUMENT", nick = "invalid-argument")]
    InvalidArgument = 2,
    /// The server is already running.
    #[enum_value(name = "RED_ERROR_ALREADY_RUNNING", nick = "already-running")]
    AlreadyRunning = 4,
    /// Clients are connected, and the call was asked to fail then.
    #[enum_value(name = "RED_ERROR_CLIENTS_CONNECTED", nick = "clients-connected")]
    ClientsConnected = 6,
}

impl RedError {
    /// A `glib::Error` of this code; callers pass translated text.
    pub fn error(self, message: impl AsRef<str>) -> glib::Error {
        glib::Error::new(self, message.as_ref())
    }
}
