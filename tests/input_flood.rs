//! A client flooding KEY_SCANCODE (4000 key events a message, as fast as
//! its socket takes them) must not take the main loop from the
//! application: its input is read later while events wait, and the main
//! dispatcher lets other sources run between bursts, and another client
//! keeps getting the display's updates. Alone in its test
//! binary because it watches a timer, which other tests would disturb.

mod common;

use std::time::{Duration, Instant};

use common::{read_message, send_message, ServerThread};
use redspice::protocol::constants::{channel, msg, msgc};
use redspice::protocol::Caps;

#[test]
fn a_key_scancode_flood_leaves_the_main_loop_its_timers() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;

    let ticks = Arc::new(AtomicU64::new(0));
    let keys = Arc::new(AtomicU64::new(0));
    let (t, k) = (ticks.clone(), keys.clone());
    let server = ServerThread::start(
        move |server| {
            let display = server.add_display(16, 16).unwrap();
            glib::prelude::ObjectExt::connect_closure(
                server,
                "key-event",
                false,
                glib::closure!(move |_: &redspice::Server, _code: u32, _pressed: bool| {
                    k.fetch_add(1, Ordering::Relaxed);
                }),
            );
            // The application draws at every tick: what a bystander
            // client watches.
            Box::new(move || {
                let n = t.fetch_add(1, Ordering::Relaxed);
                display.fill(0, 0, 4, 4, (n as u32).wrapping_mul(0x010203) & 0xff_ffff);
            })
        },
        Duration::from_millis(10),
    );
    let mut main = common::link(server.port, 0, channel::MAIN, 0, Caps::new());
    let (msg_type, body) = read_message(&mut main);
    assert_eq!(msg_type, msg::main::INIT);
    let session_id = u32::from_le_bytes(body[..4].try_into().unwrap());
    let inputs = common::link(server.port, session_id, channel::INPUTS, 0, Caps::new());

    // Another client, watching the display: its updates must keep coming.
    let mut bystander_main = common::link(server.port, 0, channel::MAIN, 0, Caps::new());
    let (_, body) = read_message(&mut bystander_main);
    let bystander_id = u32::from_le_bytes(body[..4].try_into().unwrap());
    let mut bystander = common::link(server.port, bystander_id, channel::DISPLAY, 0, Caps::new());
    let fills = Arc::new(AtomicU64::new(0));
    let watching = {
        let fills = fills.clone();
        std::thread::spawn(move || {
            let mut received = 0u64;
            loop {
                let Ok((msg_type, body)) =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        read_message(&mut bystander)
                    }))
                else {
                    break;
                };
                received += 1;
                if received.is_multiple_of(10) {
                    send_message(&mut bystander, msgc::common::ACK, &[]);
                }
                if msg_type == msg::common::SET_ACK {
                    send_message(&mut bystander, msgc::common::ACK_SYNC, &body[..4]);
                }
                if msg_type == msg::display::DRAW_FILL {
                    fills.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };

    // 4000 scancodes per message (press and release of 'a'), as fast as
    // the socket takes them.
    let body: Vec<u8> = [0x1eu8, 0x9e].repeat(2000);
    let stop = Arc::new(AtomicBool::new(false));
    let flooding = {
        let stop = stop.clone();
        let mut inputs = inputs.try_clone().unwrap();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    send_message(&mut inputs, msgc::inputs::KEY_SCANCODE, &body)
                }))
                .is_err()
                {
                    break;
                }
            }
        })
    };
    let before = ticks.load(Ordering::Relaxed);
    let fills_before = fills.load(Ordering::Relaxed);
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    let elapsed = started.elapsed();
    let ticked = ticks.load(Ordering::Relaxed) - before;
    let watched = fills.load(Ordering::Relaxed) - fills_before;
    stop.store(true, Ordering::Relaxed);
    let _ = inputs.shutdown(std::net::Shutdown::Both);
    let _ = flooding.join();
    let expected = elapsed.as_millis() as u64 / 10;
    println!(
        "timer: {ticked} of {expected} ticks during the flood; {} key events delivered; \
         the other client got {watched} updates",
        keys.load(Ordering::Relaxed)
    );
    assert!(keys.load(Ordering::Relaxed) > 0, "no key event arrived");
    // A breakage bound far below the figure (over 90% on an idle machine):
    // unthrottled, the timer does not run at all while the flood lasts.
    assert!(
        ticked * 4 >= expected,
        "the application's timer ran {ticked} of {expected} times"
    );
    // The other client's updates flowed (its fills are merged when they
    // come faster than it reads, so far fewer than the ticks).
    assert!(
        watched * 20 >= expected,
        "the other client got {watched} updates in {expected} ticks"
    );
    drop(bystander_main);
    let _ = watching;
}
