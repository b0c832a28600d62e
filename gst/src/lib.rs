//! The `redspice` GStreamer plugin: `redspicesink`, a video sink that
//! serves its input as a SPICE display (see `sink/imp.rs`).

mod i18n;
mod keymap;
mod redspice;
mod sink;

fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    sink::register(plugin)
}

gst::plugin_define!(
    redspice,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    env!("CARGO_PKG_VERSION"),
    // The license GStreamer knows for LGPL-2.1-or-later.
    "LGPL",
    "redspice",
    "redspice",
    "redspice"
);
