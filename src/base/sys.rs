//! Thin wrappers over the few libc calls the library needs.

/// The kernel id of the calling thread, as `/proc/self/task` lists it and
/// Python's `threading.get_native_id()` returns it.
pub fn current_thread_id() -> i64 {
    thread_local! {
        // Asked once per thread: every channel handler notes its thread,
        // and gettid() is a system call each time.
        static ID: i64 = {
            // SAFETY: gettid() takes no arguments, cannot fail and touches
            // no memory.
            i64::from(unsafe { libc::gettid() })
        };
    }
    ID.with(|id| *id)
}

/// What went wrong in `error`, in words for the user: the C library's
/// message for its errno, translated (as `g_strerror`), without the
/// " (os error N)" that Rust's `Display` appends.
pub fn io_error_message(error: &std::io::Error) -> String {
    match error.raw_os_error() {
        Some(errno) => {
            // SAFETY: g_strerror takes any int and returns a NUL-terminated
            // UTF-8 string that GLib keeps for the life of the process.
            let message = unsafe { std::ffi::CStr::from_ptr(glib::ffi::g_strerror(errno)) };
            message.to_string_lossy().into_owned()
        }
        None => error.kind().to_string(),
    }
}

/// Bytes the kernel holds in a TCP socket's send queue, not yet
/// acknowledged by the peer (`SIOCOUTQ`); `None` where the socket does not
/// say (the call fails).
pub fn socket_send_queue(fd: std::os::fd::RawFd) -> Option<usize> {
    let mut queued: libc::c_int = 0;
    // SAFETY: SIOCOUTQ (TIOCOUTQ) writes one int through the pointer, which
    // points at a live local; a bad or non-socket fd only makes it fail.
    let result = unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut queued as *mut libc::c_int) };
    if result < 0 {
        return None;
    }
    usize::try_from(queued).ok()
}

/// The largest segment a TCP socket sends (`TCP_MAXSEG`); `None` where the
/// socket does not say (not TCP, or the call fails).
pub fn tcp_max_segment(fd: std::os::fd::RawFd) -> Option<usize> {
    let mut segment: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: TCP_MAXSEG writes one int through the pointer and its size
    // through `len`, both live locals of the sizes given; a bad or non-TCP
    // fd only makes it fail.
    let result = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_MAXSEG,
            &mut segment as *mut libc::c_int as *mut libc::c_void,
            &mut len,
        )
    };
    if result < 0 {
        return None;
    }
    usize::try_from(segment).ok().filter(|&s| s > 0)
}
