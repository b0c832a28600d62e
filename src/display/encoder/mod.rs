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
//! * MJPEG: no pipeline: libjpeg-turbo (the `turbojpeg` crate) compresses
//!   the x8r8g8b8 pixels in place, one complete baseline 4:2:0 JPEG per
//!   frame (`image/jpeg`), as spice-server's builtin MJPEG encoder does
//!   with libjpeg; the quality starts from the bitrate and is steered after
//!   every frame until frames meet it (`JpegRate`). spice-gtk decodes MJPEG
//!   with its own libjpeg decoder. `spice:mjpeg` in `video-codecs` is
//!   served by the same encoder. (`jpegenc` still decides whether MJPEG is
//!   `available`: a GStreamer without it is a broken install.)
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
//! Every GStreamer codec gets 4:2:0 input (`I420`): spice-server forces it for x264
//! (else it would pick Y444, the High 4:4:4 profile few decoders have).
//!
//! Sizes: every codec takes any width and height from 1 to
//! [`MAX_FRAME_DIMENSION`] except H.264, whose 4:2:0 frames must have an
//! even width and height:
//! [`VideoEncoder::new`] returns an error for odd H.264 sizes (see
//! [`VideoCodec::needs_even_size`]); the caller rounds its stream rectangle
//! down.
//!
//! `codec` holds the codec table and the `video-codecs` syntax, `rate` the
//! rate models, `pipeline` the GStreamer pipeline and the frames through it.

mod codec;
mod pipeline;
mod rate;
mod scale;
#[cfg(test)]
mod tests;

pub use codec::{available, parse_video_codecs, VideoCodec, MAX_FRAME_DIMENSION};
pub use pipeline::{VideoEncoder, KEYFRAME_INTERVAL};
