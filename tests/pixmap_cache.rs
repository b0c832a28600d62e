//! The pixmap cache as a client of our own sees it on the wire: images
//! repeated by the application come back as FROM_CACHE, the cache stays
//! within the size DISPLAY_INIT announced, and no FROM_CACHE ever names an
//! id the client lacks (spice-gtk would wait for it forever): not after
//! evictions, not on a new connection.

mod common;

use std::collections::{HashMap, HashSet};
use std::net::TcpStream;
use std::time::Duration;

use glib::prelude::*;

use common::{link, read_message, send_message, ServerThread};
use redspice::protocol::constants::{channel, image_flags, image_type, msg, msgc};
use redspice::protocol::Caps;
use redspice::{ImageCompression, StreamingVideo};

const SPRITE: u32 = 64;
const SPRITES: usize = 8;
/// The cache announced: room for five sprites, so cycling through eight
/// evicts all the time.
const CACHE_PIXELS: u64 = 5 * (SPRITE * SPRITE) as u64;

/// A server whose 320x240 display gets one of eight noisy 64x64 sprites
/// every 5 ms, in a scrambled order, at one of six places in turn.
fn sprite_server(compression: ImageCompression) -> ServerThread {
    ServerThread::start(
        move |server| {
            server.set_property("streaming-video", StreamingVideo::Off);
            server.set_property("image-compression", compression);
            let display = server.add_display(320, 240).unwrap();
            let sprites: Vec<glib::Bytes> = (0..SPRITES as u32)
                .map(|s| {
                    let mut state = 0x9e37_79b9u32.wrapping_mul(s + 1);
                    let bytes = (0..SPRITE * SPRITE * 4)
                        .map(|_| {
                            state ^= state << 13;
                            state ^= state >> 17;
                            state ^= state << 5;
                            state as u8
                        })
                        .collect::<Vec<u8>>();
                    glib::Bytes::from_owned(bytes)
                })
                .collect();
            let mut n = 0usize;
            Box::new(move || {
                n += 1;
                let s = (n * 5 + n / 7) % SPRITES;
                // Six places, so a sprite replaces another one (the same
                // pixels drawn again are no damage).
                let place = n % 6;
                let (x, y) = ((place % 3) as i32 * 100, (place / 3) as i32 * 100);
                display
                    .draw(x, y, SPRITE, SPRITE, &sprites[s], SPRITE as usize * 4)
                    .unwrap();
            })
        },
        Duration::from_millis(5),
    )
}

/// One display channel connection, acknowledging as spice-gtk does.
struct Display {
    socket: TcpStream,
    received: usize,
}

impl Display {
    fn link(port: u16, session_id: u32, cache_pixels: i64) -> Display {
        let mut socket = link(port, session_id, channel::DISPLAY, 0, Caps::new());
        // DISPLAY_INIT: cache 1 of `cache_pixels`, GLZ dictionary 1 of a
        // window of 1M pixels.
        let mut init = vec![1u8];
        init.extend_from_slice(&cache_pixels.to_le_bytes());
        init.push(1);
        init.extend_from_slice(&(1i32 << 20).to_le_bytes());
        send_message(&mut socket, msgc::display::INIT, &init);
        Display {
            socket,
            received: 0,
        }
    }

    fn next(&mut self) -> (u16, Vec<u8>) {
        let (msg_type, body) = read_message(&mut self.socket);
        self.received += 1;
        if self.received.is_multiple_of(10) {
            send_message(&mut self.socket, msgc::common::ACK, &[]);
        }
        if msg_type == msg::common::SET_ACK {
            send_message(&mut self.socket, msgc::common::ACK_SYNC, &body[..4]);
        }
        if msg_type == msg::common::PING {
            // PONG: the PING's id and timestamp.
            send_message(&mut self.socket, msgc::common::PONG, &body[..12]);
        }
        (msg_type, body)
    }
}

/// A main channel; its session id.
fn main_link(port: u16) -> (TcpStream, u32) {
    let mut main = link(port, 0, channel::MAIN, 0, Caps::new());
    let (msg_type, body) = read_message(&mut main);
    assert_eq!(msg_type, msg::main::INIT);
    send_message(&mut main, msgc::main::ATTACH_CHANNELS, &[]);
    (main, u32::from_le_bytes(body[..4].try_into().unwrap()))
}

/// The client's cache as the messages build it, checked at every step.
#[derive(Default)]
struct ClientCache {
    size: u64,
    images: HashMap<u64, u64>,
    /// Ids in the client's cache that this connection did not cache (those
    /// of a connection of the same client that left): it must invalidate
    /// them and never reference them.
    orphans: HashSet<u64>,
    /// Whether ids of another connection may be invalidated.
    foreign: bool,
    /// Ids this connection cached.
    mine: HashSet<u64>,
    cached: usize,
    reused: usize,
    evicted: usize,
}

