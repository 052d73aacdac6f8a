//! From `Options` to what runs: a `Config`, a `ServeConfig`, the demo's pair. This is where
//! the command line meets the machine, once, before anything starts: names are resolved, files
//! and standard input read, the CA roots loaded, the demo's certificate made, cores listed,
//! stderr asked whether it is a terminal, and `--bind` addresses checked by binding a socket
//! (which sends nothing). `cli` has already refused every command line that is wrong on its
//! face, so what fails here fails because of the machine: a name that does not resolve, a
//! file that cannot be read, a core or an address this machine lacks. Each failure is a
//! `SetupError` naming the flag and the value; `main` prints it and exits 2, as for a
//! `UsageError`.

use std::fmt;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::{
    Given, HostPort, Options, PendingRun, PerfOf, RequestOptions, RunOptions, ServeOptions, ServeTls, ServerPids,
    Source, SweepOptions, TlsOptions, UsageError,
};
use crate::config::{
    ClientTlsConfig, Config, Framing, Http2Config, PerfConfig, ServeConfig, ServeMode, ServerIdentity, SweepConfig,
    Target, Varying,
};
use crate::protocol::http;
use crate::protocol::raw::Delimiter;
use crate::protocol::targets;
use crate::protocol::template::{Template, Widths};

/// A loopback target spreads its connections over 127.0.0.1, 127.0.0.2, ... at most this many
/// each (unless `--bind` says otherwise). Measured here: the kernel's search for a free
/// ephemeral port slows sharply as one address pair's ports fill (10,000 blocking connects
/// from one address took 0.5 s, the next 8,000 took 9 s), long before the 28,000 ports run
/// out.
pub const CONNECTIONS_PER_SOURCE: usize = 4000;

/// How long resolving waits for each address of a name with several, to pick one that accepts.
const PROBE_CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// What to do, set up: `cli::Options` with everything looked up.
// One value per process, made once and matched at once: boxing the large variants buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Command {
    Run(Config),
    Serve(ServeConfig),
    /// The built-in server and a load against it, whose address is known once it listens.
    Demo(Demo),
    /// `clobber sweep`: open-loop steps up to the knee.
    Sweep(SweepConfig),
    /// Several runs' JSON reports into one report.
    Merge {
        files: Vec<PathBuf>,
        json: bool,
    },
    /// Runs' JSON reports into an HTML page (`output`: standard output if `None`).
    Report {
        files: Vec<PathBuf>,
        labels: Vec<String>,
        output: Option<PathBuf>,
    },
    Help(&'static str),
    Version,
}

/// `clobber demo`, set up: the server to start, and the load, which `config` points at the
/// address the server listens on.
#[derive(Debug)]
pub struct Demo {
    pub serve: ServeConfig,
    /// The load, its target's port still 0.
    load: Config,
    /// The request to build again with the server's address (`None` for `--http-file`, which
    /// is sent as is).
    request: Option<http::RequestSpec>,
}

impl Demo {
    /// The load against the server listening on `addr`: the target and the request's `Host`
    /// filled in; nothing is checked again.
    pub fn config(&self, addr: SocketAddr) -> Config {
        let mut config = self.load.clone();
        let scheme = if self.serve.tls.is_some() { "https" } else { "http" };
        config.target.label = format!("{scheme}://{addr}/");
        config.target.addr = addr;
        if let Some(spec) = &self.request {
            let mut spec = spec.clone();
            spec.url.port = addr.port();
            spec.url.authority = addr.to_string();
            config.payload = http::build_request(&spec);
        }
        config
    }
}

/// A setting the machine refused: `invalid value '{value}' for {flag}: {reason}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupError {
    pub flag: &'static str,
    pub value: String,
    pub reason: String,
}

impl SetupError {
    fn new(flag: &'static str, value: impl fmt::Display, reason: impl Into<String>) -> SetupError {
        SetupError { flag, value: value.to_string(), reason: reason.into() }
    }
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.value.is_empty() {
            // Nothing given was wrong: the flag needs something the machine lacks.
            return write!(f, "{}: {}", self.flag, self.reason);
        }
        write!(f, "invalid value '{}' for {}: {}", self.value, self.flag, self.reason)
    }
}

impl std::error::Error for SetupError {}

