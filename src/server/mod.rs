//! `RedServer`: spice-server's reds. Owns the main and inputs channels, the
//! displays and the clients; runs on its main context, where every signal
//! towards the application is emitted.
//!
//! Beside the object: its properties ([`settings`]), the link stage a
//! connection goes through ([`link_stage`]), what happens to a connection
//! that linked ([`admission`]), tickets ([`ticket`]), failed
//! authentications ([`auth_throttle`]) and `RedDisplay`
//! ([`display`]), the application's side of a display's worker.

mod admission;
pub mod auth_throttle;
pub mod display;
pub mod link_stage;
mod listener;
mod sasl;
pub mod settings;
pub mod ticket;
mod tls;

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use gio::prelude::*;
use glib::subclass::prelude::*;
use glib::subclass::Signal;

use crate::base::core::Core;
use crate::base::dispatcher::Dispatcher;
use crate::base::enums::{AuthMode, ChannelType, ImageCompression, StreamingVideo, TicketFlags};
use crate::base::error::RedError;
use crate::base::i18n::gettext;
use crate::base::live_objects::{Counted, CountedClass, Live};
use crate::base::sync::lock;
use crate::channels::inputs::InputsChannel;
use crate::channels::main::{MainChannel, MainChannelClient};
use crate::display::stream;
use crate::model::channel::{new_channel, CoreDispatcher};
use crate::model::channel_client::{disconnect_on_own_thread, ChannelClient, ChannelClientExt};
use crate::model::client::Client;
use crate::model::messages::{InputEvent, MainMessage};
use crate::protocol::constants::{keyboard_modifier, mouse_mode};
use crate::protocol::inputs_messages::KeyModifiers;
use auth_throttle::AuthThrottle;
use display::Display;
use listener::{bind, bind_unix, Listener};
use settings::{
    ListenAddress, Settings, DEFAULT_ADDRESS, DEFAULT_SASL_APP_NAME, DEFAULT_TLS_PORT,
    DEFAULT_VIDEO_CODECS,
};
use ticket::{KeyPool, Ticket};

pub use settings::parse_uuid;

/// The lock keys SPICE knows (Scroll, Num and Caps Lock).
const LOCK_KEYS: u32 = (keyboard_modifier::SCROLL_LOCK
    | keyboard_modifier::NUM_LOCK
    | keyboard_modifier::CAPS_LOCK) as u32;

pub mod imp {
    use super::*;

