//! What a display's worker thread holds: the primary surface with its dirty
//! region (the display channel's side) and the cursor (the cursor channel's
//! side), and the requests that change them.

use super::motion;
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
    /// A draw whose pixels are, in `dest`, what was at (`src_x`,
    /// `src_y`) (a scroll found in the pixels: see `motion`), and changed
    /// in `damage` otherwise.
    Moved {
        src_x: i32,
        src_y: i32,
        dest: Rect,
        damage: Vec<Rect>,
    },
    /// A new surface size; everything is new.
    Resized {
        width: u32,
        height: u32,
    },
    /// The cursor changed.
    Cursor,
    /// These streams ended (streaming switched off).
    StreamsEnded(Vec<super::stream::Stream>),
}

impl DisplayRequest {
    /// What the request weighs in the worker's backlog (bytes).
    pub fn weight(&self) -> usize {
        match self {
            DisplayRequest::Draw { pixels, .. } => pixels.len().max(64),
            _ => 64,
        }
    }
}

/// The state a worker thread owns: the display channel's surface and the
/// cursor channel's cursor.
#[derive(Debug)]
pub struct DisplayState {
    pub surface: Surface,
    pub cursor: CursorState,
    pub streams: super::stream::StreamDetector,
    /// One encoder per stream, codec and rate group, shared by every
    /// client of that group that receives that stream with that codec.
    pub encoders: Vec<StreamEncoder>,
    /// Video frames encoded (once per frame and codec, not per client);
    /// shared so it can be read without waiting for the worker.
    pub frames_encoded: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// The share of a link's bandwidth a stream may use: the rest carries the
/// other channels and the images around the stream, and a frame crosses
/// the link within a third of a 30 fps frame interval, so that the
/// playout delay (which follows the frames' transit) stays small. At 80%
/// video on a 10 Mbit/s link showed 24 to 38 ms after the application
/// drew it, at 30% 16 ms.
const LINK_SHARE_PERCENT: u64 = 30;
/// Draws smaller than this are not searched for moved content: their
/// bytes cost less than the search.
const MIN_MOVE_SEARCH_PIXELS: u64 = 256 * 256;

/// Draws of at least this many pixels are kept in their own buffer until
/// the surface changes otherwise (`Surface::draw_deferred`).
const DEFERRED_DRAW_PIXELS: u64 = 256 * 256;

/// The encoder of one stream in one codec for one rate group
/// (`super::rate_group`).
pub struct StreamEncoder {
    pub stream_id: u32,
    pub codec: super::encoder::VideoCodec,
    pub group: u8,
    pub encoder: super::encoder::VideoEncoder,
    keyframe_due: bool,
    default_bitrate: u64,
    /// The most the group's slowest link allows (bits/s), if measured.
    link_cap: Option<u64>,
    /// Frames of the stream encoded for other groups since this one's
    /// last: an encoder no client uses any more goes.
    idle_frames: u32,
}

/// What a client's STREAM_REPORT says of a window of stream frames.
#[derive(Clone, Copy, Debug)]
pub struct StreamReport {
    pub frames: u32,
    pub drops: u32,
    /// How early the last frame came (ms; negative: late).
    pub last_delay_ms: i32,
    /// How long the last frame took to arrive (ms).
    pub transit_ms: i32,
}

/// The longest a stream frame should take to reach its client (ms): the
/// playout delay follows it (a quarter more and 3 ms), and with it the
/// time from the application's draw to the client's screen. Longer, and
/// the bitrate comes down whatever the link estimate allows (it counts
/// short bursts a shaped link lets through faster than its rate). Video
/// at 10 Mbit/s showed 16 to 18 ms after the draw with 8 ms, 18 to 21 ms
/// with 10.
const FRAME_TRANSIT_TARGET_MS: i32 = 8;

/// An encoder whose group got no frame for this many frames of its stream
/// is dropped (its clients moved to another group, or left).
const IDLE_ENCODER_FRAMES: u32 = 90;

impl std::fmt::Debug for StreamEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "StreamEncoder({}, {:?}, group {})",
            self.stream_id, self.codec, self.group
        )
    }
}

/// An encoded frame, whether a decoder can start with it, and its width
/// and height (the stream's, or half of them for an MJPEG frame on a link
/// too slow for the full size).
#[derive(Clone)]
pub struct EncodedFrame {
    pub data: std::sync::Arc<Vec<u8>>,
    pub keyframe: bool,
    pub size: (u32, u32),
}

