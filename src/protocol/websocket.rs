//! WebSocket (RFC 6455) as SPICE uses it: a browser client (spice-html5)
//! opens the server's plain port with an HTTP upgrade and then sends the
//! SPICE byte stream in binary frames. Pure data: the opening handshake
//! parsed and answered, client frames decoded, server frames encoded.

use super::error::{ProtocolError, Result};

/// The longest opening request accepted.
pub const MAX_REQUEST: usize = 8192;
/// The largest frame payload accepted from a client (spice-html5 sends
/// one frame per SPICE message, far below this).
pub const MAX_FRAME_PAYLOAD: u64 = 1 << 20;

const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Whether `first` (the first bytes of a connection) can only be an HTTP
/// request: SPICE starts with "REDQ".
pub fn looks_like_http(first: &[u8]) -> bool {
    let n = first.len().min(4);
    n > 0 && first.get(..n) == b"GET ".get(..n)
}

/// A valid opening request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upgrade {
    /// `Sec-WebSocket-Key`.
    pub key: String,
    /// Whether the client offered the `binary` subprotocol.
    pub binary: bool,
}

fn invalid(field: &'static str) -> ProtocolError {
    ProtocolError::InvalidValue { field, value: 0 }
}

/// Parses the opening request; `Ok(None)` while it is incomplete, with
/// the request's length once complete.
pub fn parse_upgrade(input: &[u8]) -> Result<Option<(Upgrade, usize)>> {
    let Some(end) = input.windows(4).position(|w| w == b"\r\n\r\n") else {
        if input.len() > MAX_REQUEST {
            return Err(ProtocolError::MessageTooLarge {
                size: u32::try_from(input.len()).unwrap_or(u32::MAX),
                max: MAX_REQUEST as u32,
            });
        }
        return Ok(None);
    };
    let head = input.get(..end).ok_or(invalid("websocket request"))?;
    let text = std::str::from_utf8(head).map_err(|_| invalid("websocket request"))?;
    let mut lines = text.split("\r\n");
    let request = lines.next().unwrap_or("");
    let mut parts = request.split(' ');
    if parts.next() != Some("GET") || !parts.nth(1).is_some_and(|v| v.starts_with("HTTP/1.1")) {
        return Err(invalid("websocket request line"));
    }
    let (mut upgrade, mut connection, mut version, mut key, mut binary) =
        (false, false, false, None, false);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(invalid("websocket header"));
        };
        let value = value.trim();
        let has = |token: &str| {
            value
                .split(',')
                .any(|v| v.trim().eq_ignore_ascii_case(token))
        };
        match name.trim().to_ascii_lowercase().as_str() {
            "upgrade" => upgrade = has("websocket"),
            "connection" => connection = has("upgrade"),
            "sec-websocket-version" => version = value == "13",
            "sec-websocket-key" => key = Some(value.to_string()),
            "sec-websocket-protocol" => binary = has("binary"),
            _ => {}
        }
    }
    let key = key
        .filter(|k| k.len() == 24)
        .ok_or(invalid("sec-websocket-key"))?;
    if !(upgrade && connection && version) {
        return Err(invalid("websocket upgrade headers"));
    }
    Ok(Some((Upgrade { key, binary }, end.saturating_add(4))))
}

/// The server's answer to a valid upgrade: 101 Switching Protocols.
pub fn upgrade_response(upgrade: &Upgrade) -> Vec<u8> {
    let mut keyed = upgrade.key.clone();
    keyed.push_str(GUID);
    let accept = base64(&openssl::sha::sha1(keyed.as_bytes()));
    let mut response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n"
    );
    if upgrade.binary {
        response.push_str("Sec-WebSocket-Protocol: binary\r\n");
    }
    response.push_str("\r\n");
    response.into_bytes()
}

/// The answer to a request that is not a WebSocket upgrade.
pub const BAD_REQUEST: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                let index = (n >> shift) & 63;
                out.push(char::from(*ALPHABET.get(index as usize).unwrap_or(&b'=')));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Opcodes.
pub mod opcode {
    pub const CONTINUATION: u8 = 0;
    pub const TEXT: u8 = 1;
    pub const BINARY: u8 = 2;
    pub const CLOSE: u8 = 8;
    pub const PING: u8 = 9;
    pub const PONG: u8 = 10;
}

/// What a client frame carried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// Stream bytes (binary, text or a continuation of either).
    Data(Vec<u8>),
    /// A ping to answer with this payload.
    Ping(Vec<u8>),
    /// The client closes.
    Close,
    /// A pong: nothing to do.
    Pong,
}

