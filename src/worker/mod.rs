//! `RedWorker`: the thread of one `RedDisplay`, with its own `GMainContext`
//! and loop, running that display's display and cursor channels.
//!
//! In spice-server the QXL device sends its requests to the RedWorker
//! through a dispatcher, and the worker hands them to its display and
//! cursor channels. Here `RedDisplay` plays the QXL's part and the worker
//! dispatcher carries its requests (`docs/threading.md`).
//!
//! The display's state is used on the worker thread while it runs; while it
//! is stopped (`red_server_stop()`) requests are applied on the main thread,
//! so drawing never depends on whether clients can connect.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

use glib::prelude::*;
use glib::subclass::prelude::*;

use crate::base::core::Core;
use crate::base::dispatcher::{Dispatcher, DispatcherReceiver};
use crate::base::error::RedError;
use crate::base::i18n::gettext;
use crate::base::live_objects::{Counted, CountedClass, Live};
use crate::base::sync::lock;
use crate::channels::display::{self as display_channel, DisplayChannels, LinkedChannel};
use crate::display::state::{DisplayRequest, Effect};
use crate::model::channel::ChannelThread;
use crate::model::channel_client::{disconnect_on_own_thread, ChannelClient};
use crate::model::connection;

/// Requests from the main thread to a worker.
pub(crate) enum WorkerMessage {
    /// Drawing and cursor requests of the display, forwarded to its
    /// display and cursor channel.
    Display(DisplayRequest),
    /// A linked display or cursor channel connection to set up here.
    Connect(Box<LinkedChannel>),
    /// Disconnect a channel client of this worker's channels.
    DisconnectChannelClient(ChannelClient),
    /// Leave the loop.
    Quit,
    /// Run a closure on the worker thread (tests only).
    #[cfg(test)]
    Run(Box<dyn FnOnce() + Send>),
}

/// What the worker thread runs, shared with the display that feeds it.
#[derive(Clone)]
pub(crate) struct WorkerShared {
    pub channels: DisplayChannels,
    /// Video frames encoded (the state's counter, readable without it).
    pub frames_encoded: Arc<AtomicU64>,
    /// Bytes of drawing requests sent and not yet handled.
    pub backlog: Arc<AtomicUsize>,
}

/// Drawing bytes the worker may be behind before drawing calls wait.
pub const MAX_BACKLOG: usize = 64 << 20;

struct Running {
    dispatcher: Dispatcher<WorkerMessage>,
    thread: JoinHandle<()>,
}

pub mod imp {
    use super::*;

    #[derive(Default, glib::Properties)]
    #[properties(wrapper_type = super::Worker)]
    pub struct Worker {
        #[property(
            get,
            nick = "Display id",
            blurb = "The id of the display this worker runs"
        )]
        pub(crate) display_id: AtomicU32,
        #[property(name = "main-context", get = |s: &Self| s.core.get().map(|c| c.context().clone()),
            type = Option<glib::MainContext>, nick = "Main context",
            blurb = "The worker thread's own context")]
        #[property(name = "thread-id",
            get = |s: &Self| s.core.get().map(Core::thread_id).unwrap_or_default(), type = i64,
            nick = "Thread id",
            blurb = "Kernel id of the worker thread, or of the main thread while it is stopped")]
        pub(crate) core: OnceLock<Core>,
        pub(crate) main_core: OnceLock<Core>,
        pub(crate) shared: OnceLock<WorkerShared>,
        #[property(name = "running", get = |s: &Self| s.obj().is_running(), type = bool,
            nick = "Running", blurb = "Whether the worker thread runs")]
        pub(super) running: Mutex<Option<Running>>,
        _live: Live<Worker>,
    }

    impl CountedClass for Worker {
        const CLASS: Counted = Counted::Worker;
    }

    #[glib::object_subclass]
    impl ObjectSubclass for Worker {
        const NAME: &'static str = "RedWorker";
        type Type = super::Worker;
        type ParentType = glib::Object;
    }

    #[glib::derived_properties]
    impl ObjectImpl for Worker {
        fn dispose(&self) {
            self.obj().stop();
        }
    }
}

glib::wrapper! {
    /// The thread running one display's channels.
    pub struct Worker(ObjectSubclass<imp::Worker>);
}