impl DisplayState {
    pub fn new(width: u32, height: u32) -> Self {
        DisplayState {
            surface: Surface::new(width, height),
            cursor: CursorState::default(),
            streams: Default::default(),
            encoders: Vec::new(),
            frames_encoded: Default::default(),
        }
    }

    /// Encodes the current pixels of stream `id` with `codec` for the
    /// clients of rate group `group`, whose slowest link is
    /// `slowest_link` (bits/s; `None` while not measured), making the
    /// encoder on first use. The group's bitrate stays within its share of
    /// that link. At full size unless `may_halve` (the clients take
    /// frames of another size than the stream's). `None` when that cannot
    /// be done.
    pub fn encode_stream(
        &mut self,
        id: u32,
        codec: super::encoder::VideoCodec,
        group: u8,
        slowest_link: Option<u64>,
        may_halve: bool,
    ) -> Option<EncodedFrame> {
        let rect = self.streams.stream(id)?.rect;
        // The pixels in place where they lie in order, else a copy.
        let copy;
        let (bytes, stride) = match self.surface.area(rect) {
            Some(area) => area,
            None => {
                copy = self.surface.read(rect)?;
                (&copy[..], rect.width as usize * 4)
            }
        };
        let link_cap = slowest_link.map(|b| (b / 100 * LINK_SHARE_PERCENT).max(1));
        // The stream's other encoders age; one unused for long goes.
        for e in self.encoders.iter_mut().filter(|e| e.stream_id == id) {
            e.idle_frames = e.idle_frames.saturating_add(1);
        }
        self.encoders.retain(|e| {
            e.stream_id != id
                || (e.codec == codec && e.group == group)
                || e.idle_frames < IDLE_ENCODER_FRAMES
        });
        let index = match self
            .encoders
            .iter()
            .position(|e| e.stream_id == id && e.codec == codec && e.group == group)
        {
            Some(i) => i,
            None => {
                let encoder =
                    super::encoder::VideoEncoder::new(codec, rect.width, rect.height, 30, 0)
                        .map_err(|e| red_warning!("cannot encode {}: {e}", codec.name()))
                        .ok()?;
                red_debug!(
                    "stream {id}: an encoder in {} for rate group {group} (link {slowest_link:?} bit/s)",
                    codec.name()
                );
                self.encoders.push(StreamEncoder {
                    stream_id: id,
                    codec,
                    group,
                    default_bitrate: encoder.bitrate(),
                    encoder,
                    keyframe_due: true,
                    link_cap: None,
                    idle_frames: 0,
                });
                self.encoders.len() - 1
            }
        };
        let entry = &mut self.encoders[index];
        entry.idle_frames = 0;
        // Within the link: at once when the link is new or slower; the
        // reports raise it again within the new cap (`adapt_bitrate`).
        if link_cap != entry.link_cap {
            entry.link_cap = link_cap;
            if let Some(cap) = link_cap.filter(|c| *c < entry.encoder.bitrate()) {
                entry.encoder.set_bitrate(cap);
            }
        }
        let keyframe = entry.keyframe_due || codec == super::encoder::VideoCodec::Mjpeg;
        if entry.keyframe_due {
            entry.encoder.request_keyframe();
            entry.keyframe_due = false;
        }
        let timestamp = (glib::monotonic_time() / 1000) as u64;
        entry.encoder.set_may_halve(may_halve);
        match entry.encoder.encode(bytes, stride, timestamp) {
            Ok(Some(data)) => {
                self.frames_encoded
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Some(EncodedFrame {
                    data: std::sync::Arc::new(data),
                    keyframe,
                    size: entry.encoder.last_frame_size(),
                })
            }
            Ok(None) => None,
            Err(e) => {
                red_warning!("{} encoder failed: {e}", codec.name());
                None
            }
        }
    }

    /// The next frame of stream `id` in `codec` will be a keyframe, in
    /// every group (a new client joined, or one changed groups).
    pub fn request_keyframe(&mut self, id: u32, codec: super::encoder::VideoCodec) {
        for e in self
            .encoders
            .iter_mut()
            .filter(|e| e.stream_id == id && e.codec == codec)
        {
            e.keyframe_due = true;
        }
    }

