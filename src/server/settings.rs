//! The settings of a `RedServer`: what its properties hold, each default
//! named once (the ParamSpecs in `server/mod.rs` and the code use the same
//! constants), and how a property change takes effect.

use std::time::Duration;

use glib::prelude::*;
use glib::subclass::prelude::*;

use crate::base::enums::{AuthMode, ImageCompression, StreamingVideo};
use crate::base::sync::lock;
use crate::display::stream::{self, StreamConfig};

/// The default `address`: loopback only, so nothing is exposed by accident.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1";
/// The default `tls-port`: none.
pub const DEFAULT_TLS_PORT: i32 = -1;
/// The default `video-codecs`, in spice-server's syntax.
/// Clients at once by default: a session costs tens of MiB (surfaces,
/// encoders, queues), so an open port must not take unlimited ones;
/// sixteen viewers of one desktop is already a classroom.
pub const DEFAULT_MAX_CLIENTS: u32 = 16;
pub const DEFAULT_VIDEO_CODECS: &str = "gstreamer:mjpeg;gstreamer:vp8;gstreamer:h264;gstreamer:vp9";
/// The default `sasl-app-name`: libsasl2 reads `redspice.conf`.
pub const DEFAULT_SASL_APP_NAME: &str = "redspice";

/// What the properties of a `RedServer` hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub address: String,
    pub port: u32,
    pub tls_port: i32,
    pub auth: AuthMode,
    /// The application name libsasl2 is set up with (its `<name>.conf`).
    pub sasl_app_name: String,
    pub name: Option<String>,
    pub uuid: Option<String>,
    pub image_compression: ImageCompression,
    pub video_codecs: String,
    pub streaming_video: StreamingVideo,
    pub stream_start_frames: u32,
    pub stream_min_area: u32,
    /// Milliseconds.
    pub stream_timeout: u32,
    /// 0: no limit.
    pub max_clients: u32,
    /// TLS: the server's certificate (chain) and key, in PEM files.
    pub x509_cert_file: Option<String>,
    pub x509_key_file: Option<String>,
    pub x509_key_password: Option<String>,
    /// TLS: the CA that client certificates must chain to, if any.
    pub x509_cacert_file: Option<String>,
    /// TLS: the PEM of a `GTlsCertificate`'s certificate (chain) and
    /// private key (wins over the files). Kept as text: a GObject would
    /// make the settings bound to one thread.
    pub tls_certificate: Option<(String, String)>,
    /// Channel names ("main", "display", …, or "all") that accept TLS
    /// links only.
    pub secure_channels: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            address: DEFAULT_ADDRESS.to_string(),
            port: 0,
            tls_port: DEFAULT_TLS_PORT,
            auth: AuthMode::default(),
            sasl_app_name: DEFAULT_SASL_APP_NAME.to_string(),
            name: None,
            uuid: None,
            image_compression: ImageCompression::default(),
            video_codecs: DEFAULT_VIDEO_CODECS.to_string(),
            streaming_video: StreamingVideo::default(),
            stream_start_frames: stream::DEFAULT_START_FRAMES,
            stream_min_area: stream::DEFAULT_MIN_AREA,
            stream_timeout: stream::DEFAULT_TIMEOUT_MS,
            max_clients: DEFAULT_MAX_CLIENTS,
            x509_cert_file: None,
            x509_key_file: None,
            x509_key_password: None,
            x509_cacert_file: None,
            tls_certificate: None,
            secure_channels: Vec::new(),
        }
    }
}

impl Settings {
    /// The stream detection thresholds the displays use.
    pub fn stream_config(&self) -> StreamConfig {
        StreamConfig {
            mode: self.streaming_video,
            start_frames: self.stream_start_frames,
            min_area: self.stream_min_area,
            timeout: Duration::from_millis(u64::from(self.stream_timeout)),
            ..StreamConfig::default()
        }
    }

    /// The session UUID's 16 bytes, if one is set.
    pub fn uuid_bytes(&self) -> Option<[u8; 16]> {
        self.uuid.as_deref().and_then(parse_uuid)
    }
}

