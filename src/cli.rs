//! The command line: a plain lexopt loop collects raw flags, then `validate` turns them into a
//! `Config` (or `ServeConfig`). Every rejection is a `UsageError` whose one-line message names
//! the flag and the value; `main` prints it and exits 2. `--help` and `--version` come back as
//! values: nothing here prints or exits.

use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use lexopt::prelude::*;

use crate::config::{Config, Framing, ServeConfig, ServeMode, StatusSet, Target};
use crate::protocol::http;
use crate::protocol::raw::{Delimiter, RawFraming};

pub use crate::VERSION;

/// `--give-up` when `-n` is given without `-d`.
pub const DEFAULT_GIVE_UP: Duration = Duration::from_secs(5);

pub const HELP: &str = "\
clobber: an HTTP and TCP load generator with few client CPU cycles per request

USAGE:
    clobber [OPTIONS] http://HOST[:PORT]/PATH   HTTP/1.1 load
    clobber [OPTIONS] https://HOST[:PORT]/PATH  HTTP/1.1 over TLS
    clobber [OPTIONS] tcp://HOST:PORT           raw TCP load (also HOST:PORT; --tls for TLS)
    clobber serve [SERVE OPTIONS]               the built-in target server (serve --help)
    clobber demo [OPTIONS]                      serve and clobber on loopback for 5 s
                                                (demo --tls: over TLS; demo --help)
    clobber merge A.json B.json ...             one report from several runs' JSON
    clobber report A.json [B.json ...] -o F     an HTML page of charts (report --help)

