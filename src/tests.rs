//! Tests of the object model: threads, dispatchers and the ownership
//! rules, with channel clients made directly (no protocol involved).

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use glib::prelude::*;

use crate::base::dispatcher::Dispatcher;
use crate::model::channel::ChannelExt;
use crate::model::channel_client::{new_channel_client, ChannelClient, ChannelClientExt};
use crate::model::client::Client;
use crate::worker::WorkerMessage;
use crate::*;

/// Runs `f` with a fresh main context as the thread default, as an
/// application's main thread would have.
fn with_main_context<R>(f: impl FnOnce(&glib::MainContext) -> R) -> R {
    let ctx = glib::MainContext::new();
    ctx.with_thread_default(|| f(&ctx)).expect("fresh context")
}

/// Iterates `ctx` until `done()` or a 10 s safety limit.
fn run_until(ctx: &glib::MainContext, done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        if Instant::now() > deadline {
            return false;
        }
        ctx.iteration(false);
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}

/// A client with one channel client on each channel, each created on its
/// channel's thread.
struct Connected {
    client: Client,
    mcc: ChannelClient,
    icc: ChannelClient,
    dcc: ChannelClient,
    ccc: ChannelClient,
}

fn connect_client(server: &Server, display: &Display) -> Connected {
    let client = Client::new(
        7,
        Some("test"),
        server.main_core(),
        server.main_dispatcher(),
    );
    let mcc: MainChannelClient = new_channel_client(server.main_channel().upcast_ref(), &client);
    let icc: InputsChannelClient =
        new_channel_client(server.inputs_channel().upcast_ref(), &client);
    let (tx, rx) = std::sync::mpsc::channel();
    let (dch, cch, c) = (
        display.display_channel().unwrap().clone(),
        display.cursor_channel().unwrap().clone(),
        client.clone(),
    );
    display.worker().unwrap().dispatch(
        WorkerMessage::Run(Box::new(move || {
            let dcc: DisplayChannelClient = new_channel_client(dch.upcast_ref(), &c);
            let ccc: CursorChannelClient = new_channel_client(cch.upcast_ref(), &c);
            let _ = tx.send((dcc.upcast::<ChannelClient>(), ccc.upcast::<ChannelClient>()));
        })),
        true,
    );
    let (dcc, ccc) = rx.recv().expect("worker created the channel clients");
    server.add_client(&client);
    Connected {
        client,
        mcc: mcc.upcast(),
        icc: icc.upcast(),
        dcc,
        ccc,
    }
}

fn weak<T: ObjectType>(o: &T) -> glib::WeakRef<T> {
    o.downgrade()
}

#[test]
fn red_channel_client_channel_owns_and_red_channel_clients_does_not() {
    with_main_context(|_| {
        let server = Server::new();
        let display = server.add_display(16, 16).unwrap();
        let c = connect_client(&server, &display);
        // RedClient::channels ⇒ RedChannelClient, RedChannel::clients →.
        assert_eq!(c.client.channel_clients().len(), 4);
        assert_eq!(
            display.display_channel().unwrap().clients(),
            vec![c.dcc.clone()]
        );
        assert_eq!(
            c.dcc.channel().unwrap().upcast_ref::<Channel>(),
            display.display_channel().unwrap().upcast_ref::<Channel>()
        );
        // RedClient::mcc → MainChannelClient.
        assert_eq!(
            c.client
                .main_channel_client()
                .map(|m| m.upcast::<ChannelClient>()),
            Some(c.mcc.clone())
        );
        // A channel client keeps its channel alive on its own.
        let channel = c.dcc.channel().unwrap();
        let before = channel.ref_count();
        let dcc = c.dcc.clone();
        drop(c);
        assert!(channel.ref_count() <= before);
        assert_eq!(dcc.channel().unwrap(), channel);
        server.stop();
    });
}

#[test]
fn when_main_channel_client_disconnects_every_object_of_the_client_is_finalized() {
    with_main_context(|ctx| {
        let server = Server::new();
        server.start().unwrap();
        let display = server.add_display(16, 16).unwrap();
        let gone = Rc::new(Cell::new(0));
        let g = gone.clone();
        server.connect_local("client-disconnected", false, move |_| {
            g.set(g.get() + 1);
            None
        });
        let c = connect_client(&server, &display);
        let weaks = [weak(&c.mcc), weak(&c.icc), weak(&c.dcc), weak(&c.ccc)];
        let client_weak = weak(&c.client);
        let dcc_thread = display.display_channel().unwrap().core().thread_id();
        assert_ne!(dcc_thread, crate::base::sys::current_thread_id());
        let mcc = c.mcc.clone();
        drop(c);
        mcc.close_connection();
        drop(mcc);
        assert!(run_until(ctx, || gone.get() == 1));
        assert!(run_until(ctx, || client_weak.upgrade().is_none()));
        for w in &weaks {
            assert!(
                run_until(ctx, || w.upgrade().is_none()),
                "a channel client outlived its client"
            );
        }
        // The channels live on.
        assert!(display.display_channel().unwrap().clients().is_empty());
        assert!(server.main_channel().clients().is_empty());
        assert!(server.clients().is_empty());
        server.stop();
    });
}

