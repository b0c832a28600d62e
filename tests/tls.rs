//! TLS on `tls-port`: a client that trusts the server's certificate links
//! over TLS and its session works; a plain link to a channel in
//! `secure-channels` is answered NEED_SECURED (spice-gtk then moves to the
//! TLS port); a client that trusts another CA refuses the server; a TLS
//! port without a certificate is an error at start.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use glib::prelude::*;
use openssl::asn1::Asn1Time;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use openssl::x509::extension::SubjectAlternativeName;
use openssl::x509::{X509Builder, X509NameBuilder, X509};

use common::ServerThread;
use redspice::protocol::constants::{channel, link_err, msg};
use redspice::protocol::{Caps, HeaderKind};

/// A self-signed certificate for localhost and its key.
fn certificate() -> (X509, PKey<Private>) {
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "localhost").unwrap();
    let name = name.build();
    let mut builder = X509Builder::new().unwrap();
    builder.set_version(2).unwrap();
    builder.set_subject_name(&name).unwrap();
    builder.set_issuer_name(&name).unwrap();
    builder.set_pubkey(&key).unwrap();
    builder
        .set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    builder
        .set_not_after(&Asn1Time::days_from_now(1).unwrap())
        .unwrap();
    let san = SubjectAlternativeName::new()
        .dns("localhost")
        .ip("127.0.0.1")
        .build(&builder.x509v3_context(None, None))
        .unwrap();
    builder.append_extension(san).unwrap();
    builder.sign(&key, MessageDigest::sha256()).unwrap();
    (builder.build(), key)
}

/// A scratch folder of the test's own.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("redspice-tls-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes the certificate and key as PEM files; returns their paths.
fn write_pem(dir: &Path, cert: &X509, key: &PKey<Private>) -> (String, String) {
    let cert_path = dir.join("server-cert.pem");
    let key_path = dir.join("server-key.pem");
    std::fs::write(&cert_path, cert.to_pem().unwrap()).unwrap();
    std::fs::write(&key_path, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    (
        cert_path.to_string_lossy().into_owned(),
        key_path.to_string_lossy().into_owned(),
    )
}

fn tls_server(cert: String, key: String, secure: &'static [&'static str]) -> ServerThread {
    ServerThread::start(
        move |server| {
            server.add_display(16, 16).unwrap();
            server.set_property("tls-port", 0i32);
            server.set_property("x509-cert-file", cert);
            server.set_property("x509-key-file", key);
            server.set_property("secure-channels", glib::StrV::from(secure.to_vec()));
            Box::new(|| {})
        },
        Duration::from_millis(50),
    )
}

/// The link stage of a main channel over any stream.
fn link<S: Read + Write>(s: &mut S, channel_type: u8) -> u32 {
    common::link_over(s, 0, channel_type, 0, Caps::new())
}

fn connector(trusted: &X509) -> SslConnector {
    let mut builder = SslConnector::builder(SslMethod::tls_client()).unwrap();
    builder.cert_store_mut().add_cert(trusted.clone()).unwrap();
    builder.set_verify(SslVerifyMode::PEER);
    builder.build()
}

#[test]
fn a_client_that_trusts_the_certificate_links_over_tls() {
    let (cert, key) = certificate();
    let dir = scratch("link");
    let (cert_path, key_path) = write_pem(&dir, &cert, &key);
    let server = tls_server(cert_path, key_path, &["main"]);
    let tls_port = server.tls_port.expect("a TLS port was picked");
    assert_ne!(tls_port, 0);

    let tcp = TcpStream::connect(("127.0.0.1", tls_port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut tls = connector(&cert).connect("localhost", tcp).unwrap();
    let version = tls.ssl().version_str();
    assert!(version == "TLSv1.3" || version == "TLSv1.2", "{version}");
    assert_eq!(link(&mut tls, channel::MAIN), link_err::OK);
    let mut header = [0u8; 6];
    tls.read_exact(&mut header).unwrap();
    let header = HeaderKind::Mini.parse(&header).unwrap();
    assert_eq!(header.msg_type, msg::main::INIT);

    // The same channel over the plain port: TLS only.
    let mut plain = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    assert_eq!(link(&mut plain, channel::MAIN), link_err::NEED_SECURED);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_client_that_trusts_another_ca_refuses_the_server() {
    let (cert, key) = certificate();
    let (other, _) = certificate();
    let dir = scratch("other-ca");
    let (cert_path, key_path) = write_pem(&dir, &cert, &key);
    let server = tls_server(cert_path, key_path, &[]);
    let tcp = TcpStream::connect(("127.0.0.1", server.tls_port.unwrap())).unwrap();
    assert!(connector(&other).connect("localhost", tcp).is_err());
    // Channels not listed in secure-channels take plain links too.
    let mut plain = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    assert_eq!(link(&mut plain, channel::MAIN), link_err::OK);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_tls_port_without_a_certificate_does_not_start() {
    let context = glib::MainContext::new();
    context
        .with_thread_default(|| {
            let server = redspice::Server::new();
            server.set_property("tls-port", 0i32);
            let error = server.start().unwrap_err();
            assert!(
                error.matches(redspice::RedError::InvalidArgument),
                "{error}"
            );
            assert!(!server.is_running());
        })
        .unwrap();
}
