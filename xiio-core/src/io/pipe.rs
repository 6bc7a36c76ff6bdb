//! `pipe()`: an owned pipe whose two ends are async streams.

use std::io::{self, PipeReader, PipeWriter};

use super::Async;

/// Makes a pipe and returns its two ends, non-blocking and owned by
/// [`Async`]: the reader implements `futures_io::AsyncRead`, the writer
/// `futures_io::AsyncWrite` (also through `&`).
///
/// Both ends are close-on-exec. To give one end to a child process, do
/// not pass an `Async` end (its mode is non-blocking, which the child
/// would share): spawn the child with `Stdio::piped()` through
/// [`process::spawn`](crate::process::spawn), whose pipes are made for
/// that.
///
/// # Examples
///
/// ```
/// use futures::io::{AsyncReadExt, AsyncWriteExt};
///
/// xiio::run(async {
///     let (mut reader, mut writer) = xiio::io::pipe()?;
///     writer.write_all(b"through the pipe").await?;
///     drop(writer); // end-of-file for the reader
///     let mut text = String::new();
///     reader.read_to_string(&mut text).await?;
///     assert_eq!(text, "through the pipe");
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<_, std::io::Error>(())
/// ```
///
/// # Errors
///
/// The OS error if the pipe cannot be made (too many open files).
pub fn pipe() -> io::Result<(Async<PipeReader>, Async<PipeWriter>)> {
    let (reader, writer) = io::pipe()?;
    Ok((Async::new(reader)?, Async::new(writer)?))
}
