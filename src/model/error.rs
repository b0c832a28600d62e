//! Why a connection ends.
//!
//! Every failure of a channel client's connection is one of these kinds,
//! so the code can tell a client that left from one that misbehaved or
//! from a failure of our own, and log each at its level: a client that
//! closes is routine, a misbehaving client is worth a line, a failure of
//! the server is a warning.

use std::fmt;

use crate::protocol::ProtocolError;

/// A failure that ends one client's connection (never the server).
#[derive(Debug)]
pub enum ConnectionError {
    /// The client closed the connection.
    Closed,
    /// The socket failed (reset, broken pipe…).
    Io(std::io::Error),
    /// The client sent bytes that are not valid SPICE.
    Protocol(ProtocolError),
    /// Valid SPICE the client may not send here, or a client that stopped
    /// reading what it is sent.
    Misbehaving(String),
    /// We could not produce what we meant to send: a message that does not
    /// encode or a failed image or video encoder. A bug or a missing codec,
    /// not the client's doing.
    Encoder(String),
    /// The object the connection served is gone (the server was disposed).
    Gone,
}

impl ConnectionError {
    /// A client message this channel does not accept.
    pub fn unexpected(channel: &str, msg_type: u16) -> Self {
        ConnectionError::Misbehaving(format!(
            "unexpected message {msg_type} on the {channel} channel"
        ))
    }

    /// The level to log this failure at.
    pub fn log_level(&self) -> glib::LogLevel {
        match self {
            ConnectionError::Closed | ConnectionError::Gone => glib::LogLevel::Debug,
            ConnectionError::Io(_)
            | ConnectionError::Protocol(_)
            | ConnectionError::Misbehaving(_) => glib::LogLevel::Info,
            ConnectionError::Encoder(_) => glib::LogLevel::Warning,
        }
    }
}

impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectionError::Closed => f.write_str("connection closed by the client"),
            ConnectionError::Io(e) => write!(f, "socket error: {e}"),
            ConnectionError::Protocol(e) => write!(f, "malformed data from the client: {e}"),
            ConnectionError::Misbehaving(what) => write!(f, "misbehaving client: {what}"),
            ConnectionError::Encoder(what) => write!(f, "cannot encode for the client: {what}"),
            ConnectionError::Gone => f.write_str("the server is gone"),
        }
    }
}

impl std::error::Error for ConnectionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConnectionError::Io(e) => Some(e),
            ConnectionError::Protocol(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ProtocolError> for ConnectionError {
    fn from(e: ProtocolError) -> Self {
        ConnectionError::Protocol(e)
    }
}

impl From<std::io::Error> for ConnectionError {
    fn from(e: std::io::Error) -> Self {
        ConnectionError::Io(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_that_leaves_is_not_a_warning() {
        assert_eq!(ConnectionError::Closed.log_level(), glib::LogLevel::Debug);
        assert_eq!(
            ConnectionError::unexpected("cursor", 101).log_level(),
            glib::LogLevel::Info
        );
        assert_eq!(
            ConnectionError::Encoder("lz4".into()).log_level(),
            glib::LogLevel::Warning
        );
        assert!(ConnectionError::unexpected("cursor", 101)
            .to_string()
            .contains("unexpected message 101 on the cursor channel"));
    }
}
