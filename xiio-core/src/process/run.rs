//! `run_process`: run a child process to its end without blocking, on a
//! pidfd (Linux).
//!
//! The child's exit is awaited as readiness of a pidfd, so no `SIGCHLD`
//! handler and no helper thread are involved. Piped stdout and stderr are
//! read concurrently with each other while the child runs. A cancelled
//! `run_process` terminates the child (SIGTERM, then SIGKILL after a grace
//! period) in a cleanup future handed to the innermost task group
//! (`task::adopt`), which reaps it: no zombie is left behind.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Child, Command, ExitStatus, Output};
use std::rc::Rc;
use std::time::Duration;

use rustix::event::{PollFd, PollFlags};
use rustix::process::{
    Pid, PidfdFlags, Signal, getpgid, kill_process_group, pidfd_open, pidfd_send_signal,
};
use rustix::time::{
    Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, timerfd_create,
    timerfd_settime,
};

use crate::io::{Async, Condition, Interest, ready};
use crate::reactor::OutsideWork;
use crate::task::context;

/// How long a cancelled child gets between SIGTERM and SIGKILL.
///
/// Long enough for a well-behaved program to flush and exit, short enough
/// that a task group waiting for the cleanup is not held up noticeably.
/// Measured in real time (a timerfd), also on a mock clock.
const KILL_GRACE: Duration = Duration::from_secs(1);

/// How much of stdout or stderr one `read(2)` takes at most (the default
/// capacity of a Linux pipe).
const CHUNK: usize = 64 * 1024;

/// Runs `cmd` to its end and returns its exit status and captured output,
/// without blocking the thread: the Rust form of the Python original's
/// `run_process(cmd)`.
///
/// The command runs as configured: stdout and stderr set to
/// [`Stdio::piped()`](std::process::Stdio::piped) are captured into
/// [`Output`] while the child runs (both at once, so a child that writes
/// megabytes to either never blocks); those left as they are (inherited by
/// default, as with [`Command::spawn`]) go where the parent's go, and their
/// part of `Output` is empty. A piped stdin is closed at once, so the child
/// reads end-of-file. Like [`Command::output`], this returns once the child
/// exited and both pipes reached end-of-file (a grandchild that keeps them
/// open delays it).
///
/// A non-zero exit status is not an error here: check
/// [`Output::status`], or pass the output to [`check_status`](super::check_status).
///
/// **Cancellation.** If this future is dropped while the child runs (a
/// [`timeout`](crate::timeout), a failing sibling in a
/// [`TaskGroup`](crate::TaskGroup)), the child gets SIGTERM at once, and
/// SIGKILL if it has not exited 1 second later; then it is reaped. That
/// happens in a cleanup that the enclosing task group (or `xiio::run`)
/// awaits before it returns, like a [`try_finally`](crate::task::try_finally)
/// cleanup, so the group ends only once the child is gone. Only the child
/// is signalled, not processes it started itself, unless it leads a
/// process group of its own (`CommandExt::process_group(0)`): then the
/// whole group gets the SIGTERM, and after the child exited (or the grace
/// period passed) the group's remaining processes get SIGKILL, so
/// `sh -c 'sleep 5; ...'` leaves no orphaned `sleep`. (Outside any task
/// group, the child is killed with SIGKILL and reaped at once.)
///
/// While a child runs, a mock clock does not jump (see
/// [`Builder::mock_clock`](crate::Builder::mock_clock)): test timeouts of
/// processes on the real clock.
///
/// Linux only: the child is watched through a pidfd (Linux 5.3 or later).
///
/// # Examples
///
/// ```
/// use std::process::{Command, Stdio};
///
/// xiio::run(async {
///     let output = xiio::process::run_process(
///         Command::new("sh")
///             .args(["-c", "echo Hello World"])
///             .stdout(Stdio::piped()),
///     )
///     .await?;
///     assert!(output.status.success());
///     assert_eq!(output.stdout, b"Hello World\n");
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<_, std::io::Error>(())
/// ```
///
/// # Errors
///
/// If the command cannot be started (as [`Command::spawn`]), if the pidfd
/// cannot be opened, or if reading a pipe or reaping the child fails. In
/// every case the child has been terminated and reaped (or handed to the
/// cleanup that does so).
///
/// # Panics
///
/// When polled outside `xiio::run`.
pub async fn run_process(cmd: &mut Command) -> io::Result<Output> {
    // Before spawning: outside xiio::run this panics with a clear message
    // instead of leaving a child behind.
    let reactor = context::reactor();
    let mut child = cmd.spawn()?;
    drop(child.stdin.take());
    let stdout = child.stdout.take().map(OwnedFd::from);
    let stderr = child.stderr.take().map(OwnedFd::from);
    let pidfd = match pidfd_open(Pid::from_child(&child), PidfdFlags::empty()) {
        Ok(pidfd) => Rc::new(pidfd),
        Err(e) => {
            kill_and_reap(&mut child);
            return Err(e.into());
        }
    };
    // In flight until it exits (its pidfd turns readable).
    let exited = pidfd.clone();
    let work = OutsideWork::new(&reactor, Rc::new(move || !readable_now(&exited)));
    // A child that leads a process group of its own (Command's
    // `process_group(0)`) is cancelled with its whole group.
    let pid = Pid::from_child(&child);
    let group = getpgid(Some(pid)).ok().filter(|&group| group == pid);
    // From here on, dropping `running` terminates and reaps the child.
    let mut running = Running {
        child: Some((child, pidfd)),
        group,
        work: Some(work),
    };
    let captured = crate::task::gather([read_to_end(stdout), read_to_end(stderr)]).await?;
    let [stdout, stderr] = <[Vec<u8>; 2]>::try_from(captured).expect("two pipes read");
    let status = running.wait().await?;
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

/// Reads a pipe to its end; nothing for a pipe that is not there.
async fn read_to_end(pipe: Option<OwnedFd>) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    let Some(pipe) = pipe else {
        return Ok(buf);
    };
    // Our end of the pipe is ours alone (close-on-exec), so it can be
    // made non-blocking once, and registered once.
    let pipe = Async::new(File::from(pipe))?;
    loop {
        let len = buf.len();
        buf.resize(len + CHUNK, 0);
        let read = pipe.read_with(|mut pipe| pipe.read(&mut buf[len..])).await;
        match read {
            Ok(0) => {
                buf.truncate(len);
                return Ok(buf);
            }
            Ok(n) => buf.truncate(len + n),
            Err(e) => return Err(e),
        }
    }
}

