//! Stream detection: a rectangle redrawn again and again at a video-like
//! rate becomes a video stream. Something drawn over part of it clips it
//! (the drawing goes out as an image, STREAM_CLIP hides the stream there
//! until its next frame); a drawing over all of it, or updates that stop,
//! end it. Pure bookkeeping, no encoding (see `encoder`).

use std::time::{Duration, Instant};

use super::surface::Rect;
use crate::base::enums::StreamingVideo;

/// Detection thresholds (server properties; see `red-server.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamConfig {
    pub mode: StreamingVideo,
    /// Updates of the same rectangle, each within `max_gap` of the previous
    /// one, before it becomes a stream.
    pub start_frames: u32,
    /// Smallest area (pixels) that may stream in `Filter` mode.
    pub min_area: u32,
    /// Longest pause between two updates that still counts as video.
    pub max_gap: Duration,
    /// A stream without updates for this long ends.
    pub timeout: Duration,
}

/// Updates of one rectangle at video rate before it streams.
pub const DEFAULT_START_FRAMES: u32 = 20;
/// Smallest rectangle, in pixels, that streams in filter mode.
pub const DEFAULT_MIN_AREA: u32 = 96 * 96;
/// Milliseconds without an update after which a stream ends.
pub const DEFAULT_TIMEOUT_MS: u32 = 1000;
/// The longest pause between updates that still counts as video (5 fps).
pub const MAX_GAP: Duration = Duration::from_millis(200);

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            mode: StreamingVideo::default(),
            start_frames: DEFAULT_START_FRAMES,
            min_area: DEFAULT_MIN_AREA,
            max_gap: MAX_GAP,
            timeout: Duration::from_millis(u64::from(DEFAULT_TIMEOUT_MS)),
        }
    }
}

/// SPICE allows stream ids below this.
pub const MAX_STREAMS: usize = crate::protocol::constants::SPICE_MAX_NUM_STREAMS as usize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    pub id: u32,
    pub rect: Rect,
    pub last_update: Instant,
    pub frames: u64,
}

#[derive(Debug, Clone)]
struct Candidate {
    rect: Rect,
    hits: u32,
    last: Instant,
}

/// What one damaged rectangle means for streaming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    /// Streams the damage covered whole: they end (lossless resend).
    pub ended: Vec<Stream>,
    /// Streams the damage covered in part: clipped until their next frame.
    pub clipped: Vec<Stream>,
    /// The damage is a frame of this stream (new if `started`).
    pub frame: Option<(u32, bool)>,
}

#[derive(Debug, Default)]
pub struct StreamDetector {
    pub config: StreamConfig,
    streams: Vec<Stream>,
    candidates: Vec<Candidate>,
}

const MAX_CANDIDATES: usize = 32;
/// A candidate seen this many times in a row at video rate is moving
/// content: its photo-like updates may go lossy before its stream starts
/// (`at_video_rate`).
const VIDEO_RATE_HITS: u32 = 3;

impl StreamDetector {
    pub fn streams(&self) -> &[Stream] {
        &self.streams
    }

    pub fn stream(&self, id: u32) -> Option<&Stream> {
        self.streams.iter().find(|s| s.id == id)
    }

    /// Whether `rect` lies in an area updated at video rate right now (a
    /// candidate seen `VIDEO_RATE_HITS` times in a row, last within the
    /// gap), on its way to become a stream: what is drawn there will be
    /// replaced within a frame interval, and goes lossy as stream frames
    /// would. Never while streaming is off.
    pub fn at_video_rate(&self, rect: Rect, now: Instant) -> bool {
        self.config.mode != StreamingVideo::Off
            && self.candidates.iter().any(|c| {
                c.hits >= VIDEO_RATE_HITS
                    && now.duration_since(c.last) <= self.config.max_gap
                    && c.rect.contains(rect)
            })
    }

    /// Ends every stream (resize, or streaming switched off).
    pub fn end_all(&mut self) -> Vec<Stream> {
        self.candidates.clear();
        std::mem::take(&mut self.streams)
    }

