//! What a display's worker thread holds: the primary surface with its dirty
//! region (the display channel's side) and the cursor (the cursor channel's
//! side), and the requests that change them.

use super::surface::{Rect, Surface};

/// A cursor shape: premultiplied a8r8g8b8 pixels in native byte order
/// (cairo's `ARGB32`), rows packed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorShape {
    pub width: u32,
    pub height: u32,
    pub hot_x: u32,
    pub hot_y: u32,
    pub pixels: Vec<u32>,
}

/// The cursor channel's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CursorState {
    pub shape: Option<CursorShape>,
    pub x: i32,
    pub y: i32,
    pub visible: bool,
    /// Bumped with every new shape (the cursor cache's unique id).
    pub serial: u64,
}

/// Requests from the application, carried by the worker dispatcher.
pub enum DisplayRequest {
    /// Pixels travel as a `GBytes` reference: no copy until the blit.
    Draw {
        rect: Rect,
        pixels: glib::Bytes,
        stride: usize,
    },
    Fill {
        rect: Rect,
        color: u32,
    },
    CopyArea {
        src: Rect,
        dest_x: i32,
        dest_y: i32,
    },
    Resize {
        width: u32,
        height: u32,
    },
    SetCursor(CursorShape),
    MoveCursor {
        x: i32,
        y: i32,
    },
    HideCursor,
    /// New stream detection settings.
    ConfigureStreams(super::stream::StreamConfig),
    /// Replies with a copy of the surface pixels.
    Snapshot(std::sync::mpsc::Sender<(u32, u32, Vec<u8>)>),
    /// Replies with the cursor state.
    CursorSnapshot(std::sync::mpsc::Sender<CursorState>),
}

/// What a request changed, for the channel clients to pass on.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    None,
    /// These pixels changed.
    Damage(Rect),
    /// `dest` now holds what was at (`src_x`, `src_y`): a scroll.
    CopyBits {
        src_x: i32,
        src_y: i32,
        dest: Rect,
    },
    /// A new surface size; everything is new.
    Resized {
        width: u32,
        height: u32,
    },
    /// The cursor changed.
    Cursor,
}

/// The state a worker thread owns: the display channel's surface and the
/// cursor channel's cursor.
#[derive(Debug)]
pub struct DisplayState {
    pub surface: Surface,
    pub cursor: CursorState,
    pub streams: super::stream::StreamDetector,
}

impl DisplayState {
    pub fn new(width: u32, height: u32) -> Self {
        DisplayState {
            surface: Surface::new(width, height),
            cursor: CursorState::default(),
            streams: Default::default(),
        }
    }

    /// Applies one request and says what changed.
    pub fn handle(&mut self, request: DisplayRequest) -> Effect {
        match request {
            DisplayRequest::Draw {
                rect,
                pixels,
                stride,
            } => Effect::Damage(self.surface.draw(rect, &pixels, stride)),
            DisplayRequest::Fill { rect, color } => Effect::Damage(self.surface.fill(rect, color)),
            DisplayRequest::CopyArea {
                src,
                dest_x,
                dest_y,
            } => {
                let dest = self.surface.copy_area(src, dest_x, dest_y);
                if dest.is_empty() {
                    return Effect::None;
                }
                // The source origin of what landed in `dest`, after clipping.
                let src_x = src.x + (dest.x - dest_x);
                let src_y = src.y + (dest.y - dest_y);
                Effect::CopyBits { src_x, src_y, dest }
            }
            DisplayRequest::Resize { width, height } => {
                self.surface.resize(width, height);
                Effect::Resized { width, height }
            }
            DisplayRequest::SetCursor(shape) => {
                self.cursor.shape = Some(shape);
                self.cursor.visible = true;
                self.cursor.serial += 1;
                Effect::Cursor
            }
            DisplayRequest::MoveCursor { x, y } => {
                self.cursor.x = x;
                self.cursor.y = y;
                self.cursor.visible = self.cursor.shape.is_some();
                Effect::Cursor
            }
            DisplayRequest::HideCursor => {
                self.cursor.visible = false;
                Effect::Cursor
            }
            DisplayRequest::ConfigureStreams(config) => {
                self.streams.config = config;
                Effect::None
            }
            DisplayRequest::Snapshot(reply) => {
                let _ = reply.send((
                    self.surface.width(),
                    self.surface.height(),
                    self.surface.to_bytes(),
                ));
                Effect::None
            }
            DisplayRequest::CursorSnapshot(reply) => {
                let _ = reply.send(self.cursor.clone());
                Effect::None
            }
        }
    }
}
