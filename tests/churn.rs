//! Connect/disconnect churn against a running server, with a minimal SPICE
//! client of the test's own built from `redspice::protocol`: whole
//! sessions, clients that vanish mid-link and mid-frame, two displays.
//! Meant to run under valgrind too (`tools/test` does, with few cycles):
//! `REDSPICE_CHURN_CYCLES` sets the count.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use redspice::protocol::constants::{cap, channel, msg, msgc};
use redspice::protocol::link::{LinkHeader, LinkMess, LinkReply};
use redspice::protocol::{Caps, HeaderKind};
use rsa::pkcs8::DecodePublicKey;

/// Runs a server on its own thread and main context.
struct ServerThread {
    port: u16,
    stop: Option<glib::MainLoop>,
    released: std::sync::mpsc::Sender<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServerThread {
    fn start() -> ServerThread {
        let (tx, rx) = std::sync::mpsc::channel();
        let (released, wait_released) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let context = glib::MainContext::new();
            context
                .with_thread_default(|| {
                    let server: redspice::Server = glib::Object::builder()
                        .property("main-context", &context)
                        .build();
                    let a = server.add_display(64, 48).unwrap();
                    let _b = server.add_display(32, 32).unwrap();
                    server.start().unwrap();
                    let main_loop = glib::MainLoop::new(Some(&context), false);
                    // Keep drawing, so clients leave in the middle of frames.
                    let pixels = glib::Bytes::from_owned(vec![0x5au8; 64 * 48 * 4]);
                    let drawn = a.clone();
                    let drawing = glib::timeout_add_local(Duration::from_millis(5), move || {
                        drawn.draw(0, 0, 64, 48, &pixels, 256).unwrap();
                        glib::ControlFlow::Continue
                    });
                    tx.send((server.port() as u16, main_loop.clone())).unwrap();
                    main_loop.run();
                    drawing.remove();
                    // The context must end on this thread: wait until the
                    // test has let go of its main loop.
                    let _ = wait_released.recv();
                    server.stop();
                    drop((a, server, main_loop));
                })
                .unwrap();
        });
        let (port, stop) = rx.recv().unwrap();
        ServerThread {
            port,
            stop: Some(stop),
            released,
            thread: Some(thread),
        }
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop.quit();
        }
        let _ = self.released.send(());
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

fn read_exact(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    s.read_exact(&mut buf)
        .expect("server closed the connection");
    buf
}

/// Links one channel; returns the socket after a successful link result.
fn link(port: u16, connection_id: u32, channel_type: u8, channel_id: u8) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mess = LinkMess {
        connection_id,
        channel_type,
        channel_id,
        common_caps: Caps::with(&[
            cap::common::PROTOCOL_AUTH_SELECTION,
            cap::common::AUTH_SPICE,
            cap::common::MINI_HEADER,
        ]),
        channel_caps: Caps::new(),
    };
    s.write_all(&mess.encode_with_header().unwrap()).unwrap();
    let header = LinkHeader::parse(&read_exact(&mut s, 16)).unwrap();
    let reply = LinkReply::parse(&read_exact(&mut s, header.size as usize)).unwrap();
    assert_eq!(reply.error, 0);
    let key = rsa::RsaPublicKey::from_public_key_der(&reply.pub_key).unwrap();
    let ticket = key
        .encrypt(
            &mut rand::thread_rng(),
            rsa::Oaep::new::<sha1::Sha1>(),
            b"\0",
        )
        .unwrap();
    s.write_all(&1u32.to_le_bytes()).unwrap();
    s.write_all(&ticket).unwrap();
    assert_eq!(read_exact(&mut s, 4), [0, 0, 0, 0], "link refused");
    s
}

/// Reads one mini-header message: (type, body).
fn read_message(s: &mut TcpStream) -> (u16, Vec<u8>) {
    let header = HeaderKind::Mini.parse(&read_exact(s, 6)).unwrap();
    (header.msg_type, read_exact(s, header.size as usize))
}

fn send_message(s: &mut TcpStream, msg_type: u16, body: &[u8]) {
    let mut out = Vec::new();
    out.extend_from_slice(&msg_type.to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
    s.write_all(&out).unwrap();
}

/// A whole session: main, inputs, both displays' display and cursor
/// channels; the display channel reads up to its first MARK.
fn session(port: u16, leave_mid_frame: bool) {
    let mut main = link(port, 0, channel::MAIN, 0);
    let (msg_type, body) = read_message(&mut main);
    assert_eq!(msg_type, msg::main::INIT);
    let session_id = u32::from_le_bytes(body[..4].try_into().unwrap());
    send_message(&mut main, msgc::main::ATTACH_CHANNELS, &[]);
    let _inputs = link(port, session_id, channel::INPUTS, 0);
    let mut others = Vec::new();
    for id in 0..2 {
        let mut display = link(port, session_id, channel::DISPLAY, id);
        if !leave_mid_frame {
            loop {
                let (msg_type, body) = read_message(&mut display);
                if msg_type == msg::common::SET_ACK {
                    send_message(&mut display, msgc::common::ACK_SYNC, &body[..4]);
                }
                if msg_type == msg::display::MARK {
                    break;
                }
            }
        }
        others.push(display);
        others.push(link(port, session_id, channel::CURSOR, id));
    }
}

#[test]
fn churn_leaves_nothing_behind() {
    let cycles: usize = std::env::var("REDSPICE_CHURN_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let server = ServerThread::start();
    let started = Instant::now();
    for i in 0..cycles {
        match i % 4 {
            // Vanish mid-link: half a link header.
            0 => {
                let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
                s.write_all(b"REDQ\x02\0\0\0").unwrap();
            }
            1 => session(server.port, true),
            _ => session(server.port, false),
        }
    }
    // Every object of every client goes once the server has seen the
    // disconnections.
    let names = [
        "RedClient",
        "RedMainChannelClient",
        "RedInputsChannelClient",
        "RedDisplayChannelClient",
        "RedCursorChannelClient",
    ];
    let deadline = Instant::now() + Duration::from_secs(60);
    while names
        .iter()
        .any(|n| redspice::live_objects::count(n) != Some(0))
    {
        assert!(
            Instant::now() < deadline,
            "clients left behind after {cycles} cycles"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(server);
    for name in [
        "RedServer",
        "RedDisplay",
        "RedWorker",
        "RedDisplayChannel",
        "RedMainChannel",
    ] {
        assert_eq!(redspice::live_objects::count(name), Some(0), "{name}");
    }
    eprintln!("{cycles} cycles in {:?}", started.elapsed());
}
