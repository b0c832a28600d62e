//! Video encoding for SPICE streams, through GStreamer.
//!
//! One [`VideoEncoder`] per stream and codec: it takes the stream's pixels
//! (x8r8g8b8, i.e. GStreamer `BGRx` on little-endian) one frame at a time
//! and returns the encoded frame synchronously, ready for STREAM_DATA.
//!
//! Pipelines (`appsrc ! videoconvert ! I420 ! <encoder> ! <caps> ! appsink`)
//! follow spice-server's `server/gstreamer-encoder.c` and what spice-gtk's
//! decoder (`channel-display-gst.c`: `appsrc caps=<codec caps> ! decoder !
//! videoconvert ! appsink BGRx`) expects:
//!
//! * MJPEG: `jpegenc`, one complete baseline JPEG per frame (`image/jpeg`);
//!   the quality starts from the bitrate and is steered after every frame
//!   until frames meet it (`JpegRate`). spice-gtk decodes MJPEG with its
//!   own libjpeg decoder. `spice:mjpeg` in `video-codecs` (spice-server's
//!   builtin encoder) is served by the same `jpegenc`.
//! * VP8/VP9: `vp8enc`/`vp9enc` with spice-server's "realtime profile"
//!   (`end-usage=cbr min-quantizer=10 error-resilient=default
//!   lag-in-frames=0 deadline=1`), raw frames (`video/x-vp8`, `video/x-vp9`
//!   profile 0), no frame lag.
//! * H.264: `x264enc` with `byte-stream=true aud=true tune=zerolatency
//!   speed-preset=ultrafast bframes=0`, caps
//!   `video/x-h264,stream-format=byte-stream,alignment=au,
//!   profile=constrained-baseline`: one Annex-B access unit per frame (AUD,
//!   then SPS/PPS before each IDR, then the slices), which is what spice-gtk's
//!   `h264parse ! avdec_h264` expects ("stream-format is byte-stream,
//!   hardcoded in spice-server").
//!
//! Every codec gets 4:2:0 input (`I420`): spice-server forces it for x264
//! (else it would pick Y444, the High 4:4:4 profile few decoders have).
//!
//! Sizes: every codec takes any width and height from 1 to 16383 except
//! H.264, whose 4:2:0 frames must have an even width and height:
//! [`VideoEncoder::new`] returns an error for odd H.264 sizes (see
//! [`VideoCodec::needs_even_size`]); the caller rounds its stream rectangle
//! down.

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use gst::prelude::*;
use gstreamer as gst;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;

/// Frames between two periodic keyframes (VP8, VP9, H.264).
pub const KEYFRAME_INTERVAL: u32 = 60;

/// How long `encode` waits for the encoder's output before it takes the frame
/// as dropped. Only reached when something is wrong: every encoder here
/// outputs one frame per input frame, synchronously.
const FRAME_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest width or height any of the encoders takes (libvpx's limit).
pub const MAX_SIZE: u32 = 16383;

/// A SPICE video codec.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VideoCodec {
    Mjpeg,
    Vp8,
    H264,
    Vp9,
}

impl VideoCodec {
    /// Every codec, in SPICE's numbering order.
    pub const ALL: [VideoCodec; 4] = [
        VideoCodec::Mjpeg,
        VideoCodec::Vp8,
        VideoCodec::H264,
        VideoCodec::Vp9,
    ];

    /// SpiceVideoCodecType (spice-protocol `enums.h`).
    pub fn spice_codec_type(self) -> u8 {
        match self {
            VideoCodec::Mjpeg => 1,
            VideoCodec::Vp8 => 2,
            VideoCodec::H264 => 3,
            VideoCodec::Vp9 => 4,
        }
    }

    /// The codec of a SpiceVideoCodecType; `None` for unknown ones (H.265 is
    /// 5, not supported here).
    pub fn from_spice(codec_type: u8) -> Option<Self> {
        VideoCodec::ALL
            .into_iter()
            .find(|c| c.spice_codec_type() == codec_type)
    }

    /// The display channel capability a client advertises when it decodes
    /// this codec (`SPICE_DISPLAY_CAP_CODEC_*`, spice-protocol `protocol.h`).
    pub fn client_cap(self) -> u32 {
        match self {
            VideoCodec::Mjpeg => 9,
            VideoCodec::Vp8 => 10,
            VideoCodec::H264 => 11,
            VideoCodec::Vp9 => 13,
        }
    }

    /// spice-server's name of the codec, as in `video-codecs`.
    pub fn name(self) -> &'static str {
        match self {
            VideoCodec::Mjpeg => "mjpeg",
            VideoCodec::Vp8 => "vp8",
            VideoCodec::H264 => "h264",
            VideoCodec::Vp9 => "vp9",
        }
    }

    /// The codec of a name from [`VideoCodec::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        VideoCodec::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name))
    }

    /// Whether the encoder only takes even widths and heights.
    pub fn needs_even_size(self) -> bool {
        self == VideoCodec::H264
    }

    /// The GStreamer encoder element.
    fn element(self) -> &'static str {
        match self {
            VideoCodec::Mjpeg => "jpegenc",
            VideoCodec::Vp8 => "vp8enc",
            VideoCodec::H264 => "x264enc",
            VideoCodec::Vp9 => "vp9enc",
        }
    }

    /// The caps of the encoded stream, as spice-gtk's decoder takes them.
    fn output_caps(self) -> &'static str {
        match self {
            VideoCodec::Mjpeg => "image/jpeg",
            VideoCodec::Vp8 => "video/x-vp8",
            VideoCodec::H264 => {
                "video/x-h264,stream-format=byte-stream,alignment=au,profile=constrained-baseline"
            }
            VideoCodec::Vp9 => "video/x-vp9",
        }
    }
}

