//! `RedDisplay`: a virtual monitor, the role a QXL device plays
//! for spice-server.
//!
//! Public methods run on the main thread and forward to the display's
//! `RedWorker` through its dispatcher; the display and cursor channels of
//! the same id run there.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use glib::prelude::*;
use glib::subclass::prelude::*;

use crate::base::core::Core;
use crate::base::dispatcher::Dispatcher;
use crate::base::enums::ChannelType;
use crate::base::error::RedError;
use crate::base::i18n::gettext;
use crate::base::live_objects::{Counted, CountedClass, Live};
use crate::channels::cursor::CursorChannel;
use crate::channels::display::{DisplayChannel, DisplayChannels};
use crate::display::state::{CursorShape, CursorState, DisplayRequest, DisplayState};
use crate::display::stream::StreamConfig;
use crate::display::surface::Rect;
use crate::model::channel::{new_channel, CoreDispatcher};
use crate::model::messages::MainMessage;
use crate::worker::{Worker, WorkerMessage, WorkerShared, WorkerThread};

/// The largest width or height a display may have.
pub const MAX_SIZE: u32 = 16384;
/// The largest width or height of a cursor shape (spice-gtk draws larger
/// ones, but hosts' cursors are far smaller and each costs a full upload).
pub const MAX_CURSOR_SIZE: u32 = 512;

pub mod imp {
    use super::*;

    /// The generated accessors live in `DisplayPropertiesExt`, which is not
    /// re-exported: `Display` keeps its own `id()`, `width()`, `height()`
    /// and the borrowing `worker()`, `display_channel()`, `cursor_channel()`.
    #[derive(Default, glib::Properties)]
    #[properties(wrapper_type = super::Display, ext_trait)]
    pub struct Display {
        #[property(
            get,
            nick = "Id",
            blurb = "The display number; its channels have this id"
        )]
        pub(crate) id: AtomicU32,
        #[property(get, nick = "Width", blurb = "Width of the display in pixels")]
        pub(crate) width: AtomicU32,
        #[property(get, nick = "Height", blurb = "Height of the display in pixels")]
        pub(crate) height: AtomicU32,
        #[property(name = "frames-encoded",
            get = |s: &Self| s.worker.get().and_then(Worker::shared)
                .map(|shared| shared.frames_encoded.load(Ordering::Relaxed))
                .unwrap_or_default(),
            type = u64, nick = "Frames encoded",
            blurb = "Video frames encoded for this display's streams: once per frame and codec, however many clients watch")]
        /// RedDisplay ⇒ RedWorker (owning).
        #[property(get = |s: &Self| s.worker.get().cloned(), type = Option<Worker>,
            nick = "Worker", blurb = "The worker thread running this display's channels")]
        pub(crate) worker: OnceLock<Worker>,
        /// The display's channels (owning; created on the main thread).
        #[property(get = |s: &Self| s.display_channel.get().cloned(),
            type = Option<DisplayChannel>, nick = "Display channel",
            blurb = "This display's display channel")]
        pub(crate) display_channel: OnceLock<DisplayChannel>,
        #[property(get = |s: &Self| s.cursor_channel.get().cloned(),
            type = Option<CursorChannel>, nick = "Cursor channel",
            blurb = "This display's cursor channel")]
        pub(crate) cursor_channel: OnceLock<CursorChannel>,
        _live: Live<Display>,
    }

    impl CountedClass for Display {
        const CLASS: Counted = Counted::Display;
    }

    #[glib::object_subclass]
    impl ObjectSubclass for Display {
        const NAME: &'static str = "RedDisplay";
        type Type = super::Display;
        type ParentType = glib::Object;
    }

    #[glib::derived_properties]
    impl ObjectImpl for Display {
        fn dispose(&self) {
            if let Some(worker) = self.worker.get() {
                worker.stop();
            }
        }
    }
}

glib::wrapper! {
    /// A virtual monitor clients see and the application draws into.
    pub struct Display(ObjectSubclass<imp::Display>);
}