    #[derive(glib::Properties)]
    #[properties(wrapper_type = super::Server)]
    pub struct Server {
        #[property(name = "address", get = |s: &Self| Some(lock(&s.settings).address.clone()),
            set = Self::set_address, type = Option<String>, nullable,
            default = Some(DEFAULT_ADDRESS), explicit_notify,
            nick = "Address",
            blurb = "The IP address to listen on, or unix:PATH or unix:@NAME for a Unix socket")]
        #[property(name = "port", get = |s: &Self| lock(&s.settings).port,
            set = Self::set_port, type = u32, maximum = 65535, explicit_notify,
            nick = "Port",
            blurb = "The TCP port to listen on; 0 picks a free one, readable after start")]
        #[property(name = "tls-port", get = |s: &Self| lock(&s.settings).tls_port,
            set = Self::set_tls_port, type = i32, minimum = -1, maximum = 65535,
            default = DEFAULT_TLS_PORT, explicit_notify, nick = "TLS port",
            blurb = "The TLS port, or -1 for none; 0 picks a free one, readable after start")]
        #[property(name = "x509-cert-file",
            get = |s: &Self| lock(&s.settings).x509_cert_file.clone(),
            set = Self::set_x509_cert_file, type = Option<String>, nullable, explicit_notify,
            nick = "X.509 certificate file",
            blurb = "PEM file with the server's certificate (and its chain) for TLS")]
        #[property(name = "x509-key-file",
            get = |s: &Self| lock(&s.settings).x509_key_file.clone(),
            set = Self::set_x509_key_file, type = Option<String>, nullable, explicit_notify,
            nick = "X.509 key file", blurb = "PEM file with the private key of the certificate")]
        #[property(name = "x509-key-password", set = Self::set_x509_key_password,
            type = Option<String>, nullable, nick = "X.509 key password",
            blurb = "The password of an encrypted x509-key-file")]
        #[property(name = "x509-cacert-file",
            get = |s: &Self| lock(&s.settings).x509_cacert_file.clone(),
            set = Self::set_x509_cacert_file, type = Option<String>, nullable, explicit_notify,
            nick = "X.509 CA certificate file",
            blurb = "PEM file with the CA that client certificates must chain to, if any")]
        #[property(name = "tls-certificate",
            get = Self::tls_certificate, set = Self::set_tls_certificate, type = Option<gio::TlsCertificate>, nullable,
            explicit_notify, nick = "TLS certificate",
            blurb = "The certificate with its private key for TLS (instead of the files)")]
        #[property(name = "secure-channels",
            get = |s: &Self| glib::StrV::from(lock(&s.settings).secure_channels.clone()),
            set = Self::set_secure_channels, type = glib::StrV, explicit_notify, nick = "Secure channels",
            blurb = "Channels that accept TLS links only: main, display, inputs, cursor, or all")]
        #[property(name = "password", set = Self::set_password, type = Option<String>,
            nullable, nick = "Password",
            blurb = "The ticket clients must present; setting it selects ticket authentication")]
        #[property(name = "auth", get = |s: &Self| lock(&s.settings).auth,
            set = Self::set_auth, type = AuthMode, explicit_notify, nick = "Authentication",
            blurb = "How clients authenticate", builder(AuthMode::default()))]
        #[property(name = "sasl-app-name",
            get = |s: &Self| Some(lock(&s.settings).sasl_app_name.clone()),
            set = Self::set_sasl_app_name, type = Option<String>, nullable,
            default = Some(DEFAULT_SASL_APP_NAME), explicit_notify, nick = "SASL application name",
            blurb = "The application name libsasl2 is set up with: it reads NAME.conf")]
        #[property(name = "name", get = |s: &Self| lock(&s.settings).name.clone(),
            set = Self::set_name, type = Option<String>, nullable, explicit_notify,
            nick = "Name", blurb = "A name for the session clients may show")]
        #[property(name = "uuid", get = |s: &Self| lock(&s.settings).uuid.clone(),
            set = Self::set_uuid, type = Option<String>, nullable, explicit_notify,
            nick = "UUID", blurb = "A UUID for the session, in its 36-character text form")]
        #[property(name = "image-compression",
            get = |s: &Self| lock(&s.settings).image_compression,
            set = Self::set_image_compression, type = ImageCompression, explicit_notify,
            nick = "Image compression", blurb = "Lossless compression of drawing updates",
            builder(ImageCompression::default()))]
        #[property(name = "video-codecs",
            get = |s: &Self| Some(lock(&s.settings).video_codecs.clone()),
            set = Self::set_video_codecs, type = Option<String>, nullable,
            default = Some(DEFAULT_VIDEO_CODECS), explicit_notify, nick = "Video codecs",
            blurb = "Preferred video encoders, in spice-server's syntax")]
        #[property(name = "stream-start-frames",
            get = |s: &Self| lock(&s.settings).stream_start_frames,
            set = Self::set_stream_start_frames, type = u32, minimum = 2, maximum = 1000,
            default = stream::DEFAULT_START_FRAMES, explicit_notify,
            nick = "Stream start frames",
            blurb = "Updates of one rectangle at video rate before it streams")]
        #[property(name = "stream-min-area",
            get = |s: &Self| lock(&s.settings).stream_min_area,
            set = Self::set_stream_min_area, type = u32, default = stream::DEFAULT_MIN_AREA,
            explicit_notify, nick = "Stream minimum area",
            blurb = "Smallest rectangle, in pixels, that streams in filter mode")]
        #[property(name = "stream-timeout",
            get = |s: &Self| lock(&s.settings).stream_timeout,
            set = Self::set_stream_timeout, type = u32, minimum = 50, maximum = 60_000,
            default = stream::DEFAULT_TIMEOUT_MS, explicit_notify, nick = "Stream timeout",
            blurb = "Milliseconds without an update after which a stream ends")]
        #[property(name = "streaming-video",
            get = |s: &Self| lock(&s.settings).streaming_video,
            set = Self::set_streaming_video, type = StreamingVideo, explicit_notify,
            nick = "Streaming video", blurb = "When changing regions become video streams",
            builder(StreamingVideo::default()))]
        #[property(name = "max-clients", get = |s: &Self| lock(&s.settings).max_clients,
            set = Self::set_max_clients, type = u32, explicit_notify,
            nick = "Maximum clients",
            blurb = "How many clients may be connected at once; 0 means no limit",
            default = settings::DEFAULT_MAX_CLIENTS)]
        pub(crate) settings: Mutex<Settings>,
        #[property(name = "main-context", get = |s: &Self| s.context.get().cloned(),
            set = Self::set_main_context, construct_only, type = Option<glib::MainContext>,
            nullable, nick = "Main context",
            blurb = "The context the server runs on (default: the thread-default context at construction)")]
        pub(crate) context: OnceLock<glib::MainContext>,
        #[property(name = "running", get = |s: &Self| s.obj().is_running(), type = bool,
            nick = "Running", blurb = "Whether the server listens for clients")]
        pub(crate) ticket: Mutex<Ticket>,
        pub(crate) main_core: OnceLock<Core>,
        pub(crate) main_dispatcher: OnceLock<Dispatcher<MainMessage>>,
        pub(crate) main_channel: OnceLock<MainChannel>,
        pub(crate) inputs_channel: OnceLock<InputsChannel>,
        pub(crate) displays: Mutex<Vec<Display>>,
        pub(crate) clients: Mutex<Vec<Client>>,
        pub(super) listener: Mutex<Option<Listener>>,
        pub(super) tls_listener: Mutex<Option<Listener>>,
        /// The main dispatcher's handler task, aborted on disposal so it
        /// never outlives the server on a context nobody iterates.
        pub(super) main_task: Mutex<Option<glib::JoinHandle<()>>>,
        /// RSA keys made ahead for new links (one per link).
        pub(crate) key_pool: KeyPool,
        /// Links in progress.
        pub(crate) pending_links: Mutex<Vec<link_stage::LinkHandle>>,
        /// Failed authentications per source.
        pub(crate) auth_throttle: Mutex<AuthThrottle>,
        /// SPICE's `mouse_mode` value.
        pub(crate) mouse_mode: AtomicU32,
        pub(crate) key_modifiers: AtomicU32,
        _live: Live<Server>,
    }

    impl Default for Server {
        fn default() -> Self {
            Server {
                settings: Mutex::default(),
                context: OnceLock::new(),
                ticket: Mutex::default(),
                main_core: OnceLock::new(),
                main_dispatcher: OnceLock::new(),
                main_channel: OnceLock::new(),
                inputs_channel: OnceLock::new(),
                displays: Mutex::default(),
                clients: Mutex::default(),
                listener: Mutex::default(),
                tls_listener: Mutex::default(),
                main_task: Mutex::default(),
                key_pool: KeyPool::default(),
                pending_links: Mutex::default(),
                auth_throttle: Mutex::default(),
                mouse_mode: AtomicU32::new(u32::from(mouse_mode::SERVER)),
                key_modifiers: AtomicU32::new(0),
                _live: Live::default(),
            }
        }
    }

    impl CountedClass for Server {
        const CLASS: Counted = Counted::Server;
    }

    #[glib::object_subclass]
    impl ObjectSubclass for Server {
        const NAME: &'static str = "RedServer";
        type Type = super::Server;
        type ParentType = glib::Object;
    }

    #[glib::derived_properties]
    impl ObjectImpl for Server {
        fn signals() -> &'static [Signal] {
            static SIGNALS: OnceLock<Vec<Signal>> = OnceLock::new();
            SIGNALS.get_or_init(|| {
                vec![
                    Signal::builder("client-connected")
                        .param_types([Client::static_type()])
                        .run_last()
                        .build(),
                    Signal::builder("client-disconnected")
                        .param_types([Client::static_type()])
                        .run_last()
                        .build(),
                    Signal::builder("channel-client-connected")
                        .param_types([ChannelClient::static_type()])
                        .run_last()
                        .build(),
                    Signal::builder("channel-client-disconnected")
                        .param_types([ChannelClient::static_type()])
                        .run_last()
                        .build(),
                    Signal::builder("key-event")
                        .param_types([u32::static_type(), bool::static_type()])
                        .run_last()
                        .build(),
                    Signal::builder("key-modifiers")
                        .param_types([u32::static_type()])
                        .run_last()
                        .build(),
                    Signal::builder("pointer-motion")
                        .param_types([i32::static_type(), i32::static_type(), u32::static_type()])
                        .run_last()
                        .build(),
                    Signal::builder("pointer-position")
                        .param_types([
                            u32::static_type(),
                            i32::static_type(),
                            i32::static_type(),
                            u32::static_type(),
                        ])
                        .run_last()
                        .build(),
                    Signal::builder("button-event")
                        .param_types([u32::static_type(), bool::static_type(), u32::static_type()])
                        .run_last()
                        .build(),
                ]
            })
        }

        fn constructed(&self) {
            self.parent_constructed();
            let context = self
                .context
                .get_or_init(glib::MainContext::ref_thread_default)
                .clone();
            let main_core = Core::new(
                "main",
                context.clone(),
                crate::base::sys::current_thread_id(),
            );
            let (dispatcher, receiver) = Dispatcher::new("main", &context);
            let weak = self.obj().downgrade();
            let task = receiver.attach(move |message| {
                if let Some(server) = weak.upgrade() {
                    server.handle_main_message(message);
                }
                ControlFlow::Continue(())
            });
            *lock(&self.main_task) = task;
            let main_channel: MainChannel = new_channel(
                ChannelType::Main,
                0,
                &main_core,
                &main_core,
                &dispatcher,
                CoreDispatcher::Main(dispatcher.clone()),
            );
            let inputs_channel: InputsChannel = new_channel(
                ChannelType::Inputs,
                0,
                &main_core,
                &main_core,
                &dispatcher,
                CoreDispatcher::Main(dispatcher.clone()),
            );
            let _ = self.main_channel.set(main_channel);
            let _ = self.inputs_channel.set(inputs_channel);
            let _ = self.main_core.set(main_core);
            let _ = self.main_dispatcher.set(dispatcher);
        }

        fn dispose(&self) {
            let obj = self.obj();
            obj.stop();
            for display in std::mem::take(&mut *lock(&self.displays)) {
                if let Some(worker) = display.worker() {
                    worker.stop();
                }
            }
            if let Some(task) = lock(&self.main_task).take() {
                task.abort();
            }
        }
    }

    impl Server {
        fn set_main_context(&self, context: Option<glib::MainContext>) {
            if let Some(context) = context {
                let _ = self.context.set(context);
            }
        }
    }
}