/// A command line that cannot run: wrong on its face (`cli`), or refused by the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    Usage(UsageError),
    Setup(SetupError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(e) => e.fmt(f),
            Error::Setup(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {}

/// `cli::parse`, then `command`: from the words after the program name to what runs.
pub fn parse_and_set_up<I>(args: I) -> Result<Command, Error>
where
    I: IntoIterator,
    I::Item: Into<std::ffi::OsString>,
{
    command(crate::cli::parse(args).map_err(Error::Usage)?).map_err(Error::Setup)
}

/// Sets up what `options` asks for.
pub fn command(options: Options) -> Result<Command, SetupError> {
    Ok(match options {
        Options::Run(run) => Command::Run(load(&run)?.0),
        Options::RunTargets(pending) => Command::Run(load_targets(&pending)?),
        Options::Serve(serve) => Command::Serve(server(serve)?),
        Options::Demo(run) => Command::Demo(demo(run)?),
        Options::Sweep(sweep) => Command::Sweep(sweep_config(sweep, None)?),
        Options::SweepTargets(pending) => Command::Sweep(sweep_targets(&pending)?),
        Options::Merge { files, json } => Command::Merge { files, json },
        Options::Report { files, labels, output } => {
            let output = output.map(|path| writable_path(&path, "-o/--output")).transpose()?;
            Command::Report { files, labels, output }
        }
        Options::Help(text) => Command::Help(text),
        Options::Version => Command::Version,
    })
}

/// A load run's `Config`, and the HTTP request it was built from (for the demo).
fn load(options: &RunOptions) -> Result<(Config, Option<http::RequestSpec>), SetupError> {
    load_with(options, None)
}

/// `load`, with the `--targets` file's bytes when they were read already (standard input can
/// be read only once).
fn load_with(
    options: &RunOptions,
    targets_text: Option<&[u8]>,
) -> Result<(Config, Option<http::RequestSpec>), SetupError> {
    let cpus = options.cpus.as_ref().map(available_cores).transpose()?;
    let threads = options
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()).min(crate::cli::THREADS_MAX));
    // More threads than connections would leave threads with nothing to do.
    let threads = threads.min(options.connections);
    // Live progress: on a terminal by default, never mixed into JSON unless asked for.
    let progress = options.progress || (!options.json && std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let target = &options.target;
    let (addr, unix) = match &target.unix {
        // Nothing to resolve: the URL's host is only the Host header (and TLS's name).
        Some(path) => {
            let flag = if target.url.is_some() { "--unix-socket" } else { "TARGET" };
            let path = unix_socket(path).map_err(|e| SetupError::new(flag, path, e))?;
            (SocketAddr::from((Ipv4Addr::UNSPECIFIED, target.host_port.port)), Some(path))
        }
        None => (resolve_host(&target.host_port).map_err(|e| SetupError::new("TARGET", &target.label, e))?, None),
    };
    let target = Target { label: target.label.clone(), host: target.host_port.host.clone(), addr, unix };
    let widths = Widths::of_run(threads, options.connections);
    let (entries, labels, framing, spec) = request(options, widths, targets_text)?;
    let payload = entries[0].bytes().to_vec();
    let warnings = unknown_placeholders(&entries);
    let varying = (entries.len() > 1 || !entries[0].holes().is_empty()).then(|| Varying {
        entries,
        labels,
        order: options.order,
        seed: options.seed.unwrap_or_else(clock_seed),
    });
    if options.http2 {
        if varying.is_some() {
            // The HTTP/2 session encodes one request's header block once for all its streams.
            let flag = if matches!(options.request, RequestOptions::Targets { .. }) { "--targets" } else { "--http2" };
            return Err(SetupError::new(
                flag,
                &target.label,
                "requests that vary (--targets, --data-file, {{...}} placeholders) are HTTP/1.1 only for now",
            ));
        }
        // The workers turn the request into HTTP/2 header fields the same way.
        crate::protocol::h2::client::request_fields(&payload, options.tls.is_some()).map_err(|e| {
            let (flag, value) = match &options.request {
                RequestOptions::HttpFile(path) => ("--http-file", path.clone()),
                _ => ("--http2", target.label.clone()),
            };
            SetupError::new(flag, value, e)
        })?;
    }
    let tls = options.tls.as_ref().map(client_tls).transpose()?;
    let html = options.html.as_deref().map(|path| writable_path(path, "--html")).transpose()?;
    let bind = if target.unix.is_some() { Vec::new() } else { source_addresses(options, addr)? };
    let server_pids = options.server_pid.as_ref().map(server_pids).transpose()?.unwrap_or_default();
    let perf = options.perf.map(|of| perf(of, &server_pids, options.perf_out.as_deref())).transpose()?;
    let config = Config {
        target,
        connections: options.connections,
        threads,
        cpus,
        pin: options.pin,
        duration: options.duration,
        requests: options.requests,
        payload,
        varying,
        framing,
        expect_status: options.expect_status,
        pipeline: options.pipeline,
        reconnect: options.reconnect,
        http2: options.http2.then_some(Http2Config { streams: options.streams }),
        json: options.json,
        rate_per_s: options.rate_per_s,
        warmup: options.warmup,
        progress,
        start_at_unix_s: options.start_at_unix_s,
        connect_timeout: options.connect_timeout,
        timeout: options.timeout,
        give_up: options.give_up,
        bind,
        graceful_close: options.graceful_close,
        tls,
        html,
        fail_on_error: options.fail_on_error,
        server_pids,
        perf,
        warnings,
    };
    Ok((config, spec))
}

/// A warning per distinct `{{...}}` that looks like a placeholder and is not one (at most
/// five, then how many more): a misspelt `{{Seq}}` would otherwise be sent as written unseen.
fn unknown_placeholders(entries: &[Template]) -> Vec<String> {
    let mut unknown: Vec<&str> = entries.iter().flat_map(Template::unknown).map(String::as_str).collect();
    unknown.sort_unstable();
    unknown.dedup();
    let mut warnings: Vec<String> = unknown
        .iter()
        .take(5)
        .map(|p| format!("{p} is not a placeholder ({{{{seq}}}}, {{{{rand:LO-HI}}}}, {{{{worker}}}}, {{{{conn}}}}): it is sent as written"))
        .collect();
    if unknown.len() > 5 {
        warnings.push(format!("and {} more such", unknown.len() - 5));
    }
    warnings
}

/// A sweep's `SweepConfig`: its load set up as a run's, with nothing that ends it (each step
/// has its own end) and the first rate.
/// A sweep's `Config`s (`targets_text`: the `--targets` file's bytes, read already).
fn sweep_config(options: SweepOptions, targets_text: Option<&[u8]>) -> Result<SweepConfig, SetupError> {
    let (mut load, _) = load_with(&options.run, targets_text)?;
    load.duration = None;
    load.requests = None;
    load.warmup = None;
    load.give_up = None;
    load.rate_per_s = Some(options.rate_from_per_s);
    Ok(SweepConfig {
        load,
        rate_from_per_s: options.rate_from_per_s,
        rate_to_per_s: options.rate_to_per_s,
        steps: options.steps,
        step_duration: options.step_duration,
        step_warmup: options.step_warmup,
        slos: options.slos,
        search: options.search,
    })
}

/// The requests of a run, compiled (one, or a list's entries), how the report names each, the
/// framing, and the HTTP request the first was built from (for the demo).
type Requests = (Vec<Template>, Vec<String>, Framing, Option<http::RequestSpec>);

/// The requests a run sends: read from files or built, and compiled (`protocol::template`).
fn request(options: &RunOptions, widths: Widths, targets_text: Option<&[u8]>) -> Result<Requests, SetupError> {
    match &options.request {
        RequestOptions::Raw { payload, framing } => {
            let bytes = match payload {
                Source::Inline(bytes) => bytes.clone(),
                Source::File(path) => {
                    let bytes = read_file(path, "--file")?;
                    if bytes.is_empty() {
                        return Err(SetupError::new(
                            "--file",
                            path,
                            "the request is empty: it must hold at least one byte",
                        ));
                    }
                    bytes
                }
            };
            let flag = if matches!(payload, Source::Inline(_)) { "--data" } else { "--file" };
            let template = Template::compile(&bytes, widths)
                .map_err(|e| SetupError::new(flag, crate::units::escape(&bytes), e.to_string()))?;
            let label = raw_label(&bytes);
            Ok((vec![template], vec![label], framing.clone(), None))
        }
        RequestOptions::RawList { file, framing } => {
            let (entries, labels) = raw_list(file, widths)?;
            Ok((entries, labels, framing.clone(), None))
        }
        RequestOptions::Http { method, headers, body } => {
            let (flag, body) = match body {
                None => ("--body", Vec::new()),
                Some(Source::Inline(bytes)) => ("--body", bytes.clone()),
                Some(Source::File(path)) => ("--body-file", read_file(path, "--body-file")?),
            };
            let url = options.target.url.clone().expect("an HTTP request has an http:// target");
            // Each part's placeholders alone first, so an error names the flag it came from.
            header_placeholders(headers, widths)?;
            Template::compile(url.path.as_bytes(), widths)
                .map_err(|e| SetupError::new("TARGET", &options.target.label, e.to_string()))?;
            let spec = http::RequestSpec {
                method: method.clone(),
                url,
                headers: headers.clone(),
                body,
                close: options.reconnect,
            };
            let template = compile_http(&spec, widths).map_err(|e| SetupError::new(flag, &options.target.label, e))?;
            let label = format!("{} {}", spec.method, spec.url.path);
            Ok((vec![template], vec![label], Framing::Http { head: method == "HEAD" }, Some(spec)))
        }
        RequestOptions::HttpFile(path) => {
            let bytes = read_file(path, "--http-file")?;
            let template =
                Template::compile(&bytes, widths).map_err(|e| SetupError::new("--http-file", path, e.to_string()))?;
            let head = http::check_request(template.bytes()).map_err(|e| SetupError::new("--http-file", path, e))?;
            let label =
                String::from_utf8_lossy(bytes.split(|&b| b == b'\r' || b == b'\n').next().unwrap_or(b"")).into_owned();
            Ok((vec![template], vec![label], Framing::Http { head }, None))
        }
        RequestOptions::Targets { file, headers } => {
            let text = match targets_text {
                Some(text) => text.to_vec(),
                None => read_file(file, "--targets")?,
            };
            let entries = parse_targets(file, &text)?;
            let fail =
                |line: usize, reason: String| SetupError::new("--targets", file, format!("line {line}: {reason}"));
            // -H's placeholders once, named as -H's; each entry's headers and body below, each
            // named by its own line, so what is left for `compile_http` is the request line's.
            header_placeholders(headers, widths)?;
            let mut templates = Vec::with_capacity(entries.len());
            let mut labels = Vec::with_capacity(entries.len());
            let mut n_head = 0;
            for (entry, url) in &entries {
                let body = match &entry.body {
                    None => Vec::new(),
                    Some((path, line)) => {
                        let body = std::fs::read(path)
                            .map_err(|e| fail(*line, format!("cannot read the body file '{path}': {e}")))?;
                        Template::compile(&body, widths)
                            .map_err(|e| fail(*line, format!("in the body file '{path}': {e}")))?;
                        body
                    }
                };
                for (name, value, line) in &entry.headers {
                    Template::compile(value.as_bytes(), widths).map_err(|e| fail(*line, format!("{name}: {e}")))?;
                }
                // -H's headers for every entry, unless the entry has one of the same name.
                let mut all: Vec<(String, String)> = headers
                    .iter()
                    .filter(|(name, _)| !entry.headers.iter().any(|(n, _, _)| n.eq_ignore_ascii_case(name)))
                    .cloned()
                    .collect();
                all.extend(entry.headers.iter().map(|(name, value, _)| (name.clone(), value.clone())));
                let spec = http::RequestSpec {
                    method: entry.method.clone(),
                    url: url.clone(),
                    headers: all,
                    body,
                    close: options.reconnect,
                };
                templates.push(compile_http(&spec, widths).map_err(|e| fail(entry.line, e))?);
                labels.push(format!("{} {}", spec.method, spec.url.path));
                n_head += usize::from(entry.method == "HEAD");
            }
            if n_head > 0 && n_head < entries.len() {
                let line = entries.iter().find(|(e, _)| e.method == "HEAD").map_or(0, |(e, _)| e.line);
                return Err(fail(line, "HEAD mixed with other methods: a run's responses to HEAD have no body, so make every entry HEAD or none".into()));
            }
            distinct_labels(
                &mut labels,
                |i| entries[i].0.body.as_ref().map(|(path, _)| path.as_str()),
                |i| entries[i].0.line,
            );
            Ok((templates, labels, Framing::Http { head: n_head > 0 }, None))
        }
    }
}

/// `-H` headers' placeholders, each compiled alone so that an error names `-H` and the header.
fn header_placeholders(headers: &[(String, String)], widths: Widths) -> Result<(), SetupError> {
    for (name, value) in headers {
        Template::compile(value.as_bytes(), widths)
            .map_err(|e| SetupError::new("-H/--header", format!("{name}: {value}"), e.to_string()))?;
    }
    Ok(())
}

/// An HTTP request compiled: the body first (its length, holes filled, is the
/// `Content-Length`), then the head, checked as one request with its holes zero-filled.
fn compile_http(spec: &http::RequestSpec, widths: Widths) -> Result<Template, String> {
    let body = Template::compile(&spec.body, widths).map_err(|e| format!("the body's {e}"))?;
    let built = http::build_request(&http::RequestSpec { body: body.bytes().to_vec(), ..spec.clone() });
    let head_len = built.len() - body.len();
    let mut template = Template::compile(&built[..head_len], widths).map_err(|e| e.to_string())?;
    template.append(&body);
    http::check_request(template.bytes()).map_err(|e| format!("the request is not valid HTTP: {e}"))?;
    Ok(template)
}

/// Labels that tell a list's entries apart in the report: a label two entries share (`POST /x`
/// twice, with different bodies or headers; two payloads alike in their first 40 bytes) gets
/// the entry's `@file` (`POST /x @a.json`), and where that is not enough, its line
/// (`POST /x @a.json (line 7)`). Labels no other entry has stay as they are.
fn distinct_labels<'a>(labels: &mut [String], body: impl Fn(usize) -> Option<&'a str>, line: impl Fn(usize) -> usize) {
    fn shared(labels: &[String]) -> Vec<bool> {
        let mut count: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for label in labels {
            *count.entry(label).or_default() += 1;
        }
        labels.iter().map(|l| count[l.as_str()] > 1).collect()
    }
    for (i, shared) in shared(labels).into_iter().enumerate() {
        if let Some(path) = body(i).filter(|_| shared) {
            labels[i] = format!("{} @{path}", labels[i]);
        }
    }
    for (i, shared) in shared(labels).into_iter().enumerate() {
        if shared {
            labels[i] = format!("{} (line {})", labels[i], line(i));
        }
    }
}

