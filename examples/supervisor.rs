//! A process supervisor: runs each program named on the command line,
//! streams its output line by line with the program's name in front, and
//! restarts it whenever it exits, after a delay that doubles while it
//! keeps crashing. Ctrl-C (SIGINT) or SIGTERM stops every program; the
//! supervisor exits once all of them, and what they started, are gone.
//!
//! ```text
//! cargo run --example supervisor -- -- clock='while date; do sleep 1; done' \
//!     flaky='echo up; sleep 2; echo "oops" >&2; exit 1'
//! cargo run --example supervisor -- --self-test
//! ```
//!
//! Each program runs as `sh -c COMMAND` in a process group of its own, so
//! stopping it stops what it started too. Its stdout lines are shown as
//! `[name] line`, its stderr lines as `[name!] line`. Restart delays start
//! at `--backoff-ms` (100) and double up to `--max-backoff-ms` (5000).
//! Besides xiio and futures it uses rustix (feature `process`) for one
//! call, `killpg`, which std does not have.

use std::cell::Cell;
use std::convert::Infallible;
use std::io::{self, PipeReader};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::channel::mpsc::UnboundedReceiver;
use futures::io::{AsyncBufReadExt, BufReader};
use rustix::process::{Pid, Signal, kill_process_group};
use xiio::io::Async;
use xiio::signal::{self, SIGINT, SIGTERM};
use xiio::sync::Promise;
use xiio::task::catch_panic;

/// A program to keep running.
struct Program {
    /// Its name, in front of each of its lines.
    name: String,
    /// What `sh -c` runs.
    command: String,
}

/// The restart delays.
#[derive(Clone, Copy)]
struct Config {
    /// The delay after a first exit, and after a run that counts as stable.
    backoff: Duration,
    /// The delay doubles while the program keeps crashing, up to this.
    max_backoff: Duration,
}

/// A run counts as stable, and the next delay goes back to `backoff`, when
/// it lasted at least 10 times the delay it would now wait, and at least
/// `STABLE_MIN`. Going back is then cheap: a program that crashes after
/// every such run still waits at most a tenth as long as it runs, and one
/// that crashed a few times long ago is restarted quickly again.
const STABLE_FACTOR: u32 = 10;
/// Keeps a tiny `--backoff-ms` from calling a 10 ms run stable.
const STABLE_MIN: Duration = Duration::from_secs(1);

#[xiio::main]
async fn main() -> io::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("--self-test") {
        return self_test().await;
    }
    let (programs, config) = parse(std::env::args().skip(1))?;
    // Subscribed before any program starts, so no signal is missed. Kept
    // until the end: a second Ctrl-C does not cut the stop short (it takes
    // at most xiio's 1 s grace before SIGKILL), which could leave
    // programs that ignore SIGTERM running.
    let mut signals = signal::subscribe_signals(&[SIGINT, SIGTERM])?;
    let (pid, n) = (std::process::id(), programs.len());
    println!("supervisor (pid {pid}): {n} program(s)");
    let stop = async {
        let received = signals.recv().await?;
        println!("received {}", signal::name(received).unwrap_or("a signal"));
        Ok(())
    };
    supervise(&programs, config, stop, &|line| println!("{line}")).await
}

/// The programs and the config from the command line (without the
/// program's name).
fn parse(mut args: impl Iterator<Item = String>) -> io::Result<(Vec<Program>, Config)> {
    let ms = Duration::from_millis;
    let mut config = Config {
        backoff: ms(100),
        max_backoff: ms(5000),
    };
    let mut programs: Vec<Program> = Vec::new();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| usage(&format!("no value for {arg}")))
        };
        match arg.as_str() {
            "--backoff-ms" => config.backoff = ms(number(value()?)?),
            "--max-backoff-ms" => config.max_backoff = ms(number(value()?)?),
            "--" => break,
            _ => return Err(usage(&format!("unknown argument {arg}"))),
        }
    }
    for spec in args {
        let (name, command) = spec
            .split_once('=')
            .filter(|(name, command)| !name.is_empty() && !command.is_empty())
            .ok_or_else(|| usage(&format!("not NAME=COMMAND: {spec}")))?;
        if programs.iter().any(|p| p.name == name) {
            return Err(usage(&format!("two programs named {name}")));
        }
        programs.push(Program {
            name: name.into(),
            command: command.into(),
        });
    }
    if programs.is_empty() || config.backoff.is_zero() || config.max_backoff < config.backoff {
        return Err(usage("no program, or backoffs not 0 < backoff <= max"));
    }
    Ok((programs, config))
}

