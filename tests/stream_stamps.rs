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

/// Frames of noise, so a lower bitrate shows in smaller frames.
fn noise_frames() -> Vec<glib::Bytes> {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    (0..4)
        .map(|_| {
            let bytes: Vec<u8> = (0..256 * 192 * 4)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    (seed >> 24) as u8
                })
                .collect();
            glib::Bytes::from_owned(bytes)
        })
        .collect()
}

#[test]
fn stream_reports_with_dropped_frames_lower_the_bitrate() {
    let server = ServerThread::start(
        |server| {
            server.set_property("stream-start-frames", 3u32);
            server.set_property("video-codecs", "gstreamer:mjpeg");
            let display = server.add_display(320, 240).unwrap();
            let frames = noise_frames();
            let mut n = 0;
            Box::new(move || {
                n += 1;
                let frame = &frames[n % frames.len()];
                display.draw(32, 24, 256, 192, frame, 256 * 4).unwrap();
            })
        },
        Duration::from_millis(FRAME_INTERVAL_MS as u64),
    );
    let mut main = link(server.port, 0, channel::MAIN, 0, Caps::new());
    let (_, body) = read_message(&mut main);
    let session_id = u32::from_le_bytes(body[..4].try_into().unwrap());
    send_message(&mut main, msgc::main::ATTACH_CHANNELS, &[]);
    let caps = Caps::with(&[
        cap::display::MULTI_CODEC,
        cap::display::CODEC_MJPEG,
        cap::display::STREAM_REPORT,
    ]);
    let mut display = link(server.port, session_id, channel::DISPLAY, 0, caps);
    let mut activated = None;
    let mut sizes = Vec::new();
    let mut received = 0;
    while sizes.len() < 60 {
        let (msg_type, body) = read_message(&mut display);
        received += 1;
        if received % 10 == 0 {
            send_message(&mut display, msgc::common::ACK, &[]);
        }
        match msg_type {
            msg::common::SET_ACK => send_message(&mut display, msgc::common::ACK_SYNC, &body[..4]),
            msg::display::STREAM_ACTIVATE_REPORT => {
                activated = Some(u32::from_le_bytes(body[..4].try_into().unwrap()))
            }
            msg::display::STREAM_DATA => {
                sizes.push(body.len());
                // After the first ten frames, report heavy drops every 5.
                if let (Some(id), true) = (activated, sizes.len() > 10 && sizes.len() % 5 == 0) {
                    let mut report = Vec::new();
                    for v in [id, id, 0, 0, 5, 3] {
                        report.extend_from_slice(&v.to_le_bytes());
                    }
                    report.extend_from_slice(&(-500i32).to_le_bytes());
                    report.extend_from_slice(&u32::MAX.to_le_bytes());
                    send_message(&mut display, msgc::display::STREAM_REPORT, &report);
                }
            }
            _ => {}
        }
    }
    assert!(
        activated.is_some(),
        "the server never activated stream reports"
    );
    let first: usize = sizes[..10].iter().sum();
    let last: usize = sizes[50..].iter().sum();
    assert!(
        last * 2 < first,
        "frames did not shrink: first ten {first} bytes, last ten {last} bytes"
    );
}

/// Stream frame sizes seen by a client that answers PINGs `pong_delay`
/// late (a long round trip), over `frames` frames.
fn frame_sizes_with_round_trip(pong_delay: Duration, frames: usize) -> Vec<usize> {
    let server = ServerThread::start(
        |server| {
            server.set_property("stream-start-frames", 3u32);
            server.set_property("video-codecs", "gstreamer:mjpeg");
            let display = server.add_display(320, 240).unwrap();
            let noise = noise_frames();
            let mut n = 0;
            Box::new(move || {
                n += 1;
                display
                    .draw(32, 24, 256, 192, &noise[n % noise.len()], 256 * 4)
                    .unwrap();
            })
        },
        Duration::from_millis(FRAME_INTERVAL_MS as u64),
    );
    let mut main = link(server.port, 0, channel::MAIN, 0, Caps::new());
    let (_, body) = read_message(&mut main);
    let session_id = u32::from_le_bytes(body[..4].try_into().unwrap());
    send_message(&mut main, msgc::main::ATTACH_CHANNELS, &[]);
    let caps = Caps::with(&[cap::display::MULTI_CODEC, cap::display::CODEC_MJPEG]);
    let mut display = link(server.port, session_id, channel::DISPLAY, 0, caps);
    let mut pong: Option<(Instant, Vec<u8>)> = None;
    let mut sizes = Vec::new();
    let mut received = 0;
    while sizes.len() < frames {
        let (msg_type, body) = read_message(&mut display);
        received += 1;
        if received % 10 == 0 {
            send_message(&mut display, msgc::common::ACK, &[]);
        }
        match msg_type {
            msg::common::SET_ACK => send_message(&mut display, msgc::common::ACK_SYNC, &body[..4]),
            msg::common::PING => pong = Some((Instant::now() + pong_delay, body[..12].to_vec())),
            msg::display::STREAM_DATA => sizes.push(body.len()),
            _ => {}
        }
        if let Some((due, reply)) = pong.take() {
            if Instant::now() >= due {
                send_message(&mut display, msgc::common::PONG, &reply);
            } else {
                pong = Some((due, reply));
            }
        }
    }
    sizes
}

#[test]
fn a_long_round_trip_lowers_the_bitrate() {
    let average = |s: &[usize]| s.iter().sum::<usize>() / s.len();
    let quick = frame_sizes_with_round_trip(Duration::ZERO, 80);
    let slow = frame_sizes_with_round_trip(Duration::from_millis(400), 80);
    // A quick client keeps its quality; a slow one gets smaller frames.
    assert!(
        average(&quick[70..]) * 10 >= average(&quick[..10]) * 9,
        "{quick:?}"
    );
    assert!(
        average(&slow[70..]) * 10 < average(&slow[..10]) * 7,
        "{slow:?}"
    );
}