    /// Ends the streams that `rect` touches.
    pub fn end_intersecting(&mut self, rect: Rect) -> Vec<Stream> {
        let (gone, kept) = std::mem::take(&mut self.streams)
            .into_iter()
            .partition(|s| intersects(s.rect, rect));
        self.streams = kept;
        gone
    }

    /// Streams whose updates stopped.
    pub fn expire(&mut self, now: Instant) -> Vec<Stream> {
        let timeout = self.config.timeout;
        let (gone, kept) = std::mem::take(&mut self.streams)
            .into_iter()
            .partition(|s| now.duration_since(s.last_update) >= timeout);
        self.streams = kept;
        gone
    }

    /// Classifies one damaged rectangle.
    pub fn on_damage(&mut self, rect: Rect, now: Instant) -> Detection {
        let mut detection = Detection {
            ended: Vec::new(),
            clipped: Vec::new(),
            frame: None,
        };
        if let Some(stream) = self.streams.iter_mut().find(|s| s.rect == rect) {
            stream.last_update = now;
            stream.frames += 1;
            detection.frame = Some((stream.id, false));
            return detection;
        }
        let (over, kept) = std::mem::take(&mut self.streams)
            .into_iter()
            .partition(|s| rect.contains(s.rect));
        self.streams = kept;
        detection.ended = over;
        detection.clipped = self
            .streams
            .iter()
            .filter(|s| intersects(s.rect, rect))
            .cloned()
            .collect();
        if !detection.clipped.is_empty() {
            return detection;
        }
        if self.config.mode == StreamingVideo::Off {
            return detection;
        }
        let (start_frames, min_area) = match self.config.mode {
            StreamingVideo::All => (3, 16 * 16),
            _ => (self.config.start_frames.max(2), self.config.min_area),
        };
        let area = u64::from(rect.width) * u64::from(rect.height);
        // Encoders work on 4:2:0 frames: even sizes only.
        if area < u64::from(min_area) || rect.width % 2 == 1 || rect.height % 2 == 1 {
            return detection;
        }
        let max_gap = self.config.max_gap;
        let hits = match self.candidates.iter_mut().find(|c| c.rect == rect) {
            Some(c) => {
                c.hits = if now.duration_since(c.last) <= max_gap {
                    c.hits + 1
                } else {
                    1
                };
                c.last = now;
                c.hits
            }
            None => {
                if self.candidates.len() >= MAX_CANDIDATES {
                    self.candidates.remove(0);
                }
                self.candidates.push(Candidate {
                    rect,
                    hits: 1,
                    last: now,
                });
                1
            }
        };
        // Other candidates this rectangle covers whole are not video (one
        // drawn over in part, like a video under a window, still is).
        self.candidates
            .retain(|c| c.rect == rect || !rect.contains(c.rect));
        if hits >= start_frames && self.streams.len() < MAX_STREAMS {
            let id = (0..MAX_STREAMS as u32)
                .find(|id| !self.streams.iter().any(|s| s.id == *id))
                .unwrap_or(0);
            self.candidates.retain(|c| c.rect != rect);
            self.streams.push(Stream {
                id,
                rect,
                last_update: now,
                frames: 1,
            });
            detection.frame = Some((id, true));
        }
        detection
    }
}

