//! Video streams of a display channel, per client: which codec a client
//! gets, STREAM_CREATE / STREAM_DATA / STREAM_DESTROY, one encoding per
//! frame and codec for all clients, frames dropped (never queued) for a
//! client that is behind, and the lossless resend when a stream ends.
//! Runs on the display's worker thread.

use std::time::{Duration, Instant};

use crate::connection::Outbox;
use crate::display::encoder::{self, VideoCodec};
use crate::display::state::EncodedFrame;
use crate::display::stream::Stream;
use crate::display::surface::Rect;
use crate::display_channel::{for_each_client, DisplayProtocol};
use crate::protocol::constants::{cap, stream_flags};
use crate::protocol::display_messages::{
    StreamActivateReport, StreamClip, StreamCreate, StreamData, StreamDestroy,
};

/// A round trip above this lowers the bitrate of the client's streams, at
/// most once per `RTT_ADAPT_INTERVAL`.
const SLOW_ROUND_TRIP: Duration = Duration::from_millis(150);
const RTT_ADAPT_INTERVAL: Duration = Duration::from_secs(1);

/// Frames per STREAM_REPORT and the longest wait for one (spice-server's).
const REPORT_WINDOW: u32 = 5;
const REPORT_TIMEOUT_MS: u32 = 1000;
use crate::protocol::{Caps, Clip};
use crate::worker::WorkerShared;

/// The codecs a client decodes, in the server's order of preference:
/// clients with MULTI_CODEC list theirs in their caps; older clients only
/// know MJPEG. Codecs without installed encoders are left out.
pub(crate) fn client_codecs(caps: &Caps, server_codecs: &[VideoCodec]) -> Vec<VideoCodec> {
    let multi = caps.has(cap::display::MULTI_CODEC);
    server_codecs
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
        .collect()
}

/// PREFERRED_VIDEO_CODEC_TYPE: the client's order first, for new streams.
pub(crate) fn prefer(p: &mut DisplayProtocol, preferred: &[u8]) {
    let mut ordered: Vec<VideoCodec> = preferred
        .iter()
        .filter_map(|&c| VideoCodec::from_spice(c))
        .filter(|c| p.codecs.contains(c))
        .collect();
    ordered.dedup();
    for c in p.codecs.iter() {
        if !ordered.contains(c) {
            ordered.push(*c);
        }
    }
    p.codecs = ordered;
}

fn proto_rect(r: Rect) -> crate::protocol::Rect {
    crate::protocol::Rect::from_xywh(r.x, r.y, r.width as i32, r.height as i32)
}

/// Destroys `ended` streams on this client and resends their area
/// losslessly.
pub(crate) fn end(
    p: &mut DisplayProtocol,
    ended: &[Stream],
    out: &mut Outbox,
) -> Result<(), String> {
    for stream in ended {
        p.clips.retain(|(id, _, _)| *id != stream.id);
        if let Some(i) = p.streams.iter().position(|(id, _)| *id == stream.id) {
            p.streams.remove(i);
            red_debug!("stream {} ends after {} frames", stream.id, stream.frames);
            out.send(&StreamDestroy { id: stream.id })?;
        }
        p.pending.add(stream.rect);
    }
    Ok(())
}

/// Destroys every stream of this client (before its surface goes).
pub(crate) fn destroy_all(p: &mut DisplayProtocol, out: &mut Outbox) -> Result<(), String> {
    p.clips.clear();
    for (id, _) in std::mem::take(&mut p.streams) {
        out.send(&StreamDestroy { id })?;
    }
    Ok(())
}

/// Something was drawn over part of `stream`: hide the stream there (the
/// drawing goes out as an image) for as long as it is redrawn between the
/// stream's frames, as a window over a video is.
fn clip(
    p: &mut DisplayProtocol,
    stream: &Stream,
    over: Rect,
    out: &mut Outbox,
) -> Result<(), String> {
    if !p.streams.iter().any(|(id, _)| *id == stream.id) {
        return Ok(());
    }
    let index = match p.clips.iter().position(|(id, _, _)| *id == stream.id) {
        Some(i) => i,
        None => {
            let mut visible = crate::display::region::Region::new();
            visible.add(stream.rect);
            p.clips.push((stream.id, visible, true));
            p.clips.len() - 1
        }
    };
    let (_, visible, redrawn) = &mut p.clips[index];
    *redrawn = true;
    visible.subtract(over);
    let rects: Vec<_> = visible.rects().into_iter().map(proto_rect).collect();
    out.send(&StreamClip {
        id: stream.id,
        clip: Clip::Rects(&rects),
    })
}

