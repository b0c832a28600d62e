//! Where connections come from: the listening sockets (TCP, TLS, Unix)
//! and the hand-over of each accepted connection to the link stage.

use glib::prelude::*;
use openssl::ssl::{HandshakeError, SslAcceptor};

use super::link_stage::{self, Conn};
use super::settings::ListenAddress;
use super::Server;
use crate::base::error::RedError;
use crate::base::i18n::gettext;
use crate::model::transport::{StreamSocket, Transport};

/// A listening socket and its accept watch.
pub(super) struct Listener {
    pub(super) socket: socket2::Socket,
    pub(super) source: glib::Source,
    /// The socket file of a `unix:/path` address, removed on stop.
    pub(super) unix_path: Option<std::path::PathBuf>,
}

/// A listening Unix socket for a `unix:` address, and its file if any.
/// An existing file is left alone: it may be another server's.
pub(super) fn bind_unix(
    address: &ListenAddress,
) -> Result<(socket2::Socket, Option<std::path::PathBuf>), glib::Error> {
    let (sockaddr, path, shown) = match address {
        ListenAddress::UnixPath(path) => (
            socket2::SockAddr::unix(path),
            Some(path.clone()),
            path.display().to_string(),
        ),
        ListenAddress::UnixAbstract(name) => (
            socket2::SockAddr::unix(format!("\0{name}")),
            None,
            format!("@{name}"),
        ),
        ListenAddress::Ip(_) => {
            return Err(RedError::InvalidArgument.error(gettext("Not a Unix socket address")))
        }
    };
    let listen_error = |e: std::io::Error| {
        RedError::AddressInUse.error(format!(
            "{} unix:{shown}: {}",
            gettext("Could not listen on"),
            crate::base::sys::io_error_message(&e)
        ))
    };
    let sockaddr = sockaddr.map_err(listen_error)?;
    let socket = socket2::Socket::new(
        socket2::Domain::UNIX,
        socket2::Type::STREAM.nonblocking().cloexec(),
        None,
    )
    .map_err(listen_error)?;
    socket.bind(&sockaddr).map_err(listen_error)?;
    socket.listen(1024).map_err(listen_error)?;
    Ok((socket, path))
}

/// A listening TCP socket on `ip`:`port` (0: a free port) and the port.
pub(super) fn bind(ip: std::net::IpAddr, port: u32) -> Result<(socket2::Socket, u32), glib::Error> {
    let listen_error = |e: std::io::Error| {
        RedError::AddressInUse.error(format!(
            "{} {ip}:{port}: {}",
            gettext("Could not listen on"),
            crate::base::sys::io_error_message(&e)
        ))
    };
    let socket_address = std::net::SocketAddr::new(ip, u16::try_from(port).unwrap_or(0));
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(socket_address),
        socket2::Type::STREAM.nonblocking().cloexec(),
        Some(socket2::Protocol::TCP),
    )
    .map_err(listen_error)?;
    socket.set_reuse_address(true).map_err(listen_error)?;
    socket.bind(&socket_address.into()).map_err(listen_error)?;
    // Room for a burst of connections while the main loop is busy.
    socket.listen(1024).map_err(listen_error)?;
    let bound = socket
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .map(|a| u32::from(a.port()))
        .unwrap_or(port);
    Ok((socket, bound))
}

impl Server {
    /// Accepts connections on `socket`; TLS ones when `tls` is given.
    pub(super) fn listen(&self, socket: socket2::Socket, tls: Option<SslAcceptor>) -> Listener {
        let weak = self.downgrade();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&socket);
        let listening = socket.try_clone();
        let source = self
            .main_core()
            .fd_watch(fd, glib::IOCondition::IN, move |_, _| {
                let (Some(server), Ok(listening)) = (weak.upgrade(), listening.as_ref()) else {
                    return glib::ControlFlow::Break;
                };
                while let Ok((connection, _)) = listening.accept() {
                    // Accepted sockets do not inherit O_NONBLOCK.
                    if connection.set_nonblocking(true).is_err() {
                        continue;
                    }
                    let _ = connection.set_tcp_nodelay(true);
                    server.handle_connection(connection, tls.as_ref());
                }
                glib::ControlFlow::Continue
            });
        Listener {
            socket,
            source,
            unix_path: None,
        }
    }

    /// A new connection: the link stage starts here (after the TLS
    /// handshake, for a connection to the TLS port).
    pub(super) fn handle_connection(&self, socket: socket2::Socket, tls: Option<&SslAcceptor>) {
        let address = socket.peer_addr().ok().and_then(|a| a.as_socket());
        let peer = address
            .map(|a| a.to_string())
            .unwrap_or_else(|| "local".to_string());
        red_debug!("connection from {peer}");
        let socket = StreamSocket::from(socket);
        let conn = match tls {
            None => Conn::Ready(Transport::Plain(socket)),
            Some(acceptor) => match acceptor.accept(socket) {
                Ok(stream) => Conn::Ready(Transport::Tls(Box::new(stream))),
                Err(HandshakeError::WouldBlock(handshaking)) => Conn::Handshaking(handshaking),
                Err(e) => {
                    red_info!("{peer}: TLS handshake failed: {e}");
                    return;
                }
            },
        };
        link_stage::start(self, conn, address.map(|a| a.ip()), peer);
    }
}
