//! The command line, pure: a plain lexopt loop collects the flags as typed, then `run_options`
//! (or the `serve`, `merge` and `report` loops) checks them into an `Options` value: numbers,
//! ranges, durations, escapes, statuses, URL syntax, and which flags go together. Nothing here
//! does I/O: no name is resolved, no file or standard input read, no socket bound, no core
//! listed, no terminal asked; `setup` does all that, once, after parsing. Every rejection is a
//! `UsageError` whose one-line message names the flag and the value; `main` prints it and exits
//! 2. `--help` and `--version` come back as values: nothing here prints or exits.

use std::ffi::OsString;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use lexopt::prelude::*;

use crate::config::{
    Framing, Order, Search, ServeMode, Slo, StatusSet, StepPlan, TlsVersion, TLS_CIPHER_SUITES, TLS_GROUPS,
};
use crate::protocol::http;
use crate::protocol::raw::{Delimiter, RawFraming};

pub use crate::VERSION;

/// `-t` and `serve -t`: more threads than this is a typo, not a machine.
pub const THREADS_MAX: usize = 1024;
/// `--pipeline`: requests written at once, at most.
pub const PIPELINE_MAX: usize = 65_536;
/// `--streams`: concurrent HTTP/2 streams per connection, at most.
pub const STREAMS_MAX: usize = 1000;
/// `-R`: requests per second in total, at most.
pub const RATE_PER_S_MAX: f64 = 1e9;
/// `--cpus`: core numbers must be below this.
pub const CORE_ID_LIMIT: usize = 4096;
/// Every duration flag: at most this many seconds (about 31 years).
pub const DURATION_S_MAX: f64 = 1e9;
/// `-c` when not given.
pub const CONNECTIONS_DEFAULT: usize = 50;
/// `-d` when neither `-d` nor `-n` is given.
pub const DURATION_DEFAULT: Duration = Duration::from_secs(10);
/// `demo -d` when not given.
pub const DEMO_DURATION_DEFAULT: Duration = Duration::from_secs(5);
/// `--connect-timeout` when not given.
pub const CONNECT_TIMEOUT_DEFAULT: Duration = Duration::from_secs(5);
/// `--timeout` when not given.
pub const TIMEOUT_DEFAULT: Duration = Duration::from_secs(30);
/// `serve --listen` when not given.
pub const LISTEN_DEFAULT: &str = "127.0.0.1:8000";

/// `sweep --step-factor` when neither it nor `--steps` is given.
pub const STEP_FACTOR_DEFAULT: f64 = 1.25;
/// `sweep --step-duration` when not given.
pub const STEP_DURATION_DEFAULT: Duration = Duration::from_secs(5);
/// `sweep --step-warmup` when not given.
pub const STEP_WARMUP_DEFAULT: Duration = Duration::from_secs(1);
/// A sweep has at most this many steps (before `--search`'s probes): more is a typo in
/// `--rates` or `--step-factor`, not a plan.
pub const SWEEP_STEPS_MAX: usize = 1000;

/// `--give-up` when `-n` is given without `-d`.
pub const GIVE_UP_DEFAULT: Duration = Duration::from_secs(5);

pub const HELP: &str = "\
clobber: an HTTP and TCP load generator with few client CPU cycles per request

USAGE:
    clobber [OPTIONS] http://HOST[:PORT]/PATH   HTTP/1.1 load
    clobber [OPTIONS] https://HOST[:PORT]/PATH  HTTP/1.1 over TLS
    clobber --http2 [OPTIONS] http(s)://...     HTTP/2 (h2c with prior knowledge, or h2
                                                over TLS by ALPN)
    clobber [OPTIONS] tcp://HOST:PORT           raw TCP load (also HOST:PORT; --tls for TLS)
    clobber [OPTIONS] unix:PATH                 raw load to a Unix socket (--unix-socket: HTTP)
    clobber [OPTIONS] --targets FILE            HTTP load over a list of requests (no TARGET)
    clobber serve [SERVE OPTIONS]               the built-in target server (serve --help)
    clobber demo [OPTIONS]                      serve and clobber on loopback for 5 s
                                                (demo --tls: over TLS; demo --help)
    clobber sweep [OPTIONS] URL --rates A..B --slo OBJ
                                                step the rate up to the knee (sweep --help)
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
        --targets FILE    send the requests listed in FILE (`-`: standard input) instead
                          of one: vegeta's format, entries of `METHOD URL` (or `URL`), header
                          lines and an `@path` body line, separated by blank lines, `#`
                          comments; one scheme, host and port for all; no TARGET. -H adds
                          its headers to every entry
        --http2           speak HTTP/2: h2c with prior knowledge for http://, ALPN h2
                          for https:// (a server that does not select h2 is an error of
                          kind h2_alpn); the same request, as HTTP/2 headers, HPACK-encoded
                          once
        --streams N       with --http2: concurrent streams per connection, at most the
                          server's SETTINGS_MAX_CONCURRENT_STREAMS [default: 1]
    Defaults: Host, User-Agent: clobber/VERSION; --reconnect adds Connection: close.
    Credentials in the URL (http://user:pass@host/) send Authorization: Basic.

UNIX SOCKETS:
        unix:PATH         as TARGET: raw bytes to the Unix socket at PATH (--data, --frame...)
        --unix-socket PATH  an http:// or https:// target over the Unix socket at PATH; the
                          URL still gives Host and the path (as curl's flag)

RAW TCP REQUEST (tcp:// and unix: targets):
        --data STR        the request bytes; escapes: \\r \\n \\t \\\\ \\xNN
        --file PATH       the request bytes from a file (`-` reads standard input)
        --data-file PATH  several requests: one payload per line, with --data's escapes
                          (blank lines and `#` comments skipped)

REQUESTS THAT VARY (URL, headers, body, raw payloads):
    Placeholders: {{seq}} (unique in the run, 12 digits), {{rand:LO-HI}} (uniform, as
    wide as HI), {{worker}}, {{conn}}. Every value is zero-padded to its fixed width, so
    Content-Length stays right; in a JSON body put them in strings: {\"id\": \"{{seq}}\"}.
        --order ORDER     round-robin or random: the order of --targets or --data-file
                          entries [default: round-robin]
        --seed N          seed for {{rand}} and --order random: the same seed sends the same
                          requests [default: from the clock]

RAW TCP RESPONSE FRAMING (at most one; --pipeline needs one):
        --frame PROTO     responses are PROTO's replies, counted by kind in the report:
                          resp (Redis, RESP2 and RESP3: an error reply is a response,
                          tallied as resp_error) or memcache (memcached's text protocol:
                          VALUE blocks up to END, STORED, NOT_FOUND, ERROR, ...)
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
        --cert PEM        present this client certificate chain (mTLS)...
        --key PEM         ...signed by this private key (both, or neither)
        --tls-version V   only this TLS version: 1.2 or 1.3 [default: both]
        --tls-ciphers LIST  the cipher suites to offer, in order, comma-separated:
                          TLS13_AES_128_GCM_SHA256, TLS13_AES_256_GCM_SHA384,
                          TLS13_CHACHA20_POLY1305_SHA256, and for TLS 1.2
                          TLS_ECDHE_{ECDSA,RSA}_WITH_AES_128_GCM_SHA256,
                          TLS_ECDHE_{ECDSA,RSA}_WITH_AES_256_GCM_SHA384,
                          TLS_ECDHE_{ECDSA,RSA}_WITH_CHACHA20_POLY1305_SHA256
                          [default: rustls' list]
        --tls-groups LIST the key exchange groups to offer, in order: X25519, secp256r1,
                          secp384r1, X25519MLKEM768, secp256r1MLKEM768, MLKEM768,
                          MLKEM1024 [default: rustls' list, X25519MLKEM768 first]
    The report names the version, cipher suite and group the first handshake negotiated.
    HTTP targets offer ALPN http/1.1 (h2 with --http2). SSLKEYLOGFILE=path logs session keys for Wireshark.

RATE AND MEASUREMENT:
    -R, --rate N          N requests per second in total, on a schedule (open loop);
                          latency counts from when each request was due, so server stalls
                          show (coordinated-omission correction); the report also gives the
                          uncorrected service time. Fractions are fine: -R 0.5
        --warmup DUR      run the load for DUR first, recording nothing
        --start-at T      wait until Unix time T (seconds) before starting, to line up
                          runs on several machines (see clobber merge --help)
        --server-pid PIDS the server's processes, PID[,PID...] or a command name (every
                          process of that name, e.g. nginx): the report gives their CPU
                          time per request and which side was the bottleneck
        --perf            profile the --server-pid processes with perf (cpu-clock samples
                          over the measured window): the report lists the top functions by
                          self time, --html adds a flamegraph; --perf self profiles clobber
        --perf-out DIR    with --perf: also write perf.data, perf.folded (the folded
                          stacks) and flamegraph.svg into the directory DIR

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
        --http2           HTTP/2 (the server's --mode h2); --streams N concurrent streams
        --streams N       with --http2: concurrent streams per connection [default: 1]
    -R, --rate N          N requests per second in total, on a schedule (open loop)
        --warmup DUR      run the load for DUR first, recording nothing
    -m, -H, --body, --expect-status, --timeout, --no-resume ...
                          and the other HTTP, TLS and timing options of clobber --help
        --json            print the report as one JSON object on stdout
        --html PATH       also write the report as an HTML page of charts to PATH
        --progress        a line per second on stderr
    -h, --help            print this help
";

pub const SWEEP_HELP: &str = "\
clobber sweep: step the open-loop rate up until an objective breaks (find the knee)

USAGE:
    clobber sweep [OPTIONS] URL --rates A..B --slo OBJ [--slo OBJ ...]
    clobber sweep [OPTIONS] --targets FILE --rates A..B --slo OBJ [--slo OBJ ...]

Each step is an open-loop run (as -R) at one rate, with coordinated-omission correction, on
the same connections as the step before, after a short warm-up that is not recorded. Rates
grow geometrically from A to B. The sweep stops at the first step that breaks an objective,
or when clobber itself cannot keep up with the rate asked (no slack): then the client, not the
server, is the limit, and the sweep says so.

SWEEP OPTIONS:
        --rates A..B      the first and the last rate, requests per second: 1000..200000
        --step-factor F   each step's rate is the last one's times F [default: 1.25]
        --steps N         instead: N rates from A to B, spaced geometrically
        --step-duration DUR  each step's measured length [default: 5s]
        --step-warmup DUR    each step's warm-up, not recorded [default: 1s]
        --slo OBJ         an objective every step must meet, repeatable (at least one):
                          p50, p90, p99, p99.9, p99.99 or max of the corrected latency
                          at most a duration (p99<=10ms); errors<=X% of requests
                          (errors<=0.1%); achieved>=X% of the rate asked (achieved>=95%)
        --search          then bisect between the last passing and the first failing
                          rate until they are within 2%
        --search-steps N  with --search: at most N bisection steps (implies --search)

    And the load options of clobber --help (-c, -t, --cpus, --no-pin, --timeout, -m, -H,
    and --body, --data, --until, TLS...), except -d, -n, -R, --warmup and --pipeline.

OUTPUT:
        --json            {\"sweep\": {\"sustainable_rps\", \"slo\", \"steps\": [...]}} on stdout,
                          each step with its full report (clobber report draws it)
        --html PATH       also write the latency-throughput page to PATH
        --progress        a line per step on stderr (default on a terminal)
    -h, --help            print this help

EXIT CODES:
    0  a rate passed every objective (the sustainable one is printed)
    1  even the first step failed, or nothing could be measured
    2  bad usage
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

Sweeps (clobber sweep --json) are drawn as latency (p50 and p99, log scale) against achieved
throughput, one line per sweep, the latency objectives as horizontal lines and each sweep's
knee marked, with a table of knees. Sweeps and single runs cannot share a page.
";

pub const SERVE_HELP: &str = "\
clobber serve: the built-in target server (mio, one event loop per thread, no locks)

USAGE:
    clobber serve [OPTIONS]

OPTIONS:
        --listen ADDR     address to listen on; port 0 picks a free one; unix:PATH creates
                          a Unix socket at PATH (removed on exit) [default: 127.0.0.1:8000]
        --mode MODE       echo: send back every byte received; http: answer every HTTP/1.1
                          request with `200 OK` and body `hello`; h2: answer every HTTP/2
                          stream the same way (h2c with prior knowledge, or with --tls*
                          ALPN h2) [default: echo]
        --until STR       echo mode: what ends a request, for counting [default: \\n]
        --respond STR     the bytes to send for each request instead of the default
                          (echo mode: per --until request; http mode: a whole response;
                          not with h2)
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

/// What the command line asks for: one variant per command, its flags checked, nothing looked
/// up yet (`setup::command` does that).
#[derive(Debug, Clone, PartialEq)]
pub enum Options {
    Run(RunOptions),
    Serve(ServeOptions),
    /// A load against the built-in server, whose port is known only once it listens: the
    /// target is `127.0.0.1` with port 0 until `setup::Demo::config` fills it in.
    Demo(RunOptions),
    /// `clobber sweep`: open-loop steps up to the knee.
    Sweep(SweepOptions),
    /// Several runs' JSON reports into one report.
    Merge {
        files: Vec<PathBuf>,
        json: bool,
    },
    /// Runs' JSON reports into an HTML page (`output`: standard output if `None`).
    Report {
        files: Vec<PathBuf>,
        labels: Vec<String>,
        output: Option<String>,
    },
    /// A run over `--targets`: its target is the file's origin, known once `setup` has read
    /// the file (`PendingRun::with_origin`).
    RunTargets(PendingRun),
    /// `clobber sweep --targets`: the same wait for the file's origin
    /// (`PendingRun::sweep_with_origin`).
    SweepTargets(PendingRun),
    Help(&'static str),
    Version,
}

/// A `--targets` run's flags as typed, waiting for the origin of the file's entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRun {
    raw: RunArgs,
}

impl PendingRun {
    /// The `--targets` path (`-`: standard input).
    pub fn file(&self) -> &str {
        self.raw.targets.as_deref().expect("a pending run has --targets")
    }

    /// The run's flags checked, with the file's first URL as the target.
    pub fn with_origin(&self, url: &str) -> Result<RunOptions, UsageError> {
        let mut raw = self.raw.clone();
        raw.target = Some(url.to_string());
        run_options(raw, false)
    }

    /// The sweep's flags checked, with the file's first URL as the target.
    pub fn sweep_with_origin(&self, url: &str) -> Result<SweepOptions, UsageError> {
        let mut raw = self.raw.clone();
        raw.target = Some(url.to_string());
        sweep_options(raw)
    }
}

/// A flag of wrk (or another tool) that clobber spells differently: a message naming
/// clobber's equivalent, instead of "unknown option".
fn other_tools_flag(arg: &lexopt::Arg) -> Option<UsageError> {
    // Matched by name, not as `Long(..)` patterns: these are not clobber's flags, and the
    // help test lists every flag the parser's patterns take.
    let name = match arg {
        Long(name) => format!("--{name}"),
        Short(c) => format!("-{c}"),
        Value(_) => return None,
    };
    let (flag, message) = match name.as_str() {
        "--latency" => ("--latency", "--latency is wrk's: clobber always prints the latency percentiles and histogram"),
        "-s" | "--script" => (
            "-s/--script",
            "-s is wrk's Lua script: clobber varies requests with --targets FILE, --data-file and \
             placeholders such as {{seq}} and {{rand:1-1000}} (see --help)",
        ),
        "-T" => ("-T", "-T is wrk's timeout: clobber's is --timeout DUR (and --connect-timeout)"),
        _ => return None,
    };
    Some(UsageError::Conflict { flag, message: message.to_string() })
}

/// A value as the user wrote it and as parsed: the text is for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Given<T> {
    pub text: String,
    pub value: T,
}

/// `HOST:PORT`, split but not resolved; `host` has no IPv6 brackets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    pub host: String,
    pub port: u16,
}

/// The target as written, its syntax checked; `setup` resolves the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetOptions {
    /// As given, with the scheme in lower case: for the report and for messages.
    pub label: String,
    pub host_port: HostPort,
    /// `http://` and `https://` targets: the URL the request is built from; `None` for raw TCP.
    pub url: Option<http::Url>,
    /// Connect to this Unix socket instead of `host_port` (a `unix:PATH` target, or
    /// `--unix-socket` with an http:// target, whose URL still gives Host and path).
    pub unix: Option<String>,
}

/// Bytes given on the command line, or a file to read them from (`-`: standard input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Inline(Vec<u8>),
    File(String),
}

/// What one request is, and how its response ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestOptions {
    /// `tcp://`: `--data` or `--file`, and the raw framing.
    Raw { payload: Source, framing: Framing },
    /// `tcp://` with `--data-file`: one payload per line.
    RawList { file: String, framing: Framing },
    /// `--targets FILE`: the entries' requests, each with these `-H` headers added.
    Targets { file: String, headers: Vec<(String, String)> },
    /// `http://`: a request built from the URL and these (the body, if any, maybe a file).
    Http { method: String, headers: Vec<(String, String)>, body: Option<Source> },
    /// `--http-file PATH`: one complete request, sent as is.
    HttpFile(String),
}

/// TLS as asked for; `setup` loads the roots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    /// `--cacert` files, in order.
    pub cacert: Vec<String>,
    pub insecure: bool,
    /// `--sni`, or the target's host: checked to be a name (or address) TLS can verify.
    pub server_name: String,
    pub alpn_http: bool,
    /// `--http2`: offer ALPN h2 instead of http/1.1.
    pub alpn_h2: bool,
    pub resume: bool,
    /// `--cert` and `--key`: the client certificate chain and key files, read by `setup`.
    pub client_cert: Option<(String, String)>,
    /// `--tls-version`, `--tls-ciphers`, `--tls-groups` (names in rustls' spelling).
    pub version: Option<TlsVersion>,
    pub cipher_suites: Vec<String>,
    pub groups: Vec<String>,
}

/// A load run's flags, checked. The fields mirror `Config`'s; those that need the machine
/// (the address, the request bytes from a file, the roots, the cores) are still as given.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOptions {
    pub target: TargetOptions,
    pub request: RequestOptions,
    /// `--expect-status` (HTTP only).
    pub expect_status: Option<StatusSet>,
    pub connections: usize,
    /// `-t`, or as many as `--cpus` lists; `None`: one per core, which `setup` counts.
    pub threads: Option<usize>,
    /// `--cpus`; `setup` checks that each core exists here.
    pub cpus: Option<Given<Vec<usize>>>,
    pub pin: bool,
    pub duration: Option<Duration>,
    pub requests: Option<u64>,
    pub pipeline: usize,
    pub reconnect: bool,
    /// `--http2`, and `--streams` (1 without it).
    pub http2: bool,
    pub streams: usize,
    pub graceful_close: bool,
    pub json: bool,
    pub rate_per_s: Option<f64>,
    pub warmup: Option<Duration>,
    /// `--server-pid`; `setup` finds the processes.
    pub server_pid: Option<ServerPids>,
    /// `--perf`: whose processes to profile; `--perf-out`: where to keep the files.
    pub perf: Option<PerfOf>,
    pub perf_out: Option<String>,
    /// `--progress` given; without it `setup` turns progress on for a terminal.
    pub progress: bool,
    pub start_at_unix_s: Option<f64>,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    pub give_up: Option<Duration>,
    /// `--bind`; `setup` checks that each is an address of this machine, of the target's family.
    pub bind: Option<Given<Vec<IpAddr>>>,
    pub tls: Option<TlsOptions>,
    /// `--html`; `setup` checks that its directory exists.
    pub html: Option<String>,
    pub fail_on_error: bool,
    /// `--order` (for a list of requests).
    pub order: Order,
    /// `--seed`; `None`: `setup` takes one from the clock.
    pub seed: Option<u64>,
}

