//! `redspicesink`: each video frame is drawn whole into a `RedDisplay`,
//! which SPICE clients see; their keyboard and mouse go upstream as
//! GstNavigation events.
//!
//! Threads. The library wants every call on the thread running the
//! server's main context, and emits its signals there. Without a `server`
//! from the application the sink makes its own on a context of its own,
//! run by a thread of its own ("redspicesink"), so it works whether or not
//! the application runs a main loop (gst-launch-1.0 does, many programs do
//! not). An application's server is used on its own main context, which
//! the application runs.
//!
//! The streaming thread never waits for that thread: it leaves the newest
//! frame in a one-frame mailbox and schedules one drawing on the server's
//! context when the mailbox was empty. A frame the server's thread has not
//! taken yet is replaced by the next one; as each frame is drawn whole,
//! the display still ends on the last frame. Waiting instead could
//! deadlock: BaseSink renders with its preroll lock held, and an
//! application changing state on its main thread takes that lock.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use glib::prelude::*;
use glib::subclass::prelude::*;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;

use crate::i18n::gettext;
use crate::keymap::key_name;
use crate::redspice::{self, Display, Server};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "redspicesink",
        gst::DebugColorFlags::empty(),
        Some("SPICE video sink"),
    )
});

const DEFAULT_PORT: u32 = 5930;
/// The size of the sink's own display before the first frame: clients
/// that connect early see it black, then resized.
const PLACEHOLDER_SIZE: (u32, u32) = (640, 480);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not take the element down with it.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Debug, Clone)]
struct Settings {
    port: u32,
    address: Option<String>,
    password: Option<String>,
    image_compression: Option<String>,
    streaming_video: Option<String>,
    /// The application's server, if it gave one.
    server: Option<Server>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            port: DEFAULT_PORT,
            address: None,
            password: None,
            image_compression: None,
            streaming_video: None,
            server: None,
        }
    }
}

/// A frame waiting for the server's thread.
struct Frame {
    pixels: glib::Bytes,
    width: u32,
    height: u32,
    stride: usize,
}

/// The pixels of a mapped frame, kept mapped (and the buffer referenced)
/// for as long as the library holds the `GBytes`: no copy.
struct FramePixels(gst_video::VideoFrame<gst_video::video_frame::Readable>);

impl AsRef<[u8]> for FramePixels {
    fn as_ref(&self) -> &[u8] {
        // A packed RGB format has one plane, which a mapped frame has.
        self.0.plane_data(0).unwrap_or(&[])
    }
}

/// What the sink serves between start() and stop(); shared with the
/// closures that run on the server's main context.
struct Target {
    element: glib::WeakRef<super::RedSpiceSink>,
    context: glib::MainContext,
    /// Used on `context`'s thread only (the `Mutex` makes it `Sync`).
    server: Mutex<Option<Server>>,
    display: Mutex<Option<Display>>,
    /// The mailbox (see the module comment).
    pending: Mutex<Option<Frame>>,
    /// Where the pointer is, in display pixels: button events carry none,
    /// and relative motion moves it.
    pointer: Mutex<(i32, i32)>,
    stopped: AtomicBool,
    /// Drawing failed: render() reports a flow error.
    failed: AtomicBool,
}

impl Target {
    fn new(element: &super::RedSpiceSink, context: glib::MainContext) -> Arc<Target> {
        Arc::new(Target {
            element: element.downgrade(),
            context,
            server: Mutex::new(None),
            display: Mutex::new(None),
            pending: Mutex::new(None),
            pointer: Mutex::new((0, 0)),
            stopped: AtomicBool::new(false),
            failed: AtomicBool::new(false),
        })
    }

    /// Leaves `frame` in the mailbox; schedules a drawing when it was empty.
    fn submit(self: &Arc<Self>, frame: Frame) {
        let was_empty = lock(&self.pending).replace(frame).is_none();
        if was_empty {
            let target = self.clone();
            self.context.invoke(move || target.draw_pending());
        }
    }

