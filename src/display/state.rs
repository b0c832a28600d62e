//! What a display's worker thread holds: the primary surface with its dirty
//! region (the display channel's side) and the cursor (the cursor channel's
//! side), and the requests that change them.

use super::region::Region;
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
    /// Replies with a copy of the surface pixels.
    Snapshot(std::sync::mpsc::Sender<(u32, u32, Vec<u8>)>),
    /// Replies with the cursor state.
    CursorSnapshot(std::sync::mpsc::Sender<CursorState>),
}

/// The state a worker thread owns.
#[derive(Debug)]
pub struct DisplayState {
    pub surface: Surface,
    /// Area changed since clients last took it.
    pub dirty: Region,
    pub cursor: CursorState,
}

impl DisplayState {
    pub fn new(width: u32, height: u32) -> Self {
        DisplayState {
            surface: Surface::new(width, height),
            dirty: Region::new(),
            cursor: CursorState::default(),
        }
    }

    /// Applies one request: drawing goes to the surface (display channel),
    /// cursor requests to the cursor (cursor channel).
    pub fn handle(&mut self, request: DisplayRequest) {
        match request {
            DisplayRequest::Draw {
                rect,
                pixels,
                stride,
            } => {
                let changed = self.surface.draw(rect, &pixels, stride);
                self.dirty.add(changed);
            }
            DisplayRequest::Fill { rect, color } => {
                let changed = self.surface.fill(rect, color);
                self.dirty.add(changed);
            }
            DisplayRequest::CopyArea {
                src,
                dest_x,
                dest_y,
            } => {
                let changed = self.surface.copy_area(src, dest_x, dest_y);
                self.dirty.add(changed);
            }
            DisplayRequest::Resize { width, height } => {
                self.surface.resize(width, height);
                self.dirty.clear();
                self.dirty.add(Rect::new(0, 0, width, height));
            }
            DisplayRequest::SetCursor(shape) => {
                self.cursor.shape = Some(shape);
                self.cursor.visible = true;
            }
            DisplayRequest::MoveCursor { x, y } => {
                self.cursor.x = x;
                self.cursor.y = y;
                self.cursor.visible = self.cursor.shape.is_some();
            }
            DisplayRequest::HideCursor => self.cursor.visible = false,
            DisplayRequest::Snapshot(reply) => {
                let _ = reply.send((
                    self.surface.width(),
                    self.surface.height(),
                    self.surface.to_bytes(),
                ));
            }
            DisplayRequest::CursorSnapshot(reply) => {
                let _ = reply.send(self.cursor.clone());
            }
        }
    }
}
