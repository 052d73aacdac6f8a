//! The `clobber` binary: parse (`cli`), set up (`setup`), run, print, exit code. Everything else
//! lives in the library.
#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clobber::cli;
use clobber::config::{Config, ServeConfig, SweepConfig};
use clobber::profile::Recording;
use clobber::report::html::sweep::PageSweep;
use clobber::report::html::PageRun;
use clobber::report::{self, Report, RunInfo, ServerCpu};
use clobber::server::Server;
use clobber::setup::{self, Command, Demo};
use clobber::stats::ServerWatch;

fn main() -> ExitCode {
    let options = match cli::parse(std::env::args_os().skip(1)) {
        Ok(options) => options,
        Err(e) => return fail(&e.to_string()),
    };
    let command = match setup::command(options) {
        Ok(command) => command,
        Err(e) => return fail(&e.to_string()),
    };
    match command {
        Command::Help(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Command::Version => {
            println!("clobber {}", cli::VERSION);
            ExitCode::SUCCESS
        }
        Command::Run(config) => load(&config, &stop_on_signals(), &[]),
        Command::Serve(config) => serve(&config),
        Command::Demo(demo) => run_demo(&demo),
        Command::Sweep(config) => sweep(&config),
        Command::Merge { files, json } => merge(&files, json),
        Command::Report { files, labels, output } => html_report(&files, &labels, output.as_deref()),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("clobber: {message}");
    ExitCode::from(2)
}

/// A flag that SIGINT and SIGTERM set; a second Ctrl-C ends the process at once.
fn stop_on_signals() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // Registered first, so it only fires when the flag is already set: the second signal.
        let _ = signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&stop));
        let _ = signal_hook::flag::register(signal, Arc::clone(&stop));
    }
    stop
}

/// Runs the load and prints its report; the server's CPU time is read from `config`'s
/// `--server-pid` processes, or from `server_tids`, threads of this process (the demo's).
fn load(config: &Config, stop: &Arc<AtomicBool>, server_tids: &[u32]) -> ExitCode {
    for warning in &config.warnings {
        eprintln!("clobber: warning: {warning}");
    }
    if let Some(at) = config.start_at_unix_s {
        if !wait_until(at, config.json, stop) {
            // Not a usage error: the command line was fine, the run just never started.
            eprintln!("clobber: interrupted while waiting for --start-at");
            return ExitCode::from(1);
        }
    }
    let running = match clobber::engine::start(config, Arc::clone(stop)) {
        Ok(running) => running,
        Err(e) => return fail(&format!("cannot run the load: {e}")),
    };
    let start_unix_s = unix_now() + running.measure_from.saturating_duration_since(Instant::now()).as_secs_f64();
    // The server's CPU time is read when measuring begins (after the warm-up), every 50 ms
    // after that (a process that exits keeps its last reading), and once the workers are done.
    let watching = !config.server_pids.is_empty() || !server_tids.is_empty();
    let mut watch: Option<ServerWatch> = None;
    // `--perf`: perf record starts at the same moment, and stops once the workers are done.
    let mut recording: Option<Recording> = None;
    let mut perf_pending = config.perf.is_some();
    if config.progress || watching || perf_pending {
        let mut tick = Instant::now() + Duration::from_millis(1100);
        while !running.is_finished() {
            let now = Instant::now();
            if let Some(perf) = config.perf.as_ref().filter(|_| perf_pending && now >= running.measure_from) {
                perf_pending = false;
                match Recording::start(&perf.pids, perf.out_dir.as_deref()) {
                    Ok(r) => recording = Some(r),
                    Err(e) => eprintln!("clobber: --perf: {e}; the run goes on without a profile"),
                }
            }
            match &mut watch {
                None if watching && now >= running.measure_from => {
                    watch = Some(if server_tids.is_empty() {
                        ServerWatch::start(&config.server_pids, now)
                    } else {
                        ServerWatch::start_threads(server_tids, now)
                    });
                }
                Some(watch) => watch.sample(now),
                None => {}
            }
            if config.progress && now >= tick {
                eprintln!("{}", report::progress_line(&running.snapshot()));
                tick += Duration::from_secs(1);
            }
            let mut wake = now + Duration::from_millis(50);
            if config.progress {
                wake = wake.min(tick);
            }
            if (watching && watch.is_none()) || perf_pending {
                wake = wake.min(running.measure_from);
            }
            std::thread::sleep(wake.saturating_duration_since(now));
        }
    }
    let stats = match running.join() {
        Ok(stats) => stats,
        Err(e) => return fail(&format!("the load failed: {e}")),
    };
    let profile = recording.map(Recording::finish).and_then(|p| p.map_err(|e| eprintln!("clobber: --perf: {e}")).ok());
    let server = watch.map(|w| ServerCpu::of(&w.finish(Instant::now()), stats.requests, stats.elapsed.as_secs_f64()));
    let report = Report::new(&RunInfo::of(config, start_unix_s), &stats).with_server(server).with_profile(profile);
    if config.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    if let Some(path) = &config.html {
        let run = PageRun { label: report.run.target.clone(), report: report.clone() };
        if let Err(e) = write_page(&[run], Some(path)) {
            return fail(&e);
        }
    }
    ExitCode::from(exit_code(&report, config.fail_on_error))
}

