//! xiio against tokio (current-thread + `LocalSet`) and smol (`LocalExecutor`
//! + async-io), side by side in one process.
//!
//! ```text
//! cargo bench --bench runtimes                 # every case, 11 repetitions
//! cargo bench --bench runtimes -- timers       # only cases whose name contains "timers"
//! XIIO_BENCH_REPS=3 cargo bench --bench runtimes
//! XIIO_BENCH_ONLY=xiio cargo bench --bench runtimes -- spawn   # one runtime, for a profiler
//! XIIO_BENCH_TIMER_WINDOW_MS=20000 ...   # timers case under a profiler, so timers are really set
//! cargo bench --bench runtimes -- http         # only the HTTP case (wrk, h2load; see http.rs)
//! XIIO_BENCH_HTTP_RUNS=5 XIIO_BENCH_HTTP_SECS=5 ...   # its runs per runtime and their length
//! ```
//!
//! Method: each case is one method of `Runtime`, written once per runtime
//! (`xiio.rs`, `tokio.rs`, `smol.rs`, on the runtime-agnostic pieces of
//! `common.rs`), that builds its runtime, then measures the work from
//! inside it (runtime construction and the setup of idle background load
//! are not timed). One warm-up run per runtime and case is thrown away.
//! Then every repetition runs every case on every runtime, interleaved (the
//! spawn case: xiio, tokio, smol; the timers case: xiio, ...), so that noise
//! from other processes on the machine hits all runtimes and all cases
//! alike; the median of the repetitions is reported. See BENCHMARKS.md for
//! the results and what each number includes.

mod common;
mod http;
mod smol;
mod tokio;
mod xiio;

use std::time::{Duration, Instant};

use self::common::Idle;
use self::http::Proto;
use self::smol::Smol;
use self::tokio::Tokio;
use self::xiio::Xiio;

/// Children spawned and joined in the spawn case.
const SPAWN_N: usize = 100_000;
/// Concurrent timers in the timers case.
const TIMERS_N: usize = 100_000;
/// Timeouts armed and cancelled in the timeouts case.
const TIMEOUTS_N: usize = 100_000;
/// Deadlines of the timers case are spread uniformly over this window.
const TIMER_WINDOW: Duration = Duration::from_millis(50);
/// Wake-ups in each ping-pong case (two per round trip).
const PINGPONG_WAKEUPS: usize = 1_000_000;
/// Yields in the yields case: a task that wakes itself and returns `Pending`.
const YIELDS: usize = 1_000_000;
/// Wake-ups measured per run of the wake-up case.
const WAKEUP_WAKEUPS: usize = 200_000;
/// Idle timers, fds or tasks in the wake-up case.
const IDLE_N: usize = 10_000;
/// Messages echoed in each run of the echo case, spread over the connections.
const ECHO_MESSAGES: usize = 20_000;
/// The size of one echoed message.
const ECHO_SIZE: usize = 64;
/// The connection counts of the echo case.
const ECHO_CONNS: [usize; 3] = [1, 100, 1000];
/// Pending children in the memory case.
const MEMORY_N: usize = 100_000;
/// Fresh processes per runtime in the memory case (median reported).
const MEMORY_RUNS: usize = 3;
/// Messages per run when counting syscalls under strace (twice as many in
/// the second run; the difference is the steady state).
const STRACE_MESSAGES: usize = 2_000;

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

/// One runtime under comparison; each case is a method, written once per
/// runtime, that builds the runtime and measures the work from inside it.
trait Runtime {
    /// Its name, in the tables and on the command line of `--echo-once`,
    /// `--memory-once` and `--http-server`.
    fn name(&self) -> &'static str;
    /// The spawn case: `SPAWN_N` children that do nothing, spawned and
    /// joined.
    fn spawn(&self) -> Sample;
    /// The timers case: `TIMERS_N` children, each sleeping until its
    /// deadline in the `TIMER_WINDOW` after the start.
    fn timers(&self) -> Sample;
    /// The timeouts case: `TIMEOUTS_N` children, each a future that
    /// finishes at once inside an hour's timeout.
    fn timeouts(&self) -> Sample;
    /// The async-channel ping-pong: `PINGPONG_WAKEUPS` wake-ups of two
    /// tasks through two `async_channel::bounded(1)`.
    fn pingpong(&self) -> Sample;
    /// The one-shot ping-pong: the same wake-ups, each message in a fresh
    /// one-shot of the runtime's own.
    fn oneshot(&self) -> Sample;
    /// The yields case: one task that yields `YIELDS` times.
    fn yields(&self) -> Sample;
    /// The wake-up case: `WAKEUP_WAKEUPS` wake-ups of the async-channel
    /// ping-pong, next to `idle`.
    fn wakeup(&self, idle: Idle) -> Sample;
    /// The echo case: `messages` echoed over `conns` loopback TCP
    /// connections.
    fn echo(&self, conns: usize, messages: usize) -> Sample;
    /// The memory case, in this process: resident bytes per pending child.
    fn memory(&self) -> f64;
    /// The HTTP case's server (in a process of its own, `--http-server`):
    /// hyper serving `common::hello` on `listener` in `proto`, one task
    /// per connection, until the process is killed.
    fn http_server(&self, listener: std::net::TcpListener, proto: Proto);
}

