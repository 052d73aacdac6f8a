//! TLS with rustls over the same non-blocking sockets, inside the same event loops: no thread
//! and no runtime of its own.
//!
//! `TlsStream` pairs a socket (`net::stream::Stream`: TCP or Unix) with a rustls connection (client or server) and is a
//! byte stream like the socket: a read returns plaintext, reading TLS records from the socket
//! only when rustls has no plaintext left; a write encrypts into rustls' record queue and sends
//! what the socket takes. Records the socket did not take stay queued (at most rustls' 64 KiB
//! buffer limit; past it a write says `WouldBlock`) and go out with the next write or on the
//! next writable event (`send_held`). The client's handshake runs in `connect_result`, so it is
//! part of the connection's Connecting state; the server's runs inside its reads.
//!
//! Copies: a read copies plaintext once, from rustls' buffer (where it was decrypted in place)
//! into the worker's read buffer; a write encrypts the request from the plan's buffer straight
//! into a record. Nothing else is copied.
//!
//! Failures of the TLS layer travel as `io::Error`s that carry an `error::Kinded` (made from a
//! `TlsError`), so that they take the same paths as socket errors and `ErrorKind::of_io` finds
//! their kind.

use std::fmt;
use std::io::{self, Read, Write};
use std::ops::DerefMut;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::stream::Stream;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{Resumption, WebPkiServerVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, ConnectionCommon, DigitallySignedStruct, HandshakeKind, RootCertStore,
    ServerConfig, ServerConnection, SideData, SignatureScheme,
};

use crate::config::{ClientTlsConfig, ServerIdentity, TlsVersion};
use crate::error::{ErrorKind, Kinded};
use crate::net::{Negotiated, Transport};

/// A failure of the TLS layer.
#[derive(Debug)]
pub enum TlsError {
    /// rustls refused something: a certificate, an alert from the peer, a malformed record.
    Rustls(rustls::Error),
    /// The socket failed or closed before the handshake completed.
    Handshake(String),
    /// The server asked for a client certificate, got none, and ended the handshake with
    /// this alert (`certificate_required` in TLS 1.3, `handshake_failure` in TLS 1.2).
    ClientCertificateWanted(rustls::AlertDescription),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Rustls(rustls::Error::InvalidCertificate(e)) => {
                write!(f, "TLS: the server's certificate {}", describe_certificate_error(e))
            }
            TlsError::Rustls(rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)) => {
                f.write_str(PLAIN_TEXT_ANSWER)
            }
            TlsError::ClientCertificateWanted(_) => f.write_str(CLIENT_CERTIFICATE_WANTED),
            TlsError::Rustls(e) => write!(f, "TLS: {e}"),
            TlsError::Handshake(what) => write!(f, "TLS handshake: {what}"),
        }
    }
}

/// The first bytes from the server were not a TLS record (rustls: `InvalidContentType`): an
/// `https://` target on a plain-text port, such as an HTTP server answering the ClientHello
/// with `HTTP/1.1 400`.
const PLAIN_TEXT_ANSWER: &str = "the server answered in plain text: is this a TLS port?";

/// `TlsError::ClientCertificateWanted`, in words.
const CLIENT_CERTIFICATE_WANTED: &str = "the server asked for a client certificate: give --cert and --key";

/// What went wrong with a certificate, in words a user can act on.
fn describe_certificate_error(e: &rustls::CertificateError) -> String {
    use rustls::CertificateError as C;
    let unix = |t: &UnixTime| crate::units::utc(t.as_secs() as f64);
    match e {
        // No chain to a trusted root, whatever webpki found on the way: no issuer of that name
        // (`UnknownIssuer`), one of that name whose key did not sign it (`BadSignature`: Debian's
        // snakeoil certificate is CN=localhost too), or a CA certificate as the server's own.
        C::UnknownIssuer | C::BadSignature => NOT_TRUSTED.to_string(),
        C::Other(other) if matches!(webpki_error(other), Some(webpki::Error::CaUsedAsEndEntity)) => {
            NOT_TRUSTED.to_string()
        }
        C::NotValidForNameContext { expected, presented } => format!(
            "is not valid for {} (it names {}; set the name with --sni)",
            expected.to_str(),
            if presented.is_empty() { "nothing".to_string() } else { presented.join(", ") }
        ),
        C::NotValidForName => "is not valid for the server name (set the name with --sni)".to_string(),
        C::ExpiredContext { not_after, .. } => format!("expired at {}", unix(not_after)),
        C::Expired => "has expired".to_string(),
        C::NotValidYetContext { not_before, .. } => format!("is not valid before {}", unix(not_before)),
        C::NotValidYet => "is not valid yet".to_string(),
        C::Revoked => "has been revoked".to_string(),
        C::BadEncoding => "is not valid DER".to_string(),
        C::UnhandledCriticalExtension => "has a critical extension clobber does not know".to_string(),
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
            "is not for TLS servers (extended key usage)".to_string()
        }
        C::UnsupportedSignatureAlgorithmContext { .. } | C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            "is signed with an algorithm clobber does not support".to_string()
        }
        C::Other(other) => match webpki_error(other) {
            Some(e) => format!("was rejected ({})", webpki_words(e)),
            None => format!("was rejected ({other})"),
        },
        _ => "was rejected".to_string(),
    }
}

