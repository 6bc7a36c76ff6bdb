//! xiio against tokio (current-thread + `LocalSet`) and smol (`LocalExecutor`
//! + async-io), side by side in one process.
//!
//! ```text
//! cargo bench --bench runtimes                 # every case, 11 repetitions
//! cargo bench --bench runtimes -- timers       # only cases whose name contains "timers"
//! XIIO_BENCH_REPS=3 cargo bench --bench runtimes
//! XIIO_BENCH_ONLY=xiio cargo bench --bench runtimes -- spawn   # one runtime, for a profiler
//! XIIO_BENCH_TIMER_WINDOW_MS=20000 ...   # case 2 under a profiler, so timers are really set
//! ```
//!
//! Method: each case is one function per runtime that builds its runtime,
//! then measures the work from inside it (runtime construction and the
//! setup of idle background load are not timed). One warm-up run per
//! runtime and case is thrown away. Then every repetition runs every case on
//! every runtime, interleaved (case 1: xiio, tokio, smol; case 2: xiio, ...),
//! so that noise from other processes on the machine hits all runtimes and
//! all cases alike; the median of the repetitions is reported. See
//! BENCHMARKS.md for the results and what each number includes.

use std::cell::{Cell, RefCell};
use std::future::{Future, pending, poll_fn};
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use async_channel::{Receiver, Sender, bounded};

/// Children spawned and joined in case 1.
const SPAWN_N: usize = 100_000;
/// Concurrent timers in case 2.
const TIMERS_N: usize = 100_000;
/// Timeouts armed and cancelled in case 2b.
const TIMEOUTS_N: usize = 100_000;
/// Deadlines of case 2 are spread uniformly over this window.
const TIMER_WINDOW: Duration = Duration::from_millis(50);
/// Wake-ups in case 3 (two per round trip).
const PINGPONG_WAKEUPS: usize = 1_000_000;
/// Yields in case 3c: a task that wakes itself and returns `Pending`.
const YIELDS: usize = 1_000_000;
/// Wake-ups measured per run of case 4.
const WAKEUP_WAKEUPS: usize = 200_000;
/// Idle timers, fds or tasks in case 4.
const IDLE_N: usize = 10_000;
/// Messages echoed in each run of case 5, spread over the connections.
const ECHO_MESSAGES: usize = 20_000;
/// The size of one echoed message.
const ECHO_SIZE: usize = 64;
/// The connection counts of case 5.
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

/// The runtimes compared, in table order.
const RUNTIMES: [&str; 3] = ["xiio", "tokio", "smol"];

/// What one run measured: its wall-clock time.
type Sample = Duration;

/// Starts measuring when created; `stop` gives the sample.
struct Meter {
    /// When it started; also the base of case 2's deadlines.
    wall: Instant,
}

impl Meter {
    fn start() -> Meter {
        Meter {
            wall: Instant::now(),
        }
    }

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
}

/// One line of the table.
struct RowSpec {
    name: &'static str,
    unit: Unit,
}

/// The same work on each runtime, reported as one or more rows.
struct Case {
    rows: Vec<RowSpec>,
    /// Runs the case once on xiio, tokio, smol.
    run: [fn() -> Sample; 3],
}

