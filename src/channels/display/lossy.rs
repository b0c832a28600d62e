//! Lossy images on slow links: when a photo-like update cannot reach the
//! client losslessly within two frame intervals at its link's measured
//! rate, it goes as JPEG, and the area is sent again losslessly once it
//! has stayed unchanged for [`SETTLE`] and the link has nothing newer to
//! carry. Text and UI stay lossless (GLZ, wrapped in zlib on slow links).
//!
//! The choice is made after the lossless encoding, from its size: bytes
//! per pixel say how photo-like the pixels are (GLZ leaves text, UI and
//! anything seen before under a byte per pixel; photos take two to three)
//! and how long they would take on the link. A classifier looking at the
//! pixels would also call a repeated photo (a moved window, the
//! benchmark's box) photo-like, which GLZ sends for a few bytes.

use std::time::{Duration, Instant};

use crate::display::region::Region;
use crate::display::surface::Rect;
use crate::model::link::{LinkEstimator, FRAME_INTERVAL};

/// How long a lossy area stays unchanged before its lossless pixels
/// follow.
pub const SETTLE: Duration = Duration::from_millis(300);
/// A lossless image taking at least this many bytes per pixel is
/// photo-like.
const PHOTO_BYTES_PER_PIXEL: f64 = 1.0;
/// A lossless image that reaches the client within this time (behind
/// what is queued already) goes as it is.
const LOSSLESS_BUDGET: Duration = Duration::from_millis(FRAME_INTERVAL.as_millis() as u64 * 2);
/// Below this bandwidth (bits/s), GLZ images go wrapped in zlib when that
/// saves bytes: zlib's time (level 3, some 60 MB/s here) is then less than
/// what the quarter or so it saves takes on the link. spice-server does it
/// below 10 Mbit/s.
pub const ZLIB_GLZ_BELOW_BPS: u64 = 100_000_000;
/// The JPEG quality of updates to an area drawn at video rate on a link
/// that carries them losslessly: the lowest with full chroma, as on a
/// link that keeps up at all.
const VIDEO_RATE_QUALITY: u8 = 85;
/// More lossy areas than this are merged into their bounding box.
const MAX_AREAS: usize = 64;

/// The JPEG quality for an update whose lossless encoding takes
/// `lossless_bytes` for `pixels` pixels, with `queued` bytes ahead of it
/// toward the client; `None` when it should go lossless (the link is fast
/// enough, not yet measured, or the pixels are not photo-like).
///
/// The further the lossless image would miss its budget, the lower the
/// quality. 85 is the lowest with full chroma
/// ([`crate::display::codecs::jpeg::FULL_CHROMA_QUALITY`]): colour edges
/// stay sharp while the link keeps up at all.
///
/// An update in an area drawn at video rate (`at_video_rate`, on its way
/// to become a stream) goes lossy whatever the link: it is replaced within
/// a frame interval, as stream frames are, and its lossless pixels follow
/// once it settles. On loopback the twenty lossless frames before a
/// full-screen photo stream started took twice the bytes of the stream.
pub fn jpeg_quality(
    link: &LinkEstimator,
    queued: usize,
    pixels: usize,
    lossless_bytes: usize,
    at_video_rate: bool,
) -> Option<u8> {
    if !photo_like(pixels, lossless_bytes) {
        return None;
    }
    let moving = at_video_rate.then_some(VIDEO_RATE_QUALITY);
    let bytes_per_second = link.bandwidth_bps() as f64 / 8.0;
    if bytes_per_second <= 0.0 {
        return moving;
    }
    let lossless = Duration::from_secs_f64((queued + lossless_bytes) as f64 / bytes_per_second);
    let over = lossless.as_secs_f64() / LOSSLESS_BUDGET.as_secs_f64();
    match over {
        o if o <= 1.0 => moving,
        o if o <= 6.0 => Some(85),
        o if o <= 10.0 => Some(70),
        _ => Some(50),
    }
}

/// Whether `pixels` whose lossless encoding took `lossless_bytes` are
/// photo-like: what a dictionary coder cannot shrink, and QUIC or JPEG can.
pub fn photo_like(pixels: usize, lossless_bytes: usize) -> bool {
    lossless_bytes as f64 >= pixels as f64 * PHOTO_BYTES_PER_PIXEL
}

/// Whether GLZ images should go wrapped in zlib on this link.
pub fn wraps_glz(link: &LinkEstimator) -> bool {
    let bandwidth = link.bandwidth_bps();
    bandwidth > 0 && bandwidth < ZLIB_GLZ_BELOW_BPS
}

/// The areas one client has only lossy pixels of, and those due to be
/// sent again losslessly.
#[derive(Default)]
pub struct LossyAreas {
    /// Areas sent lossy, with when.
    areas: Vec<(Rect, Instant)>,
    /// Settled areas waiting for their lossless pixels: sent when nothing
    /// else is pending, so they never hold back a newer update.
    due: Region,
}