const NOT_TRUSTED: &str = "has an issuer that is not trusted (not in the system's CA store: add it, or the \
                           certificate itself, with --cacert, or skip the check with -k)";

/// The webpki error inside a rustls `OtherError`, if that is what it holds.
fn webpki_error(other: &rustls::OtherError) -> Option<&webpki::Error> {
    other.0.downcast_ref::<webpki::Error>()
}

/// webpki's `Display` is its `Debug`: these are its names in words.
fn webpki_words(e: &webpki::Error) -> &'static str {
    use webpki::Error as W;
    match e {
        W::CaUsedAsEndEntity => "a CA certificate used as the server's",
        W::EndEntityUsedAsCa => "a server certificate used as a CA",
        W::PathLenConstraintViolated => "the chain is longer than a CA allows",
        W::MaximumPathDepthExceeded | W::MaximumPathBuildCallsExceeded => "the chain is too long",
        W::NameConstraintViolation => "a CA's name constraints exclude it",
        W::SignatureAlgorithmMismatch => "its signature algorithms disagree",
        W::UnsupportedCertVersion => "an unsupported X.509 version",
        W::UnsupportedCriticalExtension => "a critical extension clobber does not know",
        _ => "webpki refused it",
    }
}

impl std::error::Error for TlsError {}

impl TlsError {
    /// The error kind of this failure; `connecting` says whether the handshake was under way.
    pub fn kind(&self, connecting: bool) -> ErrorKind {
        use rustls::Error as E;
        match self {
            TlsError::Rustls(
                E::InvalidCertificate(_) | E::NoCertificatesPresented | E::InvalidCertRevocationList(_),
            ) => ErrorKind::TlsCert,
            TlsError::Rustls(E::AlertReceived(_)) | TlsError::ClientCertificateWanted(_) => ErrorKind::TlsAlert,
            TlsError::Rustls(E::InvalidMessage(rustls::InvalidMessage::InvalidContentType)) => ErrorKind::TlsHandshake,
            TlsError::Rustls(_) if !connecting => ErrorKind::Protocol,
            TlsError::Rustls(_) | TlsError::Handshake(_) => ErrorKind::TlsHandshake,
        }
    }
}

/// A TLS failure as an I/O error that carries its kinds (`error::Kinded`).
fn tls_error(e: TlsError) -> io::Error {
    Kinded { connecting: e.kind(true), connected: e.kind(false), message: e.to_string() }.into_io()
}

fn is_would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

thread_local! {
    /// The server asked this thread's client (a worker, which has one server) for a client
    /// certificate and it had none to give (set by `NoClientCertificate`, which rustls calls on
    /// this thread inside `process_new_packets`): a `handshake_failure` alert that follows is
    /// then the server refusing to go on without one. Sticky: a run loads one server.
    static CLIENT_CERTIFICATE_ASKED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The client's certificate resolver without `--cert`: it has nothing to give, as rustls' own
/// `with_no_client_auth`, and notes that it was asked.
#[derive(Debug)]
struct NoClientCertificate;

impl rustls::client::ResolvesClientCert for NoClientCertificate {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<rustls::sign::CertifiedKey>> {
        CLIENT_CERTIFICATE_ASKED.set(true);
        None
    }

    fn has_certs(&self) -> bool {
        false
    }
}

/// A socket with a TLS session on it. `S` is a `ClientConnection` or a `ServerConnection`.
pub struct TlsStream<S> {
    tcp: Stream,
    tls: S,
    /// The TCP connect completed (clients; a server's socket is connected from the start).
    tcp_connected: bool,
    /// When a client's TCP connect completed (its handshake's start), and how long the
    /// handshake then took.
    tcp_connected_at: Option<Instant>,
    handshake_took: Option<Duration>,
    /// The socket said EOF: what rustls still holds is all there is.
    eof: bool,
    /// The last read from the socket was short, so its queue was empty then.
    drained: bool,
    /// The peer sent close_notify: once rustls' plaintext is read, reads say EOF.
    peer_closed: bool,
    /// The peer ended the handshake with the no_application_protocol alert (rustls'
    /// `AlertReceived(NoApplicationProtocol)`): it speaks none of the ALPN protocols offered.
    alpn_refused: bool,
}

/// The socket as rustls reads it, noting whether a read was short.
struct ShortReadProbe<'a> {
    tcp: &'a mut Stream,
    short: bool,
}