    /// On the server's thread: draws the newest frame, resizing the
    /// display (or adding it, to an application's server) first.
    fn draw_pending(&self) {
        let Some(frame) = lock(&self.pending).take() else {
            return;
        };
        if self.stopped.load(Ordering::SeqCst) {
            return;
        }
        let Some(server) = lock(&self.server).clone() else {
            return;
        };
        let mut display = lock(&self.display);
        let result = match &*display {
            Some(d) if d.size() == (frame.width, frame.height) => Ok(d.clone()),
            Some(d) => d.resize(frame.width, frame.height).map(|()| d.clone()),
            None => server.add_display(frame.width, frame.height),
        };
        match result {
            Ok(d) => {
                d.draw(frame.width, frame.height, &frame.pixels, frame.stride);
                *display = Some(d);
            }
            Err(e) => {
                self.failed.store(true, Ordering::SeqCst);
                if let Some(element) = self.element.upgrade() {
                    gst::element_error!(
                        element,
                        gst::ResourceError::Write,
                        (
                            "{}",
                            gettext("Could not show a {width}x{height} frame")
                                .replace("{width}", &frame.width.to_string())
                                .replace("{height}", &frame.height.to_string())
                        ),
                        ["{}", e.message()]
                    );
                }
            }
        }
    }

    fn display_id(&self) -> Option<u32> {
        lock(&self.display).as_ref().map(Display::id)
    }

    fn display_size(&self) -> (u32, u32) {
        lock(&self.display).as_ref().map_or((0, 0), Display::size)
    }

    /// Sends a navigation event upstream from the sink pad.
    fn send(&self, event: gst::Event) {
        if self.stopped.load(Ordering::SeqCst) {
            return;
        }
        let Some(element) = self.element.upgrade() else {
            return;
        };
        let Some(pad) = element.static_pad("sink") else {
            return;
        };
        gst::log!(CAT, obj = element, "navigation {:?}", event.structure());
        if !pad.push_event(event) {
            gst::trace!(CAT, obj = element, "no element upstream took the event");
        }
    }

    fn on_key(&self, scancode: u32, pressed: bool) {
        let Some(name) = key_name(scancode) else {
            if let Some(element) = self.element.upgrade() {
                gst::debug!(CAT, obj = element, "no key name for scancode {scancode:#x}");
            }
            return;
        };
        let event = if pressed {
            navigation(gst_video::NavigationEvent::new_key_press(name))
        } else {
            navigation(gst_video::NavigationEvent::new_key_release(name))
        };
        self.send(event);
    }

    fn on_position(&self, display_id: u32, x: i32, y: i32) {
        if self.display_id() != Some(display_id) {
            return;
        }
        *lock(&self.pointer) = (x, y);
        self.send(navigation(gst_video::NavigationEvent::new_mouse_move(
            x.into(),
            y.into(),
        )));
    }

    fn on_motion(&self, dx: i32, dy: i32) {
        let (width, height) = self.display_size();
        if width == 0 {
            return;
        }
        let (x, y) = {
            let mut pointer = lock(&self.pointer);
            let max_x = width as i32 - 1;
            let max_y = height as i32 - 1;
            pointer.0 = pointer.0.saturating_add(dx).clamp(0, max_x);
            pointer.1 = pointer.1.saturating_add(dy).clamp(0, max_y);
            *pointer
        };
        self.send(navigation(gst_video::NavigationEvent::new_mouse_move(
            x.into(),
            y.into(),
        )));
    }