LOAD:
    -c, --connections N   open connections in total, spread over the threads [default: 50]
    -t, --threads N       worker threads, one per core [default: number of CPUs]
        --cpus LIST       cores to pin the workers to, e.g. 0,2-3 [default: all]
        --no-pin          do not pin worker threads to cores
    -d, --duration DUR    run for DUR: 500ms, 10s, 2m, 1h, 1m30s [default: 10s, or none
                          with -n]
    -n, --requests N      stop after exactly N completed responses
        --reconnect       a new connection for every request (connect, write, read, close);
                          the default is to keep each connection open and reuse it.
                          Closes with RST (SO_LINGER 0): no TIME_WAIT, no port exhaustion
        --graceful-close  with --reconnect: close with FIN instead of RST
        --connect-timeout DUR   a connect taking longer is an error [default: 5s]
        --timeout DUR     a response taking longer is an error; the connection is replaced
                          [default: 30s]
        --give-up DUR     end the run (exit 1) when no response has completed for DUR and
                          requests failed meanwhile: a dead, refusing or silent target ends
                          a run instead of being retried for ever [default: 5s with -n and
                          no -d; off otherwise]
        --bind ADDRS      source addresses for the connections, used in turn, e.g.
                          127.0.0.2,127.0.0.3; each must be an address of this machine
                          (a loopback target spreads over 127.0.0.x by itself when one
                          address's ports would not be enough)
        --pipeline N      write N requests at once, then read N responses [default: 1]

HTTP (http:// targets; the request is built once, responses framed by their headers):
    -m, --method NAME     request method [default: GET]
    -H, --header 'N: V'   add a header; replaces a default one of the same name (repeatable)
        --body STR        request body, with Content-Length
        --body-file PATH  request body from a file
        --http-file PATH  send this raw request file as is instead of building one; it must
                          hold exactly one request, its body matching its Content-Length
                          (or chunked encoding)
        --expect-status S statuses that count as success (100-599): 200, 2xx or 200-299,
                          repeatable; others count as errors of kind `status`. Without it
                          every status is tallied and non-2xx are reported, not hidden.
    Defaults: Host, User-Agent: clobber/VERSION; --reconnect adds Connection: close.

RAW TCP REQUEST (tcp:// targets):
        --data STR        the request bytes; escapes: \\r \\n \\t \\\\ \\xNN
        --file PATH       the request bytes from a file (`-` reads standard input)

RAW TCP RESPONSE FRAMING (at most one; --pipeline needs one):
        --until STR       a response ends with STR (same escapes as --data)
        --expect-bytes N  a response is exactly N bytes
        --until-close     a response ends when the server closes the connection
                          Without any of these, a response is whatever one read returns,
                          as in the original clobber: fine for small replies, wrong for
                          replies that arrive in pieces.

TLS (https:// targets, or --tls; rustls, verification against the system's CA store):
        --tls             TLS for a tcp:// target (raw payloads over TLS)
        --cacert PATH     also trust the CA certificates in this PEM file (repeatable)
    -k, --insecure        do not verify the server's certificate (the report says so)
        --sni NAME        the server name to send and verify [default: the target's host]
        --no-resume       a full handshake on every connection; by default --reconnect
                          resumes sessions (tickets), as browsers do
    HTTP targets offer ALPN http/1.1. SSLKEYLOGFILE=path logs session keys for Wireshark.

RATE AND MEASUREMENT:
    -R, --rate N          N requests per second in total, on a schedule (open loop);
                          latency counts from when each request was due, so server stalls
                          show (coordinated-omission correction); the report also gives the
                          uncorrected service time. Fractions are fine: -R 0.5
        --warmup DUR      run the load for DUR first, recording nothing
        --start-at T      wait until Unix time T (seconds) before starting, to line up
                          runs on several machines (see clobber merge --help)

OUTPUT:
        --json            print the report as one JSON object on stdout
        --html PATH       also write the report as an HTML page of charts to PATH
        --fail-on-error   exit 1 if any request failed (an error of any kind, a status
                          outside --expect-status), not only if none completed: for CI
        --progress        a line per second on stderr (default when stderr is a terminal
                          and the output is not --json)
    -h, --help            print this help
    -V, --version         print the version

EXIT CODES:
    0  success: at least one request completed (with an expected status), and with
       --fail-on-error none failed
    1  no request completed; or --fail-on-error and any request failed; or the run was
       stopped (Ctrl-C) during the warm-up or before --start-at; or it gave up (e.g. a
       certificate rejected before any connection got through)
    2  bad usage: a one-line message naming the flag
";

pub const DEMO_HELP: &str = "\
clobber demo: the built-in HTTP server and a load against it, both on loopback

USAGE:
    clobber demo [OPTIONS]

Starts `clobber serve --mode http` on 127.0.0.1 (a free port, pinned to the last core),
clobbers it with GET / from the other cores, then prints the report and what the server
counted. It picks its own target: give none.

OPTIONS:
    -d, --duration DUR    run for DUR: 500ms, 10s, 1m30s [default: 5s]
    -n, --requests N      stop after exactly N completed responses
    -c, --connections N   open connections in total [default: 50]
    -t, --threads N       worker threads [default: all cores but the server's]
        --cpus LIST       cores to pin the workers to, e.g. 0,2-3
        --no-pin          do not pin worker threads to cores
        --tls             serve and load over TLS, with a new self-signed certificate that
                          the load trusts (verified, as a real https:// target is)
        --reconnect       a new connection for every request
        --pipeline N      write N requests at once, then read N responses [default: 1]
    -R, --rate N          N requests per second in total, on a schedule (open loop)
        --warmup DUR      run the load for DUR first, recording nothing
    -m, -H, --body, --expect-status, --timeout, --no-resume ...
                          and the other HTTP, TLS and timing options of clobber --help
        --json            print the report as one JSON object on stdout
        --html PATH       also write the report as an HTML page of charts to PATH
        --progress        a line per second on stderr
    -h, --help            print this help
";

pub const MERGE_HELP: &str = "\
clobber merge: one report from the JSON reports of several runs (machines)

USAGE:
    clobber merge A.json B.json ... [--json]

Counts, statuses and errors are added; the latency histograms (carried losslessly in each
report's `histogram` field) are merged, so the percentiles are those of all requests, never
averages; timelines are joined by wall-clock second. Run the loads with --start-at so that
they begin together.
";

pub const REPORT_HELP: &str = "\
clobber report: one self-contained HTML page from runs' JSON reports

USAGE:
    clobber report RUN.json [MORE.json ...] [-o PAGE.html] [--label NAME ...]

OPTIONS:
    -o, --output PATH     write the page here [default: standard output]
        --label NAME      the name of the next run on the page, in file order (repeatable)
                          [default: the file name without .json]

The page has the runs' commands, targets, dates and machines, a table of results side by side,
and charts: latency by percentile (from the full histogram, to p99.999), responses per second,
p50 and p99 per second, and errors per second by kind. Several runs are overlaid, one colour
and marker each. Everything is inline (SVG and CSS): it opens offline and can be attached to a
ticket. `clobber ... --html PAGE.html` writes the same page straight from a run.
";

pub const SERVE_HELP: &str = "\
clobber serve: the built-in target server (mio, one event loop per thread, no locks)

USAGE:
    clobber serve [OPTIONS]

OPTIONS:
        --listen ADDR     address to listen on; port 0 picks a free one [default: 127.0.0.1:8000]
        --mode MODE       echo: send back every byte received; http: answer every HTTP/1.1
                          request with `200 OK` and body `hello` [default: echo]
        --until STR       echo mode: what ends a request, for counting [default: \\n]
        --respond STR     the bytes to send for each request instead of the default
                          (echo mode: per --until request; http mode: a whole response)
    -t, --threads N       server threads [default: 1]
        --cpus LIST       cores to pin the server threads to, e.g. 1 or 0,2-3
        --delay DUR       hold every response for DUR (other connections go on)
        --stall-every N   with --stall DUR: freeze the whole server thread for DUR after
        --stall DUR       every N requests (a stop-the-world pause, for latency tests)
        --tls-cert PEM    serve TLS with this certificate chain...
        --tls-key PEM     ...and this private key (both, or neither)
        --tls             serve TLS with a new self-signed certificate for localhost,
                          127.0.0.1 and ::1 (clients then need --cacert or -k)
    -h, --help            print this help

It prints `listening on ADDR` first, and `served R requests on C connections` when it
gets SIGINT or SIGTERM, then exits 0.
";

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    Run(Config),
    Serve(ServeConfig),
    /// A run against an in-process server, whose address is known only once it listens.
    Demo(DemoArgs),
    /// Several runs' JSON reports into one report.
    Merge {
        files: Vec<std::path::PathBuf>,
        json: bool,
    },
    /// Runs' JSON reports into an HTML page.
    Report {
        files: Vec<std::path::PathBuf>,
        labels: Vec<String>,
        output: Option<std::path::PathBuf>,
    },
    Help(&'static str),
    Version,
}

/// A bad command line: the message names the flag and the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<lexopt::Error> for UsageError {
    fn from(e: lexopt::Error) -> UsageError {
        UsageError(e.to_string())
    }
}

/// lexopt's error for `command`'s arguments; an option or argument it does not take points
/// to the command's help.
fn unknown(e: lexopt::Error, command: &str) -> UsageError {
    match e {
        lexopt::Error::UnexpectedOption(_)
        | lexopt::Error::UnexpectedArgument(_)
        | lexopt::Error::UnexpectedValue { .. } => UsageError(format!("{e}; see {command} --help")),
        other => other.into(),
    }
}

fn bad(flag: &str, value: &str, expected: &str) -> UsageError {
    UsageError(format!("invalid value '{value}' for {flag}: {expected}"))
}

/// The demo's flags, already validated; `config` points them at the server that listens.
#[derive(Debug)]
pub struct DemoArgs {
    raw: RunArgs,
    /// `demo --tls`: the server's self-signed identity, which the load trusts.
    pub identity: Option<crate::config::ServerIdentity>,
}

impl DemoArgs {
    pub fn config(&self, addr: SocketAddr) -> Config {
        let mut raw = self.raw.clone();
        let scheme = if self.identity.is_some() { "https" } else { "http" };
        raw.target = Some(format!("{scheme}://{addr}/"));
        let mut config = validate(raw).expect("the demo's flags were validated with a stand-in address");
        if let (Some(tls), Some(identity)) = (&mut config.tls, &self.identity) {
            for cert in <rustls::pki_types::CertificateDer as rustls::pki_types::pem::PemObject>::pem_slice_iter(
                &identity.cert_pem,
            ) {
                tls.roots_der.push(cert.expect("our own PEM parses").to_vec());
            }
        }
        config
    }
}

/// Flags of a load run as typed, before validation.
#[derive(Debug, Default, Clone)]
struct RunArgs {
    target: Option<String>,
    connections: Option<String>,
    threads: Option<String>,
    cpus: Option<String>,
    no_pin: bool,
    duration: Option<String>,
    requests: Option<String>,
    data: Option<String>,
    file: Option<String>,
    until: Option<String>,
    expect_bytes: Option<String>,
    until_close: bool,
    pipeline: Option<String>,
    reconnect: bool,
    json: bool,
    method: Option<String>,
    headers: Vec<String>,
    body: Option<String>,
    body_file: Option<String>,
    http_file: Option<String>,
    expect_status: Vec<String>,
    rate: Option<String>,
    warmup: Option<String>,
    progress: bool,
    start_at: Option<String>,
    connect_timeout: Option<String>,
    timeout: Option<String>,
    give_up: Option<String>,
    bind: Option<String>,
    graceful_close: bool,
    tls: bool,
    cacert: Vec<String>,
    insecure: bool,
    sni: Option<String>,
    no_resume: bool,
    html: Option<String>,
    fail_on_error: bool,
}

/// Parses the arguments after the program name.
pub fn parse<I>(args: I) -> Result<Command, UsageError>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    let mut parser = lexopt::Parser::from_args(args);
    let mut raw = RunArgs::default();
    let mut demo = false;
    let mut first = true;
    loop {
        let command = if demo { "clobber demo" } else { "clobber" };
        let Some(arg) = parser.next().map_err(|e| unknown(e, command))? else { break };
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help(if demo { DEMO_HELP } else { HELP })),
            Short('V') | Long("version") => return Ok(Command::Version),
            Short('c') | Long("connections") => raw.connections = Some(string(&mut parser, "-c/--connections")?),
            Short('t') | Long("threads") => raw.threads = Some(string(&mut parser, "-t/--threads")?),
            Long("cpus") => raw.cpus = Some(string(&mut parser, "--cpus")?),
            Long("no-pin") => raw.no_pin = true,
            Short('d') | Long("duration") => raw.duration = Some(string(&mut parser, "-d/--duration")?),
            Short('n') | Long("requests") => raw.requests = Some(string(&mut parser, "-n/--requests")?),
            Long("data") => raw.data = Some(string(&mut parser, "--data")?),
            Long("file") => raw.file = Some(string(&mut parser, "--file")?),
            Long("until") => raw.until = Some(string(&mut parser, "--until")?),
            Long("expect-bytes") => raw.expect_bytes = Some(string(&mut parser, "--expect-bytes")?),
            Long("until-close") => raw.until_close = true,
            Long("pipeline") => raw.pipeline = Some(string(&mut parser, "--pipeline")?),
            Long("reconnect") => raw.reconnect = true,
            Long("json") => raw.json = true,
            Short('m') | Long("method") => raw.method = Some(string(&mut parser, "-m/--method")?),
            Short('H') | Long("header") => raw.headers.push(string(&mut parser, "-H/--header")?),
            Long("body") => raw.body = Some(string(&mut parser, "--body")?),
            Long("body-file") => raw.body_file = Some(string(&mut parser, "--body-file")?),
            Long("http-file") => raw.http_file = Some(string(&mut parser, "--http-file")?),
            Long("expect-status") => raw.expect_status.push(string(&mut parser, "--expect-status")?),
            Short('R') | Long("rate") => raw.rate = Some(string(&mut parser, "-R/--rate")?),
            Long("warmup") => raw.warmup = Some(string(&mut parser, "--warmup")?),
            Long("progress") => raw.progress = true,
            Long("start-at") => raw.start_at = Some(string(&mut parser, "--start-at")?),
            Long("connect-timeout") => raw.connect_timeout = Some(string(&mut parser, "--connect-timeout")?),
            Long("timeout") => raw.timeout = Some(string(&mut parser, "--timeout")?),
            Long("give-up") => raw.give_up = Some(string(&mut parser, "--give-up")?),
            Long("bind") => raw.bind = Some(string(&mut parser, "--bind")?),
            Long("graceful-close") => raw.graceful_close = true,
            Long("tls") => raw.tls = true,
            Long("cacert") => raw.cacert.push(string(&mut parser, "--cacert")?),
            Short('k') | Long("insecure") => raw.insecure = true,
            Long("sni") => raw.sni = Some(string(&mut parser, "--sni")?),
            Long("no-resume") => raw.no_resume = true,
            Long("html") => raw.html = Some(string(&mut parser, "--html")?),
            Long("fail-on-error") => raw.fail_on_error = true,
            Value(v) if first && v == "merge" => return parse_merge(parser),
            Value(v) if first && v == "report" => return parse_report(parser),
            Value(v) if first && v == "serve" => return parse_serve(parser),
            Value(v) if first && v == "demo" => demo = true,
            Value(v) => {
                let v = v.into_string().map_err(|v| bad("TARGET", &v.to_string_lossy(), "not UTF-8"))?;
                if raw.target.is_some() {
                    return Err(UsageError(format!("unexpected argument '{v}': only one TARGET is allowed")));
                }
                raw.target = Some(v);
            }
            _ => return Err(unknown(arg.unexpected(), command)),
        }
        first = false;
    }
    if demo {
        if let Some(t) = raw.target {
            return Err(UsageError(format!("unexpected argument '{t}': demo picks its own target")));
        }
        // The demo loads the built-in HTTP server; main fills in its port once it listens.
        let identity = raw.tls.then(crate::net::tls::self_signed);
        raw.tls = false;
        let scheme = if identity.is_some() { "https" } else { "http" };
        raw.target = Some(format!("{scheme}://127.0.0.1:1/"));
        raw.duration.get_or_insert_with(|| "5s".to_string());
        // The demo's server takes the last core; the load gets the others.
        let cores = core_affinity::get_core_ids().unwrap_or_default();
        if raw.threads.is_none() && raw.cpus.is_none() && cores.len() > 1 {
            raw.cpus = Some(format!("0-{}", cores.len() - 2));
        }
        // Validated now, with a stand-in port, so a bad flag is reported before anything starts.
        validate(raw.clone())?;
        return Ok(Command::Demo(DemoArgs { raw, identity }));
    }
    Ok(Command::Run(validate(raw)?))
}

fn string(parser: &mut lexopt::Parser, flag: &str) -> Result<String, UsageError> {
    let v = parser.value()?;
    v.into_string().map_err(|v| bad(flag, &v.to_string_lossy(), "not UTF-8"))
}

fn validate(raw: RunArgs) -> Result<Config, UsageError> {
    let target_text = raw.target.as_deref().map(lowercase_scheme).ok_or_else(|| {
        UsageError("missing TARGET (http://HOST:PORT/PATH, tcp://HOST:PORT or HOST:PORT); try --help".to_string())
    })?;
    let connections = match &raw.connections {
        Some(v) => positive(v, "-c/--connections")? as usize,
        None => 50,
    };
    let cpus = raw.cpus.as_deref().map(|v| parse_cpus(v, "--cpus")).transpose()?;
    let threads = match (&raw.threads, &cpus) {
        (Some(v), _) => positive(v, "-t/--threads")? as usize,
        (None, Some(list)) => list.len(),
        (None, None) => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    if threads > 1024 {
        return Err(bad("-t/--threads", &threads.to_string(), "expected at most 1024"));
    }
    // More threads than connections would leave threads with nothing to do.
    let threads = threads.min(connections);
    let requests = raw.requests.as_deref().map(|v| positive(v, "-n/--requests")).transpose()?;
    let duration = match (&raw.duration, requests) {
        (Some(v), _) => Some(parse_duration(v).map_err(|e| bad("-d/--duration", v, &e))?),
        (None, Some(_)) => None,
        (None, None) => Some(Duration::from_secs(10)),
    };
    let pipeline = match &raw.pipeline {
        Some(v) => positive(v, "--pipeline")? as usize,
        None => 1,
    };
    if pipeline > 65_536 {
        return Err(bad("--pipeline", &pipeline.to_string(), "expected at most 65536"));
    }
    let rate = raw
        .rate
        .as_deref()
        .map(|v| match v.parse::<f64>() {
            Ok(r) if r > 0.0 && r.is_finite() && r <= 1e9 => Ok(r),
            _ => Err(bad("-R/--rate", v, "expected requests per second, more than 0 (0.5 and 2000 are fine)")),
        })
        .transpose()?;
    if rate.is_some() && pipeline > 1 {
        return Err(UsageError("-R/--rate paces single requests: it cannot be combined with --pipeline".to_string()));
    }
    let warmup = raw.warmup.as_deref().map(|v| parse_duration(v).map_err(|e| bad("--warmup", v, &e))).transpose()?;
    let start_at = raw
        .start_at
        .as_deref()
        .map(|v| match v.parse::<f64>() {
            Ok(t) if t >= 0.0 && t.is_finite() => Ok(t),
            _ => Err(bad("--start-at", v, "expected a Unix time in seconds, e.g. $(($(date +%s) + 10))")),
        })
        .transpose()?;
    // Live progress: on a terminal by default, never mixed into JSON unless asked for.
    let progress = raw.progress || (!raw.json && std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let http = target_text.starts_with("http://") || target_text.starts_with("https://");
    let (target, payload, framing, expect_status) =
        if http { http_request(&raw, &target_text)? } else { raw_request(&raw, &target_text, pipeline)? };
    let tls = client_tls(&raw, &target, http)?;
    let html = raw.html.as_deref().map(|path| writable_path(path, "--html")).transpose()?;
    let connect_timeout = match &raw.connect_timeout {
        Some(v) => parse_duration(v).map_err(|e| bad("--connect-timeout", v, &e))?,
        None => Duration::from_secs(5),
    };
    let timeout = match &raw.timeout {
        Some(v) => parse_duration(v).map_err(|e| bad("--timeout", v, &e))?,
        None => Duration::from_secs(30),
    };
    let give_up = match &raw.give_up {
        Some(v) => Some(parse_duration(v).map_err(|e| bad("--give-up", v, &e))?),
        // With -n alone nothing else ends a run whose target never answers.
        None if requests.is_some() && duration.is_none() => Some(DEFAULT_GIVE_UP),
        None => None,
    };
    if raw.graceful_close && !raw.reconnect {
        return Err(UsageError(
            "--graceful-close is how --reconnect closes its connections: give --reconnect too, or drop it".to_string(),
        ));
    }
    let bind = source_addresses(&raw, &target, connections)?;
    Ok(Config {
        target,
        connections,
        threads,
        cpus,
        pin: !raw.no_pin,
        duration,
        requests,
        payload,
        framing,
        expect_status,
        pipeline,
        reconnect: raw.reconnect,
        json: raw.json,
        rate,
        warmup,
        progress,
        start_at,
        connect_timeout,
        timeout,
        give_up,
        bind,
        graceful_close: raw.graceful_close,
        tls,
        html,
        fail_on_error: raw.fail_on_error,
    })
}

/// The target with its scheme in lower case: schemes are case-insensitive (RFC 3986 3.1), so
/// `HTTP://` is `http://`.
fn lowercase_scheme(text: &str) -> String {
    match text.split_once("://") {
        Some((scheme, rest)) if scheme.bytes().all(|b| b.is_ascii_alphabetic()) => {
            format!("{}://{rest}", scheme.to_ascii_lowercase())
        }
        _ => text.to_string(),
    }
}

/// A file path whose directory exists, checked before the run so that its end is not lost.
fn writable_path(path: &str, flag: &str) -> Result<std::path::PathBuf, UsageError> {
    let p = std::path::PathBuf::from(path);
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    if path.is_empty() || p.is_dir() || !dir.is_dir() {
        return Err(bad(flag, path, "expected a file path in an existing directory"));
    }
    Ok(p)
}

/// `clobber report FILE... [-o PATH] [--label NAME]...`.
fn parse_report(mut parser: lexopt::Parser) -> Result<Command, UsageError> {
    let mut files = Vec::new();
    let mut labels = Vec::new();
    let mut output = None;
    while let Some(arg) = parser.next().map_err(|e| unknown(e, "clobber report"))? {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help(REPORT_HELP)),
            Short('o') | Long("output") => {
                output = Some(writable_path(&string(&mut parser, "-o/--output")?, "-o/--output")?);
            }
            Long("label") => labels.push(string(&mut parser, "--label")?),
            Value(v) => files.push(std::path::PathBuf::from(v)),
            _ => return Err(unknown(arg.unexpected(), "clobber report")),
        }
    }
    if files.is_empty() {
        return Err(UsageError("report needs at least one JSON report (clobber ... --json > run.json)".to_string()));
    }
    if labels.len() > files.len() {
        return Err(bad("--label", &labels[files.len()], &format!("more labels than the {} files", files.len())));
    }
    Ok(Command::Report { files, labels, output })
}

/// The TLS settings of a run: on for `https://` and for `--tls`; the TLS flags need one.
fn client_tls(
    raw: &RunArgs,
    target: &Target,
    http: bool,
) -> Result<Option<crate::config::ClientTlsConfig>, UsageError> {
    let target_text = target.label.as_str();
    let https = target_text.starts_with("https://");
    if raw.tls && http && !https {
        return Err(UsageError(format!("--tls with an http:// target: write https:// instead ('{target_text}')")));
    }
    if !(https || raw.tls) {
        let tls_only = [
            ("--cacert", !raw.cacert.is_empty()),
            ("-k/--insecure", raw.insecure),
            ("--sni", raw.sni.is_some()),
            ("--no-resume", raw.no_resume),
        ];
        if let Some((flag, _)) = tls_only.iter().find(|(_, given)| *given) {
            return Err(UsageError(format!("{flag} needs TLS: an https:// target, or --tls with tcp://")));
        }
        return Ok(None);
    }
    let server_name = match &raw.sni {
        Some(name) => rustls::pki_types::ServerName::try_from(name.as_str())
            .map_err(|_| bad("--sni", name, "expected a DNS name such as example.com, or an IP address"))?
            .to_str()
            .into_owned(),
        None => rustls::pki_types::ServerName::try_from(target.host.as_str())
            .map_err(|_| {
                bad("TARGET", target_text, &format!("'{}' is not a name TLS can verify; give --sni", target.host))
            })?
            .to_str()
            .into_owned(),
    };
    if raw.insecure && !raw.cacert.is_empty() {
        return Err(UsageError(
            "--cacert has no effect with -k/--insecure (nothing is verified): give one or the other".into(),
        ));
    }
    let paths: Vec<std::path::PathBuf> = raw.cacert.iter().map(std::path::PathBuf::from).collect();
    let roots_der = if raw.insecure {
        Vec::new()
    } else {
        crate::net::tls::load_roots(&paths).map_err(|e| bad("--cacert", &raw.cacert.join(","), &e))?.0
    };
    Ok(Some(crate::config::ClientTlsConfig {
        roots_der,
        insecure: raw.insecure,
        server_name,
        alpn_http: http,
        resume: !raw.no_resume,
    }))
}

/// The source addresses: `--bind` as given; else, for a loopback IPv4 target with many
/// connections, 127.0.0.1, 127.0.0.2, ... at most `PER_SOURCE` connections each; else none
/// (the kernel picks, at no extra syscall). Measured here: the kernel's search for a free
/// ephemeral port slows sharply as one address pair's ports fill (10,000 blocking connects
/// from one address took 0.5 s, the next 8,000 took 9 s), long before the 28,000 ports run
/// out. Connection-per-request with FIN closes (TIME_WAIT) spreads too.
const PER_SOURCE: usize = 4000;

fn source_addresses(raw: &RunArgs, target: &Target, connections: usize) -> Result<Vec<IpAddr>, UsageError> {
    if let Some(v) = &raw.bind {
        let mut list = Vec::new();
        for part in v.split(',') {
            let ip: IpAddr =
                part.trim().parse().map_err(|_| bad("--bind", v, "expected addresses such as 127.0.0.2,127.0.0.3"))?;
            if ip.is_ipv4() != target.addr.is_ipv4() {
                return Err(bad("--bind", v, &format!("{ip} is not of the same family as the target {}", target.addr)));
            }
            check_local(ip).map_err(|e| bad("--bind", v, &format!("{ip} {e}")))?;
            list.push(ip);
        }
        return Ok(list);
    }
    match target.addr.ip() {
        IpAddr::V4(ip) if ip.is_loopback() && (connections > PER_SOURCE || (raw.reconnect && raw.graceful_close)) => {
            let n = connections.div_ceil(PER_SOURCE).clamp(8, 250) as u8;
            Ok((1..=n).map(|i| IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, i))).collect())
        }
        _ => Ok(Vec::new()),
    }
}

/// Checks, before the run, that `ip` is an address of this machine, by binding a UDP socket
/// to it (port 0) and closing it: that sends nothing. Otherwise every connect would fail with
/// `EADDRNOTAVAIL`, which the report would blame on running out of ephemeral ports.
fn check_local(ip: IpAddr) -> Result<(), String> {
    match std::net::UdpSocket::bind((ip, 0)) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrNotAvailable => {
            Err("is not an address of this machine (a source address must be one of its own: see `ip address`)".into())
        }
        Err(e) => Err(format!("cannot be bound: {e}")),
    }
}

/// `clobber merge FILE... [--json]`: JSON reports from several runs into one.
fn parse_merge(mut parser: lexopt::Parser) -> Result<Command, UsageError> {
    let mut files = Vec::new();
    let mut json = false;
    while let Some(arg) = parser.next().map_err(|e| unknown(e, "clobber merge"))? {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help(MERGE_HELP)),
            Long("json") => json = true,
            Value(v) => files.push(std::path::PathBuf::from(v)),
            _ => return Err(unknown(arg.unexpected(), "clobber merge")),
        }
    }
    if files.is_empty() {
        return Err(UsageError("merge needs at least one JSON report (clobber ... --json > run.json)".to_string()));
    }
    Ok(Command::Merge { files, json })
}

