//! The display channel (SPICE channel type 2) of one `RedDisplay`, running
//! in that display's `RedWorker` thread: the primary surface, drawing
//! updates from the pending region of each client, and (in [`streams`])
//! video streams.

declare_channel_pair! {
    /// A display's display channel: surfaces and drawing.
    channel DisplayChannel = "RedDisplayChannel", DisplayChannel;
    /// A client's display channel connection, in the worker thread.
    client DisplayChannelClient = "RedDisplayChannelClient", DisplayChannelClient;
    protocol DisplayProtocol;
}

pub mod streams;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use glib::prelude::*;

use crate::base::enums::ImageCompression;
use crate::base::sync::lock;
use crate::channels::cursor::{self, CursorChannel, CursorChannelClient, CursorProtocol};
use crate::display::codecs::quic;
use crate::display::encoder::VideoCodec;
use crate::display::region::Region;
use crate::display::state::{DisplayState, Effect};
use crate::display::stream::Stream;
use crate::display::surface::Rect;
use crate::model::channel_client::{new_channel_client, ChannelClient};
use crate::model::client::Client;
use crate::model::connection::{attach, ChannelProtocol, Outbox, Result};
use crate::model::error::ConnectionError;
use crate::protocol::constants::{
    bitmap_flags, bitmap_fmt, cap, channel, image_compression, image_scale_mode, ropd,
    surface_flags, surface_fmt,
};
use crate::protocol::display_messages::{
    Brush, CopyBits, DrawCopy, DrawFill, Mark, MonitorsConfig, SurfaceCreate, SurfaceDestroy,
};
use crate::protocol::image::lz4_image_payload;
use crate::protocol::{
    Caps, ClientMessage, Clip, DisplayBase, DisplayClientMessage, Head, Image, ImageData, Point,
};
use streams::{ClientStreams, SharedFrames};

/// Largest area one DRAW_COPY carries, in pixels: big updates go out in
/// bands, so flow control and other clients get a turn.
const MAX_DRAW_PIXELS: u32 = 256 * 256;

/// One display's two channels and the state they send from: what its
/// worker thread runs.
#[derive(Clone)]
pub(crate) struct DisplayChannels {
    pub state: Arc<Mutex<DisplayState>>,
    pub display_channel: DisplayChannel,
    pub cursor_channel: CursorChannel,
}

/// A display or cursor connection that passed the link stage, with what
/// the server's settings say about it.
pub(crate) struct LinkedChannel {
    pub channel_type: u8,
    pub client: Client,
    pub socket: socket2::Socket,
    pub common_caps: Caps,
    pub channel_caps: Caps,
    pub image_compression: ImageCompression,
    /// The server's `video-codecs`, parsed.
    pub video_codecs: Vec<VideoCodec>,
}

/// How one client's image updates are coded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ImageCoding {
    Raw,
    /// 24-bit LZ4, for clients with the LZ4 capability.
    Lz4,
    Quic,
}

impl ImageCoding {
    fn new(compression: ImageCompression, channel_caps: &Caps) -> Self {
        match compression {
            ImageCompression::Off => ImageCoding::Raw,
            ImageCompression::Auto | ImageCompression::Lz4 => {
                if channel_caps.has(cap::display::LZ4_COMPRESSION) {
                    ImageCoding::Lz4
                } else {
                    ImageCoding::Raw
                }
            }
            // Every client decodes QUIC: there is no capability for it.
            ImageCompression::Quic => ImageCoding::Quic,
        }
    }
}

