//! A client whose session the server ends is told why before its channels
//! close: NOTIFY with the reason, then DISCONNECTING.

mod common;

use std::io::Read;
use std::time::Duration;

use common::{read_message, ServerThread};
use redspice::protocol::constants::{channel, msg};
use redspice::protocol::Caps;

#[test]
fn a_client_the_server_disconnects_hears_why() {
    let server = ServerThread::start(
        |server| {
            server.add_display(16, 16).unwrap();
            let server = server.clone();
            // red_client_disconnect() on every client, as an application
            // that kicks a user would call it.
            Box::new(move || {
                for client in server.clients() {
                    client.disconnect();
                }
            })
        },
        Duration::from_millis(20),
    );
    let mut main = common::link(server.port, 0, channel::MAIN, 0, Caps::new());
    let (msg_type, _) = read_message(&mut main);
    assert_eq!(msg_type, msg::main::INIT);
    let mut seen = Vec::new();
    loop {
        let (msg_type, body) = read_message(&mut main);
        seen.push(msg_type);
        if msg_type == msg::common::NOTIFY {
            // time stamp, severity, visibility, what, length, text, NUL
            let len = u32::from_le_bytes(body[20..24].try_into().unwrap()) as usize;
            let text = std::str::from_utf8(&body[24..24 + len]).unwrap();
            assert_eq!(text, "The server ended this session");
        }
        if msg_type == msg::common::DISCONNECTING {
            break;
        }
        assert!(seen.len() < 50, "no DISCONNECTING among {seen:?}");
    }
    assert!(
        seen.contains(&msg::common::NOTIFY),
        "no NOTIFY among {seen:?}"
    );
    let mut rest = Vec::new();
    main.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = main.read_to_end(&mut rest);
    assert!(rest.is_empty(), "bytes after DISCONNECTING: {rest:?}");
}