type Request = (Target, Vec<u8>, Framing, Option<StatusSet>);

/// A `tcp://` or `HOST:PORT` target: the request bytes and the raw framing.
fn raw_request(raw: &RunArgs, target_text: &str, pipeline: usize) -> Result<Request, UsageError> {
    let http_only = [
        ("-m/--method", raw.method.is_some()),
        ("-H/--header", !raw.headers.is_empty()),
        ("--body", raw.body.is_some()),
        ("--body-file", raw.body_file.is_some()),
        ("--http-file", raw.http_file.is_some()),
        ("--expect-status", !raw.expect_status.is_empty()),
    ];
    if let Some((flag, _)) = http_only.iter().find(|(_, given)| *given) {
        return Err(UsageError(format!("{flag} needs an http:// target (the target is '{target_text}')")));
    }
    let target = parse_target(target_text)?;
    let payload = match (&raw.data, &raw.file) {
        (Some(_), Some(_)) => return Err(UsageError("--data and --file cannot be used together".to_string())),
        (Some(d), None) => parse_escapes(d).map_err(|e| bad("--data", d, &e))?,
        (None, Some(path)) => read_file(path, "--file")?,
        (None, None) => {
            return Err(UsageError("no request bytes: give --data STR or --file PATH for a tcp:// target".to_string()))
        }
    };
    if payload.is_empty() {
        return Err(UsageError("the request is empty: --data or --file must give at least one byte".to_string()));
    }
    let framing = parse_framing(raw)?;
    if pipeline > 1 {
        match framing {
            RawFraming::OneRead => {
                return Err(UsageError(
                    "--pipeline needs a response framing: give --until, --expect-bytes or --until-close".to_string(),
                ))
            }
            RawFraming::UntilClose => return Err(UsageError(
                "--pipeline with --until-close: only one response can end at a close; use --until or --expect-bytes"
                    .to_string(),
            )),
            _ => {}
        }
    }
    Ok((target, payload, Framing::Raw(framing), None))
}

