//! SPICE ticket authentication: the server's RSA-1024 key pair, whose public
//! half goes in every link reply, and decryption of the ticket a client
//! sends back (RSA-OAEP with SHA-1, as spice-server and its clients use).

use rsa::pkcs8::EncodePublicKey;
use rsa::{Oaep, RsaPrivateKey};

use crate::protocol::constants::SPICE_TICKET_PUBKEY_BYTES;

/// The server's key pair.
pub struct TicketKey {
    private: RsaPrivateKey,
    public_der: [u8; SPICE_TICKET_PUBKEY_BYTES],
}

impl TicketKey {
    /// A fresh RSA-1024 key pair (spice-server makes one per server too).
    pub fn generate() -> Result<TicketKey, String> {
        let mut rng = rand::thread_rng();
        let private = RsaPrivateKey::new(&mut rng, 1024).map_err(|e| e.to_string())?;
        let der = private
            .to_public_key()
            .to_public_key_der()
            .map_err(|e| e.to_string())?;
        let public_der: [u8; SPICE_TICKET_PUBKEY_BYTES] =
            der.as_bytes().try_into().map_err(|_| {
                format!(
                    "public key is {} bytes, not {SPICE_TICKET_PUBKEY_BYTES}",
                    der.as_bytes().len()
                )
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
