//! The codec table (SPICE numbers, client capabilities, spice-server names,
//! GStreamer elements), the `video-codecs` syntax, and which codecs this
//! machine's GStreamer can encode.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use gstreamer as gst;

use super::pipeline::{init, PIPELINE_ELEMENTS};
use crate::protocol::constants::{cap, video_codec};

/// The largest frame width or height every encoder here takes: libvpx's
/// limit (VP8 and VP9 store sizes in 14 bits). It is one less than a
/// display's [`crate::display::MAX_SIZE`] because it comes from the codecs,
/// not from SPICE: a stream as wide as the largest display cannot be
/// encoded, and its client gets images instead.
pub const MAX_FRAME_DIMENSION: u32 = 16383;

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
            VideoCodec::Mjpeg => video_codec::MJPEG,
            VideoCodec::Vp8 => video_codec::VP8,
            VideoCodec::H264 => video_codec::H264,
            VideoCodec::Vp9 => video_codec::VP9,
        }
    }

    /// The codec of a SpiceVideoCodecType; `None` for unknown ones (H.265 is
    /// not supported here).
    pub fn from_spice(codec_type: u8) -> Option<Self> {
        VideoCodec::ALL
            .into_iter()
            .find(|c| c.spice_codec_type() == codec_type)
    }

    /// The display channel capability a client advertises when it decodes
    /// this codec (`SPICE_DISPLAY_CAP_CODEC_*`, spice-protocol `protocol.h`).
    pub fn client_cap(self) -> u32 {
        match self {
            VideoCodec::Mjpeg => cap::display::CODEC_MJPEG,
            VideoCodec::Vp8 => cap::display::CODEC_VP8,
            VideoCodec::H264 => cap::display::CODEC_H264,
            VideoCodec::Vp9 => cap::display::CODEC_VP9,
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
    pub(super) fn element(self) -> &'static str {
        match self {
            VideoCodec::Mjpeg => "jpegenc",
            VideoCodec::Vp8 => "vp8enc",
            VideoCodec::H264 => "x264enc",
            VideoCodec::Vp9 => "vp9enc",
        }
    }

    /// The caps of the encoded stream, as spice-gtk's decoder takes them.
    pub(super) fn output_caps(self) -> &'static str {
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

/// Whether `key` is seen for the first time in the process: the same bad
/// setting or missing plugin is met at every connection, and is worth one
/// warning.
fn first_time(key: String) -> bool {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let set = SEEN.get_or_init(|| Mutex::new(HashSet::new()));
    crate::base::sync::lock(set).insert(key)
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
        match parse_entry(entry) {
            Some(c) if !codecs.contains(&c) => codecs.push(c),
            Some(_) => {}
            None => {
                if first_time(format!("video-codecs:{entry}")) {
                    red_warning!(
                        "video-codecs: ignoring unknown or unsupported encoder:codec \"{entry}\""
                    );
                }
            }
        }
    }
    codecs
}

/// The codec of one `encoder:codec` entry, if this server has that encoder.
fn parse_entry(entry: &str) -> Option<VideoCodec> {
    let (encoder, codec) = entry.split_once(':')?;
    let codec = VideoCodec::from_name(codec.trim())?;
    match encoder.trim().to_ascii_lowercase().as_str() {
        "gstreamer" => Some(codec),
        "spice" if codec == VideoCodec::Mjpeg => Some(codec),
        _ => None,
    }
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
            if first_time("gst-init".into()) {
                red_warning!("video streaming disabled: {e}");
            }
            return false;
        }
        let missing: Vec<&str> = PIPELINE_ELEMENTS
            .into_iter()
            .chain([codec.element()])
            .filter(|name| gst::ElementFactory::find(name).is_none())
            .collect();
        if missing.is_empty() {
            true
        } else {
            if first_time(format!("missing:{}", codec.name())) {
                red_warning!(
                    "video codec {} disabled: GStreamer element(s) {} not installed",
                    codec.name(),
                    missing.join(", ")
                );
            }
            false
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