/// The SPICE channel type a `secure-channels` name means (`Some(None)`:
/// every channel), as spice-server's channel security names them.
pub fn channel_type_by_name(name: &str) -> Option<Option<u8>> {
    use crate::protocol::constants::channel;
    Some(Some(match name {
        "all" | "default" => return Some(None),
        "main" => channel::MAIN,
        "display" => channel::DISPLAY,
        "inputs" => channel::INPUTS,
        "cursor" => channel::CURSOR,
        "playback" => channel::PLAYBACK,
        "record" => channel::RECORD,
        _ => return None,
    }))
}

impl Settings {
    /// Whether a channel of this type accepts TLS links only.
    pub fn requires_tls(&self, channel_type: u8) -> bool {
        self.secure_channels
            .iter()
            .filter_map(|n| channel_type_by_name(n))
            .any(|t| t.is_none_or(|t| t == channel_type))
    }
}

/// Where the server listens, as `address` says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddress {
    Ip(std::net::IpAddr),
    /// `unix:/path`: a socket file, removed again on stop.
    UnixPath(std::path::PathBuf),
    /// `unix:@name`: Linux's abstract namespace (no file).
    UnixAbstract(String),
}

impl ListenAddress {
    pub fn parse(text: &str) -> Option<ListenAddress> {
        match text.strip_prefix("unix:") {
            Some(rest) => match rest.strip_prefix('@') {
                Some(name) if !name.is_empty() => Some(ListenAddress::UnixAbstract(name.into())),
                Some(_) => None,
                None if !rest.is_empty() => Some(ListenAddress::UnixPath(rest.into())),
                None => None,
            },
            None => text.parse().ok().map(ListenAddress::Ip),
        }
    }
}

/// Parses a UUID's text form into its 16 bytes.
pub fn parse_uuid(text: &str) -> Option<[u8; 16]> {
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    let dashes = [8usize, 13, 18, 23];
    if text.len() != 36
        || !dashes
            .iter()
            .all(|&i| text.as_bytes().get(i) == Some(&b'-'))
    {
        return None;
    }
    if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(out)
}

/// The property setters: validate, store, notify on change, and apply
/// what must be applied at once.
impl super::imp::Server {
    /// Applies `update`; true if the settings changed.
    fn store(&self, update: impl FnOnce(&mut Settings)) -> bool {
        let mut settings = lock(&self.settings);
        let before = settings.clone();
        update(&mut settings);
        *settings != before
    }

    /// Stores a new value through `update`; notifies `name` if it changed.
    fn update(&self, name: &str, update: impl FnOnce(&mut Settings)) {
        if self.store(update) {
            self.obj().notify(name);
        }
    }

    pub(super) fn set_address(&self, value: Option<String>) {
        let value = value.unwrap_or_else(|| DEFAULT_ADDRESS.to_string());
        if ListenAddress::parse(&value).is_none() {
            red_warning!(
                "RedServer: ignoring address {value:?}, which is neither an IP address nor unix:PATH"
            );
            return;
        }
        self.update("address", |s| s.address = value);
    }

    pub(super) fn set_port(&self, value: u32) {
        self.update("port", |s| s.port = value);
    }

    pub(super) fn set_tls_port(&self, value: i32) {
        self.update("tls-port", |s| s.tls_port = value);
    }

    pub(super) fn set_password(&self, value: Option<String>) {
        self.obj().set_ticket(value.as_deref(), 0);
    }

    pub(super) fn set_auth(&self, value: AuthMode) {
        self.update("auth", |s| s.auth = value);
    }

    pub(super) fn set_sasl_app_name(&self, value: Option<String>) {
        let value = value.unwrap_or_else(|| DEFAULT_SASL_APP_NAME.to_string());
        if value.is_empty() || value.contains(['\0', '/']) {
            red_warning!("RedServer: ignoring sasl-app-name {value:?}, which is no file name");
            return;
        }
        self.update("sasl-app-name", |s| s.sasl_app_name = value);
    }

    pub(super) fn set_name(&self, value: Option<String>) {
        self.update("name", |s| s.name = value);
    }

    pub(super) fn set_uuid(&self, value: Option<String>) {
        if let Some(text) = value.as_deref().filter(|t| parse_uuid(t).is_none()) {
            red_warning!("RedServer: ignoring uuid {text:?}, which is not a UUID");
            return;
        }
        self.update("uuid", |s| s.uuid = value);
    }

    pub(super) fn set_image_compression(&self, value: ImageCompression) {
        self.update("image-compression", |s| s.image_compression = value);
    }

