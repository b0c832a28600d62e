//! The byte stream a connection speaks SPICE over: a plain socket (TCP or
//! Unix), TLS over one, WebSocket frames over either (a browser client),
//! or a SASL security layer that the link stage negotiated. The link stage and the channels read and write it without
//! knowing which; watches wait on its socket.

use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::os::fd::{AsRawFd, RawFd};

use openssl::ssl::SslStream;

use crate::protocol::websocket::{decode_client_frame, encode_server_frame, opcode, Frame};

/// A connected stream socket whose writes never raise SIGPIPE: they pass
/// MSG_NOSIGNAL, so a client that closes with bytes unread gets its
/// connection an EPIPE error, not the application a fatal signal (C and
/// gjs programs keep SIGPIPE's default action). TLS writes through it too.
#[derive(Debug)]
pub struct StreamSocket(socket2::Socket);

impl From<socket2::Socket> for StreamSocket {
    fn from(socket: socket2::Socket) -> Self {
        StreamSocket(socket)
    }
}

impl std::ops::Deref for StreamSocket {
    type Target = socket2::Socket;
    fn deref(&self) -> &socket2::Socket {
        &self.0
    }
}

impl AsRawFd for StreamSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

impl Read for StreamSocket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for StreamSocket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.send_with_flags(buf, libc::MSG_NOSIGNAL)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.0.send_vectored_with_flags(bufs, libc::MSG_NOSIGNAL)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A connection's byte stream (non-blocking).
pub enum Transport {
    Plain(StreamSocket),
    Tls(Box<SslStream<StreamSocket>>),
    WebSocket(Box<WebSocket>),
    Sasl(Box<SaslStream>),
}

/// A SASL security layer (libsasl2's `sasl_encode`/`sasl_decode` on a
/// negotiated connection), provided by the server layer.
pub trait SecurityLayer: Send {
    /// Encodes `plain` (any length) for the wire, appending to `out`.
    fn encode(&mut self, plain: &[u8], out: &mut Vec<u8>) -> io::Result<()>;
    /// Decodes bytes from the wire, appending complete plain text to
    /// `out` (a partial packet waits inside the layer).
    fn decode(&mut self, wire: &[u8], out: &mut Vec<u8>) -> io::Result<()>;
}

/// The SPICE stream through a SASL security layer.
pub struct SaslStream {
    inner: Transport,
    layer: Box<dyn SecurityLayer>,
    /// Wire bytes received before the layer started, not decoded yet.
    raw: Vec<u8>,
    /// Plain bytes decoded and not read yet.
    decoded: Vec<u8>,
    /// Encoded bytes the socket has not taken yet.
    out: Vec<u8>,
}

impl SaslStream {
    /// The layer over `inner`; `raw`: wire bytes already received.
    pub fn new(inner: Transport, layer: Box<dyn SecurityLayer>, raw: Vec<u8>) -> Self {
        SaslStream {
            inner,
            layer,
            raw,
            decoded: Vec::new(),
            out: Vec::new(),
        }
    }

    /// Writes pending encoded bytes; WouldBlock while some remain.
    fn flush_out(&mut self) -> io::Result<()> {
        write_pending(&mut self.inner, &mut self.out)
    }
}

impl Read for SaslStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if !self.decoded.is_empty() {
                let n = buf.len().min(self.decoded.len());
                buf[..n].copy_from_slice(&self.decoded[..n]);
                self.decoded.drain(..n);
                return Ok(n);
            }
            if !self.raw.is_empty() {
                let raw = std::mem::take(&mut self.raw);
                self.layer.decode(&raw, &mut self.decoded)?;
                continue;
            }
            let mut chunk = [0u8; 16384];
            match self.inner.read(&mut chunk)? {
                0 => return Ok(0),
                n => self.layer.decode(&chunk[..n], &mut self.decoded)?,
            }
        }
    }
}

impl Write for SaslStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.flush_out()?;
        // All of `buf` is taken; what the socket does not take now goes
        // with the next write or flush.
        self.layer.encode(buf, &mut self.out)?;
        match self.flush_out() {
            Err(e) if e.kind() != ErrorKind::WouldBlock => Err(e),
            _ => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_out()?;
        self.inner.flush()
    }
}

/// The SPICE stream inside WebSocket frames (RFC 6455, server side).
pub struct WebSocket {
    inner: Transport,
    /// Frame bytes received and not decoded yet.
    raw: Vec<u8>,
    /// Stream bytes decoded and not read yet.
    decoded: Vec<u8>,
    /// Frame bytes (ours) the socket has not taken yet.
    out: Vec<u8>,
    closed: bool,
}

impl WebSocket {
    /// Frames over `inner`; `raw` holds frame bytes already received.
    pub fn new(inner: Transport, raw: Vec<u8>) -> Self {
        WebSocket {
            inner,
            raw,
            decoded: Vec::new(),
            out: Vec::new(),
            closed: false,
        }
    }

