//! Dispatchers carry typed messages from one thread to another.
//!
//! As in spice-server, they are the only way requests cross threads
//! (`docs/threading.md`). The main dispatcher delivers to the server's main context;
//! each display's worker dispatcher delivers to its `RedWorker`. A message is
//! sent asynchronously, or synchronously: the sender then waits until the
//! handler has run. Waiting on a context that nobody runs would deadlock, so
//! a synchronous sender that can own the target context runs it itself.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures_channel::mpsc;
use futures_util::StreamExt;

struct Envelope<M> {
    message: M,
    done: Option<std::sync::mpsc::SyncSender<()>>,
}

/// Messages a handler runs before it lets the target context's other
/// sources (the application's timers, other sockets) have a turn.
const MESSAGES_PER_TURN: usize = 64;

/// The sending side: cheap to clone, usable from any thread.
pub struct Dispatcher<M> {
    name: &'static str,
    sender: mpsc::UnboundedSender<Envelope<M>>,
    target: glib::MainContext,
    /// Messages sent and not handled yet.
    queued: Arc<AtomicUsize>,
}

impl<M> Clone for Dispatcher<M> {
    fn clone(&self) -> Self {
        Dispatcher {
            name: self.name,
            sender: self.sender.clone(),
            target: self.target.clone(),
            queued: self.queued.clone(),
        }
    }
}

impl<M> std::fmt::Debug for Dispatcher<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("name", &self.name)
            .finish()
    }
}

/// The receiving side, to attach on the target context's thread.
pub struct DispatcherReceiver<M> {
    name: &'static str,
    receiver: mpsc::UnboundedReceiver<Envelope<M>>,
    target: glib::MainContext,
    queued: Arc<AtomicUsize>,
}

impl<M: Send + 'static> Dispatcher<M> {
    /// A dispatcher delivering to `target`; attach the receiver there.
    pub fn new(name: &'static str, target: &glib::MainContext) -> (Self, DispatcherReceiver<M>) {
        let (sender, receiver) = mpsc::unbounded();
        let queued = Arc::new(AtomicUsize::new(0));
        (
            Dispatcher {
                name,
                sender: sender.clone(),
                target: target.clone(),
                queued: queued.clone(),
            },
            DispatcherReceiver {
                name,
                receiver,
                target: target.clone(),
                queued,
            },
        )
    }

    /// The context the handler runs on.
    pub fn target(&self) -> &glib::MainContext {
        &self.target
    }

    /// Messages sent and not handled yet: senders that can wait (a
    /// client's socket can) hold back while it is high.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::SeqCst)
    }

    /// Queues `message`; false when the receiving side is gone.
    pub fn send(&self, message: M) -> bool {
        self.queued.fetch_add(1, Ordering::SeqCst);
        let ok = self
            .sender
            .unbounded_send(Envelope {
                message,
                done: None,
            })
            .is_ok();
        if !ok {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            red_debug!("dispatcher {}: receiver gone, message dropped", self.name);
        }
        ok
    }

    /// Queues `message` and waits until the handler has run it; false when
    /// the receiving side is gone (the handler then never runs).
    pub fn send_sync(&self, message: M) -> bool {
        let (done_tx, done_rx) = std::sync::mpsc::sync_channel(1);
        self.queued.fetch_add(1, Ordering::SeqCst);
        if self
            .sender
            .unbounded_send(Envelope {
                message,
                done: Some(done_tx),
            })
            .is_err()
        {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            red_debug!("dispatcher {}: receiver gone, message dropped", self.name);
            return false;
        }
        // If no other thread runs the target context (we own it, or nobody
        // does yet), run it here: blocking would wait forever.
        if let Ok(_guard) = self.target.acquire() {
            loop {
                match done_rx.try_recv() {
                    Ok(()) => return true,
                    Err(std::sync::mpsc::TryRecvError::Disconnected) => return false,
                    Err(std::sync::mpsc::TryRecvError::Empty) => {
                        self.target.iteration(true);
                    }
                }
            }
        }
        done_rx.recv().is_ok()
    }
}

impl<M: 'static> DispatcherReceiver<M> {
    /// Runs `handler` on the target context for every message, in order,
    /// until the handler breaks or every sender is gone. Call on the thread
    /// that runs the target context (or before anyone runs it). Aborting
    /// the returned task (on that thread) detaches the handler.
    pub fn attach<F>(self, mut handler: F) -> Option<glib::JoinHandle<()>>
    where
        F: FnMut(M) -> ControlFlow<()> + 'static,
    {
        let DispatcherReceiver {
            name,
            mut receiver,
            target,
            queued,
        } = self;
        let task = async move {
            let mut this_turn = 0;
            while let Some(envelope) = receiver.next().await {
                let flow = handler(envelope.message);
                queued.fetch_sub(1, Ordering::SeqCst);
                if let Some(done) = envelope.done {
                    let _ = done.send(());
                }
                if flow.is_break() {
                    break;
                }
                this_turn += 1;
                if this_turn == MESSAGES_PER_TURN {
                    // A burst (a client flooding input) must not keep the
                    // context from its other sources.
                    this_turn = 0;
                    yield_now().await;
                }
            }
            // Dropping the receiver makes later sends fail instead of
            // queueing for a handler that will never run.
            red_debug!("dispatcher {name}: closed");
        };
        // with_thread_default acquires the context: it fails when another
        // thread runs it, i.e. when called off the target's thread.
        let handle = target.with_thread_default(|| target.spawn_local(task)).ok();
        if handle.is_none() {
            red_critical!("dispatcher {name}: attached off its context's thread");
        }
        handle
    }
}

/// Returns to the context once, so its other ready sources run before the
/// task goes on.
async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await
}
