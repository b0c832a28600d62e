//! Why a piece of wire data was rejected.

use std::fmt;

use super::constants::link_err;

/// Result of every parser and encoder in [`crate::protocol`].
pub type Result<T> = std::result::Result<T, ProtocolError>;

/// A parse or encode failure. Each variant carries enough context to log a
/// useful line without keeping the offending bytes around.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    /// The input ended early: `needed` bytes were wanted at `offset` but only
    /// `available` remained.
    Truncated {
        offset: usize,
        needed: usize,
        available: usize,
    },
    /// The link header did not start with "REDQ" (the raw LE word is kept).
    BadMagic(u32),
    /// The peer speaks another major protocol version.
    VersionMismatch { major: u32, minor: u32 },
    /// The link header announced a body size outside the sane range.
    LinkSizeOutOfRange { size: u32, min: u32, max: u32 },
    /// A capability word count above the limit spice-server also enforces.
    TooManyCaps { common: u32, channel: u32 },
    /// The capability words do not lie inside the link body.
    CapsOutOfBounds {
        caps_offset: u32,
        words: u64,
        size: u64,
    },
    /// A data message longer than the limit for its channel and type.
    MessageTooLarge { size: u32, max: u32 },
    /// A field holds a value this implementation cannot accept.
    InvalidValue { field: &'static str, value: u64 },
    /// A length or count is too large for its wire field (encoding side).
    TooLong {
        field: &'static str,
        max: u64,
        actual: u64,
    },
    /// A length disagrees with the data it describes (encoding side).
    LengthMismatch {
        field: &'static str,
        expected: u64,
        actual: u64,
    },
}

impl ProtocolError {
    /// The `SpiceLinkErr` a server should answer with when this error happens
    /// during the link stage (spice-server: bad magic → INVALID_MAGIC, wrong
    /// major → VERSION_MISMATCH, everything else → INVALID_DATA).
    pub fn link_error(&self) -> u32 {
        match self {
            ProtocolError::BadMagic(_) => link_err::INVALID_MAGIC,
            ProtocolError::VersionMismatch { .. } => link_err::VERSION_MISMATCH,
            _ => link_err::INVALID_DATA,
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::Truncated {
                offset,
                needed,
                available,
            } => write!(
                f,
                "truncated input: needed {needed} bytes at offset {offset}, {available} available"
            ),
            ProtocolError::BadMagic(m) => write!(f, "bad link magic {m:#010x}"),
            ProtocolError::VersionMismatch { major, minor } => {
                write!(f, "unsupported protocol version {major}.{minor}")
            }
            ProtocolError::LinkSizeOutOfRange { size, min, max } => {
                write!(f, "link message size {size} outside {min}..={max}")
            }
            ProtocolError::TooManyCaps { common, channel } => write!(
                f,
                "too many capability words: {common} common, {channel} channel"
            ),
            ProtocolError::CapsOutOfBounds {
                caps_offset,
                words,
                size,
            } => write!(
                f,
                "{words} capability words at offset {caps_offset} do not fit in {size} bytes"
            ),
            ProtocolError::MessageTooLarge { size, max } => {
                write!(f, "message body of {size} bytes exceeds limit {max}")
            }
            ProtocolError::InvalidValue { field, value } => {
                write!(f, "invalid value {value} for {field}")
            }
            ProtocolError::TooLong { field, max, actual } => {
                write!(f, "{field}: {actual} exceeds the maximum {max}")
            }
            ProtocolError::LengthMismatch {
                field,
                expected,
                actual,
            } => write!(f, "{field}: expected {expected}, got {actual}"),
        }
    }
}

impl std::error::Error for ProtocolError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_error_mapping() {
        assert_eq!(ProtocolError::BadMagic(0).link_error(), 2);
        assert_eq!(
            ProtocolError::VersionMismatch { major: 1, minor: 0 }.link_error(),
            4
        );
        assert_eq!(
            ProtocolError::TooManyCaps {
                common: 2000,
                channel: 0
            }
            .link_error(),
            3
        );
    }

    #[test]
    fn display_is_informative() {
        let e = ProtocolError::Truncated {
            offset: 4,
            needed: 2,
            available: 1,
        };
        assert_eq!(
            e.to_string(),
            "truncated input: needed 2 bytes at offset 4, 1 available"
        );
    }
}
