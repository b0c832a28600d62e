//! The byte stream a connection speaks SPICE over: a plain socket (TCP or
//! Unix), TLS over one, or WebSocket frames over either (a browser
//! client). The link stage and the channels read and write it without
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
        while !self.out.is_empty() {
            match self.inner.write(&self.out) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
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
        }
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
        }
    }

    /// Bytes already received and decrypted but not read yet: no socket
    /// watch fires for them, so a reader that stops early must come back.
    pub fn buffered(&self) -> usize {
        match self {
            Transport::Plain(_) => 0,
            Transport::Tls(stream) => stream.ssl().pending(),
            Transport::WebSocket(ws) => ws.decoded.len() + ws.raw.len() + ws.inner.buffered(),
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
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(socket) => socket.write(buf),
            Transport::Tls(stream) => stream.write(buf),
            Transport::WebSocket(ws) => ws.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(socket) => socket.flush(),
            Transport::Tls(stream) => stream.flush(),
            Transport::WebSocket(ws) => ws.flush(),
        }
    }
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Transport::Plain(_) => "Transport::Plain",
            Transport::Tls(_) => "Transport::Tls",
            Transport::WebSocket(_) => "Transport::WebSocket",
        };
        f.write_str(name)
    }
}