/// The runtimes compared, in table order.
const RUNTIMES: [&dyn Runtime; 3] = [&Xiio, &Tokio, &Smol];

/// The runtime called `name` (the argument of `--echo-once` and
/// `--memory-once`).
fn runtime(name: &str) -> &'static dyn Runtime {
    RUNTIMES
        .into_iter()
        .find(|rt| rt.name() == name)
        .unwrap_or_else(|| panic!("unknown runtime {name}"))
}

/// What one run measured: its wall-clock time.
type Sample = Duration;

/// Starts measuring when created; `stop` gives the sample.
struct Meter {
    /// When it started; also the base of the timers case's deadlines.
    wall: Instant,
}

impl Meter {
    /// Starts now.
    fn start() -> Meter {
        Meter {
            wall: Instant::now(),
        }
    }

    /// The time since the start.
    fn stop(&self) -> Sample {
        self.wall.elapsed()
    }
}

/// How a row prints its value.
#[derive(Clone, Copy)]
enum Unit {
    /// The time of the whole run.
    Millis,
    /// The time divided by this many operations, in nanoseconds.
    NanosPer(usize),
    /// A time in microseconds (the HTTP case's CPU per request).
    Micros,
    /// Events per second (the HTTP case's requests).
    PerSecond,
}

/// One line of the table.
struct RowSpec {
    /// The row's name, which the command line's filters match.
    name: &'static str,
    /// How it prints.
    unit: Unit,
}

/// The same work on each runtime, reported as one or more rows.
struct Case {
    /// Its rows (all of the same sample).
    rows: Vec<RowSpec>,
    /// Runs the case once on a runtime.
    run: fn(&dyn Runtime) -> Sample,
}

/// Medians of one row, in seconds (or seconds per operation).
struct Row {
    /// As in its `RowSpec`.
    name: &'static str,
    /// As in its `RowSpec`.
    unit: Unit,
    /// Per runtime, in `RUNTIMES` order; NaN for one not run.
    medians: [f64; 3],
}

/// The median of `xs` (NaN if empty).
fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    let n = xs.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// Runs every case `reps` times on each selected runtime (`only`: one
/// runtime's name, for profiling; the others then report NaN), interleaved.
fn measure(cases: &[&Case], reps: usize, only: Option<&str>) -> Vec<Row> {
    let selected = |rt: &dyn Runtime| only.is_none_or(|name| name == rt.name());
    // Warm-up: page in code and let allocators grow their pools.
    for case in cases {
        for rt in RUNTIMES {
            if selected(rt) {
                (case.run)(rt);
            }
        }
    }
    let mut samples: Vec<[Vec<Sample>; 3]> = cases.iter().map(|_| Default::default()).collect();
    for rep in 0..reps {
        eprint!("\rrepetition {}/{reps}", rep + 1);
        for (case, samples) in cases.iter().zip(&mut samples) {
            for (i, rt) in RUNTIMES.into_iter().enumerate() {
                if selected(rt) {
                    samples[i].push((case.run)(rt));
                }
            }
        }
    }
    eprintln!();
    let mut rows = Vec::new();
    for (case, samples) in cases.iter().zip(&samples) {
        for spec in &case.rows {
            let per = match spec.unit {
                Unit::NanosPer(n) => n as f64,
                Unit::Millis | Unit::Micros | Unit::PerSecond => 1.0,
            };
            let medians = samples
                .each_ref()
                .map(|s| median(s.iter().map(Duration::as_secs_f64).collect()) / per);
            rows.push(Row {
                name: spec.name,
                unit: spec.unit,
                medians,
            });
        }
    }
    rows
}

/// A row's value as printed: milliseconds, nanoseconds per operation,
/// microseconds, or a rate.
fn format_value(unit: Unit, value: f64) -> String {
    match unit {
        Unit::Millis => format!("{:.2} ms", value * 1e3),
        Unit::NanosPer(_) => format!("{:.1} ns", value * 1e9),
        Unit::Micros => format!("{:.2} µs", value * 1e6),
        Unit::PerSecond => format!("{value:.0} /s"),
    }
}