/// An `http://` target: the request built once from the URL and the flags (or a raw file).
fn http_request(raw: &RunArgs, target_text: &str) -> Result<Request, UsageError> {
    let raw_only = [
        ("--data", raw.data.is_some()),
        ("--file", raw.file.is_some()),
        ("--until", raw.until.is_some()),
        ("--expect-bytes", raw.expect_bytes.is_some()),
        ("--until-close", raw.until_close),
    ];
    if let Some((flag, _)) = raw_only.iter().find(|(_, given)| *given) {
        let hint = if flag.starts_with("--data") || flag.starts_with("--file") {
            "use --body, --body-file or --http-file"
        } else {
            "HTTP responses are framed by their headers"
        };
        return Err(UsageError(format!("{flag} is for tcp:// targets; {hint}")));
    }
    let url = http::parse_url(target_text).map_err(|e| bad("TARGET", target_text, &e))?;
    let addr = resolve_host(&url.host, url.port).map_err(|e| bad("TARGET", target_text, &e))?;
    let target = Target { label: target_text.to_string(), host: url.host.clone(), addr };
    let (payload, head) = if let Some(path) = &raw.http_file {
        let built_flags = [
            ("-m/--method", raw.method.is_some()),
            ("-H/--header", !raw.headers.is_empty()),
            ("--body", raw.body.is_some()),
            ("--body-file", raw.body_file.is_some()),
        ];
        if let Some((flag, _)) = built_flags.iter().find(|(_, given)| *given) {
            return Err(UsageError(format!("--http-file sends its request as is: {flag} cannot be added to it")));
        }
        let bytes = read_file(path, "--http-file")?;
        let head = http::check_request(&bytes).map_err(|e| bad("--http-file", path, &e))?;
        (bytes, head)
    } else {
        let method = raw.method.clone().unwrap_or_else(|| "GET".to_string());
        if method.is_empty() || !method.bytes().all(is_token_byte) {
            return Err(bad("-m/--method", &method, "expected a method name such as GET or POST"));
        }
        let headers = raw.headers.iter().map(|h| parse_header(h)).collect::<Result<Vec<_>, _>>()?;
        let body = match (&raw.body, &raw.body_file) {
            (Some(_), Some(_)) => return Err(UsageError("--body and --body-file cannot be used together".to_string())),
            (Some(b), None) => b.as_bytes().to_vec(),
            (None, Some(path)) => read_file(path, "--body-file")?,
            (None, None) => Vec::new(),
        };
        let head = method == "HEAD";
        let spec = http::RequestSpec { method, url, headers, body, close: raw.reconnect };
        (http::build_request(&spec), head)
    };
    let mut expect = None;
    for v in &raw.expect_status {
        let set = expect.get_or_insert_with(StatusSet::default);
        let (low, high) = parse_status_range(v).ok_or_else(|| {
            bad("--expect-status", v, "expected a status 100-599 (200), a class (2xx) or a range (200-299)")
        })?;
        set.insert_range(low, high);
    }
    Ok((target, payload, Framing::Http { head }, expect))
}

/// `200`, `2xx` or `200-299`, as an inclusive range of codes 100-599 (RFC 9110 15: the
/// classes 1xx to 5xx; anything else is a typo, not a status a server sends).
fn parse_status_range(v: &str) -> Option<(u16, u16)> {
    let code = |s: &str| s.parse::<u16>().ok().filter(|c| (100..600).contains(c));
    let lower = v.to_ascii_lowercase();
    if let Some(class) = lower.strip_suffix("xx") {
        let c = class.parse::<u16>().ok().filter(|c| (1..6).contains(c))?;
        return Some((c * 100, c * 100 + 99));
    }
    match lower.split_once('-') {
        Some((a, b)) => Some((code(a)?, code(b)?)).filter(|(a, b)| a <= b),
        None => code(&lower).map(|c| (c, c)),
    }
}

