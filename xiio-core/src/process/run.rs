//! `run_process`: run a child process to its end without blocking.

use std::io;
use std::process::{Command, Output};

/// Runs `cmd` to its end and returns its exit status and captured output,
/// without blocking the thread: the Rust form of the Python original's
/// `run_process(cmd)`, and [`spawn`](super::spawn) plus
/// [`Child::wait_with_output`](super::Child::wait_with_output).
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
/// [`TaskGroup`](crate::TaskGroup)), the child is terminated and reaped
/// as a dropped [`Child`](super::Child) is: SIGTERM, SIGKILL 1 second
/// later, in a cleanup the enclosing group awaits; with its process group
/// if it leads one (`CommandExt::process_group(0)`).
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
    super::spawn(cmd)?.wait_with_output().await
}
