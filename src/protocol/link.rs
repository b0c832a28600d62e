//! The link stage: the first bytes on every channel connection.
//!
//! Client sends SpiceLinkHeader + SpiceLinkMess (+ caps), the server answers
//! SpiceLinkHeader + SpiceLinkReply (+ caps), the client optionally sends an
//! auth-mechanism word and then a 128-byte RSA-OAEP ticket, and the server
//! ends with a 4-byte link result. Everything the client sends is bounded
//! here so that a hostile peer cannot make the server allocate or index
//! past what it announced.

use super::caps::{Caps, MAX_CAPS_WORDS};
use super::constants::{
    link_err, SPICE_MAGIC, SPICE_TICKET_CIPHERTEXT_BYTES, SPICE_TICKET_PUBKEY_BYTES,
    SPICE_VERSION_MAJOR, SPICE_VERSION_MINOR,
};
use super::error::{ProtocolError, Result};
use super::reader::Reader;
use super::writer::{len_u32, Writer};

/// Size of SpiceLinkHeader.
pub const LINK_HEADER_SIZE: usize = 16;
/// Size of SpiceLinkMess without its capability words.
pub const LINK_MESS_SIZE: usize = 18;
/// Size of SpiceLinkReply without its capability words.
pub const LINK_REPLY_SIZE: usize = 4 + SPICE_TICKET_PUBKEY_BYTES + 12;
/// Largest link body accepted (spice-server's limit: stops a peer from
/// making us allocate at will).
pub const MAX_LINK_SIZE: u32 = 4096;
/// Size of the auth-mechanism word.
pub const AUTH_MECHANISM_SIZE: usize = 4;
/// Size of the final link result.
pub const LINK_RESULT_SIZE: usize = 4;

/// SpiceLinkHeader: magic, version and the size of what follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkHeader {
    pub major_version: u32,
    pub minor_version: u32,
    /// Bytes that follow the header (link message or reply, caps included).
    pub size: u32,
}

impl LinkHeader {
    /// A header for the current protocol version.
    pub fn new(size: u32) -> Self {
        LinkHeader {
            major_version: SPICE_VERSION_MAJOR,
            minor_version: SPICE_VERSION_MINOR,
            size,
        }
    }

    /// Parses the 16 header bytes, checking in spice-server's order: magic,
    /// major version (the minor is not checked), then `size` within
    /// `LINK_MESS_SIZE..=MAX_LINK_SIZE` so the caller can safely read `size`
    /// more bytes.
    pub fn parse(buf: &[u8]) -> Result<Self> {
        let mut r = Reader::new(buf);
        let magic = r.u32()?;
        if magic != SPICE_MAGIC {
            return Err(ProtocolError::BadMagic(magic));
        }
        let major_version = r.u32()?;
        let minor_version = r.u32()?;
        let size = r.u32()?;
        if major_version != SPICE_VERSION_MAJOR {
            return Err(ProtocolError::VersionMismatch {
                major: major_version,
                minor: minor_version,
            });
        }
        if !(LINK_MESS_SIZE as u32..=MAX_LINK_SIZE).contains(&size) {
            return Err(ProtocolError::LinkSizeOutOfRange {
                size,
                min: LINK_MESS_SIZE as u32,
                max: MAX_LINK_SIZE,
            });
        }
        Ok(LinkHeader {
            major_version,
            minor_version,
            size,
        })
    }

    /// Appends the 16 header bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut w = Writer::new(out);
        w.u32(SPICE_MAGIC);
        w.u32(self.major_version);
        w.u32(self.minor_version);
        w.u32(self.size);
    }
}

