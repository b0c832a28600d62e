//! End-to-end tests: frames through each codec's pipeline and back through
//! the decoder spice-gtk would use. Codecs or decoders not installed are
//! skipped.

use std::time::Duration;

use gst::prelude::*;
use gstreamer as gst;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;

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
    let mut encoder = VideoEncoder::new(codec, w as u32, h as u32, 30, 4_000_000).expect("encoder");
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

/// JPEG width and height from the SOF0 marker.
fn jpeg_size(data: &[u8]) -> (u32, u32) {
    let sof = data
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("SOF0");
    let be = |i: usize| u32::from(data[i]) << 8 | u32::from(data[i + 1]);
    (be(sof + 7), be(sof + 5))
}

#[test]
fn mjpeg_halves_its_frames_when_starved_and_comes_back() {
    let (w, h) = (320usize, 240usize);
    // 0.09 bit per pixel: less than quality 10 takes at full size.
    let starved = 200_000u64;
    let mut encoder =
        VideoEncoder::new(VideoCodec::Mjpeg, w as u32, h as u32, 30, 8_000_000).expect("encoder");
    encoder.set_bitrate(starved);
    let mut n = 0u64;
    let mut frame = |encoder: &mut VideoEncoder| {
        n += 1;
        let out = encoder
            .encode(&pattern(w, h, n as usize, true), w * 4, n * 33)
            .unwrap()
            .unwrap();
        assert_eq!(jpeg_size(&out), encoder.last_frame_size());
        out
    };
    let first = (0..40)
        .map(|_| jpeg_size(&frame(&mut encoder)))
        .position(|size| size != (w as u32, h as u32))
        .expect("halved within 40 frames");
    assert!(first >= 10, "halved after {first} frames");
    assert_eq!(encoder.last_frame_size(), (160, 120));
    // Half-size frames meet the bitrate.
    let sizes: Vec<usize> = (0..10).map(|_| frame(&mut encoder).len()).collect();
    let budget = starved as usize / 30 / 8;
    assert!(
        sizes[5..].iter().all(|s| *s < budget * 3 / 2),
        "{sizes:?} for {budget}"
    );
    // A client that cannot take them gets full-size frames meanwhile.
    encoder.set_may_halve(false);
    frame(&mut encoder);
    assert_eq!(encoder.last_frame_size(), (w as u32, h as u32));
    encoder.set_may_halve(true);
    frame(&mut encoder);
    assert_eq!(encoder.last_frame_size(), (160, 120));
    // Plenty of bits: back to full size.
    encoder.set_bitrate(8_000_000);
    let back = (0..60)
        .map(|_| jpeg_size(&frame(&mut encoder)))
        .position(|size| size == (w as u32, h as u32));
    assert!(back.is_some(), "still at half size");
    // The GStreamer codecs keep their size.
    if codec_ok(VideoCodec::Vp8) {
        let mut vp8 =
            VideoEncoder::new(VideoCodec::Vp8, w as u32, h as u32, 30, 100_000).expect("encoder");
        for n in 0..20 {
            vp8.encode(&pattern(w, h, n, true), w * 4, n as u64 * 33)
                .unwrap();
            assert_eq!(vp8.last_frame_size(), (w as u32, h as u32));
        }
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
