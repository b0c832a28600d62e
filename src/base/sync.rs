//! The lock helper.
//!
//! A panic while a lock is held poisons it. The library never panics on
//! purpose (the C boundary catches what slips through), and every value it
//! guards stays consistent between statements, so a poisoned lock is taken
//! as it is rather than turning one caught panic into a crash later.

use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, ignoring poisoning.
pub fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A copy of what `mutex` holds.
pub fn get<T: Clone>(mutex: &Mutex<T>) -> T {
    lock(mutex).clone()
}

/// Stores `value` in `mutex`; true if it differs from the old one.
pub fn replace<T: PartialEq>(mutex: &Mutex<T>, value: T) -> bool {
    let mut guard = lock(mutex);
    if *guard == value {
        return false;
    }
    *guard = value;
    true
}