/// How the report names a raw payload: escaped, and shortened past 40 bytes.
fn raw_label(bytes: &[u8]) -> String {
    let shown = crate::units::escape(&bytes[..bytes.len().min(40)]);
    if bytes.len() > 40 {
        format!("{shown}...")
    } else {
        shown
    }
}

/// `--data-file`: one payload per line, with `--data`'s escapes; blank lines and `#` comments
/// are skipped. Every line is checked, and an error names it.
fn raw_list(file: &str, widths: Widths) -> Result<(Vec<Template>, Vec<String>), SetupError> {
    let bytes = read_file(file, "--data-file")?;
    let text = String::from_utf8(bytes).map_err(|_| SetupError::new("--data-file", file, "it is not UTF-8 text"))?;
    let mut entries = Vec::new();
    let mut labels = Vec::new();
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let fail = |reason: String| SetupError::new("--data-file", file, format!("line {}: {reason}", i + 1));
        let payload = crate::cli::parse_escapes(line).map_err(fail)?;
        entries.push(Template::compile(&payload, widths).map_err(|e| fail(e.to_string()))?);
        labels.push(raw_label(&payload));
        lines.push(i + 1);
    }
    distinct_labels(&mut labels, |_| None, |i| lines[i]);
    if entries.is_empty() {
        return Err(SetupError::new("--data-file", file, "no payloads (one per line; # starts a comment)"));
    }
    Ok((entries, labels))
}