/// 1 when no request completed with an expected status, or, under `--fail-on-error`, when
/// any failed (an error of any kind, a status outside `--expect-status` among them); else 0.
fn exit_code(report: &Report, fail_on_error: bool) -> u8 {
    if fail_on_error && report.errors > 0 {
        return 1;
    }
    report.exit_code()
}

/// `clobber sweep`: the steps, a line each on stderr as they end (with progress on), then
/// the table and the verdict (or the JSON), and the page under `--html`. A Ctrl-C ends the
/// sweep after the step under way, and what the steps so far support is printed the same way.
fn sweep(config: &SweepConfig) -> ExitCode {
    for warning in &config.load.warnings {
        eprintln!("clobber: warning: {warning}");
    }
    let stop = stop_on_signals();
    let mut n = 0;
    let on_step = |step: &report::sweep::Step| {
        n += 1;
        if config.load.progress {
            eprintln!("{}", report::sweep::step_line(n, step));
        }
    };
    let sweep = match clobber::sweep::run(config, &stop, on_step) {
        Ok(sweep) => sweep,
        Err(e) => return fail(&format!("the sweep failed: {e}")),
    };
    if config.load.json {
        println!("{}", sweep.to_json());
    } else {
        print!("{}", sweep.to_text());
    }
    if let Some(path) = &config.load.html {
        let page = PageSweep { label: config.load.target.label.clone(), sweep: sweep.clone() };
        let written = clobber::report::html::sweep::render(&[page])
            .map_err(|e| e.to_string())
            .and_then(|page| std::fs::write(path, page).map_err(|e| format!("cannot write {}: {e}", path.display())));
        if let Err(e) = written {
            return fail(&e);
        }
    }
    ExitCode::from(sweep.exit_code())
}

