//! `spawn` and `Child`: a running child process with its stdio as async
//! streams, watched through a pidfd (Linux), terminated and reaped when
//! dropped.
//!
//! The child's exit is awaited as readiness of a pidfd, so no `SIGCHLD`
//! handler and no helper thread are involved. A `Child` dropped before it
//! was reaped gets SIGTERM at once, and SIGKILL after a grace period, in a
//! cleanup future handed to the innermost task group (`task::adopt`),
//! which reaps it: no zombie and no orphan is left behind.

use std::io::{self, PipeReader, PipeWriter};
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Command, ExitStatus, Output};
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

/// Starts `cmd` as a child process, without blocking: tokio's
/// `Command::spawn`, on a std [`Command`].
///
/// The stdio set to [`Stdio::piped()`](std::process::Stdio::piped) are
/// in [`Child::stdin`], [`Child::stdout`] and [`Child::stderr`], as
/// non-blocking async streams (futures-io); the others go where the
/// command says (inherited by default).
///
/// # Examples
///
/// Output, line by line, while the child runs:
///
/// ```
/// use std::process::{Command, Stdio};
/// use futures::io::{AsyncBufReadExt, BufReader};
/// use futures::StreamExt;
///
/// xiio::run(async {
///     let mut child = xiio::process::spawn(
///         Command::new("sh")
///             .args(["-c", "echo one; sleep 0.1; echo two"])
///             .stdout(Stdio::piped()),
///     )?;
///     let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
///     assert_eq!(lines.next().await.transpose()?.as_deref(), Some("one"));
///     assert_eq!(lines.next().await.transpose()?.as_deref(), Some("two"));
///     assert!(lines.next().await.is_none()); // end-of-file: it exited
///     assert!(child.wait().await?.success());
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<_, std::io::Error>(())
/// ```
///
/// # Errors
///
/// As [`Command::spawn`]; or if the pidfd cannot be opened (Linux older
/// than 5.3), in which case the child has been killed and reaped.
///
/// # Panics
///
/// When called outside `xiio::run` (before anything is started).
pub fn spawn(cmd: &mut Command) -> io::Result<Child> {
    // Before spawning: outside xiio::run this panics with a clear message
    // instead of leaving a child behind.
    let reactor = context::reactor();
    let mut child = cmd.spawn()?;
    let pipes = (child.stdin.take(), child.stdout.take(), child.stderr.take());
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
    // `process_group(0)`) is signalled with its whole group.
    let pid = Pid::from_child(&child);
    let group = getpgid(Some(pid)).ok().filter(|&group| group == pid);
    let id = child.id();
    // From here on, dropping `running` terminates and reaps the child.
    let running = Running {
        child: Some((child, pidfd)),
        group,
        work: Some(work),
    };
    // Our ends of the pipes are ours alone (close-on-exec): made
    // non-blocking once, registered once.
    let reader = |pipe: OwnedFd| Async::new(PipeReader::from(pipe));
    Ok(Child {
        stdin: (pipes
            .0
            .map(|pipe| Async::new(PipeWriter::from(OwnedFd::from(pipe)))))
        .transpose()?,
        stdout: pipes.1.map(|pipe| reader(pipe.into())).transpose()?,
        stderr: pipes.2.map(|pipe| reader(pipe.into())).transpose()?,
        id,
        running,
        status: None,
    })
}

/// A child process started by [`spawn`]: its piped stdio, its exit.
///
/// **Dropped before it was reaped, it is terminated**: SIGTERM at once,
/// SIGKILL if it has not exited 1 second later, then reaped, in a cleanup
/// that the enclosing task group (or `xiio::run`) awaits before it
/// returns, so a task group ends only once its children's processes are
/// gone. A child that leads a process group of its own
/// (`CommandExt::process_group(0)`) is terminated with its whole group,
/// so `sh -c 'sleep 5; ...'` leaves no orphaned `sleep`. This is where
/// xiio differs from tokio, whose dropped `Child` runs on unless
/// `kill_on_drop` was set: in xiio no work outlives the scope that
/// started it, and a [`timeout`](crate::timeout) or a failing sibling
/// around a `wait` stops the process as it stops any other work. A
/// `Child` carried out of `xiio::run` and dropped there, where nothing can
/// wait, gets SIGKILL and is reaped on the spot.
///
/// While the child runs, a mock clock does not jump (see
/// [`Builder::mock_clock`](crate::Builder::mock_clock)): the process
/// takes real time that the clock cannot skip.
pub struct Child {
    /// Its standard input, if piped: writing feeds the child, dropping it
    /// (or [`wait`](Child::wait)) gives the child end-of-file.
    pub stdin: Option<Async<PipeWriter>>,
    /// Its standard output, if piped: end-of-file once the child (and any
    /// process it passed the pipe to) has exited.
    pub stdout: Option<Async<PipeReader>>,
    /// Its standard error, if piped.
    pub stderr: Option<Async<PipeReader>>,
    /// Its process id.
    id: u32,
    /// The process until reaped.
    running: Running,
    /// Its exit status, once reaped.
    status: Option<ExitStatus>,
}

