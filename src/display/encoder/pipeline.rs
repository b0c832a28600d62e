//! The GStreamer pipeline of one encoder, `appsrc ! videoconvert !
//! capsfilter(I420) ! <encoder> ! capsfilter(<codec caps>) ! appsink`, and
//! frames through it: one pushed, one pulled, synchronously. MJPEG frames
//! skip GStreamer: libjpeg-turbo compresses the x8r8g8b8 pixels where they
//! are, converting and subsampling them itself, as spice-server's MJPEG
//! encoder does (the pipeline's copy into a buffer, its separate colour
//! conversion and the hand-over between its threads cost about as much as
//! the JPEG itself).

use std::str::FromStr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use gst::prelude::*;
use gstreamer as gst;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;

use super::codec::{available, VideoCodec, MAX_FRAME_DIMENSION};
use super::rate::{self, JpegRate};
use super::scale::{self, SizeChoice};

/// Frames between two periodic keyframes (VP8, VP9, H.264).
pub const KEYFRAME_INTERVAL: u32 = 60;

/// How long `encode` waits for the encoder's output before it takes the frame
/// as dropped. Only reached when something is wrong: every encoder here
/// outputs one frame per input frame, synchronously.
const FRAME_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one wait for the output lasts: between two, the bus is checked
/// for errors so a broken pipeline does not take `FRAME_TIMEOUT`.
const PULL_WAIT: gst::ClockTime = gst::ClockTime::from_mseconds(100);

/// From this many pixels (720p) a frame is big: VP8 takes its fastest
/// setting, and videoconvert gets threads (BGRx → I420 is a noticeable
/// share of a big frame's time).
const BIG_FRAME_PIXELS: u32 = 1280 * 720;

/// The most threads an encoder or videoconvert gets.
const MAX_THREADS: u32 = 4;

/// The elements of every pipeline besides the codec's encoder.
pub(super) const PIPELINE_ELEMENTS: [&str; 4] = ["appsrc", "videoconvert", "capsfilter", "appsink"];

/// Initialises GStreamer once; the error, if any, is kept.
pub(super) fn init() -> Result<(), String> {
    static INIT: OnceLock<Result<(), String>> = OnceLock::new();
    INIT.get_or_init(|| gst::init().map_err(|e| format!("cannot initialise GStreamer: {e}")))
        .clone()
}

/// Sets property `name` of `element` from its string form (as in
/// gst-launch), without panicking on a missing property or a bad value.
fn set_prop(element: &gst::Element, name: &str, value: &str) -> Result<(), String> {
    let pspec = element
        .find_property(name)
        .ok_or_else(|| format!("{} has no property {name}", element.name()))?;
    if !pspec.flags().contains(glib::ParamFlags::WRITABLE) {
        return Err(format!(
            "{}: property {name} is not writable",
            element.name()
        ));
    }
    let v = <glib::Value as GstValueExt>::deserialize(value, pspec.value_type())
        .map_err(|_| format!("{}: bad value {value:?} for {name}", element.name()))?;
    element.set_property_from_value(name, &v);
    Ok(())
}

fn make(factory: &str, name: &str) -> Result<gst::Element, String> {
    gst::ElementFactory::make(factory)
        .name(name)
        .build()
        .map_err(|e| format!("cannot create GStreamer element {factory}: {e}"))
}

/// The threads an encoder may use.
fn encoder_threads() -> u32 {
    std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(1)
        .clamp(1, MAX_THREADS)
}

/// Refuses the sizes `codec` cannot encode.
fn check_size(codec: VideoCodec, width: u32, height: u32) -> Result<(), String> {
    if width == 0 || height == 0 || width > MAX_FRAME_DIMENSION || height > MAX_FRAME_DIMENSION {
        return Err(format!("cannot encode {width}x{height} frames"));
    }
    if codec.needs_even_size() && (!width.is_multiple_of(2) || !height.is_multiple_of(2)) {
        return Err(format!(
            "{} needs an even width and height, not {width}x{height}",
            codec.name()
        ));
    }
    Ok(())
}

