//! Dispatchers carry typed messages from one thread to another.
//!
//! As in spice-server, they are the only way requests cross threads
//! (`docs/threading.md`). The main dispatcher delivers to the server's main context;
//! each display's worker dispatcher delivers to its `RedWorker`. A message is
//! sent asynchronously, or synchronously: the sender then waits until the
//! handler has run. Waiting on a context that nobody runs would deadlock, so
//! a synchronous sender that can own the target context runs it itself.

use std::ops::ControlFlow;

use futures_channel::mpsc;
use futures_util::StreamExt;

struct Envelope<M> {
    message: M,
    done: Option<std::sync::mpsc::SyncSender<()>>,
}

/// The sending side: cheap to clone, usable from any thread.
pub struct Dispatcher<M> {
    name: &'static str,
    sender: mpsc::UnboundedSender<Envelope<M>>,
    target: glib::MainContext,
}

impl<M> Clone for Dispatcher<M> {
    fn clone(&self) -> Self {
        Dispatcher {
            name: self.name,
            sender: self.sender.clone(),
            target: self.target.clone(),
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
}

impl<M: Send + 'static> Dispatcher<M> {
    /// A dispatcher delivering to `target`; attach the receiver there.
    pub fn new(name: &'static str, target: &glib::MainContext) -> (Self, DispatcherReceiver<M>) {
        let (sender, receiver) = mpsc::unbounded();
        (
            Dispatcher {
                name,
                sender: sender.clone(),
                target: target.clone(),
            },
            DispatcherReceiver {
                name,
                receiver,
                target: target.clone(),
            },
        )
    }

    /// The context the handler runs on.
    pub fn target(&self) -> &glib::MainContext {
        &self.target
    }

    /// Queues `message`; false when the receiving side is gone.
    pub fn send(&self, message: M) -> bool {
        let ok = self
            .sender
            .unbounded_send(Envelope {
                message,
                done: None,
            })
            .is_ok();
        if !ok {
            red_debug!("dispatcher {}: receiver gone, message dropped", self.name);
        }
        ok
    }

    /// Queues `message` and waits until the handler has run it; false when
    /// the receiving side is gone (the handler then never runs).
    pub fn send_sync(&self, message: M) -> bool {
        let (done_tx, done_rx) = std::sync::mpsc::sync_channel(1);
        if self
            .sender
            .unbounded_send(Envelope {
                message,
                done: Some(done_tx),
            })
            .is_err()
        {
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
        } = self;
        let task = async move {
            while let Some(envelope) = receiver.next().await {
                let flow = handler(envelope.message);
                if let Some(done) = envelope.done {
                    let _ = done.send(());
                }
                if flow.is_break() {
                    break;
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
