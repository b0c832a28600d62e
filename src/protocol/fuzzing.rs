//! Fuzz entry points shared by the cargo-fuzz targets (`fuzz/`) and a
//! stable-Rust pseudo-random test, so the parsers get exercised on every
//! `cargo test` without needing nightly or libFuzzer.
//!
//! Each target parses arbitrary bytes; whatever parses must re-encode and
//! parse back to the same value. The asserts here fire only on a real bug.

use super::client_message::{parse_client_message, ClientMessage};
use super::constants::{channel, msgc};
use super::header::{check_client_body_size, DataHeader, HeaderKind, MiniHeader};
use super::link::{
    parse_auth_mechanism, parse_encrypted_ticket, parse_link_result, ticket_password, LinkHeader,
    LinkMess, LinkReply, LINK_HEADER_SIZE,
};
use super::sasl;

/// What to fuzz.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FuzzTarget {
    /// Link header + link message + auth word + ticket.
    Link,
    /// Full and mini data headers and the size check.
    Header,
    ClientMain,
    ClientDisplay,
    ClientInputs,
    /// Common messages, sent on a channel type picked from the input.
    ClientCommon,
    /// A WebSocket opening request, then client frames.
    WebSocket,
    /// The client side of a SASL exchange: mechname, then data messages.
    Sasl,
}

impl FuzzTarget {
    pub const ALL: [FuzzTarget; 8] = [
        FuzzTarget::Link,
        FuzzTarget::Header,
        FuzzTarget::ClientMain,
        FuzzTarget::ClientDisplay,
        FuzzTarget::ClientInputs,
        FuzzTarget::ClientCommon,
        FuzzTarget::WebSocket,
        FuzzTarget::Sasl,
    ];

    /// The cargo-fuzz target name.
    pub fn name(self) -> &'static str {
        match self {
            FuzzTarget::Link => "link",
            FuzzTarget::Header => "header",
            FuzzTarget::ClientMain => "client_main",
            FuzzTarget::ClientDisplay => "client_display",
            FuzzTarget::ClientInputs => "client_inputs",
            FuzzTarget::ClientCommon => "client_common",
            FuzzTarget::WebSocket => "websocket",
            FuzzTarget::Sasl => "sasl",
        }
    }
}

const MAIN_TYPES: &[u16] = &[
    msgc::main::CLIENT_INFO,
    msgc::main::MIGRATE_CONNECTED,
    msgc::main::MIGRATE_CONNECT_ERROR,
    msgc::main::ATTACH_CHANNELS,
    msgc::main::MOUSE_MODE_REQUEST,
    msgc::main::AGENT_START,
    msgc::main::AGENT_DATA,
    msgc::main::AGENT_TOKEN,
    msgc::main::MIGRATE_END,
    msgc::main::MIGRATE_DST_DO_SEAMLESS,
    msgc::main::MIGRATE_CONNECTED_SEAMLESS,
    msgc::main::QUALITY_INDICATOR,
    113,
];
const DISPLAY_TYPES: &[u16] = &[
    msgc::display::INIT,
    msgc::display::STREAM_REPORT,
    msgc::display::PREFERRED_COMPRESSION,
    msgc::display::GL_DRAW_DONE,
    msgc::display::PREFERRED_VIDEO_CODEC_TYPE,
    106,
];
const INPUTS_TYPES: &[u16] = &[
    msgc::inputs::KEY_DOWN,
    msgc::inputs::KEY_UP,
    msgc::inputs::KEY_MODIFIERS,
    msgc::inputs::KEY_SCANCODE,
    msgc::inputs::MOUSE_MOTION,
    msgc::inputs::MOUSE_POSITION,
    msgc::inputs::MOUSE_PRESS,
    msgc::inputs::MOUSE_RELEASE,
    105,
];
const COMMON_TYPES: &[u16] = &[
    msgc::common::ACK_SYNC,
    msgc::common::ACK,
    msgc::common::PONG,
    msgc::common::MIGRATE_FLUSH_MARK,
    msgc::common::MIGRATE_DATA,
    msgc::common::DISCONNECTING,
    7,
    100,
];