pub(crate) fn intersects(a: Rect, b: Rect) -> bool {
    let (ax2, ay2) = (
        i64::from(a.x) + i64::from(a.width),
        i64::from(a.y) + i64::from(a.height),
    );
    let (bx2, by2) = (
        i64::from(b.x) + i64::from(b.width),
        i64::from(b.y) + i64::from(b.height),
    );
    i64::from(a.x) < bx2 && i64::from(b.x) < ax2 && i64::from(a.y) < by2 && i64::from(b.y) < ay2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detector(mode: StreamingVideo) -> StreamDetector {
        StreamDetector {
            config: StreamConfig {
                mode,
                start_frames: 5,
                ..StreamConfig::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn repeated_rect_at_video_rate_becomes_a_stream() {
        let mut d = detector(StreamingVideo::Filter);
        let r = Rect::new(10, 10, 320, 180);
        let t0 = Instant::now();
        for i in 0..4 {
            assert_eq!(
                d.on_damage(r, t0 + Duration::from_millis(33 * i)).frame,
                None
            );
        }
        let det = d.on_damage(r, t0 + Duration::from_millis(33 * 4));
        assert_eq!(det.frame, Some((0, true)));
        assert_eq!(
            d.on_damage(r, t0 + Duration::from_millis(33 * 5)).frame,
            Some((0, false))
        );
        assert_eq!(d.expire(t0 + Duration::from_millis(500)), vec![]);
        let gone = d.expire(t0 + Duration::from_millis(33 * 5 + 1000));
        assert_eq!(gone.len(), 1);
        assert!(d.streams().is_empty());
    }

    #[test]
    fn an_area_is_at_video_rate_after_three_quick_updates_until_they_stop() {
        let mut d = detector(StreamingVideo::Filter);
        let r = Rect::new(10, 10, 320, 180);
        let band = Rect::new(10, 50, 320, 20);
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        d.on_damage(r, at(0));
        d.on_damage(r, at(33));
        assert!(!d.at_video_rate(band, at(40)));
        d.on_damage(r, at(66));
        assert!(d.at_video_rate(band, at(70)));
        assert!(d.at_video_rate(r, at(70)));
        assert!(!d.at_video_rate(Rect::new(0, 0, 40, 40), at(70)));
        // Updates stopped: no longer.
        assert!(!d.at_video_rate(band, at(66 + 201)));
        // Slow updates never are, nor anything with streaming off.
        let mut slow = detector(StreamingVideo::Filter);
        let mut off = detector(StreamingVideo::Off);
        for i in 0..10 {
            slow.on_damage(r, at(300 * i));
            off.on_damage(r, at(33 * i));
        }
        assert!(!slow.at_video_rate(band, at(2700)));
        assert!(!off.at_video_rate(band, at(300)));
    }

    #[test]
    fn slow_updates_small_areas_and_off_never_stream() {
        let t0 = Instant::now();
        let mut d = detector(StreamingVideo::Filter);
        let r = Rect::new(0, 0, 320, 180);
        for i in 0..20 {
            assert_eq!(
                d.on_damage(r, t0 + Duration::from_millis(300 * i)).frame,
                None
            );
        }
        let small = Rect::new(0, 0, 16, 16);
        for i in 0..20 {
            assert_eq!(
                d.on_damage(small, t0 + Duration::from_millis(10 * i)).frame,
                None
            );
        }
        let mut off = detector(StreamingVideo::Off);
        for i in 0..20 {
            assert_eq!(
                off.on_damage(r, t0 + Duration::from_millis(10 * i)).frame,
                None
            );
        }
        let mut all = detector(StreamingVideo::All);
        let mid = Rect::new(0, 0, 32, 32);
        let started: Vec<_> = (0..3)
            .map(|i| all.on_damage(mid, t0 + Duration::from_millis(10 * i)).frame)
            .collect();
        assert_eq!(started[2], Some((0, true)));
    }

    #[test]
    fn drawing_over_part_of_a_stream_clips_it_and_over_all_of_it_ends_it() {
        let mut d = detector(StreamingVideo::Filter);
        let r = Rect::new(0, 0, 200, 100);
        let t0 = Instant::now();
        for i in 0..5 {
            d.on_damage(r, t0 + Duration::from_millis(10 * i));
        }
        assert_eq!(d.streams().len(), 1);
        let det = d.on_damage(Rect::new(150, 50, 100, 100), t0 + Duration::from_millis(60));
        assert!(det.ended.is_empty() && det.frame.is_none());
        assert_eq!(det.clipped.len(), 1);
        assert_eq!(d.streams().len(), 1);
        let det = d.on_damage(Rect::new(0, 0, 300, 300), t0 + Duration::from_millis(70));
        assert_eq!(det.ended.len(), 1);
        assert!(d.streams().is_empty());
        // Elsewhere: no effect.
        for i in 0..5 {
            d.on_damage(r, t0 + Duration::from_millis(100 + 10 * i));
        }
        let det = d.on_damage(Rect::new(300, 300, 10, 10), t0 + Duration::from_millis(160));
        assert!(det.ended.is_empty() && d.streams().len() == 1);
    }
}