/// `clobber sweep`'s flags, checked: the load of every step, and the sweep's own.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepOptions {
    /// The load; its `rate_per_s` is the first rate, its `duration` unused.
    pub run: RunOptions,
    pub rate_from_per_s: f64,
    pub rate_to_per_s: f64,
    pub steps: StepPlan,
    pub step_duration: Duration,
    pub step_warmup: Duration,
    pub slos: Vec<Slo>,
    pub search: Option<Search>,
}

/// `--perf`: the `--server-pid` processes, or (`--perf self`) clobber's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PerfOf {
    Server,
    Own,
}

/// `--server-pid`: process ids, or a command name (`/proc/PID/comm`) to look for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerPids {
    Pids(Vec<u32>),
    Name(String),
}

/// `serve`'s TLS: a new self-signed certificate, or a certificate and key to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServeTls {
    SelfSigned,
    Files { cert: String, key: String },
}

/// `clobber serve`'s flags, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeOptions {
    /// `--listen`, not resolved; port 0 picks a free one.
    pub listen: Given<HostPort>,
    /// `--listen unix:PATH`: the Unix socket to create instead (`listen` is then unused).
    pub unix: Option<String>,
    pub mode: ServeMode,
    pub until: Delimiter,
    pub respond: Option<Vec<u8>>,
    pub threads: usize,
    pub cpus: Option<Given<Vec<usize>>>,
    pub delay: Option<Duration>,
    /// `--stall-every N --stall DUR`.
    pub stall: Option<(u64, Duration)>,
    pub tls: Option<ServeTls>,
}

/// A bad command line. Each message is one line that names the flag (and the value, when
/// there is one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsageError {
    /// lexopt's complaint about `flag` (an unknown option, a missing value, ...); `see`: the
    /// command whose help it points to, for arguments the command does not take.
    Syntax { flag: String, message: String, see: Option<&'static str> },
    /// `invalid value '{value}' for {flag}: {expected}`.
    Invalid { flag: &'static str, value: String, expected: String },
    /// Flags that do not go together, or one that needs another or another target: `message`
    /// says which, `flag` first.
    Conflict { flag: &'static str, message: String },
    /// Something the command needs that is not there (the target, the request, the files).
    Missing { what: &'static str, message: &'static str },
    /// `unexpected argument '{value}': {reason}`.
    Unexpected { value: String, reason: &'static str },
}

impl UsageError {
    /// The flag (or `TARGET`, or the command) the error is about.
    pub fn flag(&self) -> &str {
        match self {
            UsageError::Syntax { flag, .. } => flag,
            UsageError::Invalid { flag, .. } | UsageError::Conflict { flag, .. } => flag,
            UsageError::Missing { what, .. } => what,
            UsageError::Unexpected { value, .. } => value,
        }
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::Syntax { message, see: None, .. } => f.write_str(message),
            UsageError::Syntax { message, see: Some(command), .. } => write!(f, "{message}; see {command} --help"),
            UsageError::Invalid { flag, value, expected } => {
                write!(f, "invalid value '{value}' for {flag}: {expected}")
            }
            UsageError::Conflict { message, .. } => f.write_str(message),
            UsageError::Missing { message, .. } => f.write_str(message),
            UsageError::Unexpected { value, reason } => write!(f, "unexpected argument '{value}': {reason}"),
        }
    }
}

impl std::error::Error for UsageError {}

impl From<lexopt::Error> for UsageError {
    fn from(e: lexopt::Error) -> UsageError {
        syntax(e, None)
    }
}

/// lexopt's error, with the option or argument it is about.
fn syntax(e: lexopt::Error, see: Option<&'static str>) -> UsageError {
    let flag = match &e {
        lexopt::Error::UnexpectedOption(option) => option.clone(),
        lexopt::Error::MissingValue { option } => option.clone().unwrap_or_default(),
        lexopt::Error::UnexpectedValue { option, .. } => option.clone(),
        lexopt::Error::UnexpectedArgument(argument) => argument.to_string_lossy().into_owned(),
        _ => String::new(),
    };
    UsageError::Syntax { flag, message: e.to_string(), see }
}

/// lexopt's error for `command`'s arguments; an option or argument it does not take points
/// to the command's help.
fn unknown(e: lexopt::Error, command: &'static str) -> UsageError {
    match e {
        lexopt::Error::UnexpectedOption(_)
        | lexopt::Error::UnexpectedArgument(_)
        | lexopt::Error::UnexpectedValue { .. } => syntax(e, Some(command)),
        other => syntax(other, None),
    }
}

fn bad(flag: &'static str, value: &str, expected: &str) -> UsageError {
    UsageError::Invalid { flag, value: value.to_string(), expected: expected.to_string() }
}

fn conflict(flag: &'static str, message: impl Into<String>) -> UsageError {
    UsageError::Conflict { flag, message: message.into() }
}

/// Flags of a load run as typed, before they are checked.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
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
    data_file: Option<String>,
    targets: Option<String>,
    order: Option<String>,
    seed: Option<String>,
    until: Option<String>,
    expect_bytes: Option<String>,
    until_close: bool,
    frame: Option<String>,
    unix_socket: Option<String>,
    pipeline: Option<String>,
    reconnect: bool,
    http2: bool,
    streams: Option<String>,
    json: bool,
    method: Option<String>,
    headers: Vec<String>,
    body: Option<String>,
    body_file: Option<String>,
    http_file: Option<String>,
    expect_status: Vec<String>,
    rate: Option<String>,
    warmup: Option<String>,
    server_pid: Option<String>,
    perf: Option<PerfOf>,
    perf_out: Option<String>,
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
    cert: Option<String>,
    key: Option<String>,
    tls_version: Option<String>,
    tls_ciphers: Option<String>,
    tls_groups: Option<String>,
    html: Option<String>,
    fail_on_error: bool,
    sweep: SweepArgs,
}

/// `clobber sweep`'s own flags as typed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct SweepArgs {
    rates: Option<String>,
    step_factor: Option<String>,
    steps: Option<String>,
    step_duration: Option<String>,
    step_warmup: Option<String>,
    slos: Vec<String>,
    search: bool,
    search_steps: Option<String>,
}

impl SweepArgs {
    /// The first sweep flag given, if any: for the message when it is given without `sweep`.
    fn first_given(&self) -> Option<&'static str> {
        [
            ("--rates", self.rates.is_some()),
            ("--step-factor", self.step_factor.is_some()),
            ("--steps", self.steps.is_some()),
            ("--step-duration", self.step_duration.is_some()),
            ("--step-warmup", self.step_warmup.is_some()),
            ("--slo", !self.slos.is_empty()),
            ("--search", self.search),
            ("--search-steps", self.search_steps.is_some()),
        ]
        .into_iter()
        .find(|(_, given)| *given)
        .map(|(flag, _)| flag)
    }
}