/// Runs one input through a target and says whether its main parser
/// accepted it (so tests can check the inputs reach past the first check).
/// Panics only if a parser/encoder pair disagrees (a bug), never because of
/// the input itself.
pub fn fuzz_one(target: FuzzTarget, data: &[u8]) -> bool {
    match target {
        FuzzTarget::Link => fuzz_link(data),
        FuzzTarget::Header => fuzz_header(data),
        FuzzTarget::ClientMain => fuzz_client(channel::MAIN, MAIN_TYPES, data),
        FuzzTarget::ClientDisplay => fuzz_client(channel::DISPLAY, DISPLAY_TYPES, data),
        FuzzTarget::ClientInputs => fuzz_client(channel::INPUTS, INPUTS_TYPES, data),
        FuzzTarget::ClientCommon => {
            let (ch, rest) = data.split_first().unwrap_or((&0, &[]));
            fuzz_client(*ch, COMMON_TYPES, rest)
        }
        FuzzTarget::WebSocket => fuzz_websocket(data),
        FuzzTarget::Sasl => fuzz_sasl(data),
    }
}

/// The client's SASL messages as the link stage reads them: a mechanism
/// name, then data messages until one is refused or incomplete. What
/// parses re-encodes to the same bytes (but the NUL each data message
/// ends with, which is not checked on the way in).
fn fuzz_sasl(data: &[u8]) -> bool {
    let Ok(Some((name, used))) = sasl::parse_mechname(data) else {
        return false;
    };
    assert_eq!(
        Some(&sasl::encode_client_messages(&name, &[])[..]),
        data.get(..used)
    );
    assert!(sasl::mechlist_contains(&format!(",{name},"), &name));
    let mut rest = data.get(used..).unwrap_or(&[]);
    while let Ok(Some((chunk, used))) = sasl::parse_client_data(rest) {
        let again = sasl::encode_client_messages("X", &[chunk]);
        let again = again.get(5..).unwrap_or(&[]);
        assert_eq!(again.len(), used);
        // All but the final NUL (none when there is no data).
        let compared = if chunk.is_some() {
            used.saturating_sub(1)
        } else {
            used
        };
        assert_eq!(again.get(..compared), rest.get(..compared));
        let _ = sasl::encode_step_reply(chunk, chunk.is_none());
        rest = rest.get(used..).unwrap_or(&[]);
    }
    true
}

/// The request as a server reads it, then frames until one is refused or
/// incomplete; every decoded frame must have taken some bytes.
fn fuzz_websocket(data: &[u8]) -> bool {
    let mut rest = match super::websocket::parse_upgrade(data) {
        Ok(Some((upgrade, used))) => {
            assert!(!super::websocket::upgrade_response(&upgrade).is_empty());
            data.get(used..).unwrap_or(&[])
        }
        _ => data,
    };
    let mut accepted = false;
    while let Ok(Some((_, used))) = super::websocket::decode_client_frame(rest) {
        assert!(used > 0 && used <= rest.len());
        accepted = true;
        rest = rest.get(used..).unwrap_or(&[]);
    }
    accepted
}

fn fuzz_link(data: &[u8]) -> bool {
    let mut accepted = false;
    // The stream as a server reads it: header, then exactly `size` bytes,
    // then the auth word and the ticket.
    if let Ok(header) = LinkHeader::parse(data) {
        let rest = data.get(LINK_HEADER_SIZE..).unwrap_or(&[]);
        let size = (header.size as usize).min(rest.len());
        let (body, after) = rest.split_at_checked(size).unwrap_or((rest, &[]));
        if let Ok(mess) = LinkMess::parse(body) {
            accepted = true;
            let mut again = Vec::new();
            if mess.encode(&mut again).is_ok() {
                assert_eq!(LinkMess::parse(&again).ok(), Some(mess));
            }
        }
        let _ = parse_auth_mechanism(after);
        let _ = parse_encrypted_ticket(after.get(4..).unwrap_or(&[]));
    }
    // And each parser on its own.
    if let Ok(mess) = LinkMess::parse(data) {
        let bytes = mess.encode_with_header();
        if let Ok(bytes) = bytes {
            let h = LinkHeader::parse(&bytes);
            assert!(h.is_ok());
        }
    }
    if let Ok(reply) = LinkReply::parse(data) {
        let mut again = Vec::new();
        if reply.encode(&mut again).is_ok() {
            assert_eq!(LinkReply::parse(&again).ok(), Some(reply));
        }
    }
    let _ = parse_auth_mechanism(data);
    let _ = parse_link_result(data);
    let _ = ticket_password(data);
    accepted
}

