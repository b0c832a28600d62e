//! Stream frames carry multimedia-time stamps that spice-gtk shows at once:
//! never later than the server's clock plus one frame interval, unlike
//! spice-server's 400 ms into the client's future. Checked on the messages.

mod common;

use std::time::{Duration, Instant};

use glib::prelude::*;

use common::{link, read_message, send_message, ServerThread};
use redspice::protocol::constants::{cap, channel, msg, msgc};
use redspice::protocol::Caps;

const FRAME_INTERVAL_MS: i64 = 33;

#[test]
fn stream_frames_are_stamped_with_the_servers_multimedia_time() {
    let server = ServerThread::start(
        |server| {
            server.set_property("stream-start-frames", 3u32);
            server.set_property("video-codecs", "gstreamer:mjpeg");
            let display = server.add_display(320, 240).unwrap();
            let mut n = 0u8;
            Box::new(move || {
                n = n.wrapping_add(17);
                let pixels = glib::Bytes::from_owned(vec![n; 256 * 192 * 4]);
                display.draw(32, 24, 256, 192, &pixels, 256 * 4).unwrap();
            })
        },
        Duration::from_millis(FRAME_INTERVAL_MS as u64),
    );
    let mut main = link(server.port, 0, channel::MAIN, 0, Caps::new());
    let (msg_type, body) = read_message(&mut main);
    let init_received = Instant::now();
    assert_eq!(msg_type, msg::main::INIT);
    let session_id = u32::from_le_bytes(body[..4].try_into().unwrap());
    // MAIN_INIT's multi_media_time sets the client's clock.
    let mm_at_init = i64::from(u32::from_le_bytes(body[24..28].try_into().unwrap()));
    send_message(&mut main, msgc::main::ATTACH_CHANNELS, &[]);
    let display_caps = Caps::with(&[cap::display::MULTI_CODEC, cap::display::CODEC_MJPEG]);
    let mut display = link(server.port, session_id, channel::DISPLAY, 0, display_caps);
    let mut stamps = 0;
    while stamps < 20 {
        let (msg_type, body) = read_message(&mut display);
        match msg_type {
            msg::common::SET_ACK => send_message(&mut display, msgc::common::ACK_SYNC, &body[..4]),
            msg::display::STREAM_DATA => {
                let stamp = i64::from(u32::from_le_bytes(body[4..8].try_into().unwrap()));
                // The server's clock now, as the client knows it.
                let server_now = mm_at_init + init_received.elapsed().as_millis() as i64;
                assert!(
                    stamp <= server_now + FRAME_INTERVAL_MS,
                    "frame stamped {} ms into the future",
                    stamp - server_now
                );
                assert!(
                    stamp >= server_now - 1000,
                    "frame stamped {} ms late",
                    server_now - stamp
                );
                stamps += 1;
            }
            _ => {}
        }
        // Acknowledge as spice-gtk does, so flow control never stalls us.
        if stamps % 10 == 0 {
            send_message(&mut display, msgc::common::ACK, &[]);
        }
    }
}
