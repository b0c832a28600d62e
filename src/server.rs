//! `RedServer`: the seed's reds. Owns the main and inputs channels, the
//! displays and the clients; runs on its main context, where every signal
//! towards the application is emitted.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use gio::prelude::*;
use glib::subclass::prelude::*;
use glib::subclass::Signal;

use crate::channel::{new_channel, CoreDispatcher};
use crate::channel_client::{disconnect_on_own_thread, ChannelClient};
use crate::client::Client;
use crate::core::Core;
use crate::dispatcher::Dispatcher;
use crate::display::Display;
use crate::enums::{AuthMode, ChannelType, ImageCompression, StreamingVideo};
use crate::error::RedError;
use crate::i18n::gettext;
use crate::inputs_channel::InputsChannel;
use crate::live_objects::{Counted, CountedClass, Live};
use crate::main_channel::{MainChannel, MainChannelClient};

/// Requests to the main thread, carried by the main dispatcher.
pub enum MainMessage {
    /// A channel client was created on its channel's thread: report it.
    ChannelClientJoined(ChannelClient),
    /// A channel client has disconnected on its thread: leave
    /// RedClient::channels (drops the owning reference).
    ChannelClientLeft {
        client: glib::WeakRef<Client>,
        channel_client: ChannelClient,
    },
    /// Disconnect a channel client of a main-thread channel.
    DisconnectChannelClient(ChannelClient),
    /// The seed's red_client_disconnect: disconnect everything of the
    /// client, destroy it, emit `client-disconnected`.
    DestroyClient(Client),
    /// An input event from the inputs channel, to emit as a signal.
    Input(crate::inputs_channel::InputEvent),
}

/// The default address the server listens on.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1";

/// A ticket (password) and when it stops being valid.
#[derive(Default, Clone)]
pub(crate) struct Ticket {
    pub password: Option<String>,
    pub expires: Option<Instant>,
}

impl Ticket {
    /// Whether `attempt` matches a ticket that has not expired, compared in
    /// constant time for equal lengths.
    pub fn accepts(&self, attempt: &[u8], now: Instant) -> bool {
        let Some(password) = &self.password else {
            return false;
        };
        if self.expires.is_some_and(|t| now >= t) {
            return false;
        }
        let expected = password.as_bytes();
        let mut diff = expected.len() ^ attempt.len();
        for (i, b) in expected.iter().enumerate() {
            diff |= usize::from(b ^ attempt.get(i).copied().unwrap_or(0));
        }
        diff == 0
    }
}

struct Listener {
    socket: socket2::Socket,
    source: glib::Source,
}

pub mod imp {
    use super::*;

    pub struct Server {
        pub(crate) address: Mutex<String>,
        pub(crate) port: AtomicU32,
        pub(crate) tls_port: AtomicI32,
        pub(crate) ticket: Mutex<Ticket>,
        pub(crate) auth: Mutex<AuthMode>,
        pub(crate) context: OnceLock<glib::MainContext>,
        pub(crate) name: Mutex<Option<String>>,
        pub(crate) uuid: Mutex<Option<String>>,
        pub(crate) image_compression: Mutex<ImageCompression>,
        pub(crate) video_codecs: Mutex<String>,
        pub(crate) stream_config: Mutex<crate::display::stream::StreamConfig>,
        pub(crate) max_clients: AtomicU32,
        pub(crate) main_core: OnceLock<Core>,
        pub(crate) main_dispatcher: OnceLock<Dispatcher<MainMessage>>,
        pub(crate) main_channel: OnceLock<MainChannel>,
        pub(crate) inputs_channel: OnceLock<InputsChannel>,
        pub(crate) displays: Mutex<Vec<Display>>,
        pub(crate) clients: Mutex<Vec<Client>>,
        pub(super) listener: Mutex<Option<Listener>>,
        /// The main dispatcher's handler task, aborted on disposal so it
        /// never outlives the server on a context nobody iterates.
        pub(super) main_task: Mutex<Option<glib::JoinHandle<()>>>,
        pub(crate) ticket_key: OnceLock<crate::ticket::TicketKey>,
        pub(crate) pending_links: std::sync::atomic::AtomicUsize,
        pub(crate) mouse_mode: std::sync::atomic::AtomicU32,
        pub(crate) key_modifiers: AtomicU32,
        _live: Live<Server>,
    }