    /// Adapts the bitrate of stream `id` in `codec` for rate group `group`
    /// to a report of one of its clients: dropped frames, or frames shown
    /// more than 200 ms late, lower it by a quarter; frames that took
    /// longer than `FRAME_TRANSIT_TARGET_MS` to arrive (`transit_ms`)
    /// lower it by a tenth; smooth playback of quick frames raises it by a
    /// tenth; within 1/4 and 2 times the encoder's default (1/4 and 1 time
    /// for MJPEG), and never above the share of the group's slowest
    /// measured link. The clients of a group share its encoder, so the one
    /// in trouble sets it.
    pub fn adapt_bitrate(
        &mut self,
        id: u32,
        codec: super::encoder::VideoCodec,
        group: u8,
        report: &StreamReport,
    ) -> Option<u64> {
        let StreamReport {
            frames,
            drops,
            last_delay_ms,
            transit_ms,
        } = *report;
        let entry = self
            .encoders
            .iter_mut()
            .find(|e| e.stream_id == id && e.codec == codec && e.group == group)?;
        let default = entry.default_bitrate;
        let now = entry.encoder.bitrate();
        let next = if drops > 0 || last_delay_ms < -200 {
            now * 3 / 4
        } else if transit_ms > FRAME_TRANSIT_TARGET_MS {
            now - now / 10
        } else if frames > 0 && transit_ms <= FRAME_TRANSIT_TARGET_MS * 3 / 4 {
            now + now / 10
        } else {
            now
        };
        // MJPEG frames are each a still picture: at its default (1 bit per
        // pixel, about quality 75) more bits buy little but latency, so
        // reports only ever lower it; the video codecs may double theirs.
        let ceiling = if codec == super::encoder::VideoCodec::Mjpeg {
            default
        } else {
            default * 2
        };
        let ceiling = entry.link_cap.map_or(ceiling, |cap| ceiling.min(cap));
        let next = next.clamp((default / 4).min(ceiling), ceiling);
        if next != now {
            entry.encoder.set_bitrate(next);
        }
        Some(next)
    }

    /// Forgets the encoders of streams that ended.
    pub fn drop_encoders(&mut self, ended: &[super::stream::Stream]) {
        self.encoders
            .retain(|e| !ended.iter().any(|s| s.id == e.stream_id));
    }

    /// The block of a large draw that is the surface's own pixels moved up
    /// or down, as (source x, source y, destination).
    fn find_move(&self, rect: Rect, pixels: &[u8], stride: usize) -> Option<(i32, i32, Rect)> {
        let area = rect.clip_to(self.surface.width(), self.surface.height());
        // Over a playing video the stream's encoder does better (and a
        // COPY_BITS would end the stream).
        let over_video = self
            .streams
            .streams()
            .iter()
            .any(|s| super::stream::intersects(s.rect, area));
        if over_video
            || (area.height as usize) < 2 * motion::MIN_MOVED_ROWS
            || u64::from(area.width) * u64::from(area.height) < MIN_MOVE_SEARCH_PIXELS
        {
            return None;
        }
        let skip = (area.y - rect.y) as usize * stride + (area.x - rect.x) as usize * 4;
        let new = motion::Rows::strided(
            pixels.get(skip..)?,
            stride,
            area.width as usize * 4,
            area.height as usize,
        );
        // The surface's rows in place, or a copy where the area spans
        // strips of it.
        let copy;
        let old = match self.surface.row_slices(area) {
            Some(rows) => motion::Rows::new(rows),
            None => {
                copy = self.surface.read(area)?;
                let row = area.width as usize * 4;
                motion::Rows::strided(&copy, row, row, area.height as usize)
            }
        };
        let found = motion::find_vertical_move(&old, &new)?;
        let dest = Rect::new(
            area.x,
            area.y + found.start as i32,
            area.width,
            found.rows as u32,
        );
        Some((area.x, dest.y + found.shift as i32, dest))
    }