impl Read for ShortReadProbe<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.tcp.read(buf)?;
        self.short = n < buf.len();
        Ok(n)
    }
}

impl<S, D> TlsStream<S>
where
    S: DerefMut<Target = ConnectionCommon<D>>,
    D: SideData,
{
    pub fn new(tcp: Stream, tls: S, tcp_connected: bool) -> TlsStream<S> {
        TlsStream {
            tcp,
            tls,
            tcp_connected,
            tcp_connected_at: None,
            handshake_took: None,
            eof: false,
            drained: false,
            peer_closed: false,
            alpn_refused: false,
        }
    }

    /// Writes queued records until none is left; `WouldBlock` when the socket is full.
    fn send_records(&mut self) -> io::Result<()> {
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut self.tcp) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Sends what is queued, as far as the socket takes it now.
    fn send_some(&mut self) -> io::Result<()> {
        match self.send_records() {
            Err(e) if !is_would_block(&e) => Err(e),
            _ => Ok(()),
        }
    }

    /// Decrypts and acts on the records read so far. On an error, the alert that says why is
    /// sent if the socket takes it.
    fn process(&mut self) -> io::Result<()> {
        match self.tls.process_new_packets() {
            Ok(state) => {
                self.peer_closed = state.peer_has_closed();
                Ok(())
            }
            Err(e) => {
                let _ = self.send_records();
                use rustls::AlertDescription as A;
                self.alpn_refused = matches!(e, rustls::Error::AlertReceived(A::NoApplicationProtocol));
                let e = match e {
                    rustls::Error::AlertReceived(a @ A::CertificateRequired) => TlsError::ClientCertificateWanted(a),
                    rustls::Error::AlertReceived(a @ A::HandshakeFailure) if CLIENT_CERTIFICATE_ASKED.get() => {
                        TlsError::ClientCertificateWanted(a)
                    }
                    e => TlsError::Rustls(e),
                };
                Err(tls_error(e))
            }
        }
    }

    /// Reads records from the socket into rustls and processes them. `Ok(false)` at EOF.
    fn read_records(&mut self) -> io::Result<bool> {
        loop {
            let mut probe = ShortReadProbe { tcp: &mut self.tcp, short: false };
            let result = self.tls.read_tls(&mut probe);
            self.drained = probe.short;
            match result {
                Ok(0) => {
                    self.eof = true;
                    self.process()?;
                    return Ok(false);
                }
                Ok(_) => {
                    self.process()?;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Whether a read that returned `n` of `len` bytes left nothing to read: it did not fill
    /// the buffer, so rustls holds no more plaintext (`process_new_packets` decrypts every
    /// whole record it has), and the last read from the socket was short. Then, as for a
    /// plain socket, the next arrival raises a new edge. Not after close_notify: it often
    /// comes in the same segment as the end of the response (`openssl s_server -www`), so the
    /// socket holds nothing more, yet the next read says EOF; no edge would announce it (the
    /// server may keep its socket open, waiting for the client's close_notify).
    pub fn emptied_by(&self, n: usize, len: usize) -> bool {
        n < len && self.drained && !self.peer_closed
    }
}

impl<S, D> Read for TlsStream<S>
where
    S: DerefMut<Target = ConnectionCommon<D>>,
    D: SideData,
{
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.tls.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if is_would_block(&e) => {}
                // The peer closed the socket without close_notify, as most HTTP servers do:
                // an EOF like any other, which the framing judges.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            if self.eof {
                return Ok(0);
            }
            self.read_records()?;
            if self.tls.wants_write() {
                // A handshake message to answer (servers), or a key update.
                self.send_some()?;
            }
        }
    }
}

impl<S, D> Write for TlsStream<S>
where
    S: DerefMut<Target = ConnectionCommon<D>>,
    D: SideData,
{
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Encrypts as much as rustls' record queue has room for (all of it unless the socket
        // has been refusing records); what was queued before (the client's Finished, after a
        // handshake) goes out with it, in one writev.
        let mut n = self.tls.writer().write(buf)?;
        if n == 0 && !buf.is_empty() {
            self.send_some()?;
            n = self.tls.writer().write(buf)?;
        }
        self.send_some()?;
        if n == 0 && !buf.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_records()
    }
}

impl Transport for TlsStream<ClientConnection> {
    const QUEUES_WRITES: bool = true;

    fn emptied_by(&self, n: usize, len: usize) -> bool {
        TlsStream::emptied_by(self, n, len)
    }