/// Prints the main table: every row's medians and the ratios of xiio's.
fn print_table(rows: &[Row]) {
    println!();
    println!("| case | xiio median | tokio median | smol median | xiio/tokio | xiio/smol |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for row in rows {
        let [x, t, s] = row.medians;
        println!(
            "| {} | {} | {} | {} | {:.2} | {:.2} |",
            row.name,
            format_value(row.unit, x),
            format_value(row.unit, t),
            format_value(row.unit, s),
            x / t,
            x / s,
        );
    }
}

/// The wake-up case's flatness: per runtime, the wake-up cost with 10k idle
/// things over the cost with none.
fn print_flatness(rows: &[Row]) {
    let find = |name: &str| rows.iter().find(|r| r.name == name);
    let Some(base) = find(WAKEUP_ROWS[0]) else {
        return;
    };
    let loads: Vec<&Row> = WAKEUP_ROWS[1..]
        .iter()
        .filter_map(|name| find(name))
        .collect();
    if loads.is_empty() {
        return;
    }
    println!();
    print!("| runtime | no idle |");
    for row in &loads {
        print!(" {} (ratio) |", row.name.trim_start_matches("wake-up, "));
    }
    println!();
    println!("| --- | ---:{} |", " | ---:".repeat(loads.len()));
    for (i, rt) in RUNTIMES.into_iter().enumerate() {
        let runtime = rt.name();
        let zero = base.medians[i];
        print!("| {runtime} | {} |", format_value(base.unit, zero));
        for row in &loads {
            let loaded = row.medians[i];
            print!(
                " {} ({:.2}) |",
                format_value(row.unit, loaded),
                loaded / zero
            );
        }
        println!();
    }
}

/// Runs the selected cases and prints the tables, or, with `--echo-once`
/// or `--memory-once`, one run of the echo or memory case in this process,
/// or, with `--http-server`, the HTTP case's server.
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, runtime, conns, messages] = &args[..]
        && flag == "--echo-once"
    {
        raise_fd_limit();
        echo_once(runtime, conns.parse().unwrap(), messages.parse().unwrap());
        return;
    }
    if let [flag, runtime] = &args[..]
        && flag == "--memory-once"
    {
        memory_once(runtime);
        return;
    }
    if let [flag, runtime, proto] = &args[..]
        && flag == "--http-server"
    {
        raise_fd_limit();
        http::server(runtime, proto);
        return;
    }
    let filters: Vec<String> = args.into_iter().filter(|a| !a.starts_with('-')).collect();
    let reps = std::env::var("XIIO_BENCH_REPS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(11);
    let only = std::env::var("XIIO_BENCH_ONLY").ok();
    raise_fd_limit();

    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let rustc = std::process::Command::new(std::env::var("RUSTC").unwrap_or("rustc".into()))
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "rustc (unknown)".into());
    println!("nproc: {nproc}; {rustc}; {reps} repetitions, median reported");

    let cases = cases();
    let cases: Vec<&Case> = cases
        .iter()
        .filter(|case| {
            filters.is_empty()
                || case
                    .rows
                    .iter()
                    .any(|row| filters.iter().any(|f| row.name.contains(f.as_str())))
        })
        .collect();
    let rows = if cases.is_empty() {
        Vec::new()
    } else {
        measure(&cases, reps, only.as_deref())
    };
    if !rows.is_empty() {
        print_table(&rows);
        print_flatness(&rows);
    }
    let runtimes: Vec<&dyn Runtime> = RUNTIMES
        .into_iter()
        .filter(|rt| only.as_deref().is_none_or(|name| name == rt.name()))
        .collect();
    let syscalls = std::env::var("XIIO_BENCH_SYSCALLS").map_or(true, |v| v != "0");
    if syscalls && rows.iter().any(|row| ECHO_ROWS.contains(&row.name)) {
        count_syscalls(&runtimes);
    }
    if filters.is_empty() || filters.iter().any(|f| MEMORY_ROW.contains(f.as_str())) {
        print_memory(&runtimes);
    }
    let protos = http::selected(&filters);
    if !protos.is_empty() {
        print_http(&protos, only.as_deref());
    }
}

