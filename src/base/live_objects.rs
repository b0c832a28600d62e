//! Live-object counts per class, so tests can prove that everything of a
//! client is finalized after it leaves (`red_debug_get_live_objects()`).

use std::sync::atomic::{AtomicI64, Ordering};

macro_rules! counters {
    ($($name:ident => $gtype:literal),+ $(,)?) => {
        /// The classes whose instances are counted.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Counted { $($name),+ }

        static COUNTS: [AtomicI64; [$($gtype),+].len()] =
            [$({ let _ = $gtype; AtomicI64::new(0) }),+];

        impl Counted {
            /// Every counted class, in declaration order.
            pub const ALL: &'static [Counted] = &[$(Counted::$name),+];

            /// The GType name of the class.
            pub fn type_name(self) -> &'static str {
                match self { $(Counted::$name => $gtype),+ }
            }
        }
    };
}

counters! {
    Server => "RedServer",
    Client => "RedClient",
    MainChannel => "RedMainChannel",
    MainChannelClient => "RedMainChannelClient",
    InputsChannel => "RedInputsChannel",
    InputsChannelClient => "RedInputsChannelClient",
    DisplayChannel => "RedDisplayChannel",
    DisplayChannelClient => "RedDisplayChannelClient",
    CursorChannel => "RedCursorChannel",
    CursorChannelClient => "RedCursorChannelClient",
    Display => "RedDisplay",
    Worker => "RedWorker",
}

/// Counts one more live instance of `class` (call from `constructed`).
pub fn created(class: Counted) {
    COUNTS[class as usize].fetch_add(1, Ordering::SeqCst);
}

/// Counts one fewer (call from `finalize`, i.e. `Drop` of the imp struct).
pub fn finalized(class: Counted) {
    COUNTS[class as usize].fetch_sub(1, Ordering::SeqCst);
}

/// The number of live instances of the class named `type_name`, or `None`
/// for a name that is not counted.
pub fn count(type_name: &str) -> Option<i64> {
    Counted::ALL
        .iter()
        .find(|c| c.type_name() == type_name)
        .map(|c| COUNTS[*c as usize].load(Ordering::SeqCst))
}

/// A class whose instances are counted.
pub trait CountedClass {
    const CLASS: Counted;
}

/// Holding one in an imp struct counts the instance from construction to
/// finalization (its `Default` counts up, its `Drop` counts down).
pub struct Live<T: CountedClass>(std::marker::PhantomData<fn() -> T>);

impl<T: CountedClass> Default for Live<T> {
    fn default() -> Self {
        created(T::CLASS);
        Live(std::marker::PhantomData)
    }
}

impl<T: CountedClass> Drop for Live<T> {
    fn drop(&mut self) {
        finalized(T::CLASS);
    }
}

impl<T: CountedClass> std::fmt::Debug for Live<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Live({})", T::CLASS.type_name())
    }
}
