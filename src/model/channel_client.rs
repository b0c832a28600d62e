//! `RedChannelClient`: one remote client's connection to one channel
//! (abstract; one subclass per channel type).
//!
//! `docs/threading.md`: it runs in its channel's thread and is created there, while its
//! destruction may happen in any thread. It owns its channel
//! (RedChannelClient::channel ⇒ RedChannel) and points at its client without
//! owning it (RedChannelClient::client → RedClient).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use glib::prelude::*;
use glib::subclass::prelude::*;

use crate::base::sync::lock;
use crate::model::channel::{Channel, ChannelExt};
use crate::model::client::Client;
use crate::model::messages::MainMessage;

pub mod imp {
    use super::*;

    /// Matches `struct _RedChannelClientClass` in `red-channel-client.h`.
    #[repr(C)]
    pub struct ChannelClientClass {
        pub parent_class: glib::gobject_ffi::GObjectClass,
        pub padding: [glib::ffi::gpointer; 8],
    }

    // SAFETY: #[repr(C)] and starts with the parent class struct.
    unsafe impl ClassStruct for ChannelClientClass {
        type Type = ChannelClient;
    }

    #[derive(Default)]
    pub struct ChannelClient {
        /// RedChannelClient::channel ⇒ RedChannel (owning).
        pub(crate) channel: OnceLock<Channel>,
        /// RedChannelClient::client → RedClient (plain).
        pub(crate) client: glib::WeakRef<Client>,
        pub(crate) connected: AtomicBool,
        /// The thread that last ran one of its handlers (a test hook).
        pub(crate) handler_thread_id: std::sync::atomic::AtomicI64,
        /// The linked connection; closed on disconnection.
        pub(crate) io: Mutex<Option<crate::model::connection::ChannelIo>>,
        /// Socket watches and timers on the channel's core.
        pub(crate) sources: Mutex<Vec<glib::Source>>,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for ChannelClient {
        const NAME: &'static str = "RedChannelClient";
        const ABSTRACT: bool = true;
        type Type = super::ChannelClient;
        type ParentType = glib::Object;
        type Class = ChannelClientClass;
    }

    impl ObjectImpl for ChannelClient {
        fn properties() -> &'static [glib::ParamSpec] {
            static PROPS: OnceLock<Vec<glib::ParamSpec>> = OnceLock::new();
            PROPS.get_or_init(|| {
                vec![
                    glib::ParamSpecObject::builder::<Channel>("channel")
                        .nick("Channel")
                        .blurb("The channel this client is connected to (owned)")
                        .construct_only()
                        .build(),
                    glib::ParamSpecObject::builder::<Client>("client")
                        .nick("Client")
                        .blurb("The remote client this connection belongs to (not owned)")
                        .construct_only()
                        .build(),
                    glib::ParamSpecBoolean::builder("connected")
                        .nick("Connected")
                        .blurb("Whether the connection is still up")
                        .read_only()
                        .build(),
                    glib::ParamSpecInt64::builder("handler-thread-id")
                        .nick("Handler thread id")
                        .blurb("Kernel id of the thread that last ran one of its handlers, or 0")
                        .read_only()
                        .build(),
                    glib::ParamSpecInt64::builder("round-trip-time")
                        .nick("Round-trip time")
                        .blurb("Last measured PING/PONG round trip in microseconds, or -1")
                        .minimum(-1)
                        .default_value(-1)
                        .read_only()
                        .build(),
                ]
            })
        }

        fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
            match pspec.name() {
                "channel" => {
                    if let Ok(Some(channel)) = value.get::<Option<Channel>>() {
                        let _ = self.channel.set(channel);
                    }
                }
                "client" => {
                    if let Ok(Some(client)) = value.get::<Option<Client>>() {
                        self.client.set(Some(&client));
                    }
                }
                _ => unreachable!("GObject only sets registered properties"),
            }
        }

        fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
            match pspec.name() {
                "channel" => self.channel.get().to_value(),
                "client" => self.client.upgrade().to_value(),
                "connected" => self.connected.load(Ordering::SeqCst).to_value(),
                "handler-thread-id" => self.handler_thread_id.load(Ordering::SeqCst).to_value(),
                "round-trip-time" => crate::model::connection::round_trip(&self.obj())
                    .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
                    .unwrap_or(-1)
                    .to_value(),
                _ => unreachable!("GObject only reads registered properties"),
            }
        }
    }

    impl Drop for ChannelClient {
        fn drop(&mut self) {
            // The last reference may go on any thread: only drop what is
            // thread-safe to drop. Sources left attached are destroyed here.
            let sources = std::mem::take(self.sources.get_mut().unwrap_or_else(|e| e.into_inner()));
            for source in sources {
                source.destroy();
            }
        }
    }
}