/// The HTTP case (after everything else: it takes minutes): its rows in
/// the table's format, or why it was skipped.
fn print_http(protos: &[Proto], only: Option<&str>) {
    match http::measure(protos, only) {
        Ok(rows) => {
            println!();
            println!(
                "HTTP hello-world (hyper 1; server pinned to CPU 0, load generator to CPU 1; \
                 median of runs): for requests/s a ratio > 1 means xiio serves more, for p99 \
                 latency and server CPU per request a ratio < 1 means xiio is better."
            );
            print_table(&rows);
        }
        Err(why) => println!("\n(HTTP case skipped: {why})"),
    }
}

/// The memory case's row.
const MEMORY_ROW: &str = "memory per pending child";

/// The memory case: for each runtime, in fresh processes, the resident
/// memory that `MEMORY_N` children each waiting on a timer add, per child.
fn print_memory(runtimes: &[&dyn Runtime]) {
    let exe = std::env::current_exe().unwrap();
    let mut bytes = Vec::new();
    for rt in runtimes {
        let runs: Vec<f64> = (0..MEMORY_RUNS)
            .filter_map(|_| {
                let out = std::process::Command::new(&exe)
                    .args(["--memory-once", rt.name()])
                    .output()
                    .ok()?;
                String::from_utf8_lossy(&out.stdout).trim().parse().ok()
            })
            .collect();
        bytes.push((rt.name(), (!runs.is_empty()).then(|| median(runs))));
    }
    println!();
    println!(
        "Memory per pending child ({MEMORY_N} children, each waiting on a timer an hour away; \
         resident set growth in a fresh process, median of {MEMORY_RUNS}):"
    );
    println!();
    println!("| runtime | bytes per child | / tokio |");
    println!("| --- | ---: | ---: |");
    let tokio = bytes
        .iter()
        .find(|(name, _)| *name == "tokio")
        .and_then(|(_, b)| *b);
    for (name, b) in &bytes {
        match (b, tokio) {
            (Some(b), Some(t)) => println!("| {name} | {b:.0} | {:.2} |", b / t),
            (Some(b), None) => println!("| {name} | {b:.0} | |"),
            (None, _) => println!("| {name} | (failed) | |"),
        }
    }
}

/// One run of the memory case in this process: prints bytes per child.
fn memory_once(name: &str) {
    let per_child = runtime(name).memory();
    println!("{per_child}");
}

/// The rows of the wake-up case, the first without idle load.
const WAKEUP_ROWS: [&str; 4] = [
    "wake-up, no idle",
    "wake-up, 10k idle timers",
    "wake-up, 10k idle fds",
    "wake-up, 10k idle tasks",
];

/// Every case, in table order.
fn cases() -> Vec<Case> {
    let wall = |name, unit| RowSpec { name, unit };
    let wakeup = |i: usize| vec![wall(WAKEUP_ROWS[i], Unit::NanosPer(WAKEUP_WAKEUPS))];
    vec![
        Case {
            rows: vec![wall("spawn + join 100k no-op children", Unit::Millis)],
            run: |rt| rt.spawn(),
        },
        Case {
            rows: vec![wall("100k timers, deadlines in 0-50 ms", Unit::Millis)],
            run: |rt| rt.timers(),
        },
        Case {
            rows: vec![wall("100k timeouts armed and cancelled", Unit::Millis)],
            run: |rt| rt.timeouts(),
        },
        Case {
            rows: vec![wall("1M ping-pong wake-ups, async-channel", Unit::Millis)],
            run: |rt| rt.pingpong(),
        },
        Case {
            rows: vec![wall("1M ping-pong wake-ups, one-shots (*)", Unit::Millis)],
            run: |rt| rt.oneshot(),
        },
        Case {
            rows: vec![wall("1M yields of one task (self-wake)", Unit::Millis)],
            run: |rt| rt.yields(),
        },
        Case {
            rows: wakeup(0),
            run: |rt| rt.wakeup(Idle::None),
        },
        Case {
            rows: wakeup(1),
            run: |rt| rt.wakeup(Idle::Timers),
        },
        Case {
            rows: wakeup(2),
            run: |rt| rt.wakeup(Idle::Fds),
        },
        Case {
            rows: wakeup(3),
            run: |rt| rt.wakeup(Idle::Tasks),
        },
        Case {
            rows: echo(0),
            run: |rt| rt.echo(ECHO_CONNS[0], ECHO_MESSAGES),
        },
        Case {
            rows: echo(1),
            run: |rt| rt.echo(ECHO_CONNS[1], ECHO_MESSAGES),
        },
        Case {
            rows: echo(2),
            run: |rt| rt.echo(ECHO_CONNS[2], ECHO_MESSAGES),
        },
    ]
}