/// Parses the arguments after the program name.
pub fn parse<I>(args: I) -> Result<Options, UsageError>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    let mut parser = lexopt::Parser::from_args(args);
    let mut raw = RunArgs::default();
    let mut demo = false;
    let mut sweep = false;
    let mut first = true;
    let command = |demo: bool, sweep: bool| match (demo, sweep) {
        (true, _) => "clobber demo",
        (_, true) => "clobber sweep",
        _ => "clobber",
    };
    while let Some(arg) = parser.next().map_err(|e| unknown(e, command(demo, sweep)))? {
        match arg {
            Short('h') | Long("help") => {
                return Ok(Options::Help(match (demo, sweep) {
                    (true, _) => DEMO_HELP,
                    (_, true) => SWEEP_HELP,
                    _ => HELP,
                }))
            }
            Short('V') | Long("version") => return Ok(Options::Version),
            Short('c') | Long("connections") => raw.connections = Some(string(&mut parser, "-c/--connections")?),
            Short('t') | Long("threads") => raw.threads = Some(string(&mut parser, "-t/--threads")?),
            Long("cpus") => raw.cpus = Some(string(&mut parser, "--cpus")?),
            Long("no-pin") => raw.no_pin = true,
            Short('d') | Long("duration") => raw.duration = Some(string(&mut parser, "-d/--duration")?),
            Short('n') | Long("requests") => raw.requests = Some(string(&mut parser, "-n/--requests")?),
            Long("data") => raw.data = Some(string(&mut parser, "--data")?),
            Long("file") => raw.file = Some(string(&mut parser, "--file")?),
            Long("data-file") => raw.data_file = Some(string(&mut parser, "--data-file")?),
            Long("targets") => raw.targets = Some(string(&mut parser, "--targets")?),
            Long("order") => raw.order = Some(string(&mut parser, "--order")?),
            Long("seed") => raw.seed = Some(string(&mut parser, "--seed")?),
            Long("until") => raw.until = Some(string(&mut parser, "--until")?),
            Long("expect-bytes") => raw.expect_bytes = Some(string(&mut parser, "--expect-bytes")?),
            Long("until-close") => raw.until_close = true,
            Long("frame") => raw.frame = Some(string(&mut parser, "--frame")?),
            Long("unix-socket") => raw.unix_socket = Some(string(&mut parser, "--unix-socket")?),
            Long("pipeline") => raw.pipeline = Some(string(&mut parser, "--pipeline")?),
            Long("reconnect") => raw.reconnect = true,
            Long("http2") => raw.http2 = true,
            Long("streams") => raw.streams = Some(string(&mut parser, "--streams")?),
            Long("json") => raw.json = true,
            Short('m') | Long("method") => raw.method = Some(string(&mut parser, "-m/--method")?),
            Short('H') | Long("header") => raw.headers.push(string(&mut parser, "-H/--header")?),
            Long("body") => raw.body = Some(string(&mut parser, "--body")?),
            Long("body-file") => raw.body_file = Some(string(&mut parser, "--body-file")?),
            Long("http-file") => raw.http_file = Some(string(&mut parser, "--http-file")?),
            Long("expect-status") => raw.expect_status.push(string(&mut parser, "--expect-status")?),
            Short('R') | Long("rate") => raw.rate = Some(string(&mut parser, "-R/--rate")?),
            Long("warmup") => raw.warmup = Some(string(&mut parser, "--warmup")?),
            Long("server-pid") => raw.server_pid = Some(string(&mut parser, "--server-pid")?),
            Long("perf") => raw.perf = Some(perf_of(&mut parser)?),
            Long("perf-out") => raw.perf_out = Some(string(&mut parser, "--perf-out")?),
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
            Long("cert") => raw.cert = Some(string(&mut parser, "--cert")?),
            Long("key") => raw.key = Some(string(&mut parser, "--key")?),
            Long("tls-version") => raw.tls_version = Some(string(&mut parser, "--tls-version")?),
            Long("tls-ciphers") => raw.tls_ciphers = Some(string(&mut parser, "--tls-ciphers")?),
            Long("tls-groups") => raw.tls_groups = Some(string(&mut parser, "--tls-groups")?),
            Long("html") => raw.html = Some(string(&mut parser, "--html")?),
            Long("fail-on-error") => raw.fail_on_error = true,
            Long("rates") => raw.sweep.rates = Some(string(&mut parser, "--rates")?),
            Long("step-factor") => raw.sweep.step_factor = Some(string(&mut parser, "--step-factor")?),
            Long("steps") => raw.sweep.steps = Some(string(&mut parser, "--steps")?),
            Long("step-duration") => raw.sweep.step_duration = Some(string(&mut parser, "--step-duration")?),
            Long("step-warmup") => raw.sweep.step_warmup = Some(string(&mut parser, "--step-warmup")?),
            Long("slo") => raw.sweep.slos.push(string(&mut parser, "--slo")?),
            Long("search") => raw.sweep.search = true,
            Long("search-steps") => raw.sweep.search_steps = Some(string(&mut parser, "--search-steps")?),
            Value(v) if first && v == "sweep" => sweep = true,
            Value(v) if first && v == "merge" => return parse_merge(parser),
            Value(v) if first && v == "report" => return parse_report(parser),
            Value(v) if first && v == "serve" => return parse_serve(parser),
            Value(v) if first && v == "demo" => demo = true,
            Value(v) => {
                let v = v.into_string().map_err(|v| bad("TARGET", &v.to_string_lossy(), "not UTF-8"))?;
                if raw.target.is_some() {
                    return Err(UsageError::Unexpected { value: v, reason: "only one TARGET is allowed" });
                }
                raw.target = Some(v);
            }
            _ => {
                if let Some(e) = other_tools_flag(&arg) {
                    return Err(e);
                }
                return Err(unknown(arg.unexpected(), command(demo, sweep)));
            }
        }
        first = false;
    }
    if sweep {
        if raw.targets.is_some() {
            if let Some(t) = raw.target {
                return Err(UsageError::Unexpected {
                    value: t,
                    reason: "--targets gives the URLs (and so the target): drop TARGET",
                });
            }
            return Ok(Options::SweepTargets(PendingRun { raw }));
        }
        return Ok(Options::Sweep(sweep_options(raw)?));
    }
    if let Some(flag) = raw.sweep.first_given() {
        return Err(conflict(flag, format!("{flag} is a flag of clobber sweep: write clobber sweep URL ...")));
    }
    if raw.targets.is_some() {
        if demo {
            return Err(conflict("--targets", "the demo sends GET / to its own server: --targets is for a run"));
        }
        if let Some(t) = raw.target {
            return Err(UsageError::Unexpected {
                value: t,
                reason: "--targets gives the URLs (and so the target): drop TARGET",
            });
        }
        return Ok(Options::RunTargets(PendingRun { raw }));
    }
    if demo {
        if let Some(t) = raw.target {
            return Err(UsageError::Unexpected { value: t, reason: "demo picks its own target" });
        }
        // The demo loads the built-in HTTP server (over TLS with --tls) on loopback.
        let scheme = if raw.tls { "https" } else { "http" };
        raw.target = Some(format!("{scheme}://127.0.0.1:0/"));
        return Ok(Options::Demo(run_options(raw, true)?));
    }
    Ok(Options::Run(run_options(raw, false)?))
}

/// `--perf`, `--perf self` or `--perf=self`: the word `self` is taken only when it follows.
fn perf_of(parser: &mut lexopt::Parser) -> Result<PerfOf, UsageError> {
    if let Some(v) = parser.optional_value() {
        return match v.to_str() {
            Some("self") => Ok(PerfOf::Own),
            _ => Err(bad("--perf", &v.to_string_lossy(), "expected nothing, or self")),
        };
    }
    let own = parser.raw_args().ok().and_then(|mut raw| raw.next_if(|a| a == "self")).is_some();
    Ok(if own { PerfOf::Own } else { PerfOf::Server })
}

fn string(parser: &mut lexopt::Parser, flag: &'static str) -> Result<String, UsageError> {
    let v = parser.value()?;
    v.into_string().map_err(|v| bad(flag, &v.to_string_lossy(), "not UTF-8"))
}

/// `clobber sweep`'s flags, checked: the load flags as for a run (less those a sweep sets
/// itself), then the rates, the steps and the objectives.
fn sweep_options(mut raw: RunArgs) -> Result<SweepOptions, UsageError> {
    let not_for_sweep = [
        ("-d/--duration", raw.duration.is_some(), "each step lasts --step-duration"),
        ("-n/--requests", raw.requests.is_some(), "each step lasts --step-duration"),
        ("-R/--rate", raw.rate.is_some(), "the rates are --rates A..B"),
        ("--warmup", raw.warmup.is_some(), "each step warms up for --step-warmup"),
        ("--pipeline", raw.pipeline.is_some(), "the steps are paced single requests"),
        ("--server-pid", raw.server_pid.is_some(), "a sweep judges the latency, not the server's CPU"),
        ("--perf", raw.perf.is_some(), "profile a single run at the rate of interest instead"),
        ("--perf-out", raw.perf_out.is_some(), "profile a single run at the rate of interest instead"),
        ("--start-at", raw.start_at.is_some(), "a sweep starts at once"),
        ("--give-up", raw.give_up.is_some(), "a step ends at its --step-duration"),
        ("--fail-on-error", raw.fail_on_error, "the exit code says whether a rate passed; use --slo errors<=0%"),
    ];
    if let Some((flag, _, why)) = not_for_sweep.into_iter().find(|(_, given, _)| *given) {
        return Err(conflict(flag, format!("{flag} does not go with clobber sweep: {why}")));
    }
    let args = std::mem::take(&mut raw.sweep);
    let rates_text = args.rates.as_deref().ok_or(UsageError::Missing {
        what: "--rates",
        message: "clobber sweep needs --rates A..B (requests per second, e.g. --rates 1000..50000)",
    })?;
    let (rate_from_per_s, rate_to_per_s) = parse_rates(rates_text)?;
    let steps = match (&args.step_factor, &args.steps) {
        (Some(_), Some(_)) => {
            return Err(conflict("--step-factor", "--step-factor and --steps exclude each other: give one"))
        }
        (Some(v), None) => match v.parse::<f64>() {
            Ok(f) if f > 1.0 && f <= 100.0 => StepPlan::Factor(f),
            _ => return Err(bad("--step-factor", v, "expected a factor above 1 and at most 100, such as 1.25")),
        },
        (None, Some(v)) => {
            let n = positive(v, "--steps")? as usize;
            if n < 2 && rate_from_per_s != rate_to_per_s {
                return Err(bad("--steps", v, "expected at least 2 (the first and the last rate)"));
            }
            StepPlan::Count(n)
        }
        (None, None) => StepPlan::Factor(STEP_FACTOR_DEFAULT),
    };
    let n_steps = match steps {
        StepPlan::Count(n) => n,
        StepPlan::Factor(f) => ((rate_to_per_s / rate_from_per_s).ln() / f.ln()).ceil() as usize + 1,
    };
    if n_steps > SWEEP_STEPS_MAX {
        return Err(conflict(
            if matches!(steps, StepPlan::Count(_)) { "--steps" } else { "--step-factor" },
            format!("--rates {rates_text} in steps of {steps:?} makes {n_steps} steps; at most {SWEEP_STEPS_MAX}"),
        ));
    }
    let duration = |flag: &'static str, v: &Option<String>, default: Duration| match v {
        Some(v) => parse_duration(v).map_err(|e| bad(flag, v, &e)),
        None => Ok(default),
    };
    let step_duration = duration("--step-duration", &args.step_duration, STEP_DURATION_DEFAULT)?;
    let step_warmup = duration("--step-warmup", &args.step_warmup, STEP_WARMUP_DEFAULT)?;
    if args.slos.is_empty() {
        return Err(UsageError::Missing {
            what: "--slo",
            message: "clobber sweep needs at least one --slo, e.g. --slo 'p99<=10ms' --slo 'errors<=0.1%'",
        });
    }
    let slos = args.slos.iter().map(|v| v.parse::<Slo>().map_err(|e| bad("--slo", v, &e))).collect::<Result<_, _>>()?;
    let max_probes = args.search_steps.as_deref().map(|v| positive(v, "--search-steps")).transpose()?;
    let search = (args.search || max_probes.is_some()).then(|| Search { max_probes: max_probes.map(|n| n as usize) });
    raw.rate = Some(rate_from_per_s.to_string());
    let run = run_options(raw, false)?;
    Ok(SweepOptions { run, rate_from_per_s, rate_to_per_s, steps, step_duration, step_warmup, slos, search })
}

/// `--rates A..B`: two rates in requests per second, 0 < A <= B.
fn parse_rates(v: &str) -> Result<(f64, f64), UsageError> {
    let expected = "expected A..B in requests per second, A at most B, such as 1000..50000";
    let (a, b) = v.split_once("..").ok_or_else(|| bad("--rates", v, expected))?;
    let rate = |t: &str| t.trim().replace('_', "").parse::<f64>().ok().filter(|r| *r > 0.0 && *r <= RATE_PER_S_MAX);
    match (rate(a), rate(b)) {
        (Some(a), Some(b)) if a <= b => Ok((a, b)),
        _ => Err(bad("--rates", v, expected)),
    }
}