/// The display channel's side of one client connection.
pub(crate) struct DisplayProtocol {
    state: Arc<Mutex<DisplayState>>,
    /// What the client has not seen yet: absorbs new damage under
    /// back-pressure instead of queueing messages.
    pending: Region,
    streams: ClientStreams,
    /// The surface size the client has.
    surface: Option<(u32, u32)>,
    /// A MARK is due once the first full image is out.
    mark_due: bool,
    coding: ImageCoding,
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
            streams: ClientStreams::new(channel_caps, server_codecs),
            state,
            pending: Region::new(),
            surface: None,
            mark_due: false,
            coding: ImageCoding::new(compression, channel_caps),
            monitors_config: channel_caps.has(cap::display::MONITORS_CONFIG),
        }
    }

    /// Ends `ended` streams on this client; their area is resent.
    fn end_streams(&mut self, ended: &[Stream], out: &mut Outbox) -> Result {
        self.streams.end(ended, &mut self.pending, out)
    }

    /// (Re)creates the primary surface on the client and schedules a full
    /// image and a MARK.
    fn create_surface(&mut self, width: u32, height: u32, out: &mut Outbox) -> Result {
        self.streams.destroy_all(out)?;
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
    fn apply(&mut self, effect: &Effect, out: &mut Outbox) -> Result {
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
            Effect::StreamsEnded(ref ended) => self.end_streams(ended, out)?,
            Effect::Cursor | Effect::None => {}
        }
        Ok(())
    }

    /// Sends one band of the pending region; false when nothing is pending.
    fn send_next(&mut self, out: &mut Outbox) -> Result<bool> {
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
        let pixels = lock(&self.state).surface.read(rect);
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
        let payload;
        let data = match self.coding {
            ImageCoding::Raw => bitmap(rect.width, &bytes),
            ImageCoding::Lz4 => {
                // 24-bit rows: the unused fourth byte would cost a quarter
                // of the bytes on content LZ4 cannot shrink (gradients,
                // photos).
                let block = lz4_flex::block::compress(&pack_bgr24(bytes));
                payload = lz4_image_payload(true, bitmap_fmt::BIT24, &[&block])
                    .map_err(|e| ConnectionError::Encoder(e.to_string()))?;
                ImageData::Lz4(&payload)
            }
            ImageCoding::Quic => {
                payload = quic::encode(
                    quic::ImageType::Rgb32,
                    rect.width,
                    rect.height,
                    rect.width as usize * 4,
                    &bytes,
                )
                .map_err(|e| ConnectionError::Encoder(e.to_string()))?;
                // As spice-server does: a stream larger than the pixels
                // is not worth decoding.
                if payload.len() < bytes.len() {
                    ImageData::Quic(&payload)
                } else {
                    bitmap(rect.width, &bytes)
                }
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
            scale_mode: image_scale_mode::INTERPOLATE,
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

/// Rows of `width` x8r8g8b8 pixels as an uncompressed image.
fn bitmap(width: u32, pixels: &[u8]) -> ImageData<'_> {
    ImageData::Bitmap {
        format: bitmap_fmt::BIT32,
        flags: bitmap_flags::TOP_DOWN,
        stride: width * 4,
        pixels,
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
    fn start(&mut self, _rcc: &ChannelClient, out: &mut Outbox) -> Result {
        out.start_acks()?;
        let (width, height) = {
            let state = lock(&self.state);
            (state.surface.width(), state.surface.height())
        };
        self.create_surface(width, height, out)
    }

    fn handle(
        &mut self,
        _rcc: &ChannelClient,
        message: ClientMessage<'_>,
        out: &mut Outbox,
    ) -> Result {
        match message {
            // "I cannot decode this stream": images for this client instead.
            ClientMessage::Display(DisplayClientMessage::StreamReport {
                stream_id,
                num_frames: 0,
                num_drops: u32::MAX,
                ..
            }) => {
                if let Some(codec) = self.streams.codec_of(stream_id) {
                    red_info!("a client cannot decode {}: sending it images", codec.name());
                    self.streams.drop_codec(codec);
                    let stream = lock(&self.state).streams.stream(stream_id).cloned();
                    if let Some(stream) = stream {
                        self.end_streams(&[stream], out)?;
                    }
                }
                Ok(())
            }
            ClientMessage::Display(DisplayClientMessage::PreferredCompression {
                image_compression,
            }) => {
                // OFF keeps bitmaps; anything else keeps the server's choice.
                if image_compression == image_compression::OFF {
                    self.coding = ImageCoding::Raw;
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
                if let Some(codec) = self.streams.codec_of(stream_id) {
                    let bitrate = lock(&self.state).adapt_bitrate(
                        stream_id,
                        codec,
                        num_frames,
                        num_drops,
                        last_frame_delay,
                    );
                    red_debug!(
                        "stream {stream_id}: {num_frames} frames, {num_drops} dropped, delay {last_frame_delay} ms: bitrate {bitrate:?}"
                    );
                }
                Ok(())
            }
            ClientMessage::Display(DisplayClientMessage::PreferredVideoCodecType { codecs }) => {
                self.streams.prefer(codecs);
                Ok(())
            }
            // DISPLAY_INIT (cache sizes), GL acks: nothing to do without
            // caches or GL.
            ClientMessage::Display(_) => Ok(()),
            other => Err(ConnectionError::unexpected("display", other.msg_type())),
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
                    // The connection itself is fine: the update stays
                    // pending and the next refill tries again.
                    red_warning!("display channel: cannot send an update: {e}");
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
pub(crate) fn forward(channels: &DisplayChannels, effect: &Effect) {
    let clients = &channels.display_channel;
    match effect {
        Effect::None => {}
        Effect::Cursor => cursor::forward(&channels.cursor_channel),
        Effect::Damage(rect) => forward_damage(channels, *rect),
        Effect::CopyBits { src_x, src_y, dest } => {
            // A copy touching a stream ends it and goes out as an image.
            let src = Rect::new(*src_x, *src_y, dest.width, dest.height);
            let ended = {
                let mut state = lock(&channels.state);
                let mut ended = state.streams.end_intersecting(src);
                ended.extend(state.streams.end_intersecting(*dest));
                state.drop_encoders(&ended);
                ended
            };
            if ended.is_empty() {
                clients.for_each_protocol(|p, out| p.apply(effect, out));
            } else {
                clients.for_each_protocol(|p, out| {
                    p.end_streams(&ended, out)?;
                    p.apply(&Effect::Damage(*dest), out)
                });
            }
        }
        Effect::Resized { .. } => {
            {
                let mut state = lock(&channels.state);
                let ended = state.streams.end_all();
                state.drop_encoders(&ended);
            }
            clients.for_each_protocol(|p, out| p.apply(effect, out));
        }
        Effect::StreamsEnded(_) => clients.for_each_protocol(|p, out| p.apply(effect, out)),
    }
}

/// A damaged rectangle: a stream frame for the clients that can take it,
/// an image update for the others.
fn forward_damage(channels: &DisplayChannels, rect: Rect) {
    let detection = {
        let mut state = lock(&channels.state);
        let detection = state.streams.on_damage(rect, Instant::now());
        state.drop_encoders(&detection.ended);
        detection
    };
    let clients = &channels.display_channel;
    let Some((id, _)) = detection.frame else {
        clients.for_each_protocol(|p, out| {
            p.end_streams(&detection.ended, out)?;
            for stream in &detection.clipped {
                p.streams.clip(stream, rect, out)?;
            }
            p.pending.add(rect);
            Ok(())
        });
        return;
    };
    // One encoding per codec, shared by every client of that codec.
    let mut frames = SharedFrames::new();
    clients.for_each_protocol(|p, out| {
        p.end_streams(&detection.ended, out)?;
        p.streams
            .send_frame(id, rect, &channels.state, &mut frames, &mut p.pending, out)
    });
}

/// Ends streams whose updates stopped; from the worker's timer.
pub(crate) fn expire_streams(channels: &DisplayChannels) {
    let ended = {
        let mut state = lock(&channels.state);
        if state.streams.streams().is_empty() {
            return;
        }
        let ended = state.streams.expire(Instant::now());
        state.drop_encoders(&ended);
        ended
    };
    if !ended.is_empty() {
        channels
            .display_channel
            .for_each_protocol(|p, out| p.end_streams(&ended, out));
    }
}

/// Sets up a linked display or cursor connection; on the worker thread.
pub(crate) fn connect(channels: &DisplayChannels, linked: LinkedChannel) {
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
            new_channel_client(channels.display_channel.upcast_ref(), &client);
        let protocol = DisplayProtocol::new(
            channels.state.clone(),
            &channel_caps,
            image_compression,
            &video_codecs,
        );
        attach(rcc.upcast_ref(), socket, &common_caps, Box::new(protocol));
    } else {
        let rcc: CursorChannelClient =
            new_channel_client(channels.cursor_channel.upcast_ref(), &client);
        let protocol = CursorProtocol::new(channels.state.clone());
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