/// A child that has not been reaped yet; dropping it terminates and reaps
/// it (see `Drop`).
struct Running {
    /// The child and its pidfd (readable once the child exited); `None`
    /// once reaped.
    child: Option<(Child, Rc<OwnedFd>)>,
    /// The child's process group, if it leads one of its own: signalled
    /// as a whole when cancelled.
    group: Option<Pid>,
    /// Keeps a mock clock from jumping while the child lives.
    work: Option<OutsideWork>,
}

impl Running {
    /// Waits until the child exited and reaps it.
    async fn wait(&mut self) -> io::Result<ExitStatus> {
        loop {
            let (child, pidfd) = self.child.as_mut().expect("not reaped yet");
            if let Some(status) = child.try_wait()? {
                self.child = None;
                return Ok(status);
            }
            ready(pidfd.as_fd(), Interest::READABLE).await?;
        }
    }
}

impl Drop for Running {
    /// Cancelled while the child runs: SIGTERM now, and a cleanup for the
    /// enclosing group that waits for the exit (SIGKILL after the grace
    /// period) and reaps.
    fn drop(&mut self) {
        let Some((child, pidfd)) = self.child.take() else {
            return;
        };
        // Through the pidfd, a signal cannot hit another process that
        // reused the pid. Fails only if the child is gone already (ESRCH);
        // the cleanup then reaps it at once.
        let _ = pidfd_send_signal(&pidfd, Signal::TERM);
        if let Some(group) = self.group {
            let _ = kill_process_group(group, Signal::TERM);
        }
        let work = self.work.take();
        let mut reaper = Reaper(Some(child), self.group);
        crate::task::adopt(Box::pin(async move {
            let _work = work;
            reaper.terminate(pidfd).await;
        }));
    }
}

/// Owns a child (and the process group it leads, if any) until it is
/// reaped; if dropped before (its cleanup was never run, or was torn down
/// with the runtime), kills and reaps it on the spot.
struct Reaper(Option<Child>, Option<Pid>);

impl Reaper {
    /// Waits up to the grace period for the child to exit after SIGTERM,
    /// sends SIGKILL if it has not, then reaps it.
    async fn terminate(&mut self, pidfd: Rc<OwnedFd>) {
        let exited = match grace_timer() {
            Ok(timer) => Condition::new()
                .readable(&*pidfd)
                .readable(&timer)
                .await
                .map(|fired| fired.is_readable(&*pidfd))
                .unwrap_or(false),
            Err(_) => false,
        };
        if !exited {
            let _ = pidfd_send_signal(&pidfd, Signal::KILL);
            let _ = ready(pidfd.as_fd(), Interest::READABLE).await;
        }
        if let Some(group) = self.1 {
            // What is left of the group goes too. Before the reap: the
            // unreaped leader holds the group's id, so it names no other
            // group yet.
            let _ = kill_process_group(group, Signal::KILL);
        }
        if let Some(mut child) = self.0.take() {
            // The child has exited: this does not block.
            let _ = child.wait();
        }
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            if let Some(group) = self.1 {
                let _ = kill_process_group(group, Signal::KILL);
            }
            kill_and_reap(&mut child);
        }
    }
}

/// True if `fd` is readable right now (a pidfd: the process exited).
fn readable_now(fd: &OwnedFd) -> bool {
    let mut fds = [PollFd::new(fd, PollFlags::IN)];
    let zero = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    rustix::event::poll(&mut fds, Some(&zero)).is_ok_and(|_| !fds[0].revents().is_empty())
}

/// SIGKILL and a blocking reap: the last resort when nothing can wait
/// asynchronously (a dying child is reaped within microseconds).
fn kill_and_reap(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// A timerfd that becomes readable after [`KILL_GRACE`] of real time.
fn grace_timer() -> io::Result<OwnedFd> {
    let timer = timerfd_create(
        TimerfdClockId::Monotonic,
        TimerfdFlags::CLOEXEC | TimerfdFlags::NONBLOCK,
    )?;
    let zero = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let grace = Timespec {
        tv_sec: KILL_GRACE.as_secs() as _,
        tv_nsec: KILL_GRACE.subsec_nanos() as _,
    };
    timerfd_settime(
        &timer,
        TimerfdTimerFlags::empty(),
        &Itimerspec {
            it_interval: zero,
            it_value: grace,
        },
    )?;
    Ok(timer)
}