/// `clobber report`: the runs' JSON reports as one HTML page, or the sweeps' as a sweep page.
fn html_report(files: &[std::path::PathBuf], labels: &[String], output: Option<&std::path::Path>) -> ExitCode {
    let names = clobber::report::html::labels(&files.iter().map(|f| f.as_path()).collect::<Vec<_>>(), labels);
    let mut runs = Vec::with_capacity(files.len());
    let mut sweeps = Vec::new();
    for (file, label) in files.iter().zip(names) {
        match clobber::report::sweep::read_sweep(file) {
            Ok(Some(sweep)) => {
                sweeps.push(PageSweep { label, sweep });
                continue;
            }
            Ok(None) => {}
            Err(e) => return fail(&e.to_string()),
        }
        match clobber::report::merge::read_report(file) {
            Ok(report) => runs.push(PageRun { label, report }),
            Err(e) => return fail(&e.to_string()),
        }
    }
    if !sweeps.is_empty() && !runs.is_empty() {
        return fail("clobber report: the files mix sweeps (clobber sweep --json) and single runs: give one kind");
    }
    let written = if sweeps.is_empty() {
        write_page(&runs, output)
    } else {
        clobber::report::html::sweep::render(&sweeps)
            .map_err(|e| e.to_string())
            .and_then(|page| write_out(&page, output))
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// Renders the page and writes it to `output` (standard output if `None`).
fn write_page(runs: &[PageRun], output: Option<&std::path::Path>) -> Result<(), String> {
    let page = clobber::report::html::render(runs).map_err(|e| e.to_string())?;
    write_out(&page, output)
}

/// Writes a page to `output` (standard output if `None`).
fn write_out(page: &str, output: Option<&std::path::Path>) -> Result<(), String> {
    match output {
        Some(path) => std::fs::write(path, page).map_err(|e| format!("cannot write {}: {e}", path.display())),
        None => {
            use std::io::Write as _;
            std::io::stdout().write_all(page.as_bytes()).map_err(|e| format!("cannot write the page: {e}"))
        }
    }
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// Sleeps until Unix time `at`; false if Ctrl-C came first.
fn wait_until(at: f64, quiet: bool, stop: &AtomicBool) -> bool {
    let wait = at - unix_now();
    if wait > 0.0 && !quiet {
        eprintln!("clobber: waiting {wait:.1} s for --start-at {at}");
    }
    while unix_now() < at {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        std::thread::sleep(Duration::from_secs_f64((at - unix_now()).clamp(0.0, 0.05)));
    }
    true
}

fn merge(files: &[std::path::PathBuf], json: bool) -> ExitCode {
    match clobber::report::merge::merge(files) {
        Ok(merged) => {
            for warning in &merged.warnings {
                eprintln!("clobber: warning: {warning}");
            }
            if json {
                println!("{}", merged.report.to_json());
            } else {
                print!("{}", merged.report.to_text());
                for warning in &merged.warnings {
                    println!("  Warning      {warning}");
                }
            }
            ExitCode::from(merged.report.exit_code())
        }
        Err(e) => fail(&e.to_string()),
    }
}

/// The thread ids of the built-in server's threads (named `clobber-s0`, `clobber-s1`...), so
/// that the demo reports the server's CPU time apart from the load's, as `--server-pid` does.
/// A thread names itself once it runs: this waits up to 200 ms for all `n` names.
fn server_threads(n: usize) -> Vec<u32> {
    let deadline = Instant::now() + Duration::from_millis(200);
    loop {
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return Vec::new();
        };
        let mut tids: Vec<u32> = tasks
            .filter_map(|t| t.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|tid| {
                std::fs::read_to_string(format!("/proc/self/task/{tid}/comm")).is_ok_and(|c| c.starts_with("clobber-s"))
            })
            .collect();
        if tids.len() >= n || Instant::now() >= deadline {
            tids.sort_unstable();
            return tids;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn serve(config: &ServeConfig) -> ExitCode {
    let stop = stop_on_signals();
    let server = match Server::start(config, Arc::clone(&stop)) {
        Ok(server) => server,
        Err(e) => {
            let on = config.unix.as_ref().map_or(config.listen.to_string(), |p| format!("unix:{}", p.display()));
            return fail(&format!("cannot listen on {on} (--listen): {e}"));
        }
    };
    println!("listening on {}", server.listening_on());
    match server.join() {
        Ok(counts) => {
            println!("served {} requests on {} connections", counts.requests, counts.connections);
            ExitCode::SUCCESS
        }
        Err(e) => fail(&format!("server failed: {e}")),
    }
}

/// Runs the built-in HTTP server on the last core and the load on the others, for the run's
/// duration, then prints the report and what the server counted.
fn run_demo(demo: &Demo) -> ExitCode {
    let server_stop = Arc::new(AtomicBool::new(false));
    let server = match Server::start(&demo.serve, Arc::clone(&server_stop)) {
        Ok(server) => server,
        Err(e) => return fail(&format!("demo: cannot start the built-in server: {e}")),
    };
    let addr = server.local_addr();
    let config = demo.config(addr);
    if !config.json {
        let server_core = demo.serve.cpus.as_ref().and_then(|cpus| cpus.first());
        eprintln!(
            "demo: clobber serve --mode {}{} on {addr}{}; clobbering it for {:.1} s with {} connections...",
            if demo.serve.mode == clobber::config::ServeMode::H2 { "h2" } else { "http" },
            if demo.serve.tls.is_some() { " --tls" } else { "" },
            server_core.map(|c| format!(", pinned to CPU {c}")).unwrap_or_default(),
            config.duration.map_or(0.0, |d| d.as_secs_f64()),
            config.connections
        );
    }
    let code = load(&config, &stop_on_signals(), &server_threads(demo.serve.threads));
    match server.stop() {
        Ok(counts) if !config.json => {
            println!("  Server       served {} requests on {} connections", counts.requests, counts.connections)
        }
        Ok(_) => {}
        Err(e) => return fail(&format!("demo: the built-in server failed: {e}")),
    }
    code
}