/// Checks a caps word count and offset against the body they live in;
/// returns where the caps words start.
fn caps_range(
    body_len: usize,
    fixed_size: usize,
    common: u32,
    channel: u32,
    caps_offset: u32,
) -> Result<usize> {
    if common as usize > MAX_CAPS_WORDS || channel as usize > MAX_CAPS_WORDS {
        return Err(ProtocolError::TooManyCaps { common, channel });
    }
    let words = u64::from(common).saturating_add(u64::from(channel));
    let bytes = words.saturating_mul(4);
    let end = u64::from(caps_offset).saturating_add(bytes);
    let out_of_bounds = ProtocolError::CapsOutOfBounds {
        caps_offset,
        words,
        size: body_len as u64,
    };
    if words == 0 {
        // spice-server ignores caps_offset when there are no caps.
        return Ok(0);
    }
    if (caps_offset as usize) < fixed_size || end > body_len as u64 {
        return Err(out_of_bounds);
    }
    Ok(caps_offset as usize)
}

/// Reads `common` then `channel` caps words from `body` at `start`.
fn read_caps(body: &[u8], start: usize, common: u32, channel: u32) -> Result<(Caps, Caps)> {
    let mut r = Reader::at(body, start)?;
    let mut read = |n: u32| -> Result<Caps> {
        let words = (0..n).map(|_| r.u32()).collect::<Result<Vec<u32>>>()?;
        Ok(Caps::from_words(words))
    };
    let common_caps = read(common)?;
    let channel_caps = read(channel)?;
    Ok((common_caps, channel_caps))
}

fn write_caps(w: &mut Writer<'_>, common: &Caps, channel: &Caps, caps_offset: usize) -> Result<()> {
    w.u32(len_u32("num_common_caps", common.len_words())?);
    w.u32(len_u32("num_channel_caps", channel.len_words())?);
    w.u32(len_u32("caps_offset", caps_offset)?);
    for &word in common.words().iter().chain(channel.words()) {
        w.u32(word);
    }
    Ok(())
}

/// SpiceLinkMess: what channel the client wants and what it can do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkMess {
    /// 0 for a new session's main channel, else MAIN_INIT's session_id.
    pub connection_id: u32,
    pub channel_type: u8,
    pub channel_id: u8,
    pub common_caps: Caps,
    pub channel_caps: Caps,
}

/// A link body longer than any link message is refused before parsing;
/// `min` is the smallest size of the message, reported in the error.
fn check_link_size(body: &[u8], min: u32) -> Result<()> {
    if body.len() > MAX_LINK_SIZE as usize {
        return Err(ProtocolError::LinkSizeOutOfRange {
            size: u32::try_from(body.len()).unwrap_or(u32::MAX),
            min,
            max: MAX_LINK_SIZE,
        });
    }
    Ok(())
}

impl LinkMess {
    /// Parses the `header.size` bytes that follow the link header.
    pub fn parse(body: &[u8]) -> Result<Self> {
        check_link_size(body, LINK_MESS_SIZE as u32)?;
        let mut r = Reader::new(body);
        let connection_id = r.u32()?;
        let channel_type = r.u8()?;
        let channel_id = r.u8()?;
        let num_common = r.u32()?;
        let num_channel = r.u32()?;
        let caps_offset = r.u32()?;
        let start = caps_range(
            body.len(),
            LINK_MESS_SIZE,
            num_common,
            num_channel,
            caps_offset,
        )?;
        let (common_caps, channel_caps) = read_caps(body, start, num_common, num_channel)?;
        Ok(LinkMess {
            connection_id,
            channel_type,
            channel_id,
            common_caps,
            channel_caps,
        })
    }

    /// Appends the message body (caps at offset 18, as spice-gtk sends).
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let mut w = Writer::new(out);
        w.u32(self.connection_id);
        w.u8(self.channel_type);
        w.u8(self.channel_id);
        write_caps(
            &mut w,
            &self.common_caps,
            &self.channel_caps,
            LINK_MESS_SIZE,
        )
    }

    /// Header + body, ready to send (client side; used by tests and tools).
    pub fn encode_with_header(&self) -> Result<Vec<u8>> {
        let mut body = Vec::new();
        self.encode(&mut body)?;
        let mut out = Vec::with_capacity(LINK_HEADER_SIZE.saturating_add(body.len()));
        LinkHeader::new(len_u32("link size", body.len())?).encode(&mut out);
        out.extend_from_slice(&body);
        Ok(out)
    }
}

