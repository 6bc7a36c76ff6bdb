//! `check_status` and `ProcessError`: a process that did not exit with
//! status 0, as an error.

use std::error::Error;
use std::fmt;
use std::io;
use std::process::{ExitStatus, Output};

/// Turns a failed exit status into an error: `Ok(output)` if the process
/// exited with status 0, else an [`io::Error`] whose message gives the
/// exit status and the end of stderr. The Rust form of the Python
/// original's `check=True`.
///
/// The error's inner value is a [`ProcessError`] that holds the whole
/// [`Output`] (`io::Error::into_inner` and `downcast` get it back).
///
/// # Examples
///
/// ```
/// use std::process::{Command, Stdio};
///
/// xiio::run(async {
///     let ok = xiio::process::run_process(&mut Command::new("true")).await?;
///     assert!(xiio::process::check_status(ok).is_ok());
///
///     let failed = xiio::process::run_process(
///         Command::new("sh")
///             .args(["-c", "echo 'no such thing' >&2; exit 3"])
///             .stderr(Stdio::piped()),
///     )
///     .await?;
///     let err = xiio::process::check_status(failed).unwrap_err();
///     assert_eq!(
///         err.to_string(),
///         "process failed with exit status: 3; stderr: no such thing"
///     );
///     let err = err.into_inner().unwrap().downcast::<xiio::process::ProcessError>().unwrap();
///     assert_eq!(err.status().code(), Some(3));
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub fn check_status(output: Output) -> io::Result<Output> {
    if output.status.success() {
        Ok(output)
    } else {
        Err(io::Error::other(ProcessError { output }))
    }
}

/// The error of [`check_status`]: a process that did not exit with status
/// 0, with everything it printed.
///
/// Its message gives the exit status (or the signal that killed the
/// process) and at most the last 1000 characters of stderr.
///
/// # Examples
///
/// ```
/// use std::process::Command;
///
/// xiio::run(async {
///     let output = xiio::process::run_process(&mut Command::new("false")).await?;
///     let err = xiio::process::check_status(output).unwrap_err();
///     let failure: &xiio::process::ProcessError = err.get_ref().unwrap().downcast_ref().unwrap();
///     assert_eq!(failure.status().code(), Some(1));
///     assert_eq!(failure.to_string(), "process failed with exit status: 1");
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<_, std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct ProcessError {
    /// What the process left: status, stdout and stderr.
    output: Output,
}

impl ProcessError {
    /// How the process ended.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::{Command, Stdio};
    ///
    /// xiio::run(async {
    ///     let mut cmd = Command::new("sh");
    ///     cmd.args(["-c", "echo half done; exit 4"]).stdout(Stdio::piped());
    ///     let err = xiio::process::check_status(xiio::process::run_process(&mut cmd).await?).unwrap_err();
    ///     let failure = err.into_inner().unwrap().downcast::<xiio::process::ProcessError>().unwrap();
    ///     assert_eq!(failure.status().code(), Some(4));
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn status(&self) -> ExitStatus {
        self.output.status
    }

    /// The process's status and captured output.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::{Command, Stdio};
    ///
    /// xiio::run(async {
    ///     let mut cmd = Command::new("sh");
    ///     cmd.args(["-c", "echo half done; exit 4"]).stdout(Stdio::piped());
    ///     let err = xiio::process::check_status(xiio::process::run_process(&mut cmd).await?).unwrap_err();
    ///     let failure = err.into_inner().unwrap().downcast::<xiio::process::ProcessError>().unwrap();
    ///     assert_eq!(failure.output().stdout, b"half done\n");
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn output(&self) -> &Output {
        &self.output
    }

    /// The process's status and captured output, by value.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::{Command, Stdio};
    ///
    /// xiio::run(async {
    ///     let mut cmd = Command::new("sh");
    ///     cmd.args(["-c", "echo half done; exit 4"]).stdout(Stdio::piped());
    ///     let err = xiio::process::check_status(xiio::process::run_process(&mut cmd).await?).unwrap_err();
    ///     let failure = err.into_inner().unwrap().downcast::<xiio::process::ProcessError>().unwrap();
    ///     let output = failure.into_output();
    ///     assert_eq!(String::from_utf8(output.stdout).unwrap(), "half done\n");
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn into_output(self) -> Output {
        self.output
    }
}

/// The most characters of stderr an error message shows (its end).
const STDERR_EXCERPT: usize = 1000;

impl fmt::Display for ProcessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "process failed with {}", self.output.status)?;
        let stderr = String::from_utf8_lossy(&self.output.stderr);
        let stderr = stderr.trim();
        if stderr.is_empty() {
            return Ok(());
        }
        match stderr.char_indices().rev().nth(STDERR_EXCERPT - 1) {
            Some((start, _)) if start > 0 => {
                write!(f, "; stderr (end): ...{}", &stderr[start..])
            }
            _ => write!(f, "; stderr: {stderr}"),
        }
    }
}

impl Error for ProcessError {}
