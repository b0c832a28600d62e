//! Public enumerations, registered as GTypes so every language sees them.

/// SPICE channel types, with SPICE's own numbers.
#[derive(Debug, Eq, PartialEq, Clone, Copy, Hash, glib::Enum)]
#[enum_type(name = "RedChannelType")]
#[repr(i32)]
pub enum ChannelType {
    #[enum_value(name = "RED_CHANNEL_TYPE_MAIN", nick = "main")]
    Main = 1,
    #[enum_value(name = "RED_CHANNEL_TYPE_DISPLAY", nick = "display")]
    Display = 2,
    #[enum_value(name = "RED_CHANNEL_TYPE_INPUTS", nick = "inputs")]
    Inputs = 3,
    #[enum_value(name = "RED_CHANNEL_TYPE_CURSOR", nick = "cursor")]
    Cursor = 4,
    #[enum_value(name = "RED_CHANNEL_TYPE_PLAYBACK", nick = "playback")]
    Playback = 5,
    #[enum_value(name = "RED_CHANNEL_TYPE_RECORD", nick = "record")]
    Record = 6,
    #[enum_value(name = "RED_CHANNEL_TYPE_TUNNEL", nick = "tunnel")]
    Tunnel = 7,
    #[enum_value(name = "RED_CHANNEL_TYPE_SMARTCARD", nick = "smartcard")]
    Smartcard = 8,
    #[enum_value(name = "RED_CHANNEL_TYPE_USBREDIR", nick = "usbredir")]
    Usbredir = 9,
    #[enum_value(name = "RED_CHANNEL_TYPE_PORT", nick = "port")]
    Port = 10,
    #[enum_value(name = "RED_CHANNEL_TYPE_WEBDAV", nick = "webdav")]
    Webdav = 11,
}

/// How clients authenticate.
#[derive(Debug, Eq, PartialEq, Clone, Copy, Default, glib::Enum)]
#[enum_type(name = "RedAuthMode")]
#[repr(i32)]
pub enum AuthMode {
    /// Anyone who reaches the port may connect.
    #[default]
    #[enum_value(name = "RED_AUTH_MODE_NONE", nick = "none")]
    None = 0,
    /// SPICE ticket: the password set with `red_server_set_ticket()` or the
    /// `password` property.
    #[enum_value(name = "RED_AUTH_MODE_TICKET", nick = "ticket")]
    Ticket = 1,
    /// SASL through Cyrus libsasl2 (`sasl-app-name` selects its configuration).
    #[enum_value(name = "RED_AUTH_MODE_SASL", nick = "sasl")]
    Sasl = 2,
}

/// Image compression used for drawing updates.
#[derive(Debug, Eq, PartialEq, Clone, Copy, Default, glib::Enum)]
#[enum_type(name = "RedImageCompression")]
#[repr(i32)]
pub enum ImageCompression {
    /// Uncompressed bitmaps.
    #[enum_value(name = "RED_IMAGE_COMPRESSION_OFF", nick = "off")]
    Off = 0,
    /// GLZ (LZ with the client's recent images as a dictionary), as
    /// libspice-server's default; LZ until the client has announced its
    /// dictionary window.
    #[default]
    #[enum_value(name = "RED_IMAGE_COMPRESSION_AUTO", nick = "auto")]
    Auto = 1,
    /// LZ4 (falls back to uncompressed for clients without LZ4).
    #[enum_value(name = "RED_IMAGE_COMPRESSION_LZ4", nick = "lz4")]
    Lz4 = 2,
    /// SPICE's LZ, which every client decodes; uncompressed where LZ would
    /// be larger.
    #[enum_value(name = "RED_IMAGE_COMPRESSION_LZ", nick = "lz")]
    Lz = 3,
    /// SPICE's GLZ: LZ with copies from the client's recent images (a
    /// dictionary per client, of the window the client offers); LZ until
    /// the client has announced its window, and for images larger than it.
    #[enum_value(name = "RED_IMAGE_COMPRESSION_GLZ", nick = "glz")]
    Glz = 4,
    /// QUIC, SPICE's codec for photo-like images; every client decodes it.
    #[enum_value(name = "RED_IMAGE_COMPRESSION_QUIC", nick = "quic")]
    Quic = 5,
    /// JPEG (lossy, at quality 95 with whole chroma), for links too slow
    /// for lossless images of photo-like content; every client decodes it.
    /// What the client shows stays lossy until the area is drawn again.
    #[enum_value(name = "RED_IMAGE_COMPRESSION_JPEG", nick = "jpeg")]
    Jpeg = 6,
}

/// When regions become video streams.
#[derive(Debug, Eq, PartialEq, Clone, Copy, Default, glib::Enum)]
#[enum_type(name = "RedStreamingVideo")]
#[repr(i32)]
pub enum StreamingVideo {
    /// Never stream.
    #[enum_value(name = "RED_STREAMING_VIDEO_OFF", nick = "off")]
    Off = 0,
    /// Stream regions that change at video rate.
    #[default]
    #[enum_value(name = "RED_STREAMING_VIDEO_FILTER", nick = "filter")]
    Filter = 1,
    /// Stream every region that changes repeatedly.
    #[enum_value(name = "RED_STREAMING_VIDEO_ALL", nick = "all")]
    All = 2,
}

/// What `red_server_set_ticket_full()` does when clients are connected
/// (spice-server's `fail_if_connected` and `disconnect_if_connected`).
#[glib::flags(name = "RedTicketFlags")]
pub enum TicketFlags {
    /// Refuse to change the ticket while a client is connected.
    #[flags_value(
        name = "RED_TICKET_FLAGS_FAIL_IF_CONNECTED",
        nick = "fail-if-connected"
    )]
    FAIL_IF_CONNECTED = 0b01,
    /// Disconnect the connected clients, which linked with the old ticket.
    #[flags_value(
        name = "RED_TICKET_FLAGS_DISCONNECT_IF_CONNECTED",
        nick = "disconnect-if-connected"
    )]
    DISCONNECT_IF_CONNECTED = 0b10,
}
