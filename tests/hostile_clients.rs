//! Clients that do what real clients do not, with raw sockets: a replayed
//! ticket, a flood of idle and half-sent connections, a first message sent
//! with the ticket, pointer positions off the displays, ticket guessing,
//! MIGRATE_DATA, malformed SASL messages. (The key event flood has a file
//! of its own: it measures a timer.)

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use glib::prelude::*;

use common::{encrypt_ticket, read_exact, read_message, send_message, ServerThread};
use redspice::protocol::constants::{cap, channel, link_err, msg, msgc};
use redspice::protocol::link::{LinkHeader, LinkMess, LinkReply};
use redspice::protocol::{sasl, Caps};

const PASSWORD: &str = "s3cret";

fn server_with_password() -> ServerThread {
    ServerThread::start(
        |server| {
            server.add_display(16, 16).unwrap();
            server.set_ticket(Some(PASSWORD), 0);
            Box::new(|| {})
        },
        Duration::from_millis(50),
    )
}

/// Sends a main-channel link and returns the socket and the link reply.
fn link_mess(port: u16) -> (TcpStream, LinkReply) {
    link_mess_from(port, [127, 0, 0, 1])
}

/// [`link_mess`] from a chosen loopback source address.
fn link_mess_from(port: u16, source: [u8; 4]) -> (TcpStream, LinkReply) {
    link_mess_with(port, source, cap::common::AUTH_SPICE)
}

/// A main-channel link from `source` offering the authentication `auth`
/// (a common capability).
fn link_mess_with(port: u16, source: [u8; 4], auth: u32) -> (TcpStream, LinkReply) {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let local = std::net::SocketAddr::from((source, 0));
    socket.bind(&local.into()).unwrap();
    let remote = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    socket.connect(&remote.into()).unwrap();
    let mut s: TcpStream = socket.into();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mess = LinkMess {
        connection_id: 0,
        channel_type: channel::MAIN,
        channel_id: 0,
        common_caps: Caps::with(&[
            cap::common::PROTOCOL_AUTH_SELECTION,
            auth,
            cap::common::MINI_HEADER,
        ]),
        channel_caps: Caps::new(),
    };
    s.write_all(&mess.encode_with_header().unwrap()).unwrap();
    let header = LinkHeader::parse(&read_exact(&mut s, 16)).unwrap();
    let reply = LinkReply::parse(&read_exact(&mut s, header.size as usize)).unwrap();
    (s, reply)
}

fn link_result(s: &mut TcpStream, ticket: &[u8], then: &[u8]) -> u32 {
    let mut bytes = 1u32.to_le_bytes().to_vec(); // AUTH_SPICE
    bytes.extend_from_slice(ticket);
    bytes.extend_from_slice(then);
    s.write_all(&bytes).unwrap();
    u32::from_le_bytes(read_exact(s, 4).try_into().unwrap())
}

fn secret() -> Vec<u8> {
    let mut secret = PASSWORD.as_bytes().to_vec();
    secret.push(0);
    secret
}

#[test]
fn a_ticket_copied_off_the_wire_is_refused_on_a_later_link() {
    let server = server_with_password();
    let (mut first, reply) = link_mess(server.port);
    let ticket = encrypt_ticket(&reply.pub_key, &secret());
    assert_eq!(link_result(&mut first, &ticket, &[]), link_err::OK);

    // Every link gets its own key, so the same 128 bytes mean nothing on
    // the next one.
    let (mut replay, second_reply) = link_mess(server.port);
    assert_ne!(reply.pub_key, second_reply.pub_key);
    assert_eq!(
        link_result(&mut replay, &ticket, &[]),
        link_err::PERMISSION_DENIED
    );
}

#[test]
fn a_first_message_sent_with_the_ticket_is_handled() {
    let server = server_with_password();
    let (mut s, reply) = link_mess(server.port);
    let ticket = encrypt_ticket(&reply.pub_key, &secret());
    // ATTACH_CHANNELS in the same write as the ticket, as a client that
    // does not wait for the link result sends it.
    let mut attach = msgc::main::ATTACH_CHANNELS.to_le_bytes().to_vec();
    attach.extend_from_slice(&0u32.to_le_bytes());
    assert_eq!(link_result(&mut s, &ticket, &attach), link_err::OK);
    let mut seen = Vec::new();
    while !seen.contains(&msg::main::CHANNELS_LIST) {
        let (msg_type, _) = read_message(&mut s);
        seen.push(msg_type);
        assert!(seen.len() < 20, "no CHANNELS_LIST among {seen:?}");
    }
    assert_eq!(seen[0], msg::main::INIT);
    // And the session goes on normally.
    send_message(&mut s, msgc::main::ATTACH_CHANNELS, &[]);
}

