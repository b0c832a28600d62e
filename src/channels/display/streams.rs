//! The video streams of one display channel client: which codecs it
//! decodes, STREAM_CREATE / STREAM_DATA / STREAM_CLIP / STREAM_DESTROY,
//! frames dropped (never queued) while it is behind, and the lossless
//! resend of a stream's area when the stream ends. The frames themselves
//! are encoded once per codec for all clients by the display engine
//! (`crate::display::state`); the caller passes them in.
//! Runs on the display's worker thread.

use std::sync::Mutex;

use crate::base::clock::mm_time;
use crate::base::sync::lock;
use crate::display::encoder::{self, VideoCodec};
use crate::display::rate_group::{self, GroupLinks};
use crate::display::region::Region;
use crate::display::state::{DisplayState, EncodedFrame};
use crate::display::stream::Stream;
use crate::display::surface::Rect;
use crate::model::connection::{Outbox, Result};
use crate::protocol::constants::{cap, stream_flags};
use crate::protocol::display_messages::{
    StreamActivateReport, StreamClip, StreamCreate, StreamData, StreamDataSized, StreamDestroy,
};
use crate::protocol::{Caps, Clip};

/// Frames per STREAM_REPORT and the longest wait for one (spice-server's).
const REPORT_WINDOW: u32 = 5;
const REPORT_TIMEOUT_MS: u32 = 1000;

/// The frames of one damage, encoded at most once per codec and rate
/// group and shared by every client of that codec in that group; twice
/// when some of them take half-size MJPEG frames and others do not.
pub(crate) struct SharedFrames {
    /// Each group's slowest link, which caps its bitrate.
    links: GroupLinks,
    frames: Vec<SharedFrame>,
}

impl SharedFrames {
    /// For the clients whose groups and links `links` has.
    pub(crate) fn new(links: GroupLinks) -> Self {
        SharedFrames {
            links,
            frames: Vec::new(),
        }
    }

    /// Stream `id`'s frame in `codec` for `group`, for a client that takes
    /// frames of any size or not (`sized`), encoded on first use; `full`
    /// is the stream's size.
    fn get(
        &mut self,
        state: &Mutex<DisplayState>,
        id: u32,
        codec: VideoCodec,
        group: u8,
        sized: bool,
        full: (u32, u32),
    ) -> Option<EncodedFrame> {
        if let Some(shared) = self
            .frames
            .iter()
            .find(|f| f.serves(codec, group, sized, full))
        {
            return shared.frame.clone();
        }
        let frame = lock(state).encode_stream(id, codec, group, self.links.slowest(group), sized);
        self.frames.push(SharedFrame {
            codec,
            group,
            any_size: sized,
            frame: frame.clone(),
        });
        frame
    }
}

/// One encoding of a damage.
#[derive(Clone)]
pub(crate) struct SharedFrame {
    codec: VideoCodec,
    /// The rate group it was encoded for.
    group: u8,
    /// Whether it was encoded for a client that takes frames of any size
    /// (it may be at half size).
    any_size: bool,
    /// `None`: the encoder failed.
    frame: Option<EncodedFrame>,
}

impl SharedFrame {
    /// Whether a client of `codec` in `group` can send this encoding;
    /// `sized`: the client takes frames of another size than its stream's.
    fn serves(&self, codec: VideoCodec, group: u8, sized: bool, full: (u32, u32)) -> bool {
        if self.codec != codec || self.group != group {
            return false;
        }
        if sized {
            return self.any_size;
        }
        self.frame.as_ref().is_none_or(|f| f.size == full)
    }
}

/// A stream drawn over: where it still shows, and whether the drawing over
/// it was redrawn since the stream's last frame (if not, it is gone).
struct ClippedStream {
    id: u32,
    visible: Region,
    redrawn: bool,
}