/// SpiceLinkReply: the server's answer, carrying the per-link RSA key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkReply {
    /// A `link_err` value; non-zero fails the channel on the client.
    pub error: u32,
    /// DER SubjectPublicKeyInfo of the RSA-1024 key for this link (all zero
    /// in error replies).
    pub pub_key: [u8; SPICE_TICKET_PUBKEY_BYTES],
    pub common_caps: Caps,
    pub channel_caps: Caps,
}

impl LinkReply {
    /// A successful reply.
    pub fn ok(pub_key: [u8; SPICE_TICKET_PUBKEY_BYTES], common: Caps, channel: Caps) -> Self {
        LinkReply {
            error: link_err::OK,
            pub_key,
            common_caps: common,
            channel_caps: channel,
        }
    }

    /// An error reply. It must still be a full 178-byte reply: spice-gtk
    /// rejects a shorter one as "invalid peer header size".
    pub fn error(error: u32) -> Self {
        LinkReply {
            error,
            pub_key: [0; SPICE_TICKET_PUBKEY_BYTES],
            common_caps: Caps::new(),
            channel_caps: Caps::new(),
        }
    }

    /// Appends the reply body (caps at offset 178, as spice-server sends).
    /// An error reply without caps is all zero but for `error`, caps_offset
    /// included, byte for byte like spice-server's `reds_send_link_error`.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let mut w = Writer::new(out);
        w.u32(self.error);
        w.bytes(&self.pub_key);
        let no_caps = self.common_caps.is_empty() && self.channel_caps.is_empty();
        let caps_offset = if self.error != link_err::OK && no_caps {
            0
        } else {
            LINK_REPLY_SIZE
        };
        write_caps(&mut w, &self.common_caps, &self.channel_caps, caps_offset)
    }

    /// Link header + reply, ready to send.
    pub fn encode_with_header(&self) -> Result<Vec<u8>> {
        let mut body = Vec::new();
        self.encode(&mut body)?;
        let mut out = Vec::with_capacity(LINK_HEADER_SIZE.saturating_add(body.len()));
        LinkHeader::new(len_u32("link size", body.len())?).encode(&mut out);
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Parses a reply body (client side; used by tests and tools).
    pub fn parse(body: &[u8]) -> Result<Self> {
        check_link_size(body, LINK_REPLY_SIZE as u32)?;
        let mut r = Reader::new(body);
        let error = r.u32()?;
        let pub_key = r.array::<SPICE_TICKET_PUBKEY_BYTES>()?;
        let num_common = r.u32()?;
        let num_channel = r.u32()?;
        let caps_offset = r.u32()?;
        let start = caps_range(
            body.len(),
            LINK_REPLY_SIZE,
            num_common,
            num_channel,
            caps_offset,
        )?;
        let (common_caps, channel_caps) = read_caps(body, start, num_common, num_channel)?;
        Ok(LinkReply {
            error,
            pub_key,
            common_caps,
            channel_caps,
        })
    }
}

/// The authentication mechanism a client picked (values are the common cap
/// numbers AUTH_SPICE = 1 and AUTH_SASL = 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMechanism {
    /// RSA-encrypted ticket.
    Spice,
    /// A SASL exchange follows.
    Sasl,
}

impl AuthMechanism {
    /// The wire value.
    pub fn to_u32(self) -> u32 {
        match self {
            AuthMechanism::Spice => 1,
            AuthMechanism::Sasl => 2,
        }
    }
}