/// The source the frames are pushed into: live BGRx at `fps`.
fn appsrc(width: u32, height: u32, fps: u32) -> Result<gst_app::AppSrc, String> {
    let input_caps = gst_video::VideoInfo::builder(gst_video::VideoFormat::Bgrx, width, height)
        .fps(gst::Fraction::new(fps as i32, 1))
        .build()
        .and_then(|info| info.to_caps())
        .map_err(|e| format!("bad input caps: {e}"))?;
    Ok(gst_app::AppSrc::builder()
        .name("src")
        .caps(&input_caps)
        .format(gst::Format::Time)
        .is_live(true)
        .stream_type(gst_app::AppStreamType::Stream)
        .build())
}

/// The 4:2:0 input every GStreamer encoder gets (see the module doc).
fn i420_caps() -> gst::Caps {
    gst::Caps::builder("video/x-raw")
        .field("format", "I420")
        .build()
}

/// A capsfilter named `name` that lets `caps` through.
fn capsfilter(name: &str, caps: &gst::Caps) -> Result<gst::Element, String> {
    let filter = make("capsfilter", name)?;
    filter.set_property("caps", caps);
    Ok(filter)
}

/// The sink the encoded frames are pulled from, as fast as they come.
fn appsink() -> gst_app::AppSink {
    gst_app::AppSink::builder()
        .name("sink")
        .sync(false)
        .enable_last_sample(false)
        .build()
}

/// vp8enc/vp9enc: spice-server's "Profile Realtime", constant bitrate, no
/// lag.
fn vpx_settings(codec: VideoCodec, width: u32, height: u32) -> Vec<(&'static str, String)> {
    let mut settings = vec![
        ("end-usage", "cbr".into()),
        ("min-quantizer", "10".into()),
        ("error-resilient", "default".into()),
        ("lag-in-frames", "0".into()),
        ("deadline", "1".into()),
        ("keyframe-max-dist", KEYFRAME_INTERVAL.to_string()),
        ("threads", encoder_threads().to_string()),
    ];
    if codec == VideoCodec::Vp8 {
        let cpu_used = if width * height >= BIG_FRAME_PIXELS {
            "8"
        } else {
            "4"
        };
        settings.push(("cpu-used", cpu_used.into()));
    } else {
        settings.extend([("cpu-used", "8".into()), ("row-mt", "true".into())]);
    }
    settings
}

/// x264enc: one Annex-B access unit per frame, no frame lag (spice-server's
/// settings).
fn x264_settings() -> Vec<(&'static str, String)> {
    vec![
        ("byte-stream", "true".into()),
        ("aud", "true".into()),
        ("tune", "zerolatency".into()),
        ("speed-preset", "ultrafast".into()),
        ("bframes", "0".into()),
        ("key-int-max", KEYFRAME_INTERVAL.to_string()),
        // 0: x264 picks the number of threads.
        ("threads", "0".into()),
    ]
}

/// Sets the codec's encoder properties, except the rate (see
/// [`VideoEncoder::apply_bitrate`]).
fn configure_encoder(
    encoder: &gst::Element,
    codec: VideoCodec,
    width: u32,
    height: u32,
) -> Result<(), String> {
    let settings = match codec {
        // libjpeg-turbo's only setting is its quality, the rate.
        VideoCodec::Mjpeg => Vec::new(),
        VideoCodec::Vp8 | VideoCodec::Vp9 => vpx_settings(codec, width, height),
        VideoCodec::H264 => x264_settings(),
    };
    for (name, value) in settings {
        set_prop(encoder, name, &value)?;
    }
    Ok(())
}

/// A pipeline of `elements`, linked in order.
fn assemble(codec: VideoCodec, elements: &[&gst::Element]) -> Result<gst::Pipeline, String> {
    let pipeline = gst::Pipeline::with_name(&format!("redspice-{}-encoder", codec.name()));
    pipeline
        .add_many(elements.iter().copied())
        .map_err(|e| format!("cannot build the {} pipeline: {e}", codec.name()))?;
    gst::Element::link_many(elements.iter().copied())
        .map_err(|e| format!("cannot link the {} pipeline: {e}", codec.name()))?;
    Ok(pipeline)
}