    /// The TCP connect, then the handshake: `Ok(true)` once the session is established.
    fn connect_result(&mut self) -> io::Result<bool> {
        if !self.tcp_connected {
            if !self.tcp.connect_result()? {
                return Ok(false);
            }
            self.tcp_connected = true;
            // The handshake's time is its own figure (`tls.handshake_us`), apart from the TCP
            // connect's. Two clock reads per connection, not per request: the caller's `now`,
            // read before the call, can be older than the TCP completion noticed inside it
            // (against nginx on loopback, handshakes timed from it came out as 0 µs).
            self.tcp_connected_at = Some(Instant::now());
        }
        let in_handshake = |e: io::Error| match Kinded::of_io(&e) {
            Some(_) => e,
            None => tls_error(TlsError::Handshake(e.to_string())),
        };
        while self.tls.is_handshaking() {
            if self.tls.wants_write() {
                match self.send_records() {
                    Ok(()) => continue,
                    Err(e) if is_would_block(&e) => return Ok(false),
                    Err(e) => return Err(in_handshake(e)),
                }
            }
            match self.read_records() {
                Ok(true) => {}
                Ok(false) => {
                    return Err(tls_error(TlsError::Handshake("the server closed the connection".to_string())))
                }
                Err(e) if is_would_block(&e) => return Ok(false),
                Err(e) => return Err(in_handshake(e)),
            }
        }
        if let (Some(at), None) = (self.tcp_connected_at, self.handshake_took) {
            self.handshake_took = Some(at.elapsed());
        }
        // The client's Finished stays queued: the first request's write sends it in the same
        // syscall and segment (or `send_held`, if no request follows at once).
        Ok(true)
    }

    fn send_held(&mut self) -> io::Result<()> {
        self.send_records()
    }

    fn resumed(&self) -> Option<bool> {
        Some(self.tls.handshake_kind() == Some(HandshakeKind::Resumed))
    }

    fn negotiated(&self) -> Option<Negotiated> {
        let version = match self.tls.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
            other => other.and_then(|v| v.as_str()).unwrap_or(""),
        };
        let cipher_suite = self.tls.negotiated_cipher_suite().and_then(|s| s.suite().as_str()).unwrap_or("");
        let group = self.tls.negotiated_key_exchange_group().and_then(|g| g.name().as_str()).unwrap_or("");
        Some(Negotiated { version, cipher_suite, group })
    }

    fn handshake_time(&self) -> Option<Duration> {
        self.handshake_took
    }

    fn alpn_protocol(&self) -> Option<&[u8]> {
        self.tls.alpn_protocol()
    }

    fn alpn_refused(&self) -> bool {
        self.alpn_refused
    }
}

/// The server side: accept completed the TCP connect, and the handshake runs inside reads (a
/// read answers the ClientHello), so there is nothing to wait for before the first read.
impl Transport for TlsStream<ServerConnection> {
    const QUEUES_WRITES: bool = true;

    fn emptied_by(&self, n: usize, len: usize) -> bool {
        TlsStream::emptied_by(self, n, len)
    }

    fn connect_result(&mut self) -> io::Result<bool> {
        Ok(true)
    }

    fn send_held(&mut self) -> io::Result<()> {
        self.send_records()
    }

    fn resumed(&self) -> Option<bool> {
        Some(self.tls.handshake_kind() == Some(HandshakeKind::Resumed))
    }
}

/// The client side of a run's TLS, built from its `ClientTlsConfig`.
#[derive(Debug, Clone)]
pub struct ClientTls {
    /// Trusted roots: the system's store plus `--cacert`.
    pub roots: Arc<RootCertStore>,
    /// The `--cacert` certificates, also trusted as the server's own certificate.
    pub pinned: Vec<CertificateDer<'static>>,
    /// `-k/--insecure`: no certificate check at all.
    pub insecure: bool,
    /// The name sent as SNI and checked against the certificate (`--sni`, or the URL's host).
    pub server_name: ServerName<'static>,
    /// Offer ALPN `http/1.1` (HTTP targets).
    pub alpn_http: bool,
    /// Offer ALPN `h2` only (`--http2`), instead of `http/1.1`.
    pub alpn_h2: bool,
    /// Resume sessions on new connections (`--no-resume` turns it off).
    pub resume: bool,
    /// `--cert`/`--key`: presented when the server asks for a client certificate.
    pub client_cert: Option<ServerIdentity>,
    /// `--tls-version`, `--tls-ciphers`, `--tls-groups` (empty: rustls' defaults).
    pub version: Option<TlsVersion>,
    pub cipher_suites: Vec<rustls::SupportedCipherSuite>,
    pub groups: Vec<&'static dyn rustls::crypto::SupportedKxGroup>,
}

