//! A minimal SPICE client of the tests' own, built from
//! `redspice::protocol`, and a server running on its own thread.

#![allow(dead_code)]

use std::io::{Read, Write};

use glib::prelude::*;
use std::net::TcpStream;
use std::time::Duration;

use redspice::protocol::constants::cap;
use redspice::protocol::link::{LinkHeader, LinkMess, LinkReply};
use redspice::protocol::{Caps, HeaderKind};

/// Runs a server on its own thread and main context.
pub struct ServerThread {
    pub port: u16,
    /// The TLS port, when the server has one.
    pub tls_port: Option<u16>,
    stop: Option<glib::MainLoop>,
    released: std::sync::mpsc::Sender<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServerThread {
    /// `setup` configures the server (on its thread) and returns what to do
    /// every `period` while it runs.
    pub fn start<F>(setup: F, period: Duration) -> ServerThread
    where
        F: FnOnce(&redspice::Server) -> Box<dyn FnMut() + Send> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::channel();
        let (released, wait_released) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let context = glib::MainContext::new();
            context
                .with_thread_default(|| {
                    let server: redspice::Server = glib::Object::builder()
                        .property("main-context", &context)
                        .build();
                    let mut tick = setup(&server);
                    server.start().unwrap();
                    let main_loop = glib::MainLoop::new(Some(&context), false);
                    // On this thread's context (g_timeout_add would use the
                    // global default one).
                    let drawing = glib::timeout_source_new(
                        period,
                        None,
                        glib::Priority::DEFAULT,
                        move || {
                            tick();
                            glib::ControlFlow::Continue
                        },
                    );
                    drawing.attach(Some(&context));
                    let tls_port = u16::try_from(server.property::<i32>("tls-port")).ok();
                    tx.send((server.port() as u16, tls_port, main_loop.clone()))
                        .unwrap();
                    main_loop.run();
                    drawing.destroy();
                    // The context must end on this thread: wait until the
                    // test has let go of its main loop.
                    let _ = wait_released.recv();
                    server.stop();
                    drop((server, main_loop));
                })
                .unwrap();
        });
        let (port, tls_port, stop) = rx.recv().unwrap();
        ServerThread {
            port,
            tls_port,
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

pub fn read_exact<S: Read>(s: &mut S, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    s.read_exact(&mut buf)
        .expect("server closed the connection");
    buf
}

/// Links one channel; returns the socket after a successful link result.
pub fn link(
    port: u16,
    connection_id: u32,
    channel_type: u8,
    channel_id: u8,
    channel_caps: Caps,
) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let result = link_over(
        &mut s,
        connection_id,
        channel_type,
        channel_id,
        channel_caps,
    );
    assert_eq!(result, 0, "link refused");
    s
}

/// The link stage over any byte stream (TCP, TLS, WebSocket): the link
/// reply's error if it refused, else the link result (0: linked).
pub fn link_over<S: Read + Write>(
    s: &mut S,
    connection_id: u32,
    channel_type: u8,
    channel_id: u8,
    channel_caps: Caps,
) -> u32 {
    let mess = LinkMess {
        connection_id,
        channel_type,
        channel_id,
        common_caps: Caps::with(&[
            cap::common::PROTOCOL_AUTH_SELECTION,
            cap::common::AUTH_SPICE,
            cap::common::MINI_HEADER,
        ]),
        channel_caps,
    };
    s.write_all(&mess.encode_with_header().unwrap()).unwrap();
    let header = LinkHeader::parse(&read_exact(s, 16)).unwrap();
    let reply = LinkReply::parse(&read_exact(s, header.size as usize)).unwrap();
    if reply.error != 0 {
        return reply.error;
    }
    let ticket = encrypt_ticket(&reply.pub_key, b"\0");
    let mut bytes = 1u32.to_le_bytes().to_vec();
    bytes.extend_from_slice(&ticket);
    s.write_all(&bytes).unwrap();
    u32::from_le_bytes(read_exact(s, 4).try_into().unwrap())
}

/// What a client does with the link reply's key: RSA-OAEP (SHA-1).
pub fn encrypt_ticket(public_der: &[u8], secret: &[u8]) -> Vec<u8> {
    let key = openssl::rsa::Rsa::public_key_from_der(public_der).unwrap();
    let mut ticket = vec![0u8; key.size() as usize];
    let len = key
        .public_encrypt(secret, &mut ticket, openssl::rsa::Padding::PKCS1_OAEP)
        .unwrap();
    ticket.truncate(len);
    ticket
}

/// Reads one mini-header message: (type, body).
pub fn read_message<S: Read>(s: &mut S) -> (u16, Vec<u8>) {
    let header = HeaderKind::Mini.parse(&read_exact(s, 6)).unwrap();
    (header.msg_type, read_exact(s, header.size as usize))
}

pub fn send_message<S: Write>(s: &mut S, msg_type: u16, body: &[u8]) {
    let mut out = Vec::new();
    out.extend_from_slice(&msg_type.to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
    s.write_all(&out).unwrap();
}