/// What encodes the frames.
enum Backend {
    /// VP8, VP9, H.264.
    Gst(Gst),
    /// MJPEG, in the caller's thread.
    Jpeg(Box<turbojpeg::Compressor>),
}

/// A running GStreamer pipeline and the elements it is driven through.
struct Gst {
    pipeline: gst::Pipeline,
    appsrc: gst_app::AppSrc,
    appsink: gst_app::AppSink,
    encoder: gst::Element,
}

impl Gst {
    /// A pipeline for `codec`, not yet playing.
    fn new(codec: VideoCodec, width: u32, height: u32, fps: u32) -> Result<Self, String> {
        let appsrc = appsrc(width, height, fps)?;
        let convert = make("videoconvert", "convert")?;
        let i420 = capsfilter("i420", &i420_caps())?;
        let encoder = make(codec.element(), "encoder")?;
        let output_caps = gst::Caps::from_str(codec.output_caps())
            .map_err(|e| format!("bad output caps: {e}"))?;
        let outcaps = capsfilter("outcaps", &output_caps)?;
        let appsink = appsink();
        configure_encoder(&encoder, codec, width, height)?;
        if width * height >= BIG_FRAME_PIXELS {
            let _ = set_prop(&convert, "n-threads", &encoder_threads().to_string());
        }
        let pipeline = assemble(
            codec,
            &[
                appsrc.upcast_ref(),
                &convert,
                &i420,
                &encoder,
                &outcaps,
                appsink.upcast_ref(),
            ],
        )?;
        Ok(Gst {
            pipeline,
            appsrc,
            appsink,
            encoder,
        })
    }

    /// The first error message on the pipeline's bus, if any.
    fn bus_error(&self) -> Option<String> {
        let bus = self.pipeline.bus()?;
        let msg = bus.pop_filtered(&[gst::MessageType::Error])?;
        match msg.view() {
            gst::MessageView::Error(err) => {
                let source = msg.src().map(|s| s.name().to_string()).unwrap_or_default();
                Some(format!("{source}: {}", err.error()))
            }
            _ => None,
        }
    }
}

impl Drop for Gst {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// A GStreamer pipeline (or, for MJPEG, libjpeg-turbo) encoding one
/// stream's frames with one codec.
pub struct VideoEncoder {
    codec: VideoCodec,
    width: u32,
    height: u32,
    fps: u32,
    bitrate: u64,
    backend: Backend,
    /// The first frame's timestamp: stream time starts there.
    first_timestamp_ms: Option<u64>,
    last_pts: Option<gst::ClockTime>,
    /// Set once the pipeline failed: every later encode returns it.
    failed: Option<String>,
    frames_encoded: u64,
    last_keyframe: bool,
    encode_time: Duration,
    last_encode_time: Duration,
    /// MJPEG only: the quality, steered so frames meet the bitrate.
    jpeg_rate: JpegRate,
    /// MJPEG only: whether frames go at half size (a link too slow for
    /// the full size), and whether that may be done at all.
    size_choice: SizeChoice,
    may_halve: bool,
    /// The size of the last encoded frame.
    last_frame_size: (u32, u32),
}

impl std::fmt::Debug for VideoEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "VideoEncoder({} {}x{})",
            self.codec.name(),
            self.width,
            self.height
        )
    }
}

