//! `--perf`: drives `perf record` over the measured window and turns its samples into a
//! `report::Profile` (the top functions by self time, the folded stacks, the flamegraph SVG,
//! drawn by `report::html::flamegraph`).
//!
//! perf runs as a child process (`perf record -e cpu-clock -g -p PIDS`): software events only,
//! so it works on VMs without hardware counters. It is started when measuring begins and
//! stopped with SIGINT (perf writes a complete `perf.data` on SIGINT) when the workers are done.
//! Stacks are folded and drawn by inferno (CDDL-1.0), the Rust port of Brendan Gregg's
//! FlameGraph scripts. Everything here happens outside the measured window but `perf record`
//! itself, whose cost on the server's throughput README gives.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::report::{Profile, ProfileFunction};

/// Samples per second per CPU (`perf record -F`): an odd number, so sampling does not beat
/// with timers at round frequencies.
pub const FREQUENCY_HZ: u32 = 999;
/// How many functions the report lists.
pub const TOP_N: usize = 10;

/// A `perf record` under way.
pub struct Recording {
    child: Child,
    dir: PathBuf,
    keep: Option<PathBuf>,
}

/// True when a `perf` executable is on PATH.
pub fn perf_installed() -> bool {
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("perf").is_file()))
}

impl Recording {
    /// Starts `perf record` on `pids`. Its files go to a fresh temporary directory, and are
    /// copied to `keep` (`--perf-out`) at the end. An error is one line, saying what to do.
    pub fn start(pids: &[u32], keep: Option<&Path>) -> Result<Recording, String> {
        assert!(!pids.is_empty(), "--perf needs processes to profile");
        let dir = std::env::temp_dir().join(format!("clobber-perf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let list = pids.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        let mut child = Command::new("perf")
            .args(["record", "-q", "-e", "cpu-clock", "-F", &FREQUENCY_HZ.to_string(), "-g", "-p", &list, "-o"])
            .arg(dir.join("perf.data"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start perf: {e}"))?;
        // perf refuses at once when perf_event_paranoid forbids it; give it a moment to say so.
        std::thread::sleep(Duration::from_millis(150));
        if let Ok(Some(status)) = child.try_wait() {
            let mut said = String::new();
            if let Some(mut err) = child.stderr.take() {
                let _ = err.read_to_string(&mut said);
            }
            let _ = std::fs::remove_dir_all(&dir);
            let first = said.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
            return Err(if said.contains("paranoid") || said.contains("ermission") || said.contains("EACCES") {
                "perf may not profile here: set `sysctl kernel.perf_event_paranoid=1`, or run as root".to_string()
            } else {
                format!("perf record exited at once ({status}): {first}")
            });
        }
        Ok(Recording { child, dir, keep: keep.map(Path::to_path_buf) })
    }

    /// Stops perf (SIGINT, then waits), reads its samples and folds them.
    pub fn finish(mut self) -> Result<Profile, String> {
        self.stop_and_fold()
    }

    fn stop_and_fold(&mut self) -> Result<Profile, String> {
        // `kill -INT`: the crate keeps unsafe to net/sys.rs, and this runs once per run.
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        self.child.wait().map_err(|e| format!("perf record: {e}"))?;
        let data = self.dir.join("perf.data");
        let script = Command::new("perf")
            .arg("script")
            .arg("-i")
            .arg(&data)
            .stderr(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run perf script: {e}"))?;
        if !script.status.success() {
            return Err(format!("perf script failed ({})", script.status));
        }
        let mut folded = Vec::new();
        let mut folder = inferno::collapse::perf::Folder::default();
        inferno::collapse::Collapse::collapse(&mut folder, &script.stdout[..], &mut folded)
            .map_err(|e| format!("cannot fold perf's stacks: {e}"))?;
        let folded = String::from_utf8_lossy(&folded).into_owned();
        let svg = crate::report::html::flamegraph(&folded, "clobber --perf")?.unwrap_or_default();
        let (_, top) = top_by_self(&folded, TOP_N);
        // Folded counts are cpu-clock periods (ns), not samples: count perf script's sample
        // headers instead, the lines that do not start with a blank.
        let samples = script
            .stdout
            .split(|&b| b == b'\n')
            .filter(|l| l.first().is_some_and(|b| !b.is_ascii_whitespace()))
            .count() as u64;
        let mut profile = Profile {
            samples,
            frequency_hz: FREQUENCY_HZ,
            top,
            folded_file: None,
            svg_file: None,
            folded: Some(folded.clone()),
            svg: (!svg.is_empty()).then_some(svg.clone()),
        };
        if let Some(out) = &self.keep {
            let write = |name: &str, bytes: &[u8]| {
                let path = out.join(name);
                std::fs::write(&path, bytes)
                    .map(|()| path.display().to_string())
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))
            };
            std::fs::copy(&data, out.join("perf.data"))
                .map_err(|e| format!("cannot copy perf.data to {}: {e}", out.display()))?;
            profile.folded_file = Some(write("perf.folded", folded.as_bytes())?);
            if !svg.is_empty() {
                profile.svg_file = Some(write("flamegraph.svg", svg.as_bytes())?);
            }
        }
        Ok(profile)
    }
}

/// A recording dropped unfinished (the run failed) must not leave perf running: it is killed.
/// The temporary directory goes either way.
impl Drop for Recording {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The total of the counts in folded stacks (`frame;frame;leaf count` per line), and the `n`
/// leaf frames with the largest counts (self time), with their share of the total.
pub fn top_by_self(folded: &str, n: usize) -> (u64, Vec<ProfileFunction>) {
    let mut by_leaf: std::collections::HashMap<&str, u64> = std::collections::HashMap::new();
    let mut total = 0;
    for line in folded.lines() {
        let Some((stack, count)) = line.rsplit_once(' ') else { continue };
        let Ok(count) = count.parse::<u64>() else { continue };
        let leaf = stack.rsplit(';').next().unwrap_or(stack);
        *by_leaf.entry(leaf).or_default() += count;
        total += count;
    }
    let mut leaves: Vec<(&str, u64)> = by_leaf.into_iter().collect();
    leaves.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let top = leaves
        .into_iter()
        .take(n)
        .map(|(function, count)| ProfileFunction {
            function: function.to_string(),
            share: count as f64 / total.max(1) as f64,
        })
        .collect();
    (total, top)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_by_self_counts_leaf_frames() {
        let folded =
            "nginx;main;ngx_process;tcp_sendmsg 6\nnginx;main;ngx_process 2\nnginx;main;tcp_sendmsg 2\nbad line\n";
        let (samples, top) = top_by_self(folded, 10);
        assert_eq!(samples, 10);
        assert_eq!(top[0].function, "tcp_sendmsg");
        assert!((top[0].share - 0.8).abs() < 1e-9);
        assert_eq!((top[1].function.as_str(), top.len()), ("ngx_process", 2));
        assert_eq!(top_by_self("", 10), (0, Vec::new()));
    }
}