impl std::fmt::Display for VideoCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// spice-server's default `video-codecs` (what "auto" means).
const AUTO_VIDEO_CODECS: &str =
    "spice:mjpeg;gstreamer:mjpeg;gstreamer:h264;gstreamer:vp8;gstreamer:vp9";

/// Logs `message` at warning level once per distinct `key` for the process.
fn warn_once(key: String, message: impl FnOnce() -> String) {
    static WARNED: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let set = WARNED.get_or_init(|| Mutex::new(HashSet::new()));
    let first = match set.lock() {
        Ok(mut set) => set.insert(key),
        Err(poisoned) => poisoned.into_inner().insert(key),
    };
    if first {
        glib::g_warning!("redspice", "{}", message());
    }
}

/// Parses spice-server's `video-codecs` syntax, `encoder:codec;encoder:codec`
/// (e.g. `gstreamer:h264;gstreamer:vp8;spice:mjpeg`; `auto` is
/// spice-server's default list). `gstreamer:` takes every codec, `spice:`
/// (spice-server's builtin encoder) only `mjpeg`. Unknown or malformed
/// entries are skipped with a warning (once per entry for the process).
/// The order is kept and duplicates dropped. Says nothing about whether
/// the codecs' plugins are installed: see [`available`].
pub fn parse_video_codecs(s: &str) -> Vec<VideoCodec> {
    let s = if s.trim() == "auto" {
        AUTO_VIDEO_CODECS
    } else {
        s
    };
    let mut codecs = Vec::new();
    for entry in s.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let codec = entry.split_once(':').and_then(|(encoder, codec)| {
            let codec = VideoCodec::from_name(codec.trim())?;
            match encoder.trim().to_ascii_lowercase().as_str() {
                "gstreamer" => Some(codec),
                "spice" if codec == VideoCodec::Mjpeg => Some(codec),
                _ => None,
            }
        });
        match codec {
            Some(c) if !codecs.contains(&c) => codecs.push(c),
            Some(_) => {}
            None => warn_once(format!("video-codecs:{entry}"), || {
                format!("video-codecs: ignoring unknown or unsupported encoder:codec \"{entry}\"")
            }),
        }
    }
    codecs
}

/// Initialises GStreamer once; the error, if any, is kept.
fn init() -> Result<(), String> {
    static INIT: OnceLock<Result<(), String>> = OnceLock::new();
    INIT.get_or_init(|| gst::init().map_err(|e| format!("cannot initialise GStreamer: {e}")))
        .clone()
}

/// Whether the GStreamer elements `codec` needs are installed. The answer is
/// computed once per codec; a missing plugin is logged once (warning).
pub fn available(codec: VideoCodec) -> bool {
    static AVAILABLE: [OnceLock<bool>; 4] = [
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
    ];
    let index = VideoCodec::ALL
        .iter()
        .position(|c| *c == codec)
        .unwrap_or(0);
    *AVAILABLE[index].get_or_init(|| {
        if let Err(e) = init() {
            warn_once("gst-init".into(), || {
                format!("video streaming disabled: {e}")
            });
            return false;
        }
        let missing: Vec<&str> = [
            "appsrc",
            "videoconvert",
            "capsfilter",
            "appsink",
            codec.element(),
        ]
        .into_iter()
        .filter(|name| gst::ElementFactory::find(name).is_none())
        .collect();
        if missing.is_empty() {
            true
        } else {
            warn_once(format!("missing:{}", codec.name()), || {
                format!(
                    "video codec {} disabled: GStreamer element(s) {} not installed",
                    codec.name(),
                    missing.join(", ")
                )
            });
            false
        }
    })
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
        .clamp(1, 4)
}

/// The bitrate used when the caller gives 0: a quarter bit per pixel for
/// the video codecs (1.7 Mbit/s at 640x360, 30 fps), 1 bit per pixel (about
/// JPEG quality 75 on typical pictures) for MJPEG.
fn default_bitrate(codec: VideoCodec, width: u32, height: u32, fps: u32) -> u64 {
    let pixels_per_second = width as u64 * height as u64 * fps as u64;
    match codec {
        VideoCodec::Mjpeg => pixels_per_second,
        _ => (pixels_per_second / 4).clamp(256_000, 20_000_000),
    }
}

/// A JPEG quality (10..=95) for a bitrate: bits per pixel mapped through
/// typical 4:2:0 JPEG sizes of natural images (quality 50 ≈ 0.7 bpp,
/// 75 ≈ 1 bpp, 90 ≈ 2 bpp), interpolated in log scale.
fn jpeg_quality(bitrate: u64, width: u32, height: u32, fps: u32) -> i32 {
    const TABLE: [(f64, f64); 6] = [
        (0.25, 10.0),
        (0.45, 25.0),
        (0.7, 50.0),
        (1.0, 75.0),
        (2.0, 90.0),
        (4.0, 95.0),
    ];
    let pixels = (width as f64 * height as f64 * fps.max(1) as f64).max(1.0);
    let bpp = (bitrate as f64 / pixels).max(1e-6).log2();
    let (first, last) = (TABLE[0], TABLE[TABLE.len() - 1]);
    if bpp <= first.0.log2() {
        return first.1 as i32;
    }
    if bpp >= last.0.log2() {
        return last.1 as i32;
    }
    for pair in TABLE.windows(2) {
        let (x0, y0) = (pair[0].0.log2(), pair[0].1);
        let (x1, y1) = (pair[1].0.log2(), pair[1].1);
        if bpp <= x1 {
            return (y0 + (y1 - y0) * (bpp - x0) / (x1 - x0)).round() as i32;
        }
    }
    last.1 as i32
}

