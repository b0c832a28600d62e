//! Thin wrappers over the few libc calls the library needs.

/// The kernel id of the calling thread, as `/proc/self/task` lists it and
/// Python's `threading.get_native_id()` returns it.
pub fn current_thread_id() -> i64 {
    // SAFETY: gettid() takes no arguments, cannot fail and touches no memory.
    i64::from(unsafe { libc::gettid() })
}