impl VideoEncoder {
    /// A running encoder for `width`×`height` frames
    /// (1..=[`MAX_FRAME_DIMENSION`]; even for H.264) at about `fps_hint`
    /// frames per second (0 means 30), targeting `bitrate_bps` bits per
    /// second (0: a default for the size).
    pub fn new(
        codec: VideoCodec,
        width: u32,
        height: u32,
        fps_hint: u32,
        bitrate_bps: u64,
    ) -> Result<Self, String> {
        init()?;
        if !available(codec) {
            return Err(format!(
                "the GStreamer encoder for {} is not installed",
                codec.name()
            ));
        }
        check_size(codec, width, height)?;
        let fps = rate::frame_rate(fps_hint);
        let bitrate = if bitrate_bps == 0 {
            rate::default_bitrate(codec, width, height, fps)
        } else {
            bitrate_bps
        };

        let backend = if codec == VideoCodec::Mjpeg {
            let mut jpeg = turbojpeg::Compressor::new()
                .map_err(|e| format!("cannot make a JPEG compressor: {e}"))?;
            // 4:2:0, as every codec here gets (and spice-server's MJPEG).
            jpeg.set_subsamp(turbojpeg::Subsamp::Sub2x2);
            Backend::Jpeg(Box::new(jpeg))
        } else {
            Backend::Gst(Gst::new(codec, width, height, fps)?)
        };

        let this = VideoEncoder {
            codec,
            width,
            height,
            fps,
            bitrate,
            backend,
            first_timestamp_ms: None,
            last_pts: None,
            failed: None,
            frames_encoded: 0,
            last_keyframe: false,
            encode_time: Duration::ZERO,
            last_encode_time: Duration::ZERO,
            jpeg_rate: JpegRate::new(rate::jpeg_quality(bitrate, width, height, fps)),
            size_choice: SizeChoice::new(),
            may_halve: true,
            last_frame_size: (width, height),
        };
        this.apply_bitrate();
        if let Backend::Gst(gst) = &this.backend {
            if let Err(e) = gst.pipeline.set_state(gst::State::Playing) {
                let detail = gst.bus_error().unwrap_or_else(|| e.to_string());
                return Err(format!(
                    "cannot start the {} encoder: {detail}",
                    codec.name()
                ));
            }
        }
        Ok(this)
    }

    pub fn codec(&self) -> VideoCodec {
        self.codec
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// The target bitrate in bits per second.
    pub fn bitrate(&self) -> u64 {
        self.bitrate
    }

    /// Frames encoded so far (frames that came out of the encoder).
    pub fn frames_encoded(&self) -> u64 {
        self.frames_encoded
    }

    /// Wall time spent inside [`VideoEncoder::encode`], all frames together.
    pub fn encode_time(&self) -> Duration {
        self.encode_time
    }

    /// Wall time the last [`VideoEncoder::encode`] took.
    pub fn last_encode_time(&self) -> Duration {
        self.last_encode_time
    }

    /// The width and height of the last encoded frame: the stream's, or
    /// half of them when MJPEG frames go at half size (see
    /// [`VideoEncoder::set_may_halve`]).
    pub fn last_frame_size(&self) -> (u32, u32) {
        self.last_frame_size
    }

    /// Whether the next MJPEG frames may go at half size when the bitrate
    /// is too low for the full size (true at first): false for a client
    /// that cannot take a frame of another size. The GStreamer codecs keep
    /// their size.
    pub fn set_may_halve(&mut self, may_halve: bool) {
        self.may_halve = may_halve;
    }

    /// Whether the last encoded frame is a keyframe (a decoder can start with
    /// it). Always true for MJPEG.
    pub fn last_was_keyframe(&self) -> bool {
        self.last_keyframe
    }

    /// Changes the target bitrate, effective from the next frame.
    pub fn set_bitrate(&mut self, bps: u64) {
        self.bitrate = bps.max(1);
        // MJPEG: the rate control steers towards the new target from the
        // next frame on, from the quality it has found for this picture.
        self.apply_bitrate();
    }

    /// Gives the encoder the current rate (MJPEG takes the current quality
    /// with each frame).
    fn apply_bitrate(&self) {
        let Backend::Gst(gst) = &self.backend else {
            return;
        };
        let (name, value) = rate::rate_property(self.codec, self.bitrate, self.jpeg_rate.quality());
        if let Err(e) = set_prop(&gst.encoder, name, &value) {
            red_warning!("cannot set the {} bitrate: {e}", self.codec.name());
        }
    }

    /// The next frame will be a keyframe.
    pub fn request_keyframe(&mut self) {
        let Backend::Gst(gst) = &self.backend else {
            // Every JPEG is a keyframe.
            return;
        };
        let event = gst_video::UpstreamForceKeyUnitEvent::builder()
            .all_headers(true)
            .build();
        if let Some(pad) = gst.encoder.static_pad("src") {
            // Handled synchronously by the encoder, which is idle between
            // two encode() calls: the next frame is the keyframe.
            pad.send_event(event);
        }
    }

    fn fail(&mut self, message: String) -> String {
        self.failed = Some(message.clone());
        message
    }

    /// Encodes one frame of `width`×`height` x8r8g8b8 pixels (bytes B, G, R,
    /// X), rows `stride` bytes apart, shown at `timestamp_ms` (any
    /// monotonic millisecond clock). Returns the encoded frame (JPEG, VP8/VP9
    /// frame, or H.264 Annex-B access unit), or `None` if the encoder gave
    /// nothing for it. Blocks until the frame is encoded.
    pub fn encode(
        &mut self,
        bgrx: &[u8],
        stride: usize,
        timestamp_ms: u64,
    ) -> Result<Option<Vec<u8>>, String> {
        let start = Instant::now();
        let result = self.encode_frame(bgrx, stride, timestamp_ms);
        self.last_encode_time = start.elapsed();
        self.encode_time += self.last_encode_time;
        result
    }

    fn encode_frame(
        &mut self,
        bgrx: &[u8],
        stride: usize,
        timestamp_ms: u64,
    ) -> Result<Option<Vec<u8>>, String> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let (w, h) = (self.width as usize, self.height as usize);
        let row = w * 4;
        if stride < row || bgrx.len() < stride * (h - 1) + row {
            return Err(format!(
                "frame of {} bytes with stride {stride} is too small for {w}x{h}",
                bgrx.len()
            ));
        }
        if let Backend::Jpeg(_) = &self.backend {
            return self.encode_jpeg(bgrx, stride).map(Some);
        }
        let buffer = self.frame_buffer(bgrx, stride, timestamp_ms)?;
        let Backend::Gst(gst) = &self.backend else {
            return Ok(None);
        };

        // A frame that came out late for an earlier call is stale now.
        while gst.appsink.try_pull_sample(gst::ClockTime::ZERO).is_some() {}

        if let Err(flow) = gst.appsrc.push_buffer(buffer) {
            let detail = gst.bus_error().unwrap_or_else(|| format!("{flow:?}"));
            return Err(self.fail(format!("{} encoder: {detail}", self.codec.name())));
        }
        self.pull_frame()
    }

