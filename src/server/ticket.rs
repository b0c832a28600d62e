//! SPICE ticket authentication: the server's RSA-1024 key pair, whose public
//! half goes in every link reply, and decryption of the ticket a client
//! sends back (RSA-OAEP with SHA-1, as spice-server and its clients use).

use rsa::pkcs8::EncodePublicKey;
use rsa::{Oaep, RsaPrivateKey};

use std::time::Instant;

use crate::base::error::RedError;
use crate::base::i18n::gettext;
use crate::protocol::constants::SPICE_TICKET_PUBKEY_BYTES;

/// A ticket (password) and when it stops being valid.
#[derive(Default, Clone)]
pub struct Ticket {
    pub password: Option<String>,
    pub expires: Option<Instant>,
}

impl Ticket {
    /// Whether `attempt` matches a ticket that has not expired, compared in
    /// constant time for equal lengths.
    pub fn accepts(&self, attempt: &[u8], now: Instant) -> bool {
        let Some(password) = &self.password else {
            return false;
        };
        if self.expires.is_some_and(|t| now >= t) {
            return false;
        }
        let expected = password.as_bytes();
        let mut diff = expected.len() ^ attempt.len();
        for (i, b) in expected.iter().enumerate() {
            diff |= usize::from(b ^ attempt.get(i).copied().unwrap_or(0));
        }
        diff == 0
    }
}

/// The server's key pair.
pub struct TicketKey {
    private: RsaPrivateKey,
    public_der: [u8; SPICE_TICKET_PUBKEY_BYTES],
}

impl TicketKey {
    /// A fresh RSA-1024 key pair (spice-server makes one per server too).
    pub fn generate() -> Result<TicketKey, glib::Error> {
        let failed = |what: &dyn std::fmt::Display| {
            RedError::Failed.error(format!("{}: {what}", gettext("Could not make the RSA key")))
        };
        let mut rng = rand::thread_rng();
        let private = RsaPrivateKey::new(&mut rng, 1024).map_err(|e| failed(&e))?;
        let der = private
            .to_public_key()
            .to_public_key_der()
            .map_err(|e| failed(&e))?;
        let public_der: [u8; SPICE_TICKET_PUBKEY_BYTES] =
            der.as_bytes().try_into().map_err(|_| {
                failed(&format!(
                    "public key is {} bytes, not {SPICE_TICKET_PUBKEY_BYTES}",
                    der.as_bytes().len()
                ))
            })?;
        Ok(TicketKey {
            private,
            public_der,
        })
    }

    /// The SubjectPublicKeyInfo DER of the public key, as the link reply
    /// carries it.
    pub fn public_der(&self) -> &[u8; SPICE_TICKET_PUBKEY_BYTES] {
        &self.public_der
    }

    /// Decrypts a ticket; `None` when it is not valid OAEP for this key.
    pub fn decrypt(&self, ciphertext: &[u8]) -> Option<Vec<u8>> {
        self.private
            .decrypt(Oaep::new::<sha1::Sha1>(), ciphertext)
            .ok()
    }
}

impl std::fmt::Debug for TicketKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TicketKey")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs8::DecodePublicKey;
    use std::time::Duration;

    #[test]
    fn ticket_is_compared_whole_and_expires() {
        let now = Instant::now();
        let t = Ticket {
            password: Some("secret".into()),
            expires: Some(now + Duration::from_secs(5)),
        };
        assert!(t.accepts(b"secret", now));
        assert!(!t.accepts(b"secre", now));
        assert!(!t.accepts(b"secret\0", now));
        assert!(!t.accepts(b"Secret", now));
        assert!(!t.accepts(b"secret", now + Duration::from_secs(6)));
        assert!(!Ticket::default().accepts(b"", now));
    }

    #[test]
    fn a_client_encrypted_ticket_decrypts() {
        let key = TicketKey::generate().unwrap();
        assert_eq!(key.public_der()[0], 0x30);
        // What a client does with the key from the link reply.
        let public = rsa::RsaPublicKey::from_public_key_der(key.public_der()).unwrap();
        let mut rng = rand::thread_rng();
        let secret = b"s3cret\0";
        let ciphertext = public
            .encrypt(&mut rng, Oaep::new::<sha1::Sha1>(), secret)
            .unwrap();
        assert_eq!(ciphertext.len(), 128);
        assert_eq!(key.decrypt(&ciphertext).unwrap(), secret);
        assert_eq!(key.decrypt(&[0u8; 128]), None);
        assert_eq!(key.decrypt(&[]), None);
    }
}