    impl Default for Server {
        fn default() -> Self {
            Server {
                address: Mutex::new(DEFAULT_ADDRESS.to_string()),
                port: AtomicU32::new(0),
                tls_port: AtomicI32::new(-1),
                ticket: Mutex::default(),
                auth: Mutex::default(),
                context: OnceLock::new(),
                name: Mutex::default(),
                uuid: Mutex::default(),
                image_compression: Mutex::default(),
                video_codecs: Mutex::new(crate::server::DEFAULT_VIDEO_CODECS.to_string()),
                stream_config: Mutex::default(),
                max_clients: AtomicU32::new(0),
                main_core: OnceLock::new(),
                main_dispatcher: OnceLock::new(),
                main_channel: OnceLock::new(),
                inputs_channel: OnceLock::new(),
                displays: Mutex::default(),
                clients: Mutex::default(),
                listener: Mutex::default(),
                main_task: Mutex::default(),
                ticket_key: OnceLock::new(),
                pending_links: Default::default(),
                mouse_mode: std::sync::atomic::AtomicU32::new(1),
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

    impl ObjectImpl for Server {
        fn properties() -> &'static [glib::ParamSpec] {
            static PROPS: OnceLock<Vec<glib::ParamSpec>> = OnceLock::new();
            PROPS.get_or_init(|| {
                vec![
                    glib::ParamSpecString::builder("address")
                        .nick("Address")
                        .blurb("The IP address to listen on")
                        .default_value(Some(DEFAULT_ADDRESS))
                        .explicit_notify()
                        .build(),
                    glib::ParamSpecUInt::builder("port")
                        .nick("Port")
                        .blurb("The TCP port to listen on; 0 picks a free one, readable after start")
                        .maximum(65535)
                        .explicit_notify()
                        .build(),
                    glib::ParamSpecInt::builder("tls-port")
                        .nick("TLS port")
                        .blurb("The TLS port, or -1 for none (TLS is not supported yet)")
                        .minimum(-1)
                        .maximum(65535)
                        .default_value(-1)
                        .explicit_notify()
                        .build(),
                    glib::ParamSpecString::builder("password")
                        .nick("Password")
                        .blurb("The ticket clients must present; setting it selects ticket authentication")
                        .write_only()
                        .build(),
                    glib::ParamSpecEnum::builder::<AuthMode>("auth")
                        .nick("Authentication")
                        .blurb("How clients authenticate")
                        .explicit_notify()
                        .build(),
                    glib::ParamSpecBoxed::builder::<glib::MainContext>("main-context")
                        .nick("Main context")
                        .blurb("The context the server runs on (default: the thread-default context at construction)")
                        .construct_only()
                        .build(),
                    glib::ParamSpecString::builder("name")
                        .nick("Name")
                        .blurb("A name for the session clients may show")
                        .explicit_notify()
                        .build(),
                    glib::ParamSpecString::builder("uuid")
                        .nick("UUID")
                        .blurb("A UUID for the session, in its 36-character text form")
                        .explicit_notify()
                        .build(),
                    glib::ParamSpecEnum::builder::<ImageCompression>("image-compression")
                        .nick("Image compression")
                        .blurb("Lossless compression of drawing updates")
                        .explicit_notify()
                        .build(),
                    glib::ParamSpecString::builder("video-codecs")
                        .nick("Video codecs")
                        .blurb("Preferred video encoders, in spice-server's syntax")
                        .default_value(Some(crate::server::DEFAULT_VIDEO_CODECS))
                        .explicit_notify()
                        .build(),
                    glib::ParamSpecUInt::builder("stream-start-frames")
                        .nick("Stream start frames")
                        .blurb("Updates of one rectangle at video rate before it streams")
                        .minimum(2)
                        .maximum(1000)
                        .default_value(20)
                        .explicit_notify()
                        .build(),
                    glib::ParamSpecUInt::builder("stream-min-area")
                        .nick("Stream minimum area")
                        .blurb("Smallest rectangle, in pixels, that streams in filter mode")
                        .default_value(96 * 96)
                        .explicit_notify()
                        .build(),
                    glib::ParamSpecUInt::builder("stream-timeout")
                        .nick("Stream timeout")
                        .blurb("Milliseconds without an update after which a stream ends")
                        .minimum(50)
                        .maximum(60_000)
                        .default_value(1000)
                        .explicit_notify()
                        .build(),
                    glib::ParamSpecEnum::builder::<StreamingVideo>("streaming-video")
                        .nick("Streaming video")
                        .blurb("When changing regions become video streams")
                        .explicit_notify()
                        .build(),
                    glib::ParamSpecUInt::builder("max-clients")
                        .nick("Maximum clients")
                        .blurb("How many clients may be connected at once; 0 means no limit")
                        .explicit_notify()
                        .build(),
                    glib::ParamSpecBoolean::builder("running")
                        .nick("Running")
                        .blurb("Whether the server listens for clients")
                        .read_only()
                        .build(),
                ]
            })
        }

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

        fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
            let obj = self.obj();
            match pspec.name() {
                "address" => {
                    let v: Option<String> = value.get().expect("type checked by GObject");
                    let v = v.unwrap_or_else(|| DEFAULT_ADDRESS.to_string());
                    if v.parse::<std::net::IpAddr>().is_err() {
                        red_warning!(
                            "RedServer: ignoring address {v:?}, which is not an IP address"
                        );
                        return;
                    }
                    if replace(&self.address, v) {
                        obj.notify("address");
                    }
                }
                "port" => {
                    if self
                        .port
                        .swap(value.get().expect("type checked"), Ordering::SeqCst)
                        != value.get::<u32>().expect("type checked")
                    {
                        obj.notify("port");
                    }
                }
                "tls-port" => {
                    let v: i32 = value.get().expect("type checked");
                    if self.tls_port.swap(v, Ordering::SeqCst) != v {
                        obj.notify("tls-port");
                    }
                }
                "password" => {
                    let v: Option<String> = value.get().expect("type checked");
                    obj.set_ticket(v.as_deref(), 0);
                }
                "auth" => {
                    if replace(&self.auth, value.get().expect("type checked")) {
                        obj.notify("auth");
                    }
                }
                "main-context" => {
                    if let Ok(Some(ctx)) = value.get::<Option<glib::MainContext>>() {
                        let _ = self.context.set(ctx);
                    }
                }
                "name" => {
                    if replace(&self.name, value.get().expect("type checked")) {
                        obj.notify("name");
                    }
                }
                "uuid" => {
                    let v: Option<String> = value.get().expect("type checked");
                    if let Some(text) = &v {
                        if crate::server::parse_uuid(text).is_none() {
                            red_warning!("RedServer: ignoring uuid {text:?}, which is not a UUID");
                            return;
                        }
                    }
                    if replace(&self.uuid, v) {
                        obj.notify("uuid");
                    }
                }
                "image-compression" => {
                    if replace(&self.image_compression, value.get().expect("type checked")) {
                        obj.notify("image-compression");
                    }
                }
                "video-codecs" => {
                    let v: Option<String> = value.get().expect("type checked");
                    let v = v.unwrap_or_else(|| crate::server::DEFAULT_VIDEO_CODECS.to_string());
                    if replace(&self.video_codecs, v) {
                        obj.notify("video-codecs");
                    }
                }
                "streaming-video"
                | "stream-start-frames"
                | "stream-min-area"
                | "stream-timeout" => {
                    let mut config = *lock(&self.stream_config);
                    match pspec.name() {
                        "streaming-video" => config.mode = value.get().expect("type checked"),
                        "stream-start-frames" => {
                            config.start_frames = value.get().expect("type checked")
                        }
                        "stream-min-area" => config.min_area = value.get().expect("type checked"),
                        _ => {
                            let ms: u32 = value.get().expect("type checked");
                            config.timeout = Duration::from_millis(u64::from(ms));
                        }
                    }
                    if replace(&self.stream_config, config) {
                        obj.configure_streams();
                        obj.notify(pspec.name());
                    }
                }
                "max-clients" => {
                    let v: u32 = value.get().expect("type checked");
                    if self.max_clients.swap(v, Ordering::SeqCst) != v {
                        obj.notify("max-clients");
                    }
                }
                _ => unreachable!("GObject only sets registered properties"),
            }
        }

        fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
            match pspec.name() {
                "address" => get(&self.address).to_value(),
                "port" => self.port.load(Ordering::SeqCst).to_value(),
                "tls-port" => self.tls_port.load(Ordering::SeqCst).to_value(),
                "auth" => get(&self.auth).to_value(),
                "main-context" => self.context.get().to_value(),
                "name" => get(&self.name).to_value(),
                "uuid" => get(&self.uuid).to_value(),
                "image-compression" => get(&self.image_compression).to_value(),
                "video-codecs" => get(&self.video_codecs).to_value(),
                "streaming-video" => lock(&self.stream_config).mode.to_value(),
                "stream-start-frames" => lock(&self.stream_config).start_frames.to_value(),
                "stream-min-area" => lock(&self.stream_config).min_area.to_value(),
                "stream-timeout" => {
                    (lock(&self.stream_config).timeout.as_millis() as u32).to_value()
                }
                "max-clients" => self.max_clients.load(Ordering::SeqCst).to_value(),
                "running" => self.obj().is_running().to_value(),
                _ => unreachable!("GObject only reads registered properties"),
            }
        }