/// A GStreamer pipeline encoding one stream's frames with one codec.
pub struct VideoEncoder {
    codec: VideoCodec,
    width: u32,
    height: u32,
    fps: u32,
    bitrate: u64,
    pipeline: gst::Pipeline,
    appsrc: gst_app::AppSrc,
    appsink: gst_app::AppSink,
    encoder: gst::Element,
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
}

/// Rate control for MJPEG, which has none of its own: jpegenc takes a
/// quality, and the bytes a quality gives depend on the picture (grain and
/// detail cost several times what smooth areas do). After each frame the
/// quality moves towards the one whose frames fit the bitrate; JPEG frames
/// do not depend on each other, so the next frame follows at once.
#[derive(Debug, Clone, PartialEq)]
struct JpegRate {
    quality: i32,
    /// Recent frame sizes in bits, smoothed; None after a change.
    average_bits: Option<f64>,
}

impl JpegRate {
    const MIN: i32 = 10;
    const MAX: i32 = 95;

    fn new(quality: i32) -> JpegRate {
        JpegRate {
            quality: quality.clamp(Self::MIN, Self::MAX),
            average_bits: None,
        }
    }

    /// Takes the size of the frame just encoded and the bits a frame may
    /// have; returns the quality for the next frames if it changes.
    fn frame_done(&mut self, frame_bytes: usize, target_bits: f64) -> Option<i32> {
        let bits = frame_bytes as f64 * 8.0;
        let average = match self.average_bits {
            Some(a) => a * 0.7 + bits * 0.3,
            None => bits,
        };
        self.average_bits = Some(average);
        let ratio = average / target_bits.max(1.0);
        // A band around the target keeps the quality from flickering.
        let step = if ratio > 2.0 {
            -8
        } else if ratio > 1.4 {
            -4
        } else if ratio > 1.15 {
            -2
        } else if ratio < 0.5 {
            4
        } else if ratio < 0.85 {
            2
        } else {
            0
        };
        let quality = (self.quality + step).clamp(Self::MIN, Self::MAX);
        if quality == self.quality {
            return None;
        }
        self.quality = quality;
        self.average_bits = None;
        Some(quality)
    }
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
    /// A running encoder for `width`×`height` frames (1..=16383; even for
    /// H.264) at about `fps_hint` frames per second (0 means 30), targeting
    /// `bitrate_bps` bits per second (0: a default for the size).
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
        if width == 0 || height == 0 || width > MAX_SIZE || height > MAX_SIZE {
            return Err(format!("cannot encode {width}x{height} frames"));
        }
        if codec.needs_even_size() && (!width.is_multiple_of(2) || !height.is_multiple_of(2)) {
            return Err(format!(
                "{} needs an even width and height, not {width}x{height}",
                codec.name()
            ));
        }
        let fps = if fps_hint == 0 { 30 } else { fps_hint.min(240) };
        let bitrate = if bitrate_bps == 0 {
            default_bitrate(codec, width, height, fps)
        } else {
            bitrate_bps
        };

        let input_caps = gst_video::VideoInfo::builder(gst_video::VideoFormat::Bgrx, width, height)
            .fps(gst::Fraction::new(fps as i32, 1))
            .build()
            .and_then(|info| info.to_caps())
            .map_err(|e| format!("bad input caps: {e}"))?;
        let appsrc = gst_app::AppSrc::builder()
            .name("src")
            .caps(&input_caps)
            .format(gst::Format::Time)
            .is_live(true)
            .stream_type(gst_app::AppStreamType::Stream)
            .build();
        let convert = make("videoconvert", "convert")?;
        let i420 = make("capsfilter", "i420")?;
        let encoder = make(codec.element(), "encoder")?;
        let outcaps = make("capsfilter", "outcaps")?;
        let output_caps = gst::Caps::from_str(codec.output_caps())
            .map_err(|e| format!("bad output caps: {e}"))?;
        outcaps.set_property("caps", &output_caps);
        let i420_caps = if codec == VideoCodec::Mjpeg {
            // JFIF is full-range BT.601: spice-gtk's libjpeg decoder reads it
            // so. videoconvert's default I420 is limited range, which jpegenc
            // would store as is (washed-out colours).
            gst::Caps::builder("video/x-raw")
                .field("format", "I420")
                .field("colorimetry", "1:4:0:0")
                .field("chroma-site", "jpeg")
                .build()
        } else {
            gst::Caps::builder("video/x-raw")
                .field("format", "I420")
                .build()
        };
        i420.set_property("caps", &i420_caps);
        let appsink = gst_app::AppSink::builder()
            .name("sink")
            .sync(false)
            .enable_last_sample(false)
            .build();