#[test]
fn closing_one_channel_client_loses_only_that_one() {
    with_main_context(|ctx| {
        let server = Server::new();
        server.start().unwrap();
        let display = server.add_display(16, 16).unwrap();
        let c = connect_client(&server, &display);
        let dcc_weak = weak(&c.dcc);
        let Connected {
            client,
            mcc,
            icc,
            dcc,
            ccc,
        } = c;
        dcc.close_connection();
        drop(dcc);
        assert!(run_until(ctx, || dcc_weak.upgrade().is_none()));
        assert_eq!(
            client.channel_clients(),
            vec![mcc.clone(), icc.clone(), ccc.clone()]
        );
        assert!(mcc.is_connected() && icc.is_connected() && ccc.is_connected());
        assert_eq!(server.clients(), vec![client.clone()]);
        server.stop();
    });
}

#[test]
fn red_client_disconnect_does_what_a_leaving_client_does() {
    with_main_context(|ctx| {
        let server = Server::new();
        server.start().unwrap();
        let display = server.add_display(16, 16).unwrap();
        let c = connect_client(&server, &display);
        let weaks = [weak(&c.mcc), weak(&c.icc), weak(&c.dcc), weak(&c.ccc)];
        let client_weak = weak(&c.client);
        c.client.disconnect();
        drop(c);
        assert!(run_until(ctx, || client_weak.upgrade().is_none()));
        for w in &weaks {
            assert!(run_until(ctx, || w.upgrade().is_none()));
        }
        assert!(server.clients().is_empty());
        server.stop();
    });
}

#[test]
fn display_and_cursor_channels_share_their_worker_thread_and_stop_joins_it() {
    with_main_context(|_| {
        let server = Server::new();
        let a = server.add_display(8, 8).unwrap();
        let b = server.add_display(8, 8).unwrap();
        let main = crate::base::sys::current_thread_id();
        server.start().unwrap();
        let (ta, tb) = (
            a.display_channel().unwrap().core().thread_id(),
            b.display_channel().unwrap().core().thread_id(),
        );
        assert_eq!(a.cursor_channel().unwrap().core().thread_id(), ta);
        assert_eq!(b.cursor_channel().unwrap().core().thread_id(), tb);
        assert!(ta != main && tb != main && ta != tb);
        assert_eq!(server.main_channel().core().thread_id(), main);
        assert_eq!(server.inputs_channel().core().thread_id(), main);
        let alive = |tid: i64| std::path::Path::new(&format!("/proc/self/task/{tid}")).exists();
        assert!(alive(ta) && alive(tb));
        server.stop();
        assert!(
            !alive(ta) && !alive(tb),
            "red_server_stop left a worker thread"
        );
        // Drawing still works while stopped, and the state survives a restart.
        a.fill(0, 0, 8, 8, 0x123456);
        server.start().unwrap();
        let (_, _, pixels) = a.snapshot();
        assert_eq!(&pixels[0..4], &0x0012_3456u32.to_ne_bytes());
        let tc = a.display_channel().unwrap().core().thread_id();
        drop(server);
        // The server's last unref stops and joins every worker.
        assert!(!alive(tc), "the server's last unref left a worker thread");
        drop((a, b));
    });
}

#[test]
fn drawing_reaches_the_worker_in_order() {
    with_main_context(|_| {
        let server = Server::new();
        server.start().unwrap();
        let d = server.add_display(4, 2).unwrap();
        d.fill(0, 0, 4, 2, 0x0000ff);
        let px: Vec<u8> = [1u32, 2, 3, 4]
            .iter()
            .flat_map(|p| p.to_ne_bytes())
            .collect();
        d.draw(1, 0, 2, 2, &glib::Bytes::from_owned(px), 8).unwrap();
        d.copy_area(1, 0, 2, 1, 2, 1);
        let (w, h, pixels) = d.snapshot();
        assert_eq!((w, h), (4, 2));
        let at = |x: usize, y: usize| {
            u32::from_ne_bytes(pixels[(y * 4 + x) * 4..][..4].try_into().unwrap())
        };
        assert_eq!([at(0, 0), at(1, 0), at(2, 0), at(3, 0)], [0xff, 1, 2, 0xff]);
        assert_eq!([at(0, 1), at(1, 1), at(2, 1), at(3, 1)], [0xff, 3, 1, 2]);
        d.resize(2, 1).unwrap();
        assert_eq!(d.snapshot().2.len(), 8);
        assert!(d
            .resize(0, 1)
            .unwrap_err()
            .matches(RedError::InvalidArgument));
        let short = glib::Bytes::from_owned(vec![0u8; 7]);
        assert!(d.draw(0, 0, 1, 2, &short, 4).is_err());
        server.stop();
    });
}

