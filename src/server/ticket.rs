//! SPICE ticket authentication: an RSA-1024 key pair per link, whose
//! public half goes in the link reply, and decryption of the ticket the
//! client sends back (RSA-OAEP with SHA-1, as spice-server and its clients
//! use), through OpenSSL.
//!
//! A fresh key per link, as spice-server makes, means a ticket copied off
//! the wire is worth nothing on a later link. Making a key costs a few
//! milliseconds, so a small pool is kept filled while the main loop is
//! idle and a link only takes from it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use openssl::pkey::Private;
use openssl::rsa::{Padding, Rsa};

use crate::base::error::RedError;
use crate::base::i18n::gettext;
use crate::base::sync::lock;
use crate::protocol::constants::{SPICE_TICKET_CIPHERTEXT_BYTES, SPICE_TICKET_PUBKEY_BYTES};

/// The bits of the link keys: what SPICE's 162-byte public key field and
/// 128-byte ticket hold.
const KEY_BITS: u32 = 1024;

/// Keys kept ready for new links.
const POOL_SIZE: usize = 8;

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

/// One link's key pair.
pub struct TicketKey {
    private: Rsa<Private>,
    public_der: [u8; SPICE_TICKET_PUBKEY_BYTES],
}

impl TicketKey {
    /// A fresh RSA-1024 key pair.
    pub fn generate() -> Result<TicketKey, glib::Error> {
        let failed = |what: &dyn std::fmt::Display| {
            RedError::Failed.error(format!("{}: {what}", gettext("Could not make the RSA key")))
        };
        let private = Rsa::generate(KEY_BITS).map_err(|e| failed(&e))?;
        // SubjectPublicKeyInfo, as the link reply carries it.
        let der = private.public_key_to_der().map_err(|e| failed(&e))?;
        let public_der: [u8; SPICE_TICKET_PUBKEY_BYTES] =
            der.as_slice().try_into().map_err(|_| {
                failed(&format!(
                    "public key is {} bytes, not {SPICE_TICKET_PUBKEY_BYTES}",
                    der.len()
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
        if ciphertext.len() != SPICE_TICKET_CIPHERTEXT_BYTES {
            return None;
        }
        let mut plaintext = vec![0u8; self.private.size() as usize];
        let len = self
            .private
            .private_decrypt(ciphertext, &mut plaintext, Padding::PKCS1_OAEP)
            .ok()?;
        plaintext.truncate(len);
        Some(plaintext)
    }
}

impl std::fmt::Debug for TicketKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TicketKey")
    }
}

/// Keys made ahead of the links that take them.
#[derive(Clone, Default)]
pub struct KeyPool(Arc<PoolInner>);

#[derive(Default)]
struct PoolInner {
    keys: Mutex<Vec<TicketKey>>,
    refilling: AtomicBool,
}

impl KeyPool {
    /// A key for one link: from the pool when there is one (the pool is
    /// refilled on `context` when idle), made here otherwise.
    pub fn take(&self, context: &glib::MainContext) -> Result<TicketKey, glib::Error> {
        let key = lock(&self.0.keys).pop();
        self.refill(context);
        match key {
            Some(key) => Ok(key),
            None => {
                red_debug!("link key pool empty: making a key on this thread");
                TicketKey::generate()
            }
        }
    }

    /// Starts filling the pool on `context` at idle priority unless it is
    /// full or being filled: a key at a time, whenever the loop has
    /// nothing else to do. Not a thread of its own: applications (and
    /// tests) count the threads a server makes, one per display.
    pub fn refill(&self, context: &glib::MainContext) {
        if lock(&self.0.keys).len() >= POOL_SIZE || self.0.refilling.swap(true, Ordering::SeqCst) {
            return;
        }
        let inner = self.0.clone();
        let source = glib::idle_source_new(None, glib::Priority::LOW, move || {
            if lock(&inner.keys).len() >= POOL_SIZE {
                inner.refilling.store(false, Ordering::SeqCst);
                return glib::ControlFlow::Break;
            }
            match TicketKey::generate() {
                Ok(key) => {
                    lock(&inner.keys).push(key);
                    glib::ControlFlow::Continue
                }
                Err(e) => {
                    red_warning!("{}", e.message());
                    inner.refilling.store(false, Ordering::SeqCst);
                    glib::ControlFlow::Break
                }
            }
        });
        source.attach(Some(context));
    }

    /// Keys ready now.
    pub fn ready(&self) -> usize {
        lock(&self.0.keys).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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

    /// What a client does with the key from the link reply.
    fn client_encrypts(public_der: &[u8], secret: &[u8]) -> Vec<u8> {
        let public = Rsa::public_key_from_der(public_der).unwrap();
        let mut ciphertext = vec![0u8; public.size() as usize];
        let len = public
            .public_encrypt(secret, &mut ciphertext, Padding::PKCS1_OAEP)
            .unwrap();
        ciphertext.truncate(len);
        ciphertext
    }

    #[test]
    fn a_client_encrypted_ticket_decrypts() {
        let key = TicketKey::generate().unwrap();
        assert_eq!(key.public_der()[0], 0x30);
        let secret = b"s3cret\0";
        let ciphertext = client_encrypts(key.public_der(), secret);
        assert_eq!(ciphertext.len(), 128);
        assert_eq!(key.decrypt(&ciphertext).unwrap(), secret);
        assert_eq!(key.decrypt(&[0u8; 128]), None);
        assert_eq!(key.decrypt(&[]), None);
        assert_eq!(key.decrypt(&[1u8; 300]), None);
    }

    #[test]
    fn a_ticket_for_one_key_is_worthless_with_another() {
        let pool = KeyPool::default();
        let context = glib::MainContext::new();
        let first = pool.take(&context).unwrap();
        let second = pool.take(&context).unwrap();
        assert_ne!(first.public_der(), second.public_der());
        let ciphertext = client_encrypts(first.public_der(), b"secret\0");
        assert!(first.decrypt(&ciphertext).is_some());
        assert_eq!(second.decrypt(&ciphertext), None);
    }

    #[test]
    fn the_pool_fills_when_the_loop_is_idle() {
        let pool = KeyPool::default();
        let context = glib::MainContext::new();
        let _owner = context.acquire().unwrap();
        pool.refill(&context);
        let deadline = Instant::now() + Duration::from_secs(30);
        while pool.ready() < POOL_SIZE && Instant::now() < deadline {
            context.iteration(false);
        }
        assert_eq!(pool.ready(), POOL_SIZE);
        pool.take(&context).unwrap();
        assert_eq!(pool.ready(), POOL_SIZE - 1);
        while context.iteration(false) {}
        assert_eq!(pool.ready(), POOL_SIZE);
    }
}