glib::wrapper! {
    /// A SPICE server.
    pub struct Server(ObjectSubclass<imp::Server>);
}

impl Default for Server {
    fn default() -> Self {
        Server::new()
    }
}

impl Server {
    /// A server on the thread-default main context.
    pub fn new() -> Server {
        glib::Object::new()
    }

    pub(crate) fn main_core(&self) -> &Core {
        self.imp().main_core.get().expect("set in constructed")
    }

    pub(crate) fn main_dispatcher(&self) -> &Dispatcher<MainMessage> {
        self.imp()
            .main_dispatcher
            .get()
            .expect("set in constructed")
    }

    /// The server's main channel.
    pub fn main_channel(&self) -> &MainChannel {
        self.imp().main_channel.get().expect("set in constructed")
    }

    /// The server's inputs channel.
    pub fn inputs_channel(&self) -> &InputsChannel {
        self.imp().inputs_channel.get().expect("set in constructed")
    }

    /// Whether the server listens.
    pub fn is_running(&self) -> bool {
        lock(&self.imp().listener).is_some()
    }

    /// Starts listening on `address`:`port` (and `tls-port` for TLS) and
    /// starts the display workers.
    pub fn start(&self) -> Result<(), glib::Error> {
        self.main_core().check_thread("red_server_start");
        if self.is_running() {
            return Err(RedError::AlreadyRunning.error(gettext("The server is already running")));
        }
        let settings = self.settings();
        let address = ListenAddress::parse(&settings.address).ok_or_else(|| {
            RedError::InvalidArgument.error(gettext("The address is not an IP address"))
        })?;
        let acceptor = match settings.tls_port {
            port if port >= 0 => Some(tls::acceptor(&settings)?),
            _ => None,
        };
        // Keys for the first links, made while nobody waits for them.
        self.imp().key_pool.refill(self.main_core().context());
        let (socket, bound, unix_path) = match &address {
            ListenAddress::Ip(ip) => {
                let (socket, bound) = bind(*ip, settings.port)?;
                (socket, bound, None)
            }
            unix => {
                let (socket, path) = bind_unix(unix)?;
                (socket, settings.port, path)
            }
        };
        let tls = match (acceptor, &address) {
            (Some(acceptor), ListenAddress::Ip(ip)) => {
                let (socket, bound) = bind(*ip, settings.tls_port as u32)?;
                Some((socket, bound, acceptor))
            }
            (Some(_), _) => {
                return Err(RedError::InvalidArgument
                    .error(gettext("TLS needs an IP address to listen on")))
            }
            (None, _) => None,
        };
        for display in self.displays() {
            if let Some(worker) = display.worker() {
                worker.start()?;
            }
        }
        let mut listener = self.listen(socket, None);
        listener.unix_path = unix_path;
        *lock(&self.imp().listener) = Some(listener);
        if bound != settings.port {
            lock(&self.imp().settings).port = bound;
            self.notify_port();
        }
        let place = match &address {
            ListenAddress::Ip(_) => format!("spice://{}:{bound}", settings.address),
            _ => settings.address.clone(),
        };
        if let Some((socket, tls_bound, acceptor)) = tls {
            *lock(&self.imp().tls_listener) = Some(self.listen(socket, Some(acceptor)));
            if tls_bound as i32 != settings.tls_port {
                lock(&self.imp().settings).tls_port = tls_bound as i32;
                self.notify_tls_port();
            }
            red_info!("listening on {place}, TLS on port {tls_bound}");
        } else {
            red_info!("listening on {place}");
        }
        self.notify_running();
        Ok(())
    }

