//! The link stage, on the main thread: SpiceLinkHeader and SpiceLinkMess
//! in, SpiceLinkReply (with the server's RSA public key) out, then the
//! auth mechanism and the encrypted ticket in and the link result out. A
//! connection that passes is handed to its channel; any failure is
//! answered with SPICE's error code and the socket is closed.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use glib::prelude::*;

use super::Server;
use crate::base::sync::lock;
use crate::model::error::ConnectionError;
use crate::protocol::constants::{cap, channel, link_err, SPICE_TICKET_CIPHERTEXT_BYTES};
use crate::protocol::link::{
    encode_link_result, parse_auth_mechanism, AuthMechanism, LinkHeader, LinkMess, LinkReply,
    LINK_HEADER_SIZE,
};
use crate::protocol::Caps;

/// How long a connection may take to link before it is closed.
pub const LINK_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections in the link stage at once; more are closed at once.
pub const MAX_PENDING_LINKS: usize = 64;

/// A connection that passed the link stage.
pub(crate) struct Linked {
    pub mess: LinkMess,
    pub socket: socket2::Socket,
    pub peer: String,
}

enum Stage {
    Header,
    Mess(LinkHeader),
    AuthMechanism(LinkMess),
    Ticket(LinkMess),
}

struct Pending {
    socket: socket2::Socket,
    peer: String,
    input: Vec<u8>,
    stage: Stage,
    sources: Vec<glib::Source>,
}

/// Why a link failed: the code sent back (if any) and why.
struct Failure {
    reply: Reply,
    error: ConnectionError,
}

enum Reply {
    /// A SpiceLinkReply carrying the error (before the reply was sent).
    Error(u32),
    /// A 4-byte link result (after the reply was sent).
    Result(u32),
    /// Nothing: just close.
    Close,
}

/// A refusal of a client that did something it may not.
fn fail(reply: Reply, reason: impl Into<String>) -> Failure {
    Failure {
        reply,
        error: ConnectionError::Misbehaving(reason.into()),
    }
}

/// A failure of the connection itself (closed, socket error, bad bytes).
fn broken(reply: Reply, error: impl Into<ConnectionError>) -> Failure {
    Failure {
        reply,
        error: error.into(),
    }
}

/// Starts the link stage of `socket` (non-blocking); on the main thread.
pub(crate) fn start(server: &Server, socket: socket2::Socket, peer: String) {
    if server.pending_links() >= MAX_PENDING_LINKS {
        red_info!("{peer}: too many connections in the link stage; closed");
        return;
    }
    let fd = socket.as_raw_fd();
    let pending = Arc::new(Mutex::new(Some(Pending {
        socket,
        peer,
        input: Vec::new(),
        stage: Stage::Header,
        sources: Vec::new(),
    })));
    server.link_started();
    let weak = server.downgrade();
    let p = pending.clone();
    let read = server.main_core().fd_watch(
        fd,
        glib::IOCondition::IN | glib::IOCondition::HUP | glib::IOCondition::ERR,
        move |_, _| {
            let Some(server) = weak.upgrade() else {
                return glib::ControlFlow::Break;
            };
            on_readable(&server, &p)
        },
    );
    let weak = server.downgrade();
    let p = pending.clone();
    let timeout = server.main_core().timeout_add(LINK_TIMEOUT, move || {
        if let Some(server) = weak.upgrade() {
            finish(&server, &p, Err(fail(Reply::Close, "link stage timed out")));
        }
        glib::ControlFlow::Break
    });
    let mut guard = lock(&pending);
    if let Some(p) = guard.as_mut() {
        p.sources.push(read);
        p.sources.push(timeout);
    }
}

fn on_readable(server: &Server, pending: &Arc<Mutex<Option<Pending>>>) -> glib::ControlFlow {
    let outcome = {
        let mut guard = lock(pending);
        let Some(p) = guard.as_mut() else {
            return glib::ControlFlow::Break;
        };
        read_and_advance(server, p)
    };
    match outcome {
        Ok(false) => glib::ControlFlow::Continue,
        done => {
            finish(server, pending, done.map(|_| ()));
            glib::ControlFlow::Break
        }
    }
}