/// `Name: value` from `-H`.
fn parse_header(text: &str) -> Result<(String, String), UsageError> {
    let (name, value) = text.split_once(':').ok_or_else(|| bad("-H/--header", text, "expected 'Name: value'"))?;
    let name = name.trim();
    if name.is_empty() || !name.bytes().all(is_token_byte) {
        return Err(bad("-H/--header", text, "the header name is empty or has characters a name cannot have"));
    }
    let value = value.trim();
    if value.bytes().any(|b| b == b'\r' || b == b'\n') {
        return Err(bad("-H/--header", text, "a header value cannot hold a line break"));
    }
    Ok((name.to_string(), value.to_string()))
}

/// A byte of an HTTP token (RFC 9110 5.6.2): methods and header names.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn parse_framing(raw: &RunArgs) -> Result<RawFraming, UsageError> {
    let given = [raw.until.is_some(), raw.expect_bytes.is_some(), raw.until_close];
    if given.iter().filter(|&&g| g).count() > 1 {
        return Err(UsageError("--until, --expect-bytes and --until-close exclude each other: give one".to_string()));
    }
    if let Some(v) = &raw.until {
        let delim = parse_escapes(v).map_err(|e| bad("--until", v, &e))?;
        if delim.is_empty() {
            return Err(bad("--until", v, "expected at least one byte"));
        }
        return Ok(RawFraming::Until(Delimiter::new(&delim)));
    }
    if let Some(v) = &raw.expect_bytes {
        return Ok(RawFraming::Exact(positive(v, "--expect-bytes")?));
    }
    if raw.until_close {
        return Ok(RawFraming::UntilClose);
    }
    Ok(RawFraming::OneRead)
}

fn parse_serve(mut parser: lexopt::Parser) -> Result<Command, UsageError> {
    let mut listen = "127.0.0.1:8000".to_string();
    let mut mode = ServeMode::Echo;
    let mut until = b"\n".to_vec();
    let mut respond = None;
    let mut threads = 1usize;
    let mut cpus = None;
    let mut delay = None;
    let mut stall_every = None;
    let mut stall = None;
    let mut tls_cert = None;
    let mut tls_key = None;
    let mut self_signed = false;
    while let Some(arg) = parser.next().map_err(|e| unknown(e, "clobber serve"))? {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help(SERVE_HELP)),
            Long("listen") => listen = string(&mut parser, "--listen")?,
            Long("mode") => {
                let v = string(&mut parser, "--mode")?;
                mode = match v.as_str() {
                    "echo" => ServeMode::Echo,
                    "http" => ServeMode::Http,
                    _ => return Err(bad("--mode", &v, "expected echo or http")),
                };
            }
            Long("until") => {
                let v = string(&mut parser, "--until")?;
                until = parse_escapes(&v).map_err(|e| bad("--until", &v, &e))?;
                if until.is_empty() {
                    return Err(bad("--until", &v, "expected at least one byte"));
                }
            }
            Long("respond") => {
                let v = string(&mut parser, "--respond")?;
                let bytes = parse_escapes(&v).map_err(|e| bad("--respond", &v, &e))?;
                if bytes.is_empty() {
                    return Err(bad("--respond", &v, "expected at least one byte"));
                }
                respond = Some(bytes);
            }
            Short('t') | Long("threads") => {
                let v = string(&mut parser, "-t/--threads")?;
                threads = positive(&v, "-t/--threads")? as usize;
                if threads > 1024 {
                    return Err(bad("-t/--threads", &v, "expected at most 1024"));
                }
            }
            Long("cpus") => {
                let v = string(&mut parser, "--cpus")?;
                cpus = Some(parse_cpus(&v, "--cpus")?);
            }
            Long("delay") => {
                let v = string(&mut parser, "--delay")?;
                delay = Some(parse_duration(&v).map_err(|e| bad("--delay", &v, &e))?);
            }
            Long("stall-every") => {
                let v = string(&mut parser, "--stall-every")?;
                stall_every = Some(positive(&v, "--stall-every")?);
            }
            Long("stall") => {
                let v = string(&mut parser, "--stall")?;
                stall = Some(parse_duration(&v).map_err(|e| bad("--stall", &v, &e))?);
            }
            Long("tls-cert") => tls_cert = Some(string(&mut parser, "--tls-cert")?),
            Long("tls-key") => tls_key = Some(string(&mut parser, "--tls-key")?),
            Long("tls") => self_signed = true,
            _ => return Err(unknown(arg.unexpected(), "clobber serve")),
        }
    }
    let (_, addr) = resolve(&listen, true).map_err(|e| bad("--listen", &listen, &e))?;
    let stall = match (stall_every, stall) {
        (Some(every), Some(pause)) => Some((every, pause)),
        (None, None) => None,
        _ => return Err(UsageError("--stall-every N and --stall DUR go together: give both".to_string())),
    };
    let tls = match (tls_cert, tls_key, self_signed) {
        (None, None, false) => None,
        (None, None, true) => Some(crate::net::tls::self_signed()),
        (Some(cert), Some(key), false) => {
            let identity = crate::config::ServerIdentity {
                cert_pem: read_file(&cert, "--tls-cert")?,
                key_pem: read_file(&key, "--tls-key")?,
            };
            // Checked now, so a bad file is a usage error rather than a failed server thread.
            crate::net::tls::server_config(&identity, mode == ServeMode::Http)
                .map_err(|e| bad("--tls-cert/--tls-key", &format!("{cert}, {key}"), &e))?;
            Some(identity)
        }
        (_, _, true) => {
            return Err(UsageError("--tls makes its own certificate: drop --tls-cert/--tls-key".to_string()))
        }
        _ => return Err(UsageError("--tls-cert and --tls-key go together: give both".to_string())),
    };
    Ok(Command::Serve(ServeConfig {
        listen: addr,
        mode,
        until: Delimiter::new(&until),
        respond,
        threads,
        cpus,
        delay,
        stall,
        tls,
    }))
}

/// `tcp://HOST:PORT` or `HOST:PORT`, resolved once.
pub fn parse_target(text: &str) -> Result<Target, UsageError> {
    let rest = match text.split_once("://") {
        Some(("tcp", rest)) => rest,
        Some((scheme, _)) => {
            return Err(bad(
                "TARGET",
                text,
                &format!("unsupported scheme '{scheme}://' (expected http://, https:// or tcp://)"),
            ))
        }
        None => text,
    };
    if rest.contains('/') {
        return Err(bad("TARGET", text, &format!("a raw TCP target has no path; did you mean http://{rest}?")));
    }
    let (host, addr) = resolve(rest, false).map_err(|e| bad("TARGET", text, &e))?;
    Ok(Target { label: text.to_string(), host, addr })
}

/// Resolves `HOST:PORT` (a name, an IPv4 address, or `[IPv6]`); port 0 only if `listen`
/// (it picks a free port to listen on; nothing can be connected to it).
/// Returns the host as written (without IPv6 brackets) and the address.
fn resolve(hostport: &str, listen: bool) -> Result<(String, SocketAddr), String> {
    let not_a_port = |port: &str| {
        let zero = if listen { ", or 0 for any free port" } else { "" };
        format!("'{port}' is not a port (1-65535{zero})")
    };
    if let Ok(addr) = hostport.parse::<SocketAddr>() {
        if addr.port() == 0 && !listen {
            return Err(not_a_port("0"));
        }
        return Ok((addr.ip().to_string(), addr));
    }
    let (host, port) = hostport.rsplit_once(':').ok_or("expected HOST:PORT")?;
    let port: u16 = port.parse().ok().filter(|&p| p > 0 || listen).ok_or_else(|| not_a_port(port))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Ok((host.to_string(), resolve_host(host, port)?))
}

/// Resolves a host name once, at start. When a name has several addresses (`localhost` is
/// often `::1` and `127.0.0.1`), the first that accepts a connection is used, as wrk does; the
/// probe sends nothing, and the report names the address.
fn resolve_host(host: &str, port: u16) -> Result<SocketAddr, String> {
    if host.is_empty() {
        return Err("the host is missing".to_string());
    }
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let addrs: Vec<SocketAddr> =
        (host, port).to_socket_addrs().map_err(|e| format!("cannot resolve '{host}': {e}"))?.collect();
    match addrs.as_slice() {
        [] => Err(format!("'{host}' resolved to no address")),
        [one] => Ok(*one),
        many => Ok(many
            .iter()
            .copied()
            .find(|a| std::net::TcpStream::connect_timeout(a, Duration::from_millis(500)).is_ok())
            .unwrap_or(many[0])),
    }
}

fn positive(value: &str, flag: &str) -> Result<u64, UsageError> {
    match value.replace('_', "").parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(bad(flag, value, "expected a whole number of at least 1")),
    }
}

fn read_file(path: &str, flag: &str) -> Result<Vec<u8>, UsageError> {
    let result = if path == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).map(|_| buf)
    } else {
        std::fs::read(path)
    };
    result.map_err(|e| bad(flag, path, &format!("cannot read it: {e}")))
}

