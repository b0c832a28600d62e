//! The display channel (SPICE channel type 2) of one `RedDisplay`, running
//! in that display's `RedWorker` thread.

declare_channel_pair! {
    /// A display's display channel: surfaces and drawing.
    channel DisplayChannel = "RedDisplayChannel", DisplayChannel;
    /// A client's display channel connection, in the worker thread.
    client DisplayChannelClient = "RedDisplayChannelClient", DisplayChannelClient;
}

use std::sync::{Arc, Mutex};

use glib::prelude::*;

use crate::channel::ChannelExt as _;
use crate::channel_client::{new_channel_client, ChannelClient};
use crate::connection::{attach, with_io, ChannelProtocol, Outbox};
use crate::cursor_channel::CursorChannelClient;
use crate::display::encoder::VideoCodec;
use crate::display::region::Region;
use crate::display::state::{DisplayState, Effect};
use crate::display::surface::Rect;
use crate::enums::ImageCompression;
use crate::protocol::constants::{
    bitmap_flags, bitmap_fmt, cap, channel, ropd, surface_flags, surface_fmt,
};
use crate::protocol::display_messages::{
    Brush, CopyBits, DrawCopy, DrawFill, Mark, MonitorsConfig, SurfaceCreate, SurfaceDestroy,
};
use crate::protocol::image::lz4_image_payload;
use crate::protocol::{
    Caps, ClientMessage, Clip, DisplayBase, DisplayClientMessage, Head, Image, ImageData, Point,
};
use crate::worker::{LinkedChannel, WorkerShared};

/// Largest area one DRAW_COPY carries, in pixels: big updates go out in
/// bands, so flow control and other clients get a turn.
const MAX_DRAW_PIXELS: u32 = 256 * 256;

/// The display channel's side of one client connection.
pub(crate) struct DisplayProtocol {
    state: Arc<Mutex<DisplayState>>,
    /// What the client has not seen yet: absorbs new damage under
    /// back-pressure instead of queueing messages.
    pub(crate) pending: Region,
    /// Video codecs this client decodes, best first.
    pub(crate) codecs: Vec<VideoCodec>,
    /// Streams created on this client, with their codec.
    pub(crate) streams: Vec<(u32, VideoCodec)>,
    /// Where clipped streams still show, and whether the drawing over them
    /// was redrawn since their last frame (if not, it is gone: unclip).
    pub(crate) clips: Vec<(u32, Region, bool)>,
    /// Stream frames not sent because the client was behind.
    pub(crate) frames_dropped: u64,
    /// Whether the client sends STREAM_REPORTs when asked.
    pub(crate) reports: bool,
    /// When a long round trip last lowered a stream's bitrate.
    pub(crate) rtt_adapted: Option<std::time::Instant>,
    /// The surface size the client has.
    surface: Option<(u32, u32)>,
    /// A MARK is due once the first full image is out.
    mark_due: bool,
    lz4: bool,
    monitors_config: bool,
}

impl DisplayProtocol {
    fn new(
        state: Arc<Mutex<DisplayState>>,
        channel_caps: &Caps,
        compression: ImageCompression,
        server_codecs: &[VideoCodec],
    ) -> Self {
        DisplayProtocol {
            codecs: crate::display_streams::client_codecs(channel_caps, server_codecs),
            streams: Vec::new(),
            clips: Vec::new(),
            frames_dropped: 0,
            reports: channel_caps.has(cap::display::STREAM_REPORT),
            rtt_adapted: None,
            state,
            pending: Region::new(),
            surface: None,
            mark_due: false,
            lz4: compression != ImageCompression::Off
                && channel_caps.has(cap::display::LZ4_COMPRESSION),
            monitors_config: channel_caps.has(cap::display::MONITORS_CONFIG),
        }
    }