        fn constructed(&self) {
            self.parent_constructed();
            let context = self
                .context
                .get_or_init(glib::MainContext::ref_thread_default)
                .clone();
            let main_core = Core::new("main", context.clone(), crate::sys::current_thread_id());
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

    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get<T: Clone>(m: &Mutex<T>) -> T {
        lock(m).clone()
    }

    /// Stores `value`; true if it differs from the old one.
    fn replace<T: PartialEq>(m: &Mutex<T>, value: T) -> bool {
        let mut guard = lock(m);
        if *guard == value {
            return false;
        }
        *guard = value;
        true
    }
}

/// The default `video-codecs`, in spice-server's syntax.
pub const DEFAULT_VIDEO_CODECS: &str = "gstreamer:mjpeg;gstreamer:vp8;gstreamer:h264;gstreamer:vp9";

/// Parses a UUID's text form into its 16 bytes.
pub fn parse_uuid(text: &str) -> Option<[u8; 16]> {
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    let dashes = [8usize, 13, 18, 23];
    if text.len() != 36
        || !dashes
            .iter()
            .all(|&i| text.as_bytes().get(i) == Some(&b'-'))
    {
        return None;
    }
    if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(out)
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
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

    /// The port listened on (the one picked, when `port` was 0).
    pub fn port(&self) -> u32 {
        self.imp().port.load(Ordering::SeqCst)
    }

    /// Starts listening on `address`:`port` and starts the display workers.
    pub fn start(&self) -> Result<(), glib::Error> {
        self.main_core().check_thread("red_server_start");
        if self.is_running() {
            return Err(RedError::AlreadyRunning.error(gettext("The server is already running")));
        }
        if self.imp().tls_port.load(Ordering::SeqCst) >= 0 {
            return Err(RedError::InvalidArgument.error(gettext("TLS is not supported yet")));
        }
        self.ticket_key()?;
        let address = lock(&self.imp().address).clone();
        let ip: std::net::IpAddr = address.parse().map_err(|_| {
            RedError::InvalidArgument.error(gettext("The address is not an IP address"))
        })?;
        let port = self.port();
        let listen_error = |e: std::io::Error| {
            RedError::AddressInUse.error(format!(
                "{} {address}:{port}: {e}",
                gettext("Could not listen on")
            ))
        };
        let socket_address = std::net::SocketAddr::new(ip, u16::try_from(port).unwrap_or(0));
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(socket_address),
            socket2::Type::STREAM.nonblocking().cloexec(),
            Some(socket2::Protocol::TCP),
        )
        .map_err(listen_error)?;
        socket.set_reuse_address(true).map_err(listen_error)?;
        socket.bind(&socket_address.into()).map_err(listen_error)?;
        socket.listen(64).map_err(listen_error)?;
        let bound = socket
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .map(|a| u32::from(a.port()))
            .unwrap_or(port);
        for display in self.displays() {
            if let Some(worker) = display.worker() {
                worker.start()?;
            }
        }
        let weak = self.downgrade();
        let listening = socket.try_clone().map_err(listen_error)?;
        let fd = std::os::fd::AsRawFd::as_raw_fd(&socket);
        let source = self
            .main_core()
            .fd_watch(fd, glib::IOCondition::IN, move |_, _| {
                let Some(server) = weak.upgrade() else {
                    return glib::ControlFlow::Break;
                };
                while let Ok((connection, _)) = listening.accept() {
                    // Accepted sockets do not inherit O_NONBLOCK.
                    if connection.set_nonblocking(true).is_err() {
                        continue;
                    }
                    let _ = connection.set_tcp_nodelay(true);
                    server.handle_connection(connection);
                }
                glib::ControlFlow::Continue
            });
        *lock(&self.imp().listener) = Some(Listener { socket, source });
        if bound != port {
            self.imp().port.store(bound, Ordering::SeqCst);
            self.notify("port");
        }
        self.notify("running");
        red_info!("listening on spice://{address}:{bound}");
        Ok(())
    }

