//! `RedWorker`: the thread of one `RedDisplay`, with its own `GMainContext`
//! and loop, running that display's display and cursor channels.
//!
//! The seed: "The Qxl uses a dispatcher to send requests to the RedWorker
//! which will forward to DisplayChannel/CursorChannel." Here `RedDisplay`
//! plays the QXL's part and the worker dispatcher carries its requests.
//!
//! The worker's drawing state lives on its thread while it runs; when the
//! thread is stopped (`red_server_stop()`) the state is handed back and kept
//! parked here, and requests are applied to it directly until the thread
//! runs again, so drawing never depends on whether clients can connect.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::JoinHandle;

use glib::prelude::*;
use glib::subclass::prelude::*;

use crate::channel_client::{disconnect_on_own_thread, ChannelClient};
use crate::core::Core;
use crate::dispatcher::Dispatcher;
use crate::display::state::DisplayState;
use crate::live_objects::{Counted, CountedClass, Live};

/// Requests from the main thread to a worker.
pub enum WorkerMessage {
    /// Drawing and cursor requests of the display, forwarded to its state.
    Display(crate::display::state::DisplayRequest),
    /// Disconnect a channel client of this worker's channels.
    DisconnectChannelClient(ChannelClient),
    /// Leave the loop; the thread hands its state back.
    Quit,
    /// Run a closure on the worker thread (tests only).
    #[cfg(test)]
    Run(Box<dyn FnOnce() + Send>),
}

/// What a running worker thread is made of.
struct Running {
    dispatcher: Dispatcher<WorkerMessage>,
    thread: JoinHandle<DisplayState>,
}

pub mod imp {
    use super::*;

    #[derive(Default)]
    pub struct Worker {
        pub(crate) display_id: AtomicU32,
        pub(crate) core: OnceLock<Core>,
        pub(crate) main_core: OnceLock<Core>,
        pub(super) running: Mutex<Option<Running>>,
        pub(super) parked: Mutex<Option<DisplayState>>,
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

    impl ObjectImpl for Worker {
        fn properties() -> &'static [glib::ParamSpec] {
            static PROPS: OnceLock<Vec<glib::ParamSpec>> = OnceLock::new();
            PROPS.get_or_init(|| {
                vec![
                    glib::ParamSpecUInt::builder("display-id")
                        .nick("Display id")
                        .blurb("The id of the display this worker runs")
                        .read_only()
                        .build(),
                    glib::ParamSpecBoxed::builder::<glib::MainContext>("main-context")
                        .nick("Main context")
                        .blurb("The worker thread's own context")
                        .read_only()
                        .build(),
                    glib::ParamSpecInt64::builder("thread-id")
                        .nick("Thread id")
                        .blurb("Kernel id of the worker thread, or of the main thread while it is stopped")
                        .read_only()
                        .build(),
                    glib::ParamSpecBoolean::builder("running")
                        .nick("Running")
                        .blurb("Whether the worker thread runs")
                        .read_only()
                        .build(),
                ]
            })
        }

        fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
            match pspec.name() {
                "display-id" => self.display_id.load(Ordering::SeqCst).to_value(),
                "main-context" => self.core.get().map(|c| c.context().clone()).to_value(),
                "thread-id" => self
                    .core
                    .get()
                    .map(|c| c.thread_id())
                    .unwrap_or(0)
                    .to_value(),
                "running" => self.obj().is_running().to_value(),
                _ => unreachable!("GObject only reads registered properties"),
            }
        }

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
    /// A stopped worker for display `display_id`, its state parked; on the
    /// main thread.
    pub(crate) fn new(display_id: u32, state: DisplayState, main_core: &Core) -> Worker {
        let worker: Worker = glib::Object::new();
        let imp = worker.imp();
        imp.display_id.store(display_id, Ordering::SeqCst);
        let context = glib::MainContext::new();
        let _ = imp.core.set(Core::new(
            &format!("RedWorker {display_id}"),
            context,
            main_core.thread_id(),
        ));
        let _ = imp.main_core.set(main_core.clone());
        *imp.parked.lock().unwrap_or_else(|e| e.into_inner()) = Some(state);
        worker
    }

    /// The worker's core: its context and thread.
    pub fn core(&self) -> &Core {
        self.imp().core.get_or_init(Core::detached)
    }

    pub fn display_id(&self) -> u32 {
        self.imp().display_id.load(Ordering::SeqCst)
    }