/// Parses the 4-byte SpiceLinkAuthMechanism word. Any other value is
/// [`ProtocolError::InvalidValue`]; spice-server answers it with a link error
/// INVALID_DATA.
pub fn parse_auth_mechanism(buf: &[u8]) -> Result<AuthMechanism> {
    let value = Reader::new(buf).u32()?;
    match value {
        1 => Ok(AuthMechanism::Spice),
        2 => Ok(AuthMechanism::Sasl),
        _ => Err(ProtocolError::InvalidValue {
            field: "auth_mechanism",
            value: u64::from(value),
        }),
    }
}

/// Takes the 128-byte RSA-OAEP(SHA-1) encrypted ticket from the front of
/// `buf`. Decryption is the caller's business.
pub fn parse_encrypted_ticket(buf: &[u8]) -> Result<[u8; SPICE_TICKET_CIPHERTEXT_BYTES]> {
    Reader::new(buf).array()
}

/// The password inside a decrypted ticket: the bytes before the first NUL
/// (clients append one; spice-server compares with `strcmp`).
pub fn ticket_password(plaintext: &[u8]) -> &[u8] {
    plaintext.split(|&b| b == 0).next().unwrap_or(&[])
}

/// The final 4-byte link result (`link_err`, 0 = OK).
pub fn encode_link_result(error: u32) -> [u8; LINK_RESULT_SIZE] {
    error.to_le_bytes()
}