/// Checks a requested display size.
pub(crate) fn check_size(width: u32, height: u32) -> Result<(), glib::Error> {
    if width == 0 || height == 0 || width > MAX_SIZE || height > MAX_SIZE {
        return Err(RedError::InvalidArgument.error(gettext(
            "A display must be between 1×1 and 16384×16384 pixels",
        )));
    }
    Ok(())
}

impl Display {
    /// A display with its worker and channels; on the main thread.
    pub(crate) fn new(
        id: u32,
        width: u32,
        height: u32,
        main_core: &Core,
        main_dispatcher: &Dispatcher<MainMessage>,
    ) -> Result<Display, glib::Error> {
        check_size(width, height)?;
        let display: Display = glib::Object::new();
        let imp = display.imp();
        imp.id.store(id, Ordering::SeqCst);
        imp.width.store(width, Ordering::SeqCst);
        imp.height.store(height, Ordering::SeqCst);
        let worker = Worker::new(id, main_core);
        let thread = Arc::new(WorkerThread::new(&worker));
        let dispatch = || CoreDispatcher::Thread(thread.clone());
        let display_channel: DisplayChannel = new_channel(
            ChannelType::Display,
            id,
            worker.core(),
            main_core,
            main_dispatcher,
            dispatch(),
        );
        let cursor_channel: CursorChannel = new_channel(
            ChannelType::Cursor,
            id,
            worker.core(),
            main_core,
            main_dispatcher,
            dispatch(),
        );
        let state = DisplayState::new(width, height);
        worker.set_shared(WorkerShared {
            frames_encoded: state.frames_encoded.clone(),
            backlog: Default::default(),
            channels: DisplayChannels {
                state: Arc::new(Mutex::new(state)),
                encoded_bands: Default::default(),
                display_channel: display_channel.clone(),
                cursor_channel: cursor_channel.clone(),
            },
        });
        let _ = imp.display_channel.set(display_channel);
        let _ = imp.cursor_channel.set(cursor_channel);
        let _ = imp.worker.set(worker);
        Ok(display)
    }

    pub fn id(&self) -> u32 {
        self.imp().id.load(Ordering::SeqCst)
    }

    pub fn width(&self) -> u32 {
        self.imp().width.load(Ordering::SeqCst)
    }

    pub fn height(&self) -> u32 {
        self.imp().height.load(Ordering::SeqCst)
    }

    /// The worker; `None` only for an object made with g_object_new()
    /// instead of red_server_add_display().
    pub fn worker(&self) -> Option<&Worker> {
        let worker = self.imp().worker.get();
        if worker.is_none() {
            red_critical!("RedDisplay: not made by red_server_add_display()");
        }
        worker
    }

    pub fn display_channel(&self) -> Option<&DisplayChannel> {
        self.imp().display_channel.get()
    }

    pub fn cursor_channel(&self) -> Option<&CursorChannel> {
        self.imp().cursor_channel.get()
    }

    fn request(&self, request: DisplayRequest) {
        if let Some(worker) = self.worker() {
            worker.dispatch(WorkerMessage::Display(request), false);
        }
    }

    /// Sends `request` and waits until the worker has handled it.
    fn request_sync(&self, request: DisplayRequest) {
        if let Some(worker) = self.worker() {
            worker.dispatch(WorkerMessage::Display(request), true);
        }
    }

    /// Copies a `width`×`height` block of x8r8g8b8 `pixels` (rows `stride`
    /// bytes apart) to (`x`, `y`); what falls outside the display is clipped.
    pub fn draw(
        &self,
        x: i32,
        y: i32,
        width: u32,
        height: u32,
        pixels: &glib::Bytes,
        stride: usize,
    ) -> Result<(), glib::Error> {
        check_pixels(width, height, pixels.len(), stride)?;
        if width == 0 || height == 0 {
            return Ok(());
        }
        self.request(DisplayRequest::Draw {
            rect: Rect::new(x, y, width, height),
            pixels: pixels.clone(),
            stride,
        });
        Ok(())
    }

    /// Applies the server's stream detection settings.
    pub(crate) fn configure_streams(&self, config: StreamConfig) {
        self.request(DisplayRequest::ConfigureStreams(config));
    }