        let threads = encoder_threads().to_string();
        let keyframe_interval = KEYFRAME_INTERVAL.to_string();
        let mut props: Vec<(&str, &str)> = Vec::new();
        match codec {
            VideoCodec::Mjpeg => {}
            VideoCodec::Vp8 | VideoCodec::Vp9 => {
                // spice-server: "Profile Realtime", constant bitrate, no lag.
                props.extend([
                    ("end-usage", "cbr"),
                    ("min-quantizer", "10"),
                    ("error-resilient", "default"),
                    ("lag-in-frames", "0"),
                    ("deadline", "1"),
                    ("keyframe-max-dist", keyframe_interval.as_str()),
                    ("threads", threads.as_str()),
                ]);
                if codec == VideoCodec::Vp8 {
                    props.push((
                        "cpu-used",
                        if width * height >= 1280 * 720 {
                            "8"
                        } else {
                            "4"
                        },
                    ));
                } else {
                    props.extend([("cpu-used", "8"), ("row-mt", "true")]);
                }
            }
            VideoCodec::H264 => {
                props.extend([
                    ("byte-stream", "true"),
                    ("aud", "true"),
                    ("tune", "zerolatency"),
                    ("speed-preset", "ultrafast"),
                    ("bframes", "0"),
                    ("key-int-max", keyframe_interval.as_str()),
                    ("threads", "0"),
                ]);
            }
        }
        for (name, value) in props {
            set_prop(&encoder, name, value)?;
        }
        if width * height >= 1280 * 720 {
            // BGRx → I420 is a noticeable share of a big frame's time.
            let _ = set_prop(&convert, "n-threads", &threads);
        }

        let pipeline = gst::Pipeline::with_name(&format!("redspice-{}-encoder", codec.name()));
        let src_element = appsrc.upcast_ref::<gst::Element>();
        let sink_element = appsink.upcast_ref::<gst::Element>();
        pipeline
            .add_many([
                src_element,
                &convert,
                &i420,
                &encoder,
                &outcaps,
                sink_element,
            ])
            .map_err(|e| format!("cannot build the {} pipeline: {e}", codec.name()))?;
        gst::Element::link_many([
            src_element,
            &convert,
            &i420,
            &encoder,
            &outcaps,
            sink_element,
        ])
        .map_err(|e| format!("cannot link the {} pipeline: {e}", codec.name()))?;

        let this = VideoEncoder {
            codec,
            width,
            height,
            fps,
            bitrate,
            pipeline,
            appsrc,
            appsink,
            encoder,
            first_timestamp_ms: None,
            last_pts: None,
            failed: None,
            frames_encoded: 0,
            last_keyframe: false,
            encode_time: Duration::ZERO,
            last_encode_time: Duration::ZERO,
            jpeg_rate: JpegRate::new(jpeg_quality(bitrate, width, height, fps)),
        };
        this.apply_bitrate();
        if let Err(e) = this.pipeline.set_state(gst::State::Playing) {
            let detail = this.bus_error().unwrap_or_else(|| e.to_string());
            return Err(format!(
                "cannot start the {} encoder: {detail}",
                codec.name()
            ));
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

    fn apply_bitrate(&self) {
        let result = match self.codec {
            VideoCodec::Mjpeg => set_prop(
                &self.encoder,
                "quality",
                &self.jpeg_rate.quality.to_string(),
            ),
            VideoCodec::Vp8 | VideoCodec::Vp9 => {
                let bps = self.bitrate.clamp(1000, i32::MAX as u64);
                set_prop(&self.encoder, "target-bitrate", &bps.to_string())
            }
            VideoCodec::H264 => {
                let kbps = (self.bitrate / 1000).clamp(1, 2_048_000);
                set_prop(&self.encoder, "bitrate", &kbps.to_string())
            }
        };
        if let Err(e) = result {
            glib::g_warning!(
                "redspice",
                "cannot set the {} bitrate: {e}",
                self.codec.name()
            );
        }
    }

    /// The next frame will be a keyframe.
    pub fn request_keyframe(&mut self) {
        if self.codec == VideoCodec::Mjpeg {
            return;
        }
        let event = gst_video::UpstreamForceKeyUnitEvent::builder()
            .all_headers(true)
            .build();
        if let Some(pad) = self.encoder.static_pad("src") {
            // Handled synchronously by the encoder, which is idle between
            // two encode() calls: the next frame is the keyframe.
            pad.send_event(event);
        }
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

        let mut buffer =
            gst::Buffer::with_size(row * h).map_err(|e| format!("cannot allocate a frame: {e}"))?;
        {
            let first = *self.first_timestamp_ms.get_or_insert(timestamp_ms);
            let mut pts = gst::ClockTime::from_mseconds(timestamp_ms.saturating_sub(first));
            if let Some(last) = self.last_pts {
                if pts <= last {
                    // Timestamps must grow: 1 ms after the last frame.
                    pts = last + gst::ClockTime::from_mseconds(1);
                }
            }
            self.last_pts = Some(pts);
            let buffer = buffer
                .get_mut()
                .ok_or_else(|| "new buffer is not writable".to_string())?;
            buffer.set_pts(pts);
            buffer.set_duration(gst::ClockTime::from_nseconds(
                1_000_000_000 / self.fps as u64,
            ));
            let mut map = buffer
                .map_writable()
                .map_err(|e| format!("cannot map a frame: {e}"))?;
            if stride == row {
                map.copy_from_slice(&bgrx[..row * h]);
            } else {
                for (y, dest) in map.chunks_exact_mut(row).enumerate() {
                    dest.copy_from_slice(&bgrx[y * stride..y * stride + row]);
                }
            }
        }

        // A frame that came out late for an earlier call is stale now.
        while self.appsink.try_pull_sample(gst::ClockTime::ZERO).is_some() {}

        if let Err(flow) = self.appsrc.push_buffer(buffer) {
            let detail = self.bus_error().unwrap_or_else(|| format!("{flow:?}"));
            return Err(self.fail(format!("{} encoder: {detail}", self.codec.name())));
        }

        let deadline = Instant::now() + FRAME_TIMEOUT;
        loop {
            if let Some(sample) = self
                .appsink
                .try_pull_sample(gst::ClockTime::from_mseconds(100))
            {
                let buffer = sample.buffer().ok_or_else(|| {
                    format!(
                        "{} encoder gave a sample without a buffer",
                        self.codec.name()
                    )
                })?;
                let map = buffer
                    .map_readable()
                    .map_err(|e| format!("cannot read an encoded frame: {e}"))?;
                self.frames_encoded += 1;
                self.last_keyframe = !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT);
                let frame = map.as_slice().to_vec();
                if self.codec == VideoCodec::Mjpeg {
                    let target_bits = self.bitrate as f64 / f64::from(self.fps.max(1));
                    if self
                        .jpeg_rate
                        .frame_done(frame.len(), target_bits)
                        .is_some()
                    {
                        // jpegenc takes a new quality between two frames
                        self.apply_bitrate();
                    }
                }
                return Ok(Some(frame));
            }
            if let Some(e) = self.bus_error() {
                return Err(self.fail(format!("{} encoder: {e}", self.codec.name())));
            }
            if self.appsink.is_eos() {
                return Err(self.fail(format!("{} encoder: end of stream", self.codec.name())));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
        }
    }
}

impl Drop for VideoEncoder {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codec_ok(codec: VideoCodec) -> bool {
        if available(codec) {
            true
        } else {
            println!(
                "skipping {}: its GStreamer encoder is not installed",
                codec.name()
            );
            false
        }
    }

