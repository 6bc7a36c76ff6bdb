//! The HTTP case: hyper 1 serving the same hello-world handler on each
//! runtime, over HTTP/1.1 (loaded by `wrk`) and HTTP/2 with prior
//! knowledge (loaded by `h2load`).
//!
//! Each run starts a fresh server: this benchmark's own binary with
//! `--http-server RUNTIME PROTO`, pinned to CPU 0 with `taskset`, which
//! binds a free loopback port and prints it on its first line of output;
//! the load generator runs pinned to CPU 1 for `XIIO_BENCH_HTTP_SECS`
//! seconds, then the server is killed. Runs are interleaved (xiio, tokio,
//! smol, for HTTP/1.1 then HTTP/2, `XIIO_BENCH_HTTP_RUNS` times) and the
//! medians reported: requests per second, the 99th percentile of latency
//! as the load generator saw it, and the server's CPU time per request
//! (from `/proc/PID/task/*/schedstat`, all its threads), which does not
//! depend on whether the server or the load generator was the bottleneck.
//!
//! `wrk`, `h2load` (Debian's `nghttp2-client`) and `taskset` are found on
//! the `PATH`; if one is missing, `benches/http-tools.sh` installs them
//! with apt-get, and if that fails the case is skipped with a message.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::{RUNTIMES, Row, Unit, median, runtime};

/// The protocol a server speaks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Proto {
    /// HTTP/1.1 (`hyper::server::conn::http1`), loaded by `wrk`.
    Http1,
    /// HTTP/2 over cleartext with prior knowledge
    /// (`hyper::server::conn::http2`), loaded by `h2load`.
    Http2,
}

impl Proto {
    /// Both, in table order.
    const ALL: [Proto; 2] = [Proto::Http1, Proto::Http2];

    /// Its name on the command line of `--http-server`.
    fn arg(self) -> &'static str {
        match self {
            Proto::Http1 => "h1",
            Proto::Http2 => "h2",
        }
    }

    /// Its rows: requests per second, p99 latency, server CPU per request.
    fn rows(self) -> [&'static str; 3] {
        match self {
            Proto::Http1 => HTTP_ROWS[0],
            Proto::Http2 => HTTP_ROWS[1],
        }
    }
}

/// The rows of the HTTP case, per protocol: requests per second, p99
/// latency, server CPU time per request.
const HTTP_ROWS: [[&str; 3]; 2] = [
    [
        "HTTP/1.1 hello-world, requests/s (higher is better)",
        "HTTP/1.1 hello-world, p99 latency",
        "HTTP/1.1 hello-world, server CPU per request",
    ],
    [
        "HTTP/2 hello-world, requests/s (higher is better)",
        "HTTP/2 hello-world, p99 latency",
        "HTTP/2 hello-world, server CPU per request",
    ],
];

/// `wrk`'s connections (one thread).
const WRK_CONNECTIONS: usize = 64;
/// `h2load`'s clients (connections; one thread).
const H2LOAD_CLIENTS: usize = 16;
/// `h2load`'s concurrent streams per connection.
const H2LOAD_STREAMS: usize = 16;

/// The protocols the command line selects: all with no filter (the full
/// run), else those a filter names ("http" for both, or part of a row's
/// name).
pub fn selected(filters: &[String]) -> Vec<Proto> {
    Proto::ALL
        .into_iter()
        .filter(|proto| {
            filters.is_empty()
                || filters.iter().any(|f| {
                    f.eq_ignore_ascii_case("http")
                        || proto.rows().iter().any(|row| row.contains(f.as_str()))
                })
        })
        .collect()
}

