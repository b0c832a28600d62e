//! The byte stream a connection speaks SPICE over: a plain socket (TCP or
//! Unix), TLS over one, WebSocket frames over either (a browser client),
//! or a SASL security layer that the link stage negotiated. The link stage and the channels read and write it without
//! knowing which; watches wait on its socket.

use std::io::{self, ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, RawFd};

use openssl::ssl::SslStream;

use crate::protocol::websocket::{decode_client_frame, encode_server_frame, opcode, Frame};

/// A connection's byte stream (non-blocking).
pub enum Transport {
    Plain(socket2::Socket),
    Tls(Box<SslStream<socket2::Socket>>),
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