/// A load run's flags, checked; `demo`: the target is the demo's server (port 0 until it
/// listens), and `-d` defaults to the demo's.
fn run_options(raw: RunArgs, demo: bool) -> Result<RunOptions, UsageError> {
    let target_text = raw.target.as_deref().map(lowercase_scheme).ok_or(UsageError::Missing {
        what: "TARGET",
        message: "missing TARGET (http://HOST:PORT/PATH, tcp://HOST:PORT or HOST:PORT); try --help",
    })?;
    let connections = match &raw.connections {
        Some(v) => positive(v, "-c/--connections")? as usize,
        None => CONNECTIONS_DEFAULT,
    };
    let cpus = raw.cpus.as_deref().map(parse_cpus).transpose()?;
    let threads = match (&raw.threads, &cpus) {
        (Some(v), _) => Some(positive(v, "-t/--threads")? as usize),
        (None, Some(list)) => Some(list.value.len()),
        (None, None) => None,
    };
    if let Some(n) = threads.filter(|&n| n > THREADS_MAX) {
        return Err(bad("-t/--threads", &n.to_string(), "expected at most 1024"));
    }
    let requests = raw.requests.as_deref().map(|v| positive(v, "-n/--requests")).transpose()?;
    let duration = match (&raw.duration, requests) {
        (Some(v), _) => Some(parse_duration(v).map_err(|e| bad("-d/--duration", v, &e))?),
        // The demo always ends by itself, -n or not.
        (None, _) if demo => Some(DEMO_DURATION_DEFAULT),
        (None, Some(_)) => None,
        (None, None) => Some(DURATION_DEFAULT),
    };
    let pipeline = match &raw.pipeline {
        Some(v) => positive(v, "--pipeline")? as usize,
        None => 1,
    };
    if pipeline > PIPELINE_MAX {
        return Err(bad("--pipeline", &pipeline.to_string(), "expected at most 65536"));
    }
    let rate_per_s = raw
        .rate
        .as_deref()
        .map(|v| match v.parse::<f64>() {
            Ok(r) if r > 0.0 && r.is_finite() && r <= RATE_PER_S_MAX => Ok(r),
            _ => Err(bad("-R/--rate", v, "expected requests per second, more than 0 (0.5 and 2000 are fine)")),
        })
        .transpose()?;
    if rate_per_s.is_some() && pipeline > 1 {
        return Err(conflict("-R/--rate", "-R/--rate paces single requests: it cannot be combined with --pipeline"));
    }
    let warmup = raw.warmup.as_deref().map(|v| parse_duration(v).map_err(|e| bad("--warmup", v, &e))).transpose()?;
    let server_pid = raw.server_pid.as_deref().map(parse_server_pids).transpose()?;
    if demo && server_pid.is_some() {
        return Err(conflict("--server-pid", "--server-pid is for a server of your own: the demo measures its own"));
    }
    match raw.perf {
        Some(PerfOf::Server) if server_pid.is_none() => {
            return Err(conflict(
                "--perf",
                "--perf profiles the server: give --server-pid too, or --perf self to profile clobber",
            ))
        }
        None if raw.perf_out.is_some() => {
            return Err(conflict("--perf-out", "--perf-out keeps --perf's files: give --perf too"))
        }
        _ => {}
    }
    let start_at_unix_s = raw
        .start_at
        .as_deref()
        .map(|v| match v.parse::<f64>() {
            Ok(t) if t >= 0.0 && t.is_finite() => Ok(t),
            _ => Err(bad("--start-at", v, "expected a Unix time in seconds, e.g. $(($(date +%s) + 10))")),
        })
        .transpose()?;
    let http = target_text.starts_with("http://") || target_text.starts_with("https://");
    let streams = match &raw.streams {
        Some(v) => positive(v, "--streams")? as usize,
        None => 1,
    };
    if streams > STREAMS_MAX {
        return Err(bad("--streams", &streams.to_string(), "expected at most 1000"));
    }
    if raw.streams.is_some() && !raw.http2 {
        return Err(conflict("--streams", "--streams is HTTP/2's: give --http2 too (HTTP/1.1 has --pipeline)"));
    }
    if raw.http2 && !http {
        return Err(conflict("--http2", "--http2 needs an http:// or https:// target"));
    }
    if raw.http2 && pipeline > 1 {
        return Err(conflict("--pipeline", "--pipeline is HTTP/1.1's: with --http2 use --streams"));
    }
    let (target, request, expect_status) =
        if http { http_request(&raw, &target_text, demo)? } else { raw_request(&raw, &target_text, pipeline)? };
    let tls = client_tls(&raw, &target)?;
    let connect_timeout = match &raw.connect_timeout {
        Some(v) => parse_duration(v).map_err(|e| bad("--connect-timeout", v, &e))?,
        None => CONNECT_TIMEOUT_DEFAULT,
    };
    let timeout = match &raw.timeout {
        Some(v) => parse_duration(v).map_err(|e| bad("--timeout", v, &e))?,
        None => TIMEOUT_DEFAULT,
    };
    let give_up = match &raw.give_up {
        Some(v) => Some(parse_duration(v).map_err(|e| bad("--give-up", v, &e))?),
        // With -n alone nothing else ends a run whose target never answers.
        None if requests.is_some() && duration.is_none() => Some(GIVE_UP_DEFAULT),
        None => None,
    };
    if raw.graceful_close && !raw.reconnect {
        return Err(conflict(
            "--graceful-close",
            "--graceful-close is how --reconnect closes its connections: give --reconnect too, or drop it",
        ));
    }
    let bind = raw.bind.as_deref().map(parse_bind).transpose()?;
    if let (Some(path), Some(_)) = (&target.unix, &bind) {
        return Err(conflict(
            "--bind",
            format!("--bind picks source IP addresses: the target is the Unix socket '{path}'"),
        ));
    }
    let order = match raw.order.as_deref() {
        None | Some("round-robin") => Order::RoundRobin,
        Some("random") => Order::Random,
        Some(v) => return Err(bad("--order", v, "expected round-robin or random")),
    };
    if raw.order.is_some() && raw.targets.is_none() && raw.data_file.is_none() {
        return Err(conflict("--order", "--order orders a list of requests: give --targets or --data-file"));
    }
    let seed = raw
        .seed
        .as_deref()
        .map(|v| v.parse::<u64>().map_err(|_| bad("--seed", v, "expected a whole number")))
        .transpose()?;
    Ok(RunOptions {
        order,
        seed,
        target,
        request,
        expect_status,
        connections,
        threads,
        cpus,
        pin: !raw.no_pin,
        duration,
        requests,
        pipeline,
        reconnect: raw.reconnect,
        http2: raw.http2,
        streams,
        graceful_close: raw.graceful_close,
        json: raw.json,
        rate_per_s,
        warmup,
        server_pid,
        perf: raw.perf,
        perf_out: raw.perf_out,
        progress: raw.progress,
        start_at_unix_s,
        connect_timeout,
        timeout,
        give_up,
        bind,
        tls,
        html: raw.html,
        fail_on_error: raw.fail_on_error,
    })
}

