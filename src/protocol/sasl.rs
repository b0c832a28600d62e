//! The SASL exchange of the link stage (after the client chose
//! `AuthMechanism::Sasl`), as spice-server and spice-gtk speak it. All
//! integers are little-endian u32.
//!
//! ```text
//! server: len, mechlist            ",DIGEST-MD5,SCRAM-SHA-1," (no NUL)
//! client: len (1..=100), mechname  no NUL
//! client: len, clientin            len 0: no data; else data + NUL
//! server: len, serverout, complete len 0: no data; else data + NUL; u8 0|1
//! client: len, clientin            (only while complete == 0)
//! ...
//! server: u32 0                    auth accepted, then the link result
//!                                  (through the security layer if any)
//! ```
//!
//! A security layer weaker than 56 bits on a plain link is refused with
//! `u32 1, u32 22, "Authentication failed\0"`.

use super::error::{ProtocolError, Result};
use super::reader::Reader;

/// The longest mechanism name a client may send (spice-server's limit).
pub const MAX_MECHNAME_LEN: u32 = 100;
/// The longest mechanism list spice-gtk reads.
pub const MAX_MECHLIST_LEN: usize = 300;
/// The most SASL data one client message may carry. spice-server allows
/// 1 MiB; the mechanisms a SPICE client uses send a few hundred bytes
/// (a Kerberos ticket a few KiB), and 64 KiB keeps a link in progress small.
pub const MAX_DATA_LEN: u32 = 64 * 1024;
/// What spice-server sends after the refusal word when the SSF is too weak.
pub const AUTH_FAILED_TEXT: &[u8] = b"Authentication failed\0";

/// The mechanism list message.
pub fn encode_mechlist(list: &str) -> Result<Vec<u8>> {
    if list.len() > MAX_MECHLIST_LEN {
        return Err(ProtocolError::TooLong {
            field: "sasl mechlist",
            max: MAX_MECHLIST_LEN as u64,
            actual: list.len() as u64,
        });
    }
    let mut out = Vec::with_capacity(list.len().saturating_add(4));
    out.extend_from_slice(&(list.len() as u32).to_le_bytes());
    out.extend_from_slice(list.as_bytes());
    Ok(out)
}

/// A start or step reply: `serverout` (None: no data, which SASL tells
/// apart from empty data) and whether the exchange is complete.
pub fn encode_step_reply(serverout: Option<&[u8]>, complete: bool) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    match serverout {
        None => out.extend_from_slice(&0u32.to_le_bytes()),
        Some(data) => {
            let len = data.len().saturating_add(1);
            if len > MAX_DATA_LEN as usize {
                return Err(ProtocolError::TooLong {
                    field: "sasl serverout",
                    max: u64::from(MAX_DATA_LEN),
                    actual: len as u64,
                });
            }
            out.extend_from_slice(&(len as u32).to_le_bytes());
            out.extend_from_slice(data);
            out.push(0);
        }
    }
    out.push(u8::from(complete));
    Ok(out)
}

/// The refusal of an authentication whose security layer is too weak.
pub fn encode_auth_failed() -> Vec<u8> {
    let mut out = Vec::with_capacity(AUTH_FAILED_TEXT.len().saturating_add(8));
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&(AUTH_FAILED_TEXT.len() as u32).to_le_bytes());
    out.extend_from_slice(AUTH_FAILED_TEXT);
    out
}

/// The client's mechanism name and the bytes it took; `Ok(None)` while
/// incomplete. A length outside 1..=100 or a name outside SASL's
/// character set (RFC 4422: A-Z, 0-9, '-', '_') is an error.
pub fn parse_mechname(buf: &[u8]) -> Result<Option<(String, usize)>> {
    let mut r = Reader::new(buf);
    let Ok(len) = r.u32() else {
        return Ok(None);
    };
    if len == 0 || len > MAX_MECHNAME_LEN {
        return Err(ProtocolError::InvalidValue {
            field: "sasl mechname length",
            value: u64::from(len),
        });
    }
    let Ok(name) = r.bytes(len as usize) else {
        return Ok(None);
    };
    let valid = name
        .iter()
        .all(|&b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !valid {
        return Err(ProtocolError::InvalidValue {
            field: "sasl mechname",
            value: u64::from(len),
        });
    }
    let name = String::from_utf8_lossy(name).into_owned();
    Ok(Some((name, r.position())))
}

/// Client data (`None`: none, which SASL tells apart from empty) and the
/// bytes its message took.
pub type ClientData<'a> = (Option<&'a [u8]>, usize);

/// Client data of a start or step message, and the bytes it took;
/// `Ok(None)` while incomplete. The data is `None` for length 0, else the
/// bytes without the last (the NUL the wire carries), as spice-server
/// passes it to libsasl2. Longer than [`MAX_DATA_LEN`] is an error.
pub fn parse_client_data(buf: &[u8]) -> Result<Option<ClientData<'_>>> {
    let mut r = Reader::new(buf);
    let Ok(len) = r.u32() else {
        return Ok(None);
    };
    if len > MAX_DATA_LEN {
        return Err(ProtocolError::MessageTooLarge {
            size: len,
            max: MAX_DATA_LEN,
        });
    }
    if len == 0 {
        return Ok(Some((None, r.position())));
    }
    let Ok(bytes) = r.bytes(len as usize) else {
        return Ok(None);
    };
    let data = bytes.split_last().map(|(_, data)| data);
    Ok(Some((data, r.position())))
}