    fn on_button(&self, button: u32, pressed: bool) {
        let (x, y) = *lock(&self.pointer);
        let (x, y) = (f64::from(x), f64::from(y));
        let event = match button {
            1..=3 if pressed => navigation(gst_video::NavigationEvent::new_mouse_button_press(
                button as i32,
                x,
                y,
            )),
            1..=3 => navigation(gst_video::NavigationEvent::new_mouse_button_release(
                button as i32,
                x,
                y,
            )),
            // The wheel: SPICE sends a press and a release per step; the
            // press is the step. The structure of
            // gst_navigation_event_new_mouse_scroll() (1.18), made by hand
            // to need no newer gstreamer-rs feature than the library's.
            4 | 5 if pressed => {
                let delta_y = if button == 4 { 1.0 } else { -1.0 };
                let s = gst::Structure::builder("application/x-gst-navigation")
                    .field("event", "mouse-scroll")
                    .field("pointer_x", x)
                    .field("pointer_y", y)
                    .field("delta_pointer_x", 0.0f64)
                    .field("delta_pointer_y", delta_y)
                    .build();
                gst::event::Navigation::new(s)
            }
            _ => return,
        };
        self.send(event);
    }
}

/// A navigation event from its description. Not through gstreamer-video's
/// builders: 0.25.4's mouse_button_release_builder() makes a press.
fn navigation(event: gst_video::NavigationEvent) -> gst::Event {
    gst::event::Navigation::new(event.structure())
}

/// The thread running the sink's own server.
struct OwnThread {
    main_loop: glib::MainLoop,
    thread: std::thread::JoinHandle<()>,
}

impl OwnThread {
    fn spawn(context: &glib::MainContext) -> std::io::Result<OwnThread> {
        let main_loop = glib::MainLoop::new(Some(context), false);
        let (thread_context, thread_loop) = (context.clone(), main_loop.clone());
        let thread = std::thread::Builder::new()
            .name("redspicesink".into())
            .spawn(move || {
                let _ = thread_context.with_thread_default(|| {
                    thread_loop.run();
                    // Drop what is still queued (a frame the stopped sink
                    // will not draw): its closure holds the Target, which
                    // holds this context.
                    while thread_context.iteration(false) {}
                });
            })?;
        Ok(OwnThread { main_loop, thread })
    }

    fn join(self) {
        self.main_loop.quit();
        let _ = self.thread.join();
    }
}

/// Runs `f` on the thread of `context` and waits for its result; only for
/// the sink's own context, whose thread never waits for anyone.
fn run_on<R: Send + 'static>(
    context: &glib::MainContext,
    f: impl FnOnce() -> R + Send + 'static,
) -> Option<R> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    context.invoke(move || {
        let _ = tx.send(f());
    });
    rx.recv().ok()
}

struct Running {
    target: Arc<Target>,
    handlers: Vec<glib::SignalHandlerId>,
    own: Option<OwnThread>,
    /// The port the sink's own server listens on.
    port: Option<u32>,
}

#[derive(Default)]
pub struct RedSpiceSink {
    settings: Mutex<Settings>,
    running: Mutex<Option<Running>>,
    info: Mutex<Option<gst_video::VideoInfo>>,
    /// The display this sink added to the application's server, used again
    /// when the sink restarts with that server (displays cannot be removed).
    added: Mutex<Option<(Server, Display)>>,
}

/// Connects the navigation signals of `server` to `target`.
fn connect_input(server: &Server, target: &Arc<Target>) -> Vec<glib::SignalHandlerId> {
    let object = server.object();
    let weak = Arc::downgrade(target);
    let key = object.connect("key-event", false, move |v| {
        let t = weak.upgrade()?;
        t.on_key(v[1].get().ok()?, v[2].get().ok()?);
        None
    });
    let weak = Arc::downgrade(target);
    let position = object.connect("pointer-position", false, move |v| {
        let t = weak.upgrade()?;
        t.on_position(v[1].get().ok()?, v[2].get().ok()?, v[3].get().ok()?);
        None
    });
    let weak = Arc::downgrade(target);
    let motion = object.connect("pointer-motion", false, move |v| {
        let t = weak.upgrade()?;
        t.on_motion(v[1].get().ok()?, v[2].get().ok()?);
        None
    });
    let weak = Arc::downgrade(target);
    let button = object.connect("button-event", false, move |v| {
        let t = weak.upgrade()?;
        t.on_button(v[1].get().ok()?, v[2].get().ok()?);
        None
    });
    vec![key, position, motion, button]
}