/// The error for a bad command line: `problem`, and the usage.
fn usage(problem: &str) -> io::Error {
    let usage = "supervisor [--backoff-ms N] [--max-backoff-ms N] -- NAME=COMMAND ...";
    let message = format!("{problem}; usage: {usage}, or supervisor --self-test");
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// A number from the command line.
fn number(value: String) -> io::Result<u64> {
    value
        .parse()
        .map_err(|_| usage(&format!("not a number: {value}")))
}

/// Keeps every program running until `stop` completes, then stops them
/// all, and returns once every process they started is gone. Each output
/// line, and each start, exit and restart, goes to `log`.
async fn supervise(
    programs: &[Program],
    config: Config,
    stop: impl Future<Output = io::Result<()>>,
    log: &dyn Fn(&str),
) -> io::Result<()> {
    let supervised = Cell::new(programs.len());
    xiio::task_group!(|tg| -> io::Result<()> {
        for program in programs {
            let supervised = &supervised;
            tg.add_task(async move {
                // A bug (a panic) in one program's loop ends that loop
                // only: let through, it would cancel the whole group and
                // stop every other program.
                let Err(panicked) = catch_panic(keep_running(program, config, log)).await;
                supervised.set(supervised.get() - 1);
                let name = &program.name;
                log(&format!(
                    "[{name}] supervisor bug, not restarted: {panicked}"
                ));
            });
        }
        stop.await?;
        log(&format!("stopping: {} program(s)", supervised.get()));
        // No list of processes to kill, no kill loop: every `Child` lives
        // in a loop that is a child of this group. Cancelling the group
        // drops each loop at its current await, which drops its `Child`;
        // xiio sends a dropped child's process group SIGTERM (SIGKILL
        // after 1 s) and hands its reaping to this group as a cleanup,
        // which the group awaits before it returns. Structured
        // concurrency: when the group is over, so are its processes.
        tg.cancel();
        Ok(())
    })?;
    log("all children stopped");
    Ok(())
}

/// Runs `program` again and again, with a growing delay while it crashes.
/// Returns only by panicking, or when cancelled.
async fn keep_running(program: &Program, config: Config, log: &dyn Fn(&str)) -> Infallible {
    let name = &program.name;
    let mut delay = config.backoff;
    loop {
        let started = xiio::time::now();
        match run_once(program, log).await {
            Ok(status) => log(&format!("[{name}] {}", describe(status))),
            // Not even started (or its output unreadable): as bad as a
            // crash, and retried the same way.
            Err(e) => log(&format!("[{name}] failed: {e}")),
        }
        if xiio::time::now() - started >= (delay * STABLE_FACTOR).max(STABLE_MIN) {
            delay = config.backoff;
        }
        log(&format!("[{name}] restarting in {} ms", delay.as_millis()));
        xiio::sleep(delay).await;
        delay = (delay * 2).min(config.max_backoff);
    }
}

/// Starts `program`, logs its output as it comes, and returns its exit
/// status once it has exited and its output has ended.
async fn run_once(program: &Program, log: &dyn Fn(&str)) -> io::Result<ExitStatus> {
    let mut child = xiio::process::spawn(
        Command::new("sh")
            .args(["-c", &program.command])
            // A group of its own: signals to the group reach what the
            // program started too. It also keeps the programs out of the
            // terminal's foreground group, so Ctrl-C reaches the
            // supervisor alone, which stops them in order.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )?;
    let name = &program.name;
    let pid = child.id().unwrap_or_default(); // `None` only once reaped
    log(&format!("[{name}] started (pid {pid})"));
    let group = i32::try_from(pid).ok().and_then(Pid::from_raw);
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let (out_prefix, err_prefix) = (format!("[{name}]"), format!("[{name}!]"));
    let exited = async {
        let status = child.wait().await?;
        // What the program left behind in its group (`cmd &`, never
        // waited for) goes with it: otherwise each restart would add to
        // it, and it would hold the output pipes open. SIGKILL, as xiio
        // does to what is left of a group it stops. The group's id stays
        // taken while a member lives, so it cannot name another group.
        if let Some(group) = group {
            let _ = kill_process_group(group, Signal::KILL);
        }
        Ok(status)
    };
    // All three at once: output is shown as it comes, and a program
    // writing much to one pipe never blocks while the other is read. An
    // error fails the lot; the `Child` is then dropped, so terminated.
    let ((), (), status) = xiio::try_join!(
        forward(stdout, &out_prefix, log),
        forward(stderr, &err_prefix, log),
        exited,
    )?;
    Ok(status)
}

/// Logs each line of `pipe` as soon as it arrives, after `prefix`, until
/// end-of-file (the program, and whatever it passed the pipe to, exited).
async fn forward(
    pipe: Option<Async<PipeReader>>,
    prefix: &str,
    log: &dyn Fn(&str),
) -> io::Result<()> {
    let Some(pipe) = pipe else { return Ok(()) };
    let mut reader = BufReader::new(pipe);
    let mut line = Vec::new();
    // Bytes rather than `lines()`: one invalid UTF-8 byte is an error for
    // `lines()`, and a program's output is not ours to reject.
    while reader.read_until(b'\n', &mut line).await? > 0 {
        let text = String::from_utf8_lossy(&line);
        log(&format!("{prefix} {}", text.trim_end_matches(['\n', '\r'])));
        line.clear();
    }
    Ok(())
}

/// How a program ended, in words.
fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(n)) => format!("killed by {}", signal::name(n).unwrap_or("a signal")),
        _ => status.to_string(),
    }
}