fn bounding_box(a: Rect, b: Rect) -> Rect {
    let x1 = a.x.min(b.x);
    let y1 = a.y.min(b.y);
    let x2 = (i64::from(a.x) + i64::from(a.width)).max(i64::from(b.x) + i64::from(b.width));
    let y2 = (i64::from(a.y) + i64::from(a.height)).max(i64::from(b.y) + i64::from(b.height));
    // Both boxes fit in i32 coordinates and u32 sizes, so does theirs.
    Rect::new(
        x1,
        y1,
        (x2 - i64::from(x1)) as u32,
        (y2 - i64::from(y1)) as u32,
    )
}

impl LossyAreas {
    /// `rect` went out lossy at `now`.
    pub fn sent_lossy(&mut self, rect: Rect, now: Instant) {
        self.due.subtract(rect);
        self.areas.retain(|(area, _)| !rect.contains(*area));
        self.push(rect, now);
    }

    fn push(&mut self, rect: Rect, at: Instant) {
        self.areas.push((rect, at));
        if self.areas.len() > MAX_AREAS {
            let merged = self
                .areas
                .iter()
                .map(|(area, _)| *area)
                .reduce(bounding_box)
                .unwrap_or(rect);
            let latest = self.areas.iter().map(|(_, t)| *t).max().unwrap_or(at);
            self.areas = vec![(merged, latest)];
        }
    }

    /// `rect` went out lossless: what it covers is exact on the client.
    pub fn sent_lossless(&mut self, rect: Rect) {
        self.due.subtract(rect);
        self.areas.retain(|(area, _)| !rect.contains(*area));
    }

    /// The client copied `src` to `dest` (COPY_BITS): lossy pixels moved
    /// with it, and what `dest` held is gone.
    pub fn copied(&mut self, src: Rect, dest: Rect) {
        if self.is_empty() {
            return;
        }
        let (dx, dy) = (dest.x - src.x, dest.y - src.y);
        let moved = |r: Rect| Rect::new(r.x + dx, r.y + dy, r.width, r.height);
        let areas: Vec<(Rect, Instant)> = self
            .areas
            .iter()
            .filter_map(|(area, at)| area.intersection(src).map(|r| (moved(r), *at)))
            .collect();
        let due: Vec<Rect> = self
            .due
            .rects()
            .into_iter()
            .filter_map(|r| r.intersection(src))
            .map(moved)
            .collect();
        self.areas.retain(|(area, _)| !dest.contains(*area));
        self.due.subtract(dest);
        for (area, at) in areas {
            self.push(area, at);
        }
        for rect in due {
            self.due.add(rect);
        }
    }

    /// Moves the areas unchanged since [`SETTLE`] before `now` to the due
    /// region; true when there are some.
    pub fn settle(&mut self, now: Instant) -> bool {
        let mut settled = false;
        self.areas.retain(|(area, at)| {
            if now.duration_since(*at) < SETTLE {
                return true;
            }
            self.due.add(*area);
            settled = true;
            false
        });
        settled
    }

    /// Takes the next settled area (at most `max_pixels`, whole rows) to
    /// send losslessly.
    pub fn next_due(&mut self, max_pixels: u32) -> Option<Rect> {
        let first = self.due.rects().into_iter().next()?;
        let rows = (max_pixels / first.width.max(1)).clamp(1, first.height);
        let rect = Rect::new(first.x, first.y, first.width, rows);
        self.due.subtract(rect);
        Some(rect)
    }

    /// Whether the client has lossy pixels anywhere.
    pub fn is_empty(&self) -> bool {
        self.areas.is_empty() && self.due.is_empty()
    }

