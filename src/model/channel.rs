//! `RedChannel`: the abstract base of every channel.
//!
//! Channels are created and destroyed on the main thread and run on the
//! thread of their core; `RedChannel::clients` lists their channel clients
//! without owning them (the `RedClient` does). See `docs/threading.md`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use glib::prelude::*;
use glib::subclass::prelude::*;

use crate::base::core::Core;
use crate::base::dispatcher::Dispatcher;
use crate::base::enums::ChannelType;
use crate::base::sync::lock;
use crate::model::channel_client::ChannelClient;
use crate::model::messages::MainMessage;

/// The default `channel-type`, which GObject gives a channel made without one.
const DEFAULT_CHANNEL_TYPE: ChannelType = ChannelType::Main;

/// A thread other than the main one that runs channels (a display's
/// `RedWorker`): what channel code may ask of it through its dispatcher.
pub(crate) trait ChannelThread: Send + Sync + 'static {
    /// Disconnects `rcc` on that thread; `wait` waits until done.
    fn disconnect(&self, rcc: &ChannelClient, wait: bool);
}

/// How requests reach a channel's thread: the main dispatcher for
/// main-thread channels, the worker's dispatcher for a display's channels.
#[derive(Clone)]
pub(crate) enum CoreDispatcher {
    Main(Dispatcher<MainMessage>),
    Thread(std::sync::Arc<dyn ChannelThread>),
}

/// Asks `channel`'s thread to disconnect `rcc`; `wait` waits until done.
pub(crate) fn request_disconnect(channel: &Channel, rcc: &ChannelClient, wait: bool) {
    let Some(dispatcher) = channel.imp().core_dispatcher.get() else {
        return;
    };
    match dispatcher {
        CoreDispatcher::Main(d) => {
            let m = MainMessage::DisconnectChannelClient(rcc.clone());
            if wait {
                d.send_sync(m)
            } else {
                d.send(m)
            };
        }
        CoreDispatcher::Thread(thread) => thread.disconnect(rcc, wait),
    }
}

pub mod imp {
    use super::*;

    /// Matches `struct _RedChannelClass` in `red-channel.h`.
    #[repr(C)]
    pub struct ChannelClass {
        pub parent_class: glib::gobject_ffi::GObjectClass,
        pub padding: [glib::ffi::gpointer; 8],
    }

    // SAFETY: the struct is #[repr(C)] and starts with the parent class
    // struct, as GObject requires of a class struct.
    unsafe impl ClassStruct for ChannelClass {
        type Type = Channel;
    }

    /// The generated accessors live in `ChannelPropertiesExt`, which is not
    /// re-exported: `ChannelExt` keeps `channel_type()` and `id()`, which
    /// read the fields directly.
    #[derive(Default, glib::Properties)]
    #[properties(wrapper_type = super::Channel, ext_trait)]
    pub struct Channel {
        #[property(get = Self::channel_type, construct_only, nick = "Channel type",
            blurb = "The SPICE channel type", builder(DEFAULT_CHANNEL_TYPE))]
        pub(crate) channel_type: OnceLock<ChannelType>,
        #[property(
            get,
            construct_only,
            maximum = 255,
            nick = "Channel id",
            blurb = "The channel id (the display number for display and cursor channels)"
        )]
        pub(crate) id: AtomicU32,
        #[property(name = "main-context", get = |s: &Self| s.core.get().map(|c| c.context().clone()),
            type = Option<glib::MainContext>, nick = "Main context",
            blurb = "The core of the channel: the context its timers and watches use")]
        #[property(name = "thread-id",
            get = |s: &Self| s.core.get().map(Core::thread_id).unwrap_or_default(), type = i64,
            nick = "Thread id",
            blurb = "Kernel id of the thread running the channel's core (for tests)")]
        pub(crate) core: OnceLock<Core>,
        pub(crate) main_core: OnceLock<Core>,
        pub(crate) main_dispatcher: OnceLock<Dispatcher<MainMessage>>,
        pub(crate) core_dispatcher: OnceLock<CoreDispatcher>,
        /// RedChannel::clients → RedChannelClient (plain links).
        pub(crate) clients: Mutex<Vec<glib::WeakRef<ChannelClient>>>,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for Channel {
        const NAME: &'static str = "RedChannel";
        const ABSTRACT: bool = true;
        type Type = super::Channel;
        type ParentType = glib::Object;
        type Class = ChannelClass;
    }

    #[glib::derived_properties]
    impl ObjectImpl for Channel {
        fn dispose(&self) {
            // Channels are destroyed on the main thread.
            if let Some(main_core) = self.main_core.get() {
                main_core.check_thread(&format!(
                    "disposal of {} {}",
                    self.obj().type_().name(),
                    self.id()
                ));
            }
        }
    }

    impl Channel {
        pub fn channel_type(&self) -> ChannelType {
            self.channel_type
                .get()
                .copied()
                .unwrap_or(DEFAULT_CHANNEL_TYPE)
        }
        pub fn id(&self) -> u32 {
            self.id.load(Ordering::SeqCst)
        }
    }
}