/// Reads what is there and advances; `Ok(true)` once linked.
fn read_and_advance(server: &Server, p: &mut Pending) -> Result<bool, Failure> {
    let mut chunk = [0u8; 4096];
    loop {
        match p.socket.read(&mut chunk) {
            Ok(0) => return Err(broken(Reply::Close, ConnectionError::Closed)),
            Ok(n) => {
                p.input.extend_from_slice(&chunk[..n]);
                if advance(server, p)? {
                    return Ok(true);
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(broken(Reply::Close, e)),
        }
    }
}

/// Consumes complete pieces of the link stage from the input.
fn advance(server: &Server, p: &mut Pending) -> Result<bool, Failure> {
    loop {
        let stage = std::mem::replace(&mut p.stage, Stage::Header);
        let (next, used) = match stage {
            Stage::Header => {
                if p.input.len() < LINK_HEADER_SIZE {
                    p.stage = Stage::Header;
                    return Ok(false);
                }
                let header = LinkHeader::parse(&p.input[..LINK_HEADER_SIZE])
                    .map_err(|e| broken(Reply::Error(e.link_error()), e))?;
                (Stage::Mess(header), LINK_HEADER_SIZE)
            }
            Stage::Mess(header) => {
                let size = header.size as usize;
                if p.input.len() < size {
                    p.stage = Stage::Mess(header);
                    return Ok(false);
                }
                let mess = LinkMess::parse(&p.input[..size])
                    .map_err(|e| broken(Reply::Error(e.link_error()), e))?;
                if !server.has_channel(mess.channel_type, mess.channel_id) {
                    return Err(fail(
                        Reply::Error(link_err::CHANNEL_NOT_AVAILABLE),
                        format!("no channel {}:{}", mess.channel_type, mess.channel_id),
                    ));
                }
                if mess.channel_type == channel::MAIN && server.is_full() {
                    // A refusal spice-gtk reports as a link error, not as a
                    // wrong password: before the ticket is asked for.
                    return Err(fail(
                        Reply::Error(link_err::ERROR),
                        "refused: max-clients clients are connected",
                    ));
                }
                let key = server.ticket_key().map_err(|e| Failure {
                    reply: Reply::Error(link_err::ERROR),
                    error: ConnectionError::Encoder(e.message().to_string()),
                })?;
                let reply = LinkReply::ok(
                    *key.public_der(),
                    server_common_caps(),
                    server_channel_caps(mess.channel_type),
                );
                let bytes = reply.encode_with_header().map_err(|e| Failure {
                    reply: Reply::Close,
                    error: ConnectionError::Encoder(e.to_string()),
                })?;
                write_all(&mut p.socket, &bytes)?;
                let next = if mess.common_caps.has(cap::common::PROTOCOL_AUTH_SELECTION) {
                    Stage::AuthMechanism(mess)
                } else {
                    Stage::Ticket(mess)
                };
                (next, size)
            }
            Stage::AuthMechanism(mess) => {
                if p.input.len() < 4 {
                    p.stage = Stage::AuthMechanism(mess);
                    return Ok(false);
                }
                match parse_auth_mechanism(&p.input[..4]) {
                    Ok(AuthMechanism::Spice) => (Stage::Ticket(mess), 4),
                    Ok(AuthMechanism::Sasl) => {
                        return Err(fail(
                            Reply::Result(link_err::PERMISSION_DENIED),
                            "SASL is not supported",
                        ))
                    }
                    Err(e) => return Err(broken(Reply::Result(link_err::INVALID_DATA), e)),
                }
            }
            Stage::Ticket(mess) => {
                if p.input.len() < SPICE_TICKET_CIPHERTEXT_BYTES {
                    p.stage = Stage::Ticket(mess);
                    return Ok(false);
                }
                if p.input.len() > SPICE_TICKET_CIPHERTEXT_BYTES {
                    return Err(fail(
                        Reply::Result(link_err::INVALID_DATA),
                        "data before the link completed",
                    ));
                }
                let ciphertext = std::mem::take(&mut p.input);
                let code = server.check_link(&mess, &ciphertext);
                if code != link_err::OK {
                    return Err(fail(Reply::Result(code), format!("link refused ({code})")));
                }
                write_all(&mut p.socket, &encode_link_result(link_err::OK))?;
                p.stage = Stage::Ticket(mess);
                return Ok(true);
            }
        };
        p.input.drain(..used);
        p.stage = next;
    }
}

fn write_all(socket: &mut socket2::Socket, bytes: &[u8]) -> Result<(), Failure> {
    // A few hundred bytes into an empty socket buffer: a short write here
    // means a client that does not read, which is treated as gone.
    match socket.write(bytes) {
        Ok(n) if n == bytes.len() => Ok(()),
        Ok(_) => Err(fail(Reply::Close, "short write during the link stage")),
        Err(e) => Err(broken(Reply::Close, e)),
    }
}

/// Ends the link stage: hands a linked connection over, or answers the
/// failure and closes.
fn finish(server: &Server, pending: &Arc<Mutex<Option<Pending>>>, outcome: Result<(), Failure>) {
    let Some(mut p) = lock(pending).take() else {
        return;
    };
    server.link_finished();
    for source in p.sources.drain(..) {
        source.destroy();
    }
    match outcome {
        Ok(()) => {
            let Stage::Ticket(mess) = p.stage else {
                return;
            };
            server.link_done(Linked {
                mess,
                socket: p.socket,
                peer: p.peer,
            });
        }
        Err(failure) => {
            crate::base::log::log(
                failure.error.log_level(),
                file!(),
                line!(),
                &format!("{}: link stage: {}", p.peer, failure.error),
            );
            let bytes = match failure.reply {
                Reply::Error(code) => LinkReply::error(code).encode_with_header().ok(),
                Reply::Result(code) => Some(encode_link_result(code).to_vec()),
                Reply::Close => None,
            };
            if let Some(bytes) = bytes {
                let _ = p.socket.write(&bytes);
            }
            let _ = p.socket.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// Common caps the server offers on every channel.
fn server_common_caps() -> Caps {
    Caps::with(&[
        cap::common::PROTOCOL_AUTH_SELECTION,
        cap::common::AUTH_SPICE,
        cap::common::MINI_HEADER,
    ])
}

/// Channel caps the server offers.
fn server_channel_caps(channel_type: u8) -> Caps {
    match channel_type {
        channel::DISPLAY => Caps::with(&[
            cap::display::MONITORS_CONFIG,
            cap::display::PREF_COMPRESSION,
            cap::display::PREF_VIDEO_CODEC_TYPE,
            cap::display::STREAM_REPORT,
        ]),
        channel::INPUTS => Caps::with(&[cap::inputs::KEY_SCANCODE]),
        _ => Caps::new(),
    }
}
