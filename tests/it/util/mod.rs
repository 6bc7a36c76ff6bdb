//! Helpers shared by the integration tests of the runtime core.
//!
//! Each test file includes this module with `mod util;`, and not every file
//! uses every helper.
#![allow(dead_code)]

pub mod net;

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::future::{Future, poll_fn};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use rustix::fs::{OFlags, fcntl_getfl};

/// A small fixed-seed PRNG (xorshift64*), so that random tests are the
/// same on every run.
pub struct Rng(pub u64);

impl Rng {
    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// Runs `f` on a thread of its own and fails (instead of hanging the
/// suite) if it has not finished after 10 s of real time.
pub fn within_10_s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("still running after 10 s: hung")
}

/// `n` milliseconds.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Runs `fut` on a fresh runtime with the mock clock.
pub fn run_mock<F: Future>(fut: F) -> F::Output {
    xiio::Builder::new().mock_clock(true).run(fut)
}

/// Virtual (or real) time passed since `start`, on the runtime's clock.
pub fn since(start: std::time::Instant) -> Duration {
    xiio::time::now() - start
}

/// Gives other tasks one turn (the runtime's own, re-exported for the tests).
#[allow(unused_imports)] // not every test file yields
pub use xiio::task::yield_now;

/// A future that is always ready to run again and never finishes: it wakes
/// itself and returns `Pending` on every poll, counting its polls.
pub struct Spin<'a>(pub &'a Cell<u64>);

impl Future for Spin<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.set(self.0.get() + 1);
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Polls `fut` once, in whatever runtime awaits this.
pub async fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    poll_fn(|cx| Poll::Ready(Pin::new(&mut *fut).poll(cx))).await
}

/// Runs `fut`, counting every poll of it in `polls`.
pub async fn counted<F: Future>(polls: &Cell<u64>, fut: F) -> F::Output {
    let mut fut = pin!(fut);
    poll_fn(|cx| {
        polls.set(polls.get() + 1);
        fut.as_mut().poll(cx)
    })
    .await
}

/// An ordered record of events, shareable with `'static` cleanups.
#[derive(Clone, Default, Debug)]
pub struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    pub fn new() -> Log {
        Log::default()
    }

    pub fn push(&self, event: impl Into<String>) {
        self.0.borrow_mut().push(event.into());
    }

    /// The events so far.
    pub fn events(&self) -> Vec<String> {
        self.0.borrow().clone()
    }

    pub fn contains(&self, event: &str) -> bool {
        self.0.borrow().iter().any(|e| e == event)
    }

    /// A guard that logs `event` when dropped.
    pub fn on_drop(&self, event: impl Into<String>) -> LogOnDrop {
        LogOnDrop {
            log: self.clone(),
            event: event.into(),
        }
    }
}

/// Logs an event when dropped (see [`Log::on_drop`]).
pub struct LogOnDrop {
    log: Log,
    event: String,
}

impl Drop for LogOnDrop {
    fn drop(&mut self) {
        self.log.push(std::mem::take(&mut self.event));
    }
}

/// A flag set when its guard is dropped.
#[derive(Clone, Default, Debug)]
pub struct DropFlag(Rc<Cell<bool>>);

impl DropFlag {
    pub fn new() -> DropFlag {
        DropFlag::default()
    }

    /// The guard; dropping it sets the flag.
    pub fn guard(&self) -> DropGuard {
        DropGuard(self.0.clone())
    }

    pub fn is_set(&self) -> bool {
        self.0.get()
    }
}

/// Sets its [`DropFlag`] when dropped.
pub struct DropGuard(Rc<Cell<bool>>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

/// The message of a panic payload (`&str` or `String`).
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_string()
    }
}

/// True if the fd is in non-blocking mode.
pub fn is_nonblocking(fd: impl AsFd) -> bool {
    fcntl_getfl(fd)
        .expect("fcntl(F_GETFL)")
        .contains(OFlags::NONBLOCK)
}

/// A fresh path in the temp dir, unique to this process and call; removed
/// when the guard is dropped.
pub struct TempPath(pub PathBuf);

impl TempPath {
    pub fn new(name: &str) -> TempPath {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        TempPath(std::env::temp_dir().join(format!("xiio-test-{}-{n}-{name}", std::process::id())))
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Panics with `msg` (a `&'static str` payload). Unlike `panic!`, a call
/// has type `()`, so an async block ending in it is a `()` task.
pub fn panic_with(msg: &'static str) {
    std::panic::panic_any(msg)
}

/// Runs the `#[ignore]`d test `name` of this test binary in a child process
/// with the environment variable `env` set, kills it if it still runs after
/// `deadline`, and checks that it finished by itself, passed, and printed
/// `expected`. For tests that would hang or spin the whole suite if the bug
/// they guard against came back, or that need a process of their own.
pub fn assert_ignored_child_passes(env: &str, name: &str, deadline: Duration, expected: &str) {
    use std::process::{Command, Stdio};
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            name,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(env, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let finished = loop {
        if child.try_wait().unwrap().is_some() {
            break true;
        }
        if start.elapsed() > deadline {
            child.kill().unwrap();
            break false;
        }
        std::thread::sleep(ms(20));
    };
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        finished,
        "the child {name} still ran after {deadline:?}, and was killed \
         (see the test's comment)\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        output.status.success() && stdout.contains(expected),
        "the child {name}: status {:?}, {expected:?} expected\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
}