/// Applies the sink's settings to its own server.
fn configure(server: &Server, settings: &Settings) -> Result<(), String> {
    let object = server.object();
    object.set_property("port", settings.port);
    if let Some(address) = &settings.address {
        object.set_property("address", address);
    }
    if let Some(password) = &settings.password {
        object.set_property("password", password);
    }
    if let Some(nick) = &settings.image_compression {
        server.set_enum_by_nick("image-compression", nick)?;
    }
    if let Some(nick) = &settings.streaming_video {
        server.set_enum_by_nick("streaming-video", nick)?;
    }
    Ok(())
}

impl RedSpiceSink {
    /// Makes the sink's own server on its own thread, with a placeholder
    /// display, and starts it.
    fn start_own(&self, settings: Settings) -> Result<Running, gst::ErrorMessage> {
        let context = glib::MainContext::new();
        let own = OwnThread::spawn(&context).map_err(|e| {
            gst::error_msg!(
                gst::CoreError::Thread,
                ["Could not start the server thread: {e}"]
            )
        })?;
        let target = Target::new(&self.obj(), context.clone());
        let (thread_target, thread_context) = (target.clone(), context.clone());
        let started = run_on(&context, move || {
            let server = Server::new(&thread_context);
            configure(&server, &settings).map_err(|e| (gst::LibraryError::Settings, e))?;
            let (width, height) = PLACEHOLDER_SIZE;
            let display = server
                .add_display(width, height)
                .map_err(|e| (gst::LibraryError::Failed, e.message().to_string()))?;
            let handlers = connect_input(&server, &thread_target);
            *lock(&thread_target.display) = Some(display);
            *lock(&thread_target.server) = Some(server.clone());
            if let Err(e) = server.start() {
                for handler in handlers {
                    server.object().disconnect(handler);
                }
                *lock(&thread_target.display) = None;
                *lock(&thread_target.server) = None;
                return Err((gst::LibraryError::Failed, e.message().to_string()));
            }
            Ok((handlers, server.port()))
        });
        match started {
            Some(Ok((handlers, port))) => {
                gst::info!(CAT, imp = self, "serving on port {port}");
                Ok(Running {
                    target,
                    handlers,
                    own: Some(own),
                    port: Some(port),
                })
            }
            Some(Err((kind, message))) => {
                own.join();
                Err(if kind == gst::LibraryError::Settings {
                    gst::error_msg!(kind, ("{}", message))
                } else {
                    gst::error_msg!(
                        gst::ResourceError::OpenWrite,
                        (
                            "{}",
                            gettext("Could not start the SPICE server: {reason}")
                                .replace("{reason}", &message)
                        )
                    )
                })
            }
            None => {
                own.join();
                Err(gst::error_msg!(
                    gst::CoreError::Thread,
                    ["The server thread went away"]
                ))
            }
        }
    }

    /// Serves a display of the application's server, on its main context.
    fn start_app(&self, server: Server) -> Running {
        let context = server
            .object()
            .property::<glib::MainContext>("main-context");
        let target = Target::new(&self.obj(), context);
        let reused = lock(&self.added)
            .as_ref()
            .filter(|(s, _)| *s == server)
            .map(|(_, d)| d.clone());
        *lock(&target.display) = reused;
        *lock(&target.server) = Some(server.clone());
        let handlers = connect_input(&server, &target);
        Running {
            target,
            handlers,
            own: None,
            port: None,
        }
    }

    fn own_port(&self) -> Option<u32> {
        lock(&self.running).as_ref().and_then(|r| r.port)
    }