impl ClientCache {
    /// Follows one display message.
    fn follow(&mut self, msg_type: u16, body: &[u8]) {
        match msg_type {
            msg::display::DRAW_COPY => {
                // DisplayBase without clip rects (21 bytes), then the
                // image's offset in the body.
                let at = u32::from_le_bytes(body[21..25].try_into().unwrap()) as usize;
                let image = &body[at..];
                let id = u64::from_le_bytes(image[..8].try_into().unwrap());
                let (kind, flags) = (image[8], image[9]);
                let width = u32::from_le_bytes(image[10..14].try_into().unwrap());
                let height = u32::from_le_bytes(image[14..18].try_into().unwrap());
                if kind == image_type::FROM_CACHE || kind == image_type::FROM_CACHE_LOSSLESS {
                    assert!(
                        !self.orphans.contains(&id),
                        "FROM_CACHE of another connection's id {id}"
                    );
                    assert!(
                        self.images.contains_key(&id),
                        "FROM_CACHE of id {id}, which the client does not have"
                    );
                    self.reused += 1;
                } else if flags & image_flags::CACHE_ME != 0 {
                    assert_ne!(id, 0);
                    let old = self.images.insert(id, u64::from(width * height));
                    assert!(old.is_none(), "id {id} cached twice");
                    assert!(self.mine.insert(id), "id {id} reused");
                    let held: u64 = self.images.values().sum();
                    assert!(
                        held <= self.size,
                        "{held} pixels cached, {} announced",
                        self.size
                    );
                    self.cached += 1;
                }
            }
            msg::display::INVAL_LIST => {
                let count = u16::from_le_bytes([body[0], body[1]]) as usize;
                assert_eq!(body.len(), 2 + count * 9);
                for entry in body[2..].chunks_exact(9) {
                    assert_eq!(entry[0], 1, "resource type PIXMAP");
                    let id = u64::from_le_bytes(entry[1..].try_into().unwrap());
                    // Another connection's images may be invalidated
                    // unseen: it left before reading them all.
                    let foreign = !self.orphans.is_empty() || self.foreign;
                    assert!(
                        self.images.remove(&id).is_some() || (foreign && !self.mine.contains(&id)),
                        "INVAL_LIST of id {id}, not in the client's cache"
                    );
                    if !self.orphans.remove(&id) {
                        self.evicted += 1;
                    }
                }
            }
            msg::display::INVAL_ALL_PIXMAPS => self.images.clear(),
            _ => {}
        }
    }
}

/// Follows `display` until the client's cache has turned over `rounds`
/// times (evictions) and as many images were reused.
fn follow_until(display: &mut Display, cache: &mut ClientCache, rounds: usize) {
    let turnover = rounds * (CACHE_PIXELS / u64::from(SPRITE * SPRITE)) as usize;
    let mut messages = 0;
    while cache.evicted < turnover || cache.reused < turnover {
        let (msg_type, body) = display.next();
        cache.follow(msg_type, &body);
        messages += 1;
        assert!(
            messages < 20_000,
            "no turnover: {} cached, {} reused, {} evicted",
            cache.cached,
            cache.reused,
            cache.evicted
        );
    }
}

#[test]
fn repeated_images_come_from_the_cache_within_its_size_over_several_generations() {
    for compression in [
        ImageCompression::Auto,
        ImageCompression::Glz,
        ImageCompression::Lz,
        ImageCompression::Off,
    ] {
        let server = sprite_server(compression);
        let (_main, session_id) = main_link(server.port);
        let mut display = Display::link(server.port, session_id, CACHE_PIXELS as i64);
        let mut cache = ClientCache {
            size: CACHE_PIXELS,
            ..Default::default()
        };
        follow_until(&mut display, &mut cache, 4);
    }
}

#[test]
fn a_new_client_gets_no_reference_to_the_old_ones_ids() {
    let server = sprite_server(ImageCompression::Glz);
    {
        let (_main, session_id) = main_link(server.port);
        let mut display = Display::link(server.port, session_id, CACHE_PIXELS as i64);
        let mut cache = ClientCache {
            size: CACHE_PIXELS,
            ..Default::default()
        };
        follow_until(&mut display, &mut cache, 1);
    }
    // A new session: its cache is empty, whatever the old one held.
    let (_main, session_id) = main_link(server.port);
    let mut display = Display::link(server.port, session_id, CACHE_PIXELS as i64);
    let mut cache = ClientCache {
        size: CACHE_PIXELS,
        ..Default::default()
    };
    follow_until(&mut display, &mut cache, 2);
}

#[test]
fn a_display_channel_that_reconnects_drops_what_it_cached_before() {
    let server = sprite_server(ImageCompression::Glz);
    let (_main, session_id) = main_link(server.port);
    let old_images = {
        let mut display = Display::link(server.port, session_id, CACHE_PIXELS as i64);
        let mut cache = ClientCache {
            size: CACHE_PIXELS,
            ..Default::default()
        };
        follow_until(&mut display, &mut cache, 1);
        cache.images
    };
    assert!(!old_images.is_empty());
    let old_ids: HashSet<u64> = old_images.keys().copied().collect();
    // The same client, whose session's cache still holds the old images:
    // the new connection invalidates them, and references only its own.
    let mut display = Display::link(server.port, session_id, CACHE_PIXELS as i64);
    let mut cache = ClientCache {
        size: CACHE_PIXELS,
        images: old_images,
        orphans: old_ids.clone(),
        foreign: true,
        ..Default::default()
    };
    follow_until(&mut display, &mut cache, 2);
    assert!(
        cache.orphans.is_empty(),
        "old ids left in the client's cache: {:?}",
        cache.orphans
    );
    for id in cache.images.keys() {
        assert!(!old_ids.contains(id), "id {id} reused");
    }
}
