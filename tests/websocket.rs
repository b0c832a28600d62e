//! WebSocket on the plain port: a client that opens it with an HTTP
//! upgrade (as spice-html5 does) speaks SPICE inside binary frames; a
//! request that is no upgrade gets 400 and the connection closes. Hostile
//! WebSocket input (oversized frames, bad masks, a handshake that never
//! ends, a flood of half-open upgrades) closes that connection only, and
//! leaves neither descriptors nor memory behind.

mod common;

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{link, link_over, read_message, send_message, ServerThread};
use redspice::protocol::constants::{channel, msg, msgc};
use redspice::protocol::Caps;

/// One test at a time: the flood test counts this process's descriptors
/// and memory, which the others' servers and sockets would disturb.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn server() -> ServerThread {
    ServerThread::start(
        |server| {
            server.add_display(16, 16).unwrap();
            Box::new(|| {})
        },
        Duration::from_millis(50),
    )
}

/// A browser's side of a WebSocket: masked frames out, frames in.
struct Browser {
    tcp: TcpStream,
    pending: Vec<u8>,
}

impl Browser {
    fn open(port: u16) -> (Browser, String) {
        let mut tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        tcp.write_all(
            b"GET /websockify HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
              Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
              Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: binary\r\n\r\n",
        )
        .unwrap();
        let mut response = Vec::new();
        while !response.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8];
            tcp.read_exact(&mut byte).unwrap();
            response.push(byte[0]);
        }
        let browser = Browser {
            tcp,
            pending: Vec::new(),
        };
        (browser, String::from_utf8(response).unwrap())
    }

    fn frame(&mut self, op: u8, payload: &[u8]) -> io::Result<()> {
        let mask = [0x37u8, 0xfa, 0x21, 0x3d];
        let mut out = vec![0x80 | op];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
        self.tcp.write_all(&out)
    }
}

impl Read for Browser {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pending.is_empty() {
            let mut head = [0u8; 2];
            self.tcp.read_exact(&mut head)?;
            assert_eq!(head[1] & 0x80, 0, "server frames are not masked");
            let len = match head[1] & 0x7f {
                126 => {
                    let mut b = [0u8; 2];
                    self.tcp.read_exact(&mut b)?;
                    u16::from_be_bytes(b) as usize
                }
                127 => {
                    let mut b = [0u8; 8];
                    self.tcp.read_exact(&mut b)?;
                    u64::from_be_bytes(b) as usize
                }
                n => n as usize,
            };
            let mut payload = vec![0u8; len];
            self.tcp.read_exact(&mut payload)?;
            match head[0] & 0x0f {
                2 => self.pending = payload,
                8 => return Ok(0),
                other => panic!("unexpected opcode {other}"),
            }
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }
}