/// A `--targets` file's entries and their URLs, every entry checked, and all of one origin
/// (scheme, host and port: connections are per origin).
fn parse_targets(file: &str, bytes: &[u8]) -> Result<Vec<(targets::Entry, http::Url)>, SetupError> {
    let fail = |line: usize, reason: String| SetupError::new("--targets", file, format!("line {line}: {reason}"));
    let text = std::str::from_utf8(bytes).map_err(|_| SetupError::new("--targets", file, "it is not UTF-8 text"))?;
    let entries = targets::parse(text).map_err(|e| match e.line {
        0 => SetupError::new("--targets", file, e.message),
        line => fail(line, e.message),
    })?;
    let mut out: Vec<(targets::Entry, http::Url)> = Vec::with_capacity(entries.len());
    for entry in entries {
        let text = lowercase_scheme(&entry.url);
        let url = http::parse_url(&text).map_err(|e| fail(entry.line, format!("'{}': {e}", entry.url)))?;
        if let Some((first, first_url)) = out.first() {
            if (url.tls, &url.host, url.port) != (first_url.tls, &first_url.host, first_url.port) {
                return Err(fail(
                    entry.line,
                    format!(
                        "'{}' is not on the origin of line {} ('{}'): one run loads one scheme, host and port",
                        entry.url, first.line, first.url
                    ),
                ));
            }
        }
        out.push((entry, url));
    }
    Ok(out)
}

/// The scheme of a URL in lower case (as `cli` does for TARGET).
fn lowercase_scheme(text: &str) -> String {
    match text.split_once("://") {
        Some((scheme, rest)) => format!("{}://{rest}", scheme.to_ascii_lowercase()),
        None => text.to_string(),
    }
}

/// A run over `--targets`: the file read and checked, its first entry's origin as the target.
fn load_targets(pending: &PendingRun) -> Result<Config, SetupError> {
    let (options, text) = with_targets_origin(pending, PendingRun::with_origin)?;
    Ok(load_with(&options, Some(&text))?.0)
}

/// `clobber sweep --targets`: `load_targets` for a sweep.
fn sweep_targets(pending: &PendingRun) -> Result<SweepConfig, SetupError> {
    let (options, text) = with_targets_origin(pending, PendingRun::sweep_with_origin)?;
    sweep_config(options, Some(&text))
}

/// Reads and checks the `--targets` file (once: it may be standard input), and has `check`
/// check the flags with the first entry's origin as the target; returns them and the file.
fn with_targets_origin<O>(
    pending: &PendingRun,
    check: impl Fn(&PendingRun, &str) -> Result<O, crate::cli::UsageError>,
) -> Result<(O, Vec<u8>), SetupError> {
    let file = pending.file();
    let text = read_file(file, "--targets")?;
    let entries = parse_targets(file, &text)?;
    let first = &entries[0].0;
    let options = check(pending, &lowercase_scheme(&first.url))
        .map_err(|e| SetupError::new("--targets", file, format!("with the origin of line {}: {e}", first.line)))?;
    Ok((options, text))
}

/// A seed for a run without `--seed`: the clock's nanoseconds and the process id.
fn clock_seed() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32)
}

/// The trusted roots (the system's store and `--cacert`; none under `-k`) and the rest of the
/// TLS settings.
fn client_tls(options: &TlsOptions) -> Result<ClientTlsConfig, SetupError> {
    let (roots_der, system_roots) = if options.insecure {
        (Vec::new(), 0)
    } else {
        let paths: Vec<PathBuf> = options.cacert.iter().map(PathBuf::from).collect();
        crate::net::tls::load_roots(&paths).map_err(|e| SetupError::new("--cacert", options.cacert.join(","), e))?
    };
    let client_cert = match &options.client_cert {
        None => None,
        Some((cert, key)) => {
            let identity = ServerIdentity { cert_pem: read_file(cert, "--cert")?, key_pem: read_file(key, "--key")? };
            crate::net::tls::certified_key(&identity)
                .map_err(|e| SetupError::new("--cert/--key", format!("{cert}, {key}"), e))?;
            Some(identity)
        }
    };
    Ok(ClientTlsConfig {
        roots_der,
        system_roots,
        insecure: options.insecure,
        server_name: options.server_name.clone(),
        alpn_http: options.alpn_http,
        alpn_h2: options.alpn_h2,
        resume: options.resume,
        client_cert,
        version: options.version,
        cipher_suites: options.cipher_suites.clone(),
        groups: options.groups.clone(),
    })
}

/// Checks that `path` is a Unix socket, so that a typo is a message naming the path rather
/// than a run of connect errors. Whether something listens there shows in the run (refused).
fn unix_socket(path: &str) -> Result<PathBuf, String> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => Ok(PathBuf::from(path)),
        Ok(meta) => {
            let what = if meta.is_dir() { "a directory" } else { "not a socket" };
            Err(format!("{what}: expected the path of a Unix socket (a server's listening socket)"))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err("no such file: nothing listens on a Unix socket there".to_string())
        }
        Err(e) => Err(format!("cannot reach it: {e}")),
    }
}

/// The source addresses: `--bind` as given; else, for a loopback IPv4 target with many
/// connections, 127.0.0.1, 127.0.0.2, ... at most `CONNECTIONS_PER_SOURCE` connections each;
/// else none (the kernel picks, at no extra syscall). Connection-per-request with FIN closes
/// (TIME_WAIT) spreads too.
fn source_addresses(options: &RunOptions, target: SocketAddr) -> Result<Vec<IpAddr>, SetupError> {
    if let Some(Given { text, value }) = &options.bind {
        for ip in value {
            if ip.is_ipv4() != target.is_ipv4() {
                let reason = format!("{ip} is not of the same family as the target {target}");
                return Err(SetupError::new("--bind", text, reason));
            }
            check_local(*ip).map_err(|e| SetupError::new("--bind", text, format!("{ip} {e}")))?;
        }
        return Ok(value.clone());
    }
    let connections = options.connections;
    match target.ip() {
        IpAddr::V4(ip)
            if ip.is_loopback()
                && (connections > CONNECTIONS_PER_SOURCE || (options.reconnect && options.graceful_close)) =>
        {
            let n = connections.div_ceil(CONNECTIONS_PER_SOURCE).clamp(8, 250) as u8;
            Ok((1..=n).map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, i))).collect())
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

/// `clobber serve`'s `ServeConfig`: the address resolved, the cores checked, the certificate
/// read (and checked, so that a bad file is an error here rather than a failed server thread)
/// or made.
fn server(options: ServeOptions) -> Result<ServeConfig, SetupError> {
    let cpus = options.cpus.as_ref().map(available_cores).transpose()?;
    let listen = match options.unix {
        Some(_) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
        None => {
            resolve_host(&options.listen.value).map_err(|e| SetupError::new("--listen", &options.listen.text, e))?
        }
    };
    let tls = match options.tls {
        None => None,
        Some(ServeTls::SelfSigned) => Some(crate::net::tls::self_signed()),
        Some(ServeTls::Files { cert, key }) => {
            let identity =
                ServerIdentity { cert_pem: read_file(&cert, "--tls-cert")?, key_pem: read_file(&key, "--tls-key")? };
            crate::net::tls::server_config(&identity, options.mode.alpn())
                .map_err(|e| SetupError::new("--tls-cert/--tls-key", format!("{cert}, {key}"), e))?;
            Some(identity)
        }
    };
    Ok(ServeConfig {
        listen,
        unix: options.unix.map(PathBuf::from),
        mode: options.mode,
        until: options.until,
        respond: options.respond,
        threads: options.threads,
        cpus,
        delay: options.delay,
        stall: options.stall,
        tls,
    })
}