/// The server side, `--http-server RUNTIME PROTO`: binds a free loopback
/// port, prints it, and serves until killed.
pub fn server(name: &str, proto: &str) {
    let proto = match proto {
        "h1" => Proto::Http1,
        "h2" => Proto::Http2,
        _ => panic!("unknown protocol {proto} (h1 or h2)"),
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    println!("{}", listener.local_addr().unwrap().port());
    runtime(name).http_server(listener, proto);
}

/// What one run measured.
struct Sample {
    /// Requests per second, as the load generator counted them.
    rps: f64,
    /// The 99th percentile of latency, in seconds.
    p99: f64,
    /// The server's CPU time per request, in seconds.
    cpu_per_request: f64,
}

/// An environment variable's number, or `default`.
fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs the HTTP case for `protos` on each selected runtime (`only`: one
/// runtime's name; the others then report NaN) and gives its rows, or
/// `Err` with the reason it was skipped.
pub fn measure(protos: &[Proto], only: Option<&str>) -> Result<Vec<Row>, String> {
    tools_ready()?;
    let runs = env_or("XIIO_BENCH_HTTP_RUNS", 5);
    let secs = env_or("XIIO_BENCH_HTTP_SECS", 5);
    // Server on CPU 0, load generator on CPU 1: only with two CPUs.
    let nproc = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pin = nproc >= 2;
    if !pin {
        eprintln!("HTTP case: one CPU, so server and load generator are not pinned");
    }
    let selected = |name: &str| only.is_none_or(|o| o == name);
    let mut samples: Vec<[Vec<Sample>; 3]> = protos.iter().map(|_| Default::default()).collect();
    for run in 0..runs {
        for (proto, samples) in protos.iter().zip(&mut samples) {
            for (i, rt) in RUNTIMES.into_iter().enumerate() {
                if !selected(rt.name()) {
                    continue;
                }
                eprint!(
                    "HTTP run {}/{runs}, {} on {}: ",
                    run + 1,
                    proto.rows()[0].split(' ').next().unwrap(),
                    rt.name()
                );
                match run_once(rt.name(), *proto, secs, pin) {
                    Ok(sample) => samples[i].push(sample),
                    Err(e) => eprintln!("failed: {e}"),
                }
            }
        }
    }
    let mut rows = Vec::new();
    for (proto, samples) in protos.iter().zip(&samples) {
        let [rps, p99, cpu] = proto.rows();
        let medians = |f: fn(&Sample) -> f64| {
            samples
                .each_ref()
                .map(|s| median(s.iter().map(f).collect()))
        };
        rows.push(Row {
            name: rps,
            unit: Unit::PerSecond,
            medians: medians(|s| s.rps),
        });
        rows.push(Row {
            name: p99,
            unit: Unit::Millis,
            medians: medians(|s| s.p99),
        });
        rows.push(Row {
            name: cpu,
            unit: Unit::Micros,
            medians: medians(|s| s.cpu_per_request),
        });
    }
    Ok(rows)
}

/// Whether `program` can be started.
fn found(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// The tools the case needs and that are not found.
fn missing_tools() -> Vec<&'static str> {
    ["wrk", "h2load", "taskset"]
        .into_iter()
        .filter(|t| !found(t))
        .collect()
}

/// Makes sure `wrk`, `h2load` and `taskset` are there, installing them
/// with `benches/http-tools.sh` if not.
fn tools_ready() -> Result<(), String> {
    let missing = missing_tools();
    if missing.is_empty() {
        return Ok(());
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/http-tools.sh");
    eprintln!(
        "HTTP case: {} not found; running {}",
        missing.join(", "),
        script.display()
    );
    // Its output goes to stderr: stdout is the tables'.
    let _ = Command::new("sh")
        .arg(&script)
        .stdout(std::io::stderr())
        .status();
    let missing = missing_tools();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} not found, and {} could not install them",
            missing.join(", "),
            script.display()
        ))
    }
}

/// `program`, pinned to `cpu` with `taskset` if given.
fn pinned(cpu: Option<&str>, program: impl AsRef<std::ffi::OsStr>) -> Command {
    match cpu {
        Some(cpu) => {
            let mut command = Command::new("taskset");
            command.arg("-c").arg(cpu).arg(program);
            command
        }
        None => Command::new(program),
    }
}