    /// (Re)creates the primary surface on the client and schedules a full
    /// image and a MARK.
    fn create_surface(&mut self, width: u32, height: u32, out: &mut Outbox) -> Result<(), String> {
        crate::display_streams::destroy_all(self, out)?;
        if self.surface.is_some() {
            out.send(&SurfaceDestroy { surface_id: 0 })?;
        }
        out.send(&SurfaceCreate {
            surface_id: 0,
            width,
            height,
            format: surface_fmt::FMT_32_XRGB,
            flags: surface_flags::PRIMARY,
        })?;
        if self.monitors_config {
            out.send(&MonitorsConfig {
                max_allowed: 1,
                heads: &[Head {
                    monitor_id: 0,
                    surface_id: 0,
                    width,
                    height,
                    x: 0,
                    y: 0,
                    flags: 0,
                }],
            })?;
        }
        self.surface = Some((width, height));
        self.pending.clear();
        self.pending.add(Rect::new(0, 0, width, height));
        self.mark_due = true;
        Ok(())
    }

    /// Passes a change of the display on to this client.
    fn apply(&mut self, effect: &Effect, out: &mut Outbox) -> Result<(), String> {
        match *effect {
            Effect::Damage(rect) => self.pending.add(rect),
            Effect::CopyBits { src_x, src_y, dest } => {
                let src = Rect::new(src_x, src_y, dest.width, dest.height);
                // The client's copy of the source must be current, and the
                // message must not queue without bound.
                if self.mark_due || self.pending.intersects(src) || !out.has_room() {
                    self.pending.add(dest);
                } else {
                    out.send(&CopyBits {
                        base: base(dest),
                        src_pos: Point { x: src_x, y: src_y },
                    })?;
                }
            }
            Effect::Resized { width, height } => self.create_surface(width, height, out)?,
            Effect::StreamsEnded(ref ended) => crate::display_streams::end(self, ended, out)?,
            Effect::Cursor | Effect::None => {}
        }
        Ok(())
    }

    /// Sends one band of the pending region; false when nothing is pending.
    fn send_next(&mut self, out: &mut Outbox) -> Result<bool, String> {
        let Some(first) = self.pending.rects().into_iter().next() else {
            return Ok(false);
        };
        // The first image goes out whole, as spice-server sends it: simple
        // clients (spicy-screenshot) take the first update as the screen.
        let rows = if self.mark_due {
            first.height
        } else {
            (MAX_DRAW_PIXELS / first.width.max(1)).clamp(1, first.height)
        };
        let rect = Rect::new(first.x, first.y, first.width, rows);
        self.pending.subtract(rect);
        let pixels = {
            let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.surface.read(rect)
        };
        let Some(bytes) = pixels else {
            // Outside the surface (a resize raced it): nothing to send.
            return Ok(true);
        };
        if let Some(color) = solid_color(&bytes) {
            out.send(&DrawFill {
                base: base(rect),
                brush: Brush::Solid(color),
                rop_descriptor: ropd::OP_PUT,
            })?;
            return Ok(true);
        }
        let lz4_payload;
        let data = if self.lz4 {
            // 24-bit rows: the unused fourth byte would cost a quarter of
            // the bytes on content LZ4 cannot shrink (gradients, photos).
            let block = lz4_flex::block::compress(&pack_bgr24(bytes));
            lz4_payload =
                lz4_image_payload(true, bitmap_fmt::BIT24, &[&block]).map_err(|e| e.to_string())?;
            ImageData::Lz4(&lz4_payload)
        } else {
            ImageData::Bitmap {
                format: bitmap_fmt::BIT32,
                flags: bitmap_flags::TOP_DOWN,
                stride: rect.width * 4,
                pixels: &bytes,
            }
        };
        out.send(&DrawCopy {
            base: base(rect),
            image: Image {
                id: 0,
                flags: 0,
                width: rect.width,
                height: rect.height,
                data,
            },
            src_area: crate::protocol::Rect::from_xywh(0, 0, rect.width as i32, rect.height as i32),
            rop_descriptor: ropd::OP_PUT,
            scale_mode: 0,
        })?;
        Ok(true)
    }
}