/// One client's streams.
pub(crate) struct ClientStreams {
    /// Video codecs this client decodes, best first.
    codecs: Vec<VideoCodec>,
    /// Streams created on this client, with their codec.
    streams: Vec<(u32, VideoCodec)>,
    clipped: Vec<ClippedStream>,
    /// Stream frames not sent because the client was behind.
    frames_dropped: u64,
    /// Whether the client sends STREAM_REPORTs when asked.
    reports: bool,
    /// The rate group of the client's link (`crate::display::rate_group`),
    /// once a frame was sent to it.
    rate_group: Option<u8>,
    /// The group whose encoder each stream's frames came from: a decoder
    /// fed from another encoder needs a keyframe first.
    fed_from: Vec<(u32, u8)>,
    /// Whether the client takes STREAM_DATA_SIZED, frames of another size
    /// than the stream's (its SIZED_STREAM cap).
    sized: bool,
}

fn proto_rect(r: Rect) -> crate::protocol::Rect {
    crate::protocol::Rect::from_xywh(r.x, r.y, r.width as i32, r.height as i32)
}

impl ClientStreams {
    /// The codecs a client decodes, in the server's order of preference:
    /// clients with MULTI_CODEC list theirs in their caps; older clients
    /// only know MJPEG. Codecs without installed encoders are left out.
    pub(crate) fn new(caps: &Caps, server_codecs: &[VideoCodec]) -> Self {
        let multi = caps.has(cap::display::MULTI_CODEC);
        let codecs = server_codecs
            .iter()
            .copied()
            .filter(|c| {
                if multi {
                    caps.has(c.client_cap())
                } else {
                    *c == VideoCodec::Mjpeg
                }
            })
            .filter(|c| encoder::available(*c))
            .collect();
        ClientStreams {
            codecs,
            streams: Vec::new(),
            clipped: Vec::new(),
            frames_dropped: 0,
            reports: caps.has(cap::display::STREAM_REPORT),
            rate_group: None,
            fed_from: Vec::new(),
            sized: caps.has(cap::display::SIZED_STREAM),
        }
    }

    /// The rate group of a client whose link is measured at
    /// `bandwidth_bps` (0: not measured), from now on.
    pub(crate) fn regroup(&mut self, bandwidth_bps: u64) -> u8 {
        let group = rate_group::group_of(bandwidth_bps, self.rate_group);
        if self.rate_group != Some(group) {
            red_debug!("streams go to a client at {bandwidth_bps} bit/s in rate group {group}");
            self.rate_group = Some(group);
        }
        group
    }

    /// The client's rate group (whose encoder its reports steer).
    pub(crate) fn rate_group(&self) -> u8 {
        self.rate_group.unwrap_or(rate_group::UNMEASURED)
    }

    /// Whether the client decodes any codec the server encodes.
    pub(crate) fn can_stream(&self) -> bool {
        !self.codecs.is_empty()
    }

    /// The codec of stream `id` on this client, if it has it.
    pub(crate) fn codec_of(&self, id: u32) -> Option<VideoCodec> {
        self.streams.iter().find(|(s, _)| *s == id).map(|(_, c)| *c)
    }

    /// The client cannot decode `codec`: images for it from now on.
    pub(crate) fn drop_codec(&mut self, codec: VideoCodec) {
        self.codecs.retain(|c| *c != codec);
    }

    /// PREFERRED_VIDEO_CODEC_TYPE: the client's order first, for new
    /// streams.
    pub(crate) fn prefer(&mut self, preferred: &[u8]) {
        let mut ordered: Vec<VideoCodec> = preferred
            .iter()
            .filter_map(|&c| VideoCodec::from_spice(c))
            .filter(|c| self.codecs.contains(c))
            .collect();
        ordered.dedup();
        for c in self.codecs.iter() {
            if !ordered.contains(c) {
                ordered.push(*c);
            }
        }
        self.codecs = ordered;
    }

    /// Destroys `ended` streams on this client; their area goes back to
    /// `pending`, to be resent losslessly.
    pub(crate) fn end(
        &mut self,
        ended: &[Stream],
        pending: &mut Region,
        out: &mut Outbox,
    ) -> Result {
        for stream in ended {
            self.clipped.retain(|c| c.id != stream.id);
            self.fed_from.retain(|(id, _)| *id != stream.id);
            if let Some(i) = self.streams.iter().position(|(id, _)| *id == stream.id) {
                self.streams.remove(i);
                red_debug!(
                    "stream {} ends after {} frames ({} dropped for this client so far)",
                    stream.id,
                    stream.frames,
                    self.frames_dropped
                );
                out.send(&StreamDestroy { id: stream.id })?;
            }
            pending.add(stream.rect);
        }
        Ok(())
    }