    /// Stops listening, disconnects every client and stops and joins every
    /// display worker. Drawing still works while stopped.
    pub fn stop(&self) {
        self.main_core().check_thread("red_server_stop");
        let listener = lock(&self.imp().listener).take();
        link_stage::close_all(self);
        for client in self.clients() {
            self.destroy_client(&client, Some(&gettext("The server stopped")));
        }
        for display in self.displays() {
            if let Some(worker) = display.worker() {
                worker.stop();
            }
        }
        if let Some(listener) = lock(&self.imp().tls_listener).take() {
            listener.source.destroy();
        }
        if let Some(listener) = listener {
            listener.source.destroy();
            drop(listener.socket);
            if let Some(path) = listener.unix_path {
                let _ = std::fs::remove_file(path);
            }
            self.notify_running();
        }
    }

    /// Adds a virtual monitor; its worker runs once the server runs.
    pub fn add_display(&self, width: u32, height: u32) -> Result<Display, glib::Error> {
        self.main_core().check_thread("red_server_add_display");
        let id = {
            let displays = lock(&self.imp().displays);
            (0u32..)
                .find(|i| !displays.iter().any(|d| d.id() == *i))
                .unwrap_or(0)
        };
        if id > 255 {
            return Err(RedError::InvalidArgument.error(gettext("Too many displays")));
        }
        let display = Display::new(id, width, height, self.main_core(), self.main_dispatcher())?;
        if let (true, Some(worker)) = (self.is_running(), display.worker()) {
            worker.start()?;
        }
        display.configure_streams(self.settings().stream_config());
        lock(&self.imp().displays).push(display.clone());
        Ok(display)
    }