/// A draw's base: surface 0, the box, no clip.
fn base(rect: Rect) -> DisplayBase<'static> {
    DisplayBase {
        surface_id: 0,
        bbox: crate::protocol::Rect::from_xywh(
            rect.x,
            rect.y,
            rect.width as i32,
            rect.height as i32,
        ),
        clip: Clip::None,
    }
}

/// x8r8g8b8 pixels (B, G, R, X bytes) as packed 24-bit ones (B, G, R), the
/// layout of SPICE's 24BIT bitmaps; in place, as this runs for every band.
fn pack_bgr24(mut bytes: Vec<u8>) -> Vec<u8> {
    let pixels = bytes.len() / 4;
    for i in 0..pixels {
        bytes.copy_within(i * 4..i * 4 + 3, i * 3);
    }
    bytes.truncate(pixels * 3);
    bytes
}

/// The colour (0xRRGGBB) of a block of x8r8g8b8 pixels of one colour.
fn solid_color(bytes: &[u8]) -> Option<u32> {
    let first = bytes.get(..3)?;
    bytes
        .chunks_exact(4)
        .all(|p| &p[..3] == first)
        .then(|| u32::from_le_bytes([first[0], first[1], first[2], 0]))
}

impl ChannelProtocol for DisplayProtocol {
    fn start(&mut self, _rcc: &ChannelClient, out: &mut Outbox) -> Result<(), String> {
        out.start_acks()?;
        let (width, height) = {
            let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            (state.surface.width(), state.surface.height())
        };
        self.create_surface(width, height, out)
    }

    fn handle(
        &mut self,
        _rcc: &ChannelClient,
        message: ClientMessage<'_>,
        out: &mut Outbox,
    ) -> Result<(), String> {
        match message {
            // "I cannot decode this stream": images for this client instead.
            ClientMessage::Display(DisplayClientMessage::StreamReport {
                stream_id,
                num_frames: 0,
                num_drops: u32::MAX,
                ..
            }) => {
                if let Some((_, codec)) = self.streams.iter().find(|(id, _)| *id == stream_id) {
                    let codec = *codec;
                    red_info!("a client cannot decode {}: sending it images", codec.name());
                    self.codecs.retain(|c| *c != codec);
                    let stream = self
                        .state
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .streams
                        .stream(stream_id)
                        .cloned();
                    if let Some(stream) = stream {
                        crate::display_streams::end(self, &[stream], out)?;
                    }
                }
                Ok(())
            }
            ClientMessage::Display(DisplayClientMessage::PreferredCompression {
                image_compression,
            }) => {
                // OFF keeps bitmaps; anything else may use LZ4 if offered.
                if image_compression == crate::protocol::constants::image_compression::OFF {
                    self.lz4 = false;
                }
                Ok(())
            }
            ClientMessage::Display(DisplayClientMessage::StreamReport {
                stream_id,
                num_frames,
                num_drops,
                last_frame_delay,
                ..
            }) => {
                if let Some((_, codec)) = self.streams.iter().find(|(id, _)| *id == stream_id) {
                    let bitrate = self
                        .state
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .adapt_bitrate(stream_id, *codec, num_frames, num_drops, last_frame_delay);
                    red_debug!(
                        "stream {stream_id}: {num_frames} frames, {num_drops} dropped, delay {last_frame_delay} ms: bitrate {bitrate:?}"
                    );
                }
                Ok(())
            }
            ClientMessage::Display(DisplayClientMessage::PreferredVideoCodecType { codecs }) => {
                crate::display_streams::prefer(self, codecs);
                Ok(())
            }
            // DISPLAY_INIT (cache sizes), stream reports, GL acks: nothing
            // to do without caches or GL; bitrate adaptation to stream
            // reports is not done yet.
            ClientMessage::Display(_) => Ok(()),
            other => Err(format!(
                "unexpected message {} on the display channel",
                other.msg_type()
            )),
        }
    }

    fn refill(&mut self, _rcc: &ChannelClient, out: &mut Outbox) {
        while out.has_room() {
            match self.send_next(out) {
                Ok(true) => {}
                Ok(false) => {
                    if self.mark_due {
                        self.mark_due = false;
                        let _ = out.send(&Mark);
                    }
                    return;
                }
                Err(e) => {
                    red_warning!("display channel: cannot encode an update: {e}");
                    return;
                }
            }
        }
    }

