//! `RedClient`: one remote SPICE client, grouping its channel clients.
//!
//! `docs/threading.md`: RedClient::channels ⇒ RedChannelClient (owning) and
//! RedClient::mcc → MainChannelClient, which here is a weak reference, so
//! it never dangles (spice-server's plain pointer can).

use std::any::{Any, TypeId};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use glib::prelude::*;
use glib::subclass::prelude::*;

use crate::base::clock::monotonic_ns;
use crate::base::core::Core;
use crate::base::dispatcher::Dispatcher;
use crate::base::enums::ChannelType;
use crate::base::live_objects::{CountedClass, Live};
use crate::base::sync::lock;
use crate::model::channel::ChannelExt;
use crate::model::channel_client::{ChannelClient, ChannelClientExt};
use crate::model::connection::with_io;
use crate::model::messages::MainMessage;
use crate::protocol::common_messages::{Disconnecting, Notify};
use crate::protocol::constants::{link_err, notify_severity, notify_visibility};

pub mod imp {
    use super::*;

    #[derive(Default, glib::Properties)]
    #[properties(wrapper_type = super::Client)]
    pub struct Client {
        /// The session's connection id.
        #[property(
            get,
            nick = "Id",
            blurb = "The SPICE connection id of this client's session"
        )]
        pub(crate) id: AtomicU32,
        /// The remote address, when known.
        #[property(get = |s: &Self| lock(&s.address).clone(), nick = "Address",
            blurb = "The remote address of the client's main channel")]
        pub(crate) address: Mutex<Option<String>>,
        /// RedClient::channels ⇒ RedChannelClient (owning).
        pub(crate) channels: Mutex<Vec<ChannelClient>>,
        /// RedClient::mcc → the main channel client (weak: never dangles).
        pub(crate) mcc: glib::WeakRef<ChannelClient>,
        pub(crate) main_core: OnceLock<Core>,
        pub(crate) main_dispatcher: OnceLock<Dispatcher<MainMessage>>,
        /// Set once the destruction request is scheduled, so it happens once.
        pub(crate) disconnecting: AtomicBool,
        /// What this client's channel clients share across threads, by
        /// type and id (spice-server's per-client GLZ dictionaries).
        pub(crate) shared: Mutex<Vec<SharedState>>,
        _live: Live<Client>,
    }

    /// One piece of [`Client::shared`](super::Client::shared) state.
    pub(crate) type SharedState = ((TypeId, u8), Arc<dyn Any + Send + Sync>);

    impl CountedClass for Client {
        const CLASS: crate::base::live_objects::Counted =
            crate::base::live_objects::Counted::Client;
    }

    #[glib::object_subclass]
    impl ObjectSubclass for Client {
        const NAME: &'static str = "RedClient";
        type Type = super::Client;
        type ParentType = glib::Object;
    }

    #[glib::derived_properties]
    impl ObjectImpl for Client {}
}

glib::wrapper! {
    /// A remote SPICE client.
    pub struct Client(ObjectSubclass<imp::Client>);
}

impl Client {
    /// A client for session `id`; on the main thread.
    pub(crate) fn new(
        id: u32,
        address: Option<&str>,
        main_core: &Core,
        main_dispatcher: &Dispatcher<MainMessage>,
    ) -> Client {
        main_core.check_thread("RedClient creation");
        let client: Client = glib::Object::new();
        let imp = client.imp();
        imp.id.store(id, Ordering::SeqCst);
        *lock(&imp.address) = address.map(str::to_string);
        let _ = imp.main_core.set(main_core.clone());
        let _ = imp.main_dispatcher.set(main_dispatcher.clone());
        client
    }

    /// The client's channel clients.
    pub fn channel_clients(&self) -> Vec<ChannelClient> {
        lock(&self.imp().channels).clone()
    }

    /// The main channel client, while it exists.
    pub fn main_channel_client(&self) -> Option<ChannelClient> {
        self.imp().mcc.upgrade()
    }

