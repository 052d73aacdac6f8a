//! The network layer that the client (`engine`) and the server (`server`) share: the
//! `Transport` trait (a non-blocking byte stream whose connect completes in the background),
//! its TCP and TLS implementations (`tls`), one socket type for TCP and Unix sockets (`stream`), socket set-up (`socket`), the few libc calls the
//! safe crates lack (`sys`), `Ready`, what one readiness event said, and what every event loop
//! needs the same way: `STOP_CHECK` and `spawn_pinned`. It knows nothing of requests,
//! responses or statistics; failures are `io::Error`s, TLS's carrying their `error::Kinded`.

use std::io::{self, Read, Write};
use std::thread::JoinHandle;
use std::time::Duration;

pub mod socket;
pub mod stream;
pub mod sys;
pub mod tls;

/// Longest an event loop (a client worker, a server thread) sleeps in `poll` before it looks at
/// its stop flag again: how late a Ctrl-C or a `stop` can take effect.
pub const STOP_CHECK: Duration = Duration::from_millis(50);

/// Starts a thread named `name` that pins itself to `core`, if one is given, before it runs
/// `f`: every event loop thread, client or server, starts this way.
pub fn spawn_pinned<T, F>(name: String, core: Option<core_affinity::CoreId>, f: F) -> io::Result<JoinHandle<T>>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    std::thread::Builder::new().name(name).spawn(move || {
        if let Some(core) = core {
            core_affinity::set_for_current(core);
        }
        f()
    })
}

/// A byte stream whose connect completes in the background (a server's accepted socket is
/// connected from the start).
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

    /// For a TLS client once connected: how long its handshake took, from the TCP connect's
    /// completion to the handshake's. `None` without TLS.
    fn handshake_time(&self) -> Option<Duration> {
        None
    }

    /// For a TLS session once connected: what it negotiated. `None` without TLS.
    fn negotiated(&self) -> Option<Negotiated> {
        None
    }

    /// For a TLS session once connected: the protocol the server selected by ALPN, if any.
    /// `None` without TLS, too.
    fn alpn_protocol(&self) -> Option<&[u8]> {
        None
    }

    /// For a TLS client whose handshake failed: whether the server ended it with the
    /// no_application_protocol alert, refusing every ALPN protocol offered.
    fn alpn_refused(&self) -> bool {
        false
    }
}

/// What a TLS handshake negotiated, in rustls' names: `TLSv1.3`, `TLS13_AES_128_GCM_SHA256`,
/// `X25519`; empty when rustls does not say (a resumed TLS 1.2 session has no key exchange).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    pub version: &'static str,
    pub cipher_suite: &'static str,
    pub group: &'static str,
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