    fn target(&self) -> Option<Arc<Target>> {
        lock(&self.running).as_ref().map(|r| r.target.clone())
    }
}

#[glib::object_subclass]
impl ObjectSubclass for RedSpiceSink {
    const NAME: &'static str = "GstRedSpiceSink";
    type Type = super::RedSpiceSink;
    type ParentType = gst_video::VideoSink;
}

impl ObjectImpl for RedSpiceSink {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecUInt::builder("port")
                    .nick("Port")
                    .blurb("TCP port the sink's own server listens on; 0 picks a free one, which this property reports while the sink runs")
                    .maximum(65535)
                    .default_value(DEFAULT_PORT)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("address")
                    .nick("Address")
                    .blurb("Address the sink's own server listens on, or unix:/path (NULL: 127.0.0.1)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("password")
                    .nick("Password")
                    .blurb("Ticket clients of the sink's own server must give (NULL: none)")
                    .write_only()
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("image-compression")
                    .nick("Image compression")
                    .blurb("RedServer:image-compression of the sink's own server: off, auto, lz4, lz, glz, quic (NULL: the server's default)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("streaming-video")
                    .nick("Streaming video")
                    .blurb("RedServer:streaming-video of the sink's own server: off (every frame lossless), filter, all (NULL: the server's default)")
                    .mutable_ready()
                    .build(),
                redspice::object_param_spec(
                    "server",
                    "Server",
                    "A RedServer to add the display to, run by the application on its \
                     main context (NULL: the sink makes and runs its own, which it keeps \
                     to itself)",
                    redspice::server_type(),
                    glib::ParamFlags::READWRITE | gst::PARAM_FLAG_MUTABLE_READY,
                ),
                redspice::object_param_spec(
                    "display",
                    "Display",
                    "The RedDisplay the sink draws into on the application's server \
                     (NULL before the first frame, when stopped, and with the sink's own \
                     server)",
                    redspice::display_type(),
                    glib::ParamFlags::READABLE,
                ),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut settings = lock(&self.settings);
        let string = || value.get::<Option<String>>().ok().flatten();
        match pspec.name() {
            "port" => settings.port = value.get().unwrap_or(DEFAULT_PORT),
            "address" => settings.address = string(),
            "password" => settings.password = string(),
            "image-compression" => settings.image_compression = string(),
            "streaming-video" => settings.streaming_video = string(),
            "server" => {
                let object = value.get::<Option<glib::Object>>().ok().flatten();
                settings.server = match object {
                    None => None,
                    Some(object) => {
                        let type_name = object.type_().name();
                        let server = Server::from_object(object);
                        if server.is_none() {
                            gst::warning!(
                                CAT,
                                imp = self,
                                "server: a {type_name} is not a RedServer; ignored"
                            );
                        }
                        server
                    }
                };
            }
            name => gst::warning!(CAT, imp = self, "no writable property {name}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let settings = lock(&self.settings);
        match pspec.name() {
            // While the sink's own server runs: the port it listens on
            // (the one picked for 0).
            "port" => self.own_port().unwrap_or(settings.port).to_value(),
            "address" => settings.address.to_value(),
            "image-compression" => settings.image_compression.to_value(),
            "streaming-video" => settings.streaming_video.to_value(),
            // The sink's own server and display are not handed out: they
            // belong to its thread, and a reference the application kept
            // would dispose of them on another.
            "server" => settings
                .server
                .as_ref()
                .map(|s| s.object().clone())
                .to_value(),
            "display" => {
                let running = lock(&self.running);
                running
                    .as_ref()
                    .filter(|r| r.own.is_none())
                    .and_then(|r| lock(&r.target.display).clone())
                    .map(|d| d.object().clone())
                    .to_value()
            }
            _ => None::<String>.to_value(),
        }
    }
}

impl GstObjectImpl for RedSpiceSink {}

impl ElementImpl for RedSpiceSink {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "SPICE video sink",
                "Sink/Video/Network",
                "Serves its video as a SPICE display (redspice): clients such as \
                 remote-viewer see every frame, and their keyboard and mouse go \
                 upstream as navigation events",
                "The redspice authors",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            // redspice's pixels are x8r8g8b8 in native byte order; the top
            // byte is ignored, so the alpha formats go as they are.
            let formats = if cfg!(target_endian = "little") {
                [gst_video::VideoFormat::Bgrx, gst_video::VideoFormat::Bgra]
            } else {
                [gst_video::VideoFormat::Xrgb, gst_video::VideoFormat::Argb]
            };
            let max = redspice::MAX_SIZE as i32;
            let caps = gst_video::VideoCapsBuilder::new()
                .format_list(formats)
                .width_range(1..=max)
                .height_range(1..=max)
                .build();
            vec![gst::PadTemplate::new(
                "sink",
                gst::PadDirection::Sink,
                gst::PadPresence::Always,
                &caps,
            )
            .expect("a valid pad template")]
        });
        TEMPLATES.as_ref()
    }
}