#[test]
fn cursor_requests_reach_the_cursor_state() {
    with_main_context(|_| {
        let server = Server::new();
        server.start().unwrap();
        let d = server.add_display(64, 64).unwrap();
        let px: Vec<u8> = (0..16u8).collect();
        d.set_cursor(2, 2, 1, 1, &px, 8).unwrap();
        d.move_cursor(10, 20);
        let c = d.cursor_state();
        assert!(c.visible);
        assert_eq!((c.x, c.y), (10, 20));
        let shape = c.shape.unwrap();
        assert_eq!(
            (shape.width, shape.height, shape.hot_x, shape.hot_y),
            (2, 2, 1, 1)
        );
        assert_eq!(shape.pixels[3], u32::from_ne_bytes([12, 13, 14, 15]));
        d.hide_cursor();
        assert!(!d.cursor_state().visible);
        assert!(d.set_cursor(2, 2, 2, 0, &px, 8).is_err());
        server.stop();
    });
}

#[test]
fn dispatcher_keeps_order_and_send_sync_waits() {
    let worker_ctx = glib::MainContext::new();
    let (dispatcher, receiver) = Dispatcher::<u32>::new("test", &worker_ctx);
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let s = seen.clone();
    let ctx = worker_ctx.clone();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let _guard = ctx.acquire().unwrap();
        let main_loop = glib::MainLoop::new(Some(&ctx), false);
        let l = main_loop.clone();
        let _task = receiver.attach(move |n| {
            std::thread::sleep(Duration::from_millis(1));
            s.lock().unwrap().push(n);
            if n == 99 {
                l.quit();
                return std::ops::ControlFlow::Break(());
            }
            std::ops::ControlFlow::Continue(())
        });
        ready_tx.send(()).unwrap();
        main_loop.run();
    });
    ready_rx.recv().unwrap();
    for n in 0..10 {
        assert!(dispatcher.send(n));
    }
    assert!(dispatcher.send_sync(10));
    assert_eq!(*seen.lock().unwrap(), (0..=10).collect::<Vec<_>>());
    assert!(dispatcher.send_sync(99));
    thread.join().unwrap();
    // The receiver is gone: sending reports it instead of queueing.
    assert!(!dispatcher.send(5));
    assert!(!dispatcher.send_sync(5));
}

#[test]
fn live_objects_are_counted_per_class() {
    with_main_context(|_| {
        // Other tests run in parallel and share the counts: only what holds
        // whatever they do is checked here; tests/churn.rs checks exact
        // zeros in a process of its own.
        let server = Server::new();
        let d = server.add_display(8, 8).unwrap();
        for class in ["RedServer", "RedDisplay", "RedWorker", "RedDisplayChannel"] {
            assert!(
                crate::base::live_objects::count(class).unwrap() >= 1,
                "{class}"
            );
        }
        drop(d);
        drop(server);
        assert_eq!(crate::base::live_objects::count("NoSuchClass"), None);
    });
}

#[test]
fn server_start_picks_a_port_and_refuses_twice() {
    with_main_context(|_| {
        let server = Server::new();
        server.start().unwrap();
        assert!(server.port() > 0);
        assert!(server
            .start()
            .unwrap_err()
            .matches(RedError::AlreadyRunning));
        let busy = Server::new();
        busy.set_property("port", server.port());
        assert!(busy.start().unwrap_err().matches(RedError::AddressInUse));
        server.stop();
        assert!(!server.is_running());
    });
}

#[test]
fn a_clients_shared_state_is_one_per_type_and_id() {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;
    with_main_context(|_| {
        let server = Server::new();
        let client = Client::new(9, None, server.main_core(), server.main_dispatcher());
        let a = client.shared(1, || AtomicU32::new(5));
        a.store(6, Ordering::SeqCst);
        // the second asker gets the first one's state, not its own
        let b = client.shared(1, || AtomicU32::new(0));
        assert!(Arc::ptr_eq(&a, &b));
        let other_id = client.shared(2, || AtomicU32::new(7));
        assert_eq!(other_id.load(Ordering::SeqCst), 7);
        let other_type = client.shared(1, || String::from("x"));
        assert_eq!(*other_type, "x");
        let shared_from_another_thread = {
            let client = client.clone();
            std::thread::spawn(move || {
                client
                    .shared(1, || AtomicU32::new(0))
                    .load(Ordering::SeqCst)
            })
            .join()
            .unwrap()
        };
        assert_eq!(shared_from_another_thread, 6);
        server.stop();
    });
}