impl Worker {
    /// A stopped worker for display `display_id`; on the main thread.
    pub(crate) fn new(display_id: u32, main_core: &Core) -> Worker {
        let worker: Worker = glib::Object::new();
        let imp = worker.imp();
        imp.display_id.store(display_id, Ordering::SeqCst);
        let _ = imp.core.set(Core::new(
            &format!("RedWorker {display_id}"),
            glib::MainContext::new(),
            main_core.thread_id(),
        ));
        let _ = imp.main_core.set(main_core.clone());
        worker
    }

    /// Gives the worker the state and channels it runs (once).
    pub(crate) fn set_shared(&self, shared: WorkerShared) {
        let _ = self.imp().shared.set(shared);
    }

    /// The state and channels it runs.
    pub(crate) fn shared(&self) -> Option<&WorkerShared> {
        self.imp().shared.get()
    }

    /// The worker's core: its context and thread.
    pub fn core(&self) -> &Core {
        self.imp().core.get_or_init(Core::detached)
    }

    pub fn is_running(&self) -> bool {
        lock(&self.imp().running).is_some()
    }

    /// Starts the thread if it is not running; waits until its loop runs.
    pub(crate) fn start(&self) -> Result<(), glib::Error> {
        let imp = self.imp();
        let Some(shared) = imp.shared.get().cloned() else {
            return Ok(());
        };
        let mut running = lock(&imp.running);
        if running.is_some() {
            return Ok(());
        }
        // Requests lost with an earlier thread no longer count.
        shared.backlog.store(0, Ordering::SeqCst);
        let core = self.core().clone();
        let (dispatcher, receiver) = Dispatcher::new("worker", core.context());
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        let thread_core = core.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("red-worker-{}", self.display_id()))
            .spawn(move || worker_thread(thread_core, receiver, shared, ready_tx));
        let thread = match spawned {
            Ok(thread) => thread,
            Err(e) => {
                return Err(RedError::Failed.error(format!(
                    "{}: {e}",
                    gettext("Could not start a display worker thread")
                )))
            }
        };
        // The thread owns its context from here on.
        let _ = ready_rx.recv();
        *running = Some(Running { dispatcher, thread });
        drop(running);
        self.notify_running();
        self.notify_thread_id();
        Ok(())
    }

    /// Stops and joins the thread; no-op when stopped.
    pub(crate) fn stop(&self) {
        let imp = self.imp();
        if self.core().is_current_thread() && self.is_running() {
            red_critical!("RedWorker {} asked to join itself", self.display_id());
            return;
        }
        let Some(running) = lock(&imp.running).take() else {
            return;
        };
        running.dispatcher.send(WorkerMessage::Quit);
        if running.thread.join().is_err() {
            red_critical!("RedWorker {} thread panicked", self.display_id());
        }
        if let Some(main_core) = imp.main_core.get() {
            self.core().set_thread_id(main_core.thread_id());
        }
        self.notify_running();
        self.notify_thread_id();
    }

    /// Sends `message` to the worker thread, or handles it here when the
    /// thread is stopped. `wait` waits for the handler; so does a drawing
    /// request while the worker is behind by more than `MAX_BACKLOG`
    /// bytes, which keeps an application that draws faster than the
    /// worker works from queueing without bound.
    pub(crate) fn dispatch(&self, message: WorkerMessage, wait: bool) {
        let mut wait = wait;
        if let (WorkerMessage::Display(request), Some(shared)) = (&message, self.shared()) {
            let weight = request.weight();
            let before = shared.backlog.fetch_add(weight, Ordering::SeqCst);
            wait |= before + weight > MAX_BACKLOG;
        }
        let dispatcher = lock(&self.imp().running)
            .as_ref()
            .map(|r| r.dispatcher.clone());
        match dispatcher {
            Some(d) if wait => {
                d.send_sync(message);
            }
            Some(d) => {
                d.send(message);
            }
            None => {
                if let Some(shared) = self.imp().shared.get() {
                    let _ = handle(shared, message);
                    // No worker loop will come back for held pumps.
                    connection::pump_held();
                }
            }
        }
    }
}

