//! The core interface: the `GMainContext` (and its thread) on which an
//! object's timers and socket watches live, as spice-server's
//! `SpiceCoreInterface`. The server has the main core; every channel has the
//! core of its thread (the main core for main-thread channels).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// A `GMainContext` together with the thread that runs it.
#[derive(Clone, Debug)]
pub struct Core(Arc<CoreInner>);

#[derive(Debug)]
struct CoreInner {
    context: glib::MainContext,
    thread_id: AtomicI64,
    name: String,
}

impl Core {
    /// A core for `context`, run by the thread whose kernel id is `thread_id`.
    pub fn new(name: &str, context: glib::MainContext, thread_id: i64) -> Self {
        Core(Arc::new(CoreInner {
            context,
            thread_id: AtomicI64::new(thread_id),
            name: name.to_string(),
        }))
    }

    /// A core no thread runs, for objects made with g_object_new() outside
    /// the library: every thread check on it fails with a critical.
    pub fn detached() -> Self {
        Core::new("detached", glib::MainContext::new(), 0)
    }

    pub fn context(&self) -> &glib::MainContext {
        &self.0.context
    }

    /// The kernel thread id (`gettid()`) of the thread running this core.
    pub fn thread_id(&self) -> i64 {
        self.0.thread_id.load(Ordering::SeqCst)
    }

    /// Records the thread that runs the core from now on (a worker core
    /// moves between its thread and, while stopped, the main thread).
    pub(crate) fn set_thread_id(&self, thread_id: i64) {
        self.0.thread_id.store(thread_id, Ordering::SeqCst);
    }

    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// True when called on the core's thread.
    pub fn is_current_thread(&self) -> bool {
        crate::base::sys::current_thread_id() == self.thread_id()
    }

    /// Checks that the caller runs on this core's thread; a critical naming
    /// `what` otherwise. Returns whether the check passed.
    pub fn check_thread(&self, what: &str) -> bool {
        if self.is_current_thread() {
            return true;
        }
        red_critical!(
            "{} runs on thread {} but belongs to core {} of thread {}",
            what,
            crate::base::sys::current_thread_id(),
            self.0.name,
            self.thread_id()
        );
        false
    }

    /// Adds a timer on this core and returns its source, to destroy it early.
    pub fn timeout_add<F>(&self, interval: std::time::Duration, func: F) -> glib::Source
    where
        F: FnMut() -> glib::ControlFlow + Send + 'static,
    {
        let source = glib::timeout_source_new(interval, None, glib::Priority::DEFAULT, func);
        source.attach(Some(&self.0.context));
        source
    }

    /// Adds a watch on file descriptor `fd` on this core. The caller keeps
    /// the descriptor open while the source lives.
    pub fn fd_watch<F>(
        &self,
        fd: std::os::fd::RawFd,
        condition: glib::IOCondition,
        func: F,
    ) -> glib::Source
    where
        F: FnMut(std::os::fd::RawFd, glib::IOCondition) -> glib::ControlFlow + Send + 'static,
    {
        let source = glib_unix::fd_source_new(fd, condition, None, glib::Priority::DEFAULT, func);
        source.attach(Some(&self.0.context));
        source
    }
}