impl Write for Browser {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.frame(2, buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_browser_links_and_works_through_websocket_frames() {
    let _one = one_at_a_time();
    let server = server();
    let (mut browser, response) = Browser::open(server.port);
    assert!(response.starts_with("HTTP/1.1 101 "), "{response}");
    assert!(response.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    assert!(response.contains("Sec-WebSocket-Protocol: binary\r\n"));
    assert_eq!(link_over(&mut browser, 0, channel::MAIN, 0, Caps::new()), 0);
    let (msg_type, _) = read_message(&mut browser);
    assert_eq!(msg_type, msg::main::INIT);
    // A ping in between is answered and the stream goes on.
    browser.frame(9, b"are you there").unwrap();
    send_message(&mut browser, msgc::main::ATTACH_CHANNELS, &[]);
    let mut seen = Vec::new();
    loop {
        let mut head = [0u8; 2];
        browser.tcp.read_exact(&mut head).unwrap();
        // 126 and 127: a 16- or 64-bit length follows (the main channel's
        // network test at connect sends a 250 KiB PING).
        let len = match head[1] & 0x7f {
            126 => {
                let mut ext = [0u8; 2];
                browser.tcp.read_exact(&mut ext).unwrap();
                u64::from(u16::from_be_bytes(ext))
            }
            127 => {
                let mut ext = [0u8; 8];
                browser.tcp.read_exact(&mut ext).unwrap();
                u64::from_be_bytes(ext)
            }
            n => u64::from(n),
        };
        let mut payload = vec![0u8; len as usize];
        browser.tcp.read_exact(&mut payload).unwrap();
        seen.push(head[0] & 0x0f);
        if head[0] & 0x0f == 10 {
            assert_eq!(payload, b"are you there");
            break;
        }
        assert!(seen.len() < 10, "no pong among {seen:?}");
    }
}

#[test]
fn a_request_that_is_no_upgrade_gets_400() {
    let _one = one_at_a_time();
    let server = server();
    let mut tcp = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
}

#[test]
fn an_unmasked_frame_closes_the_connection() {
    let _one = one_at_a_time();
    let server = server();
    let (mut browser, _) = Browser::open(server.port);
    browser
        .tcp
        .write_all(&[0x82, 0x04, b'R', b'E', b'D', b'Q'])
        .unwrap();
    let mut rest = Vec::new();
    let _ = browser.tcp.read_to_end(&mut rest);
    // Closed without a link reply (perhaps with a close frame).
    assert!(rest.len() <= 2, "{rest:?}");
}

/// Reads until the server closes; what it sent before. Fails if it stays
/// open past the read timeout.
fn read_until_closed(tcp: &mut TcpStream) -> Vec<u8> {
    let mut rest = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tcp.read(&mut buf) {
            Ok(0) => return rest,
            Ok(n) => rest.extend_from_slice(&buf[..n]),
            // Closed with unread input: a reset.
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return rest,
            Err(e) => panic!("the server kept the connection open: {e}"),
        }
    }
}

/// A browser linked on the main channel: INIT read.
fn linked_browser(port: u16) -> Browser {
    let (mut browser, response) = Browser::open(port);
    assert!(response.starts_with("HTTP/1.1 101 "), "{response}");
    assert_eq!(link_over(&mut browser, 0, channel::MAIN, 0, Caps::new()), 0);
    let (msg_type, _) = read_message(&mut browser);
    assert_eq!(msg_type, msg::main::INIT);
    browser
}

/// A linked main channel still answers: ATTACH_CHANNELS gets CHANNELS_LIST.
fn still_served<S: Read + Write>(s: &mut S) {
    send_message(s, msgc::main::ATTACH_CHANNELS, &[]);
    for _ in 0..20 {
        if read_message(s).0 == msg::main::CHANNELS_LIST {
            return;
        }
    }
    panic!("no CHANNELS_LIST");
}

#[test]
fn an_oversized_frame_closes_that_connection_and_the_others_go_on() {
    let _one = one_at_a_time();
    let server = server();
    let mut bystander = linked_browser(server.port);
    // Before the link and after it: a frame longer than the server takes
    // (its length alone; the payload never comes).
    let (mut early, _) = Browser::open(server.port);
    let mut late = linked_browser(server.port);
    for browser in [&mut early, &mut late] {
        let mut head = vec![0x82, 0x80 | 127];
        let too_long = redspice::protocol::websocket::MAX_FRAME_PAYLOAD + 1;
        head.extend_from_slice(&too_long.to_be_bytes());
        head.extend_from_slice(&[1, 2, 3, 4]);
        browser.tcp.write_all(&head).unwrap();
        let rest = read_until_closed(&mut browser.tcp);
        // Perhaps SPICE messages sent before, never more than that: the
        // main channel's first messages and its network test's PINGs (a
        // 250 KiB one among them).
        assert!(rest.len() < 256 * 1024 + 8192, "{} bytes", rest.len());
    }
    still_served(&mut bystander);
}

#[test]
fn bad_masks_and_reserved_bits_close_the_connection() {
    let _one = one_at_a_time();
    let server = server();
    let mut bystander = linked_browser(server.port);
    // Unmasked after the link; reserved bits set; a fragmented ping.
    let bad: [&[u8]; 3] = [
        &[0x82, 0x04, b'R', b'E', b'D', b'Q'],
        &[0xc2, 0x84, 1, 2, 3, 4, 0, 0, 0, 0],
        &[0x09, 0x80, 1, 2, 3, 4],
    ];
    for frame in bad {
        let mut browser = linked_browser(server.port);
        browser.tcp.write_all(frame).unwrap();
        read_until_closed(&mut browser.tcp);
    }
    still_served(&mut bystander);
}

#[test]
fn a_handshake_that_never_ends_is_closed() {
    let _one = one_at_a_time();
    let server = server();
    // Header lines for ever: refused once longer than any real request.
    let mut endless = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    endless
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    endless.write_all(b"GET /websockify HTTP/1.1\r\n").unwrap();
    let line = format!("X-Padding: {}\r\n", "a".repeat(100));
    let mut sent = 0;
    while sent <= 2 * redspice::protocol::websocket::MAX_REQUEST {
        if endless.write_all(line.as_bytes()).is_err() {
            break; // closed already
        }
        sent += line.len();
    }
    let answer = read_until_closed(&mut endless);
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1.1 400 "),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    // A request that stops halfway, and an upgrade after which no SPICE
    // comes: both closed by the link stage's timeout.
    let mut stalled = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stalled
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    stalled
        .write_all(b"GET /websockify HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgr")
        .unwrap();
    let (mut silent, _) = Browser::open(server.port);
    silent
        .tcp
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    assert!(read_until_closed(&mut stalled).is_empty());
    let rest = read_until_closed(&mut silent.tcp);
    assert!(rest.len() <= 2, "{rest:?}");
}

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Opens `count` upgrades that stop at every stage before a link: half a
/// request, a whole one, an upgrade with half a SPICE link header.
fn half_open_upgrades(port: u16, count: usize) -> Vec<TcpStream> {
    let request = b"GET /websockify HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n";
    let half_link = [0x82, 0x84, 0, 0, 0, 0, b'R', b'E', b'D', b'Q'];
    (0..count)
        .map(|i| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            // The server may have closed it already to make room: fine.
            let _ = match i % 3 {
                0 => s.write_all(&request[..request.len() / 2]),
                1 => s.write_all(request),
                _ => s.write_all(request).and_then(|_| s.write_all(&half_link)),
            };
            s
        })
        .collect()
}

#[test]
fn a_thousand_half_open_upgrades_leave_links_served_and_memory_flat() {
    let _one = one_at_a_time();
    let server = server();
    let count: usize = std::env::var("REDSPICE_FLOOD_UPGRADES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let rounds = 4;
    let mut bystander = linked_browser(server.port);
    let fds_before = open_descriptors();
    let mut rss = Vec::new();
    for round in 0..rounds {
        let held = half_open_upgrades(server.port, count);
        // Real clients, from the same address as the flood, link while
        // it is held: a browser and a plain SPICE client.
        let started = Instant::now();
        let mut browser = linked_browser(server.port);
        let mut plain = link(server.port, 0, channel::MAIN, 0, Caps::new());
        assert_eq!(read_message(&mut plain).0, msg::main::INIT);
        let linked_in = started.elapsed();
        still_served(&mut bystander);
        still_served(&mut browser);
        drop((held, browser, plain));
        // Every connection's descriptor goes again (the server closes
        // its side once it sees the other gone).
        let deadline = Instant::now() + Duration::from_secs(60);
        while open_descriptors() > fds_before {
            assert!(
                Instant::now() < deadline,
                "{} descriptors open, {fds_before} before {count} half-open upgrades",
                open_descriptors()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        rss.push(rss_kib());
        // Figures, not assertions: these machines are noisy.
        println!(
            "round {round}: linked in {linked_in:?} beside {count} half-open upgrades; \
             VmRSS {} KiB",
            rss[round]
        );
    }
    // The first round settles the allocator; after it, flat. A connection
    // that kept its request buffer (up to 8 KiB) would add megabytes a round.
    let grown = rss[rounds - 1].saturating_sub(rss[1]);
    assert!(
        grown <= 4096,
        "VmRSS grew by {grown} KiB over rounds: {rss:?}"
    );
    still_served(&mut bystander);
}