impl ClientTls {
    /// The roots and the server name of `config`, parsed. Both were checked when the command
    /// line was read, so an error here is one of clobber's.
    pub fn new(config: &ClientTlsConfig) -> io::Result<ClientTls> {
        let mut roots = RootCertStore::empty();
        for der in &config.roots_der {
            roots.add(CertificateDer::from(der.clone())).map_err(io::Error::other)?;
        }
        let pinned = config.roots_der[config.system_roots.min(config.roots_der.len())..]
            .iter()
            .map(|der| CertificateDer::from(der.clone()))
            .collect();
        let server_name = ServerName::try_from(config.server_name.clone())
            .map_err(|_| io::Error::other(format!("'{}' is not a TLS server name", config.server_name)))?;
        Ok(ClientTls {
            roots: Arc::new(roots),
            pinned,
            insecure: config.insecure,
            server_name,
            alpn_http: config.alpn_http,
            alpn_h2: config.alpn_h2,
            resume: config.resume,
            client_cert: config.client_cert.clone(),
            version: config.version,
            cipher_suites: config.cipher_suites.iter().map(|name| cipher_suite(name)).collect::<io::Result<_>>()?,
            groups: config.groups.iter().map(|name| kx_group(name)).collect::<io::Result<_>>()?,
        })
    }

    /// A worker's client configuration: each worker builds its own, so its session cache (a
    /// rustls type with a lock inside) is touched only by its own thread, once per handshake.
    pub fn config(&self, connections: usize) -> io::Result<Arc<ClientConfig>> {
        let mut provider = rustls::crypto::aws_lc_rs::default_provider();
        if !self.cipher_suites.is_empty() {
            provider.cipher_suites = self.cipher_suites.clone();
        }
        if !self.groups.is_empty() {
            provider.kx_groups = self.groups.clone();
        }
        let provider = Arc::new(provider);
        let versions: &[&rustls::SupportedProtocolVersion] = match self.version {
            None => rustls::DEFAULT_VERSIONS,
            Some(TlsVersion::Tls12) => &[&rustls::version::TLS12],
            Some(TlsVersion::Tls13) => &[&rustls::version::TLS13],
        };
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(versions)
            .map_err(io::Error::other)?;
        let builder = if self.insecure {
            let algorithms = provider.signature_verification_algorithms;
            builder.dangerous().with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(algorithms)))
        } else {
            builder.dangerous().with_custom_certificate_verifier(self.verifier(&provider)?)
        };
        let mut config = match &self.client_cert {
            None => builder.with_client_cert_resolver(Arc::new(NoClientCertificate)),
            Some(identity) => {
                let (certs, key) = identity_parts(identity).map_err(io::Error::other)?;
                builder.with_client_auth_cert(certs, key).map_err(io::Error::other)?
            }
        };
        if self.alpn_h2 {
            config.alpn_protocols = vec![b"h2".to_vec()];
        } else if self.alpn_http {
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
        }
        config.resumption = if self.resume {
            Resumption::store(Arc::new(TicketPool::new(connections)))
        } else {
            Resumption::disabled()
        };
        if std::env::var_os("SSLKEYLOGFILE").is_some() {
            config.key_log = Arc::new(rustls::KeyLogFile::new());
        }
        Ok(Arc::new(config))
    }

    /// The certificate check: the roots, and the `--cacert` certificates as pins.
    fn verifier(&self, provider: &Arc<rustls::crypto::CryptoProvider>) -> io::Result<Arc<RootsOrPinned>> {
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::clone(&self.roots), Arc::clone(provider))
            .build()
            .map_err(io::Error::other)?;
        Ok(Arc::new(RootsOrPinned { webpki, pinned: self.pinned.clone() }))
    }

    /// Starts a TLS session on a socket whose TCP connect is under way.
    pub fn connect(&self, config: &Arc<ClientConfig>, tcp: Stream) -> io::Result<TlsStream<ClientConnection>> {
        let session = ClientConnection::new(Arc::clone(config), self.server_name.clone()).map_err(io::Error::other)?;
        Ok(TlsStream::new(tcp, session, false))
    }
}

/// The provider's cipher suite of this name (one of `config::TLS_CIPHER_SUITES`, which `cli`
/// checked).
fn cipher_suite(name: &str) -> io::Result<rustls::SupportedCipherSuite> {
    rustls::crypto::aws_lc_rs::ALL_CIPHER_SUITES
        .iter()
        .find(|s| s.suite().as_str() == Some(name))
        .copied()
        .ok_or_else(|| io::Error::other(format!("no cipher suite {name} in rustls")))
}

