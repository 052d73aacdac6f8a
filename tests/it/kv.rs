//! `--frame resp` against a real redis-server and `--frame memcache` against a real memcached,
//! over TCP and over a Unix socket: each started by the test on a free port (and a socket in
//! its own directory), with nothing saved to disk, stopped by PID when dropped. The client's
//! reply counts are compared with the server's own statistics (`INFO commandstats`, `INFO
//! stats`, memcached's `stats`), read over a separate connection.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clobber::protocol::reply;
use clobber::stats::WorkerStats;

use crate::binary::clobber;
use crate::support::{http_config, redis_keyspace_run, run};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A server process the test started, in its own directory; killed by PID when dropped.
struct Daemon {
    port: u16,
    dir: PathBuf,
    child: Child,
}

impl Daemon {
    /// Starts `program` with `args` (which may name `{port}` and `{dir}`) and waits until
    /// `ready` answers.
    fn start(program: &str, args: &[&str], ready: impl Fn(&Daemon) -> bool) -> Daemon {
        assert!(
            Path::new(program).exists(),
            "{program} is not installed: these tests need it (apt-get install redis-server memcached, or run \
             scripts/test.sh)"
        );
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("clobber-kv-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let args: Vec<String> = args
            .iter()
            .map(|a| a.replace("{port}", &port.to_string()).replace("{dir}", &dir.display().to_string()))
            .collect();
        let child = Command::new(program)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{program} starts: {e}"));
        let daemon = Daemon { port, dir, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ready(&daemon) {
            assert!(Instant::now() < deadline, "{program} did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        daemon
    }

    fn socket(&self) -> String {
        self.dir.join("server.sock").display().to_string()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A redis-server on a free port and on `{dir}/server.sock`, saving nothing.
fn redis() -> Daemon {
    Daemon::start(
        "/usr/bin/redis-server",
        &[
            "--port",
            "{port}",
            "--bind",
            "127.0.0.1",
            "--unixsocket",
            "{dir}/server.sock",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            "{dir}",
        ],
        |d| TcpStream::connect(("127.0.0.1", d.port)).is_ok() && Path::new(&d.socket()).exists(),
    )
}

/// Sends one command (inline) to redis and returns its reply's text: a bulk string's bytes, or
/// the line of any other reply. Enough for INFO and for setting up keys.
fn redis_cmd(port: u16, command: &str) -> String {
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.write_all(format!("{command}\r\n").as_bytes()).unwrap();
    let mut reader = BufReader::new(tcp);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    match line.strip_prefix('$') {
        Some(len) => {
            let len: usize = len.trim().parse().unwrap();
            let mut body = vec![0; len + 2];
            reader.read_exact(&mut body).unwrap();
            String::from_utf8_lossy(&body[..len]).into_owned()
        }
        None => line.trim_end().to_string(),
    }
}

/// `field:value` of an INFO section, e.g. `cmdstat_get` -> "calls=3,usec=..." or
/// `total_commands_processed` -> "12".
fn info_field(port: u16, section: &str, field: &str) -> String {
    let info = redis_cmd(port, &format!("INFO {section}"));
    info.lines().find_map(|l| l.strip_prefix(&format!("{field}:"))).map(|v| v.trim().to_string()).unwrap_or_default()
}

/// Calls of one command so far (`INFO commandstats`); 0 before the first.
fn calls(port: u16, command: &str) -> u64 {
    let stat = info_field(port, "commandstats", &format!("cmdstat_{command}"));
    stat.split(',').find_map(|kv| kv.strip_prefix("calls=")).map_or(0, |n| n.parse().unwrap())
}

fn clobber_run(target: &str, args: &[&str]) -> WorkerStats {
    let mut words = vec![target, "-d", "60s", "-t", "1"];
    words.extend_from_slice(args);
    run(&http_config(&words))
}

/// The run's replies of each kind, all others asserted to be zero, and no errors.
#[track_caller]
fn assert_replies(stats: &WorkerStats, expected: &[(u16, u64)]) {
    assert_eq!(stats.errors_total(), 0, "{:?}", stats.first_error);
    for class in 1..100u16 {
        let want = expected.iter().find(|(c, _)| *c == class).map_or(0, |(_, n)| *n);
        assert_eq!(stats.status[usize::from(class)], want, "replies of kind {:?}", reply::name(class));
    }
    assert_eq!(stats.requests, expected.iter().map(|(_, n)| n).sum::<u64>());
}

#[test]
fn redis_resp_replies_counted_as_redis_counts_its_commands() {
    let redis = redis();
    let port = redis.port;
    let target = format!("tcp://127.0.0.1:{port}");
    assert_eq!(redis_cmd(port, "SET foo bar"), "+OK");
    assert_eq!(
        redis_cmd(port, &format!("RPUSH list {}", (1..=100).map(|i| i.to_string()).collect::<Vec<_>>().join(" "))),
        ":100"
    );
    for i in 0..10 {
        assert_eq!(redis_cmd(port, &format!("SET k{i} value-{i}")), "+OK");
    }
    let mget = format!("MGET {}\\r\\n", (0..10).map(|i| format!("k{i}")).collect::<Vec<_>>().join(" "));
    // (the payload, its command, the reply kind, -n, pipeline)
    let runs: [(&str, &str, u16, u64, &str); 5] = [
        ("GET foo\\r\\n", "get", reply::RESP_BULK, 3000, "1"),
        ("GET missing\\r\\n", "get", reply::RESP_NULL, 3000, "16"),
        ("LRANGE list 0 -1\\r\\n", "lrange", reply::RESP_ARRAY, 2000, "16"),
        (&mget, "mget", reply::RESP_ARRAY, 2000, "16"),
        // A RESP2 array command with `*`: the payload itself is framed as redis-cli sends it.
        ("*2\\r\\n$3\\r\\nGET\\r\\n$3\\r\\nfoo\\r\\n", "get", reply::RESP_BULK, 1600, "16"),
    ];
    for (payload, command, kind, n, pipeline) in runs {
        let before = calls(port, command);
        let stats = clobber_run(
            &target,
            &["--data", payload, "--frame", "resp", "-n", &n.to_string(), "-c", "4", "--pipeline", pipeline],
        );
        assert_replies(&stats, &[(kind, n)]);
        assert_eq!(calls(port, command) - before, n, "{payload}: redis counted other calls than clobber");
    }
    // An error reply is a response, tallied as resp_error, not a failed request.
    let errors_before = info_field(port, "errorstats", "errorstat_ERR");
    let stats = clobber_run(&target, &["--data", "NOSUCHCOMMAND\\r\\n", "--frame", "resp", "-n", "500", "-c", "2"]);
    assert_replies(&stats, &[(reply::RESP_ERROR, 500)]);
    let count = |s: &str| s.strip_prefix("count=").map_or(0, |n| n.parse::<u64>().unwrap());
    assert_eq!(count(&info_field(port, "errorstats", "errorstat_ERR")) - count(&errors_before), 500);
}

#[test]
fn redis_over_a_unix_socket_counts_equal_commands_processed() {
    let redis = redis();
    let port = redis.port;
    let target = format!("unix:{}", redis.socket());
    let processed = || info_field(port, "stats", "total_commands_processed").parse::<u64>().unwrap();
    for (args, n) in [(&["-c", "8", "--pipeline", "4"][..], 8000u64), (&["-c", "4", "--reconnect"][..], 1000)] {
        let before = processed();
        let mut words = vec!["--data", "INCR counter\\r\\n", "--frame", "resp", "-n"];
        let n_text = n.to_string();
        words.push(&n_text);
        words.extend_from_slice(args);
        let stats = clobber_run(&target, &words);
        assert_replies(&stats, &[(reply::RESP_INTEGER, n)]);
        // The INFO that read `before` is counted too.
        assert_eq!(processed() - before, n + 1, "{args:?}");
        if args.contains(&"--reconnect") {
            assert_eq!(stats.connections_opened, n);
        }
    }
    assert_eq!(redis_cmd(port, "GET counter"), "9000", "every INCR arrived once");
}

/// `targets::redis_keyspace_from_rand` over the Unix socket: the same keyspace, the same counts.
#[test]
fn redis_keyspace_from_rand_over_a_unix_socket() {
    let redis = redis();
    let port = redis.port;
    let target = format!("unix:{}", redis.socket());
    let processed = || info_field(port, "stats", "total_commands_processed").parse::<u64>().unwrap();
    let before = processed();
    let stats = redis_keyspace_run(&target);
    let after = processed();
    assert_eq!((stats.requests, stats.errors_total()), (20000, 0), "{:?}", stats.first_error);
    // The INFO that read `before` is counted too.
    assert_eq!(after - before - 1, stats.requests, "redis counted every SET");
    let keys: u64 = redis_cmd(port, "DBSIZE").trim_start_matches(':').parse().unwrap();
    assert!((900..=1000).contains(&keys), "{keys} keys");
    assert_eq!(redis_cmd(port, "GET key:0001").len(), 1, "keys are zero-padded to HI's width");
}

#[test]
fn per_entry_replies_are_named_as_redis_counted_them() {
    let redis = redis();
    let port = redis.port;
    assert_eq!(redis_cmd(port, "SET k v"), "+OK");
    let file = redis.dir.join("payloads.txt");
    std::fs::write(&file, "GET k\\r\\n\nGET missing\\r\\n\nSET s v\\r\\n\nINCR n\\r\\n\n").unwrap();
    let keyspace = || {
        let stat = |name| info_field(port, "stats", name).parse::<u64>().unwrap();
        (stat("keyspace_hits"), stat("keyspace_misses"))
    };
    let (hits, misses) = keyspace();
    let before: Vec<u64> = ["get", "set", "incr"].iter().map(|c| calls(port, c)).collect();
    let target = format!("tcp://127.0.0.1:{port}");
    let file = file.display().to_string();
    let out = clobber(&[
        &target,
        "--no-pin",
        "--data-file",
        &file,
        "--frame",
        "resp",
        "-n",
        "2000",
        "-c",
        "4",
        "-t",
        "1",
        "-d",
        "60s",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let status: Vec<&serde_json::Value> = json["targets"].as_array().unwrap().iter().map(|t| &t["status"]).collect();
    // Each entry's replies by the names of the Replies line, not by internal class numbers.
    let n = |entry: usize, name: &str| status[entry][name].as_u64().unwrap_or_else(|| panic!("{name}: {status:?}"));
    assert_eq!(status.len(), 4);
    assert!(status.iter().all(|s| s.as_object().unwrap().len() == 1), "one kind of reply each: {status:?}");
    let (bulk, null, simple, integer) =
        (n(0, "resp_bulk"), n(1, "resp_null"), n(2, "resp_simple"), n(3, "resp_integer"));
    assert_eq!([bulk, null, simple, integer], [500; 4]);
    // What redis counted: a hit per bulk reply, a miss per null, a call per command.
    let after: Vec<u64> = ["get", "set", "incr"].iter().map(|c| calls(port, c)).collect();
    assert_eq!([after[0] - before[0], after[1] - before[1], after[2] - before[2]], [bulk + null, simple, integer]);
    let (hits_after, misses_after) = keyspace();
    assert_eq!((hits_after - hits, misses_after - misses), (bulk, null));
    assert_eq!(redis_cmd(port, "GET n"), integer.to_string());
}

/// A memcached on a free port (`unix`: on `{dir}/server.sock` instead, which turns TCP off).
fn memcached(unix: bool) -> Daemon {
    let mut args = vec!["-l", "127.0.0.1", "-p", "{port}", "-U", "0", "-t", "1", "-m", "64"];
    if unix {
        args = vec!["-s", "{dir}/server.sock", "-t", "1", "-m", "64"];
    }
    // memcached refuses to run as root unless told which user to be.
    let root = std::fs::read_to_string("/proc/self/status")
        .is_ok_and(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")));
    if root {
        args.extend(["-u", "root"]);
    }
    Daemon::start("/usr/bin/memcached", &args, move |d| {
        if unix {
            std::os::unix::net::UnixStream::connect(d.socket()).is_ok()
        } else {
            TcpStream::connect(("127.0.0.1", d.port)).is_ok()
        }
    })
}

/// memcached's `stats`, by name, read over `stream`.
fn memcached_stats(mut stream: impl Read + Write) -> std::collections::HashMap<String, u64> {
    stream.write_all(b"stats\r\n").unwrap();
    let mut reader = BufReader::new(stream);
    let mut stats = std::collections::HashMap::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line.trim_end() == "END" || line.is_empty() {
            return stats;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if let [_, name, value] = words[..] {
            if let Ok(v) = value.parse() {
                stats.insert(name.to_string(), v);
            }
        }
    }
}

#[test]
fn memcached_replies_counted_as_memcached_counts_them() {
    for unix in [false, true] {
        let memcached = memcached(unix);
        let target =
            if unix { format!("unix:{}", memcached.socket()) } else { format!("tcp://127.0.0.1:{}", memcached.port) };
        let stats_now = || {
            if unix {
                memcached_stats(std::os::unix::net::UnixStream::connect(memcached.socket()).unwrap())
            } else {
                memcached_stats(TcpStream::connect(("127.0.0.1", memcached.port)).unwrap())
            }
        };
        // (payload, -n, pipeline, reply kind, the stats that must grow by -n)
        let runs: [(&str, u64, &str, u16, &[&str]); 3] = [
            // The value holds "END\r\n": only a framer that counts the data gets this right.
            ("set k 0 0 11\\r\\nEND\\r\\nEND\\r\\nx\\r\\n", 2000, "8", reply::MC_STORED, &["cmd_set"]),
            ("get k\\r\\n", 3000, "16", reply::MC_VALUE, &["cmd_get", "get_hits"]),
            ("get missing\\r\\n", 1000, "1", reply::MC_END, &["cmd_get", "get_misses"]),
        ];
        for (payload, n, pipeline, kind, counters) in runs {
            let before = stats_now();
            let stats = clobber_run(
                &target,
                &["--data", payload, "--frame", "memcache", "-n", &n.to_string(), "-c", "4", "--pipeline", pipeline],
            );
            assert_replies(&stats, &[(kind, n)]);
            let after = stats_now();
            for counter in counters {
                assert_eq!(after[*counter] - before[*counter], n, "{payload} (unix: {unix}): {counter}");
            }
        }
    }
}
