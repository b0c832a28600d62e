//! Streams as a client of our own sees them on the wire: frames stamped
//! with the server's clock, which the client's runs behind by the playout
//! delay (at most 400 ms, spice-server's fixed one), and the bitrate
//! following reports and the link's measured bandwidth.

mod common;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use glib::prelude::*;

use common::{link, link_over, read_message, send_message, ServerThread};
use redspice::protocol::constants::{cap, channel, msg, msgc};
use redspice::protocol::Caps;

const FRAME_INTERVAL_MS: i64 = 33;

/// A server whose one display plays `frames` in a 256x192 rectangle at 30
/// fps; it streams it in MJPEG after 3 frames.
fn stream_server(frames: Vec<glib::Bytes>) -> ServerThread {
    ServerThread::start(
        move |server| {
            server.set_property("stream-start-frames", 3u32);
            server.set_property("video-codecs", "gstreamer:mjpeg");
            let display = server.add_display(320, 240).unwrap();
            let mut n = 0;
            Box::new(move || {
                n += 1;
                let frame = &frames[n % frames.len()];
                display.draw(32, 24, 256, 192, frame, 256 * 4).unwrap();
            })
        },
        Duration::from_millis(FRAME_INTERVAL_MS as u64),
    )
}

/// A session's display channel, acknowledging as spice-gtk does so flow
/// control never stalls it.
struct DisplaySession {
    _main: TcpStream,
    display: TcpStream,
    received: usize,
    /// MAIN_INIT's multi_media_time (which sets a client's clock) and when
    /// it arrived.
    mm_at_init: i64,
    init_received: Instant,
}

impl DisplaySession {
    fn open(port: u16, display_caps: &[u32]) -> DisplaySession {
        Self::open_with_window(port, display_caps, None)
    }

    /// With `receive_buffer` set, the display channel's socket gets that
    /// receive buffer before it connects (a small TCP window).
    fn open_with_window(
        port: u16,
        display_caps: &[u32],
        receive_buffer: Option<usize>,
    ) -> DisplaySession {
        let mut main = link(port, 0, channel::MAIN, 0, Caps::new());
        let (msg_type, body) = read_message(&mut main);
        let init_received = Instant::now();
        assert_eq!(msg_type, msg::main::INIT);
        let session_id = u32::from_le_bytes(body[..4].try_into().unwrap());
        let mm_at_init = i64::from(u32::from_le_bytes(body[24..28].try_into().unwrap()));
        send_message(&mut main, msgc::main::ATTACH_CHANNELS, &[]);
        let display = match receive_buffer {
            None => link(
                port,
                session_id,
                channel::DISPLAY,
                0,
                Caps::with(display_caps),
            ),
            Some(size) => {
                let socket =
                    socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                        .unwrap();
                socket.set_recv_buffer_size(size).unwrap();
                let address: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
                socket.connect(&address.into()).unwrap();
                let mut stream: TcpStream = socket.into();
                stream
                    .set_read_timeout(Some(Duration::from_secs(20)))
                    .unwrap();
                let result = link_over(
                    &mut stream,
                    session_id,
                    channel::DISPLAY,
                    0,
                    Caps::with(display_caps),
                );
                assert_eq!(result, 0, "link refused");
                stream
            }
        };
        DisplaySession {
            _main: main,
            display,
            received: 0,
            mm_at_init,
            init_received,
        }
    }

    /// The next display message (SET_ACK answered, ACK every 10).
    fn next(&mut self) -> (u16, Vec<u8>) {
        let (msg_type, body) = read_message(&mut self.display);
        self.received += 1;
        if self.received.is_multiple_of(10) {
            self.send(msgc::common::ACK, &[]);
        }
        if msg_type == msg::common::SET_ACK {
            self.send(msgc::common::ACK_SYNC, &body[..4]);
        }
        (msg_type, body)
    }

    fn send(&mut self, msg_type: u16, body: &[u8]) {
        send_message(&mut self.display, msg_type, body);
    }
}

const MJPEG: [u32; 2] = [cap::display::MULTI_CODEC, cap::display::CODEC_MJPEG];