/// Parses a link result (client side).
pub fn parse_link_result(buf: &[u8]) -> Result<u32> {
    Reader::new(buf).u32()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::constants::{cap, channel};

    /// §3.9 of the notes: spice-gtk's main-channel link message.
    const GTK_MAIN_LINK: [u8; 42] = [
        0x52, 0x45, 0x44, 0x51, 0x02, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x1a, 0x00, 0x00,
        0x00, // header, size 26
        0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x12,
        0x00, 0x00, 0x00, // conn 0, MAIN, id 0, 1 word, 1 word, caps_offset 18
        0x09, 0x00, 0x00, 0x00, 0x0f, 0x00, 0x00, 0x00, // common 0x09, main 0x0F
    ];

    fn header_bytes(magic: &[u8; 4], major: u32, minor: u32, size: u32) -> Vec<u8> {
        let mut v = magic.to_vec();
        v.extend_from_slice(&major.to_le_bytes());
        v.extend_from_slice(&minor.to_le_bytes());
        v.extend_from_slice(&size.to_le_bytes());
        v
    }

    fn mess_bytes(common: u32, chan: u32, caps_offset: u32, caps: &[u32]) -> Vec<u8> {
        let mut v = vec![0, 0, 0, 0, 2, 0];
        v.extend_from_slice(&common.to_le_bytes());
        v.extend_from_slice(&chan.to_le_bytes());
        v.extend_from_slice(&caps_offset.to_le_bytes());
        for c in caps {
            v.extend_from_slice(&c.to_le_bytes());
        }
        v
    }

    #[test]
    fn parses_spice_gtk_main_link() {
        let hdr = LinkHeader::parse(&GTK_MAIN_LINK[..16]).unwrap();
        assert_eq!(hdr, LinkHeader::new(26));
        let mess = LinkMess::parse(&GTK_MAIN_LINK[16..]).unwrap();
        assert_eq!(mess.connection_id, 0);
        assert_eq!(mess.channel_type, channel::MAIN);
        assert_eq!(mess.channel_id, 0);
        assert_eq!(mess.common_caps.words(), &[0x09]);
        assert_eq!(mess.channel_caps.words(), &[0x0f]);
        assert!(mess.common_caps.has(cap::common::MINI_HEADER));
        assert!(mess.common_caps.has(cap::common::PROTOCOL_AUTH_SELECTION));
        assert!(!mess.common_caps.has(cap::common::AUTH_SPICE));
        // Round trip, byte-exact.
        assert_eq!(mess.encode_with_header().unwrap(), GTK_MAIN_LINK);
    }

    #[test]
    fn encodes_server_reply() {
        let mut key = [0u8; 162];
        key[0] = 0x30;
        key[161] = 0x01;
        let reply = LinkReply::ok(
            key,
            Caps::from_words(vec![0x0b]),
            Caps::from_words(vec![0x0f]),
        );
        let bytes = reply.encode_with_header().unwrap();
        assert_eq!(bytes.len(), 16 + 186);
        assert_eq!(
            &bytes[..16],
            &[0x52, 0x45, 0x44, 0x51, 2, 0, 0, 0, 2, 0, 0, 0, 0xba, 0, 0, 0]
        );
        assert_eq!(&bytes[16..20], &[0, 0, 0, 0]);
        assert_eq!(&bytes[20..182], &key);
        assert_eq!(
            &bytes[182..],
            &[0x01, 0, 0, 0, 0x01, 0, 0, 0, 0xb2, 0, 0, 0, 0x0b, 0, 0, 0, 0x0f, 0, 0, 0]
        );
        assert_eq!(LinkReply::parse(&bytes[16..]).unwrap(), reply);
    }

    #[test]
    fn error_reply_is_full_size() {
        let bytes = LinkReply::error(link_err::INVALID_DATA)
            .encode_with_header()
            .unwrap();
        assert_eq!(bytes.len(), 16 + 178);
        assert_eq!(&bytes[12..16], &178u32.to_le_bytes());
        assert_eq!(&bytes[16..20], &3u32.to_le_bytes());
        assert!(bytes[20..182].iter().all(|&b| b == 0));
        // counts 0 and caps_offset 0, as spice-server's memset reply.
        assert_eq!(&bytes[182..], &[0; 12]);
        assert_eq!(
            LinkReply::parse(&bytes[16..]).unwrap(),
            LinkReply::error(link_err::INVALID_DATA)
        );
    }

    #[test]
    fn auth_ticket_and_result() {
        assert_eq!(
            parse_auth_mechanism(&[1, 0, 0, 0]),
            Ok(AuthMechanism::Spice)
        );
        assert_eq!(parse_auth_mechanism(&[2, 0, 0, 0]), Ok(AuthMechanism::Sasl));
        assert_eq!(AuthMechanism::Sasl.to_u32(), 2);
        assert!(parse_auth_mechanism(&[3, 0, 0, 0]).is_err());
        assert!(parse_auth_mechanism(&[1, 0, 0]).is_err());
        let ticket: Vec<u8> = (0..128u8).collect();
        assert_eq!(parse_encrypted_ticket(&ticket).unwrap().to_vec(), ticket);
        assert!(parse_encrypted_ticket(&ticket[..127]).is_err());
        assert_eq!(ticket_password(b"secret\0\0junk"), b"secret");
        assert_eq!(ticket_password(b"\0"), b"");
        assert_eq!(ticket_password(b"nonul"), b"nonul");
        assert_eq!(encode_link_result(0), [0, 0, 0, 0]);
        assert_eq!(
            encode_link_result(link_err::PERMISSION_DENIED),
            [7, 0, 0, 0]
        );
        assert_eq!(parse_link_result(&[8, 0, 0, 0]), Ok(8));
    }

    #[test]
    fn malformed_headers() {
        let cases: Vec<(Vec<u8>, ProtocolError)> = vec![
            (
                header_bytes(b"GET ", 2, 2, 18),
                ProtocolError::BadMagic(u32::from_le_bytes(*b"GET ")),
            ),
            (
                header_bytes(b"REDQ", 1, 0, 18),
                ProtocolError::VersionMismatch { major: 1, minor: 0 },
            ),
            (
                header_bytes(b"REDQ", 2, 2, 17),
                ProtocolError::LinkSizeOutOfRange {
                    size: 17,
                    min: 18,
                    max: 4096,
                },
            ),
            (
                header_bytes(b"REDQ", 2, 2, 4097),
                ProtocolError::LinkSizeOutOfRange {
                    size: 4097,
                    min: 18,
                    max: 4096,
                },
            ),
            (
                header_bytes(b"REDQ", 2, 2, u32::MAX),
                ProtocolError::LinkSizeOutOfRange {
                    size: u32::MAX,
                    min: 18,
                    max: 4096,
                },
            ),
        ];
        for (bytes, err) in cases {
            assert_eq!(LinkHeader::parse(&bytes), Err(err.clone()));
        }
        // Truncated at every length.
        let good = header_bytes(b"REDQ", 2, 2, 18);
        for n in 0..16 {
            assert!(matches!(
                LinkHeader::parse(&good[..n]),
                Err(ProtocolError::Truncated { .. })
            ));
        }
        // Minor version is ignored, as in spice-server.
        assert!(LinkHeader::parse(&header_bytes(b"REDQ", 2, 9, 4096)).is_ok());
        assert_eq!(ProtocolError::BadMagic(0).link_error(), 2);
    }

    #[test]
    fn malformed_link_mess() {
        let cases: Vec<Vec<u8>> = vec![
            // too short
            vec![0; 17],
            // counts above 1024
            mess_bytes(1025, 0, 18, &[]),
            mess_bytes(0, 1025, 18, &[]),
            // counts that would overflow a u32 sum / u32 byte count
            mess_bytes(u32::MAX, u32::MAX, 18, &[]),
            mess_bytes(0x4000_0000, 0x4000_0000, 18, &[]),
            // caps words missing
            mess_bytes(1, 1, 18, &[9]),
            // caps_offset inside the fixed part
            mess_bytes(1, 0, 17, &[9]),
            mess_bytes(1, 0, 0, &[9]),
            // caps_offset past the end / overflowing
            mess_bytes(1, 0, 22, &[9]),
            mess_bytes(1, 0, u32::MAX, &[9]),
            mess_bytes(1, 0, u32::MAX - 3, &[9]),
            // too large a body
            {
                let mut v = mess_bytes(0, 0, 18, &[]);
                v.resize(4097, 0);
                v
            },
        ];
        for bytes in cases {
            assert!(LinkMess::parse(&bytes).is_err(), "{bytes:?} accepted");
        }
        // Zero caps: any caps_offset is ignored.
        let m = LinkMess::parse(&mess_bytes(0, 0, u32::MAX, &[])).unwrap();
        assert!(m.common_caps.is_empty() && m.channel_caps.is_empty());
        // caps at a later offset with padding between is fine.
        let mut v = mess_bytes(1, 1, 22, &[]);
        v.extend_from_slice(&[0xee; 4]);
        v.extend_from_slice(&[0x0b, 0, 0, 0, 0x01, 0, 0, 0]);
        let m = LinkMess::parse(&v).unwrap();
        assert_eq!(m.common_caps.words(), &[0x0b]);
        assert_eq!(m.channel_caps.words(), &[0x01]);
        // Every truncation of a valid message fails cleanly.
        for n in 0..GTK_MAIN_LINK.len() - 16 {
            assert!(LinkMess::parse(&GTK_MAIN_LINK[16..16 + n]).is_err());
        }
        // Reply parser: same bounds.
        assert!(LinkReply::parse(&[0; 177]).is_err());
        let mut r = vec![0u8; 178];
        r[166] = 1; // one common cap word, but no room for it
        r[174] = 178;
        assert!(LinkReply::parse(&r).is_err());
    }

    #[test]
    fn max_caps_round_trip() {
        let m = LinkMess {
            connection_id: 0xdead_beef,
            channel_type: channel::DISPLAY,
            channel_id: 3,
            common_caps: Caps::from_words(vec![0x0b; 500]),
            channel_caps: Caps::from_words(vec![0xffff_ffff; 519]),
        };
        let bytes = m.encode_with_header().unwrap();
        let hdr = LinkHeader::parse(&bytes).unwrap();
        assert_eq!(hdr.size as usize, bytes.len() - 16);
        assert_eq!(LinkMess::parse(&bytes[16..]).unwrap(), m);
    }
}