    /// A copy of the settings (what the properties hold).
    pub(crate) fn settings(&self) -> Settings {
        lock(&self.imp().settings).clone()
    }

    /// Sends the streaming configuration to every display's worker.
    fn configure_streams(&self) {
        let config = self.settings().stream_config();
        for display in self.displays() {
            display.configure_streams(config);
        }
    }

    /// The displays, in the order they were added.
    pub fn displays(&self) -> Vec<Display> {
        lock(&self.imp().displays).clone()
    }

    /// The connected clients.
    pub fn clients(&self) -> Vec<Client> {
        lock(&self.imp().clients).clone()
    }

    /// Sets the ticket (password) clients must present, valid for
    /// `lifetime` seconds (0: no expiry). `None` clears it. Setting one
    /// selects ticket authentication.
    pub fn set_ticket(&self, password: Option<&str>, lifetime: u32) {
        let expires =
            (lifetime > 0).then(|| Instant::now() + Duration::from_secs(u64::from(lifetime)));
        *lock(&self.imp().ticket) = Ticket {
            password: password.map(str::to_string),
            expires,
        };
        if password.is_some() && self.auth() == AuthMode::None {
            self.set_auth(AuthMode::Ticket);
        }
    }

    /// [`Server::set_ticket`] with spice-server's choices for the clients
    /// already connected: fail while there are any, or disconnect them
    /// (they linked with the old ticket). Without flags, they stay.
    pub fn set_ticket_full(
        &self,
        password: Option<&str>,
        lifetime: u32,
        flags: TicketFlags,
    ) -> Result<(), glib::Error> {
        self.main_core().check_thread("red_server_set_ticket_full");
        let connected = self.clients();
        if !connected.is_empty() {
            if flags.contains(TicketFlags::FAIL_IF_CONNECTED) {
                return Err(RedError::ClientsConnected
                    .error(gettext("The ticket was not changed: clients are connected")));
            }
            if flags.contains(TicketFlags::DISCONNECT_IF_CONNECTED) {
                for client in connected {
                    self.destroy_client(&client, Some(&gettext("The server's password changed")));
                }
            }
        }
        self.set_ticket(password, lifetime);
        Ok(())
    }