    /// Forgets everything (a new surface).
    pub fn clear(&mut self) {
        self.areas.clear();
        self.due.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A link measured at `bps`: busy for a second, its queue draining
    /// at that rate.
    fn link_at(bps: u64) -> LinkEstimator {
        let mut link = LinkEstimator::default();
        let per_100ms = bps / 8 / 10;
        link.wrote(10 * per_100ms as usize + 1_000_000);
        for i in 0..=10u64 {
            let queued = 1_000_000 + (10 - i) * per_100ms;
            link.sample(i * 100_000_000, queued as usize, 0);
        }
        link
    }

    #[test]
    fn photo_like_updates_go_lossy_only_when_the_link_is_slow() {
        let pixels = 256 * 256;
        let photo = pixels * 5 / 2;
        let slow = link_at(10_000_000);
        assert!(slow.bandwidth_bps() > 9_000_000 && slow.bandwidth_bps() < 11_000_000);
        // 160 KiB at 10 Mbit/s: 130 ms, twice the budget.
        assert_eq!(jpeg_quality(&slow, 0, pixels, photo, false), Some(85));
        // Far over: a lower quality.
        assert_eq!(
            jpeg_quality(&slow, 2_000_000, pixels, photo, false),
            Some(50)
        );
        // Text-like bytes stay lossless however slow the link.
        assert_eq!(jpeg_quality(&slow, 0, pixels, pixels / 4, false), None);
        // A fast link, or one not measured yet: lossless.
        assert_eq!(
            jpeg_quality(&link_at(1_000_000_000), 0, pixels, photo, false),
            None
        );
        assert_eq!(
            jpeg_quality(&LinkEstimator::default(), 0, pixels, photo, false),
            None
        );
        // Drawn at video rate: lossy on any link, photo-like only.
        for link in [link_at(1_000_000_000), LinkEstimator::default()] {
            assert_eq!(
                jpeg_quality(&link, 0, pixels, photo, true),
                Some(VIDEO_RATE_QUALITY)
            );
            assert_eq!(jpeg_quality(&link, 0, pixels, pixels / 4, true), None);
        }
        assert_eq!(
            jpeg_quality(&slow, 2_000_000, pixels, photo, true),
            Some(50)
        );
    }

    #[test]
    fn glz_is_wrapped_below_the_threshold_only() {
        assert!(wraps_glz(&link_at(10_000_000)));
        assert!(!wraps_glz(&link_at(1_000_000_000)));
        assert!(!wraps_glz(&LinkEstimator::default()));
    }

    #[test]
    fn a_lossy_area_is_due_once_it_settles_and_not_before() {
        let t0 = Instant::now();
        let mut lossy = LossyAreas::default();
        let area = Rect::new(10, 20, 300, 200);
        lossy.sent_lossy(area, t0);
        assert!(!lossy.settle(t0 + SETTLE / 2));
        assert_eq!(lossy.next_due(u32::MAX), None);
        assert!(lossy.settle(t0 + SETTLE));
        assert_eq!(lossy.next_due(u32::MAX), Some(area));
        assert!(lossy.is_empty());
    }

    #[test]
    fn due_areas_leave_in_bands_of_whole_rows() {
        let t0 = Instant::now();
        let mut lossy = LossyAreas::default();
        lossy.sent_lossy(Rect::new(0, 0, 100, 30), t0);
        lossy.settle(t0 + SETTLE);
        let bands: Vec<Rect> = std::iter::from_fn(|| lossy.next_due(100 * 10)).collect();
        assert_eq!(
            bands,
            vec![
                Rect::new(0, 0, 100, 10),
                Rect::new(0, 10, 100, 10),
                Rect::new(0, 20, 100, 10)
            ]
        );
    }

    #[test]
    fn newer_pixels_replace_lossy_ones() {
        let t0 = Instant::now();
        let mut lossy = LossyAreas::default();
        lossy.sent_lossy(Rect::new(0, 0, 100, 100), t0);
        // Redrawn lossy later: the area settles from then.
        lossy.sent_lossy(Rect::new(0, 0, 100, 100), t0 + SETTLE / 2);
        assert!(!lossy.settle(t0 + SETTLE));
        // Redrawn exactly: nothing left to resend.
        lossy.sent_lossless(Rect::new(0, 0, 100, 100));
        assert!(!lossy.settle(t0 + SETTLE * 4));
        assert!(lossy.is_empty());
        // A settled area that is redrawn before it went out is not due.
        lossy.sent_lossy(Rect::new(0, 0, 50, 50), t0);
        lossy.settle(t0 + SETTLE);
        lossy.sent_lossless(Rect::new(0, 0, 50, 50));
        assert_eq!(lossy.next_due(u32::MAX), None);
    }

    #[test]
    fn lossy_pixels_move_with_a_copy() {
        let t0 = Instant::now();
        let mut lossy = LossyAreas::default();
        lossy.sent_lossy(Rect::new(0, 0, 100, 100), t0);
        lossy.sent_lossy(Rect::new(260, 10, 10, 10), t0);
        // The right half of the first area is copied right by 400.
        lossy.copied(Rect::new(50, 0, 50, 100), Rect::new(450, 0, 50, 100));
        // Exact pixels are copied over the second area.
        lossy.copied(Rect::new(150, 0, 50, 50), Rect::new(250, 0, 50, 50));
        lossy.settle(t0 + SETTLE);
        let mut due = Region::new();
        while let Some(rect) = lossy.next_due(u32::MAX) {
            due.add(rect);
        }
        assert!(due.intersects(Rect::new(0, 0, 100, 100)));
        assert!(due.intersects(Rect::new(450, 0, 50, 100)));
        assert!(!due.intersects(Rect::new(400, 0, 50, 100)));
        assert!(!due.intersects(Rect::new(250, 0, 50, 50)));
    }

    #[test]
    fn many_areas_merge_into_their_bounding_box() {
        let t0 = Instant::now();
        let mut lossy = LossyAreas::default();
        for i in 0..=MAX_AREAS as i32 {
            lossy.sent_lossy(Rect::new(i * 10, i * 5, 8, 4), t0);
        }
        lossy.settle(t0 + SETTLE);
        let mut due = Region::new();
        while let Some(rect) = lossy.next_due(u32::MAX) {
            due.add(rect);
        }
        let last = MAX_AREAS as i32;
        assert!(due.intersects(Rect::new(0, 0, 1, 1)));
        assert!(due.intersects(Rect::new(last * 10 + 7, last * 5 + 3, 1, 1)));
        // The box between the areas too.
        assert!(due.intersects(Rect::new(last * 10, 0, 1, 1)));
    }
}