    /// Whether the decoder spice-gtk would use for `codec` is installed.
    fn can_decode(codec: VideoCodec) -> bool {
        let elements: &[&str] = match codec {
            VideoCodec::Mjpeg => &["jpegdec"],
            VideoCodec::Vp8 => &["vp8dec"],
            VideoCodec::H264 => &["h264parse", "avdec_h264"],
            VideoCodec::Vp9 => &["vp9dec"],
        };
        let ok = elements
            .iter()
            .all(|e| gst::ElementFactory::find(e).is_some());
        if !ok {
            println!(
                "not decoding {}: {elements:?} not all installed",
                codec.name()
            );
        }
        ok
    }

    /// A moving test pattern: gradients, a moving square, and optional noise.
    fn pattern(width: usize, height: usize, frame: usize, noise: bool) -> Vec<u8> {
        let mut pixels = vec![0u8; width * height * 4];
        let square = 48.min(width / 2).min(height / 2);
        let sx = (frame * 8) % (width - square);
        let sy = (frame * 5) % (height - square);
        let mut seed = 0x1234_5678u32.wrapping_add(frame as u32 * 7919);
        for y in 0..height {
            for x in 0..width {
                let p = &mut pixels[(y * width + x) * 4..][..4];
                let (mut b, mut g, mut r) = (
                    (x * 255 / width) as u8,
                    (y * 255 / height) as u8,
                    (((x + y + frame * 4) * 255) / (width + height)) as u8,
                );
                if (sx..sx + square).contains(&x) && (sy..sy + square).contains(&y) {
                    (b, g, r) = (40, 200, 240);
                }
                if noise {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    let n = (seed & 0x3f) as u8;
                    (b, g, r) = (b.wrapping_add(n), g.wrapping_add(n / 2), r.wrapping_sub(n));
                }
                p.copy_from_slice(&[b, g, r, 0xff]);
            }
        }
        pixels
    }