glib::wrapper! {
    /// A remote client's connection to one channel (abstract).
    pub struct ChannelClient(ObjectSubclass<imp::ChannelClient>);
}

/// Implemented by the channel client subclasses.
pub trait ChannelClientImpl: ObjectImpl + ObjectSubclass<Type: IsA<ChannelClient>> {}

// SAFETY: subclass class structs start with RedChannelClientClass.
unsafe impl<T: ChannelClientImpl> IsSubclassable<T> for ChannelClient {}

/// Methods of every channel client.
pub trait ChannelClientExt: IsA<ChannelClient> + 'static {
    /// The channel (owned by the channel client); `None` only for an
    /// object made with g_object_new() outside the library.
    fn channel(&self) -> Option<Channel> {
        self.as_ref().imp().channel.get().cloned()
    }

    /// The remote client, if it still exists.
    fn client(&self) -> Option<Client> {
        self.as_ref().imp().client.upgrade()
    }

    /// Whether the connection is still up.
    fn is_connected(&self) -> bool {
        self.as_ref().imp().connected.load(Ordering::SeqCst)
    }

    /// Disconnects from any thread (`red_channel_client_disconnect()`): the
    /// work runs on the channel's thread.
    fn close_connection(&self) {
        let rcc = self.upcast_ref::<ChannelClient>();
        match rcc.channel() {
            Some(channel) if !channel.core().is_current_thread() => {
                crate::model::channel::request_disconnect(&channel, rcc, false)
            }
            _ => disconnect_on_own_thread(rcc),
        }
    }
}

impl<O: IsA<ChannelClient>> ChannelClientExt for O {}

/// Disconnection as `docs/threading.md` describes it, on the channel's thread: stop the
/// watches, close the socket, leave RedChannel::clients, then ask the main
/// thread (always through the main dispatcher) to drop the client's owning
/// reference.
pub(crate) fn disconnect_on_own_thread(rcc: &ChannelClient) {
    let imp = rcc.imp();
    let Some(channel) = rcc.channel() else {
        imp.connected.store(false, Ordering::SeqCst);
        return;
    };
    channel
        .core()
        .check_thread(&format!("disconnection of {}", rcc.type_().name()));
    if !imp.connected.swap(false, Ordering::SeqCst) {
        return;
    }
    red_debug!(
        "{} of channel {:?} {} disconnecting",
        rcc.type_().name(),
        channel.channel_type(),
        channel.id()
    );
    let sources = std::mem::take(&mut *lock(&imp.sources));
    for source in sources {
        source.destroy();
    }
    let io = lock(&imp.io).take();
    if let Some(io) = io {
        crate::model::connection::close(io);
    }
    channel.remove_client(rcc);
    rcc.notify("connected");
    if let Some(dispatcher) = channel.main_dispatcher() {
        dispatcher.send(MainMessage::ChannelClientLeft {
            client: imp.client.clone(),
            channel_client: rcc.clone(),
        });
    }
}

/// Builds a channel client of subclass `T` on `channel`'s thread and links it
/// both ways: RedChannel::clients and RedClient::channels.
pub(crate) fn new_channel_client<T>(channel: &Channel, client: &Client) -> T
where
    T: IsA<ChannelClient> + IsA<glib::Object> + glib::object::IsClass,
{
    channel.core().check_thread("RedChannelClient creation");
    let rcc: T = glib::Object::builder()
        .property("channel", channel)
        .property("client", client)
        .build();
    let base = rcc.upcast_ref::<ChannelClient>();
    let imp = base.imp();
    imp.connected.store(true, Ordering::SeqCst);
    channel.add_client(base);
    client.add_channel_client(base);
    // Reports cross threads only through the main dispatcher.
    if let Some(dispatcher) = channel.main_dispatcher() {
        dispatcher.send(MainMessage::ChannelClientJoined(base.clone()));
    }
    rcc
}
