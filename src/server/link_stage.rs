//! The link stage, on the main thread: SpiceLinkHeader and SpiceLinkMess
//! in, SpiceLinkReply (with this link's RSA public key) out, then the auth
//! mechanism and the encrypted ticket in (or, with `auth` = sasl, a SASL
//! exchange) and the link result out. A connection that passes is handed
//! to its channel; any failure is answered with SPICE's error code and the
//! socket is closed.
//!
//! Links in progress are bounded per source address and in total. A new
//! connection is never refused for want of room: the link that has made
//! the least progress, and of those the one idle longest, is closed
//! instead, so a flood of idle or half-sent connections cannot lock a real
//! client out (a real client sends its link messages at once and moves on).

use std::io::{ErrorKind, Read, Write};
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use glib::prelude::*;
use glib::subclass::prelude::*;

use openssl::ssl::{HandshakeError, MidHandshakeSslStream};

use super::sasl::{self, Step};
use super::ticket::TicketKey;
use super::Server;
use crate::base::enums::AuthMode;
use crate::base::sync::lock;
use crate::model::error::ConnectionError;
use crate::model::transport::{SaslStream, StreamSocket, Transport, WebSocket};
use crate::protocol::constants::{cap, channel, link_err, SPICE_TICKET_CIPHERTEXT_BYTES};
use crate::protocol::link::{
    encode_link_result, parse_auth_mechanism, AuthMechanism, LinkHeader, LinkMess, LinkReply,
    LINK_HEADER_SIZE,
};
use crate::protocol::{sasl as sasl_wire, websocket, Caps};

/// How long a connection may take to link before it is closed.
pub const LINK_TIMEOUT: Duration = Duration::from_secs(10);
/// Links in progress at once; beyond it the least advanced one is closed.
pub const MAX_PENDING_LINKS: usize = 256;
/// How long a link through a SASL security layer waits after its link
/// result before the channel may write. spice-gtk reads the result with
/// one `sasl_decode` of whatever has arrived and then waits for the socket
/// before it looks at what it decoded beyond the result: channel messages
/// that arrived with the result would sit there until more bytes come
/// (with spice-server too). A pause lets the client take the result alone.
pub const SASL_SETTLE: Duration = Duration::from_millis(300);
/// Links in progress from one source address; beyond it that source's
/// least advanced one is closed. A client opens up to about ten channels
/// at once.
pub const MAX_PENDING_LINKS_PER_SOURCE: usize = 64;

/// A new connection: a plain byte stream, or one whose TLS handshake is
/// under way (finished by the link stage before it reads anything).
pub(crate) enum Conn {
    Handshaking(MidHandshakeSslStream<StreamSocket>),
    Ready(Transport),
}

/// A connection that passed the link stage.
pub(crate) struct Linked {
    pub mess: LinkMess,
    pub socket: Transport,
    pub peer: String,
    /// What the client sent after its ticket without waiting for the
    /// result (its first messages): the channel reads it first.
    pub input: Vec<u8>,
}

enum Stage {
    Header,
    Mess(LinkHeader),
    AuthMechanism(LinkMess, TicketKey),
    Ticket(LinkMess, TicketKey),
    /// A SASL exchange under way.
    Sasl(LinkMess, Box<sasl::Auth>),
    /// Authenticated and admitted.
    Linked(LinkMess),
}

impl Stage {
    /// How far the link got: who is closed first when there is no room.
    fn progress(&self) -> u8 {
        match self {
            Stage::Header => 0,
            Stage::Mess(_) => 1,
            Stage::AuthMechanism(..) => 2,
            Stage::Ticket(..) | Stage::Sasl(..) => 3,
            Stage::Linked(_) => 4,
        }
    }
}

struct Pending {
    /// `None` only while a handshake step has it.
    conn: Option<Conn>,
    peer: String,
    source: Option<IpAddr>,
    input: Vec<u8>,
    stage: Stage,
    /// When bytes last arrived (or the connection was accepted).
    last_activity: Instant,
    sources: Vec<glib::Source>,
}

