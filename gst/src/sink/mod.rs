//! `redspicesink`: see `imp.rs`.

use gst::prelude::*;

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