    /// Applies one request and says what changed.
    pub fn handle(&mut self, request: DisplayRequest) -> Effect {
        match request {
            DisplayRequest::Draw {
                rect,
                pixels,
                stride,
            } => {
                let moved = self.find_move(rect, &pixels, stride);
                // Large draws stay in their buffer (a stream's next frame
                // often replaces it whole); small ones are copied in.
                let large = u64::from(rect.width) * u64::from(rect.height) >= DEFERRED_DRAW_PIXELS;
                let changed = if large {
                    self.surface.draw_deferred(rect, &pixels, stride)
                } else {
                    self.surface.draw(rect, &pixels, stride)
                };
                match moved {
                    // A redraw of the same pixels is no update at all.
                    _ if changed.is_empty() => Effect::None,
                    Some((src_x, src_y, dest)) => Effect::Moved {
                        src_x,
                        src_y,
                        dest,
                        damage: rows_outside(changed, dest),
                    },
                    None => Effect::Damage(changed),
                }
            }
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
                if config.mode == crate::base::enums::StreamingVideo::Off {
                    let ended = self.streams.end_all();
                    self.drop_encoders(&ended);
                    return Effect::StreamsEnded(ended);
                }
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

/// The parts of `changed` above and below the rows of `moved`.
fn rows_outside(changed: Rect, moved: Rect) -> Vec<Rect> {
    let top = i64::from(changed.y);
    let bottom = top + i64::from(changed.height);
    let moved_top = i64::from(moved.y).clamp(top, bottom);
    let moved_bottom = (i64::from(moved.y) + i64::from(moved.height)).clamp(top, bottom);
    [(top, moved_top), (moved_bottom, bottom)]
        .into_iter()
        .filter(|(a, b)| b > a)
        .map(|(a, b)| Rect::new(changed.x, a as i32, changed.width, (b - a) as u32))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::display::encoder::VideoCodec;
    use std::time::{Duration, Instant};

    /// A display with one 320x240 stream (id 0) of photo-like pixels.
    fn streaming() -> DisplayState {
        let mut state = DisplayState::new(640, 480);
        let rect = Rect::new(0, 0, 320, 240);
        let pixels: Vec<u8> = (0..320 * 240 * 4)
            .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8 / 4 + (i / 1280) as u8 / 2)
            .collect();
        state.surface.draw(rect, &pixels, 320 * 4);
        let t0 = Instant::now();
        let mut started = false;
        for n in 0..crate::display::stream::DEFAULT_START_FRAMES {
            let at = t0 + Duration::from_millis(33 * u64::from(n));
            started |= state.streams.on_damage(rect, at).frame.is_some();
        }
        assert!(started);
        state
    }

    fn bitrate(state: &DisplayState, group: u8) -> Option<u64> {
        state
            .encoders
            .iter()
            .find(|e| e.group == group)
            .map(|e| e.encoder.bitrate())
    }

    #[test]
    fn each_rate_group_has_its_encoder_within_its_slowest_link() {
        let mut state = streaming();
        let fast = state
            .encode_stream(0, VideoCodec::Mjpeg, 0, None, false)
            .unwrap();
        let slow = state
            .encode_stream(0, VideoCodec::Mjpeg, 3, Some(2_000_000), false)
            .unwrap();
        assert_eq!(state.encoders.len(), 2);
        // The unmeasured group keeps the default; the 2 Mbit/s group gets
        // its share of the link.
        let default = bitrate(&state, 0).unwrap();
        assert_eq!(
            bitrate(&state, 3),
            Some(2_000_000 / 100 * LINK_SHARE_PERCENT)
        );
        assert!(default > 2_000_000, "{default}");
        // Its frames follow, the other group's do not.
        let mut slow_frame = slow.data.len();
        for _ in 0..30 {
            slow_frame = state
                .encode_stream(0, VideoCodec::Mjpeg, 3, Some(2_000_000), false)
                .unwrap()
                .data
                .len();
        }
        assert!(
            slow_frame * 2 < fast.data.len(),
            "{slow_frame} {}",
            fast.data.len()
        );
        // A report of trouble in the slow group lowers its bitrate only.
        let trouble = StreamReport {
            frames: 5,
            drops: 2,
            last_delay_ms: 0,
            transit_ms: 2,
        };
        state.adapt_bitrate(0, VideoCodec::Mjpeg, 3, &trouble);
        assert!(bitrate(&state, 3).unwrap() < 2_000_000 / 100 * LINK_SHARE_PERCENT);
        assert_eq!(bitrate(&state, 0), Some(default));
    }

    #[test]
    fn an_encoder_no_client_uses_goes() {
        let mut state = streaming();
        state.encode_stream(0, VideoCodec::Mjpeg, 3, Some(2_000_000), false);
        for _ in 0..IDLE_ENCODER_FRAMES + 1 {
            state.encode_stream(0, VideoCodec::Mjpeg, 0, None, false);
        }
        assert_eq!(state.encoders.len(), 1);
        assert_eq!(state.encoders[0].group, 0);
    }
}