/// The provider's key exchange group of this name (one of `config::TLS_GROUPS`).
fn kx_group(name: &str) -> io::Result<&'static dyn rustls::crypto::SupportedKxGroup> {
    rustls::crypto::aws_lc_rs::ALL_KX_GROUPS
        .iter()
        .find(|g| g.name().as_str() == Some(name))
        .copied()
        .ok_or_else(|| io::Error::other(format!("no key exchange group {name} in rustls")))
}

/// A worker's session store for its one server. rustls' own in-memory cache keeps 8 TLS 1.3
/// tickets per server, so under `--reconnect` with 50 connections opening at once most find
/// none and do a full handshake (measured: 58% resumed with -c 50, 99% with -c 16). This
/// pool keeps two tickets per connection (each handshake brings two). The lock is rustls'
/// requirement (`Sync`); only this worker's thread takes it, once or twice per handshake.
#[derive(Debug)]
struct TicketPool {
    inner: std::sync::Mutex<Pool>,
}

#[derive(Debug)]
struct Pool {
    server: Option<ServerName<'static>>,
    kx_hint: Option<rustls::NamedGroup>,
    tls12: Option<rustls::client::Tls12ClientSessionValue>,
    tls13: std::collections::VecDeque<rustls::client::Tls13ClientSessionValue>,
    capacity: usize,
}

impl TicketPool {
    fn new(connections: usize) -> TicketPool {
        let capacity = (2 * connections).clamp(8, 4096);
        TicketPool {
            inner: std::sync::Mutex::new(Pool {
                server: None,
                kx_hint: None,
                tls12: None,
                tls13: std::collections::VecDeque::with_capacity(capacity),
                capacity,
            }),
        }
    }

    /// The pool, if it is `server`'s (or becomes it: a run has one server name).
    fn with<R>(&self, server: &ServerName<'_>, f: impl FnOnce(&mut Pool) -> R) -> R {
        let mut pool = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Compared as borrowed: no copy of the name per call.
        if pool.server.as_ref() != Some(server) {
            pool.server = Some(server.to_owned());
            pool.kx_hint = None;
            pool.tls12 = None;
            pool.tls13.clear();
        }
        f(&mut pool)
    }
}

impl rustls::client::ClientSessionStore for TicketPool {
    fn set_kx_hint(&self, server: ServerName<'static>, group: rustls::NamedGroup) {
        self.with(&server, |p| p.kx_hint = Some(group));
    }

    fn kx_hint(&self, server: &ServerName<'_>) -> Option<rustls::NamedGroup> {
        self.with(server, |p| p.kx_hint)
    }

    fn set_tls12_session(&self, server: ServerName<'static>, value: rustls::client::Tls12ClientSessionValue) {
        self.with(&server, |p| p.tls12 = Some(value));
    }

    fn tls12_session(&self, server: &ServerName<'_>) -> Option<rustls::client::Tls12ClientSessionValue> {
        self.with(server, |p| p.tls12.clone())
    }

    fn remove_tls12_session(&self, server: &ServerName<'static>) {
        self.with(server, |p| p.tls12 = None);
    }

    fn insert_tls13_ticket(&self, server: ServerName<'static>, value: rustls::client::Tls13ClientSessionValue) {
        self.with(&server, |p| {
            if p.tls13.len() == p.capacity {
                p.tls13.pop_front();
            }
            p.tls13.push_back(value);
        });
    }

    fn take_tls13_ticket(&self, server: &ServerName<'static>) -> Option<rustls::client::Tls13ClientSessionValue> {
        // The newest first, as rustls' own cache does: it is the least likely to have expired.
        self.with(server, |p| p.tls13.pop_back())
    }
}

/// The trusted roots: the system's CA store (rustls-native-certs reads the same files as
/// OpenSSL, so clobber trusts what curl and wrk on the machine trust) plus the PEM files
/// given. Returns the store and how many roots came from the system.
pub fn load_roots(extra_pem_files: &[std::path::PathBuf]) -> Result<(Vec<Vec<u8>>, usize), String> {
    let mut roots = RootCertStore::empty();
    let mut der = Vec::new();
    for cert in rustls_native_certs::load_native_certs().certs {
        if roots.add(cert.clone()).is_ok() {
            der.push(cert.to_vec());
        }
    }
    let system = der.len();
    for path in extra_pem_files {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{}: not a PEM certificate file ({e})", path.display()))?;
        if certs.is_empty() {
            return Err(format!("{}: no PEM certificate in it", path.display()));
        }
        for cert in certs {
            der.push(cert.to_vec());
            roots.add(cert).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    Ok((der, system))
}

/// The usual check against the roots, which also trusts a server certificate that is itself one
/// of the `--cacert` certificates: what `openssl req -x509` makes is a self-signed CA
/// certificate (CA:TRUE is OpenSSL's default), which webpki refuses as a server's
/// (`CaUsedAsEndEntity`) while curl and OpenSSL accept it when it is the one trusted. The user
/// pinned exactly that certificate; its dates and name are still checked, and the handshake's
/// signature, made with its key, too.
#[derive(Debug)]
struct RootsOrPinned {
    webpki: Arc<WebPkiServerVerifier>,
    /// The `--cacert` certificates.
    pinned: Vec<CertificateDer<'static>>,
}

impl ServerCertVerifier for RootsOrPinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let refused = match self.webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other))) => other,
            verdict => return verdict,
        };
        let pinned = self.pinned.iter().any(|p| p.as_ref() == end_entity.as_ref());
        if !pinned || !matches!(webpki_error(&refused), Some(webpki::Error::CaUsedAsEndEntity)) {
            return Err(rustls::Error::InvalidCertificate(rustls::CertificateError::Other(refused)));
        }
        // webpki checks the validity dates before the basic constraints (CA or not), so a
        // CaUsedAsEndEntity certificate is in its dates (`pinned_ca_expired_is_refused` holds
        // webpki to it). The name is checked here, as webpki would have after the chain.
        let cert = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_name(&cert, server_name)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// `-k/--insecure`: every certificate is accepted, but the handshake's signatures are still