    pub(super) fn set_video_codecs(&self, value: Option<String>) {
        let value = value.unwrap_or_else(|| DEFAULT_VIDEO_CODECS.to_string());
        self.update("video-codecs", |s| s.video_codecs = value);
    }

    pub(super) fn set_streaming_video(&self, value: StreamingVideo) {
        self.update_streams("streaming-video", |s| s.streaming_video = value);
    }

    pub(super) fn set_stream_start_frames(&self, value: u32) {
        self.update_streams("stream-start-frames", |s| s.stream_start_frames = value);
    }

    pub(super) fn set_stream_min_area(&self, value: u32) {
        self.update_streams("stream-min-area", |s| s.stream_min_area = value);
    }

    pub(super) fn set_stream_timeout(&self, value: u32) {
        self.update_streams("stream-timeout", |s| s.stream_timeout = value);
    }

    /// A stream setting: the displays' workers get the new thresholds.
    fn update_streams(&self, name: &str, update: impl FnOnce(&mut Settings)) {
        if self.store(update) {
            self.obj().configure_streams();
            self.obj().notify(name);
        }
    }

    pub(super) fn set_max_clients(&self, value: u32) {
        self.update("max-clients", |s| s.max_clients = value);
    }

    pub(super) fn set_x509_cert_file(&self, value: Option<String>) {
        self.update("x509-cert-file", |s| s.x509_cert_file = value);
    }

    pub(super) fn set_x509_key_file(&self, value: Option<String>) {
        self.update("x509-key-file", |s| s.x509_key_file = value);
    }

    pub(super) fn set_x509_key_password(&self, value: Option<String>) {
        // Write-only: nothing to notify.
        lock(&self.settings).x509_key_password = value;
    }

    pub(super) fn set_x509_cacert_file(&self, value: Option<String>) {
        self.update("x509-cacert-file", |s| s.x509_cacert_file = value);
    }

    pub(super) fn set_tls_certificate(&self, value: Option<gio::TlsCertificate>) {
        let pem = match value {
            None => None,
            Some(certificate) => {
                let cert = certificate.property::<Option<String>>("certificate-pem");
                let key = certificate.property::<Option<String>>("private-key-pem");
                match (cert, key) {
                    (Some(cert), Some(key)) => Some((cert, key)),
                    _ => {
                        red_warning!(
                            "RedServer: ignoring a tls-certificate without its private key"
                        );
                        return;
                    }
                }
            }
        };
        self.update("tls-certificate", |s| s.tls_certificate = pem);
    }

    /// The `tls-certificate` as a `GTlsCertificate` (made anew from its PEM).
    pub(super) fn tls_certificate(&self) -> Option<gio::TlsCertificate> {
        let (cert, key) = lock(&self.settings).tls_certificate.clone()?;
        gio::TlsCertificate::from_pem(&format!("{cert}\n{key}")).ok()
    }

    pub(super) fn set_secure_channels(&self, value: glib::StrV) {
        let names: Vec<String> = value.iter().map(|n| n.to_string()).collect();
        if let Some(unknown) = names.iter().find(|n| channel_type_by_name(n).is_none()) {
            red_warning!("RedServer: ignoring secure-channels, {unknown:?} is no channel name");
            return;
        }
        self.update("secure-channels", |s| s.secure_channels = names);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_ip_or_unix() {
        assert_eq!(
            ListenAddress::parse("::1"),
            Some(ListenAddress::Ip("::1".parse().unwrap()))
        );
        assert_eq!(
            ListenAddress::parse("unix:/run/x.sock"),
            Some(ListenAddress::UnixPath("/run/x.sock".into()))
        );
        assert_eq!(
            ListenAddress::parse("unix:@redspice"),
            Some(ListenAddress::UnixAbstract("redspice".into()))
        );
        for bad in ["unix:", "unix:@", "localhost", ""] {
            assert_eq!(ListenAddress::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn uuid_text_is_parsed_strictly() {
        assert_eq!(
            parse_uuid("00112233-4455-6677-8899-aabbccddeeff").unwrap()[15],
            0xff
        );
        assert!(parse_uuid("00112233445566778899aabbccddeeff").is_none());
        assert!(parse_uuid("0011223-34455-6677-8899-aabbccddeeff").is_none());
        assert!(parse_uuid("g0112233-4455-6677-8899-aabbccddeeff").is_none());
    }
}