    pub fn is_running(&self) -> bool {
        self.imp()
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// Starts the thread if it is not running; waits until its loop runs.
    pub(crate) fn start(&self) -> Result<(), glib::Error> {
        let imp = self.imp();
        let mut running = imp.running.lock().unwrap_or_else(|e| e.into_inner());
        if running.is_some() {
            return Ok(());
        }
        let Some(state) = imp.parked.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return Ok(());
        };
        let core = self.core().clone();
        let (dispatcher, receiver) = Dispatcher::new("worker", core.context());
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        let thread_core = core.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("red-worker-{}", self.display_id()))
            .spawn(move || worker_thread(thread_core, receiver, state, ready_tx));
        let thread = match spawned {
            Ok(thread) => thread,
            Err(e) => {
                return Err(crate::error::RedError::Failed.error(format!(
                    "{}: {e}",
                    crate::i18n::gettext("Could not start a display worker thread")
                )))
            }
        };
        // The thread owns its context from here on.
        let _ = ready_rx.recv();
        *running = Some(Running { dispatcher, thread });
        drop(running);
        self.notify("running");
        self.notify("thread-id");
        Ok(())
    }

    /// Stops and joins the thread, parking its state; no-op when stopped.
    pub(crate) fn stop(&self) {
        let imp = self.imp();
        let Some(running) = imp.running.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return;
        };
        if self.core().is_current_thread() {
            red_critical!("RedWorker {} asked to join itself", self.display_id());
            return;
        }
        running.dispatcher.send(WorkerMessage::Quit);
        match running.thread.join() {
            Ok(state) => *imp.parked.lock().unwrap_or_else(|e| e.into_inner()) = Some(state),
            Err(_) => red_critical!("RedWorker {} thread panicked", self.display_id()),
        }
        if let Some(main_core) = imp.main_core.get() {
            self.core().set_thread_id(main_core.thread_id());
        }
        self.notify("running");
        self.notify("thread-id");
    }

    /// Sends `message` to the worker thread, or applies it to the parked
    /// state when the thread is stopped. `wait` waits for the handler.
    pub(crate) fn dispatch(&self, message: WorkerMessage, wait: bool) {
        let dispatcher = self
            .imp()
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
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
                let mut parked = self.imp().parked.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(state) = parked.as_mut() {
                    let _ = handle(state, message);
                }
            }
        }
    }
}

/// Handles one request on the worker thread (or on the parked state).
fn handle(state: &mut DisplayState, message: WorkerMessage) -> ControlFlow<()> {
    match message {
        WorkerMessage::Display(request) => state.handle(request),
        WorkerMessage::DisconnectChannelClient(rcc) => disconnect_on_own_thread(&rcc),
        WorkerMessage::Quit => return ControlFlow::Break(()),
        #[cfg(test)]
        WorkerMessage::Run(f) => f(),
    }
    ControlFlow::Continue(())
}

fn worker_thread(
    core: Core,
    receiver: crate::dispatcher::DispatcherReceiver<WorkerMessage>,
    state: DisplayState,
    ready: std::sync::mpsc::SyncSender<()>,
) -> DisplayState {
    let context = core.context().clone();
    let guard = match context.acquire() {
        Ok(guard) => guard,
        Err(_) => {
            red_critical!("{}: its context is owned by another thread", core.name());
            let _ = ready.send(());
            return state;
        }
    };
    core.set_thread_id(crate::sys::current_thread_id());
    let main_loop = glib::MainLoop::new(Some(&context), false);
    // The state lives in the handler while the loop runs and comes back out
    // through this cell when the loop ends.
    let cell = std::rc::Rc::new(std::cell::RefCell::new(Some(state)));
    let handler_cell = cell.clone();
    let handler_loop = main_loop.clone();
    receiver.attach(move |message| {
        let mut slot = handler_cell.borrow_mut();
        let Some(state) = slot.as_mut() else {
            return ControlFlow::Break(());
        };
        let flow = handle(state, message);
        if flow.is_break() {
            handler_loop.quit();
        }
        flow
    });
    red_debug!("{} running on thread {}", core.name(), core.thread_id());
    let _ = ready.send(());
    context
        .with_thread_default(|| main_loop.run())
        .unwrap_or_else(|_| red_critical!("{}: cannot run its loop", core.name()));
    // Run what is still queued on the context (sources of channel clients
    // that went away) before the thread ends.
    while context.iteration(false) {}
    drop(guard);
    let state = cell.borrow_mut().take();
    state.unwrap_or_else(|| DisplayState::new(1, 1))
}
