//! What every server → client message encoder has in common, and framing a
//! body behind its data header.

use super::error::Result;
use super::header::{HeaderKind, MessageHeader};
use super::writer::{len_u32, Writer};

/// A message the server can send: it knows its type number and appends its
/// body (never the header) to a vector, with pointer offsets counted from the
/// body's first byte.
pub trait ServerMessage {
    /// The `SPICE_MSG_*` type for the data header.
    fn msg_type(&self) -> u16;

    /// Appends the body to `out`. On error, `out` may hold a partial body.
    fn encode(&self, out: &mut Vec<u8>) -> Result<()>;

    /// The body as a new vector.
    fn to_body(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.encode(&mut out)?;
        Ok(out)
    }
}

/// Appends header + body of `msg` to `out`. `serial` is ignored for the mini
/// header. On error `out` is left as it was.
pub fn encode_frame(
    kind: HeaderKind,
    serial: u64,
    msg: &dyn ServerMessage,
    out: &mut Vec<u8>,
) -> Result<()> {
    let start = out.len();
    let result = (|| {
        let mut header = MessageHeader {
            serial,
            msg_type: msg.msg_type(),
            size: 0,
            sub_list: 0,
        };
        kind.encode(&header, out);
        let body_start = out.len();
        msg.encode(out)?;
        header.size = len_u32("message body", out.len().saturating_sub(body_start))?;
        // Rewrite the header in place now that the size is known.
        let mut fixed = Vec::with_capacity(kind.size());
        kind.encode(&header, &mut fixed);
        if let Some(dst) = out.get_mut(start..body_start) {
            dst.copy_from_slice(&fixed);
        }
        Ok(())
    })();
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// Declares a server message with an empty body.
macro_rules! empty_server_message {
    ($(#[$doc:meta])* $name:ident, $msg_type:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct $name;

        impl $crate::protocol::server_message::ServerMessage for $name {
            fn msg_type(&self) -> u16 {
                $msg_type
            }

            fn encode(&self, _out: &mut Vec<u8>) -> $crate::protocol::error::Result<()> {
                Ok(())
            }
        }
    };
}
pub(crate) use empty_server_message;

/// Appends `data` after a `u32` length field (the common `data_size +
/// data[data_size]` shape).
pub(crate) fn sized_bytes(w: &mut Writer<'_>, field: &'static str, data: &[u8]) -> Result<()> {
    w.u32(len_u32(field, data.len())?);
    w.bytes(data);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::error::ProtocolError;

    struct Twenty;
    impl ServerMessage for Twenty {
        fn msg_type(&self) -> u16 {
            314
        }
        fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
            out.extend_from_slice(&[0; 20]);
            Ok(())
        }
    }

    struct Broken;
    impl ServerMessage for Broken {
        fn msg_type(&self) -> u16 {
            1
        }
        fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
            out.push(1);
            Err(ProtocolError::InvalidValue {
                field: "x",
                value: 0,
            })
        }
    }

    empty_server_message!(
        /// test
        Nothing,
        42
    );

    #[test]
    fn frames_with_both_headers() {
        let mut out = Vec::new();
        encode_frame(HeaderKind::Mini, 99, &Twenty, &mut out).unwrap();
        assert_eq!(&out[..6], &[0x3a, 0x01, 0x14, 0, 0, 0]);
        assert_eq!(out.len(), 26);
        let mut out = Vec::new();
        encode_frame(HeaderKind::Full, 1, &Twenty, &mut out).unwrap();
        assert_eq!(
            &out[..18],
            &[1, 0, 0, 0, 0, 0, 0, 0, 0x3a, 0x01, 0x14, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(out.len(), 38);
    }

    #[test]
    fn failed_frame_leaves_output_untouched() {
        let mut out = vec![7, 7];
        assert!(encode_frame(HeaderKind::Full, 1, &Broken, &mut out).is_err());
        assert_eq!(out, [7, 7]);
    }

    #[test]
    fn empty_message() {
        assert_eq!(Nothing.msg_type(), 42);
        assert!(Nothing.to_body().unwrap().is_empty());
        let mut out = Vec::new();
        encode_frame(HeaderKind::Mini, 0, &Nothing, &mut out).unwrap();
        assert_eq!(out, [42, 0, 0, 0, 0, 0]);
    }
}