    /// Decodes `frames` the way spice-gtk does; returns BGRx frames.
    fn decode(codec: VideoCodec, frames: &[Vec<u8>]) -> Result<Vec<(u32, u32, Vec<u8>)>, String> {
        let (caps, decoder) = match codec {
            VideoCodec::Mjpeg => ("image/jpeg", "jpegdec"),
            VideoCodec::Vp8 => ("video/x-vp8", "vp8dec"),
            VideoCodec::H264 => (
                "video/x-h264,stream-format=byte-stream",
                "h264parse ! avdec_h264",
            ),
            VideoCodec::Vp9 => ("video/x-vp9", "vp9dec"),
        };
        let desc = format!(
            "appsrc name=src is-live=true format=time caps={caps} ! {decoder} ! videoconvert ! \
             appsink name=sink caps=video/x-raw,format=BGRx sync=false"
        );
        let pipeline = gst::parse::launch(&desc)
            .map_err(|e| format!("{desc}: {e}"))?
            .downcast::<gst::Pipeline>()
            .map_err(|_| "not a pipeline".to_string())?;
        let src = pipeline
            .by_name("src")
            .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
            .ok_or("no appsrc")?;
        let sink = pipeline
            .by_name("sink")
            .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
            .ok_or("no appsink")?;
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| e.to_string())?;
        for (i, data) in frames.iter().enumerate() {
            let mut buffer = gst::Buffer::from_slice(data.clone());
            buffer
                .get_mut()
                .ok_or("buffer")?
                .set_pts(gst::ClockTime::from_mseconds(i as u64 * 33));
            src.push_buffer(buffer).map_err(|e| format!("{e:?}"))?;
        }
        src.end_of_stream().map_err(|e| format!("{e:?}"))?;
        let mut out = Vec::new();
        while let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_seconds(5)) {
            let caps = sample.caps().ok_or("no caps")?;
            let info = gst_video::VideoInfo::from_caps(caps).map_err(|e| e.to_string())?;
            let buffer = sample.buffer().ok_or("no buffer")?;
            let map = buffer.map_readable().map_err(|e| e.to_string())?;
            let stride = info.stride()[0] as usize;
            let row = info.width() as usize * 4;
            let mut pixels = Vec::with_capacity(row * info.height() as usize);
            for y in 0..info.height() as usize {
                pixels.extend_from_slice(&map[y * stride..y * stride + row]);
            }
            out.push((info.width(), info.height(), pixels));
        }
        if let Some(msg) = pipeline
            .bus()
            .and_then(|b| b.pop_filtered(&[gst::MessageType::Error]))
        {
            return Err(format!("decoder error: {msg:?}"));
        }
        let _ = pipeline.set_state(gst::State::Null);
        Ok(out)
    }

    /// PSNR over B, G and R.
    fn psnr(a: &[u8], b: &[u8]) -> f64 {
        let mut sum = 0f64;
        let mut n = 0usize;
        for (pa, pb) in a.chunks_exact(4).zip(b.chunks_exact(4)) {
            for c in 0..3 {
                let d = pa[c] as f64 - pb[c] as f64;
                sum += d * d;
                n += 1;
            }
        }
        let mse = sum / n as f64;
        if mse == 0.0 {
            99.0
        } else {
            10.0 * (255.0 * 255.0 / mse).log10()
        }
    }

    fn is_keyframe(codec: VideoCodec, frame: &[u8]) -> bool {
        match codec {
            VideoCodec::Mjpeg => frame.starts_with(&[0xff, 0xd8]),
            // Frame tag bit 0 is 0 on keyframes, then the start code 9d 01 2a.
            VideoCodec::Vp8 => {
                frame.len() > 6 && frame[0] & 1 == 0 && frame[3..6] == [0x9d, 0x01, 0x2a]
            }
            // Profile 0: frame_marker 10, profile 00, show_existing 0,
            // frame_type 0 (key).
            VideoCodec::Vp9 => frame.first().is_some_and(|b| b & 0xfc == 0x80),
            VideoCodec::H264 => h264_nal_types(frame).contains(&5),
        }
    }

    /// The NAL unit types of an Annex-B byte stream.
    fn h264_nal_types(data: &[u8]) -> Vec<u8> {
        let mut types = Vec::new();
        let mut i = 0;
        while i + 3 < data.len() {
            if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
                types.push(data[i + 3] & 0x1f);
                i += 3;
            } else {
                i += 1;
            }
        }
        types
    }

    fn roundtrip(codec: VideoCodec) {
        if !codec_ok(codec) {
            return;
        }
        let (w, h) = (320usize, 240usize);
        let mut encoder =
            VideoEncoder::new(codec, w as u32, h as u32, 30, 4_000_000).expect("encoder");
        assert_eq!(
            (encoder.codec(), encoder.width(), encoder.height()),
            (codec, 320, 240)
        );
        let mut inputs = Vec::new();
        let mut outputs = Vec::new();
        for i in 0..10 {
            let frame = pattern(w, h, i, false);
            let out = encoder
                .encode(&frame, w * 4, 1000 + i as u64 * 33)
                .expect("encode")
                .unwrap_or_else(|| panic!("{codec}: frame {i} gave no output (latency)"));
            assert!(!out.is_empty());
            if i == 0 {
                assert!(
                    encoder.last_was_keyframe(),
                    "{codec}: first frame not flagged as keyframe"
                );
            }
            inputs.push(frame);
            outputs.push(out);
        }
        assert_eq!(encoder.frames_encoded(), 10);
        assert!(encoder.encode_time() > Duration::ZERO);
        assert!(
            is_keyframe(codec, &outputs[0]),
            "{codec}: first frame is not a keyframe"
        );
        if codec == VideoCodec::H264 {
            let types = h264_nal_types(&outputs[0]);
            assert_eq!(
                types.first(),
                Some(&9),
                "H.264 AU starts with an AUD: {types:?}"
            );
            assert!(
                types.contains(&7) && types.contains(&8),
                "SPS/PPS before the IDR: {types:?}"
            );
            // The SPS: profile_idc 66 (baseline) with constraint_set1
            // (constrained baseline).
            let sps = outputs[0]
                .windows(4)
                .position(|w| w[..3] == [0, 0, 1] && w[3] & 0x1f == 7)
                .map(|i| &outputs[0][i + 4..])
                .expect("SPS");
            assert_eq!(sps[0], 66, "profile_idc");
            assert_ne!(sps[1] & 0x40, 0, "constraint_set1_flag");
            assert!(
                !is_keyframe(codec, &outputs[1]),
                "H.264 frame 1 should be a P frame"
            );
        }
        if matches!(codec, VideoCodec::Vp8 | VideoCodec::Vp9) {
            assert!(
                !is_keyframe(codec, &outputs[1]),
                "{codec} frame 1 should be an inter frame"
            );
        }

        if !can_decode(codec) {
            return;
        }
        let decoded = decode(codec, &outputs).expect("decode");
        assert_eq!(decoded.len(), 10, "{codec}: decoded frame count");
        for (dw, dh, _) in &decoded {
            assert_eq!((*dw, *dh), (w as u32, h as u32));
        }
        let last = psnr(&decoded[9].2, &inputs[9]);
        println!(
            "{codec}: {} bytes for 10 frames, last PSNR {last:.1} dB, {:?}/frame",
            outputs.iter().map(|o| o.len()).sum::<usize>(),
            encoder.encode_time() / 10
        );
        assert!(last >= 30.0, "{codec}: PSNR {last:.1} dB < 30");
    }

    #[test]
    fn roundtrip_mjpeg() {
        roundtrip(VideoCodec::Mjpeg);
    }

    #[test]
    fn roundtrip_vp8() {
        roundtrip(VideoCodec::Vp8);
    }

    #[test]
    fn roundtrip_h264() {
        roundtrip(VideoCodec::H264);
    }

    #[test]
    fn roundtrip_vp9() {
        roundtrip(VideoCodec::Vp9);
    }

    #[test]
    fn keyframe_on_demand() {
        for codec in [VideoCodec::Vp8, VideoCodec::H264, VideoCodec::Vp9] {
            if !codec_ok(codec) {
                continue;
            }
            let mut encoder = VideoEncoder::new(codec, 160, 120, 30, 1_000_000).expect("encoder");
            let mut keys = Vec::new();
            for i in 0..6 {
                if i == 4 {
                    encoder.request_keyframe();
                }
                let out = encoder
                    .encode(&pattern(160, 120, i, false), 160 * 4, i as u64 * 33)
                    .unwrap()
                    .unwrap();
                keys.push(is_keyframe(codec, &out));
                assert_eq!(
                    keys[i],
                    encoder.last_was_keyframe(),
                    "{codec} frame {i}: flag vs bitstream"
                );
            }
            assert_eq!(keys, [true, false, false, false, true, false], "{codec}");
        }
    }

    #[test]
    fn bitrate_changes_size() {
        for codec in VideoCodec::ALL {
            if !codec_ok(codec) {
                continue;
            }
            let (w, h) = (320usize, 240usize);
            let mut encoder =
                VideoEncoder::new(codec, w as u32, h as u32, 30, 8_000_000).expect("encoder");
            let mut sizes = [0usize; 2];
            for (phase, bps) in [8_000_000u64, 200_000].into_iter().enumerate() {
                encoder.set_bitrate(bps);
                assert_eq!(encoder.bitrate(), bps);
                for i in 0..8 {
                    let n = phase * 8 + i;
                    let out = encoder
                        .encode(&pattern(w, h, n, true), w * 4, n as u64 * 33)
                        .unwrap()
                        .unwrap();
                    // Let the rate control settle for a few frames.
                    if i >= 4 {
                        sizes[phase] += out.len();
                    }
                }
            }
            println!(
                "{codec}: 4 frames at 8 Mbit/s: {} bytes, at 200 kbit/s: {} bytes",
                sizes[0], sizes[1]
            );
            assert!(sizes[1] * 2 < sizes[0], "{codec}: {sizes:?}");
        }
    }

    #[test]
    fn stride_and_sizes() {
        // A padded stride and an odd size (not for H.264).
        for codec in [VideoCodec::Mjpeg, VideoCodec::Vp8, VideoCodec::Vp9] {
            if !codec_ok(codec) {
                continue;
            }
            let (w, h, stride) = (101usize, 51usize, 128 * 4);
            let mut encoder = VideoEncoder::new(codec, w as u32, h as u32, 0, 0).expect("encoder");
            let pixels = pattern(128, h, 0, false);
            let out = encoder
                .encode(&pixels, stride, 0)
                .expect("encode")
                .expect("frame");
            assert!(encoder
                .encode(&pixels[..stride * (h - 1)], stride, 1)
                .is_err());
            if !can_decode(codec) {
                continue;
            }
            let decoded = decode(codec, &[out]).expect("decode");
            assert_eq!(
                (decoded[0].0, decoded[0].1),
                (w as u32, h as u32),
                "{codec}"
            );
            // The decoded frame matches the visible part of the input.
            let visible: Vec<u8> = (0..h)
                .flat_map(|y| pixels[y * stride..y * stride + w * 4].to_vec())
                .collect();
            let p = psnr(&decoded[0].2, &visible);
            assert!(p > 25.0, "{codec}: PSNR {p:.1}");
        }
        if available(VideoCodec::H264) {
            assert!(VideoEncoder::new(VideoCodec::H264, 101, 50, 30, 0).is_err());
            assert!(VideoEncoder::new(VideoCodec::H264, 100, 51, 30, 0).is_err());
            assert!(VideoEncoder::new(VideoCodec::H264, 100, 50, 30, 0).is_ok());
        }
        assert!(VideoEncoder::new(VideoCodec::Mjpeg, 0, 10, 30, 0).is_err());
        assert!(VideoEncoder::new(VideoCodec::Mjpeg, 20000, 10, 30, 0).is_err());
    }

    #[test]
    fn encoder_is_send() {
        fn send<T: Send>() {}
        send::<VideoEncoder>();
    }

    #[test]
    fn codec_numbers() {
        for (codec, t, cap, name) in [
            (VideoCodec::Mjpeg, 1, 9, "mjpeg"),
            (VideoCodec::Vp8, 2, 10, "vp8"),
            (VideoCodec::H264, 3, 11, "h264"),
            (VideoCodec::Vp9, 4, 13, "vp9"),
        ] {
            assert_eq!(codec.spice_codec_type(), t);
            assert_eq!(VideoCodec::from_spice(t), Some(codec));
            assert_eq!(codec.client_cap(), cap);
            assert_eq!(codec.name(), name);
        }
        assert_eq!(VideoCodec::from_spice(0), None);
        assert_eq!(VideoCodec::from_spice(5), None);
    }

    #[test]
    fn parse() {
        use VideoCodec::*;
        assert_eq!(
            parse_video_codecs("gstreamer:h264;gstreamer:vp8;spice:mjpeg"),
            [H264, Vp8, Mjpeg]
        );
        assert_eq!(
            parse_video_codecs("gstreamer:mjpeg;gstreamer:vp8;gstreamer:h264;gstreamer:vp9"),
            [Mjpeg, Vp8, H264, Vp9]
        );
        assert_eq!(
            parse_video_codecs("spice:mjpeg;gstreamer:mjpeg;gstreamer:vp9"),
            [Mjpeg, Vp9]
        );
        assert_eq!(parse_video_codecs("spice:vp8;gstreamer:vp8"), [Vp8]);
        assert_eq!(
            parse_video_codecs("gstreamer:h265;foo:vp8;gstreamer;h264;gstreamer:vp9;"),
            [Vp9]
        );
        assert_eq!(parse_video_codecs(";;gstreamer:vp8;;"), [Vp8]);
        assert_eq!(parse_video_codecs(" gstreamer:vp9 ; gstreamer:vp9 "), [Vp9]);
        assert_eq!(parse_video_codecs(""), []);
        assert_eq!(parse_video_codecs("auto"), [Mjpeg, H264, Vp8, Vp9]);
    }

    #[test]
    fn jpeg_rate_steers_the_quality_to_the_target() {
        let mut rate = JpegRate::new(75);
        // frames three times too large: big steps down
        assert_eq!(rate.frame_done(3000, 8000.0), Some(67));
        // within 15 % of the target: no change
        assert_eq!(rate.frame_done(1050, 8000.0), None);
        assert_eq!(rate.quality, 67);
        // far too small: up, never past the maximum
        let mut rate = JpegRate::new(94);
        assert_eq!(rate.frame_done(100, 8000.0), Some(95));
        assert_eq!(rate.frame_done(100, 8000.0), None);
        // never below the minimum
        let mut rate = JpegRate::new(12);
        assert_eq!(rate.frame_done(100_000, 8000.0), Some(10));
        assert_eq!(rate.frame_done(100_000, 8000.0), None);
    }

    #[test]
    fn jpeg_rate_converges_on_a_size_model() {
        // a picture whose frames grow with the quality like real JPEGs do
        let size = |q: i32| (200.0 * 1.05f64.powi(q)) as usize;
        let target = 8.0 * size(60) as f64;
        let mut rate = JpegRate::new(90);
        for _ in 0..40 {
            rate.frame_done(size(rate.quality), target);
        }
        assert!(
            (55..=65).contains(&rate.quality),
            "quality {}",
            rate.quality
        );
    }

    #[test]
    fn jpeg_quality_curve() {
        assert_eq!(jpeg_quality(0, 100, 100, 30), 10);
        assert_eq!(jpeg_quality(300_000, 100, 100, 30), 75);
        assert_eq!(jpeg_quality(u64::MAX, 100, 100, 30), 95);
        let mut last = 0;
        for bps in (1..100).map(|i| i * 100_000u64) {
            let q = jpeg_quality(bps, 320, 240, 30);
            assert!(q >= last);
            last = q;
        }
    }

    /// Encode times for the report: `cargo test -- --ignored --nocapture bench`.
    /// Smooth content (gradients and a moving square) and noisy content (the
    /// same plus per-pixel noise: a worst case).
    #[test]
    #[ignore]
    fn bench() {
        for (w, h) in [(640usize, 360usize), (1920, 1080)] {
            for noise in [false, true] {
                let frames: Vec<Vec<u8>> = (0..10).map(|i| pattern(w, h, i, noise)).collect();
                for codec in VideoCodec::ALL {
                    if !codec_ok(codec) || !can_decode(codec) {
                        continue;
                    }
                    let bitrate = (w * h * 30 / 5) as u64;
                    let mut encoder =
                        VideoEncoder::new(codec, w as u32, h as u32, 30, bitrate).expect("encoder");
                    let mut outputs = Vec::new();
                    for i in 0..30 {
                        outputs.push(
                            encoder
                                .encode(&frames[i % 10], w * 4, i as u64 * 33)
                                .unwrap()
                                .unwrap(),
                        );
                    }
                    let bytes: usize = outputs.iter().map(|o| o.len()).sum();
                    let decoded = decode(codec, &outputs).expect("decode");
                    let p = psnr(&decoded[29].2, &frames[9]);
                    println!(
                        "{codec} {w}x{h} {} @ {} kbit/s: {:.1} ms/frame, {} bytes/frame, PSNR {p:.1} dB",
                        if noise { "noisy" } else { "smooth" },
                        bitrate / 1000,
                        encoder.encode_time().as_secs_f64() * 1000.0 / 30.0,
                        bytes / 30
                    );
                }
            }
        }
    }
}