/// Whether `name` is one of the mechanisms in a list as
/// `sasl_listmech` writes it with ',' before, between and after.
pub fn mechlist_contains(list: &str, name: &str) -> bool {
    !name.is_empty() && !name.contains(',') && list.split(',').any(|m| m == name)
}

/// The client messages of a whole exchange as a client sends them (for
/// tests and the fuzz seeds): mechname, then each data chunk.
pub fn encode_client_messages(mechname: &str, data: &[Option<&[u8]>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(mechname.len() as u32).to_le_bytes());
    out.extend_from_slice(mechname.as_bytes());
    for chunk in data {
        match chunk {
            None => out.extend_from_slice(&0u32.to_le_bytes()),
            Some(bytes) => {
                out.extend_from_slice(&(bytes.len().saturating_add(1) as u32).to_le_bytes());
                out.extend_from_slice(bytes);
                out.push(0);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mechlist_and_replies() {
        let m = encode_mechlist(",DIGEST-MD5,").unwrap();
        assert_eq!(&m[..4], &[12, 0, 0, 0]);
        assert_eq!(&m[4..], b",DIGEST-MD5,");
        assert!(encode_mechlist(&"X".repeat(301)).is_err());
        assert_eq!(encode_step_reply(None, false).unwrap(), [0, 0, 0, 0, 0]);
        assert_eq!(
            encode_step_reply(Some(b"ab"), true).unwrap(),
            [3, 0, 0, 0, b'a', b'b', 0, 1]
        );
        assert_eq!(
            encode_step_reply(Some(b""), false).unwrap(),
            [1, 0, 0, 0, 0, 0]
        );
        let big = vec![0u8; MAX_DATA_LEN as usize];
        assert!(encode_step_reply(Some(&big), false).is_err());
        let f = encode_auth_failed();
        assert_eq!(&f[..8], &[1, 0, 0, 0, 22, 0, 0, 0]);
        assert_eq!(&f[8..], AUTH_FAILED_TEXT);
    }

    #[test]
    fn mechname() {
        let bytes = encode_client_messages("SCRAM-SHA-1", &[]);
        assert_eq!(
            parse_mechname(&bytes).unwrap(),
            Some(("SCRAM-SHA-1".to_string(), 15))
        );
        assert_eq!(parse_mechname(&bytes[..3]).unwrap(), None);
        assert_eq!(parse_mechname(&bytes[..14]).unwrap(), None);
        assert!(parse_mechname(&[0, 0, 0, 0]).is_err());
        assert!(parse_mechname(&[101, 0, 0, 0]).is_err());
        assert!(parse_mechname(&[0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(parse_mechname(&[3, 0, 0, 0, b'A', b',', b'B']).is_err());
        assert!(parse_mechname(&[3, 0, 0, 0, b'a', b'b', b'c']).is_err());
        assert!(parse_mechname(&[2, 0, 0, 0, b'A', 0]).is_err());
        let long = encode_client_messages(&"A".repeat(100), &[]);
        assert!(parse_mechname(&long).unwrap().is_some());
    }

    #[test]
    fn client_data() {
        let bytes = encode_client_messages("PLAIN", &[None, Some(b""), Some(b"xyz")]);
        let rest = &bytes[9..];
        assert_eq!(parse_client_data(rest).unwrap(), Some((None, 4)));
        let rest = &rest[4..];
        assert_eq!(parse_client_data(rest).unwrap(), Some((Some(&b""[..]), 5)));
        let rest = &rest[5..];
        assert_eq!(
            parse_client_data(rest).unwrap(),
            Some((Some(&b"xyz"[..]), 8))
        );
        assert_eq!(parse_client_data(&rest[..7]).unwrap(), None);
        assert_eq!(parse_client_data(&rest[..2]).unwrap(), None);
        let mut big = (MAX_DATA_LEN + 1).to_le_bytes().to_vec();
        big.push(0);
        assert!(parse_client_data(&big).is_err());
        let mut max = MAX_DATA_LEN.to_le_bytes().to_vec();
        assert_eq!(parse_client_data(&max).unwrap(), None);
        max.resize(4 + MAX_DATA_LEN as usize, 0);
        assert!(parse_client_data(&max).unwrap().is_some());
    }

    #[test]
    fn membership() {
        let list = ",DIGEST-MD5,SCRAM-SHA-1,";
        assert!(mechlist_contains(list, "DIGEST-MD5"));
        assert!(mechlist_contains(list, "SCRAM-SHA-1"));
        assert!(!mechlist_contains(list, "SCRAM-SHA"));
        assert!(!mechlist_contains(list, "MD5,SCRAM"));
        assert!(!mechlist_contains(list, ""));
        assert!(!mechlist_contains(list, "PLAIN"));
    }
}