    /// Destroys every stream of this client (before its surface goes).
    pub(crate) fn destroy_all(&mut self, out: &mut Outbox) -> Result {
        self.clipped.clear();
        self.fed_from.clear();
        for (id, _) in std::mem::take(&mut self.streams) {
            out.send(&StreamDestroy { id })?;
        }
        Ok(())
    }

    /// Something was drawn over part of `stream`: hide the stream there
    /// (the drawing goes out as an image) for as long as it is redrawn
    /// between the stream's frames, as a window over a video is.
    pub(crate) fn clip(&mut self, stream: &Stream, over: Rect, out: &mut Outbox) -> Result {
        if self.codec_of(stream.id).is_none() {
            return Ok(());
        }
        let index = match self.clipped.iter().position(|c| c.id == stream.id) {
            Some(i) => i,
            None => {
                let mut visible = Region::new();
                visible.add(stream.rect);
                self.clipped.push(ClippedStream {
                    id: stream.id,
                    visible,
                    redrawn: true,
                });
                self.clipped.len() - 1
            }
        };
        let clipped = &mut self.clipped[index];
        clipped.redrawn = true;
        clipped.visible.subtract(over);
        let rects: Vec<_> = clipped
            .visible
            .rects()
            .into_iter()
            .map(proto_rect)
            .collect();
        out.send(&StreamClip {
            id: stream.id,
            clip: Clip::Rects(&rects),
        })
    }

    /// Frame `id` of the stream over `rect`: STREAM_DATA for this client
    /// (with STREAM_CREATE first if it has not got the stream yet), or the
    /// area as pending damage when it cannot take the stream. Frames are
    /// encoded through `state` once per codec, kept in `frames`. True when
    /// a STREAM_DATA was queued.
    pub(crate) fn send_frame(
        &mut self,
        id: u32,
        rect: Rect,
        state: &Mutex<DisplayState>,
        frames: &mut SharedFrames,
        pending: &mut Region,
        out: &mut Outbox,
    ) -> Result<bool> {
        let existing = self.codec_of(id);
        let Some(codec) = existing.or_else(|| self.codecs.first().copied()) else {
            pending.add(rect);
            return Ok(false);
        };
        if existing.is_some() && !out.has_room() {
            // Behind: drop this frame.
            self.frames_dropped += 1;
            return Ok(false);
        }
        // A client that has not got the stream yet gets it even when its
        // queue is full: the stream then carries the area, which otherwise
        // stays pending damage whose image bands take every bit of room a
        // slow link gives, so that the stream would never start there.
        // That is one frame over the bound, once.
        let group = self.rate_group();
        let full = (rect.width, rect.height);
        let frame = frames.get(state, id, codec, group, self.sized, full);
        let Some(frame) = frame else {
            // The encoder failed: this client gets images for it.
            self.drop_codec(codec);
            pending.add(rect);
            return Ok(false);
        };
        if existing.is_none() {
            if !frame.keyframe {
                // A decoder cannot start here: wait for the keyframe asked
                // for the next frame.
                lock(state).request_keyframe(id, codec);
                pending.add(rect);
                return Ok(false);
            }
            self.create(id, rect, codec, out)?;
            // The stream carries this area from now on.
            pending.subtract(rect);
        } else if !frame.keyframe && self.fed_from.iter().any(|&(s, g)| s == id && g != group) {
            // The client moved to another group: its decoder cannot go on
            // with another encoder's frames before that one's keyframe.
            lock(state).request_keyframe(id, codec);
            self.frames_dropped += 1;
            return Ok(false);
        }
        match self.fed_from.iter_mut().find(|(s, _)| *s == id) {
            Some(entry) => entry.1 = group,
            None => self.fed_from.push((id, group)),
        }
        self.unclip_if_gone(id, out)?;
        // Stamped with the server's multimedia clock now; the client's
        // clock runs the playout delay behind it (MAIN_INIT,
        // MULTI_MEDIA_TIME), so the frame is on time if it arrives within
        // that delay, and shows when the client's clock reaches the stamp.
        let multi_media_time = mm_time();
        if frame.size == full {
            out.send(&StreamData {
                id,
                multi_media_time,
                data: &frame.data,
            })?;
        } else {
            // A half-size frame (only to a client with SIZED_STREAM):
            // spice-gtk scales it to `dest`, the stream's area.
            out.send(&StreamDataSized {
                id,
                multi_media_time,
                width: frame.size.0,
                height: frame.size.1,
                dest: proto_rect(rect),
                data: &frame.data,
            })?;
        }
        Ok(true)
    }