    /// The state of type `T` and id `id` this client's channel clients
    /// share, made by `make` for the first to ask; from any thread. The
    /// model keeps it without knowing what it is, so the channels that use
    /// it define it.
    pub(crate) fn shared<T: Any + Send + Sync>(&self, id: u8, make: impl FnOnce() -> T) -> Arc<T> {
        let key = (TypeId::of::<T>(), id);
        let mut shared = lock(&self.imp().shared);
        let found = shared
            .iter()
            .find(|(k, _)| *k == key)
            .and_then(|(_, state)| Arc::clone(state).downcast::<T>().ok());
        found.unwrap_or_else(|| {
            let state = Arc::new(make());
            shared.push((key, state.clone()));
            state
        })
    }

    /// Adds to RedClient::channels (owning); from the channel's thread.
    pub(crate) fn add_channel_client(&self, rcc: &ChannelClient) {
        let channel_type = rcc.channel().map(|c| c.channel_type());
        if channel_type == Some(ChannelType::Main) {
            self.imp().mcc.set(Some(rcc));
        }
        lock(&self.imp().channels).push(rcc.clone());
    }

    /// Removes from RedClient::channels, dropping the owning reference
    /// outside the lock; on the main thread. True if it was there.
    pub(crate) fn remove_channel_client(&self, rcc: &ChannelClient) -> bool {
        let removed = {
            let mut channels = lock(&self.imp().channels);
            channels
                .iter()
                .position(|c| c == rcc)
                .map(|i| channels.remove(i))
        };
        removed.is_some()
    }

    /// Disconnects the whole client, from any thread: a request is scheduled
    /// on the main thread (always through the main dispatcher). The client
    /// is told why (NOTIFY, then DISCONNECTING) before its channels close.
    pub fn disconnect(&self) {
        self.schedule_destruction(true);
    }

    /// The main channel client has gone: the rest of the client follows,
    /// with nobody left to tell.
    pub(crate) fn main_channel_left(&self) {
        self.schedule_destruction(false);
    }

    fn schedule_destruction(&self, tell_client: bool) {
        if self.imp().disconnecting.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Some(dispatcher) = self.imp().main_dispatcher.get() {
            dispatcher.send(MainMessage::DestroyClient {
                client: self.clone(),
                tell_client,
            });
        }
    }

    /// Tells the client, on its main channel, that the server ends its
    /// session and why: NOTIFY (spice-gtk logs it), then DISCONNECTING.
    /// Best effort: what the socket does not take at once is lost with it.
    /// On the main thread.
    pub(crate) fn say_goodbye(&self, why: &str) {
        let Some(mcc) = self.main_channel_client() else {
            return;
        };
        let time_stamp = monotonic_ns();
        let _ = with_io(&mcc, |io, _| {
            io.out.send(&Notify {
                time_stamp,
                severity: notify_severity::WARN,
                visibility: notify_visibility::HIGH,
                what: 0,
                message: why,
            })?;
            io.out.send(&Disconnecting {
                time_stamp,
                reason: link_err::OK,
            })
        });
    }

    /// spice-server's red_client_destroy, on the main thread: disconnect every
    /// channel client on its own thread (waiting for each), then drop them.
    pub(crate) fn destroy(&self) {
        if let Some(core) = self.imp().main_core.get() {
            core.check_thread("RedClient destruction");
        }
        self.imp().disconnecting.store(true, Ordering::SeqCst);
        for rcc in self.channel_clients() {
            match rcc.channel() {
                Some(channel)
                    if !crate::model::channel::ChannelExt::core(&channel).is_current_thread() =>
                {
                    if rcc.is_connected() {
                        crate::model::channel::request_disconnect(&channel, &rcc, true);
                    }
                }
                _ => crate::model::channel_client::disconnect_on_own_thread(&rcc),
            }
        }
        let channels = std::mem::take(&mut *lock(&self.imp().channels));
        drop(channels);
    }
}
