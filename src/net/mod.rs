//! The network layer that the client (`engine`) and the server (`server`) share: the
//! `Transport` trait (a non-blocking byte stream whose connect completes in the background),
//! its TCP and TLS implementations (`tls`), socket set-up (`socket`), the few libc calls the
//! safe crates lack (`sys`), and `Ready`, what one readiness event said. It knows nothing of
//! requests, responses or statistics; failures are `io::Error`s, TLS's carrying their
//! `error::Kinded`.

use std::io::{self, Read, Write};

pub mod socket;
pub mod sys;
pub mod tls;

/// A byte stream whose connect completes in the background.
pub trait Transport: Read + Write {
    /// Whether the transport queues bytes for the socket itself (TLS records), which
    /// `send_held` sends on writable events.
    const QUEUES_WRITES: bool = false;

    /// `Ok(true)` once connected (for TLS: once the handshake is done), `Ok(false)` while that
    /// is under way, `Err` if it failed.
    fn connect_result(&mut self) -> io::Result<bool>;

    /// Whether a read that returned `n` bytes into a buffer of `len` left nothing to read: on
    /// Linux a short read of a socket means its queue is empty. A TLS transport also needs
    /// its own buffers empty.
    #[inline]
    fn emptied_by(&self, n: usize, len: usize) -> bool {
        n < len
    }

    /// Sends what the transport holds back for the socket (TLS records a full socket did not
    /// take); `WouldBlock` while the socket is still full.
    fn send_held(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// For a TLS session once connected: whether it resumed an earlier one. `None` without TLS.
    fn resumed(&self) -> Option<bool> {
        None
    }
}

impl Transport for mio::net::TcpStream {
    fn connect_result(&mut self) -> io::Result<bool> {
        // The documented mio procedure: take_error, then peer_addr (NotConnected: still waiting).
        if let Some(e) = self.take_error()? {
            return Err(e);
        }
        match self.peer_addr() {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// What one readiness event said.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ready {
    pub readable: bool,
    pub writable: bool,
    /// The peer closed its side or the socket has an error: reads go on until they say so.
    pub read_closed: bool,
}

impl Ready {
    pub fn of(event: &mio::event::Event) -> Ready {
        Ready {
            readable: event.is_readable(),
            writable: event.is_writable() || event.is_write_closed() || event.is_error(),
            read_closed: event.is_read_closed() || event.is_error(),
        }
    }
}
