//! One socket type for TCP and Unix domain sockets, so that the client's worker, the server and
//! TLS run unchanged over either: `Stream` (a connected or connecting socket) and `Listener`.
//!
//! A `match` per call picks the socket; the branch goes the same way for the whole life of a
//! connection (every connection of a run is of one kind), so it costs a predicted jump next to
//! a system call (measured: README, "Unix sockets"). Both kinds complete their non-blocking
//! connect the same documented way: a writable event, `take_error`, then `peer_addr`
//! (`NotConnected`: still waiting).

use std::io::{self, IoSlice, Read, Write};
use std::path::{Path, PathBuf};

use mio::event::Source;
use mio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use mio::{Interest, Registry, Token};

use super::Transport;

/// A TCP or Unix stream socket, non-blocking.
#[derive(Debug)]
pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    /// Starts a non-blocking connect to the Unix socket at `path`. `Ok` means the connect is
    /// under way or done; a missing path or a socket nobody listens on fails here at once, and
    /// so does a full accept queue (`EAGAIN`, where TCP would wait: said in the message, since
    /// "resource temporarily unavailable" names no cause).
    pub fn connect_unix(path: &Path) -> io::Result<Stream> {
        match UnixStream::connect(path) {
            Ok(s) => Ok(Stream::Unix(s)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(io::Error::other(
                "the socket's accept queue is full (EAGAIN): the server accepts more slowly than clobber connects",
            )),
            Err(e) => Err(e),
        }
    }
}

impl Read for Stream {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    #[inline]
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write_vectored(bufs),
            Stream::Unix(s) => s.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Unix(s) => s.flush(),
        }
    }
}

impl Source for Stream {
    fn register(&mut self, registry: &Registry, token: Token, interests: Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.register(registry, token, interests),
            Stream::Unix(s) => s.register(registry, token, interests),
        }
    }

    fn reregister(&mut self, registry: &Registry, token: Token, interests: Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.reregister(registry, token, interests),
            Stream::Unix(s) => s.reregister(registry, token, interests),
        }
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.deregister(registry),
            Stream::Unix(s) => s.deregister(registry),
        }
    }
}

impl Transport for Stream {
    fn connect_result(&mut self) -> io::Result<bool> {
        // The documented mio procedure: take_error, then peer_addr (NotConnected: still waiting).
        let (error, peer) = match self {
            Stream::Tcp(s) => (s.take_error()?, s.peer_addr().map(drop)),
            Stream::Unix(s) => (s.take_error()?, s.peer_addr().map(drop)),
        };
        if let Some(e) = error {
            return Err(e);
        }
        match peer {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// A listening TCP or Unix socket, non-blocking.
#[derive(Debug)]
pub enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl Listener {
    /// Accepts one connection (`WouldBlock` when none waits). TCP sockets get `TCP_NODELAY`.
    pub fn accept(&self) -> io::Result<Stream> {
        match self {
            Listener::Tcp(l) => {
                let (s, _) = l.accept()?;
                let _ = s.set_nodelay(true);
                Ok(Stream::Tcp(s))
            }
            Listener::Unix(l) => l.accept().map(|(s, _)| Stream::Unix(s)),
        }
    }
}

impl Source for Listener {
    fn register(&mut self, registry: &Registry, token: Token, interests: Interest) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.register(registry, token, interests),
            Listener::Unix(l) => l.register(registry, token, interests),
        }
    }

    fn reregister(&mut self, registry: &Registry, token: Token, interests: Interest) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.reregister(registry, token, interests),
            Listener::Unix(l) => l.reregister(registry, token, interests),
        }
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.deregister(registry),
            Listener::Unix(l) => l.deregister(registry),
        }
    }
}

/// Creates a listening Unix socket at `path` (non-blocking, backlog `backlog`). A socket file
/// left there by a server that is gone is replaced; anything else at `path`, or a socket a
/// live server listens on, is an error naming what is there.
pub fn listen_unix(path: &Path, backlog: i32) -> io::Result<std::os::unix::net::UnixListener> {
    use std::os::unix::fs::FileTypeExt;
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, "the path exists and is not a socket"));
        }
        match std::os::unix::net::UnixStream::connect(path) {
            Ok(_) => return Err(io::Error::new(io::ErrorKind::AddrInUse, "a server listens on this socket already")),
            // Stale: nobody listens.
            Err(_) => std::fs::remove_file(path)?,
        }
    }
    let socket = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None)?;
    socket.bind(&socket2::SockAddr::unix(path)?)?;
    socket.listen(backlog)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// Removes a Unix socket's file when dropped: `clobber serve --listen unix:PATH` leaves
/// nothing behind.
#[derive(Debug)]
pub struct UnixSocketFile(pub PathBuf);

impl Drop for UnixSocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
