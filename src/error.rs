//! `ErrorKind`: the one list of what can go wrong with a connection in a run, and `Kinded`,
//! how a lower layer (TLS) names the kind of a failure it carries inside an `io::Error`. A leaf:
//! it depends on nothing in the crate. Kinds serialize in snake_case (`connect_refused`), so
//! maps of them are keyed by the enum, not by strings.

/// Why a connection failed. Each kind has its own counter; the report lists the non-zero ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Nothing listened at the target (ECONNREFUSED while connecting).
    ConnectRefused,
    /// The connect did not complete in time.
    ConnectTimeout,
    /// No local address/port was free (EADDRNOTAVAIL): ephemeral ports ran out.
    AddrNotAvailable,
    /// Any other failure while connecting.
    Connect,
    /// The server reset the connection (ECONNRESET, EPIPE).
    Reset,
    /// The server closed the connection with a request outstanding and no byte of its response.
    Eof,
    /// A response was malformed, cut short, or arrived unasked.
    Protocol,
    /// A response did not arrive in time.
    Timeout,
    /// Any other I/O error on an open connection.
    Io,
    /// An HTTP status outside `--expect-status`.
    Status,
    /// The TLS handshake failed (other than on the certificate or an alert), or the socket
    /// failed or closed during it.
    TlsHandshake,
    /// The server's certificate did not verify (unknown issuer, wrong name, expired).
    TlsCert,
    /// The server sent a TLS alert.
    TlsAlert,
    /// HTTP/2: the server broke the protocol (a bad frame, a header block too large, a
    /// flow-control violation, no SETTINGS in time).
    H2Protocol,
    /// HTTP/2: the server reset a stream (RST_STREAM); the message names its code.
    H2Reset,
    /// HTTP/2: the server ended the connection with GOAWAY and an error code.
    H2Goaway,
    /// HTTP/2 over TLS: the server did not select `h2` by ALPN.
    H2Alpn,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 17] = [
        ErrorKind::ConnectRefused,
        ErrorKind::ConnectTimeout,
        ErrorKind::AddrNotAvailable,
        ErrorKind::Connect,
        ErrorKind::Reset,
        ErrorKind::Eof,
        ErrorKind::Protocol,
        ErrorKind::Timeout,
        ErrorKind::Io,
        ErrorKind::Status,
        ErrorKind::TlsHandshake,
        ErrorKind::TlsCert,
        ErrorKind::TlsAlert,
        ErrorKind::H2Protocol,
        ErrorKind::H2Reset,
        ErrorKind::H2Goaway,
        ErrorKind::H2Alpn,
    ];
    pub const COUNT: usize = Self::ALL.len();

    /// The key in JSON's `errors_by_kind`.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::ConnectRefused => "connect_refused",
            ErrorKind::ConnectTimeout => "connect_timeout",
            ErrorKind::AddrNotAvailable => "addr_not_available",
            ErrorKind::Connect => "connect",
            ErrorKind::Reset => "reset",
            ErrorKind::Eof => "eof",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Io => "io",
            ErrorKind::Status => "status",
            ErrorKind::TlsHandshake => "tls_handshake",
            ErrorKind::TlsCert => "tls_cert",
            ErrorKind::TlsAlert => "tls_alert",
            ErrorKind::H2Protocol => "h2_protocol",
            ErrorKind::H2Reset => "h2_reset",
            ErrorKind::H2Goaway => "h2_goaway",
            ErrorKind::H2Alpn => "h2_alpn",
        }
    }

    /// What the text report says about this kind.
    pub fn describe(self) -> &'static str {
        match self {
            ErrorKind::ConnectRefused => "connect refused (is anything listening there?)",
            ErrorKind::ConnectTimeout => "connect timed out",
            ErrorKind::AddrNotAvailable => {
                "no local port free (EADDRNOTAVAIL): the source address ran out of ephemeral ports; \
                 spread connections over more source addresses with --bind, and keep the default \
                 RST close (no --graceful-close)"
            }
            ErrorKind::Connect => "connect failed",
            ErrorKind::Reset => "reset by the server",
            ErrorKind::Eof => "closed by the server before answering",
            ErrorKind::Protocol => "malformed, cut short or unasked response",
            ErrorKind::Timeout => "response timed out",
            ErrorKind::Io => "other I/O error",
            ErrorKind::Status => "HTTP status not in --expect-status",
            ErrorKind::TlsHandshake => "TLS handshake failed",
            ErrorKind::TlsCert => "server certificate rejected",
            ErrorKind::TlsAlert => "TLS alert from the server",
            ErrorKind::H2Protocol => "HTTP/2 protocol error by the server",
            ErrorKind::H2Reset => "HTTP/2 stream reset by the server (RST_STREAM)",
            ErrorKind::H2Goaway => "HTTP/2 connection ended by the server with an error (GOAWAY)",
            ErrorKind::H2Alpn => "the server did not select h2 by ALPN",
        }
    }

    /// Classifies an I/O error; `connecting` says whether the connection was established. An
    /// error that a lower layer classified itself (a `Kinded` inside, as TLS's are) keeps its
    /// kind.
    pub fn of_io(err: &std::io::Error, connecting: bool) -> ErrorKind {
        use std::io::ErrorKind as K;
        if let Some(kinded) = Kinded::of_io(err) {
            return if connecting { kinded.connecting } else { kinded.connected };
        }
        match err.kind() {
            K::ConnectionRefused => ErrorKind::ConnectRefused,
            K::AddrNotAvailable => ErrorKind::AddrNotAvailable,
            K::TimedOut if connecting => ErrorKind::ConnectTimeout,
            K::TimedOut => ErrorKind::Timeout,
            _ if connecting => ErrorKind::Connect,
            K::ConnectionReset | K::BrokenPipe | K::ConnectionAborted => ErrorKind::Reset,
            K::UnexpectedEof => ErrorKind::Eof,
            _ => ErrorKind::Io,
        }
    }
}

/// A failure that knows its own kind, carried inside an `io::Error` so that it takes the same
/// paths as a socket's errors (TLS's failures travel so): its kind while connecting and once
/// connected, and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kinded {
    pub connecting: ErrorKind,
    pub connected: ErrorKind,
    pub message: String,
}

impl Kinded {
    /// The `Kinded` an I/O error carries, if it carries one.
    pub fn of_io(err: &std::io::Error) -> Option<&Kinded> {
        err.get_ref().and_then(|e| e.downcast_ref::<Kinded>())
    }

    pub fn into_io(self) -> std::io::Error {
        std::io::Error::other(self)
    }
}

impl std::fmt::Display for Kinded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Kinded {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = ErrorKind::ALL.iter().map(|k| k.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ErrorKind::COUNT);
        for (i, k) in ErrorKind::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i);
        }
    }

    #[test]
    fn serde_names_are_the_report_names() {
        for kind in ErrorKind::ALL {
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{}\"", kind.name()));
        }
    }

    #[test]
    fn a_kinded_error_keeps_its_kind() {
        let kinded = Kinded { connecting: ErrorKind::TlsCert, connected: ErrorKind::Protocol, message: "m".into() };
        let err = kinded.into_io();
        assert_eq!(ErrorKind::of_io(&err, true), ErrorKind::TlsCert);
        assert_eq!(ErrorKind::of_io(&err, false), ErrorKind::Protocol);
        assert_eq!(err.to_string(), "m");
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(ErrorKind::of_io(&refused, true), ErrorKind::ConnectRefused);
    }
}
