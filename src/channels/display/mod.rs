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

mod cached_draws;
mod encoded_bands;
mod lossy;
pub mod streams;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use glib::prelude::*;

use crate::base::dispatcher::Dispatcher;
use crate::base::enums::ImageCompression;
use crate::base::sync::lock;
use crate::channels::cursor::{self, CursorChannel, CursorChannelClient, CursorProtocol};
use crate::display::codecs::glz::{GlzDictionary, WindowPays};
use crate::display::codecs::jpeg::{JpegEncoder, FAST_LINK_QUALITY};
use crate::display::codecs::lz::LzEncoder;
use crate::display::codecs::{quic, zlib, ImageType, Pixels};
use crate::display::encoder::VideoCodec;
use crate::display::rate_group::GroupLinks;
use crate::display::region::Region;
use crate::display::state::{DisplayState, Effect, StreamReport};
use crate::display::stream::Stream;
use crate::display::surface::Rect;
use crate::model::channel::ChannelExt;
use crate::model::channel_client::{new_channel_client, ChannelClient, ChannelClientExt};
use crate::model::client::Client;
use crate::model::connection::{attach, ChannelProtocol, Outbox, Result};
use crate::model::error::ConnectionError;
use crate::model::link::{ClientPlayout, PlayoutEstimator, PLAYOUT_START_MS};
use crate::model::messages::MainMessage;
use crate::model::transport::Transport;
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
use cached_draws::CachedDraws;
use encoded_bands::{BandFacts, Coded, Coding, Digests, EncodedBands};
use lossy::LossyAreas;
use streams::{ClientStreams, SharedFrames};

/// Largest area one DRAW_COPY carries, in pixels: big updates go out in
/// bands, so flow control and other clients get a turn.
const MAX_DRAW_PIXELS: u32 = 256 * 256;

/// Largest draw sent whole (for the pixmap cache) instead of in bands.
const MAX_WHOLE_DRAW_PIXELS: u32 = 4 * MAX_DRAW_PIXELS;

/// One display's two channels and the state they send from: what its
/// worker thread runs.
#[derive(Clone)]
pub(crate) struct DisplayChannels {
    pub state: Arc<Mutex<DisplayState>>,
    /// Bands coded for one client, for the others (encode once).
    pub encoded_bands: Arc<Mutex<EncodedBands>>,
    pub display_channel: DisplayChannel,
    pub cursor_channel: CursorChannel,
}

/// A display or cursor connection that passed the link stage, with what
/// the server's settings say about it.
pub(crate) struct LinkedChannel {
    pub channel_type: u8,
    pub client: Client,
    pub socket: Transport,
    /// Bytes the client sent right after its ticket.
    pub input: Vec<u8>,
    pub common_caps: Caps,
    pub channel_caps: Caps,
    pub image_compression: ImageCompression,
    /// The server's `video-codecs`, parsed.
    pub video_codecs: Vec<VideoCodec>,
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
    codec: ImageCodec,
    /// `auto` compression, and the client asked for no codec: photo-like
    /// updates may go lossy (on a slow link, or drawn at video rate) and
    /// in QUIC; `lossy` has the areas that went lossy.
    lossy_allowed: bool,
    lossy: LossyAreas,
    /// The bands the display's clients coded last, and whether this
    /// client shares them (it is not alone).
    encoded_bands: Arc<Mutex<EncodedBands>>,
    shares_bands: bool,
    /// Made on the first LZ image.
    lz: Option<Box<LzEncoder>>,
    /// libjpeg-turbo's compressor, made at the first JPEG image.
    jpeg: Option<Box<JpegEncoder>>,
    /// The GLZ dictionary id and window (pixels) of DISPLAY_INIT.
    glz_init: Option<(u8, u32)>,
    /// The client's GLZ dictionary, shared with its other display
    /// channels (on other worker threads), once GLZ is in use.
    glz: Option<Arc<Mutex<GlzDictionary>>>,
    /// Whether GLZ's dictionary pays on what this client is sent, or LZ
    /// does better for now.
    window_pays: WindowPays,
    monitors_config: bool,
    /// The application's draws, sent whole through the client's pixmap
    /// cache.
    cached: CachedDraws,
    /// The playout delay this client's stream frames need.
    playout: PlayoutEstimator,
    /// Where that delay goes: the client's main channel, on the main
    /// thread.
    playout_to_main: Option<PlayoutToMain>,
}

/// How a display channel client tells its client's main channel the
/// playout delay it needs (`docs/threading.md`: shared state, then a
/// message through the main dispatcher).
struct PlayoutToMain {
    shared: Arc<ClientPlayout>,
    /// This display channel's id, its key in `shared`.
    id: u32,
    client: glib::WeakRef<Client>,
    dispatcher: Dispatcher<MainMessage>,
}

impl Drop for DisplayProtocol {
    fn drop(&mut self) {
        // A display that left needs no delay any more (the client hears
        // of it with the next change).
        if let Some(to_main) = &self.playout_to_main {
            to_main.shared.remove(to_main.id);
        }
    }
}