/// Decodes one client frame from the front of `input`: the frame and the
/// bytes it took, or `None` while incomplete.
pub fn decode_client_frame(input: &[u8]) -> Result<Option<(Frame, usize)>> {
    let (Some(&b0), Some(&b1)) = (input.first(), input.get(1)) else {
        return Ok(None);
    };
    if b0 & 0x70 != 0 {
        return Err(invalid("websocket reserved bits"));
    }
    let fin = b0 & 0x80 != 0;
    let op = b0 & 0x0f;
    if b1 & 0x80 == 0 {
        // RFC 6455 5.1: a server must close on an unmasked client frame.
        return Err(invalid("websocket mask"));
    }
    let (len, mut at) = match b1 & 0x7f {
        126 => match input.get(2..4).and_then(|b| <[u8; 2]>::try_from(b).ok()) {
            Some(b) => (u64::from(u16::from_be_bytes(b)), 4usize),
            None => return Ok(None),
        },
        127 => match input.get(2..10).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
            Some(b) => (u64::from_be_bytes(b), 10usize),
            None => return Ok(None),
        },
        n => (u64::from(n), 2usize),
    };
    let control = op & 0x08 != 0;
    if control && (len > 125 || !fin) {
        return Err(invalid("websocket control frame"));
    }
    if len > MAX_FRAME_PAYLOAD {
        return Err(ProtocolError::MessageTooLarge {
            size: u32::try_from(len).unwrap_or(u32::MAX),
            max: MAX_FRAME_PAYLOAD as u32,
        });
    }
    let Some(mask) = input
        .get(at..at.saturating_add(4))
        .and_then(|m| <[u8; 4]>::try_from(m).ok())
    else {
        return Ok(None);
    };
    at = at.saturating_add(4);
    let end = at.saturating_add(len as usize);
    let Some(payload) = input.get(at..end) else {
        return Ok(None);
    };
    let payload: Vec<u8> = payload
        .iter()
        .zip(mask.iter().cycle())
        .map(|(b, m)| b ^ m)
        .collect();
    let frame = match op {
        opcode::CONTINUATION | opcode::TEXT | opcode::BINARY => Frame::Data(payload),
        opcode::CLOSE => Frame::Close,
        opcode::PING => Frame::Ping(payload),
        opcode::PONG => Frame::Pong,
        _ => return Err(invalid("websocket opcode")),
    };
    Ok(Some((frame, end)))
}

/// A server frame (never masked, never fragmented).
pub fn encode_server_frame(op: u8, payload: &[u8], out: &mut Vec<u8>) {
    out.push(0x80 | (op & 0x0f));
    match payload.len() {
        n if n < 126 => out.push(n as u8),
        n if n <= 0xffff => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &[u8] = b"GET /websockify HTTP/1.1\r\nHost: 127.0.0.1:5930\r\n\
        Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
        Sec-WebSocket-Protocol: binary, base64\r\n\r\nrest";

    #[test]
    fn the_rfc_example_handshake() {
        assert!(looks_like_http(b"GE"));
        assert!(!looks_like_http(b"REDQ"));
        let (upgrade, used) = parse_upgrade(REQUEST).unwrap().unwrap();
        assert_eq!(&REQUEST[used..], b"rest");
        assert!(upgrade.binary);
        let response = String::from_utf8(upgrade_response(&upgrade)).unwrap();
        // RFC 6455 section 1.3's worked example.
        assert!(response.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        assert!(response.contains("Sec-WebSocket-Protocol: binary\r\n"));
        assert_eq!(parse_upgrade(&REQUEST[..40]).unwrap(), None);
    }

    #[test]
    fn bad_requests_are_refused() {
        let no_key = b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
            Sec-WebSocket-Version: 13\r\n\r\n";
        assert!(parse_upgrade(no_key).is_err());
        let post = b"POST / HTTP/1.1\r\n\r\n";
        assert!(parse_upgrade(post).is_err());
        assert!(parse_upgrade(&vec![b'a'; MAX_REQUEST + 1]).is_err());
    }

    fn masked(op: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
        let mask = [1u8, 2, 3, 4];
        let mut out = vec![if fin { 0x80 } else { 0 } | op];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
        out
    }

    #[test]
    fn client_frames_unmask_and_fragments_join() {
        let mut stream = masked(opcode::BINARY, false, b"RE");
        stream.extend(masked(opcode::PING, true, b"hi"));
        stream.extend(masked(opcode::CONTINUATION, true, &[7u8; 300]));
        let (first, used) = decode_client_frame(&stream).unwrap().unwrap();
        assert_eq!(first, Frame::Data(b"RE".to_vec()));
        let (ping, used2) = decode_client_frame(&stream[used..]).unwrap().unwrap();
        assert_eq!(ping, Frame::Ping(b"hi".to_vec()));
        let rest = &stream[used + used2..];
        assert_eq!(decode_client_frame(&rest[..100]).unwrap(), None);
        let (last, _) = decode_client_frame(rest).unwrap().unwrap();
        assert_eq!(last, Frame::Data(vec![7u8; 300]));
    }

    #[test]
    fn unmasked_oversized_and_odd_frames_are_refused() {
        assert!(decode_client_frame(&[0x82, 0x02, 1, 2]).is_err());
        assert!(decode_client_frame(&[0xc2, 0x80, 0, 0, 0, 0]).is_err());
        let mut huge = vec![0x82, 0xff];
        huge.extend_from_slice(&(MAX_FRAME_PAYLOAD + 1).to_be_bytes());
        assert!(decode_client_frame(&huge).is_err());
        assert!(decode_client_frame(&masked(opcode::PING, false, b"")).is_err());
        assert!(decode_client_frame(&masked(3, true, b"")).is_err());
    }

    #[test]
    fn server_frames_have_the_right_length_forms() {
        for n in [0usize, 125, 126, 65535, 65536] {
            let mut out = Vec::new();
            encode_server_frame(opcode::BINARY, &vec![9u8; n], &mut out);
            assert_eq!(out[0], 0x82);
            let header = match n {
                0..=125 => 2,
                126..=65535 => 4,
                _ => 10,
            };
            assert_eq!(out.len(), header + n);
        }
    }
}
