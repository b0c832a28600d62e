//! WebSocket on the plain port: a client that opens it with an HTTP
//! upgrade (as spice-html5 does) speaks SPICE inside binary frames; a
//! request that is no upgrade gets 400 and the connection closes.

mod common;

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{link_over, read_message, send_message, ServerThread};
use redspice::protocol::constants::{channel, msg, msgc};
use redspice::protocol::Caps;

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
        let mut payload = vec![0u8; (head[1] & 0x7f) as usize];
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
