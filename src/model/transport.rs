//! The byte stream a connection speaks SPICE over: a plain socket (TCP or
//! Unix), or TLS over one. The link stage and the channels read and write
//! it without knowing which; watches wait on its socket.

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};

use openssl::ssl::SslStream;

/// A connection's byte stream (non-blocking).
pub enum Transport {
    Plain(socket2::Socket),
    Tls(Box<SslStream<socket2::Socket>>),
}

impl Transport {
    /// Whether the bytes are encrypted (a channel that requires TLS
    /// accepts only such links).
    pub fn is_secure(&self) -> bool {
        matches!(self, Transport::Tls(_))
    }

    /// The socket under the stream, for readiness watches.
    pub fn raw_fd(&self) -> RawFd {
        self.socket().as_raw_fd()
    }

    fn socket(&self) -> &socket2::Socket {
        match self {
            Transport::Plain(socket) => socket,
            Transport::Tls(stream) => stream.get_ref(),
        }
    }

    /// Bytes already received and decrypted but not read yet: no socket
    /// watch fires for them, so a reader that stops early must come back.
    pub fn buffered(&self) -> usize {
        match self {
            Transport::Plain(_) => 0,
            Transport::Tls(stream) => stream.ssl().pending(),
        }
    }

    /// Ends the connection: TLS says goodbye first (best effort).
    pub fn shutdown(&mut self) {
        if let Transport::Tls(stream) = self {
            let _ = stream.shutdown();
        }
        let _ = self.socket().shutdown(std::net::Shutdown::Both);
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(socket) => socket.read(buf),
            // A closed TLS session reads as end of stream; a record not
            // yet complete as WouldBlock.
            Transport::Tls(stream) => stream.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(socket) => socket.write(buf),
            Transport::Tls(stream) => stream.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(socket) => socket.flush(),
            Transport::Tls(stream) => stream.flush(),
        }
    }
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_secure() {
            "Transport::Tls"
        } else {
            "Transport::Plain"
        })
    }
}