    /// Fills a rectangle with `color` (0xXXRRGGBB; the top byte is ignored).
    pub fn fill(&self, x: i32, y: i32, width: u32, height: u32, color: u32) {
        self.request(DisplayRequest::Fill {
            rect: Rect::new(x, y, width, height),
            color: color & 0x00ff_ffff,
        });
    }

    /// Copies an area of the display to another place on it (scrolling).
    pub fn copy_area(
        &self,
        src_x: i32,
        src_y: i32,
        width: u32,
        height: u32,
        dest_x: i32,
        dest_y: i32,
    ) {
        self.request(DisplayRequest::CopyArea {
            src: Rect::new(src_x, src_y, width, height),
            dest_x,
            dest_y,
        });
    }

    /// Changes the display's size (clients see a new primary surface).
    pub fn resize(&self, width: u32, height: u32) -> Result<(), glib::Error> {
        check_size(width, height)?;
        self.request(DisplayRequest::Resize { width, height });
        self.imp().width.store(width, Ordering::SeqCst);
        self.imp().height.store(height, Ordering::SeqCst);
        self.notify("width");
        self.notify("height");
        Ok(())
    }

    /// Sets the cursor shape from premultiplied a8r8g8b8 `pixels`.
    pub fn set_cursor(
        &self,
        width: u32,
        height: u32,
        hot_x: u32,
        hot_y: u32,
        pixels: &[u8],
        stride: usize,
    ) -> Result<(), glib::Error> {
        if width == 0 || height == 0 || width > MAX_CURSOR_SIZE || height > MAX_CURSOR_SIZE {
            return Err(RedError::InvalidArgument
                .error(gettext("A cursor must be between 1×1 and 512×512 pixels")));
        }
        if hot_x >= width || hot_y >= height {
            return Err(RedError::InvalidArgument
                .error(gettext("The cursor hotspot must lie inside the cursor")));
        }
        check_pixels(width, height, pixels.len(), stride)?;
        let mut shape = Vec::with_capacity(width as usize * height as usize);
        for row in 0..height as usize {
            let line = &pixels[row * stride..row * stride + width as usize * 4];
            shape.extend(
                line.chunks_exact(4)
                    .map(|p| u32::from_ne_bytes([p[0], p[1], p[2], p[3]])),
            );
        }
        self.request(DisplayRequest::SetCursor(CursorShape {
            width,
            height,
            hot_x,
            hot_y,
            pixels: shape,
        }));
        Ok(())
    }

    /// Moves the cursor (display coordinates) and shows it if it has a shape.
    pub fn move_cursor(&self, x: i32, y: i32) {
        self.request(DisplayRequest::MoveCursor { x, y });
    }

    /// Hides the cursor until the next move or shape.
    pub fn hide_cursor(&self) {
        self.request(DisplayRequest::HideCursor);
    }

    /// The display's pixels as the worker holds them after every request
    /// sent before this call: (width, height, x8r8g8b8 rows of width * 4).
    pub fn snapshot(&self) -> (u32, u32, Vec<u8>) {
        let (tx, rx) = std::sync::mpsc::channel();
        self.request_sync(DisplayRequest::Snapshot(tx));
        rx.try_recv().unwrap_or_else(|_| (0, 0, Vec::new()))
    }

    /// The cursor as the worker holds it.
    pub fn cursor_state(&self) -> CursorState {
        let (tx, rx) = std::sync::mpsc::channel();
        self.request_sync(DisplayRequest::CursorSnapshot(tx));
        rx.try_recv().unwrap_or_default()
    }
}

/// Checks that `len` bytes hold `height` rows of `width` pixels `stride`
/// bytes apart.
fn check_pixels(width: u32, height: u32, len: usize, stride: usize) -> Result<(), glib::Error> {
    let row = width as usize * 4;
    let needed = if height == 0 {
        Some(0)
    } else {
        (height as usize - 1)
            .checked_mul(stride)
            .and_then(|n| n.checked_add(row))
    };
    if stride < row || needed.is_none_or(|n| n > len) {
        return Err(RedError::InvalidArgument.error(gettext(
            "The pixel data is smaller than its width, height and stride say",
        )));
    }
    Ok(())
}
