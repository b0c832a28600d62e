//! `RedChannelClient`: one remote client's connection to one channel
//! (abstract; one subclass per channel type).
//!
//! `docs/threading.md`: it runs in its channel's thread and is created there, while its
//! destruction may happen in any thread. It owns its channel
//! (RedChannelClient::channel ⇒ RedChannel) and points at its client without
//! owning it (RedChannelClient::client → RedClient).

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use glib::prelude::*;
use glib::subclass::prelude::*;

use crate::base::sync::lock;
use crate::model::channel::{Channel, ChannelExt};
use crate::model::client::Client;
use crate::model::messages::MainMessage;

/// `round-trip-time` while no PING/PONG round trip was measured.
const NO_ROUND_TRIP: i64 = -1;

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

    /// The generated accessors live in `ChannelClientPropertiesExt`, which
    /// is not re-exported: `ChannelClientExt` keeps `channel()`, `client()`
    /// and `is_connected()`, which read the fields directly.
    #[derive(Default, glib::Properties)]
    #[properties(wrapper_type = super::ChannelClient, ext_trait)]
    pub struct ChannelClient {
        /// RedChannelClient::channel ⇒ RedChannel (owning). GObject sets it
        /// to NULL on an object made without one: that leaves it unset.
        #[property(get = |s: &Self| s.channel.get().cloned(),
            set = |s: &Self, channel: Option<Channel>| {
                if let Some(channel) = channel {
                    let _ = s.channel.set(channel);
                }
            },
            type = Option<Channel>, construct_only, nick = "Channel",
            blurb = "The channel this client is connected to (owned)")]
        pub(crate) channel: OnceLock<Channel>,
        /// RedChannelClient::client → RedClient (plain).
        #[property(
            get,
            construct_only,
            nick = "Client",
            blurb = "The remote client this connection belongs to (not owned)"
        )]
        pub(crate) client: glib::WeakRef<Client>,
        #[property(get, nick = "Connected", blurb = "Whether the connection is still up")]
        pub(crate) connected: AtomicBool,
        /// The thread that last ran one of its handlers (a test hook).
        #[property(
            get,
            nick = "Handler thread id",
            blurb = "Kernel id of the thread that last ran one of its handlers, or 0"
        )]
        pub(crate) handler_thread_id: AtomicI64,
        /// The link's bandwidth as measured from how fast the kernel's
        /// send queue drains while it is not empty; notified (on the main
        /// thread) when it changes by more than a tenth, at most once a second.
        #[property(
            get,
            nick = "Bandwidth",
            blurb = "Measured bandwidth of the link to the client in bits per second, or 0 while unknown"
        )]
        pub(crate) bandwidth: AtomicU64,
        /// The linked connection; closed on disconnection.
        #[property(name = "round-trip-time",
            get = |s: &Self| crate::model::connection::round_trip(&s.obj())
                .map_or(NO_ROUND_TRIP, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX)),
            type = i64, minimum = NO_ROUND_TRIP, default = NO_ROUND_TRIP,
            nick = "Round-trip time",
            blurb = "Smoothed PING/PONG round trip in microseconds, or -1")]
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

    #[glib::derived_properties]
    impl ObjectImpl for ChannelClient {}

    impl Drop for ChannelClient {
        fn drop(&mut self) {
            // The last reference may go on any thread: only drop what is
            // thread-safe to drop. Sources left attached are destroyed here.
            let sources = std::mem::take(&mut *lock(&self.sources));
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