/// How this client's drawing updates are compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ImageCodec {
    Raw,
    Lz4,
    Lz,
    Glz,
    Quic,
    Jpeg,
}

impl ImageCodec {
    /// The codec for `compression`, given whether the client decodes LZ4
    /// (every client decodes LZ: it needs no capability).
    fn choose(compression: ImageCompression, lz4_cap: bool) -> Self {
        match compression {
            ImageCompression::Off => ImageCodec::Raw,
            // GLZ, as libspice-server's auto_glz: its dictionary makes
            // what the client saw before (moved windows, glyphs, repeated
            // tiles) cost a few bytes; on the benchmark's box it sends 27x
            // fewer bytes than LZ4, on text and scrolling 10-15% fewer
            // (tests/codec_ratios.rs). Photo-like content soon streams.
            ImageCompression::Auto => ImageCodec::Glz,
            ImageCompression::Lz4 if lz4_cap => ImageCodec::Lz4,
            ImageCompression::Lz4 => ImageCodec::Raw,
            ImageCompression::Lz => ImageCodec::Lz,
            ImageCompression::Glz => ImageCodec::Glz,
            // Every client decodes QUIC: there is no capability for it.
            ImageCompression::Quic => ImageCodec::Quic,
            ImageCompression::Jpeg => ImageCodec::Jpeg,
        }
    }
}