/// A worker as the thread of its channels, for channel code: requests go
/// through its dispatcher (weak, so channels never keep it alive).
pub(crate) struct WorkerThread(glib::WeakRef<Worker>);

impl WorkerThread {
    pub(crate) fn new(worker: &Worker) -> Self {
        WorkerThread(worker.downgrade())
    }
}

impl ChannelThread for WorkerThread {
    fn disconnect(&self, rcc: &ChannelClient, wait: bool) {
        if let Some(worker) = self.0.upgrade() {
            worker.dispatch(WorkerMessage::DisconnectChannelClient(rcc.clone()), wait);
        }
    }
}

/// Handles one request on the worker thread (or, stopped, the main one).
fn handle(shared: &WorkerShared, message: WorkerMessage) -> ControlFlow<()> {
    if let WorkerMessage::Display(request) = message {
        let weight = request.weight();
        let before = shared.backlog.fetch_sub(weight, Ordering::SeqCst);
        let effect = lock(&shared.channels.state).handle(request);
        forward(shared, &effect, before.saturating_sub(weight) > 0);
        return ControlFlow::Continue(());
    }
    // What other requests do comes after the draws before them.
    connection::pump_held();
    match message {
        WorkerMessage::Display(_) => {}
        WorkerMessage::Connect(linked) => display_channel::connect(&shared.channels, *linked),
        WorkerMessage::DisconnectChannelClient(rcc) => disconnect_on_own_thread(&rcc),
        WorkerMessage::Quit => return ControlFlow::Break(()),
        #[cfg(test)]
        WorkerMessage::Run(f) => f(),
    }
    ControlFlow::Continue(())
}

/// Drawing requests handled in a row while clients' pumps wait.
const MAX_HELD_REQUESTS: u32 = 32;

thread_local! {
    /// Requests handled since the clients were last pumped.
    static HELD_REQUESTS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Forwards a drawing request's effect to the clients. While more
/// requests are queued (`more`), their pumps wait for the last one (up to
/// [`MAX_HELD_REQUESTS`]): a frame's draws go out coded together, in one
/// write per client.
fn forward(shared: &WorkerShared, effect: &Effect, more: bool) {
    let held = HELD_REQUESTS.get();
    if more && held < MAX_HELD_REQUESTS {
        HELD_REQUESTS.set(held.saturating_add(1));
        connection::holding_pumps(|| display_channel::forward(&shared.channels, effect));
    } else {
        HELD_REQUESTS.set(0);
        display_channel::forward(&shared.channels, effect);
        connection::pump_held();
    }
}

fn worker_thread(
    core: Core,
    receiver: DispatcherReceiver<WorkerMessage>,
    shared: WorkerShared,
    ready: std::sync::mpsc::SyncSender<()>,
) {
    let context = core.context().clone();
    let Ok(guard) = context.acquire() else {
        red_critical!("{}: its context is owned by another thread", core.name());
        let _ = ready.send(());
        return;
    };
    core.set_thread_id(crate::base::sys::current_thread_id());
    let main_loop = glib::MainLoop::new(Some(&context), false);
    let handler_loop = main_loop.clone();
    let shared_for_tick = shared.clone();
    let _task = receiver.attach(move |message| {
        let flow = handle(&shared, message);
        if flow.is_break() {
            handler_loop.quit();
        }
        flow
    });
    // Streams end when their updates stop, and lossy areas settle: look
    // ten times a second.
    let tick_shared = shared_for_tick;
    let ticker = glib::timeout_source_new(
        std::time::Duration::from_millis(100),
        None,
        glib::Priority::DEFAULT,
        move || {
            // A request that said more were coming when none came.
            connection::pump_held();
            display_channel::expire_streams(&tick_shared.channels);
            display_channel::settle_lossy(&tick_shared.channels);
            glib::ControlFlow::Continue
        },
    );
    ticker.attach(Some(&context));
    red_debug!("{} running on thread {}", core.name(), core.thread_id());
    let _ = ready.send(());
    context
        .with_thread_default(|| main_loop.run())
        .unwrap_or_else(|_| red_critical!("{}: cannot run its loop", core.name()));
    ticker.destroy();
    // Run what is still queued (sources of channel clients that went away).
    while context.iteration(false) {}
    drop(guard);
}