glib::wrapper! {
    /// A SPICE channel (abstract).
    pub struct Channel(ObjectSubclass<imp::Channel>);
}

/// Implemented by the channel subclasses.
pub trait ChannelImpl: ObjectImpl + ObjectSubclass<Type: IsA<Channel>> {}

// SAFETY: the subclass class struct starts with RedChannelClass, as every
// ChannelImpl's default class struct does.
unsafe impl<T: ChannelImpl> IsSubclassable<T> for Channel {}

/// Methods of every channel.
pub trait ChannelExt: IsA<Channel> + 'static {
    /// The channel's SPICE type.
    fn channel_type(&self) -> ChannelType {
        self.as_ref().imp().channel_type()
    }

    /// The channel id.
    fn id(&self) -> u32 {
        self.as_ref().imp().id()
    }

    /// The channel's core (spice-server's `red_channel_get_core_interface`).
    fn core(&self) -> &Core {
        self.as_ref().imp().core.get_or_init(Core::detached)
    }

    /// The main dispatcher, for requests to the main thread.
    fn main_dispatcher(&self) -> Option<&Dispatcher<MainMessage>> {
        self.as_ref().imp().main_dispatcher.get()
    }

    /// The channel clients connected to this channel (live ones only).
    fn clients(&self) -> Vec<ChannelClient> {
        let clients = lock(&self.as_ref().imp().clients);
        clients.iter().filter_map(|w| w.upgrade()).collect()
    }

    /// Adds `rcc` to RedChannel::clients; on the channel's thread.
    fn add_client(&self, rcc: &ChannelClient) {
        self.core().check_thread("RedChannel::add_client");
        let mut clients = lock(&self.as_ref().imp().clients);
        clients.retain(|w| w.upgrade().is_some());
        clients.push(rcc.downgrade());
    }

    /// Removes `rcc` from RedChannel::clients; true if it was there.
    fn remove_client(&self, rcc: &ChannelClient) -> bool {
        let mut clients = lock(&self.as_ref().imp().clients);
        let before = clients.len();
        clients.retain(|w| w.upgrade().is_some_and(|c| &c != rcc));
        clients.len() != before
    }
}

impl<O: IsA<Channel>> ChannelExt for O {}

/// Builds a channel of subclass `T` on `core`; on the main thread.
pub(crate) fn new_channel<T: IsA<Channel> + IsA<glib::Object> + glib::object::IsClass>(
    channel_type: ChannelType,
    id: u32,
    core: &Core,
    main_core: &Core,
    main_dispatcher: &Dispatcher<MainMessage>,
    core_dispatcher: CoreDispatcher,
) -> T {
    main_core.check_thread("RedChannel creation");
    let channel: T = glib::Object::builder()
        .property("channel-type", channel_type)
        .property("id", id)
        .build();
    let imp = channel.upcast_ref::<Channel>().imp();
    let _ = imp.core.set(core.clone());
    let _ = imp.main_core.set(main_core.clone());
    let _ = imp.main_dispatcher.set(main_dispatcher.clone());
    let _ = imp.core_dispatcher.set(core_dispatcher);
    channel
}