#[test]
fn stream_frames_are_stamped_with_the_servers_multimedia_time() {
    let frames = (0..15u8)
        .map(|n| glib::Bytes::from_owned(vec![n.wrapping_mul(17); 256 * 192 * 4]))
        .collect();
    let server = stream_server(frames);
    let mut session = DisplaySession::open(server.port, &MJPEG);
    let mut stamps = 0;
    while stamps < 20 {
        let (msg_type, body) = session.next();
        if msg_type != msg::display::STREAM_DATA {
            continue;
        }
        let stamp = i64::from(u32::from_le_bytes(body[4..8].try_into().unwrap()));
        // The client's clock now (set by MAIN_INIT; this client reads no
        // later MULTI_MEDIA_TIME): frames are on time for it, and within
        // the largest playout delay of it.
        let client_now = session.mm_at_init + session.init_received.elapsed().as_millis() as i64;
        assert!(
            stamp >= client_now,
            "frame stamped {} ms late",
            client_now - stamp
        );
        assert!(
            stamp <= client_now + 400 + FRAME_INTERVAL_MS,
            "frame stamped {} ms into the future",
            stamp - client_now
        );
        stamps += 1;
    }
}

/// Frames of gradients with grain: JPEG sizes follow the quality over its
/// whole range, so a lower bitrate shows in smaller frames (pure noise would
/// sit at the lowest quality even at the default bitrate).
fn noise_frames() -> Vec<glib::Bytes> {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    (0..4usize)
        .map(|f| {
            let bytes: Vec<u8> = (0..256 * 192 * 4)
                .map(|i: usize| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let (x, y) = ((i / 4) % 256, (i / 4) / 256);
                    let base = (x * 2 + y + f * 8 + (i % 4) * 40) as i64 % 256;
                    (base + (seed >> 59) as i64 - 16).clamp(0, 255) as u8
                })
                .collect();
            glib::Bytes::from_owned(bytes)
        })
        .collect()
}

#[test]
fn stream_reports_with_dropped_frames_lower_the_bitrate() {
    let server = stream_server(noise_frames());
    let mut caps = MJPEG.to_vec();
    caps.push(cap::display::STREAM_REPORT);
    let mut session = DisplaySession::open(server.port, &caps);
    let mut activated = None;
    let mut sizes = Vec::new();
    while sizes.len() < 60 {
        let (msg_type, body) = session.next();
        match msg_type {
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
                    session.send(msgc::display::STREAM_REPORT, &report);
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

/// Stream frame sizes seen by a client that reads at most `rate` bytes per
/// second through a small TCP window (a slow link: the server's send queue
/// fills and drains at that rate), over `frames` frames.
fn frame_sizes_reading_at(rate: Option<f64>, frames: usize) -> Vec<usize> {
    let server = stream_server(noise_frames());
    let window = rate.map(|_| 16 << 10);
    let mut session = DisplaySession::open_with_window(server.port, &MJPEG, window);
    let started = Instant::now();
    let mut read = 0usize;
    let mut sizes = Vec::new();
    while sizes.len() < frames {
        let (msg_type, body) = session.next();
        read += body.len() + 6;
        if msg_type == msg::display::STREAM_DATA {
            sizes.push(body.len());
        }
        if let Some(rate) = rate {
            let due = started + Duration::from_secs_f64(read as f64 / rate);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
        }
    }
    sizes
}

#[test]
fn a_slow_link_lowers_the_bitrate() {
    let average = |s: &[usize]| s.iter().sum::<usize>() / s.len();
    // Long enough for the link estimate to settle on a loaded machine
    // (seen: about 90 frames, 6 s).
    let quick = frame_sizes_reading_at(None, 160);
    // 100 KB/s, below this stream's default bitrate (256x192 at 30 fps and
    // 1 bit per pixel: 184 KB/s).
    let slow = frame_sizes_reading_at(Some(100e3), 160);
    // MJPEG's rate control brings the quick client's frames of noise to
    // the default bitrate, and the slow client's down to a share of its
    // measured link, as far as MJPEG's lowest quality goes: noise does not
    // shrink far (seen: 5.2 to 6.3 against 7.0 KB), and when the link
    // estimate settles depends on the machine's load. Without the link's
    // cap the two clients' frames are the same size within 2 %, frame for
    // frame; a stretch of 20 slow frames 7 % smaller shows the cap.
    let quick_end = average(&quick[140..]);
    let best_slow = slow.windows(20).map(average).min().unwrap_or(usize::MAX);
    assert!(
        best_slow * 100 < quick_end * 93,
        "quick {quick:?}\nslow {slow:?}"
    );
}