    /// Whether `attempt` is the current, unexpired ticket.
    pub(crate) fn ticket_accepts(&self, attempt: &[u8]) -> bool {
        lock(&self.imp().ticket).accepts(attempt, Instant::now())
    }

    /// Takes an already-connected socket (as VM managers hand over fds); it
    /// goes through the same link stage as an accepted connection.
    pub fn add_client_socket(&self, socket: &gio::Socket) -> Result<(), glib::Error> {
        self.main_core()
            .check_thread("red_server_add_client_socket");
        let invalid = || {
            RedError::InvalidArgument.error(gettext("The socket is not a connected stream socket"))
        };
        if !socket.is_connected() || socket.socket_type() != gio::SocketType::Stream {
            return Err(invalid());
        }
        // Our own descriptor: the application may close its GSocket.
        let fd = std::os::fd::AsFd::as_fd(socket)
            .try_clone_to_owned()
            .map_err(|_| invalid())?;
        let socket = socket2::Socket::from(fd);
        socket.set_nonblocking(true).map_err(|_| invalid())?;
        self.handle_connection(socket, None);
        Ok(())
    }

    /// Whether a channel of this type accepts TLS links only.
    pub(crate) fn requires_tls(&self, channel_type: u8) -> bool {
        lock(&self.imp().settings).requires_tls(channel_type)
    }

    /// The keyboard lock state (SPICE's modifier flags) the guest shows.
    pub fn key_modifiers(&self) -> u32 {
        self.imp().key_modifiers.load(Ordering::SeqCst)
    }

    /// Sets the lock-key state (1 Scroll, 2 Num, 4 Caps Lock) and tells
    /// every connected client, whose keyboard LEDs follow it.
    pub fn set_key_modifiers(&self, modifiers: u32) {
        let modifiers = modifiers & LOCK_KEYS;
        self.imp().key_modifiers.store(modifiers, Ordering::SeqCst);
        let message = KeyModifiers {
            modifiers: modifiers as u16,
        };
        self.inputs_channel()
            .for_each_protocol(|_, out| out.send(&message));
    }

    /// The current mouse mode (`mouse_mode::SERVER` or `CLIENT`).
    pub(crate) fn mouse_mode(&self) -> u16 {
        self.imp().mouse_mode.load(Ordering::SeqCst) as u16
    }