/// checked (so the session is a real one, only its peer unauthenticated).
#[derive(Debug)]
struct AcceptAnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// A new self-signed certificate for `localhost`, 127.0.0.1 and ::1 (the demo's; also what a
/// test trusts with `--cacert`).
pub fn self_signed() -> ServerIdentity {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
    let key = rcgen::generate_simple_self_signed(names).expect("rcgen makes a certificate for fixed names");
    ServerIdentity { cert_pem: key.cert.pem().into_bytes(), key_pem: key.key_pair.serialize_pem().into_bytes() }
}

/// The certificate chain and the private key of `identity`, parsed.
fn identity_parts(identity: &ServerIdentity) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&identity.cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("not a PEM certificate ({e})"))?;
    if certs.is_empty() {
        return Err("no PEM certificate in it".to_string());
    }
    let key = PrivateKeyDer::from_pem_slice(&identity.key_pem).map_err(|e| format!("no PEM private key ({e})"))?;
    Ok((certs, key))
}

/// Checks a client identity (`--cert`/`--key`) at setup: the certificate and the key parse,
/// and the key is the certificate's.
pub fn certified_key(identity: &ServerIdentity) -> Result<(), String> {
    let (certs, key) = identity_parts(identity)?;
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    rustls::sign::CertifiedKey::from_der(certs, key, &provider)
        .map(|_| ())
        .map_err(|e| format!("the certificate and key do not go together: {e}"))
}

/// The server configuration for `identity`: TLS 1.2 and 1.3, stateless session tickets (so
/// clients can resume), ALPN `http/1.1` when `http`.
/// `alpn`: the protocols offered, in order of preference (`ServeMode::alpn`).
pub fn server_config(identity: &ServerIdentity, alpn: &[&[u8]]) -> Result<Arc<ServerConfig>, String> {
    let (certs, key) = identity_parts(identity)?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("the certificate and key do not go together: {e}"))?;
    config.ticketer = rustls::crypto::aws_lc_rs::Ticketer::new().map_err(|e| e.to_string())?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// A server-side session on an accepted socket.