// ---- The self-test ----

/// How long the self-test waits for any one thing before it fails.
const PATIENCE: Duration = Duration::from_secs(10);

/// Fails the self-test, saying what failed, unless `$ok`.
macro_rules! ensure {
    ($ok:expr, $($what:tt)+) => {
        if !$ok {
            let what = format!($($what)+);
            return Err(io::Error::other(format!("self-test failed: {what}")));
        }
    };
}

/// Supervises four programs in this process, through the same `parse`
/// and `supervise` as the real mode, with short backoffs, and checks what
/// it logs: the self-test's lines say what each check showed.
async fn self_test() -> io::Result<()> {
    let dir = std::env::temp_dir().join(format!("xiio-supervisor-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = self_test_in(&dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn self_test_in(dir: &Path) -> io::Result<()> {
    let (go, grandchild) = (dir.join("go"), dir.join("grandchild"));
    let (go, grandchild) = (go.display(), grandchild.display());
    // `ticker` waits, between its two lines, for a file that the self-test
    // creates on seeing the first: it can only finish if its lines are
    // shown as they come. `long` has a grandchild, `sleep 30`.
    let programs = [
        format!(
            "ticker=echo tick 1; until [ -e '{go}' ]; do sleep 0.01; done; echo tick 2; rm '{go}'"
        ),
        "crasher=exit 3".into(),
        "both=echo to stdout; echo to stderr >&2; exec sleep 30".into(),
        format!("long=sleep 30 & echo $! > '{grandchild}'; echo sleeping; wait"),
    ];
    let options = "--backoff-ms 20 --max-backoff-ms 80 --"
        .split(' ')
        .map(String::from);
    let (programs, config) = parse(options.chain(programs))?;

    let (tx, rx) = futures::channel::mpsc::unbounded();
    let log = move |line: &str| {
        println!("{line}");
        let _ = tx.unbounded_send((Instant::now(), line.to_string()));
    };
    let mut lines = Lines { rx, seen: vec![] };
    let stop = Promise::new();
    let stopped = async {
        stop.wait().await;
        Ok(())
    };
    let ((), (grandchild, stopped_at)) = xiio::try_join!(
        supervise(&programs, config, stopped, &log),
        checks(&mut lines, &stop, dir),
    )?;
    let took = stopped_at.elapsed();
    while let Ok(line) = lines.rx.try_recv() {
        lines.seen.push(line);
    }
    ensure!(
        lines.matching("stopping: 4 program(s)").count() == 1,
        "no stop"
    );
    ensure!(took < Duration::from_millis(500), "the stop took {took:?}");
    println!("self-test: stop: 4 programs stopped and reaped in {took:?} (SIGKILL comes at 1 s)");
    // SIGKILLed with its group before the group ended, but dying takes the
    // kernel a moment more.
    let start = Instant::now();
    while running(grandchild) {
        ensure!(start.elapsed() < PATIENCE, "{grandchild} runs on");
        xiio::sleep(Duration::from_millis(5)).await;
    }
    println!("self-test: stop: the grandchild `sleep 30` (pid {grandchild}) is gone too");
    println!("self-test: passed");
    Ok(())
}

/// Checks streaming, restarts and prefixes, then starts the stop: the pid
/// of `long`'s grandchild, and when the stop began.
async fn checks(lines: &mut Lines, stop: &Promise<()>, dir: &Path) -> io::Result<(u32, Instant)> {
    lines.wait_for("[ticker] tick 1", 1).await?;
    std::fs::write(dir.join("go"), "")?;
    lines.wait_for("[ticker] tick 2", 1).await?;
    lines.wait_for("[ticker] exited with status 0", 1).await?;
    println!("self-test: streaming: `tick 1` was shown while its program waited for that");

    // Each restart's delay as logged, and as waited: from the "restarting"
    // line to the next start.
    lines.wait_for("[crasher] started", 5).await?;
    let starts = lines.matching("[crasher] started").skip(1);
    let restarts = lines
        .matching("[crasher] restarting in ")
        .map(|(at, line)| {
            let ms: u64 = line
                .split(' ')
                .nth(3)
                .and_then(|ms| ms.parse().ok())
                .unwrap_or(0);
            (*at, ms)
        });
    let mut delays = Vec::new();
    for ((started, _), (since, ms)) in starts.zip(restarts) {
        let waited = started.duration_since(since);
        ensure!(waited.as_millis() >= ms.into(), "waited {waited:?}");
        delays.push(ms);
    }
    ensure!(
        delays.get(..4) == Some(&[20, 40, 80, 80]),
        "delays {delays:?}"
    );
    lines.wait_for("[crasher] exited with status 3", 4).await?;
    println!("self-test: crash: `exit 3` started 5 times, restarted after 20, 40, 80, 80 ms");

    lines.wait_for("[both] to stdout", 1).await?;
    lines.wait_for("[both!] to stderr", 1).await?;
    println!("self-test: prefixes: `[both] to stdout` and `[both!] to stderr`");

    lines.wait_for("[long] sleeping", 1).await?;
    let pid = std::fs::read_to_string(dir.join("grandchild"))?;
    let pid = pid.trim().parse().map_err(io::Error::other)?;
    ensure!(running(pid), "the grandchild is not running");
    let _ = stop.set(());
    Ok((pid, Instant::now()))
}

/// The lines the supervisor logged, with when.
struct Lines {
    rx: UnboundedReceiver<(Instant, String)>,
    seen: Vec<(Instant, String)>,
}

impl Lines {
    /// Waits until `n` lines have started with `start`.
    async fn wait_for(&mut self, start: &str, n: usize) -> io::Result<()> {
        let deadline = xiio::time::now() + PATIENCE;
        while self.matching(start).count() < n {
            match xiio::time::timeout_at(deadline, self.rx.next()).await {
                Ok(Some(line)) => self.seen.push(line),
                _ => ensure!(false, "no {n} line(s) `{start}` in {PATIENCE:?}"),
            }
        }
        Ok(())
    }

    /// The lines so far that start with `start`.
    fn matching(&self, start: &str) -> impl Iterator<Item = &(Instant, String)> {
        self.seen
            .iter()
            .filter(move |(_, line)| line.starts_with(start))
    }
}

/// Whether process `pid` runs (a zombie has exited: it awaits its reaping).
fn running(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(") ")
        .is_some_and(|(_, state)| !state.starts_with(['Z', 'X']))
}
