//! The process's standard streams as futures-io streams: [`stdin()`],
//! [`stdout()`], [`stderr()`].
//!
//! They read and write fds 0, 1 and 2 with the means of the borrowed-fd
//! functions ([`read`](super::read), [`write`](super::write)), so they
//! never switch the shared open file description to non-blocking mode:
//! a terminal or pipe shared with the shell, other threads and child
//! processes keeps working for them, also after this program exits.

use std::io;
use std::os::fd::AsFd;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::borrowed::Calls;

/// The standard input of the process, as a `futures_io::AsyncRead`; made
/// by [`stdin()`].
///
/// Reads wait on the reactor while no input is there and never block the
/// thread. xiio adds no buffer of its own: wrap it in
/// `futures::io::BufReader` to read lines.
///
/// # Examples
///
/// ```no_run
/// use futures::io::{AsyncBufReadExt, BufReader};
/// use futures::StreamExt;
///
/// xiio::run(async {
///     let mut lines = BufReader::new(xiio::io::stdin()).lines();
///     while let Some(line) = lines.next().await {
///         println!("you said {:?}", line?);
///     }
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub struct Stdin {
    calls: Calls,
}

/// The standard output of the process, as a `futures_io::AsyncWrite`;
/// made by [`stdout()`].
///
/// Each write goes to fd 1 at once (flushing does nothing): xiio keeps no
/// buffer, unlike `std::io::stdout()`, whose line buffer `println!` fills.
/// Text written both ways can interleave at line boundaries only if every
/// `println!` ends its line; prefer one of the two in a program.
pub struct Stdout {
    calls: Calls,
}

/// The standard error of the process, as a `futures_io::AsyncWrite`; made
/// by [`stderr()`]. Unbuffered, as [`Stdout`].
pub struct Stderr {
    calls: Calls,
}

/// The process's standard input, read without blocking the thread and
/// without changing its mode; see [`Stdin`].
pub fn stdin() -> Stdin {
    Stdin {
        calls: Calls::default(),
    }
}

/// The process's standard output, written without blocking the thread and
/// without changing its mode; see [`Stdout`].
///
/// # Examples
///
/// ```
/// use futures::io::AsyncWriteExt;
///
/// xiio::run(async {
///     xiio::io::stdout().write_all(b"hello from xiio\n").await
/// })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub fn stdout() -> Stdout {
    Stdout {
        calls: Calls::default(),
    }
}

/// The process's standard error; see [`Stderr`].
pub fn stderr() -> Stderr {
    Stderr {
        calls: Calls::default(),
    }
}

impl futures_io::AsyncRead for Stdin {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.calls.poll_read(io::stdin().as_fd(), cx, buf)
    }
}

/// `AsyncWrite` for an unbuffered standard stream.
macro_rules! impl_async_write {
    ($ty:ty, $std:path) => {
        impl futures_io::AsyncWrite for $ty {
            fn poll_write(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.calls.poll_write($std().as_fd(), cx, buf)
            }

            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            /// Does not close the fd: the process keeps its standard
            /// streams.
            fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }
        }
    };
}

impl_async_write!(Stdout, io::stdout);
impl_async_write!(Stderr, io::stderr);

impl std::fmt::Debug for Stdin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stdin")
    }
}

impl std::fmt::Debug for Stdout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stdout")
    }
}

impl std::fmt::Debug for Stderr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stderr")
    }
}