    /// One MJPEG frame, at half size while [`SizeChoice`] says so.
    fn encode_jpeg(&mut self, bgrx: &[u8], stride: usize) -> Result<Vec<u8>, String> {
        let halved = self.may_halve && self.size_choice.halved();
        let half;
        let (pixels, pitch, width, height) = if halved {
            let (hw, hh) = scale::half_size(self.width, self.height);
            half = scale::halve_bgrx(bgrx, stride, self.width, self.height)
                .ok_or_else(|| "frame too small to halve".to_string())?;
            (&half[..], hw as usize * 4, hw, hh)
        } else {
            (bgrx, stride, self.width, self.height)
        };
        let Backend::Jpeg(jpeg) = &mut self.backend else {
            return Err("not a JPEG encoder".to_string());
        };
        jpeg.set_quality(self.jpeg_rate.quality());
        let image = turbojpeg::Image {
            pixels,
            width: width as usize,
            pitch,
            height: height as usize,
            format: turbojpeg::PixelFormat::BGRX,
        };
        let frame = match jpeg.compress_to_vec(image) {
            Ok(frame) => frame,
            Err(e) => return Err(self.fail(format!("JPEG encoder: {e}"))),
        };
        self.last_frame_size = (width, height);
        if halved != self.size_choice.halved() {
            // A full-size frame for a client that cannot take a half-size
            // one, while the others get half-size frames: it tells the
            // rate control nothing about the half-size frames.
            self.frames_encoded += 1;
            self.last_keyframe = true;
            return Ok(frame);
        }
        self.frame_done(&frame, true);
        // Only frames that could have been halved decide the size: a
        // stream whose clients all need full-size frames never halves.
        if self.may_halve {
            self.choose_size();
        }
        Ok(frame)
    }