impl DisplayProtocol {
    fn new(
        state: Arc<Mutex<DisplayState>>,
        encoded_bands: Arc<Mutex<EncodedBands>>,
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
            codec: ImageCodec::choose(compression, channel_caps.has(cap::display::LZ4_COMPRESSION)),
            lossy_allowed: compression == ImageCompression::Auto,
            lossy: LossyAreas::default(),
            encoded_bands,
            shares_bands: false,
            lz: None,
            jpeg: None,
            glz_init: None,
            glz: None,
            window_pays: WindowPays::default(),
            monitors_config: channel_caps.has(cap::display::MONITORS_CONFIG),
            cached: CachedDraws::new(MAX_WHOLE_DRAW_PIXELS),
            playout: PlayoutEstimator::default(),
            playout_to_main: None,
        }
    }

    /// A stream frame was queued last: the playout delay follows the time
    /// it needs to reach the client (everything queued before it, ours and
    /// the kernel's, then itself, at the link's rate).
    fn stream_frame_queued(&mut self, out: &Outbox) {
        let Some(transit) = out.link.transit(out.queued()) else {
            return;
        };
        if let Some(delay) = self.playout.frame(now_ns(), transit) {
            red_debug!("stream frames need {delay} ms of playout delay (transit {transit:?})");
            self.give_playout_delay(delay);
        }
    }

    /// A stream is about to start: a client whose playout delay is still
    /// the one for an unmeasured link gets the one the link's round trip
    /// needs. Too low is safe: the first frames raise it, and a higher
    /// delay only holds frames longer, where a lower one makes those
    /// already sent late.
    fn expect_stream(&mut self, out: &Outbox) {
        if self.playout.given() != PLAYOUT_START_MS {
            return;
        }
        let Some(transit) = out.link.transit(0) else {
            return;
        };
        if let Some(delay) = self.playout.frame(now_ns(), transit) {
            red_debug!(
                "a stream is about to start: {delay} ms of playout delay (transit {transit:?})"
            );
            self.give_playout_delay(delay);
        }
    }

    /// A STREAM_REPORT says how early (or late) the frames arrived.
    fn stream_report(&mut self, end_frame_mm_time: u32, slack_ms: i32, drops: u32) {
        let in_effect = self.playout_in_effect();
        let delay = self
            .playout
            .report(now_ns(), end_frame_mm_time, slack_ms, drops, in_effect);
        if let Some(delay) = delay {
            red_debug!("stream frames arrive {slack_ms} ms early with {in_effect} ms of playout delay: {delay} ms");
            self.give_playout_delay(delay);
        }
    }

    /// The playout delay the client has (the largest its displays need).
    fn playout_in_effect(&self) -> u32 {
        self.playout_to_main
            .as_ref()
            .map_or(self.playout.given(), |to_main| to_main.shared.delay_ms())
    }

    /// Asks the client's main channel for `delay` ms of playout delay.
    fn give_playout_delay(&self, delay: u32) {
        if let Some(to_main) = &self.playout_to_main {
            to_main.shared.set(to_main.id, delay);
            to_main
                .dispatcher
                .send(MainMessage::PlayoutDelay(to_main.client.clone()));
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
        self.lossy.clear();
        self.pending.clear();
        self.pending.add(Rect::new(0, 0, width, height));
        self.cached.clear_draws();
        self.mark_due = true;
        Ok(())
    }

    /// Passes a change of the display on to this client.
    fn apply(&mut self, effect: &Effect, out: &mut Outbox) -> Result {
        match *effect {
            Effect::Damage(rect) => self.pending.add(rect),
            Effect::CopyBits { src_x, src_y, dest } => {
                let src = Rect::new(src_x, src_y, dest.width, dest.height);
                // A COPY_BITS is a few bytes however large the area: it goes
                // out even when the link's queue is full (not beyond the ACK
                // window or our own queue's ceiling), as redrawing the area
                // would cost far more. What the client has not got yet in
                // the source moves with the copy: it stays pending at its
                // new place.
                if self.mark_due || !out.has_room_for_small() {
                    self.pending.add(dest);
                } else {
                    let (dx, dy) = (dest.x - src_x, dest.y - src_y);
                    let stale: Vec<Rect> = self
                        .pending
                        .rects()
                        .into_iter()
                        .filter_map(|r| r.intersection(src))
                        .map(|r| Rect::new(r.x + dx, r.y + dy, r.width, r.height))
                        .collect();
                    self.pending.subtract(dest);
                    for r in stale {
                        self.pending.add(r);
                    }
                    self.lossy.copied(src, dest);
                    out.send(&CopyBits {
                        base: base(dest),
                        src_pos: Point { x: src_x, y: src_y },
                    })?;
                }
            }
            Effect::Moved {
                src_x,
                src_y,
                dest,
                ref damage,
            } => {
                self.apply(&Effect::CopyBits { src_x, src_y, dest }, out)?;
                for rect in damage {
                    self.pending.add(*rect);
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
        let sent = self.send_band(out);
        // An image admitted to the client's pixmap cache that did not go
        // out: the client does not have it.
        self.cached.drop_admitted();
        sent
    }

    /// [`Self::send_next`]'s work.
    fn send_band(&mut self, out: &mut Outbox) -> Result<bool> {
        // What is pending first; then, on an idle link, the lossless
        // pixels of areas that went lossy and settled.
        let mut whole = None;
        let (rect, refinement) = match self.pending.rects().into_iter().next() {
            Some(first) => {
                // The first image goes out whole, as spice-server sends it:
                // simple clients (spicy-screenshot) take the first update
                // as the screen.
                let rows = if self.mark_due {
                    first.height
                } else {
                    (MAX_DRAW_PIXELS / first.width.max(1)).clamp(1, first.height)
                };
                // A draw of the application still wholly pending goes
                // whole, so the pixmap cache can know it again.
                if !self.mark_due {
                    whole = self.cached.next_whole(&self.pending);
                }
                let rect = whole.unwrap_or(Rect::new(first.x, first.y, first.width, rows));
                self.pending.subtract(rect);
                (rect, false)
            }
            None => match self.lossy.next_due(MAX_DRAW_PIXELS) {
                Some(rect) => (rect, true),
                None => return Ok(false),
            },
        };
        // Whatever goes out now replaces what the client had there; only
        // a JPEG below leaves it lossy again.
        if !self.lossy.is_empty() {
            self.lossy.sent_lossless(rect);
        }
        let lossy_allowed = self.lossy_allowed && !refinement;
        // A whole draw goes through the pixmap cache (JPEG, lossy, never
        // is cached: it does not go through `send_image`).
        let cache_whole = whole.is_some() && self.codec != ImageCodec::Jpeg;
        let coding = self.stateless_coding(lossy::wraps_glz(&out.link));
        // Another client coded this band of these pixels already: its
        // bytes, without reading the surface.
        let earlier = coding
            .filter(|_| self.shares_bands)
            .and_then(|coding| lock(&self.encoded_bands).get(rect, coding));
        if let (Some(Coded::Bytes(coding, coded)), false, false) =
            (&earlier, lossy_allowed, cache_whole)
        {
            red_debug!(
                "{}x{} band as another client had it coded: {} bytes",
                rect.width,
                rect.height,
                coded.len()
            );
            out.send(&draw_copy(rect, image_data(*coding, coded)))?;
            return Ok(true);
        }
        // What another client found the band to be: one colour, or a draw
        // this client has cached, goes out without reading the surface.
        let facts = self
            .shares_bands
            .then(|| lock(&self.encoded_bands).facts(rect))
            .flatten();
        let shared_digests = match facts {
            Some(BandFacts::Solid(color)) => {
                send_fill(rect, color, out)?;
                return Ok(true);
            }
            Some(BandFacts::Whole(digests)) if cache_whole => Some(digests),
            _ => None,
        };
        if let Some(key) = shared_digests.and_then(|d| d.key) {
            if self.cached.reuse(rect, &key, out)? {
                return Ok(true);
            }
        }
        let pixels = lock(&self.state).surface.read(rect);
        let Some(bytes) = pixels else {
            // Outside the surface (a resize raced it): nothing to send.
            return Ok(true);
        };
        if let Some(color) = solid_color(&bytes) {
            if self.shares_bands {
                lock(&self.encoded_bands).keep_facts(rect, BandFacts::Solid(color));
            }
            send_fill(rect, color, out)?;
            return Ok(true);
        }
        if cache_whole {
            let mut digests = shared_digests.unwrap_or_else(|| Digests::of(&bytes));
            let reused = self.cached.reuse_or_admit(rect, &bytes, &mut digests, out);
            if self.shares_bands && Some(digests) != shared_digests {
                lock(&self.encoded_bands).keep_facts(rect, BandFacts::Whole(digests));
            }
            if reused? {
                return Ok(true);
            }
        }
        // An image seen again goes lossless, to be cached: from then on it
        // costs a reference, less than any JPEG.
        let lossy_allowed = lossy_allowed && !self.cached.admitted();
        let Some(coding) = coding else {
            return match self.glz.clone() {
                Some(dictionary) => self.send_glz(rect, &bytes, &dictionary, lossy_allowed, out),
                None => {
                    self.send_image(rect, bitmap(rect, &bytes), out)?;
                    Ok(true)
                }
            };
        };
        let coded = match earlier {
            Some(coded) => coded,
            None => {
                let coded = self.code(rect, &bytes, coding)?;
                if self.shares_bands {
                    lock(&self.encoded_bands).insert(rect, coding, coded.clone());
                }
                coded
            }
        };
        if lossy_allowed && coding == Coding::Lz {
            // LZ (no GLZ window yet, or a client without GLZ): the same
            // choice as for GLZ.
            let lossless_len = match &coded {
                Coded::Bytes(_, b) => b.len(),
                Coded::Bitmap => bytes.len(),
            };
            if let Some(jpeg) = self.jpeg_instead(rect, &bytes, lossless_len, out) {
                out.send(&draw_copy(rect, ImageData::Jpeg(&jpeg)))?;
                self.lossy.sent_lossy(rect, Instant::now());
                return Ok(true);
            }
        }
        if coding == Coding::Lz {
            let lossless_len = match &coded {
                Coded::Bytes(_, b) => b.len(),
                Coded::Bitmap => bytes.len(),
            };
            if let Some(quic) = self.quic_instead(rect, &bytes, lossless_len) {
                self.send_image(rect, ImageData::Quic(&quic), out)?;
                return Ok(true);
            }
        }
        let data = match &coded {
            Coded::Bytes(coding, b) => image_data(*coding, b),
            Coded::Bitmap => bitmap(rect, &bytes),
        };
        self.send_image(rect, data, out)?;
        Ok(true)
    }

    /// Sends the DRAW_COPY of an image, marked for the client's pixmap
    /// cache when `cached` admitted it.
    fn send_image(&mut self, rect: Rect, data: ImageData<'_>, out: &mut Outbox) -> Result {
        let mut message = draw_copy(rect, data);
        let marked = self.cached.mark(&mut message);
        let sent = out.send(&message);
        if let (Err(_), Some(key)) = (&sent, marked) {
            self.cached.unsent(&key);
        }
        sent
    }

    /// The codec of this client's images when its bytes depend on the
    /// pixels alone (and can be shared with other clients); `None` for
    /// GLZ while its dictionary pays, and for bitmaps.
    ///
    /// On a slow link (`zlib_glz`) GLZ stays: wrapped in zlib it takes
    /// half LZ's bytes on text, which is what counts there.
    fn stateless_coding(&mut self, zlib_glz: bool) -> Option<Coding> {
        match self.codec {
            ImageCodec::Raw => None,
            ImageCodec::Lz4 => Some(Coding::Lz4),
            ImageCodec::Lz => Some(Coding::Lz),
            // No DISPLAY_INIT (or no window) yet: LZ meanwhile.
            ImageCodec::Glz if self.glz.is_none() => Some(Coding::Lz),
            // The dictionary does not pay for now: LZ.
            ImageCodec::Glz if !zlib_glz && !self.window_pays.use_glz() => Some(Coding::Lz),
            ImageCodec::Glz => None,
            // Every client decodes QUIC: there is no capability for it.
            ImageCodec::Quic => Some(Coding::Quic),
            ImageCodec::Jpeg => Some(Coding::Jpeg(FAST_LINK_QUALITY)),
        }
    }

    /// Codes a band with a stateless codec; a bitmap where the codec does
    /// not shrink it.
    fn code(&mut self, rect: Rect, bytes: &[u8], coding: Coding) -> Result<Coded> {
        let mut payload = Vec::new();
        let coded = |coding, payload: Vec<u8>| Coded::Bytes(coding, Arc::new(payload));
        Ok(match coding {
            Coding::Lz4 => {
                // 24-bit rows: the unused fourth byte would cost a quarter
                // of the bytes on content LZ4 cannot shrink (gradients,
                // photos).
                let block = lz4_flex::block::compress(&pack_bgr24(bytes));
                let payload = lz4_image_payload(true, bitmap_fmt::BIT24, &[&block])
                    .map_err(|e| ConnectionError::Encoder(e.to_string()))?;
                coded(coding, payload)
            }
            Coding::Lz => {
                if lz_encode(&mut self.lz, rect, bytes, &mut payload) {
                    coded(coding, payload)
                } else {
                    Coded::Bitmap
                }
            }
            Coding::Quic => {
                let stride = rect.width as usize * 4;
                match quic::encode(
                    quic::ImageType::Rgb32,
                    rect.width,
                    rect.height,
                    stride,
                    bytes,
                ) {
                    // As spice-server does: a stream larger than the pixels
                    // is not worth decoding. An error (none can happen for
                    // a band of the surface) also means the bitmap, as for
                    // LZ: the band has left the pending region.
                    Ok(encoded) if encoded.len() < bytes.len() => coded(coding, encoded),
                    _ => Coded::Bitmap,
                }
            }
            Coding::Jpeg(quality) => {
                if self.jpeg.is_none() {
                    self.jpeg = JpegEncoder::new().ok().map(Box::new);
                }
                let encoded = self.jpeg.as_mut().is_some_and(|encoder| {
                    encoder
                        .encode(&rgb32(rect, bytes), quality, &mut payload)
                        .is_ok()
                });
                if encoded && payload.len() < bytes.len() {
                    coded(coding, payload)
                } else {
                    // libjpeg-turbo failing (out of memory), or a band JPEG
                    // does not shrink (a few pixels): lossless instead.
                    self.code(rect, bytes, Coding::Lz)?
                }
            }
        })
    }

    /// Sends a band in GLZ (zlib-wrapped on a slow link, JPEG instead
    /// when lossy is allowed and it pays; see `lossy`).
    fn send_glz(
        &mut self,
        rect: Rect,
        bytes: &[u8],
        dictionary: &Mutex<GlzDictionary>,
        lossy_allowed: bool,
        out: &mut Outbox,
    ) -> Result<bool> {
        let mut payload = Vec::new();
        // Held until the image is queued: ids must reach the client in the
        // order the dictionary gave them, with none missing (see
        // `codecs::glz`).
        let mut dictionary = lock(dictionary);
        let id = match dictionary.encode(&rgb32(rect, bytes), &mut payload) {
            Ok(id) if payload.len() < bytes.len() => id,
            Ok(id) => {
                // Noise: the bitmap is smaller, and the image leaves the
                // dictionary unsent.
                dictionary.forget(id);
                self.send_image(rect, bitmap(rect, bytes), out)?;
                return Ok(true);
            }
            Err(_) => {
                // Larger than the window: LZ.
                drop(dictionary);
                let data = match self.code(rect, bytes, Coding::Lz)? {
                    Coded::Bytes(coding, b) => {
                        self.send_image(rect, image_data(coding, &b), out)?;
                        return Ok(true);
                    }
                    Coded::Bitmap => bitmap(rect, bytes),
                };
                self.send_image(rect, data, out)?;
                return Ok(true);
            }
        };
        // The first screen has nothing to copy from: it says nothing of
        // whether the dictionary pays.
        if !self.mark_due {
            self.window_pays.coded(dictionary.last_copies());
        }
        if lossy_allowed {
            if let Some(jpeg) = self.jpeg_instead(rect, bytes, payload.len(), out) {
                // The image leaves the dictionary unsent.
                dictionary.forget(id);
                out.send(&draw_copy(rect, ImageData::Jpeg(&jpeg)))?;
                self.lossy.sent_lossy(rect, Instant::now());
                return Ok(true);
            }
        }
        if let Some(quic) = self.quic_instead(rect, bytes, payload.len()) {
            dictionary.forget(id);
            let sent = self.send_image(rect, ImageData::Quic(&quic), out);
            return sent.map(|_| true);
        }
        let wrapped = if lossy::wraps_glz(&out.link) {
            zlib::wrap(&payload, zlib::DEFAULT_LEVEL).ok().flatten()
        } else {
            None
        };
        let data = match &wrapped {
            Some(data) => {
                red_debug!(
                    "GLZ image wrapped in zlib: {} bytes instead of {}",
                    data.len(),
                    payload.len()
                );
                ImageData::ZlibGlzRgb {
                    // Below the bitmap's size, so within u32.
                    glz_data_size: payload.len() as u32,
                    data,
                }
            }
            None => ImageData::GlzRgb(&payload),
        };
        let sent = self.send_image(rect, data, out);
        if sent.is_err() {
            dictionary.forget(id);
        }
        sent?;
        Ok(true)
    }

    /// A JPEG of the band, when its lossless encoding (`lossless_len`
    /// bytes) is photo-like and too slow for the client's link (see
    /// [`lossy::jpeg_quality`]) and the JPEG is smaller.
    fn jpeg_instead(
        &mut self,
        rect: Rect,
        bytes: &[u8],
        lossless_len: usize,
        out: &Outbox,
    ) -> Option<Vec<u8>> {
        let pixels = rect.width as usize * rect.height as usize;
        let at_video_rate = lock(&self.state)
            .streams
            .at_video_rate(rect, Instant::now());
        let quality =
            lossy::jpeg_quality(&out.link, out.queued(), pixels, lossless_len, at_video_rate)?;
        if self.jpeg.is_none() {
            self.jpeg = JpegEncoder::new().ok().map(Box::new);
        }
        let mut jpeg = Vec::new();
        self.jpeg
            .as_mut()?
            .encode(&rgb32(rect, bytes), quality, &mut jpeg)
            .ok()?;
        red_debug!(
            "{}x{} photo-like update{} as JPEG at quality {quality}: {} bytes instead of {lossless_len}",
            rect.width,
            rect.height,
            if at_video_rate { " drawn at video rate" } else { "" },
            jpeg.len()
        );
        (jpeg.len() < lossless_len).then_some(jpeg)
    }

    /// A QUIC image of the band, under `auto`, when its dictionary coding
    /// (`lossless_len` bytes) is photo-like and QUIC takes a tenth less:
    /// a photo seen for the first time, which QUIC codes in about half
    /// LZ's bytes. A photo the dictionary has seen (panned, moved) stays
    /// in GLZ, which then codes it in a fraction of QUIC's.
    fn quic_instead(&mut self, rect: Rect, bytes: &[u8], lossless_len: usize) -> Option<Vec<u8>> {
        let pixels = rect.width as usize * rect.height as usize;
        if !self.lossy_allowed || !lossy::photo_like(pixels, lossless_len) {
            return None;
        }
        let stride = rect.width as usize * 4;
        let quic = quic::encode(
            quic::ImageType::Rgb32,
            rect.width,
            rect.height,
            stride,
            bytes,
        )
        .ok()?;
        red_debug!(
            "{}x{} photo-like band in QUIC: {} bytes instead of {lossless_len}",
            rect.width,
            rect.height,
            quic.len()
        );
        (quic.len() < lossless_len - lossless_len / 10).then_some(quic)
    }

    /// Lossy areas unchanged for long enough become due for their
    /// lossless pixels; from the worker's timer.
    fn settle_lossy(&mut self) {
        if !self.lossy.is_empty() {
            self.lossy.settle(Instant::now());
        }
    }
}

/// The monotonic clock in ns: the multimedia clock's, finer.
fn now_ns() -> u64 {
    u64::try_from(glib::monotonic_time()).unwrap_or(0) * 1000
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

/// A DRAW_COPY of an image of `rect`'s size to `rect`.
fn draw_copy(rect: Rect, data: ImageData<'_>) -> DrawCopy<'_> {
    DrawCopy {
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
    }
}

/// A band of the surface as the codecs take it.
fn rgb32(rect: Rect, bytes: &[u8]) -> Pixels<'_> {
    Pixels {
        kind: ImageType::Rgb32,
        width: rect.width,
        height: rect.height,
        stride: rect.width as usize * 4,
        data: bytes,
    }
}

/// An LZ image of a band into `payload`, or the bitmap where LZ does not
/// shrink it, as spice-server does (an error cannot happen for a band of
/// the surface, but would also mean a bitmap).
/// The image of a band a stateless codec coded.
fn image_data(coding: Coding, bytes: &[u8]) -> ImageData<'_> {
    match coding {
        Coding::Lz4 => ImageData::Lz4(bytes),
        Coding::Lz => ImageData::LzRgb(bytes),
        Coding::Quic => ImageData::Quic(bytes),
        Coding::Jpeg(_) => ImageData::Jpeg(bytes),
    }
}

/// LZ-encodes a band into `payload`; false when the bitmap would be
/// smaller.
fn lz_encode(
    encoder: &mut Option<Box<LzEncoder>>,
    rect: Rect,
    bytes: &[u8],
    payload: &mut Vec<u8>,
) -> bool {
    let encoder = encoder.get_or_insert_with(Default::default);
    encoder.encode(&rgb32(rect, bytes), payload).is_ok() && payload.len() < bytes.len()
}

/// An uncompressed image of a band of x8r8g8b8 pixels.
fn bitmap(rect: Rect, pixels: &[u8]) -> ImageData<'_> {
    ImageData::Bitmap {
        format: bitmap_fmt::BIT32,
        flags: bitmap_flags::TOP_DOWN,
        stride: rect.width * 4,
        pixels,
    }
}

/// x8r8g8b8 pixels (B, G, R, X bytes) as packed 24-bit ones (B, G, R), the
/// layout of SPICE's 24BIT bitmaps.
fn pack_bgr24(bytes: &[u8]) -> Vec<u8> {
    bytes
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect()
}

/// The colour (0xRRGGBB) of a block of x8r8g8b8 pixels of one colour.
/// The DRAW_FILL of `rect` in `color`.
fn send_fill(rect: Rect, color: u32, out: &mut Outbox) -> Result {
    out.send(&DrawFill {
        base: base(rect),
        brush: Brush::Solid(color),
        rop_descriptor: ropd::OP_PUT,
    })
}

fn solid_color(bytes: &[u8]) -> Option<u32> {
    let first = bytes.get(..4)?;
    let color = u32::from_le_bytes([first[0], first[1], first[2], 0]);
    // Blocks of 16 pixels without an early exit inside vectorize: a pixel
    // at a time was the display channel's hottest loop where the box
    // workload uncovers 256x256 pixels of plain desktop.
    let differs = |pixels: &[u8]| {
        pixels.chunks_exact(4).fold(0, |d, p| {
            d | (u32::from_le_bytes([p[0], p[1], p[2], p[3]]) & 0x00ff_ffff) ^ color
        }) != 0
    };
    let mut blocks = bytes.chunks_exact(64);
    if blocks.by_ref().any(differs) || differs(blocks.remainder()) {
        return None;
    }
    Some(color)
}

impl ChannelProtocol for DisplayProtocol {
    fn start(&mut self, rcc: &ChannelClient, out: &mut Outbox) -> Result {
        if let (Some(client), Some(channel)) = (rcc.client(), rcc.channel()) {
            if let Some(dispatcher) = channel.main_dispatcher() {
                self.playout_to_main = Some(PlayoutToMain {
                    shared: client.shared(0, ClientPlayout::default),
                    id: channel.id(),
                    client: client.downgrade(),
                    dispatcher: dispatcher.clone(),
                });
            }
        }
        out.start_acks()?;
        let (width, height) = {
            let state = lock(&self.state);
            (state.surface.width(), state.surface.height())
        };
        self.create_surface(width, height, out)
    }

    fn handle(
        &mut self,
        rcc: &ChannelClient,
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
                // OFF, LZ and GLZ are honoured, and lossless; the rest
                // keeps the server's choice.
                match image_compression {
                    image_compression::OFF => self.codec = ImageCodec::Raw,
                    image_compression::LZ => self.codec = ImageCodec::Lz,
                    image_compression::GLZ | image_compression::AUTO_GLZ => {
                        self.codec = ImageCodec::Glz
                    }
                    _ => {}
                }
                if matches!(
                    image_compression,
                    image_compression::OFF | image_compression::LZ | image_compression::GLZ
                ) {
                    self.lossy_allowed = false;
                }
                Ok(())
            }
            ClientMessage::Display(DisplayClientMessage::StreamReport {
                stream_id,
                end_frame_mm_time,
                num_frames,
                num_drops,
                last_frame_delay,
                ..
            }) => {
                if let Some(codec) = self.streams.codec_of(stream_id) {
                    // How long the window's last frame took to arrive: the
                    // delay it had, less how early it came.
                    let transit_ms = self.playout_in_effect() as i32 - last_frame_delay;
                    self.stream_report(end_frame_mm_time, last_frame_delay, num_drops);
                    let report = StreamReport {
                        frames: num_frames,
                        drops: num_drops,
                        last_delay_ms: last_frame_delay,
                        transit_ms,
                    };
                    let bitrate = lock(&self.state).adapt_bitrate(
                        stream_id,
                        codec,
                        self.streams.rate_group(),
                        &report,
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
            ClientMessage::Display(DisplayClientMessage::Init {
                pixmap_cache_id,
                pixmap_cache_size,
                glz_dictionary_id,
                glz_dictionary_window_size,
            }) => {
                self.cached
                    .init(rcc.client(), pixmap_cache_id, pixmap_cache_size);
                // The window is in pixels; none means no GLZ.
                if let Ok(window @ 1..) = u32::try_from(glz_dictionary_window_size) {
                    self.glz_init = Some((glz_dictionary_id, window));
                }
                Ok(())
            }
            // GL acks: nothing to do without GL.
            ClientMessage::Display(_) => Ok(()),
            other => Err(ConnectionError::unexpected("display", other.msg_type())),
        }
    }

    fn refill(&mut self, rcc: &ChannelClient, out: &mut Outbox) {
        if self.codec == ImageCodec::Glz && self.glz.is_none() {
            if let (Some((id, window)), Some(client)) = (self.glz_init, rcc.client()) {
                // One dictionary per client and id, as spice-server keeps
                // them: the client has one window for all its displays.
                self.glz = Some(client.shared(id, || Mutex::new(GlzDictionary::new(window))));
            }
        }
        // Bands are kept for other clients only when there are some.
        self.shares_bands = rcc.channel().is_some_and(|c| c.clients().len() > 1);
        while out.has_room() {
            match self.send_next(out) {
                // The first screen went out whole: its MARK follows at
                // once, and what was drawn since goes in bands (on a slow
                // link the first screen takes seconds to drain; each whole
                // image after it would take as long).
                Ok(true) if self.mark_due => {
                    self.mark_due = false;
                    let _ = out.send(&Mark);
                }
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
    bands_changed(channels, effect);
    match effect {
        Effect::None => {}
        Effect::Cursor => cursor::forward(&channels.cursor_channel),
        Effect::Damage(rect) => forward_damage(channels, *rect),
        Effect::Moved {
            src_x,
            src_y,
            dest,
            damage,
        } => {
            // The copy first: the rest is drawn over what it moved.
            let copy = Effect::CopyBits {
                src_x: *src_x,
                src_y: *src_y,
                dest: *dest,
            };
            forward(channels, &copy);
            for rect in damage {
                forward_damage(channels, *rect);
            }
        }
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

/// Drops the coded bands `effect` draws over.
fn bands_changed(channels: &DisplayChannels, effect: &Effect) {
    let mut bands = lock(&channels.encoded_bands);
    match effect {
        Effect::Damage(rect) | Effect::CopyBits { dest: rect, .. } => bands.changed(*rect),
        Effect::Moved { dest, damage, .. } => {
            bands.changed(*dest);
            for rect in damage {
                bands.changed(*rect);
            }
        }
        Effect::Resized { .. } => bands.clear(),
        Effect::StreamsEnded(_) | Effect::Cursor | Effect::None => {}
    }
}

/// A damaged rectangle: a stream frame for the clients that can take it,
/// an image update for the others.
fn forward_damage(channels: &DisplayChannels, rect: Rect) {
    let (detection, stream_soon) = {
        let mut state = lock(&channels.state);
        let now = Instant::now();
        let detection = state.streams.on_damage(rect, now);
        state.drop_encoders(&detection.ended);
        let soon = detection.frame.is_none() && state.streams.at_video_rate(rect, now);
        (detection, soon)
    };
    let clients = &channels.display_channel;
    let Some((id, _)) = detection.frame else {
        clients.for_each_protocol(|p, out| {
            p.end_streams(&detection.ended, out)?;
            for stream in &detection.clipped {
                p.streams.clip(stream, rect, out)?;
            }
            p.pending.add(rect);
            p.cached.drawn(rect);
            // A stream is about to start here: its first frames must not
            // meet the client's clock still at the delay for a link never
            // measured (400 ms; lowered under them, they are late and
            // dropped: a third of a second of video on a slow link).
            if stream_soon && p.streams.can_stream() {
                p.expect_stream(out);
            }
            Ok(())
        });
        return;
    };
    // One encoding per codec and rate group, shared by the clients of
    // that codec in that group; each group's bitrate stays within its
    // slowest measured link.
    let mut links = GroupLinks::default();
    clients.for_each_protocol(|p, out| {
        let bandwidth = out.link.bandwidth_bps();
        links.add(p.streams.regroup(bandwidth), bandwidth);
        Ok(())
    });
    let mut frames = SharedFrames::new(links);
    clients.for_each_protocol(|p, out| {
        p.end_streams(&detection.ended, out)?;
        let sent =
            p.streams
                .send_frame(id, rect, &channels.state, &mut frames, &mut p.pending, out)?;
        if sent {
            p.stream_frame_queued(out);
            // The stream carries the area now, and its end sends it again
            // losslessly: no JPEG of it before is due any more.
            if !p.lossy.is_empty() {
                p.lossy.sent_lossless(rect);
            }
        }
        Ok(())
    });
}

/// Lossy areas that settled are sent again losslessly; from the worker's
/// timer.
pub(crate) fn settle_lossy(channels: &DisplayChannels) {
    channels.display_channel.for_each_protocol(|p, _| {
        p.settle_lossy();
        Ok(())
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
        input,
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
            channels.encoded_bands.clone(),
            &channel_caps,
            image_compression,
            &video_codecs,
        );
        attach(
            rcc.upcast_ref(),
            socket,
            input,
            &common_caps,
            Box::new(protocol),
        );
    } else {
        let rcc: CursorChannelClient =
            new_channel_client(channels.cursor_channel.upcast_ref(), &client);
        let protocol = CursorProtocol::new(channels.state.clone());
        attach(
            rcc.upcast_ref(),
            socket,
            input,
            &common_caps,
            Box::new(protocol),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_codec_follows_the_setting_and_lz4_cap() {
        use ImageCompression as C;
        assert_eq!(ImageCodec::choose(C::Off, true), ImageCodec::Raw);
        assert_eq!(ImageCodec::choose(C::Auto, true), ImageCodec::Glz);
        assert_eq!(ImageCodec::choose(C::Auto, false), ImageCodec::Glz);
        assert_eq!(ImageCodec::choose(C::Lz4, true), ImageCodec::Lz4);
        assert_eq!(ImageCodec::choose(C::Lz4, false), ImageCodec::Raw);
        // LZ needs no capability: spice-common's decoder is always there.
        assert_eq!(ImageCodec::choose(C::Lz, false), ImageCodec::Lz);
        assert_eq!(ImageCodec::choose(C::Glz, false), ImageCodec::Glz);
    }

    #[test]
    fn pack_bgr24_drops_the_fourth_byte() {
        let px = [1, 2, 3, 0xff, 4, 5, 6, 0, 7, 8, 9, 0x80];
        assert_eq!(pack_bgr24(&px), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert!(pack_bgr24(&[]).is_empty());
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