fn fuzz_header(data: &[u8]) -> bool {
    let full = DataHeader::parse(data);
    if let Ok(h) = full {
        let mut out = Vec::new();
        h.encode(&mut out);
        assert_eq!(Some(&out[..]), data.get(..out.len()));
    }
    let mini = MiniHeader::parse(data);
    if let Ok(h) = mini {
        let mut out = Vec::new();
        h.encode(&mut out);
        assert_eq!(Some(&out[..]), data.get(..out.len()));
    }
    for kind in [HeaderKind::Full, HeaderKind::Mini] {
        if let Ok(h) = kind.parse(data) {
            for ch in [channel::MAIN, channel::DISPLAY, channel::INPUTS, 200] {
                let _ = check_client_body_size(ch, &h);
            }
        }
    }
    full.is_ok() || mini.is_ok()
}

fn fuzz_client(channel_type: u8, types: &[u16], data: &[u8]) -> bool {
    let Some((&selector, body)) = data.split_first() else {
        return false;
    };
    let index = usize::from(selector).checked_rem(types.len()).unwrap_or(0);
    let msg_type = types.get(index).copied().unwrap_or(0);
    if let Ok(msg) = parse_client_message(channel_type, msg_type, body) {
        assert_eq!(msg.msg_type(), msg_type);
        let mut again = Vec::new();
        if msg.encode(&mut again).is_ok() {
            assert!(again.len() <= body.len());
            assert_eq!(
                parse_client_message(channel_type, msg_type, &again).ok(),
                Some(msg)
            );
        }
        !matches!(msg, ClientMessage::Unknown { .. })
    } else {
        false
    }
}