/// `--server-pid`: `PID[,PID...]` (each more than 0), or a command name (anything else
/// without a comma or a slash: Linux keeps 15 bytes of it).
fn parse_server_pids(v: &str) -> Result<ServerPids, UsageError> {
    let invalid = || bad("--server-pid", v, "expected PID[,PID...] or a command name such as nginx");
    if v.starts_with(|c: char| c.is_ascii_digit()) {
        let pids = v.split(',').map(|p| p.trim().parse::<u32>().ok().filter(|&p| p > 0)).collect::<Option<Vec<_>>>();
        return pids.filter(|p| !p.is_empty()).map(ServerPids::Pids).ok_or_else(invalid);
    }
    if v.is_empty() || v.contains([',', '/']) || v.len() > 15 {
        return Err(invalid());
    }
    Ok(ServerPids::Name(v.to_string()))
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

/// `--bind 127.0.0.2,127.0.0.3`: the addresses, in order.
fn parse_bind(v: &str) -> Result<Given<Vec<IpAddr>>, UsageError> {
    let value = v
        .split(',')
        .map(|part| part.trim().parse().map_err(|_| bad("--bind", v, "expected addresses such as 127.0.0.2,127.0.0.3")))
        .collect::<Result<_, _>>()?;
    Ok(Given { text: v.to_string(), value })
}

/// `clobber report FILE... [-o PATH] [--label NAME]...`.
fn parse_report(mut parser: lexopt::Parser) -> Result<Options, UsageError> {
    let mut files = Vec::new();
    let mut labels = Vec::new();
    let mut output = None;
    while let Some(arg) = parser.next().map_err(|e| unknown(e, "clobber report"))? {
        match arg {
            Short('h') | Long("help") => return Ok(Options::Help(REPORT_HELP)),
            Short('o') | Long("output") => output = Some(string(&mut parser, "-o/--output")?),
            Long("label") => labels.push(string(&mut parser, "--label")?),
            Value(v) => files.push(PathBuf::from(v)),
            _ => return Err(unknown(arg.unexpected(), "clobber report")),
        }
    }
    if files.is_empty() {
        return Err(UsageError::Missing {
            what: "report",
            message: "report needs at least one JSON report (clobber ... --json > run.json)",
        });
    }
    if labels.len() > files.len() {
        return Err(bad("--label", &labels[files.len()], &format!("more labels than the {} files", files.len())));
    }
    Ok(Options::Report { files, labels, output })
}

/// The TLS settings of a run: on for `https://` and for `--tls`; the TLS flags need one.
fn client_tls(raw: &RunArgs, target: &TargetOptions) -> Result<Option<TlsOptions>, UsageError> {
    let target_text = target.label.as_str();
    let http = target.url.is_some();
    let https = target.url.as_ref().is_some_and(|u| u.tls);
    if raw.tls && http && !https {
        return Err(conflict(
            "--tls",
            format!("--tls with an http:// target: write https:// instead ('{target_text}')"),
        ));
    }
    if !(https || raw.tls) {
        let tls_only = [
            ("--cacert", !raw.cacert.is_empty()),
            ("-k/--insecure", raw.insecure),
            ("--sni", raw.sni.is_some()),
            ("--no-resume", raw.no_resume),
            ("--cert", raw.cert.is_some()),
            ("--key", raw.key.is_some()),
            ("--tls-version", raw.tls_version.is_some()),
            ("--tls-ciphers", raw.tls_ciphers.is_some()),
            ("--tls-groups", raw.tls_groups.is_some()),
        ];
        if let Some((flag, _)) = tls_only.into_iter().find(|(_, given)| *given) {
            return Err(conflict(flag, format!("{flag} needs TLS: an https:// target, or --tls with tcp://")));
        }
        return Ok(None);
    }
    let host = target.host_port.host.as_str();
    let server_name = match &raw.sni {
        Some(name) => rustls::pki_types::ServerName::try_from(name.as_str())
            .map_err(|_| bad("--sni", name, "expected a DNS name such as example.com, or an IP address"))?
            .to_str()
            .into_owned(),
        None => rustls::pki_types::ServerName::try_from(host)
            .map_err(|_| bad("TARGET", target_text, &format!("'{host}' is not a name TLS can verify; give --sni")))?
            .to_str()
            .into_owned(),
    };
    if raw.insecure && !raw.cacert.is_empty() {
        return Err(conflict(
            "--cacert",
            "--cacert has no effect with -k/--insecure (nothing is verified): give one or the other",
        ));
    }
    let client_cert = match (&raw.cert, &raw.key) {
        (Some(cert), Some(key)) => Some((cert.clone(), key.clone())),
        (None, None) => None,
        (Some(_), None) => return Err(conflict("--key", "--cert needs --key (the certificate's private key)")),
        (None, Some(_)) => return Err(conflict("--cert", "--key needs --cert (the certificate it signs for)")),
    };
    let version = match raw.tls_version.as_deref() {
        None => None,
        Some("1.2") => Some(TlsVersion::Tls12),
        Some("1.3") => Some(TlsVersion::Tls13),
        Some(v) => return Err(bad("--tls-version", v, "expected 1.2 or 1.3")),
    };
    let cipher_suites = raw.tls_ciphers.as_deref().map(|v| tls_names("--tls-ciphers", v, TLS_CIPHER_SUITES));
    let cipher_suites = cipher_suites.transpose()?.unwrap_or_default();
    if let (Some(version), false) = (version, cipher_suites.is_empty()) {
        let tls13 = version == TlsVersion::Tls13;
        if !cipher_suites.iter().any(|s| s.starts_with("TLS13_") == tls13) {
            let (v, which) = if tls13 { ("1.3", "TLS13_...") } else { ("1.2", "TLS_ECDHE_...") };
            return Err(conflict(
                "--tls-ciphers",
                format!("--tls-ciphers has no suite for --tls-version {v}: add a {which} one"),
            ));
        }
    }
    let groups = raw.tls_groups.as_deref().map(|v| tls_names("--tls-groups", v, TLS_GROUPS)).transpose()?;
    Ok(Some(TlsOptions {
        cacert: raw.cacert.clone(),
        insecure: raw.insecure,
        server_name,
        alpn_http: http,
        alpn_h2: raw.http2,
        resume: !raw.no_resume,
        client_cert,
        version,
        cipher_suites,
        groups: groups.unwrap_or_default(),
    }))
}

/// `--tls-ciphers` and `--tls-groups`: comma-separated names from `known`, in any case,
/// returned in rustls' spelling and in the order given (repeats dropped).
fn tls_names(flag: &'static str, value: &str, known: &[&str]) -> Result<Vec<String>, UsageError> {
    let mut names: Vec<String> = Vec::new();
    for name in value.split(',').map(str::trim) {
        let Some(known) = known.iter().find(|k| k.eq_ignore_ascii_case(name)) else {
            return Err(bad(flag, value, &format!("unknown name '{name}' (expected some of {})", known.join(", "))));
        };
        if !names.iter().any(|n| n == known) {
            names.push(known.to_string());
        }
    }
    Ok(names)
}

/// `clobber merge FILE... [--json]`: JSON reports from several runs into one.
fn parse_merge(mut parser: lexopt::Parser) -> Result<Options, UsageError> {
    let mut files = Vec::new();
    let mut json = false;
    while let Some(arg) = parser.next().map_err(|e| unknown(e, "clobber merge"))? {
        match arg {
            Short('h') | Long("help") => return Ok(Options::Help(MERGE_HELP)),
            Long("json") => json = true,
            Value(v) => files.push(PathBuf::from(v)),
            _ => return Err(unknown(arg.unexpected(), "clobber merge")),
        }
    }
    if files.is_empty() {
        return Err(UsageError::Missing {
            what: "merge",
            message: "merge needs at least one JSON report (clobber ... --json > run.json)",
        });
    }
    Ok(Options::Merge { files, json })
}

type Request = (TargetOptions, RequestOptions, Option<StatusSet>);

/// A `tcp://` or `HOST:PORT` target: the request bytes and the raw framing.
fn raw_request(raw: &RunArgs, target_text: &str, pipeline: usize) -> Result<Request, UsageError> {
    let http_only = [
        ("-m/--method", raw.method.is_some()),
        ("-H/--header", !raw.headers.is_empty()),
        ("--body", raw.body.is_some()),
        ("--body-file", raw.body_file.is_some()),
        ("--http-file", raw.http_file.is_some()),
        ("--expect-status", !raw.expect_status.is_empty()),
        ("--targets", raw.targets.is_some()),
    ];
    if let Some((flag, _)) = http_only.into_iter().find(|(_, given)| *given) {
        return Err(conflict(flag, format!("{flag} needs an http:// target (the target is '{target_text}')")));
    }
    if raw.unix_socket.is_some() {
        return Err(conflict(
            "--unix-socket",
            format!("--unix-socket is for http:// targets; for raw bytes the target is unix:PATH ('{target_text}')"),
        ));
    }
    let target = parse_target(target_text)?;
    if let Some(file) = &raw.data_file {
        if let Some((flag, _)) =
            [("--data", raw.data.is_some()), ("--file", raw.file.is_some())].into_iter().find(|(_, g)| *g)
        {
            return Err(conflict(
                "--data-file",
                format!("--data-file lists the requests: {flag} cannot be added to it"),
            ));
        }
        let framing = parse_framing(raw)?;
        check_raw_pipeline(&framing, pipeline)?;
        return Ok((target, RequestOptions::RawList { file: file.clone(), framing }, None));
    }
    let payload = match (&raw.data, &raw.file) {
        (Some(_), Some(_)) => return Err(conflict("--data", "--data and --file cannot be used together")),
        (Some(d), None) => {
            let bytes = parse_escapes(d).map_err(|e| bad("--data", d, &e))?;
            if bytes.is_empty() {
                return Err(UsageError::Missing {
                    what: "--data",
                    message: "the request is empty: --data or --file must give at least one byte",
                });
            }
            Source::Inline(bytes)
        }
        (None, Some(path)) => Source::File(path.clone()),
        (None, None) => {
            return Err(UsageError::Missing {
                what: "--data",
                message: "no request bytes: give --data STR or --file PATH for a tcp:// target",
            })
        }
    };
    let framing = parse_framing(raw)?;
    check_raw_pipeline(&framing, pipeline)?;
    Ok((target, RequestOptions::Raw { payload, framing }, None))
}

/// `--pipeline` needs a raw framing that can split responses.
fn check_raw_pipeline(framing: &Framing, pipeline: usize) -> Result<(), UsageError> {
    if pipeline > 1 {
        match framing {
            Framing::Raw(RawFraming::OneRead) => {
                return Err(conflict(
                    "--pipeline",
                    "--pipeline needs a response framing: give --frame, --until or --expect-bytes",
                ))
            }
            Framing::Raw(RawFraming::UntilClose) => {
                return Err(conflict(
                    "--pipeline",
                    "--pipeline with --until-close: only one response can end at a close; use --until or \
                     --expect-bytes",
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// An `http://` target: the request to build from the URL and the flags (or a raw file);
/// `demo`: the URL is the demo's server, whose port (0 here) is known once it listens.
fn http_request(raw: &RunArgs, target_text: &str, demo: bool) -> Result<Request, UsageError> {
    let raw_only = [
        ("--data", raw.data.is_some()),
        ("--file", raw.file.is_some()),
        ("--data-file", raw.data_file.is_some()),
        ("--until", raw.until.is_some()),
        ("--expect-bytes", raw.expect_bytes.is_some()),
        ("--until-close", raw.until_close),
        ("--frame", raw.frame.is_some()),
    ];
    if let Some((flag, _)) = raw_only.into_iter().find(|(_, given)| *given) {
        let hint = if flag == "--data-file" {
            "use --targets for a list of HTTP requests"
        } else if flag == "--data" || flag == "--file" {
            "use --body, --body-file or --http-file"
        } else {
            "HTTP responses are framed by their headers"
        };
        return Err(conflict(flag, format!("{flag} is for tcp:// targets; {hint}")));
    }
    let url = if demo {
        let tls = target_text.starts_with("https://");
        let host = "127.0.0.1".to_string();
        http::Url { authority: format!("{host}:0"), host, port: 0, path: "/".to_string(), tls, credentials: None }
    } else {
        http::parse_url(target_text).map_err(|e| bad("TARGET", target_text, &e))?
    };
    let host_port = HostPort { host: url.host.clone(), port: url.port };
    let request = if let Some(file) = &raw.targets {
        let per_entry = [
            ("-m/--method", raw.method.is_some()),
            ("--body", raw.body.is_some()),
            ("--body-file", raw.body_file.is_some()),
            ("--http-file", raw.http_file.is_some()),
        ];
        if let Some((flag, _)) = per_entry.into_iter().find(|(_, given)| *given) {
            return Err(conflict(flag, format!("{flag} with --targets: each entry gives its own method and body")));
        }
        let headers = raw.headers.iter().map(|h| parse_header(h)).collect::<Result<Vec<_>, _>>()?;
        RequestOptions::Targets { file: file.clone(), headers }
    } else if let Some(path) = &raw.http_file {
        let built_flags = [
            ("-m/--method", raw.method.is_some()),
            ("-H/--header", !raw.headers.is_empty()),
            ("--body", raw.body.is_some()),
            ("--body-file", raw.body_file.is_some()),
        ];
        if let Some((flag, _)) = built_flags.into_iter().find(|(_, given)| *given) {
            return Err(conflict(flag, format!("--http-file sends its request as is: {flag} cannot be added to it")));
        }
        RequestOptions::HttpFile(path.clone())
    } else {
        let method = raw.method.clone().unwrap_or_else(|| "GET".to_string());
        if method.is_empty() || !method.bytes().all(is_token_byte) {
            return Err(bad("-m/--method", &method, "expected a method name such as GET or POST"));
        }
        let headers = raw.headers.iter().map(|h| parse_header(h)).collect::<Result<Vec<_>, _>>()?;
        let body = match (&raw.body, &raw.body_file) {
            (Some(_), Some(_)) => return Err(conflict("--body", "--body and --body-file cannot be used together")),
            (Some(b), None) => Some(Source::Inline(b.as_bytes().to_vec())),
            (None, Some(path)) => Some(Source::File(path.clone())),
            (None, None) => None,
        };
        RequestOptions::Http { method, headers, body }
    };
    let mut expect = None;
    for v in &raw.expect_status {
        let set = expect.get_or_insert_with(StatusSet::default);
        let (low, high) = parse_status_range(v).ok_or_else(|| {
            bad("--expect-status", v, "expected a status 100-599 (200), a class (2xx) or a range (200-299)")
        })?;
        set.insert_range(low, high);
    }
    let unix = match &raw.unix_socket {
        Some(path) if demo => return Err(conflict("--unix-socket", format!("the demo serves TCP, not '{path}'"))),
        Some(path) if path.is_empty() => return Err(bad("--unix-socket", path, "expected the path of a Unix socket")),
        other => other.clone(),
    };
    let target = TargetOptions { label: hide_password(target_text), host_port, url: Some(url), unix };
    Ok((target, request, expect))
}

/// The URL for the report: a password in its user information replaced by `***`, so that a
/// report shared or kept in CI does not carry it.
fn hide_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            let password = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{password}@{host}{path}")
        }
        None => url.to_string(),
    }
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

fn parse_framing(raw: &RunArgs) -> Result<Framing, UsageError> {
    let given = [raw.frame.is_some(), raw.until.is_some(), raw.expect_bytes.is_some(), raw.until_close];
    if given.iter().filter(|&&g| g).count() > 1 {
        let first = if raw.frame.is_some() { "--frame" } else { "--until" };
        return Err(conflict(first, "--frame, --until, --expect-bytes and --until-close exclude each other: give one"));
    }
    if let Some(v) = &raw.frame {
        return match v.to_ascii_lowercase().as_str() {
            "resp" | "redis" => Ok(Framing::Resp),
            "memcache" | "memcached" => Ok(Framing::Memcache),
            _ => Err(bad("--frame", v, "expected resp (Redis) or memcache (memcached's text protocol)")),
        };
    }
    if let Some(v) = &raw.until {
        let delim = parse_escapes(v).map_err(|e| bad("--until", v, &e))?;
        if delim.is_empty() {
            return Err(bad("--until", v, "expected at least one byte"));
        }
        return Ok(Framing::Raw(RawFraming::Until(Delimiter::new(&delim))));
    }
    if let Some(v) = &raw.expect_bytes {
        return Ok(Framing::Raw(RawFraming::Exact(positive(v, "--expect-bytes")?)));
    }
    if raw.until_close {
        return Ok(Framing::Raw(RawFraming::UntilClose));
    }
    Ok(Framing::Raw(RawFraming::OneRead))
}

fn parse_serve(mut parser: lexopt::Parser) -> Result<Options, UsageError> {
    let mut listen = LISTEN_DEFAULT.to_string();
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
            Short('h') | Long("help") => return Ok(Options::Help(SERVE_HELP)),
            Long("listen") => listen = string(&mut parser, "--listen")?,
            Long("mode") => {
                let v = string(&mut parser, "--mode")?;
                mode = match v.as_str() {
                    "echo" => ServeMode::Echo,
                    "http" => ServeMode::Http,
                    "h2" => ServeMode::H2,
                    _ => return Err(bad("--mode", &v, "expected echo, http or h2")),
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
                if threads > THREADS_MAX {
                    return Err(bad("-t/--threads", &v, "expected at most 1024"));
                }
            }
            Long("cpus") => cpus = Some(parse_cpus(&string(&mut parser, "--cpus")?)?),
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
    let (host_port, unix) = match listen.strip_prefix("unix:") {
        Some("") => return Err(bad("--listen", &listen, "expected unix:PATH, the path of the socket to create")),
        Some(path) => (HostPort { host: "localhost".to_string(), port: 0 }, Some(path.to_string())),
        None => (host_port(&listen, true).map_err(|e| bad("--listen", &listen, &e))?, None),
    };
    if mode == ServeMode::H2 && respond.is_some() {
        return Err(conflict("--respond", "--mode h2 answers every stream with a fixed 200: drop --respond"));
    }
    let stall = match (stall_every, stall) {
        (Some(every), Some(pause)) => Some((every, pause)),
        (None, None) => None,
        _ => return Err(conflict("--stall-every", "--stall-every N and --stall DUR go together: give both")),
    };
    let tls = match (tls_cert, tls_key, self_signed) {
        (None, None, false) => None,
        (None, None, true) => Some(ServeTls::SelfSigned),
        (Some(cert), Some(key), false) => Some(ServeTls::Files { cert, key }),
        (_, _, true) => return Err(conflict("--tls", "--tls makes its own certificate: drop --tls-cert/--tls-key")),
        _ => return Err(conflict("--tls-cert", "--tls-cert and --tls-key go together: give both")),
    };
    Ok(Options::Serve(ServeOptions {
        listen: Given { text: listen, value: host_port },
        unix,
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

/// `tcp://HOST:PORT` or `HOST:PORT`, split (the host is resolved by `setup`).
pub fn parse_target(text: &str) -> Result<TargetOptions, UsageError> {
    if let Some(path) = text.strip_prefix("unix:") {
        let path = path.strip_prefix("//").unwrap_or(path);
        if path.is_empty() {
            return Err(bad("TARGET", text, "expected unix:PATH, the path of a Unix socket"));
        }
        // No host: TLS over the socket verifies `localhost` unless --sni names another.
        let host_port = HostPort { host: "localhost".to_string(), port: 0 };
        return Ok(TargetOptions { label: text.to_string(), host_port, url: None, unix: Some(path.to_string()) });
    }
    let rest = match text.split_once("://") {
        Some(("tcp", rest)) => rest,
        Some((scheme, _)) => {
            return Err(bad(
                "TARGET",
                text,
                &format!("unsupported scheme '{scheme}://' (expected http://, https://, tcp:// or unix:)"),
            ))
        }
        None => text,
    };
    if rest.contains('/') {
        return Err(bad("TARGET", text, &format!("a raw TCP target has no path; did you mean http://{rest}?")));
    }
    let host_port = host_port(rest, false).map_err(|e| bad("TARGET", text, &e))?;
    Ok(TargetOptions { label: text.to_string(), host_port, url: None, unix: None })
}

/// Splits `HOST:PORT` (a name, an IPv4 address, or `[IPv6]`); port 0 only if `listen` (it
/// picks a free port to listen on; nothing can be connected to it).
fn host_port(text: &str, listen: bool) -> Result<HostPort, String> {
    let not_a_port = |port: &str| {
        let zero = if listen { ", or 0 for any free port" } else { "" };
        format!("'{port}' is not a port (1-65535{zero})")
    };
    if let Ok(addr) = text.parse::<SocketAddr>() {
        if addr.port() == 0 && !listen {
            return Err(not_a_port("0"));
        }
        return Ok(HostPort { host: addr.ip().to_string(), port: addr.port() });
    }
    let (host, port) = text.rsplit_once(':').ok_or("expected HOST:PORT")?;
    let port: u16 = port.parse().ok().filter(|&p| p > 0 || listen).ok_or_else(|| not_a_port(port))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err("the host is missing".to_string());
    }
    Ok(HostPort { host: host.to_string(), port })
}

fn positive(value: &str, flag: &'static str) -> Result<u64, UsageError> {
    match value.replace('_', "").parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(bad(flag, value, "expected a whole number of at least 1")),
    }
}

/// `--cpus 0,2-3` -> [0, 2, 3]; `setup` checks that each core exists on this machine.
pub fn parse_cpus(value: &str) -> Result<Given<Vec<usize>>, UsageError> {
    let mut cpus = Vec::new();
    for part in value.split(',') {
        let range = match part.split_once('-') {
            Some((a, b)) => (a.trim().parse::<usize>(), b.trim().parse::<usize>()),
            None => (part.trim().parse::<usize>(), part.trim().parse::<usize>()),
        };
        match range {
            (Ok(a), Ok(b)) if a <= b && b < CORE_ID_LIMIT => cpus.extend(a..=b),
            _ => return Err(bad("--cpus", value, "expected a list of cores such as 0,2-3")),
        }
    }
    Ok(Given { text: value.to_string(), value: cpus })
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
    if seconds.is_nan() || seconds <= 0.0 || seconds > DURATION_S_MAX {
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

    fn run(args: &[&str]) -> Result<RunOptions, UsageError> {
        match parse(args.iter().map(|s| s.to_string()))? {
            Options::Run(o) => Ok(o),
            other => panic!("expected a run, got {other:?}"),
        }
    }

    fn err(args: &[&str]) -> UsageError {
        match parse(args.iter().map(|s| s.to_string())) {
            Err(e) => e,
            Ok(other) => panic!("expected an error for {args:?}, got {other:?}"),
        }
    }

    #[test]
    fn targets_take_no_target_and_wait_for_their_origin() {
        match parse(["--targets", "t.txt", "-n", "10", "--order", "random", "--seed", "7", "-H", "X-A: 1"]) {
            Ok(Options::RunTargets(pending)) => {
                assert_eq!(pending.file(), "t.txt");
                let o = pending.with_origin("http://127.0.0.1:8080/a").unwrap();
                assert_eq!((o.order, o.seed, o.requests), (Order::Random, Some(7), Some(10)));
                assert_eq!(
                    o.request,
                    RequestOptions::Targets { file: "t.txt".into(), headers: vec![("X-A".into(), "1".into())] }
                );
            }
            other => panic!("{other:?}"),
        }
        let e = err(&["http://127.0.0.1:9/", "--targets", "t.txt"]);
        assert!(e.to_string().contains("drop TARGET"), "{e}");
        assert_eq!(err(&["demo", "--targets", "t.txt"]).flag(), "--targets");
        let Ok(Options::RunTargets(pending)) = parse(["--targets", "t", "--body", "x"]) else { panic!() };
        assert_eq!(pending.with_origin("http://h/").unwrap_err().flag(), "--body");
        let Ok(Options::RunTargets(pending)) = parse(["--targets", "t", "--order", "sideways"]) else { panic!() };
        assert_eq!(pending.with_origin("http://h/").unwrap_err().flag(), "--order");
        // A sweep over a list: its flags are checked once the file gives the origin.
        let e = err(&["sweep", "http://127.0.0.1:9/", "--targets", "t.txt", "--rates", "1..2", "--slo", "p99<=1s"]);
        assert!(e.to_string().contains("drop TARGET"), "{e}");
        let sweep = ["sweep", "--targets", "t", "--rates", "100..200", "--slo", "p99<=1s"];
        let Ok(Options::SweepTargets(pending)) = parse(sweep) else { panic!() };
        let options = pending.sweep_with_origin("http://h/").unwrap();
        assert_eq!((options.rate_from_per_s, options.rate_to_per_s), (100.0, 200.0));
        let Ok(Options::SweepTargets(pending)) = parse(["sweep", "--targets", "t", "--slo", "p99<=1s"]) else {
            panic!()
        };
        assert_eq!(pending.sweep_with_origin("http://h/").unwrap_err().flag(), "--rates");
    }

    #[test]
    fn order_and_seed_are_checked() {
        assert_eq!(err(&["127.0.0.1:9", "--data", "x", "--order", "random"]).flag(), "--order");
        assert_eq!(err(&["127.0.0.1:9", "--data", "x", "--seed", "-1"]).flag(), "--seed");
        assert_eq!(run(&["127.0.0.1:9", "--data", "x", "--seed", "5"]).unwrap().seed, Some(5));
        let o = run(&["127.0.0.1:9", "--data-file", "p.txt", "--until", "\\n", "--order", "random"]).unwrap();
        assert_eq!(o.order, Order::Random);
        assert!(matches!(o.request, RequestOptions::RawList { .. }));
        assert_eq!(err(&["127.0.0.1:9", "--data-file", "p", "--data", "x"]).flag(), "--data-file");
        assert_eq!(err(&["http://127.0.0.1:9/", "--data-file", "p"]).flag(), "--data-file");
    }

    #[test]
    fn a_password_in_the_url_stays_out_of_the_report() {
        let o = run(&["http://me:s3cret@127.0.0.1:9/a?b"]).unwrap();
        assert_eq!(o.target.label, "http://me:***@127.0.0.1:9/a?b");
        assert_eq!(o.target.url.unwrap().credentials.as_deref(), Some(&b"me:s3cret"[..]));
        assert_eq!(hide_password("http://me@h/"), "http://me@h/");
        assert_eq!(hide_password("http://h/x@y"), "http://h/x@y");
    }

    #[test]
    fn wrk_flags_name_clobbers_own() {
        for (args, flag, words) in [
            (&["http://127.0.0.1:9/", "--latency"][..], "--latency", "always prints"),
            (&["http://127.0.0.1:9/", "-s", "x.lua"][..], "-s/--script", "--targets"),
            (&["http://127.0.0.1:9/", "-T", "5"][..], "-T", "--timeout"),
        ] {
            let e = err(args);
            assert_eq!(e.flag(), flag);
            assert!(e.to_string().contains(words), "{e}");
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
        let o = run(&["HTTP://127.0.0.1:9/x"]).unwrap();
        let url = o.target.url.unwrap();
        assert_eq!((url.port, url.path.as_str(), url.tls), (9, "/x", false));
        let o = run(&["HTTPS://127.0.0.1/", "-k"]).unwrap();
        assert_eq!(o.target.host_port.port, 443);
        assert!(o.tls.is_some() && o.target.url.is_some());
        let e = err(&["Https://localhost:8443/", "-k", "--cacert", "/nonexistent/ca.pem"]);
        assert_eq!(e.flag(), "--cacert", "an https target still checks TLS flags");
        let o = run(&["TCP://127.0.0.1:9", "--data", "x"]).unwrap();
        assert_eq!(o.target.host_port, HostPort { host: "127.0.0.1".into(), port: 9 });
        assert!(matches!(o.request, RequestOptions::Raw { framing: Framing::Raw(RawFraming::OneRead), .. }));
        let o = run(&["Tcp://127.0.0.1:9", "--tls", "--data", "x"]).unwrap();
        assert!(o.tls.is_some() && o.target.url.is_none());
    }

    #[test]
    fn a_path_without_a_scheme_suggests_http() {
        for target in ["127.0.0.1:8080/ok", "tcp://127.0.0.1:8080/ok"] {
            let e = err(&[target]).to_string();
            assert!(e.contains("TARGET") && e.contains("did you mean http://127.0.0.1:8080/ok?"), "{e}");
            let e = err(&[target, "--data", "x"]).to_string();
            assert!(e.contains("did you mean http://127.0.0.1:8080/ok?"), "{e}");
        }
        let e = err(&["localhost:8080/a?b=c"]).to_string();
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
            let e = err(args).to_string();
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
        let e = err(&["http://127.0.0.1:9/", "--graceful-close"]).to_string();
        assert!(e.contains("--graceful-close") && e.contains("--reconnect"), "{e}");
        assert!(run(&["http://127.0.0.1:9/", "--graceful-close", "--reconnect"]).unwrap().graceful_close);
    }

    #[test]
    fn expect_status_is_a_real_status() {
        for bad in ["999", "600", "99", "6xx", "9xx", "200-600", "0xx", "1000"] {
            let e = err(&["http://127.0.0.1:9/", "--expect-status", bad]).to_string();
            assert!(e.contains("--expect-status") && e.contains(bad) && e.contains("100-599"), "{bad}: {e}");
        }
        let set = run(&["http://127.0.0.1:9/", "--expect-status", "100-599"]).unwrap().expect_status.unwrap();
        assert!(set.contains(100) && set.contains(599) && !set.contains(600));
        let set = run(&["http://127.0.0.1:9/", "--expect-status", "5xx"]).unwrap().expect_status.unwrap();
        assert!(set.contains(500) && set.contains(599));
    }

    #[test]
    fn demo_help_is_the_demos_own() {
        assert!(matches!(parse(["demo", "--help"]), Ok(Options::Help(DEMO_HELP))));
        assert!(matches!(parse(["demo", "-d", "1s", "-h"]), Ok(Options::Help(DEMO_HELP))));
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
            let e = err(args).to_string();
            assert!(e.contains("1-65535"), "{args:?}: {e}");
            assert!(!e.contains("0-65535"), "{args:?}: {e}");
        }
        match parse(["serve", "--listen", "127.0.0.1:0"]) {
            Ok(Options::Serve(s)) => assert_eq!(s.listen.value.port, 0, "port 0 picks a free port to listen on"),
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
        let o = run(&["127.0.0.1:9", "--data", "x"]).unwrap();
        assert_eq!((o.connections, o.threads, o.cpus), (50, None, None));
        assert_eq!(o.duration, Some(Duration::from_secs(10)));
        assert_eq!((o.requests, o.pipeline), (None, 1));
        assert!(o.pin && !o.reconnect && !o.json && !o.progress);
        assert_eq!(
            o.request,
            RequestOptions::Raw { payload: Source::Inline(b"x".to_vec()), framing: Framing::Raw(RawFraming::OneRead) }
        );
        assert_eq!(o.target.host_port, HostPort { host: "127.0.0.1".into(), port: 9 });
        assert_eq!((o.connect_timeout, o.timeout, o.give_up), (Duration::from_secs(5), Duration::from_secs(30), None));
    }

    #[test]
    fn requests_alone_means_no_deadline() {
        let o = run(&["tcp://127.0.0.1:9", "--data", "x", "-n", "100"]).unwrap();
        assert_eq!((o.requests, o.duration, o.give_up), (Some(100), None, Some(GIVE_UP_DEFAULT)));
        let o = run(&["127.0.0.1:9", "--data", "x", "-n", "100", "-d", "2s"]).unwrap();
        assert_eq!((o.requests, o.duration, o.give_up), (Some(100), Some(Duration::from_secs(2)), None));
    }

    #[test]
    fn frame_picks_the_reply_framing_and_allows_pipelining() {
        let o = run(&["127.0.0.1:6379", "--data", "GET k\\r\\n", "--frame", "resp", "--pipeline", "16"]).unwrap();
        assert!(matches!(o.request, RequestOptions::Raw { framing: Framing::Resp, .. }));
        assert_eq!(o.pipeline, 16);
        let o = run(&["127.0.0.1:11211", "--data", "get k\\r\\n", "--frame", "MEMCACHE"]).unwrap();
        assert!(matches!(o.request, RequestOptions::Raw { framing: Framing::Memcache, .. }));
    }

    #[test]
    fn unix_targets_and_unix_socket_name_the_path() {
        let o = run(&["unix:/run/redis.sock", "--data", "PING\\r\\n", "--frame", "resp"]).unwrap();
        assert_eq!((o.target.unix.as_deref(), o.target.url.is_none()), (Some("/run/redis.sock"), true));
        assert_eq!(o.target.label, "unix:/run/redis.sock");
        let o = run(&["unix:///run/x.sock", "--data", "x"]).unwrap();
        assert_eq!(o.target.unix.as_deref(), Some("/run/x.sock"));
        let o = run(&["https://example.com/status", "--unix-socket", "/run/nginx.sock"]).unwrap();
        assert_eq!(o.target.unix.as_deref(), Some("/run/nginx.sock"));
        assert_eq!(o.target.url.as_ref().map(|u| u.host.as_str()), Some("example.com"), "Host comes from the URL");
        assert_eq!(o.tls.map(|t| t.server_name), Some("example.com".to_string()));
        let o = run(&["http://127.0.0.1:9/"]).unwrap();
        assert_eq!(o.target.unix, None);
        match parse(["serve", "--listen", "unix:/tmp/echo.sock"]) {
            Ok(Options::Serve(s)) => assert_eq!(s.unix.as_deref(), Some("/tmp/echo.sock")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_flag_is_read() {
        let o = run(&[
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
        assert_eq!((o.connections, o.threads, o.pin), (8, Some(2), false));
        let until = Framing::Raw(RawFraming::Until(Delimiter::new(b"\n")));
        assert_eq!(o.request, RequestOptions::Raw { payload: Source::Inline(b"a\n".to_vec()), framing: until });
        assert_eq!((o.pipeline, o.reconnect, o.json), (4, true, true));
        assert_eq!(o.target.host_port, HostPort { host: "::1".into(), port: 7 });
        let o = run(&["127.0.0.1:9", "--data", "x", "--expect-bytes", "12"]).unwrap();
        assert!(matches!(o.request, RequestOptions::Raw { framing: Framing::Raw(RawFraming::Exact(12)), .. }));
        let o = run(&["127.0.0.1:9", "--data", "x", "--until-close"]).unwrap();
        assert!(matches!(o.request, RequestOptions::Raw { framing: Framing::Raw(RawFraming::UntilClose), .. }));
        let o = run(&["127.0.0.1:9", "--file", "-", "--cpus", "0,2-3", "--connections=3"]).unwrap();
        assert_eq!(
            o.request,
            RequestOptions::Raw { payload: Source::File("-".into()), framing: Framing::Raw(RawFraming::OneRead) }
        );
        assert_eq!((o.cpus.unwrap().value, o.threads, o.connections), (vec![0, 2, 3], Some(3), 3));
        let o = run(&[
            "http://localhost:8080/",
            "-R",
            "0.5",
            "--warmup",
            "1s",
            "--start-at",
            "1700000000",
            "--progress",
            "--bind",
            "127.0.0.2, 127.0.0.3",
            "--html",
            "page.html",
            "--give-up",
            "2s",
            "--body-file",
            "b.json",
        ])
        .unwrap();
        assert_eq!((o.rate_per_s, o.warmup, o.start_at_unix_s), (Some(0.5), Some(Duration::from_secs(1)), Some(1.7e9)));
        assert!(o.progress);
        assert_eq!(o.bind.unwrap().value, ["127.0.0.2".parse::<IpAddr>().unwrap(), "127.0.0.3".parse().unwrap()]);
        assert_eq!((o.html.as_deref(), o.give_up), (Some("page.html"), Some(Duration::from_secs(2))));
        assert!(matches!(o.request, RequestOptions::Http { body: Some(Source::File(_)), .. }));
        assert_eq!(o.target.host_port, HostPort { host: "localhost".into(), port: 8080 }, "not resolved here");
    }

    #[test]
    fn perf_takes_self_or_needs_server_pid() {
        let perf = |args: &[&str]| run(args).map(|o| (o.perf, o.perf_out));
        let url = "http://127.0.0.1:9/";
        assert_eq!(perf(&[url, "--server-pid", "1", "--perf"]), Ok((Some(PerfOf::Server), None)));
        assert_eq!(perf(&["--perf", url, "--server-pid", "1"]), Ok((Some(PerfOf::Server), None)));
        assert_eq!(perf(&[url, "--perf", "self"]), Ok((Some(PerfOf::Own), None)));
        assert_eq!(perf(&["--perf", "self", url]), Ok((Some(PerfOf::Own), None)));
        assert_eq!(perf(&[url, "--perf=self", "--perf-out", "d"]), Ok((Some(PerfOf::Own), Some("d".into()))));
        assert_eq!(perf(&[url]), Ok((None, None)));
        for (args, flag) in [
            (&[url, "--perf"][..], "--perf"),
            (&[url, "--perf-out", "d"][..], "--perf-out"),
            (&[url, "--perf=them"][..], "--perf"),
        ] {
            let e = perf(args).unwrap_err();
            assert!(e.to_string().contains(flag), "{args:?}: {e}");
        }
    }

    #[test]
    fn server_pid_takes_pids_or_a_name() {
        let pids = |v: &str| run(&["http://127.0.0.1:9/", "--server-pid", v]).unwrap().server_pid;
        assert_eq!(pids("1234"), Some(ServerPids::Pids(vec![1234])));
        assert_eq!(pids("1234,5, 6"), Some(ServerPids::Pids(vec![1234, 5, 6])));
        assert_eq!(pids("nginx"), Some(ServerPids::Name("nginx".into())));
        assert_eq!(run(&["http://127.0.0.1:9/"]).unwrap().server_pid, None);
    }

    /// Pure checks: each of these is refused by `parse` itself, before anything is looked up.
    #[test]
    fn bad_values_name_their_flag() {
        let cases: &[(&[&str], &str)] = &[
            (&["127.0.0.1:9", "--data", "x", "-c", "0"], "-c/--connections"),
            (&["127.0.0.1:9", "--data", "x", "-c", "abc"], "-c/--connections"),
            (&["127.0.0.1:9", "--data", "x", "-t", "0"], "-t/--threads"),
            (&["127.0.0.1:9", "--data", "x", "-t", "1025"], "-t/--threads"),
            (&["127.0.0.1:9", "--data", "x", "-d", "10x"], "-d/--duration"),
            (&["127.0.0.1:9", "--data", "x", "-n", "-1"], "-n/--requests"),
            (&["127.0.0.1:9", "--data", "x", "-n", "0"], "-n/--requests"),
            (&["127.0.0.1:9", "--data", r"\q"], "--data"),
            (&["127.0.0.1:9", "--data", ""], "--data"),
            (&["127.0.0.1:9", "--data", "x", "--until", ""], "--until"),
            (&["127.0.0.1:9", "--data", "x", "--expect-bytes", "0"], "--expect-bytes"),
            (&["127.0.0.1:9", "--data", "x", "--until", "\\n", "--pipeline", "0"], "--pipeline"),
            (&["127.0.0.1:9", "--data", "x", "--pipeline", "4"], "--pipeline"),
            (&["127.0.0.1:9", "--data", "x", "--until-close", "--pipeline", "4"], "--pipeline"),
            (&["127.0.0.1:9", "--data", "x", "--cpus", "a-b"], "--cpus"),
            (&["127.0.0.1:70000", "--data", "x"], "TARGET"),
            (&[":80", "--data", "x"], "TARGET"),
            (&["ftp://127.0.0.1:9", "--data", "x"], "TARGET"),
            (&["127.0.0.1", "--data", "x"], "TARGET"),
            (&["127.0.0.1:9", "--data", "x", "--file", "y"], "--file"),
            (&["127.0.0.1:9", "--data", "x", "--until", "a", "--until-close"], "--until"),
            (&["127.0.0.1:9", "--data", "x", "--frame", "http"], "--frame"),
            (&["127.0.0.1:9", "--data", "x", "--frame", "resp", "--until", "a"], "--frame"),
            (&["http://127.0.0.1:9/", "--frame", "resp"], "--frame"),
            (&["127.0.0.1:9", "--data", "x", "--unix-socket", "/tmp/s"], "--unix-socket"),
            (&["http://localhost/", "--unix-socket", ""], "--unix-socket"),
            (&["unix:", "--data", "x"], "TARGET"),
            (&["unix:/tmp/s", "--data", "x", "--bind", "127.0.0.2"], "--bind"),
            (&["serve", "--listen", "unix:"], "--listen"),
            (&["127.0.0.1:9"], "--data"),
            (&["--data", "x"], "TARGET"),
            (&["127.0.0.1:9", "--data", "x", "--bogus"], "--bogus"),
            (&["127.0.0.1:9", "--data"], "--data"),
            (&["127.0.0.1:9", "127.0.0.1:10", "--data", "x"], "127.0.0.1:10"),
            (&["serve", "--mode", "ftp"], "--mode"),
            (&["serve", "--listen", "nowhere"], "--listen"),
            (&["serve", "-t", "0"], "-t/--threads"),
            (&["serve", "--respond", r"\x"], "--respond"),
            (&["serve", "--cpus", "0-"], "--cpus"),
            (&["http://127.0.0.1:9/", "--data", "x"], "--data"),
            (&["http://127.0.0.1:9/", "--rate", "0"], "-R/--rate"),
            (&["http://127.0.0.1:9/", "-R", "abc"], "-R/--rate"),
            (&["http://127.0.0.1:9/", "-R", "10", "--pipeline", "2"], "--rate"),
            (&["http://127.0.0.1:9/", "--warmup", "0s"], "--warmup"),
            (&["http://127.0.0.1:9/", "--start-at", "soon"], "--start-at"),
            (&["http://127.0.0.1:9/", "--server-pid", "0"], "--server-pid"),
            (&["http://127.0.0.1:9/", "--server-pid", "12,x"], "--server-pid"),
            (&["http://127.0.0.1:9/", "--server-pid", "a,b"], "--server-pid"),
            (&["http://127.0.0.1:9/", "--server-pid", ""], "--server-pid"),
            (&["http://127.0.0.1:9/", "--server-pid", "/usr/sbin/nginx"], "--server-pid"),
            (&["demo", "--server-pid", "12"], "--server-pid"),
            (&["http://127.0.0.1:9/", "--timeout", "0"], "--timeout"),
            (&["http://127.0.0.1:9/", "--connect-timeout", "x"], "--connect-timeout"),
            (&["http://127.0.0.1:9/", "--give-up", "x"], "--give-up"),
            (&["http://127.0.0.1:9/", "--bind", "nowhere"], "--bind"),
            (&["serve", "--delay", "1x"], "--delay"),
            (&["serve", "--stall-every", "10"], "--stall-every"),
            (&["merge"], "merge"),
            (&["http://127.0.0.1:9/", "--until", "x"], "--until"),
            (&["http://127.0.0.1:9/", "-m", "GE T"], "-m/--method"),
            (&["http://127.0.0.1:9/", "-H", "NoColon"], "-H/--header"),
            (&["http://127.0.0.1:9/", "-H", "Bad Name: x"], "-H/--header"),
            (&["http://127.0.0.1:9/", "--body", "a", "--body-file", "b"], "--body"),
            (&["http://127.0.0.1:9/", "--http-file", "r", "-m", "POST"], "-m/--method"),
            (&["http://127.0.0.1:9/", "--expect-status", "abc"], "--expect-status"),
            (&["http://127.0.0.1:70000/"], "TARGET"),
            (&["http:///path"], "TARGET"),
            (&["https://127.0.0.1:9/", "--sni", "bad name!"], "--sni"),
            (&["http://127.0.0.1:9/", "-k"], "-k/--insecure"),
            (&["https://127.0.0.1:9/", "-k", "--cacert", "/nonexistent/ca.pem"], "--cacert"),
            (&["http://127.0.0.1:9/", "--cacert", "x.pem"], "--cacert"),
            (&["127.0.0.1:9", "--data", "x", "--no-resume"], "--no-resume"),
            (&["http://127.0.0.1:9/", "--cert", "c.pem", "--key", "k.pem"], "--cert"),
            (&["https://127.0.0.1:9/", "--cert", "c.pem"], "--key"),
            (&["https://127.0.0.1:9/", "--key", "k.pem"], "--cert"),
            (&["http://127.0.0.1:9/", "--tls-version", "1.3"], "--tls-version"),
            (&["https://127.0.0.1:9/", "--tls-version", "1.1"], "--tls-version"),
            (&["https://127.0.0.1:9/", "--tls-ciphers", "TLS13_AES_128_GCM_SHA256,RC4"], "--tls-ciphers"),
            (&["https://127.0.0.1:9/", "--tls-ciphers", ""], "--tls-ciphers"),
            (&["https://127.0.0.1:9/", "--tls-groups", "X25519,ffdhe2048"], "--tls-groups"),
            (
                &["https://127.0.0.1:9/", "--tls-version", "1.2", "--tls-ciphers", "TLS13_AES_128_GCM_SHA256"],
                "--tls-ciphers",
            ),
            (&["http://127.0.0.1:9/", "--tls"], "--tls"),
            (&["serve", "--tls-cert", "Cargo.toml"], "--tls-key"),
            (&["serve", "--tls", "--tls-key", "k.pem"], "--tls-cert"),
            (&["report", "a.json", "--label", "x", "--label", "y"], "--label"),
            (&["report"], "report"),
            (&["127.0.0.1:9", "--data", "x", "-H", "A: b"], "-H/--header"),
            (&["127.0.0.1:9", "--data", "x", "--expect-status", "200"], "--expect-status"),
            (&["demo", "http://127.0.0.1:9/"], "demo picks its own target"),
            (&["demo", "--data", "x"], "--data"),
        ];
        for (args, flag) in cases {
            let message = err(args).to_string();
            assert!(message.contains(flag), "{args:?}: '{message}' does not name {flag}");
            assert!(!message.contains('\n'), "{args:?}: message is not one line");
        }
    }

    #[test]
    fn errors_are_typed() {
        let e = err(&["127.0.0.1:9", "--data", "x", "-c", "0"]);
        assert_eq!(
            e,
            UsageError::Invalid {
                flag: "-c/--connections",
                value: "0".into(),
                expected: "expected a whole number of at least 1".into()
            }
        );
        assert_eq!(e.to_string(), "invalid value '0' for -c/--connections: expected a whole number of at least 1");
        assert_eq!(err(&["http://127.0.0.1:9/", "--graceful-close"]).flag(), "--graceful-close");
        assert_eq!(err(&["127.0.0.1:9"]).flag(), "--data");
        assert!(matches!(err(&["--bogus"]), UsageError::Syntax { see: Some("clobber"), .. }));
        assert_eq!(err(&["serve", "--bogus"]).flag(), "--bogus");
        assert_eq!(err(&["http://127.0.0.1:9/", "-d"]).flag(), "-d");
    }

    #[test]
    fn tls_targets_ask_for_tls() {
        let tls = run(&["https://localhost:8443/x", "-k", "--no-resume"]).unwrap().tls.expect("https:// is TLS");
        assert!(tls.insecure && !tls.resume && tls.alpn_http);
        assert_eq!(tls.server_name, "localhost");
        let o = run(&["https://127.0.0.1/", "--sni", "example.com", "--cacert", "a.pem", "--cacert", "b.pem"]).unwrap();
        assert_eq!(o.target.host_port.port, 443, "https:// defaults to port 443");
        let tls = o.tls.unwrap();
        assert_eq!((tls.server_name.as_str(), tls.cacert), ("example.com", vec!["a.pem".into(), "b.pem".into()]));
        let tls = run(&["tcp://127.0.0.1:9", "--tls", "--data", "x"]).unwrap().tls.expect("--tls is TLS");
        assert!(!tls.alpn_http && tls.resume && !tls.insecure);
        assert_eq!(tls.server_name, "127.0.0.1");
        assert!(run(&["http://127.0.0.1:9/"]).unwrap().tls.is_none());
        assert_eq!(run(&["tcp://[::1]:9", "--tls", "--data", "x"]).unwrap().tls.unwrap().server_name, "::1");
        let tls = run(&["https://127.0.0.1/", "--cert", "c.pem", "--key", "k.pem"]).unwrap().tls.unwrap();
        assert_eq!(tls.client_cert, Some(("c.pem".into(), "k.pem".into())));
        assert_eq!((tls.version, tls.cipher_suites.len(), tls.groups.len()), (None, 0, 0), "rustls' defaults");
        let tls = run(&[
            "https://127.0.0.1/",
            "--tls-version",
            "1.2",
            "--tls-ciphers",
            "tls_ecdhe_ecdsa_with_aes_128_gcm_sha256, TLS13_AES_128_GCM_SHA256",
            "--tls-groups",
            "x25519,secp256r1,X25519",
        ])
        .unwrap()
        .tls
        .unwrap();
        assert_eq!(tls.version, Some(TlsVersion::Tls12));
        assert_eq!(tls.cipher_suites, ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS13_AES_128_GCM_SHA256"]);
        assert_eq!(tls.groups, ["X25519", "secp256r1"]);
        let e = err(&["https://127.0.0.1/", "--tls-groups", "X448"]).to_string();
        assert!(e.contains("--tls-groups") && e.contains("unknown name 'X448'") && e.contains("X25519MLKEM768"), "{e}");
    }

    #[test]
    fn http_targets_take_http_flags() {
        let o = run(&[
            "http://127.0.0.1:8080/api?x=1",
            "-m",
            "POST",
            "-H",
            "Content-Type: application/json",
            "--body",
            r#"{"a":1}"#,
        ])
        .unwrap();
        let headers = vec![("Content-Type".to_string(), "application/json".to_string())];
        let body = Some(Source::Inline(br#"{"a":1}"#.to_vec()));
        assert_eq!(o.request, RequestOptions::Http { method: "POST".into(), headers, body });
        assert_eq!(o.target.url.unwrap().path, "/api?x=1");
        let o = run(&["http://127.0.0.1:9/", "--http-file", "req.http"]).unwrap();
        assert_eq!(o.request, RequestOptions::HttpFile("req.http".into()));
    }

    /// The flags a help text lists, each with whether its line shows a value (`None`: a line
    /// that only names flags of another help, such as the demo's `-m, -H, --body, ...`). Read
    /// from the option lines (`    -c, --connections N   text`: the flag part ends at the first
    /// two spaces; option lines are indented by 4 or 8, continued text by more or less) and the
    /// usage lines' `[--json]`, `[-o PAGE.html]`.
    fn help_flags(help: &str) -> Vec<(String, Option<bool>)> {
        let mut out = Vec::new();
        for full in help.lines() {
            let line = full.trim_start();
            let indent = full.len() - line.len();
            if line.starts_with('-') && (indent == 4 || indent == 8) {
                let head = line.split("  ").next().unwrap_or_default();
                let words: Vec<&str> = head.split_whitespace().collect();
                let takes_value = (!words.contains(&"...")).then(|| words.iter().any(|w| !w.starts_with('-')));
                for word in words.iter().filter(|w| w.starts_with('-')) {
                    out.push((word.trim_end_matches(',').to_string(), takes_value));
                }
            } else if line.starts_with("clobber ") {
                for word in line.split_whitespace() {
                    if let Some(flag) = word.strip_prefix('[').filter(|w| w.starts_with('-')) {
                        out.push((flag.trim_end_matches(']').to_string(), Some(!word.ends_with(']'))));
                    }
                }
            }
        }
        out
    }

    /// The flags README.md names: the first column of the table under "## Flags", and the
    /// backquoted spans of the paragraphs that describe `clobber serve`, `clobber merge` and
    /// `clobber report`.
    fn readme_flags(readme: &str) -> std::collections::BTreeSet<String> {
        let mut spans = Vec::new();
        let flags_section = readme.split_once("\n## Flags").expect("README has a Flags section").1;
        let flags_section = flags_section.split("\n## ").next().unwrap();
        for row in flags_section.lines().filter(|l| l.starts_with("| ")) {
            spans.push(row.split('|').nth(1).unwrap().to_string());
        }
        for paragraph in readme.split("\n\n") {
            let text = paragraph.replace('\n', " ");
            if ["`clobber serve` takes", "`clobber merge ", "`clobber report ", "`clobber sweep "]
                .iter()
                .any(|p| text.starts_with(p))
            {
                spans.extend(text.split('`').skip(1).step_by(2).map(String::from));
            }
        }
        let mut flags = std::collections::BTreeSet::new();
        for span in &spans {
            for word in span.split(|c: char| c.is_whitespace() || c == '`' || c == ',') {
                let word = word.trim_start_matches('[').trim_end_matches(']');
                if word.len() > 1 && word.starts_with('-') && !word.starts_with("---") {
                    flags.insert(word.to_string());
                }
            }
        }
        flags
    }

    /// `--help` of every command, the parser and README's flag table cannot drift apart: every
    /// flag a help lists is accepted by its command (with a value where its help shows one, and
    /// refused without it), and README names the same flags as the helps.
    #[test]
    fn help_parser_and_readme_agree() {
        let helps: [(&str, &[&str]); 6] = [
            (HELP, &["http://127.0.0.1:9/"]),
            (SWEEP_HELP, &["sweep", "http://127.0.0.1:9/"]),
            (DEMO_HELP, &["demo"]),
            (SERVE_HELP, &["serve"]),
            (MERGE_HELP, &["merge", "a.json"]),
            (REPORT_HELP, &["report", "a.json"]),
        ];
        let mut takes_value = std::collections::BTreeMap::new();
        for (help, _) in &helps {
            for (flag, value) in help_flags(help) {
                if let Some(v) = value {
                    let before = takes_value.insert(flag.clone(), v);
                    assert!(before.is_none_or(|b| b == v), "{flag}: one help shows a value, another none");
                }
            }
        }
        let mut listed = std::collections::BTreeSet::new();
        for (help, command) in &helps {
            let flags = help_flags(help);
            assert!(flags.len() > 1 || help.contains("[--json]"), "no flags read from {}", &help[..40]);
            for (flag, _) in flags {
                let with = |extra: &[&str]| {
                    let args: Vec<String> = command.iter().chain(extra).map(|s| s.to_string()).collect();
                    parse(args)
                };
                let value = *takes_value.get(&flag).unwrap_or_else(|| panic!("{flag}: no help shows its value"));
                if value {
                    match with(&[&flag]) {
                        Err(UsageError::Syntax { message, .. }) if message.contains("missing argument") => {}
                        other => panic!("{command:?} {flag}: its help shows a value, the parser said {other:?}"),
                    }
                }
                let given: &[&str] = if value { &[&flag, "1"] } else { &[&flag] };
                if let Err(e @ UsageError::Syntax { .. }) = with(given) {
                    panic!("{command:?} {given:?}: the help lists it, the parser says '{e}'");
                }
                listed.insert(flag);
            }
        }
        for flag in ["-c", "--stall-every", "--tls-key", "--label", "--output", "--json", "-R", "--help", "-V"] {
            assert!(listed.contains(flag), "{flag} was not read from the helps: {listed:?}");
        }
        // And the other way: every flag the parser matches on is in some help.
        let source = include_str!("cli.rs").split("#[cfg(test)]").next().unwrap();
        let mut matched = std::collections::BTreeSet::new();
        for (open, close, dashes) in [("Long(\"", '"', "--"), ("Short('", '\'', "-")] {
            for after in source.split(open).skip(1) {
                matched.insert(format!("{dashes}{}", &after[..after.find(close).unwrap()]));
            }
        }
        let undocumented: Vec<_> = matched.difference(&listed).collect();
        assert!(undocumented.is_empty(), "the parser takes flags that no --help lists: {undocumented:?}");
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        let named = readme_flags(&readme);
        let only_help: Vec<_> = listed.difference(&named).collect();
        let only_readme: Vec<_> = named.difference(&listed).collect();
        assert!(
            only_help.is_empty() && only_readme.is_empty(),
            "README's flags and the helps' differ:\n  in a --help, not in README: {only_help:?}\n  in README, in no --help: {only_readme:?}"
        );
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
        assert!(matches!(parse(["--help"]), Ok(Options::Help(HELP))));
        assert!(matches!(parse(["127.0.0.1:9", "-h"]), Ok(Options::Help(HELP))));
        assert!(matches!(parse(["serve", "--help"]), Ok(Options::Help(SERVE_HELP))));
        assert!(matches!(parse(["merge", "--help"]), Ok(Options::Help(MERGE_HELP))));
        assert!(matches!(parse(["report", "--help"]), Ok(Options::Help(REPORT_HELP))));
        assert!(matches!(parse(["-V"]), Ok(Options::Version)));
    }

    #[test]
    fn serve_and_demo() {
        match parse(["serve", "--listen", "localhost:0", "--mode", "http", "-t", "2", "--tls"]) {
            Ok(Options::Serve(s)) => {
                assert_eq!((s.mode, s.threads, s.tls), (ServeMode::Http, 2, Some(ServeTls::SelfSigned)));
                assert_eq!(s.listen.value, HostPort { host: "localhost".into(), port: 0 });
            }
            other => panic!("{other:?}"),
        }
        match parse(["serve", "--mode", "h2", "--tls"]) {
            Ok(Options::Serve(s)) => assert_eq!((s.mode, s.tls), (ServeMode::H2, Some(ServeTls::SelfSigned))),
            other => panic!("{other:?}"),
        }
        match parse(["serve", "--mode", "h2", "--respond", "x"]) {
            Err(e) => assert_eq!(e.flag(), "--respond", "{e}"),
            other => panic!("{other:?}"),
        }
        match parse(["demo", "-n", "10", "--tls"]) {
            Ok(Options::Demo(o)) => {
                assert_eq!((o.duration, o.requests), (Some(DEMO_DURATION_DEFAULT), Some(10)));
                assert_eq!(o.target.host_port, HostPort { host: "127.0.0.1".into(), port: 0 });
                assert_eq!(o.tls.unwrap().server_name, "127.0.0.1");
                assert!(o.target.url.unwrap().tls);
            }
            other => panic!("{other:?}"),
        }
    }
}