/// `0,2-3` -> [0, 2, 3]. Checks each core exists on this machine.
pub fn parse_cpus(value: &str, flag: &str) -> Result<Vec<usize>, UsageError> {
    let mut cpus = Vec::new();
    for part in value.split(',') {
        let range = match part.split_once('-') {
            Some((a, b)) => (a.trim().parse::<usize>(), b.trim().parse::<usize>()),
            None => (part.trim().parse::<usize>(), part.trim().parse::<usize>()),
        };
        match range {
            (Ok(a), Ok(b)) if a <= b && b < 4096 => cpus.extend(a..=b),
            _ => return Err(bad(flag, value, "expected a list of cores such as 0,2-3")),
        }
    }
    let available = core_affinity::get_core_ids().unwrap_or_default();
    if let Some(missing) = cpus.iter().find(|c| !available.iter().any(|id| id.id == **c)) {
        return Err(bad(flag, value, &format!("core {missing} is not available here ({} cores)", available.len())));
    }
    Ok(cpus)
}

/// `500ms`, `10s`, `2m`, `1h`, `1.5s`, and sums of them such as `1m30s`, `1h2m3s` or
/// `1s500ms`; a bare number alone is seconds. Must be more than zero.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    const EXPECTED: &str = "expected a duration such as 500ms, 10s, 2m or 1m30s";
    let mut seconds = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let split = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (number, after) = rest.split_at(split);
        let value: f64 = number.parse().map_err(|_| EXPECTED.to_string())?;
        let unit_len = after.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let scale = match unit {
            "" if rest.len() == text.len() => 1.0,
            "" => return Err(format!("a unit is missing after '{number}' (use us, ms, s, m or h)")),
            "s" => 1.0,
            "us" => 1e-6,
            "ms" => 1e-3,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(format!("unknown unit '{unit}' (use us, ms, s, m or h)")),
        };
        seconds += value * scale;
        rest = after;
    }
    if text.is_empty() {
        return Err(EXPECTED.to_string());
    }
    if seconds.is_nan() || seconds <= 0.0 || seconds > 1e9 {
        return Err("expected a duration of more than zero".to_string());
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Turns `\r \n \t \\ \xNN` into bytes; any other backslash sequence is an error.
pub fn parse_escapes(text: &str) -> Result<Vec<u8>, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        match bytes.get(i + 1) {
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'0') => out.push(0),
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') => {
                let hex = bytes.get(i + 2..i + 4).ok_or("\\x needs two hex digits")?;
                let hex = std::str::from_utf8(hex).map_err(|_| "\\x needs two hex digits")?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| format!("'\\x{hex}' is not two hex digits"))?);
                i += 2;
            }
            Some(&c) => return Err(format!("unknown escape '\\{}' (use \\r \\n \\t \\\\ \\xNN)", c as char)),
            None => return Err("a trailing backslash escapes nothing".to_string()),
        }
        i += 2;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Config, UsageError> {
        match parse(args.iter().map(|s| s.to_string()))? {
            Command::Run(c) => Ok(c),
            other => panic!("expected a run, got {other:?}"),
        }
    }

    fn err(args: &[&str]) -> String {
        match parse(args.iter().map(|s| s.to_string())) {
            Err(e) => e.0,
            Ok(other) => panic!("expected an error for {args:?}, got {other:?}"),
        }
    }

    #[test]
    fn durations() {
        let ok = [("500ms", 500), ("10s", 10_000), ("2m", 120_000), ("1h", 3_600_000), ("1.5s", 1500), ("3", 3000)];
        for (text, ms) in ok {
            assert_eq!(parse_duration(text), Ok(Duration::from_millis(ms)), "{text}");
        }
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        for text in ["", "10x", "s", "0s", "-1s", "1.2.3s", "ms10"] {
            assert!(parse_duration(text).is_err(), "{text} should fail");
        }
    }

    #[test]
    fn compound_durations() {
        let ok = [("1m30s", 90_000), ("1h2m3s", 3_723_000), ("1s500ms", 1500), ("2h30m", 9_000_000), ("0m5s", 5000)];
        for (text, ms) in ok {
            assert_eq!(parse_duration(text), Ok(Duration::from_millis(ms)), "{text}");
        }
        assert_eq!(parse_duration("1ms500us"), Ok(Duration::from_micros(1500)));
        for text in ["1m30", "1m 30s", "1m-30s", "m30s", "1m30x", "0m0s", "1m30s500"] {
            assert!(parse_duration(text).is_err(), "{text} should fail");
        }
        assert_eq!(run(&["http://127.0.0.1:9/", "-d", "1m30s"]).unwrap().duration, Some(Duration::from_secs(90)));
    }

    #[test]
    fn schemes_are_case_insensitive() {
        let c = run(&["HTTP://127.0.0.1:9/x"]).unwrap();
        assert_eq!((c.framing, c.target.addr.port()), (Framing::Http { head: false }, 9));
        assert!(c.payload.starts_with(b"GET /x HTTP/1.1\r\n"));
        let c = run(&["HTTPS://127.0.0.1/", "-k"]).unwrap();
        assert_eq!(c.target.addr.port(), 443);
        assert!(c.tls.is_some() && c.is_http());
        let c = run(&["Https://localhost:8443/", "--cacert", "/nonexistent/ca.pem"]);
        assert!(c.unwrap_err().0.contains("--cacert"), "an https target still checks TLS flags");
        let c = run(&["TCP://127.0.0.1:9", "--data", "x"]).unwrap();
        assert_eq!((c.framing, c.target.addr.port()), (Framing::Raw(RawFraming::OneRead), 9));
        let c = run(&["Tcp://127.0.0.1:9", "--tls", "--data", "x"]).unwrap();
        assert!(c.tls.is_some() && !c.is_http());
    }

    #[test]
    fn a_path_without_a_scheme_suggests_http() {
        for target in ["127.0.0.1:8080/ok", "tcp://127.0.0.1:8080/ok"] {
            let e = err(&[target]);
            assert!(e.contains("TARGET") && e.contains("did you mean http://127.0.0.1:8080/ok?"), "{e}");
            let e = err(&[target, "--data", "x"]);
            assert!(e.contains("did you mean http://127.0.0.1:8080/ok?"), "{e}");
        }
        let e = err(&["localhost:8080/a?b=c"]);
        assert!(e.contains("did you mean http://localhost:8080/a?b=c?"), "{e}");
    }

    #[test]
    fn unknown_options_point_to_help() {
        for (args, help) in [
            (&["127.0.0.1:9", "--data", "x", "--bogus"][..], "see clobber --help"),
            (&["--bogus"][..], "see clobber --help"),
            (&["demo", "--bogus"][..], "see clobber demo --help"),
            (&["serve", "--bogus"][..], "see clobber serve --help"),
            (&["merge", "--bogus"][..], "see clobber merge --help"),
            (&["report", "--bogus"][..], "see clobber report --help"),
            (&["--no-pin=1", "127.0.0.1:9"][..], "see clobber --help"),
        ] {
            let e = err(args);
            assert!(e.contains("--bogus") || e.contains("--no-pin"), "{args:?}: {e}");
            assert!(e.ends_with(help), "{args:?}: '{e}' does not end with '{help}'");
        }
    }

    #[test]
    fn fail_on_error_is_read() {
        assert!(!run(&["http://127.0.0.1:9/"]).unwrap().fail_on_error);
        assert!(run(&["http://127.0.0.1:9/", "--fail-on-error"]).unwrap().fail_on_error);
        assert!(run(&["127.0.0.1:9", "--data", "x", "--fail-on-error"]).unwrap().fail_on_error);
    }

    #[test]
    fn graceful_close_needs_reconnect() {
        let e = err(&["http://127.0.0.1:9/", "--graceful-close"]);
        assert!(e.contains("--graceful-close") && e.contains("--reconnect"), "{e}");
        assert!(run(&["http://127.0.0.1:9/", "--graceful-close", "--reconnect"]).unwrap().graceful_close);
    }

    #[test]
    fn expect_status_is_a_real_status() {
        for bad in ["999", "600", "99", "6xx", "9xx", "200-600", "0xx", "1000"] {
            let e = err(&["http://127.0.0.1:9/", "--expect-status", bad]);
            assert!(e.contains("--expect-status") && e.contains(bad) && e.contains("100-599"), "{bad}: {e}");
        }
        let set = run(&["http://127.0.0.1:9/", "--expect-status", "100-599"]).unwrap().expect_status.unwrap();
        assert!(set.contains(100) && set.contains(599) && !set.contains(600));
        let set = run(&["http://127.0.0.1:9/", "--expect-status", "5xx"]).unwrap().expect_status.unwrap();
        assert!(set.contains(500) && set.contains(599));
    }

    #[test]
    fn demo_help_is_the_demos_own() {
        assert!(matches!(parse(["demo", "--help"]), Ok(Command::Help(DEMO_HELP))));
        assert!(matches!(parse(["demo", "-d", "1s", "-h"]), Ok(Command::Help(DEMO_HELP))));
        assert!(DEMO_HELP.contains("clobber demo") && DEMO_HELP.contains("[default: 5s]"));
    }

    #[test]
    fn port_messages_agree_on_1_to_65535() {
        let cases: &[&[&str]] = &[
            &["127.0.0.1:70000", "--data", "x"],
            &["127.0.0.1:0", "--data", "x"],
            &["tcp://localhost:0", "--data", "x"],
            &["localhost:99999", "--data", "x"],
            &["[::1]:0", "--data", "x"],
            &["http://127.0.0.1:70000/"],
            &["http://127.0.0.1:0/"],
            &["serve", "--listen", "127.0.0.1:70000"],
        ];
        for args in cases {
            let e = err(args);
            assert!(e.contains("1-65535"), "{args:?}: {e}");
            assert!(!e.contains("0-65535"), "{args:?}: {e}");
        }
        match parse(["serve", "--listen", "127.0.0.1:0"]) {
            Ok(Command::Serve(s)) => assert_eq!(s.listen.port(), 0, "port 0 picks a free port to listen on"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn escapes() {
        assert_eq!(parse_escapes(r"GET\r\n\t\\\x41\x7f"), Ok(b"GET\r\n\t\\A\x7f".to_vec()));
        assert_eq!(parse_escapes("plain"), Ok(b"plain".to_vec()));
        assert!(parse_escapes(r"\q").is_err());
        assert!(parse_escapes(r"\x4").is_err());
        assert!(parse_escapes(r"\xzz").is_err());
        assert!(parse_escapes("end\\").is_err());
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(parse_escapes(&crate::units::escape(&all)), Ok(all));
    }

    #[test]
    fn defaults() {
        let c = run(&["127.0.0.1:9", "--data", "x"]).unwrap();
        assert_eq!(c.connections, 50);
        assert_eq!(c.duration, Some(Duration::from_secs(10)));
        assert_eq!(c.requests, None);
        assert_eq!(c.pipeline, 1);
        assert!(c.pin && !c.reconnect && !c.json);
        assert_eq!(c.framing, Framing::Raw(RawFraming::OneRead));
        assert_eq!(c.target.addr, "127.0.0.1:9".parse().unwrap());
    }

    #[test]
    fn requests_alone_means_no_deadline() {
        let c = run(&["tcp://127.0.0.1:9", "--data", "x", "-n", "100"]).unwrap();
        assert_eq!((c.requests, c.duration), (Some(100), None));
        let c = run(&["127.0.0.1:9", "--data", "x", "-n", "100", "-d", "2s"]).unwrap();
        assert_eq!((c.requests, c.duration), (Some(100), Some(Duration::from_secs(2))));
    }

    #[test]
    fn every_flag_is_read() {
        let c = run(&[
            "-c",
            "8",
            "-t",
            "2",
            "--no-pin",
            "-d",
            "2s",
            "-n",
            "10",
            "--data",
            r"a\n",
            "--until",
            r"\n",
            "--pipeline",
            "4",
            "--reconnect",
            "--json",
            "[::1]:7",
        ])
        .unwrap();
        assert_eq!((c.connections, c.threads, c.pin), (8, 2, false));
        assert_eq!(c.payload, b"a\n");
        assert_eq!(c.framing, Framing::Raw(RawFraming::Until(Delimiter::new(b"\n"))));
        assert_eq!((c.pipeline, c.reconnect, c.json), (4, true, true));
        assert_eq!(c.target.addr, "[::1]:7".parse().unwrap());
        let c = run(&["127.0.0.1:9", "--data", "x", "--expect-bytes", "12"]).unwrap();
        assert_eq!(c.framing, Framing::Raw(RawFraming::Exact(12)));
        let c = run(&["127.0.0.1:9", "--data", "x", "--until-close"]).unwrap();
        assert_eq!(c.framing, Framing::Raw(RawFraming::UntilClose));
        let c = run(&["127.0.0.1:9", "--data", "x", "--cpus", "0", "--connections=3"]).unwrap();
        assert_eq!((c.cpus, c.threads, c.connections), (Some(vec![0]), 1, 3));
    }

    #[test]
    fn threads_never_exceed_connections() {
        let c = run(&["127.0.0.1:9", "--data", "x", "-c", "2", "-t", "8"]).unwrap();
        assert_eq!((c.connections, c.threads), (2, 2));
    }

    #[test]
    fn bad_values_name_their_flag() {
        let cases: &[(&[&str], &str)] = &[
            (&["127.0.0.1:9", "--data", "x", "-c", "0"], "-c/--connections"),
            (&["127.0.0.1:9", "--data", "x", "-c", "abc"], "-c/--connections"),
            (&["127.0.0.1:9", "--data", "x", "-t", "0"], "-t/--threads"),
            (&["127.0.0.1:9", "--data", "x", "-d", "10x"], "-d/--duration"),
            (&["127.0.0.1:9", "--data", "x", "-n", "-1"], "-n/--requests"),
            (&["127.0.0.1:9", "--data", "x", "-n", "0"], "-n/--requests"),
            (&["127.0.0.1:9", "--data", r"\q"], "--data"),
            (&["127.0.0.1:9", "--file", "/nonexistent/clobber"], "--file"),
            (&["127.0.0.1:9", "--data", "x", "--until", ""], "--until"),
            (&["127.0.0.1:9", "--data", "x", "--expect-bytes", "0"], "--expect-bytes"),
            (&["127.0.0.1:9", "--data", "x", "--until", "\\n", "--pipeline", "0"], "--pipeline"),
            (&["127.0.0.1:9", "--data", "x", "--pipeline", "4"], "--pipeline"),
            (&["127.0.0.1:9", "--data", "x", "--until-close", "--pipeline", "4"], "--pipeline"),
            (&["127.0.0.1:9", "--data", "x", "--cpus", "9999"], "--cpus"),
            (&["127.0.0.1:9", "--data", "x", "--cpus", "a-b"], "--cpus"),
            (&["127.0.0.1:70000", "--data", "x"], "TARGET"),
            (&[":80", "--data", "x"], "TARGET"),
            (&["ftp://127.0.0.1:9", "--data", "x"], "TARGET"),
            (&["127.0.0.1", "--data", "x"], "TARGET"),
            (&["127.0.0.1:9", "--data", "x", "--file", "y"], "--file"),
            (&["127.0.0.1:9", "--data", "x", "--until", "a", "--until-close"], "--until"),
            (&["127.0.0.1:9"], "--data"),
            (&["--data", "x"], "TARGET"),
            (&["127.0.0.1:9", "--data", "x", "--bogus"], "--bogus"),
            (&["127.0.0.1:9", "--data"], "--data"),
            (&["127.0.0.1:9", "127.0.0.1:10", "--data", "x"], "127.0.0.1:10"),
            (&["serve", "--mode", "ftp"], "--mode"),
            (&["serve", "--listen", "nowhere"], "--listen"),
            (&["serve", "-t", "0"], "-t/--threads"),
            (&["serve", "--respond", r"\x"], "--respond"),
            (&["http://127.0.0.1:9/", "--data", "x"], "--data"),
            (&["http://127.0.0.1:9/", "--rate", "0"], "-R/--rate"),
            (&["http://127.0.0.1:9/", "-R", "abc"], "-R/--rate"),
            (&["http://127.0.0.1:9/", "-R", "10", "--pipeline", "2"], "--rate"),
            (&["http://127.0.0.1:9/", "--warmup", "0s"], "--warmup"),
            (&["http://127.0.0.1:9/", "--start-at", "soon"], "--start-at"),
            (&["http://127.0.0.1:9/", "--timeout", "0"], "--timeout"),
            (&["http://127.0.0.1:9/", "--connect-timeout", "x"], "--connect-timeout"),
            (&["http://127.0.0.1:9/", "--bind", "nowhere"], "--bind"),
            (&["http://127.0.0.1:9/", "--bind", "::1"], "--bind"),
            (&["serve", "--delay", "1x"], "--delay"),
            (&["serve", "--stall-every", "10"], "--stall-every"),
            (&["merge"], "merge"),
            (&["http://127.0.0.1:9/", "--until", "x"], "--until"),
            (&["http://127.0.0.1:9/", "-m", "GE T"], "-m/--method"),
            (&["http://127.0.0.1:9/", "-H", "NoColon"], "-H/--header"),
            (&["http://127.0.0.1:9/", "-H", "Bad Name: x"], "-H/--header"),
            (&["http://127.0.0.1:9/", "--body", "a", "--body-file", "b"], "--body"),
            (&["http://127.0.0.1:9/", "--body-file", "/nonexistent/body"], "--body-file"),
            (&["http://127.0.0.1:9/", "--http-file", "/nonexistent/req"], "--http-file"),
            (&["http://127.0.0.1:9/", "--expect-status", "abc"], "--expect-status"),
            (&["http://127.0.0.1:70000/"], "TARGET"),
            (&["http:///path"], "TARGET"),
            (&["https://127.0.0.1:9/", "--cacert", "/nonexistent/ca.pem"], "--cacert"),
            (&["https://127.0.0.1:9/", "--cacert", "Cargo.toml"], "--cacert"),
            (&["https://127.0.0.1:9/", "--sni", "bad name!"], "--sni"),
            (&["http://127.0.0.1:9/", "-k"], "-k/--insecure"),
            (&["https://127.0.0.1:9/", "-k", "--cacert", "/nonexistent/ca.pem"], "--cacert"),
            (&["http://127.0.0.1:9/", "--cacert", "x.pem"], "--cacert"),
            (&["127.0.0.1:9", "--data", "x", "--no-resume"], "--no-resume"),
            (&["http://127.0.0.1:9/", "--tls"], "--tls"),
            (&["serve", "--tls-cert", "Cargo.toml"], "--tls-key"),
            (&["http://127.0.0.1:9/", "--html", "/nonexistent/dir/page.html"], "--html"),
            (&["report", "a.json", "-o", "/nonexistent/dir/page.html"], "-o/--output"),
            (&["report", "a.json", "--label", "x", "--label", "y"], "--label"),
            (&["report"], "report"),
            (&["serve", "--tls-cert", "Cargo.toml", "--tls-key", "Cargo.toml"], "--tls-cert"),
            (&["serve", "--tls-cert", "/nonexistent/c.pem", "--tls-key", "k.pem"], "--tls-cert"),
            (&["127.0.0.1:9", "--data", "x", "-H", "A: b"], "-H/--header"),
            (&["127.0.0.1:9", "--data", "x", "--expect-status", "200"], "--expect-status"),
        ];
        for (args, flag) in cases {
            let message = err(args);
            assert!(message.contains(flag), "{args:?}: '{message}' does not name {flag}");
            assert!(!message.contains('\n'), "{args:?}: message is not one line");
        }
    }

    #[test]
    fn tls_targets_set_up_tls() {
        let c = run(&["https://localhost:8443/x", "-k", "--no-resume"]).unwrap();
        let tls = c.tls.expect("https:// is TLS");
        assert!(tls.insecure && !tls.resume && tls.alpn_http);
        assert_eq!(tls.server_name, "localhost");
        assert_eq!(c.target.addr.port(), 8443);
        let c = run(&["https://127.0.0.1/", "--sni", "example.com"]).unwrap();
        assert_eq!(c.target.addr.port(), 443, "https:// defaults to port 443");
        assert_eq!(c.tls.as_ref().unwrap().server_name, "example.com");
        assert!(String::from_utf8_lossy(&c.payload).contains("Host: 127.0.0.1\r\n"), "no :443 in Host");
        let c = run(&["tcp://127.0.0.1:9", "--tls", "--data", "x"]).unwrap();
        let tls = c.tls.expect("--tls is TLS");
        assert!(!tls.alpn_http && tls.resume && !tls.insecure);
        assert_eq!(tls.server_name, "127.0.0.1");
        assert!(run(&["http://127.0.0.1:9/"]).unwrap().tls.is_none());
        assert_eq!(run(&["tcp://[::1]:9", "--tls", "--data", "x"]).unwrap().tls.unwrap().server_name, "::1");
    }

    #[test]
    fn http_targets_build_the_request() {
        let c = run(&[
            "http://127.0.0.1:8080/api?x=1",
            "-m",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-H",
            "user-agent: tester",
            "--body",
            r#"{"a":1}"#,
            "--expect-status",
            "2xx",
            "--expect-status",
            "404",
        ])
        .unwrap();
        assert_eq!(c.target.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(c.framing, Framing::Http { head: false });
        let text = String::from_utf8(c.payload).unwrap();
        assert!(text.starts_with("POST /api?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: 7\r\n"), "{text}");
        assert!(text.contains("Content-Type: application/json\r\nuser-agent: tester\r\n\r\n{\"a\":1}"), "{text}");
        assert!(!text.contains("clobber/"), "a user User-Agent replaces the default");
        let set = c.expect_status.unwrap();
        assert!(set.contains(200) && set.contains(299) && set.contains(404) && !set.contains(301));
        let c = run(&["http://127.0.0.1/", "-m", "HEAD", "--reconnect"]).unwrap();
        assert_eq!(c.framing, Framing::Http { head: true });
        assert!(String::from_utf8(c.payload).unwrap().contains("Connection: close\r\n"));
        assert_eq!(c.target.addr.port(), 80);
    }

    #[test]
    fn http_file_is_sent_as_is() {
        let path = std::env::temp_dir().join(format!("clobber-http-file-{}", std::process::id()));
        std::fs::write(&path, b"HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        let c = run(&["http://127.0.0.1:9/", "--http-file", path.to_str().unwrap()]).unwrap();
        assert_eq!(c.payload, b"HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(c.framing, Framing::Http { head: true });
        std::fs::write(&path, b"GET / HTTP/1.1\r\n").unwrap();
        let e = err(&["http://127.0.0.1:9/", "--http-file", path.to_str().unwrap()]);
        assert!(e.contains("--http-file") && e.contains("incomplete"), "{e}");
        std::fs::write(&path, b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        let e = err(&["http://127.0.0.1:9/", "--http-file", path.to_str().unwrap()]);
        assert!(e.contains("--http-file") && e.contains(path.to_str().unwrap()) && e.contains("2 requests"), "{e}");
        std::fs::write(&path, b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort").unwrap();
        let e = err(&["http://127.0.0.1:9/", "--http-file", path.to_str().unwrap()]);
        assert!(e.contains("--http-file") && e.contains("Content-Length is 10 but the body has 5 bytes"), "{e}");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn source_addresses_spread_only_when_needed() {
        let c = run(&["http://127.0.0.1:9/", "-c", "100"]).unwrap();
        assert!(c.bind.is_empty(), "few connections: the kernel picks, no bind syscall");
        let c = run(&["http://127.0.0.1:9/", "-c", "19000"]).unwrap();
        assert_eq!(c.bind.len(), 8);
        assert_eq!(c.bind[1], "127.0.0.2".parse::<IpAddr>().unwrap());
        let c = run(&["http://127.0.0.1:9/", "--reconnect", "--graceful-close"]).unwrap();
        assert_eq!(c.bind.len(), 8, "FIN closes leave TIME_WAIT: spread the ports");
        let c = run(&["http://127.0.0.1:9/", "--bind", "127.0.0.5, 127.0.0.6"]).unwrap();
        assert_eq!(c.bind, vec!["127.0.0.5".parse::<IpAddr>().unwrap(), "127.0.0.6".parse().unwrap()]);
        assert_eq!((c.connect_timeout, c.timeout), (Duration::from_secs(5), Duration::from_secs(30)));
    }

    #[test]
    fn bind_addresses_must_belong_to_this_machine() {
        // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never an address of this machine. Checking it
        // binds a socket to it, which sends nothing.
        let e = err(&["http://127.0.0.1:9/", "--bind", "127.0.0.2,192.0.2.1"]);
        assert!(e.contains("--bind") && e.contains("192.0.2.1") && e.contains("not an address of this machine"), "{e}");
        assert!(!e.contains('\n'));
        let e = err(&["http://[::1]:9/", "--bind", "2001:db8::1"]);
        assert!(e.contains("--bind") && e.contains("2001:db8::1"), "{e}");
        let c = run(&["http://127.0.0.1:9/", "--bind", "127.0.0.1,127.0.0.3"]).unwrap();
        assert_eq!(c.bind.len(), 2);
    }

    #[test]
    fn status_ranges() {
        assert_eq!(parse_status_range("200"), Some((200, 200)));
        assert_eq!(parse_status_range("2xx"), Some((200, 299)));
        assert_eq!(parse_status_range("2XX"), Some((200, 299)));
        assert_eq!(parse_status_range("200-299"), Some((200, 299)));
        for bad in ["", "99", "1000", "0xx", "abc", "300-200", "2x", "999", "600", "6xx", "500-600"] {
            assert_eq!(parse_status_range(bad), None, "{bad}");
        }
    }

    #[test]
    fn help_and_version_are_values() {
        assert!(matches!(parse(["--help"]), Ok(Command::Help(HELP))));
        assert!(matches!(parse(["127.0.0.1:9", "-h"]), Ok(Command::Help(HELP))));
        assert!(matches!(parse(["serve", "--help"]), Ok(Command::Help(SERVE_HELP))));
        assert!(matches!(parse(["-V"]), Ok(Command::Version)));
    }

    #[test]
    fn serve_and_demo() {
        match parse(["serve", "--listen", "127.0.0.1:0", "--mode", "http", "-t", "2"]) {
            Ok(Command::Serve(s)) => {
                assert_eq!((s.mode, s.threads), (ServeMode::Http, 2));
                assert_eq!(s.listen, "127.0.0.1:0".parse().unwrap());
            }
            other => panic!("{other:?}"),
        }
        match parse(["demo", "-d", "1s"]) {
            Ok(Command::Demo(args)) => {
                let c = args.config("127.0.0.1:4321".parse().unwrap());
                assert_eq!(c.duration, Some(Duration::from_secs(1)));
                assert!(c.payload.starts_with(b"GET / HTTP/1.1\r\nHost: 127.0.0.1:4321\r\n"));
                assert_eq!(c.framing, Framing::Http { head: false });
            }
            other => panic!("{other:?}"),
        }
    }
}