/// Medians of one row, in seconds (or seconds per operation).
struct Row {
    name: &'static str,
    unit: Unit,
    medians: [f64; 3],
}

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
    let selected = |i: usize| only.is_none_or(|name| name == RUNTIMES[i]);
    // Warm-up: page in code and let allocators grow their pools.
    for case in cases {
        for (i, run) in case.run.iter().enumerate() {
            if selected(i) {
                run();
            }
        }
    }
    let mut samples: Vec<[Vec<Sample>; 3]> = cases.iter().map(|_| Default::default()).collect();
    for rep in 0..reps {
        eprint!("\rrepetition {}/{reps}", rep + 1);
        for (case, samples) in cases.iter().zip(&mut samples) {
            for (i, run) in case.run.iter().enumerate() {
                if selected(i) {
                    samples[i].push(run());
                }
            }
        }
    }
    eprintln!();
    let mut rows = Vec::new();
    for (case, samples) in cases.iter().zip(&samples) {
        for spec in &case.rows {
            let per = match spec.unit {
                Unit::Millis => 1.0,
                Unit::NanosPer(n) => n as f64,
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

fn format_value(unit: Unit, secs: f64) -> String {
    match unit {
        Unit::Millis => format!("{:.2} ms", secs * 1e3),
        Unit::NanosPer(_) => format!("{:.1} ns", secs * 1e9),
    }
}

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

/// Case 4's flatness: per runtime, the wake-up cost with 10k idle things
/// over the cost with none.
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
    for (i, runtime) in RUNTIMES.iter().enumerate() {
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

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, runtime, conns, messages] = &args[..] {
        if flag == "--echo-once" {
            raise_fd_limit();
            echo_once(runtime, conns.parse().unwrap(), messages.parse().unwrap());
            return;
        }
    }
    if let [flag, runtime] = &args[..] {
        if flag == "--memory-once" {
            memory_once(runtime);
            return;
        }
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
    let rows = measure(&cases, reps, only.as_deref());
    print_table(&rows);
    print_flatness(&rows);
    let syscalls = std::env::var("XIIO_BENCH_SYSCALLS").map_or(true, |v| v != "0");
    if syscalls && rows.iter().any(|row| ECHO_ROWS.contains(&row.name)) {
        let runtimes: Vec<usize> = (0..RUNTIMES.len())
            .filter(|&i| only.as_deref().is_none_or(|name| name == RUNTIMES[i]))
            .collect();
        count_syscalls(&runtimes);
    }
    if filters.is_empty() || filters.iter().any(|f| MEMORY_ROW.contains(f.as_str())) {
        let runtimes: Vec<usize> = (0..RUNTIMES.len())
            .filter(|&i| only.as_deref().is_none_or(|name| name == RUNTIMES[i]))
            .collect();
        print_memory(&runtimes);
    }
}

/// The memory case's row.
const MEMORY_ROW: &str = "memory per pending child";

/// The memory case: for each runtime, in fresh processes, the resident
/// memory that `MEMORY_N` children each waiting on a timer add, per child.
fn print_memory(runtimes: &[usize]) {
    let exe = std::env::current_exe().unwrap();
    let mut bytes = Vec::new();
    for &i in runtimes {
        let runs: Vec<f64> = (0..MEMORY_RUNS)
            .filter_map(|_| {
                let out = std::process::Command::new(&exe)
                    .args(["--memory-once", RUNTIMES[i]])
                    .output()
                    .ok()?;
                String::from_utf8_lossy(&out.stdout).trim().parse().ok()
            })
            .collect();
        bytes.push((RUNTIMES[i], (!runs.is_empty()).then(|| median(runs))));
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
fn memory_once(runtime: &str) {
    let per_child = match runtime {
        "xiio" => xiio_rt::memory(),
        "tokio" => tokio_rt::memory(),
        "smol" => smol_rt::memory(),
        other => panic!("unknown runtime {other}"),
    };
    println!("{per_child}");
}

/// This process's resident set, in bytes (`VmRSS` of /proc/self/status).
fn resident_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS in /proc/self/status");
    let kib: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// The child of the memory case on every runtime: counts itself as
/// started, then waits on a timer an hour away.
async fn pending_child<S: Future>(started: Rc<Cell<usize>>, sleep: S) {
    started.set(started.get() + 1);
    sleep.await;
}

/// Waits (yielding) until `n` children have started; returns the resident
/// memory growth since `before`, per child.
async fn memory_when_started(started: &Cell<usize>, n: usize, before: usize) -> f64 {
    while started.get() < n {
        yield_now().await;
    }
    (resident_bytes().saturating_sub(before)) as f64 / n as f64
}

/// The rows of case 4, the first without idle load.
const WAKEUP_ROWS: [&str; 4] = [
    "wake-up, no idle",
    "wake-up, 10k idle timers",
    "wake-up, 10k idle fds",
    "wake-up, 10k idle tasks",
];

fn cases() -> Vec<Case> {
    let wall = |name, unit| RowSpec { name, unit };
    let wakeup = |i: usize| vec![wall(WAKEUP_ROWS[i], Unit::NanosPer(WAKEUP_WAKEUPS))];
    vec![
        Case {
            rows: vec![wall("spawn + join 100k no-op children", Unit::Millis)],
            run: [xiio_rt::spawn, tokio_rt::spawn, smol_rt::spawn],
        },
        Case {
            rows: vec![wall("100k timers, deadlines in 0-50 ms", Unit::Millis)],
            run: [xiio_rt::timers, tokio_rt::timers, smol_rt::timers],
        },
        Case {
            rows: vec![wall("100k timeouts armed and cancelled", Unit::Millis)],
            run: [xiio_rt::timeouts, tokio_rt::timeouts, smol_rt::timeouts],
        },
        Case {
            rows: vec![wall("1M ping-pong wake-ups, async-channel", Unit::Millis)],
            run: [xiio_rt::pingpong, tokio_rt::pingpong, smol_rt::pingpong],
        },
        Case {
            rows: vec![wall("1M ping-pong wake-ups, one-shots (*)", Unit::Millis)],
            run: [xiio_rt::oneshot, tokio_rt::oneshot, smol_rt::oneshot],
        },
        Case {
            rows: vec![wall("1M yields of one task (self-wake)", Unit::Millis)],
            run: [xiio_rt::yields, tokio_rt::yields, smol_rt::yields],
        },
        Case {
            rows: wakeup(0),
            run: [
                || xiio_rt::wakeup(Idle::None),
                || tokio_rt::wakeup(Idle::None),
                || smol_rt::wakeup(Idle::None),
            ],
        },
        Case {
            rows: wakeup(1),
            run: [
                || xiio_rt::wakeup(Idle::Timers),
                || tokio_rt::wakeup(Idle::Timers),
                || smol_rt::wakeup(Idle::Timers),
            ],
        },
        Case {
            rows: wakeup(2),
            run: [
                || xiio_rt::wakeup(Idle::Fds),
                || tokio_rt::wakeup(Idle::Fds),
                || smol_rt::wakeup(Idle::Fds),
            ],
        },
        Case {
            rows: wakeup(3),
            run: [
                || xiio_rt::wakeup(Idle::Tasks),
                || tokio_rt::wakeup(Idle::Tasks),
                || smol_rt::wakeup(Idle::Tasks),
            ],
        },
        Case {
            rows: echo(0),
            run: [
                || xiio_rt::echo(ECHO_CONNS[0], ECHO_MESSAGES),
                || tokio_rt::echo(ECHO_CONNS[0], ECHO_MESSAGES),
                || smol_rt::echo(ECHO_CONNS[0], ECHO_MESSAGES),
            ],
        },
        Case {
            rows: echo(1),
            run: [
                || xiio_rt::echo(ECHO_CONNS[1], ECHO_MESSAGES),
                || tokio_rt::echo(ECHO_CONNS[1], ECHO_MESSAGES),
                || smol_rt::echo(ECHO_CONNS[1], ECHO_MESSAGES),
            ],
        },
        Case {
            rows: echo(2),
            run: [
                || xiio_rt::echo(ECHO_CONNS[2], ECHO_MESSAGES),
                || tokio_rt::echo(ECHO_CONNS[2], ECHO_MESSAGES),
                || smol_rt::echo(ECHO_CONNS[2], ECHO_MESSAGES),
            ],
        },
    ]
}

/// The rows of case 5, by connection count.
const ECHO_ROWS: [&str; 3] = [
    "TCP echo, 1 connection, per message",
    "TCP echo, 100 connections, per message",
    "TCP echo, 1,000 connections, per message",
];

fn echo(i: usize) -> Vec<RowSpec> {
    vec![RowSpec {
        name: ECHO_ROWS[i],
        unit: Unit::NanosPer(ECHO_MESSAGES),
    }]
}

/// Runs case 5 once on one runtime (the child side of `count_syscalls`).
fn echo_once(runtime: &str, conns: usize, messages: usize) {
    match runtime {
        "xiio" => xiio_rt::echo(conns, messages),
        "tokio" => tokio_rt::echo(conns, messages),
        "smol" => smol_rt::echo(conns, messages),
        other => panic!("unknown runtime {other}"),
    };
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

/// Case 5's syscall counts: for each runtime and connection count, the
/// system calls per echoed message in the steady state (a run of
/// `2 * STRACE_MESSAGES` minus a run of `STRACE_MESSAGES`, so connecting
/// and registering do not count), both ends (client and server) together.
fn count_syscalls(runtimes: &[usize]) {
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
    for &i in runtimes {
        let runtime = RUNTIMES[i];
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

/// Case 4 needs 10,000 idle fds (5,000 socket pairs) next to the runtimes'
/// own; raise the soft limit to the hard one in case it is lower.
fn raise_fd_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        // `None` is unlimited; the soft limit never exceeds the hard one.
        limit.current = limit.maximum;
        let _ = setrlimit(Resource::Nofile, limit);
    }
}

// ---------------------------------------------------------------------------
// Runtime-agnostic pieces
// ---------------------------------------------------------------------------

/// xorshift64*: a fixed-seed PRNG, so every runtime gets the same deadlines.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        Rng(0x9E37_79B9_7F4A_7C15)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[0, window)`, at nanosecond resolution.
    fn below(&mut self, window: Duration) -> Duration {
        Duration::from_nanos(self.next() % window.as_nanos() as u64)
    }
}

/// The timer offsets of case 2 (the same list on every runtime).
fn timer_offsets() -> Vec<Duration> {
    let mut rng = Rng::new();
    // A profiler slows the run down so much that every deadline would have
    // passed before its timer is set: it can widen the window.
    let window = std::env::var("XIIO_BENCH_TIMER_WINDOW_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(TIMER_WINDOW, Duration::from_millis);
    (0..TIMERS_N).map(|_| rng.below(window)).collect()
}

/// Offsets of the idle timers of case 4: an hour and a bit from now, all
/// distinct.
fn idle_timer_offsets() -> Vec<Duration> {
    let mut rng = Rng::new();
    (0..IDLE_N)
        .map(|_| Duration::from_secs(3600) + rng.below(Duration::from_secs(60)))
        .collect()
}

/// `IDLE_N` fds that never become ready: both ends of `IDLE_N / 2` UNIX
/// socket pairs, each awaited for readability. (Pipes would need two fds per
/// idle one, since a pipe's empty write end is writable.)
fn idle_sockets() -> Vec<UnixStream> {
    (0..IDLE_N / 2)
        .flat_map(|_| {
            let (a, b) = UnixStream::pair().expect("socketpair");
            [a, b]
        })
        .collect()
}

/// An hour: the timeout of case 2b, which never fires.
const HOUR: Duration = Duration::from_secs(3600);

/// The future of case 2b: yields once (so the timer is really armed), then
/// gives `i` back.
async fn ready_after_yield(i: usize) -> usize {
    yield_now().await;
    i
}

/// The message of case 5.
const MESSAGE: [u8; ECHO_SIZE] = [b'x'; ECHO_SIZE];

/// What case 4 keeps idle next to the wake-ups it measures.
#[derive(Clone, Copy)]
enum Idle {
    None,
    /// `IDLE_N` pending timers, an hour away, all held by one task.
    Timers,
    /// `IDLE_N` fds awaited for readability, all held by one task.
    Fds,
    /// `IDLE_N` tasks, each awaiting a future that never completes.
    Tasks,
}

/// Yields once to the scheduler; xiio's own works on every runtime (it
/// wakes itself).
use xiio::yield_now;

/// Polls every future once (so each registers its timer or fd with the
/// runtime), counts itself as started, then never finishes: the futures stay
/// registered and idle until the task is cancelled.
async fn hold_idle<F: Future>(futs: Vec<F>, started: Rc<Cell<usize>>) {
    let mut futs: Vec<Pin<Box<F>>> = futs.into_iter().map(Box::pin).collect();
    poll_fn(|cx| {
        for fut in &mut futs {
            // Results are irrelevant: nothing here ever becomes ready.
            let _ = fut.as_mut().poll(cx);
        }
        Poll::Ready(())
    })
    .await;
    started.set(started.get() + 1);
    pending::<()>().await;
}

/// Yields `n` times: the purest measure of a scheduler's wake-poll cycle.
async fn yielder(n: usize) {
    for _ in 0..n {
        yield_now().await;
    }
}

/// An idle task: counts itself as started, then waits forever.
async fn idle_task(started: Rc<Cell<usize>>) {
    started.set(started.get() + 1);
    pending::<()>().await;
}

/// Waits until `n` idle tasks or holders have started.
async fn wait_started(started: &Cell<usize>, n: usize) {
    while started.get() < n {
        yield_now().await;
    }
}

/// One side of the ping-pong: sends `rounds` messages, waiting for each
/// echo. Two wake-ups per round (the ponger's, then ours).
async fn pinger(tx: Sender<u32>, rx: Receiver<u32>, rounds: usize) {
    for i in 0..rounds as u32 {
        tx.send(i).await.unwrap();
        let echo = rx.recv().await.unwrap();
        debug_assert_eq!(echo, i);
    }
}

/// The other side: echoes until the pinger hangs up.
async fn ponger(rx: Receiver<u32>, tx: Sender<u32>) {
    while let Ok(v) = rx.recv().await {
        tx.send(v).await.unwrap();
    }
}

/// Two channels for a ping-pong: (ping tx, ping rx, pong tx, pong rx).
fn channels() -> (Sender<u32>, Receiver<u32>, Sender<u32>, Receiver<u32>) {
    let (ping_tx, ping_rx) = bounded(1);
    let (pong_tx, pong_rx) = bounded(1);
    (ping_tx, ping_rx, pong_tx, pong_rx)
}

/// A one-shot primitive for case 3b: each message travels in a fresh
/// one-shot; the receiver installs the next one for the sender before it
/// replies, so the sender always finds it.
trait OneShot: 'static {
    type Tx;
    type Rx: Future<Output = u32>;
    fn pair() -> (Self::Tx, Self::Rx);
    fn send(tx: Self::Tx, v: u32);
}

/// The sender's slot of one direction.
type Slot<O> = Rc<RefCell<Option<<O as OneShot>::Tx>>>;

/// Sends `rounds` messages through `to_peer` and awaits each echo.
async fn oneshot_pinger<O: OneShot>(
    to_peer: Slot<O>,
    mut from_peer: O::Rx,
    back: Slot<O>,
    rounds: usize,
) {
    for i in 0..rounds as u32 {
        O::send(to_peer.borrow_mut().take().expect("slot filled"), i);
        let (tx, rx) = O::pair();
        let echo = std::mem::replace(&mut from_peer, rx).await;
        debug_assert_eq!(echo, i);
        *back.borrow_mut() = Some(tx);
    }
}

/// Echoes `rounds` messages.
async fn oneshot_ponger<O: OneShot>(
    mut from_peer: O::Rx,
    back: Slot<O>,
    to_peer: Slot<O>,
    rounds: usize,
) {
    for _ in 0..rounds {
        let (tx, rx) = O::pair();
        let v = std::mem::replace(&mut from_peer, rx).await;
        *back.borrow_mut() = Some(tx);
        O::send(to_peer.borrow_mut().take().expect("slot filled"), v);
    }
}

/// The futures of a one-shot ping-pong of `rounds` round trips.
#[allow(clippy::type_complexity)]
fn oneshot_pair<O: OneShot>(
    rounds: usize,
) -> (
    impl Future<Output = ()> + 'static,
    impl Future<Output = ()> + 'static,
) {
    let (ping_tx, ping_rx) = O::pair();
    let (pong_tx, pong_rx) = O::pair();
    let ping_slot: Slot<O> = Rc::new(RefCell::new(Some(ping_tx)));
    let pong_slot: Slot<O> = Rc::new(RefCell::new(Some(pong_tx)));
    (
        oneshot_pinger::<O>(ping_slot.clone(), pong_rx, pong_slot.clone(), rounds),
        oneshot_ponger::<O>(ping_rx, ping_slot, pong_slot, rounds),
    )
}

// ---------------------------------------------------------------------------
// xiio
// ---------------------------------------------------------------------------

mod xiio_rt {
    use super::*;

    pub fn spawn() -> Sample {
        xiio::run(async {
            let meter = Meter::start();
            xiio::task_group!(|tg| {
                for _ in 0..SPAWN_N {
                    tg.add_task(async {});
                }
                Ok::<_, ()>(())
            })
            .unwrap();
            meter.stop()
        })
    }

    pub fn timers() -> Sample {
        let offsets = timer_offsets();
        xiio::run(async {
            let meter = Meter::start();
            xiio::task_group!(|tg| {
                for &offset in &offsets {
                    tg.add_task(xiio::sleep_until(meter.wall + offset));
                }
                Ok::<_, ()>(())
            })
            .unwrap();
            meter.stop()
        })
    }

    /// Case 2b: 100k children, each a future that finishes at once inside
    /// a 1 h timeout (the timer is armed and cancelled).
    pub fn timeouts() -> Sample {
        xiio::run(async {
            let meter = Meter::start();
            xiio::task_group!(|tg| {
                for i in 0..TIMEOUTS_N {
                    tg.add_task(async move {
                        let value = xiio::timeout(HOUR, ready_after_yield(i)).await;
                        std::hint::black_box(value.ok());
                    });
                }
                Ok::<_, ()>(())
            })
            .unwrap();
            meter.stop()
        })
    }

    pub fn memory() -> f64 {
        xiio::run(async {
            let started = Rc::new(Cell::new(0));
            let before = resident_bytes();
            xiio::task_group!(|tg| {
                for _ in 0..MEMORY_N {
                    tg.add_task(pending_child(started.clone(), xiio::sleep(HOUR)));
                }
                let per_child = memory_when_started(&started, MEMORY_N, before).await;
                tg.cancel();
                Ok::<_, ()>(per_child)
            })
            .unwrap()
        })
    }

    pub fn pingpong() -> Sample {
        xiio::run(async {
            let (ping_tx, ping_rx, pong_tx, pong_rx) = channels();
            let meter = Meter::start();
            xiio::task_group!(|tg| {
                tg.add_task(ponger(ping_rx, pong_tx));
                tg.add_task(pinger(ping_tx, pong_rx, PINGPONG_WAKEUPS / 2));
                Ok::<_, ()>(())
            })
            .unwrap();
            meter.stop()
        })
    }

    pub fn yields() -> Sample {
        xiio::run(async {
            let meter = Meter::start();
            xiio::task_group!(|tg| {
                tg.add_task(yielder(YIELDS));
                Ok::<_, ()>(())
            })
            .unwrap();
            meter.stop()
        })
    }

    struct PromiseShot;

    impl OneShot for PromiseShot {
        type Tx = xiio::Promise<u32>;
        type Rx = Pin<Box<dyn Future<Output = u32>>>;
        fn pair() -> (Self::Tx, Self::Rx) {
            let promise = xiio::Promise::new();
            let rx = promise.clone();
            (promise, Box::pin(async move { rx.wait().await }))
        }
        fn send(tx: Self::Tx, v: u32) {
            tx.set(v).unwrap();
        }
    }

    pub fn oneshot() -> Sample {
        xiio::run(async {
            let (a, b) = oneshot_pair::<PromiseShot>(PINGPONG_WAKEUPS / 2);
            let meter = Meter::start();
            xiio::task_group!(|tg| {
                tg.add_task(b);
                tg.add_task(a);
                Ok::<_, ()>(())
            })
            .unwrap();
            meter.stop()
        })
    }

    /// Case 5: `conns` connections over loopback, each echoing its share
    /// of `messages`; client and server ends in this one runtime. Both ends
    /// read into a buffer larger than a message, as a peer that does not
    /// know the message size would, on every runtime alike.
    pub fn echo(conns: usize, messages: usize) -> Sample {
        use xiio::net::{TcpListener, TcpStream};
        xiio::run(async {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let mut clients = Vec::new();
            let mut servers = Vec::new();
            for _ in 0..conns {
                clients.push(TcpStream::connect(addr).await.unwrap());
                servers.push(listener.accept().await.unwrap().0);
            }
            for stream in clients.iter().chain(&servers) {
                stream.set_nodelay(true).unwrap();
            }
            let rounds = messages / conns;
            let meter = Meter::start();
            xiio::task_group!(|tg| {
                for server in &servers {
                    tg.add_task(async move {
                        let mut buf = [0; 4096];
                        loop {
                            let n = server.read(&mut buf).await?;
                            if n == 0 {
                                return Ok(());
                            }
                            server.write_all(&buf[..n]).await?;
                        }
                    });
                }
                for client in &clients {
                    tg.add_task(async move {
                        let mut buf = [0; 4096];
                        for _ in 0..rounds {
                            client.write_all(&MESSAGE).await?;
                            let mut got = 0;
                            while got < ECHO_SIZE {
                                got += client.read(&mut buf[got..]).await?;
                            }
                        }
                        client.shutdown(std::net::Shutdown::Write)
                    });
                }
                Ok::<_, std::io::Error>(())
            })
            .unwrap();
            meter.stop()
        })
    }

    pub fn wakeup(idle: Idle) -> Sample {
        xiio::run(async {
            let started = Rc::new(Cell::new(0));
            let sockets = idle_sockets_if(idle);
            xiio::task_group!(|tg| {
                let mut idlers = Vec::new();
                let n = match idle {
                    Idle::None => 0,
                    Idle::Timers => {
                        let now = xiio::now();
                        let sleeps = idle_timer_offsets()
                            .into_iter()
                            .map(|d| xiio::sleep_until(now + d))
                            .collect();
                        idlers.push(tg.add_task(hold_idle(sleeps, started.clone())));
                        1
                    }
                    Idle::Fds => {
                        let waits = sockets
                            .iter()
                            .map(|s| {
                                std::future::IntoFuture::into_future(
                                    xiio::Condition::new().readable(s),
                                )
                            })
                            .collect();
                        idlers.push(tg.add_task(hold_idle(waits, started.clone())));
                        1
                    }
                    Idle::Tasks => {
                        for _ in 0..IDLE_N {
                            idlers.push(tg.add_task(idle_task(started.clone())));
                        }
                        IDLE_N
                    }
                };
                wait_started(&started, n).await;
                let (ping_tx, ping_rx, pong_tx, pong_rx) = channels();
                let meter = Meter::start();
                xiio::task_group!(|inner| {
                    inner.add_task(ponger(ping_rx, pong_tx));
                    inner.add_task(pinger(ping_tx, pong_rx, WAKEUP_WAKEUPS / 2));
                    Ok::<_, ()>(())
                })?;
                let elapsed = meter.stop();
                for idler in &idlers {
                    idler.cancel();
                }
                Ok::<_, ()>(elapsed)
            })
            .unwrap()
        })
    }
}

/// The sockets case 4 needs for `idle` (none for the other kinds).
fn idle_sockets_if(idle: Idle) -> Vec<UnixStream> {
    match idle {
        Idle::Fds => idle_sockets(),
        _ => Vec::new(),
    }
}

// ---------------------------------------------------------------------------
// tokio: current-thread runtime, LocalSet, spawn_local
// ---------------------------------------------------------------------------

mod tokio_rt {
    use super::*;
    use tokio::task::{JoinSet, LocalSet};

    fn block_on<F: Future>(fut: F) -> F::Output {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        LocalSet::new().block_on(&rt, fut)
    }

    pub fn spawn() -> Sample {
        block_on(async {
            let meter = Meter::start();
            let mut set = JoinSet::new();
            for _ in 0..SPAWN_N {
                set.spawn_local(async {});
            }
            while let Some(done) = set.join_next().await {
                done.unwrap();
            }
            meter.stop()
        })
    }

    pub fn timers() -> Sample {
        let offsets = timer_offsets();
        block_on(async {
            let meter = Meter::start();
            let base = tokio::time::Instant::from_std(meter.wall);
            let mut set = JoinSet::new();
            for &offset in &offsets {
                set.spawn_local(tokio::time::sleep_until(base + offset));
            }
            while let Some(done) = set.join_next().await {
                done.unwrap();
            }
            meter.stop()
        })
    }

    pub fn timeouts() -> Sample {
        block_on(async {
            let meter = Meter::start();
            let mut set = JoinSet::new();
            for i in 0..TIMEOUTS_N {
                set.spawn_local(async move {
                    let value = tokio::time::timeout(HOUR, ready_after_yield(i)).await;
                    std::hint::black_box(value.ok());
                });
            }
            while let Some(done) = set.join_next().await {
                done.unwrap();
            }
            meter.stop()
        })
    }

    pub fn memory() -> f64 {
        block_on(async {
            let started = Rc::new(Cell::new(0));
            let before = resident_bytes();
            let mut set = JoinSet::new();
            for _ in 0..MEMORY_N {
                set.spawn_local(pending_child(started.clone(), tokio::time::sleep(HOUR)));
            }
            let per_child = memory_when_started(&started, MEMORY_N, before).await;
            set.shutdown().await;
            per_child
        })
    }

    pub fn pingpong() -> Sample {
        block_on(async {
            let (ping_tx, ping_rx, pong_tx, pong_rx) = channels();
            let meter = Meter::start();
            let mut set = JoinSet::new();
            set.spawn_local(ponger(ping_rx, pong_tx));
            set.spawn_local(pinger(ping_tx, pong_rx, PINGPONG_WAKEUPS / 2));
            while let Some(done) = set.join_next().await {
                done.unwrap();
            }
            meter.stop()
        })
    }

    pub fn yields() -> Sample {
        block_on(async {
            let meter = Meter::start();
            let mut set = JoinSet::new();
            set.spawn_local(yielder(YIELDS));
            while let Some(done) = set.join_next().await {
                done.unwrap();
            }
            meter.stop()
        })
    }

    struct TokioShot;

    impl OneShot for TokioShot {
        type Tx = tokio::sync::oneshot::Sender<u32>;
        type Rx = Pin<Box<dyn Future<Output = u32>>>;
        fn pair() -> (Self::Tx, Self::Rx) {
            let (tx, rx) = tokio::sync::oneshot::channel();
            (tx, Box::pin(async move { rx.await.unwrap() }))
        }
        fn send(tx: Self::Tx, v: u32) {
            tx.send(v).unwrap();
        }
    }

    pub fn oneshot() -> Sample {
        block_on(async {
            let (a, b) = oneshot_pair::<TokioShot>(PINGPONG_WAKEUPS / 2);
            let meter = Meter::start();
            let mut set = JoinSet::new();
            set.spawn_local(b);
            set.spawn_local(a);
            while let Some(done) = set.join_next().await {
                done.unwrap();
            }
            meter.stop()
        })
    }

    /// Case 5 on tokio: one task per connection end, as tokio users write it.
    pub fn echo(conns: usize, messages: usize) -> Sample {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        use tokio::net::{TcpListener, TcpStream};
        block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let mut clients = Vec::new();
            let mut servers = Vec::new();
            for _ in 0..conns {
                clients.push(TcpStream::connect(addr).await.unwrap());
                servers.push(listener.accept().await.unwrap().0);
            }
            for stream in clients.iter().chain(&servers) {
                stream.set_nodelay(true).unwrap();
            }
            let rounds = messages / conns;
            let meter = Meter::start();
            let mut set = JoinSet::new();
            for mut server in servers {
                set.spawn_local(async move {
                    let mut buf = [0; 4096];
                    loop {
                        let n = server.read(&mut buf).await.unwrap();
                        if n == 0 {
                            return;
                        }
                        server.write_all(&buf[..n]).await.unwrap();
                    }
                });
            }
            for mut client in clients {
                set.spawn_local(async move {
                    let mut buf = [0; 4096];
                    for _ in 0..rounds {
                        client.write_all(&MESSAGE).await.unwrap();
                        let mut got = 0;
                        while got < ECHO_SIZE {
                            got += client.read(&mut buf[got..]).await.unwrap();
                        }
                    }
                    client.shutdown().await.unwrap();
                });
            }
            while let Some(done) = set.join_next().await {
                done.unwrap();
            }
            meter.stop()
        })
    }

    pub fn wakeup(idle: Idle) -> Sample {
        let sockets = idle_sockets_if(idle);
        block_on(async move {
            let started = Rc::new(Cell::new(0));
            let mut idlers = JoinSet::new();
            let n = match idle {
                Idle::None => 0,
                Idle::Timers => {
                    let now = tokio::time::Instant::now();
                    let sleeps = idle_timer_offsets()
                        .into_iter()
                        .map(|d| tokio::time::sleep_until(now + d))
                        .collect();
                    idlers.spawn_local(hold_idle(sleeps, started.clone()));
                    1
                }
                Idle::Fds => {
                    let started = started.clone();
                    idlers.spawn_local(async move {
                        let fds: Vec<_> = sockets
                            .into_iter()
                            .map(|s| {
                                s.set_nonblocking(true).unwrap();
                                tokio::net::UnixStream::from_std(s).unwrap()
                            })
                            .collect();
                        let waits = fds.iter().map(|fd| fd.readable()).collect();
                        hold_idle(waits, started).await;
                    });
                    1
                }
                Idle::Tasks => {
                    for _ in 0..IDLE_N {
                        idlers.spawn_local(idle_task(started.clone()));
                    }
                    IDLE_N
                }
            };
            wait_started(&started, n).await;
            let (ping_tx, ping_rx, pong_tx, pong_rx) = channels();
            let meter = Meter::start();
            let mut set = JoinSet::new();
            set.spawn_local(ponger(ping_rx, pong_tx));
            set.spawn_local(pinger(ping_tx, pong_rx, WAKEUP_WAKEUPS / 2));
            while let Some(done) = set.join_next().await {
                done.unwrap();
            }
            let elapsed = meter.stop();
            idlers.abort_all();
            while idlers.join_next().await.is_some() {}
            elapsed
        })
    }
}

// ---------------------------------------------------------------------------
// smol: LocalExecutor on async-io
// ---------------------------------------------------------------------------

mod smol_rt {
    use super::*;
    use smol::{Async, LocalExecutor, Timer};

    pub fn spawn() -> Sample {
        let ex = LocalExecutor::new();
        smol::block_on(ex.run(async {
            let meter = Meter::start();
            let tasks: Vec<_> = (0..SPAWN_N).map(|_| ex.spawn(async {})).collect();
            for task in tasks {
                task.await;
            }
            meter.stop()
        }))
    }

    pub fn timers() -> Sample {
        let offsets = timer_offsets();
        let ex = LocalExecutor::new();
        smol::block_on(ex.run(async {
            let meter = Meter::start();
            let tasks: Vec<_> = offsets
                .iter()
                .map(|&offset| ex.spawn(Timer::at(meter.wall + offset)))
                .collect();
            for task in tasks {
                task.await;
            }
            meter.stop()
        }))
    }

    /// smol has no timeout function: the usual `or` of the future and a
    /// timer (futures-lite), which arms and drops the timer the same way.
    pub fn timeouts() -> Sample {
        let ex = LocalExecutor::new();
        smol::block_on(ex.run(async {
            let meter = Meter::start();
            let tasks: Vec<_> = (0..TIMEOUTS_N)
                .map(|i| {
                    ex.spawn(async move {
                        let value =
                            smol::future::or(async { Some(ready_after_yield(i).await) }, async {
                                Timer::after(HOUR).await;
                                None
                            })
                            .await;
                        std::hint::black_box(value);
                    })
                })
                .collect();
            for task in tasks {
                task.await;
            }
            meter.stop()
        }))
    }

    pub fn memory() -> f64 {
        let ex = LocalExecutor::new();
        smol::block_on(ex.run(async {
            let started = Rc::new(Cell::new(0));
            let before = resident_bytes();
            let tasks: Vec<_> = (0..MEMORY_N)
                .map(|_| {
                    ex.spawn(pending_child(started.clone(), async {
                        Timer::after(HOUR).await;
                    }))
                })
                .collect();
            let per_child = memory_when_started(&started, MEMORY_N, before).await;
            drop(tasks);
            per_child
        }))
    }

    pub fn pingpong() -> Sample {
        let ex = LocalExecutor::new();
        smol::block_on(ex.run(async {
            let (ping_tx, ping_rx, pong_tx, pong_rx) = channels();
            let meter = Meter::start();
            let a = ex.spawn(ponger(ping_rx, pong_tx));
            let b = ex.spawn(pinger(ping_tx, pong_rx, PINGPONG_WAKEUPS / 2));
            a.await;
            b.await;
            meter.stop()
        }))
    }

    pub fn yields() -> Sample {
        let ex = LocalExecutor::new();
        smol::block_on(ex.run(async {
            let meter = Meter::start();
            ex.spawn(yielder(YIELDS)).await;
            meter.stop()
        }))
    }

    struct FuturesShot;

    impl OneShot for FuturesShot {
        type Tx = futures::channel::oneshot::Sender<u32>;
        type Rx = Pin<Box<dyn Future<Output = u32>>>;
        fn pair() -> (Self::Tx, Self::Rx) {
            let (tx, rx) = futures::channel::oneshot::channel();
            (tx, Box::pin(async move { rx.await.unwrap() }))
        }
        fn send(tx: Self::Tx, v: u32) {
            tx.send(v).unwrap();
        }
    }

    pub fn oneshot() -> Sample {
        let ex = LocalExecutor::new();
        smol::block_on(ex.run(async {
            let (a, b) = oneshot_pair::<FuturesShot>(PINGPONG_WAKEUPS / 2);
            let meter = Meter::start();
            let b = ex.spawn(b);
            let a = ex.spawn(a);
            a.await;
            b.await;
            meter.stop()
        }))
    }

    /// Case 5 on smol: async-net streams, one task per connection end.
    pub fn echo(conns: usize, messages: usize) -> Sample {
        use smol::io::{AsyncReadExt, AsyncWriteExt};
        use smol::net::{TcpListener, TcpStream};
        let ex = LocalExecutor::new();
        smol::block_on(ex.run(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let mut clients = Vec::new();
            let mut servers = Vec::new();
            for _ in 0..conns {
                clients.push(TcpStream::connect(addr).await.unwrap());
                servers.push(listener.accept().await.unwrap().0);
            }
            for stream in clients.iter().chain(&servers) {
                stream.set_nodelay(true).unwrap();
            }
            let rounds = messages / conns;
            let meter = Meter::start();
            let mut tasks = Vec::new();
            for mut server in servers {
                tasks.push(ex.spawn(async move {
                    let mut buf = [0; 4096];
                    loop {
                        let n = server.read(&mut buf).await.unwrap();
                        if n == 0 {
                            return;
                        }
                        server.write_all(&buf[..n]).await.unwrap();
                    }
                }));
            }
            for mut client in clients {
                tasks.push(ex.spawn(async move {
                    let mut buf = [0; 4096];
                    for _ in 0..rounds {
                        client.write_all(&MESSAGE).await.unwrap();
                        let mut got = 0;
                        while got < ECHO_SIZE {
                            got += client.read(&mut buf[got..]).await.unwrap();
                        }
                    }
                    client.shutdown(std::net::Shutdown::Write).unwrap();
                }));
            }
            for task in tasks {
                task.await;
            }
            meter.stop()
        }))
    }

    pub fn wakeup(idle: Idle) -> Sample {
        let sockets = idle_sockets_if(idle);
        let ex = LocalExecutor::new();
        smol::block_on(ex.run(async {
            let started = Rc::new(Cell::new(0));
            let mut idlers = Vec::new();
            let n = match idle {
                Idle::None => 0,
                Idle::Timers => {
                    let now = Instant::now();
                    let sleeps = idle_timer_offsets()
                        .into_iter()
                        .map(|d| Timer::at(now + d))
                        .collect();
                    idlers.push(ex.spawn(hold_idle(sleeps, started.clone())));
                    1
                }
                Idle::Fds => {
                    let started = started.clone();
                    idlers.push(ex.spawn(async move {
                        let fds: Vec<_> = sockets
                            .into_iter()
                            .map(|s| Async::new(s).unwrap())
                            .collect();
                        let waits = fds.iter().map(|fd| fd.readable()).collect();
                        hold_idle(waits, started).await;
                    }));
                    1
                }
                Idle::Tasks => {
                    for _ in 0..IDLE_N {
                        idlers.push(ex.spawn(idle_task(started.clone())));
                    }
                    IDLE_N
                }
            };
            wait_started(&started, n).await;
            let (ping_tx, ping_rx, pong_tx, pong_rx) = channels();
            let meter = Meter::start();
            let a = ex.spawn(ponger(ping_rx, pong_tx));
            let b = ex.spawn(pinger(ping_tx, pong_rx, WAKEUP_WAKEUPS / 2));
            a.await;
            b.await;
            let elapsed = meter.stop();
            drop(idlers); // cancels them
            elapsed
        }))
    }
}
