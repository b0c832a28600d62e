//! `RedChannel`: the abstract base of every channel.
//!
//! Channels are created and destroyed on the main thread and run on the
//! thread of their core; `RedChannel::clients` lists their channel clients
//! without owning them (the `RedClient` does). See `docs/threading.md`.

use std::sync::{Mutex, OnceLock};

use glib::prelude::*;
use glib::subclass::prelude::*;

use crate::base::core::Core;
use crate::base::dispatcher::Dispatcher;
use crate::base::enums::ChannelType;
use crate::base::sync::lock;
use crate::model::channel_client::ChannelClient;
use crate::model::messages::MainMessage;

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

    #[derive(Default)]
    pub struct Channel {
        pub(crate) channel_type: OnceLock<ChannelType>,
        pub(crate) id: OnceLock<u32>,
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

    impl ObjectImpl for Channel {
        fn properties() -> &'static [glib::ParamSpec] {
            static PROPS: OnceLock<Vec<glib::ParamSpec>> = OnceLock::new();
            PROPS.get_or_init(|| {
                vec![
                    glib::ParamSpecEnum::builder_with_default("channel-type", ChannelType::Main)
                        .nick("Channel type")
                        .blurb("The SPICE channel type")
                        .construct_only()
                        .build(),
                    glib::ParamSpecUInt::builder("id")
                        .nick("Channel id")
                        .blurb(
                            "The channel id (the display number for display and cursor channels)",
                        )
                        .maximum(255)
                        .construct_only()
                        .build(),
                    glib::ParamSpecBoxed::builder::<glib::MainContext>("main-context")
                        .nick("Main context")
                        .blurb("The core of the channel: the context its timers and watches use")
                        .read_only()
                        .build(),
                    glib::ParamSpecInt64::builder("thread-id")
                        .nick("Thread id")
                        .blurb("Kernel id of the thread running the channel's core (for tests)")
                        .read_only()
                        .build(),
                ]
            })
        }

        fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
            match pspec.name() {
                "channel-type" => {
                    let _ = self
                        .channel_type
                        .set(value.get().expect("type checked by GObject"));
                }
                "id" => {
                    let _ = self.id.set(value.get().expect("type checked by GObject"));
                }
                _ => unreachable!("GObject only sets registered properties"),
            }
        }

        fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
            match pspec.name() {
                "channel-type" => self.channel_type().to_value(),
                "id" => self.id().to_value(),
                "main-context" => self.core.get().map(|c| c.context().clone()).to_value(),
                "thread-id" => self
                    .core
                    .get()
                    .map(|c| c.thread_id())
                    .unwrap_or(0)
                    .to_value(),
                _ => unreachable!("GObject only reads registered properties"),
            }
        }

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
            *self.channel_type.get().unwrap_or(&ChannelType::Main)
        }
        pub fn id(&self) -> u32 {
            *self.id.get().unwrap_or(&0)
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