    fn as_any(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

/// Passes a change of the display to every client of its channels; on the
/// worker thread.
pub(crate) fn forward(shared: &WorkerShared, effect: &Effect) {
    match effect {
        Effect::None => {}
        Effect::Cursor => crate::cursor_channel::forward(shared),
        Effect::Damage(rect) => crate::display_streams::forward_damage(shared, *rect),
        Effect::CopyBits { src_x, src_y, dest } => {
            // A copy touching a stream ends it and goes out as an image.
            let src = Rect::new(*src_x, *src_y, dest.width, dest.height);
            let ended = {
                let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
                let mut ended = state.streams.end_intersecting(src);
                ended.extend(state.streams.end_intersecting(*dest));
                state.drop_encoders(&ended);
                ended
            };
            if ended.is_empty() {
                for_each_client(shared, |p, out| p.apply(effect, out));
            } else {
                for_each_client(shared, |p, out| {
                    crate::display_streams::end(p, &ended, out)?;
                    p.apply(&Effect::Damage(*dest), out)
                });
            }
        }
        Effect::Resized { .. } => {
            {
                let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
                let ended = state.streams.end_all();
                state.drop_encoders(&ended);
            }
            for_each_client(shared, |p, out| p.apply(effect, out));
        }
        Effect::StreamsEnded(_) => for_each_client(shared, |p, out| p.apply(effect, out)),
    }
}

/// Runs `f` on every display channel client's protocol state and sends
/// what it produced; a client whose connection fails is disconnected.
pub(crate) fn for_each_client(
    shared: &WorkerShared,
    mut f: impl FnMut(&mut DisplayProtocol, &mut Outbox) -> Result<(), String>,
) {
    for rcc in shared.display_channel.clients() {
        let result = with_io(&rcc, |io, _| match io.protocol_as::<DisplayProtocol>() {
            Some((p, out)) => f(p, out),
            None => Ok(()),
        });
        if let Err(e) = result {
            red_info!("display channel client: {e}: disconnecting");
            crate::channel_client::disconnect_on_own_thread(&rcc);
        }
    }
}

/// Sets up a linked display or cursor connection; on the worker thread.
pub(crate) fn connect(shared: &WorkerShared, linked: LinkedChannel) {
    let LinkedChannel {
        channel_type,
        client,
        socket,
        common_caps,
        channel_caps,
        image_compression,
        video_codecs,
    } = linked;
    if channel_type == channel::DISPLAY {
        let rcc: DisplayChannelClient =
            new_channel_client(shared.display_channel.upcast_ref(), &client);
        let protocol = DisplayProtocol::new(
            shared.state.clone(),
            &channel_caps,
            image_compression,
            &video_codecs,
        );
        attach(rcc.upcast_ref(), socket, &common_caps, Box::new(protocol));
    } else {
        let rcc: CursorChannelClient =
            new_channel_client(shared.cursor_channel.upcast_ref(), &client);
        let protocol = crate::cursor_channel::CursorProtocol::new(shared.state.clone());
        attach(rcc.upcast_ref(), socket, &common_caps, Box::new(protocol));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_bgr24_drops_the_fourth_byte() {
        let px = [1, 2, 3, 0xff, 4, 5, 6, 0, 7, 8, 9, 0x80];
        assert_eq!(pack_bgr24(px.to_vec()), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert!(pack_bgr24(Vec::new()).is_empty());
    }

    #[test]
    fn solid_color_ignores_the_fourth_byte() {
        assert_eq!(
            solid_color(&[0x10, 0x20, 0x30, 0, 0x10, 0x20, 0x30, 0xff]),
            Some(0x302010)
        );
        assert_eq!(
            solid_color(&[0x10, 0x20, 0x30, 0, 0x11, 0x20, 0x30, 0]),
            None
        );
    }
}