    pub(crate) fn set_mouse_mode(&self, mode: u16) {
        self.imp()
            .mouse_mode
            .store(u32::from(mode), Ordering::SeqCst);
    }

    /// spice-server's red_client_destroy, then `client-disconnected`.
    /// `farewell`: what the client is told first, when the server ends its
    /// session.
    fn destroy_client(&self, client: &Client, farewell: Option<&str>) {
        if let Some(why) = farewell {
            client.say_goodbye(why);
        }
        client.destroy();
        let removed = {
            let mut clients = lock(&self.imp().clients);
            clients
                .iter()
                .position(|c| c == client)
                .map(|i| clients.remove(i))
        };
        if let Some(client) = removed {
            red_debug!("client {} destroyed", client.id());
            self.emit_by_name::<()>("client-disconnected", &[&client]);
        }
    }

    fn emit_input(&self, event: InputEvent) {
        match event {
            InputEvent::Key { scancode, pressed } => {
                self.emit_by_name::<()>("key-event", &[&scancode, &pressed])
            }
            InputEvent::Modifiers(modifiers) => {
                self.emit_by_name::<()>("key-modifiers", &[&modifiers])
            }
            InputEvent::Motion { dx, dy, buttons } => {
                self.emit_by_name::<()>("pointer-motion", &[&dx, &dy, &buttons])
            }
            // As spice-server: absolute positions count in client mouse mode
            // only (spice-gtk sends a stray one in server mode).
            InputEvent::Position { .. } if self.mouse_mode() != mouse_mode::CLIENT => {}
            InputEvent::Position {
                display_id,
                x,
                y,
                buttons,
            } => {
                // The application gets a place on one of its displays:
                // unknown displays are dropped, positions clamped.
                // Under the lock, without copying the list: this runs for
                // every pointer motion.
                let size = lock(&self.imp().displays)
                    .iter()
                    .find(|d| d.id() == display_id)
                    .map(|d| (d.width(), d.height()));
                let Some((width, height)) = size else {
                    red_debug!("pointer position on display {display_id}, which does not exist");
                    return;
                };
                let x = x.clamp(0, width.saturating_sub(1) as i32);
                let y = y.clamp(0, height.saturating_sub(1) as i32);
                self.emit_by_name::<()>("pointer-position", &[&display_id, &x, &y, &buttons])
            }
            InputEvent::Button {
                button,
                pressed,
                buttons,
            } => self.emit_by_name::<()>("button-event", &[&button, &pressed, &buttons]),
        }
    }

    fn handle_main_message(&self, message: MainMessage) {
        match message {
            MainMessage::ChannelClientJoined(rcc) => {
                if rcc.is_connected() {
                    self.emit_by_name::<()>("channel-client-connected", &[&rcc]);
                }
            }
            MainMessage::ChannelClientLeft {
                client,
                channel_client,
            } => {
                self.emit_by_name::<()>("channel-client-disconnected", &[&channel_client]);
                if let Some(client) = client.upgrade() {
                    client.remove_channel_client(&channel_client);
                    // When the main channel client goes, every other channel
                    // client of the same RedClient goes too (docs/threading.md).
                    if channel_client.is::<MainChannelClient>() {
                        client.main_channel_left();
                    }
                }
            }
            MainMessage::DisconnectChannelClient(rcc) => disconnect_on_own_thread(&rcc),
            MainMessage::DestroyClient {
                client,
                tell_client,
            } => {
                let why = tell_client.then(|| gettext("The server ended this session"));
                self.destroy_client(&client, why.as_deref())
            }
            MainMessage::Input(event) => self.emit_input(event),
            MainMessage::LinkChanged {
                channel_client,
                bandwidth,
                round_trip,
            } => {
                if channel_client.is_connected() {
                    if bandwidth {
                        channel_client.notify("bandwidth");
                    }
                    if round_trip {
                        channel_client.notify("round-trip-time");
                    }
                }
            }
            MainMessage::PlayoutDelay(client) => {
                if let Some(client) = client.upgrade() {
                    crate::channels::main::give_playout_delay(&client);
                }
            }
        }
    }
}
