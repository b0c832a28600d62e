//! Connect/disconnect churn against a running server, with a minimal SPICE
//! client of the test's own built from `redspice::protocol`: whole
//! sessions, clients that vanish mid-link and mid-frame, two displays.
//! Meant to run under valgrind too (`tools/test` does, with few cycles):
//! `REDSPICE_CHURN_CYCLES` sets the count.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{link, read_message, send_message, ServerThread};
use redspice::protocol::constants::{channel, msg, msgc};
use redspice::protocol::Caps;

/// A whole session: main, inputs, both displays' display and cursor
/// channels; the display channel reads up to its first MARK.
fn session(port: u16, leave_mid_frame: bool) {
    let mut main = link(port, 0, channel::MAIN, 0, Caps::new());
    let (msg_type, body) = read_message(&mut main);
    assert_eq!(msg_type, msg::main::INIT);
    let session_id = u32::from_le_bytes(body[..4].try_into().unwrap());
    send_message(&mut main, msgc::main::ATTACH_CHANNELS, &[]);
    let _inputs = link(port, session_id, channel::INPUTS, 0, Caps::new());
    let mut others = Vec::new();
    for id in 0..2 {
        let mut display = link(port, session_id, channel::DISPLAY, id, Caps::new());
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
        others.push(link(port, session_id, channel::CURSOR, id, Caps::new()));
    }
}

#[test]
fn churn_leaves_nothing_behind() {
    let cycles: usize = std::env::var("REDSPICE_CHURN_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let server = ServerThread::start(
        |server| {
            let a = server.add_display(64, 48).unwrap();
            server.add_display(32, 32).unwrap();
            // Keep drawing, so clients leave in the middle of frames.
            let pixels = glib::Bytes::from_owned(vec![0x5au8; 64 * 48 * 4]);
            Box::new(move || a.draw(0, 0, 64, 48, &pixels, 256).unwrap())
        },
        Duration::from_millis(5),
    );
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
        .any(|n| redspice::base::live_objects::count(n) != Some(0))
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
        assert_eq!(redspice::base::live_objects::count(name), Some(0), "{name}");
    }
    eprintln!("{cycles} cycles in {:?}", started.elapsed());
}
