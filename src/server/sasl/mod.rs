//! SASL authentication (`RedServer:auth` = sasl) through Cyrus libsasl2,
//! as spice-server does it: service "spice", the mechanisms of
//! `<sasl-app-name>.conf`, and on a link without TLS a security layer of at
//! least 56 bits (spice-gtk asks for the same and refuses less), which then
//! encodes the whole connection (`Transport::Sasl`). Over TLS no layer is
//! negotiated: TLS's strength is passed to libsasl2 as external.
//!
//! The libsasl2 calls run on the main thread in the link stage. They do not
//! wait for the client; with sasldb they read a local file.

mod ffi;

use std::io;

pub(crate) use ffi::Step;

use crate::model::transport::{SecurityLayer, Transport};

/// The SASL service name spice-server and spice-gtk use.
pub const SERVICE: &str = "spice";
/// The least security strength accepted on a link without TLS
/// (spice-server's and spice-gtk's: "good enough for Kerberos").
pub const MIN_SSF: u32 = 56;
/// The security layer's receive buffer (spice-server's).
const MAX_BUFFER: u32 = 8192;

/// Where the client is in the exchange.
pub(crate) enum State {
    /// The mechanism name is next.
    Mechname,
    /// The first data, for `sasl_server_start` with this mechanism.
    Start(String),
    /// The next data, for `sasl_server_step`.
    Step,
}

/// A SASL exchange in the link stage.
pub(crate) struct Auth {
    conn: ffi::Conn,
    mechlist: String,
    /// No TLS underneath: a security layer is required.
    want_ssf: bool,
    pub state: State,
}

impl Auth {
    /// A new exchange for a link over `transport`: the context, with the
    /// security properties spice-server sets. Initialises libsasl2 with
    /// `app_name` on first use.
    pub fn new(app_name: &str, transport: &Transport) -> Result<Auth, String> {
        let used = ffi::server_init(app_name)?;
        if used != app_name {
            red_warning!(
                "SASL is set up for the application name {used:?} (libsasl2 takes one per process); ignoring {app_name:?}"
            );
        }
        // "a.b.c.d;port" or "::1;port", as spice-server passes them; none
        // for a Unix socket.
        let (local, remote) = match transport.ip_addresses() {
            Some((l, r)) => (
                Some(format!("{};{}", l.ip(), l.port())),
                Some(format!("{};{}", r.ip(), r.port())),
            ),
            None => (None, None),
        };
        let mut conn = ffi::Conn::new(SERVICE, local.as_deref(), remote.as_deref())?;
        let want_ssf = if transport.is_secure() {
            conn.set_external_ssf(transport.tls_cipher_bits().unwrap_or(MIN_SSF))?;
            conn.set_security(0, 0, MAX_BUFFER, 0)?;
            false
        } else {
            conn.set_security(
                MIN_SSF,
                100_000,
                MAX_BUFFER,
                ffi::SEC_NO_PLAINTEXT_NO_ANONYMOUS,
            )?;
            true
        };
        let mechlist = conn.list_mechanisms()?;
        Ok(Auth {
            conn,
            mechlist,
            want_ssf,
            state: State::Mechname,
        })
    }

    /// The mechanisms on offer, as ",A,B,".
    pub fn mechlist(&self) -> &str {
        &self.mechlist
    }

    /// Runs the start or the step the state asks for with the client's
    /// data. The error is libsasl2's detail (no secrets).
    pub fn exchange(&mut self, data: Option<&[u8]>) -> Result<Step, String> {
        match std::mem::replace(&mut self.state, State::Step) {
            State::Start(mech) => self.conn.start(&mech, data),
            State::Step => self.conn.step(data),
            State::Mechname => Err("SASL data before the mechanism".to_string()),
        }
    }

    /// After a complete exchange: whether the security strength is enough
    /// (`Ok(Some(ssf))`: a layer of that strength must now run; `Ok(None)`:
    /// TLS underneath, no layer).
    pub fn check_ssf(&mut self) -> Result<Option<u32>, String> {
        if !self.want_ssf {
            return Ok(None);
        }
        let ssf = self.conn.ssf()?;
        if ssf < MIN_SSF {
            return Err(format!(
                "security strength {ssf} is below {MIN_SSF} on a link without TLS"
            ));
        }
        Ok(Some(ssf))
    }

    /// The security layer of a completed exchange.
    pub fn into_layer(mut self) -> Result<Box<dyn SecurityLayer>, String> {
        let max_out = self.conn.max_outbuf()?.max(1) as usize;
        Ok(Box::new(Layer {
            conn: self.conn,
            max_out,
        }))
    }
}

/// libsasl2's security layer of one connection.
struct Layer {
    conn: ffi::Conn,
    /// The most bytes one `sasl_encode` takes.
    max_out: usize,
}

impl SecurityLayer for Layer {
    fn encode(&mut self, plain: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        for chunk in plain.chunks(self.max_out) {
            self.conn.encode(chunk, out).map_err(io::Error::other)?;
        }
        Ok(())
    }

    fn decode(&mut self, wire: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        self.conn
            .decode(wire, out)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }
}