/// A link in progress, as the server lists it.
#[derive(Clone)]
pub(crate) struct LinkHandle(Arc<Mutex<Option<Pending>>>);

impl LinkHandle {
    /// (progress, last activity, source) while in progress.
    fn state(&self) -> Option<(u8, Instant, Option<IpAddr>)> {
        lock(&self.0)
            .as_ref()
            .map(|p| (p.stage.progress(), p.last_activity, p.source))
    }
}

/// Why a link failed: the code sent back (if any) and why.
struct Failure {
    reply: Reply,
    error: ConnectionError,
}

enum Reply {
    /// An HTTP answer (a request that is no WebSocket upgrade).
    Http(&'static [u8]),
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

/// Starts the link stage of a new connection (non-blocking); on the main
/// thread. `source`: the peer's address, for the per-source bound.
pub(crate) fn start(server: &Server, conn: Conn, source: Option<IpAddr>, peer: String) {
    make_room(server, source);
    let fd = match &conn {
        Conn::Handshaking(mid) => mid.get_ref().as_raw_fd(),
        Conn::Ready(transport) => transport.raw_fd(),
    };
    let handle = LinkHandle(Arc::new(Mutex::new(Some(Pending {
        conn: Some(conn),
        peer,
        source,
        input: Vec::new(),
        stage: Stage::Header,
        last_activity: Instant::now(),
        sources: Vec::new(),
    }))));
    lock(&server.imp().pending_links).push(handle.clone());
    let weak = server.downgrade();
    let h = handle.clone();
    let read = server.main_core().fd_watch(
        fd,
        glib::IOCondition::IN | glib::IOCondition::HUP | glib::IOCondition::ERR,
        move |_, _| {
            let Some(server) = weak.upgrade() else {
                return glib::ControlFlow::Break;
            };
            on_readable(&server, &h)
        },
    );
    let weak = server.downgrade();
    let h = handle.clone();
    let timeout = server.main_core().timeout_add(LINK_TIMEOUT, move || {
        if let Some(server) = weak.upgrade() {
            finish(&server, &h, Err(fail(Reply::Close, "link stage timed out")));
        }
        glib::ControlFlow::Break
    });
    let mut guard = lock(&handle.0);
    if let Some(p) = guard.as_mut() {
        p.sources.push(read);
        p.sources.push(timeout);
    }
}

/// Closes the least advanced, longest idle link in progress, from
/// `source` when it has too many, else from anywhere when there are too
/// many in all, so a new connection fits.
fn make_room(server: &Server, source: Option<IpAddr>) {
    let victim = {
        let links = lock(&server.imp().pending_links);
        let states: Vec<_> = links
            .iter()
            .filter_map(|h| h.state().map(|s| (h.clone(), s)))
            .collect();
        let from_source = states.iter().filter(|(_, (_, _, s))| *s == source).count();
        let candidates: Vec<_> = if from_source >= MAX_PENDING_LINKS_PER_SOURCE {
            states
                .into_iter()
                .filter(|(_, (_, _, s))| *s == source)
                .collect()
        } else if states.len() >= MAX_PENDING_LINKS {
            states
        } else {
            Vec::new()
        };
        candidates
            .into_iter()
            .min_by_key(|(_, (progress, last, _))| (*progress, *last))
            .map(|(h, _)| h)
    };
    if let Some(victim) = victim {
        finish(
            server,
            &victim,
            Err(fail(Reply::Close, "closed to make room for a newer link")),
        );
    }
}

fn on_readable(server: &Server, handle: &LinkHandle) -> glib::ControlFlow {
    let outcome = {
        let mut guard = lock(&handle.0);
        let Some(p) = guard.as_mut() else {
            return glib::ControlFlow::Break;
        };
        read_and_advance(server, p)
    };
    match outcome {
        Ok(false) => glib::ControlFlow::Continue,
        Ok(true) if has_sasl_layer(handle) => {
            // Handed over after the pause; bytes the client sends meanwhile
            // wait in the socket for the channel.
            let weak = server.downgrade();
            let h = handle.clone();
            let pause = server.main_core().timeout_add(SASL_SETTLE, move || {
                if let Some(server) = weak.upgrade() {
                    finish(&server, &h, Ok(()));
                }
                glib::ControlFlow::Break
            });
            if let Some(p) = lock(&handle.0).as_mut() {
                p.sources.push(pause);
            }
            glib::ControlFlow::Break
        }
        done => {
            finish(server, handle, done.map(|_| ()));
            glib::ControlFlow::Break
        }
    }
}

/// Whether a link runs through a SASL security layer.
fn has_sasl_layer(handle: &LinkHandle) -> bool {
    lock(&handle.0)
        .as_ref()
        .is_some_and(|p| matches!(p.conn, Some(Conn::Ready(Transport::Sasl(_)))))
}

impl Pending {
    /// The byte stream, once any TLS handshake is done.
    fn transport(&mut self) -> Result<&mut Transport, Failure> {
        match &mut self.conn {
            Some(Conn::Ready(transport)) => Ok(transport),
            _ => Err(fail(Reply::Close, "no connection")),
        }
    }

    /// Goes on with a TLS handshake; true once the stream is ready.
    fn handshake(&mut self) -> Result<bool, Failure> {
        if !matches!(self.conn, Some(Conn::Handshaking(_))) {
            return Ok(true);
        }
        let Some(Conn::Handshaking(mid)) = self.conn.take() else {
            return Ok(true);
        };
        match mid.handshake() {
            Ok(stream) => {
                self.conn = Some(Conn::Ready(Transport::Tls(Box::new(stream))));
                Ok(true)
            }
            Err(HandshakeError::WouldBlock(mid)) => {
                self.conn = Some(Conn::Handshaking(mid));
                Ok(false)
            }
            Err(e) => Err(fail(Reply::Close, format!("TLS handshake failed: {e}"))),
        }
    }

    fn is_secure(&self) -> bool {
        matches!(&self.conn, Some(Conn::Ready(t)) if t.is_secure())
    }

    /// A browser client (spice-html5) opens the same port with an HTTP
    /// WebSocket upgrade before any SPICE: answer it and read the rest
    /// through the frames. True while the request is incomplete.
    fn upgrade_to_websocket(&mut self) -> Result<bool, Failure> {
        let before_link = matches!(self.stage, Stage::Header);
        if !before_link || !websocket::looks_like_http(&self.input) {
            return Ok(false);
        }
        if self.transport()?.is_websocket() {
            return Err(fail(Reply::Close, "HTTP inside a WebSocket"));
        }
        let (upgrade, used) = match websocket::parse_upgrade(&self.input) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => return Ok(true),
            Err(e) => return Err(broken(Reply::Http(websocket::BAD_REQUEST), e)),
        };
        let response = websocket::upgrade_response(&upgrade);
        write_all(self.transport()?, &response)?;
        let frames = self.input.split_off(used);
        self.input.clear();
        if let Some(Conn::Ready(inner)) = self.conn.take() {
            let ws = WebSocket::new(inner, frames);
            self.conn = Some(Conn::Ready(Transport::WebSocket(Box::new(ws))));
        }
        red_debug!("{}: WebSocket", self.peer);
        Ok(false)
    }
}

/// Reads what is there and advances; `Ok(true)` once linked.
fn read_and_advance(server: &Server, p: &mut Pending) -> Result<bool, Failure> {
    if !p.handshake()? {
        p.last_activity = Instant::now();
        return Ok(false);
    }
    let mut chunk = [0u8; 4096];
    loop {
        match p.transport()?.read(&mut chunk) {
            Ok(0) => return Err(broken(Reply::Close, ConnectionError::Closed)),
            Ok(n) => {
                p.last_activity = Instant::now();
                p.input.extend_from_slice(&chunk[..n]);
                if p.upgrade_to_websocket()? {
                    continue;
                }
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
                if !p.is_secure() && server.requires_tls(mess.channel_type) {
                    // spice-gtk links this channel again on the TLS port.
                    return Err(fail(
                        Reply::Error(link_err::NEED_SECURED),
                        format!("channel {} is for TLS links only", mess.channel_type),
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
                // A fresh key per link: a ticket seen on the wire is
                // worthless on any later link.
                let pool = &server.imp().key_pool;
                let key = pool
                    .take(server.main_core().context())
                    .map_err(|e| Failure {
                        reply: Reply::Error(link_err::ERROR),
                        error: ConnectionError::Encoder(e.message().to_string()),
                    })?;
                let auth = server.settings().auth;
                let reply = LinkReply::ok(
                    *key.public_der(),
                    server_common_caps(auth),
                    server_channel_caps(mess.channel_type),
                );
                let bytes = reply.encode_with_header().map_err(|e| Failure {
                    reply: Reply::Close,
                    error: ConnectionError::Encoder(e.to_string()),
                })?;
                write_all(p.transport()?, &bytes)?;
                let next = if mess.common_caps.has(cap::common::PROTOCOL_AUTH_SELECTION) {
                    Stage::AuthMechanism(mess, key)
                } else if auth == AuthMode::Sasl {
                    // spice-server's answer to a client that cannot choose.
                    return Err(fail(
                        Reply::Error(link_err::VERSION_MISMATCH),
                        "SASL is required and the client cannot select an auth mechanism",
                    ));
                } else {
                    Stage::Ticket(mess, key)
                };
                (next, size)
            }
            Stage::AuthMechanism(mess, key) => {
                if p.input.len() < 4 {
                    p.stage = Stage::AuthMechanism(mess, key);
                    return Ok(false);
                }
                let sasl_on = server.settings().auth == AuthMode::Sasl;
                match parse_auth_mechanism(&p.input[..4]) {
                    Ok(AuthMechanism::Spice) if sasl_on => {
                        // spice-server answers a link error message here.
                        return Err(fail(
                            Reply::Error(link_err::INVALID_DATA),
                            "SASL is required and the client chose a ticket",
                        ));
                    }
                    Ok(AuthMechanism::Spice) => (Stage::Ticket(mess, key), 4),
                    Ok(AuthMechanism::Sasl) if sasl_on => {
                        drop(key);
                        if !lock(&server.imp().auth_throttle).allows(p.source, Instant::now()) {
                            // As a failed step: closed, nothing learnt.
                            return Err(fail(
                                Reply::Close,
                                "refused: too many failed authentications from this address",
                            ));
                        }
                        let auth = start_sasl(server, p)?;
                        (Stage::Sasl(mess, auth), 4)
                    }
                    Ok(AuthMechanism::Sasl) => {
                        return Err(fail(
                            Reply::Result(link_err::PERMISSION_DENIED),
                            "the client chose SASL, which auth does not select",
                        ))
                    }
                    Err(e) => return Err(broken(Reply::Result(link_err::INVALID_DATA), e)),
                }
            }
            Stage::Ticket(mess, key) => {
                if p.input.len() < SPICE_TICKET_CIPHERTEXT_BYTES {
                    p.stage = Stage::Ticket(mess, key);
                    return Ok(false);
                }
                // What follows the ticket (a client that does not wait for
                // the result) stays in `input` for the channel.
                let ciphertext: Vec<u8> = p.input.drain(..SPICE_TICKET_CIPHERTEXT_BYTES).collect();
                let now = Instant::now();
                if !lock(&server.imp().auth_throttle).allows(p.source, now) {
                    // Refused unevaluated, with the answer of a wrong
                    // ticket: a guesser learns nothing from it.
                    return Err(fail(
                        Reply::Result(link_err::PERMISSION_DENIED),
                        "refused: too many failed authentications from this address",
                    ));
                }
                let code = server.check_link(&mess, &key, &ciphertext);
                if code == link_err::PERMISSION_DENIED {
                    lock(&server.imp().auth_throttle).failed(p.source, now);
                }
                if code != link_err::OK {
                    return Err(fail(Reply::Result(code), format!("link refused ({code})")));
                }
                write_all(p.transport()?, &encode_link_result(link_err::OK))?;
                p.stage = Stage::Ticket(mess, key);
                return Ok(true);
            }
            Stage::Sasl(mess, mut auth) => {
                let step = sasl_step(server, p, &mut auth)?;
                match step {
                    SaslProgress::NeedInput => {
                        p.stage = Stage::Sasl(mess, auth);
                        return Ok(false);
                    }
                    SaslProgress::Consumed(used) => (Stage::Sasl(mess, auth), used),
                    SaslProgress::Authenticated(used) => {
                        p.input.drain(..used);
                        sasl_authenticated(p, *auth)?;
                        let code = server.admit(&mess);
                        if code != link_err::OK {
                            return Err(fail(
                                Reply::Result(code),
                                format!("link refused ({code})"),
                            ));
                        }
                        // Through the security layer, if one runs.
                        write_all(p.transport()?, &encode_link_result(link_err::OK))?;
                        p.stage = Stage::Linked(mess);
                        return Ok(true);
                    }
                }
            }
            Stage::Linked(mess) => {
                p.stage = Stage::Linked(mess);
                return Ok(true);
            }
        };
        p.input.drain(..used);
        p.stage = next;
    }
}

fn write_all(socket: &mut Transport, bytes: &[u8]) -> Result<(), Failure> {
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
fn finish(server: &Server, handle: &LinkHandle, outcome: Result<(), Failure>) {
    let Some(mut p) = lock(&handle.0).take() else {
        return;
    };
    lock(&server.imp().pending_links).retain(|h| !Arc::ptr_eq(&h.0, &handle.0));
    for source in p.sources.drain(..) {
        source.destroy();
    }
    match outcome {
        Ok(()) => {
            let (Stage::Ticket(mess, _) | Stage::Linked(mess), Some(Conn::Ready(socket))) =
                (p.stage, p.conn)
            else {
                return;
            };
            server.link_done(Linked {
                mess,
                socket,
                peer: p.peer,
                input: p.input,
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
                Reply::Http(answer) => Some(answer.to_vec()),
                Reply::Error(code) => LinkReply::error(code).encode_with_header().ok(),
                Reply::Result(code) => Some(encode_link_result(code).to_vec()),
                Reply::Close => None,
            };
            match p.conn {
                Some(Conn::Ready(mut socket)) => {
                    if let Some(bytes) = bytes {
                        let _ = socket.write(&bytes);
                    }
                    socket.shutdown();
                }
                Some(Conn::Handshaking(mid)) => {
                    let _ = mid.get_ref().shutdown(std::net::Shutdown::Both);
                }
                None => {}
            }
        }
    }
}

/// Closes every link in progress (the server stops).
pub(crate) fn close_all(server: &Server) {
    let links = std::mem::take(&mut *lock(&server.imp().pending_links));
    for handle in links {
        finish(server, &handle, Err(fail(Reply::Close, "the server stops")));
    }
}

/// Common caps the server offers on every channel: with SASL, SASL only
/// (as spice-server), else the ticket.
fn server_common_caps(auth: AuthMode) -> Caps {
    let mechanism = if auth == AuthMode::Sasl {
        cap::common::AUTH_SASL
    } else {
        cap::common::AUTH_SPICE
    };
    Caps::with(&[
        cap::common::PROTOCOL_AUTH_SELECTION,
        mechanism,
        cap::common::MINI_HEADER,
    ])
}

/// Starts a SASL exchange: the context, and the mechanism list out.
fn start_sasl(server: &Server, p: &mut Pending) -> Result<Box<sasl::Auth>, Failure> {
    let app_name = server.settings().sasl_app_name;
    let auth = sasl::Auth::new(&app_name, p.transport()?).map_err(|e| Failure {
        reply: Reply::Close,
        error: ConnectionError::Encoder(format!("SASL: {e}")),
    })?;
    let message = sasl_wire::encode_mechlist(auth.mechlist()).map_err(|e| Failure {
        reply: Reply::Close,
        error: ConnectionError::Encoder(format!("SASL mechanism list: {e}")),
    })?;
    red_debug!("{}: SASL mechanisms {}", p.peer, auth.mechlist());
    write_all(p.transport()?, &message)?;
    Ok(Box::new(auth))
}

enum SaslProgress {
    NeedInput,
    /// A message was handled and took that many input bytes.
    Consumed(usize),
    /// The exchange is complete and succeeded (the reply was sent); it
    /// took that many bytes.
    Authenticated(usize),
}

/// Handles the next client message of a SASL exchange. Refusals follow
/// spice-server: a bad mechanism name or oversized start data gets a link
/// error message, anything else (a failed step, oversized step data, a
/// wrong password) just closes; spice-gtk reports an auth error.
fn sasl_step(
    server: &Server,
    p: &mut Pending,
    auth: &mut sasl::Auth,
) -> Result<SaslProgress, Failure> {
    if matches!(auth.state, sasl::State::Mechname) {
        let (name, used) = match sasl_wire::parse_mechname(&p.input) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => return Ok(SaslProgress::NeedInput),
            Err(
                e @ crate::protocol::ProtocolError::InvalidValue {
                    field: "sasl mechname length",
                    ..
                },
            ) => return Err(broken(Reply::Close, e)),
            Err(e) => return Err(broken(Reply::Error(link_err::INVALID_DATA), e)),
        };
        if !sasl_wire::mechlist_contains(auth.mechlist(), &name) {
            return Err(fail(
                Reply::Error(link_err::INVALID_DATA),
                format!("SASL mechanism {name} is not on offer"),
            ));
        }
        red_debug!("{}: SASL mechanism {name}", p.peer);
        auth.state = sasl::State::Start(name);
        return Ok(SaslProgress::Consumed(used));
    }
    let starting = matches!(auth.state, sasl::State::Start(_));
    let (data, used) = match sasl_wire::parse_client_data(&p.input) {
        Ok(Some((data, used))) => (data.map(<[u8]>::to_vec), used),
        Ok(None) => return Ok(SaslProgress::NeedInput),
        Err(e) if starting => return Err(broken(Reply::Error(link_err::INVALID_DATA), e)),
        Err(e) => return Err(broken(Reply::Close, e)),
    };
    let step = auth.exchange(data.as_deref()).map_err(|detail| {
        lock(&server.imp().auth_throttle).failed(p.source, Instant::now());
        fail(
            Reply::Close,
            format!("SASL authentication failed: {detail}"),
        )
    })?;
    let (out, complete) = match step {
        Step::Continue(out) => (out, false),
        Step::Done(out) => (out, true),
    };
    let reply = sasl_wire::encode_step_reply(out.as_deref(), complete)
        .map_err(|e| fail(Reply::Close, format!("SASL reply: {e}")))?;
    write_all(p.transport()?, &reply)?;
    Ok(if complete {
        SaslProgress::Authenticated(used)
    } else {
        SaslProgress::Consumed(used)
    })
}

/// A completed exchange: the security strength is checked (too weak is
/// refused as spice-server does), the acceptance goes out in clear, and a
/// negotiated security layer wraps the connection from here on.
fn sasl_authenticated(p: &mut Pending, mut auth: sasl::Auth) -> Result<(), Failure> {
    let ssf = match auth.check_ssf() {
        Ok(ssf) => ssf,
        Err(reason) => {
            let _ = p.transport()?.write(&sasl_wire::encode_auth_failed());
            return Err(fail(Reply::Close, format!("SASL refused: {reason}")));
        }
    };
    write_all(p.transport()?, &encode_link_result(link_err::OK))?;
    let Some(ssf) = ssf else {
        red_debug!("{}: SASL authenticated (over TLS)", p.peer);
        return Ok(());
    };
    let layer = auth
        .into_layer()
        .map_err(|e| fail(Reply::Close, format!("SASL layer: {e}")))?;
    // What the client sent after its last step is already encoded.
    let raw = std::mem::take(&mut p.input);
    if let Some(Conn::Ready(inner)) = p.conn.take() {
        p.conn = Some(Conn::Ready(Transport::Sasl(Box::new(SaslStream::new(
            inner, layer, raw,
        )))));
    }
    red_debug!(
        "{}: SASL authenticated, security layer of {ssf} bits",
        p.peer
    );
    Ok(())
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