    /// Writes pending frame bytes; WouldBlock while some remain.
    fn flush_out(&mut self) -> io::Result<()> {
        write_pending(&mut self.inner, &mut self.out)
    }

    /// Queues a control frame and sends what the socket takes.
    fn send_control(&mut self, op: u8, payload: &[u8]) {
        encode_server_frame(op, payload, &mut self.out);
        let _ = self.flush_out();
    }
}

impl Read for WebSocket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if !self.decoded.is_empty() {
                let n = buf.len().min(self.decoded.len());
                buf[..n].copy_from_slice(&self.decoded[..n]);
                self.decoded.drain(..n);
                return Ok(n);
            }
            if self.closed {
                return Ok(0);
            }
            match decode_client_frame(&self.raw) {
                Ok(Some((frame, used))) => {
                    self.raw.drain(..used);
                    match frame {
                        Frame::Data(data) => self.decoded.extend_from_slice(&data),
                        Frame::Ping(payload) => self.send_control(opcode::PONG, &payload),
                        Frame::Pong => {}
                        Frame::Close => {
                            self.send_control(opcode::CLOSE, &[]);
                            self.closed = true;
                        }
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => return Err(io::Error::new(ErrorKind::InvalidData, e.to_string())),
            }
            let mut chunk = [0u8; 16384];
            match self.inner.read(&mut chunk)? {
                0 => {
                    self.closed = true;
                    return Ok(0);
                }
                n => self.raw.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

impl Write for WebSocket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.flush_out()?;
        // One binary frame per write; what the socket does not take now
        // goes with the next write or flush.
        encode_server_frame(opcode::BINARY, buf, &mut self.out);
        match self.flush_out() {
            Err(e) if e.kind() != ErrorKind::WouldBlock => Err(e),
            _ => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_out()?;
        self.inner.flush()
    }
}

impl Transport {
    /// Whether the bytes are encrypted (a channel that requires TLS
    /// accepts only such links).
    pub fn is_secure(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            Transport::Tls(_) => true,
            Transport::WebSocket(ws) => ws.inner.is_secure(),
            // SPICE's channel security means TLS; a SASL layer is not it.
            Transport::Sasl(sasl) => sasl.inner.is_secure(),
        }
    }

    /// The secret bits of the TLS cipher under the stream, if any (SASL's
    /// external security strength).
    pub fn tls_cipher_bits(&self) -> Option<u32> {
        match self {
            Transport::Plain(_) => None,
            Transport::Tls(stream) => stream
                .ssl()
                .current_cipher()
                .and_then(|c| u32::try_from(c.bits().secret).ok()),
            Transport::WebSocket(ws) => ws.inner.tls_cipher_bits(),
            Transport::Sasl(sasl) => sasl.inner.tls_cipher_bits(),
        }
    }

    /// The local and the peer's address, for IP sockets.
    pub fn ip_addresses(&self) -> Option<(std::net::SocketAddr, std::net::SocketAddr)> {
        let socket = self.socket();
        let local = socket.local_addr().ok()?.as_socket()?;
        let peer = socket.peer_addr().ok()?.as_socket()?;
        Some((local, peer))
    }

    /// Whether this is a WebSocket stream.
    pub fn is_websocket(&self) -> bool {
        matches!(self, Transport::WebSocket(_))
    }

    /// Bytes of ours that a write accepted but the socket has not taken:
    /// the writer must flush them before it stops writing.
    pub fn has_pending_output(&self) -> bool {
        match self {
            Transport::WebSocket(ws) => !ws.out.is_empty() || ws.inner.has_pending_output(),
            Transport::Sasl(sasl) => !sasl.out.is_empty() || sasl.inner.has_pending_output(),
            _ => false,
        }
    }

    /// The socket under the stream, for readiness watches.
    pub fn raw_fd(&self) -> RawFd {
        self.socket().as_raw_fd()
    }

    fn socket(&self) -> &socket2::Socket {
        match self {
            Transport::Plain(socket) => socket,
            Transport::Tls(stream) => stream.get_ref(),
            Transport::WebSocket(ws) => ws.inner.socket(),
            Transport::Sasl(sasl) => sasl.inner.socket(),
        }
    }

    /// Bytes already received and decrypted but not read yet: no socket
    /// watch fires for them, so a reader that stops early must come back.
    pub fn buffered(&self) -> usize {
        match self {
            Transport::Plain(_) => 0,
            Transport::Tls(stream) => stream.ssl().pending(),
            Transport::WebSocket(ws) => ws.decoded.len() + ws.raw.len() + ws.inner.buffered(),
            Transport::Sasl(sasl) => sasl.decoded.len() + sasl.raw.len() + sasl.inner.buffered(),
        }
    }

    /// Ends the connection: TLS says goodbye first (best effort).
    pub fn shutdown(&mut self) {
        match self {
            Transport::Plain(_) => {}
            Transport::Tls(stream) => {
                let _ = stream.shutdown();
            }
            Transport::WebSocket(ws) => {
                if !ws.closed {
                    ws.send_control(opcode::CLOSE, &[]);
                }
                ws.inner.shutdown();
            }
            Transport::Sasl(sasl) => {
                let _ = sasl.flush_out();
                sasl.inner.shutdown();
            }
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
            Transport::WebSocket(ws) => ws.read(buf),
            Transport::Sasl(sasl) => sasl.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(socket) => socket.write(buf),
            Transport::Tls(stream) => stream.write(buf),
            Transport::WebSocket(ws) => ws.write(buf),
            Transport::Sasl(sasl) => sasl.write(buf),
        }
    }

    /// One system call for many messages on a plain socket (a frame's
    /// draws are many small messages); the framing transports take the
    /// first buffer, as a write would.
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Transport::Plain(socket) => socket.write_vectored(bufs),
            _ => match bufs.iter().find(|b| !b.is_empty()) {
                Some(buf) => self.write(buf),
                None => Ok(0),
            },
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(socket) => socket.flush(),
            Transport::Tls(stream) => stream.flush(),
            Transport::WebSocket(ws) => ws.flush(),
            Transport::Sasl(sasl) => sasl.flush(),
        }
    }
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Transport::Plain(_) => "Transport::Plain",
            Transport::Tls(_) => "Transport::Tls",
            Transport::WebSocket(_) => "Transport::WebSocket",
            Transport::Sasl(_) => "Transport::Sasl",
        };
        f.write_str(name)
    }
}