pub fn accept(config: &Arc<ServerConfig>, tcp: Stream) -> io::Result<TlsStream<ServerConnection>> {
    let session = ServerConnection::new(Arc::clone(config)).map_err(io::Error::other)?;
    Ok(TlsStream::new(tcp, session, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate for `localhost` and 127.0.0.1, a CA (as `openssl req -x509`
    /// makes them) or not, valid from `from` to `until` (years).
    fn certificate(ca: bool, from: i32, until: i32) -> CertificateDer<'static> {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("fixed names are valid");
        params.distinguished_name.push(rcgen::DnType::CommonName, "localhost");
        if ca {
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        }
        params.not_before = rcgen::date_time_ymd(from, 1, 1);
        params.not_after = rcgen::date_time_ymd(until, 1, 1);
        let key = rcgen::KeyPair::generate().expect("a new key");
        params.self_signed(&key).expect("a certificate").der().clone()
    }

    /// The words a run reports when the certificate check of `server` (for `name`) fails with
    /// only `cacert` trusted; `None` when it passes.
    fn check(cacert: &[&CertificateDer<'static>], server: &CertificateDer<'static>, name: &str) -> Option<String> {
        let config = ClientTlsConfig {
            roots_der: cacert.iter().map(|c| c.to_vec()).collect(),
            system_roots: 0,
            insecure: false,
            server_name: name.to_string(),
            alpn_http: true,
            alpn_h2: false,
            resume: true,
            client_cert: None,
            version: None,
            cipher_suites: Vec::new(),
            groups: Vec::new(),
        };
        let tls = ClientTls::new(&config).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier = tls.verifier(&provider).unwrap();
        let verdict = verifier.verify_server_cert(server, &[], &tls.server_name, &[], UnixTime::now());
        verdict.err().map(|e| TlsError::Rustls(e).to_string())
    }

    #[test]
    fn pinned_ca_as_the_server_certificate_is_trusted() {
        let ca = certificate(true, 2020, 2100);
        assert_eq!(check(&[&ca], &ca, "localhost"), None);
        assert_eq!(check(&[&ca], &ca, "127.0.0.1"), None);
    }

    #[test]
    fn pinned_ca_for_another_name_is_refused() {
        let ca = certificate(true, 2020, 2100);
        let message = check(&[&ca], &ca, "example.com").unwrap();
        assert!(message.contains("not valid for example.com"), "{message}");
    }

    #[test]
    fn pinned_ca_expired_is_refused() {
        // webpki checks dates before it refuses a CA as the server's certificate: the pin
        // relies on it.
        let old = certificate(true, 2000, 2001);
        let message = check(&[&old], &old, "localhost").unwrap();
        assert!(message.contains("expired at 2001-01-01"), "{message}");
        let young = certificate(true, 2090, 2100);
        let message = check(&[&young], &young, "localhost").unwrap();
        assert!(message.contains("is not valid before 2090-01-01"), "{message}");
    }

    #[test]
    fn unpinned_ca_says_its_issuer_is_not_trusted() {
        let (pinned, other) = (certificate(true, 2020, 2100), certificate(true, 2020, 2100));
        let message = check(&[&pinned], &other, "localhost").unwrap();
        assert!(message.contains("issuer that is not trusted") && message.contains("--cacert"), "{message}");
    }

    #[test]
    fn another_root_of_the_same_name_says_the_issuer_is_not_trusted() {
        // Debian's snakeoil certificate is CN=localhost: webpki tries it as the issuer of any
        // CN=localhost certificate, and its reason is BadSignature.
        let (root, server) = (certificate(true, 2020, 2100), certificate(false, 2020, 2100));
        let message = check(&[&root], &server, "localhost").unwrap();
        assert!(message.contains("issuer that is not trusted") && message.contains("-k"), "{message}");
        assert!(!message.contains("Signature"), "{message}");
    }

    #[test]
    fn certificate_errors_are_words_not_debug_strings() {
        use rustls::CertificateError as C;
        let other = rustls::OtherError(Arc::new(webpki::Error::PathLenConstraintViolated));
        for e in [C::Revoked, C::BadEncoding, C::Other(other), C::ApplicationVerificationFailure] {
            let message = TlsError::Rustls(rustls::Error::InvalidCertificate(e)).to_string();
            // A debug string shows itself by its CamelCase names: `CaUsedAsEndEntity`.
            let camel =
                |w: &str| w.chars().skip(1).any(char::is_lowercase) && w.chars().skip(1).any(char::is_uppercase);
            assert!(!message.split(|c: char| !c.is_alphanumeric()).any(camel), "{message}");
        }
    }

    #[test]
    fn plain_text_from_the_server_is_a_handshake_error_that_says_so() {
        let e = TlsError::Rustls(rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType));
        assert_eq!(e.to_string(), "the server answered in plain text: is this a TLS port?");
        assert_eq!(e.kind(true), ErrorKind::TlsHandshake);
        assert_eq!(e.kind(false), ErrorKind::TlsHandshake);
    }

    /// `cli` checks names against `config`'s lists; each must be a rustls object here.
    #[test]
    fn every_name_cli_takes_is_in_rustls() {
        for name in crate::config::TLS_CIPHER_SUITES {
            assert_eq!(cipher_suite(name).unwrap().suite().as_str(), Some(*name));
        }
        for name in crate::config::TLS_GROUPS {
            assert_eq!(kx_group(name).unwrap().name().as_str(), Some(*name));
        }
        assert_eq!(crate::config::TLS_CIPHER_SUITES.len(), rustls::crypto::aws_lc_rs::ALL_CIPHER_SUITES.len());
        assert_eq!(crate::config::TLS_GROUPS.len(), rustls::crypto::aws_lc_rs::ALL_KX_GROUPS.len());
    }

    #[test]
    fn a_server_that_wants_a_client_certificate_says_so() {
        let e = TlsError::ClientCertificateWanted(rustls::AlertDescription::CertificateRequired);
        assert_eq!(e.to_string(), "the server asked for a client certificate: give --cert and --key");
        assert_eq!((e.kind(true), e.kind(false)), (ErrorKind::TlsAlert, ErrorKind::TlsAlert));
    }
}