    /// Stops listening, disconnects every client and stops and joins every
    /// display worker. Drawing still works while stopped.
    pub fn stop(&self) {
        self.main_core().check_thread("red_server_stop");
        let listener = lock(&self.imp().listener).take();
        for client in self.clients() {
            self.destroy_client(&client);
        }
        for display in self.displays() {
            if let Some(worker) = display.worker() {
                worker.stop();
            }
        }
        if let Some(listener) = listener {
            listener.source.destroy();
            drop(listener.socket);
            self.notify("running");
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
        display.configure_streams(*lock(&self.imp().stream_config));
        lock(&self.imp().displays).push(display.clone());
        Ok(display)
    }

    /// Sends the streaming configuration to every display's worker.
    fn configure_streams(&self) {
        let config = *lock(&self.imp().stream_config);
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
        if password.is_some() && *lock(&self.imp().auth) == AuthMode::None {
            *lock(&self.imp().auth) = AuthMode::Ticket;
            self.notify("auth");
        }
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
        self.ticket_key()?;
        self.handle_connection(socket);
        Ok(())
    }

    /// A new connection: the link stage starts here.
    fn handle_connection(&self, socket: socket2::Socket) {
        let peer = socket
            .peer_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .map(|a| a.to_string())
            .unwrap_or_else(|| "local".to_string());
        red_debug!("connection from {peer}");
        crate::link::start(self, socket, peer);
    }

    pub(crate) fn pending_links(&self) -> usize {
        self.imp().pending_links.load(Ordering::SeqCst)
    }

    pub(crate) fn link_started(&self) {
        self.imp().pending_links.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn link_finished(&self) {
        self.imp().pending_links.fetch_sub(1, Ordering::SeqCst);
    }

    /// The RSA key of the link stage, made on first use (by `start()`,
    /// or by the first handed-over connection).
    pub(crate) fn ticket_key(&self) -> Result<&crate::ticket::TicketKey, glib::Error> {
        if let Some(key) = self.imp().ticket_key.get() {
            return Ok(key);
        }
        let key = crate::ticket::TicketKey::generate()
            .map_err(|e| RedError::Failed.error(format!("RSA: {e}")))?;
        Ok(self.imp().ticket_key.get_or_init(|| key))
    }

    /// The keyboard lock state (SPICE's modifier flags) the guest shows.
    pub fn key_modifiers(&self) -> u32 {
        self.imp().key_modifiers.load(Ordering::SeqCst)
    }

    /// Sets the lock-key state (1 Scroll, 2 Num, 4 Caps Lock) and tells
    /// every connected client, whose keyboard LEDs follow it.
    pub fn set_key_modifiers(&self, modifiers: u32) {
        let modifiers = modifiers & 0x7;
        self.imp().key_modifiers.store(modifiers, Ordering::SeqCst);
        for icc in crate::channel::ChannelExt::clients(self.inputs_channel()) {
            let message = crate::protocol::inputs_messages::KeyModifiers {
                modifiers: modifiers as u16,
            };
            let _ = crate::connection::with_io(&icc, |io, _| io.out.send(&message));
        }
    }

    /// The current mouse mode (SPICE's values: 1 server, 2 client).
    pub(crate) fn mouse_mode(&self) -> u16 {
        self.imp().mouse_mode.load(Ordering::SeqCst) as u16
    }

    pub(crate) fn set_mouse_mode(&self, mode: u16) {
        self.imp()
            .mouse_mode
            .store(u32::from(mode), Ordering::SeqCst);
    }

    /// Whether a channel of that type and id exists.
    pub(crate) fn has_channel(&self, channel_type: u8, id: u8) -> bool {
        use crate::protocol::constants::channel;
        match channel_type {
            channel::MAIN | channel::INPUTS => id == 0,
            channel::DISPLAY | channel::CURSOR => {
                self.displays().iter().any(|d| d.id() == u32::from(id))
            }
            _ => false,
        }
    }

    fn client_by_id(&self, id: u32) -> Option<Client> {
        self.clients().into_iter().find(|c| c.id() == id)
    }

    /// Decides a link once the ticket is in: SPICE's link error code.
    pub(crate) fn check_link(&self, mess: &crate::protocol::LinkMess, ciphertext: &[u8]) -> u32 {
        use crate::protocol::constants::{channel, link_err};
        let Ok(key) = self.ticket_key() else {
            return link_err::ERROR;
        };
        let plaintext = key.decrypt(ciphertext);
        let accepted = match *lock(&self.imp().auth) {
            // spice-server with ticketing off accepts any ticket too.
            AuthMode::None => true,
            AuthMode::Ticket => plaintext
                .as_deref()
                .map(crate::protocol::link::ticket_password)
                .is_some_and(|attempt| self.ticket_accepts(attempt)),
            AuthMode::Sasl => false,
        };
        if !accepted {
            return link_err::PERMISSION_DENIED;
        }
        if mess.channel_type == channel::MAIN {
            let max = self.imp().max_clients.load(Ordering::SeqCst) as usize;
            if max > 0 && self.clients().len() >= max {
                return link_err::ERROR;
            }
            return link_err::OK;
        }
        match self.client_by_id(mess.connection_id) {
            Some(_) => link_err::OK,
            None => link_err::BAD_CONNECTION_ID,
        }
    }

    /// A connection passed the link stage: give it to its channel.
    pub(crate) fn link_done(&self, linked: crate::link::Linked) {
        use crate::protocol::constants::channel;
        use glib::subclass::prelude::ObjectSubclassIsExt as _;
        let crate::link::Linked { mess, socket, peer } = linked;
        match mess.channel_type {
            channel::MAIN => {
                let id = self.new_session_id();
                let client = Client::new(id, Some(&peer), self.main_core(), self.main_dispatcher());
                let mcc: MainChannelClient = crate::channel_client::new_channel_client(
                    self.main_channel().upcast_ref(),
                    &client,
                );
                self.add_client(&client);
                let protocol =
                    crate::main_channel::MainProtocol::new(self, id, mess.channel_caps.clone());
                crate::connection::attach(
                    mcc.upcast_ref(),
                    socket,
                    &mess.common_caps,
                    Box::new(protocol),
                );
            }
            channel::INPUTS => {
                let Some(client) = self.client_by_id(mess.connection_id) else {
                    return;
                };
                let icc: crate::InputsChannelClient = crate::channel_client::new_channel_client(
                    self.inputs_channel().upcast_ref(),
                    &client,
                );
                let protocol = crate::inputs_channel::InputsProtocol::new(
                    self.main_dispatcher().clone(),
                    self.key_modifiers(),
                );
                crate::connection::attach(
                    icc.upcast_ref(),
                    socket,
                    &mess.common_caps,
                    Box::new(protocol),
                );
            }
            channel::DISPLAY | channel::CURSOR => {
                let Some(client) = self.client_by_id(mess.connection_id) else {
                    return;
                };
                let Some(display) = self
                    .displays()
                    .into_iter()
                    .find(|d| d.id() == u32::from(mess.channel_id))
                else {
                    return;
                };
                let Some(worker) = display.worker() else {
                    return;
                };
                let image_compression = *lock(&self.imp().image_compression);
                let video_codecs =
                    crate::display::encoder::parse_video_codecs(&lock(&self.imp().video_codecs));
                worker.dispatch(
                    crate::worker::WorkerMessage::Connect(Box::new(crate::worker::LinkedChannel {
                        channel_type: mess.channel_type,
                        client,
                        socket,
                        common_caps: mess.common_caps,
                        channel_caps: mess.channel_caps,
                        image_compression,
                        video_codecs,
                    })),
                    false,
                );
            }
            _ => {}
        }
    }

    /// An unguessable, unused, non-zero session (connection) id.
    fn new_session_id(&self) -> u32 {
        loop {
            let id: u32 = rand::random();
            if id != 0 && self.client_by_id(id).is_none() {
                return id;
            }
        }
    }

    /// Registers a linked client and emits `client-connected`.
    pub(crate) fn add_client(&self, client: &Client) {
        lock(&self.imp().clients).push(client.clone());
        self.emit_by_name::<()>("client-connected", &[client]);
    }

    /// The seed's red_client_destroy, then `client-disconnected`.
    fn destroy_client(&self, client: &Client) {
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

    fn emit_input(&self, event: crate::inputs_channel::InputEvent) {
        use crate::inputs_channel::InputEvent;
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
            InputEvent::Position { .. } if self.mouse_mode() != 2 => {}
            InputEvent::Position {
                display_id,
                x,
                y,
                buttons,
            } => self.emit_by_name::<()>("pointer-position", &[&display_id, &x, &y, &buttons]),
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
                if crate::channel_client::ChannelClientExt::is_connected(&rcc) {
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
                    // The seed: "When MainChannelClient is disconnected, all
                    // RedChannelClients connected to the same RedClient are
                    // automatically disconnected."
                    if channel_client.is::<MainChannelClient>() {
                        client.disconnect();
                    }
                }
            }
            MainMessage::DisconnectChannelClient(rcc) => disconnect_on_own_thread(&rcc),
            MainMessage::DestroyClient(client) => self.destroy_client(&client),
            MainMessage::Input(event) => self.emit_input(event),
        }
    }
}