/// Writes `out` to `inner`, dropping what was written: the buffered
/// writes of the layered transports (SASL, WebSocket). WouldBlock while
/// some remain.
fn write_pending(inner: &mut Transport, out: &mut Vec<u8>) -> io::Result<()> {
    while !out.is_empty() {
        match inner.write(out) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => {
                out.drain(..n);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether SIGPIPE is pending for this thread; takes it if so.
    fn take_pending_sigpipe() -> bool {
        // SAFETY: the sigset is a live local that sigemptyset initializes
        // before the other calls read it; sigtimedwait with a zero timeout
        // only takes a signal that is already pending.
        unsafe {
            let mut pending: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut pending);
            libc::sigpending(&mut pending);
            if libc::sigismember(&pending, libc::SIGPIPE) != 1 {
                return false;
            }
            let mut only: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut only);
            libc::sigaddset(&mut only, libc::SIGPIPE);
            let now = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            libc::sigtimedwait(&only, std::ptr::null_mut(), &now);
            true
        }
    }

    #[test]
    fn writes_to_a_closed_peer_raise_no_sigpipe() {
        // Blocked, SIGPIPE stays pending on this thread instead of being
        // ignored (as the test harness's disposition would have it), so
        // whether a write raised it can be seen.
        // SAFETY: the set is a live local initialized by sigemptyset;
        // blocking a signal for this test's thread harms no other.
        unsafe {
            let mut block: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut block);
            libc::sigaddset(&mut block, libc::SIGPIPE);
            libc::pthread_sigmask(libc::SIG_BLOCK, &block, std::ptr::null_mut());
        }
        take_pending_sigpipe();
        let (ours, theirs) =
            socket2::Socket::pair(socket2::Domain::UNIX, socket2::Type::STREAM, None).unwrap();
        drop(theirs);
        let raw = ours.try_clone().unwrap();
        let mut socket = Transport::Plain(StreamSocket::from(ours));
        let error = socket.write(b"frame").unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::EPIPE));
        let error = socket
            .write_vectored(&[IoSlice::new(b"two"), IoSlice::new(b"messages")])
            .unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::EPIPE));
        assert!(!take_pending_sigpipe(), "a write raised SIGPIPE");
        // Without MSG_NOSIGNAL the same write does: the check can fail.
        assert!(raw.send(b"frame").is_err());
        assert!(take_pending_sigpipe());
    }

    #[test]
    fn a_vectored_write_sends_every_buffer_in_order() {
        let (ours, theirs) =
            socket2::Socket::pair(socket2::Domain::UNIX, socket2::Type::STREAM, None).unwrap();
        let mut socket = Transport::Plain(StreamSocket::from(ours));
        let n = socket
            .write_vectored(&[IoSlice::new(b"ab"), IoSlice::new(b""), IoSlice::new(b"cde")])
            .unwrap();
        assert_eq!(n, 5);
        let mut got = [0u8; 5];
        (&theirs).read_exact(&mut got).unwrap();
        assert_eq!(&got, b"abcde");
    }
}