/// The rows of the echo case, by connection count.
const ECHO_ROWS: [&str; 3] = [
    "TCP echo, 1 connection, per message",
    "TCP echo, 100 connections, per message",
    "TCP echo, 1,000 connections, per message",
];

/// The row of the echo case with `ECHO_CONNS[i]` connections.
fn echo(i: usize) -> Vec<RowSpec> {
    vec![RowSpec {
        name: ECHO_ROWS[i],
        unit: Unit::NanosPer(ECHO_MESSAGES),
    }]
}

/// Runs the echo case once on one runtime (the child side of
/// `count_syscalls`).
fn echo_once(name: &str, conns: usize, messages: usize) {
    runtime(name).echo(conns, messages);
}

/// System calls of one run, by name, from `strace -c`'s summary.
fn strace_counts(runtime: &str, conns: usize, messages: usize) -> Option<Vec<(String, u64)>> {
    let out = std::env::temp_dir().join(format!("xiio-bench-strace-{}", std::process::id()));
    let exe = std::env::current_exe().ok()?;
    let status = std::process::Command::new("strace")
        .args(["-f", "-c", "-o"])
        .arg(&out)
        .arg(exe)
        .args([
            "--echo-once",
            runtime,
            &conns.to_string(),
            &messages.to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .status()
        .ok()?;
    let summary = std::fs::read_to_string(&out).ok()?;
    let _ = std::fs::remove_file(&out);
    if !status.success() {
        return None;
    }
    // Lines: % time, seconds, usecs/call, calls, [errors,] syscall.
    let counts = summary
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (calls, name) = match f.len() {
                5 => (f[3], f[4]),
                6 => (f[3], f[5]),
                _ => return None,
            };
            (name != "total").then_some(())?;
            Some((name.to_string(), calls.parse().ok()?))
        })
        .collect();
    Some(counts)
}

/// The echo case's syscall counts: for each runtime and connection count, the
/// system calls per echoed message in the steady state (a run of
/// `2 * STRACE_MESSAGES` minus a run of `STRACE_MESSAGES`, so connecting
/// and registering do not count), both ends (client and server) together.
fn count_syscalls(runtimes: &[&dyn Runtime]) {
    if std::process::Command::new("strace")
        .arg("-V")
        .output()
        .is_err()
    {
        println!("\n(strace not found: no syscall counts)");
        return;
    }
    println!();
    println!(
        "Syscalls per echoed message (client and server together; ideal: 2 reads + 2 writes):"
    );
    println!();
    println!(
        "| runtime | connections | reads | writes | epoll_wait | epoll_ctl | fcntl | other | total |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for rt in runtimes {
        let runtime = rt.name();
        for conns in ECHO_CONNS {
            let (Some(one), Some(two)) = (
                strace_counts(runtime, conns, STRACE_MESSAGES),
                strace_counts(runtime, conns, 2 * STRACE_MESSAGES),
            ) else {
                println!("| {runtime} | {conns} | (strace failed) | | | | | | |");
                continue;
            };
            let calls = |counts: &[(String, u64)], pick: &dyn Fn(&str) -> bool| -> i64 {
                counts
                    .iter()
                    .filter(|(n, _)| pick(n))
                    .map(|(_, c)| *c as i64)
                    .sum()
            };
            let per = |pick: &dyn Fn(&str) -> bool| {
                (calls(&two, pick) - calls(&one, pick)) as f64 / STRACE_MESSAGES as f64
            };
            let is_read = |n: &str| matches!(n, "read" | "readv" | "recvfrom" | "recvmsg");
            let is_write = |n: &str| matches!(n, "write" | "writev" | "sendto" | "sendmsg");
            let is_wait = |n: &str| n.starts_with("epoll_wait") || n.starts_with("epoll_pwait");
            let is_ctl = |n: &str| n == "epoll_ctl";
            let is_fcntl = |n: &str| n == "fcntl";
            let other =
                |n: &str| !(is_read(n) || is_write(n) || is_wait(n) || is_ctl(n) || is_fcntl(n));
            println!(
                "| {runtime} | {conns} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
                per(&is_read),
                per(&is_write),
                per(&is_wait),
                per(&is_ctl),
                per(&is_fcntl),
                per(&other),
                per(&|_| true),
            );
        }
    }
}

/// The wake-up case needs 10,000 idle fds (5,000 socket pairs) next to the
/// runtimes' own; raise the soft limit to the hard one in case it is lower.
fn raise_fd_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        // `None` is unlimited; the soft limit never exceeds the hard one.
        limit.current = limit.maximum;
        let _ = setrlimit(Resource::Nofile, limit);
    }
}