    /// STREAM_CREATE, and a request for playback reports if the client
    /// sends them (the bitrate follows them).
    fn create(&mut self, id: u32, rect: Rect, codec: VideoCodec, out: &mut Outbox) -> Result {
        red_debug!(
            "stream {id} ({}x{} at {},{}) starts on a client in {}",
            rect.width,
            rect.height,
            rect.x,
            rect.y,
            codec.name()
        );
        out.send(&StreamCreate {
            surface_id: 0,
            id,
            flags: stream_flags::TOP_DOWN,
            codec_type: codec.spice_codec_type(),
            stamp: 0,
            stream_width: rect.width,
            stream_height: rect.height,
            src_width: rect.width,
            src_height: rect.height,
            dest: proto_rect(rect),
            clip: Clip::None,
        })?;
        self.streams.push((id, codec));
        if self.reports {
            out.send(&StreamActivateReport {
                stream_id: id,
                unique_id: id,
                max_window_size: REPORT_WINDOW,
                timeout_ms: REPORT_TIMEOUT_MS,
            })?;
        }
        Ok(())
    }

    /// A clipped stream keeps its clip while what covers it is redrawn
    /// between frames; once it is not, it is gone and the stream shows
    /// whole again.
    fn unclip_if_gone(&mut self, id: u32, out: &mut Outbox) -> Result {
        let Some(i) = self.clipped.iter().position(|c| c.id == id) else {
            return Ok(());
        };
        if self.clipped[i].redrawn {
            self.clipped[i].redrawn = false;
            return Ok(());
        }
        self.clipped.remove(i);
        out.send(&StreamClip {
            id,
            clip: Clip::None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(codec: VideoCodec, any_size: bool, size: Option<(u32, u32)>) -> SharedFrame {
        SharedFrame {
            codec,
            group: 0,
            any_size,
            frame: size.map(|size| EncodedFrame {
                data: Default::default(),
                keyframe: true,
                size,
            }),
        }
    }

    #[test]
    fn each_client_takes_an_encoding_it_can_send() {
        let full = (640, 360);
        let mjpeg = VideoCodec::Mjpeg;
        let half = shared(mjpeg, true, Some((320, 180)));
        // A client with SIZED_STREAM takes what was encoded for such a
        // client, half size or not.
        assert!(half.serves(mjpeg, 0, true, full));
        assert!(shared(mjpeg, true, Some(full)).serves(mjpeg, 0, true, full));
        // It does not take a frame forced to full size for another
        // client: that one did not follow the rate control.
        assert!(!shared(mjpeg, false, Some(full)).serves(mjpeg, 0, true, full));
        // A client without it takes only full-size frames.
        assert!(!half.serves(mjpeg, 0, false, full));
        assert!(shared(mjpeg, true, Some(full)).serves(mjpeg, 0, false, full));
        assert!(shared(mjpeg, false, Some(full)).serves(mjpeg, 0, false, full));
        // A failed encoder fails for everyone; other codecs never match.
        assert!(shared(mjpeg, true, None).serves(mjpeg, 0, false, full));
        assert!(!half.serves(VideoCodec::Vp8, 0, true, full));
        // Nor other rate groups.
        assert!(!half.serves(mjpeg, 3, true, full));
    }
}