/// Valid inputs to start mutating from (also a seed corpus for cargo-fuzz).
pub fn seeds(target: FuzzTarget) -> Vec<Vec<u8>> {
    let link_mess: Vec<u8> = [
        &b"REDQ"[..],
        &[2, 0, 0, 0, 2, 0, 0, 0, 26, 0, 0, 0],
        &[0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 18, 0, 0, 0],
        &[9, 0, 0, 0, 15, 0, 0, 0],
        &[1, 0, 0, 0],
        &[0x5a; 128],
    ]
    .concat();
    match target {
        FuzzTarget::Link => vec![link_mess],
        FuzzTarget::Header => vec![
            vec![1, 0, 0, 0, 0, 0, 0, 0, 0x3a, 1, 20, 0, 0, 0, 0, 0, 0, 0],
            vec![0x3a, 1, 20, 0, 0, 0],
        ],
        FuzzTarget::ClientMain => vec![vec![4, 2, 0], vec![5, 0xff, 0xff, 0xff, 0xff]],
        FuzzTarget::ClientDisplay => vec![
            vec![0, 1, 0, 0, 0x50, 0, 0, 0, 0, 0, 1, 0, 0, 0x20, 0],
            vec![4, 2, 3, 1],
            vec![2, 7],
        ],
        FuzzTarget::ClientInputs => vec![
            vec![5, 0x64, 0, 0, 0, 0xc8, 0, 0, 0, 1, 0, 0],
            vec![4, 0xfd, 0xff, 0xff, 0xff, 4, 0, 0, 0, 0, 0],
            vec![6, 1, 1, 0],
            vec![0, 0xe0, 0x1d, 0, 0],
        ],
        FuzzTarget::ClientCommon => vec![
            vec![1, 0, 1, 0, 0, 0],
            vec![4, 2, 7, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1],
            vec![2, 5, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ],
        FuzzTarget::WebSocket => vec![[
            &b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"[..],
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            &[
                0x82,
                0x84,
                1,
                2,
                3,
                4,
                b'R' ^ 1,
                b'E' ^ 2,
                b'D' ^ 3,
                b'Q' ^ 4,
            ],
        ]
        .concat()],
        FuzzTarget::Sasl => vec![
            sasl::encode_client_messages(
                "DIGEST-MD5",
                &[None, Some(b"username=\"u\",nonce=\"n\"")],
            ),
            sasl::encode_client_messages("SCRAM-SHA-1", &[Some(b"n,,n=u,r=abc"), Some(b"")]),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64*: tiny, deterministic, good enough to shake parsers.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.0 = x;
            x.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    fn mutate(rng: &mut Rng, input: &mut Vec<u8>) {
        for _ in 0..=rng.below(4) {
            match rng.below(7) {
                0 if !input.is_empty() => {
                    let i = rng.below(input.len());
                    input[i] ^= 1 << rng.below(8);
                }
                1 if !input.is_empty() => {
                    let i = rng.below(input.len());
                    input[i] = [0, 0xff, 0x7f, 0x80, 1][rng.below(5)];
                }
                2 => input.truncate(rng.below(input.len() + 1)),
                3 => {
                    let n = rng.below(16);
                    input.extend((0..n).map(|_| rng.next() as u8));
                }
                4 if input.len() >= 4 => {
                    // Plant an extreme u32 somewhere (sizes, counts, offsets).
                    let i = rng.below(input.len() - 3);
                    let v: u32 = [u32::MAX, 0x8000_0000, 1024, 1025, 4096, 18, 0][rng.below(7)];
                    input[i..i + 4].copy_from_slice(&v.to_le_bytes());
                }
                5 if !input.is_empty() => {
                    let i = rng.below(input.len());
                    input.remove(i);
                }
                _ => input.push(rng.next() as u8),
            }
        }
    }

    #[test]
    fn pseudo_random_inputs_never_panic() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for target in FuzzTarget::ALL {
            // Pure noise.
            for _ in 0..2000 {
                let len = rng.below(64);
                let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                fuzz_one(target, &data);
            }
            // Mutated valid inputs.
            let seeds = seeds(target);
            for seed in &seeds {
                assert!(fuzz_one(target, seed), "{target:?} seed {seed:?}");
            }
            let mut accepted = 0;
            for _ in 0..3000 {
                let mut data = seeds[rng.below(seeds.len())].clone();
                mutate(&mut rng, &mut data);
                accepted += usize::from(fuzz_one(target, &data));
            }
            // The mutations must not be so wild that nothing parses.
            assert!(accepted > 300, "{target:?}: only {accepted} accepted");
        }
    }

    #[test]
    fn exhaustive_short_inputs() {
        // Every 0-, 1- and 2-byte input for every target.
        for target in FuzzTarget::ALL {
            fuzz_one(target, &[]);
            for a in 0..=255u8 {
                fuzz_one(target, &[a]);
                for b in [0u8, 1, 2, 3, 4, 5, 6, 7, 100, 101, 0x7f, 0x80, 0xff] {
                    fuzz_one(target, &[a, b]);
                }
            }
        }
    }

    #[test]
    fn seeds_parse() {
        let link = &seeds(FuzzTarget::Link)[0];
        let h = LinkHeader::parse(link).unwrap();
        assert!(LinkMess::parse(&link[16..16 + h.size as usize]).is_ok());
        for (target, ch, types) in [
            (FuzzTarget::ClientMain, channel::MAIN, MAIN_TYPES),
            (FuzzTarget::ClientDisplay, channel::DISPLAY, DISPLAY_TYPES),
            (FuzzTarget::ClientInputs, channel::INPUTS, INPUTS_TYPES),
        ] {
            for s in seeds(target) {
                let t = types[usize::from(s[0]) % types.len()];
                let m = parse_client_message(ch, t, &s[1..]).unwrap();
                assert!(!matches!(m, ClientMessage::Unknown { .. }), "{m:?}");
            }
        }
        assert_eq!(FuzzTarget::ALL.map(|t| t.name()).len(), 8);
        assert!(fuzz_one(
            FuzzTarget::WebSocket,
            &seeds(FuzzTarget::WebSocket)[0]
        ));
    }
}