impl BaseSinkImpl for RedSpiceSink {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = lock(&self.settings).clone();
        let running = match settings.server.clone() {
            Some(server) => self.start_app(server),
            None => self.start_own(settings)?,
        };
        *lock(&self.running) = Some(running);
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        let Some(running) = lock(&self.running).take() else {
            return Ok(());
        };
        let target = running.target;
        target.stopped.store(true, Ordering::SeqCst);
        // The streaming thread has stopped: nothing submits after this.
        drop(lock(&target.pending).take());
        *lock(&self.info) = None;
        match running.own {
            Some(own) => {
                // The server stops, and its last reference goes, on its
                // own thread; then the thread ends.
                let thread_target = target.clone();
                let handlers = running.handlers;
                run_on(&target.context, move || {
                    let server = lock(&thread_target.server).take();
                    *lock(&thread_target.display) = None;
                    if let Some(server) = server {
                        for handler in handlers {
                            server.object().disconnect(handler);
                        }
                        server.stop();
                    }
                });
                own.join();
            }
            None => {
                let server = lock(&target.server).take();
                let display = lock(&target.display).take();
                if let Some(server) = server {
                    for handler in running.handlers {
                        server.object().disconnect(handler);
                    }
                    if let Some(display) = display {
                        *lock(&self.added) = Some((server, display));
                    }
                }
            }
        }
        Ok(())
    }

    fn set_caps(&self, caps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let info = gst_video::VideoInfo::from_caps(caps)
            .map_err(|_| gst::loggable_error!(CAT, "Invalid caps {caps}"))?;
        gst::debug!(CAT, imp = self, "caps {caps}");
        // The display is resized when the first frame of this size is
        // drawn, so it never shows a frame of one size at another.
        *lock(&self.info) = Some(info);
        Ok(())
    }
}

impl VideoSinkImpl for RedSpiceSink {
    fn show_frame(&self, buffer: &gst::Buffer) -> Result<gst::FlowSuccess, gst::FlowError> {
        let Some(target) = self.target() else {
            return Err(gst::FlowError::Flushing);
        };
        if target.failed.load(Ordering::SeqCst) {
            return Err(gst::FlowError::Error);
        }
        let Some(info) = lock(&self.info).clone() else {
            return Err(gst::FlowError::NotNegotiated);
        };
        let frame =
            gst_video::VideoFrame::from_buffer_readable(buffer.clone(), &info).map_err(|_| {
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Failed,
                    ["Could not map a video frame"]
                );
                gst::FlowError::Error
            })?;
        let stride = frame.plane_stride()[0] as usize;
        let (width, height) = (frame.width(), frame.height());
        target.submit(Frame {
            pixels: glib::Bytes::from_owned(FramePixels(frame)),
            width,
            height,
            stride,
        });
        Ok(gst::FlowSuccess::Ok)
    }
}
