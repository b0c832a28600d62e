//! TLS on `tls-port`: the acceptor made from the server's certificate
//! settings (QEMU's names: `x509-cert-file`, `x509-key-file`,
//! `x509-key-password`, `x509-cacert-file`, or a `GTlsCertificate`), with
//! TLS 1.2 or newer.

use openssl::pkey::PKey;
use openssl::ssl::{SslAcceptor, SslMethod, SslVerifyMode};
use openssl::x509::X509;

use super::settings::Settings;
use crate::base::error::RedError;
use crate::base::i18n::gettext;

fn invalid(what: impl std::fmt::Display) -> glib::Error {
    RedError::InvalidArgument.error(format!("{}: {what}", gettext("Cannot set up TLS")))
}

/// The acceptor for TLS links, or why there cannot be one.
pub(crate) fn acceptor(settings: &Settings) -> Result<SslAcceptor, glib::Error> {
    // Mozilla's "intermediate" profile: TLS 1.2 and 1.3, modern ciphers.
    let mut builder =
        SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).map_err(invalid)?;
    if let Some((pem, key)) = &settings.tls_certificate {
        let mut chain = X509::stack_from_pem(pem.as_bytes())
            .map_err(invalid)?
            .into_iter();
        let leaf = chain.next().ok_or_else(|| invalid("no certificate"))?;
        builder.set_certificate(&leaf).map_err(invalid)?;
        for extra in chain {
            builder.add_extra_chain_cert(extra).map_err(invalid)?;
        }
        let key = PKey::private_key_from_pem(key.as_bytes()).map_err(invalid)?;
        builder.set_private_key(&key).map_err(invalid)?;
    } else {
        let (Some(cert), Some(key)) = (&settings.x509_cert_file, &settings.x509_key_file) else {
            return Err(invalid(gettext(
                "set x509-cert-file and x509-key-file, or tls-certificate",
            )));
        };
        builder
            .set_certificate_chain_file(cert)
            .map_err(|e| invalid(format!("{cert}: {e}")))?;
        let pem = std::fs::read(key)
            .map_err(|e| invalid(format!("{key}: {}", crate::base::sys::io_error_message(&e))))?;
        let key = match &settings.x509_key_password {
            Some(password) => PKey::private_key_from_pem_passphrase(&pem, password.as_bytes()),
            None => PKey::private_key_from_pem(&pem),
        }
        .map_err(|e| invalid(format!("{key}: {e}")))?;
        builder.set_private_key(&key).map_err(invalid)?;
    }
    builder.check_private_key().map_err(invalid)?;
    if let Some(ca) = &settings.x509_cacert_file {
        // Clients may present a certificate; when they do, it must chain
        // to this CA. None is required (spice-gtk sends none by default).
        builder
            .set_ca_file(ca)
            .map_err(|e| invalid(format!("{ca}: {e}")))?;
        builder.set_verify(SslVerifyMode::PEER);
    }
    Ok(builder.build())
}