#[test]
fn idle_and_half_sent_connections_do_not_lock_a_client_out() {
    let server = server_with_password();
    // The figures: 2000 idle and 500 half-sent connections, which
    // with the server's ends need some 5000 descriptors in this process.
    let idle: usize = std::env::var("REDSPICE_FLOOD_IDLE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let half_sent = idle / 4;
    let wanted = (2 * (idle + half_sent) + 256) as libc::rlim_t;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit with a valid struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        if limit.rlim_cur < wanted {
            limit.rlim_cur = wanted.min(limit.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
    let (idle, half_sent) = if limit.rlim_cur < wanted {
        let scale = limit.rlim_cur as f64 / wanted as f64;
        println!("descriptor limit {}: a smaller flood", limit.rlim_cur);
        let idle = (idle as f64 * scale * 0.9) as usize;
        (idle, idle / 4)
    } else {
        (idle, half_sent)
    };
    let mut held = Vec::new();
    for _ in 0..idle {
        held.push(TcpStream::connect(("127.0.0.1", server.port)).unwrap());
    }
    for _ in 0..half_sent {
        let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        s.write_all(b"REDQ\x02\0\0\0").unwrap();
        held.push(s);
    }
    // A real client, from the same address as the flood.
    let started = Instant::now();
    let (mut s, reply) = link_mess(server.port);
    assert_eq!(reply.error, link_err::OK);
    let ticket = encrypt_ticket(&reply.pub_key, &secret());
    assert_eq!(link_result(&mut s, &ticket, &[]), link_err::OK);
    let (msg_type, _) = read_message(&mut s);
    assert_eq!(msg_type, msg::main::INIT);
    // A figure, not an assertion: these machines are noisy.
    println!(
        "linked in {:?} while {idle} idle and {half_sent} half-sent connections were open",
        started.elapsed()
    );
    drop(held);
}

#[test]
fn pointer_positions_are_clamped_and_unknown_displays_dropped() {
    use std::sync::{Arc, Mutex};

    let positions = Arc::new(Mutex::new(Vec::new()));
    let p = positions.clone();
    let server = ServerThread::start(
        move |server| {
            server.add_display(16, 12).unwrap();
            glib::prelude::ObjectExt::connect_closure(
                server,
                "pointer-position",
                false,
                glib::closure!(
                    move |_: &redspice::Server, d: u32, x: i32, y: i32, _b: u32| {
                        p.lock().unwrap().push((d, x, y));
                    }
                ),
            );
            Box::new(|| {})
        },
        Duration::from_millis(10),
    );
    let mut main = common::link(server.port, 0, channel::MAIN, 0, Caps::new());
    let (_, body) = read_message(&mut main);
    let session_id = u32::from_le_bytes(body[..4].try_into().unwrap());
    // Client mouse mode: positions count.
    send_message(
        &mut main,
        msgc::main::MOUSE_MODE_REQUEST,
        &2u16.to_le_bytes(),
    );
    loop {
        let (msg_type, _) = read_message(&mut main);
        if msg_type == msg::main::MOUSE_MODE {
            break;
        }
    }
    let mut inputs = common::link(server.port, session_id, channel::INPUTS, 0, Caps::new());
    let position = |x: u32, y: u32, display: u8| {
        let mut body = x.to_le_bytes().to_vec();
        body.extend_from_slice(&y.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.push(display);
        body
    };
    for (x, y, display) in [
        (2_147_483_647, 5, 0),
        (3, 4_000_000_000, 0),
        (1, 1, 7),
        (4, 5, 0),
    ] {
        send_message(
            &mut inputs,
            msgc::inputs::MOUSE_POSITION,
            &position(x, y, display),
        );
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while positions.lock().unwrap().len() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        *positions.lock().unwrap(),
        [(0, 15, 5), (0, 3, 11), (0, 4, 5)],
        "clamped to the 16x12 display, display 7 dropped"
    );
}

#[test]
fn failed_tickets_are_rate_limited_per_source_address() {
    use redspice::server::auth_throttle::{BURST, REFILL_INTERVAL};

    let server = server_with_password();
    let attempt = |source: [u8; 4], secret: &[u8]| {
        let (mut s, reply) = link_mess_from(server.port, source);
        assert_eq!(reply.error, link_err::OK);
        let ticket = encrypt_ticket(&reply.pub_key, secret);
        link_result(&mut s, &ticket, &[])
    };
    let guesser = [127, 0, 0, 2];
    for _ in 0..BURST {
        assert_eq!(attempt(guesser, b"guess\0"), link_err::PERMISSION_DENIED);
    }
    // Now even the right ticket is refused from there, unevaluated...
    assert_eq!(attempt(guesser, &secret()), link_err::PERMISSION_DENIED);
    // ...while another address links at once.
    assert_eq!(attempt([127, 0, 0, 3], &secret()), link_err::OK);
    // The guesser earns one attempt per interval.
    std::thread::sleep(REFILL_INTERVAL + Duration::from_millis(200));
    assert_eq!(attempt(guesser, &secret()), link_err::OK);
}

#[test]
fn migrate_data_is_refused_on_every_channel() {
    // redspice never migrates: a MIGRATE_DATA body is a message too large
    // for any channel, and the connection ends at its header, before a
    // byte of the body is buffered.
    let server = ServerThread::start(
        |server| {
            server.add_display(16, 16).unwrap();
            Box::new(|| {})
        },
        Duration::from_millis(50),
    );
    let mut main = common::link(server.port, 0, channel::MAIN, 0, Caps::new());
    let (_, body) = read_message(&mut main);
    let session_id = u32::from_le_bytes(body[..4].try_into().unwrap());
    for channel_type in [
        channel::INPUTS,
        channel::DISPLAY,
        channel::CURSOR,
        channel::MAIN,
    ] {
        let mut s = if channel_type == channel::MAIN {
            main.try_clone().unwrap()
        } else {
            common::link(server.port, session_id, channel_type, 0, Caps::new())
        };
        // A 16 MiB MIGRATE_DATA header and its first bytes.
        let mut out = msgc::common::MIGRATE_DATA.to_le_bytes().to_vec();
        out.extend_from_slice(&(16u32 << 20).to_le_bytes());
        out.extend_from_slice(&[0u8; 4096]);
        let _ = s.write_all(&out);
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut sink = [0u8; 65536];
        let closed = loop {
            match std::io::Read::read(&mut s, &mut sink) {
                Ok(0) => break true,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
                Err(e) => panic!("channel {channel_type} still open after MIGRATE_DATA: {e}"),
            }
        };
        assert!(closed);
    }
}

// -- SASL (auth = sasl) --

/// A server with SASL. The application name has no configuration file, so
/// libsasl2's defaults offer what the installed plugins can (DIGEST-MD5
/// for a link without TLS); no user can log in, which these tests never
/// get to.
fn server_with_sasl() -> ServerThread {
    ServerThread::start(
        |server| {
            server.add_display(16, 16).unwrap();
            server.set_property("auth", redspice::AuthMode::Sasl);
            server.set_property("sasl-app-name", "redspice-hostile-test");
            Box::new(|| {})
        },
        Duration::from_millis(50),
    )
}

/// Links a main channel, chooses SASL and reads the mechanism list.
fn sasl_begin(port: u16) -> (TcpStream, String) {
    let (mut s, reply) = link_mess_with(port, [127, 0, 0, 1], cap::common::AUTH_SASL);
    assert_eq!(reply.error, link_err::OK);
    assert!(reply.common_caps.has(cap::common::AUTH_SASL));
    assert!(!reply.common_caps.has(cap::common::AUTH_SPICE));
    s.write_all(&2u32.to_le_bytes()).unwrap(); // AUTH_SASL
    let len = u32::from_le_bytes(read_exact(&mut s, 4).try_into().unwrap());
    assert!(
        len as usize <= sasl::MAX_MECHLIST_LEN,
        "mechlist of {len} bytes"
    );
    let list = String::from_utf8(read_exact(&mut s, len as usize)).unwrap();
    assert!(list.starts_with(',') && list.ends_with(','), "{list:?}");
    (s, list)
}

/// Reads until the server closes; the bytes it sent before closing.
fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return all,
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return all,
            Err(e) => panic!("the server kept the connection open: {e}"),
        }
    }
}

/// The link error message spice-server sends (a SpiceLinkReply).
fn assert_link_error(bytes: &[u8], code: u32) {
    let header = LinkHeader::parse(bytes).unwrap_or_else(|e| panic!("{e}: {bytes:?}"));
    let reply = LinkReply::parse(&bytes[16..16 + header.size as usize]).unwrap();
    assert_eq!(reply.error, code);
}

/// The server survived: a fresh link still gets its mechanism list.
fn assert_still_serving(port: u16) {
    let (_s, list) = sasl_begin(port);
    assert!(list.len() > 2);
}

#[test]
fn malformed_sasl_mechanism_names_are_refused_cleanly() {
    let server = server_with_sasl();
    let (_, list) = sasl_begin(server.port);
    let offered = list
        .trim_matches(',')
        .split(',')
        .next()
        .unwrap()
        .to_string();
    // Lengths outside 1..=100: closed without a word, as spice-server.
    for len in [0u32, 101, 1 << 20, u32::MAX] {
        let (mut s, _) = sasl_begin(server.port);
        let mut bytes = len.to_le_bytes().to_vec();
        bytes.extend_from_slice(&[b'A'; 64]);
        s.write_all(&bytes).unwrap();
        assert_eq!(read_to_close(&mut s), b"", "mechname length {len}");
    }
    // Names not on offer or not SASL names: link error INVALID_DATA.
    let with_comma = format!("{offered},PLAIN");
    let lower = offered.to_lowercase();
    for name in ["NOPE", "PLAIN", "ANONYMOUS", &with_comma, &lower, "A\0B"] {
        let (mut s, _) = sasl_begin(server.port);
        s.write_all(&sasl::encode_client_messages(name, &[]))
            .unwrap();
        assert_link_error(&read_to_close(&mut s), link_err::INVALID_DATA);
    }
    assert_still_serving(server.port);
}

#[test]
fn oversized_or_garbage_sasl_data_is_refused_cleanly() {
    let server = server_with_sasl();
    let (_, list) = sasl_begin(server.port);
    assert!(list.contains(",DIGEST-MD5,"), "{list:?}");
    let mech = sasl::encode_client_messages("DIGEST-MD5", &[]);

    // Oversized start data: link error INVALID_DATA before any of it is
    // read (the length alone decides).
    for len in [sasl::MAX_DATA_LEN + 1, u32::MAX] {
        let (mut s, _) = sasl_begin(server.port);
        let mut bytes = mech.clone();
        bytes.extend_from_slice(&len.to_le_bytes());
        bytes.extend_from_slice(&[b'x'; 100]);
        s.write_all(&bytes).unwrap();
        assert_link_error(&read_to_close(&mut s), link_err::INVALID_DATA);
    }

    // DIGEST-MD5 starts with a server challenge; then oversized step data
    // or a garbage response close the link.
    let challenge = |s: &mut TcpStream| {
        let mut bytes = mech.clone();
        bytes.extend_from_slice(&0u32.to_le_bytes());
        s.write_all(&bytes).unwrap();
        let len = u32::from_le_bytes(read_exact(s, 4).try_into().unwrap());
        assert!(len > 1 && len <= sasl::MAX_DATA_LEN);
        let data = read_exact(s, len as usize);
        assert!(String::from_utf8_lossy(&data).contains("nonce="));
        assert_eq!(read_exact(s, 1), [0], "complete after the challenge");
    };
    let (mut s, _) = sasl_begin(server.port);
    challenge(&mut s);
    s.write_all(&(sasl::MAX_DATA_LEN + 1).to_le_bytes())
        .unwrap();
    assert_eq!(read_to_close(&mut s), b"");

    for garbage in [
        &b"username=\"nobody\""[..],
        b"\xff\xfe\x00garbage",
        &[b','; 5000],
    ] {
        let (mut s, _) = sasl_begin(server.port);
        challenge(&mut s);
        s.write_all(&sasl::encode_client_messages("X", &[Some(garbage)])[5..])
            .unwrap();
        assert_eq!(read_to_close(&mut s), b"", "garbage {garbage:?}");
    }

    // Random bytes after choosing SASL, and a connection dropped half way.
    let (mut s, _) = sasl_begin(server.port);
    s.write_all(&[0x5a; 3000]).unwrap();
    let _ = read_to_close(&mut s);
    let (mut s, _) = sasl_begin(server.port);
    s.write_all(&mech[..6]).unwrap();
    drop(s);

    assert_still_serving(server.port);
}

#[test]
fn a_ticket_is_refused_when_sasl_is_required() {
    let server = server_with_sasl();
    let (mut s, reply) = link_mess(server.port);
    assert!(reply.common_caps.has(cap::common::AUTH_SASL));
    let ticket = encrypt_ticket(&reply.pub_key, b"anything\0");
    let mut bytes = 1u32.to_le_bytes().to_vec(); // AUTH_SPICE
    bytes.extend_from_slice(&ticket);
    s.write_all(&bytes).unwrap();
    assert_link_error(&read_to_close(&mut s), link_err::INVALID_DATA);
    assert_still_serving(server.port);
}