/// `clobber demo`: the server on 127.0.0.1 (a free port), pinned to the last core, over TLS
/// with a new self-signed certificate under `--tls`; the load on the other cores (unless `-t`
/// or `--cpus` says otherwise), trusting that certificate.
fn demo(mut options: RunOptions) -> Result<Demo, SetupError> {
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let server_core = (cores.len() > 1).then(|| cores[cores.len() - 1].id);
    if options.threads.is_none() && options.cpus.is_none() && cores.len() > 1 {
        let load: Vec<usize> = cores[..cores.len() - 1].iter().map(|c| c.id).collect();
        let text = load.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
        options.threads = Some(load.len());
        options.cpus = Some(Given { text, value: load });
    }
    let identity = options.tls.is_some().then(crate::net::tls::self_signed);
    let (mut load, request) = load(&options)?;
    if load.varying.is_some() {
        return Err(SetupError::new(
            "demo",
            "",
            "placeholders ({{seq}}, {{rand:LO-HI}}...) are for a run against a server of your own",
        ));
    }
    if let (Some(tls), Some(identity)) = (&mut load.tls, &identity) {
        for cert in
            <rustls::pki_types::CertificateDer as rustls::pki_types::pem::PemObject>::pem_slice_iter(&identity.cert_pem)
        {
            tls.roots_der.push(cert.expect("our own PEM parses").to_vec());
        }
    }
    let serve = ServeConfig {
        listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        unix: None,
        mode: if options.http2 { ServeMode::H2 } else { ServeMode::Http },
        until: Delimiter::new(b"\n"),
        respond: None,
        threads: 1,
        cpus: server_core.map(|c| vec![c]),
        delay: None,
        stall: None,
        tls: identity,
    };
    Ok(Demo { serve, load, request })
}

/// The cores of `--cpus`, each checked to exist on this machine.
fn available_cores(cpus: &Given<Vec<usize>>) -> Result<Vec<usize>, SetupError> {
    let available = core_affinity::get_core_ids().unwrap_or_default();
    if let Some(missing) = cpus.value.iter().find(|c| !available.iter().any(|id| id.id == **c)) {
        let reason = format!("core {missing} is not available here ({} cores)", available.len());
        return Err(SetupError::new("--cpus", &cpus.text, reason));
    }
    Ok(cpus.value.clone())
}

/// Resolves a host once, at start. When a name has several addresses (`localhost` is often
/// `::1` and `127.0.0.1`), the first that accepts a connection is used, as wrk does; the probe
/// sends nothing, and the report names the address.
fn resolve_host(host_port: &HostPort) -> Result<SocketAddr, String> {
    let HostPort { host, port } = host_port;
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, *port));
    }
    let addrs: Vec<SocketAddr> =
        (host.as_str(), *port).to_socket_addrs().map_err(|e| format!("cannot resolve '{host}': {e}"))?.collect();
    match addrs.as_slice() {
        [] => Err(format!("'{host}' resolved to no address")),
        [one] => Ok(*one),
        many => Ok(many
            .iter()
            .copied()
            .find(|a| std::net::TcpStream::connect_timeout(a, PROBE_CONNECT_TIMEOUT).is_ok())
            .unwrap_or(many[0])),
    }
}

/// The bytes of the file at `path` (`-`: standard input), for `flag`.
fn read_file(path: &str, flag: &'static str) -> Result<Vec<u8>, SetupError> {
    let result = if path == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).map(|_| buf)
    } else {
        std::fs::read(path)
    };
    result.map_err(|e| SetupError::new(flag, path, format!("cannot read it: {e}")))
}

/// A file path whose directory exists, checked before the run so that its end is not lost.
/// `--server-pid`'s processes: each PID given must exist; a name finds every process whose
/// `/proc/PID/comm` is that name (nginx's master and its workers alike), in PID order, but
/// this process.
fn server_pids(given: &ServerPids) -> Result<Vec<u32>, SetupError> {
    match given {
        ServerPids::Pids(pids) => {
            if let Some(gone) = pids.iter().find(|p| !Path::new(&format!("/proc/{p}/stat")).exists()) {
                let value = pids.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
                return Err(SetupError::new("--server-pid", value, format!("no process has PID {gone}")));
            }
            Ok(pids.clone())
        }
        ServerPids::Name(name) => {
            let mut pids: Vec<u32> = std::fs::read_dir("/proc")
                .map_err(|e| SetupError::new("--server-pid", name, format!("cannot list /proc: {e}")))?
                .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
                // Not clobber itself, when the server is another clobber (`clobber serve`).
                .filter(|&pid| pid != std::process::id())
                .filter(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim_end() == name))
                .collect();
            pids.sort_unstable();
            if pids.is_empty() {
                return Err(SetupError::new("--server-pid", name, "no process has that name"));
            }
            Ok(pids)
        }
    }
}

/// `--perf`'s processes and `--perf-out`'s directory; perf must be on PATH, checked here so
/// that a run never starts only to find it missing.
fn perf(of: PerfOf, server_pids: &[u32], out: Option<&str>) -> Result<PerfConfig, SetupError> {
    if !crate::profile::perf_installed() {
        return Err(SetupError::new("--perf", "", "perf is not installed: apt-get install linux-perf"));
    }
    let pids = match of {
        PerfOf::Server => server_pids.to_vec(),
        PerfOf::Own => vec![std::process::id()],
    };
    let out_dir = out.map(PathBuf::from);
    if let Some(dir) = &out_dir {
        if !dir.is_dir() {
            return Err(SetupError::new("--perf-out", dir.display().to_string(), "expected an existing directory"));
        }
    }
    Ok(PerfConfig { pids, out_dir })
}