/// The CPU time of process `pid` so far, all its threads, and the time
/// its threads waited for a CPU while runnable, in nanoseconds (the first
/// two fields of `/proc/PID/task/*/schedstat`).
fn cpu_nanos(pid: u32) -> Option<(u64, u64)> {
    let (mut ran, mut waited) = (0, 0);
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let schedstat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        let mut fields = schedstat.split_whitespace();
        ran += fields.next()?.parse::<u64>().ok()?;
        waited += fields.next()?.parse::<u64>().ok()?;
    }
    Some((ran, waited))
}

/// What the load generator reported.
struct Load {
    /// Requests per second.
    rps: f64,
    /// Requests completed.
    requests: f64,
    /// p99 latency, in seconds.
    p99: f64,
}

/// One run: a fresh server for `name` speaking `proto`, loaded for `secs`
/// seconds.
fn run_once(name: &str, proto: Proto, secs: u64, pin: bool) -> Result<Sample, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut server = pinned(pin.then_some("0"), &exe)
        .args(["--http-server", name, proto.arg()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting the server: {e}"))?;
    let result = load_server(&mut server, proto, secs, pin);
    // The server serves until killed; it is our child, killed by its id.
    let _ = server.kill();
    let _ = server.wait();
    let sample = result?;
    Ok(sample)
}

/// Loads a started server: reads its port, runs the load generator,
/// measures the server's CPU time meanwhile.
fn load_server(
    server: &mut std::process::Child,
    proto: Proto,
    secs: u64,
    pin: bool,
) -> Result<Sample, String> {
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let port: u16 = line
        .trim()
        .parse()
        .map_err(|_| format!("the server printed {line:?}, not its port"))?;
    let url = format!("http://127.0.0.1:{port}/");
    let before = cpu_nanos(server.id()).ok_or("no /proc/PID/task/*/schedstat")?;
    let wall = Instant::now();
    let load = match proto {
        Proto::Http1 => wrk(&url, secs, pin)?,
        Proto::Http2 => h2load(&url, secs, pin)?,
    };
    let wall = wall.elapsed().as_secs_f64();
    let after = cpu_nanos(server.id()).ok_or("the server died")?;
    let cpu = (after.0 - before.0) as f64 * 1e-9;
    let waited = (after.1 - before.1) as f64 * 1e-9;
    // Busy: the share of the run the server was on its CPU; waiting: the
    // share it was runnable but another process had the CPU (a loaded
    // machine).
    eprintln!(
        "{:.0} req/s, p99 {:.2} ms, server CPU {:.2} µs per request \
         ({:.0} % busy, {:.0} % waiting for the CPU)",
        load.rps,
        load.p99 * 1e3,
        cpu / load.requests * 1e6,
        cpu / wall * 100.0,
        waited / wall * 100.0,
    );
    Ok(Sample {
        rps: load.rps,
        p99: load.p99,
        cpu_per_request: cpu / load.requests,
    })
}

/// Runs a load generator; its standard output.
fn output(mut command: Command) -> Result<String, String> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!(
            "{:?}: {}\n{stdout}{}",
            command.get_program(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(stdout)
}

/// `wrk -t1 -c64 -dSECSs --latency URL`.
fn wrk(url: &str, secs: u64, pin: bool) -> Result<Load, String> {
    let mut command = pinned(pin.then_some("1"), "wrk");
    command
        .arg("-t1")
        .arg(format!("-c{WRK_CONNECTIONS}"))
        .arg(format!("-d{secs}s"))
        .arg("--latency")
        .arg(url);
    let out = output(command)?;
    parse_wrk(&out).ok_or_else(|| format!("unexpected output of wrk:\n{out}"))
}

/// requests/s, requests and p99 from `wrk --latency`'s report:
///
/// ```text
///   Latency Distribution
///      50%  460.00us
///      ...
///      99%    1.21ms
///   654321 requests in 5.00s, 80.49MB read
///   Non-2xx or 3xx responses: 3        (only if any)
/// Requests/sec: 130855.96
/// ```
fn parse_wrk(out: &str) -> Option<Load> {
    let mut rps = None;
    let mut requests = None;
    let mut p99 = None;
    for line in out.lines().map(str::trim) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields[..] {
            ["Requests/sec:", value] => rps = value.parse().ok(),
            ["99%", value] => p99 = wrk_duration(value),
            [n, "requests", "in", ..] => requests = n.parse().ok(),
            _ => {}
        }
        if line.starts_with("Socket errors") || line.starts_with("Non-2xx") {
            eprint!("(wrk: {line}) ");
        }
    }
    Some(Load {
        rps: rps?,
        requests: requests?,
        p99: p99?,
    })
}

/// A duration as wrk prints it (`460.00us`, `1.21ms`, `2.00s`, `1.00m`),
/// in seconds.
fn wrk_duration(value: &str) -> Option<f64> {
    let split = value.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = value.split_at(split);
    let scale = match unit {
        "us" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return None,
    };
    Some(number.parse::<f64>().ok()? * scale)
}

/// `h2load -t1 -c16 -m16 -D SECS --log-file=LOG URL`; the p99 comes from
/// the log, which has one line per request with its time (h2load's own
/// report has min, max, mean and sd, no percentiles).
fn h2load(url: &str, secs: u64, pin: bool) -> Result<Load, String> {
    let log = std::env::temp_dir().join(format!("xiio-bench-h2load-{}.log", std::process::id()));
    let mut command = pinned(pin.then_some("1"), "h2load");
    command
        .arg("-t1")
        .arg(format!("-c{H2LOAD_CLIENTS}"))
        .arg(format!("-m{H2LOAD_STREAMS}"))
        .arg("-D")
        .arg(secs.to_string())
        .arg(format!("--log-file={}", log.display()))
        .arg(url);
    let out = output(command);
    let times = std::fs::read_to_string(&log);
    let _ = std::fs::remove_file(&log);
    let out = out?;
    let times = times.map_err(|e| format!("h2load's log: {e}"))?;
    parse_h2load(&out, &times).ok_or_else(|| format!("unexpected output of h2load:\n{out}"))
}

/// requests/s and requests from h2load's report, p99 from its log:
///
/// ```text
/// finished in 5.00s, 180123.40 req/s, 6.01MB/s
/// requests: 900617 total, 900873 started, 900617 done, 900617 succeeded, 0 failed, 0 errored, 0 timeout
/// ```
///
/// and the log's lines: start (µs since the epoch), status, time to the
/// end of the response (µs), tab-separated.
fn parse_h2load(out: &str, log: &str) -> Option<Load> {
    let mut rps = None;
    let mut requests = None;
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("finished in ") {
            let fields: Vec<&str> = rest.split(", ").collect();
            rps = fields.get(1)?.strip_suffix(" req/s")?.parse().ok();
        }
        if let Some(rest) = line.strip_prefix("requests: ") {
            for field in rest.split(", ") {
                let (n, what) = field.split_once(' ')?;
                match what {
                    "done" => requests = n.parse().ok(),
                    "failed" | "errored" | "timeout" if n != "0" => {
                        eprint!("(h2load: {n} {what}) ");
                    }
                    _ => {}
                }
            }
        }
    }
    let mut times: Vec<f64> = Vec::new();
    let mut not_ok = 0;
    for line in log.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.get(1) != Some(&"200") {
            not_ok += 1;
        }
        times.push(fields.get(2)?.parse::<f64>().ok()? * 1e-6);
    }
    if not_ok > 0 {
        eprint!("(h2load: {not_ok} responses not 200) ");
    }
    times.sort_by(f64::total_cmp);
    let p99 = *times.get((times.len() * 99).div_ceil(100).checked_sub(1)?)?;
    Some(Load {
        rps: rps?,
        requests: requests?,
        p99,
    })
}
