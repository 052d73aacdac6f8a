//! Client socket set-up with socket2: non-blocking, TCP_NODELAY, optional SO_LINGER 0, an
//! optional source address (bound with IP_BIND_ADDRESS_NO_PORT, so the kernel still picks the
//! port per 4-tuple), then a non-blocking connect whose completion the worker learns from a
//! writable event.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

/// How client sockets are set up.
#[derive(Debug, Clone, Copy)]
pub struct SocketOptions {
    /// Close with an RST (SO_LINGER 0) so the client keeps no TIME_WAIT entry: connection-per-
    /// request runs would otherwise exhaust the ephemeral ports.
    pub linger_zero: bool,
}

/// Starts a non-blocking connect to `addr`. `Ok` means the connect is under way (or done);
/// an error here is a connect failure the kernel reported at once.
pub fn connect(addr: SocketAddr, source: Option<IpAddr>, options: SocketOptions) -> io::Result<mio::net::TcpStream> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM.nonblocking(), Some(Protocol::TCP))?;
    socket.set_nodelay(true)?;
    if options.linger_zero {
        socket.set_linger(Some(Duration::ZERO))?;
    }
    if let Some(ip) = source {
        if ip.is_ipv4() {
            super::sys::set_bind_address_no_port(&socket)?;
        }
        socket.bind(&SocketAddr::new(ip, 0).into())?;
    }
    match socket.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) || e.kind() == io::ErrorKind::WouldBlock => {}
        Err(e) => return Err(e),
    }
    Ok(mio::net::TcpStream::from_std(socket.into()))
}