    /// After each MJPEG frame: the size of the next ones, from the quality
    /// the rate control now wants (see `scale`).
    fn choose_size(&mut self) {
        let Some(halved) = self.size_choice.update(self.jpeg_rate.quality()) else {
            return;
        };
        let (width, height) = if halved {
            scale::half_size(self.width, self.height)
        } else {
            (self.width, self.height)
        };
        // The quality that fitted one size says little of the other: start
        // from the bitrate's, as a new stream does.
        self.jpeg_rate = JpegRate::new(rate::jpeg_quality(self.bitrate, width, height, self.fps));
        red_debug!(
            "MJPEG {}x{}: frames at {width}x{height} from now on ({} bit/s, quality {})",
            self.width,
            self.height,
            self.bitrate,
            self.jpeg_rate.quality()
        );
    }

    /// The stream time of a frame shown at `timestamp_ms`.
    fn next_pts(&mut self, timestamp_ms: u64) -> gst::ClockTime {
        let first = *self.first_timestamp_ms.get_or_insert(timestamp_ms);
        let mut pts = gst::ClockTime::from_mseconds(timestamp_ms.saturating_sub(first));
        if let Some(last) = self.last_pts {
            if pts <= last {
                // Timestamps must grow: 1 ms after the last frame.
                pts = last + gst::ClockTime::from_mseconds(1);
            }
        }
        self.last_pts = Some(pts);
        pts
    }

    /// A buffer with the frame's visible pixels, rows packed, stamped.
    fn frame_buffer(
        &mut self,
        bgrx: &[u8],
        stride: usize,
        timestamp_ms: u64,
    ) -> Result<gst::Buffer, String> {
        let (row, h) = (self.width as usize * 4, self.height as usize);
        let mut buffer =
            gst::Buffer::with_size(row * h).map_err(|e| format!("cannot allocate a frame: {e}"))?;
        let pts = self.next_pts(timestamp_ms);
        let writable = buffer
            .get_mut()
            .ok_or_else(|| "new buffer is not writable".to_string())?;
        writable.set_pts(pts);
        writable.set_duration(gst::ClockTime::from_nseconds(
            1_000_000_000 / self.fps as u64,
        ));
        let mut map = writable
            .map_writable()
            .map_err(|e| format!("cannot map a frame: {e}"))?;
        if stride == row {
            map.copy_from_slice(&bgrx[..row * h]);
        } else {
            for (y, dest) in map.chunks_exact_mut(row).enumerate() {
                dest.copy_from_slice(&bgrx[y * stride..y * stride + row]);
            }
        }
        drop(map);
        Ok(buffer)
    }

    /// Waits for the encoded frame of the frame just pushed.
    fn pull_frame(&mut self) -> Result<Option<Vec<u8>>, String> {
        let deadline = Instant::now() + FRAME_TIMEOUT;
        loop {
            let Backend::Gst(gst) = &self.backend else {
                return Ok(None);
            };
            if let Some(sample) = gst.appsink.try_pull_sample(PULL_WAIT) {
                return self.take_sample(&sample).map(Some);
            }
            if let Some(e) = gst.bus_error() {
                return Err(self.fail(format!("{} encoder: {e}", self.codec.name())));
            }
            if gst.appsink.is_eos() {
                return Err(self.fail(format!("{} encoder: end of stream", self.codec.name())));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
        }
    }

    /// The encoded frame in `sample`, counted; MJPEG's rate control learns
    /// from its size.
    fn take_sample(&mut self, sample: &gst::Sample) -> Result<Vec<u8>, String> {
        let buffer = sample.buffer().ok_or_else(|| {
            format!(
                "{} encoder gave a sample without a buffer",
                self.codec.name()
            )
        })?;
        let map = buffer
            .map_readable()
            .map_err(|e| format!("cannot read an encoded frame: {e}"))?;
        let frame = map.as_slice().to_vec();
        self.frame_done(
            &frame,
            !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT),
        );
        Ok(frame)
    }

    /// Counts a frame out of the encoder; MJPEG's rate control learns from
    /// its size (the next frame takes the new quality).
    fn frame_done(&mut self, frame: &[u8], keyframe: bool) {
        self.frames_encoded += 1;
        self.last_keyframe = keyframe;
        if self.codec == VideoCodec::Mjpeg {
            let target_bits = rate::bits_per_frame(self.bitrate, self.fps);
            self.jpeg_rate.frame_done(frame.len(), target_bits);
        }
    }
}