fn writable_path(path: &str, flag: &'static str) -> Result<PathBuf, SetupError> {
    let p = PathBuf::from(path);
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if path.is_empty() || p.is_dir() || !dir.is_dir() {
        return Err(SetupError::new(flag, path, "expected a file path in an existing directory"));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_pids_must_exist_and_a_name_must_match() {
        let me = std::process::id();
        assert_eq!(server_pids(&ServerPids::Pids(vec![me])), Ok(vec![me]));
        let e = server_pids(&ServerPids::Pids(vec![me, 99_999_999])).unwrap_err();
        assert_eq!((e.flag, e.value.as_str()), ("--server-pid", &*format!("{me},99999999")));
        assert!(e.reason.contains("99999999"), "{e}");
        let e = server_pids(&ServerPids::Name("no-such-comm".into())).unwrap_err();
        assert_eq!((e.flag, e.reason.as_str()), ("--server-pid", "no process has that name"));
        // This process is never its own server, found by name.
        let own = std::fs::read_to_string("/proc/self/comm").unwrap().trim_end().to_string();
        if let Ok(pids) = server_pids(&ServerPids::Name(own)) {
            assert!(!pids.contains(&me), "{pids:?}");
        }
    }
    use crate::config::StatusSet;
    use crate::protocol::raw::RawFraming;

    fn set_up(args: &[&str]) -> Result<Command, SetupError> {
        let options = crate::cli::parse(args.iter().map(|s| s.to_string())).expect("the command line parses");
        command(options)
    }

    fn run(args: &[&str]) -> Config {
        match set_up(args) {
            Ok(Command::Run(c)) => c,
            other => panic!("expected a run, got {other:?}"),
        }
    }

    /// The setup error for a command line that `cli` accepts.
    fn err(args: &[&str]) -> SetupError {
        match set_up(args) {
            Err(e) => e,
            Ok(other) => panic!("expected a setup error for {args:?}, got {other:?}"),
        }
    }

    /// A file in a fresh temp directory, for the tests.
    fn temp_file(name: &str, text: &str) -> String {
        let dir = std::env::temp_dir().join(format!("clobber-setup-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    }

    #[test]
    fn targets_files_become_compiled_entries() {
        let body = temp_file("body.json", "{\"id\": \"{{seq}}\"}");
        let file = temp_file(
            "targets.txt",
            &format!("GET http://127.0.0.1:9/a\nX-A: 1\n\nPOST http://127.0.0.1:9/p?{{{{rand:1-100}}}}\n@{body}\n\nhttp://127.0.0.1:9/c\n"),
        );
        let c = run(&["--targets", &file, "-t", "1", "-c", "1", "--seed", "3", "-H", "X-A: 0", "-H", "X-B: 2"]);
        assert_eq!(c.target.addr.port(), 9);
        assert_eq!(c.target.label, "http://127.0.0.1:9/a");
        let v = c.varying.expect("a list varies");
        assert_eq!(v.labels, ["GET /a", "POST /p?{{rand:1-100}}", "GET /c"]);
        assert_eq!(v.seed, 3);
        let first = String::from_utf8_lossy(v.entries[0].bytes()).into_owned();
        assert!(first.contains("X-A: 1\r\n") && !first.contains("X-A: 0") && first.contains("X-B: 2\r\n"), "{first}");
        let post = String::from_utf8_lossy(v.entries[1].bytes()).into_owned();
        assert!(post.starts_with("POST /p?000 HTTP/1.1\r\n"), "{post}");
        assert!(post.contains("Content-Length: 22\r\n"), "{post}");
        assert!(post.ends_with("\r\n\r\n{\"id\": \"000000000000\"}"), "{post}");
        assert_eq!(v.entries[1].holes().len(), 2);
    }

    #[test]
    fn bad_targets_files_name_the_line() {
        for (name, text, words) in [
            ("bad.txt", "GET http://127.0.0.1:9/\nnot a header\n", "line 2: expected a header"),
            (
                "mixed.txt",
                "GET http://127.0.0.1:9/\n\nGET http://127.0.0.1:10/\n",
                "line 3: 'http://127.0.0.1:10/' is not on the origin of line 1",
            ),
            ("scheme.txt", "http://127.0.0.1:9/\nhttps://127.0.0.1:9/\n", "line 2:"),
            ("nobody.txt", "POST http://127.0.0.1:9/\n@/nonexistent/body.json\n", "line 2: cannot read the body file"),
            ("url.txt", "GET http://127.0.0.1:99999/\n", "line 1:"),
            ("rand.txt", "GET http://127.0.0.1:9/{{rand:9-1}}\n", "line 1: placeholder"),
            // A header's placeholder: the header's own line, not the request line.
            (
                "header.txt",
                "# h\nGET http://127.0.0.1:9/\nX-A: 1\nX-B: {{rand:1-}}\n",
                "line 4: X-B: placeholder '{{rand:1-}}'",
            ),
            ("head.txt", "GET http://127.0.0.1:9/\nHEAD http://127.0.0.1:9/\n", "line 2: HEAD mixed"),
        ] {
            let file = temp_file(name, text);
            let e = err(&["--targets", &file]);
            assert_eq!(e.flag, "--targets");
            assert!(e.to_string().contains(words), "{name}: {e}");
        }
    }

    #[test]
    fn labels_that_collide_get_the_body_file_then_the_line() {
        let (a, b) = (temp_file("a.json", "{}"), temp_file("b.json", "[]"));
        let file = temp_file(
            "collide.txt",
            &format!(
                "POST http://127.0.0.1:9/x\n@{a}\n\nPOST http://127.0.0.1:9/x\n@{b}\n\n\
                 GET http://127.0.0.1:9/y\nX-A: 1\n\nGET http://127.0.0.1:9/y\nX-A: 2\n\n\
                 POST http://127.0.0.1:9/x\nX-C: 3\n@{a}\n\nGET http://127.0.0.1:9/z\n"
            ),
        );
        let v = run(&["--targets", &file, "-t", "1"]).varying.unwrap();
        assert_eq!(
            v.labels,
            [
                format!("POST /x @{a} (line 1)"),
                format!("POST /x @{b}"),
                "GET /y (line 7)".to_string(),
                "GET /y (line 10)".to_string(),
                format!("POST /x @{a} (line 13)"),
                "GET /z".to_string(),
            ]
        );
        // Raw payloads alike in the first 40 bytes the label shows.
        let long = "x".repeat(50);
        let payloads = temp_file("long-payloads.txt", &format!("{long}1\\n\n{long}2\\n\nshort\\n\n"));
        let v = run(&["127.0.0.1:9", "--data-file", &payloads, "--until", "\\n", "-t", "1"]).varying.unwrap();
        let shown = "x".repeat(40);
        assert_eq!(v.labels, [format!("{shown}... (line 1)"), format!("{shown}... (line 2)"), "short\\n".to_string()]);
    }

    #[test]
    fn placeholder_errors_name_where_the_placeholder_is() {
        // A body file's: the @ line and the file.
        let body = temp_file("bad-body.json", "{\"k\": \"{{rand:5-2}}\"}");
        let file = temp_file("body-line.txt", &format!("POST http://127.0.0.1:9/p\nX-A: 1\n@{body}\n"));
        let e = err(&["--targets", &file]);
        assert_eq!(e.flag, "--targets");
        let said = e.to_string();
        assert!(said.contains(&format!("line 3: in the body file '{body}': placeholder '{{{{rand:5-2}}}}'")), "{said}");
        // -H's placeholders are -H's, with --targets or without; the URL's are TARGET's.
        let ok = temp_file("ok.txt", "GET http://127.0.0.1:9/\n");
        for args in
            [&["--targets", &ok, "-H", "X-B: {{rand:1-}}"][..], &["http://127.0.0.1:9/", "-H", "X-B: {{rand:1-}}"]]
        {
            let e = err(args);
            assert_eq!((e.flag, e.value.as_str()), ("-H/--header", "X-B: {{rand:1-}}"), "{e}");
        }
        let e = err(&["http://127.0.0.1:9/{{rand:9-1}}"]);
        assert_eq!(e.flag, "TARGET", "{e}");
        let e = err(&["http://127.0.0.1:9/", "-m", "POST", "--body", "{{rand:9-1}}"]);
        assert_eq!(e.flag, "--body", "{e}");
    }

    #[test]
    fn placeholders_vary_one_request() {
        let c = run(&["127.0.0.1:9", "--data", "SET key:{{rand:1-1000}} v\\r\\n", "-t", "1"]);
        assert_eq!(c.payload, b"SET key:0000 v\r\n");
        assert_eq!(c.varying.as_ref().unwrap().entries.len(), 1);
        assert!(!c.varying.unwrap().per_target());
        let c = run(&["http://127.0.0.1:9/x/{{seq}}", "-t", "1"]);
        assert!(c.payload.starts_with(b"GET /x/000000000000 HTTP/1.1\r\n"));
        assert!(run(&["127.0.0.1:9", "--data", "plain {{x}}"]).varying.is_none(), "not a placeholder");
        let file = temp_file("payloads.txt", "# keys\nGET a\\r\\n\n\nGET b{{worker}}\\r\\n\n");
        let c = run(&["127.0.0.1:9", "--data-file", &file, "--until", "\\r\\n", "-t", "1"]);
        let v = c.varying.unwrap();
        assert_eq!(v.labels, ["GET a\\r\\n", "GET b{{worker}}\\r\\n"]);
        assert_eq!(v.entries[1].bytes(), b"GET b0\r\n");
        let file = temp_file("bad-payloads.txt", "ok\nbad \\q\n");
        assert!(err(&["127.0.0.1:9", "--data-file", &file]).to_string().contains("line 2"));
    }

    #[test]
    fn defaults() {
        let c = run(&["127.0.0.1:9", "--data", "x"]);
        assert_eq!(c.connections, 50);
        assert_eq!(c.duration, Some(Duration::from_secs(10)));
        assert_eq!((c.requests, c.pipeline), (None, 1));
        assert!(c.pin && !c.reconnect && !c.json);
        assert_eq!(c.framing, Framing::Raw(RawFraming::OneRead));
        assert_eq!(c.target.addr, "127.0.0.1:9".parse().unwrap());
        assert_eq!(c.payload, b"x");
        assert_eq!(c.threads, std::thread::available_parallelism().map_or(1, |n| n.get()).min(50));
    }

    #[test]
    fn threads_never_exceed_connections() {
        let c = run(&["127.0.0.1:9", "--data", "x", "-c", "2", "-t", "8"]);
        assert_eq!((c.connections, c.threads), (2, 2));
        let c = run(&["127.0.0.1:9", "--data", "x", "--cpus", "0", "--connections=3"]);
        assert_eq!((c.cpus, c.threads, c.connections), (Some(vec![0]), 1, 3));
    }

    /// The machine's checks: each of these command lines parses, and setting it up fails
    /// naming the flag and the value.
    #[test]
    fn machine_checks_name_their_flag() {
        let cases: &[(&[&str], &str, &str)] = &[
            (&["127.0.0.1:9", "--file", "/nonexistent/clobber"], "--file", "/nonexistent/clobber"),
            (&["127.0.0.1:9", "--data", "x", "--cpus", "4000"], "--cpus", "4000"),
            (&["serve", "--cpus", "4000"], "--cpus", "4000"),
            (&["http://127.0.0.1:9/", "--bind", "::1"], "--bind", "::1"),
            (&["http://127.0.0.1:9/", "--body-file", "/nonexistent/body"], "--body-file", "/nonexistent/body"),
            (&["http://127.0.0.1:9/", "--http-file", "/nonexistent/req"], "--http-file", "/nonexistent/req"),
            (&["https://127.0.0.1:9/", "--cacert", "/nonexistent/ca.pem"], "--cacert", "/nonexistent/ca.pem"),
            (&["https://127.0.0.1:9/", "--cacert", "Cargo.toml"], "--cacert", "Cargo.toml"),
            (&["http://127.0.0.1:9/", "--html", "/nonexistent/dir/page.html"], "--html", "/nonexistent/dir/page.html"),
            (&["http://127.0.0.1:9/", "--html", "src"], "--html", "src"),
            (&["report", "a.json", "-o", "/nonexistent/dir/page.html"], "-o/--output", "/nonexistent/dir/page.html"),
            (&["serve", "--tls-cert", "Cargo.toml", "--tls-key", "Cargo.toml"], "--tls-cert", "Cargo.toml"),
            (&["serve", "--tls-cert", "/nonexistent/c.pem", "--tls-key", "k.pem"], "--tls-cert", "/nonexistent/c.pem"),
            (
                &["https://127.0.0.1:9/", "--cert", "/nonexistent/c.pem", "--key", "k.pem"],
                "--cert",
                "/nonexistent/c.pem",
            ),
            (&["https://127.0.0.1:9/", "--cert", "Cargo.toml", "--key", "Cargo.toml"], "--cert/--key", "Cargo.toml"),
        ];
        for (args, flag, value) in cases {
            let e = err(args);
            let message = e.to_string();
            assert!(e.flag.contains(flag) && message.contains(flag), "{args:?}: '{message}' does not name {flag}");
            assert!(e.value.contains(value) && message.contains(value), "{args:?}: '{message}' lacks '{value}'");
            assert!(!message.contains('\n'), "{args:?}: message is not one line");
        }
    }

    #[test]
    fn tls_targets_set_up_tls() {
        let c = run(&["https://localhost:8443/x", "-k", "--no-resume"]);
        let tls = c.tls.expect("https:// is TLS");
        assert!(tls.insecure && !tls.resume && tls.alpn_http && tls.roots_der.is_empty());
        assert_eq!(tls.server_name, "localhost");
        assert_eq!(c.target.addr.port(), 8443);
        let c = run(&["https://127.0.0.1/", "--sni", "example.com"]);
        assert_eq!(c.target.addr.port(), 443, "https:// defaults to port 443");
        assert_eq!(c.tls.as_ref().unwrap().server_name, "example.com");
        assert!(String::from_utf8_lossy(&c.payload).contains("Host: 127.0.0.1\r\n"), "no :443 in Host");
        let c = run(&["tcp://127.0.0.1:9", "--tls", "--data", "x"]);
        let tls = c.tls.expect("--tls is TLS");
        assert!(!tls.alpn_http && tls.resume && !tls.insecure);
        assert_eq!(tls.server_name, "127.0.0.1");
        assert!(run(&["http://127.0.0.1:9/"]).tls.is_none());
    }

    #[test]
    fn client_certificates_are_read_and_checked() {
        let identity = crate::net::tls::self_signed();
        let dir = std::env::temp_dir();
        let cert = dir.join(format!("clobber-setup-cert-{}.pem", std::process::id()));
        let key = dir.join(format!("clobber-setup-key-{}.pem", std::process::id()));
        std::fs::write(&cert, &identity.cert_pem).unwrap();
        std::fs::write(&key, &identity.key_pem).unwrap();
        let (c, k) = (cert.to_str().unwrap(), key.to_str().unwrap());
        let tls = run(&["https://127.0.0.1:9/", "--cert", c, "--key", k]).tls.unwrap();
        assert_eq!(tls.client_cert, Some(identity.clone()));
        let e = err(&["https://127.0.0.1:9/", "--cert", k, "--key", c]);
        assert_eq!(e.flag, "--cert/--key", "{e}");
        let other = crate::net::tls::self_signed();
        std::fs::write(&key, &other.key_pem).unwrap();
        let e = err(&["https://127.0.0.1:9/", "--cert", c, "--key", k]).to_string();
        assert!(e.contains("do not go together"), "{e}");
        std::fs::remove_file(&cert).unwrap();
        std::fs::remove_file(&key).unwrap();
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
        ]);
        assert_eq!(c.target.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(c.framing, Framing::Http { head: false });
        let text = String::from_utf8(c.payload).unwrap();
        assert!(text.starts_with("POST /api?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: 7\r\n"), "{text}");
        assert!(text.contains("Content-Type: application/json\r\nuser-agent: tester\r\n\r\n{\"a\":1}"), "{text}");
        assert!(!text.contains("clobber/"), "a user User-Agent replaces the default");
        let set: StatusSet = c.expect_status.unwrap();
        assert!(set.contains(200) && set.contains(299) && set.contains(404) && !set.contains(301));
        let c = run(&["http://127.0.0.1/", "-m", "HEAD", "--reconnect"]);
        assert_eq!(c.framing, Framing::Http { head: true });
        assert!(String::from_utf8(c.payload).unwrap().contains("Connection: close\r\n"));
        assert_eq!(c.target.addr.port(), 80);
    }

    #[test]
    fn files_are_read() {
        let path = std::env::temp_dir().join(format!("clobber-setup-files-{}", std::process::id()));
        let p = path.to_str().unwrap();
        std::fs::write(&path, b"ping\n").unwrap();
        assert_eq!(run(&["127.0.0.1:9", "--file", p]).payload, b"ping\n");
        let c = run(&["http://127.0.0.1:9/", "--body-file", p]);
        assert!(c.payload.ends_with(b"Content-Length: 5\r\n\r\nping\n"), "{:?}", String::from_utf8_lossy(&c.payload));
        std::fs::write(&path, b"").unwrap();
        let e = err(&["127.0.0.1:9", "--file", p]);
        assert!(e.flag == "--file" && e.to_string().contains("the request is empty"), "{e}");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn http_file_is_sent_as_is() {
        let path = std::env::temp_dir().join(format!("clobber-http-file-{}", std::process::id()));
        let p = path.to_str().unwrap();
        std::fs::write(&path, b"HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        let c = run(&["http://127.0.0.1:9/", "--http-file", p]);
        assert_eq!(c.payload, b"HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(c.framing, Framing::Http { head: true });
        std::fs::write(&path, b"GET / HTTP/1.1\r\n").unwrap();
        let e = err(&["http://127.0.0.1:9/", "--http-file", p]).to_string();
        assert!(e.contains("--http-file") && e.contains("incomplete"), "{e}");
        std::fs::write(&path, b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        let e = err(&["http://127.0.0.1:9/", "--http-file", p]).to_string();
        assert!(e.contains("--http-file") && e.contains(p) && e.contains("2 requests"), "{e}");
        std::fs::write(&path, b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort").unwrap();
        let e = err(&["http://127.0.0.1:9/", "--http-file", p]).to_string();
        assert!(e.contains("--http-file") && e.contains("Content-Length is 10 but the body has 5 bytes"), "{e}");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn source_addresses_spread_only_when_needed() {
        let c = run(&["http://127.0.0.1:9/", "-c", "100"]);
        assert!(c.bind.is_empty(), "few connections: the kernel picks, no bind syscall");
        let c = run(&["http://127.0.0.1:9/", "-c", "19000"]);
        assert_eq!(c.bind.len(), 8);
        assert_eq!(c.bind[1], "127.0.0.2".parse::<IpAddr>().unwrap());
        let c = run(&["http://127.0.0.1:9/", "--reconnect", "--graceful-close"]);
        assert_eq!(c.bind.len(), 8, "FIN closes leave TIME_WAIT: spread the ports");
        let c = run(&["http://127.0.0.1:9/", "--bind", "127.0.0.5, 127.0.0.6"]);
        assert_eq!(c.bind, vec!["127.0.0.5".parse::<IpAddr>().unwrap(), "127.0.0.6".parse().unwrap()]);
        assert_eq!((c.connect_timeout, c.timeout), (Duration::from_secs(5), Duration::from_secs(30)));
    }

    #[test]
    fn bind_addresses_must_belong_to_this_machine() {
        // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never an address of this machine. Checking it
        // binds a socket to it, which sends nothing.
        let e = err(&["http://127.0.0.1:9/", "--bind", "127.0.0.2,192.0.2.1"]).to_string();
        assert!(e.contains("--bind") && e.contains("192.0.2.1") && e.contains("not an address of this machine"), "{e}");
        assert!(!e.contains('\n'));
        let e = err(&["http://[::1]:9/", "--bind", "2001:db8::1"]).to_string();
        assert!(e.contains("--bind") && e.contains("2001:db8::1"), "{e}");
        let c = run(&["http://127.0.0.1:9/", "--bind", "127.0.0.1,127.0.0.3"]);
        assert_eq!(c.bind.len(), 2);
    }

    #[test]
    fn serve_is_set_up() {
        match set_up(&["serve", "--listen", "127.0.0.1:0", "--mode", "http", "-t", "2", "--tls"]) {
            Ok(Command::Serve(s)) => {
                assert_eq!((s.mode, s.threads), (ServeMode::Http, 2));
                assert_eq!(s.listen, "127.0.0.1:0".parse().unwrap());
                assert!(s.tls.is_some(), "--tls makes a certificate");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn demo_fills_in_the_address() {
        match set_up(&["demo", "-d", "1s", "-H", "X-A: b"]) {
            Ok(Command::Demo(demo)) => {
                assert_eq!(demo.serve.listen, "127.0.0.1:0".parse().unwrap());
                assert_eq!((demo.serve.mode, demo.serve.tls.is_some()), (ServeMode::Http, false));
                let c = demo.config("127.0.0.1:4321".parse().unwrap());
                assert_eq!(c.duration, Some(Duration::from_secs(1)));
                assert_eq!(c.target.addr, "127.0.0.1:4321".parse().unwrap());
                assert_eq!(c.target.label, "http://127.0.0.1:4321/");
                assert!(c.payload.starts_with(b"GET / HTTP/1.1\r\nHost: 127.0.0.1:4321\r\n"));
                assert!(String::from_utf8_lossy(&c.payload).contains("X-A: b\r\n"));
                assert_eq!(c.framing, Framing::Http { head: false });
            }
            other => panic!("{other:?}"),
        }
        match set_up(&["demo", "--tls", "-c", "2"]) {
            Ok(Command::Demo(demo)) => {
                let identity = demo.serve.tls.clone().expect("demo --tls serves TLS");
                let c = demo.config("127.0.0.1:4321".parse().unwrap());
                assert_eq!(c.target.label, "https://127.0.0.1:4321/");
                let tls = c.tls.expect("the load is TLS");
                assert_eq!(tls.server_name, "127.0.0.1");
                let ours = <rustls::pki_types::CertificateDer as rustls::pki_types::pem::PemObject>::pem_slice_iter(
                    &identity.cert_pem,
                )
                .next()
                .unwrap()
                .unwrap();
                assert!(tls.roots_der.contains(&ours.to_vec()), "the load trusts the server's certificate");
            }
            other => panic!("{other:?}"),
        }
    }
}
