//! `redspicesink`: see `imp.rs` for how it works.

/**
 * element-redspicesink:
 *
 * A video sink that serves its input as a SPICE display: SPICE clients
 * (remote-viewer, GNOME Boxes, spice-gtk, spice-html5) see every frame,
 * and their keyboard and mouse go upstream as GstNavigation events
 * (key-press and key-release with X key names of a US layout, such as
 * "a", "Return" or "Right"; mouse-move; mouse-button-press and
 * mouse-button-release, buttons 1 to 3; mouse-scroll for the wheel).
 *
 * It takes BGRx and BGRA (xRGB and ARGB on big-endian machines), redspice's
 * own pixel layout, at any size up to 16384×16384; put `videoconvert` in
 * front for anything else. A caps change resizes the display, and clients
 * with it.
 *
 * By default the sink makes its own RedServer, configured by
 * #GstRedSpiceSink:port, #GstRedSpiceSink:address, #GstRedSpiceSink:password,
 * #GstRedSpiceSink:image-compression and #GstRedSpiceSink:streaming-video,
 * and runs it on a thread of its own: it listens from the READY to PAUSED
 * change until the PAUSED to READY one, and a failure to listen (a port in
 * use) is an element error. An application that has a RedServer of its own sets
 * #GstRedSpiceSink:server instead: the sink adds a display to it at the
 * first frame, on the server's main context, which the application runs.
 *
 * Frames are drawn whole; a frame the server's thread has not taken yet
 * when the next arrives is replaced by it, so the sink never waits.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 videotestsrc ! videoconvert ! redspicesink port=5930
 * gst-launch-1.0 filesrc location=film.webm ! decodebin ! videoconvert ! redspicesink password=secret
 * ]|
 * Then `remote-viewer spice://127.0.0.1:5930`.
 */
/**
 * GstRedSpiceSink:port:
 *
 * The TCP port the sink's own server listens on; 0 picks a free one, which
 * this property reports while the sink runs (as RedServer:port does).
 * Default: 5930.
 */
/**
 * GstRedSpiceSink:address:
 *
 * The address the sink's own server listens on (RedServer:address: an IP
 * address, or `unix:/path`). Default: %NULL, 127.0.0.1.
 */
/**
 * GstRedSpiceSink:password:
 *
 * The ticket clients of the sink's own server must give (write-only).
 * Default: %NULL, no password.
 */
/**
 * GstRedSpiceSink:image-compression:
 *
 * RedServer:image-compression of the sink's own server, by nick: `off`,
 * `auto`, `lz4`, `lz`, `glz` or `quic` (all lossless). Default: %NULL, the
 * server's default.
 */
/**
 * GstRedSpiceSink:streaming-video:
 *
 * RedServer:streaming-video of the sink's own server, by nick: `off`
 * (every frame lossless), `filter` or `all` (changing areas become lossy
 * video streams). Default: %NULL, the server's default (`filter`).
 */
/**
 * GstRedSpiceSink:server:
 *
 * A RedServer (from libredspice-1.0, the library the plugin links to) to
 * serve the display on, instead of the sink's own. The application runs its
 * main context; the sink adds one display at the first frame and uses it
 * again when it restarts with the same server. The sink's own server is
 * not handed out (it lives on the sink's thread): this reads %NULL then.
 */
/**
 * GstRedSpiceSink:display:
 *
 * The RedDisplay the sink draws into on the application's server
 * (read-only); %NULL before the first frame, when stopped, and with the
 * sink's own server.
 */
use glib::prelude::*;

mod imp;

glib::wrapper! {
    pub struct RedSpiceSink(ObjectSubclass<imp::RedSpiceSink>)
        @extends gst_video::VideoSink, gst_base::BaseSink, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "redspicesink",
        gst::Rank::NONE,
        RedSpiceSink::static_type(),
    )
}