/// A damaged rectangle: a stream frame for the clients that can take it,
/// an image update for the others.
pub(crate) fn forward_damage(shared: &WorkerShared, rect: Rect) {
    let detection = {
        let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
        let detection = state.streams.on_damage(rect, Instant::now());
        state.drop_encoders(&detection.ended);
        detection
    };
    let Some((id, _)) = detection.frame else {
        for_each_client(shared, |p, out| {
            end(p, &detection.ended, out)?;
            for stream in &detection.clipped {
                clip(p, stream, rect, out)?;
            }
            p.pending.add(rect);
            Ok(())
        });
        return;
    };
    // One encoding per codec, shared by every client of that codec.
    let mut encoded: Vec<(VideoCodec, Option<EncodedFrame>)> = Vec::new();
    for_each_client(shared, |p, out| {
        end(p, &detection.ended, out)?;
        let existing = p.streams.iter().find(|(s, _)| *s == id).map(|(_, c)| *c);
        let Some(codec) = existing.or_else(|| p.codecs.first().copied()) else {
            p.pending.add(rect);
            return Ok(());
        };
        if !out.has_room() {
            // Behind: drop this frame. A client that has not got the stream
            // yet keeps the area as pending damage instead.
            p.frames_dropped += 1;
            if existing.is_none() {
                p.pending.add(rect);
            }
            return Ok(());
        }
        if let (Some(codec), Some(rtt)) = (existing, out.round_trip) {
            let due = p
                .rtt_adapted
                .is_none_or(|t| t.elapsed() >= RTT_ADAPT_INTERVAL);
            if rtt > SLOW_ROUND_TRIP && due {
                // A slow link: as if the client had reported drops.
                p.rtt_adapted = Some(Instant::now());
                let bitrate = shared
                    .state
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .adapt_bitrate(id, codec, 0, 1, 0);
                red_debug!("stream {id}: round trip {rtt:?}: bitrate {bitrate:?}");
            }
        }
        let frame = match encoded.iter().find(|(c, _)| *c == codec) {
            Some((_, frame)) => frame.clone(),
            None => {
                let frame = shared
                    .state
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .encode_stream(id, codec);
                encoded.push((codec, frame.clone()));
                frame
            }
        };
        let Some(frame) = frame else {
            // The encoder failed: this client gets images for it.
            p.codecs.retain(|c| *c != codec);
            p.pending.add(rect);
            return Ok(());
        };
        if existing.is_none() {
            if !frame.keyframe {
                // A decoder cannot start here: wait for the keyframe asked
                // for the next frame.
                shared
                    .state
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .request_keyframe(id, codec);
                p.pending.add(rect);
                return Ok(());
            }
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
            p.streams.push((id, codec));
            if p.reports {
                // Ask for playback reports: the bitrate follows them.
                out.send(&StreamActivateReport {
                    stream_id: id,
                    unique_id: id,
                    max_window_size: REPORT_WINDOW,
                    timeout_ms: REPORT_TIMEOUT_MS,
                })?;
            }
            // The stream carries this area from now on.
            p.pending.subtract(rect);
        }
        if let Some(i) = p.clips.iter().position(|(s, _, _)| *s == id) {
            if p.clips[i].2 {
                // Drawn over again since the last frame: stays clipped.
                p.clips[i].2 = false;
            } else {
                // Not redrawn: what was over the stream is gone.
                p.clips.remove(i);
                out.send(&StreamClip {
                    id,
                    clip: Clip::None,
                })?;
            }
        }
        out.send(&StreamData {
            id,
            // Stamped with the server's multimedia clock, which the client's
            // follows (MAIN_INIT): the client shows it once decoded.
            multi_media_time: crate::main_channel::mm_time(),
            data: &frame.data,
        })
    });
}

/// Ends streams whose updates stopped; from the worker's timer.
pub(crate) fn expire(shared: &WorkerShared) {
    let ended = {
        let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.streams.streams().is_empty() {
            return;
        }
        let ended = state.streams.expire(Instant::now());
        state.drop_encoders(&ended);
        ended
    };
    if !ended.is_empty() {
        for_each_client(shared, |p, out| end(p, &ended, out));
    }
}