impl Child {
    /// Its process id, until it has been reaped (then the id may name
    /// another process, so `None`).
    pub fn id(&self) -> Option<u32> {
        self.status.is_none().then_some(self.id)
    }

    /// Waits until the child exits, reaps it and returns its exit status
    /// (again on later calls). Closes its stdin first, as tokio does, so a
    /// child reading its input to the end is not waited for in vain.
    ///
    /// Cancel-safe: dropping the future leaves the child running, and
    /// dropping the `Child` terminates it (see [`Child`]).
    ///
    /// # Panics
    ///
    /// When polled outside `xiio::run`.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        if let Some(status) = self.status {
            return Ok(status);
        }
        let status = self.running.wait().await?;
        self.status = Some(status);
        Ok(status)
    }

    /// The exit status if the child has exited (and reaps it), `None` if
    /// it still runs. Never waits.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self.running.try_wait()?;
        }
        Ok(self.status)
    }

    /// Sends SIGKILL to the child (and to its process group, if it leads
    /// one), without waiting; a child that has exited already is not an
    /// error. [`wait`](Child::wait) then reaps it.
    pub fn start_kill(&mut self) -> io::Result<()> {
        self.running.signal(Signal::KILL)
    }

    /// Kills the child (see [`start_kill`](Child::start_kill)) and waits
    /// until it is reaped.
    ///
    /// # Panics
    ///
    /// When polled outside `xiio::run`.
    pub async fn kill(&mut self) -> io::Result<()> {
        self.start_kill()?;
        self.wait().await.map(drop)
    }

    /// Waits for the child's exit while reading its piped stdout and
    /// stderr to their ends, concurrently (a child that writes megabytes
    /// to both never blocks): std's `Child::wait_with_output`. A pipe
    /// taken out of the `Child` before is not read, and its part of the
    /// [`Output`] is empty.
    ///
    /// # Panics
    ///
    /// When polled outside `xiio::run`.
    pub async fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let pipes = [self.stdout.take(), self.stderr.take()];
        let captured = crate::task::gather(pipes.map(read_to_end)).await?;
        let [stdout, stderr] = <[Vec<u8>; 2]>::try_from(captured).expect("two pipes read");
        let status = self.wait().await?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }
}

impl std::fmt::Debug for Child {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Child")
            .field("id", &self.id)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// Reads a pipe to its end, in chunks of a pipe's default capacity;
/// nothing for a pipe that is not there.
async fn read_to_end(pipe: Option<Async<PipeReader>>) -> io::Result<Vec<u8>> {
    use std::io::Read;
    const CHUNK: usize = 64 * 1024;
    let mut buf = Vec::new();
    let Some(pipe) = pipe else {
        return Ok(buf);
    };
    loop {
        let len = buf.len();
        buf.resize(len + CHUNK, 0);
        let read = pipe
            .read_with(|mut pipe| pipe.read(&mut buf[len..]))
            .await?;
        buf.truncate(len + read);
        if read == 0 {
            return Ok(buf);
        }
    }
}

/// A child that has not been reaped yet; dropping it terminates and reaps
/// it (see `Drop`).
struct Running {
    /// The child and its pidfd (readable once the child exited); `None`
    /// once reaped.
    child: Option<(std::process::Child, Rc<OwnedFd>)>,
    /// The child's process group, if it leads one of its own: signalled
    /// as a whole.
    group: Option<Pid>,
    /// Keeps a mock clock from jumping while the child lives.
    work: Option<OutsideWork>,
}

impl Running {
    /// Waits until the child exited and reaps it.
    async fn wait(&mut self) -> io::Result<ExitStatus> {
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(status);
            }
            let (_, pidfd) = self.child.as_ref().expect("not reaped yet");
            ready(pidfd.as_fd(), Interest::READABLE).await?;
        }
    }

    /// Reaps the child if it has exited.
    fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        let (child, _) = self.child.as_mut().expect("not reaped yet");
        let status = child.try_wait()?;
        if status.is_some() {
            self.child = None;
            self.work = None;
        }
        Ok(status)
    }

    /// Sends `signal` to the child, through its pidfd (which cannot hit
    /// another process that reused the pid), and to its group if it leads
    /// one. A child that exited already is not an error.
    fn signal(&self, signal: Signal) -> io::Result<()> {
        let Some((_, pidfd)) = &self.child else {
            return Ok(());
        };
        match pidfd_send_signal(pidfd, signal) {
            Ok(()) | Err(rustix::io::Errno::SRCH) => {}
            Err(e) => return Err(e.into()),
        }
        if let Some(group) = self.group {
            let _ = kill_process_group(group, signal);
        }
        Ok(())
    }
}

impl Drop for Running {
    /// Dropped while the child runs: SIGTERM now, and a cleanup for the
    /// enclosing group that waits for the exit (SIGKILL after the grace
    /// period) and reaps.
    fn drop(&mut self) {
        let _ = self.signal(Signal::TERM);
        let Some((child, pidfd)) = self.child.take() else {
            return;
        };
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
struct Reaper(Option<std::process::Child>, Option<Pid>);

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
fn kill_and_reap(child: &mut std::process::Child) {
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
